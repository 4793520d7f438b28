"""The read kernel: a window of a raster's chosen bands as raw samples, or as RGB uint8.

Shared by `RasterSource` (its probe and stretch-sample reads) and `RasterView` (every tile
read), so neither reaches into the other. A BandReader holds what a read needs of one
open raster: its dataset handle and the lock around it, which bands are R, G, B, whether
any of them has a mask, and how samples become RGB (palette or stretch).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, Resampling
from rasterio.windows import Window

from debrismap.errors import RasterError
from debrismap.raster.gdal_errors import gdal_errors, one_line
from debrismap.raster.stretch import Stretch


@dataclass(frozen=True, eq=False)
class BandReader:
    """What reading one open raster's R, G, B needs (see the module docstring)."""

    dataset: rasterio.io.DatasetReader
    path: str  # for error messages
    band_indexes: tuple[int, int, int]  # 1-based bands used as R, G, B
    all_valid: bool  # no chosen band has a mask or nodata: skip the mask reads
    # A GDAL dataset handle is not thread-safe: reads from several threads take turns.
    lock: threading.RLock = field(default_factory=threading.RLock)
    palette: np.ndarray | None = None  # (N, 3) uint8 lookup table of a palette band
    stretch: Stretch = field(default_factory=Stretch.identity)


def palette_lut(
    ds: rasterio.io.DatasetReader, band_indexes: tuple[int, int, int], dtype: str, path: str
) -> np.ndarray | None:
    """RGB lookup table when the chosen band is a palette band, else None."""
    b = band_indexes[0]
    if ds.colorinterp[b - 1] != ColorInterp.palette or len(set(band_indexes)) != 1:
        return None
    if dtype not in ("uint8", "uint16"):
        raise RasterError(f"palette band of type {dtype} is not supported", path)
    try:
        cmap = ds.colormap(b)
    except ValueError as exc:
        raise RasterError(f"palette band without a readable colour table ({exc})", path) from exc
    lut = np.zeros((256 if dtype == "uint8" else 65536, 3), dtype=np.uint8)
    for index, rgba in cmap.items():
        if 0 <= index < len(lut):
            lut[index] = rgba[:3]
    return lut


def read_bands(
    reader: BandReader, window: Window, out_shape: tuple[int, int], resampling: Resampling
) -> tuple[np.ndarray, np.ndarray]:
    """Selected bands as (3, h, w) in the file's dtype, and the valid mask (h, w)."""
    unique = sorted(set(reader.band_indexes))
    shape = (len(unique), *out_shape)
    ds = reader.dataset
    try:
        with reader.lock:
            data = ds.read(unique, window=window, out_shape=shape, resampling=resampling)
            if reader.all_valid:
                valid = np.ones(out_shape, dtype=bool)
            else:
                masks = ds.read_masks(
                    unique, window=window, out_shape=shape, resampling=Resampling.nearest
                )
                valid = (masks > 0).any(axis=0)
    except gdal_errors() as exc:
        raise RasterError(f"cannot read pixels: {one_line(exc)}", reader.path) from exc
    if data.dtype.kind == "f":
        valid &= np.isfinite(data).all(axis=0)
    order = [unique.index(b) for b in reader.band_indexes]
    return data[order], valid


def read_rgb(
    reader: BandReader,
    window: Window,
    out_shape: tuple[int, int],
    resampling: Resampling,
    band_first: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, 3) uint8 pixels after palette / stretch ((3, h, w) if band_first), and the valid mask."""
    data, valid = read_bands(reader, window, out_shape, resampling)
    all_valid = bool(valid.all())  # the common case: skip the masking passes
    if reader.palette is not None:
        rgb = reader.palette[data[0]].transpose(2, 0, 1)
        if not all_valid:
            rgb[:, ~valid] = 0
    elif reader.stretch.is_identity and data.dtype == np.uint8:
        rgb = data  # freshly read, ours to change: no copy
        if not all_valid:
            rgb[:, ~valid] = 0
    else:
        rgb = reader.stretch.apply(data, None if all_valid else valid)
    if band_first:  # as GDAL read it: a model input needs no transposes
        return np.ascontiguousarray(rgb), valid
    # band by band into (h, w, 3): numpy's copy of the transposed view is ~7x slower
    return np.stack(tuple(rgb), axis=-1), valid


def valid_fraction(reader: BandReader, window: Window, out_shape: tuple[int, int]) -> float:
    """Fraction of valid pixels in `window`, from a mask read at `out_shape`."""
    if reader.all_valid:
        return 1.0
    unique = sorted(set(reader.band_indexes))
    try:
        with reader.lock:
            masks = reader.dataset.read_masks(
                unique,
                window=window,
                out_shape=(len(unique), *out_shape),
                resampling=Resampling.nearest,
            )
    except gdal_errors() as exc:
        raise RasterError(f"cannot read the mask: {one_line(exc)}", reader.path) from exc
    return float((masks > 0).any(axis=0).mean())
