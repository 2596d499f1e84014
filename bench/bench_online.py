"""Online routing end to end (issue 6, target 2): from a query's embedding to PORT's decision,
ANN search included, on the Table-1 data (26,497 historical queries, HNSW M 32 / efSearch 50,
d = 256 tfidf vectors, k = 5, M = 11 LLMs).

Embedding is left out (embed-free): each query arrives as its vector. Measured with
``routebench.serving.OnlinePort`` (the same arithmetic as simulate's estimates and decisions):

- batched: the 10,000 test vectors in one call; throughput (queries/s) and the share of time
  in HNSW search, neighbour means (estimation) and the PORT argmax (decision);
- single query: one vector at a time (search of 1 vector + neighbour mean + decision), latency
  percentiles and the same shares, with FAISS on 1 thread (one query per serving thread) and
  with all threads.

gamma is PORT's own fit on the first ceil(eps N) queries' estimates (eps 0.025, alpha 1e-4).
Decide-only throughput and latency given estimates are ``bench_routing``'s.
``python -m bench online`` writes ``results/bench/online.csv``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress

from bench.bench_table1 import DATA_DIR, DATASET, ensure_built
from routebench import io

SINGLE_SAMPLES = 3_000
WARMUP = 200
REPEATS = 3
TARGET_QPS = 5_000.0
TARGET_P99_MS = 1.0
COMMAND = "python -m bench online"


def _setup(data_dir: Path):
    """The hnsw index, test vectors, history outcomes and PORT's fitted gamma."""
    from routebench.budgets import split_budget, total_budget
    from routebench.config import SimConfig
    from routebench.dataset import dataset_dir, load_table
    from routebench.estimate import EstimateSpec, estimate, open_index
    from routebench.routers import PortParams, fit_gamma, learning_size
    from routebench.split import make_split

    cfg = SimConfig(dataset=DATASET)
    table = load_table(dataset_dir(DATASET, data_dir))
    split = make_split(table.n, cfg.test_size, cfg.split_seed)
    spec = EstimateSpec.from_config(cfg)
    built = open_index(table, split, spec, data_dir=data_dir, progress=False)
    history, test = split.tables(table)
    vectors = np.ascontiguousarray(built.test_vectors)
    budgets = split_budget(total_budget(test.cost, cfg.budget), history.mean_perf(),
                           history.mean_cost(), cfg.split)
    port = PortParams()  # the paper's eps and alpha
    n_learn = learning_size(test.n, port.eps)
    p_hat, c_hat = estimate(built, vectors[:n_learn], history.perf, history.cost, cfg.top_k)
    gamma = fit_gamma(p_hat, c_hat, budgets, port.eps, port.alpha).gamma
    return built, vectors, history, gamma, cfg


def _batched(online, vectors: np.ndarray, k: int) -> dict[str, float]:
    """Best-of-REPEATS stage times (seconds) of one batched pass over ``vectors``."""
    from routebench.routers import port_decisions

    best = {"search": np.inf, "estimate": np.inf, "decide": np.inf, "total": np.inf}
    for _ in range(REPEATS + 1):  # the first pass warms caches and is not counted
        t0 = time.perf_counter()
        _, ids = online.searcher.search(vectors, k)
        t1 = time.perf_counter()
        p_hat, c_hat = online.neighbour_means(ids)
        t2 = time.perf_counter()
        port_decisions(p_hat, c_hat, online.gamma, online.alpha)
        t3 = time.perf_counter()
        if t3 - t0 < best["total"]:
            best = {"search": t1 - t0, "estimate": t2 - t1, "decide": t3 - t2, "total": t3 - t0}
    return best


def _single(online, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-query stage wall times (ns), shape (SINGLE_SAMPLES, 3): search, estimate, decide;
    and each query's CPU time in this thread (ns), which leaves out the time the OS gave the
    core to other processes (meaningful with FAISS on 1 thread)."""
    from routebench.routers import port_decide

    n = min(SINGLE_SAMPLES, vectors.shape[0] - WARMUP)
    out = np.empty((n, 3), dtype=np.int64)
    cpu = np.empty(n, dtype=np.int64)
    for j in range(WARMUP + n):  # one query at a time is what is being measured
        v = vectors[j : j + 1]
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        _, ids = online.searcher.search(v, k)
        t1 = time.perf_counter_ns()
        p_hat, c_hat = online.neighbour_means(ids)
        t2 = time.perf_counter_ns()
        port_decide(p_hat[0], c_hat[0], online.gamma, online.alpha)
        t3 = time.perf_counter_ns()
        c1 = time.thread_time_ns()
        if j >= WARMUP:
            out[j - WARMUP] = (t1 - t0, t2 - t1, t3 - t2)
            cpu[j - WARMUP] = c1 - c0
    return out, cpu


def _row(benchmark: str, value: float, unit: str, target: float = np.nan,
         higher_is_better: bool = False, **extra: object) -> dict[str, object]:
    ratio = value / target if np.isfinite(target) else np.nan
    meets = pd.NA if np.isnan(target) else bool(value >= target if higher_is_better
                                                 else value <= target)
    return {"benchmark": benchmark, "value": float(value), "unit": unit, "target": target,
            "ratio_to_target": ratio, "meets_target": meets, **extra}


def run(out_dir: Path, data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """Measure batched and single-query end-to-end PORT routing; write ``online.csv``."""
    import faiss

    from routebench.index import faiss_threads
    from routebench.routers import PortParams
    from routebench.serving import OnlinePort

    ensure_built(Path(data_dir), progress=False)
    rows: list[dict[str, object]] = []
    with Progress(transient=True) as progress:
        task = progress.add_task("online routing: setup", total=3)
        built, vectors, history, gamma, cfg = _setup(Path(data_dir))
        online = OnlinePort(built, history.perf, history.cost, gamma, PortParams().alpha,
                            cfg.top_k)
        threads = faiss.omp_get_max_threads()
        rows.append(_row("load_average_1min", os.getloadavg()[0], "runnable processes",
                         cores=os.cpu_count(), command=COMMAND))
        common = {"n_history": built.ntotal, "d": vectors.shape[1], "k": cfg.top_k,
                  "index": "hnsw M32 efSearch50", "command": COMMAND}
        progress.update(task, advance=1, description="online routing: batched")

        b = _batched(online, vectors, cfg.top_k)
        n = vectors.shape[0]
        rows.append(_row("batched_end_to_end", n / b["total"], "queries/s", TARGET_QPS, True,
                         faiss_threads=threads, n=n, **common))
        for stage in ("search", "estimate", "decide"):
            rows.append(_row(f"batched_share_{stage}", b[stage] / b["total"], "fraction",
                             faiss_threads=threads, n=n, **common))
        rows.append(_row("batched_search_only", n / b["search"], "queries/s",
                         faiss_threads=threads, n=n, **common))
        progress.update(task, advance=1, description="online routing: one query at a time")

        for n_threads in (1, threads):
            with faiss_threads(n_threads):
                ns, cpu = _single(online, vectors, cfg.top_k)
            total_ms = ns.sum(axis=1) / 1e6
            extra = {"faiss_threads": n_threads, "n": ns.shape[0], **common}
            for q in (50, 90, 99):
                rows.append(_row(f"single_query_p{q}", np.percentile(total_ms, q), "ms",
                                 TARGET_P99_MS if q == 99 else np.nan, **extra))
            rows.append(_row("single_query_max", total_ms.max(), "ms", **extra))
            if n_threads == 1:
                rows.append(_row("single_query_cpu_p99", np.percentile(cpu / 1e6, 99), "ms",
                                 TARGET_P99_MS, **extra))
            shares = ns.sum(axis=0) / ns.sum()
            for stage, share in zip(("search", "estimate", "decide"), shares, strict=True):
                rows.append(_row(f"single_share_{stage}", share, "fraction", **extra))
            if n_threads == threads:
                break
        progress.update(task, advance=1)
    frame = pd.DataFrame(rows)
    io.write_with(Path(out_dir) / "online.csv", lambda p: frame.to_csv(p, index=False))
    return frame


if __name__ == "__main__":
    print(run(Path("results/bench")).to_string(index=False))
