"""`routebench download` and `routebench info` through Typer's CliRunner."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

import routebench.sources as sources
from routebench.cli import app
from routebench.dataset import load_table

runner = CliRunner()


def run(*args: str):
    result = runner.invoke(app, list(args))
    return result, " ".join(result.output.split())


def test_download_synthetic_info_rerun_and_force(data_dir):
    result, out = run("download", "synthetic", "--n", "300", "--models", "4", "--seed", "2")
    assert result.exit_code == 0, out
    table = load_table(data_dir / "synthetic")
    assert (table.n, table.m) == (300, 4)
    assert "300" in out and str(data_dir / "synthetic") in out

    result, out = run("info", "synthetic")
    assert result.exit_code == 0, out
    for word in ("mmlu", "gpt-4-1106-preview", "mean performance", "mean cost (USD)", "300"):
        assert word in out
    assert f"{table.mean_perf()[0]:.3f}" in out

    before = (data_dir / "synthetic" / "table.parquet").stat().st_mtime_ns
    result, out = run("download", "synthetic", "--n", "300", "--models", "4", "--seed", "2")
    assert result.exit_code == 0 and "nothing to do" in out
    assert (data_dir / "synthetic" / "table.parquet").stat().st_mtime_ns == before

    result, out = run("download", "synthetic", "--n", "120", "--models", "4", "--force")
    assert result.exit_code == 0, out
    assert load_table(data_dir / "synthetic").n == 120


def test_out_stores_a_variant(data_dir):
    result, out = run("download", "synthetic", "--n", "80", "--out", "synthetic-80")
    assert result.exit_code == 0, out
    assert load_table(data_dir / "synthetic-80").n == 80
    assert not (data_dir / "synthetic").exists()
    result, out = run("info", "synthetic-80")
    assert result.exit_code == 0 and "80" in out


def test_unknown_names_and_missing_datasets(data_dir):
    result, out = run("download", "nope")
    assert result.exit_code == 1
    assert "unknown dataset 'nope'" in out and "routerbench" in out and "synthetic" in out
    result, out = run("info", "synthetic")
    assert result.exit_code == 1 and "routebench download synthetic" in out
    result, out = run("download", "synthetic", "--models", "many")
    assert result.exit_code == 1 and "count of LLMs" in out
    assert not data_dir.exists()


def test_bad_input_exits_nonzero_and_writes_nothing(data_dir, tmp_path, fixtures_dir):
    wide = pd.read_csv(fixtures_dir / "routerbench_wide.csv")
    wide.loc[2, "mistralai/mistral-7b-chat|total_cost"] = -1.0
    bad = tmp_path / "bad.csv"
    wide.to_csv(bad, index=False)
    result, out = run("download", "routerbench", "--from", str(bad))
    assert result.exit_code == 1
    assert "bad.csv" in out and "cost::mistralai/mistral-7b-chat" in out and "row 2" in out
    assert "-1.0" in out
    assert not data_dir.exists()


def test_missing_rows_policies(data_dir, tmp_path, fixtures_dir):
    wide = pd.read_csv(fixtures_dir / "routerbench_wide.csv")
    wide.loc[1, "gpt-4-1106-preview"] = float("nan")
    path = tmp_path / "gap.csv"
    wide.to_csv(path, index=False)
    result, out = run("download", "routerbench", "--from", str(path))
    assert result.exit_code == 1 and "--drop-missing" in out and "row 1" in out
    assert not data_dir.exists()
    result, out = run("download", "routerbench", "--from", str(path), "--drop-missing")
    assert result.exit_code == 0, out
    assert load_table(data_dir / "routerbench").n == 3
    assert "rows dropped: 1" in out
    result, out = run(
        "download", "routerbench", "--from", str(path), "--drop-missing", "--coalesce"
    )
    assert result.exit_code == 1 and "not both" in out


def test_offline_download_fails_fast_with_hint(data_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(sources.socket, "create_connection", refuse)
    result, out = run("download", "routerbench")
    assert result.exit_code == 1
    assert "unreachable" in out and "--from PATH" in out


def test_slice_through_the_cli(data_dir, shared_slice):
    result, out = run("download", "routerbench", "--from", str(shared_slice), "--coalesce")
    assert result.exit_code == 0, out
    table = load_table(data_dir / "routerbench")
    assert (table.n, table.m) == (3164, 11)
    assert "rows merged: 14" in out


@pytest.mark.slow
def test_default_synthetic_download(data_dir):
    result, out = run("download", "synthetic")
    assert result.exit_code == 0, out
    table = load_table(data_dir / "synthetic")
    assert (table.n, table.m) == (36_497, 11)
