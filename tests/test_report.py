"""`routebench report` and the results loader, on tiny fake results folders."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fake_results import small_config, write_fake_run
from scipy import stats
from typer.testing import CliRunner

from routebench import io
from routebench.catalogue import ALL as ALL_ROUTERS
from routebench.catalogue import ONLINE as ONLINE_ROUTERS
from routebench.catalogue import ORACLES as ORACLE_ROUTERS
from routebench.cli import app
from routebench.report import (
    build_report,
    build_run_report,
    parse_formats,
    run_latex,
    run_markdown,
    write_report,
)
from routebench.results import ResultsError, load_run, load_runs, router_label, t_interval

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


def test_headline_ratios_are_ratios_of_means(run_dir: Path) -> None:
    report = build_report(load_runs([run_dir]))
    rep = report.reports[0]
    mean_of = rep.stats.set_index(["router", "metric"])["mean"]
    ratios = rep.ratios.set_index(["baseline", "metric"])["ratio"]
    baselines = [r for r in ONLINE_ROUTERS if r != "port"]
    for metric in ("performance", "ppc", "throughput"):
        each = [mean_of[("port", metric)] / mean_of[(b, metric)] for b in baselines]
        for b, r in zip(baselines, each, strict=True):
            assert ratios[(b, metric)] == pytest.approx(r)
        assert ratios[("mean", metric)] == pytest.approx(np.mean(each))


def test_without_milp_says_lp_only(tmp_path: Path) -> None:
    run_dir = write_fake_run(tmp_path, small_config(seeds=(4,)), milp=False)
    report = build_report(load_runs([run_dir]))
    md = report.markdown()
    assert "CR vs MILP" not in md
    assert "against the LP bound only" in md
    # one seed: mean only, no interval
    assert "±" not in md.split("| PORT |")[1].splitlines()[0]


def test_combined_table_over_a_varying_parameter(tmp_path: Path) -> None:
    root = tmp_path / "r"
    for b in (2.0, 0.5, 1.0):
        write_fake_run(root, small_config(budget=b))
    report = build_report(load_runs([root]))
    md = report.markdown()
    assert "## All runs by budget" in md
    frame = report.frame()
    assert "budget" in frame.columns
    assert sorted(frame["budget"].unique()) == [0.5, 1.0, 2.0]
    combined = md.split("## All runs by budget")[1].split("\n## ")[0]
    first_col = [line.split("|")[1].strip() for line in combined.splitlines()
                 if line.startswith("| ") and "Router" not in line and "---" not in line]
    assert first_col == sorted(first_col, key=float)  # sorted by budget


def test_write_report_writes_all_formats_atomically(run_dir: Path, tmp_path: Path) -> None:
    report = build_report(load_runs([run_dir]))
    out = tmp_path / "out"
    paths = write_report(report, out, parse_formats("md,csv,tex"))
    assert sorted(p.name for p in paths) == ["report.csv", "report.md", "report.tex"]
    assert not list(out.glob(".*tmp"))
    tex = (out / "report.tex").read_text()
    assert "\\begin{tabular}" in tex and "\\textbf{" in tex and "$\\pm$" in tex
    back = pd.read_csv(out / "report.csv")
    assert {"kind", "router", "metric", "mean", "ci_low", "ci_high", "best"} <= set(back.columns)
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
