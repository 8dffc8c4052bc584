"""``vfbench synth`` and ``vfbench synth oracle``: flags reach the config, errors are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vfbench.cli import main

TINY_FLAGS = [
    "--identities",
    "5",
    "--faces-per-id",
    "1",
    "--voices-per-id",
    "2",
    "--set",
    "min_seconds=1",
    "--set",
    "max_seconds=1.2",
    "--set",
    "image_size=48",
    "-q",
]


def test_generate_then_oracle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    assert (
        main(["synth", "--out", str(out), "--seed", "4", "--shared-strength", "0.9", *TINY_FLAGS])
        == 0
    )
    printed = capsys.readouterr().out
    assert "5 identities, 10 voices" in printed and "5 faces" in printed
    info = json.loads((out / "synth.json").read_text())
    assert info["config"]["seed"] == 4 and info["config"]["shared_strength"] == 0.9
    assert info["config"]["image_size"] == 48 and info["counts"]["voices"] == 10
    assert (out / "manifest" / "manifest.json").is_file()
    assert main(["synth", "oracle", str(out), "--split", "all", "--population", "0"]) == 0
    table = capsys.readouterr().out
    assert "5 identities, shared_strength 0.9" in table and "gender" in table
    assert (
        main(
            [
                "synth",
                "oracle",
                str(out / "traits.csv"),
                "--split",
                "all",
                "--population",
                "0",
                "--json",
            ]
        )
        == 0
    )
    rep = json.loads(capsys.readouterr().out)
    assert rep["identities"] == 5 and rep["split"] == "all"
    u = next(r for r in rep["rows"] if r["label"] == "1:2 v2f U")  # through evaluate
    assert u["low"] <= u["value"] <= u["high"] and u["chance"] == 0.5


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "bogus=1"], "unknown key 'bogus'"),
        (["--shared-strength", "0"], "shared_strength must be in (0, 1]"),
        (["--identities", "1"], "identities must be >= 2"),
    ],
)
def test_bad_flags_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["synth", "--out", str(tmp_path / "c"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_missing_out_and_occupied_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["synth"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err
    (tmp_path / "x.txt").write_text("x")
    assert main(["synth", "--out", str(tmp_path), *TINY_FLAGS]) == 2
    assert f"{tmp_path}: not empty" in capsys.readouterr().err


def test_oracle_on_missing_corpus_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["synth", "oracle", str(tmp_path / "nowhere")]) == 2
    assert "nowhere/traits.csv: traits table not found" in capsys.readouterr().err
