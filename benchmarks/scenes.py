"""Benchmark scenes: real imagery in ../shared/realdata, georeferenced where needed, and VRT mosaics.

Nothing is copied into the repository. Files that need a georeference (the Planet JPEGs of the
2023 Türkiye earthquake) get a small VRT in the benchmark cache that points at the original JPEG
and carries the EPSG:4326 affine fitted in realdata/README.md; mosaics are VRTs as well
(gdalbuildvrt is not needed: the XML is written here).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import _common

JOPLIN = _common.REALDATA / "xview2deploy_joplin"
TURKEY = _common.REALDATA / "planet_turkey_eq2023"

# (lon = a*x + b*y + c ; lat = d*x + e*y + f), from realdata/README.md (fits to the *_geo_result.json boxes).
TURKEY_AFFINES = {
    "mimar_sinan": (5.555e-6, 1.63e-7, 36.147122, 1.32e-7, -4.502e-6, 36.210987),
    "ekinci": (5.557e-6, 1.64e-7, 36.143841, 1.33e-7, -4.502e-6, 36.231321),
    "adiyaman": (5.675e-6, 4.7e-8, 38.214014, 3.7e-8, -4.506e-6, 37.751514),
    "turkoglu": (5.644e-6, 1.29e-7, 36.843823, 1.03e-7, -4.504e-6, 37.385088),
}
TURKEY_PREFIX = {"mimar_sinan": "mimar_sinan", "ekinci": "ekinci", "adiyaman": "detail_1_", "turkoglu": "earthquake_turkoglu"}


@dataclass
class Site:
    """A place imaged before and after a disaster: lists of rasters for each date."""

    name: str
    event: str
    pre: list[Path]
    post: list[Path]
    note: str = ""


TRAINING_RECIPE = _common.REPO / "training" / "build_default_dataset.py"


def training_recipe() -> dict:
    """TRAIN_BACKGROUNDS and HELD_OUT of the default model's dataset recipe (paths in realdata).

    Read from training/build_default_dataset.py without running it (its lists are literals).
    """
    import ast

    if not TRAINING_RECIPE.exists():
        return {"train": [], "held_out": [], "recipe": None}
    tree = ast.parse(TRAINING_RECIPE.read_text())
    found = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and target.id in ("TRAIN_BACKGROUNDS", "HELD_OUT"):
            found[target.id] = ast.literal_eval(node.value)
    train = [item[0] if isinstance(item, (tuple, list)) else item for item in found.get("TRAIN_BACKGROUNDS", [])]
    return {"train": train, "held_out": list(found.get("HELD_OUT", [])), "recipe": str(TRAINING_RECIPE)}


def used_in_training(path: Path) -> bool:
    """Whether the original file behind `path` (a realdata file or our VRT over one) is a training background."""
    names = {Path(p).name for p in training_recipe()["train"]}
    return Path(path).name in names or original_of(path).name in names


def original_of(path: Path) -> Path:
    """The realdata file a georeferencing VRT of ours points at (else the path itself)."""
    path = Path(path)
    if path.suffix == ".vrt" and path.parent.name == "georef":
        site, when = path.stem.rsplit("_", 1)
        return turkey_jpeg(site, when)
    return path


def turkey_jpeg(site: str, when: str) -> Path:
    matches = sorted(p for p in TURKEY.glob(f"{TURKEY_PREFIX[site]}*_{when}.jpg"))
    if len(matches) != 1:
        raise SystemExit(f"{TURKEY}: expected one {site} {when} JPEG, found {len(matches)}")
    return matches[0]


def georeferenced_turkey(site: str, when: str) -> Path:
    """A VRT over the original JPEG with the fitted EPSG:4326 affine (in the benchmark cache)."""
    import rasterio

    jpeg = turkey_jpeg(site, when)
    with rasterio.open(jpeg) as src:
        width, height, count = src.width, src.height, src.count
    a, b, c, d, e, f = TURKEY_AFFINES[site]
    out = _common.CACHE / "georef" / f"{site}_{when}.vrt"
    write_vrt(out, width, height, count, "EPSG:4326", (c, a, b, f, d, e), [(jpeg, 0, 0, width, height)])
    return out


def write_vrt(
    path: Path,
    width: int,
    height: int,
    count: int,
    crs: str | None,
    geotransform: tuple[float, ...],
    sources: list[tuple[Path, int, int, int, int]],
    dtype: str = "Byte",
) -> Path:
    """VRT XML: each source (file, x_off, y_off, w, h) placed whole at that pixel offset."""
    from pyproj import CRS

    path.parent.mkdir(parents=True, exist_ok=True)
    srs = f"  <SRS>{escape(CRS.from_user_input(crs).to_wkt())}</SRS>\n" if crs else ""
    gt = ", ".join(repr(float(v)) for v in geotransform)
    bands = []
    for band in range(1, count + 1):
        colour = {1: "Red", 2: "Green", 3: "Blue"}.get(band, "Undefined") if count >= 3 else "Gray"
        items = "".join(
            f"    <SimpleSource><SourceFilename relativeToVRT=\"0\">{escape(str(Path(src).resolve()))}</SourceFilename>"
            f"<SourceBand>{band}</SourceBand><SrcRect xOff=\"0\" yOff=\"0\" xSize=\"{w}\" ySize=\"{h}\"/>"
            f"<DstRect xOff=\"{x}\" yOff=\"{y}\" xSize=\"{w}\" ySize=\"{h}\"/></SimpleSource>\n"
            for src, x, y, w, h in sources
        )
        bands.append(
            f"  <VRTRasterBand dataType=\"{dtype}\" band=\"{band}\">\n"
            f"    <ColorInterp>{colour}</ColorInterp>\n{items}  </VRTRasterBand>\n"
        )
    path.write_text(
        f"<VRTDataset rasterXSize=\"{width}\" rasterYSize=\"{height}\">\n{srs}"
        f"  <GeoTransform>{gt}</GeoTransform>\n{''.join(bands)}</VRTDataset>\n"
    )
    return path


def repeated_mosaic(tile: Path, target_mpx: float, out: Path) -> tuple[Path, int, int]:
    """A VRT repeating `tile` on an n x n grid so that it holds at least `target_mpx` megapixels."""
    import math

    import rasterio

    with rasterio.open(tile) as src:
        w, h, count, t, crs = src.width, src.height, src.count, src.transform, src.crs
        dtype = {"uint8": "Byte", "uint16": "UInt16"}[src.dtypes[0]]
    n = max(1, math.ceil(math.sqrt(target_mpx * 1e6 / (w * h))))
    sources = [(tile, i * w, j * h, w, h) for j in range(n) for i in range(n)]
    write_vrt(out, n * w, n * h, count, crs.to_wkt() if crs else None, (t.c, t.a, t.b, t.f, t.d, t.e), sources, dtype)
    return out, n * w, n * h


def sites() -> list[Site]:
    """The real pre/post pairs. Joplin's pre tiles overlap part of the post mosaic only."""
    out = [
        Site(
            "Joplin, MO (tornado 2011-05-22)", "tornado",
            pre=sorted(JOPLIN.glob("pre_tile_*.tif")), post=sorted(JOPLIN.glob("post_tile_*.tif")),
            note="pre: 2 tiles EPSG:26915 0.6 m (NAIP-like); post: 6 tiles EPSG:4326 ~0.53x0.67 m (NOAA ERI-like)",
        )
    ]
    for site, label in (("mimar_sinan", "Antakya Mimar Sinan"), ("ekinci", "Antakya Ekinci"),
                        ("adiyaman", "Adiyaman Merkez"), ("turkoglu", "Turkoglu")):
        out.append(Site(
            f"{label} (earthquake 2023-02-06)", "earthquake",
            pre=[georeferenced_turkey(site, "pre")], post=[georeferenced_turkey(site, "post")],
            note="Planet SkySat 0.5 m JPEG, watermarked; georeferenced by the affine fit in realdata/README.md",
        ))
    return out
