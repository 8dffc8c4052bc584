"""The known ceiling of the synthetic corpus: Bayes-optimal 1:2 voice->face matching.

A 1:2 trial (paper Sec. 3.1) is a voice of identity ``i`` and two faces, one of ``i`` and
one of ``j != i``. The renderers only see the observable shared traits ``voice[i]`` and
``face[.]`` (see :mod:`vfbench.data.synthetic.traits`); everything else in the media is
independent of the other modality. So no matcher can beat the rule that picks the face
maximising ``p(voice_i | face)``, which under the model is a mixture over (gender, group)
components of bivariate normals per dimension::

    log p(v | f) = logsumexp_c [log pi_c + sum_d log N2((v_d, f_d); s mu_cd, [[A, B], [B, A]])]
                 - logsumexp_c [log pi_c + sum_d log N(f_d; s mu_cd, A)]
    A = s^2 P^2 + (1 - s^2) N^2,  B = s^2 P^2

Beside it, the *gender-only* baseline knows both genders perfectly and nothing else: it
is right when the genders differ and flips a coin otherwise, i.e. about 75% when
negatives are drawn freely (protocol ``U``) and exactly 50% on gender-matched trials
(``G``). Ties count half everywhere. Accuracies come with the paper's binomial interval
(Sec. 3.2, normal approximation) over trials, and an identity-level interval (over the
per-probe-identity means), which is the honest one when trials share identities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from vfbench.data.synthetic.config import SynthConfig
from vfbench.data.synthetic.traits import (
    GENDER_MEAN,
    GROUP_CENTROIDS,
    NOISE_STD,
    PERSON_STD,
    TraitTable,
    sample_traits,
)
from vfbench.errors import EvaluationError

Protocol = Literal["U", "G"]
PROTOCOLS: tuple[Protocol, ...] = ("U", "G")
Z95 = 1.959963984540054


def trait_components(s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means ``(C, 5)`` of the observables per (gender, group) component, A and B ``(5,)``."""
    pad = np.pad(GROUP_CENTROIDS, ((0, 0), (3, 0)))
    mu = np.concatenate([GENDER_MEAN + pad, -GENDER_MEAN + pad]) * s
    b = (s * PERSON_STD) ** 2
    c2 = np.maximum((1.0 - s * s) * NOISE_STD**2, 1e-9)
    return mu, b + c2, b


def bayes_log_likelihood(voice: np.ndarray, face: np.ndarray, s: float) -> np.ndarray:
    """``log p(voice | face)`` per row under the generative model.

    Args:
        voice, face: ``(T, 5)`` observable shared traits (same row = one pairing).
        s: the corpus' ``shared_strength``.
    Returns:
        ``(T,)`` float64 log densities (higher = more likely the same person).
    """
    voice = np.asarray(voice, dtype=np.float64)
    face = np.asarray(face, dtype=np.float64)
    mu, a, b = trait_components(s)
    c2 = a - b
    det = c2 * (a + b)  # a^2 - b^2 without cancellation
    log_pi = -np.log(len(mu))
    dv = voice[:, None, :] - mu[None]  # (T, C, 5)
    df = face[:, None, :] - mu[None]
    quad = (a * dv * dv - 2 * b * dv * df + a * df * df) / det
    joint = log_pi + np.sum(-np.log(2 * np.pi) - 0.5 * np.log(det) - 0.5 * quad, axis=2)
    marg = log_pi + np.sum(-0.5 * np.log(2 * np.pi * a) - 0.5 * df * df / a, axis=2)
    return _logsumexp(joint) - _logsumexp(marg)


def _logsumexp(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=1)
    return m + np.log(np.exp(x - m[:, None]).sum(axis=1))


def sample_trials(
    gender: np.ndarray,
    protocol: Protocol,
    n_trials: int | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """1:2 trials over N identities as (probe, negative) index arrays ``(T,)``.

    ``n_trials=None`` enumerates every ordered pair (the exact mean over the split);
    otherwise probes are uniform and negatives uniform among the other identities
    (``U``) or the other identities of the probe's gender (``G``).
    """
    n = len(gender)
    g = np.asarray(gender)
    if n_trials is None:
        i, j = np.nonzero(~np.eye(n, dtype=bool))
        if protocol == "G":
            keep = g[i] == g[j]
            i, j = i[keep], j[keep]
        return i, j
    if protocol == "U":
        i = rng.integers(0, n, n_trials)
        j = rng.integers(0, n - 1, n_trials)
        return i, j + (j >= i)
    # G: pick the negative among same-gender others by rank within the gender
    order = np.argsort(g, kind="stable")
    sg = g[order]
    first = np.searchsorted(sg, g, side="left")
    count = np.searchsorted(sg, g, side="right") - first
    ok = np.flatnonzero(count >= 2)
    if len(ok) == 0:
        raise EvaluationError("gender-matched trials need two identities of one gender")
    i = ok[rng.integers(0, len(ok), n_trials)]
    rank_i = np.empty(n, dtype=np.int64)
    rank_i[order] = np.arange(n) - first[order]
    r = rng.integers(0, count[i] - 1)
    r = r + (r >= rank_i[i])
    return i, order[first[i] + r]


@dataclass
class Accuracy:
    """An accuracy with its trial-level (binomial) and identity-level 95% intervals."""

    acc: float
    ci: tuple[float, float]
    id_ci: tuple[float, float]
    trials: int


def _accuracy(correct: np.ndarray, probe: np.ndarray, z: float = Z95) -> Accuracy:
    n = len(correct)
    p = float(correct.mean())
    h = z * np.sqrt(p * (1 - p) / n)  # paper Sec. 3.2
    ids = np.unique(probe)
    per_id = np.bincount(probe, weights=correct)[ids] / np.bincount(probe)[ids]
    hid = z * per_id.std(ddof=1) / np.sqrt(len(ids)) if len(ids) > 1 else 0.0

    def clip(lo: float, hi: float) -> tuple[float, float]:
        return (max(0.0, float(lo)), min(1.0, float(hi)))

    return Accuracy(p, clip(p - h, p + h), clip(p - hid, p + hid), n)


@dataclass
class OracleReport:
    """Ceiling and gender baseline of 1:2 voice->face matching on one split.

    ``results[protocol][method]`` with methods ``oracle`` (Bayes rule on the observable
    shared traits), ``gender`` (gender-only) and ``chance``; ``population`` holds the
    oracle of the generative model itself (a large fresh sample), independent of which
    identities this corpus happened to draw.
    """

    split: str
    identities: int
    shared_strength: float
    results: dict[str, dict[str, Accuracy]]
    population: dict[str, Accuracy] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def table(self) -> str:
        """A plain-text table (accuracy %, trial CI, identity CI)."""
        lines = [
            f"1:2 voice->face on split {self.split!r}: {self.identities} identities, "
            f"shared_strength {self.shared_strength:g}",
            f"{'protocol':<9}{'method':<12}{'acc %':>8}  {'95% CI (trials)':>17}  "
            f"{'95% CI (identities)':>19}  {'trials':>7}",
        ]
        rows = [(p, m, a) for p, r in self.results.items() for m, a in r.items()]
        rows += [(p, "population", a) for p, a in self.population.items()]
        for p, m, a in rows:
            lines.append(
                f"{p:<9}{m:<12}{100 * a.acc:8.2f}  "
                f"{100 * a.ci[0]:7.2f}-{100 * a.ci[1]:<7.2f}  "
                f"{100 * a.id_ci[0]:9.2f}-{100 * a.id_ci[1]:<7.2f}  {a.trials:7d}"
            )
        return "\n".join(lines)


def oracle_report(
    traits: TraitTable | str | Path,
    split: str | None = "test",
    n_trials: int | None = None,
    seed: int = 0,
    population: int = 20000,
    population_trials: int = 200_000,
) -> OracleReport:
    """Best achievable and gender-only 1:2 voice->face accuracy of a synthetic corpus.

    Args:
        traits: a :class:`TraitTable` or the path of a corpus' ``traits.csv`` (or its folder).
        split: identities to use ("test" by default; None = all).
        n_trials: sampled trials per protocol; None = every ordered (probe, negative) pair.
        seed: trial sampling seed.
        population: identities drawn fresh from the generative model for the
            population ceiling (0 = skip).
        population_trials: sampled trials per protocol for it.
    """
    if not isinstance(traits, TraitTable):
        p = Path(traits)
        traits = TraitTable.load(p / "traits.csv" if p.is_dir() else p)
    table = traits if split is None else traits.select(np.array(traits.split) == split)
    if len(table) < 2:
        raise EvaluationError(f"split {split!r} has {len(table)} identities; need at least 2")
    s = traits.shared_strength
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    counts = np.unique(table.gender, return_counts=True)[1]
    protos = [p for p in PROTOCOLS if p == "U" or counts.max() >= 2]  # G needs a same-gender pair
    results: dict[str, dict[str, Accuracy]] = {
        proto: _evaluate(table, proto, n_trials, rng, s, with_gender=True) for proto in protos
    }
    pop: dict[str, Accuracy] = {}
    if population:
        big = sample_traits(SynthConfig(seed=seed + 1_000_003, shared_strength=s), population)
        pop = {
            proto: _evaluate(big, proto, population_trials, rng, s, with_gender=False)["oracle"]
            for proto in PROTOCOLS
        }
    return OracleReport(split or "all", len(table), s, results, pop)


def _evaluate(
    t: TraitTable,
    protocol: Protocol,
    n_trials: int | None,
    rng: np.random.Generator,
    s: float,
    with_gender: bool,
) -> dict[str, Accuracy]:
    i, j = sample_trials(t.gender, protocol, n_trials, rng)
    pos = np.empty(len(i))
    neg = np.empty(len(i))
    for a in range(0, len(i), 50_000):  # bounded memory: (chunk, C, 5) arrays
        sl = slice(a, a + 50_000)
        pos[sl] = bayes_log_likelihood(t.voice[i[sl]], t.face[i[sl]], s)
        neg[sl] = bayes_log_likelihood(t.voice[i[sl]], t.face[j[sl]], s)
    out = {"oracle": _accuracy((pos > neg) + 0.5 * (pos == neg), i)}
    if with_gender:
        same = t.gender[i] == t.gender[j]
        out["gender"] = _accuracy(np.where(same, 0.5, 1.0), i)
        out["chance"] = _accuracy(np.full(len(i), 0.5), i)
    return out
