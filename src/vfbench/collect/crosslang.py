"""Cross-language protocol: train on identities speaking language(s) A, test on B.

The paper studies transfer between an English (VoxCeleb/VGGFace) and a Chinese corpus;
with the ``language`` field that ``vfbench collect`` writes into ``meta.csv`` and the
manifest, the same protocol runs on any collected corpus. Config:
``src/vfbench/configs/cross_language.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from vfbench.data.manifest import Manifest
from vfbench.errors import ConfigError, EvaluationError


@dataclass
class CrossLanguageConfig:
    """``train_languages`` -> split ``train``; ``test_languages`` -> split ``test``;
    ``val_fraction`` of the training identities (seeded) -> ``val``."""

    train_languages: list[str] = field(default_factory=lambda: ["en"])
    test_languages: list[str] = field(default_factory=lambda: ["zh"])
    val_fraction: float = 0.0
    seed: int = 0

    def validate(self) -> None:
        if not self.train_languages or not self.test_languages:
            raise ValueError("train_languages and test_languages must both be non-empty")
        both = set(self.train_languages) & set(self.test_languages)
        if both:
            raise ValueError(f"languages {sorted(both)} are in both train and test")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


def _norm(langs: Iterable[str]) -> set[str]:
    return {lang.strip().lower() for lang in langs}


def cross_language_split(
    manifest: Manifest,
    train_langs: Iterable[str],
    test_langs: Iterable[str],
    *,
    val_fraction: float = 0.0,
    seed: int = 0,
) -> Manifest:
    """A copy of ``manifest`` whose identities are split by language.

    Identities whose ``language`` (case-insensitive) is in ``train_langs`` get split
    ``train`` (a seeded ``val_fraction`` of them ``val``), those in ``test_langs`` get
    ``test``; all others are dropped with their items. Raises :class:`ConfigError` when the
    language sets overlap and :class:`EvaluationError` when a side ends up empty (the
    message lists the languages the manifest has).
    """
    tr, te = _norm(train_langs), _norm(test_langs)
    if tr & te:
        raise ConfigError(f"languages {sorted(tr & te)} are in both train and test")
    have = sorted({i.language.strip().lower() or "(none)" for i in manifest.identities})
    train_ids = sorted(i.id for i in manifest.identities if i.language.strip().lower() in tr)
    test_ids = {i.id for i in manifest.identities if i.language.strip().lower() in te}
    for side, ids, langs in (("train", train_ids, tr), ("test", test_ids, te)):
        if not ids:
            raise EvaluationError(
                f"manifest {manifest.name!r}: no identity speaks {sorted(langs)} for the "
                f"{side} side; languages present: {have}"
            )
    val: set[str] = set()
    if val_fraction > 0:
        import numpy as np

        rng = np.random.default_rng(seed)
        k = int(round(val_fraction * len(train_ids)))
        val = set(rng.permutation(train_ids)[:k].tolist())
    split = {i: ("val" if i in val else "train") for i in train_ids}
    split.update({i: "test" for i in test_ids})
    sub = manifest.subset(identities=split)
    sub.identities = [replace(i, split=split[i.id]) for i in sub.identities]
    sub.meta = {
        **sub.meta,
        "protocol": "cross_language",
        "train_languages": sorted(tr),
        "test_languages": sorted(te),
    }
    return sub
