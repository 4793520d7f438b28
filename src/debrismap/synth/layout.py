"""The city planner: streets, blocks, parcels, buildings and everything on the ground, as vectors.

The whole city is planned first (cheap: a few thousand polygons in metres), then the
renderer rasterises any window of it. Planning order matters for determinism: piles are
placed last from their own random stream, so a city rendered with and without piles is
otherwise identical (the tests rely on this).

The work is split by job: synth.streets (districts, blocks, street edges), synth.blocks
and synth.housing (what fills a block), synth.buildings, synth.objects (small things) and
synth.geometry (pure shapes); synth.plan holds the result.
"""

from __future__ import annotations

import numpy as np
from shapely.geometry import Polygon, box

from debrismap.synth import objects as obj
from debrismap.synth import streets
from debrismap.synth.blocks import fill_block
from debrismap.synth.context import PlanContext
from debrismap.synth.plan import CityPlan, Site
from debrismap.synth.style import material_colour, pick

__all__ = ["ROAD_MATERIALS", "CityPlan", "CityPlanner", "Site"]

ROAD_MATERIALS = {"asphalt": 5, "asphalt_old": 3, "concrete": 1}


class CityPlanner(PlanContext):
    """Builds a CityPlan in metres. One instance per city; not reused."""

    def build(self, gsd: float, width_px: int, height_px: int) -> CityPlan:
        plan = CityPlan(width_px, height_px, gsd, self.style)
        self.plan = plan
        fp = min(self.pad, 40.0)
        frame = box(-fp, -fp, self.w + fp, self.h + fp)
        # One road surface for the whole city (plan tiles of a large city must agree).
        road_rng = np.random.default_rng(self.style.extras.get("road_seed", 0))
        col, kind = material_colour(road_rng, pick(road_rng, ROAD_MATERIALS), 0.08)
        plan.ground.add(frame, col, kind)
        blocks: list[tuple[Polygon, str]] = []
        for district, dkind, arterial in streets.districts(self):
            if district.is_empty:
                continue
            streets.road_markings(self, district, arterial)
            if dkind == "grid":
                made = streets.grid_blocks(self, district)
            else:
                made = streets.organic_blocks(self, district)
            blocks.extend((b, dkind) for b in made)
        for i, (b, dkind) in enumerate(blocks):
            self.block_polys.append(b)
            fill_block(self, i, b, dkind)
        obj.flush_cars(self)
        return plan
