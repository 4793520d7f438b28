"""Where a detector's box decoding runs: inside the ONNX graph, or in debrismap after it.

A YOLOv8-style Detect head ends, per pyramid level i, in two convolutions: `cv2.i` gives each
anchor a distribution over 16 distance bins for each box side (DFL), `cv3.i` its class
logits. ultralytics' export then decodes every anchor in the graph (softmax over the bins,
expected distances, anchor grid, strides, sigmoid) into (N, 4 + nc, A). On a CPU that
decoding was a seventh of the int8 model's time, spent on thousands of anchors per tile of
which a handful clear the score threshold.

A *split* file (metadata format_version 2, key `head`) stops at the convolutions: its outputs
are `box{i}` (N, 4 * reg_max, H_i, W_i) and `cls{i}` (N, nc, H_i, W_i) for every level, and
`decode_split_head` decodes only the anchors whose class logit clears the threshold, with the
same arithmetic as ultralytics (`make_anchors` with 0.5 offsets, `dist2bbox`, strides).

`split_box_decoding` cuts an ultralytics-layout ONNX graph there: the same weights, the same
quantisation, the same convolution outputs bit for bit (an int8 graph keeps its own
DequantizeLinear at each cut). `join_box_decoding` appends the decoding back, for tools that
want ultralytics' layout (SAHI, ultralytics' own predictor). Neither needs torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from debrismap.errors import ModelError


@dataclass(frozen=True)
class SplitHead:
    """How to decode a split file's outputs (stored as JSON under the `head` metadata key)."""

    strides: tuple[int, ...]  # one per level, in output order (box0/cls0 first)
    reg_max: int = 16  # distance bins per box side

    def to_json(self) -> str:
        return json.dumps({"type": "dfl", "strides": list(self.strides), "reg_max": self.reg_max})

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> SplitHead:
        try:
            value = json.loads(text)
            if value.get("type") != "dfl":
                raise ValueError(f"head type {value.get('type')!r} is not 'dfl'")
            head = cls(strides=tuple(int(s) for s in value["strides"]), reg_max=int(value.get("reg_max", 16)))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ModelError(f"has a malformed 'head' metadata entry ({exc})", path=source) from None
        if not head.strides or min(head.strides) <= 0 or head.reg_max < 1:
            raise ModelError("has an invalid 'head' metadata entry (strides, reg_max)", path=source)
        return head

    def output_names(self) -> list[str]:
        return [f"box{i}" for i in range(len(self.strides))] + [f"cls{i}" for i in range(len(self.strides))]


# -- decoding in numpy -----------------------------------------------------------------------
def decode_split_head(
    outputs: list[np.ndarray], head: SplitHead, score_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(slot, class, score, boxes xyxy in input pixels) of every anchor scoring >= the threshold.

    `outputs` in the file's order: box0..boxL-1, cls0..clsL-1. The threshold is applied to the
    logits (sigmoid is monotonic), so only the candidates pay for sigmoid and DFL.
    """
    slot, _, cls, score, boxes = _split_candidates(outputs, head, score_threshold)
    return slot, cls, score, boxes


def _split_candidates(outputs, head: SplitHead, score_threshold: float):
    """decode_split_head plus each candidate's anchor index in ultralytics' (level, row, col) order."""
    levels = len(head.strides)
    if len(outputs) != 2 * levels:
        raise ValueError(f"a split head with {levels} levels has {2 * levels} outputs, got {len(outputs)}")
    threshold = float(np.clip(score_threshold, 1e-7, 1 - 1e-7))
    logit_floor = np.log(threshold / (1 - threshold))
    bins = np.arange(head.reg_max, dtype=np.float64)
    slots, anchors, classes, scores, boxes = [], [], [], [], []
    offset = 0
    for level, stride in enumerate(head.strides):
        box, cls = outputs[level], outputs[levels + level]
        h, w = cls.shape[2:]
        # one class per anchor, its best (as ultralytics' NMS without multi_label)
        best = cls[:, 0] if cls.shape[1] == 1 else cls.max(axis=1)  # (N, H, W)
        slot, y, x = np.nonzero(best >= logit_floor)
        if len(slot):
            logit = best[slot, y, x].astype(np.float64)
            c = np.zeros(len(slot), np.int64) if cls.shape[1] == 1 else cls[slot, :, y, x].argmax(axis=1)
            dist = box[slot, :, y, x].astype(np.float64).reshape(-1, 4, head.reg_max)  # (k, side, bin)
            dist = np.exp(dist - dist.max(axis=2, keepdims=True))
            ltrb = (dist / dist.sum(axis=2, keepdims=True)) @ bins  # expected distance per side, in cells
            ax, ay = x + 0.5, y + 0.5  # ultralytics' make_anchors: cell centres
            corners = np.stack([ax - ltrb[:, 0], ay - ltrb[:, 1], ax + ltrb[:, 2], ay + ltrb[:, 3]], axis=1)
            slots.append(slot)
            anchors.append(offset + y * w + x)
            classes.append(c)
            scores.append(1.0 / (1.0 + np.exp(-logit)))
            boxes.append(corners * stride)
        offset += h * w
    if not slots:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros((0, 4))
    # a box is kept only if its score is >= the threshold after the sigmoid too (float edge cases)
    score = np.concatenate(scores)
    keep = score >= score_threshold
    return (np.concatenate(slots)[keep], np.concatenate(anchors)[keep], np.concatenate(classes)[keep].astype(np.int32),
            score[keep].astype(np.float32), np.concatenate(boxes)[keep])


# -- graph surgery ---------------------------------------------------------------------------
def _head_prefix(graph) -> str:
    """'/model.<last>/': ultralytics names each module's nodes by its index; Detect is last."""
    indices = [int(n.name.split("/")[1].split(".")[1]) for n in graph.node if n.name.startswith("/model.")]
    if not indices:
        raise ModelError("is not an ultralytics-layout graph (no /model.N/ nodes): cannot split its head")
    return f"/model.{max(indices)}/"


def _level_tensors(graph) -> tuple[list[str], list[str]]:
    """Names of the tensors holding cv2.i and cv3.i's final convolution outputs, in level order.

    They are the data inputs of the head's Reshape nodes that trace back (through an int8
    graph's Q/DQ pair) to a `cv2.i` or `cv3.i` convolution.
    """
    head = _head_prefix(graph)
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
    import onnx
    from onnx import helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    box, cls = _level_tensors(graph)
    levels = len(box)
    names = SplitHead(tuple(range(1, levels + 1))).output_names()
    rename = dict(zip([*box, *cls], names))
    for node in graph.node:  # the cut tensors take the output names; their old readers go below
        node.output[:] = [rename.get(o, o) for o in node.output]
        node.input[:] = [rename.get(i, i) for i in node.input]
    del graph.output[:]
    graph.output.extend(helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in names)
    _drop_unused(graph)
    del graph.value_info[:]
    shapes = [o.shape for o in run_on_cpu(model, np.zeros((1, 3, input_size, input_size), np.float32))]
    reg_max = shapes[0][1] // 4
    head = SplitHead(tuple(input_size // shape[2] for shape in shapes[:levels]), reg_max)
    del graph.output[:]
    graph.output.extend(
        helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, ["batch", *shape[1:]]) for n, shape in zip(names, shapes)
    )
    onnx.checker.check_model(model)
    return model, head


def run_on_cpu(model, batch: np.ndarray) -> list[np.ndarray]:
    """Every output of an ONNX model (a path or a ModelProto) on `batch`, once, on the CPU."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    source = str(model) if isinstance(model, (str, Path)) else model.SerializeToString()
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})


def _drop_unused(graph) -> None:
    """Remove nodes and initializers that no graph output depends on (the decoding)."""
    needed = {o.name for o in graph.output}
    keep = []
    for node in reversed(graph.node):
        if any(out in needed for out in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    keep.reverse()
    del graph.node[:]
    graph.node.extend(keep)
    unused = [init for init in graph.initializer if init.name not in needed]
    for init in unused:
        graph.initializer.remove(init)


def join_box_decoding(model, head: SplitHead, input_size: int):
    """A split model with ultralytics' decoding appended: one output `output0` (N, 4 + nc, A).

    The decoding is written as plain ONNX ops (softmax over the bins on the last axis, a MatMul
    with 0..reg_max-1, constant anchors and strides, sigmoid) so any runtime or tool that reads
    ultralytics' layout can run the file.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

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
    prefix = _head_prefix(graph) + "decode/"  # under the head's name, so the file can be split again
    for k, n in enumerate(nodes):
        n.name = f"{prefix}{n.op_type}_{k}"
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 4 + nc, anchor.shape[2]]))
    onnx.checker.check_model(model)
    return model


def split_agreement(decoded: np.ndarray, split_outputs: list[np.ndarray], head: SplitHead, floor: float) -> dict:
    """How closely debrismap's decoding of a split head reproduces the graph's own decoding.

    `decoded` is the (N, 4 + nc, A) output of the unsplit file and `split_outputs` the split
    file's outputs on the same batch. Every anchor whose best probability is >= `floor` must
    appear in both, with the same box and score.
    """
    probs = decoded[:, 4:, :]
    best = probs.max(axis=1)
    slot, anchor = np.nonzero(best >= floor)
    xywh = decoded[slot, :4, anchor].astype(np.float64)
    want = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], axis=1)
    want_score = best[slot, anchor]
    got_slot, got_anchor, _, got_score, got = _split_candidates(split_outputs, head, floor)
    result = {"anchors": len(slot), "split_anchors": len(got_slot), "same_anchors": False,
              "max_box_diff_px": 0.0, "max_score_diff": 0.0}
    a, b = np.lexsort((anchor, slot)), np.lexsort((got_anchor, got_slot))
    if len(slot) != len(got_slot) or not (np.array_equal(slot[a], got_slot[b]) and np.array_equal(anchor[a], got_anchor[b])):
        return result
    result["same_anchors"] = True
    if len(a):
        result["max_box_diff_px"] = float(np.abs(want[a] - got[b]).max())
        result["max_score_diff"] = float(np.abs(want_score[a] - got_score[b]).max())
    return result
