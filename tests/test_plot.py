"""Figures drawn headless (Agg) from fake results: checked as figure objects, not pixels."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest
from fake_results import small_config, write_fake_run
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer, ErrorbarContainer
from typer.testing import CliRunner

from routebench import catalogue
from routebench.catalogue import ALL as ALL_ROUTERS
from routebench.cli import app
from routebench.plot import (
    bar_figure,
    best_baseline,
    cost_quality_figure,
    orders_figure,
    param_figure,
    plan_figures,
    plot_runs,
    spend_figure,
)
from routebench.results import load_run, load_runs, router_label

LABELS = [router_label(r) for r in ALL_ROUTERS]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def budget_runs(tmp_path: Path):
    root = tmp_path / "results"
    for b in (0.5, 1.0, 2.0):
        write_fake_run(root, small_config(budget=b))
    return load_runs([root])


def test_backend_is_headless() -> None:
    assert matplotlib.get_backend().lower() == "agg"


def test_every_router_has_its_own_colour() -> None:
    everyone = [e.name for e in catalogue.BUILTIN]
    assert len({catalogue.colour(r) for r in everyone}) == len(everyone)
    assert catalogue.colour("my-plugin") == catalogue.colour("my-plugin")  # stable fallback


def test_bar_figure_one_bar_per_router_with_error_bars(tmp_path: Path) -> None:
    run = load_run(write_fake_run(tmp_path, small_config()))
    fig = bar_figure(run)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["Performance", "PPC", "Throughput"]
    for ax in axes:
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        assert [b.get_label() for b in bars] == LABELS
        assert all(b.errorbar is not None for b in bars)
        assert ax.get_ylabel() and ax.get_xlabel() == "router"
        port = bars[ALL_ROUTERS.index("port")].patches[0]
        assert matplotlib.colors.to_hex(port.get_facecolor()) == catalogue.colour("port")
    assert "95 % CI" in fig._suptitle.get_text()


def test_budget_figure_lines_bands_and_units(budget_runs) -> None:
    fig = param_figure(budget_runs, "budget")
    cr, perf = fig.get_axes()
    for ax in (cr, perf):
        labels = [line.get_label() for line in ax.get_lines()]
        assert labels == LABELS
        assert all(len(line.get_xdata()) == 3 for line in ax.get_lines())
        assert list(ax.get_lines()[0].get_xdata()) == [0.5, 1.0, 2.0]
        assert sum(isinstance(c, PolyCollection) for c in ax.collections) == len(ALL_ROUTERS)
        assert "budget multiplier" in ax.get_xlabel()
    assert "(%)" in cr.get_ylabel()
    # The competitive ratio is drawn in percent of the LP bound.
    port = cr.get_lines()[ALL_ROUTERS.index("port")].get_ydata()
    run = budget_runs[0]
    assert min(port) > 1 and max(port) < 100
    assert run.values("port", "cr_lp").max() < 1


def test_split_figure_is_categorical_with_error_bars(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write_fake_run(root, small_config(split="weighted"))
    write_fake_run(root, small_config(split="extreme", extreme_k=2))
    fig = param_figure(load_runs([root]), "split")
    ax = fig.get_axes()[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["weighted", "extreme2"]
    assert sum(isinstance(c, ErrorbarContainer) for c in ax.containers) == len(ALL_ROUTERS)


def test_models_figure_counts_llms(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write_fake_run(root, small_config(models=("a", "b")))
    write_fake_run(root, small_config(models=("a", "c")))
    write_fake_run(root, small_config(models=("a", "b", "c", "d")))
    fig = param_figure(load_runs([root]), "models")
    line = fig.get_axes()[0].get_lines()[0]
    assert list(line.get_xdata()) == [2, 4]  # two subsets of 2 pooled into one point


def test_orders_figure_a_box_per_router(tmp_path: Path) -> None:
    run = load_run(write_fake_run(tmp_path, small_config(seeds=tuple(range(25)))))
    fig = orders_figure(run)
    ax = fig.get_axes()[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == LABELS
    assert "25 random arrival orders" in ax.get_title()
    assert len(ax.patches) == len(ALL_ROUTERS)


def test_spend_figure_port_and_best_baseline(tmp_path: Path) -> None:
    run = load_run(write_fake_run(tmp_path, small_config()))
    fig = spend_figure(run)
    axes = fig.get_axes()
    best = best_baseline(run)
    assert best not in (None, "port", "approx-opt", "opt")
    assert axes[0].get_title().startswith("PORT")
    assert axes[1].get_title().startswith(router_label(best))
    for ax in axes:
        steps = [ln for ln in ax.get_lines() if ln.get_linestyle() != ":"]
        budgets = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
        assert [ln.get_label() for ln in steps] == list(run.llms)
        assert len(budgets) == len(run.llms)
        assert ax.get_ylabel() == "cumulative spend (USD)"
        # spend never crosses the budget line of its LLM
        for step, budget in zip(steps, budgets, strict=True):
            assert max(step.get_ydata()) <= budget.get_ydata()[0] + 1e-12


def test_cost_quality_frontier_through_lp_bounds(budget_runs) -> None:
    fig = cost_quality_figure(budget_runs)
    ax = fig.get_axes()[0]
    frontier = [ln for ln in ax.get_lines() if "frontier" in ln.get_label()]
    assert len(frontier) == 1 and len(frontier[0].get_xdata()) == 3
    assert sum(isinstance(c, ErrorbarContainer) for c in ax.containers) == len(ALL_ROUTERS)
    assert ax.get_xlabel() == "cost (USD)"


def test_plan_skips_what_the_runs_do_not_support(budget_runs) -> None:
    todo, skipped = plan_figures(budget_runs)
    names = [t[0] for t in todo]
    assert "vs_budget" in names and "cost_quality" in names
    reasons = dict(skipped)
    assert "vs_test_size" in reasons and "orders" in reasons
    assert "20 or more seeds" in reasons["orders"]


def test_plot_runs_writes_png_svg_and_index(tmp_path: Path) -> None:
    run_dir = write_fake_run(tmp_path / "r", small_config())
    out = tmp_path / "fig"
    summary = plot_runs(load_runs([run_dir]), out)
    names = [w[0] for w in summary.written]
    assert names[0].startswith("bars_") and any(n.startswith("spend_") for n in names)
    for _, _, files in summary.written:
        assert sorted(p.suffix for p in files) == [".png", ".svg"]
        assert all(p.stat().st_size > 0 for p in files)
    index = (out / "figures.md").read_text()
    assert "## Skipped" in index and "vs_budget" in index


def test_cli_plot(tmp_path: Path) -> None:
    run_dir = write_fake_run(tmp_path / "r", small_config(), trace=False)
    result = CliRunner().invoke(app, ["plot", str(run_dir), "--out", str(tmp_path / "f")])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "no trace.parquet" in result.output
    assert (tmp_path / "f" / "figures.md").exists()
    result = CliRunner().invoke(app, ["plot", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "no such file" in result.output
