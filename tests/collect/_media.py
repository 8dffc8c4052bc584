"""Builds the small test videos from the real GRID talking-head clips (PyAV only).

Every video is 320x240, 25 fps, ~3 s, H.264 + AAC in MP4, composited from the frames and
audio of ``/work/shared/media/grid/*.mpg`` (one male and one female speaker).
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

GRID_M = "bbaf2n.mpg"  # male speaker
GRID_F = "brbk7n.mpg"  # female speaker
W, H, FPS = 320, 240, 25


def load_grid(
    path: Path, zoom: float = 1.0, centre: tuple[int, int] = (169, 193)
) -> tuple[list[np.ndarray], np.ndarray, int]:
    """(frames (288, 360, 3) uint8 list, mono float32 audio at 0.6x level, sample rate).

    ``zoom`` > 1 enlarges the face about ``centre`` (x, y) so dlib's HOG detector (faces
    from ~110 px at upsample 0) finds it reliably; the GRID audio peaks above full scale
    after decoding, hence the 0.6 gain.
    """
    from PIL import Image

    frames = []
    with av.open(str(path)) as c:
        for fr in c.decode(video=0):
            img = fr.to_image()
            if zoom != 1.0:
                w, h = img.size
                img = img.resize((round(w * zoom), round(h * zoom)), Image.Resampling.BILINEAR)
                cx, cy = round(centre[0] * zoom), round(centre[1] * zoom)
                x0 = min(max(0, cx - w // 2), img.size[0] - w)
                y0 = min(max(0, cy - h // 2), img.size[1] - h)
                img = img.crop((x0, y0, x0 + w, y0 + h))
            frames.append(np.asarray(img.convert("RGB")))
    with av.open(str(path)) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=16000)
        chunks = []
        for fr in c.decode(audio=0):
            for o in rs.resample(fr):
                chunks.append(o.to_ndarray().reshape(-1))
    return frames, (0.6 * np.concatenate(chunks)).astype(np.float32), 16000


def write_video(
    path: Path,
    frames: list[np.ndarray],
    audio: np.ndarray | None,
    sr: int = 16000,
    fps: int = FPS,
) -> Path:
    """Encode RGB frames (+ optional mono float audio) as H.264/AAC MP4."""
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height = frames[0].shape[1], frames[0].shape[0]
        vs.pix_fmt = "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "20"}
        as_ = None
        if audio is not None:
            as_ = c.add_stream("aac", rate=sr)
            as_.layout = "mono"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            vf.time_base = Fraction(1, fps)
            for p in vs.encode(vf):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if as_ is not None and audio is not None:
            n = 1024
            pcm = np.clip(audio, -1, 1).astype(np.float32)
            for k in range(0, len(pcm), n):
                block = pcm[k : k + n]
                af = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout="mono")
                af.sample_rate = sr
                af.pts = k
                af.time_base = Fraction(1, sr)
                for p in as_.encode(af):
                    c.mux(p)
            for p in as_.encode():
                c.mux(p)
    return path


def moving_crop(frames: list[np.ndarray], amp: int = 12) -> list[np.ndarray]:
    """320x240 window sliding sideways over the 360x288 GRID frames (the face moves)."""
    out = []
    for i, f in enumerate(frames):
        x = 20 + int(round(amp * math.sin(2 * math.pi * i / len(frames))))
        out.append(np.ascontiguousarray(f[40 : 40 + H, x : x + W]))
    return out


def side_by_side(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    """Two 160-px-wide face columns in one 320x240 frame."""
    n = min(len(a), len(b))
    return [
        np.ascontiguousarray(
            np.concatenate([a[i][40 : 40 + H, 75:235], b[i][40 : 40 + H, 100:260]], axis=1)
        )
        for i in range(n)
    ]


def build_set(grid_dir: Path, out: Path) -> dict[str, Path]:
    """The test cases; returns name -> path.

    ``m_*`` show the male speaker (identity ``spk_m``), ``f_*`` the female (``spk_f``):
    clean single speaker, two faces (both GRID speakers side by side, male audio), silence,
    no audio stream, a dubbed still photo, and a corrupt file (random bytes).
    """
    out.mkdir(parents=True, exist_ok=True)
    fm, am, sr = load_grid(grid_dir / GRID_M)
    ff, af, _ = load_grid(grid_dir / GRID_F, zoom=1.3)
    rng = np.random.default_rng(0)
    vids = {
        "m_clean": write_video(out / "m_clean.mp4", moving_crop(fm), am, sr),
        "m_two_faces": write_video(out / "m_two_faces.mp4", side_by_side(fm, ff), am, sr),
        "m_silence": write_video(
            out / "m_silence.mp4",
            moving_crop(fm),
            (rng.standard_normal(len(am)) * 1e-4).astype(np.float32),
            sr,
        ),
        "m_no_audio": write_video(out / "m_no_audio.mp4", moving_crop(fm), None),
        "f_clean": write_video(out / "f_clean.mp4", moving_crop(ff), af, sr),
        # a still photo of the female speaker over the male voice: nobody on screen talks
        "f_dubbed": write_video(out / "f_dubbed.mp4", moving_crop([ff[30]] * len(ff), 0), am, sr),
    }
    bad = out / "f_corrupt.mp4"
    bad.write_bytes(rng.integers(0, 256, 20000, dtype=np.uint8).tobytes())
    vids["f_corrupt"] = bad
    return vids
