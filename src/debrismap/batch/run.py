"""`run_batch`: many acquisitions through one Dask cluster, each into its own detect run folder.

Per acquisition, three kinds of task (tasks.py): plan, then its bands of tile rows (as many
as its size calls for, spread over the workers), then finish, which merges the bands under
detect's keep-by-core + cross-tile NMS rule. The client (this process) holds the run folder's
lock from before plan until after finish, records everything in batch.json / batch.csv, and
keeps at most `max_active` acquisitions in flight, so memory and open locks stay bounded
however long the list. A worker that dies takes its task with it; Dask reruns the task
elsewhere, and the rerun redoes only the shards that were not written. An acquisition that
fails is recorded with its one-line error; the others go on.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from distributed import KilledWorker, as_completed

from debrismap import __version__
from debrismap.batch import tasks
from debrismap.batch.engine import Engine
from debrismap.batch.inputs import Acquisition
from debrismap.batch.manifest import BATCH_JSON, RunRecord, write_batch_files
from debrismap.batch.progress import BatchProgress
from debrismap.detect import DetectSettings, hooks
from debrismap.detect.lock import RunLock
from debrismap.detect.output_folder import prepare_out_dir
from debrismap.errors import DebrismapError, OutputError

DEFAULT_BAND_TILES = 256  # ~5-10 s of one core per band with the default model: fine-grained enough to balance
WRITE_EVERY_S = 5.0  # batch.json is rewritten at most this often while running (and always at the end)


@dataclass
class BatchOptions:
    settings: DetectSettings  # detect's settings, the same for every acquisition
    band_tiles: int = DEFAULT_BAND_TILES
    heatmap: bool = True
    resume: bool = False
    force: bool = False
    progress: bool = True
    max_active: int | None = None  # acquisitions in flight (default: twice the workers, at least 4)


@dataclass
class BatchResult:
    out: Path
    records: list[RunRecord]
    wall_s: float
    engine: dict = field(default_factory=dict)

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.records if r.status == "failed"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def error_line(exc: BaseException) -> str:
    """The one line batch.json records for a failed task."""

    if isinstance(exc, DebrismapError):
        return str(exc)
    if isinstance(exc, KilledWorker):
        return "the workers running it died repeatedly (out of memory, or killed); see the workers' logs"
    text = " ".join(str(exc).split()) or "no message"
    return f"{type(exc).__name__}: {text}"


@dataclass
class _Active:
    """An acquisition in flight: its lock, job, and futures still running."""

    record: RunRecord
    job: tasks.AcquisitionJob
    lock: RunLock
    t0: float
    futures: dict = field(default_factory=dict)  # key -> Future of its tasks still running


class _Batch:
    def __init__(self, acquisitions: list[Acquisition], out: Path, options: BatchOptions, engine: Engine):
        self.out, self.options, self.engine = out, options, engine
        self.client = engine.client
        self.queue = list(acquisitions)
        self.records = [RunRecord(a.name, str(out / a.name), a.origin, list(a.sources), a.date, a.date_source)
                        for a in acquisitions]
        self.by_name = {r.name: r for r in self.records}
        self.progress = BatchProgress(options.progress)
        self.progress.runs_total = len(acquisitions)
        self.active: dict[str, _Active] = {}
        self.owner: dict = {}  # future key -> (acquisition name, kind, band's first batch or None)
        # Tiles per band: planned, and reported so far by workers. A worker killed mid-band may
        # take unsent reports with it; the band's completion tops the bar up to its planned count.
        self.band_tiles: dict[tuple[str, int], int] = {}
        self.band_reported: dict[tuple[str, int], int] = {}
        self.band_lock = threading.Lock()
        self.threads_by_host = engine.threads_by_host()
        workers = sum(n for _, n in self.threads_by_host) or 1
        self.max_active = options.max_active or max(4, 2 * workers)
        self.header = {"format_version": 1, "software_version": __version__, "started": _now(), "finished": None,
                       "status": "running", "out": str(out), "engine": {"kind": engine.kind, **engine.info,
                                                                       "dashboard": engine.dashboard},
                       "band_tiles": options.band_tiles, "resume": options.resume,
                       "settings": _settings_record(options.settings)}
        self.last_write = 0.0
        self.pending = None  # distributed.as_completed over every task in flight, made in run()

    # -- bookkeeping ---------------------------------------------------------------------------
    def write(self, force: bool = False) -> None:
        if force or time.monotonic() - self.last_write >= WRITE_EVERY_S:
            write_batch_files(self.out, self.header, self.records)
            self.last_write = time.monotonic()

    def submit(self, name: str, kind: str, fn, *args, priority: int = 0, band: int | None = None):
        future = self.client.submit(fn, *args, pure=False, priority=priority, key=f"debrismap-{kind}-{name}-{time.time_ns()}")
        self.owner[future.key] = (name, kind, band)
        self.active[name].futures[future.key] = future
        self.pending.add(future)
        return future

    def close_run(self, name: str, status: str, error: str | None = None) -> None:
        run = self.active.pop(name)
        record = run.record
        record.status, record.error = status, error
        record.timings["wall_s"] = round(time.perf_counter() - run.t0, 3)
        run.lock.release()
        if run.futures:  # bands still running for a run that failed: their results are of no use
            self.client.cancel(list(run.futures.values()))
        if status == "complete":
            where = "already complete" if record.previously_complete else f"{record.timings['wall_s']:.1f} s"
            self.progress.run_finished(f"{name}: {record.detections} detections ({where})")
        else:
            self.progress.run_finished(f"{name}: FAILED: {error}")
        self.write()
        hooks.at("batch-client:run-finished")  # test hook: a client killed here must resume cleanly

    # -- the three stages --------------------------------------------------------------------------
    def start_next(self) -> None:
        while self.queue and len(self.active) < self.max_active:
            acq = self.queue.pop(0)
            record = self.by_name[acq.name]
            run_dir = self.out / acq.name
            settings = dataclasses.replace(
                self.options.settings, resume=self.options.resume, force=self.options.force, progress=False,
                acquisition_date=(acq.date, acq.date_source) if acq.date else None)
            job = tasks.AcquisitionJob(acq.name, str(run_dir), tuple(acq.sources), acq.mosaic, tuple(acq.epsg),
                                       settings, self.options.band_tiles, self.threads_by_host)
            try:
                prepare_out_dir(run_dir)
                lock = RunLock(run_dir).acquire()
            except OutputError as exc:
                record.status, record.error = "failed", str(exc)
                self.progress.run_finished(f"{acq.name}: FAILED: {exc}")
                continue
            self.active[acq.name] = _Active(record, job, lock, time.perf_counter())
            record.status = "running"
            self.submit(acq.name, "plan", tasks.plan_acquisition, job, priority=1)

    def planned(self, name: str, info: dict) -> None:
        run, record = self.active[name], self.active[name].record
        record.tiles = info["tiles"]
        record.acquisition_date = info["acquisition_date"]
        record.acquisition_date_source = info["acquisition_date_source"]
        record.timings["plan_s"] = round(info["plan_s"], 3)
        record.timings["worker_s"] = round(info["plan_s"], 3)
        self.progress.add_run(info["tiles"], info["tiles_done"])
        if info["complete"]:
            record.previously_complete, record.detections, record.area_km2 = True, info["detections"], info["area_km2"]
            self.close_run(name, "complete")
            return
        record.bands = len(info["bands"])
        # Counted from the plan, not from the bands' reports: a band whose worker died wrote some
        # shards before it did, and its rerun reports only the rest.
        record.tiles_run = info["tiles"] - info["tiles_done"]
        record.timings["model_s"] = 0.0
        for band in info["bands"]:
            start = band["batches"][0]
            with self.band_lock:
                self.band_tiles[(name, start)] = band["tiles"]
            self.submit(name, "band", tasks.run_band, run.job, *band["batches"], band=start)
        if not info["bands"]:
            self.submit(name, "finish", tasks.finish_acquisition, run.job, self.options.heatmap, priority=2)

    def tiles_reported(self, event) -> None:
        """A worker's progress event (called on the client's event-loop thread)."""
        msg = event[1]
        key = (msg["run"], int(msg["band"]))
        with self.band_lock:
            if key not in self.band_tiles:
                return  # late: the band is done and already counted whole
            self.band_reported[key] = self.band_reported.get(key, 0) + int(msg["tiles"])
        self.progress.advance(int(msg["tiles"]))

    def band_done(self, name: str, info: dict, band: int) -> None:
        with self.band_lock:
            planned, reported = self.band_tiles.pop((name, band), 0), self.band_reported.pop((name, band), 0)
        if planned > reported:
            self.progress.advance(planned - reported)
        record = self.active[name].record
        record.timings["worker_s"] = round(record.timings.get("worker_s", 0) + info["timings"].get("total", 0), 3)
        record.timings["model_s"] = round(record.timings.get("model_s", 0) + info["timings"].get("inference", 0), 3)
        # what every band pays before its first tile (model check, opening the rasters, the plan)
        record.timings["band_setup_s"] = round(record.timings.get("band_setup_s", 0) + info["timings"].get("setup", 0), 3)
        if not self.active[name].futures:
            self.submit(name, "finish", tasks.finish_acquisition, self.active[name].job, self.options.heatmap,
                        priority=2)

    def finished(self, name: str, info: dict) -> None:
        record = self.active[name].record
        record.detections, record.area_km2, record.heatmap = info["detections"], info["area_km2"], info["heatmap"]
        record.timings["finish_s"] = round(info["finish_s"], 3)
        record.timings["worker_s"] = round(record.timings.get("worker_s", 0) + info["finish_s"], 3)
        self.close_run(name, "complete")

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> None:
        self.pending = as_completed([], with_results=False)
        self.client.subscribe_topic(tasks.PROGRESS_TOPIC, self.tiles_reported)
        try:
            self.write(force=True)
            self.start_next()
            while self.pending.count() or self.queue:
                if not self.pending.count():
                    self.start_next()
                    continue
                future = next(self.pending)
                name, kind, band = self.owner.pop(future.key)
                run = self.active.get(name)
                if run is None:
                    continue  # the acquisition already failed; a leftover band
                run.futures.pop(future.key, None)
                if future.status != "finished":
                    error = error_line(future.exception()) if future.status == "error" else f"its {kind} task was {future.status}"
                    self.close_run(name, "failed", error)
                elif "error" in (result := future.result()):
                    self.close_run(name, "failed", result["error"])
                elif kind == "band":
                    self.band_done(name, result, band)
                else:
                    {"plan": self.planned, "finish": self.finished}[kind](name, result)
                future.release()
                self.start_next()
        finally:
            self.client.unsubscribe_topic(tasks.PROGRESS_TOPIC)
            self.progress.close()
            for run in list(self.active.values()):
                run.lock.release()


def _settings_record(settings: DetectSettings) -> dict:
    record = dataclasses.asdict(settings)
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in record.items()
            if k not in ("progress", "resume", "force", "acquisition_date")}


def check_out_dir(out: Path, resume: bool, force: bool) -> None:
    """Refuse to start over a batch already in `out` unless told what to do with it."""
    if (out / BATCH_JSON).exists() and not (resume or force):
        raise OutputError("already holds a batch; continue it with --resume or redo it with --force", path=out)


def run_batch(acquisitions: list[Acquisition], out: str | Path, options: BatchOptions, engine: Engine) -> BatchResult:
    out = Path(out)
    t0 = time.perf_counter()
    prepare_out_dir(out)
    lock = RunLock(out).acquire()  # one batch at a time writes DIR/batch.json
    try:
        check_out_dir(out, options.resume, options.force)
        batch = _Batch(acquisitions, out, options, engine)
        batch.run()
        failed = [r for r in batch.records if r.status == "failed"]
        batch.header.update(status="failed" if failed else "complete", finished=_now(),
                            wall_s=round(time.perf_counter() - t0, 3))
        batch.write(force=True)
        return BatchResult(out, batch.records, time.perf_counter() - t0, batch.header["engine"])
    finally:
        lock.release()
