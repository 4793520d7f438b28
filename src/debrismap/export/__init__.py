"""Checkpoint -> ONNX detector (the torch side of the model contract in `debrismap.model`).

Modules, one job each: checkpoint (load the trained network), to_onnx (torch -> ONNX),
stamping (metadata and fixed output dims), samples (images to check and calibrate on), parity
(ONNX vs torch boxes), split_check (box decoding out of the graph, checked), quantize (int8),
validation (the file's precision/recall on the val split),
layout (convert an ONNX file's layout, no torch), sidecar (the report and OUT.export.json),
pipeline (the whole export). torch, ultralytics and the training side are imported only
inside the functions that need them, so converting a layout works without them.
"""

import os

os.environ.setdefault("YOLO_OFFLINE", "1")  # before ultralytics is imported (lazily, in the modules)
