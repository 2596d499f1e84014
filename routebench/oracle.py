"""Offline oracles of the routing problem (PORT.md sections 2, 5 and 7).

The offline problem over N queries j and M LLMs i, with performance ``perf[j, i]`` (the paper's
d_ij, in [0, 1]), cost ``cost[j, i]`` (g_ij, USD) and budgets ``budgets[i]`` (B_i, USD)::

    maximise    sum_ij d_ij x_ij
    subject to  sum_j g_ij x_ij <= B_i   (every LLM i)
                sum_i x_ij <= 1          (every query j)
                x_ij in {0, 1}  (the MILP)  or  0 <= x_ij <= 1  (the LP relaxation)

Its LP dual is ``min over gamma >= 0 of sum_i gamma_i B_i + sum_j max(0, max_i(d_ij - gamma_i
g_ij))``; ``gamma_i`` (perf per USD) is the shadow price of LLM i's budget, the paper's gamma.

This module offers

- :func:`solve_lp`: the exact LP bound with its dual prices, fast at N = 10^6 because the LP
  has only M coupling rows (see the function's docstring for the method);
- :func:`solve_lp_reference`: the same LP handed whole to HiGHS (the plain path, for tests
  and for the "fast vs straightforward" comparison);
- :func:`lp_choices`: the rounded oracles (``approx-opt`` on estimates, ``opt`` on true
  features): each query goes to the LLM with the largest LP weight, or is dropped;
- :func:`solve_milp`: the exact 0/1 optimum (or a proven bound on it) with HiGHS, cheap enough
  per call to serve BatchSplit's 256-query batches, or with any solver PuLP reaches
  (``solver="pulp"``: PuLP's bundled CBC; ``"pulp:GUROBI_CMD"``, ...; see
  :func:`check_milp_solver`).

Everything here is pure: arrays in, arrays out, no file I/O (but the temporary model, solution
and log files of PuLP's command-line solvers) and no randomness.
Conventions: ``perf`` and ``cost`` are float64 (N, M); ``budgets`` float64 (M,) in USD;
``choices`` int64 (N,), the LLM index or -1 for drop.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import highspy
import numpy as np
import scipy.sparse as sp

__all__ = [
    "DEFAULT_MILP_LIMIT",
    "DEFAULT_MILP_NODE_LIMIT",
    "LPResult",
    "MILPResult",
    "OracleInputError",
    "check_milp_solver",
    "dual_objective",
    "lp_choices",
    "milp_allowed",
    "solve_lp",
    "solve_lp_reference",
    "solve_milp",
]

#: Largest problem size N x M (query-LLM pairs) whose exact 0/1 optimum is computed by default.
#: HiGHS proves optimality on RouterBench-like instances of 1,500 x 11 in about 3 s and of
#: 10,000 x 11 in 20-35 s on one core (``python -m bench lp``); so the default stops short of
#: paper scale (10,000 x 11), where the MILP is opt-in (``--milp-limit``).
DEFAULT_MILP_LIMIT: int = 50_000

#: Default branch-and-bound node limit of one MILP solve of the ``milp`` pseudo-router. A node
#: count (unlike a wall-clock limit) makes the solve deterministic: on hitting it, the best
#: integer solution and the proven bound are reported with status ``"node_limit"``. Measured on
#: one core: the RouterBench slice at 1,500 x 11 and synthetic 4,545 x 11 (budget 1 and 0.25)
#: solve at the root; the slice at 3,000 x 11 needs 1,346 nodes (about 60 s) at budget 0.25 and
#: does not close its 6e-4 gap in 3,000 nodes at budget 1 (about 2,000 nodes take ~3 min).
DEFAULT_MILP_NODE_LIMIT: int = 2_000


class OracleInputError(ValueError):
    """Bad input to an oracle: the message names the argument, the value and what was expected."""


# --------------------------------------------------------------------------------- validation
def _check_inputs(
    perf: np.ndarray, cost: np.ndarray, budgets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert the three arrays to contiguous float64; raise OracleInputError."""
    perf = np.ascontiguousarray(perf, dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    budgets = np.ascontiguousarray(budgets, dtype=np.float64)
    if perf.ndim != 2:
        raise OracleInputError(f"perf: expected a 2-D (N, M) array, got shape {perf.shape}")
    if cost.shape != perf.shape:
        raise OracleInputError(
            f"cost: expected the shape of perf {perf.shape}, got shape {cost.shape}"
        )
    m = perf.shape[1]
    if budgets.shape != (m,):
        raise OracleInputError(f"budgets: expected shape ({m},) (one per LLM), got {budgets.shape}")
    for name, arr in (("perf", perf), ("cost", cost), ("budgets", budgets)):
        bad = ~np.isfinite(arr)
        if bad.any():
            where = np.argwhere(bad)[0]
            raise OracleInputError(
                f"{name}: expected finite values, got {arr[tuple(where)]} at index {tuple(where)}"
            )
    if perf.size and (perf.min() < 0.0 or perf.max() > 1.0):
        where = np.argwhere((perf < 0.0) | (perf > 1.0))[0]
        raise OracleInputError(
            f"perf: expected values in [0, 1], got {perf[tuple(where)]} at (query, llm) "
            f"{tuple(int(k) for k in where)}"
        )
    if cost.size and cost.min() < 0.0:
        where = np.argwhere(cost < 0.0)[0]
        raise OracleInputError(
            f"cost: expected USD >= 0, got {cost[tuple(where)]} at (query, llm) "
            f"{tuple(int(k) for k in where)}"
        )
    if budgets.size and budgets.min() < 0.0:
        i = int(np.argmin(budgets))
        raise OracleInputError(f"budgets: expected USD >= 0, got {budgets[i]} for LLM {i}")
    return perf, cost, budgets


def _cost_scale(cost: np.ndarray) -> np.ndarray:
    """Per-LLM USD scale (mean positive cost, 1 if none) so that budget rows are O(1) for HiGHS.

    Costs of 1e-5..1e-2 USD would otherwise sit at the level of the solver's absolute
    feasibility tolerances."""
    pos = cost > 0.0
    count = pos.sum(axis=0)
    total = np.where(pos, cost, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), 1.0)


# ------------------------------------------------------------------------------ model building
@dataclass(frozen=True)
class _Model:
    """A HiGHS model over selected (query, LLM) pairs, plus the maps back to the arrays."""

    lp: highspy.HighsLp
    rows: np.ndarray  # (K,) query index of each column
    cols: np.ndarray  # (K,) LLM index of each column
    queries: np.ndarray  # (Q,) the queries that own an assignment row, in row order


def _build_model(
    perf: np.ndarray,
    cost_scaled: np.ndarray,
    budgets_scaled: np.ndarray,
    pairs: np.ndarray,
    *,
    integer: bool,
) -> _Model:
    """Build the (scaled) offline problem over the pairs where ``pairs`` is True, vectorised.

    Rows 0..M-1 are the budget rows (only pairs with positive cost have an entry there), rows
    M.. are the assignment rows of the queries that own at least one pair. Columns are ordered
    query-major. The sense is maximisation."""
    m = perf.shape[1]
    rows, cols = np.nonzero(pairs)
    k = rows.size
    queries, qrow = np.unique(rows, return_inverse=True)
    g = cost_scaled[rows, cols]
    has_g = g > 0.0
    col_ids = np.arange(k)
    entry_rows = np.concatenate([cols[has_g], m + qrow])
    entry_cols = np.concatenate([col_ids[has_g], col_ids])
    entry_vals = np.concatenate([g[has_g], np.ones(k)])
    mat = sp.csc_array(
        (entry_vals, (entry_rows, entry_cols)), shape=(m + queries.size, k)
    )
    mat.sort_indices()

    lp = highspy.HighsLp()
    lp.num_col_ = k
    lp.num_row_ = m + queries.size
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.col_cost_ = perf[rows, cols]
    lp.col_lower_ = np.zeros(k)
    lp.col_upper_ = np.ones(k)
    lp.row_lower_ = np.full(m + queries.size, -highspy.kHighsInf)
    lp.row_upper_ = np.concatenate([budgets_scaled, np.ones(queries.size)])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = k
    lp.a_matrix_.num_row_ = m + queries.size
    lp.a_matrix_.start_ = mat.indptr.astype(np.int32)
    lp.a_matrix_.index_ = mat.indices.astype(np.int32)
    lp.a_matrix_.value_ = mat.data
    if integer:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * k
    return _Model(lp=lp, rows=rows, cols=cols, queries=queries)


@contextlib.contextmanager
def _stdout_to_devnull() -> Iterator[None]:
    """Silence file descriptor 1 (C-level writes included) for the duration of the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_BANNER_SHOWN = False


def _new_highs(*, threads: int = 1) -> highspy.Highs:
    """A silent HiGHS instance. highspy prints a copyright banner to stdout when a process
    makes its first instance, before any option can be set, so that one is made with fd 1
    pointed at /dev/null (CLI output and piped tables stay clean). No wall-clock limit is ever
    set: with one thread and HiGHS' fixed random seed every solve is deterministic."""
    global _BANNER_SHOWN
    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        with _stdout_to_devnull():
            h = highspy.Highs()
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", 0)  # the default, pinned: results must not drift with it
    return h


_STATUS_NAMES: dict[highspy.HighsModelStatus, str] = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kIterationLimit: "iteration_limit",
    highspy.HighsModelStatus.kSolutionLimit: "solution_limit",
    highspy.HighsModelStatus.kMemoryLimit: "memory_limit",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
    highspy.HighsModelStatus.kHighsInterrupt: "interrupted",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnbounded: "unbounded",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "unbounded_or_infeasible",
    highspy.HighsModelStatus.kModelEmpty: "optimal",
}


def _status_name(h: highspy.Highs) -> str:
    """HiGHS' model status as one short word: ``optimal``, ``infeasible``, ..., else ``error``."""
    return _STATUS_NAMES.get(h.getModelStatus(), "error")


# ------------------------------------------------------------------------------------- MILP
@dataclass(frozen=True)
class MILPResult:
    """The 0/1 offline optimum (PORT.md section 2) as found by HiGHS (or a PuLP solver).

    ``objective`` is the performance (sum of d) of ``choices``; ``bound`` is the proven upper
    bound on the integer optimum; ``gap`` = (bound - objective) / max(1, |bound|), within
    mip_rel_gap when proven optimal (a PuLP solver that reports no bound gets the LP bound,
    so its gap may be wider: see :func:`solve_milp`); ``status`` is the solver's status
    (``optimal``, ``node_limit`` when the branch-and-bound node limit stopped the search,
    ...); ``choices`` int64 (N,), the LLM per query or -1 (drop); ``seconds`` is wall time
    (reported, never a limit); ``nodes`` the branch-and-bound nodes the solver explored
    (deterministic; 0 when a PuLP solver does not say)."""

    objective: float
    bound: float
    gap: float
    status: str
    choices: np.ndarray
    seconds: float
    nodes: int = 0

    @property
    def optimal(self) -> bool:
        """True when HiGHS proved ``objective`` optimal (within its mip_rel_gap)."""
        return self.status == "optimal"

    @property
    def limit_hit(self) -> bool:
        """True when the node limit stopped the search: ``objective`` is the best integer
        solution found so far and ``bound`` / ``gap`` what HiGHS had proven by then."""
        return self.status == "node_limit"


def milp_allowed(n: int, m: int, limit: int | None = DEFAULT_MILP_LIMIT) -> bool:
    """Whether the exact 0/1 optimum of an N-query, M-LLM problem is computed by default:
    ``n * m <= limit`` (``limit=None`` means no limit)."""
    if n < 0 or m < 0:
        raise OracleInputError(f"milp_allowed: expected n, m >= 0, got n={n}, m={m}")
    return limit is None or n * m <= limit


def _repair_budgets(
    choices: np.ndarray, perf: np.ndarray, cost: np.ndarray, budgets: np.ndarray
) -> np.ndarray:
    """Drop the least valuable queries of any LLM whose exact spend exceeds its budget.

    HiGHS accepts solutions within its feasibility tolerance; this makes the returned choices
    feasible in exact float arithmetic (it changes nothing on all but tolerance-level cases)."""
    choices = choices.copy()
    served = np.flatnonzero(choices >= 0)
    spend = np.bincount(choices[served], weights=cost[served, choices[served]],
                        minlength=budgets.size)
    for i in np.flatnonzero(spend > budgets):
        on_i = np.flatnonzero(choices == i)
        g = cost[on_i, i]
        # cheapest to lose first: least perf per USD, then the costliest
        order = np.lexsort((-g, perf[on_i, i] / np.maximum(g, np.finfo(float).tiny)))
        excess = spend[i] - budgets[i]
        removed = np.cumsum(g[order])
        n_drop = int(np.searchsorted(removed, excess, side="left")) + 1
        choices[on_i[order[:n_drop]]] = -1
    return choices


# ------------------------------------------------------------------------------- MILP solvers
#: How the ``solver`` argument of :func:`solve_milp` is spelled, for messages.
MILP_SOLVER_SYNTAX = "'highs', 'pulp' (PuLP's bundled CBC) or 'pulp:<SOLVER>' (e.g. " \
    "pulp:PULP_CBC_CMD, pulp:GUROBI_CMD, pulp:HiGHS_CMD)"
#: The PuLP solver that ``solver="pulp"`` means: the CBC binary shipped inside PuLP.
PULP_DEFAULT_SOLVER = "PULP_CBC_CMD"
#: PuLP solvers that read CBC's command-line options and write its log (parsed for the status,
#: the bound and the node count).
_CBC_SOLVERS = frozenset({"PULP_CBC_CMD", "COIN_CMD"})


def _pulp_node_options(name: str, node_limit: int) -> dict[str, object] | None:
    """The keyword arguments that make PuLP solver ``name`` stop after ``node_limit``
    branch-and-bound nodes (each solver's own option), or None when routebench knows none."""
    if name in ("PULP_CBC_CMD", "COIN_CMD", "CPLEX_CMD", "SCIP_CMD", "SCIP_PY"):
        return {"maxNodes": node_limit}  # PuLP maps it (CBC: -maxNodes N)
    # PuLP's HiGHS (highspy) solver is left out: PuLP 3.3 fails on the status a node limit gives
    # (KeyError: kSolutionLimit); routebench's own "highs" path is that solver anyway
    if name == "HiGHS_CMD":
        return {"options": [f"mip_max_nodes={node_limit}"]}  # HiGHS' options file
    if name == "GUROBI":
        return {"NodeLimit": node_limit}  # handed to Model.setParam
    if name == "GUROBI_CMD":
        return {"options": [("NodeLimit", node_limit)]}  # gurobi_cl NodeLimit=N
    return None


def _pulp_available() -> list[str]:
    """The PuLP solvers that PuLP finds on this machine (``pulp.listSolvers``)."""
    import pulp

    return list(pulp.listSolvers(onlyAvailable=True))


def check_milp_solver(
    solver: object,
    *,
    available: bool = True,
    node_limit: bool = False,
    param: str = "solver",
    error: Callable[[str, str], Exception] | None = None,
) -> str:
    """Check the ``solver`` of :func:`solve_milp` and return it: ``"highs"`` (HiGHS through its
    own API, the default), ``"pulp"`` (PuLP's bundled CBC, ``PULP_CBC_CMD``) or
    ``"pulp:<SOLVER>"`` with a name of ``pulp.listSolvers()`` (``PULP_CBC_CMD``, ``COIN_CMD``,
    ``GUROBI_CMD``, ``HiGHS_CMD``, ...). With ``available`` the PuLP solver must also be one PuLP
    finds on this machine (``pulp.listSolvers(onlyAvailable=True)``, a few milliseconds);
    without it only the spelling is checked (no import). With ``node_limit`` the solver must
    have a node-limit option that routebench knows how to set (CBC, HiGHS_CMD, Gurobi,
    CPLEX_CMD, SCIP): a node limit is the only limit routebench uses, never a wall-clock one.
    A bad value raises ``error(param, detail)`` (default: :class:`OracleInputError`
    ``"<param>: <detail>"``) naming the solvers available here."""

    def bad(detail: str) -> Exception:
        if error is None:
            return OracleInputError(f"{param}: {detail}")
        return error(param, detail)

    if not isinstance(solver, str):
        raise bad(f"expected {MILP_SOLVER_SYNTAX}, got {solver!r}")
    if solver == "highs":
        return solver
    backend, colon, name = solver.partition(":")
    if backend != "pulp" or (colon and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name)):
        raise bad(f"expected {MILP_SOLVER_SYNTAX}, got {solver!r}")
    name = name or PULP_DEFAULT_SOLVER
    if available:
        try:
            import pulp
        except ImportError as exc:
            raise bad(f"{solver!r} needs PuLP, which cannot be imported ({exc}); use 'highs'") \
                from None
        here = _pulp_available()
        if name not in here:
            known = list(dict.fromkeys(pulp.listSolvers()))
            what = (f"PuLP solver {name!r} is not available on this machine" if name in known
                    else f"{name!r} is not a PuLP solver")
            usable = [n for n in here if not node_limit or _pulp_node_options(n, 1) is not None]
            raise bad(f"{solver!r}: {what}; available here: 'highs', "
                      + ", ".join(f"'pulp:{n}'" for n in usable)
                      + f" (PuLP knows {', '.join(known)})")
    if node_limit and _pulp_node_options(name, 1) is None:
        raise bad(f"{solver!r}: routebench knows no node-limit option of PuLP solver {name!r} "
                  "(and sets no wall-clock limit); use 'highs', 'pulp' (CBC), 'pulp:COIN_CMD', "
                  "'pulp:HiGHS_CMD', 'pulp:GUROBI', 'pulp:GUROBI_CMD', 'pulp:CPLEX_CMD' or "
                  "'pulp:SCIP_CMD'")
    return solver


def _cbc_log(path: str) -> dict[str, object]:
    """What CBC's log says at the end: ``result`` (the text after ``Result -``), ``bound`` (its
    ``Upper bound`` line, rounded up by half a unit of its last printed digit, since CBC prints
    it with few digits) and ``nodes`` (``Enumerated nodes`` less the nodes of CBC's "complete
    fathoming" of small subtrees, which its ``maxNodes`` does not count: the branch-and-bound
    nodes the limit applies to); missing lines are left out."""
    out: dict[str, object] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return out
    m = re.search(r"^Result - (.+?)\s*$", text, re.M)
    if m:
        out["result"] = m.group(1)
    m = re.search(r"^Upper bound:\s*(\S+)", text, re.M)
    if m:
        with contextlib.suppress(ValueError):
            digits = m.group(1)
            decimals = len(digits.partition(".")[2]) if "e" not in digits.lower() else 16
            out["bound"] = float(digits) + 0.5 * 10.0 ** -decimals
    m = re.search(r"^Enumerated nodes:\s*(\d+)", text, re.M)
    if m:
        # the last search's line (a restarted search logs one per search)
        fathomed = re.findall(r"complete fathoming \d+ times, (\d+) nodes", text)
        out["nodes"] = max(0, int(m.group(1)) - int(fathomed[-1] if fathomed else 0))
    return out


def _solve_milp_pulp(
    perf: np.ndarray,
    cost: np.ndarray,
    budgets: np.ndarray,
    pairs: np.ndarray,
    solver: str,
    *,
    node_limit: int | None,
    mip_rel_gap: float,
    threads: int,
) -> tuple[np.ndarray, str, float, int]:
    """Solve the 0/1 problem of :func:`solve_milp` with a PuLP solver: the same variables (the
    selected pairs, query-major), the same cost scaling, budget rows then assignment rows.

    Returns (choices before the budget repair, status, the solver's bound or NaN, nodes)."""
    import pulp

    name = solver.partition(":")[2] or PULP_DEFAULT_SOLVER
    n, m = perf.shape
    scale = _cost_scale(cost)
    g_all = cost / scale
    b = budgets / scale
    rows, cols = np.nonzero(pairs)
    k = rows.size
    prob = pulp.LpProblem("routebench_milp", pulp.LpMaximize)
    make = getattr(prob, "add_variable", None)  # PuLP >= 3.3; LpVariable before
    names = [f"x{j:09d}" for j in range(k)]  # zero-padded: PuLP orders columns by name
    if make is not None:
        xs = [make(v, 0, 1, cat=pulp.LpBinary) for v in names]
    else:
        xs = [pulp.LpVariable(v, 0, 1, cat=pulp.LpBinary) for v in names]
    d = perf[rows, cols].tolist()
    prob.setObjective(pulp.LpAffineExpression(list(zip(xs, d, strict=True))))
    g = g_all[rows, cols]
    for i in range(m):
        ks = np.flatnonzero((cols == i) & (g > 0.0))
        if ks.size:  # an LLM with only free pairs has an empty (always satisfied) budget row
            expr = pulp.LpAffineExpression([(xs[j], float(g[j])) for j in ks])
            prob += (expr <= float(b[i]), f"budget_{i:04d}")
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    ends = np.r_[starts[1:], k]
    for lo, hi in zip(starts.tolist(), ends.tolist(), strict=True):
        expr = pulp.LpAffineExpression([(xs[j], 1.0) for j in range(lo, hi)])
        prob += (expr <= 1.0, f"query_{int(rows[lo]):09d}")

    kwargs: dict[str, object] = {"msg": False, "gapRel": float(mip_rel_gap)}
    if name not in _CBC_SOLVERS or threads != 1:
        # CBC runs serially unless told a thread count (-threads 1 starts its threaded code)
        kwargs["threads"] = int(threads)
    if node_limit is not None:
        kwargs.update(_pulp_node_options(name, int(node_limit)) or {})
    with tempfile.TemporaryDirectory(prefix="routebench-milp-") as tmp:
        log = os.path.join(tmp, "solver.log")
        if name in _CBC_SOLVERS:
            kwargs["logPath"] = log
        with warnings.catch_warnings():
            # PuLP 3 announces that PULP_CBC_CMD (the bundled CBC) goes away in PuLP 4
            warnings.simplefilter("ignore", DeprecationWarning)
            engine = pulp.getSolver(name, **kwargs)
        if name == "HiGHS" and not _BANNER_SHOWN:
            _new_highs()  # highspy's banner goes to /dev/null, not into the caller's output
        try:
            prob.solve(engine)
        except pulp.PulpSolverError as exc:
            raise RuntimeError(f"PuLP solver {name!r} failed: {exc}") from None
        facts = _cbc_log(log) if name in _CBC_SOLVERS else {}

    values = np.array([x.varValue if x.varValue is not None else 0.0 for x in xs])
    choices = np.full(n, -1, dtype=np.int64)
    chosen = values > 0.5
    choices[rows[chosen]] = cols[chosen]

    bound, nodes = float("nan"), 0
    status = _pulp_status(prob.status, prob.sol_status, limited=node_limit is not None)
    result = str(facts.get("result", ""))
    if result.startswith("Optimal solution found"):
        status = "optimal"
    elif result.startswith("Stopped on node"):
        status = "node_limit"
    elif result.startswith("Problem proven infeasible"):
        status = "infeasible"
    if "bound" in facts:
        bound = float(facts["bound"])  # type: ignore[arg-type]
    nodes = int(facts.get("nodes", 0))  # type: ignore[call-overload]
    model = getattr(prob, "solverModel", None)
    if isinstance(model, highspy.Highs):  # PuLP's HiGHS (highspy) solver: ask HiGHS itself
        info = model.getInfo()
        bound, nodes = float(info.mip_dual_bound), int(info.mip_node_count)
        if model.getModelStatus() == highspy.HighsModelStatus.kSolutionLimit \
                and node_limit is not None:
            status = "node_limit"
        elif model.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            status = "optimal"
    return choices, status, bound, nodes


def _pulp_status(status: int, sol_status: int, *, limited: bool) -> str:
    """PuLP's (status, sol_status) as one word. A solver stopped by a limit with a solution in
    hand comes back as status Optimal with sol_status IntegerFeasible (CBC: "Stopped on
    nodes"), without one as NotSolved; the node limit is the only limit routebench sets."""
    import pulp

    if status == pulp.LpStatusOptimal:
        if sol_status == pulp.LpSolutionIntegerFeasible:
            return "node_limit" if limited else "stopped"
        return "optimal"
    if status == pulp.LpStatusNotSolved:
        return "node_limit" if limited else "not_solved"
    if status == pulp.LpStatusInfeasible:
        return "infeasible"
    if status == pulp.LpStatusUnbounded:
        return "unbounded"
    return "error"


def solve_milp(
    perf: np.ndarray,
    cost: np.ndarray,
    budgets: np.ndarray,
    *,
    node_limit: int | None = None,
    mip_rel_gap: float = 1e-4,
    threads: int = 1,
    solver: str = "highs",
) -> MILPResult:
    """Solve the 0/1 offline problem of PORT.md section 2 with HiGHS' branch and cut (or a
    PuLP solver, below).

    For the ``milp`` pseudo-router and for BatchSplit's per-batch problems (estimated features,
    remaining estimated budgets); a 256 x 11 batch costs milliseconds to seconds. Pairs with
    ``perf == 0`` never help and pairs costing more than the LLM's whole budget can never be
    used, so neither becomes a variable. ``node_limit`` caps HiGHS' branch-and-bound nodes
    (``mip_max_nodes``; None: no limit) and ``mip_rel_gap`` is HiGHS' relative optimality
    tolerance. There is no wall-clock limit: with one thread the result is a function of the
    inputs and options alone, bit for bit, however loaded the machine is. Returns the best
    integer solution and HiGHS' proven bound (status ``node_limit`` if the limit stopped the
    search); without any integer solution all queries are dropped (objective 0), and without a
    bound from HiGHS the LP bound is reported.

    ``solver`` (checked first, by :func:`check_milp_solver`): ``"highs"`` is the path above;
    ``"pulp"`` or ``"pulp:<SOLVER>"`` hands the same model (same variables, same cost scaling)
    to a solver through PuLP, with ``mip_rel_gap`` as PuLP's ``gapRel``, no output, one thread
    (CBC's serial mode) and ``node_limit`` as the solver's own node option (CBC ``maxNodes``,
    HiGHS_CMD ``mip_max_nodes``, Gurobi ``NodeLimit``, CPLEX_CMD and SCIP through PuLP's
    ``maxNodes``; a solver without a known one is refused when a limit is asked for:
    routebench sets no wall-clock limit). Status and bound: CBC (``PULP_CBC_CMD``,
    ``COIN_CMD``) writes a log that is read for its result line (``Optimal solution found`` ->
    ``optimal``, ``Stopped on node limit`` -> ``node_limit``), its bound (printed when it
    stops at the gap tolerance or a limit; rounded up past its last digit) and its node count;
    PuLP's ``HiGHS`` is asked directly (it takes no node limit); any other solver's state
    comes from PuLP's status, where a stop with a solution not proven optimal (``sol_status``
    IntegerFeasible) is read as the node limit. Without a bound from the solver the LP bound
    (:func:`solve_lp`) is reported, so ``gap`` can exceed ``mip_rel_gap`` while ``status``
    says ``optimal``. That includes CBC's "optimal" with no bound printed: the objective is
    not taken as the bound, since the CBC that PuLP 3.3 ships (2.10.3) has been seen to claim
    optimality 0.07 % short of the optimum (``tests/test_pulp.py``)."""
    t0 = time.perf_counter()
    check_milp_solver(solver, node_limit=node_limit is not None)
    perf, cost, budgets = _check_inputs(perf, cost, budgets)
    if not mip_rel_gap >= 0.0:
        raise OracleInputError(f"mip_rel_gap: expected >= 0, got {mip_rel_gap}")
    if node_limit is not None and (
        isinstance(node_limit, bool) or not isinstance(node_limit, (int, np.integer))
        or node_limit < 1
    ):
        raise OracleInputError(f"node_limit: expected an integer >= 1 or None, got {node_limit!r}")
    n, m = perf.shape
    choices = np.full(n, -1, dtype=np.int64)
    pairs = (perf > 0.0) & (cost <= budgets[None, :])
    if not pairs.any():
        return MILPResult(0.0, 0.0, 0.0, "optimal", choices, time.perf_counter() - t0)
    if solver != "highs":
        found, status, bound, nodes = _solve_milp_pulp(
            perf, cost, budgets, pairs, solver, node_limit=node_limit,
            mip_rel_gap=mip_rel_gap, threads=threads)
        choices = _repair_budgets(found, perf, cost, budgets)
        served = choices >= 0
        objective = float(perf[served, choices[served]].sum())
        if not math.isfinite(bound):
            bound = solve_lp(perf, cost, budgets, threads=threads).dual_objective
        bound = max(bound, objective)
        return MILPResult(
            objective=objective,
            bound=bound,
            gap=float((bound - objective) / max(1.0, abs(bound))),
            status=status,
            choices=choices,
            seconds=time.perf_counter() - t0,
            nodes=nodes,
        )

    scale = _cost_scale(cost)
    model = _build_model(perf, cost / scale, budgets / scale, pairs, integer=True)
    h = _new_highs(threads=threads)
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    if node_limit is not None:
        h.setOptionValue("mip_max_nodes", int(node_limit))
    h.passModel(model.lp)
    h.run()
    status = _status_name(h)
    if h.getModelStatus() == highspy.HighsModelStatus.kSolutionLimit and node_limit is not None:
        status = "node_limit"  # HiGHS reports its node limit as a solution limit
    info = h.getInfo()
    has_solution = info.primal_solution_status == highspy.kSolutionStatusFeasible
    if has_solution:
        x = np.asarray(h.getSolution().col_value)
        chosen = x > 0.5
        choices[model.rows[chosen]] = model.cols[chosen]
        choices = _repair_budgets(choices, perf, cost, budgets)
    served = choices >= 0
    objective = float(perf[served, choices[served]].sum())
    bound = float(info.mip_dual_bound)
    if not math.isfinite(bound):
        # stopped before branch and bound produced one: the LP relaxation bounds the optimum
        bound = solve_lp(perf, cost, budgets, threads=threads).dual_objective
    bound = max(bound, objective)
    gap = (bound - objective) / max(1.0, abs(bound))
    return MILPResult(
        objective=objective,
        bound=bound,
        gap=float(gap),
        status=status,
        choices=choices,
        seconds=time.perf_counter() - t0,
        nodes=int(info.mip_node_count),
    )


# --------------------------------------------------------------------------------------- LP
@dataclass(frozen=True)
class LPResult:
    """The LP relaxation of the offline problem, solved to optimality, with its certificate.

    ``objective`` is the primal value sum_ij d_ij x_ij of ``x``; ``dual_objective`` is the dual
    function at ``gamma`` (an upper bound on every feasible assignment's performance, the
    number to report as the LP bound); ``gap`` = |objective - dual_objective| /
    max(1, |dual_objective|); ``gamma`` (M,) the budget prices in perf per USD (>= 0); ``x`` the
    primal solution as a sparse (N, M) CSR array; ``seconds`` wall time; ``method`` how it was
    solved; ``free_queries`` how many queries the final restricted LP held (all N for the
    reference path); ``rounds`` how many restricted LPs were solved."""

    objective: float
    dual_objective: float
    gap: float
    gamma: np.ndarray
    x: sp.csr_array
    seconds: float
    method: str
    free_queries: int = 0
    rounds: int = 1

    def assignment(self) -> np.ndarray:
        """Per query the LLM with the largest positive LP weight, else -1; see lp_choices."""
        return lp_choices(self)

    def dense_x(self) -> np.ndarray:
        """``x`` as a dense float64 (N, M) array (8 * N * M bytes)."""
        return self.x.toarray()

    def spend(self, cost: np.ndarray) -> np.ndarray:
        """The LP's spend per LLM in USD, sum_j g_ij x_ij, for the ``cost`` it was solved on."""
        coo = self.x.tocoo()
        return np.bincount(coo.col, weights=coo.data * cost[coo.row, coo.col],
                           minlength=self.x.shape[1])


def lp_choices(result: LPResult | sp.sparray | np.ndarray) -> np.ndarray:
    """The rounded oracle of PORT.md section 5: send query j to argmax_i x_ij when that x is
    positive, else drop it (-1); ties go to the lowest LLM index.

    ``approx-opt`` is ``lp_choices(solve_lp(perf_hat, cost_hat, B))`` and ``opt`` is
    ``lp_choices(solve_lp(perf, cost, B))``, each replayed with the true costs through the
    serve-or-drop engine. Accepts an LPResult, a sparse or a dense (N, M) x."""
    x = result.x if isinstance(result, LPResult) else result
    if isinstance(x, np.ndarray):
        if x.ndim != 2:
            raise OracleInputError(f"lp_choices: expected an (N, M) x, got shape {x.shape}")
        best = np.argmax(x, axis=1)  # first maximum: the lowest index on ties
        top = x[np.arange(x.shape[0]), best]
        return np.where(top > 0.0, best, -1).astype(np.int64)
    coo = sp.coo_array(x)
    n = coo.shape[0]
    keep = coo.data > 0.0
    row, col, val = coo.row[keep], coo.col[keep], coo.data[keep]
    order = np.lexsort((col, -val, row))  # per row: largest value first, then lowest index
    row, col = row[order], col[order]
    first = np.ones(row.size, dtype=bool)
    first[1:] = row[1:] != row[:-1]
    choices = np.full(n, -1, dtype=np.int64)
    choices[row[first]] = col[first]
    return choices


def _values(perf: np.ndarray, cost: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Reduced values d_ij - gamma_i g_ij, with -inf where d_ij = 0 (such pairs never help)."""
    v = perf - cost * gamma[None, :]
    v[perf <= 0.0] = -np.inf
    return v


def dual_objective(
    perf: np.ndarray, cost: np.ndarray, budgets: np.ndarray, gamma: np.ndarray
) -> float:
    """The LP dual function sum_i gamma_i B_i + sum_j max(0, max_i(d_ij - gamma_i g_ij)).

    For any gamma >= 0 (perf per USD) it bounds the LP optimum, hence the integer optimum and
    every feasible assignment's performance, from above. Chunked over queries, so its extra
    memory stays small at N = 10^6."""
    gamma = np.asarray(gamma, dtype=np.float64)
    if gamma.shape != (perf.shape[1],) or (gamma < 0).any():
        raise OracleInputError(f"gamma: expected ({perf.shape[1]},) values >= 0, got {gamma}")
    total = float(gamma @ budgets)
    for lo in range(0, perf.shape[0], 1 << 17):
        v = perf[lo:lo + (1 << 17)] - cost[lo:lo + (1 << 17)] * gamma[None, :]
        total += float(np.maximum(v.max(axis=1, initial=0.0), 0.0).sum())
    return total


def _solve_restricted(
    perf: np.ndarray,
    cost_scaled: np.ndarray,
    budgets_scaled: np.ndarray,
    pairs: np.ndarray,
    *,
    threads: int,
    box: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, _Model, np.ndarray]:
    """Solve the (scaled) LP over the selected pairs with HiGHS.

    With ``box = (low, high)`` the budget prices are confined to [low, high] (scaled units):
    each LLM may also buy budget at price ``high`` and sell unused budget at price ``low``
    (two extra columns per LLM, the primal side of the box). Returns the pair values, the
    scaled prices, the model and the budget traded per LLM (bought + sold; all zero means the
    box did not bind). Raises RuntimeError when HiGHS does not reach optimality."""
    model = _build_model(perf, cost_scaled, budgets_scaled, pairs, integer=False)
    m = perf.shape[1]
    h = _new_highs(threads=threads)
    h.setOptionValue("primal_feasibility_tolerance", 1e-9)
    h.setOptionValue("dual_feasibility_tolerance", 1e-9)
    h.passModel(model.lp)
    if box is not None:
        low, high = box
        sell = np.flatnonzero(low > 0.0)
        n_new = m + sell.size
        h.addCols(
            n_new,
            np.concatenate([-high, low[sell]]),
            np.zeros(n_new),
            np.full(n_new, highspy.kHighsInf),
            n_new,
            np.arange(n_new, dtype=np.int32),
            np.concatenate([np.arange(m), sell]).astype(np.int32),
            np.concatenate([-np.ones(m), np.ones(sell.size)]),
        )
    if h.getNumCol() == 0:
        return np.zeros(0), np.zeros(m), model, np.zeros(m)
    h.run()
    status = _status_name(h)
    if status != "optimal":
        raise RuntimeError(f"HiGHS stopped with status {status!r} on the LP")
    sol = h.getSolution()
    values = np.asarray(sol.col_value)
    k = model.rows.size
    x = np.clip(values[:k], 0.0, 1.0)
    # maximisation: a binding <= row has a non-negative dual in HiGHS' sign convention
    gamma = np.maximum(np.asarray(sol.row_dual)[:m], 0.0)
    traded = np.zeros(m)
    if box is not None:
        traded += values[k:k + m]
        np.add.at(traded, sell, values[k + m:])
    return x, gamma, model, traded


def _finish(
    perf: np.ndarray,
    cost: np.ndarray,
    budgets: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    gamma: np.ndarray,
    *,
    t0: float,
    method: str,
    free_queries: int,
    rounds: int,
) -> LPResult:
    """Assemble an LPResult: sparse x, exact primal value, dual value at gamma, gap."""
    keep = vals > 0.0
    n, m = perf.shape
    x = sp.csr_array((vals[keep], (rows[keep], cols[keep])), shape=(n, m))
    x.sum_duplicates()
    primal = float((perf[rows[keep], cols[keep]] * vals[keep]).sum())
    dual = dual_objective(perf, cost, budgets, gamma)
    gap = abs(primal - dual) / max(1.0, abs(dual))
    return LPResult(
        objective=primal,
        dual_objective=dual,
        gap=float(gap),
        gamma=gamma,
        x=x,
        seconds=time.perf_counter() - t0,
        method=method,
        free_queries=int(free_queries),
        rounds=int(rounds),
    )


def solve_lp_reference(
    perf: np.ndarray, cost: np.ndarray, budgets: np.ndarray, *, threads: int = 1
) -> LPResult:
    """Solve the LP relaxation by handing all N x M pairs (those with d > 0) to HiGHS at once.

    The straightforward path: exact, but its memory and time grow with the full LP; use it on
    small data and as the reference that :func:`solve_lp` is checked and benchmarked against."""
    t0 = time.perf_counter()
    perf, cost, budgets = _check_inputs(perf, cost, budgets)
    scale = _cost_scale(cost)
    x, gamma_s, model, _ = _solve_restricted(
        perf, cost / scale, budgets / scale, perf > 0.0, threads=threads
    )
    return _finish(perf, cost, budgets, model.rows, model.cols, x, gamma_s / scale,
                   t0=t0, method="highs-full", free_queries=perf.shape[0], rounds=1)


#: Problems with at most this many queries are handed whole to HiGHS by :func:`solve_lp`.
_DIRECT_QUERIES = 3_000
#: Each level of :func:`solve_lp` warm-starts from the LP on every ``_SUBSAMPLE_STEP``-th query.
_SUBSAMPLE_STEP = 8
#: Box-constrained rounds after which :func:`solve_lp` doubles the number of free queries.
_ROUNDS_PER_SIZE = 6
#: Rows per chunk when scanning the N x M reduced values (bounds temporary memory).
_CHUNK = 1 << 17


def _stability(
    perf: np.ndarray, cost_scaled: np.ndarray, gamma_s: np.ndarray, width: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per query: its best option under prices ``gamma_s`` (LLM index, or -1 for drop) and the
    largest delta for which that option stays best for every price vector in the box
    ``gamma_s +- delta * width`` (0 for ties, inf for queries no LLM can help).

    Option i's reduced value d_ij - gamma_i g_ij moves by at most delta * width_i * g_ij in the
    box, so the best option c beats option k throughout iff v_c - v_k >= delta (width_c g_cj +
    width_k g_kj); drop is worth 0 everywhere. Chunked and vectorised over queries."""
    n, m = perf.shape
    choice = np.empty(n, dtype=np.int64)
    crit = np.empty(n)
    for lo in range(0, n, _CHUNK):
        hi = min(n, lo + _CHUNK)
        v = _values(perf[lo:hi], cost_scaled[lo:hi], gamma_s)
        move = cost_scaled[lo:hi] * width[None, :]
        ar = np.arange(hi - lo)
        best = np.argmax(v, axis=1)
        v_best = v[ar, best]
        serve = v_best > 0.0
        v_c = np.where(serve, v_best, 0.0)
        move_c = np.where(serve, move[ar, best], 0.0)
        gap = v_c[:, None] - v  # >= 0: c is the best option; +inf where d = 0
        room = move_c[:, None] + move
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(room > 0.0, gap / room, np.where(gap > 0.0, np.inf, 0.0))
            ratio[ar[serve], best[serve]] = np.inf  # the chosen option itself
            to_drop = np.where(serve & (move_c > 0.0), v_c / move_c, np.inf)
        choice[lo:hi] = np.where(serve, best, -1)
        crit[lo:hi] = np.minimum(ratio.min(axis=1), to_drop)
    return choice, crit


def _best_values(
    perf: np.ndarray, cost_scaled: np.ndarray, gamma_s: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """max(0, max_i(d_ij - gamma_i g_ij)) for the queries ``rows`` (scaled units), chunked."""
    out = np.empty(rows.size)
    for lo in range(0, rows.size, _CHUNK):
        r = rows[lo:lo + _CHUNK]
        out[lo:lo + r.size] = _values(perf[r], cost_scaled[r], gamma_s).max(axis=1, initial=0.0)
    return out


def solve_lp(
    perf: np.ndarray,
    cost: np.ndarray,
    budgets: np.ndarray,
    *,
    tol: float = 1e-9,
    threads: int = 1,
    free_fraction: float = 0.01,
    min_free: int = 2_000,
    direct_queries: int = _DIRECT_QUERIES,
) -> LPResult:
    """Solve the LP relaxation of the offline problem exactly, fast for large N.

    The LP couples queries only through its M budget rows. Under budget prices gamma every
    query's best option is argmax over {drop: 0, LLM i: d_ij - gamma_i g_ij}, and only queries
    whose two best options are nearly tied can be fractional or switch when gamma moves a
    little. The method (a trust-region decomposition of the dual):

    1. Prices: solve the LP (recursively, by this function) on every 8th query with the budgets
       scaled to that share; at most ``direct_queries`` queries go straight to HiGHS.
    2. Around the current prices take the box ``gamma +- delta * width`` with delta as large as
       keeps all but ``max(min_free, free_fraction * N)`` queries' best option unchanged
       throughout the box. Fix those queries to their option; the rest are free.
    3. Solve with HiGHS the LP over the free queries with the budgets the fixed ones leave
       (which may be negative), the prices confined to the box (budget may be bought at the
       box's upper price and sold at its lower one). Inside the box the full dual equals the
       restricted one plus a constant, so its optimum is the full dual's optimum over the box.
    4. If no budget was traded, the box did not bind: the fixed choices and the restricted
       solution are primal feasible and complementary to the new prices, which proves
       optimality (checked: each fixed choice is verified optimal within ``tol`` perf, and
       ``dual_objective`` is recomputed over all N queries). Otherwise move the box to the new
       prices (the dual strictly decreases) and repeat; after every 6 moves the free set doubles,
       so the loop ends (at worst with every query free: the reference LP).

    Pairs with d_ij = 0 never help and are left out; pairs with g_ij = 0 and d_ij > 0 cost
    nothing and are always served (by that LLM or a better one). ``tol`` is in perf units per
    query; ``free_fraction`` and ``min_free`` trade restricted-LP size against rounds.
    """
    t0 = time.perf_counter()
    perf, cost, budgets = _check_inputs(perf, cost, budgets)
    if not tol > 0.0:
        raise OracleInputError(f"tol: expected > 0, got {tol}")
    if not 0.0 <= free_fraction <= 1.0:
        raise OracleInputError(f"free_fraction: expected a value in [0, 1], got {free_fraction}")
    if min_free < 1:
        raise OracleInputError(f"min_free: expected at least 1 query, got {min_free}")
    if direct_queries < 1:
        raise OracleInputError(f"direct_queries: expected at least 1, got {direct_queries}")
    n, m = perf.shape
    if n <= max(direct_queries, min_free):
        res = solve_lp_reference(perf, cost, budgets, threads=threads)
        return replace(res, seconds=time.perf_counter() - t0)

    scale = _cost_scale(cost)
    cost_s = cost / scale
    budgets_s = budgets / scale

    sub = np.arange(0, n, _SUBSAMPLE_STEP)
    sub_res = solve_lp(perf[sub], cost[sub], budgets * (sub.size / n), tol=tol, threads=threads,
                       free_fraction=free_fraction, min_free=min_free,
                       direct_queries=direct_queries)
    gamma_s = sub_res.gamma * scale

    n_free = min(n, max(int(min_free), int(math.ceil(free_fraction * n))))
    rounds = 0
    while True:
        rounds += 1
        if rounds % _ROUNDS_PER_SIZE == 0:
            n_free = min(n, 2 * n_free)
        # a price that is (nearly) zero still needs room to move: floor the box width
        width = np.maximum(gamma_s, 0.1 * max(float(gamma_s.mean()), 1e-3))
        choice, crit = _stability(perf, cost_s, gamma_s, width)
        free = np.zeros(n, dtype=bool)
        if n_free >= n:
            free[:] = True
            delta = np.inf
        else:
            part = np.argpartition(crit, n_free)
            free[part[:n_free]] = True
            delta = float(crit[part[n_free]])  # every fixed query is stable in this box
        fixed_serve = np.flatnonzero(~free & (choice >= 0))
        spend = np.bincount(choice[fixed_serve], weights=cost_s[fixed_serve, choice[fixed_serve]],
                            minlength=m)
        box = None
        if math.isfinite(delta):
            box = (np.maximum(gamma_s - delta * width, 0.0), gamma_s + delta * width)
        pairs = (perf > 0.0) & free[:, None]
        x_free, gamma_new, model, traded = _solve_restricted(
            perf, cost_s, budgets_s - spend, pairs, threads=threads, box=box
        )
        if (traded > 1e-9 * np.maximum(1.0, np.abs(budgets_s))).any():
            gamma_s = gamma_new
            continue
        fixed = np.flatnonzero(~free)
        mine = choice[fixed]
        own = np.zeros(fixed.size)
        s = mine >= 0
        own[s] = perf[fixed[s], mine[s]] - gamma_new[mine[s]] * cost_s[fixed[s], mine[s]]
        if (_best_values(perf, cost_s, gamma_new, fixed) <= own + tol).all():
            gamma_s = gamma_new
            break
        # round-off put a fixed query off its optimum: re-centre there and widen the free set
        gamma_s = gamma_new
        n_free = min(n, 2 * n_free)

    rows = np.concatenate([fixed_serve, model.rows])
    cols = np.concatenate([choice[fixed_serve], model.cols])
    vals = np.concatenate([np.ones(fixed_serve.size), x_free])
    return _finish(perf, cost, budgets, rows, cols, vals, gamma_s / scale, t0=t0,
                   method="highs-trust-region", free_queries=int(free.sum()), rounds=rounds)

