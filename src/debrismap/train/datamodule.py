"""LightningDataModule over a chip dataset: augmented train loader, plain val loader."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from debrismap.train.augment import TrainTransform, ValTransform
from debrismap.train.dataset import ChipDataset, collate, read_dataset_info


def round_up(value: int, multiple: int = 32) -> int:
    return -(-value // multiple) * multiple


class ChipDataModule(pl.LightningDataModule):
    """Train chips are randomly cropped to imgsz (or to `crop`, around piles) and augmented;
    val chips are only padded.

    Validation runs on whole chips (padded to a multiple of the network stride), because a
    fully convolutional detector does not care and cropping would hide piles from the metric.
    """

    def __init__(
        self,
        root: str | Path,
        imgsz: int = 256,
        batch_size: int = 16,
        num_workers: int = 4,
        augment: bool = True,
        mosaic: float = 0.0,
        scale_jitter: float = 0.2,
        crop: int = 0,
        crop_background: float = 0.25,
    ):
        super().__init__()
        self.info = read_dataset_info(root)  # fail early, before any model is built
        self.imgsz = imgsz
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.augment = augment
        self.mosaic = mosaic
        self.scale_jitter = scale_jitter
        self.crop = crop
        self.crop_background = crop_background
        self.val_size = round_up(max(imgsz, self.info.chip_size or imgsz))
        self.train_set: ChipDataset | None = None
        self.val_set: ChipDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        nc = len(self.info.names)
        if self.train_set is None:
            self.train_set = ChipDataset(
                self.info.train_images,
                nc,
                TrainTransform(
                    self.imgsz,
                    self.scale_jitter,
                    self.mosaic,
                    self.augment,
                    crop=self.crop,
                    crop_background=self.crop_background,
                ),
            )
        if self.val_set is None:
            self.val_set = ChipDataset(self.info.val_images, nc, ValTransform(self.val_size))

    def _loader(self, dataset: ChipDataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=collate,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            drop_last=shuffle and len(dataset) > self.batch_size,  # no 1-image BN batches
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
