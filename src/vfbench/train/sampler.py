"""Identity-based online sampling (paper section 4.1), in steps rather than epochs.

Each batch draws P distinct identities (P/2 male + P/2 female with ``gender_balance``)
and K voices and K faces of each. The sampler is a seeded numpy ``Generator`` whose full
state (:meth:`state_dict`) is checkpointed, so a resumed run draws exactly the same
batches. Under DDP every rank runs the same sampler (same global batch) and keeps its own
slice (:meth:`SampledBatch.shard`), so multi-process training sees single-process batches.

Arithmetic (logged at start): with K = 1 every batch holds P(P-1) voice-anchored triplets
of Eq. 1 (anchor v_i, positive f_i, negative f_j, i != j); in general P*K anchors x K
positives x (P-1)*K negatives = P(P-1)K^3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vfbench.errors import DataError


def triplets_per_step(P: int, K: int = 1) -> int:
    """Number of Eq. 1 triplets in one identity-sampled batch: P(P-1)K^3."""
    return P * (P - 1) * K**3


def triplet_arithmetic(steps: int, P: int, K: int = 1) -> str:
    """The log line "steps x P(P-1)K^3 triplets = N triplets"."""
    n = triplets_per_step(P, K)
    return (
        f"{steps:,} steps x {n:,} triplets/step (P={P}, K={K}: P(P-1)K^3) = "
        f"{steps * n:,} triplets ({steps * n / 1e6:.2f}M)"
    )


@dataclass
class SampledBatch:
    """Indices of one batch. ``labels`` are global identity indices (into the sampler's
    identity list), one per voice and per face item: (P*K,) each."""

    identities: np.ndarray  # (P,)
    voice_items: np.ndarray  # (P*K,) indices into the voice item table
    face_items: np.ndarray  # (P*K,)
    voice_labels: np.ndarray  # (P*K,)
    face_labels: np.ndarray  # (P*K,)

    def shard(self, rank: int, world: int) -> SampledBatch:
        """This rank's contiguous slice (of voices and faces); labels stay per item."""
        n = len(self.voice_items)
        lo, hi = rank * n // world, (rank + 1) * n // world
        return SampledBatch(
            self.identities,
            self.voice_items[lo:hi],
            self.face_items[lo:hi],
            self.voice_labels[lo:hi],
            self.face_labels[lo:hi],
        )


class IdentitySampler:
    """P identities x K voices + K faces per batch, seeded and resumable.

    ``voice_identity``/``face_identity``: identity index of every voice/face item;
    ``genders``: per identity "m"/"f"/"" (needed only with ``gender_balance``).
    Items are drawn without replacement within an identity when it has >= K items.
    """

    def __init__(
        self,
        n_identities: int,
        voice_identity: Sequence[int] | np.ndarray,
        face_identity: Sequence[int] | np.ndarray,
        P: int,
        K: int = 1,
        genders: Sequence[str] | None = None,
        gender_balance: bool = False,
        seed: int = 0,
    ) -> None:
        self.P, self.K, self.seed = P, K, seed
        vi = np.asarray(voice_identity, dtype=np.int64)
        fi = np.asarray(face_identity, dtype=np.int64)
        self.voices_of = [np.flatnonzero(vi == i) for i in range(n_identities)]
        self.faces_of = [np.flatnonzero(fi == i) for i in range(n_identities)]
        usable = np.array(
            [len(a) > 0 and len(b) > 0 for a, b in zip(self.voices_of, self.faces_of, strict=True)]
        )
        self.pool = np.flatnonzero(usable)
        self.gender_balance = gender_balance
        if gender_balance:
            if genders is None:
                raise DataError("sampler.gender_balance needs identity genders")
            g = np.asarray(genders)
            self.pools = [self.pool[g[self.pool] == "m"], self.pool[g[self.pool] == "f"]]
            for name, pool in zip(("male", "female"), self.pools, strict=True):
                if len(pool) < P // 2:
                    raise DataError(
                        f"gender-balanced sampling needs {P // 2} {name} identities with "
                        f"voices and faces, found {len(pool)}"
                    )
        elif len(self.pool) < P:
            raise DataError(
                f"sampler needs P={P} identities with both voices and faces, found {len(self.pool)}"
            )
        self.rng = np.random.default_rng(seed)
        self.step = 0

    def _items(self, items: np.ndarray) -> np.ndarray:
        return self.rng.choice(items, size=self.K, replace=len(items) < self.K)

    def next(self) -> SampledBatch:
        """Draw the next batch and advance the state."""
        if self.gender_balance:
            ids = np.concatenate(
                [self.rng.choice(p, size=self.P // 2, replace=False) for p in self.pools]
            )
        else:
            ids = self.rng.choice(self.pool, size=self.P, replace=False)
        v = np.concatenate([self._items(self.voices_of[i]) for i in ids])
        f = np.concatenate([self._items(self.faces_of[i]) for i in ids])
        labels = np.repeat(ids, self.K)
        self.step += 1
        return SampledBatch(ids, v, f, labels, labels.copy())

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "rng": self.rng.bit_generator.state, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.rng.bit_generator.state = state["rng"]
