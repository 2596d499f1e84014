"""Per-LLM budgets: the total budget of a test stream and its split across LLMs (PORT.md section 6).

The total budget is ``multiplier`` times the cost, in USD, of sending every test query to the
cheapest LLM. It is split across the M LLMs by non-negative weights w: ``B_i = w_i / sum(w) x
total``. The weights of every strategy but ``uniform`` and ``random`` come from per-LLM mean
performance and mean cost per query (USD), taken from the historical set by the caller: this
module never reads data and holds no per-dataset constants.
"""

from __future__ import annotations

import numpy as np

#: The split strategies, in the order of the paper's ablation.
SPLITS: tuple[str, ...] = ("weighted", "cost", "perf", "uniform", "extreme", "random")

#: Range of the ``extreme`` split's k (number of LLMs that share 80 % of the budget).
EXTREME_K = range(1, 6)

#: Bounds of the ``random`` split's weights (drawn uniformly).
RANDOM_WEIGHT_LOW, RANDOM_WEIGHT_HIGH = 5.0, 30.0


class BudgetError(ValueError):
    """A budget option or a per-LLM statistic that cannot produce valid budgets."""


def total_budget(test_cost: np.ndarray, multiplier: float = 1.0) -> float:
    """Total budget in USD: ``multiplier`` x the cheapest single-LLM cost of the whole stream.

    ``test_cost`` is the TRUE (N, M) USD cost matrix of the test stream; the cheapest LLM is the
    one with the smallest column sum.
    """
    if not np.isfinite(multiplier) or multiplier <= 0:
        raise BudgetError(f"budget multiplier must be a positive number, got {multiplier!r}")
    cost = np.asarray(test_cost, dtype=np.float64)
    if cost.ndim != 2 or cost.shape[0] == 0 or cost.shape[1] == 0:
        raise BudgetError(f"test cost must be a non-empty (N, M) matrix, got shape {cost.shape}")
    if not np.isfinite(cost).all() or (cost < 0).any():
        raise BudgetError("test cost must hold finite, non-negative USD amounts")
    cheapest = float(cost.sum(axis=0).min())
    if cheapest <= 0:
        raise BudgetError(
            "the cheapest LLM costs 0 USD over the whole test stream, so the total budget would be "
            "0; costs must be positive"
        )
    return float(multiplier) * cheapest


def _means(mean_perf: np.ndarray, mean_cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    perf = np.asarray(mean_perf, dtype=np.float64)
    cost = np.asarray(mean_cost, dtype=np.float64)
    if perf.ndim != 1 or cost.shape != perf.shape or perf.size == 0:
        raise BudgetError(
            "mean_perf and mean_cost must be 1-D arrays of the same length M >= 1, got shapes "
            f"{perf.shape} and {cost.shape}"
        )
    if not np.isfinite(perf).all() or (perf < 0).any():
        raise BudgetError(f"mean performance per LLM must be finite and >= 0, got {perf.tolist()}")
    if not np.isfinite(cost).all() or (cost <= 0).any():
        raise BudgetError(f"mean cost per LLM must be finite and > 0 USD, got {cost.tolist()}")
    return perf, cost


def split_weights(
    mean_perf: np.ndarray,
    mean_cost: np.ndarray,
    strategy: str,
    *,
    k: int = 1,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Un-normalised split weights w (M,) of one strategy (see ``split_budget``)."""
    perf, cost = _means(mean_perf, mean_cost)
    m = perf.size
    if strategy == "weighted":
        w = np.sqrt(perf / cost)
    elif strategy == "cost":
        w = np.sqrt(1.0 / cost)
    elif strategy == "perf":
        w = perf.copy()
    elif strategy == "uniform":
        w = np.ones(m)
    elif strategy == "extreme":
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise BudgetError(f"extreme split: k must be an integer, got {k!r}")
        if not (EXTREME_K.start <= k < EXTREME_K.stop) or not k < m:
            raise BudgetError(
                f"extreme split: k must be in {EXTREME_K.start}..{EXTREME_K.stop - 1} and smaller "
                f"than the number of LLMs ({m}), got k={k}"
            )
        # The k worst value-for-money LLMs (smallest sqrt(perf/cost); ties -> lowest index)
        # receive 80 % of the budget: 50 each against 12.5 k / (M - k) for each of the others.
        worst = np.argsort(np.sqrt(perf / cost), kind="stable")[:k]
        w = np.full(m, 12.5 * k / (m - k))
        w[worst] = 50.0
    elif strategy == "random":
        if rng is None:
            raise BudgetError(
                "random split needs a seeded numpy Generator (routebench.seeding stream "
                "'budget_split'); got rng=None"
            )
        w = rng.uniform(RANDOM_WEIGHT_LOW, RANDOM_WEIGHT_HIGH, size=m)
    else:
        raise BudgetError(f"unknown budget split {strategy!r}; valid: {', '.join(SPLITS)}")
    if not w.sum() > 0:
        raise BudgetError(
            f"budget split {strategy!r} gives all-zero weights (mean performance {perf.tolist()})"
        )
    return w


def split_budget(
    total: float,
    mean_perf: np.ndarray,
    mean_cost: np.ndarray,
    strategy: str,
    *,
    k: int = 1,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Per-LLM budgets B (M,) in USD: ``B_i = w_i / sum(w) x total``.

    Strategies (PORT.md section 6), from per-LLM historical mean performance and mean cost (USD
    per query): ``weighted`` w = sqrt(perf / cost) (the paper's main table); ``cost`` w =
    sqrt(1 / cost); ``perf`` w = perf; ``uniform``; ``extreme`` (the ``k`` LLMs with the
    smallest sqrt(perf / cost) share 80 % of the total, 1 <= k <= 5, k < M); ``random`` (weights
    uniform in [5, 30] from ``rng``, which is then required).
    """
    if not np.isfinite(total) or total <= 0:
        raise BudgetError(f"total budget must be a positive USD amount, got {total!r}")
    w = split_weights(mean_perf, mean_cost, strategy, k=k, rng=rng)
    return w / w.sum() * float(total)
