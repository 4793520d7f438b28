"""The timeline's two print figures: piles present against date, and the map of first-seen dates.

Same page size, fonts and map furniture (scale bar, north arrow, credit) as the heatmap.
"""

from __future__ import annotations

import textwrap

import numpy as np
import shapely

from debrismap import __version__
from debrismap.aggregate.basemap import read_greyscale
from debrismap.aggregate.figure import (
    DPI,
    FIG_WIDTH_IN,
    FONT_PT,
    TITLE_PT,
    WRAP_CHARS,
    MapFigure,
    render,
)
from debrismap.aggregate.heatmap_figure import BASEMAP_PIXELS, VEIL_RGBA, default_credit

DATE_CMAP = "viridis"


def timeline_figure(date_cols: dict, title: str | None = None, credit: str | None = None):
    """Piles present per date (line), new piles (bars), the runs' own count range (grey)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure


    dates = np.array([np.datetime64(d) for d in date_cols["date"]])
    count, new = date_cols["count"].astype(float), date_cols["new"].astype(float)
    partial = date_cols["partial"].astype(bool)
    degraded = np.array([bool(x) for x in date_cols["degraded"]])
    caption = [
        ("Line: piles present on each date (detected then, or both before and after)"
         + ("; hollow markers: the image covers only part of the area, so its count is for that part "
            "only" if partial.any() else "")
         + ". Bars: piles first seen that date. Grey: detections of that run alone at a stricter "
         "and a looser score threshold."
         + (" ×: hazy or coarser image, where piles are more easily missed." if degraded.any() else "")
         + (" Diamonds: the total estimated from a person's review of that date's imagery, with its 95% "
            "interval (sampling error only); dates without one were not reviewed." if "reviewed" in date_cols
            else "")),
        f"Imagery: {credit or 'see timeline.json'}. Analysis: debrismap {__version__}.",
    ]
    lines = [w for line in caption for w in (textwrap.wrap(line, WRAP_CHARS) or [""])]
    chart_h = 2.3
    fig_h = 0.45 + chart_h + 0.55 + 0.125 * len(lines)
    fig = Figure(figsize=(FIG_WIDTH_IN, fig_h), dpi=DPI)
    fig.patch.set_facecolor("white")
    fig.text(0.08 / FIG_WIDTH_IN, 1 - 0.08 / fig_h, title or "Debris piles over time", ha="left", va="top",
             fontsize=TITLE_PT, fontweight="bold")
    ax = fig.add_axes([0.14, 1 - (0.4 + chart_h) / fig_h, 0.82, chart_h / fig_h])
    span = (dates.max() - dates.min()).astype("timedelta64[D]").astype(float) if len(dates) > 1 else 30.0
    width = max(span / max(len(dates), 1) * 0.35, 1.0)
    ax.bar(dates, new, width=width, color="#f4a261", label="first seen", zorder=2)
    low, high = date_cols["detected_low"].astype(float), date_cols["detected_high"].astype(float)
    ax.vlines(dates, low, high, color="#999999", linewidth=2.2, alpha=0.6, zorder=1, label="one run's range")
    ax.plot(dates, count, color="#1d3557", linewidth=1.0, zorder=3)
    ax.scatter(dates[~partial], count[~partial], s=14, color="#1d3557", zorder=4, label="present")
    if partial.any():
        ax.scatter(dates[partial], count[partial], s=14, facecolors="white", edgecolors="#1d3557",
                   linewidths=0.9, zorder=4, label="present (partial coverage)")
    reviewed_high = np.zeros(0)
    if "reviewed" in date_cols:
        est, lo, hi = (np.array([np.nan if v is None else float(v) for v in date_cols[k]])
                       for k in ("reviewed", "reviewed_low", "reviewed_high"))
        ok = np.isfinite(est)
        if ok.any():
            ax.errorbar(dates[ok], est[ok], yerr=[est[ok] - lo[ok], hi[ok] - est[ok]], fmt="D", markersize=3.5,
                        color="#2a9d8f", ecolor="#2a9d8f", elinewidth=1.0, capsize=2, zorder=5,
                        label="reviewed estimate (95%)")
            reviewed_high = hi[ok]
    if degraded.any():
        ax.scatter(dates[degraded], np.zeros(degraded.sum()), marker="x", s=16, color="#c1121f", zorder=5,
                   clip_on=False, label="hazy or coarser image")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("Debris piles", fontsize=FONT_PT)
    ax.tick_params(labelsize=FONT_PT - 0.5, width=0.4, length=2)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.xaxis.get_offset_text().set_fontsize(FONT_PT - 0.5)
    for spine in ("top", "right"):
        ax.spines[spine].set_visible(False)
    ax.set_ylim(top=max(float(np.nanmax(np.concatenate([count, high, new, reviewed_high]), initial=1)), 1) * 1.45)
    ax.legend(fontsize=FONT_PT - 1, frameon=False, loc="upper left", ncols=2)
    fig.text(0.08 / FIG_WIDTH_IN, 1 - (0.45 + chart_h + 0.45) / fig_h, "\n".join(lines), ha="left", va="top",
             fontsize=FONT_PT, color="#333333", linespacing=1.25)
    return fig


def first_seen_figure(tracks, acquisitions, ref_index: int, metric, title=None, credit=None):
    """The piles over the reference image, coloured by the date each was first seen."""
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.ticker import FuncFormatter


    backdrop = _backdrop_acquisition(acquisitions)
    union = shapely.union_all([a.corrected_coverage for a in acquisitions])
    left, bottom, right, top = union.bounds
    pad = 0.02 * max(right - left, top - bottom)
    left, bottom, right, top = left - pad, bottom - pad, right + pad, top + pad
    scale = BASEMAP_PIXELS / max(right - left, top - bottom)
    shape = (max(int((top - bottom) * scale), 1), max(int((right - left) * scale), 1))
    grey = _corrected_mosaic(backdrop, metric, (left, bottom, right, top), shape)
    overlay = _veil_outside(union, (left, bottom, right, top), shape)
    n = len(acquisitions)
    colours = colormaps[DATE_CMAP].resampled(n)(np.arange(n))
    first = tracks.first_seen
    labels = [a.date.isoformat() for a in acquisitions]
    counts = np.bincount(first, minlength=n) if len(tracks) else np.zeros(n, int)
    credit = credit or backdrop.run.first_input.get("credit") or default_credit(backdrop.run)
    caption = [
        (f"{len(tracks):,} debris piles tracked over {n} acquisitions from {labels[0]} to {labels[-1]}, "
         "each coloured by the first date it was detected; "
         f"{counts[0]:,} were already there on the first date. Pale areas were never imaged."),
        ("Acquisitions were moved onto the " + f"{labels[ref_index]} image by phase correlation "
         "(offsets in timeline.json). A pile may have appeared earlier than its colour says "
         "when the images before it were hazy, coarser or missed it."),
        f"Imagery: {credit}, {backdrop.date.isoformat()}. Analysis: debrismap {__version__}.",
    ]
    spec = MapFigure(
        extent=(left, right, bottom, top),
        overlay_rgba=overlay,
        cmap=ListedColormap(colours),
        norm=BoundaryNorm(np.arange(n + 1) - 0.5, n),
        colorbar_label="First seen",
        colorbar_ticks=list(range(n)),
        colorbar_format=FuncFormatter(lambda v, _pos: _short_date(labels, v)),
        title=title or f"When the debris piles were first seen, {labels[0]} to {labels[-1]}",
        caption=caption,
        basemap=grey,
        dots=tracks.position if len(tracks) else None,
        dot_colours=[colours[i] for i in first] if len(tracks) else None,
        dot_size=6.0 if len(tracks) <= 2000 else 1.0,
    )
    return render(spec)


def _backdrop_acquisition(acquisitions):
    """The latest good image covering the most ground: it shows the most piles."""
    def rank(item):
        i, a = item
        return (not a.quality.get("degraded"), round(a.coverage.area, -2), i)

    return max(enumerate(acquisitions), key=rank)[1]


def _corrected_mosaic(acq, metric, bounds, shape) -> np.ndarray | None:
    """Greyscale of `acq` on the reference frame's grid: its offset is taken out."""

    east, north = acq.offset
    left, bottom, right, top = bounds
    moved = (left + east, bottom + north, right + east, top + north)
    grey = None
    for path in acq.run.input_raster_paths():
        layer = read_greyscale(path, metric, moved, shape)
        if layer is not None:
            grey = layer if grey is None else np.where(np.isfinite(grey), grey, layer)
    return grey


def _short_date(labels: list[str], value: float) -> str:
    i = round(value)
    if not 0 <= i < len(labels):
        return ""
    # Many dates crowd the bar: drop the year when every date is in the same one.
    same_year = len({d[:4] for d in labels}) == 1
    return labels[i][5:] if same_year and len(labels) > 4 else labels[i]


def _veil_outside(geom, bounds, shape) -> np.ndarray:
    """Transparent where `geom` is, the heatmap's veil elsewhere."""
    left, bottom, right, top = bounds
    rows, cols = shape
    xs = left + (np.arange(cols) + 0.5) * (right - left) / cols
    ys = top - (np.arange(rows) + 0.5) * (top - bottom) / rows
    gx, gy = np.meshgrid(xs, ys)
    shapely.prepare(geom)
    inside = shapely.contains_xy(geom, gx.ravel(), gy.ravel()).reshape(shape)
    out = np.zeros((rows, cols, 4), np.uint8)
    out[~inside] = VEIL_RGBA
    return out
