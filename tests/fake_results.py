"""Tiny, realistic results folders in the exact schema of ``docs/CONTRACTS.md``, for tests of
report, plot and sweep that must not depend on the real simulate.

The numbers follow the shape of the paper's Table 1 (PORT near 85 % of C^_opt, the greedy
baselines far below, C_opt near the LP bound) and scale with the budget multiplier and the
test size, so figures over a sweep have a trend. They are deterministic in ``(config, seed)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from routebench import io
from routebench.catalogue import ONLINE, ORACLES
from routebench.config import SimConfig

DEFAULT_MODELS = ("gpt-4", "mixtral", "mistral-7b")

#: Performance of each router as a fraction of the LP bound (Table 1 / C_opt ~ 6377 / 6500).
_PERF_SHARE = {
    "random": 0.21,
    "greedy-perf": 0.155,
    "greedy-cost": 0.25,
    "knn-perf": 0.154,
    "knn-cost": 0.245,
    "batch-split": 0.28,
    "port": 0.42,
    "port-resolve": 0.33,  # below PORT: the report tests' made-up runs keep PORT the best
    "dual-descent": 0.32,
    "approx-opt": 0.49,
    "opt": 0.98,
}
#: Served queries per unit of performance (Table 1: throughput / performance).
_SERVED_PER_PERF = {
    "random": 2.37,
    "greedy-perf": 1.67,
    "greedy-cost": 2.5,
    "knn-perf": 1.67,
    "knn-cost": 2.5,
    "batch-split": 2.1,
    "port": 1.9,
    "port-resolve": 1.94,
    "dual-descent": 1.93,
    "approx-opt": 1.94,
    "opt": 1.01,
}
_SPEND_SHARE = {"greedy-perf": 0.6, "knn-perf": 0.6}


def _rows(router: str, seed: int, metrics: dict[str, float], per_llm: dict[str, np.ndarray],
          models: tuple[str, ...]) -> list[dict]:
    rows = [{"router": router, "seed": seed, "metric": k, "llm": "", "value": float(v)}
            for k, v in metrics.items()]
    for metric, values in per_llm.items():
        rows.extend({"router": router, "seed": seed, "metric": metric, "llm": m,
                     "value": float(v)} for m, v in zip(models, values, strict=True))
    return rows


def fake_frontier(config: SimConfig, models: tuple[str, ...] = DEFAULT_MODELS) -> pd.DataFrame:
    """A made-up offline frontier of the test stream (``frontier.parquet``): concave in the
    total spend, above every fake router at its own spend (the LP value of ``fake_results``
    grows with the square root of the budget; 10 % headroom covers the seeds' noise), and the
    same for every budget of one test stream."""
    m = len(config.models or models)
    unit = 0.046 * config.test_size / 10_000  # total budget of multiplier 1 (USD)
    scale = 1.1 * 6500.0 * config.test_size / 10_000 * (0.6 + 0.4 * m / 11)
    cost = np.linspace(0.0, 3.0 * unit, 121)
    return pd.DataFrame({"cost": cost, "performance": scale * np.sqrt(cost / unit)})


def fake_results(config: SimConfig, models: tuple[str, ...] = DEFAULT_MODELS,
                 milp: bool = True, same_as: dict[str, str] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """(results, trace, total budget in USD) of a made-up run of ``config``. ``same_as`` maps a
    router to another whose rows it repeats exactly (as KNN-Perf repeats Greedy-Perf on
    exact estimates)."""
    models = tuple(config.models or models)
    m = len(models)
    total_budget = 0.046 * config.budget * config.test_size / 10_000
    weights = np.linspace(2.0, 1.0, m)
    budgets = total_budget * weights / weights.sum()
    lp_base = 6500.0 * np.sqrt(config.budget) * config.test_size / 10_000 * (0.6 + 0.4 * m / 11)
    rows: list[dict] = []
    traces = []
    for seed in config.seeds:
        rng = np.random.default_rng([seed, config.test_size, int(config.budget * 1000), m])
        lp = lp_base * (1 + 0.01 * rng.standard_normal())
        milp_value = lp * 0.995
        perf_of = {}
        for router in config.routers:
            noise = 1 + (0.0 if router in ORACLES else 0.04) * rng.standard_normal()
            perf = lp * _PERF_SHARE[router] * noise
            share = _SPEND_SHARE.get(router, 0.97) * (1 + 0.01 * rng.standard_normal())
            spend = budgets * np.clip(share * rng.uniform(0.9, 1.0, m), 0, 1)
            served = np.round(perf * _SERVED_PER_PERF[router] * spend / spend.sum())
            cost = float(spend.sum())
            metrics = {
                "performance": perf,
                "cost": cost,
                "ppc": perf / cost,
                "throughput": float(served.sum()),
                "cr_lp": perf / lp,
                "decision_seconds": 0.01 + 0.001 * rng.random(),
            }
            if milp:
                metrics["cr_milp"] = perf / milp_value
            per_llm = {"spend": spend, "served": served, "budget": budgets}
            if router == "port":
                per_llm["gamma"] = rng.uniform(100, 1000, m)
            perf_of[router] = perf
            rows.extend(_rows(router, seed, metrics, per_llm, models))
            if seed == config.seeds[0]:
                positions = np.linspace(0, config.test_size, 21).astype(np.int64)
                frac = (positions / config.test_size)[:, None] ** rng.uniform(0.7, 1.3, m)
                spend_curve = np.minimum(frac * spend[None, :], budgets[None, :])
                traces.append(pd.DataFrame({
                    "router": router,
                    "seed": seed,
                    "position": np.repeat(positions, m),
                    "llm": np.tile(np.array(models, dtype=object), len(positions)),
                    "spend": spend_curve.reshape(-1),
                }))
        ref = perf_of.get("approx-opt")
        if ref is not None:
            rows.extend({"router": r, "seed": seed, "metric": "relative_performance", "llm": "",
                         "value": p / ref} for r, p in perf_of.items())
        rows.extend(_rows("lp-bound", seed, {"performance": lp, "dual_objective": lp, "gap": 0.0,
                                             "seconds": 0.1},
                          {"gamma": rng.uniform(0, 1, m), "budget": budgets}, models))
        if milp:
            rows.extend(_rows("milp", seed, {"performance": milp_value, "bound": lp,
                                             "gap": 0.005, "seconds": 0.5}, {}, models))
    results = pd.DataFrame(rows, columns=["router", "seed", "metric", "llm", "value"])
    trace = pd.concat(traces, ignore_index=True)
    for copy, source in (same_as or {}).items():
        results = pd.concat([results[results["router"] != copy],
                             results[results["router"] == source].assign(router=copy)],
                            ignore_index=True)
        trace = pd.concat([trace[trace["router"] != copy],
                           trace[trace["router"] == source].assign(router=copy)],
                          ignore_index=True)
    results = results.astype({"seed": "int64", "value": "float64"})
    return results, trace, float(total_budget)


def write_fake_run(root: Path, config: SimConfig, *, models: tuple[str, ...] = DEFAULT_MODELS,
                   milp: bool = True, trace: bool = True, frontier: bool = True,
                   same_as: dict[str, str] | None = None) -> Path:
    """Write a finished run folder for ``config`` at ``root / config.run_key()``; return it.
    ``frontier=False`` leaves out ``frontier.parquet`` (as in runs made before it existed)."""
    run_dir = Path(root) / config.run_key()
    results, trace_frame, total = fake_results(config, models, milp, same_as)
    whole = results[results["llm"] == ""]
    g = whole.groupby(["router", "metric"], sort=False)["value"]
    summary = g.agg(mean="mean", n_seeds="count").reset_index()
    summary["ci_low"] = summary["mean"]
    summary["ci_high"] = summary["mean"]
    io.write_with(run_dir / "results.parquet", lambda p: results.to_parquet(p, index=False))
    if trace:
        io.write_with(run_dir / "trace.parquet", lambda p: trace_frame.to_parquet(p, index=False))
    if frontier:
        front = fake_frontier(config, models)
        io.write_with(run_dir / "frontier.parquet", lambda p: front.to_parquet(p, index=False))
    io.write_with(run_dir / "summary.csv", lambda p: summary.to_csv(p, index=False))
    io.write_text(run_dir / "summary.md", f"# {config.run_key()}\n")
    io.write_json(run_dir / "manifest.json", {
        "run_key": config.run_key(),
        "config": config.key_fields(),
        "git_commit": "fake",
        "versions": {},
        "data_hash": "fake",
        "n_test": config.test_size,
        "models": list(config.models or models),
        "total_budget_usd": total,
        "index": {},
        "seeds_done": list(config.seeds),
    })
    return run_dir


def fake_runner(config: SimConfig, *, data_dir: Path, results_root: Path, force: bool = False,
                progress: bool = True) -> Path:
    """Stands in for ``routebench.simulate.run_simulation``: writes a fake finished folder."""
    return write_fake_run(Path(results_root), config)


def small_config(**changes) -> SimConfig:
    """A tiny config over all routers, three seeds."""
    base = {"dataset": "fake", "seeds": (0, 1, 2), "test_size": 1000}
    base.update(changes)
    return SimConfig(**base)


__all__ = ["ONLINE", "fake_frontier", "fake_results", "fake_runner", "small_config",
           "write_fake_run"]
