"""The serve-or-drop replay engine (PORT.md section 1), identical for every router.

A router's decision vector ``choices`` (int64 (N,), LLM index or -1 = drop) is replayed against
the TRUE costs in stream order: query j sent to LLM i is served iff i's spend so far, over the
queries it has served, plus ``cost[j, i]`` is ``<=`` the budget ``B_i`` (exact float64
comparison, no tolerance). A query that does not fit is lost, not re-routed; a later, cheaper
query may still fit. Dropped (-1) queries are never served.

The rule is sequential per LLM but independent across LLMs. ``serve_or_drop`` runs it in one
compiled pass (numba); ``serve_or_drop_reference`` is the plain-Python statement of the rule that
tests compare it with, bit for bit (both accumulate spend in the same order).

**The closed loop** (``run_closed_loop``). A router with feedback sees the stream as it arrives:
before the first query it learns the ``Horizon`` (N, the budgets, the LLMs, the historical log);
then, in arrival order, it is handed a block of ``every`` consecutive queries' estimates (default
one query), returns their decisions, and gets ``Feedback``: which were served, the realised USD
cost of each served query, the remaining budget per LLM, and (only with ``quality=True``) the
realised performance of served queries. The serve-or-drop rule is the one above, applied in the
same order with the same arithmetic, so a router that ignores its feedback gets exactly the
outcome ``replay`` gives its decisions. Open-loop routers (decisions from estimates alone) are
the protocol's simplest case: their decisions cannot depend on feedback, and the engine replays
them in one compiled pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numba
import numpy as np

from routebench.errors import RouterFailure

DROP = -1


class ReplayError(ValueError):
    """Decisions, costs or budgets that cannot be replayed."""


@dataclass(frozen=True, eq=False)
class Outcome:
    """What a replay produced.

    ``choices`` int64 (N,): the router's decisions (-1 = drop); ``served`` bool (N,): whether the
    query was answered; ``spend`` float64 (M,): USD spent per LLM on served queries;
    ``served_count`` int64 (M,): queries served per LLM.
    """

    choices: np.ndarray
    served: np.ndarray
    spend: np.ndarray
    served_count: np.ndarray

    @property
    def n(self) -> int:
        """Number of queries in the stream."""
        return int(self.choices.shape[0])

    @property
    def m(self) -> int:
        """Number of LLMs."""
        return int(self.spend.shape[0])

    @property
    def throughput(self) -> int:
        """Number of served queries."""
        return int(self.served_count.sum())


def _check(
    choices: np.ndarray, cost: np.ndarray, budgets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    choices = np.asarray(choices)
    cost = np.asarray(cost, dtype=np.float64)
    budgets = np.asarray(budgets, dtype=np.float64)
    if cost.ndim != 2:
        raise ReplayError(f"cost must be an (N, M) matrix, got shape {cost.shape}")
    n, m = cost.shape
    if choices.shape != (n,):
        raise ReplayError(f"choices must have shape ({n},) to match cost, got {choices.shape}")
    if choices.size and not np.issubdtype(choices.dtype, np.integer):
        raise ReplayError(f"choices must be integers (LLM index or -1), got dtype {choices.dtype}")
    choices = choices.astype(np.int64, copy=False)
    if budgets.shape != (m,):
        raise ReplayError(f"budgets must have shape ({m},) to match cost, got {budgets.shape}")
    if not np.isfinite(budgets).all() or (budgets < 0).any():
        raise ReplayError(f"budgets must be finite and >= 0 USD, got {budgets.tolist()}")
    if n:
        lo, hi = int(choices.min()), int(choices.max())
        if lo < DROP or hi >= m:
            bad = lo if lo < DROP else hi
            raise ReplayError(f"choices must lie in -1..{m - 1} (-1 = drop), found {bad}")
        sent = choices >= 0
        rows = np.flatnonzero(sent)
        picked = cost[rows, choices[rows]]
        ok = np.isfinite(picked) & (picked >= 0)
        if not ok.all():
            row = int(rows[np.flatnonzero(~ok)[0]])
            raise ReplayError(
                f"cost[{row}, {int(choices[row])}] = {cost[row, choices[row]]!r}: costs of sent "
                "queries must be finite and >= 0 USD"
            )
    return choices, np.ascontiguousarray(cost), np.ascontiguousarray(budgets)


@numba.njit(cache=True, nogil=True)
def _serve_or_drop_kernel(choices, cost, budgets, served, spend, count):  # pragma: no cover
    for j in range(choices.shape[0]):
        i = choices[j]
        if i >= 0:
            c = cost[j, i]
            if spend[i] + c <= budgets[i]:
                spend[i] += c
                count[i] += 1
                served[j] = True


def _run(
    choices: np.ndarray, cost: np.ndarray, budgets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, m = cost.shape
    served = np.zeros(n, dtype=np.bool_)
    spend = np.zeros(m, dtype=np.float64)
    count = np.zeros(m, dtype=np.int64)
    _serve_or_drop_kernel(choices, cost, budgets, served, spend, count)
    return served, spend, count


def serve_or_drop(choices: np.ndarray, cost: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Bool (N,): which queries are served under the serve-or-drop rule.

    ``choices`` int (N,) LLM index or -1; ``cost`` float64 (N, M) TRUE USD costs; ``budgets``
    float64 (M,) USD. Compiled; agrees bit for bit with ``serve_or_drop_reference``.
    """
    return _run(*_check(choices, cost, budgets))[0]


def serve_or_drop_reference(
    choices: np.ndarray, cost: np.ndarray, budgets: np.ndarray
) -> np.ndarray:
    """The serve-or-drop rule as a plain Python loop: the specification ``serve_or_drop`` is
    tested against. Slow; do not use on long streams."""
    choices, cost, budgets = _check(choices, cost, budgets)
    spend = [0.0] * cost.shape[1]
    served = np.zeros(choices.shape[0], dtype=np.bool_)
    for j, i in enumerate(choices.tolist()):
        if i == DROP:
            continue
        c = float(cost[j, i])
        if spend[i] + c <= float(budgets[i]):
            spend[i] += c
            served[j] = True
    return served


def replay(
    choices: np.ndarray, perf: np.ndarray, cost: np.ndarray, budgets: np.ndarray
) -> Outcome:
    """Replay a router's decisions against the TRUE performance and costs.

    ``perf`` (N, M) is only checked for shape here (metrics read it from the caller); costs are
    USD, budgets USD per LLM.
    """
    choices, cost, budgets = _check(choices, cost, budgets)
    perf = np.asarray(perf)
    if perf.shape != cost.shape:
        raise ReplayError(f"perf has shape {perf.shape} but cost has shape {cost.shape}")
    served, spend, count = _run(choices, cost, budgets)
    return Outcome(choices=choices, served=served, spend=spend, served_count=count)


def served_costs(outcome: Outcome, cost: np.ndarray) -> np.ndarray:
    """Float64 (N,): the USD cost of each query as charged (0 for queries not served)."""
    cost = np.asarray(cost, dtype=np.float64)
    if cost.shape != (outcome.n, outcome.m):
        raise ReplayError(
            f"cost has shape {cost.shape}, expected {(outcome.n, outcome.m)} for this outcome"
        )
    out = np.zeros(outcome.n, dtype=np.float64)
    rows = np.flatnonzero(outcome.served)
    out[rows] = cost[rows, outcome.choices[rows]]
    return out


def cumulative_spend(
    outcome: Outcome, cost: np.ndarray, n_points: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """Spend along the stream, for the spend-over-time plot.

    Returns ``positions`` int64 (P,): numbers of queries seen, from 0 to N, about ``n_points``
    evenly spaced; and ``spend`` float64 (P, M): USD spent per LLM over the first
    ``positions[p]`` queries. The last row equals ``outcome.spend`` exactly (same summation
    order as the replay).
    """
    if n_points < 2:
        raise ReplayError(f"n_points must be at least 2, got {n_points}")
    n, m = outcome.n, outcome.m
    charged = served_costs(outcome, cost)
    positions = np.unique(np.rint(np.linspace(0, n, n_points)).astype(np.int64))
    spend = np.zeros((positions.size, m), dtype=np.float64)
    inner = positions[positions > 0] - 1
    for i in range(m):  # per LLM, not per query: M cumulative sums over the stream
        mine = np.where(outcome.served & (outcome.choices == i), charged, 0.0)
        spend[positions > 0, i] = np.cumsum(mine)[inner]
    return positions, spend


# --------------------------------------------------------------------------- closed loop
@dataclass(frozen=True, eq=False)
class Horizon:
    """What an online router knows before the first query (as in PORT.md: the horizon and the
    budgets are known up front).

    ``n`` queries will arrive; ``budgets`` float64 (M,) USD per LLM; ``models`` the M LLM names;
    ``every`` the queries per decision block (``--feedback-every``); ``quality`` whether feedback
    carries realised performance; ``history_perf`` / ``history_cost`` float64 (H, M): the
    historical log's TRUE performance and USD costs (the log the estimates come from), or None.
    Arrays are read-only."""

    n: int
    budgets: np.ndarray
    models: tuple[str, ...]
    every: int = 1
    quality: bool = False
    history_perf: np.ndarray | None = None
    history_cost: np.ndarray | None = None

    @property
    def m(self) -> int:
        """Number of LLMs."""
        return len(self.models)


class Feedback:
    """What the engine reports after a block of queries ``start .. start + len(choices) - 1``.

    ``choices`` int64 (B,) the decisions as taken; ``served`` bool (B,); ``cost`` float64 (B,)
    the realised USD cost of each served query (0 for the others); ``quality`` float64 (B,) the
    realised performance of each served query (0 for the others), or None unless the run asked
    for quality feedback; ``remaining`` float64 (M,) each LLM's budget left after the block (USD).
    Arrays are read-only views into the engine's state, valid until the next block."""

    __slots__ = ("start", "choices", "served", "cost", "quality", "remaining")

    def __init__(self, start: int, choices: np.ndarray, served: np.ndarray, cost: np.ndarray,
                 quality: np.ndarray | None, remaining: np.ndarray) -> None:
        self.start = start
        self.choices = choices
        self.served = served
        self.cost = cost
        self.quality = quality
        self.remaining = remaining


class ClosedLoopRouter(Protocol):
    """What ``run_closed_loop`` calls (``routebench.routers.OnlineRouter`` implements it)."""

    name: str

    def start(self, horizon: Horizon, rng: np.random.Generator | None) -> None: ...

    def decide(self, start: int, perf_hat: np.ndarray, cost_hat: np.ndarray) -> Any: ...

    def update(self, feedback: Feedback) -> None: ...


def _read_only(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def _decisions(out: Any, size: int, m: int, name: str, start: int) -> list[int]:
    """A block's decisions as Python ints, checked: ``size`` integers in -1..m-1."""
    if size == 1 and isinstance(out, (int, np.integer)) and not isinstance(out, bool):
        values = [int(out)]
    else:
        arr = np.asarray(out)
        if arr.shape == () and size == 1:
            arr = arr.reshape(1)
        if arr.shape != (size,):
            raise RouterFailure(
                f"router {name} returned decisions of shape {arr.shape} for the block of "
                f"{size} queries at position {start}; expected ({size},) LLM indices or -1")
        if size and not (np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.bool_):
            raise RouterFailure(
                f"router {name} returned {arr.dtype} decisions at position {start}; expected "
                "integers (LLM index, or -1 to drop)")
        values = arr.tolist()
    for k, i in enumerate(values):
        if not DROP <= i < m:
            raise RouterFailure(
                f"router {name} sent query {start + k} to LLM index {i}; valid: 0..{m - 1}, "
                "or -1 to drop")
    return values


def run_closed_loop(
    router: ClosedLoopRouter,
    perf_hat: np.ndarray,
    cost_hat: np.ndarray,
    perf: np.ndarray,
    cost: np.ndarray,
    horizon: Horizon,
    rng: np.random.Generator | None = None,
    *,
    who: str | None = None,
) -> Outcome:
    """Run ``router`` over the stream in arrival order with feedback (see the module doc).

    ``perf_hat`` / ``cost_hat`` float64 (N, M): the estimates, handed out one block at a time as
    read-only views; ``perf`` / ``cost`` (N, M): the TRUE performance and USD costs, which only
    the engine reads; ``horizon``: what the router knows up front (``every`` sets the block
    size). Serve-or-drop is the rule and arithmetic of ``replay``. A router that raises, or
    returns a decision of the wrong shape, type or range, stops the run with ``RouterFailure``
    naming the router (``who``, default its quoted ``name``) and the query position. The
    engine's own work is a few Python operations
    per query (``python -m bench routing`` measures it)."""
    name = who or repr(str(getattr(router, "name", type(router).__name__)))
    n, m = perf_hat.shape
    every = int(horizon.every)
    if every < 1:
        raise ReplayError(f"the feedback block size must be >= 1, got {every}")
    if cost.shape != (n, m) or cost_hat.shape != (n, m) or perf.shape != (n, m):
        raise ReplayError(f"estimates and true features must all have shape ({n}, {m})")
    budgets = np.ascontiguousarray(horizon.budgets, dtype=np.float64)
    choices = np.full(n, DROP, dtype=np.int64)
    served = np.zeros(n, dtype=np.bool_)
    charged = np.zeros(n, dtype=np.float64)
    realised = np.zeros(n, dtype=np.float64) if horizon.quality else None
    remaining = budgets.copy()
    spend = [0.0] * m  # Python floats: the same IEEE additions, in the same order, as replay
    limit = budgets.tolist()
    count = [0] * m
    ph, ch = _read_only(np.ascontiguousarray(perf_hat)), _read_only(np.ascontiguousarray(cost_hat))
    ro_choices, ro_served, ro_charged, ro_remaining = (
        _read_only(a) for a in (choices, served, charged, remaining))
    ro_quality = None if realised is None else _read_only(realised)
    quality: np.ndarray | None = None
    decide, update = router.decide, router.update
    stage, start = "start", 0
    try:
        router.start(horizon, rng)
        for start in range(0, n, every):
            stop = start + every
            stage = "decide"
            out = decide(start, ph[start:stop], ch[start:stop])
            if every == 1 and type(out) is int and DROP <= out < m:
                block = (out,)  # the common case, without the general checks
            else:
                block = _decisions(out, min(stop, n) - start, m, name, start)
            for j, i in enumerate(block, start):
                if i == DROP:
                    continue
                choices[j] = i
                c = float(cost[j, i])
                if not c >= 0.0 or c == math.inf:
                    raise ReplayError(f"cost[{j}, {i}] = {c!r}: costs of sent queries must be "
                                      "finite and >= 0 USD")
                total = spend[i] + c
                if total <= limit[i]:
                    spend[i] = total
                    count[i] += 1
                    served[j] = True
                    charged[j] = c
                    remaining[i] = limit[i] - total
                    if realised is not None:
                        realised[j] = perf[j, i]
            if ro_quality is not None:
                quality = ro_quality[start:stop]
            stage = "update"
            update(Feedback(start, ro_choices[start:stop], ro_served[start:stop],
                            ro_charged[start:stop], quality, ro_remaining))
    except (ReplayError, RouterFailure):
        raise
    except Exception as exc:
        raise RouterFailure(f"router {name} failed in {stage}() at query position {start}: "
                            f"{type(exc).__name__}: {exc}") from exc
    return Outcome(choices=choices, served=served, spend=np.array(spend, dtype=np.float64),
                   served_count=np.array(count, dtype=np.int64))
