"""Planning a build: which chips of each source are kept, in which split, with which boxes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from debrismap.chips.grid import GridChip, block_aligned_chips, chip_window
from debrismap.chips.options import ChipOptions
from debrismap.chips.records import SPLITS, ChipRecord
from debrismap.chips.sampling import choose_empty
from debrismap.chips.sources import ChipSource, unique_stems
from debrismap.chips.split import block_split, val_threshold
from debrismap.geometry.crs import as_crs, crs_text
from debrismap.labels import Boxes, transform_xyxy

# One candidate chip: grid position, world bounds, boxes in chip pixels, and whether a box
# was cut away entirely (then the chip is not an honest "empty" one).
Candidate = tuple[GridChip, np.ndarray, Boxes, bool]


def plan_chips(
    sources: list[ChipSource], names, opts: ChipOptions, existing: dict | None, out_dir: Path
) -> tuple[list[list[ChipRecord]], dict[str, int], float]:
    """Per source, the chips to write (sorted by row, col); skip counts; the val cut.

    Sets each source's unique stem and re-indexes its boxes to the dataset's class names.
    """
    stems = unique_stems(sources, existing, out_dir)
    skipped = {"nodata": 0, "empty_not_kept": 0, "partial_boxes_only": 0}
    candidates: list[list[Candidate]] = []
    for s, stem in zip(sources, stems):
        s.stem = stem
        s.boxes = s.boxes.with_names(names)
        rows = []
        for chip in block_aligned_chips(s.view, as_crs(s.raster.crs), opts, s.raster_path):
            window = chip_window(chip.x_off, chip.y_off, opts.size)
            if s.view.valid_fraction(window) < max(opts.min_valid, 1e-9):
                skipped["nodata"] += 1
                continue
            bounds = transform_xyxy(
                s.view.transform,
                np.array([[chip.x_off, chip.y_off, chip.x_off + opts.size, chip.y_off + opts.size]]),
            )[0]
            boxes, partial = boxes_in_chip(s.boxes, chip.x_off, chip.y_off, opts.size, opts.min_visible)
            rows.append((chip, bounds, boxes, partial))
        candidates.append(rows)

    threshold = _val_threshold(candidates, opts, existing)
    plan: list[list[ChipRecord]] = []
    for s, rows in zip(sources, candidates):
        kept: list[ChipRecord] = []
        empty: dict[str, list[ChipRecord]] = {sp: [] for sp in SPLITS}
        for chip, bounds, boxes, partial in rows:
            split = block_split(chip.block, opts.seed, threshold)
            record = ChipRecord(
                name=f"{s.stem}_r{chip.row:03d}_c{chip.col:03d}",
                split=split,
                source=s.stem,
                row=chip.row,
                col=chip.col,
                x_off=chip.x_off,
                y_off=chip.y_off,
                size=opts.size,
                world_bounds=tuple(float(v) for v in bounds),
                crs=crs_text(s.raster.crs),
                boxes=boxes,
            )
            if len(boxes):
                kept.append(record)
            elif partial:
                skipped["partial_boxes_only"] += 1
            else:
                empty[split].append(record)
        for split in SPLITS:
            n_labelled = sum(1 for r in kept if r.split == split)
            chosen = choose_empty(
                empty[split], n_labelled, opts.empty_fraction, opts.seed, s.stem, split
            )
            skipped["empty_not_kept"] += len(empty[split]) - len(chosen)
            kept += chosen
        kept.sort(key=lambda r: (r.row, r.col))
        plan.append(kept)
    return plan, skipped, threshold


def _val_threshold(
    candidates: list[list[Candidate]], opts: ChipOptions, existing: dict | None
) -> float:
    """The val cut: the dataset's stored one when appending, else sized to these chips."""
    if existing is not None:
        return float((existing.get("split") or {}).get("val_threshold", opts.val_fraction))
    per_block: dict[tuple[int, int], int] = {}
    for rows in candidates:
        for chip, _, boxes, _ in rows:
            if len(boxes):
                per_block[chip.block] = per_block.get(chip.block, 0) + 1
    return val_threshold(per_block, opts.val_fraction, opts.seed)


def boxes_in_chip(
    boxes: Boxes, x_off: int, y_off: int, size: int, min_visible: float
) -> tuple[Boxes, bool]:
    """Boxes clipped to the chip, in chip pixels; and whether any box was cut away entirely."""
    xyxy = boxes.xyxy
    clipped = xyxy.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(x_off, x_off + size)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(y_off, y_off + size)
    inter = np.maximum(clipped[:, 2] - clipped[:, 0], 0) * np.maximum(clipped[:, 3] - clipped[:, 1], 0)
    touching = inter > 0
    visible = np.zeros(len(xyxy))
    visible[touching] = inter[touching] / boxes.areas[touching]
    keep = touching & (visible >= min_visible - 1e-9)
    chip = Boxes(
        clipped[keep] - np.array([x_off, y_off, x_off, y_off], dtype=float),
        boxes.classes[keep],
        boxes.names,
        pixel=True,
    )
    return chip, bool((touching & ~keep).any())
