"""The closed loop (``routebench.engine.run_closed_loop``) and the routers with feedback:
serve-or-drop as ``replay`` does it, what feedback carries, causality, the priced decision, and
plug-ins that misbehave."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routebench import catalogue
from routebench.engine import Feedback, Horizon, replay, run_closed_loop
from routebench.errors import RouterFailure
from routebench.routers import (
    DualDescentRouter,
    OnlineRouter,
    PortResolveRouter,
    RouterError,
    StreamInput,
    checkpoints,
    history_prices,
    make_router,
    price_decisions,
)
from routebench.seeding import stream_rng

M = 4


def _stream(n: int, seed: int = 0, m: int = M, tight: float = 0.3):
    """(perf, cost, StreamInput with a historical log) of a small random world."""
    g = np.random.default_rng(seed)
    perf = g.random((n, m))
    cost = 10.0 ** g.uniform(-4, -2, size=m) * g.uniform(0.5, 1.5, size=(n, m))
    perf_hat = np.clip(perf + g.normal(0, 0.2, size=(n, m)), 0, 1)
    cost_hat = cost * g.uniform(0.7, 1.3, size=(n, m))
    budgets = cost.mean(axis=0) * n * tight / m
    h = 2 * n
    stream = StreamInput(perf_hat, cost_hat, budgets, tuple(f"m{i}" for i in range(m)),
                         perf_hat, cost_hat, history_perf=g.random((h, m)),
                         history_cost=cost[g.integers(0, n, size=h)])
    return perf, cost, stream


class Fixed(OnlineRouter):
    """Plays a fixed decision vector, whatever the feedback."""

    name = "fixed"

    def __init__(self, choices: np.ndarray) -> None:
        super().__init__()
        self.choices = choices

    def decide(self, start, perf_hat, cost_hat):
        return self.choices[start:start + perf_hat.shape[0]]


class Spy(OnlineRouter):
    """Sends query j to LLM j % M and records everything it is handed."""

    name = "spy"

    def start(self, horizon, rng):
        super().start(horizon, rng)
        self.blocks: list[tuple[int, np.ndarray]] = []
        self.feedback: list[dict] = []

    def decide(self, start, perf_hat, cost_hat):
        self.blocks.append((start, perf_hat.copy()))
        return (np.arange(start, start + perf_hat.shape[0]) % self.horizon.m).astype(np.int64)

    def update(self, feedback: Feedback):
        self.feedback.append({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in (
            (s, getattr(feedback, s)) for s in Feedback.__slots__)})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 60), seed=st.integers(0, 2**16), every=st.integers(1, 7),
       free=st.booleans())
def test_the_loop_serves_exactly_as_replay(n, seed, every, free):
    """A router that ignores its feedback gets bit for bit the outcome replay gives its
    decisions: the same rule, the same additions in the same order."""
    perf, cost, stream = _stream(n, seed)
    if free:
        cost[::3] = 0.0
    choices = np.random.default_rng(seed).integers(-1, M, size=n)
    horizon = Horizon(n, stream.budgets, stream.models, every=every)
    out = run_closed_loop(Fixed(choices), stream.perf_hat, stream.cost_hat, perf, cost, horizon)
    ref = replay(choices, perf, cost, stream.budgets)
    np.testing.assert_array_equal(out.choices, ref.choices)
    np.testing.assert_array_equal(out.served, ref.served)
    assert out.spend.tobytes() == ref.spend.tobytes()
    np.testing.assert_array_equal(out.served_count, ref.served_count)


@pytest.mark.parametrize("every", [1, 3])
@pytest.mark.parametrize("quality", [False, True])
def test_feedback_reports_the_bill_and_nothing_ahead(every, quality):
    perf, cost, stream = _stream(20, seed=3)
    spy = Spy()
    out = spy.run(stream, perf, cost, every=every, quality=quality)
    assert [s for s, _ in spy.blocks] == list(range(0, 20, every))
    for start, rows in spy.blocks:  # only the block's own estimates
        np.testing.assert_array_equal(rows, stream.perf_hat[start:start + every])
    spent = np.zeros(M)
    for fb in spy.feedback:
        sl = slice(fb["start"], fb["start"] + fb["choices"].shape[0])
        np.testing.assert_array_equal(fb["choices"], out.choices[sl])
        np.testing.assert_array_equal(fb["served"], out.served[sl])
        rows = np.arange(sl.start, sl.stop)
        expect = np.where(out.served[sl], cost[rows, out.choices[sl]], 0.0)
        np.testing.assert_array_equal(fb["cost"], expect)
        if quality:
            np.testing.assert_array_equal(
                fb["quality"], np.where(out.served[sl], perf[rows, out.choices[sl]], 0.0))
        else:
            assert fb["quality"] is None
        for j in rows:
            if out.served[j]:
                spent[out.choices[j]] += cost[j, out.choices[j]]
        np.testing.assert_allclose(fb["remaining"], stream.budgets - spent, rtol=0, atol=1e-15)
    assert spy.horizon.n == 20 and spy.horizon.every == every and spy.horizon.quality == quality


def test_a_router_cannot_write_into_the_engine():
    class Vandal(OnlineRouter):
        name = "vandal"

        def decide(self, start, perf_hat, cost_hat):
            perf_hat[0, 0] = 1.0
            return 0

    perf, cost, stream = _stream(5)
    with pytest.raises(RouterFailure, match=r"'vandal' failed in decide\(\) at query position 0"):
        Vandal().run(stream, perf, cost)


def _decisions(name: str, stream: StreamInput, perf, cost, every: int) -> np.ndarray:
    router = make_router(name)
    rng = stream_rng(7, router.stream) if router.stream else None
    return router.run(stream, perf, cost, rng, every=every).choices


@pytest.mark.parametrize("every", [1, 4])
@pytest.mark.parametrize("name", catalogue.ONLINE)
def test_causality(name, every):
    """Changing the queries (estimates and truth) after position t never changes a decision
    before t. BatchSplit decides a batch at once, so its t is a batch boundary."""
    n = 300
    perf, cost, stream = _stream(n, seed=11)
    base = _decisions(name, stream, perf, cost, every)
    g = np.random.default_rng(99)
    for t in (1, 37, 128, 256, 299):
        if name == "batch-split" and t % 256:
            continue
        p2, c2, ph2, ch2 = (a.copy() for a in (perf, cost, stream.perf_hat, stream.cost_hat))
        p2[t:] = g.random(p2[t:].shape)
        c2[t:] *= g.uniform(0.1, 10, size=c2[t:].shape)
        ph2[t:] = g.random(ph2[t:].shape)
        ch2[t:] *= g.uniform(0.1, 10, size=ch2[t:].shape)
        changed = StreamInput(ph2, ch2, stream.budgets, stream.models, ph2, ch2,
                              history_perf=stream.history_perf,
                              history_cost=stream.history_cost)
        after = _decisions(name, changed, p2, c2, every)
        np.testing.assert_array_equal(after[:t], base[:t], err_msg=f"{name}, t = {t}")


def test_open_loop_routers_ignore_the_feedback_options():
    perf, cost, stream = _stream(200, seed=5)
    for name in catalogue.PAPER_ONLINE:
        runs = [_decisions(name, stream, perf, cost, every) for every in (1, 16)]
        np.testing.assert_array_equal(runs[0], runs[1], err_msg=name)


# --------------------------------------------------------------------------- priced decisions
def test_priced_decision_drop_option_and_budget_awareness():
    p = np.array([[0.5, 0.9, 0.1], [0.2, 0.1, 0.0], [0.9, 0.8, 0.7]])
    c = np.array([[1.0, 4.0, 0.5], [1.0, 1.0, 1.0], [3.0, 1.0, 1.0]])
    gamma = np.array([0.1, 0.1, 0.5])
    rem = np.array([10.0, 10.0, 10.0])
    # values: row 0: 0.4, 0.5, -0.15 -> 1; row 1: 0.1, 0.0, -0.5 -> 0; row 2: 0.6, 0.7, 0.2 -> 1
    assert price_decisions(p, c, gamma, rem).tolist() == [1, 0, 1]
    # budget awareness: LLM 1 cannot pay 4.0 -> the next best positive one
    assert price_decisions(p[:1], c[:1], gamma, np.array([10.0, 3.9, 10.0])).tolist() == [0]
    # ... and within a block, the earlier rows' estimated costs are committed first
    assert price_decisions(p[[2, 2]], c[[2, 2]], gamma, np.array([10.0, 1.5, 0.0])).tolist() \
        == [1, 0]
    # the drop option: no positive value -> -1; without it the least bad LLM
    high = np.full(3, 10.0)
    assert price_decisions(p[1:2], c[1:2], high, rem).tolist() == [-1]
    assert price_decisions(p[1:2], c[1:2], high, rem, drop=False).tolist() == [0]
    # nothing affordable -> -1 even without the drop option
    assert price_decisions(p[:1], c[:1], gamma, np.zeros(3), drop=False).tolist() == [-1]
    assert price_decisions(p[:1], c[:1], gamma, np.zeros(3), aware=False).tolist() == [1]


def test_checkpoints_double_from_the_learning_phase():
    assert checkpoints(1500, 0.025) == [38, 76, 152, 304, 608, 1216]
    assert checkpoints(1500, 0.025, resolve=False) == [38]
    assert checkpoints(10, 0.5) == [5]
    assert checkpoints(3, 0.01) == [1, 2]


def test_port_resolve_prices_are_the_lp_duals_of_what_it_has_seen():
    perf, cost, stream = _stream(400, seed=2)
    router = make_router("port-resolve", eps=0.1)
    out = router.run(stream, perf, cost)
    assert router.info["checkpoints"] == [40, 80, 160, 320]
    # recompute the last checkpoint's LP from the public pieces
    from routebench.oracle import solve_lp

    served_before = out.served[:320]
    spent = np.bincount(out.choices[:320][served_before],
                        weights=cost[np.flatnonzero(served_before),
                                     out.choices[:320][served_before]], minlength=M)
    remaining = stream.budgets - spent
    lp = solve_lp(stream.perf_hat[:320], stream.cost_hat[:320],
                  np.maximum(remaining, 0) * 320 / 80)
    np.testing.assert_allclose(router.info["gamma"], lp.gamma, rtol=1e-9, atol=1e-12)


def test_history_prior_prices_pace_the_log():
    perf, cost, stream = _stream(100, seed=4)
    horizon = Horizon(100, stream.budgets, stream.models, history_perf=stream.history_perf,
                      history_cost=stream.history_cost)
    gamma = history_prices(horizon)
    from routebench.oracle import solve_lp

    lp = solve_lp(stream.history_perf, stream.history_cost, stream.budgets * 2)
    np.testing.assert_array_equal(gamma, lp.gamma)
    bare = StreamInput(stream.perf_hat, stream.cost_hat, stream.budgets, stream.models)
    with pytest.raises(RouterFailure, match="needs the historical log"):
        make_router("dual-descent").run(bare, perf, cost)
    make_router("dual-descent", prior="none").run(bare, perf, cost)  # no log needed


def test_dual_descent_raises_the_price_of_an_llm_spent_ahead_of_pace():
    router = DualDescentRouter(prior="none", update="additive")
    horizon = Horizon(100, np.array([1.0, 1.0]), ("a", "b"))
    router.start(horizon, None)
    router.gamma[:] = [50.0, 50.0]
    remaining = np.array([0.9, 1.0])
    ro = remaining.view()
    ro.flags.writeable = False
    router.update(Feedback(0, np.array([0]), np.array([True]), np.array([0.1]), None, ro))
    pace = 1.0 / 100
    eta = 1 / math.sqrt(100)
    # LLM a spent 10x its pace: up by eta (10 - 1) / pace; b spent nothing: down by eta / pace
    np.testing.assert_allclose(router.gamma, [50.0 + eta * 9 / pace, 50.0 - eta / pace])
    mult = DualDescentRouter(prior="none")
    mult.start(horizon, None)
    mult.gamma[:] = [5.0, 5.0]
    mult.update(Feedback(0, np.array([0]), np.array([True]), np.array([0.1]), None, ro))
    np.testing.assert_allclose(mult.gamma, [5.0 * math.exp(eta * 9), 5.0 * math.exp(-eta)])


def test_our_routers_beat_port_on_a_tight_budget():
    perf, cost, stream = _stream(3000, seed=8, tight=0.2)
    score = {}
    for name in ("port", "port-resolve", "dual-descent"):
        router = make_router(name)
        rng = stream_rng(1, router.stream) if router.stream else None
        out = router.run(stream, perf, cost, rng)
        score[name] = perf[out.served, out.choices[out.served]].sum()
    assert score["port-resolve"] > score["port"] and score["dual-descent"] > score["port"], score


def test_ablation_switches_change_the_routes():
    perf, cost, stream = _stream(600, seed=9)
    base = make_router("port-resolve").run(stream, perf, cost).choices
    for change in ({"drop": False}, {"budget_aware": False}, {"resolve": False},
                   {"remaining": False}, {"prior": "none"}, {"eps": 0.1}):
        other = make_router("port-resolve", **change).run(stream, perf, cost).choices
        assert not np.array_equal(base, other), change
    assert (base == -1).any()  # the drop option is used
    assert not (make_router("port-resolve", drop=False).run(stream, perf, cost).choices[
        40:] == -1).all()


@pytest.mark.parametrize("cls", [PortResolveRouter, DualDescentRouter])
def test_parameters_are_checked(cls):
    with pytest.raises(RouterError, match=rf"{cls.name}\.prior: unknown prior 'past'"):
        cls(prior="past")
    with pytest.raises(RouterError, match=rf"{cls.name}\.drop"):
        cls(drop="yes")


# --------------------------------------------------------------------------- bad plug-ins
class _Bad(OnlineRouter):
    name = "bad"
    returns: object = 0
    fail_at: int | None = None

    def decide(self, start, perf_hat, cost_hat):
        if self.fail_at is not None and start >= self.fail_at:
            raise ZeroDivisionError("division by zero")
        return self.returns


@pytest.mark.parametrize(("returns", "fail_at", "message"), [
    (np.array([0, 1]), None, r"'bad' returned decisions of shape \(2,\) for the block of 1 "
                             r"queries at position 0"),
    (M, None, rf"'bad' sent query 0 to LLM index {M}; valid: 0..{M - 1}, or -1"),
    (-2, None, r"'bad' sent query 0 to LLM index -2"),
    (0.5, None, r"'bad' returned float64 decisions at position 0"),
    ("x", None, r"'bad' returned <U1 decisions at position 0"),
    (0, 17, r"'bad' failed in decide\(\) at query position 17: ZeroDivisionError"),
])
def test_a_bad_router_stops_the_run_naming_itself_and_the_position(returns, fail_at, message):
    perf, cost, stream = _stream(30)
    bad = type("Bad", (_Bad,), {"returns": returns, "fail_at": fail_at})()
    with pytest.raises(RouterFailure, match=message):
        bad.run(stream, perf, cost)


def test_an_update_that_raises_is_named():
    class Late(OnlineRouter):
        name = "late"

        def decide(self, start, perf_hat, cost_hat):
            return np.full(perf_hat.shape[0], -1)

        def update(self, feedback):
            if feedback.start == 4:
                raise KeyError("gamma")

    perf, cost, stream = _stream(10)
    with pytest.raises(RouterFailure, match=r"'late' failed in update\(\) at query position 4: "
                                            r"KeyError"):
        Late().run(stream, perf, cost, every=2)


def test_online_routers_refuse_route_without_the_truth():
    _, _, stream = _stream(5)
    with pytest.raises(RouterError, match="learns from feedback"):
        make_router("dual-descent").route(stream)
