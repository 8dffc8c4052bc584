"""Per-split corpus statistics: identities, gender balance, items per identity, audio hours,
and the number of distinct values of each extra identity column (``source``, ``corpus`` ...)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vfbench.data.manifest import Manifest

ALL = "all"


@dataclass(frozen=True)
class PerIdentity:
    """Items per identity over the identities of a split (identities with 0 items count)."""

    min: int
    median: float
    max: int

    def __str__(self) -> str:
        med = f"{self.median:g}"
        return f"{self.min}/{med}/{self.max}"


@dataclass(frozen=True)
class SplitStats:
    """Counts for one split (``split == "all"`` for the whole manifest)."""

    split: str
    identities: int
    male: int
    female: int
    unknown_gender: int
    voices: int
    faces: int
    voices_per_identity: PerIdentity
    faces_per_identity: PerIdentity
    audio_hours: float  # sum of VoiceItem.duration / 3600 (0 when not probed)
    sessions: int  # distinct (identity, session) pairs
    extra_values: dict[str, int] = field(default_factory=dict)  # extra column -> distinct values


@dataclass
class Stats:
    """Statistics of a manifest: one :class:`SplitStats` per split, then ``all``."""

    name: str
    splits: list[SplitStats] = field(default_factory=list)

    def get(self, split: str) -> SplitStats:
        for s in self.splits:
            if s.split == split:
                return s
        raise KeyError(split)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "splits": [asdict(s) for s in self.splits]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _per_identity(counts: Counter[str], ids: list[str]) -> PerIdentity:
    if not ids:
        return PerIdentity(0, 0.0, 0)
    a = np.array([counts.get(i, 0) for i in ids])
    return PerIdentity(int(a.min()), float(np.median(a)), int(a.max()))


def _split_stats(split: str, m: Manifest, ids: list[str]) -> SplitStats:
    keep = set(ids)
    idmap = m.identity_map()
    extra = {
        col: len({v for i, v in m.identity_column(col).items() if i in keep and v})
        for col in m.extra_columns()
    }
    genders = Counter(idmap[i].gender for i in keep)
    voices = [v for v in m.voices if v.identity in keep]
    faces = [f for f in m.faces if f.identity in keep]
    return SplitStats(
        split=split,
        identities=len(keep),
        male=genders.get("m", 0),
        female=genders.get("f", 0),
        unknown_gender=len(keep) - genders.get("m", 0) - genders.get("f", 0),
        voices=len(voices),
        faces=len(faces),
        voices_per_identity=_per_identity(Counter(v.identity for v in voices), ids),
        faces_per_identity=_per_identity(Counter(f.identity for f in faces), ids),
        audio_hours=float(sum(v.duration for v in voices)) / 3600.0,
        sessions=len({(v.identity, v.session) for v in voices if v.session}),
        extra_values=extra,
    )


def manifest_stats(manifest: Manifest) -> Stats:
    """Per-split statistics (splits in train/val/test order, others after), plus ``all``.

    Items whose identity is unknown are not counted (``vfbench data validate`` reports
    them); a duplicated identity row counts once.
    """
    by_split: dict[str, list[str]] = {}
    seen: set[str] = set()
    for i in manifest.identities:
        if i.id in seen:
            continue
        seen.add(i.id)
        by_split.setdefault(i.split, []).append(i.id)
    order = {"train": 0, "val": 1, "test": 2}
    names = sorted(by_split, key=lambda s: (order.get(s, 3), s))
    stats = Stats(name=manifest.name)
    for s in names:
        stats.splits.append(_split_stats(s or "(none)", manifest, by_split[s]))
    stats.splits.append(_split_stats(ALL, manifest, [i for s in names for i in by_split[s]]))
    return stats
