"""The city plan as data: every painted shape by layer, the pile sites and the piles.

The planner fills a CityPlan in metres; `finalize` turns it into pixels of the raster, and
the renderer rasterises any window of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from debrismap.synth.layers import Layer, ShadowLayer
from debrismap.synth.style import CityStyle


@dataclass
class Site:
    """A place where piles may be dumped: a point and how likely it is used."""

    x: float
    y: float
    kind: str  # entrance | courtyard | yard | street
    block: int
    nx: float = 0.0  # outward normal (entrances): piles sit in front of the door
    ny: float = 0.0


@dataclass
class CityPlan:
    """Everything needed to render any window of the city (pixel coordinates after finalize)."""

    width_px: int
    height_px: int
    gsd: float
    style: CityStyle
    ground: Layer = field(default_factory=lambda: Layer("ground"))
    flat_shadows: ShadowLayer = field(default_factory=lambda: ShadowLayer("flat"))  # small things
    tall_shadows: ShadowLayer = field(default_factory=lambda: ShadowLayer("tall"))  # buildings, trees
    objects: Layer = field(default_factory=lambda: Layer("objects"))
    buildings: Layer = field(default_factory=lambda: Layer("buildings"))
    roof_shadows: ShadowLayer = field(default_factory=lambda: ShadowLayer("roof"))
    roof_objects: Layer = field(default_factory=lambda: Layer("roof_objects"))
    canopy: Layer = field(default_factory=lambda: Layer("canopy"))
    piles: list = field(default_factory=list)  # piles.PilePlan, metres until finalize
    sites: list = field(default_factory=list)
    solids: list = field(default_factory=list)  # footprints piles must not overlap (metres)
    block_ransack: dict = field(default_factory=dict)

    def layers(self):
        return [self.ground, self.objects, self.buildings, self.roof_objects, self.canopy]

    def shadow_layers(self):
        return [self.flat_shadows, self.tall_shadows, self.roof_shadows]

    def finalize(self, offset_px: tuple[int, int] = (0, 0)) -> None:
        """Metres -> pixels of the whole raster (a tile's plan is shifted by its offset)."""
        for layer in self.layers() + self.shadow_layers():
            layer.finalize(self.gsd, offset_px)
        for p in self.piles:
            p.shift(offset_px[0] * self.gsd, offset_px[1] * self.gsd)
            p.finalize(self.gsd)


class SpriteStyle(Protocol):
    """What drawing a pile sprite needs of a style: where shadows fall and the pile colours."""

    @property
    def shadow_vector(self) -> np.ndarray: ...

    @property
    def shadow_length_per_m(self) -> float: ...

    @property
    def pile_palette_shift(self) -> float: ...


class SpritePlan(Protocol):
    """What drawing a pile sprite needs of a plan (render.SpriteCache.get): a CityPlan, or
    the GSD and sun of a real raster that piles are composited onto."""

    @property
    def gsd(self) -> float: ...

    @property
    def style(self) -> SpriteStyle: ...
