"""Replay a test stream under hard per-LLM budgets through PORT, the baselines and the oracles.

``run_simulation(config)`` goes from an imported dataset to a results folder:
split -> k-NN estimates (built or reused through the build-index code) -> budgets -> for each
seed: a random arrival order, every router's decisions, the serve-or-drop replay, metrics.
The offline LP bound and MILP optimum do not depend on the arrival order, so they are solved
once per distinct budget vector and shared by all seeds.

Folder layout and metric names: see ``docs/CONTRACTS.md``.
"""

from __future__ import annotations

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

from routebench import catalogue, metrics
from routebench.budgets import split_budget, total_budget
from routebench.config import ConfigParamError, SimConfig
from routebench.dataset import RouteTable, dataset_dir, load_table
from routebench.engine import Outcome, cumulative_spend, replay
from routebench.errors import ParamError
from routebench.estimate import EstimateSpec, stream_estimates
from routebench.estimators import EstimatorError
from routebench.estimators import resolve_params as resolve_estimator_params
from routebench.frontier import spend_frontier
from routebench.oracle import (
    LPResult,
    check_milp_solver,
    lp_choices,
    milp_allowed,
    solve_lp,
    solve_milp,
)
from routebench.params import check_top_k
from routebench.results import RunStore
from routebench.routers import (
    OnlineRouter,
    RouterError,
    StreamInput,
    make_router,
    resolve_params,
    router_class,
    router_entry,
)
from routebench.seeding import rngs, stream_rng
from routebench.split import make_split
from routebench.workers import local_pool, stop_pool


def resolve_config(config: SimConfig) -> SimConfig:
    """``config`` with every router's parameters checked and completed by its class
    (``routebench.routers.resolve_params``): unknown routers and bad parameters are refused here,
    before any work, and the run key and manifest hold every parameter the run uses. The MILP
    solver (``milp_solver``) must be one this machine has (``oracle.check_milp_solver``)."""
    check_milp_solver(config.milp_solver, node_limit=True, param="milp_solver",
                      error=ConfigParamError)
    resolved = []
    given = config.router_params_dict()
    for name in config.routers:
        try:
            declared = router_class(name).name if ":" in name else name
            if declared != name and declared in given and name in given:
                raise ConfigParamError(f"router_params.{declared}", f"parameters given both "
                                       f"for {declared!r} and for {name!r}, the same router")
            full = resolve_params(name, given.pop(name, None) or given.pop(declared, None))
        except ParamError:
            raise
        except RouterError as exc:  # an unknown router, or a plug-in that cannot be loaded
            raise ConfigParamError("routers", str(exc)) from None
        if full:
            resolved.append((name, full))
    try:
        estimator_params = resolve_estimator_params(config.estimator,
                                                    dict(config.estimator_params))
    except ParamError:
        raise
    except EstimatorError as exc:  # an unknown estimator, or a plug-in that cannot be loaded
        raise ConfigParamError("estimator", str(exc)) from None
    config = config.with_changes(estimator_params=tuple(sorted(estimator_params.items())))
    if given:
        raise ConfigParamError("router_params", f"parameters given for router "
                               f"{next(iter(given))!r}, which is not in routers "
                               f"{list(config.routers)}")
    return config.with_changes(router_params=tuple(resolved))


def needs_exact_estimates(config: SimConfig) -> bool:
    """Whether a router of ``config`` reads the exact k-NN estimates (KNN-Perf, KNN-Cost)."""
    return any(router_class(r).needs_exact for r in config.routers
               if r not in catalogue.ORACLES)


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
    history: RouteTable
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
                    self.test.perf, self.test.cost, budgets, node_limit=cfg.milp_node_limit,
                    solver=cfg.milp_solver,
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
    check_top_k(config.top_k, table.n - config.test_size, test_size=config.test_size,
                dataset=config.dataset, error=ConfigParamError)
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
    # The embedder, the index (build and search parameters) and top_k, checked before any work.
    spec = EstimateSpec.from_config(config)
    started = time.perf_counter()
    table = load_table(dataset_dir(config.dataset, data_dir))
    timings = {"load_seconds": time.perf_counter() - started}
    check_against_dataset(config, table)
    split = make_split(table.n, config.test_size, config.split_seed)
    verified: dict[str, Any] = {}  # receives the seconds spent verifying cached files
    common: dict[str, Any] = dict(data_dir=data_dir, progress=progress, info=verified,
                                  split_seed=config.split_seed)
    # Estimates are per-LLM means over neighbours, so computing them on every LLM and then
    # selecting a subset's columns equals computing them on the subset; the index is shared.
    started = time.perf_counter()
    perf_hat, cost_hat, descriptor = stream_estimates(table, split, spec, **common)
    timings["estimates_seconds"] = time.perf_counter() - started
    timings["verify_seconds"] = verified["verify_seconds"]
    need_exact = needs_exact_estimates(config)
    exact = None
    if need_exact:
        started = time.perf_counter()
        exact = stream_estimates(table, split, spec, exact=True, **common)
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
        history=history,
        index_descriptor=descriptor,
        timings=timings,
    )


def _rows(router: str, seed: int, whole: dict[str, float], per_llm: dict[str, np.ndarray],
          models: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = [
        {"router": router, "seed": seed, "metric": k, "llm": "", "value": float(v)}
        for k, v in whole.items()
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
    the decision wall time (seconds) and router facts (``info``: PORT's ``gamma``, ...)."""

    choices: np.ndarray
    outcome: Outcome
    seconds: float
    info: dict[str, Any]

    def context(self, perf: np.ndarray, cost: np.ndarray, budgets: np.ndarray,
                **references: float | None) -> metrics.RouterContext:
        """What the metric registry reads of this run (``references``: ``lp_bound``,
        ``milp_optimum``, ``reference``)."""
        return metrics.RouterContext(self.outcome, perf, cost, budgets, self.seconds,
                                     self.info, **references)


def simulate_router(
    name: str,
    stream: StreamInput,
    perf: np.ndarray,
    cost: np.ndarray,
    seed: int,
    *,
    params: dict[str, Any] | None = None,
    oracle: tuple[LPResult, np.ndarray] | None = None,
    every: int = 1,
    quality: bool = False,
) -> RouterRun:
    """Route ``stream`` with router ``name`` (timed: ``decision_seconds``) and replay the
    decisions against the TRUE ``perf`` / ``cost`` (USD) in arrival order.

    A router that draws random numbers gets a fresh Generator of its declared stream of
    ``seed`` (``routebench.seeding.stream_rng``); ``params`` are its parameters. The rounded
    oracles (``approx-opt``, ``opt``) need ``oracle = (lp, order)``: the LP solved on the test
    stream in table order and the arrival order. A router with feedback runs in the engine's
    closed loop (``every`` queries per block; ``quality``: feedback carries realised
    performance), its time including the engine's."""
    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    outcome: Outcome | None = None
    if name in catalogue.ORACLES:
        if oracle is None:
            raise ValueError(f"router {name!r} needs its LP solution (oracle=(lp, order))")
        lp, order = oracle
        choices = lp_choices(lp)[order]
    else:
        router = make_router(name, **(params or {}))
        rng = stream_rng(seed, router.stream) if router.stream is not None else None
        if isinstance(router, OnlineRouter):
            outcome = router.run(stream, perf, cost, rng, every=every, quality=quality,
                                 run_name=name)
            choices = outcome.choices
        else:
            choices = router.route(stream, rng)
        info = dict(getattr(router, "info", {}) or {})
    seconds = time.perf_counter() - t0
    if outcome is None:
        outcome = replay(choices, perf, cost, stream.budgets)
    return RouterRun(choices, outcome, seconds, info)


def run_seed(prep: Prepared, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One seed: arrival order, every router, serve-or-drop, the registry's metrics
    (``routebench.metrics``). Returns (results, trace)."""
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
        history_perf=prep.history.perf,
        history_cost=prep.history.cost,
    )
    runs: dict[str, RouterRun] = {}
    for name in cfg.routers:
        oracle = None
        if name in catalogue.ORACLES:
            lp = bounds["lp_hat"] if name == "approx-opt" else bounds["lp_true"]
            oracle = (lp, order)
        runs[name] = simulate_router(name, stream, perf, cost, seed,
                                     params=cfg.params_of(name), oracle=oracle,
                                     every=cfg.feedback_every,
                                     quality=cfg.feedback == "quality")
    milp = bounds.get("milp")
    references = {
        "lp_bound": float(bounds["lp_true"].objective),
        "milp_optimum": None if milp is None else milp.objective,
        "reference": (runs[catalogue.RELATIVE_TO].context(perf, cost, budgets).performance
                      if catalogue.RELATIVE_TO in runs else None),
    }
    rows: list[dict[str, Any]] = []
    traces: list[pd.DataFrame] = []
    for name, run in runs.items():
        whole, per_llm = metrics.compute("router", run.context(perf, cost, budgets,
                                                               **references))
        rows.extend(_rows(name, seed, whole, per_llm, prep.models))
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
    for bound, result in (("lp-bound", bounds["lp_true"]), ("milp", milp)):
        if result is not None:
            whole, per_llm = metrics.compute(bound, metrics.BoundContext(result, budgets))
            rows.extend(_rows(bound, seed, whole, per_llm, prep.models))
    whole, per_llm = metrics.compute("estimates", metrics.EstimateContext(
        stream.perf_hat, stream.cost_hat, perf, cost))
    rows.extend(_rows("estimates", seed, whole, per_llm, prep.models))
    frame = pd.DataFrame(rows, columns=["router", "seed", "metric", "llm", "value"])
    frame = frame.astype({"seed": "int64", "value": "float64"})
    return frame, pd.concat(traces, ignore_index=True)


# --------------------------------------------------------------------------- seeds
def run_and_store_seed(prep: Prepared, seed: int, store: RunStore) -> tuple[dict[str, float],
                                                                            list[str]]:
    """Run one seed and store it in ``store``. Returns what the seed added to ``prep``'s stage
    timings (seconds) and notes, for a worker to hand back to the parent."""
    before, n_notes = dict(prep.timings), len(prep.notes)
    frame, trace = run_seed(prep, seed)
    store.store_seed(seed, frame, trace)
    added = {k: v - before.get(k, 0.0) for k, v in prep.timings.items()}
    return added, prep.notes[n_notes:]


_WORKER_PREP: Prepared | None = None


def _init_seed_worker(prep: Prepared) -> None:
    global _WORKER_PREP
    _WORKER_PREP = prep


def _seed_in_worker(seed: int, store: RunStore) -> tuple[dict[str, float], list[str]]:
    assert _WORKER_PREP is not None, "worker started without its prepared inputs"
    return run_and_store_seed(_WORKER_PREP, seed, store)


def _run_seeds_in_pool(prep: Prepared, todo: list[int], store: RunStore, jobs: int,
                       done: Callable[[], None]) -> None:
    """Run ``todo`` in a local pool of ``jobs`` workers, each holding a copy of ``prep``.

    The offline bounds of the first seed's budgets are solved here first, so workers share them
    (every seed has the same budgets unless the split is ``random``); each worker's added
    timings and notes are merged back into ``prep`` for the manifest."""
    prep.bounds(prep.budgets(rngs(todo[0])))
    pool = local_pool(min(jobs, len(todo)), initializer=_init_seed_worker, initargs=(prep,))
    try:
        futures = [pool.submit(_seed_in_worker, seed, store) for seed in todo]
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


def simulate_tables(config: SimConfig, *, data_dir: Path = Path("data"),
                    progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run ``config`` in memory and return its tables, writing no run folder: (results in the
    long format of ``results.parquet``, the first seed's cumulative-spend trace). For a
    notebook; ``run_simulation`` is the same run, stored and resumable."""
    prep = prepare(resolve_config(config), data_dir=Path(data_dir), progress=progress)
    frames = [run_seed(prep, seed) for seed in prep.config.seeds]
    return pd.concat([f for f, _ in frames], ignore_index=True), frames[0][1]


# --------------------------------------------------------------------------- run folder
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
    """Run ``config`` and return its folder ``results_root / run_key()`` (``RunStore``; the key
    is that of the resolved config, every router parameter filled in).

    A finished identical config is skipped unless ``force``. Each finished seed is stored in
    ``seeds/`` at once, so an interrupted run resumes where it stopped. ``jobs`` > 1 runs seeds
    in that many local worker processes (``routebench.workers``: they die with this process);
    the results do not depend on it. ``summary.md`` is the report's (``routebench.report.
    write_run_summary``), not written here.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigParamError("jobs", f"must be an integer >= 1, got {jobs!r}")
    console = console or Console(stderr=True)
    config = resolve_config(config)
    store = RunStore(Path(results_root), config)
    if store.is_finished() and not force:  # the manifest is written last
        console.print(f"[dim]{store.path}: already complete (use --force to recompute)[/]",
                      highlight=False)
        return store.path
    started = time.perf_counter()
    # Every refusal (dataset, options, stored artefacts) happens in prepare, before any file of
    # the run is written: a refused run leaves no folder behind.
    prep = prepare(config, data_dir=Path(data_dir), progress=progress)
    if force:
        store.remove()
    created = not store.path.exists()
    try:
        store.begin()
        done = set(store.finished_seeds())
        todo = [s for s in config.seeds if s not in done]
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
                _run_seeds_in_pool(prep, todo, store, jobs, lambda: bar.advance(task))
            else:
                for seed in todo:
                    run_and_store_seed(prep, seed, store)
                    bar.advance(task)
    except BaseException as exc:
        # Keep finished seeds (an interrupted run resumes); leave nothing if none finished.
        if created:
            store.discard_if_empty()
        if store.path.exists():
            interrupted = isinstance(exc, (KeyboardInterrupt, SystemExit))
            store.mark("interrupted" if interrupted else "failed",
                       "" if interrupted else f"{type(exc).__name__}: {exc}")
        raise
    started_frontier = time.perf_counter()
    spend, value = spend_frontier(prep.test.perf, prep.test.cost)
    prep._time("frontier_seconds", time.perf_counter() - started_frontier)
    frontier = pd.DataFrame({"cost": spend, "performance": value})
    calibration = metrics.reliability(prep.perf_hat, prep.test.perf, prep.models)
    store.finish({
        "data_hash": prep.table.content_hash(),
        "n_test": prep.test.n,
        "n_history": prep.table.n - prep.test.n,
        "models": list(prep.models),
        "routers": {name: router_entry(name).to_dict() for name in config.routers},
        "total_budget_usd": prep.total_budget,
        "index": prep.index_descriptor,
        "notes": prep.notes,
        "timings": prep.timings,
        "seconds": time.perf_counter() - started,
    }, frontier=frontier, calibration=calibration)
    return store.path
