"""One progress display for the whole batch: tiles done of total across all workers, tiles/s, time left.

Workers report each finished model batch (see tasks.PROGRESS_TOPIC); the total grows as
acquisitions are planned. On a terminal a tqdm bar; otherwise a plain line every `interval`
seconds (logs and CI keep them readable).
"""

from __future__ import annotations

import sys
import threading
import time


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class BatchProgress:
    def __init__(self, enabled: bool = True, stream=None, interval: float = 10.0):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.interval = interval
        self.total = self.done = self.done_before = 0  # done_before: finished by an earlier, resumed batch
        self.runs_done = self.runs_total = 0
        self.lock = threading.Lock()
        self.started = self.last_line = time.monotonic()
        self.bar = None
        if enabled and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(total=0, unit="tile", desc="batch", file=self.stream, dynamic_ncols=True, smoothing=0.1)

    def add_run(self, tiles: int, tiles_done: int) -> None:
        """An acquisition was planned: `tiles` in all, `tiles_done` of them by an earlier run."""
        with self.lock:
            self.total += tiles
            self.done += tiles_done
            self.done_before += tiles_done
            if self.bar is not None:
                self.bar.total = self.total
                self.bar.update(tiles_done)
            self._maybe_line()

    def advance(self, tiles: int) -> None:
        with self.lock:
            self.done += tiles
            if self.bar is not None:
                self.bar.update(tiles)
            self._maybe_line()

    def run_finished(self, text: str) -> None:
        """One line per finished (or failed) acquisition, printed above the bar."""
        with self.lock:
            self.runs_done += 1
            if not self.enabled:
                return
            if self.bar is not None:
                self.bar.write(text, file=self.stream)
            else:
                print(text, file=self.stream, flush=True)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = (self.done - self.done_before) / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else None
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        return (f"batch: {self.done}/{self.total} tiles{share}, {rate:.1f} tiles/s, "
                f"{_clock(left) if left is not None else '?'} left, "
                f"{self.runs_done}/{self.runs_total} acquisitions finished")

    def _maybe_line(self) -> None:
        if self.bar is None and self.enabled and time.monotonic() - self.last_line >= self.interval:
            self.last_line = time.monotonic()
            print(self.line(), file=self.stream, flush=True)

    def close(self) -> None:
        with self.lock:
            if self.bar is not None:
                self.bar.close()
            elif self.enabled:
                print(self.line(), file=self.stream, flush=True)
