"""``vfbench report`` regenerates renderings from results.json without recomputing."""

from __future__ import annotations

import json

from vfbench.cli import main


def test_report_regenerates_without_recomputation(runs, tmp_path, capsys):
    a = runs[0]
    a.save(tmp_path)
    before = (tmp_path / "results.json").read_text()
    assert main(["report", str(tmp_path), "--formats", "md,csv", "--no-show"]) == 0
    assert (tmp_path / "report.md").is_file() and (tmp_path / "results.csv").is_file()
    assert (tmp_path / "results.json").read_text() == before  # untouched
    assert json.loads(before)["trials_hash"] in (tmp_path / "report.md").read_text()


def test_report_and_compare_errors(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "results file not found" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
