"""Gather the run folders of a series (batch folders or run folders), dated, in one metric CRS.

A batch folder is any folder whose sub-folders are run folders (what `debrismap batch`
writes, `batch.json` beside them); a run folder is what `debrismap detect --out` writes.
Each acquisition keeps its detections at and below the operating threshold: the weak ones
tell the tracker that an absence on that date is not certain.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import CRS

from debrismap.aggregate.run_folder import RunFolder, load_run
from debrismap.errors import ConfigError, DatasetError
from debrismap.geometry.crs import metric_crs_for, reproject, transform_points
from debrismap.timeline.dates import dated_runs


@dataclass
class Acquisition:
    """One dated run, in the series' metric CRS; `correct` moves it onto the reference."""

    run: RunFolder
    date: dt.date
    date_source: str
    coverage: shapely.Geometry  # metric, as imaged (before correction)
    centres: np.ndarray  # (N, 2) metric, score >= operating threshold, inside coverage
    boxes: np.ndarray  # shapely boxes (metric) of those
    scores: np.ndarray
    weak_centres: np.ndarray  # (M, 2) detections recorded below the operating threshold
    all_scores: np.ndarray  # every recorded score inside coverage (for the count range)
    offset: tuple[float, float] = (0.0, 0.0)  # east, north metres from the reference
    quality: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.run.path.name

    @property
    def gsd_m(self) -> float | None:
        value = self.run.first_input.get("gsd_m")
        return float(value) if value is not None else None

    def corrected(self, xy: np.ndarray) -> np.ndarray:
        return np.asarray(xy, float).reshape(-1, 2) - np.asarray(self.offset)

    @property
    def corrected_coverage(self) -> shapely.Geometry:
        return shapely.transform(self.coverage, lambda c: c - np.asarray(self.offset))

    def corrected_boxes(self) -> np.ndarray:
        return np.asarray(shapely.transform(self.boxes, lambda c: c - np.asarray(self.offset)), dtype=object)


def find_run_folders(paths: list[str | Path]) -> list[Path]:
    """Expand batch folders into their run folders; keep run folders as given."""
    found: list[Path] = []
    for given in paths:
        p = Path(given)
        if not p.is_dir():
            raise DatasetError("not a run folder or batch folder (no such directory)", path=p)
        if (p / "run.json").exists():
            found.append(p)
            continue
        runs = sorted(q for q in p.iterdir() if q.is_dir() and (q / "run.json").exists())
        if not runs:
            raise DatasetError("neither a run folder (no run.json) nor a batch folder "
                               "(no sub-folder holds a run.json)", path=p)
        found += runs
    unique = list(dict.fromkeys(q.resolve() for q in found))
    if len(unique) < 2:
        raise DatasetError("a timeline needs at least two runs of the place; got "
                           f"{len(unique)}", path=paths[0] if paths else None)
    return unique


def load_series(paths: list[str | Path], dates_file: str | Path | None = None,
                reference: str | None = None) -> tuple[list[Acquisition], int, CRS]:
    """(acquisitions sorted by date, index of the reference, metric CRS)."""
    runs = [load_run(p) for p in find_run_folders(paths)]
    dated = sorted(dated_runs(runs, dates_file), key=lambda t: (t[1], t[0].path.name))
    ref_index = _reference_index(dated, reference)
    ref_run = dated[ref_index][0]
    metric = metric_crs_for(ref_run.crs, ref_run.coverage)
    acquisitions = [_acquisition(run, date, source, metric) for run, date, source in dated]
    return acquisitions, ref_index, metric


def _reference_index(dated, reference: str | None) -> int:
    """The run named by --reference (a date or run folder name), else the largest coverage."""
    if reference:
        from debrismap.timeline.dates import parse_date

        wanted = parse_date(reference)
        for i, (run, date, _) in enumerate(dated):
            if run.path.name == reference or (wanted is not None and date == wanted):
                return i
        raise ConfigError(f"--reference {reference}: no run has that date or folder name "
                          f"(dates: {', '.join(sorted({d.isoformat() for _, d, _ in dated}))})")
    areas = [run.coverage.area if run.crs.is_projected else 0.0 for run, _, _ in dated]
    if not any(areas):  # geographic coverages: compare in degrees², fine for choosing
        areas = [run.coverage.area for run, _, _ in dated]
    return int(np.argmax(areas))


def _acquisition(run: RunFolder, date: dt.date, source: str, metric: CRS) -> Acquisition:
    coverage = shapely.make_valid(reproject(run.coverage, run.crs, metric, densify=True))
    shapely.prepare(coverage)
    centres = transform_points(run.box_centres(), run.crs, metric)
    inside = (shapely.intersects_xy(coverage, centres[:, 0], centres[:, 1]) if len(centres)
              else np.zeros(0, bool))
    strong = inside & (run.scores >= run.operating_threshold - 1e-12)
    weak = inside & ~strong
    boxes = np.asarray(reproject(run.boxes[strong], run.crs, metric, densify=True), dtype=object)
    return Acquisition(run, date, source, coverage, centres[strong], boxes, run.scores[strong],
                       centres[weak], run.scores[inside])
