"""``DemoConfig``: one validated config for the whole benchmark run (``vfbench demo``).

It nests the stages' own schemas, so every key is checked by the stage that owns it:
:class:`~vfbench.data.synthetic.SynthConfig` (``synth``),
:class:`~vfbench.preprocess.config.PreprocessConfig` (``preprocess``),
:class:`~vfbench.train.config.TrainConfig` (``train``) and
:class:`~vfbench.evaluate.protocol.Protocol` (``protocol``).

The ``train`` section starts from the training config named by ``train_base`` (default
the packaged ``trinet_cpu.yaml``); keys given under ``train:`` in the demo YAML or with
``--set train.steps=500`` are merged on top. A top-level ``seed`` is the default seed of
the corpus, the training run and the trials (a section's own ``seed`` wins).

Precedence: defaults in code < packaged ``demo.yaml`` (or ``--config``) < ``--set k=v``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vfbench.config import apply_overrides, from_dict, read_yaml
from vfbench.data.synthetic.config import SynthConfig
from vfbench.errors import ConfigError
from vfbench.evaluate.protocol import Protocol
from vfbench.preprocess.config import PreprocessConfig
from vfbench.train.config import TrainConfig, read_config_tree

#: Folder of the YAML configs shipped inside the package (the repo's ``configs/``).
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

SEEDED_SECTIONS = ("synth", "train", "protocol")


@dataclass
class DemoConfig:
    """Everything that determines a demo run's figures (besides the code version).

    Attributes:
        seed: default seed of ``synth``, ``train`` and ``protocol`` (unless set there).
        workers: processes for corpus generation and preprocessing (outputs never
            depend on it, so it is not part of any stage hash).
        corpus: an existing synthetic corpus folder to use instead of generating one
            into ``OUT/corpus`` (e.g. shared by several runs); "" = generate.
        train_base: the training config the ``train`` section starts from (a packaged
            name such as ``trinet_cpu.yaml`` or a path).
        checkpoint: which checkpoint to embed: ``best`` (highest validation 1:2
            accuracy) or ``last``.
        split: the identities that are embedded and evaluated (never seen in training).
        oracle: also score every trial with the synthetic corpus' Bayes-optimal rule
            (the ceiling; needs the corpus' ``traits.csv``).
        smoke: the run is a smoke test (``demo_quick.yaml``): its report carries a banner
            saying its figures are not a measurement.
    """

    seed: int = 0
    workers: int = 2
    corpus: str = ""
    train_base: str = "trinet_cpu.yaml"
    checkpoint: str = "best"
    split: str = "test"
    oracle: bool = True
    smoke: bool = False
    synth: SynthConfig = field(default_factory=SynthConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    protocol: Protocol = field(default_factory=Protocol)

    def validate(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.checkpoint not in ("best", "last"):
            raise ValueError(f"checkpoint must be 'best' or 'last', got {self.checkpoint!r}")
        if self.protocol.split:
            raise ValueError(
                "protocol.split must stay empty in a demo: the demo embeds only `split` "
                f"(got protocol.split={self.protocol.split!r}; set split instead)"
            )


def packaged_config(name: str) -> Path:
    """Path of a config shipped in ``vfbench/configs`` (``"demo.yaml"``, ``"ablations/x.yaml"``)."""
    return CONFIG_DIR / name


def resolve_config_path(name: str | Path, relative_to: Path | None = None) -> Path:
    """A config named by path (absolute, relative to ``relative_to`` or the cwd) or by its
    packaged name; raises :class:`ConfigError` naming every place looked at."""
    p = Path(name)
    tried = []
    candidates = [p] if p.is_absolute() else []
    if not p.is_absolute():
        if relative_to is not None:
            candidates.append(relative_to / p)
        candidates += [Path.cwd() / p, CONFIG_DIR / p]
    for c in candidates:
        tried.append(str(c))
        if c.is_file():
            return c
    raise ConfigError(f"config {str(name)!r} not found (looked at: {', '.join(tried)})")


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``, recursively for mappings (lists and scalars are replaced)."""
    out = copy.deepcopy(base)
    for k, v in top.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def demo_config_dict(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> tuple[dict[str, Any], str]:
    """The merged (not yet validated) config data and the name of its source file."""
    src = Path(path) if path is not None else packaged_config("demo.yaml")
    data = read_yaml(src)
    data = apply_overrides(data, overrides)
    base_name = data.get("train_base", DemoConfig.train_base)
    if not isinstance(base_name, str) or not base_name:
        raise ConfigError(f"{src}: train_base must be a config name or path, got {base_name!r}")
    train_top = data.get("train") or {}
    if not isinstance(train_top, dict):
        raise ConfigError(f"{src}: train: expected a mapping, got {type(train_top).__name__}")
    # the training config's own ``base:`` chain is honoured (configs/ablations/cpu/*.yaml)
    base = read_config_tree(resolve_config_path(base_name, src.parent))
    data["train"] = deep_merge(base, train_top)
    seed = data.get("seed", DemoConfig.seed)
    for sec in SEEDED_SECTIONS:
        section = data.setdefault(sec, {}) or {}
        if not isinstance(section, dict):
            raise ConfigError(f"{src}: {sec}: expected a mapping, got {type(section).__name__}")
        section.setdefault("seed", seed)
        data[sec] = section
    return data, str(src)


def load_demo_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> DemoConfig:
    """Load and validate a demo config (packaged ``demo.yaml`` by default).

    ``overrides`` are ``key=value`` strings (``train.steps=500``, ``synth.identities=200``,
    ``protocol.matching.n_trials=5000``); an unknown key raises :class:`ConfigError`
    naming it.
    """
    data, where = demo_config_dict(path, overrides)
    return from_dict(DemoConfig, data, where)
