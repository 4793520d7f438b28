"""The detect pipeline: reader threads prepare tiles while the model runs, a post thread decodes and saves.

    reader threads (N)          main thread                  post thread (1)
    read window, fill,   --->   assemble batch, run    --->  decode, NMS, keep-by-core,
    normalise (GIL free         ONNX Runtime (GIL free       write the batch's shard
    in rasterio / numpy)        inside the session)

Tiles are submitted in plan order and at most `ahead` are in flight, so memory is bounded
whatever the raster size; the post queue holds at most two batches. Batches are fixed by the
plan, so a resumed run feeds the model exactly the same batches as an unbroken one.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np


@dataclass
class PreparedTile:
    index: int  # position in the plan
    image: np.ndarray  # (3, S, S) tile pixels, uint8 until `to_input` writes them into the batch
    valid: np.ndarray  # (S, S) bool
    extra: dict = field(default_factory=dict)  # e.g. coverage counts for the tile's core
    read_s: float = 0.0
    prep_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of the reader thread for this tile (read + prepare)


@dataclass
class Timings:
    """Seconds. read is summed over reader threads (busy time, not wall time); preprocess adds the
    reader-side masking to the main thread's normalisation into the batch."""

    read: float = 0.0
    preprocess: float = 0.0
    inference: float = 0.0
    decode_merge: float = 0.0
    write: float = 0.0
    wait_for_tiles: float = 0.0  # main thread starved by the readers: should stay near zero
    setup: float = 0.0  # model load, opening rasters, planning, before the first tile
    reader_cpu: float = 0.0  # CPU seconds the reader threads spent (what they take from the model)
    post_cpu: float = 0.0  # CPU seconds of decoding, merging and shard writing
    finalize: float = 0.0  # building the final files from the shards

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.__dict__.items()}


class _PostThread(threading.Thread):
    """Runs `handle(batch_id, tiles, output)` off the main thread; remembers the first error."""

    def __init__(self, handle: Callable, depth: int = 2):
        super().__init__(name="debrismap-post", daemon=True)
        self.handle = handle
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self.cpu = 0.0

    def run(self) -> None:
        _yield_to_model()
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    c0 = time.thread_time()
                    self.handle(*item)
                    self.cpu += time.thread_time() - c0
                except BaseException as exc:  # noqa: BLE001 - re-raised by the main thread
                    self.error = exc

    def put(self, item) -> None:
        while True:
            if self.error is not None:
                raise self.error
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        self.queue.put(None)
        self.join()
        if self.error is not None:
            raise self.error


def _first(outputs, n: int):
    """The rows of the batch's real tiles (a padded batch carries zeros after them), per output."""
    if isinstance(outputs, (list, tuple)):
        return [o[:n] for o in outputs]
    return outputs[:n]


READER_NICENESS = 5


def _yield_to_model() -> None:
    """Lower this reader thread's priority (Linux: per thread), so that on a machine with few
    cores the model's threads win every contest for a core and reading fills only the gaps;
    the prefetch queue absorbs the delay. Elsewhere a no-op."""

    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), READER_NICENESS)
    except (AttributeError, OSError):
        pass


def run_pipeline(
    batches: list[list[int]],
    batch_ids: list[int],
    prepare: Callable[[int], PreparedTile],
    infer: Callable[[np.ndarray], list[np.ndarray]],
    handle: Callable[[int, list[PreparedTile], list[np.ndarray]], None],
    input_shape: tuple[int, int, int],
    batch_size: int,
    readers: int = 2,
    ahead: int | None = None,
    timings: Timings | None = None,
    pad_short_batches: bool = False,
    streams: int = 1,
    reader_of: Callable[[int], int] | None = None,
    to_input: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> Timings:
    """Push `batches` (lists of plan indices) through prepare -> infer -> handle.

    Batches are fixed by the plan, so the short last batch is the same short batch in an
    unbroken and in a resumed run; it is zero-padded only for models with a fixed batch size.
    With `streams` > 1, that many batches are in `infer` at once (from as many threads; `infer`
    must allow it) and are handed to `handle` in plan order. `timings.inference` then sums the
    model's busy seconds over the streams. `reader_of(index)` picks the reader thread of a tile
    (default: round robin). `to_input(image, slot)` writes a prepared tile into its batch slot
    (default: a copy): tiles wait in the queue as uint8 and become float32 only there, which
    keeps the queue a quarter of the size.
    """
    timings = timings or Timings()
    ahead = ahead or (streams + 2) * batch_size + readers
    order = [i for batch in batches for i in batch]
    # ONNX Runtime reads the numpy memory in place while it runs, so each batch in the model owns
    # a buffer. With several streams there is one more buffer than streams: the next batch is
    # assembled and queued while all streams run, and whichever session frees first takes it.
    # With exactly one per stream, a stream that finished early sat idle until the oldest batch
    # (handed on in plan order) returned its buffer: 0.5 s of gaps per stream in a 7 s run.
    n_buffers = streams + 1 if streams > 1 else 1
    buffers = [np.zeros((batch_size, *input_shape), np.float32) for _ in range(n_buffers)]
    free_buffers = list(range(n_buffers))
    post = _PostThread(handle)
    post.start()
    # One single-thread pool per reader, so that `reader_of` decides which reader reads a tile:
    # each reader has its own raster handle and GDAL block cache, and tiles that share blocks
    # should go to the same one (each block is decompressed once instead of once per reader).
    pools = [
        ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"debrismap-read{k}", initializer=_yield_to_model)
        for k in range(readers)
    ]
    reader_of = reader_of or (lambda index: index)
    to_input = to_input or (lambda image, slot: np.copyto(slot, image))
    model_pool = ThreadPoolExecutor(max_workers=streams, thread_name_prefix="debrismap-model") if streams > 1 else None
    futures: deque = deque()
    in_model: deque = deque()  # (batch_id, tiles, n, buffer index, future) in plan order
    next_index = 0

    def timed_infer(model_input: np.ndarray) -> tuple[np.ndarray, float]:
        t0 = time.perf_counter()
        output = infer(model_input)
        return output, time.perf_counter() - t0

    def hand_on_oldest() -> None:
        batch_id, tiles, n, buffer_index, future = in_model.popleft()
        output, seconds = future.result()
        timings.inference += seconds
        free_buffers.append(buffer_index)
        post.put((batch_id, tiles, _first(output, n)))

    def top_up() -> None:
        nonlocal next_index
        while len(futures) < ahead and next_index < len(order):
            index = order[next_index]
            futures.append(pools[reader_of(index) % readers].submit(prepare, index))
            next_index += 1

    try:
        for batch_id, batch in zip(batch_ids, batches):
            top_up()
            if not free_buffers:
                hand_on_oldest()
            buffer_index = free_buffers.pop()
            buffer = buffers[buffer_index]
            tiles = []
            for slot in range(len(batch)):
                t0 = time.perf_counter()
                tile = futures.popleft().result()
                timings.wait_for_tiles += time.perf_counter() - t0
                top_up()
                t1 = time.perf_counter()
                to_input(tile.image, buffer[slot])
                timings.preprocess += time.perf_counter() - t1
                tile.image = None  # the batch buffer holds it now; free the copy early
                timings.read += tile.read_s
                timings.preprocess += tile.prep_s
                timings.reader_cpu += tile.cpu_s
                tiles.append(tile)
            if pad_short_batches and len(batch) < batch_size:
                buffer[len(batch):] = 0.0
                model_input = buffer
            else:
                model_input = buffer[: len(batch)]  # a view: no copy
            if model_pool is None:
                output, seconds = timed_infer(model_input)
                timings.inference += seconds
                free_buffers.append(buffer_index)
                post.put((batch_id, tiles, _first(output, len(batch))))
            else:
                future = model_pool.submit(timed_infer, model_input)
                in_model.append((batch_id, tiles, len(batch), buffer_index, future))
        while in_model:
            hand_on_oldest()
        post.finish()
        timings.post_cpu += post.cpu
    except BaseException:
        for future in futures:
            future.cancel()
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)
        if model_pool is not None:
            model_pool.shutdown(wait=True, cancel_futures=True)  # a running batch still owns its buffer
        try:
            post.queue.put_nowait(None)  # stop the post thread if it is idle; it is a daemon anyway
        except queue.Full:
            pass
        raise
    for pool in pools:
        pool.shutdown(wait=True)
    if model_pool is not None:
        model_pool.shutdown(wait=True)
    return timings
