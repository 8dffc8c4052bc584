"""The synthetic oracle: PMI agrees with the generator's Bayes rule and is direction-free;
the ceiling of a corpus goes through evaluate (``synthetic_ceiling``, ``vfbench synth
oracle``), with the same trials, figures and intervals as the demo's oracle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vfbench.cli import main
from vfbench.data.synthetic import (
    SynthConfig,
    bayes_log_likelihood,
    generate_corpus,
    sample_traits,
)
from vfbench.data.synthetic.oracle import pmi_matrix
from vfbench.errors import DataError
from vfbench.evaluate.api import evaluate
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.protocol import Protocol
from vfbench.experiments.oracle import ceiling_protocol, oracle_embeddings, synthetic_ceiling


@pytest.fixture(scope="module")
def traits():  # type: ignore[no-untyped-def]
    return sample_traits(SynthConfig(identities=120, seed=3, shared_strength=0.7))


def test_pmi_differs_from_bayes_ll_by_a_voice_only_term(traits) -> None:  # type: ignore[no-untyped-def]
    """log p(v|f) = PMI(v, f) + log p(v): for a fixed voice, candidate faces rank the same."""
    s = traits.shared_strength
    v, f = traits.voice[:30], traits.face[:40]
    pmi = pmi_matrix(v, f, s)
    ll = np.stack(
        [bayes_log_likelihood(np.repeat(v[i : i + 1], len(f), 0), f, s) for i in range(len(v))]
    )
    diff = ll - pmi  # (30, 40): constant along each row
    assert np.allclose(diff, diff[:, :1], atol=1e-9)
    # and symmetric in the roles: p(f|v) = PMI + log p(f), constant down each column
    ll_fv = np.stack(
        [bayes_log_likelihood(f, np.repeat(v[i : i + 1], len(f), 0), s) for i in range(len(v))]
    )
    d2 = ll_fv - pmi
    assert np.allclose(d2, d2[:1, :], atol=1e-9)


def test_pmi_dedupes_repeated_rows(traits) -> None:  # type: ignore[no-untyped-def]
    idx_v = np.array([0, 0, 5, 2, 5])
    idx_f = np.array([1, 1, 1, 7])
    full = pmi_matrix(traits.voice[idx_v], traits.face[idx_f], traits.shared_strength)
    small = pmi_matrix(traits.voice[[0, 5, 2]], traits.face[[1, 7]], traits.shared_strength)
    assert np.allclose(full, small[[0, 0, 1, 2, 1]][:, [0, 0, 0, 1]])


def test_oracle_through_evaluate_matches_the_generators_ceiling(traits) -> None:  # type: ignore[no-untyped-def]
    """Scored by evaluate() on sampled 1:2 U trials, the oracle lands on the generator's own
    exact all-pairs ceiling (within the identity-level interval: trials share identities, so
    the binomial one is too narrow), far above the gender-only baseline."""
    ids = np.asarray(traits.ids)
    per = 3
    item_ids = np.array([f"{i}/{k}" for i in ids for k in range(per)])
    item_idents = np.repeat(ids, per)
    zeros = np.zeros((len(item_ids), 4), np.float32)
    v = Embeddings(item_ids, item_idents, zeros, "voice")
    f = Embeddings(item_ids, item_idents, zeros, "face")
    ov, of, scorer = oracle_embeddings(traits, v, f)
    p = Protocol(tasks=["match"], directions=["v2f"], n_boot=300)
    p.matching.n_values, p.matching.constraints, p.matching.n_trials = [2], [], 20000
    p.matching.gender_balanced = False
    genders = dict(zip(ids, traits.gender.tolist(), strict=True))
    res = evaluate(ov, of, genders, p, scorer=scorer)
    m = res.get(task="match", direction="v2f", n=2, constraint="U", group="all")
    exact = _exact_all_pairs(traits)
    iv = m.interval("bootstrap-identity")
    assert iv is not None and iv.low <= exact <= iv.high
    assert m.gender_baseline is not None and m.value > m.gender_baseline + 0.05


def _exact_all_pairs(traits) -> float:  # type: ignore[no-untyped-def]
    """Reference: the generator's Bayes rule log p(v|f) (not PMI) over every ordered
    (probe, negative) pair of identities; ties count half."""
    s = traits.shared_strength
    i, j = np.nonzero(~np.eye(len(traits), dtype=bool))
    pos = bayes_log_likelihood(traits.voice[i], traits.face[i], s)
    neg = bayes_log_likelihood(traits.voice[i], traits.face[j], s)
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "corpus"
    cfg = SynthConfig(identities=60, faces_per_id=1, voices_per_id=1, min_seconds=1.0,
                      max_seconds=1.2, seed=5)  # fmt: skip
    generate_corpus(out, cfg, progress=False)
    return out


def test_corpus_ceiling_goes_through_evaluate(corpus: Path) -> None:
    """``synthetic_ceiling`` = evaluate() of the trait embeddings with the PMI scorer on
    make_trials' trials: the same numbers as scoring ``oracle_embeddings`` by hand."""
    p = ceiling_protocol(n_trials=3000, seed=2, n_boot=200)
    c = synthetic_ceiling(corpus, "test", p)
    from vfbench.data.manifest import load_manifest
    from vfbench.evaluate.api import make_trials

    man = load_manifest(corpus / "manifest").subset(split="test")
    ids = lambda items: np.array([x.id for x in items])  # noqa: E731
    idents = lambda items: np.array([x.identity for x in items])  # noqa: E731
    zeros_v = Embeddings(
        ids(man.voices), idents(man.voices), np.zeros((len(man.voices), 2)), "voice"
    )
    zeros_f = Embeddings(ids(man.faces), idents(man.faces), np.zeros((len(man.faces), 2)), "face")
    ov, of, scorer = oracle_embeddings(corpus, zeros_v, zeros_f)
    ref = evaluate(ov, of, man, p, trials=make_trials(ov, of, man, p), scorer=scorer)
    assert c.result.trials_hash == ref.trials_hash
    assert c.identities == len(man.identities)
    for label in ("1:2 v2f U", "1:2 f2v U", "1:2 v2f G", "AUC v2f"):
        row = next(r for r in c.rows() if r["label"] == label)
        where = (
            {"task": "verify", "direction": "v2f", "name": "auc"}
            if "AUC" in label
            else {"task": "match", "direction": label.split()[1], "n": 2, "constraint": label[-1]}
        )
        m = ref.find(**where, group="all")[0]
        assert row["value"] == m.value and row["low"] <= row["value"] <= row["high"]
        if label.startswith("1:2"):
            assert row["chance"] == 0.5
    g = next(r for r in c.rows() if r["label"] == "1:2 v2f G")
    assert g["gender_baseline"] == 0.5  # gender-matched trials: the gender rule is a coin
    u = next(r for r in c.rows() if r["label"] == "1:2 v2f U")
    assert 0.5 < u["gender_baseline"] < 0.9 and u["value"] > u["gender_baseline"]


def test_synth_oracle_cli_prints_and_writes_json(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["synth", "oracle", str(corpus), "--trials", "2000", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["split"] == "test" and {r["label"] for r in d["rows"]} >= {"1:2 v2f U", "1:2 v2f G"}
    assert main(["synth", "oracle", str(corpus), "--trials", "2000", "--population", "300"]) == 0
    out = capsys.readouterr().out
    assert "population" in out and "1:2 v2f U" in out
    assert main(["synth", "oracle", str(corpus / "nowhere")]) == 2
    assert "traits.csv" in capsys.readouterr().err


def test_oracle_embeddings_name_a_missing_identity(tmp_path: Path, traits) -> None:  # type: ignore[no-untyped-def]
    v = Embeddings(np.array(["a/1"]), np.array(["nobody"]), np.zeros((1, 2)), "voice")
    f = Embeddings(np.array(["b/1"]), np.array([traits.ids[0]]), np.zeros((1, 2)), "face")
    with pytest.raises(DataError, match="'nobody'.*voice"):
        oracle_embeddings(traits, v, f)
    with pytest.raises(DataError, match="traits.csv.*not found"):
        oracle_embeddings(tmp_path, v, f)
