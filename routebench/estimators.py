"""Estimators: what every router routes on, each query's per-LLM performance and cost.

An estimator is fitted once on the historical split (``History``: embeddings, true
performance and USD costs, task names, and the ANN index over them) and then estimates the test
stream block by block (``Block``: the block's embeddings and its ``top_k`` nearest historical
queries with their similarities), so memory stays bounded on long streams
(``routebench.estimate`` drives it). It returns (perf_hat in [0, 1], cost_hat >= 0 USD), each
(B, M).

Built in (``ESTIMATORS``; ``docs/ESTIMATORS.md`` in the README's words):

- ``knn-mean``: the paper's plain mean over the k neighbours (the default; bit-identical to
  the estimates before estimators were pluggable);
- ``knn-weighted``: the neighbours weighted by exp((s - s_max) / T), T a multiple of the spread
  of the query's own neighbour similarities (scale-free);
- ``knn-shrink``: the neighbour mean shrunk toward the history's mean (or the neighbours' task
  mean) by a per-LLM weight fitted by leave-one-out least squares on the history;
- ``knn-calibrated``: the neighbour mean mapped through per-LLM calibrations fitted on the
  history's leave-one-out neighbour means (isotonic for performance, linear for cost);
- ``linear``: per-LLM ridge regressions on the embeddings (performance clipped to [0, 1], cost
  to >= 0), the ridge penalty chosen by efficient leave-one-out cross-validation;
- ``ensemble``: the mean of two or more of the others.

A plug-in subclasses ``Estimator`` and is named ``module:Class`` or ``path/to/file.py:Class``,
or offered by an installed package in the entry-point group ``routebench.estimators``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.optimize

from routebench import params, plugins
from routebench.errors import ParamError

#: Entry-point group through which installed packages offer estimators.
ENTRY_POINT_GROUP = "routebench.estimators"
DEFAULT_ESTIMATOR = "knn-mean"


class EstimatorError(ValueError):
    """A bad estimator name, parameter or output."""


class EstimatorParamError(ParamError, EstimatorError):
    """An estimator parameter of the wrong type or out of range; ``param`` is
    ``estimator.<param>`` (e.g. ``estimator.strength``)."""


@dataclass(frozen=True)
class NoParams:
    """The parameters of an estimator that has none."""


@dataclass(frozen=True, eq=False)
class History:
    """What an estimator is fitted on: the historical split. ``perf`` / ``cost`` float64
    (H, M) true performance and USD costs; ``tasks`` (H,) task names; ``searcher`` the ANN
    index over the history's embeddings (``search(queries, k) -> (similarities, ids)``, ids
    are history rows); ``top_k`` the neighbours per query; ``embeddings`` float32 (N, D) the
    dataset's unit embeddings (possibly memory-mapped) and ``rows`` (H,) the history's rows in
    it: read them with ``vectors(idx)``, which copies only the rows asked for;
    ``prompt_chars`` (H,) each history prompt's length in characters, or None."""

    perf: np.ndarray
    cost: np.ndarray
    tasks: np.ndarray
    searcher: Any
    top_k: int
    embeddings: np.ndarray | None = None
    rows: np.ndarray | None = None
    #: (H,) the length of each history prompt in characters, or None when unknown.
    prompt_chars: np.ndarray | None = None

    def vectors(self, idx: np.ndarray | None = None) -> np.ndarray:
        """float32 embeddings of history rows ``idx`` (all when None)."""
        if self.embeddings is None or self.rows is None:
            raise EstimatorError("this estimator reads the history's embeddings, which were "
                                 "not given (History.embeddings / rows)")
        rows = self.rows if idx is None else self.rows[np.asarray(idx)]
        return np.asarray(self.embeddings[rows], dtype=np.float32)

    @property
    def n(self) -> int:
        return int(self.perf.shape[0])

    @property
    def m(self) -> int:
        return int(self.perf.shape[1])


@dataclass(frozen=True, eq=False)
class Block:
    """A block of test queries: ``vectors`` float32 (B, D); ``ids`` int64 (B, k) their nearest
    historical queries (rows of ``History``, -1 for a missing one), nearest first; ``scores``
    float32 (B, k) the similarities (inner products of unit vectors); ``prompt_chars`` (B,)
    the prompts' lengths in characters, or None."""

    vectors: np.ndarray
    ids: np.ndarray
    scores: np.ndarray
    prompt_chars: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.ids.shape[0])


class Estimator(ABC):
    """One estimator. Subclasses set ``name`` (and ``label``, ``Params`` when they have them),
    may override ``fit`` (the base keeps ``self.history``) and implement ``estimate``."""

    name: ClassVar[str]
    label: ClassVar[str | None] = None
    Params: ClassVar[type] = NoParams

    def __init__(self, **values: Any) -> None:
        self.p = params.build(self.Params, values, prefix="estimator.",
                              error=EstimatorParamError)
        self.info: dict[str, Any] = {}

    def params(self) -> dict[str, Any]:
        """Every parameter (for manifests)."""
        return asdict(self.p)

    def fit(self, history: History, rng: np.random.Generator) -> None:
        """Fit on the historical split (``rng``: the estimator's seeded stream)."""
        self.history = history

    def neighbours(self, top_k: int, n_history: int) -> int:
        """How many nearest historical queries each ``Block`` should carry (at most
        ``n_history``): ``top_k`` unless the estimator reads deeper."""
        return min(top_k, n_history)

    @abstractmethod
    def estimate(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        """(perf_hat, cost_hat), float64 (B, M) each, for the block."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- k-NN family
def neighbour_means(stacked: np.ndarray, fallback: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per row of neighbour ids (n, k), the plain mean of ``stacked`` (H, C) over the valid
    ids (>= 0); ``fallback`` (C,) for a row with none. The one statement of the paper's
    estimate arithmetic, shared by ``knn-mean`` and the online router
    (``serving.OnlinePort``)."""
    valid = ids >= 0
    gathered = stacked[np.where(valid, ids, 0)]  # (n, k, C)
    gathered[~valid] = 0.0
    count = valid.sum(axis=1)
    block = np.divide(gathered.sum(axis=1), np.maximum(count, 1)[:, None])
    block[count == 0] = fallback
    return block


class _Stacked(Estimator):
    """An estimator over the history's performance and cost side by side ((H, 2M): one
    gather per block for both)."""

    def fit(self, history: History, rng: np.random.Generator) -> None:
        super().fit(history, rng)
        self._both = np.concatenate([np.asarray(history.perf, dtype=np.float64),
                                     np.asarray(history.cost, dtype=np.float64)], axis=1)
        self._fallback = self._both.mean(axis=0)

    def _split(self, both: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = self.history.m
        return both[:, :m].copy(), both[:, m:].copy()


class KnnMean(_Stacked):
    """The paper's estimate: the plain mean over the k nearest historical queries."""

    name = "knn-mean"
    label = "k-NN mean"

    def estimate(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        return self._split(neighbour_means(self._both, self._fallback, block.ids))


@dataclass(frozen=True)
class KnnWeightedParams:
    """``temperature``: the weights are exp((s - s_max) / T) with T = temperature x the standard
    deviation of the query's own neighbour similarities (so the weighting is the same whatever
    the embedder's similarity scale); large values tend to the plain mean."""

    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ParamError("temperature", f"must be a finite number > 0, got "
                             f"{self.temperature!r}")


class KnnWeighted(_Stacked):
    """Similarity-weighted neighbour mean (softmax over the query's k similarities, computed
    in float64 from the embeddings; reads the history's embeddings)."""

    name = "knn-weighted"
    label = "k-NN weighted"
    Params = KnnWeightedParams

    def estimate(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        ids = block.ids
        valid = ids >= 0
        # similarities recomputed in float64 from the vectors: the index's float32 scores
        # depend (in their last bits) on how many queries it searched at once
        neighbours = self.history.vectors(np.where(valid, ids, 0).ravel()).reshape(
            *ids.shape, -1).astype(np.float64)
        exact = np.einsum("bkd,bd->bk", neighbours, block.vectors.astype(np.float64))
        s = np.where(valid, exact, np.nan)
        spread = np.nanstd(s, axis=1, keepdims=True) if s.size else np.zeros((ids.shape[0], 1))
        spread = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
        top = np.nanmax(np.where(valid, s, -np.inf), axis=1, keepdims=True) if s.size else 0
        w = np.where(valid, np.exp((np.nan_to_num(s) - top) / (self.p.temperature * spread)),
                     0.0)
        total = w.sum(axis=1)
        gathered = self._both[np.where(valid, ids, 0)]  # (B, k, 2M)
        out = np.einsum("bk,bkc->bc", w, gathered) / np.maximum(total, 1e-300)[:, None]
        out[total == 0] = self._fallback
        perf, cost = self._split(out)
        # a weighted mean of values in [0, 1] can round a last bit outside it
        return np.clip(perf, 0.0, 1.0), np.clip(cost, 0.0, None)


SHRINK_TARGETS = ("history", "task")
#: History queries whose leave-one-out neighbour means fit ``knn-shrink``'s weights.
_SHRINK_SAMPLE = 4096


@dataclass(frozen=True)
class KnnShrinkParams:
    """``toward``: the prior the neighbour mean is shrunk to: ``history`` (the history's mean
    per LLM) or ``task`` (the mean over the history's queries of the neighbours' most common
    task); ``strength``: the weight of the neighbour mean, lambda in [0, 1] (estimate = lambda x
    neighbour mean + (1 - lambda) x prior), or None to fit lambda per LLM and per quantity by
    least squares on the history's leave-one-out neighbour means (up to 4,096 history
    queries, drawn with the estimator's seeded stream)."""

    toward: str = "history"
    strength: float | None = None

    def __post_init__(self) -> None:
        if self.toward not in SHRINK_TARGETS:
            raise ParamError("toward", f"unknown prior {self.toward!r}; valid: "
                             f"{', '.join(SHRINK_TARGETS)}")
        if self.strength is not None and not 0 <= self.strength <= 1:
            raise ParamError("strength", f"must lie in [0, 1] (or be null: fitted), got "
                             f"{self.strength!r}")


class KnnShrink(_Stacked):
    """The neighbour mean shrunk toward a prior (empirical Bayes: k noisy neighbours say less
    than the history as a whole unless they agree)."""

    name = "knn-shrink"
    label = "k-NN shrunk"
    Params = KnnShrinkParams

    def fit(self, history: History, rng: np.random.Generator) -> None:
        super().fit(history, rng)
        tasks = np.asarray(history.tasks).astype(str)
        self._task_names, self._task_of = np.unique(tasks, return_inverse=True)
        sums = np.zeros((self._task_names.size, self._both.shape[1]))
        np.add.at(sums, self._task_of, self._both)
        self._task_means = sums / np.bincount(self._task_of)[:, None]
        if self.p.strength is not None:
            self._weight = np.full(self._both.shape[1], float(self.p.strength))
        else:
            self._weight = self._fit_weight(history, rng)
        self.info = {"weight": self._weight.copy()}

    def _prior(self, ids: np.ndarray) -> np.ndarray:
        if self.p.toward == "history":
            return np.broadcast_to(self._fallback, (ids.shape[0], self._fallback.size))
        valid = ids >= 0
        task = np.where(valid, self._task_of[np.where(valid, ids, 0)], -1)
        counts = np.zeros((ids.shape[0], self._task_names.size + 1), dtype=np.int64)
        np.add.at(counts, (np.arange(ids.shape[0])[:, None], task + 1), 1)
        counts[:, 0] = 0  # missing neighbours vote for nothing; ties -> the first task
        best = counts.argmax(axis=1)
        prior = self._task_means[np.maximum(best - 1, 0)]
        prior[counts.max(axis=1) == 0] = self._fallback
        return prior

    def _fit_weight(self, history: History, rng: np.random.Generator) -> np.ndarray:
        if history.n < 3:
            return np.ones(self._both.shape[1])
        rows, mean, ids = loo_neighbour_means(self, history, rng, with_ids=True)
        prior = self._prior(ids)
        x, y = mean - prior, self._both[rows] - prior
        denom = (x * x).sum(axis=0)
        weight = np.where(denom > 0, (x * y).sum(axis=0) / np.where(denom > 0, denom, 1), 1.0)
        return np.clip(weight, 0.0, 1.0)

    def estimate(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        mean = neighbour_means(self._both, self._fallback, block.ids)
        prior = self._prior(block.ids)
        return self._split(prior + self._weight * (mean - prior))


def loo_neighbours(history: History, rows: np.ndarray, depth: int) -> np.ndarray:
    """int64 (len(rows), depth): the ``depth`` nearest other history queries of history
    ``rows``, found with the history's own index, nearest first, -1 for a missing one: the
    neighbours each would have had as a new query (itself left out)."""
    k = min(depth + 1, history.n)
    _, ids = history.searcher.search(np.ascontiguousarray(history.vectors(rows)), k)
    ids = np.where(ids == rows[:, None], -1, ids)  # leave the query itself out
    # the valid ids first, in their order (a stable sort on "missing"), then keep ``depth``
    order = np.argsort(ids < 0, axis=1, kind="stable")
    return np.take_along_axis(ids, order, axis=1)[:, :depth]


def loo_neighbour_means(est: _Stacked, history: History, rng: np.random.Generator,
                        sample: int = _SHRINK_SAMPLE, with_ids: bool = False) -> tuple:
    """(rows, means[, ids]): up to ``sample`` history rows (drawn with ``rng``) and their
    leave-one-out k-NN means of performance and cost ((n, 2M)), found with the history's own
    index: what the k-NN mean would have estimated for them had they been new (``ids``: their
    neighbours)."""
    h = history.n
    rows = np.sort(rng.choice(h, size=min(h, sample), replace=False))
    ids = loo_neighbours(history, rows, min(history.top_k, h - 1))
    means = neighbour_means(est._both, est._fallback, ids)
    return (rows, means, ids) if with_ids else (rows, means)


class KnnCalibrated(_Stacked):
    """The neighbour mean recalibrated per LLM on the history: performance through a
    monotone (isotonic) map from the leave-one-out neighbour mean to the true outcome, cost
    through the least-squares line from the leave-one-out neighbour mean cost to the true cost
    (clipped to >= 0); both fitted on up to 4,096 history queries. A k-NN mean of 0/1 scores
    is over-dispersed (5 neighbours give 0, 0.2, ..., 1); the map pulls it to what such a
    mean has meant on this history."""

    name = "knn-calibrated"
    label = "k-NN calibrated"

    def fit(self, history: History, rng: np.random.Generator) -> None:
        from sklearn.isotonic import IsotonicRegression

        super().fit(history, rng)
        m = history.m
        rows, loo = loo_neighbour_means(self, history, rng)
        truth = self._both[rows]
        self._perf_maps = [IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                           .fit(loo[:, i], truth[:, i]) for i in range(m)]
        x, y = loo[:, m:], truth[:, m:]
        xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
        denom = (xc * xc).sum(axis=0)
        self._slope = np.where(denom > 0, (xc * yc).sum(axis=0) / np.where(denom > 0, denom, 1),
                               1.0)
        self._intercept = y.mean(axis=0) - self._slope * x.mean(axis=0)
        self.info = {"cost_slope": self._slope.copy()}

    def estimate(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        m = self.history.m
        mean = neighbour_means(self._both, self._fallback, block.ids)
        perf = np.column_stack([f.predict(mean[:, i]) for i, f in enumerate(self._perf_maps)])
        cost = np.clip(self._intercept + self._slope * mean[:, m:], 0.0, None)
        return perf.reshape(block.n, m), cost


# --------------------------------------------------------------------------- regression
#: Ridge penalties ``linear`` chooses from by efficient leave-one-out cross-validation.
RIDGE_ALPHAS: tuple[float, ...] = tuple(10.0 ** np.arange(-3, 4))
#: History rows the ridge is fitted on at most (drawn with the estimator's stream).
_LINEAR_SAMPLE = 50_000


@dataclass(frozen=True)
class LinearParams:
    """``alpha``: the ridge penalty, or None to choose it per quantity from 1e-3..1e3 by
    exact leave-one-out error (``ridge_loo``)."""

    alpha: float | None = None

    def __post_init__(self) -> None:
        if self.alpha is not None and not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ParamError("alpha", f"must be a finite number > 0 (or null: chosen by "
                             f"cross-validation), got {self.alpha!r}")


def ridge_loo(x: np.ndarray, ys: list[np.ndarray],
              alphas: tuple[float, ...]) -> list[dict[str, Any]]:
    """Ridge regressions of each target block in ``ys`` ((n, t) each) on ``x`` (n, p) with an
    unpenalised intercept, each block's penalty chosen from ``alphas`` by exact leave-one-out
    error (summed over its targets), from one eigendecomposition of the centred Gram matrix
    X'X = V diag(lam) V' shared by every block. With Z = X V, the hat matrix's diagonal is
    1/n + sum_k Z_ik^2 / (lam_k + alpha) and the leave-one-out prediction of row i is
    y_i - (y_i - yhat_i) / (1 - h_ii) (Golub, Heath and Wahba 1979): the same solution and
    choice as scikit-learn's ``RidgeCV`` (efficient LOO) in O(n p^2) once plus O(n p) per
    penalty. Per block: ``alpha``, ``coef`` (p, t), ``intercept`` (t,) and ``loo`` (n, t),
    the leave-one-out predictions at the chosen penalty."""
    n = x.shape[0]
    x_mean = x.mean(axis=0)
    centred = x - x_mean
    lam, v = np.linalg.eigh(centred.T @ centred)
    lam = np.clip(lam, 0.0, None)
    z = centred @ v  # (n, p)
    z2 = z * z
    fits = []
    for y in ys:
        y_mean = y.mean(axis=0)
        zty = z.T @ (y - y_mean)  # (p, t)
        best = None
        for alpha in alphas:
            inv = 1.0 / (lam + alpha)
            fitted = y_mean + z @ (inv[:, None] * zty)
            hat = 1.0 / n + z2 @ inv
            loo = y - (y - fitted) / (1.0 - hat)[:, None]
            error = float(((loo - y) ** 2).sum())
            if best is None or error < best[0]:
                best = (error, alpha, inv, loo)
        _, alpha, inv, loo = best
        coef = v @ (inv[:, None] * zty)
        fits.append({"alpha": float(alpha), "coef": coef, "intercept": y_mean - x_mean @ coef,
                     "loo": loo})
    return fits


class Linear(Estimator):
    """Per-LLM ridge regressions on the embeddings: one multi-output ridge for performance
    (clipped to [0, 1]) and one for cost (clipped to >= 0 USD), with an intercept, each
    penalty chosen by exact leave-one-out error (``ridge_loo``). (Adding the prompt's length
    as a feature, which ``Block.prompt_chars`` offers, did not help on the RouterBench slice:
    C^_opt 1.018 x knn-mean's with it, 1.024 x without.)"""

    name = "linear"
    label = "linear (ridge)"
    Params = LinearParams

    def fit(self, history: History, rng: np.random.Generator) -> None:
        super().fit(history, rng)
        rows = np.arange(history.n)
        if history.n > _LINEAR_SAMPLE:
            rows = np.sort(rng.choice(history.n, size=_LINEAR_SAMPLE, replace=False))
        #: the history rows the ridges are fitted on
        self.rows = rows
        x = history.vectors(rows).astype(np.float64)
        alphas = RIDGE_ALPHAS if self.p.alpha is None else (float(self.p.alpha),)
        self._fits = ridge_loo(x, [np.asarray(y, dtype=np.float64)[rows]
                                   for y in (history.perf, history.cost)], alphas)
        self.info = ({} if self.p.alpha is not None else
                     {f"alpha_{what}": fit["alpha"]
                      for what, fit in zip(("perf", "cost"), self._fits, strict=True)})

    def predict(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ridges' raw (unclipped) performance and cost predictions, (B, M) each."""
        x = np.asarray(vectors, dtype=np.float64)
        perf, cost = (x @ fit["coef"] + fit["intercept"] for fit in self._fits)
        return perf, cost

    def loo(self, positions: np.ndarray) -> np.ndarray:
        """(len(positions), 2M): the leave-one-out predictions (performance, then cost) of
        the training rows ``self.rows[positions]``: what the ridge predicts for each had it
        been fitted without it."""
        return np.concatenate([fit["loo"][positions] for fit in self._fits], axis=1)

    def estimate(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        perf, cost = self.predict(block.vectors)
        return np.clip(perf, 0.0, 1.0), np.clip(cost, 0.0, None)


# --------------------------------------------------------------------------- stacking
#: A history smaller than this gives ``stacked`` too little to fit on: it is the k-NN mean.
_STACK_MIN_HISTORY = 20


@dataclass(frozen=True)
class StackedParams:
    """``depths``: the neighbour counts whose k-NN means are stacked, as multiples of
    ``top_k`` (capped at the history's size); ``linear``: also stack the ridge regression
    (``linear``'s predictions); ``sample``: the history queries the weights are fitted on
    (drawn with the estimator's seeded stream)."""

    depths: tuple[int, ...] = (1, 4, 16)
    linear: bool = True
    sample: int = _SHRINK_SAMPLE

    def __post_init__(self) -> None:
        if not self.depths or any(d < 1 for d in self.depths) \
                or len(set(self.depths)) != len(self.depths):
            raise ParamError("depths", f"must be one or more different integers >= 1, got "
                             f"{list(self.depths)}")
        if self.sample < 16:
            raise ParamError("sample", f"must be at least 16, got {self.sample!r}")


class Stacked(_Stacked):
    """Stacked regression (Wolpert 1992; Breiman 1996): per LLM and per quantity, the
    estimate is a non-negative combination of k-NN means at several depths (``top_k`` x
    ``depths``), the ridge regression's prediction and the history's mean, with the weights
    fitted by non-negative least squares on out-of-sample predictions for the history's own
    queries (leave-one-out neighbour means and leave-one-out ridge predictions).
    Nothing is tuned by hand: the data decides how much each neighbourhood size, the
    embedding regression and the global prior are worth for each LLM, which is what
    ``knn-shrink`` (one depth and the prior) and ``ensemble`` (equal weights) fix in
    advance. ``info``: the fitted ``weights`` (2M x features: performance rows, then cost)."""

    name = "stacked"
    label = "stacked"
    Params = StackedParams

    def _depths(self, top_k: int, n_history: int) -> list[int]:
        cap = max(n_history - 1, 1)
        return sorted({min(d * top_k, cap) for d in self.p.depths})

    def neighbours(self, top_k: int, n_history: int) -> int:
        return min(max(self._depths(top_k, n_history)), n_history)

    def fit(self, history: History, rng: np.random.Generator) -> None:
        super().fit(history, rng)
        linear_rng, sample_rng = rng.spawn(2)
        self._ks = self._depths(history.top_k, history.n)
        self._linear = None
        # too few queries to learn a combination from (or to cross-fit): the k-NN mean
        self._plain = history.n < _STACK_MIN_HISTORY
        if self._plain:
            self.info = {}
            return
        pool = np.arange(history.n)
        if self.p.linear:
            self._linear = Linear()
            self._linear.fit(history, linear_rng)
            pool = self._linear.rows  # the rows the ridge has leave-one-out predictions for
        pick = np.sort(sample_rng.choice(pool.size, size=min(pool.size, self.p.sample),
                                         replace=False))
        rows = pool[pick]
        ids = loo_neighbours(history, rows, max(self._ks))
        columns = self._knn_features(ids)
        if self._linear is not None:
            columns.append(self._linear.loo(pick))
        self._combine_fit(columns, self._both[rows])

    def _combine_fit(self, columns: list[np.ndarray], truth: np.ndarray) -> None:
        """Fit the combination of the out-of-sample ``columns`` ((n, 2M) each) to ``truth``:
        per column, non-negative least squares on its own features and the prior."""
        features = self._with_prior(columns)
        self._weights = np.stack([scipy.optimize.nnls(features[:, c, :], truth[:, c])[0]
                                  for c in range(truth.shape[1])])
        self.info = {"weights": self._weights.copy()}

    def _combine(self, columns: list[np.ndarray]) -> np.ndarray:
        return np.einsum("ncf,cf->nc", self._with_prior(columns), self._weights)

    def _knn_features(self, ids: np.ndarray) -> list[np.ndarray]:
        """The k-NN means at each depth (the nearest ``k`` of ``ids``): (n, 2M) each."""
        return [neighbour_means(self._both, self._fallback, ids[:, :k]) for k in self._ks]

    def _with_prior(self, columns: list[np.ndarray]) -> np.ndarray:
        """(n, 2M, features): the stacked columns and the history's mean."""
        prior = np.broadcast_to(self._fallback, columns[0].shape)
        return np.stack([*columns, prior], axis=2)

    def estimate(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        columns = self._knn_features(block.ids)
        if self._plain:
            return self._split(columns[0])
        if self._linear is not None:
            perf, cost = self._linear.predict(block.vectors)
            columns.append(np.concatenate([perf, cost], axis=1))
        perf, cost = self._split(self._combine(columns))
        return np.clip(perf, 0.0, 1.0), np.clip(cost, 0.0, None)


class StackedJoint(Stacked):
    """``stacked`` across LLMs: each LLM's performance (cost) is a ridge regression on the
    out-of-sample features of EVERY LLM's performance (cost), standardised, the penalty
    chosen by exact leave-one-out error (``ridge_loo``). How the other LLMs fared on a
    query's neighbours says how hard the query is, which pools k x M observations per
    estimate instead of k (a learned, linear item-response model); it pays where LLMs agree
    on what is hard (many tasks of different difficulty) and costs where the history is too
    small for M x features weights. ``info``: the chosen penalties."""

    name = "stacked-joint"
    label = "stacked (joint)"

    def _blocks(self, columns: list[np.ndarray]) -> list[np.ndarray]:
        """Per quantity (performance, cost): the (n, M x features) design."""
        m = self.history.m
        return [np.concatenate([c[:, q] for c in columns], axis=1)
                for q in (slice(0, m), slice(m, 2 * m))]

    def _combine_fit(self, columns: list[np.ndarray], truth: np.ndarray) -> None:
        m = self.history.m
        self._scales, self._fits = [], []
        for x, q in zip(self._blocks(columns), (slice(0, m), slice(m, 2 * m)), strict=True):
            scale = x.std(axis=0)
            scale[scale == 0] = 1.0  # a constant feature: left as it is (the ridge centres it)
            self._scales.append(scale)
            self._fits.extend(ridge_loo(x / scale, [truth[:, q]], RIDGE_ALPHAS))
        self.info = {f"alpha_{what}": fit["alpha"]
                     for what, fit in zip(("perf", "cost"), self._fits, strict=True)}

    def _combine(self, columns: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([(x / scale) @ fit["coef"] + fit["intercept"] for x, scale, fit
                               in zip(self._blocks(columns), self._scales, self._fits,
                                      strict=True)], axis=1)


# --------------------------------------------------------------------------- ensemble
@dataclass(frozen=True)
class EnsembleParams:
    """``members``: the built-in estimators (with their defaults) whose estimates are averaged,
    two or more."""

    members: tuple[str, ...] = ("knn-mean", "linear")

    def __post_init__(self) -> None:
        if len(self.members) < 2 or len(set(self.members)) != len(self.members):
            raise ParamError("members", f"must name two or more different estimators, got "
                             f"{list(self.members)}")
        bad = [m for m in self.members if m not in ESTIMATORS or m == "ensemble"]
        if bad:
            raise ParamError("members", f"unknown member {bad[0]!r}; valid: "
                             f"{', '.join(e for e in ESTIMATORS if e != 'ensemble')}")


class Ensemble(Estimator):
    """The mean of its members' estimates (each fitted on its own child of the stream)."""

    name = "ensemble"
    label = "ensemble"
    Params = EnsembleParams

    def fit(self, history: History, rng: np.random.Generator) -> None:
        super().fit(history, rng)
        self._members = [ESTIMATORS[m]() for m in self.p.members]
        for member, child in zip(self._members, rng.spawn(len(self._members)), strict=True):
            member.fit(history, child)
        self.info = {m.name: m.info for m in self._members if m.info}

    def estimate(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        outs = [m.estimate(block) for m in self._members]
        k = float(len(outs))
        return sum(o[0] for o in outs) / k, sum(o[1] for o in outs) / k


# --------------------------------------------------------------------------- catalogue
ESTIMATORS: dict[str, type[Estimator]] = {
    cls.name: cls
    for cls in (KnnMean, KnnWeighted, KnnShrink, KnnCalibrated, Linear, Stacked, StackedJoint,
                Ensemble)
}


def estimator_class(name: str) -> type[Estimator]:
    """The class of estimator ``name``: a built-in, an installed entry point of
    ``routebench.estimators``, or ``module:Class`` / ``path/to/file.py:Class``."""
    if name in ESTIMATORS:
        return ESTIMATORS[name]
    found = plugins.entry_point_class(ENTRY_POINT_GROUP, name, Estimator, "estimator",
                                      EstimatorError)
    if found is not None:
        return found
    if ":" in name:
        return plugins.load_class(name, Estimator, "estimator", EstimatorError)
    from routebench.catalogue import did_you_mean

    raise EstimatorError(
        f"unknown estimator {name!r}{did_you_mean(name, tuple(ESTIMATORS))}; built-in: "
        f"{', '.join(ESTIMATORS)}; a plug-in is given as module:Class or installed in the "
        f"entry-point group {ENTRY_POINT_GROUP!r}")


def make_estimator(name: str, **values: Any) -> Estimator:
    """Build estimator ``name`` with its parameters (checked by its ``Params``)."""
    return estimator_class(name)(**values)


def resolve_params(name: str, given: Any = None) -> dict[str, Any]:
    """Every parameter of estimator ``name``: ``given`` checked, defaults for the rest."""
    cls = estimator_class(name)
    return asdict(params.build(cls.Params, dict(given or {}), prefix="estimator.",
                               error=EstimatorParamError))


def check_output(name: str, out: Any, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """An estimator's (perf_hat, cost_hat) for a block of ``n`` queries, checked: two float
    (n, m) arrays, performance in [0, 1], costs finite and >= 0 USD."""
    if not (isinstance(out, tuple) and len(out) == 2):
        raise EstimatorError(f"estimator {name!r} must return (perf_hat, cost_hat), got "
                             f"{type(out).__name__}")
    perf, cost = (np.asarray(a, dtype=np.float64) for a in out)
    for label, arr in (("perf_hat", perf), ("cost_hat", cost)):
        if arr.shape != (n, m):
            raise EstimatorError(f"estimator {name!r} returned {label} of shape {arr.shape} "
                                 f"for {n} queries x {m} LLMs")
        if not np.isfinite(arr).all():
            raise EstimatorError(f"estimator {name!r} returned NaN or infinite {label}")
    if perf.size and (perf.min() < 0 or perf.max() > 1):
        raise EstimatorError(f"estimator {name!r} returned perf_hat outside [0, 1] "
                             f"({perf.min():.4g} .. {perf.max():.4g})")
    if cost.size and cost.min() < 0:
        raise EstimatorError(f"estimator {name!r} returned negative cost_hat "
                             f"({cost.min():.4g} USD)")
    return perf, cost
