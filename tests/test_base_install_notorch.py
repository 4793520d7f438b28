"""Every base-install verb runs with the training stack unimportable, and the check can fail.

A meta-path finder placed first in a fresh interpreter refuses torch, torchvision,
ultralytics, lightning, pytorch_lightning, cv2 and albumentations (and their submodules),
recording every attempt and which file made it. A verb passes only if it exits 0, no
blocked module ended up in sys.modules, and nothing in debrismap even tried to import one
(a `try: import torch` fallback would otherwise hide a leak). Third-party libraries that
probe for torch on their own are reported but not counted against debrismap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

BLOCKED = ("torch", "torchvision", "ultralytics", "lightning", "pytorch_lightning", "cv2", "albumentations")

HARNESS = textwrap.dedent("""
    import importlib.abc, json, os, sys, time, traceback

    BLOCKED = set({blocked!r})
    attempts = []

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] not in BLOCKED:
                return None
            importer = next((f.filename for f in reversed(traceback.extract_stack()[:-1])
                             if not f.filename.startswith("<frozen")), "?")
            attempts.append({{"module": name, "from": importer}})
            raise ImportError(f"{{name}} is not installed (blocked by the base-install test)")

    sys.meta_path.insert(0, Refuse())
    report = []

    def step(label, body):
        del attempts[:]
        start = time.perf_counter()
        try:
            code = body()
        except BaseException as exc:
            code = f"raised {{type(exc).__name__}}: {{exc}}"
        loaded = sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED and sys.modules[n] is not None)
        report.append({{"step": label, "code": code, "attempts": list(attempts), "loaded": loaded,
                       "seconds": round(time.perf_counter() - start, 2)}})

    def verb(*argv):
        from debrismap.cli import main
        step(argv[0], lambda: main(list(argv)))

    {steps}

    with open(os.environ["HARNESS_REPORT"], "w") as f:
        json.dump(report, f)
""")


def run_without_training_stack(steps: str, tmp_path: Path) -> list[dict]:
    """Run `steps` (calls of verb(...) / step(label, fn)) with the training stack blocked; one record a step."""
    report = tmp_path / "harness.json"
    script = HARNESS.format(blocked=BLOCKED, steps=textwrap.indent(textwrap.dedent(steps), "").strip())
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True,
                          timeout=300, env={**_env(), "HARNESS_REPORT": str(report)}, cwd=tmp_path)
    assert proc.returncode == 0 and report.exists(), proc.stderr[-3000:]
    return json.loads(report.read_text())


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("DEBRISMAP_")}


def leaks(record: dict) -> list[str]:
    """Blocked modules that were loaded, or that debrismap's own code tried to import."""
    from_us = [a["module"] for a in record["attempts"] if "debrismap" in Path(a["from"]).parts]
    return record["loaded"] + from_us


def test_the_check_catches_a_leaking_import(tmp_path):
    """The same harness on code that tries torch (and survives the refusal) reports the attempt."""
    leaky = tmp_path / "debrismap" / "leaky.py"
    leaky.parent.mkdir()
    leaky.write_text("try:\n    import torch.nn\nexcept ImportError:\n    torch = None\n")
    report = run_without_training_stack(f"""
        sys.path.insert(0, {str(leaky.parent)!r})
        step("leaky", lambda: __import__("leaky") and 0)
        step("clean", lambda: __import__("json") and 0)
        def smuggle():
            import types
            sys.modules["cv2"] = types.ModuleType("cv2")  # a module that slipped in by another route
            return 0
        step("smuggled", smuggle)
    """, tmp_path)
    by_step = {r["step"]: r for r in report}
    assert by_step["leaky"]["code"] == 0
    assert leaks(by_step["leaky"]) == ["torch"]
    assert leaks(by_step["clean"]) == []
    assert leaks(by_step["smuggled"]) == ["cv2"]


def test_every_base_install_verb_runs_with_the_training_stack_blocked(tmp_path):
    report = run_without_training_stack("""
        verb("synth", "--size", "256", "--seed", "3", "--out", "city.tif")
        verb("info", "city.tif")
        verb("detect", "city.tif", "--out", "run", "--quiet")  # bundled model: debrismap decodes the boxes
        verb("heatmap", "run", "--title", "again", "--out", "heatmap_again")
        verb("evaluate", "run", "city.labels.geojson", "--out", "evaluation")
        verb("chips", "city.tif", "--labels", "city.labels.geojson", "--out", "chips", "--gsd", "0.5")
        verb("compare", "run", "run", "--out", "change")
        verb("report", "run")
    """, tmp_path)
    assert [r["step"] for r in report] == ["synth", "info", "detect", "heatmap", "evaluate", "chips",
                                           "compare", "report"]
    for record in report:
        assert record["code"] == 0, record
        assert leaks(record) == [], record
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["model"]["box_decoding"] == "debrismap" and run["status"] == "complete"
    for made in ("run/heatmap.png", "heatmap_again/heatmap.png", "chips", "change", "run/density.tif"):
        assert (tmp_path / made).exists(), made


# debrismap.model is shared with the training side; converting an ONNX file's layout and
# validating one (export.layout, export.validation) need no torch either.
RUNTIME_PACKAGES = ("debrismap.cli", "debrismap.raster", "debrismap.detect", "debrismap.aggregate", "debrismap.evaluate",
                    "debrismap.labels", "debrismap.synth", "debrismap.vector_io", "debrismap.geometry",
                    "debrismap.chips", "debrismap.timeline", "debrismap.batch", "debrismap.model.metadata",
                    "debrismap.model.split_head", "debrismap.model.cpu_runner", "debrismap.model.graph_surgery",
                    "debrismap.export.validation", "debrismap.export.layout", "debrismap.commands.export")


def test_runtime_packages_import_nothing_heavy():
    """Plain imports (no blocking): which runtime package, if any, pulls a training library in."""
    script = textwrap.dedent(f"""
        import importlib, sys
        for name in {RUNTIME_PACKAGES!r}:
            importlib.import_module(name)
            heavy = [n for n in {BLOCKED!r} if n in sys.modules]
            if heavy:
                print(name, "imports", heavy)
                break
        else:
            print("clean")
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "clean"
