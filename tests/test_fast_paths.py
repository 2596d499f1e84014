"""Fast paths agree with straightforward ones: every router's vectorised / compiled decisions
against a plain per-query loop written here, bit for bit; serve-or-drop; the LP's
trust-region path against HiGHS on the whole LP; neighbour estimates chunked vs unchunked vs a
per-query loop; and the online (one query at a time) PORT path against the batch pipeline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize

from routebench.budgets import split_budget, total_budget
from routebench.engine import replay, serve_or_drop, serve_or_drop_reference
from routebench.estimate import EstimateSpec, estimate, stream_estimates
from routebench.index import ExactSearcher
from routebench.metrics import outcome_metrics
from routebench.oracle import lp_choices, solve_lp, solve_lp_reference, solve_milp
from routebench.routers import (
    DEFAULT_BATCH_NODE_LIMIT,
    StreamInput,
    fit_gamma,
    greedy_cost_choices,
    learning_size,
    make_router,
    port_decisions,
    port_objective,
    sample_dual,
)
from routebench.seeding import rngs
from routebench.serving import OnlinePort
from routebench.simulate import simulate_router
from routebench.split import make_split

M = 6
MEAN_COST = np.geomspace(5e-5, 5e-3, M)  # USD per query


def _world(n: int, seed: int = 0, multiplier: float = 1.0):
    """True (perf, cost) and a StreamInput of noisy ANN and exact estimates (USD costs)."""
    g = np.random.default_rng(seed)
    quality = np.linspace(0.3, 0.85, M)
    p_true = np.clip(quality + g.uniform(-0.3, 0.3, (n, 1)) + g.normal(0, 0.1, (n, M)), 0, 1)
    perf = (g.random((n, M)) < p_true).astype(np.float64)
    cost = MEAN_COST * g.uniform(0.5, 1.5, (n, M))
    perf_hat = np.clip(p_true + g.normal(0, 0.15, (n, M)), 0, 1)
    cost_hat = cost * g.lognormal(0, 0.15, (n, M))
    # Round some estimates so exact ties between LLMs occur (tie rule: lowest index).
    perf_hat[: n // 4] = np.round(perf_hat[: n // 4], 1)
    budgets = split_budget(total_budget(cost, multiplier), quality, MEAN_COST, "weighted")
    stream = StreamInput(perf_hat, cost_hat, budgets, tuple(f"llm{i}" for i in range(M)),
                         np.round(perf_hat * 0.9, 2), cost_hat * 1.1)
    return perf, cost, stream


@pytest.fixture(scope="module")
def world():
    return _world(4_000, seed=3)


def _first_argmax(values) -> int:
    best = 0
    for i in range(1, len(values)):
        if values[i] > values[best]:
            best = i
    return best


# --------------------------------------------------------------------------- routers
def test_port_equals_per_query_loop(world):
    _, _, stream = world
    eps, alpha = 0.025, 1e-4
    router = make_router("port", eps=eps, alpha=alpha)
    fast = router.route(stream, np.random.default_rng(11))

    rng = np.random.default_rng(11)
    n_learn = learning_size(stream.n, eps)
    ref = []
    for _ in range(n_learn):  # uniform over {0..M-1, drop}, one draw per query
        draw = int(rng.integers(0, M + 1))
        ref.append(-1 if draw == M else draw)
    fit = fit_gamma(stream.perf_hat[:n_learn], stream.cost_hat[:n_learn], stream.budgets, eps,
                    alpha)
    gamma = fit.gamma.tolist()
    for j in range(n_learn, stream.n):
        p, c = stream.perf_hat[j].tolist(), stream.cost_hat[j].tolist()
        ref.append(_first_argmax([alpha * p[i] - c[i] * gamma[i] for i in range(M)]))
    np.testing.assert_array_equal(fast, np.array(ref))
    np.testing.assert_array_equal(router.info["gamma"], fit.gamma)


def test_sample_dual_equals_port_objective_and_gives_the_same_fit(world):
    _, _, stream = world
    p, c = stream.perf_hat[:900], stream.cost_hat[:900]
    fast = sample_dual(p, c, stream.budgets, 0.025, 1e-4)
    gen = np.random.default_rng(2)
    for gamma in [np.zeros(M), np.ones(M), np.full(M, 1 / M), *gen.random((20, M))]:
        assert fast(gamma) == port_objective(gamma, p, c, stream.budgets, 0.025, 1e-4)
    # the plain path: scipy on port_objective itself, as the public code does
    plain = scipy.optimize.minimize(port_objective, np.full(M, 1 / M),
                                    args=(p, c, stream.budgets, 0.025, 1e-4),
                                    method="L-BFGS-B", bounds=[(0.0, 1.0)] * M)
    fit = fit_gamma(p, c, stream.budgets, 0.025, 1e-4)
    np.testing.assert_array_equal(fit.gamma, np.clip(plain.x, 0.0, 1.0))


def test_random_equals_per_query_draws(world):
    _, _, stream = world
    fast = make_router("random").route(stream, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    ref = [int(rng.integers(0, M)) for _ in range(stream.n)]
    np.testing.assert_array_equal(fast, ref)


@pytest.mark.parametrize("name", ["greedy-perf", "knn-perf"])
def test_greedy_perf_equals_per_query_loop(world, name):
    _, _, stream = world
    perf_hat = stream.perf_hat_exact if name == "knn-perf" else stream.perf_hat
    fast = make_router(name).route(stream)
    ref = [_first_argmax(row) for row in perf_hat.tolist()]
    np.testing.assert_array_equal(fast, ref)
    assert (perf_hat[: stream.n // 4] == perf_hat[: stream.n // 4].max(1, keepdims=True)) \
        .sum(1).max() > 1, "the fixture should contain ties"


@pytest.mark.parametrize("name", ["greedy-cost", "knn-cost"])
def test_greedy_cost_equals_per_query_loop(world, name):
    _, _, stream = world
    cost_hat = stream.cost_hat_exact if name == "knn-cost" else stream.cost_hat
    fast = make_router(name).route(stream)
    remaining = stream.budgets.tolist()
    ref = []
    for row in cost_hat.tolist():
        i = _first_argmax(remaining)
        ref.append(i)
        remaining[i] -= row[i]  # estimated spend, dropped or not (the public code's rule)
    np.testing.assert_array_equal(fast, ref)
    np.testing.assert_array_equal(greedy_cost_choices(cost_hat, stream.budgets), ref)


def test_batch_split_equals_per_batch_loop():
    _, _, stream = _world(600, seed=4)
    size = 128
    fast = make_router("batch-split", batch_size=size).route(stream)
    spent = [0.0] * M
    ref = []
    for start in range(0, stream.n, size):
        p = stream.perf_hat[start : start + size]
        g = stream.cost_hat[start : start + size]
        remaining = np.array([max(b - s, 0.0) for b, s in zip(stream.budgets, spent, strict=True)])
        picked = solve_milp(p, g, remaining, node_limit=DEFAULT_BATCH_NODE_LIMIT,
                            mip_rel_gap=1e-3).choices.tolist()
        batch_spend = [0.0] * M
        for row, i in enumerate(picked):
            if i >= 0:
                batch_spend[i] += float(g[row, i])
        spent = [s + b for s, b in zip(spent, batch_spend, strict=True)]
        ref.extend(picked)
    np.testing.assert_array_equal(fast, ref)
    assert (fast >= 0).any() and (fast == -1).any()


@pytest.mark.parametrize("name", ["approx-opt", "opt"])
def test_rounded_oracles_equal_per_query_loop(world, name):
    perf, cost, stream = world
    p, c = (stream.perf_hat, stream.cost_hat) if name == "approx-opt" else (perf, cost)
    lp = solve_lp(p, c, stream.budgets)
    dense = lp.dense_x().tolist()
    ref = []
    for row in dense:
        i = _first_argmax(row)
        ref.append(i if row[i] > 0.0 else -1)
    np.testing.assert_array_equal(lp_choices(lp), ref)
    np.testing.assert_array_equal(lp_choices(lp.dense_x()), ref)
    # ... and through simulate's per-router step, with an arrival order applied.
    order = np.random.default_rng(0).permutation(stream.n)
    run = simulate_router(name, stream, perf[order], cost[order], rngs(0), oracle=(lp, order))
    np.testing.assert_array_equal(run.choices, np.array(ref)[order])


# --------------------------------------------------------------------------- serve-or-drop
@pytest.mark.parametrize("multiplier", [0.3, 1.0, 3.0])
def test_serve_or_drop_equals_per_query_loop(multiplier):
    perf, cost, stream = _world(20_000, seed=7, multiplier=multiplier)
    choices = np.random.default_rng(1).integers(-1, M, size=stream.n)
    spend = [0.0] * M
    served = []
    for j, i in enumerate(choices.tolist()):
        ok = i >= 0 and spend[i] + float(cost[j, i]) <= float(stream.budgets[i])
        if ok:
            spend[i] += float(cost[j, i])
        served.append(ok)
    np.testing.assert_array_equal(serve_or_drop(choices, cost, stream.budgets), served)
    np.testing.assert_array_equal(serve_or_drop_reference(choices, cost, stream.budgets), served)
    outcome = replay(choices, perf, cost, stream.budgets)
    np.testing.assert_array_equal(outcome.spend, spend)  # same summation order: bit for bit
    assert (outcome.spend <= stream.budgets).all()
    metrics, per_llm = outcome_metrics(outcome, perf, cost)
    rows = [j for j, s in enumerate(served) if s]
    assert metrics["throughput"] == len(rows)
    assert metrics["performance"] == pytest.approx(
        math.fsum(perf[j, choices[j]] for j in rows), rel=1e-12)
    assert metrics["cost"] == pytest.approx(math.fsum(spend), rel=1e-12)
    np.testing.assert_array_equal(per_llm["served"], np.bincount(choices[rows], minlength=M))


# --------------------------------------------------------------------------- LP
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_lp_objective_equals_whole_lp(seed):
    perf, cost, stream = _world(3_000, seed=seed)
    # Small direct/free sizes force the trust-region decomposition on small data.
    fast = solve_lp(perf, cost, stream.budgets, direct_queries=200, min_free=100)
    ref = solve_lp_reference(perf, cost, stream.budgets)
    assert fast.method == "highs-trust-region" and ref.method == "highs-full"
    assert fast.free_queries < perf.shape[0]
    assert fast.objective == pytest.approx(ref.objective, rel=1e-9)
    assert fast.dual_objective == pytest.approx(ref.dual_objective, rel=1e-9)
    assert fast.gap < 1e-9 and ref.gap < 1e-9
    assert (fast.spend(cost) <= stream.budgets * (1 + 1e-9)).all()


# --------------------------------------------------------------------------- estimates
def _unit(g: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = g.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def knn_problem():
    g = np.random.default_rng(9)
    history = _unit(g, 700, 16)
    history[350:360] = history[0]  # duplicated vectors: exact ties at the k-th place
    queries = _unit(g, 333, 16)
    queries[:5] = history[0]
    hist_perf = (g.random((700, M)) < 0.6).astype(np.float64)
    hist_cost = MEAN_COST * g.uniform(0.5, 1.5, (700, M))
    return history, queries, hist_perf, hist_cost


@pytest.mark.parametrize("k", [1, 5, 12])
def test_estimates_chunked_equal_unchunked_and_per_query_loop(knn_problem, k):
    history, queries, hist_perf, hist_cost = knn_problem
    searcher = ExactSearcher(history)
    whole = estimate(searcher, queries, hist_perf, hist_cost, k, chunk_size=10_000)
    for chunk in (1, 7, 64):
        parts = estimate(searcher, queries, hist_perf, hist_cost, k, chunk_size=chunk)
        np.testing.assert_array_equal(parts[0], whole[0])
        np.testing.assert_array_equal(parts[1], whole[1])
    # gathering the stream's rows chunk by chunk out of a larger matrix (as simulate does)
    pool = np.concatenate([history[:50], queries[::-1], history[50:90]])
    rows = np.arange(50 + queries.shape[0] - 1, 49, -1)
    lazy = estimate(searcher, pool, hist_perf, hist_cost, k, chunk_size=31, rows=rows)
    np.testing.assert_array_equal(lazy[0], whole[0])
    np.testing.assert_array_equal(lazy[1], whole[1])
    both = np.concatenate([hist_perf, hist_cost], axis=1)
    scores = queries.astype(np.float32) @ history.T
    for j in range(queries.shape[0]):
        # exact neighbours: highest score first, ties to the lower history position
        ids = sorted(range(history.shape[0]), key=lambda h, j=j: (-scores[j, h], h))[:k]
        total = np.zeros(2 * M)
        for h in ids:
            total = total + both[h]
        mean = total / k
        np.testing.assert_array_equal(whole[0][j], mean[:M])
        np.testing.assert_array_equal(whole[1][j], mean[M:])


class _HolesSearcher:
    """Exact search that loses some neighbours (-1), as an IVF probe can."""

    def __init__(self, history: np.ndarray) -> None:
        self.exact = ExactSearcher(history)
        self.ntotal = history.shape[0]

    def search(self, queries: np.ndarray, k: int):
        scores, ids = self.exact.search(queries, k)
        ids = ids.copy()
        # which neighbours go missing depends on the query itself, not on its batch position
        ids[queries[:, 0] > 0.2, -2:] = -1
        ids[queries[:, 1] > 0.3, :] = -1
        return scores, ids


def test_online_port_equals_batch_pipeline(knn_problem):
    history, queries, hist_perf, hist_cost = knn_problem
    gamma = np.linspace(0.05, 0.5, M)
    for searcher in (ExactSearcher(history), _HolesSearcher(history)):
        p_hat, c_hat = estimate(searcher, queries, hist_perf, hist_cost, 5, chunk_size=50)
        batch = port_decisions(p_hat, c_hat, gamma, 1e-4)
        online = OnlinePort(searcher, hist_perf, hist_cost, gamma, alpha=1e-4, top_k=5)
        o_p, o_c = online.estimate(queries)
        np.testing.assert_array_equal(o_p, p_hat)
        np.testing.assert_array_equal(o_c, c_hat)
        np.testing.assert_array_equal(online.route(queries), batch)
        singles = [online.route_one(q) for q in queries]
        np.testing.assert_array_equal(singles, batch)
    # rows with no neighbour at all fall back to the history mean
    lost = queries[queries[:, 1] > 0.3]
    assert lost.shape[0] > 0
    p_hat, _ = OnlinePort(_HolesSearcher(history), hist_perf, hist_cost, gamma).estimate(lost)
    np.testing.assert_array_equal(p_hat, np.broadcast_to(hist_perf.mean(axis=0), p_hat.shape))


def test_stream_estimates_chunked_equal_unchunked(tiny_table, tmp_path):
    split = make_split(tiny_table.n, 120, 0)
    common = dict(data_dir=tmp_path, progress=False)
    for index in ("hnsw", "flat"):
        spec = EstimateSpec.from_options("tfidf", {"dim": 32}, index)
        a = stream_estimates(tiny_table, split, spec, chunk_size=13, **common)
        b = stream_estimates(tiny_table, split, spec, chunk_size=4096, **common)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert a[0].shape == (120, tiny_table.m)
