"""The paper's figures from results folders, as PDF, PNG and SVG (matplotlib, headless Agg).

Sizes. Each figure is drawn at the width it is printed at, in inches, with every font in points
(7 pt for ticks, legends and notes, 8 pt for labels and titles), and saved without
``bbox_inches="tight"`` (constrained layout keeps everything inside the figure), so a file is
exactly its target width and is included at 100 % (``\\includegraphics`` with no scaling, or
``width=\\columnwidth`` / ``\\textwidth`` for the matching width): no text ends up below 7 pt.
Each figure targets one width, chosen for what it shows:

- two-column, ``TEXT_WIDTH`` = 6.75 in (``figure*`` in a NeurIPS/ICML/ACL two-column layout, or
  the text width of a one-column paper): ``bars_*`` (three metric panels), ``vs_*`` (two metric
  panels, each with an oracle strip), ``spend_*`` (one small panel per LLM);
- one-column, ``COLUMN_WIDTH`` = 3.25 in: ``orders_*`` (one box per router) and
  ``cost_quality*`` (one plane).

PNG is written at 300 dpi; PDF embeds TrueType fonts (no Type 3 fonts, which some venues refuse).
PDF and SVG carry no creation date and SVG ids are salted with a constant, so the same results
give byte-identical files.

Reading a figure. Every router has one colour (``routebench.catalogue``, or the entry a run
stored for a plug-in), one marker and one line style (from its position in the catalogue, so
routers whose curves coincide stay distinguishable), and its paper label (mathtext for the
oracles, e.g. ``$\\hat{C}_{\\mathrm{opt}}$``). Where a point has several seeds it shows the mean
and its 95 % t-interval over seeds as an error bar; error bars of different routers at the same
x are dodged sideways. The offline oracles and bounds never share an axis scale with the online
routers when they would squash them: the bar and box figures draw them as labelled reference
lines when they fall within 1.5 x the online routers' range (``REF_STRETCH``) and otherwise name
them with their values under the axis; the sweep figures draw them in a separate strip above the
online routers' panel. A point a router lacks is marked "n/a", never dropped silently, and two
routers with the same values everywhere are named in the legend ("KNN-Perf (= Greedy-Perf)") and
in the caption.

``plot_runs`` picks the figures the given runs support, writes them with a ``figures.md`` index
(one caption per figure: what it shows, over how many seeds and runs, what the error bars are),
and lists the figures it skipped and why.
"""

from __future__ import annotations

import functools
import math
import os
import zlib
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display is ever needed

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.transforms as mtransforms  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from routebench import catalogue, io  # noqa: E402
from routebench.metrics import METRICS, mean_ci  # noqa: E402
from routebench.results import (  # noqa: E402
    Run,
    config_without,
    param_value,
    t_interval,
)

#: Print widths (inches): one column and the full text width of a two-column paper.
COLUMN_WIDTH = 3.25
TEXT_WIDTH = 6.75
#: The smallest font (points) of any text in a figure at its print width.
MIN_FONT_PT = 7.0

#: The shared look of every figure (fonts in points at the print width).
STYLE: dict[str, object] = {
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "standard",  # never "tight": the file keeps its print width
    "figure.constrained_layout.use": True,
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "figure.titlesize": 8,
    "figure.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "legend.frameon": False,
    "legend.handlelength": 2.6,
    "legend.columnspacing": 1.2,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.4,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "lines.linewidth": 1.2,
    "lines.markersize": 3.5,
    "errorbar.capsize": 2,
    "pdf.fonttype": 42,  # TrueType, not Type 3
    "ps.fonttype": 42,
    "svg.fonttype": "path",
    "svg.hashsalt": "routebench",  # stable SVG ids: same results, same file
}
FORMATS: tuple[str, ...] = ("pdf", "png", "svg")
#: What each format stores besides the drawing: no dates, so reruns give identical files.
_METADATA: dict[str, dict[str, Any]] = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}
#: Seeds needed before the distribution over arrival orders is drawn.
MIN_ORDER_SEEDS = 20
#: Above this many runs, the per-run figures (bars, spend) are left out unless asked for.
PER_RUN_LIMIT = 12
#: A reference (oracle, bound) is drawn as a line when it is at most this many times the top of
#: the online routers' range; beyond, it is named with its value instead.
REF_STRETCH = 1.5
#: Relative tolerance under which two routers' curves count as the same.
COINCIDE_RTOL = 1e-9

#: Sweep parameters with a figure: the config fields that vary with each, the axis label and
#: the name titles use.
SWEEPS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "budget": (("budget",), "budget multiplier", "budget"),
    "test_size": (("test_size",), "test queries (query volume)", "query volume"),
    "models": (("models",), "number of LLMs", "number of LLMs"),
    "split": (("split", "extreme_k"), "budget split strategy", "budget split"),
}
#: Which print width each figure family targets (see the module docstring).
WIDTHS: dict[str, float] = {"bars": TEXT_WIDTH, "vs": TEXT_WIDTH, "spend": TEXT_WIDTH,
                            "orders": COLUMN_WIDTH, "cost_quality": COLUMN_WIDTH,
                            "calibration": TEXT_WIDTH}

_MARKERS = ("o", "s", "^", "D", "v", "P", "*", "X", "h", "p", "d", "<", ">", "8")
_LINESTYLES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1.5, 1, 1.5, 1, 1.5)),
                                (0, (7, 2)))
_DARK = "#222222"
_NOTES = "_routebench_notes"
_SPLIT_ORDER = ["weighted", "cost", "perf", "uniform"] + [f"extreme{k}" for k in range(1, 20)]


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


def figure_label(router: str, entries: Shown | None = None) -> str:
    """How a figure names ``router``: the paper's math form where there is one (mathtext), else
    its label with any ``$`` escaped (a plug-in's label is text, never math)."""
    e = catalogue.entry(router, entries)
    return e.math or e.label.replace("$", r"\$")


def _plain(router: str, entries: Shown | None = None) -> str:
    """How captions (Markdown) name ``router``: the plain label."""
    return catalogue.label(router, entries)


def router_style(router: str, entries: Shown | None = None) -> dict[str, Any]:
    """Colour, marker and line style of ``router``: marker and line style follow its position
    in the catalogue (a plug-in's follow a hash of its name), so every figure draws it the same
    way and neighbours such as Greedy-Perf and KNN-Perf differ in both."""
    names = [e.name for e in catalogue.BUILTIN]
    pos = (names.index(router) if router in names
           else len(names) + zlib.crc32(router.encode("utf-8")) % 1009)
    return {"color": colour(router, entries), "marker": _MARKERS[pos % len(_MARKERS)],
            "linestyle": _LINESTYLES[pos % len(_LINESTYLES)]}


def _kind(router: str, entries: Shown) -> str:
    return catalogue.kind(router, entries)


def _routers(runs: Sequence[Run]) -> list[str]:
    present = set().union(*(set(r.routers) for r in runs))
    return catalogue.ordered(present, shown(runs))


def _note(fig: Figure, text: str) -> None:
    """Add a sentence to the figure's caption (``figure_notes``)."""
    notes = getattr(fig, _NOTES, None)
    if notes is None:
        notes = []
        setattr(fig, _NOTES, notes)
    if text not in notes:
        notes.append(text)


def figure_notes(fig: Figure) -> list[str]:
    """What the figure's caption must add to its base text (coincident routers, references off
    the scale, missing points, no frontier), as sentences."""
    return list(getattr(fig, _NOTES, []))


def _styled(build: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draw the figure under ``STYLE`` (fonts are fixed when the text is created)."""

    @functools.wraps(build)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with plt.rc_context(STYLE):
            return build(*args, **kwargs)

    return wrapper


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _mean_half(values: np.ndarray, scale: float = 1.0) -> tuple[float, float]:
    """Mean and half-width of the 95 % t-interval (0 with one seed)."""
    mean, low, high = t_interval(np.asarray(values, dtype=float) * scale)
    half = (high - low) / 2 if np.isfinite(low) and np.isfinite(high) else 0.0
    return mean, half


def _seeds_text(runs: Sequence[Run]) -> str:
    counts = sorted({len(r.seeds) for r in runs})
    n = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
    return f"{n} seed{'s' if counts[-1] > 1 else ''}"


def _legend(fig: Figure, handles: list[Any], labels: list[str], ncols: int,
            **kwargs: Any) -> None:
    """One legend under the axes, in as many columns (at most ``ncols``) as fit the figure's
    width (the file keeps its print width, so nothing may stick out)."""
    if not handles:
        return
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    for n in range(min(ncols, len(handles)), 0, -1):
        legend = fig.legend(handles, labels, loc="outside lower center", ncols=n, **kwargs)
        if n == 1 or legend.get_window_extent(renderer).width <= 0.98 * width:
            return
        legend.remove()


def _handles(axes: Sequence[Axes]) -> tuple[list[Any], list[str]]:
    """Legend handles and labels of several axes, each label once: the routers' series (in
    drawing order, axes by axes), then the reference lines, curves and shading."""
    series: dict[str, Any] = {}
    others: dict[str, Any] = {}
    for ax in axes:
        for c in ax.containers:
            lab = c.get_label()
            if lab and not lab.startswith("_"):
                series.setdefault(lab, c)
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in series:
                others.setdefault(lab, h)
    merged = {**series, **others}
    return list(merged.values()), list(merged)


def _coincident(series: dict[str, pd.Series]) -> dict[str, str]:
    """Router -> the earlier router (display order) whose values it repeats at every x, within
    ``COINCIDE_RTOL`` (relative)."""
    out: dict[str, str] = {}
    names = list(series)
    for j, b in enumerate(names):
        sb = series[b].dropna().sort_index()
        for a in names[:j]:
            sa = series[a].dropna().sort_index()
            if (a not in out and not sb.empty and list(sa.index) == list(sb.index)
                    and np.allclose(sa.to_numpy(float), sb.to_numpy(float), rtol=COINCIDE_RTOL,
                                    atol=0.0)):
                out[b] = a
                break
    return out


def _coincidence_notes(fig: Figure, same: dict[str, str], entries: Shown) -> None:
    for b, a in same.items():
        _note(fig, f"{_plain(b, entries)} coincides with {_plain(a, entries)} (same values "
                   "everywhere; drawn with its own marker and line style).")


def _legend_label(router: str, entries: Shown, same: dict[str, str]) -> str:
    lab = figure_label(router, entries)
    return f"{lab} (= {figure_label(same[router], entries)})" if router in same else lab


def _references(ax: Axes, refs: list[tuple[str, float]], top: float, entries: Shown, *,
                vertical: bool) -> tuple[float, list[tuple[str, float]]]:
    """Draw each (router, value) within ``REF_STRETCH`` x ``top`` as a labelled reference line
    (vertical for horizontal bars and boxes); return the axis top needed and the (router,
    value) pairs off the scale."""
    off = []
    needed = top
    for router, value in refs:
        if not np.isfinite(value):
            continue
        if top <= 0 or value <= REF_STRETCH * top:
            st = router_style(router, entries)
            draw = ax.axvline if vertical else ax.axhline
            draw(value, color=st["color"], linestyle=st["linestyle"], linewidth=1.1,
                 label=figure_label(router, entries), zorder=4, gid=f"reference:{router}")
            needed = max(needed, value)
        else:
            off.append((router, value))
    return needed, off


def _is_reference(artist: Any) -> bool:
    return str(getattr(artist, "get_gid", lambda: "")() or "").startswith("reference:")


def _off_scale(ax: Axes, fig: Figure, off: list[tuple[str, float]], what: str,
               entries: Shown) -> None:
    """Name the references beyond the axis under it (and in the caption)."""
    if not off:
        return
    lines: list[list[str]] = [["off scale:"]]
    length = len(lines[0][0])
    for router, value in off:  # a new line once a line would pass 34 characters
        item = f"{figure_label(router, entries)} {_fmt(value)}"
        e = catalogue.entry(router, entries)
        size = (4 if e.math else len(e.label)) + len(_fmt(value)) + 3
        if length + size > 34:
            lines.append([])
            length = 0
        lines[-1].append(item)
        length += size
    text = [lines[0][0] + " " + ", ".join(lines[0][1:])] + [", ".join(x) for x in lines[1:]]
    ax.set_xlabel("\n".join([ax.get_xlabel(), *text]))
    plain = ", ".join(f"{_plain(r, entries)} {_fmt(v)}" for r, v in off)
    _note(fig, f"Off the {what} axis: {plain}.")


# --------------------------------------------------------------------------- figures
@_styled
def bar_figure(run: Run) -> Figure:
    """Performance, PPC and throughput of the online routers (horizontal bars: mean over seeds,
    error bars: 95 % t-interval); the oracles and the LP bound as labelled reference lines,
    or named with their values when off the scale. Two-column width."""
    metrics = ("performance", "ppc", "throughput")
    entries = shown(run)
    online = run.online()
    if not online:
        raise PlotError(f"{run.path}: no online router to draw bars for")
    refs_of = [r for r in run.routers if _kind(r, entries) == "oracle"] + ["lp-bound"]
    n = len(online)
    fig, axes = plt.subplots(1, 3, figsize=(TEXT_WIDTH, 1.3 + 0.2 * n), sharey=True,
                             layout="constrained")
    y = np.arange(n)
    for ax, metric in zip(axes, metrics, strict=True):
        top = 0.0
        for i, router in enumerate(online):
            values = run.values(router, metric)
            if not len(values) or not np.isfinite(values).any():
                ax.text(0, i, " n/a", va="center", ha="left", fontsize=7, color=_DARK,
                        gid="missing")
                _note(fig, f"{_plain(router, entries)} has no {metric} (n/a).")
                continue
            mean, half = _mean_half(values)
            ax.barh(i, mean, height=0.7, color=colour(router, entries), edgecolor="none",
                    xerr=half, label=figure_label(router, entries), zorder=2,
                    error_kw={"ecolor": _DARK, "elinewidth": 0.8, "capsize": 2,
                              "capthick": 0.8})
            top = max(top, mean + half)
        refs = [(r, float(np.mean(run.values(r, metric)))) for r in refs_of
                if len(run.values(r, metric))]
        needed, off = _references(ax, refs, top, entries, vertical=True)
        ax.set_xlim(0, needed * 1.06 if needed > 0 else 1.0)
        ax.set_title(METRICS[metric].header.split(" (")[0], loc="left")
        ax.set_xlabel(METRICS[metric].label)
        ax.grid(axis="y", visible=False)
        _off_scale(ax, fig, off, METRICS[metric].label, entries)
    axes[0].set_yticks(y, [figure_label(r, entries) for r in online])
    axes[0].set_ylim(n - 0.4, -0.6)
    for ax in axes[1:]:
        ax.tick_params(labelleft=False)
    handles, labels = _handles(axes)
    refs = [(h, lab) for h, lab in zip(handles, labels, strict=True) if _is_reference(h)]
    _legend(fig, [h for h, _ in refs], [lab for _, lab in refs], 4)
    fig.suptitle(f"{run.dataset}: online routers, mean ± 95 % t-interval over "
                 f"{_seeds_text([run])}; lines: offline oracles and LP bound")
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


def _sweep_values(runs: Sequence[Run], param: str) -> list[Any]:
    xs = sorted({param_value(r, param) for r in runs}, key=lambda v: (str(type(v)), v))
    if param == "split":
        xs = sorted(xs, key=lambda v: (_SPLIT_ORDER.index(v) if v in _SPLIT_ORDER
                                       else len(_SPLIT_ORDER), str(v)))
    return xs


def _draw_group(ax: Axes, s: pd.DataFrame, group: list[str], xs: list[Any],
                pos: dict[Any, float], spread: float, categorical: bool, entries: Shown,
                same: dict[str, str]) -> dict[str, list[Any]]:
    """One error-bar series per router of ``group`` (dodged sideways by up to ``spread``),
    joined by lines unless the axis is categorical; "n/a" where a router lacks an x value.
    Returns router -> the x values it lacks."""
    missing: dict[str, list[Any]] = {}
    step = spread / (len(group) - 1) if len(group) > 1 else 0.0
    below = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    for i, router in enumerate(group):
        st = router_style(router, entries)
        offset = (i - (len(group) - 1) / 2) * step
        r = s[s["router"] == router].set_index("x")
        mean = np.array([float(r["mean"].get(v, np.nan)) if v in r.index else np.nan
                         for v in xs])
        half = np.array([(float(r.loc[v, "ci_high"]) - float(r.loc[v, "ci_low"])) / 2
                         if v in r.index else np.nan for v in xs])
        x = np.array([pos[v] for v in xs], dtype=float) + offset
        lacks = [v for v, m in zip(xs, mean, strict=True) if not np.isfinite(m)]
        if len(lacks) == len(xs):
            missing[router] = lacks
            continue
        ax.errorbar(x, mean, yerr=np.where(np.isfinite(half), half, 0.0), color=st["color"],
                    marker=st["marker"], linestyle="none" if categorical else st["linestyle"],
                    label=_legend_label(router, entries, same), elinewidth=0.7, capsize=1.5,
                    capthick=0.7, zorder=3)
        for v in lacks:
            ax.text(pos[v] + offset, 0.02, "n/a", transform=below, rotation=90, fontsize=7,
                    color=st["color"], ha="center", va="bottom", gid="missing")
        if lacks:
            missing[router] = lacks
    return missing


@_styled
def param_figure(runs: Sequence[Run], param: str) -> Figure:
    """Competitive ratio vs the LP bound and performance against one sweep parameter
    (``budget``, ``test_size``, ``models`` as number of LLMs, or ``split``): the online routers
    in the main panels (mean, error bar = 95 % t-interval over seeds and LLM subsets, dodged),
    the oracles and bounds in a strip above, so the online routers fill their axis. A
    categorical parameter (split) is drawn as unjoined points. Two-column width."""
    if param not in SWEEPS:
        raise PlotError(f"no sweep figure for parameter {param!r}; known: {', '.join(SWEEPS)}")
    _, xlabel, name = SWEEPS[param]
    categorical = param == "split"
    xs = _sweep_values(runs, param)
    pos = {v: float(i) if categorical else float(v) for i, v in enumerate(xs)}
    gaps = np.diff(sorted(pos.values()))
    gap = float(gaps.min()) if len(gaps) else 1.0
    entries = shown(runs)
    routers = _routers(runs)
    online = [r for r in routers if _kind(r, entries) == "online"]
    oracles = [r for r in routers if _kind(r, entries) == "oracle"]
    panels = (("cr_lp", 100.0, "Competitive ratio vs LP bound"), ("performance", 1.0,
                                                                   "Performance"))
    stats = {m: _series(runs, param, m, scale) for m, scale, _ in panels}
    bounds = [b for b in catalogue.BOUNDS if b in set(stats["performance"]["router"])]
    strip = bool(oracles or bounds)
    fig = plt.figure(figsize=(TEXT_WIDTH, 4.0 if strip else 3.0), layout="constrained")
    grid = fig.add_gridspec(2 if strip else 1, 2, height_ratios=(1, 2.3) if strip else None)

    def curves(s: pd.DataFrame, group: list[str]) -> dict[str, pd.Series]:
        return {r: s[s["router"] == r].set_index("x")["mean"] for r in group}

    # routers that coincide in every panel are named in the legend
    same_by_panel = [(title, _coincident(curves(stats[m], online + oracles)))
                     for m, _, title in panels]
    same = {b: a for b, a in same_by_panel[0][1].items()
            if all(p.get(b) == a for _, p in same_by_panel)}
    _coincidence_notes(fig, same, entries)
    for title, pairs in same_by_panel:
        for b, a in pairs.items():
            if b not in same:
                _note(fig, f"{title}: {_plain(b, entries)} coincides with {_plain(a, entries)}.")
    all_axes: list[Axes] = []
    strips: list[Axes] = []
    for col, (metric, _, title) in enumerate(panels):
        s = stats[metric]
        main = fig.add_subplot(grid[-1, col])
        all_axes.append(main)
        lacking = _draw_group(main, s, online, xs, pos, (0.5 if categorical else 0.3 * gap),
                              categorical, entries, same)
        main.set_xlabel(xlabel)
        main.set_ylabel(METRICS[metric].label)
        main.set_ylim(bottom=METRICS[metric].limits[0])
        if strip:
            top = fig.add_subplot(grid[0, col], sharex=main)
            strips.append(top)
            group = oracles + (bounds if metric == "performance" else [])
            lacking.update(_draw_group(top, s, group, xs, pos,
                                       (0.2 if categorical else 0.1 * gap), categorical,
                                       entries, same))
            if metric == "cr_lp" and "lp-bound" in bounds:
                st = router_style("lp-bound", entries)
                top.axhline(100.0, color=st["color"], linestyle=st["linestyle"], linewidth=1.0,
                            label=figure_label("lp-bound", entries), gid="reference:lp-bound")
            top.set_ylabel("offline")
            top.set_title(title)
            top.tick_params(labelbottom=False)
            top.yaxis.set_major_locator(MaxNLocator(nbins=3))
        else:
            main.set_title(title)
        for router, lacks in lacking.items():
            _note(fig, f"{title}: n/a for {_plain(router, entries)} at {name} "
                       f"{', '.join(str(v) for v in lacks)} (no result).")
        if categorical:
            main.set_xticks(range(len(xs)), [str(v) for v in xs],
                            rotation=30 if len(xs) > 4 else 0, ha="right" if len(xs) > 4
                            else "center", rotation_mode="anchor")
            main.grid(axis="x", visible=False)
            main.set_xlim(-0.6, len(xs) - 0.4)
        elif param == "budget":
            main.set_xticks([pos[v] for v in xs], [f"{v:g}" for v in xs])
        else:
            main.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = _handles(all_axes + strips)
    _legend(fig, handles, labels, 5)
    extra = " and LLM subsets" if param == "models" else ""
    fig.suptitle(f"{runs[0].dataset}: vs {name} ({len(runs)} runs, {_seeds_text(runs)} each; "
                 f"mean ± 95 % t-interval over seeds{extra})")
    return fig


@_styled
def orders_figure(run: Run) -> Figure:
    """Distribution of the competitive ratio vs the LP bound over the run's random arrival
    orders (one seed = one order): a box per online router in its colour (quartiles, black
    median, whiskers to the furthest order within 1.5 IQR of the box, orders beyond as dots);
    the oracles' medians as reference lines, or named with their values when off the scale.
    One-column width."""
    entries = shown(run)
    online = [r for r in run.online() if len(run.values(r, "cr_lp"))]
    if not online:
        raise PlotError(f"{run.path}: no online router has a competitive ratio")
    data = [100.0 * run.values(r, "cr_lp") for r in online]
    n = len(online)
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 1.3 + 0.2 * n), layout="constrained")
    box = ax.boxplot(data, orientation="horizontal", patch_artist=True, widths=0.6, whis=1.5,
                     medianprops={"color": "black", "linewidth": 1.3},
                     whiskerprops={"color": _DARK, "linewidth": 0.7},
                     capprops={"color": _DARK, "linewidth": 0.7},
                     boxprops={"edgecolor": _DARK, "linewidth": 0.7},
                     flierprops={"marker": "o", "markersize": 2, "markeredgewidth": 0.4})
    for patch, flier, router in zip(box["boxes"], box["fliers"], online, strict=True):
        c = colour(router, entries)
        patch.set_facecolor(to_rgba(c, 0.8))
        patch.set_label(figure_label(router, entries))
        flier.set_markerfacecolor(c)
        flier.set_markeredgecolor(_DARK)
    ax.set_yticks(range(1, n + 1), [figure_label(r, entries) for r in online])
    ax.set_ylim(n + 0.6, 0.4)
    ax.grid(axis="y", visible=False)
    lo = min(float(np.nanmin(d)) for d in data)
    hi = max(float(np.nanmax(d)) for d in data)
    refs = [(r, float(np.median(100.0 * run.values(r, "cr_lp")))) for r in run.routers
            if _kind(r, entries) == "oracle" and len(run.values(r, "cr_lp"))]
    needed, off = _references(ax, refs, hi, entries, vertical=True)
    pad = 0.05 * max(needed - lo, 1e-9)
    ax.set_xlim(max(0.0, lo - pad), needed + pad)
    ax.set_xlabel(METRICS["cr_lp"].label)
    _off_scale(ax, fig, off, "competitive ratio (oracle medians)", entries)
    handles, labels = _handles([ax])
    keep = [(h, lab) for h, lab in zip(handles, labels, strict=True) if _is_reference(h)]
    _legend(fig, [h for h, _ in keep], [f"{lab} (median)" for _, lab in keep], 3)
    ax.set_title(f"{run.dataset}: {len(run.seeds)} random arrival orders")
    return fig


def best_baseline(run: Run) -> str | None:
    """The online router other than PORT with the highest mean performance."""
    means = {r: float(np.nanmean(run.values(r, "performance")))
             for r in run.online() if r != catalogue.REFERENCE
             and len(run.values(r, "performance"))}
    return max(means, key=means.__getitem__) if means else None


def learning_end(run: Run) -> int | None:
    """Queries in PORT's learning phase, ceil(eps x N) (at most N), from the run's manifest
    (``config.router_params.port.eps`` and ``n_test``); None when either is not recorded."""
    params = run.config.get("router_params") or {}
    port = params.get(catalogue.REFERENCE) if isinstance(params, dict) else None
    eps = port.get("eps") if isinstance(port, dict) else None
    n = run.manifest.get("n_test") or run.config.get("test_size")
    if eps is None or not n:
        return None
    return min(int(n), math.ceil(float(eps) * int(n)))


def _short(name: str, width: int = 26) -> str:
    """An LLM name that fits a small panel: the whole name, else without its ``org/`` prefix,
    else cut with an ellipsis."""
    if len(name) <= width:
        return name
    name = name.rsplit("/", 1)[-1]
    return name if len(name) <= width else name[:width - 1] + "…"


@_styled
def spend_figure(run: Run) -> Figure:
    """Share of each LLM's budget spent along the stream (0 to 1) for PORT and the best
    baseline, one small panel per LLM (step plots from ``trace.parquet``, first seed), with the
    end of PORT's learning phase as a vertical line. Two-column width."""
    if run.trace is None:
        raise PlotError(f"{run.path}: no trace.parquet")
    entries = shown(run)
    routers = [r for r in (catalogue.REFERENCE, best_baseline(run))
               if r and r in set(run.trace["router"])]
    if not routers:
        raise PlotError(f"{run.path}: trace.parquet has neither PORT nor a baseline")
    llms = list(dict.fromkeys(run.trace["llm"]))
    seed = int(run.trace["seed"].min())
    budgets = run.results[(run.results["metric"] == "budget") & (run.results["llm"] != "")
                          & (run.results["seed"] == seed)].drop_duplicates("llm")
    budget_of = dict(zip(budgets["llm"], budgets["value"], strict=True))
    ncols = min(4, len(llms))
    nrows = math.ceil(len(llms) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH, 0.9 + 1.15 * nrows),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    end = learning_end(run)
    for k, ax in enumerate(axes.flat):
        if k >= len(llms):
            ax.set_visible(False)
            continue
        llm = llms[k]
        budget = float(budget_of.get(llm, np.nan))
        ax.set_title(_short(llm), fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.axhline(1.0, color="0.45", linestyle=":", linewidth=0.8, label="budget", zorder=1)
        if end is not None:
            ax.axvline(end, color="0.3", linestyle="--", linewidth=0.8, gid="learning-end",
                       label=f"end of PORT's learning phase ({end} queries)", zorder=1)
        if not (np.isfinite(budget) and budget > 0):
            ax.text(0.5, 0.5, "no budget", transform=ax.transAxes, ha="center", fontsize=7)
            _note(fig, f"{llm} has no budget (its share is not drawn).")
            continue
        for router in routers:
            t = run.trace[(run.trace["router"] == router) & (run.trace["llm"] == llm)]
            t = t.sort_values("position")
            st = router_style(router, entries)
            ax.step(t["position"], t["spend"] / budget, where="post", color=st["color"],
                    linestyle=st["linestyle"], linewidth=1.1, label=figure_label(router, entries),
                    zorder=3)
    for k, ax in enumerate(axes.flat):
        bottom = k + ncols >= len(llms)  # no panel below: this one shows the x axis
        ax.tick_params(labelbottom=bottom, labelleft=k % ncols == 0)
        if bottom:
            ax.set_xlabel("queries seen")
        ax.set_yticks([0, 0.5, 1])
        ax.xaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
    if end is None:
        _note(fig, "PORT's learning phase is not marked (eps or n_test not in the manifest).")
    fig.supylabel("share of the LLM's budget spent")
    handles, labels = _handles(list(axes.flat))
    _legend(fig, handles, labels, 4)
    fig.suptitle(f"{run.dataset}: spend per LLM along the stream, seed {seed}")
    return fig


@_styled
def calibration_figure(run: Run) -> Figure:
    """The reliability curve of the run's performance estimates, one small panel per LLM: the
    mean true score against the mean estimate in each tenth of [0, 1] (``calibration.parquet``;
    the marker's area grows with the queries in the bin), and the diagonal a calibrated
    estimator lies on. Two-column width."""
    if run.calibration is None or run.calibration.empty:
        raise PlotError(f"{run.path}: no calibration.parquet")
    cal = run.calibration
    llms = list(dict.fromkeys(cal["llm"]))
    ncols = min(4, len(llms))
    nrows = math.ceil(len(llms) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH, 0.9 + 1.3 * nrows),
                             sharex=True, sharey=True, squeeze=False, layout="constrained")
    biggest = float(cal["count"].max())
    for k, ax in enumerate(axes.flat):
        if k >= len(llms):
            ax.set_visible(False)
            continue
        c = cal[cal["llm"] == llms[k]].sort_values("bin")
        ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=0.8,
                label="calibrated (diagonal)")
        ax.plot(c["mean_estimate"], c["mean_outcome"], color=_DARK, linewidth=1.0,
                label="mean true score per bin of the estimate")
        ax.scatter(c["mean_estimate"], c["mean_outcome"], s=4 + 30 * c["count"] / biggest,
                   color=_DARK, zorder=3)
        ax.set_title(_short(llms[k]), fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xticks([0, 0.5, 1])
        ax.set_yticks([0, 0.5, 1])
        bottom = k + ncols >= len(llms)  # no panel below: this one shows the x axis
        ax.tick_params(labelbottom=bottom, labelleft=k % ncols == 0)
        if bottom:
            ax.set_xlabel("estimate (bin mean)")
    fig.supylabel("true performance (bin mean)")
    handles, labels = _handles(list(axes.flat))
    _legend(fig, handles, labels, 2)
    estimator = run.config.get("estimator", "knn-mean")
    fig.suptitle(f"{run.dataset}: calibration of the {estimator} estimates "
                 f"(k = {run.config.get('top_k', '?')})")
    return fig


def _same_frontier(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return a.shape == b.shape and np.allclose(a[["cost", "performance"]].to_numpy(float),
                                              b[["cost", "performance"]].to_numpy(float),
                                              rtol=COINCIDE_RTOL, atol=0.0)


@_styled
def cost_quality_figure(runs: Sequence[Run]) -> Figure:
    """Each router's (cost USD, performance) per run, mean with 95 % t-interval error bars over
    seeds (a router's points joined across budgets), under the offline cost-quality frontier
    of ``frontier.parquet`` (the LP optimum with one total budget: nothing routed can lie above
    it at its own spend), drawn once when the runs share it; each run's total budget as a
    dotted line. Runs without a frontier (older runs) get none, with the reason in the
    caption. One-column width."""
    runs = sorted(runs, key=lambda r: float(r.config.get("budget", 0)))
    entries = shown(runs)
    routers = _routers(runs)
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 4.3), layout="constrained")
    points: dict[str, np.ndarray] = {}
    for router in routers:
        rows = [(*_mean_half(run.values(router, "cost")),
                 *_mean_half(run.values(router, "performance"))) for run in runs]
        points[router] = np.array(rows, dtype=float)
    same = _coincident({r: pd.Series(np.concatenate([p[:, 0], p[:, 2]])) for r, p in
                        points.items()})
    _coincidence_notes(fig, same, entries)
    xmax = ymax = 0.0
    for router, a in points.items():
        ok = np.isfinite(a[:, 0]) & np.isfinite(a[:, 2])
        if not ok.any():
            continue
        st = router_style(router, entries)
        ax.errorbar(a[ok, 0], a[ok, 2], xerr=a[ok, 1], yerr=a[ok, 3], color=st["color"],
                    marker=st["marker"], linestyle=st["linestyle"] if len(runs) > 1 else "none",
                    linewidth=0.8, elinewidth=0.6, capsize=1.5, capthick=0.6,
                    label=_legend_label(router, entries, same), zorder=3)
        xmax = max(xmax, float(np.max(a[ok, 0] + a[ok, 1])))
        ymax = max(ymax, float(np.max(a[ok, 2] + a[ok, 3])))
    totals = [float(r.manifest["total_budget_usd"]) for r in runs
              if isinstance(r.manifest.get("total_budget_usd"), (int, float))]
    xmax = max([xmax, *totals]) * 1.08 or 1.0
    groups: list[tuple[pd.DataFrame, list[Run]]] = []
    for run in runs:
        f = run.frontier
        if f is None or f.empty:
            continue
        f = f.sort_values("cost")
        for g in groups:
            if _same_frontier(g[0], f):
                g[1].append(run)
                break
        else:
            groups.append((f, [run]))
    lacking = [r for r in runs if r.frontier is None or r.frontier.empty]
    if lacking:
        keys = ", ".join(r.key for r in lacking[:3]) + (", ..." if len(lacking) > 3 else "")
        _note(fig, f"No frontier for {len(lacking)} of {len(runs)} run(s) ({keys}): no "
                   "frontier.parquet in the run folder (made before routebench stored "
                   "frontiers; re-run simulate to add it).")
    fmax = 0.0
    for f, members in groups:
        c, p = f["cost"].to_numpy(float), f["performance"].to_numpy(float)
        fmax = max(fmax, float(np.interp(xmax, c, p)))
        at = [float(r.manifest["total_budget_usd"]) for r in members
              if isinstance(r.manifest.get("total_budget_usd"), (int, float))]
        if at:
            _note(fig, "The frontier at the total budget: " + ", ".join(
                f"{_fmt(float(np.interp(b, c, p)))} at {b:.3g} USD" for b in sorted(at)) + ".")
        if c[-1] > xmax:
            _note(fig, f"The frontier continues beyond the axis to {_fmt(p[-1])} at "
                       f"{c[-1]:.3g} USD (everything served at its best).")
    if fmax > REF_STRETCH * ymax > 0:  # the routers keep the axis; the frontier leaves it
        ytop = REF_STRETCH * ymax
        _note(fig, f"The frontier leaves the top of the axis (it reaches {_fmt(fmax)} at "
                   f"{xmax:.3g} USD), so the routers keep their scale.")
    else:
        ytop = max(ymax, fmax) * 1.06 or 1.0
    for k, (f, members) in enumerate(groups):
        c, p = f["cost"].to_numpy(float), f["performance"].to_numpy(float)
        label = "offline frontier $F(c)$"
        if len(groups) > 1:
            label += " (budget " + ", ".join(f"{float(r.config.get('budget', 'nan')):g}"
                                              for r in members) + ")"
        ax.plot(c, p, color=_DARK, linestyle=_LINESTYLES[k % len(_LINESTYLES)],
                linewidth=1.2, label=label, gid="frontier", zorder=2)
        if len(groups) == 1:
            ax.fill_between(c, p, ytop, color="0.6", alpha=0.15, linewidth=0, zorder=1,
                            label="above $F$: out of reach")
    for i, total in enumerate(sorted(set(totals))):
        ax.axvline(total, color="0.45", linestyle=":", linewidth=0.8, zorder=1, gid="budget",
                   label="total budget of a run" if i == 0 else "_nolegend_")
        if len(groups) == 1:  # where the frontier is off the top, its value at the budget
            c, p = (groups[0][0][k].to_numpy(float) for k in ("cost", "performance"))
            value = float(np.interp(total, c, p))
            if value > ytop:
                ax.text(total, 0.99 * ytop, f"$F$ = {_fmt(value)} ↑ ", ha="right", va="top",
                        fontsize=7, color=_DARK, gid="frontier-off-scale")
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, ytop)
    ax.set_xlabel(METRICS["cost"].label)
    ax.set_ylabel(METRICS["performance"].label)
    ax.set_title(f"{runs[0].dataset}: cost vs performance ({len(runs)} run"
                 f"{'s' if len(runs) > 1 else ''})")
    handles, labels = _handles([ax])
    _legend(fig, handles, labels, 2, handlelength=1.8, columnspacing=0.8, handletextpad=0.5)
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


def _width(name: str) -> str:
    width = WIDTHS[name]
    return f"[{'one' if width == COLUMN_WIDTH else 'two'}-column, {width} in]"


_CI = "error bars: 95 % t-interval over seeds"


def plan_figures(runs: Sequence[Run], per_run: bool | None = None
                 ) -> tuple[list[tuple[str, str, Callable[[], Figure]]], list[tuple[str, str]]]:
    """(figures to draw as (name, caption, builder), skipped as (name, reason)). A figure's
    caption is completed by its ``figure_notes`` once drawn."""
    todo: list[tuple[str, str, Callable[[], Figure]]] = []
    skipped: list[tuple[str, str]] = []
    if per_run is None:
        per_run = len(runs) <= PER_RUN_LIMIT
        if not per_run:
            skipped.append(("bars_*, spend_*", f"{len(runs)} runs (more than {PER_RUN_LIMIT}): "
                            "per-run figures left out; pass --per-run to draw them"))
    for run in runs if per_run else ():
        key = _slug(run.key)
        seeds = _seeds_text([run])
        if not run.online():
            skipped.append((f"bars_{key}", "the run has no online router"))
        else:
            todo.append((f"bars_{key}", f"Performance, PPC and throughput of the online routers, "
                         f"{run.key}: bars = mean over {seeds}, {_CI}; the oracles C^_opt, "
                         "C_opt and the LP bound as reference lines (mean over seeds). "
                         f"{_width('bars')}", lambda r=run: bar_figure(r)))
        if run.trace is None:
            skipped.append((f"spend_{key}", "no trace.parquet in the run folder"))
        elif catalogue.REFERENCE not in set(run.trace["router"]):
            skipped.append((f"spend_{key}", "the trace has no PORT"))
        else:
            best = best_baseline(run)
            against = f" and the best baseline ({_plain(best, shown(run))})" if best else ""
            end = learning_end(run)
            mark = (f"; dashed vertical line: end of PORT's learning phase, ceil(eps N) = {end} "
                    "queries" if end is not None else "")
            todo.append((f"spend_{key}", f"Share of each LLM's budget spent along the stream by "
                         f"PORT{against}, one panel per LLM, {run.key}, first seed of {seeds} "
                         f"(one arrival order: no interval){mark}. {_width('spend')}",
                         lambda r=run: spend_figure(r)))
    for run in runs if per_run else ():
        key = _slug(run.key)
        if run.calibration is None or run.calibration.empty:
            skipped.append((f"calibration_{key}", "no calibration.parquet in the run folder"))
        else:
            todo.append((f"calibration_{key}", "Reliability of the performance estimates per "
                         f"LLM, {run.key}: mean true score against mean estimate in each tenth "
                         "of [0, 1], marker area by the queries in the bin; dotted: the "
                         f"diagonal of a calibrated estimator. {_width('calibration')}",
                         lambda r=run: calibration_figure(r)))
    for param in SWEEPS:
        name = SWEEPS[param][2]
        fams = sweep_families(runs, param)
        if not fams:
            skipped.append((f"vs_{param}", f"no two runs differ only in {param}"))
        for i, fam in enumerate(fams):
            fig_name = f"vs_{param}" + (f"_{i + 1}" if len(fams) > 1 else "")
            pooled = " and LLM subsets of each size" if param == "models" else ""
            shape = ("unjoined points per strategy" if param == "split"
                     else "points joined by lines")
            todo.append((fig_name, f"Competitive ratio vs the LP bound and performance vs "
                         f"{name}, {len(fam)} runs of {_seeds_text(fam)} each: online routers "
                         f"below, oracles and bounds in the strip above ({shape}, dodged "
                         f"sideways); mean and 95 % t-interval over seeds{pooled}. "
                         f"{_width('vs')}", lambda f=fam, p=param: param_figure(f, p)))
    many = [r for r in runs if len(r.seeds) >= MIN_ORDER_SEEDS
            and "cr_lp" in set(r.whole()["metric"]) and r.online()]
    if not many:
        skipped.append(("orders", f"no run has {MIN_ORDER_SEEDS} or more seeds (arrival orders)"))
    for run in many:
        todo.append((f"orders_{_slug(run.key)}", f"Competitive ratio vs the LP bound over "
                     f"{len(run.seeds)} random arrival orders (one seed each), {run.key}: box = "
                     "quartiles, black line = median, whiskers = furthest order within 1.5 IQR "
                     "of the box, dots = orders beyond; the oracles' medians as reference "
                     f"lines. {_width('orders')}", lambda r=run: orders_figure(r)))
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
        fig_name = "cost_quality" + (f"_{i + 1}" if len(chosen) > 1 else "")
        runs_text = f"{len(g)} runs differing in budget" if len(g) > 1 else g[0].key
        todo.append((fig_name, f"Cost (USD) and performance of every router, {runs_text}, "
                     f"{_seeds_text(g)} each: mean and 95 % t-interval over seeds on both axes; "
                     "curve: the offline frontier F(c) (LP optimum with one total budget of c "
                     "USD: no router or oracle can lie above it at its own spend); dotted: "
                     f"total budgets. {_width('cost_quality')}",
                     lambda g=g: cost_quality_figure(g)))
    return todo, skipped


def parse_formats(text: str) -> tuple[str, ...]:
    """``"pdf,png"`` -> ("pdf", "png"); refuses unknown formats."""
    names = tuple(dict.fromkeys(t.strip().lower() for t in text.split(",") if t.strip()))
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise PlotError(f"--format {text!r}: expected a comma list of {', '.join(FORMATS)}")
    return names


def save_figure(fig: Figure, base: Path, formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``base.<fmt>`` for each format atomically (at the figure's own size, without
    dates); return the paths."""
    paths = []
    with plt.rc_context(STYLE):
        for fmt in formats:
            path = base.with_name(f"{base.name}.{fmt}")
            io.write_with(path, lambda p, f=fmt: fig.savefig(p, format=f,
                                                             metadata=_METADATA.get(f)))
            paths.append(path)
    return paths


def plot_runs(runs: Sequence[Run], out_dir: str | os.PathLike[str], *,
              per_run: bool | None = None, formats: Sequence[str] = FORMATS,
              progress: Callable[[str], None] | None = None) -> PlotSummary:
    """Draw every figure the runs support into ``out_dir`` and write ``figures.md``, an index
    of the figures drawn (one caption each) and those skipped with the reason. ``progress`` is
    called with each figure's name before it is drawn."""
    if not runs:
        raise PlotError("no runs to plot")
    out = Path(out_dir)
    todo, skipped = plan_figures(runs, per_run)
    summary = PlotSummary(skipped=list(skipped))
    for name, caption, build in todo:
        if progress:
            progress(name)
        fig = build()
        try:
            text = " ".join([caption, *figure_notes(fig)])
            summary.written.append((name, text, save_figure(fig, out / name, formats)))
        finally:
            plt.close(fig)
    lines = ["# Figures", "",
             f"Sized to print at 100 %: two-column figures are {TEXT_WIDTH} in wide, one-column "
             f"figures {COLUMN_WIDTH} in; no text is below {MIN_FONT_PT:g} pt at that width.", ""]
    for name, caption, paths in summary.written:
        links = ", ".join(f"[{p.suffix[1:]}]({p.name})" for p in paths)
        lines.append(f"- `{name}`: {caption} {links}")
    lines += ["", "## Skipped", ""]
    lines += [f"- `{name}`: {reason}" for name, reason in summary.skipped] or ["- none"]
    summary.index = io.write_text(out / "figures.md", "\n".join(lines) + "\n")
    return summary
