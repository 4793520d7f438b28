"""Read one detect run folder (run.json + detections + coverage) into memory, checked.

The run folder is the contract between detect and everything downstream; this module is
the only place that knows its layout, and turns every way it can be wrong (missing file,
run still in progress, no CRS) into one DatasetError line naming the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from debrismap.errors import DatasetError
from debrismap.vector_io import read_vector


@dataclass
class RunFolder:
    """A complete detect run: detections (box polygons) and analysed coverage, in `crs`."""

    path: Path
    manifest: dict
    crs: CRS
    boxes: np.ndarray  # shapely Polygons in `crs`
    scores: np.ndarray  # float64, one per box
    coverage: shapely.Geometry  # union of the analysed imagery, in `crs`
    # candidates.gpkg (boxes down to the candidate floor, detections included); None for runs
    # made before detect recorded candidates
    candidate_boxes: np.ndarray | None = None
    candidate_scores: np.ndarray | None = None

    @property
    def candidate_floor(self) -> float:
        """The lowest score recorded: the candidate floor, or the run threshold without candidates."""
        value = (self.manifest.get("thresholds") or {}).get("candidate_floor")
        if self.candidate_scores is None or value is None:
            return self.score_threshold
        return min(float(value), self.score_threshold)

    @property
    def calibration(self) -> dict | None:
        """The model's count calibration as detect copied it into run.json (None if it had none)."""
        return (self.manifest.get("model") or {}).get("calibration")

    @property
    def score_threshold(self) -> float:
        """The threshold detect wrote detections at: nothing below it is known."""
        value = (self.manifest.get("thresholds") or {}).get("score")
        if value is None:
            return float(self.scores.min()) if len(self.scores) else 0.0
        return float(value)

    @property
    def operating_threshold(self) -> float:
        """The model's recommended threshold when run.json records it, else the run's."""
        model = self.manifest.get("model") or {}
        value = model.get("score_threshold")
        return max(float(value), self.score_threshold) if value is not None else self.score_threshold

    def box_centres(self, boxes: np.ndarray | None = None) -> np.ndarray:
        """(N, 2) centres of the detection boxes' bounds (or of `boxes`), in `crs` (a pile is counted by its centre)."""
        boxes = self.boxes if boxes is None else boxes
        if len(boxes) == 0:
            return np.zeros((0, 2))
        b = shapely.bounds(boxes)
        return np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2])

    @property
    def first_input(self) -> dict:
        inputs = self.manifest.get("inputs") or [{}]
        return inputs[0] if inputs else {}

    def input_raster_path(self) -> Path | None:
        """The first input raster that can be found (see `input_raster_paths`)."""
        paths = self.input_raster_paths()
        return paths[0] if paths else None

    def input_raster_paths(self) -> list[Path]:
        """Every input raster that exists, resolved against the run folder first (runs move)."""
        found = [self._resolve(inp.get("path")) for inp in self.manifest.get("inputs") or []]
        return [p for p in found if p is not None]

    def _resolve(self, text: str | None) -> Path | None:
        if not text:
            return None
        candidate = Path(text)
        for p in ([self.path / candidate, candidate] if not candidate.is_absolute() else [candidate]):
            if p.exists():
                return p
        by_name = self.path / candidate.name
        return by_name if by_name.exists() else None

    @property
    def acquisition_date(self) -> str | None:
        return self.first_input.get("acquisition_date")


def load_run(run_dir: str | Path) -> RunFolder:
    """Open and check a run folder; DatasetError (one line) for anything unusable."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DatasetError("not a run folder (no such directory)", path=run_dir)
    manifest_path = run_dir / "run.json"
    if not manifest_path.exists():
        raise DatasetError("not a run folder: run.json is missing (was `debrismap detect` run here?)", path=run_dir)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"run.json is not valid JSON ({exc})", path=manifest_path) from exc
    if not isinstance(manifest, dict):
        raise DatasetError("run.json is not a JSON object", path=manifest_path)
    status = manifest.get("status")
    if status != "complete":
        raise DatasetError(
            f"run is not complete (status {status!r}); wait for detect to finish or resume it",
            path=manifest_path,
        )
    det_path = run_dir / "detections.gpkg"
    cov_path = run_dir / "coverage.gpkg"
    for p in (det_path, cov_path):
        if not p.exists():
            raise DatasetError(f"run folder is incomplete: {p.name} is missing", path=run_dir)
    detections = _read_layer(det_path, "detections")
    coverage = _read_layer(cov_path, "coverage")

    crs = detections.crs or coverage.crs
    if crs is None and manifest.get("crs"):
        try:
            crs = CRS.from_user_input(manifest["crs"])
        except CRSError as exc:
            raise DatasetError("run.json has an unreadable crs", path=manifest_path) from exc
    if crs is None:
        raise DatasetError("detections have no CRS; cannot place them on a map", path=det_path)
    if coverage.crs is not None and not coverage.crs.equals(crs):
        raise DatasetError("coverage.gpkg is in a different CRS from detections.gpkg", path=cov_path)

    boxes = detections.geometries
    keep = np.array([g is not None and not g.is_empty for g in boxes], dtype=bool)
    if "score" not in detections.fields:
        raise DatasetError("detections have no 'score' field", path=det_path)
    scores = np.asarray(detections.fields["score"], dtype=float)[keep]
    boxes = boxes[keep]
    cov_geoms = [g for g in coverage.geometries if g is not None and not g.is_empty]
    if not cov_geoms:
        raise DatasetError("coverage is empty: no imagery was analysed in this run", path=cov_path)
    cov = shapely.make_valid(shapely.union_all(cov_geoms))
    cand_boxes = cand_scores = None
    cand_path = run_dir / "candidates.gpkg"
    if cand_path.exists():
        candidates = _read_layer(cand_path, "candidates")
        if "score" not in candidates.fields:
            raise DatasetError("candidates have no 'score' field", path=cand_path)
        ok = np.array([g is not None and not g.is_empty for g in candidates.geometries], dtype=bool)
        cand_boxes = candidates.geometries[ok]
        cand_scores = np.asarray(candidates.fields["score"], dtype=float)[ok]
    return RunFolder(run_dir, manifest, crs, boxes, scores, cov, cand_boxes, cand_scores)


def _read_layer(path: Path, layer: str):
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
    except Exception:  # noqa: BLE001 - unreadable files get read_vector's one-line error below
        layers = []
    return read_vector(path, layer=layer if layer in layers else None, error=DatasetError)
