"""The FAME challenge protocol (Face-voice Association in Multilingual Environments, 2024
and 2026) on MAV-Celeb or any corpus with languages (issue 16, item 2).

Protocol (public baseline repository ``mavceleb/mavceleb_baseline``): a model is trained
on one language and tested on verification pairs (one voice, one face) of unseen test
identities in the same language ("heard") and in the other language ("unheard"). The
score of a pair is the L2 distance between the two embeddings (lower = same person); the
EER is computed on -distance. The challenge score is the mean of the 4 EERs (2 training
languages x heard/unheard).

Files (all plain text, one record per line, space separated):

* test list ``<Lang>_test.txt``: ``id voice_path face_path``
  (``ysuvkz41 voices/English/00000.wav faces/English/00000.jpg``);
* ground truth ``<Lang>_test.txt`` (another folder): ``id label`` (1 = same person);
* submission ``sub_score_<ver>_<TrainLang>_{heard,unheard}.txt``: ``id score`` with the
  score written as ``%f`` - the names and format the baseline's ``computeScore.py``
  writes (its README spells them ``sub_scores_<Lang>_heard.txt``; the script is what
  people run, so vfbench follows the script).

Intervals: one identity-level bootstrap shared by every condition - a replicate draws
test identities with replacement (a trial belongs to its voice's identity) and the same
draw reweights all conditions, so the 4-EER mean and the heard-minus-unheard differences
get paired intervals (the same people are tested in every condition). Trials whose
identities are unknown (anonymised official lists) are their own cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.errors import EvaluationError
from vfbench.evaluate.confidence import bootstrap_weights
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.metrics import auc_from_roc, eer_from_roc, roc
from vfbench.evaluate.results import Estimate
from vfbench.utils.io import atomic_write_text

#: MAV-Celeb versions and their two languages (the first is the shared English side).
VERSIONS: dict[str, tuple[str, str]] = {
    "v1": ("English", "Urdu"),
    "v2": ("English", "Hindi"),
    "v3": ("English", "German"),
}

#: Published reference points (EER %), printed beside results; not reproduced here.
REFERENCES: tuple[tuple[str, str], ...] = (
    ("FOP baseline, MAV-Celeb v1 (FAME 2024)", "overall 33.4 (29.3 / 37.9 / 40.4 / 25.8)"),
    ("FOP baseline, FAME 2026 lists", "v1 46.2, v2 37.2, v3 40.2 (challenge README)"),
    ("FAME 2024 winner (HLT, NUS)", "overall 19.9"),
    ("FAME 2026 best, v3 English-German", "overall 24.0 (23.99, arXiv 2512.04814)"),
)


# ----------------------------------------------------------------------------- files
@dataclass(frozen=True)
class FameList:
    """A FAME test list: trial ``ids`` (T,) with their voice and face paths."""

    ids: np.ndarray
    voice_paths: np.ndarray
    face_paths: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return int(self.ids.size)


def _rows(path: Path, n_fields: int, what: str) -> list[tuple[int, list[str]]]:
    if not path.is_file():
        raise EvaluationError(f"{path}: {what} not found")
    out = []
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != n_fields:
                raise EvaluationError(
                    f"{path}:{lineno}: expected {n_fields} fields ({what}), found {len(parts)}"
                )
            out.append((lineno, parts))
    if not out:
        raise EvaluationError(f"{path}: empty {what}")
    return out


def _unique_ids(path: Path, rows: list[tuple[int, list[str]]]) -> None:
    seen: dict[str, int] = {}
    for lineno, parts in rows:
        if parts[0] in seen:
            raise EvaluationError(
                f"{path}:{lineno}: id {parts[0]!r} already used on line {seen[parts[0]]}"
            )
        seen[parts[0]] = lineno


def read_fame_list(path: str | Path) -> FameList:
    """Read a test list (``id voice_path face_path`` per line; ids unique)."""
    p = Path(path)
    rows = _rows(p, 3, "test list 'id voice_path face_path'")
    _unique_ids(p, rows)
    cols = list(zip(*(r for _, r in rows), strict=True))
    return FameList(np.array(cols[0]), np.array(cols[1]), np.array(cols[2]), str(p))


def write_fame_list(path: str | Path, lst: FameList) -> None:
    """Write a test list atomically in the challenge's format."""
    text = "".join(
        f"{i} {v} {f}\n" for i, v, f in zip(lst.ids, lst.voice_paths, lst.face_paths, strict=True)
    )
    atomic_write_text(path, text)


def read_truth(path: str | Path) -> dict[str, int]:
    """Ground truth ``id label`` per line (label 0/1); ids unique."""
    p = Path(path)
    rows = _rows(p, 2, "ground truth 'id label'")
    _unique_ids(p, rows)
    out: dict[str, int] = {}
    for lineno, (i, lab) in rows:
        if lab not in ("0", "1"):
            raise EvaluationError(f"{p}:{lineno}: label {lab!r} must be 0 or 1")
        out[i] = int(lab)
    return out


def write_truth(path: str | Path, ids: Sequence[str], labels: Sequence[int]) -> None:
    atomic_write_text(path, "".join(f"{i} {int(y)}\n" for i, y in zip(ids, labels, strict=True)))


def submission_name(version: str, train_language: str, heard: bool) -> str:
    """``sub_score_<ver>_<TrainLang>_heard.txt`` / ``..._unheard.txt`` (computeScore.py)."""
    return f"sub_score_{version}_{train_language}_{'heard' if heard else 'unheard'}.txt"


def write_submission(path: str | Path, ids: Sequence[str], scores: np.ndarray) -> None:
    """One ``id score`` line per trial, score = L2 distance as ``%f`` (the baseline's format)."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(ids) != s.size:
        raise EvaluationError(f"{path}: {len(ids)} ids but {s.size} scores")
    if not np.isfinite(s).all():
        raise EvaluationError(f"{path}: refusing to write NaN/inf scores")
    atomic_write_text(path, "".join(f"{i} {v:f}\n" for i, v in zip(ids, s.tolist(), strict=True)))


def read_submission(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids (T,), scores (T,) float64) of a submission file; ids unique, scores finite."""
    p = Path(path)
    rows = _rows(p, 2, "submission 'id score'")
    _unique_ids(p, rows)
    scores = np.empty(len(rows))
    for k, (lineno, (_, v)) in enumerate(rows):
        try:
            scores[k] = float(v)
        except ValueError:
            raise EvaluationError(f"{p}:{lineno}: score {v!r} is not a number") from None
        if not np.isfinite(scores[k]):
            raise EvaluationError(f"{p}:{lineno}: score {v!r} is not finite")
    return np.array([r[0] for _, r in rows]), scores


# ----------------------------------------------------------------------------- scoring
def _item_key(path: str, modality: str) -> list[str]:
    """Candidate embedding ids of a list path, in order: the path, the path minus its
    extension, and both minus a leading ``voices/`` / ``faces/`` folder (manifest item
    ids are relative to the modality root, without extension)."""
    last = path.rsplit("/", 1)[-1]
    stem = path[: len(path) - len(last)] + last.rsplit(".", 1)[0] if "." in last else path
    head = "voices/" if modality == "voice" else "faces/"
    out = [path, stem]
    out += [p[len(head) :] for p in (path, stem) if p.startswith(head)]
    return list(dict.fromkeys(out))


def _lookup(
    emb: Embeddings, paths: np.ndarray, modality: str, where: str, trials: np.ndarray | None = None
) -> np.ndarray:
    """Embedding row of each list entry: ``trial:<trial id>`` (trial-aligned imports,
    :func:`vfbench.data.features.import_trial_features`) else the path's item id."""
    index = {k: i for i, k in enumerate(emb.ids.tolist())}
    rows = np.empty(paths.size, dtype=np.int64)
    missing: list[str] = []
    tids = trials.tolist() if trials is not None else [None] * paths.size
    for t, (p, tid) in enumerate(zip(paths.tolist(), tids, strict=True)):
        keys = ([f"trial:{tid}"] if tid is not None else []) + _item_key(p, modality)
        hit = next((index[k] for k in keys if k in index), None)
        if hit is None:
            missing.append(p)
            continue
        rows[t] = hit
    if missing:
        raise EvaluationError(
            f"{where}: {len(missing)} {modality} paths have no embedding, e.g. {missing[0]!r} "
            f"(looked for id {_item_key(missing[0], modality)[-1]!r}; embedding ids look like "
            f"{str(emb.ids[0])!r})"
        )
    return rows


def l2_scores(
    voices: Embeddings, faces: Embeddings, lst: FameList, normalize: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(scores (T,), voice identity (T,)) of a test list: L2 distance between the voice and
    face embeddings of each trial, after L2-normalising both (``normalize``; the distance
    is then a monotone function of the cosine) or on the raw vectors."""
    vi = _lookup(voices, lst.voice_paths, "voice", lst.source or "test list", lst.ids)
    fi = _lookup(faces, lst.face_paths, "face", lst.source or "test list", lst.ids)
    v = voices.vectors[vi].astype(np.float64)
    f = faces.vectors[fi].astype(np.float64)
    if normalize:
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        f /= np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    return np.linalg.norm(v - f, axis=1), voices.identities[vi]


def labels_for(lst: FameList, truth: Mapping[str, int], where: str = "") -> np.ndarray:
    """(T,) 0/1 labels of a list's trials from a ground-truth mapping (all must be there)."""
    missing = [i for i in lst.ids.tolist() if i not in truth]
    if missing:
        raise EvaluationError(
            f"{where or lst.source}: {len(missing)} trial ids have no ground truth, "
            f"e.g. {missing[0]!r}"
        )
    return np.array([truth[i] for i in lst.ids.tolist()], dtype=np.int8)


# ---------------------------------------------------------------------------- metrics
@dataclass
class FameCondition:
    """One (training language, test language) cell: distances, labels, trial clusters."""

    train_language: str
    test_language: str
    ids: np.ndarray  # (T,) trial ids
    scores: np.ndarray  # (T,) L2 distance, lower = same person
    labels: np.ndarray  # (T,) 1 = same person
    clusters: np.ndarray  # (T,) identity the trial belongs to (its voice's); "" = unknown

    @property
    def heard(self) -> bool:
        return self.train_language == self.test_language

    @property
    def name(self) -> str:
        return f"{self.train_language}->{self.test_language}"


@dataclass
class FameResult:
    """Per-condition EER/AUC and the challenge aggregates, each with its interval."""

    conditions: list[dict[str, Any]]  # train, test, heard, n, eer, auc (Estimates)
    mean_eer: Estimate | None
    gaps: dict[str, Estimate]  # train language (or "all") -> EER(unheard) - EER(heard)
    n_boot: int
    level: float
    references: list[tuple[str, str]] = field(default_factory=lambda: list(REFERENCES))

    def to_dict(self) -> dict[str, Any]:
        return {
            "conditions": [
                {
                    **{k: v for k, v in c.items() if k not in ("eer", "auc")},
                    "eer": c["eer"].to_dict(),
                    "auc": c["auc"].to_dict(),
                }
                for c in self.conditions
            ],
            "mean_eer": None if self.mean_eer is None else self.mean_eer.to_dict(),
            "gaps_unheard_minus_heard": {k: v.to_dict() for k, v in self.gaps.items()},
            "n_boot": self.n_boot,
            "level": self.level,
            "references": [{"system": s, "eer": e} for s, e in self.references],
        }

    def table_markdown(self) -> str:
        """Per-condition EER/AUC (%), aggregates and the published reference points."""

        def pct(e: Estimate) -> str:
            return f"{100 * e.value:.1f} [{100 * e.low:.1f}, {100 * e.high:.1f}]"

        lines = [
            "| train | test | heard | trials | EER % [95% CI] | AUC % [95% CI] |",
            "|---|---|---|---:|---|---|",
        ]
        for c in self.conditions:
            lines.append(
                f"| {c['train']} | {c['test']} | {'heard' if c['heard'] else 'unheard'} | "
                f"{c['n']} | {pct(c['eer'])} | {pct(c['auc'])} |"
            )
        lines.append("")
        if self.mean_eer is not None:
            lines.append(f"Mean EER over {len(self.conditions)} conditions: {pct(self.mean_eer)}")
        for k, g in self.gaps.items():
            who = "all training languages" if k == "all" else f"trained on {k}"
            lines.append(f"EER(unheard) - EER(heard), {who}: {100 * g.value:+.1f} "
                         f"[{100 * g.low:+.1f}, {100 * g.high:+.1f}] (paired identity bootstrap)")  # fmt: skip
        lines += ["", "Published reference points (EER %, not reproduced here):"]
        lines += [f"- {s}: {e}" for s, e in self.references]
        return "\n".join(lines) + "\n"


def _percentile(point: float, reps: np.ndarray, n: int, level: float, method: str) -> Estimate:
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return Estimate(point, float("nan"), float("nan"), n, method, level)
    lo, hi = np.quantile(reps, [0.5 - level / 2, 0.5 + level / 2])
    return Estimate(point, float(lo), float(hi), n, method, level)


def evaluate_fame(
    conditions: Sequence[FameCondition],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    chunk: int = 200,
) -> FameResult:
    """EER and AUC per condition, the mean EER and the unheard-minus-heard EER gaps.

    Points: EER by linear interpolation where FNR = FPR on the ROC of -distance (the
    same value as the baseline's ``brentq`` on ``interp1d(fpr, tpr)``), AUC = trapezoid.
    Intervals: percentile, ``n_boot`` identity-bootstrap replicates shared by all
    conditions (paired). Vectorised: a block of replicates is one weighted ROC per condition.
    """
    if not conditions:
        raise EvaluationError("no FAME conditions to evaluate")
    names = [c.name for c in conditions]
    if len(set(names)) != len(names):
        raise EvaluationError(f"condition listed twice: {names}")
    for c in conditions:
        n = c.scores.size
        if c.labels.shape != (n,) or c.clusters.shape != (n,) or c.ids.shape != (n,):
            raise EvaluationError(f"condition {c.name}: scores, labels, ids, clusters disagree")
        if not np.isfinite(c.scores).all():
            raise EvaluationError(f"condition {c.name}: scores have NaN/inf values")
    # identity codes over all conditions; unknown identity -> the trial is its own cluster
    keys = [
        np.where(c.clusters == "", np.char.add(f"\0{c.name}\0", c.ids.astype(str)), c.clusters)
        for c in conditions
    ]
    uniq, inv = np.unique(np.concatenate(keys), return_inverse=True)
    codes = np.split(inv, np.cumsum([c.scores.size for c in conditions])[:-1])
    rng = np.random.default_rng(seed)
    eers = np.empty((len(conditions), n_boot))
    aucs = np.empty((len(conditions), n_boot))
    for a in range(0, n_boot, chunk):
        w = bootstrap_weights(uniq.size, min(chunk, n_boot - a), rng)
        for k, c in enumerate(conditions):
            r = roc(-c.scores, c.labels, w[:, codes[k]])
            with np.errstate(invalid="ignore", divide="ignore"):
                eers[k, a : a + w.shape[0]] = eer_from_roc(r)
                aucs[k, a : a + w.shape[0]] = auc_from_roc(r)
    rows = []
    points = []
    for k, c in enumerate(conditions):
        r = roc(-c.scores, c.labels)
        e, au = float(eer_from_roc(r)), float(auc_from_roc(r))
        points.append(e)
        n = int(c.scores.size)
        rows.append(
            {
                "train": c.train_language,
                "test": c.test_language,
                "heard": c.heard,
                "n": n,
                "positives": int(c.labels.sum()),
                "eer": _percentile(e, eers[k], n, level, "bootstrap-identity"),
                "auc": _percentile(au, aucs[k], n, level, "bootstrap-identity"),
            }
        )
    total = int(sum(c.scores.size for c in conditions))
    mean = _percentile(
        float(np.mean(points)), eers.mean(axis=0), total, level, "bootstrap-identity"
    )
    gaps: dict[str, Estimate] = {}
    heard_k = [k for k, c in enumerate(conditions) if c.heard]
    unheard_k = [k for k, c in enumerate(conditions) if not c.heard]
    for lang in dict.fromkeys(c.train_language for c in conditions):
        h = [k for k in heard_k if conditions[k].train_language == lang]
        u = [k for k in unheard_k if conditions[k].train_language == lang]
        if h and u:
            d_pt = float(np.mean([points[k] for k in u]) - np.mean([points[k] for k in h]))
            d_rep = eers[u].mean(axis=0) - eers[h].mean(axis=0)
            n = int(sum(conditions[k].scores.size for k in h + u))
            gaps[lang] = _percentile(d_pt, d_rep, n, level, "paired-bootstrap")
    if heard_k and unheard_k and len(gaps) > 1:
        d_pt = float(
            np.mean([points[k] for k in unheard_k]) - np.mean([points[k] for k in heard_k])
        )
        d_rep = eers[unheard_k].mean(axis=0) - eers[heard_k].mean(axis=0)
        gaps["all"] = _percentile(d_pt, d_rep, total, level, "paired-bootstrap")
    return FameResult(rows, mean, gaps, n_boot, level)


# ------------------------------------------------------------------------ list building
_ALNUM = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))


def _language_rng(seed: int, language: str) -> np.random.Generator:
    """A generator keyed by (seed, language): adding a language never changes another's list."""
    key = [int(b) for b in language.encode("utf-8")]
    return np.random.default_rng(np.random.SeedSequence([seed, len(key), *key]))


def _list_path(head: str, item: Any) -> str:
    """``voices/<item path>`` for media items; ``voices/<item id>`` for imported features
    (their path is ``file#row``, not a media path)."""
    return f"{head}/{item.id if '#' in item.path else item.path}"


def build_fame_lists(
    manifest: Any,
    split: str = "test",
    languages: Sequence[str] | None = None,
    n_trials: int = 2000,
    seed: int = 0,
) -> dict[str, tuple[FameList, np.ndarray]]:
    """Test lists + labels per language from a manifest (the public-split way to get a
    FAME evaluation with ground truth): for each language, ``n_trials`` (voice, face)
    pairs of ``split`` identities in that language, half of them the same person, drawn
    from a generator keyed by (seed, language). Paths are ``voices/<item path>`` and
    ``faces/<item path>`` (imported features: ``voices/<item id>``); trial ids are 8 random lowercase letters/digits, as the
    challenge's. Returns language -> (list, labels (T,) int8).
    """
    from vfbench.data.recipes.mav_celeb import face_language, languages_of, voice_language

    if n_trials < 2:
        raise EvaluationError(f"n_trials must be >= 2, got {n_trials}")
    test_ids = {i.id for i in manifest.identities if i.split == split}
    if not test_ids:
        raise EvaluationError(f"manifest {manifest.name!r}: no identities in split {split!r}")
    langs = list(languages) if languages else languages_of(manifest, split)
    if not langs:
        raise EvaluationError(
            f"manifest {manifest.name!r}: split {split!r} has no voice/identity languages"
        )
    out: dict[str, tuple[FameList, np.ndarray]] = {}
    used: set[str] = set()
    for lang in langs:
        low = lang.lower()
        vs = [v for v in manifest.voices
              if v.identity in test_ids and voice_language(manifest, v).lower() == low]  # fmt: skip
        fs = [f for f in manifest.faces
              if f.identity in test_ids and face_language(manifest, f).lower() == low]  # fmt: skip
        v_by: dict[str, list[int]] = {}
        f_by: dict[str, list[int]] = {}
        for k, v in enumerate(vs):
            v_by.setdefault(v.identity, []).append(k)
        for k, f in enumerate(fs):
            f_by.setdefault(f.identity, []).append(k)
        both = sorted(set(v_by) & set(f_by))
        if len(both) < 2:
            raise EvaluationError(
                f"manifest {manifest.name!r}: language {lang!r} has {len(both)} {split} "
                "identities with both voices and faces; a verification list needs >= 2"
            )
        rng = _language_rng(seed, lang)
        n_pos = n_trials // 2
        labels = np.r_[np.ones(n_pos, np.int8), np.zeros(n_trials - n_pos, np.int8)]
        rng.shuffle(labels)
        vp, fp = [], []
        for y in labels.tolist():
            a = both[int(rng.integers(len(both)))]
            b = a
            while not y and b == a:
                b = both[int(rng.integers(len(both)))]
            vp.append(_list_path("voices", vs[v_by[a][int(rng.integers(len(v_by[a])))]]))
            fp.append(_list_path("faces", fs[f_by[b][int(rng.integers(len(f_by[b])))]]))
        ids: list[str] = []
        while len(ids) < n_trials:
            t = "".join(rng.choice(_ALNUM, 8))
            if t not in used:
                used.add(t)
                ids.append(t)
        out[lang] = (FameList(np.array(ids), np.array(vp), np.array(fp), f"{lang} list"), labels)
    return out


# ------------------------------------------------------------------------ orchestration
@dataclass
class FameRun:
    """What :func:`run_fame` produced: the conditions, their result (with ground truth)
    and the submission files written."""

    conditions: list[FameCondition]
    result: FameResult | None
    submissions: list[Path]


def run_fame(
    models: Mapping[str, tuple[Embeddings, Embeddings]],
    lists: Mapping[str, FameList],
    truths: Mapping[str, Mapping[str, int]] | None = None,
    *,
    version: str = "v1",
    submission_dir: str | Path | None = None,
    normalize: bool = True,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> FameRun:
    """Score every training language's model on every test list; with ``truths`` evaluate,
    with ``submission_dir`` write one submission file per condition.

    ``models``: training language -> (voice, face) embeddings of the test items;
    ``lists``: test language -> test list. A submission needs both the heard list (the
    training language's own) and an unheard one.
    """
    if not models or not lists:
        raise EvaluationError("run_fame needs at least one model and one test list")
    if submission_dir is not None:  # checked before anything is written
        if len(lists) != 2:
            raise EvaluationError(
                f"a submission needs exactly two test lists (heard + unheard), got {sorted(lists)}"
            )
        missing = [lang for lang in models if lang not in lists]
        if missing:
            raise EvaluationError(
                f"a submission needs each training language's own (heard) list; "
                f"no list for {missing[0]!r} (lists: {sorted(lists)})"
            )
    conds: list[FameCondition] = []
    written: list[Path] = []
    for train_lang, (v, f) in models.items():
        for test_lang, lst in lists.items():
            s, clusters = l2_scores(v, f, lst, normalize)
            if truths is not None:
                if test_lang not in truths:
                    raise EvaluationError(f"no ground truth for test language {test_lang!r}")
                y = labels_for(lst, truths[test_lang])
            else:
                y = np.zeros(s.size, dtype=np.int8)
            # identities from the embeddings; ids-as-identities (anonymised) -> unknown
            vrow = _lookup(v, lst.voice_paths, "voice", "", lst.ids)
            clusters = np.where(clusters == v.ids[vrow], "", clusters)
            conds.append(FameCondition(train_lang, test_lang, lst.ids, s, y, clusters))
    result = evaluate_fame(conds, n_boot, level, seed) if truths is not None else None
    if submission_dir is not None:  # every condition scored: only now write the files
        for c in conds:
            p = Path(submission_dir) / submission_name(version, c.train_language, c.heard)
            write_submission(p, c.ids.tolist(), c.scores)
            written.append(p)
    return FameRun(conds, result, written)
