"""Which acquisitions are too poor for "not detected" to mean "not there": coarse or hazy.

A detector misses more on an image coarser than it was trained for, or veiled by haze;
a pile's absence on such a date is no evidence that it had not yet appeared. Resolution
comes from run.json; haze shows as low contrast of the raw pixel values (a veil lifts the
dark end), measured on a decimated read and compared with the series' median.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling

COARSER_FACTOR = 1.25  # GSD more than this times the model's (or the series' finest)
HAZE_FACTOR = 0.6  # contrast below this share of the series' median
READ_PX = 512  # longest side of the decimated read


def raw_contrast(path: str | Path) -> float | None:
    """(p98 − p2) / (p98 + p2) of the band mean over valid pixels; None when unreadable."""

    try:
        with rasterio.open(path) as src:
            scale = max(src.width / READ_PX, src.height / READ_PX, 1.0)
            shape = (max(int(src.height / scale), 1), max(int(src.width / scale), 1))
            bands = [1, 2, 3] if src.count >= 3 else [1]
            data = src.read(bands, out_shape=(len(bands), *shape), resampling=Resampling.average)
            valid = src.dataset_mask(out_shape=shape) > 0
    except rasterio.errors.RasterioIOError:
        return None
    grey = data.astype(np.float64).mean(axis=0)[valid]
    if grey.size == 0:
        return None
    lo, hi = np.percentile(grey, [2, 98])
    return float((hi - lo) / (hi + lo)) if hi + lo > 0 else 0.0


def assess(acquisitions) -> None:
    """Fill each acquisition's `quality`: gsd_m, contrast, and `degraded` reasons (empty if fine)."""
    contrasts = []
    for acq in acquisitions:
        values = [c for c in (raw_contrast(p) for p in acq.run.input_raster_paths()) if c is not None]
        contrasts.append(float(np.mean(values)) if values else None)
    known = [c for c in contrasts if c is not None]
    median = float(np.median(known)) if known else None
    gsds = [a.gsd_m for a in acquisitions if a.gsd_m]
    for acq, contrast in zip(acquisitions, contrasts):
        model_gsd = (acq.run.manifest.get("model") or {}).get("gsd_m")
        finest = float(model_gsd) if model_gsd else (min(gsds) if gsds else None)
        reasons = []
        if acq.gsd_m and finest and acq.gsd_m > COARSER_FACTOR * finest:
            reasons.append(f"coarser ({acq.gsd_m:.2g} m against {finest:.2g} m)")
        if contrast is not None and median and contrast < HAZE_FACTOR * median:
            reasons.append(f"hazy (contrast {contrast:.2f} against the series' median {median:.2f})")
        acq.quality = {"gsd_m": acq.gsd_m, "contrast": None if contrast is None else round(contrast, 4),
                       "degraded": reasons}
