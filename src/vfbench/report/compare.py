"""Paired comparison of two runs scored on the same trials (``vfbench compare RUN_A RUN_B``).

Uses the per-trial outcomes each run saved (``outcomes.npz``); every statistic comes from
:mod:`vfbench.evaluate.confidence` (one resampling primitive, one p-value rule), this
module only assembles and renders rows:

* matching (``outcome`` in [0, 1] per trial): paired identity bootstrap of the accuracy
  difference (identities resampled in every role when the runs saved ``roles``) and a
  trial-level test: McNemar's exact test when every outcome is 0/1, a sign-flip
  permutation test when half-credit ties make some fractional (the row says which);
* retrieval (per-query AP): paired identity bootstrap of the mAP difference, query and
  gallery identities resampled together when the runs saved their rank counts (``rc_*``,
  :func:`~vfbench.evaluate.confidence.paired_retrieval_bootstrap`), else the query's;
* verification (per-pair ``score`` + ``label``): paired identity bootstrap of the AUC
  difference (the same replicate weights applied to both systems' ROC).

Trial-level tests treat trials as independent; trials share identities, so when the two
disagree the identity bootstrap is the one to believe - each row says so (``verdict``).
Both runs must have the same trial hash; otherwise the comparison is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from vfbench.errors import EvaluationError
from vfbench.evaluate.confidence import (
    paired_auc_bootstrap,
    paired_retrieval_bootstrap,
    paired_test,
    verdict,
)
from vfbench.evaluate.results import Estimate, EvaluationResult
from vfbench.evaluate.seeding import task_rng


@dataclass
class ComparisonRow:
    key: str
    metric: str
    a: float
    b: float
    diff: Estimate
    p_bootstrap: float
    p_mcnemar: float | None  # the trial-level test's p-value (see ``trial_test``)
    n: int
    trial_test: str = ""  # "mcnemar-exact" | "sign-flip" | "" (none)
    resampling: str = ""  # "all roles" | "query identity"

    @property
    def verdict(self) -> str:
        return verdict(self.p_bootstrap, self.p_mcnemar)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "metric": self.metric,
            "a": self.a,
            "b": self.b,
            "diff": self.diff.to_dict(),
            "p_bootstrap": self.p_bootstrap,
            "p_mcnemar": self.p_mcnemar,
            "trial_test": self.trial_test,
            "resampling": self.resampling,
            "verdict": self.verdict,
            "n": self.n,
        }


def _roles(oa: dict[str, np.ndarray], ob: dict[str, np.ndarray], key: str) -> np.ndarray:
    """The identities of every role when both runs saved them, else the query identity."""
    if "roles" in oa and "roles" in ob:
        if not np.array_equal(oa["roles"], ob["roles"]):
            raise EvaluationError(f"{key}: the runs' trial identities differ")
        return np.asarray(oa["roles"])
    return np.asarray(oa["cluster"])


def compare_results(
    a: EvaluationResult, b: EvaluationResult, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> list[ComparisonRow]:
    """Paired tests for every trial group the two runs share (outcomes must be loaded)."""
    if a.trials_hash != b.trials_hash:
        raise EvaluationError(
            f"runs were scored on different trials ({a.trials_hash[:12]} vs {b.trials_hash[:12]}); "
            "evaluate both with the same --trials file"
        )
    if not a.outcomes or not b.outcomes:
        raise EvaluationError(
            "per-trial outcomes are missing; load the runs with with_outcomes=True"
        )
    rows: list[ComparisonRow] = []
    for key in (k for k in a.outcomes if k in b.outcomes):
        oa, ob = a.outcomes[key], b.outcomes[key]
        roles = _roles(oa, ob, key)
        how = "all roles" if roles.ndim == 2 else "query identity"
        rng = task_rng(seed, "compare", key)
        if "score" in oa:
            if not np.array_equal(oa["label"].astype(bool), ob["label"].astype(bool)):
                raise EvaluationError(f"{key}: verification labels differ between the runs")
            va, vb, diff, p = paired_auc_bootstrap(
                oa["score"], ob["score"], oa["label"], roles, n_boot, level, rng
            )
            rows.append(ComparisonRow(key, "auc", va, vb, diff, p, None, diff.n, "", how))
            continue
        xa, xb = oa["outcome"].astype(np.float64), ob["outcome"].astype(np.float64)
        if xa.shape != xb.shape:
            raise EvaluationError(
                f"{key}: outcome arrays differ in length ({xa.size} vs {xb.size})"
            )
        is_match = key.startswith(("match", "joint_match"))
        if "rc_hi" in oa and "rc_hi" in ob:  # retrieval counts saved: resample every role
            diff, p = paired_retrieval_bootstrap(oa, ob, n_boot, level, rng)
            va, vb = float(xa.mean()), float(xb.mean())
            rows.append(ComparisonRow(key, "mAP", va, vb, diff, p, None, diff.n, "", "all roles"))
            continue
        t = paired_test(xa, xb, roles, n_boot, level, rng, trial_level=is_match)
        rows.append(
            ComparisonRow(
                key,
                "accuracy" if is_match else "mAP",
                float(xa.mean()),
                float(xb.mean()),
                t.diff,
                t.p_bootstrap,
                t.p_trial,
                int(xa.size),
                t.trial_test,
                how,
            )
        )
    if not rows:
        raise EvaluationError("the two runs share no trial group")
    return rows


NOTE = (
    "p (bootstrap): identities resampled (in every role where the runs saved them); "
    "p (trials): McNemar's exact test on 0/1 outcomes, or a sign-flip permutation test "
    "when half-credit ties make outcomes fractional. Trial-level tests assume independent "
    "trials, but trials share identities: where the two disagree, believe the bootstrap."
)


def comparison_markdown(rows: list[ComparisonRow], name_a: str = "A", name_b: str = "B") -> str:
    out = [
        f"| trials | metric | {name_a} (%) | {name_b} (%) | diff (%) | 95% CI of diff (%) "
        "| p (bootstrap) | p (trials) | trial test | verdict | n |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mc = "-" if r.p_mcnemar is None else f"{r.p_mcnemar:.3g}"
        out.append(
            f"| {r.key} | {r.metric} | {100 * r.a:.2f} | {100 * r.b:.2f} | {100 * r.diff.value:+.2f} | "
            f"[{100 * r.diff.low:+.2f}, {100 * r.diff.high:+.2f}] | {r.p_bootstrap:.3g} | {mc} "
            f"| {r.trial_test or '-'} | {r.verdict} | {r.n} |"
        )
    return "\n".join(out) + "\n\n" + NOTE + "\n"


def print_comparison(
    rows: list[ComparisonRow], name_a: str = "A", name_b: str = "B", console: Any = None
) -> None:

    con = console or Console()
    t = Table(title=f"paired comparison: {name_a} vs {name_b}")
    for h in (
        "trials",
        "metric",
        f"{name_a} %",
        f"{name_b} %",
        "diff %",
        "95% CI %",
        "p boot",
        "p trials",
        "test",
        "verdict",
        "n",
    ):
        t.add_column(h)
    for r in rows:
        t.add_row(
            r.key,
            r.metric,
            f"{100 * r.a:.2f}",
            f"{100 * r.b:.2f}",
            f"{100 * r.diff.value:+.2f}",
            f"[{100 * r.diff.low:+.2f}, {100 * r.diff.high:+.2f}]",
            f"{r.p_bootstrap:.3g}",
            "-" if r.p_mcnemar is None else f"{r.p_mcnemar:.3g}",
            r.trial_test or "-",
            r.verdict,
            str(r.n),
        )
    con.print(t)
    con.print(NOTE)
