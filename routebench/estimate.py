"""k-nearest-neighbour estimates of every LLM's performance and cost for the test stream.

The paper's section 3: for test query j, take its ``top_k`` (k = 5) nearest historical queries
by cosine similarity and estimate, for every LLM i, d^_ij = the plain mean of their d_i and
g^_ij = the plain mean of their g_i (USD). PORT, Greedy-Perf/Cost and BatchSplit use ANN
neighbours (an HNSW index by default); KNN-Perf/KNN-Cost use exact neighbours
(``exact_estimates``).

Neighbour order and ties follow ``routebench.index``: (-score, history position). When a
search returns fewer than k neighbours (k larger than the history: all history is used; an
IVF probe that found fewer: the mean runs over those found) the mean is over the neighbours
found; a query with none at all gets the mean over the whole history.

An :class:`EstimateSpec` is everything that defines the estimates of a split: the embedder
(``embed.EmbedSpec``), the index with its build and search parameters (``index.IndexSpec``)
and ``top_k`` (default ``params.DEFAULT_TOP_K``, checked by ``params.check_top_k``: the one
place either is written). ``stream_estimates(table, split, spec)`` computes them.
``open_index`` gives the index a spec needs, with the recall@k and search throughput of exactly
that (k, search parameters): measured once against exact search and stored beside the index,
in ``indexes/measured/<EstimateSpec.key>.json`` (written atomically when measured; the index's
own descriptor is never rewritten).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from routebench import io
from routebench.dataset import RouteTable
from routebench.embed import DEFAULT_EMBEDDER, EmbedSpec
from routebench.errors import ParamError
from routebench.estimators import (
    DEFAULT_ESTIMATOR,
    Block,
    Estimator,
    History,
    KnnMean,
    check_output,
    make_estimator,
)
from routebench.estimators import resolve_params as resolve_estimator_params
from routebench.index import (
    DEFAULT_INDEX,
    BuiltIndex,
    ExactSearcher,
    IndexSpec,
    Searcher,
    build_or_load_index,
    measure,
)
from routebench.params import DEFAULT_TOP_K, check_top_k
from routebench.seeding import stream_rng
from routebench.split import Split

DEFAULT_CHUNK = 4096  # test queries per search + gather + mean step
#: Neighbours per estimate: the paper's k = 5.
#: Folder, beside the saved indexes, of the recall / throughput measurements.
MEASURED_SUBDIR = "measured"
MEASUREMENT_FORMAT = 1


def estimator_rng(split_seed: int) -> np.random.Generator:
    """The estimator's random stream: tied to the history / test split, not to a run seed."""
    return stream_rng(int(split_seed), "estimator")


class EstimateError(ValueError):
    """Inputs to the neighbour estimates that do not fit together."""


class EstimateParamError(ParamError, EstimateError):
    """A bad estimate parameter (``top_k``); ``param`` names it."""


@dataclass(frozen=True)
class EstimateSpec:
    """What defines the k-NN estimates of a split: the embedder, the index (build and search
    parameters) and ``top_k``. Validated on construction (``EmbedSpec``, ``IndexSpec`` and
    ``check_top_k`` raise ``ParamError`` naming the parameter)."""

    embed: EmbedSpec = field(default_factory=EmbedSpec)
    index: IndexSpec = field(default_factory=IndexSpec)
    top_k: int = DEFAULT_TOP_K
    #: The estimator (``routebench.estimators``) and its parameters, every one (resolved).
    estimator: str = DEFAULT_ESTIMATOR
    estimator_params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.embed, EmbedSpec) or not isinstance(self.index, IndexSpec):
            raise TypeError("EstimateSpec takes an EmbedSpec and an IndexSpec (see from_options)")
        object.__setattr__(self, "top_k", check_top_k(self.top_k, error=EstimateParamError))
        resolved = resolve_estimator_params(self.estimator, dict(self.estimator_params))
        object.__setattr__(self, "estimator_params", tuple(sorted(resolved.items())))

    def make_estimator(self) -> Estimator:
        """A fresh (unfitted) estimator of this spec."""
        return make_estimator(self.estimator, **dict(self.estimator_params))

    @classmethod
    def from_options(
        cls,
        embedder: str = DEFAULT_EMBEDDER,
        embedder_params: Any = None,
        index: str = DEFAULT_INDEX,
        index_params: Any = None,
        top_k: int = DEFAULT_TOP_K,
        estimator: str = DEFAULT_ESTIMATOR,
        estimator_params: Any = None,
    ) -> EstimateSpec:
        """From names and parameter maps (dicts or (key, value) pairs, as ``SimConfig`` holds
        them)."""
        return cls(EmbedSpec(embedder, embedder_params or ()),
                   IndexSpec(index, index_params or ()), top_k, estimator,
                   tuple(dict(estimator_params or {}).items()))

    @classmethod
    def from_config(cls, config: Any) -> EstimateSpec:
        """The estimates a ``SimConfig`` asks for (its embedder, index, ``top_k`` and
        estimator)."""
        return cls.from_options(config.embedder, config.embedder_params, config.index,
                                config.index_params, config.top_k, config.estimator,
                                config.estimator_params)

    def exact(self) -> EstimateSpec:
        """The paper's estimates on exact neighbours (the ``flat`` index, ``knn-mean``, whatever
        this spec's estimator): KNN-Perf / KNN-Cost."""
        return dataclasses.replace(self, index=IndexSpec("flat"), estimator=DEFAULT_ESTIMATOR,
                                   estimator_params=())

    def check(self, split: Split, *, dataset: str | None = None) -> None:
        """Refuse a ``top_k`` larger than ``split``'s history (``check_top_k``)."""
        check_top_k(self.top_k, len(split.history), test_size=split.test_size, dataset=dataset,
                    error=EstimateParamError)

    def resolve(self, n_history: int, dim: int) -> EstimateSpec:
        """This spec with its index parameters resolved (``IndexSpec.resolve``)."""
        return dataclasses.replace(self, index=self.index.resolve(n_history, dim))

    def key(self, split: Split) -> str:
        """File stem of this spec's measurement (recall@k, throughput) over ``split``: the
        index file's key, then ``k<top_k>`` and the search parameters, e.g.
        ``hnsw-tfidf-<hash>.k5-ef_search50``. Needs a resolved spec."""
        search = "".join(f"-{k}{v}" for k, v in self.index.search_params.items())
        return f"{self.index.key(self.embed, split)}.k{self.top_k}{search}"

    def measurement(self, built: BuiltIndex, measured: dict[str, Any]) -> dict[str, Any]:
        """The JSON record of a measurement of ``built`` (its file and SHA-256, this spec's k and
        search parameters, and what was measured)."""
        return {
            "format": MEASUREMENT_FORMAT,
            "index_file": built.path.name if built.path is not None else None,
            "index_sha256": built.descriptor.get("file", {}).get("sha256"),
            "top_k": self.top_k,
            "search": self.index.search_params,
            "measured": dict(measured),
        }

    def descriptor(
        self, index_descriptor: dict[str, Any], measured: dict[str, Any]
    ) -> dict[str, Any]:
        """The descriptor of estimates by this spec: the index's (dataset, split, embedder,
        index type, build and search parameters, file), ``top_k``, and under ``measured`` the
        build measurements with this spec's recall@k and throughput."""
        out = dict(index_descriptor)
        out["top_k"] = self.top_k
        out["estimator"] = {"name": self.estimator, "params": dict(self.estimator_params)}
        out["measured"] = {**index_descriptor.get("measured", {}), **measured}
        return out


def estimate(
    searcher: Searcher,
    query_vectors: np.ndarray,
    hist_perf: np.ndarray,
    hist_cost: np.ndarray,
    k: int = DEFAULT_TOP_K,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = False,
    rows: np.ndarray | None = None,
    estimator: Estimator | None = None,
    prompt_chars: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each query's performance and cost (USD) estimates from its ``k`` nearest historical
    queries: by ``estimator`` (fitted on this history), default the paper's plain mean
    (``knn-mean``).

    ``searcher.search(queries, k)`` must return ids that are row positions in ``hist_perf`` /
    ``hist_cost`` (H x M), -1 for a missing neighbour. Returns (perf_hat, cost_hat), float64,
    each (len(query_vectors), M), checked (``estimators.check_output``). Works ``chunk_size``
    queries at a time, so memory holds one block's neighbours and estimates. ``k`` larger than
    the history uses all of it. With ``rows`` the queries are ``query_vectors[rows]``,
    gathered chunk by chunk, so a stream's vectors are never copied out of the (possibly
    memory-mapped) embedding matrix all at once. ``prompt_chars`` (one per query, in the
    order of the queries) are the prompts' lengths the estimator may read.
    """
    hist_perf = np.asarray(hist_perf, dtype=np.float64)
    hist_cost = np.asarray(hist_cost, dtype=np.float64)
    if not isinstance(query_vectors, np.ndarray) or query_vectors.dtype != np.float32:
        query_vectors = np.asarray(query_vectors, dtype=np.float32)
    if rows is not None:
        rows = np.asarray(rows, dtype=np.int64)
        n_vectors = query_vectors.shape[0]
        if rows.ndim != 1 or (rows.size and not 0 <= rows.min() <= rows.max() < n_vectors):
            raise EstimateError(
                f"rows must be positions in the {query_vectors.shape[0]} query vectors"
            )
    if hist_perf.ndim != 2 or hist_perf.shape != hist_cost.shape:
        raise EstimateError(
            f"hist_perf {hist_perf.shape} and hist_cost {hist_cost.shape} must both be H x M"
        )
    if hist_perf.shape[0] != searcher.ntotal:
        raise EstimateError(
            f"the searcher holds {searcher.ntotal} historical queries but hist_perf has "
            f"{hist_perf.shape[0]} rows"
        )
    if query_vectors.ndim != 2:
        raise EstimateError(f"query_vectors must be N x D, got shape {query_vectors.shape}")
    k = check_top_k(k, error=EstimateParamError)
    if chunk_size < 1:
        raise EstimateError(f"chunk_size must be at least 1, got {chunk_size}")
    k_eff = min(int(k), hist_perf.shape[0])
    n = query_vectors.shape[0] if rows is None else rows.size
    m = hist_perf.shape[1]
    if estimator is None:
        estimator = KnnMean()
        estimator.fit(History(hist_perf, hist_cost, np.zeros(hist_perf.shape[0]), searcher,
                              k_eff), np.random.default_rng(0))  # draws nothing
    depth = estimator.neighbours(k_eff, hist_perf.shape[0])  # deeper for ``stacked``
    perf_out = np.empty((n, m), dtype=np.float64)
    cost_out = np.empty((n, m), dtype=np.float64)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        transient=True, disable=not progress,
    ) as bar:
        task = bar.add_task(f"{estimator.name} estimates (k={k_eff})", total=n)
        for start in range(0, n, chunk_size):
            block_rows = slice(start, start + chunk_size) if rows is None \
                else rows[start : start + chunk_size]
            vectors = np.ascontiguousarray(query_vectors[block_rows])
            scores, ids = searcher.search(vectors, depth)
            stop = start + len(ids)
            chars = None if prompt_chars is None else prompt_chars[start:stop]
            perf_out[start:stop], cost_out[start:stop] = check_output(
                estimator.name, estimator.estimate(Block(vectors, ids, scores, chars)),
                len(ids), m)
            if rows is not None:
                io.release_pages(query_vectors)  # keep RSS at one chunk of a mapped matrix
            bar.advance(task, len(ids))
    return perf_out, cost_out


def exact_estimates(
    history_vectors: np.ndarray,
    query_vectors: np.ndarray,
    hist_perf: np.ndarray,
    hist_cost: np.ndarray,
    k: int = DEFAULT_TOP_K,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``estimate`` with exact k-NN (numpy brute force, ties to the lower history position):
    the estimates of the KNN-Perf / KNN-Cost baselines."""
    searcher = ExactSearcher(np.ascontiguousarray(history_vectors, dtype=np.float32))
    return estimate(
        searcher, query_vectors, hist_perf, hist_cost, k, chunk_size=chunk_size, progress=progress
    )


def _measured(built: BuiltIndex, spec: EstimateSpec, split: Split, *, force: bool,
              progress: bool) -> dict[str, Any]:
    """Recall@k and throughput of ``built`` at ``spec``'s k and search parameters: read from
    the stored measurement when it is of this very index file (SHA-256), else measured
    (``index.measure``) and stored. ``force`` measures again."""
    sha = built.descriptor.get("file", {}).get("sha256")
    path = None
    if built.path is not None:
        path = built.path.parent / MEASURED_SUBDIR / f"{spec.key(split)}.json"
    if path is not None and not force and path.exists():
        try:
            record = io.read_json(path)
        except (OSError, ValueError):
            record = None  # unreadable: measured again and rewritten
        if (
            isinstance(record, dict)
            and record.get("format") == MEASUREMENT_FORMAT
            and record.get("index_sha256") == sha
            and record.get("top_k") == spec.top_k
            and record.get("search") == spec.index.search_params
            and isinstance(record.get("measured"), dict)
        ):
            return dict(record["measured"])
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        transient=True, disable=not progress,
    ) as bar:
        bar.add_task(f"measuring recall@{spec.top_k} of the {spec.index.kind} index")
        measured = measure(built, spec.top_k)
    if path is not None:
        io.write_json(path, spec.measurement(built, measured))
    return measured


def open_index(
    table: RouteTable,
    split: Split,
    spec: EstimateSpec,
    *,
    data_dir: str | Path = "data",
    force: bool = False,
    progress: bool = True,
    embeddings: np.ndarray | None = None,
) -> BuiltIndex:
    """The index ``spec`` needs over ``split``'s history, built or loaded
    (``index.build_or_load_index``: ``force`` rebuilds it), with ``spec``'s search parameters
    applied. Its ``descriptor`` is ``spec.descriptor``: the index's, with ``top_k`` and the
    recall@k and throughput at this (k, search parameters), read from beside the index or
    measured and stored there. Refuses a ``top_k`` larger than the history."""
    spec.check(split, dataset=table.name)
    built = build_or_load_index(
        table, split, spec.embed, spec.index, data_dir=data_dir, force=force, progress=progress,
        embeddings=embeddings,
    )
    assert built.spec is not None
    spec = dataclasses.replace(spec, index=built.spec)  # resolved
    measured = _measured(built, spec, split, force=force, progress=progress)
    built.descriptor = spec.descriptor(built.descriptor, measured)
    return built


def stream_estimates(
    table: RouteTable,
    split: Split,
    spec: EstimateSpec | None = None,
    *,
    data_dir: str | Path = "data",
    exact: bool = False,
    force: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = True,
    info: dict[str, Any] | None = None,
    split_seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(perf_hat, cost_hat, descriptor) for ``split.test``, in the order of ``split.test``, by
    ``spec`` (default ``EstimateSpec()``).

    Builds or reuses the cached embeddings and the saved index (``open_index``; ``exact``
    uses the exact ``flat`` index instead, ``spec.exact()``, for KNN-Perf / KNN-Cost).
    perf_hat and cost_hat are float64 (len(split.test), M); cost_hat is in USD. The descriptor
    is ``EstimateSpec.descriptor`` (embedder, index build and search params, dataset hash,
    split, ``top_k``, the estimator with its parameters, fit time and fitted values, measured
    recall and throughput). The estimator is fitted on the history with the ``estimator``
    stream of ``split_seed`` (``seeding``), so estimates do not depend on the run's seeds.
    ``info``, when given, receives ``verify_seconds``: the time spent checking the cached
    files' SHA-256."""
    spec = EstimateSpec() if spec is None else spec
    if exact:
        spec = spec.exact()
    built = open_index(table, split, spec, data_dir=data_dir, force=force, progress=progress)
    if info is not None:
        info["verify_seconds"] = built.verify_seconds
    hist_perf, hist_cost = table.perf[split.history], table.cost[split.history]
    estimator = spec.make_estimator()
    started = time.perf_counter()
    chars = np.char.str_len(table.prompts.astype(str)).astype(np.float64)
    estimator.fit(History(hist_perf, hist_cost, table.tasks[split.history], built,
                          min(spec.top_k, len(split.history)), built.embeddings,
                          np.asarray(split.history), chars[split.history]),
                  estimator_rng(split_seed))
    fit_seconds = time.perf_counter() - started
    perf_hat, cost_hat = estimate(
        built,
        built.embeddings,
        hist_perf,
        hist_cost,
        spec.top_k,
        chunk_size=chunk_size,
        progress=progress,
        rows=split.test,
        estimator=estimator,
        prompt_chars=chars[split.test],
    )
    descriptor = dict(built.descriptor)
    descriptor["estimator"] = {**descriptor["estimator"], "fit_seconds": fit_seconds,
                               "fitted": json.loads(io.dumps(estimator.info))}
    return perf_hat, cost_hat, descriptor
