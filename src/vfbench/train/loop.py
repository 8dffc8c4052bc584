"""The training loop shared by every method: pretraining stage, feature mode, Adam with
parameter groups and the paper's step schedule, validation with 1:2 accuracy, atomic
checkpoints with exact resume, CSV/JSONL(/TensorBoard) logs and a progress bar.

``train(cfg, out_dir, method)`` writes into ``out_dir`` (``method``: an object with the hooks
of :class:`vfbench.train.protocol.Method`, e.g. ``vfbench.methods.get_method(cfg.method)``)::

    config.yaml           resolved config
    pretrain/{voice,face}_<key>.pt   backbone weights from the pretraining stage (if
                          enabled); <key> hashes what produced them (pretrain section,
                          encoder, seed, training items), reused only on a match
    features/             cached backbone features (feature mode)
    metrics.csv, metrics.jsonl   one row per logged step (step, loss, lr, steps/s)
    val.jsonl             one row per validation (1:2 accuracy + 95% interval)
    last.pt, best.pt      checkpoints (best = highest validation 1:2 accuracy)
    summary.json          final figures + provenance

A folder that already holds a run (``last.pt``/``best.pt``/``summary.json``) is continued
with ``resume=True`` or replaced with ``force=True``; otherwise training refuses to start.
Nothing non-finite is saved: a NaN/inf input, feature, loss or weight stops training with
the real cause (which step and items), never a checkpoint full of NaN.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vfbench.config import dump_yaml, to_dict
from vfbench.errors import CheckpointError, ConfigError, DataError
from vfbench.evaluate.quick import validation_1to2
from vfbench.models.encoders import (
    check_encoder_options,
    create_encoder,
    input_kind,
    out_dim,
    packaged_info,
)
from vfbench.models.heads import ClassifierHead
from vfbench.models.voiceface import VoiceFaceModel
from vfbench.train.checkpoint import (
    config_changes,
    load_checkpoint,
    load_module_state,
    nonfinite_tensors,
    packaged_prefixes,
    save_checkpoint,
)
from vfbench.train.config import EncoderConfig, TrainConfig
from vfbench.train.data import SplitData, TensorSource, load_split
from vfbench.train.features import cached_features
from vfbench.train.protocol import Batch, Method
from vfbench.train.sampler import triplet_arithmetic
from vfbench.utils.io import atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_file
from vfbench.utils.progress import progress_bar
from vfbench.utils.provenance import Provenance

log = logging.getLogger("vfbench.train")


@dataclass
class DistInfo:
    """Rank/world of a multi-process run; ``gather`` all-gathers keeping local gradients."""

    rank: int = 0
    world: int = 1
    gather: Callable[[torch.Tensor], torch.Tensor] = field(default=lambda x: x)
    wrap: Callable[[nn.Module], nn.Module] = field(default=lambda m: m)
    barrier: Callable[[], None] = field(default=lambda: None)

    @property
    def main(self) -> bool:
        return self.rank == 0


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    last_checkpoint: Path
    best_checkpoint: Path | None
    best_value: float | None
    validations: list[dict[str, Any]]
    losses: list[tuple[int, float]]  # (step, loss) of the steps run in THIS call


class TrainStep(nn.Module):
    """Model + objective as one module (what DDP wraps); forward = the method's loss."""

    def __init__(self, method: Method, model: VoiceFaceModel, objective: nn.Module) -> None:
        super().__init__()
        self.method = method
        self.model = model
        self.objective = objective
        self.gather: Callable[[torch.Tensor], torch.Tensor] = lambda x: x

    def forward(self, batch: Batch) -> torch.Tensor:
        return self.method.loss(self.model, self.objective, batch, self.gather)


# ---------------------------------------------------------------------------------------
def lr_factor(step: int, milestones: list[int], gamma: float) -> float:
    """Head LR multiplier at ``step`` (0-based): gamma ** (milestones passed)."""
    return float(gamma ** sum(step >= m for m in milestones))


def seed_everything(seed: int) -> None:

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (third-party code may use it)
    torch.manual_seed(seed)


def build_backbone(enc: EncoderConfig, modality: str, weights: str | None) -> nn.Module:
    m = create_encoder(enc.name, modality, weights=weights, **enc.kwargs)
    if enc.frozen:
        for p in m.parameters():
            p.requires_grad_(False)
    return m


def _set_frozen_eval(model: VoiceFaceModel, cfg: TrainConfig) -> None:
    """Frozen backbones keep their BatchNorm statistics (eval mode) while heads train."""
    for mod, enc in (("voice", cfg.voice), ("face", cfg.face)):
        if enc.frozen:
            model.backbone(mod).eval()


def _nationality_labels(data: SplitData) -> torch.Tensor | None:
    """(n_identities,) nationality class index of each identity of ``data`` (sorted
    nationality names), from its manifest; None without a manifest or nationalities."""
    if data.manifest is None:
        return None
    by_id = data.manifest.identity_map()
    names = [by_id[i].nationality if i in by_id else "" for i in data.identities]
    classes = sorted({n for n in names if n})
    if len(classes) < 2:
        return None
    index = {n: k for k, n in enumerate(classes)}
    return torch.as_tensor([index.get(n, -100) for n in names], dtype=torch.long)


# ---------------------------------------------------------------------------------------
def pretrain_key(cfg: TrainConfig, modality: str, data: SplitData) -> str:
    """Hash of everything that produces a pretrained backbone: the pretrain section, the
    encoder (name, kwargs, initial weights), the seed and the training items (ids with
    their identities, plus the manifest/cache the split came from)."""

    enc = cfg.voice if modality == "voice" else cfg.face
    table = data.table(modality)
    h = hashlib.sha256()
    spec = {
        "pretrain": to_dict(cfg.pretrain),
        "encoder": {"name": enc.name, "kwargs": enc.kwargs, "weights": enc.weights},
        "seed": cfg.seed,
        "modality": modality,
        "identities": list(data.identities),
        "genders": list(data.genders),
        "source": {k: str(v) for k, v in sorted(data.meta.items())},
    }
    h.update(json.dumps(spec, sort_keys=True, default=str).encode())
    if enc.weights:
        if Path(enc.weights).is_file():
            h.update(sha256_file(enc.weights).encode())
    for item, ident in zip(table.ids, table.identity, strict=True):
        h.update(f"{item}\t{int(ident)}\n".encode())
    return h.hexdigest()[:16]


def _nonfinite_items(x: torch.Tensor, ids: list[str]) -> list[str]:
    """Ids of the rows of ``x`` that hold NaN or inf."""
    bad = ~torch.isfinite(x.reshape(len(x), -1)).all(dim=1)
    return [ids[int(i)] for i in torch.nonzero(bad).flatten()]


def _first(names: list[str], n: int = 5) -> str:
    return ", ".join(names[:n]) + (f" (+{len(names) - n} more)" if len(names) > n else "")


def pretrain_backbone(
    cfg: TrainConfig,
    modality: str,
    data: SplitData,
    out_path: Path,
    device: str = "cpu",
    progress: bool = True,
) -> Path:
    """Identity classification of one modality on the train split (softmax head); saves
    the backbone's state dict to ``out_path`` (stands in for VoxCeleb2/VGGFace2 pretraining)."""
    enc = cfg.voice if modality == "voice" else cfg.face
    pc = cfg.pretrain
    torch.manual_seed(cfg.seed + (1 if modality == "voice" else 2))
    backbone = create_encoder(enc.name, modality, weights=enc.weights, **enc.kwargs)
    if input_kind(backbone) not in ("spectrogram", "image"):
        raise ConfigError(f"{modality} encoder {enc.name!r} is off-the-shelf; it cannot pretrain")
    clf = ClassifierHead(out_dim(backbone), len(data.identities))
    net = nn.Sequential(backbone, clf).to(device)
    gender = torch.as_tensor([{"m": 0, "f": 1}.get(g, -100) for g in data.genders])
    use_gender = pc.gender_weight > 0 and bool((gender >= 0).any())
    ghead = ClassifierHead(out_dim(backbone), 2).to(device)
    nation, use_nation = _nationality_labels(data), False
    nhead: nn.Module = nn.Identity()
    if pc.nationality_weight > 0 and nation is not None:
        use_nation = True
        nhead = ClassifierHead(out_dim(backbone), int(nation.max()) + 1).to(device)
    params = [*net.parameters(), *(ghead.parameters() if use_gender else [])]
    params += list(nhead.parameters()) if use_nation else []
    opt = torch.optim.Adam(params, lr=pc.lr, weight_decay=pc.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=pc.lr, total_steps=pc.steps)
    rng = np.random.default_rng(cfg.seed + 17)
    table, source = data.table(modality), data.source(modality)
    labels_all = torch.as_tensor(table.identity, dtype=torch.long)
    bar = _bar(pc.steps, 0, f"pretrain {modality}", progress)
    net.train()
    acc_ema, loss_v = 0.0, 0.0
    for step in range(pc.steps):
        idx = rng.choice(len(table), size=min(pc.batch_size, len(table)), replace=False)
        x = source.batch(idx, step).to(device)
        bad = _nonfinite_items(x, [table.ids[int(i)] for i in idx])
        if bad:
            raise DataError(
                f"pretrain {modality}: step {step + 1}: {len(bad)} input item(s) hold NaN/inf: "
                f"{_first(bad)}; fix or remove their media and re-run preprocessing"
            )
        y = labels_all[idx].to(device)
        feats = backbone(x)
        logits = clf(feats)
        loss = nn.functional.cross_entropy(logits, y)
        if use_gender:  # -100 (unknown gender) is ignored
            g = gender.to(device)[y]
            loss = loss + pc.gender_weight * nn.functional.cross_entropy(ghead(feats), g)
        if use_nation:
            n = nation.to(device)[y]  # type: ignore[union-attr]
            loss = loss + pc.nationality_weight * nn.functional.cross_entropy(nhead(feats), n)
        loss_v = float(loss.detach())
        if not math.isfinite(loss_v):
            bar.close()
            raise ConfigError(
                f"pretrain {modality}: loss became {loss_v} at step {step + 1} with finite "
                f"inputs: the optimisation diverged; lower pretrain.lr (now {pc.lr:g})"
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        acc_ema = 0.9 * acc_ema + 0.1 * float((logits.argmax(1) == y).float().mean())
        _bar_step(bar, loss=f"{loss_v:.3f}", acc=f"{acc_ema:.2f}")
    bar.close()
    log.info("pretrain %s: final loss %.3f, train acc (ema) %.2f", modality, loss_v, acc_ema)
    state = backbone.cpu().state_dict()
    bad_t = nonfinite_tensors(state)
    if bad_t:  # never save poisoned weights (they would be reused by the next run)
        raise ConfigError(
            f"pretrain {modality}: {len(bad_t)} weight tensor(s) became NaN/inf "
            f"({_first(bad_t, 3)}); not saved; lower pretrain.lr (now {pc.lr:g})"
        )
    buf = io.BytesIO()
    torch.save(state, buf)

    atomic_write_bytes(out_path, buf.getvalue())
    return out_path


def _bar(total: int, initial: int, desc: str, enabled: bool) -> Any:
    """Training-step progress (tqdm on a terminal, plain lines every ~10 s off one)."""
    return progress_bar(total, desc, unit="step", enabled=enabled, initial=initial)


def _bar_step(bar: Any, **postfix: str) -> None:
    bar.update(1)
    if postfix and hasattr(bar, "set_postfix"):
        bar.set_postfix(**postfix)


# ---------------------------------------------------------------------------------------
@torch.no_grad()
def embed_split(
    method: Method,
    model: VoiceFaceModel,
    data: SplitData,
    modality: str,
    features: bool,
    device: str = "cpu",
    batch_size: int = 128,
    progress: bool = False,
) -> np.ndarray:
    """(N, D) embeddings of every ``modality`` item of ``data`` (table order)."""
    table = data.table(modality)
    idx = np.arange(len(table))
    out: np.ndarray | None = None
    was = model.training
    model.eval()
    with progress_bar(len(idx), f"embed {modality}s", unit="item", enabled=progress) as bar:
        for part, x in data.source(modality).eval_batches(idx, batch_size):
            y = method.embed(model, modality, x.to(device), features).float().cpu().numpy()
            if out is None:
                out = np.zeros((len(idx), y.shape[1]), np.float32)
            out[part] = y
            bar.update(len(part))
    model.train(was)
    assert out is not None
    return out


def validate(
    method: Method,
    model: VoiceFaceModel,
    data: SplitData,
    cfg: TrainConfig,
    features: tuple[str, ...] = (),
    device: str = "cpu",
) -> dict[str, Any]:
    """1:2 voice->face matching accuracy (and 95% interval) on the validation split.

    ``features``: modalities whose sources hold cached backbone features."""

    v = embed_split(method, model, data, "voice", "voice" in features, device)
    f = embed_split(method, model, data, "face", "face" in features, device)
    ids = np.asarray(data.identities)
    vi, fi = ids[data.voices.identity], ids[data.faces.identity]
    sc = method.scorer(model) or "cosine"  # methods with a learned pair scorer use it
    est = validation_1to2(v, vi, f, fi, n_trials=cfg.val.n_trials, seed=cfg.val.seed, scorer=sc)
    row: dict[str, Any] = {
        "acc": float(est.value), "low": float(est.low), "high": float(est.high), "n": int(est.n)
    }  # fmt: skip
    if cfg.val.gender_balanced and all(g in ("m", "f") for g in data.genders):
        g = dict(zip(data.identities, data.genders, strict=True))
        gb = validation_1to2(
            v, vi, f, fi, n_trials=cfg.val.n_trials, seed=cfg.val.seed, genders=g, scorer=sc
        )
        row.update({"acc_gb": float(gb.value), "low_gb": float(gb.low), "high_gb": float(gb.high)})
    return row


# ---------------------------------------------------------------------------------------
class _Logger:
    """metrics.csv + metrics.jsonl (+ TensorBoard when importable); resume-aware."""

    FIELDS = ("step", "loss", "lr_head", "steps_per_s", "elapsed_s")

    def __init__(self, out: Path, start_step: int, tensorboard: bool, enabled: bool) -> None:
        self.enabled = enabled
        self.jsonl = out / "metrics.jsonl"
        self.csv = out / "metrics.csv"
        self.val = out / "val.jsonl"
        self.tb: Any = None
        if not enabled:
            return
        # drop rows beyond the checkpoint we resume from, so curves stay continuous
        for p in (self.jsonl, self.val):
            if p.is_file():
                rows = [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
                keep = [r for r in rows if r["step"] <= start_step]
                atomic_write_text(p, "".join(json.dumps(r) + "\n" for r in keep))
        rows = (
            [json.loads(x) for x in self.jsonl.read_text().splitlines() if x.strip()]
            if self.jsonl.is_file()
            else []
        )
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in self.FIELDS})
        atomic_write_text(self.csv, buf.getvalue())
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out / "tb"), purge_step=start_step + 1)
            except Exception:  # tensorboard not installed: optional
                self.tb = None

    def step(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.jsonl, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        with open(self.csv, "a", encoding="utf-8", newline="") as fh:
            csv.DictWriter(fh, fieldnames=self.FIELDS).writerow(
                {k: row.get(k, "") for k in self.FIELDS}
            )
        if self.tb is not None:
            self.tb.add_scalar("train/loss", row["loss"], row["step"])
            self.tb.add_scalar("train/lr_head", row["lr_head"], row["step"])

    def validation(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.val, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        if self.tb is not None:
            self.tb.add_scalar("val/acc_1to2", row["acc"], row["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


# ---------------------------------------------------------------------------------------
def _load_data(cfg: TrainConfig) -> tuple[SplitData, SplitData]:
    d = cfg.data
    train_data = load_split(
        d.manifest, d.cache, d.train_split, d.crop_seconds, cfg.seed, d.max_train_identities,
        augment=d.face_augment,
    )  # fmt: skip
    val_data = load_split(
        d.manifest, d.cache, d.val_split, d.crop_seconds, cfg.seed, d.val_max_identities
    )
    return train_data, val_data


def _to_features(
    cfg: TrainConfig,
    model: VoiceFaceModel,
    datas: list[SplitData],
    directory: Path,
    device: str,
    modalities: tuple[str, ...],
    progress: bool = True,
) -> list[SplitData]:

    out = []
    t0 = time.time()
    for data in datas:
        srcs = {"voice": data.voice_source, "face": data.face_source}
        for mod, enc in (("voice", cfg.voice), ("face", cfg.face)):
            if mod not in modalities:
                continue
            bb = model.backbone(mod)
            srcs[mod] = TensorSource(
                cached_features(bb, enc.name, enc.kwargs, data, mod, directory, device, progress)
            )
        out.append(data.with_sources(srcs["voice"], srcs["face"]))
    log.info("feature mode (%s): features ready in %.1f s", "+".join(modalities), time.time() - t0)
    return out


RUN_FILES = ("last.pt", "best.pt", "summary.json", "metrics.csv", "metrics.jsonl", "val.jsonl")


def _check_out_dir(out: Path, resume: bool, force: bool) -> None:
    """Up-front checks of the output folder, before any data is read or step is run."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: output folder is a file")
    for name in ("last.pt", "best.pt"):
        p = out / name
        if p.exists() and not p.is_file():
            raise CheckpointError(f"{p}: is a directory (or not a regular file), not a checkpoint")
    if resume or force:
        return
    found = [n for n in ("last.pt", "best.pt", "summary.json") if (out / n).is_file()]
    if found:
        raise ConfigError(
            f"{out}: holds a previous run ({', '.join(found)}); pass --resume to continue it, "
            "--force to replace it, or choose another --out"
        )


def _shrink_sampler(cfg: TrainConfig, data: SplitData) -> TrainConfig:
    """``sampler.shrink_P``: P lowered to the usable training identities (those with both
    voices and faces; an even number with gender balance) when there are fewer than P."""
    sc = cfg.sampler
    if not sc.shrink_P:
        return cfg
    both = set(np.unique(data.voices.identity).tolist()) & set(
        np.unique(data.faces.identity).tolist()
    )
    if sc.gender_balance:
        per = min(sum(data.genders[i] == g for i in both) for g in ("m", "f"))
        n = 2 * min(per, sc.P // 2)
    else:
        n = min(len(both), sc.P)
    if n >= sc.P or n < 2:
        return cfg

    log.info("sampler: %d usable training identities < P=%d: P lowered to %d", len(both), sc.P, n)
    out = copy.deepcopy(cfg)
    out.sampler.P = n
    return out


def _nonfinite_loss(
    value: float,
    step: int,
    batch: Batch,
    data: SplitData,
    local: Any,
    cfg: TrainConfig,
    model: nn.Module,
) -> Exception:
    """The real cause of a NaN/inf loss: non-finite inputs/features (named items),
    non-finite weights, or a diverging optimisation."""
    for mod, x, items in (
        ("voice", batch.voice, local.voice_items),
        ("face", batch.face, local.face_items),
    ):
        ids = [data.table(mod).ids[int(i)] for i in items]
        bad = _nonfinite_items(x.detach().cpu(), ids)
        if bad:
            what = "features" if getattr(batch, f"{mod}_features") else "inputs"
            return DataError(
                f"loss became {value} at step {step + 1}: {len(bad)} {mod} {what} hold NaN/inf: "
                f"{_first(bad)}; fix or remove their media and re-run preprocessing"
            )
    bad_w = [n for n, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
    if bad_w:
        return CheckpointError(
            f"loss became {value} at step {step + 1}: model weights hold NaN/inf "
            f"({_first(bad_w, 3)}); their source (backbone weights / resumed checkpoint) is bad"
        )
    return ConfigError(
        f"loss became {value} at step {step + 1} with finite inputs and weights: the "
        f"optimisation diverged; lower optim.head_lr (now {cfg.optim.head_lr:g})"
    )


def train(
    cfg: TrainConfig,
    out_dir: str | Path,
    method: Method,
    *,
    resume: bool = False,
    data: SplitData | None = None,
    val_data: SplitData | None = None,
    dist: DistInfo | None = None,
    progress: bool | None = None,
    force: bool = False,
) -> TrainResult:
    """Run (or resume) training of ``method`` as configured; returns the checkpoints and
    figures. ``method.name`` must be ``cfg.method`` (the caller resolves the name, e.g.
    ``vfbench.methods.get_method(cfg.method)``).

    A folder holding a previous run is continued with ``resume`` or replaced with
    ``force`` (its checkpoints and logs are removed first); otherwise ConfigError.
    ``data``/``val_data`` override ``cfg.data`` (in-memory splits, tests).
    """
    if method.name != cfg.method:
        raise ConfigError(
            f"the config trains method {cfg.method!r} but a {method.name!r} method was given"
        )
    threads = cfg.threads or (1 if len(cfg.feature_modalities()) == 2 else 0)
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _train(cfg, out_dir, method, resume, data, val_data, dist, progress, force)
    finally:
        torch.set_num_threads(old)


def _train(
    cfg: TrainConfig,
    out_dir: str | Path,
    method: Method,
    resume: bool,
    data: SplitData | None,
    val_data: SplitData | None,
    dist: DistInfo | None,
    progress: bool | None,
    force: bool,
) -> TrainResult:
    dist = dist or DistInfo()
    out = Path(out_dir)
    _check_out_dir(out, resume, force)
    check_encoder_options(cfg.voice.name, cfg.voice.kwargs, "voice.kwargs")
    check_encoder_options(cfg.face.name, cfg.face.kwargs, "face.kwargs")
    out.mkdir(parents=True, exist_ok=True)
    if force and not resume and dist.main:
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    device = cfg.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but no CUDA GPU is available")
    show = (cfg.log.progress if progress is None else progress) and dist.main
    seed_everything(cfg.seed)

    if data is None:
        data, val_data = _load_data(cfg)
    assert data is not None
    cfg = _shrink_sampler(cfg, data)
    last_path = out / "last.pt"
    ckpt: dict[str, Any] | None = None
    if resume and last_path.is_file():
        ckpt = load_checkpoint(last_path)
        if ckpt["method"] != cfg.method:
            raise CheckpointError(f"{last_path}: was trained with method {ckpt['method']!r}")
    elif resume:
        log.info("no %s yet: starting from scratch", last_path)
    changes = config_changes(ckpt["config"], to_dict(cfg)) if ckpt is not None else []

    # -- stage 1: pretraining (skipped when its outputs exist) ----------------------------
    weights = {"voice": cfg.voice.weights, "face": cfg.face.weights}
    if cfg.pretrain.enabled:
        for mod in cfg.pretrain.modalities:
            key = pretrain_key(cfg, mod, data)
            p = out / "pretrain" / f"{mod}_{key}.pt"
            if p.is_file():
                log.info("pretrain %s: reusing %s (same config and inputs)", mod, p)
            else:
                if dist.main:
                    pretrain_backbone(cfg, mod, data, p, device, show)
                dist.barrier()
            weights[mod] = str(p)
        seed_everything(cfg.seed)

    # -- model -----------------------------------------------------------------------
    method.prepare(cfg, data)
    vb = build_backbone(cfg.voice, "voice", weights["voice"])
    fb = build_backbone(cfg.face, "face", weights["face"])
    model = method.build_model(cfg, vb, fb).to(device)
    objective = method.build_objective(cfg, model, len(data.identities)).to(device)
    features = cfg.feature_modalities()
    for mod, bb in (("voice", vb), ("face", fb)):
        if input_kind(bb) in ("waveform", "chip150") and mod not in features:
            raise ConfigError(
                f"{mod} encoder {getattr(cfg, mod).name!r} is an off-the-shelf model: it "
                f"needs {mod}.frozen: true and feature_mode: true"
            )
    if features:
        datas = _to_features(cfg, model, [d for d in (data, val_data) if d is not None],
                             out / "features", device, features, show)  # fmt: skip
        data = datas[0]
        val_data = datas[1] if len(datas) > 1 else None
    groups = method.param_groups(cfg, model, objective)
    if not groups:
        raise ConfigError("nothing to train: every parameter group is frozen or has lr 0")
    opt = torch.optim.Adam(
        [{"params": g.params, "lr": g.lr, "name": g.name} for g in groups],
        weight_decay=cfg.optim.weight_decay,
    )
    oc = cfg.optim
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        [
            (lambda s: lr_factor(s, oc.milestones, oc.gamma)) if g.scheduled else (lambda s: 1.0)
            for g in groups
        ],
    )
    sampler = method.make_sampler(cfg, data)
    step_module = TrainStep(method, model, objective)
    step_module.gather = dist.gather
    runner = dist.wrap(step_module)

    start, best, validations = 0, None, []
    if ckpt is not None:
        load_module_state(model, ckpt["model"], last_path, "model", packaged_prefixes(model),
                          changes)  # fmt: skip
        load_module_state(objective, ckpt["objective"], last_path, "objective", (), changes)
        try:
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
            sampler.load_state_dict(ckpt["sampler"])
        except (ValueError, KeyError, RuntimeError) as exc:
            why = f"the config changed since the checkpoint ({'; '.join(changes[:4])})" \
                if changes else "it does not fit this run"  # fmt: skip
            raise CheckpointError(
                f"{last_path}: cannot resume the optimiser/sampler state: {why}: {exc}"
            ) from None
        torch.set_rng_state(ckpt["rng"]["torch"])
        start, best = int(ckpt["step"]), ckpt.get("best")
        validations = list(ckpt.get("validations", []))
        log.info("resumed from %s at step %d", last_path, start)

    if dist.main:
        atomic_write_text(out / "config.yaml", dump_yaml(cfg))
        n_train = sum(p.numel() for g in groups for p in g.params)
        log.info(
            "method %s, %d train identities, %d trainable parameters, feature mode %s",
            cfg.method, len(data.identities), n_train, features,
        )  # fmt: skip
        if method.triplets_per_step(cfg) is not None:
            log.info(
                "sampling: %s",
                triplet_arithmetic(cfg.steps, cfg.sampler.P, cfg.sampler.K),
            )
    logger = _Logger(out, start, cfg.log.tensorboard, dist.main)

    def state(step: int) -> dict[str, Any]:
        return {
            "step": step,
            "method": cfg.method,
            "config": to_dict(cfg),
            "model": model.state_dict(),
            "objective": objective.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "sampler": sampler.state_dict(),
            "rng": {"torch": torch.get_rng_state()},
            "best": best,
            "validations": validations,
            "feature_mode": list(features),
            "identities": len(data.identities),
            "encoders": encoders,
        }

    # packaged frozen encoders: recorded (package, version, weights hash), never stored
    encoders = {
        mod: info for mod in ("voice", "face") if (info := packaged_info(model.backbone(mod)))
    }
    model.train()
    _set_frozen_eval(model, cfg)
    bar = _bar(cfg.steps, start, cfg.name, show)
    t0, losses = time.time(), []
    dev = torch.device(device)
    for step in range(start, cfg.steps):
        sb = sampler.next()
        local = sb.shard(dist.rank, dist.world)
        batch = Batch(
            voice=data.voice_source.batch(local.voice_items, step).to(dev),
            face=data.face_source.batch(local.face_items, step).to(dev),
            voice_labels=torch.as_tensor(local.voice_labels, device=dev),
            face_labels=torch.as_tensor(local.face_labels, device=dev),
            global_voice_labels=torch.as_tensor(sb.voice_labels, device=dev),
            global_face_labels=torch.as_tensor(sb.face_labels, device=dev),
            voice_features="voice" in features,
            face_features="face" in features,
            step=step,
        )
        loss = runner(batch)
        if not bool(torch.isfinite(loss.detach()).all()):
            raise _nonfinite_loss(float(loss.detach()), step, batch, data, local, cfg, model)
        opt.zero_grad(set_to_none=True)
        # DDP averages gradients over ranks; each rank back-propagates the global loss
        # through its own slice only, so scale by world to recover the full gradient.
        (loss * dist.world if dist.world > 1 else loss).backward()
        if oc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_([p for g in groups for p in g.params], oc.grad_clip)
        lr_used = opt.param_groups[0]["lr"]  # the head LR of this step
        opt.step()
        sched.step()
        lv = float(loss.detach())
        bad_w = [
            n for n, p in model.named_parameters()
            if p.requires_grad and not bool(torch.isfinite(p).all())
        ]  # fmt: skip
        if bad_w:
            raise ConfigError(
                f"step {step + 1}: the update made {len(bad_w)} weight tensor(s) NaN/inf "
                f"({_first(bad_w, 3)}) with finite inputs and loss {lv:.4g}: the optimisation "
                f"diverged; lower optim.head_lr (now {oc.head_lr:g}) or set optim.grad_clip"
            )
        done = step + 1
        losses.append((done, lv))
        _bar_step(bar, loss=f"{lv:.4g}")
        if done % max(1, cfg.log.every) == 0 or done == cfg.steps:
            el = time.time() - t0
            logger.step(
                {
                    "step": done,
                    "loss": lv,
                    "lr_head": lr_used,
                    "steps_per_s": (done - start) / max(el, 1e-9),
                    "elapsed_s": el,
                }
            )
        is_val = val_data is not None and (
            (cfg.val.every and done % cfg.val.every == 0) or done == cfg.steps
        )
        if is_val and dist.main:
            assert val_data is not None
            row = {"step": done, **validate(method, model, val_data, cfg, features, device)}
            model.train()
            _set_frozen_eval(model, cfg)
            validations.append(row)
            logger.validation(row)
            msg = (
                f"step {done}: val 1:2 acc {row['acc']:.4f} "
                f"[{row['low']:.4f}, {row['high']:.4f}] (n={row['n']})"
            )
            if hasattr(bar, "write"):
                bar.write(msg)
            elif show:
                log.info(msg)
            if best is None or row["acc"] > best:
                best = row["acc"]
                save_checkpoint(out / "best.pt", state(done))
        if dist.main and (done % max(1, cfg.checkpoint_every) == 0 or done == cfg.steps):
            save_checkpoint(last_path, state(done))
    bar.close()
    logger.close()
    dist.barrier()
    summary = {
        "steps": cfg.steps,
        "best_val_acc": best,
        "last_val": validations[-1] if validations else None,
        "feature_mode": list(features),
        "elapsed_s": time.time() - t0,
        "provenance": Provenance(
            command="vfbench train", seed=cfg.seed, config=to_dict(cfg)
        ).to_dict(),
    }
    if dist.main:
        atomic_write_json(out / "summary.json", summary)
    return TrainResult(
        out_dir=out,
        steps=cfg.steps,
        last_checkpoint=last_path,
        best_checkpoint=(out / "best.pt") if (out / "best.pt").is_file() else None,
        best_value=best,
        validations=validations,
        losses=losses,
    )
