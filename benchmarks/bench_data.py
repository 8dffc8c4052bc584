"""Data-layer speed: scanning, header probing and media validation on a VoxCeleb1-like tree.

Builds ``N`` 4-second 16 kHz wav files (``wav/idXXXXX/<video>/<n>.wav``) and ``N``
224x224 jpg faces (``<Name>/<n>.jpg``) for 100 identities in a temp folder, then times

* ``scan``: ``prepare_vox_vgg1(..., probe=False)`` (walk + join + split, no file opened);
* ``probe 1 thread`` vs ``probe N threads``: ``prepare_vox_vgg1(..., probe=True)``;
* ``naive decode``: what a loader that decodes every file would pay
  (``soundfile.read`` + ``PIL.Image.load``), single thread;
* ``validate``: ``validate_manifest(check_media=True)`` (stat + header probe of each file).

Ratios (probe vs naive decode, threads vs 1 thread) are robust to machine load; absolute
files/s are noisy on a shared 2-core machine.

    .venv/bin/python benchmarks/bench_data.py [--quick] [--n 4000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def build(root: Path, n: int, n_ids: int = 100) -> tuple[Path, Path]:
    import soundfile as sf
    from PIL import Image

    from vfbench.data.recipes._meta import read_vox1_meta

    rows = read_vox1_meta()[:n_ids]
    rng = np.random.default_rng(0)
    audio = (0.05 * rng.standard_normal(4 * 16000)).astype(np.float32)
    img = Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8))
    for k in range(n):
        r = rows[k % n_ids]
        p = root / "wav" / r.id / f"v{k % 7:010d}" / f"{k:05d}.wav"
        p.parent.mkdir(parents=True, exist_ok=True)
        sf.write(p, audio, 16000)
        q = root / "faces" / r.face_id / f"{k:08d}.jpg"
        q.parent.mkdir(parents=True, exist_ok=True)
        img.save(q, quality=85)
    return root / "wav", root / "faces"


def timed(fn, *a, **kw):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t0


def naive(m) -> None:  # type: ignore[no-untyped-def]
    import soundfile as sf
    from PIL import Image

    for v in m.voices:
        sf.read(m.voice_path(v))
    for f in m.faces:
        with Image.open(m.face_path(f)) as im:
            im.load()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="400 files per modality")
    ap.add_argument("--n", type=int, default=None, help="files per modality (default 4000)")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    n = args.n or (400 if args.quick else 4000)

    from vfbench.data.media import default_workers
    from vfbench.data.recipes.vox_vgg1 import prepare_vox_vgg1
    from vfbench.data.validate import validate_manifest

    workers = args.workers or default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        (wav, faces), t_build = timed(build, Path(tmp), n)
        kw = {"split": "random", "progress": False}
        m0, t_scan = timed(prepare_vox_vgg1, wav, faces, probe=False, **kw)
        _, t_p1 = timed(prepare_vox_vgg1, wav, faces, probe=True, workers=1, **kw)
        m, t_pn = timed(prepare_vox_vgg1, wav, faces, probe=True, workers=workers, **kw)
        _, t_naive = timed(naive, m)
        rep, t_val = timed(validate_manifest, m, True, workers=workers)
        assert rep.ok and len(m.voices) == n and len(m.faces) == n, rep.summary()
        files = 2 * n
        rows = [
            ("build fixture (not measured work)", t_build, ""),
            ("scan only (probe=False)", t_scan, f"{files / t_scan:,.0f} files/s"),
            ("prepare, probe 1 thread", t_p1, f"{files / t_p1:,.0f} files/s"),
            (f"prepare, probe {workers} threads", t_pn, f"{files / t_pn:,.0f} files/s"),
            ("naive full decode, 1 thread", t_naive, f"{files / t_naive:,.0f} files/s"),
            (f"validate (media), {workers} threads", t_val, f"{files / t_val:,.0f} files/s"),
        ]
        print(f"data bench: {n} wav (4 s, 16 kHz) + {n} jpg (224x224), cpus={os.cpu_count()}")
        print(f"{'step':40s} {'seconds':>9s}  rate")
        for name, t, rate in rows:
            print(f"{name:40s} {t:9.2f}  {rate}")
        print(f"ratio probe(1 thread) / naive decode time: {t_p1 / t_naive:.2f}")
        print(f"speed-up {workers} threads vs 1 thread:   {t_p1 / t_pn:.2f}x")
        print(
            f"projected prepare for 150k+150k files at this rate: {300_000 / (files / t_pn) / 60:.1f} min"
        )
        assert m0.identities  # the scan found the identities


if __name__ == "__main__":
    main()
