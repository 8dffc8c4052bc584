"""The shipped configs for real data (issue 15.2): packaged frozen encoders, feature mode,
no pretraining stage, and the method grid that runs every method on the same features."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfbench.train.config import load_train_config

NAMES = ["trinet_pretrained.yaml", *[f"methods/{m}_pretrained.yaml" for m in
         ("trinet", "svhf", "dimnet", "pins", "kim", "horiguchi")]]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_pretrained_configs_use_frozen_packaged_encoders(repo_dir: Path, name: str) -> None:
    cfg = load_train_config(repo_dir / "configs" / name)
    assert (cfg.voice.name, cfg.face.name) == ("resemblyzer", "dlib_face")
    assert cfg.voice.kwargs == {} and cfg.face.kwargs == {}
    assert cfg.feature_modalities() == ("voice", "face") and not cfg.pretrain.enabled
    assert cfg.sampler.shrink_P and cfg.steps == 2000


def test_method_configs_keep_their_own_objective(repo_dir: Path) -> None:
    for m in ("svhf", "dimnet", "pins", "kim", "horiguchi"):
        cpu = load_train_config(repo_dir / "configs" / "methods" / f"{m}_cpu.yaml")
        pre = load_train_config(repo_dir / "configs" / "methods" / f"{m}_pretrained.yaml")
        assert pre.method == cpu.method and pre.loss == cpu.loss
        assert pre.head.dim == cpu.head.dim and pre.head.l2 == cpu.head.l2 and not pre.head.center


def test_benchmark_grid_lists_every_pretrained_row(repo_dir: Path) -> None:
    import yaml

    grid = yaml.safe_load(
        (repo_dir / "configs" / "methods" / "benchmark_pretrained.yaml").read_text()
    )
    rows = {r["name"]: r["config"] for r in grid["rows"]}
    assert grid["baseline"] == "TriNet" and len(rows) == 14
    for ref in rows.values():
        assert (repo_dir / "configs" / ref).is_file() and ref.endswith("_pretrained.yaml")
