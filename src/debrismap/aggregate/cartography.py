"""Map furniture for print figures: a scale bar in round metres and a north arrow.

Both are drawn in the map's own metric coordinates, with a white halo so they read on
dark imagery as well as light.
"""

from __future__ import annotations

import numpy as np

HALO = None  # built lazily: matplotlib is imported only when a figure is drawn


def _halo():
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=1.6, foreground="white")]


def nice_scale_length(map_width_m: float, share: float = 0.25) -> float:
    """The largest 1, 2 or 5 × 10^k metres not longer than `share` of the map width."""
    target = max(map_width_m * share, 1e-6)
    exp = np.floor(np.log10(target))
    best = 10**exp
    for step in (1, 2, 5):
        if step * 10**exp <= target:
            best = step * 10**exp
    return float(best)


def scale_label(length_m: float) -> str:
    if length_m >= 1000:
        km = length_m / 1000
        return f"{km:g} km"
    return f"{length_m:g} m"


def add_scale_bar(ax, extent: tuple[float, float, float, float], fontsize: float = 7) -> float:
    """Two-segment black/white bar in the lower left; returns its length in metres."""
    from matplotlib.patches import Rectangle

    left, right, bottom, top = extent
    width, height = right - left, top - bottom
    length = nice_scale_length(width)
    x0 = left + 0.05 * width
    y0 = bottom + 0.05 * height
    bar_h = 0.012 * max(height, width * 0.6)
    half = length / 2
    for i, colour in enumerate(("black", "white")):
        ax.add_patch(Rectangle((x0 + i * half, y0), half, bar_h, facecolor=colour,
                               edgecolor="black", linewidth=0.5, zorder=10))
    ax.text(x0 + length / 2, y0 + bar_h * 1.6, scale_label(length), ha="center", va="bottom",
            fontsize=fontsize, zorder=11, path_effects=_halo())
    return length


def add_north_arrow(ax, extent: tuple[float, float, float, float], fontsize: float = 7) -> None:
    """An arrow to grid north (up: the map is drawn north-up in its projected CRS)."""
    left, right, bottom, top = extent
    width, height = right - left, top - bottom
    x = right - 0.06 * width
    y_tail = top - 0.20 * height
    y_head = top - 0.09 * height
    ax.annotate("", xy=(x, y_head), xytext=(x, y_tail), zorder=11,
                arrowprops={"arrowstyle": "-|>,head_width=0.25,head_length=0.5", "color": "black",
                                "linewidth": 1.0, "path_effects": _halo()})
    ax.text(x, y_head + 0.01 * height, "N", ha="center", va="bottom", fontsize=fontsize,
            fontweight="bold", zorder=11, path_effects=_halo())
