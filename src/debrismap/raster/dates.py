"""When an image was taken: from imagery metadata, EXIF or a JSON description, else the file name.

Only acquisition dates count; dates the file was written or processed (TIFFTAG_DATETIME,
a second date in a pre/post pair's name) are ignored, so a wrong date is never reported.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import rasterio

from debrismap.raster.gdal_errors import gdal_errors

# Metadata keys that hold an acquisition (not processing) date, in GDAL's metadata
# domains: IMAGERY is filled by GDAL's DIMAP/Pléiades, DigitalGlobe, etc. readers.
_DATE_KEYS = (
    "ACQUISITIONDATETIME",
    "ACQUISITION_DATE",
    "ACQUISITIONDATE",
    "ACQUISITION_DATETIME",
    "DATE_ACQUIRED",
    "IMAGING_DATE",
    "CAPTURE_DATE",
    "ACQUIRED",
    "EXIF_DATETIMEORIGINAL",
)
_DATE_RE = re.compile(r"(\d{4})[-:/](\d{2})[-:/](\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")


def find_acquisition_date(ds: rasterio.io.DatasetReader) -> str | None:
    """Acquisition date (ISO 8601) from imagery metadata, EXIF or a JSON description; else None.

    TIFFTAG_DATETIME is deliberately ignored: it is when the file was written.
    """
    candidates: dict[str, str] = {}
    for ns in (None, "IMAGERY"):
        try:
            tags = ds.tags(ns=ns) if ns else ds.tags()
        except gdal_errors():
            continue
        for key, value in tags.items():
            candidates.setdefault(key.upper(), value)
    description = candidates.get("TIFFTAG_IMAGEDESCRIPTION", "")
    if description.lstrip().startswith("{"):
        try:
            meta = json.loads(description)
            if isinstance(meta, dict):
                for key, value in meta.items():
                    if isinstance(value, str):
                        candidates.setdefault(key.upper(), value)
        except ValueError:
            pass
    for key in _DATE_KEYS:
        if key in candidates:
            iso = _iso_date(candidates[key])
            if iso:
                return iso
    return None


def _iso_date(text: str) -> str | None:
    m = _DATE_RE.search(text)
    if not m:
        return None
    y, mo, d, hh, mm, ss = m.groups()
    if hh is None:
        return f"{y}-{mo}-{d}"
    return f"{y}-{mo}-{d}T{hh}:{mm}:{ss or '00'}"


# Compact dates in file names, as vendors write them: 20230212, 20230212T112019Z, 2023-02-12.
_NAME_DATE_RE = re.compile(
    r"(?<![0-9])((?:19|20)[0-9]{2})-?(0[1-9]|1[0-2])-?(0[1-9]|[12][0-9]|3[01])"
    r"(?:T([01][0-9]|2[0-3])([0-5][0-9])([0-5][0-9])Z?)?(?![0-9])"
)


def acquisition_date_from_name(path: str | Path) -> str | None:
    """The one date written in a file name (Planet, NAIP, Maxar style), else None.

    Names with two different dates (pre/post pairs, processing dates) are ambiguous and
    give None rather than a guess.
    """
    found = set()
    for m in _NAME_DATE_RE.finditer(Path(path).name):
        y, mo, d, hh, mm, ss = m.groups()
        try:
            dt.date(int(y), int(mo), int(d))
        except ValueError:
            continue
        found.add(f"{y}-{mo}-{d}" + (f"T{hh}:{mm}:{ss}" if hh else ""))
    days = {f[:10] for f in found}
    if len(days) != 1:
        return None
    return max(found, key=len)  # prefer the one with a time of day


def acquisition_date(ds: rasterio.io.DatasetReader, path: str | Path) -> tuple[str | None, str | None]:
    """(ISO 8601 date, where it came from: "metadata" or "file name"), or (None, None)."""
    found = find_acquisition_date(ds)
    if found:
        return found, "metadata"
    found = acquisition_date_from_name(path)
    return (found, "file name") if found else (None, None)
