"""Follow debris piles over many acquisitions of one place and date each one (`debrismap timeline`).

Public API: `run_timeline(runs, out_dir, ...) -> TimelineOutputs` (debrismap.timeline.outputs).
Modules: series (find and load dated runs), dates (each run's acquisition date), coregister
(offsets between acquisitions), quality (hazy or coarser images), track (piles across dates),
tables (per pile, per date, per cell), figures, outputs (writes everything), report_section
(the HTML part of `debrismap report`), synth_series (synthetic series for tests and benchmarks).
"""

from __future__ import annotations

__all__ = ["TimelineOutputs", "run_timeline"]


def __getattr__(name: str):
    if name in __all__:
        from debrismap.timeline import outputs

        return getattr(outputs, name)
    raise AttributeError(f"module 'debrismap.timeline' has no attribute {name!r}")
