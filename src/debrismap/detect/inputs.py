"""Expand the raster arguments of `detect` (files, folders, VRT mosaics) into an ordered list."""

from __future__ import annotations

from pathlib import Path

from debrismap.errors import RasterError

RASTER_SUFFIXES = {".tif", ".tiff", ".vrt", ".jp2", ".img", ".ntf", ".png", ".jpg", ".jpeg"}


def expand_inputs(args: list[str | Path]) -> list[Path]:
    """Files as given; a folder contributes every raster inside it (sorted, not recursive)."""
    out: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in RASTER_SUFFIXES)
            if not found:
                raise RasterError(f"folder holds no rasters ({', '.join(sorted(RASTER_SUFFIXES))})", path=path)
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise RasterError("file not found", path=path)
    seen: set[Path] = set()
    unique = []
    for path in out:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    if not unique:
        raise RasterError("no input rasters given")
    return unique
