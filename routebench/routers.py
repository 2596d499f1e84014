"""Online routers: PORT (Wu & Silwal, NeurIPS 2025, Algorithm 1) and the baselines of PORT.md
section 5, and the router catalogue that ``simulate`` runs them from.

Every router sees only estimates (``perf_hat`` d^_ij, ``cost_hat`` g^_ij in USD, from the k-NN
search over the historical set), the per-LLM budgets ``B`` (USD) and its own seeded
``numpy.random.Generator``; never the true outcomes nor which queries were served. Each one
produces its whole decision vector (int64 (N,), LLM index or -1 = drop) from estimates alone, so
the serve-or-drop replay (``routebench.engine``) runs once afterwards, identically for all.

Names follow the paper: ``eps`` (fraction of the stream in PORT's learning phase), ``alpha``
(performance scale in PORT's objective), ``gamma`` (per-LLM budget shadow prices).

**A router class declares everything the harness needs** (``Router``): ``name``; ``label`` and
``colour`` (built-ins take theirs from ``routebench.catalogue``); ``stream``, the named random
stream it draws from (``routebench.seeding``; None for a deterministic router); ``needs_exact``,
whether it reads exact k-NN estimates; and ``Params``, a frozen dataclass of its parameters
with defaults, whose ``__post_init__`` checks ranges (types are checked from the annotations).
Adding a router is one class; ``register_router`` adds it to the catalogue at run time, and
``simulate`` also finds plug-ins by ``module:Class`` or through the entry-point group
``routebench.routers``. ``make_router(name, **params)`` builds one; ``router.route(stream,
rng)`` returns the choices and leaves router-specific facts (PORT's fitted ``gamma``, ...) in
``router.info``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numba
import numpy as np
import scipy.optimize
import scipy.sparse

from routebench import catalogue, params, plugins
from routebench.engine import Feedback, Horizon, Outcome, replay, run_closed_loop
from routebench.errors import ParamError
from routebench.oracle import check_milp_solver, solve_lp, solve_milp

DROP = -1
#: The solvers PORT can use for gamma: the public code's L-BFGS-B, or an exact LP.
GAMMA_SOLVERS = catalogue.GAMMA_SOLVERS
#: Rows per block when scoring a long stream, to bound temporary memory (queries).
_CHUNK = 1 << 16


class RouterError(ValueError):
    """A bad router name, parameter or input."""


class RouterParamError(ParamError, RouterError):
    """A router parameter of the wrong type or out of range; ``param`` is ``router.name``
    (e.g. ``port.eps``)."""


@dataclass(frozen=True)
class NoParams:
    """The parameters of a router that has none."""


# --------------------------------------------------------------------------- input
@dataclass(frozen=True, eq=False)
class StreamInput:
    """What an online router may see of a test stream, in arrival order.

    ``perf_hat`` / ``cost_hat``: float64 (N, M) ANNS estimates of performance (in [0, 1]) and
    cost (USD); ``perf_hat_exact`` / ``cost_hat_exact``: exact k-NN estimates, read only by
    ``knn-perf`` / ``knn-cost`` (None when not needed); ``budgets``: float64 (M,) USD;
    ``models``: the M LLM names; ``history_perf`` / ``history_cost``: float64 (H, M), the
    historical log's TRUE performance and USD costs (what the estimates average over; read by
    the closed-loop routers' price prior), or None.
    """

    perf_hat: np.ndarray
    cost_hat: np.ndarray
    budgets: np.ndarray
    models: tuple[str, ...]
    perf_hat_exact: np.ndarray | None = None
    cost_hat_exact: np.ndarray | None = None
    history_perf: np.ndarray | None = None
    history_cost: np.ndarray | None = None

    def __post_init__(self) -> None:
        models = tuple(str(m) for m in self.models)
        object.__setattr__(self, "models", models)
        m = len(models)
        for name in ("perf_hat", "cost_hat", "perf_hat_exact", "cost_hat_exact", "history_perf",
                     "history_cost"):
            value = getattr(self, name)
            if value is None:
                if name in ("perf_hat", "cost_hat"):
                    raise RouterError(f"StreamInput.{name} is required")
                continue
            arr = np.ascontiguousarray(value, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != m:
                raise RouterError(
                    f"StreamInput.{name} must have shape (N, {m}) for {m} models, got {arr.shape}"
                )
            if name.startswith("history"):
                if (self.history_perf is None) != (self.history_cost is None):
                    raise RouterError("StreamInput.history_perf and history_cost go together")
                if arr.shape != np.shape(self.history_perf):
                    raise RouterError("StreamInput.history_cost must have the shape of "
                                      "history_perf")
            elif arr.shape[0] != np.shape(self.perf_hat)[0]:
                raise RouterError(
                    f"StreamInput.{name} has {arr.shape[0]} rows but perf_hat has "
                    f"{np.shape(self.perf_hat)[0]}"
                )
            if not np.isfinite(arr).all():
                raise RouterError(f"StreamInput.{name} holds NaN or infinite values")
            if name.startswith("cost") and (arr < 0).any():
                raise RouterError(f"StreamInput.{name} holds negative USD costs")
            object.__setattr__(self, name, arr)
        budgets = np.asarray(self.budgets, dtype=np.float64)
        if budgets.shape != (m,):
            raise RouterError(f"StreamInput.budgets must have shape ({m},), got {budgets.shape}")
        if not np.isfinite(budgets).all() or (budgets < 0).any():
            raise RouterError(f"budgets must be finite and >= 0 USD, got {budgets.tolist()}")
        object.__setattr__(self, "budgets", budgets)

    @property
    def n(self) -> int:
        """Number of queries in the stream."""
        return int(self.perf_hat.shape[0])

    @property
    def m(self) -> int:
        """Number of LLMs."""
        return len(self.models)

    def exact(self) -> tuple[np.ndarray, np.ndarray]:
        """The exact k-NN estimates; refuses when the caller did not supply them."""
        if self.perf_hat_exact is None or self.cost_hat_exact is None:
            raise RouterError(
                "this router reads exact k-NN estimates: pass StreamInput.perf_hat_exact and "
                "cost_hat_exact"
            )
        return self.perf_hat_exact, self.cost_hat_exact


def _need_rng(rng: np.random.Generator | None, router: str) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise RouterError(
            f"router {router!r} draws random numbers: pass a numpy Generator from "
            f"routebench.seeding, got {type(rng).__name__}"
        )
    return rng


# --------------------------------------------------------------------------- base class
class Router(ABC):
    """One online router. Subclasses set ``name`` (and the other class attributes below when
    they differ from the defaults) and implement ``_route``; ``self.p`` holds their ``Params``.
    """

    #: The router's name in configs and results.
    name: ClassVar[str]
    #: How tables and figures show it; None: the catalogue's entry (built-ins) or ``name``.
    label: ClassVar[str | None] = None
    #: Its colour in every figure (hex); None: the catalogue's, or a stable fallback.
    colour: ClassVar[str | None] = None
    #: The named random stream it draws from (``routebench.seeding.stream_rng``), or None when
    #: it draws none. A name outside ``seeding.STREAMS`` gets a stream of its own.
    stream: ClassVar[str | None] = None
    #: Whether it reads the exact k-NN estimates (``StreamInput.exact()``).
    needs_exact: ClassVar[bool] = False
    #: Its parameters: a frozen dataclass with defaults that checks ranges in __post_init__.
    Params: ClassVar[type] = NoParams

    def __init__(self, **values: Any) -> None:
        self.p = params.build(self.Params, values, prefix=f"{self.name}.",
                              error=RouterParamError)
        self.info: dict[str, Any] = {}

    def params(self) -> dict[str, Any]:
        """The router's parameters, every one of them (for manifests)."""
        return asdict(self.p)

    @classmethod
    def entry(cls, name: str | None = None) -> catalogue.Entry:
        """How results show this router (stored in each run's manifest); ``name`` is the name
        the run knows it by (a plug-in's ``module:Class``), default ``cls.name``."""
        name = name or cls.name
        base = catalogue.entry(cls.name)
        return catalogue.Entry(name, cls.label or base.label, cls.colour or base.colour,
                               "online")

    def route(self, stream: StreamInput, rng: np.random.Generator | None = None) -> np.ndarray:
        """Decisions for the whole stream: int64 (N,), LLM index or -1 (drop)."""
        if not isinstance(stream, StreamInput):
            raise RouterError(f"route() needs a StreamInput, got {type(stream).__name__}")
        if self.stream is not None:
            _need_rng(rng, self.name)
        self.info = {}
        choices = np.asarray(self._route(stream, rng), dtype=np.int64)
        if choices.shape != (stream.n,):
            raise RouterError(
                f"router {self.name!r} returned {choices.shape} decisions for {stream.n} queries"
            )
        return choices

    @abstractmethod
    def _route(self, stream: StreamInput, rng: np.random.Generator | None) -> np.ndarray: ...

    def run(self, stream: StreamInput, perf: np.ndarray, cost: np.ndarray,
            rng: np.random.Generator | None = None, *, every: int = 1,
            quality: bool = False, run_name: str | None = None) -> Outcome:
        """Route ``stream`` and serve it against the TRUE ``perf`` / ``cost`` (USD): the
        engine's loop (``routebench.engine``). An open-loop router decides from estimates alone
        (``route``), so its decisions are replayed in one compiled pass; ``every`` and
        ``quality`` (the feedback options) only matter to routers with feedback."""
        return replay(self.route(stream, rng), perf, cost, stream.budgets)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- PORT
def learning_size(n: int, eps: float) -> int:
    """Queries in PORT's learning phase: ceil(eps x N), at most N."""
    return min(int(n), math.ceil(eps * n))


def port_objective(
    gamma: np.ndarray,
    perf_hat: np.ndarray,
    cost_hat: np.ndarray,
    budgets: np.ndarray,
    eps: float,
    alpha: float,
) -> float:
    """PORT's sample dual F(gamma) = eps sum_i gamma_i B_i + sum_j max_i (alpha d^_ij - gamma_i
    g^_ij) over the learning-set rows ``perf_hat`` / ``cost_hat`` (max over LLMs only, as the
    public code). Units: USD-scaled performance; only its minimiser matters."""
    gamma = np.asarray(gamma, dtype=np.float64)
    scores = alpha * perf_hat - cost_hat * gamma
    return float(eps * np.dot(gamma, budgets) + scores.max(axis=1).sum())


@dataclass(frozen=True)
class GammaFit:
    """The fitted shadow prices and how they were found."""

    gamma: np.ndarray
    objective: float
    solver: str
    success: bool
    message: str


def sample_dual(
    perf_hat: np.ndarray, cost_hat: np.ndarray, budgets: np.ndarray, eps: float, alpha: float
) -> Callable[[np.ndarray], float]:
    """``port_objective`` as a function of gamma alone, for the optimiser's many calls.

    Equal to ``port_objective`` bit for bit (the same products and differences per entry; the
    max is exact whatever its order; the same pairwise sum over queries), but it keeps
    alpha d^ and g^ LLM-major and takes the max over LLMs as M vectorised passes over the
    queries instead of a short-row reduction: about 40x faster on 25,000 learning queries."""
    scaled = np.ascontiguousarray((alpha * np.asarray(perf_hat, dtype=np.float64)).T)
    costs = np.ascontiguousarray(np.asarray(cost_hat, dtype=np.float64).T)
    budgets = np.asarray(budgets, dtype=np.float64)
    m = scaled.shape[0]

    def objective(gamma: np.ndarray) -> float:
        gamma = np.asarray(gamma, dtype=np.float64)
        best = scaled[0] - costs[0] * gamma[0]
        tmp = np.empty_like(best)
        for i in range(1, m):  # over LLMs; each pass is vectorised over the queries
            np.multiply(costs[i], gamma[i], out=tmp)
            np.subtract(scaled[i], tmp, out=tmp)
            np.maximum(best, tmp, out=best)
        return float(eps * np.dot(gamma, budgets) + best.sum())

    return objective


def _fit_lbfgsb(p: np.ndarray, g: np.ndarray, budgets: np.ndarray, eps: float, alpha: float):
    m = budgets.size
    res = scipy.optimize.minimize(
        sample_dual(p, g, budgets, eps, alpha),
        np.full(m, 1.0 / m),
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * m,
    )
    return np.clip(res.x, 0.0, 1.0), bool(res.success), str(res.message)


def _fit_lp(p: np.ndarray, g: np.ndarray, budgets: np.ndarray, eps: float, alpha: float):
    # min eps B.gamma + sum_j t_j  s.t.  t_j >= alpha d^_ij - gamma_i g^_ij,  gamma in [0, 1]^M.
    # Solved in rescaled units (u = gamma G / alpha, t' = t / alpha, g' = g / G) so every
    # coefficient is O(1) and HiGHS's absolute tolerances are meaningful at USD magnitudes.
    n, m = p.shape
    scale = float(g.max()) if g.size and g.max() > 0 else 1.0
    gs = g / scale
    c = np.concatenate([eps * budgets / scale, np.ones(n)])
    rows = np.arange(n * m)
    a = scipy.sparse.csr_matrix(
        (
            np.concatenate([-gs.ravel(), -np.ones(n * m)]),
            (np.concatenate([rows, rows]), np.concatenate([np.tile(np.arange(m), n),
                                                           m + np.repeat(np.arange(n), m)])),
        ),
        shape=(n * m, m + n),
    )
    bounds = [(0.0, scale / alpha)] * m + [(None, None)] * n
    res = scipy.optimize.linprog(c, A_ub=a, b_ub=-p.ravel(), bounds=bounds, method="highs-ipm")
    if res.x is None:
        raise RouterError(f"PORT gamma LP failed: {res.message}")
    gamma = np.clip(res.x[:m] * alpha / scale, 0.0, 1.0)
    return gamma, bool(res.status == 0), str(res.message)


def fit_gamma(
    perf_hat: np.ndarray,
    cost_hat: np.ndarray,
    budgets: np.ndarray,
    eps: float,
    alpha: float,
    solver: str = "lbfgsb",
) -> GammaFit:
    """Minimise PORT's sample dual ``port_objective`` over gamma in [0, 1]^M.

    ``lbfgsb``: the public code's choice (scipy L-BFGS-B from 1/M, finite-difference gradients;
    F is piecewise linear, so this is approximate). ``lp``: the exact minimum, as an LP with
    M + |learning set| variables solved by HiGHS's interior point method with crossover (about
    0.01 s for 250 learning queries, 14 s for 25,000 on one core).
    """
    if solver not in GAMMA_SOLVERS:
        raise RouterError(f"unknown gamma solver {solver!r}; valid: {', '.join(GAMMA_SOLVERS)}")
    p = np.asarray(perf_hat, dtype=np.float64)
    g = np.asarray(cost_hat, dtype=np.float64)
    b = np.asarray(budgets, dtype=np.float64)
    if p.shape[0] == 0:
        raise RouterError("PORT needs at least one learning-phase query to fit gamma")
    fit = _fit_lbfgsb if solver == "lbfgsb" else _fit_lp
    gamma, ok, message = fit(p, g, b, eps, alpha)
    return GammaFit(gamma, port_objective(gamma, p, g, b, eps, alpha), solver, ok, message)


def port_decisions(
    perf_hat: np.ndarray, cost_hat: np.ndarray, gamma: np.ndarray, alpha: float
) -> np.ndarray:
    """int64 (N,): argmax_i (alpha d^_ij - gamma_i g^_ij) per row (ties -> lowest index)."""
    n = perf_hat.shape[0]
    out = np.empty(n, dtype=np.int64)
    for start in range(0, n, _CHUNK):  # blocks of rows, to bound temporary memory
        sl = slice(start, start + _CHUNK)
        scores = alpha * perf_hat[sl]
        scores -= cost_hat[sl] * gamma
        out[sl] = scores.argmax(axis=1)
    return out


def port_decide(perf_hat_row: np.ndarray, cost_hat_row: np.ndarray, gamma: np.ndarray,
                alpha: float) -> int:
    """PORT's decision for one arriving query after the learning phase: the LLM index that
    maximises alpha d^_i - gamma_i g^_i. Same arithmetic as ``port_decisions``."""
    scores = alpha * perf_hat_row
    scores = scores - cost_hat_row * gamma
    return int(scores.argmax())


@dataclass(frozen=True)
class PortParams:
    """PORT's parameters (the paper's names): ``eps`` the fraction of the stream in the learning
    phase, ``alpha`` the performance scale in the objective, ``gamma_solver`` how gamma is fitted
    (``lbfgsb``: the public code's L-BFGS-B; ``lp``: the exact sample dual)."""

    eps: float = 0.025
    alpha: float = 1e-4
    gamma_solver: str = "lbfgsb"

    def __post_init__(self) -> None:
        if not 0 < self.eps < 1:
            raise ParamError("eps", f"must lie in (0, 1), got {self.eps!r}")
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ParamError("alpha", f"must be a finite number > 0, got {self.alpha!r}")
        if self.gamma_solver not in GAMMA_SOLVERS:
            raise ParamError("gamma_solver", f"unknown gamma solver {self.gamma_solver!r}; "
                             f"valid: {', '.join(GAMMA_SOLVERS)}")


class PortRouter(Router):
    """PORT (Algorithm 1): a learning phase of ceil(eps N) queries routed uniformly over {drop,
    1..M}; one fit of gamma on their estimates; then argmax_i (alpha d^_ij - gamma_i g^_ij).
    It never looks at budgets after the fit. ``info``: ``gamma``, ``n_learn``, ``objective``
    (F at gamma), ``solver``, ``success``, ``message``."""

    name = "port"
    stream = "port_learning"
    Params = PortParams

    def _route(self, stream: StreamInput, rng: np.random.Generator | None) -> np.ndarray:
        rng = _need_rng(rng, self.name)
        n, m = stream.n, stream.m
        if n == 0:
            raise RouterError("PORT needs a non-empty stream")
        p = self.p
        n_learn = learning_size(n, p.eps)
        choices = np.empty(n, dtype=np.int64)
        # Option M of M + 1 is "drop", as in the public code's randint(0, M + 1).
        draws = rng.integers(0, m + 1, size=n_learn)
        choices[:n_learn] = np.where(draws == m, DROP, draws)
        fit = fit_gamma(
            stream.perf_hat[:n_learn],
            stream.cost_hat[:n_learn],
            stream.budgets,
            p.eps,
            p.alpha,
            p.gamma_solver,
        )
        choices[n_learn:] = port_decisions(
            stream.perf_hat[n_learn:], stream.cost_hat[n_learn:], fit.gamma, p.alpha
        )
        self.info = {
            "gamma": fit.gamma,
            "n_learn": n_learn,
            "objective": fit.objective,
            "solver": fit.solver,
            "success": fit.success,
            "message": fit.message,
        }
        return choices


# --------------------------------------------------------------------------- baselines
class RandomRouter(Router):
    """Uniform over the M LLMs (never drops)."""

    name = "random"
    stream = "random_router"

    def _route(self, stream: StreamInput, rng: np.random.Generator | None) -> np.ndarray:
        return _need_rng(rng, self.name).integers(0, stream.m, size=stream.n)


class GreedyPerfRouter(Router):
    """argmax_i d^_ij on the ANNS estimates (ties -> lowest index)."""

    name = "greedy-perf"

    def _route(self, stream: StreamInput, rng: np.random.Generator | None) -> np.ndarray:
        perf_hat = stream.exact()[0] if self.needs_exact else stream.perf_hat
        return perf_hat.argmax(axis=1)


@numba.njit(cache=True, nogil=True)
def _greedy_cost_kernel(cost_hat, budgets, out):  # pragma: no cover
    remaining = budgets.copy()
    m = remaining.shape[0]
    for j in range(cost_hat.shape[0]):
        best = 0
        for i in range(1, m):
            if remaining[i] > remaining[best]:
                best = i
        out[j] = best
        remaining[best] -= cost_hat[j, best]


def greedy_cost_choices(cost_hat: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """int64 (N,): each query to the LLM with the largest remaining ESTIMATED budget (USD),
    B_i minus g^ of the queries already sent to i, dropped or not (ties -> lowest index)."""
    cost_hat = np.ascontiguousarray(cost_hat, dtype=np.float64)
    budgets = np.ascontiguousarray(budgets, dtype=np.float64)
    out = np.empty(cost_hat.shape[0], dtype=np.int64)
    _greedy_cost_kernel(cost_hat, budgets, out)
    return out


def greedy_cost_reference(cost_hat: np.ndarray, budgets: np.ndarray) -> np.ndarray:
    """Plain-Python statement of ``greedy_cost_choices`` (tests compare the two bit for bit)."""
    remaining = np.array(budgets, dtype=np.float64)
    out = np.empty(cost_hat.shape[0], dtype=np.int64)
    for j in range(cost_hat.shape[0]):
        i = int(np.argmax(remaining))
        out[j] = i
        remaining[i] -= cost_hat[j, i]
    return out


class GreedyCostRouter(Router):
    """The LLM with the largest remaining estimated budget (not "the cheapest LLM")."""

    name = "greedy-cost"

    def _route(self, stream: StreamInput, rng: np.random.Generator | None) -> np.ndarray:
        cost_hat = stream.exact()[1] if self.needs_exact else stream.cost_hat
        return greedy_cost_choices(cost_hat, stream.budgets)


class KnnPerfRouter(GreedyPerfRouter):
    """Greedy-Perf on exact k-NN estimates."""

    name = "knn-perf"
    needs_exact = True


class KnnCostRouter(GreedyCostRouter):
    """Greedy-Cost on exact k-NN estimates."""

    name = "knn-cost"
    needs_exact = True


#: BatchSplit's default branch-and-bound node limit per batch (``solve_milp(node_limit=...)``),
#: deterministic where the former 10 s wall-clock limit was not. Measured on the RouterBench
#: slice at budget 1: nearly every batch is solved at the root, and seeds 0-9 (1,500, 2,000 and
#: 3,000 test queries) and the synthetic default route exactly as under the 10 s limit; about 1
#: seed in 30 has a batch needing 220-1,007 nodes (1-5 s), which now stops here, and a few need
#: over 200,000, which the 10 s limit stopped too. At budget 0.25 the first batch spends 4-9 s
#: in the root and 5-20 ms per node without closing its gap, so 100 nodes keep every seed within
#: the former 10 s (200 would not).
DEFAULT_BATCH_NODE_LIMIT: int = 100


@dataclass(frozen=True)
class BatchSplitParams:
    """BatchSplit's parameters: ``batch_size`` queries per batch; ``node_limit`` the
    branch-and-bound nodes of each batch's solve (deterministic: never a wall-clock limit);
    ``mip_rel_gap`` the solver's relative optimality tolerance; ``solver`` the MILP solver of
    each batch: ``highs``, ``pulp`` (PuLP's bundled CBC) or ``pulp:<SOLVER>`` (checked, with
    its availability, by ``routebench.oracle.check_milp_solver``)."""

    batch_size: int = 256
    node_limit: int = DEFAULT_BATCH_NODE_LIMIT
    mip_rel_gap: float = 1e-3
    solver: str = "highs"

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ParamError("batch_size", f"must be an integer >= 1, got {self.batch_size!r}")
        if self.node_limit < 1:
            raise ParamError("node_limit", f"must be an integer >= 1, got {self.node_limit!r}")
        if not 0 <= self.mip_rel_gap < 1:
            raise ParamError("mip_rel_gap", f"must lie in [0, 1), got {self.mip_rel_gap!r}")
        check_milp_solver(self.solver, node_limit=True, error=ParamError)


class BatchSplitRouter(Router):
    """Consecutive batches of ``batch_size`` queries; each solves the 0/1 routing problem on the
    estimates with the remaining estimated budgets (B_i minus g^ of queries assigned so far,
    clipped at 0 USD); queries the solution leaves out are dropped. Each batch is solved by
    ``routebench.oracle.solve_milp`` (HiGHS, or a PuLP solver with ``solver``), so the MILP
    model lives in one place; ``node_limit`` (branch-and-bound nodes, deterministic: never a
    wall-clock limit) and
    ``mip_rel_gap`` bound each batch's solve (a 1e-3 gap keeps a 10,000-query stream around a
    second; proving 1e-4 can take seconds per batch for the same routes to within 0.01 %).
    ``info``: ``batches`` and ``limit_batches`` (batches whose solve the node limit stopped:
    their routes are deterministic but may fall short of the batch optimum)."""

    name = "batch-split"
    Params = BatchSplitParams

    def _route(self, stream: StreamInput, rng: np.random.Generator | None) -> np.ndarray:
        n, m = stream.n, stream.m
        choices = np.full(n, DROP, dtype=np.int64)
        spent = np.zeros(m)
        batches = limit_batches = 0
        for start in range(0, n, self.p.batch_size):
            sl = slice(start, start + self.p.batch_size)
            p, g = stream.perf_hat[sl], stream.cost_hat[sl]
            remaining = np.clip(stream.budgets - spent, 0.0, None)
            res = solve_milp(
                p, g, remaining, node_limit=self.p.node_limit, mip_rel_gap=self.p.mip_rel_gap,
                solver=self.p.solver,
            )
            picked = res.choices
            limit_batches += int(res.limit_hit)
            choices[sl] = picked
            sent = picked >= 0
            spent += np.bincount(picked[sent], weights=g[sent, picked[sent]], minlength=m)
            batches += 1
        self.info = {"batches": batches, "limit_batches": limit_batches}
        return choices


# --------------------------------------------------------------------------- closed loop
class OnlineRouter(Router):
    """A router with feedback (``routebench.engine.run_closed_loop``): it sees the stream as it
    arrives and learns what each decision cost.

    Subclasses implement ``decide(start, perf_hat, cost_hat)``: the decisions for the block of
    queries ``start, start + 1, ...`` (``perf_hat`` / ``cost_hat`` float64 (B, M), read-only;
    B = ``horizon.every``, 1 by default), as B LLM indices or -1 to drop (an int when B is 1).
    They may override ``start(horizon, rng)`` (called once before the first query; the base
    keeps ``self.horizon`` and ``self.rng``) and ``update(feedback)`` (after each block: served
    or not, realised USD costs, remaining budgets; see ``routebench.engine.Feedback``). A
    router never sees a later query's estimates, nor any true outcome but the feedback."""

    horizon: Horizon
    rng: np.random.Generator | None

    def start(self, horizon: Horizon, rng: np.random.Generator | None) -> None:
        """Called once before the first query."""
        self.horizon = horizon
        self.rng = rng

    @abstractmethod
    def decide(self, start: int, perf_hat: np.ndarray, cost_hat: np.ndarray) -> Any: ...

    def update(self, feedback: Feedback) -> None:
        """Called after each block with what the engine observed (default: ignore it)."""

    def _route(self, stream: StreamInput, rng: np.random.Generator | None) -> np.ndarray:
        raise RouterError(f"router {self.name!r} learns from feedback: it needs the true costs "
                          "to run, so use run(stream, perf, cost, rng), not route()")

    def run(self, stream: StreamInput, perf: np.ndarray, cost: np.ndarray,
            rng: np.random.Generator | None = None, *, every: int = 1,
            quality: bool = False, run_name: str | None = None) -> Outcome:
        """The engine's closed loop (``run_closed_loop``); ``run_name`` is the name the run
        knows this router by (a plug-in's ``module:Class``), for messages."""
        if not isinstance(stream, StreamInput):
            raise RouterError(f"run() needs a StreamInput, got {type(stream).__name__}")
        if self.stream is not None:
            _need_rng(rng, self.name)
        self.info = {}
        horizon = Horizon(n=stream.n, budgets=_frozen(stream.budgets), models=stream.models,
                          every=int(every), quality=bool(quality),
                          history_perf=_frozen(stream.history_perf),
                          history_cost=_frozen(stream.history_cost))
        who = repr(self.name) + ("" if run_name in (None, self.name) else f" ({run_name})")
        return run_closed_loop(self, stream.perf_hat, stream.cost_hat,
                               np.asarray(perf, dtype=np.float64),
                               np.asarray(cost, dtype=np.float64), horizon, rng, who=who)


def _frozen(a: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None
    view = np.asarray(a).view()
    view.flags.writeable = False
    return view


@numba.njit(cache=True, nogil=True)
def _price_decide(perf_hat, cost_hat, gamma, remaining, aware, drop, out):  # pragma: no cover
    # Per row: argmax_i (d^_i - gamma_i g^_i) over the LLMs whose remaining budget covers g^_i
    # (aware) -- less what the block's earlier rows committed -- or over all LLMs; with the drop
    # option the best value must be > 0. No LLM -> -1. Ties -> lowest index.
    left = remaining.copy()
    for r in range(perf_hat.shape[0]):
        best = -1
        best_v = 0.0
        for i in range(perf_hat.shape[1]):
            c = cost_hat[r, i]
            if aware and left[i] < c:
                continue
            v = perf_hat[r, i] - gamma[i] * c
            if (best < 0 and not drop) or v > best_v:
                best = i
                best_v = v
        if best >= 0:
            left[best] -= cost_hat[r, best]
        out[r] = best


@numba.njit(cache=True, nogil=True)
def _descent_update(gamma, choices, served, charged, pace, eta, multiplicative,
                    floor):  # pragma: no cover
    # One dual (mirror) descent step per query of the block, on each LLM's pace gap 1 - s_i with
    # s_i = realised spend / pace (normalised units): overspending raises the price.
    for r in range(choices.shape[0]):
        for i in range(gamma.shape[0]):
            if pace[i] <= 0.0:
                continue
            s = charged[r] / pace[i] if (served[r] and choices[r] == i) else 0.0
            g = 1.0 - s
            if multiplicative:
                gamma[i] = max(gamma[i] * math.exp(-eta * g), floor[i])
            else:
                gamma[i] = max(0.0, gamma[i] - eta * g / pace[i])


def price_decisions(perf_hat: np.ndarray, cost_hat: np.ndarray, gamma: np.ndarray,
                    remaining: np.ndarray, *, aware: bool = True, drop: bool = True) -> np.ndarray:
    """int64 (B,): the priced decision of each row (ONLINE-LP.md sections 1 and 4): the LLM
    maximising d^_ij - gamma_i g^_ij (gamma in perf per USD), -1 when the best value is not
    positive (``drop``); with ``aware`` only LLMs whose ``remaining`` budget (USD, less the
    estimated cost of the block's earlier decisions) covers the estimated cost. Compiled."""
    out = np.empty(perf_hat.shape[0], dtype=np.int64)
    _price_decide(np.ascontiguousarray(perf_hat, dtype=np.float64),
                  np.ascontiguousarray(cost_hat, dtype=np.float64),
                  np.ascontiguousarray(gamma, dtype=np.float64),
                  np.ascontiguousarray(remaining, dtype=np.float64), bool(aware), bool(drop), out)
    return out


PRIORS: tuple[str, ...] = ("history", "none")


def history_prices(horizon: Horizon) -> np.ndarray:
    """The prior prices (perf per USD, (M,)): the duals of the offline LP on the historical
    log's true performance and costs, with each budget scaled to the log's size (B_i H / N),
    i.e. the prices that would have paced the history (ONLINE-LP.md section 2)."""
    if horizon.history_perf is None or horizon.history_cost is None:
        raise RouterError("the 'history' price prior needs the historical log "
                          "(StreamInput.history_perf / history_cost); or set prior=none")
    h = horizon.history_perf.shape[0]
    if h == 0:
        return np.zeros(horizon.m)
    scaled = np.asarray(horizon.budgets, dtype=np.float64) * (h / horizon.n)
    return np.asarray(solve_lp(horizon.history_perf, horizon.history_cost, scaled).gamma,
                      dtype=np.float64).copy()


class PricedRouter(OnlineRouter):
    """Shared by the routers of ONLINE-LP.md: per-LLM prices ``gamma`` (perf per USD), the
    priced decision with the drop option and budget awareness (``price_decisions``), the
    remaining budgets from the feedback, and the starting prices (``prior``)."""

    gamma: np.ndarray
    remaining: np.ndarray

    def start(self, horizon: Horizon, rng: np.random.Generator | None) -> None:
        super().start(horizon, rng)
        self.remaining = np.asarray(horizon.budgets, dtype=np.float64)
        self.gamma = (history_prices(horizon) if self.p.prior == "history"
                      else np.zeros(horizon.m))
        self._out = np.empty(horizon.every, dtype=np.int64)
        self._aware, self._drop = bool(self.p.budget_aware), bool(self.p.drop)
        self.info = {"prior_gamma": self.gamma.copy()}

    def decide(self, start: int, perf_hat: np.ndarray, cost_hat: np.ndarray) -> Any:
        out = self._out[: perf_hat.shape[0]]
        _price_decide(perf_hat, cost_hat, self.gamma, self.remaining, self._aware, self._drop,
                      out)
        return int(out[0]) if out.shape[0] == 1 else out

    def update(self, feedback: Feedback) -> None:
        self.remaining = feedback.remaining


def _check_prior(prior: str) -> None:
    if prior not in PRIORS:
        raise ParamError("prior", f"unknown prior {prior!r}; valid: {', '.join(PRIORS)}")


@dataclass(frozen=True)
class PortResolveParams:
    """``eps``: the first checkpoint is ceil(eps N) queries (PORT's learning-phase size; later
    ones at 2, 4, 8, ... times it); ``resolve``: re-solve at every checkpoint (False: once, at the
    first); ``remaining``: solve against the remaining budgets scaled to the remaining horizon
    (False: the original budgets scaled to the sample, B_i t / N); ``drop``: the drop option;
    ``budget_aware``: never send a query to an LLM whose remaining budget is below its estimated
    cost; ``prior``: the prices before the first checkpoint (``history``: the historical log's
    LP duals; ``none``: zero)."""

    eps: float = 0.025
    resolve: bool = True
    remaining: bool = True
    drop: bool = True
    budget_aware: bool = True
    prior: str = "history"

    def __post_init__(self) -> None:
        if not 0 < self.eps < 1:
            raise ParamError("eps", f"must lie in (0, 1), got {self.eps!r}")
        _check_prior(self.prior)


def checkpoints(n: int, eps: float, resolve: bool = True) -> list[int]:
    """The positions where ``port-resolve`` re-solves: t_k = ceil(eps N) 2^k < N (only t_0 when
    not ``resolve``)."""
    first = max(1, learning_size(n, eps))
    out = []
    t = first
    while t < n:
        out.append(t)
        if not resolve:
            break
        t *= 2
    return out


class PortResolveRouter(PricedRouter):
    """PORT's dual, re-solved at geometric checkpoints (Agrawal, Wang and Ye 2014; Li and Ye
    2022): at t = ceil(eps N), 2 ceil(eps N), 4 ceil(eps N), ... the prices become the duals of
    the offline LP on the estimates of the t queries seen so far with each LLM's remaining budget
    scaled to the remaining horizon, R_i t / (N - t); in between, each query goes to argmax_i
    (d^_ij - gamma_i g^_ij) among the LLMs whose remaining budget covers the estimate, or is
    dropped when that value is not positive. Before the first checkpoint the prices are the
    historical log's LP duals. ``info``: ``gamma`` (the last prices), ``checkpoints``."""

    name = "port-resolve"
    Params = PortResolveParams

    def start(self, horizon: Horizon, rng: np.random.Generator | None) -> None:
        super().start(horizon, rng)
        n, m = horizon.n, horizon.m
        self._seen_p = np.empty((n, m))
        self._seen_c = np.empty((n, m))
        self._todo = checkpoints(n, self.p.eps, self.p.resolve)
        self._done: list[int] = []

    def decide(self, start: int, perf_hat: np.ndarray, cost_hat: np.ndarray) -> Any:
        if self._todo and start >= self._todo[0]:
            while self._todo and start >= self._todo[0]:
                self._todo.pop(0)
            self._resolve(start)
        stop = start + perf_hat.shape[0]
        self._seen_p[start:stop] = perf_hat
        self._seen_c[start:stop] = cost_hat
        return super().decide(start, perf_hat, cost_hat)

    def _resolve(self, t: int) -> None:
        n = self.horizon.n
        if self.p.remaining:
            budgets = np.maximum(self.remaining, 0.0) * (t / (n - t))
        else:
            budgets = np.asarray(self.horizon.budgets, dtype=np.float64) * (t / n)
        lp = solve_lp(self._seen_p[:t], self._seen_c[:t], budgets)
        self.gamma = np.asarray(lp.gamma, dtype=np.float64).copy()
        self._done.append(t)
        self.info.update(gamma=self.gamma.copy(), checkpoints=list(self._done))


DESCENT_UPDATES: tuple[str, ...] = ("multiplicative", "additive")
#: Smallest price of the multiplicative update, in normalised units (perf per pace of spend):
#: far below any price that changes a decision, it only keeps the update able to grow again.
_MIN_NORMALISED_PRICE = 1e-6


@dataclass(frozen=True)
class DualDescentParams:
    """``eta_scale``: the step size is eta_scale / sqrt(N) (the order the analysis asks for);
    ``update``: ``multiplicative`` (entropic mirror descent, mu <- mu exp(-eta (1 - s))) or
    ``additive`` (projected subgradient, mu <- max(0, mu - eta (1 - s))), prices mu and spends s
    in units of each LLM's pace B_i / N; ``prior``, ``drop``, ``budget_aware``: as port-resolve."""

    eta_scale: float = 1.0
    update: str = "multiplicative"
    drop: bool = True
    budget_aware: bool = True
    prior: str = "history"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.eta_scale) and self.eta_scale > 0):
            raise ParamError("eta_scale", f"must be a finite number > 0, got {self.eta_scale!r}")
        if self.update not in DESCENT_UPDATES:
            raise ParamError("update", f"unknown update {self.update!r}; valid: "
                             f"{', '.join(DESCENT_UPDATES)}")
        _check_prior(self.prior)


class DualDescentRouter(PricedRouter):
    """Dual mirror descent (Balseiro, Lu and Mirrokni 2020/2023): no learning phase; after every
    feedback each LLM's price moves by a step on the gap between its pace B_i / N and what the
    query actually cost it (spending faster than the pace raises the price, slower lowers it);
    decisions as port-resolve's between checkpoints. ``info``: ``gamma`` (the final prices),
    ``eta``."""

    name = "dual-descent"
    Params = DualDescentParams

    def start(self, horizon: Horizon, rng: np.random.Generator | None) -> None:
        super().start(horizon, rng)
        self._pace = np.asarray(horizon.budgets, dtype=np.float64) / max(horizon.n, 1)
        self._eta = self.p.eta_scale / math.sqrt(max(horizon.n, 1))
        self._mult = self.p.update == "multiplicative"
        with np.errstate(divide="ignore"):
            self._floor = np.where(self._pace > 0, _MIN_NORMALISED_PRICE / self._pace, 0.0)
        if self._mult:
            self.gamma = np.maximum(self.gamma, self._floor)
        self.info["eta"] = self._eta

    def update(self, feedback: Feedback) -> None:
        super().update(feedback)
        _descent_update(self.gamma, feedback.choices, feedback.served, feedback.cost, self._pace,
                        self._eta, self._mult, self._floor)
        if feedback.start + feedback.choices.shape[0] >= self.horizon.n:
            self.info["gamma"] = self.gamma.copy()


# --------------------------------------------------------------------------- catalogue
#: The built-in online routers by name, in display order (``routebench.catalogue.ONLINE``).
ROUTERS: dict[str, type[Router]] = {
    cls.name: cls
    for cls in (
        RandomRouter,
        GreedyPerfRouter,
        GreedyCostRouter,
        KnnPerfRouter,
        KnnCostRouter,
        BatchSplitRouter,
        PortRouter,
        PortResolveRouter,
        DualDescentRouter,
    )
}
#: Entry-point group through which installed packages offer routers (name -> Router class).
ENTRY_POINT_GROUP = "routebench.routers"
_REGISTERED: dict[str, type[Router]] = {}


def register_router(cls: type[Router]) -> type[Router]:
    """Make ``cls`` available by its ``name`` (usable as a class decorator); a built-in name or
    another class under the same name is refused."""
    if not (isinstance(cls, type) and issubclass(cls, Router)):
        raise RouterError(f"register_router needs a Router subclass, got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.strip():
        raise RouterError(f"{cls.__qualname__} needs a `name` (a non-empty string)")
    if name in ROUTERS or name in catalogue.ORACLES or name in catalogue.BOUNDS:
        raise RouterError(f"router name {name!r} is taken by a built-in router")
    if _REGISTERED.get(name, cls) is not cls:
        raise RouterError(f"router name {name!r} is already registered by "
                          f"{_REGISTERED[name].__module__}.{_REGISTERED[name].__qualname__}")
    _REGISTERED[name] = cls
    return cls


def router_class(name: str) -> type[Router]:
    """The class of router ``name``: a built-in, a registered router, an installed entry point
    of ``routebench.routers``, or ``module:Class`` (imported). Oracles are not classes."""
    if name in ROUTERS:
        return ROUTERS[name]
    if name in _REGISTERED:
        return _REGISTERED[name]
    found = plugins.entry_point_class(ENTRY_POINT_GROUP, name, Router, "router", RouterError)
    if found is not None:
        return found
    if ":" in name:  # module:Class or path/to/file.py:Class
        return plugins.load_class(name, Router, "router", RouterError)
    raise RouterError(
        f"unknown router {name!r}{catalogue.did_you_mean(name, catalogue.ALL)}; built-in: "
        f"{', '.join(catalogue.ALL)} (or 'all', 'online'); "
        f"a plug-in is given as module:Class or installed in the entry-point group "
        f"{ENTRY_POINT_GROUP!r}"
    )


def make_router(name: str, **values: Any) -> Router:
    """Build router ``name`` (see ``router_class``) with its parameters."""
    return router_class(name)(**values)


def resolve_params(name: str, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every parameter of router ``name``: ``given`` checked by its ``Params`` class, defaults
    for the rest (``RouterParamError`` names ``router.param``). Oracles take none."""
    given = dict(given or {})
    if name in catalogue.ORACLES:
        if given:
            raise RouterParamError(f"{name}.{next(iter(given))}",
                                   f"the oracle {name!r} takes no parameters")
        return {}
    cls = router_class(name)
    return asdict(params.build(cls.Params, given, prefix=f"{name}.", error=RouterParamError))


def router_entry(name: str) -> catalogue.Entry:
    """How results show router ``name`` (built-in, registered or plug-in; oracles too)."""
    if name in catalogue.ORACLES or name in catalogue.BOUNDS:
        return catalogue.entry(name)
    return router_class(name).entry(name)
