"""`routebench build-index`: embed a dataset's prompts and build (or reuse) an ANN index over its
historical split, then report build time, memory, throughput and recall@k."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from routebench import embed as embed_lib
from routebench import index as index_lib
from routebench.cli.common import app, console, data_dir, fail, handle_errors
from routebench.dataset import dataset_dir, load_table
from routebench.split import DEFAULT_TEST_SIZE, make_split


def _index_params(index: str, **given: Any) -> dict[str, Any]:
    """Index options the user set, refusing those that belong to another index type."""
    owners = {
        "m": ("hnsw", "--hnsw-m"),
        "ef_construction": ("hnsw", "--ef-construction"),
        "ef_search": ("hnsw", "--ef-search"),
        "nlist": ("ivf", "--nlist"),
        "nprobe": ("ivf", "--nprobe"),
        "pq": ("ivf", "--pq"),
        "pq_m": ("ivf", "--pq-m"),
    }
    params: dict[str, Any] = {}
    for key, value in given.items():
        if value is None or value is False:
            continue
        kind, flag = owners[key]
        if kind != index:
            fail(f"{flag} applies to --index {kind}, not --index {index}")
        params[key] = value
    return params


@app.command("build-index")
@handle_errors
def build_index(
    name: str = typer.Argument(..., help="Dataset name (a folder under the data directory)."),
    embedder: str = typer.Option(
        embed_lib.DEFAULT_EMBEDDER,
        "--embedder",
        help="tfidf (offline), minilm (extra 'embed'), or st:<model-id> (needs network).",
    ),
    index: str = typer.Option(index_lib.DEFAULT_INDEX, "--index", help="flat, hnsw or ivf."),
    test_size: int = typer.Option(DEFAULT_TEST_SIZE, "--test-size", help="Test-stream queries."),
    seed: int = typer.Option(0, "--seed", help="Split seed."),
    top_k: int = typer.Option(index_lib.DEFAULT_TOP_K, "--top-k", help="Neighbours per query."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if a matching index exists."),
    dim: int | None = typer.Option(None, "--dim", help="tfidf: SVD dimension (default 256)."),
    hnsw_m: int | None = typer.Option(None, "--hnsw-m", help="hnsw: graph degree M (32)."),
    ef_construction: int | None = typer.Option(
        None, "--ef-construction", help="hnsw: efConstruction (200)."
    ),
    ef_search: int | None = typer.Option(None, "--ef-search", help="hnsw: efSearch (50)."),
    nlist: int | None = typer.Option(None, "--nlist", help="ivf: lists (default ~4 sqrt(n))."),
    nprobe: int | None = typer.Option(
        None, "--nprobe", help="ivf: lists probed (nlist / 16, >= 8)."
    ),
    pq: bool = typer.Option(False, "--pq", help="ivf: product-quantised vectors (IVF-PQ)."),
    pq_m: int | None = typer.Option(None, "--pq-m", help="ivf --pq: sub-quantisers."),
) -> None:
    """Embed prompts and build (or reuse) an ANN index over the historical split; print build
    time, index memory, search throughput and recall@k of the test stream vs exact search."""
    if top_k < 1:
        fail(f"--top-k: must be at least 1, got {top_k}")
    if index not in index_lib.INDEX_TYPES:
        fail(f"unknown index {index!r}; known: {', '.join(index_lib.INDEX_TYPES)}")
    embedder_params: dict[str, Any] = {}
    if dim is not None:
        if embedder != "tfidf":
            fail(f"--dim applies to --embedder tfidf, not {embedder!r}")
        embedder_params["dim"] = dim
    embed_lib.resolve_params(embedder, embedder_params)  # unknown embedder: fail before loading
    index_params = _index_params(
        index,
        m=hnsw_m,
        ef_construction=ef_construction,
        ef_search=ef_search,
        nlist=nlist,
        nprobe=nprobe,
        pq=pq,
        pq_m=pq_m,
    )
    table = load_table(dataset_dir(name, data_dir()))
    split = make_split(table.n, test_size, seed)
    if top_k > len(split.history):
        fail(f"--top-k: {top_k} exceeds the {len(split.history):,} historical queries of "
             f"dataset {name!r} at --test-size {test_size}; lower it (or --test-size)")
    built = index_lib.build_or_load_index(
        table,
        split,
        embedder=embedder,
        embedder_params=embedder_params,
        index=index,
        index_params=index_params,
        top_k=top_k,
        data_dir=data_dir(write=True),
        force=force,
    )
    _print(built)


def _print(built: index_lib.BuiltIndex) -> None:
    d = built.descriptor
    m = d["measured"]
    params = ", ".join(f"{k}={v}" for k, v in d["index"]["params"].items() if v is not None)
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
