"""Where the bundled default model lives, and the model file's sha256 for provenance.

One rule, so users and docs can rely on it: the default model is
`debrismap/models/debrismap-default.onnx` inside the installed package (package data,
found with importlib.resources), and, for a source checkout, `<repo>/models/debrismap-default.onnx`.
The environment variable DEBRISMAP_MODEL overrides both.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DEFAULT_MODEL_NAME = "debrismap-default.onnx"


def default_model_candidates() -> list[Path]:
    """Every place the bundled model may be, in the order they are tried."""
    candidates: list[Path] = []
    override = os.environ.get("DEBRISMAP_MODEL")
    if override:
        candidates.append(Path(override))
    try:
        from importlib.resources import files

        candidates.append(Path(str(files("debrismap") / "models" / DEFAULT_MODEL_NAME)))
    except (ModuleNotFoundError, TypeError):  # zipped or odd installs: fall through to the repo
        pass
    # src/debrismap/detect/model_file.py -> parents[3] is the repository root in a checkout.
    candidates.append(Path(__file__).resolve().parents[3] / "models" / DEFAULT_MODEL_NAME)
    return candidates


def find_default_model() -> Path | None:
    """The bundled default model, or None when this install does not ship one."""
    for path in default_model_candidates():
        if path.is_file():
            return path
    return None


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
