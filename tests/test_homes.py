"""One home per concept: reading results loads no solver, compiler or index library; the
router catalogue and the router classes agree; the metric registry drives the tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from routebench import catalogue, metrics
from routebench.report import COLUMNS
from routebench.routers import ROUTERS, router_entry


def test_reading_results_loads_no_solver_compiler_or_index_library() -> None:
    code = ("import routebench.results, routebench.report, routebench.plot, sys; "
            "print(sorted({'numba', 'highspy', 'faiss'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_catalogue_and_router_classes_agree() -> None:
    assert tuple(ROUTERS) == catalogue.ONLINE
    for name, cls in ROUTERS.items():
        entry = router_entry(name)
        assert entry == catalogue.entry(name) and entry.kind == "online"
        assert cls.stream is None or isinstance(cls.stream, str)
    assert {n for n, c in ROUTERS.items() if c.needs_exact} == {"knn-perf", "knn-cost"}
    assert {n for n, c in ROUTERS.items() if c.stream} == {"port", "random"}
    assert catalogue.ALL == catalogue.ONLINE + catalogue.ORACLES


def test_table_columns_come_from_the_metric_registry() -> None:
    assert COLUMNS == tuple(m for m in metrics.REGISTRY if m.rows == "router" and m.header)
    assert [c.name for c in COLUMNS if c.ranked] == [
        "performance", "ppc", "throughput", "relative_performance", "cr_lp", "cr_milp"]
    names = {(m.rows, m.name) for m in metrics.REGISTRY}
    assert len(names) == len(metrics.REGISTRY)  # one entry per (rows, metric)


def test_simulate_tables_in_memory_equals_the_stored_run(tmp_path: Path) -> None:
    from routebench.config import SimConfig
    from routebench.simulate import run_simulation, simulate_tables
    from routebench.sources import download

    download("synthetic", data_dir=tmp_path, out="tiny", n=800, models=3, seed=1)
    config = SimConfig(dataset="tiny", test_size=300, seeds=(0, 1), index="flat",
                       routers=("random", "port", "approx-opt"))
    results, trace = simulate_tables(config, data_dir=tmp_path)
    assert not (tmp_path / "results").exists()
    stored = run_simulation(config, data_dir=tmp_path, results_root=tmp_path / "results",
                            progress=False)
    want = pd.read_parquet(stored / "results.parquet")
    timing = ["decision_seconds", "seconds"]
    pd.testing.assert_frame_equal(results[~results["metric"].isin(timing)].reset_index(drop=True),
                                  want[~want["metric"].isin(timing)].reset_index(drop=True))
    pd.testing.assert_frame_equal(trace, pd.read_parquet(stored / "trace.parquet"))
