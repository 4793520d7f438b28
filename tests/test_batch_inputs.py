"""`batch` inputs without a cluster: lists with dates, globs, folders, STAC grouping, mosaics, SLURM config."""

from __future__ import annotations

import json

import numpy as np
import pytest
from affine import Affine
from test_detect_oracle import draw_squares, write_raster

from debrismap.batch.engine import make_slurm_cluster, read_slurm_config, start_engine
from debrismap.batch.inputs import collect_acquisitions
from debrismap.batch.vrt import write_mosaic_vrt
from debrismap.cli import main
from debrismap.errors import ConfigError, RasterError


@pytest.fixture
def rasters(tmp_path):
    img = draw_squares(64, 64, [(10, 10)])
    (tmp_path / "scenes").mkdir()
    return [write_raster(tmp_path / "scenes" / f"{name}.tif", img) for name in ("alpha", "beta")]


def test_list_with_dates_header_comments_and_relative_paths(tmp_path, rasters):
    listing = tmp_path / "list.csv"
    listing.write_text("path,date\nscenes/alpha.tif,2023-02-09\n# skipped\nscenes/beta.tif\t2023-03-01T10:20:00\n")
    found = collect_acquisitions([listing])
    assert [(a.name, a.date, a.date_source) for a in found] == [
        ("alpha", "2023-02-09", "list"), ("beta", "2023-03-01T10:20:00", "list")]
    assert found[0].sources == [str(tmp_path / "scenes" / "alpha.tif")]


def test_list_errors_name_the_line(tmp_path, rasters):
    listing = tmp_path / "list.txt"
    listing.write_text("scenes/alpha.tif 9 Feb 2023\n")
    with pytest.raises(ConfigError, match="line 1: .* is not an ISO 8601 date"):
        collect_acquisitions([listing])
    listing.write_text("scenes/alpha.tif\nscenes/gamma.tif\n")
    with pytest.raises(RasterError, match="gamma.tif: file not found \\(line 2"):
        collect_acquisitions([listing])


def test_globs_folders_repeats_and_name_clashes(tmp_path, rasters):
    other = tmp_path / "other"
    other.mkdir()
    write_raster(other / "alpha.tif", draw_squares(64, 64, []))
    found = collect_acquisitions([str(tmp_path / "scenes" / "*.tif"), tmp_path / "scenes", other])
    assert [a.name for a in found] == ["alpha", "beta", "alpha-2"]  # the folder repeats the glob: once each
    with pytest.raises(RasterError, match="no file matches"):
        collect_acquisitions([str(tmp_path / "nothing*.tif")])


def test_stac_catalog_groups_by_platform_and_datetime(tmp_path, rasters):
    import pystac

    catalog = pystac.Catalog("c", "test catalog")
    later = [write_raster(tmp_path / f"later{k}.tif", draw_squares(64, 64, [])) for k in range(2)]
    for k, raster in enumerate(rasters + later):
        when = "2023-02-09T08:15:00Z" if k < 2 else "2023-04-01T09:00:00Z"
        item = pystac.Item(f"i{k}", None, None, pystac.utils.str_to_datetime(when), {"platform": "WV03"})
        item.add_asset("visual", pystac.Asset(str(raster), roles=["visual"]))
        catalog.add_item(item)
    catalog.normalize_and_save(str(tmp_path / "stac"), pystac.CatalogType.SELF_CONTAINED)
    found = collect_acquisitions([tmp_path / "stac" / "catalog.json"])
    assert [(a.name, len(a.sources), a.mosaic, a.date) for a in found] == [
        ("WV03_2023-02-09T08_15_00Z", 2, True, "2023-02-09T08:15:00Z"),
        ("WV03_2023-04-01T09_00_00Z", 2, True, "2023-04-01T09:00:00Z")]


def test_stac_item_without_a_raster_asset_is_refused(tmp_path):
    import pystac

    item = pystac.Item("x", None, None, pystac.utils.str_to_datetime("2023-02-09T08:15:00Z"), {})
    item.add_asset("thumbnail", pystac.Asset("x.png", roles=["thumbnail"]))
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item.to_dict()))
    with pytest.raises(ConfigError, match="no asset with role visual or data"):
        collect_acquisitions([path])


def test_mosaic_refuses_tiles_in_different_crs(tmp_path):
    img = draw_squares(32, 32, [])
    a = write_raster(tmp_path / "a.tif", img)
    b = write_raster(tmp_path / "b.tif", img, crs="EPSG:32636")
    with pytest.raises(RasterError, match="must share a CRS"):
        write_mosaic_vrt([str(a), str(b)], tmp_path / "m.vrt")


def test_mosaic_masks_what_no_tile_covers(tmp_path):
    import rasterio

    img = draw_squares(64, 64, [(5, 5)])
    a = write_raster(tmp_path / "a.tif", img)
    b = write_raster(tmp_path / "b.tif", img, transform=Affine(0.5, 0, 500032.0, 0, -0.5, 3999968.0))
    vrt = write_mosaic_vrt([str(a), str(b)], tmp_path / "m.vrt")
    with rasterio.open(vrt) as ds:
        assert (ds.width, ds.height) == (128, 128)
        mask = ds.dataset_mask()
        np.testing.assert_array_equal(ds.read()[:, :64, :64], img)
    assert mask[:64, :64].min() == 255 and mask[64:, 64:].min() == 255
    assert mask[:64, 64:].max() == 0 and mask[64:, :64].max() == 0


def test_slurm_config_makes_a_job_script(tmp_path):
    from dask_jobqueue import SLURMCluster

    config = tmp_path / "slurm.yaml"
    config.write_text("slurm:\n  cores: 8\n  memory: 16GB\n  walltime: '02:00:00'\n  queue: cpu\n  jobs: 4\n")
    options = read_slurm_config(config, __import__("yaml"))
    assert options.pop("jobs") == 4
    cluster = make_slurm_cluster(options, config, SLURMCluster)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p cpu" in script and "#SBATCH --cpus-per-task=8" in script
    assert "export GDAL_CACHEMAX=" in script
    config.write_text("cores: 8\n")
    with pytest.raises(ConfigError, match="lacks 'memory'"):
        read_slurm_config(config, __import__("yaml"))


def test_engine_options_that_do_not_combine(tmp_path):
    with pytest.raises(ConfigError, match="does not combine"):
        start_engine("tcp://127.0.0.1:1", "slurm", None, None)
    with pytest.raises(ConfigError, match="needs --cluster-config"):
        start_engine(None, "slurm", None, None)


def test_unreachable_scheduler_is_one_line(tmp_path, rasters, capsys, monkeypatch):
    monkeypatch.setattr("debrismap.batch.engine.CONNECT_TIMEOUT_S", 1)  # the default waits 20 s
    code = main(["batch", str(rasters[0]), "--out", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9",
                 "--quiet"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("debrismap batch: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9")
