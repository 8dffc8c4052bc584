"""``vfbench evaluate`` / ``vfbench trials``: thin CLI over the library."""

from __future__ import annotations

import json
import re

from vfbench.cli import main

FAST = [
    "--quick",
    "--set",
    "tasks=[match,verify]",
    "--set",
    "matching.n_trials=300",
    "--set",
    "verification.n_pairs=300",
    "--set",
    "n_boot=50",
    "--formats",
    "json,md,csv",
]


def test_evaluate_writes_run_and_reuses_trials(make_emb, tmp_path, capsys):
    v, f, _ = make_emb(n_ids=20, per=4, noise=1.0)
    v.save(tmp_path / "v.npz")
    f.save(tmp_path / "f.npz")
    rc = main(
        [
            "evaluate",
            "--voices",
            str(tmp_path / "v.npz"),
            "--faces",
            str(tmp_path / "f.npz"),
            "--out",
            str(tmp_path / "run"),
            *FAST,
        ]
    )
    assert rc == 0
    out = capsys.readouterr().out
    assert "vfbench evaluation" in out and "1:2 U" in out
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["protocol"]["matching"]["n_trials"] == 300
    assert res["summary"]["smoke"] is True  # --quick runs are marked as smoke runs
    assert "Smoke run" in (tmp_path / "run" / "report.md").read_text()
    assert (tmp_path / "run" / "trials.npz").is_file() and (
        tmp_path / "run" / "report.md"
    ).is_file()
    rc = main(
        [
            "evaluate",
            "--voices",
            str(tmp_path / "v.npz"),
            "--faces",
            str(tmp_path / "f.npz"),
            "--out",
            str(tmp_path / "run2"),
            "--trials",
            str(tmp_path / "run" / "trials.npz"),
            *FAST,
        ]
    )
    assert rc == 0
    res2 = json.loads((tmp_path / "run2" / "results.json").read_text())
    assert res2["trials_hash"] == res["trials_hash"]
    assert main(["compare", str(tmp_path / "run"), str(tmp_path / "run2"), "--n-boot", "50"]) == 0
    assert (
        main(
            [
                "trials",
                "make",
                "--voices",
                str(tmp_path / "v.npz"),
                "--faces",
                str(tmp_path / "f.npz"),
                "--out",
                str(tmp_path / "t.npz"),
                "--set",
                "tasks=[match]",
            ]
        )
        == 0
    )
    assert "trial groups" in capsys.readouterr().out


def test_evaluate_errors_are_one_line(tmp_path, capsys):
    rc = main(
        [
            "evaluate",
            "--voices",
            str(tmp_path / "missing.npz"),
            "--faces",
            str(tmp_path / "f.npz"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert "missing.npz: embeddings file not found" in err and "Traceback" not in err
    rc = main(
        ["evaluate", "--voices", "a", "--faces", "b", "--out", "c", "--set", "matching.bogus=1"]
    )
    assert rc == 2 and "matching.bogus" in capsys.readouterr().err


def test_trials_import_real_list(shared_dir, tmp_path, capsys):
    lst = shared_dir / "data/trials/cmpc/matching/matching_f2v_GN.csv"
    meta = shared_dir / "data/vox1_meta.csv"
    rc = main(
        [
            "trials",
            "import",
            "cmpc-matching",
            str(lst),
            "--vox1-meta",
            str(meta),
            "--out",
            str(tmp_path / "t.npz"),
        ]
    )
    assert rc == 0
    assert "9120 rows read" in capsys.readouterr().out


def test_evaluate_by_column_rows_in_the_terminal_table(make_emb, tmp_path, capsys):
    from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem

    v, f, attrs = make_emb(n_ids=20, per=4, noise=1.0)
    v.save(tmp_path / "v.npz")
    f.save(tmp_path / "f.npz")
    Manifest(
        identities=[
            Identity(k, gender=a["gender"], nationality=a["nationality"]) for k, a in attrs.items()
        ],
        voices=[VoiceItem(i, str(p), f"{i}.wav") for i, p in zip(v.ids, v.identities, strict=True)],
        faces=[FaceItem(i, str(p), f"{i}.jpg") for i, p in zip(f.ids, f.identities, strict=True)],
    ).save(tmp_path / "man")
    args = ["evaluate", "--voices", str(tmp_path / "v.npz"), "--faces", str(tmp_path / "f.npz")]
    args += ["--manifest", str(tmp_path / "man"), "--out", str(tmp_path / "run"), *FAST]
    assert main([*args, "--by", "nationality"]) == 0
    out = capsys.readouterr().out
    for nat in ("US", "UK", "IN"):
        assert re.search(rf"1:2 U +│ nationality={nat} +│ accuracy", out), nat
    assert main([*args, "--by", "nosuch"]) == 2
    assert "no identity column 'nosuch'" in capsys.readouterr().err


def test_tables_never_wrap_ids_off_a_terminal(make_emb, tmp_path, capsys):
    """Off a terminal (pytest captures stdout) long ids and paths stay on one line (#19)."""
    v, f, _ = make_emb(n_ids=12, per=3, noise=1.0)
    long = "x" * 150
    v = type(v)([f"{long}/{i}" for i in v.ids], v.identities, v.vectors, "voice")
    v.save(tmp_path / "v.npz")
    f.save(tmp_path / "f.npz")
    out_dir = tmp_path / ("run_" + "y" * 120)
    args = ["--voices", str(tmp_path / "v.npz"), "--faces", str(tmp_path / "f.npz")]
    assert main(["evaluate", *args, "--out", str(out_dir), *FAST]) == 0
    out = capsys.readouterr().out
    assert f"wrote 1 files to {out_dir}" not in out  # json,md,csv = 3 outputs
    assert any(str(out_dir) in line for line in out.splitlines())
    assert main(["report", str(out_dir), "--formats", "md"]) == 0
    assert any(str(out_dir) in line for line in capsys.readouterr().out.splitlines())
    assert main(["compare", str(out_dir), str(out_dir), "--n-boot", "20"]) == 0
    out = capsys.readouterr().out
    assert max(len(x) for x in out.splitlines()) > 80  # rows kept whole, not wrapped at 80
