"""`make bench`: run the benchmarks; write `results/bench/<name>.csv` and `results/bench/README.md`.

Usage: `python -m bench [NAME ...]` (default: all). Each benchmark module has
`run(out_dir: Path) -> pandas.DataFrame` and writes its own CSV atomically.
Benchmarks measure; they never assert speed.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from routebench import io

#: name -> (module, one-line description); `python -m bench NAME` reproduces it
BENCHES: dict[str, tuple[str, str]] = {
    "index": ("bench.bench_index", "embedders x index types at the synthetic default's scale"),
    "routing": ("bench.bench_routing", "online routing speed: decisions/s, p99 latency, replay"),
    "online": ("bench.bench_online", "online PORT end to end: HNSW search + means + decision"),
    "lp": ("bench.bench_lp", "offline LP bound and MILP: time, peak memory, primal-dual gap"),
    "table1": ("bench.bench_table1", "the Table-1 workload at paper scale, time per router"),
    "scale": ("bench.bench_scale", "simulate time and peak memory vs N, fitted exponent"),
    "estimators": ("bench.bench_estimators", "every estimator's fit + estimates, synthetic scale"),
    "million": ("bench.bench_million", "a 1,000,000-query stream through every online router"),
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; known: {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    out_dir = Path("results/bench")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        module, desc = BENCHES[name]
        print(f"== bench {name}: {desc}", flush=True)
        t0 = time.perf_counter()
        frame = importlib.import_module(module).run(out_dir)
        print(frame.to_string(index=False), flush=True)
        print(f"== {name}: {time.perf_counter() - t0:.1f} s, wrote {out_dir / (name + '.csv')}",
              flush=True)
    write_index(out_dir)
    return 0


def _pick(frame, column: str, value: str, field: str = "value", **where: object) -> float:
    rows = frame[frame[column] == value]
    for key, want in where.items():
        rows = rows[rows[key] == want]
    return float(rows[field].iloc[0]) if len(rows) else float("nan")


#: "A Python router written by a user costs at most a few microseconds of engine overhead per
#: query" (issue 12): the goal the closed-loop row is held to.
CLOSED_LOOP_US = 5.0


def targets_table(out_dir: Path):
    """Issue 6's targets: measured value, target, ratio (measured / target) and the command,
    read from whichever benchmark CSVs exist in ``out_dir``."""
    import pandas as pd

    def read(name: str):
        path = out_dir / f"{name}.csv"
        return pd.read_csv(path) if path.exists() else None

    rows = []

    def add(target: str, value: float, goal: float, unit: str, higher: bool, bench: str) -> None:
        if value == value:  # not NaN
            ratio = value / goal
            rows.append({"target": target, "measured": float(f"{value:.4g}"), "goal": goal,
                         "unit": unit, "ratio": round(ratio, 3),
                         "met": bool(ratio >= 1) if higher else bool(ratio <= 1),
                         "command": f"python -m bench {bench}"})

    if (t := read("table1")) is not None:
        add("1. Table-1 run, paper scale (process incl. imports)",
            _pick(t, "component", "process total", "seconds"), 20.0, "s", False, "table1")
        add("1. Table-1 run, paper scale (run_simulation)",
            _pick(t, "component", "run_simulation total", "seconds"), 20.0, "s", False, "table1")
    if (r := read("routing")) is not None:
        add("2. PORT decisions given estimates", _pick(r, "benchmark",
            "port_decisions_per_second"), 1e6, "decisions/s", True, "routing")
        add("2. PORT decide-only latency p99", _pick(r, "benchmark", "port_single_query_p99"),
            1.0, "ms", False, "routing")
        add("closed loop: engine time per query around a Python router (issue 12)",
            _pick(r, "benchmark", "closed_loop_us_per_query_every_1"), CLOSED_LOOP_US, "us",
            False, "routing")
    if (o := read("online")) is not None:
        add("2. end to end batched (hnsw d=256)", _pick(o, "benchmark", "batched_end_to_end"),
            5000.0, "queries/s", True, "online")
        add("2. end to end single query p99 (wall)", _pick(o, "benchmark", "single_query_p99",
            faiss_threads=1), 1.0, "ms", False, "online")
        add("2. end to end single query p99 (CPU)", _pick(o, "benchmark",
            "single_query_cpu_p99", faiss_threads=1), 1.0, "ms", False, "online")
    if (lp := read("lp")) is not None:
        fast = lp[(lp["problem"] == "lp") & (lp["method"] == "fast")].set_index("n")
        for n_lp, goal in ((10_000, 2.0), (1_000_000, 120.0)):
            if n_lp in fast.index:
                row = fast.loc[n_lp]
                add(f"3. LP bound at N = {n_lp:,}: time", float(row["seconds"]), goal, "s",
                    False, "lp")
                add(f"3. LP bound at N = {n_lp:,}: primal-dual gap", float(row["gap"]), 1e-6,
                    "relative", False, "lp")
        if 1_000_000 in fast.index:
            add("3. LP bound at N = 1,000,000: peak RSS",
                float(fast.loc[1_000_000, "peak_rss_mib"]), 8192.0, "MiB", False, "lp")
    if (mil := read("million")) is not None:
        label = "simulate total (1M stream, cached embeddings + index)"
        add("4. million-query simulate: time", _pick(mil, "stage", label, "seconds"), 600.0, "s",
            False, "million")
        add("4. million-query simulate: peak RSS", _pick(mil, "stage", label, "peak_rss_mib"),
            4096.0, "MiB", False, "million")
    if (es := read("estimators")) is not None:
        slowest = es.loc[es["total_seconds"].idxmax()]
        add(f"estimator fit + estimates, 10,000 queries, slowest ({slowest['estimator']}; "
            f"issue 13)", float(slowest["total_seconds"]), 10.0, "s", False, "estimators")
    if (sc := read("scale")) is not None:
        worst = sc.groupby("router")["exponent_all"].first()
        add(f"5. scaling exponent, worst router ({worst.idxmax()})", float(worst.max()), 1.15,
            "log-log slope", False, "scale")
    return pd.DataFrame(rows)


def write_index(out_dir: Path) -> None:
    """Collect every CSV in ``out_dir`` into one Markdown page, issue 6's targets first."""
    import pandas as pd

    parts = ["# Benchmarks", "", "Written by `make bench` (`python -m bench NAME` reruns one).", ""]
    targets = targets_table(out_dir)
    if len(targets):
        parts += ["## Targets (issue 6)", "", "ratio = measured / goal.", "",
                  targets.to_markdown(index=False), ""]
    for name, (_, desc) in BENCHES.items():
        path = out_dir / f"{name}.csv"
        if not path.exists():
            continue
        parts += [f"## {name}: {desc}", "", f"`python -m bench {name}`", "",
                  pd.read_csv(path).to_markdown(index=False), ""]
    io.write_text(out_dir / "README.md", "\n".join(parts))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
