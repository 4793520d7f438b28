"""Staging a build: chips go to a hidden folder first and move into place at the end.

A folder with a dataset.yaml is a complete dataset: dataset.yaml is written last, and an
append takes it away while it moves files in.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from debrismap.atomic import write_text
from debrismap.chips.records import SPLITS


def staging_dir(out_dir: Path, appending: bool) -> Path:
    """A fresh staging folder: inside the dataset for an append, else next to it."""
    if appending:
        staging = out_dir / f".staging-{os.getpid()}"
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = out_dir.parent / f".{out_dir.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def make_split_folders(staging: Path) -> None:
    for split in SPLITS:
        (staging / "images" / split).mkdir(parents=True, exist_ok=True)
        (staging / "labels" / split).mkdir(parents=True, exist_ok=True)


def commit(staging: Path, out_dir: Path, yaml_text: str, appending: bool) -> None:
    """Move the staged chips into place; dataset.yaml goes last."""
    if not appending:
        (staging / "dataset.yaml").write_text(yaml_text, encoding="utf-8")
        if out_dir.exists():  # --overwrite: swap, then remove the old one
            trash = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            os.replace(out_dir, trash)
            os.replace(staging, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
        return
    # Appending: take dataset.yaml away first, so an interrupted move leaves a folder that
    # reads as incomplete rather than one whose counts lie.
    yaml_path = out_dir / "dataset.yaml"
    os.replace(yaml_path, staging / "dataset.yaml.previous")
    for sub in ("images", "labels"):
        for split in SPLITS:
            dest = out_dir / sub / split
            dest.mkdir(parents=True, exist_ok=True)
            for f in (staging / sub / split).iterdir():
                os.replace(f, dest / f.name)
    with open(out_dir / "chips.csv", "a", encoding="utf-8", newline="") as out, open(
        staging / "chips.csv", encoding="utf-8"
    ) as new:
        shutil.copyfileobj(new, out)
    write_text(yaml_path, yaml_text)
    shutil.rmtree(staging, ignore_errors=True)
