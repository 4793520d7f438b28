"""Mosaic several rasters of one acquisition (quadkey tiles) into one GDAL VRT file.

One VRT lets detect treat the acquisition as one raster: a pile on the border between two
quadkey tiles is seen whole by one tile of detect's grid, instead of cut in two. The VRT
takes the finest pixel size of its sources and their union's extent; GDAL resamples a coarser
source on the fly (nearest). Written only when its content changes, so a resumed batch sees
the same file (its header hash is part of the run's fingerprint).
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

import rasterio

from debrismap.atomic import write_bytes
from debrismap.errors import RasterError

_DTYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32", "int32": "Int32",
           "float32": "Float32", "float64": "Float64"}


def _describe(path: str) -> dict:
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None or ds.transform.b or ds.transform.d:
                raise RasterError("a tile to mosaic needs a north-up georeferenced grid", path=path)
            return {"path": path, "crs": ds.crs, "transform": ds.transform, "width": ds.width, "height": ds.height,
                    "count": ds.count, "dtype": ds.dtypes[0], "nodata": ds.nodata,
                    "colorinterp": [ci.name for ci in ds.colorinterp]}
    except rasterio.errors.RasterioError as exc:
        raise RasterError(f"cannot be read ({exc})", path=path) from exc


def _rects(tile: dict, left: float, top: float, res_x: float, res_y: float, indent: str) -> list[str]:
    """Where a tile's pixels land on the mosaic's grid."""
    t = tile["transform"]
    x_off, y_off = (t.c - left) / res_x, (top - t.f) / res_y
    x_size, y_size = tile["width"] * t.a / res_x, tile["height"] * -t.e / res_y
    return [f'{indent}<SrcRect xOff="0" yOff="0" xSize="{tile["width"]}" ySize="{tile["height"]}"/>',
            f'{indent}<DstRect xOff="{x_off:.10g}" yOff="{y_off:.10g}" xSize="{x_size:.10g}" ySize="{y_size:.10g}"/>']


def write_mosaic_vrt(sources: list[str], out: Path) -> Path:
    """Write `out` (a .vrt) mosaicking `sources` (same CRS and bands); RasterError when they cannot share one."""
    tiles = [_describe(s) for s in sources]
    first = tiles[0]
    for tile in tiles[1:]:
        if tile["crs"] != first["crs"]:
            raise RasterError(f"is in {tile['crs']} while {Path(first['path']).name} is in {first['crs']}; "
                              "tiles of one mosaic must share a CRS", path=tile["path"])
        if (tile["count"], tile["dtype"]) != (first["count"], first["dtype"]):
            raise RasterError(f"has {tile['count']} {tile['dtype']} bands, {Path(first['path']).name} "
                              f"{first['count']} {first['dtype']}: tiles of one mosaic must match", path=tile["path"])
    res_x = min(t["transform"].a for t in tiles)
    res_y = min(-t["transform"].e for t in tiles)
    left = min(t["transform"].c for t in tiles)
    top = max(t["transform"].f for t in tiles)
    right = max(t["transform"].c + t["width"] * t["transform"].a for t in tiles)
    bottom = min(t["transform"].f + t["height"] * t["transform"].e for t in tiles)
    width, height = math.ceil((right - left) / res_x - 1e-6), math.ceil((top - bottom) / res_y - 1e-6)
    dtype = _DTYPES.get(first["dtype"])
    if dtype is None:
        raise RasterError(f"has {first['dtype']} pixels, which a mosaic cannot hold", path=first["path"])
    nodata = first["nodata"]
    lines = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">',
             f"  <SRS>{escape(first['crs'].to_wkt())}</SRS>",
             f"  <GeoTransform>{left!r}, {res_x!r}, 0.0, {top!r}, 0.0, {-res_y!r}</GeoTransform>"]
    for band in range(1, first["count"] + 1):
        lines.append(f'  <VRTRasterBand dataType="{dtype}" band="{band}">')
        if nodata is not None:
            lines.append(f"    <NoDataValue>{nodata!r}</NoDataValue>")
        colour = first["colorinterp"][band - 1]
        if colour not in ("undefined", "gray") or first["count"] == 1:
            lines.append(f"    <ColorInterp>{colour.capitalize()}</ColorInterp>")
        for tile in tiles:
            lines += [
                "    <ComplexSource>" if nodata is not None else "    <SimpleSource>",
                f'      <SourceFilename relativeToVRT="0">{escape(tile["path"])}</SourceFilename>',
                f"      <SourceBand>{band}</SourceBand>",
                *_rects(tile, left, top, res_x, res_y, "      "),
            ]
            if nodata is not None:
                lines.append(f"      <NODATA>{nodata!r}</NODATA>")
            lines.append("    </ComplexSource>" if nodata is not None else "    </SimpleSource>")
        lines.append("  </VRTRasterBand>")
    if nodata is None:
        # Without a nodata value the area no tile covers would read as valid black pixels; a
        # dataset mask built from each tile's own mask (nodata, alpha, internal mask) marks it.
        lines += ["  <MaskBand>", '    <VRTRasterBand dataType="Byte">']
        for tile in tiles:
            lines += ["      <SimpleSource>",
                      f'        <SourceFilename relativeToVRT="0">{escape(tile["path"])}</SourceFilename>',
                      "        <SourceBand>mask,1</SourceBand>", *_rects(tile, left, top, res_x, res_y, "        "),
                      "      </SimpleSource>"]
        lines += ["    </VRTRasterBand>", "  </MaskBand>"]
    lines.append("</VRTDataset>")
    text = ("\n".join(lines) + "\n").encode()
    if not (out.is_file() and out.read_bytes() == text):
        write_bytes(out, text)
    return out
