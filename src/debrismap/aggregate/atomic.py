"""Atomic file writes for the aggregate outputs: temp file beside the target, then rename.

A figure or CSV that an editor opens must never be half-written, even if the process
is killed mid-write, so every output goes through `atomic_target`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def ensure_dir(path: str | Path) -> Path:
    """Create an output folder, or say in one line why it cannot be."""
    from debrismap.errors import OutputError

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError("output path exists and is not a folder", path=path) from None
    except OSError as exc:
        raise OutputError(f"cannot create output folder ({exc.strerror})", path=path) from None
    return path


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """Yield a temp path in the same folder; rename it onto `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path: str | Path, text: str) -> Path:
    with atomic_target(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, data: object) -> Path:
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_csv(path: str | Path, columns: dict[str, list | object]) -> Path:
    """Write equal-length columns as CSV (floats with enough digits to round-trip counts)."""
    import csv
    import io

    names = list(columns)
    rows = zip(*(list(columns[n]) for n in names))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return write_text(path, buf.getvalue())


def _cell(value: object) -> object:
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        v = float(value)  # type: ignore[arg-type]
        if math.isnan(v):  # NaN: an empty cell, not the string "nan"
            return ""
        return f"{v:.12g}"
    if type(value).__name__ == "bool_":
        return bool(value)
    return value
