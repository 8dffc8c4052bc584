"""The synthetic corpus: config, traits, determinism, layout, and that the link is real.

The media checks use hand-crafted features computed here from the decoded files (median
f0 by autocorrelation; skin colour and head width from pixels), so they prove that the
shared traits are *in the media*, not only in the table.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from scipy.stats import multivariate_normal, spearmanr

from vfbench.data.synthetic import (
    SynthConfig,
    TraitTable,
    bayes_log_likelihood,
    generate_corpus,
    load_synth_config,
    sample_traits,
)
from vfbench.data.synthetic.faces import face_look, render_face
from vfbench.data.synthetic.oracle import trait_components
from vfbench.data.synthetic.traits import GROUPS, STREAM_FACE, STREAM_VOICE, identity_rng
from vfbench.data.synthetic.voices import render_voice, session_channel, voice_profile
from vfbench.errors import ConfigError, DataError, ManifestError

TINY = {
    "identities": 6,
    "faces_per_id": 2,
    "voices_per_id": 3,
    "min_seconds": 1.0,
    "max_seconds": 1.5,
    "image_size": 64,
}


def tiny(**kw: object) -> SynthConfig:
    return SynthConfig(**{**TINY, **kw})  # type: ignore[arg-type]


def file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for sub in ("voices", "faces")
        for p in sorted((root / sub).rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "c"
    generate_corpus(out, tiny(), progress=False)
    return out


# ---- config -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("override", "culprit"),
    [
        ("shared_strength=1.5", "shared_strength"),
        ("identities=1", "identities"),
        ("split_ratios=[0.5, 0.5, 0.5]", "split_ratios"),
        ("min_seconds=9", "min_seconds"),
        ("nope=1", "'nope'"),
        ("faces_per_id=abc", "faces_per_id"),
    ],
)
def test_bad_config_names_the_key(override: str, culprit: str) -> None:
    with pytest.raises(ConfigError, match=culprit):
        load_synth_config(None, [override])


def test_config_yaml_and_override_order(tmp_path: Path) -> None:
    y = tmp_path / "s.yaml"
    y.write_text("identities: 10\nseed: 3\n")
    cfg = load_synth_config(y, ["seed=5"])
    assert (cfg.identities, cfg.seed, cfg.faces_per_id) == (10, 5, 8)


# ---- traits ---------------------------------------------------------------------------------
def test_identity_traits_do_not_depend_on_corpus_size() -> None:
    small, big = (
        sample_traits(SynthConfig(identities=10)),
        sample_traits(SynthConfig(identities=50)),
    )
    assert small.ids == big.ids[:10] == [f"s{i:04d}" for i in range(1, 11)]
    np.testing.assert_array_equal(small.face, big.face[:10])
    np.testing.assert_array_equal(small.voice_private, big.voice_private[:10])
    assert not np.allclose(sample_traits(SynthConfig(seed=1, identities=10)).true, small.true)


def test_default_splits_have_enough_balanced_test_identities() -> None:
    t = sample_traits(SynthConfig())
    split = np.array(t.split)
    assert [(split == s).sum() for s in ("train", "val", "test")] == [280, 40, 80]
    test_m = (t.gender[split == "test"] == "m").mean()
    assert abs(test_m - (t.gender == "m").mean()) < 0.03  # gender-stratified


def test_shared_traits_model() -> None:
    """face/voice observables correlate with each other at s^2 (per dimension, in-group)."""
    s = 0.6
    t = sample_traits(SynthConfig(shared_strength=s), 20000)
    # age has no gender/group mean: corr(face, voice) = s^2 P^2 / (s^2 P^2 + (1-s^2) N^2)
    r = np.corrcoef(t.face[:, 1], t.voice[:, 1])[0, 1]
    a = s**2 * 1.0
    assert r == pytest.approx(a / (a + (1 - s**2) * 1.0), abs=0.02)
    # private traits are independent of the shared ones
    assert abs(np.corrcoef(t.voice_private[:, 0], t.true[:, 0])[0, 1]) < 0.03


def test_traits_csv_roundtrip_and_bad_rows(tmp_path: Path) -> None:
    t = sample_traits(tiny())
    t.save(tmp_path / "traits.csv")
    back = TraitTable.load(tmp_path / "traits.csv")
    assert back.ids == t.ids and back.split == t.split
    np.testing.assert_allclose(back.face, t.face, atol=1e-6)
    np.testing.assert_array_equal(back.gender, t.gender)
    np.testing.assert_array_equal(back.group, t.group)
    lines = (tmp_path / "traits.csv").read_text().splitlines()
    bad = lines[:3] + [lines[3].replace(",m,", ",x,").replace(",f,", ",x,")] + lines[4:]
    (tmp_path / "bad.csv").write_text("\n".join(bad) + "\n")
    with pytest.raises(ManifestError, match=r"bad\.csv:4: gender 'x'"):
        TraitTable.load(tmp_path / "bad.csv")
    cells = lines[2].split(",")
    cells[-1] = "oops"
    (tmp_path / "bad2.csv").write_text("\n".join([lines[0], lines[1], ",".join(cells)]) + "\n")
    with pytest.raises(ManifestError, match=r"bad2\.csv:3: column 'vp_vowel_bias': 'oops'"):
        TraitTable.load(tmp_path / "bad2.csv")
    with pytest.raises(ManifestError, match=r"bad3\.csv:1: missing column 'gender'"):
        (tmp_path / "bad3.csv").write_text("identity,split\ns0001,test\n")
        TraitTable.load(tmp_path / "bad3.csv")


# ---- oracle ---------------------------------------------------------------------------------
def test_bayes_likelihood_matches_brute_force_mixture() -> None:
    """log p(v|f) against scipy's 10-D Gaussian densities summed over the 10 components."""
    s = 0.6
    mu, a, b = trait_components(s)
    cov = np.block([[np.diag(a), np.diag(b)], [np.diag(b), np.diag(a)]])
    rng = np.random.default_rng(0)
    v, f = rng.normal(0, 1, (5, 5)), rng.normal(0, 1, (5, 5))
    ref = []
    for k in range(5):
        joint = np.mean([multivariate_normal(np.r_[m, m], cov).pdf(np.r_[v[k], f[k]]) for m in mu])
        marg = np.mean([multivariate_normal(m, np.diag(a)).pdf(f[k]) for m in mu])
        ref.append(np.log(joint / marg))
    np.testing.assert_allclose(bayes_log_likelihood(v, f, s), ref, rtol=1e-9)


def test_bayes_rule_beats_a_naive_rule() -> None:
    """The Bayes rule is optimal: on 1:2 trials it beats nearest-neighbour on the raw
    observables (the ceiling's figures and intervals: tests/experiments/test_oracle.py)."""
    t = sample_traits(SynthConfig(shared_strength=0.6), 2000)
    rng = np.random.default_rng(1)
    i = rng.integers(0, len(t), 40000)
    j = rng.integers(0, len(t) - 1, 40000)
    j = j + (j >= i)
    pos = bayes_log_likelihood(t.voice[i], t.face[i], 0.6)
    neg = bayes_log_likelihood(t.voice[i], t.face[j], 0.6)
    bayes = np.mean(pos > neg)
    naive = np.mean(
        np.sum((t.voice[i] - t.face[i]) ** 2, 1) < np.sum((t.voice[i] - t.face[j]) ** 2, 1)
    )
    assert bayes > naive + 0.01


# ---- corpus: layout, determinism, resume ---------------------------------------------------
def test_layout_and_media_formats(corpus: Path) -> None:
    meta = (corpus / "meta.csv").read_text().splitlines()
    assert meta[0] == "identity,gender,nationality,language,split" and len(meta) == 7
    wavs = sorted((corpus / "voices").rglob("*.wav"))
    jpgs = sorted((corpus / "faces").rglob("*.jpg"))
    assert len(wavs) == 18 and len(jpgs) == 12
    # 3 utterances over 2..4 drawn sessions: traits.csv lists the sessions on disk
    table = TraitTable.load(corpus / "traits.csv")
    for i, ident in enumerate(table.ids):
        on_disk = {w.parent.name for w in wavs if w.parts[-3] == ident}
        assert len(on_disk) == int(table.sessions[i]) and 2 <= len(on_disk) <= 3
    for w in wavs:
        info = sf.info(str(w))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 1.0 <= info.duration <= 1.5
    for j in jpgs:
        with Image.open(j) as im:
            assert (im.mode, im.size, im.format) == ("RGB", (64, 64), "JPEG")
    listed = (corpus / "SHA256SUMS").read_text().splitlines()
    assert len(listed) == 18 + 12 + 2
    path, digest = listed[0].split("  ")[1], listed[0].split("  ")[0]
    assert hashlib.sha256((corpus / path).read_bytes()).hexdigest() == digest


def test_same_seed_is_byte_identical_whatever_the_workers(corpus: Path, tmp_path: Path) -> None:
    generate_corpus(tmp_path / "w2", tiny(), workers=2, progress=False, prepare=False)
    a, b = file_hashes(corpus), file_hashes(tmp_path / "w2")
    assert a == b and len(a) == 30
    for name in ("meta.csv", "traits.csv", "SHA256SUMS"):
        assert (corpus / name).read_bytes() == (tmp_path / "w2" / name).read_bytes()
    generate_corpus(tmp_path / "s1", tiny(seed=1), progress=False, prepare=False)
    c = file_hashes(tmp_path / "s1")
    common = set(a) & set(c)  # session counts differ too, so some paths do
    assert len(c) == len(a) and len(common) >= 12 and all(c[k] != a[k] for k in common)


def test_resume_renders_only_missing_files_and_refuses_other_folders(tmp_path: Path) -> None:
    out = tmp_path / "c"
    cfg = tiny(identities=3, voices_per_id=2)
    first = generate_corpus(out, cfg, progress=False, prepare=False)
    victim = sorted((out / "voices").rglob("*.wav"))[1]
    victim.unlink()
    stale = victim.with_name(f".{victim.name}.tmp123")  # as left by a killed run
    stale.write_bytes(b"half")
    again = generate_corpus(out, cfg, progress=False, prepare=False)
    assert again.written == 1 and again.corpus_sha256 == first.corpus_sha256
    assert victim.is_file() and not stale.exists()
    with pytest.raises(DataError, match="another config; pass --overwrite"):
        generate_corpus(out, tiny(identities=4), progress=False, prepare=False)
    res = generate_corpus(out, tiny(identities=2), overwrite=True, progress=False, prepare=False)
    assert res.identities == 2 and len(list((out / "faces").iterdir())) == 2
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match=r"mine.*'notes\.txt'"):
        generate_corpus(foreign, cfg, overwrite=True, progress=False, prepare=False)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_loads_through_folder_recipe_and_validates(corpus: Path) -> None:
    from vfbench.data import validate
    from vfbench.data.manifest import load_manifest

    m = load_manifest(corpus / "manifest")
    assert len(m.identities) == 6 and len(m.voices) == 18 and len(m.faces) == 12
    meta = {
        r.split(",")[0]: r.split(",") for r in (corpus / "meta.csv").read_text().splitlines()[1:]
    }
    for ident in m.identities:
        assert [ident.gender, ident.nationality, ident.language, ident.split] == meta[ident.id][1:]
    assert all(v.sample_rate == 16000 and 1.0 <= v.duration <= 1.5 for v in m.voices)
    report = validate.validate_manifest(m, check_media=True)
    # no errors and no warnings: in particular the durations / sizes the generator filled
    # in agree with the file headers (else ``metadata_mismatch``)
    assert report.ok and not report.issues, report.summary()
    probed = m.voices[0].duration
    assert sf.info(str(m.voice_path(m.voices[0]))).duration == pytest.approx(probed, abs=1e-6)


# ---- the information is in the media ---------------------------------------------------------
def median_f0(x: np.ndarray, sr: int) -> float:
    """Median f0 (Hz) over voiced 40 ms frames: autocorrelation peak in 60-400 Hz."""
    hop, win = 320, 640
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[::hop]
    frames = frames - frames.mean(1, keepdims=True)
    energy = (frames**2).sum(1)
    frames = frames[energy > 0.3 * np.median(energy[energy > 0]) * 2]
    spec = np.fft.rfft(frames * np.hanning(win), 2 * win)
    ac = np.fft.irfft(np.abs(spec) ** 2)[:, :win]
    lo, hi = sr // 400, sr // 60
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    clarity = ac[np.arange(len(ac)), lag] / ac[:, 0]
    return float(np.median(sr / lag[clarity > 0.4]))


def test_f0_measured_from_audio_follows_gender_and_size() -> None:
    t = sample_traits(SynthConfig(), 36)
    f0 = []
    for i in range(len(t)):
        prof = voice_profile(t.voice[i], t.voice_private[i])
        ch = session_channel(identity_rng(0, i, 3, 0), 16000)
        x = render_voice(prof, ch, identity_rng(0, i, STREAM_VOICE, 0), 2.0)
        f0.append(median_f0(x, 16000))
    f0 = np.array(f0)
    male = t.gender == "m"
    assert np.median(f0[male]) < 0.75 * np.median(f0[~male])
    # the trait combination that drives f0 in the generator (masc dominates, size adds)
    drive = -(0.55 * t.voice[:, 0] + 0.10 * t.voice[:, 2])
    assert spearmanr(f0, drive).statistic > 0.6
    assert spearmanr(f0, t.face[:, 0]).statistic < -0.5  # ... and so the face's masc


def test_skin_colour_and_head_width_measured_from_images() -> None:
    t = sample_traits(SynthConfig(), 40)
    lum, width = [], []
    for i in range(len(t)):
        look = face_look(t.face[i], t.face_private[i])
        img = np.asarray(render_face(look, identity_rng(0, i, STREAM_FACE, 0)), dtype=float)
        cheek = np.concatenate([img[68:76, 36:44], img[68:76, 84:92]]).reshape(-1, 3)
        lum.append(cheek.mean())
        flat = np.asarray(
            render_face(look, identity_rng(0, i, STREAM_FACE, 0), nuisance=0.0), dtype=float
        )
        skin = flat[70, 64]
        row = np.linalg.norm(flat[60] - skin, axis=1) < 12  # skin pixels across the eye row
        width.append(row.sum())
    assert spearmanr(lum, t.face[:, 3]).statistic < -0.6  # anc1 darkens the skin
    assert spearmanr(width, t.face[:, 2]).statistic > 0.6  # body size widens the head


def test_same_identity_looks_and_sounds_alike() -> None:
    """Distances within an identity are smaller than across identities: face colour,
    and, across different recording sessions, median f0 and the tilt-removed long-term
    spectrum (formants)."""
    cfg = tiny(identities=8, faces_per_id=3, voices_per_id=3, max_seconds=2.0, image_size=128)
    t = sample_traits(cfg)
    feats: dict[str, list[np.ndarray]] = {"face": [], "f0": [], "spectrum": []}
    who = []
    for i in range(len(t)):
        look = face_look(t.face[i], t.face_private[i])
        prof = voice_profile(t.voice[i], t.voice_private[i])
        for k in range(3):
            img = np.asarray(render_face(look, identity_rng(0, i, STREAM_FACE, k)), dtype=float)
            feats["face"].append(img[40:100, 34:94].mean((0, 1)))  # central face colour
            ch = session_channel(identity_rng(0, i, 3, k), 16000)  # a new session each time
            x = render_voice(prof, ch, identity_rng(0, i, STREAM_VOICE, k), 2.0)
            feats["f0"].append(np.log([median_f0(x, 16000)]))
            frames = np.lib.stride_tricks.sliding_window_view(x, 512)[::256]
            ltas = np.log(np.abs(np.fft.rfft(frames, axis=1)).mean(0) + 1e-9)[:128]  # < 4 kHz
            bins = np.arange(128)
            feats["spectrum"].append(ltas - np.polyval(np.polyfit(bins, ltas, 1), bins))
            who.append(i)
    who_a = np.array(who)
    same = (who_a[:, None] == who_a[None]) & ~np.eye(len(who_a), dtype=bool)
    diff = who_a[:, None] != who_a[None]
    limits = {"face": 0.8, "f0": 0.5, "spectrum": 0.9}
    for name, rows in feats.items():
        f = np.array(rows)
        f = (f - f.mean(0)) / (f.std(0) + 1e-9)
        d = np.linalg.norm(f[:, None] - f[None], axis=2)
        assert d[same].mean() < limits[name] * d[diff].mean(), name


def test_groups_have_names_and_languages(corpus: Path) -> None:
    rows = [r.split(",") for r in (corpus / "meta.csv").read_text().splitlines()[1:]]
    assert all(r[2] in GROUPS and r[1] in ("m", "f") for r in rows)
    assert {r[4] for r in rows} <= {"train", "val", "test"}
