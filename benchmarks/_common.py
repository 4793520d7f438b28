"""Shared plumbing for the benchmark scripts: machine facts, versions, runs, result files.

Every benchmark writes benchmarks/results/<name>.json holding its results, the date, the
machine (CPU model, cores, RAM, GPU), software versions, git commit and the exact command
line, so a figure in the README can always be traced to a run anyone can repeat.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from debrismap.atomic import write_json

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
REALDATA = Path(os.environ.get("DEBRISMAP_REALDATA", REPO.parent / "shared" / "realdata"))
# Big intermediate files (synthetic cities, mosaics, run folders) live outside the repo.
CACHE = Path(os.environ.get("DEBRISMAP_BENCH_CACHE", Path.home() / ".cache" / "debrismap-bench"))
DEBRISMAP = [sys.executable, "-m", "debrismap"]

os.environ.setdefault("YOLO_OFFLINE", "1")  # ultralytics / SAHI must never reach the network
os.environ.setdefault("MPLBACKEND", "Agg")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_names() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def machine() -> dict:
    import psutil

    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "gpus": gpu_names(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions(extra: tuple[str, ...] = ()) -> dict:
    out = {}
    for name in ("debrismap", "numpy", "rasterio", "onnxruntime", "shapely", "pyproj", *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    try:
        import rasterio

        out["gdal"] = rasterio.__gdal_version__
    except Exception:  # noqa: BLE001 - a version we cannot read is left out, not fatal
        pass
    try:
        import onnxruntime

        out["onnxruntime_providers"] = onnxruntime.get_available_providers()
    except Exception:  # noqa: BLE001 - as above
        pass
    return out


def git_commit() -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (subprocess.SubprocessError, OSError):
        return None


def file_sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def portable(value):
    """`value` with this machine's absolute paths made portable, recursively.

    A result file is read on other machines: paths inside the repository become relative to
    it, ../shared stays ../shared, the benchmark cache becomes $DEBRISMAP_BENCH_CACHE and the
    home folder ~, so no file records where one person happened to keep things.
    """
    if isinstance(value, dict):
        return {k: portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v) for v in value]
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or "/" not in value:
        return value
    roots = [
        (str(CACHE), "$DEBRISMAP_BENCH_CACHE"),
        (str(REPO.parent / "shared"), "../shared"),
        (str(REPO), "."),
        (str(Path.home()), "~"),
    ]
    for root, name in roots:
        value = value.replace(root + "/", name + "/")
        if value == root:
            value = name
    return value


def write_result(name: str, results: dict, extra_versions: tuple[str, ...] = ()) -> Path:
    """benchmarks/results/<name>.json with results + provenance; returns the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": name,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "git_commit": git_commit(),
        "machine": machine(),
        "versions": versions(extra_versions),
        "results": results,
    }
    path = write_json(RESULTS / f"{name}.json", portable(json.loads(json.dumps(doc, default=str))),
                      ensure_ascii=True)
    print(f"\nwrote {path}")
    return path


def subprocess_env(extra: dict | None = None) -> dict:
    """The environment of timed commands: as a user's, where Python keeps compiled bytecode.

    With PYTHONDONTWRITEBYTECODE set (some CI and sandbox shells set it) every detect process
    would compile its imports afresh, about a second of CPU that an installed debrismap (pip,
    `uv sync --compile-bytecode`, the Docker image) never pays.
    """
    env = {**os.environ, **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run(cmd: list[str], log: Path | None = None, env: dict | None = None) -> float:
    """Run a command, fail loudly with its output tail, return wall seconds."""
    print("$ " + " ".join(shlex.quote(str(c)) for c in cmd), flush=True)
    start = time.perf_counter()
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=subprocess_env(env))
    seconds = time.perf_counter() - start
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise SystemExit(f"command failed (exit {proc.returncode}):\n{tail}")
    return seconds


def detect(raster: Path | list[Path], out: Path, model: Path, extra: list[str] = (), fresh: bool = True) -> float:
    """`debrismap detect` into a fresh run folder; returns wall seconds."""
    if fresh and out.exists():
        shutil.rmtree(out)
    rasters = [str(r) for r in (raster if isinstance(raster, list) else [raster])]
    return run([*DEBRISMAP, "detect", *rasters, "--out", str(out), "--model", str(model), *extra])


def evaluate(run_dir: Path, truth: Path, out: Path, extra: list[str] = ()) -> dict:
    """`debrismap evaluate`; returns evaluation.json as a dict."""
    run([*DEBRISMAP, "evaluate", str(run_dir), str(truth), "--out", str(out), *extra])
    return json.loads((out / "evaluation.json").read_text())


def read_run(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> str:
    """Plain-text table. columns: (key, header, format spec such as '{:.3f}')."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        cells.append([
            "n/a" if r.get(k) is None else (fmt.format(r[k]) if fmt else str(r[k])) for k, _, fmt in columns
        ])
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def check_model(path: Path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        raise SystemExit(f"{path}: model not found (train one, or use models/debrismap-default.onnx)")
    return path
