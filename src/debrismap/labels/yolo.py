"""YOLO text labels <-> pixel `Boxes`.

Two variants are read:
- normalised (ultralytics): `class cx cy w h` in 0..1 of the image size, or a segment
  `class x1 y1 x2 y2 x3 y3 ...` (taken as its bounds); needs the image size.
- pixel boxes (debrismap synth, whole raster): `class x0 y0 x1 y1` in pixel-corner coordinates.
`fmt="auto"` picks normalised when every coordinate lies in [0, 1], else pixel.
Files are streamed line by line into compact arrays, so a multi-GB file costs ~40 B a box.
"""

from __future__ import annotations

import math
from array import array
from pathlib import Path

import numpy as np

from debrismap.atomic import write_text as write_text_atomic
from debrismap.errors import LabelError
from debrismap.labels.boxes import DEFAULT_CLASS, Boxes
from debrismap.labels.notices import warn_labels

MAX_LINE_CHARS = 65_536  # a longer line means this is not a YOLO file
NORMALISED_SLACK = 1e-3  # rounding in writers puts values a hair outside [0, 1]


def default_names(n_classes: int) -> tuple[str, ...]:
    """Class 0 is 'debris'; further indices get placeholder names."""
    return (DEFAULT_CLASS,) + tuple(f"class_{i}" for i in range(1, max(n_classes, 1)))


def read_yolo(
    path: str | Path,
    *,
    image_size: tuple[int, int] | None = None,
    fmt: str = "auto",
    names=None,
    allow_empty: bool = False,
) -> Boxes:
    """Read one YOLO text file as pixel boxes. image_size = (width, height)."""
    path = Path(path)
    cls, xyxy = read_yolo_arrays(path, image_size=image_size, fmt=fmt)
    if len(cls) == 0:
        if allow_empty:
            return Boxes.empty(names or default_names(1), pixel=True)
        raise LabelError("has no labels (no box lines)", path=path)

    ok = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    if not ok.any():
        raise LabelError(f"all {len(ok)} boxes are degenerate (zero size)", path=path)
    if not ok.all():
        warn_labels(path, f"skipped {int((~ok).sum())} of {len(ok)} boxes of zero size")
    xyxy, cls = xyxy[ok], cls[ok]
    names = tuple(names) if names is not None else default_names(int(cls.max()) + 1)
    if cls.max() >= len(names):
        raise LabelError(
            f"uses class index {int(cls.max())} but only {len(names)} class names are known "
            f"({list(names)})",
            path=path,
        )
    return Boxes(xyxy, cls, names, crs=None, pixel=True, source=str(path))


def read_yolo_arrays(
    path: str | Path, *, image_size: tuple[int, int] | None = None, fmt: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """Class indices (n,) int64 and pixel x0 y0 x1 y1 (n, 4) float64 of every box line.

    Boxes come back as written: no check of their size or class index, so each caller
    (read_yolo, the training dataset) applies its own rules. LabelError for a malformed file.
    """
    path = Path(path)
    if fmt not in ("auto", "normalized", "normalised", "pixel"):
        raise ValueError(f"unknown YOLO format {fmt!r}")
    cls, raw, is_segment = _parse(path)
    if len(cls) == 0:
        return cls, raw

    if fmt == "auto":
        in_unit = (raw >= -NORMALISED_SLACK).all() and (raw <= 1 + NORMALISED_SLACK).all()
        fmt = "normalized" if in_unit else "pixel"
    xyxy = raw.copy()  # segment lines are already (min x, min y, max x, max y)
    if fmt in ("normalized", "normalised"):
        if image_size is None:
            raise LabelError(
                "holds normalised YOLO boxes (values in 0..1), which need the image size", path=path
            )
        five = ~is_segment
        cx, cy, w, h = raw[five].T
        xyxy[five] = np.column_stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
        width, height = image_size
        xyxy *= np.array([width, height, width, height], dtype=np.float64)
    return cls, xyxy


def _parse(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stream the file: class indices, 4 numbers per line, and which lines were segments.

    5-column lines keep their 4 numbers as written (cx cy w h or x0 y0 x1 y1: the caller
    decides); segment lines are reduced to their bounds right away.
    """
    classes = array("q")
    raw = array("d")
    segment = array("b")
    try:
        f = open(path, encoding="utf-8")  # noqa: SIM115 - closed by the `with` below
    except FileNotFoundError as exc:
        raise LabelError("file not found", path=path) from exc
    except OSError as exc:
        raise LabelError(f"cannot be read ({exc.strerror})", path=path) from exc
    with f:
        lineno = 0
        while True:
            try:
                line = f.readline(MAX_LINE_CHARS)
            except UnicodeDecodeError as exc:
                raise LabelError(
                    f"is not a text file (not UTF-8 near line {lineno + 1})", path=path
                ) from exc
            if not line:
                break
            lineno += 1
            if len(line) >= MAX_LINE_CHARS and not line.endswith("\n"):
                raise LabelError(f"line {lineno} is too long for a YOLO label line", path=path)
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            tokens = text.split()
            if len(tokens) != 5 and (len(tokens) < 7 or len(tokens) % 2 == 0):
                raise LabelError(
                    f"line {lineno}: expected 5 columns (class cx cy w h or class x0 y0 x1 y1), "
                    f"got {len(tokens)}",
                    path=path,
                )
            classes.append(_class_index(tokens[0], path, lineno))
            values = [_number(t, path, lineno) for t in tokens[1:]]
            if len(tokens) == 5:
                raw.extend(values)
                segment.append(0)
            else:
                xs, ys = values[0::2], values[1::2]
                raw.extend([min(xs), min(ys), max(xs), max(ys)])
                segment.append(1)
    if not classes:
        return np.empty(0, np.int64), np.empty((0, 4)), np.empty(0, bool)
    return (
        np.frombuffer(classes, dtype=np.int64).copy(),
        np.frombuffer(raw, dtype=np.float64).reshape(-1, 4).copy(),
        np.frombuffer(segment, dtype=np.int8).astype(bool),
    )


def _class_index(token: str, path: Path, lineno: int) -> int:
    try:
        value = float(token)
    except ValueError as exc:
        raise LabelError(f"line {lineno}: class {token!r} is not a number", path=path) from exc
    if not math.isfinite(value) or value < 0 or value != int(value) or value > 1_000_000:
        raise LabelError(
            f"line {lineno}: class {token!r} is not a non-negative integer", path=path
        )
    return int(value)


def _number(token: str, path: Path, lineno: int) -> float:
    try:
        value = float(token)
    except ValueError as exc:
        raise LabelError(f"line {lineno}: {token!r} is not a number", path=path) from exc
    if not math.isfinite(value):
        raise LabelError(f"line {lineno}: {token!r} is not a finite number", path=path)
    return value


def write_yolo(
    path: str | Path, boxes: Boxes, image_size: tuple[int, int], *, pixel: bool = False
) -> Path:
    """Write pixel boxes as normalised `class cx cy w h` (or `class x0 y0 x1 y1` if pixel)."""
    if not boxes.pixel:
        raise ValueError("write_yolo needs pixel boxes; use Boxes.to_pixel first")
    lines = []
    if pixel:
        for c, (x0, y0, x1, y1) in zip(boxes.classes, boxes.xyxy):
            lines.append(f"{c} {x0:.2f} {y0:.2f} {x1:.2f} {y1:.2f}")
    else:
        width, height = image_size
        xyxy = boxes.xyxy
        cx = (xyxy[:, 0] + xyxy[:, 2]) / 2 / width
        cy = (xyxy[:, 1] + xyxy[:, 3]) / 2 / height
        w = (xyxy[:, 2] - xyxy[:, 0]) / width
        h = (xyxy[:, 3] - xyxy[:, 1]) / height
        for c, a, b, d, e in zip(boxes.classes, cx, cy, w, h):
            lines.append(f"{c} {a:.6f} {b:.6f} {d:.6f} {e:.6f}")
    return write_text_atomic(path, "".join(line + "\n" for line in lines))
