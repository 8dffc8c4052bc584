"""PyAV decoding: probe, audio extraction, the detection grid, downscaling, prefetching."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vfbench.collect.video import Frame, iter_frames, prefetch, probe, read_audio
from vfbench.errors import DataError


def test_probe_and_audio_of_test_video(videos: dict[str, Path]) -> None:
    info = probe(videos["m_clean"])
    assert (info.width, info.height, info.fps) == (320, 240, 25.0)
    assert info.has_audio and 2.9 < info.duration < 3.3
    a = read_audio(videos["m_clean"], 16000)
    assert a is not None and a.dtype == np.float32 and abs(len(a) / 16000 - 3.0) < 0.15
    assert np.abs(a).max() <= 1.0 and np.abs(a).max() > 0.1
    part = read_audio(videos["m_clean"], 16000, 1.0, 2.0)
    assert part is not None and len(part) == 16000
    np.testing.assert_array_equal(part, a[16000:32000])
    assert read_audio(videos["m_no_audio"]) is None
    assert not probe(videos["m_no_audio"]).has_audio


def test_detection_grid_and_downscale(shared_dir: Path) -> None:
    clip = shared_dir / "media" / "grid" / "bbaf2n.mpg"  # 360x288, 25 fps, 75 frames
    frames = list(iter_frames(clip, detect_fps=5.0, max_height=144))
    assert len(frames) == 75
    sampled = [f for f in frames if f.sampled]
    assert len(sampled) == 15  # every 5th frame at 25 fps
    assert np.allclose(np.diff([f.t for f in sampled]), 0.2, atol=0.02)
    f = sampled[3]
    assert f.grey.shape == (144, 180) and f.scale == 0.5  # factor-2 stride of the luma
    assert f.rgb is None and f.yuv is not None  # full resolution kept as YUV planes
    rgb = f.crop(0, 0, f.width, f.height)
    assert rgb.shape == (288, 360, 3) and rgb.flags.c_contiguous
    # the crop equals PyAV's (swscale's) conversion of the same frame
    import av

    with av.open(str(clip)) as c:
        ref = [fr for i, fr in enumerate(c.decode(video=0)) if i == f.index][0]
        ref_rgb = ref.to_ndarray(format="rgb24").astype(int)
    assert np.abs(rgb.astype(int) - ref_rgb).mean() < 1.5
    part_rgb = f.crop(31, 17, 200, 150)  # odd offsets: chroma phase kept
    assert np.abs(part_rgb.astype(int) - ref_rgb[17:150, 31:200]).mean() < 1.5
    assert f.small is not None and f.small.shape == (144, 180, 3) and f.small.flags.c_contiguous
    # the grey image is the luma of the RGB frame (BT.601, limited range), subsampled
    luma = 16 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255
    assert np.abs(luma[::2, ::2] - f.grey).mean() < 3.0
    part = list(iter_frames(clip, 5.0, 288, start=1.0, end=2.0))
    assert len(part) == 25 and 1.0 - 1e-6 <= part[0].t and part[-1].t < 2.0


def test_bad_files(tmp_path: Path, videos: dict[str, Path]) -> None:
    with pytest.raises(DataError, match="f_corrupt.mp4: cannot open as a video"):
        probe(videos["f_corrupt"])
    wav = tmp_path / "a.wav"
    import soundfile as sf

    sf.write(str(wav), np.zeros(1600, np.float32), 16000)
    with pytest.raises(DataError, match="a.wav: no video stream"):
        list(iter_frames(wav))


def _gen(n: int, fail_at: int | None = None) -> Iterator[Frame]:
    for i in range(n):
        if i == fail_at:
            raise DataError(f"boom at frame {i}")
        yield Frame(t=i / 25, index=i, grey=np.zeros((2, 2), np.uint8), rgb=None, scale=1.0)


def test_prefetch_order_errors_and_early_stop() -> None:
    assert [f.index for f in prefetch(_gen(50), depth=4)] == list(range(50))
    got = []
    with pytest.raises(DataError, match="boom at frame 7"):
        for f in prefetch(_gen(50, fail_at=7), depth=4):
            got.append(f.index)
    assert got == list(range(7))
    it = prefetch(_gen(10_000), depth=2)
    assert next(it).index == 0
    it.close()  # the producer thread stops instead of decoding the rest
