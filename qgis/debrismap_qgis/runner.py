"""Run one `debrismap` command as a child process for a Processing algorithm.

Why a subprocess: QGIS's own Python never needs onnxruntime, rasterio or numpy of the right
versions; the plugin only needs to find the `debrismap` command. This module imports nothing
from QGIS, so it is tested without QGIS; `feedback` is anything with QgsProcessingFeedback's
isCanceled / setProgress / pushInfo / pushConsoleInfo methods.

What it streams: detect's progress is a tqdm bar (`detect:  45%|...| 9/20 [...]`, redrawn with
carriage returns when stderr is not a terminal) or plain periodic lines (`... tiles 9/20 ...`);
both carry "N/M" next to the word tile, which becomes the feedback's percentage. The command's
last `debrismap VERB: error: ...` line becomes the exception text.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time

EXECUTABLE_ENV = "DEBRISMAP_EXECUTABLE"
# "9/20" in a line that speaks of tiles (tqdm's unit "tile", or the plain "tiles 9/20").
_PROGRESS = re.compile(r"(\d[\d,]*)\s*/\s*(\d[\d,]*)")
# debrismap's plain progress line: "detect: 120/4000 tiles (3%), 45.2 tiles/s, 1m26s left".
_PLAIN_PROGRESS = re.compile(r"^[\w .-]+: [\d,]+/[\d,]+ \w+ \(\d+%\)")
_ERROR = re.compile(r"^debrismap [\w-]+: (?:internal )?error: .*")
POLL_S = 0.1
TERMINATE_GRACE_S = 10.0


class DebrismapCommandError(Exception):
    """The command could not run, failed, or was cancelled; the message is one line."""


class CommandCancelled(DebrismapCommandError):
    pass


def find_executable(configured: str | None = None) -> str:
    """The `debrismap` command: the provider setting, else $DEBRISMAP_EXECUTABLE, else PATH."""
    for candidate in (configured, os.environ.get(EXECUTABLE_ENV)):
        if candidate and candidate.strip():
            path = candidate.strip()
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
            found = shutil.which(path)  # a bare name such as "debrismap"
            if found:
                return found
            raise DebrismapCommandError(
                f"the debrismap command set in the provider settings (or DEBRISMAP_EXECUTABLE) is not an executable file: {path}"
            )
    found = shutil.which("debrismap")
    if found:
        return found
    raise DebrismapCommandError(
        "the debrismap command was not found on PATH; install debrismap (pip install debrismap) or set "
        "its full path in Settings > Options > Processing > Providers > debrismap"
    )


def progress_fraction(line: str) -> float | None:
    """Tiles done / total from one progress line, or None when the line carries none."""
    if "tile" not in line:
        return None
    match = _PROGRESS.search(line)
    if not match:
        return None
    done, total = (int(v.replace(",", "")) for v in match.groups())
    if total <= 0 or done > total:
        return None
    return done / total


def error_line(lines: list[str]) -> str | None:
    """The command's own one-line error (the last one), without the traceback noise around it."""
    for line in reversed(lines):
        if _ERROR.match(line.strip()):
            return line.strip()
    return None


def _split_updates(pending: str) -> tuple[list[str], str]:
    """Complete lines (ended by \\n or by tqdm's \\r) and the unfinished rest."""
    parts = re.split(r"[\r\n]", pending)
    return [p for p in parts[:-1] if p.strip()], parts[-1]


def _pump(stream, sink: list[str], lock: threading.Lock) -> None:
    """Read a pipe in chunks (not lines: tqdm ends its updates with \\r only) into `sink`."""
    pending = ""
    fd = stream.fileno()
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        pending += chunk.decode("utf-8", errors="replace")
        lines, pending = _split_updates(pending)
        if pending.rstrip().endswith("]"):  # a whole tqdm redraw: its ending \r comes only with the next
            lines.append(pending)
            pending = ""
        with lock:
            sink.extend(lines)
    if pending.strip():
        with lock:
            sink.append(pending)


def _stop(proc: subprocess.Popen) -> None:
    """Terminate (then kill) the command; detect writes atomically, so --resume continues it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=TERMINATE_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _close(proc: subprocess.Popen) -> None:
    for stream in (proc.stdout, proc.stderr):
        stream.close()


def run_command(executable: str, args: list[str], feedback, show_progress: bool = True) -> list[str]:
    """Run `executable args...`, stream its output into `feedback`; return its stdout lines.

    Raises CommandCancelled when the user cancels (the child is terminated first) and
    DebrismapCommandError with the command's one-line error when it exits non-zero.
    """
    cmd = [executable, *args]
    feedback.pushInfo("running: " + subprocess.list2cmdline(cmd))
    # A plain progress line at every step of the command (the default, one every 10 s, suits
    # log files), so the Processing bar moves and Cancel can act however fast the machine is;
    # these lines feed the bar, not the log.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DEBRISMAP_PROGRESS_INTERVAL": "0"}
    env.pop("PYTHONHOME", None)  # QGIS's Python settings must not leak into debrismap's own Python
    env.pop("PYTHONPATH", None)
    kwargs = {}
    if sys.platform == "win32":
        kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW  # no console window flashing up
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=env, **kwargs)
    except OSError as exc:
        raise DebrismapCommandError(f"could not start {executable}: {exc.strerror or exc}") from None
    lock = threading.Lock()
    out_lines: list[str] = []
    err_lines: list[str] = []
    pumps = [threading.Thread(target=_pump, args=(s, sink, lock), daemon=True)
             for s, sink in ((proc.stdout, out_lines), (proc.stderr, err_lines))]
    for pump in pumps:
        pump.start()
    shown = {"out": 0, "err": 0}
    last_progress = -1.0

    def drain() -> None:
        nonlocal last_progress
        with lock:
            new_out, new_err = out_lines[shown["out"]:], err_lines[shown["err"]:]
            shown["out"], shown["err"] = len(out_lines), len(err_lines)
        for line in new_out:
            feedback.pushConsoleInfo(line)
        for line in new_err:
            fraction = progress_fraction(line)
            if fraction is not None:
                if show_progress and fraction * 100 != last_progress:
                    last_progress = fraction * 100
                    feedback.setProgress(last_progress)
                if "|" in line or _PLAIN_PROGRESS.match(line):
                    continue  # a bar redraw or a progress line, many a second: the progress bar says it all
            feedback.pushConsoleInfo(line)

    try:
        while proc.poll() is None:
            if feedback.isCanceled():
                _stop(proc)
                for pump in pumps:
                    pump.join(timeout=5)
                drain()
                _close(proc)
                raise CommandCancelled(
                    "cancelled; the run folder is kept, run again with 'Resume an interrupted run' to continue it"
                )
            drain()
            time.sleep(POLL_S)
    except BaseException:
        _stop(proc)
        raise
    for pump in pumps:
        pump.join(timeout=30)
    drain()
    _close(proc)
    if proc.returncode != 0:
        message = error_line(err_lines)
        if message is None:
            tail = [line for line in err_lines if progress_fraction(line) is None][-1:]
            reason = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
            message = f"debrismap {args[0] if args else ''} failed ({reason})" + (f": {tail[0]}" if tail else "")
        raise DebrismapCommandError(message)
    return out_lines


def supports_verb(executable: str, verb: str, timeout: float = 60.0) -> bool:
    """Whether this debrismap install has `verb` (its --help exits 0)."""
    try:
        proc = subprocess.run([executable, verb, "--help"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0

