"""Base grids outside their bounds, divided again through the blocks around them.

The base partition takes a street block of at most ``grid_max`` households whole (街巷定界): its
units are whole blocks and single building units (towers). Around a tower of 200–300 households
between whole blocks, no division of whole blocks may reach the floor (a tower of 172 households
whose only neighbour is a block of 442: 614 households make neither one grid nor two). There a
boundary through a block, between its building units, is the only way to the bounds.

:func:`split_blocks_for_bounds` takes the base grids the solver left outside the bounds (its own
repair, :func:`~.solver.repair_parts`, could do nothing with whole blocks), opens the whole blocks of
those grids and of the grids around them into their building cells, and divides each such grid
again with neighbouring grids over the finer units. A block that ends up in one grid is whole again;
only blocks a new boundary runs through stay open. Buildings are never divided (a cell holds whole
footprint units).
"""

from __future__ import annotations

import numpy as np

from .graph import Graph, contract
from .solver import Bounds, Outcome, Weights, repair_parts

__all__ = ["split_blocks_for_bounds"]

#: solver notes whose parts are outside the bounds for a reason no re-division can change
_EXPLAINED = ("heavy_unit", "below_min", "isolated", "merged_isolated")


def split_blocks_for_bounds(g: Graph, unit_of_cell: np.ndarray, n_units: int, out: Outcome, bounds: Bounds,
                            weights: Weights | None = None, seed: int = 0) -> tuple[Outcome, np.ndarray, int]:
    """Base grids outside ``bounds`` divided again with their neighbours over opened blocks.

    Parameters
    ----------
    g
        The cell graph of the community.
    unit_of_cell, n_units
        The base units (:func:`~.community.base_units`) and their number.
    out
        The solver's outcome over the units.

    Returns
    -------
    (Outcome, ndarray, int)
        The outcome (labels over the new units, notes renumbered), the new unit of each cell and the
        number of units; the inputs themselves when nothing changed.

    Examples
    --------
    A path of cells: a tower of 172 households (cell 0), then a block of 442 households in five
    cells (cells 1–5, one unit). Whole, no division fits (614 households); opened, the tower and two
    cells make one grid, the other three cells another:

    >>> h = np.array([172, 70, 70, 100, 100, 102])
    >>> g = Graph(h=h, area=np.ones(6), perim=np.full(6, 4.0), x=np.arange(6.0), y=np.zeros(6),
    ...           a=np.arange(5), b=np.arange(1, 6), length=np.ones(5), art=np.zeros(5), nostreet=np.zeros(5))
    >>> unit = np.array([0, 1, 1, 1, 1, 1])
    >>> out = Outcome(np.array([0, 1]), 2, [("out_of_bounds", 0, 172.0)])
    >>> new, unit2, n2 = split_blocks_for_bounds(g, unit, 2, out, Bounds(300, 500, 400))
    >>> new.labels[unit2].tolist(), new.notes
    ([0, 0, 0, 1, 1, 1], [])
    """
    labels = np.asarray(out.labels, dtype=np.int64)
    nparts = out.n_parts
    ug = contract(g, unit_of_cell, n_units)
    hp = np.bincount(labels, weights=ug.h, minlength=nparts)
    skip = {p for t, p, _ in out.notes if t in _EXPLAINED}
    bad = [p for p in range(nparts) if p not in skip and bounds.violation(hp[p]) > 0]
    if not bad:
        return out, unit_of_cell, n_units
    cell_part = labels[unit_of_cell]
    # the grids around the bad ones, two rings deep: their units open into cells
    ca, cb = cell_part[g.a], cell_part[g.b]
    near = set(bad)
    for _ring in range(2):
        hit = np.isin(ca, list(near)) | np.isin(cb, list(near))
        near |= set(ca[hit].tolist()) | set(cb[hit].tolist())
    near -= skip
    open_cell = np.isin(cell_part, sorted(near))
    fine, n_fine = open_units(unit_of_cell, open_cell)
    fg = contract(g, fine, n_fine)
    fine_labels = np.zeros(n_fine, dtype=np.int64)
    fine_labels[fine] = cell_part
    new = repair_parts(fg, fine_labels, nparts, bounds, skip=skip, seed=seed, weights=weights)
    if new is None:
        return out, unit_of_cell, n_units
    cell_new = new[fine]
    unit2, n2, _ = whole_again(unit_of_cell, n_units, cell_new)
    used = np.bincount(cell_new, minlength=nparts) > 0
    remap = np.cumsum(used) - 1
    hp = np.bincount(cell_new, weights=g.h, minlength=nparts)
    notes = [(t, int(remap[p]), m) for t, p, m in out.notes
             if used[p] and not (t in ("out_of_bounds", "no_feasible_count") and bounds.violation(hp[p]) == 0)]
    labels2 = np.zeros(n2, dtype=np.int64)
    labels2[unit2] = remap[cell_new]
    return Outcome(labels2, int(used.sum()), notes), unit2, n2


def whole_again(unit_of_cell: np.ndarray, n_units: int, cell_part: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Units after a division of opened units' cells (``cell_part``: each cell's grid): a unit whose cells
    stayed in one grid is whole again, the others are their cells. Returns the units of the cells, their
    count, and which of the former units were divided."""
    per_unit = np.zeros(n_units, dtype=np.int64)
    per_unit[unit_of_cell] = cell_part
    split_unit = np.zeros(n_units, dtype=bool)
    split_unit[unit_of_cell[cell_part != per_unit[unit_of_cell]]] = True
    unit2, n2 = open_units(unit_of_cell, split_unit[unit_of_cell])
    return unit2, n2, split_unit


def open_units(unit_of_cell: np.ndarray, opened: np.ndarray) -> tuple[np.ndarray, int]:
    """Units with the cells of ``opened`` each a unit of its own, numbered in order of first cell."""
    key = np.where(opened, -1 - np.arange(len(unit_of_cell)), unit_of_cell)
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inv.ravel()], len(first)
