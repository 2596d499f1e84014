"""The paper's figures from results folders, as PNG and SVG (matplotlib, headless Agg backend).

Every figure uses one style (``STYLE``) and one fixed colour per router (from
``routebench.catalogue``, or the entry a run stored for a plug-in), so a router looks the same
everywhere. Where a point has several seeds the figure shows its 95 %
t-interval (error bars or a band). ``plot_runs`` picks the figures the given runs support, writes
them with a ``figures.md`` index, and lists the figures it skipped and why.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display is ever needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from routebench import catalogue, io  # noqa: E402
from routebench.metrics import METRICS, mean_ci  # noqa: E402
from routebench.results import (  # noqa: E402
    Run,
    config_without,
    param_value,
    t_interval,
)

#: The shared look of every figure.
STYLE: dict[str, object] = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 4,
    "svg.hashsalt": "routebench",  # stable SVG ids: same results, same file
}
FORMATS: tuple[str, ...] = ("png", "svg")
#: Seeds needed before the distribution over arrival orders is drawn.
MIN_ORDER_SEEDS = 20
#: Above this many runs, the per-run figures (bars, spend) are left out unless asked for.
PER_RUN_LIMIT = 12

#: Sweep parameters with a figure, the config fields that vary with each, and axis labels.
SWEEPS: dict[str, tuple[tuple[str, ...], str]] = {
    "budget": (("budget",), "budget multiplier (x cost of the cheapest LLM on all queries)"),
    "test_size": (("test_size",), "query volume (test queries)"),
    "models": (("models",), "number of LLMs deployed"),
    "split": (("split", "extreme_k"), "budget split strategy"),
}
#: Line styles of the oracles, drawn for reference beside the online routers.
_ORACLE_STYLE = {"linestyle": "--", "alpha": 0.8}

class PlotError(ValueError):
    """Figures that cannot be drawn from the given runs."""


Shown = dict[str, dict[str, object]]


def shown(runs: Run | Sequence[Run]) -> Shown:
    """How the runs' routers are shown (label, colour, kind), as their manifests stored it."""
    out: Shown = {}
    for run in [runs] if isinstance(runs, Run) else runs:
        out.update(run.router_entries)
    return out


def colour(router: str, entries: Shown | None = None) -> str:
    return catalogue.colour(router, entries)


def _label(router: str, entries: Shown) -> str:
    return catalogue.label(router, entries)


def _is_oracle(router: str, entries: Shown) -> bool:
    return catalogue.kind(router, entries) == "oracle"


def _routers(runs: Sequence[Run]) -> list[str]:
    present = set().union(*(set(r.routers) for r in runs))
    return catalogue.ordered(present, shown(runs))


def _style(router: str, entries: Shown) -> dict[str, object]:
    return dict(_ORACLE_STYLE) if _is_oracle(router, entries) else {}


# --------------------------------------------------------------------------- figures
def bar_figure(run: Run) -> Figure:
    """Performance, PPC and throughput per router, error bars = 95 % t-interval over seeds."""
    metrics = ("performance", "ppc", "throughput")
    routers = run.routers
    entries = shown(run)
    stats = mean_ci(run.whole()[run.whole()["metric"].isin(metrics)], ["router", "metric"])
    idx = stats.set_index(["router", "metric"])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for ax, metric in zip(axes, metrics, strict=True):
        for x, router in enumerate(routers):
            if (router, metric) not in idx.index:
                continue
            r = idx.loc[(router, metric)]
            half = (r["ci_high"] - r["ci_low"]) / 2
            oracle = _is_oracle(router, entries)
            ax.bar(x, r["mean"], color=colour(router, entries), label=_label(router, entries),
                   yerr=half if np.isfinite(half) else None, capsize=3,
                   hatch="//" if oracle else None, edgecolor="#444444" if oracle else "white")
        ax.set_xticks(range(len(routers)), [_label(r, entries) for r in routers], rotation=45,
                      ha="right")
        ax.set_title(metric.upper() if metric == "ppc" else metric.capitalize())
        ax.set_ylabel(METRICS[metric].label)
        ax.set_xlabel("router")
    fig.suptitle(f"{run.dataset}: per-router results ({len(run.seeds)} seeds, "
                 "95 % CI; hatched = offline oracles)")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _series(runs: Sequence[Run], param: str, metric: str, scale: float = 1.0) -> pd.DataFrame:
    """Per x value and router: mean and 95 % CI of ``metric`` pooled over every run with that x
    value and every seed."""
    frames = []
    for run in runs:
        w = run.whole()
        f = w[w["metric"] == metric][["router", "value"]].assign(x=param_value(run, param))
        frames.append(f)
    data = pd.concat(frames, ignore_index=True)
    data["value"] = data["value"] * scale
    return mean_ci(data, ["router", "x"])


def param_figure(runs: Sequence[Run], param: str) -> Figure:
    """Competitive ratio vs the LP bound and performance against one sweep parameter
    (``budget``, ``test_size``, ``models`` as number of LLMs, or ``split``); one line per
    router, band or error bars = 95 % CI over seeds (and LLM subsets)."""
    if param not in SWEEPS:
        raise PlotError(f"no sweep figure for parameter {param!r}; known: {', '.join(SWEEPS)}")
    xlabel = SWEEPS[param][1]
    categorical = param == "split"
    xs = sorted({param_value(r, param) for r in runs}, key=lambda v: (str(type(v)), v))
    if categorical:
        order = ["weighted", "cost", "perf", "uniform"] + [f"extreme{k}" for k in range(1, 20)]
        xs = sorted(xs, key=lambda v: (order.index(v) if v in order else len(order), str(v)))
    pos = {v: i for i, v in enumerate(xs)}
    entries = shown(runs)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    panels = (("cr_lp", 100.0, "Competitive ratio vs LP bound"), ("performance", 1.0,
                                                                   "Performance"))
    for ax, (metric, scale, title) in zip(axes, panels, strict=True):
        s = _series(runs, param, metric, scale)
        for router in _routers(runs):
            r = s[s["router"] == router]
            if r.empty:
                continue
            x = np.array([pos[v] if categorical else v for v in r["x"]], dtype=float)
            order_ = np.argsort(x)
            x, r = x[order_], r.iloc[order_]
            kw = _style(router, entries)
            c, name = colour(router, entries), _label(router, entries)
            if categorical:
                half = ((r["ci_high"] - r["ci_low"]) / 2).to_numpy()
                ax.errorbar(x, r["mean"], yerr=np.where(np.isfinite(half), half, 0.0),
                            color=c, label=name, marker="o", capsize=3, **kw)
            else:
                ax.plot(x, r["mean"], color=c, label=name, marker="o", **kw)
                if np.isfinite(r["ci_low"]).any():
                    ax.fill_between(x, r["ci_low"], r["ci_high"], color=c, alpha=0.15,
                                    linewidth=0)
        if categorical:
            ax.set_xticks(range(len(xs)), [str(v) for v in xs], rotation=30, ha="right")
        ax.set_title(f"{title} vs {param.replace('_', ' ')}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(METRICS[metric].label)
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    n_seeds = sorted({len(r.seeds) for r in runs})
    fig.suptitle(f"{runs[0].dataset}: sweep over {param.replace('_', ' ')} ({len(runs)} runs, "
                 f"{'/'.join(map(str, n_seeds))} seeds each; 95 % CI; dashed = oracles)")
    return fig


def orders_figure(run: Run) -> Figure:
    """Distribution of the competitive ratio vs the LP bound over the run's random arrival
    orders (one seed = one order): a box per router."""
    routers = run.routers
    entries = shown(run)
    data = [100.0 * run.values(r, "cr_lp") for r in routers]
    keep = [i for i, d in enumerate(data) if len(d)]
    routers, data = [routers[i] for i in keep], [data[i] for i in keep]
    fig, ax = plt.subplots(figsize=(8, 4))
    box = ax.boxplot(data, patch_artist=True, widths=0.6)
    ax.set_xticks(range(1, len(routers) + 1), [_label(r, entries) for r in routers],
                  rotation=45, ha="right")
    for patch, router in zip(box["boxes"], routers, strict=True):
        patch.set_facecolor(colour(router, entries))
        patch.set_alpha(0.7)
        patch.set_label(_label(router, entries))
    ax.set_title(f"{run.dataset}: competitive ratio over {len(run.seeds)} random arrival orders")
    ax.set_xlabel("router")
    ax.set_ylabel(METRICS["cr_lp"].label)
    return fig


def best_baseline(run: Run) -> str | None:
    """The online router other than PORT with the highest mean performance."""
    means = {r: float(np.nanmean(run.values(r, "performance")))
             for r in run.online() if r != catalogue.REFERENCE
             and len(run.values(r, "performance"))}
    return max(means, key=means.__getitem__) if means else None


def spend_figure(run: Run) -> Figure:
    """Per-LLM cumulative spend (USD) along the stream for PORT and the best baseline (step
    plots, from ``trace.parquet``), each LLM's budget as a dotted line."""
    if run.trace is None:
        raise PlotError(f"{run.path}: no trace.parquet")
    routers = [r for r in (catalogue.REFERENCE, best_baseline(run))
               if r and r in set(run.trace["router"])]
    if not routers:
        raise PlotError(f"{run.path}: trace.parquet has neither PORT nor a baseline")
    llms = list(dict.fromkeys(run.trace["llm"]))
    palette = plt.get_cmap("tab20" if len(llms) > 10 else "tab10")
    seed = int(run.trace["seed"].min())
    budgets = run.results[(run.results["metric"] == "budget") & (run.results["llm"] != "")
                          & (run.results["seed"] == seed)].drop_duplicates("llm")
    budget_of = dict(zip(budgets["llm"], budgets["value"], strict=True))
    fig, axes = plt.subplots(1, len(routers), figsize=(6 * len(routers), 4), sharey=True,
                             squeeze=False)
    for ax, router in zip(axes[0], routers, strict=True):
        t = run.trace[run.trace["router"] == router]
        for i, llm in enumerate(llms):
            sel = t[t["llm"] == llm].sort_values("position")
            c = palette(i % palette.N)
            ax.step(sel["position"], sel["spend"], where="post", color=c, label=llm)
            if llm in budget_of:
                ax.axhline(budget_of[llm], color=c, linestyle=":", linewidth=1)
        ax.set_title(f"{run.label(router)}: cumulative spend per LLM (seed {seed})",
                     color=run.colour(router))
        ax.set_xlabel("position in stream (queries seen)")
        ax.set_ylabel("cumulative spend (USD)")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), title="LLM (dotted: budget)")
    return fig


def cost_quality_figure(runs: Sequence[Run]) -> Figure:
    """Each router's (cost USD, performance) point per run with 95 % CI error bars, and the
    offline frontier: the LP bound's value at each run's total budget (USD), a line through
    those points when the runs differ in budget."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    runs = sorted(runs, key=lambda r: float(r.config.get("budget", 0)))
    entries = shown(runs)
    frontier = []
    for router in _routers(runs):
        pts = []
        for run in runs:
            c = t_interval(run.values(router, "cost"))
            p = t_interval(run.values(router, "performance"))
            pts.append((*c, *p))
        a = np.array(pts, dtype=float)
        xerr = np.where(np.isfinite(a[:, 2]), (a[:, 2] - a[:, 1]) / 2, 0.0)
        yerr = np.where(np.isfinite(a[:, 5]), (a[:, 5] - a[:, 4]) / 2, 0.0)
        ax.errorbar(a[:, 0], a[:, 3], xerr=xerr, yerr=yerr, color=colour(router, entries),
                    marker="o", capsize=2, label=_label(router, entries),
                    linestyle="-" if len(runs) > 1 else "none",
                    alpha=0.85 if _is_oracle(router, entries) else 1.0)
    for run in runs:
        lp = run.values("lp-bound", "performance")
        spend = run.results[(run.results["router"] == "lp-bound")
                            & (run.results["metric"] == "budget")]
        if len(lp) and not spend.empty:
            total = spend.groupby("seed")["value"].sum().mean()
            frontier.append((total, float(np.mean(lp))))
    if frontier:
        f = np.array(sorted(frontier))
        ax.plot(f[:, 0], f[:, 1], color=colour("lp-bound"), linestyle="-." if len(f) > 1
                else "none", marker="*", markersize=10,
                label="offline frontier: LP bound at the total budget")
    ax.set_xlabel("cost (USD)")
    ax.set_ylabel(METRICS["performance"].label)
    ax.set_title(f"{runs[0].dataset}: cost-quality plane ({len(runs)} run(s))")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


# --------------------------------------------------------------------------- planning
@dataclass
class PlotSummary:
    """What ``plot_runs`` wrote (name, caption, files) and skipped (name, reason)."""

    written: list[tuple[str, str, list[Path]]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    index: Path | None = None


def sweep_families(runs: Sequence[Run], param: str) -> list[list[Run]]:
    """Groups of runs that differ only in ``param`` (and seeds), with at least two distinct
    values of it, largest first."""
    fields_ = SWEEPS[param][0] + ("seeds",)
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for run in runs:
        groups[config_without(run, fields_)].append(run)
    fams = [g for g in groups.values() if len({param_value(r, param) for r in g}) > 1]
    return sorted(fams, key=len, reverse=True)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def plan_figures(runs: Sequence[Run], per_run: bool | None = None
                 ) -> tuple[list[tuple[str, str, Callable[[], Figure]]], list[tuple[str, str]]]:
    """(figures to draw as (name, caption, builder), skipped as (name, reason))."""
    todo: list[tuple[str, str, Callable[[], Figure]]] = []
    skipped: list[tuple[str, str]] = []
    if per_run is None:
        per_run = len(runs) <= PER_RUN_LIMIT
        if not per_run:
            skipped.append(("bars_*, spend_*", f"{len(runs)} runs (more than {PER_RUN_LIMIT}): "
                            "per-run figures left out; pass --per-run to draw them"))
    for run in runs if per_run else ():
        key = _slug(run.key)
        todo.append((f"bars_{key}", f"Performance, PPC and throughput per router, {run.key}; "
                     "error bars: 95 % CI over seeds.", lambda r=run: bar_figure(r)))
        if run.trace is None:
            skipped.append((f"spend_{key}", "no trace.parquet in the run folder"))
        elif "port" not in set(run.trace["router"]):
            skipped.append((f"spend_{key}", "the trace has no PORT"))
        else:
            todo.append((f"spend_{key}", f"Cumulative spend per LLM for PORT and the best "
                         f"baseline, {run.key}; dotted: budgets.", lambda r=run: spend_figure(r)))
    for param in SWEEPS:
        fams = sweep_families(runs, param)
        if not fams:
            skipped.append((f"vs_{param}", f"no two runs differ only in {param}"))
        for i, fam in enumerate(fams):
            name = f"vs_{param}" + (f"_{i + 1}" if len(fams) > 1 else "")
            todo.append((name, f"Competitive ratio and performance vs {param} over {len(fam)} "
                         "runs; bands/bars: 95 % CI.", lambda f=fam, p=param: param_figure(f, p)))
    many = [r for r in runs if len(r.seeds) >= MIN_ORDER_SEEDS and "cr_lp" in set(r.whole()
                                                                                   ["metric"])]
    if not many:
        skipped.append(("orders", f"no run has {MIN_ORDER_SEEDS} or more seeds (arrival orders)"))
    for run in many:
        todo.append((f"orders_{_slug(run.key)}", f"Competitive ratio over {len(run.seeds)} "
                     f"random arrival orders, {run.key}.", lambda r=run: orders_figure(r)))
    groups: dict[tuple, list[Run]] = defaultdict(list)
    for run in runs:
        groups[config_without(run, ("budget", "seeds"))].append(run)
    multi = [g for g in groups.values() if len({r.config.get("budget") for r in g}) > 1]
    chosen = multi or (list(groups.values()) if len(groups) <= PER_RUN_LIMIT else [])
    if not chosen:
        skipped.append(("cost_quality", f"no runs differ in budget and {len(groups)} separate "
                        f"configs are more than {PER_RUN_LIMIT}"))
    elif multi and len(multi) < len(groups):
        skipped.append(("cost_quality (single budgets)", "drawn only for the runs that differ "
                        "in budget"))
    for i, g in enumerate(chosen):
        name = "cost_quality" + (f"_{i + 1}" if len(chosen) > 1 else "")
        todo.append((name, "Cost-quality plane: routers' (cost, performance), 95 % CI; "
                     "frontier = LP bound at each run's total budget.",
                     lambda g=g: cost_quality_figure(g)))
    return todo, skipped


def save_figure(fig: Figure, base: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``base.<fmt>`` for each format atomically; return the paths."""
    paths = []
    for fmt in formats:
        path = base.with_name(f"{base.name}.{fmt}")
        io.write_with(path, lambda p, f=fmt: fig.savefig(p, format=f))
        paths.append(path)
    return paths


def plot_runs(runs: Sequence[Run], out_dir: str | os.PathLike[str], *,
              per_run: bool | None = None, formats: Sequence[str] = FORMATS,
              progress: Callable[[str], None] | None = None) -> PlotSummary:
    """Draw every figure the runs support into ``out_dir`` and write ``figures.md``, an index
    of the figures drawn and those skipped with the reason. ``progress`` is called with each
    figure's name before it is drawn."""
    if not runs:
        raise PlotError("no runs to plot")
    out = Path(out_dir)
    todo, skipped = plan_figures(runs, per_run)
    summary = PlotSummary(skipped=list(skipped))
    with plt.rc_context(STYLE):
        for name, caption, build in todo:
            if progress:
                progress(name)
            fig = build()
            try:
                summary.written.append((name, caption, save_figure(fig, out / name, formats)))
            finally:
                plt.close(fig)
    lines = ["# Figures", ""]
    for name, caption, paths in summary.written:
        links = ", ".join(f"[{p.suffix[1:]}]({p.name})" for p in paths)
        lines.append(f"- `{name}`: {caption} {links}")
    lines += ["", "## Skipped", ""]
    lines += [f"- `{name}`: {reason}" for name, reason in summary.skipped] or ["- none"]
    summary.index = io.write_text(out / "figures.md", "\n".join(lines) + "\n")
    return summary
