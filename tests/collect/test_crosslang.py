"""Cross-language split: train on language A, test on language B."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfbench.collect.crosslang import CrossLanguageConfig, cross_language_split
from vfbench.config import load_config
from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem
from vfbench.errors import ConfigError, EvaluationError


def _manifest() -> Manifest:
    langs = {"a": "en", "b": "EN", "c": "zh", "d": "zh", "e": "fr", "f": ""}
    return Manifest(
        identities=[Identity(i, language=lang, split="train") for i, lang in langs.items()],
        voices=[VoiceItem(f"{i}/v", i, f"{i}/v.wav") for i in langs],
        faces=[FaceItem(f"{i}/f", i, f"{i}/f.jpg") for i in langs],
        name="toy",
    )


def test_split_by_language() -> None:
    m = cross_language_split(_manifest(), ["en"], ["zh"])
    assert {i.id: i.split for i in m.identities} == {
        "a": "train",
        "b": "train",
        "c": "test",
        "d": "test",
    }
    assert {v.identity for v in m.voices} == {"a", "b", "c", "d"}  # fr and unknown dropped
    assert {f.identity for f in m.faces} == {"a", "b", "c", "d"}
    assert m.meta["train_languages"] == ["en"] and m.meta["protocol"] == "cross_language"
    # the input is untouched
    assert all(i.split == "train" for i in _manifest().identities)


def test_val_fraction_is_seeded() -> None:
    m = Manifest(
        identities=[Identity(f"i{k}", language="en") for k in range(20)]
        + [Identity("z", language="zh")],
        voices=[],
        faces=[],
    )
    a = cross_language_split(m, ["en"], ["zh"], val_fraction=0.25, seed=3)
    b = cross_language_split(m, ["en"], ["zh"], val_fraction=0.25, seed=3)
    val = [i.id for i in a.identities if i.split == "val"]
    assert len(val) == 5 and val == [i.id for i in b.identities if i.split == "val"]


def test_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match=r"\['en'\] are in both"):
        cross_language_split(_manifest(), ["en"], ["EN", "zh"])
    with pytest.raises(
        EvaluationError,
        match=r"no identity speaks \['de'\] for the test side; languages present: \['\(none\)', 'en', 'fr', 'zh'\]",
    ):
        cross_language_split(_manifest(), ["en"], ["de"])


def test_packaged_config_loads(repo_dir: Path) -> None:
    cfg = load_config(CrossLanguageConfig, repo_dir / "src/vfbench/configs/cross_language.yaml")
    assert cfg.train_languages == ["en"] and cfg.test_languages == ["zh"]
    with pytest.raises(ConfigError, match="in both train and test"):
        load_config(CrossLanguageConfig, None, ["train_languages=[en]", "test_languages=[en]"])
