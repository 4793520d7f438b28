"""The output folder's life: create it, decide what to do with what it already holds, tidy up.

A folder may hold nothing, an interrupted run of the same inputs and settings (continue with
--resume), a finished run, or a different run (refused unless --force). The fingerprint in
.state/ tells them apart; see state.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from debrismap.detect.state import RunState
from debrismap.detect.writers import OUTPUT_NAMES, RUN_JSON
from debrismap.errors import OutputError


def prepare_out_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder ({exc.strerror or exc})", path=out) from exc
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError("output folder is not writable", path=out)


def check_existing(out: Path, state: RunState, fingerprint: dict, *, force: bool, resume: bool) -> bool:
    """Decide what to do with what the folder already holds. Returns True when resuming."""
    old = state.read_fingerprint()
    has_outputs = any((out / name).exists() for name in OUTPUT_NAMES)
    if force:
        state.clear()
        for name in OUTPUT_NAMES:
            (out / name).unlink(missing_ok=True)
        return False
    if old is None:
        if has_outputs:
            raise OutputError(
                "already holds debrismap outputs of another run; use --force to replace them or choose another --out",
                path=out,
            )
        state.clear()  # a .state without a fingerprint never got past its first write
        return False
    if old != fingerprint:
        differing = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
        action = "--resume refused" if resume else "refused"
        raise OutputError(
            f"holds a different run (differs in: {', '.join(differing)}); {action} — "
            "use --force to replace it or choose another --out",
            path=out,
        )
    if resume:
        return True
    status = read_status(out)
    if status == "complete":
        raise OutputError("already holds this run, complete; use --force to run it again", path=out)
    raise OutputError(
        "holds an interrupted run of the same inputs and settings; continue it with --resume or start over with --force",
        path=out,
    )


def remove_stale_temp_files(out: Path, state: RunState) -> None:
    """Temp files a killed run left behind (never under a final name, so never mistaken for results)."""
    stale = [p for name in OUTPUT_NAMES for p in out.glob(f".{name}.tmp*")]
    if state.shard_dir.is_dir():
        stale += list(state.shard_dir.glob(".*.tmp*"))
    for path in stale:
        path.unlink(missing_ok=True)


def read_status(out: Path) -> str | None:
    try:
        return json.loads((out / RUN_JSON).read_text()).get("status")
    except (OSError, ValueError):
        return None
