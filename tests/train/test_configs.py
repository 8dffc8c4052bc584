"""The shipped configs validate, and there is one per Table 5 ablation row."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfbench.errors import ConfigError
from vfbench.train.config import load_train_config

CONFIGS = Path(__file__).resolve().parents[2] / "src" / "vfbench" / "configs"


def test_paper_config_is_the_papers_setting() -> None:
    c = load_train_config(CONFIGS / "trinet_paper.yaml")
    assert (c.voice.name, c.voice.kwargs["aggregation"], c.face.name) == (
        "thin_resnet34", "netvlad", "iresnet50",
    )  # fmt: skip
    assert (c.steps, c.sampler.P, c.head.scale, c.loss.kwargs["margin"]) == (70000, 56, 128, 1)
    assert c.optim.milestones == [20000, 40000, 60000] and c.optim.head_lr == 1e-3
    assert c.voice.frozen and not c.face.frozen and c.face.lr == 1e-6


def test_every_ablation_row_has_a_config() -> None:
    rows = {
        "no_face_detection": lambda c: c.data.preprocess["face.detector"] == "none",
        "backbone_vgg_m": lambda c: c.face.name == c.voice.name == "vgg_m",
        "backbone_se_resnet50": lambda c: c.face.name == "se_resnet50",
        "backbone_dimnet": lambda c: c.voice.name == "dimnet_cnn1d",
        "no_l2_norm": lambda c: not c.head.l2,
        "scale_1": lambda c: c.head.l2 and c.head.scale == 1.0,
        "face_frozen": lambda c: c.face.frozen,
        "voice_not_frozen": lambda c: not c.voice.frozen,
        "no_pretraining": lambda c: c.voice.weights is None and c.face.weights is None,
        "train_1000": lambda c: c.data.max_train_identities == 1000,
    }
    for name, check in rows.items():
        c = load_train_config(CONFIGS / "ablations" / f"{name}.yaml")
        assert check(c), name
        assert c.steps == 70000  # inherited from the paper config via base:
    for f in sorted((CONFIGS / "ablations" / "cpu").glob("*.yaml")):
        load_train_config(f)


def test_base_chain_errors(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(ConfigError, match="loops back"):
        load_train_config(a)
    c = tmp_path / "c.yaml"
    c.write_text("base: missing.yaml\n")
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_train_config(c)
