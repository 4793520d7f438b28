"""Box decoding outside the graph (format_version 2): the numpy decoder, the metadata, the checks."""

from __future__ import annotations

import numpy as np
import pytest

from debrismap.errors import ModelError
from debrismap.model.metadata import PREFIX, ModelMetadata
from debrismap.model.split_head import SplitHead, decode_split_head


def _peaked(bins: int, value: int) -> np.ndarray:
    """DFL logits whose softmax puts (almost) all weight on bin `value`."""
    logits = np.full(bins, -30.0, np.float32)
    logits[value] = 30.0
    return logits


def test_decodes_the_one_anchor_above_the_threshold_like_ultralytics():
    head = SplitHead(strides=(4, 8), reg_max=4)
    box0 = np.zeros((2, 16, 3, 3), np.float32)
    cls0 = np.full((2, 1, 3, 3), -10.0, np.float32)
    box1 = np.zeros((2, 16, 2, 2), np.float32)
    cls1 = np.full((2, 1, 2, 2), -10.0, np.float32)
    # tile 1, level 0, row 2, col 1: anchor centre (1.5, 2.5) cells; distances l=1, t=2, r=3, b=0 cells
    for side, d in enumerate((1, 2, 3, 0)):
        box0[1, side * 4 : side * 4 + 4, 2, 1] = _peaked(4, d)
    cls0[1, 0, 2, 1] = 2.0  # sigmoid 0.881
    slot, cls, score, boxes = decode_split_head([box0, box1, cls0, cls1], head, 0.5)
    assert slot.tolist() == [1] and cls.tolist() == [0]
    assert score[0] == pytest.approx(1 / (1 + np.exp(-2.0)), rel=1e-6)
    # corners (anchor - lt, anchor + rb) * stride = ((1.5-1)*4, (2.5-2)*4, (1.5+3)*4, (2.5+0)*4)
    np.testing.assert_allclose(boxes[0], [2.0, 2.0, 18.0, 10.0], atol=1e-6)


def test_expected_distance_is_the_softmax_mean():
    head = SplitHead(strides=(8,), reg_max=4)
    box = np.zeros((1, 16, 1, 1), np.float32)  # uniform over bins 0..3: every side 1.5 cells
    cls = np.full((1, 1, 1, 1), 5.0, np.float32)
    _, _, _, boxes = decode_split_head([box, cls], head, 0.25)
    np.testing.assert_allclose(boxes[0], [(0.5 - 1.5) * 8, (0.5 - 1.5) * 8, 2.0 * 8, 2.0 * 8])


def test_one_box_per_anchor_with_its_best_class():
    head = SplitHead(strides=(4,), reg_max=2)
    box = np.zeros((1, 8, 1, 2), np.float32)
    cls = np.array([[[[3.0, -9.0]], [[4.0, -9.0]], [[-1.0, -9.0]]]], np.float32)  # (1, 3 classes, 1, 2)
    slot, c, score, _ = decode_split_head([box, cls], head, 0.3)
    assert slot.tolist() == [0] and c.tolist() == [1]  # class 1 has the higher logit
    assert score[0] == pytest.approx(1 / (1 + np.exp(-4.0)), rel=1e-6)


def test_nothing_above_the_threshold_gives_empty_arrays():
    head = SplitHead(strides=(4,), reg_max=2)
    slot, c, score, boxes = decode_split_head(
        [np.zeros((3, 8, 2, 2), np.float32), np.full((3, 1, 2, 2), -5.0, np.float32)], head, 0.5
    )
    assert len(slot) == len(c) == len(score) == 0 and boxes.shape == (0, 4)


def test_wrong_number_of_outputs_is_refused():
    with pytest.raises(ValueError, match="4 outputs"):
        decode_split_head([np.zeros((1, 8, 2, 2))], SplitHead(strides=(4, 8), reg_max=2), 0.5)


@pytest.mark.parametrize("text", ['{"type": "anchor"}', '{"type": "dfl"}', "not json", '{"type": "dfl", "strides": [0]}'])
def test_malformed_head_metadata_is_one_clear_error(text):
    with pytest.raises(ModelError, match="head"):
        SplitHead.from_json(text, "m.onnx")


def test_metadata_format_versions():
    meta = ModelMetadata(classes=("debris",), input_size=256, gsd_m=0.5)
    split = meta.with_split_head(SplitHead(strides=(4, 8, 16, 32)))
    props = split.to_props()
    assert props[PREFIX + "format_version"] == "2"
    assert ModelMetadata.from_props(props).head == SplitHead(strides=(4, 8, 16, 32), reg_max=16)
    assert PREFIX + "head" not in meta.to_props() and ModelMetadata.from_props(meta.to_props()).head is None
    without_head = {k: v for k, v in props.items() if k != PREFIX + "head"}
    with pytest.raises(ModelError, match="without the 'head'"):
        ModelMetadata.from_props(without_head, "m.onnx")
    with pytest.raises(ModelError, match="newer debrismap"):
        ModelMetadata.from_props({**props, PREFIX + "format_version": "3"}, "m.onnx")


def test_session_refuses_outputs_that_do_not_match_the_head_metadata(tmp_path):
    """A format_version 2 file whose graph outputs are not box{i}/cls{i} gets one clear error."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from debrismap.detect.session import ModelSession

    graph = helper.make_graph(
        [helper.make_node("AveragePool", ["images"], ["box0"], kernel_shape=[4, 4], strides=[4, 4])],
        "g",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("box0", TensorProto.FLOAT, ["N", 3, 8, 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what this onnxruntime reads
    meta = ModelMetadata(classes=("debris",), input_size=32, gsd_m=0.5).with_split_head(SplitHead(strides=(4,)))
    for key, value in meta.to_props().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    path = tmp_path / "wrong.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="outputs are box0 but its 'head' metadata promises box0, cls0"):
        ModelSession(path)
