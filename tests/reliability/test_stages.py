"""A reused stage must still have its outputs (issue 18.7): deleting part of a stage's
folder (the preprocessing cache, by hand) or editing a file makes the stage run again
instead of being reported "reused" and failing downstream. And the demo's last line says
the real wall time and what was reused (issue 15.6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vfbench.experiments.config import load_demo_config, packaged_config
from vfbench.experiments.demo import stage_preprocess, stage_synth, timing_line
from vfbench.experiments.stages import StageOutput, StageRecord, StageRunner
from vfbench.preprocess.cache import FeatureCache


class Writer:
    """Writes ``out.txt`` (declared) and ``part/shard.bin`` (not declared), counting calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, d: Path, resume: bool) -> StageOutput:
        self.calls += 1
        (d / "part").mkdir(exist_ok=True)
        (d / "out.txt").write_text("result")
        (d / "part" / "shard.bin").write_bytes(bytes(range(64)))
        return StageOutput(outputs={"h": "x"}, files=["out.txt"])


def _run(root: Path, fn: Writer, log: list[str] | None = None) -> StageRecord:
    runner = StageRunner(root, log.append if log is not None else None)
    return runner.run("a", root / "a", {"k": 1}, {}, fn)


def test_intact_outputs_are_reused_and_recorded(tmp_path: Path) -> None:
    fn = Writer()
    first = _run(tmp_path, fn)
    assert set(first.inventory) == {"out.txt", "part/shard.bin"}
    assert first.inventory["part/shard.bin"][0] == 64
    assert _run(tmp_path, fn).status == "reused" and fn.calls == 1


def test_deleted_undeclared_output_reruns_the_stage(tmp_path: Path) -> None:
    fn = Writer()
    _run(tmp_path, fn)
    (tmp_path / "a" / "part" / "shard.bin").unlink()
    said: list[str] = []
    rec = _run(tmp_path, fn, said)
    assert rec.status == "ran" and fn.calls == 2
    assert (tmp_path / "a" / "part" / "shard.bin").is_file()
    assert any("shard.bin is missing" in m and "rerunning" in m for m in said)


@pytest.mark.parametrize("edit", ["same_size", "truncated"])
def test_edited_output_reruns_the_stage(tmp_path: Path, edit: str) -> None:
    fn = Writer()
    _run(tmp_path, fn)
    p = tmp_path / "a" / "part" / "shard.bin"
    p.write_bytes(bytes(64) if edit == "same_size" else b"\x00")
    said: list[str] = []
    assert _run(tmp_path, fn, said).status == "ran" and fn.calls == 2
    assert p.read_bytes() == bytes(range(64))
    why = "was modified (sha256 differs)" if edit == "same_size" else "has 1 bytes, 64 when"
    assert any(why in m for m in said)


def test_record_without_inventory_takes_stock_on_first_reuse(tmp_path: Path) -> None:
    """Records of an older vfbench hold no inventory: reused (declared files exist), the
    inventory is written then, and later damage is detected."""
    fn = Writer()
    _run(tmp_path, fn)
    marker = tmp_path / ".stages" / "a.json"
    rec = json.loads(marker.read_text())
    del rec["inventory"]
    marker.write_text(json.dumps(rec))
    assert _run(tmp_path, fn).status == "reused"
    assert set(json.loads(marker.read_text())["inventory"]) == {"out.txt", "part/shard.bin"}
    (tmp_path / "a" / "part" / "shard.bin").unlink()
    assert _run(tmp_path, fn).status == "ran" and fn.calls == 2


def test_run_folder_stage_checks_only_its_declared_files(tmp_path: Path) -> None:
    """A stage writing into the run folder itself (the report) owns only what it declares:
    other stages' folders beside it don't count, its declared files do."""

    def report(d: Path, resume: bool) -> StageOutput:
        (d / "report.md").write_text("# report")
        return StageOutput(files=["report.md"])

    calls = []

    def counted(d: Path, resume: bool) -> StageOutput:
        calls.append(1)
        return report(d, resume)

    StageRunner(tmp_path).run("report", tmp_path, {}, {}, counted)
    (tmp_path / "other.txt").write_text("another stage's business")
    assert StageRunner(tmp_path).run("report", tmp_path, {}, {}, counted).status == "reused"
    rec = json.loads((tmp_path / ".stages" / "_root.json").read_text())
    assert set(rec["inventory"]) == {"report.md"}
    (tmp_path / "report.md").write_text("# edited!")
    assert StageRunner(tmp_path).run("report", tmp_path, {}, {}, counted).status == "ran"
    assert len(calls) == 2


def test_partly_deleted_preprocessing_cache_is_rebuilt(tmp_path: Path) -> None:
    """The reported case: a real (small) synthetic corpus and preprocessing cache; the user
    deletes one shard; the next run rebuilds the cache instead of reusing it."""
    cfg = load_demo_config(
        packaged_config("demo_quick.yaml"),
        ["synth.identities=12", "synth.max_seconds=1.5", "workers=1"],
    )
    root = tmp_path / "run"

    def stages(log: list[str]) -> tuple[StageRecord, Path]:
        runner = StageRunner(root, log.append)
        data = stage_synth(runner, cfg, root / "corpus", progress=False)
        return stage_preprocess(runner, cfg, data, root / "cache", progress=False), root / "cache"

    first, cache = stages([])
    shards = sorted(cache.rglob("shard-*.bin"))
    assert first.status == "ran" and shards
    before = {p.relative_to(cache): p.read_bytes() for p in shards}
    shards[0].unlink()
    said: list[str] = []
    again, _ = stages(said)
    assert again.status == "ran"
    assert any("[synth] unchanged" in m for m in said)  # only the damaged stage reruns
    assert any(f"{shards[0].name} is missing" in m for m in said)
    after = {p.relative_to(cache): p.read_bytes() for p in sorted(cache.rglob("shard-*.bin"))}
    assert after == before  # the same, complete cache again
    fc = FeatureCache.open(cache)  # and it reads: every item of the corpus is there
    assert len(fc.ids("voice")) == 12 * cfg.synth.voices_per_id
    assert len(fc.ids("face")) == 12 * cfg.synth.faces_per_id
    assert fc.verify() == []
    third, _ = stages([])
    assert third.status == "reused"


def _rec(name: str, status: str, seconds: float, compute: float) -> StageRecord:
    return StageRecord(name, "k", status, seconds, compute, "d")


def test_timing_line_says_what_was_reused() -> None:
    recs = [_rec("synth", "reused", 0.01, 5.7), _rec("train", "reused", 0.02, 12.8)]
    assert timing_line(recs, 0.034) == (
        "wall time 0.03 s; reused all 2 stages (synth, train: computed earlier in 18.5 s; "
        "--force STAGE recomputes one)"
    )
    recs[1] = _rec("train", "ran", 12.0, 12.0)
    assert timing_line(recs, 12.34).startswith("wall time 12.3 s; reused 1 of 2 stages (synth:")
    assert timing_line([_rec("a", "ran", 1, 1)], 1.0) == "wall time 1.00 s (every stage computed)"
