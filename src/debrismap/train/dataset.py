"""The chip dataset on disk (YOLO layout written by `debrismap chips`) as a torch Dataset.

Layout (docs/contracts.md): DIR/images/{train,val}/*.png, DIR/labels/{train,val}/*.txt with
`class cx cy w h` normalised, and DIR/dataset.yaml with names, gsd_m, chip_size.
A chip without a label file, or with an empty one, is a background chip (no piles).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import yaml
from torch.utils.data import Dataset

from debrismap.errors import DatasetError, LabelError
from debrismap.labels.yolo import read_yolo_arrays

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass(frozen=True)
class DatasetInfo:
    """What dataset.yaml says, resolved to absolute paths."""

    root: Path
    names: tuple[str, ...]
    gsd_m: float
    chip_size: int | None
    train_images: Path
    val_images: Path
    description: str  # one line for the model's `training_data` metadata


def read_dataset_info(root: str | Path) -> DatasetInfo:
    """Parse DIR/dataset.yaml; DatasetError naming the file and the problem."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise DatasetError("dataset folder not found", path=root)
    yaml_path = root / "dataset.yaml"
    if not yaml_path.is_file():
        raise DatasetError(
            "no dataset.yaml (expected a chip dataset from `debrismap chips`)", path=root
        )
    try:
        meta = yaml.safe_load(yaml_path.read_text())
    except yaml.YAMLError as exc:
        raise DatasetError(
            f"is not valid YAML ({str(exc).splitlines()[0]})", path=yaml_path
        ) from exc
    if not isinstance(meta, dict):
        raise DatasetError("must be a YAML mapping", path=yaml_path)

    names = meta.get("names")
    if isinstance(names, dict):  # ultralytics style {0: debris}
        try:
            names = [names[k] for k in sorted(names, key=int)]
        except (TypeError, ValueError) as exc:
            raise DatasetError("names keys must be class indices", path=yaml_path) from exc
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise DatasetError("names must be a non-empty list of class names", path=yaml_path)
    try:
        gsd_m = float(meta.get("gsd_m"))
    except (TypeError, ValueError) as exc:
        raise DatasetError(
            "gsd_m (metres per pixel) is missing or not a number", path=yaml_path
        ) from exc
    if not gsd_m > 0:
        raise DatasetError(f"gsd_m must be > 0, got {gsd_m}", path=yaml_path)
    chip_size = meta.get("chip_size")
    try:
        chip_size = int(chip_size) if chip_size is not None else None
    except (TypeError, ValueError) as exc:
        raise DatasetError(
            f"chip_size must be an integer, got {chip_size!r}", path=yaml_path
        ) from exc

    # `path` in the yaml may be stale (the folder was moved): the yaml's own folder wins.
    splits = {}
    for split in ("train", "val"):
        rel = meta.get(split, f"images/{split}")
        if not isinstance(rel, str):
            raise DatasetError(f"{split} must be a folder path", path=yaml_path)
        folder = (root / rel).resolve()
        if not folder.is_dir():
            raise DatasetError(f"{split} image folder {rel!r} not found", path=yaml_path)
        splits[split] = folder

    counts = meta.get("counts")
    sources = meta.get("sources")
    description = f"debrismap chips {root.name}: gsd {gsd_m:g} m"
    if chip_size:
        description += f", chip {chip_size} px"
    if isinstance(counts, dict):
        parts = []
        for split, value in counts.items():
            if isinstance(value, dict):  # {train: {images, boxes, ...}} as `debrismap chips` writes
                parts.append(
                    f"{split} {value.get('images', '?')} chips/{value.get('boxes', '?')} boxes"
                )
            elif isinstance(value, (int, float, str)):
                parts.append(f"{split}={value}")
        if parts:
            description += ", " + ", ".join(parts)
    if isinstance(sources, list) and sources:
        stems = [str(s.get("stem", "")) if isinstance(s, dict) else str(s) for s in sources]
        description += f", {len(sources)} source(s): " + " ".join(stems[:8])
        if len(stems) > 8:
            description += " ..."
    return DatasetInfo(
        root=root,
        names=tuple(names),
        gsd_m=gsd_m,
        chip_size=chip_size,
        train_images=splits["train"],
        val_images=splits["val"],
        description=description,
    )


def label_path_for(image_path: Path) -> Path:
    """images/<split>/x.png -> labels/<split>/x.txt (the YOLO convention)."""
    parts = list(image_path.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def read_rgb(path: Path) -> np.ndarray:
    """An 8-bit chip as (H, W, 3) uint8 RGB."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DatasetError("cannot be read as an image", path=path)
    if image.dtype != np.uint8:
        raise DatasetError(f"chips must be 8-bit, this one is {image.dtype}", path=path)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(image)


def read_yolo_labels(path: Path, width: int, height: int, nc: int) -> tuple[np.ndarray, np.ndarray]:
    """YOLO txt -> (boxes (n, 4) float32 pixel x0 y0 x1 y1, classes (n,) int64).

    Boxes are clipped to the image and those left without area dropped; no label file is a
    chip without piles. The lines are parsed by labels.yolo, the one YOLO reader.
    """
    if not path.is_file():
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.int64)
    try:
        classes, xyxy = read_yolo_arrays(path, image_size=(width, height), fmt="normalised")
    except LabelError as exc:
        raise DatasetError(str(exc)) from exc  # the message already names the file and line
    if len(classes) == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.int64)
    unknown = classes >= nc
    if unknown.any():
        raise DatasetError(
            f"class {int(classes[unknown][0])} not in dataset.yaml names ({nc} classes)", path=path
        )
    boxes = np.clip(xyxy, 0, [width, height, width, height]).astype(np.float32)
    keep = (boxes[:, 2] - boxes[:, 0] > 0) & (boxes[:, 3] - boxes[:, 1] > 0)
    return boxes[keep], classes[keep]


@dataclass
class Sample:
    """One chip before tensor conversion: pixels and pixel-corner boxes."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    boxes: np.ndarray  # (n, 4) float32 x0 y0 x1 y1
    classes: np.ndarray  # (n,) int64
    path: str


class ChipDataset(Dataset):
    """Chips of one split; `transform(sample, dataset) -> Sample` does augmentation and sizing."""

    def __init__(self, folder: Path, nc: int, transform: Callable | None = None):
        self.folder = Path(folder)
        self.nc = nc
        self.transform = transform
        self.images = list_images(self.folder)
        if not self.images:
            raise DatasetError("no chip images found", path=self.folder)

    def __len__(self) -> int:
        return len(self.images)

    def load(self, index: int) -> Sample:
        path = self.images[index]
        image = read_rgb(path)
        boxes, classes = read_yolo_labels(
            label_path_for(path), image.shape[1], image.shape[0], self.nc
        )
        return Sample(image, boxes, classes, str(path))

    def __getitem__(self, index: int) -> dict:
        sample = self.load(index)
        if self.transform is not None:
            sample = self.transform(sample, self)
        return to_tensors(sample)


def to_tensors(sample: Sample) -> dict:
    h, w = sample.image.shape[:2]
    boxes = torch.as_tensor(sample.boxes, dtype=torch.float32).reshape(-1, 4)
    # ultralytics' loss wants normalised centre-size boxes
    xywh = torch.stack(
        [
            (boxes[:, 0] + boxes[:, 2]) / 2 / w,
            (boxes[:, 1] + boxes[:, 3]) / 2 / h,
            (boxes[:, 2] - boxes[:, 0]) / w,
            (boxes[:, 3] - boxes[:, 1]) / h,
        ],
        dim=1,
    )
    return {
        "img": torch.from_numpy(np.ascontiguousarray(sample.image.transpose(2, 0, 1))),  # uint8 CHW
        "bboxes": xywh,
        "cls": torch.as_tensor(sample.classes, dtype=torch.float32).reshape(-1, 1),
        "path": sample.path,
    }


def collate(items: list[dict]) -> dict:
    """Stack chips into the batch dict ultralytics' v8DetectionLoss expects."""
    return {
        "img": torch.stack([it["img"] for it in items]),  # uint8; normalised on the device
        "bboxes": torch.cat([it["bboxes"] for it in items]),
        "cls": torch.cat([it["cls"] for it in items]),
        "batch_idx": torch.cat(
            [torch.full((len(it["cls"]),), i, dtype=torch.float32) for i, it in enumerate(items)]
        ),
        "path": [it["path"] for it in items],
    }
