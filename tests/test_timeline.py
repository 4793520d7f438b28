"""`debrismap timeline`: piles followed over a synthetic series whose truth is known.

The series is one synth city imaged on five dates, each acquisition misregistered by 1–3 m
and lit differently, one of them hazy; piles are bright squares that the oracle detector
finds exactly, so every difference from the truth is the timeline's own (dating,
co-registration, tracking), not a detector's.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_detect_oracle import build_oracle
from test_report import dump_dom, needs_chromium

from debrismap.cli import main
from debrismap.timeline.outputs import run_timeline
from debrismap.timeline.synth_series import build_series
from debrismap.vector_io import read_vector, write_vector

DATES = ["2024-01-10", "2024-02-05", "2024-03-01", "2024-03-22", "2024-04-15"]
HAZY = 2
PIXEL_M = 0.5


def _detect(rasters, runs_dir: Path, model: Path) -> list[Path]:
    out = []
    for raster in rasters:
        run = runs_dir / raster.stem
        code = main(["detect", str(raster), "--out", str(run), "--model", str(model), "--no-heatmap", "--quiet"])
        assert code == 0
        out.append(run)
    return out


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    root = tmp_path_factory.mktemp("series")
    model = build_oracle(root / "oracle.onnx")
    s = build_series(root / "images", DATES, size=512, seed=3, piles="squares", hazy=(HAZY,))
    runs = _detect([a.raster for a in s.acquisitions], root / "batch", model)
    return s, runs, model


@pytest.fixture(scope="module")
def timeline(series, tmp_path_factory):
    _s, runs, _ = series
    out = tmp_path_factory.mktemp("timeline")
    outputs = run_timeline([runs[0].parent], out, progress=lambda *_: None)  # the batch folder
    return outputs


def _truth_in_reference_frame(s, record) -> np.ndarray:
    ref = next(a for a in s.acquisitions if a.date.isoformat() == record["reference"]["date"])
    return s.centres() + np.asarray(ref.offset_m)


def _read_piles(outputs):
    data = read_vector(outputs.piles_gpkg)
    return data.fields


def _match_truth(s, outputs):
    from scipy.spatial import cKDTree

    fields = _read_piles(outputs)
    truth = _truth_in_reference_frame(s, outputs.record)
    found = np.column_stack([fields["centre_x"], fields["centre_y"]])
    dist, idx = cKDTree(found).query(truth)
    return fields, dist, idx


def test_every_pile_is_found_once_and_dated_on_its_true_first_date(series, timeline):
    s, _, _ = series
    fields, dist, idx = _match_truth(s, timeline)
    assert len(fields["pile_id"]) == len(s.boxes)  # no pile split in two, none invented
    assert dist.max() < 2 * PIXEL_M  # positions agree after co-registration
    assert len(set(idx)) == len(idx)
    truth_dates = [DATES[i] for i in s.appears]
    assert list(fields["first_seen"][idx]) == truth_dates


def test_per_date_counts_and_new_match_the_truth(series, timeline):
    s, _, _ = series
    rows = list(csv.DictReader(timeline.timeline_csv.open()))
    assert [r["date"] for r in rows] == DATES
    for k, row in enumerate(rows):
        assert int(row["count"]) == int(np.count_nonzero(s.appears <= k))
        assert int(row["new"]) == (int(np.count_nonzero(s.appears == k)) if k else 0)
        assert float(row["imaged_km2"]) == pytest.approx((512 * PIXEL_M) ** 2 / 1e6, rel=1e-3)


def test_offsets_are_recovered_within_a_pixel(series, timeline):
    s, _, _ = series
    record = timeline.record
    ref = next(a for a in s.acquisitions if a.date.isoformat() == record["reference"]["date"])
    for run, acq in zip(record["runs"], s.acquisitions):
        true = np.subtract(acq.offset_m, ref.offset_m)
        got = (run["offset"]["east_m"], run["offset"]["north_m"])
        assert np.hypot(*(np.subtract(got, true))) < PIXEL_M, (run["name"], got, true)
        assert 1.0 <= np.hypot(*acq.offset_m) <= 3.0
    # without co-registration the same series splits piles: the offsets matter
    assert max(np.hypot(r["offset"]["east_m"], r["offset"]["north_m"]) for r in record["runs"]) > 2.0


def test_coregistration_is_what_lets_a_tight_match_distance_work(series, tmp_path):
    s, runs, _ = series
    # 1 m: less than the acquisitions' misregistration (1-3 m each, up to 6 m apart)
    aligned = run_timeline(runs, tmp_path / "aligned", match_distance=1.0, progress=lambda *_: None)
    assert len(_read_piles(aligned)["pile_id"]) == len(s.boxes)
    raw = run_timeline(runs, tmp_path / "raw", match_distance=1.0, coregister=False, progress=lambda *_: None)
    assert len(_read_piles(raw)["pile_id"]) > len(s.boxes)  # piles split in two without it
    assert all(r["offset"]["status"] != "estimated" for r in raw.record["runs"])


def test_hazy_image_widens_the_bracket(series, timeline):
    s, _, _ = series
    fields, _, idx = _match_truth(s, timeline)
    record = timeline.record
    assert [bool(r["quality"]["degraded"]) for r in record["runs"]] == [k == HAZY for k in range(len(DATES))]
    for pile, appears in zip(idx, s.appears):
        after = fields["appeared_after"][pile]
        if appears == 0:
            assert after is None and np.isnan(fields["bracket_days"][pile])
        elif appears == HAZY + 1:  # absent on the hazy date: no evidence, reach back one more
            assert after == DATES[HAZY - 1]
        else:
            assert after == DATES[appears - 1]
            assert fields["last_absent"][pile] == DATES[appears - 1]
    within = np.isfinite(fields["bracket_days"]) & (fields["bracket_days"] <= 31)
    assert record["piles"]["bracket_within_a_month"] == int(within.sum()) > 0
    text = timeline.summary_txt.read_text()
    assert f"{int(within.sum())} piles have an appearance bracket of a month or less" in text


def test_a_pile_missed_on_one_date_stays_one_pile(series, tmp_path):
    import shapely

    s, runs, _ = series
    copies = []
    for run in runs:
        shutil.copytree(run, tmp_path / run.name)
        copies.append(tmp_path / run.name)
    # On date 4 of 5, drop the detection of a pile that was there from the start.
    missed_on = 3
    victim = tmp_path / runs[missed_on].name / "detections.gpkg"
    data = read_vector(victim)
    b = shapely.bounds(data.geometries)
    centres = np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2])
    truth_there = s.centres() + np.asarray(s.acquisitions[missed_on].offset_m)
    nearest = np.argmin(np.linalg.norm(centres[:, None] - truth_there[None], axis=2), axis=1)
    drop = int(np.flatnonzero(s.appears[nearest] == 0)[0])
    keep = np.arange(len(data)) != drop
    write_vector(victim, data.geometries[keep], data.crs, {k: v[keep] for k, v in data.fields.items()},
                 layer="detections", geometry_type="Polygon")
    out = run_timeline(copies, tmp_path / "tl", progress=lambda *_: None)
    fields = _read_piles(out)
    assert len(fields["pile_id"]) == len(s.boxes)  # still one pile, not two
    assert sorted(fields["n_seen"]).count(len(DATES) - 1) == 1
    missed = int(np.flatnonzero(fields["n_seen"] == len(DATES) - 1)[0])
    assert fields["first_seen"][missed] == DATES[0] and fields["last_seen"][missed] == DATES[-1]
    assert fields["n_imaged"][missed] == len(DATES)
    rows = list(csv.DictReader(out.timeline_csv.open()))
    for k, row in enumerate(rows):  # seen before and after: still present on the date it was missed
        assert int(row["count"]) == int(np.count_nonzero(s.appears <= k))
    assert int(rows[missed_on]["detected"]) == int(np.count_nonzero(s.appears <= missed_on)) - 1


def test_outputs_geojson_dates_and_cells(series, timeline):
    gj = json.loads(timeline.piles_geojson.read_text())
    assert len(gj["features"]) == len(series[0].boxes)
    props = gj["features"][0]["properties"]
    for key in ("first_seen", "last_absent", "last_seen", "n_seen", "n_imaged", "mean_score"):
        assert key in props
    assert len(props["first_seen"]) == 10 and props["first_seen"][4] == "-"
    lon, lat = gj["features"][0]["geometry"]["coordinates"][0][0]
    assert -180 <= lon <= 180 and -90 <= lat <= 90
    cells = list(csv.DictReader(timeline.cells_csv.open()))
    per_date = {}
    for row in cells:
        if row["count"] != "":
            per_date[row["date"]] = per_date.get(row["date"], 0) + int(float(row["count"]))
    rows = {r["date"]: int(r["count"]) for r in csv.DictReader(timeline.timeline_csv.open())}
    assert per_date == rows
    assert timeline.timeline_png.stat().st_size > 10_000 and timeline.first_seen_png.stat().st_size > 10_000
    record = json.loads(timeline.timeline_json.read_text())
    assert record["parameters"] == {"match_distance_m": 4.0, "cell_m": 100.0}
    assert all(r["date_source"].startswith("run.json") for r in record["runs"])


def test_partial_coverage_is_never_zero_and_dates_come_from_metadata(tmp_path):
    model = build_oracle(tmp_path / "oracle.onnx")
    s = build_series(tmp_path / "images", DATES[:3], size=384, seed=5, piles="squares", partial=(1,),
                     date_in_name=False)
    runs = _detect([a.raster for a in s.acquisitions], tmp_path / "runs", model)
    out = run_timeline(runs, tmp_path / "tl", cell=50.0, progress=lambda *_: None)
    rows = list(csv.DictReader(out.timeline_csv.open()))
    assert [r["partial"] for r in rows] == ["0", "1", "0"]
    assert float(rows[1]["imaged_km2"]) < 0.7 * float(rows[0]["imaged_km2"])
    cells = [r for r in csv.DictReader(out.cells_csv.open()) if r["date"] == DATES[1]]
    unimaged = [r for r in cells if float(r["imaged_fraction"]) == 0]
    assert unimaged and all(r["count"] == "" and r["new"] == "" for r in unimaged)
    assert all(r["count"] != "" for r in cells if float(r["imaged_fraction"]) > 0)
    assert [r["date"] for r in out.record["runs"]] == DATES[:3]
    # piles in the strip the partial image missed are not "gone" on that date: just not counted
    fields = _read_piles(out)
    assert (fields["n_imaged"] <= 3).all() and (fields["n_seen"] <= fields["n_imaged"]).all()


def _undated_copy(run: Path, dest: Path, name: str) -> Path:
    shutil.copytree(run, dest / name)
    manifest = json.loads((dest / name / "run.json").read_text())
    for inp in manifest["inputs"]:
        inp["acquisition_date"] = None
        inp["path"] = str(dest / f"{name}_scene.tif")  # gone: no metadata, no date in the name
    (dest / name / "run.json").write_text(json.dumps(manifest))
    return dest / name


def test_runs_without_dates_are_refused_with_one_line(series, tmp_path, capsys):
    _, runs, _ = series
    a = _undated_copy(runs[0], tmp_path, "pass_a")
    b = _undated_copy(runs[1], tmp_path, "pass_b")
    code = main(["timeline", str(a), str(b), str(runs[2]), "--out", str(tmp_path / "tl")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "pass_a" in err and "pass_b" in err and "--dates" in err
    assert not (tmp_path / "tl").exists()
    dates = tmp_path / "dates.csv"
    dates.write_text("run,date\npass_a,2023-12-01\npass_b_scene.tif,2023-12-20\n")
    code = main(["timeline", str(a), str(b), str(runs[2]), "--out", str(tmp_path / "tl"), "--dates", str(dates)])
    assert code == 0
    record = json.loads((tmp_path / "tl" / "timeline.json").read_text())
    assert [(r["date"], r["date_source"]) for r in record["runs"][:2]] == [("2023-12-01", "--dates"),
                                                                           ("2023-12-20", "--dates")]


@pytest.mark.parametrize("argv, message", [
    (["--match-distance", "0"], "--match-distance must be a positive number"),
    (["--reference", "1999-01-01"], "--reference 1999-01-01: no run has that date"),
])
def test_bad_flags_one_line(series, tmp_path, capsys, argv, message):
    _, runs, _ = series
    code = main(["timeline", *map(str, runs[:2]), "--out", str(tmp_path / "tl"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1


def test_not_a_run_folder_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["timeline", str(tmp_path / "empty"), "--out", str(tmp_path / "tl")])
    err = capsys.readouterr().err
    assert code == 2 and "neither a run folder" in err and err.count("\n") == 1


def test_report_has_the_timeline_section(series, timeline, tmp_path):
    _, runs, _ = series
    assert main(["report", str(timeline.out_dir)]) == 0
    page = (timeline.out_dir / "report.html").read_text()
    assert 'id="timeline-table"' in page and page.count("data:image/png;base64,") == 2
    assert all(d in page for d in DATES) and "http://" not in page and "https://" not in page
    out = tmp_path / "run-report.html"
    assert main(["report", str(runs[-1]), "--timeline", str(timeline.out_dir), "--out", str(out)]) == 0
    page = out.read_text()
    assert 'id="timeline"' in page and 'id="summary-table"' in page


@needs_chromium
def test_run_report_with_timeline_renders_in_headless_chromium(series, timeline, tmp_path):
    _, runs, _ = series
    out = tmp_path / "run-report.html"
    assert main(["report", str(runs[-1]), "--timeline", str(timeline.out_dir), "--out", str(out)]) == 0
    dom = dump_dom(out, tmp_path)
    assert 'data-rendered="ok"' in dom and 'id="timeline-table"' in dom
    page = tmp_path / "timeline-page.html"
    assert main(["report", str(timeline.out_dir), "--out", str(page)]) == 0
    dom = dump_dom(page, tmp_path)
    assert 'data-rendered="ok"' in dom and dom.count("<tr") == len(DATES) + 1


def test_timeline_imports_nothing_heavy():
    import subprocess
    import sys

    from test_base_install_notorch import BLOCKED

    script = ("import sys, debrismap.timeline.outputs, debrismap.timeline.report_section, "
              f"debrismap.commands.timeline; print([n for n in {BLOCKED!r} if n in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_track_brackets_skip_weak_detections_and_bad_images():
    import shapely

    from debrismap.timeline.track import track_piles

    square = shapely.box(0, 0, 100, 100)
    a, b = np.array([[10.0, 10.0]]), np.array([[50.0, 50.0]])
    centres = [np.zeros((0, 2)), np.zeros((0, 2)), np.vstack([a, b]), np.vstack([a + 0.5, b])]
    scores = [np.zeros(0), np.zeros(0), np.array([0.9, 0.8]), np.array([0.7, 0.6])]
    weak = [np.zeros((0, 2)), a + 1.0, np.zeros((0, 2)), np.zeros((0, 2))]  # a weak hint of `a` on date 1
    tracks = track_piles(centres, scores, [square] * 4, weak, [True, True, True, True], match_distance=3.0)
    assert len(tracks) == 2 and list(tracks.first_seen) == [2, 2]
    assert list(tracks.last_absent()) == [1, 1]
    assert list(tracks.appeared_after()) == [0, 1]  # `a`'s absence on date 1 is not evidence
    tracks = track_piles(centres, scores, [square] * 4, weak, [True, False, True, True], match_distance=3.0)
    assert list(tracks.appeared_after()) == [0, 0]  # date 1 is hazy: nobody's absence counts there
    assert tracks.mean_score[0] == pytest.approx(0.8)
    assert tracks.present.sum(axis=1).tolist() == [0, 0, 2, 2]


def test_dates_file_and_date_parsing(tmp_path):
    from debrismap.errors import ConfigError
    from debrismap.timeline.dates import parse_date, read_dates_file

    assert str(parse_date("2023-02-10T08:31:00Z")) == "2023-02-10"
    assert str(parse_date("20230210")) == "2023-02-10" and parse_date("yesterday") is None
    good = tmp_path / "dates.csv"
    good.write_text("# runs and dates\nname,date\nrun_a, 2023-01-05\nscene_b.tif,20230301\n")
    assert {k: str(v) for k, v in read_dates_file(good).items()} == {"run_a": "2023-01-05",
                                                                      "scene_b.tif": "2023-03-01"}
    bad = tmp_path / "bad.csv"
    bad.write_text("run_a,2023-01-05\nrun_b,soon\n")
    with pytest.raises(ConfigError, match="line 2: 'soon' is not a date"):
        read_dates_file(bad)
