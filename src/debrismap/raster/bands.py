"""Which three bands become R, G, B: from the user's `--bands`, else colour interpretation.

Rules, in order: explicit bands win (1 band is replicated to grey RGB); red/green/blue
colour interpretation anywhere in the file (so BGRN files come out as RGB); otherwise,
ignoring alpha bands, 1 band (panchromatic) is replicated, 3 bands are taken in order,
and 4 bands are assumed to be R, G, B, NIR (NAIP, most VHR 4-band products). Anything
else is ambiguous and refused with a message that asks for --bands.
"""

from __future__ import annotations

from collections.abc import Sequence

from rasterio.enums import ColorInterp

from debrismap.errors import ConfigError, RasterError


def parse_bands(text: str | None) -> tuple[int, ...] | None:
    """Parse the CLI's "--bands 1,2,3" (or "4,3,2", or "1") into 1-based band indexes."""
    if text is None or str(text).strip() == "":
        return None
    try:
        bands = tuple(int(part) for part in str(text).replace(" ", "").split(","))
    except ValueError as exc:
        raise ConfigError(
            f"--bands must be comma-separated band numbers like 1,2,3, got {text!r}"
        ) from exc
    if any(b < 1 for b in bands):
        raise ConfigError(f"--bands numbers start at 1, got {text!r}")
    return bands


def choose_bands(
    colorinterp: Sequence[ColorInterp],
    bands: Sequence[int] | None,
    path: str | None = None,
) -> tuple[int, int, int]:
    """1-based (R, G, B) band indexes for a raster with the given colour interpretation."""
    count = len(colorinterp)
    if bands is not None:
        bands = tuple(int(b) for b in bands)
        if len(bands) == 1:
            bands = bands * 3
        if len(bands) != 3:
            raise RasterError(f"--bands needs 1 or 3 band numbers, got {len(bands)}", path)
        bad = [b for b in bands if not 1 <= b <= count]
        if bad:
            raise RasterError(f"band {bad[0]} does not exist: the raster has {count} band(s)", path)
        return bands  # type: ignore[return-value]

    position = {ci: i + 1 for i, ci in reversed(list(enumerate(colorinterp)))}
    if all(c in position for c in (ColorInterp.red, ColorInterp.green, ColorInterp.blue)):
        return (position[ColorInterp.red], position[ColorInterp.green], position[ColorInterp.blue])

    data_bands = [i + 1 for i, ci in enumerate(colorinterp) if ci != ColorInterp.alpha]
    if len(data_bands) == 1:
        b = data_bands[0]
        return (b, b, b)
    if len(data_bands) in (3, 4):
        return (data_bands[0], data_bands[1], data_bands[2])
    names = ",".join(ci.name for ci in colorinterp)
    raise RasterError(
        f"cannot tell which of its {count} bands ({names}) are red, green and blue; "
        "pass --bands R,G,B (1-based band numbers)",
        path,
    )
