"""Order-independent randomness: one generator per (purpose, task key) from the run's seed.

Every random draw of an evaluation (a trial group's sampling, a figure's bootstrap, a
repeated test set) takes its own :class:`numpy.random.Generator` derived from a
:class:`numpy.random.SeedSequence` keyed by the protocol seed and the *name* of what it
draws for (``("trials", "match/v2f/n=2/U")``, ``("bootstrap", key, group, metric)`` ...).
So adding, removing or reordering a task never changes another task's numbers, and two
runs with the same seed draw the same trials whatever the protocol around them.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _words(key: tuple[object, ...]) -> list[int]:
    """The key as eight 32-bit words (sha256 of its text; stable across processes)."""
    text = "\x1f".join(str(k) for k in key).encode()
    d = hashlib.sha256(text).digest()
    return [int.from_bytes(d[i : i + 4], "little") for i in range(0, 32, 4)]


def task_seed(seed: int, *key: object) -> np.random.SeedSequence:
    """SeedSequence of the run ``seed`` and a name (any parts, joined as text)."""
    s = int(seed)
    return np.random.SeedSequence([s & 0xFFFFFFFF, (s >> 32) & 0xFFFFFFFF, *_words(key)])


def task_rng(seed: int, *key: object) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``key`` (never on evaluation order)."""
    return np.random.default_rng(task_seed(seed, *key))
