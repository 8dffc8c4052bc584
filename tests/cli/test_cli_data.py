"""``vfbench data prepare|validate|stats`` end to end on fixture trees of each recipe."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from vfbench.cli import main
from vfbench.data.recipes._meta import RESOURCES


def _load_builders() -> ModuleType:
    # the fixture-tree builders live beside the data tests; load them by path
    path = Path(__file__).resolve().parents[1] / "data" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_vfbench_data_builders", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


B = _load_builders()


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # rich tables: no wrapping of long messages


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_prepare_vox_vgg1_gives_dimnet_split(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's "done when": the 924/112/189 assignment for the identities present.

    The reference is read with the plain csv module from ../shared/data when present,
    else from the packaged byte-identical copies (so a fresh clone still checks it).
    """
    default = Path(__file__).resolve().parents[2].parent / "shared"
    shared = Path(os.environ.get("VFBENCH_SHARED", default)) / "data" / "splits" / "dimnet"
    ref_dir = shared if shared.is_dir() else RESOURCES / "splits" / "dimnet"
    audio, faces = B.build_vox1_tree(tmp_path)
    out = tmp_path / "m"
    rc = main(["data", "prepare", "vox-vgg1", "--audio", str(audio), "--faces", str(faces)]
              + ["--out", str(out), "-q"])  # fmt: skip
    assert rc == 0
    ref = {}
    for s in ("train", "val", "test"):
        for row in _csv(ref_dir / f"vox1_{s}.csv"):
            ref[row["VoxCeleb1_ID"]] = (s, row["Set"])
    got = {r["id"]: r["split"] for r in _csv(out / "identities.csv")}
    expected = {i: ref[i][0] for i in B.VOX1_PICK if ref[i][1] != "none"}
    assert got == expected and len(got) == 6
    assert Counter(got.values()) == {"train": 2, "val": 2, "test": 2}
    info = json.loads((out / "manifest.json").read_text())
    assert [p["name"] for p in info["meta"]["unjoined"]] == ["id10001"]
    assert info["meta"]["provenance"]["command"].startswith("vfbench ")
    printed = capsys.readouterr().out
    assert "split_none" in printed and f"wrote {out}" in printed

    # validate: clean, then a deleted file is named with its record, exit code 1
    assert main(["data", "validate", str(out)]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out
    victim = _csv(out / "voices.csv")[3]
    (audio / "wav" / victim["path"]).unlink()
    assert main(["data", "validate", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "media_missing" in printed and f"voices.csv:5 '{victim['id']}'" in printed
    assert main(["data", "validate", str(out), "--no-media"]) == 0
    capsys.readouterr()
    assert main(["data", "validate", str(out), "--json"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["by_code"] == {"media_missing": 1} and victim["path"] in rep["issues"][0]["message"]

    # stats: 6 identities, 4 voices (2 videos x 2 clips) and 2 faces each
    assert main(["data", "stats", str(out), "--json"]) == 0
    st = {s["split"]: s for s in json.loads(capsys.readouterr().out)["splits"]}
    assert (st["all"]["identities"], st["all"]["voices"], st["all"]["faces"]) == (6, 24, 12)
    assert (st["val"]["male"], st["val"]["female"]) == (2, 0)  # Aamir_Khan, Aaron_Tveit
    # 2 clips x (0.1 s + 0.2 s) per identity
    assert st["all"]["audio_hours"] * 3600 == pytest.approx(6 * 2 * 0.3)
    assert main(["data", "stats", str(out)]) == 0
    table = capsys.readouterr().out
    assert "per-split statistics" in table and "4/4/4" in table


def test_prepare_folder_and_vox2_then_validate_and_stats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = B.build_folder_tree(tmp_path / "c", meta="identity,gender\nalice,f\nbob,m\n")
    assert (
        main(
            ["data", "prepare", "folder", "--root", str(root), "--out", str(tmp_path / "mf"), "-q"]
        )
        == 0
    )
    assert main(["data", "validate", str(tmp_path / "mf")]) == 0
    assert main(["data", "stats", str(tmp_path / "mf"), "--json"]) == 0
    capsys.readouterr()

    a, g = tmp_path / "v2", tmp_path / "g2"
    B.write_m4a(a / "aac/id00012/vidAAAAAAAA/00001.m4a", 0.4)
    B.write_jpg(g / "n000012/0001_01.jpg")
    B.write_m4a(a / "aac/id00134/vidBBBBBBBB/00001.m4a", 0.4)
    B.write_jpg(g / "n000140/0001_01.jpg")
    out = tmp_path / "m2"
    args = ["data", "prepare", "vox-vgg2", "--audio", str(a), "--faces", str(g), "--out", str(out)]
    assert main([*args, "-q"]) == 0
    assert main(["data", "validate", str(out)]) == 0
    capsys.readouterr()
    assert main(["data", "stats", str(out), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)["splits"]
    assert [(s["split"], s["identities"], s["voices"]) for s in st] == [
        ("train", 2, 2),
        ("all", 2, 2),
    ]
    faces = {r["identity"]: r["path"] for r in _csv(out / "faces.csv")}
    assert faces == {"id00012": "n000012/0001_01.jpg", "id00134": "n000140/0001_01.jpg"}


@pytest.mark.parametrize(
    ("args", "culprit"),
    [
        (["data", "prepare", "folder", "--out", "OUT"], "needs --root"),
        (
            ["data", "prepare", "vox-vgg1", "--out", "OUT", "--faces", "x"],
            "needs --audio and --faces",
        ),
        (
            ["data", "prepare", "folder", "--root", "NOPE", "--out", "OUT"],
            "NOPE: corpus folder not found",
        ),
        (["data", "validate", "NOPE"], "NOPE: manifest folder not found"),
        (["data", "stats", "NOPE"], "NOPE: manifest folder not found"),
    ],
)
def test_cli_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], culprit: str
) -> None:
    args = [
        a.replace("OUT", str(tmp_path / "o")).replace("NOPE", str(tmp_path / "nope")) for a in args
    ]
    culprit = culprit.replace("NOPE", str(tmp_path / "nope"))
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and culprit in err and "\n" not in err
    assert not (tmp_path / "o").exists()  # nothing written on error


def test_prepare_vox1_bad_split_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audio, faces = B.build_vox1_tree(tmp_path, ["id10003"])
    args = ["data", "prepare", "vox-vgg1", "--audio", str(audio), "--faces", str(faces)]
    assert main([*args, "--split", "alphabet", "--out", str(tmp_path / "o")]) == 2
    assert "split 'alphabet' is not one of ['dimnet', 'pins', 'random']" in capsys.readouterr().err
