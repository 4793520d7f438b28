"""Hard-negative mining (synth.hard_negatives) and the chips centred on what it finds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_detect_oracle import BRIGHT, K, build_oracle

from debrismap.errors import ModelError
from debrismap.synth.composite import ToneModel
from debrismap.synth.hard_negatives import mine_false_alarms
from debrismap.synth.realchips import MINED_CENTRED_EMPTY, write_chips
from debrismap.synth.realscene import RealScene


def _scene_with_squares(corners, size=(150, 170), dark=40.0) -> np.ndarray:
    rgb = np.full((*size, 3), dark, np.float32)
    for x0, y0 in corners:
        rgb[y0:y0 + K, x0:x0 + K] = BRIGHT
    return rgb


def test_mining_finds_every_false_alarm_once_even_across_tile_edges(tmp_path):
    model = build_oracle(tmp_path / "oracle.onnx")
    # the oracle's tiles are 64 px with an 8 px overlap: (58, 20) straddles the first tile edge
    corners = [(5, 5), (58, 20), (100, 120), (150, 60)]
    rgb = _scene_with_squares(corners)
    found = mine_false_alarms(rgb, np.ones(rgb.shape[:2], bool), model, gsd=0.5)
    want = sorted((x + K / 2, y + K / 2) for x, y in corners)
    assert sorted(map(tuple, found[:, :2].round(1))) == want
    assert (found[:, 2] >= 0.9).all() and (np.diff(found[:, 2]) <= 0).all()  # highest score first


def test_mining_skips_invalid_ground_and_refuses_another_gsd(tmp_path):
    model = build_oracle(tmp_path / "oracle.onnx")
    rgb = _scene_with_squares([(10, 10), (100, 100)])
    valid = np.ones(rgb.shape[:2], bool)
    valid[90:120, 90:120] = False
    found = mine_false_alarms(rgb, valid, model, gsd=0.5)
    assert found[:, :2].round(1).tolist() == [[14.0, 14.0]]
    assert len(mine_false_alarms(np.full((100, 100, 3), 40.0, np.float32), np.ones((100, 100), bool),
                                 model, gsd=0.5)) == 0
    with pytest.raises(ModelError, match="0.5 m pixels"):
        mine_false_alarms(rgb, np.ones(rgb.shape[:2], bool), model, gsd=0.3)


def _toy_scene(markers: np.ndarray, size: int = 600) -> RealScene:
    rng = np.random.default_rng(1)
    rgb = (np.full((size, size, 3), 90.0) + rng.normal(0, 2, (size, size, 3))).astype(np.float32)
    for x, y in markers:  # a bright marker at each "false alarm", so a chip shows whether it holds one
        rgb[int(y) - 2:int(y) + 2, int(x) - 2:int(x) + 2] = 250.0
    sites = np.column_stack([rng.uniform(20, size - 20, 200), rng.uniform(20, size - 20, 200), np.zeros(200)])
    tone = ToneModel(np.full(3, 100.0), np.full(3, 200.0), 255.0)
    return RealScene("toy", rgb, np.ones((size, size), bool), 0.5, tone, 90.0, 0.6, 2.0, 0.35,
                     np.zeros((size, size), np.float32), sites=sites)


def _share_with_marker(folder: Path) -> float:
    chips = sorted((folder / "images" / "train").glob("*.png"))
    return np.mean([(np.asarray(Image.open(p)) > 240).all(axis=-1).any() for p in chips])


def test_empty_chips_are_centred_on_mined_false_alarms(tmp_path):
    markers = np.array([[100.0, 500.0], [480.0, 90.0], [300.0, 300.0]])
    scene = _toy_scene(markers)
    kw = dict(renderers=["rubble"], n_chips=60, size=96, seed=5, empty_share=1.0, negative_share=0.0)
    plain = write_chips(scene, tmp_path / "plain", "train", **kw)
    mined = write_chips(scene, tmp_path / "mined", "train", **kw, mined=np.column_stack([markers, np.ones(3)]))
    assert plain["mined_chips"] == 0 and plain["empty_real_chips"] == mined["empty_real_chips"] == 60
    assert abs(mined["mined_chips"] / 60 - MINED_CENTRED_EMPTY) < 0.2
    # every mined chip holds its false alarm; chips placed by sites only rarely do
    assert _share_with_marker(tmp_path / "mined") >= mined["mined_chips"] / 60 > _share_with_marker(tmp_path / "plain") + 0.2
    assert not any(p.read_text().strip() for p in (tmp_path / "mined" / "labels" / "train").glob("*.txt"))
