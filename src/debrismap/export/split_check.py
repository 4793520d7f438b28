"""Move the box decoding out of an exported graph, refusing the result unless it decodes as the graph did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from debrismap.errors import ModelError
from debrismap.export.stamping import replace_props
from debrismap.model.cpu_runner import run_on_cpu
from debrismap.model.graph_surgery import split_box_decoding
from debrismap.model.metadata import ModelMetadata
from debrismap.model.split_head import SplitHead, split_candidates

SPLIT_TOLERANCE = {"box_px": 1e-3, "score": 1e-5}


def split_checked(decoded_path: Path, out_path: Path, meta: ModelMetadata, batch: np.ndarray):
    """Write `decoded_path` with its box decoding moved out of the graph; (path, metadata, report).

    Refused (ModelError) unless debrismap's decoding of the split file gives the same anchors,
    boxes and scores as the graph's own decoding on `batch`.
    """
    model = onnx.load(str(decoded_path))
    props = {p.key: p.value for p in model.metadata_props}
    split_model, head = split_box_decoding(model, meta.input_size)
    meta = meta.with_split_head(head)
    replace_props(split_model, {**props, **meta.to_props()})
    onnx.save(split_model, str(out_path))
    report = check_split(run_on_cpu(decoded_path, batch)[0], run_on_cpu(out_path, batch), head, meta)
    return out_path, meta, report


def check_split(decoded: np.ndarray, split_outputs: list[np.ndarray], head, meta: ModelMetadata) -> dict:
    """ModelError unless decoding `split_outputs` in numpy gives `decoded`'s anchors, boxes and scores."""
    floor = comparison_floor(decoded[:, 4:, :].max(axis=1), min(0.01, meta.score_threshold))
    report = split_agreement(decoded, split_outputs, head, floor)
    report.update(score_floor=floor, tolerance=SPLIT_TOLERANCE)
    if (
        not report["same_anchors"]
        or report["max_box_diff_px"] > SPLIT_TOLERANCE["box_px"]
        or report["max_score_diff"] > SPLIT_TOLERANCE["score"]
    ):
        raise ModelError(f"the graph's box decoding and debrismap's disagree ({report})")
    return report


def comparison_floor(best: np.ndarray, ceiling: float, k: int = 50) -> float:
    """A score floor for comparing two decodings: low enough that even an untrained model's best
    ~k anchors per tile take part, and in the widest gap between scores near there, so that no
    score sits at the floor where float rounding could put it on either side."""
    target = float(np.sort(best, axis=1)[:, -min(k, best.shape[1])].min())
    values = np.unique(best[(best >= target / 4) & (best <= min(ceiling, 4 * target))])
    if len(values) < 2:
        return float(np.clip(target * 0.999, 1e-6, ceiling))
    gaps = np.log(values[1:]) - np.log(values[:-1])
    i = int(np.argmax(gaps))
    return float(np.sqrt(values[i] * values[i + 1]))


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
    got_slot, got_anchor, _, got_score, got = split_candidates(split_outputs, head, floor)
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
