"""The QGIS plugin inside real QGIS (Debian's qgis + python3-qgis), headless.

Skipped where QGIS is not installed (.ci/run installs it). QGIS's Python bindings are built
for the system interpreter, so QGIS runs in child processes: `qgis_process` for the command
line, and tests/qgis_driver.py under /usr/bin/python3 for what the Processing dialog does
(load the results into a project, styled) plus a render of the map, Cancel and resume.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

pytestmark = pytest.mark.qgis

ROOT = Path(__file__).resolve().parents[1]
QGIS_PROCESS = "/usr/bin/qgis_process.bin"  # the wrapper adds --noversioncheck, which the binary rejects
QGIS_PYTHON = "/usr/bin/python3"
DEBRISMAP = str(Path(sys.executable).with_name("debrismap"))


def _qgis_missing() -> str | None:
    if not os.access(QGIS_PROCESS, os.X_OK):
        return f"QGIS is not installed ({QGIS_PROCESS} missing)"
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True, check=False,
                           env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"})
    return None if probe.returncode == 0 else f"QGIS's Python bindings do not import: {probe.stderr[-200:]!r}"


@pytest.fixture(scope="module")
def qgis_env(tmp_path_factory):
    reason = _qgis_missing()
    if reason:
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("qgis-profile")
    # qgis_process (3.22) loads only plugins enabled in the profile; a throwaway profile enables ours.
    settings = home / "profiles" / "default" / "QGIS"
    settings.mkdir(parents=True)
    (settings / "QGIS3.ini").write_text("[PythonPlugins]\ndebrismap_qgis=true\n")
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    # QGIS's embedded Python finds its home through the first python3 on PATH: the system's, not this venv's.
    env["PATH"] = "/usr/bin:/bin:" + env.get("PATH", "")
    env.update(QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(home), QGIS_PLUGINPATH=str(ROOT / "qgis"),
               DEBRISMAP_EXECUTABLE=DEBRISMAP, XDG_RUNTIME_DIR=str(runtime))
    return env


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """A small synthetic city, and the same city tiled 2 x 2 (a run long enough to cancel mid-way)."""
    from debrismap.synth import generate_city

    folder = tmp_path_factory.mktemp("qgis-scenes")
    city = generate_city(folder / "city.tif", size=768, seed=3, progress=False).raster
    with rasterio.open(city) as src:
        profile, pixels = src.profile, src.read()
    big = folder / "city_2x2.tif"
    profile.update(width=pixels.shape[2] * 2, height=pixels.shape[1] * 2)
    with rasterio.open(big, "w", **profile) as dst:
        dst.write(np.tile(pixels, (1, 2, 2)))
    return {"city": Path(city), "big": big}


def qgis_process(env, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=timeout,
                          check=False, cwd=ROOT)


@pytest.fixture(scope="module")
def driven(qgis_env, scenes, tmp_path_factory):
    """One QGIS session doing what a user does in the Processing dialog (see qgis_driver.py)."""
    work = tmp_path_factory.mktemp("qgis-driver")
    proc = subprocess.run([QGIS_PYTHON, str(ROOT / "tests" / "qgis_driver.py"), str(scenes["city"]),
                           str(scenes["big"]), str(work)], env=qgis_env, capture_output=True, text=True,
                          timeout=600, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("DRIVER-REPORT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    report = json.loads(lines[-1].removeprefix("DRIVER-REPORT "))
    report["work"] = work
    return report


def test_the_provider_loads_in_qgis_process(qgis_env):
    proc = qgis_process(qgis_env, "list")
    assert proc.returncode == 0, proc.stderr
    listed = set(re.findall(r"debrismap:\w+", proc.stdout))
    assert {"debrismap:detect", "debrismap:heatmap", "debrismap:compare"} <= listed
    has_timeline = subprocess.run([DEBRISMAP, "timeline", "--help"], capture_output=True, check=False).returncode == 0
    assert ("debrismap:timeline" in listed) == has_timeline


def test_the_provider_setting_names_the_command(driven):
    assert driven["setting"]["with_bad_setting"].endswith("is not an executable file: "
                                                          f"{driven['work'] / 'not-a-command.txt'}")
    assert driven["setting"]["without"] == DEBRISMAP  # unset: DEBRISMAP_EXECUTABLE, else PATH
    assert {"debrismap:detect", "debrismap:heatmap", "debrismap:compare"} <= set(driven["algorithms"])


def test_qgis_process_runs_detect_into_a_run_folder(qgis_env, scenes, tmp_path):
    import pyogrio
    import shapely

    with rasterio.open(scenes["city"]) as src:  # area of interest: the west half of the city
        left, bottom, right, top = src.bounds
        crs = src.crs.to_string()
    aoi = tmp_path / "west_half.gpkg"
    from debrismap.vector_io import write_vector

    write_vector(aoi, [shapely.box(left, bottom, (left + right) / 2, top)], crs, layer="aoi")
    out = tmp_path / "run"
    proc = qgis_process(qgis_env, "run", "debrismap:detect", "--", f"INPUT={scenes['city']}", f"AOI={aoi}",
                        f"OUTPUT={out}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for name in ("detections.gpkg", "coverage.gpkg", "density.tif", "run.json", "heatmap.png"):
        assert (out / name).is_file(), name
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["aoi"]
    _, _, wkb, _ = pyogrio.raw.read(out / "coverage.gpkg")
    analysed = sum(shapely.from_wkb(g).area for g in wkb)
    assert analysed == pytest.approx((right - left) * (top - bottom) / 2, rel=0.02)
    assert f"DETECTIONS:\t{out / 'detections.gpkg'}" in proc.stdout


def test_a_non_raster_input_gives_the_commands_one_line_error(qgis_env, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not imagery")
    proc = qgis_process(qgis_env, "run", "debrismap:detect", "--", f"INPUT={notes}", f"OUTPUT={tmp_path / 'run'}")
    assert proc.returncode != 0
    expected = f"ERROR:\tdebrismap detect: error: {notes}: not a raster GDAL can read"
    assert expected in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def _layer(layers, source_name):
    return next(layer for layer in layers if Path(layer["source"]).name == source_name)


def test_detect_loads_its_layers_styled(driven):
    assert driven["detect"]["ok"], driven["detect"]["errors"]
    progress = driven["detect"]["progress"]  # the command's tiles done / total, streamed while it ran
    assert any(0 < p < 100 for p in progress) and progress[-1] == 100
    layers = driven["layers"]
    assert [Path(layer["source"]).name for layer in layers][:3] == ["detections.gpkg", "density.tif", "coverage.gpkg"]
    boxes = _layer(layers, "detections.gpkg")
    assert boxes["valid"] and boxes["features"] > 0
    assert boxes["renderer"] == "graduatedSymbol" and boxes["attribute"] == "score"
    assert boxes["brush_style"] == 0  # outlined, not filled: the imagery under a box stays visible
    coverage = _layer(layers, "coverage.gpkg")
    assert coverage["renderer"] == "singleSymbol" and coverage["brush_style"] == 0
    density = _layer(layers, "density.tif")
    assert density["renderer"] == "singlebandpseudocolor"
    assert density["ramp"][0] == [0.0, 0]  # zero density: transparent
    assert min(alpha for _, alpha in density["ramp"][1:]) > 0


def test_the_density_colour_scale_is_the_heatmaps(driven):
    from debrismap.aggregate.writers import density_vmax

    density = _layer(driven["layers"], "density.tif")
    with rasterio.open(density["source"]) as src:
        values = src.read(1, masked=True).filled(np.nan)

    class Density:  # what density_vmax reads
        pass

    grid = Density()
    grid.values = values
    assert density["classification_max"] == density_vmax(grid)
    assert density["ramp"][-1][0] == density_vmax(grid)


def test_the_map_renders_headless(driven):
    render = driven["render"]
    assert Path(render["png"]).stat().st_size > 50_000
    assert render["distinct_colours"] > 1000 and render["non_white_share"] > 0.9


def test_cancel_stops_the_command_and_resume_completes(driven):
    cancel, resume = driven["cancel"], driven["resume"]
    assert not cancel["ok"]
    assert any("cancelled" in e and "Resume" in e for e in cancel["errors"])
    assert cancel["processes_left"] == []  # the child was terminated, not left running
    assert cancel["run_json_after_cancel"] == "running"
    assert resume["ok"], resume["errors"]
    summary = next(line for line in resume["console"] if " detections in " in line)
    total, run_now = (int(v) for v in re.search(r"in (\d+) tiles \((\d+) run now\)", summary).groups())
    assert 0 < run_now < total  # the cancel came mid-way, and resume did only what was left
    run = json.loads((driven["work"] / "resumed" / "run.json").read_text())
    assert run["status"] == "complete" and run["resumed"] is True


def test_compare_and_heatmap_load_their_layers(driven):
    assert driven["compare"]["ok"], driven["compare"]["errors"]
    change = _layer(driven["compare_layers"], "change.gpkg")
    assert change["renderer"] == "categorizedSymbol" and change["attribute"] == "status" and change["features"] > 0
    assert _layer(driven["compare_layers"], "change_density.tif")["renderer"] == "singlebandpseudocolor"
    assert driven["heatmap"]["ok"], driven["heatmap"]["errors"]
    assert _layer(driven["heatmap_layers"], "density.tif")["renderer"] == "singlebandpseudocolor"
    assert _layer(driven["heatmap_layers"], "counts.gpkg")["features"] > 0


TIMELINE_STAND_IN = '''#!{python}
"""debrismap with a `timeline` verb (a stand-in until that verb lands); other verbs: the real one."""
import json, os, sys
args = sys.argv[1:]
if args[:1] != ["timeline"]:
    os.execv({debrismap!r}, [{debrismap!r}, *args])
if "--help" in args:
    print("usage: debrismap timeline RUN_DIRS... --out DIR")
    sys.exit(0)
import numpy as np, shapely
from debrismap.vector_io import write_vector
out = args[args.index("--out") + 1]
os.makedirs(out, exist_ok=True)
json.dump(args, open(os.path.join(out, "argv.json"), "w"))
boxes = [shapely.box(500000 + i * 10, 4000000, 500004 + i * 10, 4000004) for i in range(3)]
write_vector(os.path.join(out, "piles.gpkg"), boxes, "EPSG:32637",
             {{"first_seen": np.array(["2023-02-08", "2023-02-10", "2023-02-10"])}}, layer="piles")
'''


def test_timeline_is_offered_and_run_where_the_command_has_the_verb(qgis_env, tmp_path):
    stand_in = tmp_path / "debrismap-with-timeline"
    stand_in.write_text(TIMELINE_STAND_IN.format(python=sys.executable, debrismap=DEBRISMAP))
    stand_in.chmod(0o755)
    env = {**qgis_env, "DEBRISMAP_EXECUTABLE": str(stand_in)}
    runs = [tmp_path / "run-0208", tmp_path / "run-0210"]
    out = tmp_path / "timeline"
    proc = subprocess.run([QGIS_PYTHON, str(ROOT / "tests" / "qgis_driver.py"), "--timeline", str(out),
                           *map(str, runs)], env=env, capture_output=True, text=True, timeout=300, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("DRIVER-REPORT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    report = json.loads(lines[-1].removeprefix("DRIVER-REPORT "))
    assert "debrismap:timeline" in report["algorithms"]
    assert report["timeline"]["ok"], report["timeline"]["errors"]
    argv = json.loads((out / "argv.json").read_text())
    assert argv == ["timeline", str(runs[0]), str(runs[1]), "--out", str(out), "--match-distance", "3.0"]
    piles = _layer(report["layers"], "piles.gpkg")
    assert piles["renderer"] == "categorizedSymbol" and piles["attribute"] == "first_seen"
    assert piles["categories"] == ["2023-02-08", "2023-02-10"]  # one colour per first-seen date, in order
