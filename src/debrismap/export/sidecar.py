"""What an export did (ExportReport: its one-line summary) and the OUT.export.json written beside the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from debrismap.atomic import write_json
from debrismap.model.metadata import PREFIX


@dataclass
class ExportReport:
    path: str
    precision: str
    opset: int
    input_size: int
    metadata: dict
    parity: dict = field(default_factory=dict)
    quantization: dict | None = None
    validation: dict | None = None
    split: dict | None = None  # box decoding moved out of the graph: agreement with the graph's own

    def summary(self) -> str:
        p = self.parity
        text = f"wrote {self.path} ({self.precision}, opset {self.opset}, input {self.input_size} px)"
        if p:
            text += (
                f"; parity on {p.get('images')} {p.get('source')} images: max rel diff "
                f"{p.get('max_rel_diff', float('nan')):.2e}; {p.get('kept_boxes')} NMS boxes: min IoU "
                f"{p.get('min_iou', 1.0):.4f}, max |dscore| {p.get('max_score_diff', 0.0):.2e}; at the "
                f"operating threshold {p.get('matched')}/{p.get('torch_boxes')} torch boxes matched"
            )
        if self.quantization:
            q = self.quantization
            text += (
                f"; int8 vs fp32 on {q['images']} calibration images: recall {q['matched_recall']:.3f}, "
                f"precision {q['matched_precision']:.3f}, mAP50 {q['map50_vs_fp32']:.3f}"
            )
        if self.split:
            text += (
                f"; box decoding {'in the graph' if self.metadata.get(PREFIX + 'head') is None else 'in debrismap'}: "
                f"the same {self.split['anchors']} anchors decoded in and out of the graph, max box diff "
                f"{self.split['max_box_diff_px']:.1e} px"
            )
        if self.validation:
            v = self.validation
            text += (
                f"; on {v['images']} val chips ({v['true_boxes']} piles) at score {v['score_threshold']}: "
                f"precision {v['precision']:.3f}, recall {v['recall']:.3f}, F1 {v['f1']:.3f}"
            )
        return text


def write_sidecar(out: Path, report: dict) -> None:
    """OUT.export.json next to the model OUT.onnx, written under a temp name and renamed."""
    write_json(out.with_suffix(".export.json"), report, default=str, ensure_ascii=True)
