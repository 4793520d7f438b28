"""Synthetic cities with known truth, an imperfect detector and an oracle reviewer.

Used by the tests and benchmarks/review_sample_size.py to measure how often the review's
95% interval covers the true total, and how large a sample a ±15% interval needs. Vectorised
over replicate reviews (one (R, n) array per quantity) so thousands run in a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from debrismap.review.design import allocate, count_stratum_labels
from debrismap.review.estimate import domain_greg_total, greg_total


@dataclass
class City:
    truth: np.ndarray  # (N,) true piles per cell
    detected: np.ndarray  # (N,) the detector's count per cell (hits + false alarms)


def synthetic_city(
    rng: np.random.Generator,
    n_cells: int = 2500,
    piles_per_cell: float = 0.5,
    clustering: float = 0.4,
    recall: float = 0.7,
    false_per_cell: float = 0.1,
) -> City:
    """Clustered truth (gamma-mixed Poisson: most cells empty, a few dense blocks); the detector
    finds each pile with probability `recall` and adds false alarms, more of them where piles
    are (rubble looks like piles), at `false_per_cell` on average."""
    intensity = rng.gamma(clustering, piles_per_cell / clustering, n_cells)
    truth = rng.poisson(intensity)
    hits = rng.binomial(truth, recall)
    false_rate = false_per_cell * (0.5 + 0.5 * intensity / max(piles_per_cell, 1e-9))
    detected = hits + rng.poisson(false_rate)
    return City(truth, detected)


def oracle_reviews(city: City, n_cells: int, reps: int, rng: np.random.Generator,
                   domain: np.ndarray | None = None) -> dict:
    """`reps` independent stratified samples of `n_cells`, counted exactly, estimated by GREG.

    domain: (N,) bool, a part of the city (compare's common ground): the total of the piles
    in those cells is estimated instead, as debrismap.review.change does (one replicate at a
    time: each sample puts a different number of cells in the domain)."""
    x, y = city.detected, city.truth
    labels, names = count_stratum_labels(x)
    population = np.bincount(labels, minlength=len(names))
    mean = np.array([x[labels == h].mean() for h in range(len(names))])
    n_h = allocate(population, np.sqrt(mean + 1.0), n_cells)
    keys = rng.random((reps, len(x)))
    columns = []
    for h in range(len(names)):
        members = np.flatnonzero(labels == h)
        order = np.argsort(keys[:, members], axis=1)[:, : n_h[h]]
        columns.append(members[order])
    idx = np.concatenate(columns, axis=1)  # (reps, n)
    h_s = np.repeat(np.arange(len(names)), n_h)
    if domain is not None:
        return _domain_reviews(city, np.asarray(domain, dtype=bool), labels, idx)
    out = greg_total(float(x.sum()), len(x), x[idx], y[idx], h_s, population)
    out["true_total"] = float(y.sum())
    return out


def _domain_reviews(city: City, domain: np.ndarray, labels: np.ndarray, idx: np.ndarray) -> dict:
    x_domain, y_domain = np.where(domain, city.detected, 0), np.where(domain, city.truth, 0)
    nan = dict.fromkeys(("total", "se", "low", "high", "df", "slope", "intercept", "judged"), np.array([np.nan]))
    parts = [domain_greg_total(x_domain, domain, labels, sample, y_domain[sample]) or nan for sample in idx]
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["true_total"] = float(y_domain.sum())
    return out
