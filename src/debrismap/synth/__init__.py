"""Synthetic VHR city scenes with ground-truth debris piles (training data for the detector).

`generate_city` plans a whole city as vectors and renders it block by block into a tiled
GeoTIFF with label files beside it; `composite_piles` draws piles onto a real raster.
"""

from debrismap.synth.city import SynthResult, generate_city
from debrismap.synth.composite import composite_piles as _composite

__all__ = ["SynthResult", "composite_piles", "generate_city"]


def composite_piles(*args, **kwargs):
    """Composite synthetic piles onto a real raster (see debrismap.synth.composite)."""

    return _composite(*args, **kwargs)
