"""1:n matching (paper Sec. 3.1, Fig. 4a): U/G/N/GN constraints, both directions.

Generation: one trial group per (direction, n, constraint), each from its own generator
(``task_rng(seed, "trials", key)``). Evaluation: accuracy under the protocol's tie rule,
every interval (:func:`~vfbench.evaluate.confidence.accuracy_intervals`; the all-roles
identity bootstrap resamples the query and every distractor identity), chance and the
gender-only baseline, and ``--by COLUMN`` rows.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from vfbench.evaluate.confidence import accuracy_intervals, dense_codes
from vfbench.evaluate.metrics import match_outcomes
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.results import Metric
from vfbench.evaluate.tasks.context import Context, first, match_scores
from vfbench.evaluate.tasks.generate import Adder
from vfbench.evaluate.trials import Universe, match_trials

MAX_LEVELS = 8  # rows per non-gender breakdown column (the largest groups)


def key(direction: str, n: int, constraint: str, same: str = "") -> str:
    return f"match/{direction}/n={n}/{constraint}" + (f"/same={same}" if same else "")


def generate(u: Universe, p: Protocol, direction: str, add: Adder, warn: list[str]) -> None:
    """Every matching group of one direction: the U curve over n, then G/N/GN at n."""
    mc = p.matching
    has_g = u.has_gender()
    has_n = bool((u.nationality != "").any())
    same = mc.same
    kw: dict[str, Any] = {"gender_balanced": mc.gender_balanced, "same": same}
    for n in mc.n_values:
        add(
            key(direction, n, "U", same),
            {"task": "match", "direction": direction, "n": n, "constraint": "U", "same": same},
            partial(match_trials, u, direction, n, mc.n_trials, constraint="U", **kw),
        )
    for c in mc.constraints:
        if ("G" in c and not has_g) or ("N" in c and not has_n):
            warn.append(f"match/{direction}/{c}: skipped (identity attribute unknown)")
            continue
        for n in mc.constrained_n:
            add(
                key(direction, n, c, same),
                {"task": "match", "direction": direction, "n": n, "constraint": c, "same": same},
                partial(match_trials, u, direction, n, mc.n_trials, constraint=c, **kw),
            )


def gender_scores(gq: np.ndarray, gc: np.ndarray) -> np.ndarray:
    """The gender-only scorer: 1 where a candidate has the query's (known) gender."""
    known = np.isin(gq, ["m", "f"])[:, None]
    return ((gc == gq[:, None]) & known).astype(np.float32)


def evaluate_group(ctx: Context, key: str, meta: dict[str, Any], g: dict[str, np.ndarray]) -> None:
    """Score one matching / joint-matching group and append its rows."""
    d = meta["direction"]
    query, cands = np.asarray(g["query"]), np.asarray(g["cands"])
    qcodes_all, ccodes_all = ctx.codes(d)
    qc = qcodes_all[first(query)]
    cc = ccodes_all[first(cands, 2)]
    roles = np.concatenate([qc[:, None], cc[:, 1:]], axis=1)  # query, then every distractor
    n = cands.shape[1]
    o = match_outcomes(match_scores(ctx, d, query, cands), ctx.p.tie_rule)
    has_g = ctx.u.has_gender()
    gq, gc = ctx.u.gender[qc], ctx.u.gender[cc]
    task = meta.get("task", "match")
    if task == "joint_match":
        setting = f"1:{n} m_v={meta['m_v']} m_f={meta['m_f']}"
        params: dict[str, Any] = {"n": n, "m_v": meta["m_v"], "m_f": meta["m_f"]}
        params["constraint"] = "U"
    else:
        c = meta.get("constraint", "U")
        same = str(meta.get("same") or "")
        setting = f"1:{n} {c}" + (f" same {same}" if same else "")
        setting += " (imported)" if meta.get("source") else ""
        params = {"n": n, "constraint": c}
        if same:
            params["same"] = same
    if meta.get("source"):
        params["source"] = meta["source"]
    chance = 1.0 / n if ctx.p.tie_rule == "half" else None

    def row(mask: np.ndarray | None, group: str) -> None:
        sel = slice(None) if mask is None else mask
        oo = o[sel]
        if oo.size == 0:
            return
        iv = accuracy_intervals(oo, roles[sel], ctx.p.level, ctx.p.n_boot, ctx.rng(key, group))
        gb = None
        if has_g:
            gb = float(match_outcomes(gender_scores(gq[sel], gc[sel]), ctx.p.tie_rule).mean())
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
                gender_baseline=gb,
                n_identities=dense_codes(qc[sel])[1],
                key=key if mask is None else "",
            )
        )

    row(None, "all")
    for attr in ctx.p.by if task == "match" else []:
        vals = ctx.u.attribute(attr)
        if vals is None:
            continue
        names, inv = np.unique(vals, return_inverse=True)  # per identity, not per trial
        qa = inv.reshape(-1)[qc]
        counts = np.bincount(qa, minlength=names.size)
        levels = [i for i in range(names.size) if names[i] != "" and counts[i]]
        if attr != "gender":  # keep the table readable: the largest groups
            levels = sorted(levels, key=lambda i: -counts[i])[:MAX_LEVELS]
        for i in levels:
            row(qa == i, f"{attr}={names[i]}")
    ctx.res.outcomes[key] = {
        "outcome": o.astype(np.float32),
        "cluster": qc.astype(np.int32),
        "roles": roles.astype(np.int32),
    }
