"""ChipOptions: every knob of a chip build, its checks, and how an append adopts the dataset's."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

from debrismap.errors import ConfigError


@dataclass(frozen=True)
class ChipOptions:
    """Every knob of a chip build (the CLI flags, one to one)."""

    size: int = 256
    overlap: int = 32
    gsd_m: float | None = None  # resample to this GSD; None = the rasters' own
    bands: tuple[int, ...] | None = None
    class_field: str | None = None
    labels_crs: str | None = None
    point_size_m: float = 6.0
    min_valid: float = 0.5
    empty_fraction: float = 0.2
    min_visible: float = 0.4
    block_size_m: float | None = None  # None: 256 m, or twice the chip footprint if larger
    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        # One type per field whatever the caller passed (128 or 128.0, a list of bands), so
        # dataset.yaml and the append checks see the same value for the same request.
        as_type = {
            "size": int, "overlap": int, "seed": int, "point_size_m": float,
            "min_valid": float, "empty_fraction": float, "min_visible": float,
            "val_fraction": float,
        }  # fmt: skip
        for name, kind in as_type.items():
            object.__setattr__(self, name, kind(getattr(self, name)))
        object.__setattr__(self, "bands", tuple(self.bands) if self.bands else None)
        if self.block_size_m is not None:
            object.__setattr__(self, "block_size_m", float(self.block_size_m))

    def check(self) -> None:
        problems = []
        if not 8 <= self.size <= 8192:
            problems.append(f"--size must be 8..8192 pixels, got {self.size}")
        if not 0 <= self.overlap < self.size:
            problems.append(f"--overlap must be >= 0 and < --size, got {self.overlap}")
        if self.gsd_m is not None and not (math.isfinite(self.gsd_m) and self.gsd_m > 0):
            problems.append(f"--gsd must be a positive number of metres, got {self.gsd_m}")
        for name, value in [
            ("--min-valid", self.min_valid),
            ("--empty-fraction", self.empty_fraction),
            ("--min-visible", self.min_visible),
            ("--val-fraction", self.val_fraction),
        ]:
            if not 0 <= value <= 1:
                problems.append(f"{name} must be between 0 and 1, got {value}")
        if self.block_size_m is not None and not (
            math.isfinite(self.block_size_m) and self.block_size_m > 0
        ):
            problems.append(f"--block-size must be a positive number of metres, got {self.block_size_m}")
        if not (math.isfinite(self.point_size_m) and self.point_size_m > 0):
            problems.append(f"--point-size must be a positive number of metres, got {self.point_size_m}")
        if problems:
            raise ConfigError(problems[0])


def options_matching_dataset(existing: dict, opts: ChipOptions, out_dir: Path) -> ChipOptions:
    """Appended chips must match the dataset: same chip size, GSD and split scheme."""
    if int(existing["chip_size"]) != opts.size:
        raise ConfigError(
            f"--size {opts.size} differs from the dataset's chip_size {existing['chip_size']} "
            f"in {out_dir}"
        )
    split = existing.get("split") or {}
    changes = {}
    if existing.get("gsd_m") is not None and opts.gsd_m is None:
        # Resample appended rasters to the dataset GSD, not to their own.
        changes["gsd_m"] = float(existing["gsd_m"])
    # The split must be the dataset's, or appended chips could land in val next to train
    # chips of the same blocks. Say so only when the user asked for something else.
    defaults = ChipOptions()
    told = []
    for attr in ("block_size_m", "seed", "val_fraction"):
        if attr in split and split[attr] is not None:
            value = int(split[attr]) if attr == "seed" else float(split[attr])
            given = getattr(opts, attr)
            if given != value and given != getattr(defaults, attr):
                told.append(f"{attr} {value:g}")
            changes[attr] = value
    if told:
        warnings.warn(
            f"{out_dir}: appending with the dataset's own {', '.join(told)}", stacklevel=3
        )
    return replace(opts, **changes)
