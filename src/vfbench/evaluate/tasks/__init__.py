"""One module per evaluation task, and the registry that ties them to trial groups.

=================  ====================================  ==================================
task               trial groups (``generate``)           evaluator (``evaluate_group``)
=================  ====================================  ==================================
``match``          ``match/<d>/n=<n>/<constraint>``      :mod:`.match`
``verify``         ``verify/<d>/<constraint>``           :mod:`.verify`
``retrieve``       ``retrieve/<d>/paper|full``           :mod:`.retrieve`
``joint``          ``joint_match/...``, ``joint_retrieve/...`` (:mod:`.joint`) scored by
                   :mod:`.match` / :mod:`.retrieve` on mean embeddings
``repeated``       none (own sets, :mod:`.repeated`)
=================  ====================================  ==================================

Every trial group and every bootstrap has its own generator keyed by its name
(:mod:`vfbench.evaluate.seeding`), so tasks are independent of each other's presence and
order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.tasks import joint, match, retrieve, verify
from vfbench.evaluate.tasks.context import Context
from vfbench.evaluate.tasks.generate import Adder
from vfbench.evaluate.trials import Universe

Generator = Callable[[Universe, Protocol, str, Adder, list[str]], None]
Evaluator = Callable[[Context, str, dict[str, Any], dict[str, np.ndarray]], None]

#: protocol task -> trial-group generator (in this order, per direction)
GENERATORS: dict[str, Generator] = {
    "match": match.generate,
    "verify": verify.generate,
    "retrieve": retrieve.generate,
    "joint": joint.generate,
}

#: trial-group task (``meta["task"]``) -> evaluator
EVALUATORS: dict[str, Evaluator] = {
    "match": match.evaluate_group,
    "joint_match": match.evaluate_group,
    "verify": verify.evaluate_group,
    "retrieve": retrieve.evaluate_group,
    "joint_retrieve": retrieve.evaluate_group,
}
