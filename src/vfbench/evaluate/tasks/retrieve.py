"""Retrieval (paper protocol and full gallery; joint retrieval shares the evaluator).

Generation: ``retrieve/<d>/paper`` (``retrieval.n_identities`` identities, a gallery of
``gallery_per_identity`` items each and ``queries_per_identity`` queries each) and
``retrieve/<d>/full`` (every item), each from its own generator. Rows: mAP, R-precision,
p@k and recall@k, labelled with the sizes actually drawn, with chance (a uniformly random
ranking) and the gender-only baseline as an exact expectation (no random draw, see
:func:`gender_baseline`). Intervals, every role (query and gallery identities together,
:func:`~vfbench.evaluate.confidence.retrieval_replicates`): the delete-one-identity
jackknife with a t quantile at the effective number of identities (``jackknife-all-t``,
default), the plain jackknife (estimate +- z se) and the identity bootstrap; beside them the
query-identity bootstrap and the normal interval over queries.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vfbench.evaluate import confidence
from vfbench.evaluate.confidence import (
    ALL,
    JACK,
    JACK_T,
    QUERY,
    IdentityRankCounts,
    centred_interval,
    cluster_bootstrap,
    jackknife_interval,
    jackknife_moments,
    jackknife_t_interval,
    mean_normal,
    retrieval_cells,
    retrieval_replicates,
    save_counts,
)
from vfbench.evaluate.metrics import rank_retrieval, rank_retrieval_pair
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.results import Metric
from vfbench.evaluate.tasks.context import Context, first, group_vectors
from vfbench.evaluate.tasks.generate import Adder
from vfbench.evaluate.trials import Universe, retrieval_sets


def generate(u: Universe, p: Protocol, direction: str, add: Adder, warn: list[str]) -> None:
    rc = p.retrieval
    if rc.paper:
        add(
            f"retrieve/{direction}/paper",
            {"task": "retrieve", "direction": direction, "variant": "paper"},
            lambda rng: retrieval_sets(
                u,
                direction,
                rng,
                rc.n_identities,
                rc.gallery_per_identity,
                rc.queries_per_identity,
            ),
        )
    if rc.full:
        add(
            f"retrieve/{direction}/full",
            {
                "task": "retrieve",
                "direction": direction,
                "variant": "full",
                "setting": "full gallery",
            },
            lambda rng: retrieval_sets(
                u, direction, rng, None, None, None, 1, 1, rc.full_max_queries, rc.full_max_gallery
            ),
        )


def _harmonic(n: np.ndarray) -> np.ndarray:
    """H_n for integer arrays (exact sum up to the largest n)."""
    n = np.asarray(n, dtype=np.int64)
    top = int(n.max(initial=0))
    h = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, top + 1))])
    return h[n]


def expected_random_ap(n_rel: np.ndarray, n_gallery: int | np.ndarray) -> np.ndarray:
    """E[AP] of a uniformly random ranking with R relevant out of N (no ties).

    E[AP] = H_N / N + (R - 1) / (N - 1) * (1 - H_N / N), H_N the N-th harmonic number
    (``n_gallery`` may be per query).
    """
    r = np.asarray(n_rel, dtype=np.float64)
    nn = np.broadcast_to(np.asarray(n_gallery, dtype=np.int64), r.shape)
    h = _harmonic(nn)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = h / nn + np.where(nn > 1, (r - 1) / np.maximum(nn - 1, 1), 0.0) * (1 - h / nn)
    return np.where(r > 0, np.where(nn <= 1, 1.0, e), 0.0)


def gender_baseline(
    ctx: Context,
    direction: str,
    qc: np.ndarray,
    gc: np.ndarray,
    ks: tuple[int, ...],
) -> dict[str, np.ndarray]:
    """The gender-only ranking ("same-gender items first, in random order"), exactly.

    Scores are 1 for a gallery item of the query's (known) gender, else 0; no random draw
    (one random tie-break draw put the baseline below chance on small sets). Every figure
    is its exact expectation under a uniformly random order within each tie block, like
    the chance row (the expectation under a uniformly random ranking), so the two compare:
    p@k, recall@k, R-precision as the ``sklearn`` statistics compute them for ties; AP:
    all relevant items share the query's gender, so they lie in the top block of the t
    same-gender items (the whole gallery when the query's gender is unknown) and E[AP] is
    the random-ranking expectation with R relevant out of t (:func:`expected_random_ap`).
    This holds for both AP variants (sklearn's own tie-block AP, R / t, would be the
    value of a *tied* ranking, not of "same gender first, otherwise at random").
    """
    gq, gg = ctx.u.gender[qc], ctx.u.gender[gc]
    dummy_q = np.zeros((qc.size, 1), np.float32)
    dummy_g = np.zeros((gc.size, 1), np.float32)
    st = rank_retrieval(
        dummy_q, dummy_g, qc, gc, ctx.scorer, "sklearn", ks, direction, attrs=(gq, gg)
    )
    levels, counts = np.unique(gg, return_counts=True)
    per = {str(x): int(c) for x, c in zip(levels, counts, strict=True)}
    sizes = np.array([per.get("m", 0), per.get("f", 0), gc.size])
    block = sizes[np.where(gq == "m", 0, np.where(gq == "f", 1, 2))]
    st["ap"] = expected_random_ap(st["n_rel"], np.maximum(block, 1))
    return st


def _setting(meta: dict[str, Any], qc: np.ndarray, gc: np.ndarray) -> str:
    """The row label, with the sizes actually drawn (fewer identities than asked, capped
    item counts ...)."""
    if meta.get("variant") != "paper":
        return str(meta.get("setting") or meta.get("variant") or "retrieval")
    ids, g_per = np.unique(gc, return_counts=True)
    q_per = np.unique(qc, return_counts=True)[1]

    def per(x: np.ndarray) -> str:
        lo, hi = int(x.min()), int(x.max())
        return str(hi) if lo == hi else f"{lo}-{hi}"

    return f"paper {ids.size} ids x {per(g_per)} / {per(q_per)} queries"


def _from_shared_matrix(
    ctx: Context,
    key: str,
    meta: dict[str, Any],
    queries: np.ndarray,
    gallery: np.ndarray,
    ks: tuple[int, ...],
) -> dict[str, np.ndarray] | None:
    """This group's statistics from one voices x faces score matrix shared with its converse
    group (same items, the other direction: e.g. CMPC's lists, both directions over the
    same 20k voices and faces), computed once for both; the converse's result waits in
    ``ctx.memo``. None when there is no such group (or no compiled kernel)."""
    if key in ctx.memo:
        return dict(ctx.memo.pop(key))
    d = meta["direction"]
    if ctx.trials is None or queries.ndim != 1 or gallery.ndim != 1:
        return None
    for k2 in ctx.trials.keys():
        m2 = ctx.trials.meta(k2)
        if k2 == key or m2.get("task") != meta.get("task") or m2.get("direction") == d:
            continue
        q2 = np.asarray(ctx.trials.groups[k2]["queries"])
        g2 = np.asarray(ctx.trials.groups[k2]["gallery"])
        if not (np.array_equal(q2, gallery) and np.array_equal(g2, queries)):
            continue
        vi, fi = (queries, gallery) if d == "v2f" else (gallery, queries)
        both = rank_retrieval_pair(
            ctx.v[vi], ctx.f[fi], ctx.vcode[vi], ctx.fcode[fi], ctx.scorer, ctx.p.ap, ks
        )
        if both is None:
            return None
        ctx.log(f"{key} and {k2}: one score matrix for both directions")
        mine, other = both if d == "v2f" else both[::-1]
        ctx.memo[k2] = other
        return mine
    return None


def evaluate_group(ctx: Context, key: str, meta: dict[str, Any], g: dict[str, np.ndarray]) -> None:
    d = meta["direction"]
    qx, cx, qcodes, ccodes = ctx.side(d)
    queries, gallery = np.asarray(g["queries"]), np.asarray(g["gallery"])
    qc = qcodes[first(queries)]
    gc = ccodes[first(gallery)]
    ks = tuple(sorted(set(ctx.p.retrieval.ks)))
    qv = qx[queries] if queries.ndim == 1 else group_vectors(qx, queries, ctx.scorer)
    gv = cx[gallery] if gallery.ndim == 1 else group_vectors(cx, gallery, ctx.scorer)
    st = _from_shared_matrix(ctx, key, meta, queries, gallery, ks)
    if st is None:
        st = rank_retrieval(qv, gv, qc, gc, ctx.scorer, ctx.p.ap, ks, d)
    gst = gender_baseline(ctx, d, qc, gc, ks) if ctx.u.has_gender() else None
    n_rel = st["n_rel"].astype(np.float64)
    ng = gallery.shape[0]
    none = int((n_rel == 0).sum())
    if none:
        ctx.res.warnings.append(f"{key}: {none} queries have no relevant gallery item (AP 0)")
    task = meta.get("task", "retrieve")
    if task == "joint_retrieve":
        setting = f"m_v={meta['m_v']} m_f={meta['m_f']} ({len(np.unique(gc))} ids)"
        params: dict[str, Any] = {"m_v": meta["m_v"], "m_f": meta["m_f"]}
    else:
        setting = _setting(meta, qc, gc)
        params = {"variant": meta.get("variant", "")}
    params.update(
        {
            "n_queries": int(queries.shape[0]),
            "n_gallery": int(ng),
            "n_gallery_identities": int(np.unique(gc).size),
            "ap": ctx.p.ap,
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        per = {
            "mAP": (
                st["ap"],
                float(expected_random_ap(n_rel, ng).mean()),
                None if gst is None else float(gst["ap"].mean()),
            ),
            "R-precision": (
                st["rprec"],
                float((n_rel / ng).mean()),
                None if gst is None else float(gst["rprec"].mean()),
            ),
        }
        for k in ks:
            per[f"p@{k}"] = (
                st[f"hits@{k}"] / k,
                float((n_rel / ng).mean()),
                None if gst is None else float((gst[f"hits@{k}"] / k).mean()),
            )
            rec = np.where(n_rel > 0, st[f"hits@{k}"] / np.maximum(n_rel, 1), 0.0)
            grec = None
            if gst is not None:
                grec = float(
                    np.where(n_rel > 0, gst[f"hits@{k}"] / np.maximum(n_rel, 1), 0.0).mean()
                )
            per[f"recall@{k}"] = (rec, float(min(k, ng) / ng), grec)
    reps, skipped, counts = _all_roles(ctx, key, qv, gv, qc, gc, ks, d)
    if skipped:
        params["bootstrap_all_skipped"] = skipped
        ctx.res.warnings.append(f"{key}: {skipped}")
    for name, (vals, chance, gb) in per.items():
        iv = {
            "normal": mean_normal(vals, ctx.p.level),
            QUERY: cluster_bootstrap(vals, qc, ctx.p.n_boot, ctx.p.level, ctx.rng(key, name)),
        }
        row_params = dict(params)
        if name in reps:
            boot, loo = reps[name][: ctx.p.n_boot], reps[name][ctx.p.n_boot :]
            point = float(np.mean(vals))
            iv[JACK_T] = jackknife_t_interval(point, loo, ctx.p.level, vals.size)
            jm = jackknife_moments(loo)
            if jm.m >= 2:  # the t quantile's degrees of freedom (effective identities)
                row_params["jackknife_df"] = max(1, math.floor(jm.df))
            iv[JACK] = jackknife_interval(point, loo, ctx.p.level, vals.size)
            iv[ALL], shift = centred_interval(point, boot, ctx.p.level, vals.size, ALL)
            row_params["bootstrap_all_shift"] = round(shift, 6)
            undefined = int((~np.isfinite(boot)).sum())
            if undefined:
                row_params["undefined_replicates"] = undefined
        ctx.res.metrics.append(
            Metric(
                task=task,
                direction=d,
                setting=setting,
                name=name,
                value=float(np.mean(vals)),
                n=int(vals.size),
                params=row_params,
                intervals=iv,
                chance=chance,
                gender_baseline=gb,
                n_identities=int(np.unique(qc).size),
                key=key if name == "mAP" else "",
            )
        )
    ctx.res.outcomes[key] = {
        "outcome": st["ap"].astype(np.float32),
        "cluster": qc.astype(np.int32),
        **counts,
    }


#: retrieval sets of at most this many Q x R x I cells save their counts in outcomes.npz,
#: so that ``vfbench compare`` resamples their mAP in every role (2 bytes a cell: the demo's
#: sets are 0.3-0.5 M cells); larger ones are compared by the query-identity bootstrap
SAVE_CELLS = 4_000_000


def _all_roles(
    ctx: Context,
    key: str,
    qv: np.ndarray,
    gv: np.ndarray,
    qc: np.ndarray,
    gc: np.ndarray,
    ks: tuple[int, ...],
    direction: str,
) -> tuple[dict[str, np.ndarray], str, dict[str, np.ndarray]]:
    """All-roles bootstrap replicates of every figure of one retrieval set, or none and the
    reason (a set whose count tables exceed ``confidence.RETRIEVAL_MAX_CELLS``: then only
    the query-identity bootstrap is computed, and the row says so); and, for sets of at
    most ``SAVE_CELLS`` cells, the counts ``vfbench compare`` resamples (else {})."""
    cells = retrieval_cells(qc, gc)
    limit = confidence.RETRIEVAL_MAX_CELLS
    if cells > limit:
        return (
            {},
            (
                f"all-roles bootstrap not computed: {qc.size} queries x relevant items x "
                f"identities = {cells:,} count cells > {limit:,} (cost grows with cells x n_boot); "
                "interval: query-identity bootstrap"
            ),
            {},
        )
    rng = ctx.rng(key, ALL)
    keep: list[IdentityRankCounts] | None = [] if cells <= SAVE_CELLS else None
    reps = retrieval_replicates(
        qv,
        gv,
        qc,
        gc,
        ctx.p.n_boot,
        rng,
        ctx.scorer,
        ctx.p.ap,
        ks,
        direction,
        keep=keep,
        jackknife=True,
    )
    return reps, "", (save_counts(keep) if keep else {})
