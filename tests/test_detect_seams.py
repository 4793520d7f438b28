"""Cross-tile merging: objects larger than the overlap, cut differently by two tiles, of several classes.

The oracle of test_detect_oracle always returns a square's exact box, even cut by a tile edge,
so keep-by-core alone removes its seam duplicates. Here a "clamped" oracle behaves like a real
detector on a cut object: its windows stay inside the tile, so a K-px square of which only
K - 1 or K - 2 px are visible is boxed where it is visible, one or two pixels off. With an
overlap of K - 2 such a square near a core boundary is reported by both tiles with boxes whose
centres lie in both cores: only the class-aware NMS across tiles can merge the two.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from debrismap.detect import DetectSettings, run_detect
from debrismap.raster import TileGrid

K = 20  # square side: larger than the overlap
OVERLAP = K - 2
S = 64
GSD = 0.5
BACKGROUND, BRIGHT = 40, 255
CLASSES = ("red", "green")
TRANSFORM = Affine(GSD, 0, 500000.0, 0, -GSD, 4000000.0)


def build_clamped_oracle(path: Path, size: int = S, k: int = K) -> Path:
    """ONNX detector, one class per colour channel: score of a k x k window (inside the tile) = its mean."""
    import onnx
    from onnx import TensorProto, helper

    from debrismap.model.metadata import ModelMetadata

    side = size - k + 1
    a = side * side
    ys, xs = np.divmod(np.arange(a), side)
    boxes = np.stack([xs + k / 2, ys + k / 2, np.full(a, k), np.full(a, k)]).astype(np.float32)[None]
    nodes, names = [], []
    for c in range(len(CLASSES)):
        nodes += [
            helper.make_node("Slice", ["images", f"start{c}", f"end{c}", "axis1"], [f"band{c}"]),
            helper.make_node("AveragePool", [f"band{c}"], [f"mean{c}"], kernel_shape=[k, k], strides=[1, 1]),
        ]
        names.append(f"mean{c}")
    nodes += [
        helper.make_node("Concat", names, ["means"], axis=1),
        helper.make_node("Reshape", ["means", "shape"], ["scores"]),
        helper.make_node("Slice", ["scores", "start0", "end0", "axis1"], ["first"]),
        helper.make_node("Mul", ["first", "zero"], ["zeros"]),
        helper.make_node("Add", ["zeros", "boxes"], ["box_rows"]),
        helper.make_node("Concat", ["box_rows", "scores"], ["output0"], axis=1),
    ]
    inits = [helper.make_tensor("shape", TensorProto.INT64, [3], [0, len(CLASSES), -1]),
             helper.make_tensor("axis1", TensorProto.INT64, [1], [1]),
             helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
             onnx.numpy_helper.from_array(boxes, "boxes")]
    for c in range(len(CLASSES)):
        inits += [helper.make_tensor(f"start{c}", TensorProto.INT64, [1], [c]),
                  helper.make_tensor(f"end{c}", TensorProto.INT64, [1], [c + 1])]
    graph = helper.make_graph(
        nodes, "clamped_oracle",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["N", 4 + len(CLASSES), a])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = ModelMetadata(classes=CLASSES, input_size=size, gsd_m=GSD, score_threshold=0.9, nms_iou=0.3,
                         training_data="test oracle", created="2026-01-01")
    helper.set_model_props(model, meta.to_props())
    onnx.save(model, str(path))
    return path


def _write(path: Path, squares: list[tuple[int, int, int]], width: int, height: int) -> Path:
    import rasterio

    img = np.full((3, height, width), BACKGROUND, np.uint8)
    for x0, y0, cls in squares:
        img[cls, y0 : y0 + K, x0 : x0 + K] = BRIGHT
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=3, dtype="uint8",
                       crs="EPSG:32637", transform=TRANSFORM) as dst:
        dst.write(img)
    return path


def _found(run_dir: Path) -> list[tuple[float, float, int]]:
    """(x0, y0, class) of every detection, in raster pixels."""
    import shapely

    from debrismap.vector_io import read_vector

    data = read_vector(run_dir / "detections.gpkg")
    b = shapely.bounds(data.geometries)
    x0 = (b[:, 0] - TRANSFORM.c) / GSD
    y0 = (TRANSFORM.f - b[:, 3]) / GSD
    return sorted(zip(np.round(x0, 6).tolist(), np.round(y0, 6).tolist(), data.fields["class"].tolist()))


@pytest.fixture(scope="module")
def clamped(tmp_path_factory) -> Path:
    return build_clamped_oracle(tmp_path_factory.mktemp("model") / "clamped.onnx")


def test_large_objects_cut_by_two_tiles_are_merged_into_one_per_class(clamped, tmp_path):
    # One row of tiles; a square centred 2 px left .. 2 px right of each vertical core boundary,
    # one red and one green per boundary (with opposite offsets), far apart vertically.
    width, height = S + 5 * (S - OVERLAP), S
    grid = TileGrid(width, height, S, OVERLAP)
    boundaries = [grid.tile_at(0, c).core.col_off for c in range(1, grid.n_cols)]
    assert grid.n_rows == 1 and len(boundaries) == 5
    squares = []
    for b, d in zip(boundaries, (-2, -1, 0, 1, 2)):
        squares += [(b + d - K // 2, 4, 0), (b - d - K // 2, 40, 1)]
    raster = _write(tmp_path / "r.tif", squares, width, height)
    run_detect([raster], tmp_path / "run", DetectSettings(model=clamped, overlap=OVERLAP, progress=False))
    found = _found(tmp_path / "run")
    # Each square exactly once, of its class, within a pixel (a square no tile saw whole is
    # boxed where its best tile saw it: one pixel off along the seam's axis).
    assert len(found) == len(squares), found
    for (x0, y0, cls), (fx, fy, fcls) in zip(sorted(squares), found):
        assert (fcls, fy) == (cls, y0) and abs(fx - x0) <= 1


def test_overlapping_objects_of_different_classes_are_both_kept(clamped, tmp_path):
    # Red and green squares overlapping by IoU 0.67 (the yellow middle is bright in both channels),
    # one pair inside a core and one pair across a core boundary.
    width, height = S + (S - OVERLAP), S
    b = TileGrid(width, height, S, OVERLAP).tile_at(0, 1).core.col_off
    squares = [(6, 20, 0), (10, 20, 1), (b - 12, 4, 0), (b - 8, 4, 1)]
    raster = _write(tmp_path / "r.tif", squares, width, height)
    run_detect([raster], tmp_path / "run", DetectSettings(model=clamped, overlap=OVERLAP, progress=False))
    assert _found(tmp_path / "run") == sorted((float(x), float(y), c) for x, y, c in squares)
