"""People's reviews in a timeline: the reviewed total and its interval on the dates that have one.

The caller checks each review against its run (`debrismap.review.file.load_review`) and hands
over the review's summary section; this module only places it on the right date. A date
without a review gets no value (an empty CSV field, null in JSON), never a zero.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from debrismap.errors import ConfigError

REVIEWED_COLUMNS = ("reviewed", "reviewed_low", "reviewed_high")


def reviews_by_date(acquisitions, reviews: dict[Path, dict]) -> list[dict | None]:
    """The review section of each acquisition (None where it has none); a review of a run
    that is not in the series is refused (before anything is written)."""
    index = {Path(a.run.path).resolve(): i for i, a in enumerate(acquisitions)}
    out: list[dict | None] = [None] * len(acquisitions)
    for run_dir, section in reviews.items():
        i = index.get(Path(run_dir).resolve())
        if i is None:
            raise ConfigError(f"--review {section['file']} {run_dir}: that run folder is not one of the "
                              "timeline's runs")
        if out[i] is not None:
            raise ConfigError(f"--review: two reviews of one run ({out[i]['file']} and {section['file']}); "
                              "give one per run")
        out[i] = section
    return out


def with_reviewed_columns(per_date: dict, by_date: list[dict | None]) -> dict:
    """per_date with reviewed / reviewed_low / reviewed_high after the detector's count range
    (None where the date has no review, or a review with too few counted cells)."""
    values = {k: [] for k in REVIEWED_COLUMNS}
    for section in by_date:
        total = (section or {}).get("total")
        for key, field in zip(REVIEWED_COLUMNS, ("estimate", "low", "high")):
            values[key].append(total[field] if total else None)
    out = {}
    for key, column in per_date.items():
        out[key] = column
        if key == "detected_high":
            out.update({k: np.asarray(v, dtype=object) for k, v in values.items()})
    return out


def add_reviews(record: dict, acquisitions, by_date: list[dict | None]) -> None:
    """timeline.json: which dates were reviewed, from which file, and what the numbers mean."""
    record["reviews"] = [
        {"date": a.date.isoformat(), "run": str(a.run.path), "reviewed": section is not None,
         **({"file": section["file"], "total": section.get("total"), "items": section["reviewed"],
             "precision": {k: section["precision"][k] for k in ("overall", "low", "high")
                           if k in section["precision"]}} if section else {})}
        for a, section in zip(acquisitions, by_date)
    ]
    interval = next(s for s in by_date if s is not None)["meaning"]["interval"]
    record["meaning"]["reviewed"] = (
        "piles in that run's whole analysed imagery, estimated from a person's review of it "
        "(`debrismap review`: grid cells drawn at random, stratified by the detector's count, in "
        "which the person counted every pile; the detector's count in every cell carries the sample "
        f"to the whole area). reviewed_low / reviewed_high: {interval}. Empty on dates nobody reviewed")


def reviewed_text(record: dict) -> list[str]:
    """summary.txt lines: the reviewed total of each date, or that it was not reviewed."""
    lines = ["", "Checked by a person (debrismap review), per date:"]
    for row, rev in zip(record["dates"], record["reviews"]):
        if not rev["reviewed"]:
            lines.append(f"  {row['date']}  not reviewed (the detector counted {row['detected']:,})")
            continue
        t, items = rev["total"], rev["items"]
        what = (f"{items['cells_counted']} cells counted, "
                f"{items['detections_yes'] + items['detections_no'] + items['detections_unsure']} "
                f"detections checked, in {rev['file']}")
        if t is None:
            lines.append(f"  {row['date']}  no estimate: fewer than 2 cells counted ({what})")
        else:
            lines.append(f"  {row['date']}  estimated {t['estimate']:,.0f} piles, 95% interval {t['low']:,.0f} "
                         f"to {t['high']:,.0f} (the detector counted {row['detected']:,}; {what})")
    lines.append("  Each is an estimate for that run's whole analysed imagery (the imaged km² above), from "
                 "grid cells drawn at random in which the person counted every pile; the interval covers "
                 "sampling error only: not piles the person also missed or misjudged, nor ground outside "
                 "the imagery. Dates not reviewed have no estimate.")
    return lines
