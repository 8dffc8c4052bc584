"""What every task evaluator shares: prepared vectors, identity codes, the protocol, and
order-independent generators (:func:`~vfbench.evaluate.seeding.task_rng`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.results import EvaluationResult
from vfbench.evaluate.scoring import Scorer, mean_vectors, normalize, pair_scores, score_matrix
from vfbench.evaluate.seeding import task_rng
from vfbench.evaluate.trials import Universe

Log = Callable[[str], None]


@dataclass
class Context:
    """One evaluation's state, shared by the task evaluators.

    ``v`` / ``f`` (Nv, D) / (Nf, D): prepared vectors aligned with the trial set's item
    lists; ``vcode`` / ``fcode``: each item's identity code in ``u``. ``trials``: the trial
    set being evaluated (lets a task find a group's converse, e.g. the other retrieval
    direction over the same items); ``memo``: results one group computed for a later one."""

    v: np.ndarray
    f: np.ndarray
    vcode: np.ndarray
    fcode: np.ndarray
    u: Universe
    p: Protocol
    scorer: Scorer
    res: EvaluationResult
    log: Log
    trials: Any = None
    memo: dict[str, Any] = field(default_factory=dict)
    gender_v: np.ndarray = field(init=False)
    gender_f: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.gender_v = self.u.gender[self.vcode]
        self.gender_f = self.u.gender[self.fcode]

    def side(self, direction: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(query vectors, candidate vectors, query codes, candidate codes)."""
        if direction == "v2f":
            return self.v, self.f, self.vcode, self.fcode
        return self.f, self.v, self.fcode, self.vcode

    def rng(self, *key: object) -> np.random.Generator:
        """The generator of one figure's bootstrap: depends on the seed and ``key`` only."""
        return task_rng(self.p.seed, "bootstrap", *key)


def first(idx: np.ndarray, ndim: int = 1) -> np.ndarray:
    """The first item of each index set: (T,) / (T, m) -> (T,); with ndim=2 (T, n[, m]) -> (T, n)."""
    return idx if idx.ndim == ndim else idx[..., 0]


def group_vectors(x: np.ndarray, idx: np.ndarray, scorer: Scorer) -> np.ndarray:
    """Mean vector of each index set (joint tasks), unit length for cosine."""
    m = mean_vectors(x, idx)
    return normalize(m) if scorer == "cosine" else m


def _paired_vector_scores(
    qv: np.ndarray, cv: np.ndarray, direction: str, scorer: Scorer
) -> np.ndarray:
    """Scores of query vectors (T, D) against candidate vectors (T, n, D) -> (T, n)."""
    if callable(scorer):
        t, n = cv.shape[:2]
        out = np.empty((t, n), np.float32)
        for a in range(0, t, 128):
            q = qv[a : a + 128]
            c = cv[a : a + 128].reshape(-1, cv.shape[-1])
            s = (
                score_matrix(q, c, scorer, True)
                if direction == "v2f"
                else score_matrix(c, q, scorer, True).T
            )
            k = q.shape[0]
            out[a : a + k] = s.reshape(k, k, n)[np.arange(k), np.arange(k)]
        return out
    s = np.einsum("td,tnd->tn", qv, cv)
    if scorer == "l2":
        s = 2 * s - (qv * qv).sum(-1)[:, None] - (cv * cv).sum(-1)
    return s.astype(np.float32)


def match_scores(ctx: Context, direction: str, query: np.ndarray, cands: np.ndarray) -> np.ndarray:
    """(T, n) scores of each trial's query (T,) [or item sets (T, m)] against its
    candidates (T, n) [or (T, n, m)]."""
    if query.ndim == 1 and cands.ndim == 2:
        if direction == "v2f":
            return pair_scores(ctx.v, ctx.f, query[:, None], cands, ctx.scorer, prepared=True)
        return pair_scores(ctx.v, ctx.f, cands, query[:, None], ctx.scorer, prepared=True)
    qx, cx, _, _ = ctx.side(direction)
    q2 = query if query.ndim == 2 else query[:, None]
    c3 = cands if cands.ndim == 3 else cands[..., None]
    out = np.empty(cands.shape[:2], np.float32)
    step = max(1, (16 << 20) // max(1, 4 * qx.shape[1] * c3.shape[1] * c3.shape[2]))
    for a in range(0, q2.shape[0], step):
        qv = group_vectors(qx, q2[a : a + step], ctx.scorer)
        cv = group_vectors(cx, c3[a : a + step], ctx.scorer)
        out[a : a + step] = _paired_vector_scores(qv, cv, direction, ctx.scorer)
    return out
