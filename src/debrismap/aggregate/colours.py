"""The colour choices every aggregate output shares (COG, figure, report), in one place.

Density uses a perceptually uniform map (inferno from light yellow to dark purple, reversed
so that more piles read as darker) whose low end fades to transparent, so the imagery
shows through where there is little. Change uses a diverging map centred on zero.
"""

from __future__ import annotations

import numpy as np

DENSITY_CMAP = "inferno_r"
CHANGE_CMAP = "RdBu_r"
# Density below this share of the colour scale's top fades towards transparent.
FADE_BELOW = 0.15
MAX_ALPHA = 0.85


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10^k at or above `value` (a colour bar's top)."""
    if not np.isfinite(value) or value <= 0:
        return 1.0
    exp = np.floor(np.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exp
        if top >= value * (1 - 1e-9):
            return float(top)
    return float(10 ** (exp + 1))


def density_rgba(values: np.ndarray, vmax: float, cmap: str = DENSITY_CMAP) -> np.ndarray:
    """uint8 RGBA: colour from the map, alpha ramping up from 0 at zero density; NaN clear."""
    from matplotlib import colormaps

    frac = np.clip(np.nan_to_num(values, nan=0.0) / vmax, 0.0, 1.0)
    rgba = colormaps[cmap](frac)
    alpha = np.clip(frac / FADE_BELOW, 0.0, 1.0) ** 0.8 * MAX_ALPHA
    alpha[~np.isfinite(values)] = 0.0
    rgba[..., 3] = alpha
    return (rgba * 255 + 0.5).astype(np.uint8)


def change_rgba(values: np.ndarray, vlim: float, cmap: str = CHANGE_CMAP) -> np.ndarray:
    """uint8 RGBA for a signed density: transparent near zero, opaque at ±vlim."""
    from matplotlib import colormaps

    frac = np.clip(np.nan_to_num(values, nan=0.0) / vlim, -1.0, 1.0)
    rgba = colormaps[cmap]((frac + 1) / 2)
    alpha = np.clip(np.abs(frac) / FADE_BELOW, 0.0, 1.0) ** 0.8 * MAX_ALPHA
    alpha[~np.isfinite(values)] = 0.0
    rgba[..., 3] = alpha
    return (rgba * 255 + 0.5).astype(np.uint8)
