"""One detect run cut into parts that separate processes (Dask workers) can run: plan, bands, finish.

    plan    open and plan the rasters, write the resume state (fingerprint + the tile plan) and a
            "running" run.json; run no tile. Tells the caller how many batches the run has.
    band    run batches [start, stop) of that plan (a band of tile rows: the plan is row-major)
            into shards, skipping shards already written; write nothing else.
    finish  every shard present: build the final files and the "complete" run.json.

The shards a band writes are byte-for-byte the shards an unbroken `detect` writes for those
batches (same plan, same fixed batches, keep-by-core inside each), and finish merges them with
the same cross-tile NMS, so the detections equal plain `detect`'s exactly. A band that dies and
runs again elsewhere only redoes its missing shards: shards are renamed into place whole, so a
batch is either done once or not at all.

Parts never take the run folder's lock: the caller (`debrismap batch`) holds it for the whole
run, from before plan until after finish, so detect's one-writer rule holds per folder.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from debrismap.atomic import write_bytes
from debrismap.detect.state import RunState
from debrismap.errors import DatasetError

STAGES = ("plan", "band", "finish")
PLAN_NAME = "plan.npz"


@dataclass
class RunPart:
    stage: str
    batches: tuple[int, int] | None = None  # band only: [start, stop) batch ids
    session: object | None = None  # a SessionPool the caller keeps (one per model per worker)
    on_tiles: Callable[[int], None] | None = None  # called with the tile count of each shard written

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"unknown run part {self.stage!r}")
        if (self.stage == "band") != (self.batches is not None):
            raise ValueError("a band needs its batch range, and only a band has one")


def save_plan(state: RunState, plan: np.ndarray, tiles_total: int) -> None:
    """The tile plan, so bands need not re-plan a huge mosaic (one mask read per tile) each."""

    buffer = io.BytesIO()
    np.savez(buffer, plan=plan, tiles_total=np.int64(tiles_total))
    write_bytes(state.dir / PLAN_NAME, buffer.getvalue())


def load_plan(state: RunState) -> tuple[np.ndarray, int]:
    path = state.dir / PLAN_NAME
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["plan"], int(data["tiles_total"])
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError("the run's tile plan is missing or damaged; run the batch again", path=path) from exc


def check_band_state(state: RunState, fingerprint: dict) -> None:
    """A band or finish runs only inside the run its plan part started (same fingerprint)."""
    if state.read_fingerprint() != fingerprint:
        raise DatasetError("holds no planned run with these inputs and settings (plan it first)", path=state.run_dir)


def missing_batches(state: RunState, n_batches: int) -> list[int]:
    done = state.done_batches()
    return [b for b in range(n_batches) if b not in done]
