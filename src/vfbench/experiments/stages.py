"""A small stage runner: each stage reruns only when its config or its inputs changed.

A stage is a function ``fn(directory, resume) -> StageOutput`` that writes into its own
folder. The runner keys it by ``stable_hash({stage, version, config, inputs})`` where
``inputs`` are the *output hashes* of the stages it reads (corpus sha256, checkpoint
sha256, embedding hashes ...), so a change anywhere upstream invalidates exactly the
stages downstream of it and nothing else.

The run folder holds ``.stages/<stage folder>.json`` per stage (written atomically once
the stage finished: key, config, inputs, outputs, info, compute time) and
``.stages/<stage folder>.pending.json`` while it runs; stage folders themselves hold only
what the stage writes. On the next run:

* a record with the same key whose outputs are intact -> **reused** (no work). Intact
  means: every file the stage left in its folder (for the run folder itself: every
  declared file) still exists with the size and sha256 recorded when it finished. A
  deleted or edited output (part of the preprocessing cache removed by hand, a truncated
  checkpoint) makes the stage run again instead of failing later downstream;
* a pending record with the same key (a previous run was interrupted) -> the stage
  function is called with ``resume=True`` (training continues from ``last.pt``, the
  synthetic generator and the preprocessing driver skip finished files/shards);
* a record of another key -> the folder is emptied first (it belongs to the run folder;
  stale outputs of another config must never be mixed in), then the stage runs. The run
  folder itself (where the report stage writes) is never emptied.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vfbench import __version__
from vfbench.errors import DataError
from vfbench.utils.io import atomic_write_json, ensure_inside, sha256_file, stable_hash

STATE_DIR = ".stages"

Log = Callable[[str], None]


@dataclass
class StageOutput:
    """What a stage function returns.

    ``outputs``: name -> content hash of what it produced (becomes downstream ``inputs``);
    ``files``: paths (relative to the stage folder) that must exist for a reuse to be valid;
    ``info``: small JSON-able summary shown in the report (counts, validation accuracy ...).
    """

    outputs: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageRecord:
    """One stage of one run: whether it ran or was reused, and how long it took.

    ``seconds`` is this invocation's wall time (near 0 when reused); ``compute_seconds``
    the wall time of the run that actually computed the outputs.
    """

    name: str
    key: str
    status: str  # "ran" | "resumed" | "reused"
    seconds: float
    compute_seconds: float
    directory: str
    config: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    finished_utc: str = ""
    inventory: dict[str, list[Any]] = field(default_factory=dict)  # file -> [bytes, sha256]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StageRecord:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def stage_key(name: str, config: Any, inputs: dict[str, str], version: int = 1) -> str:
    """The hash that decides whether stage ``name`` must rerun."""
    return stable_hash(
        {
            "stage": name,
            "version": version,
            "vfbench": __version__,
            "config": config,
            "inputs": inputs,
        },
        length=20,
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


class StageRunner:
    """Runs stages inside ``root`` with reuse, resume, timing and a log callback.

    ``force``: stage names to recompute even when unchanged (``--force train``).
    ``clean``: allow emptying a stage folder whose record has another key (folders are
    always inside ``root``; anything else is refused).
    """

    def __init__(self, root: str | Path, log: Log | None = None, force: Iterable[str] = ()) -> None:
        self.root = Path(root)
        self.log = log or (lambda _m: None)
        self.force = set(force)
        self.records: list[StageRecord] = []

    def state_paths(self, directory: Path) -> tuple[Path, Path]:
        """(finished record, pending record) of the stage writing into ``directory``."""
        rel = Path(directory).resolve().relative_to(self.root.resolve()).as_posix()
        stem = rel.replace("/", "__") if rel not in ("", ".") else "_root"
        base = self.root / STATE_DIR
        return base / f"{stem}.json", base / f"{stem}.pending.json"

    def lookup(self, name: str) -> StageRecord | None:
        for r in self.records:
            if r.name == name:
                return r
        return None

    def run(
        self,
        name: str,
        directory: str | Path,
        config: Any,
        inputs: dict[str, str],
        fn: Callable[[Path, bool], StageOutput],
        version: int = 1,
    ) -> StageRecord:
        """Run (or reuse) one stage; returns its record (also kept in ``self.records``)."""
        d = Path(directory)
        ensure_inside(d, self.root)
        marker, pending_path = self.state_paths(d)
        key = stage_key(name, config, inputs, version)
        t0 = time.perf_counter()
        done = _read_json(marker)
        damage = None
        if name not in self.force and done is not None and done.get("key") == key:
            damage = _damage(d, done)
            if damage is not None:
                self.log(f"[{name}] outputs changed since they were computed ({damage}): rerunning")
        if (
            name not in self.force
            and done is not None
            and done.get("key") == key
            and damage is None
        ):
            rec = StageRecord.from_dict(done)
            if not rec.inventory:  # a record of an older vfbench: take stock now, so that
                own = d.resolve() != self.root.resolve()  # later damage is detected
                rec.inventory = _inventory(d, rec.files if not own else None)
                atomic_write_json(marker, rec.to_dict())
            rec.status = "reused"
            rec.directory = str(d)  # the run folder may have been moved since
            rec.seconds = time.perf_counter() - t0
            self.log(f"[{name}] unchanged: reusing {d} (computed in {rec.compute_seconds:.1f} s)")
            self.records.append(rec)
            return rec
        pending = _read_json(pending_path)
        resume = pending is not None and pending.get("key") == key and name not in self.force
        stale = (done is not None) or (pending is not None and not resume)
        own_folder = d.resolve() != self.root.resolve()  # the root itself is never emptied
        if own_folder and d.exists() and (stale or name in self.force) and any(d.iterdir()):
            self.log(f"[{name}] config or inputs changed: clearing {d}")
            _empty_folder(d, self.root)
        d.mkdir(parents=True, exist_ok=True)
        marker.unlink(missing_ok=True)
        atomic_write_json(
            pending_path, {"key": key, "stage": name, "config": config, "inputs": inputs}
        )
        self.log(f"[{name}] {'resuming' if resume else 'running'} -> {d}")
        out = fn(d, resume)
        missing = [f for f in out.files if not (d / f).exists()]
        if missing:
            raise DataError(f"stage {name!r}: declared output {d / missing[0]} was not written")
        own = d.resolve() != self.root.resolve()
        inventory = _inventory(d, out.files if not own else None)
        secs = time.perf_counter() - t0
        rec = StageRecord(
            name=name,
            key=key,
            status="resumed" if resume else "ran",
            seconds=secs,
            compute_seconds=secs,
            directory=str(d),
            config=config if isinstance(config, dict) else {"value": config},
            inputs=dict(inputs),
            outputs=dict(out.outputs),
            files=list(out.files),
            info=dict(out.info),
            finished_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            inventory=inventory,
        )
        atomic_write_json(marker, rec.to_dict())
        pending_path.unlink(missing_ok=True)
        self.log(f"[{name}] done in {secs:.1f} s")
        self.records.append(rec)
        return rec

    def timing(self) -> list[dict[str, Any]]:
        """Per stage: status, this run's seconds and the seconds it took when computed."""
        return [
            {
                "stage": r.name,
                "status": r.status,
                "seconds": round(r.seconds, 3),
                "compute_seconds": round(r.compute_seconds, 3),
            }
            for r in self.records
        ]


def _inventory(d: Path, files: list[str] | None) -> dict[str, list[Any]]:
    """``{relative path: [bytes, sha256]}`` of ``files`` in ``d``, or (None) of every file
    below ``d`` (symbolic links followed)."""
    if files is None:
        paths = sorted(p for p in d.rglob("*") if p.is_file())
    else:
        paths = [d / f for f in files]
    return {p.relative_to(d).as_posix(): [p.stat().st_size, sha256_file(p)] for p in paths}


def _damage(d: Path, record: dict[str, Any]) -> str | None:
    """Why the outputs of a finished stage can't be reused (None: intact). Records written
    before inventories existed are checked for their declared files only."""
    for f in record.get("files", []):
        if not (d / f).exists():
            return f"{d / f} is missing"
    inventory = record.get("inventory") or {}
    for f, (size, _digest) in inventory.items():
        p = d / f
        if not p.is_file():
            return f"{p} is missing"
        if p.stat().st_size != size:
            return f"{p} has {p.stat().st_size} bytes, {size} when written"
    for f, (_size, digest) in inventory.items():  # sizes first: cheap, and most damage
        if sha256_file(d / f) != digest:
            return f"{d / f} was modified (sha256 differs)"
    return None


def _empty_folder(d: Path, root: Path) -> None:
    """Remove everything inside ``d`` (which must lie strictly inside ``root``)."""
    p = ensure_inside(d, root)
    if p == Path(root).resolve():
        raise DataError(f"refusing to empty the run folder itself ({p})")
    for child in p.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
