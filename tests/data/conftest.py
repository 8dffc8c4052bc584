"""Fixture-tree builders: tiny fake corpora in each real layout (wav, m4a, jpg)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest


def write_wav(path: Path, seconds: float = 0.25, sr: int = 16000) -> Path:
    """A short sine wav; duration = round(seconds * sr) / sr."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * sr))
    t = np.arange(n, dtype=np.float32) / sr
    sf.write(path, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    return path


def write_m4a(path: Path, seconds: float = 0.5, sr: int = 16000) -> Path:
    """A short AAC-in-MP4 (.m4a) file encoded with PyAV, as in VoxCeleb2's ``aac/`` tree."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * sr))
    t = np.arange(n, dtype=np.float32) / sr
    x = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[None, :]
    with av.open(str(path), "w", format="mp4") as out:
        st = out.add_stream("aac", rate=sr)
        st.layout = "mono"
        frame = av.AudioFrame.from_ndarray(x, format="fltp", layout="mono")
        frame.sample_rate = sr
        frame.pts = 0
        frame.time_base = Fraction(1, sr)
        for pkt in st.encode(frame):
            out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
    return path


def write_jpg(path: Path, size: tuple[int, int] = (40, 48)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (120, 90, 60)).save(path, quality=80)
    return path


def build_folder_tree(
    root: Path,
    identities: Iterable[str] = ("alice", "bob", "carol", "dave", "erin"),
    *,
    sessions: int = 2,
    clips: int = 2,
    faces: int = 2,
    meta: str | None = None,
) -> Path:
    """``root/voices/<id>/s<k>/<n>.wav`` + ``root/faces/<id>/<n>.jpg`` (+ ``meta.csv``)."""
    for ident in identities:
        for s in range(sessions):
            for n in range(clips):
                write_wav(root / "voices" / ident / f"s{s}" / f"{n:03d}.wav", 0.1 * (n + 1))
        for n in range(faces):
            write_jpg(root / "faces" / ident / f"{n:03d}.jpg", (40 + n, 48))
    if meta is not None:
        (root / "meta.csv").write_text(meta, encoding="utf-8")
    return root


# VoxCeleb1 ids spanning the DIMNet val, test and train splits, plus one marked `none`
# (names and splits as in ../shared/data/vox1_meta.csv and splits/dimnet/).
VOX1_PICK = {
    # id: (VGGFace1 name, DIMNet split)
    "id10001": ("A.J._Buckley", "none"),
    "id10003": ("Aamir_Khan", "val"),
    "id10004": ("Aaron_Tveit", "val"),
    "id10117": ("CCH_Pounder", "test"),
    "id10118": ("Caitriona_Balfe", "test"),
    "id10310": ("Fanny_Ardant", "train"),
    "id10311": ("Farrah_Abraham", "train"),
}


def build_vox1_tree(
    tmp: Path,
    ids: Iterable[str] = VOX1_PICK,
    names: dict[str, str] | None = None,
    *,
    clips: int = 2,
    faces: int = 2,
    nest_wav: bool = True,
) -> tuple[Path, Path]:
    """``tmp/vox1/wav/idXXXXX/<video>/<n>.wav`` + ``tmp/vgg1/<Name>/<n>.jpg``.

    Returns (audio root as a user would pass it, face root). ``names`` maps id -> the
    VGGFace1 folder name (default from :data:`VOX1_PICK`).
    """
    names = names or {i: VOX1_PICK[i][0] for i in ids if i in VOX1_PICK}
    audio = tmp / "vox1"
    wav = audio / "wav" if nest_wav else audio
    for i in ids:
        # 11-character YouTube-like ids, distinct per identity (as in VoxCeleb)
        for v, video in enumerate((f"v{i[2:]}aaaaa", f"v{i[2:]}bbbbb")):
            for n in range(clips):
                write_wav(wav / i / video / f"{n + 1:05d}.wav", 0.1 * (v + 1))
    faces_root = tmp / "vgg1"
    for i in ids:
        if i in names:
            for n in range(faces):
                write_jpg(faces_root / names[i] / f"{n + 1:08d}.jpg")
    return audio, faces_root


@pytest.fixture
def folder_tree(tmp_path: Path) -> Path:
    return build_folder_tree(tmp_path / "corpus")


class Builders:
    """The builders above, handed to tests as the ``builders`` fixture (no test imports)."""

    write_wav = staticmethod(write_wav)
    write_m4a = staticmethod(write_m4a)
    write_jpg = staticmethod(write_jpg)
    build_folder_tree = staticmethod(build_folder_tree)
    build_vox1_tree = staticmethod(build_vox1_tree)
    VOX1_PICK = VOX1_PICK


@pytest.fixture(scope="session")
def builders() -> type[Builders]:
    return Builders
