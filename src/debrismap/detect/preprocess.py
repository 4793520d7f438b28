"""Model input from a band-first tile: fill masked pixels, normalise as the model's metadata says."""

from __future__ import annotations

import numpy as np

from debrismap.model.metadata import ModelMetadata

# Masked pixels get the grey ultralytics pads letterboxes with: the model has seen it as "nothing".
FILL_VALUE = 114


class Preprocessor:
    """uint8 (3, H, W) + valid mask -> float32 (3, H, W), in as few passes over memory as numpy allows."""

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
        """`pixels` band first, as `RasterView.read(window, band_first=True)` gives them."""
        return self.normalise(self.fill_masked(pixels, valid), out)

    @staticmethod
    def fill_masked(pixels: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """uint8 pixels with the masked ones set to FILL_VALUE (the array itself if all are valid)."""
        return pixels if valid.all() else np.where(valid, pixels, np.uint8(FILL_VALUE))

    def normalise(self, pixels: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """uint8 (3, H, W) -> float32 model input, written into `out` (a batch slot) when given."""
        if out is None:
            out = np.empty(pixels.shape, np.float32)
        np.multiply(pixels, self.scale, out=out, casting="unsafe")  # one pass: cast, scale
        if self.has_offset:
            out += self.offset
        return out
