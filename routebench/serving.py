"""PORT serving live traffic: a query vector in, an LLM out, with the prices (gamma) a
simulation or a learning phase fitted. Not used by ``simulate``; it shows (and tests check) that
the decisions ``simulate`` computes for a stream are the ones a live router would make, one
query or a batch at a time, and it is what ``python -m bench online`` times.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from routebench.params import check_top_k
from routebench.routers import RouterError, RouterParamError, port_decide, port_decisions


class NeighbourSearch(Protocol):
    """A k-nearest-neighbour search over the historical queries (``routebench.index``'s
    ``BuiltIndex`` and ``ExactSearcher`` are ones): ids are history row positions, -1 for a
    missing neighbour, rows sorted by (-score, id)."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


class OnlinePort:
    """PORT serving live traffic after its learning phase: query vector -> k-NN search ->
    neighbour means d^, g^ -> argmax_i (alpha d^_i - gamma_i g^_i).

    The estimates are the same arithmetic as ``routebench.estimate.estimate`` (plain means over
    the neighbours found, the history mean when none is found) and the decisions the same as
    ``port_decisions``, so a stream routed here, one query or a batch at a time, gets the
    decisions ``simulate`` computes for it. The history's performance and USD costs are stacked
    once, so a single query costs one search, one gather of k rows and one M-way argmax.
    ``searcher``: a ``NeighbourSearch``; ``hist_perf`` / ``hist_cost``: float64 (H, M), row h =
    history position h (costs in USD); ``gamma``: (M,) fitted prices; ``top_k``: neighbours.
    """

    def __init__(self, searcher: NeighbourSearch, hist_perf: np.ndarray, hist_cost: np.ndarray,
                 gamma: np.ndarray, alpha: float = 1e-4, top_k: int = 5) -> None:
        hist_perf = np.asarray(hist_perf, dtype=np.float64)
        hist_cost = np.asarray(hist_cost, dtype=np.float64)
        if hist_perf.ndim != 2 or hist_perf.shape != hist_cost.shape or hist_perf.shape[0] == 0:
            raise RouterError(
                f"OnlinePort: hist_perf {hist_perf.shape} and hist_cost {hist_cost.shape} must "
                "both be non-empty H x M matrices"
            )
        gamma = np.asarray(gamma, dtype=np.float64)
        if gamma.shape != (hist_perf.shape[1],):
            raise RouterError(
                f"OnlinePort: gamma must have shape ({hist_perf.shape[1]},), got {gamma.shape}"
            )
        if not (math.isfinite(alpha) and alpha > 0):
            raise RouterError(f"OnlinePort: alpha must be a finite number > 0, got {alpha!r}")
        top_k = check_top_k(top_k, error=RouterParamError)
        self.searcher = searcher
        self.m = hist_perf.shape[1]
        self.gamma, self.alpha = gamma, float(alpha)
        self.k = min(int(top_k), hist_perf.shape[0])
        self._both = np.ascontiguousarray(np.concatenate([hist_perf, hist_cost], axis=1))
        self._fallback = self._both.mean(axis=0)
        from routebench.estimators import neighbour_means

        self._means = neighbour_means

    def neighbour_means(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(perf_hat, cost_hat), each (n, M), from neighbour ids (n, k): means over the valid
        ids, the whole history's mean for a row with none (USD for cost_hat)."""
        block = self._means(self._both, self._fallback, ids)
        return block[:, : self.m], block[:, self.m :]

    def estimate(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(perf_hat, cost_hat) of query vectors (n, D) float32 unit rows."""
        _, ids = self.searcher.search(np.atleast_2d(vectors), self.k)
        return self.neighbour_means(ids)

    def route(self, vectors: np.ndarray) -> np.ndarray:
        """int64 (n,): PORT's decision for each query vector (a batch)."""
        perf_hat, cost_hat = self.estimate(vectors)
        return port_decisions(perf_hat, cost_hat, self.gamma, self.alpha)

    def route_one(self, vector: np.ndarray) -> int:
        """PORT's decision (LLM index) for one query vector (D,)."""
        perf_hat, cost_hat = self.estimate(vector.reshape(1, -1))
        return port_decide(perf_hat[0], cost_hat[0], self.gamma, self.alpha)
