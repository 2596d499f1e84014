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

#: name -> (module, one-line description, command that reproduces it)
BENCHES: dict[str, tuple[str, str]] = {
    "index": ("bench.bench_index", "embedders x index types at the synthetic default's scale"),
    "routing": ("bench.bench_routing", "online routing speed: decisions/s, p99 latency, replay"),
    "lp": ("bench.bench_lp", "offline LP bound and MILP: time, peak memory, primal-dual gap"),
    "table1": ("bench.bench_table1", "the Table-1 workload at paper scale, time per router"),
    "scale": ("bench.bench_scale", "simulate time and peak memory vs N, fitted exponent"),
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


def write_index(out_dir: Path) -> None:
    """Collect every CSV in ``out_dir`` into one Markdown page."""
    import pandas as pd

    parts = ["# Benchmarks", "", "Written by `make bench` (`python -m bench NAME` reruns one).", ""]
    for name, (_, desc) in BENCHES.items():
        path = out_dir / f"{name}.csv"
        if not path.exists():
            continue
        parts += [f"## {name}: {desc}", "", f"`python -m bench {name}`", "",
                  pd.read_csv(path).to_markdown(index=False), ""]
    io.write_text(out_dir / "README.md", "\n".join(parts))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
