"""Reflectance palettes shared by the renderers: household goods, building rubble, dust.

Values are RGB reflectance (0-1) as a satellite sees them: saturated plastics and fabrics,
faded and sun-bleached versions of them, white goods, wood, cardboard, dark bags and tyres,
and the greys and brick reds of broken buildings.
"""

from __future__ import annotations

import colorsys

import numpy as np

HOUSEHOLD = {"saturated": 3.0, "faded": 3.0, "white": 2.0, "wood": 2.0, "cardboard": 1.5, "dark": 1.5, "metal": 0.8}
RUBBLE = {
    "concrete": np.array([0.40, 0.39, 0.37]),
    "light_concrete": np.array([0.55, 0.54, 0.51]),
    "brick": np.array([0.42, 0.25, 0.18]),
    "dust": np.array([0.47, 0.42, 0.35]),
    "plaster": np.array([0.60, 0.57, 0.52]),
    "void": np.array([0.05, 0.05, 0.05]),
}


def household(rng: np.random.Generator, family: str | None = None) -> np.ndarray:
    """One household item's reflectance (RGB)."""
    if family is None:
        names = list(HOUSEHOLD)
        p = np.array(list(HOUSEHOLD.values()))
        family = names[rng.choice(len(names), p=p / p.sum())]
    if family == "saturated":
        hue = rng.choice([0.0, 0.03, 0.08, 0.14, 0.33, 0.5, 0.58, 0.62, 0.75, 0.9]) + rng.normal(0, 0.02)
        rgb = colorsys.hsv_to_rgb(hue % 1.0, rng.uniform(0.5, 0.9), rng.uniform(0.3, 0.75))
    elif family == "faded":
        rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.08, 0.35), rng.uniform(0.3, 0.7))
    elif family == "white":
        rgb = np.full(3, rng.uniform(0.55, 0.8)) + rng.normal(0, 0.02, 3)
    elif family == "wood":
        rgb = np.array([0.36, 0.24, 0.14]) * rng.uniform(0.5, 1.4)
    elif family == "cardboard":
        rgb = np.array([0.46, 0.35, 0.23]) * rng.uniform(0.75, 1.15)
    elif family == "dark":
        rgb = np.full(3, rng.uniform(0.03, 0.1)) + rng.normal(0, 0.01, 3)
    else:  # metal
        rgb = np.array([0.33, 0.34, 0.36]) * rng.uniform(0.6, 1.5)
    return np.clip(np.asarray(rgb, np.float32), 0.02, 0.95)


def rubble_mix(rng: np.random.Generator) -> dict[str, float]:
    """Shares of the rubble materials for one heap: concrete blocks, brick, plaster, dust."""
    brick = rng.choice([0.0, 0.15, 0.4, 0.7], p=[0.3, 0.3, 0.25, 0.15])
    return {"concrete": 1.0, "light_concrete": rng.uniform(0.1, 0.8), "brick": brick * 2,
            "plaster": rng.uniform(0.0, 0.6), "dust": rng.uniform(0.3, 1.2)}
