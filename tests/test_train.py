"""Training: config, dataset errors, a CPU smoke run (loss falls), resume, safe checkpoints."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")
torch = pytest.importorskip("torch")
pl = pytest.importorskip("pytorch_lightning")

from debrismap.cli import main
from debrismap.errors import ConfigError, DatasetError, ModelError
from debrismap.train.config import TrainConfig, make_config
from debrismap.train.toy import make_toy_dataset

# a yolov8n squeezed to 1/16 of its width: the same graph, a few ms per step on a CPU
TINY = {
    "model": "n",
    "width": 0.0625,
    "imgsz": 128,
    "batch": 4,
    "workers": 0,
    "accelerator": "cpu",
    "devices": "1",
}


class LossRecorder(pl.Callback):
    def __init__(self):
        self.losses: list[float] = []
        self.first_step: int | None = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if self.first_step is None:
            self.first_step = trainer.global_step

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.losses.append(float(outputs["loss"]))


def tiny_config(data: Path, out: Path, **extra) -> TrainConfig:
    values = {
        **TINY,
        "data": str(data),
        "out": str(out),
        "epochs": 4,
        "lr": 0.01,
        "warmup_epochs": 0.0,
        "augment": False,
        "log_every": 1,
        **extra,
    }
    return make_config(None, values)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run shared by the tests below (12 train chips, 3 steps x 4 epochs)."""
    from debrismap.train.fit import train

    root = tmp_path_factory.mktemp("train")
    data = make_toy_dataset(root / "chips", n_train=12, n_val=4, size=128)
    recorder = LossRecorder()
    result = train(tiny_config(data, root / "run"), extra_callbacks=[recorder])
    return {"data": data, "result": result, "losses": recorder.losses, "root": root}


def test_config_file_then_flags(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("model: s\nepochs: 7\nmax-time: '00:55:00'\nmosaic: 0.5\n")
    cfg = make_config(cfg_file, {"epochs": 3, "model": None})
    assert (cfg.model, cfg.epochs, cfg.max_time, cfg.mosaic) == ("s", 3, "00:55:00", 0.5)
    cfg_file.write_text("modle: s\n")
    with pytest.raises(ConfigError, match="unknown option 'modle'"):
        make_config(cfg_file)
    cfg_file.write_text("imgsz: 250\n")
    with pytest.raises(ConfigError, match="multiple of 32"):
        make_config(cfg_file)
    with pytest.raises(ConfigError, match="max_time"):
        make_config(None, {"max_time": "55 minutes"})


def test_relu_activation_is_chosen_per_model_and_does_not_leak():
    """--act relu puts ReLU after every convolution of that model only (ultralytics sets its
    activation class-wide while building; the next model must get SiLU again)."""
    from ultralytics.nn.modules.conv import Conv

    from debrismap.train.model import build_detection_model

    relu = build_detection_model("yolov8-p2", "n", 1, width=0.0625, act="relu")
    plain = build_detection_model("yolov8-p2", "n", 1, width=0.0625)
    acts = lambda m: {type(c.act).__name__ for c in m.modules() if isinstance(c, Conv)}  # noqa: E731
    assert acts(relu) == {"ReLU"} and acts(plain) == {"SiLU"}
    with pytest.raises(ConfigError, match="act must be one of silu, relu"):
        make_config(None, {"act": "gelu"})


def test_dataset_errors_are_one_line(tmp_path, capsys):
    data = make_toy_dataset(tmp_path / "chips", n_train=2, n_val=1, size=64)
    (data / "dataset.yaml").write_text("names: [debris]\ngsd_m: [oops\n")
    code = main(["train", "--data", str(data), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "dataset.yaml" in err and "not valid YAML" in err and "\n" not in err
    (data / "dataset.yaml").write_text("names: [debris]\n")
    from debrismap.train.dataset import read_dataset_info

    with pytest.raises(DatasetError, match="gsd_m"):
        read_dataset_info(data)
    with pytest.raises(DatasetError, match="not found"):
        read_dataset_info(tmp_path / "nope")
    (data / "dataset.yaml").write_text("names: [debris]\ngsd_m: 0.5\n")
    (data / "labels" / "train" / "chip_0000.txt").write_text("0 0.5 0.5\n")
    from debrismap.train.dataset import ChipDataset

    with pytest.raises(DatasetError, match="chip_0000.txt: line 1"):
        ChipDataset(data / "images" / "train", 1).load(0)


def test_smoke_training_loss_falls(trained):
    losses = trained["losses"]
    assert len(losses) == 12  # 3 steps x 4 epochs
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < 0.8 * first, losses
    result = trained["result"]
    assert Path(result["best"]).name == "best.ckpt" and Path(result["last"]).name == "last.ckpt"
    run = Path(result["out"])
    assert (run / "csv" / "metrics.csv").is_file() and any((run / "tensorboard").iterdir())
    header = (run / "csv" / "metrics.csv").read_text().splitlines()[0]
    for key in ("val/mAP50", "val/mAP50-95", "val/precision", "val/recall", "train/loss"):
        assert key in header


def test_checkpoint_is_plain_and_carries_hparams(trained):
    from debrismap.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(trained["result"]["best"])  # weights_only=True inside
    hp = ckpt["debrismap"]["hparams"]
    assert hp["classes"] == ["debris"] and hp["gsd_m"] == 0.5 and hp["imgsz"] == 128
    assert any(k.startswith("ema.module.") for k in ckpt["state_dict"])
    assert int(ckpt["state_dict"]["ema.updates"]) == ckpt["global_step"]
    assert type(ckpt["hyper_parameters"]) is dict


def test_resume_continues_from_saved_step(trained, tmp_path):
    from debrismap.train.checkpoint import load_checkpoint
    from debrismap.train.fit import train

    run = tmp_path / "run"
    shutil.copytree(trained["result"]["out"], run)
    saved = load_checkpoint(run / "last.ckpt")
    saved_step = saved["global_step"]
    assert saved_step == 12
    recorder = LossRecorder()
    cfg = tiny_config("", run, epochs=5, resume=str(run / "last.ckpt"))
    result = train(cfg, extra_callbacks=[recorder])
    assert recorder.first_step == saved_step  # picked up where it stopped, not at 0
    assert result["global_step"] == saved_step + 3 and result["epoch"] == 5
    resumed = load_checkpoint(run / "last.ckpt")
    assert resumed["global_step"] == saved_step + 3
    # optimizer state and EMA came along: the EMA counter continued too
    assert int(resumed["state_dict"]["ema.updates"]) == saved_step + 3


class _Payload:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def test_malicious_checkpoint_is_refused(trained, tmp_path, capsys):
    from debrismap.train.checkpoint import load_checkpoint

    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    ckpt = torch.load(trained["result"]["last"], weights_only=True)
    ckpt["debrismap"]["extra"] = _Payload(marker)
    torch.save(ckpt, evil)

    with pytest.raises(ModelError, match="refused"):
        load_checkpoint(evil)
    assert not marker.exists()
    code = main(["export", str(evil), "--out", str(tmp_path / "m.onnx")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "evil.ckpt" in err and "refused" in err and "\n" not in err
    code = main(["train", "--resume", str(evil), "--out", str(tmp_path / "run")])
    assert code == 2 and "refused" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "m.onnx").exists()
    # the payload is real: an unsafe load would have run it (so this test can fail)
    torch.load(evil, weights_only=False)
    assert marker.exists()


def test_not_a_debrismap_checkpoint(tmp_path):
    from debrismap.train.checkpoint import load_checkpoint

    torch.save({"state_dict": {"w": torch.zeros(1)}}, tmp_path / "other.ckpt")
    with pytest.raises(ModelError, match="not a debrismap checkpoint"):
        load_checkpoint(tmp_path / "other.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.ckpt")


def test_missing_training_stack_is_one_line(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "ultralytics", None)  # `import ultralytics` now fails
    code = main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "debrismap[train]" in err and "\n" not in err
