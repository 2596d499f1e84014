"""FAISS indexes over the historical prompts' embeddings, with a descriptor.

Vectors are unit-norm, so inner product is cosine similarity (the paper's section 3). Index
types:

- ``flat``: exact inner-product search. Searches go through ``exact_search`` (numpy), whose
  order is explicit: neighbours sorted by (-score, history position), so ties at the k-th place
  go to the lower history position. FAISS's own flat search leaves that order undefined.
- ``hnsw``: ``IndexHNSWFlat`` with ``METRIC_INNER_PRODUCT``; the paper's M 32,
  efConstruction 200, efSearch 50 are the defaults (params ``m``, ``ef_construction``,
  ``ef_search``).
- ``ivf``: IVF-Flat, or IVF-PQ with ``pq=True`` (params ``nlist``, ``nprobe``, ``pq``, ``pq_m``,
  ``pq_bits``); ``nlist`` and ``nprobe`` default to values scaled to the history size.

An :class:`IndexSpec` is an index type and its parameters, validated on construction (a bad
value raises :class:`IndexParamError`, a ``routebench.errors.ParamError`` naming the
parameter) and resolved against the history (``IndexSpec.resolve``: IVF's defaults depend on
its size). Its parameters are of two kinds: *build* parameters (``m``, ``ef_construction``,
``nlist``, ``pq``, ``pq_m``, ``pq_bits``) define the index file and are part of its key;
*search* parameters (``ef_search``, ``nprobe``: ``SEARCH_PARAMS``) are applied after the file
is loaded, so changing them never rebuilds anything.

Indexes are built over the historical split only and saved under
``data/<name>/indexes/<key>.faiss`` (``IndexSpec.key``) with a JSON descriptor
(``<key>.json``, ``IndexSpec.descriptor``): embedder and its params, index type and build
params, dataset content hash, split (seed, test size, SHA-256 of the history rows), the
SHA-256 of the ``.faiss`` file, and what was measured when it was built: build time (s) and
memory (bytes of the serialised index). The descriptor is written once, when the index is
built; loading never writes it. Recall@k and search throughput depend on k and on the search
parameters: they are measured per (k, search params) by ``routebench.estimate`` and stored
beside the index (``measure`` does the measuring). Builds run FAISS single-threaded
(``omp_set_num_threads(1)``) because a multi-threaded HNSW insertion order is not reproducible;
searches use every thread, which does not change results.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from routebench import io
from routebench.dataset import RouteTable, dataset_dir
from routebench.embed import EmbedSpec, get_embeddings
from routebench.errors import IntegrityError, ParamError
from routebench.params import as_mapping
from routebench.seeding import rng
from routebench.split import Split

INDEX_TYPES = ("flat", "hnsw", "ivf")
DEFAULT_INDEX = "hnsw"
INDEXES_SUBDIR = "indexes"
#: 2: the index file's SHA-256 and the split's history hash; 3: build params only (search
#: params are applied after loading), no recall (measured per k and search params elsewhere)
DESCRIPTOR_FORMAT = 3
SEARCH_BATCH = 4096  # queries per FAISS search call
EXACT_CHUNK = 512  # queries per exact-search block (block x history float32 scores in memory)
TIE_MARGIN = 16  # extra exact candidates fetched per query to resolve ties at the k-th place
MEASURE_QUERIES = 10_000  # test queries (evenly spaced) behind a stored recall and throughput

_DEFAULTS: dict[str, dict[str, Any]] = {
    "flat": {},
    "hnsw": {"m": 32, "ef_construction": 200, "ef_search": 50},
    "ivf": {"nlist": None, "nprobe": None, "pq": False, "pq_m": None, "pq_bits": 8},
}
#: Parameters applied at search time, after the index is built or loaded: not part of the index
#: file or its key, so changing them never rebuilds it.
SEARCH_PARAMS: dict[str, tuple[str, ...]] = {"flat": (), "hnsw": ("ef_search",), "ivf": ("nprobe",)}
#: Integer parameters (all >= 1).
_INT_PARAMS = ("m", "ef_construction", "ef_search", "nlist", "nprobe", "pq_m", "pq_bits")
#: Upper limits of index parameters (beyond them FAISS fails or runs out of memory).
_MAX_PARAM = {"m": 1024, "ef_construction": 1_000_000, "ef_search": 1_000_000, "pq_bits": 16}
#: Where a stored index that does not fit, or fails its check, is fixed.
REBUILD_FIX = "rebuild it (force=True; `routebench build-index DATASET --force`, same options)"


class IndexConfigError(ValueError):
    """Bad index type or parameters, or a stored index that does not fit the data in use."""


class IndexParamError(ParamError, IndexConfigError):
    """A bad index type or parameter; ``param`` names it (``index``, ``nlist``, ...)."""


class DescriptorMismatch(IndexConfigError):
    """A stored index built for other data, split or embedder than the ones asked for."""


class Searcher(Protocol):
    """Anything that finds the k nearest historical queries of a batch of query vectors."""

    @property
    def ntotal(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


# --------------------------------------------------------------------------- params
def _positive(key: str, value: Any) -> int:
    high = _MAX_PARAM.get(key, 2**31 - 1)  # FAISS stores these as C ints
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise IndexParamError(key, f"must be an integer >= 1, got {value!r}")
    if value > high:
        raise IndexParamError(key, f"must be at most {high:,}, got {value!r}")
    return int(value)


def default_nlist(n_history: int) -> int:
    """IVF lists for ``n_history`` vectors: 4 sqrt(n), capped so every list gets at least 39
    training points."""
    return max(1, min(int(round(4 * math.sqrt(n_history))), n_history // 39))


def default_nprobe(nlist: int) -> int:
    """IVF lists probed: nlist / 16, but at least 8 (at most nlist)."""
    return min(nlist, max(8, math.ceil(nlist / 16)))


@dataclass(frozen=True)
class IndexSpec:
    """An index type and its parameters, validated on construction (``IndexParamError`` naming
    the parameter): unknown keys, types and ranges. ``params`` may be a dict or (key, value)
    pairs; ``None`` means the default. Defaults that need no data are filled in at once; IVF's
    ``nlist``, ``nprobe`` and ``pq_m`` depend on the history and stay ``None`` until
    ``resolve(n_history, dim)``, which also checks what depends on the data.

    ``build_params`` define the index file (and its ``key``); ``search_params`` (``ef_search``,
    ``nprobe``) are applied after loading it."""

    kind: str = DEFAULT_INDEX
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        kind = self.kind
        if kind not in INDEX_TYPES:
            raise IndexParamError("index", f"unknown index {kind!r}; known: "
                                  f"{', '.join(INDEX_TYPES)}")
        given_dict = as_mapping("index_params", self.params, IndexParamError)
        unknown = sorted(set(given_dict) - set(_DEFAULTS[kind]))
        if unknown:
            known = ", ".join(_DEFAULTS[kind]) or "none"
            raise IndexParamError(
                "index_params", f"index {kind!r}: unknown parameter(s) {unknown}; known: {known}"
            )
        out = {**_DEFAULTS[kind], **{k: v for k, v in given_dict.items() if v is not None}}
        for key in _INT_PARAMS:
            if out.get(key) is not None:
                out[key] = _positive(key, out[key])
        if kind == "ivf":
            if not isinstance(out["pq"], (bool, np.bool_)):
                raise IndexParamError("pq", f"must be true or false, got {out['pq']!r}")
            out["pq"] = bool(out["pq"])
            if not out["pq"]:
                out["pq_m"] = out["pq_bits"] = None
            if out["nlist"] is not None and out["nprobe"] is not None:
                out["nprobe"] = min(out["nprobe"], out["nlist"])
        object.__setattr__(self, "params", tuple(out.items()))

    # ------------------------------------------------------------------ parameters
    @property
    def build_params(self) -> dict[str, Any]:
        """The parameters that define the index file (part of its key)."""
        return {k: v for k, v in self.params if k not in SEARCH_PARAMS[self.kind]}

    @property
    def search_params(self) -> dict[str, Any]:
        """The parameters applied at search time (``ef_search``, ``nprobe``)."""
        return {k: v for k, v in self.params if k in SEARCH_PARAMS[self.kind]}

    @property
    def unresolved(self) -> tuple[str, ...]:
        """Parameters whose default depends on the history (``resolve`` fills them)."""
        out = dict(self.params)
        if self.kind != "ivf":
            return ()
        need = ["nlist", "nprobe"] + (["pq_m"] if out["pq"] else [])
        return tuple(k for k in need if out[k] is None)

    def resolve(self, n_history: int, dim: int) -> IndexSpec:
        """Every parameter filled in for ``n_history`` vectors of dimension ``dim``, and checked
        against them. IVF defaults: ``nlist`` = ``default_nlist``, ``nprobe`` =
        ``default_nprobe`` (capped at nlist); ``pq_m`` = the largest divisor of ``dim`` that is
        at most dim / 4."""
        out = dict(self.params)
        if self.kind == "ivf":
            if out["nlist"] is None:
                out["nlist"] = default_nlist(n_history)
            if out["nlist"] > n_history:
                raise IndexParamError(
                    "nlist", f"{out['nlist']} exceeds the {n_history} historical queries"
                )
            if out["nprobe"] is None:
                out["nprobe"] = default_nprobe(out["nlist"])
            if out["pq"]:
                if out["pq_m"] is None:
                    out["pq_m"] = max(d for d in range(1, max(1, dim // 4) + 1) if dim % d == 0)
                if dim % out["pq_m"]:
                    raise IndexParamError(
                        "pq_m", f"{out['pq_m']} must divide the embedding dimension {dim}"
                    )
                if n_history < 2 ** out["pq_bits"]:
                    raise IndexParamError(
                        "pq_bits", f"{n_history} historical queries are too few to train "
                        f"{2 ** out['pq_bits']} codewords (pq_bits {out['pq_bits']})"
                    )
        return IndexSpec(self.kind, tuple(out.items()))

    def with_search(self, params: Mapping[str, Any]) -> IndexSpec:
        """This spec with other search parameters (``None`` values: the default)."""
        unknown = sorted(set(params) - set(SEARCH_PARAMS[self.kind]))
        if unknown:
            raise IndexParamError("index_params", f"index {self.kind!r}: {unknown} are not "
                                  f"search parameters; those are: "
                                  f"{', '.join(SEARCH_PARAMS[self.kind]) or 'none'}")
        return IndexSpec(self.kind, {**dict(self.params), **params})

    # ------------------------------------------------------------------ identity
    def key(self, embed_spec: EmbedSpec, split: Split) -> str:
        """File stem of this index over ``split``'s history embedded by ``embed_spec``: index
        type, embedder, and a hash of (embedder and its params, build params, split seed and
        test size). Search parameters are not part of it; the dataset is checked through the
        descriptor. Needs a resolved spec."""
        if self.unresolved:
            raise IndexConfigError(
                f"index {self.kind!r}: parameter(s) {list(self.unresolved)} depend on the "
                "history; resolve(n_history, dim) the spec before asking for its key"
            )
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in embed_spec.name)
        digest = io.stable_hash([
            {"name": embed_spec.name, "params": dict(embed_spec.params)},
            {"type": self.kind, "build_params": self.build_params},
            split.seed,
            split.test_size,
        ])
        return f"{self.kind}-{slug}-{digest}"

    def identity(self, table: RouteTable, split: Split, embed_spec: EmbedSpec) -> dict[str, Any]:
        """What a stored index must match to be used for ``table``, ``split`` and
        ``embed_spec`` (checked by ``check_descriptor``)."""
        return {
            "dataset": {"name": table.name, "content_hash": table.content_hash(),
                        "n_queries": table.n},
            "split": {
                "seed": split.seed,
                "test_size": split.test_size,
                "n_history": int(len(split.history)),
                "history_sha256": split_digest(split),
            },
            "embedder": {"name": embed_spec.name, "params": dict(embed_spec.params)},
            "index": {"type": self.kind, "params": self.build_params},
        }

    def descriptor(
        self,
        table: RouteTable,
        split: Split,
        embed_spec: EmbedSpec,
        *,
        dim: int,
        measured: dict[str, Any],
        file: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The JSON descriptor written once beside a built index: this spec's identity with the
        data (``identity``), the embedding dimension, what was measured when it was built
        (``build_seconds``, ``memory_bytes``), the file's ``sha256`` and ``bytes``, versions."""
        identity = self.identity(table, split, embed_spec)
        out = {
            "format": DESCRIPTOR_FORMAT,
            **identity,
            "embedder": {**identity["embedder"], "dim": int(dim)},
            "measured": dict(measured),
            "versions": {"faiss": faiss.__version__, "numpy": np.__version__},
        }
        if file is not None:
            out["file"] = dict(file)
        return out


# --------------------------------------------------------------------------- build
def index_rng(seed: int) -> np.random.Generator:
    """The Generator that seeds IVF k-means and PQ training for ``seed``."""
    return rng(seed, "index")


@contextlib.contextmanager
def faiss_threads(n: int) -> Iterator[None]:
    """Run the body with FAISS's OpenMP thread count set to ``n``, then restore it."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def make_faiss_index(vectors: np.ndarray, spec: IndexSpec, seed: int = 0) -> faiss.Index:
    """Build (train and fill) the FAISS index ``spec`` over ``vectors`` (float32, unit rows).

    ``spec`` must be resolved (``IndexSpec.resolve``). ``seed`` seeds IVF's k-means and PQ
    training. Single-threaded, so the same inputs give the same index. The index carries the
    *default* search parameters (so the file is a function of the build parameters alone);
    ``apply_search_params`` sets the spec's."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    spec = spec.resolve(n, dim)
    kind, params = spec.kind, {**spec.build_params, **default_search_params(spec)}
    with faiss_threads(1):
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, params["m"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = params["ef_construction"]
            index.hnsw.efSearch = params["ef_search"]
        elif kind == "ivf":
            quantizer = faiss.IndexFlatIP(dim)
            if params["pq"]:
                index = faiss.IndexIVFPQ(
                    quantizer,
                    dim,
                    params["nlist"],
                    params["pq_m"],
                    params["pq_bits"],
                    faiss.METRIC_INNER_PRODUCT,
                )
            else:
                index = faiss.IndexIVFFlat(
                    quantizer, dim, params["nlist"], faiss.METRIC_INNER_PRODUCT
                )
            seeds = index_rng(seed).integers(0, 2**31 - 1, size=2)
            index.cp.seed = int(seeds[0])
            if params["pq"]:
                index.pq.cp.seed = int(seeds[1])
            index.train(vectors)
            index.nprobe = params["nprobe"]
        else:
            raise IndexConfigError(f"unknown index {kind!r}; known: {', '.join(INDEX_TYPES)}")
        index.add(vectors)
    return index


def default_search_params(spec: IndexSpec) -> dict[str, Any]:
    """The search parameters a resolved ``spec`` has by default (``ef_search`` 50; ``nprobe``
    = ``default_nprobe(nlist)``): those a built index file carries."""
    if spec.kind == "hnsw":
        return {"ef_search": _DEFAULTS["hnsw"]["ef_search"]}
    if spec.kind == "ivf":
        return {"nprobe": default_nprobe(dict(spec.params)["nlist"])}
    return {}


def apply_search_params(index: faiss.Index, spec: IndexSpec) -> None:
    """Set ``spec``'s query-time knobs (efSearch, nprobe) on a built or loaded ``index``."""
    params = spec.search_params
    if spec.kind == "hnsw":
        index.hnsw.efSearch = params["ef_search"]
    elif spec.kind == "ivf":
        index.nprobe = params["nprobe"]


# --------------------------------------------------------------------------- search
def order_neighbours(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row by (-score, id), missing ids (-1) last: the one explicit tie rule."""
    missing = ids < 0
    key_score = np.where(missing, np.inf, -scores.astype(np.float64))
    key_id = np.where(missing, np.iinfo(np.int64).max, ids)
    order = np.lexsort((key_id, key_score), axis=1)
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(ids, order, axis=1)


def _exact_block(
    history: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of a block of queries by a full score matrix (numpy), ties by position."""
    n_hist = history.shape[0]
    block = queries @ history.T
    rows_n = block.shape[0]
    kth = np.partition(block, n_hist - k, axis=1)[:, n_hist - k : n_hist - k + 1]
    # Candidates: every score reaching the k-th largest (k or more per row, ties included).
    rows, cols = np.nonzero(block >= kth)
    cand = block[rows, cols]
    order = np.lexsort((cols, -cand.astype(np.float64), rows))
    rows, cols, cand = rows[order], cols[order], cand[order]
    rank = np.arange(rows.size) - np.searchsorted(rows, np.arange(rows_n))[rows]
    keep = rank < k
    return cand[keep].reshape(rows_n, k), cols[keep].reshape(rows_n, k).astype(np.int64)


def exact_search(
    history: np.ndarray,
    queries: np.ndarray,
    k: int,
    *,
    chunk_size: int = EXACT_CHUNK,
    flat: faiss.Index | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner-product search of ``queries`` among ``history`` rows.

    Returns (scores float32 (n, k'), ids int64 (n, k')) with k' = min(k, len(history)), rows
    sorted by (-score, id): of equal scores the lower history position wins, also at the k-th
    place. FAISS's exact ``flat`` (an ``IndexFlatIP`` over ``history``, built when not given)
    fetches ``k + TIE_MARGIN`` candidates per query; a row whose last candidate still ties
    with its k-th is redone from its full score row in numpy, so no tied neighbour is missed.
    Memory is bounded by ``chunk_size`` x len(history) scores."""
    history = np.ascontiguousarray(history, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    n_hist = history.shape[0]
    k = min(int(k), n_hist)
    if k < 1:
        raise IndexConfigError(f"k must be at least 1 and the history non-empty (k={k})")
    if flat is None:
        flat = faiss.IndexFlatIP(history.shape[1])
        flat.add(history)
    k_cand = min(k + TIE_MARGIN, n_hist)
    n = queries.shape[0]
    out_scores = np.empty((n, k), dtype=np.float32)
    out_ids = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, SEARCH_BATCH):
        q = queries[start : start + SEARCH_BATCH]
        scores, ids = order_neighbours(*flat.search(q, k_cand))
        out_scores[start : start + len(q)] = scores[:, :k]
        out_ids[start : start + len(q)] = ids[:, :k]
        if k_cand == n_hist:
            continue  # every historical query is a candidate: nothing can be missed
        unsure = np.flatnonzero(scores[:, -1] >= scores[:, k - 1])
        for lo in range(0, unsure.size, chunk_size):
            rows = unsure[lo : lo + chunk_size]
            s, i = _exact_block(history, q[rows], k)
            out_scores[start + rows], out_ids[start + rows] = s, i
    return out_scores, out_ids


@dataclass
class ExactSearcher:
    """Exact search over fixed history vectors (``exact_search``), with the ``Searcher`` API."""

    history: np.ndarray
    chunk_size: int = EXACT_CHUNK
    _flat: faiss.Index | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.history = np.ascontiguousarray(self.history, dtype=np.float32)

    @property
    def ntotal(self) -> int:
        return int(self.history.shape[0])

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of the exact top-k, rows sorted by (-score, id)."""
        if self._flat is None:
            self._flat = faiss.IndexFlatIP(self.history.shape[1])
            self._flat.add(self.history)
        return exact_search(
            self.history, queries, k, chunk_size=self.chunk_size, flat=self._flat
        )


@dataclass
class BuiltIndex:
    """A FAISS index over one dataset's historical split, with its descriptor.

    ``history`` and ``test`` are row positions in the table (``Split``); ids returned by
    ``search`` are positions *within* ``history`` (0 .. len(history) - 1), -1 where fewer than
    k neighbours were found. ``embeddings`` are all N prompt vectors of the table.
    ``descriptor`` is the stored one (``IndexSpec.descriptor``) with the search parameters in
    use under ``index.search``; it is a copy, never written back.
    """

    index: faiss.Index
    kind: str
    descriptor: dict[str, Any]
    history: np.ndarray
    test: np.ndarray
    embeddings: np.ndarray
    path: Path | None = None
    reused: bool = False
    #: The resolved spec whose search parameters are applied.
    spec: IndexSpec | None = None
    #: Seconds spent checking the saved file's SHA-256 when it was loaded (0 when built).
    verify_seconds: float = 0.0
    _exact: ExactSearcher | None = field(default=None, repr=False)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def history_vectors(self) -> np.ndarray:
        return self.embeddings[self.history]

    @property
    def test_vectors(self) -> np.ndarray:
        return self.embeddings[self.test]

    def exact(self) -> ExactSearcher:
        """Exact searcher over the same historical vectors."""
        if self._exact is None:
            self._exact = ExactSearcher(np.ascontiguousarray(self.history_vectors))
        return self._exact

    def search(
        self, queries: np.ndarray, k: int, *, batch_size: int = SEARCH_BATCH
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest historical queries of each row of ``queries`` (batched).

        Returns (scores float32, ids int64), each (n, min(k, ntotal)), rows sorted by
        (-score, id) with -1 ids last."""
        if self.kind == "flat":
            return self.exact().search(queries, k)
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(int(k), self.ntotal)
        if k < 1:
            raise IndexConfigError(f"k must be at least 1 (got {k})")
        scores = np.empty((queries.shape[0], k), dtype=np.float32)
        ids = np.empty((queries.shape[0], k), dtype=np.int64)
        for start in range(0, queries.shape[0], batch_size):
            s, i = self.index.search(queries[start : start + batch_size], k)
            scores[start : start + len(s)], ids[start : start + len(s)] = order_neighbours(s, i)
        return scores, ids


# --------------------------------------------------------------------------- measure
def recall_at_k(
    history: np.ndarray,
    queries: np.ndarray,
    found_ids: np.ndarray,
    exact_scores: np.ndarray,
    *,
    tolerance: float = 1e-5,
) -> float:
    """Mean over queries of the share of the k found neighbours that are true top-k neighbours.

    A found neighbour counts when its true inner product reaches the k-th exact score (minus
    ``tolerance``), so a neighbour tied with the k-th is not counted as a miss (as in
    ann-benchmarks). Missing ids (-1) are misses."""
    k = exact_scores.shape[1]
    valid = found_ids >= 0
    safe = np.where(valid, found_ids, 0)
    hits = 0
    for start in range(0, len(queries), EXACT_CHUNK):
        q = queries[start : start + EXACT_CHUNK]
        ids = safe[start : start + EXACT_CHUNK]
        true = np.einsum("nd,nkd->nk", q, history[ids])
        kth = exact_scores[start : start + EXACT_CHUNK, k - 1 : k]
        hits += int(((true >= kth - tolerance) & valid[start : start + EXACT_CHUNK]).sum())
    return hits / float(len(queries) * k)


def measure(
    built: BuiltIndex, k: int, *, repeats: int = 1, max_queries: int | None = MEASURE_QUERIES
) -> dict[str, float]:
    """Recall@k of the test stream against exact search, and search throughput (queries/s,
    batched, best of ``repeats``) of ``built.search`` over the test stream.

    Streams longer than ``max_queries`` are measured on that many evenly spaced test queries
    (``recall_queries`` says how many; None measures all): exact search of a 10^6-query
    stream among 10^6 historical vectors would take hours."""
    rows = built.test
    if max_queries is not None and rows.size > max_queries:
        rows = rows[np.linspace(0, rows.size - 1, int(max_queries)).astype(np.int64)]
    queries = np.ascontiguousarray(built.embeddings[rows], dtype=np.float32)
    k_eff = min(int(k), built.ntotal)
    best = math.inf
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        scores, ids = built.search(queries, k_eff)
        best = min(best, time.perf_counter() - start)
    if built.kind != "flat":  # a flat index's search is the exact search already
        scores, _ = built.exact().search(queries, k_eff)
    recall = recall_at_k(built.exact().history, queries, ids, scores)
    return {
        "recall_at_k": recall,
        "k": k_eff,
        "search_seconds": best,
        "queries_per_second": len(queries) / best if best > 0 else math.inf,
        "search_threads": faiss.omp_get_max_threads(),
        "recall_queries": int(len(queries)),
    }


# --------------------------------------------------------------------------- descriptor
def split_digest(split: Split) -> str:
    """SHA-256 of the history's row positions (int64, little-endian): which queries the index
    holds, whatever code produced the split."""
    return hashlib.sha256(np.ascontiguousarray(split.history, dtype="<i8").tobytes()).hexdigest()


_CHECKED = (
    ("dataset", "content_hash", "dataset content hash"),
    ("dataset", "n_queries", "dataset size (queries)"),
    ("split", "seed", "split seed"),
    ("split", "test_size", "split test size"),
    ("split", "n_history", "history size (queries)"),
    ("split", "history_sha256", "history rows (SHA-256)"),
    ("embedder", "name", "embedder"),
    ("embedder", "params", "embedder params"),
    ("index", "type", "index type"),
    ("index", "params", "index params"),
)


def check_descriptor(
    stored: dict[str, Any], wanted: dict[str, Any], *, path: Path | str
) -> None:
    """Refuse (``DescriptorMismatch``) a stored index whose identity differs from ``wanted``
    (``IndexSpec.identity``) or whose descriptor has another format; the message lists every
    differing field as ``field: stored X vs wanted Y``."""
    if stored.get("format") != DESCRIPTOR_FORMAT:
        raise DescriptorMismatch(
            f"{path}: descriptor format {stored.get('format')!r} was written by another "
            f"routebench version (this one reads format {DESCRIPTOR_FORMAT}); {REBUILD_FIX}"
        )
    diffs = []
    for group, key, label in _CHECKED:
        group_value = stored.get(group)
        have = group_value.get(key) if isinstance(group_value, dict) else None
        want = wanted[group][key]
        if have != want:
            diffs.append(f"{label}: stored {have!r} vs wanted {want!r}")
    if diffs:
        raise DescriptorMismatch(
            f"{path}: the stored index does not fit the data in use ("
            + "; ".join(diffs)
            + f"); {REBUILD_FIX}"
        )


def index_dir(table: RouteTable, data_dir: str | Path = "data") -> Path:
    """Folder of ``table``'s saved indexes: ``<data_dir>/<name>/indexes``."""
    return dataset_dir(table.name, data_dir) / INDEXES_SUBDIR


def _write_index(path: Path, index: faiss.Index) -> dict[str, Any]:
    """Write ``index`` atomically; the SHA-256 and size (bytes) of the file written."""
    sha, size = io.write_hashed(path, lambda p: faiss.write_index(index, str(p)))
    return {"sha256": sha, "bytes": size}


def read_verified_index(path: Path, descriptor: dict[str, Any]) -> tuple[faiss.Index, float]:
    """Read a saved index after checking that its bytes are the ones its descriptor recorded
    (SHA-256): a file copied from another dataset, truncated or edited is refused, never used.
    Returns the index and the seconds the check took."""
    fix = f"delete it or {REBUILD_FIX}"
    want = descriptor.get("file", {}).get("sha256") if isinstance(descriptor.get("file"), dict) \
        else None
    if not isinstance(want, str):
        raise IntegrityError(
            f"{path}: its descriptor {path.with_suffix('.json').name} records no SHA-256 of the "
            f"index file (written by an older routebench), so it cannot be verified; {fix}"
        )
    started = time.perf_counter()
    have = io.file_sha256(path)
    seconds = time.perf_counter() - started
    if have != want:
        raise IntegrityError(
            f"{path}: SHA-256 {have[:16]}... differs from the {want[:16]}... its descriptor "
            f"recorded: the file changed after it was built (copied from another dataset?); {fix}"
        )
    try:
        index = faiss.read_index(str(path))
    except Exception as exc:  # noqa: BLE001 - FAISS raises RuntimeError for any bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IntegrityError(f"{path}: cannot read the index ({first}); {fix}") from None
    return index, seconds


def _in_use(stored: dict[str, Any], spec: IndexSpec) -> dict[str, Any]:
    """A copy of a stored descriptor with ``spec``'s search parameters under ``index.search``:
    the descriptor handed to callers (and recorded in run manifests)."""
    out = dict(stored)
    out["index"] = {**stored["index"], "search": spec.search_params}
    return out


def _check_fits(embeddings: np.ndarray, table: RouteTable, split: Split) -> None:
    if embeddings.shape[0] != table.n:
        raise IndexConfigError(
            f"embeddings have {embeddings.shape[0]} rows but dataset {table.name!r} has {table.n}"
        )
    if split.history.size + split.test.size != table.n:
        raise IndexConfigError(
            f"split covers {split.history.size + split.test.size} queries but dataset "
            f"{table.name!r} has {table.n}"
        )


def load_index(
    path: str | Path,
    table: RouteTable,
    split: Split,
    embeddings: np.ndarray,
    embed_spec: EmbedSpec,
    index_spec: IndexSpec | None = None,
) -> BuiltIndex:
    """Load a saved index (``<key>.faiss`` + ``<key>.json``), check its descriptor against
    ``table``, ``split``, ``embed_spec`` and the build parameters of ``index_spec`` (refusing
    any difference), verify the file's SHA-256, and apply ``index_spec``'s search parameters.
    Without ``index_spec``: the stored type and build parameters, default search parameters.
    Reading never writes anything."""
    path = Path(path)
    json_path = path.with_suffix(".json")
    if not path.exists() or not json_path.exists():
        raise FileNotFoundError(f"{path}: no saved index (or its descriptor {json_path.name})")
    stored = io.read_json(json_path)
    if not isinstance(stored, dict):
        raise IntegrityError(f"{json_path}: not an index descriptor; {REBUILD_FIX}")
    if index_spec is None:
        index = stored.get("index") if isinstance(stored.get("index"), dict) else {}
        index_spec = IndexSpec(index.get("type", DEFAULT_INDEX), index.get("params") or {})
    index_spec = index_spec.resolve(len(split.history), embeddings.shape[1])
    check_descriptor(stored, index_spec.identity(table, split, embed_spec), path=json_path)
    faiss_index, verify_seconds = read_verified_index(path, stored)
    if faiss_index.ntotal != len(split.history) or faiss_index.d != embeddings.shape[1]:
        raise DescriptorMismatch(
            f"{path}: index holds {faiss_index.ntotal} vectors of dimension {faiss_index.d}, "
            f"expected {len(split.history)} of dimension {embeddings.shape[1]}; {REBUILD_FIX}"
        )
    apply_search_params(faiss_index, index_spec)
    return BuiltIndex(
        index=faiss_index,
        kind=index_spec.kind,
        descriptor=_in_use(stored, index_spec),
        history=split.history,
        test=split.test,
        embeddings=embeddings,
        path=path,
        reused=True,
        spec=index_spec,
        verify_seconds=verify_seconds,
    )


def _build(
    table: RouteTable,
    split: Split,
    embeddings: np.ndarray,
    embed_spec: EmbedSpec,
    index_spec: IndexSpec,
    *,
    progress: bool,
) -> tuple[BuiltIndex, dict[str, Any]]:
    """Build the index (default search parameters, as it is saved) and its stored descriptor
    (without ``file``)."""
    _check_fits(embeddings, table, split)
    history_vectors = np.ascontiguousarray(embeddings[split.history], dtype=np.float32)
    index_spec = index_spec.resolve(len(history_vectors), embeddings.shape[1])
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        transient=True, disable=not progress,
    ) as bar:
        bar.add_task(f"building {index_spec.kind} index over {len(history_vectors)} queries")
        start = time.perf_counter()
        faiss_index = make_faiss_index(history_vectors, index_spec, seed=split.seed)
        build_seconds = time.perf_counter() - start
    stored = index_spec.descriptor(
        table, split, embed_spec, dim=int(embeddings.shape[1]),
        measured={"build_seconds": build_seconds,
                  "memory_bytes": int(faiss.serialize_index(faiss_index).nbytes)},
    )
    built = BuiltIndex(
        index=faiss_index,
        kind=index_spec.kind,
        descriptor={},
        history=split.history,
        test=split.test,
        embeddings=embeddings,
        spec=index_spec,
    )
    built._exact = ExactSearcher(history_vectors)
    return built, stored


def _use(built: BuiltIndex, stored: dict[str, Any]) -> BuiltIndex:
    assert built.spec is not None
    apply_search_params(built.index, built.spec)
    built.descriptor = _in_use(stored, built.spec)
    return built


def build_index(
    table: RouteTable,
    split: Split,
    embeddings: np.ndarray,
    embed_spec: EmbedSpec,
    index_spec: IndexSpec,
    *,
    progress: bool = True,
) -> BuiltIndex:
    """Build the index ``index_spec`` over the historical rows of ``embeddings`` (the N x D
    vectors of all of ``table``'s prompts, by ``embed_spec``), with its search parameters
    applied; not saved. Its descriptor records build time and memory; ``measure`` gives
    recall@k and throughput."""
    built, stored = _build(table, split, embeddings, embed_spec, index_spec, progress=progress)
    return _use(built, stored)


def build_or_load_index(
    table: RouteTable,
    split: Split,
    embed_spec: EmbedSpec,
    index_spec: IndexSpec,
    *,
    data_dir: str | Path = "data",
    force: bool = False,
    progress: bool = True,
    embeddings: np.ndarray | None = None,
) -> BuiltIndex:
    """The index ``index_spec`` of ``table``'s historical split embedded by ``embed_spec``:
    loaded from ``<data_dir>/<name>/indexes/<key>.faiss`` when saved, else built and saved
    with its descriptor (``force`` always rebuilds). The key holds the build parameters only:
    other search parameters reuse the same file (applied after loading).

    Embeddings come from ``embed.get_embeddings`` (cached) unless given. A saved index whose
    descriptor disagrees with the dataset, split or embedder is refused with a message naming
    each difference; a loaded index's descriptor is never rewritten."""
    emb_info: dict[str, Any] = {}
    if embeddings is None:
        # memory-mapped: a loaded index only needs the rows of the stream it estimates
        embeddings = get_embeddings(
            table, embed_spec, data_dir=data_dir, progress=progress, mmap=True, info=emb_info,
        )
    index_spec = index_spec.resolve(len(split.history), embeddings.shape[1])
    path = index_dir(table, data_dir) / f"{index_spec.key(embed_spec, split)}.faiss"
    if not force and path.exists() and path.with_suffix(".json").exists():
        built = load_index(path, table, split, embeddings, embed_spec, index_spec)
        built.verify_seconds += float(emb_info.get("verify_seconds", 0.0))
        return built
    built, stored = _build(table, split, embeddings, embed_spec, index_spec, progress=progress)
    stored["file"] = _write_index(path, built.index)
    io.write_json(path.with_suffix(".json"), stored)
    built.path = path
    return _use(built, stored)
