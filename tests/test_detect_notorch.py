"""`debrismap detect` must run from the base install: no torch, torchvision, ultralytics or cv2."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from test_detect_oracle import build_oracle, draw_squares, write_raster

BLOCKED = ("torch", "torchvision", "ultralytics", "cv2", "pytorch_lightning", "lightning", "albumentations")


def test_detect_runs_with_the_training_stack_blocked(tmp_path):
    model = build_oracle(tmp_path / "oracle.onnx")
    raster = write_raster(tmp_path / "r.tif", draw_squares(128, 128, [(20, 30), (90, 90)]))
    script = textwrap.dedent(f"""
        import sys
        for name in {BLOCKED!r}:
            sys.modules[name] = None  # any import of these now raises ImportError
        from debrismap.cli import main
        code = main(["detect", {str(raster)!r}, "--out", {str(tmp_path / "run")!r}, "--model", {str(model)!r},
                     "--overlap", "16", "--quiet", "--no-heatmap"])
        loaded = [n for n in {BLOCKED!r} if sys.modules.get(n) is not None]
        print("LOADED", loaded)
        sys.exit(code)
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "2 detections" in proc.stdout
    assert "LOADED []" in proc.stdout


def test_detect_modules_import_nothing_heavy():
    script = "import sys, debrismap.detect, debrismap.commands.detect, debrismap.commands.demo; " \
             f"print([n for n in {BLOCKED!r} if n in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_model_contract_and_layout_conversion_import_nothing_heavy():
    """debrismap.model is shared with the runtime side; converting an ONNX file's layout needs no torch."""
    modules = ("debrismap.model.metadata", "debrismap.model.split_head", "debrismap.model.cpu_runner",
               "debrismap.model.graph_surgery", "debrismap.export.validation", "debrismap.export.layout",
               "debrismap.commands.export")
    script = f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; " \
             f"print([n for n in {BLOCKED!r} if n in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
