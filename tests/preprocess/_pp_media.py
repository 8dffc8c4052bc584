"""Media builders for the preprocessing tests: real-format audio/video/images, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem

GRID = ("bbaf2n.mpg", "brbk7n.mpg")


def speechlike(seconds: float, sr: int, seed: int = 0, amp: float = 0.3) -> np.ndarray:
    """Harmonic tone bursts with a syllable-rate envelope: (N,) float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    f0 = 110 + 60 * rng.random()
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.random()) / k for k in range(1, 6))
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) + 0.05
    x = x * env + 0.01 * rng.standard_normal(t.size)
    return (amp * x / np.max(np.abs(x))).astype(np.float32)


def write_av_audio(
    path: Path, x: np.ndarray, sr: int, fmt: str, codec: str, video: bool = False
) -> None:
    """Encode mono/stereo ``x`` ((N,) or (C, N)) with PyAV (AAC in mp4/m4a, mp3 ...)."""
    import av

    x2 = x[None] if x.ndim == 1 else x
    layout = "mono" if x2.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", format=fmt) as c:
        vs = None
        if video:
            vs = c.add_stream("mpeg4", rate=25)
            vs.width, vs.height, vs.pix_fmt = 64, 64, "yuv420p"
        s = c.add_stream(codec, rate=sr)
        s.layout = layout
        fs = 1152 if codec == "mp3" else 1024
        for i in range(0, x2.shape[1], fs):
            chunk = np.ascontiguousarray(x2[:, i : i + fs], dtype=np.float32)
            if codec == "aac" or codec == "mp3":
                fr = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            else:
                fr = av.AudioFrame.from_ndarray(chunk.T.reshape(1, -1), format="flt", layout=layout)
            fr.sample_rate = sr
            fr.pts = i
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
        if vs is not None:
            for k in range(int(x2.shape[1] / sr * 25)):
                img = np.full((64, 64, 3), (k * 7) % 255, np.uint8)
                for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(p)
            for p in vs.encode(None):
                c.mux(p)


def write_video_only(path: Path, fmt: str = "mp4") -> None:
    import av

    with av.open(str(path), "w", format=fmt) as c:
        vs = c.add_stream("mpeg4", rate=25)
        vs.width, vs.height, vs.pix_fmt = 64, 64, "yuv420p"
        for k in range(10):
            img = np.full((64, 64, 3), k * 20, np.uint8)
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in vs.encode(None):
            c.mux(p)


def grid_frames(shared: Path, every: int = 25) -> dict[str, list[np.ndarray]]:
    """RGB frames of the two real GRID clips: {clip name: [(288, 360, 3) uint8, ...]}."""
    import av

    out: dict[str, list[np.ndarray]] = {}
    for name in GRID:
        with av.open(str(shared / "media" / "grid" / name)) as c:
            out[name] = [
                np.ascontiguousarray(f.to_ndarray(format="rgb24"))
                for i, f in enumerate(c.decode(video=0))
                if i % every == 0
            ]
    return out


REAL = (
    "real/latentsync_demo1_woman_ru.mp4",  # HEVC 1080x1920 portrait
    "real/latentsync_demo2_man_pt.mp4",  # HEVC 1080x1920, beard
    "real/mimictalk_german_news_de.mp4",  # h264 512x512
    "real/real3dportrait_may_en.mp4",  # h264 512x512
    "real/visualvoice_interview_2spk_en.mp4",  # h264 1280x720, two people side by side
    "real/visualvoice_restaurant_en.mp4",  # h264 1280x720
    "grid/bbaf2n.mpg",
    "grid/brbk7n.mpg",
)


def clip_frames(path: Path, every: int = 12, n: int = 3) -> list[np.ndarray]:
    """``n`` RGB frames (every ``every``-th from the start) of a real clip, cut with PyAV."""
    import av

    out: list[np.ndarray] = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % every == 0:
                out.append(np.ascontiguousarray(f.to_ndarray(format="rgb24")))
                if len(out) >= n:
                    break
    return out


def three_faces(
    frames: dict[str, list[np.ndarray]],
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 600x300 collage of three real faces at different scales; returns it and the
    (left, top, right, bottom) of the largest pasted face region."""
    from PIL import Image

    a, b = frames[GRID[0]][1], frames[GRID[1]][1]
    canvas = Image.new("RGB", (720, 340), (30, 60, 200))
    canvas.paste(Image.fromarray(a).resize((180, 144)), (0, 100))  # small
    big = Image.fromarray(b).resize((360, 288))
    canvas.paste(big, (180, 26))  # largest
    canvas.paste(Image.fromarray(a).resize((216, 173)), (504, 80))
    return np.asarray(canvas), (180, 26, 540, 314)


def build_media_tree(root: Path, frames: dict[str, list[np.ndarray]] | None = None) -> Manifest:
    """A corpus with good and bad voices/faces in real formats; returns its manifest.

    Voice ids starting with ``ok_`` and face ids starting with ``ok_`` must be cached;
    ``bad_<code>_...`` items must fail with ``<code>``.
    """
    import soundfile as sf
    from PIL import Image

    vroot, froot = root / "voices", root / "faces"
    vroot.mkdir(parents=True)
    froot.mkdir(parents=True)
    voices: list[VoiceItem] = []
    faces: list[FaceItem] = []

    def v(item_id: str, rel: str, ident: str = "p1") -> None:
        voices.append(VoiceItem(item_id, ident, rel))

    sf.write(vroot / "a.wav", speechlike(1.5, 16000, 1), 16000)
    v("ok_wav16k", "a.wav")
    st = np.stack([speechlike(2.0, 44100, 2), speechlike(2.0, 44100, 3)], axis=1)
    sf.write(vroot / "b.flac", st, 44100)
    v("ok_flac_stereo44k", "b.flac", "p2")
    write_av_audio(vroot / "c.m4a", speechlike(1.2, 44100, 4), 44100, "mp4", "aac")
    v("ok_m4a", "c.m4a")
    write_av_audio(vroot / "d.mp4", speechlike(1.0, 48000, 5), 48000, "mp4", "aac", video=True)
    v("ok_mp4_av", "d.mp4", "p2")
    (vroot / "zero.wav").write_bytes(b"")
    v("bad_zero_bytes", "zero.wav")
    sf.write(vroot / "short.wav", speechlike(0.1, 16000, 6), 16000)
    v("bad_too_short", "short.wav")
    write_video_only(vroot / "noaudio.m4a")
    v("bad_no_audio_stream", "noaudio.m4a")
    sf.write(vroot / "silent.wav", np.zeros(16000, np.float32), 16000)
    v("bad_silent", "silent.wav")
    sf.write(vroot / "clip.wav", np.clip(speechlike(1.0, 16000, 7, amp=1.0) * 8, -1, 1), 16000)
    v("bad_clipped", "clip.wav")
    (vroot / "garbage.mp3").write_bytes(b"this is not an mp3 file at all" * 20)
    v("bad_undecodable", "garbage.mp3")
    v("bad_path_escape", "../../outside.wav")

    if frames is not None:
        for k, img in enumerate(frames[GRID[0]][:3] + frames[GRID[1]][:3]):
            Image.fromarray(img).save(froot / f"f{k}.jpg", quality=92)
            faces.append(FaceItem(f"ok_grid{k}", "p1" if k < 3 else "p2", f"f{k}.jpg"))
        collage, _ = three_faces(frames)
        Image.fromarray(collage).save(froot / "three.png")
        faces.append(FaceItem("ok_three_faces", "p2", "three.png"))
        good = (froot / "f0.jpg").read_bytes()
        (froot / "corrupt.jpg").write_bytes(good[: len(good) // 3])
        faces.append(FaceItem("bad_undecodable_jpeg", "p1", "corrupt.jpg"))
        (froot / "trunc_header.jpg").write_bytes(good[:40])
        faces.append(FaceItem("bad_undecodable_header", "p1", "trunc_header.jpg"))
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:250, 0:250]
    noface = np.stack([xx % 256, yy % 256, (xx + yy) % 256], axis=2).astype(np.uint8)
    noface = np.clip(noface + rng.integers(0, 20, noface.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noface).save(froot / "noface.jpg")
    faces.append(FaceItem("bad_no_face", "p1", "noface.jpg"))
    faces.append(FaceItem("bad_path_escape", "p1", "../voices/a.wav"))
    (froot / "zero.jpg").write_bytes(b"")
    faces.append(FaceItem("bad_zero_bytes", "p2", "zero.jpg"))
    ids = [Identity("p1", "m", split="train"), Identity("p2", "f", split="train")]
    m = Manifest(ids, voices, faces, voice_root=vroot, face_root=froot, name="fixture")
    m.save(root / "manifest")
    return m
