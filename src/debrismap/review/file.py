"""review.json: read it, and refuse (in one line) a file that does not belong to the run.

A review is accepted only if its run key is this run's and its design is exactly the one
`debrismap review` draws for this run with the file's own seed and sizes: an edited sample
(units added, dropped or swapped) would make the inclusion probabilities, and so the
estimate, wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from debrismap.aggregate.run_folder import RunFolder
from debrismap.errors import DatasetError
from debrismap.review.sample import ReviewPopulation, key_of_run, review_population

FORMAT = "debrismap-review"
DETECTION_DECISIONS = ("yes", "no", "unsure")
CELL_STATUSES = ("counted", "impossible")


@dataclass
class Review:
    """A checked review: the recomputed sample and the person's decisions on it."""

    path: Path
    population: ReviewPopulation
    detections: dict[str, str]  # sample id -> yes / no / unsure
    cells: dict[str, dict]  # sample id -> {"status": counted|impossible, "piles": [{x, y, ...}]}


def read_review_json(path: str | Path) -> dict:
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError("review file not found", path=path) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"not a readable JSON file ({exc})", path=path) from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("design"), dict):
        raise DatasetError("not a debrismap review file (export it from review.html)", path=path)
    return doc


def load_review(path: str | Path, run: RunFolder) -> Review:
    """Read review.json and check it against `run`; DatasetError (one line) if it does not fit."""
    path = Path(path)
    doc = read_review_json(path)
    design = doc["design"]
    key = key_of_run(run)
    if doc.get("run_key") != key or design.get("run_key") != key:
        raise DatasetError(
            f"review of another run (its run key {doc.get('run_key')!r}, {run.path} has {key!r}); "
            "review this run with `debrismap review`", path=path)
    try:
        pop = review_population(run, int(design["requested"]["cells"]),
                                int(design["requested"]["detections"]), int(design["seed"]),
                                float(design["cell_m"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"the sample design is incomplete ({exc!r} missing or wrong)", path=path) from exc
    if pop.design != design or doc.get("design_sha256") != pop.design_sha256:
        raise DatasetError(
            f"the sample in it is not the one `debrismap review` draws for this run (seed "
            f"{design.get('seed')}): it was edited (or drawn by another debrismap version), so its "
            "inclusion probabilities and any estimate from it would be wrong", path=path)
    decisions = doc.get("decisions") or {}
    return Review(path, pop, _detection_decisions(decisions, pop, path), _cell_decisions(decisions, pop, path))


def _detection_decisions(decisions: dict, pop: ReviewPopulation, path: Path) -> dict[str, str]:
    ids = {u["id"] for u in pop.design["detections"]["sample"]}
    out = {}
    for unit_id, value in (decisions.get("detections") or {}).items():
        if unit_id not in ids or value not in DETECTION_DECISIONS:
            raise DatasetError(f"detection decision {unit_id!r}: {value!r} is not a sampled "
                               f"detection with one of {', '.join(DETECTION_DECISIONS)}", path=path)
        out[unit_id] = value
    return out


def _cell_decisions(decisions: dict, pop: ReviewPopulation, path: Path) -> dict[str, dict]:
    ids = {u["id"] for u in pop.design["cells"]["sample"]}
    out = {}
    for unit_id, value in (decisions.get("cells") or {}).items():
        status = value.get("status") if isinstance(value, dict) else None
        piles = value.get("piles", []) if isinstance(value, dict) else None
        ok_piles = isinstance(piles, list) and all(
            isinstance(p, dict) and all(isinstance(p.get(k), (int, float)) for k in ("x", "y"))
            for p in piles)
        if unit_id not in ids or status not in CELL_STATUSES or not ok_piles:
            raise DatasetError(f"cell decision {unit_id!r} is not a sampled cell with a status "
                               f"({', '.join(CELL_STATUSES)}) and a list of piles with x, y", path=path)
        out[unit_id] = {"status": status, "piles": piles if status == "counted" else []}
    return out
