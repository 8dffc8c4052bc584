"""Split modes for small real corpora: every identity in test, and identity-disjoint k-fold.

Each function takes a :class:`~vfbench.data.manifest.Manifest` and returns a *new* one
whose identities carry new ``split`` values (items, roots and extra fields unchanged); the
input is never modified. Assignments depend only on (set of identity ids, genders, seed,
K): the order of the manifest's rows does not matter.

``all_test``
    every identity in ``test``: evaluate an already-trained model on a whole corpus.
``kfold_assign`` / ``kfold_split``
    identity-disjoint K-fold cross-validation, stratified by gender where genders are
    known: fold ``i`` is ``test``; the other K-1 folds are ``train``, less a seeded
    gender-stratified ``val`` share (at least 2 identities, since 1:2 validation needs
    two people; ``val_fraction=0``: no val split, for corpora too small to spare one).
    Every identity is in ``test`` in exactly one fold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from vfbench.data.manifest import Manifest
from vfbench.data.recipes.splits import split_identities
from vfbench.errors import ConfigError

SPLIT_MODES = ("all-test", "kfold")


def _with_splits(m: Manifest, assign: Mapping[str, str], info: dict[str, object]) -> Manifest:
    idents = [dataclasses.replace(i, split=assign[i.id]) for i in m.identities]
    meta = dict(m.meta)
    meta["split"] = info
    return Manifest(
        identities=idents,
        voices=list(m.voices),
        faces=list(m.faces),
        voice_root=m.voice_root,
        face_root=m.face_root,
        name=m.name,
        meta=meta,
    )


def all_test(manifest: Manifest) -> Manifest:
    """A copy of ``manifest`` with every identity in the ``test`` split."""
    if not manifest.identities:
        raise ConfigError(f"manifest {manifest.name!r} has no identities to put in test")
    return _with_splits(manifest, {i.id: "test" for i in manifest.identities}, {"mode": "all-test"})


def kfold_assign(
    ids: list[str] | tuple[str, ...],
    folds: int,
    seed: int = 0,
    genders: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """``{identity: fold}`` for ``folds`` identity-disjoint folds of (almost) equal size
    (sizes differ by at most one), each close to the corpus' gender proportion (the
    gender-stratified cut of :func:`~vfbench.data.recipes.splits.split_identities`)."""
    uniq = sorted(set(ids))
    if folds < 2:
        raise ConfigError(f"k-fold needs --folds >= 2, got {folds}")
    if len(uniq) < 2 * folds:
        raise ConfigError(
            f"{len(uniq)} identities cannot make {folds} folds of at least 2 identities "
            "(1:2 matching needs two people per test fold); use fewer folds"
        )
    names = [str(k) for k in range(folds)]
    got = split_identities(uniq, [1.0] * folds, seed, genders is not None, genders=genders,
                           names=names)  # fmt: skip
    return {i: int(f) for i, f in got.items()}


def kfold_split(
    manifest: Manifest,
    folds: int,
    fold: int,
    seed: int = 0,
    val_fraction: float = 0.1,
    stratify_by_gender: bool = True,
) -> Manifest:
    """Fold ``fold`` (0-based) of ``folds``: its identities in ``test``, the rest in
    ``train`` except a ``val_fraction`` share (>= 2 identities, gender-stratified) in
    ``val``. The same (seed, folds) always gives the same folds."""
    if not 0 <= fold < folds:
        raise ConfigError(f"--fold must be in 0..{folds - 1}, got {fold}")
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"val fraction must be in [0, 1), got {val_fraction}")
    genders = {i.id: i.gender for i in manifest.identities} if stratify_by_gender else None
    ids = [i.id for i in manifest.identities]
    fold_of = kfold_assign(ids, folds, seed, genders)
    rest = sorted(i for i in fold_of if fold_of[i] != fold)
    n_val = max(2, int(round(val_fraction * len(rest)))) if val_fraction > 0 else 0
    if len(rest) - n_val < 2:
        raise ConfigError(
            f"{len(ids)} identities leave fewer than 2 training identities in fold {fold} of "
            f"{folds}; use fewer folds or a smaller val fraction"
        )
    val_seed = int(np.random.SeedSequence([seed, folds, fold]).generate_state(1)[0])
    assign = (
        split_identities(rest, [len(rest) - n_val, n_val], val_seed, stratify_by_gender,
                         genders=genders, names=("train", "val"))
        if n_val
        else dict.fromkeys(rest, "train")
    )  # fmt: skip
    assign.update({i: "test" for i, f in fold_of.items() if f == fold})
    info = {
        "mode": "kfold", "folds": folds, "fold": fold, "seed": seed,
        "val_fraction": val_fraction, "stratified_by_gender": stratify_by_gender,
    }  # fmt: skip
    return _with_splits(manifest, assign, info)


def split_manifest(
    manifest: Manifest,
    mode: str,
    folds: int = 5,
    fold: int = 0,
    seed: int = 0,
    val_fraction: float = 0.1,
) -> Manifest:
    """Dispatch on ``mode`` (see :data:`SPLIT_MODES`)."""
    if mode == "all-test":
        return all_test(manifest)
    if mode == "kfold":
        return kfold_split(manifest, folds, fold, seed, val_fraction)
    raise ConfigError(f"unknown split mode {mode!r}; known: {', '.join(SPLIT_MODES)}")
