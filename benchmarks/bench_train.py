"""Training speed: feature-mode steps/s, CPU-config steps/s, encoder forward throughput,
and the feature preparation of configs/trinet_pretrained.yaml (packaged resemblyzer and
dlib encoders: items/s on 3 s of real speech and on 150x150 face chips).

    .venv/bin/python benchmarks/bench_train.py [--quick] [--device cpu|cuda]

Prints a table. Inputs are random tensors of the real shapes (voice 257 x 250 = 2.5 s,
face 3 x 112 x 112), so no corpus is needed. Timings on a shared machine are noisy; the
ratio "feature mode vs. backbone-in-the-loop" is the robust figure.
"""

from __future__ import annotations

import argparse
import time

import torch

from vfbench.models.encoders import create_encoder, out_dim
from vfbench.models.heads import TriNetHead
from vfbench.train.losses import create_loss


def _time(fn, min_s: float, min_iter: int = 3) -> float:
    """Seconds per call of ``fn`` (after one warm-up call)."""
    fn()
    n, t0 = 0, time.perf_counter()
    while n < min_iter or time.perf_counter() - t0 < min_s:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def heads_step(P: int, dv: int, df: int, device: str, dim: int = 128):
    """One feature-mode TriNet step: two heads + Eq. 1 + Adam on cached features."""
    vh, fh = TriNetHead(dv, dim).to(device), TriNetHead(df, dim).to(device)
    opt = torch.optim.Adam([*vh.parameters(), *fh.parameters()], lr=1e-3)
    loss = create_loss("trinet_triplet")
    xv, xf = torch.randn(P, dv, device=device), torch.randn(P, df, device=device)
    lab = torch.arange(P, device=device)

    def step() -> None:
        out = loss(vh(xv), lab, fh(xf), lab)
        opt.zero_grad()
        out.backward()
        opt.step()
        _sync(device)

    return step


def face_finetune_step(P: int, device: str):
    """One step with the small face CNN trained and voice features cached (P faces)."""
    fb = create_encoder("small_cnn", "face").to(device)
    vh, fh = TriNetHead(256, 128).to(device), TriNetHead(out_dim(fb), 128).to(device)
    opt = torch.optim.Adam(
        [
            {"params": [*vh.parameters(), *fh.parameters()]},
            {"params": list(fb.parameters()), "lr": 1e-4},
        ],
        lr=1e-3,
    )
    loss = create_loss("trinet_triplet")
    xv, xf = torch.randn(P, 256, device=device), torch.randn(P, 3, 112, 112, device=device)
    lab = torch.arange(P, device=device)

    def step() -> None:
        out = loss(vh(xv), lab, fh(fb(xf)), lab)
        opt.zero_grad()
        out.backward()
        opt.step()
        _sync(device)

    return step


ENCODERS = [
    ("small_cnn", "voice"), ("small_cnn", "face"), ("dimnet_cnn1d", "voice"),
    ("vgg_m", "voice"), ("vgg_m", "face"), ("thin_resnet34", "voice"),
    ("resnet50", "face"), ("se_resnet50", "face"), ("iresnet50", "face"),
]  # fmt: skip


def encoder_throughput(name: str, modality: str, batch: int, device: str, min_s: float) -> float:
    enc = create_encoder(name, modality).to(device).eval()
    shape = (batch, 3, 112, 112) if modality == "face" else (batch, 1, 257, 250)
    x = torch.randn(*shape, device=device)

    def fwd() -> None:
        with torch.no_grad():
            enc(x)
        _sync(device)

    return batch / _time(fwd, min_s)


def packaged_throughput(min_s: float) -> list[tuple[str, str]]:
    """items/s of the packaged frozen encoders (feature preparation of trinet_pretrained)."""
    import numpy as np

    rows = []
    rng = np.random.default_rng(0)
    try:
        voice = create_encoder("resemblyzer", "voice")
        t = np.arange(48000) / 16000  # 3 s: a voiced harmonic signal with noise
        wav = (0.3 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t))
               + 0.02 * rng.normal(size=t.size)).astype(np.float32)  # fmt: skip
        s = _time(lambda: voice.embed_items([wav] * 4), min_s)
        rows.append(("resemblyzer (3 s utterances)", f"{4 / s:10.1f} items/s"))
    except Exception as exc:  # optional package missing
        rows.append(("resemblyzer", f"skipped ({type(exc).__name__})"))
    try:
        face = create_encoder("dlib_face", "face")
        chip = rng.integers(0, 255, size=(150, 150, 3), dtype=np.uint8)
        s = _time(lambda: face.embed_items([chip] * 4), min_s)
        rows.append(("dlib_face (150x150 chips)", f"{4 / s:10.1f} items/s"))
    except Exception as exc:
        rows.append(("dlib_face", f"skipped ({type(exc).__name__})"))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = a.device
    name = (
        torch.cuda.get_device_name(0)
        if dev.startswith("cuda")
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    min_s = 0.5 if a.quick else 2.0
    print(f"device: {name}; torch {torch.__version__}")
    print(f"{'what':48s} {'figure':>14s}")
    rows = []
    for P in (32, 56):
        s = _time(heads_step(P, 256, 128, dev), min_s)
        rows.append((f"feature mode step (P={P}, heads only)", f"{1 / s:10.0f} steps/s"))
    s_ft = _time(face_finetune_step(32, dev), min_s)
    rows.append(("CPU config step, face CNN trained (P=32)", f"{1 / s_ft:10.1f} steps/s"))
    s_fm = _time(heads_step(32, 256, 128, dev), min_s)
    rows.append(("ratio feature mode / face-in-the-loop (P=32)", f"{s_ft / s_fm:10.0f} x"))
    encs = ENCODERS[:3] if a.quick else ENCODERS
    for n, m in encs:
        ips = encoder_throughput(n, m, 8 if not dev.startswith("cuda") else 64, dev, min_s)
        rows.append((f"forward {n} ({m})", f"{ips:10.1f} items/s"))
    rows += packaged_throughput(min_s)
    for k, v in rows:
        print(f"{k:48s} {v:>14s}")


if __name__ == "__main__":
    main()
