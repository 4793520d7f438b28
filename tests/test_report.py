"""debrismap report: one self-contained HTML file that renders offline in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
from test_heatmap_fixtures import UTM, clustered_piles, make_run

from debrismap.aggregate.report import write_report
from debrismap.cli import main

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (apt-get install chromium) — report not rendered")


def dump_dom(html_path, tmp_path) -> str:
    """Load the page in headless Chromium with networking off; return the DOM after scripts ran."""
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000",
         "--dump-dom", html_path.resolve().as_uri()],
        capture_output=True, text=True, timeout=90, check=False,
    )
    return proc.stdout


@pytest.fixture(scope="module", params=[UTM, "EPSG:4326"])
def report(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    piles = clustered_piles(90, seed=12, spread=250)
    scores = np.random.default_rng(12).uniform(0.25, 1.0, len(piles))
    run_dir = make_run(root / "run", piles, scores, crs=request.param)
    return write_report(run_dir, root / "report.html")


def test_report_is_self_contained(report):
    text = report.read_text(encoding="utf-8")
    # no external fetches: no http(s) URLs in src/href, no link tags, no external scripts
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", text)
    assert "<link" not in text and "<script src" not in text
    assert text.count("data:image/png;base64,") >= 4  # map, detections, legend, sensitivity
    assert "ab" * 32 in text  # model sha256 in the provenance
    assert "0.25" in text and "central" in text


@needs_chromium
def test_report_renders_in_headless_chromium(report, tmp_path):
    dom = dump_dom(report, tmp_path)
    assert 'data-rendered="ok"' in dom
    assert dom.count("<tr") > 10  # the JS built the summary and cells tables
    assert 'id="toggle-detections"' in dom


@needs_chromium
def test_broken_report_fails_the_render_check(report, tmp_path):
    broken = tmp_path / "broken.html"
    broken.write_text(report.read_text(encoding="utf-8").replace(
        'var s = data.summary;', 'var s = data.summary; undefinedFunction();'), encoding="utf-8")
    assert 'data-rendered="ok"' not in dump_dom(broken, tmp_path)


def test_report_cli_default_path_and_zones(tmp_path):
    import shapely

    from debrismap.vector_io import write_vector

    run_dir = make_run(tmp_path / "run", clustered_piles(20, seed=13), raster=False)
    zones = tmp_path / "zones.gpkg"
    write_vector(zones, [shapely.box(500_000, 4_100_000, 501_000, 4_101_500)], UTM,
                 {"district": np.array(["Old Town </script>"], dtype=object)})
    assert main(["report", str(run_dir), "--zones", str(zones)]) == 0
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Old Town <\\/script>" in text  # embedded JSON cannot close the script element
