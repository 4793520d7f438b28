"""The ONNX Runtime session for a debrismap detector: load, validate against metadata, run batches.

Everything that can be wrong with a model file (not ONNX, truncated, no metadata, input
shape not what the metadata promises) is turned into a one-line ModelError here, before
any imagery is read.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from debrismap.errors import ConfigError, ModelError
from debrismap.model.metadata import PREFIX, ModelMetadata


@dataclass(frozen=True)
class UnlabelledModelFlags:
    """What the user must tell us about an ONNX file that carries no debrismap metadata."""

    input_size: int | None = None
    gsd_m: float | None = None
    classes: tuple[str, ...] = ("debris",)


def physical_cores() -> int:
    return psutil.cpu_count(logical=False) or psutil.cpu_count() or 1


def choose_providers(device: str) -> tuple[list, str]:
    """Execution providers for `device`, and the device actually used (after fallback)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"], "cpu"
    if device != "cuda":
        raise ConfigError(f"unknown --device {device!r} (use cpu or cuda)")
    if "CUDAExecutionProvider" not in available:
        warnings.warn(
            "CUDA was requested but this onnxruntime has no CUDA provider "
            "(install onnxruntime-gpu and a matching CUDA/cuDNN); running on the CPU instead",
            stacklevel=2,
        )
        return ["CPUExecutionProvider"], "cpu"
    providers: list = []
    if "TensorrtExecutionProvider" in available:
        cache = Path.home() / ".cache" / "debrismap" / "tensorrt"
        providers.append(
            (
                "TensorrtExecutionProvider",
                {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache), "trt_fp16_enable": False},
            )
        )
    providers += ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return providers, "cuda"


class ModelSession:
    """A validated detector: `metadata`, `input_size`, `num_classes`, and `run(batch) -> output0`."""

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        threads: int | None = None,
        unlabelled: UnlabelledModelFlags | None = None,
    ):
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError("model file not found", path=self.path)
        if not os.access(self.path, os.R_OK):  # else ONNX Runtime says "system error number 13"
            raise ModelError("permission denied: the model file is not readable", path=self.path)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = int(threads or physical_cores())
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # ORT's own warnings would break our one-line errors
        providers, self.device = choose_providers(device)
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=options, providers=providers)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"not a valid ONNX model (truncated, corrupt or not ONNX: {first[:160]})", path=self.path) from exc
        if self.device == "cuda" and "CUDAExecutionProvider" not in self._session.get_providers():
            warnings.warn("the CUDA provider failed to initialise; running on the CPU instead", stacklevel=2)
            self.device = "cpu"
        props = dict(self._session.get_modelmeta().custom_metadata_map)
        self.metadata = self._metadata(props, unlabelled)
        self.validation = _optional_json(props.get(PREFIX + "validation"))
        self._check_io()
        self._binding = self._session.io_binding() if self.device == "cuda" else None

    # -- validation -------------------------------------------------------------------------
    def _metadata(self, props: dict, unlabelled: UnlabelledModelFlags | None) -> ModelMetadata:
        if any(key.startswith(PREFIX) for key in props):
            return ModelMetadata.from_props(props, source=str(self.path))  # names what is missing
        if unlabelled is None:
            raise ModelError(
                "has no debrismap metadata (it was not written by `debrismap export`); "
                "if you know how it was trained, pass --accept-unlabelled-model "
                "--input-size S --gsd G [--classes debris]",
                path=self.path,
            )
        if unlabelled.input_size is None or unlabelled.gsd_m is None:
            raise ConfigError("--accept-unlabelled-model needs --input-size and --gsd")
        return ModelMetadata(
            classes=tuple(unlabelled.classes), input_size=int(unlabelled.input_size), gsd_m=float(unlabelled.gsd_m)
        )

    def _check_io(self) -> None:
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        meta = self.metadata
        if len(inputs) != 1 or len(outputs) < 1:
            raise ModelError(f"expects {len(inputs)} inputs; a debrismap detector has one image input", path=self.path)
        shape = inputs[0].shape
        if len(shape) != 4:
            raise ModelError(f"input {inputs[0].name!r} has shape {shape}, expected (N, 3, S, S)", path=self.path)
        if isinstance(shape[1], int) and shape[1] != len(meta.bands):
            raise ModelError(
                f"input takes {shape[1]} bands but its metadata lists {len(meta.bands)} ({', '.join(meta.bands)})",
                path=self.path,
            )
        if len(meta.bands) != 3:
            raise ModelError(f"detect supports 3-band (RGB) models; this one has bands {meta.bands}", path=self.path)
        for dim in shape[2:]:
            if isinstance(dim, int) and dim != meta.input_size:
                raise ModelError(
                    f"input is {shape[2]}x{shape[3]} pixels but its metadata says input_size {meta.input_size}",
                    path=self.path,
                )
        if "float" not in inputs[0].type:
            raise ModelError(f"input type is {inputs[0].type}, expected tensor(float)", path=self.path)
        if meta.head is not None:
            self._check_split_outputs(outputs)
        else:
            self._check_decoded_output(outputs)
        self.input_name = inputs[0].name
        self.output_names = [o.name for o in outputs] if meta.head is not None else [outputs[0].name]
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        self.fixed_spatial = isinstance(shape[2], int) or isinstance(shape[3], int)

    def _check_decoded_output(self, outputs) -> None:
        meta = self.metadata
        out_shape = outputs[0].shape
        if len(out_shape) != 3:
            raise ModelError(f"output has shape {out_shape}, expected (N, 4 + classes, anchors)", path=self.path)
        if isinstance(out_shape[1], int) and out_shape[1] != 4 + len(meta.classes):
            raise ModelError(
                f"output has {out_shape[1]} rows per anchor but 4 + {len(meta.classes)} classes are expected",
                path=self.path,
            )

    def _check_split_outputs(self, outputs) -> None:
        """A split-head file: outputs box0.., cls0.. with 4 * reg_max and nc channels per level."""
        head, nc = self.metadata.head, len(self.metadata.classes)
        names = [o.name for o in outputs]
        if names != head.output_names():
            raise ModelError(
                f"outputs are {', '.join(names)} but its 'head' metadata promises {', '.join(head.output_names())}",
                path=self.path,
            )
        levels = len(head.strides)
        for i, out in enumerate(outputs):
            channels = 4 * head.reg_max if i < levels else nc
            if len(out.shape) != 4 or (isinstance(out.shape[1], int) and out.shape[1] != channels):
                raise ModelError(f"output {out.name} has shape {out.shape}, expected (N, {channels}, H, W)", path=self.path)

    # -- running -----------------------------------------------------------------------------
    @property
    def input_size(self) -> int:
        return self.metadata.input_size

    @property
    def num_classes(self) -> int:
        return len(self.metadata.classes)

    @property
    def providers(self) -> list[str]:
        return list(self._session.get_providers())

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """(N, 3, S, S) float32 -> the model's outputs, for `decode_batch`. Releases the GIL while it runs.

        One (N, 4 + nc, A) array for a decoded-output model, box0.., cls0.. for a split-head one.
        """
        if self._binding is None:
            return self._session.run(self.output_names, {self.input_name: batch})
        import onnxruntime as ort

        # IO binding: the batch goes to the GPU once, the outputs come back once.
        binding = self._binding
        binding.clear_binding_inputs()
        binding.clear_binding_outputs()
        binding.bind_ortvalue_input(self.input_name, ort.OrtValue.ortvalue_from_numpy(batch, "cuda", 0))
        for name in self.output_names:
            binding.bind_output(name, "cuda", 0)
        self._session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()


def _optional_json(text: str | None) -> dict | None:
    """An optional JSON metadata value (e.g. the export's validation scores); None if absent or bad."""

    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def default_session_count(device: str, threads: int) -> int:
    """How many sessions run side by side: two on a CPU with at least two threads, else one.

    Two sessions of half the threads each keep a small CPU busier than one session with all
    of them (int8 default model, 2 cores: 10.5 vs 12.5 ms a tile): the late layers are too
    small to split well inside one operator, and a reader thread taking a core then stalls
    one session instead of every operator's barrier. A GPU runs one session.
    """
    return 2 if device == "cpu" and threads >= 2 else 1


class SessionPool:
    """`count` ModelSessions of the same file, run concurrently from as many threads.

    `run(batch)` takes whichever session is free, so up to `count` batches are in the model at
    once (ONNX Runtime releases the GIL while it runs). Everything else is the first session's.
    The first session is made (and the file validated) at once; the others are made in
    background threads (ONNX Runtime builds sessions without holding the GIL) while the caller
    opens rasters and plans tiles, and join the pool as they are ready.
    """

    def __init__(
        self,
        path: str | Path,
        device: str = "cpu",
        threads: int | None = None,
        unlabelled: UnlabelledModelFlags | None = None,
        count: int | None = None,
    ):
        total = int(threads or physical_cores())
        if count is not None and count < 1:
            raise ConfigError(f"--sessions must be at least 1, got {count}")
        wanted = count or default_session_count(device, total)
        per_session = max(1, total // wanted)
        first = ModelSession(path, device, per_session, unlabelled)  # validates the file once
        if first.device != "cpu":
            wanted = 1  # one GPU session; extra ones would only contend for the device
        self.sessions = [first]
        self.threads_per_session = per_session
        self._count = wanted
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        self._free.put(first)
        self._makers = [
            threading.Thread(target=self._add_session, args=(path, first.device, per_session, unlabelled), daemon=True)
            for _ in range(wanted - 1)
        ]
        for maker in self._makers:
            maker.start()

    def _add_session(self, path, device, threads, unlabelled) -> None:
        try:
            session = ModelSession(path, device, threads, unlabelled)
        except Exception as exc:  # noqa: BLE001 - the first session works: run on with fewer
            warnings.warn(f"could not start an extra model session ({exc}); running with fewer", stacklevel=1)
            return
        self.sessions.append(session)
        self._free.put(session)

    def wait_ready(self) -> None:
        """Block until every session is made (benchmarks time the model, not its start-up)."""
        for maker in self._makers:
            maker.join()

    @property
    def count(self) -> int:
        """Sessions run side by side once all are made (batches beyond that wait for a free one)."""
        return self._count

    def __getattr__(self, name: str):
        # metadata, input_size, device, providers, fixed_batch...: the same for every session
        if name == "sessions":
            raise AttributeError(name)
        return getattr(self.sessions[0], name)

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        session = self._free.get()
        try:
            return session.run(batch)
        finally:
            self._free.put(session)
