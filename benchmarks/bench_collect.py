"""Collection-tool speed: video seconds processed per wall second, 720p and real 1080p.

Builds a ~20 s 1280x720 H.264/AAC video from the real GRID clip (upscaled to 900x720,
edge-padded to 1280x720, looped), then runs the per-video pipeline (decode, shot cuts,
detection at ``sampling.detect_fps`` on the 360p-downscaled frame, landmarks, alignment,
tracking, descriptors, speech segments, QC, writing faces and clips) with the default
config, limited to 2 CPU cores. Target (issue 9): >= 2x real time. Also prints the
decode-only floor and CPU time, which are less sensitive to other load on the machine.

Then the same on the real 1080x1920 HEVC clips of ``shared/media/real`` (issue 17 target:
>= 2x real time at 1080p): detection and tracking on the 360x640 decode, lip landmarks on
every frame, full-resolution RGB only around the detected faces.

    .venv/bin/python benchmarks/bench_collect.py [--quick] [--seconds 20] [--fps 5] [--no-1080p]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

GRID = (
    Path(os.environ.get("VFBENCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    / "media"
    / "grid"
    / "bbaf2n.mpg"
)
REAL_1080P = [
    GRID.parents[1] / "real" / "latentsync_demo2_man_pt.mp4",  # 20.1 s, hevc 1080x1920
    GRID.parents[1] / "real" / "latentsync_demo1_woman_ru.mp4",  # 10.0 s
]


def build_720p(out: Path, seconds: float) -> float:
    """Write the looped 720p test video; returns its duration in seconds."""
    import av
    from PIL import Image

    frames, chunks = [], []
    with av.open(str(GRID)) as c:
        for fr in c.decode(video=0):
            img = fr.to_image().resize((900, 720), Image.Resampling.BILINEAR)
            a = np.asarray(img)
            frames.append(np.pad(a, ((0, 0), (190, 190), (0, 0)), mode="edge"))
    with av.open(str(GRID)) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=16000)
        for fr in c.decode(audio=0):
            chunks += [o.to_ndarray().reshape(-1) for o in rs.resample(fr)]
    audio = 0.6 * np.concatenate(chunks)
    loops = max(1, round(seconds / (len(frames) / 25)))
    with av.open(str(out), "w") as c:
        vs = c.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 1280, 720, "yuv420p"
        vs.options = {"preset": "veryfast", "crf": "23"}
        as_ = c.add_stream("aac", rate=16000)
        as_.layout = "mono"
        i = 0
        for _ in range(loops):
            for f in frames:
                vf = av.VideoFrame.from_ndarray(f, format="rgb24")
                vf.pts, vf.time_base = i, Fraction(1, 25)
                i += 1
                for p in vs.encode(vf):
                    c.mux(p)
        for p in vs.encode():
            c.mux(p)
        pcm = np.tile(audio, loops).astype(np.float32)
        for k in range(0, len(pcm), 1024):
            af = av.AudioFrame.from_ndarray(
                pcm[k : k + 1024].reshape(1, -1), format="flt", layout="mono"
            )
            af.sample_rate, af.pts, af.time_base = 16000, k, Fraction(1, 16000)
            for p in as_.encode(af):
                c.mux(p)
        for p in as_.encode():
            c.mux(p)
    return i / 25


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="6 s video instead of 20 s")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--fps", type=float, nargs="*", default=[5.0], help="detect_fps values")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--video", type=Path, help="reuse (or build once into) this 720p file")
    ap.add_argument("--no-1080p", action="store_true", help="skip the real 1080p clips")
    args = ap.parse_args()
    if not GRID.is_file():
        print(f"missing {GRID}", file=sys.stderr)
        return 1
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))[: args.cores]
        os.sched_setaffinity(0, cpus)
    from vfbench.collect.config import CollectConfig
    from vfbench.collect.faces import _model, build_detector
    from vfbench.collect.pipeline import process_video
    from vfbench.collect.sources import VideoJob

    # model loading is a one-off cost per process, not per video
    from vfbench.collect.voice import voice_embedding

    build_detector("dlib_hog")
    for m in ("sp5", "sp68", "rec"):
        _model(m)
    # loads the voice encoder and JIT-compiles librosa's mel filters (numba): once per process
    voice_embedding(np.zeros(16000, np.float32), 16000)
    with tempfile.TemporaryDirectory() as tmp:
        vid = args.video or Path(tmp) / "talk720p.mp4"
        if vid.is_file():
            from vfbench.collect.video import probe

            dur = probe(vid).duration
            print(f"reusing {vid}: {dur:.1f} s")
        else:
            t0 = time.perf_counter()
            dur = build_720p(vid, 6.0 if args.quick else args.seconds)
            print(f"built {vid.name}: 1280x720, {dur:.1f} s in {time.perf_counter() - t0:.1f} s")
        # the floor: decoding every frame with PyAV, nothing else
        import av

        t0, c0 = time.perf_counter(), time.process_time()
        with av.open(str(vid)) as c:
            c.streams.video[0].thread_type = "AUTO"
            n = sum(1 for _ in c.decode(video=0))
        dec_wall, dec_cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"{'stage':<22} {'video s':>8} {'wall s':>7} {'cpu s':>6} {'x RT wall':>10} "
            f"{'x RT cpu':>9} {'faces':>6} {'voices':>7}"
        )
        print(
            f"{'decode only (' + str(n) + ' fr)':<22} {dur:>8.1f} {dec_wall:>7.2f} {dec_cpu:>6.2f} "
            f"{dur / dec_wall:>9.2f}x {dur / dec_cpu:>8.2f}x {'':>6} {'':>7}"
        )
        for fps in args.fps:
            cfg = CollectConfig()
            cfg.sampling.detect_fps = fps
            job = VideoJob(key=f"bench/fps{fps}", path=vid, identity="bench")
            out = Path(tmp) / f"out{fps}"
            t0, c0 = time.perf_counter(), time.process_time()
            process_video(job, cfg, out)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rec = json.loads((out / "videos" / job.key / "video.json").read_text())
            nf = sum(f["status"] == "kept" for f in rec["faces"])
            nv = sum(s["status"] == "kept" for s in rec["segments"])
            print(
                f"{'pipeline @' + format(fps, 'g') + ' fps':<22} {dur:>8.1f} {wall:>7.2f} {cpu:>6.2f} "
                f"{dur / wall:>9.2f}x {dur / cpu:>8.2f}x {nf:>6} {nv:>7}"
            )
        clips = [] if args.no_1080p else REAL_1080P[1:] if args.quick else REAL_1080P
        for clip in clips:
            if not clip.is_file():
                print(f"missing {clip}", file=sys.stderr)
                continue
            from vfbench.collect.video import probe

            dur = probe(clip).duration
            t0, c0 = time.perf_counter(), time.process_time()
            with av.open(str(clip)) as c:
                c.streams.video[0].thread_type = "AUTO"
                n = sum(1 for _ in c.decode(video=0))
            dec_wall, dec_cpu = time.perf_counter() - t0, time.process_time() - c0
            print(
                f"{'decode ' + clip.stem[:14]:<22} {dur:>8.1f} {dec_wall:>7.2f} {dec_cpu:>6.2f} "
                f"{dur / dec_wall:>9.2f}x {dur / dec_cpu:>8.2f}x {'':>6} {'':>7}"
            )
            job = VideoJob(key=f"bench/{clip.stem}", path=clip, identity="bench")
            out = Path(tmp) / clip.stem
            t0, c0 = time.perf_counter(), time.process_time()
            process_video(job, CollectConfig(), out)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            rec = json.loads((out / "videos" / job.key / "video.json").read_text())
            nf = sum(f["status"] == "kept" for f in rec["faces"])
            nv = sum(s["status"] == "kept" for s in rec["segments"])
            print(
                f"{'1080p ' + clip.stem[:16]:<22} {dur:>8.1f} {wall:>7.2f} {cpu:>6.2f} "
                f"{dur / wall:>9.2f}x {dur / cpu:>8.2f}x {nf:>6} {nv:>7}"
            )
        print(
            "x RT = video seconds per second of wall clock / of process CPU time (all threads); "
            f"load average {os.getloadavg()[0]:.1f} on {len(os.sched_getaffinity(0))} cores"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
