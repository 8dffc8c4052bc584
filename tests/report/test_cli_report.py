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


def test_evaluate_names_report_html_only_when_it_wrote_it(runs, tmp_path, capsys):
    """``--formats json`` writes no report.html and must not point the user at one."""
    v, f = runs[3][:2]
    v.save(tmp_path / "v.npz")
    f.save(tmp_path / "f.npz")
    base = ["evaluate", "--voices", str(tmp_path / "v.npz"), "--faces", str(tmp_path / "f.npz"),
            "--quick", "--set", "tasks=[match]", "--set", "matching.n_trials=100",
            "--set", "matching.n_values=[2]", "--set", "n_boot=20"]  # fmt: skip
    assert main([*base, "-o", str(tmp_path / "j"), "--formats", "json"]) == 0
    out = capsys.readouterr().out
    assert "report.html" not in out and "report:" not in out
    assert not (tmp_path / "j" / "report.html").exists()
    assert main([*base, "-o", str(tmp_path / "h"), "--formats", "json,html"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "h" / "report.html").is_file()
    assert f"(report: {tmp_path / 'h' / 'report.html'})" in out.replace("\n", "")
