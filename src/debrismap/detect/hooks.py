"""Test hooks: die with SIGKILL at a named point, to prove a killed run resumes exactly.

Set DEBRISMAP_TEST_KILL_AT to "batch:N" (after the N-th shard this process writes) or
"finalize" (after the shards, before the final files), or "batch-client:run-finished" (the
`batch` client, after recording a finished acquisition). DEBRISMAP_TEST_KILL_SIGNAL=SIGSTOP
freezes the process there instead (a live run that holds its folder's lock, for the lock tests).
Unset in normal use: zero cost.
"""

from __future__ import annotations

import os
import signal

_KILL_AT = os.environ.get("DEBRISMAP_TEST_KILL_AT", "")
_SIGNAL = getattr(signal, os.environ.get("DEBRISMAP_TEST_KILL_SIGNAL", "SIGKILL"))
_batches_written = 0


def after_batch() -> None:
    global _batches_written
    _batches_written += 1
    if _KILL_AT.startswith("batch:") and _batches_written == int(_KILL_AT.split(":", 1)[1]):
        os.kill(os.getpid(), _SIGNAL)


def at(point: str) -> None:
    if point == _KILL_AT:
        os.kill(os.getpid(), _SIGNAL)
