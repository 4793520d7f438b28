"""`debrismap batch`: many acquisitions (and huge mosaics) through detect on a Dask cluster.

    from debrismap.batch import collect_acquisitions, start_engine, run_batch, BatchOptions
    engine = start_engine(None, "local", 2, None)
    result = run_batch(collect_acquisitions(["scenes/"]), "runs", BatchOptions(DetectSettings()), engine)

Modules, one job each: stac (STAC files -> acquisitions), vrt (quadkey tiles -> one mosaic),
inputs (INPUT arguments -> acquisitions), engine (the Dask cluster), tasks (what workers run),
progress (one bar for the batch), manifest (batch.json / batch.csv), run (the whole batch).
"""

from debrismap.batch.engine import Engine, start_engine
from debrismap.batch.inputs import Acquisition, collect_acquisitions
from debrismap.batch.run import BatchOptions, BatchResult, run_batch

__all__ = ["Acquisition", "BatchOptions", "BatchResult", "Engine", "collect_acquisitions", "run_batch", "start_engine"]
