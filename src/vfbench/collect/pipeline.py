"""The resumable collection driver: SOURCES.csv -> per-video results -> collection + summary.

Output folder layout (all paths inside JSON files are relative to ``DIR``)::

    DIR/run.json                      config, sources, identities, provenance of the last run
    DIR/videos/<identity>/<video>/    one folder per video, written atomically:
        video.json                    tracks, faces, segments with QC metrics and reasons
        faces/*.jpg faces_orig/*.jpg  aligned 112x112 chips and original crops (kept faces)
        voices/*.wav                  16 kHz mono speech segments (kept segments)
        done.json                     source sha256 + config hash: the resume marker
    DIR/collection.json               every item per identity with status and reasons
    DIR/summary.json, DIR/summary.md  kept / rejected counts and reasons per identity, overall

A video is processed into ``<video>.partial/`` and renamed into place once complete, so an
interrupted run leaves no half-written video; the next run skips every video whose
``done.json`` matches the source file's sha256 and the per-video config hash.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.collect import faces as F
from vfbench.collect import qc as Q
from vfbench.collect.active import lip_opening, speech_envelope, sync_score
from vfbench.collect.config import CollectConfig
from vfbench.collect.identity import dominant_cluster
from vfbench.collect.sources import IdentityInfo, VideoJob, read_sources
from vfbench.collect.speech import (
    frame_energy_db,
    noise_floor_db,
    segment_stats,
    speech_segments,
    split_at,
)
from vfbench.collect.video import Frame, iter_frames, prefetch, probe, read_audio
from vfbench.collect.voice import dominant_voice, voice_embedding
from vfbench.config import to_dict
from vfbench.errors import DataError, VfbenchError
from vfbench.utils.io import atomic_write_json, atomic_write_text, sha256_file
from vfbench.utils.parallel import limit_worker_threads
from vfbench.utils.provenance import Provenance

SCHEMA_VERSION = 1


@dataclass
class VideoOutcome:
    key: str
    status: str  # "processed" | "skipped" | "failed"
    seconds: float = 0.0
    detail: str = ""


@dataclass
class RunResult:
    out: Path
    outcomes: list[VideoOutcome] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def processed(self) -> list[str]:
        return [o.key for o in self.outcomes if o.status == "processed"]

    @property
    def skipped(self) -> list[str]:
        return [o.key for o in self.outcomes if o.status == "skipped"]


# ---------------------------------------------------------------------------------------
# per video


def _write(path: Path, data: bytes) -> None:
    """Write into the video's ``.partial`` folder (made atomic by its final rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _save_wav(path: Path, audio: np.ndarray, sr: int) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr, subtype="PCM_16")


def _failed(job: VideoJob, code: str, detail: str) -> dict[str, Any]:
    return {
        "key": job.key,
        "source": str(job.path),
        "identity": job.identity,
        "status": "failed",
        "reasons": [f"{code}: {detail}"],
        "voice_reasons": [],
        "duration": 0.0,
        "tracks": [],
        "faces": [],
        "segments": [],
        "shot_cuts": [],
    }


def _flush_track(
    tr: F.Track,
    job: VideoJob,
    cfg: CollectConfig,
    vdir: Path,
    rel: str,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """QC one closed track, write its kept faces, release its images.

    Returns the track record (with its mean descriptor) and one record per face.
    """
    tc, fq = cfg.tracking, cfg.qc_face
    dt = 1.0 / cfg.sampling.detect_fps
    span = tr.end - tr.start + dt
    track_reasons = []
    if span < tc.min_track_s:
        track_reasons.append(
            f"track_too_short: {span:.2f} s < tracking.min_track_s {tc.min_track_s}"
        )
    else:
        tr.describe(tc.descriptors_per_track)
    reasons = []
    for s in tr.samples:
        size = min(s.box[2] - s.box[0], s.box[3] - s.box[1])
        reasons.append(list(track_reasons) + Q.face_reasons(size, s.sharpness, s.pose, s.score, fq))
    ok = [i for i, r in enumerate(reasons) if not r]
    dups = Q.near_duplicates([tr.samples[i].thumb for i in ok], fq.dup_max_dist)
    survivors: list[int] = []
    for i, dup in zip(ok, dups, strict=True):
        if dup is None:
            survivors.append(i)
        else:
            t_other = tr.samples[ok[dup]].t
            reasons[i].append(
                f"near_duplicate: of the face at {t_other:.2f} s "
                f"(<= qc_face.dup_max_dist {fq.dup_max_dist})"
            )
    quota = Q.spread_quota(len(survivors), fq.max_per_track)
    for i, keep in zip(survivors, quota, strict=True):
        if not keep:
            reasons[i].append(f"over_track_quota: qc_face.max_per_track {fq.max_per_track}")
    face_recs = []
    for n, (s, rs) in enumerate(zip(tr.samples, reasons, strict=True)):
        name = f"t{tr.id}_{n:04d}.jpg"
        rec: dict[str, Any] = {
            "id": f"{job.key}/face_t{tr.id}_{n:04d}",
            "video": job.key,
            "track": tr.id,
            "t": round(s.t, 3),
            "box": [round(v, 1) for v in s.box],
            "size": round(min(s.box[2] - s.box[0], s.box[3] - s.box[1]), 1),
            "det_score": round(s.score, 3),
            "sharpness": round(s.sharpness, 2),
            "pose": round(s.pose, 3),
            "status": "rejected" if rs else "kept",
            "reasons": rs,
            "file": None,
            "orig": None,
        }
        if not rs:
            _write(vdir / "faces" / name, s.chip_jpg)
            _write(vdir / "faces_orig" / name, s.orig_jpg)
            rec["file"] = f"{rel}/faces/{name}"
            rec["orig"] = f"{rel}/faces_orig/{name}"
        s.chip_jpg = s.orig_jpg = b""
        face_recs.append(rec)
    tr.flushed = True
    track_rec = {
        "id": tr.id,
        "shot": tr.shot,
        "start": round(tr.start, 3),
        "end": round(tr.end + dt, 3),
        "n_samples": len(tr.samples),
        "status": "rejected" if track_reasons else "ok",
        "reasons": track_reasons,
        "descriptor": [round(float(v), 5) for v in tr.mean_descriptor()],
    }
    return track_rec, face_recs


def _face_sample(fr: Frame, d: F.Detection, cfg: CollectConfig) -> F.FaceSample:
    """Landmarks, aligned chips and the original crop of one detection.

    Only the face's neighbourhood (box + 60 % per side, enough for both alignments and the
    25 % crop margin) is converted to full-resolution RGB; coordinates stay in frame pixels.
    """
    x0, y0, x1, y1 = d.box
    mx, my = 0.6 * (x1 - x0), 0.6 * (y1 - y0)
    a, b = max(0, int(x0 - mx)), max(0, int(y0 - my))
    c = min(fr.width or int(1e9), int(x1 + mx) + 1)
    e = min(fr.height or int(1e9), int(y1 + my) + 1)
    if fr.rgb is not None:
        c, e = min(c, fr.rgb.shape[1]), min(e, fr.rgb.shape[0])
    region = fr.crop(a, b, c, e)
    local = (x0 - a, y0 - b, x1 - a, y1 - b)
    shape = F.landmarks5(region, local)
    chip150 = F.align_chip(region, shape)
    pts_local = F.shape_points(shape)
    chip = F.align_112(region, pts_local, cfg.export.face_size)
    q = cfg.export.jpeg_quality
    return F.FaceSample(
        t=fr.t,
        box=d.box,
        score=d.score,
        points=pts_local + np.array([a, b], np.float32),
        chip150=chip150,
        chip_jpg=F.encode_jpg(chip, q),
        orig_jpg=F.encode_jpg(F.crop_with_margin(region, local), q),
        thumb=Q.thumb(chip),
        sharpness=F.sharpness(F.to_grey(chip)),
        pose=F.pose_score(pts_local),
    )


def analyse_video(job: VideoJob, cfg: CollectConfig, vdir: Path, rel: str) -> dict[str, Any]:
    """Process one video into ``vdir`` (media files) and return its ``video.json`` record.

    ``rel`` is ``vdir`` relative to the collection folder (prefix of media paths). Bad
    files (unreadable, no video stream) give a record with status "failed" and a reason;
    they never raise.
    """
    try:
        info = probe(job.path)
    except DataError as exc:
        return _failed(job, "unreadable", str(exc))
    if not info.has_video:
        return _failed(job, "no_video_stream", f"{job.path} has no video stream")
    sc, tc, spc = cfg.sampling, cfg.tracking, cfg.speech
    offset = job.start or 0.0
    if job.start is not None and info.duration > 0 and job.start >= info.duration:
        return _failed(
            job,
            "range_past_end",
            f"{job.path}: start {job.start:g} s is past the end of the video "
            f"(duration {info.duration:.2f} s)",
        )
    detector = F.build_detector(sc.detector, sc.upsample)
    # a track must survive at least one missed sample, whatever the sampling rate
    tracker = F.Tracker(
        tc.iou_min,
        tc.descriptor_max_dist,
        max(tc.max_gap_s, 1.5 / sc.detect_fps),
        keep_chips=2 * tc.descriptors_per_track,
    )
    track_recs: list[dict[str, Any]] = []
    face_recs: list[dict[str, Any]] = []

    def flush_closed() -> None:
        # closed tracks are QC'd and written at once, so memory holds only open tracks
        for tr in tracker.tracks:
            if tr.closed and not tr.flushed:
                t_rec, f_recs = _flush_track(tr, job, cfg, vdir, rel)
                track_recs.append(t_rec)
                face_recs.extend(f_recs)

    dt = 1.0 / sc.detect_fps
    sampled_t: list[float] = []
    frame_tracks: list[list[int]] = []
    cuts: list[float] = []
    prev: np.ndarray | None = None
    prev_hist = np.zeros(64)
    n_frames = 0
    since_full = 0
    last_t = offset
    try:
        frames = iter_frames(job.path, sc.detect_fps, sc.detect_max_height, job.start, job.end)
        for fr in prefetch(frames):
            n_frames += 1
            last_t = fr.t
            hist = F.grey_hist(fr.grey)
            if prev is not None and prev.shape == fr.grey.shape:
                if 0.5 * float(np.abs(hist - prev_hist).sum()) > tc.shot_cut_threshold:
                    tracker.cut()
                    flush_closed()
                    cuts.append(round(fr.t, 3))
                else:
                    # lip opening of every open track on every frame (68 landmarks on the
                    # detection-scale grey image, from the track's latest box)
                    for tr in tracker.active:
                        pts68 = F.landmarks68(fr.grey, tr.last_box, fr.scale)
                        tr.lip_t.append(fr.t)
                        tr.lip_v.append(lip_opening(pts68))
            prev, prev_hist = fr.grey, hist
            if not fr.sampled:
                continue
            assert fr.small is not None
            # full-frame detection every `full_detect_every` samples, after a cut, or when no
            # face is tracked; in between, only around the open tracks (much cheaper)
            open_boxes = [tr.last_box for tr in tracker.active]
            if (
                since_full + 1 >= sc.full_detect_every
                or not open_boxes
                or (cuts and cuts[-1] == round(fr.t, 3))
            ):
                dets = F.detect(detector, fr.small, fr.scale, -1e9, sc.max_faces_per_frame)
                since_full = 0
            else:
                dets = F.detect_near(
                    detector, fr.small, fr.scale, open_boxes, 0.6, sc.max_faces_per_frame
                )
                since_full += 1
            samples = [_face_sample(fr, d, cfg) for d in dets]
            trs = tracker.update(fr.t, samples)
            flush_closed()
            sampled_t.append(fr.t)
            frame_tracks.append([t.id for t in trs])
    except DataError as exc:
        return _failed(job, "unreadable", str(exc))
    except Exception as exc:  # decoder crashes on damaged files must not stop the run
        import av

        if isinstance(exc, av.error.FFmpegError):
            return _failed(job, "unreadable", f"{job.path}: {exc}")
        raise
    if n_frames == 0:
        if job.start is not None:
            return _failed(
                job,
                "range_past_end",
                f"{job.path}: no video frame at or after start {job.start:g} s "
                f"(duration {info.duration:.2f} s)",
            )
        return _failed(job, "unreadable", f"{job.path}: no decodable video frame")
    tracks = tracker.finish()
    flush_closed()
    track_recs.sort(key=lambda r: r["id"])
    face_recs.sort(key=lambda r: (r["track"], r["id"]))
    duration = max(info.duration - offset, last_t + dt - offset)
    if job.end is not None:
        duration = min(duration, job.end - offset)

    # ---- voices -----------------------------------------------------------------------
    video_reasons: list[str] = []
    seg_recs: list[dict[str, Any]] = []
    audio = None
    if info.has_audio:
        try:
            audio = read_audio(job.path, spc.sample_rate, job.start, job.end)
        except DataError as exc:
            video_reasons.append(f"unreadable_audio: {exc}")
    else:
        video_reasons.append(f"no_audio_stream: {job.path.name} has no audio track")
    if audio is not None:
        sr = spc.sample_rate
        segs, mask = speech_segments(audio, sr, spc)
        # a segment crossing a shot cut is split there: each side is judged on its own
        segs = split_at(segs, [c - offset for c in cuts], spc.min_segment_s)
        floor = noise_floor_db(frame_energy_db(audio, sr, spc.frame_ms))
        if not segs:
            video_reasons.append("no_speech: the voice activity detector found no speech")
        env = speech_envelope(audio, sr) if segs else np.zeros(0)
        st = np.asarray(sampled_t)
        by_id = {tr.id: tr for tr in tracks}
        for n, seg in enumerate(segs):
            stats = segment_stats(audio, sr, seg, mask, spc.frame_ms, floor)
            a_t, b_t = seg.start + offset, seg.end + offset
            idx = np.flatnonzero((st >= a_t) & (st < b_t))
            present = [frame_tracks[i] for i in idx]
            ids = sorted({t for p in present for t in p})
            other = float(np.mean([len(p) > 1 for p in present])) if present else 0.0
            speaker, coverage, sync = None, 0.0, None
            if ids:
                counts = {i: sum(i in p for p in present) for i in ids}
                speaker = max(ids, key=lambda i: (counts[i], -i))
                coverage = counts[speaker] / len(present)
                tr = by_id[speaker]
                sync = sync_score(
                    np.asarray(tr.lip_t) - offset,
                    np.asarray(tr.lip_v),
                    env,
                    seg.start,
                    seg.end,
                    cfg.qc_voice.max_av_lag_s,
                )
            rs = Q.voice_reasons(
                seg.duration,
                stats.snr_db,
                stats.clip_frac,
                stats.speech_ratio,
                len(ids),
                other,
                coverage,
                sync,
                cfg.qc_voice,
            )
            emb = None
            if len(ids) == 1 and not any(
                Q.reason_code(r) in ("too_short", "low_speech_ratio") for r in rs
            ):
                # the voice print of every single-face segment, for the per-person voice
                # consistency check at the end of the run (vfbench.collect.voice)
                i0, i1 = int(seg.start * sr), int(seg.end * sr)
                emb = voice_embedding(audio[i0:i1], sr)
            name = f"seg{n:03d}.wav"
            rec = {
                "id": f"{job.key}/voice_{n:03d}",
                "video": job.key,
                "start": round(a_t, 3),
                "end": round(b_t, 3),
                "duration": round(seg.duration, 3),
                "snr_db": stats.snr_db,
                "clip_frac": stats.clip_frac,
                "speech_ratio": stats.speech_ratio,
                "n_face_tracks": len(ids),
                "other_face_overlap": round(other, 3),
                "face_coverage": round(coverage, 3),
                "speaker_track": speaker,
                "av_corr": None if sync is None else round(sync.corr, 3),
                "av_lag": None if sync is None else round(sync.lag, 3),
                "av_z": None if sync is None or sync.z is None else round(sync.z, 2),
                "lip_motion": None if sync is None else round(sync.lip_std, 4),
                "voice_embedding": None if emb is None else [round(float(x), 4) for x in emb],
                "status": "rejected" if rs else "kept",
                "reasons": rs,
                "file": None,
            }
            if not rs:
                i0, i1 = int(seg.start * sr), int(seg.end * sr)
                _save_wav(vdir / "voices" / name, audio[i0:i1], sr)
                rec["file"] = f"{rel}/voices/{name}"
            seg_recs.append(rec)
    if not tracks:
        video_reasons.append("no_faces: no face was detected on any sampled frame")
    return {
        "key": job.key,
        "source": str(job.path),
        "identity": job.identity,
        "status": "ok",
        "reasons": [],
        "voice_reasons": video_reasons,
        "duration": round(duration, 3),
        "width": info.width,
        "height": info.height,
        "fps": round(info.fps, 3),
        "sampled_frames": len(sampled_t),
        "shot_cuts": cuts,
        "tracks": track_recs,
        "faces": face_recs,
        "segments": seg_recs,
    }


def video_dir(out: Path, job: VideoJob) -> Path:
    return out / "videos" / job.key


def is_done(vdir: Path, source_sha: str, config_hash: str) -> bool:
    """True when ``vdir/done.json`` records this source hash and config hash."""
    marker = vdir / "done.json"
    if not marker.is_file():
        return False
    try:
        d = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return bool(d.get("source_sha256") == source_sha and d.get("config_hash") == config_hash)


def process_video(job: VideoJob, cfg: CollectConfig, out: Path) -> VideoOutcome:
    """Analyse ``job`` into ``DIR/videos/<key>/`` atomically (build ``.partial``, rename)."""
    t0 = time.perf_counter()
    final = video_dir(out, job)
    partial = final.with_name(final.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    sha = sha256_file(job.path)
    rel = final.relative_to(out).as_posix()
    rec = analyse_video(job, cfg, partial, rel)
    rec["source_sha256"] = sha
    rec["seconds"] = round(time.perf_counter() - t0, 3)
    atomic_write_json(partial / "video.json", rec)
    atomic_write_json(
        partial / "done.json",
        {
            "source_sha256": sha,
            "config_hash": cfg.video_hash(),
            "status": rec["status"],
            "finished_utc": Provenance().created_utc,
        },
    )
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    detail = "; ".join(rec["reasons"])
    return VideoOutcome(
        job.key, "failed" if rec["status"] == "failed" else "processed", rec["seconds"], detail
    )


def _process_star(args: tuple[VideoJob, CollectConfig, Path]) -> VideoOutcome:
    return process_video(*args)


def _exit_with_parent(parent_pid: int, poll_s: float = 0.5) -> None:
    """Worker side: end this process as soon as ``parent_pid`` is no longer its parent.

    A killed parent (``kill -9``) cannot tell its pool to stop, and a worker would otherwise
    go on through its queue for minutes holding a few hundred MB; the orphaned worker is
    re-parented (to init or a subreaper), which this daemon thread notices within
    ``poll_s``. The video in progress stays in its ``.partial`` folder and is redone by the
    next run.
    """

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _worker_init(parent_pid: int) -> None:

    limit_worker_threads()
    _exit_with_parent(parent_pid)


# ---------------------------------------------------------------------------------------
# whole run


def run_collection(
    sources: str | Path,
    out: str | Path,
    cfg: CollectConfig | None = None,
    *,
    workers: int = 1,
    log: Callable[[str], None] | None = None,
    command: str = "",
) -> RunResult:
    """Process every video listed in ``sources`` into ``out`` and build the collection.

    Finished videos (matching ``done.json``) are skipped; ``workers`` > 1 processes videos in
    parallel processes (which exit by themselves if this process is killed). Ends with :func:`finalize` (identity selection + summary).
    """
    cfg = cfg or CollectConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = log or (lambda s: None)
    vjobs, idents = read_sources(sources, download_dir=out / "downloads")
    prov = Provenance(
        command=command,
        config=to_dict(cfg),
        inputs={"sources": sha256_file(sources)},
    )
    atomic_write_json(
        out / "run.json",
        {
            "schema_version": SCHEMA_VERSION,
            "sources": str(Path(sources).resolve()),
            "jobs": [{**asdict(j), "path": str(j.path)} for j in vjobs],
            "identities": [asdict(i) for i in idents.values()],
            "config": to_dict(cfg),
            "provenance": prov.to_dict(),
        },
    )
    result = RunResult(out=out)
    chash = cfg.video_hash()
    todo: list[VideoJob] = []
    for j in vjobs:
        if is_done(video_dir(out, j), sha256_file(j.path), chash):
            result.outcomes.append(VideoOutcome(j.key, "skipped"))
            say(f"{'skipped':<10}{j.key} (done)")
        else:
            todo.append(j)
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=mp.get_context("spawn"),  # no forked copy of the decode threads
            initializer=_worker_init,
            initargs=(os.getpid(),),
        ) as ex:
            for o in ex.map(_process_star, [(j, cfg, out) for j in todo]):
                result.outcomes.append(o)
                say(f"{o.status:<10}{o.key} {o.seconds:.1f}s {o.detail}")
    else:
        for j in todo:
            o = process_video(j, cfg, out)
            result.outcomes.append(o)
            say(f"{o.status:<10}{o.key} {o.seconds:.1f}s {o.detail}")
    result.summary = finalize(out, cfg, vjobs, idents, prov)
    return result


def load_video_records(out: Path, jobs: list[VideoJob]) -> dict[str, dict[str, Any]]:
    """``video.json`` of each finished job, by key (missing ones are left out)."""
    recs = {}
    for j in jobs:
        p = video_dir(out, j) / "video.json"
        if p.is_file():
            recs[j.key] = json.loads(p.read_text(encoding="utf-8"))
    return recs


def finalize(
    out: Path,
    cfg: CollectConfig,
    jobs: list[VideoJob],
    idents: dict[str, IdentityInfo],
    prov: Provenance | None = None,
) -> dict[str, Any]:
    """Pick the target identity per person, write ``collection.json`` and the summaries."""
    recs = load_video_records(out, jobs)
    identities = []
    for ident in idents.values():
        vids = [recs[j.key] for j in jobs if j.identity == ident.id and j.key in recs]
        # candidate tracks across all videos of the person
        cands: list[tuple[str, int]] = []
        descs, weights = [], []
        for v in vids:
            speaking: dict[int, float] = {}
            for s in v["segments"]:
                if s["status"] == "kept" and s["speaker_track"] is not None:
                    speaking[s["speaker_track"]] = (
                        speaking.get(s["speaker_track"], 0.0) + s["duration"]
                    )
            for t in v["tracks"]:
                if t["status"] != "ok":
                    continue
                cands.append((v["key"], t["id"]))
                descs.append(t["descriptor"])
                weights.append(speaking.get(t["id"], 0.0) + 0.01 * (t["end"] - t["start"]))
        target: set[tuple[str, int]] = set()
        label_of: dict[tuple[str, int], int] = {}
        if cands:
            labels, is_t = dominant_cluster(
                np.asarray(descs, np.float32), np.asarray(weights), cfg.identity.cluster_max_dist
            )
            target = {c for c, k in zip(cands, is_t, strict=True) if k}
            label_of = {c: int(lab) for c, lab in zip(cands, labels, strict=True)}
            tlabel = int(labels[np.flatnonzero(is_t)[0]])
        faces, voices, videos = [], [], []
        for v in vids:
            videos.append(
                {
                    "key": v["key"],
                    "source": v["source"],
                    "status": v["status"],
                    "reasons": v["reasons"] + v["voice_reasons"],
                    "duration": v["duration"],
                }
            )
            for f in v["faces"]:
                f = dict(f)
                k = (v["key"], f["track"])
                if k in label_of and k not in target:
                    f["status"] = "rejected"
                    f["reasons"] = [
                        *f["reasons"],
                        f"not_target_identity: track in face cluster {label_of[k]}, "
                        f"the person's dominant cluster is {tlabel}",
                    ]
                faces.append(f)
            for s in v["segments"]:
                s = dict(s)
                k = (v["key"], s["speaker_track"])
                if s["speaker_track"] is not None and k not in target:
                    s["status"] = "rejected"
                    why = (
                        f"the visible face (track {s['speaker_track']}) is not in the person's "
                        "dominant face cluster"
                        if k in label_of
                        else f"the visible face (track {s['speaker_track']}) was too short-lived "
                        "to identify"
                    )
                    s["reasons"] = [*s["reasons"], f"speaker_not_target: {why}"]
                voices.append(s)
        _voice_consistency(voices, ident.id, cfg.identity.min_voice_sim)
        identities.append({**asdict(ident), "videos": videos, "faces": faces, "voices": voices})
    collection = {
        "schema_version": SCHEMA_VERSION,
        "config": to_dict(cfg),
        "provenance": (prov or Provenance()).to_dict(),
        "identities": identities,
    }
    atomic_write_json(out / "collection.json", collection)
    summary = summarise(collection)
    atomic_write_json(out / "summary.json", summary)
    atomic_write_text(out / "summary.md", summary_markdown(summary))
    return summary


def _voice_consistency(voices: list[dict[str, Any]], identity: str, min_sim: float) -> None:
    """Check every segment of one person against their dominant voice
    (:func:`vfbench.collect.voice.dominant_voice`).

    The voice is learnt from every segment with an embedding (the only face on screen was
    tracked) that is not another person's face (``speaker_not_target``), whatever its other
    QC results: a time-shifted or noisy clip is still the person's voice. Each such segment
    gets ``voice_sim``; one below ``min_sim`` gets ``voice_mismatch`` (and is rejected).
    The embeddings are dropped from the records (they stay in each ``video.json``).
    """
    cand, emb = [], []
    for s in voices:
        e = s.pop("voice_embedding", None)
        if e is not None and not any(r.startswith("speaker_not_target") for r in s["reasons"]):
            cand.append(s)
            emb.append(e)
    if not cand:
        return
    sims, dom = dominant_voice(
        np.asarray(emb, np.float32), np.asarray([s["duration"] for s in cand]), min_sim
    )
    for s, sim in zip(cand, sims, strict=True):
        s["voice_sim"] = round(float(sim), 3)
        if min_sim > 0 and sim < min_sim:
            s["status"] = "rejected"
            s["reasons"] = [
                *s["reasons"],
                f"voice_mismatch: voice similarity {sim:.2f} to {identity}'s dominant voice "
                f"({int(dom.sum())} of their {len(cand)} segments) < identity.min_voice_sim "
                f"{min_sim}: another person's voice (dubbing or a voice-over?)",
            ]


def summarise(collection: dict[str, Any]) -> dict[str, Any]:
    """Kept/rejected counts and reason codes per identity and overall."""

    def block(
        faces: list[dict[str, Any]], voices: list[dict[str, Any]], videos: list[dict[str, Any]]
    ) -> dict[str, Any]:
        kf = [f for f in faces if f["status"] == "kept"]
        kv = [v for v in voices if v["status"] == "kept"]
        return {
            "videos": len(videos),
            "videos_failed": sum(v["status"] == "failed" for v in videos),
            "video_reasons": Q.count_reasons(v["reasons"] for v in videos),
            "faces_kept": len(kf),
            "faces_rejected": len(faces) - len(kf),
            "face_reasons": Q.count_reasons(f["reasons"] for f in faces if f["status"] != "kept"),
            "voices_kept": len(kv),
            "voices_rejected": len(voices) - len(kv),
            "voice_seconds_kept": round(sum(v["duration"] for v in kv), 2),
            "voice_reasons": Q.count_reasons(v["reasons"] for v in voices if v["status"] != "kept"),
        }

    per = {}
    allf, allv, allvid = [], [], []
    for i in collection["identities"]:
        per[i["id"]] = block(i["faces"], i["voices"], i["videos"])
        allf += i["faces"]
        allv += i["voices"]
        allvid += i["videos"]
    return {"overall": block(allf, allv, allvid), "identities": per}


def summary_markdown(summary: dict[str, Any]) -> str:
    """``summary.md``: one table row per identity plus the overall row and reason counts."""
    lines = [
        "# Collection summary",
        "",
        "| identity | videos (failed) | faces kept | faces rejected | voices kept | voices rejected | speech kept (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [*summary["identities"].items(), ("**overall**", summary["overall"])]
    for name, b in rows:
        lines.append(
            f"| {name} | {b['videos']} ({b['videos_failed']}) | {b['faces_kept']} | "
            f"{b['faces_rejected']} | {b['voices_kept']} | {b['voices_rejected']} | "
            f"{b['voice_seconds_kept']} |"
        )
    lines += ["", "## Why items were dropped", ""]
    for name, b in rows:
        parts = []
        for kind in ("video_reasons", "face_reasons", "voice_reasons"):
            if b[kind]:
                parts.append(
                    kind.split("_")[0] + ": " + ", ".join(f"{k} x{n}" for k, n in b[kind].items())
                )
        lines.append(f"- {name}: " + ("; ".join(parts) if parts else "nothing dropped"))
    return "\n".join(lines) + "\n"


def load_collection(out: str | Path) -> dict[str, Any]:
    """Read ``DIR/collection.json``; raises :class:`VfbenchError` when DIR is no collection."""
    p = Path(out) / "collection.json"
    if not p.is_file():
        raise VfbenchError(
            f"{out}: not a collection folder (no collection.json); run `vfbench collect run` first"
        )
    try:
        return dict(json.loads(p.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise VfbenchError(f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
