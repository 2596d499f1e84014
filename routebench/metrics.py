"""Metrics: one registry that describes *and* computes every metric of the results schema
(docs/CONTRACTS.md), ratios against references, and the mean-and-interval summary over seeds
shared by simulations and reports.

Each ``Metric`` is one entry: its name, description, unit and direction (is bigger better?),
its scope (the whole stream, or one value per LLM), which rows carry it (a router's, or the
offline bounds' ``lp-bound`` and ``milp``), the function that computes it, and how tables and
figures show it (header, digits, percent, axis label and limits). ``simulate`` loops over the
registry to fill the results table, ``report`` to pick and format its columns, ``plot`` to label
its axes: adding a metric is one entry here.

Whole-stream metrics of a router on one seed: ``performance`` (sum of the TRUE d over served
queries), ``cost`` (USD, sum of the TRUE g over served queries), ``ppc`` (performance per USD),
``throughput`` (served queries), ratios to the references, decision time and router facts; per
LLM: ``spend`` (USD), ``served`` (queries), ``budget`` (USD) and PORT's ``gamma``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.stats

if TYPE_CHECKING:  # the engine compiles with numba; reading results must not load it
    from routebench.engine import Outcome

#: Confidence level of the intervals in ``summarise``.
CONFIDENCE = 0.95


class MetricsError(ValueError):
    """Inputs that do not describe the replayed stream, or a malformed results frame."""


@dataclass
class RouterContext:
    """What a router metric may read of one router's run on one seed: the replay ``outcome``,
    the TRUE ``perf`` / ``cost`` (N, M, arrival order; USD), the ``budgets`` (M,), the decision
    wall time ``seconds``, the router's ``info``, and the references of the seed: the LP bound,
    the MILP optimum (None when not solved) and C^_opt's performance (None without it)."""

    outcome: Outcome
    perf: np.ndarray
    cost: np.ndarray
    budgets: np.ndarray
    seconds: float = float("nan")
    info: Mapping[str, Any] = field(default_factory=dict)
    lp_bound: float | None = None
    milp_optimum: float | None = None
    reference: float | None = None

    @cached_property
    def served_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """(query rows, LLM columns) of the served queries."""
        rows = np.flatnonzero(self.outcome.served)
        return rows, self.outcome.choices[rows]

    @cached_property
    def performance(self) -> float:
        rows, cols = self.served_rows
        return float(self.perf[rows, cols].sum())

    @cached_property
    def spent(self) -> float:
        rows, cols = self.served_rows
        return float(self.cost[rows, cols].sum())


@dataclass
class BoundContext:
    """What a bound metric may read: the solver's ``result`` (``oracle.LPResult`` for
    ``lp-bound``, ``oracle.MILPResult`` for ``milp``) and the seed's ``budgets``."""

    result: Any
    budgets: np.ndarray


@dataclass
class EstimateContext:
    """What an estimate-quality metric may read: the stream's estimates ``perf_hat`` /
    ``cost_hat`` and the TRUE ``perf`` / ``cost`` (N, M each; USD costs)."""

    perf_hat: np.ndarray
    cost_hat: np.ndarray
    perf: np.ndarray
    cost: np.ndarray


def _per_llm_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``a`` with the same column of ``b`` (NaN where
    either is constant)."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    denom = np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=0) / denom, np.nan)


def _nanmean(values: np.ndarray) -> float | None:
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else None


#: Equal-width bins of the reliability curve over [0, 1].
RELIABILITY_BINS = 10


def reliability(perf_hat: np.ndarray, perf: np.ndarray, models: Sequence[str],
                bins: int = RELIABILITY_BINS) -> pd.DataFrame:
    """The reliability (calibration) curve of the performance estimates, per LLM: for each of
    ``bins`` equal-width bins of perf_hat over [0, 1] that holds queries, the mean estimate,
    the mean true score and the count. Columns ``llm``, ``bin``, ``mean_estimate``,
    ``mean_outcome``, ``count``; a calibrated estimator lies on the diagonal."""
    which = np.clip((np.asarray(perf_hat) * bins).astype(np.int64), 0, bins - 1)
    frames = []
    for i, model in enumerate(models):
        count = np.bincount(which[:, i], minlength=bins)
        est = np.bincount(which[:, i], weights=perf_hat[:, i], minlength=bins)
        out = np.bincount(which[:, i], weights=perf[:, i], minlength=bins)
        keep = count > 0
        frames.append(pd.DataFrame({
            "llm": model, "bin": np.flatnonzero(keep),
            "mean_estimate": est[keep] / count[keep], "mean_outcome": out[keep] / count[keep],
            "count": count[keep]}))
    return pd.concat(frames, ignore_index=True)


Scope = Literal["stream", "llm"]
Rows = Literal["router", "lp-bound", "milp", "estimates"]


@dataclass(frozen=True)
class Metric:
    """One metric. ``compute(ctx)`` returns a float (``scope`` "stream"), an (M,) array
    (``scope`` "llm"), or None when it does not apply (the metric is then left out of that
    row). ``rows`` says which rows carry it: every router's, or the ``lp-bound`` / ``milp``
    bound's (their ``ctx`` is a ``BoundContext``). ``higher_is_better`` is None when neither
    direction is; ``ranked`` marks the table columns whose best online router is shown.
    Presentation: ``header`` (a table column when set), ``axis`` (figure label), ``digits``,
    ``percent`` (a ratio shown in %), ``significant`` (digits are significant figures),
    ``limits`` (axis limits, None for automatic)."""

    name: str
    description: str
    unit: str
    higher_is_better: bool | None
    compute: Callable[[Any], float | np.ndarray | None] | None = None
    scope: Scope = "stream"
    rows: Rows = "router"
    header: str = ""
    axis: str = ""
    digits: int = 2
    percent: bool = False
    significant: bool = False
    ranked: bool = False
    limits: tuple[float | None, float | None] = (None, None)

    @property
    def label(self) -> str:
        """The axis label, else the header, else the name."""
        return self.axis or self.header or self.name


def ppc(performance: float, cost: float) -> float:
    """Performance per USD. NaN when nothing was spent and nothing scored (0 / 0, e.g. nothing
    served); +inf when queries scored but cost exactly 0 USD."""
    if cost > 0:
        return float(performance) / float(cost)
    return float("inf") if performance > 0 else float("nan")


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


def _info(key: str, kind: type = float) -> Callable[[RouterContext], Any]:
    def get(ctx: RouterContext) -> Any:
        if key not in ctx.info:
            return None
        value = ctx.info[key]
        return float(value) if kind is float else np.asarray(value, dtype=np.float64)

    return get


def _when(value: Any, make: Callable[[], Any]) -> Any:
    return None if value is None else make()


#: Every metric, in the order results list them.
REGISTRY: tuple[Metric, ...] = (
        # ---- every router, whole stream
        Metric("performance", "sum of true performance over served queries", "score", True,
               lambda c: c.performance, header="Performance",
               axis="performance (sum of scores)", digits=1, ranked=True, limits=(0, None)),
        Metric("cost", "USD spent on served queries", "USD", False, lambda c: c.spent,
               header="Cost (USD)", axis="cost (USD)", digits=4, significant=True,
               limits=(0, None)),
        Metric("ppc", "performance per USD spent", "score/USD", True,
               lambda c: ppc(c.performance, c.spent), header="PPC (perf/USD)",
               axis="PPC (performance per USD)", digits=0, ranked=True, limits=(0, None)),
        Metric("throughput", "queries served", "queries", True,
               lambda c: float(c.served_rows[0].size), header="Throughput (queries)",
               axis="throughput (queries served)", digits=0, ranked=True, limits=(0, None)),
        Metric("relative_performance", "performance / performance of approx-opt (C^_opt)",
               "ratio", True,
               lambda c: _when(c.reference, lambda: relative_performance(c.performance,
                                                                         c.reference)),
               header="Relative to C^_opt (%)", axis="performance relative to C^_opt (%)",
               digits=1, percent=True, ranked=True, limits=(0, None)),
        Metric("cr_lp", "competitive ratio vs the offline LP bound", "ratio", True,
               lambda c: _when(c.lp_bound, lambda: competitive_ratio(c.performance,
                                                                     c.lp_bound)),
               header="CR vs LP bound (%)", axis="competitive ratio vs LP bound (%)", digits=1,
               percent=True, ranked=True, limits=(0, None)),
        Metric("cr_milp", "competitive ratio vs the offline integer optimum", "ratio", True,
               lambda c: _when(c.milp_optimum, lambda: competitive_ratio(c.performance,
                                                                         c.milp_optimum)),
               header="CR vs MILP opt. (%)", axis="competitive ratio vs MILP optimum (%)",
               digits=1, percent=True, ranked=True, limits=(0, None)),
        Metric("decision_seconds", "wall time to route the whole stream", "s", False,
               lambda c: float(c.seconds)),
        Metric("batches", "BatchSplit: batches solved", "batches", None, _info("batches")),
        Metric("limit_batches", "BatchSplit: batches whose solve its node limit stopped",
               "batches", False, _info("limit_batches")),
        # ---- every router, per LLM
        Metric("spend", "USD spent on one LLM", "USD", None,
               lambda c: c.outcome.spend.astype(np.float64), scope="llm"),
        Metric("served", "queries served by one LLM", "queries", None,
               lambda c: c.outcome.served_count.astype(np.float64), scope="llm"),
        Metric("budget", "budget of one LLM", "USD", None,
               lambda c: np.asarray(c.budgets, dtype=np.float64), scope="llm"),
        Metric("gamma", "PORT / LP shadow price of one LLM's budget", "score/USD", None,
               _info("gamma", np.ndarray), scope="llm"),
        # ---- the LP bound (true features)
        Metric("performance", "LP objective (upper bound on every router)", "score", True,
               lambda b: b.result.objective, rows="lp-bound"),
        Metric("dual_objective", "LP dual objective", "score", None,
               lambda b: b.result.dual_objective, rows="lp-bound"),
        Metric("gap", "relative primal-dual gap of the LP", "ratio", False,
               lambda b: b.result.gap, rows="lp-bound"),
        Metric("seconds", "LP solver wall time", "s", False, lambda b: b.result.seconds,
               rows="lp-bound"),
        Metric("gamma", "LP shadow price of one LLM's budget", "score/USD", None,
               lambda b: np.asarray(b.result.gamma, dtype=float), scope="llm",
               rows="lp-bound"),
        Metric("budget", "budget of one LLM", "USD", None, lambda b: b.budgets, scope="llm",
               rows="lp-bound"),
        # ---- the MILP optimum (true features)
        Metric("performance", "best integer objective found", "score", True,
               lambda b: b.result.objective, rows="milp"),
        Metric("bound", "proven upper bound on the integer optimum", "score", None,
               lambda b: b.result.bound, rows="milp"),
        Metric("gap", "proven relative gap between bound and solution", "ratio", False,
               lambda b: b.result.gap, rows="milp"),
        Metric("limit_hit", "1 when the node limit stopped the search", "flag", False,
               lambda b: float(b.result.limit_hit), rows="milp"),
        Metric("nodes", "branch-and-bound nodes explored", "nodes", None,
               lambda b: float(b.result.nodes), rows="milp"),
        Metric("seconds", "MILP solver wall time", "s", False, lambda b: b.result.seconds,
               rows="milp"),
        # ---- the estimates the online routers and C^_opt route on (test stream)
        Metric("brier_mean", "Brier score of perf_hat against the true scores, mean over LLMs",
               "score^2", False,
               lambda e: float(((e.perf_hat - e.perf) ** 2).mean()), rows="estimates"),
        Metric("perf_mae_mean", "mean absolute error of perf_hat, mean over LLMs", "score",
               False,
               lambda e: float(np.abs(e.perf_hat - e.perf).mean()), rows="estimates"),
        Metric("cost_corr_mean", "Pearson correlation of cost_hat with the true cost, mean "
               "over LLMs", "ratio", True,
               lambda e: _nanmean(_per_llm_corr(e.cost_hat, e.cost)), rows="estimates"),
        Metric("brier", "Brier score of one LLM's perf_hat", "score^2", False,
               lambda e: ((e.perf_hat - e.perf) ** 2).mean(axis=0), scope="llm",
               rows="estimates"),
        Metric("perf_mae", "mean absolute error of one LLM's perf_hat", "score", False,
               lambda e: np.abs(e.perf_hat - e.perf).mean(axis=0), scope="llm",
               rows="estimates"),
        Metric("cost_corr", "Pearson correlation of one LLM's cost_hat with its true cost",
               "ratio", True, lambda e: _per_llm_corr(e.cost_hat, e.cost), scope="llm",
               rows="estimates"),
)
#: Each metric name's entry (a router's where a bound row reuses the name).
METRICS: dict[str, Metric] = {}
for _metric in REGISTRY:
    METRICS.setdefault(_metric.name, _metric)


def metrics_for(rows: Rows) -> list[Metric]:
    """The metrics the rows of kind ``rows`` carry, in registry order."""
    return [m for m in REGISTRY if m.rows == rows]


def compute(rows: Rows, ctx: Any) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Every metric of kind ``rows`` that applies to ``ctx``: (whole-stream values, per-LLM
    arrays), each in registry order."""
    whole: dict[str, float] = {}
    per_llm: dict[str, np.ndarray] = {}
    for metric in metrics_for(rows):
        value = metric.compute(ctx) if metric.compute is not None else None
        if value is None:
            continue
        if metric.scope == "llm":
            per_llm[metric.name] = np.asarray(value, dtype=np.float64)
        else:
            whole[metric.name] = float(value)
    return whole, per_llm


def table_columns() -> list[Metric]:
    """The metrics that are table columns (a ``header``), in registry order."""
    return [m for m in REGISTRY if m.rows == "router" and m.header]

def outcome_metrics(
    outcome: Outcome, perf: np.ndarray, cost: np.ndarray
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """The replay metrics of one router against the TRUE ``perf`` (N, M) and ``cost`` (N, M,
    USD): ``whole`` maps performance, cost (USD), ppc (see ``ppc``) and throughput (queries) to
    floats; ``per_llm`` maps spend (USD) and served (queries) to (M,) arrays. The registry's
    functions, without the references, the timing and the router's facts."""
    perf = np.asarray(perf, dtype=np.float64)
    cost = np.asarray(cost, dtype=np.float64)
    shape = (outcome.n, outcome.m)
    if perf.shape != shape or cost.shape != shape:
        raise MetricsError(
            f"perf {perf.shape} and cost {cost.shape} must both have the outcome's shape {shape}"
        )
    ctx = RouterContext(outcome, perf, cost, budgets=np.zeros(outcome.m))
    whole, per_llm = compute("router", ctx)
    keep = ("performance", "cost", "ppc", "throughput")
    return {k: whole[k] for k in keep}, {k: per_llm[k] for k in ("spend", "served")}


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
