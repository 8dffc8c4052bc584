"""Repeated random test sets (paper Sec. 3.2, Fig. 4b): mean, std and t-interval per size.

For each size s, R random sets of s identities are drawn from the usable identities
(``task_rng(seed, "repeated", "sets", s)``: the same sets for every task); on each set
every repeated task draws its own trials (``task_rng(seed, "repeated", task, d, s, r)``).
The t-interval treats the R figures as independent draws of "a test set of s
identities". When s is a large part of the pool, two sets share most identities (on
average a fraction s / pool), the R figures are nearly the same number and the t-interval
would be meaninglessly narrow: above ``repeated.max_overlap`` no interval is given and
the row says why; every row records the pool size and how many distinct sets were drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vfbench.evaluate.confidence import t_interval
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.inputs import Attributes
from vfbench.evaluate.metrics import auc_from_roc, match_outcomes, rank_retrieval, roc
from vfbench.evaluate.results import Curve, EvaluationResult, Metric
from vfbench.evaluate.scoring import _MATMUL_ADVANTAGE, pair_scores, prepare, score_matrix
from vfbench.evaluate.seeding import task_rng
from vfbench.evaluate.tasks.context import Context, match_scores
from vfbench.evaluate.trials import Universe, match_trials, retrieval_sets, verify_pairs

NAMES = {
    "match": ("accuracy", "1:2 U"),
    "verify": ("auc", "pairs U"),
    "retrieve": ("mAP", "paper gallery"),
}


#: a set's voice x face score matrix is computed once and shared by its matching and
#: verification trials in both directions when it holds at most this many cells (16 MB)
#: and costs less than scoring the trials' pairs one by one (``scoring._MATMUL_ADVANTAGE``)
SHARED_SCORE_CELLS = 4_000_000


def _set_scores(ctx: Context, sub: Context) -> np.ndarray | None:
    """The voice x face scores of one random set, when sharing them pays (see
    :data:`SHARED_SCORE_CELLS`); else None and every task scores its own pairs."""
    rc = ctx.p.repeated
    pairs_per_direction = (2 * ("match" in rc.tasks) + ("verify" in rc.tasks)) * rc.n_trials
    cells = sub.v.shape[0] * sub.f.shape[0]
    pairs = pairs_per_direction * len(ctx.p.directions)
    if cells == 0 or cells > SHARED_SCORE_CELLS or cells > _MATMUL_ADVANTAGE * pairs:
        return None
    return score_matrix(sub.v, sub.f, ctx.scorer, prepared=True)


def _one_set(
    ctx: Context,
    sub: Context,
    task: str,
    d: str,
    size: int,
    r: int,
    scores: np.ndarray | None = None,
) -> float:
    """One figure of one random set; ``scores``: the set's voice x face score matrix
    (:func:`_set_scores`), from which the matching and verification pairs are read."""
    rc = ctx.p.repeated
    rng = task_rng(ctx.p.seed, "repeated", task, d, size, r)
    su = sub.u
    if task == "match":
        t = match_trials(su, d, 2, rc.n_trials, rng, "U", ctx.p.matching.gender_balanced)
        q, c = t["query"], t["cands"]
        if scores is not None and q.ndim == 1 and c.ndim == 2:
            s = scores[q[:, None], c] if d == "v2f" else scores[c, q[:, None]]
        else:
            s = match_scores(sub, d, q, c)
        return float(match_outcomes(s, ctx.p.tie_rule).mean())
    if task == "verify":
        t = verify_pairs(su, d, rc.n_trials, rng, "U", ctx.p.matching.gender_balanced)
        if scores is not None:
            s = scores[t["voice"], t["face"]]
        else:
            s = pair_scores(sub.v, sub.f, t["voice"], t["face"], ctx.scorer, prepared=True)
        return float(auc_from_roc(roc(s, t["label"])))
    pr = ctx.p.retrieval
    t = retrieval_sets(
        su, d, rng, pr.n_identities, pr.gallery_per_identity, pr.queries_per_identity
    )
    qx, cx, qcodes, ccodes = sub.side(d)
    st = rank_retrieval(
        qx[t["queries"]],
        cx[t["gallery"]],
        qcodes[t["queries"]],
        ccodes[t["gallery"]],
        ctx.scorer,
        ctx.p.ap,
        (1,),
        d,
    )
    return float(st["ap"].mean())


def evaluate_repeated(
    ctx: Context, voices: Embeddings, faces: Embeddings, attrs: Attributes
) -> None:
    """Append the repeated-sets rows and their CI-vs-identities curves to ``ctx.res``."""
    rc = ctx.p.repeated
    u = Universe.build(voices.identities, faces.identities, attrs)
    usable = np.flatnonzero(u.usable())
    if usable.size < 2:
        ctx.res.warnings.append("repeated: fewer than two usable identities, skipped")
        return
    pool = int(usable.size)
    v_all, f_all = prepare(voices.vectors, faces.vectors, ctx.scorer)
    sizes = sorted({min(s, pool) for s in rc.sizes})
    capped = [s for s in rc.sizes if s > pool]
    if capped:
        ctx.res.warnings.append(f"repeated: sizes {capped} capped at {pool} identities available")
    vcode_all = np.searchsorted(u.names, voices.identities)
    fcode_all = np.searchsorted(u.names, faces.identities)
    values: dict[tuple[str, str, int], list[float]] = {}
    distinct: dict[int, int] = {}
    for size in sizes:
        set_rng = task_rng(ctx.p.seed, "repeated", "sets", size)
        seen: set[tuple[int, ...]] = set()
        for r in range(rc.repeats):
            sub_ids = np.sort(set_rng.choice(usable, size, replace=False))
            seen.add(tuple(sub_ids.tolist()))
            vidx = np.flatnonzero(np.isin(vcode_all, sub_ids))
            fidx = np.flatnonzero(np.isin(fcode_all, sub_ids))
            su = Universe.build(voices.identities[vidx], faces.identities[fidx], attrs)
            sub = Context(
                pv=v_all[vidx],
                pf=f_all[fidx],
                vcode=np.searchsorted(su.names, voices.identities[vidx]),
                fcode=np.searchsorted(su.names, faces.identities[fidx]),
                u=su,
                p=ctx.p,
                scorer=ctx.scorer,
                res=EvaluationResult(),
                log=ctx.log,
            )
            scores = _set_scores(ctx, sub)
            for d in ctx.p.directions:
                for task in rc.tasks:
                    values.setdefault((task, d, size), []).append(
                        _one_set(ctx, sub, task, d, size, r, scores)
                    )
        distinct[size] = len(seen)
    chances: dict[str, float | None] = {
        "match": 0.5 if ctx.p.tie_rule == "half" else None,
        "verify": 0.5,
        "retrieve": None,
    }
    for task in rc.tasks:
        for d in ctx.p.directions:
            xs: list[float] = []
            ys: list[float] = []
            lo: list[float] = []
            hi: list[float] = []
            sds: list[float] = []
            for size in sizes:
                vals = np.asarray(values.get((task, d, size), []))
                if vals.size == 0:
                    continue
                name, what = NAMES[task]
                overlap = size / pool
                params: dict[str, Any] = {
                    "of_task": task,
                    "size": int(size),
                    "pool_identities": pool,
                    "distinct_sets": distinct[size],
                    "expected_overlap": round(overlap, 4),
                    "std": float(vals.std(ddof=1)) if vals.size > 1 else 0.0,
                    "values": [round(float(x), 6) for x in vals],
                    "min": float(vals.min()),
                    "max": float(vals.max()),
                }
                est = t_interval(vals, ctx.p.level)
                intervals = {"t": est}
                if overlap > rc.max_overlap:
                    intervals = {}
                    params["no_interval"] = (
                        f"sets of {size} from {pool} identities share {100 * overlap:.0f}% of "
                        f"their identities on average (> {100 * rc.max_overlap:.0f}%): not "
                        "independent test sets, no t-interval"
                    )
                ctx.res.metrics.append(
                    Metric(
                        task="repeated",
                        direction=d,
                        setting=f"{what}, {size} of {pool} ids x {vals.size} sets",
                        name=name,
                        value=est.value,
                        n=int(vals.size),
                        params=params,
                        intervals=intervals,
                        chance=chances[task],
                        n_identities=int(size),
                    )
                )
                if not intervals:
                    continue
                sds.append(params["std"])
                xs.append(float(size))
                ys.append(est.value)
                lo.append(est.low)
                hi.append(est.high)
            if xs:
                ctx.res.curves.append(
                    Curve(
                        name=f"repeated {NAMES[task][0]} {d}",
                        kind="ci_vs_ids",
                        x=xs,
                        y=ys,
                        low=lo,
                        high=hi,
                        x_label="number of test identities",
                        y_label=NAMES[task][0],
                        params={"direction": d, "task": task, "repeats": rc.repeats, "std": sds},
                    )
                )
