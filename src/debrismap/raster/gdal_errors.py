"""GDAL's failures as one-line messages: which exceptions it raises through rasterio, and
the most specific line of an exception chain."""

from __future__ import annotations

import rasterio
from rasterio._err import CPLE_BaseError


def gdal_errors() -> tuple[type[BaseException], ...]:
    """The exception types GDAL raises through rasterio (to catch them, and nothing else)."""
    return (rasterio.errors.RasterioError, CPLE_BaseError, OSError)


def one_line(exc: BaseException) -> str:
    """The most specific message in an exception chain, on one line.

    rasterio often raises "Read failed. See previous exception for details." with the
    real GDAL message in the chained exception: show that one instead.
    """
    messages = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = " ".join(str(exc).split())
        if text:
            messages.append(text)
        exc = exc.__cause__ or exc.__context__
    specific = [m for m in messages if "see previous exception" not in m.lower()]
    return (specific or messages or ["unknown GDAL error"])[0]
