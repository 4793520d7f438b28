"""Where the bundled default model lives, and the model file's sha256 for provenance.

One rule, so users and docs can rely on it: the default model is
`debrismap/models/debrismap-default.onnx` inside the installed package (package data,
found with importlib.resources), and, for a source checkout, `<repo>/models/debrismap-default.onnx`.
On the CPU its int8 twin `debrismap-default-int8.onnx` (same weights, quantised; about 1.4x
faster on an AVX2 CPU at the same validation recall) is taken first when it is there.
The environment variable DEBRISMAP_MODEL overrides all of them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

DEFAULT_MODEL_NAME = "debrismap-default.onnx"
DEFAULT_INT8_MODEL_NAME = "debrismap-default-int8.onnx"


def default_model_names(device: str = "cpu") -> list[str]:
    """The bundled files that may serve as the default on `device`, preferred first.

    int8 only on the CPU: the CUDA provider runs a quantised graph slower than fp32.
    """
    return [DEFAULT_INT8_MODEL_NAME, DEFAULT_MODEL_NAME] if device == "cpu" else [DEFAULT_MODEL_NAME]


def default_model_candidates(device: str = "cpu") -> list[Path]:
    """Every place the bundled model may be, in the order they are tried."""
    candidates: list[Path] = []
    override = os.environ.get("DEBRISMAP_MODEL")
    if override:
        candidates.append(Path(override))
    folders: list[Path] = []
    try:
        from importlib.resources import files

        folders.append(Path(str(files("debrismap") / "models")))
    except (ModuleNotFoundError, TypeError):  # zipped or odd installs: fall through to the repo
        pass
    # src/debrismap/detect/model_file.py -> parents[3] is the repository root in a checkout.
    folders.append(Path(__file__).resolve().parents[3] / "models")
    candidates += [folder / name for folder in folders for name in default_model_names(device)]
    return candidates


def find_default_model(device: str = "cpu") -> Path | None:
    """The bundled default model for `device`, or None when this install does not ship one."""
    for path in default_model_candidates(device):
        if path.is_file():
            return path
    return None


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
