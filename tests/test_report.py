"""`routebench report` and the results loader, on tiny fake results folders."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_results import small_config, write_fake_run
from rich.console import Console
from scipy import stats
from typer.testing import CliRunner

from routebench import io, report
from routebench.catalogue import ALL as ALL_ROUTERS
from routebench.catalogue import ONLINE as ONLINE_ROUTERS
from routebench.catalogue import ORACLES as ORACLE_ROUTERS
from routebench.cli import app
from routebench.metrics import METRICS
from routebench.report import (
    Report,
    ReportError,
    build_report,
    build_run_report,
    column_format,
    parse_formats,
    print_report,
    run_latex,
    run_markdown,
    run_table,
    tex_text,
    write_report,
)
from routebench.results import (
    ResultsError,
    Run,
    load_run,
    load_runs,
    router_label,
    t_interval,
)

runner = CliRunner()


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_fake_run(tmp_path / "results", small_config())


def test_load_run_reads_every_part(run_dir: Path) -> None:
    run = load_run(run_dir)
    assert run.routers == list(ALL_ROUTERS)
    assert run.seeds == [0, 1, 2]
    assert run.trace is not None and set(run.trace["router"]) == set(ALL_ROUTERS)
    assert run.sim_config == small_config()
    assert run.llms == ["gpt-4", "mixtral", "mistral-7b"]


def test_load_run_names_folder_and_missing_file(tmp_path: Path, run_dir: Path) -> None:
    with pytest.raises(ResultsError, match="no such results folder"):
        load_run(tmp_path / "nowhere")
    (run_dir / "manifest.json").unlink()
    with pytest.raises(ResultsError, match=r"manifest\.json") as err:
        load_run(run_dir)
    assert str(run_dir) in str(err.value)


def test_load_run_refuses_wrong_columns(run_dir: Path) -> None:
    frame = pd.read_parquet(run_dir / "results.parquet").drop(columns="llm")
    io.write_with(run_dir / "results.parquet", lambda p: frame.to_parquet(p, index=False))
    with pytest.raises(ResultsError, match=r"\['llm'\] missing"):
        load_run(run_dir)


def test_load_runs_walks_parents_and_sweep_files(tmp_path: Path) -> None:
    root = tmp_path / "results"
    a = write_fake_run(root, small_config(budget=0.5))
    b = write_fake_run(root, small_config(budget=2.0))
    (root / "unfinished").mkdir()
    runs = load_runs([root, a])  # a twice: loaded once
    assert sorted(r.path for r in runs) == sorted([a, b])
    sweep = tmp_path / "sweep"
    io.write_json(sweep / "sweep.json", {"points": [{"run_dir": str(Path("..") / "results" /
                                                                    b.name)}]})
    assert [r.path.resolve() for r in load_runs([sweep])] == [b.resolve()]
    with pytest.raises(ResultsError, match="holds no finished run"):
        load_runs([root / "unfinished"])


def test_report_reproduces_results_means(run_dir: Path) -> None:
    raw = pd.read_parquet(run_dir / "results.parquet")
    frame = build_report(load_runs([run_dir])).frame()
    rows = frame[frame["kind"] == "router"]
    assert set(rows["router"]) == set(ALL_ROUTERS)
    for _, row in rows.iterrows():
        values = raw[(raw["router"] == row["router"]) & (raw["metric"] == row["metric"])
                     & (raw["llm"] == "")]["value"].to_numpy()
        assert len(values) == 3 == row["n_seeds"]
        assert row["mean"] == pytest.approx(values.mean(), rel=1e-12)
        half = stats.t.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
        assert row["ci_high"] - row["mean"] == pytest.approx(half, rel=1e-9, abs=1e-12)
    lp = frame[(frame["kind"] == "bound") & (frame["router"] == "lp-bound")
               & (frame["metric"] == "performance")]
    want = raw[(raw["router"] == "lp-bound") & (raw["metric"] == "performance")]["value"].mean()
    assert lp["mean"].item() == pytest.approx(want)


def test_markdown_lists_every_router_marks_best_online_only(run_dir: Path) -> None:
    report = build_report(load_runs([run_dir]))
    md = report.markdown()
    for router in ALL_ROUTERS:
        assert f"| {router_label(router)} |" in md
    rows = report.frame()
    best = rows[rows["best"] == "*"]
    assert set(best["router"]) <= set(ONLINE_ROUTERS)
    assert not set(best["router"]) & set(ORACLE_ROUTERS)
    perf_best = best[best["metric"] == "performance"]["router"].tolist()
    means = rows[(rows["kind"] == "router") & (rows["metric"] == "performance")
                 & rows["router"].isin(ONLINE_ROUTERS)].set_index("router")["mean"]
    assert perf_best == [means.idxmax()]
    assert "cost" not in set(best["metric"])  # cost is not ranked
    port_line = next(line for line in md.splitlines() if line.startswith("| PORT |"))
    assert port_line.count("**") >= 2
    assert "LP bound" in md and "MILP optimum" in md


def _t_interval(values: np.ndarray) -> tuple[float, float]:
    """(mean, half-width) of the 95 % Student-t interval, by hand."""
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(half)


def test_port_baseline_comparisons_are_paired_over_seeds(run_dir: Path) -> None:
    rep = build_run_report(load_run(run_dir))
    raw = rep.run.whole()
    comp = rep.comparisons.set_index(["kind", "baseline", "metric"])
    baselines = [r for r in ONLINE_ROUTERS if r != "port"]
    for metric in ("performance", "ppc", "throughput"):
        wide = raw[raw["metric"] == metric].pivot(index="seed", columns="router", values="value")
        ratios = wide[baselines].rdiv(wide["port"], axis=0)  # per seed PORT / baseline
        for kind, per_seed in (("ratio", ratios),
                               ("difference", -wide[baselines].sub(wide["port"], axis=0))):
            for b in baselines:
                mean, half = _t_interval(per_seed[b].to_numpy())
                row = comp.loc[(kind, b, metric)]
                assert row["mean"] == pytest.approx(mean, rel=1e-12)
                assert (row["ci_high"] - row["ci_low"]) / 2 == pytest.approx(half, rel=1e-9)
                assert row["n_seeds"] == 3
            mean, half = _t_interval(per_seed.mean(axis=1).to_numpy())  # per seed, then seeds
            row = comp.loc[(kind, "mean", metric)]
            assert row["mean"] == pytest.approx(mean, rel=1e-12)
            assert (row["ci_high"] - row["ci_low"]) / 2 == pytest.approx(half, rel=1e-9)
    # the tables show them with their intervals
    md = run_markdown(rep)
    mean, half = _t_interval(ratios["random"].to_numpy())
    line = next(x for x in md.split("PORT / baseline (paired")[1].splitlines()
                if x.startswith("| Random |"))
    assert line.split("|")[-2].strip() == f"{mean:.2f} ± {half:.2f}"


def _with_results(run: Run, frame: pd.DataFrame, **manifest: object) -> Run:
    return dataclasses.replace(run, results=frame, summary=None,
                               manifest={**run.manifest, **manifest})


def _tied_run(run_dir: Path) -> Run:
    """The fake run with two routers made close to PORT on performance: Greedy-Cost differs
    from PORT by +2, -3, +0.5 on the three seeds (paired interval contains 0: a tie),
    BatchSplit is 1 below PORT on every seed (its interval overlaps PORT's, but the paired
    difference is -1 exactly: no tie)."""
    run = load_run(run_dir)
    res = run.results.copy()
    perf = (res["metric"] == "performance") & (res["llm"] == "")
    port = res[perf & (res["router"] == "port")].set_index("seed")["value"]
    for router, shift in (("greedy-cost", {0: 2.0, 1: -3.0, 2: 0.5}),
                          ("batch-split", {0: -1.0, 1: -1.0, 2: -1.0})):
        sel = perf & (res["router"] == router)
        res.loc[sel, "value"] = [port[s] + shift[s] for s in res.loc[sel, "seed"]]
    return _with_results(run, res)


def test_ties_are_marked_when_the_paired_difference_interval_contains_zero(
        run_dir: Path) -> None:
    rep = build_run_report(_tied_run(run_dir))
    perf = rep.stats[rep.stats["metric"] == "performance"].set_index("router")
    assert perf.loc["port", "best"] and not perf.loc["port", "tie"]
    assert perf.loc["greedy-cost", "tie"]
    assert not perf.loc["batch-split", "tie"]  # unpaired intervals overlap; paired: -1 always
    lo, hi = perf.loc["batch-split", ["ci_low", "ci_high"]]
    assert lo <= perf.loc["port", "ci_high"] and hi >= perf.loc["port", "ci_low"]
    assert not rep.stats.loc[rep.stats["router"].isin(ORACLE_ROUTERS), "tie"].any()
    # hand check of the tie: differences +2, -3, +0.5
    mean, half = _t_interval(np.array([2.0, -3.0, 0.5]))
    assert mean - half <= 0 <= mean + half
    md = run_markdown(rep)
    main = md.split("### PORT")[0]  # the run's table, not the comparisons below it
    row = {line.split("|")[1].strip(): line.split("|")[2].strip()
           for line in main.splitlines() if line.startswith("| ")}
    assert row["Greedy-Cost"].endswith("†") and row["PORT"].startswith("**")
    assert "†" not in row["BatchSplit"]
    assert "tied with it" in md
    frame = Report([rep]).frame()
    ties = frame[(frame["tie"] == "*") & (frame["metric"] == "performance")]
    assert ties["router"].tolist() == ["greedy-cost"]
    tex = run_latex(rep)
    assert re.search(r"Greedy-Cost & [^&]*\$\^\{\\dagger\}\$ &", tex)


def test_one_seed_claims_no_ties(tmp_path: Path) -> None:
    run_dir = write_fake_run(tmp_path, small_config(seeds=(4,)))
    rep = build_run_report(load_run(run_dir))
    assert rep.stats["best"].any() and not rep.stats["tie"].any()
    assert "One seed: no intervals and no ties." in run_markdown(rep)
    assert rep.comparisons["ci_low"].isna().all()


def _decimals(number: str) -> int:
    return len(number.split(".")[1]) if "." in number else 0


def test_one_number_format_per_column(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for b in (0.5, 1.0, 2.0):
        write_fake_run(root, small_config(budget=b))
    for rep in build_report(load_runs([root])).reports:
        table = run_table(rep)
        for j, header in enumerate(table.headers):
            texts = [row[j].text for row in table.cells if row[j].text != "n/a"]
            numbers = [n for t in texts for n in t.split(" ± ")]
            assert len({_decimals(n) for n in numbers}) == 1, (header, texts)
            assert not any("e" in n for n in numbers), (header, texts)
    # the user study's column: 0.4397 ± 0.0024 next to 0.4878 ± 8.1e-05
    fmt = column_format(METRICS["cost"], [0.4397, 0.4878], [0.0024, 8.1e-05])
    assert [fmt.cell(m, m - h, m + h) for m, h in ((0.4397, 0.0024), (0.4878, 8.1e-05))] == [
        "0.4397 ± 0.0024", "0.4878 ± 0.0001"]
    # decimals come from the intervals: two significant figures of the half-width, capped
    fmt = column_format(METRICS["ppc"], [22556.0, 46660.0], [1578.0, 7665.0])
    assert fmt.cell(22556.0, 22556.0 - 1578.0, 22556.0 + 1578.0) == "22,600 ± 1,600"
    fmt = column_format(METRICS["cr_lp"], [0.4312, 0.2110], [0.063, 0.0104])
    assert fmt.cell(0.4312, 0.4312 - 0.063, 0.4312 + 0.063) == "43.1 ± 6.3"  # % and 1 decimal
    fmt = column_format(METRICS["performance"], [197.1], [math.nan])
    assert fmt.cell(197.12, math.nan, math.nan, 1) == "197.1"
    fmt = column_format(METRICS["performance"], [3e-6, 5e-6], [1e-7, 2e-7])
    assert fmt.scientific  # every value needs it


def test_without_milp_says_lp_only(tmp_path: Path) -> None:
    run_dir = write_fake_run(tmp_path, small_config(seeds=(4,)), milp=False)
    report = build_report(load_runs([run_dir]))
    md = report.markdown()
    assert "CR vs MILP" not in md
    assert "against the LP bound only" in md
    # one seed: mean only, no interval
    assert "±" not in md.split("| PORT |")[1].splitlines()[0]


def _budget_sweep(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    for b in (2.0, 0.5, 1.0):
        write_fake_run(root, small_config(budget=b))
    return root


def test_combined_table_pivots_routers_by_the_swept_parameter(tmp_path: Path) -> None:
    rep = build_report(load_runs([_budget_sweep(tmp_path)]))
    pivot = rep.pivot
    assert pivot is not None and pivot.params == ["budget"] and pivot.metric.name == "cr_lp"
    assert pivot.routers == list(ALL_ROUTERS)
    assert pivot.headers == ["budget=0.5", "budget=1.0", "budget=2.0"]  # sorted by budget
    assert len(pivot.table.cells) == len(ALL_ROUTERS)
    assert all(len(r) == 3 for r in pivot.table.cells)
    md = rep.markdown()
    section = md.split("## CR vs LP bound (%) by budget")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert rows[0] == "| Router | budget=0.5 | budget=1.0 | budget=2.0 |"
    assert len(rows) == 2 + len(ALL_ROUTERS)  # header, rule, a row per router: no long format
    for run_rep in rep.reports:  # each cell is that run's mean ± half-width, in %
        row = run_rep.stats.set_index(["router", "metric"]).loc[("port", "cr_lp")]
        assert f"{100 * row['mean']:.1f} ± " in section
    frame = pivot.frame()
    assert frame.shape == (len(ALL_ROUTERS), 3 + 3 * 3)
    assert list(frame.columns[3:6]) == ["budget=0.5 mean", "budget=0.5 ci_low",
                                        "budget=0.5 ci_high"]
    assert "budget" in rep.frame().columns
    tex = rep.latex()
    assert "\\multicolumn{3}{c}{budget}" in tex and "\\label{tab:combined-budget}" in tex
    files = rep.render(("csv",))
    assert set(files) == {"report.csv", "report-combined.csv"}
    assert build_report(load_runs([tmp_path / "r"]), metric="performance").pivot.title == (
        "Performance by budget")
    with pytest.raises(ReportError, match="--metric 'speed'"):
        build_report(load_runs([tmp_path / "r"]), metric="speed")


def test_write_report_writes_all_formats_atomically(run_dir: Path, tmp_path: Path) -> None:
    report = build_report(load_runs([run_dir]))
    out = tmp_path / "out"
    paths = write_report(report, out, parse_formats("md,csv,tex"))
    assert sorted(p.name for p in paths) == ["report.csv", "report.md", "report.tex"]
    assert not list(out.glob(".*tmp"))
    tex = (out / "report.tex").read_text()
    assert "\\begin{tabular}" in tex and "\\bfseries" in tex and "$\\pm$" in tex
    back = pd.read_csv(out / "report.csv")
    assert {"kind", "router", "metric", "mean", "ci_low", "ci_high", "best",
            "tie"} <= set(back.columns)
    assert {"router", "bound", "ratio", "difference"} == set(back["kind"])
    with pytest.raises(ValueError, match="--format 'md,pdf'"):
        parse_formats("md,pdf")


def test_t_interval_one_value_has_no_width() -> None:
    mean, lo, hi = t_interval(np.array([3.0]))
    assert mean == 3.0 and np.isnan(lo) and np.isnan(hi)


def test_cli_report(run_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "PORT" in result.output
    assert (run_dir / "report.md").exists() and (run_dir / "report.tex").exists()
    out = tmp_path / "rep"
    result = runner.invoke(app, ["report", str(run_dir), "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["report.csv"]
    result = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


def test_report_notes_every_solver_limit_that_bound(run_dir: Path) -> None:
    run = load_run(run_dir)
    assert "node limit" not in run_markdown(build_run_report(run))
    rows = []
    for s in run.seeds:  # seed 0: 2 of 6 batches stopped; the MILP stopped with a 0.05 % gap
        rows += [("batch-split", s, "batches", 6.0),
                 ("batch-split", s, "limit_batches", 2.0 if s == 0 else 0.0),
                 ("milp", s, "limit_hit", 1.0 if s == 0 else 0.0)]
    extra = pd.DataFrame([{"router": r, "seed": s, "metric": m, "llm": "", "value": v}
                          for r, s, m, v in rows])
    results = pd.concat([run.results, extra], ignore_index=True)
    results.loc[(results["router"] == "milp") & (results["metric"] == "gap")
                & (results["seed"] == 0), "value"] = 5e-4
    rep = build_run_report(dataclasses.replace(run, results=results, summary=None))
    md = run_markdown(rep)
    assert ("BatchSplit: the per-batch node limit bound in 2 of 18 batches (seeds 0); numbers "
            "are deterministic but may be below the batch optimum.") in md
    assert "MILP: node limit reached (seeds 0), proven gap 0.05 %" in md
    assert "node limit bound in 2 of 18 batches" in run_latex(rep)


def test_latex_uses_booktabs_math_labels_and_escapes_text(run_dir: Path) -> None:
    run = load_run(run_dir)
    res = run.results.copy()
    res.loc[res["router"] == "random", "router"] = "coin_flip"  # a plug-in with a _ and a %
    entries = {"coin_flip": {"name": "coin_flip", "label": "Coin_flip 50%", "colour": "#123456",
                             "kind": "online"}}
    rep = build_run_report(_with_results(run, res, routers=entries))
    tex = run_latex(rep)
    assert tex.count("\\toprule") == 2 and "\\bottomrule" in tex  # table + PORT comparisons
    assert "\\begin{tabular}" in tex and "\\resizebox{" in tex
    assert "$\\hat{C}_{\\mathrm{opt}}$ & " in tex  # the oracle rows: math, not escaped
    assert "$C_{\\mathrm{opt}}$ & " in tex
    assert "Relative to" in tex and "$\\hat{C}_{\\mathrm{opt}}$ (\\%)" in tex  # header too
    assert "\\^{}" not in tex and "C^_opt" not in tex and "textasciicircum" not in tex
    assert "Coin\\_flip 50\\% & " in tex
    for line in tex.splitlines():  # every % is escaped, but the resizebox line's end
        bare = re.findall(r"(?<!\\)%", line)
        assert not bare or line.endswith("{!}{%"), line
    # the default LaTeX columns are the ranked ones (Cost stays in Markdown and CSV)
    assert "Cost" not in tex.split("\\midrule")[0]
    assert tex_text("a_b 50% & C^_opt vs C_opt ± 1") == (
        "a\\_b 50\\% \\& $\\hat{C}_{\\mathrm{opt}}$ vs $C_{\\mathrm{opt}}$ $\\pm$ 1")
    assert tex_text("{x}~$^\\") == (
        "\\{x\\}\\textasciitilde{}\\$\\textasciicircum{}\\textbackslash{}")


def _console_text(rep: Report, width: int = 80) -> str:
    console = Console(width=width, record=True, color_system=None)
    print_report(rep, console)
    return console.export_text()


def test_console_table_fits_80_columns_without_wrapping_or_truncating(tmp_path: Path,
                                                                      run_dir: Path) -> None:
    rep = build_report(load_runs([run_dir]))
    text = _console_text(rep)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    table = run_table(rep.reports[0])
    for row in table.cells:  # every cell whole, on one line
        for cell in row:
            assert cell.text in text
    # names are abbreviated, never cut, and a legend spells them out
    for short, full in (("G.Perf", "Greedy-Perf"), ("B.Split", "BatchSplit")):
        assert any(line.startswith(short + " ") for line in text.splitlines())
        assert f"{short} = {full}" in " ".join(text.split())
    # printed once: PORT's performance cell appears a single time
    port = table.cells[table.keys.index("port")][0].text
    assert text.count(port) == 1
    # wide enough, the full table with full names
    wide = _console_text(rep, width=200)
    assert any(line.startswith("Approx Optimum (C^_opt) ") for line in wide.splitlines())
    assert "G.Perf" not in wide
    # several runs: the combined table first, also within 80 columns
    sweep = _console_text(build_report(load_runs([_budget_sweep(tmp_path)])))
    assert sweep.startswith("CR vs LP bound (%) by budget")
    assert max(len(line) for line in sweep.splitlines()) <= 80 and "…" not in sweep


def test_cli_report_prints_the_table_once(run_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(run_dir), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    table = run_table(build_run_report(load_run(run_dir)))
    port = table.cells[table.keys.index("port")][0].text
    assert result.output.count(port) == 1
    assert "…" not in result.output


def test_write_report_writes_nothing_when_one_format_fails(run_dir: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    rep = build_report(load_runs([run_dir]))
    out = tmp_path / "out"

    def broken(self: Report, columns: object = None) -> str:
        raise RuntimeError("LaTeX renderer failed")

    monkeypatch.setattr(report.Report, "latex", broken)
    with pytest.raises(RuntimeError, match="LaTeX renderer failed"):
        write_report(rep, out, ("md", "csv", "tex"))
    assert not out.exists() or not list(out.iterdir())
    paths = write_report(rep, out, ("md", "csv"))  # the others still work
    assert sorted(p.name for p in paths) == ["report.csv", "report.md"]


def test_report_over_runs_of_two_datasets_and_a_run_met_twice(tmp_path: Path) -> None:
    """`report results/` after a demo and a tour: the same run key in two folders, runs of two
    datasets; every format is written, the duplicate is reported once."""
    import shutil

    a = write_fake_run(tmp_path / "results", small_config(dataset="alpha", budget=1.0))
    write_fake_run(tmp_path / "results", small_config(dataset="alpha", budget=2.0))
    write_fake_run(tmp_path / "results" / "other", small_config(dataset="beta"))
    shutil.copytree(a, tmp_path / "results" / "demo" / a.name)
    notes: list[str] = []
    runs = load_runs([tmp_path / "results"], notes)
    assert len(runs) == 3 and any("the same run as" in n for n in notes)
    written = write_report(build_report(runs), tmp_path / "out")
    assert {p.name for p in written} >= {"report.md", "report.csv", "report.tex"}
    frame = pd.read_csv(tmp_path / "out" / "report.csv")
    assert set(frame["dataset"]) == {"alpha", "beta"}
