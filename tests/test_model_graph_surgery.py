"""Moving the box decoding out of an ONNX graph and back, on a small hand-built graph (no torch).

The graph has ultralytics' node names (`/model.<i>/...`, Detect last with `cv2.i` box and
`cv3.i` class convolutions per level), so the same code that cuts exported detectors cuts it.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from debrismap.errors import ModelError
from debrismap.export.split_check import comparison_floor, split_agreement
from debrismap.model.cpu_runner import run_on_cpu
from debrismap.model.graph_surgery import box_decoding_nodes, join_box_decoding, split_box_decoding
from debrismap.model.split_head import SplitHead, decode_split_head

SIZE, REG_MAX = 32, 16


def _conv(name, x, out, channels_in, channels_out, stride, rng, inits):
    w = numpy_helper.from_array(rng.normal(0, 0.5, (channels_out, channels_in, 3, 3)).astype(np.float32), name + ".w")
    b = numpy_helper.from_array(rng.normal(0, 0.5, channels_out).astype(np.float32), name + ".b")
    inits += [w, b]
    return helper.make_node("Conv", [x, w.name, b.name], [out], name=name, kernel_shape=[3, 3],
                            pads=[1, 1, 1, 1], strides=[stride, stride])


def _split_detector() -> onnx.ModelProto:
    """A 2-level detector whose graph stops at the head's convolutions (strides 4 and 8)."""
    rng = np.random.default_rng(0)
    inits = []
    nodes = [_conv("/model.0/conv/Conv", "images", "p4", 3, 8, 4, rng, inits),
             _conv("/model.1/conv/Conv", "p4", "p8", 8, 8, 2, rng, inits)]
    for level, feature in enumerate(("p4", "p8")):
        nodes.append(_conv(f"/model.2/cv2.{level}/cv2.{level}.2/Conv", feature, f"box{level}", 8, 4 * REG_MAX, 1, rng, inits))
        nodes.append(_conv(f"/model.2/cv3.{level}/cv3.{level}.2/Conv", feature, f"cls{level}", 8, 1, 1, rng, inits))
    outputs = [helper.make_tensor_value_info(f"{kind}{i}", TensorProto.FLOAT, ["batch", c, SIZE // s, SIZE // s])
               for kind, c in (("box", 4 * REG_MAX), ("cls", 1)) for i, s in enumerate((4, 8))]
    graph = helper.make_graph(nodes, "detector", [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
                              outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="debrismap")
    model.ir_version = 8
    entry = model.metadata_props.add()
    entry.key, entry.value = "debrismap.classes", '["debris"]'
    return model


def test_split_and_join_are_inverse_and_decode_alike():
    head = SplitHead(strides=(4, 8), reg_max=REG_MAX)
    split = _split_detector()
    joined = join_box_decoding(split, head, SIZE)
    batch = np.random.default_rng(1).random((2, 3, SIZE, SIZE), dtype=np.float32)
    (decoded,) = run_on_cpu(joined, batch)
    assert decoded.shape == (2, 5, 8 * 8 + 4 * 4)
    assert sorted(box_decoding_nodes(joined.graph)) == sorted(n.name for n in joined.graph.node if "/decode/" in n.name)

    again, found = split_box_decoding(joined, SIZE)
    assert found == head
    assert [o.name for o in again.graph.output] == head.output_names()
    assert {p.key: p.value for p in again.metadata_props} == {"debrismap.classes": '["debris"]'}
    assert again.producer_name == "debrismap" and not any("/decode/" in n.name for n in again.graph.node)
    for x, y in zip(run_on_cpu(split, batch), run_on_cpu(again, batch)):
        np.testing.assert_array_equal(x, y)  # the same convolutions, bit for bit

    # numpy's decoding of the split outputs gives the graph's own boxes and scores
    floor = comparison_floor(decoded[:, 4:, :].max(axis=1), 0.5, k=10)
    report = split_agreement(decoded, run_on_cpu(again, batch), head, floor)
    assert report["same_anchors"] and report["anchors"] >= 10
    assert report["max_box_diff_px"] <= 1e-3 and report["max_score_diff"] <= 1e-5
    slot, _, score, boxes = decode_split_head(run_on_cpu(again, batch), head, floor)
    assert len(slot) == report["anchors"] and (score >= floor).all() and (boxes[:, 2:] >= boxes[:, :2]).all()


def test_a_graph_without_a_detect_head_is_refused():
    graph = helper.make_graph([helper.make_node("Relu", ["images"], ["y"], name="relu")], "g",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ModelError, match="not an ultralytics-layout graph"):
        split_box_decoding(model, 8)
    with pytest.raises(ModelError, match="not a split-head model"):
        join_box_decoding(model, SplitHead(strides=(4,)), 8)
