"""``run_benchmark`` on tiny in-memory data: every method row trained through the shared
loop, evaluated on ONE trial set, compared with TriNet by paired tests; resumable; bad
grids fail with messages naming the culprit; ``vfbench methods list``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_methods_training import tiny_split

from vfbench.cli import main
from vfbench.errors import ConfigError
from vfbench.evaluate.results import FIGURES_VERSION
from vfbench.experiments.benchmark import BenchData, load_grid, run_benchmark

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TINY = [
    "steps=150",
    "n_boot=50",
    "set=['voice.kwargs={width: 4}', 'face.kwargs={width: 4}', sampler.P=12, head.dim=32,"
    " pretrain.enabled=false, val.n_trials=500, log.progress=false, 'optim.milestones=[]']",
    "protocol={n_boot: 50, by: [],"
    " matching: {n_trials: 600, n_values: [2, 3, 5, 10], constraints: [U, G]},"
    " verification: {n_pairs: 600, fars: [0.01]},"
    " retrieval: {n_identities: 12, gallery_per_identity: 2, queries_per_identity: 2, ks: [1]}}",
]


@pytest.fixture(scope="module")
def bench(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, BenchData, dict[str, Any], list[str]]:
    tr, va, te = tiny_split(40, 4, 0), tiny_split(24, 4, 1), tiny_split(24, 4, 2)
    ids = {i: g for i, g in zip(te.identities, te.genders, strict=True)}
    data = BenchData(tr, va, te, identities=ids)
    out = tmp_path_factory.mktemp("bench")
    said: list[str] = []
    table = run_benchmark(load_grid(None, TINY), out, data=data, progress=False, say=said.append)
    return out, data, table.to_dict(), said


def test_every_method_is_a_row_on_the_same_trials(bench: Any) -> None:
    out, _, table, said = bench
    names = [r["name"] for r in table["rows"]]
    assert names == ["TriNet", "SVHF", "DIMNet-IG", "PINs", "Kim", "Horiguchi", "FOP", "CMPC",
                     "SSNet", "FV-CME", "LAFV", "Self-Lifting", "CAE", "BarlowTwins"]  # fmt: skip
    hashes = {
        json.loads((out / "rows" / n / "result" / "results.json").read_text())["trials_hash"]
        for n in names
    }
    assert hashes == {table["trials_sha256"]}
    assert table["schema"] == "vfbench.grid/1" and table["kind"] == "methods"
    methods = {r["name"]: (r["method"], r["scorer"]) for r in table["rows"]}
    assert methods["SVHF"] == ("svhf", "pair_matcher")
    assert methods["Horiguchi"] == ("horiguchi", "pair_matcher")
    assert methods["Kim"] == ("kim", "l2") and methods["TriNet"] == ("trinet", "cosine")
    assert methods["LAFV"] == ("lafv", "l2") and methods["FV-CME"] == ("fv_cme", "inner_product")
    assert all("training" in s for s in said if s.startswith("TriNet:") and "trained" not in s)


def test_cells_have_intervals_and_beat_chance(bench: Any) -> None:
    _, _, table, _ = bench
    for r in table["rows"]:
        for col in ("v2f 1:2 U", "v2f 1:2 G", "v2f 1:3 U", "v2f 1:5 U", "v2f 1:10 U", "v2f AUC"):
            c = r["cells"][col]
            assert c is not None, (r["name"], col)
            assert c["low"] <= c["value"] <= c["high"]
        c = r["cells"]["v2f 1:2 U"]
        assert c["low"] > 0.5, (r["name"], c)  # the tiny data carries a voice-face signal
        assert [p["n"] for p in r["curve"]["v2f"]] == [2, 3, 5, 10]
        assert r["cells"]["v2f mAP"] is not None


def test_paired_tests_against_trinet(bench: Any) -> None:
    out, _, table, _ = bench
    from vfbench.evaluate.confidence import mcnemar_exact
    from vfbench.evaluate.results import EvaluationResult

    base = EvaluationResult.load(out / "rows" / "TriNet" / "result", with_outcomes=True)
    for r in table["rows"]:
        if r["name"] == "TriNet":  # the baseline is not tested against itself
            assert all(c["diff"] is None and c["p_bootstrap"] is None for c in r["cells"].values())
            continue
        p = r["cells"]["v2f 1:2 U"]
        other = EvaluationResult.load(out / "rows" / r["name"] / "result", with_outcomes=True)
        a = other.outcomes["match/v2f/n=2/U"]["outcome"]
        b = base.outcomes["match/v2f/n=2/U"]["outcome"]
        want_p, _, _ = mcnemar_exact(a, b)
        assert p["p_mcnemar"] == pytest.approx(want_p)
        assert p["diff"]["value"] == pytest.approx(float(np.mean(a) - np.mean(b)), abs=1e-6)
        assert p["diff"]["low"] <= p["diff"]["value"] <= p["diff"]["high"]
        auc = r["cells"]["v2f AUC"]
        assert auc["p_mcnemar"] is None and auc["p_bootstrap"] is not None  # bootstrap only
        assert r["cells"]["v2f mAP"]["diff"] is not None


def test_outputs_written(bench: Any) -> None:
    out, _, table, _ = bench
    md = (out / "benchmark.md").read_text()
    for r in table["rows"]:
        assert f"| {r['name']} |" in md
    assert ("p=" in md or "p<" in md) and "1:n matching" in md
    saved = json.loads((out / "benchmark.json").read_text())
    assert (
        saved["rows"][1]["cells"]["v2f 1:2 U"]["value"]
        == table["rows"][1]["cells"]["v2f 1:2 U"]["value"]
    )
    assert saved["provenance"]["seed"] == 0 and saved["provenance"]["inputs"]["trials"]
    assert (out / "backbones" / "voice.pt").is_file()
    assert len(list((out / "trials").glob("*.npz"))) == 1


def test_rerun_skips_finished_rows(bench: Any) -> None:
    out, data, table, _ = bench
    said: list[str] = []
    again = run_benchmark(
        load_grid(None, TINY), out, data=data, progress=False, say=said.append
    ).to_dict()
    assert sum("done already" in s for s in said) == len(table["rows"]) == 14
    assert not any("training" in s for s in said)
    assert again["rows"][2]["cells"] == table["rows"][2]["cells"]
    # figures of an older evaluation version: the row is scored again, never retrained
    state = out / "rows" / "SVHF" / "row.json"
    st = json.loads(state.read_text())
    state.write_text(json.dumps({**st, "figures": FIGURES_VERSION - 1}))
    said.clear()
    fourth = run_benchmark(
        load_grid(None, TINY), out, data=data, progress=False, say=said.append
    ).to_dict()
    assert [s.split(":")[0] for s in said if "re-evaluating" in s] == ["SVHF"]
    assert not any("training" in s for s in said)
    assert json.loads(state.read_text())["figures"] == FIGURES_VERSION
    assert fourth["rows"][1]["cells"] == table["rows"][1]["cells"]  # same code, same figures
    # change one row's config: only that row reruns, on the same trials
    rows = ", ".join(
        f"{{name: {r}, config: methods/{c}_cpu.yaml"
        + (", set: ['loss.kwargs.margin=0.5']}" if r == "Kim" else "}")
        for r, c in (("TriNet", "trinet"), ("SVHF", "svhf"), ("DIMNet-IG", "dimnet"),
                     ("PINs", "pins"), ("Kim", "kim"), ("Horiguchi", "horiguchi"))
    )  # fmt: skip
    said.clear()
    third = run_benchmark(load_grid(None, [*TINY, f"rows=[{rows}]"]), out, data=data,
                          progress=False, say=said.append)  # fmt: skip
    assert [s.split(":")[0] for s in said if "training" in s] == ["Kim"]
    assert sum("done already" in s for s in said) == 5
    assert third.trials_sha256 == table["trials_sha256"]


# ------------------------------------------------------------------------- bad grids
@pytest.mark.parametrize(
    ("sets", "culprit"),
    [
        (["baseline=TriNett"], "TriNett"),
        (
            [
                "rows=[{name: A, config: methods/kim_cpu.yaml}, {name: A, config: methods/pins_cpu.yaml}]"
            ],
            "'A'",
        ),
        (["colour=red"], "colour"),
        (["checkpoint=middle"], "middle"),
    ],
)
def test_bad_grid_names_culprit(sets: list[str], culprit: str) -> None:
    with pytest.raises(ConfigError, match=culprit):
        load_grid(None, sets)


def test_missing_row_config_names_it(tmp_path: Path) -> None:
    g = load_grid(None, ["rows=[{name: TriNet, config: methods/nope.yaml}]"])
    data = BenchData(tiny_split(12, 2, 0), None, tiny_split(12, 2, 1))
    with pytest.raises(ConfigError, match="nope.yaml"):
        run_benchmark(g, tmp_path, data=data, progress=False)


def test_bad_method_option_fails_before_training(tmp_path: Path) -> None:
    g = load_grid(
        None,
        ["rows=[{name: TriNet, config: methods/trinet_cpu.yaml},"
         " {name: S, config: methods/svhf_cpu.yaml, set: ['loss.kwargs.n_candidates=1']}]"],
    )  # fmt: skip
    data = BenchData(tiny_split(12, 2, 0), None, tiny_split(12, 2, 1))
    with pytest.raises(ConfigError, match="n_candidates"):
        run_benchmark(g, tmp_path, data=data, progress=False)
    assert not (tmp_path / "rows").exists()


def test_cli_methods_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["methods", "list"]) == 0
    text = capsys.readouterr().out
    for name in ("trinet", "svhf", "dimnet", "pins", "kim", "horiguchi"):
        assert name in text
    assert "methods/svhf_cpu.yaml" in text


def test_cli_benchmark_bad_grid_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = tmp_path / "g.yaml"
    grid.write_text("baseline: Nobody\n")
    assert main(["methods", "benchmark", "--grid", str(grid), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Nobody" in err and str(grid) in err and "Traceback" not in err


def test_evaluate_checkpoint_uses_the_method_scorer(bench: Any) -> None:
    """A single checkpoint evaluated on the benchmark's trials reproduces its row (SVHF:
    pair-matcher scores, embedded from raw inputs instead of cached features)."""
    from vfbench.config import from_dict
    from vfbench.evaluate.protocol import Protocol
    from vfbench.evaluate.trials import TrialSet
    from vfbench.experiments.benchmark import default_protocol_dict, evaluate_checkpoint

    out, data, table, _ = bench
    row = json.loads((out / "rows" / "SVHF" / "row.json").read_text())
    grid = load_grid(None, TINY)
    pdict = default_protocol_dict()
    pdict.update({k: v for k, v in grid.protocol.items() if k != "matching"})
    pdict["matching"] = {**pdict["matching"], **grid.protocol["matching"]}
    proto = from_dict(Protocol, pdict)
    ts = TrialSet.load(next((out / "trials").glob("*.npz")))
    res, ts2 = evaluate_checkpoint(row["checkpoint"], data.test, data.identities, proto, ts)
    assert ts2 is ts and res.summary["scorer"] == "pair_matcher"
    got = res.get(task="match", direction="v2f", n=2, constraint="U", group="all").value
    want = next(r for r in table["rows"] if r["name"] == "SVHF")["cells"]["v2f 1:2 U"]["value"]
    assert got == pytest.approx(want, abs=2e-3)
