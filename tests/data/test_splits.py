"""Split modes (data/splits.py): every identity in test, identity-disjoint stratified k-fold."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from vfbench.cli import main
from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem, load_manifest
from vfbench.data.splits import all_test, kfold_assign, kfold_split
from vfbench.errors import ConfigError


def corpus(n: int = 31, female_every: int = 3, shuffle: int | None = None) -> Manifest:
    ids = [
        Identity(f"p{i:03d}", gender="f" if i % female_every == 0 else "m", split="train")
        for i in range(n)
    ]
    if shuffle is not None:
        random.Random(shuffle).shuffle(ids)
    return Manifest(
        identities=ids,
        voices=[VoiceItem(f"v{i.id}", i.id, f"{i.id}/a.wav") for i in ids],
        faces=[FaceItem(f"f{i.id}", i.id, f"{i.id}/a.jpg") for i in ids],
        voice_root=Path("/data/voices"),
        face_root=Path("/data/faces"),
        name="toy",
    )


def test_all_test_puts_every_identity_in_test_and_keeps_items() -> None:
    m = corpus(10)
    t = all_test(m)
    assert {i.split for i in t.identities} == {"test"}
    assert [i.id for i in t.identities] == [i.id for i in m.identities]
    assert t.voices == m.voices and t.faces == m.faces and t.meta["split"] == {"mode": "all-test"}
    assert {i.split for i in m.identities} == {"train"}  # the input is not modified


def test_kfold_tests_every_identity_exactly_once_in_balanced_folds() -> None:
    m, k = corpus(31), 5
    tested: Counter[str] = Counter()
    for fold in range(k):
        s = kfold_split(m, k, fold, seed=4)
        by = {sp: {i.id for i in s.identities if i.split == sp} for sp in ("train", "val", "test")}
        assert set().union(*by.values()) == {i.id for i in m.identities}  # a partition
        assert not (by["train"] & by["test"]) and not (by["val"] & by["test"])
        assert len(by["val"]) >= 2 and len(by["train"]) >= 2
        tested.update(by["test"])
    assert set(tested.values()) == {1} and len(tested) == 31
    sizes = Counter(kfold_assign([i.id for i in m.identities], k, 4).values())
    assert max(sizes.values()) - min(sizes.values()) <= 1


def test_kfold_folds_keep_the_gender_proportion() -> None:
    m, k = corpus(40, female_every=4), 4  # 10 women, 30 men
    g = {i.id: i.gender for i in m.identities}
    fold_of = kfold_assign(list(g), k, seed=1, genders=g)
    women = Counter(f for i, f in fold_of.items() if g[i] == "f")
    assert set(women.values()) <= {2, 3} and sum(women.values()) == 10
    for seed in range(20):  # whatever the seed: 10 women over 4 folds is 2 or 3 per fold
        fo = kfold_assign(list(g), k, seed=seed, genders=g)
        assert set(Counter(f for i, f in fo.items() if g[i] == "f").values()) <= {2, 3}


def test_kfold_is_deterministic_and_independent_of_row_order() -> None:
    a = kfold_split(corpus(25), 5, 2, seed=7)
    b = kfold_split(corpus(25, shuffle=3), 5, 2, seed=7)
    assert {i.id: i.split for i in a.identities} == {i.id: i.split for i in b.identities}
    c = kfold_split(corpus(25), 5, 2, seed=8)
    assert {i.id: i.split for i in a.identities} != {i.id: i.split for i in c.identities}


@pytest.mark.parametrize(
    ("n", "folds", "fold", "match"),
    [(7, 4, 0, "cannot make 4 folds"), (20, 1, 0, "folds >= 2"), (20, 4, 4, "--fold must be"),
     (7, 2, 0, "fewer than 2 training identities")],
)  # fmt: skip
def test_kfold_refuses_impossible_requests(n: int, folds: int, fold: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        kfold_split(corpus(n), folds, fold)


def test_cli_data_split_writes_every_fold_manifest(tmp_path: Path, capsys) -> None:
    src = corpus(12).save(tmp_path / "m")
    assert main(["data", "split", str(src), "--mode", "kfold", "--folds", "3",
                 "-o", str(tmp_path / "folds")]) == 0  # fmt: skip
    tested = set()
    for i in range(3):
        fm = load_manifest(tmp_path / "folds" / f"fold{i}")
        tested |= {x.id for x in fm.identities if x.split == "test"}
        assert fm.meta["split"]["fold"] == i and len(fm.voices) == 12
    assert len(tested) == 12
    assert main(["data", "split", str(src), "--mode", "all-test", "-o", str(tmp_path / "all")]) == 0
    assert {x.split for x in load_manifest(tmp_path / "all").identities} == {"test"}
    assert main(["data", "split", str(src), "--mode", "bogus", "-o", str(tmp_path / "x")]) == 2
    assert "unknown split mode 'bogus'" in capsys.readouterr().err


def test_kfold_without_val_keeps_every_other_identity_in_train() -> None:
    m = corpus(7)
    for fold in range(3):
        s = kfold_split(m, 3, fold, val_fraction=0.0)
        assert {i.split for i in s.identities} == {"train", "test"}
        assert sum(i.split == "test" for i in s.identities) in (2, 3)
