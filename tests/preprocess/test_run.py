"""End-to-end tests of the driver: bad inputs, resume, kill mid-run, shards + merge, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from _pp_media import build_media_tree, speechlike
from PIL import Image

from vfbench.cli import main
from vfbench.data.manifest import Identity, Manifest, VoiceItem
from vfbench.errors import ConfigError, ManifestError
from vfbench.preprocess.cache import FeatureCache, list_shards, read_shard_index
from vfbench.preprocess.config import AudioConfig, PreprocessConfig
from vfbench.preprocess.run import DELAY_ENV, parse_shard, preprocess


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory, grid) -> Path:
    root = tmp_path_factory.mktemp("tree")
    build_media_tree(root, grid)
    return root


@pytest.fixture(scope="module")
def built(tree: Path) -> Path:
    out = tree / "cache"
    preprocess(tree / "manifest", out, PreprocessConfig(shard_size=4), workers=2, progress=False)
    return out


def test_every_bad_input_is_reported_and_good_ones_cached(tree: Path, built: Path) -> None:
    cache = FeatureCache.open(built)
    man = Manifest.load(tree / "manifest")
    for mod, items in (("voice", man.voices), ("face", man.faces)):
        ok = {i.id for i in items if i.id.startswith("ok_")}
        assert set(cache.ids(mod)) == ok
        for it in items:
            if it.id.startswith("bad_"):
                reason = cache.failed[(mod, it.id)]
                code = it.id[4:]
                code = "undecodable" if code.startswith("undecodable") else code
                assert reason.startswith(code + ":"), reason
                assert Path(it.path).name in reason  # the message names the culprit
    assert len(cache.failed) == sum(i.id.startswith("bad_") for i in man.voices + man.faces)


def test_cached_arrays_have_the_paper_shapes(built: Path) -> None:
    cache = FeatureCache.open(built)
    stereo = cache.load("voice", "ok_flac_stereo44k")  # 2.0 s stereo 44.1 kHz
    assert stereo.shape == (257, 200) and stereo.dtype == np.float32
    np.testing.assert_allclose(stereo.mean(axis=1), 0, atol=5e-3)  # float16 storage
    assert cache.qc("voice", "ok_flac_stereo44k")["orig_sample_rate"] == 44100
    assert cache.load("voice", "ok_m4a").shape == (257, 120)
    face = cache.load("face", "ok_grid0")
    assert face.shape == (112, 112, 3) and face.dtype == np.uint8
    assert cache.qc("face", "ok_three_faces")["n_faces"] >= 2  # fast pass may miss the smallest
    assert cache.config["audio"]["n_fft"] == 512 and cache.config["face"]["box_scale"] == 1.1


def test_qc_report_files(built: Path) -> None:
    qc = json.loads((built / "qc.json").read_text())
    v, f = qc["modalities"]["voice"], qc["modalities"]["face"]
    assert v["cached"] == 4 and v["failed"] == 7
    assert v["clipped"] == 1 and v["silent"] == 1 and v["too_short"] == 1
    assert f["failed_by_reason"] == {
        "no_face": 1,
        "path_escape": 1,
        "undecodable": 2,
        "zero_bytes": 1,
    }
    assert f["detection_rate"] == pytest.approx(7 / 8)
    assert f["several_faces"] == 1
    assert qc["provenance"]["config"]["preprocess"]["shard_size"] == 4
    md = (built / "qc.md").read_text()
    assert "| no_face | 1 |" in md and "noface.jpg" in md
    sheet = Image.open(built / "contact_sheet.png")
    assert sheet.size == (7 * 114, 114)  # 7 faces in one row of 112 px + 2 px borders


def test_rerun_redoes_nothing(tree: Path, built: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in built.rglob("shard-*")}
    s = preprocess(tree / "manifest", built, PreprocessConfig(shard_size=4), progress=False)
    assert s.modalities["voice"].shards_written == 0 and s.modalities["face"].shards_written == 0
    assert s.modalities["voice"].shards_skipped == 3
    assert {p.name: p.stat().st_mtime_ns for p in built.rglob("shard-*")} == before


def test_config_change_gets_a_new_folder(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "c"
    cfg = PreprocessConfig(shard_size=8)
    preprocess(tree / "manifest", out, cfg, modality="voice", progress=False)
    first = FeatureCache.open(out).config_hash("voice")
    cfg2 = PreprocessConfig(audio=AudioConfig(magnitude="log"), shard_size=8)
    preprocess(tree / "manifest", out, cfg2, modality="voice", progress=False)
    cache = FeatureCache.open(out)
    assert cache.config_hash("voice") != first
    assert cache.config["audio"]["magnitude"] == "log"
    assert (out / f"voice-{first}").is_dir()  # the old entries stay, unused
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(
        [f"voice-{first}", f"voice-{cache.config_hash('voice')}"]
    )


def _voice_corpus(root: Path, n: int) -> Path:
    (root / "v").mkdir(parents=True)
    items = []
    for k in range(n):
        sf.write(root / "v" / f"{k:02d}.wav", speechlike(0.6, 16000, k), 16000)
        items.append(VoiceItem(f"u{k:02d}", f"p{k % 3}", f"{k:02d}.wav"))
    ids = [Identity(f"p{j}", split="train") for j in range(3)]
    return Manifest(ids, items, [], voice_root=root / "v", name="kill").save(root / "m")


def test_kill_mid_run_then_resume_does_each_item_exactly_once(tmp_path: Path) -> None:
    n = 16
    man = _voice_corpus(tmp_path, n)
    out = tmp_path / "cache"
    env = dict(os.environ, **{DELAY_ENV: "0.2"})
    cmd = [sys.executable, "-m", "vfbench", "preprocess", str(man), "--out", str(out)]
    cmd += ["--set", "shard_size=1", "--modality", "voice", "--workers", "2", "-q"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if len(list(out.glob("voice-*/shard-*.json"))) >= 4:
                break
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    done = {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("voice-*/shard-*.json")
    }
    assert 4 <= len(done) < n, "the run must be killed part-way"
    s = preprocess(man, out, PreprocessConfig(shard_size=1), modality="voice", progress=False)
    assert s.modalities["voice"].shards_skipped == len(done)
    assert s.modalities["voice"].shards_written == n - len(done)
    after = {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("voice-*/shard-*.json")
    }
    assert {k: after[k] for k in done} == done  # finished shards untouched
    seen = [
        e["id"]
        for p in list_shards(next(out.glob("voice-*")))
        for e in read_shard_index(p)["items"]
    ]
    assert sorted(seen) == [f"u{k:02d}" for k in range(n)]  # every item exactly once
    assert not list(out.rglob("*.tmp"))
    cache = FeatureCache.open(out)
    assert len(cache.ids("voice")) == n and not cache.failed
    assert all(cache.load("voice", i).shape == (257, 60) for i in cache.ids("voice"))


def test_shards_on_two_machines_then_merge_equals_one_run(tmp_path: Path) -> None:
    man = _voice_corpus(tmp_path, 7)
    cfg = PreprocessConfig(shard_size=2)
    preprocess(man, tmp_path / "one", cfg, progress=False)
    preprocess(man, tmp_path / "p0", cfg, shard=(0, 2), progress=False)
    preprocess(man, tmp_path / "p1", cfg, shard=(1, 2), progress=False)
    assert len(FeatureCache.open(tmp_path / "p0").ids("voice")) == 4  # shards 0 and 2
    assert (
        main(
            [
                "preprocess",
                "merge",
                str(tmp_path / "p0"),
                str(tmp_path / "p1"),
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 0
    )
    one, merged = FeatureCache.open(tmp_path / "one"), FeatureCache.open(tmp_path / "m")
    assert merged.ids("voice") == one.ids("voice")
    for i in one.ids("voice"):
        np.testing.assert_array_equal(merged.load("voice", i), one.load("voice", i))
    assert (tmp_path / "m" / "qc.json").is_file()


def test_cli_run_set_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    man = _voice_corpus(tmp_path, 3)
    out = tmp_path / "c"
    rc = main(["preprocess", str(man), "--out", str(out), "--set", "audio.vad=energy", "-q"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "voice: 3 items" in text and "cached 3" in text
    assert FeatureCache.open(out).config["audio"]["vad"] == "energy"
    assert main(["preprocess", str(man), "--out", str(out), "--set", "audio.nfft=3"]) == 2
    assert "audio.nfft" in capsys.readouterr().err
    assert main(["preprocess", str(man), "--out", str(out), "--shard", "2/2"]) == 2
    assert "--shard" in capsys.readouterr().err
    assert main(["preprocess", "qc", str(out)]) == 0
    qc_in_cache = (out / "qc.json").read_text()
    assert main(["preprocess", "qc", str(out), "-o", str(tmp_path / "qc")]) == 0
    elsewhere = json.loads((tmp_path / "qc" / "qc.json").read_text())
    assert elsewhere["modalities"] == json.loads(qc_in_cache)["modalities"]
    assert (out / "qc.json").read_text() == qc_in_cache  # the cache's own report untouched
    assert main(["preprocess", "qc", str(tmp_path)]) == 2
    assert "not a feature cache" in capsys.readouterr().err


def test_parse_shard_and_bad_arguments(tmp_path: Path) -> None:
    assert parse_shard("3/8") == (3, 8)
    for bad in ("8/8", "-1/2", "a/b", "3"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(bad)
    man = _voice_corpus(tmp_path, 2)
    with pytest.raises(ConfigError, match="workers"):
        preprocess(man, tmp_path / "c", workers=0)
    m = Manifest.load(man)
    m.voices.append(m.voices[0])
    with pytest.raises(ManifestError, match="'u00' occurs 2 times"):
        preprocess(m, tmp_path / "c", progress=False)


def test_progress_label_counts_shards_live_and_is_right_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15.6: the label used to stay "voice (0/3 shards done)" at 100 %."""
    vroot = tmp_path / "v"
    vroot.mkdir()
    items = []
    for k in range(5):
        sf.write(vroot / f"{k}.wav", speechlike(1.0, 16000, k), 16000)
        items.append(VoiceItem(f"v{k}", "p", f"{k}.wav"))
    sf.write(vroot / "silent.wav", np.zeros(16000, np.float32), 16000)
    items.append(VoiceItem("v9", "p", "silent.wav"))
    m = Manifest([Identity("p", split="train")], items, [], voice_root=vroot)
    monkeypatch.setenv("VFBENCH_PROGRESS", "plain")
    preprocess(m, tmp_path / "c", PreprocessConfig(shard_size=2), modality="voice")
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("voice: shards 0/3: 0/6 item | started")
    assert lines[-1].startswith("voice: shards 3/3, 1 failed: 6/6 item | done")
    capsys.readouterr()
    preprocess(m, tmp_path / "c", PreprocessConfig(shard_size=2), modality="voice")  # resume
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("voice: shards 3/3: 0/0 item | done")
