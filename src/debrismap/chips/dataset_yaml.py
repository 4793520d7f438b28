"""The dataset's description on disk: dataset.yaml (read for append, written last) and chips.csv."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import yaml

from debrismap import __version__
from debrismap.chips.options import ChipOptions
from debrismap.chips.records import SPLITS, ChipRecord
from debrismap.chips.sources import ChipSource
from debrismap.errors import ConfigError, DatasetError
from debrismap.geometry.crs import crs_text

INDEX_FIELDS = [
    "chip", "split", "source", "row", "col", "x_off", "y_off", "size",
    "minx", "miny", "maxx", "maxy", "crs", "boxes",
]  # fmt: skip


def existing_dataset(out_dir: Path, append: bool, overwrite: bool) -> dict | None:
    """The dataset.yaml to append to, or None for a fresh build (after checking the folder)."""
    if append and overwrite:
        raise ConfigError("--append and --overwrite exclude each other")
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetError("exists and is not a folder", path=out_dir)
    has_content = out_dir.is_dir() and any(out_dir.iterdir())
    yaml_path = out_dir / "dataset.yaml"
    if not append:
        if has_content and not overwrite:
            raise DatasetError(
                "already exists and is not empty; use --append to add to it or --overwrite",
                path=out_dir,
            )
        return None
    if not has_content:
        return None  # appending to nothing is a fresh build
    if not yaml_path.is_file():
        raise DatasetError(
            "has no dataset.yaml: not a chip dataset, or an interrupted build; rebuild it",
            path=out_dir,
        )
    try:
        doc = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DatasetError(f"unreadable dataset.yaml ({type(exc).__name__})", path=yaml_path) from exc
    if not isinstance(doc, dict) or not all(k in doc for k in ("names", "chip_size", "counts")):
        raise DatasetError("dataset.yaml lacks names/chip_size/counts: not built by debrismap chips", path=yaml_path)
    return doc


def names_from_yaml(doc: dict) -> tuple[str, ...]:
    """Class names in index order, from a {0: name} mapping or a list."""
    names = doc.get("names")
    if isinstance(names, dict):
        return tuple(str(names[k]) for k in sorted(names, key=int))
    return tuple(str(n) for n in names or ())


def dataset_doc(
    existing: dict | None,
    out_dir: Path,
    sources: list[ChipSource],
    plan: list[list[ChipRecord]],
    names: tuple[str, ...],
    opts: ChipOptions,
    threshold: float,
) -> dict:
    """dataset.yaml's content: the existing dataset's counts and sources plus this call's."""
    counts = {sp: {"images": 0, "boxes": 0, "empty": 0} for sp in SPLITS}
    if existing:
        for sp in SPLITS:
            counts[sp].update({k: int(v) for k, v in existing["counts"][sp].items()})
    source_docs = list(existing.get("sources", [])) if existing else []
    for s, chips in zip(sources, plan):
        per = {sp: {"images": 0, "boxes": 0, "empty": 0} for sp in SPLITS}
        for rec in chips:
            per[rec.split]["images"] += 1
            per[rec.split]["boxes"] += len(rec.boxes)
            per[rec.split]["empty"] += int(len(rec.boxes) == 0)
        for sp in SPLITS:
            for k in per[sp]:
                counts[sp][k] += per[sp][k]
        source_docs.append(
            {
                "stem": s.stem,
                "path": str(s.raster_path.absolute()),
                "labels": str(s.labels_path.absolute()),
                "header_sha256": s.raster.header_sha256,
                "crs": crs_text(s.raster.crs),
                "width": s.raster.width,
                "height": s.raster.height,
                "gsd_m": s.raster.gsd_m,
                "bands": list(s.raster.band_indexes),
                "stretch": s.raster.stretch.to_dict(),
                "boxes_in_raster": len(s.boxes),
                "counts": per,
            }
        )
    gsds = [s.view.gsd_m for s in sources if s.view.gsd_m]
    gsd = existing.get("gsd_m") if existing else None
    if gsd is None:
        gsd = opts.gsd_m if opts.gsd_m is not None else (float(np.median(gsds)) if gsds else None)
    return {
        "path": str(out_dir),
        "train": "images/train",
        "val": "images/val",
        "nc": len(names),
        "names": {i: n for i, n in enumerate(names)},
        "gsd_m": gsd,
        "chip_size": opts.size,
        "overlap": opts.overlap,
        "split": {
            "method": "spatial_blocks",
            "block_size_m": opts.block_size_m,
            "val_fraction": opts.val_fraction,
            "val_threshold": threshold,
            "seed": opts.seed,
        },
        "selection": {
            "min_valid": opts.min_valid,
            "min_visible": opts.min_visible,
            "empty_fraction": opts.empty_fraction,
            "point_size_m": opts.point_size_m,
        },
        "counts": counts,
        "sources": source_docs,
        "software_version": __version__,
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def yaml_text(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def write_index(path: Path, records: Iterable[ChipRecord], appending: bool) -> None:
    """chips.csv rows for these records; the header only for a fresh dataset."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if not appending:
            writer.writerow(INDEX_FIELDS)
        for r in records:
            writer.writerow(
                [r.name, r.split, r.source, r.row, r.col, r.x_off, r.y_off, r.size,
                 *(f"{v:.6f}" for v in r.world_bounds), r.crs, len(r.boxes)]
            )  # fmt: skip
