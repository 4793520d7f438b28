"""The article figure for one run: density over greyscale imagery, with its caption."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from debrismap import __version__
from debrismap.aggregate.basemap import read_greyscale
from debrismap.aggregate.colours import DENSITY_CMAP, density_rgba
from debrismap.aggregate.figure import MapFigure, colorbar_ticks, render
from debrismap.aggregate.writers import density_vmax

# Longest side, in pixels, of the imagery read for the backdrop (the map is ~1030 px wide).
BASEMAP_PIXELS = 1400
# Ground outside the analysed coverage is veiled so nobody reads "no piles" there.
VEIL_RGBA = (255, 255, 255, 150)


def backdrop(analysis, basemap: str | Path | None):
    """Greyscale imagery on the density extent, or None (with the reason) when unavailable.

    Without --basemap every input raster of the run is read, so a mosaic shows whole.
    """

    if basemap is not None:
        paths = [Path(basemap)]
        if not paths[0].exists():
            from debrismap.errors import RasterError

            raise RasterError("basemap raster not found", path=paths[0])
    else:
        paths = analysis.run.input_raster_paths()
    if not paths:
        return None, "imagery not found"
    left, bottom, right, top = analysis.density.bounds
    scale = BASEMAP_PIXELS / max(right - left, top - bottom)
    shape = (max(int((top - bottom) * scale), 1), max(int((right - left) * scale), 1))
    grey = None
    for path in paths:
        layer = read_greyscale(path, analysis.metric_crs, (left, bottom, right, top), shape)
        if layer is None:
            continue
        grey = layer if grey is None else np.where(np.isfinite(grey), grey, layer)
    return grey, (None if grey is not None else "imagery has no CRS")


def overlay_with_veil(rgba: np.ndarray, valid: np.ndarray) -> np.ndarray:
    out = rgba.copy()
    out[~valid] = VEIL_RGBA
    return out


def colorbar_label(drawn=None) -> str:
    """The colour bar's title, on the article figure and the HTML report alike."""
    return "Debris piles per km²" + (" (review-calibrated)" if drawn is not None else "")


def drawn_caption(drawn) -> str:
    """The caption sentence of a map drawn from a review's fitted line (CellModel)."""
    return (f"Drawn from review-calibrated counts: a person counted every pile in {drawn.cells_counted} "
            f"randomly drawn {drawn.cell_m:g} m cells, giving an estimated {drawn.estimate:,.0f} piles "
            f"(95% interval {drawn.low:,.0f}–{drawn.high:,.0f}); each detection counts {drawn.slope:.2f} "
            f"piles and every cell holds {drawn.intercept:.2f} more, spread evenly.")


def heatmap_figure(analysis, basemap=None, title=None, credit=None, date=None, dots=False, drawn=None):
    """drawn: the review's fitted line (aggregate.calibrated.CellModel) when the density shows
    review-calibrated counts; the caption and colour bar then say so."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, Normalize


    run = analysis.run
    density = analysis.density
    vmax = density_vmax(density)
    rgba = overlay_with_veil(density_rgba(density.values, vmax), density.valid)
    # The colour bar shows the same fade-in as the map, so pale means "few" on both.
    ramp = density_rgba(np.linspace(0, vmax, 256)[None, :], vmax)[0] / 255.0
    cmap = ListedColormap(ramp) if vmax > 0 else colormaps[DENSITY_CMAP]
    grey, why_no_imagery = backdrop(analysis, basemap)
    left, bottom, right, top = density.bounds
    date = date or run.acquisition_date
    credit = credit or run.first_input.get("credit") or default_credit(run)
    threshold = run.operating_threshold
    caption = [
        (f"{analysis.count:,} debris piles detected automatically (score ≥ {threshold:.2f}) "
         f"in {analysis.valid_area_km2:,.2f} km² of analysed imagery; pale areas were not analysed."),
        *([drawn_caption(drawn)] if drawn is not None else []),
        (f"Density: Gaussian kernel, {density.bandwidth:g} m bandwidth. "
         f"Grid north up ({analysis.metric_crs.name})."),
        f"Imagery: {credit}" + (f", {date}" if date else ", date unknown")
        + (f" ({why_no_imagery})" if why_no_imagery else "") + f". Analysis: debrismap {__version__}.",
    ]
    default_title = "Debris piles" + (f", {date}" if date else "")
    spec = MapFigure(
        extent=(left, right, bottom, top),
        overlay_rgba=rgba,
        cmap=cmap,
        norm=Normalize(0, vmax),
        colorbar_label=colorbar_label(drawn),
        colorbar_ticks=colorbar_ticks(vmax),
        colorbar_extend="max" if np.nanmax(density.values, initial=0) > vmax else "neither",
        title=title or default_title,
        caption=caption,
        basemap=grey,
        dots=analysis.centres if dots else None,
        outlines=analysis.zone_outlines,
        labels=analysis.zone_labels,
    )
    return render(spec)


def default_credit(run) -> str:
    path = run.first_input.get("path")
    return Path(path).name if path else "source not recorded (use --credit)"
