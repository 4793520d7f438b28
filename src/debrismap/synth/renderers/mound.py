"""Renderer "mound": the project's original pile (synth.piles), a dense heap of items on a dusty base.

Vector items (mattresses, furniture, boxes, planks, fabric, slabs) rasterised over a ragged
blob, slope-shaded and casting a mound-shaped shadow. Kept as it is so that old and new data
can be compared; this wrapper only fits it to the renderer interface.
"""

from __future__ import annotations

import numpy as np

from debrismap.synth.piles import make_pile, render_pile
from debrismap.synth.renderers.base import BODY_ALPHA, Light, Sprite


class MoundRenderer:
    name = "mound"

    def render(self, seed: int, gsd: float, light: Light, size_m: float,
               along: float | None = None) -> Sprite:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 101]))
        # centre far enough from the origin that the whole sprite box has positive pixels
        c = size_m + 12.0
        plan = make_pile(0, c, c, rng, size_m=size_m, along=along)
        plan.finalize(gsd)
        sprite = render_pile(plan, gsd, light.shadow_vector, light.shadow_length_per_m)
        alpha = sprite.alpha
        ys, xs = np.nonzero(alpha >= BODY_ALPHA)
        centre = (float(xs.mean()) + 0.5, float(ys.mean()) + 0.5) if len(xs) else (alpha.shape[1] / 2, alpha.shape[0] / 2)
        return Sprite(sprite.rgbn[..., :3].astype(np.float32), alpha.astype(np.float32),
                      (sprite.shadow * (1 - alpha)).astype(np.float32), self.name, centre)
