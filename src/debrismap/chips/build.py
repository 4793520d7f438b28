"""`build_chips`: rasters + labels -> a YOLO chip dataset on disk (or more chips for one)."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from debrismap.chips.dataset_yaml import (
    dataset_doc,
    existing_dataset,
    names_from_yaml,
    write_index,
    yaml_text,
)
from debrismap.chips.grid import default_block_size_m
from debrismap.chips.options import ChipOptions, options_matching_dataset
from debrismap.chips.plan import plan_chips
from debrismap.chips.records import ChipDatasetSummary, ChipRecord
from debrismap.chips.sources import ChipSource, check_gsds, class_names, open_pair
from debrismap.chips.staging import commit, make_split_folders, staging_dir
from debrismap.chips.writer import write_chips
from debrismap.errors import ConfigError, DatasetError


def build_chips(
    pairs: Sequence[tuple[str | Path, str | Path]],
    out_dir: str | Path,
    options: ChipOptions | None = None,
    *,
    append: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    workers: int | None = None,
    reviewed: Sequence | None = None,
) -> ChipDatasetSummary:
    """Build (or, with append=True, extend) a YOLO chip dataset from (raster, labels) pairs.

    options: the chip size, GSD, split and selection knobs (default ChipOptions()).
    workers: threads writing chips (PNG compression releases the GIL); default min(4, CPUs).
    reviewed: per pair, None or the ReviewedArea of a person's review (chips.review_labels).
    """
    opts = options if options is not None else ChipOptions()
    opts.check()
    if not pairs:
        raise ConfigError("no (raster, labels) pair given")
    out_dir = Path(out_dir).absolute()
    existing = existing_dataset(out_dir, append, overwrite)
    if existing is not None:
        opts = options_matching_dataset(existing, opts, out_dir)

    sources: list[ChipSource] = []
    try:
        for k, (raster_path, labels_path) in enumerate(pairs):
            area = reviewed[k] if reviewed else None
            sources.append(open_pair(Path(raster_path), Path(labels_path), opts, area is not None))
            sources[-1].reviewed = area
        check_gsds(sources, existing.get("gsd_m") if existing else None)
        if opts.gsd_m is None and not any(s.view.gsd_m for s in sources):
            warnings.warn(
                "GSD unknown (rasters without CRS): dataset.yaml gets no gsd_m, which train "
                "needs; pass --gsd with the imagery's metres per pixel",
                stacklevel=2,
            )
        opts = _resolve_block_size(opts, sources)
        names = class_names(names_from_yaml(existing) if existing else (), sources)
        plan, skipped, threshold = plan_chips(sources, names, opts, existing, out_dir)
        if not any(plan):
            reasons = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in skipped.items() if v)
            hint = (
                "; boxes larger than a chip? use a larger --size or a coarser --gsd"
                if skipped["partial_boxes_only"]
                else ""
            )
            raise DatasetError(f"no chip to write ({reasons or 'no tiles'}){hint}", path=out_dir)
        summary = _write(
            plan, sources, names, opts, threshold, skipped, existing, out_dir, progress,
            workers or min(4, os.cpu_count() or 1),
        )  # fmt: skip
        _warn_if_split_unbalanced(summary, opts)
    finally:
        for s in sources:
            s.raster.close()
    return summary


def _resolve_block_size(opts: ChipOptions, sources: list[ChipSource]) -> ChipOptions:
    """The default block (see grid.default_block_size_m) at the first raster's GSD."""
    if opts.block_size_m is not None:
        return opts
    gsd = sources[0].view.gsd_m or opts.gsd_m or 1.0
    return replace(opts, block_size_m=default_block_size_m(opts.size, opts.overlap, gsd))


def _write(
    plan: list[list[ChipRecord]], sources: list[ChipSource], names: tuple[str, ...],
    opts: ChipOptions, threshold: float, skipped: dict[str, int], existing: dict | None,
    out_dir: Path, progress: bool, workers: int,
) -> ChipDatasetSummary:  # fmt: skip
    """Write the planned chips to a staging folder, then move them (and the yaml) into place."""
    appending = existing is not None
    staging = staging_dir(out_dir, appending)
    try:
        make_split_folders(staging)
        records = write_chips(plan, sources, staging, progress, workers)
        doc = dataset_doc(existing, out_dir, sources, plan, names, opts, threshold)
        write_index(staging / "chips.csv", records, appending)
        commit(staging, out_dir, yaml_text(doc), appending)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ChipDatasetSummary(
        out_dir=out_dir,
        names=names,
        gsd_m=doc["gsd_m"],
        chip_size=opts.size,
        counts=doc["counts"],
        skipped=skipped,
        sources=doc["sources"],
        chips=records,
    )


def _warn_if_split_unbalanced(summary: ChipDatasetSummary, opts: ChipOptions) -> None:
    """Few blocks make a lumpy split; say so rather than let val silently be 0% or 90%."""
    n_val = summary.counts["val"]["images"]
    total = n_val + summary.counts["train"]["images"]
    if total < 10 or opts.val_fraction <= 0:
        return
    share = n_val / total
    if share < opts.val_fraction / 3 or share > min(0.9, 2 * opts.val_fraction + 0.1):
        warnings.warn(
            f"{summary.out_dir}: val holds {share:.0%} of the chips (asked for "
            f"{opts.val_fraction:.0%} of {opts.block_size_m:g} m blocks): too few blocks for a "
            "balanced split; use a smaller --block-size or more imagery",
            stacklevel=3,
        )
