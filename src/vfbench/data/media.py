"""Media probing: audio duration / sample rate and image size, cheaply and in parallel.

Audio: ``soundfile`` reads the header of wav/flac/ogg; PyAV (FFmpeg) handles the
containers soundfile cannot (m4a, aac, mp3, mp4, webm). Images: Pillow opens the file
lazily and reads only the header (no pixel decode). Real corpora hold 100k+ files, so
:func:`probe_many` runs the probes on a thread pool (the C libraries release the GIL
during file I/O) with a progress bar (:func:`vfbench.utils.progress.progress_bar`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vfbench.errors import DataError
from vfbench.utils.io import input_file_stat
from vfbench.utils.progress import progress_bar

AUDIO_EXTS: frozenset[str] = frozenset(
    {".wav", ".flac", ".ogg", ".m4a", ".aac", ".mp3", ".mp4", ".webm"}
)
IMAGE_EXTS: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
_SOUNDFILE_EXTS = frozenset({".wav", ".flac", ".ogg"})
#: Media files larger than this are refused (a 1 h 48 kHz stereo float WAV is ~1.4 GB).
MAX_MEDIA_BYTES = 2 * 1024**3


def default_workers() -> int:
    """Threads for probing: I/O bound, so a few more than the cores, capped at 16."""
    return max(1, min(16, (os.cpu_count() or 1) * 2))


def is_audio(path: str | Path) -> bool:
    return Path(path).suffix.lower() in AUDIO_EXTS


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTS


def probe_audio(path: str | Path) -> tuple[float, int]:
    """``(duration in seconds, sample rate in Hz)`` of an audio file, from its header.

    Raises :class:`DataError` naming the file if it is missing, empty, of an unsupported
    format or cannot be parsed.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in AUDIO_EXTS:
        raise DataError(f"{p}: unsupported audio format {ext!r} (supported: {sorted(AUDIO_EXTS)})")
    _check_nonempty(p)
    if ext in _SOUNDFILE_EXTS:
        import soundfile as sf

        try:
            info = sf.info(str(p))
        except Exception as exc:  # soundfile raises RuntimeError/LibsndfileError
            raise DataError(f"{p}: cannot read audio header ({_short(exc)})") from None
        return float(info.frames) / float(info.samplerate), int(info.samplerate)
    return _probe_av(p)


def _probe_av(p: Path) -> tuple[float, int]:
    import av

    try:
        with av.open(str(p)) as container:
            streams = container.streams.audio
            if not streams:
                raise DataError(f"{p}: no audio stream")
            st = streams[0]
            sr = int(st.sample_rate or st.codec_context.sample_rate or 0)
            dur = 0.0
            if st.duration is not None and st.time_base is not None:
                dur = float(st.duration * st.time_base)
            elif container.duration is not None:
                dur = float(container.duration) / 1_000_000.0  # AV_TIME_BASE
            # raw ADTS .aac has no duration in its header and FFmpeg guesses one from the
            # bitrate (wrong for VBR): count the packets instead (no decoding)
            if dur <= 0.0 or p.suffix.lower() == ".aac":
                last = 0.0
                for pkt in container.demux(st):
                    if pkt.pts is not None and pkt.time_base is not None:
                        end = float((pkt.pts + (pkt.duration or 0)) * pkt.time_base)
                        last = max(last, end)
                dur = last
            return dur, sr
    except DataError:
        raise
    except Exception as exc:  # av.error.* and friends
        raise DataError(f"{p}: cannot read audio header ({_short(exc)})") from None


def probe_image(path: str | Path) -> tuple[int, int]:
    """``(width, height)`` in pixels from the image header (pixels are not decoded)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in IMAGE_EXTS:
        raise DataError(f"{p}: unsupported image format {ext!r} (supported: {sorted(IMAGE_EXTS)})")
    _check_nonempty(p)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(p) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{p}: cannot read image header ({_short(exc)})") from None
    return int(w), int(h)


def _check_nonempty(p: Path) -> None:
    st, why = input_file_stat(p, MAX_MEDIA_BYTES)
    if why or st is None:
        raise DataError(f"{p}: {why}")
    if st.st_size == 0:
        raise DataError(f"{p}: empty file (0 bytes)")


def _short(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return msg[0] if msg else type(exc).__name__


@dataclass(frozen=True)
class ProbeResult:
    """One probe: ``values`` is (duration s, sample rate Hz) or (width, height) px; or an error."""

    path: Path
    values: tuple[float, int] | tuple[int, int] | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.values is not None


def probe_many(
    paths: Sequence[str | Path],
    kind: str,
    *,
    workers: int | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> list[ProbeResult]:
    """Probe many files in parallel; results keep the order of ``paths``.

    ``kind`` is ``"audio"`` or ``"image"``. Failures do not raise: each is a
    :class:`ProbeResult` with ``values=None`` and the error message (naming the file).
    """
    fn: Callable[[str | Path], tuple[float, int] | tuple[int, int]]
    if kind == "audio":
        fn = probe_audio
    elif kind == "image":
        fn = probe_image
    else:
        raise ValueError(f"kind must be 'audio' or 'image', not {kind!r}")

    def one(p: str | Path) -> ProbeResult:
        try:
            return ProbeResult(Path(p), fn(p))
        except DataError as exc:
            return ProbeResult(Path(p), None, str(exc))

    n = len(paths)
    if n == 0:
        return []
    workers = default_workers() if workers is None else max(1, int(workers))
    bar = progress_bar(n, f"probe {desc or kind}", unit="file", enabled=progress)
    try:
        if workers == 1 or n < 8:
            out = []
            for p in paths:
                out.append(one(p))
                bar.update(1)
            return out
        # map() keeps the input order; results stream in as they complete.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            out = []
            for r in pool.map(one, paths, chunksize=1):
                out.append(r)
                bar.update(1)
            return out
    finally:
        bar.close()
