"""The images export checks and calibrates on: val chips when at hand, else generated tiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from debrismap.errors import DatasetError

N_PARITY_IMAGES = 4


def list_images_in(folder: Path) -> list[Path]:
    suffixes = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in suffixes)


def load_chip_batch(paths: list[Path], imgsz: int) -> np.ndarray:
    """(N, 3, S, S) float32 in [0, 1]: chips cropped/padded top-left to S, never resized (GSD).

    Read with Pillow (a base dependency), so converting or checking an ONNX file needs no
    training stack; chips are lossless 8-bit PNGs, decoded alike by Pillow and OpenCV.
    """
    batch = np.zeros((len(paths), 3, imgsz, imgsz), np.float32)
    for i, path in enumerate(paths):
        image = _read_rgb(path)[:imgsz, :imgsz]
        batch[i, :, : image.shape[0], : image.shape[1]] = image.transpose(2, 0, 1) / 255.0
    return batch


def _read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise DatasetError("cannot be read as an image", path=path) from exc


def parity_images(hp, imgsz: int, n: int = N_PARITY_IMAGES) -> tuple[np.ndarray, str]:
    """Val chips of the training dataset when still on disk, else synthetic rectangles."""
    val = Path(hp.dataset) / "images" / "val" if hp.dataset else None
    if val is not None and val.is_dir():
        paths = list_images_in(val)[:n]
        if paths:
            return load_chip_batch(paths, imgsz), "val"
    return generated_tiles(imgsz, n), "generated"


def generated_tiles(imgsz: int, n: int = N_PARITY_IMAGES) -> np.ndarray:
    """(n, 3, S, S) float32: bright rectangles on a dim background, the same every call."""
    rng = np.random.default_rng(0)
    batch = rng.uniform(0.15, 0.35, (n, 3, imgsz, imgsz)).astype(np.float32)
    for i in range(n):
        for _ in range(3):
            w, h = rng.integers(imgsz // 10, imgsz // 4, 2)
            x, y = rng.integers(0, imgsz - w), rng.integers(0, imgsz - h)
            batch[i, :, y : y + h, x : x + w] = rng.uniform(0.7, 1.0, (3, 1, 1))
    return batch
