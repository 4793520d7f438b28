"""Rewrite a debrismap ONNX file with its box decoding outside or inside the graph; no torch needed."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import onnx

from debrismap.errors import ConfigError, ModelError, OutputError
from debrismap.export.samples import generated_tiles
from debrismap.export.sidecar import ExportReport, write_sidecar
from debrismap.export.split_check import check_split, split_checked
from debrismap.export.stamping import replace_props
from debrismap.model.cpu_runner import run_on_cpu
from debrismap.model.graph_surgery import join_box_decoding
from debrismap.model.metadata import PREFIX, ModelMetadata


def convert_layout(source: str | Path, out: str | Path, decoded_output: bool = False) -> ExportReport:
    """Rewrite a debrismap ONNX file with its box decoding outside (or, decoded_output, inside) the graph.

    No torch needed: the weights and quantisation are copied as they are. A split file made from
    a decoded one is checked like export checks it, on generated tiles.
    """
    source, out = Path(source), Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError("output file must end in .onnx", path=out)
    if not out.parent.exists():
        raise OutputError("output folder does not exist", path=out.parent)
    try:
        model = onnx.load(str(source))
    except Exception as exc:
        raise ModelError(f"not a readable ONNX file ({str(exc).splitlines()[0][:120]})", path=source) from exc
    props = {p.key: p.value for p in model.metadata_props}
    meta = ModelMetadata.from_props(props, source=str(source))
    precision = props.get(PREFIX + "precision", "fp32")
    split = None
    with tempfile.TemporaryDirectory(prefix=".debrismap-export-", dir=out.parent) as tmp:
        tmp = Path(tmp)
        if decoded_output == (meta.head is None):
            onnx.save(model, str(tmp / "same.onnx"))
            final = tmp / "same.onnx"  # already in the asked layout: a plain copy
        elif decoded_output:
            head = meta.head
            joined = join_box_decoding(model, head, meta.input_size)
            meta = meta.with_decoded_output()
            replace_props(joined, {k: v for k, v in {**props, **meta.to_props()}.items() if k != PREFIX + "head"})
            final = tmp / "joined.onnx"
            onnx.save(joined, str(final))
            batch = generated_tiles(meta.input_size)  # the model's training data is not at hand
            split = check_split(run_on_cpu(final, batch)[0], run_on_cpu(source, batch), head, meta)
        else:
            if precision == "fp16":
                raise ConfigError("an fp16 model keeps its box decoding in the graph (it is for GPUs)", path=source)
            batch = generated_tiles(meta.input_size)  # the model's training data is not at hand
            final, meta, split = split_checked(source, tmp / "split.onnx", meta, batch)
        os.replace(final, out)
    report = ExportReport(path=str(out), precision=precision, opset=_opset(model), input_size=meta.input_size,
                          metadata=meta.to_props(), split=split)
    earlier = source.with_suffix(".export.json")  # the export that made the source file, if at hand
    write_sidecar(out, {**asdict(report), "converted_from": {
        "path": str(source), "export_report": json.loads(earlier.read_text()) if earlier.is_file() else None}})
    return report


def _opset(model) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
