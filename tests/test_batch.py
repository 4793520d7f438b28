"""`debrismap batch` on Dask: a LocalCluster, a real scheduler + workers (one killed mid-run),
STAC input, an unreadable input mid-batch, and --resume after kill -9 of the client.

Every run folder must hold exactly the detections plain `detect` writes for the same raster,
whatever the cluster did (bands on several workers, a worker dying, a client dying).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from test_detect_oracle import GSD, build_oracle, draw_squares, read_boxes, write_raster

from debrismap.cli import main

DETECT_FLAGS = ["--batch", "4", "--overlap", "16", "--no-heatmap", "--quiet"]
STAC_CATALOG_ID = "1040010082698700"
STAC_DATE = "2023-02-09T08:15:00Z"


def _squares(rng, width: int, height: int, n: int) -> list[tuple[int, int]]:
    corners: list[tuple[int, int]] = []
    while len(corners) < n:
        x, y = int(rng.integers(0, width - 9)), int(rng.integers(0, height - 9))
        if all(abs(x - a) > 10 or abs(y - b) > 10 for a, b in corners):
            corners.append((x, y))
    return corners


def _write_stac(d: Path, img: np.ndarray, second: Path) -> Path:
    """An ItemCollection: four quadkey tiles of one acquisition (relative hrefs), plus a second date."""
    import pystac

    tiles = d / "tiles"
    tiles.mkdir()
    items = []
    h, w = img.shape[1] // 2, img.shape[2] // 2
    for k, (x0, y0) in enumerate([(0, 0), (w, 0), (0, h), (w, h)]):
        transform = Affine(GSD, 0, 500000.0 + x0 * GSD, 0, -GSD, 4000000.0 - y0 * GSD)
        write_raster(tiles / f"q{k}.tif", img[:, y0:y0 + h, x0:x0 + w].copy(), transform=transform)
        item = pystac.Item(f"quadkey-{k}", None, None, pystac.utils.str_to_datetime(STAC_DATE),
                           {"catalog_id": STAC_CATALOG_ID, "platform": "WV03", "gsd": 0.3, "proj:code": "EPSG:32637"})
        item.add_asset("visual", pystac.Asset(f"tiles/q{k}.tif", roles=["visual"]))
        items.append(item)
    later = pystac.Item("later", None, None, pystac.utils.str_to_datetime("2023-03-01T08:00:00Z"),
                        {"platform": "WV02", "proj:epsg": 32637})
    later.add_asset("ms", pystac.Asset(str(second), roles=["data"]))
    items.append(later)
    path = d / "items.json"
    path.write_text(json.dumps(pystac.ItemCollection(items).to_dict()))
    return path


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch")
    model = build_oracle(d / "oracle.onnx")
    rng = np.random.default_rng(11)
    a = write_raster(d / "a.tif", draw_squares(320, 320, _squares(rng, 320, 320, 40)))
    b = write_raster(d / "b.tif", draw_squares(640, 480, _squares(rng, 640, 480, 120)))
    mosaic = draw_squares(400, 320, _squares(rng, 400, 320, 50))
    whole = write_raster(d / "whole.tif", mosaic)
    later = write_raster(d / "later.tif", draw_squares(256, 256, _squares(rng, 256, 256, 20)))
    stac = _write_stac(d, mosaic, later)
    bad = d / "bad.tif"
    bad.write_bytes(b"II*\x00 this is not a GeoTIFF")
    listing = d / "dates.txt"
    listing.write_text("# path, acquisition date\nb.tif, 2023-02-20\n")
    plain = {}
    for raster in (a, b, whole, later):
        plain[raster.stem] = d / "plain" / raster.stem
        assert main(["detect", str(raster), "--out", str(plain[raster.stem]), "--model", str(model), *DETECT_FLAGS]) == 0
    return {"dir": d, "model": model, "a": a, "b": b, "bad": bad, "list": listing, "stac": stac, "plain": plain}


def assert_same_as_plain(plain: Path, run: Path, same_source: bool = True) -> None:
    x, fx = read_boxes(plain)
    y, fy = read_boxes(run)
    assert len(x) > 0
    np.testing.assert_array_equal(x, y)
    for key in ("score", "class", "tile_row", "tile_col") + (("source",) if same_source else ()):
        np.testing.assert_array_equal(fx[key], fy[key])
    assert json.loads((run / "run.json").read_text())["status"] == "complete"


# ---- an embedded LocalCluster with 2 workers, through the CLI ------------------------------------

@pytest.fixture(scope="module")
def local_batch(assets, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "out"
    args = ["batch", str(assets["a"]), str(assets["bad"]), str(assets["list"]), str(assets["stac"]),
            "--out", str(out), "--workers", "2", "--band-tiles", "16", "--model", str(assets["model"]), *DETECT_FLAGS]
    code = main(args)
    return {"out": out, "code": code, "batch": json.loads((out / "batch.json").read_text())}


def test_local_cluster_matches_plain_detect(assets, local_batch):
    out, record = local_batch["out"], {r["name"]: r for r in local_batch["batch"]["acquisitions"]}
    assert local_batch["batch"]["engine"]["kind"] == "local" and local_batch["batch"]["engine"]["workers"] == 2
    assert_same_as_plain(assets["plain"]["a"], out / "a")
    assert_same_as_plain(assets["plain"]["b"], out / "b")
    assert record["b"]["bands"] > 2  # the large raster really ran as several bands of tile rows
    assert record["b"]["tiles_run"] == record["b"]["tiles"] == json.loads(
        (assets["plain"]["b"] / "run.json").read_text())["tiling"]["tiles_analysed"]
    assert record["b"]["detections"] == len(read_boxes(out / "b")[0])
    assert record["b"]["area_km2"] == pytest.approx(640 * 480 * GSD**2 / 1e6)


def test_unreadable_input_mid_batch_is_recorded_and_the_rest_complete(assets, local_batch):
    assert local_batch["code"] == 1
    batch = local_batch["batch"]
    assert batch["status"] == "failed"
    statuses = {r["name"]: r["status"] for r in batch["acquisitions"]}
    assert statuses == {"a": "complete", "bad": "failed", "b": "complete", STAC_CATALOG_ID: "complete",
                        "WV02_2023-03-01T08_00_00Z": "complete"}
    bad = next(r for r in batch["acquisitions"] if r["name"] == "bad")
    assert str(assets["bad"]) in bad["error"] and "\n" not in bad["error"]
    rows = (local_batch["out"] / "batch.csv").read_text().splitlines()
    assert rows[0].startswith("name,input,acquisition_date") and len(rows) == 6
    assert any(row.startswith("bad,") and "failed" in row for row in rows)


def test_dates_from_a_list_and_from_stac_land_in_run_json(local_batch):
    out = local_batch["out"]
    inp = json.loads((out / "b" / "run.json").read_text())["inputs"][0]
    assert (inp["acquisition_date"], inp["acquisition_date_source"]) == ("2023-02-20", "list")
    inp = json.loads((out / STAC_CATALOG_ID / "run.json").read_text())["inputs"][0]
    assert (inp["acquisition_date"], inp["acquisition_date_source"]) == (STAC_DATE, "stac")
    inp = json.loads((out / "WV02_2023-03-01T08_00_00Z" / "run.json").read_text())["inputs"][0]
    assert (inp["acquisition_date"], inp["acquisition_date_source"]) == ("2023-03-01T08:00:00Z", "stac")


def test_stac_quadkey_tiles_become_one_vrt_run_equal_to_the_whole_raster(assets, local_batch):
    run = local_batch["out"] / STAC_CATALOG_ID
    inputs = json.loads((run / "run.json").read_text())["inputs"]
    assert [Path(i["path"]).name for i in inputs] == [f"{STAC_CATALOG_ID}.vrt"]
    assert inputs[0]["gsd_m"] == pytest.approx(GSD)  # from the raster, not the item's (wrong) gsd 0.3
    assert_same_as_plain(assets["plain"]["whole"], run, same_source=False)
    # a single item (role "data") is read directly, no mosaic
    later = json.loads((local_batch["out"] / "WV02_2023-03-01T08_00_00Z" / "run.json").read_text())["inputs"]
    assert Path(later[0]["path"]).name == "later.tif"
    assert_same_as_plain(assets["plain"]["later"], local_batch["out"] / "WV02_2023-03-01T08_00_00Z")


def test_a_second_batch_into_the_same_folder_needs_resume_or_force(assets, local_batch, capsys):
    code = main(["batch", str(assets["a"]), "--out", str(local_batch["out"]), "--model", str(assets["model"]),
                 *DETECT_FLAGS])
    assert code == 2
    assert "already holds a batch" in capsys.readouterr().err


# ---- a real scheduler and two worker processes on 127.0.0.1 -----------------------------------------

def _dask(*args: str, env=None) -> subprocess.Popen:
    exe = Path(sys.executable).parent / "dask"
    return subprocess.Popen([str(exe), *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` + worker `steady` + worker `doomed`, which SIGKILLs itself after its 2nd shard."""
    from distributed import Client

    d = tmp_path_factory.mktemp("cluster")
    scheduler_file = d / "scheduler.json"
    procs = [_dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                   "--scheduler-file", str(scheduler_file))]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline and procs[0].poll() is None, "dask scheduler did not start"
            time.sleep(0.2)
        common = ["--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1",
                  "--no-nanny"]
        procs.append(_dask("worker", *common, "--name", "steady"))
        procs.append(_dask("worker", *common, "--name", "doomed",
                           env={**os.environ, "DEBRISMAP_TEST_KILL_AT": "batch:2"}))
        address = json.loads(scheduler_file.read_text())["address"]
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield {"address": address, "steady": procs[1], "doomed": procs[2]}
    finally:
        for proc in procs:  # only these test processes; nothing on disk to flush
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def test_worker_killed_mid_run_loses_and_duplicates_nothing(assets, cluster, tmp_path, capsys):
    out = tmp_path / "out"
    flags = [f for f in DETECT_FLAGS if f != "--quiet"]  # with progress: plain lines, as stderr is no terminal
    code = main(["batch", str(assets["b"]), "--out", str(out), "--scheduler", cluster["address"],
                 "--band-tiles", "8", "--model", str(assets["model"]), *flags])
    assert code == 0
    err = capsys.readouterr().err
    assert "batch: 130/130 tiles (100%)" in err and "1/1 acquisitions finished" in err  # nothing counted twice
    assert cluster["doomed"].wait(timeout=30) == -signal.SIGKILL  # it really died mid-run
    assert cluster["steady"].poll() is None
    assert_same_as_plain(assets["plain"]["b"], out / "b")
    record = json.loads((out / "batch.json").read_text())["acquisitions"][0]
    n_batches = -(-record["tiles"] // 4)
    assert sorted(p.name for p in (out / "b" / ".state" / "shards").iterdir()) == [
        f"b{k:06d}.npz" for k in range(n_batches)]  # each batch once, nothing half-written left over
    assert json.loads((out / "batch.json").read_text())["engine"]["kind"] == "scheduler"


def test_resume_after_kill9_of_the_client(assets, cluster, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "debrismap", "batch", str(assets["a"]), str(assets["list"]), "--out", str(out),
           "--scheduler", cluster["address"], "--band-tiles", "8", "--model", str(assets["model"]), *DETECT_FLAGS]
    # the client dies (SIGKILL) right after recording its first finished acquisition
    proc = subprocess.run(cmd, check=False, env={**os.environ, "DEBRISMAP_TEST_KILL_AT": "batch-client:run-finished"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert json.loads((out / "batch.json").read_text())["status"] == "running"
    assert main(["batch", str(assets["a"]), str(assets["list"]), "--out", str(out), "--scheduler", cluster["address"],
                 "--band-tiles", "8", "--model", str(assets["model"]), *DETECT_FLAGS, "--resume"]) == 0
    assert_same_as_plain(assets["plain"]["a"], out / "a")
    assert_same_as_plain(assets["plain"]["b"], out / "b")
    records = json.loads((out / "batch.json").read_text())["acquisitions"]
    skipped = [r for r in records if r["previously_complete"]]
    assert len(skipped) == 1 and skipped[0]["tiles_run"] == 0  # the one finished before the kill: not redone
    assert skipped[0]["detections"] > 0 and skipped[0]["area_km2"] > 0
    assert all(r["status"] == "complete" for r in records)
