"""vector_io: atomic round trips in every supported format, CRS kept, bad files named."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from debrismap.errors import LabelError
from debrismap.vector_io import read_vector, write_vector


@pytest.mark.parametrize("suffix,crs", [(".gpkg", "EPSG:32637"), (".shp", "EPSG:32637"),
                                        (".geojson", "EPSG:32637"), (".geojson", "EPSG:4326")])
def test_round_trip_keeps_geometry_fields_and_crs(tmp_path, suffix, crs):
    x0 = 36.1 if crs == "EPSG:4326" else 500000.0
    step = 1e-5 if crs == "EPSG:4326" else 5.0
    boxes = shapely.box(x0 + np.arange(3) * step, 10 + np.arange(3) * step,
                        x0 + np.arange(3) * step + step / 2, 10 + np.arange(3) * step + step / 2)
    fields = {"score": np.array([0.5, 0.75, 0.9]), "class_name": np.array(["debris"] * 3, dtype=object)}
    path = write_vector(tmp_path / f"d{suffix}", boxes, crs, fields)
    back = read_vector(path)
    assert back.crs.to_epsg() == int(crs.split(":")[1])
    np.testing.assert_allclose(shapely.bounds(back.geometries), shapely.bounds(boxes), atol=1e-9)
    np.testing.assert_allclose(back.fields["score"], fields["score"])
    assert list(back.fields["class_name"]) == ["debris"] * 3
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name], "temp files left behind"


def test_empty_layer_round_trips(tmp_path):
    path = write_vector(tmp_path / "e.gpkg", np.empty(0, dtype=object), "EPSG:32637",
                        {"score": np.empty(0)}, geometry_type="Polygon")
    assert len(read_vector(path)) == 0


def test_failed_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    import pyogrio

    path = write_vector(tmp_path / "d.gpkg", shapely.box([0], [0], [1], [1]), "EPSG:32637")
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pyogrio.raw, "write", disk_full)
    with pytest.raises(OSError):
        write_vector(path, shapely.box([0, 2], [0, 2], [1, 3], [1, 3]), "EPSG:32637")
    assert path.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"not json at all", b'{"type": "Feature"'])
def test_bad_files_raise_one_line_label_error(tmp_path, content):
    bad = tmp_path / "bad.geojson"
    bad.write_bytes(content)
    with pytest.raises(LabelError) as info:
        read_vector(bad)
    assert "bad.geojson" in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(LabelError, match="not found"):
        read_vector(tmp_path / "nope.gpkg")
