"""Seeded, vectorised trial generation and the trial file.

A :class:`TrialSet` holds item-id lists of both modalities (``voice_ids``, ``face_ids`` and
their identities) and, per task key, integer index arrays into those lists:

=================  =====================================================================
task               arrays (``q`` = query modality, ``c`` = candidate modality)
=================  =====================================================================
``match``          ``query`` (T,) or (T, m_q); ``cands`` (T, n) or (T, n, m_c); column 0
                   of ``cands`` is always the true candidate
``verify``         ``voice`` (P,), ``face`` (P,), ``label`` (P,) bool
``retrieve``       ``queries`` (Q,) or (Q, m_q), ``gallery`` (G,) or (G, m_c)
=================  =====================================================================

A trailing ``m`` axis means "the mean embedding of these m items" (joint tasks, paper
Sec. 3.1 / Table 3). ``directions``: ``v2f`` = voice query / face candidates, ``f2v`` the
reverse. Per key metadata lives in ``config["keys"][key]``.

Trial files are ``.npz`` with ``voice_ids``, ``face_ids``, ``voice_identities``,
``face_identities``, ``config`` (JSON) and ``<key>::<array>`` entries; the content hash
(sha256 over config + arrays, independent of zip timestamps) is stored inside and checked
on load. Two systems evaluated with the same trial file are scored on exactly the same
trials, which is what ``vfbench compare`` needs.

Sampling (all vectorised; the only Python loops run over n or m, never over trials):

* query identity: uniform over eligible identities or, with ``gender_balanced``, first a
  gender with probability 1/2, then an identity of that gender (paper Sec. 5.1: "the gender
  of the test triples ... was balanced");
* distractor identities: n - 1 distinct identities from the query's *pool* (U: everyone;
  G: same gender; N: same nationality; GN: both), never the query identity, sampled without
  replacement with Floyd's algorithm;
* items: uniform among the identity's items; m distinct items for joint tasks (Floyd).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.utils.io import atomic_save_npz, read_npz

TRIALS_SCHEMA_VERSION = 1
CONSTRAINTS = ("U", "G", "N", "GN")
DIRECTIONS = ("v2f", "f2v")


# ------------------------------------------------------------------------- sampling core
def floyd_sample(
    avail: np.ndarray, m: int | np.ndarray, rng: np.random.Generator, shape_m: int | None = None
) -> np.ndarray:
    """Distinct uniform samples from ``range(avail[t])`` per row (Floyd's algorithm).

    ``avail`` (T,) ints, ``m`` an int or (T,) ints (each <= avail). Returns (T, M) int64,
    ``M = max(m)``; entries past a row's own ``m`` are -1. The loop runs over M, not T.
    """
    avail = np.asarray(avail, dtype=np.int64)
    mm = np.broadcast_to(np.asarray(m, dtype=np.int64), avail.shape)
    if np.any(mm > avail):
        raise EvaluationError("cannot draw more distinct items than are available")
    big_m = int(mm.max()) if shape_m is None and mm.size else (shape_m or 0)
    out = np.full((avail.size, big_m), -1, dtype=np.int64)
    for i in range(big_m):
        active = i < mm
        j = avail - mm + i  # upper bound of step i (inclusive)
        t = np.floor(rng.random(avail.size) * (j + 1)).astype(np.int64)
        t = np.minimum(t, j)
        dup = (out[:, :i] == t[:, None]).any(axis=1) if i else np.zeros(avail.size, bool)
        out[:, i] = np.where(active, np.where(dup, j, t), -1)
    return out


@dataclass
class Groups:
    """Items of one modality grouped by identity code (0..n_identities-1)."""

    codes: np.ndarray  # (N,) identity code of each item
    n_identities: int
    order: np.ndarray = field(init=False)
    start: np.ndarray = field(init=False)
    count: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.codes = np.asarray(self.codes, dtype=np.int64)
        self.order = np.argsort(self.codes, kind="stable")
        self.count = np.bincount(self.codes, minlength=self.n_identities).astype(np.int64)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]]).astype(np.int64)

    def sample(self, ident: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One uniform item of each identity in ``ident`` (any shape) -> same shape."""
        ident = np.asarray(ident, dtype=np.int64)
        c = self.count[ident]
        if np.any(c == 0):
            raise EvaluationError("sampling an item of an identity that has none")
        off = np.minimum(np.floor(rng.random(ident.shape) * c).astype(np.int64), c - 1)
        return self.order[self.start[ident] + off]

    def sample_m(
        self, ident: np.ndarray, m: int | np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """``m`` distinct items of each identity: (T,) -> (T, M); -1 pads rows with fewer."""
        ident = np.asarray(ident, dtype=np.int64).reshape(-1)
        pos = floyd_sample(self.count[ident], m, rng)
        out = np.where(pos >= 0, self.order[self.start[ident][:, None] + np.maximum(pos, 0)], -1)
        return out

    def items_of(self, ident: int) -> np.ndarray:
        return self.order[self.start[ident] : self.start[ident] + self.count[ident]]


@dataclass
class Universe:
    """Identities and their attributes as integer codes, plus both modalities' groups."""

    names: np.ndarray  # (I,) identity names, sorted
    voice: Groups
    face: Groups
    gender: np.ndarray  # (I,) str "m" / "f" / ""
    nationality: np.ndarray  # (I,) str, "" unknown
    language: np.ndarray | None = None  # (I,) str, "" unknown
    columns: dict[str, np.ndarray] = field(default_factory=dict)  # every attribute column

    @classmethod
    def build(
        cls,
        voice_identities: np.ndarray,
        face_identities: np.ndarray,
        attributes: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Universe:
        vi = np.asarray(voice_identities).astype(str)
        fi = np.asarray(face_identities).astype(str)
        names, inv = np.unique(np.concatenate([vi, fi]), return_inverse=True)
        n = names.size
        attrs = attributes or {}
        gender = np.array([str(attrs.get(x, {}).get("gender", "")) for x in names], dtype=object)
        nat = np.array([str(attrs.get(x, {}).get("nationality", "")) for x in names], dtype=object)
        lang = np.array([str(attrs.get(x, {}).get("language", "")) for x in names], dtype=object)
        cols: dict[str, np.ndarray] = {}
        for row in attrs.values():
            for c in row:
                if c not in cols and c not in ("gender", "nationality", "language"):
                    cols[c] = np.array(
                        [str(attrs.get(x, {}).get(c, "") or "") for x in names], dtype=object
                    ).astype(str)
        return cls(
            names=names,
            voice=Groups(inv[: vi.size], n),
            face=Groups(inv[vi.size :], n),
            gender=gender.astype(str),
            nationality=nat.astype(str),
            language=lang.astype(str),
            columns=cols,
        )

    @property
    def n(self) -> int:
        return int(self.names.size)

    def usable(self, m_voice: int = 1, m_face: int = 1) -> np.ndarray:
        """(I,) bool: identities with at least m_voice voices and m_face faces."""
        return (self.voice.count >= m_voice) & (self.face.count >= m_face)

    def has_gender(self) -> bool:
        return bool(np.isin(self.gender, ["m", "f"]).any())

    def attribute(self, name: str) -> np.ndarray | None:
        """(I,) str values of an identity column ("" unknown), or None if no identity has it."""
        if name in ("gender", "nationality", "language"):
            col = getattr(self, name)
        else:
            col = self.columns.get(name)
        if col is None or not (np.asarray(col) != "").any():
            return None
        return np.asarray(col)

    def pool_keys(
        self, constraint: str, mask: np.ndarray | None = None, same: str = ""
    ) -> np.ndarray:
        """(I,) int pool of each identity for a distractor constraint; -1 = not eligible.

        ``same``: an extra identity column distractors must share with the query (e.g.
        ``source``: distractors from the same video collection); identities without a value
        are not eligible."""
        if constraint not in CONSTRAINTS:
            raise EvaluationError(f"unknown constraint {constraint!r}; known: {list(CONSTRAINTS)}")
        ok = np.ones(self.n, bool) if mask is None else np.asarray(mask, bool).copy()
        parts: list[np.ndarray] = []
        if "G" in constraint:
            ok &= np.isin(self.gender, ["m", "f"])
            parts.append(self.gender)
        if "N" in constraint:
            ok &= self.nationality != ""
            parts.append(self.nationality)
        if same:
            col = self.attribute(same)
            if col is None:
                raise EvaluationError(f"no identity has a value for column {same!r}")
            ok &= col != ""
            parts.append(col)
        if parts:
            joined = parts[0]
            for extra in parts[1:]:
                joined = np.char.add(np.char.add(joined.astype(str), "\x1f"), extra.astype(str))
            _, key = np.unique(joined, return_inverse=True)
        else:
            key = np.zeros(self.n, dtype=np.int64)
        return np.where(ok, key.reshape(-1), -1).astype(np.int64)


def _pool_tables(pool: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """order (members sorted by pool), start/size per pool key, position of each identity."""
    n_pools = int(pool.max()) + 1 if (pool >= 0).any() else 0
    members = np.flatnonzero(pool >= 0)
    order = members[np.argsort(pool[members], kind="stable")]
    size = np.bincount(pool[members], minlength=n_pools).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    pos = np.full(pool.size, -1, dtype=np.int64)
    pos[order] = np.arange(order.size) - start[pool[order]]
    return order, start, size, pos


def sample_distractors(
    query_ident: np.ndarray, pool: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """(T, k) distinct identities from each query's pool, excluding the query identity."""
    q = np.asarray(query_ident, dtype=np.int64)
    if k == 0:
        return np.empty((q.size, 0), dtype=np.int64)
    order, start, size, pos = _pool_tables(pool)
    key = pool[q]
    if np.any(key < 0) or np.any(size[key] - 1 < k):
        raise EvaluationError("a query identity has fewer eligible distractors than needed")
    j = floyd_sample(size[key] - 1, k, rng)  # in [0, size-1)
    j = j + (j >= pos[q][:, None])  # skip the query's own slot
    return order[start[key][:, None] + j]


def sample_query_identities(
    eligible: np.ndarray, n: int, rng: np.random.Generator, gender: np.ndarray | None = None
) -> np.ndarray:
    """(n,) identity codes; gender-balanced (1/2 each) when ``gender`` is given and both exist."""
    idx = np.flatnonzero(eligible)
    if idx.size == 0:
        raise EvaluationError("no identity is eligible for this task (too few items or attributes)")
    if gender is not None:
        males = idx[gender[idx] == "m"]
        females = idx[gender[idx] == "f"]
        if males.size and females.size:
            pick_m = rng.random(n) < 0.5
            im = males[np.minimum((rng.random(n) * males.size).astype(np.int64), males.size - 1)]
            jf = np.minimum((rng.random(n) * females.size).astype(np.int64), females.size - 1)
            return np.where(pick_m, im, females[jf])
    return idx[np.minimum((rng.random(n) * idx.size).astype(np.int64), idx.size - 1)]


def _groups(u: Universe, direction: str) -> tuple[Groups, Groups]:
    if direction not in DIRECTIONS:
        raise EvaluationError(f"unknown direction {direction!r}; known: {list(DIRECTIONS)}")
    return (u.voice, u.face) if direction == "v2f" else (u.face, u.voice)


def match_trials(
    u: Universe,
    direction: str,
    n: int,
    n_trials: int,
    rng: np.random.Generator,
    constraint: str = "U",
    gender_balanced: bool = True,
    m_query: int = 1,
    m_cand: int = 1,
    same: str = "",
) -> dict[str, np.ndarray]:
    """1:n matching trials (paper Sec. 3.1); joint when ``m_query``/``m_cand`` > 1.

    ``same``: distractors share this identity column with the query (see
    :meth:`Universe.pool_keys`).

    Returns ``query`` (T,) [or (T, m_q)] and ``cands`` (T, n) [or (T, n, m_c)] item indices,
    true candidate in column 0, plus ``query_identity`` (T,) and ``cand_identity`` (T, n)
    identity codes.
    """
    if n < 2:
        raise EvaluationError(f"1:n matching needs n >= 2, got {n}")
    qg, cg = _groups(u, direction)
    ok = (qg.count >= m_query) & (cg.count >= m_cand)
    pool = u.pool_keys(constraint, ok, same)
    _, _, size, _ = _pool_tables(pool)
    eligible = pool >= 0
    eligible[eligible] &= size[pool[eligible]] - 1 >= n - 1
    q = sample_query_identities(eligible, n_trials, rng, u.gender if gender_balanced else None)
    neg = sample_distractors(q, pool, n - 1, rng)
    ident = np.concatenate([q[:, None], neg], axis=1)
    if m_query == 1 and m_cand == 1:
        query = qg.sample(q, rng)
        cands = cg.sample(ident, rng)
    else:
        query = qg.sample_m(q, m_query, rng)
        cands = cg.sample_m(ident.reshape(-1), m_cand, rng).reshape(n_trials, n, m_cand)
    return {"query": query, "cands": cands, "query_identity": q, "cand_identity": ident}


def verify_pairs(
    u: Universe,
    direction: str,
    n_pairs: int,
    rng: np.random.Generator,
    constraint: str = "U",
    gender_balanced: bool = True,
    same: str = "",
) -> dict[str, np.ndarray]:
    """Verification pairs: an anchor of the query modality, half positive, half negative.

    Returns ``voice`` (P,), ``face`` (P,) item indices, ``label`` (P,) bool and
    ``anchor_identity`` (P,) codes. Negatives obey ``constraint`` like matching distractors.
    """
    qg, cg = _groups(u, direction)
    ok = (qg.count >= 1) & (cg.count >= 1)
    pool = u.pool_keys(constraint, ok, same)
    _, _, size, _ = _pool_tables(pool)
    eligible = pool >= 0
    eligible[eligible] &= size[pool[eligible]] >= 2
    a = sample_query_identities(eligible, n_pairs, rng, u.gender if gender_balanced else None)
    label = rng.random(n_pairs) < 0.5
    other = sample_distractors(a, pool, 1, rng)[:, 0]
    b = np.where(label, a, other)
    qa = qg.sample(a, rng)
    cb = cg.sample(b, rng)
    voice, face = (qa, cb) if direction == "v2f" else (cb, qa)
    return {"voice": voice, "face": face, "label": label, "anchor_identity": a}


def retrieval_sets(
    u: Universe,
    direction: str,
    rng: np.random.Generator,
    n_identities: int | None = 100,
    gallery_per_identity: int | None = 5,
    queries_per_identity: int | None = 40,
    m_query: int = 1,
    m_gallery: int = 1,
    max_queries: int | None = None,
    max_gallery: int | None = None,
) -> dict[str, np.ndarray]:
    """Query and gallery sets for retrieval.

    Paper protocol (Sec. 5.1): ``n_identities`` = 100 random identities, a gallery of
    ``gallery_per_identity`` = 5 candidate-modality items each (500), and
    ``queries_per_identity`` = 40 queries each. ``None`` means "all" (full-gallery retrieval
    over the whole split; ``max_queries``/``max_gallery`` subsample it uniformly). With
    ``m_query``/``m_gallery`` > 1 each query / gallery entry is a set of m distinct items
    (joint retrieval); each entry draws its own random subset, capped at the identity's
    item count (-1 pads the rest). An identity with fewer items than asked contributes what
    it has - always sampled without replacement.
    """
    qg, cg = _groups(u, direction)
    # joint sets are capped at what an identity has (m_i = min(m, its item count))
    ok = np.flatnonzero((qg.count >= 1) & (cg.count >= 1))
    if ok.size < 2:
        raise EvaluationError("retrieval needs at least two identities with both modalities")
    ids = (
        ok
        if n_identities is None or n_identities >= ok.size
        else rng.choice(ok, n_identities, replace=False)
    )
    ids = np.sort(ids)

    def pick(g: Groups, per: int | None, m: int, cap: int | None) -> tuple[np.ndarray, np.ndarray]:
        if m == 1:
            if per is None:
                items = np.flatnonzero(np.isin(g.codes, ids))
            else:
                pos = floyd_sample(g.count[ids], np.minimum(g.count[ids], per), rng)
                rows = np.repeat(ids[:, None], pos.shape[1], axis=1)
                keep = pos >= 0
                items = g.order[g.start[rows[keep]] + pos[keep]]
            if cap is not None and items.size > cap:
                items = np.sort(rng.choice(items, cap, replace=False))
            return items, g.codes[items]
        per_n = per if per is not None else 1
        rep = np.repeat(ids, per_n)
        sets = g.sample_m(rep, np.minimum(m, g.count[rep]), rng)
        return sets, rep

    queries, qid = pick(qg, queries_per_identity, m_query, max_queries)
    gallery, gid = pick(cg, gallery_per_identity, m_gallery, max_gallery)
    return {"queries": queries, "gallery": gallery, "query_identity": qid, "gallery_identity": gid}


# ----------------------------------------------------------------------------- trial set
@dataclass
class TrialSet:
    """Trials of every task over two item lists; see the module docstring for the arrays."""

    voice_ids: np.ndarray
    face_ids: np.ndarray
    voice_identities: np.ndarray
    face_identities: np.ndarray
    groups: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.voice_ids = np.asarray(self.voice_ids).astype(str)
        self.face_ids = np.asarray(self.face_ids).astype(str)
        self.voice_identities = np.asarray(self.voice_identities).astype(str)
        self.face_identities = np.asarray(self.face_identities).astype(str)
        self.config.setdefault("keys", {})

    def add(self, key: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        if "::" in key:
            raise EvaluationError(f"trial key {key!r} may not contain '::'")
        self.groups[key] = {k: np.asarray(v) for k, v in arrays.items()}
        self.config["keys"][key] = dict(meta)
        self.check_indices(keys=[key])

    def _index_target(self, key: str, name: str) -> str | None:
        """Which id list (``voice``/``face``) array ``name`` of group ``key`` indexes."""
        d = str(self.meta(key).get("direction", "v2f"))
        q, c = ("voice", "face") if d == "v2f" else ("face", "voice")
        return {
            "query": q,
            "cands": c,
            "queries": q,
            "gallery": c,
            "voice": "voice",
            "face": "face",
        }.get(name)

    def check_indices(self, where: str = "", keys: Sequence[str] | None = None) -> None:
        """Every item index lies inside its id list (-1 only pads joint sets after column 0)."""
        size = {"voice": self.voice_ids.size, "face": self.face_ids.size}
        for key in self.keys() if keys is None else keys:
            task = str(self.meta(key).get("task", ""))
            for name, a in self.groups[key].items():
                target = self._index_target(key, name)
                if target is None or a.size == 0:
                    continue
                if not np.issubdtype(a.dtype, np.integer):
                    raise EvaluationError(
                        f"{where or 'trials'}: group {key!r} array {name!r} is {a.dtype}, "
                        "not integer item indices"
                    )
                joint_pad = task.startswith("joint") and a.ndim >= (3 if name == "cands" else 2)
                lo = -1 if joint_pad else 0
                bad = (a < lo) | (a >= size[target])
                if joint_pad:
                    bad[..., 0] |= a[..., 0] < 0
                if bad.any():
                    vals = np.unique(a[bad])[:3].tolist()
                    raise EvaluationError(
                        f"{where or 'trials'}: group {key!r} array {name!r} has {int(bad.sum())} "
                        f"{target} index(es) outside 0..{size[target] - 1} (e.g. {vals}); the "
                        f"file is damaged or was edited"
                    )

    def subset(self, keys: Sequence[str]) -> TrialSet:
        """The same item lists with only the trial groups ``keys`` (in that order)."""
        unknown = [k for k in keys if k not in self.groups]
        if unknown:
            raise EvaluationError(f"trial set has no group(s) {unknown}; it has {self.keys()}")
        cfg = {k: v for k, v in self.config.items() if k != "keys"}
        cfg = json.loads(json.dumps(cfg))
        cfg["keys"] = {k: dict(self.config["keys"][k]) for k in keys}
        ts = TrialSet(self.voice_ids, self.face_ids, self.voice_identities, self.face_identities)
        ts.config.update(cfg)
        ts.groups = {k: self.groups[k] for k in keys}
        return ts

    def check_identities(self, voices: Any, faces: Any, where: str = "") -> None:
        """Each trial item's identity equals its identity in the embeddings (else an error
        naming the count and the first items): trials scored with the wrong labels would
        silently change every figure (a gender baseline moved from 75.0 to 62.3)."""
        for what, ids, idents, emb in (
            ("voice", self.voice_ids, self.voice_identities, voices),
            ("face", self.face_ids, self.face_identities, faces),
        ):
            row = index_map(ids, emb.ids, what)
            theirs = np.asarray(emb.identities)[row]
            bad = np.flatnonzero(theirs != idents)
            if bad.size:
                ex = ", ".join(
                    f"{ids[i]!r} (trials: {idents[i]!r}, embeddings: {theirs[i]!r})"
                    for i in bad[:3]
                )
                raise EvaluationError(
                    f"{where or 'trials'}: {bad.size} {what} item(s) have another identity in "
                    f"the trial file than in the embeddings, e.g. {ex}; the trials were made "
                    "for other labels - regenerate or re-import them"
                )

    def largest_pair_group(self) -> int:
        """The most (voice, face) pairs one group scores item by item: a 1:n matching
        group's trials x n, a verification group's pairs (retrieval and joint groups are
        scored as matrices / mean vectors: 0)."""
        most = 0
        for key, g in self.groups.items():
            task = str(self.meta(key).get("task", ""))
            if task == "match" and "cands" in g and np.asarray(g["cands"]).ndim == 2:
                most = max(most, int(np.asarray(g["cands"]).size))
            elif task == "verify" and "voice" in g:
                most = max(most, int(np.asarray(g["voice"]).size))
        return most

    def meta(self, key: str) -> dict[str, Any]:
        return dict(self.config["keys"].get(key, {}))

    def keys(self) -> list[str]:
        return list(self.groups)

    @property
    def sha256(self) -> str:
        """Content hash: config + id lists + every array's dtype, shape and bytes."""
        h = hashlib.sha256()
        h.update(json.dumps(self.config, sort_keys=True).encode())
        for name in ("voice_ids", "face_ids", "voice_identities", "face_identities"):
            h.update("\n".join(getattr(self, name).tolist()).encode() + b"\0")
        for key in sorted(self.groups):
            for name in sorted(self.groups[key]):
                a = np.ascontiguousarray(self.groups[key][name])
                h.update(f"{key}::{name}:{a.dtype.str}:{a.shape}".encode())
                h.update(a.data.cast("B") if a.size else b"")  # = tobytes(), no copy
        return h.hexdigest()

    def save(self, path: str | Path, compressed: bool | None = None) -> str:
        """Write the trial file atomically; returns its content hash.

        ``compressed=None`` compresses small files only: deflating a 1M-trial list costs
        seconds for a few tens of MB saved.
        """
        digest = self.sha256
        arrays: dict[str, np.ndarray] = {
            "schema_version": np.array(TRIALS_SCHEMA_VERSION),
            "config": np.array(json.dumps(self.config, sort_keys=True)),
            "sha256": np.array(digest),
            "voice_ids": self.voice_ids,
            "face_ids": self.face_ids,
            "voice_identities": self.voice_identities,
            "face_identities": self.face_identities,
        }
        for key, grp in self.groups.items():
            for name, a in grp.items():
                arrays[f"{key}::{name}"] = a
        if compressed is None:
            compressed = sum(a.nbytes for a in arrays.values()) < (8 << 20)
        atomic_save_npz(path, compressed=compressed, **arrays)
        return digest

    @classmethod
    def load(cls, path: str | Path) -> TrialSet:
        p = Path(path)
        if not p.is_file():
            raise EvaluationError(f"{p}: trial file not found")
        try:
            z = read_npz(p)  # straight into the arrays (no zip CRC pass; hash checked below)
            need = {"schema_version", "config", "sha256", "voice_ids", "face_ids"}
            if not need <= set(z):
                raise EvaluationError(
                    f"{p}: not a vfbench trial file (missing {sorted(need - set(z))})"
                )
            if int(z["schema_version"]) != TRIALS_SCHEMA_VERSION:
                raise EvaluationError(
                    f"{p}: trial schema_version {int(z['schema_version'])} is not supported"
                )
            groups: dict[str, dict[str, np.ndarray]] = {}
            for name in z:
                if "::" in name:
                    key, _, arr = name.partition("::")
                    groups.setdefault(key, {})[arr] = z[name]
            ts = cls(
                voice_ids=z["voice_ids"],
                face_ids=z["face_ids"],
                voice_identities=z["voice_identities"],
                face_identities=z["face_identities"],
                groups=groups,
                config=json.loads(str(z["config"])),
            )
            stored = str(z["sha256"])
        except EvaluationError:
            raise
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise EvaluationError(f"{p}: cannot read trial file ({exc})") from None
        if ts.sha256 != stored:
            raise EvaluationError(f"{p}: content hash mismatch (file corrupt or edited)")
        ts.check_indices(str(p))
        return ts


def index_map(wanted: np.ndarray, have: np.ndarray, what: str) -> np.ndarray:
    """Positions of ``wanted`` ids inside ``have`` (the first one of a repeated id); raises
    naming missing ids. One dict over ``have`` (no string sorts: ~4 ms for 20k ids)."""
    have_l = np.asarray(have).astype(str).tolist()
    wanted_l = np.asarray(wanted).astype(str).tolist()
    n = len(have_l)
    first = dict(zip(have_l[::-1], range(n - 1, -1, -1), strict=True))  # first one wins
    pos = np.fromiter(map(first.get, wanted_l, repeat(-1)), np.int64, len(wanted_l))
    if pos.size and pos.min() < 0:
        missing = np.asarray(wanted_l, dtype=str)[pos < 0]
        raise EvaluationError(
            f"{missing.size} {what} id(s) of the trials are not in the embeddings, "
            f"e.g. {missing[:3].tolist()}"
        )
    return pos
