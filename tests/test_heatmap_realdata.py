"""heatmap over real imagery: the Joplin 2011 post-tornado mosaic (six EPSG:4326 GeoTIFFs).

The detections are synthetic (no real debris labels exist in realdata); what is tested is
the geographic mosaic path: UTM gridding, the greyscale backdrop read from every input.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from debrismap.aggregate.heatmap import analyse_run, run_heatmap
from debrismap.aggregate.heatmap_figure import backdrop
from debrismap.vector_io import write_vector

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def joplin_run(realdata, tmp_path_factory):
    import rasterio

    tiles = sorted((realdata / "xview2deploy_joplin").glob("post_tile_*.tif"))
    if len(tiles) != 6:
        pytest.skip("Joplin post tiles not found in realdata")
    footprints = []
    for t in tiles:
        with rasterio.open(t) as ds:
            footprints.append(shapely.box(*ds.bounds))
    coverage = shapely.union_all(footprints)
    rng = np.random.default_rng(0)
    minx, miny, maxx, maxy = coverage.bounds
    lon = rng.uniform(minx, maxx, 300)
    lat = rng.uniform(miny, maxy, 300)
    boxes = shapely.box(lon - 2e-5, lat - 2e-5, lon + 2e-5, lat + 2e-5)
    run_dir = tmp_path_factory.mktemp("joplin")
    n = len(boxes)
    write_vector(run_dir / "detections.gpkg", boxes, "EPSG:4326", {"score": rng.uniform(0.3, 1, n)},
                 layer="detections")
    write_vector(run_dir / "coverage.gpkg", [coverage], "EPSG:4326", layer="coverage")
    (run_dir / "run.json").write_text(json.dumps({
        "format_version": 1, "status": "complete", "crs": "EPSG:4326",
        "inputs": [{"path": str(t), "acquisition_date": "2011-05-24"} for t in tiles],
        "model": {"path": "m.onnx", "sha256": "0" * 64}, "thresholds": {"score": 0.3, "nms_iou": 0.5}}))
    return run_dir, n


def test_joplin_mosaic_backdrop_and_utm_grid(joplin_run, tmp_path):
    from PIL import Image

    run_dir, n = joplin_run
    analysis = analyse_run(run_dir)
    assert analysis.metric_crs.to_epsg() == 32615  # Joplin, Missouri: UTM 15N
    assert analysis.grid.count.sum() == n
    grey, why = backdrop(analysis, None)
    assert why is None and np.isfinite(grey).mean() > 0.85  # all six tiles, not just the first
    out = run_heatmap(run_dir, out_dir=tmp_path, credit="NOAA NGS (test)")
    with Image.open(out.heatmap_png) as im:
        assert im.width >= 1000
