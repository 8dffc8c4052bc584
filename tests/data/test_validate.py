"""validate_manifest: every issue code is fed its bad input and must name the culprit."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

import pytest

from vfbench.data.manifest import Manifest, VoiceItem, load_manifest
from vfbench.data.recipes.folder import prepare_folder
from vfbench.data.validate import CODES, Issue, validate_manifest


@pytest.fixture
def good(tmp_path: Path, builders: Any) -> Manifest:
    root = builders.build_folder_tree(
        tmp_path / "c",
        ("alice", "bob", "carol"),
        sessions=1,
        clips=2,
        faces=1,
        meta="identity,gender,split\nalice,f,train\nbob,m,val\ncarol,f,test\n",
    )
    return prepare_folder(root, progress=False)


def _with(m: Manifest, **changes: Any) -> Manifest:
    return dataclasses.replace(m, **changes)


def _only(rep_issues: list[Issue], code: str) -> list[Issue]:
    found = [i for i in rep_issues if i.code == code]
    assert found, f"expected a {code} issue, got {[str(i) for i in rep_issues]}"
    return found


def test_good_manifest_has_no_issue(good: Manifest) -> None:
    rep = validate_manifest(good)
    assert rep.issues == [] and rep.ok
    assert rep.counts == {"identities": 3, "voices": 6, "faces": 3}


def test_duplicate_identity(good: Manifest) -> None:
    ids = [*good.identities, good.identities[0]]
    issues = _only(validate_manifest(_with(good, identities=ids)).issues, "duplicate_identity")
    assert issues[0].record == "identities.csv:5 'alice'"
    assert "first on line 2" in issues[0].message and issues[0].severity == "error"


def test_bad_gender(good: Manifest) -> None:
    ids = [dataclasses.replace(good.identities[1], gender="male"), *good.identities[::2]]
    (i,) = _only(validate_manifest(_with(good, identities=ids)).issues, "bad_gender")
    assert i.record == "identities.csv:2 'bob'" and "'male'" in i.message


def test_inconsistent_gender_duplicate_and_shared_source(good: Manifest) -> None:
    a = good.identities[0]
    ids = [*good.identities, dataclasses.replace(a, gender="m")]
    (i,) = _only(validate_manifest(_with(good, identities=ids)).issues, "inconsistent_gender")
    assert "'alice'" in i.record and "'m' here and 'f' on line 2" in i.message
    # two identities with one face source (same person) and different genders
    b = good.identities[1]
    ids = [a, dataclasses.replace(b, face_source_id="alice", split="train"), good.identities[2]]
    (i,) = _only(validate_manifest(_with(good, identities=ids)).issues, "inconsistent_gender")
    assert "face_source_id 'alice'" in i.message and "'bob'" in i.message


def test_split_leak_duplicate_identity(good: Manifest) -> None:
    ids = [*good.identities, dataclasses.replace(good.identities[0], split="test")]
    (i,) = _only(validate_manifest(_with(good, identities=ids)).issues, "split_leak")
    assert i.record == "identities.csv:5 'alice'" and "'test' here and 'train'" in i.message


def test_split_leak_shared_source_id(good: Manifest) -> None:
    a, b, c = good.identities
    ids = [a, dataclasses.replace(b, voice_source_id="alice", gender="f"), c]
    (i,) = _only(validate_manifest(_with(good, identities=ids)).issues, "split_leak")
    assert i.record == "identities.csv:3 'bob'"
    assert (
        "voice_source_id 'alice'" in i.message and "'val'" in i.message and "'train'" in i.message
    )


def test_split_leak_same_file_in_two_splits(good: Manifest) -> None:
    v = good.voices[0]  # alice (train)
    stolen = dataclasses.replace(v, id="carol/stolen", identity="carol")  # carol is test
    m = _with(good, voices=[*good.voices, stolen])
    (i,) = _only(validate_manifest(m).issues, "split_leak")
    assert i.record == f"voices.csv:{len(good.voices) + 2} 'carol/stolen'"
    assert v.path in i.message and "'alice'" in i.message


def test_split_leak_found_through_a_symlink_and_a_hard_link(good: Manifest) -> None:
    # two different paths, one file: the lexical check of old missed this (issue 18.3)
    assert good.voice_root is not None
    alice = next(v for v in good.voices if v.identity == "alice")
    src = good.voice_root / alice.path
    (good.voice_root / "carol" / "link.wav").symlink_to(src)
    os.link(src, good.voice_root / "carol" / "hard.wav")
    stolen = [
        VoiceItem("carol/link", "carol", "carol/link.wav"),
        VoiceItem("carol/hard", "carol", "carol/./hard.wav"),
    ]
    m = _with(good, voices=[*good.voices, *stolen])
    issues = _only(validate_manifest(m, check_media=False).issues, "split_leak")
    assert [i.record.split()[1] for i in issues] == ["'carol/link'", "'carol/hard'"]
    assert all(f"the same file as {alice.path!r}" in i.message for i in issues)
    # the same identity reusing its own file through a link is no leak
    own = VoiceItem("alice/again", "alice", "carol/link.wav")
    m2 = _with(good, voices=[*good.voices, own])
    assert not [
        i for i in validate_manifest(m2, check_media=False).issues if i.code == "split_leak"
    ]


def test_unknown_split_is_a_warning_naming_the_identities(good: Manifest) -> None:
    ids = [
        good.identities[0],
        dataclasses.replace(good.identities[1], split="validation"),
        dataclasses.replace(good.identities[2], split="tset"),
    ]
    issues = _only(validate_manifest(_with(good, identities=ids)).issues, "unknown_split")
    assert [i.record for i in issues] == ["identities.csv:4 'carol'", "identities.csv:3 'bob'"]
    tset, validation = issues
    assert "'tset'" in tset.message and "1 identities ('carol')" in tset.message
    assert "spell it 'val'" in validation.message and tset.severity == "warning"


def test_incomplete_extra_column(good: Manifest) -> None:
    ids = [
        dataclasses.replace(good.identities[0], extra={"source": "news"}),
        dataclasses.replace(good.identities[1], extra={"source": ""}),
        good.identities[2],
    ]
    (i,) = _only(validate_manifest(_with(good, identities=ids)).issues, "incomplete_column")
    assert i.record == "identities.csv:3 'bob'"
    assert "'source' is empty for 2 of 3 identities ('bob', 'carol')" in i.message


def test_duplicate_item_id(good: Manifest) -> None:
    f = good.faces[1]
    m = _with(good, faces=[*good.faces, dataclasses.replace(f, path="bob/000.jpg")])
    (i,) = _only(validate_manifest(m).issues, "duplicate_item_id")
    assert i.record == f"faces.csv:5 {f.id!r}" and "line 3" in i.message


def test_unknown_identity(good: Manifest) -> None:
    v = dataclasses.replace(good.voices[0], id="ghost/x", identity="ghost")
    (i,) = _only(
        validate_manifest(_with(good, voices=[*good.voices, v])).issues, "unknown_identity"
    )
    assert "'ghost/x'" in i.record and "'ghost'" in i.message


@pytest.mark.parametrize("path", ["../../outside.wav", "/etc/passwd.wav", "alice/../../x.wav"])
def test_path_escape_and_no_media_access_outside(good: Manifest, tmp_path: Path, path: str) -> None:
    (tmp_path / "outside.wav").write_bytes(b"")  # would be media_empty if it were opened
    v = dataclasses.replace(good.voices[0], id="alice/esc", path=path)
    rep = validate_manifest(_with(good, voices=[*good.voices, v]))
    (i,) = _only(rep.issues, "path_escape")
    assert "'alice/esc'" in i.record and repr(path) in i.message
    assert {x.code for x in rep.issues} == {"path_escape"}


def test_unsupported_format(good: Manifest) -> None:
    f = dataclasses.replace(good.faces[0], id="alice/doc", path="alice/doc.pdf")
    rep = validate_manifest(_with(good, faces=[*good.faces, f]))
    (i,) = _only(rep.issues, "unsupported_format")
    assert "'alice/doc'" in i.record and "'.pdf'" in i.message


def test_no_root(good: Manifest) -> None:
    (i,) = _only(validate_manifest(_with(good, face_root=None)).issues, "no_root")
    assert i.record == "faces.csv" and "face_root" in i.message


def test_media_missing(good: Manifest) -> None:
    path = good.voice_path(good.voices[3])
    path.unlink()
    (i,) = _only(validate_manifest(good).issues, "media_missing")
    assert i.record == f"voices.csv:5 {good.voices[3].id!r}" and str(path) in i.message
    assert validate_manifest(good, check_media=False).issues == []


def test_media_empty(good: Manifest) -> None:
    path = good.face_path(good.faces[2])
    path.write_bytes(b"")
    (i,) = _only(validate_manifest(good).issues, "media_empty")
    assert good.faces[2].id in i.record and str(path) in i.message and "0 bytes" in i.message


def test_media_unreadable(good: Manifest) -> None:
    path = good.voice_path(good.voices[0])
    path.write_bytes(b"RIFF....this is not a wav file at all")
    (i,) = _only(validate_manifest(good).issues, "media_unreadable")
    assert good.voices[0].id in i.record and str(path) in i.message


def test_no_voice_and_no_face_are_warnings(good: Manifest) -> None:
    m = _with(
        good,
        voices=[v for v in good.voices if v.identity != "bob"],
        faces=[f for f in good.faces if f.identity != "carol"],
    )
    rep = validate_manifest(m)
    (nv,) = _only(rep.issues, "no_voice")
    (nf,) = _only(rep.issues, "no_face")
    assert nv.record == "identities.csv:3 'bob'" and nf.record == "identities.csv:4 'carol'"
    assert nv.severity == nf.severity == "warning" and rep.ok


def test_missing_split(good: Manifest) -> None:
    ids = [dataclasses.replace(good.identities[2], split=""), *good.identities[:2]]
    (i,) = _only(validate_manifest(_with(good, identities=ids)).issues, "missing_split")
    assert i.record == "identities.csv:2 'carol'" and i.severity == "warning"


def test_session_leak_only_for_global_session_ids(good: Manifest) -> None:
    # the folder recipe's session names ("s0") are per identity: no warning
    assert not [i for i in validate_manifest(good).issues if i.code == "session_leak"]
    m = _with(good, meta={**good.meta, "session_scope": "global"})
    issues = _only(validate_manifest(m).issues, "session_leak")
    assert len(issues) == 1 and "session 's0'" in issues[0].message
    assert "'train'" in issues[0].message and "'test'" in issues[0].message


def test_metadata_mismatch(good: Manifest) -> None:
    v = dataclasses.replace(good.voices[0], sample_rate=8000)
    f = dataclasses.replace(good.faces[0], width=999)
    rep = validate_manifest(_with(good, voices=[v, *good.voices[1:]], faces=[f, *good.faces[1:]]))
    a, b = _only(rep.issues, "metadata_mismatch")
    assert "16000" in a.message and "8000" in a.message and v.id in a.record
    assert "999x48" in b.message and f.id in b.record


def test_records_point_at_the_saved_csv_line(good: Manifest, tmp_path: Path) -> None:
    v = dataclasses.replace(good.voices[2], id="who/x", identity="who")
    bad = _with(good, voices=[*good.voices[:4], v, *good.voices[4:]])
    d = bad.save(tmp_path / "m")
    (i,) = [x for x in validate_manifest(load_manifest(d)).issues if x.code == "unknown_identity"]
    file, rest = i.record.split(":", 1)
    line = int(rest.split()[0])
    assert (d / file).read_text().splitlines()[line - 1].startswith("who/x,who,")


def test_report_json_and_summary(good: Manifest) -> None:
    m = _with(good, faces=good.faces[1:])
    rep = validate_manifest(m, check_media=False)
    d = rep.to_dict()
    assert d["ok"] is True and d["n_warnings"] == 1 and d["by_code"] == {"no_face": 1}
    assert "0 error(s), 1 warning(s) (no_face x1)" in rep.summary()


def test_every_code_has_a_test() -> None:
    # each code must be asserted through _only(..., "<code>") somewhere in this file
    text = Path(__file__).read_text()
    asserted = set(re.findall(r'"(\w+)"\s*\)', text))
    untested = [c for c in CODES if c not in asserted]
    assert untested == []
