"""The state one city is planned in, and the small Protocol object placers work against.

Planning code (streets, blocks, buildings) takes a PlanContext; object placers
(`synth.objects`) need only a Placer, so anything with a plan, the sun and camera geometry
and a car queue can have objects placed on it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from shapely.geometry import Polygon

from debrismap.synth.plan import CityPlan
from debrismap.synth.style import CityStyle


class Placer(Protocol):
    """What an object placer needs from the planner."""

    plan: CityPlan  # the plan the object's shapes are added to (metres)
    shadow_dir: np.ndarray  # (dx, dy) of a shadow per metre of height
    lean: np.ndarray  # (dx, dy) a thing's top is displaced per metre of height (off-nadir view)
    cars: list[tuple]  # queued cars, built in one go by objects.flush_cars


class PlanContext:
    """Size, style, random stream and the plan being filled, for one city. Satisfies Placer."""

    def __init__(self, width_m: float, height_m: float, style: CityStyle, rng: np.random.Generator,
                 pad_m: float = 60.0):
        self.w, self.h = width_m, height_m
        # How far the plan reaches beyond the city edge (0 for one tile of a tiled city, so
        # that neighbouring tiles partition the ground exactly).
        self.pad = pad_m
        self.style = style
        self.rng = rng
        self.spec = style.region_spec
        self.shadow_dir = style.shadow_vector * style.shadow_length_per_m  # metres per metre height
        self.lean = style.lean_vector
        self.plan: CityPlan | None = None
        self.block_polys: list[Polygon] = []
        self.cars: list[tuple] = []  # queued, built in one go by objects.flush_cars
