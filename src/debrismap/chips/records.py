"""What a chip build plans and reports: one record per chip, and the build's summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from debrismap.labels import Boxes

SPLITS = ("train", "val")


@dataclass(frozen=True)
class ChipRecord:
    """One chip written (or planned): where it came from and what it holds."""

    name: str  # file stem, e.g. city_r003_c012
    split: str
    source: str  # source stem
    row: int
    col: int
    x_off: int  # window offset in the view's pixel grid
    y_off: int
    size: int
    world_bounds: tuple[float, float, float, float]  # minx, miny, maxx, maxy in the raster CRS
    crs: str
    boxes: Boxes  # pixel boxes in chip coordinates (0..size)


@dataclass
class ChipDatasetSummary:
    """What a build produced: the dataset as a whole and the chips added by this call."""

    out_dir: Path
    names: tuple[str, ...]
    gsd_m: float | None
    chip_size: int
    counts: dict[str, dict[str, int]]  # split -> images / boxes / empty (whole dataset)
    skipped: dict[str, int]  # reason -> chips not written by this call
    sources: list[dict]
    chips: list[ChipRecord] = field(default_factory=list)  # this call only

    @property
    def n_chips(self) -> int:
        return sum(c["images"] for c in self.counts.values())

    def __repr__(self) -> str:  # the default one would print every chip's boxes
        c = self.counts
        return (
            f"ChipDatasetSummary({self.out_dir}: train {c['train']['images']} chips / "
            f"{c['train']['boxes']} boxes, val {c['val']['images']} chips / {c['val']['boxes']} "
            f"boxes, names={list(self.names)}, gsd_m={self.gsd_m}, chip_size={self.chip_size}, "
            f"{len(self.sources)} sources, this call {len(self.chips)} chips, skipped {self.skipped})"
        )
