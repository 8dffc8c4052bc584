"""Packaged frozen encoders (issue 15.1): never stored in a checkpoint, keyed by package
and weight hash whatever the load order, rebuilt from the package by ``vfbench embed``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from vfbench.config import to_dict
from vfbench.errors import CheckpointError
from vfbench.methods import get_method
from vfbench.models.encoders import create_encoder, file_sha256, packaged_info
from vfbench.train.checkpoint import save_checkpoint
from vfbench.train.config import load_train_config
from vfbench.train.embed import load_trained
from vfbench.train.features import backbone_hash

pytestmark = pytest.mark.skipif(
    any(
        importlib.util.find_spec(m) is None
        for m in ("resemblyzer", "dlib", "face_recognition_models")
    ),
    reason="needs resemblyzer, dlib and face_recognition_models",
)


def test_resemblyzer_state_is_never_in_a_state_dict_and_its_key_is_stable() -> None:
    enc = create_encoder("resemblyzer", "voice")
    key = backbone_hash(enc, "resemblyzer", {})
    t = np.arange(16000) / 16000
    out = enc.embed_items([(0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)])
    assert out.shape == (1, 256) and torch.isfinite(out).all()
    assert enc.state_dict() == {} and list(enc.parameters()) == []
    assert backbone_hash(enc, "resemblyzer", {}) == key  # load order does not matter
    info = packaged_info(enc)
    from importlib.metadata import version

    assert info is not None and info["version"] == version("resemblyzer")
    assert info["weights_sha256"] == file_sha256(enc.weights_file())


def test_dlib_record_names_package_weights_and_hash() -> None:
    enc = create_encoder("dlib_face", "face")
    info = packaged_info(enc)
    assert info is not None and info["package"] == "dlib"
    assert info["weights_sha256"] == file_sha256(enc.weights_file())
    assert packaged_info(create_encoder("small_cnn", "face")) is None


def pretrained_checkpoint(tmp_path: Path, extra: dict[str, torch.Tensor]) -> Path:
    cfg = load_train_config(
        Path(__file__).resolve().parents[2] / "configs" / "trinet_pretrained.yaml"
    )
    method = get_method(cfg.method)
    model = method.build_model(cfg, create_encoder("resemblyzer", "voice"),
                               create_encoder("dlib_face", "face"))  # fmt: skip
    state = {**model.state_dict(), **extra}
    p = tmp_path / "best.pt"
    save_checkpoint(p, {"step": 1, "method": "trinet", "config": to_dict(cfg), "model": state})
    return p


def test_a_checkpoint_holding_old_resemblyzer_weights_still_embeds(tmp_path: Path) -> None:
    # written before the fix: the lazily built LSTM had leaked into the state dict
    legacy = {"voice_backbone._enc.lstm.weight_ih_l0": torch.zeros(3, 2)}
    method, model, cfg, _ = load_trained(pretrained_checkpoint(tmp_path, legacy), get_method)
    assert cfg.voice.name == "resemblyzer" and not any("_enc" in k for k in model.state_dict())


def test_a_checkpoint_whose_heads_do_not_fit_names_the_keys(tmp_path: Path) -> None:
    p = pretrained_checkpoint(tmp_path, {"voice_head.fc.weight": torch.zeros(7, 256)})
    with pytest.raises(
        CheckpointError, match=r"size mismatch: voice_head.fc.weight \(checkpoint \(7, 256\)"
    ):
        load_trained(p, get_method)
