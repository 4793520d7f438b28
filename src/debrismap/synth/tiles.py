"""Large cities planned as independent plan tiles, so memory stays bounded at any size.

A city wider than one plan tile (about 1 km) is cut into tiles planned separately, each
from its own seed derived from (city seed, tile row, tile column), all sharing the city's
style (one sun, one camera). Each tile's ground is exactly its square, edged by streets;
its buildings, shadows and trees may reach into neighbours, so a window is rendered from
every tile within reach. Only a few tile plans are kept in memory at a time.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from debrismap.synth.layers import merge_layers
from debrismap.synth.layout import CityPlan, CityPlanner
from debrismap.synth.piles import place_piles
from debrismap.synth.style import CityStyle

# Farthest a thing can reach outside its tile: the longest shadow (60 m at 25 deg sun)
# plus the largest lean, in metres.
REACH_M = 170.0
PILE_ID_STRIDE = 1_000_000  # pile ids: tile index * stride + index in the tile


def default_tile_px(gsd: float) -> int:
    """About 1 km of city per plan tile, a multiple of 256 pixels."""
    return max(256, int(1024 / gsd) // 256 * 256)


class TiledCity:
    """Plans tiles on demand and serves a merged plan for any pixel window."""

    def __init__(self, width: int, height: int, gsd: float, seed: int, style: CityStyle,
                 pile_density: float, tile_px: int, max_tiles: int = 9):
        self.width, self.height, self.gsd, self.seed = width, height, gsd, int(seed)
        self.style = style
        self.pile_density = float(pile_density)
        self.tile_px = int(tile_px)
        self.n_rows = -(-height // self.tile_px)
        self.n_cols = -(-width // self.tile_px)
        self.reach_px = int(np.ceil(REACH_M / gsd))
        self.max_tiles = max(max_tiles, 4)
        self._tiles: OrderedDict[tuple[int, int], CityPlan] = OrderedDict()
        self._merged_key: tuple | None = None
        self._merged: CityPlan | None = None
        self.piles: dict[int, object] = {}  # every pile planned so far, by id (for label properties)

    def tile(self, row: int, col: int) -> CityPlan:
        key = (row, col)
        plan = self._tiles.get(key)
        if plan is not None:
            self._tiles.move_to_end(key)
            return plan
        t = self.tile_px
        tw, th = min(t, self.width - col * t), min(t, self.height - row * t)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 1, row, col]))
        planner = CityPlanner(tw * self.gsd, th * self.gsd, self.style, rng, pad_m=0.0)
        plan = planner.build(self.gsd, tw, th)
        pile_rng = np.random.default_rng(np.random.SeedSequence([self.seed, 2, row, col]))
        plan.piles = place_piles(planner, pile_rng, self.pile_density)
        base = (row * self.n_cols + col) * PILE_ID_STRIDE
        for k, p in enumerate(plan.piles):
            p.id = base + k
        plan.finalize(offset_px=(col * t, row * t))
        for p in plan.piles:
            self.piles[p.id] = p
        self._tiles[key] = plan
        while len(self._tiles) > self.max_tiles:
            self._tiles.popitem(last=False)
        return plan

    def tiles_near(self, x0: int, y0: int, w: int, h: int) -> list[tuple[int, int]]:
        r, t = self.reach_px, self.tile_px
        c0, c1 = max(0, (x0 - r) // t), min(self.n_cols - 1, (x0 + w + r) // t)
        r0, r1 = max(0, (y0 - r) // t), min(self.n_rows - 1, (y0 + h + r) // t)
        return [(i, j) for i in range(r0, r1 + 1) for j in range(c0, c1 + 1)]

    def plan_for(self, x0: int, y0: int, w: int, h: int) -> CityPlan:
        """One plan holding every tile that can paint into this window (in tile order)."""
        keys = tuple(self.tiles_near(x0, y0, w, h))
        if keys == self._merged_key:
            return self._merged
        plans = [self.tile(i, j) for i, j in keys]
        merged = CityPlan(self.width, self.height, self.gsd, self.style)
        # Ground first from every tile, then low shadows from every tile, and so on: the
        # paint order of render_window holds across tile edges.
        for name in ("ground", "flat_shadows", "tall_shadows", "objects", "buildings",
                     "roof_shadows", "roof_objects", "canopy"):
            setattr(merged, name, merge_layers([getattr(p, name) for p in plans]))
        merged.piles = [p for plan in plans for p in plan.piles]
        self._merged_key, self._merged = keys, merged
        return merged
