"""Online routers: validity under every budget, seeding, PORT's fit, and who beats whom."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from routebench import catalogue
from routebench.budgets import split_budget, total_budget
from routebench.engine import replay
from routebench.metrics import outcome_metrics
from routebench.oracle import solve_milp
from routebench.routers import (
    ROUTERS,
    OnlineRouter,
    RouterError,
    StreamInput,
    fit_gamma,
    greedy_cost_choices,
    greedy_cost_reference,
    learning_size,
    make_router,
    port_decide,
    port_decisions,
    port_objective,
)

NAMES = catalogue.ONLINE
MEAN_COST = np.geomspace(5e-5, 5e-3, 6)  # USD per query, 2 orders of magnitude


def _world(n: int, seed: int = 0, noise: float = 0.15, multiplier: float = 1.0):
    """A synthetic stream: per-query skill, per-LLM quality and price, and noisy estimates."""
    g = np.random.default_rng(seed)
    m = MEAN_COST.size
    quality = np.linspace(0.3, 0.85, m)
    difficulty = g.uniform(-0.3, 0.3, size=(n, 1))
    p_true = np.clip(quality + difficulty + g.normal(0, 0.1, size=(n, m)), 0, 1)
    perf = (g.random((n, m)) < p_true).astype(np.float64)
    cost = MEAN_COST * g.uniform(0.5, 1.5, size=(n, m))
    perf_hat = np.clip(p_true + g.normal(0, noise, size=(n, m)), 0, 1)
    cost_hat = cost * g.lognormal(0, noise, size=(n, m))
    total = total_budget(cost, multiplier)
    budgets = split_budget(total, quality, MEAN_COST, "weighted")
    models = tuple(f"llm{i}" for i in range(m))
    # a historical log from the same population (drawn last: the stream's draws are unchanged)
    h = max(n // 2, 1)
    h_true = np.clip(quality + g.uniform(-0.3, 0.3, size=(h, 1)) + g.normal(0, 0.1, size=(h, m)),
                     0, 1)
    h_perf = (g.random((h, m)) < h_true).astype(np.float64)
    h_cost = MEAN_COST * g.uniform(0.5, 1.5, size=(h, m))
    stream = StreamInput(perf_hat, cost_hat, budgets, models, perf_hat * 0.9, cost_hat * 1.1,
                         history_perf=h_perf, history_cost=h_cost)
    return perf, cost, stream


def _run(name: str, stream: StreamInput, seed: int = 0, **params):
    router = make_router(name, **params)
    return router.route(stream, np.random.default_rng(seed)), router


def _serve(name: str, world, seed: int = 0, **params):
    """Any router, open-loop or with feedback, run by the engine: (outcome, router)."""
    perf, cost, stream = world
    router = make_router(name, **params)
    return router.run(stream, perf, cost, np.random.default_rng(seed)), router


@pytest.fixture(scope="module")
def world():
    return _world(3_000, seed=1)


def test_registry_has_exactly_the_catalogued_routers():
    """The behaviour (router classes) and the display (catalogue) list the same routers: the
    paper's, then ours (with feedback)."""
    assert tuple(ROUTERS) == NAMES == catalogue.PAPER_ONLINE + catalogue.OURS
    assert catalogue.PAPER_ONLINE == (
        "random", "greedy-perf", "greedy-cost", "knn-perf", "knn-cost", "batch-split", "port")
    assert catalogue.OURS == ("port-resolve", "dual-descent")
    assert all(issubclass(ROUTERS[r], OnlineRouter) for r in catalogue.OURS)
    assert not any(issubclass(ROUTERS[r], OnlineRouter) for r in catalogue.PAPER_ONLINE)


@pytest.mark.parametrize("name", NAMES)
def test_routes_are_valid_and_never_overspend(world, name):
    perf, cost, stream = world
    out, _ = _serve(name, world)
    choices = out.choices
    assert choices.dtype == np.int64 and choices.shape == (stream.n,)
    assert choices.min() >= -1 and choices.max() < stream.m
    again = replay(choices, perf, cost, stream.budgets)  # the closed loop serves as replay does
    np.testing.assert_array_equal(out.served, again.served)
    np.testing.assert_array_equal(out.spend, again.spend)
    assert (out.spend <= stream.budgets).all()
    assert out.throughput <= stream.n
    assert not out.served[choices == -1].any()


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_decisions(world, name):
    (a, ra), (b, rb) = _serve(name, world, seed=42), _serve(name, world, seed=42)
    np.testing.assert_array_equal(a.choices, b.choices)
    if "gamma" in ra.info:
        np.testing.assert_array_equal(ra.info["gamma"], rb.info["gamma"])


@pytest.mark.parametrize("name", ["port", "random"])
def test_different_seed_changes_random_routers(world, name):
    _, _, stream = world
    assert not np.array_equal(_run(name, stream, seed=1)[0], _run(name, stream, seed=2)[0])


def test_random_throughput_matches_closed_form():
    n = 200_000
    perf, cost, stream = _world(n, seed=3)
    choices, _ = _run("random", stream, seed=9)
    out = replay(choices, perf, cost, stream.budgets)
    m = stream.m
    expected = np.minimum(n / m, stream.budgets / cost.mean(axis=0)).sum()
    assert abs(out.throughput - expected) <= 0.05 * expected
    # and it sends uniformly: every LLM gets about N / M queries
    counts = np.bincount(choices, minlength=m)
    assert np.all(np.abs(counts - n / m) < 5 * math.sqrt(n / m))


def test_greedy_perf_is_argmax_with_lowest_index_ties():
    perf_hat = np.array([[0.2, 0.5, 0.5], [0.9, 0.1, 0.9], [0.0, 0.0, 0.0]])
    stream = StreamInput(perf_hat, np.ones((3, 3)), np.ones(3), ("a", "b", "c"))
    assert _run("greedy-perf", stream)[0].tolist() == [1, 0, 0]


def test_knn_routers_read_exact_estimates(world):
    _, _, stream = world
    exact_stream = StreamInput(
        stream.perf_hat_exact, stream.cost_hat_exact, stream.budgets, stream.models
    )
    np.testing.assert_array_equal(
        _run("knn-perf", stream)[0], _run("greedy-perf", exact_stream)[0]
    )
    np.testing.assert_array_equal(
        _run("knn-cost", stream)[0], _run("greedy-cost", exact_stream)[0]
    )
    bare = StreamInput(stream.perf_hat, stream.cost_hat, stream.budgets, stream.models)
    with pytest.raises(RouterError, match="exact k-NN"):
        _run("knn-perf", bare)


_SMALL = st.sampled_from([0.0, 1.0, 2.0, 0.5, 1e-4, 3e-4])


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda m: st.tuples(
            hnp.arrays(np.float64, st.tuples(st.integers(0, 30), st.just(m)), elements=_SMALL),
            hnp.arrays(np.float64, (m,), elements=_SMALL),
        )
    )
)
def test_greedy_cost_fast_equals_reference(problem):
    cost_hat, budgets = problem
    np.testing.assert_array_equal(
        greedy_cost_choices(cost_hat, budgets), greedy_cost_reference(cost_hat, budgets)
    )


def test_greedy_cost_follows_largest_remaining_estimated_budget():
    cost_hat = np.array([[3.0, 1.0], [3.0, 1.0], [3.0, 1.0], [3.0, 1.0]])
    # remaining (5, 4) -> 0; (2, 4) -> 1; (2, 3) -> 1; (2, 2) tie -> 0
    choices = greedy_cost_choices(cost_hat, np.array([5.0, 4.0]))
    assert choices.tolist() == [0, 1, 1, 0]


# ------------------------------------------------------------------------------------ PORT
def test_port_learning_phase_and_exploitation(world):
    _, _, stream = world
    choices, router = _run("port", stream, eps=0.1)
    n_learn = learning_size(stream.n, 0.1)
    assert n_learn == router.info["n_learn"] == 300
    learn = choices[:n_learn]
    # uniform over {drop, 0..M-1}: every option shows up among 300 draws
    assert set(learn.tolist()) == set(range(-1, stream.m))
    gamma = router.info["gamma"]
    assert gamma.shape == (stream.m,) and ((gamma >= 0) & (gamma <= 1)).all()
    later = port_decisions(stream.perf_hat[n_learn:], stream.cost_hat[n_learn:], gamma, 1e-4)
    np.testing.assert_array_equal(choices[n_learn:], later)
    assert (choices[n_learn:] >= 0).all()  # PORT never drops after learning


def test_learning_size_is_ceil():
    assert learning_size(10_000, 0.025) == 250
    assert learning_size(10, 0.025) == 1
    assert learning_size(1001, 0.1) == 101


def test_single_query_decision_matches_vectorised(world):
    _, _, stream = world
    gamma = np.linspace(0.01, 0.5, stream.m)
    batch = port_decisions(stream.perf_hat, stream.cost_hat, gamma, 1e-4)
    rows = zip(stream.perf_hat, stream.cost_hat, strict=True)
    single = [port_decide(p, c, gamma, 1e-4) for p, c in rows]
    np.testing.assert_array_equal(batch, single)


def test_exact_lp_gamma_is_at_least_as_good_as_lbfgsb(world):
    perf, cost, stream = world
    n_learn = 200
    p, g = stream.perf_hat[:n_learn], stream.cost_hat[:n_learn]
    fits = {s: fit_gamma(p, g, stream.budgets, 0.025, 1e-4, s) for s in ("lbfgsb", "lp")}
    lp, lb = fits["lp"], fits["lbfgsb"]
    assert lp.success
    assert lp.objective <= lb.objective + 1e-6 * abs(lb.objective)
    assert lp.objective == pytest.approx(
        port_objective(lp.gamma, p, g, stream.budgets, 0.025, 1e-4)
    )
    # the LP optimum is a minimum: small moves inside the box never lower F
    for _ in range(20):
        step = np.random.default_rng(_).normal(0, 1e-3, stream.m)
        nearby = np.clip(lp.gamma + step, 0, 1)
        assert port_objective(nearby, p, g, stream.budgets, 0.025, 1e-4) >= lp.objective * (
            1 - 1e-6
        ) - 1e-15
    # both solvers give valid routes
    for solver in ("lbfgsb", "lp"):
        choices, router = _run("port", stream, gamma_solver=solver)
        assert router.info["solver"] == solver
        out = replay(choices, perf, cost, stream.budgets)
        assert (out.spend <= stream.budgets).all()


def test_port_beats_random_and_greedy_on_informative_estimates():
    perf, cost, stream = _world(20_000, seed=4, noise=0.1)
    score = {}
    for name in ("port", "random", "greedy-perf", "greedy-cost"):
        choices, _ = _run(name, stream, seed=5)
        score[name] = outcome_metrics(replay(choices, perf, cost, stream.budgets), perf, cost)[0]
    for rival in ("random", "greedy-perf", "greedy-cost"):
        assert score["port"]["performance"] > 1.1 * score[rival]["performance"], score
        assert score["port"]["throughput"] > score[rival]["throughput"], score


# ------------------------------------------------------------------------------ BatchSplit
def test_batch_split_respects_estimated_budgets(world):
    _, _, stream = world
    choices, router = _run("batch-split", stream, batch_size=500)
    assert router.info == {"batches": 6, "limit_batches": 0}
    sent = choices >= 0
    est_spend = np.bincount(
        choices[sent], weights=stream.cost_hat[sent, choices[sent]], minlength=stream.m
    )
    assert (est_spend <= stream.budgets * (1 + 1e-9)).all()


def test_batch_split_with_one_batch_and_true_features_is_the_milp_optimum():
    perf, cost, _ = _world(300, seed=6)
    budgets = np.full(cost.shape[1], total_budget(cost, 0.5) / cost.shape[1])
    stream = StreamInput(perf, cost, budgets, tuple("abcdef"))
    choices, _ = _run("batch-split", stream, batch_size=300, mip_rel_gap=0.0)
    out = replay(choices, perf, cost, budgets)
    opt = solve_milp(perf, cost, budgets, mip_rel_gap=0.0)
    assert out.throughput == (choices >= 0).sum()  # exact costs: everything it sends fits
    assert outcome_metrics(out, perf, cost)[0]["performance"] == pytest.approx(opt.objective)


def test_batch_split_reports_batches_its_node_limit_stopped():
    # continuous estimates and tight budgets: the first batch needs branching beyond the root
    g = np.random.default_rng(0)
    perf = g.uniform(0.05, 1.0, size=(80, 3))
    cost = g.uniform(0.5, 1.5, size=(80, 3)) * np.linspace(1, 3, 3)
    budgets = cost.sum(axis=0) / 12
    perf, cost = np.vstack([perf, perf[:20]]), np.vstack([cost, cost[:20]])
    stream = StreamInput(perf, cost, budgets, ("a", "b", "c"))
    runs = [_run("batch-split", stream, batch_size=80, node_limit=3, mip_rel_gap=0.0)
            for _ in range(2)]
    (first, router), (again, _) = runs
    assert router.params()["node_limit"] == 3
    assert router.info["batches"] == 2 and router.info["limit_batches"] >= 1
    np.testing.assert_array_equal(first, again)  # a node limit, unlike a clock, repeats
    _, unlimited = _run("batch-split", stream, batch_size=80, node_limit=10**6, mip_rel_gap=0.0)
    assert unlimited.info["limit_batches"] == 0


# ------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("best", {}, "unknown router 'best'; built-in: random, greedy-perf"),
        ("port", {"eps": 0.0}, r"^port.eps: must lie in \(0, 1\)"),
        ("port", {"eps": 1.0}, r"^port.eps: must lie in \(0, 1\)"),
        ("port", {"eps": -0.5}, r"^port.eps: must lie in \(0, 1\)"),
        ("port", {"eps": "0.1"}, r"^port.eps: expected a number, got '0.1'"),
        ("port", {"alpha": 0.0}, "^port.alpha: must be"),
        ("port", {"gamma_solver": "adam"}, "unknown gamma solver 'adam'; valid: lbfgsb, lp"),
        ("batch-split", {"batch_size": 0}, "^batch-split.batch_size: must be an integer >= 1"),
        ("batch-split", {"node_limit": 0}, "node_limit: must be an integer >= 1"),
        ("batch-split", {"node_limit": 2.5}, "node_limit: expected an integer, got 2.5"),
        ("batch-split", {"time_limit": 10.0}, "^batch-split.time_limit: unknown parameter; "
         "known: batch_size, node_limit, mip_rel_gap, solver"),
        ("batch-split", {"solver": "cbc"}, "^batch-split.solver: expected 'highs', 'pulp'"),
        ("batch-split", {"solver": 1}, "^batch-split.solver: expected text, got 1"),
        ("batch-split", {"solver": "pulp:NOPE"},
         "^batch-split.solver: 'pulp:NOPE': 'NOPE' is not a PuLP solver; available here"),
        ("batch-split", {"solver": "pulp:HiGHS"},
         "^batch-split.solver: 'pulp:HiGHS': routebench knows no node-limit option"),
        ("random", {"eps": 0.1}, "^random.eps: unknown parameter; known: none"),
    ],
)
def test_bad_router_options_are_refused(name, params, match):
    with pytest.raises(RouterError, match=match):
        make_router(name, **params)


@pytest.mark.parametrize("name", ["port", "random"])
def test_random_routers_need_a_generator(world, name):
    with pytest.raises(RouterError, match="Generator"):
        make_router(name).route(world[2], None)


def test_stream_input_is_validated():
    with pytest.raises(RouterError, match=r"shape \(N, 2\)"):
        StreamInput(np.ones((3, 3)), np.ones((3, 3)), np.ones(2), ("a", "b"))
    with pytest.raises(RouterError, match="budgets"):
        StreamInput(np.ones((3, 2)), np.ones((3, 2)), np.array([1.0, -1.0]), ("a", "b"))
    with pytest.raises(RouterError, match="NaN"):
        StreamInput(np.full((3, 2), np.nan), np.ones((3, 2)), np.ones(2), ("a", "b"))
    with pytest.raises(RouterError, match="negative"):
        StreamInput(np.ones((3, 2)), -np.ones((3, 2)), np.ones(2), ("a", "b"))
    with pytest.raises(RouterError, match="rows"):
        StreamInput(np.ones((3, 2)), np.ones((4, 2)), np.ones(2), ("a", "b"))
