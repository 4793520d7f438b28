"""Aggregate detections into what an article prints: grid counts, density maps, change, report.

Public API (imports are lazy so `import debrismap.aggregate` stays cheap):
`run_heatmap(run_dir, ...) -> HeatmapOutputs`, `run_compare(before, after, out_dir, ...) ->
CompareOutputs`, `write_report(run_dir, out_path, ...) -> Path`.
"""

from __future__ import annotations

__all__ = [
    "CompareOutputs",
    "HeatmapOutputs",
    "analyse_run",
    "run_compare",
    "run_heatmap",
    "write_report",
]

_LOCATIONS = {
    "run_heatmap": "debrismap.aggregate.heatmap",
    "HeatmapOutputs": "debrismap.aggregate.heatmap",
    "analyse_run": "debrismap.aggregate.heatmap",
    "run_compare": "debrismap.aggregate.compare",
    "CompareOutputs": "debrismap.aggregate.compare",
    "write_report": "debrismap.aggregate.report",
}


def __getattr__(name: str):
    if name in _LOCATIONS:
        import importlib

        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module 'debrismap.aggregate' has no attribute {name!r}")
