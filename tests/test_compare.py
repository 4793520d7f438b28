"""debrismap compare: one-to-one matching and new / gone / persisting piles between dates."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import shapely
from test_heatmap_fixtures import ORIGIN, clustered_piles, make_run, scene_polygon

from debrismap.aggregate.compare import run_compare
from debrismap.aggregate.matching import match_piles
from debrismap.cli import main
from debrismap.vector_io import read_vector

X0, Y0 = ORIGIN


def test_matching_is_one_to_one_and_maximal():
    # greedy-by-distance would pair (4 -> 3.5) and leave two piles unmatched
    before = np.array([[0.0, 0.0], [4.0, 0.0]])
    after = np.array([[3.5, 0.0], [7.0, 0.0]])
    m = match_piles(before, after, 4.0)
    assert sorted(zip(m.before_index, m.after_index)) == [(0, 0), (1, 1)]
    assert len(m.new) == 0 and len(m.gone) == 0


def test_matching_respects_the_distance():
    m = match_piles(np.array([[0.0, 0.0], [100.0, 0]]), np.array([[5.1, 0.0], [100, 0]]), 5.0)
    assert list(m.before_index) == [1] and list(m.gone) == [0] and list(m.new) == [0]
    empty = match_piles(np.zeros((0, 2)), np.array([[1.0, 1.0]]), 5.0)
    assert list(empty.new) == [0] and len(empty.gone) == 0


@pytest.fixture(scope="module")
def two_dates(tmp_path_factory):
    """Before: kept + gone piles. After: kept (moved < 1.5 m) + new piles, imaged over a
    smaller area (x < 1800 m), stored in EPSG:4326. Piles outside the common area must be
    neither 'gone' nor 'new'."""
    root = tmp_path_factory.mktemp("compare")
    rng = np.random.default_rng(11)
    common = scene_polygon(1800, 1500)
    inner = shapely.box(X0 + 20, Y0 + 20, X0 + 1780, Y0 + 1480)
    pts = rng.uniform([X0 + 20, Y0 + 20], [X0 + 1780, Y0 + 1480], (400, 2))
    # keep piles at least 12 m apart so matches are unambiguous at 5 m
    keep_idx = [0]
    for i in range(1, len(pts)):
        if np.min(np.hypot(*(pts[keep_idx] - pts[i]).T)) > 12:
            keep_idx.append(i)
    pts = pts[keep_idx]
    kept, gone, new = pts[:150], pts[150:180], pts[180:205]
    beyond = np.array([[X0 + 1900, Y0 + 300], [X0 + 1950, Y0 + 900]])  # before only, unseen after
    assert all(inner.contains(shapely.Point(p)) for p in np.vstack([kept, gone, new]))
    moved = kept + rng.uniform(-1.0, 1.0, kept.shape)
    before = make_run(root / "before", np.vstack([kept, gone, beyond]), date="2023-01-25")
    after = make_run(root / "after", np.vstack([moved, new]), crs="EPSG:4326", date="2023-02-10",
                     coverage_utm=common, extent_utm=common)
    out = run_compare(before, after, root / "out", match_distance=5.0)
    return out, kept, gone, new


def test_compare_recovers_known_changes_exactly(two_dates):
    out, kept, gone, new = two_dates
    totals = json.loads(out.change_summary_json.read_text())["totals"]
    assert totals == {"before": len(kept) + len(gone), "after": len(kept) + len(new),
                      "persisting": len(kept), "new": len(new), "gone": len(gone),
                      "net": len(new) - len(gone)}
    change = read_vector(out.change_gpkg)
    status = change.fields["status"]
    centres = np.column_stack([change.fields["centre_x"], change.fields["centre_y"]])
    for name, truth in (("gone", gone), ("new", new)):
        got = centres[status == name]
        assert len(got) == len(truth)
        d = np.hypot(*(got[:, None, :] - truth[None, :, :]).transpose(2, 0, 1))
        assert np.all(d.min(axis=1) < 1e-3)  # exactly the planted piles
    assert np.all(change.fields["distance_m"][status == "persisting"] < 1.5)


def test_change_counts_per_cell_add_up(two_dates):
    out, kept, gone, new = two_dates
    with open(out.change_counts_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    total = {k: sum(int(r[k]) for r in rows) for k in ("before", "after", "new", "gone", "net")}
    assert total == {"before": len(kept) + len(gone), "after": len(kept) + len(new),
                     "new": len(new), "gone": len(gone), "net": len(new) - len(gone)}
    for r in rows:
        assert int(r["net"]) == int(r["after"]) - int(r["before"])
    # only the common ground: nothing east of x = 1800 m (beyond a sliver from reprojection)
    east = [r for r in rows if float(r["centre_x"]) > X0 + 1800]
    assert all(float(r["valid_fraction"]) < 0.01 and int(r["before"]) == 0 for r in east)
    assert read_vector(out.change_counts_gpkg).crs.to_epsg() == 32637


def test_change_density_and_figure(two_dates):
    import rasterio
    from PIL import Image

    out, _kept, gone, new = two_dates
    with rasterio.open(out.change_density_tif) as ds:
        data = ds.read(1, masked=True)
        assert ds.overviews(1)
        net = float(data.sum()) * abs(ds.transform.a * ds.transform.e) / 1e6
    assert net == pytest.approx(len(new) - len(gone), abs=3)  # signed mass, minus edge tails
    with Image.open(out.change_png) as im:
        assert im.width >= 1000 and im.info["dpi"][0] == pytest.approx(300, abs=1)


def test_disjoint_runs_are_refused(tmp_path, capsys):
    a = make_run(tmp_path / "a", clustered_piles(5), raster=False)
    far = shapely.box(X0 + 5000, Y0, X0 + 6000, Y0 + 1000)
    b = make_run(tmp_path / "b", clustered_piles(5, extent=far), extent_utm=far, raster=False)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no common ground" in err and err.count("\n") == 1
