"""Shared test fixtures: the real RouterBench slice (or a skip), a tiny synthetic table, the
fixture files in the real source schemas, and an isolated data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from routebench.dataset import RouteTable

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_SLICE = Path(__file__).resolve().parents[2] / "shared" / "data" / "routerbench_routerdc"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """``tests/fixtures``: small files in RouterBench, SPROUT and leaderboard schemas."""
    return FIXTURES


@pytest.fixture(scope="session")
def shared_slice() -> Path:
    """The real RouterBench slice beside the repository (``../shared/data/...``), or a skip."""
    if not SHARED_SLICE.is_dir() or not any(SHARED_SLICE.glob("*.csv")):
        pytest.skip(f"RouterBench slice not found at {SHARED_SLICE}")
    return SHARED_SLICE


@pytest.fixture(scope="session")
def tiny_table() -> RouteTable:
    """A small synthetic table: 400 queries x 5 LLMs, seed 0."""
    from routebench.sources.synthetic import generate

    return generate(n=400, models=5, seed=0)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder, also exported as ``ROUTEBENCH_DATA`` for the CLI."""
    path = tmp_path / "data"
    monkeypatch.setenv("ROUTEBENCH_DATA", str(path))
    return path
