"""`run_detect`: one detection run from rasters + model to a finished, resumable run folder.

Order of work: take the folder's lock, load and validate the model, open the rasters and
check them, plan the tiles, compare the run's fingerprint with any state already in the
folder, push the missing batches through the pipeline (each batch lands as a shard), then
build the final files from all shards.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import rasterio

from debrismap import __version__
from debrismap.calibration import read_calibration
from debrismap.detect import hooks
from debrismap.detect.assemble import CANDIDATE_PREFIX, build_final_outputs
from debrismap.detect.coverage import core_cell_counts
from debrismap.detect.decode import MAX_CANDIDATE_ANCHORS_PER_TILE, decode_batch
from debrismap.detect.inputs import expand_inputs
from debrismap.detect.lock import RunLock
from debrismap.detect.merge import TilePlacement, place_and_keep_owned
from debrismap.detect.model_file import default_model_candidates, file_sha256, find_default_model
from debrismap.detect.output_folder import (
    check_existing,
    prepare_out_dir,
    read_status,
    remove_stale_temp_files,
)
from debrismap.detect.parts import RunPart, check_band_state, load_plan, missing_batches, save_plan
from debrismap.detect.pipeline import PreparedTile, Timings, run_pipeline
from debrismap.detect.plan import RasterJob, check_gsd, plan_tiles
from debrismap.detect.preprocess import Preprocessor
from debrismap.detect.regions import read_region
from debrismap.detect.session import SessionPool, UnlabelledModelFlags
from debrismap.detect.state import RunState
from debrismap.detect.writers import write_run_json
from debrismap.errors import ConfigError, DatasetError, ModelError, RasterError
from debrismap.progress import progress_bar
from debrismap.raster import TileGrid, open_raster

GDAL_CACHE_MB = 128  # GDAL's default (5% of RAM) would let the block cache alone blow the memory budget


@dataclass
class DetectSettings:
    model: Path | None = None
    device: str = "cpu"
    tile: int | None = None  # default: the model's input size
    overlap: int | None = None  # default: a tenth of the tile
    batch: int = 8
    score: float | None = None  # default: the model's metadata
    candidate_floor: float = 0.05  # candidates.gpkg keeps boxes down to this score (never above `score`)
    nms_iou: float | None = None
    bands: tuple[int, ...] | None = None
    aoi: Path | None = None
    exclude: Path | None = None
    assume_gsd: float | None = None
    resume: bool = False
    force: bool = False
    threads: int | None = None  # model threads in all (default: physical cores)
    sessions: int | None = None  # model sessions side by side (default: 2 on a CPU, 1 on CUDA)
    readers: int = 2
    unlabelled: UnlabelledModelFlags | None = None
    progress: bool = True
    # (date, where from) known by the caller for every input of the run, e.g. a STAC item's
    # datetime; recorded in run.json in place of the date read from the imagery.
    acquisition_date: tuple[str, str] | None = None


@dataclass
class DetectResult:
    run_dir: Path
    manifest: dict
    n_detections: int
    tiles_run: int  # tiles pushed through the model in this call (less than planned after a resume)
    timings: dict = field(default_factory=dict)


def resolve_model(model: Path | None, device: str = "cpu") -> Path:
    if model is not None:
        return Path(model)
    found = find_default_model(device)
    if found is None:
        where = " or ".join(str(p) for p in default_model_candidates(device))
        raise ModelError(
            f"no --model given and the bundled default model is not installed (looked in {where}); "
            "pass --model FILE.onnx (made by `debrismap export`)"
        )
    return found


def _acquisition(settings: DetectSettings, source) -> dict:
    """The input's acquisition date for run.json: the caller's (a STAC item's, a list's) when given."""
    date, where = settings.acquisition_date or (source.acquisition_date, source.acquisition_date_source)
    return {"acquisition_date": date, "acquisition_date_source": where}


def _read_run_json(out: Path) -> dict:
    try:
        return json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return {}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class _ThreadViews:
    """One raster handle per reader thread: GDAL handles are not thread-safe, and separate
    handles let reads (which release the GIL) really run in parallel."""

    def __init__(self, jobs: list[RasterJob], model_gsd: float, assume_gsd: float | None):
        self.jobs, self.model_gsd, self.assume_gsd = jobs, model_gsd, assume_gsd
        self.local = threading.local()
        self.opened: list = []
        self.lock = threading.Lock()

    def view(self, index: int):
        views = getattr(self.local, "views", None)
        if views is None:
            views = self.local.views = {}
        if index not in views:
            job = self.jobs[index]
            src = open_raster(job.path, bands=job.source.band_indexes, stretch=job.source.stretch)
            with self.lock:
                self.opened.append(src)
            views[index] = src.at_gsd(self.model_gsd, assumed_gsd_m=self.assume_gsd)
        return views[index]

    def close(self) -> None:
        for src in self.opened:
            src.close()


def run_detect(rasters: list, out: str | Path, settings: DetectSettings, part: RunPart | None = None) -> DetectResult:
    """The whole run; or, with `part`, one part of it (see parts.py) under a lock the caller holds."""

    started, t_start = _now(), time.perf_counter()
    out = Path(out)
    paths = expand_inputs(rasters)
    prepare_out_dir(out)
    lock = RunLock(out).acquire() if part is None else None
    try:
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024 * 1024):
            return _run_locked(paths, out, settings, started, t_start, part)
    finally:
        if lock is not None:
            lock.release()


def _open_jobs(paths: list[Path], settings: DetectSettings, model_gsd: float) -> tuple[list[RasterJob], object, object]:
    aoi = read_region(settings.aoi, "area-of-interest")
    exclude = read_region(settings.exclude, "exclusion")
    jobs: list[RasterJob] = []
    try:
        for index, path in enumerate(paths):
            with warnings.catch_warnings():
                if settings.assume_gsd is not None:
                    warnings.simplefilter("ignore")  # the user already told us it is not georeferenced
                src = open_raster(path, bands=list(settings.bands) if settings.bands else None)
            jobs.append(RasterJob(index, path, src, None, None, None, None))
            check_gsd(src, model_gsd, settings.assume_gsd)
            if jobs[0].source.georeferenced != src.georeferenced:
                raise RasterError(
                    f"{'has' if src.georeferenced else 'lacks'} georeferencing while {jobs[0].path.name} "
                    f"{'does not' if src.georeferenced else 'has it'}: run them separately",
                    path=path,
                )
            view = src.at_gsd(model_gsd, assumed_gsd_m=settings.assume_gsd)
            jobs[-1].view = view
            jobs[-1].aoi = aoi.in_crs(src.crs) if aoi else None
            jobs[-1].exclude = exclude.in_crs(src.crs) if exclude else None
    except BaseException:
        for job in jobs:
            job.source.close()
        raise
    return jobs, aoi, exclude


def _run_locked(paths: list[Path], out: Path, settings: DetectSettings, started: str, t_start: float,
                part: RunPart | None = None) -> DetectResult:
    model_path = resolve_model(settings.model, settings.device)
    if part is not None and part.session is not None:
        session = part.session
    else:
        session = SessionPool(model_path, settings.device, settings.threads, settings.unlabelled, settings.sessions)
    try:
        return _run_with_session(paths, out, settings, started, t_start, model_path, session, part)
    finally:
        # Extra sessions are still being built in the background when a bad input fails fast;
        # an interpreter that exits under ONNX Runtime's native thread aborts ("terminate
        # called without an active exception", exit 134) instead of printing the one line.
        session.wait_ready()


def _run_with_session(paths: list[Path], out: Path, settings: DetectSettings, started: str, t_start: float,
                      model_path: Path, session: SessionPool, part: RunPart | None) -> DetectResult:
    meta = session.metadata
    size = session.input_size
    tile = int(settings.tile or size)
    if tile != size and session.fixed_spatial:
        raise ConfigError(f"--tile {tile} differs from the model's fixed input size {size}")
    if tile % 32:
        raise ConfigError(f"--tile must be a multiple of 32, got {tile}")
    overlap = int(settings.overlap if settings.overlap is not None else round(tile * 0.1))
    if not 0 <= overlap <= tile // 2:
        raise ConfigError(f"--overlap must be between 0 and half the tile ({tile // 2}), got {overlap}")
    batch = int(session.fixed_batch or settings.batch)
    if batch < 1:
        raise ConfigError(f"--batch must be at least 1, got {batch}")
    score = float(settings.score if settings.score is not None else meta.score_threshold)
    nms_iou = float(settings.nms_iou if settings.nms_iou is not None else meta.nms_iou)
    if not (0 < score <= 1 and 0 < nms_iou <= 1):
        raise ConfigError("--score and --nms-iou must be in (0, 1]")
    if not 0 < settings.candidate_floor <= 1:
        raise ConfigError(f"--candidate-floor must be in (0, 1], got {settings.candidate_floor}")
    floor = min(float(settings.candidate_floor), score)  # candidates always include every detection
    model_sha = file_sha256(model_path)

    jobs, aoi, exclude = _open_jobs(paths, settings, meta.gsd_m)
    views = _ThreadViews(jobs, meta.gsd_m, settings.assume_gsd)
    try:
        for job in jobs:
            job.grid = TileGrid(job.view.width, job.view.height, tile, overlap)
        state = RunState(out)
        if part is not None and part.stage != "plan":
            plan, tiles_total = load_plan(state)  # planned once by the plan part
        else:
            plan, tiles_total = plan_tiles(jobs)
        run_crs = jobs[0].source.crs
        inputs = [
            {
                "path": str(job.path.resolve()),
                "width": job.source.width,
                "height": job.source.height,
                "header_sha256": job.source.header_sha256,
                "crs": job.source.crs.to_wkt() if job.source.crs else None,
                "gsd_m": job.source.gsd_m if job.source.gsd_m is not None else settings.assume_gsd,
                "gsd_assumed": job.source.gsd_m is None,
                **_acquisition(settings, job.source),
                "bands": list(job.source.band_indexes),
                "stretch": job.source.stretch.to_dict(),
                "view": {"width": job.view.width, "height": job.view.height, "gsd_m": job.view.gsd_m},
            }
            for job in jobs
        ]
        tiling = {"tile_size": tile, "overlap": overlap, "tiles_total": tiles_total,
                  "tiles_analysed": len(plan), "batch_size": batch}
        thresholds = {"score": score, "nms_iou": nms_iou, "candidate_floor": floor}
        fingerprint = json.loads(json.dumps({
            "software_version": __version__,
            "model_sha256": model_sha,
            "inputs": [{k: i[k] for k in ("path", "width", "height", "header_sha256", "bands", "stretch")} for i in inputs],
            "tiling": tiling,
            "thresholds": thresholds,
            "regions": {"aoi": aoi.sha256 if aoi else None, "exclude": exclude.sha256 if exclude else None},
            "assume_gsd": settings.assume_gsd,
            "device": session.device,
            "plan_sha256": hashlib.sha256(plan.tobytes()).hexdigest(),
        }, default=str))

        if part is not None and part.stage != "plan":
            check_band_state(state, fingerprint)
            previous = _read_run_json(out)
            started, resuming = previous.get("started", started), bool(previous.get("resumed"))
        else:
            resuming = check_existing(out, state, fingerprint, force=settings.force, resume=settings.resume)
            if part is not None and resuming and read_status(out) == "complete":
                manifest = _read_run_json(out)  # nothing to do: a finished run, same inputs and settings
                return DetectResult(out, manifest, int(manifest.get("counts", {}).get("detections", 0)), 0, {})
            if not resuming or not state.exists():
                state.start(fingerprint)
        if part is None or part.stage == "finish":
            remove_stale_temp_files(out, state)  # never while bands may be writing shards
        manifest = {
            "format_version": 1,
            "software_version": __version__,
            "status": "running",
            "started": started,
            "finished": None,
            "crs": run_crs.to_wkt() if run_crs else None,
            "inputs": inputs,
            "model": {"path": str(model_path.resolve()), "sha256": model_sha, "classes": list(meta.classes),
                      "gsd_m": meta.gsd_m, "input_size": size, "device": session.device,
                      "providers": session.providers, "sessions": session.count,
                      "threads_per_session": session.threads_per_session, "unlabelled": settings.unlabelled is not None,
                      "score_threshold": meta.score_threshold, "validation": session.validation,
                      "box_decoding": "debrismap" if meta.head is not None else "in the model graph",
                      "calibration": read_calibration(model_path, model_sha)},
            "thresholds": thresholds,
            "tiling": tiling,
            "aoi": str(aoi.path) if aoi else None,
            "exclude": str(exclude.path) if exclude else None,
            "resumed": resuming,
            "timings": {},
            "counts": {},
        }
        batches_all = [list(range(i, min(i + batch, len(plan)))) for i in range(0, len(plan), batch)]
        if part is None or part.stage == "plan":
            write_run_json(out, manifest)
        if part is not None and part.stage == "plan":
            save_plan(state, plan, tiles_total)
            return DetectResult(out, manifest, 0, 0, {"setup": round(time.perf_counter() - t_start, 3)})
        todo_ids = missing_batches(state, len(batches_all))
        if part is not None and part.stage == "band":
            todo_ids = [b for b in todo_ids if part.batches[0] <= b < part.batches[1]]
        elif part is not None and todo_ids:
            raise DatasetError(f"{len(todo_ids)} batch(es) of the run have no results yet; run their bands first",
                               path=out)
        timings = Timings()
        tiles_run = sum(len(batches_all[b]) for b in todo_ids)
        preprocess = Preprocessor(meta)

        def prepare(index: int) -> PreparedTile:
            r, row, col = (int(v) for v in plan[index])
            job = jobs[r]
            t = job.grid.tile_at(row, col)
            view = views.view(r)
            c0, t0 = time.thread_time(), time.perf_counter()
            img = view.read(t.window, band_first=True)
            t1 = time.perf_counter()
            x = preprocess.fill_masked(img.pixels, img.valid)  # uint8; normalised into the batch
            cov = core_cell_counts(img.valid, (int(t.window.col_off), int(t.window.row_off)), t.core_bounds)
            return PreparedTile(index, x, img.valid, {"cov": cov}, t1 - t0, time.perf_counter() - t1,
                                time.thread_time() - c0)

        bar = progress_bar(len(plan), "detect", "tile", initial=len(plan) - tiles_run,
                           enabled=settings.progress)

        def handle(batch_id: int, tiles: list[PreparedTile], outputs: list[np.ndarray]) -> None:
            t0 = time.perf_counter()
            placements = []
            for p in tiles:
                r, row, col = (int(v) for v in plan[p.index])
                w = jobs[r].grid.tile_at(row, col).window
                placements.append(TilePlacement(r, row, col, int(w.col_off), int(w.row_off), p.valid))
            grids = [job.grid for job in jobs]
            parts = place_and_keep_owned(decode_batch(outputs, score, nms_iou, meta.head), placements, grids)
            # Candidates are decoded on their own, not filtered from the detections' decode, so the
            # detections stay bit for bit what they were before candidates existed.
            candidates = (place_and_keep_owned(decode_batch(outputs, floor, nms_iou, meta.head,
                                                            MAX_CANDIDATE_ANCHORS_PER_TILE), placements, grids)
                          if floor < score else parts)
            cov_meta = np.array([[plan[p.index][0], *p.extra["cov"][:2], *p.extra["cov"][2].shape] for p in tiles], np.int64)
            cov_counts = np.concatenate([p.extra["cov"][2].ravel() for p in tiles])
            t1 = time.perf_counter()
            state.write_shard(batch_id, {**parts, **{CANDIDATE_PREFIX + k: v for k, v in candidates.items()},
                                         "plan_index": np.array([p.index for p in tiles]),
                                         "cov_meta": cov_meta, "cov_counts": cov_counts})
            timings.decode_merge += t1 - t0
            timings.write += time.perf_counter() - t1
            bar.update(len(tiles))
            if part is not None and part.on_tiles is not None:
                part.on_tiles(len(tiles))
            hooks.after_batch()

        # Readers take bands of tile columns: neighbouring tiles share GDAL blocks, and a block
        # is then decompressed once, by the reader whose cache holds it (2 readers taking tiles
        # in turn decompressed 1.7x the pixels of a deflate GeoTIFF).
        bands = [max(1, min(8, job.grid.n_cols // max(1, settings.readers))) for job in jobs]

        def reader_of(index: int) -> int:
            r, _, col = plan[index]
            return int(col) // bands[int(r)]

        timings.setup = time.perf_counter() - t_start
        try:
            run_pipeline(
                [batches_all[b] for b in todo_ids], todo_ids, prepare, session.run, handle,
                (3, tile, tile), batch, readers=settings.readers, timings=timings,
                pad_short_batches=session.fixed_batch is not None, streams=session.count, reader_of=reader_of,
                to_input=lambda image, slot: preprocess.normalise(image, out=slot),
            )
        finally:
            bar.close()
        if part is not None and part.stage == "band":
            # Detections are counted once, by finish, after the cross-tile NMS.
            return DetectResult(out, manifest, 0, tiles_run, {**timings.as_dict(), "tiles_run": tiles_run,
                                                              "total": round(time.perf_counter() - t_start, 3)})
        hooks.at("finalize")

        t0 = time.perf_counter()
        n_det, n_cand = build_final_outputs(out, state, jobs, len(batches_all), run_crs, meta, nms_iou,
                                            aoi is not None or exclude is not None)
        timings.finalize = time.perf_counter() - t0
        manifest.update(
            status="complete",
            finished=_now(),
            timings={**timings.as_dict(), "total": round(time.perf_counter() - t_start, 3),
                     "tiles_run": tiles_run},
            counts={"detections": n_det, "candidates": n_cand},
        )
        write_run_json(out, manifest)
        return DetectResult(out, manifest, n_det, tiles_run, manifest["timings"])
    finally:
        views.close()
        for job in jobs:
            job.source.close()


