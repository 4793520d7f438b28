"""Test support for detect: a tiny deterministic ONNX "oracle" detector and rasters to feed it.

The oracle slides a K x K window over the grey image; every window position is an anchor
whose box is that K x K square, scored by the mean brightness of the window's pixels that
lie inside the tile. A bright K x K square on a dark background therefore scores 1.0 at its
own position and at most 1 - 1/K (times the dark share) anywhere else, so with a score
threshold of 0.9 each whole square is found exactly once, with its exact box. Like a real
detector, it extrapolates a square cut by the tile edge to its full box (windows reach K - 1
pixels beyond the tile); a tiny bonus for windows with more pixels inside the tile makes the
window that fits the visible part best win, and NMS (IoU 0.3) removes the shifted rest.
Any error in the final boxes is therefore detect's, not the model's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

K = 8  # object (square) side in pixels
S = 64  # model input size
GSD = 0.5
BACKGROUND = 40
BRIGHT = 255


def build_oracle(path: Path, size: int = S, k: int = K, metadata: bool = True, gsd: float = GSD,
                 blind: bool = False) -> Path:
    """The oracle detector as an ONNX file. blind=True: same cost, never detects anything."""
    import onnx
    from onnx import TensorProto, helper

    from debrismap.model.metadata import ModelMetadata

    side = size + k - 1  # window positions -(k - 1) .. size - 1 along each axis
    a = side * side
    ys, xs = np.divmod(np.arange(a), side)
    x0, y0 = xs - (k - 1), ys - (k - 1)
    boxes = np.stack([x0 + k / 2, y0 + k / 2, np.full(a, k), np.full(a, k)]).astype(np.float32)[None]
    pads = [k - 1] * 4
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["gray"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["gray", "zero"], ["zeros_img"]),
        helper.make_node("Add", ["zeros_img", "one"], ["ones_img"]),
        # mean over the window's pixels inside the tile
        helper.make_node("AveragePool", ["gray"], ["inside_mean"], kernel_shape=[k, k], strides=[1, 1],
                         pads=pads, count_include_pad=0),
        # share of the window inside the tile
        helper.make_node("AveragePool", ["ones_img"], ["inside_share"], kernel_shape=[k, k], strides=[1, 1],
                         pads=pads, count_include_pad=1),
        helper.make_node("Mul", ["inside_share", "bonus"], ["bonus_part"]),
        helper.make_node("Add", ["bonus_part", "base"], ["factor"]),
        helper.make_node("Mul", ["inside_mean", "factor"], ["score"]),
        helper.make_node("Reshape", ["score", "shape"], ["flat"]),
        helper.make_node("Mul", ["flat", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "boxes"], ["box_rows"]),
        helper.make_node("Concat", ["box_rows", "flat"], ["output0"], axis=1),
    ]
    inits = [
        helper.make_tensor("shape", TensorProto.INT64, [3], [0, 1, -1]),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("bonus", TensorProto.FLOAT, [], [0.0 if blind else 0.01]),
        helper.make_tensor("base", TensorProto.FLOAT, [], [0.0 if blind else 0.99]),
        onnx.numpy_helper.from_array(boxes, "boxes"),
    ]
    graph = helper.make_graph(
        nodes, "oracle",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["N", 5, a])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if metadata:
        meta = ModelMetadata(classes=("debris",), input_size=size, gsd_m=gsd, score_threshold=0.9, nms_iou=0.3,
                             training_data="test oracle", created="2026-01-01")
        helper.set_model_props(model, meta.to_props())
    onnx.save(model, str(path))
    return path


def draw_squares(width: int, height: int, corners, k: int = K) -> np.ndarray:
    """(3, H, W) uint8 image: dark background with bright k x k squares at (x0, y0) pixel corners."""
    img = np.full((3, height, width), BACKGROUND, np.uint8)
    for x0, y0 in corners:
        img[:, y0 : y0 + k, x0 : x0 + k] = BRIGHT
    return img


def write_raster(path: Path, img: np.ndarray, transform=None, crs="EPSG:32637", nodata=None, mask=None) -> Path:
    import rasterio
    from affine import Affine

    transform = transform if transform is not None else Affine(GSD, 0, 500000.0, 0, -GSD, 4000000.0)
    profile = dict(driver="GTiff", width=img.shape[2], height=img.shape[1], count=3, dtype="uint8",
                   transform=transform, tiled=True, blockxsize=128, blockysize=128)
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(img)
        if mask is not None:
            dst.write_mask(mask.astype(np.uint8) * 255)
    return path


def read_boxes(run_dir: Path) -> tuple[np.ndarray, dict]:
    """Detections of a run: (M, 4) world bounds and the fields, in file order."""
    import shapely

    from debrismap.vector_io import read_vector

    data = read_vector(Path(run_dir) / "detections.gpkg")
    bounds = shapely.bounds(data.geometries) if len(data) else np.empty((0, 4))
    return bounds, data.fields
