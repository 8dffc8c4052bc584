"""DemoConfig loading: train_base merge, seed propagation, overrides and bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfbench.errors import ConfigError
from vfbench.experiments.config import deep_merge, load_demo_config, packaged_config

TRAIN_BASE = """
name: base_run
steps: 1000
voice: {name: small_cnn, frozen: true, lr: 0.0}
face: {name: small_cnn, frozen: true}
optim: {head_lr: 0.002, milestones: [500]}
pretrain: {enabled: true, steps: 50}
"""


@pytest.fixture()
def base(tmp_path: Path) -> Path:
    p = tmp_path / "tb.yaml"
    p.write_text(TRAIN_BASE)
    return p


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "demo.yaml"
    p.write_text(text)
    return p


def test_train_section_merges_over_train_base(tmp_path: Path, base: Path) -> None:
    p = write(tmp_path, f"train_base: {base.name}\ntrain:\n  steps: 77\n  optim: {{gamma: 0.5}}\n")
    cfg = load_demo_config(p)
    assert cfg.train.name == "base_run" and cfg.train.steps == 77
    # nested sections merge key by key: head_lr from the base, gamma from the demo file
    assert cfg.train.optim.head_lr == 0.002 and cfg.train.optim.gamma == 0.5
    assert cfg.train.pretrain.enabled and cfg.train.pretrain.steps == 50
    cfg2 = load_demo_config(p, ["train.pretrain.steps=5", "train.optim.milestones=[3]"])
    assert cfg2.train.pretrain.steps == 5 and cfg2.train.optim.milestones == [3]


def test_top_level_seed_seeds_every_section_unless_set(tmp_path: Path, base: Path) -> None:
    p = write(tmp_path, f"train_base: {base}\nseed: 7\nprotocol: {{seed: 3}}\n")
    cfg = load_demo_config(p)
    assert (cfg.synth.seed, cfg.train.seed, cfg.protocol.seed) == (7, 7, 3)
    cfg = load_demo_config(p, ["seed=11"])
    assert (cfg.synth.seed, cfg.train.seed, cfg.protocol.seed) == (11, 11, 3)


@pytest.mark.parametrize(
    "override, culprit",
    [
        ("train.optim.bogus=1", "train.optim.bogus"),
        ("synth.identitiez=10", "synth.identitiez"),
        ("protocol.matching.n_trails=5", "protocol.matching.n_trails"),
        ("nonsense=1", "nonsense"),
        ("synth.identities=1", "identities must be >= 2"),
        ("checkpoint=middle", "checkpoint must be 'best' or 'last'"),
        ("workers=0", "workers must be >= 1"),
        ("protocol.split=test", "protocol.split must stay empty"),
    ],
)
def test_bad_keys_and_values_name_the_culprit(
    tmp_path: Path, base: Path, override: str, culprit: str
) -> None:
    p = write(tmp_path, f"train_base: {base}\n")
    with pytest.raises(ConfigError, match=culprit.replace(".", r"\.").replace("(", r"\(")):
        load_demo_config(p, [override])


def test_missing_train_base_names_the_places_looked_at(tmp_path: Path) -> None:
    p = write(tmp_path, "train_base: no_such_config.yaml\n")
    with pytest.raises(ConfigError, match=r"no_such_config\.yaml.*not found"):
        load_demo_config(p)


def test_non_mapping_train_section_is_an_error(tmp_path: Path, base: Path) -> None:
    p = write(tmp_path, f"train_base: {base}\ntrain: [1, 2]\n")
    with pytest.raises(ConfigError, match="train: expected a mapping"):
        load_demo_config(p)


def test_packaged_configs_load_and_fit_the_synthetic_test_split() -> None:
    for name in ("demo.yaml", "demo_quick.yaml"):
        cfg = load_demo_config(packaged_config(name))
        test_ids = round(cfg.synth.identities * cfg.synth.split_ratios[2])
        assert cfg.preprocess.face.detector == "none"  # synthetic faces are pre-aligned
        assert cfg.protocol.retrieval.n_identities <= test_ids
        assert max(cfg.protocol.repeated.sizes) <= test_ids
        assert max(cfg.protocol.joint.m_values) <= min(
            cfg.synth.faces_per_id, cfg.synth.voices_per_id
        )
        assert set(cfg.protocol.directions) == {"v2f", "f2v"}
        assert {"match", "verify", "retrieve", "joint", "repeated"} <= set(cfg.protocol.tasks)


def test_deep_merge_replaces_lists_and_keeps_base_untouched() -> None:
    a = {"x": {"y": 1, "z": [1, 2]}, "k": 1}
    b = {"x": {"z": [3]}, "n": 2}
    assert deep_merge(a, b) == {"x": {"y": 1, "z": [3]}, "k": 1, "n": 2}
    assert a == {"x": {"y": 1, "z": [1, 2]}, "k": 1}


@pytest.mark.parametrize(
    "argv, culprit",
    [
        (["demo", "--set", "train.bogus=1"], "train.bogus"),
        (["demo", "--set", "protocol.tasks=[match, dance]"], "unknown task 'dance'"),
        (["demo", "--quick", "--config", "x.yaml"], "--quick and --config are exclusive"),
        (["demo", "--config", "no_such_demo.yaml"], "no_such_demo.yaml: config file not found"),
        (["ablate", "no_such_grid.yaml"], "no_such_grid.yaml"),
    ],
)
def test_cli_reports_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], culprit: str
) -> None:
    from vfbench.cli import main

    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert culprit in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "run").exists()  # nothing ran
