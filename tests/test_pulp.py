"""The exact MILP through PuLP (``solve_milp(solver="pulp")``, PuLP's bundled CBC): the same
optimum as HiGHS, a reported and deterministic node limit, refused solver names, and a simulate
run whose MILP bound and BatchSplit batches go through CBC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pulp
import pytest
from test_oracle import hard_knapsack  # CBC, like HiGHS, needs nodes beyond its root there

from routebench import simulate as sim
from routebench.config import ConfigParamError, SimConfig
from routebench.oracle import OracleInputError, check_milp_solver, solve_lp, solve_milp
from routebench.routers import RouterParamError, make_router
from routebench.sources import download

#: Relative optimality tolerance of the agreement checks: both solvers must prove the optimum
#: to well within the 1e-6 on which their objectives are compared.
GAP = 1e-7


def instance(seed: int, *, free: bool = False, broke: bool = False):
    """A routing-like problem of 30-80 queries x 3-6 LLMs: dearer LLMs are better on average,
    10 % of the pairs are useless (perf 0); ``free`` makes 15 % of the pairs cost nothing,
    ``broke`` gives one LLM a budget of 0 USD."""
    g = np.random.default_rng(seed)
    n, m = int(g.integers(30, 81)), int(g.integers(3, 7))
    quality = np.sort(g.uniform(0.3, 0.9, m))
    perf = np.clip(quality + g.normal(0, 0.15, (n, m)), 0, 1)
    perf[g.random((n, m)) < 0.1] = 0.0
    cost = np.geomspace(1e-4, 5e-3, m) * g.lognormal(0, 0.4, (n, m))
    if free:
        cost[g.random((n, m)) < 0.15] = 0.0
    budgets = cost.sum(axis=0) / m * g.uniform(0.3, 0.8)
    if broke:
        budgets[int(g.integers(m))] = 0.0
    return perf, cost, budgets


def feasible(choices: np.ndarray, cost: np.ndarray, budgets: np.ndarray) -> bool:
    served = np.flatnonzero(choices >= 0)
    spend = np.bincount(choices[served], weights=cost[served, choices[served]],
                        minlength=budgets.size)
    return bool((spend <= budgets).all())


@pytest.mark.parametrize(
    ("seed", "kind"),
    [(1, {}), (11, {}), (13, {}), (3, {"free": True}), (6, {"broke": True})],
)
def test_highs_and_cbc_agree_on_the_optimum(seed, kind):
    perf, cost, budgets = instance(seed, **kind)
    if kind.get("free"):
        assert ((cost == 0) & (perf > 0)).any()
    if kind.get("broke"):
        assert (budgets == 0).any()
    highs = solve_milp(perf, cost, budgets, mip_rel_gap=GAP, node_limit=20_000)
    cbc = solve_milp(perf, cost, budgets, mip_rel_gap=GAP, node_limit=20_000, solver="pulp")
    assert highs.optimal and cbc.optimal, (highs.status, cbc.status)
    assert cbc.objective == pytest.approx(highs.objective, rel=1e-6)
    assert feasible(cbc.choices, cost, budgets)
    assert cbc.choices.dtype == np.int64 and cbc.choices.shape == (perf.shape[0],)
    lp = solve_lp(perf, cost, budgets)
    assert cbc.objective <= cbc.bound <= lp.dual_objective * (1 + 1e-9)
    assert cbc.gap == pytest.approx((cbc.bound - cbc.objective) / max(1.0, cbc.bound))
    if kind.get("broke"):  # every pair costs something here: the broke LLM serves nothing
        assert not np.isin(cbc.choices, np.flatnonzero(budgets == 0)).any()


def test_the_cbc_bound_holds_where_cbc_stops_short_of_the_optimum():
    # On this instance the CBC bundled with PuLP 3.3 (2.10.3) says "Optimal solution found" at
    # 27.17605 after a restart on reduced-cost fixing, while HiGHS proves 27.19428 (feasible
    # with room to spare). Whatever CBC returns, the reported bound must cover the optimum:
    # CBC prints no bound when it claims optimality, so the LP bound is reported.
    perf, cost, budgets = instance(9)
    highs = solve_milp(perf, cost, budgets, mip_rel_gap=GAP, node_limit=20_000)
    cbc = solve_milp(perf, cost, budgets, mip_rel_gap=GAP, node_limit=20_000, solver="pulp")
    assert highs.optimal and feasible(highs.choices, cost, budgets)
    assert feasible(cbc.choices, cost, budgets)
    assert cbc.objective <= highs.objective * (1 + 1e-9)
    assert cbc.bound >= highs.objective * (1 - 1e-9)


def test_a_binding_cbc_node_limit_is_reported_and_deterministic():
    perf, cost, budgets = hard_knapsack()
    runs = [solve_milp(perf, cost, budgets, node_limit=5, mip_rel_gap=0.0, solver="pulp")
            for _ in range(2)]
    res = runs[0]
    assert res.status == "node_limit" and res.limit_hit and not res.optimal
    assert res.nodes == 5  # CBC's branch-and-bound nodes, read from its log
    assert feasible(res.choices, cost, budgets)
    lp = solve_lp(perf, cost, budgets)
    assert res.objective < res.bound <= lp.dual_objective * (1 + 1e-9)
    assert 0.0 < res.gap <= 1.0
    # deterministic: the same routes, value, bound and node count on a second solve
    np.testing.assert_array_equal(runs[0].choices, runs[1].choices)
    assert (runs[0].status, runs[0].nodes, runs[0].objective, runs[0].bound) == (
        runs[1].status, runs[1].nodes, runs[1].objective, runs[1].bound)
    full = solve_milp(perf, cost, budgets, mip_rel_gap=0.0, solver="pulp")
    exact = solve_milp(perf, cost, budgets, mip_rel_gap=0.0)
    assert full.optimal and not full.limit_hit and full.nodes > 5
    assert full.objective == pytest.approx(exact.objective, rel=1e-9)
    assert res.objective <= full.objective + 1e-9 <= res.bound + 2e-9


def test_cbc_without_any_pair_and_the_default_path_are_unchanged():
    perf, cost, budgets = instance(1)
    assert (cost > 0).all()
    none = solve_milp(perf, cost, np.zeros_like(budgets), solver="pulp")
    assert none.optimal and none.objective == 0.0 and (none.choices == -1).all()
    # "highs" is the default: passing it changes nothing, bit for bit
    a = solve_milp(perf, cost, budgets, node_limit=50)
    b = solve_milp(perf, cost, budgets, node_limit=50, solver="highs")
    np.testing.assert_array_equal(a.choices, b.choices)
    assert (a.objective, a.bound, a.status, a.nodes) == (b.objective, b.bound, b.status, b.nodes)


# ------------------------------------------------------------------------------ refusals
def _unavailable() -> str | None:
    """A solver PuLP knows, with a node-limit option routebench sets, that this machine lacks."""
    here = set(pulp.listSolvers(onlyAvailable=True))
    for name in ("GUROBI_CMD", "CPLEX_CMD", "SCIP_CMD", "HiGHS_CMD", "COIN_CMD"):
        if name not in here:
            return name
    return None


@pytest.mark.parametrize(
    ("solver", "match"),
    [
        ("cbc", r"^solver: expected 'highs', 'pulp' \(PuLP's bundled CBC\) or 'pulp:<SOLVER>'"),
        ("HiGHS", "^solver: expected 'highs', 'pulp'"),
        ("pulp:", "^solver: expected 'highs', 'pulp'"),
        ("pulp:cbc cmd", "^solver: expected 'highs', 'pulp'"),
        (None, "^solver: expected 'highs', 'pulp'"),
        ("pulp:NOPE", r"^solver: 'pulp:NOPE': 'NOPE' is not a PuLP solver; available here: "
         r"'highs', .*'pulp:PULP_CBC_CMD'"),
        ("pulp:HiGHS", "^solver: 'pulp:HiGHS': routebench knows no node-limit option"),
    ],
)
def test_a_bad_solver_is_refused_naming_solver(solver, match):
    perf, cost, budgets = instance(11)
    with pytest.raises(OracleInputError, match=match):
        solve_milp(perf, cost, budgets, node_limit=10, solver=solver)


def test_an_unavailable_solver_is_refused_listing_the_available_ones():
    name = _unavailable()
    if name is None:
        pytest.skip("every solver this test could name is installed here")
    perf, cost, budgets = instance(11)
    with pytest.raises(OracleInputError, match=rf"^solver: 'pulp:{name}': PuLP solver "
                       rf"'{name}' is not available on this machine; available here: 'highs', "
                       r".*'pulp:PULP_CBC_CMD'"):
        solve_milp(perf, cost, budgets, solver=f"pulp:{name}")
    # the spelling alone is fine (a config may name a solver of another machine)
    assert check_milp_solver(f"pulp:{name}", available=False) == f"pulp:{name}"


def test_the_config_and_batch_split_check_their_solver():
    assert SimConfig(dataset="x").milp_solver == "highs"
    assert SimConfig(dataset="x", milp_solver="pulp:PULP_CBC_CMD").milp_solver == \
        "pulp:PULP_CBC_CMD"
    for bad, detail in (("cbc", "expected 'highs'"), (3, "expected text")):
        with pytest.raises(ConfigParamError, match=f"^milp_solver: .*{detail}") as exc:
            SimConfig(dataset="x", milp_solver=bad)
        assert exc.value.param == "milp_solver"
    # the solver itself is checked when the run starts: installed, with a node-limit option
    for name, detail in (("pulp:NOPE", "'NOPE' is not a PuLP solver"),
                         ("pulp:HiGHS", "routebench knows no node-limit option")):
        with pytest.raises(ConfigParamError, match=f"^milp_solver: '{name}': {detail}") as exc:
            sim.resolve_config(SimConfig(dataset="x", milp_solver=name))
        assert exc.value.param == "milp_solver"
    assert make_router("batch-split", solver="pulp").p.solver == "pulp"
    with pytest.raises(RouterParamError, match="^batch-split.solver: expected 'highs'") as exc:
        make_router("batch-split", solver="gurobi")
    assert exc.value.param == "batch-split.solver"


# ------------------------------------------------------------------------------ simulate
def _milp_and_batch_split(tmp: Path, data: Path, **changes) -> pd.DataFrame:
    config = SimConfig(dataset="t", test_size=200, seeds=(0,),
                       routers=("batch-split", "approx-opt"), **changes)
    run = sim.run_simulation(config, data_dir=data, results_root=tmp, progress=False)
    return pd.read_parquet(run / "results.parquet")


def test_a_simulate_run_on_cbc_finds_the_highs_milp_value(tmp_path: Path):
    download("synthetic", data_dir=tmp_path, out="t", n=600, models=3, seed=1)
    highs = _milp_and_batch_split(tmp_path / "highs", tmp_path)
    cbc = _milp_and_batch_split(tmp_path / "cbc", tmp_path, milp_solver="pulp",
                                router_params={"batch-split": {"solver": "pulp"}})

    def value(frame: pd.DataFrame, router: str, metric: str) -> float:
        row = frame[(frame["router"] == router) & (frame["metric"] == metric)
                    & (frame["llm"] == "")]
        assert len(row) == 1, (router, metric)
        return float(row["value"].iloc[0])

    assert value(cbc, "milp", "performance") == pytest.approx(
        value(highs, "milp", "performance"), rel=1e-6)
    assert value(cbc, "milp", "limit_hit") == 0.0
    assert value(cbc, "batch-split", "performance") > 0.0
    assert set(cbc["router"]) == set(highs["router"]) == {"batch-split", "approx-opt",
                                                          "lp-bound", "milp", "estimates"}
