"""The top of a layer's colour scale, chosen as debrismap's own figures choose it.

Mirrors debrismap.aggregate.colours.nice_ceiling, writers.density_vmax and compare.change_limit
in plain Python (QGIS's Python has neither debrismap nor, always, numpy), so a density layer
in QGIS reads with the same colours as heatmap.png and density_rgba.tif. Tests check the
two agree on real run folders.
"""

from __future__ import annotations

import math


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above `value` (a colour bar's top)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        top = step * 10**exp
        if top >= value * (1 - 1e-9):
            return float(top)
    return float(10 ** (exp + 1))


def percentile(sorted_values: list[float], q: float) -> float:
    """numpy's default (linear) percentile of an already sorted, non-empty list."""
    position = q / 100 * (len(sorted_values) - 1)
    lo = math.floor(position)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (position - lo)


def density_top(values) -> float:
    """Top of the density scale: the 99.5th percentile of non-zero density, rounded up.

    Not the maximum: one very dense block would otherwise wash out the rest of a city.
    """
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 1.0
    floor = 1e-6 * max(max(finite), 1e-12)
    positive = sorted(v for v in finite if v > floor)
    if not positive:
        return 1.0
    return nice_ceiling(percentile(positive, 99.5))


def change_top(minimum: float, maximum: float) -> float:
    """± limit of a change (new minus gone) scale: the largest magnitude, rounded up."""
    magnitudes = [abs(v) for v in (minimum, maximum) if math.isfinite(v)]
    return nice_ceiling(max(magnitudes) if magnitudes else 0.0)
