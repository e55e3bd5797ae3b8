"""Land without buildings that bends a grid round a dedicated grid (专属网格), handed to that dedicated grid.

The dedicated grids are carved out of a community before its households are divided, and the ordinary grids
beside them take the land the sites leave: a strip of empty land between a site and the community's edge, an
empty block in the notch between two sites. Such land holds no household and no building, so it can go to the
dedicated grid beside it (which has no household bounds) without changing any grid's households, buildings or
small-grid counts; the ordinary grid loses its arm. :func:`empty_land_to_sites` makes those moves, one piece at
a time, the one that raises a grid's Polsby–Popper most first; the pieces join their dedicated grid in
:func:`gridgeo.dedicated.merge_result`, as the lanes from a site do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

from .shapes import polsby_popper
from .units import GRID_SIZE_M

__all__ = ["LOW_PP", "SITE_KEEPS_PP", "empty_land_to_sites"]

#: only grids less compact than this (Polsby–Popper 4πA/P²) give land away
LOW_PP = 0.6
#: a dedicated grid takes a piece only when its own Polsby–Popper stays at least the lesser of its before and this
SITE_KEEPS_PP = 0.5
#: a piece moves only when the grid's Polsby–Popper rises by more than this
MIN_GAIN = 0.005
#: a piece borders a dedicated grid along at least this much of its edge (m)
MIN_SHARED_M = 5.0
#: a grid keeps at least this share of its area
KEEP_AREA = 0.5


def _pp(geom: Any) -> float:
    return float(polsby_popper(np.array([geom], dtype=object))[0])


def _pieces(
    cell_geoms: np.ndarray, empty: np.ndarray, grid_of_cell: np.ndarray, block: np.ndarray, grid_geoms: np.ndarray
) -> list[tuple[int, Any]]:
    """(grid, piece): per grid and street block, the connected parts of its cells without buildings, as they lie
    in the grid now."""
    out = []
    idx = np.flatnonzero(empty & (grid_of_cell >= 0))
    keys = sorted({(int(grid_of_cell[i]), int(block[i])) for i in idx})
    for p, b in keys:
        mine = idx[(grid_of_cell[idx] == p) & (block[idx] == b)]
        land = shapely.intersection(
            shapely.union_all(cell_geoms[mine], grid_size=GRID_SIZE_M), grid_geoms[p], grid_size=GRID_SIZE_M
        )
        out += [(p, x) for x in shapely.get_parts(land) if shapely.get_type_id(x) == 3 and shapely.area(x) > 1.0]
    return out


def _owner(piece: Any, sites: np.ndarray) -> int:
    """The dedicated grid a piece joins, as :func:`gridgeo.dedicated.merge_result` chooses it: the one sharing the
    longest edge with it (-1: none shares :data:`MIN_SHARED_M`)."""
    shared = shapely.length(shapely.intersection(shapely.boundary(piece), shapely.buffer(shapely.boundary(sites), 0.01)))
    j = int(np.argmax(shared))
    return j if shared[j] >= MIN_SHARED_M else -1


def _move(grid: Any, site: Any, piece: Any) -> tuple[Any, Any] | None:
    """The grid less the piece and the site with it, or None where either would be in pieces, gain a hole, or the
    grid lose more than :data:`KEEP_AREA` of its area."""
    left = shapely.difference(grid, piece, grid_size=GRID_SIZE_M)
    joined = shapely.union(site, piece, grid_size=GRID_SIZE_M)
    if shapely.get_type_id(left) != 3 or shapely.get_type_id(joined) != 3:
        return None
    if shapely.area(left) < KEEP_AREA * shapely.area(grid):
        return None
    if shapely.get_num_interior_rings(left) > shapely.get_num_interior_rings(grid):
        return None
    if shapely.get_num_interior_rings(joined) > shapely.get_num_interior_rings(site):
        return None
    return left, joined


def empty_land_to_sites(
    grid_geoms: np.ndarray,
    small_geoms: np.ndarray,
    small_grid: np.ndarray,
    cell_geoms: np.ndarray,
    cell_buildings: np.ndarray,
    grid_of_cell: np.ndarray,
    cell_block: np.ndarray,
    sites: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, list]:
    """Grids and small grids less the land without buildings handed to the dedicated grids ``sites`` beside them.

    A piece (the cells of one street block in one grid holding no building, one connected part) moves from a grid
    under :data:`LOW_PP` to the dedicated grid sharing the longest edge with it when the grid's Polsby–Popper rises
    by more than :data:`MIN_GAIN`, the dedicated grid's stays at least the lesser of its before and
    :data:`SITE_KEEPS_PP`, and neither is left in pieces or with a new hole; the best move first, then again.
    Households, buildings and small-grid counts are unchanged (no move leaves a small grid without land or in
    pieces). Returns the grids, the small grids and the pieces moved (each joins its dedicated grid later).

    >>> from shapely import box
    >>> grid = shapely.union_all([box(0, 0, 100, 100), box(100, 0, 200, 10)])  # a square with an empty arm
    >>> cells = np.array([box(0, 0, 100, 100), box(100, 0, 200, 10)], dtype=object)
    >>> g, s, moved = empty_land_to_sites(np.array([grid], dtype=object), np.array([grid], dtype=object),
    ...     np.array([0]), cells, np.array([3, 0]), np.array([0, 0]), np.array([0, 1]),
    ...     np.array([box(100, 10, 200, 100)], dtype=object))
    >>> round(_pp(grid), 3), round(_pp(g[0]), 3), [round(shapely.area(x)) for x in moved]
    (0.384, 0.785, [1000])
    """
    if sites is None or not len(sites) or not len(grid_geoms):
        return grid_geoms, small_geoms, []
    empty = np.asarray(cell_buildings) == 0
    if not empty.any():
        return grid_geoms, small_geoms, []
    grids, small, sites = grid_geoms.copy(), small_geoms.copy(), np.asarray(sites, dtype=object).copy()
    low = {p for p in range(len(grids)) if _pp(grids[p]) < LOW_PP}
    if not low:
        return grid_geoms, small_geoms, []
    near = shapely.union_all(sites).buffer(0.5)
    pieces = [
        (p, x) for p, x in _pieces(cell_geoms, empty, grid_of_cell, cell_block, grids) if p in low and shapely.intersects(x, near)
    ]
    moved: list = []
    while pieces:
        best = None
        for k, (p, x) in enumerate(pieces):
            j = _owner(x, sites)
            if j < 0:
                continue
            new = _move(grids[p], sites[j], x)
            if new is None:
                continue
            gain = _pp(new[0]) - _pp(grids[p])
            if gain <= MIN_GAIN or _pp(new[1]) < min(_pp(sites[j]), SITE_KEEPS_PP):
                continue
            subs = _small_without(small, small_grid, p, x)
            if subs is None:
                continue
            if best is None or gain > best[0]:
                best = (gain, k, p, j, new, subs)
        if best is None:
            break
        _, k, p, j, (grids[p], sites[j]), subs = best
        for q, geom in subs.items():
            small[q] = geom
        moved.append(pieces.pop(k)[1])
        if _pp(grids[p]) >= LOW_PP:
            pieces = [(q, x) for q, x in pieces if q != p]
    if not moved:
        return grid_geoms, small_geoms, []
    return grids, small, moved


def _small_without(small: np.ndarray, small_grid: np.ndarray, p: int, piece: Any) -> dict[int, Any] | None:
    """The small grids of grid ``p`` the piece touches, less it; None where one would be empty or in pieces."""
    out = {}
    for q in np.flatnonzero(np.asarray(small_grid) == p):
        if shapely.area(shapely.intersection(small[q], piece)) <= 0:
            continue
        left = shapely.difference(small[q], piece, grid_size=GRID_SIZE_M)
        if shapely.get_type_id(left) != 3 or shapely.area(left) <= 0:
            return None
        out[int(q)] = left
    return out
