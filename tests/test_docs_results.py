"""The README's results are generated, never pasted: each block equals what `make
docs-results` (docs/generate.py) computes now. The slice and synthetic blocks rerun their
configurations (slow suite); the performance block is rendered from results/bench/*.csv."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _generate():
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readme_block(name: str) -> str:
    return _generate().block((ROOT / "README.md").read_text(encoding="utf-8"), name)


def test_bench_block_is_rendered_from_the_committed_csvs() -> None:
    assert _readme_block("bench") == _generate().bench_block()


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_slice_block_reproduces(shared_slice: Path, tmp_path: Path) -> None:
    from routebench.sources import download

    gen = _generate()
    assert _readme_block("slice") == gen.slice_block(gen.slice_runs(tmp_path, progress=False))
    # the import line the Datasets section quotes
    _, _, report = download("routerbench", data_dir=tmp_path / "data", from_path=shared_slice,
                            missing="coalesce")
    line = (f"N = {report['n']:,} queries, M = {report['m']} LLMs; rows dropped: "
            f"{report['dropped']}, rows merged: {report['merged']}")
    assert line in _readme()


@pytest.mark.slow
def test_synthetic_block_reproduces(tmp_path: Path) -> None:
    gen = _generate()
    run = gen.synthetic_run(tmp_path, progress=False)
    assert _readme_block("synthetic") == gen.synthetic_block(run)
    # the sizes the tour quotes
    n_test, n_history = int(run.manifest["n_test"]), int(run.manifest["n_history"])
    assert f"# {n_test + n_history:,} queries x {len(run.llms)} LLMs" in _readme()
    assert f"over the {n_history:,} historical queries" in _readme()
