"""`routebench simulate`: PORT, the baselines and the offline optima on one configuration."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markdown import Markdown

from routebench.cli.common import app, console, data_dir, handle_errors, results_dir
from routebench.config import SimConfig, parse_routers, parse_seeds
from routebench.oracle import DEFAULT_MILP_NODE_LIMIT


def print_summary(run_dir: Path) -> None:
    """Print a finished run's Table-1-style table (mean ± 95 % CI over seeds)."""
    from routebench.report import build_run_report, run_markdown
    from routebench.results import load_run

    console.print(Markdown(run_markdown(build_run_report(load_run(run_dir)))))


@app.command("simulate")
@handle_errors
def simulate(
    name: str = typer.Argument(..., help="Dataset name (a folder under data/)."),
    budget: float = typer.Option(1.0, help="Multiplier of the cost of the cheapest LLM."),
    split: str = typer.Option("weighted", help="Budget split: weighted, cost, perf, uniform, "
                              "extreme, random."),
    extreme_k: int = typer.Option(1, help="k for the extreme split (1..5)."),
    routers: str = typer.Option("all", help="'all', 'online', or a comma list of routers."),
    eps: float = typer.Option(0.025, help="PORT: fraction of the stream used to learn gamma."),
    alpha: float = typer.Option(1e-4, help="PORT: performance scale in the objective."),
    gamma_solver: str = typer.Option("lbfgsb", help="PORT: 'lbfgsb' (public code) or 'lp' "
                                     "(exact sample dual)."),
    top_k: int = typer.Option(5, help="Nearest historical queries per estimate."),
    seeds: str = typer.Option("0-9", help="Seeds, e.g. '0-9' or '0,3,5-7'."),
    test_size: int = typer.Option(10_000, help="Queries in the test stream."),
    split_seed: int = typer.Option(0, help="Seed of the history / test split."),
    embedder: str = typer.Option("tfidf", help="tfidf, minilm or st:<model-id>."),
    index: str = typer.Option("hnsw", help="flat, hnsw or ivf."),
    models: str = typer.Option("", help="Comma list of LLMs to deploy (default: all)."),
    batch_size: int = typer.Option(256, help="BatchSplit batch size."),
    milp_limit: int = typer.Option(None, help="Solve the exact MILP when N x M is at most this."),
    milp_node_limit: int = typer.Option(DEFAULT_MILP_NODE_LIMIT,
                                        help="MILP branch-and-bound node limit (deterministic)."),
    force: bool = typer.Option(False, "--force", help="Recompute even if the run is complete."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Seeds run at once (local processes); "
                             "results do not depend on it."),
) -> None:
    """Replay the test stream under per-LLM budgets through every router; write results/<key>/."""
    from routebench.simulate import run_simulation

    params = dict(
        dataset=name,
        budget=budget,
        split=split,
        extreme_k=extreme_k,
        routers=parse_routers(routers),
        eps=eps,
        alpha=alpha,
        gamma_solver=gamma_solver,
        top_k=top_k,
        seeds=parse_seeds(seeds),
        test_size=test_size,
        split_seed=split_seed,
        embedder=embedder,
        index=index,
        models=tuple(m.strip() for m in models.split(",") if m.strip()) or None,
        batch_size=batch_size,
        milp_node_limit=milp_node_limit,
    )
    if milp_limit is not None:
        params["milp_limit"] = milp_limit
    config = SimConfig(**params)
    run_dir = run_simulation(
        config, data_dir=data_dir(write=True), results_root=results_dir(), force=force,
        progress=not quiet, jobs=jobs,
    )
    print_summary(run_dir)
    console.print(f"results: {run_dir}/ (results.parquet, summary.csv, summary.md, manifest.json)")
