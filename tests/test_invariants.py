"""Hypothesis-generated small streams: every router and oracle, replayed under serve-or-drop,
stays within every budget and below the offline optima (PORT.md sections 1, 2 and 5)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routebench import catalogue
from routebench.budgets import split_budget, total_budget
from routebench.engine import replay
from routebench.oracle import lp_choices, solve_lp, solve_milp
from routebench.routers import StreamInput, make_router
from routebench.seeding import stream_rng


@st.composite
def streams(draw):
    """(perf, cost, perf_hat, cost_hat, budgets, seed) of a small stream with noisy estimates."""
    n = draw(st.integers(4, 40))
    m = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    perf = (rng.random((n, m)) < rng.random(m)).astype(float)
    if draw(st.booleans()):  # graded scores in [0, 1] rather than 0/1
        perf = rng.random((n, m))
    price = 10.0 ** rng.uniform(-5, -2, size=m)
    cost = price * rng.uniform(0.2, 3.0, size=(n, m))
    if draw(st.booleans()):  # some free pairs
        cost[rng.random((n, m)) < 0.1] = 0.0
    perf_hat = np.clip(perf + rng.normal(0, 0.3, size=(n, m)), 0, 1)
    cost_hat = cost * rng.uniform(0.5, 1.5, size=(n, m))
    multiplier = draw(st.sampled_from([0.1, 0.5, 1.0, 3.0]))
    split = draw(st.sampled_from(["weighted", "uniform", "perf", "cost", "random"]))
    means_cost = np.maximum(cost.mean(axis=0), 1e-9)
    budgets = split_budget(
        max(total_budget(cost, multiplier), 1e-9), perf.mean(axis=0) + 1e-3, means_cost, split,
        rng=np.random.default_rng(seed),
    )
    return perf, cost, perf_hat, cost_hat, budgets, seed


def _history(perf: np.ndarray, cost: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A historical log like the stream (rows resampled, costs jittered)."""
    rng = np.random.default_rng(seed + 1)
    rows = rng.integers(0, perf.shape[0], size=2 * perf.shape[0])
    return perf[rows], cost[rows] * rng.uniform(0.8, 1.2, size=(rows.size, perf.shape[1]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.sampled_from([1, 1, 3]))
def test_every_router_within_budget_and_below_the_offline_optima(case, every) -> None:
    """Every router, the closed-loop ones in blocks of 1 or 3 queries."""
    perf, cost, perf_hat, cost_hat, budgets, seed = case
    n, m = perf.shape
    h_perf, h_cost = _history(perf, cost, seed)
    stream = StreamInput(perf_hat=perf_hat, cost_hat=cost_hat, budgets=budgets,
                         models=tuple(f"m{i}" for i in range(m)),
                         perf_hat_exact=perf_hat, cost_hat_exact=cost_hat,
                         history_perf=h_perf, history_cost=h_cost)
    lp = solve_lp(perf, cost, budgets)
    milp = solve_milp(perf, cost, budgets, mip_rel_gap=0.0)
    assert lp.objective >= milp.bound - 1e-7 * max(1.0, lp.objective)
    assert milp.bound >= milp.objective - 1e-9
    routers = {name: make_router(name) for name in catalogue.ONLINE}
    choices = {
        name: r.run(stream, perf, cost, stream_rng(seed, r.stream) if r.stream else None,
                    every=every).choices
        for name, r in routers.items()
    }
    choices["approx-opt"] = lp_choices(solve_lp(perf_hat, cost_hat, budgets))
    choices["opt"] = lp_choices(lp)
    for name, c in choices.items():
        assert c.shape == (n,) and c.dtype == np.int64, name
        assert ((c >= -1) & (c < m)).all(), name
        outcome = replay(c, perf, cost, budgets)
        assert (outcome.spend <= budgets).all(), name  # hard budgets, exactly
        assert outcome.throughput <= n
        assert not outcome.served[c == -1].any()
        performance = perf[outcome.served, c[outcome.served]].sum()
        # No feasible 0/1 routing beats the integer optimum (hence the LP bound).
        assert performance <= milp.bound + 1e-9, name
