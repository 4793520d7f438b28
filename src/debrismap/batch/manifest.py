"""The batch's own record: DIR/batch.json (everything) and DIR/batch.csv (one row per acquisition).

Each row says which input, its acquisition date, status, detections, analysed area, timings,
and the one-line error of an acquisition that failed. Both files are rewritten whole (temp
file + rename) as the batch goes, so a killed batch leaves a readable record behind.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path

from debrismap.atomic import write_json, write_text

BATCH_JSON = "batch.json"
BATCH_CSV = "batch.csv"
CSV_COLUMNS = ("name", "input", "acquisition_date", "acquisition_date_source", "status", "detections", "area_km2",
               "tiles", "tiles_run", "bands", "wall_s", "worker_s", "model_s", "error")


@dataclass
class RunRecord:
    name: str
    run_dir: str
    origin: str
    sources: list[str]
    acquisition_date: str | None = None
    acquisition_date_source: str | None = None
    status: str = "pending"  # pending, running, complete, failed
    previously_complete: bool = False  # finished by an earlier batch; skipped by --resume
    detections: int | None = None
    area_km2: float | None = None
    tiles: int | None = None  # tiles analysed in all
    tiles_run: int = 0  # tiles run by this batch (fewer after --resume)
    bands: int = 0  # band tasks run by this batch
    timings: dict = field(default_factory=dict)  # wall_s (client clock), worker_s, model_s, plan_s, finish_s
    heatmap: str | None = None
    error: str | None = None

    def csv_row(self) -> dict:
        return {"name": self.name, "input": ";".join(self.sources), "acquisition_date": self.acquisition_date,
                "acquisition_date_source": self.acquisition_date_source, "status": self.status,
                "detections": self.detections, "area_km2": None if self.area_km2 is None else round(self.area_km2, 4),
                "tiles": self.tiles, "tiles_run": self.tiles_run, "bands": self.bands,
                "wall_s": self.timings.get("wall_s"), "worker_s": self.timings.get("worker_s"),
                "model_s": self.timings.get("model_s"), "error": self.error}


def write_batch_files(out: Path, header: dict, records: list[RunRecord]) -> None:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status] = counts.get(record.status, 0) + 1
    write_json(out / BATCH_JSON, {**header, "counts": counts,
                                  "detections": sum(r.detections or 0 for r in records),
                                  "acquisitions": [asdict(r) for r in records]},
               default=str, ensure_ascii=True)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if v is None else v for k, v in record.csv_row().items()})
    write_text(out / BATCH_CSV, text.getvalue())
