"""Source-filter voice synthesis (numpy + scipy.signal), VoxCeleb-style utterances.

An utterance is a sequence of phrases of syllables (optional fricative or plosive onset
+ a vowel) separated by pauses. The voiced source is a Rosenberg glottal pulse train at
a time-varying f0 (phrase declination, pitch accents, phrase-final rise/fall, jitter,
per-cycle shimmer, aspiration noise for breathy voices); it is shaped by a cascade of
four Klatt formant resonators whose frequencies are the vowel's targets divided by a
vocal-tract-length factor. Fricatives are band-passed noise. Then the session's channel
(band limits + spectral tilt) and background noise at a per-utterance SNR are applied,
and the clip is scaled to a random peak level.

Trait -> voice (shared dims in latent units, see ``traits.SHARED_DIMS``):

===========  ====================================================================
masc         f0 (about one octave between the gender means), vocal-tract length
             (formants), f0 change with age (men up, women down)
age          jitter, shimmer, slower speaking rate
size         lower f0, longer vocal tract (lower formants)
anc1         accent: F1/F2 vowel-space shift
anc2         accent: vowel preferences, phrase-final rise vs fall, declination
===========  ====================================================================

Private: base f0 offset, breathiness, speaking rate, pitch range, tract offset,
fricative colour, vowel preference. The session shares the channel and the noise colour.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import signal

from vfbench.data.synthetic.traits import VOICE_PRIVATE

_VP = {n: i for i, n in enumerate(VOICE_PRIVATE)}
#: Vowel formant targets F1..F4 (Hz) of an average adult vocal tract: /a e i o u/.
VOWELS = np.array(
    [
        [730.0, 1250.0, 2550.0, 3500.0],
        [500.0, 1800.0, 2550.0, 3500.0],
        [320.0, 2250.0, 2900.0, 3600.0],
        [480.0, 950.0, 2450.0, 3400.0],
        [340.0, 850.0, 2350.0, 3350.0],
    ]
)
BANDWIDTHS = np.array([70.0, 100.0, 140.0, 200.0])


@dataclass(frozen=True)
class VoiceProfile:
    """Identity-level voice parameters (Hz, seconds, fractions)."""

    f0: float
    vtl: float  # formants are divided by it
    rate: float  # syllables per second
    pitch_range: float  # semitones of a pitch accent
    breath: float  # 0..1
    jitter: float  # relative f0 perturbation
    shimmer: float  # relative per-cycle amplitude perturbation
    fric_hz: float
    vowel_p: tuple[float, ...]
    f1_shift: float
    f2_shift: float
    terminal: float  # octaves of phrase-final movement (+ rise, - fall)
    declination: float  # octaves over a phrase


def voice_profile(obs: np.ndarray, private: np.ndarray) -> VoiceProfile:
    """Identity voice from observable shared traits ``(5,)`` and private traits."""
    masc, age, size, a1, a2 = (float(x) for x in np.clip(obs, -3.0, 3.0))
    vp = np.clip(private, -3.0, 3.0)
    log2f0 = np.log2(165.0) - 0.55 * masc - 0.10 * size + 0.05 * masc * age + 0.10 * vp[_VP["f0"]]
    vowel_w = np.array([0.0, 0.5, 1.0, -0.5, -1.0]) * a2 + 0.4 * vp[_VP["vowel_bias"]] * np.array(
        [1.0, -1.0, 0.0, 1.0, -1.0]
    )
    p = np.exp(vowel_w)
    p = p / p.sum()
    age01 = float(np.clip((age + 2.0) / 4.0, 0.0, 1.0))
    return VoiceProfile(
        f0=float(np.clip(2.0**log2f0, 70.0, 350.0)),
        vtl=float(1.0 + 0.05 * size + 0.06 * masc + 0.02 * vp[_VP["tract"]]),
        rate=float(np.clip(4.6 * 2.0 ** (0.18 * vp[_VP["rate"]] - 0.07 * age), 2.5, 8.0)),
        pitch_range=float(np.clip(2.5 * 2.0 ** (0.35 * vp[_VP["pitch_range"]]), 0.8, 8.0)),
        breath=float(np.clip(private[_VP["breathiness"]], 0.0, 1.0)),
        jitter=0.004 + 0.016 * age01,
        shimmer=0.03 + 0.10 * age01,
        # on a 100 Hz grid, so a few pre-filtered noise banks serve every identity
        fric_hz=float(np.round(26.0 + 24.0 * np.clip(private[_VP["fricative"]], 0.0, 1.0)) * 100),
        vowel_p=tuple(float(x) for x in p),
        f1_shift=float(1.0 + 0.06 * a1),
        f2_shift=float(1.0 - 0.07 * a1),
        terminal=float(0.25 * np.tanh(a2)),
        declination=float(-0.15 - 0.08 * a2),
    )


@dataclass(frozen=True)
class Channel:
    """A recording session: band limits, spectral tilt, background-noise colour, hum."""

    sos: np.ndarray  # (sections, 6)
    tilt: float  # first-order pre-emphasis coefficient (+ brighter, - duller)
    noise_red: float  # background noise colour: 0 = white ... 1 = red (one-pole 0.97)
    hum: float  # hum amplitude relative to the noise
    hum_hz: float


def session_channel(rng: np.random.Generator, sr: int, nuisance: float = 1.0) -> Channel:
    """Draw the channel of one session."""
    nu = float(nuisance)
    nyq = sr / 2
    hp = 50.0 + rng.uniform(0.0, 200.0) * nu
    lp = min(0.94 * nyq, 0.94 * nyq - rng.uniform(0.0, 0.5 * nyq) * nu)
    sos = np.concatenate(
        [
            signal.butter(2, hp, btype="highpass", fs=sr, output="sos"),
            signal.butter(2, lp, btype="lowpass", fs=sr, output="sos"),
        ]
    )
    tilt = float(rng.uniform(-0.4, 0.6) * nu)
    sos = np.concatenate([sos, [[1.0, -tilt, 0.0, 1.0, 0.0, 0.0]]])  # 1 - tilt z^-1
    return Channel(
        sos=sos,
        tilt=tilt,
        noise_red=float(rng.uniform(0.0, 1.0)),
        hum=float(rng.uniform(0.0, 0.5) * (rng.random() < 0.3 * nu)),
        hum_hz=float(rng.choice([50.0, 60.0])),
    )


def _klatt_tf(freqs: np.ndarray, bws: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Cascade of unity-DC-gain two-pole resonators (Klatt 1980) as one (b, a) filter.

    Each resonator is ``A / (1 - B z^-1 - C z^-2)`` with ``C = -r^2``,
    ``B = 2 r cos(2 pi F / sr)``, ``r = exp(-pi BW / sr)`` and ``A = 1 - B - C``.
    """
    r = np.exp(-np.pi * bws / sr)
    b1 = 2 * r * np.cos(2 * np.pi * freqs / sr)
    b2 = -(r**2)
    den = np.ones(1)
    for k in range(len(freqs)):
        den = np.convolve(den, [1.0, -b1[k], -b2[k]])
    return np.array([float(np.prod(1 - b1 - b2))]), den


_TABLE = 2048
_HOP = 80
_BANK_SIZE = 1 << 21


@functools.lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """A fixed bank of white Gaussian noise (2**21 samples, seeded): utterances take
    random slices of it, which is ~20x cheaper than fresh draws and just as reproducible."""
    rng = np.random.default_rng(np.random.SeedSequence(20240601))
    bank = rng.standard_normal(_BANK_SIZE)
    bank.flags.writeable = False  # slices are shared: never modified in place
    return bank


def _noise(rng: np.random.Generator, n: int, bank: np.ndarray | None = None) -> np.ndarray:
    """``n`` samples of unit noise starting at a random offset of ``bank`` (default white)."""
    bank = _noise_bank() if bank is None else bank
    if n > len(bank):  # longer than the bank (> 2**19 samples for coloured banks): tile
        bank = np.tile(bank, n // len(bank) + 1)
    a = int(rng.integers(0, len(bank) - n + 1))
    return bank[a : a + n]


@functools.lru_cache(maxsize=64)
def _coloured_bank(kind: str, key: float, sr: int) -> np.ndarray:
    """Unit-RMS filtered copies of the first 2**19 bank samples, computed once per process:
    ``("fric", centre Hz)`` band-passed fricative noise, ``("red", 0)`` one-pole red noise."""
    white = _noise_bank()[: 1 << 19]
    if kind == "fric":
        out = signal.sosfilt(_fricative_sos(key, sr), white)
    else:
        out = signal.lfilter([1.0], [1.0, -0.97], white)
    out = out / np.sqrt(np.mean(out**2))
    out.flags.writeable = False
    return out


def _rosenberg_table(breath: float) -> np.ndarray:
    """Glottal flow over one period (Rosenberg 1971), tabulated on ``_TABLE`` phases.

    Open quotient grows with breathiness; 65% of the open phase opens, 35% closes.
    """
    frac = np.arange(_TABLE) / _TABLE
    oq = 0.55 + 0.3 * breath
    tp, tn = 0.65 * oq, 0.35 * oq
    return np.where(
        frac < tp,
        0.5 * (1 - np.cos(np.pi * frac / tp)),
        np.where(frac < tp + tn, np.cos(0.5 * np.pi * np.clip(frac - tp, 0, tn) / tn), 0.0),
    )


@functools.lru_cache(maxsize=4096)
def _fricative_sos(fc: float, sr: int) -> np.ndarray:
    """Band-pass (2nd-order Butterworth) around a fricative centre frequency."""
    lo, hi = fc * 0.7, min(fc * 1.4, 0.45 * sr)
    return signal.butter(2, [lo, hi], btype="bandpass", fs=sr, output="sos")


def _ramped(row: np.ndarray, a: int, b: int, ramp: int) -> None:
    """Set ``row[a:b]`` to 1 with raised-cosine on/off ramps of up to ``ramp`` samples."""
    if b <= a:
        return
    row[a:b] = 1.0
    r = min(ramp, (b - a) // 2)
    if r > 0:
        w = 0.5 - 0.5 * np.cos(np.pi * (np.arange(r) + 0.5) / r)
        row[a : a + r] = w
        row[b - r : b] = w[::-1]


def render_voice(
    profile: VoiceProfile,
    channel: Channel,
    rng: np.random.Generator,
    seconds: float,
    sr: int = 16000,
    nuisance: float = 1.0,
) -> np.ndarray:
    """One utterance: ``(round(seconds * sr),)`` float64 in [-1, 1]."""
    nu = float(nuisance)
    n = int(round(seconds * sr))
    # ---- segment plan: (kind, start, end, vowel, accent, phrase_pos, phrase_end)
    segs: list[tuple[int, int, int, int, float, float, bool]] = []
    t = int(sr * rng.uniform(0.05, 0.3))
    syl = 1.0 / profile.rate
    vp = np.asarray(profile.vowel_p)
    while t < n - int(0.15 * sr):
        n_syl = int(rng.integers(3, 10))
        for s_i in range(n_syl):
            r = rng.random()
            onset, kind = 0.0, 0
            if r < 0.45:  # fricative onset
                onset, kind = rng.uniform(0.05, 0.11), 2
            elif r < 0.65:  # plosive: closure (silence) then burst
                onset, kind = rng.uniform(0.03, 0.06), 3
            if onset:
                e = min(n, t + int(onset * sr))
                segs.append((kind, t, e, -1, 0.0, 0.0, False))
                t = e
            dur = max(0.06, syl * rng.uniform(0.6, 1.15) - onset)
            e = min(n, t + int(dur * sr))
            vowel = int(rng.choice(5, p=vp))
            accent = 1.0 if rng.random() < 0.3 else -0.25
            segs.append((1, t, e, vowel, accent, s_i / max(n_syl - 1, 1), s_i == n_syl - 1))
            t = e
            if t >= n:
                break
        pause = rng.uniform(0.08, 0.4)
        if rng.random() < 0.15 * nu:  # occasional longer silence
            pause += rng.uniform(0.3, 1.0)
        t += int(pause * sr)
    segs = [sg for sg in segs if sg[1] < sg[2]]  # drop empty tails
    kinds = [sg[0] for sg in segs]
    starts, ends, vowels = [sg[1] for sg in segs], [sg[2] for sg in segs], [sg[3] for sg in segs]
    accents, ppos, pend = [sg[4] for sg in segs], [sg[5] for sg in segs], [sg[6] for sg in segs]
    k_arr = np.array(kinds, dtype=np.int64)
    st, en = np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)
    # ---- envelopes (vowels, fricatives, bursts)
    env = np.zeros((3, n))
    for kind, a, b in zip(kinds, starts, ends, strict=True):
        if kind == 3:  # burst at the end of the closure
            a = max(a, b - int(0.015 * sr))
        _ramped(env[{1: 0, 2: 1, 3: 2}[kind]], a, b, int(0.006 * sr))
    # ---- f0 contour (log2 Hz knots at vowel centres) with jitter
    v_idx = np.flatnonzero(k_arr == 1)
    centres = (st[v_idx] + en[v_idx]) / 2
    knots = (
        np.log2(profile.f0)
        + np.array(accents)[v_idx] * profile.pitch_range / 12.0
        + profile.declination * np.array(ppos)[v_idx]
        + profile.terminal * np.array(pend)[v_idx]
        + rng.normal(0.0, 0.03, len(v_idx))
    )
    if len(v_idx) == 0:
        centres, knots = np.array([0.0]), np.array([np.log2(profile.f0)])
    # control rate: one f0 value per HOP samples (phase is integrated, so no clicks)
    m = n // _HOP + 1
    f0_ctrl = np.interp(np.arange(m) * _HOP, centres, 2.0**knots)
    f0_ctrl *= 1.0 + profile.jitter * rng.normal(0.0, 1.0, m)
    f0 = np.repeat(f0_ctrl, _HOP)[:n]
    # ---- glottal source: Rosenberg pulse derivative, shimmer, aspiration
    phase = np.cumsum(f0 / sr)
    cyc = phase.astype(np.int64)
    frac = phase - cyc
    g = _rosenberg_table(profile.breath)[(frac * _TABLE).astype(np.int64)]
    shim = 1.0 + profile.shimmer * rng.normal(0.0, 1.0, int(cyc[-1]) + 2)[cyc]
    src = np.diff(g, prepend=0.0) * shim
    src /= np.sqrt(np.mean(src**2)) + 1e-12
    noise = _noise(rng, n)  # aspiration in vowels, frication in consonants
    exc = (src + noise * (0.15 + g) * (0.1 + 0.9 * profile.breath)) * env[0]
    # ---- formant cascade, re-tuned at each vowel onset; the filter state carries over,
    # so a vowel's resonance rings on into the following consonant
    voiced = np.empty(n)
    zi = np.zeros(2 * len(BANDWIDTHS))
    bounds = np.concatenate([[0], st[v_idx][1:], [n]]) if len(v_idx) else np.array([0, n])
    shift = np.array([profile.f1_shift, profile.f2_shift, 1.0, 1.0])
    bw = BANDWIDTHS * (1.0 + np.array([0.8, 0.3, 0.0, 0.0]) * profile.breath)
    for r_i in range(len(bounds) - 1):
        a, b = int(bounds[r_i]), int(bounds[r_i + 1])
        if b <= a:
            continue
        vow = vowels[v_idx[r_i]] if len(v_idx) else 0
        f = np.minimum(VOWELS[vow] * shift / profile.vtl, 0.45 * sr)
        num, den = _klatt_tf(f, bw, sr)
        voiced[a:b], zi = signal.lfilter(num, den, exc[a:b], zi=zi)
    # ---- fricatives and bursts
    fric = _noise(rng, n, _coloured_bank("fric", profile.fric_hz, sr))
    speech = voiced / np.sqrt(np.dot(voiced * voiced, env[0]) / (env[0].sum() + 1e-12) + 1e-24)
    speech = speech + 0.35 * fric * env[1] + 0.6 * noise * env[2]
    # ---- background noise at a random SNR, hum, channel, level
    snr_db = rng.uniform(35.0 - 25.0 * nu, 45.0 - 15.0 * nu)
    th = 0.5 * np.pi * channel.noise_red  # unit RMS mix of independent white and red noise
    bg = np.cos(th) * _noise(rng, n) + np.sin(th) * _noise(rng, n, _coloured_bank("red", 0.0, sr))
    active = env[0] + env[1]
    p_speech = np.sqrt(np.dot(speech * speech, active) / (active.sum() + 1e-12) + 1e-24)
    bg *= p_speech * 10.0 ** (-snr_db / 20.0)
    if channel.hum > 0:
        bg += channel.hum * np.std(bg) * np.sin(2 * np.pi * channel.hum_hz * np.arange(n) / sr)
    x = signal.sosfilt(channel.sos, speech + bg)  # band limits + tilt, one pass
    peak_db = rng.uniform(-20.0, -2.0) if nu > 0 else -3.0
    x *= 10.0 ** (peak_db / 20.0) / (np.max(np.abs(x)) + 1e-12)
    return x


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float in [-1, 1] -> int16 with rounding and clipping."""
    return np.clip(np.round(x * 32767.0), -32768, 32767).astype(np.int16)
