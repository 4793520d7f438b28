"""Follow piles across dates: one track per pile, with when it was first seen and how sure that is.

Dates are taken in order; each date's detections (already moved onto the reference) are
matched one-to-one, within the match distance, to the tracks so far — every track, not
only those seen the date before, so a pile seen on dates 1, 2 and 4 but missed on 3 stays
one pile. A track's position is the mean of its detections. Unmatched detections start
new tracks.

A pile's appearance is bracketed: it was there on `first_seen`, and not on the last date
before it on which it could have been seen (`last_absent`). An absence counts as evidence
only on a good image with no weaker detection there; otherwise the bracket reaches back to
the previous reliable absence (`appeared_after`), or stays open when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from debrismap.aggregate.matching import match_piles


@dataclass
class Tracks:
    """N tracked piles over D dates (arrays are (D, N) or (N,))."""

    position: np.ndarray  # (N, 2) metric, reference frame
    seen: np.ndarray  # (D, N) bool: detected that date
    imaged: np.ndarray  # (D, N) bool: that date's image covers the position
    weak: np.ndarray  # (D, N) bool: only a detection below the operating threshold there
    detection: np.ndarray  # (D, N) int: index of the detection on that date, -1 if none
    score: np.ndarray  # (D, N) float: score of that detection, NaN if none
    reliable_date: np.ndarray  # (D,) bool: the image is good enough for absence to count

    def __len__(self) -> int:
        return self.position.shape[0]

    @property
    def n_dates(self) -> int:
        return self.seen.shape[0]

    @property
    def first_seen(self) -> np.ndarray:
        return np.argmax(self.seen, axis=0)

    @property
    def last_seen(self) -> np.ndarray:
        return self.n_dates - 1 - np.argmax(self.seen[::-1], axis=0)

    @property
    def n_seen(self) -> np.ndarray:
        return self.seen.sum(axis=0)

    @property
    def n_imaged(self) -> np.ndarray:
        return self.imaged.sum(axis=0)

    @property
    def mean_score(self) -> np.ndarray:
        return np.nanmean(self.score, axis=0) if len(self) else np.zeros(0)

    @property
    def present(self) -> np.ndarray:
        """(D, N): imaged that date and either detected then or detected before and after."""
        d = np.arange(self.n_dates)[:, None]
        between = (d > self.first_seen[None, :]) & (d < self.last_seen[None, :])
        return self.imaged & (self.seen | between)

    def last_absent(self) -> np.ndarray:
        """Index of the last imaged date before first_seen (it was not detected there), -1 if none."""
        return self._last_before_first(self.imaged)

    def appeared_after(self) -> np.ndarray:
        """Index of the last date before first_seen whose absence is evidence, -1 if none."""
        evidence = self.imaged & ~self.weak & self.reliable_date[:, None]
        return self._last_before_first(evidence)

    def _last_before_first(self, mask: np.ndarray) -> np.ndarray:
        d = np.arange(self.n_dates)[:, None]
        ok = mask & (d < self.first_seen[None, :])
        any_ok = ok.any(axis=0)
        last = self.n_dates - 1 - np.argmax(ok[::-1], axis=0)
        return np.where(any_ok, last, -1)


def track_piles(centres: list[np.ndarray], scores: list[np.ndarray], coverages: list,
                weak_centres: list[np.ndarray], reliable: list[bool], match_distance: float) -> Tracks:
    """Track piles over dates given in order; every input is already in the reference frame."""
    n_dates = len(centres)
    sums = np.zeros((0, 2))
    counts = np.zeros(0)
    members: list[list[tuple[int, int]]] = []
    for d, xy in enumerate(centres):
        xy = np.asarray(xy, float).reshape(-1, 2)
        position = sums / np.maximum(counts, 1)[:, None]
        m = match_piles(position, xy, match_distance)
        for t, j in zip(m.before_index, m.after_index):
            sums[t] += xy[j]
            counts[t] += 1
            members[t].append((d, int(j)))
        new = m.new
        sums = np.vstack([sums, xy[new]])
        counts = np.concatenate([counts, np.ones(len(new))])
        members += [[(d, int(j))] for j in new]
    n = len(members)
    position = sums / np.maximum(counts, 1)[:, None]
    seen = np.zeros((n_dates, n), bool)
    detection = np.full((n_dates, n), -1, int)
    score = np.full((n_dates, n), np.nan)
    for t, track in enumerate(members):
        for d, j in track:
            seen[d, t], detection[d, t], score[d, t] = True, j, scores[d][j]
    imaged = np.zeros((n_dates, n), bool)
    weak = np.zeros((n_dates, n), bool)
    for d, cov in enumerate(coverages):
        if n:
            shapely.prepare(cov)
            imaged[d] = shapely.intersects_xy(cov, position[:, 0], position[:, 1]) | seen[d]
            weak[d] = _near(position, weak_centres[d], match_distance) & ~seen[d]
    return Tracks(position, seen, imaged, weak, detection, score, np.asarray(reliable, bool))


def _near(points: np.ndarray, others: np.ndarray, distance: float) -> np.ndarray:
    others = np.asarray(others, float).reshape(-1, 2)
    if len(others) == 0 or len(points) == 0:
        return np.zeros(len(points), bool)
    d, _ = cKDTree(others).query(points, distance_upper_bound=distance)
    return np.isfinite(d)
