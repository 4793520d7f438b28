"""Writing planned chips: each read from its view, saved as PNG + YOLO text, on a few threads."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from rasterio.features import rasterize

from debrismap.chips.grid import chip_window
from debrismap.chips.records import ChipRecord
from debrismap.chips.sources import ChipSource
from debrismap.labels import write_yolo
from debrismap.progress import progress_bar


def write_chips(
    plan: list[list[ChipRecord]],
    sources: list[ChipSource],
    staging: Path,
    progress: bool,
    workers: int,
) -> list[ChipRecord]:
    """Read, encode and write every planned chip; records come back in plan order.

    Threads pay off because PNG compression releases the GIL.
    """
    records: list[ChipRecord] = []
    pending: deque[Future] = deque()
    total = sum(len(p) for p in plan)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, progress_bar(
        total, "chips", "chip", enabled=progress
    ) as bar:
        try:
            for s, chips in zip(sources, plan):
                for rec in chips:
                    pending.append(pool.submit(write_chip, s.view, rec, staging, s.reviewed))
                    # A short queue keeps memory flat and stops quickly on an error.
                    while len(pending) >= 4 * workers:
                        records.append(pending.popleft().result())
                        bar.update(1)
            while pending:
                records.append(pending.popleft().result())
                bar.update(1)
        except BaseException:
            for job in pending:
                job.cancel()
            raise
    return records


def write_chip(view, rec: ChipRecord, staging: Path, reviewed=None) -> ChipRecord:
    """One chip: DIR/images/<split>/<name>.png and DIR/labels/<split>/<name>.txt.

    With a reviewed area, pixels outside it are blanked: nobody checked them for piles.
    """
    img = view.read(chip_window(rec.x_off, rec.y_off, rec.size))
    pixels = img.pixels
    if reviewed is not None:
        seen = rasterize([(reviewed.area, 1)], out_shape=pixels.shape[:2], transform=img.transform,
                         fill=0, dtype="uint8", all_touched=True).astype(bool)
        pixels = np.where(seen[..., None], pixels, 0).astype(np.uint8)
    Image.fromarray(pixels).save(
        staging / "images" / rec.split / f"{rec.name}.png", compress_level=1
    )
    write_yolo(staging / "labels" / rec.split / f"{rec.name}.txt", rec.boxes, (rec.size, rec.size))
    return rec
