"""Train/val by spatial block: a seeded hash per block and the cut that sizes val (no I/O).

Blocks join val in the order of their hash (a seeded random order) until val holds about
`val_fraction` of the labelled chips. The cut is stored in dataset.yaml, so `--append`
assigns every block exactly as before, and rasters of one place share their blocks' split.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

Block = tuple[int, int]


def block_value(block: Block, seed: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, block): the same in every run and append."""
    digest = hashlib.blake2b(f"{seed}:{block[0]}:{block[1]}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def block_split(block: Block, seed: int, threshold: float) -> str:
    """'val' for a block whose hash is under the cut, else 'train'."""
    return "val" if block_value(block, seed) < threshold else "train"


def val_threshold(labelled_per_block: dict[Block, int], val_fraction: float, seed: int) -> float:
    """The hash cut below which a block is val, chosen so val holds ~val_fraction of chips.

    labelled_per_block: labelled chips in each block. When there are two or more, each split
    gets at least one of them. With many blocks this is the plain `hash <
    val_fraction` rule; with few (one raster, a handful of blocks of unequal size) it keeps
    val from coming out empty or holding most of the data.
    """
    if val_fraction <= 0:
        return 0.0
    if len(labelled_per_block) < 2:
        return val_fraction  # a single labelled block stays wherever the hash puts it
    order = sorted(labelled_per_block, key=lambda b: block_value(b, seed))
    total = sum(labelled_per_block.values())
    best_k, best_gap, running = 1, math.inf, 0
    for k, block in enumerate(order[:-1], start=1):  # keep at least one block for train
        running += labelled_per_block[block]
        gap = abs(running / total - val_fraction)
        if gap < best_gap:
            best_k, best_gap = k, gap
    return float(np.nextafter(block_value(order[best_k - 1], seed), 1.0))
