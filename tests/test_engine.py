"""The serve-or-drop replay: the compiled path against the plain reference, and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from routebench.engine import (
    ReplayError,
    cumulative_spend,
    replay,
    serve_or_drop,
    serve_or_drop_reference,
    served_costs,
)

# Costs and budgets mixing zeros, tiny amounts and amounts at the scale of real USD per query,
# so that exact ties (spend + cost == budget) and float rounding both occur.
_AMOUNTS = st.sampled_from([0.0, 1e-300, 5e-324, 1e-5, 1e-4, 3e-4, 0.1, 0.2, 0.3, 1.0, 7.0])
_FLOATS = st.one_of(_AMOUNTS, st.floats(0.0, 2.0, allow_nan=False, allow_subnormal=True))


@st.composite
def _problems(draw):
    n = draw(st.integers(0, 40))
    m = draw(st.integers(1, 4))
    cost = draw(hnp.arrays(np.float64, (n, m), elements=_FLOATS))
    budgets = draw(hnp.arrays(np.float64, (m,), elements=_FLOATS))
    choices = draw(hnp.arrays(np.int64, (n,), elements=st.integers(-1, m - 1)))
    return choices, cost, budgets


def _reference_spend(choices, cost, served, m):
    spend = [0.0] * m
    for j in np.flatnonzero(served):
        spend[choices[j]] += float(cost[j, choices[j]])
    return np.array(spend)


@settings(max_examples=300, deadline=None)
@given(_problems())
def test_fast_path_equals_reference_bit_for_bit(problem):
    choices, cost, budgets = problem
    ref = serve_or_drop_reference(choices, cost, budgets)
    fast = serve_or_drop(choices, cost, budgets)
    np.testing.assert_array_equal(fast, ref)
    out = replay(choices, np.zeros_like(cost), cost, budgets)
    np.testing.assert_array_equal(out.served, ref)
    # spend identical to the last bit, not merely close
    assert out.spend.tobytes() == _reference_spend(choices, cost, ref, cost.shape[1]).tobytes()


@settings(max_examples=200, deadline=None)
@given(_problems())
def test_replay_invariants(problem):
    choices, cost, budgets = problem
    out = replay(choices, np.zeros_like(cost), cost, budgets)
    assert (out.spend <= budgets).all()
    assert not out.served[choices == -1].any()  # served implies sent
    assert out.throughput == int(out.served.sum()) <= choices.size
    np.testing.assert_array_equal(
        out.served_count, np.bincount(choices[out.served], minlength=cost.shape[1])
    )
    # A sent query is lost only if it would have overflowed its LLM at that moment.
    spend = np.zeros(cost.shape[1])
    for j, i in enumerate(choices):
        if i < 0:
            continue
        fits = spend[i] + cost[j, i] <= budgets[i]
        assert out.served[j] == fits
        if fits:
            spend[i] += cost[j, i]


def test_later_cheaper_query_still_fits():
    cost = np.array([[0.6], [0.5], [0.3], [0.1], [0.05]])
    out = replay(np.zeros(5, dtype=np.int64), np.ones_like(cost), cost, np.array([1.0]))
    np.testing.assert_array_equal(out.served, [True, False, True, True, False])
    assert out.spend[0] == 0.6 + 0.3 + 0.1
    assert out.served_count.tolist() == [3]


def test_zero_budget_serves_only_free_queries():
    cost = np.array([[0.0, 1.0], [0.2, 0.0], [0.0, 0.0]])
    served = serve_or_drop(np.array([0, 0, 1]), cost, np.zeros(2))
    np.testing.assert_array_equal(served, [True, False, True])


def test_large_stream_agrees_with_reference():
    g = np.random.default_rng(11)
    n, m = 30_000, 5
    cost = g.exponential(np.geomspace(1e-5, 1e-3, m), size=(n, m))
    budgets = cost.mean(axis=0) * n / m * np.linspace(0.2, 1.2, m)
    choices = g.integers(-1, m, size=n)
    np.testing.assert_array_equal(
        serve_or_drop(choices, cost, budgets), serve_or_drop_reference(choices, cost, budgets)
    )


def test_cumulative_spend_ends_at_total_and_is_monotone():
    g = np.random.default_rng(5)
    n, m = 5_000, 3
    cost = g.uniform(0, 1e-3, size=(n, m))
    budgets = np.array([0.3, 0.5, 10.0])
    choices = g.integers(-1, m, size=n)
    out = replay(choices, np.zeros_like(cost), cost, budgets)
    positions, spend = cumulative_spend(out, cost, n_points=50)
    assert positions[0] == 0 and positions[-1] == n
    assert np.all(np.diff(positions) > 0) and positions.size == 50
    assert (spend[0] == 0).all()
    assert spend[-1].tobytes() == out.spend.tobytes()
    assert (np.diff(spend, axis=0) >= 0).all()
    assert (spend <= budgets).all()
    # a checkpoint equals the charged costs of the prefix
    p = positions[20]
    charged = served_costs(out, cost)[:p]
    for i in range(m):
        assert spend[20, i] == pytest.approx(charged[choices[:p] == i].sum(), rel=1e-12)


def test_short_stream_positions_are_unique():
    cost = np.ones((3, 2))
    out = replay(np.array([0, 1, -1]), cost, cost, np.array([5.0, 5.0]))
    positions, spend = cumulative_spend(out, cost)
    assert positions.tolist() == [0, 1, 2, 3]
    assert spend[-1].tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("choices", "cost", "budgets", "match"),
    [
        (np.array([0, 2]), np.ones((2, 2)), np.ones(2), r"-1\.\.1"),
        (np.array([0, -2]), np.ones((2, 2)), np.ones(2), r"found -2"),
        (np.array([0]), np.ones((2, 2)), np.ones(2), "shape"),
        (np.array([0, 1]), np.ones((2, 2)), np.ones(3), "budgets"),
        (np.array([0, 1]), np.ones((2, 2)), np.array([1.0, -1.0]), "budgets"),
        (np.array([0.0, 1.0]), np.ones((2, 2)), np.ones(2), "integers"),
        (np.array([0, 1]), np.array([[1.0, 1.0], [1.0, np.nan]]), np.ones(2), r"cost\[1, 1\]"),
        (np.array([1, 0]), np.array([[1.0, -3.0], [1.0, 1.0]]), np.ones(2), r"cost\[0, 1\]"),
    ],
)
def test_bad_input_is_refused(choices, cost, budgets, match):
    with pytest.raises(ReplayError, match=match):
        serve_or_drop(choices, cost, budgets)


def test_unused_bad_cost_is_not_an_error():
    # a NaN in a cell no query is sent to does not affect the replay
    cost = np.array([[1.0, np.nan], [1.0, 1.0]])
    np.testing.assert_array_equal(serve_or_drop(np.array([0, -1]), cost, np.ones(2)), [True, False])
