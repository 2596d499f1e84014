"""The serve-or-drop replay engine (PORT.md section 1), identical for every router.

A router's decision vector ``choices`` (int64 (N,), LLM index or -1 = drop) is replayed against
the TRUE costs in stream order: query j sent to LLM i is served iff i's spend so far, over the
queries it has served, plus ``cost[j, i]`` is ``<=`` the budget ``B_i`` (exact float64
comparison, no tolerance). A query that does not fit is lost, not re-routed; a later, cheaper
query may still fit. Dropped (-1) queries are never served.

The rule is sequential per LLM but independent across LLMs. ``serve_or_drop`` runs it in one
compiled pass (numba); ``serve_or_drop_reference`` is the plain-Python statement of the rule that
tests compare it with, bit for bit (both accumulate spend in the same order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

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
