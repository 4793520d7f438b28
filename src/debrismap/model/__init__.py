"""The ONNX model contract shared by export (torch side) and detect (runtime side); never imports torch.

Modules, one job each: metadata (the `debrismap.*` metadata_props <-> ModelMetadata),
split_head (a format_version 2 file's per-level outputs -> boxes, in numpy), cpu_runner (run
a model once on the CPU), graph_surgery (move the box decoding out of an ONNX graph or back
in; export only). It sits below detect: nothing here imports detect (measuring a file on a val
split runs detect's pipeline pieces, so it lives in `debrismap.export.validation`).
"""
