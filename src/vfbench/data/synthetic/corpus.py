"""Write a synthetic corpus: media in the folder-recipe layout, tables, hashes, manifest.

Layout of ``OUT`` (what :func:`vfbench.data.recipes.folder.prepare_folder` reads)::

    voices/<identity>/<session>/<n>.wav    16-bit mono WAV (VoxCeleb-style), ses01..ses04
    faces/<identity>/<n>.jpg               RGB JPEG (VGGFace-style), centred face
    meta.csv                               identity,gender,nationality,language,split
    traits.csv                             every hidden trait (see traits.TraitTable)
    SHA256SUMS                             `sha256sum -c` list of every file above
    synth.json                             config, seed, versions, counts, corpus hash, provenance
    oracle.json                            ceiling + gender baseline (written by `vfbench synth`
                                           through evaluate: experiments.oracle)
    manifest/                              the prepared manifest (Manifest.save)

All media bytes depend only on the config (never on worker count or scheduling):
identity ``i`` renders from ``SeedSequence(seed, spawn_key=(i, stream, item))``.
Files are written atomically (temp + rename); a rerun with the same config resumes,
skipping files that exist (they would be byte-identical anyway).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vfbench import __version__
from vfbench.data.manifest import Manifest
from vfbench.data.recipes.folder import prepare_folder
from vfbench.data.synthetic.config import GENERATOR_VERSION, SynthConfig
from vfbench.data.synthetic.faces import encode_jpeg, face_look, jpeg_quality, render_face
from vfbench.data.synthetic.traits import (
    STREAM_FACE,
    STREAM_SESSION,
    STREAM_VOICE,
    TraitTable,
    identity_rng,
    sample_traits,
)
from vfbench.data.synthetic.voices import render_voice, session_channel, to_pcm16, voice_profile
from vfbench.errors import DataError
from vfbench.utils.io import atomic_write_json, atomic_write_text, stable_hash
from vfbench.utils.parallel import limit_worker_threads, single_threaded
from vfbench.utils.progress import Bar, progress_bar
from vfbench.utils.provenance import Provenance

#: What ``overwrite`` may delete inside OUT (never anything else).
OWNED = (
    "voices",
    "faces",
    "manifest",
    "meta.csv",
    "traits.csv",
    "SHA256SUMS",
    "synth.json",
    "oracle.json",
)
STATE_FILE = ".synth-state.json"


@dataclass
class FileRecord:
    """One written media file: path relative to OUT, content hash, size and duration."""

    path: str
    sha256: str
    size: int
    seconds: float = 0.0


@dataclass
class SynthResult:
    """Summary of :func:`generate_corpus`."""

    out: Path
    identities: int
    voices: int
    faces: int
    bytes: int
    audio_seconds: float
    seconds: float  # wall time
    written: int  # files rendered now (the rest existed: resumed)
    corpus_sha256: str  # sha256 of SHA256SUMS
    manifest_dir: Path | None

    def summary(self) -> str:
        rate = (self.voices + self.faces) / max(self.seconds, 1e-9)
        lines = [
            f"synthetic corpus in {self.out}: {self.identities} identities, "
            f"{self.voices} voices ({self.audio_seconds / 3600:.2f} h), {self.faces} faces, "
            f"{self.bytes / 1e6:.1f} MB",
            f"{self.seconds:.1f} s ({rate:.0f} files/s, {self.written} rendered now); "
            f"corpus sha256 {self.corpus_sha256[:16]}",
        ]
        if self.manifest_dir is not None:
            lines.append(f"manifest: {self.manifest_dir}")
        return "\n".join(lines)


def voice_durations(config: SynthConfig, rng: np.random.Generator, n: int) -> np.ndarray:
    """Utterance lengths in seconds: log-uniform in [min, max], on a 10 ms grid."""
    lo, hi = np.log(config.min_seconds), np.log(config.max_seconds)
    return np.round(np.exp(rng.uniform(lo, hi, n)) * 100.0) / 100.0


def render_identity(
    config: SynthConfig, traits: TraitTable, i: int, out: Path | None, skip_existing: bool = True
) -> list[FileRecord]:
    """Render (and write under ``out`` unless None) all media of identity row ``i``.

    Returns one :class:`FileRecord` per file, faces first, in a fixed order.
    """
    seed, ident = config.seed, traits.ids[i]
    sr = config.sample_rate
    recs: list[FileRecord] = []
    look = face_look(traits.face[i], traits.face_private[i])
    for f in range(config.faces_per_id):
        rel = f"faces/{ident}/{f + 1:04d}.jpg"
        old = _existing(out, rel, skip_existing)
        if old is not None:
            recs.append(old)
            continue
        rng = identity_rng(seed, _index(ident), STREAM_FACE, f)
        img = render_face(look, rng, config.image_size, config.face_nuisance)
        recs.append(_write(out, rel, encode_jpeg(img, jpeg_quality(rng, config.face_nuisance))))
    profile = voice_profile(traits.voice[i], traits.voice_private[i])
    n_sess = int(traits.sessions[i])
    channels: dict[int, Any] = {}
    dur_rng = identity_rng(seed, _index(ident), STREAM_VOICE, 2**20)
    durations = voice_durations(config, dur_rng, config.voices_per_id)
    for u in range(config.voices_per_id):
        sess, k = u % n_sess, u // n_sess
        rel = f"voices/{ident}/ses{sess + 1:02d}/{k + 1:05d}.wav"
        old = _existing(out, rel, skip_existing)
        if old is not None:
            old.seconds = float(durations[u])
            recs.append(old)
            continue
        if sess not in channels:
            channels[sess] = session_channel(
                identity_rng(seed, _index(ident), STREAM_SESSION, sess), sr, config.voice_nuisance
            )
        rng = identity_rng(seed, _index(ident), STREAM_VOICE, u)
        x = render_voice(
            profile, channels[sess], rng, float(durations[u]), sr, config.voice_nuisance
        )
        rec = _write(out, rel, encode_wav(to_pcm16(x), sr))
        rec.seconds = float(durations[u])
        recs.append(rec)
    return recs


def _index(ident: str) -> int:
    """0-based index from an ``s0001``-style id (the seed stream of that identity)."""
    return int(ident[1:]) - 1


def encode_wav(pcm: np.ndarray, sr: int) -> bytes:
    """16-bit PCM mono WAV bytes (libsndfile via soundfile; no time stamps in the header)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, pcm, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _existing(out: Path | None, rel: str, skip: bool) -> FileRecord | None:
    if out is None or not skip:
        return None
    p = out / rel
    if not p.is_file():
        return None
    data = p.read_bytes()
    return FileRecord(rel, hashlib.sha256(data).hexdigest(), len(data))


def _write(out: Path | None, rel: str, data: bytes) -> FileRecord:
    """Atomic (temp + rename) write without fsync: a crash never leaves a torn file,
    and thousands of small media files stay fast; tables and hashes are fsynced."""
    if out is not None:
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, p)
    return FileRecord(rel, hashlib.sha256(data).hexdigest(), len(data))


# ---- process pool plumbing: each worker keeps the config + traits it was given ---------
_CTX: dict[str, Any] = {}


def _init_worker(config: SynthConfig, traits: TraitTable, out: Path) -> None:
    limit_worker_threads(1)
    _CTX.update(config=config, traits=traits, out=out)


def _work(i: int) -> list[FileRecord]:
    return render_identity(_CTX["config"], _CTX["traits"], i, _CTX["out"])


def _prepare_out(out: Path, config_hash: str, overwrite: bool) -> None:
    state = out / STATE_FILE
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    contents = [p for p in out.iterdir() if p.name != STATE_FILE]
    if contents:
        same = False
        if state.is_file():
            try:
                same = (
                    json.loads(state.read_text(encoding="utf-8")).get("config_hash") == config_hash
                )
            except (json.JSONDecodeError, AttributeError):
                same = False
        if not same:
            if not overwrite:
                what = "a synthetic corpus of another config" if state.is_file() else "other files"
                raise DataError(
                    f"{out}: not empty and holds {what}; pass --overwrite to replace the "
                    "corpus (only its own files are removed) or choose another folder"
                )
            foreign = [p.name for p in contents if p.name not in OWNED]
            if foreign and not state.is_file():
                raise DataError(
                    f"{out}: holds files that are not a synthetic corpus ({foreign[0]!r}); "
                    "refusing to overwrite it, choose an empty folder"
                )
            for name in OWNED:
                p = out / name
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.exists():
                    p.unlink()
    atomic_write_json(state, {"config_hash": config_hash, "generator_version": GENERATOR_VERSION})


def write_meta_csv(path: Path, traits: TraitTable) -> None:
    """``identity,gender,nationality,language,split`` (the folder recipe's meta table)."""
    lines = ["identity,gender,nationality,language,split"]
    nat, lang = traits.nationality, traits.language
    for i, ident in enumerate(traits.ids):
        lines.append(f"{ident},{traits.gender[i]},{nat[i]},{lang[i]},{traits.split[i]}")
    atomic_write_text(path, "\n".join(lines) + "\n")


def generate_corpus(
    out: str | Path,
    config: SynthConfig | None = None,
    *,
    workers: int = 1,
    progress: bool = True,
    overwrite: bool = False,
    prepare: bool = True,
    probe: bool = False,
    command: str = "",
) -> SynthResult:
    """Generate the synthetic corpus into ``out`` (see the module docstring for the layout).

    Args:
        out: output folder (created; must be empty, hold the same config's partial
            corpus, which is resumed, or ``overwrite`` must be set).
        config: :class:`SynthConfig` (default: the defaults: 400 identities x 8 + 8).
        workers: processes (1 = in this process); does not change any output byte.
        progress: a progress bar over identities (tqdm on a terminal, plain lines in a log).
        prepare: run the folder recipe and save the manifest to ``out/manifest``.
        probe: let the recipe read durations and image sizes from the files (by default
            they are filled in from what was written, which is exact and much faster).
    """
    config = config or SynthConfig()
    config.validate()
    out = Path(out)
    t0 = time.perf_counter()
    cfg = config.to_dict()
    config_hash = stable_hash({"config": cfg, "generator": GENERATOR_VERSION})
    _prepare_out(out, config_hash, overwrite)
    _remove_stale_temp_files(out)
    traits = sample_traits(config)
    before = _count_media(out)
    records: list[FileRecord] = []
    n = len(traits)
    bar = _progress(n, progress)
    try:
        if workers <= 1:
            with single_threaded():
                for i in range(n):
                    records += render_identity(config, traits, i, out)
                    bar.update(1)
        else:
            ex = ProcessPoolExecutor(
                max_workers=workers, initializer=_init_worker, initargs=(config, traits, out)
            )
            try:
                chunk = max(1, min(8, n // (4 * workers)))
                for recs in ex.map(_work, range(n), chunksize=chunk):
                    records += recs
                    bar.update(1)
            except BaseException:
                # Ctrl-C or a worker error: drop queued work; finished files stay (resumable)
                ex.shutdown(wait=False, cancel_futures=True)
                raise
            ex.shutdown()
    finally:
        bar.close()
    records.sort(key=lambda r: r.path)
    write_meta_csv(out / "meta.csv", traits)
    traits.save(out / "traits.csv")
    sums = "".join(f"{r.sha256}  {r.path}\n" for r in records)
    sums += "".join(
        f"{hashlib.sha256((out / name).read_bytes()).hexdigest()}  {name}\n"
        for name in ("meta.csv", "traits.csv")
    )
    atomic_write_text(out / "SHA256SUMS", sums)
    corpus_sha = hashlib.sha256(sums.encode()).hexdigest()
    voices = [r for r in records if r.path.startswith("voices/")]
    faces = [r for r in records if r.path.startswith("faces/")]
    total = sum(r.size for r in records)
    audio = float(sum(r.seconds for r in voices))
    manifest_dir: Path | None = None
    if prepare:
        m = prepare_folder(
            out, meta=out / "meta.csv", probe=probe, progress=False, name="synthetic"
        )
        if not probe:  # we know every duration and size exactly: no need to read headers
            m = _fill_media_info(m, voices, config)
        m.meta["synthetic"] = {"config_hash": config_hash, "corpus_sha256": corpus_sha}
        manifest_dir = m.save(out / "manifest")
    written = _count_media(out) - before
    atomic_write_json(
        out / "synth.json",
        {
            "generator": "vfbench.synth",
            "generator_version": GENERATOR_VERSION,
            "vfbench_version": __version__,
            "seed": config.seed,
            "config": cfg,
            "config_hash": config_hash,
            "counts": {"identities": n, "voices": len(voices), "faces": len(faces)},
            "bytes": total,
            "audio_seconds": round(audio, 2),
            "corpus_sha256": corpus_sha,
            "hashes": "SHA256SUMS",
            "versions": _library_versions(),
            "provenance": Provenance(command=command, seed=config.seed, config=cfg).to_dict(),
        },
    )
    return SynthResult(
        out=out,
        identities=n,
        voices=len(voices),
        faces=len(faces),
        bytes=total,
        audio_seconds=audio,
        seconds=time.perf_counter() - t0,
        written=max(0, written),
        corpus_sha256=corpus_sha,
        manifest_dir=manifest_dir,
    )


def _fill_media_info(m: Manifest, voices: list[FileRecord], config: SynthConfig) -> Manifest:
    """Durations / sample rates / image sizes of the manifest items from the render records."""
    dur = {r.path.removeprefix("voices/"): r.seconds for r in voices}
    m.voices = [
        dataclasses.replace(v, duration=dur[v.path], sample_rate=config.sample_rate)
        for v in m.voices
    ]
    m.faces = [
        dataclasses.replace(f, width=config.image_size, height=config.image_size) for f in m.faces
    ]
    m.meta["probed"] = "from generator"
    return m


def _remove_stale_temp_files(out: Path) -> None:
    """Temp files of an interrupted run (``.<name>.tmp<pid>``); finished files are kept."""
    for sub in ("voices", "faces"):
        if (out / sub).is_dir():
            for p in (out / sub).rglob(".*.tmp*"):
                p.unlink()


def _count_media(out: Path) -> int:
    n = 0
    for sub in ("voices", "faces"):
        if (out / sub).is_dir():
            n += sum(len(files) for _, _, files in os.walk(out / sub))
    return n


def _library_versions() -> dict[str, str]:
    """Byte-identity holds for the same versions of these (they encode the media)."""
    import PIL
    import scipy
    import soundfile as sf

    return {
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "Pillow": PIL.__version__,
        "libsndfile": str(sf.__libsndfile_version__),
    }


def _progress(total: int, enabled: bool) -> Bar:
    return progress_bar(total, "synth identities", unit="id", enabled=enabled)


def iter_media(out: str | Path) -> Iterable[Path]:
    """Every media file of a corpus folder, sorted (used by tests and the benchmark)."""
    root = Path(out)
    for sub in ("faces", "voices"):
        yield from sorted((root / sub).rglob("*.*"))
