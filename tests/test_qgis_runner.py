"""The QGIS plugin's QGIS-free parts, tested without QGIS: the command runner, the colour scales,
the styles' ramps against debrismap's colours, and the `debrismap qgis-plugin` zip."""

from __future__ import annotations

import os
import re
import sys
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import tomllib

from debrismap.aggregate.colours import change_rgba, density_rgba
from debrismap.aggregate.compare import change_limit
from debrismap.aggregate.writers import density_vmax
from debrismap.cli import main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "qgis"))
from debrismap_qgis import runner, scales

TQDM_LINE = "detect:  32%|###2      | 8/25 [00:01<00:03,  4.89tile/s]"


class RecordingFeedback:
    """QgsProcessingFeedback's methods that the runner calls; cancels at `cancel_at` percent."""

    def __init__(self, cancel_at: float | None = None):
        self.progress, self.info, self.console = [], [], []
        self.cancel_at, self.cancelled = cancel_at, False

    def isCanceled(self):
        return self.cancelled

    def setProgress(self, value):
        self.progress.append(value)
        if self.cancel_at is not None and value >= self.cancel_at:
            self.cancelled = True

    def pushInfo(self, text):
        self.info.append(text)

    def pushConsoleInfo(self, text):
        self.console.append(text)


def fake_command(tmp_path: Path, body: str) -> str:
    """An executable script standing in for `debrismap`, to drive the runner's edge cases."""
    script = tmp_path / "fake-debrismap"
    script.write_text(f"#!{sys.executable}\nimport os, sys, time\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_progress_is_read_from_tqdm_redraws_and_from_plain_lines():
    assert runner.progress_fraction(TQDM_LINE) == pytest.approx(8 / 25)
    assert runner.progress_fraction("detect: tiles 1,200/4,800 (25%), 31.0 tiles/s, 2 min left") == 0.25
    assert runner.progress_fraction("detect: 10/10 tiles") == 1.0
    assert runner.progress_fraction("wrote counts 3/4 to out/") is None  # not about tiles
    assert runner.progress_fraction("30 detections in 25 tiles (25 run now)") is None
    assert runner.progress_fraction("tiles 5/0") is None


def test_the_error_shown_is_the_commands_last_one_line_error():
    lines = ["detect:   0%|   | 0/4", "debrismap detect: warning: CUDA unavailable, using the CPU",
             "debrismap detect: error: city.tif: not a raster GDAL can read (unrecognised format)"]
    assert runner.error_line(lines) == lines[-1]
    assert runner.error_line(["debrismap qgis-plugin: internal error: ValueError: x (rerun ...)"]).startswith(
        "debrismap qgis-plugin: internal error")
    assert runner.error_line(["Traceback (most recent call last):", "ValueError: x"]) is None


def test_progress_and_output_stream_into_the_feedback(tmp_path):
    body = ("for i in range(0, 5):\n"
            "    sys.stderr.write(f'\\rdetect: {i * 25}%| | {i}/4 [00:00<00:00, 9tile/s]'); sys.stderr.flush()\n"
            "    time.sleep(0.15)\n"
            "print('4 detections in 4 tiles -> run')\n")
    feedback = RecordingFeedback()
    out = runner.run_command(fake_command(tmp_path, body), ["detect", "x.tif"], feedback)
    assert out == ["4 detections in 4 tiles -> run"]
    assert feedback.progress[-1] == 100.0 and feedback.progress == sorted(feedback.progress)
    assert len(feedback.progress) >= 3  # streamed while running, not only at the end
    assert not any("tile/s" in line for line in feedback.console)  # bar redraws are not console spam
    assert feedback.info[0].startswith("running: ")


def test_plain_progress_lines_also_reach_the_log(tmp_path):
    body = ("for i in (1, 2):\n"
            "    print(f'detect: tiles {i}/2, 3.1 tiles/s, 0 s left', file=sys.stderr, flush=True)\n"
            "    time.sleep(0.2)\n")
    feedback = RecordingFeedback()
    runner.run_command(fake_command(tmp_path, body), ["detect"], feedback)
    assert feedback.progress == [50.0, 100.0]
    assert feedback.console == ["detect: tiles 1/2, 3.1 tiles/s, 0 s left", "detect: tiles 2/2, 3.1 tiles/s, 0 s left"]


def test_cancel_terminates_the_command_at_once(tmp_path):
    pid_file = tmp_path / "pid"
    body = (f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
            "sys.stderr.write('\\rdetect:  10%| | 1/10 [00:00<00:09, 1tile/s]'); sys.stderr.flush()\n"
            "time.sleep(120)\n")
    feedback = RecordingFeedback(cancel_at=5)
    started = time.perf_counter()
    with pytest.raises(runner.CommandCancelled, match="Resume"):
        runner.run_command(fake_command(tmp_path, body), ["detect"], feedback)
    assert time.perf_counter() - started < 30
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # reaped: gone, not a zombie
        os.kill(pid, 0)


def test_a_failing_command_raises_its_one_line_error(tmp_path):
    not_raster = tmp_path / "notes.tif"
    not_raster.write_text("these are notes, not imagery")
    executable = str(Path(sys.executable).with_name("debrismap"))
    with pytest.raises(runner.DebrismapCommandError) as info:
        runner.run_command(executable, ["detect", str(not_raster), "--out", str(tmp_path / "run")],
                           RecordingFeedback())
    message = str(info.value)
    assert message.startswith("debrismap detect: error: ") and str(not_raster) in message
    assert "\n" not in message and "Traceback" not in message


def test_a_crash_without_an_error_line_still_says_what_happened(tmp_path):
    body = "sys.stderr.write('Segmentation fault\\n'); sys.exit(139)"
    with pytest.raises(runner.DebrismapCommandError, match=r"debrismap detect failed \(exit status 139\): Segm"):
        runner.run_command(fake_command(tmp_path, body), ["detect"], RecordingFeedback())


def test_executable_comes_from_the_setting_then_the_environment_then_path(tmp_path, monkeypatch):
    setting = fake_command(tmp_path, "pass")
    monkeypatch.setenv("DEBRISMAP_EXECUTABLE", sys.executable)
    assert runner.find_executable(setting) == setting
    assert runner.find_executable("") == sys.executable
    monkeypatch.delenv("DEBRISMAP_EXECUTABLE")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    assert runner.find_executable(None) == str(Path(sys.executable).with_name("debrismap"))
    with pytest.raises(runner.DebrismapCommandError, match="not an executable file: /no/such/debrismap"):
        runner.find_executable("/no/such/debrismap")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(runner.DebrismapCommandError, match="not found on PATH"):
        runner.find_executable(None)


def test_timeline_is_offered_only_where_the_verb_exists():
    executable = str(Path(sys.executable).with_name("debrismap"))
    assert runner.supports_verb(executable, "detect")
    assert not runner.supports_verb(executable, "no-such-verb")
    has_timeline = main_has_verb("timeline")
    assert runner.supports_verb(executable, "timeline") == has_timeline


def main_has_verb(verb: str) -> bool:
    from debrismap.cli import build_parser

    return verb in build_parser()._subparsers._group_actions[0].choices


class _Density:
    def __init__(self, values):
        self.values = values


@pytest.mark.parametrize("seed", range(5))
def test_colour_scale_tops_match_debrismaps_figures(seed):
    rng = np.random.default_rng(seed)
    values = rng.gamma(0.6, 40.0, (60, 70)).astype(np.float32)
    values[rng.random(values.shape) < 0.3] = 0.0
    values[:3] = np.nan
    assert scales.density_top(values.ravel().tolist()) == density_vmax(_Density(values))
    signed = rng.normal(0, 25, (40, 40))
    assert scales.change_top(float(signed.min()), float(signed.max())) == change_limit(signed)
    assert scales.density_top([0.0, float("nan")]) == 1.0 == density_vmax(_Density(np.array([0.0, np.nan])))


def _ramp(qml: Path) -> list[tuple[float, tuple[int, int, int, int]]]:
    items = ElementTree.parse(qml).getroot().iter("item")
    out = []
    for item in items:
        colour = item.get("color").lstrip("#")
        rgb = tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))
        out.append((float(item.get("value")), (*rgb, int(item.get("alpha")))))
    return out


@pytest.mark.parametrize(("name", "colours"), [("density", density_rgba), ("change_density", change_rgba)])
def test_raster_styles_use_debrismaps_colour_ramps(name, colours):
    ramp = _ramp(ROOT / "qgis" / "debrismap_qgis" / "qml" / f"{name}.qml")
    assert len(ramp) >= 10 and ramp[-1][0] == 1.0
    values = np.array([v for v, _ in ramp])
    expected = colours(values[None, :], 1.0)[0].astype(int)
    np.testing.assert_allclose(np.array([c for _, c in ramp]), expected, atol=1)
    zero = next(c for v, c in ramp if v == 0.0)
    assert zero[3] == 0  # no piles: fully transparent, the imagery shows


def test_qgis_plugin_verb_writes_an_installable_zip(tmp_path, capsys):
    out = tmp_path / "debrismap_qgis.zip"
    assert main(["qgis-plugin", "--out", str(out)]) == 0
    assert "Install from ZIP" in capsys.readouterr().out
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        metadata = archive.read("debrismap_qgis/metadata.txt").decode()
        init = archive.read("debrismap_qgis/__init__.py").decode()
    assert all(n.startswith("debrismap_qgis/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    for needed in ("provider.py", "algorithms.py", "runner.py", "qml/detections.qml", "qml/density.qml",
                   "qml/coverage.qml", "qml/change.qml", "icon.svg"):
        assert f"debrismap_qgis/{needed}" in names, needed
    from debrismap import __version__

    assert f"version={__version__}" in metadata.splitlines()
    assert "hasProcessingProvider=yes" in metadata and re.search(r"qgisMinimumVersion=3\.22", metadata)
    assert "def classFactory(iface)" in init


def test_qgis_plugin_verb_refuses_a_bad_output_with_one_line(tmp_path, capsys):
    assert main(["qgis-plugin", "--out", str(tmp_path / "plugin.tar")]) == 2
    assert main(["qgis-plugin", "--out", str(tmp_path / "missing" / "plugin.zip")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("debrismap qgis-plugin: error: ") for line in err)


def test_the_plugin_ships_inside_the_wheel():
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"][
        "force-include"]
    assert include["qgis/debrismap_qgis"] == "debrismap/qgis_plugin/debrismap_qgis"
    from debrismap.commands.qgis_plugin import plugin_source

    assert (plugin_source() / "metadata.txt").is_file()
