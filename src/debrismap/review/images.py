"""The imagery a reviewer judges: each sampled cell and detection as an inline JPEG, with the
geometry (cell outline, detection boxes) in that image's pixels for the page to draw."""

from __future__ import annotations

import base64
import io

import numpy as np
from affine import Affine
from PIL import Image
from rasterio.windows import Window

from debrismap.errors import DatasetError
from debrismap.geometry.crs import transform_points
from debrismap.raster import open_raster
from debrismap.review.sample import ReviewPopulation

# Context around a cell (share of its side on each side) and around a detection (box sides).
CELL_MARGIN = 0.2
DETECTION_CONTEXT = 2.0
# A detection is shown at 4x: 140 px of context (70 m at 0.5 m) fill a 560 px view.
MIN_DETECTION_WINDOW_PX = 140
JPEG_QUALITY = 85


def _jpeg_uri(pixels: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _window_for(bounds, inverse: Affine, margin_px: float = 0.0) -> Window:
    x0, y0, x1, y1 = bounds
    cols, rows = _apply(inverse, np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]))
    c0, c1 = int(np.floor(min(cols) - margin_px)), int(np.ceil(max(cols) + margin_px))
    r0, r1 = int(np.floor(min(rows) - margin_px)), int(np.ceil(max(rows) + margin_px))
    return Window(c0, r0, max(c1 - c0, 1), max(r1 - r0, 1))


def _to_pixels(xy_world: np.ndarray, transform: Affine) -> list[list[float]]:
    cols, rows = _apply(~transform, xy_world[:, 0], xy_world[:, 1])
    return [[round(float(c), 2), round(float(r), 2)] for c, r in zip(cols, rows)]


def _apply(t: Affine, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An affine transform of coordinate arrays."""
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def review_images(pop: ReviewPopulation) -> dict:
    """{"cells": {id: {...}}, "detections": {id: {...}}}: image URI, size, pixel->world
    transform (run CRS) and the outlines to draw, for every sampled unit."""
    path = pop.run.input_raster_path()
    if path is None:
        raise DatasetError("review needs the run's input imagery, and none of the rasters in "
                           "run.json can be found (copy it into the run folder)", path=pop.run.path)
    design = pop.design
    run_crs, metric = pop.run.crs, pop.analysis.metric_crs
    cell = design["cell_m"]
    all_bounds = np.asarray([g.bounds for g in pop.run.boxes]).reshape(-1, 4)
    counted = pop.run.scores >= pop.run.operating_threshold - 1e-12
    out = {"cells": {}, "detections": {}}
    with open_raster(path) as src:
        view = src.at_gsd(None)
        inverse = ~view.transform
        pixel_size = abs(view.transform.a) or 1.0  # north-up rasters: the x pixel size
        for unit in design["cells"]["sample"]:
            x0, y0 = unit["ix"] * cell, unit["iy"] * cell
            corners = np.array([[x0, y0], [x0 + cell, y0], [x0 + cell, y0 + cell], [x0, y0 + cell]])
            ring = transform_points(corners, metric, run_crs)
            bounds = (*ring.min(0), *ring.max(0))
            side_px = max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / pixel_size
            img = view.read(_window_for(bounds, inverse, CELL_MARGIN * side_px))
            near = _boxes_near(all_bounds, counted, img.transform, img.pixels.shape)
            out["cells"][unit["id"]] = {
                "src": _jpeg_uri(img.pixels), "width": img.pixels.shape[1], "height": img.pixels.shape[0],
                "transform": list(img.transform)[:6], "outline": _to_pixels(ring, img.transform),
                "boxes": near,
            }
        for unit in design["detections"]["sample"]:
            box = unit["box"]
            win = _window_for(box, inverse)
            side = max(win.width, win.height)
            pad = max((1 + 2 * DETECTION_CONTEXT) * side, MIN_DETECTION_WINDOW_PX) / 2
            cx, cy = win.col_off + win.width / 2, win.row_off + win.height / 2
            window = Window(int(cx - pad), int(cy - pad), int(2 * pad), int(2 * pad))
            img = view.read(window)
            corners = np.array([[box[0], box[1]], [box[2], box[3]]])
            (px0, py0), (px1, py1) = _to_pixels(corners, img.transform)
            out["detections"][unit["id"]] = {
                "src": _jpeg_uri(img.pixels), "width": img.pixels.shape[1], "height": img.pixels.shape[0],
                "box": [min(px0, px1), min(py0, py1), max(px0, px1), max(py0, py1)],
            }
    return out


def _boxes_near(all_bounds: np.ndarray, counted: np.ndarray, transform: Affine, shape) -> list:
    """Counted detections' boxes inside this image, in its pixels (the "show detections" layer)."""
    if len(all_bounds) == 0:
        return []
    inv = ~transform
    cols0, rows0 = _apply(inv, all_bounds[:, 0], all_bounds[:, 1])
    cols1, rows1 = _apply(inv, all_bounds[:, 2], all_bounds[:, 3])
    c0, c1 = np.minimum(cols0, cols1), np.maximum(cols0, cols1)
    r0, r1 = np.minimum(rows0, rows1), np.maximum(rows0, rows1)
    h, w = shape[:2]
    inside = counted & (c1 > 0) & (r1 > 0) & (c0 < w) & (r0 < h)
    return [[round(float(v), 1) for v in row] for row in np.column_stack([c0, r0, c1, r1])[inside]]
