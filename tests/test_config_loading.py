from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from vfbench.config import dump_yaml, load_config, parse_override
from vfbench.errors import ConfigError


@dataclass
class Optim:
    lr: float = 1e-3
    milestones: list[int] = field(default_factory=lambda: [20, 40])


@dataclass
class Cfg:
    name: str = "x"
    steps: int = 10
    mode: Literal["a", "b"] = "a"
    optim: Optim = field(default_factory=Optim)
    weights: Path | None = None

    def validate(self) -> None:
        if self.steps <= 0:
            raise ValueError("steps must be positive")


def test_defaults_yaml_and_overrides(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("steps: 5\noptim:\n  lr: 0.1\n")
    cfg = load_config(Cfg, p, ["optim.milestones=[1, 2, 3]", "mode=b", "optim.lr=2e-4"])
    assert cfg.steps == 5 and cfg.mode == "b"
    assert cfg.optim.lr == pytest.approx(2e-4)
    assert cfg.optim.milestones == [1, 2, 3]
    assert cfg.name == "x"
    assert "milestones" in dump_yaml(cfg)


def test_unknown_key_is_named(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: unknown key 'optim\.lrr'.*lr, milestones"):
        load_config(Cfg, p)
    with pytest.raises(ConfigError, match="unknown key 'stepz'"):
        load_config(Cfg, None, ["stepz=3"])


def test_bad_types_and_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="steps: expected an integer"):
        load_config(Cfg, None, ["steps=abc"])
    with pytest.raises(ConfigError, match=r"mode: 'c' is not one of \['a', 'b'\]"):
        load_config(Cfg, None, ["mode=c"])
    with pytest.raises(ConfigError, match="steps must be positive"):
        load_config(Cfg, None, ["steps=0"])
    with pytest.raises(ConfigError, match="not of the form key=value"):
        parse_override("steps")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="bad.yaml: top level must be a mapping"):
        load_config(Cfg, bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Cfg, tmp_path / "nope.yaml")
