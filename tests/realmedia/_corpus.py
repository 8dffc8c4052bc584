"""A small real corpus cut from ``../shared/media``: 7 real people (one per single-speaker
clip; the split-screen interview is left out since both men's voices are mixed), laid
out as the folder recipe expects::

    ROOT/voices/<id>/seg<k>.wav   16 kHz mono speech segments (PyAV decode + resample)
    ROOT/faces/<id>/frame<k>.jpg  video frames spread over the clip (longest side <= 640)
    ROOT/meta.csv                 identity,gender,split (4 train, 3 val; tests re-split it)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# id -> (clip under media/, gender, split)
CLIPS: dict[str, tuple[str, str, str]] = {
    "grid_m": ("grid/bbaf2n.mpg", "m", "val"),
    "grid_f": ("grid/brbk7n.mpg", "f", "train"),
    "news_de_m": ("real/mimictalk_german_news_de.mp4", "m", "train"),
    "may_en_f": ("real/real3dportrait_may_en.mp4", "f", "train"),
    "demo1_ru_f": ("real/latentsync_demo1_woman_ru.mp4", "f", "val"),
    "demo2_pt_m": ("real/latentsync_demo2_man_pt.mp4", "m", "train"),
    "restaurant_en_m": ("real/visualvoice_restaurant_en.mp4", "m", "val"),
}
N_VOICES = 3
N_FACES = 4
MAX_SIDE = 640


def decode_audio_16k(path: Path) -> np.ndarray:
    """The clip's audio as 16 kHz mono float32 (PyAV decode + resample)."""
    import av

    chunks = []
    with av.open(str(path)) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=16000)
        for frame in c.decode(audio=0):
            for out in rs.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in rs.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32)


def decode_frames(path: Path, n: int) -> list[np.ndarray]:
    """``n`` RGB frames evenly spread over the clip (skipping the first/last 10%); only
    the chosen frames are converted (HEVC 1080x1920 clips would need GBs otherwise)."""
    import av

    with av.open(str(path)) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        total = st.frames or int(float(st.duration * st.time_base) * float(st.average_rate))
        lo, hi = int(0.1 * total), int(0.9 * total) - 1
        want = {int(i) for i in np.linspace(lo, hi, n).round()}
        out = []
        for i, f in enumerate(c.decode(st)):
            if i in want:
                out.append(f.to_ndarray(format="rgb24"))
            if len(out) == len(want):
                break
    return out


def build_corpus(media: Path, root: Path) -> Path:
    """Write the corpus folder ``root`` (voices/, faces/, meta.csv); returns ``root``."""
    import soundfile as sf
    from PIL import Image

    rows = ["identity,gender,split"]
    for ident, (clip, gender, split) in CLIPS.items():
        src = media / clip
        wav = decode_audio_16k(src)
        seg = len(wav) // N_VOICES
        vdir = root / "voices" / ident
        vdir.mkdir(parents=True, exist_ok=True)
        for k in range(N_VOICES):
            sf.write(vdir / f"seg{k}.wav", wav[k * seg : (k + 1) * seg], 16000, subtype="PCM_16")
        fdir = root / "faces" / ident
        fdir.mkdir(parents=True, exist_ok=True)
        for k, frame in enumerate(decode_frames(src, N_FACES)):
            img = Image.fromarray(frame)
            scale = MAX_SIDE / max(img.size)
            if scale < 1:
                img = img.resize((round(img.width * scale), round(img.height * scale)))
            img.save(fdir / f"frame{k}.jpg", quality=95)
        rows.append(f"{ident},{gender},{split}")
    (root / "meta.csv").write_text("\n".join(rows) + "\n")
    return root
