"""The package installs and the two Docker images are plain and coherent.

No Docker engine runs in CI, so the Dockerfiles are checked as text against what the
project needs: the CPU image installs the base package only (no torch), the GPU image
the train extra plus onnxruntime-gpu, and both end in the `debrismap` entrypoint.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # Python 3.10, which requires-python allows
        tomllib = pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    text = dockerfile.read_text()
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_cpu_dockerfile_installs_base_package_without_torch():
    steps = _instructions(ROOT / "Dockerfile")
    assert steps[0][0] == "FROM"
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    assert "uv sync --locked" in runs
    assert "--extra train" not in runs and "--all-extras" not in runs and "torch" not in runs
    copies = [rest for word, rest in steps if word == "COPY"]
    for needed in ("pyproject.toml", "uv.lock", "src", "models"):
        assert any(needed in c for c in copies), needed
    assert ("ENTRYPOINT", '["debrismap"]') in steps
    assert "--extra cluster" in runs  # `batch --cluster slurm` (dask.distributed itself is in the base install)


def test_gpu_dockerfile_installs_train_extra_and_onnxruntime_gpu():
    steps = _instructions(ROOT / "gpu.Dockerfile")
    assert steps[0][0] == "FROM" and "cuda" in steps[0][1]
    runs = " ".join(rest for word, rest in steps if word == "RUN")
    assert "--extra train" in runs
    assert "onnxruntime-gpu" in runs
    assert "--extra cluster" in runs
    assert ("ENTRYPOINT", '["debrismap"]') in steps


def test_pyproject_keeps_torch_out_of_the_base_install():
    meta = _pyproject()["project"]
    base = " ".join(meta["dependencies"]).lower()
    for heavy in ("torch", "ultralytics", "lightning", "albumentations", "opencv"):
        assert heavy not in base, heavy
    assert meta["scripts"]["debrismap"] == "debrismap.cli:main"
    assert "AGPL" in meta["license"]


def test_console_command_lists_every_verb():
    out = subprocess.run(
        [sys.executable, "-m", "debrismap", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for verb in ("demo", "info", "synth", "chips", "train", "export", "detect", "heatmap",
                 "compare", "report", "evaluate"):
        assert verb in out, verb


def test_ci_script_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = 'uv run --locked --all-extras pytest -m "not slow and not gpu"'
    assert command in readme.split("\n## ")[0], "README must open with the test command"
    assert command in ci


def test_bundled_model_ships_with_metadata_and_in_the_wheel():
    import json

    import onnx

    from debrismap.detect.model_file import find_default_model
    from debrismap.model.metadata import PREFIX, ModelMetadata

    cpu, cuda = find_default_model("cpu"), find_default_model("cuda")
    assert cpu is not None and cpu.name == "debrismap-default-int8.onnx"  # faster on a CPU
    assert cuda is not None and cuda.name == "debrismap-default.onnx"  # CUDA runs int8 poorly
    include = _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    metas = {}
    for model in (cpu, cuda):
        props = {p.key: p.value for p in onnx.load(str(model), load_external_data=False).metadata_props}
        meta = metas[model.name] = ModelMetadata.from_props(props, str(model))
        assert meta.classes == ("debris",) and meta.gsd_m == 0.5 and meta.input_size == 256
        validation = json.loads(props[PREFIX + "validation"])  # measured on the file at export
        assert validation["images"] > 0 and validation["score_threshold"] == meta.score_threshold
        assert include[f"models/{model.name}"] == f"debrismap/models/{model.name}"
    # the twins come from one checkpoint: same training data line
    assert metas[cpu.name].training_data == metas[cuda.name].training_data


def test_debrismap_model_variable_overrides_the_bundled_choice(tmp_path, monkeypatch):
    from debrismap.detect.model_file import find_default_model

    mine = tmp_path / "mine.onnx"
    mine.write_bytes(b"x")
    monkeypatch.setenv("DEBRISMAP_MODEL", str(mine))
    assert find_default_model("cpu") == mine and find_default_model("cuda") == mine
