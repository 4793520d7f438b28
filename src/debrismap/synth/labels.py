"""Ground truth beside a synthetic raster: pile boxes as GeoJSON (raster CRS) and pixel text.

Boxes come from what was actually rendered: the pixel-corner bounds of each pile's
visible body (coverage >= 50 %, not hidden by a roof or a tree crown), accumulated over
all blocks. The shadow is not part of the box.

`*.labels.txt`: one line per box, `0 x0 y0 x1 y1`, integers, pixel-corner coordinates of
the full raster ((0, 0) = top-left corner of the top-left pixel; x1, y1 exclusive).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rasterio.crs import CRS
from rasterio.transform import Affine

CLASS_NAME = "debris"


@dataclass
class BoxAccumulator:
    """Running min/max of each pile's visible pixels over the blocks of a raster."""

    n: int
    x0: np.ndarray = field(init=False)
    y0: np.ndarray = field(init=False)
    x1: np.ndarray = field(init=False)
    y1: np.ndarray = field(init=False)
    count: np.ndarray = field(init=False)

    def __post_init__(self):
        big = np.iinfo(np.int64).max
        self.x0 = np.full(self.n, big, np.int64)
        self.y0 = np.full(self.n, big, np.int64)
        self.x1 = np.full(self.n, -1, np.int64)
        self.y1 = np.full(self.n, -1, np.int64)
        self.count = np.zeros(self.n, np.int64)

    def add(self, pile_id: np.ndarray, x0: int, y0: int) -> None:
        """pile_id: (h, w) int map of visible piles (-1: none) for the window at (x0, y0)."""
        ys, xs = np.nonzero(pile_id >= 0)
        if not len(ys):
            return
        ids = pile_id[ys, xs]
        xs = xs + x0
        ys = ys + y0
        np.minimum.at(self.x0, ids, xs)
        np.minimum.at(self.y0, ids, ys)
        np.maximum.at(self.x1, ids, xs + 1)
        np.maximum.at(self.y1, ids, ys + 1)
        np.add.at(self.count, ids, 1)

    def boxes(self, min_pixels: int = 6, body: np.ndarray | None = None,
              min_fraction: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
        """(ids, boxes (k, 4) int x0 y0 x1 y1) of piles with enough of their body visible.

        body: full body pixel count per pile; piles mostly hidden (under a roof or a tree
        crown) get no box, like a human labeller would skip them.
        """
        ok = self.count >= min_pixels
        if body is not None:
            ok &= self.count >= min_fraction * np.maximum(body, 1)
        ids = np.nonzero(ok)[0]
        return ids, np.column_stack([self.x0[ok], self.y0[ok], self.x1[ok], self.y1[ok]])


def write_labels_txt(path: Path, boxes: np.ndarray) -> None:
    lines = "".join(f"0 {b[0]} {b[1]} {b[2]} {b[3]}\n" for b in boxes)
    _atomic_text(path, lines)


def write_labels_geojson(path: Path, boxes: np.ndarray, transform: Affine, crs: CRS | None,
                         props: list[dict]) -> None:
    """Box polygons in the raster CRS (a GeoJSON 'crs' member names it, as GDAL writes it)."""
    feats = []
    for b, p in zip(boxes, props):
        corners = [(b[0], b[1]), (b[2], b[1]), (b[2], b[3]), (b[0], b[3]), (b[0], b[1])]
        ring = [list(map(_r, transform @ c)) for c in corners]
        feats.append({"type": "Feature", "properties": {"class_name": CLASS_NAME, "class": 0, **p},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    doc = {"type": "FeatureCollection", "name": path.name.split(".")[0]}
    if crs is not None:
        epsg = crs.to_epsg()
        if epsg:
            doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}}
    doc["features"] = feats
    _atomic_text(path, json.dumps(doc, separators=(",", ":")) + "\n")


def _r(v: float) -> float:
    return round(float(v), 3)


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def label_paths(raster: Path) -> tuple[Path, Path]:
    """city.tif -> city.labels.geojson, city.labels.txt"""
    stem = raster.name[: -len(raster.suffix)] if raster.suffix else raster.name
    return raster.with_name(stem + ".labels.geojson"), raster.with_name(stem + ".labels.txt")
