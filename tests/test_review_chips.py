"""debrismap chips --review: reviewed piles become labels, rejected detections hard negatives,
and only reviewed ground reaches the model."""

from __future__ import annotations

import csv
import json

import numpy as np
import yaml
from PIL import Image
from test_heatmap_fixtures import clustered_piles, make_run
from test_review_fixtures import page_data, pile, review_doc

from debrismap.cli import main
from debrismap.vector_io import read_vector


def test_review_becomes_labels_negatives_and_blanked_chips(tmp_path, capsys):
    piles = clustered_piles(60, seed=6, spread=300)
    scores = np.random.default_rng(6).uniform(0.3, 1.0, len(piles))
    run_dir = make_run(tmp_path / "run", piles, scores)
    assert main(["review", str(run_dir), "--cells", "8", "--detections", "12", "--seed", "1"]) == 0
    data = page_data(run_dir / "review.html")
    dets = data["design"]["detections"]["sample"]
    decisions = {u["id"]: ("yes" if k % 3 == 0 else "no" if k % 3 == 1 else "unsure")
                 for k, u in enumerate(dets)}
    # One counted cell with one click away from any detection (a pile the detector missed),
    # one impossible cell.
    cells = data["design"]["cells"]["sample"]
    first = data["images"]["cells"][cells[0]["id"]]
    outline = np.array(first["outline"])
    cx, cy = outline.mean(0)
    boxes = np.array(first["boxes"]).reshape(-1, 4)
    assert not ((boxes[:, 0] <= cx) & (cx <= boxes[:, 2]) & (boxes[:, 1] <= cy) & (cy <= boxes[:, 3])).any()
    cell_decisions = {cells[0]["id"]: {"status": "counted", "piles": [pile(first, cx, cy)]},
                      cells[1]["id"]: {"status": "impossible", "piles": []}}
    review = tmp_path / "review.json"
    review.write_text(json.dumps(review_doc(data, decisions, cell_decisions)), encoding="utf-8")
    capsys.readouterr()

    out = tmp_path / "ds"
    assert main(["chips", "--review", str(review), str(run_dir), "--out", str(out),
                 "--size", "32", "--overlap", "4", "--quiet"]) == 0
    said = capsys.readouterr().out
    n_yes = sum(v == "yes" for v in decisions.values())
    n_no = sum(v == "no" for v in decisions.values())
    # Labels: the confirmed boxes plus the clicked pile; rejected ones as hard negatives.
    labels = read_vector(tmp_path / "review.labels.gpkg")
    assert len(labels.geometries) == n_yes + 1
    assert f"{n_no} rejected detections as hard negatives" in said
    doc = yaml.safe_load((out / "dataset.yaml").read_text())
    total_boxes = doc["counts"]["train"]["boxes"] + doc["counts"]["val"]["boxes"]
    assert total_boxes >= n_yes  # every label is in some chip (a box cut by an edge may repeat)
    # Every rejected detection's centre is in a kept chip: a hard negative.
    rows = list(csv.DictReader((out / "chips.csv").open()))
    bounds = np.array([[float(r[k]) for k in ("minx", "miny", "maxx", "maxy")] for r in rows])
    rejected = [u for u, d in zip(dets, decisions.values()) if d == "no"]
    for unit in rejected:
        x0, y0, x1, y1 = unit["box"]
        x, y = (x0 + x1) / 2, (y0 + y1) / 2
        assert ((bounds[:, 0] <= x) & (x < bounds[:, 2]) & (bounds[:, 1] <= y) & (y < bounds[:, 3])).any()
    # Nobody looked at most of the scene: chips there are not cut, and ground outside the
    # reviewed area is blanked inside the chips that are.
    assert len(rows) < 0.25 * (2000 / 5 / 28) * (1500 / 5 / 28)
    blank = [np.asarray(Image.open(p)).max(axis=2) == 0 for p in sorted(out.glob("images/*/*.png"))]
    assert any(b.any() for b in blank) and all(not b.all() for b in blank)


def test_review_without_decisions_is_refused(tmp_path, capsys):
    run_dir = make_run(tmp_path / "run", clustered_piles(20, seed=3))
    assert main(["review", str(run_dir), "--cells", "3", "--detections", "3"]) == 0
    review = tmp_path / "review.json"
    review.write_text(json.dumps(review_doc(page_data(run_dir / "review.html"), {}, {})), encoding="utf-8")
    capsys.readouterr()
    assert main(["chips", "--review", str(review), str(run_dir), "--out", str(tmp_path / "ds")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no label yet" in err


def test_review_with_only_rejections_gives_hard_negative_chips(tmp_path, capsys):
    run_dir = make_run(tmp_path / "run", clustered_piles(30, seed=7))
    assert main(["review", str(run_dir), "--cells", "2", "--detections", "5"]) == 0
    data = page_data(run_dir / "review.html")
    review = tmp_path / "review.json"
    review.write_text(json.dumps(review_doc(
        data, {u["id"]: "no" for u in data["design"]["detections"]["sample"]}, {})), encoding="utf-8")
    out = tmp_path / "ds"
    assert main(["chips", "--review", str(review), str(run_dir), "--out", str(out),
                 "--size", "32", "--overlap", "4", "--quiet"]) == 0
    doc = yaml.safe_load((out / "dataset.yaml").read_text())
    images = doc["counts"]["train"]["images"] + doc["counts"]["val"]["images"]
    assert images >= 1 and doc["counts"]["train"]["boxes"] + doc["counts"]["val"]["boxes"] == 0
