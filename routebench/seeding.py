"""One seed, one ``SeedSequence``: every random choice draws from a named child stream.

Children are spawned in the fixed order of ``STREAMS``; new components are appended at the end,
so adding one never shifts the draws of the others.
"""

from __future__ import annotations

import zlib

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


#: First spawn-key word of the streams of names outside ``STREAMS`` (plug-in routers): far
#: from the children ``rngs`` spawns (0 .. len(STREAMS) - 1), so they never coincide.
_NAMED_KEY = 1_000_003


def stream_rng(seed: int | np.random.SeedSequence, stream: str) -> np.random.Generator:
    """A fresh ``Generator`` of the named stream ``stream`` of ``seed``.

    A name in ``STREAMS`` gives that child (the same draws as ``rngs(seed)[stream]``); any other
    name (a plug-in router's own stream) gets a child of the seed's ``SeedSequence`` keyed by a
    CRC-32 of the name, so adding a router never shifts the draws of the others."""
    if stream in STREAMS:
        return rngs(seed)[stream]
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
    child = np.random.SeedSequence(
        ss.entropy, spawn_key=(*ss.spawn_key, _NAMED_KEY, zlib.crc32(stream.encode("utf-8")))
    )
    return np.random.default_rng(child)
