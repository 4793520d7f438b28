"""Shape tables: the painted objects of a city plan, with colour, texture and a bbox index.

The layout fills these in metres; `finalize(gsd)` converts them to pixel coordinates and
builds a bounds array so a renderer can ask cheaply "which shapes touch this window".
Painter's order is insertion order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely


@dataclass
class Layer:
    """Polygons painted in insertion order, each with its own look."""

    name: str
    geoms: list = field(default_factory=list)
    colour: list = field(default_factory=list)  # (4,) reflectance R, G, B, NIR
    kind: list = field(default_factory=list)  # texture kind (style.TEXTURES row)
    angle: list = field(default_factory=list)  # stripe direction, radians
    dome: list = field(default_factory=list)  # (cx, cy, r, k): sun-side brightening of rounded things
    # filled by finalize():
    bounds: np.ndarray | None = None
    colours: np.ndarray | None = None
    kinds: np.ndarray | None = None
    angles: np.ndarray | None = None
    domes: np.ndarray | None = None

    def add(self, geom, colour, kind: int = 0, angle: float = 0.0, dome=(0.0, 0.0, 1.0, 0.0)) -> None:
        if geom is None or geom.is_empty:
            return
        self.geoms.append(geom)
        self.colour.append(np.asarray(colour, np.float32))
        self.kind.append(int(kind))
        self.angle.append(float(angle))
        self.dome.append(tuple(float(v) for v in dome))

    def __len__(self) -> int:
        return len(self.geoms)

    def finalize(self, gsd: float, offset_px: tuple[int, int] = (0, 0)) -> None:
        """Metres -> pixels (plus an offset in pixels), and index by bounds."""
        s = 1.0 / gsd
        off = np.asarray(offset_px, float)
        geoms = np.array(self.geoms, dtype=object) if self.geoms else np.empty(0, dtype=object)
        if len(geoms):
            geoms = shapely.transform(geoms, lambda c: c * s + off)
        self.geoms = list(geoms)
        n = len(self.geoms)
        self.bounds = shapely.bounds(geoms) if n else np.zeros((0, 4))
        self.colours = np.array(self.colour, np.float32).reshape(n, 4)
        self.kinds = np.array(self.kind, np.int32)
        self.angles = np.array(self.angle, np.float32)
        d = np.array(self.dome, np.float64).reshape(n, 4)
        d[:, :3] *= s
        d[:, :2] += off
        self.domes = d.astype(np.float32)

    def query(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Indexes (in painter's order) of shapes whose bbox touches the pixel window."""
        b = self.bounds
        if b is None or not len(b):
            return np.zeros(0, np.int64)
        hit = (b[:, 0] < x1) & (b[:, 2] > x0) & (b[:, 1] < y1) & (b[:, 3] > y0)
        return np.nonzero(hit)[0]


@dataclass
class ShadowLayer:
    """Shadow polygons (pixel coords after finalize): darkens what lies below its level."""

    name: str
    geoms: list = field(default_factory=list)
    bounds: np.ndarray | None = None

    def add(self, geom) -> None:
        if geom is not None and not geom.is_empty:
            self.geoms.append(geom)

    def finalize(self, gsd: float, offset_px: tuple[int, int] = (0, 0)) -> None:
        off = np.asarray(offset_px, float)
        geoms = np.array(self.geoms, dtype=object) if self.geoms else np.empty(0, dtype=object)
        if len(geoms):
            geoms = shapely.transform(geoms, lambda c: c / gsd + off)
        self.geoms = list(geoms)
        self.bounds = shapely.bounds(geoms) if len(geoms) else np.zeros((0, 4))

    def query(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        b = self.bounds
        if b is None or not len(b):
            return np.zeros(0, np.int64)
        hit = (b[:, 0] < x1) & (b[:, 2] > x0) & (b[:, 1] < y1) & (b[:, 3] > y0)
        return np.nonzero(hit)[0]


def merge_layers(layers: list) -> Layer | ShadowLayer:
    """One finalized layer holding the shapes of several (tiles of a city), in their order."""
    first = layers[0]
    if isinstance(first, ShadowLayer):
        out = ShadowLayer(first.name)
        out.geoms = [g for layer in layers for g in layer.geoms]
        out.bounds = np.vstack([layer.bounds for layer in layers])
        return out
    out = Layer(first.name)
    out.geoms = [g for layer in layers for g in layer.geoms]
    out.bounds = np.vstack([layer.bounds for layer in layers])
    out.colours = np.vstack([layer.colours for layer in layers])
    out.kinds = np.concatenate([layer.kinds for layer in layers])
    out.angles = np.concatenate([layer.angles for layer in layers])
    out.domes = np.vstack([layer.domes for layer in layers])
    return out
