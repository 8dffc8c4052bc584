"""Verification (same person or not): AUC, EER, TAR@FAR with identity-bootstrap intervals.

Generation: one pair list per direction (``task_rng(seed, "trials", key)``), half
positive; negatives obey ``verification.constraint`` (and ``verification.same``).
Intervals: the all-roles identity bootstrap (anchor and other identity of every pair
resampled; :func:`~vfbench.evaluate.confidence.verification_replicates`), its replicates
scaled by the crossed-variance correction of each figure (recorded as
``params.variance_scale``; :func:`~vfbench.evaluate.confidence.verification_scales`), is
the default, the query-only (anchor) bootstrap beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vfbench.evaluate.confidence import ALL, QUERY, percentile_interval, verification_replicates
from vfbench.evaluate.metrics import roc, verification_metrics
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.results import Curve, Estimate, Metric
from vfbench.evaluate.tasks.context import Context
from vfbench.evaluate.tasks.generate import Adder
from vfbench.evaluate.trials import Universe, verify_pairs


def key(direction: str, constraint: str, same: str = "") -> str:
    return f"verify/{direction}/{constraint}" + (f"/same={same}" if same else "")


def generate(u: Universe, p: Protocol, direction: str, add: Adder, warn: list[str]) -> None:
    vc = p.verification
    add(
        key(direction, vc.constraint, vc.same),
        {"task": "verify", "direction": direction, "constraint": vc.constraint, "same": vc.same},
        lambda rng: verify_pairs(
            u,
            direction,
            vc.n_pairs,
            rng,
            vc.constraint,
            p.matching.gender_balanced,
            same=vc.same,
        ),
    )


def evaluate_group(ctx: Context, key: str, meta: dict[str, Any], g: dict[str, np.ndarray]) -> None:
    d = meta["direction"]
    vi, fi, lab = np.asarray(g["voice"]), np.asarray(g["face"]), np.asarray(g["label"]).astype(bool)
    s = ctx.pair_scores(vi, fi)
    anchor, other = (ctx.vcode[vi], ctx.fcode[fi]) if d == "v2f" else (ctx.fcode[fi], ctx.vcode[vi])
    roles = np.stack([anchor, other], axis=1)
    fars = tuple(ctx.p.verification.fars)
    point = verification_metrics(s, lab, fars, ctx.p.eer)
    scales: dict[str, float] = {}  # the all-roles variance correction of every figure
    reps = {
        ALL: verification_replicates(
            s, lab, roles, ctx.p.n_boot, ctx.rng(key, ALL), fars, level=ctx.p.level, scales=scales
        ),
        QUERY: verification_replicates(
            s, lab, roles, ctx.p.n_boot, ctx.rng(key, QUERY), fars, all_roles=False
        ),
    }
    gb: dict[str, float] = {}
    if ctx.u.has_gender():
        gs = (
            (ctx.gender_v[vi] == ctx.gender_f[fi]) & np.isin(ctx.gender_v[vi], ["m", "f"])
        ).astype(np.float32)
        gb = verification_metrics(gs, lab, fars, ctx.p.eer)
    c = meta.get("constraint", "U")
    same = str(meta.get("same") or "")
    params: dict[str, Any] = {"constraint": c, "eer_mode": ctx.p.eer}
    if same:
        params["same"] = same
    setting = f"pairs {c}" + (f" same {same}" if same else "")
    setting += f" ({meta['source']})" if meta.get("source") else ""
    n_ids = int(np.unique(anchor).size)
    for name, val in point.items():
        iv: dict[str, Estimate] = {}
        for method, rr in reps.items():
            iv[method] = percentile_interval(val, rr[name], ctx.p.level, int(s.size), method)
        chance = 0.5 if name in ("auc", "eer") else float(name.split("=")[1])
        ctx.res.metrics.append(
            Metric(
                task="verify",
                direction=d,
                setting=setting,
                name=name,
                value=val,
                n=int(s.size),
                params={
                    **params,
                    "undefined_replicates": int((~np.isfinite(reps[ALL][name])).sum()),
                    "variance_scale": round(scales[name], 6),
                },
                intervals=iv,
                chance=chance,
                gender_baseline=gb.get(name),
                n_identities=n_ids,
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
    ctx.res.outcomes[key] = {
        "score": s,
        "label": lab,
        "cluster": anchor.astype(np.int32),
        "roles": roles.astype(np.int32),
    }
