"""``evaluate(voices, faces, identities, protocol) -> EvaluationResult``: every task, both directions.

The library entry point of the benchmark, a thin orchestrator. It takes embeddings (any
model's) or a score callable, never a model. Steps:

1. identity attributes (gender / nationality / language / any other column) from a
   manifest or a dict (:mod:`vfbench.evaluate.inputs`);
2. trials: generated from the protocol (:func:`make_trials`, one seeded generator per
   trial group) or given (a saved or imported :class:`~vfbench.evaluate.trials.TrialSet`);
3. each trial group is scored and measured by its task's module
   (:mod:`vfbench.evaluate.tasks`): matching, verification, retrieval, joint;
4. test confidence for each figure (:mod:`vfbench.evaluate.confidence`: binomial,
   Wilson, identity bootstrap over the query identity and over every role of a trial)
   and the paper's repeated random test sets (:mod:`vfbench.evaluate.tasks.repeated`);
5. sanity anchors on every row: chance level and the gender-only baseline.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from vfbench.config import to_dict
from vfbench.errors import EvaluationError
from vfbench.evaluate import _kernels
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.inputs import (
    ATTRS,
    apply_split,
    attribute_columns,
    embeddings_hash,
    identity_attributes,
)
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.results import EvaluationResult
from vfbench.evaluate.scoring import Scorer, check_scorer, prefetch_kernel
from vfbench.evaluate.tasks import EVALUATORS, GENERATORS
from vfbench.evaluate.tasks.context import Context, Log, RawRows
from vfbench.evaluate.tasks.curves import curves_from_metrics
from vfbench.evaluate.tasks.generate import adder
from vfbench.evaluate.tasks.repeated import evaluate_repeated
from vfbench.evaluate.trials import TrialSet, Universe, index_map
from vfbench.utils.parallel import blas_single_thread_if_small
from vfbench.utils.provenance import Provenance

__all__ = [
    "ATTRS",
    "apply_split",
    "embeddings_hash",
    "evaluate",
    "identity_attributes",
    "make_trials",
]


def make_trials(
    voices: Embeddings,
    faces: Embeddings,
    identities: Any = None,
    protocol: Protocol | None = None,
) -> TrialSet:
    """Generate every trial group the protocol asks for (seeded per group; vectorised)."""
    p = protocol or Protocol()
    attrs = identity_attributes(identities)
    _check_columns(p, attrs)
    u = Universe.build(voices.identities, faces.identities, attrs)
    ts = TrialSet(voices.ids, faces.ids, voices.identities, faces.identities)
    ts.config.update(
        {"seed": p.seed, "generator": "vfbench.make_trials", "seeding": "per-group", "warnings": []}
    )
    warn = ts.config["warnings"]
    add = adder(ts, p.seed, warn)
    for d in p.directions:
        for task, gen in GENERATORS.items():
            if task in p.tasks:
                gen(u, p, d, add, warn)
    return ts


def _check_columns(p: Protocol, attrs: dict[str, dict[str, str]]) -> None:
    """``--by`` / ``same`` columns must exist when identity attributes are given."""
    if not attrs:
        if p.matching.same or p.verification.same:
            raise EvaluationError("matching.same / verification.same need identity attributes")
        return
    cols = attribute_columns(attrs)
    for what, col in [("by", b) for b in p.by] + [
        ("matching.same", p.matching.same),
        ("verification.same", p.verification.same),
    ]:
        if col and col not in cols:
            raise EvaluationError(f"{what}: no identity column {col!r}; columns: {cols}")


def evaluate(
    voices: Embeddings,
    faces: Embeddings,
    identities: Any = None,
    protocol: Protocol | None = None,
    *,
    trials: TrialSet | None = None,
    scorer: Scorer | None = None,
    log: Log | None = None,
    command: str = "",
) -> EvaluationResult:
    """Evaluate one system on every task of the protocol, in both directions.

    ``voices`` / ``faces``: :class:`Embeddings` (N, D); ``identities``: a Manifest, a dict
    identity -> attributes (or gender string), or None; ``trials``: a saved/imported trial
    set to score on (otherwise generated from ``protocol.seed``); ``scorer``: overrides
    ``protocol.scorer`` with a name or a callable ``score(voices (a, D), faces (b, D)) ->
    (a, b)``. Returns an :class:`EvaluationResult` with per-trial outcomes attached.
    """

    p = protocol or Protocol()
    p.validate()
    calls_before = _kernels.compiled_calls()
    say = log or (lambda _msg: None)
    if voices.modality != "voice" or faces.modality != "face":
        raise EvaluationError(
            f"expected voice and face embeddings, got {voices.modality!r} and {faces.modality!r}"
        )
    attrs = identity_attributes(identities)
    _check_columns(p, attrs)
    voices, faces = apply_split(voices, faces, identities, p.split)
    sc: Scorer = scorer if scorer is not None else p.scorer
    res = EvaluationResult(protocol=to_dict(p))
    if "verify" in p.tasks:  # the verification bootstrap kernel loads while trials are made
        _kernels.prefetch("verify_reps")
    if trials is None:
        say("generating trials")
        trials = make_trials(voices, faces, attrs, p)
    if not callable(sc):  # load the pair kernel while the inputs are mapped and hashed
        prefetch_kernel(trials.largest_pair_group(), trials.voice_ids.size, trials.face_ids.size)
    res.warnings.extend(trials.config.get("warnings", []))
    # provenance hashes on a second thread (hashlib runs without the GIL: ~0.07 s for
    # 2 x 20k x 512 vectors and a 1M-trial set, beside the scoring)
    with ThreadPoolExecutor(1, thread_name_prefix="vfbench-hash") as pool:
        ts = trials
        t_hash = pool.submit(lambda: ts.sha256)
        hashes = [pool.submit(embeddings_hash, e) for e in (voices, faces)]
        res = _evaluate_tasks(voices, faces, attrs, p, trials, sc, res, say)
        res.trials_hash = t_hash.result()
        input_hashes = {
            "voices": hashes[0].result(),
            "faces": hashes[1].result(),
            "trials": res.trials_hash,
        }
    prov = Provenance(
        command=command,
        seed=p.seed,
        config=to_dict(p),
        inputs=input_hashes,
    ).to_dict()
    prov["scoring_path"] = _kernels.scoring_path(calls_before)
    res.provenance = prov
    return res


def _evaluate_tasks(
    voices: Embeddings,
    faces: Embeddings,
    attrs: dict[str, dict[str, str]],
    p: Protocol,
    trials: TrialSet,
    sc: Scorer,
    res: EvaluationResult,
    say: Log,
) -> EvaluationResult:
    """Every task of ``trials`` (and the repeated sets) into ``res``, plus its summary."""
    vrow = index_map(trials.voice_ids, voices.ids, "voice")
    frow = index_map(trials.face_ids, faces.ids, "face")
    check_scorer(sc)
    if not callable(sc) and voices.vectors.shape[1] != faces.vectors.shape[1]:
        raise EvaluationError(
            f"voice dim {voices.vectors.shape[1]} != face dim {faces.vectors.shape[1]}"
        )
    u = Universe.build(trials.voice_identities, trials.face_identities, attrs)
    ctx = Context(  # vectors prepared when a task needs them (Context.v / .f)
        pv=None,
        pf=None,
        raw=RawRows(voices.vectors, faces.vectors, vrow, frow),
        vcode=np.searchsorted(u.names, trials.voice_identities),
        fcode=np.searchsorted(u.names, trials.face_identities),
        u=u,
        p=p,
        scorer=sc,
        res=res,
        log=say,
        trials=trials,
    )
    # a small evaluation runs every BLAS call on one thread (its GEMMs are too small to
    # split; two threads spin-wait against each other: utils.parallel)
    nv, nf, dim = ctx.n_items
    with blas_single_thread_if_small(float(nv) * nf * dim):
        for key in trials.keys():
            meta = trials.meta(key)
            fn = EVALUATORS.get(str(meta.get("task")))
            if fn is None:
                raise EvaluationError(f"trial group {key!r} has unknown task {meta.get('task')!r}")
            say(f"evaluating {key}")
            fn(ctx, key, meta, trials.groups[key])
        if "repeated" in p.tasks:
            say("repeated random test sets")
            evaluate_repeated(ctx, voices, faces, attrs)
    curves_from_metrics(res)
    res.summary = {
        "n_voices": len(voices),
        "n_faces": len(faces),
        "n_identities": int(u.usable().sum()),
        "gender_known": u.has_gender(),
        "scorer": sc if isinstance(sc, str) else getattr(sc, "__name__", "callable"),
        "tie_rule": p.tie_rule,
        "ap": p.ap,
        "eer": p.eer,
        "voices_meta": voices.meta,
        "faces_meta": faces.meta,
    }
    return res
