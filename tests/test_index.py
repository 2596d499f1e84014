"""FAISS indexes: recall, exact search order, determinism, descriptors, caching and the CLI."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from routebench import index as ix
from routebench import io
from routebench.cli import app
from routebench.dataset import dataset_dir, save_table
from routebench.embed import get_embeddings
from routebench.split import make_split

EMB = {"dim": 32}


@pytest.fixture(scope="module")
def small():
    """A 1,500-query synthetic table, its 300-query test split and its tfidf vectors."""
    from routebench.sources.synthetic import generate

    table = generate(n=1500, models=4, seed=1)
    split = make_split(table.n, 300, 0)
    vectors = get_embeddings(table, "tfidf", EMB, use_cache=False, progress=False)
    return table, split, vectors


def _build(small, kind, params=None, **kw):
    table, split, vectors = small
    return ix.build_index(
        table, split, vectors, embedder_params=EMB, index=kind, index_params=params,
        progress=False, **kw,
    )


def test_flat_is_exact_with_recall_one(small):
    built = _build(small, "flat")
    m = built.descriptor["measured"]
    assert m["recall_at_k"] == 1.0 and m["k"] == 5
    assert m["memory_bytes"] >= built.ntotal * 32 * 4
    assert m["queries_per_second"] > 0 and m["build_seconds"] >= 0
    table, split, vectors = small
    scores, ids = built.search(built.test_vectors, 5)
    brute = built.test_vectors @ vectors[split.history].T
    np.testing.assert_allclose(scores, np.sort(brute, axis=1)[:, ::-1][:, :5], rtol=1e-5)
    assert ids.min() >= 0 and ids.max() < len(split.history)


@pytest.mark.parametrize(
    ("kind", "params", "floor"),
    [
        ("hnsw", None, 0.9),
        ("ivf", None, 0.9),
        ("ivf", {"pq": True, "nlist": 8, "nprobe": 8}, 0.5),
    ],
)
def test_ann_recall_is_measured_against_exact_search(small, kind, params, floor):
    built = _build(small, kind, params)
    m = built.descriptor["measured"]
    assert floor <= m["recall_at_k"] <= 1.0
    # The recorded recall is what a fresh measurement against exact search gives.
    _, ids = built.search(built.test_vectors, 5)
    exact_scores, exact_ids = built.exact().search(built.test_vectors, 5)
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ids, exact_ids, strict=True)])
    assert m["recall_at_k"] >= overlap - 1e-12  # ties may count as hits, never less
    assert built.descriptor["index"]["params"] == ix.resolve_index_params(
        kind, params, len(small[1].history), 32
    )


def test_crippled_hnsw_has_lower_recall(small):
    good = _build(small, "hnsw")
    bad = _build(small, "hnsw", {"m": 2, "ef_construction": 4, "ef_search": 1})
    assert bad.descriptor["measured"]["recall_at_k"] < good.descriptor["measured"]["recall_at_k"]


def test_exact_search_orders_ties_by_lower_history_position():
    history = np.array(
        [[0, 1], [1, 0], [1, 0], [0, 1], [1, 0], [0.5, 0.5], [1, 0]], dtype=np.float32
    )
    queries = np.array([[1, 0], [0, 1], [2, 2]], dtype=np.float32)  # the last ties everything
    scores, ids = ix.exact_search(history, queries, 3)
    assert ids.tolist() == [[1, 2, 4], [0, 3, 5], [0, 1, 2]]
    np.testing.assert_array_equal(scores[0], [1, 1, 1])
    # k above the history size returns the whole history, in order.
    _, ids = ix.exact_search(history, queries[:1], 50)
    assert ids.tolist() == [[1, 2, 4, 6, 5, 0, 3]]


def test_exact_search_matches_brute_force_lexsort_with_many_ties():
    gen = np.random.default_rng(5)
    history = gen.integers(-2, 3, size=(400, 6)).astype(np.float32)  # exact dot products
    queries = gen.integers(-2, 3, size=(90, 6)).astype(np.float32)
    scores, ids = ix.exact_search(history, queries, 7, chunk_size=16)
    brute = queries @ history.T
    pos = np.broadcast_to(np.arange(400), brute.shape)
    order = np.lexsort((pos, -brute), axis=1)[:, :7]
    np.testing.assert_array_equal(ids, order)
    np.testing.assert_array_equal(scores, np.take_along_axis(brute, order, axis=1))


def test_ann_search_pads_missing_neighbours_last():
    scores = np.array([[0.1, 0.9, -np.inf, 0.9]], dtype=np.float32)
    ids = np.array([[4, 7, -1, 2]])
    s, i = ix.order_neighbours(scores, ids)
    assert i.tolist() == [[2, 7, 4, -1]]
    assert s[0, :3].tolist() == pytest.approx([0.9, 0.9, 0.1])


@pytest.mark.parametrize(("kind", "params"), [("hnsw", None), ("ivf", None), ("ivf", {"pq": True})])
def test_same_seed_same_index_results(small, kind, params):
    a = _build(small, kind, params)
    b = _build(small, kind, params)
    sa, ia = a.search(a.test_vectors, 10)
    sb, ib = b.search(b.test_vectors, 10)
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_array_equal(sa, sb)
    assert a.descriptor["measured"]["recall_at_k"] == b.descriptor["measured"]["recall_at_k"]


def test_index_params_are_validated():
    with pytest.raises(ix.IndexConfigError, match="unknown index 'annoy'"):
        ix.resolve_index_params("annoy", None, 100, 8)
    with pytest.raises(ix.IndexConfigError, match=r"unknown parameter\(s\) \['nlist'\]"):
        ix.resolve_index_params("hnsw", {"nlist": 4}, 100, 8)
    with pytest.raises(ix.IndexConfigError, match="ef_search must be an integer >= 1"):
        ix.resolve_index_params("hnsw", {"ef_search": 0}, 100, 8)
    with pytest.raises(ix.IndexConfigError, match="pq_m 5 must divide the embedding dimension 32"):
        ix.resolve_index_params("ivf", {"pq": True, "pq_m": 5}, 10_000, 32)
    with pytest.raises(ix.IndexConfigError, match="too few to train 256 codewords"):
        ix.resolve_index_params("ivf", {"pq": True}, 200, 32)
    p = ix.resolve_index_params("ivf", None, 26_497, 256)
    assert p["nlist"] == 651 and p["nprobe"] == 41 and p["pq"] is False
    assert ix.resolve_index_params("ivf", {"pq": True}, 26_497, 256)["pq_m"] == 64
    assert ix.resolve_index_params("hnsw", None, 10, 8) == {
        "m": 32, "ef_construction": 200, "ef_search": 50
    }


def test_build_save_reuse_and_refuse_mismatches(small, tmp_path):
    table, split, vectors = small
    kw = dict(embedder_params=EMB, index="hnsw", data_dir=tmp_path, progress=False)
    built = ix.build_or_load_index(table, split, embeddings=vectors, **kw)
    assert not built.reused and built.path.exists()
    stored = io.read_json(built.path.with_suffix(".json"))
    assert stored["dataset"]["content_hash"] == table.content_hash()
    assert stored["split"] == {"seed": 0, "test_size": 300, "n_history": 1200,
                               "history_sha256": ix.split_digest(split)}
    assert stored["file"]["sha256"] == io.file_sha256(built.path)
    assert stored["embedder"] == {"name": "tfidf", "params": {**stored["embedder"]["params"]},
                                  "dim": 32}
    assert stored["embedder"]["params"]["dim"] == 32
    assert stored["index"]["type"] == "hnsw"
    assert stored["measured"]["memory_bytes"] == built.path.stat().st_size
    for key in ("build_seconds", "recall_at_k", "queries_per_second"):
        assert stored["measured"][key] > 0

    again = ix.build_or_load_index(table, split, embeddings=vectors, **kw)
    assert again.reused
    np.testing.assert_array_equal(
        again.search(again.test_vectors, 5)[1], built.search(built.test_vectors, 5)[1]
    )
    # A different top_k re-measures recall at that k and updates the descriptor.
    at3 = ix.build_or_load_index(table, split, embeddings=vectors, top_k=3, **kw)
    assert at3.reused and io.read_json(built.path.with_suffix(".json"))["measured"]["k"] == 3

    # The same file loaded for another split, embedder or dataset is refused, naming the field.
    other_split = make_split(table.n, 300, 1)
    with pytest.raises(ix.DescriptorMismatch, match="split seed: stored 0 vs wanted 1"):
        ix.load_index(built.path, table, other_split, vectors, embedder_params=EMB)
    with pytest.raises(ix.DescriptorMismatch, match="embedder params: stored .*'dim': 32"):
        ix.load_index(built.path, table, split, vectors, embedder_params={"dim": 64})
    changed = replace(table, cost=table.cost * 2)
    with pytest.raises(ix.DescriptorMismatch, match="dataset content hash: stored '[0-9a-f]+' vs"):
        ix.build_or_load_index(changed, split, embeddings=vectors, **kw)
    rebuilt = ix.build_or_load_index(changed, split, embeddings=vectors, force=True, **kw)
    assert not rebuilt.reused
    assert io.read_json(rebuilt.path.with_suffix(".json"))["dataset"]["content_hash"] == (
        changed.content_hash()
    )


def test_hnsw_recall_on_synthetic_fast(tmp_path):
    from routebench.sources.synthetic import generate

    table = generate(n=5000, seed=0)
    split = make_split(table.n, 1500, 0)
    built = ix.build_or_load_index(
        table, split, embedder_params={"dim": 64}, data_dir=tmp_path, progress=False
    )
    assert built.descriptor["measured"]["recall_at_k"] >= 0.9


@pytest.mark.slow
def test_hnsw_recall_at_5_on_the_synthetic_default(tmp_path):
    from routebench.sources.synthetic import generate

    table = generate()
    split = make_split(table.n, 10_000, 0)
    built = ix.build_or_load_index(table, split, data_dir=tmp_path, progress=False)
    assert built.descriptor["split"]["n_history"] == 26_497
    assert built.descriptor["measured"]["recall_at_k"] >= 0.9


# --------------------------------------------------------------------------- CLI
runner = CliRunner()


@pytest.fixture
def saved(data_dir: Path):
    from routebench.sources.synthetic import generate

    table = replace(generate(n=600, models=3, seed=2), name="toy")
    save_table(table, dataset_dir("toy", data_dir))
    return table


def test_cli_builds_then_reuses(saved, data_dir):
    args = ["build-index", "toy", "--test-size", "100", "--dim", "16", "--top-k", "4"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "built" in first.output and "recall@4 vs exact" in first.output
    assert "search (queries/s)" in first.output and "index memory (MiB)" in first.output
    assert "m=32, ef_construction=200, ef_search=50" in first.output
    files = sorted((data_dir / "toy" / "indexes").glob("*.faiss"))
    assert len(files) == 1
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "reused" in second.output
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0 and "built" in forced.output
    ivf = runner.invoke(
        app, ["build-index", "toy", "--test-size", "100", "--index", "ivf", "--nlist", "4",
              "--nprobe", "2", "--dim", "16"]
    )
    assert ivf.exit_code == 0, ivf.output
    assert "nlist=4, nprobe=2" in ivf.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--test-size", "600"], "--test-size: 600 is too large"),
        (["--index", "annoy"], "unknown index 'annoy'"),
        (["--embedder", "word2vec"], "unknown embedder 'word2vec'"),
        (["--nlist", "8"], "--nlist applies to --index ivf"),
        (["--embedder", "minilm", "--dim", "8"], "--dim applies to --embedder tfidf"),
        (["--top-k", "0"], "--top-k: must be at least 1"),
    ],
)
def test_cli_refuses_bad_input(saved, extra, message):
    result = runner.invoke(app, ["build-index", "toy", "--test-size", "100", *extra])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_cli_unknown_dataset(data_dir):
    result = runner.invoke(app, ["build-index", "nothing-here"])
    assert result.exit_code == 1
    assert "nothing-here" in result.output
