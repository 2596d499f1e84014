"""Deterministic split of a dataset into a historical set H and a test stream.

The paper uses 10,000 test queries and the rest as history. The split is a pure function of
(N, test size, seed); the arrival order of the test stream is drawn later, per simulation seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routebench.dataset import RouteTable
from routebench.errors import ParamError
from routebench.seeding import rng

DEFAULT_TEST_SIZE = 10_000


class SplitError(ParamError):
    """A split that the dataset cannot support; ``param`` names the bad parameter."""


@dataclass(frozen=True)
class Split:
    """Row positions of the historical set and of the test stream (both sorted ascending)."""

    history: np.ndarray
    test: np.ndarray
    test_size: int
    seed: int

    def tables(self, table: RouteTable) -> tuple[RouteTable, RouteTable]:
        """(history, test) sub-tables of ``table``."""
        return table.subset(self.history), table.subset(self.test)

    def describe(self) -> dict[str, int]:
        return {"test_size": self.test_size, "seed": self.seed, "n_history": len(self.history)}


def make_split(n: int, test_size: int = DEFAULT_TEST_SIZE, seed: int = 0) -> Split:
    """Split ``n`` queries: ``test_size`` drawn at random (seeded) for the test stream, the rest
    for history. Refuses a test size that leaves no history."""
    if isinstance(test_size, bool) or not isinstance(test_size, (int, np.integer)) \
            or test_size < 1:
        raise SplitError("test_size", f"must be an integer >= 1, got {test_size!r}")
    if test_size >= n:
        raise SplitError(
            "test_size", f"{test_size} is too large: the dataset has {n} queries and at least "
            "one must remain as history"
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= seed < 2**63:
        raise SplitError("seed", f"must be an integer in 0..{2**63 - 1}, got {seed!r}")
    perm = rng(seed, "split").permutation(n)
    return Split(
        history=np.sort(perm[test_size:]),
        test=np.sort(perm[:test_size]),
        test_size=int(test_size),
        seed=int(seed),
    )


def split_table(
    table: RouteTable, test_size: int = DEFAULT_TEST_SIZE, seed: int = 0
) -> tuple[Split, RouteTable, RouteTable]:
    """(split, history table, test table)."""
    split = make_split(table.n, test_size, seed)
    history, test = split.tables(table)
    return split, history, test
