"""``vfbench demo --quick`` end to end, then reuse, ``report`` and ``compare`` on its folders.

One quick demo run (module fixture) feeds every test here; a second run with another
training seed shares its corpus and is compared with it on the same trials.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from _browser import ARGS, CHROMIUM
from vfbench.cli import main
from vfbench.evaluate.results import EvaluationResult

TASKS = {"match", "verify", "retrieve", "joint_match", "joint_retrieve", "repeated"}
SECTIONS = (
    "Headline",
    "1:2 matching",
    "1:n matching",
    "Retrieval",
    "Joint matching and retrieval",
    "Verification",
    "Repeated random test sets",
    "Stages",
    "Provenance",
)


def _stage_records(out: Path) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted((out / ".stages").glob("*.json"))}


@pytest.fixture(scope="module")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "a"
    t0 = time.perf_counter()
    assert main(["demo", "--quick", "--quiet", "--out", str(out)]) == 0
    (out / "wall_seconds.txt").write_text(f"{time.perf_counter() - t0:.1f}")
    return out


@pytest.fixture(scope="module")
def result(run_a: Path) -> EvaluationResult:
    return EvaluationResult.load(run_a)


def test_report_has_every_task_in_both_directions(run_a: Path, result: EvaluationResult) -> None:
    tasks = {(m.task, m.direction) for m in result.metrics}
    assert {t for t, _ in tasks} == TASKS
    for t in TASKS:
        assert {(t, "v2f"), (t, "f2v")} <= tasks, t
    groups = {m.group for m in result.find(task="match", n=2, constraint="U")}
    assert {"all", "gender=m", "gender=f"} <= groups  # Male/Female rows
    assert {c.kind for c in result.curves} >= {"roc", "1ton", "ci_vs_ids", "joint"}
    md = (run_a / "report.md").read_text()
    html = (run_a / "report.html").read_text()
    for title in SECTIONS:
        assert title in md, title
        assert title in html, title
    assert "<img" in html and "data:image/png;base64," in html  # self-contained
    assert "src='http" not in html and 'src="http' not in html
    assert sorted(p.name for p in (run_a / "plots").glob("*.png"))


def test_every_interval_contains_its_point_estimate(result: EvaluationResult) -> None:
    checked = 0
    for m in result.metrics:
        for method, iv in m.intervals.items():
            assert iv.low - 1e-9 <= m.value <= iv.high + 1e-9, (m.task, m.setting, m.name, method)
            checked += 1
    assert checked > 100


def test_1to2_voice_to_face_is_above_chance_and_near_the_anchors(result: EvaluationResult) -> None:
    m = result.get(task="match", direction="v2f", n=2, constraint="U", group="all")
    for method in ("binomial", "bootstrap-identity"):
        assert m.intervals[method].low > 0.5, (method, m.intervals[method])
    assert m.chance == 0.5 and m.gender_baseline is not None
    head = {r["label"]: r for r in result.summary["demo"]["headline"]}["1:2 v2f U"]
    assert head["value"] == pytest.approx(m.value)
    assert head["oracle"] is not None and head["oracle"] > m.value  # the ceiling is a ceiling
    assert head["ceiling_fraction"] == pytest.approx((m.value - 0.5) / (head["oracle"] - 0.5))


def test_results_record_config_seed_version_and_data_hashes(
    run_a: Path, result: EvaluationResult
) -> None:
    prov = result.provenance
    assert prov["vfbench_version"] and prov["seed"] == 0
    cfg = prov["config"]
    assert cfg["synth"]["identities"] == 200 and cfg["train"]["name"] == "trinet_cpu"
    inputs = prov["inputs"]
    for k in ("data.corpus", "data.manifest", "train.checkpoint", "voices", "faces", "trials"):
        assert len(inputs[k]) >= 32, k
    synth = json.loads((run_a / "corpus" / "synth.json").read_text())
    assert inputs["data.corpus"] == synth["corpus_sha256"]
    names = [s["name"] for s in result.summary["demo"]["stages"]]
    assert names == ["synth", "preprocess", "train", "embed", "evaluate"]


def test_quick_demo_report_is_marked_as_a_smoke_run(run_a: Path, result: EvaluationResult) -> None:
    assert result.summary["smoke"] is True
    html = (run_a / "report.html").read_text(encoding="utf-8")
    assert "class='smoke'" in html and html.index("class='smoke'") < html.index("id='headline'")


def test_quick_demo_is_quick(run_a: Path) -> None:
    # budget < 60 s on 2 idle cores; generous here since CI machines are shared
    assert float((run_a / "wall_seconds.txt").read_text()) < 240


def test_second_run_reuses_every_stage(run_a: Path) -> None:
    from vfbench.experiments.config import load_demo_config, packaged_config
    from vfbench.experiments.demo import run_demo

    before = _stage_records(run_a)
    mtime = (run_a / "eval" / "results.json").stat().st_mtime_ns
    res = run_demo(run_a, load_demo_config(packaged_config("demo_quick.yaml")), progress=False)
    assert {r.status for r in res.records} == {"reused"}
    assert [r.name for r in res.records] == [
        "synth",
        "preprocess",
        "train",
        "embed",
        "evaluate",
        "report",
    ]
    assert res.wall_seconds < 10
    assert _stage_records(run_a) == before
    assert (run_a / "eval" / "results.json").stat().st_mtime_ns == mtime


def test_second_cli_run_says_what_it_reused(
    run_a: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 15.6: not "wall time 0.0 s" but the real time and what was reused."""
    import re

    assert main(["demo", "--quick", "--quiet", "--out", str(run_a)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(
        r"wall time \d+\.\d\d s; reused all 6 stages \(synth, preprocess, train, embed, "
        r"evaluate, report: computed earlier in \d+\.\d s; --force STAGE recomputes one\)",
        last,
    ), last


def test_changed_protocol_reruns_only_evaluation_and_report(run_a: Path, tmp_path: Path) -> None:
    from vfbench.experiments.config import load_demo_config, packaged_config
    from vfbench.experiments.demo import run_demo

    out = tmp_path / "b"
    shutil.copytree(run_a, out)
    cfg = load_demo_config(packaged_config("demo_quick.yaml"), ["protocol.n_boot=100"])
    res = run_demo(out, cfg, progress=False)
    status = {r.name: r.status for r in res.records}
    assert status == {"synth": "reused", "preprocess": "reused", "train": "reused",
                      "embed": "reused", "evaluate": "ran", "report": "ran"}  # fmt: skip
    assert res.result.protocol["n_boot"] == 100


def test_report_command_regenerates_without_recomputation(run_a: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(run_a, out)
    md = (out / "report.md").read_text()
    before = _stage_records(out)
    for name in ("report.md", "report.html", "results.csv"):
        (out / name).unlink()
    shutil.rmtree(out / "plots")
    # the evaluation inputs are gone: anything that recomputed would fail
    shutil.rmtree(out / "embeddings")
    assert main(["report", str(out), "--no-show", "--formats", "md,csv,html,png"]) == 0
    assert (out / "report.md").read_text() == md
    assert "1:2 matching" in (out / "report.html").read_text()
    assert list((out / "plots").glob("*.png"))
    assert _stage_records(out) == before


def test_compare_two_demo_runs_on_the_same_trials(
    run_a: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_b = tmp_path / "b"
    rc = main(["demo", "--quick", "--quiet", "--out", str(out_b),
               "--set", f"corpus={run_a / 'corpus'}", "--set", "train.seed=1"])  # fmt: skip
    assert rc == 0
    a, b = EvaluationResult.load(run_a), EvaluationResult.load(out_b)
    assert a.trials_hash == b.trials_hash  # same corpus, split and protocol seed
    assert a.provenance["inputs"]["train.checkpoint"] != b.provenance["inputs"]["train.checkpoint"]
    md = tmp_path / "cmp.md"
    assert main(["compare", str(run_a), str(out_b), "--out", str(md), "--n-boot", "200"]) == 0
    text = md.read_text()
    assert "match/v2f/n=2/U" in text and "verify/v2f/U" in text
    # a run compared with itself: zero difference, p = 1
    assert main(["compare", str(run_a), str(run_a), "--out", str(tmp_path / "self.md")]) == 0
    row = next(x for x in (tmp_path / "self.md").read_text().splitlines() if "match/v2f/n=2/U" in x)
    assert "+0.00" in row and "| 1 |" in row


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs /usr/bin/chromium")
def test_report_renders_in_headless_chromium(run_a: Path) -> None:
    from playwright.sync_api import sync_playwright

    shot = run_a / "report-screenshot.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto((run_a / "report.html").resolve().as_uri())
            page.wait_for_load_state("load")
            n_tables = page.locator("table").count()
            rows = page.locator("table tbody tr").count()
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            headings = page.locator("h2").all_inner_texts()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert n_tables >= 8 and rows >= 50
    assert len(widths) >= 4 and all(w > 0 for w in widths), widths
    assert any("1:2 matching" in h for h in headings)
    assert all(u.startswith(("file:", "data:")) for u in requests), requests  # no network
    assert shot.stat().st_size > 10_000


def test_report_stage_is_keyed_by_the_figures(run_a: Path, result: EvaluationResult) -> None:
    """The evaluate stage records a hash of its figures (oracle included) and the report
    stage's key depends on it: an evaluation that changes a figure is never shown by a
    reused, older report."""
    from vfbench.utils.io import stable_hash

    ev = next(s for s in result.summary["demo"]["stages"] if s["name"] == "evaluate")
    own = EvaluationResult.load(run_a / "eval")
    figures = [m.to_dict() for m in own.metrics]
    oracle = run_a / "eval" / "oracle" / "results.json"
    if oracle.is_file():
        figures.append({"oracle": [m.to_dict() for m in EvaluationResult.load(oracle).metrics]})
    assert ev["outputs"]["results"] == stable_hash(figures, length=32)
