"""Make datasets/contact_sheet.png: real VHR crops beside synthetic ones, at 100 % and 400 %.

Usage:  uv run python datasets/make_contact_sheet.py [--realdata ../shared/realdata] [--out PNG]

Real crops come from ../shared/realdata (never committed, evaluation only); synthetic
crops are generated here with `debrismap.synth`. Magenta boxes are the generator's labels.
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image, ImageDraw

from debrismap.synth import composite_piles, generate_city

CROP = 224
ZOOM_CROP = 56


def read_crop(path: Path, x: int, y: int, size: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path) as ds:
            a = ds.read([1, 2, 3], window=rasterio.windows.Window(x, y, size, size))
    if a.dtype != np.uint8:
        a = np.clip(a / max(np.percentile(a, 99.5), 1) * 255, 0, 255).astype(np.uint8)
    return a.transpose(1, 2, 0)


def boxes_of(raster: Path) -> np.ndarray:
    txt = raster.with_name(raster.stem + ".labels.txt")
    rows = [list(map(int, line.split()[1:])) for line in txt.read_text().splitlines()]
    return np.array(rows, int).reshape(-1, 4)


def panel(img: np.ndarray, title: str, zoom: int = 1, boxes=None, origin=(0, 0)) -> Image.Image:
    im = Image.fromarray(img).resize((img.shape[1] * zoom, img.shape[0] * zoom), Image.NEAREST)
    d = ImageDraw.Draw(im)
    if boxes is not None:
        ox, oy = origin
        for x0, y0, x1, y1 in boxes:
            d.rectangle([(x0 - ox) * zoom - 1, (y0 - oy) * zoom - 1, (x1 - ox) * zoom, (y1 - oy) * zoom],
                        outline=(255, 0, 255))
    d.rectangle([0, 0, im.width, 13], fill=(0, 0, 0))
    d.text((3, 1), title, fill=(255, 255, 255))  # PIL's built-in bitmap font: nothing to download
    return im


def densest_pile_crop(raster: Path, size: int) -> tuple[int, int]:
    """Top-left of a crop centred on the largest labelled pile."""
    b = boxes_of(raster)
    if not len(b):
        return 0, 0
    k = np.argmax((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
    cx, cy = (b[k, 0] + b[k, 2]) // 2, (b[k, 1] + b[k, 3]) // 2
    with rasterio.open(raster) as ds:
        return int(np.clip(cx - size // 2, 0, ds.width - size)), int(np.clip(cy - size // 2, 0, ds.height - size))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    ap.add_argument("--realdata", type=Path, default=here.parents[1] / "shared" / "realdata")
    ap.add_argument("--out", type=Path, default=here / "contact_sheet.png")
    args = ap.parse_args()
    R = args.realdata
    joplin_post = R / "xview2deploy_joplin" / "post_tile_32524-5137.tif"
    joplin_pre = R / "xview2deploy_joplin" / "pre_tile_337-10160.tif"
    tk = R / "planet_turkey_eq2023"
    antakya_post = tk / "mimar_sinan_antakya_hatay_turkey_20230212_ssc16_rgb_flat_50cm_2880px_logo_wm_post.jpg"
    antakya_pre = tk / "mimar_sinan_antakya_hatay_turkey_20220807_ssc10_rgb_flat_50cm_2880px_logo_wm_pre.jpg"

    real = [
        (joplin_post, 330, 330, "REAL Joplin post-tornado 0.6m"),
        (antakya_post, 1250, 650, "REAL Antakya post-quake 0.5m"),
        (antakya_pre, 1250, 650, "REAL Antakya pre 0.5m"),
        (joplin_pre, 300, 300, "REAL Joplin pre 0.6m"),
    ]
    row1 = [panel(read_crop(p, x, y, CROP), t) for p, x, y, t in real if p.exists()]
    row2, row3 = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for seed, gsd in ((2, 0.5), (1, 0.5), (10, 0.4), (3, 0.6)):
            r = generate_city(tmp / f"s{seed}.tif", size=512, gsd=gsd, seed=seed, pile_density=2.5, progress=False)
            with rasterio.open(r.raster) as ds:
                region = ds.tags().get("DEBRISMAP_SYNTH_REGION", "")
            x, y = densest_pile_crop(r.raster, CROP)
            row2.append(panel(read_crop(r.raster, x, y, CROP), f"SYNTH seed {seed} {region} {gsd}m",
                              boxes=boxes_of(r.raster), origin=(x, y)))
            if len(row3) < 2:
                zx, zy = densest_pile_crop(r.raster, ZOOM_CROP)
                row3.append(panel(read_crop(r.raster, zx, zy, ZOOM_CROP), f"SYNTH pile x4 (seed {seed})", zoom=4))
        if joplin_post.exists():
            row3.insert(0, panel(read_crop(joplin_post, 430, 410, ZOOM_CROP), "REAL debris x4 Joplin", zoom=4))
        if joplin_pre.exists():
            c = composite_piles(joplin_pre, tmp / "comp.tif", seed=4, n_piles=40, progress=False)
            zx, zy = densest_pile_crop(c.raster, ZOOM_CROP)
            row3.append(panel(read_crop(c.raster, zx, zy, ZOOM_CROP), "COMPOSITE on real x4", zoom=4))
    rows = [r for r in (row1, row2, row3) if r]
    gap = 4
    width = max(sum(p.width for p in r) + gap * (len(r) - 1) for r in rows)
    height = sum(r[0].height for r in rows) + gap * (len(rows) - 1)
    sheet = Image.new("RGB", (width, height), (40, 40, 40))
    y = 0
    for r in rows:
        x = 0
        for p in r:
            sheet.paste(p, (x, y))
            x += p.width + gap
        y += r[0].height + gap
    sheet.save(args.out, optimize=True)
    print(f"{args.out}: {sheet.width}x{sheet.height}, {args.out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
