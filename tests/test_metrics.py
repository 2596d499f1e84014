"""Metrics of a replay, reference ratios, the metric registry and the summary over seeds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from routebench.engine import replay
from routebench.metrics import (
    METRICS,
    MetricsError,
    competitive_ratio,
    outcome_metrics,
    ppc,
    relative_performance,
    summarise,
)


def _small():
    perf = np.array([[1.0, 0.0], [0.5, 1.0], [1.0, 1.0], [0.0, 1.0]])
    cost = np.array([[0.2, 0.1], [0.3, 0.4], [0.5, 0.05], [0.1, 0.1]])
    choices = np.array([0, 1, 0, -1])
    budgets = np.array([0.6, 1.0])
    return perf, cost, choices, budgets


def test_outcome_metrics_by_hand():
    perf, cost, choices, budgets = _small()
    out = replay(choices, perf, cost, budgets)
    # query 0 -> LLM 0 (0.2 <= 0.6, served), query 1 -> LLM 1 (served), query 2 -> LLM 0
    # (0.2 + 0.5 > 0.6, lost), query 3 dropped
    whole, per_llm = outcome_metrics(out, perf, cost)
    assert whole == {
        "performance": 2.0,
        "cost": pytest.approx(0.6),
        "ppc": pytest.approx(2.0 / 0.6),
        "throughput": 2.0,
    }
    np.testing.assert_allclose(per_llm["spend"], [0.2, 0.4])
    np.testing.assert_array_equal(per_llm["served"], [1.0, 1.0])
    assert per_llm["spend"].sum() == pytest.approx(whole["cost"])
    assert per_llm["served"].sum() == whole["throughput"]


def test_nothing_served_gives_nan_ppc():
    perf, cost, _, budgets = _small()
    out = replay(np.full(4, -1), perf, cost, budgets)
    whole, _ = outcome_metrics(out, perf, cost)
    assert whole["performance"] == whole["cost"] == whole["throughput"] == 0.0
    assert math.isnan(whole["ppc"])


def test_ppc_edge_cases():
    assert ppc(3.0, 1.5) == 2.0
    assert math.isnan(ppc(0.0, 0.0))
    assert ppc(1.0, 0.0) == math.inf


def test_outcome_metrics_refuses_mismatched_truth():
    perf, cost, choices, budgets = _small()
    out = replay(choices, perf, cost, budgets)
    with pytest.raises(MetricsError, match="shape"):
        outcome_metrics(out, perf[:3], cost[:3])


def test_reference_ratios():
    assert relative_performance(84.7, 100.0) == pytest.approx(0.847)
    assert math.isnan(relative_performance(1.0, 0.0))
    assert competitive_ratio(2.0, 4.0) == 0.5
    assert math.isnan(competitive_ratio(0.0, 0.0))
    ratios = competitive_ratio(np.array([1.0, 2.0, 3.0]), np.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(np.isnan(ratios), [False, True, False])
    assert ratios[0] == 0.5 and ratios[2] == 1.0


def test_registry_covers_the_results_schema():
    schema = {
        "performance", "cost", "ppc", "throughput", "relative_performance", "cr_lp", "cr_milp",
        "decision_seconds", "spend", "served", "budget", "gamma", "dual_objective", "gap",
        "bound", "seconds",
    }
    assert schema <= set(METRICS)
    assert METRICS["performance"].higher_is_better is True
    assert METRICS["cost"].higher_is_better is False and METRICS["cost"].unit == "USD"
    assert all(m.name == k and m.description for k, m in METRICS.items())


def _long(values: dict[str, list[float]], metric: str = "performance") -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"router": r, "seed": s, "metric": metric, "llm": "", "value": v}
            for r, vs in values.items()
            for s, v in enumerate(vs)
        ]
    )


def test_summarise_t_interval():
    frame = _long({"port": [1.0, 2.0, 3.0], "random": [5.0]})
    out = summarise(frame).set_index("router")
    assert list(summarise(frame).columns) == [
        "router", "metric", "mean", "ci_low", "ci_high", "n_seeds"
    ]
    half = scipy.stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert out.loc["port", "mean"] == 2.0
    assert out.loc["port", "ci_low"] == pytest.approx(2.0 - half)
    assert out.loc["port", "ci_high"] == pytest.approx(2.0 + half)
    assert out.loc["port", "n_seeds"] == 3
    # one seed: the interval collapses onto the mean
    assert out.loc["random", ["mean", "ci_low", "ci_high"]].tolist() == [5.0, 5.0, 5.0]


def test_summarise_skips_nan_and_keeps_order():
    frame = pd.concat(
        [_long({"random": [1.0, np.nan, 3.0]}, "ppc"), _long({"port": [4.0, 4.0]}, "ppc")]
    )
    out = summarise(frame)
    assert out["router"].tolist() == ["random", "port"]
    assert out["n_seeds"].tolist() == [2, 2]
    assert out.loc[1, ["ci_low", "ci_high"]].tolist() == [4.0, 4.0]  # no spread
    all_nan = summarise(_long({"x": [np.nan, np.nan]}, "ppc"))
    assert all_nan["n_seeds"].tolist() == [0] and math.isnan(all_nan.loc[0, "mean"])


def test_summarise_per_llm_rows():
    frame = pd.DataFrame(
        {
            "router": ["port"] * 4,
            "seed": [0, 1, 0, 1],
            "metric": ["spend"] * 4,
            "llm": ["a", "a", "b", "b"],
            "value": [1.0, 3.0, 2.0, 2.0],
        }
    )
    out = summarise(frame)
    assert out["llm"].tolist() == ["a", "b"]
    assert out["mean"].tolist() == [2.0, 2.0]


def test_summarise_refuses_malformed_frames():
    with pytest.raises(MetricsError, match="value"):
        summarise(pd.DataFrame({"router": ["a"], "metric": ["b"]}))
    with pytest.raises(MetricsError, match="confidence"):
        summarise(_long({"a": [1.0]}), confidence=1.5)
