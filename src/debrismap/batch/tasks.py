"""What a Dask worker runs for `batch`: plan an acquisition, run one band of its tiles, finish it.

A task carries paths, settings and a batch range, never an open dataset or an ONNX Runtime
session (neither pickles): the worker opens the rasters itself, and builds one model session
per model file the first time it needs it, then keeps it for every later task (module state
lives as long as the worker process). The heavy lifting is detect's own (detect.parts).
"""

from __future__ import annotations

import dataclasses
import functools
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import shapely
from distributed import get_worker
from pyproj import CRS, Geod

from debrismap.batch.vrt import write_mosaic_vrt
from debrismap.detect import DetectSettings, resolve_model, run_detect
from debrismap.detect.parts import RunPart, load_plan
from debrismap.detect.session import SessionPool, physical_cores
from debrismap.detect.state import RunState
from debrismap.errors import DebrismapError
from debrismap.vector_io import read_vector

PROGRESS_TOPIC = "debrismap-batch-tiles"
REPORT_EVERY_S = 1.0

_sessions: dict[tuple, SessionPool] = {}
_sessions_lock = threading.Lock()


@dataclass(frozen=True)
class AcquisitionJob:
    """Everything a worker needs to run its part of one acquisition (plain, picklable values)."""

    name: str
    run_dir: str
    sources: tuple[str, ...]
    mosaic: bool
    epsg: tuple[int | None, ...]
    settings: DetectSettings
    band_tiles: int  # tiles per band task (rounded to whole model batches)
    threads_by_host: tuple[tuple[str, int], ...] = ()  # worker threads per host, to share its cores

    def detect_inputs(self) -> list[str]:
        """The rasters detect reads: the sources, or the acquisition's VRT(s) (one per CRS)."""
        if not self.mosaic:
            return list(self.sources)
        codes = sorted({c for c in self.epsg if c is not None})
        if len(codes) <= 1:
            return [str(Path(self.run_dir) / f"{self.name}.vrt")]
        return [str(Path(self.run_dir) / f"{self.name}_epsg{code}.vrt") for code in codes]


def _one_line_errors(task):
    """A user-caused failure (bad raster, full disk...) comes back as {"error": its one line}.

    Returned, not raised: a DebrismapError does not survive Dask's error transport intact (it
    arrives as a generic Exception holding its repr). Anything else is a bug and is raised.
    """

    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        try:
            return task(*args, **kwargs)
        except DebrismapError as exc:
            return {"error": str(exc)}

    return wrapper


def _write_mosaics(job: AcquisitionJob) -> None:
    outputs = job.detect_inputs()
    if len(outputs) == 1:
        write_mosaic_vrt(list(job.sources), Path(outputs[0]))
        return
    codes = sorted({c for c in job.epsg if c is not None})
    for code, out in zip(codes, outputs):
        write_mosaic_vrt([s for s, c in zip(job.sources, job.epsg) if c == code], Path(out))


def _worker_settings(job: AcquisitionJob) -> DetectSettings:
    """The job's settings with this worker's share of the host's cores as model threads."""
    settings = job.settings
    if settings.threads is None:
        threads_here = dict(job.threads_by_host).get(_host(), 1)
        settings = dataclasses.replace(settings, threads=max(1, physical_cores() // max(1, threads_here)))
    return settings


def _host() -> str:
    try:
        from distributed import get_worker

        return get_worker().address.split("://")[-1].rsplit(":", 1)[0]
    except (ImportError, ValueError):
        return socket.gethostname()


def _session_for(settings: DetectSettings) -> SessionPool:
    """One session pool per model file and settings, kept for the worker's life."""

    model = resolve_model(settings.model, settings.device).resolve()
    stat = model.stat() if model.is_file() else None
    key = (str(model), stat and stat.st_mtime_ns, stat and stat.st_size, settings.device, settings.threads,
           settings.sessions, settings.unlabelled)
    with _sessions_lock:
        if key not in _sessions:
            # detect's own rule for sessions: two side by side when the worker has two model threads
            # or more (measured faster than one session with all of them), else one.
            _sessions[key] = SessionPool(model, settings.device, settings.threads, settings.unlabelled,
                                         settings.sessions)
        return _sessions[key]


class _TileReporter:
    """Tells the client's progress bar of finished tiles, through the scheduler's event log.

    Made in the task's thread (where the worker is known), called from detect's post thread
    (Worker.log_event hands a call from another thread to the worker's event loop). Tiles are
    summed and sent at most once every REPORT_EVERY_S per band, plus once at its end: one event
    per model batch would be ~13 000 events/s for 512 workers, more than a scheduler should take.
    """

    def __init__(self, name: str, band: int):
        self.worker, self.name, self.band = get_worker(), name, band
        self.pending, self.last = 0, time.monotonic()
        self.lock = threading.Lock()

    def __call__(self, tiles: int) -> None:
        with self.lock:
            self.pending += int(tiles)
            if time.monotonic() - self.last >= REPORT_EVERY_S:
                self.flush_locked()

    def flush(self) -> None:
        with self.lock:
            self.flush_locked()

    def flush_locked(self) -> None:
        if self.pending:
            self.worker.log_event(PROGRESS_TOPIC, {"run": self.name, "band": self.band, "tiles": self.pending})
        self.pending, self.last = 0, time.monotonic()


def _tile_reporter(name: str, band: int) -> _TileReporter | None:
    """A reporter inside a Dask worker; None elsewhere (a task called directly, in tests)."""
    try:
        return _TileReporter(name, band)
    except (ImportError, ValueError):
        return None


@_one_line_errors
def plan_acquisition(job: AcquisitionJob) -> dict:
    """Write the mosaic (if any), plan the run and its resume state; return its bands still to run."""
    t0 = time.perf_counter()
    if job.mosaic:
        _write_mosaics(job)
    settings = _worker_settings(job)
    result = run_detect(job.detect_inputs(), job.run_dir, settings, RunPart("plan", session=_session_for(settings)))
    manifest = result.manifest
    info = {"inputs": [i["path"] for i in manifest.get("inputs", [])],
            "acquisition_date": (manifest.get("inputs") or [{}])[0].get("acquisition_date"),
            "acquisition_date_source": (manifest.get("inputs") or [{}])[0].get("acquisition_date_source"),
            "tiles": manifest["tiling"]["tiles_analysed"], "complete": manifest.get("status") == "complete",
            "detections": int(manifest.get("counts", {}).get("detections", 0))}
    if info["complete"]:
        return {**info, "bands": [], "tiles_done": info["tiles"], "area_km2": analysed_area_km2(Path(job.run_dir)),
                "plan_s": time.perf_counter() - t0}
    state = RunState(job.run_dir)
    plan, _ = load_plan(state)
    batch = manifest["tiling"]["batch_size"]
    n_batches = -(-len(plan) // batch)
    done = state.done_batches()
    per_band = max(1, job.band_tiles // batch)
    bands = []
    for start in range(0, n_batches, per_band):
        stop = min(start + per_band, n_batches)
        todo = [b for b in range(start, stop) if b not in done]
        if todo:
            tiles = sum(min(batch, len(plan) - b * batch) for b in todo)
            rows = (int(plan[start * batch][1]), int(plan[min(stop * batch, len(plan)) - 1][1]))
            bands.append({"batches": [start, stop], "tiles": tiles, "tile_rows": list(rows)})
    tiles_done = len(plan) - sum(b["tiles"] for b in bands)
    return {**info, "bands": bands, "tiles_done": tiles_done, "plan_s": time.perf_counter() - t0}


@_one_line_errors
def run_band(job: AcquisitionJob, start: int, stop: int) -> dict:
    """Run batches [start, stop) into shards (skipping those already there); timings of this band."""
    settings = _worker_settings(job)
    reporter = _tile_reporter(job.name, start)
    part = RunPart("band", (start, stop), session=_session_for(settings), on_tiles=reporter)
    try:
        result = run_detect(job.detect_inputs(), job.run_dir, settings, part)
    finally:
        if reporter is not None:
            reporter.flush()
    return {"tiles_run": result.tiles_run, "timings": result.timings, "worker": _host()}


@_one_line_errors
def finish_acquisition(job: AcquisitionJob, heatmap: bool) -> dict:
    """Merge the bands into the run's final files (and heatmap); count, measure, report."""
    t0 = time.perf_counter()
    settings = _worker_settings(job)
    result = run_detect(job.detect_inputs(), job.run_dir, settings, RunPart("finish", session=_session_for(settings)))
    out = {"detections": result.n_detections, "area_km2": analysed_area_km2(Path(job.run_dir)),
           "heatmap": None}
    if heatmap and result.manifest.get("crs"):
        from debrismap.aggregate.heatmap import run_heatmap

        outputs = run_heatmap(job.run_dir)
        png = getattr(outputs, "heatmap_png", None)
        out["heatmap"] = str(png) if png else None
    out["finish_s"] = time.perf_counter() - t0
    return out


def analysed_area_km2(run_dir: Path) -> float | None:
    """Area of coverage.gpkg in km² (geodesic for a lon/lat CRS); None in pixel coordinates."""


    data = read_vector(run_dir / "coverage.gpkg")
    if not data.crs or not len(data):
        return None
    crs = CRS.from_user_input(data.crs)
    area = shapely.union_all(data.geometries)
    if crs.is_geographic:
        return abs(Geod(ellps="WGS84").geometry_area_perimeter(area)[0]) / 1e6
    metres = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return float(area.area * metres**2 / 1e6)
