"""No grid wrapped around another: open the holes that a division left inside a grid.

Contiguous parts can still enclose one another: a grid shaped like a ring around a smaller grid, whose
only neighbour it then is. No district office draws that (a grid with a hole); unless the community
itself has a hole there, :func:`open_enclosures` merges the enclosing grid with the grids inside its
hole and divides them afresh with the solver (several spanning-tree seeds), keeping the first division
into as many parts, within the bounds, in which no part has such a hole. Where none is found the
division is kept as it was and the caller reports it.

Examples
--------
A 3 × 3 block of cells, the centre one a grid of its own inside a ring of eight:

>>> from shapely import box
>>> from .graph import cell_graph
>>> geoms = np.array([box(x, y, x + 1, y + 1) for y in range(3) for x in range(3)], dtype=object)
>>> h = np.array([50, 50, 50, 50, 200, 50, 50, 50, 50])
>>> g = cell_graph(geoms, households=h, block=np.zeros(9, dtype=np.int64))
>>> labels = np.array([0, 0, 0, 0, 1, 0, 0, 0, 0])
>>> fixed, left = open_enclosures(g, geoms, labels, 2, box(0, 0, 3, 3), Bounds(150, 450, 300), seed=1)
>>> left, int(enclosure_count(geoms, fixed, 2, box(0, 0, 3, 3)).sum())
(0, 0)
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from .._geometry import inner_points, union_by
from .graph import Graph, subgraph
from .solver import Bounds, Weights, partition_graph

__all__ = ["open_enclosures", "open_sites", "enclosure_count", "part_unions", "foreign_holes", "cut_lanes",
           "cut_grid_lanes", "cut_site_lanes", "cut_lanes_redrawing", "Residents", "site_of_lane", "site_keeps_shape",
           "no_lane_why"]

#: spanning-tree seeds tried for each enclosing grid
TRIES = 8

#: corridors tried for each hole of a ring, each going round the cells where the last one failed
CUT_TRIES = 8

#: metres within which a cell's edge counts as lying on the container's outer edge
RIM_TOL = 1e-3

#: square metres of the container's land inside a ring's hole above which the ring is wrapped round that land
#: (held by other grids) even where most of the hole is a hole of the container itself
HOLE_LAND_M2 = 1.0

#: the last resort's corridor across a ring may take a part already out of its bounds further out by at most
#: this share of the bounds' width (hi - lo: 20 households for grids of 300-500): a shed given to a tower's grid
#: rather than a grid wrapped round the tower; a part within its bounds never leaves them
CORRIDOR_SLACK_SHARE = 0.1


def _union(geoms: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    return union_by(geoms, labels, n, coverage=True)


#: a hole no larger than this wraps nothing: a hairline ring (a few µm² along an edge where a lane or a site meets a
#: grid), which storing the plan mends away, so ``validate`` and the report never see it
HAIRLINE_M2 = 1e-3


def foreign_holes(part: shapely.Geometry, container: shapely.Geometry) -> list[shapely.Geometry]:
    """Interior rings of ``part`` (as polygons) that are not holes of ``container``: more than half of the ring's
    hole is the container's land, or more than :data:`HOLE_LAND_M2` of it is (a ring round the container's own
    hole, a lake, and other grids' land beside it is still wrapped round those grids); hairline rings
    (:data:`HAIRLINE_M2`) wrap nothing and are left out."""
    if shapely.get_type_id(part) == 3 and shapely.get_num_interior_rings(part) == 0:
        return []  # a polygon without holes (most parts): no parts and rings walked in Python
    out = []
    for poly in shapely.get_parts(part):
        for ring in poly.interiors:
            hole = shapely.Polygon(ring)
            if shapely.area(hole) <= HAIRLINE_M2:
                continue
            land = shapely.area(shapely.intersection(hole, container))
            if land > 0.5 * shapely.area(hole) or land > HOLE_LAND_M2:
                out.append(hole)
    return out


def _no_further_out(bounds: Bounds, before: float, after: float, slack: float = 0.0) -> bool:
    """Whether a part of ``before`` households, ``after`` a move, is no further out of ``bounds``; a part
    already out of them may go up to ``slack`` further out, one within them never leaves them."""
    was, now = bounds.violation(before), bounds.violation(after)
    return now <= was or (was > 0 and now - was <= slack + 1e-9)


def _misses(households, bounds: Bounds) -> tuple[int, float]:
    """(parts out of bounds, households they miss by in all): a re-division must not be worse."""
    miss = [max(bounds.lo - x, x - bounds.hi, 0.0) for x in households]
    return sum(1 for m in miss if m > 0), round(float(sum(miss)), 6)


def enclosure_count(geoms: np.ndarray, labels: np.ndarray, n: int, container: shapely.Geometry, *,
                    parts: np.ndarray | None = None) -> np.ndarray:
    """Holes of each part (union of its cells) that are not holes of ``container``: ``len(foreign_holes(part,
    container))`` of every part, the rings of all parts measured in one vectorised call. ``parts``, when
    given, are the parts as :func:`part_unions` gives them for these cells and labels (not united again)."""
    parts = part_unions(geoms, labels, n) if parts is None else parts
    return _hole_counts(parts, container)


def part_unions(geoms: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """The coverage union of the cells ``geoms`` of each part ``0 .. n-1`` (``labels``), as
    :func:`enclosure_count` counts their holes; a new array each call (the caller may change it)."""
    return _union(geoms, labels, n)


def _hole_counts(parts: np.ndarray, container: shapely.Geometry) -> np.ndarray:
    """``len(foreign_holes(p, container))`` for each part ``p``, vectorised over the parts' interior rings (the
    same GEOS operations on the same rings, so the same counts)."""
    parts = np.asarray(parts, dtype=object)
    flat, owner = shapely.get_parts(parts, return_index=True)
    if not len(flat):
        return np.zeros(len(parts), dtype=np.int64)
    if (shapely.get_type_id(flat) != 3).any():  # not polygons only: as foreign_holes walks them
        return np.array([len(foreign_holes(p, container)) for p in parts], dtype=np.int64)
    rings_of = shapely.get_num_interior_rings(flat)
    with_rings = np.flatnonzero(rings_of > 0)
    if not len(with_rings):
        return np.zeros(len(parts), dtype=np.int64)
    which = np.repeat(with_rings, rings_of[with_rings])
    first = np.repeat(np.cumsum(rings_of[with_rings]) - rings_of[with_rings], rings_of[with_rings])
    ring = np.arange(len(which)) - first
    holes = shapely.polygons(shapely.get_interior_ring(flat[which], ring))
    land = shapely.area(shapely.intersection(holes, container))
    foreign = (land > 0.5 * shapely.area(holes)) | (land > HOLE_LAND_M2)
    return np.bincount(owner[which[foreign]], minlength=len(parts)).astype(np.int64)


def open_enclosures(
    g: Graph,
    geoms: np.ndarray,
    labels: np.ndarray,
    n: int,
    container: shapely.Geometry,
    bounds: Bounds,
    *,
    weights: Weights | None = None,
    seed: int = 0,
    frozen: set[int] | None = None,
    patient: bool = False,
) -> tuple[np.ndarray, int]:
    """Labels with every enclosing part re-divided together with the parts it encloses, where possible.

    Parameters
    ----------
    g
        The cell graph (households ``g.h``).
    geoms
        Cell polygons (they tile ``container``).
    labels
        Part of each cell, ``0..n-1``.
    container
        The community (or the parent grid, for small grids): its own holes are not enclosures.
    bounds
        Household bounds a re-divided part must keep (a part already outside them may stay so).
    frozen
        Enclosing parts never re-divided (an isolated piece); a tower over the ceiling inside a ring is
        re-divided with the ring (the solver gives it a part of its own again).
    patient
        Corridors found the patient way, a last resort once everything else has left a grid wrapped:
        cells along the container's outer edge to within :data:`RIM_TOL` count as on it, up to
        :data:`CUT_TRIES` corridors are tried per hole (each round the cells where the last failed), and a
        ring may be cut where it stays in one piece as drawn.

    Returns
    -------
    (ndarray, int)
        New labels (same part numbers) and the number of parts still enclosing another.
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    frozen = frozen or set()
    parts = _union(geoms, labels, n)
    left = 0
    for p in range(n):
        holes = foreign_holes(parts[p], container)
        if not holes:
            continue
        inside = sorted({q for q in range(n) if q != p and not shapely.is_empty(parts[q])
                         and any(shapely.within(shapely.point_on_surface(parts[q]), h) for h in holes)})
        if not inside:
            left += 1
            continue
        if p in frozen:
            if not _cut_rings(g, geoms, labels, parts, p, n, container, bounds, patient=patient):
                left += 1
            continue
        # the ring and what it encloses; failing that, with one of the ring's outer neighbours as well
        # (a tower grid inside a ring stays a part of its own: the ring must give cells to a neighbour)
        outer = [r for r in _neighbours(g, labels, p) if r not in inside and r not in frozen]
        groups = [[p, *inside]] + [[p, *inside, r] for r in outer]
        if any(_redivide(g, geoms, labels, parts, group, container, bounds, weights, seed) for group in groups):
            continue
        if not _cut_rings(g, geoms, labels, parts, p, n, container, bounds, patient=patient):
            left += 1
    return labels, left


def _neighbours(g: Graph, labels: np.ndarray, p: int) -> list[int]:
    """The parts touching part ``p`` along an edge of ``g``, in increasing order."""
    touching = np.r_[labels[g.b[labels[g.a] == p]], labels[g.a[labels[g.b] == p]]]
    return [int(r) for r in np.unique(touching) if r != p]


def _redivide(g: Graph, geoms: np.ndarray, labels: np.ndarray, parts: np.ndarray, group: list[int],
              container: shapely.Geometry, bounds: Bounds, weights: Weights | None, seed: int,
              keep: Callable[[np.ndarray, np.ndarray], bool] | None = None) -> bool:
    """Divide the cells of ``group`` afresh into as many parts, none worse within the bounds and none
    with a foreign hole (and, with ``keep``, where ``keep(cells, new part of each)`` says so); on success
    ``labels`` and ``parts`` are updated in place."""
    nodes = np.flatnonzero(np.isin(labels, group))
    sub = subgraph(g, nodes)
    before = _misses([float(g.h[labels == q].sum()) for q in group], bounds)
    for t in range(TRIES):
        out = partition_graph(sub, bounds, seed=seed + 7919 * (group[0] + 1) + 104729 * t + 31 * len(group),
                              weights=weights)
        if out.n_parts != len(group):
            continue
        if _misses(np.bincount(out.labels, weights=sub.h, minlength=out.n_parts), bounds) > before:
            continue
        if keep is not None and not keep(nodes, out.labels):
            continue
        new_geoms = _union(geoms[nodes], out.labels, out.n_parts)
        if any(foreign_holes(q, container) for q in new_geoms):
            continue
        # the part holding the first cell keeps the enclosing grid's number; the rest in group order
        first = [int(out.labels[0])] + [k for k in dict.fromkeys(out.labels.tolist()) if k != int(out.labels[0])]
        relabel = np.empty(out.n_parts, dtype=np.int64)
        relabel[first] = group
        labels[nodes] = relabel[out.labels]
        for k, q in zip(first, group, strict=True):
            parts[q] = new_geoms[k]
        return True
    return False


def _components(g: Graph, nodes: np.ndarray) -> int:
    """Connected pieces of the cells ``nodes`` in ``g``."""
    if len(nodes) == 0:
        return 0
    sub = subgraph(g, nodes)
    seen = np.zeros(sub.n, dtype=bool)
    nbrs: list[list[int]] = [[] for _ in range(sub.n)]
    for a, b in zip(sub.a.tolist(), sub.b.tolist()):
        nbrs[a].append(b)
        nbrs[b].append(a)
    count = 0
    for s in range(sub.n):
        if seen[s]:
            continue
        count += 1
        seen[s] = True
        stack = [s]
        while stack:
            x = stack.pop()
            for y in nbrs[x]:
                if not seen[y]:
                    seen[y] = True
                    stack.append(y)
    return count


def _corridor(g: Graph, nbrs: list[list[int]], mine: set[int], sources: list[int], targets: set[int],
              banned: set[int]) -> np.ndarray | None:
    """The path of cells of ``mine`` (none banned) from a source to a target that moves the fewest
    households, then the least area, ties by cell index (Dijkstra); ``None`` where there is none."""
    import heapq

    dist: dict[int, tuple[float, float]] = {}
    prev: dict[int, int] = {}
    heap = [(float(g.h[c]), float(g.area[c]), c, -1) for c in sources]
    heapq.heapify(heap)
    end = -1
    while heap:
        hh, ar, c, frm = heapq.heappop(heap)
        if c in dist:
            continue
        dist[c] = (hh, ar)
        prev[c] = frm
        if c in targets:
            end = c
            break
        for y in nbrs[c]:
            if y in mine and y not in dist and y not in banned:
                heapq.heappush(heap, (hh + float(g.h[y]), ar + float(g.area[y]), y, c))
    if end < 0:
        return None
    path = [end]
    while prev[path[-1]] >= 0:
        path.append(prev[path[-1]])
    return np.array(path[::-1], dtype=np.int64)


def _cut_rings(g: Graph, geoms: np.ndarray, labels: np.ndarray, parts: np.ndarray, p: int, n: int,
               container: shapely.Geometry, bounds: Bounds, *, patient: bool = False) -> bool:
    """Open each foreign hole of part ``p`` by a corridor of its cells given to a part inside the hole.

    The corridor is the path across ``p`` from a cell beside a part in the hole to a cell beside a part
    outside every hole of ``p`` (or on the container's outer edge) that moves the fewest households,
    then the least area: across empty cells (courtyards, lanes, buildings without households) it moves
    none, so no part changes its households. What the corridor cuts off ``p`` (an arm hanging off the
    ring) goes along with it when it holds no households (:func:`_with_cut_off`). Kept only where both
    parts stay within their bounds (or no further out; patiently, a part already out of them may go up to
    :data:`CORRIDOR_SLACK_SHARE` of their width further out), ``p`` in no more pieces than before and no
    part left with a foreign hole it did not have; on success ``labels`` and ``parts`` are updated in
    place. Returns whether ``p`` is left without foreign holes. ``patient``: see :func:`open_enclosures`.
    """
    nbrs: list[list[int]] = [[] for _ in range(g.n)]
    for a, b in zip(g.a.tolist(), g.b.tolist()):
        nbrs[a].append(b)
        nbrs[b].append(a)
    rim = shapely.union_all([shapely.get_exterior_ring(q) for q in shapely.get_parts(container)])
    min_on_rim = 1e-6
    if patient:
        # the container's outer edge, widened by RIM_TOL: cells drawn along it can match it only to
        # floating-point noise, and an exact intersection then has no length (洪山区 420111024001: a ring
        # along its community's edge had no way out)
        rim, min_on_rim = shapely.buffer(rim, RIM_TOL, cap_style="flat"), 10 * RIM_TOL
    shapely.prepare(rim)
    slack = CORRIDOR_SLACK_SHARE * (bounds.hi - bounds.lo) if patient else 0.0
    for _ in range(2 * len(foreign_holes(parts[p], container)) + 2):
        holes = foreign_holes(parts[p], container)
        if not holes:
            return True
        where = [shapely.point_on_surface(parts[q]) if q != p and not shapely.is_empty(parts[q]) else None
                 for q in range(n)]
        hole = holes[0]
        inside = {q for q in range(n) if where[q] is not None and shapely.within(where[q], hole)}
        enclosed = {q for q in range(n) if where[q] is not None and any(shapely.within(where[q], h) for h in holes)}
        mine = np.flatnonzero(labels == p)
        mine_set = set(mine.tolist())
        whole = _components(g, mine) == 1
        edge = shapely.length(shapely.intersection(shapely.boundary(geoms[mine]), rim)) > min_on_rim
        on_rim = {int(c) for c, e in zip(mine, edge, strict=True) if e}
        targets = {c for c in mine_set if c in on_rim or any(labels[y] != p and labels[y] not in enclosed for y in nbrs[c])}
        sources = sorted(c for c in mine_set if any(labels[y] in inside for y in nbrs[c]))
        if not inside or not targets or not sources:
            return False
        opened = False
        banned: set[int] = set()  # cells of corridors that failed: the next one goes round them
        for _ in range(CUT_TRIES if patient else 1):
            path = _corridor(g, nbrs, mine_set, [c for c in sources if c not in banned], targets, banned)
            if path is None:
                break
            q = min(int(labels[y]) for y in nbrs[int(path[0])] if labels[y] in inside)
            # what the corridor cuts off the ring (an arm of it) goes along when it holds no households (an
            # arm with households is the ring's own: a neck, gone round as before)
            moving = _with_cut_off(g, mine, path) if whole else path
            if len(moving) > len(path) and float(g.h[moving].sum()) > float(g.h[path].sum()):
                banned.update(int(c) for c in path)
                continue
            moved = float(g.h[moving].sum())
            hp, hq = float(g.h[labels == p].sum()), float(g.h[labels == q].sum())
            if not (_no_further_out(bounds, hp, hp - moved, slack) and _no_further_out(bounds, hq, hq + moved, slack)):
                # too many households on the way: go round the cells that hold them
                heavy = [int(c) for c in path if g.h[c] > 0]
                if not heavy:
                    break
                banned.update(heavy)
                continue
            rest = np.setdiff1d(mine, moving)
            if len(rest) == 0:
                break
            new_p = _union(geoms[rest], np.zeros(len(rest), dtype=np.int64), 1)[0]
            # p in no more pieces; patiently, as drawn: cells that meet along an edge only to floating-point
            # noise have no edge in the graph, yet hold the ring together on the map
            if (shapely.get_num_geometries(new_p) > shapely.get_num_geometries(parts[p]) if patient
                    else _components(g, rest) > _components(g, mine)):
                # a neck of p: cutting it leaves p in pieces
                banned.update(int(c) for c in path)
                continue
            new_labels = labels.copy()
            new_labels[moving] = q
            new_q = _union(geoms[new_labels == q], np.zeros(int((new_labels == q).sum()), dtype=np.int64), 1)[0]
            if len(foreign_holes(new_p, container)) >= len(holes) or foreign_holes(new_q, container):
                banned.update(int(c) for c in path)
                continue
            labels[:] = new_labels
            parts[p], parts[q] = new_p, new_q
            opened = True
            break
        if not opened:
            return False
    return not foreign_holes(parts[p], container)


def open_sites(g: Graph, geoms: np.ndarray, labels: np.ndarray, n: int, outline: shapely.Geometry,
               bounds: Bounds, *, weights: Weights | None = None, seed: int = 0,
               small: Callable[[np.ndarray], bool] | None = None,
               frozen: set[int] | None = None) -> tuple[np.ndarray, int]:
    """Labels with each part wrapped round ground that holds no part (a dedicated grid, 专属网格, carved out
    of the community and enclosed by its other blocks) opened, by a corridor of its cells given to a
    neighbouring part or, failing that, by dividing it afresh with a neighbour.

    The cells tile the community less its dedicated grids, so such a site is a hole of what they tile,
    which :func:`open_enclosures` leaves alone; on the map the part is still a ring round the site. The
    corridor runs across the part from a cell along the site to a cell beside another part, moving the
    fewest households, then the least area (:func:`_corridor`), and takes along the pieces of the ring it
    cuts off (:func:`_with_cut_off`); it is kept only where both parts stay within their bounds (or no
    further out), the ring in no more pieces, holding fewer holes, and the neighbour wrapped round nothing
    it was not. Up to :data:`CUT_TRIES` corridors are tried for each neighbour, each going round the cells
    where the last one failed, the neighbour with the most room first.

    ``small(nodes)``, where given, says whether the households of those nodes admit small grids
    (:func:`~.feasibility.divisible`). In this order, the first that opens the ring is kept: a corridor
    that takes that from neither part; the part divided afresh with a neighbour (:func:`_redivide`, with
    ``weights`` and ``seed``; never a ``frozen`` part), taking it from neither; the corridor that takes it
    from the fewest parts; any such division. An opened ring matters more than small grids. Holes of
    ``outline`` (the whole community) are its own and stay.

    Returns
    -------
    (ndarray, int)
        New labels (same part numbers) and the number of parts still wrapped round such a site.
    """
    labels = np.asarray(labels, dtype=np.int64).copy()
    frozen = frozen or set()
    parts = _union(geoms, labels, n)
    nbrs: list[list[int]] = [[] for _ in range(g.n)]
    for a, b in zip(g.a.tolist(), g.b.tolist()):
        nbrs[a].append(b)
        nbrs[b].append(a)

    def lost(groups: list[np.ndarray], before: list[np.ndarray]) -> int:
        # parts whose households admitted small grids and no longer do
        if small is None:
            return 0
        return sum(small(b) and not small(a) for a, b in zip(groups, before, strict=True))

    def holes_of(p: int) -> list[shapely.Geometry]:
        return foreign_holes(parts[p], outline) if not shapely.is_empty(parts[p]) else []

    left = 0
    for p in range(n):
        holes = holes_of(p)
        failed: list[shapely.Geometry] = []  # a point of each hole nothing opened
        for _ in range(2 * len(holes)):
            hole = next((h for h in holes if not any(shapely.within(f, h) for f in failed)), None)
            if hole is None:
                break
            cut = _cut_site(g, nbrs, geoms, labels, parts, p, n, hole, holes, outline, bounds, lost)
            if cut is not None and cut[0] == 0:
                _apply(labels, parts, p, *cut[1:])
            elif not (p not in frozen and _redivide_with_neighbour(g, geoms, labels, parts, p, n, outline, bounds,
                                                                    weights, seed, frozen, lost, strict=True)):
                if cut is not None:
                    _apply(labels, parts, p, *cut[1:])
                elif not (p not in frozen and _redivide_with_neighbour(g, geoms, labels, parts, p, n, outline,
                                                                        bounds, weights, seed, frozen, lost)):
                    failed.append(shapely.point_on_surface(hole))
            holes = holes_of(p)
        left += bool(holes)
    return labels, left


def _apply(labels: np.ndarray, parts: np.ndarray, p: int, q: int, moving: np.ndarray, new_p: Any, new_q: Any) -> None:
    labels[moving] = q
    parts[p], parts[q] = new_p, new_q


def _redivide_with_neighbour(g: Graph, geoms: np.ndarray, labels: np.ndarray, parts: np.ndarray, p: int, n: int,
                             outline: shapely.Geometry, bounds: Bounds, weights: Weights | None, seed: int,
                             frozen: set[int], lost: Callable[[list[np.ndarray], list[np.ndarray]], int], *,
                             strict: bool = False) -> bool:
    """Part ``p`` divided afresh with one of its neighbours not ``frozen`` (:func:`_redivide`), none of the
    two wrapped round anything; ``strict``: neither losing its small grids (``lost``)."""
    for r in _neighbours(g, labels, p):
        if r in frozen:
            continue
        before = [np.flatnonzero(labels == p), np.flatnonzero(labels == r)]

        def keep(nodes: np.ndarray, new: np.ndarray, before: list[np.ndarray] = before) -> bool:
            # the part holding the first cell stays p (as _redivide numbers them)
            return not strict or lost([nodes[new == new[0]], nodes[new != new[0]]], before) == 0

        if _redivide(g, geoms, labels, parts, [p, int(r)], outline, bounds, weights, seed, keep=keep):
            return True
    return False


def _cut_site(g: Graph, nbrs: list[list[int]], geoms: np.ndarray, labels: np.ndarray, parts: np.ndarray, p: int,
              n: int, hole: shapely.Geometry, holes_p: list[shapely.Geometry], outline: shapely.Geometry,
              bounds: Bounds, lost: Callable[[list[np.ndarray], list[np.ndarray]], int]) -> tuple | None:
    """The corridor of part ``p`` from ``hole`` (one of its foreign holes ``holes_p``) to a neighbouring part
    (see :func:`open_sites`) that takes small grids from the fewest parts, first found: (parts losing them,
    neighbour, cells moved, new shape of ``p``, new shape of the neighbour); ``None`` where none opens the
    ring."""
    before = len(holes_p)
    mine = np.flatnonzero(labels == p)
    mine_set = set(mine.tolist())
    ring = shapely.buffer(shapely.get_exterior_ring(hole), RIM_TOL, cap_style="flat")
    shapely.prepare(ring)
    along = shapely.length(shapely.intersection(shapely.boundary(geoms[mine]), ring)) > 10 * RIM_TOL
    sources = sorted(int(c) for c in mine[along])
    if not sources:
        return None
    # parts inside p's other holes cannot take the corridor: it would lead into a hole
    where = {q: shapely.point_on_surface(parts[q]) for q in range(n) if q != p and not shapely.is_empty(parts[q])}
    enclosed = {q for q, w in where.items() if any(shapely.within(w, h) for h in holes_p)}
    # each neighbour in turn, the one with the most room first: its own corridors, and the next one
    # where none fits its bounds or each takes small grids from a part
    hh = np.bincount(labels, weights=g.h, minlength=n)
    others = sorted((r for r in _neighbours(g, labels, p) if r not in enclosed), key=lambda r: (hh[r], r))
    whole = _components(g, mine) == 1
    best = None
    for q in others:
        targets = {c for c in mine_set if any(labels[y] == q for y in nbrs[c])}
        mine_q = np.flatnonzero(labels == q)
        for moving, new_p, new_q in _corridors(g, nbrs, geoms, labels, parts, p, q, mine, sources, targets,
                                               outline, bounds, before, whole):
            cost = lost([np.setdiff1d(mine, moving), np.union1d(mine_q, moving)], [mine, mine_q])
            if best is None or cost < best[0]:
                best = (cost, q, moving, new_p, new_q)
            if cost == 0:
                return best
    return best


def _corridors(g: Graph, nbrs: list[list[int]], geoms: np.ndarray, labels: np.ndarray, parts: np.ndarray, p: int,
               q: int, mine: np.ndarray, sources: list[int], targets: set[int], outline: shapely.Geometry,
               bounds: Bounds, before: int, whole: bool) -> Iterator[tuple[np.ndarray, Any, Any]]:
    """Corridors of ``p`` from ``sources`` to ``targets`` that ``q`` may take (see :func:`_cut_site`), each
    as (cells moved, new shape of ``p``, new shape of ``q``); each next one goes round the last."""
    mine_set = set(mine.tolist())
    hp, hq = float(g.h[mine].sum()), float(g.h[labels == q].sum())
    pieces = _components(g, mine)
    banned: set[int] = set()
    for _ in range(CUT_TRIES):
        path = _corridor(g, nbrs, mine_set, [c for c in sources if c not in banned], targets, banned)
        if path is None:
            return
        # what the corridor cuts off the ring (an arm reaching round the site) goes with it
        moving = _with_cut_off(g, mine, path) if whole else path
        moved = float(g.h[moving].sum())
        rest = np.setdiff1d(mine, moving)
        if (len(rest) == 0 or bounds.violation(hp - moved) > bounds.violation(hp)
                or bounds.violation(hq + moved) > bounds.violation(hq)):
            # too many households on the way, or cut off with it: go round the cells that hold them, or
            # round this corridor
            heavy = [int(c) for c in path if g.h[c] > 0] or ([int(c) for c in path] if len(moving) > len(path) else [])
            if not heavy or len(rest) == 0:
                return
            banned.update(heavy)
            continue
        new_p = _union(geoms[rest], np.zeros(len(rest), dtype=np.int64), 1)[0]
        new_labels = labels.copy()
        new_labels[moving] = q
        new_q = _union(geoms[new_labels == q], np.zeros(int((new_labels == q).sum()), dtype=np.int64), 1)[0]
        banned.update(int(c) for c in path)
        if (shapely.get_num_geometries(new_p) > shapely.get_num_geometries(parts[p])
                or _components(g, rest) > pieces
                or shapely.get_num_geometries(new_q) > shapely.get_num_geometries(parts[q])
                or len(foreign_holes(new_p, outline)) >= before
                or len(foreign_holes(new_q, outline)) > len(foreign_holes(parts[q], outline))):
            continue
        yield moving, new_p, new_q


def _with_cut_off(g: Graph, mine: np.ndarray, path: np.ndarray) -> np.ndarray:
    """``path`` and the pieces of ``mine`` it cuts off: all but the piece with the most households (then
    the most area, then the lowest cell)."""
    rest = np.setdiff1d(mine, path)
    if len(rest) < 2:
        return path
    sub = subgraph(g, rest)
    k, comp = connected_components(coo_matrix((np.ones(len(sub.a)), (sub.a, sub.b)), shape=(sub.n, sub.n)),
                                   directed=False)
    if k < 2:
        return path
    hh = np.bincount(comp, weights=g.h[rest], minlength=k)
    area = np.bincount(comp, weights=g.area[rest], minlength=k)
    keep = min(range(k), key=lambda c: (-hh[c], -area[c], int(np.flatnonzero(comp == c)[0])))
    return np.sort(np.r_[path, rest[comp != keep]])


#: width of a lane cut across a small grid wrapped round a sibling, metres (a footpath's width)
LANE_M = 4.0
#: room kept between a lane and every footprint, metres
LANE_CLEARANCE_M = 1.0
#: points along a hole's edge from which a lane is tried
LANE_STARTS = 64
#: directions tried from each of them (besides the nearest point of the parent's outer edge)
LANE_DIRECTIONS = 16
#: lanes clear of footprints tried per hole and width, shortest first
LANE_TRIES = 24
#: a polygon this close to a lane (m) is beside it: its edges get the lane's corners
NODE_M = 1e-6


def cut_lanes(geoms: np.ndarray, parent_of: np.ndarray, parents: np.ndarray, footprints: np.ndarray,
              *, fixed: shapely.Geometry | None = None, width: float = LANE_M,
              clearance: float = LANE_CLEARANCE_M) -> tuple[np.ndarray, list[shapely.Geometry]]:
    """Small grids with a lane of land (no footprint) cut across any of them wrapped round a sibling.

    A small grid can stay wrapped round a sibling after :func:`open_enclosures` when every corridor of
    cells would move households (a tower whose neighbours share its walls: the tower is a small grid of
    its own, the ring round it holds the rest of the parent grid, and any cell between the tower and the
    parent's edge holds a building of the ring). Such a ring is opened without moving a building: a
    straight lane ``2 × width`` metres wide (else ``width``) from the hole to the ring's outer edge, at least
    ``clearance`` metres from every footprint, goes from the ring to the sibling in the hole (the
    shortest lane that leaves the ring in one piece without a hole). Households, buildings and the parent
    grid are unchanged; where no such lane exists the ring is left as it is.

    Parameters
    ----------
    geoms
        Small-grid polygons (metric CRS), which tile their parents.
    parent_of
        The parent of each small grid (an index into ``parents``).
    parents
        Parent grid polygons.
    footprints
        Building footprints (polygons or points) that must stay whole in their small grid.
    fixed
        Lines no lane may reach (the community's edge, which the grids of the next community share:
        a lane ending there would put vertices on it that they lack).

    Returns
    -------
    (ndarray, list)
        The small-grid polygons (a copy; only rings opened and the siblings given a lane differ) and the
        lanes cut, one per hole opened: :func:`node_lanes` puts their corners on the polygons they touch.
    """
    geoms = np.asarray(geoms, dtype=object).copy()
    parent_of = np.asarray(parent_of, dtype=np.int64)
    fp = np.asarray(footprints, dtype=object)
    fp = fp[~(shapely.is_missing(fp) | shapely.is_empty(fp))] if len(fp) else fp
    tree = shapely.STRtree(fp)
    lanes: list[shapely.Geometry] = []
    for q in range(len(geoms)):
        parent = parents[parent_of[q]]
        holes = foreign_holes(geoms[q], parent)
        if not holes:
            continue
        siblings = np.flatnonzero(parent_of == parent_of[q])
        for hole in holes:
            # to the ring's outer edge: the parent's edge, or a sibling outside the ring
            outer = shapely.union_all([shapely.get_exterior_ring(p) for p in shapely.get_parts(geoms[q])])
            inside = [int(s) for s in siblings if s != q and shapely.within(shapely.point_on_surface(geoms[s]), hole)]
            if not inside:
                continue
            near = fp[tree.query(geoms[q], predicate="intersects")]
            for w in (2 * width, width):  # a street's width where there is room, else a footpath's
                done = _give_lane(geoms, q, inside, hole, outer, near, parent, w, clearance, fixed=fixed)
                if done is not None:
                    break
            if done is None:
                continue
            s, ring, given, lane = done[:4]
            geoms[q], geoms[s] = ring, given
            lanes.append(lane)
    return geoms, lanes


def _give_lane(geoms: np.ndarray, q: int, inside: list[int], hole: shapely.Geometry, outer: shapely.Geometry,
               near: np.ndarray, parent: shapely.Geometry, width: float, clearance: float,
               accept: Callable[[shapely.Geometry, int], Any] | None = None,
               fixed: shapely.Geometry | None = None, to_outer: bool = False,
               seams: list[shapely.Geometry] | None = None, site: shapely.Geometry | None = None,
               tally: Counter | None = None) -> tuple | None:
    """(sibling, ring less the lane, sibling with it, lane, what ``accept`` said) for the shortest lane
    ``width`` wide that opens ``hole`` of part ``q`` and that ``accept(lane, sibling)`` does not refuse
    (None), or None. The lane goes to the part of ``inside`` nearest where it starts (in the hole) or, with
    ``to_outer``, to the one along most of its far end (a neighbour outside the ring). ``site``: land in the hole
    held by no part (a dedicated grid's site, 专属网格), which takes the lane instead (its way out to the street):
    the lane must start on the site's edge (half its width at least along it), and the sibling is returned
    unchanged. ``tally``: counts of the lanes tried and why each was refused (:func:`no_lane_why`)."""
    tally = Counter() if tally is None else tally
    for lane in _lanes(geoms[q], hole, outer, near, width, clearance, fixed=fixed, seams=seams, tally=tally):
        ring = shapely.difference(geoms[q], lane)
        if to_outer:
            end = shapely.buffer(lane, 1e-3)
            s = max(inside, key=lambda i: (float(shapely.area(shapely.intersection(geoms[i], end))), -i))
        else:
            start = shapely.intersection(shapely.buffer(lane, 1e-6), hole)
            s = min(inside, key=lambda i: shapely.distance(geoms[i], start))
        if site is None:
            given, taken = shapely.union(geoms[s], lane), 0.0
        elif shapely.length(shapely.intersection(shapely.boundary(site), shapely.buffer(lane, RIM_TOL))) < width / 2:
            tally["not_site"] += 1
            continue  # a lane from land in the hole that is not the site's
        else:
            given, taken = geoms[s], float(shapely.area(lane))
        if not (shapely.get_num_geometries(ring) == 1 and shapely.get_num_geometries(given) == 1
                and len(foreign_holes(ring, parent)) < len(foreign_holes(geoms[q], parent))
                and abs(shapely.area(ring) + shapely.area(given) + taken - shapely.area(geoms[q])
                        - shapely.area(geoms[s])) <= 1e-6 * shapely.area(parent)):
            tally["split"] += 1
            continue
        said = True if accept is None else accept(lane, s)
        if said is not None:
            return s, ring, given, lane, said
        tally["small"] += 1
    return None


def cut_grid_lanes(grid_geoms: np.ndarray, container: shapely.Geometry, small_geoms: np.ndarray,
                   small_grid: np.ndarray, footprints: np.ndarray, *, fixed: shapely.Geometry | None = None,
                   width: float = LANE_M, clearance: float = LANE_CLEARANCE_M,
                   open_to: shapely.Geometry | None = None,
                   to_rim: bool = False) -> tuple[np.ndarray, np.ndarray, list[shapely.Geometry]]:
    """Grids and small grids with a lane cut across any grid still wrapped round another (as
    :func:`cut_lanes` does for small grids): see :func:`_cut_grid_lanes`. Returns copies of both and the lanes cut.
    """
    g, s, _, lanes, _, _ = _cut_grid_lanes(grid_geoms, container, small_geoms, small_grid, footprints, fixed=fixed,
                                           width=width, clearance=clearance, open_to=open_to, to_rim=to_rim)
    return g, s, lanes


def _cut_grid_lanes(grid_geoms: np.ndarray, container: shapely.Geometry, small_geoms: np.ndarray,
                    small_grid: np.ndarray, footprints: np.ndarray, *, fixed: shapely.Geometry | None = None,
                    width: float = LANE_M, clearance: float = LANE_CLEARANCE_M,
                    open_to: shapely.Geometry | None = None, to_rim: bool = False,
                    residents: Residents | None = None, sites: shapely.Geometry | None = None,
                    site_grids: np.ndarray | None = None) -> tuple:
    """Grids and small grids with a lane cut across any grid still wrapped round another (as
    :func:`cut_lanes` does for small grids): the lane leaves the ring's small grids it crosses and joins the
    small grid of the grid in the hole where it starts; every small grid stays in one piece, without a hole
    of its own. No lane reaches ``fixed`` (by default the container's edge). Returns copies of both and the
    lanes cut.

    ``open_to``: land of the container held by no grid given (in a re-division, 动态调整, the kept grids a freed
    region surrounds) whose holes may be opened too: no grid of the layer lies in such a hole and its edge is
    no one's to move, so the lane runs from it to a neighbouring grid outside the ring, which takes it. A
    hole mostly outside ``open_to`` (a dedicated grid's site, 专属网格) is left to :func:`cut_site_lanes`.

    ``sites``: the part of ``open_to`` carved out for dedicated grids (专属网格). A lane from such a site through
    the ring to a neighbouring grid is the site's way out to the street: the **site** takes it (the neighbour keeps
    its shape), wherever the lane starts on the site's edge and the dedicated grid keeps its shape
    (:func:`site_keeps_shape`: Polsby–Popper at least :data:`~.shapes.COMPACTNESS_FLOOR` with the lane, or the
    lower Polsby–Popper of the two grids the lane touches higher with the site holding it than with the
    neighbour); else the neighbour takes a lane, as from other ``open_to`` land (a re-division's kept grids), and
    where no lane to the neighbour opens the ring, the site takes the first lane it refused for its shape.
    ``site_grids``: the dedicated grids' polygons (default: the parts of ``sites``), each lane measured with the
    one it joins (:func:`site_of_lane`).

    ``to_rim``: where no lane to the ring's outer edge elsewhere opens a ring round another grid, a lane to the
    container's own edge (the community's) is tried as the last resort (a tower's grid near the community's
    edge, with buildings of the ring all round it elsewhere). The grids of the next community lack the lane's
    corners on that edge: a T-junction, which no check of a plan asks of two communities.

    ``residents``: a small grid of the ring that the lane crosses from side to side with buildings on both sides
    is redrawn (:func:`_redraw_pieces`) instead of refusing the lane. Returns (grids, small grids, the grid of
    each small grid, lanes, the lanes of them the sites take (:func:`gridgeo.dedicated.merge_result` joins each to
    the dedicated grid it starts from), ``residents`` with the small grid of each cell after the redrawing)."""
    grid_geoms, small_geoms, small_grid, fp, tree = _lane_inputs(grid_geoms, small_geoms, small_grid, footprints)
    lanes: list[shapely.Geometry] = []
    to_sites: list[shapely.Geometry] = []
    edge = shapely.boundary(container) if fixed is None else fixed
    if sites is not None:
        site_grids = (np.asarray(shapely.get_parts(sites), dtype=object) if site_grids is None
                      else np.asarray(site_grids, dtype=object).copy())
    for p in range(len(grid_geoms)):
        holes = foreign_holes(grid_geoms[p], container)
        for hole in holes:
            inside = [r for r in range(len(grid_geoms)) if r != p and not shapely.is_empty(grid_geoms[r])
                      and shapely.within(shapely.point_on_surface(grid_geoms[r]), hole)]
            outer = shapely.union_all([shapely.get_exterior_ring(g) for g in shapely.get_parts(grid_geoms[p])])
            hole_edge, to_outer, site_land = edge, False, None
            tally: Counter = Counter()
            if not inside:
                site = _site_opening(grid_geoms, p, hole, holes, outer, open_to, edge)
                if site is None:
                    if residents is not None and sites is not None and shapely.area(
                            shapely.intersection(hole, sites)) > HOLE_LAND_M2:
                        residents = _no_lane(residents, p, Counter(no_neighbour=1))
                    continue
                inside, outer, hole_edge = site
                to_outer = True
                if sites is not None:  # the dedicated grids' land in the hole, which takes the lane where it can
                    site_land = shapely.intersection(hole, sites)
                    site_land = None if shapely.area(site_land) <= HOLE_LAND_M2 else site_land
            near = fp[tree.query(grid_geoms[p], predicate="intersects")]
            drafts: list[_Redraw | None] = []  # each lane's, to tell a lane refused for its small grids

            def accept(lane: shapely.Geometry, s: int, p: int = p, hole: shapely.Geometry = hole,
                       to_outer: bool = to_outer, near: np.ndarray = near, hand: bool = to_outer,
                       small_geoms: np.ndarray = small_geoms, small_grid: np.ndarray = small_grid,
                       residents: Residents | None = residents,
                       drafts: list[_Redraw | None] = drafts, site_takes: bool = False) -> tuple | None:
                mine = np.flatnonzero(small_grid == p)
                redraw = None if residents is None else _Redraw(residents, len(small_geoms))
                drafts.append(redraw)
                changed = _small_grids_less(lane, mine, small_geoms, container, near, hand=hand or redraw is not None,
                                            redraw=redraw)
                if changed is None or site_takes:  # the neighbour's small grids are not touched
                    return changed if changed is None else (changed, redraw)
                theirs = np.flatnonzero(small_grid == s)
                if to_outer:  # the small grid of the neighbour along most of the lane's far end
                    k = int(theirs[np.argmax(shapely.area(shapely.intersection(small_geoms[theirs],
                                                                                shapely.buffer(lane, 1e-3))))])
                else:
                    start = shapely.intersection(shapely.buffer(lane, 1e-6), hole)
                    k = int(theirs[np.argmin(shapely.distance(small_geoms[theirs], start))])
                given = shapely.union(small_geoms[k], lane)
                if shapely.get_num_geometries(given) != 1:
                    return None
                changed[k] = given
                return changed, redraw

            seams = _seams(small_geoms, np.flatnonzero(small_grid == p), hole,
                           shapely.intersection(outer, shapely.buffer(grid_geoms[p], 1e-6)))
            done, taken = None, False
            misshapen: list[tuple] = []  # lanes the site would take but for its shape, in the order tried
            if site_land is not None:
                def site_accept(lane: shapely.Geometry, s: int, p: int = p, accept: Callable = accept,
                                misshapen: list[tuple] = misshapen) -> tuple | None:
                    said = accept(lane, s, site_takes=True)
                    if said is None:
                        return None
                    d = site_of_lane(site_grids, lane)
                    if not site_keeps_shape(site_grids[d], lane, grid_geoms[s]):
                        misshapen.append((s, shapely.difference(grid_geoms[p], lane), grid_geoms[s], lane, said))
                        return None
                    return said

                for w in (2 * width, width):
                    done = _give_lane(grid_geoms, p, inside, hole, outer, near, container, w, clearance,
                                      site_accept, fixed=hole_edge, to_outer=to_outer, seams=seams, site=site_land,
                                      tally=tally)
                    if done is not None:
                        taken = True
                        break
            for w in (2 * width, width) if done is None else ():
                done = _give_lane(grid_geoms, p, inside, hole, outer, near, container, w, clearance, accept,
                                  fixed=hole_edge, to_outer=to_outer, seams=seams, tally=tally)
                if done is not None:
                    break
            if done is None and misshapen:  # no lane to the neighbour: the site's way out, whatever its shape
                done, taken = misshapen[0], True
            if done is None and to_rim and not to_outer:
                stop = shapely.difference(hole_edge, shapely.buffer(shapely.boundary(container), RIM_TOL))
                for w in (2 * width, width):
                    done = _give_lane(grid_geoms, p, inside, hole, outer, near, container, w, clearance,
                                      functools.partial(accept, hand=True),
                                      fixed=None if shapely.is_empty(stop) else stop, seams=seams)
                    if done is not None:
                        break
            if done is None:
                residents = _refused(residents, p, drafts)
                if site_land is not None:
                    residents = _no_lane(residents, p, tally)
                continue
            s, ring, given, lane, (changed, redraw) = done
            grid_geoms[p], grid_geoms[s] = ring, given
            small_geoms, small_grid, residents = _applied(small_geoms, small_grid, changed, redraw, p, residents)
            lanes.append(lane)
            if taken:
                to_sites.append(lane)
                d = site_of_lane(site_grids, lane)
                site_grids[d] = shapely.union(site_grids[d], lane)
    return grid_geoms, small_geoms, small_grid, lanes, to_sites, residents


def site_of_lane(site_grids: np.ndarray, lane: shapely.Geometry) -> int:
    """The dedicated grid (专属网格, an index into ``site_grids``) that takes ``lane``: the one sharing the longest
    edge with it, then the nearest, then the first (as :func:`gridgeo.dedicated.merge_result` joins it)."""
    shared = shapely.length(shapely.intersection(shapely.boundary(site_grids), shapely.boundary(lane)))
    near = shapely.distance(site_grids, lane)
    return int(np.lexsort((np.arange(len(site_grids)), near, -shared))[0])


def site_keeps_shape(site: shapely.Geometry, lane: shapely.Geometry, neighbour: shapely.Geometry) -> bool:
    """Whether a dedicated grid (专属网格) ``site`` takes ``lane``, its way out through the ring round it to the
    ``neighbour`` grid, rather than that neighbour: where the site's Polsby–Popper with the lane stays at
    :data:`~.shapes.COMPACTNESS_FLOOR` or more, or where the lower Polsby–Popper of the two grids is higher with
    the site holding the lane than with the neighbour holding it (ties to the neighbour).

    >>> from shapely import box
    >>> site, neighbour = box(0, 0, 60, 60), box(200, 0, 400, 200)
    >>> site_keeps_shape(site, box(60, 26, 100, 34), neighbour)  # 0.48 with a lane of 40 × 8 m
    True
    >>> site_keeps_shape(box(0, 0, 24, 24), box(24, 8, 112, 16), neighbour)  # 0.23: the neighbour takes it
    False
    """
    from .shapes import COMPACTNESS_FLOOR, polsby_popper

    pp = polsby_popper(np.array([shapely.union(site, lane), site, neighbour, shapely.union(neighbour, lane)],
                                dtype=object))
    return bool(pp[0] >= COMPACTNESS_FLOOR or min(pp[0], pp[2]) > min(pp[1], pp[3]))


def cut_site_lanes(grid_geoms: np.ndarray, container: shapely.Geometry, small_geoms: np.ndarray,
                   small_grid: np.ndarray, footprints: np.ndarray, *, sites: shapely.Geometry,
                   fixed: shapely.Geometry | None = None, width: float = LANE_M,
                   clearance: float = LANE_CLEARANCE_M) -> tuple[np.ndarray, np.ndarray, list[shapely.Geometry]]:
    """Grids and small grids less a lane from each dedicated grid's site (专属网格) a grid is still wrapped round
    to the community's edge, which the site takes: see :func:`_cut_site_lanes`. Returns copies of both levels and
    the lanes cut."""
    g, s, _, lanes, _ = _cut_site_lanes(grid_geoms, container, small_geoms, small_grid, footprints, sites=sites,
                                        fixed=fixed, width=width, clearance=clearance)
    return g, s, lanes


def _cut_site_lanes(grid_geoms: np.ndarray, container: shapely.Geometry, small_geoms: np.ndarray,
                    small_grid: np.ndarray, footprints: np.ndarray, *, sites: shapely.Geometry,
                    fixed: shapely.Geometry | None = None, width: float = LANE_M,
                    clearance: float = LANE_CLEARANCE_M, residents: Residents | None = None) -> tuple:
    """Grids and small grids less a lane from each dedicated grid's site (专属网格) a grid is still wrapped round
    to the community's edge: the site takes the lane (its way out to the street along that edge).

    ``sites``: land of ``container`` (the whole community) that the grids given do not tile, carved out for
    dedicated grids first. A grid wrapped round such a site that no lane to a neighbouring grid opened
    (:func:`cut_grid_lanes`, where the ring has no neighbour or every lane to one would cut a small grid of the
    ring in two) gets a straight lane ``2 × width`` metres wide (else ``width``), or one along an edge between
    two of its small grids, from the site to the part of its outer edge on ``container``'s edge, at least
    ``clearance`` metres from every footprint and not reaching ``fixed`` elsewhere (but along another site). The
    ring and the small grids it crosses give the lane up, each staying one piece without a new hole (a piece
    without footprints cut off goes to a sibling beside it); no building moves or is cut and households are
    unchanged. ``residents``: a small grid the lane crosses from side to side with buildings on both sides is
    redrawn (:func:`_redraw_pieces`). Returns (grids, small grids, the grid of each small grid, the lanes cut,
    each for the dedicated grid it starts from (:func:`gridgeo.dedicated.merge_result` joins it to that grid),
    ``residents`` after the redrawing)."""
    grid_geoms, small_geoms, small_grid, fp, tree = _lane_inputs(grid_geoms, small_geoms, small_grid, footprints)
    rim = shapely.boundary(container)
    site_edges = shapely.boundary(sites)
    lanes: list[shapely.Geometry] = []
    for p in range(len(grid_geoms)):
        holes = foreign_holes(grid_geoms[p], container)
        for hole in holes:
            site = shapely.intersection(hole, sites)
            if shapely.area(site) <= HOLE_LAND_M2:
                continue
            outer = shapely.union_all([shapely.get_exterior_ring(g) for g in shapely.get_parts(grid_geoms[p])])
            reach = shapely.intersection(outer, shapely.buffer(rim, RIM_TOL))
            if shapely.is_empty(reach):
                residents = _no_lane(residents, p, Counter(no_edge=1))
                continue
            # a hole holding grids beside the site (a tower's grid): lanes from the site's edge alone
            held = any(r != p and not shapely.is_empty(grid_geoms[r])
                       and shapely.within(shapely.point_on_surface(grid_geoms[r]), hole) for r in range(len(grid_geoms)))
            start = hole
            if held:
                parts = shapely.get_parts(site)
                start = shapely.Polygon(shapely.get_exterior_ring(parts[int(np.argmax(shapely.area(parts)))]))
            # a lane may run along another site (the dedicated grids and the grids round them are noded together
            # afterwards, gridgeo.dedicated.fit_dedicated), never along the edge of land kept by others
            stop = None if fixed is None else shapely.difference(
                fixed, shapely.buffer(shapely.union_all([rim, shapely.get_exterior_ring(start), site_edges]), RIM_TOL))
            stop = None if stop is None or shapely.is_empty(stop) else stop
            near = fp[tree.query(grid_geoms[p], predicate="intersects")]
            mine = np.flatnonzero(small_grid == p)
            seams = _seams(small_geoms, mine, start, reach)
            done = None
            drafts: list[_Redraw | None] = []
            tally: Counter = Counter()
            def opened(lane: shapely.Geometry, key: str = "", p: int = p, site: shapely.Geometry = site,
                       mine: np.ndarray = mine, near: np.ndarray = near, drafts: list = drafts,
                       tally: Counter = tally, small_geoms: np.ndarray = small_geoms,
                       residents: Residents | None = residents) -> tuple | None:
                """The ring less ``lane`` with its small grids, where the lane opens the site; else None, the
                reason counted in ``tally`` (``key`` before it: ``bent_`` for a lane with bends)."""
                if not shapely.area(shapely.intersection(shapely.buffer(lane, RIM_TOL), site)) > 0:
                    tally[key + "not_site"] += 1
                    return None  # a lane from a grid in the hole beside the site (cut_grid_lanes' to give)
                ring = shapely.difference(grid_geoms[p], lane)
                # the site opened (not merely joined to another hole of the ring, a sliver of the outline)
                if not (shapely.get_num_geometries(ring) == 1 and not any(
                        shapely.area(shapely.intersection(h, site)) > HOLE_LAND_M2
                        for h in foreign_holes(ring, container))):
                    tally[key + "split"] += 1
                    return None
                redraw = None if residents is None else _Redraw(residents, len(small_geoms))
                drafts.append(redraw)
                changed = _small_grids_less(lane, mine, small_geoms, container, near, redraw=redraw)
                if changed is None:
                    tally[key + "small"] += 1
                    return None
                return ring, lane, changed, redraw

            for w in (2 * width, width):
                for lane in _lanes(grid_geoms[p], start, reach, near, w, clearance, fixed=stop, seams=seams,
                                   tally=tally):
                    done = opened(lane)
                    if done is not None:
                        break
                if done is not None:
                    break
            # no straight lane: the shortest lane with bends between the footprints, down to a footpath's width
            tally["bent_tried"] += done is None
            for w in (2 * width, width, width / 2) if done is None else ():
                lane = _bent_lane(grid_geoms[p], start, reach, near, w, clearance, fixed=stop)
                if lane is not None:
                    tally["bent"] += 1
                    done = opened(lane, "bent_")
                    if done is not None:
                        break
            if done is None:
                residents = _no_lane(_refused(residents, p, drafts), p, tally)
                continue
            grid_geoms[p] = done[0]
            small_geoms, small_grid, residents = _applied(small_geoms, small_grid, done[2], done[3], p, residents)
            lanes.append(done[1])
    return grid_geoms, small_geoms, small_grid, lanes, residents


def _lane_inputs(grid_geoms: np.ndarray, small_geoms: np.ndarray, small_grid: np.ndarray,
                 footprints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, shapely.STRtree]:
    """Copies of the grids, small grids and the grid of each small grid that lanes are cut from, the footprints
    given (missing and empty ones left out) and their tree."""
    fp = np.asarray(footprints, dtype=object)
    fp = fp[~(shapely.is_missing(fp) | shapely.is_empty(fp))] if len(fp) else fp
    return (np.asarray(grid_geoms, dtype=object).copy(), np.asarray(small_geoms, dtype=object).copy(),
            np.asarray(small_grid, dtype=np.int64).copy(), fp, shapely.STRtree(fp))


def _small_grids_less(lane: shapely.Geometry, mine: np.ndarray, small_geoms: np.ndarray,
                      container: shapely.Geometry, footprints: np.ndarray, *, hand: bool = True,
                      redraw: _Redraw | None = None) -> dict[int, Any] | None:
    """The small grids of ``mine`` that ``lane`` crosses, less it: {small grid: its new polygon}, a piece
    without footprints it cuts off handed to a sibling (:func:`_pieces_handed_over`; not with ``hand`` false);
    None where one would be left in pieces holding footprints, empty, or with a new hole. With ``redraw``, a
    small grid cut into pieces holding buildings is redrawn (:func:`_redraw_pieces`): the lane is kept only where
    the small grids of the ring are then no fewer within their bounds."""
    changed: dict[int, Any] = {}
    crossed = mine[shapely.area(shapely.intersection(small_geoms[mine], lane)) > 0]
    for k in crossed:
        left = shapely.difference(changed.get(int(k), small_geoms[k]), lane)
        if hand and shapely.get_num_geometries(left) > 1:
            trial = dict(changed)
            got = _pieces_handed_over(left, int(k), mine, small_geoms, trial, footprints)
            if got is None and redraw is not None:
                trial = dict(changed)
                got = _redraw_pieces(left, int(k), mine, small_geoms, trial, redraw)
            if got is None:
                return None
            changed.clear()
            changed.update(trial)
            left = got
        if (shapely.is_empty(left) or shapely.get_num_geometries(left) != 1
                or len(foreign_holes(left, container)) > len(foreign_holes(small_geoms[k], container))):
            return None
        changed[int(k)] = left
    if redraw is not None and redraw.worse(mine):
        return None
    return changed


def _pieces_handed_over(left: shapely.Geometry, k: int, mine: np.ndarray, small_geoms: np.ndarray,
                        changed: dict[int, Any], footprints: np.ndarray) -> shapely.Geometry | None:
    """Small grid ``k`` of a ring cut into pieces by a lane (``left``): the piece holding its footprints kept,
    each other piece (no footprint in it) given to the sibling among ``mine`` sharing the longest edge with it
    (``changed`` updated in place); None where more than one piece holds footprints or a piece has no such
    sibling."""
    pieces = list(shapely.get_parts(left))
    held = [bool(len(footprints)) and bool(shapely.intersects(footprints, q).any()) for q in pieces]
    if sum(held) > 1:
        return None
    own = held.index(True) if any(held) else int(np.argmax(shapely.area(pieces)))
    for i, q in enumerate(pieces):
        if i == own:
            continue
        sibs = [int(j) for j in mine if int(j) != k]
        geoms = np.array([changed.get(j, small_geoms[j]) for j in sibs], dtype=object)
        edge = shapely.length(shapely.intersection(shapely.boundary(geoms), shapely.boundary(q))) if sibs else []
        if not len(sibs) or float(np.max(edge)) <= 0:
            return None
        j = int(np.argmax(edge))
        joined = shapely.union(geoms[j], q)
        if shapely.get_num_geometries(joined) != 1:
            return None
        changed[sibs[j]] = joined
    return pieces[own]


@dataclasses.dataclass(frozen=True)
class Residents:
    """Who lives in a community's small grids (小网格), for redrawing a small grid that a lane cuts into pieces
    holding buildings (:func:`cut_lanes_redrawing`).

    Attributes
    ----------
    cells
        Cell polygons (metric CRS).
    households
        Households of each cell.
    small_of_cell
        Small grid of each cell (an index into the small grids).
    footprints
        Building footprints (polygons or points).
    cell_of
        Cell of each footprint: the building's small grid is its cell's.
    bounds
        Household bounds of a small grid (100–150).
    kept_wrapped
        Grids left wrapped round another grid or a site because each lane that opened them cut a small grid in
        pieces holding buildings and, redrawn round it, the small grids would be fewer within ``bounds`` (what
        :func:`cut_lanes_redrawing` found; the finding says so).
    no_lane
        Grids left wrapped round a dedicated grid's site (专属网格): the lanes from it :func:`cut_lanes_redrawing`
        tried, and why each was refused (a tally, :func:`no_lane_why` puts it in words for the finding).
    """

    cells: np.ndarray
    households: np.ndarray
    small_of_cell: np.ndarray
    footprints: np.ndarray
    cell_of: np.ndarray
    bounds: Bounds
    kept_wrapped: frozenset[int] = frozenset()
    no_lane: dict[int, Counter] = dataclasses.field(default_factory=dict)


class _Redraw:
    """The small grids of one lane's draft: the small grid of each cell, and the small grids drawn anew (numbered
    from ``n_small`` on)."""

    def __init__(self, residents: Residents, n_small: int) -> None:
        self.residents = residents
        self.label = np.asarray(residents.small_of_cell, dtype=np.int64).copy()
        self.n_small = n_small
        self.new: list[int] = []
        self.refused = False  # a lane refused: its small grids redrawn would be fewer within the bounds

    def households(self, label: np.ndarray | None = None) -> np.ndarray:
        label = self.label if label is None else label
        return np.bincount(label, weights=self.residents.households, minlength=self.n_small + len(self.new) + 1)

    def in_range(self, groups: list[int], label: np.ndarray | None = None) -> tuple[int, float]:
        """(small grids of ``groups`` within the bounds, households they miss by in all)."""
        h = self.households(label)
        miss = [self.residents.bounds.violation(float(h[q])) for q in groups]
        return sum(m == 0 for m in miss), -round(float(sum(miss)), 6)

    def worse(self, mine: np.ndarray) -> bool:
        """Whether the small grids of ``mine`` (and those drawn anew) are fewer within their bounds than before."""
        groups = [int(q) for q in mine] + self.new
        self.refused = self.in_range(groups)[0] < self.in_range(groups, self.residents.small_of_cell)[0]
        return self.refused


def _redraw_pieces(left: shapely.Geometry, k: int, mine: np.ndarray, small_geoms: np.ndarray,
                   changed: dict[int, Any], redraw: _Redraw) -> shapely.Geometry | None:
    """Small grid ``k`` of a ring cut by a lane into pieces (``left``) holding buildings on more than one side:
    one piece holding buildings stays ``k``, each other one goes to a sibling of ``mine`` it touches (one piece per
    sibling, which stays in one piece) or becomes a small grid of its own, whichever leaves the most small grids
    of ``mine`` within their bounds, then the fewest households out of them (ties: the lowest choice); a piece
    without buildings joins the small grid it shares the longest edge with. The cells go with the piece holding
    their buildings (a cell without one, with the piece holding most of it), so the buildings' small grids follow.
    ``changed`` and ``redraw`` are updated in place; returns the piece ``k`` keeps, or None (a cell with buildings
    on two sides, a piece with no small grid to join) leaving both as they were."""
    res = redraw.residents
    pieces = np.asarray(shapely.get_parts(left), dtype=object)
    cells = np.flatnonzero(redraw.label == k)
    piece_of = np.full(len(cells), -1, dtype=np.int64)
    fp_cells = np.isin(res.cell_of, cells)
    for c_i, c in enumerate(cells):
        fps = res.footprints[fp_cells & (res.cell_of == c)]
        fps = fps[~(shapely.is_missing(fps) | shapely.is_empty(fps))]
        if len(fps):
            hit = shapely.intersects(fps[:, None], pieces[None, :])
            sides = np.flatnonzero(hit.any(axis=0))
            if len(sides) != 1 or not hit.any(axis=1).all():
                return None  # a cell with buildings on two sides of the lane, or a building in it
            piece_of[c_i] = sides[0]
        else:
            share = shapely.area(shapely.intersection(res.cells[c], pieces))
            piece_of[c_i] = int(np.argmax(share)) if float(np.max(share)) > 0 else -1
    held = sorted({int(i) for i, c in zip(piece_of, cells, strict=True)
                   if i >= 0 and np.any(fp_cells & (res.cell_of == c))})
    if len(held) < 2:
        return None
    sibs = [int(j) for j in mine if int(j) != k]

    def geom(j: int) -> shapely.Geometry:
        return changed.get(j, small_geoms[j] if j < len(small_geoms) else None)

    touching = {i: [j for j in sibs if shapely.length(shapely.intersection(
        shapely.boundary(geom(j)), shapely.boundary(pieces[i]))) > 0
        and shapely.get_num_geometries(shapely.union(geom(j), pieces[i])) == 1] for i in held}
    groups = [int(q) for q in mine]
    best = None
    for keep in held:
        rest = [i for i in held if i != keep]
        for choice in itertools.product(*[[*touching[i], -1] for i in rest]):
            taken = [j for j in choice if j >= 0]
            if len(taken) != len(set(taken)):
                continue
            label = redraw.label.copy()
            extra = []
            for i, j in zip(rest, choice, strict=True):
                if j < 0:
                    j = redraw.n_small + len(redraw.new) + len(extra)
                    extra.append(j)
                label[cells[piece_of == i]] = j
            score = redraw.in_range(groups + redraw.new + extra, label)
            if best is None or score > best[0]:
                best = (score, keep, rest, choice)
    _, keep, rest, choice = best
    out: dict[int, Any] = {}
    label = redraw.label.copy()
    new: list[int] = []
    own = pieces[keep]
    for i, j in zip(rest, choice, strict=True):
        if j < 0:
            j = redraw.n_small + len(redraw.new) + len(new)
            new.append(j)
            out[j] = pieces[i]
        else:
            out[j] = shapely.union(geom(j), pieces[i])
        label[cells[piece_of == i]] = j
    # pieces without buildings: to the small grid (k's piece, a sibling, a new one) sharing the longest edge
    for i in range(len(pieces)):
        if i in held:
            continue
        targets = [(k, own), *[(j, out.get(j, geom(j))) for j in [*sibs, *new]]]
        edge = [float(shapely.length(shapely.intersection(shapely.boundary(g), shapely.boundary(pieces[i]))))
                for _, g in targets]
        t = int(np.argmax(edge))
        if edge[t] <= 0:
            return None
        joined = shapely.union(targets[t][1], pieces[i])
        if shapely.get_num_geometries(joined) != 1:
            return None
        if targets[t][0] == k:
            own = joined
        else:
            out[targets[t][0]] = joined
        label[cells[piece_of == i]] = targets[t][0]
    changed.update(out)
    redraw.label = label
    redraw.new += new
    return own


def _refused(residents: Residents | None, p: int, drafts: list[_Redraw | None]) -> Residents | None:
    """``residents`` with grid ``p`` among those kept wrapped where a lane was refused for its small grids."""
    if residents is None or not any(d is not None and d.refused for d in drafts):
        return residents
    return dataclasses.replace(residents, kept_wrapped=residents.kept_wrapped | {p})


def _no_lane(residents: Residents | None, p: int, tally: Counter) -> Residents | None:
    """``residents`` with ``tally`` (the lanes tried from a dedicated grid's site through grid ``p`` round it, and
    why each was refused) added to what it keeps of ``p`` (:attr:`Residents.no_lane`)."""
    if residents is None:
        return None
    no_lane = dict(residents.no_lane)
    no_lane[p] = no_lane.get(p, Counter()) + tally + Counter(holes=1)
    return dataclasses.replace(residents, no_lane=no_lane)


def no_lane_why(tally: Counter) -> str:
    """Why no lane between the buildings opened a ring round a dedicated grid's site (专属网格), in words, from the
    ``tally`` of :func:`cut_lanes_redrawing` (:attr:`Residents.no_lane`): the straight lanes tried (``straight``),
    those :data:`LANE_CLEARANCE_M` clear of every footprint (``clear``), and of the clear ones tried in turn, those
    ending on land that is not the target's (``fixed``), leaving the ring in pieces or the site enclosed
    (``split``), cutting a small grid into pieces holding buildings (``small``) or starting beside the site
    (``not_site``); a ring with no neighbouring grid (``no_neighbour``) or not reaching the community's edge
    (``no_edge``); where the shortest lane with bends was sought (``bent_tried``, :func:`_bent_lane`), those
    found (``bent``) and why each was refused (``bent_split``, ``bent_small``, ``bent_not_site``).

    >>> no_lane_why(Counter(straight=2176, clear=0)).endswith("clear of every footprint: each would cut a building")
    True
    >>> no_lane_why(Counter(straight=900, clear=40, split=24, small=16, no_edge=1)).split("; ")[0]
    "the grid round it does not reach the community's edge"
    """
    said = []
    if tally["no_neighbour"]:
        said.append("no other grid borders the grid round it")
    if tally["no_edge"]:
        said.append("the grid round it does not reach the community's edge")
    where = ("to a neighbouring grid or to the community's edge" if not (tally["no_neighbour"] or tally["no_edge"])
             else "to the community's edge" if tally["no_neighbour"] else "to a neighbouring grid")
    tried = f"{tally['straight']:,} straight lanes {2 * LANE_M:g} or {LANE_M:g} m wide tried from the site"
    if tally["straight"] and not tally["clear"]:
        said.append(f"none of the {tried}, {where}, passes {LANE_CLEARANCE_M:g} m clear of every footprint: each "
                    "would cut a building")
    elif tally["clear"]:
        why = [f"{tally[k]:,} {text}" for k, text in (
            ("fixed", "would reach the community's edge or land not divided here"),
            ("split", "would leave the grid round it in pieces or the site still enclosed"),
            ("small", "would cut one of its small grids (小网格) into pieces holding buildings"),
            ("not_site", "would start beside the site, not on its edge")) if tally[k]]
        said.append(f"of the {tried} {where}, {tally['clear']:,} pass {LANE_CLEARANCE_M:g} m clear of every footprint"
                    + (", and of those tried, " + ", ".join(why) if why else ""))
    if tally["bent_tried"]:
        if not tally["bent"]:
            said.append(f"and no lane with bends between the buildings, even {LANE_M / 2:g} m wide, passes "
                        f"{LANE_CLEARANCE_M:g} m clear of every footprint")
        else:
            why = [text for k, text in (
                ("bent_split", "leave the grid round it in pieces or the site still enclosed"),
                ("bent_small", "cut one of its small grids (小网格) into pieces holding buildings"),
                ("bent_not_site", "start beside the site, not on its edge")) if tally[k]]
            said.append(f"the shortest lanes with bends between the buildings ({2 * LANE_M:g}, {LANE_M:g} or "
                        f"{LANE_M / 2:g} m wide, {LANE_CLEARANCE_M:g} m clear of every footprint) would "
                        + " or ".join(why))
    return "; ".join(said)


def _applied(small_geoms: np.ndarray, small_grid: np.ndarray, changed: dict[int, Any], redraw: _Redraw | None,
             p: int, residents: Residents | None) -> tuple[np.ndarray, np.ndarray, Residents | None]:
    """Small grids, the grid of each and ``residents`` with a lane's ``changed`` polygons (small grids drawn anew,
    of grid ``p``, appended) and ``redraw``'s cells."""
    n = len(small_geoms) + (len(redraw.new) if redraw is not None else 0)
    geoms = np.empty(n, dtype=object)
    geoms[:len(small_geoms)] = small_geoms
    grid = np.r_[small_grid, np.full(n - len(small_grid), p, dtype=np.int64)]
    for k, geom in changed.items():
        geoms[k] = geom
    if redraw is not None and residents is not None:
        residents = dataclasses.replace(residents, small_of_cell=redraw.label)
    return geoms, grid, residents


def cut_lanes_redrawing(grid_geoms: np.ndarray, container: shapely.Geometry, small_geoms: np.ndarray,
                        small_grid: np.ndarray, footprints: np.ndarray, residents: Residents, *,
                        fixed: shapely.Geometry | None = None, open_to: shapely.Geometry | None = None,
                        sites: shapely.Geometry | None = None, site_grids: np.ndarray | None = None) -> tuple:
    """The lanes of :func:`cut_grid_lanes` (``to_rim``) and :func:`cut_site_lanes` (where ``sites`` is given) once
    more, for the grids still wrapped round another grid or a site after them, now redrawing a small grid of the
    ring that a lane crosses from side to side with buildings on both sides (:func:`_redraw_pieces`): the piece on
    each side stays, joins a sibling or becomes a small grid of its own, and the lane is kept only where the small
    grids of the ring are then no fewer within their bounds (else the ring stays wrapped, and is reported).
    No building moves or is cut; the households of every base grid are unchanged.

    Returns
    -------
    tuple
        (grids, small grids, the grid of each small grid, every lane cut, the lanes the sites take, ``residents``
        with the small grid of each cell after the redrawing).
    """
    g, s, grid, lanes, to_sites, residents = _cut_grid_lanes(
        grid_geoms, container, small_geoms, small_grid, footprints, fixed=fixed, open_to=open_to, to_rim=True,
        residents=residents, sites=sites, site_grids=site_grids)
    to_rim: list[shapely.Geometry] = []
    if sites is not None and shapely.area(sites) > 0:
        g, s, grid, to_rim, residents = _cut_site_lanes(g, container, s, grid, footprints, sites=sites, fixed=fixed,
                                                        residents=residents)
    if residents.kept_wrapped:  # those another lane opened after all are not
        residents = dataclasses.replace(residents, kept_wrapped=frozenset(
            p for p in residents.kept_wrapped if foreign_holes(g[p], container)))
    if residents.no_lane:
        residents = dataclasses.replace(residents, no_lane={
            p: t for p, t in residents.no_lane.items() if foreign_holes(g[p], container)})
    return g, s, grid, lanes + to_rim, to_sites + to_rim, residents


def _site_opening(grid_geoms: np.ndarray, p: int, hole: shapely.Geometry, holes: list[shapely.Geometry],
                  outer: shapely.Geometry, open_to: shapely.Geometry | None,
                  edge: shapely.Geometry) -> tuple[list[int], shapely.Geometry, shapely.Geometry] | None:
    """For ``hole`` of grid ``p`` that no grid lies in (see :func:`cut_grid_lanes`, ``open_to``): (the
    neighbours outside every hole of ``p`` that may take a lane, the part of ``p``'s outer edge shared with
    them, ``edge`` less the hole's own edge, where the lane starts); None where the hole is not mostly
    ``open_to`` land or no neighbour shares an edge."""
    if open_to is None or shapely.area(shapely.intersection(hole, open_to)) <= 0.5 * shapely.area(hole):
        return None
    others = [r for r in range(len(grid_geoms)) if r != p and not shapely.is_empty(grid_geoms[r])
              and not any(shapely.within(shapely.point_on_surface(grid_geoms[r]), h) for h in holes)]
    shared = [shapely.intersection(outer, shapely.boundary(grid_geoms[r])) for r in others]
    keep = [i for i, x in enumerate(shared) if shapely.length(x) > 0]
    if not keep:
        return None
    reach = shapely.union_all([shared[i] for i in keep])
    return [others[i] for i in keep], reach, shapely.difference(edge, shapely.buffer(shapely.get_exterior_ring(hole), 1e-3))


def node_lanes(geoms: np.ndarray, lanes: list[shapely.Geometry], *, within: float = NODE_M) -> np.ndarray:
    """``geoms`` (a coverage) with the edges of the polygons beside or holding a lane noded together with
    the lanes' edges: the polygons within :data:`NODE_M` of a lane are rebuilt from the faces of that one
    noded linework, each face going to the polygon holding its interior point. Shared edges are then the
    same vertices on both sides, as a coverage needs (the lanes' corners are computed points, which two
    overlays of the same lane do not always place alike). Areas do not change. ``within``: metres from a lane
    within which a polygon is rebuilt (``np.inf``: every one, from one linework)."""
    geoms = np.asarray(geoms, dtype=object).copy()
    if not lanes or not len(geoms):
        return geoms
    near = np.flatnonzero(shapely.dwithin(geoms, shapely.union_all(lanes), within))
    if not len(near):
        return geoms
    lines = shapely.union_all(np.concatenate([shapely.boundary(geoms[near]), shapely.boundary(np.asarray(lanes))]))
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))), dtype=object)
    inside = inner_points(faces)
    owner = np.full(len(faces), -1, dtype=np.int64)
    f, k = shapely.STRtree(geoms[near]).query(inside, predicate="intersects")
    # a point on an edge between two polygons (a sliver face): the one holding most of the face
    share = shapely.area(shapely.intersection(faces[f], geoms[near][k]))
    order = np.lexsort((-share, f))
    first = np.unique(f[order], return_index=True)[1]
    owner[f[order][first]] = near[k[order][first]]
    before = shapely.get_num_geometries(geoms[near])
    for p in near:
        mine = faces[owner == p]
        if len(mine):
            geoms[p] = shapely.coverage_union_all(mine) if len(mine) > 1 else mine[0]
    # a sliver face apart from the rest of its polygon (its interior point fell in it by floating-point noise:
    # fuzz town 2423, 1e-11 m²) goes to the polygon sharing the longest edge with it
    for p, had in zip(near, before, strict=True):
        parts = shapely.get_parts(geoms[p])
        if len(parts) <= max(int(had), 1):
            continue
        order = np.argsort(-shapely.area(parts), kind="stable")
        kept = [parts[i] for i in order[:max(int(had), 1)]]
        for i in order[max(int(had), 1):]:
            others = [int(q) for q in near if q != p]
            edge = shapely.length(shapely.intersection(shapely.boundary(geoms[others]), shapely.boundary(parts[i])))
            if not len(others) or float(np.max(edge)) <= 0:
                kept.append(parts[i])
                continue
            q = others[int(np.argmax(edge))]
            geoms[q] = shapely.union(geoms[q], parts[i])
        geoms[p] = shapely.union_all(kept) if len(kept) > 1 else kept[0]
    return geoms


def _lanes(ring: shapely.Geometry, hole: shapely.Geometry, outer: shapely.Geometry, footprints: np.ndarray,
           width: float, clearance: float, fixed: shapely.Geometry | None = None,
           seams: list[shapely.Geometry] | None = None, tally: Counter | None = None) -> Iterator[shapely.Geometry]:
    """Straight lanes of ``ring`` from ``hole`` to ``outer`` clear of ``footprints`` and not reaching
    ``fixed``, shortest first (at most :data:`LANE_TRIES`; lanes to ``fixed`` are not counted, so that a ring
    whose nearest edge is the community's still gets the lanes to its other edges tried). ``seams``: lines
    from the hole to ``outer`` (edges between the ring's small grids) along which a lane is tried too. ``tally``:
    counts the lanes (``straight``), those clear of the footprints (``clear``) and those reaching ``fixed``."""
    # footprints of the ring (those of the hole, whose edge the hole's may be, are the sibling's own)
    footprints = footprints[~shapely.covered_by(footprints, shapely.buffer(hole, 1e-3))] if len(footprints) else footprints
    blocked = shapely.union_all(shapely.buffer(footprints, clearance)) if len(footprints) else None
    edge = shapely.get_exterior_ring(hole)
    starts = shapely.line_interpolate_point(edge, np.linspace(0.0, 1.0, LANE_STARTS, endpoint=False), normalized=True)
    reach = shapely.intersection(outer, shapely.buffer(ring, 1e-6))
    if shapely.is_empty(reach):
        return
    a = shapely.get_coordinates(starts)
    ends = [shapely.get_coordinates(shapely.shortest_line(starts, reach))[1::2]]
    # and rays in LANE_DIRECTIONS directions from each start, to where they first meet the outer edge
    x0, y0, x1, y1 = shapely.bounds(ring)
    far = 2.0 * float(np.hypot(x1 - x0, y1 - y0))
    angles = np.linspace(0.0, 2 * np.pi, LANE_DIRECTIONS, endpoint=False)
    rays_from = np.repeat(a, len(angles), axis=0)
    rays_to = rays_from + far * np.tile(np.c_[np.cos(angles), np.sin(angles)], (len(a), 1))
    rays = shapely.linestrings(np.stack([rays_from, rays_to], axis=1))
    hits = shapely.intersection(rays, reach)
    ok = ~(shapely.is_missing(hits) | shapely.is_empty(hits))
    ends.append(shapely.get_coordinates(shapely.shortest_line(shapely.points(rays_from[ok]), hits[ok]))[1::2])
    ends = np.concatenate(ends)
    a = np.concatenate([a, rays_from[ok]])
    # the lane reaches a little into the hole and past the outer edge, cut to the ring: the smallest first
    # (the shortest, and of those the one clear of the hole's corners)
    d = ends - a
    length = np.hypot(d[:, 0], d[:, 1])
    a, ends, d, length = a[length > 0], ends[length > 0], d[length > 0], length[length > 0]
    u = d / length[:, None]
    rects = shapely.buffer(shapely.linestrings(np.stack([a - u * width, ends + u * width], axis=1)), width / 2,
                           cap_style="flat")
    if seams:
        rects = np.concatenate([rects, shapely.buffer(np.array([_extended(x, width) for x in seams], dtype=object),
                                                      width / 2, cap_style="flat", join_style="mitre")])
    pieces = shapely.intersection(rects, ring)
    ok = ~shapely.is_empty(pieces)
    if tally is not None:
        tally["straight"] += int(ok.sum())
    if blocked is not None:
        ok &= ~shapely.intersects(pieces, blocked)
    cand = np.flatnonzero(ok)
    if tally is not None:
        tally["clear"] += len(cand)
    area = np.round(shapely.area(pieces[cand]), 6)
    touch = shapely.buffer(edge, 1e-6)
    tried = 0
    for i in cand[np.lexsort((cand, area))]:
        lane = shapely.union_all([p for p in shapely.get_parts(pieces[i]) if shapely.intersects(p, touch)])
        if shapely.is_empty(lane) or shapely.get_num_geometries(lane) != 1:
            continue
        if fixed is not None and shapely.distance(lane, fixed) < 1e-3:
            if tally is not None:
                tally["fixed"] += 1
            continue
        tried += 1
        yield lane
        if tried >= LANE_TRIES:
            return


#: the lattice step (m) of the room between the footprints through which a lane with bends is drawn
BENT_STEP_M = 1.0
#: at most this many lattice points over a ring's bounds: a larger ring (rural land) gets a coarser step
BENT_MAX_POINTS = 1_000_000


def lattice_path(room: shapely.Geometry, start: shapely.Geometry, end: shapely.Geometry, step: float,
                 near: float) -> np.ndarray | None:
    """The shortest path through ``room`` on a lattice of ``step`` metres (8 neighbours) from a point within
    ``near`` of ``start`` to one within ``near`` of ``end``, as its points' coordinates; None where none joins them.

    >>> xy = lattice_path(shapely.box(0, 0, 10, 3), shapely.box(-1, 0, 0, 3), shapely.box(10, 0, 11, 3), 1.0, 1.5)
    >>> float(xy[0][0]), float(xy[-1][0]), len(xy)
    (1.0, 9.0, 9)
    """
    x0, y0, x1, y1 = shapely.bounds(room)
    if not np.isfinite(x0):
        return None
    xx, yy = np.meshgrid(np.arange(np.floor(x0), x1, step), np.arange(np.floor(y0), y1, step))
    pts = shapely.points(xx.ravel(), yy.ravel())
    shapely.prepare(room)
    inside = shapely.contains(room, pts).reshape(xx.shape)
    node = np.full(xx.shape, -1, dtype=np.int64)
    node[inside] = np.arange(int(inside.sum()))
    pts = pts[inside.ravel()]
    src = np.flatnonzero(shapely.dwithin(pts, start, near))
    dst = np.flatnonzero(shapely.dwithin(pts, end, near))
    if not (len(src) and len(dst)):
        return None
    h, w = node.shape
    rows, cols, steps = [], [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        a = node[0:h - dy, max(0, -dx):w - max(0, dx)]
        b = node[dy:h, max(0, dx):w - max(0, -dx)]
        both = (a >= 0) & (b >= 0)
        rows.append(a[both])
        cols.append(b[both])
        steps.append(np.full(int(both.sum()), step * float(np.hypot(dx, dy))))
    n = len(pts)
    graph = coo_matrix((np.concatenate(steps), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()
    dist, pred, _ = dijkstra(graph, directed=False, indices=src, return_predecessors=True, min_only=True)
    j = int(dst[np.argmin(dist[dst])])
    if not np.isfinite(dist[j]):
        return None
    path = [j]
    while pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
    return shapely.get_coordinates(pts[path[::-1]])


def _bent_lane(ring: shapely.Geometry, hole: shapely.Geometry, outer: shapely.Geometry, footprints: np.ndarray,
               width: float, clearance: float, fixed: shapely.Geometry | None = None) -> shapely.Geometry | None:
    """The shortest lane of ``ring``, ``width`` metres wide and with bends, from ``hole`` to ``outer`` at least
    ``clearance`` metres from every footprint and not reaching ``fixed``; None where there is none: the way out
    of a site that the buildings round it leave no straight lane from (fuzz town 3438).

    The centreline runs through the room of ``ring`` farther than ``clearance + width / 2`` from the footprints
    (those of the hole, the sibling's own, left out) and from ``fixed``: the shortest path on a lattice of
    :data:`BENT_STEP_M` over that room (coarser where the ring's bounds would hold more than
    :data:`BENT_MAX_POINTS`; 8 neighbours) from a point beside the hole's edge to one beside
    ``outer``, both ends carried on to them, simplified to a quarter of a metre and cut to ``ring``. The lane is
    checked against the footprints and ``fixed`` as drawn."""
    fp = footprints[~shapely.covered_by(footprints, shapely.buffer(hole, 1e-3))] if len(footprints) else footprints
    reach = shapely.intersection(outer, shapely.buffer(ring, 1e-6))
    if shapely.is_empty(reach):
        return None
    x0, y0, x1, y1 = shapely.bounds(ring)
    step = max(BENT_STEP_M, float(np.sqrt((x1 - x0) * (y1 - y0) / BENT_MAX_POINTS)))
    margin = width / 2 + step / 4  # the simplified line strays from the lattice's by at most a quarter step
    room = shapely.buffer(ring, 1e-3)
    if len(fp):
        room = shapely.difference(room, shapely.union_all(shapely.buffer(fp, clearance + margin)))
    if fixed is not None:
        room = shapely.difference(room, shapely.buffer(fixed, margin))
    edge = shapely.get_exterior_ring(hole)
    near = 1.5 * step
    # only a piece of the room beside both ends holds a way out (none: no lattice drawn)
    parts = np.asarray(shapely.get_parts(room), dtype=object)
    parts = parts[shapely.dwithin(parts, edge, near) & shapely.dwithin(parts, reach, near)]
    if not len(parts):
        return None
    room = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    xy = lattice_path(room, edge, reach, step, near)
    if xy is None:
        return None
    first = shapely.get_coordinates(shapely.shortest_line(shapely.points(xy[0]), edge))[1]
    last = shapely.get_coordinates(shapely.shortest_line(shapely.points(xy[-1]), reach))[1]
    line = _extended(shapely.simplify(shapely.linestrings(np.vstack([first, xy, last])), step / 4), width)
    lane = shapely.intersection(shapely.buffer(line, width / 2, cap_style="flat", join_style="mitre"), ring)
    touch = shapely.buffer(edge, 1e-6)
    lane = shapely.union_all([q for q in shapely.get_parts(lane) if shapely.intersects(q, touch)])
    if shapely.is_empty(lane) or shapely.get_num_geometries(lane) != 1:
        return None
    if len(fp) and shapely.intersects(fp, shapely.buffer(lane, clearance)).any():
        return None
    if fixed is not None and shapely.distance(lane, fixed) < 1e-3:
        return None
    return lane

def _extended(line: shapely.Geometry, by: float) -> shapely.Geometry:
    """``line`` with its first and last segments extended by ``by`` metres beyond its ends."""
    xy = shapely.get_coordinates(line)
    for i, j in ((0, 1), (-1, -2)):
        d = xy[i] - xy[j]
        n = float(np.hypot(*d))
        if n > 0:
            xy[i] = xy[i] + d / n * by
    return shapely.linestrings(xy)


def _seams(small_geoms: np.ndarray, mine: np.ndarray, hole: shapely.Geometry,
           reach: shapely.Geometry) -> list[shapely.Geometry]:
    """The edges shared by two small grids of ``mine`` that run from ``hole``'s edge to ``reach`` (the ring's
    outer edge along a neighbour), each one line: where a lane along one runs, neither small grid is cut in two."""
    edge = shapely.get_exterior_ring(hole)
    touching = [int(k) for k in mine if shapely.distance(small_geoms[k], edge) < RIM_TOL
                and shapely.distance(small_geoms[k], reach) < RIM_TOL]
    out: list[shapely.Geometry] = []
    for i, a in enumerate(touching):
        for b in touching[i + 1:]:
            shared = shapely.intersection(shapely.boundary(small_geoms[a]), shapely.boundary(small_geoms[b]))
            lines = shapely.get_parts(shapely.line_merge(shapely.union_all(
                [x for x in shapely.get_parts(shared) if shapely.get_type_id(x) in (1, 5)] or [shapely.LineString()])))
            for x in lines:
                if (not shapely.is_empty(x) and shapely.distance(x, edge) < RIM_TOL
                        and shapely.distance(x, reach) < RIM_TOL):
                    out.append(x)
    return out
