"""The acquisition date of each run of a series, and where it came from.

In order: the date detect (or batch) recorded in run.json; the imagery's own metadata
(read again, for runs made before detect recorded dates); a date in the input file's name
(`YYYYMMDD` or `YYYY-MM-DD`); the user's `--dates FILE`. TIFFTAG_DATETIME is not used, as
in `debrismap info`: it is when the file was written, not when the image was taken.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import rasterio

from debrismap.aggregate.run_folder import RunFolder
from debrismap.errors import ConfigError, DatasetError
from debrismap.raster import acquisition_date_from_name, find_acquisition_date


def parse_date(text: str) -> dt.date | None:
    """The calendar date at the start of an ISO 8601 text (time of day ignored), else None."""
    text = str(text).strip()
    for candidate in (text[:10], text[:8]):
        for fmt in ("%Y-%m-%d", "%Y%m%d"):
            try:
                return dt.datetime.strptime(candidate, fmt).date()
            except ValueError:
                continue
    return None


def read_dates_file(path: str | Path) -> dict[str, dt.date]:
    """`--dates FILE`: one `NAME,DATE` per line (CSV, `#` comments); NAME is a run folder's
    name or path, or its input raster's file name or stem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the dates file ({exc.__class__.__name__})", path=path) from exc
    dates: dict[str, dt.date] = {}
    first = True
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise ConfigError(f"line {lineno}: expected NAME,DATE", path=path)
        name, when = row[0].strip(), row[1].strip()
        date = parse_date(when)
        if date is None and first:  # a header line such as "run,date"
            first = False
            continue
        first = False
        if date is None:
            raise ConfigError(f"line {lineno}: {when!r} is not a date (use YYYY-MM-DD)", path=path)
        dates[name] = date
    if not dates:
        raise ConfigError("the dates file holds no NAME,DATE lines", path=path)
    return dates


def run_date(run: RunFolder, given: dict[str, dt.date] | None = None) -> tuple[dt.date | None, str | None]:
    """(date, source) for one run; (None, None) when nothing records one."""
    inp = run.first_input
    recorded = parse_date(inp.get("acquisition_date") or "")
    if recorded is not None:
        return recorded, "run.json" + (f" ({inp['acquisition_date_source']})"
                                       if inp.get("acquisition_date_source") else "")
    raster = run.input_raster_path()
    if raster is not None:
        found = _metadata_date(raster)
        if found is not None:
            return found, "imagery metadata"
    for text in (inp.get("path"), str(raster) if raster else None):
        found = parse_date(acquisition_date_from_name(text) or "") if text else None
        if found is not None:
            return found, "file name"
    for key in _names(run):
        if given and key in given:
            return given[key], "--dates"
    return None, None


def dated_runs(runs: list[RunFolder], dates_file: str | Path | None = None) -> list[tuple[RunFolder, dt.date, str]]:
    """Each run with its date and the date's source; one DatasetError naming every undated run."""
    given = read_dates_file(dates_file) if dates_file else None
    out, missing = [], []
    for run in runs:
        date, source = run_date(run, given)
        if date is None:
            missing.append(run.path.name)
        else:
            out.append((run, date, source))
    if missing:
        raise DatasetError(
            f"no acquisition date for {len(missing)} run(s): {', '.join(missing)} — none in run.json, "
            "the imagery's metadata or the file name; pass --dates FILE with NAME,YYYY-MM-DD lines"
        )
    return out


def _metadata_date(raster: Path) -> dt.date | None:
    try:
        with rasterio.open(raster) as ds:
            return parse_date(find_acquisition_date(ds) or "")
    except rasterio.errors.RasterioIOError:
        return None


def _names(run: RunFolder) -> list[str]:
    names = [run.path.name, str(run.path)]
    text = run.first_input.get("path")
    if text:
        names += [Path(text).name, Path(text).stem]
    return names
