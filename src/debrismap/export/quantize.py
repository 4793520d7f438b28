"""int8: onnxruntime static quantisation of an fp32 export, and how much it loses against fp32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from debrismap.export.parity import match_detections, nms
from debrismap.model.cpu_runner import run_on_cpu
from debrismap.model.graph_surgery import box_decoding_nodes


def quantize_int8(fp32_path: Path, out_path: Path, calib: np.ndarray) -> None:
    """onnxruntime static QDQ quantisation, per-channel weights, calibrated on `calib` images.

    Every layer of the network is quantised (convolutions, SiLU, concat, resize, pooling), not
    only the convolutions: with float activations between them each conv pays a quantise and a
    dequantise, and on an AVX2 CPU the int8 graph was then no faster than fp32 (18.5 vs 17.8 ms a
    tile); all-int8 runs at 10.9. The weights use 7 bits (reduce_range) because AVX2's u8 x s8
    multiply-add (VPMADDUBSW) saturates at full range, which turned background into detections.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self, batch: np.ndarray):
            self.items = iter([{"images": batch[i : i + 1]} for i in range(len(batch))])

        def get_next(self):
            return next(self.items, None)

    prepared = out_path.with_name(out_path.stem + ".pre.onnx")
    quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(out_path),
        Reader(calib),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        reduce_range=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
        nodes_to_exclude=box_decoding_nodes(onnx.load(str(prepared)).graph),
    )
    prepared.unlink()


def int8_agreement(fp32_path: Path, int8_path: Path, batch: np.ndarray, hp) -> dict:
    """How much int8 loses: fp32 detections at the operating threshold are the reference."""
    # mAP as training reports it (ultralytics' ap_per_class); the training side imports torch
    import torch

    from debrismap.train.metrics import DetectionStats, summarize

    ref = nms(run_on_cpu(fp32_path, batch)[0], hp.score_threshold, hp.nms_iou)
    got_raw = run_on_cpu(int8_path, batch)[0]
    got_all = nms(got_raw, 0.001, hp.nms_iou)
    stats = DetectionStats()
    for r, g in zip(ref, got_all):
        stats.add(torch.from_numpy(g), torch.from_numpy(r[:, :4]), torch.from_numpy(r[:, 5]))
    s = summarize(*stats.arrays(), hp.score_threshold)
    got = [g[g[:, 4] >= hp.score_threshold] for g in got_all]
    m = match_detections(ref, got, iou_min=0.5)
    return {
        "images": int(batch.shape[0]),
        "reference": "fp32 ONNX detections at the operating score threshold",
        "fp32_boxes": m["ref_boxes"],
        "int8_boxes": m["test_boxes"],
        "matched_recall": m["matched"] / m["ref_boxes"] if m["ref_boxes"] else 1.0,
        "matched_precision": m["matched"] / m["test_boxes"] if m["test_boxes"] else 1.0,
        "map50_vs_fp32": s["mAP50"] if m["ref_boxes"] else 1.0,
        "max_score_diff_matched": m["max_score_diff"],
    }
