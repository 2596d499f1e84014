"""Results must stay bit-identical across refactors: every router's numbers on three fixed
configurations are compared with the values stored in ``tests/golden/`` (produced before the
router catalogue, run store, descriptors and metric registry were reorganised).

Wall-time metrics (``decision_seconds``, solver ``seconds``) are left out; every other value
must be equal to the last bit. ``ROUTEBENCH_WRITE_GOLDEN=1 pytest tests/test_golden.py -m ''``
rewrites the files: only do that for a change that is meant to move the numbers, and say so.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from routebench.config import SimConfig
from routebench.simulate import run_simulation
from routebench.sources import download

GOLDEN = Path(__file__).resolve().parent / "golden"
WRITE = os.environ.get("ROUTEBENCH_WRITE_GOLDEN") == "1"
#: Wall-time metrics: they differ between two runs of the same configuration.
TIMING = ("decision_seconds", "seconds")
KEYS = ["router", "seed", "metric", "llm"]


def _values(run_dir: Path) -> pd.DataFrame:
    frame = pd.read_parquet(run_dir / "results.parquet")
    frame = frame[~frame["metric"].isin(TIMING)]
    return frame.sort_values(KEYS).reset_index(drop=True)[[*KEYS, "value"]]


def _check(name: str, run_dir: Path) -> None:
    path = GOLDEN / f"{name}.csv"
    got = _values(run_dir)
    if WRITE:
        got.to_csv(path, index=False, float_format="%.17g")
    want = pd.read_csv(path, keep_default_na=False, dtype={"llm": str})
    want = want.sort_values(KEYS).reset_index(drop=True)
    # every stored (router, seed, metric, llm) must be reproduced exactly; new metrics may appear
    merged = want.merge(got, on=KEYS, how="left", suffixes=("_want", "_got"), indicator=True)
    missing = merged[merged["_merge"] != "both"]
    assert missing.empty, f"{name}: values no longer produced:\n{missing.head(10)}"
    same = (merged["value_want"] == merged["value_got"]) | (
        merged["value_want"].isna() & merged["value_got"].isna())
    assert same.all(), f"{name}: values changed:\n{merged[~same].head(20)}"


def _run(data: Path, results: Path, **config) -> Path:
    return run_simulation(SimConfig(**config), data_dir=data, results_root=results,
                          progress=False)


def test_small_synthetic_every_router(tmp_path: Path) -> None:
    download("synthetic", data_dir=tmp_path, out="small", n=2400, models=5, seed=7)
    run = _run(tmp_path, tmp_path / "results", dataset="small", test_size=800,
               seeds=(0, 1, 2), milp_limit=10_000)
    _check("small-hnsw", run)


@pytest.mark.slow
def test_slice_every_router(shared_slice: Path, tmp_path: Path) -> None:
    download("routerbench", data_dir=tmp_path, from_path=shared_slice, missing="coalesce")
    run = _run(tmp_path, tmp_path / "results", dataset="routerbench", test_size=1500,
               seeds=(0, 1, 2, 3, 4))
    _check("slice", run)


@pytest.mark.slow
def test_synthetic_default_every_router(tmp_path: Path) -> None:
    download("synthetic", data_dir=tmp_path)
    run = _run(tmp_path, tmp_path / "results", dataset="synthetic", seeds=(0, 1))
    _check("synthetic-default", run)
