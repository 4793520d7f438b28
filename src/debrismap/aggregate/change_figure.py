"""The article figure for a two-date comparison: new minus gone piles, diverging colours."""

from __future__ import annotations

import numpy as np

from debrismap import __version__
from debrismap.aggregate.basemap import read_greyscale
from debrismap.aggregate.colours import change_rgba
from debrismap.aggregate.figure import MapFigure, colorbar_ticks, render
from debrismap.aggregate.heatmap_figure import BASEMAP_PIXELS, default_credit, overlay_with_veil


def change_figure(change, density, vlim: float, title=None, credit=None):
    from matplotlib.colors import ListedColormap, Normalize


    after = change.after.run
    before = change.before.run
    left, bottom, right, top = density.bounds
    grey = _mosaic_backdrop(after, change.metric_crs, (left, bottom, right, top))
    if grey is None:
        grey = _mosaic_backdrop(before, change.metric_crs, (left, bottom, right, top))
    ramp = change_rgba(np.linspace(-vlim, vlim, 256)[None, :], vlim)[0] / 255.0
    t = change.totals()
    d_before = before.acquisition_date or "first date"
    d_after = after.acquisition_date or "second date"
    credit = credit or after.first_input.get("credit") or default_credit(after)
    caption = [
        (f"Between {d_before} and {d_after}: {t['new']:,} new and {t['gone']:,} gone piles, "
         f"{t['persisting']:,} persisting (matched within {change.match_distance:g} m); "
         f"{t['before']:,} before, {t['after']:,} after, in {change.coverage.area / 1e6:,.2f} km² "
         "imaged on both dates; pale areas were not."),
        f"Red: more new than gone; blue: more gone. Gaussian kernel, {density.bandwidth:g} m.",
        f"Imagery: {credit}. Analysis: debrismap {__version__}.",
    ]
    spec = MapFigure(
        extent=(left, right, bottom, top),
        overlay_rgba=overlay_with_veil(change_rgba(density.values, vlim), density.valid),
        cmap=ListedColormap(ramp),
        norm=Normalize(-vlim, vlim),
        colorbar_label="New minus gone piles per km²",
        colorbar_ticks=colorbar_ticks(vlim, -vlim),
        title=title or f"Change in debris piles, {d_before} to {d_after}",
        caption=caption,
        basemap=grey,
    )
    return render(spec)


def _mosaic_backdrop(run, metric_crs, bounds):
    """Greyscale of every input raster of `run` on the map grid; None when none can be read."""

    left, bottom, right, top = bounds
    scale = BASEMAP_PIXELS / max(right - left, top - bottom)
    shape = (max(int((top - bottom) * scale), 1), max(int((right - left) * scale), 1))
    grey = None
    for path in run.input_raster_paths():
        layer = read_greyscale(path, metric_crs, bounds, shape)
        if layer is not None:
            grey = layer if grey is None else np.where(np.isfinite(grey), grey, layer)
    return grey
