"""`routebench simulate`: PORT, the baselines and the offline optima on one configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer
import yaml

from routebench.budgets import SPLITS
from routebench.catalogue import GAMMA_SOLVERS
from routebench.cli import index as shared
from routebench.cli.common import app, console, data_dir, handle_errors, results_dir
from routebench.cli.index import IndexName
from routebench.config import (
    DEFAULT_MILP_NODE_LIMIT,
    FEEDBACK_KINDS,
    ConfigParamError,
    SimConfig,
    fold_router_params,
    parse_routers,
    parse_seeds,
)


def print_summary(run_dir: Path) -> None:
    """Print a finished run's Table-1-style table (mean ± 95 % CI over seeds), fitted to the
    terminal's width, as ``routebench report`` does."""
    from routebench.report import build_run_report, print_run
    from routebench.results import load_run

    print_run(build_run_report(load_run(run_dir)), console)


def router_params(items: list[str], **shorthands: object) -> dict[str, dict[str, object]]:
    """``--router-param ROUTER.PARAM=VALUE`` items and the shorthand flags given (``--eps``,
    ``--alpha``, ``--gamma-solver``, ``--batch-size``) as ``{router: {param: value}}``."""
    given: dict[str, object] = {k: v for k, v in shorthands.items() if v is not None}
    for item in items:
        key, sep, text = item.partition("=")
        router, dot, param = key.strip().rpartition(".")
        if not sep or not dot or not router or not param:
            raise ConfigParamError("router_param", f"{item!r}: expected ROUTER.PARAM=VALUE, "
                                   "e.g. port.eps=0.1")
        try:
            given[f"{router}.{param}"] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigParamError("router_param", f"{item!r}: the value is not valid YAML "
                                   f"({exc})") from None
    return fold_router_params(given).get("router_params", {})


def key_values(items: list[str], param: str, example: str) -> dict[str, object]:
    """``KEY=VALUE`` items as a dict, each value read as YAML."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigParamError(param, f"{item!r}: expected KEY=VALUE, e.g. {example}")
        try:
            out[key.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigParamError(param, f"{item!r}: the value is not valid YAML ({exc})") \
                from None
    return out


@app.command("simulate")
@handle_errors
def simulate(
    name: str = typer.Argument(..., help="Dataset name (a folder under data/)."),
    budget: float = typer.Option(1.0, help="Multiplier of the cost of the cheapest LLM."),
    split: Literal[SPLITS] = typer.Option(  # type: ignore[valid-type]
        "weighted", case_sensitive=False, help="Budget split across LLMs."),
    extreme_k: int = typer.Option(1, help="k for the extreme split (1..5)."),
    routers: str = typer.Option("all", help="'all', 'online', or a comma list of routers."),
    eps: float = typer.Option(None, help="PORT: fraction of the stream used to learn gamma "
                              "(0.025); same as --router-param port.eps=..."),
    alpha: float = typer.Option(None, help="PORT: performance scale in the objective (1e-4)."),
    gamma_solver: Literal[GAMMA_SOLVERS] | None = typer.Option(  # type: ignore[valid-type]
        None, case_sensitive=False, help="PORT: 'lbfgsb' (public code, the default) or 'lp' "
        "(exact sample dual)."),
    top_k: int = shared.TOP_K,
    seeds: str = typer.Option("0-9", help="Seeds, e.g. '0-9' or '0,3,5-7'."),
    test_size: int = typer.Option(10_000, help="Queries in the test stream."),
    split_seed: int = typer.Option(0, help="Seed of the history / test split."),
    embedder: str = shared.EMBEDDER,
    index: IndexName = shared.INDEX,
    dim: int | None = shared.DIM,
    hnsw_m: int | None = shared.HNSW_M,
    ef_construction: int | None = shared.EF_CONSTRUCTION,
    ef_search: int | None = shared.EF_SEARCH,
    nlist: int | None = shared.NLIST,
    nprobe: int | None = shared.NPROBE,
    pq: bool = shared.PQ,
    pq_m: int | None = shared.PQ_M,
    models: str = typer.Option("", help="Comma list of LLMs to deploy (default: all)."),
    batch_size: int = typer.Option(None, help="BatchSplit batch size (256)."),
    router_param: list[str] = typer.Option(
        [], "--router-param", help="A router's parameter, ROUTER.PARAM=VALUE, e.g. "
        "port.eps=0.1 or batch-split.node_limit=500 (repeatable; values read as YAML)."),
    milp_limit: int = typer.Option(None, help="Solve the exact MILP when N x M is at most this."),
    milp_node_limit: int = typer.Option(DEFAULT_MILP_NODE_LIMIT,
                                        help="MILP branch-and-bound node limit (deterministic)."),
    milp_solver: str = typer.Option(
        "highs", help="Solver of the exact MILP: 'highs', 'pulp' (PuLP's bundled CBC) or "
        "'pulp:SOLVER' (a PuLP solver, e.g. pulp:GUROBI_CMD). BatchSplit's: --router-param "
        "batch-split.solver=pulp."),
    estimator: str = typer.Option(
        "knn-mean", help="The estimator of each query's per-LLM performance and cost: "
        "knn-mean (the paper's), knn-weighted, knn-shrink, linear, ensemble, or a plug-in "
        "module:Class (docs/ESTIMATORS.md)."),
    estimator_param: list[str] = typer.Option(
        [], "--estimator-param", help="An estimator parameter, KEY=VALUE, e.g. strength=0.5 "
        "(repeatable; values read as YAML)."),
    feedback_every: int = typer.Option(
        1, "--feedback-every", help="Routers with feedback (port-resolve, dual-descent, "
        "plug-ins): queries per decision block; the bill comes back after each block."),
    feedback: Literal[FEEDBACK_KINDS] = typer.Option(  # type: ignore[valid-type]
        "cost", case_sensitive=False, help="What their feedback carries: 'cost' (served or "
        "not, realised USD cost, remaining budgets) or 'quality' (also realised performance)."),
    force: bool = typer.Option(False, "--force", help="Recompute even if the run is complete."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Seeds run at once (local processes); "
                             "results do not depend on it."),
) -> None:
    """Replay the test stream under per-LLM budgets through every router; write results/<key>/."""
    from routebench.simulate import run_simulation

    embedder_params, index_params = shared.estimate_params(
        embedder, index, dim=dim, m=hnsw_m, ef_construction=ef_construction,
        ef_search=ef_search, nlist=nlist, nprobe=nprobe, pq=pq, pq_m=pq_m,
    )
    params = dict(
        dataset=name,
        budget=budget,
        split=split,
        extreme_k=extreme_k,
        routers=parse_routers(routers),
        router_params=router_params(router_param, eps=eps, alpha=alpha,
                                    gamma_solver=gamma_solver, batch_size=batch_size),
        top_k=top_k,
        seeds=parse_seeds(seeds),
        test_size=test_size,
        split_seed=split_seed,
        embedder=embedder,
        embedder_params=embedder_params,
        index=index,
        index_params=index_params,
        models=tuple(m.strip() for m in models.split(",") if m.strip()) or None,
        milp_node_limit=milp_node_limit,
        milp_solver=milp_solver,
        estimator=estimator,
        estimator_params=key_values(estimator_param, "estimator_param", "strength=0.5"),
        feedback_every=feedback_every,
        feedback=feedback,
    )
    if milp_limit is not None:
        params["milp_limit"] = milp_limit
    config = SimConfig(**params)
    run_dir = run_simulation(
        config, data_dir=data_dir(write=True), results_root=results_dir(), force=force,
        progress=not quiet, jobs=jobs,
    )
    from routebench.report import write_run_summary

    write_run_summary(run_dir)
    print_summary(run_dir)
    console.print(f"results: {run_dir}/ (results.parquet, summary.csv, summary.md, manifest.json)",
                  highlight=False)
