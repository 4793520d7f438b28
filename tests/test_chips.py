"""debrismap.chips: chips round-trip with their labels, leak-free split, selection rules, CLI."""

from __future__ import annotations

import csv
import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
import yaml
from affine import Affine
from PIL import Image
from pyproj import Transformer

from debrismap.chips import ChipOptions, build_chips
from debrismap.cli import main
from debrismap.errors import ConfigError, DatasetError, LabelError
from debrismap.vector_io import write_vector

CRS = "EPSG:32636"
GSD = 0.5
ORIGIN = (500000.0, 4000256.0)  # top-left corner of the 512 x 512 test raster
TRANSFORM = Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1])


def make_raster(path: Path, *, size: int = 512, nodata_cols: int = 0, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    data = rng.integers(1, 255, (3, size, size), dtype=np.uint8)
    data[:, :, :nodata_cols] = 0
    with rasterio.open(
        path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
        crs=CRS, transform=TRANSFORM, nodata=0 if nodata_cols else None,
    ) as ds:  # fmt: skip
        ds.write(data)
    return path


def pixel_box_to_world(x0, y0, x1, y1):
    return (ORIGIN[0] + x0 * GSD, ORIGIN[1] - y1 * GSD, ORIGIN[0] + x1 * GSD, ORIGIN[1] - y0 * GSD)


def make_labels(path: Path, pixel_boxes, crs: str = CRS) -> Path:
    world = [shapely.box(*pixel_box_to_world(*b)) for b in pixel_boxes]
    if crs != CRS:
        world = [shapely.transform(g, Transformer.from_crs(CRS, crs, always_xy=True).transform, interleaved=False) for g in world]
    return write_vector(path, world, crs, {"class_name": np.array(["debris"] * len(world), object)})


def random_pixel_boxes(n: int, seed: int = 1, extent: int = 512):
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0, extent - 20, n)
    y0 = rng.uniform(0, extent - 20, n)
    return np.column_stack([x0, y0, x0 + rng.uniform(4, 16, n), y0 + rng.uniform(4, 16, n)])


def read_index(out: Path) -> list[dict]:
    with open(out / "chips.csv", newline="") as f:
        return list(csv.DictReader(f))


def chip_labels(out: Path, row: dict, size: int) -> np.ndarray:
    """Normalised YOLO labels of a chip -> pixel boxes of the *raster*."""
    txt = out / "labels" / row["split"] / f"{row['chip']}.txt"
    lines = [list(map(float, line.split())) for line in txt.read_text().splitlines() if line.strip()]
    if not lines:
        return np.empty((0, 4))
    a = np.array(lines)[:, 1:] * size
    xyxy = np.column_stack([a[:, 0] - a[:, 2] / 2, a[:, 1] - a[:, 3] / 2, a[:, 0] + a[:, 2] / 2, a[:, 1] + a[:, 3] / 2])
    return xyxy + [int(row["x_off"]), int(row["y_off"])] * 2


@pytest.fixture
def scene(tmp_path):
    boxes = random_pixel_boxes(60)
    return make_raster(tmp_path / "city.tif"), make_labels(tmp_path / "city.gpkg", boxes), boxes


# -- round trip and layout --------------------------------------------------------------------


def test_chip_boxes_map_back_to_the_world_boxes_within_a_pixel(scene, tmp_path):
    raster, labels, truth = scene
    out = tmp_path / "ds"
    summary = build_chips([(raster, labels)], out, ChipOptions(size=128, overlap=16, block_size_m=128, empty_fraction=0))
    rows = read_index(out)
    assert len(rows) == len(summary.chips) > 0
    truth_world = np.array([pixel_box_to_world(*b) for b in truth])
    matched = set()
    for row in rows:
        px = chip_labels(out, row, 128)
        assert len(px) == int(row["boxes"])
        chip_world = [float(row[k]) for k in ("minx", "miny", "maxx", "maxy")]
        for x0, y0, x1, y1 in px:
            world = np.array(pixel_box_to_world(x0, y0, x1, y1))
            # The matching truth box, clipped to the chip, must agree within one pixel.
            clipped = truth_world.copy()
            clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(chip_world[0], chip_world[2])
            clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(chip_world[1], chip_world[3])
            err = np.abs(clipped - world).max(axis=1)
            assert err.min() <= GSD, (row["chip"], world)
            matched.add(int(err.argmin()))
    assert matched == set(range(len(truth)))  # every pile (not just as many boxes) lands in some chip


def test_dataset_layout_and_yaml(scene, tmp_path):
    raster, labels, _ = scene
    out = tmp_path / "ds"
    summary = build_chips([(raster, labels)], out, ChipOptions(size=128, overlap=16, block_size_m=128))
    doc = yaml.safe_load((out / "dataset.yaml").read_text())
    assert doc["path"] == str(out.absolute()) and doc["train"] == "images/train" and doc["val"] == "images/val"
    assert doc["names"] == {0: "debris"} and doc["chip_size"] == 128 and doc["gsd_m"] == pytest.approx(0.5)
    assert doc["sources"][0]["stem"] == "city" and doc["sources"][0]["crs"] == CRS
    for split in ("train", "val"):
        pngs = sorted(p.stem for p in (out / "images" / split).glob("*.png"))
        txts = sorted(p.stem for p in (out / "labels" / split).glob("*.txt"))
        assert pngs == txts and len(pngs) == doc["counts"][split]["images"]
    assert doc["counts"] == summary.counts and summary.n_chips == len(read_index(out))
    # Pixels are the raster's own (uint8, identity stretch); take a chip inside the raster.
    row = next(
        r for r in read_index(out)
        if r["split"] == "train" and 0 <= int(r["x_off"]) <= 384 and 0 <= int(r["y_off"]) <= 384
    )  # fmt: skip
    img = np.asarray(Image.open(out / "images" / "train" / f"{row['chip']}.png"))
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    with rasterio.open(raster) as ds:
        window = rasterio.windows.Window(int(row["x_off"]), int(row["y_off"]), 128, 128)
        np.testing.assert_array_equal(img, np.moveaxis(ds.read(window=window), 0, -1))
    assert not list(tmp_path.glob(".ds.*"))  # no staging folder left


# -- split ------------------------------------------------------------------------------------


def test_train_and_val_chips_share_no_pixel(tmp_path):
    raster = make_raster(tmp_path / "r.tif")
    labels = make_labels(tmp_path / "l.gpkg", random_pixel_boxes(150, seed=3))
    out = tmp_path / "ds"
    build_chips([(raster, labels)], out, ChipOptions(size=64, overlap=16, block_size_m=64, val_fraction=0.3, empty_fraction=1))
    rows = read_index(out)
    boxes = {s: np.array([[float(r[k]) for k in ("minx", "miny", "maxx", "maxy")] for r in rows if r["split"] == s]) for s in ("train", "val")}
    assert len(boxes["train"]) and len(boxes["val"])
    t, v = boxes["train"][:, None, :], boxes["val"][None, :, :]
    overlap_w = np.minimum(t[..., 2], v[..., 2]) - np.maximum(t[..., 0], v[..., 0])
    overlap_h = np.minimum(t[..., 3], v[..., 3]) - np.maximum(t[..., 1], v[..., 1])
    assert not ((overlap_w > 1e-6) & (overlap_h > 1e-6)).any()


def test_small_dataset_still_gets_a_val_block(scene, tmp_path):
    raster, labels, _ = scene
    summary = build_chips([(raster, labels)], tmp_path / "ds", ChipOptions(size=128, overlap=0, block_size_m=128, val_fraction=0.01))
    assert summary.counts["val"]["images"] > 0 and summary.counts["train"]["images"] > 0


def test_block_smaller_than_a_chip_is_refused(scene, tmp_path):
    raster, labels, _ = scene
    with pytest.raises(ConfigError, match="block-size"):
        build_chips([(raster, labels)], tmp_path / "ds", ChipOptions(size=256, block_size_m=64))


# -- selection rules ---------------------------------------------------------------------------


def test_nodata_chips_are_skipped(tmp_path):
    raster = make_raster(tmp_path / "r.tif", nodata_cols=200)
    labels = make_labels(tmp_path / "l.gpkg", random_pixel_boxes(40, seed=4))
    out = tmp_path / "ds"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = build_chips([(raster, labels)], out, ChipOptions(size=128, overlap=0, block_size_m=128, empty_fraction=1, val_fraction=0))
    offsets = {int(r["x_off"]) for r in read_index(out)}
    # Columns 0..199 are nodata; the share of valid columns of each kept chip must be >= 0.5.
    valid_share = {x: (min(x + 128, 512) - max(x, 200)) / 128 for x in offsets}
    assert offsets and min(valid_share.values()) >= 0.5
    assert summary.skipped["nodata"] >= 4  # every block-row has chips left of column 200
    assert not any(x + 128 <= 200 for x in offsets)


def test_empty_chip_share_is_respected_and_seeded(tmp_path):
    raster = make_raster(tmp_path / "r.tif")
    # Labels only in the top-left quarter: most chips are empty.
    labels = make_labels(tmp_path / "l.gpkg", random_pixel_boxes(30, seed=5, extent=200))
    kw = {"size": 64, "overlap": 0, "block_size_m": 1000, "val_fraction": 0}

    def empties(out, **extra):
        build_chips([(raster, labels)], out, ChipOptions(**kw, **extra))
        rows = read_index(out)
        return {r["chip"] for r in rows if r["boxes"] == "0"}, sum(r["boxes"] != "0" for r in rows)

    none, n_lab = empties(tmp_path / "a", empty_fraction=0)
    assert none == set() and n_lab > 0
    some, n_lab2 = empties(tmp_path / "b", empty_fraction=0.2, seed=1)
    assert n_lab2 == n_lab and len(some) == int(0.2 / 0.8 * n_lab)
    again, _ = empties(tmp_path / "c", empty_fraction=0.2, seed=1)
    other, _ = empties(tmp_path / "d", empty_fraction=0.2, seed=2)
    assert again == some and other != some
    everything, _ = empties(tmp_path / "e", empty_fraction=1)
    assert len(everything) > len(some) and some <= everything


def test_boxes_cut_by_a_chip_edge_are_clipped_or_dropped(tmp_path):
    raster = make_raster(tmp_path / "r.tif", size=256)
    # 20 px wide box across the x = 128 chip edge: 8 px (0.4) left of it, 12 px (0.6) right.
    labels = make_labels(tmp_path / "l.gpkg", [(120, 50, 140, 70)])
    kw = {"size": 128, "overlap": 0, "block_size_m": 1000, "val_fraction": 0, "empty_fraction": 1}
    build_chips([(raster, labels)], tmp_path / "a", ChipOptions(min_visible=0.4, **kw))
    rows = {r["chip"]: r for r in read_index(tmp_path / "a")}
    np.testing.assert_allclose(chip_labels(tmp_path / "a", rows["r_r000_c000"], 128), [[120, 50, 128, 70]], atol=1e-3)
    np.testing.assert_allclose(chip_labels(tmp_path / "a", rows["r_r000_c001"], 128), [[128, 50, 140, 70]], atol=1e-3)
    summary = build_chips([(raster, labels)], tmp_path / "b", ChipOptions(min_visible=0.5, **kw))
    rows = {r["chip"]: r for r in read_index(tmp_path / "b")}
    # The left chip shows only a fragment: it is neither labelled nor kept as an empty chip.
    assert "r_r000_c000" not in rows and summary.skipped["partial_boxes_only"] == 1
    assert rows["r_r000_c001"]["boxes"] == "1"


# -- label formats through chips ----------------------------------------------------------------


def test_labels_in_4326_and_yolo_pixel_boxes_give_the_same_chips(scene, tmp_path):
    raster, labels, truth = scene
    ll = make_labels(tmp_path / "ll.geojson", truth, crs="EPSG:4326")
    yolo = tmp_path / "city.labels.txt"
    yolo.write_text("".join(f"0 {x0} {y0} {x1} {y1}\n" for x0, y0, x1, y1 in truth))
    kw = {"size": 128, "overlap": 16, "block_size_m": 128}
    ref = build_chips([(raster, labels)], tmp_path / "a", ChipOptions(**kw))
    for name, lab in [("b", ll), ("c", yolo)]:
        got = build_chips([(raster, lab)], tmp_path / name, ChipOptions(**kw))
        assert [c.name for c in got.chips] == [c.name for c in ref.chips]
        for g, r in zip(got.chips, ref.chips):
            np.testing.assert_allclose(g.boxes.xyxy, r.boxes.xyxy, atol=0.05)


def test_points_with_point_size(tmp_path):
    raster = make_raster(tmp_path / "r.tif", size=256)
    x, y = pixel_box_to_world(60, 60, 60, 60)[:2]
    pts = write_vector(tmp_path / "p.gpkg", [shapely.Point(x, y)], CRS)
    summary = build_chips([(raster, pts)], tmp_path / "ds", ChipOptions(size=128, overlap=0, block_size_m=1000, val_fraction=0, point_size_m=6))
    (chip,) = [c for c in summary.chips if len(c.boxes)]
    np.testing.assert_allclose(chip.boxes.xyxy, [[54, 54, 66, 66]])  # 6 m = 12 px at 0.5 m


def test_several_rasters_and_append(tmp_path):
    a = make_raster(tmp_path / "a.tif", seed=1)
    b = make_raster(tmp_path / "b.tif", seed=2)
    la = make_labels(tmp_path / "a.gpkg", random_pixel_boxes(30, seed=6))
    lb = make_labels(tmp_path / "b.gpkg", random_pixel_boxes(30, seed=7))
    out = tmp_path / "ds"
    kw = {"size": 128, "overlap": 16, "block_size_m": 128}
    first = build_chips([(a, la)], out, ChipOptions(**kw))
    with pytest.raises(DatasetError, match="already exists"):
        build_chips([(b, lb)], out, ChipOptions(**kw))
    second = build_chips([(b, lb)], out, ChipOptions(**kw), append=True)
    doc = yaml.safe_load((out / "dataset.yaml").read_text())
    assert [s["stem"] for s in doc["sources"]] == ["a", "b"]
    for split in ("train", "val"):
        n = len(list((out / "images" / split).glob("*.png")))
        assert doc["counts"][split]["images"] == n == first.counts[split]["images"] + sum(
            c.split == split for c in second.chips
        )
    assert len(read_index(out)) == len(first.chips) + len(second.chips)
    with pytest.raises(DatasetError, match="already in this dataset"):
        build_chips([(a, la)], out, ChipOptions(**kw), append=True)
    # a and b cover the same ground: appended chips must take the split the blocks already
    # have, so no place is in train in one raster and in val in the other.
    rows = read_index(out)
    split_of = {}
    for r in rows:
        split_of.setdefault((r["minx"], r["miny"]), set()).add(r["split"])
    assert all(len(v) == 1 for v in split_of.values())
    assert {r["source"] for r in rows} == {"a", "b"}


# -- errors -----------------------------------------------------------------------------------


def test_all_labels_outside_the_raster_is_a_label_error_and_writes_nothing(scene, tmp_path):
    raster, _, _ = scene
    far = write_vector(tmp_path / "far.gpkg", [shapely.box(0, 0, 10, 10)], CRS)
    with pytest.raises(LabelError, match="fall outside the raster.*CRS"):
        build_chips([(raster, far)], tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


FAR_POINT = (
    '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},'
    '"geometry":{"type":"Point","coordinates":[10.0, 10.0]}}]}'
)


@pytest.mark.parametrize(
    "name, content",
    [
        ("bad.geojson", '{"type": "FeatureCollection", "features": ['),
        ("none.geojson", '{"type": "FeatureCollection", "features": []}'),
        ("cols.txt", "0 1 2 3\n"),
        ("far.geojson", FAR_POINT),
        ("labels.tif", "not a raster"),
    ],
)  # fmt: skip
def test_cli_bad_labels_one_line_exit_2(scene, tmp_path, capsys, name, content):
    raster, _, _ = scene
    bad = tmp_path / name
    bad.write_text(content)
    code = main(["chips", str(raster), str(bad), "--out", str(tmp_path / "ds")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("debrismap chips: error:") and name in err
    assert not (tmp_path / "ds").exists()


def test_cli_happy_path_and_pairs(scene, tmp_path, capsys):
    raster, labels, _ = scene
    code = main(["chips", str(raster), str(labels), "--out", str(tmp_path / "ds"), "--size", "128", "--block-size", "128", "--quiet"])
    assert code == 0 and "wrote" in capsys.readouterr().out
    assert (tmp_path / "ds" / "dataset.yaml").is_file()
    code = main(["chips", "--pair", str(raster), str(labels), "--out", str(tmp_path / "ds2"), "--size", "128", "--block-size", "128"])
    assert code == 0
    code = main(["chips", str(raster), "--out", str(tmp_path / "ds3")])
    assert code == 2 and "RASTER LABELS" in capsys.readouterr().err


def test_block_aligned_grid_covers_each_block_without_crossing_it():
    from types import SimpleNamespace

    from debrismap.chips import block_aligned_chips

    # 1000 x 700 px at 0.5 m with an origin that puts block edges between pixels.
    view = SimpleNamespace(
        width=1000, height=700, gsd_m=0.5, transform=Affine(0.5, 0, 500013.3, 0, -0.5, 4000077.7)
    )
    opts = ChipOptions(size=128, overlap=32, block_size_m=150.0)
    chips = block_aligned_chips(view, None, opts, Path("r.tif"))
    covered = np.zeros((700, 1000), dtype=bool)
    for c in chips:
        x0, y0 = max(c.x_off, 0), max(c.y_off, 0)
        covered[y0 : c.y_off + 128, x0 : c.x_off + 128] = True
        # The chip's world footprint lies inside its block (up to the raster's padding).
        wx0 = 500013.3 + 0.5 * max(c.x_off, 0)
        wx1 = 500013.3 + 0.5 * min(c.x_off + 128, 1000)
        assert c.block[0] * 150 <= wx0 + 1e-6 and wx1 <= (c.block[0] + 1) * 150 + 1e-6
    # Only pixels cut by a block edge are left out: at most one column per edge.
    edge_cols = (~covered).all(axis=0)
    edge_rows = (~covered).all(axis=1)
    assert not (~covered & ~edge_cols[None, :] & ~edge_rows[:, None]).any()
    assert 1 <= edge_cols.sum() <= 1000 * 0.5 / 150 + 1 and 1 <= edge_rows.sum() <= 700 * 0.5 / 150 + 1
    # Neighbouring chips inside a block overlap by at least the requested overlap, minus 2 px slack.
    xs = sorted({c.x_off for c in chips if c.block[0] == chips[len(chips) // 2].block[0]})
    assert all(128 - (b - a) >= 30 for a, b in itertools.pairwise(xs))


def test_an_interrupted_build_leaves_nothing_and_an_interrupted_append_keeps_the_dataset(
    scene, tmp_path, monkeypatch
):
    import debrismap.chips.writer as chips_module

    raster, labels, _ = scene
    calls = {"n": 0}
    real_write_yolo = chips_module.write_yolo

    def failing_write_yolo(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_write_yolo(*args, **kwargs)

    kw = {"size": 128, "overlap": 16, "block_size_m": 128}
    monkeypatch.setattr(chips_module, "write_yolo", failing_write_yolo)
    with pytest.raises(KeyboardInterrupt):
        build_chips([(raster, labels)], tmp_path / "ds", ChipOptions(**kw))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.gpkg", "city.tif"]

    monkeypatch.setattr(chips_module, "write_yolo", real_write_yolo)
    build_chips([(raster, labels)], tmp_path / "ds", ChipOptions(**kw))
    before = (tmp_path / "ds" / "dataset.yaml").read_text()
    n_files = len(list((tmp_path / "ds").rglob("*")))
    other = make_raster(tmp_path / "other.tif", seed=9)
    calls["n"] = 0
    monkeypatch.setattr(chips_module, "write_yolo", failing_write_yolo)
    with pytest.raises(KeyboardInterrupt):
        build_chips([(other, labels)], tmp_path / "ds", ChipOptions(**kw), append=True)
    assert (tmp_path / "ds" / "dataset.yaml").read_text() == before
    assert len(list((tmp_path / "ds").rglob("*"))) == n_files


def test_cli_warnings_are_one_line(scene, tmp_path, capsys):
    raster, _, truth = scene
    labels = make_labels(tmp_path / "some_out.gpkg", [*truth, (2000, 2000, 2010, 2010)])
    code = main(["chips", str(raster), str(labels), "--out", str(tmp_path / "ds"), "--size", "128", "--block-size", "128"])
    err = capsys.readouterr().err
    assert code == 0
    assert "debrismap chips: warning: " in err and "dropped 1 of 61 boxes outside the raster" in err
    assert all(line.startswith("debrismap chips: warning: ") for line in err.splitlines())


def test_ungeoreferenced_image_takes_pixel_labels_and_refuses_map_labels(tmp_path, scene):
    _, labels, _ = scene
    png = tmp_path / "scene.png"
    Image.fromarray(np.random.default_rng(0).integers(1, 255, (300, 300, 3), dtype=np.uint8)).save(png)
    yolo = tmp_path / "scene.txt"
    yolo.write_text("0 10 10 30 40\n0 200 200 220 215\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = build_chips([(png, yolo)], tmp_path / "ds", ChipOptions(size=128, overlap=0, gsd_m=0.5, block_size_m=64, val_fraction=0))
        assert summary.gsd_m == 0.5 and summary.counts["train"]["boxes"] == 2
        with pytest.raises(LabelError, match="has no CRS to place them"):
            build_chips([(png, labels)], tmp_path / "ds2", ChipOptions(size=128, gsd_m=0.5, block_size_m=64))


def test_val_holds_about_val_fraction_of_labelled_chips_and_the_seed_picks_the_blocks(tmp_path):
    raster = make_raster(tmp_path / "r.tif")
    labels = make_labels(tmp_path / "l.gpkg", random_pixel_boxes(200, seed=8))
    kw = {"size": 64, "overlap": 0, "block_size_m": 32, "val_fraction": 0.3, "empty_fraction": 0}

    def val_chips(name, seed):
        summary = build_chips([(raster, labels)], tmp_path / name, ChipOptions(seed=seed, **kw))
        return {c.name for c in summary.chips if c.split == "val"}, len(summary.chips)

    a, total = val_chips("a", 0)
    assert abs(len(a) / total - 0.3) <= 1 / total + 1e-9
    assert val_chips("b", 0)[0] == a and val_chips("c", 1)[0] != a


def test_append_reuses_the_stored_val_cut():
    from debrismap.chips.plan import _val_threshold

    assert _val_threshold([], ChipOptions(val_fraction=0.2), {"split": {"val_threshold": 0.123}}) == 0.123
