"""The feature cache: sharded, atomically written, memory-mapped arrays keyed by item id.

Layout of a cache folder (see ``docs/preprocessing.md``)::

    CACHE/
      cache.json                    format marker; per modality: config hash, folder, config
      voice-<hash>/                 one folder per (modality, config hash): a changed config
        config.json                 gets a new folder, so stale entries are never reused
        shard-000003-<ids>.bin      the arrays of one shard, concatenated (64-byte aligned)
        shard-000003-<ids>.json     its index: id -> offset/shape/dtype, failures, QC stats
      face-<hash>/...
      qc.json, qc.md, contact_sheet.png

A shard is complete when its ``.json`` index exists: the ``.bin`` blob is written first
(temp file + rename), the index second (temp + rename), so a kill at any moment leaves
either a complete shard or none (at worst an orphan ``.bin``/temp file that the next run
overwrites). ``<ids>`` is a hash of the shard's item ids, so a shard of a changed manifest
is not mistaken for a finished one.

This module does not import torch; :mod:`vfbench.preprocess.datasets` wraps it for training.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from vfbench.errors import DataError
from vfbench.utils.io import atomic_write, atomic_write_json, stable_hash

CACHE_FORMAT = "vfbench-feature-cache"
CACHE_VERSION = 1
SHARD_VERSION = 1
MODALITIES = ("voice", "face")
_ALIGN = 64
_MAX_OPEN_SHARDS = 256


def modality_dir_name(modality: str, config_hash: str) -> str:
    return f"{modality}-{config_hash}"


def shard_name(index: int, ids: Iterable[str]) -> str:
    """``shard-000003-<hash of ids>``: stable for the same items in the same order."""
    return f"shard-{index:06d}-{stable_hash(list(ids), length=8)}"


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------
def write_shard(
    directory: str | Path,
    name: str,
    modality: str,
    config_hash: str,
    arrays: Mapping[str, np.ndarray],
    failed: Mapping[str, str],
    qc: Mapping[str, Mapping[str, Any]] | None = None,
    fsync: bool = False,
) -> Path:
    """Write one shard (blob, then index) atomically; returns the index path.

    ``arrays`` maps item id -> array (any shape/dtype, stored as-is, C order); ``failed``
    maps item id -> reason (``"code: detail"``); ``qc`` maps item id -> per-item stats.
    Each file is written to a temp name and renamed, the blob before the index, so a
    killed process never leaves a shard that looks complete but is not. ``fsync=True``
    also flushes both files to disk before each rename (survives power loss / OS crash,
    at a few ms per shard); each entry's CRC-32 is recorded for :meth:`FeatureCache.verify`.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    offset = 0
    blob_path = d / f"{name}.bin"
    with _atomic_binary(blob_path, fsync) as fh:
        for item_id, arr in arrays.items():
            a = np.ascontiguousarray(arr)
            pad = (-offset) % _ALIGN
            if pad:
                fh.write(b"\0" * pad)
                offset += pad
            buf = a.reshape(-1).view(np.uint8).data  # no copy
            fh.write(buf)
            entries.append(
                {
                    "id": item_id,
                    "offset": offset,
                    "shape": list(a.shape),
                    "dtype": a.dtype.str,
                    "crc32": zlib.crc32(buf),
                }
            )
            offset += a.nbytes
    index = {
        "format": "vfbench-cache-shard",
        "version": SHARD_VERSION,
        "modality": modality,
        "config_hash": config_hash,
        "name": name,
        "blob": blob_path.name,
        "blob_bytes": offset,
        "items": entries,
        "failed": [{"id": k, "reason": v} for k, v in failed.items()],
        "qc": {k: dict(v) for k, v in (qc or {}).items()},
    }
    index_path = d / f"{name}.json"
    with _atomic_binary(index_path, fsync) as fh:
        fh.write(json.dumps(index, default=_json_default, separators=(",", ":")).encode())
    return index_path


def _atomic_binary(path: Path, fsync: bool) -> contextlib.AbstractContextManager[IO[bytes]]:
    """Temp file beside ``path`` renamed over it on success (fsync optional)."""
    return atomic_write(path, "wb", fsync=fsync)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_shard_index(index_path: str | Path) -> dict[str, Any]:
    """Read and check a shard index; raises :class:`DataError` naming the file if bad."""
    p = Path(index_path)
    try:
        info = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{p}: unreadable cache shard index ({exc})") from None
    if not isinstance(info, dict) or info.get("format") != "vfbench-cache-shard":
        raise DataError(f"{p}: not a vfbench cache shard index")
    if info.get("version") != SHARD_VERSION:
        raise DataError(f"{p}: shard version {info.get('version')!r} is not {SHARD_VERSION}")
    blob = p.parent / str(info.get("blob", ""))
    try:
        size = blob.stat().st_size
    except OSError:
        raise DataError(f"{p}: its blob {blob.name} is missing") from None
    if size != info.get("blob_bytes"):
        raise DataError(
            f"{p}: blob {blob.name} has {size} bytes, the index expects {info.get('blob_bytes')}"
        )
    return info


def shard_complete(directory: str | Path, name: str) -> bool:
    """True if shard ``name`` in ``directory`` has a valid index and a blob of the right size."""
    p = Path(directory) / f"{name}.json"
    if not p.is_file():
        return False
    try:
        read_shard_index(p)
    except DataError:
        return False
    return True


def list_shards(directory: str | Path) -> list[Path]:
    """Index files of the shards in a modality folder, sorted by name."""
    d = Path(directory)
    if not d.is_dir():
        return []
    return sorted(d.glob("shard-*.json"))


def remove_stale_temps(directory: str | Path) -> int:
    """Delete temp files left by a killed writer (``.<name>.*.tmp``); returns how many."""
    n = 0
    d = Path(directory)
    if d.is_dir():
        for p in d.glob(".shard-*.tmp"):
            try:
                p.unlink()
                n += 1
            except FileNotFoundError:
                pass
    return n


def read_cache_info(cache_dir: str | Path) -> dict[str, Any]:
    p = Path(cache_dir) / "cache.json"
    if not Path(cache_dir).is_dir():
        raise DataError(f"{cache_dir}: cache folder not found")
    if not p.is_file():
        raise DataError(
            f"{cache_dir}: not a feature cache (no cache.json); run `vfbench preprocess`"
        )
    try:
        info = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{p}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(info, dict) or info.get("format") != CACHE_FORMAT:
        raise DataError(f"{p}: not a vfbench feature cache (format marker missing)")
    if info.get("version") != CACHE_VERSION:
        raise DataError(f"{p}: cache version {info.get('version')!r} is not {CACHE_VERSION}")
    mods = info.get("modalities")
    if not isinstance(mods, dict):
        raise DataError(f"{p}: 'modalities' must be an object")
    return info


def update_cache_info(
    cache_dir: str | Path,
    modality: str,
    config_hash: str,
    section: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Record (atomically) that ``modality`` of this cache uses ``config_hash``."""
    d = Path(cache_dir)
    p = d / "cache.json"
    info: dict[str, Any]
    if p.is_file():
        info = read_cache_info(d)
    else:
        info = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "modalities": {}}
    info["modalities"][modality] = {
        "hash": config_hash,
        "dir": modality_dir_name(modality, config_hash),
        "config": dict(section),
    }
    for k, v in (extra or {}).items():
        info[k] = v
    atomic_write_json(p, info)
    atomic_write_json(d / modality_dir_name(modality, config_hash) / "config.json", dict(section))


# --------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Entry:
    shard: int  # index into FeatureCache._blobs
    offset: int
    shape: tuple[int, ...]
    dtype: str
    crc32: int | None = None


class FeatureCache:
    """Read access to a cache built by ``vfbench preprocess`` (memory-mapped shards).

    >>> cache = FeatureCache.open("cache/")
    >>> cache.load("voice", cache.ids("voice")[0]).shape   # (257, T) float32
    >>> cache.load("face", cache.ids("face")[0]).shape     # (112, 112, 3) uint8

    ``load`` never decodes media: it slices a memory-mapped shard (a few microseconds).
    Instances can be pickled to DataLoader workers (open maps are not carried over).
    """

    def __init__(self, root: Path, info: dict[str, Any]) -> None:
        self.root = root
        self.info = info
        self._entries: dict[str, dict[str, _Entry]] = {m: {} for m in MODALITIES}
        self._failed: dict[tuple[str, str], str] = {}
        self._qc: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in MODALITIES}
        self._blobs: list[Path] = []
        self._maps: OrderedDict[int, np.memmap] = OrderedDict()
        self._scan()

    @classmethod
    def open(cls, cache_dir: str | Path) -> FeatureCache:
        """Open a cache folder; raises :class:`DataError` if it is not one."""
        root = Path(cache_dir)
        info = read_cache_info(root)
        return cls(root, info)

    # ---- scanning ------------------------------------------------------------------
    def _scan(self) -> None:
        for modality, meta in self.info["modalities"].items():
            if modality not in MODALITIES:
                raise DataError(f"{self.root / 'cache.json'}: unknown modality {modality!r}")
            mdir = self.root / str(meta["dir"])
            ok: set[str] = set()
            failed: dict[str, str] = {}
            for index_path in list_shards(mdir):
                info = read_shard_index(index_path)
                if info.get("config_hash") != meta["hash"] or info.get("modality") != modality:
                    raise DataError(
                        f"{index_path}: belongs to {info.get('modality')}-{info.get('config_hash')}, "
                        f"not {meta['dir']}"
                    )
                shard = len(self._blobs)
                self._blobs.append(index_path.parent / info["blob"])
                for e in info["items"]:
                    self._entries[modality][e["id"]] = _Entry(
                        shard,
                        int(e["offset"]),
                        tuple(int(s) for s in e["shape"]),
                        str(e["dtype"]),
                        e.get("crc32"),
                    )
                    ok.add(e["id"])
                for f in info["failed"]:
                    failed[f["id"]] = str(f["reason"])
                self._qc[modality].update(info.get("qc", {}))
            for item_id, reason in failed.items():
                if item_id not in ok:
                    self._failed[(modality, item_id)] = reason

    # ---- public API ----------------------------------------------------------------
    @property
    def modalities(self) -> list[str]:
        return [m for m in MODALITIES if m in self.info["modalities"]]

    @property
    def config(self) -> dict[str, Any]:
        """The preprocessing config used: ``{"audio": {...}, "face": {...}}`` (those present)."""
        out: dict[str, Any] = {}
        for modality, key in (("voice", "audio"), ("face", "face")):
            meta = self.info["modalities"].get(modality)
            if meta is not None:
                out[key] = dict(meta["config"])
        return out

    def config_hash(self, modality: str) -> str:
        self._check_modality(modality)
        return str(self.info["modalities"][modality]["hash"])

    @property
    def failed(self) -> dict[tuple[str, str], str]:
        """``(modality, item id) -> reason`` (``"code: detail"``) for items not cached."""
        return dict(self._failed)

    def ids(self, modality: str) -> list[str]:
        """Sorted ids of the items of ``modality`` cached successfully."""
        self._check_modality(modality, allow_absent=True)
        return sorted(self._entries[modality])

    def __contains__(self, key: tuple[str, str]) -> bool:
        modality, item_id = key
        return item_id in self._entries.get(modality, {})

    def shape(self, modality: str, item_id: str) -> tuple[int, ...]:
        return self._entry(modality, item_id).shape

    def qc(self, modality: str, item_id: str) -> dict[str, Any]:
        """Per-item QC stats recorded at preprocessing (duration, face box ...)."""
        return dict(self._qc.get(modality, {}).get(item_id, {}))

    def qc_all(self, modality: str) -> dict[str, dict[str, Any]]:
        return self._qc.get(modality, {})

    def load(
        self, modality: str, item_id: str, frames: tuple[int, int] | None = None
    ) -> np.ndarray:
        """The cached array: voice -> float32 (n_bins, T); face -> uint8 (size, size, 3).

        ``frames=(start, stop)`` returns only those time frames of a voice spectrogram
        (``[:, start:stop]``), converting just that window (what a training crop needs).
        """
        e = self._entry(modality, item_id)
        mm = self._map(e.shard)
        dt = np.dtype(e.dtype)
        n = int(np.prod(e.shape, dtype=np.int64)) * dt.itemsize
        arr = mm[e.offset : e.offset + n].view(dt).reshape(e.shape)
        if frames is not None:
            start, stop = frames
            if not 0 <= start <= stop <= e.shape[-1]:
                raise DataError(
                    f"{self.root}: frames {frames} outside 0..{e.shape[-1]} of {modality} item {item_id!r}"
                )
            arr = arr[..., start:stop]
        if modality == "voice":
            return np.ascontiguousarray(arr, dtype=np.float32)
        return np.array(arr)

    def verify(self) -> list[str]:
        """Re-read every entry and compare its CRC-32 with the index; returns the problems.

        Reads the whole cache (use after a machine crash of a run without ``fsync``).
        """
        problems = []
        for modality in self.modalities:
            for item_id, e in self._entries[modality].items():
                if e.crc32 is None:
                    continue
                dt = np.dtype(e.dtype)
                n = int(np.prod(e.shape, dtype=np.int64)) * dt.itemsize
                buf = self._map(e.shard)[e.offset : e.offset + n]
                if zlib.crc32(buf.data) != e.crc32:
                    problems.append(
                        f"{self._blobs[e.shard]}: {modality} item {item_id!r} is corrupt"
                    )
        return problems

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_maps"] = OrderedDict()
        return state

    def __repr__(self) -> str:
        counts = ", ".join(f"{m}={len(self._entries[m])}" for m in self.modalities)
        return f"FeatureCache({str(self.root)!r}, {counts}, failed={len(self._failed)})"

    # ---- internals -----------------------------------------------------------------
    def _check_modality(self, modality: str, allow_absent: bool = False) -> None:
        if modality not in MODALITIES:
            raise DataError(f"modality must be 'voice' or 'face', got {modality!r}")
        if not allow_absent and modality not in self.info["modalities"]:
            raise DataError(f"{self.root}: the cache has no {modality} features")

    def _entry(self, modality: str, item_id: str) -> _Entry:
        self._check_modality(modality, allow_absent=True)
        try:
            return self._entries[modality][item_id]
        except KeyError:
            why = self._failed.get((modality, item_id))
            hint = f" (failed: {why})" if why else ""
            raise DataError(f"{self.root}: no cached {modality} item {item_id!r}{hint}") from None

    def _map(self, shard: int) -> np.memmap:
        mm = self._maps.get(shard)
        if mm is None:
            path = self._blobs[shard]
            if path.stat().st_size == 0:
                mm = np.zeros(0, dtype=np.uint8).view(np.memmap)
            else:
                mm = np.memmap(path, dtype=np.uint8, mode="r")
            self._maps[shard] = mm
            if len(self._maps) > _MAX_OPEN_SHARDS:
                self._maps.popitem(last=False)
        else:
            self._maps.move_to_end(shard)
        return mm


# --------------------------------------------------------------------------------------
# merging
# --------------------------------------------------------------------------------------
def merge_caches(parts: Iterable[str | Path], out: str | Path) -> Path:
    """Join caches built with ``--shard i/N`` (same config) into ``out``.

    Shard files are hard-linked when possible, else copied (blob first, index last, each
    atomically), so ``out`` may also be one of the parts (in-place merge). Parts whose
    config hash differs for a modality are refused: they would mix incompatible features.
    """
    out_p = Path(out)
    infos = [(Path(p), read_cache_info(p)) for p in parts]
    if not infos:
        raise DataError("merge: no cache parts given")
    chosen: dict[str, dict[str, Any]] = {}
    for p, info in infos:
        for modality, meta in info["modalities"].items():
            prev = chosen.get(modality)
            if prev is not None and prev["hash"] != meta["hash"]:
                raise DataError(
                    f"merge: {p} has {modality} config {meta['hash']} but another part has "
                    f"{prev['hash']}; re-run those parts with the same config"
                )
            chosen[modality] = meta
    out_p.mkdir(parents=True, exist_ok=True)
    for p, info in infos:
        for meta in info["modalities"].values():
            src_dir = p / meta["dir"]
            dst_dir = out_p / meta["dir"]
            dst_dir.mkdir(parents=True, exist_ok=True)
            for index_path in list_shards(src_dir):
                dst_index = dst_dir / index_path.name
                if dst_index.exists() and dst_index.resolve() == index_path.resolve():
                    continue
                idx = read_shard_index(index_path)
                if shard_complete(dst_dir, index_path.stem):
                    continue
                _link_or_copy(src_dir / idx["blob"], dst_dir / idx["blob"])
                _link_or_copy(index_path, dst_index)
    for modality, meta in chosen.items():
        update_cache_info(out_p, modality, meta["hash"], meta["config"])
    return out_p


def _link_or_copy(src: Path, dst: Path) -> None:
    tmp = dst.parent / f".{dst.name}.merge.tmp"
    try:
        if tmp.exists():
            tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        if tmp.exists():
            tmp.unlink()
