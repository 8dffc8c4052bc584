"""Curves assembled from rows: 1:n matching accuracy vs n, joint 1:2 accuracy vs m."""

from __future__ import annotations

from vfbench.evaluate.results import Curve, EvaluationResult


def curves_from_metrics(res: EvaluationResult) -> None:
    """The 1:n accuracy curve and the joint-matching curves, from the rows already made."""
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
