"""``vfbench data`` options shared with the other commands (issue 19) and the extra columns
(issue 15.4) as the CLI shows them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vfbench.cli import main


@pytest.fixture
def corpus(tmp_path: Path, builders: Any) -> Path:
    return builders.build_folder_tree(
        tmp_path / "a_rather_long_folder_name_so_paths_exceed_eighty_columns" / "corpus",
        ("alice", "bob", "carol"),
        sessions=1,
        clips=1,
        faces=1,
        meta="identity,gender,split,source\nalice,f,train,news\nbob,m,val,vlog\n"
        "carol,f,test,news\n",
    )


def test_j_and_out_and_extra_columns_table(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = tmp_path / "m"
    assert (
        main(["data", "prepare", "folder", "--root", str(corpus), "-o", str(m), "-j", "2", "-q"])
        == 0
    )
    out = capsys.readouterr().out
    assert "extra identity columns: distinct values per split" in out
    extra_table = out.split("extra identity columns")[1]
    row = next(line for line in extra_table.splitlines() if line.strip().startswith("│ all"))
    assert row.split("│")[2].strip() == "2"  # two distinct sources over all identities
    assert main(["data", "stats", str(m), "-o", str(tmp_path / "stats.json"), "--json"]) == 0
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert {s["split"]: s["extra_values"] for s in stats["splits"]} == {
        "train": {"source": 1},
        "val": {"source": 1},
        "test": {"source": 1},
        "all": {"source": 2},
    }
    assert json.loads(capsys.readouterr().out) == stats
    rc = main(["data", "validate", str(m), "-j", "2", "-q", "-o", str(tmp_path / "v.json")])
    assert rc == 0
    rep = json.loads((tmp_path / "v.json").read_text())
    assert rep["ok"] is True and rep["counts"] == {"identities": 3, "voices": 3, "faces": 3}


def test_validate_rows_are_never_wrapped_off_a_terminal(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = tmp_path / "m"
    assert main(["data", "prepare", "folder", "--root", str(corpus), "-o", str(m), "-q"]) == 0
    missing = corpus / "voices" / "alice" / "s0" / "000.wav"
    missing.unlink()
    capsys.readouterr()
    assert main(["data", "validate", str(m), "-q"]) == 1
    out = capsys.readouterr().out
    # the whole path on one line, so `grep FILE log` finds it (captured output is no terminal)
    assert any(str(missing) in line for line in out.splitlines())
    assert len(str(missing)) > 80


def test_custom_splits_flag(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (corpus / "meta.csv").write_text("identity,split\nalice,train\nbob,dev2\ncarol,test\n")
    assert (
        main(["data", "prepare", "folder", "--root", str(corpus), "-o", str(tmp_path / "m")]) == 2
    )
    assert "split 'dev2' is not one of train/val/test" in capsys.readouterr().err
    args = ["data", "prepare", "folder", "--root", str(corpus), "-o", str(tmp_path / "m")]
    assert main([*args, "--custom-splits", "-q"]) == 0
    capsys.readouterr()
    assert main(["data", "validate", str(tmp_path / "m"), "--json"]) == 0  # a warning only
    rep = json.loads(capsys.readouterr().out)
    assert rep["by_code"] == {"unknown_split": 1}
