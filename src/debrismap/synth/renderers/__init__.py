"""Independent debris-pile renderers behind one interface (see base.PileRenderer).

    from debrismap.synth.renderers import RENDERERS, Light
    sprite = RENDERERS["rubble"].render(seed=1, gsd=0.5, light=Light(135, 40), size_m=8)

mound: the original vector heap (synth.piles); scatter: loose household items with gaps;
rubble: a hill-shaded fractal height field of broken concrete and brick; splinter: storm
debris, line strokes of timber and siding over a dark churned stain. Hard negatives at
the same scale are in `negatives`.
"""

from debrismap.synth.renderers.base import BODY_ALPHA, Light, PileRenderer, Sprite
from debrismap.synth.renderers.mound import MoundRenderer
from debrismap.synth.renderers.rubble import RubbleRenderer
from debrismap.synth.renderers.scatter import ScatterRenderer
from debrismap.synth.renderers.splinter import SplinterRenderer

RENDERERS: dict[str, PileRenderer] = {
    r.name: r for r in (MoundRenderer(), ScatterRenderer(), RubbleRenderer(), SplinterRenderer())
}

__all__ = ["BODY_ALPHA", "RENDERERS", "Light", "PileRenderer", "Sprite"]
