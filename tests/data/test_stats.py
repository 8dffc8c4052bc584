"""manifest_stats on a hand-built manifest whose numbers are computed by hand below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem
from vfbench.data.recipes.folder import prepare_folder
from vfbench.data.stats import PerIdentity, manifest_stats


def _manifest() -> Manifest:
    ids = [
        Identity("a", "m", split="train"),
        Identity("b", "f", split="train"),
        Identity("c", "m", split="test"),
        Identity("d", "", split="test"),
        Identity("e", "f", split=""),
    ]
    v = [
        VoiceItem("a/1", "a", "a/1.wav", 1200.0, 16000, "s1"),
        VoiceItem("a/2", "a", "a/2.wav", 1200.0, 16000, "s1"),
        VoiceItem("a/3", "a", "a/3.wav", 1200.0, 16000, "s2"),
        VoiceItem("b/1", "b", "b/1.wav", 3600.0, 16000, "s1"),
        VoiceItem("d/1", "d", "d/1.wav", 900.0, 16000, ""),
        VoiceItem("d/2", "d", "d/2.wav", 900.0, 16000, ""),
        VoiceItem("x/1", "x", "x/1.wav", 5000.0, 16000, "s1"),  # unknown identity: ignored
    ]
    f = [
        FaceItem("a/1", "a", "a/1.jpg"),
        FaceItem("b/1", "b", "b/1.jpg"),
        FaceItem("b/2", "b", "b/2.jpg"),
        FaceItem("c/1", "c", "c/1.jpg"),
        FaceItem("c/2", "c", "c/2.jpg"),
        FaceItem("c/3", "c", "c/3.jpg"),
        FaceItem("e/1", "e", "e/1.jpg"),
    ]
    return Manifest(ids, v, f, name="hand")


def test_stats_hand_checked() -> None:
    st = manifest_stats(_manifest())
    assert [s.split for s in st.splits] == ["train", "test", "(none)", "all"]
    tr = st.get("train")
    # train = a (3 voices, 1 face), b (1 voice, 2 faces); 3*1200 + 3600 s = 2 h
    assert (tr.identities, tr.male, tr.female, tr.unknown_gender) == (2, 1, 1, 0)
    assert (tr.voices, tr.faces) == (4, 3)
    assert tr.voices_per_identity == PerIdentity(1, 2.0, 3)
    assert tr.faces_per_identity == PerIdentity(1, 1.5, 2)
    assert tr.audio_hours == pytest.approx(2.0)
    assert tr.sessions == 3  # (a,s1) (a,s2) (b,s1)
    te = st.get("test")
    # test = c (0 voices, 3 faces), d (2 voices of 900 s, 0 faces)
    assert (te.identities, te.male, te.female, te.unknown_gender) == (2, 1, 0, 1)
    assert te.voices_per_identity == PerIdentity(0, 1.0, 2)
    assert te.faces_per_identity == PerIdentity(0, 1.5, 3)
    assert te.audio_hours == pytest.approx(0.5)
    assert te.sessions == 0
    al = st.get("all")
    # voices per id [3, 1, 0, 2, 0] -> median 1; faces [1, 2, 3, 0, 1] -> median 1
    assert (al.identities, al.voices, al.faces) == (5, 6, 7)
    assert al.voices_per_identity == PerIdentity(0, 1.0, 3)
    assert al.faces_per_identity == PerIdentity(0, 1.0, 3)
    assert al.audio_hours == pytest.approx(2.5)
    assert str(al.voices_per_identity) == "0/1/3"


def test_stats_json_roundtrip() -> None:
    d = json.loads(manifest_stats(_manifest()).to_json())
    assert d["name"] == "hand"
    assert d["splits"][0]["faces_per_identity"] == {"min": 1, "median": 1.5, "max": 2}


def test_stats_on_folder_recipe(tmp_path: Path, builders: Any) -> None:
    # 5 identities x 2 sessions x 2 clips of 0.1 s and 0.2 s -> 20 voices, 3.0 s
    m = prepare_folder(builders.build_folder_tree(tmp_path / "c"), progress=False)
    al = manifest_stats(m).get("all")
    assert (al.identities, al.voices, al.faces, al.sessions) == (5, 20, 10, 10)
    assert al.audio_hours * 3600 == pytest.approx(5 * 2 * (0.1 + 0.2))
    assert sum(s.identities for s in manifest_stats(m).splits[:-1]) == 5
