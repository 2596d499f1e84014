"""k-NN estimates: equal to brute force, bounded memory by chunks, k above history, -1 ids."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from routebench import estimate as est
from routebench.embed import EmbedSpec
from routebench.index import ExactSearcher, IndexSpec, build_or_load_index
from routebench.split import make_split


def _brute(history, queries, perf, cost, k):
    """Reference: full score matrix, neighbours by (-score, position), plain means."""
    scores = queries.astype(np.float32) @ history.astype(np.float32).T
    pos = np.broadcast_to(np.arange(history.shape[0]), scores.shape)
    nn = np.lexsort((pos, -scores), axis=1)[:, :k]
    return perf[nn].mean(axis=1), cost[nn].mean(axis=1)


@pytest.fixture
def lattice():
    """Integer vectors (exact inner products, many ties) with 0/1 scores and USD costs."""
    gen = np.random.default_rng(11)
    history = gen.integers(-2, 3, size=(300, 5)).astype(np.float32)
    queries = gen.integers(-2, 3, size=(120, 5)).astype(np.float32)
    perf = (gen.random((300, 4)) < 0.6).astype(np.float64)
    cost = gen.lognormal(-8, 1, size=(300, 4))
    return history, queries, perf, cost


@pytest.mark.parametrize("k", [1, 5, 9])
def test_exact_estimates_equal_brute_force_exactly(lattice, k):
    history, queries, perf, cost = lattice
    perf_hat, cost_hat = est.exact_estimates(history, queries, perf, cost, k, chunk_size=17)
    want_perf, want_cost = _brute(history, queries, perf, cost, k)
    assert perf_hat.dtype == np.float64 and perf_hat.shape == (120, 4)
    np.testing.assert_array_equal(perf_hat, want_perf)
    np.testing.assert_array_equal(cost_hat, want_cost)
    assert ((perf_hat >= 0) & (perf_hat <= 1)).all()


def test_chunking_does_not_change_the_estimates(lattice):
    history, queries, perf, cost = lattice
    searcher = ExactSearcher(history)
    whole = est.estimate(searcher, queries, perf, cost, 5, chunk_size=10_000)
    for chunk in (1, 7, 64):
        parts = est.estimate(searcher, queries, perf, cost, 5, chunk_size=chunk)
        np.testing.assert_array_equal(parts[0], whole[0])
        np.testing.assert_array_equal(parts[1], whole[1])


def test_k_larger_than_history_uses_all_of_it(lattice):
    history, queries, perf, cost = lattice
    perf_hat, cost_hat = est.exact_estimates(history[:6], queries, perf[:6], cost[:6], 50)
    np.testing.assert_allclose(perf_hat, np.broadcast_to(perf[:6].mean(axis=0), (120, 4)))
    np.testing.assert_allclose(cost_hat, np.broadcast_to(cost[:6].mean(axis=0), (120, 4)))


@dataclass
class _Fixed:
    """A searcher that returns fixed ids (with -1 for neighbours not found)."""

    ids: np.ndarray
    ntotal: int

    def search(self, queries, k):
        return np.zeros(self.ids[:, :k].shape, np.float32), self.ids[: len(queries), :k]


def test_missing_neighbours_are_left_out_and_none_found_falls_back_to_history_mean():
    perf = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    cost = np.array([[1e-3, 2e-3], [3e-3, 4e-3], [5e-3, 6e-3], [7e-3, 8e-3]])
    ids = np.array([[0, 2, -1], [3, -1, -1], [-1, -1, -1]])
    perf_hat, cost_hat = est.estimate(_Fixed(ids, 4), np.zeros((3, 2)), perf, cost, 3)
    np.testing.assert_array_equal(perf_hat[0], [1.0, 0.5])
    np.testing.assert_array_equal(cost_hat[1], cost[3])
    np.testing.assert_array_equal(perf_hat[2], perf.mean(axis=0))
    np.testing.assert_array_equal(cost_hat[2], cost.mean(axis=0))


def test_bad_inputs_are_refused(lattice):
    history, queries, perf, cost = lattice
    searcher = ExactSearcher(history)
    with pytest.raises(est.EstimateError, match="holds 300 historical .* hist_perf has 299"):
        est.estimate(searcher, queries, perf[:299], cost[:299], 5)
    with pytest.raises(est.EstimateError, match="must both be H x M"):
        est.estimate(searcher, queries, perf, cost[:, :3], 5)
    with pytest.raises(est.EstimateParamError, match="top_k: must be at least 1") as exc:
        est.estimate(searcher, queries, perf, cost, 0)
    assert exc.value.param == "top_k" and isinstance(exc.value, est.EstimateError)


def test_stream_estimates_from_a_table(tiny_table, tmp_path):
    split = make_split(tiny_table.n, 100, 3)
    spec = est.EstimateSpec(EmbedSpec("tfidf", {"dim": 24}))
    kw = dict(data_dir=tmp_path, progress=False)
    perf_hat, cost_hat, desc = est.stream_estimates(tiny_table, split, spec, **kw)
    assert perf_hat.shape == cost_hat.shape == (100, tiny_table.m)
    assert desc["index"]["type"] == "hnsw" and desc["split"]["seed"] == 3
    assert desc["top_k"] == 5 and desc["index"]["search"] == {"ef_search": 50}
    # Exact estimates: the flat index, equal to the brute-force reference on the same vectors.
    ex_perf, ex_cost, ex_desc = est.stream_estimates(tiny_table, split, spec, exact=True, **kw)
    assert ex_desc["index"]["type"] == "flat" and ex_desc["measured"]["recall_at_k"] == 1.0
    built = build_or_load_index(tiny_table, split, spec.embed, IndexSpec("flat"), **kw)
    assert built.reused
    want_perf, want_cost = _brute(
        built.history_vectors, built.test_vectors,
        tiny_table.perf[split.history], tiny_table.cost[split.history], 5,
    )
    np.testing.assert_array_equal(ex_perf, want_perf)
    np.testing.assert_array_equal(ex_cost, want_cost)
    # HNSW at high recall gives the exact estimates for nearly every query.
    same = np.all(perf_hat == ex_perf, axis=1) & np.all(cost_hat == ex_cost, axis=1)
    assert same.mean() >= 0.9
    # Estimates are means of history values: within the history's range per LLM.
    hist_cost = tiny_table.cost[split.history]
    assert (cost_hat >= hist_cost.min(axis=0) - 1e-15).all()
    assert (cost_hat <= hist_cost.max(axis=0) + 1e-15).all()


def test_release_pages_only_touches_mapped_arrays(tmp_path) -> None:
    """``io.release_pages`` drops a memory-mapped matrix's pages (values unchanged) and leaves
    ordinary arrays alone; ``estimate`` calls it between chunks of a mapped stream."""
    from routebench import io

    path = tmp_path / "v.npy"
    np.save(path, np.arange(4000, dtype=np.float32).reshape(-1, 4))
    mapped = np.load(path, mmap_mode="r")
    before = mapped[::7].copy()
    assert io.release_pages(mapped) and io.release_pages(mapped[10:20])
    assert np.array_equal(mapped[::7], before)
    assert not io.release_pages(np.zeros(3))
