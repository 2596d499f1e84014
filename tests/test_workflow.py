"""The results workflow: more seeds extend a finished run, `routebench runs` lists finished,
partial and failed runs with the command that resumes them, reports skip unfinished runs with a
note and read a run met twice once, and sweeps leave out the points a dataset cannot have."""

from __future__ import annotations

import shlex
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from routebench import simulate as sim
from routebench.cli import app
from routebench.config import SimConfig
from routebench.results import list_runs, load_runs
from routebench.sources import download
from routebench.sweep import expand, load_spec

runner = CliRunner()
REAL_RUN_SEED = sim.run_seed
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    download("synthetic", data_dir=root, out="four", n=1200, models=4, seed=5)
    return root


def _config(**changes) -> SimConfig:
    base = dict(dataset="four", test_size=400, seeds=(0, 1), index="flat",
                routers=("random", "port", "approx-opt"))
    base.update(changes)
    return SimConfig(**base)


def _counting(monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None,
              exc: type[BaseException] = RuntimeError) -> list[int]:
    calls: list[int] = []
    real = REAL_RUN_SEED

    def counted(prep, seed):
        if fail_at is not None and len(calls) == fail_at:
            raise exc("stopped on purpose")
        calls.append(seed)
        return real(prep, seed)

    monkeypatch.setattr(sim, "run_seed", counted)
    return calls


def test_more_seeds_extend_a_finished_run(data: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    first = sim.run_simulation(_config(), data_dir=data, results_root=tmp_path, progress=False)
    before = pd.read_parquet(first / "results.parquet")
    more = sim.run_simulation(_config(seeds=(0, 1, 2, 3)), data_dir=data,
                              results_root=tmp_path, progress=False)
    assert more == first and calls == [0, 1, 2, 3]  # seeds 0 and 1 were not run again
    after = pd.read_parquet(more / "results.parquet")
    assert sorted(after["seed"].unique()) == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(after[after["seed"] < 2].reset_index(drop=True),
                                  before.reset_index(drop=True))
    sim.run_simulation(_config(seeds=(3,)), data_dir=data, results_root=tmp_path,
                       progress=False)
    assert calls == [0, 1, 2, 3]  # a subset of a finished run's seeds: nothing to do
    (info,) = list_runs(tmp_path)
    assert (info.status, info.seeds_done) == ("finished", [0, 1, 2, 3])


def test_runs_lists_finished_partial_and_failed_runs_and_resumes_them(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTEBENCH_DATA", str(data))
    monkeypatch.setenv("ROUTEBENCH_RESULTS", str(tmp_path))
    sim.run_simulation(_config(), data_dir=data, results_root=tmp_path, progress=False)
    _counting(monkeypatch, fail_at=1, exc=KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        sim.run_simulation(_config(budget=0.5, seeds=(0, 1, 2)), data_dir=data,
                           results_root=tmp_path, progress=False)
    _counting(monkeypatch, fail_at=1)
    with pytest.raises(RuntimeError):
        sim.run_simulation(_config(budget=2.0, seeds=(4, 5)), data_dir=data,
                           results_root=tmp_path, progress=False)
    _counting(monkeypatch, fail_at=0)
    with pytest.raises(RuntimeError):  # failed before any seed: no folder at all
        sim.run_simulation(_config(budget=3.0), data_dir=data, results_root=tmp_path,
                           progress=False)
    infos = {i.config["budget"]: i for i in list_runs(tmp_path)}
    assert set(infos) == {1.0, 0.5, 2.0}
    assert (infos[1.0].status, infos[0.5].status, infos[2.0].status) == (
        "finished", "partial", "failed")
    assert infos[0.5].seeds_done == [0] and infos[0.5].seeds == [0, 1, 2]
    assert "stopped on purpose" in infos[2.0].error

    monkeypatch.undo()
    monkeypatch.setenv("ROUTEBENCH_DATA", str(data))
    monkeypatch.setenv("ROUTEBENCH_RESULTS", str(tmp_path))
    result = runner.invoke(app, ["runs", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "finished" in out and "partial" in out and "failed" in out and "1/3" in out
    commands = [line.strip() for line in out.splitlines()
                if line.strip().startswith("ROUTEBENCH_RESULTS=")]
    assert len(commands) == 2
    partial = next(c for c in commands if "--budget 0.5" in c)
    assert "--seeds 0-2" in partial and "--routers random,port,approx-opt" in partial
    args = shlex.split(partial)[2:]  # the env prefix and "routebench"
    resumed = runner.invoke(app, [*args, "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    assert {i.config["budget"]: i.status for i in list_runs(tmp_path)}[0.5] == "finished"


def test_reports_skip_unfinished_runs_and_read_a_run_met_twice_once(
        data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = sim.run_simulation(_config(), data_dir=data, results_root=tmp_path / "a",
                             progress=False)
    sim.run_simulation(_config(), data_dir=data, results_root=tmp_path / "b", progress=False)
    _counting(monkeypatch, fail_at=1, exc=KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        sim.run_simulation(_config(budget=0.5), data_dir=data, results_root=tmp_path / "a",
                           progress=False)
    notes: list[str] = []
    runs = load_runs([tmp_path], notes)
    assert [r.path for r in runs] == [one]
    assert any("partial run (1 of 2 seeds done), left out" in n for n in notes)
    assert any("the same run as" in n for n in notes)
    partial = next(p for p in (tmp_path / "a").iterdir() if p != one)
    notes = []
    assert [r.path for r in load_runs([one, partial], notes)] == [one]  # a glob over both
    with pytest.raises(ValueError, match="no finished run"):
        load_runs([partial], [])


def test_paper_sweeps_leave_out_points_a_four_llm_dataset_cannot_have(data: Path) -> None:
    spec = load_spec(CONFIGS / "splits.yaml", dataset="four",
                     overrides={"test_size": 400})
    points = expand(spec, data)
    ks = sorted(p.config.extreme_k for p in points if p.config.split == "extreme")
    assert ks == [1, 2, 3]
    assert any("extreme split with k=4" in n and "skipped" in n for n in spec.notes)
    for name in ("table1", "budget", "volume", "deployments", "orders"):
        assert expand(load_spec(CONFIGS / f"{name}.yaml", dataset="four",
                                overrides={"test_size": 400}), data)
