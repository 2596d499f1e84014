"""FAISS indexes over the historical prompts' embeddings, with measured recall and a descriptor.

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

Indexes are built over the historical split only and saved under
``data/<name>/indexes/<key>.faiss`` with a JSON descriptor (``<key>.json``): embedder and its
params, index type and params, dataset content hash, split seed and test size, and what was
measured: build time (s), memory (bytes of the serialised index), recall@k of the test stream
against exact search, and search throughput (queries/s), both over at most ``MEASURE_QUERIES``
evenly spaced test queries. Builds run FAISS single-threaded
(``omp_set_num_threads(1)``) because a multi-threaded HNSW insertion order is not reproducible;
searches use every thread, which does not change results.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import faiss
import numpy as np
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from routebench import embed, io
from routebench.dataset import RouteTable, dataset_dir
from routebench.errors import IntegrityError
from routebench.seeding import rng
from routebench.split import Split

INDEX_TYPES = ("flat", "hnsw", "ivf")
DEFAULT_INDEX = "hnsw"
DEFAULT_TOP_K = 5
INDEXES_SUBDIR = "indexes"
DESCRIPTOR_FORMAT = 2  # 2: the index file's SHA-256 and the split's history hash
SEARCH_BATCH = 4096  # queries per FAISS search call
EXACT_CHUNK = 512  # queries per exact-search block (block x history float32 scores in memory)
TIE_MARGIN = 16  # extra exact candidates fetched per query to resolve ties at the k-th place
MEASURE_QUERIES = 10_000  # test queries (evenly spaced) behind a stored recall and throughput

_DEFAULTS: dict[str, dict[str, Any]] = {
    "flat": {},
    "hnsw": {"m": 32, "ef_construction": 200, "ef_search": 50},
    "ivf": {"nlist": None, "nprobe": None, "pq": False, "pq_m": None, "pq_bits": 8},
}


#: Upper limits of index parameters (beyond them FAISS fails or runs out of memory).
_MAX_PARAM = {"m": 1024, "ef_construction": 1_000_000, "ef_search": 1_000_000, "pq_bits": 16}


class IndexConfigError(ValueError):
    """Bad index type or parameters, or a stored index that does not fit the data in use."""


class DescriptorMismatch(IndexConfigError):
    """A stored index built for other data, split or embedder than the ones asked for."""


class Searcher(Protocol):
    """Anything that finds the k nearest historical queries of a batch of query vectors."""

    @property
    def ntotal(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


# --------------------------------------------------------------------------- params
def resolve_index_params(
    kind: str, params: dict[str, Any] | None, n_history: int, dim: int
) -> dict[str, Any]:
    """The complete parameters of index ``kind`` for ``n_history`` vectors of dimension ``dim``.

    Unknown keys and bad values raise ``IndexConfigError``. IVF defaults: ``nlist`` =
    4 sqrt(n) capped so every list gets at least 39 training points, ``nprobe`` = nlist / 16
    but at least 8 (at most nlist); ``pq_m`` = the largest divisor of ``dim`` that is at most
    dim / 4.
    """
    if kind not in INDEX_TYPES:
        raise IndexConfigError(f"unknown index {kind!r}; known: {', '.join(INDEX_TYPES)}")
    given = dict(params or {})
    unknown = sorted(set(given) - set(_DEFAULTS[kind]))
    if unknown:
        known = ", ".join(_DEFAULTS[kind]) or "none"
        raise IndexConfigError(f"index {kind!r}: unknown parameter(s) {unknown}; known: {known}")
    out = {**_DEFAULTS[kind], **{k: v for k, v in given.items() if v is not None}}

    def positive(key: str) -> int:
        value = out[key]
        high = _MAX_PARAM.get(key, 2**31 - 1)  # FAISS stores these as C ints
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise IndexConfigError(f"index {kind!r}: {key} must be an integer >= 1, got {value!r}")
        if value > high:
            raise IndexConfigError(f"index {kind!r}: {key} must be at most {high:,}, got {value!r}")
        return int(value)

    if kind == "hnsw":
        for key in ("m", "ef_construction", "ef_search"):
            out[key] = positive(key)
    elif kind == "ivf":
        if out["nlist"] is None:
            out["nlist"] = max(1, min(int(round(4 * math.sqrt(n_history))), n_history // 39))
        out["nlist"] = positive("nlist")
        if out["nlist"] > n_history:
            raise IndexConfigError(
                f"index 'ivf': nlist {out['nlist']} exceeds the {n_history} historical queries"
            )
        if out["nprobe"] is None:
            out["nprobe"] = min(out["nlist"], max(8, math.ceil(out["nlist"] / 16)))
        out["nprobe"] = min(positive("nprobe"), out["nlist"])
        out["pq"] = bool(out["pq"])
        if out["pq"]:
            if out["pq_m"] is None:
                out["pq_m"] = max(d for d in range(1, max(1, dim // 4) + 1) if dim % d == 0)
            out["pq_m"] = positive("pq_m")
            out["pq_bits"] = positive("pq_bits")
            if dim % out["pq_m"]:
                raise IndexConfigError(
                    f"index 'ivf': pq_m {out['pq_m']} must divide the embedding dimension {dim}"
                )
            if n_history < 2 ** out["pq_bits"]:
                raise IndexConfigError(
                    f"index 'ivf' with pq: {n_history} historical queries are too few to train "
                    f"{2 ** out['pq_bits']} codewords (pq_bits {out['pq_bits']})"
                )
        else:
            out["pq_m"] = None
            out["pq_bits"] = None
    return out


# --------------------------------------------------------------------------- build
#: Spawn key of the index-building random stream, apart from ``seeding.STREAMS``' children.


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


def make_faiss_index(
    vectors: np.ndarray, kind: str, params: dict[str, Any], seed: int = 0
) -> faiss.Index:
    """Build (train and fill) a FAISS index of ``kind`` over ``vectors`` (float32, unit rows).

    ``params`` must be resolved (``resolve_index_params``). ``seed`` seeds IVF's k-means and
    PQ training. Single-threaded, so the same inputs give the same index."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
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


def apply_search_params(index: faiss.Index, kind: str, params: dict[str, Any]) -> None:
    """Set the query-time knobs (efSearch, nprobe), which FAISS does not always serialise."""
    if kind == "hnsw":
        index.hnsw.efSearch = params["ef_search"]
    elif kind == "ivf":
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
    """

    index: faiss.Index
    kind: str
    descriptor: dict[str, Any]
    history: np.ndarray
    test: np.ndarray
    embeddings: np.ndarray
    path: Path | None = None
    reused: bool = False
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


def _identity(
    table: RouteTable,
    split: Split,
    embedder: str,
    embedder_params: dict[str, Any],
    kind: str,
    index_params: dict[str, Any],
) -> dict[str, Any]:
    return {
        "dataset": {"name": table.name, "content_hash": table.content_hash(), "n_queries": table.n},
        "split": {
            "seed": split.seed,
            "test_size": split.test_size,
            "n_history": int(len(split.history)),
            "history_sha256": split_digest(split),
        },
        "embedder": {"name": embedder, "params": embedder_params},
        "index": {"type": kind, "params": index_params},
    }


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
    """Refuse (``DescriptorMismatch``) a stored index whose identity differs from ``wanted``;
    the message lists every differing field as ``field: stored X vs wanted Y``."""
    diffs = []
    for group, key, label in _CHECKED:
        have = stored.get(group, {}).get(key)
        want = wanted[group][key]
        if have != want:
            diffs.append(f"{label}: stored {have!r} vs wanted {want!r}")
    if diffs:
        raise DescriptorMismatch(
            f"{path}: the stored index does not fit the data in use ("
            + "; ".join(diffs)
            + "); rebuild it with --force"
        )


def index_dir(table: RouteTable, data_dir: str | Path = "data") -> Path:
    """Folder of ``table``'s saved indexes: ``<data_dir>/<name>/indexes``."""
    return dataset_dir(table.name, data_dir) / INDEXES_SUBDIR


def index_key(identity: dict[str, Any]) -> str:
    """File stem of one saved index: index type, embedder, and a hash of the build identity
    (embedder params, index params, split); the dataset is checked through the descriptor."""
    emb = identity["embedder"]["name"]
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in emb)
    digest = io.stable_hash(
        [identity["embedder"], identity["index"], identity["split"]["seed"],
         identity["split"]["test_size"]]
    )
    return f"{identity['index']['type']}-{slug}-{digest}"


def _write_index(path: Path, index: faiss.Index) -> dict[str, Any]:
    """Write ``index`` atomically; the SHA-256 and size (bytes) of the file written."""
    sha, size = io.write_hashed(path, lambda p: faiss.write_index(index, str(p)))
    return {"sha256": sha, "bytes": size}


def read_verified_index(path: Path, descriptor: dict[str, Any]) -> tuple[faiss.Index, float]:
    """Read a saved index after checking that its bytes are the ones its descriptor recorded
    (SHA-256): a file copied from another dataset, truncated or edited is refused, never used.
    Returns the index and the seconds the check took."""
    fix = "delete it or rebuild it: `routebench build-index DATASET --force` (same options)"
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


def load_index(
    path: str | Path,
    table: RouteTable,
    split: Split,
    embeddings: np.ndarray,
    *,
    embedder: str = embed.DEFAULT_EMBEDDER,
    embedder_params: dict[str, Any] | None = None,
) -> BuiltIndex:
    """Load a saved index (``<key>.faiss`` + ``<key>.json``) and check its descriptor against
    ``table``, ``split`` and the embedder in use; refuse on any difference."""
    path = Path(path)
    json_path = path.with_suffix(".json")
    if not path.exists() or not json_path.exists():
        raise FileNotFoundError(f"{path}: no saved index (or its descriptor {json_path.name})")
    stored = io.read_json(json_path)
    kind = stored.get("index", {}).get("type", "")
    emb_params = embed.resolve_params(embedder, embedder_params)
    stored_params = stored.get("index", {}).get("params", {})
    wanted = _identity(table, split, embedder, emb_params, kind, stored_params)
    check_descriptor(stored, wanted, path=json_path)
    index, verify_seconds = read_verified_index(path, stored)
    if index.ntotal != len(split.history) or index.d != embeddings.shape[1]:
        raise DescriptorMismatch(
            f"{path}: index holds {index.ntotal} vectors of dimension {index.d}, expected "
            f"{len(split.history)} of dimension {embeddings.shape[1]}; rebuild it with --force"
        )
    apply_search_params(index, kind, stored_params)
    return BuiltIndex(
        index=index,
        kind=kind,
        descriptor=stored,
        history=split.history,
        test=split.test,
        embeddings=embeddings,
        path=path,
        reused=True,
        verify_seconds=verify_seconds,
    )


def build_index(
    table: RouteTable,
    split: Split,
    embeddings: np.ndarray,
    *,
    embedder: str = embed.DEFAULT_EMBEDDER,
    embedder_params: dict[str, Any] | None = None,
    index: str = DEFAULT_INDEX,
    index_params: dict[str, Any] | None = None,
    top_k: int = DEFAULT_TOP_K,
    progress: bool = True,
) -> BuiltIndex:
    """Build index ``index`` over the historical rows of ``embeddings`` and measure it (not
    saved). ``embeddings`` are the N x D vectors of all of ``table``'s prompts."""
    if embeddings.shape[0] != table.n:
        raise IndexConfigError(
            f"embeddings have {embeddings.shape[0]} rows but dataset {table.name!r} has {table.n}"
        )
    if split.history.size + split.test.size != table.n:
        raise IndexConfigError(
            f"split covers {split.history.size + split.test.size} queries but dataset "
            f"{table.name!r} has {table.n}"
        )
    emb_params = embed.resolve_params(embedder, embedder_params)
    history_vectors = np.ascontiguousarray(embeddings[split.history], dtype=np.float32)
    params = resolve_index_params(index, index_params, len(history_vectors), embeddings.shape[1])
    identity = _identity(table, split, embedder, emb_params, index, params)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        transient=True, disable=not progress,
    ) as bar:
        task = bar.add_task(f"building {index} index over {len(history_vectors)} queries")
        start = time.perf_counter()
        faiss_index = make_faiss_index(history_vectors, index, params, seed=split.seed)
        build_seconds = time.perf_counter() - start
        n_measured = min(len(split.test), MEASURE_QUERIES)
        bar.update(task, description=f"measuring recall@{top_k} of {n_measured} test queries")
        built = BuiltIndex(
            index=faiss_index,
            kind=index,
            descriptor={},
            history=split.history,
            test=split.test,
            embeddings=embeddings,
        )
        built._exact = ExactSearcher(history_vectors)
        measured = measure(built, top_k)
    built.descriptor = {
        "format": DESCRIPTOR_FORMAT,
        **identity,
        "embedder": {**identity["embedder"], "dim": int(embeddings.shape[1])},
        "top_k": int(top_k),
        "measured": {
            "build_seconds": build_seconds,
            "memory_bytes": int(faiss.serialize_index(faiss_index).nbytes),
            **measured,
        },
        "versions": {"faiss": faiss.__version__, "numpy": np.__version__},
    }
    return built


def build_or_load_index(
    table: RouteTable,
    split: Split,
    *,
    embedder: str = embed.DEFAULT_EMBEDDER,
    embedder_params: dict[str, Any] | None = None,
    index: str = DEFAULT_INDEX,
    index_params: dict[str, Any] | None = None,
    top_k: int = DEFAULT_TOP_K,
    data_dir: str | Path = "data",
    force: bool = False,
    progress: bool = True,
    embeddings: np.ndarray | None = None,
) -> BuiltIndex:
    """The index of ``table``'s historical split: loaded from ``<data_dir>/<name>/indexes`` when
    a matching one is saved, else built, measured and saved (``force`` always rebuilds).

    Embeddings come from ``embed.get_embeddings`` (cached) unless given. A saved index whose
    descriptor disagrees with the dataset, split or embedder is refused with a message naming
    each difference. When the stored recall was measured at another ``top_k`` it is measured
    again at ``top_k`` and the descriptor is updated."""
    emb_info: dict[str, Any] = {}
    if embeddings is None:
        # memory-mapped: a loaded index only needs the rows of the stream it estimates
        embeddings = embed.get_embeddings(
            table, embedder, embedder_params, data_dir=data_dir, progress=progress, mmap=True,
            info=emb_info,
        )
    emb_params = embed.resolve_params(embedder, embedder_params)
    params = resolve_index_params(index, index_params, len(split.history), embeddings.shape[1])
    identity = _identity(table, split, embedder, emb_params, index, params)
    folder = index_dir(table, data_dir)
    path = folder / f"{index_key(identity)}.faiss"
    if not force and path.exists() and path.with_suffix(".json").exists():
        built = load_index(
            path, table, split, embeddings, embedder=embedder, embedder_params=embedder_params
        )
        built.verify_seconds += float(emb_info.get("verify_seconds", 0.0))
        if built.descriptor.get("top_k") != int(top_k):
            built.descriptor["measured"].update(measure(built, top_k))
            built.descriptor["top_k"] = int(top_k)
            io.write_json(path.with_suffix(".json"), built.descriptor)
        return built
    built = build_index(
        table,
        split,
        embeddings,
        embedder=embedder,
        embedder_params=embedder_params,
        index=index,
        index_params=index_params,
        top_k=top_k,
        progress=progress,
    )
    built.descriptor["file"] = _write_index(path, built.index)
    io.write_json(path.with_suffix(".json"), built.descriptor)
    built.path = path
    return built
