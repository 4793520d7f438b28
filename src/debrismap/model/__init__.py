"""The ONNX model contract shared by export (torch side) and detect (runtime side); never imports torch.

Modules, one job each: metadata (the `debrismap.*` metadata_props <-> ModelMetadata),
split_head (a format_version 2 file's per-level outputs -> boxes, in numpy), cpu_runner (run
a model once on the CPU), graph_surgery (move the box decoding out of an ONNX graph or back
in; export only), validation (precision/recall of an ONNX file on a chip dataset's val split).
"""
