"""One entry point for every label format, and the step that puts boxes onto a raster."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from affine import Affine

from debrismap.errors import LabelError
from debrismap.geometry.crs import as_crs
from debrismap.labels import vector
from debrismap.labels.boxes import Boxes, transform_xyxy
from debrismap.labels.coco import is_coco, read_coco
from debrismap.labels.notices import warn_labels
from debrismap.labels.vector import json_head, load_json, read_vector_labels
from debrismap.labels.yolo import read_yolo

VECTOR_SUFFIXES = (".geojson", ".gpkg", ".shp")
ACCEPTED = ".geojson, .gpkg, .shp, .json (GeoJSON or COCO), .txt (YOLO)"


def read_labels(
    path: str | Path,
    *,
    crs=None,
    labels_crs=None,
    class_field: str | None = None,
    names=None,
    point_size_m: float = 6.0,
    image_size: tuple[int, int] | None = None,
    yolo_format: str = "auto",
    coco_image: str | int | None = None,
    allow_empty: bool = False,
) -> Boxes:
    """Read a label file, format from its suffix (and, for .json, its content).

    Vector files give world boxes in `crs` (default: the file's own). YOLO and COCO give
    pixel boxes of their image (`image_size` = (width, height) for normalised YOLO).
    Raises LabelError (one line) for anything unusable.
    """
    path = Path(path)
    if not path.exists():
        raise LabelError("file not found", path=path)
    if path.is_dir():
        raise LabelError(f"is a folder, not a label file ({ACCEPTED})", path=path)
    suffix = path.suffix.lower()
    vector_args = {
        "crs": crs, "labels_crs": labels_crs, "class_field": class_field, "names": names,
        "point_size_m": point_size_m, "allow_empty": allow_empty,
    }  # fmt: skip
    if suffix in VECTOR_SUFFIXES:
        return read_vector_labels(path, **vector_args)
    if suffix == ".json":
        if path.stat().st_size > vector.PARSE_JSON_BYTES and not _looks_like_coco(path):
            return read_vector_labels(path, **vector_args)  # big GeoJSON: GDAL streams it
        doc = load_json(path)
        if is_coco(doc):
            return read_coco(
                path, image=coco_image, names=names, allow_empty=allow_empty, doc=doc,
                image_size=image_size,
            )  # fmt: skip
        return read_vector_labels(path, json_doc=doc, **vector_args)
    if suffix == ".txt":
        return read_yolo(
            path, image_size=image_size, fmt=yolo_format, names=names, allow_empty=allow_empty
        )
    raise LabelError(f"unsupported label format {suffix or '(no suffix)'!r} (use {ACCEPTED})", path=path)


def _looks_like_coco(path: Path) -> bool:
    """COCO files name their top-level lists early; GeoJSON starts with its 'type'."""
    return re.search(r'"(images|annotations|categories)"\s*:', json_head(path)) is not None


def to_raster_pixels(
    boxes: Boxes, transform: Affine, width: int, height: int, crs=None, *, raster=None
) -> Boxes:
    """World boxes -> pixel boxes of a raster grid, dropping those that miss it.

    Boxes wholly outside the raster are dropped with a warning; if none is left, the labels
    are almost certainly in another place or CRS, and a LabelError says so.
    `raster` only names the raster in messages.
    """
    where = boxes.source
    if boxes.pixel:
        pixel = boxes
    else:
        target = as_crs(crs)
        if target is not None and boxes.crs is not None and not boxes.crs.equals(target):
            raise ValueError("reproject the boxes to the raster CRS first (read_labels(crs=...))")
        pixel = boxes.to_pixel(transform)
    xyxy = pixel.xyxy
    inside = (xyxy[:, 2] > 0) & (xyxy[:, 0] < width) & (xyxy[:, 3] > 0) & (xyxy[:, 1] < height)
    if len(pixel) and not inside.any():
        lab = transform_xyxy(transform, xyxy) if not boxes.pixel else xyxy
        bounds = transform_xyxy(transform, np.array([[0, 0, width, height]], dtype=float))[0]
        lab_bounds = (lab[:, 0].min(), lab[:, 1].min(), lab[:, 2].max(), lab[:, 3].max())
        raise LabelError(
            f"all {len(pixel)} boxes fall outside the raster{_named(raster)} "
            f"(labels span {_fmt(lab_bounds)}, raster spans {_fmt(bounds)}): "
            + (
                "they belong to another image"
                if boxes.pixel
                else "the labels' CRS is probably wrong (set --labels-crs) or they cover another area"
            ),
            path=where,
        )
    if not inside.all():
        warn_labels(
            where,
            f"dropped {int((~inside).sum())} of {len(pixel)} boxes outside the raster{_named(raster)}",
        )
    return pixel.subset(inside)


def _named(raster) -> str:
    return f" {Path(raster).name}" if raster is not None else ""


def _fmt(bounds) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in bounds) + ")"
