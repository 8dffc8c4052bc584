"""Export: folder layout, review decisions honoured, manifest loads, datasheet figures."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import soundfile as sf
from PIL import Image

from vfbench.collect.export import export_collection
from vfbench.collect.review.decisions import DecisionStore
from vfbench.data.manifest import load_manifest
from vfbench.errors import VfbenchError


@pytest.fixture
def coll_copy(collection: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "coll"
    shutil.copytree(collection, dst)
    return dst


def _kept(coll: dict, iid: str, kind: str) -> list[dict]:
    ident = next(i for i in coll["identities"] if i["id"] == iid)
    return [x for x in ident[kind] if x["status"] == "kept"]


def test_export_layout_and_manifest(coll_copy: Path, coll_json: dict, tmp_path: Path) -> None:
    res = export_collection(coll_copy, tmp_path / "corpus")
    c = res.corpus
    for iid in ("spk_m", "spk_f"):
        faces = sorted((c / "faces" / iid).rglob("*.jpg"))
        assert len(faces) == len(_kept(coll_json, iid, "faces"))
        assert all(Image.open(f).size == (112, 112) for f in faces)
        assert len(sorted((c / "faces_orig" / iid).rglob("*.jpg"))) == len(faces)
        wavs = sorted((c / "voices" / iid).rglob("*.wav"))
        assert len(wavs) == len(_kept(coll_json, iid, "voices"))
        for w in wavs:
            info = sf.info(str(w))
            assert info.samplerate == 16000 and info.channels == 1
            assert w.parent.parent.name == iid  # voices/<identity>/<video>/<n>.wav
    rows = list(csv.DictReader(open(c / "meta.csv")))
    assert {r["identity"] for r in rows} == {"spk_m", "spk_f"}
    assert {r["language"] for r in rows} == {"en"} and {r["gender"] for r in rows} == {"m", "f"}
    m = load_manifest(c / "manifest")
    assert {i.id for i in m.identities} == {"spk_m", "spk_f"}
    assert len(m.faces) == sum(len(_kept(coll_json, i, "faces")) for i in ("spk_m", "spk_f"))
    assert all(v.sample_rate == 16000 and v.language == "en" for v in m.voices)
    assert all(m.voice_path(v).is_file() for v in m.voices)
    assert all(m.face_path(f).is_file() and f.width == 112 for f in m.faces)
    # split by identity: every item of an identity shares its identity's split
    assert {i.split for i in m.identities} <= {"train", "val", "test"}


def test_datasheet_figures(coll_copy: Path, coll_json: dict, tmp_path: Path) -> None:
    res = export_collection(coll_copy, tmp_path / "corpus")
    s = json.loads((res.corpus / "datasheet.json").read_text())
    kept_v = _kept(coll_json, "spk_m", "voices") + _kept(coll_json, "spk_f", "voices")
    assert s["voices"] == len(kept_v)
    assert s["speech_seconds"] == pytest.approx(sum(v["duration"] for v in kept_v), abs=0.05)
    assert s["languages"]["en"]["identities"] == 2
    assert s["qc_thresholds"]["qc_voice"] == coll_json["config"]["qc_voice"]
    assert s["source_videos"] == {"total": 7, "failed": 1, "seconds": s["source_videos"]["seconds"]}
    md = (res.corpus / "DATASHEET.md").read_text()
    assert "min_snr_db=10.0" in md and "| en | 2 |" in md


def test_review_decisions_are_honoured(coll_copy: Path, coll_json: dict, tmp_path: Path) -> None:
    faces = _kept(coll_json, "spk_m", "faces")
    store = DecisionStore(coll_copy)
    store.set("item", faces[0]["id"], "reject")
    store.set("item", faces[1]["id"], "reject")
    store.set("item", faces[2]["id"], "accept")
    res = export_collection(coll_copy, tmp_path / "c1")
    assert len(list((res.corpus / "faces" / "spk_m").rglob("*.jpg"))) == len(faces) - 2
    assert res.datasheet["review_dropped"]["faces"] == 2
    store.set("identity", "spk_f", "reject")
    res = export_collection(coll_copy, tmp_path / "c1", overwrite=True)
    assert [i.id for i in res.manifest.identities] == ["spk_m"]
    assert res.datasheet["left_out"] == {"spk_f": "rejected in review"}
    assert not (res.corpus / "faces" / "spk_f").exists()


def test_identity_without_voices_is_left_out(
    coll_copy: Path, coll_json: dict, tmp_path: Path
) -> None:
    store = DecisionStore(coll_copy)
    for v in _kept(coll_json, "spk_f", "voices"):
        store.set("item", v["id"], "reject")
    res = export_collection(coll_copy, tmp_path / "c")
    assert "spk_f" in res.datasheet["left_out"] and "0 voices" in res.datasheet["left_out"]["spk_f"]


def test_refusals(coll_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "x").write_text("keep me")
    with pytest.raises(VfbenchError, match="busy: exists and is not empty; pass --overwrite"):
        export_collection(coll_copy, out)
    assert (out / "x").read_text() == "keep me"
    with pytest.raises(VfbenchError, match="must not be inside the collection"):
        export_collection(coll_copy, coll_copy / "corpus")
    store = DecisionStore(coll_copy)
    store.set("identity", "spk_m", "reject")
    store.set("identity", "spk_f", "reject")
    with pytest.raises(VfbenchError, match="no identity has both a face and a voice"):
        export_collection(coll_copy, tmp_path / "empty")
    assert not (tmp_path / "empty").exists() and not (tmp_path / "empty.partial").exists()
