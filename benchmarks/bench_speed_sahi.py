"""Speed of `debrismap detect` against SAHI's sliced prediction, at the recall each reaches.

    uv run python benchmarks/bench_speed_sahi.py --model models/debrismap-default-int8.onnx

On one synthetic city (seed 9003, 6144 x 6144 px = 37.7 Mpx at the model's GSD, so neither
side resamples; big enough that start-up costs do not decide the ratio, as on a real city),
with the same tile size, overlap, score threshold and NMS IoU:

- debrismap: `debrismap detect` (ONNX Runtime, CPU), timed as a whole process (start-up, reading,
  writing included), and by the run's own `timings.total`.
- SAHI + PyTorch: `get_sliced_prediction` with `AutoDetectionModel.from_pretrained(
  model_type="ultralytics", model_path=<.pt>)`, device cpu, once with SAHI's default batch
  size (1: what users running SAHI as documented get) and once with detect's batch size
  (--sahi-batches). The .pt holds the same trained weights as --model, in ultralytics'
  checkpoint layout ({"model": module, "train_args": ...}) so `YOLO(path)` loads it offline:
  rebuilt from the fp32 ONNX twin of --model (benchmarks/torch_twin.py, which checks that it
  reproduces the ONNX output), or taken from the training checkpoint with --checkpoint.
- SAHI + ONNX: the same call with model_path=<our .onnx>. SAHI 0.12 has no separate ONNX model
  type; its ultralytics wrapper runs .onnx files through ultralytics' ONNX Runtime backend,
  which wants ultralytics' output layout (N, 4 + nc, A): a temporary copy gets the box decoding
  put back in the graph (when --model has it outside) and ultralytics' metadata keys (stride,
  task, imgsz, names, batch). So this row runs the box decoding on every anchor, in the graph.

SAHI's time covers reading the raster into memory and the sliced prediction, not model
loading. The methods run round-robin --repeats times (default 3) and each one's median time
is reported, with every run's time in the JSON. Recall, precision and AP50 of all three are computed with `debrismap evaluate` on the
same truth, so the speed ratio is quoted together with the recall it was obtained at.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common


def model_metadata(onnx_path: Path):
    import onnx

    from debrismap.model.metadata import ModelMetadata

    proto = onnx.load(str(onnx_path), load_external_data=False)
    return ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props}, source=str(onnx_path))


def ultralytics_pt(checkpoint: Path, out: Path) -> Path:
    """Our Lightning checkpoint -> an ultralytics .pt that YOLO(path) loads without network."""
    import torch_twin

    from debrismap.train.checkpoint import ema_state_dict, load_checkpoint
    from debrismap.train.model import build_detection_model

    ckpt = load_checkpoint(checkpoint)
    hp = ckpt["debrismap"]["hparams"]
    model = build_detection_model(hp.get("arch", "yolov8"), hp.get("scale", "n"), len(hp["classes"]),
                                  act=hp.get("act", "silu"))  # a ReLU checkpoint loads into SiLU layers too
    model.load_state_dict(ema_state_dict(ckpt), strict=True)  # the weights export puts in the ONNX
    return torch_twin.save_ultralytics_pt(model, hp["classes"], hp.get("imgsz", 256), out,
                                          f"debrismap checkpoint {checkpoint}")


def onnx_for_ultralytics(onnx_path: Path, out: Path, meta) -> Path:
    """A copy in ultralytics' layout: the box decoding put back in the graph (the same weights and
    quantisation, model.graph_surgery.join_box_decoding) if the file has it outside, and ultralytics' keys."""
    import onnx
    import torch_twin

    proto = torch_twin.decoded_layout(onnx_path)
    extra = {
        "stride": "32", "task": "detect", "batch": "1", "imgsz": str([meta.input_size, meta.input_size]),
        "names": str({i: n for i, n in enumerate(meta.classes)}), "args": str({"dynamic": True, "nms": False}),
    }
    keep = [p for p in proto.metadata_props if p.key not in extra]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for k, v in extra.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out))
    return out


def sahi_run(model_path: Path, image, meta, tile: int, overlap: int, batch: int, score: float) -> tuple[list, float]:
    """(list of (x0, y0, x1, y1, score) in pixels, seconds of sliced prediction)."""
    from sahi import AutoDetectionModel
    from sahi.predict import get_sliced_prediction

    model = AutoDetectionModel.from_pretrained(
        model_type="ultralytics", model_path=str(model_path), confidence_threshold=score,
        device="cpu", image_size=tile, category_mapping={str(i): n for i, n in enumerate(meta.classes)},
    )
    # ultralytics' per-slice NMS defaults to IoU 0.7; use the model's, as detect does.
    model.model.overrides["iou"] = meta.nms_iou
    start = time.perf_counter()
    pixels = image()  # reading is part of the work, as it is for detect
    result = get_sliced_prediction(
        pixels, model, slice_height=tile, slice_width=tile,
        overlap_height_ratio=overlap / tile, overlap_width_ratio=overlap / tile,
        perform_standard_pred=False, postprocess_type="NMS", postprocess_match_metric="IOU",
        postprocess_match_threshold=meta.nms_iou, postprocess_class_agnostic=True,
        verbose=0, batch_size=batch, force_postprocess_type=True,
    )
    seconds = time.perf_counter() - start
    boxes = [(p.bbox.minx, p.bbox.miny, p.bbox.maxx, p.bbox.maxy, p.score.value) for p in result.object_prediction_list]
    return boxes, seconds


def evaluate_pixel_boxes(boxes: list, raster: Path, truth: Path, folder: Path, iou: float) -> dict:
    """Write pixel boxes as a world-coordinate detections file and evaluate it like a run."""
    import numpy as np
    import rasterio
    import shapely

    from debrismap.evaluate import evaluate_paths
    from debrismap.labels import transform_xyxy
    from debrismap.vector_io import write_vector

    with rasterio.open(raster) as src:
        transform, crs = src.transform, src.crs
    arr = np.asarray(boxes, dtype=float).reshape(-1, 5)
    world = transform_xyxy(transform, arr[:, :4])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "detections.gpkg"
    write_vector(path, shapely.box(*world.T), crs.to_wkt(), {"score": arr[:, 4]}, layer="detections")
    return evaluate_paths(path, truth, iou=iou, resamples=200)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=_common.REPO / "models" / "debrismap-default.onnx")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="debrismap training checkpoint of --model (default: rebuild the network from --torch-from)")
    parser.add_argument("--torch-from", type=Path, default=None,
                        help="fp32 ONNX file whose weights the PyTorch rows run (default: --model, or its fp32 "
                             "twin without '-int8' in the name)")
    parser.add_argument("--size", type=int, default=6144, help="synthetic city side in pixels (default 6144)")
    parser.add_argument("--seed", type=int, default=9003)
    parser.add_argument("--tile", type=int, default=None, help="tile side (default: the model's input size)")
    parser.add_argument("--overlap", type=int, default=None, help="overlap in pixels (default tile/10)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--score", type=float, default=None, help="score threshold (default: the model's)")
    parser.add_argument("--iou", type=float, default=0.3, help="IoU for recall/precision (default 0.3)")
    parser.add_argument("--skip-onnx-sahi", action="store_true")
    parser.add_argument("--sahi-batches", default="1,8",
                        help="SAHI + PyTorch batch sizes to time, comma separated (default 1,8: SAHI's default and detect's)")
    parser.add_argument("--sessions", type=int, default=None, help="detect --sessions (default: detect's own)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds, round-robin; medians reported (default 3)")
    parser.add_argument("--tag", default="", help="results go to results/bench_speed_sahi_TAG.json (e.g. fp32)")
    args = parser.parse_args(argv)
    model = _common.check_model(args.model)
    meta = model_metadata(model)
    tile = args.tile or meta.input_size
    overlap = args.overlap if args.overlap is not None else round(tile / 10)
    score = args.score if args.score is not None else meta.score_threshold

    import rasterio

    work = _common.CACHE / "speed"
    city = work / f"city_s{args.seed}_{args.size}px_{meta.gsd_m:g}m.tif"
    if not city.exists():
        work.mkdir(parents=True, exist_ok=True)
        _common.run([*_common.DEBRISMAP, "synth", "--size", str(args.size), "--gsd", f"{meta.gsd_m:g}",
                     "--seed", str(args.seed), "--out", str(city), "--quiet"])
    truth = city.with_suffix(".labels.geojson")
    mpx = args.size**2 / 1e6

    def read_rgb():
        with rasterio.open(city) as src:
            return src.read([1, 2, 3]).transpose(1, 2, 0).copy()

    from debrismap.evaluate import evaluate_paths

    # Each method is a function -> (seconds, seconds inside the run or None, evaluation). The
    # methods run round-robin --repeats times, so a drift in the shared machine's load hits
    # them alike; each method's median time is reported, its accuracy from its first round.
    run_dir = work / "runs" / "debrismap"

    def run_detect_once():
        wall = _common.detect(city, run_dir, model, [
            "--tile", str(tile), "--overlap", str(overlap), "--batch", str(args.batch), "--score", str(score),
            "--quiet", "--no-heatmap", *(["--sessions", str(args.sessions)] if args.sessions else []),
        ])
        inner = _common.read_run(run_dir).get("timings", {}).get("total")
        return wall, inner, lambda: evaluate_paths(run_dir, truth, iou=args.iou, resamples=200)

    def sahi_method(model_path: Path, sahi_batch: int, name: str):
        def once():
            boxes, seconds = sahi_run(model_path, read_rgb, meta, tile, overlap, sahi_batch, score)
            return seconds, None, lambda: evaluate_pixel_boxes(boxes, city, truth, work / "runs" / name, args.iou)
        return once

    sessions = None
    methods = [(None, run_detect_once)]
    if args.checkpoint:
        pt = ultralytics_pt(args.checkpoint, work / "sahi" / (args.checkpoint.stem + ".pt"))
    else:
        import torch_twin

        fp32 = args.torch_from or model.with_name(model.name.replace("-int8", ""))
        pt = torch_twin.write_ultralytics_pt(_common.check_model(fp32), work / "sahi" / (fp32.stem + ".pt"), meta)
    for sahi_batch in [int(b) for b in args.sahi_batches.split(",") if b.strip()]:
        methods.append((f"SAHI + ultralytics PyTorch (fp32 .pt, batch {sahi_batch})",
                        sahi_method(pt, sahi_batch, f"sahi_torch_b{sahi_batch}")))
    if not args.skip_onnx_sahi:
        onnx_copy = onnx_for_ultralytics(model, work / "sahi" / (model.stem + ".ultralytics.onnx"), meta)
        methods.append((f"SAHI + same ONNX (ultralytics backend, batch {args.batch})",
                        sahi_method(onnx_copy, args.batch, "sahi_onnx")))

    times: list[list[float]] = [[] for _ in methods]
    inner_times: list[list[float]] = [[] for _ in methods]
    scores: list[dict | None] = [None for _ in methods]
    for _ in range(max(1, args.repeats)):
        for i, (_, once) in enumerate(methods):
            seconds, inner, evaluation = once()
            times[i].append(seconds)
            if inner is not None:
                inner_times[i].append(inner)
            if scores[i] is None:
                scores[i] = _scores(evaluation())
                if i == 0:
                    sessions = _common.read_run(run_dir).get("model", {}).get("sessions", 1)
    rows = []
    for i, (name, _) in enumerate(methods):
        name = name or f"debrismap detect ({_precision_of(model)}, ONNX Runtime, {sessions} session(s))"
        rows.append({"method": name, "seconds": statistics.median(times[i]), "runs_s": [round(t, 2) for t in times[i]],
                     "seconds_in_run": statistics.median(inner_times[i]) if inner_times[i] else None, **scores[i]})

    # Two ratios: against detect's whole process (start-up and output writing included, which
    # favours SAHI, whose model loading is not timed) and against the run's own timings.total.
    ours, ours_inner = rows[0]["seconds"], rows[0]["seconds_in_run"]
    for r in rows:
        r["mpx_per_s"] = mpx / r["seconds"]
        r["slower_than_debrismap"] = r["seconds"] / ours
        r["slower_than_debrismap_in_run"] = (
            (r.get("seconds_in_run") or r["seconds"]) / ours_inner if ours_inner else None
        )
    print()
    print(_common.table(rows, [
        ("method", "method", ""), ("seconds", "seconds", "{:.1f}"), ("mpx_per_s", "Mpx/s", "{:.2f}"),
        ("slower_than_debrismap", "time / detect process", "{:.2f}x"),
        ("slower_than_debrismap_in_run", "time / detect in-run", "{:.2f}x"), ("recall", "recall", "{:.3f}"),
        ("precision", "precision", "{:.3f}"), ("ap50", "AP50", "{:.3f}"),
    ]))
    recalls = [r["recall"] for r in rows if r["recall"] is not None]
    if recalls and max(recalls) - min(recalls) > 0.02:
        print(f"\nwarning: recalls differ by {max(recalls) - min(recalls):.3f}: the speed ratio is not at equal recall")
    print(f"\n{args.size}x{args.size} px ({mpx:.1f} Mpx), tile {tile}, overlap {overlap}, batch {args.batch}, "
          f"score >= {score}, NMS IoU {meta.nms_iou}, recall at IoU {args.iou}")
    _common.write_result("bench_speed_sahi" + (f"_{args.tag}" if args.tag else ""), {
        "model": str(model), "model_sha256": _common.file_sha256(model),
        "checkpoint": str(args.checkpoint) if args.checkpoint else None,
        "torch_weights": str(args.checkpoint or pt), "raster": str(city),
        "size_px": args.size, "mpx": mpx, "gsd_m": meta.gsd_m, "tile": tile, "overlap": overlap,
        "batch": args.batch, "score": score, "nms_iou": meta.nms_iou, "iou": args.iou, "rows": rows,
    }, extra_versions=("sahi", "ultralytics", "torch"))
    return 0


def _precision_of(model: Path) -> str:
    import onnx

    from debrismap.model.metadata import PREFIX

    props = {p.key: p.value for p in onnx.load(str(model), load_external_data=False).metadata_props}
    return props.get(PREFIX + "precision", "fp32")


def _scores(ev: dict) -> dict:
    op = ev["metrics"]["operating_point"]
    return {"recall": op["recall"], "precision": op["precision"], "f1": op["f1"], "ap50": ev["metrics"]["ap50"],
            "detections": op["detections"], "truths": op["truths"]}


if __name__ == "__main__":
    raise SystemExit(main())
