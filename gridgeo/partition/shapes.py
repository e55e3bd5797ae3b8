"""Compact grids for free: cells without households move to the neighbouring grid they fit best.

A cell that holds no households (a courtyard, a lane, an office block, an empty street block) can
belong to either grid it touches without changing any grid's households, so the bounds, the
small-grid counts and every building's grid stay as they are. :func:`polish_compactness` moves such
cells across grid boundaries while that lowers the two grids' summed ``P²/(4πA)`` (the inverse of
Polsby–Popper), keeping every grid connected and wrapped around no other. Deterministic: cells are
visited in index order.

Examples
--------
Two grids on a 4 × 1 strip, the households in the two end cells: the empty cells go half each way.

>>> from shapely import box
>>> from .graph import cell_graph
>>> geoms = np.array([box(x, 0, x + 1, 1) for x in range(4)], dtype=object)
>>> g = cell_graph(geoms, households=np.array([10, 0, 0, 10]), block=np.zeros(4, dtype=np.int64))
>>> polish_compactness(g, geoms, np.array([0, 0, 0, 1]), 2, box(0, 0, 4, 1)).tolist()
[0, 0, 1, 1]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import shapely

from .enclosures import foreign_holes
from .graph import Graph
from .solver import barrier_edges

__all__ = ["polish_compactness"]

#: a move must lower the summed inverse Polsby–Popper of the two grids by more than this
MIN_GAIN = 1e-6


def polish_compactness(g: Graph, geoms: np.ndarray, labels: np.ndarray, n: int, container: shapely.Geometry, *,
                       rounds: int = 4, allow: Callable[[int, int, int, list[set[int]]], bool] | None = None
                       ) -> np.ndarray:
    """Labels with cells of no households moved between neighbouring parts while that makes the two
    parts more compact; each part stays in as many pieces as before, and no part gains a hole its
    container does not have.

    With ``allow``, cells with households move too where ``allow(cell, from_part, to_part, members)``
    says so (``members``: the cells of each part before the move), e.g. both parts within their
    bounds and their small grids no worse."""
    labels = np.asarray(labels, dtype=np.int64).copy()
    if n < 2 or g.n == 0 or (allow is None and not (g.h == 0).any()):
        return labels
    nbrs: list[dict[int, float]] = [{} for _ in range(g.n)]
    for a, b, L in zip(g.a.tolist(), g.b.tolist(), g.length.tolist()):
        nbrs[a][b] = nbrs[a].get(b, 0.0) + L
        nbrs[b][a] = nbrs[b].get(a, 0.0) + L
    # the cells each cell may join the part of: across edges that are no barrier
    open_nbrs: list[set[int]] = [set() for _ in range(g.n)]
    for a, b, barrier in zip(g.a.tolist(), g.b.tolist(), barrier_edges(g).tolist()):
        if not barrier:
            open_nbrs[a].add(b)
            open_nbrs[b].add(a)
    area = np.bincount(labels, weights=g.area, minlength=n).astype(float)
    inner = np.zeros(n)
    for a, b, L in zip(g.a.tolist(), g.b.tolist(), g.length.tolist()):
        if labels[a] == labels[b]:
            inner[labels[a]] += L
    perim = np.bincount(labels, weights=g.perim, minlength=n) - 2 * inner
    members: list[set[int]] = [set() for _ in range(n)]
    for c, p in enumerate(labels.tolist()):
        members[p].add(c)
    pieces = [_pieces(members[p], nbrs) for p in range(n)]
    shape = [None] * n  # part geometries, built when first needed

    def cost(P: float, A: float) -> float:
        return P * P / (4 * math.pi * A) if A > 0 else math.inf

    movable = np.flatnonzero(g.h == 0).tolist() if allow is None else list(range(g.n))
    for _ in range(rounds):
        moved = False
        for c in movable:
            A = int(labels[c])
            if len(members[A]) <= 1:
                continue
            shared: dict[int, float] = {}
            for y, L in nbrs[c].items():
                shared[int(labels[y])] = shared.get(int(labels[y]), 0.0) + L
            if len(shared) < 2 and A in shared:
                continue
            own = shared.get(A, 0.0)
            pa = perim[A] - g.perim[c] + 2 * own
            aa = area[A] - g.area[c]
            base = cost(perim[A], area[A])
            best = None
            reachable = {int(labels[y]) for y in open_nbrs[c]}
            for B in sorted(shared):
                if B == A or B not in reachable:
                    continue
                pb = perim[B] + g.perim[c] - 2 * shared[B]
                ab = area[B] + g.area[c]
                gain = base + cost(perim[B], area[B]) - cost(pa, aa) - cost(pb, ab)
                if gain > MIN_GAIN and (best is None or gain > best[0]):
                    best = (gain, B, pb, ab)
            if best is None:
                continue
            _, B, pb, ab = best
            if g.h[c] != 0 and not allow(c, A, B, members):
                continue
            rest = members[A] - {c}
            if _pieces(rest, nbrs) > pieces[A]:
                continue
            for p in (A, B):
                if shape[p] is None:
                    shape[p] = shapely.coverage_union_all(geoms[sorted(members[p])])
            grown = shapely.union(shape[B], geoms[c])
            if len(foreign_holes(grown, container)) > len(foreign_holes(shape[B], container)):
                continue
            members[A].discard(c)
            members[B].add(c)
            labels[c] = B
            perim[A], area[A], perim[B], area[B] = pa, aa, pb, ab
            shape[A] = None
            shape[B] = grown
            moved = True
        if not moved:
            break
    return labels


def _pieces(units: set[int], nbrs: list[dict[int, float]]) -> int:
    """Connected pieces of ``units``."""
    seen: set[int] = set()
    count = 0
    for s in sorted(units):
        if s in seen:
            continue
        count += 1
        seen.add(s)
        stack = [s]
        while stack:
            x = stack.pop()
            for y in nbrs[x]:
                if y in units and y not in seen:
                    seen.add(y)
                    stack.append(y)
    return count
