"""The whole pipeline through the CLI: download -> build-index -> simulate -> report -> plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from routebench.cli import app

runner = CliRunner()


def _invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"routebench {' '.join(args)}:\n{result.output}"
    return result.output


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ROUTEBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ROUTEBENCH_RESULTS", str(tmp_path / "results"))
    return tmp_path


def test_tiny_pipeline_end_to_end(env: Path) -> None:
    _invoke("download", "synthetic", "--n", "1500", "--models", "4", "--seed", "3")
    out = _invoke("build-index", "synthetic", "--test-size", "500", "--index", "hnsw")
    assert "recall@5" in out
    _invoke("simulate", "synthetic", "--test-size", "500", "--seeds", "0-2", "--quiet")
    (run,) = (env / "results").glob("synthetic-*")
    manifest = json.loads((run / "manifest.json").read_text())
    # simulate reused the index that build-index wrote, rather than building another.
    assert manifest["index"]["index"]["type"] == "hnsw"
    split = {k: v for k, v in manifest["index"]["split"].items() if k != "history_sha256"}
    assert split == {"n_history": 1000, "seed": 0, "test_size": 500}
    assert len(list((env / "data" / "synthetic" / "indexes").glob("hnsw-*.faiss"))) == 1
    _invoke("report", str(run), "--out", str(env / "report"), "--format", "md,csv,tex")
    for ext in ("md", "csv", "tex"):
        assert (env / "report" / f"report.{ext}").stat().st_size > 0
    report = pd.read_csv(env / "report" / "report.csv")
    results = pd.read_parquet(run / "results.parquet")
    port = results[(results["router"] == "port") & (results["metric"] == "performance")
                   & (results["llm"] == "")]
    row = report[(report["kind"] == "router") & (report["router"] == "port")
                 & (report["metric"] == "performance")]
    assert np.isclose(row["mean"].item(), port["value"].mean())
    out = _invoke("plot", str(run), "--out", str(env / "figures"))
    assert list((env / "figures").rglob("*.png")) and list((env / "figures").rglob("*.svg"))
    assert list((env / "figures").rglob("figures.md"))


@pytest.mark.slow
def test_table1_configuration_on_the_real_routerbench_slice(env: Path, shared_slice: Path):
    """Issue 4's real-data run: the slice, 1,500 test queries, tfidf + hnsw, budget 1,
    weighted split, 10 seeds, every router, the LP bound and the MILP optimum."""
    out = _invoke("download", "routerbench", "--from", str(shared_slice), "--coalesce")
    assert "3,164" in out
    _invoke("simulate", "routerbench", "--test-size", "1500", "--seeds", "0-9", "--quiet")
    (run,) = (env / "results").glob("routerbench-*")
    frame = pd.read_parquet(run / "results.parquet")
    whole = frame[frame["llm"] == ""]
    perf = whole[whole["metric"] == "performance"].pivot(index="seed", columns="router",
                                                          values="value")
    bound = whole[(whole["metric"] == "bound") & (whole["router"] == "milp")]["value"].to_numpy()
    assert len(perf) == 10
    assert (perf["lp-bound"].to_numpy() >= bound - 1e-6).all()
    online = ["random", "greedy-perf", "greedy-cost", "knn-perf", "knn-cost", "batch-split",
              "port"]
    assert (perf[online].max(axis=1).to_numpy() <= bound + 1e-9).all()
    per_llm = frame[frame["llm"] != ""].pivot_table(index=["router", "seed", "llm"],
                                                    columns="metric", values="value")
    spent = per_llm.dropna(subset=["spend"])
    assert (spent["spend"] <= spent["budget"]).all()
    # PORT beats Random and Greedy-Perf on the real slice too (see the README's Results).
    assert perf["port"].mean() > perf["random"].mean()
    assert perf["port"].mean() > perf["greedy-perf"].mean()
