"""One seed, one ``SeedSequence``: every random choice draws from a named child stream.

Children are spawned in the fixed order of ``STREAMS``; new components are appended at the end,
so adding one never shifts the draws of the others.
"""

from __future__ import annotations

import numpy as np

#: The named random streams of one simulation seed, in spawn order. Append only.
STREAMS: tuple[str, ...] = (
    "arrival_order",   # permutation of the test stream
    "port_learning",   # PORT's learning-phase draws over {drop, 1..M}
    "random_router",   # the Random baseline
    "budget_split",    # the `random` budget split's weights
    "synthetic",       # synthetic dataset generation
    "split",           # history / test split
    "embed",           # embedder fitting (the tfidf SVD)
    "index",           # IVF k-means and PQ training
)


def rngs(seed: int | np.random.SeedSequence) -> dict[str, np.random.Generator]:
    """Return one independent ``Generator`` per name in ``STREAMS`` for ``seed``."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
    children = ss.spawn(len(STREAMS))
    return {
        name: np.random.default_rng(child)
        for name, child in zip(STREAMS, children, strict=True)
    }


def rng(seed: int | np.random.SeedSequence, stream: str) -> np.random.Generator:
    """The ``Generator`` of one named stream of ``seed``."""
    if stream not in STREAMS:
        raise KeyError(f"unknown random stream {stream!r}; known: {', '.join(STREAMS)}")
    return rngs(seed)[stream]
