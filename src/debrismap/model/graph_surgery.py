"""ONNX graph surgery on a Detect head: move its box decoding out of the graph, or back in.

Export-time only (no torch, and nothing in detect needs it). `split_box_decoding` cuts an
ultralytics-layout graph at the head's convolutions: the same weights, the same quantisation,
the same convolution outputs bit for bit (an int8 graph keeps its own DequantizeLinear at each
cut). `join_box_decoding` appends the decoding back, for tools that want ultralytics' layout
(SAHI, ultralytics' own predictor). `box_decoding_nodes` names the nodes int8 quantisation must
leave in float. The file format is described in `debrismap.model.split_head`.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.utils import Extractor

from debrismap.errors import ModelError
from debrismap.model.cpu_runner import run_on_cpu
from debrismap.model.split_head import SplitHead


def head_prefix(graph) -> str:
    """'/model.<last>/': ultralytics names each module's nodes by its index; Detect is last."""
    indices = [int(n.name.split("/")[1].split(".")[1]) for n in graph.node if n.name.startswith("/model.")]
    if not indices:
        raise ModelError("is not an ultralytics-layout graph (no /model.N/ nodes): cannot split its head")
    return f"/model.{max(indices)}/"


def box_decoding_nodes(graph) -> list[str]:
    """The Detect head's nodes after its convolutions: DFL, anchors, sigmoid, concat.

    int8 quantisation leaves them in float: the output mixes pixel coordinates and
    probabilities in one tensor, which one int8 scale cannot hold. Found by name: the head's
    convolution branches are cv2.* (boxes) and cv3.* (classes).
    """
    head = head_prefix(graph)
    return [n.name for n in graph.node if n.name.startswith(head) and "/cv2." not in n.name and "/cv3." not in n.name]


def _level_tensors(graph) -> tuple[list[str], list[str]]:
    """Names of the tensors holding cv2.i and cv3.i's final convolution outputs, in level order.

    They are the data inputs of the head's Reshape nodes that trace back (through an int8
    graph's Q/DQ pair) to a `cv2.i` or `cv3.i` convolution.
    """
    head = head_prefix(graph)
    made_by = {out: node for node in graph.node for out in node.output}
    box, cls = {}, {}
    for node in graph.node:
        if node.op_type != "Reshape" or not node.name.startswith(head):
            continue
        source = made_by.get(node.input[0])
        while source is not None and source.op_type in ("QuantizeLinear", "DequantizeLinear"):
            source = made_by.get(source.input[0])
        if source is None or source.op_type not in ("Conv", "QLinearConv"):
            continue
        for branch, found in (("/cv2.", box), ("/cv3.", cls)):
            if source.name.startswith(head + branch[1:]):
                level = int(source.name[len(head) + len(branch) - 1 :].split("/")[0].split(".")[0])
                found[level] = node.input[0]
    if not box or sorted(box) != sorted(cls) or sorted(box) != list(range(len(box))):
        raise ModelError("has no ultralytics Detect head (cv2.i / cv3.i per level): cannot split it")
    return [box[i] for i in sorted(box)], [cls[i] for i in sorted(cls)]


def split_box_decoding(model, input_size: int):
    """(model whose outputs are box{i}/cls{i} per level, SplitHead); `model` is not modified.

    The grid size of each level (hence its stride) is read by running the cut graph once on a
    blank tile: shape inference cannot follow ultralytics' graphs through their Resize nodes.
    """
    box, cls = _level_tensors(model.graph)
    levels = len(box)
    names = SplitHead(tuple(range(1, levels + 1))).output_names()
    cut = _cut_at(model, [*box, *cls])
    graph = cut.graph
    rename = dict(zip([*box, *cls], names))
    for node in graph.node:  # the cut tensors take the output names
        node.output[:] = [rename.get(o, o) for o in node.output]
    del graph.output[:]
    graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names)
    shapes = [o.shape for o in run_on_cpu(cut, np.zeros((1, 3, input_size, input_size), np.float32))]
    reg_max = shapes[0][1] // 4
    head = SplitHead(tuple(input_size // shape[2] for shape in shapes[:levels]), reg_max)
    del graph.output[:]
    graph.output.extend(
        helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", *shape[1:]]) for n, shape in zip(names, shapes)
    )
    onnx.checker.check_model(cut)
    return cut, head


def _cut_at(model, outputs: list[str]):
    """A copy of `model` (metadata, opsets, producer kept) whose graph ends at the tensors `outputs`.

    onnx's Extractor keeps only the nodes and initializers those tensors depend on; it needs a
    value_info for each, which ultralytics' graphs lack past their Resize nodes: a bare float
    one is enough, the real shapes are set once the cut graph has run.
    """
    source = onnx.ModelProto()
    source.CopyFrom(model)
    known = {v.name for v in (*source.graph.value_info, *source.graph.input, *source.graph.output)}
    source.graph.value_info.extend(
        helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs if name not in known
    )
    extracted = Extractor(source).extract_model([i.name for i in model.graph.input], outputs).graph
    cut = onnx.ModelProto()
    cut.CopyFrom(model)  # every other field of the model and its graph stays as it was
    for kept in ("node", "initializer", "output"):
        del getattr(cut.graph, kept)[:]
        getattr(cut.graph, kept).extend(getattr(extracted, kept))
    del cut.graph.value_info[:]  # shapes inferred for the uncut graph, not needed by the cut one
    return cut


def join_box_decoding(model, head: SplitHead, input_size: int):
    """A split model with ultralytics' decoding appended: one output `output0` (N, 4 + nc, A).

    The decoding is written as plain ONNX ops (softmax over the bins on the last axis, a MatMul
    with 0..reg_max-1, constant anchors and strides, sigmoid) so any runtime or tool that reads
    ultralytics' layout can run the file.
    """
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    levels = len(head.strides)
    names = head.output_names()
    if [o.name for o in graph.output] != names:
        raise ModelError("is not a split-head model (outputs box0.., cls0..): nothing to join")
    nc = graph.output[levels].type.tensor_type.shape.dim[1].dim_value
    sizes = [input_size // s for s in head.strides]
    anchors, strides = [], []
    for side, stride in zip(sizes, head.strides):
        ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
        anchors.append(np.stack([xs.ravel(), ys.ravel()]))
        strides.append(np.full(side * side, stride, np.float32))
    anchor = np.concatenate(anchors, axis=1)[None]  # (1, 2, A)
    stride = np.concatenate(strides)[None, None]  # (1, 1, A)
    consts = {
        "dec_anchor": anchor, "dec_stride": stride, "dec_bins": np.arange(head.reg_max, dtype=np.float32)[:, None],
        "dec_box_shape": np.array([0, 4 * head.reg_max, -1], np.int64), "dec_cls_shape": np.array([0, nc, -1], np.int64),
        "dec_dfl_shape": np.array([0, 4, head.reg_max, -1], np.int64), "dec_ltrb_shape": np.array([0, 4, -1], np.int64),
        "dec_split": np.array([2, 2], np.int64),
    }
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in consts.items())
    node = helper.make_node
    nodes = []
    for i in range(levels):
        nodes += [node("Reshape", [f"box{i}", "dec_box_shape"], [f"dec_box{i}"]),
                  node("Reshape", [f"cls{i}", "dec_cls_shape"], [f"dec_cls{i}"])]
    nodes += [
        node("Concat", [f"dec_box{i}" for i in range(levels)], ["dec_box"], axis=2),  # (N, 4*R, A)
        node("Concat", [f"dec_cls{i}" for i in range(levels)], ["dec_cls"], axis=2),  # (N, nc, A)
        node("Reshape", ["dec_box", "dec_dfl_shape"], ["dec_dfl"]),  # (N, 4, R, A)
        node("Transpose", ["dec_dfl"], ["dec_dfl_t"], perm=[0, 1, 3, 2]),  # (N, 4, A, R)
        node("Softmax", ["dec_dfl_t"], ["dec_prob"], axis=-1),
        node("MatMul", ["dec_prob", "dec_bins"], ["dec_dist"]),  # (N, 4, A, 1)
        node("Reshape", ["dec_dist", "dec_ltrb_shape"], ["dec_ltrb"]),  # (N, 4, A)
        node("Split", ["dec_ltrb", "dec_split"], ["dec_lt", "dec_rb"], axis=1),
        node("Sub", ["dec_anchor", "dec_lt"], ["dec_x0y0"]),
        node("Add", ["dec_anchor", "dec_rb"], ["dec_x1y1"]),
        node("Add", ["dec_x0y0", "dec_x1y1"], ["dec_sum"]),
        node("Div", ["dec_sum", "dec_two"], ["dec_cxy"]),
        node("Sub", ["dec_x1y1", "dec_x0y0"], ["dec_wh"]),
        node("Concat", ["dec_cxy", "dec_wh"], ["dec_xywh"], axis=1),
        node("Mul", ["dec_xywh", "dec_stride"], ["dec_xywh_px"]),
        node("Sigmoid", ["dec_cls"], ["dec_prob_cls"]),
        node("Concat", ["dec_xywh_px", "dec_prob_cls"], ["output0"], axis=1),
    ]
    graph.initializer.append(numpy_helper.from_array(np.array(2.0, np.float32), "dec_two"))
    prefix = head_prefix(graph) + "decode/"  # under the head's name, so the file can be split again
    for k, n in enumerate(nodes):
        n.name = f"{prefix}{n.op_type}_{k}"
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 4 + nc, anchor.shape[2]]))
    onnx.checker.check_model(model)
    return model


