"""The transfer training recipe and the leave-one-renderer-out benchmark's bookkeeping (no model)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from debrismap.synth.composite import ToneModel
from debrismap.synth.realchips import write_chips
from debrismap.synth.realscene import RealScene

REPO = Path(__file__).resolve().parents[1]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def test_recipe_refuses_held_out_and_post_event_backgrounds(monkeypatch):
    recipe = _load(REPO / "training" / "build_transfer_dataset.py", "build_transfer_dataset")
    recipe.check_backgrounds()  # the committed list is clean
    assert not {r for r, _, _ in recipe.TRAIN_BACKGROUNDS} & set(recipe.HELD_OUT)
    for bad in (recipe.HELD_OUT[0], "xview2deploy_joplin/post_tile_31500-5137.tif",
                "xbd_samples/santa-rosa-wildfire_00000007_post_disaster.png"):
        monkeypatch.setattr(recipe, "TRAIN_BACKGROUNDS", [(bad, None, None)])
        with pytest.raises(SystemExit):
            recipe.check_backgrounds()


def test_write_chips_writes_yolo_chips_with_the_asked_empty_share(tmp_path):
    rng = np.random.default_rng(0)
    size = 400
    rgb = (np.full((size, size, 3), 100.0) + rng.normal(0, 3, (size, size, 3))).astype(np.float32)
    tone = ToneModel(np.full(3, 100.0), np.full(3, 200.0), 255.0)
    sites = np.column_stack([rng.uniform(20, size - 20, 300), rng.uniform(20, size - 20, 300), rng.uniform(0, 3, 300)])
    scene = RealScene("toy", rgb, np.ones((size, size), bool), 0.5, tone, 90.0, 0.6, 2.0, 0.35,
                      np.zeros((size, size), np.float32), sites=sites)
    counts = write_chips(scene, tmp_path, "train", ["rubble", "splinter"], 40, 128, seed=3, empty_share=0.3)
    images = sorted((tmp_path / "images" / "train").glob("*.png"))
    labels = sorted((tmp_path / "labels" / "train").glob("*.txt"))
    assert counts["chips"] == len(images) == len(labels) == 40
    assert 5 <= counts["empty_real_chips"] <= 20
    assert counts["by_renderer"]["rubble"] + counts["by_renderer"]["splinter"] == counts["boxes"] > 10
    rows = np.array([list(map(float, line.split())) for p in labels for line in p.read_text().splitlines()])
    assert len(rows) == counts["boxes"]
    assert (rows[:, 0] == 0).all() and (rows[:, 1:] >= 0).all() and (rows[:, 1:] <= 1).all()
    empty = [p for p in labels if not p.read_text().strip()]
    assert len(empty) >= counts["empty_real_chips"]


def test_empty_chips_sit_mostly_by_placement_sites(tmp_path):
    """Untouched yards by buildings must be as familiar to the model as yards with piles."""
    from PIL import Image

    size = 600
    rgb = np.full((size, size, 3), 100.0, np.float32)
    rgb[440:, 440:] = 200.0  # a bright corner holding every placement site
    tone = ToneModel(np.full(3, 100.0), np.full(3, 200.0), 255.0)
    sites = np.array([[500.0, 500.0, 0.0]] * 5)
    scene = RealScene("corner", rgb, np.ones((size, size), bool), 0.5, tone, 90.0, 0.6, 2.0, 0.35,
                      np.zeros((size, size), np.float32), sites=sites)
    write_chips(scene, tmp_path, "train", ["rubble"], 60, 128, seed=1, empty_share=1.0)
    chips = list((tmp_path / "images" / "train").glob("*.png"))
    showing_sites = sum(np.asarray(Image.open(p)).max() > 150 for p in chips)
    # uniformly placed windows would show the corner in about 1 chip of 9; site-centred ones always
    assert len(chips) == 60 and showing_sites >= 0.55 * 60


def test_loro_pooling_and_size_bins():
    loro = _load(REPO / "benchmarks" / "bench_loro.py", "bench_loro")
    rows = [
        {"tp": 2, "fp": 1, "fn": 2, "side_px": [9.0, 10.0, 14.0, 40.0], "hit": [True, False, True, False]},
        {"tp": 1, "fp": 0, "fn": 0, "side_px": [20.0], "hit": [True]},
    ]
    p = loro.pooled(rows)
    assert (p["tp"], p["fp"], p["fn"]) == (3, 1, 2)
    assert p["precision"] == pytest.approx(0.75) and p["recall"] == pytest.approx(0.6)
    assert p["count_error"] == pytest.approx((4 - 5) / 5)
    bins = p["recall_by_side_px"]
    assert bins["8-12"] == {"truths": 2, "recall": 0.5}
    assert bins["12-18"]["recall"] == 1.0 and bins["18-30"]["recall"] == 1.0 and bins[">30"]["recall"] == 0.0
    assert loro.rel(REPO / "models" / "x.onnx") == "models/x.onnx"


def test_loro_sweep_pools_scenes_threshold_by_threshold():
    loro = _load(REPO / "benchmarks" / "bench_loro.py", "bench_loro")
    rows = [{"sweep": {"0.10": {"tp": 4, "fp": 4, "fn": 2}, "0.30": {"tp": 2, "fp": 1, "fn": 4}}},
            {"sweep": {"0.10": {"tp": 2, "fp": 0, "fn": 2}, "0.30": {"tp": 1, "fp": 0, "fn": 3}}}]
    empties = [{"sweep": {"0.10": 6, "0.30": 1}}, {"sweep": {"0.10": 2, "0.30": 0}}]
    s = loro.sweep_table(rows, empties, km2=2.0)
    assert s["0.10"]["recall"] == pytest.approx(6 / 10) and s["0.10"]["precision"] == pytest.approx(6 / 10)
    assert s["0.10"]["false_per_km2"] == pytest.approx(4.0) and s["0.30"]["false_per_km2"] == pytest.approx(0.5)
    assert s["0.30"]["recall"] == pytest.approx(3 / 10) and s["0.30"]["count_error"] == pytest.approx((4 - 10) / 10)
    assert s["0.30"]["f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 7))


def test_recall_at_a_false_alarm_rate_takes_the_best_threshold_within_it():
    loro = _load(REPO / "benchmarks" / "bench_loro.py", "bench_loro")
    sweep = {"0.10": {"recall": 0.3, "false_per_km2": 45.0}, "0.20": {"recall": 0.2, "false_per_km2": 12.0},
             "0.30": {"recall": 0.1, "false_per_km2": 6.0}}
    at = loro.recall_at_false_rates(sweep)
    assert at == {"5": None, "10": 0.1, "20": 0.2, "40": 0.2}
