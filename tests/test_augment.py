"""Augmentations keep every box tight around its pixels (property tests with hypothesis)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

pytest.importorskip("albumentations")
pytest.importorskip("cv2")

from debrismap.train.augment import (
    A,
    _bbox_params,
    apply,
    geometric_transforms,
    mosaic,
    val_pipeline,
)
from debrismap.train.dataset import Sample

TOL = 2.0  # px: linear resampling blurs an edge over about one pixel


def coloured_bounds(image: np.ndarray, colour, tolerance: int = 60):
    """Tight pixel-corner box of the pixels close to `colour`, or None."""
    close = np.all(np.abs(image.astype(int) - np.asarray(colour)) <= tolerance, axis=2)
    ys, xs = np.nonzero(close)
    if not len(xs):
        return None
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)


boxes_st = st.tuples(
    st.integers(0, 100), st.integers(0, 100), st.integers(8, 60), st.integers(8, 60)
).map(lambda t: (t[0], t[1], min(t[0] + t[2], 128), min(t[1] + t[3], 128)))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(box=boxes_st, seed=st.integers(0, 2**31 - 1), size=st.sampled_from([128, 160]))
def test_geometric_augmentation_keeps_box_on_pixels(box, seed, size):
    colour = (230, 40, 170)
    image = np.zeros((size, size, 3), np.uint8)  # black = the pad value, so padding is no colour
    x0, y0, x1, y1 = box
    image[y0:y1, x0:x1] = colour
    # crop to 96 so that random crops, pads and shifts all get exercised
    pipeline = A.Compose(
        geometric_transforms(96, scale_jitter=0.2), bbox_params=_bbox_params(), seed=seed
    )
    out = apply(pipeline, Sample(image, np.array([box], np.float32), np.array([0]), "x"))
    assert out.image.shape == (96, 96, 3)
    found = coloured_bounds(out.image, colour)
    if len(out.boxes) == 0:
        # dropped: then (almost) none of it is left, or only a sliver under the visibility floor
        area = (x1 - x0) * (y1 - y0)
        visible = 0 if found is None else np.prod(found[2:] - found[:2])
        assert visible <= 0.3 * area * 1.25**2 + 4 * TOL * 60
        return
    assert found is not None, "a box survived but its pixels did not"
    assert np.abs(out.boxes[0] - found).max() <= TOL, (out.boxes[0], found)


@settings(max_examples=15, deadline=None)
@given(box=boxes_st, size=st.sampled_from([100, 128, 150]))
def test_validation_pad_crop_keeps_boxes(box, size):
    image = np.zeros((128, 128, 3), np.uint8)
    x0, y0, x1, y1 = box
    image[y0:y1, x0:x1] = (10, 250, 10)
    out = apply(val_pipeline(size), Sample(image, np.array([box], np.float32), np.array([0]), "x"))
    assert out.image.shape == (size, size, 3)
    found = coloured_bounds(out.image, (10, 250, 10))
    assume(found is not None and len(out.boxes))
    assert np.abs(out.boxes[0] - found).max() <= 1e-3  # no resampling: exact


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_mosaic_keeps_boxes_on_pixels(seed):
    rng = np.random.default_rng(seed)
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250), (250, 250, 0)]
    samples = []
    for colour in colours:
        image = np.zeros((64, 64, 3), np.uint8)
        x0, y0 = rng.integers(0, 40, 2)
        w, h = rng.integers(6, 24, 2)
        image[y0 : y0 + h, x0 : x0 + w] = colour
        samples.append(
            Sample(image, np.array([[x0, y0, x0 + w, y0 + h]], np.float32), np.array([0]), "x")
        )
    out = mosaic(samples, 64, random.Random(seed))
    assert out.image.shape == (64, 64, 3)
    for box in out.boxes:
        # which chip's rectangle is it? the colour under the box centre says
        cx, cy = int((box[0] + box[2]) / 2), int((box[1] + box[3]) / 2)
        colour = tuple(int(c) for c in out.image[min(cy, 63), min(cx, 63)])
        assert colour in colours
        found = coloured_bounds(out.image, colour, tolerance=0)
        assert np.abs(box - found).max() <= 1e-3


def test_photometric_pipeline_runs_and_keeps_boxes():
    from debrismap.train.augment import TrainTransform

    image = np.full((128, 128, 3), 60, np.uint8)
    image[20:50, 30:70] = 220
    sample = Sample(image, np.array([[30, 20, 70, 50]], np.float32), np.array([0]), "x")
    transform = TrainTransform(128, scale_jitter=0.0, mosaic_p=0.0, augment=True)
    for _ in range(10):
        out = transform(sample, None)
        assert out.image.shape == (128, 128, 3) and out.image.dtype == np.uint8
        assert len(out.boxes) == 1
        w, h = out.boxes[0][2] - out.boxes[0][0], out.boxes[0][3] - out.boxes[0][1]
        assert sorted([round(w), round(h)]) == [30, 40]  # dihedral moves only; size unchanged
