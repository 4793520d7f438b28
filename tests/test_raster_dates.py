"""Acquisition dates (raster/dates.py): imagery metadata, EXIF, JSON descriptions, file names."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from test_raster_source import write_tif

from debrismap.raster import acquisition_date_from_name, open_raster


def test_acquisition_date_from_tags(tmp_path):
    data = np.zeros((3, 8, 8), np.uint8)
    path = write_tif(tmp_path / "dated.tif", data)
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(TIFFTAG_DATETIME="2024:05:01 10:00:00")  # file write time: ignored
    with open_raster(path) as src:
        assert src.acquisition_date is None
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(ns="IMAGERY", ACQUISITIONDATETIME="2023-02-12T08:21:33Z")
    with open_raster(path) as src:
        assert src.acquisition_date == "2023-02-12T08:21:33"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("adiyaman_s110_20230212T112019Z_rgb_50cm_post.jpg", "2023-02-12T11:20:19"),
        ("naip_m_4709963_se_14_1_20200831.tif", "2020-08-31"),
        ("city_2023-02-12.tif", "2023-02-12"),
        ("OAM-1238424-1046544-21.png", None),  # tile numbers, not dates
        ("2019_YELL_2_541000_4977000_image_crop.tiff", None),
        ("pair_20200101_vs_20210101.tif", None),  # two dates: ambiguous
        ("scene_20231345.tif", None),  # not a calendar date
    ],
)
def test_acquisition_date_from_file_name(name, expected):
    assert acquisition_date_from_name(name) == expected


def test_metadata_date_wins_over_file_name(tmp_path):
    path = write_tif(tmp_path / "scene_20200101.tif", np.zeros((3, 8, 8), np.uint8))
    with open_raster(path) as src:
        assert (src.acquisition_date, src.acquisition_date_source) == ("2020-01-01", "file name")
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(ns="IMAGERY", ACQUISITIONDATETIME="2023-02-12T08:21:33Z")
    with open_raster(path) as src:
        assert (src.acquisition_date, src.acquisition_date_source) == (
            "2023-02-12T08:21:33",
            "metadata",
        )
