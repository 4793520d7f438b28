"""Resume state of a run folder: the run's fingerprint and one result shard per finished batch.

Layout under `<run>/.state/`:
  fingerprint.json          what this run is (inputs, model, settings); resume refuses any other
  shards/b000042.npz        everything batch 42 produced (detections + coverage of its tiles)

A shard is written to a temp file and renamed into place, so it either exists whole or not at
all: the set of shard files *is* the journal of completed batches. Batches are fixed by the
plan (tile order + batch size, both in the fingerprint), so a resumed run redoes exactly the
missing batches with exactly the same tiles, and the final files built from the shards equal
those of an unbroken run.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np

from debrismap.atomic import write_bytes, write_json
from debrismap.errors import OutputError

STATE_DIR = ".state"


class RunState:
    def __init__(self, run_dir: str | Path):
        self.run_dir = Path(run_dir)
        self.dir = self.run_dir / STATE_DIR
        self.shard_dir = self.dir / "shards"
        self.fingerprint_path = self.dir / "fingerprint.json"

    def exists(self) -> bool:
        return self.fingerprint_path.is_file()

    def read_fingerprint(self) -> dict | None:
        try:
            return json.loads(self.fingerprint_path.read_text())
        except (OSError, ValueError):
            return None

    def start(self, fingerprint: dict) -> None:
        try:
            self.shard_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create resume state ({exc.strerror})", path=self.dir) from exc
        write_json(self.fingerprint_path, fingerprint, default=str)

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def shard_path(self, batch_id: int) -> Path:
        return self.shard_dir / f"b{batch_id:06d}.npz"

    def done_batches(self) -> set[int]:
        if not self.shard_dir.is_dir():
            return set()
        done = set()
        for path in self.shard_dir.glob("b*.npz"):
            try:
                done.add(int(path.stem[1:]))
            except ValueError:
                continue
        return done

    def write_shard(self, batch_id: int, arrays: dict[str, np.ndarray]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        write_bytes(self.shard_path(batch_id), buffer.getvalue())

    def read_shard(self, batch_id: int) -> dict[str, np.ndarray]:
        with np.load(self.shard_path(batch_id), allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
