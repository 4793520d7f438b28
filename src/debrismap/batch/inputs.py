"""The INPUT arguments of `batch` -> acquisitions, each one future run folder.

An argument may be a raster, a folder (every raster inside, not recursive), a glob, a text
list (`.txt`/`.csv`/`.lst`: one path a line, optionally followed by the acquisition date; `#`
starts a comment; relative paths are relative to the list) or a STAC file (see stac.py).
Each raster is its own acquisition; a STAC acquisition may gather many items.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from debrismap.batch.stac import group_stac, is_stac_file
from debrismap.detect.inputs import RASTER_SUFFIXES
from debrismap.errors import ConfigError, RasterError

LIST_SUFFIXES = {".txt", ".csv", ".lst", ".list"}


@dataclass
class Acquisition:
    name: str  # the run folder's name under --out
    sources: list[str]  # rasters (paths, or GDAL paths for remote STAC assets)
    origin: str  # the argument (and line / item) it came from, for batch.json
    date: str | None = None  # known from the list or STAC; else detect reads it from the imagery
    date_source: str | None = None  # "list" or "stac"
    mosaic: bool = False  # sources are tiles of one acquisition: detect reads them through one VRT
    epsg: list[int | None] = field(default_factory=list)  # per source (STAC), to group tiles by CRS

    def to_dict(self) -> dict:
        return {"name": self.name, "sources": self.sources, "origin": self.origin, "date": self.date,
                "date_source": self.date_source, "mosaic": self.mosaic}


def _iso_date(text: str) -> str | None:
    """The text as an ISO 8601 date or date-time, normalised; None when it is not one."""
    text = text.strip()
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return text if len(text) == 10 else when.isoformat()


def _read_list(path: Path) -> list[tuple[Path, str | None, str]]:
    """(raster, date, origin) per line of a text list."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the list ({exc})", path=path) from exc
    rows = []
    for number, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        # Columns are split by a tab, comma or semicolon, else by blanks (a path with blanks needs one of those).
        match = re.match(r"^(.*?)\s*[\t,;]\s*([^\t,;]*)$", line) or re.match(r"^(\S+)\s+(.+)$", line)
        name, date = (match.group(1).strip().strip('"'), match.group(2).strip()) if match else (line, "")
        if number == 1 and date.lower() in ("date", "acquisition_date", "datetime"):
            continue  # a CSV header
        if date:
            found = _iso_date(date)
            if found is None:
                raise ConfigError(f"line {number}: {date!r} is not an ISO 8601 date "
                                  "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)", path=path)
            date = found
        raster = Path(name)
        raster = raster if raster.is_absolute() else path.parent / raster
        if not raster.exists():
            raise RasterError(f"file not found (line {number} of {path.name})", path=raster)
        rows.append((raster, date, f"{path}:{number}"))
    if not rows:
        raise ConfigError("the list names no rasters", path=path)
    return rows


def _rasters_in(folder: Path) -> list[Path]:
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in RASTER_SUFFIXES)
    if not found:
        raise RasterError(f"folder holds no rasters ({', '.join(sorted(RASTER_SUFFIXES))})", path=folder)
    return found


def safe_name(text: str) -> str:
    """A folder name from an acquisition key: letters, digits, '.', '_' and '-' only."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "acquisition"
    return name[:120]


def collect_acquisitions(args: list[str | Path]) -> list[Acquisition]:
    """Every acquisition named by the arguments, in order; the same raster only once."""
    found: list[Acquisition] = []
    for arg in args:
        path = Path(arg)
        if not path.exists() and any(ch in str(arg) for ch in "*?["):
            matches = sorted(glob.glob(str(arg), recursive=True))
            if not matches:
                raise RasterError("no file matches this pattern", path=str(arg))
            found += [Acquisition(Path(m).stem, [m], str(arg)) for m in matches if Path(m).is_file()]
        elif path.is_dir():
            found += [Acquisition(p.stem, [str(p)], str(arg)) for p in _rasters_in(path)]
        elif not path.exists():
            raise RasterError("file not found", path=path)
        elif path.suffix.lower() in LIST_SUFFIXES:
            found += [Acquisition(r.stem, [str(r)], origin, date or None, "list" if date else None)
                      for r, date, origin in _read_list(path)]
        elif is_stac_file(path):
            for acq in group_stac(path):
                local = all("://" not in a.href and not a.href.startswith("/vsi") for a in acq.assets)
                found.append(Acquisition(
                    safe_name(acq.key), [a.href for a in acq.assets], f"{path}:{acq.key}", acq.date,
                    "stac" if acq.date else None, mosaic=len(acq.assets) > 1 or not local,
                    epsg=[a.epsg for a in acq.assets],
                ))
        else:
            found.append(Acquisition(path.stem, [str(path)], str(arg)))
    return _unique(found)


def _unique(found: list[Acquisition]) -> list[Acquisition]:
    """Drop repeats of the same sources; give acquisitions that share a name -2, -3... in input order."""
    seen_sources: set[tuple[str, ...]] = set()
    seen_names: dict[str, int] = {}
    unique = []
    for acq in found:
        key = tuple(str(Path(s).resolve()) if "://" not in s and not s.startswith("/vsi") else s for s in acq.sources)
        if key in seen_sources:
            continue
        seen_sources.add(key)
        acq.name = safe_name(acq.name)
        count = seen_names.get(acq.name.lower(), 0) + 1
        seen_names[acq.name.lower()] = count
        if count > 1:
            acq.name = f"{acq.name}-{count}"
        unique.append(acq)
    if not unique:
        raise RasterError("no input rasters given")
    return unique
