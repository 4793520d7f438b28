"""Exponential moving average of a model's weights, as a submodule so checkpoints carry it."""

from __future__ import annotations

import math
from copy import deepcopy

import torch
from torch import nn


class EMA(nn.Module):
    """ultralytics/timm-style EMA with a warm-up ramp of the decay (decay * (1 - exp(-n / tau))).

    Being an nn.Module whose state lives in the LightningModule's state_dict, the averaged
    weights and the update counter are saved and restored with every checkpoint for free.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999, tau: float = 2000.0):
        super().__init__()
        self.module = deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.tau = tau
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        return self.decay * (1 - math.exp(-int(self.updates) / self.tau))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        d = self.current_decay()
        source = model.state_dict()
        for name, value in self.module.state_dict().items():
            new = source[name].detach()
            if value.dtype.is_floating_point:
                value.lerp_(new.to(value.dtype), 1 - d)
            else:  # BN counters
                value.copy_(new)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
