"""The (raster, labels) pairs of a build: opened, boxes on the view's pixel grid, GSDs checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from debrismap.chips.options import ChipOptions
from debrismap.errors import ConfigError, DatasetError, LabelError
from debrismap.geometry.crs import as_crs
from debrismap.labels import Boxes, read_labels, to_raster_pixels
from debrismap.labels.boxes import DEFAULT_CLASS
from debrismap.raster import RasterSource, RasterView, open_raster

GSD_TOLERANCE = 0.10  # rasters within 10% of each other's GSD may share a dataset


@dataclass
class ChipSource:
    """One opened (raster, labels) pair, boxes already in the view's pixel grid."""

    raster_path: Path
    labels_path: Path
    raster: RasterSource
    view: RasterView
    boxes: Boxes  # pixel boxes of the view
    stem: str = ""  # unique in the dataset; set when the chips are planned


def open_pair(raster_path: Path, labels_path: Path, opts: ChipOptions) -> ChipSource:
    """Open the raster at the dataset GSD and read its labels onto the view's pixel grid."""
    src = open_raster(raster_path, bands=opts.bands)
    try:
        view = src.at_gsd(opts.gsd_m)
        boxes = read_labels(
            labels_path,
            crs=src.crs,
            labels_crs=opts.labels_crs,
            class_field=opts.class_field,
            point_size_m=opts.point_size_m,
            image_size=(src.width, src.height),
            coco_image=raster_path.stem,
        )
        if boxes.pixel:  # YOLO / COCO: pixels of the source raster
            boxes = boxes.to_world(src.transform, as_crs(src.crs))
        elif src.crs is None and boxes.crs is not None:
            raise LabelError(
                f"holds map coordinates but {raster_path.name} has no CRS to place them with; "
                "use pixel labels (YOLO .txt or COCO .json) for it",
                path=labels_path,
            )
        pixel = to_raster_pixels(
            boxes, view.transform, view.width, view.height, src.crs, raster=raster_path
        )
    except BaseException:
        src.close()
        raise
    return ChipSource(raster_path, labels_path, src, view, pixel)


def check_gsds(sources: list[ChipSource], existing_gsd_m: float | None) -> None:
    """One model learns one GSD: refuse to mix rasters whose GSDs differ by more than 10%."""
    gsds = [(s.raster_path.name, s.view.gsd_m) for s in sources if s.view.gsd_m]
    if existing_gsd_m:
        gsds.insert(0, ("the existing dataset", float(existing_gsd_m)))
    if len(gsds) < 2:
        return
    ref_name, ref = gsds[0]
    for name, g in gsds[1:]:
        if abs(g / ref - 1) > GSD_TOLERANCE:
            raise ConfigError(
                f"{name} is {g:.3g} m/pixel but {ref_name} is {ref:.3g} m/pixel; "
                "pass --gsd to resample every raster to one GSD"
            )


def class_names(existing_names: tuple[str, ...], sources: list[ChipSource]) -> tuple[str, ...]:
    """Existing dataset names keep their indices; new names follow, sorted."""
    names = list(existing_names)
    seen = set()
    for s in sources:
        seen |= {s.boxes.names[c] for c in np.unique(s.boxes.classes)}
    names += sorted(seen - set(names))
    return tuple(names) or (DEFAULT_CLASS,)


def unique_stems(sources: list[ChipSource], existing: dict | None, out_dir: Path) -> list[str]:
    """A source stem per raster, unique in the dataset; the same raster twice is refused."""
    used = {}
    for src in (existing or {}).get("sources", []) or []:
        used[src.get("stem")] = src.get("path")
    stems = []
    for s in sources:
        path = str(s.raster_path.absolute())
        if path in used.values():
            raise DatasetError(f"{s.raster_path} is already in this dataset", path=out_dir)
        base = safe_stem(s.raster_path.stem)
        stem, n = base, 2
        while stem in used:
            stem, n = f"{base}_{n}", n + 1
        used[stem] = path
        stems.append(stem)
    return stems


def safe_stem(stem: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem) or "raster"

