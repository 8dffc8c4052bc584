"""Speed of ``vfbench synth``: the default corpus with 1 and 2 workers.

    .venv/bin/python benchmarks/bench_synth.py [--quick] [--identities N] [--keep DIR]

Prints wall time, CPU time (this process + its workers), files/s, MB written, and the
per-item render cost. CPU seconds are the robust figure on a shared machine: wall time
on an idle 2-core machine is about max(CPU / 2, CPU of the slowest worker). The corpus
hash is printed for both runs: they must be equal (output does not depend on workers).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vfbench.data.synthetic import SynthConfig, generate_corpus, sample_traits
from vfbench.data.synthetic.faces import encode_jpeg, face_look, jpeg_quality, render_face
from vfbench.data.synthetic.traits import identity_rng
from vfbench.data.synthetic.voices import render_voice, session_channel, to_pcm16, voice_profile


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def per_item(n: int = 40) -> tuple[float, float]:
    """CPU ms per face image (render + JPEG) and per second of audio (render + PCM)."""
    t = sample_traits(SynthConfig(), n)
    c0 = time.process_time()
    for i in range(n):
        rng = identity_rng(0, i, 1, 0)
        encode_jpeg(render_face(face_look(t.face[i], t.face_private[i]), rng), jpeg_quality(rng))
    face_ms = (time.process_time() - c0) / n * 1000
    c0 = time.process_time()
    for i in range(n):
        prof = voice_profile(t.voice[i], t.voice_private[i])
        ch = session_channel(identity_rng(0, i, 3, 0), 16000)
        to_pcm16(render_voice(prof, ch, identity_rng(0, i, 2, 0), 4.0))
    voice_ms = (time.process_time() - c0) / (4.0 * n) * 1000
    return face_ms, voice_ms


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="60 identities instead of 400")
    ap.add_argument("--identities", type=int, default=None)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    n = args.identities or (60 if args.quick else 400)
    cfg = SynthConfig(identities=n)
    face_ms, voice_ms = per_item()
    print(f"render cost: {face_ms:.1f} ms CPU per face, {voice_ms:.1f} ms CPU per second of audio")
    rows = []
    for w in args.workers:
        tmp = Path(tempfile.mkdtemp(prefix="bench_synth_"))
        try:
            c0, t0 = _cpu(), time.perf_counter()
            res = generate_corpus(tmp / "c", cfg, workers=w, progress=False, oracle=False)
            wall, cpu = time.perf_counter() - t0, _cpu() - c0
            files = res.voices + res.faces
            rows.append((w, wall, cpu, files / wall, res.bytes / 1e6, res.corpus_sha256[:12]))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ncorpus: {n} identities x ({cfg.faces_per_id} faces + {cfg.voices_per_id} voices)")
    print(f"{'workers':>7} {'wall s':>8} {'CPU s':>8} {'files/s':>8} {'MB':>8}  corpus sha256")
    for w, wall, cpu, rate, mb, sha in rows:
        print(f"{w:>7} {wall:8.1f} {cpu:8.1f} {rate:8.0f} {mb:8.1f}  {sha}")
    if len(rows) > 1:
        print(f"speed-up {rows[0][1] / rows[-1][1]:.2f}x with {rows[-1][0]} workers")
        same = len({r[5] for r in rows}) == 1
        print("identical output across worker counts:", same)
        if not same:
            return 1
    print(f"load average now: {np.round(np.array(__import__('os').getloadavg()), 2).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
