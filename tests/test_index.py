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
from routebench.embed import EmbedSpec, get_embeddings
from routebench.estimate import EstimateSpec, open_index
from routebench.split import make_split

EMB = EmbedSpec("tfidf", {"dim": 32})


@pytest.fixture(scope="module")
def small():
    """A 1,500-query synthetic table, its 300-query test split and its tfidf vectors."""
    from routebench.sources.synthetic import generate

    table = generate(n=1500, models=4, seed=1)
    split = make_split(table.n, 300, 0)
    vectors = get_embeddings(table, EMB, use_cache=False, progress=False)
    return table, split, vectors


def _build(small, kind, params=None):
    table, split, vectors = small
    return ix.build_index(table, split, vectors, EMB, ix.IndexSpec(kind, params or {}),
                          progress=False)


def _measured(built, k=5):
    """The build measurements with recall@k and throughput (``index.measure``)."""
    return {**built.descriptor["measured"], **ix.measure(built, k)}


def test_flat_is_exact_with_recall_one(small):
    built = _build(small, "flat")
    m = _measured(built)
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
    m = _measured(built)
    assert floor <= m["recall_at_k"] <= 1.0
    # The recorded recall is what a fresh measurement against exact search gives.
    _, ids = built.search(built.test_vectors, 5)
    exact_scores, exact_ids = built.exact().search(built.test_vectors, 5)
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ids, exact_ids, strict=True)])
    assert m["recall_at_k"] >= overlap - 1e-12  # ties may count as hits, never less
    assert built.spec == ix.IndexSpec(kind, params or {}).resolve(len(small[1].history), 32)
    assert built.descriptor["index"]["params"] == built.spec.build_params
    assert built.descriptor["index"]["search"] == built.spec.search_params


def test_crippled_hnsw_has_lower_recall(small):
    good = _build(small, "hnsw")
    bad = _build(small, "hnsw", {"m": 2, "ef_construction": 4, "ef_search": 1})
    assert _measured(bad)["recall_at_k"] < _measured(good)["recall_at_k"]


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
    assert _measured(a)["recall_at_k"] == _measured(b)["recall_at_k"]


def test_index_params_are_validated():
    with pytest.raises(ix.IndexParamError, match="unknown index 'annoy'") as exc:
        ix.IndexSpec("annoy")
    assert exc.value.param == "index" and isinstance(exc.value, ix.IndexConfigError)
    with pytest.raises(ix.IndexParamError, match=r"unknown parameter\(s\) \['nlist'\]"):
        ix.IndexSpec("hnsw", {"nlist": 4})
    with pytest.raises(ix.IndexParamError, match="ef_search: must be an integer >= 1") as exc:
        ix.IndexSpec("hnsw", {"ef_search": 0})
    assert exc.value.param == "ef_search"
    with pytest.raises(ix.IndexParamError, match="m: must be at most 1,024"):
        ix.IndexSpec("hnsw", {"m": 5000})
    with pytest.raises(ix.IndexParamError, match="pq: must be true or false"):
        ix.IndexSpec("ivf", {"pq": "yes"})
    with pytest.raises(ix.IndexParamError, match="pq_m: 5 must divide the embedding dimension 32"):
        ix.IndexSpec("ivf", {"pq": True, "pq_m": 5}).resolve(10_000, 32)
    with pytest.raises(ix.IndexParamError, match="too few to train 256 codewords"):
        ix.IndexSpec("ivf", {"pq": True}).resolve(200, 32)
    with pytest.raises(ix.IndexParamError, match="nlist: 500 exceeds the 200 historical"):
        ix.IndexSpec("ivf", {"nlist": 500}).resolve(200, 32)
    p = dict(ix.IndexSpec("ivf").resolve(26_497, 256).params)
    assert p["nlist"] == 651 and p["nprobe"] == 41 and p["pq"] is False
    assert dict(ix.IndexSpec("ivf", {"pq": True}).resolve(26_497, 256).params)["pq_m"] == 64
    assert dict(ix.IndexSpec("hnsw").params) == {"m": 32, "ef_construction": 200, "ef_search": 50}
    assert ix.IndexSpec("hnsw").resolve(10, 8) == ix.IndexSpec("hnsw")
    # build and search parameters
    ivf = ix.IndexSpec("ivf", {"nlist": 8, "nprobe": 20}).resolve(1000, 32)
    assert ivf.build_params == {"nlist": 8, "pq": False, "pq_m": None, "pq_bits": None}
    assert ivf.search_params == {"nprobe": 8}  # capped at nlist
    assert ix.IndexSpec("ivf").unresolved == ("nlist", "nprobe")


def test_build_save_reuse_and_refuse_mismatches(small, tmp_path):
    table, split, vectors = small
    hnsw = ix.IndexSpec("hnsw")
    kw = dict(data_dir=tmp_path, progress=False, embeddings=vectors)
    built = ix.build_or_load_index(table, split, EMB, hnsw, **kw)
    assert not built.reused and built.path.exists()
    stored = io.read_json(built.path.with_suffix(".json"))
    assert stored["format"] == ix.DESCRIPTOR_FORMAT
    assert stored["dataset"]["content_hash"] == table.content_hash()
    assert stored["split"] == {"seed": 0, "test_size": 300, "n_history": 1200,
                               "history_sha256": ix.split_digest(split)}
    assert stored["file"]["sha256"] == io.file_sha256(built.path)
    assert stored["embedder"] == {"name": "tfidf", "params": {**stored["embedder"]["params"]},
                                  "dim": 32}
    assert stored["embedder"]["params"]["dim"] == 32
    # build parameters only: the search parameters are applied after loading
    assert stored["index"] == {"type": "hnsw", "params": {"m": 32, "ef_construction": 200}}
    assert stored["measured"]["memory_bytes"] == built.path.stat().st_size
    assert set(stored["measured"]) == {"build_seconds", "memory_bytes"}
    assert built.descriptor["index"]["search"] == {"ef_search": 50}

    again = ix.build_or_load_index(table, split, EMB, hnsw, **kw)
    assert again.reused and again.descriptor == built.descriptor
    np.testing.assert_array_equal(
        again.search(again.test_vectors, 5)[1], built.search(built.test_vectors, 5)[1]
    )
    # Other search parameters reuse the same file, with the parameters applied.
    fast = ix.build_or_load_index(table, split, EMB, hnsw.with_search({"ef_search": 7}), **kw)
    assert fast.reused and fast.path == built.path and fast.index.hnsw.efSearch == 7
    assert fast.descriptor["index"]["search"] == {"ef_search": 7}
    assert io.read_json(built.path.with_suffix(".json")) == stored

    # The same file loaded for another split, embedder or dataset is refused, naming the field.
    other_split = make_split(table.n, 300, 1)
    with pytest.raises(ix.DescriptorMismatch, match="split seed: stored 0 vs wanted 1"):
        ix.load_index(built.path, table, other_split, vectors, EMB)
    with pytest.raises(ix.DescriptorMismatch, match="embedder params: stored .*'dim': 32"):
        ix.load_index(built.path, table, split, vectors, EmbedSpec("tfidf", {"dim": 64}))
    with pytest.raises(ix.DescriptorMismatch, match="index params: stored"):
        ix.load_index(built.path, table, split, vectors, EMB, ix.IndexSpec("hnsw", {"m": 16}))
    changed = replace(table, cost=table.cost * 2)
    with pytest.raises(ix.DescriptorMismatch, match="dataset content hash: stored '[0-9a-f]+' vs"):
        ix.build_or_load_index(changed, split, EMB, hnsw, **kw)
    rebuilt = ix.build_or_load_index(changed, split, EMB, hnsw, force=True, **kw)
    assert not rebuilt.reused
    assert io.read_json(rebuilt.path.with_suffix(".json"))["dataset"]["content_hash"] == (
        changed.content_hash()
    )


def test_hnsw_recall_on_synthetic_fast(tmp_path):
    from routebench.sources.synthetic import generate

    table = generate(n=5000, seed=0)
    split = make_split(table.n, 1500, 0)
    spec = EstimateSpec(EmbedSpec("tfidf", {"dim": 64}))
    built = open_index(table, split, spec, data_dir=tmp_path, progress=False)
    assert built.descriptor["measured"]["recall_at_k"] >= 0.9


@pytest.mark.slow
def test_hnsw_recall_at_5_on_the_synthetic_default(tmp_path):
    from routebench.sources.synthetic import generate

    table = generate()
    split = make_split(table.n, 10_000, 0)
    built = open_index(table, split, EstimateSpec(), data_dir=tmp_path, progress=False)
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
        (["--embedder", "word2vec"], "--embedder: unknown embedder 'word2vec'"),
        (["--nlist", "8"], "--nlist applies to --index ivf"),
        (["--embedder", "minilm", "--dim", "8"], "--dim applies to --embedder tfidf"),
        (["--top-k", "0"], "--top-k: must be at least 1"),
        (["--hnsw-m", "0"], "--hnsw-m: must be an integer >= 1"),
        (["--index", "ivf", "--nlist", "8", "--pq", "--pq-m", "5", "--dim", "16"],
         "--pq-m: 5 must divide the embedding dimension 16"),
    ],
)
def test_cli_refuses_bad_input(saved, extra, message):
    result = runner.invoke(app, ["build-index", "toy", "--test-size", "100", *extra])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())


def test_cli_index_is_a_choice(saved):
    result = runner.invoke(app, ["build-index", "toy", "--test-size", "100", "--index", "annoy"])
    assert result.exit_code == 2  # a usage error, refused by the option parser
    unboxed = " ".join(result.output.replace("│", " ").split())  # the error is in a box
    assert "'annoy' is not one of 'flat', 'hnsw', 'ivf'" in unboxed
    ok = runner.invoke(app, ["build-index", "toy", "--test-size", "100", "--dim", "16",
                             "--index", "FLAT"])
    assert ok.exit_code == 0, ok.output
    assert "toy: flat index" in ok.output


def test_cli_unknown_dataset(data_dir):
    result = runner.invoke(app, ["build-index", "nothing-here"])
    assert result.exit_code == 1
    assert "nothing-here" in result.output
