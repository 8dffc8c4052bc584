"""Preprocessing speed: items/s of our pipeline vs the raw library calls, 1 and 2 workers.

* voice: 8 s 16 kHz mono WAV clips -> 257 x 800 normalised spectrograms (float16 cache).
  Raw baseline: ``soundfile.read`` + a plain numpy STFT (framing, Hamming, ``np.fft.rfft``,
  magnitude) on the same files.
* face: 250 x 250 JPEGs cut from the real GRID clips -> dlib HOG detection + 5-point
  landmarks + similarity alignment to 112 x 112. Raw baseline: PIL decode + the dlib HOG
  detector alone (same upsampling).

Real-image face throughput (issue 15.5): faces/s at 1080p (real frames: the 1080x1920 HEVC
clips of ``../shared/media/real`` as they are, the 1280x720 ones scaled to 1920x1080) and at
250x250 (GRID crops), 1 and 2 workers, against the targets (2 cores, dlib HOG: >= 25 faces/s
at 1080p, >= 100 at 250x250), with the old single full-size detection pass for reference;
and one 8000x8000 JPEG in a fresh process: seconds and peak RSS (targets <= 2 s, <= 500 MB).

Overhead = raw items/s / our items/s - 1 (wall) and our CPU ms per item / raw - 1 (CPU
time, parent + workers: robust on a busy machine); target <= 15 %. Scaling = our items/s
with 2 workers / 1 worker (near 2 on 2 idle cores), and CPU per item 2 vs 1 worker (1.0 =
no parallel overhead). Also cache bytes per item and ``FeatureCache.load`` latency.

    .venv/bin/python benchmarks/bench_preprocess.py [--quick] [--voices N] [--faces N]
                                                    [--faces-1080p N] [--only-real]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("VFBENCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
GRID = [SHARED / "media" / "grid" / n for n in ("bbaf2n.mpg", "brbk7n.mpg")]
REAL = [
    SHARED / "media" / "real" / n
    for n in (
        "latentsync_demo1_woman_ru.mp4",
        "latentsync_demo2_man_pt.mp4",
        "visualvoice_interview_2spk_en.mp4",
        "visualvoice_restaurant_en.mp4",
    )
]
TARGETS = {"1080p": 25.0, "250x250": 100.0}  # faces/s on 2 cores with dlib HOG
BIG_SIDE = 8000


def make_voices(root: Path, n: int, seconds: float = 8.0) -> list[str]:
    import soundfile as sf

    root.mkdir(parents=True, exist_ok=True)
    sr = 16000
    t = np.arange(int(seconds * sr)) / sr
    names = []
    for k in range(n):
        rng = np.random.default_rng(k)
        f0 = 100 + 80 * rng.random()
        x = sum(np.sin(2 * np.pi * f0 * h * t + rng.random()) / h for h in range(1, 6))
        x = x * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)) + 0.01 * rng.standard_normal(t.size)
        name = f"v{k:04d}.wav"
        sf.write(root / name, (0.3 * x / np.abs(x).max()).astype(np.float32), sr)
        names.append(name)
    return names


def make_faces(root: Path, n: int) -> list[str]:
    import av
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    frames = []
    for clip in GRID:
        with av.open(str(clip)) as c:
            frames += [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    names = []
    for k in range(n):
        img = frames[(k * 7) % len(frames)]
        dx = 40 + (k % 5) * 5  # 360 x 288 frame -> 250 x 250 window around the face
        crop = np.ascontiguousarray(img[20:270, dx : dx + 250])
        if k % 2:
            crop = crop[:, ::-1]
        name = f"f{k:04d}.jpg"
        Image.fromarray(np.ascontiguousarray(crop)).save(root / name, quality=90)
        names.append(name)
    return names


def make_1080p(root: Path, n: int) -> list[str]:
    """``n`` 1080p JPEGs of real faces: frames of the real clips (1080x1920 as they are,
    1280x720 scaled to 1920x1080), spread over each clip's first 10 s."""
    import av
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    per = -(-n // len(REAL))
    frames: list[np.ndarray] = []
    for clip in REAL:
        got: list[np.ndarray] = []
        with av.open(str(clip)) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i % 9 == 0:
                    img = f.to_image()
                    if img.width * img.height < 1920 * 1080:
                        img = img.resize((1920, 1080), Image.Resampling.BILINEAR)
                    got.append(np.asarray(img))
                    if len(got) >= per:
                        break
        frames += got
    names = []
    for k, img in enumerate(frames[:n]):
        name = f"hd{k:04d}.jpg"
        Image.fromarray(img).save(root / name, quality=90)
        names.append(name)
    return names


_BIG_CHILD = """
import sys, time
def hwm():  # peak RSS in MB of this process image (ru_maxrss would carry the parent's over exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
t0 = time.perf_counter()
from vfbench.preprocess.config import FaceConfig
from vfbench.preprocess.face import get_detector, process_face
cfg = FaceConfig()
get_detector(cfg)
base = hwm()
t1 = time.perf_counter()
out, stats = process_face(sys.argv[1], cfg)
dt = time.perf_counter() - t1
peak = hwm()
print(dt, peak, base, stats["n_faces"], stats["image_wh"][0], stats["image_wh"][1])
"""


def big_image(root: Path) -> tuple[float, float, float, int, str]:
    """One 8000x8000 JPEG of a real face through ``process_face`` in a fresh process:
    (seconds, peak RSS MB, RSS MB before the image, faces found, decoded size)."""
    import subprocess

    import av
    from PIL import Image

    with av.open(str(REAL[0])) as c:
        frame = next(iter(c.decode(video=0))).to_image()
    sq = frame.crop((0, 420, 1080, 1500))  # the face and shoulders, square
    p = root / "big.jpg"
    sq.resize((BIG_SIDE, BIG_SIDE), Image.Resampling.BILINEAR).save(p, quality=90)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    res = subprocess.run(
        [sys.executable, "-c", _BIG_CHILD, str(p)], capture_output=True, text=True, env=env
    )
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip().splitlines()[-1])
    dt, peak, base, nf, w, h = res.stdout.split()
    return float(dt), float(peak), float(base), int(nf), f"{w}x{h}"


def real_images(n_hd: int, n_small: int, reps: int) -> int:
    """The issue-15.5 section: faces/s at 1080p and 250x250, 1 and 2 workers, the old
    single full-size pass for reference, and one 8000x8000 JPEG."""
    from vfbench.data.manifest import FaceItem, Identity, Manifest

    missing = [p for p in REAL + GRID if not p.is_file()]
    if missing:
        print(f"real clips not found: {missing}; set VFBENCH_SHARED", file=sys.stderr)
        return 2
    old = ("face.fast_side=0", "face.max_side=0")  # the old default: one full-size pass
    rows: list[tuple[str, str, float, int, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sets = {
            "1080p": make_1080p(root / "hd", n_hd),
            "250x250": make_faces(root / "small", n_small),
        }
        for name, names in sets.items():
            folder = "hd" if name == "1080p" else "small"
            m = root / f"manifest-{folder}"
            Manifest(
                [Identity("p0", split="train")],
                [],
                [FaceItem(n[:-4], "p0", n) for n in names],
                face_root=root / folder,
                name=name,
            ).save(m)
            shard = max(2, min(16, len(names) // 8))
            ours(m, root / f"warm-{folder}", "face", 2, shard, allow_failed=True)  # warm-up
            variants = [("1 worker", 1, ()), ("2 workers", 2, ())]
            variants.append(("old full-size pass, 1 worker", 1, old))
            for label, w, ov in variants:
                best = 0.0
                found = 0
                for r in range(1 if ov else reps):
                    out = root / f"c-{folder}-{w}-{len(ov)}-{r}"
                    (ips, _cpu_ms), _ = ours(m, out, "face", w, shard, ov, allow_failed=True)
                    best = max(best, ips)
                    from vfbench.preprocess.cache import FeatureCache

                    found = len(FeatureCache.open(out).ids("face"))
                rows.append((name, label, best, found, len(names)))
        big = big_image(root)
    print(f"\nreal-image faces (issue 15.5), dlib HOG, best of {reps}; load {os.getloadavg()}")
    print(f"{'images':8} {'pipeline':30} {'faces/s':>8} {'detected':>9} {'target':>8}")
    for name, label, ips, found, n in rows:
        tgt = TARGETS[name]
        mark = f">= {tgt:g}" + (" ok" if ips >= tgt else " MISS") if label == "2 workers" else ""
        print(f"{name:8} {label:30} {ips:8.1f} {found:4d}/{n:<4d} {mark:>8}")
    dt, peak, base, nf, wh = big
    print(
        f"one {BIG_SIDE}x{BIG_SIDE} JPEG: {dt:.2f} s, peak RSS {peak:.0f} MB ({base:.0f} MB "
        f"before the image), {nf} face(s), decoded at {wh}; targets <= 2 s, <= 500 MB: "
        + ("ok" if dt <= 2 and peak <= 500 else "MISS")
    )
    return 0


def _cpu() -> float:
    """CPU seconds of this process plus its finished children (worker processes)."""
    import resource

    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


Figure = tuple[float, float]  # (wall items/s, CPU ms per item)


def raw_voice(paths: list[Path]) -> Figure:
    """soundfile.read + numpy STFT magnitude on each file."""
    import soundfile as sf

    w = np.hamming(400)
    t0, c0 = time.perf_counter(), _cpu()
    for p in paths:
        x, _ = sf.read(p, dtype="float32")
        n = len(x) // 160
        x = np.pad(x, (0, 240))
        frames = np.lib.stride_tricks.sliding_window_view(x, 400)[::160][:n]
        np.abs(np.fft.rfft(frames * w, n=512, axis=1))
    return len(paths) / (time.perf_counter() - t0), 1e3 * (_cpu() - c0) / len(paths)


def raw_face(paths: list[Path], upsample: int = 1) -> Figure:
    """PIL decode + the dlib HOG detector alone on each file."""
    import dlib
    from PIL import Image

    det = dlib.get_frontal_face_detector()
    t0, c0 = time.perf_counter(), _cpu()
    for p in paths:
        with Image.open(p) as im:
            img = np.asarray(im.convert("RGB"))
        det(img, upsample)
    return len(paths) / (time.perf_counter() - t0), 1e3 * (_cpu() - c0) / len(paths)


def ours(
    manifest: Path,
    out: Path,
    modality: str,
    workers: int,
    shard_size: int,
    overrides: tuple[str, ...] = (),
    allow_failed: bool = False,
) -> tuple[Figure, int]:
    """Our pipeline into a fresh cache -> ((items/s, CPU ms/item), cache bytes per item).

    items/s is the processing rate the run reports (one-time imports excluded); CPU time
    covers the whole call, the parent and its worker processes.
    """
    from vfbench.config import load_config
    from vfbench.preprocess.config import PreprocessConfig
    from vfbench.preprocess.run import preprocess

    cfg = load_config(PreprocessConfig, None, [f"shard_size={shard_size}", *overrides])
    c0 = _cpu()
    s = preprocess(
        manifest, out, cfg, modality=modality, workers=workers, progress=False, write_qc=False
    )
    cpu = 1e3 * (_cpu() - c0)
    m = s.modalities[modality]
    assert allow_failed or m.failed == 0, m.failed_by_code
    size = sum(p.stat().st_size for p in out.glob(f"{modality}-*/shard-*"))
    return (m.items_per_second, cpu / max(1, m.processed)), size // max(1, m.processed)


def load_latency(cache_dir: Path) -> dict[str, float]:
    """Microseconds per FeatureCache.load (voice, face) and per VoiceDataset item."""
    from vfbench.preprocess.cache import FeatureCache

    cache = FeatureCache.open(cache_dir)
    out = {}
    for mod in cache.modalities:
        ids = cache.ids(mod)
        t0 = time.perf_counter()
        reps = max(1, 2000 // len(ids))
        for _ in range(reps):
            for i in ids:
                cache.load(mod, i)
        out[f"load {mod} (us)"] = 1e6 * (time.perf_counter() - t0) / (reps * len(ids))
    if "voice" not in cache.modalities:
        return out
    try:
        from vfbench.preprocess.datasets import VoiceDataset

        ds = VoiceDataset(cache, cache.ids("voice"), crop_seconds=2.5, train=True)
        t0 = time.perf_counter()
        for i in range(len(ds)):
            ds[i]
        out["VoiceDataset item (us)"] = 1e6 * (time.perf_counter() - t0) / len(ds)
    except ImportError:
        pass
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few items (a smoke run)")
    ap.add_argument("--voices", type=int, default=None)
    ap.add_argument("--faces", type=int, default=None)
    ap.add_argument("--reps", type=int, default=2, help="repetitions (best of) per figure")
    ap.add_argument("--faces-1080p", type=int, default=None, help="1080p images (48)")
    ap.add_argument("--only-real", action="store_true", help="only the real-image section")
    args = ap.parse_args(argv)
    n_hd = args.faces_1080p or (12 if args.quick else 48)
    if args.only_real:
        return real_images(n_hd, args.faces or (24 if args.quick else 160), args.reps)
    n_v = args.voices or (24 if args.quick else 160)
    n_f = args.faces or (24 if args.quick else 160)
    if not all(p.is_file() for p in GRID):
        print(f"GRID clips not found under {SHARED}; set VFBENCH_SHARED", file=sys.stderr)
        return 2

    from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        vnames = make_voices(root / "voices", n_v)
        fnames = make_faces(root / "faces", n_f)
        Manifest(
            [Identity("p0", split="train")],
            [VoiceItem(n[:-4], "p0", n) for n in vnames],
            [FaceItem(n[:-4], "p0", n) for n in fnames],
            voice_root=root / "voices",
            face_root=root / "faces",
            name="bench",
        ).save(root / "manifest")
        vpaths = [root / "voices" / n for n in vnames]
        fpaths = [root / "faces" / n for n in fnames]
        raw_voice(vpaths[:2])  # warm imports and page cache
        raw_face(fpaths[:2])
        shard_size = max(2, min(32, len(vnames) // 8))  # >= 8 shards so 2 workers balance
        for mod in ("voice", "face"):  # warm our imports and the detector (one-time costs)
            for w in (1, 2):  # (the first pool also pays the parent's decoder imports)
                ours(root / "manifest", root / f"warm-{mod}-{w}", mod, w, shard_size)
        reps = 1 if args.quick else args.reps
        variants: dict[str, list[tuple[str, int, tuple[str, ...]]]] = {
            "voice": [
                ("ours, 1 worker", 1, ()),
                ("ours, 2 workers", 2, ()),
                ("ours, 1 worker, fsync", 1, ("fsync=true",)),
                ("ours, 1 worker, float32 store", 1, ("audio.store_dtype=float32",)),
            ],
            "face": [
                ("ours, 1 worker", 1, ()),
                ("ours, 2 workers", 2, ()),
                ("ours, 1 worker, fsync", 1, ("fsync=true",)),
                ("ours, 1 worker, box crop", 1, ("face.align=box",)),
            ],
        }
        table: list[tuple[str, str, Figure, Figure, int]] = []
        for mod, raw_fn, paths in (("voice", raw_voice, vpaths), ("face", raw_face, fpaths)):
            best: dict[str, Figure] = {}
            sizes: dict[str, int] = {}

            def keep(label: str, fig: Figure, best: dict[str, Figure] = best) -> None:
                old = best.get(label, (0.0, float("inf")))  # best of: max rate, min CPU
                best[label] = (max(old[0], fig[0]), min(old[1], fig[1]))

            for r in range(reps):  # interleaved repetitions: load on a shared machine
                keep("raw library calls", raw_fn(paths))
                for k, (label, w, ov) in enumerate(variants[mod]):
                    fig, nbytes = ours(
                        root / "manifest", root / f"c{k}-{mod}-{r}", mod, w, shard_size, ov
                    )
                    keep(label, fig)
                    sizes[label] = nbytes
            raw = best["raw library calls"]
            for label, fig in best.items():
                table.append((mod, label, fig, raw, sizes.get(label, 0)))
        lat = load_latency(root / "c0-voice-0")
        lat.update({k: v for k, v in load_latency(root / "c0-face-0").items() if "face" in k})

    print(f"cpus: {os.cpu_count()}; {n_v} voices (8 s), {n_f} faces (250x250); best of {reps}")
    hdr = (
        f"{'modality':8} {'pipeline':32} {'items/s':>8} {'wall ovh':>9}"
        f" {'CPU ms/item':>12} {'CPU ovh':>8} {'bytes/item':>11}"
    )
    print(hdr)
    print("-" * len(hdr))
    for mod, label, (ips, cpu), (raw_ips, raw_cpu), nbytes in table:
        wall_ovh = (
            f"{100 * (raw_ips / ips - 1):8.1f}%" if label != "raw library calls" else f"{'':9}"
        )
        cpu_ovh = (
            f"{100 * (cpu / raw_cpu - 1):7.1f}%" if label != "raw library calls" else f"{'':8}"
        )
        size = f"{nbytes:11,d}" if nbytes else ""
        print(f"{mod:8} {label:32} {ips:8.1f} {wall_ovh} {cpu:12.1f} {cpu_ovh} {size}")
    print()
    for mod in ("voice", "face"):
        rows = {label: fig for m, label, fig, _, _ in table if m == mod}
        one, two = rows["ours, 1 worker"], rows["ours, 2 workers"]
        print(
            f"{mod}: 2 workers / 1 worker = {two[0] / one[0]:.2f}x items/s (wall); CPU per item"
            f" {two[1] / one[1]:.2f}x (1.00 = no parallel overhead: linear on free cores)"
        )
    print()
    for k, v in lat.items():
        print(f"{k}: {v:.1f}")
    return real_images(n_hd, n_f, 1 if args.quick else args.reps)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
