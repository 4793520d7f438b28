"""How far each acquisition sits from the reference: phase correlation of decimated reads.

Acquisitions of one place disagree by metres (off-nadir angle, orthorectification). Both
images are read decimated onto one metric grid over the ground they share (the figures'
backdrop reader: an overview or a decimated read, warped), windowed, and registered with
scikit-image's upsampled phase correlation, which finds the offset to a fraction of a grid
pixel and is indifferent to a change of lighting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import shapely
from pyproj import CRS

from debrismap.aggregate.basemap import read_greyscale

# Longest side of the grid the two images are compared on: enough texture, bounded cost.
MAX_GRID_PX = 1024
MIN_GRID_PX = 48  # a smaller overlap carries too little texture to register
UPSAMPLE = 20  # phase correlation resolves 1/20 of a grid pixel
MAX_OFFSET_M = 40.0  # more than this is not misregistration but a failed estimate


@dataclass
class Offset:
    """Where an acquisition sits relative to the reference, in metres (east, north)."""

    east_m: float
    north_m: float
    status: str  # "reference", "estimated", or why it was not (then the offset is 0)
    grid_m: float | None = None  # pixel size of the grid compared on
    overlap_km2: float | None = None
    error: float | None = None  # scikit-image's translation-invariant normalised RMS error

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def estimate_offsets(acquisitions, ref_index: int, metric: CRS, report=None) -> list[Offset]:
    """One Offset per acquisition; `report(acquisition, offset)` is called as each is known."""
    ref = acquisitions[ref_index]
    grid_m = 2.0 * (ref.gsd_m or 0.5)
    out = []
    for i, acq in enumerate(acquisitions):
        offset = Offset(0.0, 0.0, "reference") if i == ref_index else estimate_offset(ref, acq, metric, grid_m)
        out.append(offset)
        if report is not None:
            report(acq, offset)
    return out


def estimate_offset(ref, acq, metric: CRS, grid_m: float) -> Offset:
    from skimage.registration import phase_cross_correlation

    overlap = shapely.intersection(ref.coverage, acq.coverage)
    area_km2 = float(overlap.area / 1e6)
    if overlap.is_empty or overlap.area <= 0:
        return Offset(0.0, 0.0, "no overlap with the reference", overlap_km2=0.0)
    left, bottom, right, top = overlap.bounds
    pixel = max(grid_m, max(right - left, top - bottom) / MAX_GRID_PX)
    shape = (int((top - bottom) // pixel), int((right - left) // pixel))
    if min(shape) < MIN_GRID_PX:
        return Offset(0.0, 0.0, f"overlap too small to register ({shape[1]} x {shape[0]} px at {pixel:g} m)",
                      pixel, area_km2)
    bounds = (left, top - shape[0] * pixel, left + shape[1] * pixel, top)
    a = _mosaic(ref.run, metric, bounds, shape)
    b = _mosaic(acq.run, metric, bounds, shape)
    if a is None or b is None:
        return Offset(0.0, 0.0, "imagery not found or not georeferenced", pixel, area_km2)
    valid = np.isfinite(a) & np.isfinite(b)
    if valid.mean() < 0.25:
        return Offset(0.0, 0.0, "too little imagery in common", pixel, area_km2)
    window = np.outer(np.hanning(shape[0]), np.hanning(shape[1]))
    a, b = _prepare(a, valid) * window, _prepare(b, valid) * window
    shift, error, _ = phase_cross_correlation(a, b, upsample_factor=UPSAMPLE, normalization="phase")
    # `shift` (rows, cols) moves `b` onto `a`; the acquisition sits the other way round
    # (rows run south, so a northward offset is a negative row count).
    east, north = -float(shift[1]) * pixel, float(shift[0]) * pixel
    if np.hypot(east, north) > MAX_OFFSET_M:
        return Offset(0.0, 0.0, f"estimate {np.hypot(east, north):.0f} m rejected (over {MAX_OFFSET_M:g} m)",
                      pixel, area_km2, float(error))
    return Offset(east, north, "estimated", pixel, area_km2, float(error))


def _mosaic(run, metric: CRS, bounds, shape) -> np.ndarray | None:
    grey = None
    for path in run.input_raster_paths():
        layer = read_greyscale(path, metric, bounds, shape)
        if layer is not None:
            grey = layer if grey is None else np.where(np.isfinite(grey), grey, layer)
    return grey


def _prepare(img: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Zero-mean inside the common imagery, zero outside (no edge for the correlation to lock on)."""
    out = np.where(valid, img, 0.0)
    out[valid] -= out[valid].mean()
    return out
