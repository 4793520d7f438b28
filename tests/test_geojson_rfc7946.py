"""detections.geojson is RFC 7946: lon/lat order, exterior rings counter-clockwise, no `crs` member.

Read as plain JSON (not through GDAL, which would forgive what a web map may not).
`assert_rfc7946` is meant for every GeoJSON the project writes for the web.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from test_detect_oracle import GSD, K, build_oracle, draw_squares, write_raster

from debrismap.detect import DetectSettings, run_detect


def _signed_area(ring) -> float:
    xy = np.asarray(ring, float)
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]))


def assert_rfc7946(path: Path) -> list[list[float]]:
    """Check the RFC 7946 rules a web map relies on; return each feature's exterior-ring centre (lon, lat)."""
    doc = json.loads(Path(path).read_text())
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc, "RFC 7946 GeoJSON has no crs member (it is always WGS 84 lon/lat)"
    centres = []
    for feature in doc["features"]:
        geometry = feature["geometry"]
        polygons = {"Polygon": [geometry["coordinates"]], "MultiPolygon": geometry["coordinates"]}.get(geometry["type"])
        assert polygons is not None, geometry["type"]
        for rings in polygons:
            for i, ring in enumerate(rings):
                assert ring[0] == ring[-1] and len(ring) >= 4, "rings are closed"
                area = _signed_area(ring)
                assert (area > 0) if i == 0 else (area < 0), "exterior rings counter-clockwise, holes clockwise"
                assert all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat, *_ in ring)
        centres.append(np.asarray(polygons[0][0][:-1], float).mean(axis=0).tolist())
    return centres


@pytest.mark.parametrize("north_up", [True, False], ids=["north-up", "south-up"])
def test_detections_geojson_follows_rfc7946(tmp_path, north_up):
    from pyproj import Transformer

    model = build_oracle(tmp_path / "oracle.onnx")
    corners = [(20, 30), (90, 70)]
    # UTM 37N near Antakya's latitude: lon about 39.0, lat about 36.1, so swapped axes cannot pass
    transform = Affine(GSD, 0, 500000.0, 0, -GSD, 4000000.0) if north_up else Affine(GSD, 0, 500000.0, 0, GSD, 3990000.0)
    raster = write_raster(tmp_path / "r.tif", draw_squares(128, 128, corners), transform, crs="EPSG:32637")
    run_detect([raster], tmp_path / "run", DetectSettings(model=model, overlap=16, progress=False))
    centres = np.array(sorted(assert_rfc7946(tmp_path / "run" / "detections.geojson")))
    to_lonlat = Transformer.from_crs("EPSG:32637", "EPSG:4326", always_xy=True)
    want = np.array(sorted(to_lonlat.transform(*(transform @ (x + K / 2, y + K / 2))) for x, y in corners))
    assert len(centres) == len(corners)
    np.testing.assert_allclose(centres, want, atol=1e-6)  # degrees: about 0.1 m, a fifth of a pixel


def test_the_check_rejects_clockwise_rings_and_a_crs_member(tmp_path):
    ring = [[39.0, 36.0], [39.001, 36.0], [39.001, 36.001], [39.0, 36.001], [39.0, 36.0]]
    feature = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}
    good = tmp_path / "good.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    assert_rfc7946(good)
    clockwise = {**feature, "geometry": {"type": "Polygon", "coordinates": [ring[::-1]]}}
    bad = tmp_path / "cw.geojson"
    bad.write_text(json.dumps({"type": "FeatureCollection", "features": [clockwise]}))
    with pytest.raises(AssertionError, match="counter-clockwise"):
        assert_rfc7946(bad)
    bad.write_text(json.dumps({"type": "FeatureCollection", "crs": {"type": "name"}, "features": [feature]}))
    with pytest.raises(AssertionError, match="no crs member"):
        assert_rfc7946(bad)
