"""Figures drawn headless (Agg) from fake results: checked as figure objects, not pixels (one
small real run checks the frontier)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from fake_results import small_config, write_fake_run
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.lines import Line2D
from matplotlib.text import Text
from typer.testing import CliRunner

from routebench import catalogue
from routebench.catalogue import ALL as ALL_ROUTERS
from routebench.catalogue import ONLINE, ORACLES
from routebench.cli import app
from routebench.plot import (
    COLUMN_WIDTH,
    MIN_FONT_PT,
    TEXT_WIDTH,
    bar_figure,
    best_baseline,
    cost_quality_figure,
    figure_label,
    figure_notes,
    orders_figure,
    param_figure,
    plan_figures,
    plot_runs,
    router_style,
    save_figure,
    spend_figure,
)
from routebench.results import load_run, load_runs

ONLINE_LABELS = [figure_label(r) for r in ONLINE]
C_HAT = r"$\hat{C}_{\mathrm{opt}}$"
C_OPT = r"$C_{\mathrm{opt}}$"


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


@pytest.fixture
def one_run(tmp_path: Path):
    return load_run(write_fake_run(tmp_path, small_config(
        router_params={"port": {"eps": 0.05}})))


def series(ax) -> dict[str, ErrorbarContainer]:
    """The error-bar series of an axes, by legend label."""
    return {c.get_label(): c for c in ax.containers if isinstance(c, ErrorbarContainer)}


def references(ax) -> dict[str, Line2D]:
    return {ln.get_label(): ln for ln in ax.get_lines()
            if str(ln.get_gid() or "").startswith("reference:")}


def legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def assert_print_ready(fig, width: float) -> None:
    """The figure is its print width, every text is at least 7 pt and nothing sticks out."""
    assert fig.get_size_inches()[0] == pytest.approx(width)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip():
            assert text.get_fontsize() >= MIN_FONT_PT, (text.get_text(), text.get_fontsize())
    shown = [*fig.texts, *(t for leg in fig.legends for t in leg.get_texts())]
    for ax in fig.get_axes():
        if not ax.get_visible():
            continue
        shown += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label,
                  *ax.texts]
        for i, axis in enumerate((ax.xaxis, ax.yaxis)):  # the tick labels drawn (in view)
            low, high = sorted(axis.get_view_interval())
            shown += [label for label in axis.get_majorticklabels()
                      if low - 1e-9 <= label.get_position()[i] <= high + 1e-9]
    box = fig.bbox
    for text in shown:
        if not (text.get_visible() and text.get_text().strip()):
            continue
        ext = text.get_window_extent(renderer)
        assert box.x0 - 1 <= ext.x0 and ext.x1 <= box.x1 + 1, text.get_text()
        assert box.y0 - 1 <= ext.y0 and ext.y1 <= box.y1 + 1, text.get_text()


def test_backend_is_headless() -> None:
    assert matplotlib.get_backend().lower() == "agg"


def test_every_router_has_its_own_colour_marker_and_line_style() -> None:
    everyone = [e.name for e in catalogue.BUILTIN]
    assert len({catalogue.colour(r) for r in everyone}) == len(everyone)
    assert catalogue.colour("my-plugin") == catalogue.colour("my-plugin")  # stable fallback
    assert len({router_style(r)["marker"] for r in everyone}) == len(everyone)
    for a, b in (("greedy-perf", "knn-perf"), ("greedy-cost", "knn-cost")):
        assert router_style(a)["linestyle"] != router_style(b)["linestyle"]
    assert router_style("my-plugin") == router_style("my-plugin")
    assert figure_label("approx-opt") == C_HAT and figure_label("opt") == C_OPT
    assert figure_label("x", {"x": {"label": "cost $5"}}) == r"cost \$5"  # text, not math


def test_bar_figure_online_bars_and_oracle_reference_lines(one_run) -> None:
    fig = bar_figure(one_run)
    axes = fig.get_axes()
    assert [ax.get_title(loc="left") for ax in axes] == ["Performance", "PPC", "Throughput"]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ONLINE_LABELS
    for ax in axes:
        bars = [c for c in ax.containers if isinstance(c, BarContainer)]
        assert [b.get_label() for b in bars] == ONLINE_LABELS  # no bar for an oracle
        assert all(b.errorbar is not None for b in bars)
        port = bars[ONLINE.index("port")].patches[0]
        assert matplotlib.colors.to_hex(port.get_facecolor()) == catalogue.colour("port")
    perf = axes[0]
    # C^_opt (~0.49 of the LP bound) lies within the online range (PORT ~0.42): a line;
    # C_opt (~0.98) and the LP bound would squash the bars: named with their values instead
    assert list(references(perf)) == [C_HAT]
    assert perf.get_xlim()[1] < 0.7 * one_run.values("opt", "performance").mean()
    assert "off scale" in perf.get_xlabel() and C_OPT in perf.get_xlabel()
    assert "LP bound" in perf.get_xlabel()
    assert any("C_opt" in n and "LP bound" in n for n in figure_notes(fig))
    assert C_HAT in legend_texts(fig)
    assert "95 % t-interval" in fig.get_suptitle()
    assert_print_ready(fig, TEXT_WIDTH)


def test_budget_figure_online_panel_oracle_strip_and_dodged_error_bars(budget_runs) -> None:
    fig = param_figure(budget_runs, "budget")
    cr_strip, cr, perf_strip, perf = (fig.get_axes()[i] for i in (1, 0, 3, 2))
    for main, strip in ((cr, cr_strip), (perf, perf_strip)):
        assert list(series(main)) == ONLINE_LABELS
        assert [lab for lab in series(strip) if lab in (C_HAT, C_OPT)] == [C_HAT, C_OPT]
        assert main.get_xlabel() == "budget multiplier"
        assert [t.get_text() for t in main.get_xticklabels()] == ["0.5", "1", "2"]
        xs = [c.lines[0].get_xdata() for c in series(main).values()]
        assert all(len(x) == 3 for x in xs)
        first = sorted(x[0] for x in xs)
        assert len(set(first)) == len(first) and max(first) - min(first) < 0.5  # dodged
    assert "(%)" in cr.get_ylabel()
    # the online panel is not squashed by the oracles near 100 %
    port = series(cr)["PORT"].lines[0].get_ydata()
    assert 1 < min(port) and max(port) < 100 and cr.get_ylim()[1] < 80
    assert references(cr_strip)["LP bound"].get_ydata()[0] == 100
    assert "LLMs" not in fig.get_suptitle() and "budget" in fig.get_suptitle()
    assert_print_ready(fig, TEXT_WIDTH)


def test_coinciding_routers_differ_in_style_and_are_named(tmp_path: Path) -> None:
    root = tmp_path / "results"
    for b in (0.5, 1.0):
        write_fake_run(root, small_config(budget=b), same_as={"knn-perf": "greedy-perf"})
    runs = load_runs([root])
    fig = param_figure(runs, "budget")
    lines = {lab.split(" (=")[0]: c.lines[0] for lab, c in series(fig.get_axes()[0]).items()}
    greedy, knn = lines["Greedy-Perf"], lines["KNN-Perf"]
    assert np.allclose(greedy.get_ydata(), knn.get_ydata(), rtol=1e-9)
    assert greedy.get_marker() != knn.get_marker()
    assert greedy.get_linestyle() != knn.get_linestyle()
    assert "KNN-Perf (= Greedy-Perf)" in legend_texts(fig)
    assert any(n.startswith("KNN-Perf coincides with Greedy-Perf") for n in figure_notes(fig))
    assert not any("KNN-Cost" in n for n in figure_notes(fig))
    cq = cost_quality_figure(runs)
    assert "KNN-Perf (= Greedy-Perf)" in legend_texts(cq)
    summary = plot_runs(runs, tmp_path / "fig", formats=("png",))
    captions = dict((name, caption) for name, caption, _ in summary.written)
    assert "KNN-Perf coincides with Greedy-Perf" in captions["vs_budget"]


def test_split_figure_points_not_lines_and_missing_categories_marked(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write_fake_run(root, small_config(split="weighted"))
    write_fake_run(root, small_config(split="extreme", extreme_k=2,
                                      routers=tuple(r for r in ALL_ROUTERS if r != "port")))
    fig = param_figure(load_runs([root]), "split")
    main = fig.get_axes()[0]
    assert [t.get_text() for t in main.get_xticklabels()] == ["weighted", "extreme2"]
    assert list(series(main)) == ONLINE_LABELS
    for ax in fig.get_axes():  # no line joins two categories
        for line in ax.get_lines():
            if len(line.get_xdata()) > 1 and not str(line.get_gid() or "").startswith("ref"):
                assert line.get_linestyle() == "None", line.get_label()
    port = series(main)["PORT"].lines[0]
    assert np.isnan(port.get_ydata()[1])  # no made-up point
    missing = [t for t in main.texts if t.get_gid() == "missing"]
    assert [t.get_text() for t in missing] == ["n/a"]
    assert missing[0].get_color() == catalogue.colour("port")
    assert abs(missing[0].get_position()[0] - 1) < 0.5  # at extreme2
    assert any("n/a for PORT" in n and "extreme2" in n for n in figure_notes(fig))
    assert_print_ready(fig, TEXT_WIDTH)


def test_models_figure_counts_llms_with_integer_ticks(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write_fake_run(root, small_config(models=("a", "b")))
    write_fake_run(root, small_config(models=("a", "c")))
    write_fake_run(root, small_config(models=("a", "b", "c", "d", "e")))
    fig = param_figure(load_runs([root]), "models")
    main = fig.get_axes()[0]
    x = series(main)["Random"].lines[0].get_xdata()
    assert len(x) == 2 and abs(x[0] - 2) < 0.5 and abs(x[1] - 5) < 0.5  # subsets pooled
    fig.canvas.draw()
    ticks = [t for t in main.get_xticks() if main.get_xlim()[0] <= t <= main.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert all(re.fullmatch(r"\d+", t.get_text()) for t in main.get_xticklabels())
    assert main.get_xlabel() == "number of LLMs"
    assert "LLMs" in fig.get_suptitle() and "models" not in fig.get_suptitle().lower()


def test_volume_figure_integer_ticks(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for n in (1000, 1500, 2500):
        write_fake_run(root, small_config(test_size=n))
    fig = param_figure(load_runs([root]), "test_size")
    main = fig.get_axes()[0]
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in main.get_xticks())
    assert "query volume" in fig.get_suptitle()


def test_orders_figure_boxes_in_router_colours_with_black_medians(tmp_path: Path) -> None:
    run = load_run(write_fake_run(tmp_path, small_config(seeds=tuple(range(25)))))
    fig = orders_figure(run)
    ax = fig.get_axes()[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ONLINE_LABELS
    assert "25 random arrival orders" in ax.get_title()
    boxes = [p for p in ax.patches if p.get_label() in ONLINE_LABELS]
    assert len(ax.patches) == len(ONLINE) == len(boxes)  # no box for an oracle
    for patch, router in zip(boxes, ONLINE, strict=True):
        assert matplotlib.colors.to_hex(patch.get_facecolor()) == catalogue.colour(router)
    medians = [ln for ln in ax.get_lines() if ln.get_linewidth() == pytest.approx(1.3)]
    assert len(medians) == len(ONLINE)
    assert all(matplotlib.colors.to_hex(m.get_color()) == "#000000" for m in medians)
    assert list(references(ax)) == [C_HAT]
    assert C_OPT in ax.get_xlabel()  # C_opt near 100 % is named, not drawn
    todo, _ = plan_figures([run])
    caption = next(c for name, c, _ in todo if name.startswith("orders_"))
    assert "1.5 IQR" in caption and "median" in caption and "25 random arrival orders" in caption
    assert_print_ready(fig, COLUMN_WIDTH)


def test_spend_figure_shares_of_budget_and_learning_phase(one_run) -> None:
    run = one_run
    fig = spend_figure(run)
    best = best_baseline(run)
    assert best in ONLINE and best != "port"
    axes = [ax for ax in fig.get_axes() if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == list(run.llms)
    end = math.ceil(0.05 * run.manifest["n_test"])
    for ax in axes:
        assert ax.get_ylim() == (0, 1.05)
        steps = [ln for ln in ax.get_lines() if ln.get_label() in ("PORT", figure_label(best))]
        assert len(steps) == 2
        for step in steps:  # a share of the LLM's own budget, never past it
            assert 0 <= min(step.get_ydata()) and max(step.get_ydata()) <= 1 + 1e-9
        learn = [ln for ln in ax.get_lines() if ln.get_gid() == "learning-end"]
        assert len(learn) == 1 and learn[0].get_xdata()[0] == end
    assert any(f"({end} queries)" in t for t in legend_texts(fig))
    assert_print_ready(fig, TEXT_WIDTH)
    # without eps in the manifest the line is left out, and the caption says so
    bare = load_run(write_fake_run(Path(run.path).parent / "bare", small_config()))
    fig = spend_figure(bare)
    assert not any(ln.get_gid() == "learning-end" for ax in fig.get_axes()
                   for ln in ax.get_lines())
    assert any("learning phase is not marked" in n for n in figure_notes(fig))


def test_spend_figure_many_llms_fits_in_small_multiples(tmp_path: Path) -> None:
    models = tuple(f"org/some-rather-long-llm-name-{i:02d}" for i in range(11))
    run = load_run(write_fake_run(tmp_path, small_config(), models=models))
    fig = spend_figure(run)
    assert sum(ax.get_visible() for ax in fig.get_axes()) == 11
    assert_print_ready(fig, TEXT_WIDTH)


def test_cost_quality_frontier_above_every_router(budget_runs) -> None:
    fig = cost_quality_figure(budget_runs)
    ax = fig.get_axes()[0]
    frontier = [ln for ln in ax.get_lines() if ln.get_gid() == "frontier"]
    assert len(frontier) == 1  # the runs share one test stream: one frontier
    fx, fy = frontier[0].get_xdata(), frontier[0].get_ydata()
    points = series(ax)
    assert len(points) == len(ALL_ROUTERS)  # every router, oracles included
    for label, container in points.items():
        x, y = container.lines[0].get_xdata(), container.lines[0].get_ydata()
        assert len(x) == 3 and container.has_xerr and container.has_yerr
        assert (y <= np.interp(x, fx, fy) + 1e-9).all(), label
    assert len([ln for ln in ax.get_lines() if ln.get_gid() == "budget"]) == 3
    assert ax.get_xlabel() == "cost (USD)"
    assert any("frontier" in t for t in legend_texts(fig))
    assert {C_HAT, C_OPT} <= set(legend_texts(fig))
    assert_print_ready(fig, COLUMN_WIDTH)


def test_cost_quality_without_frontier_says_why(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for b in (0.5, 1.0):
        write_fake_run(root, small_config(budget=b), frontier=False)
    runs = load_runs([root])
    fig = cost_quality_figure(runs)
    assert not [ln for ln in fig.get_axes()[0].get_lines() if ln.get_gid() == "frontier"]
    summary = plot_runs(runs, tmp_path / "fig", formats=("png",))
    caption = dict((n, c) for n, c, _ in summary.written)["cost_quality"]
    assert "no frontier.parquet" in caption


def test_cost_quality_real_run_lies_under_its_frontier(tmp_path: Path) -> None:
    from routebench.config import SimConfig
    from routebench.simulate import run_simulation
    from routebench.sources import download

    download("synthetic", data_dir=tmp_path, out="t", n=900, models=4, seed=2)
    run = load_run(run_simulation(
        SimConfig(dataset="t", test_size=300, seeds=(0, 1), index="flat", budget=0.5),
        data_dir=tmp_path, results_root=tmp_path / "r", progress=False))
    assert run.frontier is not None
    fig = cost_quality_figure([run])
    ax = fig.get_axes()[0]
    (frontier,) = [ln for ln in ax.get_lines() if ln.get_gid() == "frontier"]
    fx, fy = frontier.get_xdata(), frontier.get_ydata()
    assert len(series(ax)) == len(run.routers)
    for label, container in series(ax).items():
        x, y = container.lines[0].get_xdata(), container.lines[0].get_ydata()
        # the frontier's chords lie under F: a point may pass one by at most one query
        assert (y <= np.interp(x, fx, fy) + 1.0).all(), label
        assert (y <= np.interp(x, fx, fy) * 1.001 + 1.0).all()
    assert_print_ready(fig, COLUMN_WIDTH)


def test_plan_skips_what_the_runs_do_not_support(budget_runs) -> None:
    todo, skipped = plan_figures(budget_runs)
    names = [t[0] for t in todo]
    assert "vs_budget" in names and "cost_quality" in names
    reasons = dict(skipped)
    assert "vs_test_size" in reasons and "orders" in reasons
    assert "20 or more seeds" in reasons["orders"]
    captions = dict((t[0], t[1]) for t in todo)
    assert "3 runs of 3 seeds each" in captions["vs_budget"]
    for caption in captions.values():
        assert "95 % t-interval" in caption or "no interval" in caption
        assert "column" in caption


def test_plot_runs_writes_pdf_png_svg_at_print_size_and_index(tmp_path: Path) -> None:
    run_dir = write_fake_run(tmp_path / "r", small_config())
    out = tmp_path / "fig"
    summary = plot_runs(load_runs([run_dir]), out)
    names = [w[0] for w in summary.written]
    assert names[0].startswith("bars_") and any(n.startswith("spend_") for n in names)
    for _, _, files in summary.written:
        assert sorted(p.suffix for p in files) == [".pdf", ".png", ".svg"]
        assert all(p.stat().st_size > 0 for p in files)
    pdf = (out / f"{names[0]}.pdf").read_bytes()
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box and float(box.group(1)) == pytest.approx(TEXT_WIDTH * 72)  # no rescaling
    assert b"/Type3" not in pdf
    index = (out / "figures.md").read_text()
    assert "## Skipped" in index and "vs_budget" in index and "[pdf](" in index


def test_saved_files_are_byte_identical(one_run, tmp_path: Path) -> None:
    fig = bar_figure(one_run)
    first = save_figure(fig, tmp_path / "a" / "bars")
    second = save_figure(fig, tmp_path / "b" / "bars")
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.suffix


def test_cli_plot(tmp_path: Path) -> None:
    run_dir = write_fake_run(tmp_path / "r", small_config(), trace=False)
    result = CliRunner().invoke(app, ["plot", str(run_dir), "--out", str(tmp_path / "f"),
                                      "--format", "pdf"])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "no trace.parquet" in result.output
    assert (tmp_path / "f" / "figures.md").exists()
    assert list((tmp_path / "f").glob("*.pdf")) and not list((tmp_path / "f").glob("*.png"))
    result = CliRunner().invoke(app, ["plot", str(run_dir), "--format", "jpg"])
    assert result.exit_code == 1 and "--format" in result.output
    result = CliRunner().invoke(app, ["plot", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "no such file" in result.output


def test_oracles_only_keep_their_math_labels_everywhere(one_run) -> None:
    """Every figure names the oracles in math, never as plain C^_opt text."""
    figs = [bar_figure(one_run), cost_quality_figure([one_run])]
    for fig in figs:
        fig.canvas.draw()
        texts = [t.get_text() for t in fig.findobj(Text)]
        assert not any("C^_opt" in t or "C_opt)" in t for t in texts)
    assert set(ORACLES) == {"approx-opt", "opt"}
