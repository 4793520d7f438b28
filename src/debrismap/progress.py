"""Progress for long work: a live bar on a terminal, plain periodic lines in a log.

A bar redraws itself with carriage returns; written to a log file (a cluster job, `nohup`,
a CI log) those become one endless line — a 10 000-tile run once left 600 kB of it. Without
a terminal we print one ordinary line every few seconds instead: done / total, rate and time
left, which `grep` and `tail -f` read as well as a person does.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

# Seconds between two plain lines; the first comes after this, the last at close().
PLAIN_INTERVAL_S = 10.0
# A program that drives debrismap and shows its own progress bar (the QGIS plugin) asks for
# lines more often with this variable (seconds; 0 = a line at every update).
INTERVAL_ENV = "DEBRISMAP_PROGRESS_INTERVAL"


def progress_bar(total: int, desc: str, unit: str, initial: int = 0, enabled: bool = True,
                 stream: TextIO | None = None, interval_s: float | None = None):
    """A tqdm bar when `stream` (stderr by default) is a terminal, else a `PlainProgress`.

    Both have `update(n)` and `close()` and work as context managers; disabled ones are silent.
    """
    stream = stream or sys.stderr
    if enabled and _is_terminal(stream):
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit=unit, desc=desc, file=stream,
                    dynamic_ncols=True, smoothing=0.1)
    return PlainProgress(total, desc, unit, initial=initial, enabled=enabled, stream=stream,
                         interval_s=plain_interval() if interval_s is None else interval_s)


def plain_interval() -> float:
    """Seconds between plain progress lines: $DEBRISMAP_PROGRESS_INTERVAL, else 10."""
    text = os.environ.get(INTERVAL_ENV, "").strip()
    try:
        return max(0.0, float(text)) if text else PLAIN_INTERVAL_S
    except ValueError:
        return PLAIN_INTERVAL_S


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


class PlainProgress:
    """`desc: 120/4000 tiles (3%), 45.2 tiles/s, 1m26s left` every `interval_s` seconds.

    Work that ends within the first interval prints nothing: a log keeps its warnings and
    results readable, and a short step needs no progress report.
    """

    def __init__(self, total: int, desc: str, unit: str, initial: int = 0, enabled: bool = True,
                 stream: TextIO | None = None, interval_s: float = PLAIN_INTERVAL_S,
                 clock=time.monotonic):
        self.total, self.desc, self.unit = int(total), desc, unit
        self.n = self._start_n = int(initial)
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.interval_s = interval_s
        self._clock = clock
        self._start = self._last = clock()
        self._closed = False
        self._lines = 0
        self._printed_n = None

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self._clock()
        if now - self._last >= self.interval_s:
            self._last = now
            self._print(now)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            # A run long enough to report progress also reports its end (once).
            if self._lines and self._printed_n != self.n:
                self._print(self._clock())

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def line(self, now: float) -> str:
        done = self.n - self._start_n
        elapsed = max(now - self._start, 1e-9)
        rate = done / elapsed
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        text = f"{self.desc}: {self.n}/{self.total} {self.unit}s{pct}, {rate:.1f} {self.unit}s/s"
        left = self.total - self.n
        if left > 0 and rate > 0:
            text += f", {_duration(left / rate)} left"
        elif left <= 0:
            text += f", done in {_duration(elapsed)}"
        return text

    def _print(self, now: float) -> None:
        self._lines += 1
        self._printed_n = self.n
        if self.enabled:
            print(self.line(now), file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
