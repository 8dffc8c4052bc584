"""Header probing of each supported format, and the errors that name the file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vfbench.data.media import probe_audio, probe_image, probe_many
from vfbench.errors import DataError


@pytest.mark.parametrize(
    ("ext", "sr", "n"), [(".wav", 16000, 8000), (".flac", 22050, 22050), (".ogg", 16000, 12000)]
)
def test_soundfile_formats_exact(tmp_path: Path, ext: str, sr: int, n: int) -> None:
    import soundfile as sf

    p = tmp_path / f"x{ext}"
    sf.write(p, np.zeros(n, dtype=np.float32), sr)
    dur, rate = probe_audio(p)
    assert rate == sr and dur == pytest.approx(n / sr)


def test_m4a_via_pyav(tmp_path: Path, builders: Any) -> None:
    p = builders.write_m4a(tmp_path / "x.m4a", seconds=1.0, sr=16000)
    dur, rate = probe_audio(p)
    assert rate == 16000 and dur == pytest.approx(1.0, abs=0.07)


def test_raw_adts_aac_duration_from_packets(tmp_path: Path) -> None:
    """Raw ``.aac`` (ADTS) has no duration in its header: the packets are counted.

    Raw AAC keeps the encoder priming (1024 samples) and the padding of the last frame,
    so the packets span up to 2 frames (0.128 s at 16 kHz) more than the signal.
    """
    import av

    sr, n = 16000, 24000
    p = tmp_path / "x.aac"
    x = (0.1 * np.sin(np.arange(n) / 10.0)).astype(np.float32)[None, :]
    with av.open(str(p), "w", format="adts") as out:
        st = out.add_stream("aac", rate=sr)
        st.layout = "mono"
        fr = av.AudioFrame.from_ndarray(x, format="fltp", layout="mono")
        fr.sample_rate, fr.pts, fr.time_base = sr, 0, Fraction(1, sr)
        for pkt in [*st.encode(fr), *st.encode(None)]:
            out.mux(pkt)
    dur, rate = probe_audio(p)
    assert rate == sr and n / sr <= dur <= n / sr + 2 * 1024 / sr + 1e-6


@pytest.mark.parametrize("ext", [".jpg", ".png", ".bmp", ".webp"])
def test_image_size(tmp_path: Path, ext: str) -> None:
    from PIL import Image

    p = tmp_path / f"x{ext}"
    Image.new("RGB", (37, 21)).save(p)
    assert probe_image(p) == (37, 21)


def test_errors_name_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    junk = tmp_path / "j.jpg"
    junk.write_bytes(b"not an image")
    bad_m4a = tmp_path / "b.m4a"
    bad_m4a.write_bytes(b"\x00" * 64)
    for fn, p, what in [
        (probe_audio, empty, "empty file"),
        (probe_audio, tmp_path / "missing.wav", "not found"),
        (probe_image, junk, "cannot read image header"),
        (probe_audio, bad_m4a, "cannot read audio header"),
        (probe_audio, tmp_path / "x.txt", "unsupported audio format '.txt'"),
        (probe_image, tmp_path / "x.gif", "unsupported image format '.gif'"),
    ]:
        with pytest.raises(DataError) as ei:
            fn(p)
        assert str(p) in str(ei.value) and what in str(ei.value)


def test_probe_many_keeps_order_and_reports_failures(tmp_path: Path, builders: Any) -> None:
    paths = [builders.write_wav(tmp_path / f"{k}.wav", 0.05 * (k + 1)) for k in range(12)]
    paths[5] = tmp_path / "gone.wav"
    res = probe_many(paths, "audio", workers=4, progress=False)
    assert [r.path for r in res] == paths
    assert not res[5].ok and "gone.wav" in res[5].error
    assert [round(r.values[0], 3) for r in res if r.values] == [
        round(0.05 * (k + 1), 3) for k in range(12) if k != 5
    ]
    with pytest.raises(ValueError, match="kind"):
        probe_many(paths, "video")
