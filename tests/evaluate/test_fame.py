"""FAME protocol: EER/AUC per condition equal the baseline's sklearn + brentq computation,
intervals are identity-level and paired, files follow the challenge's format and
re-read to the same scores, lists are seeded per language."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn import metrics

from vfbench.data.manifest import FaceItem, Identity, Manifest, VoiceItem
from vfbench.errors import EvaluationError
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.fame import (
    FameCondition,
    FameList,
    build_fame_lists,
    evaluate_fame,
    l2_scores,
    read_fame_list,
    read_submission,
    read_truth,
    run_fame,
    submission_name,
    write_fame_list,
    write_submission,
    write_truth,
)


def baseline_eer(labels: np.ndarray, distances: np.ndarray) -> float:
    """The FAME baseline's EER (test.py): roc_curve on -score, brentq on interp1d."""
    fpr, tpr, _ = metrics.roc_curve(labels, -distances)
    return float(brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0))


def _conditions(seed: int = 1, n: int = 300) -> list[FameCondition]:
    rng = np.random.default_rng(seed)
    out = []
    for tr in ("English", "Urdu"):
        for te in ("English", "Urdu"):
            y = rng.integers(0, 2, n)
            s = rng.normal(size=n) + (1.2 if tr == te else 0.5) * (1 - y)
            cl = np.array([f"p{k}" for k in rng.integers(0, 10, n)])
            ids = np.array([f"{tr}-{te}-{i}" for i in range(n)])
            out.append(FameCondition(tr, te, ids, s, y, cl))
    return out


def test_eer_and_auc_match_the_baseline_computation() -> None:
    conds = _conditions()
    res = evaluate_fame(conds, n_boot=200)
    for c, row in zip(conds, res.conditions, strict=True):
        assert row["eer"].value == pytest.approx(baseline_eer(c.labels, c.scores), abs=1e-9)
        assert row["auc"].value == pytest.approx(
            metrics.roc_auc_score(c.labels, -c.scores), abs=1e-12
        )
        assert row["eer"].low <= row["eer"].value <= row["eer"].high
        assert row["heard"] == (c.train_language == c.test_language)
    pts = [r["eer"].value for r in res.conditions]
    assert res.mean_eer is not None
    assert res.mean_eer.value == pytest.approx(np.mean(pts))
    g = res.gaps["English"]
    assert g.value == pytest.approx(pts[1] - pts[0])
    assert res.gaps["all"].value == pytest.approx((pts[1] + pts[2]) / 2 - (pts[0] + pts[3]) / 2)
    # the synthetic heard conditions separate better: gaps clearly positive
    assert g.low > 0 and res.gaps["all"].low > 0


def test_bootstrap_is_identity_level_and_paired() -> None:
    rng = np.random.default_rng(4)
    n = 400
    y = rng.integers(0, 2, n)
    who = rng.integers(0, 8, n)
    # each identity is easier or harder (a shared offset of its same-person distances):
    # trials of one identity are correlated, as in real data
    s = rng.normal(size=n) + (1 - y) + 1.5 * rng.normal(size=8)[who] * y
    cl = np.array([f"p{k}" for k in who])
    ids = np.arange(n).astype(str)
    # unheard = heard + tiny noise on the same trials / identities: a paired interval of
    # the difference is narrow around ~0, much narrower than either EER interval
    a = FameCondition("English", "English", ids, s, y, cl)
    b = FameCondition("English", "Urdu", ids, s + 1e-3 * rng.normal(size=n), y, cl)
    res = evaluate_fame([a, b], n_boot=500)
    gap = res.gaps["English"]
    e = res.conditions[0]["eer"]
    assert gap.low <= 0.0 <= gap.high or abs(gap.value) < 0.01
    assert (gap.high - gap.low) < 0.2 * (e.high - e.low)
    # identity-level: with one identity per trial the interval is narrower than with
    # 8 identities (clustered trials carry less information)
    solo = FameCondition("English", "English", ids, s, y, ids.copy())
    r_solo = evaluate_fame([solo], n_boot=500).conditions[0]["eer"]
    assert (r_solo.high - r_solo.low) < (e.high - e.low)
    # same seed -> same intervals; unknown identities ("") become one cluster per trial
    again = evaluate_fame([a, b], n_boot=500)
    assert again.conditions[0]["eer"] == res.conditions[0]["eer"]
    anon = FameCondition("English", "English", ids, s, y, np.full(n, ""))
    assert evaluate_fame([anon], n_boot=500).conditions[0]["eer"] == r_solo


def test_files_round_trip_and_errors(tmp_path: Path) -> None:
    lst = FameList(np.array(["ysuvkz41", "tog3zj45"]),
                   np.array(["voices/English/00000.wav", "voices/English/00001.wav"]),
                   np.array(["faces/English/00000.jpg", "faces/English/00001.jpg"]))  # fmt: skip
    write_fame_list(tmp_path / "English_test.txt", lst)
    assert (tmp_path / "English_test.txt").read_text() == (
        "ysuvkz41 voices/English/00000.wav faces/English/00000.jpg\n"
        "tog3zj45 voices/English/00001.wav faces/English/00001.jpg\n"
    )
    back = read_fame_list(tmp_path / "English_test.txt")
    assert (
        back.ids.tolist() == lst.ids.tolist()
        and back.face_paths.tolist() == lst.face_paths.tolist()
    )
    write_truth(tmp_path / "gt.txt", ["ysuvkz41", "tog3zj45"], [1, 0])
    assert read_truth(tmp_path / "gt.txt") == {"ysuvkz41": 1, "tog3zj45": 0}
    scores = np.array([0.99880012, 1.53213])
    p = tmp_path / submission_name("v1", "English", True)
    assert p.name == "sub_score_v1_English_heard.txt"
    write_submission(p, ["ysuvkz41", "tog3zj45"], scores)
    assert p.read_text() == "ysuvkz41 0.998800\ntog3zj45 1.532130\n"
    ids, s = read_submission(p)
    assert ids.tolist() == ["ysuvkz41", "tog3zj45"]
    np.testing.assert_allclose(s, scores, atol=5e-7)
    # errors name file and line
    (tmp_path / "bad.txt").write_text("a voices/x.wav\n", "utf-8")
    with pytest.raises(EvaluationError, match=r"bad\.txt:1: expected 3 fields"):
        read_fame_list(tmp_path / "bad.txt")
    (tmp_path / "dup.txt").write_text("a 1\nb 0\na 0\n", "utf-8")
    with pytest.raises(EvaluationError, match=r"dup\.txt:3: id 'a' already used on line 1"):
        read_truth(tmp_path / "dup.txt")
    (tmp_path / "lab.txt").write_text("a 2\n", "utf-8")
    with pytest.raises(EvaluationError, match=r"lab\.txt:1: label '2' must be 0 or 1"):
        read_truth(tmp_path / "lab.txt")
    (tmp_path / "sc.txt").write_text("a 0.1\nb nan\n", "utf-8")
    with pytest.raises(EvaluationError, match=r"sc\.txt:2: score 'nan' is not finite"):
        read_submission(tmp_path / "sc.txt")
    with pytest.raises(EvaluationError, match="not found"):
        read_fame_list(tmp_path / "nope.txt")


def _toy_manifest(n_id: int = 8) -> Manifest:
    idents = [Identity(f"p{k}", "m" if k % 2 else "f", split="test") for k in range(n_id)]
    voices, faces = [], []
    for k in range(n_id):
        for lang in ("English", "Urdu"):
            for j in range(3):
                voices.append(VoiceItem(f"p{k}/{lang}/v/{j}", f"p{k}", f"p{k}/{lang}/v/{j}.wav",
                                        language=lang))  # fmt: skip
                faces.append(FaceItem(f"p{k}/{lang}/v/{j}", f"p{k}", f"p{k}/{lang}/v/{j}.jpg",
                                      source_video=f"{lang}/v"))  # fmt: skip
    return Manifest(idents, voices, faces, name="toy", meta={"face_language": "source_video"})


def test_lists_are_balanced_correct_and_seeded_per_language() -> None:
    m = _toy_manifest()
    built = build_fame_lists(m, n_trials=400, seed=3)
    assert set(built) == {"English", "Urdu"}
    for lang, (lst, y) in built.items():
        assert int(y.sum()) == 200 and len(lst) == 400
        vid = [p.split("/")[1] for p in lst.voice_paths]
        fid = [p.split("/")[1] for p in lst.face_paths]
        np.testing.assert_array_equal(y, (np.array(vid) == np.array(fid)).astype(np.int8))
        assert all(f"/{lang}/" in p for p in [*lst.voice_paths, *lst.face_paths])
        assert len(set(lst.ids.tolist())) == 400 and all(len(i) == 8 for i in lst.ids)
    only = build_fame_lists(m, languages=["Urdu"], n_trials=400, seed=3)
    assert only["Urdu"][0].voice_paths.tolist() == built["Urdu"][0].voice_paths.tolist()
    with pytest.raises(EvaluationError, match="no identities in split 'val'"):
        build_fame_lists(m, split="val")


def _embeddings(m: Manifest, noise: float, seed: int) -> tuple[Embeddings, Embeddings]:
    """Identity one-hot + noise: the same person is close, others far."""
    rng = np.random.default_rng(seed)
    idx = {i.id: k for k, i in enumerate(m.identities)}
    d = len(idx)

    def emb(items: list, mod: str) -> Embeddings:
        x = np.eye(d)[[idx[i.identity] for i in items]] + noise * rng.normal(size=(len(items), d))
        return Embeddings([i.id for i in items], [i.identity for i in items], x, mod)

    return emb(m.voices, "voice"), emb(m.faces, "face")


def test_run_fame_end_to_end_with_submission(tmp_path: Path) -> None:
    m = _toy_manifest()
    built = build_fame_lists(m, n_trials=300, seed=0)
    lists = {k: v[0] for k, v in built.items()}
    truths = {k: dict(zip(v[0].ids.tolist(), v[1].tolist(), strict=True)) for k, v in built.items()}
    models = {"English": _embeddings(m, 0.05, 1), "Urdu": _embeddings(m, 0.6, 2)}
    run = run_fame(models, lists, truths, version="v1", submission_dir=tmp_path, n_boot=200)
    names = sorted(p.name for p in run.submissions)
    assert names == ["sub_score_v1_English_heard.txt", "sub_score_v1_English_unheard.txt",
                     "sub_score_v1_Urdu_heard.txt", "sub_score_v1_Urdu_unheard.txt"]  # fmt: skip
    assert run.result is not None
    rows = {(r["train"], r["test"]): r for r in run.result.conditions}
    assert rows[("English", "English")]["eer"].value == 0.0  # near-perfect embeddings
    # the written submission re-reads to the evaluated scores; the baseline's EER of it
    # equals ours (6-decimal rounding cannot change the ranking here)
    for train_lang in ("English", "Urdu"):
        for test_lang in ("English", "Urdu"):
            p = tmp_path / submission_name("v1", train_lang, train_lang == test_lang)
            ids, s = read_submission(p)
            assert ids.tolist() == lists[test_lang].ids.tolist()
            y = np.array([truths[test_lang][i] for i in ids.tolist()])
            cond = next(c for c in run.conditions if c.name == f"{train_lang}->{test_lang}")
            np.testing.assert_allclose(s, cond.scores, atol=5e-7)
            e = rows[(train_lang, test_lang)]["eer"].value
            if e > 0:
                assert e == pytest.approx(baseline_eer(y, s), abs=1e-3)
    # identities come from the embeddings: clusters are the voices' identities
    assert set(run.conditions[0].clusters.tolist()) <= {i.id for i in m.identities}
    md = run.result.table_markdown()
    assert "FOP baseline" in md and "33.4" in md and "19.9" in md and "24.0" in md
    # L2 distance on unit vectors: sqrt(2 - 2 cos)
    v, f = models["English"]
    s, _ = l2_scores(v, f, lists["English"])
    vi = {k: i for i, k in enumerate(v.ids.tolist())}
    fi = {k: i for i, k in enumerate(f.ids.tolist())}
    a = v.vectors[vi[lists["English"].voice_paths[0][len("voices/") :].rsplit(".", 1)[0]]]
    b = f.vectors[fi[lists["English"].face_paths[0][len("faces/") :].rsplit(".", 1)[0]]]
    cos = float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert s[0] == pytest.approx(np.sqrt(2 - 2 * cos), abs=1e-6)


def test_missing_embeddings_and_truth_are_named(tmp_path: Path) -> None:
    m = _toy_manifest()
    lst, y = build_fame_lists(m, n_trials=20, seed=0)["English"]
    v, f = _embeddings(m, 0.1, 0)
    bad = FameList(lst.ids, np.array(["voices/nobody/x.wav"] * 20), lst.face_paths, "E.txt")
    with pytest.raises(
        EvaluationError,
        match=r"E\.txt: 20 voice paths have no embedding, e\.g\. 'voices/nobody/x\.wav'",
    ):
        l2_scores(v, f, bad)
    with pytest.raises(EvaluationError, match="have no ground truth"):
        run_fame({"English": (v, f)}, {"English": lst}, {"English": {}}, n_boot=10)


def test_submission_needs_heard_and_one_unheard_list(tmp_path: Path) -> None:
    m = _toy_manifest()
    built = build_fame_lists(m, n_trials=20, seed=0)
    lists = {k: v[0] for k, v in built.items()}
    emb = _embeddings(m, 0.1, 0)
    with pytest.raises(EvaluationError, match=r"heard\) list; no list for 'German'"):
        run_fame({"German": emb}, lists, submission_dir=tmp_path / "s")
    with pytest.raises(EvaluationError, match="exactly two test lists"):
        run_fame({"English": emb}, {"English": lists["English"]}, submission_dir=tmp_path / "s")
    assert not (tmp_path / "s").exists()  # nothing written on a refused submission
    # without ground truth: submission only, no result
    run = run_fame({"Urdu": emb}, lists, version="v3", submission_dir=tmp_path / "s")
    assert run.result is None
    assert sorted(p.name for p in run.submissions) == [
        "sub_score_v3_Urdu_heard.txt",
        "sub_score_v3_Urdu_unheard.txt",
    ]


def test_trial_aligned_features_score_trial_by_trial(tmp_path: Path) -> None:
    """The FAME baseline's test CSVs (row i = list line i, no ids) imported with
    ``fame import-test``: embeddings ``trial:<id>`` are scored trial by trial."""
    from vfbench.cli import main
    from vfbench.data.features import FeatureStore

    rng = np.random.default_rng(0)
    out = tmp_path / "imp"
    args = ["fame", "import-test", "--out", str(out)]
    lists = {}
    for lang in ("English", "Urdu"):
        ids = np.array([f"{lang[:2].lower()}{k:06d}" for k in range(30)])
        lst = FameList(ids, np.array([f"voices/{lang}/{k:05d}.wav" for k in range(30)]),
                       np.array([f"faces/{lang}/{k:05d}.jpg" for k in range(30)]), lang)  # fmt: skip
        write_fame_list(tmp_path / f"{lang}_test.txt", lst)
        lists[lang] = lst
        np.savetxt(tmp_path / f"{lang}_v.csv", rng.normal(size=(30, 5)), delimiter=",")
        np.savetxt(tmp_path / f"{lang}_f.csv", rng.normal(size=(30, 7)), delimiter=",")
        args += ["--list", f"{lang}={tmp_path / f'{lang}_test.txt'}"]
        args += ["--voice", f"{lang}={tmp_path / f'{lang}_v.csv'}"]
        args += ["--face", f"{lang}={tmp_path / f'{lang}_f.csv'}"]
    assert main(args) == 0
    store = FeatureStore.open(out / "features")
    np.testing.assert_allclose(
        store.vectors("voice", ["trial:ur000003"])[0],
        np.loadtxt(tmp_path / "Urdu_v.csv", delimiter=",")[3],
        rtol=1e-6,
    )
    # embeddings keyed trial:<id> (what vfbench embed writes for this manifest) are found
    # by trial id, whatever the paths; identities = ids -> each trial its own cluster
    v = Embeddings([f"trial:{i}" for i in lists["Urdu"].ids], [f"trial:{i}" for i in lists["Urdu"].ids],
                   rng.normal(size=(30, 4)), "voice")  # fmt: skip
    f = Embeddings(v.ids, v.identities, rng.normal(size=(30, 4)), "face")
    s, _ = l2_scores(v, f, lists["Urdu"], normalize=False)
    np.testing.assert_allclose(s, np.linalg.norm(v.vectors - f.vectors, axis=1), rtol=1e-6)
    run = run_fame({"Urdu": (v, f)}, {"Urdu": lists["Urdu"]})
    assert set(run.conditions[0].clusters.tolist()) == {""}
    # a feature file whose row count differs from its list is refused, nothing replaced
    np.savetxt(tmp_path / "Urdu_f.csv", rng.normal(size=(29, 7)), delimiter=",")
    assert main([*args, "--overwrite"]) == 2
    assert len(FeatureStore.open(out / "features").ids("face")) == 60
