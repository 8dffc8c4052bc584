"""The synthetic corpus' ceiling on the *same trials* as the evaluated model.

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
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from vfbench.data.synthetic.oracle import trait_components
from vfbench.data.synthetic.traits import TraitTable
from vfbench.errors import DataError
from vfbench.evaluate.embeddings import Embeddings


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.exp(x - m).sum(axis=axis))


def pmi_matrix(voice: np.ndarray, face: np.ndarray, s: float) -> np.ndarray:
    """PMI of every (voice, face) pair of observable traits.

    Args:
        voice: ``(a, 5)`` voice-side shared traits; face: ``(b, 5)`` face-side traits.
        s: the corpus' ``shared_strength``.
    Returns:
        ``(a, b)`` float64. Identical rows are computed once (items of one identity share
        their identity's traits), so the cost is (distinct voices) x (distinct faces).
    """
    voice = np.asarray(voice, dtype=np.float64)
    face = np.asarray(face, dtype=np.float64)
    uv, iv = np.unique(voice, axis=0, return_inverse=True)
    uf, jf = np.unique(face, axis=0, return_inverse=True)
    mu, a, b = trait_components(s)  # (C, 5), (5,), (5,)
    log_pi = -np.log(len(mu))
    det = (a - b) * (a + b)
    dv = uv[:, None, :] - mu[None]  # (A, C, 5)
    df = uf[:, None, :] - mu[None]  # (B, C, 5)
    marg_v = _logsumexp(log_pi + np.sum(-0.5 * np.log(2 * np.pi * a) - 0.5 * dv * dv / a, 2), 1)
    marg_f = _logsumexp(log_pi + np.sum(-0.5 * np.log(2 * np.pi * a) - 0.5 * df * df / a, 2), 1)
    const = np.sum(-np.log(2 * np.pi) - 0.5 * np.log(det))
    out = np.empty((uv.shape[0], uf.shape[0]))
    step = max(1, 4_000_000 // max(1, uf.shape[0] * mu.size))
    for r in range(0, uv.shape[0], step):
        x = dv[r : r + step, None]  # (r, 1, C, 5)
        y = df[None]  # (1, B, C, 5)
        quad = ((a * x * x - 2 * b * x * y + a * y * y) / det).sum(-1)  # (r, B, C)
        joint = _logsumexp(log_pi + const - 0.5 * quad, 2)
        out[r : r + step] = joint - marg_v[r : r + step, None] - marg_f[None]
    return out[iv.reshape(-1)][:, jf.reshape(-1)]


def pmi_scorer(s: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The evaluation framework's score callable ``(voices (a, 5), faces (b, 5)) -> (a, b)``."""

    def pmi(voices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        return pmi_matrix(voices, faces, s).astype(np.float32)

    pmi.__name__ = "synthetic_oracle_pmi"
    return pmi


def oracle_embeddings(
    traits: TraitTable | str | Path, voices: Embeddings, faces: Embeddings
) -> tuple[Embeddings, Embeddings, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    """Trait "embeddings" for the same items as ``voices``/``faces`` + the PMI scorer.

    ``traits``: a :class:`TraitTable` or a corpus folder / its ``traits.csv``. Raises
    :class:`DataError` naming the first identity of the embeddings missing from it.
    """
    if not isinstance(traits, TraitTable):
        p = Path(traits)
        p = p / "traits.csv" if p.is_dir() else p
        if not p.is_file():
            raise DataError(f"{p}: traits table not found (is this a vfbench synthetic corpus?)")
        traits = TraitTable.load(p)
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
