"""Routing speed: PORT's decision throughput and single-query latency, the serve-or-drop replay,
the closed-loop engine's own cost per query (a Python router that does nothing, in blocks of 1
and 64 queries), and every online router's wall time, decisions and serve-or-drop, at N =
10,000 and N = 1,000,000 queries (M = 11 LLMs).

``run(out_dir)`` writes ``out_dir/routing.csv`` (atomically) and returns the same frame, one row
per measurement: ``benchmark``, ``router``, ``n`` (queries), ``m`` (LLMs), ``value``, ``unit``,
``target`` (NaN when there is none) and ``meets_target``. Inputs are synthetic estimates drawn
from a fixed seed; only speed is measured here, not routing quality.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from routebench import io
from routebench.budgets import split_budget, total_budget
from routebench.engine import replay, serve_or_drop
from routebench.routers import (
    ROUTERS,
    OnlineRouter,
    StreamInput,
    make_router,
    port_decide,
    port_decisions,
)
from routebench.seeding import rngs, stream_rng

OUT_FILE = "routing.csv"
M = 11
N_LARGE = 1_000_000
N_SMALL = 10_000
#: Routers too slow to time on the large stream (one MILP per 256 queries).
SMALL_ONLY = ("batch-split",)
#: Single-query decisions timed for the latency percentiles.
LATENCY_SAMPLES = 20_000
SEED = 20250
ALPHA = 1e-4


def _stream(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, StreamInput]:
    """True costs, true performance and an estimate stream of n queries (RouterBench-like
    spread: mean costs over 2 orders of magnitude, USD)."""
    g = rngs(seed)["synthetic"]
    mean_cost = np.geomspace(4.6e-5, 3.3e-3, M)
    quality = np.linspace(0.2, 0.8, M)
    p_true = np.clip(quality + g.uniform(-0.3, 0.3, size=(n, 1)), 0.0, 1.0)
    perf = (g.random((n, M)) < p_true).astype(np.float64)
    cost = mean_cost * g.uniform(0.5, 1.5, size=(n, M))
    perf_hat = np.clip(p_true + g.normal(0.0, 0.15, size=(n, M)), 0.0, 1.0)
    cost_hat = cost * g.lognormal(0.0, 0.2, size=(n, M))
    budgets = split_budget(total_budget(cost, 1.0), quality, mean_cost, "weighted")
    models = tuple(f"llm{i}" for i in range(M))
    # The exact-k-NN estimates only change values, not speed: reuse the same arrays; the
    # historical log (the routers with feedback read it for their prior) is a quarter as long.
    h = max(n // 4, 1)
    return perf, cost, StreamInput(perf_hat, cost_hat, budgets, models, perf_hat, cost_hat,
                                   history_perf=perf[:h], history_cost=cost[:h])


class _Idle(OnlineRouter):
    """A Python router with feedback that does nothing: what it costs is the engine's loop."""

    name = "idle"

    def decide(self, start: int, perf_hat: np.ndarray, cost_hat: np.ndarray) -> Any:
        return -1 if perf_hat.shape[0] == 1 else np.full(perf_hat.shape[0], -1)


def _best_of(fn: Callable[[], object], repeats: int = 3) -> float:
    """Fastest of ``repeats`` wall times in seconds (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _row(benchmark: str, router: str, n: int, value: float, unit: str,
         target: float = float("nan"), higher_is_better: bool = False) -> dict[str, object]:
    if np.isnan(target):
        meets: object = pd.NA
    else:
        meets = bool(value >= target) if higher_is_better else bool(value <= target)
    return {"benchmark": benchmark, "router": router, "n": n, "m": M, "value": float(value),
            "unit": unit, "target": target, "meets_target": meets}


def run(out_dir: Path) -> pd.DataFrame:
    """Run every routing speed measurement and write ``out_dir/routing.csv``."""
    out_dir = Path(out_dir)
    rows: list[dict[str, object]] = []
    streams = {n: _stream(n, SEED) for n in (N_SMALL, N_LARGE)}
    jobs = [("PORT decisions", None), ("PORT latency", None), ("serve-or-drop", None),
            ("closed loop", None)]
    jobs += [(name, n) for n in (N_SMALL, N_LARGE) for name in ROUTERS
             if n == N_SMALL or name not in SMALL_ONLY]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("routing benchmark", total=len(jobs))

        def step(label: str) -> None:
            progress.update(task, description=f"routing benchmark: {label}")

        perf, cost, stream = streams[N_LARGE]
        gamma = np.linspace(0.05, 0.5, M)

        step("PORT decisions at 1M")
        seconds = _best_of(lambda: port_decisions(stream.perf_hat, stream.cost_hat, gamma, ALPHA))
        rows.append(_row("port_decisions_per_second", "port", N_LARGE, N_LARGE / seconds,
                         "queries/s", 1e6, higher_is_better=True))
        progress.advance(task)

        step("PORT single-query latency")
        lat = np.empty(LATENCY_SAMPLES)
        for k in range(LATENCY_SAMPLES):  # one query at a time is what is being measured
            p, c = stream.perf_hat[k], stream.cost_hat[k]
            t0 = time.perf_counter_ns()
            port_decide(p, c, gamma, ALPHA)
            lat[k] = time.perf_counter_ns() - t0
        lat_ms = lat / 1e6
        rows.append(_row("port_single_query_p50", "port", 1, np.percentile(lat_ms, 50), "ms"))
        rows.append(_row("port_single_query_p99", "port", 1, np.percentile(lat_ms, 99), "ms", 1.0))
        progress.advance(task)

        step("serve-or-drop at 1M")
        choices = make_router("random").route(stream, rngs(SEED)["random_router"])
        rows.append(_row("serve_or_drop_seconds", "", N_LARGE,
                         _best_of(lambda: serve_or_drop(choices, cost, stream.budgets)), "s", 0.5))
        rows.append(_row("replay_seconds", "", N_LARGE,
                         _best_of(lambda: replay(choices, perf, cost, stream.budgets)), "s", 0.5))
        progress.advance(task)

        step("closed-loop engine at 1M")
        for every in (1, 64):
            seconds = _best_of(lambda e=every: _Idle().run(stream, perf, cost, every=e))
            rows.append(_row(f"closed_loop_us_per_query_every_{every}", "idle", N_LARGE,
                             seconds / N_LARGE * 1e6, "us/query"))
        progress.advance(task)

        for name, n in jobs[4:]:
            step(f"{name} at N = {n:,}")
            p_n, c_n, s = streams[n]
            router = make_router(name)
            rng = stream_rng(SEED, router.stream) if router.stream else None
            t0 = time.perf_counter()
            router.run(s, p_n, c_n, rng)  # decisions and their serve-or-drop
            rows.append(_row("run_seconds", name, n, time.perf_counter() - t0, "s"))
            progress.advance(task)

    frame = pd.DataFrame(rows)
    io.write_with(out_dir / OUT_FILE, lambda p: frame.to_csv(p, index=False))
    return frame


if __name__ == "__main__":
    import sys

    print(run(Path(sys.argv[1] if len(sys.argv) > 1 else "results/bench")).to_string(index=False))
