"""Offline oracles at scale: the LP bound (fast trust-region path vs HiGHS on the whole LP) and
the exact 0/1 optimum, on RouterBench-like synthetic data.

Every measurement runs in a fresh process, so its peak resident memory (``ru_maxrss``, which
includes the interpreter and the input arrays) belongs to that solve alone. Reports wall time,
peak memory, primal and dual objectives, the relative primal-dual gap, and per method the
fitted scaling exponent (slope of log seconds against log N). ``python -m bench lp``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from bench.bench_table1 import in_fresh_process, peak_rss_mib
from routebench import io
from routebench.budgets import split_budget, total_budget
from routebench.seeding import rng

#: LLMs of the synthetic workload: mean correctness and mean USD cost per query (PORT.md
#: section 8, full RouterBench), spanning two orders of magnitude in price.
SKILL = np.array([0.432, 0.598, 0.631, 0.636, 0.617, 0.781, 0.203, 0.328, 0.308, 0.550, 0.648])
PRICE = np.array([7.3e-5, 2.3e-4, 2.1e-3, 2.4e-3, 2.4e-4, 3.3e-3, 1.7e-4, 2.0e-4, 4.6e-5,
                  1.3e-4, 1.8e-4])

SIZES: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)
MILP_SIZES: tuple[int, ...] = (1_500, 10_000)
#: The whole-LP reference is measured up to this N (it needs about a minute at 10^5).
REFERENCE_MAX: int = 100_000
#: Branch-and-bound node limit of the MILP solves (deterministic, unlike a time limit): five
#: times the simulate default, so the benchmark times proofs rather than the cut-off.
MILP_NODE_LIMIT: int = 10_000
SEED: int = 0


def workload(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RouterBench-like N x 11 problem: 0/1 perf from per-LLM skill and per-query difficulty,
    USD cost = per-LLM price x per-query length factor x noise, and budgets of 1 x the cost of
    sending everything to the cheapest LLM split by the weighted rule sqrt(perf / cost)."""
    gen = rng(seed, "synthetic")
    m = SKILL.size
    hard = gen.normal(size=(n, 1))
    logit = np.log(SKILL / (1 - SKILL)) - 1.5 * hard + gen.normal(scale=0.8, size=(n, m))
    perf = (gen.random((n, m)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    cost = PRICE * gen.lognormal(0.0, 0.5, size=(n, 1)) * gen.lognormal(0.0, 0.2, size=(n, m))
    budgets = split_budget(total_budget(cost), perf.mean(axis=0), cost.mean(axis=0), "weighted")
    return perf, cost, budgets


def _measure(kind: str, n: int, seed: int) -> dict[str, object]:
    """One solve in this (fresh) process: its numbers and the process's peak RSS in MiB."""
    from routebench.oracle import solve_lp, solve_lp_reference, solve_milp

    perf, cost, budgets = workload(n, seed)
    row: dict[str, object] = {"problem": kind, "n": n, "m": perf.shape[1]}
    if kind == "milp":
        res = solve_milp(perf, cost, budgets, node_limit=MILP_NODE_LIMIT)
        row.update(method="highs-mip", seconds=res.seconds, objective=res.objective,
                   dual_objective=res.bound, gap=res.gap, status=res.status)
    else:
        solver = solve_lp if kind == "lp" else solve_lp_reference
        res = solver(perf, cost, budgets)
        row.update(method=res.method if kind == "lp" else "highs-full", seconds=res.seconds,
                   objective=res.objective, dual_objective=res.dual_objective, gap=res.gap,
                   status="optimal", free_queries=res.free_queries, rounds=res.rounds)
        row["problem"] = "lp"
        row["method"] = "fast" if kind == "lp" else "reference"
    row["peak_rss_mib"] = peak_rss_mib()
    return row


def scaling_exponent(n: np.ndarray, seconds: np.ndarray) -> float:
    """Least-squares slope of log(seconds) against log(N): time grows like N ** slope."""
    if len(n) < 2:
        return float("nan")
    return float(np.polyfit(np.log(np.asarray(n, float)), np.log(np.asarray(seconds, float)), 1)[0])


def run(
    out_dir: Path,
    sizes: tuple[int, ...] = SIZES,
    *,
    milp_sizes: tuple[int, ...] = MILP_SIZES,
    reference_max: int = REFERENCE_MAX,
    seed: int = SEED,
) -> pd.DataFrame:
    """Measure the LP oracles at ``sizes`` (queries, M = 11) and the MILP at ``milp_sizes``;
    write ``out_dir/lp.csv`` atomically and return the table (seconds, MiB, objectives)."""
    jobs = [("lp", n) for n in sizes]
    jobs += [("reference", n) for n in sizes if n <= reference_max]
    jobs += [("milp", n) for n in milp_sizes]
    rows = []
    with Progress(transient=True) as progress:
        task = progress.add_task("LP / MILP oracles", total=len(jobs))
        for kind, n in jobs:
            progress.update(task, description=f"{kind} N={n:,}")
            rows.append(in_fresh_process(_measure, kind, n, seed))
            progress.advance(task)
    frame = pd.DataFrame(rows)
    frame["scaling_exponent"] = np.nan
    for (problem, method), part in frame.groupby(["problem", "method"]):
        mask = (frame["problem"] == problem) & (frame["method"] == method)
        frame.loc[mask, "scaling_exponent"] = scaling_exponent(part["n"], part["seconds"])
    columns = ["problem", "method", "n", "m", "seconds", "peak_rss_mib", "objective",
               "dual_objective", "gap", "status", "free_queries", "rounds", "scaling_exponent"]
    frame = frame.reindex(columns=columns)
    io.write_with(Path(out_dir) / "lp.csv", lambda p: frame.to_csv(p, index=False))
    return frame


if __name__ == "__main__":
    print(run(Path("results/bench")).to_string(index=False))
