"""A multi-megapixel real post-disaster scene through `detect` with the bundled model, in CI.

Antakya (Mimar Sinan), Planet SkySat 0.5 m, 2880 x 1620 px (4.7 Mpx), after and before the
February 2023 earthquake: the same ground, not georeferenced (hence --assume-gsd 0.5).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from debrismap.cli import main

SCENE = "planet_turkey_eq2023/mimar_sinan_antakya_hatay_turkey_{date}_rgb_flat_50cm_2880px_logo_wm_{when}.jpg"
DATES = {"post": "20230212_ssc16", "pre": "20220807_ssc10"}


@pytest.mark.realdata
def test_antakya_after_and_before_the_earthquake(realdata, tmp_path, capsys):
    from test_detect_oracle import read_boxes

    counts = {}
    for when, date in DATES.items():
        scene = realdata / SCENE.format(date=date, when=when)
        out = tmp_path / when
        assert main(["detect", str(scene), "--out", str(out), "--assume-gsd", "0.5", "--quiet"]) == 0
        err = capsys.readouterr().err
        assert "error" not in err, err
        run = json.loads((out / "run.json").read_text())
        assert run["status"] == "complete" and run["model"]["box_decoding"] == "debrismap"
        assert run["inputs"][0]["width"] == 2880 and run["inputs"][0]["height"] == 1620
        assert run["tiling"]["tiles_analysed"] == run["tiling"]["tiles_total"] > 80  # every tile of the scene ran
        bounds, fields = read_boxes(out)
        assert len(bounds) == run["counts"]["detections"] > 10
        # pixel coordinates (no georeferencing): every box inside the scene, of pile size (a few metres)
        assert bounds[:, 0].min() >= -1 and bounds[:, 2].max() <= 2881 and bounds[:, 1].min() >= -1
        assert bounds[:, 3].max() <= 1621
        sides = np.concatenate([bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]])
        assert 2 <= np.median(sides) <= 40
        assert fields["score"].min() >= run["thresholds"]["score"]
        counts[when] = len(bounds)
    # The rubble of collapsed buildings: more piles found after the earthquake than before, same ground.
    assert counts["post"] > 1.2 * counts["pre"], counts
