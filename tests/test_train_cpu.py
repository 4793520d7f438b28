"""Training on a CPU: crops around piles, warm start from an exported ONNX file, training history."""



from __future__ import annotations

import copy
import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("pytorch_lightning")
ort = pytest.importorskip("onnxruntime")

from debrismap.cli import main
from debrismap.errors import ConfigError, ModelError
from debrismap.model.graph_surgery import join_box_decoding
from debrismap.model.metadata import PREFIX, ModelMetadata
from debrismap.train.augment import TrainTransform, pile_crop
from debrismap.train.config import make_config
from debrismap.train.dataset import Sample
from debrismap.train.model import build_detection_model, set_export_mode
from debrismap.train.toy import make_toy_dataset
from debrismap.train.warm_start import (
    calibrate_batchnorm,
    load_fused_weights,
    onnx_weights,
    read_training_history,
)

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "models" / "debrismap-default.onnx"
TINY = {"model": "n", "width": 0.0625, "imgsz": 128, "batch": 4, "workers": 0,
        "accelerator": "cpu", "devices": "1", "lr": 0.01, "warmup_epochs": 0.0, "augment": False}


def chip(boxes) -> Sample:
    image = np.zeros((256, 256, 3), np.uint8)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Sample(image, boxes, np.zeros(len(boxes), np.int64), "chip.png")


# -- crops --------------------------------------------------------------------------------------
def test_pile_crop_keeps_the_chosen_pile_whole_and_moves_the_boxes():
    rng = random.Random(0)
    for _ in range(200):
        out = pile_crop(chip([[200, 30, 210, 38]]), 128, background=0.0, rng=rng)
        assert out.image.shape == (128, 128, 3)
        assert len(out.boxes) == 1
        x0, y0, x1, y1 = out.boxes[0]
        assert x1 - x0 == pytest.approx(10) and y1 - y0 == pytest.approx(8)  # whole, not clipped
        assert x0 >= 0 and x1 <= 128 and y0 >= 0 and y1 <= 128


def test_pile_crop_places_piles_off_centre_and_background_windows_anywhere():
    rng = random.Random(1)
    lefts = {int(pile_crop(chip([[120, 120, 130, 130]]), 128, 0.0, rng).boxes[0, 0]) for _ in range(100)}
    assert len(lefts) > 20  # the pile is not always at the same place in the window
    def empty_windows(background: float) -> int:
        return sum(len(pile_crop(chip([[0, 0, 8, 8]]), 128, background, rng).boxes) == 0
                   for _ in range(200))

    assert empty_windows(0.0) == 0  # a window around the corner pile every time
    assert empty_windows(1.0) > 180  # background windows land anywhere: rarely on that corner
    assert 60 < empty_windows(0.5) < 140


def test_train_transform_with_crop_gives_crop_sized_batches_and_small_chips_pass_whole():
    transform = TrainTransform(256, scale_jitter=0.0, augment=True, crop=64, crop_background=0.25)
    assert transform(chip([[100, 100, 110, 110]]), None).image.shape == (64, 64, 3)
    small = Sample(np.zeros((48, 48, 3), np.uint8), np.zeros((0, 4), np.float32),
                   np.zeros(0, np.int64), "s.png")
    assert pile_crop(small, 64, 0.0, random.Random(0)) is small


def test_crop_config_is_validated_and_has_a_flag(tmp_path, capsys):
    assert make_config(None, {"crop": 128}).crop == 128
    with pytest.raises(ConfigError, match="crop must be"):
        make_config(None, {"crop": 100})
    with pytest.raises(ConfigError, match="crop_background"):
        make_config(None, {"crop_background": 1.5})
    assert main(["train", "--data", str(tmp_path), "--crop", "100"]) == 2
    assert "crop must be" in capsys.readouterr().err


# -- warm start ---------------------------------------------------------------------------------
def onnx_raw_output(path: Path, x: np.ndarray) -> np.ndarray:
    """The file's (N, 4 + nc, A) output, its box decoding joined back into the graph."""
    import onnx

    proto = onnx.load(str(path))
    meta = ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props}, source=str(path))
    if meta.head is not None:
        proto = join_box_decoding(proto, meta.head, meta.input_size)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def torch_raw_output(model, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        out = set_export_mode(copy.deepcopy(model).eval())(torch.from_numpy(x))
    return (out[0] if isinstance(out, (tuple, list)) else out).numpy()


def test_bundled_model_warm_starts_into_a_trainable_network_with_its_outputs():
    """Unfused (BatchNorm in place, so it can train) and still the ONNX file's function."""
    model = build_detection_model("yolov8-p2", "n", 1, act="relu")
    load_fused_weights(model, onnx_weights(BUNDLED), BUNDLED)
    x = np.random.default_rng(0).random((2, 3, 256, 256), dtype=np.float32)
    want = onnx_raw_output(BUNDLED, x)
    got = torch_raw_output(model, x)
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-4
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_batchnorm_calibration_keeps_eval_output_and_makes_train_mode_agree():
    torch.manual_seed(0)
    model = build_detection_model("yolov8-p2", "n", 1, width=0.0625, act="relu")
    load_fused_weights(model, onnx_weights_of(model), "random")
    x = torch.rand(4, 3, 64, 64)
    before = torch_raw_output(model, x.numpy())
    assert calibrate_batchnorm(model, [x]) > 0
    np.testing.assert_allclose(torch_raw_output(model, x.numpy()), before, rtol=1e-4, atol=1e-4)
    # on the calibration batch the batch statistics are the running ones, layer after layer
    with torch.no_grad():
        trained = copy.deepcopy(model).train()(x)
        evaluated = copy.deepcopy(model).eval()(x)[1]
    pairs = list(zip(tensors(trained), tensors(evaluated)))
    assert pairs
    for a, b in pairs:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-3)


def tensors(value) -> list:
    """The tensors of the head's raw output, whichever container this ultralytics uses."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for key in sorted(value) for t in tensors(value[key])]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in tensors(v)]
    return []


def onnx_weights_of(model) -> dict:
    """A fused copy's state dict, as export writes it into the ONNX file (random weights)."""
    fused = copy.deepcopy(model).eval()
    with torch.no_grad():
        for m in fused.modules():  # random BN statistics, so the unfolding has work to do
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    fused.fuse(verbose=False)
    return {k: v.numpy().copy() for k, v in fused.state_dict().items()}


def test_weights_of_another_network_are_one_clear_error():
    model = build_detection_model("yolov8", "n", 1, width=0.0625, act="relu")
    with pytest.raises(ModelError, match="not this network"):
        load_fused_weights(model, onnx_weights(BUNDLED), BUNDLED)
    with pytest.raises(ModelError, match="quantised"):
        onnx_weights(REPO / "models" / "debrismap-default-int8.onnx")


def test_missing_init_onnx_is_one_line(tmp_path, capsys):
    data = make_toy_dataset(tmp_path / "chips", n_train=4, n_val=2, size=64)
    code = main(["train", "--data", str(data), "--init-onnx", str(tmp_path / "nope.onnx"),
                 "--accelerator", "cpu", "--workers", "0", "--out", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err
    assert "init-onnx" in err and "Traceback" not in err


def test_warm_start_continues_from_the_export_and_history_accumulates(tmp_path):
    """train 3 steps -> export -> warm-start 2 more steps on 64 px crops -> export: 2 runs, 5 steps."""
    from debrismap.export.pipeline import export_onnx
    from debrismap.train.fit import train

    data = make_toy_dataset(tmp_path / "chips", n_train=12, n_val=4, size=128)
    first = train(make_config(None, {**TINY, "data": str(data), "out": str(tmp_path / "a"), "epochs": 1}))
    a = tmp_path / "a.onnx"
    export_onnx(first["last"], a)
    history_a = read_training_history(a)
    assert [(r["run"], r["init"], r["steps"]) for r in history_a] == [(1, "random", 3)]

    second = train(make_config(None, {**TINY, "data": str(data), "out": str(tmp_path / "b"),
                                      "epochs": 1, "max_steps": 2, "crop": 64, "init_onnx": str(a)}))
    b = tmp_path / "b.onnx"
    export_onnx(second["last"], b)
    import onnx

    props = {p.key: p.value for p in onnx.load(str(b)).metadata_props}
    meta = ModelMetadata.from_props(props, source=str(b))
    assert [(r["run"], r["init"], r["steps"]) for r in meta.training_history] == [
        (1, "random", 3), (2, "a.onnx", 2)]
    assert meta.total_steps == 5
    assert meta.training_history[1]["input"] == "64 px crops"
    assert "cosine" in meta.training_history[1]["schedule"]
    assert json.loads(props[PREFIX + "training_history"])[0]["epochs"] == 1.0


def test_warm_start_from_the_bundled_file_records_its_unrecorded_run(tmp_path):
    """The bundled pair predates training_history: it becomes run 1 'unrecorded', not nothing."""
    from debrismap.train.datamodule import ChipDataModule
    from debrismap.train.fit import hparams_from, warm_start
    from debrismap.train.task import DebrisDetectionTask

    data = make_toy_dataset(tmp_path / "chips", n_train=4, n_val=2, size=64)
    cfg = make_config(None, {"data": str(data), "batch": 4, "init_onnx": str(BUNDLED)})
    dm = ChipDataModule(cfg.data, imgsz=cfg.imgsz, batch_size=cfg.batch, num_workers=0)
    task = DebrisDetectionTask(hparams_from(cfg, dm))
    warm_start(task, cfg, dm)
    history = json.loads(task.hp.history)
    assert [(r["run"], r["init"]) for r in history] == [(1, "unrecorded")]
    assert task.hparams["init_onnx"].endswith("debrismap-default.onnx")
    x = np.random.default_rng(1).random((1, 3, 256, 256), dtype=np.float32)
    got, want = torch_raw_output(task.ema.module, x), onnx_raw_output(BUNDLED, x)
    assert np.abs(got - want).max() / np.abs(want).max() < 1e-4  # the EMA starts from the file too


def test_channels_last_bf16_training_runs_and_keeps_weights_nhwc(tmp_path):
    """The fastest CPU setup measured (BENCHMARKS.md) trains and checkpoints through Lightning."""
    from debrismap.train.fit import train

    data = make_toy_dataset(tmp_path / "chips", n_train=8, n_val=2, size=128)
    result = train(make_config(None, {**TINY, "data": str(data), "out": str(tmp_path / "cl"), "epochs": 1,
                                      "max_steps": 2, "channels_last": True,
                                      "precision": "bf16-mixed"}))
    assert result["global_step"] == 2
    ckpt = torch.load(result["last"], map_location="cpu", weights_only=True)
    conv = ckpt["state_dict"]["model.model.0.conv.weight"]
    assert conv.is_contiguous(memory_format=torch.channels_last)
    assert conv.dtype == torch.float32  # autocast: the weights stay fp32
