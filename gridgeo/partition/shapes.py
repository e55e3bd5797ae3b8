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

from . import _fast
from .enclosures import _misses, _neighbours, foreign_holes
from .graph import Graph, subgraph
from .solver import Bounds, Weights, barrier_edges, partition_graph

__all__ = ["polish_compactness", "compact_pairs", "polsby_popper", "within_bounds", "COMPACTNESS_FLOOR"]

#: a move must lower the summed inverse Polsby–Popper of the two grids by more than this
MIN_GAIN = 1e-6
#: :func:`polish_compactness` scans with the compiled kernels of :mod:`._fast` (False: its Python, as the tests
#: compare)
_POLISH_COMPILED = True
#: a grid less compact than this (Polsby–Popper 4πA/P²) is divided afresh with a neighbour where both can
#: be at least this compact (:func:`compact_pairs`); one left under it is reported with its cause
COMPACTNESS_FLOOR = 0.25
#: spanning-tree seeds tried for each pair of a grid under :data:`COMPACTNESS_FLOOR` and a neighbour
PAIR_TRIES = 4


def polsby_popper(geoms: np.ndarray) -> np.ndarray:
    """Polsby–Popper ``4πA/P²`` of each geometry (metric CRS); 0 for an empty one.

    >>> from shapely import box
    >>> polsby_popper(np.array([box(0, 0, 1, 1), box(0, 0, 10, 1)], dtype=object)).round(3).tolist()
    [0.785, 0.26]
    """
    geoms = np.asarray(geoms, dtype=object)
    return 4 * np.pi * shapely.area(geoms) / np.maximum(shapely.length(geoms), 1e-9) ** 2


def compact_pairs(g: Graph, geoms: np.ndarray, labels: np.ndarray, n: int, container: shapely.Geometry,
                  bounds: Bounds, *, weights: Weights | None = None, seed: int = 0, frozen: set[int] | None = None,
                  keep: Callable[[np.ndarray, np.ndarray, np.ndarray], bool] | None = None,
                  outline: shapely.Geometry = None,
                  floor: float = COMPACTNESS_FLOOR, tries: int = PAIR_TRIES, parts: np.ndarray | None = None
                  ) -> tuple[np.ndarray, dict[int, int]]:
    """Labels with each part under ``floor`` Polsby–Popper divided afresh with one of its neighbours
    (:func:`~.solver.partition_graph` on the two parts' cells, the empty cells then moved by
    :func:`polish_compactness`) where both new parts are at least ``floor``, none further out of
    ``bounds`` than before, none wrapped round anything (against ``container``, and ``outline`` where
    given) and, with ``keep``, where ``keep(cells, new part of each, current part of each)`` says so (parts
    0 and 1 of the pair; the current ones as the labels are then, after the divisions afresh before it).

    Bounded: ``tries`` seeds per pair, each part and neighbour in index order (deterministic). Parts in
    ``frozen`` are never divided afresh. ``parts``: the parts' geometries already united.

    Returns
    -------
    (ndarray, dict)
        New labels (same part numbers), and for each part left under ``floor`` and not ``frozen``, how many
        neighbours it was tried with in vain (0: its neighbours are all ``frozen``).
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    frozen = frozen or set()
    searched: dict[int, int] = {}
    if n < 2 or g.n == 0:
        return labels, searched
    # the cells' unions made here, by the cells' positions: a division drawn again (another seed, another pair, the
    # parts as they are) is not united again
    unions: dict[bytes, shapely.Geometry] = {}
    if parts is None:
        parts = [_cells_union(unions, geoms, np.flatnonzero(labels == p)) for p in range(n)]
    parts = np.array(parts, dtype=object)
    pp = polsby_popper(parts)
    for p in np.flatnonzero(pp < floor).tolist():
        if p in frozen or pp[p] >= floor:
            continue
        found = False
        tried = 0
        for r in _neighbours(g, labels, p):
            if r in frozen:
                continue
            tried += 1
            new = _pair_afresh(g, geoms, labels, [p, r], container, bounds, weights,
                               seed + 7919 * (p + 1) + 31 * r, keep, outline, floor, tries, unions)
            if new is not None:
                nodes, new_labels, new_parts = new
                labels[nodes] = new_labels
                parts[p], parts[r] = new_parts
                pp[p], pp[r] = polsby_popper(np.asarray(new_parts, dtype=object))
                found = True
                break
        if not found:
            searched[p] = tried
    # a part tried in vain may have been made compact since, divided afresh with a later one
    return labels, {p: k for p, k in searched.items() if pp[p] < floor}


def _cells_union(unions: dict[bytes, shapely.Geometry], geoms: np.ndarray, cells: np.ndarray) -> shapely.Geometry:
    """The coverage union of ``geoms[cells]`` (positions in increasing order), made once: kept in ``unions``."""
    key = cells.tobytes()
    if key not in unions:
        unions[key] = shapely.coverage_union_all(geoms[cells])
    return unions[key]


def _pair_afresh(g: Graph, geoms: np.ndarray, labels: np.ndarray, pair: list[int], container: shapely.Geometry,
                 bounds: Bounds, weights: Weights | None, seed: int, keep, outline, floor: float, tries: int,
                 unions: dict[bytes, shapely.Geometry]):
    """The cells of the two parts ``pair`` divided afresh into two, both at least ``floor`` compact (see
    :func:`compact_pairs`): (cells, the part of each, the two parts' geometries), or None. ``unions``: the
    cells' unions already made (:func:`_cells_union`), added to."""
    nodes = np.flatnonzero(np.isin(labels, pair))
    sub = subgraph(g, nodes)
    before = _misses([float(g.h[labels == q].sum()) for q in pair], bounds)
    sub_geoms = geoms[nodes]
    # the divisions already judged: another seed often draws the same one, which the polish and every check below
    # would take the same way again (each depends on the labels alone)
    drawn: set[bytes] = set()
    for t in range(tries):
        out = partition_graph(sub, bounds, seed=seed + 104729 * t, weights=weights)
        if out.n_parts != 2 or _misses(np.bincount(out.labels, weights=sub.h, minlength=2), bounds) > before:
            continue
        if out.labels.tobytes() in drawn:
            continue
        drawn.add(out.labels.tobytes())
        lab = polish_compactness(sub, sub_geoms, out.labels, 2, container)
        two = [_cells_union(unions, geoms, nodes[lab == k]) for k in (0, 1)]
        if (polsby_popper(np.asarray(two, dtype=object)) < floor).any():
            continue
        if any(foreign_holes(q, container) for q in two) or (
                outline is not None and any(foreign_holes(q, outline) for q in two)):
            continue
        if lab[0] != 0:  # the part holding the first cell keeps the first part's number
            lab, two = 1 - lab, two[::-1]
        if keep is not None and not keep(nodes, lab, (labels[nodes] == pair[1]).astype(np.int64)):
            continue
        relabel = np.asarray(pair, dtype=np.int64)
        return nodes, relabel[lab], two
    return None


def within_bounds(h: np.ndarray, bounds: Bounds) -> Callable[[int, int, int, list[set[int]]], bool]:
    """The ``allow`` of :func:`polish_compactness` that moves a cell's households (``h``, per cell) from part
    ``a`` to part ``b`` only where neither goes further out of ``bounds``.

    Three cells of 60 households, bounds 100–150: from a part of 180 to an empty one, a cell may move (180 → 120,
    0 → 60: both nearer the bounds); from a part of 120 to one of 60 it may not (120 → 60 falls under the floor).

    >>> ok = within_bounds(np.array([60, 60, 60]), Bounds(100, 150, 125))
    >>> ok(2, 0, 1, [{0, 1, 2}, set()]), ok(1, 0, 1, [{0, 1}, {2}])
    (True, False)
    """
    def allow(c: int, a: int, b: int, members: list[set[int]]) -> bool:
        ha, hb = float(h[list(members[a])].sum()), float(h[list(members[b])].sum())
        return bool(bounds.violation(ha - h[c]) <= bounds.violation(ha)
                    and bounds.violation(hb + h[c]) <= bounds.violation(hb))

    return allow


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
    if _POLISH_COMPILED and _fast.compiled():
        return _polish_compiled(g, geoms, labels, n, container, rounds, allow)
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
            if not _move(c, A, B, geoms, members, shape, container):
                continue
            labels[c] = B
            perim[A], area[A], perim[B], area[B] = pa, aa, pb, ab
            moved = True
        if not moved:
            break
    return labels


def _polish_compiled(g: Graph, geoms: np.ndarray, labels: np.ndarray, n: int, container: shapely.Geometry,
                     rounds: int, allow: Callable[[int, int, int, list[set[int]]], bool] | None) -> np.ndarray:
    """:func:`polish_compactness` with its scans compiled (:func:`._fast.polish_next`): the same sums in the same
    order, the same moves tried in the same order (``allow``, the pieces, the holes), so the same labels."""
    indptr, nbr, nL, op = _fast.polish_adjacency(g, barrier_edges(g))
    area = np.bincount(labels, weights=g.area, minlength=n).astype(float)
    same = labels[g.a] == labels[g.b]
    perim = np.bincount(labels, weights=g.perim, minlength=n) - 2 * np.bincount(
        labels[g.a][same], weights=g.length[same], minlength=n)
    size = np.bincount(labels, minlength=n).astype(np.int64)
    members: list[set[int]] = [set() for _ in range(n)]
    for c, p in enumerate(labels.tolist()):
        members[p].add(c)
    pieces = _fast.part_pieces(n, indptr, nbr, labels)
    shape = [None] * n  # part geometries, built when first needed
    movable = np.flatnonzero(g.h == 0) if allow is None else np.arange(g.n)
    gperim, garea = np.asarray(g.perim, dtype=np.float64), np.asarray(g.area, dtype=np.float64)
    for _ in range(rounds):
        moved = False
        pos = 0
        while True:
            pos, c, B, pa, aa, pb, ab = _fast.polish_next(pos, movable, indptr, nbr, nL, op, labels, size, perim, area,
                                                          gperim, garea, MIN_GAIN)
            if pos < 0:
                break
            pos += 1
            A = int(labels[c])
            if g.h[c] != 0 and not allow(c, A, B, members):
                continue
            if _fast.pieces_of(A, c, indptr, nbr, labels) > pieces[A]:
                continue
            if not _move(c, A, B, geoms, members, shape, container):
                continue
            labels[c] = B
            size[A] -= 1
            size[B] += 1
            perim[A], area[A], perim[B], area[B] = pa, aa, pb, ab
            moved = True
        if not moved:
            break
    return labels


def _move(c: int, A: int, B: int, geoms: np.ndarray, members: list[set[int]], shape: list, container: shapely.Geometry) -> bool:
    """Move cell ``c`` from part ``A`` to part ``B`` of :func:`polish_compactness` (``members`` and the part
    geometries ``shape``, built when first needed), unless ``B`` grown by it would hold more foreign holes:
    whether it moved."""
    for p in (A, B):
        if shape[p] is None:
            shape[p] = shapely.coverage_union_all(geoms[sorted(members[p])])
    grown = shapely.union(shape[B], geoms[c])
    if len(foreign_holes(grown, container)) > len(foreign_holes(shape[B], container)):
        return False
    members[A].discard(c)
    members[B].add(c)
    shape[A] = None
    shape[B] = grown
    return True


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
