"""Corpus recipes on tiny fake trees in each real layout, and the meta/split readers."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from vfbench.data.manifest import load_manifest
from vfbench.data.recipes.folder import normalise_gender, prepare_folder, read_folder_meta
from vfbench.data.recipes.splits import split_counts, split_identities
from vfbench.errors import ConfigError, DataError, ManifestError

# ---------------------------------------------------------------------------- splits


def test_split_counts_exact_and_nonempty() -> None:
    assert split_counts(10, (0.8, 0.1, 0.1)) == [8, 1, 1]
    assert split_counts(5, (0.8, 0.1, 0.1)) == [3, 1, 1]  # 4,1,0 -> test forced non-empty
    assert split_counts(2, (0.8, 0.1, 0.1)) == [2, 0, 0]  # too few to fill every split
    assert split_counts(7, (1, 0, 0)) == [7, 0, 0]
    assert sum(split_counts(1251, (0.7, 0.15, 0.15))) == 1251
    with pytest.raises(ConfigError, match="ratios"):
        split_counts(3, (-1, 1, 1))


def test_split_identities_deterministic_order_free_and_stratified() -> None:
    ids = [f"p{i:03d}" for i in range(100)]
    genders = {i: ("m" if k % 2 else "f") for k, i in enumerate(ids)}
    a = split_identities(ids, (0.8, 0.1, 0.1), seed=3, genders=genders)
    b = split_identities(list(reversed(ids)), (0.8, 0.1, 0.1), seed=3, genders=genders)
    assert a == b
    assert Counter(a.values()) == {"train": 80, "val": 10, "test": 10}
    for split in ("train", "val", "test"):
        g = Counter(genders[i] for i, s in a.items() if s == split)
        assert g["m"] == g["f"]  # 50/50 corpus -> exactly balanced splits
    c = split_identities(ids, (0.8, 0.1, 0.1), seed=4, genders=genders)
    assert c != a


# ---------------------------------------------------------------------------- folder


def test_prepare_folder_items_ids_sessions_and_sizes(folder_tree: Path) -> None:
    m = prepare_folder(folder_tree, progress=False)
    assert [i.id for i in m.identities] == ["alice", "bob", "carol", "dave", "erin"]
    assert len(m.voices) == 5 * 2 * 2 and len(m.faces) == 5 * 2
    v = {x.id: x for x in m.voices}["bob/s1/001"]
    assert (v.identity, v.path, v.session, v.sample_rate) == ("bob", "bob/s1/001.wav", "s1", 16000)
    assert v.duration == pytest.approx(0.2)
    f = {x.id: x for x in m.faces}["carol/001"]
    assert (f.width, f.height, f.path, f.source_video) == (41, 48, "carol/001.jpg", "")
    assert Counter(i.split for i in m.identities) == {"train": 3, "val": 1, "test": 1}
    assert m.voice_root == (folder_tree / "voices").resolve()
    assert m.meta["unjoined"] == [] and m.meta["skipped"] == []


def test_prepare_folder_split_is_seeded(folder_tree: Path) -> None:
    a = {i.id: i.split for i in prepare_folder(folder_tree, probe=False, progress=False).identities}
    b = {i.id: i.split for i in prepare_folder(folder_tree, probe=False, progress=False).identities}
    assert a == b
    seeds = [
        {
            i.id: i.split
            for i in prepare_folder(
                folder_tree, split_seed=s, probe=False, progress=False
            ).identities
        }
        for s in range(6)
    ]
    assert len({tuple(sorted(d.items())) for d in seeds}) > 1


def test_prepare_folder_no_probe_fills_zero(folder_tree: Path) -> None:
    m = prepare_folder(folder_tree, probe=False, progress=False)
    assert all(v.duration == 0.0 and v.sample_rate == 0 for v in m.voices)
    assert all(f.width == 0 and f.height == 0 for f in m.faces)


def test_prepare_folder_meta_gives_gender_language_and_split(builders: Any, tmp_path: Path) -> None:
    meta = (
        "\ufeffidentity , gender,nationality,language,split\r\n"
        "alice,F,UK,en,test\r\n"
        "bob,male,US,en,val\r\n"
        "carol,Female,FR,fr,train\r\n"
        "dave,M,DE,de,train\r\n"
        "erin,,,,\r\n"
    )
    root = builders.build_folder_tree(tmp_path / "c", meta=meta)
    m = prepare_folder(root, progress=False)
    ids = m.identity_map()
    assert [ids[k].gender for k in ("alice", "bob", "carol", "dave", "erin")] == [
        "f",
        "m",
        "f",
        "m",
        "",
    ]
    assert ids["alice"].split == "test" and ids["bob"].split == "val"
    assert ids["carol"].language == "fr" and ids["dave"].nationality == "DE"
    assert ids["erin"].split in {"train", "val", "test"}  # random for the one without a split
    assert m.meta["split"]["from_meta"] == 4
    assert {v.language for v in m.voices if v.identity == "carol"} == {"fr"}


def test_prepare_folder_reports_unpaired_unknown_and_unsupported(
    builders: Any, tmp_path: Path
) -> None:
    root = builders.build_folder_tree(
        tmp_path / "c", ("alice", "bob"), meta="identity,gender\nalice,f\nbob,m\nghost,m\n"
    )
    builders.write_wav(root / "voices" / "solo" / "a.wav")
    builders.write_jpg(root / "faces" / "mute" / "a.jpg")
    (root / "voices" / "alice" / "notes.txt").write_text("hi")
    (root / "faces" / "stray.jpg").write_bytes(b"x")
    (root / "faces" / "bob" / "broken.jpg").write_bytes(b"not a jpeg")
    m = prepare_folder(root, progress=False)
    assert sorted(i.id for i in m.identities) == ["alice", "bob"]
    unj = {(p["reason"], p["name"]) for p in m.meta["unjoined"]}
    assert {
        ("voice_only", "solo"),
        ("face_only", "mute"),
        ("meta_only", "ghost"),
        ("not_in_meta", "solo"),
    } - unj == {("not_in_meta", "solo")}  # left-out identities are not also "not in meta"
    skipped = {(p["reason"], p["name"]) for p in m.meta["skipped"]}
    assert ("unsupported_format", "alice/notes.txt") in skipped
    assert ("no_identity_folder", "stray.jpg") in skipped
    assert ("unreadable", "bob/broken.jpg") in skipped
    assert "bob/broken" not in {f.id for f in m.faces}
    # keep_unpaired keeps one-sided identities
    m2 = prepare_folder(root, progress=False, keep_unpaired=True)
    assert {"solo", "mute"} <= {i.id for i in m2.identities}


def test_prepare_folder_duplicate_stems_reported(builders: Any, tmp_path: Path) -> None:
    root = builders.build_folder_tree(tmp_path / "c", ("alice",), sessions=1, clips=1)
    shutil.copy(root / "voices/alice/s0/000.wav", root / "voices/alice/s0/000.flac")
    m = prepare_folder(root, progress=False)
    assert [v.id for v in m.voices] == ["alice/s0/000"]
    dup = [p for p in m.meta["skipped"] if p["reason"] == "duplicate_item_id"]
    assert dup and dup[0]["name"] == "alice/s0/000.wav"  # .flac sorts first and wins


def test_prepare_folder_nested_first_subfolder_is_group(builders: Any, tmp_path: Path) -> None:
    root = tmp_path / "c"
    builders.write_wav(root / "voices/al/sessA/part1/x.wav")
    builders.write_jpg(root / "faces/al/vid9/frames/1.png")
    m = prepare_folder(root, progress=False)
    assert m.voices[0].session == "sessA" and m.voices[0].id == "al/sessA/part1/x"
    assert m.faces[0].source_video == "vid9" and m.faces[0].path == "al/vid9/frames/1.png"


def test_prepare_folder_roundtrip_save_load(folder_tree: Path, tmp_path: Path) -> None:
    m = prepare_folder(folder_tree, progress=False)
    out = m.save(tmp_path / "man")
    m2 = load_manifest(out)
    assert m2.identities == m.identities and m2.voices == m.voices and m2.faces == m.faces
    assert m2.voice_path(m2.voices[0]).is_file()
    assert m2.meta["recipe"] == "folder"


@pytest.mark.parametrize(
    ("text", "culprit"),
    [
        ("name,gender\nalice,f\n", "no 'identity' column"),
        ("identity,gender\nalice,x\n", ":2: identity 'alice': gender 'x'"),
        ("identity,gender\nalice,f\nbob,m\nalice,f\n", ":4: identity 'alice' listed twice"),
        ("identity,gender\n,f\n", ":2: empty identity"),
        ("", ":1: empty file"),
    ],
)
def test_read_folder_meta_errors_name_file_and_line(
    tmp_path: Path, text: str, culprit: str
) -> None:
    p = tmp_path / "meta.csv"
    p.write_text(text)
    with pytest.raises(ManifestError) as ei:
        read_folder_meta(p)
    assert str(p) in str(ei.value) and culprit in str(ei.value)


def test_prepare_folder_bad_layout(tmp_path: Path) -> None:
    (tmp_path / "c" / "faces").mkdir(parents=True)
    with pytest.raises(DataError, match="voices"):
        prepare_folder(tmp_path / "c")
    with pytest.raises(DataError, match="not found"):
        prepare_folder(tmp_path / "nope")


def test_normalise_gender() -> None:
    assert [normalise_gender(g) for g in ("M", " male ", "F", "FEMALE", "", "x")] == [
        "m",
        "m",
        "f",
        "f",
        "",
        None,
    ]
