"""The evaluation split by task: order-independent seeding, per-task figures, #20 fixes."""

from __future__ import annotations

import numpy as np
import pytest

from vfbench.errors import ConfigError, EvaluationError
from vfbench.evaluate.api import evaluate, make_trials
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.seeding import task_rng
from vfbench.evaluate.tasks import EVALUATORS, GENERATORS


def small(tasks: tuple[str, ...], directions: tuple[str, ...] = ("v2f", "f2v")) -> Protocol:
    p = Protocol.quick()
    p.tasks = list(tasks)
    p.directions = list(directions)
    p.n_boot = 100
    p.matching.n_trials = 600
    p.matching.n_values = [2, 3]
    p.verification.n_pairs = 600
    p.retrieval.full = False
    return p


def _rows(res, task):
    return {
        (m.direction, m.setting, m.name, m.group): (
            m.value,
            {k: (e.low, e.high) for k, e in m.intervals.items()},
        )
        for m in res.metrics
        if m.task == task
    }


def test_task_registry_covers_every_protocol_task():
    assert set(GENERATORS) == {"match", "verify", "retrieve", "joint"}
    assert set(EVALUATORS) == {"match", "joint_match", "verify", "retrieve", "joint_retrieve"}


def test_task_rng_depends_on_seed_and_key_only():
    a = task_rng(3, "trials", "match/v2f/n=2/U").random(4)
    assert np.array_equal(a, task_rng(3, "trials", "match/v2f/n=2/U").random(4))
    assert not np.array_equal(a, task_rng(4, "trials", "match/v2f/n=2/U").random(4))
    assert not np.array_equal(a, task_rng(3, "trials", "match/f2v/n=2/U").random(4))


def test_adding_or_reordering_tasks_never_changes_another_tasks_numbers(make_emb):
    v, f, attrs = make_emb(n_ids=30, per=4, noise=1.0)
    alone = evaluate(v, f, attrs, small(("match",)))
    p = small(("verify", "retrieve", "joint", "match"), directions=("f2v", "v2f"))
    crowded = evaluate(v, f, attrs, p)
    assert _rows(alone, "match") == _rows(crowded, "match")
    assert len(_rows(alone, "match")) > 4
    # the trials themselves too, group by group
    ta, tc = make_trials(v, f, attrs, small(("match",))), make_trials(v, f, attrs, p)
    for key in ta.keys():
        for name, arr in ta.groups[key].items():
            assert np.array_equal(arr, tc.groups[key][name]), (key, name)
    # and verification does not depend on matching being there
    only_v = evaluate(v, f, attrs, small(("verify",)))
    assert _rows(only_v, "verify") == _rows(crowded, "verify")


def test_protocol_errors_are_config_errors():
    p = Protocol()
    p.matching.n_values = [1]
    with pytest.raises(ConfigError, match="matching n"):
        p.validate()
    p = Protocol()
    p.repeated.max_overlap = 0.0
    with pytest.raises(ConfigError, match="max_overlap"):
        p.validate()


def test_repeated_chance_is_none_under_the_peers_tie_rule(make_emb):
    v, f, attrs = make_emb(n_ids=40, per=3, noise=1.0)
    p = small(("repeated",), directions=("v2f",))
    p.repeated.sizes = [10]
    p.repeated.repeats = 3
    p.repeated.n_trials = 200
    p.repeated.tasks = ["match", "verify"]
    half = evaluate(v, f, attrs, p).get(task="repeated", of_task="match")
    assert half.chance == 0.5
    p.tie_rule = "correct"
    res = evaluate(v, f, attrs, p)
    assert res.get(task="repeated", of_task="match").chance is None
    assert res.get(task="repeated", of_task="verify").chance == 0.5  # AUC: ties are half


def test_retrieval_rows_are_labelled_with_the_sizes_drawn(make_emb):
    v, f, attrs = make_emb(n_ids=12, per=3, noise=1.0)
    p = small(("retrieve",), directions=("v2f",))
    p.retrieval.n_identities = 100  # more than exist
    p.retrieval.gallery_per_identity = 5  # more items than an identity has
    m = evaluate(v, f, attrs, p).get(task="retrieve", name="mAP")
    assert m.setting == "paper 12 ids x 3 / 3 queries"
    assert m.params["n_gallery"] == 36 and m.params["n_gallery_identities"] == 12


def test_scoring_path_is_recorded_in_provenance(make_emb, monkeypatch):
    v, f, attrs = make_emb(n_ids=10, per=2, noise=1.0)
    monkeypatch.setenv("VFBENCH_NUMBA", "0")
    res = evaluate(v, f, attrs, small(("match",), ("v2f",)))
    assert res.provenance["scoring_path"].startswith("numpy (VFBENCH_NUMBA")


def test_unknown_by_column_names_the_columns(make_emb):
    v, f, attrs = make_emb(n_ids=10, per=2, noise=1.0)
    p = small(("match",), ("v2f",))
    p.by = ["source"]
    with pytest.raises(EvaluationError, match="no identity column 'source'.*nationality"):
        evaluate(v, f, attrs, p)


def _with_source(attrs):
    """Add a metadata column: identity i comes from video collection "s<i mod 3>"."""
    return {k: {**a, "source": f"s{int(k[1:]) % 3}"} for k, a in attrs.items()}


def test_by_any_identity_column_and_same_column_distractors(make_emb):
    from vfbench.evaluate.trials import Universe

    v, f, attrs = make_emb(n_ids=30, per=3, noise=1.0)
    attrs = _with_source(attrs)
    p = small(("match", "verify"), ("v2f",))
    p.by = ["source"]
    res = evaluate(v, f, attrs, p)
    rows = {m.group: m for m in res.find(task="match", n=2, constraint="U")}
    assert {"source=s0", "source=s1", "source=s2"} <= set(rows)
    # each breakdown row is the accuracy over the trials whose query is from that source
    o = res.outcomes["match/v2f/n=2/U"]
    names = np.unique(np.concatenate([v.identities, f.identities]))
    src = np.array([attrs[n]["source"] for n in names])[o["cluster"]]
    for s in ("s0", "s1", "s2"):
        assert rows[f"source={s}"].value == pytest.approx(float(o["outcome"][src == s].mean()))
    # same-source distractors: every distractor shares its query's source
    p.by = []
    p.matching.same = "source"
    p.verification.same = "source"
    ts = make_trials(v, f, attrs, p)
    u = Universe.build(ts.voice_identities, ts.face_identities, attrs)
    col = u.attribute("source")
    g = ts.groups["match/v2f/n=2/U/same=source"]
    qv = np.searchsorted(u.names, ts.voice_identities[g["query"]])
    cf = np.searchsorted(u.names, ts.face_identities[g["cands"]])
    assert np.all(col[cf] == col[qv][:, None]) and np.all(cf[:, 1] != qv)
    vp = ts.groups["verify/v2f/U/same=source"]
    neg = ~vp["label"]
    a = np.searchsorted(u.names, ts.voice_identities[vp["voice"][neg]])
    b = np.searchsorted(u.names, ts.face_identities[vp["face"][neg]])
    assert np.all(col[a] == col[b]) and np.all(a != b)
    m = evaluate(v, f, attrs, p, trials=ts).get(task="match", n=2, constraint="U")
    assert m.setting == "1:2 U same source" and m.params["same"] == "source"


def test_identity_extra_columns_are_read_from_manifest_like_objects():
    from vfbench.evaluate.inputs import identity_attributes

    class Ident:
        def __init__(self, id_: str, source: str) -> None:
            self.id, self.gender, self.nationality, self.language = id_, "m", "", ""
            self.extra = {"source": source}

    attrs = identity_attributes({"a": Ident("a", "yt"), "b": {"gender": "f", "channel": "x"}})
    assert attrs["a"]["source"] == "yt" and attrs["b"]["channel"] == "x"


def test_repeated_sets_share_one_score_matrix_and_keep_their_figures(make_emb, monkeypatch):
    """Every random set scores its voices x faces once; its matching and verification trials
    in both directions read their pairs from that matrix. The figures agree with scoring each
    task's pairs separately (up to float32 rounding of a dot product: 1e-6 at most here),
    and sets too large for the matrix (``SHARED_SCORE_CELLS``) fall back to that path."""
    from vfbench.evaluate.tasks import repeated

    v, f, attrs = make_emb(n_ids=40, per=4, noise=1.0)
    p = small(("repeated",))
    p.repeated.sizes = [10, 20]
    p.repeated.repeats = 4
    p.repeated.n_trials = 300
    p.repeated.max_overlap = 1.0
    p.repeated.tasks = ["match", "verify", "retrieve"]
    calls = {"matrix": 0, "pairs": 0}
    real_matrix, real_pairs = repeated.score_matrix, repeated.pair_scores

    def matrix(*a, **k):
        calls["matrix"] += 1
        return real_matrix(*a, **k)

    def pairs(*a, **k):
        calls["pairs"] += 1
        return real_pairs(*a, **k)

    monkeypatch.setattr(repeated, "score_matrix", matrix)
    monkeypatch.setattr(repeated, "pair_scores", pairs)
    shared = evaluate(v, f, attrs, p)
    assert calls == {"matrix": 2 * 4, "pairs": 0}  # one matrix a set, no pair scoring
    monkeypatch.setattr(repeated, "SHARED_SCORE_CELLS", 0)
    alone = evaluate(v, f, attrs, p)
    assert calls == {"matrix": 2 * 4, "pairs": 2 * 4 * 2}  # verify: per set and direction
    rows_s = {(m.direction, m.setting): m for m in shared.metrics if m.task == "repeated"}
    rows_a = {(m.direction, m.setting): m for m in alone.metrics if m.task == "repeated"}
    assert rows_s.keys() == rows_a.keys() and len(rows_s) == 3 * 2 * 2
    for key, m in rows_s.items():
        np.testing.assert_allclose(m.params["values"], rows_a[key].params["values"], atol=1e-6)
        assert len(set(m.params["values"])) > 1  # the sets differ: a real comparison


def test_repeated_shares_the_matrix_only_where_it_pays(make_emb):
    """The matrix is used when it holds at most ``SHARED_SCORE_CELLS`` cells and costs less
    than scoring the pairs (``_MATMUL_ADVANTAGE`` pair dots per matrix cell)."""
    from vfbench.evaluate.results import EvaluationResult
    from vfbench.evaluate.scoring import _MATMUL_ADVANTAGE, prepare, score_matrix
    from vfbench.evaluate.tasks.context import Context
    from vfbench.evaluate.tasks.repeated import _set_scores
    from vfbench.evaluate.trials import Universe

    v, f, attrs = make_emb(n_ids=10, per=4, noise=1.0)
    p = small(("repeated",))
    p.repeated.tasks = ["verify"]
    vv, ff = prepare(v.vectors, f.vectors, "cosine")
    u = Universe.build(v.identities, f.identities, attrs)
    codes = np.searchsorted(u.names, v.identities)
    sub = Context(vv, ff, codes, codes, u, p, "cosine", EvaluationResult(), print)
    cells = 40 * 40
    p.repeated.n_trials = int(np.ceil(cells / _MATMUL_ADVANTAGE / 2))  # 2 directions
    s = _set_scores(sub, sub)
    assert s is not None and np.array_equal(s, score_matrix(vv, ff, "cosine", prepared=True))
    p.repeated.n_trials -= 1  # fewer pairs than the matrix is worth
    assert _set_scores(sub, sub) is None
    p.repeated.tasks = ["retrieve"]  # no pairs at all
    p.repeated.n_trials = 10**6
    assert _set_scores(sub, sub) is None
