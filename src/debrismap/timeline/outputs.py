"""`run_timeline`: run folders of one place in, tracked piles with dates and per-date counts out.

Orchestration only: load and date the runs (series, dates), move them onto the reference
(coregister), judge each image (quality), follow the piles (track), tabulate (tables),
draw (figures), and write every file atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyproj import CRS

from debrismap import __version__
from debrismap.aggregate.figure import save
from debrismap.aggregate.writers import with_lon_lat
from debrismap.atomic import ensure_dir, write_csv, write_json, write_text
from debrismap.errors import ConfigError
from debrismap.geometry.crs import crs_label, reproject
from debrismap.timeline.coregister import Offset, estimate_offsets
from debrismap.timeline.figures import first_seen_figure, timeline_figure
from debrismap.timeline.quality import assess
from debrismap.timeline.reviewed import (
    add_reviews,
    reviewed_text,
    reviews_by_date,
    with_reviewed_columns,
)
from debrismap.timeline.series import load_series
from debrismap.timeline.tables import bracket_counts, cell_columns, date_columns, pile_columns
from debrismap.timeline.track import track_piles
from debrismap.vector_io import write_vector

DEFAULT_MATCH_DISTANCE = 4.0
DEFAULT_CELL = 100.0


@dataclass
class TimelineOutputs:
    out_dir: Path
    piles_gpkg: Path
    piles_geojson: Path
    timeline_csv: Path
    cells_csv: Path
    timeline_json: Path
    timeline_png: Path
    first_seen_png: Path
    summary_txt: Path
    record: dict


def run_timeline(
    runs: list[str | Path],
    out_dir: str | Path,
    match_distance: float = DEFAULT_MATCH_DISTANCE,
    cell: float = DEFAULT_CELL,
    reference: str | None = None,
    dates_file: str | Path | None = None,
    coregister: bool = True,
    title: str | None = None,
    credit: str | None = None,
    progress=print,
    reviews: dict[Path, dict] | None = None,
) -> TimelineOutputs:
    """Track the piles of `runs` and write the timeline's files into `out_dir`.

    reviews: resolved run folder -> the review section `debrismap.review.summary.review_summary`
    made of a person's review of that run (checked against it by the caller): its dates get
    the reviewed total and interval beside the detector's count.
    """
    for name, value in (("--match-distance", match_distance), ("--cell", cell)):
        if not (value > 0 and np.isfinite(value)):
            raise ConfigError(f"{name} must be a positive number of metres, got {value}")
    acquisitions, ref_index, metric = load_series(runs, dates_file, reference)
    by_date = reviews_by_date(acquisitions, reviews or {})
    progress(f"{len(acquisitions)} acquisitions from {acquisitions[0].date} to {acquisitions[-1].date}; "
             f"reference {acquisitions[ref_index].name} ({acquisitions[ref_index].date})")

    def report(acq, off) -> None:
        progress(f"  {acq.date}  {acq.name}: offset {off.east_m:+.2f} m east, {off.north_m:+.2f} m north "
                 f"({off.status})")

    if coregister:
        offsets = estimate_offsets(acquisitions, ref_index, metric, report)
    else:
        offsets = [Offset(0.0, 0.0, "reference" if i == ref_index else "not estimated (--no-coregister)")
                   for i in range(len(acquisitions))]
    for acq, off in zip(acquisitions, offsets):
        acq.offset = (off.east_m, off.north_m)
    assess(acquisitions)
    progress("tracking piles and writing the tables and figures ...")
    tracks = track_piles(
        [a.corrected(a.centres) for a in acquisitions], [a.scores for a in acquisitions],
        [a.corrected_coverage for a in acquisitions], [a.corrected(a.weak_centres) for a in acquisitions],
        [not a.quality["degraded"] for a in acquisitions], match_distance)

    out = ensure_dir(out_dir)
    piles = pile_columns(tracks, acquisitions)
    boxes = _pile_boxes(tracks, acquisitions)
    gpkg = write_vector(out / "piles.gpkg", boxes, metric, piles, layer="piles", geometry_type="Polygon")
    geojson = write_vector(out / "piles.geojson", reproject(boxes, metric, CRS.from_epsg(4326), densify=True),
                           "EPSG:4326", piles, layer="piles", geometry_type="Polygon")
    per_date = date_columns(tracks, acquisitions)
    if reviews:
        per_date = with_reviewed_columns(per_date, by_date)
    timeline_csv = write_csv(out / "timeline.csv", per_date)
    cells_csv = write_csv(out / "cells_timeline.csv", with_lon_lat(cell_columns(tracks, acquisitions, cell), metric))
    brackets = bracket_counts(piles)
    record = _record(acquisitions, offsets, ref_index, metric, per_date, brackets, match_distance, cell)
    if reviews:
        add_reviews(record, acquisitions, by_date)
    timeline_json = write_json(out / "timeline.json", record)
    credit = credit or _credit(acquisitions)
    png = save(timeline_figure(per_date, title=title, credit=credit), out / "timeline.png")
    first_png = save(first_seen_figure(tracks, acquisitions, ref_index, metric, credit=credit), out / "first_seen.png")
    summary = write_text(out / "summary.txt", summary_text(record))
    return TimelineOutputs(out, gpkg, geojson, timeline_csv, cells_csv, timeline_json, png, first_png, summary, record)


def _pile_boxes(tracks, acquisitions) -> np.ndarray:
    """Each pile's box: its best-scoring detection, moved onto the reference."""
    corrected = [a.corrected_boxes() for a in acquisitions]
    out = []
    for t in range(len(tracks)):
        d = int(np.nanargmax(tracks.score[:, t]))
        out.append(corrected[d][tracks.detection[d, t]])
    return np.asarray(out, dtype=object)


def _credit(acquisitions) -> str | None:
    credits = list(dict.fromkeys(a.run.first_input.get("credit") for a in acquisitions if a.run.first_input.get("credit")))
    return "; ".join(credits) if credits else None


def _record(acquisitions, offsets, ref_index, metric, per_date, brackets, match_distance, cell) -> dict:
    return {
        "software_version": __version__,
        "metric_crs": crs_label(metric),
        "reference": {"run": acquisitions[ref_index].name, "date": acquisitions[ref_index].date.isoformat()},
        "parameters": {"match_distance_m": match_distance, "cell_m": cell},
        "runs": [
            {
                "run": str(a.run.path),
                "name": a.name,
                "date": a.date.isoformat(),
                "date_source": a.date_source,
                "inputs": [inp.get("path") for inp in a.run.manifest.get("inputs") or []],
                "offset": off.to_dict(),
                "imaged_km2": round(a.coverage.area / 1e6, 4),
                "operating_threshold": a.run.operating_threshold,
                "detections_counted": len(a.centres),
                "quality": a.quality,
            }
            for a, off in zip(acquisitions, offsets)
        ],
        "dates": [{k: _plain(v[i]) for k, v in per_date.items()} for i in range(len(acquisitions))],
        "piles": brackets,
        "meaning": {
            "count": "piles present that date within the imaged ground: detected then, or detected both "
                     "before and after (a miss between two sightings is not a disappearance)",
            "new": "piles first detected that date whose ground was imaged without them before",
            "first_seen": "the first date the pile was detected",
            "last_absent": "the last imaged date before first_seen (it was not detected there)",
            "appeared_after": "the last date before first_seen whose absence is evidence: a good image "
                              "(not hazy or coarser) with no weaker detection there; the pile appeared "
                              "after it and by first_seen (empty: no such date, the bracket is open)",
            "bracket_days": "days from appeared_after to first_seen",
        },
    }


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def summary_text(record: dict) -> str:
    b = record["piles"]
    runs = record["runs"]
    lines = [
        (f"{b['piles']:,} debris piles tracked over {len(runs)} acquisitions "
        f"({runs[0]['date']} to {runs[-1]['date']}), matched within "
        f"{record['parameters']['match_distance_m']:g} m after co-registration onto {record['reference']['date']}."),
        (f"  {b['bracket_within_a_month']:,} piles have an appearance bracket of a month or less "
        "(not detected on a good image at most 31 days before they were first seen);"),
        f"  {b['bracket_longer']:,} have a longer bracket;",
        (f"  {b['open_bracket']:,} have an open bracket (no good image without them before: "
        "there on the first date, or the earlier images were hazy, coarser or showed a weak detection)."),
        "",
        "date        present  new  detected (low-high)  imaged km²",
    ]
    for row in record["dates"]:
        flags = (" partial" if row["partial"] else "") + (f" [{row['degraded']}]" if row["degraded"] else "")
        lines.append(f"{row['date']}  {row['count']:7,}  {row['new']:3,}  {row['detected']:6,} "
                     f"({row['detected_low']:,}-{row['detected_high']:,})  {row['imaged_km2']:10.3f}{flags}")
    lines += ["", "Offsets onto the reference (metres east, north):"]
    for r in runs:
        off = r["offset"]
        lines.append(f"  {r['date']}  {r['name']}: {off['east_m']:+.2f}, {off['north_m']:+.2f} ({off['status']})")
    if "reviews" in record:
        lines += reviewed_text(record)
    lines += ["", ("Counts are automated detections, not verified on the ground; see timeline.json for what "
              "each column means.")]
    return "\n".join(lines) + "\n"
