"""Count calibration: how a detector's scores turn into an estimated true number of piles.

A calibration table is measured on held-out composite scenes (benchmarks/bench_calibration.py)
and stored beside the model file as `<model stem>.calibration.json`. It holds, per scene:
true and false positives in score bins (precision as a function of score) and a histogram of
the best matching score of every true pile (recall as a function of the threshold). detect
copies it into run.json; the heatmap's summary applies it:

    estimate = sum over counted boxes of precision(score) / recall(count threshold)

with an interval drawn by simulation: scenes of the calibration resampled (how well the
table is known), each box true with its bin's precision, and the piles the detector missed
drawn from a negative binomial given the recall (the run's own sampling noise); with scenes
from several backgrounds, each draw uses one background's table (place-to-place variation).

No torch, no onnxruntime: numpy only, so detect and aggregate can both read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CALIBRATION_SUFFIX = ".calibration.json"
FORMAT_VERSION = 1
RECALL_STEP = 0.01  # resolution of the recall-vs-threshold histogram
INTERVAL_DRAWS = 4000
INTERVAL_LEVEL = 0.95
# A run's GSD may differ from the calibration's range by this share before it is called outside.
GSD_TOLERANCE = 0.10


def calibration_path(model_path: str | Path) -> Path:
    """Where a model's calibration lives: `models/foo.onnx` -> `models/foo.calibration.json`."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + CALIBRATION_SUFFIX)


def read_calibration(model_path: str | Path, model_sha256: str | None = None) -> dict | None:
    """The model's calibration table as a plain dict (for run.json), or None when it has none.

    A sidecar that cannot be read, or that was measured on another file (its recorded
    `notes.model_sha256` differs from `model_sha256`), is treated as absent: a model without
    calibration still detects; the summary then says its count is uncalibrated.
    """
    path = calibration_path(model_path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or value.get("format_version") != FORMAT_VERSION:
        return None
    measured_on = (value.get("notes") or {}).get("model_sha256")
    if model_sha256 is not None and measured_on is not None and measured_on != model_sha256:
        return None
    return value


@dataclass
class SceneTally:
    """One calibration scene: box outcomes in score bins and the recall histogram of its piles."""

    name: str
    tp: np.ndarray  # (bins,) matched boxes per score bin
    fp: np.ndarray  # (bins,) unmatched boxes per score bin
    truth_best: np.ndarray  # (recall bins,) true piles by the best score of a box matching them
    n_truth: int
    group: str = ""  # the background (site, acquisition) the scene was made on

    def to_dict(self) -> dict:
        return {"name": self.name, "group": self.group, "tp": self.tp.tolist(), "fp": self.fp.tolist(),
                "truth_best": self.truth_best.tolist(), "n_truth": int(self.n_truth)}

    @classmethod
    def from_dict(cls, d: dict) -> SceneTally:
        return cls(str(d["name"]), np.asarray(d["tp"], np.int64), np.asarray(d["fp"], np.int64),
                   np.asarray(d["truth_best"], np.int64), int(d["n_truth"]), str(d.get("group", "")))


def tally_scene(name: str, scores: np.ndarray, matched: np.ndarray, truth_best: np.ndarray, n_truth: int,
                edges: np.ndarray, group: str = "") -> SceneTally:
    """Bin one scene's matched boxes. `truth_best`: for each matched true pile, its best box score."""
    scores = np.asarray(scores, float)
    matched = np.asarray(matched, bool)
    tp = np.histogram(scores[matched], edges)[0]
    fp = np.histogram(scores[~matched], edges)[0]
    recall_edges = np.round(np.arange(0, 1 + RECALL_STEP / 2, RECALL_STEP), 6)
    best = np.histogram(np.clip(np.asarray(truth_best, float), 0, 1 - 1e-9), recall_edges)[0]
    return SceneTally(name, tp, fp, best, int(n_truth), group)


@dataclass
class CountCalibration:
    """Precision by score bin and recall by threshold, pooled over calibration scenes."""

    edges: np.ndarray  # score bin edges, first = the lowest score calibrated
    scenes: list[SceneTally]
    count_threshold: float  # boxes at or above it are counted by the estimate
    iou: float = 0.3
    imagery: dict = field(default_factory=dict)  # what the calibration saw: gsd_m range, bands, dtypes
    notes: dict = field(default_factory=dict)  # provenance: model sha256, scenes, command

    # -- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format_version": FORMAT_VERSION, "edges": [round(float(e), 6) for e in self.edges],
                "count_threshold": self.count_threshold, "iou": self.iou, "imagery": self.imagery,
                "notes": self.notes, "scenes": [s.to_dict() for s in self.scenes]}

    @classmethod
    def from_dict(cls, d: dict) -> CountCalibration:
        return cls(np.asarray(d["edges"], float), [SceneTally.from_dict(s) for s in d["scenes"]],
                   float(d["count_threshold"]), float(d.get("iou", 0.3)), dict(d.get("imagery") or {}),
                   dict(d.get("notes") or {}))

    # -- the table ---------------------------------------------------------------------------------
    def precision(self, scenes: list[SceneTally] | None = None) -> np.ndarray:
        """Precision per score bin, (tp + 0.5) / (tp + fp + 1): a Jeffreys-style estimate that
        stays inside (0, 1) for bins with few boxes."""
        scenes = self.scenes if scenes is None else scenes
        tp = np.sum([s.tp for s in scenes], axis=0)
        fp = np.sum([s.fp for s in scenes], axis=0)
        return (tp + 0.5) / (tp + fp + 1.0)

    def recall(self, threshold: float, scenes: list[SceneTally] | None = None) -> float:
        """Share of true piles matched by a box scoring >= threshold."""
        scenes = self.scenes if scenes is None else scenes
        n = sum(s.n_truth for s in scenes)
        if n == 0:
            return 0.0
        first = int(np.floor(threshold / RECALL_STEP + 1e-9))
        return float(sum(s.truth_best[first:].sum() for s in scenes) / n)

    def bin_of(self, scores: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.edges, scores, side="right") - 1, 0, len(self.edges) - 2)

    # -- the estimate ----------------------------------------------------------------------------
    def estimate(self, scores: np.ndarray, threshold: float | None = None, seed: int = 0,
                 draws: int = INTERVAL_DRAWS, level: float = INTERVAL_LEVEL) -> dict:
        """Estimated true count from the scores of the boxes in an area, with its interval.

        `threshold` (default: the calibration's count threshold, never below its lowest bin)
        selects the boxes counted; the caller must hold every box at or above it.
        """
        t = max(float(self.count_threshold if threshold is None else threshold), float(self.edges[0]))
        scores = np.asarray(scores, float)
        scores = scores[scores >= t - 1e-12]
        bins = self.bin_of(scores)
        recall = self.recall(t)
        if recall <= 0:
            return {"central": None, "low": None, "high": None, "threshold": t, "recall": 0.0,
                    "boxes_counted": len(scores)}
        central = float(self.precision()[bins].sum() / recall)
        low, high = self._interval(np.bincount(bins, minlength=len(self.edges) - 1), t, seed, draws, level)
        return {"central": round(central, 1), "low": low, "high": high, "level": level,
                "threshold": round(t, 4), "recall": round(recall, 4), "boxes_counted": int(len(scores))}

    def _interval(self, per_bin: np.ndarray, threshold: float, seed: int, draws: int, level: float):
        """(low, high) of the true count by simulation, all draws at once.

        Each draw takes a table, makes each counted box true with that table's precision for its
        bin, and adds the piles missed given that many found with that table's recall (negative
        binomial: flat prior on the total). With scenes from two or more backgrounds (`group`),
        a draw's table is one background picked at random, its scenes resampled: the imagery
        being counted is a new place, and detectors differ from place to place more than the
        pooled table's own uncertainty says (leave-one-background-out on the bundled model's
        calibration scenes: 7 of 18 covered with pooled resampling). Without groups, the
        calibration scenes are resampled together.
        """
        rng = np.random.default_rng(seed)
        n = len(self.scenes)
        groups = [sc.group for sc in self.scenes]
        names = sorted(set(groups))
        if len(names) >= 2:
            weights = np.zeros((draws, n))
            chosen = rng.integers(0, len(names), draws)
            for g, name in enumerate(names):
                members = np.flatnonzero(np.array(groups) == name)
                rows = np.flatnonzero(chosen == g)
                weights[np.ix_(rows, members)] = rng.multinomial(len(members), np.full(len(members), 1.0 / len(members)),
                                                                 size=len(rows))
        else:
            weights = rng.multinomial(n, np.full(n, 1.0 / n), size=draws).astype(float)  # (draws, scenes)
        tp = weights @ np.array([sc.tp for sc in self.scenes], float)
        fp = weights @ np.array([sc.fp for sc in self.scenes], float)
        precision = (tp + 0.5) / (tp + fp + 1.0)  # (draws, bins)
        first = int(np.floor(threshold / RECALL_STEP + 1e-9))
        found = weights @ np.array([sc.truth_best[first:].sum() for sc in self.scenes], float)
        truths = weights @ np.array([sc.n_truth for sc in self.scenes], float)
        valid = found > 0  # a resample with no found pile has no recall to divide by
        recall = np.clip(np.where(valid, found / np.maximum(truths, 1), 0.5), 1e-9, 1 - 1e-9)
        true_boxes = rng.binomial(np.broadcast_to(per_bin, precision.shape), precision).sum(axis=1)
        totals = (true_boxes + rng.negative_binomial(true_boxes + 1, recall))[valid]
        if len(totals) == 0:
            return None, None
        tail = (1 - level) / 2
        low, high = np.quantile(totals, [tail, 1 - tail])
        return int(np.floor(low)), int(np.ceil(high))

    # -- where it applies ----------------------------------------------------------------------
    def outside(self, inputs: list[dict]) -> list[str]:
        """Plain sentences for each way the run's imagery differs from what the calibration saw."""
        seen = self.imagery
        problems = []
        lo, hi = seen.get("gsd_m_min"), seen.get("gsd_m_max")
        for inp in inputs:
            name = Path(str(inp.get("path", "?"))).name
            gsd = inp.get("gsd_m")
            if lo is not None and hi is not None:
                if gsd is None:
                    problems.append(f"{name}: its pixel size is unknown, the calibration saw "
                                    f"{lo:.2f}-{hi:.2f} m")
                elif not lo * (1 - GSD_TOLERANCE) <= float(gsd) <= hi * (1 + GSD_TOLERANCE):
                    problems.append(f"{name}: pixel size {float(gsd):.2f} m, the calibration saw {lo:.2f}-{hi:.2f} m")
            bands = len(inp.get("bands") or [])
            if seen.get("bands") and bands and bands != seen["bands"]:
                problems.append(f"{name}: {bands} bands read, the calibration saw {seen['bands']}-band imagery")
            dtype = input_dtype(inp)
            if seen.get("dtypes") and dtype and dtype not in seen["dtypes"]:
                problems.append(f"{name}: {dtype} pixels, the calibration saw {', '.join(seen['dtypes'])} only")
        return problems


def input_dtype(inp: dict) -> str | None:
    """The pixel type of a run.json input: a stretched (>8-bit) raster records its source dtype;
    an unstretched one is 8-bit."""
    stretch = inp.get("stretch") or {}
    if stretch.get("source_dtype"):
        return str(stretch["source_dtype"])
    return "uint8" if stretch.get("method") == "identity" else None
