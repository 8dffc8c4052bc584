"""Reliability sweep, data + preprocessing (issue 18): each test reproduces a reported case.

Every test here failed before its fix: silently wrong results (a NaN cached while QC says
"failed 0", a test identity's media absorbed by a training identity through a symlink, a
misspelt split silently dropping identities), lost work (two runs into one cache deleting
each other's temp files) and tracebacks where a one-line error was due.
"""

from __future__ import annotations

import os
import stat
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from vfbench.cli import main
from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem
from vfbench.data.recipes.folder import prepare_folder
from vfbench.data.validate import validate_manifest
from vfbench.errors import DataError, ManifestError
from vfbench.preprocess.audio import ItemRejected, load_audio
from vfbench.preprocess.cache import FeatureCache
from vfbench.preprocess.config import AudioConfig, FaceConfig, PreprocessConfig
from vfbench.preprocess.face import load_image, process_face
from vfbench.preprocess.run import LOCK_FILE, preprocess
from vfbench.utils.io import exclusive_lock

SR = 16000


def _tone(seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = np.sin(2 * np.pi * (120 + 40 * rng.random()) * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    return (0.3 * x).astype(np.float32)


def _voice_manifest(root: Path, waves: dict[str, np.ndarray]) -> Manifest:
    vroot = root / "voices"
    vroot.mkdir(parents=True, exist_ok=True)
    items = []
    for name, x in waves.items():
        sf.write(vroot / f"{name}.wav", x, SR, subtype="FLOAT")
        items.append(VoiceItem(name, "p1", f"{name}.wav"))
    return Manifest([Identity("p1", "m", split="train")], items, [], voice_root=vroot, name="r")


# ---- 18.1: one inf / NaN sample ---------------------------------------------------------
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_wav_is_rejected_not_cached_as_nan(tmp_path: Path, bad: float) -> None:
    x = _tone()
    x[5000] = bad
    m = _voice_manifest(tmp_path, {"good": _tone(seed=1), "poisoned": x})
    summary = preprocess(m, tmp_path / "cache", modality="voice", progress=False)
    s = summary.modalities["voice"]
    assert (s.processed, s.failed, s.failed_by_code) == (1, 1, {"non_finite": 1})
    cache = FeatureCache.open(tmp_path / "cache")
    assert cache.ids("voice") == ["good"] and np.isfinite(cache.load("voice", "good")).all()
    reason = cache.failed[("voice", "poisoned")]
    assert reason.startswith("non_finite: ") and "poisoned.wav: non-finite samples" in reason
    assert "1 NaN/inf of 24000, first at 0.312 s" in reason  # not "silent: RMS -inf dBFS"


def test_all_nan_wav_says_non_finite_not_silent(tmp_path: Path) -> None:
    p = tmp_path / "nan.wav"
    sf.write(p, np.full(SR, np.nan, np.float32), SR, subtype="FLOAT")
    with pytest.raises(ItemRejected, match="non_finite: .*nan.wav: non-finite samples") as ei:
        load_audio(p, AudioConfig())
    assert ei.value.code == "non_finite"


def test_non_finite_float_image_is_rejected(tmp_path: Path) -> None:
    a = np.full((120, 100), 0.5, np.float32)
    a[3, 4] = np.nan
    p = tmp_path / "nan.png"
    Image.fromarray(a, mode="F").save(p, format="TIFF")  # a float TIFF behind a .png name
    with pytest.raises(ItemRejected, match=r"non_finite: .*nan.png: non-finite samples \(1 "):
        load_image(p)


# ---- 18.3: directory symlinks -----------------------------------------------------------
def _corpus(root: Path) -> Path:
    for ident in ("alice", "bob"):
        (root / "voices" / ident).mkdir(parents=True)
        (root / "faces" / ident).mkdir(parents=True)
        sf.write(root / "voices" / ident / "0.wav", _tone(0.5), SR)
        Image.new("RGB", (40, 48), (100, 90, 80)).save(root / "faces" / ident / "0.jpg")
    (root / "meta.csv").write_text("identity,split\nalice,train\nbob,test\n")
    return root


def test_symlink_loop_does_not_leak_a_test_identity_into_training(tmp_path: Path) -> None:
    root = _corpus(tmp_path / "c")
    (root / "faces" / "alice" / "loop").symlink_to("..")  # faces/ -> walks bob's folder too
    (root / "faces" / "alice" / "bob_link").symlink_to(root / "faces" / "bob")
    (root / "voices" / "alice" / "etc").symlink_to("/etc")
    (root / "voices" / "alice" / "self").symlink_to(".")
    m = prepare_folder(root, progress=False)
    alice_faces = [f.path for f in m.faces if f.identity == "alice"]
    alice_voices = [v.path for v in m.voices if v.identity == "alice"]
    assert alice_faces == ["alice/0.jpg"] and alice_voices == ["alice/0.wav"]
    skipped = {(p["reason"], p["name"]) for p in m.meta["skipped"]}
    assert ("symlink_outside", "alice/loop") in skipped
    assert ("symlink_outside", "alice/bob_link") in skipped
    assert ("symlink_outside", "alice/etc") in skipped
    assert ("symlink_loop", "alice/self") in skipped
    assert validate_manifest(m).ok


def test_symlink_inside_the_identity_is_followed_once(tmp_path: Path) -> None:
    root = _corpus(tmp_path / "c")
    sub = root / "faces" / "alice" / "video1"
    sub.mkdir()
    Image.new("RGB", (40, 48), (10, 90, 80)).save(sub / "1.jpg")
    (root / "faces" / "alice" / "again").symlink_to("video1")
    m = prepare_folder(root, progress=False)
    assert sorted(f.path for f in m.faces if f.identity == "alice") == [
        "alice/0.jpg",
        "alice/again/1.jpg",  # the link sorts first and is walked; the real folder is not twice
    ]


def test_identity_folder_linked_to_another_identity_is_refused(tmp_path: Path) -> None:
    root = _corpus(tmp_path / "c")
    (root / "faces" / "carol").symlink_to(root / "faces" / "bob")
    (root / "voices" / "carol").symlink_to(root / "voices")  # a loop at identity level
    m = prepare_folder(root, progress=False, keep_unpaired=True)
    assert {i.id for i in m.identities} == {"alice"}  # bob and carol share one folder
    skipped = {(p["reason"], p["name"]) for p in m.meta["skipped"]}
    assert {("shared_folder", "bob"), ("shared_folder", "carol")} <= skipped
    assert ("symlink_loop", "carol") in skipped


def test_validate_finds_a_leak_through_a_symlinked_file(tmp_path: Path) -> None:
    root = _corpus(tmp_path / "c")
    m = prepare_folder(root, progress=False)
    (root / "faces" / "bob" / "copy.jpg").symlink_to(root / "faces" / "alice" / "0.jpg")
    leak = FaceItem("bob/copy", "bob", "bob/copy.jpg", 40, 48)
    m.faces.append(leak)
    codes = [i.code for i in validate_manifest(m).errors]
    assert codes == ["split_leak"]  # the lexical check said 0 errors


# ---- 18.4: two runs into one cache ------------------------------------------------------
def test_second_run_into_a_locked_cache_stops_with_a_clear_error(tmp_path: Path) -> None:
    m = _voice_manifest(tmp_path, {"a": _tone(), "b": _tone(seed=2)})
    cache = tmp_path / "cache"
    with exclusive_lock(cache / LOCK_FILE):  # "the first run" holds the cache
        with pytest.raises(DataError, match=r"cache .*cache is in use by another run \(held by"):
            preprocess(m, cache, modality="voice", progress=False)
        assert not list((cache).glob("voice-*/shard-*"))  # nothing written, nothing deleted
    s = preprocess(m, cache, modality="voice", progress=False)  # free again: runs
    assert s.modalities["voice"].processed == 2


def test_second_run_can_wait_for_the_first(tmp_path: Path) -> None:
    m = _voice_manifest(tmp_path, {"a": _tone()})
    cache = tmp_path / "cache"
    held = threading.Event()

    def first() -> None:
        with exclusive_lock(cache / LOCK_FILE):
            held.set()
            time.sleep(0.6)

    t = threading.Thread(target=first)
    t.start()
    held.wait(5)
    t0 = time.monotonic()
    s = preprocess(m, cache, modality="voice", progress=False, wait=True)
    t.join()
    assert time.monotonic() - t0 >= 0.3 and s.modalities["voice"].processed == 1


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    import subprocess
    import sys

    cache = tmp_path / "cache"
    code = (
        "import os, sys, time\n"
        "from vfbench.utils.io import exclusive_lock\n"
        f"with exclusive_lock({str(cache / LOCK_FILE)!r}):\n"
        "    print('locked', flush=True); time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"locked"
        with pytest.raises(DataError, match=f"held by process {proc.pid}"):
            with exclusive_lock(cache / LOCK_FILE):
                pass
    finally:
        proc.kill()
        proc.wait()
    with exclusive_lock(cache / LOCK_FILE):  # kill -9 released it
        pass


# ---- 18.6: split names ------------------------------------------------------------------
def test_misspelt_split_is_an_error_at_prepare_and_a_warning_in_validate(tmp_path: Path) -> None:
    root = _corpus(tmp_path / "c")
    (root / "meta.csv").write_text("identity,split\nalice,train\nbob,tset\n")
    with pytest.raises(ManifestError, match=r"meta.csv:3: identity 'bob': split 'tset'"):
        prepare_folder(root, progress=False)
    m = prepare_folder(root, progress=False, custom_splits=True)
    warn = [i for i in validate_manifest(m).warnings if i.code == "unknown_split"]
    assert len(warn) == 1 and "'tset'" in warn[0].message and "'bob'" in warn[0].message


# ---- one-line errors and input bounds ---------------------------------------------------
def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    rc = main([*args])
    err = capsys.readouterr().err
    return rc, err


def test_utf16_meta_without_bom_and_a_directory_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _corpus(tmp_path / "c")
    (root / "meta.csv").write_bytes("identity,split\nalice,train\n".encode("utf-16-le"))
    rc, err = _cli(
        capsys, "data", "prepare", "folder", "--root", str(root), "-o", str(tmp_path / "m")
    )
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "meta.csv: not UTF-8 text (NUL bytes: looks like UTF-16" in err
    (root / "meta.csv").write_bytes("identity,split\nalice,train\n".encode("utf-16"))  # BOM: fine
    rc, _ = _cli(
        capsys, "data", "prepare", "folder", "--root", str(root), "-o", str(tmp_path / "m")
    )
    assert rc == 0
    (tmp_path / "adir").mkdir()
    rc, err = _cli(
        capsys, "data", "prepare", "folder", "--root", str(root), "--meta", str(tmp_path / "adir"),
        "-o", str(tmp_path / "m2"),
    )  # fmt: skip
    assert rc == 2 and err.strip().endswith("adir: is a directory, not a file")


def test_media_path_that_is_a_directory_says_so(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").mkdir()
    (tmp_path / "y.wav").mkdir()
    with pytest.raises(ItemRejected, match=r"x.jpg: is a directory, not a file"):
        process_face(tmp_path / "x.jpg", FaceConfig())
    with pytest.raises(ItemRejected, match=r"y.wav: is a directory, not a file"):
        load_audio(tmp_path / "y.wav", AudioConfig())


def _png_claiming(path: Path, w: int, h: int) -> None:
    """A tiny PNG file whose header claims ``w`` x ``h`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def test_absurd_pixel_count_is_refused_from_the_header(tmp_path: Path) -> None:
    p = tmp_path / "big.png"
    _png_claiming(p, 9000, 9000)  # 81 Mpx: PIL would allocate 243 MB, then fail on the data
    with pytest.raises(ItemRejected, match=r"too_large: .*big.png: 9000x9000 image has "
                       r"81,000,000 pixels, more than face.max_pixels=64,000,000"):  # fmt: skip
        process_face(p, FaceConfig())
    p = tmp_path / "bomb.png"
    _png_claiming(p, 30000, 30000)  # 900 Mpx: PIL's own bomb check fires first
    t0 = time.perf_counter()
    with pytest.raises(ItemRejected, match=r"too_large: .*bomb.png: image has more than "
                       r"178,956,970 pixels, more than face.max_pixels=64,000,000"):  # fmt: skip
        process_face(p, FaceConfig())
    assert time.perf_counter() - t0 < 1.0


def test_large_jpeg_is_decoded_reduced_and_its_face_found(tmp_path: Path, shared_dir: Path) -> None:
    import av

    with av.open(str(shared_dir / "media" / "grid" / "bbaf2n.mpg")) as c:
        frame = next(f for i, f in enumerate(c.decode(video=0)) if i == 25).to_ndarray(
            format="rgb24"
        )
    big = Image.fromarray(frame).resize((4320, 3456), Image.Resampling.BILINEAR)  # 14.9 Mpx
    p = tmp_path / "big.jpg"
    big.save(p, quality=85)
    cfg = PreprocessConfig().face
    img = load_image(p, max_pixels=cfg.max_pixels, decode_pixels=cfg.decode_pixels)
    assert img.shape == (1728, 2160, 3)  # JPEG draft: DCT-scaled by 1/2, never decoded in full
    out, stats = process_face(p, cfg)
    assert out.shape == (112, 112, 3) and stats["n_faces"] == 1 and stats["detect_pass"] == "fast"
    assert stats["image_wh"] == [2160, 1728]


# ---- 15.7: output permissions -----------------------------------------------------------
@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    old = os.umask(0o022)
    try:
        yield lambda m: os.umask(m)  # type: ignore[func-returns-value]
    finally:
        os.umask(old)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_respect_the_umask_like_open(
    tmp_path: Path, umask: Callable[[int], None], mask: int, mode: int
) -> None:
    from vfbench.utils.io import atomic_save_npz, atomic_write_json, atomic_write_text

    umask(mask)
    atomic_write_text(tmp_path / "report.md", "x")
    atomic_write_json(tmp_path / "results.json", {"a": 1})
    atomic_save_npz(tmp_path / "emb.npz", x=np.zeros(3))
    with open(tmp_path / "plain.txt", "w") as fh:  # the reference: what open() gives
        fh.write("x")
    for name in ("report.md", "results.json", "emb.npz", "plain.txt"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == mode, name
    # replacing a file keeps its mode, as open(path, "w") on an existing file does
    os.chmod(tmp_path / "report.md", 0o640)
    atomic_write_text(tmp_path / "report.md", "y")
    assert stat.S_IMODE(os.stat(tmp_path / "report.md").st_mode) == 0o640
    assert (tmp_path / "report.md").read_text() == "y"


def test_cache_and_manifest_files_are_readable_by_the_group(
    tmp_path: Path, umask: Callable[[int], None]
) -> None:
    umask(0o027)
    m = _voice_manifest(tmp_path, {"a": _tone()})
    m.save(tmp_path / "manifest")
    preprocess(m, tmp_path / "cache", modality="voice", progress=False)
    files = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.name != LOCK_FILE]
    files += list((tmp_path / "manifest").iterdir())
    assert len(files) >= 8  # shard blob + index, config, cache.json, qc files, 4 manifest files
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o640}


def test_overlong_audio_is_refused_before_it_is_decoded_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import av

    from vfbench.preprocess import audio

    monkeypatch.setattr(audio, "MAX_CLIP_SECONDS", 1.0)
    sf.write(tmp_path / "long.wav", _tone(2.0), SR)
    with pytest.raises(ItemRejected, match=r"too_long: .*long.wav: 2 s is longer than 1 s"):
        load_audio(tmp_path / "long.wav", AudioConfig())
    with av.open(str(tmp_path / "long.m4a"), "w", format="mp4") as c:
        st = c.add_stream("aac", rate=SR)
        st.layout = "mono"
        x = _tone(2.0)
        for i in range(0, x.size, 1024):
            fr = av.AudioFrame.from_ndarray(
                x[None, i : i + 1024].copy(), format="fltp", layout="mono"
            )
            fr.sample_rate, fr.pts = SR, i
            for pkt in st.encode(fr):
                c.mux(pkt)
        for pkt in st.encode(None):
            c.mux(pkt)
    with pytest.raises(ItemRejected, match=r"too_long: .*long.m4a: longer than 1 s"):
        load_audio(tmp_path / "long.m4a", AudioConfig())
    sf.write(tmp_path / "ok.wav", _tone(0.9), SR)
    assert load_audio(tmp_path / "ok.wav", AudioConfig()).wave.size == int(0.9 * SR)
