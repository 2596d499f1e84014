"""The README's (and docs/ROUTERS.md's) results are generated, never pasted: each block equals
what `make docs-results` (docs/generate.py) computes now. The slice, synthetic, targets and
ablation blocks rerun their configurations (slow suite, sharing one work folder, so a run two
blocks use is computed once); the performance block is rendered from results/bench/*.csv."""

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


def _readme_block(name: str, doc: str = "README.md") -> str:
    return _generate().block((ROOT / doc).read_text(encoding="utf-8"), name)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("docs-work")


def test_bench_block_is_rendered_from_the_committed_csvs() -> None:
    assert _readme_block("bench") == _generate().bench_block()


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_slice_block_reproduces(shared_slice: Path, work: Path, tmp_path: Path) -> None:
    from routebench.sources import download

    gen = _generate()
    assert _readme_block("slice") == gen.slice_block(gen.slice_runs(work, progress=False))
    # the import line the Datasets section quotes
    _, _, report = download("routerbench", data_dir=tmp_path / "data", from_path=shared_slice,
                            missing="coalesce")
    line = (f"N = {report['n']:,} queries, M = {report['m']} LLMs; rows dropped: "
            f"{report['dropped']}, rows merged: {report['merged']}")
    assert line in _readme()


@pytest.mark.slow
def test_synthetic_block_reproduces(work: Path) -> None:
    gen = _generate()
    run = gen.synthetic_run(work, progress=False)
    assert _readme_block("synthetic") == gen.synthetic_block(run)
    # the sizes the tour quotes
    n_test, n_history = int(run.manifest["n_test"]), int(run.manifest["n_history"])
    assert f"# {n_test + n_history:,} queries x {len(run.llms)} LLMs" in _readme()
    assert f"over the {n_history:,} historical queries" in _readme()


@pytest.mark.slow
def test_targets_block_reproduces(shared_slice: Path, work: Path) -> None:
    gen = _generate()
    if not gen.ZEROEVAL.exists():
        pytest.skip(f"{gen.ZEROEVAL} is absent (it comes with ../shared)")
    made = gen.targets_block(gen.slice_runs(work, progress=False),
                             gen.synthetic_run(work, progress=False),
                             gen.zeroeval_run(work, progress=False),
                             gen.sweep_runs(work, progress=False))
    assert _readme_block("targets") == made


@pytest.mark.slow
def test_ablation_block_reproduces(shared_slice: Path, work: Path) -> None:
    gen = _generate()
    made = gen.ablation_block(gen.ablation_runs(work, progress=False))
    assert _readme_block("ablation", "docs/ROUTERS.md") == made
