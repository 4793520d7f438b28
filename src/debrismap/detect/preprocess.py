"""Model input from a tile: fill masked pixels, reorder to CHW, normalise as the model's metadata says."""

from __future__ import annotations

import numpy as np

from debrismap.model_meta import ModelMetadata

# Masked pixels get the grey ultralytics pads letterboxes with: the model has seen it as "nothing".
FILL_VALUE = 114


class Preprocessor:
    """uint8 (H, W, 3) + valid mask -> float32 (3, H, W), in as few passes over memory as numpy allows."""

    def __init__(self, meta: ModelMetadata):
        norm = meta.normalization or {}
        kind = norm.get("type", "scale")
        if kind != "scale":
            from debrismap.errors import ModelError

            raise ModelError(f"normalization type {kind!r} is not supported (only 'scale')")
        divisor = float(norm.get("divisor", 255.0))
        mean = np.asarray(norm.get("mean", [0.0] * 3), np.float32).reshape(3, 1, 1)
        std = np.asarray(norm.get("std", [1.0] * 3), np.float32).reshape(3, 1, 1)
        # (x / divisor - mean) / std == x * scale + offset
        self.scale = (1.0 / (divisor * std)).astype(np.float32)
        self.offset = (-mean / std).astype(np.float32)
        self.has_offset = bool(np.any(self.offset != 0))

    def __call__(self, pixels: np.ndarray, valid: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        if not valid.all():
            pixels = np.where(valid[..., None], pixels, np.uint8(FILL_VALUE))
        # uint8 to band order first (a small contiguous copy), then one contiguous float pass:
        # twice as fast as converting straight from the strided view
        chw = np.ascontiguousarray(pixels.transpose(2, 0, 1))
        if out is None:
            out = np.empty(chw.shape, np.float32)
        np.multiply(chw, self.scale, out=out, casting="unsafe")
        if self.has_offset:
            out += self.offset
        return out
