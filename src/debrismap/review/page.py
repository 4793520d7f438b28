"""`write_review_page`: the sample, its imagery and the review app as one offline HTML file.

The template, style and script are package files beside this module (review_page.*), put
inline so the page opens from a USB stick with no server; a Content-Security-Policy of
`default-src 'none'` (images only as data: URIs) keeps it from reaching any network.
"""

from __future__ import annotations

import html
import json
from importlib.resources import files
from pathlib import Path

from debrismap.atomic import write_text
from debrismap.review.images import review_images
from debrismap.review.sample import ReviewPopulation


def _asset(name: str) -> str:
    return (files("debrismap.review") / name).read_text(encoding="utf-8")


def page_html(pop: ReviewPopulation, title: str) -> str:
    data = {"design": pop.design, "design_sha256": pop.design_sha256, "images": review_images(pop)}
    # "</" would close the script element early; JSON allows the escaped form.
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    page = _asset("review_page.html")
    for marker, text in (("__CSS__", _asset("review_page.css")), ("__SCRIPT__", _asset("review_page.js")),
                         ("__TITLE__", html.escape(title))):
        page = page.replace(marker, text)
    return page.replace("__DATA__", payload)  # last: the data may hold any marker text


def write_review_page(pop: ReviewPopulation, out_path: str | Path) -> Path:
    return write_text(out_path, page_html(pop, str(pop.run.path.name)))
