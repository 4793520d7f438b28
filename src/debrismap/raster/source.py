"""Open a raster once and describe it: size, CRS, GSD, bands, masks, stretch, provenance.

`open_raster` is the only door to imagery. It checks the file early (a probe read of the
first and last blocks, because GDAL often opens a truncated file and only fails when the
missing bytes are read), decides which bands are R, G, B, and computes the raster's one
stretch. Everything it raises for bad input is a one-line `RasterError` naming the file.
Pixels are only ever read through windows (`RasterSource.at_gsd(...).read(window)`), so a
30000 x 30000 px city streams in bounded memory. The reads themselves are in raster.read,
georeferencing in raster.georef and the acquisition date in raster.dates.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning as _RioNotGeoreferencedWarning
from rasterio.transform import array_bounds
from rasterio.windows import Window

from debrismap.errors import RasterError
from debrismap.geometry.crs import crs_label
from debrismap.raster.bands import choose_bands
from debrismap.raster.dates import acquisition_date
from debrismap.raster.gdal_errors import gdal_errors, one_line
from debrismap.raster.geometry import pixel_size_m, pixel_to_world
from debrismap.raster.georef import georeference
from debrismap.raster.read import BandReader, palette_lut, read_bands
from debrismap.raster.stretch import Stretch, percentile_stretch
from debrismap.raster.view import RasterView

# Largest side of the decimated read used for the stretch: ~1 M pixels per band is
# plenty for stable 2nd/98th percentiles and keeps opening a city-sized raster cheap.
STRETCH_SAMPLE_SIDE = 1024
# Large rasters without overviews: a STRETCH_SAMPLE_GRID^2 grid of windows of this side.
STRETCH_SAMPLE_GRID = 16
STRETCH_SAMPLE_WINDOW = 64
HEADER_BYTES = 64 * 1024

_COMPLEX_DTYPES = {"complex", "complex64", "complex128", "complex_int16", "cint16", "cint32"}


def header_sha256(path: str | Path) -> str:
    """sha256 of the file's first 64 KiB plus its size: cheap provenance for big rasters.

    For a path that is not a local file (/vsicurl/, s3://), the path string is hashed.
    """
    digest = hashlib.sha256()
    local = Path(path)
    if local.is_file():
        with open(local, "rb") as fh:
            digest.update(fh.read(HEADER_BYTES))
        digest.update(str(local.stat().st_size).encode())
    else:  # not a local file: the path itself is the best stable identity we have
        digest.update(str(path).encode())
    return digest.hexdigest()


def open_raster(
    path: str | Path,
    bands: Sequence[int] | None = None,
    stretch: Stretch | dict | None = None,
) -> RasterSource:
    """Open a raster for windowed reading; RasterError (one line) on anything unusable.

    bands: 1-based band numbers used as R, G, B (one number: replicated grey), else
    chosen from colour interpretation. stretch: reuse a recorded Stretch (or its dict)
    instead of computing one.
    """
    return RasterSource(path, bands=bands, stretch=stretch)


class RasterSource:
    """An open raster: metadata, band choice and stretch; pixels via `at_gsd(...).read()`.

    Not safe to share between processes; reads from several threads are serialised by
    a lock in `reader` (its raster.read.BandReader) because a GDAL dataset handle is not
    thread-safe.
    """

    def __init__(
        self,
        path: str | Path,
        bands: Sequence[int] | None = None,
        stretch: Stretch | dict | None = None,
    ):
        self.path = str(path)
        _check_path(self.path)
        self._ds = _open_dataset(self.path)
        try:
            self._init(bands, stretch)
        except gdal_errors() as exc:  # GDAL failing on metadata of a damaged file
            self._ds.close()
            raise RasterError(f"cannot read the raster: {one_line(exc)}", self.path) from exc
        except BaseException:
            self._ds.close()
            raise

    # -- set-up ------------------------------------------------------------------------

    def _init(self, bands: Sequence[int] | None, stretch: Stretch | dict | None) -> None:
        ds = self._ds
        if ds.count == 0:
            subs = len(ds.subdatasets)
            hint = f" but {subs} subdataset(s); open one of them" if subs else ""
            raise RasterError(f"contains no raster bands{hint}", self.path)
        dtypes = set(ds.dtypes)
        complex_types = dtypes & _COMPLEX_DTYPES or {d for d in dtypes if "complex" in d}
        if complex_types:
            raise RasterError(
                f"complex pixel type {min(complex_types)} (e.g. SAR) is not optical imagery",
                self.path,
            )
        self.width: int = ds.width
        self.height: int = ds.height
        self.count: int = ds.count
        self.colorinterp: tuple[ColorInterp, ...] = tuple(ds.colorinterp)
        self.band_indexes: tuple[int, int, int] = choose_bands(self.colorinterp, bands, self.path)
        self.dtype: str = ds.dtypes[self.band_indexes[0] - 1]
        if len({ds.dtypes[b - 1] for b in self.band_indexes}) > 1:
            raise RasterError("the chosen R, G, B bands have different pixel types", self.path)
        self._palette = palette_lut(ds, self.band_indexes, self.dtype, self.path)
        self.crs, self.transform, self.georeferenced, self.georeference_source = georeference(
            ds, self.path
        )
        self._pixel_size_m = (
            pixel_size_m(self.crs, self.transform, self.width, self.height) if self.crs else None
        )
        flags = [ds.mask_flag_enums[b - 1] for b in set(self.band_indexes)]
        all_valid = all(f == [MaskFlags.all_valid] for f in flags)
        self.nodata = ds.nodata
        self.reader = BandReader(ds, self.path, self.band_indexes, all_valid, palette=self._palette)
        self._probe()
        # the stretch is chosen from reads of the raster, then every read of a view uses it
        self.reader = dataclasses.replace(self.reader, stretch=self._choose_stretch(stretch))

    @property
    def stretch(self) -> Stretch:
        """The raster's one mapping of its samples to uint8, used by every read."""
        return self.reader.stretch

    def _probe(self) -> None:
        """Read the first and last blocks, so truncated files fail now, not mid-run."""
        block_h, block_w = self._ds.block_shapes[0]
        block_h, block_w = max(1, min(block_h, self.height)), max(1, min(block_w, self.width))
        last_col = (self.width - 1) // block_w * block_w
        last_row = (self.height - 1) // block_h * block_h
        for col, row in {(0, 0), (last_col, last_row)}:
            window = Window(
                col, row, min(block_w, self.width - col), min(block_h, self.height - row)
            )
            shape = (int(window.height), int(window.width))
            read_bands(self.reader, window, shape, Resampling.nearest)

    def _choose_stretch(self, stretch: Stretch | dict | None) -> Stretch:
        if isinstance(stretch, dict):
            try:
                stretch = Stretch.from_dict(stretch)
            except ValueError as exc:
                raise RasterError(one_line(exc), self.path) from exc
        if stretch is not None:
            if not stretch.is_identity and len(stretch.low) != 3:
                raise RasterError(
                    f"the given stretch has {len(stretch.low)} channels; 3 are needed", self.path
                )
            return stretch
        if self.dtype == "uint8" or self._palette is not None:
            return Stretch.identity()
        return self._compute_stretch()

    def _compute_stretch(self) -> Stretch:
        """Per-band percentiles over valid pixels of one sample of the whole raster.

        With overviews, or for a raster of modest size, the sample is one decimated read
        (GDAL serves it from the best overview). A large raster without overviews would
        make that read decode every block, so it is sampled instead from a regular grid
        of small windows, which touches only a few hundred blocks.
        """
        factor = max(1.0, max(self.width, self.height) / STRETCH_SAMPLE_SIDE)
        if factor <= 4 or self.overviews:
            out_shape = (max(1, round(self.height / factor)), max(1, round(self.width / factor)))
            data, valid = read_bands(
                self.reader, Window(0, 0, self.width, self.height), out_shape, Resampling.nearest
            )
            return percentile_stretch(data, valid)
        side_x = min(STRETCH_SAMPLE_WINDOW, self.width)
        side_y = min(STRETCH_SAMPLE_WINDOW, self.height)
        xs = np.linspace(0, self.width - side_x, STRETCH_SAMPLE_GRID).round().astype(int)
        ys = np.linspace(0, self.height - side_y, STRETCH_SAMPLE_GRID).round().astype(int)
        parts, masks = [], []
        for y in np.unique(ys):
            for x in np.unique(xs):
                window = Window(int(x), int(y), side_x, side_y)
                d, v = read_bands(self.reader, window, (side_y, side_x), Resampling.nearest)
                parts.append(d)
                masks.append(v)
        return percentile_stretch(np.concatenate(parts, axis=2), np.concatenate(masks, axis=1))

    # -- public API ------------------------------------------------------------------------

    @property
    def dataset(self) -> rasterio.io.DatasetReader:
        """The underlying rasterio dataset, for metadata only; read pixels through a view."""
        return self._ds

    @property
    def gsd_m(self) -> float | None:
        """Metres per pixel, mean of x and y; None without a CRS."""
        if self._pixel_size_m is None:
            return None
        return float(sum(self._pixel_size_m) / 2.0)

    @property
    def pixel_size_m(self) -> tuple[float, float] | None:
        """Metres per pixel along x and along y (they differ for non-square pixels)."""
        return self._pixel_size_m

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of the raster in its CRS (pixels when not georeferenced)."""
        if self.transform.is_rectilinear:
            return array_bounds(self.height, self.width, self.transform)
        xs, ys = pixel_to_world(
            self.transform, [0, self.width, self.width, 0], [0, 0, self.height, self.height]
        )
        return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())

    @property
    def mask_kind(self) -> str:
        """How invalid pixels are marked: none, nodata, alpha, internal mask, external mask."""
        flags = set()
        for b in set(self.band_indexes):
            flags.update(self._ds.mask_flag_enums[b - 1])
        if MaskFlags.alpha in flags:
            return "alpha band"
        if MaskFlags.nodata in flags:  # GDAL may flag a shared nodata as per-dataset too
            return f"nodata value {self.nodata}"
        if MaskFlags.per_dataset in flags:
            return "external mask (.msk)" if os.path.exists(self.path + ".msk") else "internal mask"
        return "none"

    @property
    def nbits(self) -> int | None:
        """Significant bits per sample when the file declares fewer than its type holds
        (GDAL's NBITS, e.g. 12 for Pléiades / WorldView 12-bit data stored as uint16)."""
        try:
            value = self._ds.tags(self.band_indexes[0], ns="IMAGE_STRUCTURE").get("NBITS")
            value = value or self._ds.tags(ns="IMAGE_STRUCTURE").get("NBITS")
            return int(value) if value else None
        except (*gdal_errors(), ValueError):
            return None

    @property
    def overviews(self) -> list[int]:
        try:
            return list(self._ds.overviews(self.band_indexes[0]))
        except gdal_errors():
            return []

    @property
    def acquisition_date(self) -> str | None:
        """ISO 8601 date (and time when known) of acquisition, or None when not recorded."""
        return self._acquisition[0]

    @property
    def acquisition_date_source(self) -> str | None:
        """Where acquisition_date came from: "metadata", "file name", or None."""
        return self._acquisition[1]

    @functools.cached_property
    def _acquisition(self) -> tuple[str | None, str | None]:
        return acquisition_date(self._ds, self.path)

    @property
    def header_sha256(self) -> str:
        return header_sha256(self.path)

    @property
    def driver(self) -> str:
        return self._ds.driver

    def at_gsd(self, target_gsd_m: float | None, assumed_gsd_m: float | None = None) -> RasterView:
        """A view of the raster resampled to `target_gsd_m` (identity within 10% per axis).

        assumed_gsd_m: the source GSD to use when the raster's own is unknown (no CRS).
        """
        return RasterView.for_source(self, target_gsd_m, assumed_gsd_m)

    def describe(self) -> dict[str, Any]:
        """Plain-dict summary used by `debrismap info --json` and run.json inputs."""
        ds = self._ds
        return {
            "path": self.path,
            "driver": ds.driver,
            "width": self.width,
            "height": self.height,
            "count": self.count,
            "dtype": self.dtype,
            "dtypes": list(ds.dtypes),
            "nbits": self.nbits,
            "colorinterp": [ci.name for ci in self.colorinterp],
            "bands": list(self.band_indexes),
            "crs": self.crs.to_string() if self.crs else None,
            "crs_name": crs_label(self.crs),
            "transform": list(self.transform)[:6],
            "georeferenced": self.georeferenced,
            "georeference_source": self.georeference_source,
            "bounds": list(self.bounds),
            "gsd_m": self.gsd_m,
            "pixel_size_m": list(self._pixel_size_m) if self._pixel_size_m else None,
            "nodata": _json_number(self.nodata),
            "mask": self.mask_kind,
            "overviews": self.overviews,
            "block_shape": list(ds.block_shapes[0]),
            "compression": ds.compression.name if ds.compression else None,
            "acquisition_date": self.acquisition_date,
            "acquisition_date_source": self.acquisition_date_source,
            "stretch": self.stretch.to_dict(),
            "header_sha256": self.header_sha256,
        }

    def close(self) -> None:
        self._ds.close()

    @property
    def closed(self) -> bool:
        return self._ds.closed

    def __enter__(self) -> RasterSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<RasterSource {self.path!r} {self.width}x{self.height} {self.count}x{self.dtype} "
            f"bands={self.band_indexes} gsd_m={self.gsd_m}>"
        )


def _json_number(value: float | None) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN
    return value


def _check_path(path: str) -> None:
    """Clear messages for the failures GDAL would describe badly."""
    if "://" in path or path.startswith("/vsi"):
        return  # remote or virtual paths: let GDAL decide
    p = Path(path)
    if not p.exists():
        raise RasterError("no such file", path)
    if p.is_dir():
        raise RasterError("is a directory, not a raster file", path)
    if not os.access(p, os.R_OK):
        raise RasterError("permission denied: the file is not readable", path)
    if p.stat().st_size == 0:
        raise RasterError("empty file (0 bytes)", path)


def _open_dataset(path: str) -> rasterio.io.DatasetReader:
    try:
        with warnings.catch_warnings():
            # we emit our own, single warning about missing georeferencing
            warnings.simplefilter("ignore", _RioNotGeoreferencedWarning)
            return rasterio.open(path)
    except gdal_errors() as exc:
        text = one_line(exc)
        if "not recognized as" in text or "not a supported file format" in text:
            raise RasterError("not a raster GDAL can read (unrecognised format)", path) from exc
        raise RasterError(f"cannot open as a raster: {text}", path) from exc
