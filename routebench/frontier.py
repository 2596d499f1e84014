"""The offline cost-quality frontier of a test stream: the best performance any assignment can
reach while spending at most ``c`` USD in total, as a function of ``c``.

``F(c) = max sum_ij d_ij x_ij  s.t.  sum_ij g_ij x_ij <= c,  sum_i x_ij <= 1,  0 <= x <= 1``: the
LP relaxation of the offline problem with one total budget instead of one per LLM. Any routing
under per-LLM budgets B_i spends at most sum_i B_i, and any routing that spends ``c`` is feasible
for ``F(c)``, so no router and no oracle can plot above this curve at its own spend (USD). ``F``
is concave and piecewise linear. For a price ``lam >= 0`` on the total spend, sending each query
to ``argmax_i (d_ij - lam g_ij)`` when that is positive, else dropping it, solves the problem for
``c`` = its own spend (Lagrangian duality, with at most one fractional query at a breakpoint), so
every price gives a point of ``F`` exactly; ``spend_frontier`` evaluates a grid of prices that
covers every breakpoint's scale, and the straight lines between its points lie on or under F.
"""

from __future__ import annotations

import numpy as np

#: Queries per block when evaluating a price, to bound temporary memory.
_CHUNK = 1 << 16


def _point(perf: np.ndarray, cost: np.ndarray, lam: float) -> tuple[float, float]:
    """(total USD spent, total performance) of the Lagrangian routing at price ``lam``. Of equal
    scores the cheaper LLM wins (the frontier wants the least spend for a given performance)."""
    spent = value = 0.0
    for start in range(0, perf.shape[0], _CHUNK):
        d, g = perf[start:start + _CHUNK], cost[start:start + _CHUNK]
        score = d - lam * g
        best = score.max(axis=1, keepdims=True)
        ties = np.where(score == best, g, np.inf)
        pick = ties.argmin(axis=1)
        rows = np.arange(d.shape[0])
        take = best[:, 0] > 0
        spent += float(g[rows, pick][take].sum())
        value += float(d[rows, pick][take].sum())
    return spent, value


def spend_frontier(perf: np.ndarray, cost: np.ndarray,
                   n_points: int = 120) -> tuple[np.ndarray, np.ndarray]:
    """Points of the frontier ``F`` of (``perf`` (N, M) in [0, 1], ``cost`` (N, M) USD): (total
    USD spent, best total performance) for about ``n_points`` prices from "spend nothing" to
    "spend what the best performance needs", sorted by spend, duplicates removed. The first
    point spends only on free pairs; the last reaches the unconstrained optimum."""
    perf = np.asarray(perf, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    if perf.shape != cost.shape or perf.ndim != 2:
        raise ValueError(f"perf {perf.shape} and cost {cost.shape} must both be (N, M)")
    useful = (perf > 0) & (cost > 0)
    if not useful.any():
        spent, value = _point(perf, cost, 0.0)
        return np.array([0.0, spent]), np.array([value, value])
    ratio = perf[useful] / cost[useful]  # a pair is worth buying while lam < d / g
    lo, hi = float(ratio.min()), float(ratio.max())
    prices = np.concatenate([[hi * 1.0001], np.geomspace(hi, lo * 0.5, max(2, n_points - 2)),
                             [0.0]])
    points = np.array([_point(perf, cost, float(lam)) for lam in prices])
    points = np.unique(points, axis=0)
    # keep the upper envelope: a point that spends more for no more performance is not on F
    keep = np.concatenate([[True], np.diff(points[:, 1]) > 0])
    points = points[keep]
    return points[:, 0], points[:, 1]
