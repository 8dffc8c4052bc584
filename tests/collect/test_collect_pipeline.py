"""The pipeline on real-face test videos: right segments kept, right reasons, resumable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from vfbench.collect import pipeline as P
from vfbench.collect.config import CollectConfig
from vfbench.collect.qc import reason_code


def _ident(coll: dict, iid: str) -> dict[str, Any]:
    return next(i for i in coll["identities"] if i["id"] == iid)


def _of(items: list[dict], stem: str) -> list[dict]:
    return [x for x in items if x["video"].split("/")[1].startswith(stem + "-")]


def _video(coll: dict, iid: str, stem: str) -> dict:
    return next(v for v in _ident(coll, iid)["videos"] if Path(v["source"]).stem == stem)


def _codes(reasons: list[str]) -> set[str]:
    return {reason_code(r) for r in reasons}


def test_clean_video_keeps_the_spoken_sentence(coll_json: dict, collection: Path) -> None:
    voices = _of(_ident(coll_json, "spk_m")["voices"], "m_clean")
    assert len(voices) == 1
    v = voices[0]
    assert v["status"] == "kept", v["reasons"]
    # GRID "bin blue at f two now" is spoken from ~0.4 s to ~2.2 s of the 3 s clip
    assert 0.0 <= v["start"] < 0.7 and 1.9 < v["end"] <= 3.0
    assert v["n_face_tracks"] == 1 and v["face_coverage"] == 1.0
    assert v["av_corr"] is not None and v["av_corr"] > 0.2  # the visible face is talking
    wav, sr = sf.read(collection / v["file"])
    assert sr == 16000 and wav.ndim == 1
    assert abs(len(wav) / sr - v["duration"]) < 0.01
    faces = [
        f for f in _of(_ident(coll_json, "spk_m")["faces"], "m_clean") if f["status"] == "kept"
    ]
    assert len(faces) >= 3
    for f in faces:
        assert Image.open(collection / f["file"]).size == (112, 112)
        ow, oh = Image.open(collection / f["orig"]).size
        assert ow >= f["size"] and oh >= f["size"]  # original crop with margin


def test_two_faces_segment_rejected_and_other_person_dropped(coll_json: dict) -> None:
    m = _ident(coll_json, "spk_m")
    segs = _of(m["voices"], "m_two_faces")
    assert segs and all(s["status"] == "rejected" for s in segs)
    assert all("multiple_faces" in _codes(s["reasons"]) for s in segs)
    faces = _of(m["faces"], "m_two_faces")
    # the male speaker is in the left half (x < 160), the female in the right half
    left = [f for f in faces if (f["box"][0] + f["box"][2]) / 2 < 160]
    right = [f for f in faces if (f["box"][0] + f["box"][2]) / 2 >= 160]
    assert left and right
    assert all("not_target_identity" in _codes(f["reasons"]) for f in right)
    assert any(f["status"] == "kept" for f in left)
    assert not any("not_target_identity" in _codes(f["reasons"]) for f in left)


def test_silence_and_no_audio_keep_faces_but_no_voice(coll_json: dict) -> None:
    m = _ident(coll_json, "spk_m")
    for stem, code in (("m_silence", "no_speech"), ("m_no_audio", "no_audio_stream")):
        v = _video(coll_json, "spk_m", stem)
        assert v["status"] == "ok"
        assert code in _codes(v["reasons"]), v["reasons"]
        assert _of(m["voices"], stem) == []
        assert any(f["status"] == "kept" for f in _of(m["faces"], stem))


def test_corrupt_file_fails_with_its_name_and_run_goes_on(coll_json: dict) -> None:
    v = _video(coll_json, "spk_f", "f_corrupt")
    assert v["status"] == "failed"
    assert _codes(v["reasons"]) == {"unreadable"}
    assert "f_corrupt.mp4" in v["reasons"][0]
    # the identity's other video was still processed
    assert any(x["status"] == "kept" for x in _of(_ident(coll_json, "spk_f")["voices"], "f_clean"))


def test_dubbed_still_photo_is_not_the_speaker(coll_json: dict) -> None:
    f = _ident(coll_json, "spk_f")
    segs = _of(f["voices"], "f_dubbed")
    assert segs
    for s in segs:
        assert s["status"] == "rejected"
        assert "not_active_speaker" in _codes(s["reasons"])
        assert s["n_face_tracks"] == 1
        # the photo only "moves" by compression noise: no positive correlation with speech
        assert s["av_corr"] is None or s["av_corr"] < 0.0


def test_every_rejected_item_has_a_reason_and_summary_adds_up(
    coll_json: dict, collection: Path
) -> None:
    summary = json.loads((collection / "summary.json").read_text())
    tot_f = tot_v = 0
    for ident in coll_json["identities"]:
        for x in ident["faces"] + ident["voices"]:
            assert (x["status"] == "kept") == (not x["reasons"])
            assert (x["file"] is not None) == (x["status"] == "kept") or x["status"] == "rejected"
        b = summary["identities"][ident["id"]]
        nf, nv = len(ident["faces"]), len(ident["voices"])
        assert b["faces_kept"] + b["faces_rejected"] == nf
        assert b["voices_kept"] + b["voices_rejected"] == nv
        assert b["faces_kept"] == sum(f["status"] == "kept" for f in ident["faces"])
        tot_f += nf
        tot_v += nv
    o = summary["overall"]
    assert o["faces_kept"] + o["faces_rejected"] == tot_f
    assert o["voices_kept"] + o["voices_rejected"] == tot_v
    assert o["videos"] == 7 and o["videos_failed"] == 1
    assert o["voice_reasons"]["multiple_faces"] == 1
    md = (collection / "summary.md").read_text()
    assert "spk_m" in md and "spk_f" in md and "multiple_faces x1" in md


def test_run_records_provenance_and_config(collection: Path) -> None:
    run = json.loads((collection / "run.json").read_text())
    assert run["config"]["sampling"]["detect_fps"] == CollectConfig().sampling.detect_fps
    assert len(run["provenance"]["inputs"]["sources"]) == 64
    assert len(run["jobs"]) == 7


def test_interrupted_run_resumes_without_redoing_finished_videos(
    videos: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "S.csv"
    src.write_text(
        "source,identity\n"
        f"{videos['f_clean']},spk_f\n{videos['m_no_audio']},spk_m\n{videos['f_corrupt']},spk_f\n"
    )
    out = tmp_path / "out"
    real = P.process_video
    calls: list[str] = []

    def dies_on_second(job: Any, cfg: Any, o: Path) -> Any:
        calls.append(job.key)
        if len(calls) == 2:
            # the kill lands mid-video: a partial folder exists, no done marker
            (P.video_dir(o, job).with_name(P.video_dir(o, job).name + ".partial")).mkdir(
                parents=True
            )
            raise KeyboardInterrupt
        return real(job, cfg, o)

    monkeypatch.setattr(P, "process_video", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        P.run_collection(src, out)
    first = calls[0]
    marker = out / "videos" / first / "done.json"
    assert marker.is_file()
    stamp = marker.stat().st_mtime_ns
    monkeypatch.setattr(P, "process_video", real)
    res = P.run_collection(src, out)
    assert res.skipped == [first]
    assert set(res.processed) | {o.key for o in res.outcomes if o.status == "failed"} == set(
        calls[1:]
    ) | {res.outcomes[-1].key}
    assert marker.stat().st_mtime_ns == stamp  # not rewritten
    assert not list((out / "videos").glob("*/*.partial"))
    # a third run does nothing
    res3 = P.run_collection(src, out)
    assert len(res3.skipped) == 3 and not res3.processed


def test_done_marker_checks_source_and_config(tmp_path: Path) -> None:
    d = tmp_path / "v"
    d.mkdir()
    assert not P.is_done(d, "abc", "h1")
    (d / "done.json").write_text(json.dumps({"source_sha256": "abc", "config_hash": "h1"}))
    assert P.is_done(d, "abc", "h1")
    assert not P.is_done(d, "abd", "h1")  # the video file changed
    assert not P.is_done(d, "abc", "h2")  # a threshold changed
    (d / "done.json").write_text("{broken")
    assert not P.is_done(d, "abc", "h1")


def test_load_collection_error_names_folder(tmp_path: Path) -> None:
    from vfbench.errors import VfbenchError

    with pytest.raises(VfbenchError, match="not a collection folder"):
        P.load_collection(tmp_path)
    (tmp_path / "collection.json").write_text("{nope")
    with pytest.raises(VfbenchError, match="collection.json"):
        P.load_collection(tmp_path)


def test_time_range_limits_processing(videos: dict[str, Path], tmp_path: Path) -> None:
    from vfbench.collect.sources import read_sources

    src = tmp_path / "S.csv"
    src.write_text(f"source,identity,start,end\n{videos['f_clean']},spk_f,1.0,2.0\n")
    (job,), _ = read_sources(src)
    rec = P.analyse_video(job, CollectConfig(), tmp_path / "v", "v")
    assert rec["duration"] == pytest.approx(1.0, abs=0.05)
    ts = [f["t"] for f in rec["faces"]]
    assert ts and min(ts) >= 1.0 - 1e-6 and max(ts) < 2.0
    for s in rec["segments"]:
        assert 1.0 - 1e-6 <= s["start"] < s["end"] <= 2.0 + 1e-6
    assert np.isfinite([s["snr_db"] for s in rec["segments"]]).all()


def test_copy_of_collection_is_self_contained(collection: Path, tmp_path: Path) -> None:
    """Media paths are relative to DIR: a moved collection still resolves every file."""
    dst = tmp_path / "moved"
    shutil.copytree(collection, dst)
    coll = P.load_collection(dst)
    for ident in coll["identities"]:
        for x in ident["faces"] + ident["voices"]:
            if x["file"]:
                assert (dst / x["file"]).is_file()


def test_original_grid_mpeg_ps_clip(shared_dir: Path, tmp_path: Path) -> None:
    """The real 360x288 MPEG-PS/mp2 clip as shipped: rows PyAV pads (360*3 bytes) must not
    confuse dlib, and the one sentence comes out as one kept segment with the face."""
    from vfbench.collect.sources import VideoJob

    src = shared_dir / "media" / "grid" / "brbk7n.mpg"
    job = VideoJob(key="grid/brbk7n", path=src, identity="grid")
    cfg = CollectConfig()
    cfg.sampling.upsample = 1  # her face is ~108 px: below HOG's reach without upsampling
    rec = P.analyse_video(job, cfg, tmp_path, "v")
    assert rec["status"] == "ok" and (rec["width"], rec["height"]) == (360, 288)
    assert len(rec["tracks"]) == 1 and rec["tracks"][0]["n_samples"] >= 13
    (seg,) = rec["segments"]
    assert seg["n_face_tracks"] == 1 and seg["av_corr"] > 0.2
    assert _codes(seg["reasons"]) == {"clipping"} and seg["clip_frac"] > 0.001
    f = next(f for f in rec["faces"] if f["status"] == "kept")
    assert 110 <= (f["box"][0] + f["box"][2]) / 2 <= 230  # centred on her face (x ~ 169)


def test_sigkill_mid_run_then_rerun_skips_finished(videos: dict[str, Path], tmp_path: Path) -> None:
    """A real ``kill -9`` of ``vfbench collect run`` after the first video finished: the
    rerun skips every video that has a done-marker and leaves none half-written."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src = tmp_path / "S.csv"
    src.write_text(
        "source,identity\n"
        f"{videos['m_clean']},spk_m\n{videos['f_clean']},spk_f\n{videos['m_no_audio']},spk_m\n"
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vfbench", "collect", "run", str(src), "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not list(out.glob("videos/*/*/done.json")):
            assert proc.poll() is None, "run ended before finishing a video"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    done = {p.parent: p.stat().st_mtime_ns for p in out.glob("videos/*/*/done.json")}
    assert done
    res = P.run_collection(src, out)
    assert {out / "videos" / k for k in res.skipped} == set(done)
    assert len(res.outcomes) == 3 and len(res.processed) == 3 - len(done)
    for d, stamp in done.items():
        assert (d / "done.json").stat().st_mtime_ns == stamp
    assert not list(out.glob("videos/*/*.partial"))
    assert (out / "collection.json").is_file()
