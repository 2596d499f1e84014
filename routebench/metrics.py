"""Metrics of a replayed stream (PORT.md section 7), ratios against references, and the
mean-and-interval summary over seeds shared by simulations and reports.

Whole-stream metrics of one replay: ``performance`` (sum of the TRUE d over served queries),
``cost`` (USD, sum of the TRUE g over served queries), ``ppc`` (performance per USD) and
``throughput`` (served queries). Per LLM: ``spend`` (USD) and ``served`` (queries).
``METRICS`` describes every metric name of the results schema (docs/CONTRACTS.md) for tables and
plots: description, unit, and whether higher is better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from routebench.engine import Outcome

#: Confidence level of the intervals in ``summarise``.
CONFIDENCE = 0.95


class MetricsError(ValueError):
    """Inputs that do not describe the replayed stream, or a malformed results frame."""


@dataclass(frozen=True)
class Metric:
    """How to present one metric: ``higher_is_better`` is None when neither direction is."""

    name: str
    description: str
    unit: str
    higher_is_better: bool | None


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("performance", "sum of true performance over served queries", "score", True),
        Metric("cost", "USD spent on served queries", "USD", False),
        Metric("ppc", "performance per USD spent", "score/USD", True),
        Metric("throughput", "queries served", "queries", True),
        Metric("relative_performance", "performance / performance of approx-opt", "ratio", True),
        Metric("cr_lp", "competitive ratio vs the offline LP bound", "ratio", True),
        Metric("cr_milp", "competitive ratio vs the offline integer optimum", "ratio", True),
        Metric("decision_seconds", "wall time to route the whole stream", "s", False),
        Metric("spend", "USD spent on one LLM", "USD", None),
        Metric("served", "queries served by one LLM", "queries", None),
        Metric("budget", "budget of one LLM", "USD", None),
        Metric("gamma", "PORT / LP shadow price of one LLM's budget", "score/USD", None),
        Metric("dual_objective", "LP dual objective", "score", None),
        Metric("gap", "relative gap between bound and solution", "ratio", False),
        Metric("bound", "proven upper bound on the integer optimum", "score", None),
        Metric("seconds", "solver wall time", "s", False),
    )
}


def _check(outcome: Outcome, perf: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    perf = np.asarray(perf, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    shape = (outcome.n, outcome.m)
    if perf.shape != shape or cost.shape != shape:
        raise MetricsError(
            f"perf {perf.shape} and cost {cost.shape} must both have the outcome's shape {shape}"
        )
    return perf, cost


def ppc(performance: float, cost: float) -> float:
    """Performance per USD. NaN when nothing was spent and nothing scored (0 / 0, e.g. nothing
    served); +inf when queries scored but cost exactly 0 USD."""
    if cost > 0:
        return float(performance) / float(cost)
    return float("inf") if performance > 0 else float("nan")


def outcome_metrics(
    outcome: Outcome, perf: np.ndarray, cost: np.ndarray
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Metrics of one replay against the TRUE ``perf`` (N, M) and ``cost`` (N, M, USD).

    Returns ``(whole, per_llm)``: ``whole`` maps performance, cost (USD), ppc (see ``ppc``),
    throughput (queries) to floats; ``per_llm`` maps spend (USD) and served (queries) to (M,)
    arrays.
    """
    perf, cost = _check(outcome, perf, cost)
    rows = np.flatnonzero(outcome.served)
    cols = outcome.choices[rows]
    performance = float(perf[rows, cols].sum())
    spent = float(cost[rows, cols].sum())
    whole = {
        "performance": performance,
        "cost": spent,
        "ppc": ppc(performance, spent),
        "throughput": float(rows.size),
    }
    per_llm = {
        "spend": outcome.spend.astype(np.float64),
        "served": outcome.served_count.astype(np.float64),
    }
    return whole, per_llm


def _ratio(num: float | np.ndarray, den: float | np.ndarray) -> float | np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.divide(num, den, out=np.full(np.broadcast(num, den).shape, np.nan), where=den > 0)
    return float(out) if out.ndim == 0 else out


def relative_performance(
    performance: float | np.ndarray, reference: float | np.ndarray
) -> float | np.ndarray:
    """Performance / reference performance (the paper's reference is approx-opt, C^_opt).
    NaN where the reference is not positive."""
    return _ratio(performance, reference)


def competitive_ratio(
    online: float | np.ndarray, offline: float | np.ndarray
) -> float | np.ndarray:
    """Online performance / offline optimum (LP bound or integer optimum: the caller says which
    in the metric name). NaN where the offline value is not positive (0 / 0 is undefined)."""
    return _ratio(online, offline)


def mean_ci(frame: pd.DataFrame, by: list[str] | tuple[str, ...], value: str = "value",
            confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Group ``frame`` by the columns ``by``; per group the ``mean`` of ``value``, its two-sided
    Student-t interval ``ci_low`` / ``ci_high`` (NaN with fewer than two values) and ``n`` (the
    finite values used). Groups keep their order of first appearance."""
    if not 0 < confidence < 1:
        raise MetricsError(f"confidence must lie in (0, 1), got {confidence}")
    values = pd.to_numeric(frame[value], errors="raise").astype(np.float64)
    # NaN and infinite values (undefined ratios) are not counted; a group of only those stays,
    # with n = 0 and a NaN mean.
    values = values.where(np.isfinite(values.to_numpy()))
    out = (frame.assign(**{value: values}).groupby(list(by), sort=False, dropna=False)[value]
           .agg(mean="mean", sd="std", n="count").reset_index())
    n = out["n"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        tq = scipy.stats.t.ppf(0.5 + confidence / 2, np.maximum(n - 1, 1))
        half = np.where(n >= 2, tq * out["sd"].to_numpy() / np.sqrt(n), np.nan)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    out["n"] = out["n"].astype(np.int64)
    return out.drop(columns="sd")


def summarise(frame: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Mean and t-interval over seeds, per router and metric (and per ``llm`` when the frame
    holds per-LLM rows).

    ``frame`` is long format with at least ``router``, ``metric`` and ``value`` (one row per
    seed). NaN values (undefined ratios) are left out; ``n_seeds`` counts the values used. With
    one value the interval is the mean itself. Returns columns ``router``, [``llm``],
    ``metric``, ``mean``, ``ci_low``, ``ci_high``, ``n_seeds`` in order of first appearance.
    """
    missing = {"router", "metric", "value"} - set(frame.columns)
    if missing:
        raise MetricsError(f"results frame lacks column(s) {sorted(missing)}")
    keys = ["router", "metric"]
    if "llm" in frame.columns and (frame["llm"].astype(str) != "").any():
        keys = ["router", "llm", "metric"]
    out = mean_ci(frame, keys, confidence=confidence)
    single = out["n"] < 2
    out.loc[single, "ci_low"] = out.loc[single, "mean"]
    out.loc[single, "ci_high"] = out.loc[single, "mean"]
    return out.rename(columns={"n": "n_seeds"})[keys + ["mean", "ci_low", "ci_high", "n_seeds"]]
