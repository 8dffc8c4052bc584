"""Seeded, deterministic identity splits (random split by identity, gender-stratified)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from vfbench.errors import ConfigError

SPLIT_NAMES = ("train", "val", "test")


def split_counts(n: int, ratios: Sequence[float]) -> list[int]:
    """Integer sizes summing to ``n``, proportional to ``ratios`` (largest remainder).

    Every split with a positive ratio gets at least one identity when ``n`` allows it,
    so a tiny corpus still has a non-empty val and test split.
    """
    r = np.asarray(ratios, dtype=np.float64)
    if r.ndim != 1 or len(r) == 0 or np.any(r < 0) or not np.isfinite(r).all() or r.sum() <= 0:
        raise ConfigError(f"split ratios must be non-negative with a positive sum, got {ratios!r}")
    r = r / r.sum()
    exact = r * n
    counts = np.floor(exact).astype(int)
    rem = n - int(counts.sum())
    # largest fractional part first; ties go to the earlier split
    order = sorted(range(len(r)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[:rem]:
        counts[i] += 1
    positive = [i for i in range(len(r)) if r[i] > 0]
    if n >= len(positive):
        for i in positive:
            while counts[i] == 0:
                donor = max(range(len(r)), key=lambda j: (counts[j], -j))
                counts[donor] -= 1
                counts[i] += 1
    return [int(c) for c in counts]


def split_identities(
    ids: Iterable[str],
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    stratify_by_gender: bool = True,
    *,
    genders: Mapping[str, str] | None = None,
    names: Sequence[str] = SPLIT_NAMES,
) -> dict[str, str]:
    """Assign each identity to a split; returns ``{identity: split name}``.

    Deterministic in (set of ids, ratios, seed, genders): the input order does not
    matter. Split sizes are exact (:func:`split_counts`). With ``stratify_by_gender``
    (and ``genders`` given) each gender is shuffled separately and the strata are
    interleaved by fractional rank before the list is cut, so every split gets close to
    the corpus' gender proportion.
    """
    if len(names) != len(ratios):
        raise ConfigError(f"{len(ratios)} split ratios for {len(names)} split names {list(names)}")
    uniq = sorted(set(ids))
    counts = split_counts(len(uniq), ratios)
    rng = np.random.default_rng(seed)
    if stratify_by_gender and genders is not None:
        strata: dict[str, list[str]] = {}
        for i in uniq:
            strata.setdefault(genders.get(i, ""), []).append(i)
        keyed: list[tuple[float, str, str]] = []
        for g in sorted(strata):
            members = strata[g]
            perm = rng.permutation(len(members))
            m = len(members)
            for rank, j in enumerate(perm):
                # (rank + 0.5) / m spreads each stratum evenly over [0, 1)
                keyed.append(((rank + 0.5) / m, g, members[j]))
        keyed.sort(key=lambda t: (t[0], t[1]))
        order = [k[2] for k in keyed]
    else:
        order = [uniq[j] for j in rng.permutation(len(uniq))]
    out: dict[str, str] = {}
    start = 0
    for name, c in zip(names, counts, strict=True):
        for i in order[start : start + c]:
            out[i] = name
        start += c
    assert start == len(uniq)
    return out
