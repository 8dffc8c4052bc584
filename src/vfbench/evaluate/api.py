"""``evaluate(voices, faces, identities, protocol) -> EvaluationResult``: every task, both directions.

The library entry point of the benchmark. It takes embeddings (any model's) or a score
callable, never a model. Steps:

1. identity attributes (gender / nationality / language) from a manifest or a dict;
2. trials: generated from the protocol with its seed (:func:`make_trials`) or given (a
   saved or imported :class:`~vfbench.evaluate.trials.TrialSet`);
3. each trial group is scored and measured: matching accuracy (1:n, U/G/N/GN, joint),
   verification AUC / EER / TAR@FAR, retrieval mAP / p@k / R-precision / recall@k;
4. test confidence for each figure (binomial, Wilson, identity-level bootstrap; per-query
   normal interval for retrieval; bootstrap for verification) and the paper's repeated
   random test sets (t-interval per number of identities, Fig. 4b);
5. sanity anchors on every row: chance level and the gender-only baseline (the same trials
   scored by "1 if same gender else 0" with the same tie rule).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vfbench.config import to_dict
from vfbench.errors import EvaluationError
from vfbench.evaluate.confidence import (
    accuracy_intervals,
    bootstrap_weights,
    cluster_bootstrap,
    mean_normal,
    t_interval,
)
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.metrics import (
    auc_from_roc,
    eer_from_roc,
    match_outcomes,
    rank_retrieval,
    roc,
    tar_at_far,
    verification_metrics,
)
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.results import Curve, Estimate, EvaluationResult, Metric
from vfbench.evaluate.scoring import (
    Scorer,
    mean_vectors,
    normalize,
    pair_scores,
    prepare,
    score_matrix,
)
from vfbench.evaluate.trials import (
    TrialSet,
    Universe,
    index_map,
    match_trials,
    retrieval_sets,
    verify_pairs,
)

Log = Callable[[str], None]
ATTRS = ("gender", "nationality", "language")


# ---------------------------------------------------------------------------- inputs
def identity_attributes(identities: Any) -> dict[str, dict[str, str]]:
    """identity -> {"gender", "nationality", "language"} from a Manifest, a dict or None.

    A dict may map an identity to a dict of attributes, to an object with those attributes
    (e.g. :class:`~vfbench.data.manifest.Identity`), or to a plain gender string.
    """
    if identities is None:
        return {}
    if hasattr(identities, "identities") and hasattr(identities, "voices"):  # a Manifest
        return {
            i.id: {a: str(getattr(i, a, "") or "") for a in ATTRS} for i in identities.identities
        }
    if not isinstance(identities, Mapping):
        raise EvaluationError(
            f"identities must be a Manifest, a dict or None, got {type(identities).__name__}"
        )
    out: dict[str, dict[str, str]] = {}
    for k, v in identities.items():
        if isinstance(v, str):
            out[str(k)] = {"gender": v, "nationality": "", "language": ""}
        elif isinstance(v, Mapping):
            out[str(k)] = {a: str(v.get(a, "") or "") for a in ATTRS}
        else:
            out[str(k)] = {a: str(getattr(v, a, "") or "") for a in ATTRS}
        g = out[str(k)]["gender"]
        if g not in ("m", "f", ""):
            raise EvaluationError(f"identity {k!r}: gender {g!r} must be 'm', 'f' or empty")
    return out


def embeddings_hash(e: Embeddings) -> str:
    """sha256 over ids, identities and vector bytes (independent of the file container)."""
    h = hashlib.sha256()
    h.update("\n".join(e.ids.tolist()).encode() + b"\0")
    h.update("\n".join(e.identities.tolist()).encode() + b"\0")
    h.update(np.ascontiguousarray(e.vectors).tobytes())
    return h.hexdigest()


def _restrict(e: Embeddings, keep: set[str]) -> Embeddings:
    m = np.isin(e.identities, list(keep))
    return Embeddings(e.ids[m], e.identities[m], e.vectors[m], e.modality, dict(e.meta))


def apply_split(
    voices: Embeddings, faces: Embeddings, identities: Any, split: str
) -> tuple[Embeddings, Embeddings]:
    """Keep only items of identities in ``split`` of the manifest (no-op for ``split=""``)."""
    if not split:
        return voices, faces
    if not hasattr(identities, "identities"):
        raise EvaluationError(f"protocol.split={split!r} needs a manifest with splits")
    keep = {i.id for i in identities.identities if i.split == split}
    if not keep:
        known = sorted({i.split for i in identities.identities})
        raise EvaluationError(f"the manifest has no identity in split {split!r}; splits: {known}")
    return _restrict(voices, keep), _restrict(faces, keep)


# ---------------------------------------------------------------------------- trials
def _match_key(d: str, n: int, c: str) -> str:
    return f"match/{d}/n={n}/{c}"


def make_trials(
    voices: Embeddings,
    faces: Embeddings,
    identities: Any = None,
    protocol: Protocol | None = None,
) -> TrialSet:
    """Generate every trial group the protocol asks for (seeded; vectorised)."""
    p = protocol or Protocol()
    attrs = identity_attributes(identities)
    u = Universe.build(voices.identities, faces.identities, attrs)
    rng = np.random.default_rng(p.seed)
    ts = TrialSet(voices.ids, faces.ids, voices.identities, faces.identities)
    ts.config.update({"seed": p.seed, "generator": "vfbench.make_trials", "warnings": []})
    warn = ts.config["warnings"]
    has_g = u.has_gender()
    has_n = bool((u.nationality != "").any())
    mc = p.matching

    def try_add(
        key: str, meta: dict[str, Any], fn: Callable[..., dict[str, np.ndarray]], *args: Any
    ) -> None:
        try:
            arrays = fn(*args)
        except EvaluationError as exc:
            warn.append(f"{key}: skipped ({exc})")
            return
        arrays = {k: v for k, v in arrays.items() if not k.endswith("identity")}
        ts.add(key, meta, arrays)

    for d in p.directions:
        if "match" in p.tasks:
            for n in mc.n_values:
                try_add(
                    _match_key(d, n, "U"),
                    {"task": "match", "direction": d, "n": n, "constraint": "U"},
                    match_trials,
                    u,
                    d,
                    n,
                    mc.n_trials,
                    rng,
                    "U",
                    mc.gender_balanced,
                )
            for c in mc.constraints:
                if ("G" in c and not has_g) or ("N" in c and not has_n):
                    warn.append(f"match/{d}/{c}: skipped (identity attribute unknown)")
                    continue
                for n in mc.constrained_n:
                    key = _match_key(d, n, c)
                    if key in ts.groups:
                        continue
                    try_add(
                        key,
                        {"task": "match", "direction": d, "n": n, "constraint": c},
                        match_trials,
                        u,
                        d,
                        n,
                        mc.n_trials,
                        rng,
                        c,
                        mc.gender_balanced,
                    )
        if "verify" in p.tasks:
            vc = p.verification
            try_add(
                f"verify/{d}/{vc.constraint}",
                {"task": "verify", "direction": d, "constraint": vc.constraint},
                verify_pairs,
                u,
                d,
                vc.n_pairs,
                rng,
                vc.constraint,
                mc.gender_balanced,
            )
        if "retrieve" in p.tasks:
            rc = p.retrieval
            if rc.paper:
                try_add(
                    f"retrieve/{d}/paper",
                    {
                        "task": "retrieve",
                        "direction": d,
                        "variant": "paper",
                        "setting": f"paper {rc.n_identities} ids x {rc.gallery_per_identity} / "
                        f"{rc.queries_per_identity} queries",
                    },
                    retrieval_sets,
                    u,
                    d,
                    rng,
                    rc.n_identities,
                    rc.gallery_per_identity,
                    rc.queries_per_identity,
                )
            if rc.full:
                try_add(
                    f"retrieve/{d}/full",
                    {
                        "task": "retrieve",
                        "direction": d,
                        "variant": "full",
                        "setting": "full gallery",
                    },
                    retrieval_sets,
                    u,
                    d,
                    rng,
                    None,
                    None,
                    None,
                    1,
                    1,
                    rc.full_max_queries,
                    rc.full_max_gallery,
                )
        if "joint" in p.tasks:
            jc = p.joint
            pairs: list[tuple[int, int]] = []
            for m in jc.m_values:
                for pr in ((m, 1), (1, m), (m, m)):
                    if pr not in pairs:
                        pairs.append(pr)
            top_v, top_f = int(u.voice.count.max()), int(u.face.count.max())
            for mv, mf in pairs:
                if mv > top_v or mf > top_f:
                    warn.append(
                        f"joint_match/{d}/mv={mv}/mf={mf}: skipped (no identity has that many items)"
                    )
                    continue
                mq, mcand = (mv, mf) if d == "v2f" else (mf, mv)
                try_add(
                    f"joint_match/{d}/mv={mv}/mf={mf}",
                    {"task": "joint_match", "direction": d, "n": jc.n, "m_v": mv, "m_f": mf},
                    match_trials,
                    u,
                    d,
                    jc.n,
                    jc.n_trials,
                    rng,
                    "U",
                    mc.gender_balanced,
                    mq,
                    mcand,
                )
            if "retrieve" in p.tasks or p.retrieval.paper:
                rc = p.retrieval
                for mv, mf in jc.retrieval_m:
                    have_v, have_f = int(u.voice.count.max()), int(u.face.count.max())
                    if mv > have_v or mf > have_f:
                        warn.append(
                            f"joint_retrieve/{d}/mv={mv}/mf={mf}: sets capped at the items an "
                            f"identity has (max {have_v} voices, {have_f} faces)"
                        )
                    mq, mcand = (mv, mf) if d == "v2f" else (mf, mv)
                    try_add(
                        f"joint_retrieve/{d}/mv={mv}/mf={mf}",
                        {"task": "joint_retrieve", "direction": d, "m_v": mv, "m_f": mf},
                        retrieval_sets,
                        u,
                        d,
                        rng,
                        rc.n_identities,
                        rc.gallery_per_identity,
                        rc.queries_per_identity,
                        mq,
                        mcand,
                    )
    return ts


# ---------------------------------------------------------------------------- context
@dataclass
class _Ctx:
    v: np.ndarray  # (Nv, D) prepared vectors aligned with the trial set's voice list
    f: np.ndarray
    vcode: np.ndarray  # (Nv,) identity code of each voice item
    fcode: np.ndarray
    u: Universe
    p: Protocol
    scorer: Scorer
    seed: int
    res: EvaluationResult
    log: Log
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

    def next_seed(self) -> int:
        self.seed += 1
        return self.seed


def _first(idx: np.ndarray, ndim: int = 1) -> np.ndarray:
    """The first item of each index set: (T,) / (T, m) -> (T,); with ndim=2 (T, n[, m]) -> (T, n)."""
    return idx if idx.ndim == ndim else idx[..., 0]


def _group_vectors(x: np.ndarray, idx: np.ndarray, scorer: Scorer) -> np.ndarray:
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


def _match_scores(ctx: _Ctx, direction: str, query: np.ndarray, cands: np.ndarray) -> np.ndarray:
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
        qv = _group_vectors(qx, q2[a : a + step], ctx.scorer)
        cv = _group_vectors(cx, c3[a : a + step], ctx.scorer)
        out[a : a + step] = _paired_vector_scores(qv, cv, direction, ctx.scorer)
    return out


def _gender_match_scores(gq: np.ndarray, gc: np.ndarray) -> np.ndarray:
    known = np.isin(gq, ["m", "f"])[:, None]
    return ((gc == gq[:, None]) & known).astype(np.float32)


# ---------------------------------------------------------------------------- tasks
def _eval_match(ctx: _Ctx, key: str, meta: dict[str, Any], g: dict[str, np.ndarray]) -> None:
    d = meta["direction"]
    query, cands = np.asarray(g["query"]), np.asarray(g["cands"])
    _, _, qcodes_all, ccodes_all = ctx.side(d)
    qc = qcodes_all[_first(query)]
    cc = ccodes_all[_first(cands, 2)]
    n = cands.shape[1]
    scores = _match_scores(ctx, d, query, cands)
    o = match_outcomes(scores, ctx.p.tie_rule)
    gb = None
    if ctx.u.has_gender():
        gb = float(
            match_outcomes(
                _gender_match_scores(ctx.u.gender[qc], ctx.u.gender[cc]), ctx.p.tie_rule
            ).mean()
        )
    task = meta.get("task", "match")
    if task == "joint_match":
        setting = f"1:{n} m_v={meta['m_v']} m_f={meta['m_f']}"
        params = {"n": n, "m_v": meta["m_v"], "m_f": meta["m_f"], "constraint": "U"}
    else:
        c = meta.get("constraint", "U")
        setting = f"1:{n} {c}" + (" (imported)" if meta.get("source") else "")
        params = {"n": n, "constraint": c}
    if meta.get("source"):
        params["source"] = meta["source"]
    chance = 1.0 / n if ctx.p.tie_rule == "half" else None

    def row(mask: np.ndarray | None, group: str) -> None:
        oo = o if mask is None else o[mask]
        cl = qc if mask is None else qc[mask]
        if oo.size == 0:
            return
        iv = accuracy_intervals(oo, cl, ctx.p.level, ctx.p.n_boot, ctx.next_seed())
        gbb = gb
        if mask is not None and gb is not None:
            gbb = float(
                match_outcomes(
                    _gender_match_scores(ctx.u.gender[qc[mask]], ctx.u.gender[cc[mask]]),
                    ctx.p.tie_rule,
                ).mean()
            )
        ctx.res.metrics.append(
            Metric(
                task=task,
                direction=d,
                setting=setting,
                name="accuracy",
                value=float(oo.mean()),
                n=int(oo.size),
                params=dict(params),
                group=group,
                intervals=iv,
                chance=chance,
                gender_baseline=gbb,
                n_identities=int(np.unique(cl).size),
                key=key if mask is None else "",
            )
        )

    row(None, "all")
    for attr in ctx.p.by if task == "match" else []:
        vals = getattr(ctx.u, attr, None)
        if vals is None:
            continue
        qa = np.asarray(vals)[qc]
        levels = [x for x in np.unique(qa) if x != ""]
        if attr != "gender":  # keep the table readable: the 8 largest groups
            counts = {x: int((qa == x).sum()) for x in levels}
            levels = sorted(levels, key=lambda x: -counts[x])[:8]
        for lv in levels:
            row(qa == lv, f"{attr}={lv}")
    ctx.res.outcomes[key] = {"outcome": o.astype(np.float32), "cluster": qc.astype(np.int32)}


def _eval_verify(ctx: _Ctx, key: str, meta: dict[str, Any], g: dict[str, np.ndarray]) -> None:
    d = meta["direction"]
    vi, fi, lab = np.asarray(g["voice"]), np.asarray(g["face"]), np.asarray(g["label"]).astype(bool)
    s = pair_scores(ctx.v, ctx.f, vi, fi, ctx.scorer, prepared=True)
    anchor = ctx.vcode[vi] if d == "v2f" else ctx.fcode[fi]
    point = verification_metrics(s, lab, tuple(ctx.p.verification.fars), ctx.p.eer)
    # identity-level bootstrap of every verification figure, B replicates at once
    codes, k = np.unique(anchor, return_inverse=True)
    rng = np.random.default_rng(ctx.next_seed())
    reps: dict[str, list[np.ndarray]] = {name: [] for name in point}
    for a in range(0, ctx.p.n_boot, 100):
        w = bootstrap_weights(codes.size, min(100, ctx.p.n_boot - a), rng)[:, k.reshape(-1)]
        r = roc(s, lab, w)
        reps["auc"].append(np.asarray(auc_from_roc(r)))
        reps["eer"].append(np.asarray(eer_from_roc(r)))
        for far in ctx.p.verification.fars:
            reps[f"tar@far={far:g}"].append(np.asarray(tar_at_far(r, far)))
    gb: dict[str, float] = {}
    if ctx.u.has_gender():
        gs = (
            (ctx.gender_v[vi] == ctx.gender_f[fi]) & np.isin(ctx.gender_v[vi], ["m", "f"])
        ).astype(np.float32)
        gb = verification_metrics(gs, lab, tuple(ctx.p.verification.fars), ctx.p.eer)
    lo_q, hi_q = 0.5 - ctx.p.level / 2, 0.5 + ctx.p.level / 2
    c = meta.get("constraint", "U")
    for name, val in point.items():
        rr = np.concatenate(reps[name])
        rr = rr[np.isfinite(rr)]
        est = Estimate(
            val,
            float(np.quantile(rr, lo_q)),
            float(np.quantile(rr, hi_q)),
            int(s.size),
            "bootstrap-identity",
            ctx.p.level,
        )
        chance = 0.5 if name in ("auc", "eer") else float(name.split("=")[1])
        ctx.res.metrics.append(
            Metric(
                task="verify",
                direction=d,
                setting=f"pairs {c}" + (f" ({meta['source']})" if meta.get("source") else ""),
                name=name,
                value=val,
                n=int(s.size),
                params={"constraint": c, "eer_mode": ctx.p.eer},
                intervals={"bootstrap-identity": est},
                chance=chance,
                gender_baseline=gb.get(name),
                n_identities=int(codes.size),
                key=key if name == "auc" else "",
                higher_is_better=name != "eer",
            )
        )
    r0 = roc(s, lab)
    sel = np.unique(np.linspace(0, r0.fpr.size - 1, min(r0.fpr.size, 256)).astype(int))
    ctx.res.curves.append(
        Curve(
            name=f"ROC {d} {c}",
            kind="roc",
            x=r0.fpr[sel].tolist(),
            y=r0.tpr[sel].tolist(),
            x_label="false positive rate",
            y_label="true positive rate",
            params={"direction": d, "auc": point["auc"]},
        )
    )
    ctx.res.outcomes[key] = {"score": s, "label": lab, "cluster": anchor.astype(np.int32)}


def expected_random_ap(n_rel: np.ndarray, n_gallery: int) -> np.ndarray:
    """E[AP] of a uniformly random ranking with R relevant out of N (no ties).

    E[AP] = H_N / N + (R - 1) / (N - 1) * (1 - H_N / N), H_N the N-th harmonic number.
    """
    r = np.asarray(n_rel, dtype=np.float64)
    nn = float(n_gallery)
    h = float(np.sum(1.0 / np.arange(1, n_gallery + 1)))
    if n_gallery <= 1:
        return np.ones_like(r)
    return np.where(r > 0, h / nn + (r - 1) / (nn - 1) * (1 - h / nn), 0.0)


def _retrieval_stats(
    ctx: _Ctx,
    direction: str,
    qv: np.ndarray,
    gv: np.ndarray,
    qc: np.ndarray,
    gc: np.ndarray,
    ks: tuple[int, ...],
    gender: bool = False,
) -> dict[str, np.ndarray]:
    """:func:`rank_retrieval` with the context's scorer / AP rule (or the gender-only scorer)."""
    attrs = (ctx.u.gender[qc], ctx.u.gender[gc]) if gender else None
    return rank_retrieval(qv, gv, qc, gc, ctx.scorer, ctx.p.ap, ks, direction, attrs)


def _eval_retrieve(ctx: _Ctx, key: str, meta: dict[str, Any], g: dict[str, np.ndarray]) -> None:
    d = meta["direction"]
    qx, cx, qcodes, ccodes = ctx.side(d)
    queries, gallery = np.asarray(g["queries"]), np.asarray(g["gallery"])
    qc = qcodes[_first(queries)]
    gc = ccodes[_first(gallery)]
    qv = qx[queries] if queries.ndim == 1 else _group_vectors(qx, queries, ctx.scorer)
    gv = cx[gallery] if gallery.ndim == 1 else _group_vectors(cx, gallery, ctx.scorer)
    ks = tuple(sorted(set(ctx.p.retrieval.ks)))
    st = _retrieval_stats(ctx, d, qv, gv, qc, gc, ks)
    gst = _retrieval_stats(ctx, d, qv, gv, qc, gc, ks, gender=True) if ctx.u.has_gender() else None
    n_rel = st["n_rel"].astype(np.float64)
    ng = gv.shape[0]
    none = int((n_rel == 0).sum())
    if none:
        ctx.res.warnings.append(f"{key}: {none} queries have no relevant gallery item (AP 0)")
    task = meta.get("task", "retrieve")
    if task == "joint_retrieve":
        setting = f"m_v={meta['m_v']} m_f={meta['m_f']} ({len(np.unique(gc))} ids)"
        params: dict[str, Any] = {"m_v": meta["m_v"], "m_f": meta["m_f"]}
    else:
        setting = str(meta.get("setting") or meta.get("variant") or "retrieval")
        params = {"variant": meta.get("variant", "")}
    params.update({"n_queries": int(qv.shape[0]), "n_gallery": int(ng), "ap": ctx.p.ap})
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
    for name, (vals, chance, gb) in per.items():
        iv = {
            "normal": mean_normal(vals, ctx.p.level),
            "bootstrap-identity": cluster_bootstrap(
                vals, qc, ctx.p.n_boot, ctx.p.level, ctx.next_seed()
            ),
        }
        ctx.res.metrics.append(
            Metric(
                task=task,
                direction=d,
                setting=setting,
                name=name,
                value=float(np.mean(vals)),
                n=int(vals.size),
                params=dict(params),
                intervals=iv,
                chance=chance,
                gender_baseline=gb,
                n_identities=int(np.unique(qc).size),
                key=key if name == "mAP" else "",
            )
        )
    ctx.res.outcomes[key] = {"outcome": st["ap"].astype(np.float32), "cluster": qc.astype(np.int32)}


# ---------------------------------------------------------------------------- repeated
def _eval_repeated(
    ctx: _Ctx, voices: Embeddings, faces: Embeddings, attrs: dict[str, dict[str, str]]
) -> None:
    """Paper Fig. 4b: R random test sets of s identities -> mean, std, t-interval per s."""
    rc = ctx.p.repeated
    u = Universe.build(voices.identities, faces.identities, attrs)
    usable = np.flatnonzero(u.usable())
    v_all, f_all = prepare(voices.vectors, faces.vectors, ctx.scorer)
    sizes = sorted({min(s, usable.size) for s in rc.sizes})
    if usable.size < 2:
        ctx.res.warnings.append("repeated: fewer than two usable identities, skipped")
        return
    capped = [s for s in rc.sizes if s > usable.size]
    if capped:
        ctx.res.warnings.append(
            f"repeated: sizes {capped} capped at {usable.size} identities available"
        )
    rng = np.random.default_rng(ctx.p.seed + 7919)
    vcode_all = np.searchsorted(u.names, voices.identities)
    fcode_all = np.searchsorted(u.names, faces.identities)
    values: dict[tuple[str, str, int], list[float]] = {}
    for size in sizes:
        for _ in range(rc.repeats):
            sub = rng.choice(usable, size, replace=False)
            vm = np.isin(vcode_all, sub)
            fm = np.isin(fcode_all, sub)
            vidx, fidx = np.flatnonzero(vm), np.flatnonzero(fm)
            su = Universe.build(voices.identities[vidx], faces.identities[fidx], attrs)
            sub_ctx = _Ctx(
                v=v_all[vidx],
                f=f_all[fidx],
                vcode=np.searchsorted(su.names, voices.identities[vidx]),
                fcode=np.searchsorted(su.names, faces.identities[fidx]),
                u=su,
                p=ctx.p,
                scorer=ctx.scorer,
                seed=0,
                res=EvaluationResult(),
                log=ctx.log,
            )
            for d in ctx.p.directions:
                if "match" in rc.tasks:
                    t = match_trials(
                        su, d, 2, rc.n_trials, rng, "U", ctx.p.matching.gender_balanced
                    )
                    o = match_outcomes(
                        _match_scores(sub_ctx, d, t["query"], t["cands"]), ctx.p.tie_rule
                    )
                    values.setdefault(("match", d, size), []).append(float(o.mean()))
                if "verify" in rc.tasks:
                    t = verify_pairs(su, d, rc.n_trials, rng, "U", ctx.p.matching.gender_balanced)
                    s = pair_scores(
                        sub_ctx.v, sub_ctx.f, t["voice"], t["face"], ctx.scorer, prepared=True
                    )
                    values.setdefault(("verify", d, size), []).append(
                        float(auc_from_roc(roc(s, t["label"])))
                    )
                if "retrieve" in rc.tasks:
                    pr = ctx.p.retrieval
                    t = retrieval_sets(
                        su,
                        d,
                        rng,
                        pr.n_identities,
                        pr.gallery_per_identity,
                        pr.queries_per_identity,
                    )
                    qx, cx, qcodes, ccodes = sub_ctx.side(d)
                    st = _retrieval_stats(
                        sub_ctx,
                        d,
                        qx[t["queries"]],
                        cx[t["gallery"]],
                        qcodes[t["queries"]],
                        ccodes[t["gallery"]],
                        (1,),
                    )
                    values.setdefault(("retrieve", d, size), []).append(float(st["ap"].mean()))
    names = {
        "match": ("accuracy", "1:2 U"),
        "verify": ("auc", "pairs U"),
        "retrieve": ("mAP", "paper gallery"),
    }
    chances: dict[str, float | None] = {"match": 0.5, "verify": 0.5, "retrieve": None}
    for task in rc.tasks:
        for d in ctx.p.directions:
            xs, ys, lo, hi, sds = [], [], [], [], []
            for size in sizes:
                vals = np.asarray(values.get((task, d, size), []))
                if vals.size == 0:
                    continue
                est = t_interval(vals, ctx.p.level)
                name, what = names[task]
                ctx.res.metrics.append(
                    Metric(
                        task="repeated",
                        direction=d,
                        setting=f"{what}, {size} ids x {vals.size} sets",
                        name=name,
                        value=est.value,
                        n=int(vals.size),
                        params={
                            "of_task": task,
                            "size": int(size),
                            "std": float(vals.std(ddof=1)) if vals.size > 1 else 0.0,
                            "values": [round(float(x), 6) for x in vals],
                            "min": float(vals.min()),
                            "max": float(vals.max()),
                        },
                        intervals={"t": est},
                        chance=chances[task],
                        n_identities=int(size),
                    )
                )
                sds.append(float(vals.std(ddof=1)) if vals.size > 1 else 0.0)
                xs.append(float(size))
                ys.append(est.value)
                lo.append(est.low)
                hi.append(est.high)
            if xs:
                ctx.res.curves.append(
                    Curve(
                        name=f"repeated {names[task][0]} {d}",
                        kind="ci_vs_ids",
                        x=xs,
                        y=ys,
                        low=lo,
                        high=hi,
                        x_label="number of test identities",
                        y_label=names[task][0],
                        params={"direction": d, "task": task, "repeats": rc.repeats, "std": sds},
                    )
                )


# ---------------------------------------------------------------------------- main
def _curves_from_metrics(res: EvaluationResult) -> None:
    for d in ("v2f", "f2v"):
        rows = sorted(
            (
                m
                for m in res.metrics
                if m.task == "match"
                and m.direction == d
                and m.group == "all"
                and m.params.get("constraint") == "U"
                and not m.params.get("source")
            ),
            key=lambda m: m.params["n"],
        )
        if len(rows) >= 2:
            ivs = [m.interval() for m in rows]
            res.curves.append(
                Curve(
                    name=f"1:n matching {d}",
                    kind="1ton",
                    x=[float(m.params["n"]) for m in rows],
                    y=[m.value for m in rows],
                    low=[iv.low if iv else m.value for iv, m in zip(ivs, rows, strict=True)],
                    high=[iv.high if iv else m.value for iv, m in zip(ivs, rows, strict=True)],
                    x_label="n (candidates)",
                    y_label="accuracy",
                    params={"direction": d, "chance": [1.0 / m.params["n"] for m in rows]},
                )
            )
        joint = [
            m
            for m in res.metrics
            if m.task == "joint_match" and m.direction == d and m.group == "all"
        ]
        for label, cond, xkey in (
            ("vary m_v (m_f=1)", lambda m: m.params["m_f"] == 1, "m_v"),
            ("vary m_f (m_v=1)", lambda m: m.params["m_v"] == 1, "m_f"),
            ("m_v = m_f", lambda m: m.params["m_v"] == m.params["m_f"], "m_v"),
        ):
            rows = sorted((m for m in joint if cond(m)), key=lambda m: m.params[xkey])
            if len(rows) >= 2:
                ivs = [m.interval() for m in rows]
                res.curves.append(
                    Curve(
                        name=f"joint 1:2 {d} {label}",
                        kind="joint",
                        x=[float(m.params[xkey]) for m in rows],
                        y=[m.value for m in rows],
                        low=[iv.low if iv else m.value for iv, m in zip(ivs, rows, strict=True)],
                        high=[iv.high if iv else m.value for iv, m in zip(ivs, rows, strict=True)],
                        x_label="m (items averaged)",
                        y_label="1:2 accuracy",
                        params={"direction": d, "series": label},
                    )
                )


def evaluate(
    voices: Embeddings,
    faces: Embeddings,
    identities: Any = None,
    protocol: Protocol | None = None,
    *,
    trials: TrialSet | None = None,
    scorer: Scorer | None = None,
    log: Log | None = None,
    command: str = "",
) -> EvaluationResult:
    """Evaluate one system on every task of the protocol, in both directions.

    ``voices`` / ``faces``: :class:`Embeddings` (N, D); ``identities``: a Manifest, a dict
    identity -> attributes (or gender string), or None; ``trials``: a saved/imported trial
    set to score on (otherwise generated from ``protocol.seed``); ``scorer``: overrides
    ``protocol.scorer`` with a name or a callable ``score(voices (a, D), faces (b, D)) ->
    (a, b)``. Returns an :class:`EvaluationResult` with per-trial outcomes attached.
    """
    from vfbench.utils.provenance import Provenance

    p = protocol or Protocol()
    p.validate()
    say = log or (lambda _msg: None)
    if voices.modality != "voice" or faces.modality != "face":
        raise EvaluationError(
            f"expected voice and face embeddings, got {voices.modality!r} and {faces.modality!r}"
        )
    attrs = identity_attributes(identities)
    voices, faces = apply_split(voices, faces, identities, p.split)
    sc: Scorer = scorer if scorer is not None else p.scorer
    res = EvaluationResult(protocol=to_dict(p))
    if trials is None:
        say("generating trials")
        trials = make_trials(voices, faces, attrs, p)
    res.warnings.extend(trials.config.get("warnings", []))
    res.trials_hash = trials.sha256
    vrow = index_map(trials.voice_ids, voices.ids, "voice")
    frow = index_map(trials.face_ids, faces.ids, "face")
    v, f = prepare(voices.vectors[vrow], faces.vectors[frow], sc)
    u = Universe.build(trials.voice_identities, trials.face_identities, attrs)
    ctx = _Ctx(
        v=v,
        f=f,
        vcode=np.searchsorted(u.names, trials.voice_identities),
        fcode=np.searchsorted(u.names, trials.face_identities),
        u=u,
        p=p,
        scorer=sc,
        seed=p.seed * 1000 + 1,
        res=res,
        log=say,
    )
    handlers = {
        "match": _eval_match,
        "joint_match": _eval_match,
        "verify": _eval_verify,
        "retrieve": _eval_retrieve,
        "joint_retrieve": _eval_retrieve,
    }
    for key in trials.keys():
        meta = trials.meta(key)
        fn = handlers.get(str(meta.get("task")))
        if fn is None:
            raise EvaluationError(f"trial group {key!r} has unknown task {meta.get('task')!r}")
        say(f"evaluating {key}")
        fn(ctx, key, meta, trials.groups[key])
    if "repeated" in p.tasks:
        say("repeated random test sets")
        _eval_repeated(ctx, voices, faces, attrs)
    _curves_from_metrics(res)
    res.summary = {
        "n_voices": len(voices),
        "n_faces": len(faces),
        "n_identities": int(u.usable().sum()),
        "gender_known": u.has_gender(),
        "scorer": sc if isinstance(sc, str) else getattr(sc, "__name__", "callable"),
        "tie_rule": p.tie_rule,
        "ap": p.ap,
        "eer": p.eer,
        "voices_meta": voices.meta,
        "faces_meta": faces.meta,
    }
    res.provenance = Provenance(
        command=command,
        seed=p.seed,
        config=to_dict(p),
        inputs={
            "voices": embeddings_hash(voices),
            "faces": embeddings_hash(faces),
            "trials": res.trials_hash,
        },
    ).to_dict()
    return res
