"""The synthetic corpus' ceiling, computed by the evaluation framework like any model.

The corpus generator knows each identity's observable shared traits (what its voice and
face renderers saw; :mod:`vfbench.data.synthetic.traits`). Scoring a (voice, face) pair by
the pointwise mutual information of those traits under the generative model,

    PMI(v, f) = log p(v, f) - log p(v) - log p(f),

is Bayes-optimal for every task the framework runs: in 1:n voice->face matching the
posterior of candidate k is proportional to p(v, f_k) / p(f_k), i.e. to PMI(v, f_k) up to
a term constant over candidates (and symmetrically for face->voice); PMI is the likelihood
ratio of "same person" vs "different people" for verification, and ranks a retrieval
gallery in the optimal order for each query. For 1:2 voice->face it is the same rule as
:func:`vfbench.data.synthetic.oracle.bayes_log_likelihood` (log p(v|f) = PMI + log p(v)).

:func:`oracle_embeddings` returns Embeddings whose vectors are the identities' traits and
the PMI scorer callable; ``evaluate(..., trials=<the model's trials>, scorer=pmi)`` then
gives the ceiling of every row, with the same statistics as the model's rows.
:func:`synthetic_ceiling` does the same for a corpus on its own (``vfbench synth oracle``):
trials from :func:`vfbench.evaluate.api.make_trials`, figures and intervals from
:func:`vfbench.evaluate.api.evaluate` - the one oracle of the project (the generative
model's scores live in :mod:`vfbench.data.synthetic.oracle`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.data.manifest import load_manifest
from vfbench.data.synthetic.config import SynthConfig
from vfbench.data.synthetic.oracle import pmi_scorer
from vfbench.data.synthetic.traits import TraitTable, sample_traits
from vfbench.errors import DataError
from vfbench.evaluate.api import evaluate, make_trials
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.protocol import MatchingConfig, Protocol
from vfbench.evaluate.results import EvaluationResult, Metric


def oracle_embeddings(
    traits: TraitTable | str | Path, voices: Embeddings, faces: Embeddings
) -> tuple[Embeddings, Embeddings, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """Trait "embeddings" for the same items as ``voices``/``faces`` + the PMI scorer.

    ``traits``: a :class:`TraitTable` or a corpus folder / its ``traits.csv``. Raises
    :class:`DataError` naming the first identity of the embeddings missing from it.
    """
    traits = load_traits(traits)
    row = {ident: i for i, ident in enumerate(traits.ids)}
    out = []
    for e, table in ((voices, traits.voice), (faces, traits.face)):
        missing = [x for x in np.unique(e.identities) if x not in row]
        if missing:
            raise DataError(
                f"identity {missing[0]!r} of the {e.modality} embeddings is not in the "
                f"corpus traits table ({len(missing)} missing)"
            )
        idx = np.array([row[x] for x in e.identities], dtype=np.int64)
        out.append(
            Embeddings(
                ids=e.ids,
                identities=e.identities,
                vectors=table[idx].astype(np.float32),
                modality=e.modality,
                meta={"model": "synthetic-oracle", "shared_strength": traits.shared_strength},
            )
        )
    return out[0], out[1], pmi_scorer(traits.shared_strength)


def load_traits(traits: TraitTable | str | Path) -> TraitTable:
    """A :class:`TraitTable`, or the one of a corpus folder / its ``traits.csv``."""
    if isinstance(traits, TraitTable):
        return traits
    p = Path(traits)
    p = p if p.suffix == ".csv" else p / "traits.csv"
    if not p.is_file():
        raise DataError(f"{p}: traits table not found (is this a vfbench synthetic corpus?)")
    return TraitTable.load(p)


def ceiling_protocol(n_trials: int = 10000, seed: int = 0, n_boot: int = 1000) -> Protocol:
    """1:2 matching, free (U) and gender-matched (G), both directions, plus verification:
    what ``vfbench synth oracle`` reports."""
    return Protocol(
        tasks=["match", "verify"],
        n_boot=n_boot,
        seed=seed,
        matching=MatchingConfig(
            n_values=[2], constraints=["U", "G"], constrained_n=[2], n_trials=n_trials
        ),
    )


#: (label, find-kwargs) of the rows ``vfbench synth oracle`` prints.
CEILING_ROWS: tuple[tuple[str, dict[str, Any]], ...] = tuple(
    (f"1:2 {d} {c}", {"task": "match", "direction": d, "n": 2, "constraint": c, "group": "all"})
    for c in ("U", "G")
    for d in ("v2f", "f2v")
) + tuple(
    (f"AUC {d}", {"task": "verify", "direction": d, "name": "auc", "group": "all"})
    for d in ("v2f", "f2v")
)


@dataclass
class Ceiling:
    """The ceiling of one corpus split (``result``) and, optionally, of the generative model
    itself on a large fresh sample of identities (``population``), both from ``evaluate``."""

    corpus: str
    split: str
    identities: int
    shared_strength: float
    result: EvaluationResult
    population: EvaluationResult | None = None

    def rows(self) -> list[dict[str, Any]]:
        """One dict per printed row: value, interval, chance, gender-only, trials."""
        out = []
        for which, res in (("corpus", self.result), ("population", self.population)):
            if res is None:
                continue
            for label, where in CEILING_ROWS:
                found = res.find(**where)
                if not found:
                    continue
                m: Metric = found[0]
                iv = m.interval()
                out.append(
                    {
                        "sample": which,
                        "label": label,
                        "value": m.value,
                        "low": iv.low if iv else None,
                        "high": iv.high if iv else None,
                        "interval": iv.method if iv else "",
                        "chance": m.chance,
                        "gender_baseline": m.gender_baseline,
                        "trials": m.n,
                    }
                )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "corpus": self.corpus,
            "split": self.split,
            "identities": self.identities,
            "shared_strength": self.shared_strength,
            "trials_sha256": self.result.trials_hash,
            "rows": self.rows(),
        }

    def table(self) -> str:
        """Plain text: %, 95% interval (identity-level where evaluate computes one)."""

        def pct(x: float | None) -> str:
            return "-" if x is None else f"{100 * x:.2f}"

        lines = [
            f"ceiling of {self.corpus} (split {self.split!r}: {self.identities} identities, "
            f"shared_strength {self.shared_strength:g}); Bayes-optimal PMI scores",
            f"{'sample':<11}{'task':<12}{'oracle %':>9}  {'95% interval':>15}  "
            f"{'chance':>7}  {'gender-only':>11}  {'trials':>7}",
        ]
        for r in self.rows():
            iv = f"{pct(r['low'])}-{pct(r['high'])}" if r["low"] is not None else "-"
            lines.append(
                f"{r['sample']:<11}{r['label']:<12}{pct(r['value']):>9}  {iv:>15}  "
                f"{pct(r['chance']):>7}  {pct(r['gender_baseline']):>11}  {r['trials'] or 0:>7}"
            )
        return "\n".join(lines)


def trait_items(
    traits: TraitTable, voice_ids: list[str], face_ids: list[str],
    voice_identity: list[str], face_identity: list[str],
) -> tuple[Embeddings, Embeddings]:  # fmt: skip
    """Embeddings of items whose vectors are their identities' observable traits."""
    row = {ident: i for i, ident in enumerate(traits.ids)}
    unknown = sorted({*voice_identity, *face_identity} - set(row))
    if unknown:
        raise DataError(
            f"identity {unknown[0]!r} is not in the traits table ({len(unknown)} missing)"
        )
    meta = {"model": "synthetic-oracle", "shared_strength": traits.shared_strength}
    vi = np.array([row[x] for x in voice_identity], dtype=np.int64)
    fi = np.array([row[x] for x in face_identity], dtype=np.int64)
    return (
        Embeddings(np.asarray(voice_ids), np.asarray(voice_identity),
                   traits.voice[vi].astype(np.float32), "voice", meta),
        Embeddings(np.asarray(face_ids), np.asarray(face_identity),
                   traits.face[fi].astype(np.float32), "face", meta),
    )  # fmt: skip


def synthetic_ceiling(
    corpus: str | Path,
    split: str | None = "test",
    protocol: Protocol | None = None,
    population: int = 0,
    command: str = "",
) -> Ceiling:
    """The ceiling of a synthetic corpus: every voice and face item of ``split`` (None: all
    identities) gets its identity's observable traits as "embedding", trials come from
    ``make_trials(protocol)`` (default :func:`ceiling_protocol`) and figures + intervals
    from ``evaluate`` with the Bayes-optimal PMI scorer - the same numbers the demo's
    oracle gives on the same trials. ``population > 0``: also the generative model's own
    ceiling on that many fresh identities (one voice, one face each; seed from the
    protocol), independent of the identities this corpus happened to draw.
    """
    root = Path(corpus)
    traits = load_traits(root)
    man_dir = (root if root.is_dir() else root.parent) / "manifest"
    man = load_manifest(man_dir)
    if split is not None:
        man = man.subset(split=split)
    if len(man.identities) < 2:
        raise DataError(f"{man_dir}: split {split!r} has {len(man.identities)} identities; need 2")
    p = protocol or ceiling_protocol()
    v, f = trait_items(
        traits, [x.id for x in man.voices], [x.id for x in man.faces],
        [x.identity for x in man.voices], [x.identity for x in man.faces],
    )  # fmt: skip
    scorer = pmi_scorer(traits.shared_strength)
    trials = make_trials(v, f, man, p)
    res = evaluate(v, f, man, p, trials=trials, scorer=scorer, command=command)
    pop = None
    if population > 0:
        big = sample_traits(
            SynthConfig(seed=p.seed + 1_000_003, shared_strength=traits.shared_strength),
            population,
        )
        ids = list(big.ids)
        pv, pf = trait_items(big, ids, ids, ids, ids)
        genders = {i: str(g) for i, g in zip(ids, big.gender, strict=True)}
        ptrials = make_trials(pv, pf, genders, p)
        pop = evaluate(pv, pf, genders, p, trials=ptrials, scorer=scorer, command=command)
    return Ceiling(str(root), split or "all", len(man.identities), traits.shared_strength, res, pop)
