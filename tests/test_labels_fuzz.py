"""Fuzz the label readers: whatever the bytes, they return Boxes or raise LabelError."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from debrismap.errors import LabelError
from debrismap.labels import Boxes, read_labels

# One folder for the whole module: hypothesis does not mix with function-scoped tmp_path.
FUZZ_DIR = Path(tempfile.mkdtemp(prefix="debrismap-label-fuzz-"))
# DEBRISMAP_FUZZ_EXAMPLES=2000 for a longer hunt; CI keeps it short.
FUZZ = settings(
    max_examples=int(os.environ.get("DEBRISMAP_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def read_or_label_error(name: str, content: bytes, **kwargs) -> None:
    path = FUZZ_DIR / name
    path.write_bytes(content)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            boxes = read_labels(path, image_size=(64, 64), **kwargs)
        except LabelError as exc:
            assert "\n" not in str(exc)
            return
    assert isinstance(boxes, Boxes)
    assert boxes.xyxy.shape == (len(boxes), 4)
    assert (boxes.xyxy[:, 2] > boxes.xyxy[:, 0]).all() and (boxes.xyxy[:, 3] > boxes.xyxy[:, 1]).all()


@FUZZ
@given(content=st.binary(max_size=400), suffix=st.sampled_from([".geojson", ".json", ".gpkg", ".txt", ".shp"]))
def test_random_bytes(content, suffix):
    read_or_label_error(f"bytes{suffix}", content)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)
coords = st.lists(st.floats(-200, 200) | st.integers(-5, 5), min_size=0, max_size=4)
geometry = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Point", "Polygon", "LineString", "MultiPolygon", "Bogus"]),
        "coordinates": st.one_of(coords, st.lists(st.lists(coords, max_size=6), max_size=3), json_values),
    }
)
feature = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["Feature", "Feature", "Nope"]),
        "properties": st.one_of(st.none(), st.dictionaries(st.sampled_from(["class_name", "x"]), json_values, max_size=2)),
        "geometry": st.one_of(st.none(), geometry, json_values),
    }
)
geojson_docs = st.one_of(
    json_values,
    st.fixed_dictionaries({"type": st.just("FeatureCollection"), "features": st.lists(feature, max_size=6)}),
    feature,
)
coco_docs = st.fixed_dictionaries(
    {
        "images": st.one_of(st.lists(st.fixed_dictionaries({"id": json_values, "file_name": json_values}), max_size=3), json_values),
        "annotations": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {"image_id": json_values, "category_id": json_values, "bbox": st.one_of(coords, json_values)}
                ),
                max_size=5,
            ),
            json_values,
        ),
        "categories": json_values,
    }
)


@FUZZ
@given(doc=geojson_docs, suffix=st.sampled_from([".geojson", ".json"]))
def test_random_geojson_structures(doc, suffix):
    read_or_label_error(f"doc{suffix}", json.dumps(doc).encode())


@FUZZ
@given(doc=coco_docs)
def test_random_coco_structures(doc):
    read_or_label_error("coco.json", json.dumps(doc).encode())


token = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-3, 1000).map(str),
    st.text(alphabet="0123456789.-eE+xn", max_size=6),
    st.text(max_size=4),
)
yolo_line = st.lists(token, min_size=0, max_size=9).map(" ".join)


@FUZZ
@given(lines=st.lists(yolo_line, max_size=8), fmt=st.sampled_from(["auto", "pixel", "normalized"]))
def test_random_yolo_lines(lines, fmt):
    read_or_label_error("y.txt", "\n".join(lines).encode("utf-8", "surrogatepass"), yolo_format=fmt)


def test_the_fuzz_harness_can_fail(monkeypatch):
    """A reader raising anything but LabelError must fail the harness."""

    def broken_reader(*args, **kwargs):
        raise KeyError("features")

    monkeypatch.setattr(sys.modules[__name__], "read_labels", broken_reader)
    with pytest.raises(KeyError):
        read_or_label_error("harness.geojson", b"{}")
