"""The review's sampling design: which cells and detections a person checks, drawn at random.

Cells are stratified by the detector's count (a stratum of cells where it found nothing
included), detections by score. Each unit's inclusion probability is n_h / N_h of its
stratum (stratified simple random sampling without replacement), so an estimate can be
recomputed from the design alone. The design is a pure function of (run, seed, sizes):
`review` and every reader of review.json recompute it and compare, which is how an edited
sample or a review of another run is caught.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

# Cell strata by detector count: [lo, hi] inclusive. The zero stratum is where misses hide.
COUNT_EDGES = ((0, 0), (1, 1), (2, 3), (4, 7), (8, 15), (16, 10**9))
# Detection strata by score (lower edge inclusive); bins below the run threshold drop out.
SCORE_EDGES = (0.0, 0.4, 0.55, 0.7, 0.85, 1.0 + 1e-9)
# At least this many units per stratum when it has them: a variance needs two.
MIN_PER_STRATUM = 2
DESIGN_VERSION = 1
# Sized so one person finishes in 20-30 minutes: ~15-25 s per cell, ~3 s per detection.
DEFAULT_CELLS = 40
DEFAULT_DETECTIONS = 150
DEFAULT_CELL_M = 100.0


@dataclass(frozen=True)
class Strata:
    """Stratum of every population unit, and the sample drawn from it."""

    labels: np.ndarray  # (N,) stratum index of each unit, -1 when in no stratum
    names: list[str]
    population: np.ndarray  # N_h
    sample_size: np.ndarray  # n_h
    sample: np.ndarray  # unit indices drawn, in the order the reviewer will see them

    def inclusion_probability(self, unit: int) -> float:
        h = self.labels[unit]
        return float(self.sample_size[h] / self.population[h])


def count_stratum_labels(counts: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Stratum of each cell by detector count; empty strata are dropped and indices packed."""
    counts = np.asarray(counts, dtype=np.int64)
    labels = np.full(len(counts), -1, dtype=np.int64)
    names = []
    for lo, hi in COUNT_EDGES:
        member = (counts >= lo) & (counts <= hi)
        if member.any():
            labels[member] = len(names)
            names.append(f"{lo}" if lo == hi else (f"{lo}+" if hi >= 10**9 else f"{lo}-{hi}"))
    return labels, names


def score_stratum_labels(scores: np.ndarray, run_threshold: float) -> tuple[np.ndarray, list[str]]:
    """Stratum of each detection by score; the lowest bin starts at the run threshold."""
    scores = np.asarray(scores, dtype=float)
    edges = [max(e, run_threshold) for e in SCORE_EDGES[:-1]] + [SCORE_EDGES[-1]]
    labels = np.full(len(scores), -1, dtype=np.int64)
    names = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi <= lo:
            continue
        member = (scores >= lo) & (scores < hi)
        if member.any():
            labels[member] = len(names)
            names.append(f"{lo:.2f}-{min(hi, 1.0):.2f}")
    return labels, names


def allocate(population: np.ndarray, weight: np.ndarray, total: int) -> np.ndarray:
    """n_h summing to `total` (or to sum N_h if smaller), proportional to N_h * weight_h
    (Neyman allocation with weight_h as the standard-deviation guess), at least
    MIN_PER_STRATUM per stratum and never more than N_h."""
    population = np.asarray(population, dtype=np.int64)
    total = int(min(total, population.sum()))
    n = np.minimum(population, MIN_PER_STRATUM)
    if n.sum() > total:  # too small a sample for the floor: one unit per stratum, largest first
        n = np.zeros_like(population)
        for h in np.argsort(-population * weight, kind="stable")[:total]:
            n[h] = min(population[h], 1)
    share = population * np.asarray(weight, dtype=float)
    while n.sum() < total:
        room = population - n
        open_ = room > 0
        # Ideal (fractional) sizes of the strata that can still grow, given the full ones.
        target = np.where(open_, share, 0.0)
        target = target / target.sum() * (total - n[~open_].sum())
        deficit = np.where(open_, target - n, -np.inf)
        step = np.clip(np.floor(np.where(open_, deficit, 0.0)), 0, room).astype(np.int64)
        if step.sum() == 0 or step.sum() > total - n.sum():  # remainders (or strata over
            # their ideal because of the floor): one unit to the stratum furthest below it
            step = np.zeros_like(n)
            step[int(np.argmax(deficit))] = 1
        n += step
    return n


def draw(labels: np.ndarray, names: list[str], n_h: np.ndarray, rng: np.random.Generator) -> Strata:
    """Simple random sample of n_h units per stratum; the union shuffled (the reviewer must not
    see the units grouped by stratum, which would hint at the detector's answer)."""
    population = np.bincount(labels[labels >= 0], minlength=len(names))
    keys = rng.random(len(labels))
    picks = []
    for h in range(len(names)):
        members = np.flatnonzero(labels == h)
        picks.append(members[np.argsort(keys[members], kind="stable")[: n_h[h]]])
    sample = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    sample = sample[rng.permutation(len(sample))]
    return Strata(labels, names, population, np.asarray(n_h, dtype=np.int64), sample)


def cell_strata(counts: np.ndarray, n_cells: int, seed: int) -> Strata:
    labels, names = count_stratum_labels(counts)
    population = np.bincount(labels, minlength=len(names))
    mean = np.array([counts[labels == h].mean() for h in range(len(names))])
    # Counts of piles scatter roughly like Poisson counts: sd ~ sqrt(mean); +1 keeps the
    # zero stratum (misses) in the allocation.
    n_h = allocate(population, np.sqrt(mean + 1.0), n_cells)
    return draw(labels, names, n_h, np.random.default_rng([seed, 1]))


def detection_strata(scores: np.ndarray, run_threshold: float, n_detections: int, seed: int) -> Strata:
    labels, names = score_stratum_labels(scores, run_threshold)
    population = np.bincount(labels[labels >= 0], minlength=len(names))
    # Equal weight per unit of N_h would follow the score histogram; precision is wanted in
    # every score band, so allocate equally (weight 1 / N_h), capped by N_h.
    n_h = allocate(population, 1.0 / np.maximum(population, 1), n_detections)
    return draw(labels, names, n_h, np.random.default_rng([seed, 2]))


def run_key(model_sha256: str, started: str, scores: np.ndarray, centres: np.ndarray) -> str:
    """A fingerprint of one run's detections: a review of another run has another key."""
    h = hashlib.sha256()
    h.update(f"{model_sha256}|{started}|{len(scores)}|".encode())
    h.update(np.round(np.asarray(scores, dtype=float), 6).tobytes())
    h.update(np.round(np.asarray(centres, dtype=float), 2).tobytes())
    return h.hexdigest()[:16]
