"""The torch side of debrismap: chip datasets, augmentation, the detection LightningModule.

Only `debrismap train`, `debrismap export` and their tests import this package; the
inference side (detect, aggregate, raster, labels) never does. Submodules import torch,
so this file imports none of them.
"""

import os

# before any submodule imports ultralytics: no hub, version or font checks over the network
os.environ.setdefault("YOLO_OFFLINE", "1")
