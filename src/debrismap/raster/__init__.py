"""Raster core: windowed reading, tile grid, radiometry, resampling, pixel <-> world.

Everything that touches imagery pixels goes through here (no torch):

    from debrismap.raster import open_raster, TileGrid
    with open_raster("city.tif") as src:
        view = src.at_gsd(0.5)
        for tile in TileGrid(view.width, view.height, 256, 32):
            if view.valid_fraction(tile.window) > 0:
                img = view.read(tile.window)   # TileImage: pixels (H, W, 3) uint8, valid (H, W)
"""

from debrismap.raster.bands import choose_bands, parse_bands
from debrismap.raster.dates import acquisition_date_from_name, find_acquisition_date
from debrismap.raster.geometry import pixel_to_world, world_to_pixel
from debrismap.raster.source import RasterSource, header_sha256, open_raster
from debrismap.raster.stretch import Stretch
from debrismap.raster.tiling import Tile, TileGrid
from debrismap.raster.view import RasterView, TileImage

__all__ = [
    "RasterSource",
    "RasterView",
    "Stretch",
    "Tile",
    "TileGrid",
    "TileImage",
    "acquisition_date_from_name",
    "choose_bands",
    "find_acquisition_date",
    "header_sha256",
    "open_raster",
    "parse_bands",
    "pixel_to_world",
    "world_to_pixel",
]
