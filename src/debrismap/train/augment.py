"""Augmentations for overhead chips: albumentations pipelines that keep boxes on their pixels.

Overhead imagery has no "up", so all eight flips/rotations are valid. The model is pinned to
one ground sample distance (detect resamples imagery to it), so zoom is only jittered a little
and chips are cropped or padded to the input size, never resized.
"""

from __future__ import annotations

import random

import albumentations as A
import cv2
import numpy as np

from debrismap.train.dataset import Sample

PAD_VALUE = 0  # what detect feeds for pixels beyond the raster edge
MIN_VISIBILITY = 0.25  # a pile cut to less than this share of its box is dropped, not half-taught
MIN_SIDE_PX = 2.0


def _bbox_params() -> A.BboxParams:
    return A.BboxParams(
        format="pascal_voc",  # pixel-corner x0 y0 x1 y1, the project's convention
        label_fields=["classes"],
        min_visibility=MIN_VISIBILITY,
        min_width=MIN_SIDE_PX,
        min_height=MIN_SIDE_PX,
        clip=True,
        filter_invalid_bboxes=True,
    )


def geometric_transforms(imgsz: int, scale_jitter: float = 0.2) -> list:
    """Bbox-safe geometry: crop/pad to imgsz, the dihedral group, a small zoom and shift."""
    steps = [
        A.RandomCrop(imgsz, imgsz, pad_if_needed=True, pad_position="random", fill=PAD_VALUE),
        A.HorizontalFlip(p=0.5),
        A.VerticalFlip(p=0.5),
        A.RandomRotate90(p=1.0),
    ]
    if scale_jitter > 0:
        steps.append(
            A.Affine(
                scale=(1 - scale_jitter, 1 + scale_jitter),
                translate_percent=(-0.1, 0.1),
                keep_ratio=True,
                rotate=0,
                border_mode=cv2.BORDER_CONSTANT,
                fill=PAD_VALUE,
                p=0.5,
            )
        )
    return steps


def photometric_transforms() -> list:
    """Sensor, season and processing differences: colour, gamma, blur, noise, compression."""
    return [
        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.5),
        A.HueSaturationValue(hue_shift_limit=8, sat_shift_limit=20, val_shift_limit=10, p=0.4),
        A.RandomGamma(gamma_limit=(80, 120), p=0.3),
        A.OneOf(
            [
                A.GaussianBlur(blur_limit=(3, 5), sigma_limit=(0.3, 1.2)),
                A.GaussNoise(std_range=(0.01, 0.05)),
            ],
            p=0.3,
        ),
        A.ImageCompression(quality_range=(40, 95), p=0.3),
    ]


def train_pipeline(imgsz: int, scale_jitter: float = 0.2, photometric: bool = True) -> A.Compose:
    steps = geometric_transforms(imgsz, scale_jitter)
    if photometric:
        steps += photometric_transforms()
    return A.Compose(steps, bbox_params=_bbox_params())


def val_pipeline(size: int) -> A.Compose:
    """No augmentation: pad to `size` (bottom/right) and crop anything beyond it."""
    return A.Compose(
        [
            A.PadIfNeeded(
                size, size, position="top_left", border_mode=cv2.BORDER_CONSTANT, fill=PAD_VALUE
            ),
            A.Crop(0, 0, size, size),
        ],
        bbox_params=_bbox_params(),
    )


def apply(pipeline: A.Compose, sample: Sample) -> Sample:
    out = pipeline(image=sample.image, bboxes=sample.boxes, classes=sample.classes)
    boxes = np.asarray(out["bboxes"], np.float32).reshape(-1, 4)
    classes = np.asarray(out["classes"], np.int64).reshape(-1)
    return Sample(out["image"], boxes, classes, sample.path)


def _fit(sample: Sample, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-left crop/pad a chip to size x size without resampling."""
    h, w = sample.image.shape[:2]
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[: min(h, size), : min(w, size)] = sample.image[:size, :size]
    boxes = np.clip(sample.boxes, 0, size)
    return canvas, boxes, sample.classes


def mosaic(samples: list[Sample], size: int, rng: random.Random) -> Sample:
    """Four chips side by side on a 2x canvas, then a random size x size window of it.

    Unlike ultralytics' mosaic this never rescales, so pile sizes stay true to the GSD.
    """
    canvas = np.full((2 * size, 2 * size, 3), PAD_VALUE, np.uint8)
    all_boxes, all_classes = [], []
    for i, s in enumerate(samples[:4]):
        image, boxes, classes = _fit(s, size)
        ox, oy = (i % 2) * size, (i // 2) * size
        canvas[oy : oy + size, ox : ox + size] = image
        all_boxes.append(boxes + np.array([ox, oy, ox, oy], np.float32))
        all_classes.append(classes)
    x0, y0 = rng.randint(0, size), rng.randint(0, size)
    boxes = np.concatenate(all_boxes).reshape(-1, 4) - np.array([x0, y0, x0, y0], np.float32)
    classes = np.concatenate(all_classes)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    clipped = np.clip(boxes, 0, size)
    kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (
        (kept_area >= MIN_VISIBILITY * np.maximum(area, 1e-9))
        & (clipped[:, 2] - clipped[:, 0] >= MIN_SIDE_PX)
        & (clipped[:, 3] - clipped[:, 1] >= MIN_SIDE_PX)
    )
    image = np.ascontiguousarray(canvas[y0 : y0 + size, x0 : x0 + size])
    return Sample(image, clipped[keep].astype(np.float32), classes[keep], samples[0].path)


def pile_crop(sample: Sample, size: int, background: float, rng: random.Random) -> Sample:
    """A size x size window of a chip: around a random pile, or (share `background`, or when
    the chip has none) anywhere, so the model still sees plain roofs, roads and yards.

    The pile lands anywhere inside the window, not always at its centre, so the network does
    not learn that piles sit mid-tile. Chips smaller than `size` are returned whole (the
    pipeline pads them).
    """
    h, w = sample.image.shape[:2]
    if h <= size and w <= size:
        return sample
    if len(sample.boxes) and rng.random() >= background:
        x0, y0, x1, y1 = sample.boxes[rng.randrange(len(sample.boxes))]
        # window origins that keep the whole pile (or as much as fits) inside the window
        ox = rng.uniform(max(0.0, x1 - size), max(0.0, min(x0, w - size)))
        oy = rng.uniform(max(0.0, y1 - size), max(0.0, min(y0, h - size)))
        ox, oy = int(min(ox, max(0, w - size))), int(min(oy, max(0, h - size)))
    else:
        ox, oy = rng.randint(0, max(0, w - size)), rng.randint(0, max(0, h - size))
    image = np.ascontiguousarray(sample.image[oy : oy + size, ox : ox + size])
    boxes = sample.boxes - np.array([ox, oy, ox, oy], np.float32)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    clipped = np.clip(boxes, 0, [image.shape[1], image.shape[0]] * 2)
    kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (
        (kept_area >= MIN_VISIBILITY * np.maximum(area, 1e-9))
        & (clipped[:, 2] - clipped[:, 0] >= MIN_SIDE_PX)
        & (clipped[:, 3] - clipped[:, 1] >= MIN_SIDE_PX)
    )
    return Sample(image, clipped[keep].astype(np.float32), sample.classes[keep], sample.path)


class TrainTransform:
    """Picklable (for dataloader workers) train-time transform: optional pile-centred crop,
    optional mosaic, then albumentations.

    `crop` (0 = off) trains on crop x crop windows of the chips, around piles or, for a share
    `crop_background` of them, anywhere: the network is fully convolutional, so it learns the
    same weights from fewer pixels, and detect and validation still run on whole tiles.
    """

    def __init__(
        self,
        imgsz: int,
        scale_jitter: float = 0.2,
        mosaic_p: float = 0.0,
        augment: bool = True,
        crop: int = 0,
        crop_background: float = 0.25,
    ):
        self.imgsz = crop or imgsz  # the side of the training batches
        self.crop = crop
        self.crop_background = crop_background
        self.mosaic_p = mosaic_p
        self.augment = augment
        size = self.imgsz
        self.pipeline = train_pipeline(size, scale_jitter) if augment else val_pipeline(size)

    def _window(self, sample: Sample, rng: random.Random) -> Sample:
        return pile_crop(sample, self.crop, self.crop_background, rng) if self.crop else sample

    def __call__(self, sample: Sample, dataset) -> Sample:
        # the module-level RNG: Lightning seeds it differently in each dataloader worker
        rng = random._inst  # type: ignore[attr-defined]
        sample = self._window(sample, rng)
        if self.augment and self.mosaic_p > 0 and rng.random() < self.mosaic_p:
            others = [self._window(dataset.load(rng.randrange(len(dataset))), rng) for _ in range(3)]
            sample = mosaic([sample, *others], self.imgsz, rng)
        return apply(self.pipeline, sample)


class ValTransform:
    def __init__(self, size: int):
        self.pipeline = val_pipeline(size)

    def __call__(self, sample: Sample, dataset) -> Sample:
        return apply(self.pipeline, sample)
