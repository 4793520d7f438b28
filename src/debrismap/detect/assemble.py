"""Build the run's final files from every shard: merge across tiles, world coordinates,
AOI/exclusion filtering, reprojection to the run CRS, detections, candidates and coverage files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from debrismap.detect import hooks
from debrismap.detect.coverage import CoverageGrid
from debrismap.detect.merge import merge_across_tiles
from debrismap.detect.plan import RasterJob
from debrismap.detect.state import RunState
from debrismap.detect.writers import write_candidates, write_coverage, write_detections
from debrismap.errors import OutputError
from debrismap.geometry.boxes import box_polygons
from debrismap.geometry.crs import reproject

CANDIDATE_PREFIX = "cand_"  # shard keys of the candidates (boxes down to the candidate floor)
PART_KEYS = ("boxes", "scores", "classes", "raster", "tile_row", "tile_col")


def build_final_outputs(out: Path, state: RunState, jobs: list[RasterJob], n_batches: int, run_crs, meta,
              nms_iou: float, has_regions: bool) -> tuple[int, int]:
    """Build detections.gpkg/.geojson, candidates.gpkg and coverage.gpkg from every shard.

    Returns (detections, candidates) written. Detections and candidates go through the same
    merge, regions and reprojection, each from its own shard arrays.
    """

    keys = PART_KEYS + tuple(CANDIDATE_PREFIX + k for k in PART_KEYS)
    chunks = {k: [] for k in keys}
    coverage = [CoverageGrid(job.view.width, job.view.height) for job in jobs]
    for b in range(n_batches):
        try:
            shard = state.read_shard(b)
            for k in keys:
                chunks[k].append(shard[k])
        except (OSError, ValueError, KeyError) as exc:
            raise OutputError(f"resume state is damaged ({exc}); rerun with --force", path=state.shard_path(b)) from exc
        offset = 0
        for r, iy0, ix0, ny, nx in shard["cov_meta"]:
            coverage[r].add(int(iy0), int(ix0), shard["cov_counts"][offset: offset + ny * nx].reshape(ny, nx))
            offset += ny * nx
    parts = {k: (np.concatenate(v) if v else np.empty((0, 4) if k.endswith("boxes") else 0)) for k, v in chunks.items()}
    crs_wkt = run_crs.to_wkt() if run_crs else None
    geoms, fields = _final_rows({k: parts[k] for k in PART_KEYS}, jobs, run_crs, meta, nms_iou, has_regions)
    write_detections(out, geoms, crs_wkt, fields)
    n_detections = len(geoms)
    geoms, fields = _final_rows({k: parts[CANDIDATE_PREFIX + k] for k in PART_KEYS}, jobs, run_crs, meta, nms_iou,
                                has_regions)
    write_candidates(out, geoms, crs_wkt, fields)
    hooks.at("finalize:detections")

    cover = []
    for job, grid in zip(jobs, coverage):
        area = grid.polygon(job.view.transform)
        if area is not None and job.aoi is not None:
            area = shapely.intersection(area, job.aoi)
        if area is not None and job.exclude is not None:
            area = shapely.difference(area, job.exclude)
        if area is not None and job.source.crs is not None and run_crs is not None and job.source.crs != run_crs:
            area = reproject(np.asarray([area], object), job.source.crs.to_wkt(), run_crs.to_wkt())[0]
        cover.append(area)
    write_coverage(out, cover, crs_wkt, [job.name for job in jobs])
    return n_detections, len(geoms)


def _final_rows(parts: dict, jobs: list[RasterJob], run_crs, meta, nms_iou: float, has_regions: bool):
    """(polygons in the run CRS, attribute columns) of one set of shard boxes after cross-tile NMS,
    the area of interest and the exclusions."""
    parts["boxes"] = parts["boxes"].reshape(-1, 4)
    keep = merge_across_tiles(parts, nms_iou, len(meta.classes))
    parts = {k: v[keep] for k, v in parts.items()}

    geoms, keep_rows = [], []
    for job in jobs:
        sel = np.nonzero(parts["raster"] == job.index)[0]
        polys = box_polygons(parts["boxes"][sel], job.view.transform)
        if has_regions and len(sel):
            corners = shapely.get_coordinates(polys).reshape(-1, 5, 2)[:, :4]
            cx, cy = corners[..., 0].mean(axis=1), corners[..., 1].mean(axis=1)
            ok = np.ones(len(sel), bool)
            if job.aoi is not None:
                ok &= shapely.contains_xy(job.aoi, cx, cy)
            if job.exclude is not None:
                ok &= ~shapely.contains_xy(job.exclude, cx, cy)
            sel, polys = sel[ok], polys[ok]
        if job.source.crs is not None and run_crs is not None and job.source.crs != run_crs:
            polys = reproject(polys, job.source.crs.to_wkt(), run_crs.to_wkt())
        geoms.append(polys)
        keep_rows.append(sel)
    rows = np.concatenate(keep_rows) if keep_rows else np.empty(0, np.intp)
    geoms = np.concatenate(geoms) if geoms else np.empty(0, object)
    names = np.asarray(meta.classes, dtype=object)
    fields = {
        "score": parts["scores"][rows].astype(np.float64),
        "class": parts["classes"][rows].astype(np.int32),
        "class_name": names[parts["classes"][rows]] if len(rows) else np.empty(0, object),
        "tile_row": parts["tile_row"][rows].astype(np.int32),
        "tile_col": parts["tile_col"][rows].astype(np.int32),
        "source": np.asarray([jobs[r].name for r in parts["raster"][rows]], dtype=object),
    }
    return geoms, fields
