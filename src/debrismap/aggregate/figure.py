"""Print-ready map figures: an overlay (density or change) over greyscale imagery.

Sized for one newspaper column (3.6 in wide at 300 dpi = 1080 px), fonts 7 pt and up,
north-up in the metric CRS, with colour bar, scale bar, north arrow, title and a caption
that carries the count, threshold, credit and date — everything an editor needs to print it.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from debrismap import __version__
from debrismap.aggregate.cartography import add_north_arrow, add_scale_bar
from debrismap.atomic import atomic_target

FIG_WIDTH_IN = 3.6
DPI = 300
FONT_PT = 7.0
TITLE_PT = 9.0
MAX_MAP_HEIGHT_IN = 4.6
WRAP_CHARS = 66


@dataclass
class MapFigure:
    """Everything one map figure shows; `overlay_rgba` is on the grid given by `extent`."""

    extent: tuple[float, float, float, float]  # left, right, bottom, top (metres)
    overlay_rgba: np.ndarray  # uint8 (rows, cols, 4)
    cmap: object  # matplotlib colormap for the colour bar
    norm: object  # matplotlib Normalize for the colour bar
    colorbar_label: str
    title: str
    caption: list[str]
    basemap: np.ndarray | None = None  # greyscale [0, 1], NaN where no imagery
    dots: np.ndarray | None = None  # (N, 2) metric coords
    dot_colours: list | None = None
    dot_size: float | None = None  # points²; default scales down for crowded maps
    outlines: list = field(default_factory=list)  # shapely geometries drawn as thin lines
    labels: list = field(default_factory=list)  # (x, y, text) placed on the map, e.g. zone names
    colorbar_ticks: list | None = None
    colorbar_extend: str = "neither"  # "max": values above the top exist (open-ended bar)
    colorbar_format: object = None  # a matplotlib Formatter for the ticks (e.g. dates); default numbers


def render(fig_spec: MapFigure):
    """Build the matplotlib Figure (not saved)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure


    left, right, bottom, top = fig_spec.extent
    aspect = (top - bottom) / max(right - left, 1e-9)
    margin = 0.08
    map_w = FIG_WIDTH_IN - 2 * margin
    map_h = map_w * aspect
    if map_h > MAX_MAP_HEIGHT_IN:  # a tall city: keep the page short, narrow the map
        map_h = MAX_MAP_HEIGHT_IN
        map_w = map_h / aspect
    title_lines = textwrap.wrap(fig_spec.title, 44) or [""]
    caption_lines = [w for line in fig_spec.caption for w in (textwrap.wrap(line, WRAP_CHARS) or [""])]
    title_h = 0.18 * len(title_lines) + 0.06
    cbar_block = 0.5
    caption_h = 0.125 * len(caption_lines) + 0.08
    fig_h = margin + title_h + map_h + cbar_block + caption_h
    fig = Figure(figsize=(FIG_WIDTH_IN, fig_h), dpi=DPI)
    fig.patch.set_facecolor("white")

    def frac_box(x_in, y_top_in, w_in, h_in):
        return [x_in / FIG_WIDTH_IN, 1 - (y_top_in + h_in) / fig_h, w_in / FIG_WIDTH_IN, h_in / fig_h]

    y = margin
    fig.text(margin / FIG_WIDTH_IN, 1 - y / fig_h, "\n".join(title_lines), ha="left", va="top",
             fontsize=TITLE_PT, fontweight="bold", linespacing=1.15)
    y += title_h
    map_x = (FIG_WIDTH_IN - map_w) / 2
    ax = fig.add_axes(frac_box(map_x, y, map_w, map_h))
    ax.set_facecolor("#e6e6e6")  # unanalysed ground reads as flat light grey
    if fig_spec.basemap is not None:
        ax.imshow(np.ma.masked_invalid(fig_spec.basemap), cmap="gray", vmin=0, vmax=1,
                  extent=fig_spec.extent, interpolation="bilinear", zorder=1)
    ax.imshow(fig_spec.overlay_rgba, extent=fig_spec.extent, interpolation="bilinear", zorder=2)
    for geom in fig_spec.outlines:
        for ring in _rings(geom):
            xs, ys = ring.xy
            ax.plot(xs, ys, color="white", linewidth=0.9, zorder=3)
            ax.plot(xs, ys, color="#333333", linewidth=0.4, zorder=3)
    if fig_spec.labels:
        from matplotlib import patheffects

        halo = [patheffects.withStroke(linewidth=1.5, foreground="white")]
        for lx, ly, text in fig_spec.labels:
            ax.text(lx, ly, text, fontsize=FONT_PT, ha="center", va="center", zorder=5,
                    path_effects=halo, clip_on=True)
    if fig_spec.dots is not None and len(fig_spec.dots):
        colours = fig_spec.dot_colours or "#00b4d8"
        # Thousands of piles at city scale: smaller, edgeless dots, or they hide the map.
        crowded = len(fig_spec.dots) > 2000
        size = fig_spec.dot_size or (0.25 if crowded else 1.4)
        ax.scatter(fig_spec.dots[:, 0], fig_spec.dots[:, 1], s=size, c=colours,
                   linewidths=0 if crowded else 0.25, edgecolors="black", alpha=0.7 if crowded else 1,
                   zorder=4, rasterized=crowded)
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_linewidth(0.5)
    add_scale_bar(ax, fig_spec.extent, FONT_PT)
    add_north_arrow(ax, fig_spec.extent, FONT_PT)
    y += map_h + 0.26
    cax = fig.add_axes(frac_box(margin + 0.15, y, FIG_WIDTH_IN - 2 * margin - 0.3, 0.08))
    from matplotlib.cm import ScalarMappable
    from matplotlib.ticker import FuncFormatter

    cbar = fig.colorbar(ScalarMappable(norm=fig_spec.norm, cmap=fig_spec.cmap), cax=cax,
                        orientation="horizontal", ticks=fig_spec.colorbar_ticks,
                        extend=fig_spec.colorbar_extend, extendfrac=0.03,
                        format=fig_spec.colorbar_format or FuncFormatter(tick_label))
    cbar.outline.set_linewidth(0.4)
    cbar.ax.tick_params(labelsize=FONT_PT, width=0.4, length=2, pad=1.5)
    cax.set_title(fig_spec.colorbar_label, fontsize=FONT_PT, pad=2.5)
    y += cbar_block - 0.26 + 0.07
    fig.text(margin / FIG_WIDTH_IN, 1 - y / fig_h, "\n".join(caption_lines), ha="left", va="top",
             fontsize=FONT_PT, color="#333333", linespacing=1.25)
    return fig


def save(fig, path: str | Path) -> Path:
    """Save atomically; the format comes from the suffix (png, svg, pdf), 300 dpi."""
    path = Path(path)
    with atomic_target(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format=path.suffix.lstrip(".").lower(), facecolor="white",
                    metadata=_metadata(path.suffix))
    return path


def _metadata(suffix: str) -> dict:
    if suffix.lower() == ".png":
        return {"Software": f"debrismap {__version__}"}
    if suffix.lower() in (".pdf", ".svg"):
        return {"Creator": f"debrismap {__version__}"}
    return {}


def _rings(geom):
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom.exterior, *geom.interiors]
    if hasattr(geom, "geoms"):
        return [r for g in geom.geoms for r in _rings(g)]
    if geom.geom_type in ("LineString", "LinearRing"):
        return [geom]
    return []


def tick_label(value: float, _pos=None) -> str:
    # Thousands separators and no trailing ".0": "2,500", "0.5", "−1,000".
    text = f"{value:,.10g}" if abs(value) >= 1000 else f"{value:.10g}"
    return text.replace("-", "\u2212")


def colorbar_ticks(vmax: float, vmin: float = 0.0) -> list[float]:
    """Round ticks (1, 2, 2.5, 5 × 10^k steps) from `vmin` to the colour scale's top."""
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(vmin, vmax)
    return [float(t) for t in ticks if vmin - 1e-9 <= t <= vmax + 1e-9]
