"""The Dask cluster a batch runs on: an embedded LocalCluster, a running scheduler, or SLURM.

LocalCluster (the default) starts worker processes, one thread each: each worker runs one
ONNX Runtime session with its share of the cores, so workers x model threads = cores, and a
task never waits on another task's GIL. GDAL's block cache is capped per worker (detect caps
it too), so N workers do not each take GDAL's default 5% of RAM.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import dask
import yaml
from distributed import Client, LocalCluster

from debrismap.detect.session import physical_cores
from debrismap.errors import ConfigError

GDAL_CACHEMAX_MB = "128"
CONNECT_TIMEOUT_S = 20


@dataclass
class Engine:
    client: object  # distributed.Client
    kind: str  # "local", "scheduler" or "slurm"
    cluster: object | None = None  # owned here (closed with the engine); None for --scheduler
    info: dict = field(default_factory=dict)

    @property
    def dashboard(self) -> str | None:
        """The dashboard's address when the scheduler can serve one (it needs bokeh), else None.

        The scheduler's HTTP server (and so `dashboard_link`) exists either way; without bokeh
        it only serves a page asking to install it, which is not worth printing.
        """
        try:
            if self.kind == "scheduler":
                has_bokeh = self.client.run_on_scheduler(_has_bokeh)
            else:
                has_bokeh = _has_bokeh()  # the scheduler runs in this process
            return self.client.dashboard_link if has_bokeh else None
        except Exception:  # noqa: BLE001 - a dashboard is a convenience, never a failure
            return None

    def threads_by_host(self) -> tuple[tuple[str, int], ...]:
        """Worker threads per host, so that each worker's model takes its share of that host's cores."""
        counts: dict[str, int] = {}
        for address, worker in self.client.scheduler_info(n_workers=-1).get("workers", {}).items():
            host = address.split("://")[-1].rsplit(":", 1)[0]
            counts[host] = counts.get(host, 0) + int(worker.get("nthreads", 1))
        return tuple(sorted(counts.items()))

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def _has_bokeh() -> bool:
    return importlib.util.find_spec("bokeh") is not None


def _quiet_dask() -> None:


    # Worker deaths and retries are reported by batch itself, in one line each.
    for name in ("distributed", "distributed.nanny", "distributed.scheduler", "distributed.worker",
                 "distributed.core", "distributed.comm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # A busy 2-core machine stalls the event loop for seconds; that is not worth a warning each time.
    dask.config.set({"distributed.admin.tick.limit": "60s"})


def local_engine(workers: int | None) -> Engine:
    cores = physical_cores()
    n = int(workers or cores)
    if n < 1:
        raise ConfigError(f"--workers must be at least 1, got {n}")
    os.environ.setdefault("GDAL_CACHEMAX", GDAL_CACHEMAX_MB)  # inherited by the worker processes
    _quiet_dask()
    dashboard = ":0" if _has_bokeh() else None  # a free port: several batches may run on one machine
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=dashboard,
                           silence_logs=50)  # failures are reported by batch, one line each
    return Engine(Client(cluster), "local", cluster,
                  {"workers": n, "threads_per_worker": 1, "model_threads_per_worker": max(1, cores // n),
                   "scheduler": cluster.scheduler_address})


def scheduler_engine(address: str) -> Engine:
    _quiet_dask()
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc})") from exc
    n = len(client.scheduler_info(n_workers=-1).get("workers", {}))
    return Engine(client, "scheduler", None, {"workers": n, "scheduler": address})


def slurm_engine(config_path: Path | None, workers: int | None) -> Engine:
    """A dask-jobqueue SLURMCluster from a YAML file of SLURMCluster arguments (see docs/batch.md)."""

    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:
        raise ConfigError("--cluster slurm needs dask-jobqueue: pip install 'debrismap[cluster]'") from exc

    options = read_slurm_config(config_path, yaml)
    jobs = int(options.pop("jobs", workers or 1))
    if shutil.which("sbatch") is None:
        raise ConfigError("--cluster slurm submits jobs with sbatch, which is not on this machine's PATH "
                          "(run it on the cluster's login node)")
    os.environ.setdefault("GDAL_CACHEMAX", GDAL_CACHEMAX_MB)
    _quiet_dask()
    cluster = make_slurm_cluster(options, config_path, SLURMCluster)
    cluster.scale(jobs=jobs)
    return Engine(Client(cluster), "slurm", cluster, {"jobs": jobs, "scheduler": cluster.scheduler_address,
                                                     "job_script": cluster.job_script()})


def make_slurm_cluster(options: dict, config_path: Path | None, cluster_class):
    """The SLURMCluster (no job submitted yet); each job's workers get the capped GDAL cache."""
    options = {**options, "job_script_prologue": [*options.get("job_script_prologue", []),
                                                  f"export GDAL_CACHEMAX={GDAL_CACHEMAX_MB}"]}
    try:
        return cluster_class(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad SLURM cluster setting ({exc})", path=config_path) from exc


def read_slurm_config(config_path: Path | None, yaml) -> dict:
    if config_path is None:
        raise ConfigError("--cluster slurm needs --cluster-config FILE.yaml (SLURMCluster settings; see docs/batch.md)")
    try:
        options = yaml.safe_load(Path(config_path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the cluster config ({exc})", path=config_path) from exc
    if not isinstance(options, dict):
        raise ConfigError("the cluster config must be a mapping of SLURMCluster settings", path=config_path)
    options = dict(options.get("slurm", options))
    for required in ("cores", "memory"):
        if required not in options:
            raise ConfigError(f"the cluster config lacks {required!r} (per job)", path=config_path)
    return options


def start_engine(scheduler: str | None, cluster: str, workers: int | None, cluster_config: Path | None) -> Engine:
    if scheduler:
        if cluster != "local" or cluster_config is not None:
            raise ConfigError("--scheduler uses a running cluster; it does not combine with --cluster/--cluster-config")
        return scheduler_engine(scheduler)
    if cluster == "slurm":
        return slurm_engine(cluster_config, workers)
    if cluster_config is not None:
        raise ConfigError("--cluster-config applies to --cluster slurm only")
    return local_engine(workers)
