"""Checkpoint -> ONNX detector with debrismap metadata, verified against torch before it is kept.

The ONNX contract (docs/contracts.md): input `images` float32 (N, 3, S, S) RGB scaled to [0, 1],
no NMS in the graph, and every `debrismap.*` metadata key. The graph is exported and checked in
ultralytics' layout, output `output0` float32 (N, 4 + nc, A) = cx, cy, w, h in input pixels +
class probabilities; then, by default, its box decoding is moved out of the graph
(format_version 2: per-level head outputs, decoded by detect; see debrismap.model_head). The
file is written under a temp name and renamed only after the ONNX model reproduces the torch
(EMA, fused) model's boxes, and the split file the graph's own decoding.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from debrismap.errors import ConfigError, DatasetError, ModelError, OutputError
from debrismap.model_meta import PREFIX, ModelMetadata

os.environ.setdefault("YOLO_OFFLINE", "1")  # before ultralytics is imported (lazily, below)

DEFAULT_OPSET = 17
N_PARITY_IMAGES = 4


@dataclass(frozen=True)
class Tolerance:
    """How close the ONNX model must be to the torch model."""

    raw_rel: float  # raw outputs: box rows max|diff| / max|box|, probability rows max|diff|
    box_iou: float  # every matched box after NMS at least this IoU
    score_abs: float  # and its score within this


FP32_TOLERANCE = Tolerance(raw_rel=1e-3, box_iou=0.99, score_abs=1e-3)
FP16_TOLERANCE = Tolerance(raw_rel=2e-2, box_iou=0.9, score_abs=2e-2)


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


# -- torch side ------------------------------------------------------------------------------
def load_torch_model(checkpoint_path: str | Path):
    """(fused eval DetectionModel with EMA weights in export mode, hparams) from a checkpoint."""
    from debrismap.train.checkpoint import ema_state_dict, load_checkpoint
    from debrismap.train.model import build_detection_model, set_export_mode
    from debrismap.train.task import DetectionHParams

    checkpoint = load_checkpoint(checkpoint_path)
    hp = DetectionHParams.from_dict(checkpoint["debrismap"]["hparams"])
    model = build_detection_model(
        hp.arch, hp.scale, len(hp.classes), hp.box, hp.cls, hp.dfl, hp.width, hp.depth, hp.act
    )
    try:
        model.load_state_dict(ema_state_dict(checkpoint), strict=True)
    except RuntimeError as exc:
        raise ModelError(
            f"weights do not fit a {hp.arch}{hp.scale} network ({str(exc).splitlines()[0]})",
            path=checkpoint_path,
        ) from None
    model = model.float().eval()
    model.fuse(verbose=False)  # fold BatchNorm into the convolutions: fewer ops at inference
    set_export_mode(model)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, hp


def metadata_for(hp, imgsz: int) -> ModelMetadata:
    return ModelMetadata(
        classes=tuple(hp.classes),
        input_size=int(imgsz),
        gsd_m=float(hp.gsd_m),
        score_threshold=float(hp.score_threshold),
        nms_iou=float(hp.nms_iou),
        training_data=hp.training_data or "unknown",
        created=datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    )


class _Fp16Wrapper:
    """Builds a module that keeps the contract's float32 I/O around an fp16 network."""

    @staticmethod
    def wrap(model):
        import copy

        import torch

        class Fp16IO(torch.nn.Module):
            def __init__(self, inner):
                super().__init__()
                self.inner = copy.deepcopy(inner).half()  # the fp32 model stays the reference

            def forward(self, images):
                return self.inner(images.half()).float()

        return Fp16IO(model)


def _torch_to_onnx(model, imgsz: int, opset: int, path: Path, half: bool) -> None:
    import torch

    module = _Fp16Wrapper.wrap(model) if half else model
    dummy = torch.zeros(1, 3, imgsz, imgsz)
    with torch.no_grad():
        torch.onnx.export(
            module,
            (dummy,),
            str(path),
            input_names=["images"],
            output_names=["output0"],
            dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,  # the TorchScript exporter: mature for conv nets, plain dynamic_axes
        )


def _finish_onnx(path: Path, meta: ModelMetadata, extra_props: dict | None = None) -> None:
    """Static output dims, onnx.checker, metadata_props; in place."""
    import onnx

    model = onnx.load(str(path))
    n_out = _ort_run(path, np.zeros((1, 3, meta.input_size, meta.input_size), np.float32)).shape
    dims = model.graph.output[0].type.tensor_type.shape.dim
    dims[0].dim_param = "batch"
    for dim, size in zip(
        list(dims)[1:], n_out[1:]
    ):  # (4 + nc, anchors) are fixed for a fixed input
        dim.dim_value = int(size)
    onnx.checker.check_model(model, full_check=True)
    _replace_props(model, {**meta.to_props(), **(extra_props or {})})
    model.producer_name = "debrismap"
    onnx.save(model, str(path))


def _f1_threshold(path: Path, hp) -> float:
    from debrismap.model_validation import best_f1_threshold

    val = Path(hp.dataset) / "images" / "val" if getattr(hp, "dataset", None) else None
    if val is None or not val.is_dir():
        raise DatasetError("--score-threshold auto needs the training dataset's val split on disk", path=val)
    threshold, _ = best_f1_threshold(path, hp.dataset)
    return threshold


def _validate(path: Path, hp, half: bool) -> dict | None:
    """Precision/recall of the ONNX file itself on the dataset's val split, stored in the model.

    Users and the heatmap's precision-corrected count then know how good exactly this file is.
    Skipped (None) when the val chips are gone or the graph is fp16 (CPU onnxruntime may not run it).
    """
    from debrismap.model_validation import validate_onnx

    val = Path(hp.dataset) / "images" / "val" if getattr(hp, "dataset", None) else None
    if half or val is None or not val.is_dir():
        return None
    result = validate_onnx(path, hp.dataset)
    _set_props(path, {PREFIX + "validation": json.dumps(result)})
    return result


def _set_props(path: Path, props: dict[str, str]) -> None:
    """Add or replace metadata_props of a finished ONNX file, in place; the graph is untouched."""
    import onnx

    model = onnx.load(str(path))
    _replace_props(model, {**{p.key: p.value for p in model.metadata_props}, **props})
    onnx.save(model, str(path))


def _replace_props(model, props: dict[str, str]) -> None:
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


# -- sample images ---------------------------------------------------------------------------
def list_images_in(folder: Path) -> list[Path]:
    suffixes = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in suffixes)


def load_chip_batch(paths: list[Path], imgsz: int) -> np.ndarray:
    """(N, 3, S, S) float32 in [0, 1]: chips cropped/padded top-left to S, never resized (GSD)."""
    from debrismap.train.dataset import read_rgb

    batch = np.zeros((len(paths), 3, imgsz, imgsz), np.float32)
    for i, path in enumerate(paths):
        image = read_rgb(path)[:imgsz, :imgsz]
        batch[i, :, : image.shape[0], : image.shape[1]] = image.transpose(2, 0, 1) / 255.0
    return batch


def parity_images(hp, imgsz: int, n: int = N_PARITY_IMAGES) -> tuple[np.ndarray, str]:
    """Val chips of the training dataset when still on disk, else synthetic rectangles."""
    val = Path(hp.dataset) / "images" / "val" if hp.dataset else None
    if val is not None and val.is_dir():
        paths = list_images_in(val)[:n]
        if paths:
            return load_chip_batch(paths, imgsz), "val"
    rng = np.random.default_rng(0)
    batch = rng.uniform(0.15, 0.35, (n, 3, imgsz, imgsz)).astype(np.float32)
    for i in range(n):
        for _ in range(3):
            w, h = rng.integers(imgsz // 10, imgsz // 4, 2)
            x, y = rng.integers(0, imgsz - w), rng.integers(0, imgsz - h)
            batch[i, :, y : y + h, x : x + w] = rng.uniform(0.7, 1.0, (3, 1, 1))
    return batch, "generated"


# -- comparison ------------------------------------------------------------------------------
def _nms(raw: np.ndarray, conf: float, iou: float) -> list:
    import torch
    from ultralytics.utils.nms import non_max_suppression

    return [
        d.numpy()
        for d in non_max_suppression(torch.from_numpy(raw).float(), conf, iou, max_det=300)
    ]


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    tl = np.maximum(a[:, None, :2], b[None, :, :2])
    br = np.minimum(a[:, None, 2:4], b[None, :, 2:4])
    inter = np.prod(np.clip(br - tl, 0, None), axis=2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])
    return inter / (area(a)[:, None] + area(b)[None] - inter + 1e-9)


def match_detections(ref: list, test: list, iou_min: float = 0.5) -> dict:
    """Greedy one-to-one matching of two detectors' boxes per image (same class, by IoU)."""
    matched = n_ref = n_test = 0
    ious, dscores = [], []
    for r, t in zip(ref, test):
        n_ref, n_test = n_ref + len(r), n_test + len(t)
        if not len(r) or not len(t):
            continue
        iou = _iou_matrix(r, t) * (r[:, None, 5] == t[None, :, 5])
        for i in np.argsort(-r[:, 4]):  # most confident reference boxes pick first
            j = int(np.argmax(iou[i]))
            if iou[i, j] >= iou_min:
                matched += 1
                ious.append(float(iou[i, j]))
                dscores.append(float(abs(r[i, 4] - t[j, 4])))
                iou[:, j] = -1  # each test box matches once
    return {
        "ref_boxes": n_ref,
        "test_boxes": n_test,
        "matched": matched,
        "min_iou": float(min(ious)) if ious else 1.0,
        "max_score_diff": float(max(dscores)) if dscores else 0.0,
    }


def _xywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    return np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1)


def _same_anchor_agreement(ref: np.ndarray, got: np.ndarray, conf: float, iou: float) -> tuple:
    """(min IoU, max |dscore|, count) between torch's NMS-kept boxes and ONNX at the same anchors."""
    import torch
    from ultralytics.utils.nms import non_max_suppression

    dets, keep = non_max_suppression(
        torch.from_numpy(ref).float(), conf, iou, max_det=300, return_idxs=True
    )
    ious, dscores, n = [1.0], [0.0], 0
    for i, (det, idx) in enumerate(zip(dets, keep)):
        idx = idx.long().numpy()
        if not len(idx):
            continue
        n += len(idx)
        twin = got[i][:, idx].T  # (k, 4 + nc)
        twin_boxes = _xywh_to_xyxy(twin[:, :4])
        twin_scores = twin[np.arange(len(idx)), 4 + det[:, 5].long().numpy()]
        ious.append(float(np.diag(_iou_matrix(det[:, :4].numpy(), twin_boxes)).min()))
        dscores.append(float(np.abs(det[:, 4].numpy() - twin_scores).max()))
    return min(ious), max(dscores), n


def _ort_run(path: Path, batch: np.ndarray) -> np.ndarray:
    """`output0` of a file in ultralytics' layout (its only output) on `batch`."""
    from debrismap.model_head import run_on_cpu

    return run_on_cpu(path, batch)[0]


def check_parity(
    model, onnx_path: Path, batch: np.ndarray, hp, tol: Tolerance, source: str
) -> dict:
    """Compare the ONNX file with the torch model on a batch; ModelError if they disagree."""
    import torch

    with torch.no_grad():
        ref = model(torch.from_numpy(batch)).numpy()
    try:
        got = _ort_run(onnx_path, batch)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelError(
            f"onnxruntime cannot run the exported model ({str(exc).splitlines()[0]})",
            path=onnx_path,
        ) from None
    if got.shape != ref.shape:
        raise ModelError(
            f"ONNX output shape {got.shape} differs from torch {ref.shape}", path=onnx_path
        )
    # boxes relative to their pixel magnitude, probabilities (already in [0, 1]) absolutely
    box_rel = np.abs(got[:, :4] - ref[:, :4]).max() / max(1.0, float(np.abs(ref[:, :4]).max()))
    max_rel = float(max(box_rel, np.abs(got[:, 4:] - ref[:, 4:]).max()))
    # compare at a low score floor so the check sees more than the few confident boxes (an
    # undertrained model may have none above 0.05): at most ~50 candidates per image
    best = ref[:, 4:, :].max(axis=1)
    k = min(50, best.shape[1])
    conf = float(np.clip(np.sort(best, axis=1)[:, -k].min(), 1e-4, min(0.05, hp.score_threshold)))
    # 1. the boxes torch keeps after NMS, read at the same anchors of the ONNX output
    anchor_iou, anchor_dscore, n_kept = _same_anchor_agreement(ref, got, conf, hp.nms_iou)
    # 2. both models through NMS independently at the operating threshold: the same detections?
    ref_det = _nms(ref, hp.score_threshold, hp.nms_iou)
    got_det = _nms(got, hp.score_threshold, hp.nms_iou)
    m = match_detections(ref_det, got_det, iou_min=0.5)
    result = {
        "source": source,
        "images": int(batch.shape[0]),
        "max_rel_diff": max_rel,
        "score_floor": conf,
        "kept_boxes": n_kept,
        "min_iou": anchor_iou,
        "max_score_diff": anchor_dscore,
        "torch_boxes": m["ref_boxes"],
        "onnx_boxes": m["test_boxes"],
        "matched": m["matched"],
        "tolerance": asdict(tol),
    }
    # a box whose score sits right at the threshold may fall on either side: one per image
    slack = batch.shape[0]
    problems = []
    if max_rel > tol.raw_rel:
        problems.append(f"raw outputs differ by {max_rel:.2e} (> {tol.raw_rel:g} relative)")
    if anchor_iou < tol.box_iou:
        problems.append(f"a kept box has IoU {anchor_iou:.4f} with its ONNX twin (< {tol.box_iou})")
    if anchor_dscore > tol.score_abs:
        problems.append(f"a kept box's score differs by {anchor_dscore:.2e} (> {tol.score_abs:g})")
    if m["matched"] + slack < max(m["ref_boxes"], m["test_boxes"]):
        problems.append(
            f"at score {hp.score_threshold} ONNX finds {m['test_boxes']} boxes, torch {m['ref_boxes']}, "
            f"only {m['matched']} match"
        )
    if problems:
        raise ModelError("parity check failed: " + "; ".join(problems), path=onnx_path)
    return result


# -- where the boxes are decoded -----------------------------------------------------------------
SPLIT_TOLERANCE = {"box_px": 1e-3, "score": 1e-5}


def split_checked(decoded_path: Path, out_path: Path, meta: ModelMetadata, batch: np.ndarray):
    """Write `decoded_path` with its box decoding moved out of the graph; (path, metadata, report).

    Refused (ModelError) unless debrismap's decoding of the split file gives the same anchors,
    boxes and scores as the graph's own decoding on `batch`.
    """
    import onnx

    from debrismap.model_head import run_on_cpu, split_box_decoding

    model = onnx.load(str(decoded_path))
    props = {p.key: p.value for p in model.metadata_props}
    split_model, head = split_box_decoding(model, meta.input_size)
    meta = meta.with_split_head(head)
    _replace_props(split_model, {**props, **meta.to_props()})
    onnx.save(split_model, str(out_path))
    report = _check_split(_ort_run(decoded_path, batch), run_on_cpu(out_path, batch), head, meta)
    return out_path, meta, report


def _check_split(decoded: np.ndarray, split_outputs: list[np.ndarray], head, meta: ModelMetadata) -> dict:
    """ModelError unless decoding `split_outputs` in numpy gives `decoded`'s anchors, boxes and scores."""
    from debrismap.model_head import split_agreement

    floor = _comparison_floor(decoded[:, 4:, :].max(axis=1), min(0.01, meta.score_threshold))
    report = split_agreement(decoded, split_outputs, head, floor)
    report.update(score_floor=floor, tolerance=SPLIT_TOLERANCE)
    if (
        not report["same_anchors"]
        or report["max_box_diff_px"] > SPLIT_TOLERANCE["box_px"]
        or report["max_score_diff"] > SPLIT_TOLERANCE["score"]
    ):
        raise ModelError(f"the graph's box decoding and debrismap's disagree ({report})")
    return report


def _comparison_floor(best: np.ndarray, ceiling: float, k: int = 50) -> float:
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


def convert_layout(source: str | Path, out: str | Path, decoded_output: bool = False) -> ExportReport:
    """Rewrite a debrismap ONNX file with its box decoding outside (or, decoded_output, inside) the graph.

    No torch needed: the weights and quantisation are copied as they are. A split file made from
    a decoded one is checked like export checks it, on generated tiles.
    """
    import onnx

    from debrismap.model_head import join_box_decoding, run_on_cpu

    source, out = Path(source), Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError("output file must end in .onnx", path=out)
    if not out.parent.exists():
        raise OutputError("output folder does not exist", path=out.parent)
    try:
        model = onnx.load(str(source))
    except Exception as exc:  # noqa: BLE001 - protobuf and OS errors alike mean "not usable"
        raise ModelError(f"not a readable ONNX file ({str(exc).splitlines()[0][:120]})", path=source) from None
    props = {p.key: p.value for p in model.metadata_props}
    meta = ModelMetadata.from_props(props, source=str(source))
    precision = props.get(PREFIX + "precision", "fp32")
    split = None
    with tempfile.TemporaryDirectory(prefix=".debrismap-export-", dir=out.parent) as tmp:
        tmp = Path(tmp)
        if decoded_output == (meta.head is None):
            onnx.save(model, str(tmp / "same.onnx"))
            final = tmp / "same.onnx"  # already in the asked layout: a plain copy
        elif decoded_output:
            head = meta.head
            joined = join_box_decoding(model, head, meta.input_size)
            meta = meta.with_decoded_output()
            _replace_props(joined, {k: v for k, v in {**props, **meta.to_props()}.items() if k != PREFIX + "head"})
            final = tmp / "joined.onnx"
            onnx.save(joined, str(final))
            batch, _ = parity_images(_NoDataset(), meta.input_size)
            split = _check_split(_ort_run(final, batch), run_on_cpu(source, batch), head, meta)
        else:
            if precision == "fp16":
                raise ConfigError("an fp16 model keeps its box decoding in the graph (it is for GPUs)", path=source)
            batch, _ = parity_images(_NoDataset(), meta.input_size)
            final, meta, split = split_checked(source, tmp / "split.onnx", meta, batch)
        os.replace(final, out)
    report = ExportReport(path=str(out), precision=precision, opset=_opset(model), input_size=meta.input_size,
                          metadata=meta.to_props(), split=split)
    earlier = source.with_suffix(".export.json")  # the export that made the source file, if at hand
    _write_sidecar(out, {**asdict(report), "converted_from": {
        "path": str(source), "export_report": json.loads(earlier.read_text()) if earlier.is_file() else None}})
    return report


def _write_sidecar(out: Path, report: dict) -> None:
    sidecar = out.with_suffix(".export.json")
    tmp_sidecar = sidecar.with_suffix(".json.tmp")
    tmp_sidecar.write_text(json.dumps(report, indent=2, default=str))
    os.replace(tmp_sidecar, sidecar)


class _NoDataset:
    """parity_images() of a model whose training data is not at hand: generated tiles."""

    dataset = ""


def _opset(model) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


# -- int8 --------------------------------------------------------------------------------------
def quantize_int8(fp32_path: Path, out_path: Path, calib: np.ndarray) -> None:
    """onnxruntime static QDQ quantisation, per-channel weights, calibrated on `calib` images.

    Every layer of the network is quantised (convolutions, SiLU, concat, resize, pooling), not
    only the convolutions: with float activations between them each conv pays a quantise and a
    dequantise, and on an AVX2 CPU the int8 graph was then no faster than fp32 (18.5 vs 17.8 ms a
    tile); all-int8 runs at 10.9. The weights use 7 bits (reduce_range) because AVX2's u8 x s8
    multiply-add (VPMADDUBSW) saturates at full range, which turned background into detections.
    """
    import onnx
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
        nodes_to_exclude=_box_decoding_nodes(onnx.load(str(prepared)).graph),
    )
    prepared.unlink()


def _box_decoding_nodes(graph) -> list[str]:
    """The Detect head's nodes after its convolutions: DFL, anchors, sigmoid, concat.

    They stay float: the output mixes pixel coordinates and probabilities in one tensor, which
    one int8 scale cannot hold. Found by name: the head is the last module, /model.<last>/, and
    its convolution branches are cv2.* (boxes) and cv3.* (classes).
    """
    indices = [
        int(n.name.split("/")[1].split(".")[1]) for n in graph.node if n.name.startswith("/model.")
    ]
    head = f"/model.{max(indices)}/"
    return [
        n.name
        for n in graph.node
        if n.name.startswith(head) and "/cv2." not in n.name and "/cv3." not in n.name
    ]


def int8_agreement(fp32_path: Path, int8_path: Path, batch: np.ndarray, hp) -> dict:
    """How much int8 loses: fp32 detections at the operating threshold are the reference."""
    import torch

    from debrismap.train.metrics import DetectionStats, summarize

    ref = _nms(_ort_run(fp32_path, batch), hp.score_threshold, hp.nms_iou)
    got_raw = _ort_run(int8_path, batch)
    got_all = _nms(got_raw, 0.001, hp.nms_iou)
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


# -- the whole export ------------------------------------------------------------------------
def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    *,
    half: bool = False,
    int8: bool = False,
    calib: str | Path | None = None,
    opset: int = DEFAULT_OPSET,
    imgsz: int | None = None,
    max_calib: int = 64,
    score_threshold: float | str | None = None,
    decoded_output: bool = False,
) -> ExportReport:
    """Export a debrismap checkpoint to ONNX; the file appears only if parity passes.

    The box decoding is checked inside the graph, then moved out of it (format_version 2, see
    debrismap.model_head) unless `decoded_output` or `half` (a GPU model), which keep
    ultralytics' (N, 4 + nc, A) layout.
    """
    import torch

    if half and int8:
        raise ConfigError("--half and --int8 are exclusive")
    if int8 and not calib:
        raise ConfigError("--int8 needs --calib DIR (chips representative of the imagery)")
    if opset < 17:
        raise ConfigError(f"opset must be >= 17, got {opset}")
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError("output file must end in .onnx", path=out)
    if not out.parent.exists():
        raise OutputError("output folder does not exist", path=out.parent)
    calib_paths: list[Path] = []
    if int8:
        calib = Path(calib)
        if not calib.is_dir():
            raise DatasetError("calibration folder not found", path=calib)
        calib_paths = list_images_in(calib)[:max_calib]
        if not calib_paths:
            raise DatasetError("no images (png, jpg, tif) in the calibration folder", path=calib)

    model, hp = load_torch_model(checkpoint)
    imgsz = int(imgsz or hp.imgsz)
    if imgsz % 32:
        raise ConfigError(f"imgsz must be a multiple of 32, got {imgsz}")
    meta = metadata_for(hp, imgsz)
    if score_threshold not in (None, "auto"):
        meta = dataclasses.replace(meta, score_threshold=float(score_threshold))
    precision = "fp16" if half else "int8" if int8 else "fp32"

    with tempfile.TemporaryDirectory(prefix=".debrismap-export-", dir=out.parent) as tmp:
        tmp = Path(tmp)
        fp32 = tmp / "fp32.onnx"
        _torch_to_onnx(model, imgsz, opset, fp32, half=False)
        _finish_onnx(fp32, meta)
        if score_threshold == "auto":  # the operating point users get: best F1 on the val split
            meta = dataclasses.replace(meta, score_threshold=_f1_threshold(fp32, hp))
            _set_props(fp32, meta.to_props())
        batch, source = parity_images(hp, imgsz)
        parity = check_parity(model, fp32, batch, hp, FP32_TOLERANCE, source)
        final = fp32
        quant = None
        if half:
            final = tmp / "fp16.onnx"
            _torch_to_onnx(model, imgsz, opset, final, half=True)
            _finish_onnx(final, meta, {PREFIX + "precision": "fp16"})
            try:
                parity = check_parity(model, final, batch, hp, FP16_TOLERANCE, source)
            except ModelError as exc:
                if "cannot run" not in str(exc):
                    raise
                # CPU onnxruntime lacks some fp16 kernels: fp32 parity above still vouches for the graph
                parity = {
                    **parity,
                    "fp16": "not run: onnxruntime CPU cannot execute this fp16 graph",
                }
        if int8:
            calib_batch = load_chip_batch(calib_paths, imgsz)
            final = tmp / "int8.onnx"
            quantize_int8(fp32, final, calib_batch)
            quant = int8_agreement(fp32, final, calib_batch, hp)
            quant["calibration"] = str(Path(calib).resolve())
            if score_threshold == "auto":  # int8 scores shift a little: its own best F1
                meta = dataclasses.replace(meta, score_threshold=_f1_threshold(final, hp))
            _finish_onnx(
                final,
                meta,
                {PREFIX + "precision": "int8", PREFIX + "quantization": json.dumps(quant)},
            )
        split = None
        if not decoded_output and not half:  # fp16 is for GPUs, where the in-graph decoding is cheap
            final, meta, split = split_checked(final, tmp / "split.onnx", meta, batch)
        validation = _validate(final, hp, half)
        os.replace(final, out)  # atomic: a failed export leaves no file behind
    del torch
    report = ExportReport(
        path=str(out),
        precision=precision,
        opset=opset,
        input_size=imgsz,
        metadata=meta.to_props(),
        parity=parity,
        quantization=quant,
        validation=validation,
        split=split,
    )
    _write_sidecar(out, asdict(report))
    return report
