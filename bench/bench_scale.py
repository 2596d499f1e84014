"""Scaling of simulate (issue 6, target 5): wall time and peak memory against the stream length
N = 10^3 .. 10^6 (M = 11), per router and for the LP bound, with the fitted exponent (slope of
log seconds against log N; target near-linear, <= 1.15).

Each (N, router) pair runs in a fresh process, so its peak resident memory (``ru_maxrss``, which
includes the interpreter and the N x 11 inputs) belongs to it alone; ``inputs_rss_mib`` is the
resident memory just before the router starts. A router's time is what simulate spends on it
for one seed (``simulate.simulate_router`` then the spend trace): decisions, serve-or-drop
replay, metrics, trace, after a warm-up run on 300 queries in the same process (numba cache
loads and solver start-up are one-off costs, reported as ``warmup_seconds``). The rounded
oracles include their LP solve (on estimates for approx-opt, on true features for opt);
``lp-bound`` is the LP alone. Inputs are RouterBench-like
synthetic features (``bench_lp.workload``) with noisy estimates, from a fixed seed; k-NN
search is not part of this table (``bench_table1``, ``bench_million``, ``bench_index``).
``python -m bench scale`` writes ``results/bench/scale.csv``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from bench.bench_lp import scaling_exponent, workload
from bench.bench_table1 import in_fresh_process, peak_rss_mib
from routebench import io

SIZES: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
ROUTERS: tuple[str, ...] = ("random", "greedy-perf", "greedy-cost", "knn-perf", "knn-cost",
                            "batch-split", "port", "approx-opt", "opt", "lp-bound")
TARGET_EXPONENT = 1.15
SEED = 0
#: Queries of the warm-up run each process does before the measured one.
WARMUP_N = 300
COMMAND = "python -m bench scale"


def world(n: int, seed: int = SEED):
    """True (perf, cost), budgets (USD) and a StreamInput of noisy estimates for N queries."""
    from routebench.routers import StreamInput
    from routebench.seeding import rng

    perf, cost, budgets = workload(n, seed)
    gen = rng(seed, "arrival_order")
    m = perf.shape[1]
    perf_hat = np.clip(0.25 + 0.5 * perf + gen.normal(0.0, 0.15, (n, m)), 0.0, 1.0)
    cost_hat = cost * gen.lognormal(0.0, 0.2, (n, m))
    perf_exact = np.clip(0.2 + 0.6 * perf + gen.normal(0.0, 0.1, (n, m)), 0.0, 1.0)
    cost_exact = cost * gen.lognormal(0.0, 0.1, (n, m))
    models = tuple(f"llm{i}" for i in range(m))
    return perf, cost, StreamInput(perf_hat, cost_hat, budgets, models, perf_exact, cost_exact)


def _measure(router: str, n: int) -> dict[str, object]:
    """Time ``router`` on an N-query stream in this (fresh) process; peak RSS in MiB."""
    import psutil

    from routebench.engine import cumulative_spend
    from routebench.oracle import solve_lp
    from routebench.seeding import rngs
    from routebench.simulate import simulate_router

    def once(perf, cost, stream) -> dict[str, float]:
        if router == "lp-bound":
            return {"value": solve_lp(perf, cost, stream.budgets).dual_objective}
        oracle = None
        if router in ("approx-opt", "opt"):
            p, c = (stream.perf_hat, stream.cost_hat) if router == "approx-opt" else (perf, cost)
            oracle = (solve_lp(p, c, stream.budgets), np.arange(stream.n))
        run = simulate_router(router, stream, perf, cost, rngs(SEED), oracle=oracle)
        cumulative_spend(run.outcome, cost)
        return {"value": run.metrics["performance"], "decision_seconds": run.seconds}

    t0 = time.perf_counter()
    once(*world(WARMUP_N))  # numba cache loads, HiGHS and BLAS start-up: not part of scaling
    warmup = time.perf_counter() - t0
    perf, cost, stream = world(n)
    inputs_mib = psutil.Process().memory_info().rss / 2**20
    row: dict[str, object] = {"router": router, "n": n, "m": perf.shape[1]}
    t0 = time.perf_counter()
    row.update(once(perf, cost, stream))
    row["seconds"] = time.perf_counter() - t0
    row["warmup_seconds"] = warmup
    row["inputs_rss_mib"] = inputs_mib
    row["peak_rss_mib"] = peak_rss_mib()
    return row


def run(out_dir: Path, sizes: tuple[int, ...] = SIZES,
        routers: tuple[str, ...] = ROUTERS) -> pd.DataFrame:
    """Measure every (N, router) pair in a fresh process; write ``out_dir/scale.csv``."""
    jobs = [(r, n) for n in sizes for r in routers]
    rows = []
    with Progress(transient=True) as progress:
        task = progress.add_task("scaling", total=len(jobs))
        for router, n in jobs:
            progress.update(task, description=f"scaling: {router} N={n:,}")
            rows.append(in_fresh_process(_measure, router, n))
            progress.advance(task)
    frame = pd.DataFrame(rows)
    frame["exponent_all"] = np.nan
    frame["exponent_1e4_up"] = np.nan
    for router, part in frame.groupby("router"):
        mask = frame["router"] == router
        frame.loc[mask, "exponent_all"] = scaling_exponent(part["n"], part["seconds"])
        big = part[part["n"] >= 10_000]
        frame.loc[mask, "exponent_1e4_up"] = scaling_exponent(big["n"], big["seconds"])
    frame["target_exponent"] = TARGET_EXPONENT
    frame["meets_target"] = frame["exponent_all"] <= TARGET_EXPONENT
    frame["command"] = COMMAND
    columns = ["router", "n", "m", "seconds", "decision_seconds", "warmup_seconds",
               "inputs_rss_mib",
               "peak_rss_mib", "exponent_all", "exponent_1e4_up", "target_exponent",
               "meets_target", "value", "command"]
    frame = frame.reindex(columns=columns)
    io.write_with(Path(out_dir) / "scale.csv", lambda p: frame.to_csv(p, index=False))
    return frame


if __name__ == "__main__":
    print(run(Path("results/bench")).to_string(index=False))
