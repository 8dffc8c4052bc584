"""The sharded, resumable, parallel preprocessing driver behind ``vfbench preprocess``.

Items of each modality are sorted by id and cut into shards of ``shard_size`` items;
shard ``k`` is named ``shard-<k>-<hash of its ids>`` inside ``<modality>-<config hash>/``.
A shard whose index already exists is skipped, so rerunning after a kill (or Ctrl-C)
only does the missing shards, and a changed config writes to a new folder. With
``shard=(i, N)`` only shards ``k % N == i`` are done, so N machines can split a corpus
(each writing its own cache part, joined later by :func:`~vfbench.preprocess.cache.merge_caches`).
Shards are processed by a pool of ``workers`` processes, each writing its own shard files.

One bad item never stops a run: its reason (``"code: detail"``, naming the file) is stored
in the shard index and shows up in ``FeatureCache.failed`` and the QC report.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vfbench.config import to_dict
from vfbench.data.manifest import FaceItem, Manifest, VoiceItem, load_manifest
from vfbench.errors import ConfigError, DataError, ManifestError, PathEscapeError, VfbenchError
from vfbench.preprocess.audio import ItemRejected, process_voice
from vfbench.preprocess.cache import (
    modality_dir_name,
    remove_stale_temps,
    shard_complete,
    shard_name,
    update_cache_info,
    write_shard,
)
from vfbench.preprocess.config import AudioConfig, FaceConfig, PreprocessConfig
from vfbench.preprocess.face import get_detector, process_face
from vfbench.preprocess.qc import write_report
from vfbench.utils.io import LockHeld, exclusive_lock
from vfbench.utils.parallel import limit_worker_threads
from vfbench.utils.progress import progress_bar
from vfbench.utils.provenance import Provenance

log = logging.getLogger("vfbench.preprocess")

#: The advisory lock file inside a cache folder (held for the whole of a run).
LOCK_FILE = ".lock"

#: Test hook: seconds to sleep per item in the workers (lets a test kill a run mid-way).
DELAY_ENV = "VFBENCH_PREPROCESS_ITEM_DELAY"

ItemSpec = tuple[str, str, str]  # (item id, absolute path or "", failure reason or "")


@dataclass
class ShardTask:
    """One unit of work: the items of one shard and where to write them."""

    modality: str
    directory: str
    name: str
    config_hash: str
    settings: AudioConfig | FaceConfig
    items: list[ItemSpec]
    fsync: bool = False


@dataclass
class ModalitySummary:
    """Counts for one modality of one run."""

    items: int = 0
    shards: int = 0
    shards_skipped: int = 0  # complete before this run (resume) or another machine's
    shards_written: int = 0
    processed: int = 0  # items cached by this run
    failed: int = 0  # items rejected by this run
    failed_by_code: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def items_per_second(self) -> float:
        return (self.processed + self.failed) / self.seconds if self.seconds > 0 else 0.0


@dataclass
class RunSummary:
    cache_dir: Path
    modalities: dict[str, ModalitySummary]
    seconds: float


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> (2, 8); i is 0-based."""
    try:
        i_s, n_s = text.split("/")
        i, n = int(i_s), int(n_s)
    except ValueError:
        raise ConfigError(f"--shard {text!r}: expected i/N with integers, e.g. 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {text!r}: need 0 <= i < N")
    return i, n


def plan_shards(
    manifest: Manifest, modality: str, cfg: PreprocessConfig, cache_dir: Path
) -> list[ShardTask]:
    """All shard tasks of ``modality`` (sorted ids, fixed-size chunks), done or not."""
    items: list[VoiceItem | FaceItem] = list(
        manifest.voices if modality == "voice" else manifest.faces
    )
    ids = [it.id for it in items]
    dupes = [k for k, n in Counter(ids).items() if n > 1]
    if dupes:
        raise ManifestError(f"{modality} item id {dupes[0]!r} occurs {ids.count(dupes[0])} times")
    specs: list[ItemSpec] = []
    for it in sorted(items, key=lambda x: x.id):
        try:
            if isinstance(it, VoiceItem):
                p = manifest.voice_path(it)
            else:
                p = manifest.face_path(it)
            specs.append((it.id, str(p), ""))
        except PathEscapeError as exc:
            specs.append((it.id, "", f"path_escape: {modality} item {it.id!r}: {exc}"))
        except VfbenchError as exc:
            specs.append((it.id, "", f"bad_path: {modality} item {it.id!r}: {exc}"))
    h = cfg.modality_hash(modality)
    directory = str(cache_dir / modality_dir_name(modality, h))
    settings: AudioConfig | FaceConfig = cfg.audio if modality == "voice" else cfg.face
    tasks = []
    for k in range(0, len(specs), cfg.shard_size):
        chunk = specs[k : k + cfg.shard_size]
        name = shard_name(k // cfg.shard_size, [s[0] for s in chunk])
        tasks.append(ShardTask(modality, directory, name, h, settings, chunk, cfg.fsync))
    return tasks


def run_shard(task: ShardTask) -> dict[str, Any]:
    """Process and write one shard (runs in a worker process); returns its counts."""
    delay = float(os.environ.get(DELAY_ENV, "0") or 0)
    arrays: dict[str, np.ndarray] = {}
    failed: dict[str, str] = {}
    qc: dict[str, dict[str, Any]] = {}
    process: Callable[[str], tuple[np.ndarray, dict[str, Any]]]
    if task.modality == "voice":
        acfg = task.settings
        assert isinstance(acfg, AudioConfig)

        def process(path: str) -> tuple[np.ndarray, dict[str, Any]]:
            return process_voice(path, acfg)

    else:
        fcfg = task.settings
        assert isinstance(fcfg, FaceConfig)
        detector = get_detector(fcfg)

        def process(path: str) -> tuple[np.ndarray, dict[str, Any]]:
            return process_face(path, fcfg, detector)

    for item_id, path, err in task.items:
        if delay:
            time.sleep(delay)
        if err:
            failed[item_id] = err
            qc[item_id] = {"code": err.split(":", 1)[0]}
            continue
        try:
            arr, stats = process(path)
        except ItemRejected as exc:
            failed[item_id] = str(exc)
            qc[item_id] = {"code": exc.code}
            continue
        except Exception as exc:  # an unexpected library error must not end the run
            failed[item_id] = f"error: {path}: {type(exc).__name__}: {exc}"
            qc[item_id] = {"code": "error"}
            continue
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            # last line of defence (e.g. a finite input whose features overflow float16)
            failed[item_id] = f"non_finite: {path}: non-finite values in the computed features"
            qc[item_id] = {"code": "non_finite"}
            continue
        arrays[item_id] = arr
        qc[item_id] = stats
    write_shard(
        task.directory,
        task.name,
        task.modality,
        task.config_hash,
        arrays,
        failed,
        qc,
        fsync=task.fsync,
    )
    return {
        "modality": task.modality,
        "processed": len(arrays),
        "failed": len(failed),
        "codes": dict(Counter(q["code"] for q in qc.values() if "code" in q)),
    }


def preprocess(
    manifest: Manifest | str | Path,
    out: str | Path,
    config: PreprocessConfig | None = None,
    modality: str = "both",
    workers: int = 1,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
    command: str = "",
    write_qc: bool = True,
    wait: bool = False,
) -> RunSummary:
    """Build (or finish) the feature cache ``out`` for ``manifest``; see the module doc.

    ``modality`` is "voice", "face" or "both"; ``workers`` processes (1 = in-process);
    ``shard=(i, N)`` does only this machine's share. Returns counts per modality.

    The cache folder is locked for the whole run (an advisory ``fcntl`` lock on
    ``OUT/.lock``): a second run into the same folder stops at once with a
    :class:`~vfbench.errors.DataError` naming the folder, or with ``wait=True`` waits
    (with a message) until the first one ends and then resumes from its shards.
    """
    cfg = config or PreprocessConfig()
    man = manifest if isinstance(manifest, Manifest) else load_manifest(manifest)
    if modality not in ("voice", "face", "both"):
        raise ConfigError(f"modality must be voice, face or both, got {modality!r}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    mods = ["voice", "face"] if modality == "both" else [modality]
    cache_dir = Path(out)
    if cache_dir.exists() and not cache_dir.is_dir():
        raise DataError(f"{cache_dir}: is not a folder (the cache must be a folder)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    lock = cache_dir / LOCK_FILE
    try:
        with exclusive_lock(lock, what=f"cache {cache_dir}"):
            return _preprocess_locked(
                man, cache_dir, cfg, mods, workers, shard, progress, command, write_qc
            )
    except LockHeld:
        if not wait:
            raise
    log.warning("%s: another run is writing this cache; waiting for it to finish", cache_dir)
    with exclusive_lock(lock, wait=True, what=f"cache {cache_dir}"):
        return _preprocess_locked(
            man, cache_dir, cfg, mods, workers, shard, progress, command, write_qc
        )


def _preprocess_locked(
    man: Manifest,
    cache_dir: Path,
    cfg: PreprocessConfig,
    mods: list[str],
    workers: int,
    shard: tuple[int, int],
    progress: bool,
    command: str,
    write_qc: bool,
) -> RunSummary:
    i_shard, n_shard = shard
    prov = Provenance(command=command, config={"preprocess": _cfg_dict(cfg)})
    t_start = time.perf_counter()
    summaries: dict[str, ModalitySummary] = {}
    for mod in mods:
        items = man.voices if mod == "voice" else man.faces
        if mod == "voice" and items and man.voice_root is None:
            raise ManifestError(f"manifest {man.name!r} has voice items but no voice_root")
        if mod == "face" and items and man.face_root is None:
            raise ManifestError(f"manifest {man.name!r} has face items but no face_root")
        tasks = plan_shards(man, mod, cfg, cache_dir)
        h = cfg.modality_hash(mod)
        update_cache_info(
            cache_dir,
            mod,
            h,
            cfg.section(mod),
            extra={"manifest": man.name, "provenance": prov.to_dict()},
        )
        # safe: the cache lock guarantees no other run is writing temp files here
        remove_stale_temps(cache_dir / modality_dir_name(mod, h))
        mine = [t for k, t in enumerate(tasks) if k % n_shard == i_shard]
        todo = [t for t in mine if not shard_complete(t.directory, t.name)]
        s = ModalitySummary(
            items=sum(len(t.items) for t in mine),
            shards=len(mine),
            shards_skipped=len(mine) - len(todo),
        )
        summaries[mod] = s
        if len(todo) > 1 and workers > 1:
            _preload(cfg, mod)  # one-time, not counted in the rate
        t0 = time.perf_counter()
        codes: Counter[str] = Counter()
        done = len(mine) - len(todo)
        bar = progress_bar(
            sum(len(t.items) for t in todo),
            _bar_label(mod, done, len(mine), 0),
            unit="item",
            enabled=progress,
        )
        with bar:
            for res, n in _execute(todo, workers):
                s.shards_written += 1
                s.processed += res["processed"]
                s.failed += res["failed"]
                codes.update(res["codes"])
                bar.set_description(_bar_label(mod, done + s.shards_written, len(mine), s.failed))
                bar.update(n)
        s.failed_by_code = dict(codes)
        s.seconds = time.perf_counter() - t0
    if write_qc:
        write_report(cache_dir, provenance=prov, n_faces=cfg.contact_sheet)
    return RunSummary(cache_dir, summaries, time.perf_counter() - t_start)


def _bar_label(modality: str, shards_done: int, shards: int, failed: int) -> str:
    """``voice: shards 3/25, 2 failed``: live counts, right at 100 % too."""
    label = f"{modality}: shards {shards_done}/{shards}"
    return label + (f", {failed} failed" if failed else "")


def _preload(cfg: PreprocessConfig, modality: str) -> None:
    """Import decoders and build the detector once in the parent, so forked workers
    inherit them instead of each paying seconds of imports and model loading."""
    if modality == "voice":
        import av  # noqa: F401
        import scipy.fft
        import scipy.signal  # noqa: F401
        import soundfile  # noqa: F401
    else:
        get_detector(cfg.face)


def _cfg_dict(cfg: PreprocessConfig) -> dict[str, Any]:

    d: dict[str, Any] = to_dict(cfg)
    return d


def _execute(tasks: list[ShardTask], workers: int) -> Any:
    """Yield ``(result, n_items)`` per finished shard; in-process when ``workers == 1``."""
    if not tasks:
        return
    if workers == 1 or len(tasks) == 1:
        for t in tasks:
            yield run_shard(t), len(t.items)
        return

    # fork where available: workers start instantly and work from scripts, notebooks and
    # stdin (spawn re-imports __main__); they use no torch, so inherited threads are harmless
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)

    with ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)), mp_context=ctx, initializer=limit_worker_threads
    ) as pool:
        futs = {pool.submit(run_shard, t): len(t.items) for t in tasks}
        try:
            for fut in as_completed(futs):
                yield fut.result(), futs[fut]
        except BaseException:  # Ctrl-C or a crash: stop queued shards, keep finished ones
            pool.shutdown(wait=False, cancel_futures=True)
            raise
