"""The project's named exceptions: one module, so callers catch by meaning.

Every error a user can cause (bad file, bad flag, bad model) is raised as a
`DebrismapError` subclass whose message is one line naming the file and the
problem. The CLI prints that line and exits non-zero; anything else is a bug.
"""

from __future__ import annotations

from pathlib import Path


class DebrismapError(Exception):
    """Base class: the message is shown to the user as one line."""

    exit_code = 2

    def __init__(self, message: str, path: str | Path | None = None):
        self.path = str(path) if path is not None else None
        text = " ".join(str(message).split())  # one line, always
        super().__init__(f"{self.path}: {text}" if self.path else text)


class RasterError(DebrismapError):
    """A raster cannot be opened, read, or is unsuitable (band layout, CRS, GSD)."""


class LabelError(DebrismapError):
    """A label file is malformed, empty, in the wrong CRS, or outside the raster."""


class ModelError(DebrismapError):
    """A model file is not ONNX, is truncated, or lacks debrismap metadata."""


class OutputError(DebrismapError):
    """An output folder cannot be written, is locked, or holds a different run."""


class ConfigError(DebrismapError):
    """A flag or config file value is invalid."""


class DatasetError(DebrismapError):
    """A chip dataset or run folder is missing pieces or inconsistent."""


# Warnings: something was skipped or assumed, and the result is still usable. The CLI shows
# each as one `debrismap VERB: warning: ...` line. Named here, not beside the code that warns,
# so a caller can filter them by meaning (and none shadows a library's own class names).


class DebrismapWarning(UserWarning):
    """Base class of debrismap's warnings."""


class LabelWarning(DebrismapWarning):
    """Some labels were skipped or dropped; the rest are usable."""


class UngeoreferencedRasterWarning(DebrismapWarning):
    """The raster has no georeferencing: work happens in pixel coordinates."""


class GsdUnknownWarning(DebrismapWarning):
    """A target GSD was asked for but the raster's own GSD is unknown; no resampling."""
