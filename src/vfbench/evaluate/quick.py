"""Fast validation figure for training loops: 1:2 voice->face accuracy with its interval.

The training loop calls :func:`validation_1to2` every N steps; it must be cheap (vectorised
trial sampling and scoring) and deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.evaluate.confidence import binomial_normal
from vfbench.evaluate.metrics import match_outcomes
from vfbench.evaluate.results import Estimate
from vfbench.evaluate.scoring import Scorer, pair_scores, prepare
from vfbench.evaluate.trials import Universe, match_trials


def validation_1to2(
    voice_vecs: np.ndarray,
    voice_identities: np.ndarray,
    face_vecs: np.ndarray,
    face_identities: np.ndarray,
    n_trials: int = 10000,
    seed: int = 0,
    genders: dict[str, str] | None = None,
    scorer: Scorer = "cosine",
) -> Estimate:
    """1:2 voice->face matching accuracy on ``n_trials`` seeded random trials.

    ``voice_vecs`` (Nv, D) and ``face_vecs`` (Nf, D) with identity labels (Nv,) / (Nf,).
    Score = cosine similarity (or ``scorer``: a name or a callable, see
    :mod:`vfbench.evaluate.scoring`); ties get half credit. With ``genders`` (identity -> "m"/"f")
    query identities are gender-balanced (paper Sec. 5.1). Returns the accuracy with the
    paper's binomial 95% interval (Sec. 3.2); ``n`` = number of trials.
    """
    v = np.asarray(voice_vecs, dtype=np.float32)
    f = np.asarray(face_vecs, dtype=np.float32)
    vi = np.asarray(voice_identities).astype(str)
    fi = np.asarray(face_identities).astype(str)
    if v.ndim != 2 or f.ndim != 2 or v.shape[0] != vi.size or f.shape[0] != fi.size:
        raise EvaluationError(
            f"shapes disagree: voices {v.shape} with {vi.size} identities, "
            f"faces {f.shape} with {fi.size} identities"
        )
    if n_trials <= 0:
        raise EvaluationError(f"n_trials must be positive, got {n_trials}")
    attrs = {k: {"gender": g} for k, g in genders.items()} if genders else None
    u = Universe.build(vi, fi, attrs)
    if int(u.usable().sum()) < 2:
        raise EvaluationError(
            "1:2 validation needs at least two identities with a voice and a face"
        )
    rng = np.random.default_rng(seed)
    t = match_trials(u, "v2f", 2, n_trials, rng, "U", gender_balanced=genders is not None)
    vv, ff = prepare(v, f, scorer)
    s = pair_scores(vv, ff, t["query"][:, None], t["cands"], scorer, prepared=True)
    o = match_outcomes(s, "half")
    return binomial_normal(float(o.sum()), int(o.size))
