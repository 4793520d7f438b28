"""`Boxes`: axis-aligned labelled boxes in world or pixel coordinates, and the maths to move them.

Pixel convention (DESIGN.md): pixel-corner space, (0, 0) is the top-left corner of the
top-left pixel, x right, y down; world = transform * (x, y), never a half-pixel offset.
A box is always stored as (min x, min y, max x, max y) in its own space.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from affine import Affine
from pyproj import CRS

DEFAULT_CLASS = "debris"


@dataclass(frozen=True)
class Boxes:
    """N boxes with class indices into `names`.

    `pixel=True`: coordinates are pixel-corner coordinates of one image (crs is None).
    `pixel=False`: world coordinates in `crs` (None only for ungeoreferenced data).
    """

    xyxy: np.ndarray  # float64 (N, 4): min x, min y, max x, max y
    classes: np.ndarray  # int64 (N,)
    names: tuple[str, ...] = (DEFAULT_CLASS,)
    crs: CRS | None = None
    pixel: bool = False
    source: str | None = field(default=None, compare=False)  # file the boxes came from

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float64).reshape(-1, 4)
        classes = np.asarray(self.classes, dtype=np.int64).reshape(-1)
        if len(classes) != len(xyxy):
            raise ValueError(f"{len(xyxy)} boxes but {len(classes)} classes")
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "names", tuple(self.names))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __repr__(self) -> str:  # the default one prints the CRS's whole WKT-ish description
        crs = "pixel" if self.pixel else (self.crs.to_string() if self.crs else "no CRS")
        return f"Boxes({len(self)} boxes, names={list(self.names)}, {crs})"

    @classmethod
    def empty(cls, names=(DEFAULT_CLASS,), crs: CRS | None = None, pixel: bool = False) -> Boxes:
        return cls(np.empty((0, 4)), np.empty(0, dtype=np.int64), tuple(names), crs, pixel)

    @property
    def widths(self) -> np.ndarray:
        return self.xyxy[:, 2] - self.xyxy[:, 0]

    @property
    def heights(self) -> np.ndarray:
        return self.xyxy[:, 3] - self.xyxy[:, 1]

    @property
    def areas(self) -> np.ndarray:
        return self.widths * self.heights

    @property
    def centres(self) -> np.ndarray:
        return np.column_stack(
            [(self.xyxy[:, 0] + self.xyxy[:, 2]) / 2, (self.xyxy[:, 1] + self.xyxy[:, 3]) / 2]
        )

    @property
    def class_names(self) -> np.ndarray:
        return np.asarray(self.names, dtype=object)[self.classes] if len(self) else np.empty(0, object)

    def subset(self, keep) -> Boxes:
        """The boxes selected by a boolean mask or an index array."""
        return replace(self, xyxy=self.xyxy[keep], classes=self.classes[keep])

    def with_names(self, names) -> Boxes:
        """Re-index classes against `names` (which must contain every name used here)."""
        names = tuple(names)
        lookup = {n: i for i, n in enumerate(names)}
        missing = sorted({self.names[c] for c in np.unique(self.classes)} - set(lookup))
        if missing:
            raise ValueError(f"class names {missing} are not in {list(names)}")
        remap = np.array([lookup.get(n, -1) for n in self.names], dtype=np.int64)
        classes = remap[self.classes] if len(self) else self.classes
        return replace(self, classes=classes, names=names)

    def to_pixel(self, transform: Affine) -> Boxes:
        """World boxes -> pixel boxes of the grid `transform` describes."""
        if self.pixel:
            raise ValueError("boxes are already in pixel coordinates")
        return replace(self, xyxy=transform_xyxy(~transform, self.xyxy), crs=None, pixel=True)

    def to_world(self, transform: Affine, crs: CRS | None) -> Boxes:
        """Pixel boxes -> world boxes through `transform` (a raster's or a chip's)."""
        if not self.pixel:
            raise ValueError("boxes are already in world coordinates")
        return replace(self, xyxy=transform_xyxy(transform, self.xyxy), crs=crs, pixel=False)


def transform_xyxy(transform: Affine, xyxy: np.ndarray) -> np.ndarray:
    """Apply an affine to boxes: the axis-aligned bounds of the 4 transformed corners.

    For north-up transforms this is exact; for rotated ones it is the smallest upright box
    holding the rotated one, which is what an upright detector can learn anyway.
    """
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    a, b, c, d, e, f = transform.a, transform.b, transform.c, transform.d, transform.e, transform.f
    xs = xyxy[:, [0, 2, 0, 2]]
    ys = xyxy[:, [1, 1, 3, 3]]
    wx = a * xs + b * ys + c
    wy = d * xs + e * ys + f
    return np.column_stack([wx.min(1), wy.min(1), wx.max(1), wy.max(1)])


def clip_xyxy(xyxy: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Boxes clipped to a rectangle (a box fully outside gets zero width or height)."""
    out = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4).copy()
    out[:, [0, 2]] = out[:, [0, 2]].clip(x0, x1)
    out[:, [1, 3]] = out[:, [1, 3]].clip(y0, y1)
    return out
