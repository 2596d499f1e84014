"""Table-1-style reports of results folders: Markdown, CSV and LaTeX.

Per run, one row per router (online routers, then the oracles C^_opt = ``approx-opt`` and
C_opt = ``opt``): Performance, Cost (USD), PPC, Throughput (queries served), performance
relative to C^_opt, and the competitive ratio (online performance / offline optimum) against the
LP bound and, where it was solved, the MILP optimum. Every cell is the mean over seeds with its
95 % Student-t interval. The best value of each ranked column is marked among the online routers
only (the oracles see the whole stream, so they are excluded from "best"). Below the table: the
offline bounds and the PORT / baseline ratios the paper headlines.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from routebench import catalogue, io
from routebench.metrics import Metric, table_columns
from routebench.results import (
    Run,
    param_value,
    summarise_run,
    varying_parameters,
)

FORMATS: tuple[str, ...] = ("md", "csv", "tex")
PM_TEX = "$\\pm$"


#: The table's columns, in order: the metric registry's entries with a header. Their
#: ``ranked`` flag says which mark a best online router (cost is spent budget under a hard cap,
#: not an objective of the paper's table: not ranked).
COLUMNS: tuple[Metric, ...] = tuple(table_columns())
#: The metrics of the PORT / baseline ratios (paper, abstract: 3.55x, 1.85x, 4.25x).
HEADLINE_METRICS: tuple[str, ...] = ("performance", "ppc", "throughput")
#: Parameters that always differ together with another one and are shown through it.
_FOLDED = {"extreme_k": "split"}


class ReportError(ValueError):
    """A report that cannot be made from the given runs or options."""


# --------------------------------------------------------------------------- numbers
@dataclass(frozen=True)
class RunReport:
    """The numbers of one run's table.

    ``stats``: per router and metric ``mean``, ``ci_low``, ``ci_high``, ``n_seeds`` and ``best``
    (True for the best online router of a ranked column). ``bounds``: per offline bound
    (``lp-bound``, ``milp``) and metric the same statistics. ``ratios``: PORT mean / baseline
    mean per baseline and headline metric, plus the row ``mean`` over baselines (empty when
    PORT or every baseline is absent).
    """

    run: Run
    routers: list[str]
    columns: list[Metric]
    stats: pd.DataFrame
    bounds: pd.DataFrame
    ratios: pd.DataFrame


def _summary(run: Run) -> pd.DataFrame:
    return summarise_run(run)


def build_run_report(run: Run) -> RunReport:
    """Compute one run's table: statistics per router, best markers, bounds and ratios."""
    summary = _summary(run)
    routers = run.routers
    present = set(summary["metric"])
    columns = [c for c in COLUMNS if c.name in present]
    stats = summary[summary["router"].isin(routers)
                    & summary["metric"].isin([c.name for c in columns])].copy()
    stats["best"] = False
    online = stats["router"].isin(run.online())
    for col in columns:
        if not col.ranked:
            continue
        sel = online & (stats["metric"] == col.name) & np.isfinite(stats["mean"])
        if not sel.any():
            continue
        means = stats.loc[sel, "mean"]
        target = means.max() if col.higher_is_better else means.min()
        stats.loc[sel & (stats["mean"] == target), "best"] = True
    bounds = summary[summary["router"].isin(["lp-bound", "milp"])].copy()

    ratio_rows = []
    ref = catalogue.REFERENCE
    if ref in routers:
        baselines = [r for r in run.online() if r != ref]
        mean_of = stats.set_index(["router", "metric"])["mean"]
        for metric in HEADLINE_METRICS:
            if ("port", metric) not in mean_of.index:
                continue
            for b in baselines:
                denom = mean_of.get((b, metric), math.nan)
                ratio = mean_of[("port", metric)] / denom if denom > 0 else math.nan
                ratio_rows.append({"baseline": b, "metric": metric, "ratio": ratio})
    ratios = pd.DataFrame(ratio_rows, columns=["baseline", "metric", "ratio"])
    if not ratios.empty:
        means = ratios.groupby("metric", sort=False)["ratio"].mean().reset_index()
        means.insert(0, "baseline", "mean")
        ratios = pd.concat([ratios, means], ignore_index=True)
    return RunReport(run=run, routers=routers, columns=columns, stats=stats.reset_index(drop=True),
                     bounds=bounds.reset_index(drop=True), ratios=ratios)


# --------------------------------------------------------------------------- formatting
def format_cell(col: Metric, mean: float, low: float, high: float, n: int = 2) -> str:
    """``mean ± half-width`` in the column's units; just the mean for one seed (``n``)."""
    if not np.isfinite(mean):
        return "n/a"
    scale = 100.0 if col.percent else 1.0
    finite = np.isfinite(low) and np.isfinite(high) and n >= 2
    half = (high - low) / 2 * scale if finite else math.nan
    if col.significant:
        text = f"{mean * scale:.{col.digits}g}"
        return text if not np.isfinite(half) else f"{text} ± {half:.2g}"
    text = f"{mean * scale:,.{col.digits}f}"
    return text if not np.isfinite(half) else f"{text} ± {half:,.{col.digits}f}"


def _cells(rep: RunReport) -> list[list[tuple[str, bool]]]:
    """Rows of (text, is_best) per router, in ``rep.columns`` order."""
    idx = rep.stats.set_index(["router", "metric"])
    rows = []
    for router in rep.routers:
        row = []
        for col in rep.columns:
            if (router, col.name) in idx.index:
                r = idx.loc[(router, col.name)]
                row.append((format_cell(col, r["mean"], r["ci_low"], r["ci_high"], r["n_seeds"]),
                            bool(r["best"])))
            else:
                row.append(("n/a", False))
        rows.append(row)
    return rows


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    right = ["---:" if i else "---" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(right) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _describe(run: Run) -> str:
    cfg = run.config
    split = param_value(run, "split")
    return (
        f"Dataset `{run.dataset}`, {cfg.get('test_size')} test queries, budget x"
        f"{cfg.get('budget')}, split `{split}`, {len(run.llms)} LLMs, {len(run.seeds)} seed(s); "
        "mean ± 95 % t-interval over seeds."
    )


def _bound_lines(rep: RunReport) -> list[str]:
    b = rep.bounds.set_index(["router", "metric"]) if not rep.bounds.empty else None
    lines = []
    lp_col = Metric("performance", "", "score", True, digits=2)
    if b is not None and ("lp-bound", "performance") in b.index:
        r = b.loc[("lp-bound", "performance")]
        lines.append(
            "LP bound (offline LP relaxation on true features; `CR vs LP bound` divides by it): "
            f"{format_cell(lp_col, r['mean'], r['ci_low'], r['ci_high'], r['n_seeds'])}"
        )
    if b is not None and ("milp", "performance") in b.index:
        r = b.loc[("milp", "performance")]
        gap = b.loc[("milp", "gap"), "mean"] if ("milp", "gap") in b.index else math.nan
        lines.append(
            "MILP optimum (exact 0/1 offline optimum; `CR vs MILP opt.` divides by it): "
            f"{format_cell(lp_col, r['mean'], r['ci_low'], r['ci_high'], r['n_seeds'])}, "
            f"solved for {int(r['n_seeds'])} of {len(rep.run.seeds)} seed(s), "
            f"mean proven gap {100 * gap:.2f} %"
        )
    else:
        lines.append("MILP optimum: not solved for this run (instance above the MILP limit), "
                     "so the competitive ratio is against the LP bound only.")
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


def _ratio_table(rep: RunReport) -> tuple[list[str], list[list[str]]]:
    wide = rep.ratios.pivot(index="baseline", columns="metric", values="ratio")
    order = [b for b in rep.run.online() if b in wide.index] + ["mean"]
    header = ["PORT / baseline"] + [m for m in HEADLINE_METRICS if m in wide.columns]
    rows = []
    for b in order:
        label = "mean over baselines" if b == "mean" else rep.run.label(b)
        rows.append([label] + [f"{wide.loc[b, m]:.2f}x" for m in header[1:]])
    return header, rows


def run_markdown(rep: RunReport, level: int = 2) -> str:
    """One run's section: the table, the bounds and the headline ratios, in Markdown."""
    h = "#" * level
    header = ["Router"] + [c.header for c in rep.columns]
    rows = []
    for router, cells in zip(rep.routers, _cells(rep), strict=True):
        rows.append([rep.run.label(router)] + [f"**{t}**" if best else t for t, best in cells])
    lines = [f"{h} {rep.run.key}", "", _describe(rep.run), ""]
    lines += _md_table(header, rows)
    lines += ["", "Bold: best online router per column (the oracles C^_opt and C_opt are "
                  "excluded from best; cost is not ranked).", ""]
    lines += [f"- {x}" for x in _bound_lines(rep)]
    lines += [f"- **Note:** {x}" for x in _limit_lines(rep)]
    if not rep.ratios.empty:
        rh, rr = _ratio_table(rep)
        lines += ["", f"{h}# PORT / baseline ratios (of means over seeds)", ""]
        lines += _md_table(rh, rr)
    return "\n".join(lines) + "\n"


def _tex_escape(text: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"),
                 ("#", r"\#"), ("^", r"\^{}"), ("$", r"\$")):
        text = text.replace(a, b)
    return text


def _tex_cell(text: str, best: bool) -> str:
    text = _tex_escape(text).replace("±", PM_TEX)
    return f"\\textbf{{{text}}}" if best else text


def run_latex(rep: RunReport) -> str:
    """One run's table as a LaTeX ``table`` (booktabs)."""
    cols = "l" + "r" * len(rep.columns)
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        "\\small",
        f"\\begin{{tabular}}{{{cols}}}",
        "\\toprule",
        " & ".join(["Router"] + [_tex_escape(c.header) for c in rep.columns]) + " \\\\",
        "\\midrule",
    ]
    first_oracle = next((r for r in rep.routers if rep.run.kind(r) == "oracle"), None)
    for router, cells in zip(rep.routers, _cells(rep), strict=True):
        if router == first_oracle:
            lines.append("\\midrule")
        lines.append(" & ".join([_tex_escape(rep.run.label(router))]
                                + [_tex_cell(t, b) for t, b in cells]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    caption = _describe(rep.run).replace("`", "") + " Bold: best online router. " + " ".join(
        x.replace("`", "") for x in _bound_lines(rep) + _limit_lines(rep))
    label = "".join(c if c.isalnum() else "-" for c in rep.run.key)
    caption = _tex_escape(caption).replace("±", PM_TEX)
    lines += [f"\\caption{{{caption}}}",
              f"\\label{{tab:{label}}}", "\\end{table}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- several runs
def combined_parameters(runs: Sequence[Run]) -> list[str]:
    """The config fields the runs differ in (seeds excluded; ``extreme_k`` shown through
    ``split``)."""
    params = varying_parameters(runs, ignore=("seeds",))
    shown = [p for p in params if p not in _FOLDED or _FOLDED[p] not in params]
    return [_FOLDED.get(p, p) for p in shown]


def _sort_key(value: object) -> tuple[int, object]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def combined_frame(reports: Sequence[RunReport]) -> tuple[list[str], pd.DataFrame]:
    """(parameters, long frame) over several runs: one row per run, router and metric with the
    values of the parameters the runs differ in, sorted by them."""
    params = combined_parameters([r.run for r in reports])
    frames = []
    for rep in reports:
        f = rep.stats.copy()
        for p in params:
            f.insert(0, p, [param_value(rep.run, p)] * len(f))
        f.insert(0, "run_key", rep.run.key)
        frames.append(f)
    frame = pd.concat(frames, ignore_index=True)
    if params:
        keys = sorted({tuple(param_value(r.run, p) for p in params) for r in reports},
                      key=lambda t: tuple(_sort_key(v) for v in t))
        rank = {k: i for i, k in enumerate(keys)}
        frame["_rank"] = [rank[tuple(row)] for row in frame[params].itertuples(index=False)]
        frame = frame.sort_values("_rank", kind="stable").drop(columns="_rank")
    return params, frame.reset_index(drop=True)


def combined_markdown(reports: Sequence[RunReport]) -> str:
    """Markdown table over several runs: a row per parameter value and router."""
    params, frame = combined_frame(reports)
    columns = [c for c in COLUMNS if c.name in set(frame["metric"])]
    header = params + ["Router"] + [c.header for c in columns]
    rows = []
    idx = frame.set_index(["run_key", "router", "metric"])
    for rep in sorted(reports, key=lambda r: tuple(_sort_key(param_value(r.run, p))
                                                   for p in params)):
        for router in rep.routers:
            row = [str(param_value(rep.run, p)) for p in params] + [rep.run.label(router)]
            for col in columns:
                key = (rep.run.key, router, col.name)
                if key in idx.index:
                    r = idx.loc[key]
                    row.append(format_cell(col, r["mean"], r["ci_low"], r["ci_high"], r["n_seeds"]))
                else:
                    row.append("n/a")
            rows.append(row)
    title = ", ".join(params) if params else "run"
    lines = [f"## All runs by {title}", "",
             f"{len(reports)} runs differing in: {title}; mean ± 95 % t-interval over seeds.", ""]
    return "\n".join(lines + _md_table(header, rows)) + "\n"


# --------------------------------------------------------------------------- documents
@dataclass(frozen=True)
class Report:
    """A report over one or more runs, renderable as Markdown, CSV and LaTeX."""

    reports: list[RunReport]

    @property
    def combined(self) -> bool:
        return len(self.reports) > 1

    def markdown(self) -> str:
        parts = ["# routebench report", ""]
        if self.combined:
            parts.append(combined_markdown(self.reports))
        parts += [run_markdown(r) for r in self.reports]
        return "\n".join(parts)

    def frame(self) -> pd.DataFrame:
        """Long CSV frame: ``kind`` (router, bound, ratio), ``run_key``, ``dataset``, the
        parameters the runs differ in, ``router``, ``metric``, ``mean``, ``ci_low``,
        ``ci_high``, ``n_seeds`` and ``best`` (``*`` for the best online router)."""
        params = combined_parameters([r.run for r in self.reports]) if self.combined else []
        frames = []
        for rep in self.reports:
            routers = rep.stats.assign(kind="router")
            bounds = rep.bounds.assign(kind="bound", best=False)
            ratios = rep.ratios.rename(columns={"ratio": "mean"}).assign(
                kind="ratio", best=False, ci_low=math.nan, ci_high=math.nan,
                n_seeds=len(rep.run.seeds),
                router=lambda f: "port/" + f["baseline"]).drop(columns="baseline")
            f = pd.concat([routers, bounds, ratios], ignore_index=True)
            for p in reversed(params):
                f.insert(0, p, [param_value(rep.run, p)] * len(f))
            f.insert(0, "dataset", rep.run.dataset)
            f.insert(0, "run_key", rep.run.key)
            frames.append(f)
        out = pd.concat(frames, ignore_index=True)
        out["best"] = np.where(out["best"].astype(bool), "*", "")
        lead = ["kind", "run_key", "dataset", *params, "router", "metric"]
        rest = ["mean", "ci_low", "ci_high", "n_seeds", "best"]
        return out[lead + rest]

    def csv(self) -> str:
        return self.frame().to_csv(index=False)

    def latex(self) -> str:
        return "\n".join(run_latex(r) for r in self.reports)


def build_report(runs: Sequence[Run]) -> Report:
    """The report of ``runs`` (one table each, and a combined one when there are several)."""
    if not runs:
        raise ReportError("no runs to report")
    return Report([build_run_report(r) for r in runs])


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
    """Write ``report.<fmt>`` for each format into ``out_dir`` atomically; return the paths."""
    out = Path(out_dir)
    render = {"md": report.markdown, "csv": report.csv, "tex": report.latex}
    return [io.write_text(out / f"report.{fmt}", render[fmt]()) for fmt in formats]


def write_run_summary(run_dir: str | os.PathLike[str]) -> Path:
    """Write ``summary.md`` (the run's table, bounds and ratios in Markdown) into a finished
    run folder; its path."""
    from routebench.results import load_run

    run = load_run(run_dir)
    return io.write_text(run.path / "summary.md", run_markdown(build_run_report(run), level=1))
