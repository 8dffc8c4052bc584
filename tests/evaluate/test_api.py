"""evaluate(): invariants on embeddings with known structure."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.config import load_config
from vfbench.errors import ConfigError, EvaluationError
from vfbench.evaluate.api import evaluate, identity_attributes, make_trials
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.results import EvaluationResult
from vfbench.evaluate.trials import TrialSet


def small(tasks=("match", "verify", "retrieve", "joint"), **kw) -> Protocol:
    p = Protocol.quick()
    p.tasks = list(tasks)
    p.n_boot = 100
    p.matching.n_trials = 800
    p.verification.n_pairs = 800
    for k, v in kw.items():
        setattr(p, k, v)
    return p


def test_perfect_embeddings_give_perfect_figures(make_emb):
    v, f, attrs = make_emb(n_ids=30, per=5, noise=0.0)
    res = evaluate(v, f, attrs, small())
    for m in res.find(task="match", group="all"):
        assert m.value == 1.0, m.setting
    for m in res.find(name="mAP"):
        assert m.value == pytest.approx(1.0), m.setting
    assert res.get(task="verify", direction="v2f", name="auc").value == 1.0
    assert res.get(task="verify", direction="v2f", name="eer").value == 0.0


def test_constant_scorer_gets_chance_and_peer_rule_gets_everything(make_emb):
    v, f, attrs = make_emb(n_ids=30, per=4)
    const = lambda a, b: np.zeros((a.shape[0], b.shape[0]))  # noqa: E731
    res = evaluate(v, f, attrs, small(tasks=("match",)), scorer=const)
    for m in res.find(task="match", group="all"):
        assert m.value == pytest.approx(1.0 / m.params["n"]) == pytest.approx(m.chance)
    res2 = evaluate(v, f, attrs, small(tasks=("match",), tie_rule="correct"), scorer=const)
    assert all(m.value == 1.0 for m in res2.find(task="match", group="all"))
    assert res2.protocol["tie_rule"] == "correct"


def test_random_embeddings_chance_inside_interval_in_95_percent_of_repeats(make_emb):
    inside = 0
    reps = 40
    p = small(tasks=("match",), directions=["v2f"])
    p.matching.n_values = [2]
    p.matching.constraints = ["U"]
    p.matching.n_trials = 400
    for r in range(reps):
        v, f, attrs = make_emb(n_ids=30, per=3, random=True, seed=100 + r)
        p.seed = r
        m = evaluate(v, f, attrs, p).get(task="match", group="all", n=2)
        iv = m.interval()  # the default: identities resampled in every role
        assert iv is not None and iv.method == "bootstrap-all"
        inside += iv.low <= 0.5 <= iv.high
    print("chance inside the all-roles identity-bootstrap interval:", inside, "of", reps)
    assert inside / reps >= 0.95, inside


def test_f2v_equals_v2f_on_symmetric_data(make_emb):
    v, _, attrs = make_emb(n_ids=25, per=4, noise=1.0)
    f = Embeddings(v.ids, v.identities, v.vectors, "face")
    pv = small(tasks=("match", "verify"), directions=["v2f"])
    pf = small(tasks=("match", "verify"), directions=["f2v"])
    tv = make_trials(v, f, attrs, pv)
    # each direction draws its own trials (its own generator); the same draws read as f2v
    # (voices and faces are the same items here) must give the same figures
    tf = TrialSet(tv.voice_ids, tv.face_ids, tv.voice_identities, tv.face_identities)
    for key in tv.keys():
        tf.add(key.replace("v2f", "f2v"), {**tv.meta(key), "direction": "f2v"}, tv.groups[key])
    rv, rf = evaluate(v, f, attrs, pv, trials=tv), evaluate(v, f, attrs, pf, trials=tf)
    for mv in rv.find(group="all"):
        mf = rf.get(task=mv.task, direction="f2v", setting=mv.setting, name=mv.name, group="all")
        assert mf.value == pytest.approx(mv.value), mv.setting


def test_gender_baseline_and_breakdown(make_emb):
    v, f, attrs = make_emb(n_ids=40, per=4, noise=1.0)
    p = small(tasks=("match",))
    p.matching.n_trials = 4000
    res = evaluate(v, f, attrs, p)
    u = res.get(task="match", direction="v2f", n=2, constraint="U", group="all")
    g = res.get(task="match", direction="v2f", n=2, constraint="G", group="all")
    # same-gender scorer: 1:2 U -> 1/2 + 1/2 * 1/2 = 3/4 (negatives of the other gender ~ 1/2)
    assert u.gender_baseline == pytest.approx(0.75, abs=0.03)
    assert g.gender_baseline == pytest.approx(0.5)
    groups = {m.group for m in res.find(task="match", direction="v2f", n=2, constraint="U")}
    assert groups == {"all", "gender=m", "gender=f"}
    # no gender known -> no baseline, G/N skipped with a warning
    res2 = evaluate(v, f, None, p)
    assert res2.get(task="match", direction="v2f", n=2, group="all").gender_baseline is None
    assert any("G: skipped" in w for w in res2.warnings)


def test_structured_embeddings_ordering_and_curves(make_emb):
    v, f, attrs = make_emb(n_ids=40, per=12, noise=1.5)
    p = small()
    p.joint.m_values = [1, 5]
    res = evaluate(v, f, attrs, p)
    acc = [
        res.get(task="match", direction="v2f", n=n, constraint="U", group="all").value
        for n in (2, 3, 5)
    ]
    assert acc[0] > acc[1] > acc[2]
    j1 = res.get(task="joint_match", direction="v2f", m_v=1, m_f=1, group="all").value
    j5 = res.get(task="joint_match", direction="v2f", m_v=5, m_f=5, group="all").value
    assert j5 > j1  # averaging more items helps (paper Table 3)
    kinds = {c.kind for c in res.curves}
    assert {"1ton", "roc", "joint"} <= kinds
    # every accuracy-like row carries an interval and a chance level
    for m in res.metrics:
        assert m.intervals, m
        if m.task in ("match", "joint_match"):
            assert m.chance is not None and {"binomial", "wilson", "bootstrap-identity"} <= set(
                m.intervals
            )


def test_repeated_sets_t_interval(make_emb):
    v, f, attrs = make_emb(n_ids=30, per=4, noise=1.0)
    p = small(tasks=("repeated",))
    p.repeated.sizes = [10, 25, 1000]
    p.repeated.repeats = 4
    p.repeated.n_trials = 300
    res = evaluate(v, f, attrs, p)
    rows = res.find(task="repeated", direction="v2f", of_task="match")
    assert [m.params["size"] for m in rows] == [10, 25, 30]
    assert all(m.n == 4 and len(m.params["values"]) == 4 for m in rows)
    assert all(m.params["pool_identities"] == 30 for m in rows)
    # 10 of 30: sets share a third of their identities -> t-interval; 25 or 30 of 30: the
    # sets are (nearly) the same identities, no interval, and the row says why
    assert "t" in rows[0].intervals and "no_interval" not in rows[0].params
    for m in rows[1:]:
        assert m.intervals == {} and "share" in m.params["no_interval"]
    assert rows[2].params["distinct_sets"] == 1 and "30 of 30 ids" in rows[2].setting
    assert any("capped at 30" in w for w in res.warnings)
    assert any(c.kind == "ci_vs_ids" for c in res.curves)


def test_same_trials_file_gives_same_hash_and_roundtrip(make_emb, tmp_path):
    v, f, attrs = make_emb(n_ids=20, per=4, noise=1.0)
    p = small(tasks=("match", "retrieve"))
    ts = make_trials(v, f, attrs, p)
    ts.save(tmp_path / "t.npz")
    r1 = evaluate(v, f, attrs, p, trials=ts)
    r2 = evaluate(v, f, attrs, p)
    assert r1.trials_hash == r2.trials_hash == ts.sha256
    assert r1.provenance["inputs"]["trials"] == ts.sha256
    assert len(r1.provenance["inputs"]["voices"]) == 64
    r1.save(tmp_path / "run")
    back = EvaluationResult.load(tmp_path / "run", with_outcomes=True)
    assert [m.to_dict() for m in back.metrics] == [m.to_dict() for m in r1.metrics]
    assert set(back.outcomes) == set(r1.outcomes)


def test_bad_inputs_name_the_culprit(make_emb, tmp_path):
    v, f, attrs = make_emb(n_ids=10, per=2)
    with pytest.raises(EvaluationError, match="expected voice and face"):
        evaluate(f, v, attrs, small())
    ts = make_trials(v, f, attrs, small(tasks=("match",)))
    fewer = Embeddings(v.ids[:-1], v.identities[:-1], v.vectors[:-1], "voice")
    with pytest.raises(
        EvaluationError, match=r"voice id\(s\) of the trials are not in the embeddings"
    ):
        evaluate(fewer, f, attrs, small(tasks=("match",)), trials=ts)
    with pytest.raises(EvaluationError, match="gender 'x'"):
        identity_attributes({"p000": {"gender": "x"}})
    with pytest.raises(EvaluationError, match="needs a manifest"):
        evaluate(v, f, attrs, small(split="test"))
    y = tmp_path / "p.yaml"
    y.write_text("matching:\n  n_trails: 5\n")
    with pytest.raises(ConfigError, match="matching.n_trails"):
        load_config(Protocol, y)
    with pytest.raises(ConfigError, match="tie_rule"):
        load_config(Protocol, None, ["tie_rule=first"])
    with pytest.raises(ConfigError, match="unknown task 'speed'"):
        load_config(Protocol, None, ["tasks=[speed]"])
    with pytest.raises(ConfigError, match="matching n must be"):
        load_config(Protocol, None, ["matching.n_values=[1]"])


def test_breakdown_by_nationality_and_language(make_emb):
    v, f, attrs = make_emb(n_ids=24, per=3, noise=1.0)
    for i, k in enumerate(sorted(attrs)):
        attrs[k]["language"] = "en" if i % 4 else "fr"
    p = small(tasks=("match",), by=["nationality", "language"])
    p.matching.n_values = [2]
    p.matching.constraints = ["U"]
    res = evaluate(v, f, attrs, p)
    groups = {m.group for m in res.find(task="match", direction="v2f")}
    assert groups == {
        "all",
        "nationality=US",
        "nationality=UK",
        "nationality=IN",
        "language=en",
        "language=fr",
    }
    rows = res.find(task="match", direction="v2f", group="language=fr")
    allrow = res.get(task="match", direction="v2f", group="all")
    en = res.get(task="match", direction="v2f", group="language=en")
    # the subgroup accuracies recombine into the overall one
    assert (rows[0].value * rows[0].n + en.value * en.n) / allrow.n == pytest.approx(allrow.value)


def test_retrieval_anchors_random_ranking_chance_and_gender(make_emb):
    v, f, attrs = make_emb(n_ids=40, per=5, random=True, seed=7)
    p = small(tasks=("retrieve",), directions=["v2f"])
    p.retrieval.n_identities = 40
    p.retrieval.full = False
    m = evaluate(v, f, attrs, p).get(task="retrieve", name="mAP")
    # random embeddings: mAP near the random-ranking expectation; knowing gender halves the
    # gallery, so the gender-only baseline sits near the chance AP of half the gallery
    assert (
        m.intervals["bootstrap-identity"].low <= m.chance <= m.intervals["bootstrap-identity"].high
    )
    assert m.gender_baseline > 1.5 * m.chance


def test_evaluate_does_not_import_models_or_train():
    import subprocess
    import sys

    code = (
        "import sys, vfbench.evaluate.api, vfbench.evaluate.quick, vfbench.report.html;"
        "bad = [m for m in sys.modules if m.startswith(('vfbench.models', 'vfbench.train', 'torch'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
