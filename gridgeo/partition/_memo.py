"""Caches of pure, deterministic search steps of the partition engine, keyed on their inputs' content.

The engine asks the same questions many times over: a base grid's small grids are drawn when the
compactness polish judges a move, again when recombination judges a pair of grids, again for the
plan; the exact search meets the same small regions in every spanning-tree seed and every repair
group. Each answer depends only on its inputs (graph arrays, bounds, weights, seed), never on call
order or process, so a repeated question is answered from the cache with exactly the same result:
plans are identical with and without it (:func:`disabled` turns every cache off, for checking).

Caches are per process and bounded (:data:`MAX_ENTRIES` each, oldest entries dropped first), so a
city-scale run keeps a fixed memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = ["MAX_ENTRIES", "BoundedCache", "graph_key", "disabled", "clear_all"]

#: entries each cache keeps at most (the oldest are dropped first)
MAX_ENTRIES = 20_000

_GRAPH_FIELDS = ("h", "area", "perim", "x", "y", "a", "b", "length", "art", "nostreet")
_CACHES: list[BoundedCache] = []
_ENABLED = [True]


def graph_key(g: Any) -> bytes:
    """A digest of every array of a :class:`~.graph.Graph` (values, dtypes and lengths)."""
    d = hashlib.blake2b(digest_size=20)
    for f in _GRAPH_FIELDS:
        arr = np.ascontiguousarray(getattr(g, f))
        d.update(arr.dtype.str.encode())
        d.update(len(arr).to_bytes(8, "little"))
        d.update(arr.tobytes())
    return d.digest()


class BoundedCache:
    """A dict of at most ``max_entries`` entries, the oldest dropped first; ``get`` misses while
    caches are :func:`disabled`."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self.data: dict[Hashable, Any] = {}
        self.hits = 0
        self.misses = 0
        _CACHES.append(self)

    def get(self, key: Hashable) -> Any | None:
        if not _ENABLED[0]:
            return None
        hit = self.data.get(key)
        if hit is None:
            self.misses += 1
        else:
            self.hits += 1
        return hit

    def put(self, key: Hashable, value: Any) -> None:
        if not _ENABLED[0]:
            return
        if len(self.data) >= self.max_entries:
            for old in list(self.data)[: max(1, self.max_entries // 4)]:
                del self.data[old]
        self.data[key] = value

    def clear(self) -> None:
        self.data.clear()
        self.hits = self.misses = 0


def clear_all() -> None:
    """Empty every cache (results are the same either way; for measuring)."""
    for c in _CACHES:
        c.clear()


@contextmanager
def disabled() -> Iterator[None]:
    """Every cache off inside the block (each question computed afresh)."""
    _ENABLED[0] = False
    try:
        yield
    finally:
        _ENABLED[0] = True
