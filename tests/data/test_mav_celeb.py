"""The MAV-Celeb recipe: language folders become item languages, splits are seeded or
taken from meta.csv, language subsets keep the test side whole, and the ``vfbench fame``
commands run from a folder to lists, ground truth and a submission."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vfbench.data.manifest import load_manifest
from vfbench.data.recipes.mav_celeb import (
    face_language,
    language_subset,
    languages_of,
    prepare_mav_celeb,
    voice_language,
)
from vfbench.errors import DataError


def build_mav_tree(
    root: Path, builders: Any, n_id: int = 6, langs: tuple[str, ...] = ("English", "Urdu")
) -> Path:
    for k in range(n_id):
        ident = f"id{k:04d}"
        for lang in langs:
            for j in range(2):
                builders.write_wav(root / "voices" / ident / lang / "vid1" / f"{j:05d}.wav", 0.2)
                builders.write_jpg(root / "faces" / ident / lang / "vid1" / f"{j:04d}.jpg")
    return root


def test_languages_sessions_and_ids(tmp_path: Path, builders: Any) -> None:
    root = build_mav_tree(tmp_path / "mav", builders)
    builders.write_wav(root / "voices" / "id0000" / "loose.wav", 0.2)  # no language folder
    (root / "meta.csv").write_text("identity,gender,split\nid0000,m,test\nid0001,f,test\n", "utf-8")
    m = prepare_mav_celeb(root, version="v1", progress=False)
    assert len(m.identities) == 6 and len(m.voices) == 6 * 2 * 2 and len(m.faces) == 24
    v = next(x for x in m.voices if x.id == "id0003/Urdu/vid1/00001")
    assert (v.language, v.session, v.identity) == ("Urdu", "Urdu/vid1", "id0003")
    assert v.duration == pytest.approx(0.2) and v.sample_rate == 16000
    f = next(x for x in m.faces if x.id == "id0002/English/vid1/0000")
    assert f.source_video == "English/vid1" and face_language(m, f) == "English"
    assert voice_language(m, v) == "Urdu"
    assert languages_of(m) == ["English", "Urdu"]
    by = m.identity_map()
    assert by["id0000"].split == "test" and by["id0001"].gender == "f"
    assert any(p["reason"] == "no_language_folder" for p in m.meta["skipped"])
    assert m.meta["recipe"] == "mav-celeb" and m.meta["face_language"] == "source_video"
    # the saved manifest reloads with the same languages
    m.save(tmp_path / "man")
    m2 = load_manifest(tmp_path / "man")
    assert sorted(x.language for x in m2.voices) == sorted(x.language for x in m.voices)
    # the split is seeded: same seed -> same split, another seed -> (here) another one
    again = prepare_mav_celeb(root, probe=False, progress=False)
    assert {i.id: i.split for i in again.identities} == {i.id: i.split for i in m.identities}


def test_version_filters_languages_and_errors(tmp_path: Path, builders: Any) -> None:
    root = build_mav_tree(tmp_path / "mav", builders, n_id=3, langs=("English", "Urdu", "Hindi"))
    m = prepare_mav_celeb(root, version="v2", probe=False, progress=False)
    assert languages_of(m) == ["English", "Hindi"]
    with pytest.raises(DataError, match="unknown MAV-Celeb version 'v9'"):
        prepare_mav_celeb(root, version="v9", probe=False, progress=False)
    with pytest.raises(DataError, match=r"voices.*no voice files .* \['German'\]"):
        prepare_mav_celeb(root, languages=["German"], probe=False, progress=False)
    import shutil

    shutil.rmtree(root / "faces")
    with pytest.raises(DataError, match=r"mav/faces: missing"):
        prepare_mav_celeb(root, probe=False, progress=False)


def test_language_subset_keeps_the_test_side(tmp_path: Path, builders: Any) -> None:
    root = build_mav_tree(tmp_path / "mav", builders, n_id=8)
    m = prepare_mav_celeb(root, probe=False, progress=False, split_ratios=(0.5, 0.25, 0.25))
    sub = language_subset(m, "english")
    split = {i.id: i.split for i in sub.identities}
    train_side = [v for v in sub.voices if split[v.identity] in ("train", "val")]
    assert train_side and all(v.language == "English" for v in train_side)
    assert all(face_language(sub, f) == "English" for f in sub.faces if split[f.identity] != "test")
    test_langs = {v.language for v in sub.voices if split[v.identity] == "test"}
    assert test_langs == {"English", "Urdu"}
    assert len(sub.identities) == len(m.identities)
    with pytest.raises(
        DataError, match=r"language 'German'; languages present: \['English', 'Urdu'\]"
    ):
        language_subset(m, "German")


def test_fame_cli_from_folder_to_submission(tmp_path: Path, builders: Any) -> None:
    """prepare -> lists -> evaluate (+ submission) through the CLI, with embeddings that
    know the identity: heard and unheard EER are 0 and the files have the challenge names."""
    from vfbench.cli import main
    from vfbench.evaluate.embeddings import Embeddings
    from vfbench.evaluate.fame import read_submission

    root = build_mav_tree(tmp_path / "mav", builders, n_id=6)
    (root / "meta.csv").write_text(
        "identity,split\n"
        + "".join(f"id{k:04d},{'test' if k < 4 else 'train'}\n" for k in range(6)),
        "utf-8",
    )
    man = tmp_path / "manifest"
    assert main(["fame", "prepare", "--root", str(root), "--out", str(man), "--version", "v1",
                 "--no-probe", "-q"]) == 0  # fmt: skip
    assert main(["fame", "lists", "--manifest", str(man), "--out", str(tmp_path / "l"),
                 "--trials", "40"]) == 0  # fmt: skip
    m = load_manifest(man)
    idx = {i.id: k for k, i in enumerate(m.identities)}
    for lang in ("English", "Urdu"):
        d = tmp_path / "emb" / lang
        d.mkdir(parents=True)
        for mod, items in (("voice", m.voices), ("face", m.faces)):
            x = np.eye(len(idx))[[idx[i.identity] for i in items]]
            Embeddings([i.id for i in items], [i.identity for i in items], x, mod).save(
                d / f"{mod}s.npz"
            )
    args = ["fame", "evaluate", "--boot", "50", "--out", str(tmp_path / "res"),
            "--submission", str(tmp_path / "sub")]  # fmt: skip
    for lang in ("English", "Urdu"):
        args += ["--model", f"{lang}={tmp_path / 'emb' / lang}"]
        args += ["--list", f"{lang}={tmp_path / 'l' / 'lists' / f'{lang}_test.txt'}"]
        args += ["--truth", f"{lang}={tmp_path / 'l' / 'truth' / f'{lang}_test.txt'}"]
    assert main(args) == 0
    import json

    res = json.loads((tmp_path / "res" / "fame.json").read_text())
    assert [c["eer"]["value"] for c in res["conditions"]] == [0.0] * 4
    assert res["mean_eer"]["value"] == 0.0
    ids, s = read_submission(tmp_path / "sub" / "sub_score_v1_Urdu_unheard.txt")
    assert len(ids) == 40 and set(np.round(s, 6).tolist()) <= {0.0, round(float(np.sqrt(2)), 6)}
    # a bad option is one line, exit 2
    assert main(["fame", "evaluate", "--model", "English", "--list", "x=y"]) == 2


def test_identity_level_languages_give_the_cross_language_table() -> None:
    """A collected corpus: each identity speaks one language (identities.csv), items carry
    none. Training side = language A only; test lists per language from the identities;
    heard (A->A) and unheard (A->B) land in one FAME table."""
    from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem
    from vfbench.evaluate.embeddings import Embeddings
    from vfbench.evaluate.fame import build_fame_lists, run_fame

    idents = [
        Identity(f"i{k}", language="en" if k % 2 else "zh", split="train" if k < 8 else "test")
        for k in range(16)
    ]
    voices = [
        VoiceItem(f"i{k}/v{j}", f"i{k}", f"i{k}/v{j}.wav") for k in range(16) for j in range(3)
    ]
    faces = [FaceItem(f"i{k}/f{j}", f"i{k}", f"i{k}/f{j}.jpg") for k in range(16) for j in range(3)]
    m = Manifest(idents, voices, faces, name="collected")
    sub = language_subset(m, "en")
    lang = {i.id: i.language for i in m.identities}
    train_ids = {i.id for i in sub.identities if i.split == "train"}
    assert train_ids and all(lang[i] == "en" for i in train_ids)
    assert {i.id for i in sub.identities if i.split == "test"} == {f"i{k}" for k in range(8, 16)}
    built = build_fame_lists(m, n_trials=60, seed=1)
    assert set(built) == {"en", "zh"}
    for code, (lst, _) in built.items():
        assert all(lang[p.split("/")[1]] == code for p in lst.voice_paths)
    # identity-aware embeddings for English speakers, noise for Chinese speakers
    rng = np.random.default_rng(0)
    idx = {i.id: k for k, i in enumerate(m.identities)}

    def emb(items: list, mod: str) -> Embeddings:  # type: ignore[type-arg]
        x = np.stack([
            np.eye(16)[idx[i.identity]] if lang[i.identity] == "en" else rng.normal(size=16)
            for i in items
        ])  # fmt: skip
        return Embeddings([i.id for i in items], [i.identity for i in items], x, mod)

    truths = {k: dict(zip(v[0].ids.tolist(), v[1].tolist(), strict=True)) for k, v in built.items()}
    run = run_fame({"en": (emb(voices, "voice"), emb(faces, "face"))},
                   {k: v[0] for k, v in built.items()}, truths, n_boot=100)  # fmt: skip
    assert run.result is not None
    rows = {r["test"]: r for r in run.result.conditions}
    assert rows["en"]["heard"] and not rows["zh"]["heard"]
    assert rows["en"]["eer"].value == 0.0 and rows["zh"]["eer"].value > 0.2
    assert run.result.gaps["en"].value == pytest.approx(rows["zh"]["eer"].value)


def test_official_test_lists_become_a_manifest(tmp_path: Path, builders: Any) -> None:
    """Anonymised lists (voices/English/00000.wav): each file its own unknown identity;
    the embedding ids a model gives for it are what the FAME scorer looks up."""
    from vfbench.data.recipes.mav_celeb import prepare_test_lists
    from vfbench.evaluate.embeddings import Embeddings
    from vfbench.evaluate.fame import FameList, l2_scores

    root = tmp_path / "test"
    pairs = []
    for lang in ("English", "Urdu"):
        for k in range(3):
            builders.write_wav(root / "voices" / lang / f"{k:05d}.wav", 0.2)
            builders.write_jpg(root / "faces" / lang / f"{k:05d}.jpg")
            pairs.append((f"voices/{lang}/{k:05d}.wav", f"faces/{lang}/{(k + 1) % 3:05d}.jpg"))
    pairs.append(pairs[0])  # a file listed twice is one item
    m = prepare_test_lists(root, pairs, progress=False)
    assert len(m.voices) == 6 and len(m.faces) == 6 and {i.split for i in m.identities} == {"test"}
    v = next(x for x in m.voices if x.id == "Urdu/00002")
    assert (
        v.language == "Urdu"
        and v.identity == "voice:Urdu/00002"
        and v.duration == pytest.approx(0.2)
    )
    assert face_language(m, next(x for x in m.faces if x.id == "English/00001")) == "English"
    ve = Embeddings([x.id for x in m.voices], [x.identity for x in m.voices], np.eye(6), "voice")
    fe = Embeddings([x.id for x in m.faces], [x.identity for x in m.faces], np.eye(6), "face")
    lst = FameList(np.array(["a", "b"]), np.array([pairs[0][0], pairs[1][0]]),
                   np.array([pairs[0][1], pairs[1][1]]))  # fmt: skip
    s, _ = l2_scores(ve, fe, lst)
    assert s.shape == (2,) and np.isfinite(s).all()
    with pytest.raises(DataError, match=r"voices/English/00009\.wav: listed voice file not found"):
        prepare_test_lists(root, [("voices/English/00009.wav", "faces/English/00000.jpg")])
    with pytest.raises(DataError, match="must start with 'faces/'"):
        prepare_test_lists(root, [("voices/English/00000.wav", "English/00000.jpg")])
