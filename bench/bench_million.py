"""A million-query stream (issue 6, target 4): N = 1,000,000 test queries and 1,000,000
historical ones (a 2,000,000-query synthetic table, M = 11), every online router plus the LP
bound and both rounded oracles, one seed, through ``run_simulation``.

Stages, each in a fresh process so that its wall time and peak RSS (``ru_maxrss``) are its own:

1. dataset: ``routebench download synthetic --n 2000000 --out synthetic-2m``;
2. embeddings: tfidf, d = 256, over all 2,000,000 prompts;
3. index: IVF-Flat over the 1,000,000 historical vectors (``--index ivf``, nlist 1024, nprobe 4:
   HNSW's single-threaded build would take far longer at this size), with recall@5 measured
   on 10,000 evenly spaced test queries against exact search. IVF-Flat search is bound by
   scanning nprobe x 1,000 vectors x 1 KiB per query: on 2 shared cores nprobe 8 gave recall
   0.996 at ~2,500 queries/s, nprobe 4 0.975 at ~4,400, nprobe 2 0.942 at ~8,500 (2,000
   sampled queries); nprobe 4 keeps the 10^6-query search within a few minutes;
4. simulate: the stream through random, greedy-perf, greedy-cost, batch-split, port,
   approx-opt, opt and the LP bound (estimates computed chunk by chunk: 4,096 queries x k x M
   at a time, never N x M x k). This is the number the 10-minute / 4 GiB target is about; it
   does not include stages 1-3, which are cached and reused between runs.
5. knn-perf / knn-cost need exact k-NN of 10^6 queries among 10^6 vectors of d = 256
   (about 5 x 10^14 flops): timed on a sample of queries, extrapolated, and skipped. The MILP
   is skipped too (N x M far above ``--milp-limit``).

Stages 1-3 are built once in ``results/bench/data`` (git-ignored); their first-build times
are kept in ``results/bench/million/stages.json`` and reported with ``cached = True`` later.
``python -m bench million`` writes ``results/bench/million.csv``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench.bench_table1 import DATA_DIR, in_fresh_process, peak_rss_mib
from routebench import io

DATASET = "synthetic-2m"
N_TOTAL = 2_000_000
N_TEST = 1_000_000
EMBEDDER = "tfidf"
INDEX = "ivf"
INDEX_PARAMS: dict[str, Any] = {"nlist": 1024, "nprobe": 4}
ROUTERS = ("random", "greedy-perf", "greedy-cost", "batch-split", "port", "approx-opt", "opt")
#: Test queries whose exact neighbours are timed to extrapolate knn-perf / knn-cost.
KNN_SAMPLE = 1_000
TARGET_SECONDS = 600.0
TARGET_RSS_MIB = 4096.0
STATE_FILE = "million/stages.json"
COMMAND = "python -m bench million"


def _config():
    from routebench.config import SimConfig

    return SimConfig(dataset=DATASET, test_size=N_TEST, seeds=(0,), routers=ROUTERS,
                     index=INDEX, index_params=tuple(sorted(INDEX_PARAMS.items())))


def _load(data_dir: Path):
    from routebench.dataset import dataset_dir, load_table
    from routebench.split import make_split

    cfg = _config()
    table = load_table(dataset_dir(DATASET, data_dir))
    return cfg, table, make_split(table.n, cfg.test_size, cfg.split_seed)


# --------------------------------------------------------------------------- stages
def stage_dataset(data_dir: str) -> dict[str, Any]:
    """Generate and store the 2,000,000-query synthetic table."""
    from routebench.sources import download

    t0 = time.perf_counter()
    download("synthetic", data_dir=Path(data_dir), out=DATASET, n=N_TOTAL)
    return {"seconds": time.perf_counter() - t0, "peak_rss_mib": peak_rss_mib()}


def stage_embeddings(data_dir: str) -> dict[str, Any]:
    """Embed every prompt (cached under the dataset's embeddings folder)."""
    from routebench.embed import EmbedSpec, get_embeddings

    t0 = time.perf_counter()
    _, table, _ = _load(Path(data_dir))
    info: dict[str, Any] = {}
    vectors = get_embeddings(table, EmbedSpec(EMBEDDER), data_dir=Path(data_dir), progress=False,
                             info=info)
    return {"seconds": time.perf_counter() - t0, "embed_seconds": info.get("seconds"),
            "dim": int(vectors.shape[1]), "peak_rss_mib": peak_rss_mib()}


def stage_index(data_dir: str) -> dict[str, Any]:
    """Build (or load) the IVF index over the history; its measured recall and speed."""
    from routebench.estimate import EstimateSpec, open_index

    t0 = time.perf_counter()
    cfg, table, split = _load(Path(data_dir))
    spec = EstimateSpec.from_options(EMBEDDER, None, INDEX, INDEX_PARAMS, cfg.top_k)
    built = open_index(table, split, spec, data_dir=Path(data_dir), progress=False)
    measured = built.descriptor["measured"]
    return {"seconds": time.perf_counter() - t0, "build_seconds": measured["build_seconds"],
            "recall_at_5": measured["recall_at_k"],
            "recall_queries": measured.get("recall_queries", len(split.test)),
            "queries_per_second": measured["queries_per_second"],
            "memory_mib": measured["memory_bytes"] / 2**20, "reused": built.reused,
            "peak_rss_mib": peak_rss_mib()}


def stage_knn_sample(data_dir: str, sample: int = KNN_SAMPLE) -> dict[str, Any]:
    """Time exact k-NN estimates for ``sample`` evenly spaced test queries among the whole
    history, and extrapolate to the full stream (seconds)."""
    from routebench.embed import EmbedSpec, get_embeddings
    from routebench.estimate import exact_estimates

    cfg, table, split = _load(Path(data_dir))
    vectors = get_embeddings(table, EmbedSpec(EMBEDDER), data_dir=Path(data_dir), progress=False)
    rows = split.test[np.linspace(0, len(split.test) - 1, sample).astype(np.int64)]
    history = np.ascontiguousarray(vectors[split.history])
    queries = np.ascontiguousarray(vectors[rows])
    hist_perf, hist_cost = table.perf[split.history], table.cost[split.history]
    t0 = time.perf_counter()
    exact_estimates(history, queries, hist_perf, hist_cost, cfg.top_k)
    seconds = time.perf_counter() - t0
    return {"sample": sample, "seconds": seconds,
            "extrapolated_seconds": seconds * len(split.test) / sample,
            "peak_rss_mib": peak_rss_mib()}


def stage_simulate(data_dir: str) -> dict[str, Any]:
    """The million-query simulate run (embeddings and index cached)."""
    from routebench.results import load_run
    from routebench.simulate import run_simulation

    cfg = _config()
    with tempfile.TemporaryDirectory(prefix="rb-million-") as tmp:
        t0 = time.perf_counter()
        run_dir = run_simulation(cfg, data_dir=Path(data_dir), results_root=Path(tmp),
                                 progress=False)
        seconds = time.perf_counter() - t0
        loaded = load_run(run_dir)
    whole = loaded.results[loaded.results["llm"] == ""]
    pick = whole.pivot_table(index="router", columns="metric", values="value", aggfunc="first")
    return {"seconds": seconds, "peak_rss_mib": peak_rss_mib(),
            "timings": dict(loaded.manifest.get("timings", {})),
            "notes": list(loaded.manifest.get("notes", [])),
            "routers": {r: {k: float(v) for k, v in pick.loc[r].dropna().items()}
                        for r in pick.index}}


# --------------------------------------------------------------------------- driver
def _row(stage: str, seconds: float, peak_rss_mib: float = float("nan"), *,
         note: str = "", cached: bool = False, **extra: Any) -> dict[str, Any]:
    return {"stage": stage, "seconds": float(seconds), "peak_rss_mib": float(peak_rss_mib),
            "cached": cached, "note": note, **extra}


def run(out_dir: Path, data_dir: Path = DATA_DIR) -> pd.DataFrame:
    """Run (or reuse) every stage and write ``out_dir/million.csv``."""
    from routebench.dataset import dataset_dir
    from routebench.embed import EMBEDDINGS_SUBDIR

    out_dir, data_dir = Path(out_dir), Path(data_dir)
    state_path = out_dir / STATE_FILE
    state: dict[str, Any] = io.read_json(state_path) if state_path.exists() else {}
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, transient=True) as progress:

        def stage(key: str, label: str, fn, *args, cached: bool = False) -> dict[str, Any]:
            """Run a stage in a fresh process; a cached one-off stage reports its first
            build's measurement from the state file instead of re-measuring a cache hit."""
            task = progress.add_task(f"million: {label}")
            if cached and key in state:
                result = {**state[key], "cached": True}
            else:
                result = in_fresh_process(fn, *args)
                result["cached"] = cached or bool(result.get("reused"))
                if result["cached"] and key in state:  # keep the first build's measurement
                    result = {**result, "peak_rss_mib": state[key]["peak_rss_mib"]}
                else:
                    state[key] = result
                    io.write_json(state_path, state)
            progress.remove_task(task)
            return result

        have_table = (dataset_dir(DATASET, data_dir) / "card.json").exists()
        ds = stage("dataset", "generate 2,000,000 queries", stage_dataset, str(data_dir),
                   cached=have_table)
        folder = dataset_dir(DATASET, data_dir) / EMBEDDINGS_SUBDIR
        have_vectors = have_table and any(folder.glob(f"{EMBEDDER}-*.npy"))
        emb = stage("embeddings", "tfidf d=256 over 2,000,000 prompts", stage_embeddings,
                    str(data_dir), cached=have_vectors)
        idx = stage("index", "IVF index over 1,000,000 vectors", stage_index, str(data_dir))
        knn = stage("knn_sample", f"exact k-NN of {KNN_SAMPLE:,} queries", stage_knn_sample,
                    str(data_dir), cached="knn_sample" in state)
        sim = stage("simulate", "simulate 1,000,000 queries", stage_simulate, str(data_dir))

    rows = [
        _row("dataset (generate 2M)", ds["seconds"], ds["peak_rss_mib"], cached=ds["cached"],
             note="one-off; not in the simulate total"),
        _row("embeddings (tfidf d=256, 2M prompts)", emb.get("embed_seconds") or emb["seconds"],
             emb["peak_rss_mib"],
             cached=emb["cached"], note="one-off; not in the simulate total"),
        _row("index build (ivf-flat nlist 1024, 1M vectors)", idx["build_seconds"],
             idx["peak_rss_mib"], cached=bool(idx["reused"]),
             note=f"nprobe 4; recall@5 {idx['recall_at_5']:.4f} on {idx['recall_queries']:,} "
                  "sampled "
                  f"test queries; {idx['queries_per_second']:,.0f} queries/s; "
                  f"{idx['memory_mib']:,.0f} MiB; one-off, not in the simulate total"),
    ]
    t = sim["timings"]
    for key, label in (("load_seconds", "simulate: load table"),
                       ("estimates_seconds", "simulate: ANN estimates (ivf, chunked)"),
                       ("lp_bound_seconds", "simulate: lp-bound (true features; opt's LP)"),
                       ("lp_estimates_seconds", "simulate: LP on estimates (approx-opt)")):
        if key in t:
            rows.append(_row(label, t[key]))
    for router in ROUTERS:
        metrics = sim["routers"].get(router, {})
        rows.append(_row(f"simulate: router {router}", metrics.get("decision_seconds", np.nan),
                         performance=metrics.get("performance"),
                         throughput=metrics.get("throughput")))
    rows.append(_row("simulate total (1M stream, cached embeddings + index)", sim["seconds"],
                     sim["peak_rss_mib"], note="; ".join(sim["notes"]),
                     target_seconds=TARGET_SECONDS, ratio_seconds=sim["seconds"] / TARGET_SECONDS,
                     target_rss_mib=TARGET_RSS_MIB,
                     ratio_rss=sim["peak_rss_mib"] / TARGET_RSS_MIB))
    total = sim["seconds"] + (emb.get("embed_seconds") or emb["seconds"]) + idx["build_seconds"]
    rows.append(_row("simulate + embeddings + index build", total,
                     max(sim["peak_rss_mib"], emb["peak_rss_mib"], idx["peak_rss_mib"]),
                     target_seconds=TARGET_SECONDS, ratio_seconds=total / TARGET_SECONDS))
    for router in ("knn-perf", "knn-cost"):
        rows.append(_row(f"skipped: {router}", knn["extrapolated_seconds"], knn["peak_rss_mib"],
                         note=f"exact k-NN of 1M x 1M x d256 (~5e14 flops): {knn['seconds']:.1f} s "
                              f"for {knn['sample']:,} queries, extrapolated; over budget, "
                              "skipped"))
    rows.append(_row("skipped: milp", np.nan,
                     note="N x M = 11,000,000 is far above --milp-limit; not solved"))
    frame = pd.DataFrame(rows)
    frame["n_test"], frame["n_history"], frame["m"] = N_TEST, N_TOTAL - N_TEST, 11
    frame["command"] = COMMAND
    io.write_with(out_dir / "million.csv", lambda p: frame.to_csv(p, index=False))
    return frame


if __name__ == "__main__":
    print(run(Path("results/bench")).to_string(index=False))
