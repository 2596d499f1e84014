"""Budget splits (PORT.md section 6): totals, formulas, seeding and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from routebench.budgets import (
    SPLITS,
    BudgetError,
    split_budget,
    split_weights,
    total_budget,
)
from routebench.seeding import rng as seeded_rng

# Per-LLM means of full RouterBench (PORT.md section 8): a realistic spread of 2 orders of
# magnitude in cost.
MEAN_PERF = np.array([0.432, 0.598, 0.631, 0.636, 0.617, 0.781, 0.203, 0.328, 0.308, 0.550, 0.648])
MEAN_COST = np.array(
    [7.3e-5, 2.3e-4, 2.1e-3, 2.4e-3, 2.4e-4, 3.3e-3, 1.7e-4, 2.0e-4, 4.6e-5, 1.3e-4, 1.8e-4]
)
TOTAL = 0.46


def test_total_budget_is_multiplier_times_cheapest_column_sum():
    cost = np.array([[1.0, 0.2, 3.0], [2.0, 0.3, 0.1], [1.0, 0.1, 0.1]])
    # column sums 4.0, 0.6, 3.2 -> cheapest 0.6 USD
    assert total_budget(cost, 1.0) == pytest.approx(0.6)
    assert total_budget(cost, 0.25) == pytest.approx(0.15)
    assert total_budget(cost, 2.0) == pytest.approx(1.2)


@pytest.mark.parametrize("multiplier", [0.0, -1.0, float("nan"), float("inf")])
def test_total_budget_refuses_non_positive_multiplier(multiplier):
    with pytest.raises(BudgetError, match="multiplier"):
        total_budget(np.ones((3, 2)), multiplier)


def test_total_budget_refuses_bad_costs():
    with pytest.raises(BudgetError, match="non-negative"):
        total_budget(np.array([[1.0, -1.0]]), 1.0)
    with pytest.raises(BudgetError, match="0 USD"):
        total_budget(np.zeros((4, 2)), 1.0)


@pytest.mark.parametrize("strategy", SPLITS)
def test_every_split_sums_to_the_total_and_is_positive(strategy):
    b = split_budget(TOTAL, MEAN_PERF, MEAN_COST, strategy, k=2, rng=np.random.default_rng(3))
    assert b.shape == MEAN_PERF.shape
    assert (b > 0).all()
    assert b.sum() == pytest.approx(TOTAL, rel=1e-12)


@pytest.mark.parametrize(
    ("strategy", "weights"),
    [
        ("weighted", np.sqrt(MEAN_PERF / MEAN_COST)),
        ("cost", np.sqrt(1.0 / MEAN_COST)),
        ("perf", MEAN_PERF),
        ("uniform", np.ones(MEAN_PERF.size)),
    ],
)
def test_formula_splits_are_proportional_to_their_weights(strategy, weights):
    b = split_budget(TOTAL, MEAN_PERF, MEAN_COST, strategy)
    np.testing.assert_allclose(b, weights / weights.sum() * TOTAL, rtol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_extreme_gives_the_k_worst_value_llms_80_percent(k):
    b = split_budget(TOTAL, MEAN_PERF, MEAN_COST, "extreme", k=k)
    value = np.sqrt(MEAN_PERF / MEAN_COST)
    worst = np.argsort(value)[:k]
    others = np.setdiff1d(np.arange(MEAN_PERF.size), worst)
    assert b[worst].sum() == pytest.approx(0.8 * TOTAL, rel=1e-12)
    np.testing.assert_allclose(b[worst], 0.8 * TOTAL / k, rtol=1e-12)
    np.testing.assert_allclose(b[others], 0.2 * TOTAL / others.size, rtol=1e-12)
    # the paper's raw weights: 50 each, 12.5 k / (M - k) for the rest
    w = split_weights(MEAN_PERF, MEAN_COST, "extreme", k=k)
    assert set(np.round(w, 12)) == {50.0, round(12.5 * k / (MEAN_PERF.size - k), 12)}


def test_random_split_is_seeded_and_bounded():
    a = split_budget(TOTAL, MEAN_PERF, MEAN_COST, "random", rng=seeded_rng(7, "budget_split"))
    b = split_budget(TOTAL, MEAN_PERF, MEAN_COST, "random", rng=seeded_rng(7, "budget_split"))
    c = split_budget(TOTAL, MEAN_PERF, MEAN_COST, "random", rng=seeded_rng(8, "budget_split"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    w = split_weights(MEAN_PERF, MEAN_COST, "random", rng=seeded_rng(7, "budget_split"))
    assert ((w >= 5.0) & (w <= 30.0)).all()
    assert a.max() / a.min() <= 30.0 / 5.0


def test_random_split_refuses_without_rng():
    with pytest.raises(BudgetError, match="Generator"):
        split_budget(TOTAL, MEAN_PERF, MEAN_COST, "random")


def test_unknown_split_lists_valid_ones():
    with pytest.raises(BudgetError, match="unknown budget split 'fair'.*weighted, cost"):
        split_budget(TOTAL, MEAN_PERF, MEAN_COST, "fair")


@pytest.mark.parametrize("total", [0.0, -0.1, float("nan")])
def test_split_refuses_non_positive_total(total):
    with pytest.raises(BudgetError, match="positive USD"):
        split_budget(total, MEAN_PERF, MEAN_COST, "uniform")


@pytest.mark.parametrize("k", [0, 6, -1])
def test_extreme_refuses_k_out_of_range(k):
    with pytest.raises(BudgetError, match="k must be in 1..5"):
        split_budget(TOTAL, MEAN_PERF, MEAN_COST, "extreme", k=k)


def test_extreme_refuses_k_not_below_m():
    with pytest.raises(BudgetError, match="smaller than the number of LLMs"):
        split_budget(TOTAL, MEAN_PERF[:3], MEAN_COST[:3], "extreme", k=3)


def test_bad_means_are_refused():
    with pytest.raises(BudgetError, match="mean cost"):
        split_budget(TOTAL, MEAN_PERF[:2], np.array([1e-4, 0.0]), "weighted")
    with pytest.raises(BudgetError, match="same length"):
        split_budget(TOTAL, MEAN_PERF[:2], MEAN_COST[:3], "weighted")
    with pytest.raises(BudgetError, match="all-zero"):
        split_budget(TOTAL, np.zeros(3), MEAN_COST[:3], "perf")
