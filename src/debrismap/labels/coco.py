"""COCO JSON (detection) <-> pixel `Boxes` of one image.

Reads `bbox: [x, y, w, h]` (pixel-corner, COCO's own convention) or, when bbox is absent,
the bounds of polygon `segmentation`s. A COCO file may hold many images: the one to read is
chosen by file name, stem or id; a file with a single image needs no choice.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from debrismap.atomic import write_text as write_text_atomic
from debrismap.errors import LabelError
from debrismap.labels.boxes import Boxes
from debrismap.labels.notices import warn_labels
from debrismap.labels.vector import load_json  # one JSON loader, one set of messages


def is_coco(doc) -> bool:
    return isinstance(doc, dict) and ("annotations" in doc or "images" in doc)


def read_coco(
    path: str | Path,
    *,
    image: str | int | None = None,
    names=None,
    allow_empty: bool = False,
    doc=None,
    image_size: tuple[int, int] | None = None,
) -> Boxes:
    """Pixel boxes of one image of a COCO file (see module doc for how the image is chosen).

    image_size: (width, height) of the raster the boxes belong to; an image that declares
    another size is refused (its pixel boxes would land in the wrong place).
    """

    path = Path(path)
    if doc is None:
        doc = load_json(path)
    if not isinstance(doc, dict):
        raise LabelError("is not a COCO file (top level is not an object)", path=path)
    images = _list_of_dicts(doc, "images", path)
    annotations = _list_of_dicts(doc, "annotations", path)
    categories = _list_of_dicts(doc, "categories", path, required=False)

    cat_names = _category_names(categories, path)
    image_id = _pick_image(images, image, path)
    _check_image_size(images, image_id, image_size, path)

    xyxy, cat_ids, n_bad, n_total = [], [], 0, 0
    for ann in annotations:
        if image_id is not None and ann.get("image_id") != image_id:
            continue
        n_total += 1
        box = _annotation_box(ann)
        cat = ann.get("category_id", 0 if not cat_names else None)
        if box is None or not _is_int(cat) or (cat_names and cat not in cat_names):
            n_bad += 1
            continue
        xyxy.append(box)
        cat_ids.append(int(cat))

    if not xyxy:
        if n_bad:
            raise LabelError(f"none of its {n_bad} annotations has a usable box", path=path)
        if allow_empty:
            return Boxes.empty(names or _names_for(cat_names, []), pixel=True)
        raise LabelError("has no annotations for the image (no labels)", path=path)
    if n_bad:
        warn_labels(path, f"skipped {n_bad} of {n_total} annotations without a usable box")

    file_names = _names_for(cat_names, cat_ids)
    by_id = {cid: file_names.index(_cat_name(cat_names, cid)) for cid in set(cat_ids)}
    classes = np.array([by_id[c] for c in cat_ids], dtype=np.int64)
    boxes = Boxes(np.array(xyxy), classes, file_names, pixel=True, source=str(path))
    if names is not None:
        try:
            boxes = boxes.with_names(names)
        except ValueError as exc:
            raise LabelError(str(exc), path=path) from exc
    return boxes


def _list_of_dicts(doc: dict, key: str, path: Path, required: bool = True) -> list[dict]:
    value = doc.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise LabelError(f"is not a COCO file ('{key}' is not a list)", path=path)
    return [v for v in value if isinstance(v, dict)]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _category_names(categories: list[dict], path: Path) -> dict[int, str]:
    out = {}
    for cat in categories:
        cid, name = cat.get("id"), cat.get("name")
        if _is_int(cid) and isinstance(name, str) and name.strip():
            out[cid] = name.strip()
    return out


def _cat_name(cat_names: dict[int, str], cid: int) -> str:
    return cat_names.get(cid, "debris" if cid in (0, 1) and not cat_names else f"class_{cid}")


def _names_for(cat_names: dict[int, str], used_ids) -> tuple[str, ...]:
    """Class names ordered by category id: declared categories first, then any used ids."""
    ids = sorted(set(cat_names) | set(used_ids))
    names = []
    for cid in ids:
        name = _cat_name(cat_names, cid)
        if name not in names:
            names.append(name)
    return tuple(names) or ("debris",)


def _pick_image(images: list[dict], wanted, path: Path):
    """The image id to read; None when the file lists no images (take every annotation)."""
    if not images:
        return None
    if wanted is not None:
        for img in images:
            file_name = str(img.get("file_name", ""))
            if wanted == img.get("id") or str(wanted) in (
                file_name, Path(file_name).name, Path(file_name).stem
            ):
                return img.get("id")
    if len(images) == 1:
        return images[0].get("id")
    hint = f"none matches {wanted!r}; " if wanted is not None else ""
    raise LabelError(
        f"holds {len(images)} images; {hint}name the image the labels belong to "
        "(its file name or stem must match the raster's)",
        path=path,
    )


def _check_image_size(images: list[dict], image_id, image_size, path: Path) -> None:
    if image_size is None or image_id is None:
        return
    img = next((i for i in images if i.get("id") == image_id), None)
    if img is None:
        return
    declared = (img.get("width"), img.get("height"))
    if all(_is_int(v) for v in declared) and tuple(declared) != tuple(image_size):
        raise LabelError(
            f"image {img.get('file_name', image_id)!r} is {declared[0]} x {declared[1]} px but "
            f"the raster is {image_size[0]} x {image_size[1]} px",
            path=path,
        )


def _annotation_box(ann: dict) -> list[float] | None:
    bbox = ann.get("bbox")
    if isinstance(bbox, list) and len(bbox) == 4 and all(_finite(v) for v in bbox):
        x, y, w, h = (float(v) for v in bbox)
        return [x, y, x + w, y + h] if w > 0 and h > 0 else None
    seg = ann.get("segmentation")
    if isinstance(seg, list) and seg:
        rings = seg if all(isinstance(r, list) for r in seg) else [seg]
        xs, ys = [], []
        for ring in rings:
            if len(ring) < 6 or len(ring) % 2 or not all(_finite(v) for v in ring):
                return None
            xs.extend(float(v) for v in ring[0::2])
            ys.extend(float(v) for v in ring[1::2])
        if max(xs) > min(xs) and max(ys) > min(ys):
            return [min(xs), min(ys), max(xs), max(ys)]
    return None


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def write_coco(path: str | Path, images: list[tuple[str, int, int, Boxes]], names) -> Path:
    """Write images [(file_name, width, height, pixel Boxes)] as one COCO detection file.

    Category ids are 1-based (COCO's habit); class index i is category id i + 1.
    """
    names = list(names)
    doc = {
        "images": [],
        "annotations": [],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(names)],
    }
    ann_id = 1
    for image_id, (file_name, width, height, boxes) in enumerate(images, start=1):
        if not boxes.pixel:
            raise ValueError("write_coco needs pixel boxes; use Boxes.to_pixel first")
        doc["images"].append(
            {"id": image_id, "file_name": file_name, "width": int(width), "height": int(height)}
        )
        boxes = boxes.with_names(names)
        for c, (x0, y0, x1, y1) in zip(boxes.classes, boxes.xyxy):
            w, h = float(x1 - x0), float(y1 - y0)
            doc["annotations"].append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": int(c) + 1,
                    "bbox": [round(float(x0), 3), round(float(y0), 3), round(w, 3), round(h, 3)],
                    "area": round(w * h, 3),
                    "iscrowd": 0,
                }
            )
            ann_id += 1
    return write_text_atomic(path, json.dumps(doc))
