"""What every task evaluator shares: prepared vectors, identity codes, the protocol, and
order-independent generators (:func:`~vfbench.evaluate.seeding.task_rng`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.results import EvaluationResult
from vfbench.evaluate.scoring import (
    Scorer,
    kernel_expected,
    mean_vectors,
    normalize,
    pair_scores,
    prepare,
    score_matrix,
)
from vfbench.evaluate.seeding import task_rng
from vfbench.evaluate.trials import Universe

Log = Callable[[str], None]


@dataclass
class RawRows:
    """Unprepared embedding tables and the rows the trial set's items map to: a
    :class:`Context` built on them prepares (gathers, normalises) ``v`` / ``f`` only when a
    task needs the matrices; large pair lists are scored straight from these tables."""

    voices: np.ndarray
    faces: np.ndarray
    vrow: np.ndarray
    frow: np.ndarray


@dataclass
class Context:
    """One evaluation's state, shared by the task evaluators.

    ``v`` / ``f`` (Nv, D) / (Nf, D): prepared vectors aligned with the trial set's item
    lists (given as ``pv`` / ``pf``, or prepared from ``raw`` on first use); ``vcode`` /
    ``fcode``: each item's identity code in ``u``. ``trials``: the trial set being
    evaluated (lets a task find a group's converse, e.g. the other retrieval direction over
    the same items); ``memo``: results one group computed for a later one."""

    pv: np.ndarray | None
    pf: np.ndarray | None
    vcode: np.ndarray
    fcode: np.ndarray
    u: Universe
    p: Protocol
    scorer: Scorer
    res: EvaluationResult
    log: Log
    trials: Any = None
    memo: dict[str, Any] = field(default_factory=dict)
    raw: RawRows | None = None
    gender_v: np.ndarray = field(init=False)
    gender_f: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.gender_v = self.u.gender[self.vcode]
        self.gender_f = self.u.gender[self.fcode]
        if (self.pv is None or self.pf is None) and self.raw is None:
            raise ValueError("Context needs prepared vectors or raw rows")

    def _prepare(self) -> None:
        r = self.raw
        assert r is not None
        self.pv, self.pf = prepare(r.voices, r.faces, self.scorer, vrows=r.vrow, frows=r.frow)

    @property
    def v(self) -> np.ndarray:
        if self.pv is None:
            self._prepare()
        assert self.pv is not None
        return self.pv

    @property
    def f(self) -> np.ndarray:
        if self.pf is None:
            self._prepare()
        assert self.pf is not None
        return self.pf

    @property
    def n_items(self) -> tuple[int, int, int]:
        """(voices, faces, dimension) without preparing the vectors."""
        if self.pv is not None and self.pf is not None:
            return self.pv.shape[0], self.pf.shape[0], self.pv.shape[1]
        r = self.raw
        assert r is not None
        return r.vrow.size, r.frow.size, r.voices.shape[1]

    def pair_scores(self, vi: np.ndarray, fi: np.ndarray) -> np.ndarray:
        """Scores of voices ``vi`` against faces ``fi`` (broadcast together). A list large
        enough for the compiled pair kernel, before anything prepared the vectors, is
        scored from the raw tables (the kernel divides by the norms itself): no gathered
        or normalised copies of the tables (2 x 40 MB at 20k x 512)."""
        r = self.raw
        if r is not None and self.pv is None and not callable(self.scorer):
            n = int(np.broadcast(vi, fi).size)
            if kernel_expected(n, r.vrow.size, r.frow.size):
                return pair_scores(r.voices, r.faces, r.vrow[vi], r.frow[fi], self.scorer)
        return pair_scores(self.v, self.f, vi, fi, self.scorer, prepared=True)

    def codes(self, direction: str) -> tuple[np.ndarray, np.ndarray]:
        """(query codes, candidate codes) of ``direction``, without preparing vectors."""
        return (self.vcode, self.fcode) if direction == "v2f" else (self.fcode, self.vcode)

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
            return ctx.pair_scores(query[:, None], cands)
        return ctx.pair_scores(cands, query[:, None])
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
