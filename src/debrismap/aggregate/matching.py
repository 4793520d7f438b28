"""One-to-one matching of piles between two dates within a distance (metres).

Candidate pairs come from a KD-tree (only pairs closer than the match distance), which
splits the problem into small connected groups; each group is solved exactly with the
Hungarian method (scipy's linear_sum_assignment): as many matches as possible, then the
smallest total distance. Whole-city runs stay fast because groups are a few piles each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree


@dataclass
class Matching:
    before_index: np.ndarray  # int: matched pairs, before side
    after_index: np.ndarray  # int: matched pairs, after side
    distance: np.ndarray  # metres, per pair
    n_before: int
    n_after: int

    @property
    def gone(self) -> np.ndarray:
        """Indexes of before-piles with no partner."""
        mask = np.ones(self.n_before, bool)
        mask[self.before_index] = False
        return np.flatnonzero(mask)

    @property
    def new(self) -> np.ndarray:
        """Indexes of after-piles with no partner."""
        mask = np.ones(self.n_after, bool)
        mask[self.after_index] = False
        return np.flatnonzero(mask)


def match_piles(before: np.ndarray, after: np.ndarray, max_distance: float) -> Matching:
    """Pair `before` and `after` centres (N, 2 metric) one-to-one within `max_distance`."""

    before = np.asarray(before, float).reshape(-1, 2)
    after = np.asarray(after, float).reshape(-1, 2)
    nb, na = len(before), len(after)
    empty = Matching(np.zeros(0, int), np.zeros(0, int), np.zeros(0), nb, na)
    if nb == 0 or na == 0 or max_distance <= 0:
        return empty
    pairs = cKDTree(before).sparse_distance_matrix(cKDTree(after), max_distance, output_type="ndarray")
    if len(pairs) == 0:
        return empty
    bi, ai, dist = pairs["i"].astype(int), pairs["j"].astype(int), pairs["v"].astype(float)
    # Bipartite graph: before nodes 0..nb-1, after nodes nb..nb+na-1.
    graph = coo_matrix((np.ones(len(bi)), (bi, ai + nb)), shape=(nb + na, nb + na))
    _, label = connected_components(graph, directed=False)
    group_of_pair = label[bi]
    order = np.argsort(group_of_pair, kind="stable")
    bounds = np.flatnonzero(np.diff(group_of_pair[order])) + 1
    out_b, out_a, out_d = [], [], []
    # Unpaired cells cost more than any sum of real distances, so the solver first
    # maximises the number of matches, then minimises their total distance.
    forbidden = max_distance * (len(bi) + 1) * 10.0
    for chunk in np.split(order, bounds):
        gb, ga, gd = bi[chunk], ai[chunk], dist[chunk]
        ub, ib = np.unique(gb, return_inverse=True)
        ua, ia = np.unique(ga, return_inverse=True)
        if len(chunk) == 1:
            out_b.append(gb), out_a.append(ga), out_d.append(gd)
            continue
        cost = np.full((len(ub), len(ua)), forbidden)
        cost[ib, ia] = gd
        rows, cols = linear_sum_assignment(cost)
        real = cost[rows, cols] < forbidden
        out_b.append(ub[rows[real]]), out_a.append(ua[cols[real]]), out_d.append(cost[rows, cols][real])
    return Matching(np.concatenate(out_b), np.concatenate(out_a), np.concatenate(out_d), nb, na)
