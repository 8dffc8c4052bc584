"""Speed of the evaluation framework (issue 5 targets), printed beside the peers' figures.

    .venv/bin/python benchmarks/bench_evaluate.py [--quick]

1. 1,000,000 1:2 trials scored from 512-d embeddings (target < 2 s; median of 7 calls
   after a first one that loads the compiled kernel), and a plain per-trial Python loop
   on a subsample, timed in the same 7 rounds -> speed-up, the median of the per-round
   ratios (target >= 100x; SSNet: 65 s / 1M).
2. Retrieval mAP, 10,000 queries x 10,000 gallery (target < 10 s, < 2 GB peak; CMPC:
   478 s for 20k x 20k both directions), and a naive per-query loop on a subsample.
3. 30 repeated random test sets x all repeated tasks (1:2 matching, verification AUC,
   retrieval mAP; both directions) at 1,000 identities (target < 1 min).
4. ``evaluate()`` on an already-loaded 1M-trial 1:2 list, warm (target < 1 s), with the
   scoring path that ran (compiled kernel or numpy).
5. ``ap=ssnet`` vs the default AP on a 20k x 20k retrieval (target: not slower).

Timings are wall-clock on whatever machine runs this; on a shared 2-core box they are
noisy, so the ratios (ours vs. the naive loop, measured in the same run) are the robust
figures.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from typing import TypeVar

import numpy as np

from vfbench.evaluate.api import evaluate
from vfbench.evaluate.embeddings import Embeddings
from vfbench.evaluate.metrics import match_outcomes, rank_retrieval
from vfbench.evaluate.protocol import Protocol
from vfbench.evaluate.scoring import normalize, pair_scores
from vfbench.evaluate.trials import Universe, match_trials
from vfbench.utils.parallel import single_threaded


def embeddings(
    n_ids: int, per: int, dim: int = 512, seed: int = 0
) -> tuple[Embeddings, Embeddings]:
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(n_ids, dim)).astype(np.float32)
    idx = np.repeat(np.arange(n_ids), per)
    names = np.array([f"id{i:05d}" for i in range(n_ids)])
    v = c[idx] + 2.0 * rng.normal(size=(idx.size, dim)).astype(np.float32)
    f = c[idx] + 2.0 * rng.normal(size=(idx.size, dim)).astype(np.float32)
    return (
        Embeddings([f"v{k}" for k in range(idx.size)], names[idx], v, "voice"),
        Embeddings([f"f{k}" for k in range(idx.size)], names[idx], f, "face"),
    )


CPU: dict[float, float] = {}  # wall seconds -> CPU seconds of the same call


def timed(fn, *a, **kw):
    """(result, wall seconds); the call's process CPU time is kept in CPU[wall]."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(*a, **kw)
    wall = time.perf_counter() - t
    CPU[wall] = time.process_time() - c
    return out, wall


def cpu(wall: float) -> str:
    return f"cpu {CPU.get(wall, float('nan')):.2f} s"


T = TypeVar("T")
ROUNDS = 7  # timing rounds of the matching benchmark (odd: the median is one of them)


def median_run(runs: list[tuple[T, float]]) -> tuple[T, float]:
    """The (result, seconds) run of median time among an odd number of runs."""
    return sorted(runs, key=lambda r: r[1])[len(runs) // 2]


def _kernel_state(n_pairs: int) -> str:
    from vfbench.evaluate import _kernels, scoring

    if not _kernels.enabled():
        return "disabled by VFBENCH_NUMBA=0: numpy path"
    if _kernels.pair_dots_kernel() is None:
        return "no numba: numpy path"
    if n_pairs < scoring._KERNEL_MIN_PAIRS:
        return f"{n_pairs:,} pairs: below the kernel's 1M, numpy path"
    return "compiled kernel"


def bench_matching(n_trials: int, n_ids: int, per: int, loop_n: int) -> list[tuple[str, str, str]]:
    v, f = embeddings(n_ids, per)
    u = Universe.build(v.identities, f.identities)
    rng = np.random.default_rng(0)
    t, t_gen = timed(match_trials, u, "v2f", 2, n_trials, rng, "U", False)

    def score() -> np.ndarray:  # from the raw embeddings, like the loop: normalising included
        s = pair_scores(v.vectors, f.vectors, t["query"][:, None], t["cands"], "cosine")
        return match_outcomes(s, "half")

    # plain per-trial loop, as the peers do (one Python iteration per trial)
    q, c = t["query"][:loop_n], t["cands"][:loop_n]
    raw_v, raw_f = v.vectors, f.vectors

    def loop() -> float:
        hits = 0.0
        for i in range(loop_n):
            a = raw_v[q[i]]
            a = a / np.linalg.norm(a)
            p = raw_f[c[i, 0]]
            n = raw_f[c[i, 1]]
            sp = float(a @ (p / np.linalg.norm(p)))
            sn = float(a @ (n / np.linalg.norm(n)))
            hits += 1.0 if sp > sn else (0.5 if sp == sn else 0.0)
        return hits / loop_n

    # Our first call loads the compiled scoring kernel (numba's disk cache; compiles it
    # when the cache is cold): timed apart. Then ROUNDS rounds, each timing the loop and our
    # call, so that a drift of the (shared, virtual) machine's speed hits both sides of a
    # round alike; the speed-up is the median of the per-round ratios, with its range.
    # The loop runs at its fastest and steadiest: OpenBLAS threads capped at 1 (with its
    # default threads the per-trial dot products spin up threads: 15-23 us/trial), and
    # after a pause, so that no idle OpenMP worker of ours still spins beside it.
    o, t_first = timed(score)
    loops, ours = [], []
    for _ in range(ROUNDS):
        time.sleep(0.2)
        with single_threaded():
            loops.append(timed(loop))
        ours.append(timed(score))
    ratios = sorted(lp[1] / loop_n * n_trials / us[1] for lp, us in zip(loops, ours, strict=True))
    o, t_score = median_run(ours)
    acc_loop, t_loop = median_run(loops)
    assert abs(acc_loop - o[:loop_n].mean()) < 1e-6, (acc_loop, o[:loop_n].mean())
    os.environ["VFBENCH_NUMBA"] = "0"
    try:
        o_np, t_numpy = timed(score)
    finally:
        del os.environ["VFBENCH_NUMBA"]
    assert np.array_equal(o_np, o) or np.mean(o_np != o) < 1e-4  # float32 sums differ in ulps
    per_trial_loop = t_loop / loop_n
    speedup = ratios[len(ratios) // 2]
    speedup_cpu = CPU[t_loop] / loop_n * n_trials / CPU[t_score]
    return [
        (f"1:2 trials generated ({n_trials:,})", f"{t_gen:.2f} s", cpu(t_gen)),
        (
            f"1:2 trials scored ({n_trials:,}, 512-d; median of {ROUNDS})",
            f"{t_score:.2f} s",
            f"{cpu(t_score)}; target < 2 s (for 1M)",
        ),
        (
            "  first call in this process",
            f"{t_first:.2f} s",
            f"{cpu(t_first)}; loads the compiled kernel ({_kernel_state(2 * n_trials)})",
        ),
        (
            "  numpy path (VFBENCH_NUMBA=0)",
            f"{t_numpy:.2f} s",
            f"{cpu(t_numpy)}; without the compiled kernel",
        ),
        (
            f"plain Python loop ({loop_n:,} trials, median of {ROUNDS})",
            f"{t_loop:.2f} s",
            f"{cpu(t_loop)}; {per_trial_loop * 1e6:.0f} us/trial",
        ),
        (
            f"speed-up vs per-trial loop (wall; median of {ROUNDS} rounds)",
            f"{speedup:.0f}x",
            f"rounds {ratios[0]:.0f}-{ratios[-1]:.0f}x; CPU-time ratio {speedup_cpu:.0f}x;"
            " target >= 100x",
        ),
        (
            "peer (SSNet eval.py, 1M trials)",
            "65 s",
            f"ours {t_score * 1e6 / n_trials:.1f} s per 1M",
        ),
    ]


def bench_retrieval(n: int, n_ids: int, loop_q: int) -> list[tuple[str, str, str]]:
    per = n // n_ids
    v, f = embeddings(n_ids, per, seed=1)
    vn, fn = normalize(v.vectors), normalize(f.vectors)
    codes = np.repeat(np.arange(n_ids), per)
    tracemalloc.start()
    st, t_ret = timed(rank_retrieval, vn, fn, codes, codes, "cosine", "sklearn", (1, 5, 10))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    from sklearn.metrics import average_precision_score

    def loop() -> list[float]:
        out = []
        for i in range(loop_q):
            s = fn @ vn[i]
            out.append(float(average_precision_score(codes == codes[i], s)))
        return out

    aps, t_loop = timed(loop)
    assert np.allclose(aps, st["ap"][:loop_q], atol=1e-5)
    speed = t_loop / loop_q * n / t_ret
    speed_cpu = CPU[t_loop] / loop_q * n / CPU[t_ret]
    st2, t_ssnet = timed(rank_retrieval, vn, fn, codes, codes, "cosine", "ssnet", (1,))
    return [
        (
            f"retrieval mAP {n:,} x {n:,} (sklearn AP)",
            f"{t_ret:.2f} s",
            f"{cpu(t_ret)}; target < 10 s",
        ),
        ("  peak extra memory (tracemalloc)", f"{peak / 2**20:.0f} MiB", "target < 2 GB"),
        (
            f"  mAP = {st['ap'].mean():.4f}; ssnet-AP variant",
            f"{t_ssnet:.2f} s",
            f"mAP {st2['ap'].mean():.4f}",
        ),
        (
            f"per-query sklearn loop ({loop_q} queries)",
            f"{t_loop:.2f} s",
            f"speed-up {speed:.0f}x (CPU-time {speed_cpu:.0f}x)",
        ),
        (
            "peer (CMPC, 20k x 20k both directions)",
            "478 s",
            f"ours ~{4 * 2 * t_ret:.0f} s (x4 size, x2 dirs)",
        ),
    ]


def bench_repeated(n_ids: int, per: int, repeats: int) -> list[tuple[str, str, str]]:
    v, f = embeddings(n_ids, per, seed=2)
    attrs = {f"id{i:05d}": {"gender": "m" if i % 2 else "f"} for i in range(n_ids)}
    p = Protocol(tasks=["repeated"])
    p.repeated.repeats = repeats
    p.repeated.sizes = [n_ids]
    res, t = timed(evaluate, v, f, attrs, p)
    n_rows = len(res.find(task="repeated"))
    r2 = Protocol(tasks=["match", "verify", "retrieve", "joint"])
    _, t_all = timed(evaluate, v, f, attrs, r2)
    return [
        (
            f"{repeats} repeated sets x 3 tasks x 2 dirs at {n_ids} ids",
            f"{t:.1f} s",
            f"{cpu(t)}; target < 60 s ({n_rows} rows)",
        ),
        (
            f"full default protocol (all tasks, {n_ids} ids)",
            f"{t_all:.1f} s",
            f"{cpu(t_all)}; 1:2..1:10, U/G/N/GN, verify, retrieval, joint",
        ),
    ]


def bench_list(n_trials: int, n_ids: int, per: int) -> list[tuple[str, str, str]]:
    """``evaluate()`` on an already-loaded 1:2 trial list (a published 1M-trial list):
    scoring, outcomes, binomial/Wilson, query-only and all-roles identity bootstraps
    (B = 1000), results and provenance (issue #20.3 target: well under 1 s warm)."""
    from vfbench.evaluate.trials import TrialSet, Universe, match_trials

    v, f = embeddings(n_ids, per, seed=3)
    u = Universe.build(v.identities, f.identities, {})
    g = match_trials(u, "v2f", 2, n_trials, np.random.default_rng(0), "U", False)
    ts = TrialSet(v.ids, f.ids, v.identities, f.identities)
    meta = {"task": "match", "direction": "v2f", "n": 2, "constraint": "U", "source": "list"}
    ts.add("match/v2f/n=2/U", meta, {"query": g["query"], "cands": g["cands"]})
    p = Protocol(tasks=["match"], directions=["v2f"])
    evaluate(v, f, None, p, trials=ts)  # first call: kernels, caches
    res, t = median_run([timed(evaluate, v, f, None, p, trials=ts) for _ in range(3)])
    path = res.provenance.get("scoring_path", "?")
    return [
        (
            f"evaluate() on a loaded {n_trials:,} 1:2 list ({n_ids} ids), warm",
            f"{t:.2f} s",
            f"{cpu(t)}; target < 1 s; median of 3; {path}",
        )
    ]


def bench_ap_variants(n: int, n_ids: int) -> list[tuple[str, str, str]]:
    """``ap=ssnet`` against the default AP on the same n x n retrieval (float32 cosines
    collide on large galleries: tied rows must not take a slow path)."""
    v, f = embeddings(n_ids, max(1, n // n_ids), dim=64, seed=4)
    qc = np.searchsorted(np.unique(v.identities), v.identities)
    gc = np.searchsorted(np.unique(f.identities), f.identities)
    q, g = normalize(v.vectors), normalize(f.vectors)
    rows = []
    times = {}
    for ap in ("sklearn", "ssnet"):
        _, times[ap] = median_run(
            [timed(rank_retrieval, q, g, qc, gc, "cosine", ap, (1, 5, 10)) for _ in range(3)]
        )
    rows.append(
        (
            f"retrieval {q.shape[0]} x {g.shape[0]} (64-d), ap=ssnet / ap=sklearn",
            f"{times['ssnet'] / times['sklearn']:.2f}x",
            f"{times['ssnet']:.2f} s vs {times['sklearn']:.2f} s; target: not slower",
        )
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="smaller sizes (seconds)")
    args = ap.parse_args()
    if args.quick:
        rows = bench_matching(100_000, 300, 10, 5_000)
        rows += bench_retrieval(2_000, 200, 50)
        rows += bench_repeated(200, 6, 5)
        rows += bench_list(100_000, 300, 10)
        rows += bench_ap_variants(2_000, 200)
    else:
        rows = bench_matching(1_000_000, 1000, 10, 20_000)
        rows += bench_retrieval(10_000, 1000, 200)
        rows += bench_repeated(1000, 10, 30)
        rows += bench_list(1_000_000, 1251, 10)
        rows += bench_ap_variants(20_000, 1251)
    import os

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    w = max(len(r[0]) for r in rows)
    print(f"{'figure':<{w}}  {'value':>10}  note")
    print("-" * (w + 40))
    for name, val, note in rows:
        print(f"{name:<{w}}  {val:>10}  {note}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
