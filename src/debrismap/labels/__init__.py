"""Read and write labelled boxes: GeoJSON, GeoPackage, Shapefile, YOLO text, COCO JSON.

Every reader returns a `Boxes` value (axis-aligned boxes + class indices + names, in world
coordinates with a CRS, or in an image's pixel-corner coordinates). Bad files raise one
`LabelError` line; recoverable problems (some degenerate geometries, some boxes outside the
raster) emit a `LabelWarning` with a count. No torch, no cv2: `evaluate` and `detect` use this.
"""

from debrismap.errors import LabelWarning
from debrismap.labels.boxes import Boxes, transform_xyxy
from debrismap.labels.coco import read_coco, write_coco
from debrismap.labels.read import read_labels, to_raster_pixels
from debrismap.labels.vector import read_vector_labels, write_vector_labels
from debrismap.labels.yolo import read_yolo, write_yolo

__all__ = [
    "Boxes",
    "LabelWarning",
    "read_coco",
    "read_labels",
    "read_vector_labels",
    "read_yolo",
    "to_raster_pixels",
    "transform_xyxy",
    "write_coco",
    "write_vector_labels",
    "write_yolo",
]
