"""debrismap review: sampling design, estimators (by simulation), review.json checks, heatmap --review."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_heatmap_fixtures import clustered_piles, make_run
from test_review_fixtures import click_every_detection, page_data, review_doc

from debrismap.cli import main
from debrismap.review.design import allocate, cell_strata, count_stratum_labels, detection_strata
from debrismap.review.estimate import greg_total, stratified_precision
from debrismap.review.simulate import oracle_reviews, synthetic_city

# --- design ---


def test_allocation_sums_floors_and_caps():
    n = allocate(np.array([1000, 50, 10, 1]), np.array([1.0, 2.0, 3.0, 4.0]), 40)
    assert n.sum() == 40 and (n >= np.minimum([1000, 50, 10, 1], 2)).all() and n[3] == 1
    assert (allocate(np.array([3, 2]), np.ones(2), 100) == [3, 2]).all()  # whole population
    assert allocate(np.array([100, 100, 100]), np.ones(3), 2).sum() == 2  # below the floor


def test_cell_sample_is_stratified_seeded_and_includes_empty_cells():
    counts = np.r_[np.zeros(500, int), np.ones(100, int), np.full(30, 5), np.full(5, 20)]
    s = cell_strata(counts, 40, seed=1)
    labels, names = count_stratum_labels(counts)
    assert names == ["0", "1", "4-7", "16+"]
    assert len(s.sample) == 40 == len(set(s.sample.tolist()))
    assert (np.bincount(labels[s.sample], minlength=4) == s.sample_size).all()
    assert s.sample_size[0] >= 2  # where the detector found nothing is reviewed too
    assert (cell_strata(counts, 40, seed=1).sample == s.sample).all()
    assert not (cell_strata(counts, 40, seed=2).sample == s.sample).all()
    assert s.inclusion_probability(int(s.sample[0])) == pytest.approx(
        s.sample_size[labels[s.sample[0]]] / s.population[labels[s.sample[0]]])


def test_detection_strata_start_at_the_run_threshold_and_are_balanced():
    scores = np.random.default_rng(0).uniform(0.3, 1.0, 400)
    s = detection_strata(scores, 0.3, 50, seed=0)
    assert s.names[0] == "0.30-0.40" and s.sample_size.sum() == 50
    assert s.sample_size.max() - s.sample_size.min() <= 1


# --- estimators ---


def test_greg_is_exact_when_the_truth_is_linear_in_the_detector_count():
    x = np.array([0, 0, 1, 2, 3, 5, 8], float)
    out = greg_total(x_total=100.0, n_units=50, x_s=x, y_s=1 + 2 * x, h_s=np.array([0, 0, 1, 1, 1, 2, 2]),
                     population=np.array([30, 15, 5]))
    assert out["total"][0] == pytest.approx(50 * 1 + 2 * 100)
    assert out["se"][0] == pytest.approx(0, abs=1e-9)


def test_greg_with_constant_count_is_the_stratified_expansion_estimator():
    y = np.array([1.0, 3.0, 0.0, 2.0])
    out = greg_total(0.0, 30, np.zeros(4), y, np.array([0, 0, 1, 1]), np.array([10, 20]))
    assert out["total"][0] == pytest.approx(10 * 2 + 20 * 1)
    # Cochran 5.6: sum N_h^2 (1 - n_h/N_h) s_h^2 / n_h, s^2 of residuals about the weighted
    # mean 4/3, times n / (n - 2) = 2 for the two fitted coefficients
    e0, e1 = y[:2] - 4 / 3, y[2:] - 4 / 3
    var = 100 * (1 - 2 / 10) * e0.var(ddof=1) / 2 + 400 * (1 - 2 / 20) * e1.var(ddof=1) / 2
    assert out["se"][0] ** 2 == pytest.approx(2 * var)


def test_unjudged_cells_leave_their_stratum():
    y = np.array([1.0, 3.0, 99.0, 2.0, 0.0])
    obs = np.array([True, True, False, True, True])
    out = greg_total(0.0, 30, np.zeros(5), y, np.array([0, 0, 0, 1, 1]), np.array([10, 20]), obs)
    assert out["total"][0] == pytest.approx(10 * 2 + 20 * 1) and out["judged"][0] == 4


def test_stratified_precision_by_hand():
    p = stratified_precision(np.array([2, 9]), np.array([10, 10]), np.array([100, 300]))
    assert p["per_stratum"] == pytest.approx([0.2, 0.9])
    assert p["overall"] == pytest.approx(0.25 * 0.2 + 0.75 * 0.9)
    assert (p["per_stratum_low"] < [0.2, 0.9]).all() and (p["per_stratum_high"] > [0.2, 0.9]).all()


def test_interval_coverage_and_bias_by_simulation():
    """Synthetic cities (clustered truth), a detector with recall 0.7 and false alarms, an oracle
    reviewer, 40 cities x 100 reviews of 60 cells: the 95% interval covers the true total in
    0.92-0.97 of the 4000 reviews (measured: 0.95 at 0.5 piles per cell) and the mean error
    is within 3 Monte Carlo standard errors of zero."""
    covered, errors = [], []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        city = synthetic_city(rng, n_cells=2500, piles_per_cell=0.5, recall=0.7, false_per_cell=0.1)
        r = oracle_reviews(city, 60, 100, rng)
        covered.append((r["low"] <= r["true_total"]) & (r["true_total"] <= r["high"]))
        errors.append((r["total"] - r["true_total"]) / r["true_total"])
    coverage, err = np.concatenate(covered).mean(), np.concatenate(errors)
    assert 0.92 <= coverage <= 0.975, coverage
    assert abs(err.mean()) < 3 * err.std() / np.sqrt(len(err)), (err.mean(), err.std())


def test_a_biased_detector_is_corrected_not_copied():
    # The detector misses 40% and the naive count is far off; the review's estimate is not.
    rng = np.random.default_rng(5)
    city = synthetic_city(rng, piles_per_cell=1.0, recall=0.6, false_per_cell=0.05)
    r = oracle_reviews(city, 80, 200, rng)
    assert city.detected.sum() < 0.75 * r["true_total"]
    assert abs(np.median(r["total"]) / r["true_total"] - 1) < 0.05


# --- review.json against its run, and heatmap --review ---


@pytest.fixture(scope="module")
def reviewed_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("reviewed")
    piles = clustered_piles(80, seed=4, spread=250)
    run_dir = make_run(root / "run", piles, np.random.default_rng(4).uniform(0.25, 1.0, len(piles)))
    assert main(["review", str(run_dir), "--cells", "12", "--detections", "20", "--seed", "9"]) == 0
    data = page_data(run_dir / "review.html")
    doc = review_doc(data, {u["id"]: "yes" if u["score"] >= 0.5 else "no"
                            for u in data["design"]["detections"]["sample"]}, click_every_detection(data))
    path = root / "review.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return run_dir, path, doc


def test_heatmap_adds_the_review_estimate(reviewed_run, tmp_path, capsys):
    run_dir, path, _ = reviewed_run
    assert main(["heatmap", str(run_dir), "--review", str(path), "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    review = summary["review"]
    # The oracle clicked every detection box centre: the estimate is the detector's count.
    assert review["total"]["estimate"] == pytest.approx(summary["counted"])
    assert review["reviewed"]["cells_counted"] == 12
    assert 0 < review["precision"]["overall"] < 1
    text = (tmp_path / "summary.txt").read_text()
    assert "95% interval" in text and "does not cover" in text


def _refused(run_dir, path, capsys) -> str:
    assert main(["heatmap", str(run_dir), "--review", str(path), "--out", str(path.parent / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not (path.parent / "out").exists()
    return err


def test_review_of_another_run_is_refused(reviewed_run, tmp_path, capsys):
    _, path, _ = reviewed_run
    other = make_run(tmp_path / "other", clustered_piles(30, seed=8), raster=False)
    assert "review of another run" in _refused(other, path, capsys)


@pytest.mark.parametrize("edit", ["swap_cell", "drop_detection", "inclusion", "seed"])
def test_edited_sample_is_refused(reviewed_run, tmp_path, capsys, edit):
    run_dir, _, doc = reviewed_run
    doc = json.loads(json.dumps(doc))
    design = doc["design"]
    if edit == "swap_cell":
        design["cells"]["sample"][0]["ix"] += 1
    elif edit == "drop_detection":
        design["detections"]["sample"].pop()
    elif edit == "inclusion":
        design["cells"]["sample"][1]["inclusion_probability"] = 0.123
    else:
        design["seed"] += 1
    path = tmp_path / "review.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert "it was edited" in _refused(run_dir, path, capsys)


def test_bad_decisions_and_non_review_files_are_refused(reviewed_run, tmp_path, capsys):
    run_dir, _, doc = reviewed_run
    doc = json.loads(json.dumps(doc))
    doc["decisions"]["detections"]["d999"] = "yes"
    path = tmp_path / "review.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert "not a sampled detection" in _refused(run_dir, path, capsys)
    path.write_text("{}", encoding="utf-8")
    assert "not a debrismap review file" in _refused(run_dir, path, capsys)
    path.write_text("{", encoding="utf-8")
    assert "not a readable JSON file" in _refused(run_dir, path, capsys)


def test_review_needs_the_input_imagery(tmp_path, capsys):
    run_dir = make_run(tmp_path / "run", clustered_piles(20, seed=2), raster=False)
    assert main(["review", str(run_dir)]) == 2
    assert "input imagery" in capsys.readouterr().err


def test_allocation_always_hits_the_requested_total():
    rng = np.random.default_rng(0)
    for _ in range(300):
        pop = rng.integers(1, 400, rng.integers(1, 7))
        total = int(rng.integers(1, 120))
        n = allocate(pop, rng.uniform(0.1, 5, len(pop)), total)
        assert n.sum() == min(total, pop.sum()) and (n <= pop).all() and (n >= 0).all()


def test_report_quotes_the_review(reviewed_run, tmp_path):
    run_dir, path, _ = reviewed_run
    out = tmp_path / "report.html"
    assert main(["report", str(run_dir), "--review", str(path), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert 'id="review-estimate"' in text and "95% interval" in text and "does not cover" in text
