"""debrismap.chips' pure parts on numbers alone: the block-aligned grid, the block split, the
empty-chip choice and box clipping. No raster, no file: expected values are worked by hand."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from affine import Affine

from debrismap.chips import ChipOptions, GridChip, block_aligned_chips
from debrismap.chips.grid import block_segments, chip_starts, default_block_size_m
from debrismap.chips.plan import boxes_in_chip
from debrismap.chips.sampling import choose_empty
from debrismap.chips.split import block_split, block_value, val_threshold
from debrismap.errors import ConfigError
from debrismap.labels import Boxes

# -- grid ---------------------------------------------------------------------------------------


def test_block_segments_on_a_block_aligned_axis():
    # Pixels [0, 10) at 1 unit each; blocks of 4: [0, 4), [4, 8), [8, 12) cut by the end.
    assert block_segments(10, 0.0, 1.0, 4.0) == [(0, 0, 4), (1, 4, 8), (2, 8, 10)]


def test_block_segments_leave_out_pixels_cut_by_a_block_edge():
    # Pixel p spans [0.5 + p, 1.5 + p): pixel 3 straddles x = 4 and pixel 7 straddles x = 8.
    assert block_segments(10, 0.5, 1.0, 4.0) == [(0, 0, 3), (1, 4, 7), (2, 8, 10)]


def test_block_segments_on_a_north_up_y_axis():
    # Rows run south from y = 100 to y = 90: block 24 is [96, 100) = rows 0..3, and so on.
    assert block_segments(10, 100.0, -1.0, 4.0) == [(22, 8, 10), (23, 4, 8), (24, 0, 4)]


def test_chip_starts_inside_a_block():
    # 704 = 256 + 2 * 224: three chips at exactly 32 px overlap.
    assert chip_starts(0, 704, 1000, 256, 32) == [0, 224, 448]
    # One pixel more is within the 2 px slack: still three chips, the last flush with the end.
    assert chip_starts(0, 705, 1000, 256, 32) == [0, 224, 449]
    # Three pixels more: a fourth chip, spread evenly (0, 150.3, 300.7, 451 rounded).
    assert chip_starts(0, 707, 1000, 256, 32) == [0, 150, 301, 451]
    assert chip_starts(300, 556, 1000, 256, 32) == [300]  # exactly one chip


def test_chip_starts_of_a_block_shorter_than_a_chip():
    assert chip_starts(0, 100, 100, 256, 32) == [0]  # raster narrower than a chip: pad past it
    assert chip_starts(0, 100, 500, 256, 32) == [-156]  # cut by the raster's start: reach back
    assert chip_starts(400, 500, 500, 256, 32) == [400]  # cut by the raster's end: reach out
    assert chip_starts(100, 200, 500, 256, 32) == []  # inside the raster: no chip fits


def test_default_block_size_is_a_whole_number_of_strides_of_at_least_256_m():
    assert default_block_size_m(256, 32, 0.5) == 352.0  # 256 + 2 * 224 px at 0.5 m
    assert default_block_size_m(128, 0, 1.0) == 256.0  # 128 + 1 * 128 px at 1 m
    # A chip footprint over 256 m: at least one stride more than a chip (256 + 224 px at 2 m).
    assert default_block_size_m(256, 32, 2.0) == 960.0


def _view(width: int, height: int) -> SimpleNamespace:
    # 1 unit per pixel, top-left corner at (0, height): no CRS, so blocks count pixels.
    return SimpleNamespace(width=width, height=height, gsd_m=1.0, transform=Affine(1, 0, 0, 0, -1, height))


def test_block_aligned_chips_on_a_small_raster():
    # 20 x 10 px, 8 px blocks, 4 px chips without overlap.
    # x blocks: [0, 8) -> chips at 0, 4; [8, 16) -> 8, 12; [16, 20) -> 16 (one chip fits).
    # y (world 0..10, rows counted down from y = 10): block 0 = world [0, 8) = rows 2..9 ->
    # chips at rows 2, 6; block 1 = world [8, 16) = rows 0..1, shorter than a chip and cut by
    # the raster's top -> one chip reaching 2 rows above the raster, at -2.
    opts = ChipOptions(size=4, overlap=0, block_size_m=8.0)
    chips = block_aligned_chips(_view(20, 10), None, opts, Path("r.tif"))
    assert len(chips) == 15
    assert [(c.x_off, c.y_off) for c in chips[:5]] == [(0, -2), (4, -2), (8, -2), (12, -2), (16, -2)]
    assert chips[0] == GridChip(0, -2, 0, 0, (0, 1))
    assert chips[-1] == GridChip(16, 6, 2, 4, (2, 0))
    assert {c.block for c in chips if c.y_off == 2} == {(0, 0), (1, 0), (2, 0)}
    assert [c.block[0] for c in chips if c.y_off == 6] == [0, 0, 1, 1, 2]


def test_block_smaller_than_a_chip_names_the_raster_and_the_chip_footprint():
    opts = ChipOptions(size=10, overlap=0, block_size_m=8.0)
    with pytest.raises(ConfigError, match=r"--block-size 8 m is smaller than one chip of r\.tif \(about 10 m\)"):
        block_aligned_chips(_view(20, 10), None, opts, Path("r.tif"))


# -- split --------------------------------------------------------------------------------------

# Pinned hash values: a changed hash would move blocks of existing datasets between splits on
# --append (the stored cut would no longer mean the same blocks).
SEED0 = {(0, 1): 0.010903327618464506, (0, 0): 0.6978145653686135, (1, 1): 0.8848535676889937, (1, 0): 0.9655433524115177}
SEED1 = {(0, 1): 0.035798788959498645, (1, 1): 0.14900813875246746, (1, 0): 0.18024161064463662, (0, 0): 0.932759856977332}
# Labelled chips per block, 20 in all.
COUNTS = {(0, 0): 5, (1, 0): 10, (0, 1): 2, (1, 1): 3}


def test_block_value_is_pinned_per_seed_and_block():
    for seed, values in [(0, SEED0), (1, SEED1)]:
        for block, value in values.items():
            assert block_value(block, seed) == value


def _val_blocks(threshold: float, seed: int) -> set:
    return {b for b in COUNTS if block_split(b, seed, threshold) == "val"}


def test_val_threshold_takes_blocks_in_hash_order_until_val_is_nearest_the_fraction():
    # Seed 0 order: (0,1) 2 chips, (0,0) 5, (1,1) 3, (1,0) 10. Running share: 0.10, 0.35, 0.50.
    # val 0.3: nearest is 0.35 (two blocks); the cut sits just above (0,0)'s hash.
    cut = val_threshold(COUNTS, 0.3, 0)
    assert cut == np.nextafter(SEED0[(0, 0)], 1.0)
    assert _val_blocks(cut, 0) == {(0, 1), (0, 0)}
    # val 0.2: 0.10 (gap 0.10) beats 0.35 (gap 0.15): one block.
    assert _val_blocks(val_threshold(COUNTS, 0.2, 0), 0) == {(0, 1)}
    # val 0.9: 0.50 is nearest, and the last block in hash order always stays in train.
    assert _val_blocks(val_threshold(COUNTS, 0.9, 0), 0) == {(0, 1), (0, 0), (1, 1)}
    # A tie (shares 0.25 and 0.5, both 0.125 from 0.375) goes to the smaller val.
    even = dict.fromkeys(COUNTS, 2)
    assert val_threshold(even, 0.375, 0) == np.nextafter(SEED0[(0, 1)], 1.0)


def test_the_seed_picks_the_val_blocks():
    # Seed 1 order: (0,1) 2, (1,1) 3, (1,0) 10, (0,0) 5. Running share: 0.10, 0.25, 0.75.
    assert _val_blocks(val_threshold(COUNTS, 0.3, 1), 1) == {(0, 1), (1, 1)}


def test_val_threshold_edge_cases():
    assert val_threshold(COUNTS, 0.0, 0) == 0.0  # no val at all
    assert _val_blocks(0.0, 0) == set()
    assert val_threshold({(0, 0): 7}, 0.2, 0) == 0.2  # one block: the plain hash rule
    assert val_threshold({}, 0.2, 0) == 0.2


# -- empty chips ----------------------------------------------------------------------------------


def test_choose_empty_keeps_a_seeded_share():
    empty = list(range(10))
    # empty_fraction 0.2 of all chips with 8 labelled: 0.2 / 0.8 * 8 = 2 empty chips.
    two = choose_empty(empty, 8, 0.2, 0, "city", "train")
    assert len(two) == 2 and two == sorted(two) and set(two) <= set(empty)
    assert choose_empty(empty, 8, 0.2, 0, "city", "train") == two  # same seed, same pick
    picks = {tuple(choose_empty(empty, 8, 0.2, s, "city", "train")) for s in range(20)}
    assert len(picks) > 1  # the seed changes the pick
    assert choose_empty(empty, 100, 0.5, 0, "city", "val") == empty  # capped at what there is
    assert choose_empty(empty, 8, 1.0, 0, "city", "val") == empty
    assert choose_empty(empty, 8, 0.0, 0, "city", "val") == []
    assert choose_empty([], 8, 0.5, 0, "city", "val") == []


# -- boxes in a chip ---------------------------------------------------------------------------


def test_boxes_cut_by_the_chip_edge_are_clipped_or_dropped():
    # A 20 x 20 px box across x = 128: 8 px (0.4 of it) in chip 0, 12 px (0.6) in chip 1.
    boxes = Boxes(np.array([[120.0, 50, 140, 70], [300, 300, 310, 310]]), [0, 0], pixel=True)
    left, partial = boxes_in_chip(boxes, 0, 0, 128, 0.4)
    np.testing.assert_allclose(left.xyxy, [[120, 50, 128, 70]])
    assert not partial and left.pixel
    right, partial = boxes_in_chip(boxes, 128, 0, 128, 0.4)
    np.testing.assert_allclose(right.xyxy, [[0, 50, 12, 70]])  # in chip pixels
    assert not partial
    dropped, partial = boxes_in_chip(boxes, 0, 0, 128, 0.5)
    assert len(dropped) == 0 and partial  # the fragment is gone, and the chip knows it
    far, partial = boxes_in_chip(boxes, 0, 256, 128, 0.5)
    assert len(far) == 0 and not partial  # nothing touches: an honest empty chip
