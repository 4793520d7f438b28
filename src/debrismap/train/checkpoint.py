"""Safe checkpoint loading: tensors and plain containers only, and it must be ours.

`torch.load(weights_only=True)` refuses any pickled object that is not a tensor or a plain
container, so a checkpoint crafted to run code when unpickled is rejected, not executed.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch

from debrismap.errors import ModelError

DEBRISMAP_KEY = "debrismap"


def load_checkpoint(path: str | Path) -> dict:
    """Load a debrismap training checkpoint on the CPU; ModelError with one line otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ModelError("checkpoint not found", path=path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc).strip()
        found = re.search(r"GLOBAL (\S+)", text)
        if not found:  # not a refusal of a global: the bytes are not a (valid) pickle at all
            raise ModelError(
                "is not a readable torch checkpoint (corrupt or not a checkpoint)", path=path
            ) from exc
        what = f"it would import {found.group(1)}"
        raise ModelError(
            f"refused: the checkpoint holds pickled objects that are not plain tensors/containers ({what})",
            path=path,
        ) from exc
    except Exception as exc:
        raise ModelError(
            f"is not a readable torch checkpoint ({type(exc).__name__})", path=path
        ) from exc
    return validate_checkpoint(checkpoint, path)


def validate_checkpoint(checkpoint, path: str | Path) -> dict:
    if not isinstance(checkpoint, dict) or DEBRISMAP_KEY not in checkpoint:
        raise ModelError("is not a debrismap checkpoint (no 'debrismap' section)", path=path)
    info = checkpoint[DEBRISMAP_KEY]
    if not isinstance(info, dict) or not isinstance(info.get("hparams"), dict):
        raise ModelError("has a malformed 'debrismap' section", path=path)
    from debrismap.train.task import CHECKPOINT_FORMAT

    if info.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(
            f"checkpoint format {info.get('format')!r} is not supported (this debrismap reads "
            f"{CHECKPOINT_FORMAT})",
            path=path,
        )
    if not isinstance(checkpoint.get("state_dict"), dict):
        raise ModelError("has no model weights (state_dict)", path=path)
    return checkpoint


def ema_state_dict(checkpoint: dict) -> dict:
    """The EMA weights, keyed as in a bare DetectionModel."""
    prefix = "ema.module."
    state = {
        k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)
    }
    if not state:  # a checkpoint saved without EMA: fall back to the raw weights
        prefix = "model."
        state = {
            k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)
        }
    return state
