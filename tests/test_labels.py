"""debrismap.labels: readers, writers, reprojection, pixel <-> world, and every bad-file case."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import shapely
from affine import Affine
from pyproj import CRS, Transformer

from debrismap.errors import LabelError
from debrismap.labels import (
    Boxes,
    LabelWarning,
    read_labels,
    to_raster_pixels,
    transform_xyxy,
    write_coco,
    write_vector_labels,
    write_yolo,
)
from debrismap.vector_io import write_vector

UTM = CRS.from_epsg(32636)
# A 512 x 512 raster at 0.5 m whose top-left corner is at (500000, 4000256).
TRANSFORM = Affine(0.5, 0, 500000, 0, -0.5, 4000256)
W = H = 512


def utm_boxes() -> np.ndarray:
    return np.array(
        [[500010.0, 4000100.0, 500014.0, 4000106.0], [500200.0, 4000020.0, 500203.0, 4000022.5]]
    )


def write_geojson(path, features, crs_member=None):
    doc = {"type": "FeatureCollection", "features": features}
    if crs_member:
        doc["crs"] = {"type": "name", "properties": {"name": crs_member}}
    path.write_text(json.dumps(doc))
    return path


def polygon_feature(coords, **props):
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [coords]}}


# -- pixel <-> world ----------------------------------------------------------------------


def test_pixel_to_world_matches_a_hand_computed_corner():
    # Pixel corner (10, 20) -> x = 500000 + 10 * 0.5, y = 4000256 - 20 * 0.5.
    px = Boxes(np.array([[10, 20, 30, 40]]), [0], pixel=True)
    world = px.to_world(TRANSFORM, UTM)
    assert world.xyxy.tolist() == [[500005.0, 4000236.0, 500015.0, 4000246.0]]
    back = world.to_pixel(TRANSFORM)
    np.testing.assert_allclose(back.xyxy, px.xyxy)


def test_rotated_transform_gives_the_upright_bounds_of_the_rotated_box():
    rot = Affine.rotation(30) @ Affine.scale(1, -1)
    xyxy = transform_xyxy(rot, np.array([[0, 0, 10, 10]]))
    corners = np.array([rot @ (x, y) for x, y in [(0, 0), (10, 0), (0, 10), (10, 10)]])
    np.testing.assert_allclose(xyxy[0], [*corners.min(0), *corners.max(0)])


# -- vector readers -------------------------------------------------------------------------


def test_geojson_in_4326_is_reprojected_onto_utm(tmp_path):
    to_ll = Transformer.from_crs(UTM, 4326, always_xy=True)
    feats = []
    for x0, y0, x1, y1 in utm_boxes():
        ring = [to_ll.transform(x, y) for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]]
        feats.append(polygon_feature(ring, class_name="debris"))
    path = write_geojson(tmp_path / "l.geojson", feats)
    boxes = read_labels(path, crs=UTM)
    assert boxes.crs.equals(UTM) and not boxes.pixel and boxes.names == ("debris",)
    np.testing.assert_allclose(boxes.xyxy, utm_boxes(), atol=0.01)


def test_points_become_boxes_of_the_point_size(tmp_path):
    pts = shapely.points([[500100, 4000100], [500150, 4000200]])
    path = write_vector(tmp_path / "p.gpkg", pts, UTM)
    boxes = read_labels(path, point_size_m=6)
    np.testing.assert_allclose(boxes.widths, 6)
    np.testing.assert_allclose(boxes.heights, 6)
    np.testing.assert_allclose(boxes.centres, [[500100, 4000100], [500150, 4000200]])
    # The same points in lon/lat still give ~6 m boxes in UTM.
    ll = Transformer.from_crs(UTM, 4326, always_xy=True).transform([500100, 500150], [4000100, 4000200])
    path = write_vector(tmp_path / "p4326.gpkg", shapely.points(np.column_stack(ll)), "EPSG:4326")
    boxes = read_labels(path, crs=UTM, point_size_m=6)
    np.testing.assert_allclose(boxes.widths, 6, rtol=0.02)
    np.testing.assert_allclose(boxes.heights, 6, rtol=0.02)
    np.testing.assert_allclose(boxes.centres, [[500100, 4000100], [500150, 4000200]], atol=0.01)


def test_class_field_and_multipolygon_parts(tmp_path):
    polys = [
        shapely.MultiPolygon([shapely.box(0, 0, 2, 2), shapely.box(5, 5, 6, 8)]),
        shapely.box(10, 10, 12, 13),
    ]
    path = write_vector(tmp_path / "m.gpkg", polys, UTM, {"kind": np.array(["rubble", "debris"], object)})
    boxes = read_labels(path, class_field="kind")
    assert len(boxes) == 3 and boxes.names == ("debris", "rubble")
    assert list(boxes.class_names) == ["rubble", "rubble", "debris"]
    with pytest.raises(LabelError, match="no attribute 'type'"):
        read_labels(path, class_field="type")
    # No class_name field: every box is 'debris'.
    assert read_labels(path).names == ("debris",)


def test_vector_writers_round_trip(tmp_path):
    boxes = Boxes(utm_boxes(), [0, 1], ("debris", "rubble"), crs=UTM)
    for name in ("o.gpkg", "o.geojson", "o.shp"):
        back = read_labels(write_vector_labels(tmp_path / name, boxes), crs=UTM)
        np.testing.assert_allclose(back.xyxy, boxes.xyxy, atol=0.01)
        assert list(back.class_names) == ["debris", "rubble"]


# -- YOLO and COCO -----------------------------------------------------------------------------


def test_yolo_normalised_and_pixel_variants(tmp_path):
    boxes = Boxes(np.array([[10, 20, 30, 60], [100, 100, 110, 105]]), [0, 0], pixel=True)
    norm = write_yolo(tmp_path / "n.txt", boxes, (200, 400))
    np.testing.assert_allclose(read_labels(norm, image_size=(200, 400)).xyxy, boxes.xyxy, atol=1e-3)
    pix = write_yolo(tmp_path / "p.txt", boxes, (200, 400), pixel=True)
    back = read_labels(pix)
    assert back.pixel and back.names == ("debris",)
    np.testing.assert_allclose(back.xyxy, boxes.xyxy)
    # A segment line (normalised polygon) becomes its bounds.
    (tmp_path / "s.txt").write_text("0 0.1 0.1 0.3 0.1 0.2 0.4\n")
    np.testing.assert_allclose(read_labels(tmp_path / "s.txt", image_size=(100, 100)).xyxy, [[10, 10, 30, 40]])


def test_coco_round_trip_and_image_choice(tmp_path):
    a = Boxes(np.array([[1, 2, 11, 22]]), [0], pixel=True)
    b = Boxes(np.array([[5, 5, 9, 9], [0, 0, 3, 3]]), [0, 0], pixel=True)
    path = write_coco(tmp_path / "c.json", [("a.png", 64, 64, a), ("tiles/b.png", 64, 64, b)], ["debris"])
    np.testing.assert_allclose(read_labels(path, coco_image="b").xyxy, b.xyxy)
    np.testing.assert_allclose(read_labels(path, coco_image="a.png").xyxy, a.xyxy)
    with pytest.raises(LabelError, match="holds 2 images"):
        read_labels(path)
    # Polygon segmentation without bbox -> bounds.
    doc = {"images": [{"id": 1, "file_name": "x.png"}], "categories": [{"id": 3, "name": "debris"}],
           "annotations": [{"image_id": 1, "category_id": 3, "segmentation": [[1, 1, 4, 1, 4, 6]]}]}  # fmt: skip
    (tmp_path / "seg.json").write_text(json.dumps(doc))
    np.testing.assert_allclose(read_labels(tmp_path / "seg.json").xyxy, [[1, 1, 4, 6]])


# -- boxes on the raster ---------------------------------------------------------------------


def test_boxes_outside_the_raster_are_dropped_with_a_warning():
    world = Boxes(np.vstack([utm_boxes(), [[600000, 4000000, 600005, 4000005]]]), [0, 0, 0], crs=UTM)
    with pytest.warns(LabelWarning, match="dropped 1 of 3"):
        px = to_raster_pixels(world, TRANSFORM, W, H, UTM)
    np.testing.assert_allclose(px.xyxy[0], [20, 300, 28, 312])


def test_all_boxes_outside_says_the_crs_is_probably_wrong(tmp_path):
    # UTM numbers in a file that claims lon/lat: after "reprojection" nothing lands on the raster.
    feats = [polygon_feature([[30.0, 36.1], [30.001, 36.1], [30.001, 36.101], [30.0, 36.1]])]
    boxes = read_labels(write_geojson(tmp_path / "far.geojson", feats), crs=UTM)
    with pytest.raises(LabelError, match="CRS is probably wrong"):
        to_raster_pixels(boxes, TRANSFORM, W, H, UTM)


# -- bad files -----------------------------------------------------------------------------------


BAD_FILES = {
    "bad.geojson": ('{"type": "FeatureCollection", "features": [', "not valid JSON"),
    "list.geojson": ("[1, 2, 3]", "not GeoJSON"),
    "none.geojson": ('{"type": "FeatureCollection", "features": []}', "no features"),
    "empty.geojson": ("", "is empty"),
    "garbage.gpkg": ("this is not a geopackage", "vector file"),
    "labels.csv": ("a,b\n1,2\n", "unsupported label format"),
    "cols.txt": ("0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1 0.1\n0 0.5 0.5 0.1\n", "cols.txt: line 3: expected 5 columns"),
    "nan.txt": ("0 0.5 abc 0.1 0.1\n", "line 1: 'abc' is not a number"),
    "inf.txt": ("0 0.5 inf 0.1 0.1\n", "not a finite number"),
    "cls.txt": ("-1 0.5 0.5 0.1 0.1\n", "non-negative integer"),
    "blank.txt": ("\n# nothing\n", "no labels"),
    "zero.txt": ("0 10 10 10 20\n", "degenerate"),
    "binary.txt": (b"\xff\xfe\x00\x81garbage", "not a text file"),
    "coco.json": ('{"images": [], "annotations": {}}', "not a COCO file"),
    "cocobad.json": ('{"images": [], "annotations": [{"bbox": [1, 2, 0, 5]}]}', "no"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_label_files_raise_one_line_label_errors(tmp_path, name):
    content, message = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(LabelError, match=message) as exc:
        read_labels(path, image_size=(100, 100))
    text = str(exc.value)
    assert "\n" not in text and name in text


def test_degenerate_geometries_are_skipped_with_a_count_or_refused(tmp_path):
    good = [shapely.box(0, 0, 2, 2)]
    bad = [shapely.LineString([(0, 0), (1, 1)]), shapely.Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])]
    path = write_vector(tmp_path / "some.gpkg", good + bad, UTM, geometry_type="Unknown")
    with pytest.warns(LabelWarning, match="skipped 2 of 3"):
        assert len(read_labels(path)) == 1
    path = write_vector(tmp_path / "none.gpkg", bad, UTM, geometry_type="Unknown")
    with pytest.raises(LabelError, match="none of its 2 geometries"):
        read_labels(path)


def test_missing_crs_is_refused_unless_labels_crs_is_given(tmp_path):
    path = write_vector(tmp_path / "nocrs.shp", [shapely.box(500010, 4000010, 500014, 4000014)], None)
    assert not (tmp_path / "nocrs.prj").exists()
    with pytest.raises(LabelError, match="has no CRS.*--labels-crs"):
        read_labels(path, crs=UTM)
    boxes = read_labels(path, crs=UTM, labels_crs="EPSG:32636")
    np.testing.assert_allclose(boxes.xyxy, [[500010, 4000010, 500014, 4000014]])
    with pytest.raises(LabelError, match="not a CRS"):
        read_labels(path, labels_crs="EPSG:nonsense")


def test_normalised_yolo_needs_the_image_size(tmp_path):
    (tmp_path / "n.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(LabelError, match="need the image size"):
        read_labels(tmp_path / "n.txt")


def test_large_geojson_goes_to_gdal_and_huge_json_is_refused(tmp_path, monkeypatch):
    from debrismap.labels import vector

    feats = [polygon_feature([[30, 36], [30.1, 36], [30.1, 36.1], [30, 36]])] * 5
    path = write_geojson(tmp_path / "big.geojson", feats)
    monkeypatch.setattr(vector, "PARSE_JSON_BYTES", 100)  # too big to json.load here
    assert len(read_labels(path)) == 5
    as_json = tmp_path / "big.json"
    as_json.write_text(path.read_text())
    assert len(read_labels(as_json)) == 5
    (tmp_path / "broken.geojson").write_text(path.read_text()[:-30])
    with pytest.raises(LabelError, match="broken.geojson"):
        read_labels(tmp_path / "broken.geojson")
    (tmp_path / "notjson.geojson").write_text("x" * 500)
    with pytest.raises(LabelError, match="not GeoJSON"):
        read_labels(tmp_path / "notjson.geojson")
    monkeypatch.setattr(vector, "MAX_GEOJSON_BYTES", 100)
    with pytest.raises(LabelError, match="too large.*GeoPackage"):
        read_labels(path)
    # COCO must be parsed whole: its own limit.
    monkeypatch.setattr(vector, "MAX_JSON_BYTES", 100)
    coco = write_coco(tmp_path / "c.json", [("a.png", 8, 8, Boxes(np.array([[1, 1, 3, 3]]), [0], pixel=True))], ["debris"])
    with pytest.raises(LabelError, match="too large"):
        read_labels(coco)


def test_yolo_is_streamed_line_by_line(tmp_path):
    path = tmp_path / "many.txt"
    with open(path, "w") as f:
        f.writelines(f"0 {i} 0 {i + 1} 2\n" for i in range(20000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        boxes = read_labels(path)
    assert len(boxes) == 20000 and boxes.xyxy[-1].tolist() == [19999, 0, 20000, 2]
    (tmp_path / "long.txt").write_text("0 " * 40000)
    with pytest.raises(LabelError, match="too long"):
        read_labels(tmp_path / "long.txt")


def test_coco_image_of_another_size_is_refused(tmp_path):
    a = Boxes(np.array([[1, 2, 11, 22]]), [0], pixel=True)
    path = write_coco(tmp_path / "c.json", [("a.png", 64, 48, a)], ["debris"])
    np.testing.assert_allclose(read_labels(path, image_size=(64, 48)).xyxy, a.xyxy)
    with pytest.raises(LabelError, match="64 x 48 px but the raster is 100 x 100"):
        read_labels(path, image_size=(100, 100))
