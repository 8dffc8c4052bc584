"""Hidden identity traits of the synthetic corpus: shared (drive both modalities) and private.

Generative model (one identity)::

    gender g ~ {m, f} (1/2 each);  group k ~ {0..K-1} (1/K each)
    x      = mu(g, k) + P * delta,          delta ~ N(0, I_5)      true shared traits
    face   = s * x + sqrt(1 - s^2) * N * e_f,  e_f ~ N(0, I_5)       what the face renderer sees
    voice  = s * x + sqrt(1 - s^2) * N * e_v,  e_v ~ N(0, I_5)       what the voice renderer sees

over the five shared dimensions ``SHARED_DIMS`` (gender expression, age, body size, two
ancestry coordinates), with ``s = shared_strength``. Private traits (hair style, eye
spacing, speaking rate, breathiness, ...) are drawn independently of everything else and
used by one modality only, and per-item nuisance is independent again. A perfect
perceiver of both media can therefore recover at most ``face`` and ``voice`` for an
identity, and the Bayes rule on them (:mod:`vfbench.data.synthetic.oracle`) is the ceiling
of any voice-face matcher on this corpus.

Every identity draws from its own stream ``SeedSequence(seed, spawn_key=(0, i))``, so
identity ``i`` is the same whatever the corpus size or worker count.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vfbench.data.synthetic.config import SynthConfig
from vfbench.errors import ManifestError
from vfbench.utils.io import atomic_write_text

#: Shared trait dimensions, in the column order of the ``(N, 5)`` trait arrays.
SHARED_DIMS = ("masc", "age", "size", "anc1", "anc2")
#: Ancestry/nationality groups (fictional, so no real population is caricatured),
#: their spoken language and the group centroid in the (anc1, anc2) plane.
GROUPS = ("Aldoria", "Brevia", "Corvale", "Dastan", "Elvora")
LANGUAGES = ("aldorian", "brevian", "corvalese", "dastani", "elvoran")
GROUP_CENTROIDS = np.array(
    [[-1.3, 0.3], [-0.5, -1.0], [0.1, 1.1], [0.8, -0.6], [1.4, 0.5]], dtype=np.float64
)
#: Per-dimension mean offset of men (women get the negative) for masc and size.
GENDER_MEAN = np.array([1.0, 0.0, 0.6, 0.0, 0.0])
#: Person-to-person spread P of the true shared traits around mu(g, k).
PERSON_STD = np.array([0.3, 1.0, 0.8, 0.35, 0.35])
#: Scale N of the modality-specific noise (multiplied by sqrt(1 - s^2)).
NOISE_STD = np.array([0.3, 1.0, 0.9, 0.45, 0.45])

#: Private face traits (standard normal unless noted) and private voice traits.
FACE_PRIVATE = (
    "hair_style",  # integer 0..5
    "hair_tone",
    "eye_spacing",
    "eye_size",
    "asymmetry",
    "nose_length",
    "nose_width",
    "mouth_width",
    "brow",
    "beard",  # uniform [0, 1): propensity, shown only with a masculine face
    "skin",
    "face_length",
    "jaw",
    "iris",
)
VOICE_PRIVATE = (
    "f0",
    "breathiness",  # uniform [0, 1)
    "rate",
    "pitch_range",
    "tract",
    "fricative",  # uniform [0, 1): fricative centre frequency
    "vowel_bias",
)
N_HAIR_STYLES = 6

#: The age of a trait table row in years is 45 + 12 * age (the true latent), clipped.
AGE_MEAN, AGE_STD = 45.0, 12.0


@dataclass
class TraitTable:
    """All hidden traits of a corpus, one row per identity.

    Shapes: N identities; shared arrays are ``(N, 5)`` float64 in ``SHARED_DIMS`` order;
    ``face_private`` ``(N, len(FACE_PRIVATE))``, ``voice_private`` ``(N, len(VOICE_PRIVATE))``.
    """

    ids: list[str]
    split: list[str]
    gender: np.ndarray  # (N,) "m"/"f"
    group: np.ndarray  # (N,) int, index into GROUPS
    true: np.ndarray  # (N, 5)
    face: np.ndarray  # (N, 5) observable shared traits the face renderer used
    voice: np.ndarray  # (N, 5) observable shared traits the voice renderer used
    face_private: np.ndarray
    voice_private: np.ndarray
    sessions: np.ndarray  # (N,) int
    shared_strength: float

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def age_years(self) -> np.ndarray:
        return np.clip(AGE_MEAN + AGE_STD * self.true[:, 1], 18.0, 85.0)

    @property
    def nationality(self) -> list[str]:
        return [GROUPS[int(k)] for k in self.group]

    @property
    def language(self) -> list[str]:
        return [LANGUAGES[int(k)] for k in self.group]

    def select(self, mask: np.ndarray) -> TraitTable:
        """The rows where boolean ``mask`` (N,) is true."""
        idx = np.flatnonzero(mask)
        return TraitTable(
            ids=[self.ids[i] for i in idx],
            split=[self.split[i] for i in idx],
            gender=self.gender[idx],
            group=self.group[idx],
            true=self.true[idx],
            face=self.face[idx],
            voice=self.voice[idx],
            face_private=self.face_private[idx],
            voice_private=self.voice_private[idx],
            sessions=self.sessions[idx],
            shared_strength=self.shared_strength,
        )

    # ---- CSV -------------------------------------------------------------------------
    def columns(self) -> list[str]:
        return [
            "identity",
            "split",
            "gender",
            "nationality",
            "language",
            "age_years",
            "sessions",
            "shared_strength",
            *(f"true_{d}" for d in SHARED_DIMS),
            *(f"face_{d}" for d in SHARED_DIMS),
            *(f"voice_{d}" for d in SHARED_DIMS),
            *(f"fp_{d}" for d in FACE_PRIVATE),
            *(f"vp_{d}" for d in VOICE_PRIVATE),
        ]

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns())
        nat, lang, age = self.nationality, self.language, self.age_years
        for i in range(len(self)):
            w.writerow(
                [
                    self.ids[i],
                    self.split[i],
                    self.gender[i],
                    nat[i],
                    lang[i],
                    f"{age[i]:.1f}",
                    int(self.sessions[i]),
                    f"{self.shared_strength:.6g}",
                    *(_f(v) for v in self.true[i]),
                    *(_f(v) for v in self.face[i]),
                    *(_f(v) for v in self.voice[i]),
                    *(_f(v) for v in self.face_private[i]),
                    *(_f(v) for v in self.voice_private[i]),
                ]
            )
        return buf.getvalue()

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, self.to_csv())

    @classmethod
    def load(cls, path: str | Path) -> TraitTable:
        """Read a ``traits.csv`` written by :meth:`save`; a bad row names file and line."""
        path = Path(path)
        if not path.is_file():
            raise ManifestError("traits file not found", path)
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows:
            raise ManifestError("empty traits file", path, 1)
        header = rows[0]
        need = cls.columns(cls._empty())
        missing = [c for c in need if c not in header]
        if missing:
            raise ManifestError(f"missing column {missing[0]!r}", path, 1)
        col = {c: header.index(c) for c in need}
        body = [r for r in rows[1:] if r]
        num = [
            c for c in need if c not in ("identity", "split", "gender", "nationality", "language")
        ]
        vals = np.zeros((len(body), len(num)))
        for n, r in enumerate(body, start=2):
            if len(r) != len(header):
                raise ManifestError(f"expected {len(header)} fields, found {len(r)}", path, n)
            if r[col["gender"]] not in ("m", "f"):
                raise ManifestError(f"gender {r[col['gender']]!r} must be 'm' or 'f'", path, n)
            if r[col["nationality"]] not in GROUPS:
                raise ManifestError(
                    f"nationality {r[col['nationality']]!r} is not one of {list(GROUPS)}", path, n
                )
            for j, c in enumerate(num):
                try:
                    vals[n - 2, j] = float(r[col[c]])
                except ValueError:
                    raise ManifestError(
                        f"column {c!r}: {r[col[c]]!r} is not a number", path, n
                    ) from None
        v = {c: vals[:, j] for j, c in enumerate(num)}

        def block(prefix: str, names: tuple[str, ...]) -> np.ndarray:
            return np.stack([v[f"{prefix}_{d}"] for d in names], axis=1).reshape(len(body), -1)

        strengths = v["shared_strength"]
        return cls(
            ids=[r[col["identity"]] for r in body],
            split=[r[col["split"]] for r in body],
            gender=np.array([r[col["gender"]] for r in body], dtype="<U1"),
            group=np.array([GROUPS.index(r[col["nationality"]]) for r in body], dtype=np.int64),
            true=block("true", SHARED_DIMS),
            face=block("face", SHARED_DIMS),
            voice=block("voice", SHARED_DIMS),
            face_private=block("fp", FACE_PRIVATE),
            voice_private=block("vp", VOICE_PRIVATE),
            sessions=v["sessions"].astype(np.int64),
            shared_strength=float(strengths[0]) if len(body) else 1.0,
        )

    @classmethod
    def _empty(cls) -> TraitTable:
        z = np.zeros((0, 5))
        return cls([], [], np.zeros(0, "<U1"), np.zeros(0, int), z, z, z, z, z, np.zeros(0), 1.0)


def _f(v: float) -> str:
    return f"{float(v):.6f}"


def identity_id(i: int) -> str:
    """``s0001``-style id of the i-th identity (0-based; 4 digits, more when needed)."""
    return f"s{i + 1:04d}"


def identity_rng(seed: int, i: int, *stream: int) -> np.random.Generator:
    """The independent random stream of identity ``i`` (``stream`` picks a sub-stream)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(int(i), *stream)))


# stream ids used under an identity's spawn key
STREAM_TRAITS, STREAM_FACE, STREAM_VOICE, STREAM_SESSION = 0, 1, 2, 3


def sample_traits(config: SynthConfig, n: int | None = None) -> TraitTable:
    """Draw the hidden traits of ``n`` (default ``config.identities``) identities.

    Identity ``i`` depends only on ``(config.seed, i)`` and ``shared_strength``; splits are
    a seeded, gender-stratified permutation of the identities by ``config.split_ratios``.
    No media are rendered, so this is cheap (about 20 us per identity) and is what the
    oracle uses for population-level ceilings.
    """
    n = config.identities if n is None else int(n)
    s = float(config.shared_strength)
    nf, nv = len(FACE_PRIVATE), len(VOICE_PRIVATE)
    # one fixed-length draw per identity, then everything vectorised
    width = 4 + 15 + nf + nv
    u = np.empty((n, width))
    for i in range(n):
        u[i] = identity_rng(config.seed, i, STREAM_TRAITS).random(width)
    gender_m = u[:, 0] < 0.5
    group = np.minimum((u[:, 1] * len(GROUPS)).astype(np.int64), len(GROUPS) - 1)
    span = config.sessions_max - config.sessions_min + 1
    sessions = config.sessions_min + np.minimum((u[:, 2] * span).astype(np.int64), span - 1)
    # a session needs an utterance: with fewer voices than drawn sessions, only
    # voices_per_id sessions exist on disk (the draw itself is unchanged)
    sessions = np.minimum(sessions, config.voices_per_id)
    from scipy.special import ndtri  # inverse normal CDF: uniforms -> normals

    gauss = ndtri(np.clip(u[:, 4:19], 1e-12, 1 - 1e-12))
    delta, e_f, e_v = gauss[:, 0:5], gauss[:, 5:10], gauss[:, 10:15]
    mu = np.where(gender_m[:, None], GENDER_MEAN, -GENDER_MEAN) + np.pad(
        GROUP_CENTROIDS[group], ((0, 0), (3, 0))
    )
    true = mu + PERSON_STD * delta
    c = np.sqrt(max(0.0, 1.0 - s * s)) * NOISE_STD
    face = s * true + c * e_f
    voice = s * true + c * e_v
    fp_u = u[:, 19 : 19 + nf]
    fp = ndtri(np.clip(fp_u, 1e-12, 1 - 1e-12))
    fp[:, FACE_PRIVATE.index("hair_style")] = np.minimum(
        (fp_u[:, 0] * N_HAIR_STYLES).astype(np.int64), N_HAIR_STYLES - 1
    )
    fp[:, FACE_PRIVATE.index("beard")] = fp_u[:, FACE_PRIVATE.index("beard")]
    vp_u = u[:, 19 + nf :]
    vp = ndtri(np.clip(vp_u, 1e-12, 1 - 1e-12))
    for name in ("breathiness", "fricative"):
        vp[:, VOICE_PRIVATE.index(name)] = vp_u[:, VOICE_PRIVATE.index(name)]
    gender = np.where(gender_m, "m", "f").astype("<U1")
    return TraitTable(
        ids=[identity_id(i) for i in range(n)],
        split=assign_splits(gender, config.split_ratios, config.seed),
        gender=gender,
        group=group,
        true=true,
        face=face,
        voice=voice,
        face_private=fp,
        voice_private=vp,
        sessions=sessions,
        shared_strength=s,
    )


def assign_splits(gender: np.ndarray, ratios: tuple[float, float, float], seed: int) -> list[str]:
    """train/val/test per identity: a seeded, gender-stratified cut by ``ratios``.

    Identities are shuffled within each gender and interleaved by their relative rank, so
    every prefix is gender-balanced; the first ``round(ratios[2] * n)`` are test, the next
    ``round(ratios[1] * n)`` val, the rest train (exact totals, whatever the gender mix).
    """
    n = len(gender)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31,)))
    pos = np.empty(n)
    for g in ("m", "f"):
        idx = np.flatnonzero(gender == g)
        pos[idx[rng.permutation(len(idx))]] = (np.arange(len(idx)) + 0.5) / max(len(idx), 1)
    order = np.lexsort((np.arange(n), pos))
    n_test = int(round(ratios[2] * n))
    n_val = int(round(ratios[1] * n))
    out = np.full(n, "train", dtype="<U5")
    out[order[:n_test]] = "test"
    out[order[n_test : n_test + n_val]] = "val"
    return [str(x) for x in out]
