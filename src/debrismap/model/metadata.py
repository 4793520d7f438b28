"""The model metadata contract: the `debrismap.*` keys stored in an ONNX file's metadata_props.

Written by `export` (torch side) and read by `detect` (runtime side), so it must not import
torch or onnxruntime: it works on plain dicts of strings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from debrismap import __version__
from debrismap.errors import ModelError
from debrismap.model.split_head import SplitHead

PREFIX = "debrismap."
# "1": one output `output0` (N, 4 + nc, A), boxes decoded in the graph (ultralytics' layout).
# "2": the graph stops at the Detect head's convolutions (outputs box{i}, cls{i} per level) and
#      the `head` key says how to decode them (debrismap.model.split_head).
FORMAT_VERSION = "1"
SPLIT_HEAD_FORMAT_VERSION = "2"
SUPPORTED_FORMAT_VERSIONS = (FORMAT_VERSION, SPLIT_HEAD_FORMAT_VERSION)
REQUIRED_KEYS = (
    "classes",
    "input_size",
    "gsd_m",
    "bands",
    "normalization",
    "score_threshold",
    "nms_iou",
    "format_version",
    "training_data",
    "created",
    "software_version",
)


@dataclass(frozen=True)
class ModelMetadata:
    """What a detector needs to know about how its model was trained."""

    classes: tuple[str, ...]
    input_size: int  # square input side in pixels
    gsd_m: float  # ground sample distance the model was trained at, metres
    bands: tuple[str, ...] = ("red", "green", "blue")
    # How uint8 RGB pixels become model input: x / divisor, then (x - mean) / std per channel.
    normalization: dict = field(
        default_factory=lambda: {"type": "scale", "divisor": 255.0, "mean": [0.0] * 3, "std": [1.0] * 3}
    )
    score_threshold: float = 0.25
    nms_iou: float = 0.5
    format_version: str = FORMAT_VERSION
    training_data: str = ""
    created: str = ""
    software_version: str = __version__
    head: SplitHead | None = None  # set for format_version 2 files: box decoding runs in debrismap
    # every training run behind these weights, oldest first (warm starts extend it): optional
    training_history: tuple = ()

    @property
    def total_steps(self) -> int:
        return sum(int(run.get("steps", 0)) for run in self.training_history)

    @property
    def total_epochs(self) -> float:
        return round(sum(float(run.get("epochs", 0)) for run in self.training_history), 2)

    def with_split_head(self, head: SplitHead) -> ModelMetadata:
        """The metadata of the same model with its box decoding moved out of the graph."""
        return replace(self, head=head, format_version=SPLIT_HEAD_FORMAT_VERSION)

    def with_decoded_output(self) -> ModelMetadata:
        return replace(self, head=None, format_version=FORMAT_VERSION)

    def to_props(self) -> dict[str, str]:
        """Flatten to ONNX metadata_props: every value a string, keys prefixed."""
        out = {}
        for key, value in asdict(self).items():
            if key == "head":
                if self.head is not None:
                    out[PREFIX + key] = self.head.to_json()
                continue
            if key == "training_history" and not value:
                continue  # optional: files from before warm starts have none
            if isinstance(value, (list, tuple, dict)):
                text = json.dumps(list(value) if isinstance(value, tuple) else value)
            else:
                text = str(value)
            out[PREFIX + key] = text
        return out

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "model") -> ModelMetadata:
        """Parse ONNX metadata_props; raise ModelError naming what is missing or malformed."""
        missing = [k for k in REQUIRED_KEYS if PREFIX + k not in props]
        if missing:
            raise ModelError(
                "has no debrismap metadata"
                if len(missing) == len(REQUIRED_KEYS)
                else f"is missing debrismap metadata keys: {', '.join(missing)}",
                path=source,
            )
        try:
            def get(key: str) -> str:
                return props[PREFIX + key]

            meta = cls(
                classes=tuple(json.loads(get("classes"))),
                input_size=int(get("input_size")),
                gsd_m=float(get("gsd_m")),
                bands=tuple(json.loads(get("bands"))),
                normalization=dict(json.loads(get("normalization"))),
                score_threshold=float(get("score_threshold")),
                nms_iou=float(get("nms_iou")),
                format_version=get("format_version"),
                training_data=get("training_data"),
                created=get("created"),
                software_version=get("software_version"),
                training_history=tuple(json.loads(props.get(PREFIX + "training_history", "[]"))),
            )
        except (ValueError, TypeError) as exc:
            raise ModelError(f"has malformed debrismap metadata ({exc})", path=source) from exc
        if meta.format_version not in SUPPORTED_FORMAT_VERSIONS:
            raise ModelError(
                f"metadata format_version {meta.format_version} is not supported "
                f"(this debrismap reads {' and '.join(SUPPORTED_FORMAT_VERSIONS)}): a newer debrismap wrote it",
                path=source,
            )
        if meta.format_version == SPLIT_HEAD_FORMAT_VERSION:
            if PREFIX + "head" not in props:
                raise ModelError("is a format_version 2 model without the 'head' metadata key", path=source)
            meta = replace(meta, head=SplitHead.from_json(props[PREFIX + "head"], source))
        if not meta.classes or meta.input_size <= 0 or meta.gsd_m <= 0:
            raise ModelError("has invalid debrismap metadata (classes, input_size or gsd_m)", path=source)
        return meta
