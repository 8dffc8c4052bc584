"""Corpus recipes on tiny fake trees in each real layout, and the meta/split readers."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from vfbench.data.manifest import load_manifest
from vfbench.data.recipes._meta import (
    RESOURCES,
    name_key,
    read_dimnet_split,
    read_pins_split,
    read_vox1_meta,
    read_vox2_meta,
)
from vfbench.data.recipes.folder import normalise_gender, prepare_folder, read_folder_meta
from vfbench.data.recipes.splits import split_counts, split_identities
from vfbench.data.recipes.vox_vgg1 import prepare_vox_vgg1
from vfbench.data.recipes.vox_vgg2 import prepare_vox_vgg2
from vfbench.data.validate import validate_manifest
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
    rnd = prepare_folder(root, progress=False, probe=False, use_meta_split=False)
    assert rnd.meta["split"]["from_meta"] == 0
    assert Counter(i.split for i in rnd.identities) == {"train": 3, "val": 1, "test": 1}
    digest = hashlib.sha256((root / "meta.csv").read_bytes()).hexdigest()
    assert m.meta["provenance"]["inputs"] == {"meta.csv": digest}


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


def test_folder_meta_keeps_extra_columns(builders: Any, tmp_path: Path) -> None:
    root = builders.build_folder_tree(
        tmp_path / "c",
        ("alice", "bob", "carol"),
        sessions=1,
        clips=1,
        faces=1,
        meta="identity,gender,Source,corpus,split\n"
        "alice,f,news,vox,train\nbob,m,vlog,vox,Validation\ncarol,f,,other,TEST\n",
    )
    m = prepare_folder(root, progress=False)
    assert m.extra_columns() == ["source", "corpus"]
    assert m.identity_column("source") == {"alice": "news", "bob": "vlog", "carol": ""}
    assert m.identity_column("corpus") == {"alice": "vox", "bob": "vox", "carol": "other"}
    # aliases and case are normalised to the known split names
    assert m.identity_column("split") == {"alice": "train", "bob": "val", "carol": "test"}
    back = load_manifest(m.save(tmp_path / "m"))
    assert back.identity_column("source") == m.identity_column("source")


def test_folder_meta_unknown_split_needs_opt_in(builders: Any, tmp_path: Path) -> None:
    root = builders.build_folder_tree(
        tmp_path / "c",
        ("alice", "bob"),
        sessions=1,
        clips=1,
        faces=1,
        meta="identity,split\nalice,train\nbob,tset\n",
    )
    with pytest.raises(
        ManifestError,
        match=r"meta.csv:3: identity 'bob': split 'tset' is not one of "
        r"train/val/test .*--custom-splits",
    ):
        prepare_folder(root, progress=False)
    m = prepare_folder(root, progress=False, custom_splits=True)
    assert m.identity_column("split") == {"alice": "train", "bob": "tset"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "utf-32"])
def test_folder_meta_utf16_with_bom_is_read(tmp_path: Path, encoding: str) -> None:
    p = tmp_path / "meta.csv"
    text = "identity,gender,nationality\r\nJosé,m,España\r\n"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    p.write_bytes(data)
    rows = read_folder_meta(p)
    assert rows["José"].nationality == "España" and rows["José"].gender == "m"


def test_folder_meta_not_utf8_or_a_directory_is_one_line(tmp_path: Path) -> None:
    p = tmp_path / "meta.csv"
    p.write_bytes("identity,gender\nalice,f\n".encode("utf-16-le"))  # no BOM
    with pytest.raises(
        ManifestError, match=r"meta.csv: not UTF-8 text \(NUL bytes: looks like UTF-16 without"
    ):
        read_folder_meta(p)
    p.write_bytes(b"identity,gender\nRen\xe9,m\n")  # latin-1
    with pytest.raises(ManifestError, match=r"invalid byte 0xe9 at byte 19\); save it as UTF-8"):
        read_folder_meta(p)
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(ManifestError, match=r"dir.csv: is a directory, not a file"):
        read_folder_meta(tmp_path / "dir.csv")
    with pytest.raises(ManifestError, match=r"nope.csv: meta file not found"):
        read_folder_meta(tmp_path / "nope.csv")


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


# ---------------------------------------------------------------------------- meta readers

RESOURCE_FILES = (
    "vox1_meta.csv",
    "vox2_meta.csv",
    "splits/dimnet/vox1_train.csv",
    "splits/dimnet/vox1_val.csv",
    "splits/dimnet/vox1_test.csv",
    "splits/pins/identity_splits.txt",
)


@pytest.mark.parametrize("rel", RESOURCE_FILES)
def test_packaged_copies_are_byte_identical(shared_dir: Path, rel: str) -> None:
    assert (RESOURCES / rel).read_bytes() == (shared_dir / "data" / rel).read_bytes()


@pytest.fixture(params=["packaged", "shared"])
def meta_dir(request: pytest.FixtureRequest) -> Path:
    if request.param == "packaged":
        return RESOURCES
    return request.getfixturevalue("shared_dir") / "data"


def test_vox1_meta_counts(meta_dir: Path) -> None:
    rows = read_vox1_meta(meta_dir / "vox1_meta.csv")
    assert len(rows) == 1251 and rows[0].id == "id10001" and rows[-1].id == "id11251"
    assert rows[0].face_id == "A.J._Buckley" and rows[0].nationality == "Ireland"
    assert Counter(r.gender for r in rows) == {"m": 690, "f": 561}
    assert Counter(r.set for r in rows) == {"dev": 1211, "test": 40}
    assert any(r.nationality == "New Zealand" for r in rows)  # spaces inside a TAB field


def test_vox2_meta_bom_crlf_padding(meta_dir: Path) -> None:
    rows = read_vox2_meta(meta_dir / "vox2_meta.csv")
    assert len(rows) == 6114
    assert (rows[0].id, rows[0].face_id, rows[0].gender, rows[0].set) == (
        "id00012",
        "n000012",
        "m",
        "dev",
    )
    assert rows[-1].id == "id09272" and rows[-1].set == "dev"  # unterminated last line
    assert Counter(r.set for r in rows) == {"dev": 5994, "test": 120}
    assert {r.id: r.face_id for r in rows}["id00134"] == "n000140"  # digits differ


def test_dimnet_split_counts_exclude_none(meta_dir: Path) -> None:
    ds = read_dimnet_split(meta_dir / "splits" / "dimnet")
    assert Counter(ds.split.values()) == {"train": 924, "val": 112, "test": 189}
    assert Counter(ds.excluded.values()) == {"train": 18, "val": 4, "test": 4}
    assert ds.excluded["id10001"] == "val" and "id10001" not in ds.split
    assert set(ds.split).isdisjoint(ds.excluded) and len(ds.split) + len(ds.excluded) == 1251


def test_pins_split_counts(meta_dir: Path) -> None:
    pins = read_pins_split(meta_dir / "splits" / "pins" / "identity_splits.txt")
    assert Counter(pins.values()) == {"train": 901, "val": 100, "test": 250}
    assert pins["A.J._Buckley"] == "train" and pins["A.R._Rahman"] == "test"


def test_meta_reader_errors_name_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "vox1_meta.csv"
    p.write_text("VoxCeleb1 ID,VGGFace1 ID,Gender,Nationality,Set\nid1,A,m,X,dev\n")
    with pytest.raises(ManifestError, match=r"vox1_meta.csv:1: no column 'VoxCeleb1 ID'.*TAB"):
        read_vox1_meta(p)
    p.write_text("VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\nid10001\tA\tq\tX\tdev\n")
    with pytest.raises(ManifestError, match=r"vox1_meta.csv:2: identity 'id10001': gender 'q'"):
        read_vox1_meta(p)
    s = tmp_path / "identity_splits.txt"
    s.write_text("A 1 \nB 3 \n")
    with pytest.raises(ManifestError, match=r"identity_splits.txt:2: 'B': set code '3'"):
        read_pins_split(s)
    d = tmp_path / "dimnet"
    d.mkdir()
    for name in ("train", "val", "test"):
        (d / f"vox1_{name}.csv").write_text("VoxCeleb1_ID,VGGFace1_ID,Gender,Nationality,Set\r\n")
    (d / "vox1_test.csv").write_text(
        "VoxCeleb1_ID,VGGFace1_ID,Gender,Nationality,Set\r\nid10001,A,m,X,dev\r\n"
    )
    (d / "vox1_val.csv").write_text(
        "VoxCeleb1_ID,VGGFace1_ID,Gender,Nationality,Set\r\nid10001,A,m,X,dev\r\n"
    )
    with pytest.raises(ManifestError, match=r"vox1_test.csv:2: identity 'id10001' is also in"):
        read_dimnet_split(d)


def test_name_key_tolerates_spelling() -> None:
    assert name_key("A.J._Buckley") == name_key("A.J. Buckley") == name_key("aj buckley")
    assert name_key("Penélope_Cruz") == name_key("Penelope_Cruz")
    assert name_key("Aamir_Khan") != name_key("Aaron_Tveit")


# ---------------------------------------------------------------------------- vox-vgg1


def _dimnet_reference(shared: Path) -> dict[str, str]:
    """The DIMNet assignment read independently of vfbench (plain csv module)."""
    import csv

    out = {}
    for s in ("train", "val", "test"):
        with open(shared / "data/splits/dimnet" / f"vox1_{s}.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["Set"] != "none":
                    out[row["VoxCeleb1_ID"]] = s
    return out


@pytest.mark.parametrize("nest", [True, False])
def test_vox1_dimnet_split_matches_reference(
    tmp_path: Path, builders: Any, shared_dir: Path, nest: bool
) -> None:
    audio, faces = builders.build_vox1_tree(tmp_path, nest_wav=nest)
    for root in (audio, audio / "wav") if nest else (audio,):
        m = prepare_vox_vgg1(root, faces, progress=False)
        ref = _dimnet_reference(shared_dir)
        got = {i.id: i.split for i in m.identities}
        assert got == {i: ref[i] for i in builders.VOX1_PICK if i in ref}
        assert set(got.values()) == {"train", "val", "test"}
        assert m.voice_root == (audio / "wav" if nest else audio).resolve()
        # id10001 (A.J._Buckley) is Set=none: left out and reported
        assert [(p["reason"], p["name"]) for p in m.meta["unjoined"]] == [("split_none", "id10001")]
        a = m.identity_map()["id10003"]
        assert (a.gender, a.nationality, a.voice_source_id, a.face_source_id) == (
            "m",
            "India",
            "id10003",
            "Aamir_Khan",
        )
        v = next(x for x in m.voices if x.identity == "id10003")
        assert v.id == "id10003/v10003aaaaa/00001" and v.session == "v10003aaaaa"
        assert v.sample_rate == 16000 and v.duration == pytest.approx(0.1)
        f = next(x for x in m.faces if x.identity == "id10003")
        assert f.id == "Aamir_Khan/00000001" and (f.width, f.height) == (40, 48)
        assert len(m.voices) == 6 * 4 and len(m.faces) == 6 * 2


def test_vox1_pins_and_random_splits(tmp_path: Path, builders: Any) -> None:
    audio, faces = builders.build_vox1_tree(tmp_path)
    pins = prepare_vox_vgg1(audio, faces, split="pins", probe=False, progress=False)
    ref = read_pins_split()
    assert {i.id: i.split for i in pins.identities} == {
        i: ref[n] for i, (n, _) in builders.VOX1_PICK.items()
    }
    r1 = prepare_vox_vgg1(audio, faces, split="random", seed=1, probe=False, progress=False)
    r2 = prepare_vox_vgg1(audio, faces, split="random", seed=1, probe=False, progress=False)
    assert r1.identities == r2.identities and len(r1.identities) == 7
    assert Counter(i.split for i in r1.identities) == {"train": 5, "val": 1, "test": 1}
    with pytest.raises(ConfigError, match="'bogus'"):
        prepare_vox_vgg1(audio, faces, split="bogus")


def test_vox1_reports_unjoined_and_spelling(tmp_path: Path, builders: Any) -> None:
    ids = ["id10003", "id10004", "id10117", "id10310"]
    names = {"id10003": "Aamir Khan", "id10004": "Aaron_Tveit", "id10310": "Fanny_Ardant"}
    audio, faces = builders.build_vox1_tree(tmp_path, ids, names)
    builders.write_jpg(faces / "Nobody_Known" / "00000001.jpg")  # not in the meta
    builders.write_jpg(faces / "Farrah_Abraham" / "00000001.jpg")  # id10311: no audio
    builders.write_wav(audio / "wav" / "id99999" / "x" / "00001.wav")  # not a vox1 id
    m = prepare_vox_vgg1(audio, faces, probe=False, progress=False)
    assert [i.id for i in m.identities] == ["id10003", "id10004", "id10310"]
    assert m.identity_map()["id10003"].face_source_id == "Aamir Khan"
    reasons = {(p["reason"], p["name"]) for p in m.meta["unjoined"]}
    assert reasons == {
        ("joined_by_spelling", "Aamir Khan"),
        ("not_in_meta", "Nobody_Known"),
        ("not_in_meta", "id99999"),
        ("voice_only", "id10117"),
        ("face_only", "id10311"),
    }
    msg = {p["name"]: p["message"] for p in m.meta["unjoined"]}
    assert "CCH_Pounder" in msg["id10117"] and "'Aamir_Khan'" in msg["Aamir Khan"]


# ---------------------------------------------------------------------------- vox-vgg2


def test_vox2_joins_through_table_and_probes_m4a(tmp_path: Path, builders: Any) -> None:
    a, g = tmp_path / "vox2", tmp_path / "vggface2"
    builders.write_m4a(a / "dev/aac/id00012/vidAAAAAAAA/00001.m4a", 0.5)
    builders.write_m4a(a / "dev/aac/id00134/vidBBBBBBBB/00001.m4a", 0.3)
    builders.write_m4a(a / "test/aac/id00017/vidCCCCCCCC/00002.m4a", 0.4)
    builders.write_jpg(g / "train/n000012/0001_01.jpg")
    builders.write_jpg(g / "test/n000140/0003_01.jpg", (30, 36))  # = id00134 per the table
    builders.write_jpg(g / "train/n000134/0001_01.jpg")  # digits of id00134, another person
    builders.write_jpg(g / "train/n000017/0001_01.jpg")
    m = prepare_vox_vgg2(a, g, progress=False)
    ident = m.identity_map()
    assert sorted(ident) == ["id00012", "id00017", "id00134"]
    assert ident["id00134"].face_source_id == "n000140"
    assert {f.identity: f.id for f in m.faces}["id00134"] == "test/n000140/0003_01"
    assert [i.split for i in m.identities] == ["train", "test", "train"]
    v = {x.identity: x for x in m.voices}
    assert v["id00012"].path == "dev/aac/id00012/vidAAAAAAAA/00001.m4a"
    assert v["id00012"].sample_rate == 16000
    assert v["id00012"].duration == pytest.approx(0.5, abs=0.07)  # AAC frames of 1024 samples
    assert v["id00134"].duration == pytest.approx(0.3, abs=0.07)
    unj = {(p["reason"], p["name"]) for p in m.meta["unjoined"]}
    # n000134 has the digits of id00134 but is no VoxCeleb2 identity's face id
    assert unj == {("not_in_meta", "train/n000134")}
    assert m.voice_root == a.resolve() and m.face_root == g.resolve()


def test_vox2_single_container_and_val_carve_out(tmp_path: Path, builders: Any) -> None:
    rows = [r for r in read_vox2_meta() if r.set == "dev"][:10]
    for r in rows:
        builders.write_wav(tmp_path / "v/wav" / r.id / "vid" / "00001.wav", 0.1)
        builders.write_jpg(tmp_path / "f" / r.face_id / "0001_01.jpg")
    m = prepare_vox_vgg2(
        tmp_path / "v", tmp_path / "f", val_fraction=0.2, probe=False, progress=False
    )
    assert m.voice_root == (tmp_path / "v/wav").resolve()
    assert m.voices[0].id == f"{rows[0].id}/vid/00001"
    assert Counter(i.split for i in m.identities) == {"train": 8, "val": 2}
    m2 = prepare_vox_vgg2(
        tmp_path / "v", tmp_path / "f", val_fraction=0.2, probe=False, progress=False
    )
    assert m2.identities == m.identities
    with pytest.raises(ConfigError, match="val_fraction"):
        prepare_vox_vgg2(tmp_path / "v", tmp_path / "f", val_fraction=1.5)


def test_recipe_manifests_validate_clean(tmp_path: Path, builders: Any) -> None:
    audio, faces = builders.build_vox1_tree(tmp_path)
    m = prepare_vox_vgg1(audio, faces, progress=False)
    assert validate_manifest(m).issues == []
    folder = prepare_folder(builders.build_folder_tree(tmp_path / "c"), progress=False)
    assert validate_manifest(folder).issues == []


def test_identity_with_only_unreadable_faces_is_left_out(tmp_path: Path, builders: Any) -> None:
    root = builders.build_folder_tree(tmp_path / "c", ("alice", "bob"), faces=1)
    (root / "faces/bob/000.jpg").write_bytes(b"garbage")
    m = prepare_folder(root, progress=False)
    assert [i.id for i in m.identities] == ["alice"]
    assert {v.identity for v in m.voices} == {"alice"}
    unj = [p for p in m.meta["unjoined"] if p["reason"] == "no_readable_media"]
    assert [(p["name"], p["modality"]) for p in unj] == [("bob", "face")]
    assert ("unreadable", "bob/000.jpg") in {(p["reason"], p["name"]) for p in m.meta["skipped"]}


def test_vox_meta_and_pins_read_utf16_and_name_directories(tmp_path: Path) -> None:
    p = tmp_path / "vox1_meta.csv"
    text = "VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet\nid10001\tA.J._Buckley\tm\tIreland\tdev\n"
    p.write_bytes(text.encode("utf-16"))  # "Unicode text" as Excel saves it, with a BOM
    (row,) = read_vox1_meta(p)
    assert (row.id, row.face_id, row.nationality) == ("id10001", "A.J._Buckley", "Ireland")
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(ManifestError, match=r"dir.txt: is a directory, not a file"):
        read_pins_split(tmp_path / "dir.txt")
    with pytest.raises(ManifestError, match=r"nope.csv: metadata file not found"):
        read_vox1_meta(tmp_path / "nope.csv")
