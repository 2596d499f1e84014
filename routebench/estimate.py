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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from routebench import embed, io
from routebench.dataset import RouteTable
from routebench.index import (
    DEFAULT_INDEX,
    DEFAULT_TOP_K,
    ExactSearcher,
    Searcher,
    build_or_load_index,
)
from routebench.split import Split

DEFAULT_CHUNK = 4096  # test queries per search + gather + mean step


class EstimateError(ValueError):
    """Inputs to the neighbour estimates that do not fit together."""


def neighbour_means(stacked: np.ndarray, fallback: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Per row of neighbour ids (n, k), the plain mean of ``stacked`` (H, C) over the valid
    ids (>= 0); ``fallback`` (C,) for a row with none. The one statement of the estimate
    arithmetic, shared by ``estimate`` and the online router (``routers.OnlinePort``)."""
    valid = ids >= 0
    gathered = stacked[np.where(valid, ids, 0)]  # (n, k, C)
    gathered[~valid] = 0.0
    count = valid.sum(axis=1)
    block = np.divide(gathered.sum(axis=1), np.maximum(count, 1)[:, None])
    block[count == 0] = fallback
    return block


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
) -> tuple[np.ndarray, np.ndarray]:
    """Mean performance and cost (USD) of each query's ``k`` nearest historical queries.

    ``searcher.search(queries, k)`` must return ids that are row positions in ``hist_perf`` /
    ``hist_cost`` (H x M), -1 for a missing neighbour. Returns (perf_hat, cost_hat), float64,
    each (len(query_vectors), M). Works ``chunk_size`` queries at a time, so memory holds at
    most chunk_size x k x M gathered values. ``k`` larger than the history uses all of it.
    With ``rows`` the queries are ``query_vectors[rows]``, gathered chunk by chunk, so a
    stream's vectors are never copied out of the (possibly memory-mapped) embedding matrix
    all at once.
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
    if int(k) < 1:
        raise EstimateError(f"--top-k must be at least 1, got {k}")
    if chunk_size < 1:
        raise EstimateError(f"chunk_size must be at least 1, got {chunk_size}")
    k_eff = min(int(k), hist_perf.shape[0])
    n = query_vectors.shape[0] if rows is None else rows.size
    m = hist_perf.shape[1]
    # Both matrices gather through the same ids: stack them to gather once per chunk.
    both = np.concatenate([hist_perf, hist_cost], axis=1)
    fallback = both.mean(axis=0)
    out = np.empty((n, 2 * m), dtype=np.float64)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        transient=True, disable=not progress,
    ) as bar:
        task = bar.add_task(f"neighbour estimates (k={k_eff})", total=n)
        for start in range(0, n, chunk_size):
            block_rows = slice(start, start + chunk_size) if rows is None \
                else rows[start : start + chunk_size]
            _, ids = searcher.search(np.ascontiguousarray(query_vectors[block_rows]), k_eff)
            block = neighbour_means(both, fallback, ids)
            out[start : start + len(ids)] = block
            if rows is not None:
                io.release_pages(query_vectors)  # keep RSS at one chunk of a mapped matrix
            bar.advance(task, len(ids))
    return out[:, :m].copy(), out[:, m:].copy()


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


def stream_estimates(
    table: RouteTable,
    split: Split,
    *,
    embedder: str = embed.DEFAULT_EMBEDDER,
    embedder_params: dict[str, Any] | None = None,
    index: str = DEFAULT_INDEX,
    index_params: dict[str, Any] | None = None,
    top_k: int = DEFAULT_TOP_K,
    data_dir: str | Path = "data",
    exact: bool = False,
    force: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = True,
    info: dict[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """(perf_hat, cost_hat, descriptor) for ``split.test``, in the order of ``split.test``.

    Builds or reuses the cached embeddings and the saved index of ``index`` (``exact`` uses the
    exact ``flat`` index instead, for KNN-Perf / KNN-Cost). perf_hat and cost_hat are float64
    (len(split.test), M); cost_hat is in USD. The descriptor is the index's (embedder, index
    params, dataset hash, split, measured recall and throughput). ``info``, when given, receives
    ``verify_seconds``: the time spent checking the cached files' SHA-256."""
    built = build_or_load_index(
        table,
        split,
        embedder=embedder,
        embedder_params=embedder_params,
        index="flat" if exact else index,
        index_params=None if exact else index_params,
        top_k=top_k,
        data_dir=data_dir,
        force=force,
        progress=progress,
    )
    if info is not None:
        info["verify_seconds"] = built.verify_seconds
    perf_hat, cost_hat = estimate(
        built,
        built.embeddings,
        table.perf[split.history],
        table.cost[split.history],
        top_k,
        chunk_size=chunk_size,
        progress=progress,
        rows=split.test,
    )
    return perf_hat, cost_hat, built.descriptor
