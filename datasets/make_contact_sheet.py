"""Make datasets/contact_sheet.png: real debris beside every pile renderer, at 100 % and 400 %.

Usage:  uv run python datasets/make_contact_sheet.py [--realdata ../shared/realdata] [--out PNG]

Rows 1-2 (100 %, 224 px = 112 m at 0.5 m): real post-event debris (Joplin tornado 2011,
Antakya earthquake 2023), then piles of each renderer of debrismap.synth.renderers
composited onto real *pre-event* scenes (synth.realchips, as the training recipe does), a
synthetic city of the original generator, and hard negatives. Rows 3-4 (400 %, 56 px = 28 m):
the same things up close. Magenta boxes are labels. Real crops come from ../shared/realdata
(never committed, evaluation only).
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image, ImageDraw

from debrismap.synth import generate_city
from debrismap.synth.realchips import composite_scene
from debrismap.synth.realscene import footprints_from_chooch, footprints_from_vector, load_scene
from debrismap.synth.renderers import RENDERERS

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


def panel(img: np.ndarray, title: str, zoom: int = 1, boxes=(), origin=(0, 0)) -> Image.Image:
    im = Image.fromarray(np.ascontiguousarray(img)).resize((img.shape[1] * zoom, img.shape[0] * zoom), Image.NEAREST)
    d = ImageDraw.Draw(im)
    ox, oy = origin
    for x0, y0, x1, y1 in boxes:
        if x1 > ox and y1 > oy and x0 < ox + img.shape[1] and y0 < oy + img.shape[0]:
            d.rectangle([(x0 - ox) * zoom - 2, (y0 - oy) * zoom - 2, (x1 - ox) * zoom + 1, (y1 - oy) * zoom + 1],
                        outline=(255, 0, 255))
    d.rectangle([0, 0, im.width, 13], fill=(0, 0, 0))
    d.text((3, 1), title, fill=(255, 255, 255))  # PIL's built-in bitmap font: nothing to download
    return im


def around(image: np.ndarray, box, size: int) -> tuple[int, int]:
    """Top-left of a size x size crop of `image` centred on `box`."""
    cx, cy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2
    h, w = image.shape[:2]
    return int(np.clip(cx - size // 2, 0, w - size)), int(np.clip(cy - size // 2, 0, h - size))


def composited(scene, renderer: str, seed: int, n: int = 60):
    """(image, boxes, crop origin 100 %, crop origin 400 %) for one renderer on a real scene."""
    image, placed = composite_scene(scene, [renderer], n, seed)
    boxes = placed.boxes
    if not boxes:
        return image, [], (0, 0), (0, 0)
    # 100 %: the crop holding most piles; 400 %: among the larger half of the piles, the one
    # that changed its pixels most (the largest is often half under a tree crown)
    centres = np.array([((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in boxes])
    best = max(range(len(boxes)), key=lambda k: int((np.abs(centres - centres[k]).max(axis=1) < CROP / 2).sum()))
    change = np.abs(image.astype(np.float32) - scene.rgb).max(axis=2)
    area = np.array([(b[2] - b[0]) * (b[3] - b[1]) for b in boxes])
    larger = [b for b, a in zip(boxes, area) if a >= np.median(area)]
    big = max(larger, key=lambda b: change[b[1]:b[3], b[0]:b[2]].mean())
    return image, boxes, around(image, boxes[best], CROP), around(image, big, ZOOM_CROP)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent
    ap.add_argument("--realdata", type=Path, default=here.parents[1] / "shared" / "realdata")
    ap.add_argument("--out", type=Path, default=here / "contact_sheet.png")
    args = ap.parse_args()
    R = args.realdata
    jp = R / "xview2deploy_joplin"
    tk = R / "planet_turkey_eq2023"
    joplin_post = jp / "post_tile_32524-5137.tif"
    antakya_post = tk / "mimar_sinan_antakya_hatay_turkey_20230212_ssc16_rgb_flat_50cm_2880px_logo_wm_post.jpg"
    antakya_pre = tk / "mimar_sinan_antakya_hatay_turkey_20220807_ssc10_rgb_flat_50cm_2880px_logo_wm_pre.jpg"
    antakya_json = tk / "mimar_sinan_antakya_hatay_turkey_20220807_ssc10_rgb_flat_50cm_2880px_geo_result.json"
    joplin_pre = jp / "pre_tile_337-10160.tif"

    rows = [[], [], [], []]
    rows[0].append(panel(read_crop(joplin_post, 330, 330, CROP), "REAL Joplin post-tornado 100%"))
    rows[0].append(panel(read_crop(antakya_post, 1250, 650, CROP), "REAL Antakya post-quake 100%"))
    rows[2].append(panel(read_crop(joplin_post, 430, 410, ZOOM_CROP), "REAL Joplin debris 400%", 4))
    # a building the chooch-ai change list marks as gone (only_A), centred
    rows[2].append(panel(read_crop(antakya_post, 2459, 1159, ZOOM_CROP), "REAL Antakya rubble 400%", 4))
    scenes = [
        load_scene(joplin_pre, footprints=footprints_from_vector(jp / "joplin.geojson", joplin_pre), name="Joplin pre"),
        load_scene(antakya_pre, source_gsd=0.5, footprints=footprints_from_chooch(antakya_json), name="Antakya pre"),
    ]
    for k, name in enumerate(RENDERERS):
        scene = scenes[k % 2]
        image, boxes, (x, y), (zx, zy) = composited(scene, name, 40 + k)
        row = 0 if len(rows[0]) < 4 else 1
        rows[row].append(panel(image[y:y + CROP, x:x + CROP], f"{name} on {scene.name} 100%", 1, boxes, (x, y)))
        row = 2 if len(rows[2]) < 4 else 3
        rows[row].append(panel(image[zy:zy + ZOOM_CROP, zx:zx + ZOOM_CROP], f"{name} 400%", 4))
    with tempfile.TemporaryDirectory() as tmp:
        r = generate_city(Path(tmp) / "city.tif", size=512, gsd=0.5, seed=2, pile_density=2.5, progress=False)
        txt = r.raster.with_name(r.raster.stem + ".labels.txt")
        boxes = [tuple(map(int, line.split()[1:])) for line in txt.read_text().splitlines()]
        city = read_crop(r.raster, 0, 0, 512)
        x, y = around(city, max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])), CROP) if boxes else (0, 0)
        rows[1].append(panel(city[y:y + CROP, x:x + CROP], "synthetic city (mound) 100%", 1, boxes, (x, y)))
    from debrismap.synth.realchips import Placed, composite, crop

    scene = scenes[0]
    rng = np.random.default_rng(5)
    image = crop(scene, 300, 300, CROP)
    names = ["skip", "carpark", "market_stalls", "material_stack", "sand_heap", "tarp", "shrub", "garden_clutter"]
    negs = [(n, 60 + i, 300 + 28 + (i % 4) * 56, 300 + 40 + (i // 4) * 110) for i, n in enumerate(names)]
    placed: Placed = composite(scene, image, (300, 300), [], negs, rng)
    neg = np.clip(np.round(np.asarray(image)), 0, 255).astype(np.uint8)
    rows[1].append(panel(neg, f"hard negatives ({len(placed.negatives)}), no boxes"))
    rows[3].append(panel(neg[12:12 + ZOOM_CROP, 0:ZOOM_CROP], "skip (a negative) 400%", 4))
    rows[3].append(panel(read_crop(joplin_pre, 300, 300, ZOOM_CROP), "REAL Joplin pre 400%", 4))

    rows = [r for r in rows if r]
    gap = 4
    width = max(sum(p.width for p in r) + gap * (len(r) - 1) for r in rows)
    height = sum(max(p.height for p in r) for r in rows) + gap * (len(rows) - 1)
    sheet = Image.new("RGB", (width, height), (40, 40, 40))
    y = 0
    for r in rows:
        x = 0
        for p in r:
            sheet.paste(p, (x, y))
            x += p.width + gap
        y += max(p.height for p in r) + gap
    sheet.save(args.out, optimize=True)
    print(f"{args.out}: {sheet.width}x{sheet.height}, {args.out.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
