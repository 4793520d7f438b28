"""A person's review beyond one heatmap: `compare --review-before/--review-after`, `timeline
--review`, and `heatmap --draw reviewed` (the map drawn from the review-calibrated counts)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import rasterio
import shapely
from pyproj import CRS
from test_heatmap_fixtures import ORIGIN, clustered_piles, make_run, scene_polygon
from test_review_fixtures import click_every_detection, miscount, page_data, review_doc

from debrismap.aggregate.calibrated import (
    CellModel,
    calibrated_counts,
    calibrated_density,
    drawn_section,
)
from debrismap.aggregate.grid import count_grid
from debrismap.aggregate.run_folder import load_run
from debrismap.cli import main
from debrismap.review.change import change_interval, compare_review_section, domain_total
from debrismap.review.estimate import collapse_strata, domain_greg_total
from debrismap.review.file import load_review
from debrismap.review.simulate import oracle_reviews, synthetic_city
from debrismap.review.summary import review_summary

X0, Y0 = ORIGIN
# The later image covers only the western 1200 m of the 2000 m scene.
AFTER_WIDTH = 1200.0


def _review(run_dir, seed: int, reviewer) -> tuple:
    assert main(["review", str(run_dir), "--cells", "14", "--detections", "10", "--seed", str(seed)]) == 0
    data = page_data(run_dir / "review.html")
    detections = {u["id"]: "yes" for u in data["design"]["detections"]["sample"]}
    doc = review_doc(data, detections, reviewer(data))
    path = run_dir.parent / f"{run_dir.name}-review.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path, doc


@pytest.fixture(scope="module")
def two_reviewed(tmp_path_factory):
    """Before: the whole scene, reviewed by an oracle clicking every detection. After: the
    western part only, reviewed by a person who finds and rejects some piles."""
    root = tmp_path_factory.mktemp("across")
    rng = np.random.default_rng(3)
    before_piles = clustered_piles(90, seed=5, spread=300)
    before = make_run(root / "before", before_piles, rng.uniform(0.3, 1.0, len(before_piles)), date="2023-01-25")
    after_area = scene_polygon(AFTER_WIDTH, 1500)
    after_piles = clustered_piles(70, seed=6, spread=300, extent=after_area, margin=5)
    after = make_run(root / "after", after_piles, rng.uniform(0.3, 1.0, len(after_piles)), date="2023-02-10",
                     coverage_utm=after_area, extent_utm=after_area)
    before_review, _ = _review(before, 1, click_every_detection)
    after_review, after_doc = _review(after, 2, miscount)
    return before, after, before_review, after_review, after_doc


# --- the statistics: a part of the ground, and the change between dates (by simulation) ---


def test_collapse_strata_keeps_censuses_and_merges_short_strata():
    # stratum 1 is a census (its one cell counted); 2 and 3 are short and merge; 4 has none
    group = collapse_strata(np.array([50, 1, 30, 20, 0]), np.array([3, 1, 1, 1, 0]))
    assert group.tolist() == [0, 1, 2, 2, -1]
    # a short last stratum joins the group before it, not a census
    assert collapse_strata(np.array([40, 1, 9]), np.array([2, 1, 1])).tolist() == [0, 1, 0]
    assert (collapse_strata(np.array([40, 9]), np.array([1, 0])) == -1).all()  # too few to estimate


def test_domain_of_the_whole_city_is_the_plain_estimate():
    rng = np.random.default_rng(2)
    city = synthetic_city(rng, n_cells=600)
    whole = oracle_reviews(city, 40, 5, np.random.default_rng(7))
    part = oracle_reviews(city, 40, 5, np.random.default_rng(7), domain=np.ones(600, bool))
    for key in ("total", "se", "df"):
        assert part[key] == pytest.approx(whole[key])


def test_domain_estimate_with_no_sampled_cell_in_it_is_refused():
    x = np.array([0, 1, 2, 0, 1, 2], float)
    out = domain_greg_total(x * [1, 1, 1, 0, 0, 0], np.array([1, 1, 1, 0, 0, 0], bool),
                            np.array([0, 1, 1, 0, 1, 1]), np.array([3, 4]), np.array([0.0, 1.0]))
    assert out is None
    # With the whole domain sampled it is a census: the exact total, no sampling error.
    out = domain_greg_total(x * [1, 1, 1, 0, 0, 0], np.array([1, 1, 1, 0, 0, 0], bool),
                            np.array([0, 1, 1, 0, 1, 1]), np.array([0, 1, 2, 4]), np.array([1.0, 2.0, 2.0, 5.0]))
    assert out["total"][0] == pytest.approx(5.0) and out["se"][0] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("share, cells, lowest", [(0.6, 60, 0.93), (0.25, 120, 0.92)])
def test_domain_interval_coverage_by_simulation(share, cells, lowest):
    """Synthetic cities as in test_review.py, the total of a part of them (compare's common
    ground) estimated from oracle reviews: 30 cities x 100 reviews. Measured: 0.953 for 60% of
    the cells at 60 counted, 0.945 for a quarter at 120 (0.925 for a quarter at 60, about 15
    counted cells on it: docs/review.md)."""
    covered, errors = [], []
    for seed in range(30):
        rng = np.random.default_rng(seed)
        city = synthetic_city(rng, n_cells=2500, piles_per_cell=0.5, recall=0.7, false_per_cell=0.1)
        r = oracle_reviews(city, cells, 100, rng, domain=np.arange(2500) < share * 2500)
        covered.append((r["low"] <= r["true_total"]) & (r["true_total"] <= r["high"]))
        errors.append((r["total"] - r["true_total"]) / r["true_total"])
    coverage, err = np.concatenate(covered).mean(), np.concatenate(errors)
    assert lowest <= coverage <= 0.975, coverage
    assert abs(err.mean()) < 3 * err.std() / np.sqrt(len(err)), (err.mean(), err.std())


def test_change_interval_coverage_by_simulation():
    """Two independent dates (0.5 then 0.7 piles per cell, the detector weaker on the second),
    each reviewed on 60 cells, 40 pairs x 100 reviews: the change's 95% interval covers the
    true change in 0.92-0.975 (measured 0.947)."""
    covered = []
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        before = oracle_reviews(synthetic_city(rng, 2500, 0.5, recall=0.7), 60, 100, rng)
        after = oracle_reviews(synthetic_city(rng, 2500, 0.7, recall=0.6), 60, 100, rng)
        c = change_interval(before, after)
        truth = after["true_total"] - before["true_total"]
        covered.append((c["low"] <= truth) & (truth <= c["high"]))
        assert c["se"] == pytest.approx(np.hypot(before["se"], after["se"]))
    coverage = np.concatenate(covered).mean()
    assert 0.92 <= coverage <= 0.975, coverage


# --- compare ---


def test_compare_quotes_both_reviews_on_the_common_ground_and_the_change(two_reviewed, tmp_path, capsys):
    before, after, before_review, after_review, _ = two_reviewed
    out = tmp_path / "change"
    assert main(["compare", str(before), str(after), "--out", str(out), "--review-before", str(before_review),
                 "--review-after", str(after_review)]) == 0
    summary = json.loads((out / "change_summary.json").read_text())
    totals, review = summary["totals"], summary["review"]
    b, a, change = review["before"], review["after"], review["change"]
    # The oracle clicked every detection: on the common ground the estimate is the detector's
    # count there, which is not the count of the whole before image (the restriction happened).
    whole_before = len(load_run(before).scores)
    assert totals["before"] < whole_before
    assert b["total"]["estimate"] == pytest.approx(totals["before"], abs=0.05)
    assert b["detector_count_in_review_grid"] == totals["before"]
    assert b["whole_run_total"]["estimate"] == pytest.approx(whole_before, abs=0.05)
    # The after run's ground is all common ground: its estimate is the run's own reviewed total.
    own = review_summary(load_review(after_review, load_run(after)))["total"]
    assert a["total"]["estimate"] == pytest.approx(own["estimate"], abs=0.05)
    assert a["total"]["estimate"] != pytest.approx(totals["after"], abs=0.5)  # the person's counts differ
    assert a["total"]["standard_error"] > 0
    # Change: after minus before, the two variances added.
    assert change["estimate"] == pytest.approx(a["total"]["estimate"] - b["total"]["estimate"], abs=0.11)
    se = np.hypot(a["total"]["standard_error"], b["total"]["standard_error"])
    assert change["standard_error"] == pytest.approx(se, abs=0.011)
    assert change["low"] < change["estimate"] < change["high"]
    text = (out / "change_summary.txt").read_text()
    assert "change: " in text and "95% interval" in text and "does not cover" in text
    assert "counted every pile" in text
    assert "95% interval" in capsys.readouterr().out


def test_compare_with_one_review_says_the_change_is_not_estimated(two_reviewed, tmp_path):
    before, after, _, after_review, _ = two_reviewed
    out = tmp_path / "change"
    assert main(["compare", str(before), str(after), "--out", str(out), "--review-after", str(after_review)]) == 0
    review = json.loads((out / "change_summary.json").read_text())["review"]
    assert review["before"] is None and review["change"] is None
    assert "before run" in review["change_not_estimated"]
    text = (out / "change_summary.txt").read_text()
    assert "before: not reviewed" in text and "change: not estimated" in text


def test_compare_refuses_a_review_of_the_other_run(two_reviewed, tmp_path, capsys):
    before, after, before_review, _, _ = two_reviewed
    out = tmp_path / "change"
    assert main(["compare", str(before), str(after), "--out", str(out), "--review-after", str(before_review)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "review of another run" in err
    assert not out.exists()


def test_compare_without_review_writes_the_detector_summary_only(two_reviewed, tmp_path):
    before, after, *_ = two_reviewed
    assert main(["compare", str(before), str(after), "--out", str(tmp_path)]) == 0
    assert "review" not in json.loads((tmp_path / "change_summary.json").read_text())
    assert "From the person" not in (tmp_path / "change_summary.txt").read_text()


def test_domain_total_on_the_whole_ground_is_the_run_total(two_reviewed):
    _, after, _, after_review, _ = two_reviewed
    review = load_review(after_review, load_run(after))
    analysis = review.population.analysis
    whole = domain_total(review, analysis.coverage, analysis.metric_crs)
    own = review_summary(review)["total"]
    assert whole["total"] == pytest.approx(own["estimate"], abs=0.05)
    assert whole["se"] == pytest.approx(own["standard_error"], abs=0.005)
    # No counted cell on a far-away domain: no estimate rather than a zero with no error.
    far = shapely.box(X0 + 5000, Y0, X0 + 6000, Y0 + 1000)
    assert "total" not in domain_total(review, far, analysis.metric_crs)
    section, text = compare_review_section({"before": None, "after": review}, far, analysis.metric_crs,
                                           {"before": 3, "after": 0}, 1.0)
    assert "total" not in section["after"] and section["change"] is None
    assert "too few of the counted cells lie on it (0)" in text and "before: not reviewed" in text


# --- timeline ---


TIMELINE_COLUMNS = ["date", "acquisition", "imaged_km2", "partial", "count", "new", "detected",
                    "detected_low", "detected_high", "degraded"]


def _timeline_rows(out) -> tuple[list[str], list[dict]]:
    with open(out / "timeline.csv", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, list(reader)


def test_timeline_puts_the_review_on_its_date_only(two_reviewed, tmp_path):
    before, after, _, after_review, _ = two_reviewed
    plain, reviewed = tmp_path / "plain", tmp_path / "reviewed"
    assert main(["timeline", str(before), str(after), "--out", str(plain), "--no-coregister"]) == 0
    assert main(["timeline", str(before), str(after), "--out", str(reviewed), "--no-coregister",
                 "--review", str(after_review), str(after)]) == 0
    header, rows = _timeline_rows(plain)
    assert header == TIMELINE_COLUMNS  # unchanged without a review
    assert "reviews" not in json.loads((plain / "timeline.json").read_text())
    header, rows = _timeline_rows(reviewed)
    assert header == TIMELINE_COLUMNS[:9] + ["reviewed", "reviewed_low", "reviewed_high", "degraded"]
    by_date = {r["date"]: r for r in rows}
    own = review_summary(load_review(after_review, load_run(after)))["total"]
    assert float(by_date["2023-02-10"]["reviewed"]) == pytest.approx(own["estimate"])
    assert float(by_date["2023-02-10"]["reviewed_low"]) == pytest.approx(own["low"])
    assert [by_date["2023-01-25"][k] for k in ("reviewed", "reviewed_low", "reviewed_high")] == ["", "", ""]
    record = json.loads((reviewed / "timeline.json").read_text())
    dates = {d["date"]: d for d in record["dates"]}
    assert dates["2023-01-25"]["reviewed"] is None and dates["2023-02-10"]["reviewed"] == own["estimate"]
    assert [r["reviewed"] for r in record["reviews"]] == [False, True]
    assert "Empty on dates nobody reviewed" in record["meaning"]["reviewed"]
    text = (reviewed / "summary.txt").read_text()
    assert "2023-01-25  not reviewed" in text and "sampling error only" in text
    # The other outputs are the same with and without the review.
    for name in ("cells_timeline.csv", "piles.geojson"):
        assert (plain / name).read_bytes() == (reviewed / name).read_bytes()
    # The timeline's HTML page has the column only when a date was reviewed.
    for folder, has in ((plain, False), (reviewed, True)):
        assert main(["report", str(folder), "--out", str(folder / "page.html")]) == 0
        page = (folder / "page.html").read_text(encoding="utf-8")
        assert ("reviewed estimate (95% interval)" in page) is has and ("not reviewed" in page) is has


def test_timeline_refuses_a_review_of_another_run_or_outside_the_series(two_reviewed, tmp_path, capsys):
    before, after, before_review, after_review, _ = two_reviewed
    out = tmp_path / "t"
    assert main(["timeline", str(before), str(after), "--out", str(out), "--no-coregister",
                 "--review", str(before_review), str(after)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "review of another run" in err and not out.exists()
    # A review of a run that is not in the series.
    other = tmp_path / "third"
    make_run(other, clustered_piles(20, seed=9), date="2023-03-01")
    assert main(["timeline", str(before), str(other), "--out", str(out / "x"), "--no-coregister",
                 "--review", str(after_review), str(after)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not one of the timeline's runs" in err
    assert not (out / "x").exists()


# --- heatmap --draw reviewed ---


def test_heatmap_draws_the_review_calibrated_counts(two_reviewed, tmp_path):
    _, after, _, after_review, _ = two_reviewed
    raw, drawn = tmp_path / "raw", tmp_path / "drawn"
    assert main(["heatmap", str(after), "--review", str(after_review), "--out", str(raw)]) == 0
    assert main(["heatmap", str(after), "--review", str(after_review), "--draw", "reviewed", "--out", str(drawn)]) == 0
    summary = json.loads((drawn / "summary.json").read_text())
    estimate = summary["review"]["total"]["estimate"]
    with open(drawn / "counts.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    calibrated = np.array([float(r["calibrated"]) for r in rows])
    detected = np.array([float(r["count"]) for r in rows])
    assert detected.sum() == summary["counted"]  # the detector's column is kept
    # The person's counts are higher than the detector's: the line lifts every cell.
    assert calibrated.sum() == pytest.approx(estimate, abs=0.05 + 1e-4 * len(rows))
    assert summary["map"]["cells_sum"] == pytest.approx(estimate, abs=0.1)
    assert summary["map"]["cells_below_zero_drawn_as_zero"] == 0
    fit = summary["review"]["total"]["fit"]
    assert calibrated == pytest.approx(fit["intercept"] + fit["slope"] * detected, abs=1e-3)
    # The density surface holds about the calibrated total, not the detector's count.
    with rasterio.open(drawn / "density.tif") as ds:
        values, pixel = ds.read(1), ds.res[0]
        assert "review-calibrated" in ds.descriptions[0]
    with rasterio.open(raw / "density.tif") as ds:
        raw_values = ds.read(1)
    held = float(np.nansum(values.astype(float)) * pixel**2 / 1e6)
    assert held == pytest.approx(summary["map"]["density_holds"], rel=1e-3)
    assert abs(held - estimate) < 0.1 * estimate and abs(held - estimate) < abs(np.nansum(raw_values) * pixel**2 / 1e6 - estimate)
    text = (drawn / "summary.txt").read_text()
    assert "review-calibrated counts" in text and "the estimated total" in text
    assert "map" not in json.loads((raw / "summary.json").read_text())
    with open(raw / "counts.csv", newline="") as f:
        assert "calibrated" not in next(csv.reader(f))


def test_draw_reviewed_needs_a_review_on_the_same_grid(two_reviewed, tmp_path, capsys):
    _, after, _, after_review, _ = two_reviewed
    assert main(["heatmap", str(after), "--draw", "reviewed", "--out", str(tmp_path / "a")]) == 2
    assert "needs --review" in capsys.readouterr().err
    assert main(["heatmap", str(after), "--review", str(after_review), "--draw", "reviewed", "--cell", "250",
                 "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--cell 100" in err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_line_below_zero_is_drawn_as_zero_and_the_summary_says_why():
    coverage = shapely.box(0, 0, 400, 400)
    centres = np.array([[50.0, 50.0]] * 6 + [[150.0, 50.0]] * 2 + [[250.0, 250.0]])
    grid = count_grid(centres, coverage, 100.0, CRS.from_epsg(32637))
    line = CellModel(intercept=-0.5, slope=1.2, cell_m=100.0, estimate=-0.5 * 16 + 1.2 * 9, low=0, high=9,
                     cells_counted=10, population=16, detector_total=9, source="r.json")
    counts = calibrated_counts(grid, line)
    assert counts.min() == 0 and counts.sum() == pytest.approx(1.2 * 9 - 0.5 * 3)
    density = calibrated_density(centres, grid, coverage, 75.0, 10.0, line)
    assert np.nanmin(density.values) >= 0
    section, text = drawn_section(grid, density, line)
    assert section["cells_below_zero_drawn_as_zero"] == 13
    assert section["cells_sum"] > section["estimate"]
    assert "not the estimated" in text and "below zero" in text


# --- report --draw reviewed: the HTML report's map from the same calibrated counts ---


def _report_parts(page: str) -> tuple[dict, str, str]:
    """(the page's data JSON, its map image's data URI, its map caption)."""
    data = json.loads(page.split('<script type="application/json" id="report-data">')[1].split("</script>")[0])
    map_uri = page.split('<div class="map"><img src="')[1].split('"')[0]
    caption = page.split('<p class="note" id="map-caption">')[1].split("</p>")[0]
    return data, map_uri, caption


def test_report_draws_the_review_calibrated_map_only_when_asked(two_reviewed, tmp_path, capsys):
    _, after, _, after_review, _ = two_reviewed
    raw, drawn = tmp_path / "raw.html", tmp_path / "drawn.html"
    assert main(["report", str(after), "--review", str(after_review), "--out", str(raw)]) == 0
    assert main(["report", str(after), "--review", str(after_review), "--draw", "reviewed", "--out", str(drawn)]) == 0
    raw_data, raw_map, raw_caption = _report_parts(raw.read_text(encoding="utf-8"))
    data, map_uri, caption = _report_parts(drawn.read_text(encoding="utf-8"))
    own = review_summary(load_review(after_review, load_run(after)))["total"]
    # The drawn page says what its map shows, and the plain one does not.
    assert "review-calibrated" in caption and "Drawn from review-calibrated counts" in caption
    assert f"{own['estimate']:,.0f} piles" in caption
    assert "review-calibrated" not in raw_caption and "map" not in raw_data
    assert "Density of review-calibrated debris piles" in drawn.read_text(encoding="utf-8")
    # The same line as `heatmap --draw reviewed`: its cells add up to the review's estimate,
    # and the top cells carry the line's value beside the detector's count.
    assert data["map"]["drawn"] == "review-calibrated counts"
    assert data["map"]["cells_sum"] == pytest.approx(own["estimate"], abs=0.1)
    fit = own["fit"]
    for c in data["cells"]:
        assert c["calibrated"] == pytest.approx(max(fit["intercept"] + fit["slope"] * c["count"], 0), abs=1e-3)
    assert all("calibrated" not in c for c in raw_data["cells"])
    assert map_uri != raw_map  # the density image itself is redrawn
    # Refused with one line, nothing written: --draw reviewed without the review.
    capsys.readouterr()
    assert main(["report", str(after), "--draw", "reviewed", "--out", str(tmp_path / "no.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs --review" in err and not (tmp_path / "no.html").exists()
