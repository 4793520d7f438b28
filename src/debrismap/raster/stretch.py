"""Radiometry: one linear stretch per raster, mapping its bands to uint8.

uint8 imagery passes through unchanged. Anything deeper (12-bit-in-uint16 Pléiades,
uint16, int16, float) is stretched per band between low and high percentiles computed
ONCE per raster from a decimated read, never per tile, so neighbouring tiles agree at
their seams. The stretch is a plain value (`to_dict` / `from_dict`) recorded in run.json
so a later run, or the second date of a comparison, can reuse exactly the same mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

DEFAULT_PERCENTILES = (2.0, 98.0)


@dataclass(frozen=True)
class Stretch:
    """Per-output-channel linear mapping [low, high] -> [0, 255]; identity when `low` is empty."""

    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()
    method: str = "identity"  # "identity" | "percentile" | "fixed"
    percentiles: tuple[float, float] | None = None
    source_dtype: str | None = None

    def __post_init__(self) -> None:
        if len(self.low) != len(self.high):
            raise ValueError("stretch low and high must have the same length")
        if any(not np.isfinite(v) for v in (*self.low, *self.high)):
            raise ValueError("stretch bounds must be finite")

    @classmethod
    def identity(cls) -> Stretch:
        return cls()

    @property
    def is_identity(self) -> bool:
        return not self.low

    def apply(self, data: NDArray, valid: NDArray[np.bool_] | None = None) -> NDArray[np.uint8]:
        """Map (C, H, W) data to uint8 (C, H, W); invalid pixels become 0."""
        if self.is_identity:
            if data.dtype == np.uint8:
                out = data.copy()
            else:  # identity on deeper data: clip, as the model only sees 0..255
                out = np.clip(np.nan_to_num(data.astype(np.float32)), 0, 255).astype(np.uint8)
        else:
            if data.shape[0] != len(self.low):
                raise ValueError(f"stretch has {len(self.low)} channels, data has {data.shape[0]}")
            low = np.asarray(self.low, dtype=np.float32)[:, None, None]
            high = np.asarray(self.high, dtype=np.float32)[:, None, None]
            span = np.maximum(high - low, np.float32(1e-12))
            scaled = (data.astype(np.float32) - low) / span * np.float32(255.0)
            out = np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255)
            out = np.rint(out).astype(np.uint8)
        if valid is not None:
            out[:, ~valid] = 0
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "low": [float(v) for v in self.low],
            "high": [float(v) for v in self.high],
            "percentiles": list(self.percentiles) if self.percentiles else None,
            "source_dtype": self.source_dtype,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Stretch:
        try:
            low = tuple(float(v) for v in data.get("low") or ())
            high = tuple(float(v) for v in data.get("high") or ())
            pct = data.get("percentiles")
            return cls(
                low=low,
                high=high,
                method=str(data.get("method") or ("identity" if not low else "fixed")),
                percentiles=(float(pct[0]), float(pct[1])) if pct else None,
                source_dtype=data.get("source_dtype"),
            )
        except (TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ValueError(f"not a valid stretch: {data!r} ({exc})") from exc


def percentile_stretch(
    sample: NDArray,
    valid: NDArray[np.bool_],
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> Stretch:
    """Stretch from per-band percentiles of a (C, H, W) sample, over valid, finite pixels only.

    A band with no valid pixels, or a flat band, gets a span that keeps it finite; the
    caller decides separately whether a raster with no valid pixels is acceptable.
    """
    lows, highs = [], []
    for band in sample:
        values = band[valid & np.isfinite(band)] if band.dtype.kind == "f" else band[valid]
        if values.size == 0:
            lo, hi = 0.0, 1.0
        else:
            lo, hi = (float(v) for v in np.percentile(values, percentiles))
            if hi <= lo:  # flat band: map it to mid-grey-ish instead of dividing by zero
                hi = lo + 1.0
        lows.append(lo)
        highs.append(hi)
    return Stretch(
        low=tuple(lows),
        high=tuple(highs),
        method="percentile",
        percentiles=(float(percentiles[0]), float(percentiles[1])),
        source_dtype=str(sample.dtype),
    )
