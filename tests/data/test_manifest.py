from pathlib import Path

import pytest

from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem, load_manifest
from vfbench.errors import ManifestError, PathEscapeError


def _manifest(root: Path) -> Manifest:
    return Manifest(
        identities=[
            Identity("id1", "m", "Ireland", "en", "train", "id10001", "A.J._Buckley"),
            Identity("id2", "f", "New Zealand", "", "test"),
        ],
        voices=[VoiceItem("v1", "id1", "id1/s1/00001.wav", 3.5, 16000, "s1", "en")],
        faces=[FaceItem("f1", "id2", "id2/0001.jpg", 112, 112, "vid")],
        voice_root=root / "wav",
        face_root=root / "faces",
        name="toy",
        meta={"recipe": "toy"},
    )


def test_roundtrip_every_record_type(tmp_path: Path) -> None:
    m = _manifest(tmp_path)
    m.save(tmp_path / "m")
    back = load_manifest(tmp_path / "m")
    assert back.identities == m.identities
    assert back.voices == m.voices
    assert back.faces == m.faces
    assert back.voice_root == (tmp_path / "wav").resolve()
    assert back.meta == {"recipe": "toy"} and back.name == "toy"
    assert back.voice_path(back.voices[0]) == (tmp_path / "wav/id1/s1/00001.wav").resolve()


def test_roots_inside_manifest_are_relative(tmp_path: Path) -> None:
    m = _manifest(tmp_path / "m")
    m.save(tmp_path / "m")
    text = (tmp_path / "m" / "manifest.json").read_text()
    assert '"voice_root": "wav"' in text
    moved = tmp_path / "moved"
    (tmp_path / "m").rename(moved)
    assert load_manifest(moved).voice_root == (moved / "wav").resolve()


def test_bad_records_name_file_and_line(tmp_path: Path) -> None:
    m = _manifest(tmp_path)
    d = m.save(tmp_path / "m")
    ids = d / "identities.csv"
    ids.write_text(ids.read_text() + "id3,x,,,,,\n")
    with pytest.raises(ManifestError, match=r"identities\.csv:4: gender 'x'"):
        load_manifest(d)
    m.save(d)
    voices = d / "voices.csv"
    voices.write_text(voices.read_text() + "v2,id1,a.wav,long,16000,,\n")
    with pytest.raises(
        ManifestError, match=r"voices\.csv:3: field 'duration': 'long' is not a number"
    ):
        load_manifest(d)
    voices.write_text("id,identity,path,bogus\n")
    with pytest.raises(ManifestError, match=r"voices\.csv:1: unknown column 'bogus'"):
        load_manifest(d)
    m.save(d)
    (d / "faces.csv").write_text("id,identity,path\nf1,,x.jpg\n")
    with pytest.raises(ManifestError, match=r"faces\.csv:2: field 'identity' is empty"):
        load_manifest(d)


def test_schema_version_and_missing(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest folder not found"):
        load_manifest(tmp_path / "nope")
    (tmp_path / "e").mkdir()
    with pytest.raises(ManifestError, match="no manifest.json"):
        load_manifest(tmp_path / "e")
    d = _manifest(tmp_path).save(tmp_path / "m")
    (d / "manifest.json").write_text('{"schema_version": 99}')
    with pytest.raises(ManifestError, match="schema_version 99 is not supported"):
        load_manifest(d)


def test_path_escape_refused(tmp_path: Path) -> None:
    m = _manifest(tmp_path)
    bad = VoiceItem("v9", "id1", "../../etc/passwd")
    with pytest.raises(PathEscapeError):
        m.voice_path(bad)


def test_subset_by_split(tmp_path: Path) -> None:
    m = _manifest(tmp_path)
    s = m.subset(split="test")
    assert [i.id for i in s.identities] == ["id2"]
    assert s.voices == [] and len(s.faces) == 1


def test_extra_columns_roundtrip_and_identity_column(tmp_path: Path) -> None:
    m = _manifest(tmp_path)
    m.identities[0] = Identity("id1", "m", extra={"source": "news", "channel": "studio"})
    m.identities[1] = Identity("id2", "f", split="test", extra={"source": "vlog, home"})
    d = m.save(tmp_path / "m")
    assert (d / "identities.csv").read_text().splitlines()[0].endswith(",source,channel")
    assert '"schema_version": 2' in (d / "manifest.json").read_text()
    back = load_manifest(d)
    # the comma in "vlog, home" survives the CSV; a missing value reads back as ""
    assert back.identities[0] == m.identities[0]
    assert back.identities[1].extra == {"source": "vlog, home", "channel": ""}
    assert back.extra_columns() == ["source", "channel"]
    assert back.identity_column("source") == {"id1": "news", "id2": "vlog, home"}
    assert back.identity_column("channel") == {"id1": "studio", "id2": ""}
    assert back.identity_column("gender") == {"id1": "m", "id2": "f"}
    assert back.identity_column("split") == {"id1": "", "id2": "test"}
    with pytest.raises(
        ManifestError, match=r"no identity column 'corpus'; available: id, .*source"
    ):
        back.identity_column("corpus")
    # a subset keeps the extra values
    assert back.subset(split="test").identity_column("source") == {"id2": "vlog, home"}


def test_schema_1_manifest_still_loads_and_refuses_extra_columns(tmp_path: Path) -> None:
    d = _manifest(tmp_path).save(tmp_path / "m")
    info = (d / "manifest.json").read_text().replace('"schema_version": 2', '"schema_version": 1')
    (d / "manifest.json").write_text(info)
    back = load_manifest(d)
    assert back.identities == _manifest(tmp_path).identities and back.extra_columns() == []
    csv_text = (d / "identities.csv").read_text().splitlines()
    (d / "identities.csv").write_text(
        "\n".join([csv_text[0] + ",source"] + [r + ",x" for r in csv_text[1:]]) + "\n"
    )
    with pytest.raises(ManifestError, match=r"identities.csv:1: unknown column 'source'"):
        load_manifest(d)


def test_extra_column_names_that_clash_are_refused(tmp_path: Path) -> None:
    m = _manifest(tmp_path)
    m.identities[0] = Identity("id1", extra={"split": "x"})
    with pytest.raises(ManifestError, match="'split' is a built-in column"):
        m.save(tmp_path / "m")


def test_manifest_path_that_is_a_file_or_utf16(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ManifestError, match="is a file, not a manifest folder"):
        load_manifest(tmp_path / "f")
    d = _manifest(tmp_path).save(tmp_path / "m")
    text = (d / "identities.csv").read_text()
    (d / "identities.csv").write_bytes(text.encode("utf-16"))  # with BOM: read as UTF-16
    assert load_manifest(d).identities == _manifest(tmp_path).identities
    (d / "identities.csv").write_bytes(text.encode("latin-1") + b"\xe9\n")
    with pytest.raises(ManifestError, match=r"identities.csv: not UTF-8 text \(invalid byte 0xe9"):
        load_manifest(d)
