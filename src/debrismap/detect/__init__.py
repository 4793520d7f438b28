"""The ONNX Runtime side of debrismap: rasters + model -> detections, with no torch anywhere.

    from debrismap.detect import run_detect, DetectSettings
    result = run_detect(["city.tif"], "runs/city", DetectSettings(model=Path("model.onnx")))

Modules, one job each: model_file (where the default model is), session (load/validate/run
the ONNX model), preprocess (tile -> model input), pipeline (threads and batches), decode (raw
output -> boxes), nms, merge (seams), coverage (analysed area), regions (AOI/exclusions),
plan (rasters and tiles to analyse), state (resume shards), lock, writers (final files),
run (the whole run).
"""

from debrismap.detect.run import DetectResult, DetectSettings, resolve_model, run_detect
from debrismap.detect.session import ModelSession, UnlabelledModelFlags

__all__ = ["DetectResult", "DetectSettings", "ModelSession", "UnlabelledModelFlags", "resolve_model", "run_detect"]
