"""`write_report`: one self-contained HTML page for a run that works offline.

Everything is inline — images as base64 PNG data URIs, data as JSON in a script tag, a few
lines of vanilla JS — so the file can be mailed, archived, or opened on a laptop with no
network. The JS builds the tables and marks `<body data-rendered="ok">` when it has finished,
which is what the headless-browser test checks.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
from pyproj import CRS
from pyproj.exceptions import CRSError

from debrismap import __version__
from debrismap.aggregate.calibrated import CellModel, calibrated_counts
from debrismap.aggregate.colours import density_rgba
from debrismap.aggregate.figure import colorbar_ticks, tick_label
from debrismap.aggregate.heatmap import analyse_run, draw_calibrated
from debrismap.aggregate.heatmap_figure import (
    backdrop,
    colorbar_label,
    drawn_caption,
    overlay_with_veil,
)
from debrismap.aggregate.sensitivity import sensitivity_figure
from debrismap.aggregate.writers import density_vmax
from debrismap.atomic import ensure_dir, write_text

MAP_WIDTH_PX = 1000
TOP_CELLS = 15


def _png_data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", transparent=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _map_layers(analysis, basemap) -> tuple[str, str, int, int]:
    """(base+density PNG, transparent detections PNG, width, height): same pixel grid."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure


    density = analysis.density
    left, bottom, right, top = density.bounds
    width = MAP_WIDTH_PX
    height = max(round(width * (top - bottom) / (right - left)), 1)
    extent = (left, right, bottom, top)

    def blank() -> tuple:
        fig = Figure(figsize=(width / 100, height / 100), dpi=100)
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)
        ax.set_axis_off()
        return fig, ax

    fig, ax = blank()
    fig.patch.set_facecolor("#e6e6e6")
    grey, _ = backdrop(analysis, basemap)
    if grey is not None:
        ax.imshow(np.ma.masked_invalid(grey), cmap="gray", vmin=0, vmax=1, extent=extent,
                  interpolation="bilinear")
    rgba = overlay_with_veil(density_rgba(density.values, density_vmax(density)), density.valid)
    ax.imshow(rgba, extent=extent, interpolation="bilinear")
    base = _png_data_uri(fig)

    fig, ax = blank()
    fig.patch.set_alpha(0)
    pts = analysis.centres
    if len(pts):
        ax.scatter(pts[:, 0], pts[:, 1], s=6, c="#00b4d8", edgecolors="black", linewidths=0.4)
    dots = _png_data_uri(fig)
    return base, dots, width, height


def _legend_uri(analysis, drawn: CellModel | None = None) -> str:
    """The density colour bar as a small PNG (the same fade-in as the map layer)."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter


    vmax = density_vmax(analysis.density)
    ramp = density_rgba(np.linspace(0, vmax, 256)[None, :], vmax)[0] / 255.0
    fig = Figure(figsize=(4.0, 0.62), dpi=150)
    cax = fig.add_axes([0.04, 0.45, 0.9, 0.2])
    extend = "max" if np.nanmax(analysis.density.values, initial=0) > vmax else "neither"
    bar = fig.colorbar(ScalarMappable(Normalize(0, vmax), ListedColormap(ramp)), cax=cax,
                       orientation="horizontal", ticks=colorbar_ticks(vmax), extend=extend,
                       format=FuncFormatter(tick_label))
    bar.ax.tick_params(labelsize=7, length=2, width=0.4)
    bar.outline.set_linewidth(0.4)
    cax.set_title(colorbar_label(drawn), fontsize=7, pad=2)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _sensitivity_uri(analysis) -> str:
    fig = sensitivity_figure(analysis.curve, analysis.run.operating_threshold, analysis.summary)
    fig.set_dpi(150)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _rows(pairs) -> str:
    return "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                   for k, v in pairs if v not in (None, "", [], {}))


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return str(v)


def _provenance(manifest: dict) -> str:
    parts = []
    for i, inp in enumerate(manifest.get("inputs") or []):
        crs = inp.get("crs")
        try:
            crs = CRS.from_user_input(crs).name if crs else None
        except CRSError:  # show the text as recorded rather than nothing
            pass
        parts.append((f"input {i + 1}", inp.get("path")))
        parts += [("  size (px)", f"{inp.get('width')} × {inp.get('height')}" if inp.get("width") else None),
                  ("  CRS", crs), ("  GSD (m)", inp.get("gsd_m")),
                  ("  acquisition date", inp.get("acquisition_date")),
                  ("  header sha256", inp.get("header_sha256"))]
    model = manifest.get("model") or {}
    parts += [("model", model.get("path")), ("model sha256", model.get("sha256")),
              ("model classes", model.get("classes")), ("model GSD (m)", model.get("gsd_m")),
              ("thresholds", manifest.get("thresholds")), ("tiling", manifest.get("tiling")),
              ("software version", manifest.get("software_version")),
              ("started", manifest.get("started")), ("finished", manifest.get("finished")),
              ("timings (s)", manifest.get("timings"))]
    return _rows(parts)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 1040px;
       color: #222; padding: 0 1em; line-height: 1.4; }}
h1 {{ font-size: 1.5em; margin-bottom: 0.2em; }} h2 {{ font-size: 1.15em; margin-top: 1.6em; }}
.sub {{ color: #555; margin-top: 0; }}
.map {{ position: relative; width: 100%; max-width: {width}px; }}
.map img {{ display: block; width: 100%; height: auto; }}
.map img.overlay {{ position: absolute; left: 0; top: 0; }}
.figures {{ display: flex; gap: 1em; flex-wrap: wrap; align-items: flex-start; }}
table {{ border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.summary td.num {{ font-size: 1.3em; font-weight: bold; }}
.prov td {{ word-break: break-all; font-family: monospace; font-size: 0.95em; }}
.note {{ color: #555; font-size: 0.9em; max-width: 60em; }}
</style></head>
<body data-rendered="no">
<h1>{title}</h1>
<p class="sub">{subtitle}</p>
<h2>How many piles</h2>
<table class="summary" id="summary-table"></table>
<p class="note" id="range-note"></p>
{review}
<h2>Where</h2>
<p><label><input type="checkbox" id="toggle-detections" checked> show detections</label></p>
<div class="map"><img src="{base_uri}" alt="{map_alt}" id="density-map">
<img class="overlay" id="detections-layer" src="{dots_uri}" alt="Detected piles"></div>
<img src="{legend_uri}" alt="Colour scale: {legend_alt}" style="width: 400px; max-width: 100%">
<p class="note" id="map-caption">Colour: {colour} (Gaussian kernel, {bandwidth:g} m); pale areas were not analysed.
{drawn_note}{count} piles counted at score ≥ {threshold:.2f}; {outside} detections outside the analysed coverage were left out.</p>
<div class="figures"><img src="{sens_uri}" alt="Count against score threshold" style="max-width: 540px; width: 100%"></div>
<h2>Cells with the most piles ({cell:g} m grid)</h2>
<table id="cells-table"></table>
<div id="zones-section"></div>
{timeline_section}
<h2>Provenance</h2>
<table class="prov">{provenance}</table>
<p class="note">Generated by debrismap {version}. Counts are automated detections, not verified on the ground.</p>
<script type="application/json" id="report-data">{data}</script>
<script>
"use strict";
(function () {{
  var data = JSON.parse(document.getElementById("report-data").textContent);
  function cell(row, text, cls) {{
    var td = document.createElement(row.parentNode && row.parentNode.tagName === "THEAD" ? "th" : "td");
    td.textContent = text; if (cls) td.className = cls; row.appendChild(td); return td;
  }}
  function table(el, header, rows, numeric) {{
    var head = el.createTHead().insertRow();
    header.forEach(function (h) {{ var th = document.createElement("th"); th.textContent = h; head.appendChild(th); }});
    var body = el.createTBody();
    rows.forEach(function (r) {{
      var tr = body.insertRow();
      r.forEach(function (v, i) {{ cell(tr, v, numeric[i] ? "num" : ""); }});
    }});
  }}
  function fmt(x, digits) {{
    if (x === null || x === undefined || (typeof x === "number" && isNaN(x))) return "–";
    return typeof x === "number" ? x.toLocaleString("en-GB", {{maximumFractionDigits: digits}}) : String(x);
  }}
  var s = data.summary;
  table(document.getElementById("summary-table"), ["", "piles", "what it means"],
        ["central", "low", "high"].map(function (k) {{ return [k, fmt(s[k], 0), s.meaning[k]]; }})
          .concat(s.precision_corrected !== undefined ?
                  [["precision-corrected", fmt(s.precision_corrected, 0), s.meaning.precision_corrected]] : [])
          .concat(s.calibrated && s.calibrated.central !== null ?
                  [["calibrated estimate", fmt(s.calibrated.central, 0) + " (" + fmt(s.calibrated.low, 0) + "–" +
                    fmt(s.calibrated.high, 0) + ")", s.meaning.calibrated +
                    ((s.outside_calibration || []).length ? ". WARNING, outside the calibration: " +
                     s.outside_calibration.join("; ") : "")]] : []),
        [false, true, false]);
  document.getElementById("range-note").textContent = "What the range means: " + s.meaning.range + ".";
  var drawn = data.map !== undefined;
  table(document.getElementById("cells-table"),
        ["cell", "piles"].concat(drawn ? ["review-calibrated"] : []).concat(["per km²", "valid fraction", "partial"]),
        data.cells.map(function (c) {{
          return [c.cell_id, fmt(c.count, 0)].concat(drawn ? [fmt(c.calibrated, 1)] : [])
            .concat([fmt(c.piles_per_km2, 0), fmt(c.valid_fraction, 2), c.partial ? "yes" : ""]);
        }}), [false, true].concat(drawn ? [true] : []).concat([true, true, false]));
  if (data.zones) {{
    var sec = document.getElementById("zones-section");
    var h = document.createElement("h2"); h.textContent = "Zones"; sec.appendChild(h);
    var t = document.createElement("table"); t.id = "zones-table"; sec.appendChild(t);
    table(t, ["zone", "piles", "area km²", "analysed km²", "per analysed km²"],
          data.zones.map(function (z) {{
            return [z.zone, fmt(z.count, 0), fmt(z.area_km2, 2), fmt(z.valid_area_km2, 2), fmt(z.piles_per_km2, 0)];
          }}), [false, true, true, true, true]);
  }}
  var toggle = document.getElementById("toggle-detections");
  var layer = document.getElementById("detections-layer");
  toggle.addEventListener("change", function () {{ layer.style.display = toggle.checked ? "" : "none"; }});
  document.body.setAttribute("data-rendered", "ok");
}})();
</script>
</body></html>
"""


def _records(columns: dict, order: np.ndarray) -> list[dict]:
    out = []
    for i in order:
        rec = {}
        for k, v in columns.items():
            x = v[i]
            if isinstance(x, (np.floating, float)):
                rec[k] = None if not np.isfinite(x) else float(x)
            elif isinstance(x, (np.integer, int)):
                rec[k] = int(x)
            else:
                rec[k] = str(x)
        out.append(rec)
    return out


def report_html(analysis, basemap=None, title: str | None = None, review: str = "",
                timeline_section: str = "", drawn: CellModel | None = None,
                map_section: dict | None = None) -> str:
    """drawn: the review's fitted line when analysis.density was redrawn from it
    (heatmap.draw_calibrated); map_section: the summary "map" section that returned."""
    run = analysis.run
    base_uri, dots_uri, width, _ = _map_layers(analysis, basemap)
    cols = analysis.grid.columns()
    if drawn is not None:
        cols["calibrated"] = calibrated_counts(analysis.grid, drawn)
    top = np.argsort(-cols["count"], kind="stable")[:TOP_CELLS]
    data = {"summary": analysis.summary, "cells": _records(cols, top)}
    if drawn is not None:
        data["map"] = map_section
    if analysis.zones is not None:
        zc = analysis.zones.columns()
        data["zones"] = _records(zc, np.argsort(-zc["count"], kind="stable"))
    date = run.acquisition_date
    title = title or "Debris piles" + (f", {date}" if date else "")
    subtitle = (f"Run {run.path.name}: {analysis.count:,} piles in {analysis.valid_area_km2:,.2f} km² "
                f"of analysed imagery")
    # "</" inside a script element would end it early: escape it in the JSON text.
    data_json = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return PAGE.format(
        title=html.escape(title), subtitle=html.escape(subtitle), base_uri=base_uri, dots_uri=dots_uri,
        width=width, bandwidth=analysis.density.bandwidth, count=f"{analysis.count:,}",
        threshold=run.operating_threshold, outside=analysis.excluded_outside,
        sens_uri=_sensitivity_uri(analysis), legend_uri=_legend_uri(analysis, drawn), cell=analysis.grid.cell,
        map_alt=("Density of review-calibrated debris piles over the imagery" if drawn is not None
                 else "Density of debris piles over the imagery"),
        legend_alt=html.escape(colorbar_label(drawn)),
        colour="review-calibrated debris piles per km²" if drawn is not None else "debris piles per km²",
        drawn_note=(html.escape(drawn_caption(drawn)) + " The interval is for the total, not for any one cell.\n"
                    if drawn is not None else ""),
        provenance=_provenance(run.manifest), version=html.escape(__version__), data=data_json,
        review=review,
        timeline_section=timeline_section,
    )


def write_report(
    run_dir: str | Path,
    out_path: str | Path | None = None,
    cell: float = 100.0,
    bandwidth: float = 75.0,
    zones: str | Path | None = None,
    basemap: str | Path | None = None,
    title: str | None = None,
    zone_field: str | None = None,
    review: str = "",
    extra_section: str = "",
    draw: CellModel | None = None,
) -> Path:
    """The report of a run folder. review: HTML of a person's review's estimate
    (debrismap.review.summary.review_html); extra_section: HTML added after the run's own
    sections (the timeline's, when `debrismap report --timeline` names one); draw: the line
    a person's review fitted, to draw the map from the review-calibrated counts, as
    `heatmap --draw reviewed` does."""
    analysis = analyse_run(run_dir, cell, bandwidth, zones, zone_field)
    map_section = None
    if draw is not None:  # refuses a grid that is not the review's, before anything is written
        _, (map_section, _) = draw_calibrated(analysis, draw)
    out = Path(out_path) if out_path is not None else analysis.run.path / "report.html"
    ensure_dir(out.parent)
    return write_text(out, report_html(analysis, basemap=basemap, title=title, review=review,
                                       timeline_section=extra_section, drawn=draw, map_section=map_section))
