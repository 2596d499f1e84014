"""The offline oracles: exact LP bound (fast and reference), rounded choices, MILP optimum."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from routebench.engine import serve_or_drop
from routebench.oracle import (
    DEFAULT_MILP_LIMIT,
    LPResult,
    OracleInputError,
    dual_objective,
    lp_choices,
    milp_allowed,
    solve_lp,
    solve_lp_reference,
    solve_milp,
)

# Forces the trust-region path of solve_lp even on a handful of queries.
FAST_SMALL = {"direct_queries": 2, "min_free": 1, "free_fraction": 0.25}


def replay_value(choices: np.ndarray, perf: np.ndarray, cost: np.ndarray, budgets: np.ndarray):
    """Serve-or-drop in stream order (PORT.md section 1): performance of the served queries."""
    served = serve_or_drop(np.asarray(choices, dtype=np.int64), cost, budgets)
    return float(perf[served, choices[served]].sum())


def check_lp(res: LPResult, perf: np.ndarray, cost: np.ndarray, budgets: np.ndarray) -> None:
    """Feasibility, strong duality and complementary slackness of an LP result."""
    x = res.dense_x()
    assert x.shape == perf.shape
    assert (x >= 0).all() and (x <= 1 + 1e-9).all()
    assert (x.sum(axis=1) <= 1 + 1e-9).all()
    spend = (x * cost).sum(axis=0)
    assert np.allclose(spend, res.spend(cost))
    assert (spend <= budgets + 1e-7 * np.maximum(1.0, budgets)).all()
    assert res.objective == pytest.approx(float((x * perf).sum()), rel=1e-12, abs=1e-12)
    assert res.gap <= 1e-6
    assert res.dual_objective == pytest.approx(
        dual_objective(perf, cost, budgets, res.gamma), rel=1e-12, abs=1e-12
    )
    assert (res.gamma >= 0).all()
    # complementary slackness: a priced budget is spent in full
    priced = res.gamma * np.maximum(budgets, 1e-12) > 1e-7
    assert np.allclose(spend[priced], budgets[priced], rtol=1e-6, atol=1e-9)


@st.composite
def instances(draw, max_n: int = 9, max_m: int = 3):
    """Small problems with ties, zero costs, zero performance and zero budgets."""
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    levels = st.sampled_from([0.0, 0.0, 0.25, 0.5, 1.0, 1.0])
    perf = draw(arrays(np.float64, (n, m), elements=levels))
    prices = st.sampled_from([0.0, 0.1, 0.5, 1.0, 1.0, 2.0, 3.5])
    cost = draw(arrays(np.float64, (n, m), elements=prices))
    budgets = draw(arrays(np.float64, (m,), elements=st.sampled_from([0.0, 0.5, 1.0, 2.5, 4.0])))
    return perf, cost, budgets


def brute_force(perf: np.ndarray, cost: np.ndarray, budgets: np.ndarray) -> float:
    """The exact 0/1 optimum by enumerating every assignment (tiny problems only)."""
    n, m = perf.shape
    best = 0.0
    for combo in itertools.product(range(-1, m), repeat=n):
        ch = np.array(combo)
        s = ch >= 0
        spend = np.bincount(ch[s], weights=cost[np.flatnonzero(s), ch[s]], minlength=m)
        if (spend <= budgets).all():
            best = max(best, float(perf[np.flatnonzero(s), ch[s]].sum()))
    return best


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(instances())
def test_fast_lp_matches_reference_and_is_certified(inst):
    perf, cost, budgets = inst
    ref = solve_lp_reference(perf, cost, budgets)
    fast = solve_lp(perf, cost, budgets, **FAST_SMALL)
    assert fast.objective == pytest.approx(ref.objective, rel=1e-7, abs=1e-9)
    check_lp(ref, perf, cost, budgets)
    check_lp(fast, perf, cost, budgets)


@SETTINGS
@given(instances(max_n=5, max_m=2))
def test_lp_bound_above_milp_above_any_feasible_assignment(inst):
    perf, cost, budgets = inst
    lp = solve_lp(perf, cost, budgets, **FAST_SMALL)
    milp = solve_milp(perf, cost, budgets, mip_rel_gap=0.0)
    exact = brute_force(perf, cost, budgets)
    assert milp.status == "optimal"
    assert milp.objective == pytest.approx(exact, abs=1e-9)
    assert milp.bound >= milp.objective - 1e-9
    assert milp.gap <= 1e-9
    assert lp.dual_objective >= milp.objective - 1e-7
    # the MILP's choices are feasible as they stand: replaying them serves every one
    served = milp.choices >= 0
    spend = np.bincount(milp.choices[served], weights=cost[served, milp.choices[served]],
                        minlength=budgets.size)
    assert (spend <= budgets).all()
    assert replay_value(milp.choices, perf, cost, budgets) == pytest.approx(milp.objective)
    # the rounded LP oracle is a feasible policy once replayed, so it cannot beat the optimum
    assert replay_value(lp_choices(lp), perf, cost, budgets) <= milp.objective + 1e-9


def realistic(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RouterBench-like 0/1 perf and USD costs (PORT.md section 8 means), weighted budgets."""
    rng = np.random.default_rng(seed)
    skill = np.array([0.43, 0.60, 0.63, 0.64, 0.62, 0.78, 0.20, 0.33, 0.31, 0.55, 0.65])
    price = np.array([7.3e-5, 2.3e-4, 2.1e-3, 2.4e-3, 2.4e-4, 3.3e-3, 1.7e-4, 2.0e-4, 4.6e-5,
                      1.3e-4, 1.8e-4])
    hard = rng.normal(size=(n, 1))
    logit = np.log(skill / (1 - skill)) - 1.5 * hard + rng.normal(scale=0.8, size=(n, 11))
    perf = (rng.random((n, 11)) < 1 / (1 + np.exp(-logit))).astype(float)
    cost = price * rng.lognormal(0, 0.5, size=(n, 1)) * rng.lognormal(0, 0.2, size=(n, 11))
    w = np.sqrt(skill / price)
    return perf, cost, w / w.sum() * cost.sum(axis=0).min()


def test_trust_region_path_on_a_realistic_instance():
    perf, cost, budgets = realistic(6_000)
    fast = solve_lp(perf, cost, budgets)
    ref = solve_lp_reference(perf, cost, budgets)
    assert fast.method == "highs-trust-region" and ref.method == "highs-full"
    assert fast.free_queries < 6_000
    assert fast.objective == pytest.approx(ref.objective, rel=1e-9)
    assert np.allclose(fast.gamma, ref.gamma, rtol=1e-6)
    check_lp(fast, perf, cost, budgets)
    # at an optimal vertex only a few queries are split between LLMs or partly dropped
    x = fast.dense_x()
    fractional = ((x > 1e-9) & (x < 1 - 1e-9)).any(axis=1).sum()
    assert fractional <= 2 * perf.shape[1]
    choices = fast.assignment()
    assert ((choices >= 0) == (x.max(axis=1) > 0)).all()


def test_free_pairs_are_always_served_and_useless_pairs_never():
    perf = np.array([[1.0, 0.0], [0.0, 0.0], [0.5, 1.0], [1.0, 1.0]])
    cost = np.array([[0.0, 1.0], [1.0, 1.0], [5.0, 0.0], [2.0, 2.0]])
    budgets = np.array([0.0, 0.0])
    for res in (solve_lp(perf, cost, budgets, **FAST_SMALL),
                solve_lp_reference(perf, cost, budgets)):
        assert lp_choices(res).tolist() == [0, -1, 1, -1]
        assert res.objective == pytest.approx(2.0)
        check_lp(res, perf, cost, budgets)
    milp = solve_milp(perf, cost, budgets)
    assert milp.choices.tolist() == [0, -1, 1, -1] and milp.objective == 2.0


def test_single_llm_is_a_fractional_knapsack():
    perf = np.array([[1.0], [1.0], [0.5], [1.0]])
    cost = np.array([[1.0], [2.0], [0.5], [4.0]])
    budgets = np.array([2.0])  # ratios 1, 0.5, 1, 0.25: take q0, q2, then half of q1
    res = solve_lp(perf, cost, budgets, **FAST_SMALL)
    assert res.objective == pytest.approx(1.0 + 0.5 + 0.25)
    assert res.dense_x()[:, 0] == pytest.approx([1.0, 0.25, 1.0, 0.0])
    assert res.gamma == pytest.approx([0.5])
    assert lp_choices(res).tolist() == [0, 0, 0, -1]
    assert solve_milp(perf, cost, budgets).objective == pytest.approx(1.5)


def test_lp_choices_breaks_ties_to_the_lowest_index_dense_and_sparse():
    import scipy.sparse as sp

    x = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 0.0], [0.2, 0.3, 0.3], [0.0, 0.0, 1.0]])
    expected = [0, -1, 1, 2]
    assert lp_choices(x).tolist() == expected
    assert lp_choices(sp.csr_array(x)).tolist() == expected
    shuffled = sp.coo_array(x)
    order = np.arange(shuffled.nnz)[::-1]
    shuffled = sp.coo_array((shuffled.data[order], (shuffled.row[order], shuffled.col[order])),
                            shape=x.shape)
    assert lp_choices(shuffled).tolist() == expected
    assert lp_choices(x).dtype == np.int64


def test_milp_on_a_batch_with_remaining_budgets():
    perf, cost, budgets = realistic(256, seed=3)
    remaining = budgets * 256 / 10_000 * np.linspace(0.2, 2.0, 11)
    res = solve_milp(perf, cost, remaining)
    assert res.status == "optimal" and res.optimal and not res.limit_hit
    assert res.choices.dtype == np.int64 and res.choices.shape == (256,)
    assert res.gap <= 1e-4
    lp = solve_lp(perf, cost, remaining)
    assert res.objective <= lp.dual_objective + 1e-9
    assert res.bound <= lp.dual_objective + 1e-6
    assert replay_value(res.choices, perf, cost, remaining) == pytest.approx(res.objective)


def hard_knapsack() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """80 queries x 3 LLMs, continuous perf and tight budgets: HiGHS needs about 250
    branch-and-bound nodes beyond its root to prove the optimum (at mip_rel_gap 0)."""
    g = np.random.default_rng(0)
    perf = g.uniform(0.05, 1.0, size=(80, 3))
    cost = g.uniform(0.5, 1.5, size=(80, 3)) * np.linspace(1, 3, 3)
    return perf, cost, cost.sum(axis=0) / 12


def test_milp_node_limit_is_reported_with_a_valid_bound():
    perf, cost, budgets = hard_knapsack()
    res = solve_milp(perf, cost, budgets, node_limit=5, mip_rel_gap=0.0)
    assert res.status == "node_limit" and res.limit_hit and not res.optimal
    assert res.nodes == 5
    lp = solve_lp(perf, cost, budgets)
    assert res.objective <= res.bound + 1e-9
    assert res.bound <= lp.dual_objective * (1 + 1e-6)
    assert 0.0 < res.gap <= 1.0
    assert res.gap == pytest.approx((res.bound - res.objective) / res.bound)
    assert replay_value(res.choices, perf, cost, budgets) == pytest.approx(res.objective)
    full = solve_milp(perf, cost, budgets, mip_rel_gap=0.0)
    assert full.optimal and not full.limit_hit and full.nodes > 5
    assert res.objective <= full.objective + 1e-9 and full.objective <= res.bound + 1e-9


def test_milp_is_deterministic_with_and_without_a_binding_limit():
    perf, cost, budgets = hard_knapsack()
    for limit in (5, None):
        a = solve_milp(perf, cost, budgets, node_limit=limit, mip_rel_gap=0.0)
        b = solve_milp(perf, cost, budgets, node_limit=limit, mip_rel_gap=0.0)
        assert (a.status, a.nodes, a.objective, a.bound, a.gap) == (
            b.status, b.nodes, b.objective, b.bound, b.gap)
        np.testing.assert_array_equal(a.choices, b.choices)


@pytest.mark.parametrize("limit", [0, -3, 2.5, True, "100"])
def test_milp_refuses_a_bad_node_limit(limit):
    perf, cost, budgets = realistic(20)
    with pytest.raises(OracleInputError, match="node_limit: expected an integer >= 1"):
        solve_milp(perf, cost, budgets, node_limit=limit)


def test_empty_and_degenerate_inputs():
    perf = np.zeros((3, 2))
    cost = np.ones((3, 2))
    res = solve_lp(perf, cost, np.ones(2), **FAST_SMALL)
    assert res.objective == 0.0 and res.dual_objective == 0.0
    assert lp_choices(res).tolist() == [-1, -1, -1]
    milp = solve_milp(perf, cost, np.ones(2))
    assert milp.objective == 0.0 and milp.choices.tolist() == [-1, -1, -1]
    empty = solve_lp(np.zeros((0, 2)), np.zeros((0, 2)), np.ones(2))
    assert empty.objective == 0.0 and lp_choices(empty).shape == (0,)


@pytest.mark.parametrize(
    ("perf", "cost", "budgets", "message"),
    [
        (np.ones(3), np.ones(3), np.ones(1), "perf: expected a 2-D"),
        (np.ones((2, 2)), np.ones((2, 3)), np.ones(2), "cost: expected the shape"),
        (np.ones((2, 2)), np.ones((2, 2)), np.ones(3), "budgets: expected shape (2,)"),
        (np.full((2, 2), 1.5), np.ones((2, 2)), np.ones(2), "perf: expected values in [0, 1]"),
        (np.ones((2, 2)), -np.ones((2, 2)), np.ones(2), "cost: expected USD >= 0"),
        (np.ones((2, 2)), np.ones((2, 2)), np.array([1.0, -2.0]), "LLM 1"),
        (np.array([[np.nan, 1.0]]), np.ones((1, 2)), np.ones(2), "perf: expected finite"),
    ],
)
def test_bad_input_is_named(perf, cost, budgets, message):
    for solver in (solve_lp, solve_lp_reference, solve_milp):
        with pytest.raises(OracleInputError, match=message.replace("(", r"\(")
                           .replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
            solver(perf, cost, budgets)
    with pytest.raises(ValueError):
        solve_milp(np.ones((1, 1)), np.ones((1, 1)), np.ones(1), mip_rel_gap=-1.0)


def test_milp_allowed_and_default_limit():
    assert milp_allowed(1_500, 11)  # the RouterBench slice's Table-1 stream is solved by default
    assert not milp_allowed(10_000, 11)  # paper scale is opt-in
    assert milp_allowed(10_000, 11, limit=110_000)
    assert not milp_allowed(10_001, 11, limit=110_000)
    assert milp_allowed(10**7, 11, limit=None)
    assert DEFAULT_MILP_LIMIT == 50_000
    with pytest.raises(OracleInputError):
        milp_allowed(-1, 11)


def test_routerbench_slice(shared_slice):
    """On the real RouterBench slice: fast == reference LP, MILP <= LP, rounded <= MILP."""
    import pandas as pd

    frames = [pd.read_csv(p) for p in sorted(shared_slice.glob("*_test.csv"))]
    frame = pd.concat(frames, ignore_index=True)
    models = [c[: -len("|total_cost")] for c in frame.columns if c.endswith("|total_cost")]
    frame = frame.dropna(subset=models).drop_duplicates("sample_id")
    perf = frame[models].to_numpy(dtype=float)
    cost = frame[[f"{m}|total_cost" for m in models]].to_numpy(dtype=float)
    w = np.sqrt(perf.mean(axis=0) / cost.mean(axis=0))
    budgets = w / w.sum() * cost.sum(axis=0).min()
    fast = solve_lp(perf, cost, budgets, direct_queries=200, min_free=50)
    ref = solve_lp_reference(perf, cost, budgets)
    assert fast.method == "highs-trust-region"
    assert fast.objective == pytest.approx(ref.objective, rel=1e-7)
    check_lp(fast, perf, cost, budgets)
    head = slice(0, 300)
    milp = solve_milp(perf[head], cost[head], budgets / 3)
    lp_head = solve_lp(perf[head], cost[head], budgets / 3)
    assert milp.objective <= lp_head.dual_objective + 1e-9
    rounded = replay_value(lp_choices(lp_head), perf[head], cost[head], budgets / 3)
    assert rounded <= milp.bound + 1e-9
