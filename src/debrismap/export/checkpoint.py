"""Load a debrismap training checkpoint as the network export turns into ONNX (EMA weights, fused, eval)."""

from __future__ import annotations

from pathlib import Path

from debrismap.errors import ModelError


def load_torch_model(checkpoint_path: str | Path):
    """(fused eval DetectionModel with EMA weights in export mode, hparams) from a checkpoint.

    hparams.history becomes the checkpoint's whole training history (JSON), this run included.
    """
    import json

    # the training side imports torch: loaded only when a checkpoint is exported
    from debrismap.train.checkpoint import ema_state_dict, load_checkpoint
    from debrismap.train.model import build_detection_model, set_export_mode
    from debrismap.train.task import DetectionHParams

    checkpoint = load_checkpoint(checkpoint_path)
    hp = DetectionHParams.from_dict(checkpoint["debrismap"]["hparams"])
    # checkpoints from before warm starts have no history: this run is then the only one
    hp.history = json.dumps(checkpoint["debrismap"].get("training_history") or [
        {"run": 1, "init": "random", "steps": int(checkpoint.get("global_step", 0)),
         "epochs": int(checkpoint.get("epoch", 0))}])
    model = build_detection_model(
        hp.arch, hp.scale, len(hp.classes), hp.box, hp.cls, hp.dfl, hp.width, hp.depth, hp.act
    )
    try:
        model.load_state_dict(ema_state_dict(checkpoint), strict=True)
    except RuntimeError as exc:
        raise ModelError(
            f"weights do not fit a {hp.arch}{hp.scale} network ({str(exc).splitlines()[0]})",
            path=checkpoint_path,
        ) from exc
    model = model.float().eval()
    model.fuse(verbose=False)  # fold BatchNorm into the convolutions: fewer ops at inference
    set_export_mode(model)
    for p in model.parameters():
        p.requires_grad_(False)
    return model, hp
