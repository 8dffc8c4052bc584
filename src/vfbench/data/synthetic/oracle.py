"""The generative model's Bayes-optimal scores: the known ceiling of the synthetic corpus.

A 1:2 trial (paper Sec. 3.1) is a voice of identity ``i`` and two faces, one of ``i`` and
one of ``j != i``. The renderers only see the observable shared traits ``voice[i]`` and
``face[.]`` (see :mod:`vfbench.data.synthetic.traits`); everything else in the media is
independent of the other modality. So no matcher can beat the rule that picks the face
maximising ``p(voice_i | face)``, which under the model is a mixture over (gender, group)
components of bivariate normals per dimension::

    log p(v | f) = logsumexp_c [log pi_c + sum_d log N2((v_d, f_d); s mu_cd, [[A, B], [B, A]])]
                 - logsumexp_c [log pi_c + sum_d log N(f_d; s mu_cd, A)]
    A = s^2 P^2 + (1 - s^2) N^2,  B = s^2 P^2

For every task (1:n both ways, verification, retrieval) the optimal score of a (voice,
face) pair is their pointwise mutual information :func:`pmi_matrix` (log p(v|f) = PMI +
log p(v)). This module is the model only: the ceiling's trials, figures and intervals
are computed by the evaluation framework on the same trials as any model
(:func:`vfbench.experiments.oracle.synthetic_ceiling`, ``vfbench synth oracle``; the
demo's evaluate stage), so there is one oracle, with one set of statistics.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from vfbench.data.synthetic.traits import GENDER_MEAN, GROUP_CENTROIDS, NOISE_STD, PERSON_STD


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


def _logsumexp_axis(x: np.ndarray, axis: int) -> np.ndarray:
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
    marg_v = _logsumexp_axis(
        log_pi + np.sum(-0.5 * np.log(2 * np.pi * a) - 0.5 * dv * dv / a, 2), 1
    )
    marg_f = _logsumexp_axis(
        log_pi + np.sum(-0.5 * np.log(2 * np.pi * a) - 0.5 * df * df / a, 2), 1
    )
    const = np.sum(-np.log(2 * np.pi) - 0.5 * np.log(det))
    out = np.empty((uv.shape[0], uf.shape[0]))
    step = max(1, 4_000_000 // max(1, uf.shape[0] * mu.size))
    for r in range(0, uv.shape[0], step):
        x = dv[r : r + step, None]  # (r, 1, C, 5)
        y = df[None]  # (1, B, C, 5)
        quad = ((a * x * x - 2 * b * x * y + a * y * y) / det).sum(-1)  # (r, B, C)
        joint = _logsumexp_axis(log_pi + const - 0.5 * quad, 2)
        out[r : r + step] = joint - marg_v[r : r + step, None] - marg_f[None]
    return out[iv.reshape(-1)][:, jf.reshape(-1)]


def pmi_scorer(s: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The evaluation framework's score callable ``(voices (a, 5), faces (b, 5)) -> (a, b)``."""

    def pmi(voices: np.ndarray, faces: np.ndarray) -> np.ndarray:
        return pmi_matrix(voices, faces, s).astype(np.float32)

    pmi.__name__ = "synthetic_oracle_pmi"
    return pmi
