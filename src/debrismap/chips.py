"""Rasters + labels -> a YOLO chip dataset on disk, split into train/val by area.

Layout (docs/contracts.md): `DIR/images/{train,val}/*.png`, `DIR/labels/{train,val}/*.txt`,
`DIR/dataset.yaml`, plus `DIR/chips.csv` (one row per chip: source, grid position, world
bounds) so every chip can be traced back to the place it shows.

How chips are chosen, and why:
- Train/val split by spatial blocks of `block_size_m`, aligned to multiples of the block
  size in the raster CRS; blocks join val in a seeded hash order until val holds about
  `val_fraction` of the labelled chips (the cut is stored for `--append`). Chips are laid out block by block and never cross a block edge, so no
  pixel is in both splits (a random per-chip split would leak overlapping neighbours into
  val) and no chip is wasted. Same CRS, same blocks: rasters of one place from two dates
  split the same way.
- Inside a block, chips of `size` overlap by about `overlap`, on the raster seen at the
  dataset GSD (`--gsd`), so chips look like the tiles `detect` will feed the model.
- Chips with less than `min_valid` real data are skipped (nodata edges, masks).
- Boxes cut by a chip edge are clipped; one keeping less than `min_visible` of its area is
  dropped from that chip. A chip holding only such dropped fragments is not kept as an
  "empty" chip either: it would teach the model that part of a pile is background.
- Empty chips (no label) are kept up to `empty_fraction` of each raster's chips per split,
  chosen by `seed`.
Everything is written to a staging folder and moved into place at the end; dataset.yaml
is written last, so a folder with a dataset.yaml is a complete dataset.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import shutil
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from debrismap import __version__
from debrismap.errors import ConfigError, DatasetError, LabelError
from debrismap.labels import Boxes, read_labels, to_raster_pixels, transform_xyxy, write_yolo
from debrismap.labels.boxes import DEFAULT_CLASS
from debrismap.labels.geometry import as_pyproj_crs, half_sizes

SPLITS = ("train", "val")
DEFAULT_BLOCK_M = 256.0
GSD_TOLERANCE = 0.10  # rasters within 10% of each other's GSD may share a dataset
INDEX_FIELDS = [
    "chip", "split", "source", "row", "col", "x_off", "y_off", "size",
    "minx", "miny", "maxx", "maxy", "crs", "boxes",
]  # fmt: skip


@dataclass(frozen=True)
class ChipOptions:
    """Every knob of a chip build (the CLI flags, one to one)."""

    size: int = 256
    overlap: int = 32
    gsd_m: float | None = None  # resample to this GSD; None = the rasters' own
    bands: tuple[int, ...] | None = None
    class_field: str | None = None
    labels_crs: str | None = None
    point_size_m: float = 6.0
    min_valid: float = 0.5
    empty_fraction: float = 0.2
    min_visible: float = 0.4
    block_size_m: float | None = None  # None: 256 m, or twice the chip footprint if larger
    val_fraction: float = 0.2
    seed: int = 0

    def check(self) -> None:
        problems = []
        if not 8 <= self.size <= 8192:
            problems.append(f"--size must be 8..8192 pixels, got {self.size}")
        if not 0 <= self.overlap < self.size:
            problems.append(f"--overlap must be >= 0 and < --size, got {self.overlap}")
        if self.gsd_m is not None and not (math.isfinite(self.gsd_m) and self.gsd_m > 0):
            problems.append(f"--gsd must be a positive number of metres, got {self.gsd_m}")
        for name, value in [
            ("--min-valid", self.min_valid),
            ("--empty-fraction", self.empty_fraction),
            ("--min-visible", self.min_visible),
            ("--val-fraction", self.val_fraction),
        ]:
            if not 0 <= value <= 1:
                problems.append(f"{name} must be between 0 and 1, got {value}")
        if self.block_size_m is not None and not (
            math.isfinite(self.block_size_m) and self.block_size_m > 0
        ):
            problems.append(f"--block-size must be a positive number of metres, got {self.block_size_m}")
        if not (math.isfinite(self.point_size_m) and self.point_size_m > 0):
            problems.append(f"--point-size must be a positive number of metres, got {self.point_size_m}")
        if problems:
            raise ConfigError(problems[0])


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


# -- the build ----------------------------------------------------------------------------


def build_chips(
    pairs: Sequence[tuple[str | Path, str | Path]],
    out_dir: str | Path,
    *,
    size: int = 256,
    overlap: int = 32,
    gsd: float | None = None,
    bands: Sequence[int] | None = None,
    class_field: str | None = None,
    labels_crs: str | None = None,
    point_size: float = 6.0,
    min_valid: float = 0.5,
    empty_fraction: float = 0.2,
    min_visible: float = 0.4,
    block_size: float | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    append: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    workers: int | None = None,
) -> ChipDatasetSummary:
    """Build (or, with append=True, extend) a YOLO chip dataset from (raster, labels) pairs.

    workers: threads writing chips (PNG compression releases the GIL); default min(4, CPUs).
    """
    opts = ChipOptions(
        size=int(size), overlap=int(overlap), gsd_m=gsd, bands=tuple(bands) if bands else None,
        class_field=class_field, labels_crs=labels_crs, point_size_m=float(point_size),
        min_valid=float(min_valid), empty_fraction=float(empty_fraction),
        min_visible=float(min_visible),
        block_size_m=float(block_size) if block_size is not None else None,
        val_fraction=float(val_fraction), seed=int(seed),
    )  # fmt: skip
    opts.check()
    if not pairs:
        raise ConfigError("no (raster, labels) pair given")
    out_dir = Path(out_dir).absolute()
    existing = _existing_dataset(out_dir, append, overwrite)
    if existing is not None:
        opts = _options_matching(existing, opts, out_dir)

    from debrismap.raster import open_raster

    sources = []
    try:
        for raster_path, labels_path in pairs:
            sources.append(_open_pair(Path(raster_path), Path(labels_path), opts, open_raster))
        _check_gsds(sources, existing)
        if opts.gsd_m is None and not any(s.view.gsd_m for s in sources):
            warnings.warn(
                "GSD unknown (rasters without CRS): dataset.yaml gets no gsd_m, which train "
                "needs; pass --gsd with the imagery's metres per pixel",
                stacklevel=2,
            )
        opts = _resolve_block_size(opts, sources)
        names = _class_names(existing, sources)
        plan, skipped, threshold = _plan(sources, names, opts, existing, out_dir)
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


@dataclass
class _Source:
    """One opened (raster, labels) pair, boxes already in the view's pixel grid."""

    raster_path: Path
    labels_path: Path
    raster: object  # RasterSource
    view: object  # RasterView
    boxes: Boxes  # pixel boxes of the view
    stem: str = ""


def _open_pair(raster_path: Path, labels_path: Path, opts: ChipOptions, open_raster) -> _Source:
    src = open_raster(raster_path, bands=opts.bands)
    try:
        view = src.at_gsd(opts.gsd_m)
        boxes = read_labels(
            labels_path,
            crs=src.crs,
            labels_crs=opts.labels_crs,
            class_field=opts.class_field,
            point_size_m=opts.point_size_m,
            image_size=(src.width, src.height),
            coco_image=raster_path.stem,
        )
        if boxes.pixel:  # YOLO / COCO: pixels of the source raster
            boxes = boxes.to_world(src.transform, as_pyproj_crs(src.crs))
        elif src.crs is None and boxes.crs is not None:
            raise LabelError(
                f"holds map coordinates but {raster_path.name} has no CRS to place them with; "
                "use pixel labels (YOLO .txt or COCO .json) for it",
                path=labels_path,
            )
        pixel = to_raster_pixels(
            boxes, view.transform, view.width, view.height, src.crs, raster=raster_path
        )
    except BaseException:
        src.close()
        raise
    return _Source(raster_path, labels_path, src, view, pixel)


def _check_gsds(sources: list[_Source], existing: dict | None) -> None:
    """One model learns one GSD: refuse to mix rasters whose GSDs differ by more than 10%."""
    gsds = [(s.raster_path.name, s.view.gsd_m) for s in sources if s.view.gsd_m]
    if existing and existing.get("gsd_m"):
        gsds.insert(0, ("the existing dataset", float(existing["gsd_m"])))
    if len(gsds) < 2:
        return
    ref_name, ref = gsds[0]
    for name, g in gsds[1:]:
        if abs(g / ref - 1) > GSD_TOLERANCE:
            raise ConfigError(
                f"{name} is {g:.3g} m/pixel but {ref_name} is {ref:.3g} m/pixel; "
                "pass --gsd to resample every raster to one GSD"
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


def _resolve_block_size(opts: ChipOptions, sources: list[_Source]) -> ChipOptions:
    """Default block: the smallest whole number of chip strides of at least 256 m.

    size + k * stride pixels holds k + 1 chips at exactly the requested overlap, so the
    block-aligned grid wastes nothing (e.g. 256 px chips, 32 overlap, 0.5 m: 704 px, 352 m).
    """
    if opts.block_size_m is not None:
        return opts
    from dataclasses import replace

    gsd = sources[0].view.gsd_m or opts.gsd_m or 1.0
    stride = opts.size - opts.overlap
    k = max(1, math.ceil((DEFAULT_BLOCK_M / gsd - opts.size) / stride))
    return replace(opts, block_size_m=round((opts.size + k * stride) * gsd, 6))


def _class_names(existing: dict | None, sources: list[_Source]) -> tuple[str, ...]:
    """Existing dataset names keep their indices; new names follow, sorted."""
    names = list(_names_from_yaml(existing)) if existing else []
    seen = set()
    for s in sources:
        seen |= {s.boxes.names[c] for c in np.unique(s.boxes.classes)}
    names += sorted(seen - set(names))
    return tuple(names) or (DEFAULT_CLASS,)


# -- planning: which chips, which split, which boxes ---------------------------------------


def _plan(sources, names, opts: ChipOptions, existing, out_dir: Path):
    stems = _unique_stems(sources, existing, out_dir)
    skipped = {"nodata": 0, "empty_not_kept": 0, "partial_boxes_only": 0}
    candidates = []  # per source: list of (GridChip, world bounds, boxes, partial)
    for s, stem in zip(sources, stems):
        s.stem = stem
        s.boxes = s.boxes.with_names(names)
        rows = []
        for chip in block_aligned_chips(s.view, as_pyproj_crs(s.raster.crs), opts, s.raster_path):
            window = _window(chip.x_off, chip.y_off, opts.size)
            if s.view.valid_fraction(window) < max(opts.min_valid, 1e-9):
                skipped["nodata"] += 1
                continue
            bounds = transform_xyxy(
                s.view.transform,
                np.array([[chip.x_off, chip.y_off, chip.x_off + opts.size, chip.y_off + opts.size]]),
            )[0]
            boxes, partial = _boxes_in_chip(s.boxes, chip.x_off, chip.y_off, opts.size, opts.min_visible)
            rows.append((chip, bounds, boxes, partial))
        candidates.append(rows)

    threshold = _val_threshold(candidates, opts, existing)
    plan: list[list[ChipRecord]] = []
    for s, rows in zip(sources, candidates):
        kept: list[ChipRecord] = []
        empty: dict[str, list[ChipRecord]] = {sp: [] for sp in SPLITS}
        for chip, bounds, boxes, partial in rows:
            split = _block_split(chip.block, opts.seed, threshold)
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
                crs=_crs_text(s.raster.crs),
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
            chosen = _choose_empty(empty[split], n_labelled, opts, s.stem, split)
            skipped["empty_not_kept"] += len(empty[split]) - len(chosen)
            kept += chosen
        kept.sort(key=lambda r: (r.row, r.col))
        plan.append(kept)
    return plan, skipped, threshold


# -- the block-aligned chip grid -----------------------------------------------------------


@dataclass(frozen=True)
class GridChip:
    """A chip position: window offset in the view, grid row/col, and the split block it is in."""

    x_off: int
    y_off: int
    row: int
    col: int
    block: tuple[int, int]


def block_aligned_chips(view, crs, opts: ChipOptions, raster_path: Path) -> list[GridChip]:
    """Chips laid out block by block, so that none crosses a block boundary.

    Blocks are squares of `block_size_m` aligned to multiples of the block size in the
    raster's CRS, so two rasters of the same place in the same CRS share blocks (and splits).
    Inside a block, chips overlap by about `overlap` and the last one is flush with the
    block edge. A block cut by the raster edge to less than a chip gets one chip reaching
    beyond the raster (padded, and then usually skipped as nodata). Pixels straddling a
    block edge belong to no chip. Rotated rasters use blocks on their pixel grid instead.
    """
    t = view.transform
    if t.b == 0 and t.d == 0:
        block_w, block_h = _block_size_in_crs_units(crs, view, opts.block_size_m, opts.gsd_m)
        x_segments = _segments(view.width, t.c, t.a, block_w)
        y_segments = _segments(view.height, t.f, t.e, block_h)
        chip_w, chip_h = abs(t.a) * opts.size, abs(t.e) * opts.size
        fits = chip_w <= block_w * (1 + 1e-6) and chip_h <= block_h * (1 + 1e-6)
    else:
        block_px = opts.block_size_m / (view.gsd_m or opts.gsd_m or 1.0)
        x_segments = _segments(view.width, 0.0, 1.0, block_px)
        y_segments = _segments(view.height, 0.0, 1.0, block_px)
        chip_w, block_w, fits = opts.size, block_px, opts.size <= block_px * (1 + 1e-6)
    if not fits:
        metres = opts.block_size_m * chip_w / block_w
        raise ConfigError(
            f"--block-size {opts.block_size_m:g} m is smaller than one chip of {raster_path.name} "
            f"(about {metres:.0f} m); use a block of at least twice that"
        )
    xs = [(k, x) for k, p0, p1 in x_segments for x in _starts(p0, p1, view.width, opts)]
    ys = [(k, y) for k, p0, p1 in y_segments for y in _starts(p0, p1, view.height, opts)]
    col_of = {x: i for i, x in enumerate(sorted({x for _, x in xs}))}
    row_of = {y: i for i, y in enumerate(sorted({y for _, y in ys}))}
    return [
        GridChip(x, y, row_of[y], col_of[x], (bx, by))
        for by, y in sorted(ys, key=lambda ky: ky[1])
        for bx, x in sorted(xs, key=lambda kx: kx[1])
    ]


def _segments(n: int, origin: float, step: float, block: float) -> list[tuple[int, int, int]]:
    """(block index, first pixel, end pixel) of each block along one axis of n pixels.

    Pixel p spans world [origin + step * p, origin + step * (p + 1)); block k spans world
    [k * block, (k + 1) * block). A pixel cut by a block edge is left out of both blocks.
    """
    ends = sorted([origin, origin + step * n])
    k_first = math.floor(ends[0] / block)
    k_last = math.ceil(ends[1] / block) - 1
    out = []
    for k in range(k_first, k_last + 1):
        a, b = sorted([(k * block - origin) / step, ((k + 1) * block - origin) / step])
        p0 = max(0, math.ceil(a - 1e-6))
        p1 = min(n, math.floor(b + 1e-6))
        if p1 > p0:
            out.append((k, p0, p1))
    return out


def _starts(p0: int, p1: int, n: int, opts: ChipOptions) -> list[int]:
    """Chip starts inside [p0, p1): evenly spread, first flush with p0, last with p1."""
    length, size = p1 - p0, opts.size
    if length >= size:
        stride = size - opts.overlap
        # 2 px of slack: a block a pixel longer than size + k * stride must not cost a chip.
        count = max(0, math.ceil((length - size - 2) / stride)) + 1
        return sorted({round(v) for v in np.linspace(p0, p1 - size, count)})
    if p0 == 0 and p1 == n:
        return [0]  # the raster is narrower than a chip: pad past its end, like TileGrid
    if p0 == 0:
        return [p1 - size]  # a block cut by the raster's start: reach out before the raster
    if p1 == n:
        return [p0]  # cut by the raster's end: reach out past it
    return []


def _window(x_off: int, y_off: int, size: int):
    from rasterio.windows import Window

    return Window(x_off, y_off, size, size)


def _boxes_in_chip(boxes: Boxes, x_off: int, y_off: int, size: int, min_visible: float):
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


def _block_size_in_crs_units(
    crs, view, block_size_m: float, assumed_gsd_m: float | None = None
) -> tuple[float, float]:
    """The block side in the raster CRS's x and y units (degrees at the raster's latitude)."""
    t = view.transform
    if crs is None:
        # No CRS: units are unknown; count the block in pixels at the view's GSD, else at
        # the GSD the user stated (--gsd), else at 1 m per pixel.
        pixels = block_size_m / (view.gsd_m or assumed_gsd_m or 1.0)
        return pixels * math.hypot(t.a, t.d), pixels * math.hypot(t.b, t.e)
    centre_y = t.f + t.e * view.height / 2
    hx, hy = half_sizes(crs, np.array([centre_y]), block_size_m)
    return float(hx[0] * 2), float(hy[0] * 2)


def _block_value(block: tuple[int, int], seed: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, block): the same in every run and append."""
    digest = hashlib.blake2b(f"{seed}:{block[0]}:{block[1]}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def _block_split(block, seed: int, threshold: float) -> str:
    return "val" if _block_value(block, seed) < threshold else "train"


def _val_threshold(candidates, opts: ChipOptions, existing: dict | None) -> float:
    """The hash cut below which a block is val, chosen so val holds ~val_fraction of chips.

    Blocks enter val in the order of their hash (a seeded random order) until val holds
    about `val_fraction` of the labelled chips, with at least one labelled block in each
    split when there are two or more. With many blocks this is the plain `hash <
    val_fraction` rule; with few (one raster, a handful of blocks of unequal size) it keeps
    val from coming out empty or holding most of the data. The cut is stored in
    dataset.yaml, so `--append` assigns blocks exactly as before.
    """
    if existing is not None:
        return float((existing.get("split") or {}).get("val_threshold", opts.val_fraction))
    if opts.val_fraction <= 0:
        return 0.0
    per_block: dict[tuple[int, int], int] = {}
    for rows in candidates:
        for chip, _, boxes, _ in rows:
            if len(boxes):
                per_block[chip.block] = per_block.get(chip.block, 0) + 1
    if len(per_block) < 2:
        return opts.val_fraction  # a single labelled block stays wherever the hash puts it
    order = sorted(per_block, key=lambda b: _block_value(b, opts.seed))
    total = sum(per_block.values())
    best_k, best_gap, running = 1, math.inf, 0
    for k, block in enumerate(order[:-1], start=1):  # keep at least one block for train
        running += per_block[block]
        gap = abs(running / total - opts.val_fraction)
        if gap < best_gap:
            best_k, best_gap = k, gap
    return float(np.nextafter(_block_value(order[best_k - 1], opts.seed), 1.0))


def _choose_empty(empty: list[ChipRecord], n_labelled: int, opts, stem: str, split: str):
    """Empty chips to keep: at most empty_fraction of this raster's chips in this split."""
    if not empty or opts.empty_fraction <= 0:
        return []
    if opts.empty_fraction >= 1:
        return list(empty)
    n_keep = min(len(empty), int(opts.empty_fraction / (1 - opts.empty_fraction) * n_labelled))
    key = int.from_bytes(hashlib.blake2b(f"{stem}:{split}".encode(), digest_size=4).digest(), "big")
    rng = np.random.default_rng([opts.seed, key])
    picks = rng.choice(len(empty), size=n_keep, replace=False)
    return [empty[i] for i in sorted(picks)]


def _unique_stems(sources, existing, out_dir: Path) -> list[str]:
    """A source stem per raster, unique in the dataset; the same raster twice is refused."""
    used = {}
    for src in (existing or {}).get("sources", []) or []:
        used[src.get("stem")] = src.get("path")
    stems = []
    for s in sources:
        path = str(s.raster_path.absolute())
        if path in used.values():
            raise DatasetError(f"{s.raster_path} is already in this dataset", path=out_dir)
        base = _safe_stem(s.raster_path.stem)
        stem, n = base, 2
        while stem in used:
            stem, n = f"{base}_{n}", n + 1
        used[stem] = path
        stems.append(stem)
    return stems


def _safe_stem(stem: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem) or "raster"


def _crs_text(crs) -> str:
    if crs is None:
        return ""
    epsg = crs.to_epsg() if hasattr(crs, "to_epsg") else None
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


# -- writing ------------------------------------------------------------------------------


def _write(
    plan, sources, names, opts, threshold, skipped, existing, out_dir: Path, progress: bool,
    workers: int,
):  # fmt: skip
    staging = _staging_dir(out_dir, existing is not None)
    try:
        for split in SPLITS:
            (staging / "images" / split).mkdir(parents=True, exist_ok=True)
            (staging / "labels" / split).mkdir(parents=True, exist_ok=True)
        records = _write_chips(plan, sources, staging, progress, workers)
        doc = _dataset_doc(existing, out_dir, sources, plan, names, opts, threshold)
        _write_index(staging / "chips.csv", records, existing is not None, out_dir)
        _commit(staging, out_dir, doc, existing is not None)
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


def _write_chips(plan, sources, staging: Path, progress: bool, workers: int) -> list[ChipRecord]:
    """Read, encode and write every planned chip; records come back in plan order."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    records: list[ChipRecord] = []
    pending: deque = deque()
    total = sum(len(p) for p in plan)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, tqdm(
        total=total, unit="chip", desc="chips", disable=not progress
    ) as bar:
        try:
            for s, chips in zip(sources, plan):
                for rec in chips:
                    pending.append(pool.submit(_write_chip, s.view, rec, staging))
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


def _write_chip(view, rec: ChipRecord, staging: Path) -> ChipRecord:
    from PIL import Image

    img = view.read(_window(rec.x_off, rec.y_off, rec.size))
    Image.fromarray(img.pixels).save(
        staging / "images" / rec.split / f"{rec.name}.png", compress_level=1
    )
    write_yolo(staging / "labels" / rec.split / f"{rec.name}.txt", rec.boxes, (rec.size, rec.size))
    return rec


def _staging_dir(out_dir: Path, appending: bool) -> Path:
    if appending:
        staging = out_dir / f".staging-{os.getpid()}"
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = out_dir.parent / f".{out_dir.name}.building-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _dataset_doc(existing, out_dir, sources, plan, names, opts, threshold) -> dict:
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
                "crs": _crs_text(s.raster.crs),
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


def _write_index(path: Path, records: Iterable[ChipRecord], appending: bool, out_dir: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if not appending:
            writer.writerow(INDEX_FIELDS)
        for r in records:
            writer.writerow(
                [r.name, r.split, r.source, r.row, r.col, r.x_off, r.y_off, r.size,
                 *(f"{v:.6f}" for v in r.world_bounds), r.crs, len(r.boxes)]
            )  # fmt: skip


def _commit(staging: Path, out_dir: Path, doc: dict, appending: bool) -> None:
    """Move the staged chips into place; dataset.yaml goes last."""
    import yaml

    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if not appending:
        (staging / "dataset.yaml").write_text(text, encoding="utf-8")
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
    tmp = out_dir / f".dataset.yaml.tmp{os.getpid()}"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, yaml_path)
    shutil.rmtree(staging, ignore_errors=True)


# -- an existing dataset --------------------------------------------------------------------


def _existing_dataset(out_dir: Path, append: bool, overwrite: bool) -> dict | None:
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
    import yaml

    try:
        doc = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DatasetError(f"unreadable dataset.yaml ({type(exc).__name__})", path=yaml_path) from None
    if not isinstance(doc, dict) or not all(k in doc for k in ("names", "chip_size", "counts")):
        raise DatasetError("dataset.yaml lacks names/chip_size/counts: not built by debrismap chips", path=yaml_path)
    return doc


def _names_from_yaml(doc: dict) -> tuple[str, ...]:
    names = doc.get("names")
    if isinstance(names, dict):
        return tuple(str(names[k]) for k in sorted(names, key=int))
    return tuple(str(n) for n in names or ())


def _options_matching(existing: dict, opts: ChipOptions, out_dir: Path) -> ChipOptions:
    """Appended chips must match the dataset: same chip size, GSD and split scheme."""
    from dataclasses import replace

    if int(existing["chip_size"]) != opts.size:
        raise ConfigError(
            f"--size {opts.size} differs from the dataset's chip_size {existing['chip_size']} "
            f"in {out_dir}"
        )
    split = existing.get("split") or {}
    changes = {}
    if existing.get("gsd_m") is not None and opts.gsd_m is None:
        # Resample appended rasters to the dataset GSD, not to their own.
        changes["gsd_m"] = float(existing["gsd_m"])
    # The split must be the dataset's, or appended chips could land in val next to train
    # chips of the same blocks. Say so only when the user asked for something else.
    defaults = ChipOptions()
    told = []
    for attr in ("block_size_m", "seed", "val_fraction"):
        if attr in split and split[attr] is not None:
            value = int(split[attr]) if attr == "seed" else float(split[attr])
            given = getattr(opts, attr)
            if given != value and given != getattr(defaults, attr):
                told.append(f"{attr} {value:g}")
            changes[attr] = value
    if told:
        warnings.warn(
            f"{out_dir}: appending with the dataset's own {', '.join(told)}", stacklevel=3
        )
    return replace(opts, **changes)


__all__ = ["ChipDatasetSummary", "ChipOptions", "ChipRecord", "build_chips"]
