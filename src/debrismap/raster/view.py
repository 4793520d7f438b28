"""A raster seen at a target GSD, read one window at a time into typed tile images.

`RasterView` maps windows of its own (possibly resampled) pixel grid onto windows of the
source raster: it reads the source window of size tile * scale with GDAL's `out_shape`
resampling (average when shrinking, bilinear when enlarging). Windows reaching beyond the
raster are padded with zeros marked invalid, so every read returns exactly the requested
shape. The view's transform is the source transform scaled, so pixel_to_world works on
view pixels exactly as on source pixels.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from affine import Affine
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.windows import Window

from debrismap.errors import GsdUnknownWarning
from debrismap.raster.read import BandReader, read_rgb, valid_fraction
from debrismap.raster.tiling import TileGrid

# Resample only when the source GSD differs from the target by more than this, per axis.
GSD_TOLERANCE = 0.10
# Side of the decimated mask read behind valid_fraction.
VALID_FRACTION_SAMPLE = 32


class ViewedRaster(Protocol):
    """What a view needs of the raster it resamples (a RasterSource)."""

    path: str
    width: int
    height: int
    transform: Affine
    reader: BandReader  # reads windows of its R, G, B (debrismap.raster.read)

    @property
    def gsd_m(self) -> float | None: ...

    @property
    def pixel_size_m(self) -> tuple[float, float] | None: ...


@dataclass(frozen=True)
class TileImage:
    """One read window: RGB pixels, which of them are real data, and where they are."""

    pixels: NDArray[np.uint8]  # (H, W, 3); (3, H, W) when read with band_first=True
    valid: NDArray[np.bool_]  # (H, W); False for nodata, masked, and padding beyond the raster
    window: Window  # in the view's pixel grid
    transform: Affine  # world = transform * (x, y) for pixel (x, y) of this tile

    @property
    def valid_fraction(self) -> float:
        return float(self.valid.mean()) if self.valid.size else 0.0


class RasterView:
    """The raster on a pixel grid of a given GSD; identity when no resampling is needed."""

    def __init__(self, source: ViewedRaster, width: int, height: int, gsd_m: float | None):
        self.source = source
        self.width = int(width)
        self.height = int(height)
        self.gsd_m = gsd_m
        # Source pixels per view pixel along each axis (exact, so the view covers the same
        # extent as the source).
        self.scale_x = source.width / self.width
        self.scale_y = source.height / self.height
        self.transform: Affine = source.transform @ Affine.scale(self.scale_x, self.scale_y)
        shrinking = self.scale_x * self.scale_y > 1.0
        self.resampling = Resampling.average if shrinking else Resampling.bilinear

    @classmethod
    def for_source(
        cls, source: ViewedRaster, target_gsd_m: float | None, assumed_gsd_m: float | None = None
    ) -> RasterView:
        if target_gsd_m is None:
            return cls(source, source.width, source.height, source.gsd_m)
        if not (target_gsd_m > 0 and math.isfinite(target_gsd_m)):
            raise ValueError(f"target GSD must be a positive number of metres, got {target_gsd_m}")
        size = source.pixel_size_m
        if size is None and assumed_gsd_m is not None:
            size = (float(assumed_gsd_m), float(assumed_gsd_m))
        if size is None:
            warnings.warn(
                f"{source.path}: GSD unknown (no CRS); reading at native resolution. "
                "Pass an assumed GSD to resample.",
                GsdUnknownWarning,
                stacklevel=3,
            )
            return cls(source, source.width, source.height, None)
        gx, gy = size
        if (
            abs(gx / target_gsd_m - 1) <= GSD_TOLERANCE
            and abs(gy / target_gsd_m - 1) <= GSD_TOLERANCE
        ):
            return cls(source, source.width, source.height, (gx + gy) / 2.0)
        width = max(1, round(source.width * gx / target_gsd_m))
        height = max(1, round(source.height * gy / target_gsd_m))
        return cls(source, width, height, float(target_gsd_m))

    @property
    def scale(self) -> float:
        """View GSD / source GSD (mean of both axes); 1.0 for an identity view."""
        return (self.scale_x + self.scale_y) / 2.0

    @property
    def is_identity(self) -> bool:
        return self.width == self.source.width and self.height == self.source.height

    def tile_grid(self, tile: int, overlap: int) -> TileGrid:
        return TileGrid(self.width, self.height, tile, overlap)

    def _source_window(self, c0: int, r0: int, c1: int, r1: int) -> Window:
        if self.is_identity:
            return Window(c0, r0, c1 - c0, r1 - r0)
        x0 = c0 * self.scale_x
        y0 = r0 * self.scale_y
        x1 = min(c1 * self.scale_x, self.source.width)
        y1 = min(r1 * self.scale_y, self.source.height)
        return Window(x0, y0, x1 - x0, y1 - y0)

    def _clip(self, window: Window) -> tuple[int, int, int, int, int, int, int, int]:
        col, row = int(window.col_off), int(window.row_off)
        w, h = int(window.width), int(window.height)
        if (col, row, w, h) != (window.col_off, window.row_off, window.width, window.height):
            raise ValueError(f"view windows must be whole pixels, got {window}")
        if w < 1 or h < 1:
            raise ValueError(f"window must be at least 1 x 1 pixel, got {window}")
        c0, r0 = max(col, 0), max(row, 0)
        c1, r1 = min(col + w, self.width), min(row + h, self.height)
        return col, row, w, h, c0, r0, c1, r1

    def read(self, window: Window, band_first: bool = False) -> TileImage:
        """RGB uint8 pixels and valid mask of a window of the view (padded beyond the raster).

        Pixels are (H, W, 3), or (3, H, W) with band_first (the layout of a model input).
        """
        col, row, w, h, c0, r0, c1, r1 = self._clip(window)
        transform = self.transform @ Affine.translation(col, row)
        if (c0, r0, c1, r1) == (col, row, col + w, row + h):  # inside the raster: no padding copy
            rgb, ok = read_rgb(
                self.source.reader, self._source_window(c0, r0, c1, r1), (h, w), self.resampling, band_first
            )
            return TileImage(rgb, ok, Window(col, row, w, h), transform)
        pixels = np.zeros((3, h, w) if band_first else (h, w, 3), dtype=np.uint8)
        valid = np.zeros((h, w), dtype=bool)
        if c1 > c0 and r1 > r0:
            rgb, ok = read_rgb(
                self.source.reader,
                self._source_window(c0, r0, c1, r1),
                (r1 - r0, c1 - c0),
                self.resampling,
                band_first,
            )
            inside = (slice(r0 - row, r1 - row), slice(c0 - col, c1 - col))
            pixels[(slice(None), *inside) if band_first else inside] = rgb
            valid[inside] = ok
        return TileImage(pixels, valid, Window(col, row, w, h), transform)

    def valid_fraction(self, window: Window) -> float:
        """Fraction of the window holding valid data, from a decimated mask read (cheap)."""
        _, _, w, h, c0, r0, c1, r1 = self._clip(window)
        if c1 <= c0 or r1 <= r0:
            return 0.0
        inside = (c1 - c0) * (r1 - r0) / (w * h)
        out_shape = (min(r1 - r0, VALID_FRACTION_SAMPLE), min(c1 - c0, VALID_FRACTION_SAMPLE))
        window = self._source_window(c0, r0, c1, r1)
        return inside * valid_fraction(self.source.reader, window, out_shape)

    def __repr__(self) -> str:
        return (
            f"<RasterView {self.width}x{self.height} of {self.source.path!r} "
            f"gsd_m={self.gsd_m} scale=({self.scale_x:.4f}, {self.scale_y:.4f})>"
        )
