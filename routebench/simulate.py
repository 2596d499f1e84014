"""Replay a test stream under hard per-LLM budgets through PORT, the baselines and the oracles.

``run_simulation(config)`` goes from an imported dataset to a results folder:
split -> k-NN estimates (built or reused through the build-index code) -> budgets -> for each
seed: a random arrival order, every router's decisions, the serve-or-drop replay, metrics.
The offline LP bound and MILP optimum do not depend on the arrival order, so they are solved
once per distinct budget vector and shared by all seeds.

Folder layout and metric names: see ``docs/CONTRACTS.md``.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from routebench import io
from routebench.budgets import split_budget, total_budget
from routebench.config import ORACLE_ROUTERS, ConfigParamError, SimConfig
from routebench.dataset import RouteTable, dataset_dir, load_table
from routebench.engine import Outcome, cumulative_spend, replay
from routebench.estimate import stream_estimates
from routebench.metrics import (
    competitive_ratio,
    outcome_metrics,
    relative_performance,
    summarise,
)
from routebench.oracle import LPResult, lp_choices, milp_allowed, solve_lp, solve_milp
from routebench.report import build_run_report, run_markdown
from routebench.results import MANIFEST_FILE, RESULTS_FILE, TRACE_FILE, Run, is_run_dir
from routebench.routers import StreamInput, make_router
from routebench.seeding import rngs
from routebench.split import make_split
from routebench.workers import local_pool, stop_pool

SEEDS_DIR = "seeds"
#: Routers that read the exact k-NN estimates.
_EXACT_ROUTERS = ("knn-perf", "knn-cost")
#: Which named random stream each router draws from (``routebench.seeding.STREAMS``).
_ROUTER_STREAM = {"port": "port_learning", "random": "random_router"}


@dataclass
class Prepared:
    """Everything that does not depend on the seed: the test stream, estimates, budgets."""

    config: SimConfig
    table: RouteTable
    test: RouteTable
    perf_hat: np.ndarray
    cost_hat: np.ndarray
    perf_hat_exact: np.ndarray | None
    cost_hat_exact: np.ndarray | None
    hist_mean_perf: np.ndarray
    hist_mean_cost: np.ndarray
    total_budget: float
    index_descriptor: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    #: Wall time (seconds) of each seed-independent stage: loading, estimates, LP solves.
    timings: dict[str, float] = field(default_factory=dict)
    _bounds: dict[bytes, dict[str, Any]] = field(default_factory=dict)

    @property
    def models(self) -> tuple[str, ...]:
        return self.test.models

    def budgets(self, seed_rngs: dict[str, np.random.Generator]) -> np.ndarray:
        """Per-LLM budgets B_i in USD (the ``random`` split draws from the seed's stream)."""
        cfg = self.config
        return split_budget(
            self.total_budget,
            self.hist_mean_perf,
            self.hist_mean_cost,
            cfg.split,
            k=cfg.extreme_k,
            rng=seed_rngs["budget_split"],
        )

    def bounds(self, budgets: np.ndarray) -> dict[str, Any]:
        """LP solutions (true and estimated features) and the MILP optimum for ``budgets``;
        cached, since none of them depends on the arrival order."""
        key = np.ascontiguousarray(budgets).tobytes()
        if key not in self._bounds:
            cfg = self.config
            out: dict[str, Any] = {"lp_true": solve_lp(self.test.perf, self.test.cost, budgets)}
            self._time("lp_bound_seconds", out["lp_true"].seconds)
            if "approx-opt" in cfg.routers:
                out["lp_hat"] = solve_lp(self.perf_hat, self.cost_hat, budgets)
                self._time("lp_estimates_seconds", out["lp_hat"].seconds)
            n, m = self.test.perf.shape
            if milp_allowed(n, m, cfg.milp_limit):
                out["milp"] = solve_milp(
                    self.test.perf, self.test.cost, budgets, node_limit=cfg.milp_node_limit
                )
                self._time("milp_seconds", out["milp"].seconds)
            else:
                note = (
                    f"MILP optimum skipped: N x M = {n} x {m} = {n * m:,} is over the limit "
                    f"{cfg.milp_limit:,} (raise --milp-limit to solve it)"
                )
                if note not in self.notes:
                    self.notes.append(note)
            self._bounds[key] = out
        return self._bounds[key]

    def _time(self, stage: str, seconds: float) -> None:
        self.timings[stage] = self.timings.get(stage, 0.0) + float(seconds)


def check_against_dataset(config: SimConfig, table: RouteTable) -> None:
    """Refuse, before any work, parameters the dataset cannot support: a test size that leaves
    no history, more neighbours than historical queries, unknown or repeated LLM names, and an
    extreme split whose k is not below the number of deployed LLMs."""
    if config.test_size >= table.n:
        raise ConfigParamError(
            "test_size", f"{config.test_size} is too large: dataset {config.dataset!r} has "
            f"{table.n} queries and at least one must remain as history")
    n_history = table.n - config.test_size
    if config.top_k > n_history:
        raise ConfigParamError(
            "top_k", f"{config.top_k} exceeds the {n_history:,} historical queries of dataset "
            f"{config.dataset!r} at test_size {config.test_size}; lower it (or test_size)")
    m = table.m
    if config.models is not None:
        unknown = [name for name in config.models if name not in table.models]
        if unknown:
            raise ConfigParamError(
                "models", f"unknown LLM(s) {unknown}; dataset {config.dataset!r} has "
                f"{list(table.models)}")
        m = len(config.models)
    if config.split == "extreme" and not config.extreme_k < m:
        raise ConfigParamError(
            "extreme_k", f"{config.extreme_k} must be smaller than the number of deployed LLMs "
            f"({m}) for the extreme split")


def prepare(config: SimConfig, *, data_dir: Path, progress: bool = True) -> Prepared:
    """Load the dataset, split it, compute (or reuse) the k-NN estimates and the total budget."""
    started = time.perf_counter()
    table = load_table(dataset_dir(config.dataset, data_dir))
    timings = {"load_seconds": time.perf_counter() - started}
    check_against_dataset(config, table)
    split = make_split(table.n, config.test_size, config.split_seed)
    common = dict(
        embedder=config.embedder,
        embedder_params=dict(config.embedder_params) or None,
        index=config.index,
        index_params=dict(config.index_params) or None,
        top_k=config.top_k,
        data_dir=data_dir,
        progress=progress,
    )
    # Estimates are per-LLM means over neighbours, so computing them on every LLM and then
    # selecting a subset's columns equals computing them on the subset; the index is shared.
    started = time.perf_counter()
    verified: dict[str, Any] = {}
    perf_hat, cost_hat, descriptor = stream_estimates(table, split, info=verified, **common)
    timings["estimates_seconds"] = time.perf_counter() - started
    timings["verify_seconds"] = verified["verify_seconds"]
    need_exact = any(r in config.routers for r in _EXACT_ROUTERS)
    exact = None
    if need_exact:
        started = time.perf_counter()
        exact = stream_estimates(table, split, exact=True, info=verified, **common)
        timings["exact_estimates_seconds"] = time.perf_counter() - started
        timings["verify_seconds"] += verified["verify_seconds"]
    cols = np.arange(table.m)
    if config.models is not None:
        subset = table.select_models(list(config.models))  # validates the names
        cols = np.array([table.models.index(m) for m in subset.models])
        table = subset
    history, test = split.tables(table)
    return Prepared(
        config=config,
        table=table,
        test=test,
        perf_hat=perf_hat[:, cols],
        cost_hat=cost_hat[:, cols],
        perf_hat_exact=None if exact is None else exact[0][:, cols],
        cost_hat_exact=None if exact is None else exact[1][:, cols],
        hist_mean_perf=history.mean_perf(),
        hist_mean_cost=history.mean_cost(),
        total_budget=total_budget(test.cost, config.budget),
        index_descriptor=descriptor,
        timings=timings,
    )


def _rows(router: str, seed: int, metrics: dict[str, float], per_llm: dict[str, np.ndarray],
          models: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = [
        {"router": router, "seed": seed, "metric": k, "llm": "", "value": float(v)}
        for k, v in metrics.items()
    ]
    for metric, values in per_llm.items():
        rows.extend(
            {"router": router, "seed": seed, "metric": metric, "llm": m, "value": float(v)}
            for m, v in zip(models, values, strict=True)
        )
    return rows


@dataclass
class RouterRun:
    """One router over one arrival-ordered stream: its decisions, their serve-or-drop replay,
    the whole-stream and per-LLM metrics, the decision wall time (seconds) and router facts
    (``info``: PORT's ``gamma``, ...)."""

    choices: np.ndarray
    outcome: Outcome
    metrics: dict[str, float]
    per_llm: dict[str, np.ndarray]
    seconds: float
    info: dict[str, Any]


def simulate_router(
    name: str,
    stream: StreamInput,
    perf: np.ndarray,
    cost: np.ndarray,
    seed_rngs: dict[str, np.random.Generator],
    *,
    params: dict[str, Any] | None = None,
    oracle: tuple[LPResult, np.ndarray] | None = None,
) -> RouterRun:
    """Route ``stream`` with router ``name`` (timed: ``decision_seconds``), replay the decisions
    against the TRUE ``perf`` / ``cost`` (USD) in arrival order, and compute the metrics.

    ``seed_rngs`` are the seed's named streams (``routebench.seeding.rngs``); ``params`` the
    router's parameters. The rounded oracles (``approx-opt``, ``opt``) need ``oracle = (lp,
    order)``: the LP solved on the test stream in table order and the arrival order."""
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    if name in ORACLE_ROUTERS:
        if oracle is None:
            raise ValueError(f"router {name!r} needs its LP solution (oracle=(lp, order))")
        lp, order = oracle
        choices = lp_choices(lp)[order]
    else:
        router = make_router(name, **(params or {}))
        choices = router.route(stream, seed_rngs.get(_ROUTER_STREAM.get(name, ""), None))
        info = dict(getattr(router, "info", {}) or {})
    seconds = time.perf_counter() - t0
    outcome = replay(choices, perf, cost, stream.budgets)
    metrics, per_llm = outcome_metrics(outcome, perf, cost)
    metrics["decision_seconds"] = seconds
    # BatchSplit: batches solved, and those its (deterministic) node limit stopped
    for key in ("batches", "limit_batches"):
        if key in info:
            metrics[key] = float(info[key])
    return RouterRun(choices, outcome, metrics, per_llm, seconds, info)


def run_seed(prep: Prepared, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One seed: arrival order, every router, serve-or-drop, metrics. Returns (results, trace)."""
    cfg = prep.config
    streams = rngs(seed)
    budgets = prep.budgets(streams)
    bounds = prep.bounds(budgets)
    order = streams["arrival_order"].permutation(prep.test.n)
    perf, cost = prep.test.perf[order], prep.test.cost[order]

    def permuted(a: np.ndarray | None) -> np.ndarray | None:
        return None if a is None else a[order]

    stream = StreamInput(
        perf_hat=prep.perf_hat[order],
        cost_hat=prep.cost_hat[order],
        perf_hat_exact=permuted(prep.perf_hat_exact),
        cost_hat_exact=permuted(prep.cost_hat_exact),
        budgets=budgets,
        models=prep.models,
    )
    lp_value = float(bounds["lp_true"].objective)
    milp = bounds.get("milp")
    rows: list[dict[str, Any]] = []
    traces: list[pd.DataFrame] = []
    perf_of: dict[str, float] = {}
    for name in cfg.routers:
        oracle = None
        if name in ORACLE_ROUTERS:
            lp = bounds["lp_hat"] if name == "approx-opt" else bounds["lp_true"]
            oracle = (lp, order)
        run = simulate_router(name, stream, perf, cost, streams, params=_router_params(cfg, name),
                              oracle=oracle)
        metrics, per_llm = run.metrics, run.per_llm
        metrics["cr_lp"] = competitive_ratio(metrics["performance"], lp_value)
        if milp is not None:
            metrics["cr_milp"] = competitive_ratio(metrics["performance"], milp.objective)
        per_llm["budget"] = budgets
        if "gamma" in run.info:
            per_llm["gamma"] = np.asarray(run.info["gamma"], dtype=float)
        perf_of[name] = metrics["performance"]
        rows.extend(_rows(name, seed, metrics, per_llm, prep.models))
        positions, spend = cumulative_spend(run.outcome, cost)
        traces.append(
            pd.DataFrame(
                {
                    "router": name,
                    "seed": seed,
                    "position": np.repeat(positions, len(prep.models)),
                    "llm": np.tile(np.array(prep.models, dtype=object), len(positions)),
                    "spend": spend.reshape(-1),
                }
            )
        )
    ref = perf_of.get("approx-opt")
    if ref is not None:
        rows.extend(
            {
                "router": name,
                "seed": seed,
                "metric": "relative_performance",
                "llm": "",
                "value": relative_performance(perf_of[name], ref),
            }
            for name in cfg.routers
        )
    lp = bounds["lp_true"]
    rows.extend(
        _rows(
            "lp-bound",
            seed,
            {"performance": lp.objective, "dual_objective": lp.dual_objective, "gap": lp.gap,
             "seconds": lp.seconds},
            {"gamma": np.asarray(lp.gamma, dtype=float), "budget": budgets},
            prep.models,
        )
    )
    if milp is not None:
        rows.extend(
            _rows(
                "milp",
                seed,
                {"performance": milp.objective, "bound": milp.bound, "gap": milp.gap,
                 "limit_hit": float(milp.limit_hit), "nodes": float(milp.nodes),
                 "seconds": milp.seconds},
                {},
                prep.models,
            )
        )
    frame = pd.DataFrame(rows, columns=["router", "seed", "metric", "llm", "value"])
    frame = frame.astype({"seed": "int64", "value": "float64"})
    return frame, pd.concat(traces, ignore_index=True)


def _router_params(cfg: SimConfig, name: str) -> dict[str, Any]:
    if name == "port":
        return {"eps": cfg.eps, "alpha": cfg.alpha, "gamma_solver": cfg.gamma_solver}
    if name == "batch-split":
        return {"batch_size": cfg.batch_size}
    return {}


# --------------------------------------------------------------------------- seeds
def run_and_store_seed(prep: Prepared, seed: int, seeds_dir: Path) -> tuple[dict[str, float],
                                                                             list[str]]:
    """Run one seed and store ``<seed>.trace.parquet`` then ``<seed>.parquet`` (whose presence
    marks the seed finished). Returns what the seed added to ``prep``'s stage timings (seconds)
    and notes, for a worker to hand back to the parent."""
    before, n_notes = dict(prep.timings), len(prep.notes)
    frame, trace = run_seed(prep, seed)
    io.write_with(seeds_dir / f"{seed}.trace.parquet", lambda p: trace.to_parquet(p, index=False))
    io.write_with(seeds_dir / f"{seed}.parquet", lambda p: frame.to_parquet(p, index=False))
    added = {k: v - before.get(k, 0.0) for k, v in prep.timings.items()}
    return added, prep.notes[n_notes:]


_WORKER_PREP: Prepared | None = None


def _init_seed_worker(prep: Prepared) -> None:
    global _WORKER_PREP
    _WORKER_PREP = prep


def _seed_in_worker(seed: int, seeds_dir: str) -> tuple[dict[str, float], list[str]]:
    assert _WORKER_PREP is not None, "worker started without its prepared inputs"
    return run_and_store_seed(_WORKER_PREP, seed, Path(seeds_dir))


def _run_seeds_in_pool(prep: Prepared, todo: list[int], seeds_dir: Path, jobs: int,
                       done: Callable[[], None]) -> None:
    """Run ``todo`` in a local pool of ``jobs`` workers, each holding a copy of ``prep``.

    The offline bounds of the first seed's budgets are solved here first, so workers share them
    (every seed has the same budgets unless the split is ``random``); each worker's added
    timings and notes are merged back into ``prep`` for the manifest."""
    prep.bounds(prep.budgets(rngs(todo[0])))
    pool = local_pool(min(jobs, len(todo)), initializer=_init_seed_worker, initargs=(prep,))
    try:
        futures = [pool.submit(_seed_in_worker, seed, str(seeds_dir)) for seed in todo]
        for fut in as_completed(futures):
            added, notes = fut.result()
            for stage, seconds in added.items():
                prep._time(stage, seconds)
            prep.notes.extend(n for n in notes if n not in prep.notes)
            done()
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


# --------------------------------------------------------------------------- run folder
def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _versions() -> dict[str, str]:
    out = {}
    for pkg in ("routebench", "numpy", "scipy", "pandas", "pyarrow", "faiss-cpu", "highspy",
                "scikit-learn", "numba"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def run_simulation(
    config: SimConfig,
    *,
    data_dir: Path = Path("data"),
    results_root: Path = Path("results"),
    force: bool = False,
    progress: bool = True,
    console: Console | None = None,
    jobs: int = 1,
) -> Path:
    """Run ``config`` and return its folder ``results_root / config.run_key()``.

    A finished identical config is skipped unless ``force``. Each finished seed is stored in
    ``seeds/`` at once, so an interrupted run resumes where it stopped. ``jobs`` > 1 runs seeds
    in that many local worker processes (``routebench.workers``: they die with this process);
    the results do not depend on it.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigParamError("jobs", f"must be an integer >= 1, got {jobs!r}")
    console = console or Console(stderr=True)
    run_dir = Path(results_root) / config.run_key()
    if is_run_dir(run_dir) and not force:  # the manifest is written last
        console.print(f"[dim]{run_dir}: already complete (use --force to recompute)[/]")
        return run_dir
    started = time.perf_counter()
    # Every refusal (dataset, options, stored artefacts) happens in prepare, before any file of
    # the run is written: a refused run leaves no folder behind.
    prep = prepare(config, data_dir=Path(data_dir), progress=progress)
    if force and run_dir.exists():
        shutil.rmtree(run_dir)
    seeds_dir = run_dir / SEEDS_DIR
    created = not run_dir.exists()
    try:
        seeds_dir.mkdir(parents=True, exist_ok=True)
        io.write_json(run_dir / "config.json", config.key_fields())
        todo = [s for s in config.seeds if not (seeds_dir / f"{s}.parquet").exists()]
        with Progress(
            TextColumn("[bold]simulate[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not progress,
            transient=True,
        ) as bar:
            task = bar.add_task(config.run_key(), total=len(config.seeds),
                                completed=len(config.seeds) - len(todo))
            if jobs > 1 and len(todo) > 1:
                _run_seeds_in_pool(prep, todo, seeds_dir, jobs, lambda: bar.advance(task))
            else:
                for seed in todo:
                    run_and_store_seed(prep, seed, seeds_dir)
                    bar.advance(task)
    except BaseException:
        # Keep finished seeds (an interrupted run resumes); leave nothing if none finished.
        if created and not any(seeds_dir.glob("*.parquet")):
            shutil.rmtree(run_dir, ignore_errors=True)
        raise

    results = pd.concat(
        [pd.read_parquet(seeds_dir / f"{s}.parquet") for s in config.seeds], ignore_index=True
    )
    first = config.seeds[0]
    trace = pd.read_parquet(seeds_dir / f"{first}.trace.parquet")
    summary = summarise(results[results["llm"] == ""])
    io.write_with(run_dir / RESULTS_FILE, lambda p: results.to_parquet(p, index=False))
    io.write_with(run_dir / TRACE_FILE, lambda p: trace.to_parquet(p, index=False))
    io.write_with(run_dir / "summary.csv", lambda p: summary.to_csv(p, index=False))
    manifest = {
        "run_key": config.run_key(),
        "config": config.key_fields(),
        "git_commit": _git_commit(),
        "versions": _versions(),
        "data_hash": prep.table.content_hash(),
        "n_test": prep.test.n,
        "n_history": prep.table.n - prep.test.n,
        "models": list(prep.models),
        "total_budget_usd": prep.total_budget,
        "index": prep.index_descriptor,
        "seeds_done": list(config.seeds),
        "notes": prep.notes,
        "timings": prep.timings,
        "seconds": time.perf_counter() - started,
    }
    run = Run(path=run_dir, manifest=manifest, results=results, trace=trace, summary=summary)
    io.write_text(run_dir / "summary.md", run_markdown(build_run_report(run), level=1))
    io.write_json(run_dir / MANIFEST_FILE, manifest)  # last: marks the run complete
    return run_dir
