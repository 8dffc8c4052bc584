"""``vfbench collect run|export|review`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vfbench.cli import main


def test_run_then_export(
    videos: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "S.csv"
    src.write_text(
        f"source,identity,gender,language\n{videos['f_clean']},spk_f,f,en\n{videos['m_clean']},spk_m,m,de\n"
    )
    out = tmp_path / "coll"
    assert (
        main(["collect", "run", str(src), "--out", str(out), "--set", "qc_face.max_per_track=2"])
        == 0
    )
    text = capsys.readouterr().out
    assert "2 processed, 0 skipped, 0 failed" in text
    coll = json.loads((out / "collection.json").read_text())
    assert all(sum(f["status"] == "kept" for f in i["faces"]) <= 2 for i in coll["identities"])
    assert (
        main(["collect", "run", str(src), "--out", str(out), "--set", "qc_face.max_per_track=2"])
        == 0
    )
    assert "0 processed, 2 skipped" in capsys.readouterr().out
    corpus = tmp_path / "corpus"
    assert main(["collect", "export", str(out), "--out", str(corpus)]) == 0
    assert "exported 2 identities" in capsys.readouterr().out
    meta = (corpus / "meta.csv").read_text()
    assert "spk_m,m,,de," in meta and "spk_f,f,,en," in meta
    # export again without --overwrite: one-line error, exit code 2
    assert main(["collect", "export", str(out), "--out", str(corpus)]) == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_bad_inputs_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "S.csv"
    bad.write_text("source,who\nx.mp4,a\n")
    assert main(["collect", "run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "S.csv:1: unknown column 'who'" in err and "Traceback" not in err
    assert (
        main(["collect", "run", str(bad), "--out", str(tmp_path / "o"), "--set", "qc_face.nope=1"])
        == 2
    )
    assert "unknown key 'qc_face.nope'" in capsys.readouterr().err
    assert main(["collect", "export", str(tmp_path), "--out", str(tmp_path / "c")]) == 2
    assert "not a collection folder" in capsys.readouterr().err
    assert main(["collect", "review", str(tmp_path), "--port", "0"]) == 2
    assert "not a collection folder" in capsys.readouterr().err


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collect", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(c in out for c in ("run", "review", "export"))


def test_run_spells_parallelism_workers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--workers/-j`` (the vfbench-wide name); ``--jobs`` still works but is hidden."""
    from vfbench.collect import pipeline as P

    seen: list[int] = []

    def fake(
        sources: object, out: object, cfg: object, *, workers: int = 1, **kw: object
    ) -> object:
        seen.append(workers)
        return P.RunResult(
            out=Path(str(out)),
            summary={
                "overall": {
                    "videos_failed": 0,
                    "faces_kept": 0,
                    "voices_kept": 0,
                    "voice_seconds_kept": 0,
                }
            },
        )

    monkeypatch.setattr(P, "run_collection", fake)
    src = tmp_path / "S.csv"
    src.write_text("source,identity\n")
    for flags, want in ((["--workers", "3"], 3), (["-j", "2"], 2), (["--jobs", "4"], 4), ([], 1)):
        assert main(["collect", "run", str(src), "-o", str(tmp_path / "o"), *flags]) == 0
        assert seen[-1] == want, flags
    assert main(["collect", "run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--workers" in out and "-j" in out and "--jobs" not in out and "--out" in out
