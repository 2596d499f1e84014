"""Table-1-style reports of results folders: Markdown, CSV, LaTeX and the console.

Per run, one row per router (online routers, then the oracles C^_opt = ``approx-opt`` and
C_opt = ``opt``): Performance, Cost (USD), PPC, Throughput (queries served), performance
relative to C^_opt, and the competitive ratio (online performance / offline optimum) against the
LP bound and, where it was solved, the MILP optimum. Every cell is the mean over seeds with the
half-width of its 95 % Student-t interval.

Numbers: one format per column. The decimals of a column are those its intervals support: each
half-width rounded to two significant figures, the column printed with the most decimals any of
them needs, at most the registry's ``Metric.digits`` (decimals; significant figures of the
column's largest value for a ``significant`` metric); ``percent`` columns are shown in %. Plain
notation, unless every value of the column would need scientific notation.

Best and ties: seeds are paired (the same seed is the same arrival order and budgets for every
router), so comparisons are made seed by seed. In each ranked column the online router with the
best mean is the best (bold); another online router ties with it when the paired 95 % interval
of their per-seed difference contains 0 (marked †). One seed claims no ties. The oracles see the
whole stream and are never best.

PORT against each baseline: per seed PORT's value / the baseline's (and PORT's minus the
baseline's), then the mean and paired 95 % t-interval over seeds; "mean over baselines" takes the
per-seed mean over baselines first. These means of per-seed ratios differ slightly from a ratio
of the means over seeds (the paper's Table-1 arithmetic) when the values vary from seed to seed;
the paired form is the one with an interval, and the one the tables show.

Several runs also get a combined table pivoted by the parameter they differ in (rows: routers,
columns: its values, cells: one metric). Every requested format is rendered before any file is
written, so a failure leaves no partial set.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from routebench import catalogue, io
from routebench.metrics import METRICS, Metric, mean_ci, table_columns
from routebench.results import (
    Run,
    param_value,
    summarise_run,
    t_interval,
    varying_parameters,
)

if TYPE_CHECKING:
    from rich.console import Console

FORMATS: tuple[str, ...] = ("md", "csv", "tex")
#: The file each format writes; ``csv`` also writes ``COMBINED_CSV`` for several runs.
FILES: dict[str, str] = {"md": "report.md", "csv": "report.csv", "tex": "report.tex"}
COMBINED_CSV = "report-combined.csv"
PM = "±"
TIE = "†"

#: The table's columns, in order: the metric registry's entries with a header. Their
#: ``ranked`` flag says which mark a best online router (cost is spent budget under a hard cap,
#: not an objective of the paper's table: not ranked).
COLUMNS: tuple[Metric, ...] = tuple(table_columns())
#: The metrics of the PORT / baseline comparisons (paper, abstract: 3.55x, 1.85x, 4.25x).
HEADLINE_METRICS: tuple[str, ...] = ("performance", "ppc", "throughput")
#: The combined table's metric when none is asked for: the first of these the runs have.
PIVOT_METRICS: tuple[str, ...] = ("cr_lp", "relative_performance", "performance")
#: Parameters that always differ together with another one and are shown through it.
_FOLDED = {"extreme_k": "split"}
#: Console abbreviations of the table headers (the legend below a table spells them out).
_SHORT_HEADERS = {"performance": "Perf", "cost": "Cost", "ppc": "PPC", "throughput": "Thru",
                  "relative_performance": "Rel%", "cr_lp": "CR-LP%", "cr_milp": "CR-MILP%"}
#: How PORT / baseline ratios are formatted (at most two decimals).
_RATIO = Metric("ratio", "PORT / baseline, paired over seeds", "ratio", True, digits=2)
_NOTE_BEST = ("Bold: best online router of each ranked column; {tie}: tied with it, the paired "
              "95 % interval of the per-seed difference containing 0 (a seed is the same "
              "arrival order and budgets for every router). The oracles C^_opt and C_opt are "
              "never best; cost is not ranked.")
_NOTE_ONE_SEED = "One seed: no intervals and no ties."


class ReportError(ValueError):
    """A report that cannot be made from the given runs or options."""


# --------------------------------------------------------------------------- number formats
def _sig_decimals(value: float, sig: int = 2) -> int:
    """Decimals that show ``value`` (> 0) to ``sig`` significant figures, after rounding it to
    them (0.0995 -> 0.10: two decimals)."""
    rounded = float(f"{value:.{sig - 1}e}")
    return sig - 1 - math.floor(math.log10(rounded))


@dataclass(frozen=True)
class NumberFormat:
    """How every number of one column is written: rounded to ``decimals`` places (negative:
    to tens, hundreds...) in plain notation, or with ``decimals`` mantissa decimals in
    scientific notation; values multiplied by ``scale`` (100 for % columns); a leading sign
    when ``signed`` (differences)."""

    decimals: int
    scale: float = 1.0
    scientific: bool = False
    signed: bool = False

    def _text(self, value: float, signed: bool) -> str:
        sign = "+" if signed else ""
        if self.scientific:
            return f"{value:{sign}.{self.decimals}e}"
        value = round(value, self.decimals)
        value = 0.0 if value == 0 else value  # no "-0"
        return f"{value:{sign},.{max(self.decimals, 0)}f}"

    def number(self, value: float) -> str:
        return self._text(value * self.scale, self.signed)

    def half(self, value: float) -> str:
        return self._text(value * self.scale, False)

    def cell(self, mean: float, low: float, high: float, n: int = 2) -> str:
        """``mean ± half-width``; just the mean without an interval (one seed); ``n/a`` for an
        undefined mean."""
        if not np.isfinite(mean):
            return "n/a"
        half = (high - low) / 2 if n >= 2 and np.isfinite(low) and np.isfinite(high) else math.nan
        text = self.number(mean)
        return text if not np.isfinite(half) else f"{text} {PM} {self.half(half)}"


def column_format(metric: Metric, means: Sequence[float], halves: Sequence[float] = (),
                  signed: bool = False) -> NumberFormat:
    """The one format of a column of ``metric`` holding ``means`` with interval half-widths
    ``halves`` (NaN: no interval), both in the metric's units (ratios, not %).

    Decimals: the most any half-width needs to show two significant figures (negative for
    wide intervals: 22,556 ± 1,578 is written 22,600 ± 1,600), capped by ``metric.digits``
    (decimals; for a ``significant`` metric, significant figures of the column's largest
    mean); without intervals, the cap. Scientific notation only when every non-zero mean
    needs it (below 1e-4 or from 1e9 on, or every one would print as 0)."""
    scale = 100.0 if metric.percent else 1.0
    m = np.abs(np.asarray(means, dtype=np.float64)) * scale
    m = m[np.isfinite(m)]
    h = np.asarray(halves, dtype=np.float64) * scale
    h = h[np.isfinite(h) & (h > 0)]
    nonzero = m[m > 0]
    cap = metric.digits
    if metric.significant and nonzero.size:
        cap = max(metric.digits - 1 - math.floor(math.log10(nonzero.max())), 0)
    decimals = min(max(_sig_decimals(x) for x in h), cap) if h.size else cap
    tiny = nonzero.size and bool(np.all((nonzero < 1e-4) | (nonzero >= 1e9)
                                        | (nonzero < 0.5 * 10.0 ** -decimals)))
    if tiny:
        return NumberFormat(decimals=max(metric.digits - 1, 1) if metric.significant else 2,
                            scale=scale, scientific=True, signed=signed)
    return NumberFormat(decimals=decimals, scale=scale, signed=signed)


def format_cell(col: Metric, mean: float, low: float, high: float, n: int = 2) -> str:
    """One cell on its own (the column format of that single value)."""
    half = (high - low) / 2 if n >= 2 else math.nan
    return column_format(col, [mean], [half]).cell(mean, low, high, n)


# --------------------------------------------------------------------------- numbers
@dataclass(frozen=True)
class RunReport:
    """The numbers of one run's table.

    ``stats``: per router and metric ``mean``, ``ci_low``, ``ci_high``, ``n_seeds``, ``best``
    (the best online router of a ranked column) and ``tie`` (an online router whose paired
    interval of the per-seed difference to the best contains 0). ``bounds``: per offline bound
    (``lp-bound``, ``milp``) and metric the same statistics. ``comparisons``: PORT against each
    baseline and the ``mean`` over baselines, per headline metric and ``kind`` (``ratio``:
    PORT / baseline, ``difference``: PORT - baseline, both per seed), with the mean, paired
    t-interval and ``n_seeds`` over seeds (empty when PORT or every baseline is absent).
    """

    run: Run
    routers: list[str]
    columns: list[Metric]
    stats: pd.DataFrame
    bounds: pd.DataFrame
    comparisons: pd.DataFrame

    @property
    def n_seeds(self) -> int:
        return len(self.run.seeds)


def per_seed(run: Run, metric: str) -> pd.DataFrame:
    """One whole-stream metric of every router, seed by seed: index ``seed``, a column per
    router; NaN where undefined (a non-finite value counts as undefined)."""
    whole = run.whole()
    sel = whole[whole["metric"] == metric]
    wide = sel.groupby(["seed", "router"])["value"].first().unstack("router")
    return wide.where(np.isfinite(wide.to_numpy(dtype=np.float64)))


def paired_interval(a: pd.Series, b: pd.Series,
                    op: Callable[[pd.Series, pd.Series], pd.Series]) -> tuple[float, float,
                                                                                 float, int]:
    """(mean, low, high, n) of ``op(a, b)`` over the seeds both define: the per-seed values'
    mean and 95 % Student-t interval (``metrics.mean_ci``); NaN bounds under two seeds."""
    values = op(a, b).to_numpy(dtype=np.float64)
    return (*t_interval(values), int(np.isfinite(values).sum()))


def _difference(a: pd.Series, b: pd.Series) -> pd.Series:
    return a - b


def _ratio(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a / b).where(b > 0)


def _mark_best(run: Run, stats: pd.DataFrame, col: Metric) -> None:
    """Set ``best`` and ``tie`` of one ranked column in place."""
    online = stats["router"].isin(run.online())
    sel = online & (stats["metric"] == col.name) & np.isfinite(stats["mean"])
    if not sel.any():
        return
    means = stats.loc[sel, "mean"]
    target = means.max() if col.higher_is_better else means.min()
    best = sel & (stats["mean"] == target)
    stats.loc[best, "best"] = True
    leader = stats.loc[best, "router"].iloc[0]
    values = per_seed(run, col.name)
    if leader not in values.columns:
        return
    for i in stats.index[sel & ~best]:
        router = stats.at[i, "router"]
        if router not in values.columns:
            continue
        _, low, high, n = paired_interval(values[router], values[leader], _difference)
        stats.at[i, "tie"] = bool(n >= 2 and low <= 0 <= high)


def _comparisons(run: Run, routers: list[str]) -> pd.DataFrame:
    cols = ["kind", "baseline", "metric", "mean", "ci_low", "ci_high", "n_seeds"]
    ref = catalogue.REFERENCE
    if ref not in routers:
        return pd.DataFrame(columns=cols)
    rows = []
    for metric in HEADLINE_METRICS:
        values = per_seed(run, metric)
        if ref not in values.columns:
            continue
        baselines = [r for r in run.online() if r != ref and r in values.columns]
        for kind, op in (("ratio", _ratio), ("difference", _difference)):
            each = pd.DataFrame({b: op(values[ref], values[b]) for b in baselines})
            if each.empty:
                continue
            each["mean"] = each.mean(axis=1)  # per seed, over the baselines it defines
            for b in each.columns:
                rows.extend({"kind": kind, "baseline": b, "metric": metric, "seed": s,
                             "value": v} for s, v in each[b].items())
    if not rows:
        return pd.DataFrame(columns=cols)
    out = mean_ci(pd.DataFrame(rows), ["kind", "baseline", "metric"])
    return out.rename(columns={"n": "n_seeds"})[cols]


def build_run_report(run: Run) -> RunReport:
    """Compute one run's table: statistics per router, best and tie markers, bounds and the
    paired PORT / baseline comparisons."""
    summary = summarise_run(run)
    routers = run.routers
    present = set(summary["metric"])
    columns = [c for c in COLUMNS if c.name in present]
    stats = summary[summary["router"].isin(routers)
                    & summary["metric"].isin([c.name for c in columns])].copy()
    stats = stats.reset_index(drop=True)
    stats["best"] = False
    stats["tie"] = False
    for col in columns:
        if col.ranked:
            _mark_best(run, stats, col)
    bounds = summary[summary["router"].isin(["lp-bound", "milp", "estimates"])].copy()
    return RunReport(run=run, routers=routers, columns=columns, stats=stats,
                     bounds=bounds.reset_index(drop=True),
                     comparisons=_comparisons(run, routers))


# --------------------------------------------------------------------------- table model
@dataclass(frozen=True)
class Cell:
    """One table cell: its text (formatted number, or ``n/a``), best and tie marks."""

    text: str
    best: bool = False
    tie: bool = False


@dataclass(frozen=True)
class TableData:
    """A table before it is written in one format: the ``corner`` header, row ``keys`` (router
    names), their plain ``labels`` and ``tex_labels``, column ``headers`` (plain text) and
    ``short_headers`` (a narrow console's, spelt out in a legend), ``cells`` (rows x
    columns), ``split`` (the first row of a second block, e.g. the oracles, or None) and
    ``groups`` (an optional header line above the headers, LaTeX only)."""

    corner: str
    keys: list[str]
    labels: list[str]
    tex_labels: list[str]
    headers: list[str]
    short_headers: list[str]
    cells: list[list[Cell]]
    split: int | None = None
    groups: list[str] | None = None


def _tex_label(run: Run, router: str) -> str:
    """The router's LaTeX label: its math form (``$\\hat{C}_{\\mathrm{opt}}$``) or its escaped
    label."""
    entry = catalogue.entry(router, run.router_entries)
    return entry.math or tex_text(entry.label)


def _split_at_oracles(run: Run, routers: Sequence[str]) -> int | None:
    first = next((i for i, r in enumerate(routers) if run.kind(r) != "online"), None)
    return first if first not in (None, 0) else None


def _column_cells(metric: Metric, rows: Sequence[pd.Series | None],
                  signed: bool = False) -> list[Cell]:
    """A column's cells from rows with ``mean``, ``ci_low``, ``ci_high``, ``n_seeds`` and
    optional ``best`` / ``tie`` (None: no value), all in one format."""
    present = [r for r in rows if r is not None]
    halves = [(r["ci_high"] - r["ci_low"]) / 2 if r["n_seeds"] >= 2 else math.nan
              for r in present]
    fmt = column_format(metric, [r["mean"] for r in present], halves, signed=signed)
    out = []
    for r in rows:
        if r is None:
            out.append(Cell("n/a"))
            continue
        out.append(Cell(fmt.cell(r["mean"], r["ci_low"], r["ci_high"], int(r["n_seeds"])),
                        best=bool(r.get("best", False)), tie=bool(r.get("tie", False))))
    return out


def run_table(rep: RunReport, columns: Sequence[Metric] | None = None) -> TableData:
    """One run's main table (``columns`` default: every table column the run has)."""
    cols = list(rep.columns if columns is None else columns)
    idx = rep.stats.set_index(["router", "metric"])
    by_col = [_column_cells(c, [idx.loc[(r, c.name)] if (r, c.name) in idx.index else None
                                for r in rep.routers]) for c in cols]
    cells = [list(row) for row in zip(*by_col, strict=True)] if by_col else [
        [] for _ in rep.routers]
    return TableData(
        corner="Router", keys=list(rep.routers),
        labels=[rep.run.label(r) for r in rep.routers],
        tex_labels=[_tex_label(rep.run, r) for r in rep.routers],
        headers=[c.header for c in cols],
        short_headers=[_SHORT_HEADERS.get(c.name, c.name) for c in cols],
        cells=cells, split=_split_at_oracles(rep.run, rep.routers))


def _comparison_table(rep: RunReport, kind: str) -> TableData:
    comp = rep.comparisons[rep.comparisons["kind"] == kind].set_index(["baseline", "metric"])
    metrics = [m for m in HEADLINE_METRICS if m in set(comp.index.get_level_values("metric"))]
    order = [b for b in rep.run.online() if b in set(comp.index.get_level_values("baseline"))]
    order.append("mean")
    by_col = []
    for m in metrics:
        rows = [comp.loc[(b, m)] if (b, m) in comp.index else None for b in order]
        if kind == "ratio":
            by_col.append(_column_cells(_RATIO, rows))
        else:
            by_col.append(_column_cells(METRICS[m], rows, signed=True))
    labels = [("Mean over baselines" if b == "mean" else rep.run.label(b)) for b in order]
    names = [_strip_unit(METRICS[m].header) for m in metrics]
    if kind == "ratio":
        headers = [f"{n} (×)" for n in names]
        short = [f"{_SHORT_HEADERS.get(m, m)} ×" for m in metrics]
    else:
        headers = [METRICS[m].header for m in metrics]
        short = [_SHORT_HEADERS.get(m, m) for m in metrics]
    return TableData(
        corner="Baseline", keys=order, labels=labels,
        tex_labels=[tex_text(label) for label in labels], headers=headers,
        short_headers=short, cells=[list(r) for r in zip(*by_col, strict=True)],
        split=len(order) - 1)


def _strip_unit(header: str) -> str:
    return re.sub(r"\s*\([^()]*\)$", "", header)


def _merge(a: TableData, b: TableData, group_a: str, group_b: str) -> TableData:
    """Two tables with the same rows side by side, each under a header group."""
    return TableData(
        corner=a.corner, keys=a.keys, labels=a.labels, tex_labels=a.tex_labels,
        headers=a.headers + b.headers, short_headers=a.short_headers + b.short_headers,
        cells=[x + y for x, y in zip(a.cells, b.cells, strict=True)], split=a.split,
        groups=[group_a] * len(a.headers) + [group_b] * len(b.headers))


# --------------------------------------------------------------------------- Markdown
def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(cell: Cell) -> str:
    text = f"**{cell.text}**" if cell.best else cell.text
    return f"{text} {TIE}" if cell.tie else text


def markdown_table(table: TableData) -> list[str]:
    """The table's Markdown lines (numbers right-aligned)."""
    header = [table.corner] + table.headers
    lines = ["| " + " | ".join(_md_escape(h) for h in header) + " |",
             "| " + " | ".join("---:" if i else "---" for i in range(len(header))) + " |"]
    for label, row in zip(table.labels, table.cells, strict=True):
        lines.append("| " + " | ".join([_md_escape(label)] + [_md_cell(c) for c in row]) + " |")
    return lines


def _describe(run: Run) -> str:
    cfg = run.config
    split = param_value(run, "split")
    cells = (f"mean {PM} half-width of the 95 % t-interval over seeds" if len(run.seeds) > 1
             else "values of the one seed")
    return (
        f"Dataset `{run.dataset}`, {cfg.get('test_size')} test queries, budget x"
        f"{cfg.get('budget')}, split `{split}`, {len(run.llms)} LLMs, {len(run.seeds)} seed(s); "
        f"{cells}."
    )


def _marks_note(n_seeds: int) -> str:
    note = _NOTE_BEST.format(tie=TIE)
    return note if n_seeds >= 2 else f"{note} {_NOTE_ONE_SEED}"


def _bound_lines(rep: RunReport) -> list[str]:
    b = rep.bounds.set_index(["router", "metric"]) if not rep.bounds.empty else None
    lines = []
    perf = METRICS["performance"]

    def value(router: str) -> str:
        r = b.loc[(router, "performance")]
        return format_cell(perf, r["mean"], r["ci_low"], r["ci_high"], int(r["n_seeds"]))

    if b is not None and ("lp-bound", "performance") in b.index:
        lines.append("LP bound (offline LP relaxation on true features; `CR vs LP bound` "
                     f"divides by it): {value('lp-bound')}")
    if b is not None and ("milp", "performance") in b.index:
        r = b.loc[("milp", "performance")]
        gap = b.loc[("milp", "gap"), "mean"] if ("milp", "gap") in b.index else math.nan
        lines.append(
            "MILP optimum (exact 0/1 offline optimum; `CR vs MILP opt.` divides by it): "
            f"{value('milp')}, solved for {int(r['n_seeds'])} of {rep.n_seeds} seed(s), "
            f"mean proven gap {100 * gap:.2f} %"
        )
    else:
        lines.append("MILP optimum: not solved for this run (instance above the MILP limit), "
                     "so the competitive ratio is against the LP bound only.")
    if b is not None and ("estimates", "brier_mean") in b.index:
        estimator = rep.run.config.get("estimator", "knn-mean")
        parts = [f"{label} {b.loc[('estimates', name), 'mean']:.4f}"
                 for name, label in (("brier_mean", "Brier score"), ("perf_mae_mean", "MAE"),
                                     ("cost_corr_mean", "cost correlation"))
                 if ("estimates", name) in b.index]
        lines.append(f"Estimates (`{estimator}`, k = {rep.run.config.get('top_k', '?')}) "
                     f"against the true outcomes of the test stream: {', '.join(parts)} "
                     "(means over LLMs; per LLM in the results)")
    return lines


def _limit_lines(rep: RunReport) -> list[str]:
    """One note per deterministic solver limit that bound in the run (results metrics
    ``limit_batches`` of batch-split and ``limit_hit`` of milp): the numbers are reproducible
    but the solver stopped short of proving its optimum."""
    res = rep.run.results
    whole = res[res["llm"] == ""]
    lines = []
    bs = whole[whole["router"] == "batch-split"]
    hit = bs[(bs["metric"] == "limit_batches") & (bs["value"] > 0)]
    if not hit.empty:
        total = int(bs.loc[bs["metric"] == "batches", "value"].sum())
        seeds = ", ".join(str(int(s)) for s in sorted(hit["seed"]))
        lines.append(
            f"BatchSplit: the per-batch node limit bound in {int(hit['value'].sum())} of {total} "
            f"batches (seeds {seeds}); numbers are deterministic but may be below the batch "
            "optimum."
        )
    milp = whole[whole["router"] == "milp"]
    stopped = sorted(int(s) for s in milp.loc[(milp["metric"] == "limit_hit")
                                              & (milp["value"] > 0), "seed"])
    if stopped:
        gap = milp.loc[(milp["metric"] == "gap") & milp["seed"].isin(stopped), "value"].max()
        lines.append(
            f"MILP: node limit reached (seeds {', '.join(map(str, stopped))}), proven gap "
            f"{100 * gap:.3g} %: the MILP value is the best integer solution found, not a proven "
            "optimum."
        )
    return lines


_COMPARISON_NOTE = ("Per seed PORT's value / the baseline's (and PORT's minus the baseline's), "
                    f"then the mean {PM} half-width of the paired 95 % t-interval over seeds; "
                    "the mean over baselines is taken per seed first.")


def run_markdown(rep: RunReport, level: int = 2) -> str:
    """One run's section: the table, the bounds and the paired PORT / baseline comparisons, in
    Markdown."""
    h = "#" * level
    lines = [f"{h} {rep.run.key}", "", _describe(rep.run), ""]
    lines += markdown_table(run_table(rep))
    lines += ["", _marks_note(rep.n_seeds), ""]
    lines += [f"- {x}" for x in _bound_lines(rep)]
    lines += [f"- **Note:** {x}" for x in _limit_lines(rep)]
    if not rep.comparisons.empty:
        lines += ["", f"{h}# PORT / baseline (paired over seeds)", "", _COMPARISON_NOTE, ""]
        lines += markdown_table(_comparison_table(rep, "ratio"))
        lines += ["", f"{h}# PORT - baseline (paired over seeds)", ""]
        lines += markdown_table(_comparison_table(rep, "difference"))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- LaTeX
def _math_tokens() -> dict[str, str]:
    """Plain names of the oracles as labels and headers write them (``C^_opt``, in the
    parentheses of their label) -> their math form (``$\\hat{C}_{\\mathrm{opt}}$``)."""
    out = {}
    for e in catalogue.BUILTIN:
        m = re.search(r"\(([^()\s]+)\)\s*$", e.label)
        if e.math and m:
            out[m.group(1)] = e.math
    return out


_TEX_SYMBOLS = {PM: r"$\pm$", TIE: r"$^{\dagger}$", "×": r"$\times$", "≈": r"$\approx$",
                "−": r"$-$", "≤": r"$\leq$", "≥": r"$\geq$"}
_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
                "|": r"\textbar{}"}
_TEX_SPECIAL = re.compile("|".join(re.escape(k) for k in _TEX_ESCAPES))


def _tex_escape(text: str) -> str:
    return _TEX_SPECIAL.sub(lambda m: _TEX_ESCAPES[m.group()], text)


def tex_text(text: str) -> str:
    """Plain text as LaTeX: special characters escaped (``_`` -> ``\\_``, ``%`` -> ``\\%``...),
    the oracles' plain names (``C^_opt``) and the symbols ± † × as math."""
    tokens = {**_math_tokens(), **_TEX_SYMBOLS}
    pattern = re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))
    out, pos = [], 0
    for m in pattern.finditer(text):
        out += [_tex_escape(text[pos:m.start()]), tokens[m.group()]]
        pos = m.end()
    out.append(_tex_escape(text[pos:]))
    return "".join(out)


def _two_lines(header: str) -> tuple[str, str]:
    """A header on two lines, split between words where the longer line is shortest; one word
    goes on the second line."""
    words = header.split()
    if len(words) < 2:
        return "", header
    best = min(range(1, len(words)), key=lambda i: max(len(" ".join(words[:i])),
                                                       len(" ".join(words[i:]))))
    return " ".join(words[:best]), " ".join(words[best:])


def _tex_cell(cell: Cell) -> str:
    text = "--" if cell.text == "n/a" else tex_text(cell.text)
    return f"{text}{_TEX_SYMBOLS[TIE]}" if cell.tie else text


#: Wraps a tabular so that it never exceeds the text width (graphicx; only shrinks).
_FIT_OPEN = r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%"


def latex_table(table: TableData, caption: str, label: str) -> str:
    """The table as a LaTeX ``table`` float through pandas' Styler: booktabs rules, two-line
    headers (or a header group above), best cells in bold, ties with a dagger, the oracles
    below a rule, shrunk to the text width when wider. ``caption`` is plain text (escaped
    here). Needs ``\\usepackage{booktabs,graphicx}``."""
    if table.groups is not None:
        tuples = list(zip(table.groups, table.headers, strict=True))
    else:
        tuples = [_two_lines(h) for h in table.headers]
    columns = pd.MultiIndex.from_tuples(tuples, names=[None, table.corner])
    body = [[_tex_cell(c) for c in row] for row in table.cells]
    frame = pd.DataFrame(body, index=pd.RangeIndex(len(table.keys)), columns=columns)
    labels = dict(enumerate(table.tex_labels))
    bold = np.array([[c.best for c in row] for row in table.cells], dtype=bool).reshape(
        frame.shape)
    try:  # pandas' Styler renders through jinja2
        styler = (frame.style
                  .format(lambda x: x)
                  .format_index(lambda i: labels[i], axis=0)
                  .format_index(tex_text, axis=1)
                  .apply(lambda _: np.where(bold, "font-weight: bold;", ""), axis=None))
        tabular = styler.to_latex(hrules=True, convert_css=True, multicol_align="c",
                                  column_format="l" + "r" * len(table.headers))
    except ImportError as exc:
        raise ReportError(f"LaTeX tables need jinja2 (pandas' Styler): {exc}; install it with "
                          "pip install 'jinja2>=3.1.2', or ask for --format md,csv") from None
    lines = tabular.strip().splitlines()
    if table.split is not None:
        first_row = lines.index("\\midrule") + 1
        lines.insert(first_row + table.split, "\\midrule")
    safe = "".join(c if c.isalnum() else "-" for c in label)
    return "\n".join([
        "\\begin{table}[t]", "\\centering", "\\small", _FIT_OPEN, *lines, "}",
        f"\\caption{{{tex_text(caption)}}}", f"\\label{{tab:{safe}}}", "\\end{table}",
    ]) + "\n"


def latex_columns(rep: RunReport) -> list[Metric]:
    """The LaTeX table's default columns: the ranked ones (Cost stays in Markdown and CSV)."""
    return [c for c in rep.columns if c.ranked]


def run_latex(rep: RunReport, columns: Sequence[Metric] | None = None) -> str:
    """One run's table as a LaTeX ``table`` (``columns`` default: the ranked ones), and the
    paired PORT / baseline comparisons as a second one."""
    cols = latex_columns(rep) if columns is None else list(columns)
    notes = [x.replace("`", "").rstrip(".") + "." for x in _bound_lines(rep) + _limit_lines(rep)]
    caption = " ".join([_describe(rep.run).replace("`", ""), _marks_note(rep.n_seeds), *notes])
    parts = [latex_table(run_table(rep, cols), caption, rep.run.key)]
    if not rep.comparisons.empty:
        ratios, diffs = (_comparison_table(rep, k) for k in ("ratio", "difference"))
        table = _merge(*(dataclasses.replace(t, headers=[_strip_unit(h) for h in t.headers])
                         for t in (ratios, diffs)), "PORT / baseline (×)", "PORT − baseline")
        units = ", ".join(f"{_strip_unit(METRICS[m].header)} in {METRICS[m].unit}"
                          for m in HEADLINE_METRICS if m in set(rep.comparisons["metric"]))
        caption = (f"PORT against each baseline on {rep.run.key}. {_COMPARISON_NOTE} "
                   f"Differences: {units}.")
        parts.append(latex_table(table, caption, f"{rep.run.key}-port"))
    return "\n".join(parts)


# --------------------------------------------------------------------------- several runs
def combined_parameters(runs: Sequence[Run]) -> list[str]:
    """The config fields the runs differ in (seeds excluded; ``extreme_k`` shown through
    ``split``)."""
    params = varying_parameters(runs, ignore=("seeds",))
    shown = [p for p in params if p not in _FOLDED or _FOLDED[p] not in params]
    return [_FOLDED.get(p, p) for p in shown]


def _sort_key(value: object) -> tuple[int, object]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def _ordered_reports(reports: Sequence[RunReport], params: list[str]) -> list[RunReport]:
    return sorted(reports, key=lambda r: tuple(_sort_key(param_value(r.run, p))
                                               for p in params))


def _column_keys(reports: Sequence[RunReport], params: list[str]) -> list[str]:
    """One header per run: the values of ``params`` (``budget=0.5``), numbered where runs
    share them, the run key without parameters."""
    if not params:
        return [r.run.key for r in reports]
    keys = [", ".join(f"{p}={param_value(r.run, p)}" for p in params) for r in reports]
    counts = {k: keys.count(k) for k in keys}
    seen: dict[str, int] = {}
    out = []
    for k in keys:
        if counts[k] > 1:
            seen[k] = seen.get(k, 0) + 1
            k = f"{k} #{seen[k]}"
        out.append(k)
    return out


def pivot_metric(reports: Sequence[RunReport], metric: str | None = None) -> Metric:
    """The combined table's metric: ``metric`` (a table column's name), else the first of
    ``PIVOT_METRICS`` the runs have."""
    have = {c.name for r in reports for c in r.columns}
    if metric is not None:
        if metric not in {c.name for c in COLUMNS}:
            raise ReportError(f"--metric {metric!r}: expected one of "
                              f"{', '.join(c.name for c in COLUMNS)}")
        if metric not in have:
            raise ReportError(f"--metric {metric!r}: none of the runs has it")
        return METRICS[metric]
    name = next((m for m in PIVOT_METRICS if m in have), None)
    if name is None:
        raise ReportError("the runs share none of the metrics "
                          f"{', '.join(PIVOT_METRICS)} for a combined table")
    return METRICS[name]


@dataclass(frozen=True)
class Pivot:
    """The combined table over several runs: ``params`` they differ in, ``metric``, the runs in
    column order with their column ``headers``, ``routers`` (rows) and the ``table``."""

    params: list[str]
    metric: Metric
    reports: list[RunReport]
    headers: list[str]
    routers: list[str]
    table: TableData

    @property
    def title(self) -> str:
        by = ", ".join(self.params) if self.params else "run"
        return f"{self.metric.header} by {by}"

    def frame(self) -> pd.DataFrame:
        """Numbers of the table: per router, for each column ``<header> mean``, ``ci_low`` and
        ``ci_high`` (ratios as ratios, not %)."""
        data: dict[str, list] = {"router": self.routers,
                                 "label": list(self.table.labels),
                                 "metric": [self.metric.name] * len(self.routers)}
        for head, rep in zip(self.headers, self.reports, strict=True):
            idx = rep.stats.set_index(["router", "metric"])
            for stat in ("mean", "ci_low", "ci_high"):
                data[f"{head} {stat}"] = [
                    idx.at[(r, self.metric.name), stat] if (r, self.metric.name) in idx.index
                    else math.nan for r in self.routers]
        return pd.DataFrame(data)


def combined_pivot(reports: Sequence[RunReport], metric: str | None = None) -> Pivot:
    """The pivot of one metric over several runs: rows the routers (in display order), columns
    the runs sorted by the parameters they differ in, cells mean ± half-width (one format per
    column) with each run's best and tie marks."""
    params = combined_parameters([r.run for r in reports])
    chosen = pivot_metric(reports, metric)
    ordered = _ordered_reports(reports, params)
    stored: dict[str, dict] = {}
    first_run: dict[str, Run] = {}
    for rep in ordered:
        stored.update(rep.run.router_entries)
        for r in rep.routers:
            first_run.setdefault(r, rep.run)
    routers = catalogue.ordered(list(first_run), stored)
    by_col = []
    for rep in ordered:
        idx = rep.stats.set_index(["router", "metric"])
        by_col.append(_column_cells(chosen, [idx.loc[(r, chosen.name)]
                                             if (r, chosen.name) in idx.index else None
                                             for r in routers]))
    headers = _column_keys(ordered, params)
    values = [h.split("=", 1)[1] if len(params) == 1 and "=" in h else h for h in headers]
    short = values if all(len(v) <= 12 for v in values) else [
        f"({i})" for i in range(1, len(values) + 1)]
    table = TableData(
        corner="Router", keys=routers, labels=[first_run[r].label(r) for r in routers],
        tex_labels=[_tex_label(first_run[r], r) for r in routers],
        headers=values, short_headers=short,
        cells=[list(row) for row in zip(*by_col, strict=True)],
        split=_split_at_oracles(first_run[routers[0]], routers) if routers else None,
        groups=[", ".join(params) or "run"] * len(values))
    return Pivot(params=params, metric=chosen, reports=ordered, headers=headers,
                 routers=routers, table=table)


def _pivot_note(pivot: Pivot) -> str:
    by = ", ".join(pivot.params) if pivot.params else "run"
    text = (f"{len(pivot.reports)} runs differing in {by}; cells: {pivot.metric.header}, mean "
            f"{PM} half-width of the 95 % t-interval over seeds.")
    if pivot.metric.ranked:
        text += (f" Bold: best online router of each run; {TIE}: tied with it (paired over "
                 "seeds).")
    return text


def _run_mean(run: Run, router: str, metric: str) -> float:
    values = run.values(router, metric)
    return float(values.mean()) if values.size else math.nan


def runs_overview(pivot: Pivot) -> pd.DataFrame:
    """Per run of the combined table (in its order): what an estimator or index sweep compares.
    ``copt`` C^_opt's performance; ``best`` the best online router and ``best_relative`` its
    performance / C^_opt; ``port_relative`` PORT's; the estimates' ``brier``, ``perf_mae`` and
    ``cost_corr`` (means over LLMs); the index's measured ``recall`` at k. NaN (or "") where a
    run lacks one."""
    rows = []
    for head, rep in zip(pivot.headers, pivot.reports, strict=True):
        run = rep.run
        online = [r for r in run.online() if run.values(r, "relative_performance").size]
        best = max(online, key=lambda r: _run_mean(run, r, "relative_performance"),
                   default="")
        measured = (run.manifest.get("index") or {}).get("measured") or {}
        rows.append({
            "run": head, "copt": _run_mean(run, catalogue.RELATIVE_TO, "performance"),
            "best": run.label(best) if best else "",
            "best_relative": _run_mean(run, best, "relative_performance") if best else math.nan,
            "port_relative": _run_mean(run, "port", "relative_performance"),
            "brier": _run_mean(run, "estimates", "brier_mean"),
            "perf_mae": _run_mean(run, "estimates", "perf_mae_mean"),
            "cost_corr": _run_mean(run, "estimates", "cost_corr_mean"),
            "recall": float(measured.get("recall_at_k", math.nan)),
        })
    return pd.DataFrame(rows)


def _overview_lines(pivot: Pivot) -> list[str]:
    frame = runs_overview(pivot)

    def num(value: float, fmt: str) -> str:
        return "-" if value != value else format(value, fmt)

    lines = ["## Per run: C^_opt, the best online router, PORT, estimates and recall", "",
             "Means over seeds. Relative: performance / C^_opt (approx-opt). Brier, MAE: the "
             "performance estimates against the true scores; cost corr.: the cost estimates' "
             "Pearson correlation with the true costs (means over LLMs); recall: the index's "
             "recall@k.", "",
             "| run | C^_opt | best online (relative) | PORT (relative) | Brier | perf MAE | "
             "cost corr. | recall |", "|---|---:|---|---:|---:|---:|---:|---:|"]
    for row in frame.itertuples(index=False):
        best = f"{_md_escape(row.best)} {num(100 * row.best_relative, '.1f')} %" \
            if row.best else "-"
        lines.append(f"| {_md_escape(row.run)} | {num(row.copt, '.4g')} | {best} | "
                     f"{num(100 * row.port_relative, '.1f')} % | {num(row.brier, '.4f')} | "
                     f"{num(row.perf_mae, '.4f')} | {num(row.cost_corr, '.3f')} | "
                     f"{num(row.recall, '.4f')} |")
    return lines


def combined_markdown(pivot: Pivot) -> str:
    """The combined table's Markdown section, then the per-run overview (``runs_overview``)."""
    table = dataclasses.replace(pivot.table, headers=pivot.headers)
    lines = [f"## {pivot.title}", "", _pivot_note(pivot), ""] + markdown_table(table)
    lines += ["", *_overview_lines(pivot)]
    return "\n".join(lines) + "\n"


def combined_latex(pivot: Pivot) -> str:
    caption = f"{pivot.title}. {_pivot_note(pivot)}"
    return latex_table(pivot.table, caption, "combined-" + "-".join(pivot.params or ["runs"]))


# --------------------------------------------------------------------------- console
def _abbreviate(labels: Sequence[str], limit: int = 8) -> list[str]:
    """Short router names for a narrow console: a label within ``limit`` characters stays; a
    label ending in a parenthesised name uses it (``C^_opt``); else the first word's initial
    and the last word (``Greedy-Perf`` -> ``G.Perf``, ``BatchSplit`` -> ``B.Split``); unique."""
    out: list[str] = []
    for label in labels:
        short = label
        if len(label) > limit:
            m = re.search(r"\(([^()]+)\)\s*$", label)
            parts = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", label)
            if m and len(m.group(1)) <= limit:
                short = m.group(1)
            elif len(parts) > 1:
                short = f"{parts[0][0].upper()}.{parts[-1]}"
            if len(short) > limit:
                short = short[:limit - 1] + "."
        base, n = short, 1
        while short in out:
            n += 1
            short = f"{base[:limit - len(str(n))]}{n}"
        out.append(short)
    return out


def _console_cells(table: TableData, col: int) -> list[str]:
    """A column's cell texts, ties with a dagger and the others padded to line up."""
    cells = [row[col] for row in table.cells]
    ties = any(c.tie for c in cells)
    return [c.text + (TIE if c.tie else " " if ties else "") for c in cells]


def console_tables(table: TableData, width: int, title: str = "") -> tuple[list, list[str]]:
    """The table as rich Tables that fit ``width`` columns without wrapping a cell: the full
    table if it fits; else short router names and headers (a legend spells them out); else
    the columns split over several tables, each with the router column. Returns (tables,
    legend lines)."""
    from rich import box
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table
    from rich.text import Text

    probe = Console(width=10_000, color_system=None)
    texts = [_console_cells(table, j) for j in range(len(table.headers))]
    short_names = _abbreviate(table.labels)

    def build(names: Sequence[str], headers: Sequence[str], cols: Sequence[int],
              two_lines: bool) -> Table:
        t = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                  title=Text(title) if title else None, title_justify="left")
        t.add_column(table.corner, no_wrap=True)
        for j in cols:
            head = "\n".join(x for x in _two_lines(headers[j]) if x) if two_lines \
                else headers[j]
            t.add_column(Text(head), justify="right", no_wrap=True)
        for i, name in enumerate(names):
            row = [Text(name)]
            for j in cols:
                row.append(Text(texts[j][i], style="bold" if table.cells[i][j].best else ""))
            t.add_row(*row)
            if table.split is not None and i + 1 == table.split:
                t.rows[-1].end_section = True
        return t

    def fits(t: Table) -> bool:  # the width it takes unconstrained (a measure is capped)
        return Measurement.get(probe, probe.options.update_width(10_000), t).maximum <= width

    every = list(range(len(table.headers)))
    variants = [(table.labels, table.headers, True), (short_names, table.headers, True),
                (short_names, table.short_headers, False)]
    for names, headers, two in variants:
        t = build(names, headers, every, two)
        if fits(t):
            return [t], _legend(table, names, headers)
    best: tuple[list[list[int]], Sequence[str], bool] | None = None
    for headers, two in ((table.headers, True), (table.short_headers, False)):
        chunks: list[list[int]] = [[]]
        for j in every:
            if chunks[-1] and not fits(build(short_names, headers, chunks[-1] + [j], two)):
                chunks.append([])
            chunks[-1].append(j)
        if best is None or len(chunks) < len(best[0]):
            best = (chunks, headers, two)
    chunks, headers, two = best
    return ([build(short_names, headers, c, two) for c in chunks],
            _legend(table, short_names, headers))


def _legend(table: TableData, names: Sequence[str], headers: Sequence[str]) -> list[str]:
    pairs = [f"{s} = {f}" for s, f in zip(names, table.labels, strict=True) if s != f]
    pairs += [f"{s} = {f}" for s, f in zip(headers, table.headers, strict=True) if s != f]
    return ["; ".join(pairs)] if pairs else []


def _print_table(console: Console, table: TableData, title: str = "") -> None:
    from rich.text import Text

    tables, legend = console_tables(table, console.width, title)
    for t in tables:
        console.print(t)
    for line in legend:
        console.print(Text(line, style="dim"))


def print_run(rep: RunReport, console: Console) -> None:
    """One run's report on the console: the table fitted to its width (no cell wrapped), the
    marks' meaning, the bounds and the paired PORT / baseline comparisons."""
    from rich.text import Text

    console.print(Text(rep.run.key, style="bold"))
    console.print(Text(_describe(rep.run).replace("`", "")))
    _print_table(console, run_table(rep))
    console.print(Text(_marks_note(rep.n_seeds)))
    for line in _bound_lines(rep) + _limit_lines(rep):
        console.print(Text("- " + line.replace("`", "")))
    if not rep.comparisons.empty:
        console.print()
        _print_table(console, _comparison_table(rep, "ratio"),
                     "PORT / baseline (paired over seeds)")
        _print_table(console, _comparison_table(rep, "difference"),
                     "PORT - baseline (paired over seeds)")
        console.print(Text(_COMPARISON_NOTE))


def print_report(report: Report, console: Console) -> None:
    """The report on the console, once: the combined table for several runs, then each run."""
    from rich.text import Text

    if report.pivot is not None:
        _print_table(console, dataclasses.replace(report.pivot.table,
                                                  headers=report.pivot.headers),
                     report.pivot.title)
        console.print(Text(_pivot_note(report.pivot)))
        console.print()
    for i, rep in enumerate(report.reports):
        if i:
            console.print()
        print_run(rep, console)


# --------------------------------------------------------------------------- documents
@dataclass(frozen=True)
class Report:
    """A report over one or more runs, renderable as Markdown, CSV and LaTeX. ``metric`` is
    the combined table's metric (several runs; None: the first of ``PIVOT_METRICS``)."""

    reports: list[RunReport]
    metric: str | None = None

    @property
    def combined(self) -> bool:
        return len(self.reports) > 1

    @cached_property
    def pivot(self) -> Pivot | None:
        """The combined table (None for one run)."""
        return combined_pivot(self.reports, self.metric) if self.combined else None

    def markdown(self) -> str:
        parts = ["# routebench report", ""]
        if self.pivot is not None:
            parts.append(combined_markdown(self.pivot))
        parts += [run_markdown(r) for r in self.reports]
        return "\n".join(parts)

    def frame(self) -> pd.DataFrame:
        """Long CSV frame: ``kind`` (router, bound, ratio, difference), ``run_key``,
        ``dataset``, the parameters the runs differ in, ``router`` (``port/<baseline>`` for a
        ratio, ``port-<baseline>`` for a difference, ``<baseline>`` ``mean`` over baselines),
        ``metric``, ``mean``, ``ci_low``, ``ci_high``, ``n_seeds``, ``best`` (``*`` for the
        best online router of a ranked column) and ``tie`` (``*`` when tied with it)."""
        params = combined_parameters([r.run for r in self.reports]) if self.combined else []
        params = [p for p in params if p not in ("dataset", "run_key")]  # columns of their own
        frames = []
        for rep in self.reports:
            routers = rep.stats.assign(kind="router")
            bounds = rep.bounds.assign(kind="bound", best=False, tie=False)
            comp = rep.comparisons.assign(
                best=False, tie=False,
                router=lambda f: np.where(f["kind"] == "ratio", "port/", "port-")
                + f["baseline"].astype(str)).drop(columns="baseline")
            f = pd.concat([x for x in (routers, bounds, comp) if not x.empty],
                          ignore_index=True)
            for p in reversed(params):
                f.insert(0, p, [param_value(rep.run, p)] * len(f))
            f.insert(0, "dataset", rep.run.dataset)
            f.insert(0, "run_key", rep.run.key)
            frames.append(f)
        out = pd.concat(frames, ignore_index=True)
        for flag in ("best", "tie"):
            out[flag] = np.where(out[flag].astype(bool), "*", "")
        lead = ["kind", "run_key", "dataset", *params, "router", "metric"]
        rest = ["mean", "ci_low", "ci_high", "n_seeds", "best", "tie"]
        return out[lead + rest]

    def csv(self) -> str:
        return self.frame().to_csv(index=False)

    def combined_csv(self) -> str | None:
        """The combined table's numbers as CSV (None for one run)."""
        return None if self.pivot is None else self.pivot.frame().to_csv(index=False)

    def latex(self, columns: Sequence[Metric] | None = None) -> str:
        """Every table as LaTeX (``columns`` of the run tables default to the ranked ones),
        the combined one first."""
        head = ("% routebench report: needs \\usepackage{booktabs} and \\usepackage{graphicx}\n")
        parts = [head]
        if self.pivot is not None:
            parts.append(combined_latex(self.pivot))
        parts += [run_latex(r, columns) for r in self.reports]
        return "\n".join(parts)

    def render(self, formats: Sequence[str] = FORMATS) -> dict[str, str]:
        """Every file of ``formats``, rendered: file name -> text. Raises before returning
        anything if one fails."""
        out: dict[str, str] = {}
        for fmt in formats:
            if fmt == "md":
                out[FILES["md"]] = self.markdown()
            elif fmt == "csv":
                out[FILES["csv"]] = self.csv()
                combined = self.combined_csv()
                if combined is not None:
                    out[COMBINED_CSV] = combined
            elif fmt == "tex":
                out[FILES["tex"]] = self.latex()
            else:
                raise ReportError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
        return out


def build_report(runs: Sequence[Run], metric: str | None = None) -> Report:
    """The report of ``runs`` (one table each, and for several a combined table of ``metric``
    over the parameter they differ in)."""
    if not runs:
        raise ReportError("no runs to report")
    reports = [build_run_report(r) for r in runs]
    if metric is not None:
        pivot_metric(reports, metric)  # refuse an unknown name, even for one run
    return Report(reports, metric)


def parse_formats(text: str) -> tuple[str, ...]:
    """``"md,csv"`` -> ("md", "csv"); refuses unknown formats."""
    names = tuple(dict.fromkeys(t.strip().lower() for t in text.split(",") if t.strip()))
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise ReportError(f"--format {text!r}: expected a comma list of {', '.join(FORMATS)}")
    return names


def default_out_dir(runs: Sequence[Run]) -> Path:
    """The run folder for one run; the runs' common parent folder for several."""
    if len(runs) == 1:
        return runs[0].path
    return Path(os.path.commonpath([str(r.path.resolve()) for r in runs]))


def write_report(report: Report, out_dir: str | os.PathLike[str],
                 formats: Sequence[str] = FORMATS) -> list[Path]:
    """Write ``report.<fmt>`` for each format (and ``report-combined.csv`` with csv over
    several runs) into ``out_dir``; return the paths. Every file is rendered before the first
    is written, so a failure to render writes none; each write is atomic."""
    files = report.render(formats)
    out = Path(out_dir)
    return [io.write_text(out / name, text) for name, text in files.items()]


def write_run_summary(run_dir: str | os.PathLike[str]) -> Path:
    """Write ``summary.md`` (the run's table, bounds and comparisons in Markdown) into a
    finished run folder; its path."""
    from routebench.results import load_run

    run = load_run(run_dir)
    return io.write_text(run.path / "summary.md", run_markdown(build_run_report(run), level=1))
