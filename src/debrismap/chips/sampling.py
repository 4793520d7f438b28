"""Which empty chips (no label) a build keeps: a seeded share of each raster's chips per split."""

from __future__ import annotations

import hashlib
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def choose_empty(
    empty: list[T], n_labelled: int, empty_fraction: float, seed: int, stem: str, split: str
) -> list[T]:
    """Empty chips to keep: at most empty_fraction of this raster's chips in this split.

    The choice is fixed by (seed, stem, split), so a rebuild keeps the same chips.
    """
    if not empty or empty_fraction <= 0:
        return []
    if empty_fraction >= 1:
        return list(empty)
    n_keep = min(len(empty), int(empty_fraction / (1 - empty_fraction) * n_labelled))
    key = int.from_bytes(hashlib.blake2b(f"{stem}:{split}".encode(), digest_size=4).digest(), "big")
    rng = np.random.default_rng([seed, key])
    picks = rng.choice(len(empty), size=n_keep, replace=False)
    return [empty[i] for i in sorted(picks)]
