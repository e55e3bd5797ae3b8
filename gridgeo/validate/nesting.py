"""Small grids (小网格) nested in exactly one base grid, the one their code names."""

from __future__ import annotations

import numpy as np
import shapely

from .layers import (
    _fmt_area,
    _Layer,
    _rec,
    _regroup,
    _significant_parts,
)


def _subgrid_nesting(subs: _Layer, declared_parent: np.ndarray, grids: _Layer, grid_comm: np.ndarray,
                     records: list, tol2: float, tol: float) -> np.ndarray:
    """Each small grid in exactly one base grid; returns the main parent position per small grid."""
    n = len(subs.geoms)
    parent = np.full(n, -1, dtype=int)
    gidx = np.flatnonzero(grids.usable)
    tree = shapely.STRtree(grids.geoms[gidx])
    sidx = np.flatnonzero(subs.usable)
    si, gi = tree.query(subs.geoms[sidx], predicate="intersects")
    si, gi = sidx[si], gidx[gi]
    # most pairs only touch (a small grid on its grid's edge and the grid beyond): overlay only the pairs
    # whose interiors meet (the others leave no polygonal piece); a small grid within its grid (nearly
    # every pair left) is its own piece, so only the pairs that cross are overlaid
    matrix = shapely.relate(subs.geoms[si], grids.geoms[gi]).astype("U9").view("U1").reshape(-1, 9)
    meet = matrix[:, 0] != "F"
    si, gi, matrix = si[meet], gi[meet], matrix[meet]
    within = (matrix[:, 2] == "F") & (matrix[:, 5] == "F")  # DE-9IM T*F**F***
    pieces = subs.geoms[si].copy()
    pieces[~within] = shapely.intersection(subs.geoms[si[~within]], grids.geoms[gi[~within]])
    parts, pidx = _significant_parts(pieces, tol2, tol)
    pos, _, areas = _regroup(parts, pidx)
    sig_s, sig_g = si[pos], gi[pos]
    # each small grid's pieces, in the order found (a stable sort, then one slice per small grid)
    order = np.argsort(sig_s, kind="stable")
    sig_s, sig_g, areas = sig_s[order], sig_g[order], np.asarray(areas)[order]
    starts = np.searchsorted(sig_s, sidx, side="left")
    ends = np.searchsorted(sig_s, sidx, side="right")
    for s, a, b in zip(sidx, starts, ends, strict=True):
        gs, ars = sig_g[a:b], areas[a:b]
        where = subs.geoms[s]
        if len(gs):
            parent[s] = gs[int(np.argmax(ars))]
        comm = grid_comm[parent[s]] if parent[s] >= 0 else None
        if len(gs) != 1:
            sub_area = float(shapely.area(subs.geoms[s]))
            outside = sub_area - (float(ars.max()) if len(ars) else 0.0)
            names = ", ".join(sorted(grids.ids[g] for g in gs)) if len(gs) else "none"
            records.append(_rec("subgrid_not_nested", subs.name, subs.ids[s], comm, measure=outside, geometry=where,
                                message=f"small grid {subs.ids[s]} lies in {len(gs)} grids ({names}); {_fmt_area(outside)} is outside its main grid"))
        elif declared_parent[s] is not None and declared_parent[s] != grids.codes[gs[0]]:
            records.append(_rec("subgrid_wrong_parent", subs.name, subs.ids[s], comm, geometry=where,
                                message=f"small grid {subs.ids[s]} names grid {declared_parent[s]} but lies in grid {grids.ids[gs[0]]}"))
    return parent
