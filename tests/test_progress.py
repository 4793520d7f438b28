"""Progress output: a bar on a terminal, plain periodic lines in a log file."""

from __future__ import annotations

import io

from debrismap.progress import PlainProgress, progress_bar


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_are_periodic_and_carry_rate_and_time_left():
    out, clock = io.StringIO(), FakeClock()
    bar = PlainProgress(1000, "detect", "tile", stream=out, interval_s=10.0, clock=clock)
    for _ in range(100):  # 100 updates within 5 s: no line yet
        clock.t += 0.05
        bar.update(1)
    assert out.getvalue() == ""
    clock.t = 10.0
    bar.update(100)  # 200 tiles in 10 s
    lines = out.getvalue().splitlines()
    assert lines == ["detect: 200/1000 tiles (20%), 20.0 tiles/s, 40s left"]
    clock.t = 50.0
    bar.update(800)
    bar.close()
    bar.close()  # closing twice prints once
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # the update at 50 s reported the end; close() does not repeat it
    assert lines[-1] == "detect: 1000/1000 tiles (100%), 20.0 tiles/s, done in 50s"
    assert "\r" not in out.getvalue()


def test_resumed_run_counts_rate_from_its_own_start():
    out, clock = io.StringIO(), FakeClock()
    bar = PlainProgress(100, "detect", "tile", initial=60, stream=out, interval_s=1.0, clock=clock)
    clock.t = 2.0
    bar.update(20)
    assert out.getvalue().splitlines() == ["detect: 80/100 tiles (80%), 10.0 tiles/s, 2s left"]


def test_no_terminal_gives_plain_lines_and_disabled_is_silent():
    out = io.StringIO()  # not a TTY
    bar = progress_bar(10, "chips", "chip", stream=out, interval_s=0.0)
    assert isinstance(bar, PlainProgress)
    bar.update(10)
    bar.close()
    assert out.getvalue().startswith("chips: 10/10 chips")
    short = io.StringIO()
    bar = progress_bar(10, "chips", "chip", stream=short, interval_s=60.0)
    bar.update(10)
    bar.close()
    assert short.getvalue() == ""  # over before the first report: nothing in the log
    quiet = io.StringIO()
    bar = progress_bar(10, "chips", "chip", enabled=False, stream=quiet, interval_s=0.0)
    bar.update(10)
    bar.close()
    assert quiet.getvalue() == ""


def test_a_driving_program_can_ask_for_frequent_lines(monkeypatch):
    from debrismap.progress import INTERVAL_ENV, plain_interval

    monkeypatch.setenv(INTERVAL_ENV, "0.5")
    assert plain_interval() == 0.5
    monkeypatch.setenv(INTERVAL_ENV, "often")  # unreadable: the default, not an error
    assert plain_interval() == 10.0
    monkeypatch.setenv(INTERVAL_ENV, "0")
    out = io.StringIO()
    bar = progress_bar(3, "detect", "tile", stream=out)
    bar.update(1)
    bar.update(2)
    bar.close()
    assert [line.split(",")[0] for line in out.getvalue().splitlines()] == [
        "detect: 1/3 tiles (33%)", "detect: 3/3 tiles (100%)"]  # the end is not repeated
