"""One community, start to finish: cells, base grids, small grids, ids and findings.

:func:`partition_community` takes a *job* (plain arrays of one community, picklable, built by
:mod:`.engine`) and returns plain records; communities are independent, so jobs run in any order or
in parallel processes with the same result.

Steps:

1. **Cells** (:func:`~.units.build_cells`): blocks, and building cells inside every block with two or
   more buildings, from one exact planar arrangement (a village with villager groups uses the street
   blocks cut by the groups).
2. **Base units**: a block of at most ``grid_max`` households is one unit, never divided between
   grids; a larger block falls apart into its building cells.
3. **Base grids** (:func:`~.solver.partition_graph` on the unit graph; villages with groups:
   :func:`~.rural.zone_partition`), then :func:`~.subgrids.reshape_for_small_grids` moves units
   between neighbouring grids while that lets more small grids fit their bounds.
4. **Small grids**: the cells of each base grid divided in the same way (exact for small grids).
5. Geometry by coverage union of cells; provisional ids ``<code>-G001`` and ``<grid>-01`` numbered
   north to south, west to east (:func:`gridgeo.blocks.order_key`); findings for every exception.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections import defaultdict
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .._geometry import union_by
from ..blocks import order_key
from ..footprints import unit_groups
from .enclosures import enclosure_count, foreign_holes, open_enclosures
from .feasibility import divisible, packable
from .graph import Graph, cell_graph, contract, subgraph
from .refine import split_blocks_for_bounds
from .solver import Bounds, Outcome, Weights, partition_graph
from .subgrids import SmallGridBadness, reshape_for_small_grids
from .units import Cells, build_cells

__all__ = ["partition_community", "CROSSING_REPORT_M", "MEDIAN_WIDTH_M"]

#: arterial length inside a grid (m) above which the grid is reported as crossing an arterial
CROSSING_REPORT_M = 10.0
#: blocks without households narrower than this (2·area/perimeter, m) are road strips, not land
MEDIAN_WIDTH_M = 25.0
#: base grids keep this share of the small-grid target above their floor when they can
FLOOR_MARGIN_SHARE = 0.15
#: further spanning-tree seeds tried for a base grid whose small grids miss their bounds
SMALL_GRID_RETRIES = 4

#: solver notes on small grids → finding types
_SMALL_FINDING = {"heavy_unit": "building_over_subgrid_max", "below_min": "subgrid_below_min",
                  "no_feasible_count": "subgrid_no_feasible_count", "isolated": "isolated_block",
                  "merged_isolated": "community_multipart", "out_of_bounds": "subgrid_out_of_bounds"}


def seed_for(code: str, salt: int = 0) -> int:
    """A seed from a community code (stable across runs, processes and input order)."""
    return (zlib.crc32(str(code).encode("utf-8")) + 7919 * salt) % (2**32)


def partition_community(job: dict[str, Any]) -> dict[str, Any]:
    """Partition one community; returns records of grids, small grids, building assignment, findings."""
    code, r = job["code"], job["rules"]
    community = job["geometry"]
    findings: list[dict[str, Any]] = []
    multipart = shapely.get_num_geometries(community) > 1
    if multipart:
        n = int(shapely.get_num_geometries(community))
        findings.append(_finding("community_multipart", "warning", "communities", code, code, n,
                                 f"community {code} is in {n} separate parts; grids are made per part, and a "
                                 "part too small for a grid joins the nearest grid", community))
    block_geoms, block_ids, bblock, zone_of_block = _blocks(job, findings)
    hh = job["bld_households"]
    unit = unit_groups(job["bld_unit"])[0] if job.get("bld_unit") is not None else None
    cells = build_cells(community, block_geoms, job["bld_geoms"], bblock, hh, unit=unit)
    g = cell_graph(cells.geoms, households=cells.households, block=cells.block,
                   streets=job["streets"], arterial=job["arterial"], snap_m=r.street_snap_m)
    weights = Weights(arterial_tree=r.arterial_weight, minor_tree=r.minor_weight)
    grid_bounds = Bounds(r.grid_min, r.grid_max, r.grid_target)
    sub_bounds = Bounds(r.subgrid_min, r.subgrid_max, r.subgrid_target)

    # ---- base grids, then small grids inside each
    out, grid_of_cell = _base_grids(cells, g, zone_of_block, grid_bounds, sub_bounds, weights, code, multipart,
                                    community)
    small_of_cell, small_notes = _small_grids(g, cells.geoms, grid_of_cell, out.n_parts, sub_bounds, weights, code)

    # ---- geometry and ids
    n_grids = out.n_parts
    grid_geoms = union_groups(cells.geoms, grid_of_cell, n_grids)
    seq = np.empty(n_grids, dtype=np.int64)
    seq[order_key(grid_geoms) if n_grids else np.zeros(0, np.int64)] = np.arange(n_grids)
    grid_ids = np.array([f"{code}-G{s + 1:03d}" for s in seq], dtype=object)
    grid_h = _sum(grid_of_cell, cells.households, n_grids)
    grid_nb = _sum(grid_of_cell, cells.buildings, n_grids)
    n_small = int(small_of_cell.max()) + 1 if len(small_of_cell) else 0
    small_geoms = union_groups(cells.geoms, small_of_cell, n_small)
    small_h = _sum(small_of_cell, cells.households, n_small)
    small_grid = np.full(n_small, -1, dtype=np.int64)
    small_grid[small_of_cell] = grid_of_cell
    small_ids = np.empty(n_small, dtype=object)
    small_order: list[int] = []
    for p in np.argsort(seq):
        mine = np.flatnonzero(small_grid == p)
        for j, q in enumerate(mine[order_key(small_geoms[mine])] if len(mine) else mine):
            small_ids[q] = f"{grid_ids[p]}-{j + 1:02d}"
            small_order.append(int(q))

    # ---- findings
    ctx = {"code": code, "rules": r, "cells": cells, "hh": hh, "ids": job["bld_ids"], "geoms": job["bld_geoms"],
           "H": int(cells.households.sum())}
    findings += _base_findings(out, grid_of_cell, grid_ids, grid_geoms, grid_h, ctx)
    findings += _crossing_findings(g, cells, block_geoms, grid_of_cell, grid_ids, grid_geoms, code)
    findings += _divided_block_findings(cells, block_ids, grid_of_cell, r.grid_max, code)
    findings += _shape_findings(grid_geoms, grid_ids, [community] * n_grids, "grids", code)
    findings += _shape_findings(small_geoms, small_ids, [grid_geoms[p] for p in small_grid], "subgrids", code)
    bcell = cells.building_cell
    # honest small grids (as validate and the report): excused only when the footprint units of the
    # whole community admit no small grids, whatever base grids were drawn
    unit = unit_groups(job["bld_unit"])[0] if job.get("bld_unit") is not None else np.arange(len(hh))
    units_hh = np.bincount(unit, weights=np.asarray(hh, dtype=float)) if len(hh) else np.zeros(0)
    small_possible: bool | None = None
    for t, q, _measure in small_notes:
        ftype = _SMALL_FINDING.get(t)
        if ftype is None:
            continue
        reason = ftype.replace("_", " ")
        if ftype == "subgrid_out_of_bounds":
            if small_possible is None:
                small_possible = divisible(units_hh, r.subgrid_min, r.subgrid_max)
            if small_possible:
                reason = "no contiguous division within the bounds was found"
            else:
                ftype = "subgrid_no_feasible_division"
                reason = (f"the households of the buildings of community {code} admit no division into "
                          f"{r.subgrid_min}–{r.subgrid_max}")
        findings.append(_finding(ftype, "info" if ftype == "subgrid_below_min" else "warning", "subgrids", code,
                                 small_ids[q], float(small_h[q]),
                                 f"small grid {small_ids[q]} has {small_h[q]} households (bounds "
                                 f"{r.subgrid_min}–{r.subgrid_max}): {reason}", small_geoms[q]))
    flags: dict[str, list[str]] = defaultdict(list)
    for f in findings:
        if f["feature_id"] is not None:
            flags[f["feature_id"]].append(f["type"])

    def flag(fid: str) -> str:
        return ",".join(dict.fromkeys(flags.get(fid, [])))

    grid_records = [{"grid_id": grid_ids[p], "community_code": code, "kind": "base", "households": int(grid_h[p]),
                     "buildings": int(grid_nb[p]), "area_m2": float(shapely.area(grid_geoms[p])),
                     "flags": flag(grid_ids[p]), "geometry": grid_geoms[p]} for p in np.argsort(seq)]
    small_nb = _sum(small_of_cell, cells.buildings, n_small)
    sub_records = [{"subgrid_id": small_ids[q], "grid_id": grid_ids[small_grid[q]], "community_code": code,
                    "households": int(small_h[q]), "buildings": int(small_nb[q]),
                    "area_m2": float(shapely.area(small_geoms[q])), "flags": flag(small_ids[q]),
                    "geometry": small_geoms[q]} for q in small_order]
    return {
        "grids": grid_records,
        "subgrids": sub_records,
        "bld_pos": job["bld_pos"],
        "bld_grid": grid_ids[grid_of_cell[bcell]] if len(bcell) else np.zeros(0, dtype=object),
        "bld_sub": small_ids[small_of_cell[bcell]] if len(bcell) else np.zeros(0, dtype=object),
        "findings": findings,
    }


# ------------------------------------------------------------------------------------------ steps


def _blocks(job: dict[str, Any], findings: list[dict[str, Any]]):
    """The blocks to build cells on, each building's block, and (villages with groups) each block's zone."""
    code, community = job["code"], job["geometry"]
    block_geoms, block_ids = job["block_geoms"], job["block_ids"]
    if not len(block_geoms):
        block_geoms = np.array([community], dtype=object)
        block_ids = np.array([f"{code}-B0000"], dtype=object)
    pos = {b: i for i, b in enumerate(block_ids)}
    bblock = np.array([pos.get(b, -1) if b is not None else -1 for b in job["bld_block"]], dtype=np.int64)
    zone_of_block = None
    if job.get("groups") is not None:
        from .rural import villager_zones, zone_pieces

        zones, _names, found = villager_zones(community, job["groups"][0], job["groups"][1], code)
        findings.extend(found)
        if len(zones):
            # the units of the village: street blocks cut by the villager groups
            block_geoms, zone_of_block, piece_block = zone_pieces(zones, block_geoms)
            block_ids = np.array([f"{block_ids[b]}-Z{z + 1:03d}" for b, z in zip(piece_block, zone_of_block)], dtype=object)
            # group lines are soft: they bend around buildings (楼栋完整), as blocks do around streets
            block_geoms, keep = _bend_pieces(job, block_geoms, block_ids, findings)
            block_ids, zone_of_block = block_ids[keep], zone_of_block[keep]
            bblock = np.full(len(bblock), -1, dtype=np.int64)  # located again, by position
    return block_geoms, block_ids, bblock, zone_of_block


def _bend_pieces(job: dict[str, Any], geoms: np.ndarray, ids: np.ndarray,
                 findings: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Pieces (blocks cut by villager groups) bent around the footprint units they cut; returns the
    pieces left and the positions they had."""
    import geopandas as gpd
    import pandas as pd

    from ..footprints import bend_blocks

    pieces = gpd.GeoDataFrame({"block_id": ids, "community_code": job["code"]}, geometry=list(geoms))
    blds = gpd.GeoDataFrame({"building_id": job["bld_ids"]}, geometry=list(job["bld_geoms"]))
    units = pd.Series(job["bld_unit"] if job.get("bld_unit") is not None else job["bld_ids"])
    bent, found = bend_blocks(pieces, blds, units, cause="a villager-group line drawn through it")
    for rec in found.to_dict("records"):
        if rec["type"] == "building_across_blocks":
            rec["message"] = rec["message"].replace("straddles blocks", "straddles villager groups in blocks")
            findings.append(rec)
    return bent.geometry.to_numpy(), bent.index.to_numpy()


def _base_grids(cells: Cells, g: Graph, zone_of_block, grid_bounds: Bounds, sub_bounds: Bounds, weights: Weights,
                code: str, multipart: bool, community: Any) -> tuple[Outcome, np.ndarray]:
    """Base grids over base units; returns the solver outcome (over units) and each cell's grid."""
    unit_of_cell, n_units = base_units(cells, g, grid_bounds.hi, sub_bounds)
    ug = contract(g, unit_of_cell, n_units)
    order = np.argsort(unit_of_cell, kind="stable")
    starts = np.searchsorted(unit_of_cell[order], np.arange(n_units + 1))
    cells_of_unit = [order[starts[u]:starts[u + 1]] for u in range(n_units)]
    if zone_of_block is not None:
        from .rural import zone_partition

        zone_of_unit = zone_of_block[cells.block[[c[0] for c in cells_of_unit]]]
        out = zone_partition(ug, zone_of_unit, grid_bounds, seed=seed_for(code), weights=weights)
        return out, out.labels[unit_of_cell]
    # base grids keep some households above the floor, where small grids divide more easily
    base_w = dataclasses.replace(weights, floor_margin=FLOOR_MARGIN_SHARE * sub_bounds.target)
    out = partition_graph(ug, grid_bounds, seed=seed_for(code), weights=base_w, merge_isolated=multipart)
    # grids still outside the bounds: divided again with their neighbours through opened blocks
    out, unit_of_cell, n_split = split_blocks_for_bounds(g, unit_of_cell, n_units, out, grid_bounds, base_w,
                                                         seed=seed_for(code, 17))
    if n_split != n_units:
        n_units, ug = n_split, contract(g, unit_of_cell, n_split)
        order = np.argsort(unit_of_cell, kind="stable")
        starts = np.searchsorted(unit_of_cell[order], np.arange(n_units + 1))
        cells_of_unit = [order[starts[u]:starts[u + 1]] for u in range(n_units)]
    frozen = {p for t, p, _ in out.notes if t in ("heavy_unit", "isolated", "merged_isolated")}
    out.labels = reshape_for_small_grids(ug, out.labels, cells_of_unit, SmallGridBadness(g, sub_bounds),
                                         grid_bounds, frozen=frozen, weights=base_w)
    # no grid wrapped around another: re-divided over the same units (whole blocks stay whole)
    if enclosure_count(cells.geoms, out.labels[unit_of_cell], out.n_parts, community).any():
        unit_geoms = union_groups(cells.geoms, unit_of_cell, n_units)
        out.labels, _ = open_enclosures(ug, unit_geoms, out.labels, out.n_parts, community, grid_bounds,
                                        weights=base_w, seed=seed_for(code, 31),
                                        frozen={p for t, p, _ in out.notes if t in ("isolated", "merged_isolated")})
    return out, out.labels[unit_of_cell]


def base_units(cells: Cells, g: Graph, grid_max: int, sub_bounds: Bounds | None = None) -> tuple[np.ndarray, int]:
    """Units of the base grids: a block of at most ``grid_max`` households whole (each connected piece
    of it), a larger block as its building cells. Numbered in order of their first cell.

    With ``sub_bounds``, a block whose buildings admit no small grids within those bounds on their own
    (a tower of 220 and 74 households of walk-ups beside it: the 74 can make no small grid) is also
    taken as its building cells, so that the base grids can share it with a neighbouring block."""
    n = len(cells)
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    nblocks = int(cells.block.max()) + 1
    bh = np.bincount(cells.block, weights=cells.households, minlength=nblocks)
    whole_block = bh <= grid_max
    if sub_bounds is not None:
        order = np.argsort(cells.block, kind="stable")
        starts = np.searchsorted(cells.block[order], np.arange(nblocks + 1))
        for b in np.flatnonzero(whole_block & (bh >= sub_bounds.lo)):
            mine = cells.households[order[starts[b]:starts[b + 1]]]
            if len(mine) > 1 and not packable(mine, sub_bounds.lo, sub_bounds.hi, node_limit=200):
                whole_block[b] = False
    whole = whole_block[cells.block]
    same = (cells.block[g.a] == cells.block[g.b]) & whole[g.a]
    mat = coo_matrix((np.ones(int(same.sum())), (g.a[same], g.b[same])), shape=(n, n))
    _, lab = connected_components(mat, directed=False)
    _, first, inv = np.unique(lab, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inv.ravel()], len(first)


def _small_grids(g: Graph, geoms: np.ndarray, grid_of_cell: np.ndarray, n_grids: int, bounds: Bounds,
                 weights: Weights, code: str) -> tuple[np.ndarray, list[tuple[str, int, float]]]:
    """Small grids inside each base grid: labels over all cells, notes with those labels."""
    labels = np.full(len(grid_of_cell), -1, dtype=np.int64)
    notes: list[tuple[str, int, float]] = []
    base = 0
    for p in range(n_grids):
        nodes = np.flatnonzero(grid_of_cell == p)
        if not len(nodes):
            continue
        sub = subgraph(g, nodes)
        out = partition_graph(sub, bounds, seed=seed_for(code, p + 1), weights=weights)
        # a division with small grids out of bounds: other spanning-tree seeds, the fewest misses kept
        misses = _small_misses(out, sub.h, bounds)
        for retry in range(1, SMALL_GRID_RETRIES + 1):
            if misses == (0, 0):
                break
            alt = partition_graph(sub, bounds, seed=seed_for(code, (p + 1) + 100_003 * retry), weights=weights)
            alt_misses = _small_misses(alt, sub.h, bounds)
            if alt_misses < misses:
                out, misses = alt, alt_misses
        if out.n_parts > 1:  # no small grid wrapped around another inside its grid
            frozen = {q for t, q, _ in out.notes if t in ("heavy_unit", "isolated", "merged_isolated")}
            parent = shapely.coverage_union_all(geoms[nodes]) if len(nodes) > 1 else geoms[nodes[0]]
            out.labels, _ = open_enclosures(sub, geoms[nodes], out.labels, out.n_parts, parent, bounds,
                                            weights=weights, seed=seed_for(code, p + 1), frozen=frozen)
        labels[nodes] = base + out.labels
        notes.extend((t, base + q, m) for t, q, m in out.notes)
        base += out.n_parts
    return labels, notes


#: a grid less compact than this (Polsby–Popper 4πA/P²) is reported
COMPACTNESS_REPORT = 0.25


def _shape_findings(geoms: np.ndarray, ids: np.ndarray, containers: list, layer: str, code: str) -> list[dict[str, Any]]:
    """A grid wrapped around another (a hole its container does not have) and a grid under
    :data:`COMPACTNESS_REPORT` Polsby–Popper, each a finding."""
    found = []
    word = "grid" if layer == "grids" else "small grid"
    pp = 4 * np.pi * shapely.area(geoms) / np.maximum(shapely.length(geoms), 1e-9) ** 2
    for q in range(len(geoms)):
        holes = foreign_holes(geoms[q], containers[q])
        if holes:
            found.append(_finding("grid_encloses_grid", "warning", layer, code, ids[q], float(len(holes)),
                                  f"{word} {ids[q]} is wrapped around {len(holes)} hole(s) held by other grids: no "
                                  "division within the bounds without it was found; redraw by hand if needed",
                                  shapely.point_on_surface(holes[0])))
        if pp[q] < COMPACTNESS_REPORT:
            found.append(_finding("grid_not_compact", "info", layer, code, ids[q], round(float(pp[q]), 3),
                                  f"{word} {ids[q]} has Polsby–Popper {pp[q]:.2f} (under {COMPACTNESS_REPORT}): a long "
                                  "or ragged shape; check it on the map (no more compact division was searched for)",
                                  shapely.point_on_surface(geoms[q])))
    return found


def _small_misses(out: Outcome, h: np.ndarray, bounds: Bounds) -> tuple[int, int]:
    """(parts out of bounds, households they miss by), parts of one unit over the ceiling aside."""
    hp = np.bincount(out.labels, weights=h, minlength=out.n_parts)
    heavy = {p for t, p, _ in out.notes if t == "heavy_unit"}
    miss = [max(bounds.lo - x, x - bounds.hi, 0) for p, x in enumerate(hp) if p not in heavy]
    return sum(1 for m in miss if m > 0), int(round(sum(miss)))


# ------------------------------------------------------------------------------------------ findings


def _base_findings(out: Outcome, grid_of_cell, grid_ids, grid_geoms, grid_h, ctx) -> list[dict[str, Any]]:
    code, r, cells, hh = ctx["code"], ctx["rules"], ctx["cells"], ctx["hh"]
    found = []
    for t, p, measure in out.notes:
        gid = grid_ids[p]
        if t == "heavy_unit":
            members = np.flatnonzero(grid_of_cell[cells.building_cell] == p) if len(cells.building_cell) else []
            big = [i for i in members if hh[i] > r.grid_max]
            for i in big or list(members[:1]):
                found.append(_finding("building_over_max", "warning", "grids", code, gid, float(hh[i]),
                                      f"building {ctx['ids'][i]} has {hh[i]} households, over the grid ceiling "
                                      f"{r.grid_max}: a grid of its own", ctx["geoms"][i]))
        elif t == "below_min" and measure == ctx["H"]:
            found.append(_finding("community_below_min", "warning", "grids", code, gid, measure,
                                  f"community {code} has {int(measure)} households, under the grid floor {r.grid_min}: "
                                  "one grid", grid_geoms[p]))
        elif t == "below_min":
            found.append(_finding("part_below_min", "warning", "grids", code, gid, measure,
                                  f"a part of community {code} holds only {int(measure)} households: one grid",
                                  grid_geoms[p]))
        elif t == "no_feasible_count":
            found.append(_finding("no_feasible_count", "warning", "grids", code, gid, float(grid_h[p]),
                                  f"{int(measure)} households cannot be divided into grids of {r.grid_min}–{r.grid_max}; "
                                  f"grid {gid} has {grid_h[p]}", grid_geoms[p]))
        elif t == "isolated":
            found.append(_finding("isolated_block", "warning", "grids", code, gid, measure,
                                  f"blocks with {int(measure)} households have no neighbour to join: grid {gid} of "
                                  "their own", grid_geoms[p]))
        elif t == "merged_isolated":
            found.append(_finding("community_multipart", "warning", "grids", code, gid, measure,
                                  f"a separate part of community {code} ({int(measure)} households) joins grid {gid}",
                                  grid_geoms[p]))
        elif t == "group_below_min":
            found.append(_finding("villager_group_below_min", "info", "grids", code, gid, measure,
                                  f"villager group grid {gid} has {int(measure)} households, under {r.grid_min}: "
                                  "kept as its own grid", grid_geoms[p]))
        elif t == "out_of_bounds":
            found.append(_finding("grid_out_of_bounds", "warning", "grids", code, gid, measure,
                                  f"grid {gid} has {int(measure)} households, outside {r.grid_min}–{r.grid_max}",
                                  grid_geoms[p]))
    return found


def _crossing_findings(g: Graph, cells: Cells, block_geoms, grid_of_cell, grid_ids, grid_geoms, code) -> list[dict]:
    """Grids spanning an arterial (strips between the carriageways of a road, blocks without households
    narrower than :data:`MEDIAN_WIDTH_M`, lie along an arterial whichever grid takes them: not counted)."""
    nb = len(block_geoms)
    area = np.bincount(cells.block, weights=cells.area, minlength=nb)
    width = 2 * area / np.maximum(shapely.length(block_geoms), 1e-9)
    strip = (np.bincount(cells.block, weights=cells.households, minlength=nb) == 0) & (width < MEDIAN_WIDTH_M)
    ga, gb = grid_of_cell[g.a], grid_of_cell[g.b]
    inside = (ga == gb) & (g.art > 0) & ~strip[cells.block[g.a]] & ~strip[cells.block[g.b]]
    cross = np.bincount(ga[inside], weights=g.art[inside], minlength=len(grid_ids))
    return [_finding("crosses_arterial", "info", "grids", code, grid_ids[p], round(float(cross[p]), 1),
                     f"grid {grid_ids[p]} spans an arterial for {cross[p]:.0f} m", grid_geoms[p])
            for p in np.flatnonzero(cross > CROSSING_REPORT_M)]


def _divided_block_findings(cells: Cells, block_ids, grid_of_cell, grid_max: int, code: str) -> list[dict]:
    """Blocks divided between grids along the gaps between their buildings: over the ceiling, or (at
    most the ceiling) where whole blocks left no division within the bounds."""
    bh = np.bincount(cells.block, weights=cells.households, minlength=len(block_ids))
    found = []
    for bi in np.flatnonzero(bh > 0):
        n_in = len(np.unique(grid_of_cell[cells.block == bi]))
        if n_in > 1:
            why = (f"over {grid_max}" if bh[bi] > grid_max else
                   "at most a grid's ceiling, yet whole blocks left no division within the bounds around it")
            found.append(_finding("block_divided", "info", "blocks", code, str(block_ids[bi]), float(bh[bi]),
                                  f"block {block_ids[bi]} has {int(bh[bi])} households, {why}: divided "
                                  f"between {n_in} grids along the gaps between its buildings", None))
    return found


# ------------------------------------------------------------------------------------------ helpers


def union_groups(geoms: np.ndarray, labels: np.ndarray, n: int) -> np.ndarray:
    """Coverage union of ``geoms`` grouped by ``labels`` (0..n-1), normalised; single parts as Polygon."""
    out = union_by(geoms, labels, n, coverage=True)
    one = (shapely.get_type_id(out) == 6) & (shapely.get_num_geometries(out) == 1)
    out[one] = shapely.get_geometry(out[one], 0)
    return shapely.normalize(out)


def _sum(labels: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(labels, weights=values, minlength=n).round().astype(np.int64)


def _finding(ftype: str, severity: str, layer: str, code: str, feature_id: Any, measure: float | None,
             message: str, geometry: Any) -> dict[str, Any]:
    return {"type": ftype, "severity": severity, "layer": layer, "community_code": code,
            "feature_id": None if feature_id is None else str(feature_id), "measure": measure,
            "message": message, "geometry": geometry}
