"""Joint matching and retrieval on mean embeddings of m items (paper Sec. 3.1, Table 3).

Only generation lives here: a joint group is scored by the matching or retrieval
evaluator (its item index arrays carry a trailing m axis, averaged before scoring).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.tasks.generate import Adder
from vfbench.evaluate.trials import Universe, match_trials, retrieval_sets


def m_pairs(m_values: list[int]) -> list[tuple[int, int]]:
    """(m_v, m_f) settings: vary each side with the other at 1, and both equal."""
    pairs: list[tuple[int, int]] = []
    for m in m_values:
        for pr in ((m, 1), (1, m), (m, m)):
            if pr not in pairs:
                pairs.append(pr)
    return pairs


def _retrieval(
    u: Universe,
    direction: str,
    n_ids: int,
    per_gallery: int,
    per_query: int,
    mq: int,
    mcand: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    return retrieval_sets(u, direction, rng, n_ids, per_gallery, per_query, mq, mcand)


def generate(u: Universe, p: Protocol, direction: str, add: Adder, warn: list[str]) -> None:
    jc, mc = p.joint, p.matching
    top_v, top_f = int(u.voice.count.max()), int(u.face.count.max())
    for mv, mf in m_pairs(jc.m_values):
        key = f"joint_match/{direction}/mv={mv}/mf={mf}"
        if mv > top_v or mf > top_f:
            warn.append(f"{key}: skipped (no identity has that many items)")
            continue
        mq, mcand = (mv, mf) if direction == "v2f" else (mf, mv)
        add(
            key,
            {"task": "joint_match", "direction": direction, "n": jc.n, "m_v": mv, "m_f": mf},
            partial(
                match_trials,
                u,
                direction,
                jc.n,
                jc.n_trials,
                constraint="U",
                gender_balanced=mc.gender_balanced,
                m_query=mq,
                m_cand=mcand,
            ),
        )
    if "retrieve" not in p.tasks and not p.retrieval.paper:
        return
    rc = p.retrieval
    for mv, mf in jc.retrieval_m:
        key = f"joint_retrieve/{direction}/mv={mv}/mf={mf}"
        if mv > top_v or mf > top_f:
            warn.append(
                f"{key}: sets capped at the items an identity has "
                f"(max {top_v} voices, {top_f} faces)"
            )
        mq, mcand = (mv, mf) if direction == "v2f" else (mf, mv)
        add(
            key,
            {"task": "joint_retrieve", "direction": direction, "m_v": mv, "m_f": mf},
            partial(
                _retrieval,
                u,
                direction,
                rc.n_identities,
                rc.gallery_per_identity,
                rc.queries_per_identity,
                mq,
                mcand,
            ),
        )
