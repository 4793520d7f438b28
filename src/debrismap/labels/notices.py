"""One warning line for recoverable label problems (skipped geometries, dropped boxes)."""

from __future__ import annotations

import warnings
from pathlib import Path

from debrismap.errors import LabelWarning


def warn_labels(path: str | Path | None, message: str) -> None:
    text = f"{path}: {message}" if path is not None else message
    warnings.warn(text, LabelWarning, stacklevel=3)
