"""A tiny generated chip dataset (bright rectangles on noise) for smoke tests and demos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml


def make_toy_dataset(
    root: str | Path,
    n_train: int = 12,
    n_val: int = 4,
    size: int = 128,
    gsd_m: float = 0.5,
    seed: int = 0,
) -> Path:
    """Write a YOLO-layout chip dataset of `size` px PNGs with 1-3 bright boxes each."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    counts = {}
    for split, n in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        boxes_total = 0
        for i in range(n):
            image = rng.integers(40, 90, (size, size, 3), dtype=np.uint8)
            lines = []
            for _ in range(int(rng.integers(1, 4))):
                w, h = (int(v) for v in rng.integers(size // 8, size // 3, 2))
                x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
                image[y0 : y0 + h, x0 : x0 + w] = rng.integers(180, 255, 3, dtype=np.uint8)
                lines.append(
                    f"0 {(x0 + w / 2) / size:.6f} {(y0 + h / 2) / size:.6f} {w / size:.6f} {h / size:.6f}"
                )
            cv2.imwrite(str(root / "images" / split / f"chip_{i:04d}.png"), image[:, :, ::-1])
            (root / "labels" / split / f"chip_{i:04d}.txt").write_text("\n".join(lines) + "\n")
            boxes_total += len(lines)
        counts[split] = n
        counts[f"{split}_boxes"] = boxes_total
    meta = {
        "path": str(root.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": ["debris"],
        "gsd_m": gsd_m,
        "chip_size": size,
        "sources": ["toy"],
        "counts": counts,
    }
    (root / "dataset.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    return root
