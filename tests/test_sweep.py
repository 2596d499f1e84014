"""Sweeps: YAML grids, fast failure, resume after an interrupt, the CLI. The simulator is
replaced by a fake runner that writes a tiny results folder."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from fake_results import fake_runner
from typer.testing import CliRunner

from routebench import io, sweep
from routebench.cli import app
from routebench.config import SimConfig
from routebench.sweep import SweepError, deployment_subsets, expand, load_spec, run_sweep

MODELS = ["m1", "m2", "m3", "m4", "m5"]
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    io.write_json(tmp_path / "data" / "toy" / "card.json",
                  {"name": "toy", "n_queries": 3000, "models": MODELS,
                   "content_hash": "0123456789abcdef"})
    return tmp_path / "data"


def write(tmp_path: Path, text: str, name: str = "grid.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


GRID = """\
    dataset: toy
    base:
      seeds: "0-1"
      test_size: 1000
    grid:
      budget: [0.5, 1, 2]
      eps: [0.025, 0.05]
    """


class CountingRunner:
    """Writes fake folders; raises KeyboardInterrupt on call number ``interrupt_at``."""

    def __init__(self, interrupt_at: int | None = None) -> None:
        self.calls: list[str] = []
        self.interrupt_at = interrupt_at

    def __call__(self, config: SimConfig, **kw) -> Path:
        if self.interrupt_at is not None and len(self.calls) + 1 == self.interrupt_at:
            raise KeyboardInterrupt
        self.calls.append(config.run_key())
        return fake_runner(config, **kw)


def _eps(config: SimConfig) -> float:
    return config.params_of("port")["eps"]


def test_grid_is_a_cartesian_product_with_float_keys(tmp_path: Path, data_dir: Path) -> None:
    points = expand(load_spec(write(tmp_path, GRID)), data_dir)
    assert len(points) == 6
    assert {(p.config.budget, _eps(p.config)) for p in points} == {
        (b, e) for b in (0.5, 1.0, 2.0) for e in (0.025, 0.05)}
    one = next(p for p in points if p.config.budget == 1 and _eps(p.config) == 0.025)
    # YAML's integer 1 gives the same run folder as the float 1.0; the point's config holds
    # every router parameter (resolved), so it equals the resolved default
    assert one.config.run_key() == sweep.resolve_config(
        SimConfig(dataset="toy", seeds=(0, 1), test_size=1000, budget=1.0)).run_key()
    assert len({p.config.run_key() for p in points}) == 6


def test_set_overrides_base_but_not_grid(tmp_path: Path, data_dir: Path) -> None:
    overrides = sweep.parse_overrides(["test_size=1500", "seeds=0-4"])
    assert overrides == {"test_size": 1500, "seeds": "0-4"}
    points = expand(load_spec(write(tmp_path, GRID), overrides=overrides), data_dir)
    assert {p.config.test_size for p in points} == {1500}
    assert {p.config.seeds for p in points} == {(0, 1, 2, 3, 4)}
    spec = load_spec(write(tmp_path, GRID), overrides={"budget": 3, "test_size": 900})
    assert spec.notes == ["--set budget ignored: grid.yaml sweeps it in its grid"]
    assert {p.config.budget for p in expand(spec, data_dir)} == {0.5, 1.0, 2.0}
    spec = load_spec(write(tmp_path, GRID), overrides={"budget": [0.25, 4]})
    assert {p.config.budget for p in expand(spec, data_dir)} == {0.25, 4.0}
    with pytest.raises(SweepError, match="unknown parameter 'budgett'"):
        load_spec(write(tmp_path, GRID), overrides={"budgett": 3})
    with pytest.raises(SweepError, match="expected KEY=VALUE"):
        sweep.parse_overrides(["test_size"])


def test_cases_are_crossed_with_the_grid(tmp_path: Path, data_dir: Path) -> None:
    spec = load_spec(write(tmp_path, """\
        dataset: toy
        base: {test_size: 1000, seeds: "0"}
        grid: {budget: [1.0, 2.0]}
        cases:
          - {split: weighted}
          - {split: extreme, extreme_k: 3}
        """))
    points = expand(spec, data_dir)
    assert len(points) == 4
    assert {(p.config.split, p.config.extreme_k) for p in points} == {("weighted", 1),
                                                                      ("extreme", 3)}


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "dataset: toy\nbase:\n  budget: [1, 2\n  eps: 0.1\n")
    with pytest.raises(SweepError, match=r"line \d+.*malformed YAML") as err:
        load_spec(path)
    assert str(path) in str(err.value)


def test_unknown_parameter_names_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "dataset: toy\ngrid:\n  budget: [1.0]\n  epsilon: [0.1]\n")
    with pytest.raises(SweepError, match=r"line 4: unknown parameter 'epsilon' in `grid`"):
        load_spec(path)
    path = write(tmp_path, "dataset: toy\nbase:\n  top_k: 3\nbudgets: [1]\n")
    with pytest.raises(SweepError, match=r"line 4: unknown key 'budgets'"):
        load_spec(path)
    path = write(tmp_path, "dataset: toy\ncases:\n  - {split: cost}\n  - {splt: perf}\n")
    with pytest.raises(SweepError, match=r"line 4: unknown parameter 'splt'"):
        load_spec(path)


def test_invalid_value_fails_before_any_work(tmp_path: Path, data_dir: Path) -> None:
    # a value wrong on its own is refused when the file is read, with its line and value
    path = write(tmp_path, "dataset: toy\nbase: {test_size: 1000}\ngrid: {budget: [1.0, -1.0]}\n")
    with pytest.raises(SweepError, match=r"line 3: `grid.budget` value -1.0: must be > 0"):
        load_spec(path)
    # a combination that cannot run is refused before any point runs, naming its origin
    spec = load_spec(write(tmp_path, "dataset: toy\nbase: {test_size: 1000, extreme_k: 3}\n"
                                     "grid: {split: [extreme, weighted]}\n"))
    calls = CountingRunner()
    with pytest.raises(SweepError, match=r"line 2: `base.extreme_k` \(point split=weighted\): "
                                         r"applies to split 'extreme' only"):
        run_sweep(spec, data_dir=data_dir, results_root=tmp_path / "res", runner=calls,
                  progress=False)
    assert calls.calls == []


def test_asking_for_more_than_the_dataset_has_fails_fast(tmp_path: Path,
                                                         data_dir: Path) -> None:
    too_big = load_spec(write(tmp_path, "dataset: toy\ngrid: {test_size: [1000, 2900]}\n"))
    with pytest.raises(SweepError, match=r"test size 2900 leaves 100 of the 3000.*cap_test_size"):
        expand(too_big, data_dir)
    unknown = load_spec(write(tmp_path, "dataset: toy\nbase: {test_size: 100, models: [m1, x]}\n"))
    with pytest.raises(SweepError, match=r"model\(s\) \['x'\] not in dataset 'toy'"):
        expand(unknown, data_dir)
    many = load_spec(write(tmp_path, "dataset: toy\nbase: {test_size: 100}\n"
                                     "deployments: {sizes: [2, 6]}\n"))
    with pytest.raises(SweepError, match=r"line 3.*size\(s\) \[6\] impossible: the dataset has 5"):
        expand(many, data_dir)
    absent = load_spec(write(tmp_path, "dataset: toy\n"), dataset="nothing")
    with pytest.raises(SweepError, match="routebench download nothing"):
        expand(absent, data_dir)


def test_cap_test_size_caps_and_dedupes(tmp_path: Path, data_dir: Path) -> None:
    spec = load_spec(write(tmp_path, "dataset: toy\nbase: {seeds: '0'}\ncap_test_size: true\n"
                                     "grid: {test_size: [1000, 2800, 2900]}\n"))
    points = expand(spec, data_dir)
    assert [p.config.test_size for p in points] == [1000, 2700]  # 10 % of 3000 kept as history
    assert [p.capped_from for p in points] == [None, 2800]


def test_deployment_subsets_are_seeded_distinct_and_complete() -> None:
    subsets = deployment_subsets(MODELS, [2, 4, 5], subsets=3, seed=0)
    assert subsets == deployment_subsets(MODELS, [2, 4, 5], subsets=3, seed=0)
    assert subsets != deployment_subsets(MODELS, [2, 4, 5], subsets=3, seed=1)
    twos = [s for s in subsets if s is not None and len(s) == 2]
    assert len(twos) == len(set(twos)) == 3
    assert all(list(s) == [m for m in MODELS if m in s] for s in twos)  # dataset order kept
    assert subsets[-1] is None  # all five LLMs
    # the subsets of size 2 do not depend on which other sizes are asked for
    assert [s for s in deployment_subsets(MODELS, [2], 3, 0)] == twos
    # there are only 5 subsets of size 4
    assert len(deployment_subsets(MODELS, [4], subsets=9, seed=0)) == 5


def test_deployments_grid(tmp_path: Path, data_dir: Path) -> None:
    spec = load_spec(write(tmp_path, "dataset: toy\nbase: {test_size: 100}\n"
                                     "deployments: {sizes: '2..all', subsets: 2, seed: 0}\n"))
    points = expand(spec, data_dir)
    sizes = [len(p.config.models) if p.config.models else 5 for p in points]
    assert sizes == [2, 2, 3, 3, 4, 4, 5]


def test_interrupted_sweep_resumes_without_recomputing(tmp_path: Path, data_dir: Path) -> None:
    spec = load_spec(write(tmp_path, GRID))
    root, out = tmp_path / "res", tmp_path / "out"
    first = CountingRunner(interrupt_at=4)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, data_dir=data_dir, results_root=root, out_dir=out, runner=first,
                  progress=False)
    assert len(first.calls) == 3
    record = io.read_json(out / "sweep.json")
    assert [p["status"] for p in record["points"]] == ["done"] * 3 + ["pending"] * 3

    second = CountingRunner()
    outcome = run_sweep(spec, data_dir=data_dir, results_root=root, out_dir=out, runner=second,
                        progress=False)
    assert len(second.calls) == 3
    assert not set(first.calls) & set(second.calls)
    assert outcome.skipped == [0, 1, 2] and outcome.ran == [3, 4, 5]
    record = io.read_json(out / "sweep.json")
    assert all(p["status"] == "done" for p in record["points"])
    assert all((out / p["run_dir"] / "manifest.json").exists() for p in record["points"])

    third = CountingRunner()
    run_sweep(spec, data_dir=data_dir, results_root=root, out_dir=out, runner=third,
              progress=False)
    assert third.calls == []
    forced = CountingRunner()
    run_sweep(spec, data_dir=data_dir, results_root=root, out_dir=out, runner=forced,
              force=True, progress=False)
    assert len(forced.calls) == 6


def test_process_pool_runs_every_point(tmp_path: Path, data_dir: Path) -> None:
    spec = load_spec(write(tmp_path, GRID))
    outcome = run_sweep(spec, data_dir=data_dir, results_root=tmp_path / "res",
                        out_dir=tmp_path / "out", jobs=2, runner=fake_runner, progress=False)
    assert sorted(outcome.ran) == list(range(6))
    assert all((d / "manifest.json").exists() for d in outcome.run_dirs)


@pytest.mark.parametrize("name", ["table1", "budget", "volume", "splits", "deployments",
                                  "orders", "estimators", "recall"])
def test_paper_configs_expand(name: str, tmp_path: Path) -> None:
    io.write_json(tmp_path / "d" / "synthetic" / "card.json",
                  {"n_queries": 36_497, "models": [f"llm{i}" for i in range(11)],
                   "content_hash": "0123456789abcdef"})
    points = expand(load_spec(CONFIGS / f"{name}.yaml"), tmp_path / "d")
    want = {"table1": 1, "budget": 8, "volume": 5, "splits": 10, "deployments": 28,
            "orders": 1, "estimators": 8 * 4, "recall": 7}[name]
    assert len(points) == want
    assert all(p.capped_from is None for p in points)
    if name == "orders":
        assert len(points[0].config.seeds) == 100
        assert "batch-split" not in points[0].config.routers
    if name == "recall":
        assert [dict(p.config.index_params)["ef_search"] for p in points] == [
            1, 2, 4, 8, 16, 64, 256]


def test_cli_sweep_dry_run_lists_points(tmp_path: Path, data_dir: Path) -> None:
    path = write(tmp_path, GRID)
    env = {"ROUTEBENCH_DATA": str(data_dir), "ROUTEBENCH_RESULTS": str(tmp_path / "res")}
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "6 point(s)" in result.output and "budget=0.5" in result.output
    assert not (tmp_path / "res").exists()
    bad = write(tmp_path, "dataset: toy\ngrid:\n  bugdet: [1]\n", "bad.yaml")
    result = CliRunner().invoke(app, ["sweep", str(bad)], env=env)
    assert result.exit_code == 1
    assert "line 3" in result.output and "bugdet" in result.output


def test_cli_sweep_runs_and_reports(tmp_path: Path, data_dir: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweep, "default_runner", lambda: fake_runner)
    path = write(tmp_path, "dataset: toy\nbase: {test_size: 1000, seeds: '0-2'}\n"
                           "grid: {budget: [0.5, 1.0]}\n")
    env = {"ROUTEBENCH_DATA": str(data_dir), "ROUTEBENCH_RESULTS": str(tmp_path / "res")}
    out = tmp_path / "res" / "sweeps" / "grid-toy"
    result = CliRunner().invoke(app, ["sweep", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "2 point(s) run, 0 already finished" in result.output
    assert (out / "sweep.json").exists() and (out / "report.md").exists()
    assert "vs_budget" in (out / "figures" / "figures.md").read_text()
    result = CliRunner().invoke(app, ["sweep", str(path), "--no-report"], env=env)
    assert "0 point(s) run, 2 already finished" in result.output


# --------------------------------------------------------------------------- strict sweep files
def test_duplicate_key_is_refused_naming_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "dataset: toy\nbase:\n  top_k: 3\n  budget: 1.0\n  top_k: 4\n")
    with pytest.raises(SweepError, match=r"line 5: duplicate key 'top_k' \(also on line 3\)") \
            as err:
        load_spec(path)
    assert str(path) in str(err.value)
    path = write(tmp_path, "dataset: toy\ngrid: {budget: [1]}\ngrid: {eps: [0.1]}\n")
    with pytest.raises(SweepError, match=r"line 3: duplicate key 'grid' \(also on line 2\)"):
        load_spec(path)
    path = write(tmp_path, "dataset: toy\ncases:\n  - {split: cost}\n  - {split: cost,\n"
                           "     split: perf}\n")
    with pytest.raises(SweepError, match=r"line 5: duplicate key 'split' \(also on line 4\)"):
        load_spec(path)
    with pytest.raises(SweepError, match="not valid YAML.*duplicate key 'a'"):
        sweep.parse_overrides(["index_params={a: 1, a: 2}"])


#: (parameter, YAML value in `base` or a case, YAML list in `grid`, the offending grid value,
#: expected detail)
BAD_VALUES = [
    ("top_k", "2.5", "[2, 2.5]", "2.5", r"expected an integer, got 2.5"),
    ("budget", "[true]", "[true]", "True", r"expected a number, got (\[True\] \(list\)|True)"),
    ("test_size", '"lots"', '[100, "lots"]', "'lots'", r"expected an integer, got 'lots'"),
]


@pytest.mark.parametrize(("key", "value", "values", "bad", "detail"), BAD_VALUES)
def test_wrong_types_are_refused_with_key_and_line(tmp_path: Path, key: str, value: str,
                                                   values: str, bad: str, detail: str) -> None:
    in_base = write(tmp_path, f"dataset: toy\nbase:\n  seeds: '0'\n  {key}: {value}\n")
    with pytest.raises(SweepError, match=rf"line 4: `base\.{key}`: {detail}") as err:
        load_spec(in_base)
    assert str(in_base) in str(err.value)
    in_grid = write(tmp_path, f"dataset: toy\nbase: {{seeds: '0'}}\ngrid:\n"
                              f"  split: [cost, perf]\n  {key}: {values}\n")
    with pytest.raises(SweepError,
                       match=rf"line 5: `grid\.{key}` value {re.escape(bad)}: {detail}"):
        load_spec(in_grid)
    in_case = write(tmp_path, f"dataset: toy\nbase: {{seeds: '0'}}\ncases:\n  - {{split: cost}}\n"
                              f"  - {{split: perf}}\n  - {{split: uniform, {key}: {value}}}\n")
    with pytest.raises(SweepError, match=rf"line 6: `cases\.2\.{key}`: {detail}"):
        load_spec(in_case)


def test_set_values_are_checked_naming_the_option(tmp_path: Path, data_dir: Path) -> None:
    path = write(tmp_path, GRID)
    with pytest.raises(SweepError, match=r"--set test_size: expected an integer, got 'abc'") \
            as err:
        load_spec(path, overrides=sweep.parse_overrides(["test_size=abc"]))
    assert "line" not in str(err.value)
    with pytest.raises(SweepError, match=r"--set budget: expected a number, got 'x'"):
        load_spec(path, overrides={"budget": ["x"]})  # a list replacing the grid's values
    with pytest.raises(SweepError, match=r"--set tset_size: unknown parameter 'tset_size'") \
            as err:
        load_spec(path, overrides={"tset_size": 3})
    assert "line" not in str(err.value)
    # a combination made impossible by a --set value names the option too
    spec = load_spec(path, overrides={"extreme_k": 2})
    with pytest.raises(SweepError, match=r"--set extreme_k \(point .*\): applies to split"):
        expand(spec, data_dir)
    env = {"ROUTEBENCH_DATA": str(data_dir), "ROUTEBENCH_RESULTS": str(tmp_path / "res")}
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--set",
                                      "test_size=abc"], env=env)
    assert result.exit_code == 1
    assert "--set test_size: expected an integer" in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--set", "tset_size=1"],
                                env=env)
    assert result.exit_code == 1
    assert "tset_size" in result.output and "line ?" not in result.output


# --------------------------------------------------------------------------- sweep.json status
class FailingRunner(CountingRunner):
    """Fails the point with budget 1 and eps 0.05; records the statuses sweep.json shows
    while each point runs."""

    def __init__(self, record: Path) -> None:
        super().__init__()
        self.record = record
        self.seen: list[list[str]] = []

    def __call__(self, config: SimConfig, **kw) -> Path:
        self.seen.append([p["status"] for p in io.read_json(self.record)["points"]])
        if config.budget == 1.0 and _eps(config) == 0.05:
            raise RuntimeError("solver exploded [on purpose]")
        return super().__call__(config, **kw)


def fail_budget_one(config: SimConfig, **kw) -> Path:
    """Picklable runner for the process pool: fails the point with budget 1 and eps 0.05."""
    if config.budget == 1.0 and _eps(config) == 0.05:
        raise RuntimeError("solver exploded [on purpose]")
    return fake_runner(config, **kw)


def test_sweep_json_tracks_each_point_and_failures(tmp_path: Path, data_dir: Path) -> None:
    spec = load_spec(write(tmp_path, GRID))
    out = tmp_path / "out"
    runner = FailingRunner(out / "sweep.json")
    with pytest.raises(sweep.SweepFailed, match=r"(?s)1 of 6 point\(s\).*failed.*point 3 "
                                                r"\(budget=1, eps=0.05\): RuntimeError") as err:
        run_sweep(spec, data_dir=data_dir, results_root=tmp_path / "res", out_dir=out,
                  runner=runner, progress=False)
    # sweep.json is rewritten as each point starts and ends: the runner saw it
    assert runner.seen[0] == ["running"] + ["pending"] * 5
    assert runner.seen[4] == ["done"] * 3 + ["failed", "running", "pending"]
    outcome = err.value.outcome
    assert outcome.ran == [0, 1, 2, 4, 5] and list(outcome.failed) == [3]
    record = io.read_json(out / "sweep.json")
    assert record["counts"] == {"done": 5, "failed": 1, "pending": 0, "running": 0, "total": 6}
    assert record["state"] == "failed"
    assert [p["status"] for p in record["points"]] == ["done"] * 3 + ["failed"] + ["done"] * 2
    assert record["points"][3]["error"] == "RuntimeError: solver exploded [on purpose]"
    assert all("error" not in p for i, p in enumerate(record["points"]) if i != 3)
    assert record["command"].startswith("routebench sweep ")

    # a re-run runs only the failed point
    again = CountingRunner()
    outcome = run_sweep(spec, data_dir=data_dir, results_root=tmp_path / "res", out_dir=out,
                        runner=again, progress=False)
    assert outcome.ran == [3] and len(again.calls) == 1
    record = io.read_json(out / "sweep.json")
    assert record["state"] == "finished"
    assert record["counts"] == {"done": 6, "failed": 0, "pending": 0, "running": 0, "total": 6}
    assert all("error" not in p for p in record["points"])


def test_process_pool_records_a_failing_point(tmp_path: Path, data_dir: Path) -> None:
    spec = load_spec(write(tmp_path, GRID))
    out = tmp_path / "out"
    with pytest.raises(sweep.SweepFailed) as err:
        run_sweep(spec, data_dir=data_dir, results_root=tmp_path / "res", out_dir=out, jobs=2,
                  runner=fail_budget_one, progress=False)
    assert sorted(err.value.outcome.ran) == [0, 1, 2, 4, 5]
    record = io.read_json(out / "sweep.json")
    assert record["counts"] == {"done": 5, "failed": 1, "pending": 0, "running": 0, "total": 6}
    assert record["points"][3]["status"] == "failed"
    assert record["points"][3]["error"] == "RuntimeError: solver exploded [on purpose]"


def test_report_notes_points_a_sweep_has_not_finished(tmp_path: Path, data_dir: Path) -> None:
    from routebench.results import find_run_dirs, load_runs

    path = write(tmp_path, GRID, name="[red]grid.yaml")  # brackets: no rich markup
    spec = load_spec(path)
    root, out = tmp_path / "res", tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, data_dir=data_dir, results_root=root, out_dir=out,
                  runner=CountingRunner(interrupt_at=4), progress=False)
    assert len(find_run_dirs(out)) == 3  # the old call still works, without notes
    notes: list[str] = []
    assert len(load_runs([out, out], notes=notes)) == 3
    assert notes[0] == (
        f"sweep {out}: 3 of 6 points have not finished (points 3, 4, 5); re-run "
        f"`routebench sweep '{path}' --dataset toy` to complete them")
    env = {"ROUTEBENCH_DATA": str(data_dir), "ROUTEBENCH_RESULTS": str(root)}
    for command in (["report", str(out), "--format", "md"], ["plot", str(out)]):
        result = CliRunner().invoke(app, command, env=env)
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        assert text.count("note: sweep") == 1, text
        assert "3 of 6 points have not finished (points 3, 4, 5)" in text
        assert "[red]grid.yaml" in text

    # a failed point is named with its error
    with pytest.raises(sweep.SweepFailed):
        run_sweep(spec, data_dir=data_dir, results_root=root, out_dir=out,
                  runner=FailingRunner(out / "sweep.json"), progress=False)
    notes = []
    load_runs([out], notes=notes)
    assert "1 of 6 points have not finished (point 3); 1 failed, e.g. point 3: RuntimeError: " \
           "solver exploded [on purpose]; re-run" in notes[0]
    run_sweep(spec, data_dir=data_dir, results_root=root, out_dir=out, runner=CountingRunner(),
              progress=False)
    notes = []
    load_runs([out], notes=notes)
    assert notes == []
