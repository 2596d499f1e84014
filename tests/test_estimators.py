"""Estimators: every built-in's output shape, range and determinism; chunked equals one-shot;
what each one reduces to at its limits; a plug-in through ``simulate``; bad names and
parameters refused with the valid choices."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from routebench.cli import app
from routebench.config import ConfigParamError, SimConfig
from routebench.dataset import dataset_dir, load_table
from routebench.errors import ParamError
from routebench.estimate import EstimateSpec, estimator_rng, open_index, stream_estimates
from routebench.estimators import (
    ESTIMATORS,
    Block,
    Estimator,
    EstimatorError,
    History,
    check_output,
    make_estimator,
    neighbour_means,
)
from routebench.simulate import run_simulation, simulate_tables
from routebench.sources import download
from routebench.split import make_split

SPEC = f"{__name__}:HistoryMean"


class HistoryMean(Estimator):
    """A plug-in: every query gets the history's mean (what k-NN adds is then visible)."""

    name = "history-mean"

    def estimate(self, block: Block):
        perf = np.broadcast_to(self.history.perf.mean(axis=0), (block.n, self.history.m))
        cost = np.broadcast_to(self.history.cost.mean(axis=0), (block.n, self.history.m))
        return perf.copy(), cost.copy()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("data")
    download("synthetic", data_dir=root, out="small", n=1500, models=4, seed=3)
    table = load_table(dataset_dir("small", root))
    split = make_split(table.n, 500, 0)
    return root, table, split


def _fitted(world, name: str, **params):
    root, table, split = world
    spec = EstimateSpec.from_options(top_k=5, index="flat")
    built = open_index(table, split, spec, data_dir=root, progress=False)
    est = make_estimator(name, **params)
    est.fit(History(table.perf[split.history], table.cost[split.history],
                    table.tasks[split.history], built, 5, built.embeddings,
                    np.asarray(split.history)), estimator_rng(0))
    return est, built


def _estimates(world, name: str, chunk: int = 4096, **params):
    """(perf_hat, cost_hat) of the test stream by estimator ``name`` (k = 5, exact index)."""
    root, table, split = world
    spec = EstimateSpec.from_options(top_k=5, index="flat", estimator=name,
                                     estimator_params=params)
    return stream_estimates(table, split, spec, data_dir=root, progress=False,
                            chunk_size=chunk)[:2]


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_every_estimator_in_range_deterministic_and_chunk_free(world, name):
    _, table, split = world
    perf, cost = _estimates(world, name)
    assert perf.shape == cost.shape == (len(split.test), table.m)
    assert (perf >= 0).all() and (perf <= 1).all() and (cost >= 0).all()
    again = _estimates(world, name)
    np.testing.assert_array_equal(perf, again[0])
    np.testing.assert_array_equal(cost, again[1])
    chunked = _estimates(world, name, chunk=37)
    np.testing.assert_allclose(chunked[0], perf, rtol=0, atol=1e-12)
    np.testing.assert_allclose(chunked[1], cost, rtol=0, atol=1e-15)


def test_knn_mean_is_the_paper_mean(world):
    _, table, split = world
    perf, cost = _estimates(world, "knn-mean")
    est, built = _fitted(world, "knn-mean")
    _, ids = built.search(np.ascontiguousarray(built.embeddings[split.test]), 5)
    both = np.concatenate([table.perf[split.history], table.cost[split.history]], axis=1)
    want = neighbour_means(both, both.mean(axis=0), ids)
    np.testing.assert_array_equal(perf, want[:, :table.m])
    np.testing.assert_array_equal(cost, want[:, table.m:])


def test_the_limits_of_the_knn_variants(world):
    mean = _estimates(world, "knn-mean")
    full = _estimates(world, "knn-shrink", strength=1.0)
    np.testing.assert_allclose(full[0], mean[0], atol=1e-12)
    none = _estimates(world, "knn-shrink", strength=0.0)  # the history mean everywhere
    assert np.ptp(none[0], axis=0).max() < 1e-12
    flat = _estimates(world, "knn-weighted", temperature=1e9)
    np.testing.assert_allclose(flat[0], mean[0], atol=1e-6)
    sharp = _estimates(world, "knn-weighted", temperature=0.05)
    assert not np.allclose(sharp[0], mean[0])
    fitted, _ = _fitted(world, "knn-shrink")
    weight = fitted.info["weight"]
    assert weight.shape == (2 * 4,) and ((weight >= 0) & (weight <= 1)).all()


def test_the_ensemble_is_the_mean_of_its_members(world):
    a = _estimates(world, "knn-mean")
    b = _estimates(world, "linear")
    both = _estimates(world, "ensemble", members=["knn-mean", "linear"])
    np.testing.assert_allclose(both[0], (a[0] + b[0]) / 2, atol=1e-12)
    np.testing.assert_allclose(both[1], (a[1] + b[1]) / 2, atol=1e-15)


def test_linear_chooses_its_penalty_by_cross_validation(world):
    est, _ = _fitted(world, "linear")
    assert est.info["alpha_perf"] in (10.0 ** np.arange(-3, 4)).tolist()
    fixed, _ = _fitted(world, "linear", alpha=10.0)
    assert fixed.info == {}


def test_ridge_loo_is_scikit_learns_ridge_cv():
    from sklearn.linear_model import Ridge, RidgeCV

    from routebench.estimators import RIDGE_ALPHAS, ridge_loo

    rng = np.random.default_rng(5)
    x = rng.normal(size=(120, 8))
    y = x @ rng.normal(size=(8, 3)) + rng.normal(scale=2.0, size=(120, 3)) + 4.0
    got, = ridge_loo(x, [y], RIDGE_ALPHAS)
    want = RidgeCV(alphas=RIDGE_ALPHAS).fit(x, y)
    assert got["alpha"] == want.alpha_
    np.testing.assert_allclose(got["coef"], want.coef_.T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got["intercept"], want.intercept_, rtol=1e-9)
    for i in (0, 57, 119):  # the leave-one-out prediction is a refit without the row
        refit = Ridge(alpha=got["alpha"]).fit(np.delete(x, i, 0), np.delete(y, i, 0))
        np.testing.assert_allclose(got["loo"][i], refit.predict(x[i : i + 1])[0], rtol=1e-9)


def test_stacking_learns_its_combination_out_of_sample(world):
    _, table, split = world
    est, _ = _fitted(world, "stacked")
    # depths 5, 20, 80 (top_k x 1, 4, 16), the ridge, the prior: non-negative weights per column
    assert est.neighbours(5, 1000) == 80
    assert est.neighbours(5, 30) == 29  # as deep as a history query sees (itself left out)
    weights = est.info["weights"]
    assert weights.shape == (2 * table.m, 3 + 1 + 1) and (weights >= 0).all()
    assert (weights.sum(axis=1) > 0).all()
    # stacked on the k-NN mean alone (no deeper neighbours, no ridge): w1 x the k-NN mean +
    # w2 x the history's mean, per column, with the fitted weights (clipped to the ranges)
    only, _ = _fitted(world, "stacked", depths=[1], linear=False)
    w = only.info["weights"]
    perf, cost = _estimates(world, "stacked", depths=[1], linear=False)
    knn = np.concatenate(_estimates(world, "knn-mean"), axis=1)
    both = np.concatenate([table.perf[split.history], table.cost[split.history]], axis=1)
    want = knn * w[:, 0] + both.mean(axis=0) * w[:, 1]
    np.testing.assert_allclose(perf, np.clip(want[:, :table.m], 0, 1), atol=1e-12)
    np.testing.assert_allclose(cost, np.clip(want[:, table.m:], 0, None), atol=1e-15)
    joint, _ = _fitted(world, "stacked-joint")
    assert joint.info["alpha_perf"] in (10.0 ** np.arange(-3, 4)).tolist()


def test_stacking_on_a_tiny_history_is_the_knn_mean(world):
    root, table, _ = world
    tiny = make_split(table.n, table.n - 12, 0)  # 12 history queries: too few to stack on
    spec = EstimateSpec.from_options(top_k=5, index="flat")
    built = open_index(table, tiny, spec, data_dir=root, progress=False)
    rows = np.asarray(tiny.history)
    history = History(table.perf[rows], table.cost[rows], table.tasks[rows], built, 5,
                      built.embeddings, rows)
    stacked, plain = make_estimator("stacked-joint"), make_estimator("knn-mean")
    stacked.fit(history, estimator_rng(0))
    plain.fit(history, estimator_rng(0))
    vectors = np.ascontiguousarray(built.embeddings[np.asarray(tiny.test)[:50]])
    scores, ids = built.search(vectors, 5)
    got = stacked.estimate(Block(vectors, ids, scores))
    want = plain.estimate(Block(vectors, ids, scores))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_a_plugin_estimator_runs_through_simulate(world, tmp_path: Path):
    root, _, _ = world
    config = SimConfig(dataset="small", test_size=500, seeds=(0, 1), index="flat",
                       routers=("greedy-perf", "knn-perf", "approx-opt"), estimator=SPEC)
    run = run_simulation(config, data_dir=root, results_root=tmp_path, progress=False)
    results = pd.read_parquet(run / "results.parquet")
    base, _ = simulate_tables(config.with_changes(estimator="knn-mean"), data_dir=root)

    def perf(frame, router):
        sel = frame[(frame.router == router) & (frame.metric == "performance")]
        return sel.sort_values("seed").value.tolist()

    # every query gets the same estimates: Greedy-Perf sends all to the same LLM ...
    assert perf(results, "greedy-perf") != perf(base, "greedy-perf")
    # ... while KNN-Perf keeps the paper's exact k-NN mean whatever the estimator
    assert perf(results, "knn-perf") == perf(base, "knn-perf")
    import json

    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["config"]["estimator"] == SPEC


def test_bad_estimators_and_parameters_are_refused(world):
    root, _, _ = world
    with pytest.raises(ConfigParamError, match=r"unknown estimator 'knn-men'.*did you mean "
                                                r"'knn-mean'.*knn-weighted, knn-shrink"):
        simulate_tables(SimConfig(dataset="small", test_size=500, seeds=(0,),
                                  estimator="knn-men"), data_dir=root)
    with pytest.raises(ParamError, match=r"estimator\.strength: must lie in \[0, 1\]"):
        make_estimator("knn-shrink", strength=2.0)
    with pytest.raises(ParamError, match=r"estimator\.toward: unknown prior 'mean'; valid: "
                                         r"history, task"):
        make_estimator("knn-shrink", toward="mean")
    with pytest.raises(ParamError, match=r"estimator\.members: unknown member 'knn'"):
        make_estimator("ensemble", members=["knn", "linear"])
    with pytest.raises(ParamError, match=r"estimator\.k: unknown parameter; known: temperature"):
        make_estimator("knn-weighted", k=3)
    with pytest.raises(EstimatorError, match="is not a routebench.estimators.Estimator"):
        make_estimator("routebench.routers:PortRouter")
    with pytest.raises(ParamError, match=r"estimator\.depths: must be one or more different "
                                         r"integers >= 1, got \[1, 0\]"):
        make_estimator("stacked", depths=[1, 0])
    with pytest.raises(ParamError, match=r"estimator\.sample: must be at least 16"):
        make_estimator("stacked-joint", sample=3)


def test_the_cli_names_the_estimator_flags(world, monkeypatch):
    root, _, _ = world
    monkeypatch.setenv("ROUTEBENCH_DATA", str(root))
    result = CliRunner().invoke(app, ["simulate", "small", "--test-size", "500", "--seeds", "0",
                                      "--estimator", "knn-shrink", "--estimator-param",
                                      "strength=3", "--quiet"])
    assert result.exit_code == 1
    assert "--estimator-param strength: must lie in [0, 1]" in result.output
    result = CliRunner().invoke(app, ["simulate", "small", "--estimator-param", "strength"])
    assert result.exit_code == 1 and "expected KEY=VALUE" in result.output


def test_outputs_are_checked():
    with pytest.raises(EstimatorError, match=r"'x' returned perf_hat outside \[0, 1\]"):
        check_output("x", (np.full((2, 3), 1.5), np.zeros((2, 3))), 2, 3)
    with pytest.raises(EstimatorError, match=r"'x' returned cost_hat of shape \(3, 2\)"):
        check_output("x", (np.zeros((2, 3)), np.zeros((3, 2))), 2, 3)
    with pytest.raises(EstimatorError, match=r"must return \(perf_hat, cost_hat\)"):
        check_output("x", np.zeros((2, 3)), 2, 3)


def test_estimate_quality_metrics_by_hand():
    from routebench import metrics

    perf = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    perf_hat = np.array([[0.5, 0.0], [0.5, 1.0], [1.0, 0.5]])
    cost = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    cost_hat = np.array([[1.0, 6.0], [2.0, 4.0], [3.0, 2.0]])
    whole, per_llm = metrics.compute("estimates", metrics.EstimateContext(
        perf_hat, cost_hat, perf, cost))
    np.testing.assert_allclose(per_llm["brier"], [0.5 / 3, 0.25 / 3])
    np.testing.assert_allclose(per_llm["perf_mae"], [1.0 / 3, 0.5 / 3])
    np.testing.assert_allclose(per_llm["cost_corr"], [1.0, -1.0])
    assert whole["brier_mean"] == pytest.approx(0.75 / 6)
    assert whole["cost_corr_mean"] == pytest.approx(0.0)


def test_runs_report_the_quality_of_their_estimates(world, tmp_path: Path):
    root, _, _ = world
    config = SimConfig(dataset="small", test_size=500, seeds=(0, 1), index="flat",
                       routers=("port", "approx-opt"), estimator="knn-shrink")
    results, _ = simulate_tables(config, data_dir=root)
    est = results[results.router == "estimates"]
    whole = est[est.llm == ""].pivot(index="seed", columns="metric", values="value")
    assert set(whole.columns) == {"brier_mean", "perf_mae_mean", "cost_corr_mean"}
    # the arrival order does not change the estimates (only the summation order)
    np.testing.assert_allclose(whole.loc[0], whole.loc[1], rtol=1e-12)
    assert len(est[(est.llm != "") & (est.metric == "brier")]) == 2 * 4
    run = run_simulation(config, data_dir=root, results_root=tmp_path, progress=False)
    from routebench.report import build_run_report, run_markdown
    from routebench.results import load_run

    md = run_markdown(build_run_report(load_run(run)))
    assert "Estimates (`knn-shrink`, k = 5) against the true outcomes" in md
    assert "Estimates |" not in md  # a bound row, never a router of the table
    # two estimators side by side: the combined report's per-run overview
    other = run_simulation(dataclasses.replace(config, estimator="linear"), data_dir=root,
                           results_root=tmp_path, progress=False)
    from routebench.report import build_report, runs_overview

    report = build_report([load_run(run), load_run(other)])
    overview = runs_overview(report.pivot)
    assert [h.split(",")[0] for h in overview["run"]] == ["estimator=knn-shrink",
                                                          "estimator=linear"]
    brier = whole["brier_mean"].mean()
    np.testing.assert_allclose(overview["brier"].iloc[0], brier, rtol=1e-12)
    assert overview["recall"].iloc[0] == 1.0  # the flat index is exact
    assert (overview["best"] == "PORT").all() and overview["copt"].gt(0).all()
    assert "## Per run: C^_opt, the best online router" in report.markdown()


def test_reliability_curve_by_hand():
    from routebench.metrics import reliability

    perf_hat = np.array([[0.05], [0.08], [0.55], [0.99], [1.0]])
    perf = np.array([[0.0], [1.0], [1.0], [1.0], [0.0]])
    curve = reliability(perf_hat, perf, ["a"])
    assert curve["bin"].tolist() == [0, 5, 9]
    np.testing.assert_allclose(curve["mean_estimate"], [0.065, 0.55, 0.995])
    np.testing.assert_allclose(curve["mean_outcome"], [0.5, 1.0, 0.5])
    assert curve["count"].tolist() == [2, 1, 2]


def test_runs_store_their_calibration_and_plot_it(world, tmp_path: Path):
    from routebench.plot import plot_runs
    from routebench.results import load_run

    root, _, _ = world
    config = SimConfig(dataset="small", test_size=500, seeds=(0,), index="flat",
                       routers=("port", "approx-opt"))
    run = load_run(run_simulation(config, data_dir=root, results_root=tmp_path / "r",
                                  progress=False))
    assert run.calibration is not None
    assert set(run.calibration["llm"]) == set(run.llms)
    assert (run.calibration.groupby("llm")["count"].sum() == 500).all()
    summary = plot_runs([run], tmp_path / "f", formats=("png",))
    assert any(name.startswith("calibration_") for name, _, _ in summary.written)
    index = (tmp_path / "f" / "figures.md").read_text()
    assert "Reliability of the performance estimates" in index
