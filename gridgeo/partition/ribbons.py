"""Ribbons without households handed out piece by piece after the grids are drawn, judged per grid.

A ribbon (:func:`~.units.ribbon_blocks`: the land between the carriageways of a dual road, under an elevated
road and its ramps, long and thin, of no households) is bounded by arterial edges, which the solver keeps
between regions, so it goes whole to one grid as an arm along the road (sessions 44–45). Drawing the community
again with the ribbon cut moves grids far from it (the redraw's noise buries the gain); here the grids stay as
drawn and only the ribbon's pieces move: :func:`held_ribbons` finds a ribbon one grid of a low Polsby–Popper
holds whole, the caller cuts it into pieces along the blocks beside it and across its length
(``build_cells(..., strips=..., ribbons=...)``), and :func:`ribbons_to_neighbours` gives the pieces along each
neighbouring grid to that grid where the grids together come out more compact and none drops below the lesser
of its before and issue 16's 0.60 (:data:`KEEP_PP`). The pieces hold no households, so no grid's households,
bounds or buildings change; a move that splits a grid or wraps it round another is not taken.

Examples
--------
A 300 × 10 m ribbon held by the grid on its left, two grids of 100 × 100 m under it:

>>> from shapely import box
>>> geoms = np.array([box(0, 0, 100, 100), box(100, 0, 200, 100), box(0, 100, 100, 110),
...                   box(100, 100, 200, 110)], dtype=object)
>>> edges = (np.array([0, 0, 1, 2]), np.array([1, 2, 3, 3]), np.array([100.0, 100.0, 100.0, 10.0]))
>>> ribbons_to_neighbours(geoms, edges, np.array([0, 1, 0, 0]), np.array([0, 0, 7, 7]), [7],
...                       box(0, 0, 200, 110)).tolist()
[0, 1, 0, 1]
"""

from __future__ import annotations

import numpy as np
import shapely

from .enclosures import foreign_holes
from .shapes import polsby_popper
from .units import ribbon_blocks

__all__ = ["held_ribbons", "ribbons_to_neighbours", "RIBBON_GRID_PP"]

#: a grid under this Polsby–Popper holding a ribbon whole has the ribbon's pieces offered to its neighbours
RIBBON_GRID_PP = 0.5
#: a grid at least this compact (Polsby–Popper; issue 16's goal for the median) stays so after a move, and one
#: less compact is no less compact after it: no grid drops below the lesser of its before and this, so no
#: count of grids at or above a Polsby–Popper up to this falls, nor a median up to it
KEEP_PP = 0.60
#: floating-point noise of a Polsby–Popper
PP_NOISE = 1e-9


def _moved(out: np.ndarray, h: int, to: list[int], groups: dict[int, list[int]], shape) -> bool:
    """Move the pieces ``groups[o]`` of each grid ``o`` in ``to`` from grid ``h`` to ``o`` in ``out`` where the
    grids' shapes allow (:func:`ribbons_to_neighbours`; ``shape``: a grid's cells → Polsby–Popper, parts,
    foreign holes); whether they moved (else ``out`` is as it was)."""
    touched = [h, *to]
    before = [shape(np.flatnonzero(out == p)) for p in touched]
    take = [np.array(groups[o], dtype=np.int64) for o in to]
    for o, cells in zip(to, take, strict=True):
        out[cells] = o
    left = np.flatnonzero(out == h)
    after = [shape(np.flatnonzero(out == p)) for p in touched] if len(left) else None
    if after is not None and all(_kept(b[0], a[0]) and a[1] <= b[1] and a[2] <= b[2]
                                 for b, a in zip(before, after, strict=True)) and (
            sum(1 / max(a[0], 1e-12) for a in after) < sum(1 / max(b[0], 1e-12) for b in before) - PP_NOISE):
        return True
    for cells in take:
        out[cells] = h
    return False


def _kept(before: float, after: float) -> bool:
    """Whether a grid of Polsby–Popper ``before`` may be ``after`` (:data:`KEEP_PP`)."""
    return after >= min(before, KEEP_PP) - PP_NOISE


def held_ribbons(geoms: np.ndarray, block: np.ndarray, households: np.ndarray, grid_of_cell: np.ndarray,
                 block_geoms: np.ndarray, strip: np.ndarray | None = None, *,
                 below: float = RIBBON_GRID_PP) -> list[int]:
    """Blocks shaped as ribbons (:func:`~.units.ribbon_blocks`), of no households and one cell, that one grid of
    Polsby–Popper under ``below`` holds (cells ``geoms`` of blocks ``block``; ``strip``: per block, already cut
    into pieces). Sorted block indices.

    >>> from shapely import box
    >>> cells = np.array([box(0, 0, 100, 100), box(0, 100, 300, 110)], dtype=object)
    >>> held_ribbons(cells, np.array([0, 1]), np.array([300, 0]), np.array([0, 0]), cells)
    [1]
    """
    nb = len(block_geoms)
    if not len(geoms) or not nb:
        return []
    block = np.asarray(block, dtype=np.int64)
    n_cells = np.bincount(block, minlength=nb)
    bh = np.bincount(block, weights=households, minlength=nb)
    cand = np.flatnonzero((n_cells == 1) & (bh == 0))
    if strip is not None:
        cand = cand[~np.asarray(strip, dtype=bool)[cand]]
    if not len(cand):
        return []
    cand = cand[ribbon_blocks(np.asarray(block_geoms, dtype=object)[cand])]
    if not len(cand):
        return []
    cell_of_block = np.full(nb, -1, dtype=np.int64)
    cell_of_block[block] = np.arange(len(block))
    holder = np.asarray(grid_of_cell)[cell_of_block[cand]]
    grids = np.unique(holder)
    unions = np.array([shapely.coverage_union_all(geoms[grid_of_cell == p]) for p in grids.tolist()], dtype=object)
    low = grids[polsby_popper(unions) < below]
    return sorted(int(b) for b in cand[np.isin(holder, low)])


def ribbons_to_neighbours(geoms: np.ndarray, edges: tuple[np.ndarray, np.ndarray, np.ndarray],
                          grid_of_cell: np.ndarray, block: np.ndarray, cut: list[int], container: shapely.Geometry
                          ) -> np.ndarray:
    """The grid of each cell after the pieces of the ribbons ``cut`` (blocks, each of pieces of no households that
    one grid holds) move to the grids beside them (``edges``: the cells' graph as ``(a, b, length)``).

    Each piece goes with the grid it shares most edge with outside its ribbon (its neighbour); the pieces of one
    ribbon with one neighbour move together: to all the neighbours at once first, else to one at a time (the
    most shared edge first), again while one moves. A move is taken when it lowers the grids' summed inverse
    Polsby–Popper (``P²/4πA``, as :func:`~.shapes.polish_compactness` does), none drops below the lesser of its
    before and :data:`KEEP_PP`, and none is in more parts than before nor wrapped round more land of ``container``
    (:func:`~.enclosures.foreign_holes`). Returns a new array (``grid_of_cell`` is not modified).
    """
    out = np.asarray(grid_of_cell, dtype=np.int64).copy()
    a, b, length = (np.asarray(x) for x in edges)
    block = np.asarray(block, dtype=np.int64)

    def shape(cells: np.ndarray) -> tuple[float, int, int]:
        u = shapely.coverage_union_all(geoms[cells]) if len(cells) > 1 else geoms[cells[0]]
        return float(polsby_popper(np.array([u], dtype=object))[0]), int(shapely.get_num_geometries(u)), len(
            foreign_holes(u, container))

    for rb in sorted(cut):
        pieces = np.flatnonzero(block == rb)
        if len(pieces) < 2:
            continue
        h = int(out[pieces[0]])
        # each piece's neighbour: the grid it shares most edge with outside its ribbon (ties: the lowest grid)
        mine = np.isin(a, pieces) ^ np.isin(b, pieces)
        p_end = np.where(np.isin(a[mine], pieces), a[mine], b[mine])
        o_end = np.where(np.isin(a[mine], pieces), b[mine], a[mine])
        shared: dict[tuple[int, int], float] = {}
        for p, q, w in zip(p_end.tolist(), o_end.tolist(), length[mine].tolist(), strict=True):
            shared[(p, int(out[q]))] = shared.get((p, int(out[q])), 0.0) + w
        best: dict[int, tuple[float, int]] = {}
        for (p, grid), w in shared.items():
            if p not in best or (w, -grid) > (best[p][0], -best[p][1]):
                best[p] = (w, grid)
        groups: dict[int, list[int]] = {}
        along: dict[int, float] = {}
        for p in sorted(best):
            w, grid = best[p]
            if grid != h:
                groups.setdefault(grid, []).append(p)
                along[grid] = along.get(grid, 0.0) + w
        todo = sorted(groups, key=lambda grid: (-along[grid], grid))
        while todo:
            # all the neighbours at once first (a ribbon an arm of its holder on both sides of the road), then one
            for tried in ([todo] if len(todo) > 1 else []) + [[grid] for grid in todo]:
                if _moved(out, h, tried, groups, shape):
                    todo = [grid for grid in todo if grid not in tried]
                    break
            else:
                break
    return out
