"""StageRunner: reuse when unchanged, rerun (and clear) when changed, resume, force, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vfbench.errors import DataError, PathEscapeError
from vfbench.experiments.stages import StageOutput, StageRunner, stage_key


class Counter:
    """A stage function that counts its calls and writes one file."""

    def __init__(self, text: str = "x") -> None:
        self.calls: list[bool] = []
        self.text = text

    def __call__(self, d: Path, resume: bool) -> StageOutput:
        self.calls.append(resume)
        (d / "out.txt").write_text(self.text)
        return StageOutput(outputs={"h": self.text}, files=["out.txt"], info={"n": 1})


def test_reuse_when_config_and_inputs_unchanged(tmp_path: Path) -> None:
    fn = Counter()
    r1 = StageRunner(tmp_path).run("a", tmp_path / "a", {"k": 1}, {"up": "h1"}, fn)
    r2 = StageRunner(tmp_path).run("a", tmp_path / "a", {"k": 1}, {"up": "h1"}, fn)
    assert fn.calls == [False]
    assert (r1.status, r2.status) == ("ran", "reused")
    assert r2.outputs == {"h": "x"} and r2.key == r1.key
    assert r2.compute_seconds == pytest.approx(r1.compute_seconds)


@pytest.mark.parametrize(
    "config, inputs", [({"k": 2}, {"up": "h1"}), ({"k": 1}, {"up": "h2"})], ids=["config", "input"]
)
def test_change_reruns_and_clears_stale_files(
    tmp_path: Path, config: dict[str, int], inputs: dict[str, str]
) -> None:
    fn = Counter()
    StageRunner(tmp_path).run("a", tmp_path / "a", {"k": 1}, {"up": "h1"}, fn)
    (tmp_path / "a" / "stale.bin").write_text("from the old config")
    rec = StageRunner(tmp_path).run("a", tmp_path / "a", config, inputs, fn)
    assert rec.status == "ran" and fn.calls == [False, False]
    assert not (tmp_path / "a" / "stale.bin").exists()
    assert (tmp_path / "a" / "out.txt").is_file()


def test_interrupted_stage_resumes_with_same_key(tmp_path: Path) -> None:
    def crash(d: Path, resume: bool) -> StageOutput:
        (d / "partial").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        StageRunner(tmp_path).run("a", tmp_path / "a", {"k": 1}, {}, crash)
    fn = Counter()
    rec = StageRunner(tmp_path).run("a", tmp_path / "a", {"k": 1}, {}, fn)
    assert fn.calls == [True] and rec.status == "resumed"
    assert (tmp_path / "a" / "partial").is_file()  # kept for the stage to resume from
    # an interrupted run of ANOTHER config is not resumed: its files are cleared
    with pytest.raises(KeyboardInterrupt):
        StageRunner(tmp_path).run("b", tmp_path / "b", {"k": 1}, {}, crash)
    fn2 = Counter()
    StageRunner(tmp_path).run("b", tmp_path / "b", {"k": 2}, {}, fn2)
    assert fn2.calls == [False] and not (tmp_path / "b" / "partial").exists()


def test_missing_declared_file_forces_rerun(tmp_path: Path) -> None:
    fn = Counter()
    StageRunner(tmp_path).run("a", tmp_path / "a", {}, {}, fn)
    (tmp_path / "a" / "out.txt").unlink()
    rec = StageRunner(tmp_path).run("a", tmp_path / "a", {}, {}, fn)
    assert rec.status == "ran" and len(fn.calls) == 2


def test_force_recomputes(tmp_path: Path) -> None:
    fn = Counter()
    StageRunner(tmp_path).run("a", tmp_path / "a", {}, {}, fn)
    rec = StageRunner(tmp_path, force=["a"]).run("a", tmp_path / "a", {}, {}, fn)
    assert rec.status == "ran" and fn.calls == [False, False]


def test_record_is_written_only_after_success(tmp_path: Path) -> None:
    runner = StageRunner(tmp_path)
    done, pending = runner.state_paths(tmp_path / "a" / "b")
    assert done.parent == tmp_path / ".stages" and done.name == "a__b.json"

    def bad(d: Path, resume: bool) -> StageOutput:
        assert pending.is_file() and not done.exists()
        return StageOutput(files=["never-written.npz"])

    with pytest.raises(DataError, match="never-written.npz"):
        runner.run("s", tmp_path / "a" / "b", {}, {}, bad)
    assert not done.exists()
    runner.run("s", tmp_path / "a" / "b", {}, {}, Counter())
    assert json.loads(done.read_text())["outputs"] == {"h": "x"} and not pending.exists()


def test_stage_folder_must_be_inside_root(tmp_path: Path) -> None:
    with pytest.raises(PathEscapeError, match="outside"):
        StageRunner(tmp_path / "run").run("a", tmp_path / "elsewhere", {}, {}, Counter())


def test_root_stage_is_never_emptied(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user file")
    StageRunner(tmp_path).run("report", tmp_path, {"v": 1}, {}, Counter())
    StageRunner(tmp_path).run("report", tmp_path, {"v": 2}, {}, Counter("y"))
    assert (tmp_path / "keep.txt").read_text() == "user file"
    assert (tmp_path / "out.txt").read_text() == "y"


def test_key_depends_on_everything_it_should() -> None:
    k = stage_key("a", {"x": 1}, {"i": "h"})
    assert k == stage_key("a", {"x": 1}, {"i": "h"})
    assert len({k, stage_key("b", {"x": 1}, {"i": "h"}), stage_key("a", {"x": 2}, {"i": "h"}),
                stage_key("a", {"x": 1}, {"i": "g"}), stage_key("a", {"x": 1}, {"i": "h"}, 2)}) == 5  # fmt: skip


def test_timing_lists_each_stage(tmp_path: Path) -> None:
    runner = StageRunner(tmp_path)
    runner.run("a", tmp_path / "a", {}, {}, Counter())
    runner.run("b", tmp_path / "b", {}, {}, Counter())
    StageRunner(tmp_path).run("a", tmp_path / "a", {}, {}, Counter())
    t = runner.timing()
    assert [r["stage"] for r in t] == ["a", "b"] and all(r["status"] == "ran" for r in t)
    assert runner.lookup("b") is not None and runner.lookup("zz") is None
