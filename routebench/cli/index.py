"""`routebench build-index`: embed a dataset's prompts and build (or reuse) an ANN index over its
historical split, then report build time, memory, throughput and recall@k.

The embedder and index options (``--embedder``, ``--index``, ``--dim``, ``--hnsw-m``,
``--ef-construction``, ``--ef-search``, ``--nlist``, ``--nprobe``, ``--pq``, ``--pq-m``) are
declared here once and shared with ``simulate``; ``estimate_params`` turns them into embedder
and index parameters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal

import typer
from rich.table import Table

from routebench import embed as embed_lib
from routebench import index as index_lib
from routebench.cli.common import app, console, data_dir, fail, handle_errors
from routebench.dataset import dataset_dir, load_table
from routebench.errors import ParamError
from routebench.estimate import DEFAULT_TOP_K, EstimateSpec, open_index
from routebench.split import DEFAULT_TEST_SIZE, make_split

#: ``--index`` choices: the library's index types.
IndexName = Literal[index_lib.INDEX_TYPES]  # type: ignore[valid-type]

#: Each shared option: the parameter it sets, whether of the embedder or the index, the
#: embedder or index type it applies to, and its flag.
OPTION_PARAMS: dict[str, tuple[str, str, str]] = {
    "dim": ("embedder", "tfidf", "--dim"),
    "m": ("index", "hnsw", "--hnsw-m"),
    "ef_construction": ("index", "hnsw", "--ef-construction"),
    "ef_search": ("index", "hnsw", "--ef-search"),
    "nlist": ("index", "ivf", "--nlist"),
    "nprobe": ("index", "ivf", "--nprobe"),
    "pq": ("index", "ivf", "--pq"),
    "pq_m": ("index", "ivf", "--pq-m"),
}
#: Library parameters whose flag is not ``--<param>`` (``ParamError.param`` -> flag's name).
_PARAM_FLAGS = {"m": "hnsw_m", "pq_bits": "pq"}


def complete_embedder(incomplete: str) -> list[str]:
    """Shell completion of ``--embedder``: the registered embedders and the ``st:`` family."""
    return [n for n in (*embed_lib.EMBEDDERS, embed_lib.ST_PREFIX) if n.startswith(incomplete)]


# The shared option declarations (one OptionInfo per option, used by every command).
EMBEDDER = typer.Option(
    embed_lib.DEFAULT_EMBEDDER, "--embedder", autocompletion=complete_embedder,
    help="tfidf (offline), minilm (extra 'embed'), or st:<model-id> (needs network).",
)
INDEX = typer.Option(index_lib.DEFAULT_INDEX, "--index", case_sensitive=False,
                     help="ANN index.")
TOP_K = typer.Option(DEFAULT_TOP_K, "--top-k", help="Nearest historical queries per estimate.")
DIM = typer.Option(None, "--dim", help="tfidf: SVD dimension (default 256).")
HNSW_M = typer.Option(None, "--hnsw-m", help="hnsw: graph degree M (32).")
EF_CONSTRUCTION = typer.Option(None, "--ef-construction", help="hnsw: efConstruction (200).")
EF_SEARCH = typer.Option(
    None, "--ef-search", help="hnsw: efSearch (50); a search parameter: reuses the index file."
)
NLIST = typer.Option(None, "--nlist", help="ivf: lists (default ~4 sqrt(n)).")
NPROBE = typer.Option(
    None, "--nprobe",
    help="ivf: lists probed (nlist / 16, >= 8); a search parameter: reuses the index file.",
)
PQ = typer.Option(False, "--pq", help="ivf: product-quantised vectors (IVF-PQ).")
PQ_M = typer.Option(None, "--pq-m", help="ivf --pq: sub-quantisers.")


@contextlib.contextmanager
def param_flags() -> Iterator[None]:
    """Re-raise a ``ParamError`` of a library parameter whose flag has another name (``m`` is
    ``--hnsw-m``) under that flag's name, so the CLI names the flag the user typed."""
    try:
        yield
    except ParamError as exc:
        if exc.param in _PARAM_FLAGS:
            raise ParamError(_PARAM_FLAGS[exc.param], exc.detail) from None
        raise


def estimate_params(embedder: str, index: str, **given: Any) -> tuple[dict[str, Any],
                                                                      dict[str, Any]]:
    """(embedder params, index params) from the shared options the user set (``given``: the
    keys of ``OPTION_PARAMS``; ``None`` and ``False`` mean unset). An option that belongs to
    another embedder or index type is refused, naming it; the values are checked at once
    (``EmbedSpec``, ``IndexSpec``), before any data is loaded."""
    params: dict[str, dict[str, Any]] = {"embedder": {}, "index": {}}
    chosen = {"embedder": embedder, "index": index}
    for key, value in given.items():
        if value is None or value is False:
            continue
        group, owner, flag = OPTION_PARAMS[key]
        if chosen[group] != owner:
            fail(f"{flag} applies to --{group} {owner}, not --{group} {chosen[group]}")
        params[group][key] = value
    with param_flags():
        embed_lib.EmbedSpec(embedder, params["embedder"])
        index_lib.IndexSpec(index, params["index"])
    return params["embedder"], params["index"]


@app.command("build-index")
@handle_errors
def build_index(
    name: str = typer.Argument(..., help="Dataset name (a folder under the data directory)."),
    embedder: str = EMBEDDER,
    index: IndexName = INDEX,
    test_size: int = typer.Option(DEFAULT_TEST_SIZE, "--test-size", help="Test-stream queries."),
    seed: int = typer.Option(0, "--seed", help="Split seed."),
    top_k: int = TOP_K,
    force: bool = typer.Option(False, "--force", help="Rebuild even if a matching index exists."),
    dim: int | None = DIM,
    hnsw_m: int | None = HNSW_M,
    ef_construction: int | None = EF_CONSTRUCTION,
    ef_search: int | None = EF_SEARCH,
    nlist: int | None = NLIST,
    nprobe: int | None = NPROBE,
    pq: bool = PQ,
    pq_m: int | None = PQ_M,
) -> None:
    """Embed prompts and build (or reuse) an ANN index over the historical split; print build
    time, index memory, search throughput and recall@k of the test stream vs exact search."""
    embedder_params, index_params = estimate_params(
        embedder, index, dim=dim, m=hnsw_m, ef_construction=ef_construction,
        ef_search=ef_search, nlist=nlist, nprobe=nprobe, pq=pq, pq_m=pq_m,
    )
    spec = EstimateSpec.from_options(embedder, embedder_params, index, index_params, top_k)
    table = load_table(dataset_dir(name, data_dir()))
    split = make_split(table.n, test_size, seed)
    with param_flags():
        built = open_index(table, split, spec, data_dir=data_dir(write=True), force=force)
    _print(built)


def _print(built: index_lib.BuiltIndex) -> None:
    d = built.descriptor
    m = d["measured"]
    spec = built.spec if built.spec is not None else index_lib.IndexSpec(built.kind)
    params = ", ".join(f"{k}={v}" for k, v in spec.params if v is not None)  # canonical order
    table = Table(title=f"{d['dataset']['name']}: {built.kind} index", title_justify="left")
    table.add_column("field")
    table.add_column("value", justify="right")
    rows = [
        ("status", "reused (SHA-256 verified in "
         f"{built.verify_seconds:.3f} s)" if built.reused else "built"),
        ("embedder", f"{d['embedder']['name']} (dim {d['embedder']['dim']})"),
        ("index params", params or "-"),
        ("history / test queries", f"{d['split']['n_history']:,} / {d['split']['test_size']:,}"),
        ("build time (s)", f"{m['build_seconds']:.2f}"),
        ("index memory (MiB)", f"{m['memory_bytes'] / 2**20:.1f}"),
        ("search (queries/s)", f"{m['queries_per_second']:,.0f}"),
        (f"recall@{m['k']} vs exact", f"{m['recall_at_k']:.4f}"),
        ("file", str(built.path)),
    ]
    for field, value in rows:
        table.add_row(field, value)
    console.print(table)
