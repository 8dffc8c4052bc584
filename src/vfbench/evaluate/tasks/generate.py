"""Trial generation for every task of a protocol, one seeded generator per trial group."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import Protocol as TypingProtocol

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.evaluate.seeding import task_rng
from vfbench.evaluate.trials import TrialSet


class Adder(TypingProtocol):
    """``add(key, meta, sample)``: ``sample(rng) -> arrays`` is drawn with the key's own
    generator and stored under ``key`` (skipped with a warning when it cannot be drawn)."""

    def __call__(
        self,
        key: str,
        meta: dict[str, Any],
        sample: Callable[[np.random.Generator], dict[str, np.ndarray]],
    ) -> None: ...


def adder(ts: TrialSet, seed: int, warn: list[str]) -> Adder:
    """An :class:`Adder` into ``ts``: a group's generator is ``task_rng(seed, "trials",
    key)``, so it does not depend on which other groups exist or their order."""

    def add(
        key: str,
        meta: dict[str, Any],
        sample: Callable[[np.random.Generator], dict[str, np.ndarray]],
    ) -> None:
        if key in ts.groups:
            return
        try:
            arrays = sample(task_rng(seed, "trials", key))
        except EvaluationError as exc:
            warn.append(f"{key}: skipped ({exc})")
            return
        arrays = {k: v for k, v in arrays.items() if not k.endswith("identity")}
        ts.add(key, {k: v for k, v in meta.items() if v != ""}, arrays)

    return add
