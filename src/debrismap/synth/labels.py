"""Ground truth beside a synthetic raster: pile boxes as GeoJSON (raster CRS) and pixel text.

Boxes come from what was actually rendered: the pixel-corner bounds of each pile's
visible body (coverage >= 50 %, not hidden by a roof or a tree crown), accumulated over
all blocks. The shadow is not part of the box.

`*.labels.txt`: one line per box, `0 x0 y0 x1 y1`, integers, pixel-corner coordinates of
the full raster ((0, 0) = top-left corner of the top-left pixel; x1, y1 exclusive).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rasterio.crs import CRS
from rasterio.transform import Affine

from debrismap.atomic import write_text

CLASS_NAME = "debris"


class BoxAccumulator:
    """Running min/max of each pile's visible pixels over the blocks of a raster.

    Pile ids are arbitrary non-negative ints (tiles of a large city number their piles
    apart), so the state is a dict: id -> [x0, y0, x1, y1, count].
    """

    def __init__(self, n: int = 0):
        self.state: dict[int, list[int]] = {}

    def add(self, pile_id: np.ndarray, x0: int, y0: int) -> None:
        """pile_id: (h, w) int map of visible piles (-1: none) for the window at (x0, y0)."""
        ys, xs = np.nonzero(pile_id >= 0)
        if not len(ys):
            return
        ids = pile_id[ys, xs]
        order = np.argsort(ids, kind="stable")
        ids, xs, ys = ids[order], xs[order] + x0, ys[order] + y0
        uniq, start = np.unique(ids, return_index=True)
        bounds = np.stack([np.minimum.reduceat(xs, start), np.minimum.reduceat(ys, start),
                           np.maximum.reduceat(xs, start) + 1, np.maximum.reduceat(ys, start) + 1,
                           np.diff(np.append(start, len(ids)))], axis=1)
        for pid, (a, b, c, d, n) in zip(uniq.tolist(), bounds.tolist()):
            cur = self.state.get(pid)
            if cur is None:
                self.state[pid] = [a, b, c, d, n]
            else:
                self.state[pid] = [min(cur[0], a), min(cur[1], b), max(cur[2], c), max(cur[3], d), cur[4] + n]

    def count(self, pid: int) -> int:
        return self.state.get(pid, [0, 0, 0, 0, 0])[4]

    def boxes(self, min_pixels: int = 6, body: dict | None = None,
              min_fraction: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
        """(ids, boxes (k, 4) int x0 y0 x1 y1) of piles with enough of their body visible,
        sorted by id.

        body: full body pixel count per pile id; piles mostly hidden (under a roof or a
        tree crown) get no box, like a human labeller would skip them.
        """
        ids, out = [], []
        for pid in sorted(self.state):
            x0, y0, x1, y1, n = self.state[pid]
            if n < min_pixels or (body is not None and n < min_fraction * max(body.get(pid, 0), 1)):
                continue
            ids.append(pid)
            out.append([x0, y0, x1, y1])
        return np.array(ids, np.int64), np.array(out, np.int64).reshape(-1, 4)


def write_labels_txt(path: Path, boxes: np.ndarray) -> None:
    lines = "".join(f"0 {b[0]} {b[1]} {b[2]} {b[3]}\n" for b in boxes)
    write_text(path, lines)


def write_labels_geojson(path: Path, boxes: np.ndarray, transform: Affine, crs: CRS | None,
                         props: list[dict]) -> None:
    """Box polygons in the raster CRS (a GeoJSON 'crs' member names it, as GDAL writes it)."""
    # Millimetres in a projected CRS; about the same (1e-9 degrees) in a geographic one.
    decimals = 9 if crs is not None and crs.is_geographic else 3
    feats = []
    for b, p in zip(boxes, props):
        corners = [(b[0], b[1]), (b[2], b[1]), (b[2], b[3]), (b[0], b[3]), (b[0], b[1])]
        ring = [[round(float(v), decimals) for v in transform @ c] for c in corners]
        feats.append({"type": "Feature", "properties": {"class_name": CLASS_NAME, "class": 0, **p},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    doc = {"type": "FeatureCollection", "name": path.name.split(".")[0]}
    if crs is not None:
        epsg = crs.to_epsg()
        if epsg:
            doc["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}}
    doc["features"] = feats
    write_text(path, json.dumps(doc, separators=(",", ":")) + "\n")


def label_paths(raster: Path) -> tuple[Path, Path]:
    """city.tif -> city.labels.geojson, city.labels.txt"""
    stem = raster.name[: -len(raster.suffix)] if raster.suffix else raster.name
    return raster.with_name(stem + ".labels.geojson"), raster.with_name(stem + ".labels.txt")
