"""Atomic file writes: a temp file beside the target, then one rename.

Every file debrismap writes for a user or for resume goes through here, so a killed process
or a full disk never leaves half a file under the final name, and a failed write always ends
in the same one-line `OutputError` (with "no space left on device" spelled out, because that
is the failure a user can fix).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from debrismap.errors import OutputError


def no_space_error(path: str | Path) -> OutputError:
    return OutputError(
        "no space left on device; nothing finished was lost — free some space and rerun with --resume",
        path=path,
    )


def write_error(exc: OSError, path: str | Path) -> OutputError:
    """The one-line error for a failed write: full disk named as such, anything else by its reason."""
    if exc.errno == errno.ENOSPC:
        return no_space_error(path)
    return OutputError(f"cannot write ({exc.strerror or exc})", path=path)


def ensure_dir(path: str | Path) -> Path:
    """Create an output folder, or say in one line why it cannot be."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise OutputError("output path exists and is not a folder", path=path) from exc
    except OSError as exc:
        raise OutputError(f"cannot create output folder ({exc.strerror})", path=path) from exc
    return path


def temp_path_for(path: str | Path) -> Path:
    """A hidden temp name beside `path`, with the same suffix (GDAL picks drivers by suffix)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")


@contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; rename it onto `path` if the block succeeds.

    The temp file is removed whatever happens; an OSError (from the block or the rename)
    becomes a one-line OutputError that keeps the OS error as its cause.
    """
    path = Path(path)
    tmp = temp_path_for(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(exc, path) from exc
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_target(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    with atomic_target(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    return Path(path)


def write_json(path: str | Path, data: object, **dumps_options) -> Path:
    options = {"indent": 2, "ensure_ascii": False, **dumps_options}
    return write_text(path, json.dumps(data, **options) + "\n")


def write_csv(path: str | Path, columns: dict[str, list | object]) -> Path:
    """Write equal-length columns as CSV (floats with enough digits to round-trip counts)."""
    names = list(columns)
    rows = zip(*(list(columns[n]) for n in names))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return write_text(path, buf.getvalue())


def _csv_cell(value: object) -> object:
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        v = float(value)  # type: ignore[arg-type]
        if math.isnan(v):  # NaN: an empty cell, not the string "nan"
            return ""
        return f"{v:.12g}"
    if type(value).__name__ == "bool_":
        return bool(value)
    return value
