"""The offline cost-quality frontier: each point is the exact LP optimum at its own total spend,
the curve is increasing and concave, and no router of a run plots above it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from routebench.frontier import spend_frontier


def _lp_at(perf: np.ndarray, cost: np.ndarray, total: float) -> float:
    n, m = perf.shape
    rows = np.repeat(np.arange(n), m)
    a_ub = np.zeros((n + 1, n * m))
    a_ub[rows, np.arange(n * m)] = 1.0
    a_ub[n] = cost.ravel()
    res = scipy.optimize.linprog(-perf.ravel(), A_ub=a_ub, b_ub=np.r_[np.ones(n), total],
                                 bounds=(0, 1), method="highs")
    return -res.fun


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_points_are_lp_optima_and_the_curve_is_concave(seed: int) -> None:
    g = np.random.default_rng(seed)
    n, m = 40, 4
    perf = (g.random((n, m)) < g.random(m)).astype(float) * g.uniform(0.5, 1, (n, m))
    cost = 10.0 ** g.uniform(-4, -2, (n, m))
    cost[g.random((n, m)) < 0.05] = 0.0  # some free pairs
    spend, value = spend_frontier(perf, cost)
    assert np.all(np.diff(spend) > 0) and np.all(np.diff(value) > 0)
    for c, v in zip(spend, value, strict=True):
        assert v == pytest.approx(_lp_at(perf, cost, c), rel=1e-9, abs=1e-12)
    slopes = np.diff(value) / np.diff(spend)
    assert np.all(np.diff(slopes) <= 1e-9 * slopes[:-1])  # concave
    assert value[-1] == pytest.approx(perf.max(axis=1).sum())
    # between points, the chord lies under F (never above an achievable optimum)
    mid = (spend[:-1] + spend[1:]) / 2
    chord = (value[:-1] + value[1:]) / 2
    assert all(c <= _lp_at(perf, cost, s) + 1e-9 for s, c in zip(mid, chord, strict=True))


def test_no_useful_pair() -> None:
    spend, value = spend_frontier(np.zeros((3, 2)), np.ones((3, 2)))
    assert value.max() == 0.0


def test_no_router_of_a_run_plots_above_the_frontier(tmp_path) -> None:
    from routebench.config import SimConfig
    from routebench.results import load_run
    from routebench.simulate import run_simulation
    from routebench.sources import download

    download("synthetic", data_dir=tmp_path, out="t", n=900, models=4, seed=2)
    run = load_run(run_simulation(
        SimConfig(dataset="t", test_size=300, seeds=(0, 1), index="flat", budget=0.5),
        data_dir=tmp_path, results_root=tmp_path / "r", progress=False))
    f = run.frontier
    assert f is not None and list(f.columns) == ["cost", "performance"]
    whole = run.whole()
    for router in run.routers:
        rows = whole[whole["router"] == router].pivot(index="seed", columns="metric",
                                                      values="value")
        bound = np.interp(rows["cost"], f["cost"], f["performance"], right=np.inf)
        # the interpolated chord is under F, so allow the chord's slack at most one query
        assert (rows["performance"] <= bound + 1.0).all(), router
