"""The timeline's part of `debrismap report`: an HTML section (or a whole offline page) from a
timeline folder — the chart, the first-seen map, the per-date table and the offsets.

Built from the files `debrismap timeline` wrote (timeline.json and the two PNGs, inlined as
data URIs), so the page needs neither the runs nor the imagery to be opened.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from debrismap import __version__
from debrismap.errors import DatasetError


def is_timeline_folder(path: str | Path) -> bool:
    p = Path(path)
    return (p / "timeline.json").is_file() and not (p / "run.json").exists()


def _record(folder: Path) -> dict:
    path = folder / "timeline.json"
    if not path.is_file():
        raise DatasetError("not a timeline folder: timeline.json is missing "
                           "(was `debrismap timeline --out` written here?)", path=folder)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"timeline.json is not valid JSON ({exc})", path=path) from exc


def _png_uri(path: Path) -> str | None:
    if not path.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def timeline_section(folder: str | Path) -> str:
    """`<section id="timeline">` with everything a reader needs to judge the dating."""
    folder = Path(folder)
    rec = _record(folder)
    b = rec.get("piles") or {}
    e = html.escape
    parts = ['<section id="timeline"><h2>When the piles appeared</h2>',
             (f'<p class="note">{b.get("piles", 0):,} piles tracked over {len(rec.get("runs", []))} acquisitions, '
             f'matched within {rec["parameters"]["match_distance_m"]:g} m after moving each acquisition onto '
             f'the {e(rec["reference"]["date"])} image. {b.get("bracket_within_a_month", 0):,} appeared within a '
             f'known month or less; {b.get("bracket_longer", 0):,} within a longer bracket; '
             f'{b.get("open_bracket", 0):,} have an open bracket (there from the first good image).</p>'),
             '<div class="figures">']
    for name, alt in (("timeline.png", "Debris piles present against date"),
                      ("first_seen.png", "Map of debris piles coloured by the date each was first seen")):
        uri = _png_uri(folder / name)
        if uri:
            parts.append(f'<img src="{uri}" alt="{alt}" style="max-width: 500px; width: 100%">')
    parts.append("</div>")
    header = ["date", "acquisition", "imaged km²", "present", "new", "detected (low–high)", "note"]
    reviewed = "reviews" in rec  # a column only when some date was reviewed by a person
    if reviewed:
        header.insert(6, "reviewed estimate (95% interval)")
    parts.append('<table id="timeline-table"><thead><tr>' + "".join(f"<th>{h}</th>" for h in header)
                 + "</tr></thead><tbody>")
    for row in rec.get("dates", []):
        note = "; ".join(x for x in ("partial coverage" if row.get("partial") else "", row.get("degraded") or "") if x)
        cells = [e(row["date"]), e(row["acquisition"]), f'{row["imaged_km2"]:,.3f}', f'{row["count"]:,}',
                 f'{row["new"]:,}', f'{row["detected"]:,} ({row["detected_low"]:,}–{row["detected_high"]:,})', e(note)]
        if reviewed:
            cells.insert(6, "not reviewed" if row.get("reviewed") is None else
                         f'{row["reviewed"]:,.0f} ({row["reviewed_low"]:,.0f}–{row["reviewed_high"]:,.0f})')
        parts.append("<tr>" + "".join(f'<td class="num">{c}</td>' if 2 <= i <= 5 else f"<td>{c}</td>"
                                      for i, c in enumerate(cells)) + "</tr>")
    parts.append("</tbody></table>")
    offsets = "; ".join(f'{e(r["date"])}: {r["offset"]["east_m"]:+.2f} m E, {r["offset"]["north_m"]:+.2f} m N '
                        f'({e(r["offset"]["status"])})' for r in rec.get("runs", []))
    meaning = rec.get("meaning") or {}
    parts.append(f'<p class="note">Offsets onto the reference: {offsets}.</p>')
    parts.append(f'<p class="note">Present: {e(meaning.get("count", ""))}. New: {e(meaning.get("new", ""))}. '
                 f'A pile appeared after {e(meaning.get("appeared_after", ""))}.'
                 + (f' Reviewed estimate: {e(meaning.get("reviewed", ""))}.' if reviewed else "") + '</p></section>')
    return "\n".join(parts)


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 1040px;
       color: #222; padding: 0 1em; line-height: 1.4; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.15em; margin-top: 1.6em; }}
.figures {{ display: flex; gap: 1em; flex-wrap: wrap; align-items: flex-start; }}
table {{ border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.note {{ color: #555; font-size: 0.9em; max-width: 60em; }}
</style></head>
<body data-rendered="no">
<h1>{title}</h1>
{section}
<p class="note">Generated by debrismap {version}. Counts are automated detections, not verified on the ground.</p>
<script>document.body.setAttribute("data-rendered", "ok");</script>
</body></html>
"""


def timeline_page(folder: str | Path, title: str | None = None) -> str:
    section = timeline_section(folder)
    return PAGE.format(title=html.escape(title or "Debris piles over time"), section=section,
                       version=html.escape(__version__))
