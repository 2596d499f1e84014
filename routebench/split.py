"""Deterministic split of a dataset into a historical set H and a test stream.

The paper uses 10,000 test queries and the rest as history. The split is a pure function of
(N, test size, seed); the arrival order of the test stream is drawn later, per simulation seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from routebench.dataset import RouteTable
from routebench.seeding import rng

DEFAULT_TEST_SIZE = 10_000


class SplitError(ValueError):
    """A split that the dataset cannot support."""


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
    if test_size < 1:
        raise SplitError(f"--test-size must be at least 1, got {test_size}")
    if test_size >= n:
        raise SplitError(
            f"--test-size {test_size} is too large: the dataset has {n} queries and at least one "
            "must remain as history"
        )
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
