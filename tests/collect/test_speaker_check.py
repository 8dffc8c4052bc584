"""Issue 17 on real media: the visible-speaker + voice-consistency check, cut splitting,
contrast-normalised near-duplicates, the past-the-end message, workers dying with their
parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import _media
import numpy as np
import pytest

from vfbench.collect import pipeline as P
from vfbench.collect import qc as Q
from vfbench.collect.config import CollectConfig
from vfbench.collect.sources import read_sources
from vfbench.collect.speech import Segment, split_at
from vfbench.collect.video import read_audio, remux_with_audio
from vfbench.collect.voice import dominant_voice, voice_embedding


def test_split_at_cuts_by_hand() -> None:
    segs = [Segment(0.0, 4.0), Segment(5.0, 6.0), Segment(7.0, 9.0)]
    got = split_at(segs, [1.5, 5.0, 8.8, 3.8], min_len_s=0.5)
    # 0-4 splits at 1.5 and 3.8 (the 0.2 s tail is dropped); 5.0 is the boundary of the
    # second segment, not inside it; 8.8 leaves a 0.2 s tail of the third
    assert got == [Segment(0.0, 1.5), Segment(1.5, 3.8), Segment(5.0, 6.0), Segment(7.0, 8.8)]
    assert split_at(segs, []) == segs


def test_near_duplicates_are_contrast_normalised(shared_dir: Path) -> None:
    """Distinct frames of a dark, flat face are distinct; the same face at another
    brightness and contrast is a duplicate. The old absolute rule (mean abs grey
    difference <= 2.5) got both wrong."""
    frames, _, _ = _media.load_grid(shared_dir / "media" / "grid" / _media.GRID_M)
    crop = [f[60:230, 100:250] for f in frames]
    dark = [np.clip(20 + 0.12 * c, 0, 255).astype(np.uint8) for c in crop]
    picks = [0, 20, 40]  # mouth/head differ between these frames
    th = [Q.thumb(dark[i]) for i in picks]
    d = Q.near_duplicates(th, CollectConfig().qc_face.dup_max_dist)
    assert d == [None] * 3
    old = [np.asarray(Q.thumb(dark[i]) * 0 + _grey32(dark[i])) for i in picks]
    assert Q.near_duplicates(old, 2.5) == [None, 0, 0]  # what the old rule did
    # the same picture, half the contrast and brighter: a duplicate (old rule: distinct)
    flat = np.clip(70 + 0.5 * crop[0].astype(np.float32), 0, 255).astype(np.uint8)
    assert Q.near_duplicates([Q.thumb(crop[0]), Q.thumb(flat)], 0.06) == [None, 0]
    assert Q.near_duplicates([_grey32(crop[0]), _grey32(flat)], 2.5) == [None, None]


def _grey32(img: np.ndarray) -> np.ndarray:
    from PIL import Image

    g = Image.fromarray(img).convert("L").resize((32, 32), Image.Resampling.BILINEAR)
    return np.asarray(g, np.float32)


def test_start_past_the_end_says_so(videos: dict[str, Path], tmp_path: Path) -> None:
    src = tmp_path / "S.csv"
    src.write_text(f"source,identity,start\n{videos['m_clean']},spk_m,30\n")
    (job,), _ = read_sources(src)
    rec = P.analyse_video(job, CollectConfig(), tmp_path / "v", "v")
    assert rec["status"] == "failed"
    (reason,) = rec["reasons"]
    assert reason.startswith("range_past_end:") and "m_clean.mp4" in reason
    assert "start 30 s is past the end" in reason and "duration 3.0" in reason


def test_voice_embedding_separates_the_grid_speakers(shared_dir: Path) -> None:
    grid = shared_dir / "media" / "grid"
    m, f = read_audio(grid / _media.GRID_M), read_audio(grid / _media.GRID_F)
    assert m is not None and f is not None
    em = [voice_embedding(m[a : a + 24000], 16000) for a in (0, 16000)]
    ef = voice_embedding(f[:40000], 16000)
    assert all(abs(float(np.linalg.norm(e)) - 1) < 1e-5 for e in [*em, ef])
    assert float(em[0] @ em[1]) > 0.8 > 0.7 > float(em[0] @ ef)
    # at 48 kHz the same voice print (resampled inside)
    from scipy.signal import resample_poly

    e48 = voice_embedding(resample_poly(m[:24000], 3, 1).astype(np.float32), 48000)
    assert float(e48 @ em[0]) > 0.95


def test_dominant_voice_by_hand() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(16), rng.standard_normal(16)
    x = np.stack([a + 0.05 * rng.standard_normal(16) for _ in range(3)] + [b, b])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sims, dom = dominant_voice(x, np.array([1.0, 1.0, 1.0, 1.0, 1.0]), 0.7)
    assert dom.tolist() == [True, True, True, False, False]
    c = x[:3].mean(0) / np.linalg.norm(x[:3].mean(0))
    assert np.allclose(sims, x @ c, atol=1e-6)
    # seconds decide, not counts: two long segments of b outweigh three short ones of a
    _, dom = dominant_voice(x, np.array([1.0, 1.0, 1.0, 5.0, 5.0]), 0.7)
    assert dom.tolist() == [False, False, False, True, True]


@pytest.mark.slow
def test_dubbed_clip_is_rejected_with_a_readable_reason(
    shared_dir: Path, videos: dict[str, Path], tmp_path: Path
) -> None:
    """Two genuine videos of the male GRID speaker and one with his moving face over the
    female speaker's voice (lips move, another voice): the dub is rejected as
    voice_mismatch, the genuine speech is kept."""
    m_audio = read_audio(videos["m_clean"])
    f_audio = read_audio(videos["f_clean"])
    assert m_audio is not None and f_audio is not None
    shifted = tmp_path / "m_again.mkv"
    remux_with_audio(videos["m_clean"], m_audio, 16000, shifted)  # a second genuine video
    dub = remux_with_audio(videos["m_clean"], f_audio[: len(m_audio)], 16000, tmp_path / "dub.mkv")
    src = tmp_path / "S.csv"
    src.write_text(
        f"source,identity,gender\n{videos['m_clean']},spk_m,m\n{shifted},spk_m,m\n{dub},spk_m,m\n"
    )
    P.run_collection(src, tmp_path / "out")
    coll = json.loads((tmp_path / "out" / "collection.json").read_text())
    (ident,) = coll["identities"]
    by_video = {Path(v["source"]).name: v["key"] for v in ident["videos"]}
    for name, key in by_video.items():
        segs = [s for s in ident["voices"] if s["video"] == key]
        assert segs, name
        for s in segs:
            assert s["voice_sim"] is not None
            if name == "dub.mkv":
                assert s["status"] == "rejected"
                (why,) = [r for r in s["reasons"] if r.startswith("voice_mismatch")]
                assert "spk_m's dominant voice" in why and "dubbing or a voice-over" in why
                assert s["voice_sim"] < 0.7
            else:
                assert s["voice_sim"] > 0.8
                assert not any(r.startswith("voice_mismatch") for r in s["reasons"])
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["identities"]["spk_m"]["voice_reasons"].get("voice_mismatch", 0) >= 1


def test_segment_across_a_shot_cut_is_split(shared_dir: Path, tmp_path: Path) -> None:
    """One sentence over a hard cut from the male to the female GRID face: the segment is
    split at the cut instead of being rejected whole."""
    grid = shared_dir / "media" / "grid"
    fm, am, sr = _media.load_grid(grid / _media.GRID_M)
    ff, _, _ = _media.load_grid(grid / _media.GRID_F, zoom=1.3)
    # another studio: the second shot is darker, so the grey histogram jumps at the cut
    dim = [(0.6 * f).astype(np.uint8) for f in ff[38:]]
    frames = _media.moving_crop(fm[:38]) + _media.moving_crop(dim)
    vid = _media.write_video(tmp_path / "cut.mp4", frames, am, sr)
    src = tmp_path / "S.csv"
    src.write_text(f"source,identity\n{vid},spk\n")
    (job,), _ = read_sources(src)
    rec = P.analyse_video(job, CollectConfig(), tmp_path / "v", "v")
    (cut,) = rec["shot_cuts"]
    assert cut == pytest.approx(38 / 25, abs=0.05)
    segs = rec["segments"]
    assert len(segs) == 2
    assert segs[0]["end"] == pytest.approx(cut, abs=1e-3)
    assert segs[1]["start"] == pytest.approx(cut, abs=1e-3)
    # each side has exactly one face on screen: the other track is not "multiple_faces"
    assert all(s["n_face_tracks"] == 1 for s in segs)
    assert segs[0]["speaker_track"] != segs[1]["speaker_track"]


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(x) for x in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_workers_exit_when_the_parent_is_killed(videos: dict[str, Path], tmp_path: Path) -> None:
    src = tmp_path / "S.csv"
    rows = [f"{videos[k]},spk_m" for k in ("m_clean", "m_silence", "m_two_faces")]
    rows += [f"{videos[k]},spk_f" for k in ("f_clean", "f_dubbed")]
    src.write_text("source,identity\n" + "\n".join(rows) + "\n")
    cmd = [sys.executable, "-m", "vfbench", "collect", "run", str(src), "-o", str(tmp_path / "o")]
    proc = subprocess.Popen([*cmd, "--workers", "2"], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    workers: set[int] = set()
    try:
        while len(workers) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
            workers = {
                c
                for c in _children(proc.pid)
                if "multiprocessing"
                in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")
                and "resource_tracker"
                not in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")
            }
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    end = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < end:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)
