"""One community, start to finish: cells, base grids, small grids, ids and findings.

:func:`partition_community` takes a *job* (plain arrays of one community, picklable, built by
:mod:`.engine`) and returns plain records; communities are independent, so jobs run in any order or
in parallel processes with the same result.

Steps:

1. **Cells** (:func:`~.units.build_cells`): blocks, and building cells inside every block with two or
   more buildings, from one exact planar arrangement (a village with villager groups uses the street
   blocks cut by the groups). The pieces of other communities' buildings that the community boundary
   leaves here (job key ``foreign``) are footprints too, without households, so that they are never cut.
2. **Base units**: a block of at most ``grid_max`` households is one unit, never divided between
   grids; a larger block falls apart into its building cells.
3. **Base grids** (:func:`~.solver.partition_graph` on the unit graph; villages with groups:
   :func:`~.rural.zone_partition`), then :func:`~.subgrids.reshape_for_small_grids` moves units
   between neighbouring grids while that lets more small grids fit their bounds.
4. **Small grids**: the cells of each base grid divided in the same way (exact for small grids).
5. Geometry by coverage union of cells, drawn with smoother edges where a divided block's footprints
   are ragged against their points' regions (:func:`smoother_cells`; the same buildings in every
   cell), the small grids then made more compact on those edges; provisional ids ``<code>-G001`` and
   ``<grid>-01`` numbered north to south, west to east (:func:`gridgeo.blocks.order_key`); findings for
   every exception.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .._geometry import union_by
from .._text import counted
from ..blocks import order_key
from ..footprints import unit_groups
from .enclosures import (
    LANE_CLEARANCE_M,
    Residents,
    _cut_grid_lanes,
    cut_lanes,
    cut_lanes_redrawing,
    cut_site_lanes,
    enclosure_count,
    foreign_holes,
    no_lane_why,
    node_lanes,
    open_enclosures,
    open_sites,
    part_unions,
    site_of_lane,
)
from .feasibility import divisible, packable
from .graph import Graph, cell_graph, contract, subgraph
from .metrics import FORCED_UNDER_FLOOR
from .packfit import fit_small_grids
from .refine import open_units, split_blocks_for_bounds, whole_again
from .shapes import COMPACTNESS_FLOOR, compact_pairs, polish_compactness, polsby_popper, within_bounds
from .solver import Bounds, Outcome, Weights, partition_graph
from .subgrids import BudgetExceeded, SmallGridBadness, connected_sets, reshape_for_small_grids
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
#: spanning-tree seeds of each recombination of a base grid with a neighbour, and rounds over the grids
RECOMBINE_SEEDS = 2
RECOMBINE_ROUNDS = 2
#: cells with households up to which the small-grid count that screens tree cuts is exact
FIT_EXACT_CELLS = 12
#: a community given no street whose cells' edges run along no street for at least this share of their length (one
#: block of building cells) is divided with sweep trees beside the random ones (issue 16)
SWEEP_NOSTREET_SHARE = 1.0
#: sweep trees per bisection there (``Weights.sweep_trees``: straight cuts in 4 directions)
SWEEP_TREES = 4
#: parts of a community closer than this (m) meet (the lobes of an outline crossing itself): their cells touching
#: there are neighbours (:func:`_pinched`, issue 16)
PINCH_M = 0.01

#: solver notes on small grids → finding types
_SMALL_FINDING = {"heavy_unit": "building_over_subgrid_max", "below_min": "subgrid_below_min",
                  "no_feasible_count": "subgrid_no_feasible_count", "isolated": "isolated_block",
                  "merged_isolated": "community_multipart", "out_of_bounds": "subgrid_out_of_bounds"}


def _pinched(g: Graph, geoms: np.ndarray, community: Any) -> Graph:
    """``g`` with an edge between cells of different parts of ``community`` that meet at a point (closer than
    :data:`PINCH_M`): the lobes of an outline crossing itself (a bow-tie), which ``make_valid`` gives as parts
    touching at the crossing and the stored plan keeps as one polygon, so a lobe too small for a grid joins a grid
    it touches there, not the nearest grid of another part (a grid in two parts against a one-part outline;
    issue 16). ``g`` itself when no two parts meet."""
    parts = shapely.get_parts(community)
    if len(parts) < 2 or g.n < 2:
        return g
    ptree = shapely.STRtree(parts)
    pa, pb = ptree.query(parts, predicate="dwithin", distance=PINCH_M)
    if not (pa < pb).any():
        return g
    ci, pi = ptree.query(shapely.points(g.x, g.y), predicate="intersects")
    part_of = np.full(g.n, -1, dtype=np.int64)
    part_of[ci] = pi
    i, j = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=PINCH_M)
    keep = (i < j) & (part_of[i] >= 0) & (part_of[j] >= 0) & (part_of[i] != part_of[j])
    have = set(zip(g.a.tolist(), g.b.tolist(), strict=True))
    new = [(a, b) for a, b in zip(i[keep].tolist(), j[keep].tolist(), strict=True) if (a, b) not in have]
    if not new:
        return g
    a, b = np.array(sorted(new), dtype=np.int64).T
    length = np.full(len(a), PINCH_M)
    return dataclasses.replace(g, a=np.concatenate([g.a, a]), b=np.concatenate([g.b, b]),
                               length=np.concatenate([g.length, length]),
                               art=np.concatenate([g.art, np.zeros(len(a))]),
                               nostreet=np.concatenate([g.nostreet, length]))


def seed_for(code: str, salt: int = 0) -> int:
    """A seed from a community code (stable across runs, processes and input order)."""
    return (zlib.crc32(str(code).encode("utf-8")) + 7919 * salt) % (2**32)


def partition_community(job: dict[str, Any]) -> dict[str, Any]:
    """Partition one community; returns records of grids, small grids, building assignment, findings."""
    n_own = len(job["bld_pos"])
    job = _with_foreign(job)
    code, r = job["code"], job["rules"]
    community = job["geometry"]
    # the whole community, its dedicated grids (专属网格) included, which the cells do not cover (carved out
    # first): a grid wrapped around a dedicated grid is reported, as the quality figures count it
    container = community if job.get("outline") is None else job["outline"]
    findings: list[dict[str, Any]] = []
    multipart = shapely.get_num_geometries(community) > 1
    if multipart:
        n = int(shapely.get_num_geometries(community))
        findings.append(_finding("community_multipart", "warning", "communities", code, code, n,
                                 f"community {code} is in {n} separate parts; grids are made per part, and a "
                                 "part too small for a grid joins the nearest grid", community))
    block_geoms, block_ids, bblock, zone_of_block, group_zones = _blocks(job, findings)
    hh = job["bld_households"]
    unit = unit_groups(job["bld_unit"])[0] if job.get("bld_unit") is not None else None
    cells = build_cells(community, block_geoms, job["bld_geoms"], bblock, hh, unit=unit)

    def graph_of(c: Cells) -> Graph:  # the cells' graph: streets along edges, parts meeting at a point joined
        return _pinched(cell_graph(c.geoms, households=c.households, block=c.block, streets=job["streets"],
                                   arterial=job["arterial"], snap_m=r.street_snap_m), c.geoms, community)

    g = graph_of(cells)
    weights = Weights(arterial_tree=r.arterial_weight, minor_tree=r.minor_weight, sweep_trees=_sweep_trees(g, job["streets"]))
    grid_bounds = Bounds(r.grid_min, r.grid_max, r.grid_target)
    sub_bounds = Bounds(r.subgrid_min, r.subgrid_max, r.subgrid_target)

    # ---- base grids, then small grids inside each
    memo: dict = {}  # small-grid divisions, shared by the base grids' recombination and the small grids
    out, grid_of_cell, opened, unit_of_cell, parts = _base_grids(cells, g, zone_of_block, grid_bounds, sub_bounds,
                                                                 weights, code, multipart, community, memo)
    strips = _wrapping_strips(cells, grid_of_cell, out.n_parts, community, parts) if zone_of_block is None else []
    cell_strips = None
    if len(strips):
        # a grid still wrapped around others along strips without buildings (a road reserve along the
        # community's edge): drawn again with those strips cut along the blocks they border; kept when
        # fewer grids are wrapped (or fewer holes in as many) and no more are out of bounds
        cells2 = build_cells(community, block_geoms, job["bld_geoms"], bblock, hh, unit=unit, strips=strips)
        if cells2.strip is not None and cells2.strip.any():
            g2 = graph_of(cells2)
            memo2: dict = {}
            alt = _base_grids(cells2, g2, zone_of_block, grid_bounds, sub_bounds, weights, code, multipart,
                              community, memo2)
            if _fewer_wrapped(cells2, alt[1], alt[0].n_parts, cells, grid_of_cell, out.n_parts, container,
                              grid_bounds):
                cells, g, memo = cells2, g2, memo2
                out, grid_of_cell, opened, unit_of_cell, parts = alt
                cell_strips = strips
    # the grids' cells as united by the base grids' step, while these cells and grids stay as they are
    united = (cells.geoms, grid_of_cell, parts)
    searched: dict[int, str] = {}
    if zone_of_block is None:
        resorted = _last_resort(g, cells, unit_of_cell, out, grid_of_cell, community, grid_bounds, container,
                                sub_bounds, weights, code, parts=parts)
        grid_of_cell, searched = _compact_grids(g, cells, unit_of_cell, out, resorted, community, grid_bounds,
                                                container, sub_bounds, weights, code,
                                                parts=parts if resorted is grid_of_cell else None)
    small_of_cell, small_notes = _small_grids(g, cells.geoms, grid_of_cell, out.n_parts, sub_bounds, weights, code,
                                              memo)
    rings = [] if zone_of_block is not None else [
        b for b in _wrapping_small_strips(cells, grid_of_cell, small_of_cell, g) if b not in (cell_strips or [])]
    if rings:
        # a small grid wrapped around a sibling along land without households that it holds whole (a ring of
        # farmland round a hamlet): drawn again with that land cut as a strip is (corridors across a ring);
        # kept when fewer small grids are wrapped, no more grids are, and none more is out of its bounds
        strips3 = sorted(set(cell_strips or []) | set(rings))
        cells3 = build_cells(community, block_geoms, job["bld_geoms"], bblock, hh, unit=unit, strips=strips3)
        if cells3.strip is not None and cells3.strip.any():
            g3 = graph_of(cells3)
            memo3: dict = {}
            out3, grid3, opened3, unit3, parts3 = _base_grids(cells3, g3, zone_of_block, grid_bounds, sub_bounds,
                                                              weights, code, multipart, community, memo3)
            resorted3 = _last_resort(g3, cells3, unit3, out3, grid3, community, grid_bounds, container, sub_bounds,
                                     weights, code, parts=parts3)
            grid3, searched3 = _compact_grids(g3, cells3, unit3, out3, resorted3, community, grid_bounds, container,
                                              sub_bounds, weights, code, parts=parts3 if resorted3 is grid3 else None)
            small3, notes3 = _small_grids(g3, cells3.geoms, grid3, out3.n_parts, sub_bounds, weights, code, memo3)
            if _better_small(cells3, grid3, out3.n_parts, small3, cells, grid_of_cell, out.n_parts, small_of_cell,
                             container, grid_bounds, sub_bounds):
                cells, g, memo, cell_strips = cells3, g3, memo3, strips3
                out, grid_of_cell, opened, unit_of_cell = out3, grid3, opened3, unit3
                small_of_cell, small_notes = small3, notes3
                united = (cells3.geoms, grid3, parts3)
                searched = searched3

    # ---- geometry and ids
    n_grids = out.n_parts
    n_small = int(small_of_cell.max()) + 1 if len(small_of_cell) else 0
    cell_geoms = smoother_cells(cells, grid_of_cell, n_grids, small_of_cell, container,
                                lambda smooth, groups: build_cells(community, block_geoms, job["bld_geoms"], bblock, hh,
                                                                   unit=unit, strips=cell_strips, smooth=smooth,
                                                                   groups=groups, unchanged=cells))
    g_small = g  # the graph of the cells the small grids are drawn with
    if cell_geoms is not cells.geoms:
        # the small grids made more compact again, on the edges they are drawn with
        cells = dataclasses.replace(cells, geoms=cell_geoms, area=shapely.area(cell_geoms),
                                    perimeter=shapely.length(cell_geoms))
        g_drawn = graph_of(cells)
        small_of_cell = _polish_small_grids(g_drawn, cells.geoms, grid_of_cell, n_grids, small_of_cell, sub_bounds)
        small_notes = current_notes(small_notes, small_of_cell, cells.households, n_small, sub_bounds)
        g_small = g_drawn
    # small grids still under the compactness floor divided afresh with a sibling, on the edges they are drawn with
    compacted, small_searched = _compact_small_grids(g_small, cells.geoms, grid_of_cell, n_grids, small_of_cell,
                                                     small_notes, sub_bounds, weights, code)
    if compacted is not small_of_cell:
        small_of_cell = compacted
        small_notes = current_notes(small_notes, small_of_cell, cells.households, n_small, sub_bounds)
    small_divided = (cells.geoms, small_of_cell.copy())  # as divided over the cells: measured for the findings
    crumbless = crumbs_to_neighbours(cells.geoms, small_of_cell)
    if crumbless is not cells.geoms:
        cells = dataclasses.replace(cells, geoms=crumbless, area=shapely.area(crumbless),
                                    perimeter=shapely.length(crumbless))
    same = united[0] is cells.geoms and united[1] is grid_of_cell and united[2] is not None
    grid_geoms = union_groups(cells.geoms, grid_of_cell, n_grids, united=united[2] if same else None)
    small_geoms = union_groups(cells.geoms, small_of_cell, n_small)
    small_grid = np.full(n_small, -1, dtype=np.int64)
    small_grid[small_of_cell] = grid_of_cell
    residents = Residents(cells.geoms, cells.households, small_of_cell, np.asarray(job["bld_geoms"], dtype=object),
                          cells.building_cell, sub_bounds)
    drawn, small_drawn = grid_geoms, small_geoms  # before the lanes
    grid_geoms, small_geoms, small_grid, site_lanes, residents = _lanes_cut(
        grid_geoms, small_geoms, small_grid, container, community, job["bld_geoms"], zoned=zone_of_block is not None,
        open_to=job.get("open_to"), residents=residents, dedicated=job.get("dedicated"))
    if len(small_geoms) != n_small or not np.array_equal(residents.small_of_cell, small_of_cell):
        # a small grid of a ring redrawn round a lane: its buildings follow their cells
        small_of_cell, n_small = residents.small_of_cell, len(small_geoms)
        small_notes = current_notes(small_notes, small_of_cell, cells.households, n_small, sub_bounds)
    seq = np.empty(n_grids, dtype=np.int64)
    seq[order_key(grid_geoms) if n_grids else np.zeros(0, np.int64)] = np.arange(n_grids)
    grid_ids = np.array([f"{code}-G{s + 1:03d}" for s in seq], dtype=object)
    grid_h = _sum(grid_of_cell, cells.households, n_grids)
    bcell = cells.building_cell[:n_own]  # the community's own buildings (not the pieces of others')
    own_per_cell = np.bincount(bcell, minlength=len(cells.geoms)) if n_own else np.zeros(len(cells.geoms), np.int64)
    grid_nb = _sum(grid_of_cell, own_per_cell, n_grids)
    small_h = _sum(small_of_cell, cells.households, n_small)
    small_ids = np.empty(n_small, dtype=object)
    small_order: list[int] = []
    for p in np.argsort(seq):
        mine = np.flatnonzero(small_grid == p)
        for j, q in enumerate(mine[order_key(small_geoms[mine])] if len(mine) else mine):
            small_ids[q] = f"{grid_ids[p]}-{j + 1:02d}"
            small_order.append(int(q))

    # ---- findings
    ctx = {"code": code, "rules": r, "cells": cells, "hh": hh, "ids": job["bld_ids"], "geoms": job["bld_geoms"],
           "H": int(cells.households.sum()), "graph": g, "unit": unit, "multipart": multipart}
    findings += _base_findings(out, grid_of_cell, grid_ids, grid_geoms, grid_h, ctx)
    findings += _crossing_findings(g, cells, block_geoms, grid_of_cell, grid_ids, grid_geoms, code)
    findings += _divided_block_findings(cells, block_ids, grid_of_cell, opened, r, code)
    why_not = _not_compact_why(grid_geoms, drawn, cells, grid_of_cell, container, community, grid_ids, searched,
                               zoned=zone_of_block is not None)
    findings += _shape_findings(grid_geoms, grid_ids, [container] * n_grids, "grids", code,
                                carved=community if container is not community else None,
                                zoned=zone_of_block is not None, small_kept=residents.kept_wrapped,
                                not_compact=why_not, no_lane=residents.no_lane)
    why_small = _not_compact_why(small_geoms, small_drawn, cells, small_of_cell, container, community, small_ids,
                                 small_searched, parent_of=small_grid, parent_geoms=grid_geoms, parent_ids=grid_ids,
                                 divided_over=small_divided)
    findings += _shape_findings(small_geoms, small_ids, [grid_geoms[p] for p in small_grid], "subgrids", code,
                                footprints=job["bld_geoms"], not_compact=why_small)
    # honest small grids (as validate and the report): excused only when the footprint units of the
    # whole community admit no small grids, whatever base grids were drawn
    unit = unit_groups(job["bld_unit"])[0] if job.get("bld_unit") is not None else np.arange(len(hh))
    units_hh = np.bincount(unit, weights=np.asarray(hh, dtype=float)) if len(hh) else np.zeros(0)
    small_possible: bool | None = None
    for t, q, measure in small_notes:
        ftype = _SMALL_FINDING.get(t)
        if ftype is None:
            continue
        reason = ftype.replace("_", " ")
        if ftype == "community_multipart":
            reason = f"a separate part of community {code} ({int(measure)} households) in its grid joins it"
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
    if zone_of_block is not None:
        # a village's grids follow its villager groups (村民小组), one group per grid: each grid names its group
        from .rural import grid_groups

        group = grid_groups(grid_geoms, *group_zones)
        for rec, p in zip(grid_records, np.argsort(seq)):
            rec["villager_group"] = group[p]
    small_nb = _sum(small_of_cell, own_per_cell, n_small)
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
        "site_lanes": [(code, lane) for lane in site_lanes],
    }


# ------------------------------------------------------------------------------------------ steps


def _sweep_trees(g: Graph, streets: Any) -> int:
    """The sweep trees of the community's divisions (``Weights.sweep_trees``): :data:`SWEEP_TREES` where no street
    lies near the community (``streets``: those near it, None without a streets layer) and its cells' edges run
    along no street for :data:`SWEEP_NOSTREET_SHARE` of their length, else none. Their straight cuts serve a
    superblock with no street to steer the random trees' cuts (session 41); a community with streets, on its
    outline too (one block of messy footprints in a city), keeps the random trees' divisions."""
    if streets is not None and len(streets) or not g.m:
        return 0
    return SWEEP_TREES if g.nostreet.sum() >= SWEEP_NOSTREET_SHARE * g.length.sum() else 0


def _with_foreign(job: dict[str, Any]) -> dict[str, Any]:
    """The job with the pieces of other communities' buildings that lie in this community appended to its
    buildings (no households, no block: located by position), so that each is kept whole in one grid like
    any footprint; the results cover the first ``len(job["bld_pos"])`` buildings only."""
    foreign = job.get("foreign")
    if foreign is None or not len(foreign[0]):
        return job
    ids, geoms, units = foreign
    n = len(ids)
    out = dict(job)
    out["bld_ids"] = np.concatenate([np.asarray(job["bld_ids"], dtype=object), np.asarray(ids, dtype=object)])
    out["bld_geoms"] = np.concatenate([np.asarray(job["bld_geoms"], dtype=object), np.asarray(geoms, dtype=object)])
    out["bld_block"] = np.concatenate([np.asarray(job["bld_block"], dtype=object), np.full(n, None, dtype=object)])
    out["bld_households"] = np.concatenate([np.asarray(job["bld_households"], dtype=np.int64), np.zeros(n, np.int64)])
    own_units = job["bld_unit"] if job.get("bld_unit") is not None else job["bld_ids"]
    out["bld_unit"] = np.concatenate([np.asarray(own_units, dtype=object), np.asarray(units, dtype=object)])
    return out


def _blocks(job: dict[str, Any], findings: list[dict[str, Any]]):
    """The blocks to build cells on, each building's block, and (villages with groups) each block's zone
    and the zones with their names."""
    code, community = job["code"], job["geometry"]
    block_geoms, block_ids = job["block_geoms"], job["block_ids"]
    if not len(block_geoms):
        block_geoms = np.array([community], dtype=object)
        block_ids = np.array([f"{code}-B0000"], dtype=object)
    pos = {b: i for i, b in enumerate(block_ids)}
    bblock = np.array([pos.get(b, -1) if b is not None else -1 for b in job["bld_block"]], dtype=np.int64)
    zone_of_block = group_zones = None
    if job.get("groups") is not None:
        from .rural import villager_zones, zone_pieces

        zones, names, found = villager_zones(community, job["groups"][0], job["groups"][1], code)
        group_zones = (zones, names)
        findings.extend(found)
        if len(zones):
            # the units of the village: street blocks cut by the villager groups
            block_geoms, zone_of_block, piece_block = zone_pieces(zones, block_geoms)
            block_ids = np.array([f"{block_ids[b]}-Z{z + 1:03d}" for b, z in zip(piece_block, zone_of_block)], dtype=object)
            # group lines are soft: they bend around buildings (楼栋完整), as blocks do around streets
            block_geoms, keep = _bend_pieces(job, block_geoms, block_ids, findings)
            block_ids, zone_of_block = block_ids[keep], zone_of_block[keep]
            bblock = np.full(len(bblock), -1, dtype=np.int64)  # located again, by position
    return block_geoms, block_ids, bblock, zone_of_block, group_zones


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
                code: str, multipart: bool, community: Any, memo: dict | None = None
                ) -> tuple[Outcome, np.ndarray, dict[int, str], np.ndarray, np.ndarray | None]:
    """Base grids over base units; returns the solver outcome (over units), each cell's grid, the
    blocks opened into their building cells, with why (:data:`OPENED_WHY`; only these may end divided),
    each cell's unit, and the grids' cells united (:func:`~.enclosures.part_unions`, None when not
    united here), which the later steps take instead of uniting the same cells again.

    A grid still wrapped around another at the end, where what wraps is a whole block shaped as a ring
    (a compound around an inner block), is drawn again with such blocks as their building cells, so
    that a ring can be opened between buildings; kept when it has fewer such grids and no more grids
    out of bounds."""
    args = (cells, g, zone_of_block, grid_bounds, sub_bounds, weights, code, multipart, community, memo)
    out, grid_of_cell, opened, unit_of_cell, checked = _base_grids_once(*args)
    if zone_of_block is not None or not out.n_parts:
        return out, grid_of_cell, opened, unit_of_cell, None
    parts = _united(cells, grid_of_cell, out.n_parts, checked)
    holes = enclosure_count(cells.geoms, grid_of_cell, out.n_parts, community, parts=parts)
    if not holes.any():
        return out, grid_of_cell, opened, unit_of_cell, parts
    rings = set()
    for p in np.flatnonzero(holes):
        for blk in np.unique(cells.block[grid_of_cell == p]).tolist():
            mine = cells.block == blk
            if mine.sum() > 1 and foreign_holes(shapely.coverage_union_all(cells.geoms[mine]), community):
                rings.add(blk)
    if not rings:
        return out, grid_of_cell, opened, unit_of_cell, parts
    alt, alt_of_cell, alt_opened, alt_units, alt_checked = _base_grids_once(*args, split=rings)
    alt_parts = _united(cells, alt_of_cell, alt.n_parts, alt_checked)
    alt_holes = enclosure_count(cells.geoms, alt_of_cell, alt.n_parts, community, parts=alt_parts)

    def outside(o: Outcome, of_cell: np.ndarray) -> int:
        hp = np.bincount(of_cell, weights=cells.households, minlength=o.n_parts)
        return int(sum(grid_bounds.violation(x) > 0 for x in hp))

    if (alt_holes > 0).sum() < (holes > 0).sum() and outside(alt, alt_of_cell) <= outside(out, grid_of_cell):
        return alt, alt_of_cell, alt_opened, alt_units, alt_parts
    return out, grid_of_cell, opened, unit_of_cell, parts


def _united(cells: Cells, grid_of_cell: np.ndarray, n_parts: int, checked: tuple[np.ndarray, np.ndarray] | None
            ) -> np.ndarray:
    """The grids' cells united (:func:`~.enclosures.part_unions`): those ``checked`` for enclosures by
    :func:`_base_grids_once` (grid of each cell, unions) when its grids are these, else united now."""
    if checked is not None and len(checked[1]) == n_parts and np.array_equal(checked[0], grid_of_cell):
        return checked[1]
    return part_unions(cells.geoms, grid_of_cell, n_parts)


#: rounds of :func:`smoother_cells` giving blocks back their edges before all keep them
SMOOTH_ROUNDS = 4


def smoother_cells(cells: Cells, grid_of_cell: np.ndarray, n_grids: int, small_of_cell: np.ndarray, community: Any,
                   rebuild: Callable[[np.ndarray, np.ndarray], Cells]) -> np.ndarray:
    """The cells' polygons the grids and small grids are drawn with.

    The partition is drawn over cells of one point per building, whose graph the bounds were met on.
    Where the footprints of a divided block reach beyond the regions of their buildings' points, a
    boundary between small grids through the block bends around each building it passes (notches,
    ragged edges). ``rebuild(smooth, groups)`` (:func:`~.units.build_cells` with ``smooth`` per block and
    each building's small grid and grid as ``groups``) draws the edges between such a block's cells along
    the gaps between its footprints instead, where the small grids' boundaries inside it get shorter
    and the grids' no longer. A block keeps its own edges where the new ones would leave a grid or
    small grid in more pieces or wrapped around more holes (blocks are given back their edges for
    :data:`SMOOTH_ROUNDS` rounds, then all are). Every cell keeps its buildings, so no grid's or small
    grid's households change. The boundaries get shorter in all; one grid may still lose a little
    compactness where its neighbour's outline straightens."""
    # the divided blocks a boundary between small grids runs through
    pairs = np.unique(np.stack([cells.block, small_of_cell]), axis=1)
    smooth = cells.divided & (np.bincount(pairs[0], minlength=len(cells.divided)) > 1)
    if not n_grids or not smooth.any():
        return cells.geoms

    def same(alt: Cells) -> bool:
        return (len(alt) == len(cells) and np.array_equal(alt.block, cells.block)
                and np.array_equal(alt.building_cell, cells.building_cell)
                and np.array_equal(alt.households, cells.households))

    groups = np.column_stack([small_of_cell[cells.building_cell], grid_of_cell[cells.building_cell]])
    for _ in range(SMOOTH_ROUNDS):
        if not smooth.any():
            return cells.geoms
        alt = rebuild(smooth, groups)
        if alt is cells or not same(alt):
            return cells.geoms
        moved = ~shapely.equals_exact(alt.geoms, cells.geoms, tolerance=0.0)
        if not moved.any():
            return cells.geoms
        worse = np.zeros(len(cells), dtype=bool)
        grid_shape: dict[int, Any] = {}  # the grids as they were: a small grid's container
        for of, parent in ((grid_of_cell, None), (small_of_cell, grid_of_cell)):
            for q in np.unique(of[moved]).tolist():
                mine = of == q
                try:
                    new = shapely.coverage_union_all(alt.geoms[mine])
                except shapely.errors.GEOSException:  # the cells drawn along the gaps meet inexactly here (two edges
                    return cells.geoms  # 0.2 mm apart: "found two shells in EdgeRing list"): the cells as they were
                old = shapely.coverage_union_all(cells.geoms[mine])
                if parent is None:
                    grid_shape[q] = old
                    within = community
                else:
                    p = int(parent[np.flatnonzero(mine)[0]])
                    if p not in grid_shape:
                        grid_shape[p] = shapely.coverage_union_all(cells.geoms[parent == p])
                    within = grid_shape[p]
                if (shapely.get_num_geometries(new) > shapely.get_num_geometries(old)
                        or len(foreign_holes(new, within)) > len(foreign_holes(old, within))):
                    worse |= mine
        if not worse.any():
            return alt.geoms
        smooth[np.unique(cells.block[worse & moved])] = False
    return cells.geoms


def _polish_small_grids(g: Graph, geoms: np.ndarray, grid_of_cell: np.ndarray, n_grids: int, small_of_cell: np.ndarray,
                        bounds: Bounds) -> np.ndarray:
    """The small grids of each base grid made more compact (:func:`~.shapes.polish_compactness`) over
    the graph ``g`` of the cells ``geoms`` they are drawn with; households move only where neither small
    grid goes further out of ``bounds`` (as in :func:`small_division`)."""
    out = small_of_cell.copy()
    hs_all = g.h
    for p in range(n_grids):
        nodes = np.flatnonzero(grid_of_cell == p)
        ids, local = np.unique(small_of_cell[nodes], return_inverse=True)
        if len(ids) < 2:
            continue
        sub = subgraph(g, nodes)
        parent = shapely.coverage_union_all(geoms[nodes])
        new = polish_compactness(sub, geoms[nodes], local.ravel(), len(ids), parent,
                                 allow=within_bounds(hs_all[nodes], bounds))
        out[nodes] = ids[new]
    return out


def _compact_small_grids(g: Graph, geoms: np.ndarray, grid_of_cell: np.ndarray, n_grids: int,
                         small_of_cell: np.ndarray, notes: list[tuple[str, int, float]], bounds: Bounds,
                         weights: Weights, code: str) -> tuple[np.ndarray, dict[int, str]]:
    """Each small grid (小网格) under :data:`~.shapes.COMPACTNESS_FLOOR` Polsby–Popper divided afresh with a sibling
    (a small grid of the same base grid) where both come out at least that compact (:func:`~.shapes.compact_pairs`
    over the grid's cells ``geoms`` and their graph ``g``), neither further out of ``bounds``, neither wrapped round
    anything within the grid. A small grid with a note (a building over the ceiling, an isolated piece) stays as it
    is. Returns the small grid of each cell (``small_of_cell`` itself where nothing changed) and, for each small
    grid left under the floor, why no division afresh made it compact (for its finding: :func:`_not_compact_why`).

    The small grids are screened from the graph (area, and perimeter less the boundaries shared inside each), so
    only the grids holding one near or under the floor are united and searched."""
    n_small = int(small_of_cell.max()) + 1 if len(small_of_cell) else 0
    if not n_small:
        return small_of_cell, {}
    same = small_of_cell[g.a] == small_of_cell[g.b]
    inner = np.bincount(small_of_cell[g.a[same]], weights=g.length[same], minlength=n_small)
    perim = np.bincount(small_of_cell, weights=g.perim, minlength=n_small) - 2 * inner
    area = np.bincount(small_of_cell, weights=g.area, minlength=n_small)
    screened = 4 * np.pi * area / np.maximum(perim, 1e-9) ** 2 < SMALL_SCREEN * COMPACTNESS_FLOOR
    if not screened.any():
        return small_of_cell, {}
    frozen_all = _frozen(notes)
    out = small_of_cell
    why: dict[int, str] = {}
    for p in np.unique(grid_of_cell[screened[small_of_cell]]).tolist():
        nodes = np.flatnonzero(grid_of_cell == p)
        ids, local = np.unique(small_of_cell[nodes], return_inverse=True)
        local = local.ravel()
        if len(ids) < 2:
            continue
        sub = subgraph(g, nodes)
        parent = shapely.coverage_union_all(geoms[nodes])
        frozen = {k for k, q in enumerate(ids.tolist()) if q in frozen_all}
        new, searched = compact_pairs(sub, geoms[nodes], local, len(ids), parent, bounds, weights=weights,
                                      seed=seed_for(code, 53 + p), frozen=frozen, tries=SMALL_PAIR_TRIES)
        if (new != local).any():
            out = out.copy() if out is small_of_cell else out
            out[nodes] = ids[new]
        why.update({int(ids[k]): _tried_in_vain(t, small=True) for k, t in searched.items()})
    kept = {q: t for t, q, _ in notes if t in _SMALL_KEPT_WHY}
    why.update({q: f"it is kept as drawn ({_SMALL_KEPT_WHY[t]}), not divided afresh" for q, t in kept.items()
                if screened[q]})
    return out, why


#: solver notes that keep a small grid from being divided afresh for compactness (:func:`_frozen`), in words
_SMALL_KEPT_WHY = {"heavy_unit": "a building over the small-grid ceiling", "isolated": "cells with no neighbour",
                   "merged_isolated": "a separate part of the community joined to it"}


#: spanning-tree seeds tried for each pair of a small grid under the floor and a sibling (4 drew the same plans of the
#: sample town, Lujiazui and 江汉区 messy as 1, in twice the time)
SMALL_PAIR_TRIES = 1
#: small grids whose Polsby–Popper screened from the cell graph is under this multiple of the floor are united and
#: measured exactly (the graph's shared lengths miss the odd sliver of an edge)
SMALL_SCREEN = 1.05


def _wrapping_strips(cells: Cells, grid_of_cell: np.ndarray, n_parts: int, community: Any,
                     parts: np.ndarray | None = None) -> list[int]:
    """Blocks without households that lie wholly in a grid wrapped around other grids (``parts``: the grids'
    cells already united, :func:`~.enclosures.part_unions`)."""
    if not n_parts or not len(cells):
        return []
    holes = enclosure_count(cells.geoms, grid_of_cell, n_parts, community, parts=parts)
    if not holes.any():
        return []
    nb = int(cells.block.max()) + 1
    bh = np.bincount(cells.block, weights=cells.households, minlength=nb)
    out = []
    for p in np.flatnonzero(holes).tolist():
        for blk in np.unique(cells.block[grid_of_cell == p]).tolist():
            if bh[blk] == 0 and (grid_of_cell[cells.block == blk] == p).all():
                out.append(int(blk))
    return sorted(set(out))


def _frozen(notes: list[tuple[str, int, float]]) -> set[int]:
    """Parts never re-divided: a heavy unit's (a tower over the ceiling) and isolated pieces."""
    return {p for t, p, _ in notes if t in ("heavy_unit", "isolated", "merged_isolated")}


def _base_weights(weights: Weights, sub_bounds: Bounds) -> Weights:
    """The base grids' weights: some households kept above the floor, where small grids divide more easily."""
    return dataclasses.replace(weights, floor_margin=FLOOR_MARGIN_SHARE * sub_bounds.target)


def _last_resort(g: Graph, cells: Cells, unit_of_cell: np.ndarray, out: Outcome, grid_of_cell: np.ndarray,
                 community: Any, grid_bounds: Bounds, outline: Any = None, sub_bounds: Bounds | None = None,
                 weights: Weights | None = None, code: str = "", parts: np.ndarray | None = None) -> np.ndarray:
    """The last resort for a grid still wrapped around others: corridors across it found patiently (along
    a community edge matched only to floating-point noise; round the cells where a first corridor failed),
    over the same units, no grid re-divided.

    With the community's whole ``outline`` (where ``community`` is it less its dedicated grids), a grid
    wrapped round a dedicated grid is opened by :func:`~.enclosures.open_sites`: a corridor to a neighbour,
    or the two grids divided afresh (with the base grids' ``weights``; never a grid of a heavy unit or an
    isolated piece), those that keep the households of both divisible into small grids (``sub_bounds``)
    first. ``parts``: the grids' cells already united (:func:`~.enclosures.part_unions`). Updates ``out`` in
    place; returns the grid of each cell."""
    if out.n_parts < 2:
        return grid_of_cell
    parts = union_groups(cells.geoms, grid_of_cell, out.n_parts, united=parts)
    wrapped = any(foreign_holes(q, community) for q in parts)
    sites = outline is not None and outline is not community and any(foreign_holes(q, outline) for q in parts)
    if wrapped or sites:
        n_units = int(unit_of_cell.max()) + 1
        ug = contract(g, unit_of_cell, n_units)
        unit_geoms = union_groups(cells.geoms, unit_of_cell, n_units)
        labels = out.labels
        if wrapped:
            labels, _ = open_enclosures(ug, unit_geoms, labels, out.n_parts, community, grid_bounds,
                                        frozen=set(range(out.n_parts)), patient=True)
        if sites:
            def small(units: np.ndarray) -> bool:
                return sub_bounds is not None and divisible(
                    cells.households[np.isin(unit_of_cell, units)], sub_bounds.lo, sub_bounds.hi)

            base_w = None if weights is None or sub_bounds is None else _base_weights(weights, sub_bounds)
            frozen = _frozen(out.notes)
            labels, _ = open_sites(ug, unit_geoms, labels, out.n_parts, outline, grid_bounds, small=small,
                                   weights=base_w, seed=seed_for(code, 37), frozen=frozen)
        if (labels != out.labels).any():
            out.labels = labels
            out.notes = current_notes(out.notes, labels, ug.h, out.n_parts, grid_bounds)
            grid_of_cell = labels[unit_of_cell]
    return grid_of_cell


def _compact_grids(g: Graph, cells: Cells, unit_of_cell: np.ndarray, out: Outcome, grid_of_cell: np.ndarray,
                   community: Any, grid_bounds: Bounds, outline: Any, sub_bounds: Bounds, weights: Weights,
                   code: str, parts: np.ndarray | None = None) -> tuple[np.ndarray, dict[int, str]]:
    """Each grid still under :data:`~.shapes.COMPACTNESS_FLOOR` Polsby–Popper divided afresh with a neighbour
    where both come out at least that compact (:func:`~.shapes.compact_pairs`, over the same units: blocks
    stay whole), within the bounds, wrapped round nothing (``outline``: the community with its dedicated
    grids) and with no more small grids out of their bounds. Grids with a note (a tower, an isolated piece,
    out of bounds) stay as they are. Updates ``out`` in place; returns the grid of each cell and, for each
    grid left under the floor, why no division afresh made it compact (for its finding: :func:`_not_compact_why`).
    ``parts``: the grids' cells already united."""
    n = out.n_parts
    if n < 2:
        return grid_of_cell, {}
    parts = union_groups(cells.geoms, grid_of_cell, n, united=parts)
    if not (polsby_popper(parts) < COMPACTNESS_FLOOR).any():
        return grid_of_cell, {}
    n_units = int(unit_of_cell.max()) + 1
    ug = contract(g, unit_of_cell, n_units)
    unit_geoms = union_groups(cells.geoms, unit_of_cell, n_units)
    small_bad = SmallGridBadness(g, sub_bounds)
    labels = out.labels

    def keep(nodes: np.ndarray, new: np.ndarray, now: np.ndarray) -> bool:
        # no more small grids out of their bounds, nor by more households, than the two grids have now (``now``:
        # as earlier divisions afresh left them, not as they were drawn)
        def bad(units: np.ndarray) -> tuple[int, float]:
            return small_bad(np.flatnonzero(np.isin(unit_of_cell, units)))

        b0, b1 = [bad(nodes[now == k]) for k in (0, 1)], [bad(nodes[new == k]) for k in (0, 1)]
        return (b1[0][0] + b1[1][0], b1[0][1] + b1[1][1]) <= (b0[0][0] + b0[1][0], b0[0][1] + b0[1][1])

    frozen = {p for t, p, _ in out.notes if t != "attached"}
    new, searched = compact_pairs(ug, unit_geoms, labels, n, community, grid_bounds,
                                  weights=_base_weights(weights, sub_bounds), seed=seed_for(code, 41), frozen=frozen,
                                  keep=keep, outline=outline if outline is not community else None, parts=parts)
    if (new != labels).any():
        out.labels = new
        out.notes = current_notes(out.notes, new, ug.h, n, grid_bounds)
        grid_of_cell = new[unit_of_cell]
        parts = union_groups(cells.geoms, grid_of_cell, n)
    why = {p: _tried_in_vain(k) for p, k in searched.items()}
    kept = {p: t for t, p, _ in out.notes if t != "attached"}
    for p in np.flatnonzero(polsby_popper(parts) < COMPACTNESS_FLOOR).tolist():
        if p in kept:
            why[p] = f"it is kept as drawn ({_KEPT_WHY.get(kept[p], kept[p].replace('_', ' '))}), not divided afresh"
    return grid_of_cell, why


def _tried_in_vain(k: int, *, small: bool = False) -> str:
    """Why a grid (``small``: a small grid) under the compactness floor stayed so, tried afresh with ``k``
    neighbouring grids (sibling small grids of the same grid)."""
    if small:
        if k == 0:
            return ("each sibling small grid beside it is kept as it is (a building over the small-grid ceiling or a "
                    "separate piece), so none was divided afresh with it")
        with_whom = "its one sibling small grid" if k == 1 else f"any of its {k} sibling small grids"
        return (f"no division afresh with {with_whom} (within the bounds, no small grid wrapped round another) leaves "
                f"both at Polsby–Popper {COMPACTNESS_FLOOR} or more")
    if k == 0:
        return ("its neighbouring grids are each kept as they are (a tower's, a separate piece or out of bounds), so "
                "none was divided afresh with it")
    with_whom = "its one neighbouring grid" if k == 1 else f"any of its {k} neighbouring grids"
    return (f"no division afresh with {with_whom} (within the bounds, its small grids no worse, no grid wrapped round "
            f"another) leaves both at Polsby–Popper {COMPACTNESS_FLOOR} or more")


#: solver notes that keep a grid from being divided afresh for compactness, in words
_KEPT_WHY = {"heavy_unit": "a building over the grid ceiling", "below_min": "a part of the community under the floor",
             "no_feasible_count": "households no count of grids fits", "isolated": "blocks with no neighbour",
             "merged_isolated": "a separate part of the community joined to it", "out_of_bounds": "out of bounds"}


def _small_wrapping(cells: Cells, grid_of_cell: np.ndarray, small_of_cell: np.ndarray,
                    g: Graph | None = None) -> dict[int, int]:
    """Small grids wrapped around a sibling inside their grid: {small grid: its holes}. With the cell graph
    ``g``, only the grids holding a small grid that touches nothing outside them are looked at (a sibling
    inside a ring never reaches the grid's outline; the geometry is united for those grids alone)."""
    out: dict[int, int] = {}
    grids = np.unique(grid_of_cell)
    if g is not None and len(grids):
        same = grid_of_cell[g.a] == grid_of_cell[g.b]
        inner = (np.bincount(g.a[same], weights=g.length[same], minlength=g.n)
                 + np.bincount(g.b[same], weights=g.length[same], minlength=g.n))
        on_outline = (g.perim - inner) > np.maximum(0.5, 0.01 * g.perim)  # beyond the noise of shared edges
        touches = np.bincount(small_of_cell, weights=on_outline, minlength=int(small_of_cell.max()) + 1) > 0
        inside = np.flatnonzero(~touches & (np.bincount(small_of_cell) > 0))
        grids = np.unique(grid_of_cell[np.isin(small_of_cell, inside)])
    for p in grids.tolist():
        nodes = np.flatnonzero(grid_of_cell == p)
        local, inv = np.unique(small_of_cell[nodes], return_inverse=True)
        if len(local) < 2:
            continue
        parent = shapely.coverage_union_all(cells.geoms[nodes])
        holes = enclosure_count(cells.geoms[nodes], inv.ravel(), len(local), parent)
        out.update({int(local[k]): int(holes[k]) for k in np.flatnonzero(holes)})
    return out


def _wrapping_small_strips(cells: Cells, grid_of_cell: np.ndarray, small_of_cell: np.ndarray, g: Graph) -> list[int]:
    """Blocks without households that lie wholly in a small grid wrapped around a sibling."""
    wrapping = _small_wrapping(cells, grid_of_cell, small_of_cell, g)
    if not wrapping:
        return []
    nb = int(cells.block.max()) + 1
    bh = np.bincount(cells.block, weights=cells.households, minlength=nb)
    out = set()
    for q in wrapping:
        for blk in np.unique(cells.block[small_of_cell == q]).tolist():
            if bh[blk] == 0 and (small_of_cell[cells.block == blk] == q).all():
                out.add(int(blk))
    return sorted(out)


def _better_small(cells2: Cells, of2: np.ndarray, n2: int, small2: np.ndarray, cells: Cells, of1: np.ndarray, n1: int,
                  small1: np.ndarray, community: Any, grid_bounds: Bounds, sub_bounds: Bounds) -> bool:
    """Whether the second drawing has fewer small grids wrapped around a sibling, no more grids wrapped around
    others and no more grids or small grids out of their bounds."""
    def wrapped(c: Cells, of: np.ndarray, n: int) -> int:
        return int((enclosure_count(c.geoms, of, n, community) > 0).sum()) if n else 0

    def outside(c: Cells, labels: np.ndarray, bounds: Bounds) -> int:
        hp = np.bincount(labels, weights=c.households)
        return int(sum(bounds.violation(x) > 0 for x in hp[np.bincount(labels) > 0]))

    return (len(_small_wrapping(cells2, of2, small2)) < len(_small_wrapping(cells, of1, small1))
            and wrapped(cells2, of2, n2) <= wrapped(cells, of1, n1)
            and outside(cells2, of2, grid_bounds) <= outside(cells, of1, grid_bounds)
            and outside(cells2, small2, sub_bounds) <= outside(cells, small1, sub_bounds))


def _fewer_wrapped(cells2: Cells, of2: np.ndarray, n2: int, cells: Cells, of1: np.ndarray, n1: int, community: Any,
                   grid_bounds: Bounds) -> bool:
    """Whether the second drawing has fewer grids wrapped around others (as many, with fewer holes among
    them: what is left is then opened more easily by :func:`open_enclosures`) and no more out of bounds."""
    def wrapped(c: Cells, of: np.ndarray, n: int) -> tuple[int, int]:
        holes = enclosure_count(c.geoms, of, n, community) if n else np.zeros(0, dtype=np.int64)
        return int((holes > 0).sum()), int(holes.sum())

    def outside(c: Cells, of: np.ndarray, n: int) -> int:
        hp = np.bincount(of, weights=c.households, minlength=n)
        return int(sum(grid_bounds.violation(x) > 0 for x in hp))

    return wrapped(cells2, of2, n2) < wrapped(cells, of1, n1) and outside(cells2, of2, n2) <= outside(cells, of1, n1)


def _base_grids_once(cells: Cells, g: Graph, zone_of_block, grid_bounds: Bounds, sub_bounds: Bounds, weights: Weights,
                     code: str, multipart: bool, community: Any, memo: dict | None = None,
                     split: set[int] | None = None
                     ) -> tuple[Outcome, np.ndarray, dict[int, str], np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """One drawing of the base grids, with the blocks ``split`` taken as their building cells; also
    the blocks opened (:func:`base_units`, :func:`~.refine.split_blocks_for_bounds`) and why, each
    cell's unit, and the grids checked for enclosures after the reshaping (the grid of each cell and the
    grids' cells united, :func:`~.enclosures.part_unions`), for the caller to take where its grids are those."""
    opened: dict[int, str] = {}
    unit_of_cell, n_units = base_units(cells, g, grid_bounds.hi, sub_bounds, split=split, opened=opened)
    ug = contract(g, unit_of_cell, n_units)
    order = np.argsort(unit_of_cell, kind="stable")
    starts = np.searchsorted(unit_of_cell[order], np.arange(n_units + 1))
    cells_of_unit = [order[starts[u]:starts[u + 1]] for u in range(n_units)]
    if zone_of_block is not None:
        from .rural import zone_partition

        zone_of_unit = zone_of_block[cells.block[[c[0] for c in cells_of_unit]]]
        out = zone_partition(ug, zone_of_unit, grid_bounds, seed=seed_for(code), weights=weights)
        return out, out.labels[unit_of_cell], opened, unit_of_cell, None
    # base grids keep some households above the floor, where small grids divide more easily
    base_w = _base_weights(weights, sub_bounds)
    out = partition_graph(ug, grid_bounds, seed=seed_for(code), weights=base_w, merge_isolated=multipart)
    # grids still outside the bounds: divided again with their neighbours through opened blocks
    whole_units = unit_of_cell
    out, unit_of_cell, n_split = split_blocks_for_bounds(g, unit_of_cell, n_units, out, grid_bounds, base_w,
                                                         seed=seed_for(code, 17))
    if n_split != n_units:
        # the blocks of the units opened: whole blocks left no division within the bounds around them
        pairs = np.unique(np.stack([whole_units, unit_of_cell]), axis=1)
        into = np.bincount(pairs[0], minlength=n_units)
        for blk in np.unique(cells.block[into[whole_units] > 1]).tolist():
            opened.setdefault(int(blk), "bounds")
        n_units, ug = n_split, contract(g, unit_of_cell, n_split)
        order = np.argsort(unit_of_cell, kind="stable")
        starts = np.searchsorted(unit_of_cell[order], np.arange(n_units + 1))
        cells_of_unit = [order[starts[u]:starts[u + 1]] for u in range(n_units)]
    frozen = _frozen(out.notes)
    small_bad = SmallGridBadness(g, sub_bounds)
    out.labels = reshape_for_small_grids(ug, out.labels, cells_of_unit, small_bad, grid_bounds, frozen=frozen,
                                         weights=base_w)
    # no grid wrapped around another: re-divided over the same units (whole blocks stay whole)
    checked_of_cell = out.labels[unit_of_cell]
    checked = (checked_of_cell, part_unions(cells.geoms, checked_of_cell, out.n_parts))
    if enclosure_count(cells.geoms, checked_of_cell, out.n_parts, community, parts=checked[1]).any():
        unit_geoms = union_groups(cells.geoms, unit_of_cell, n_units)
        out.labels, _ = open_enclosures(ug, unit_geoms, out.labels, out.n_parts, community, grid_bounds,
                                        weights=base_w, seed=seed_for(code, 31),
                                        frozen={p for t, p, _ in out.notes if t in ("isolated", "merged_isolated")})
    # units without households go to the neighbouring grid that makes both more compact; then base
    # grids whose small grids still miss their bounds are recombined, judged by the small grids drawn
    unit_geoms = union_groups(cells.geoms, unit_of_cell, n_units)
    noted = {p for t, p, _ in out.notes if t != "attached"}
    hs = ug.h

    def allow(u: int, a: int, b: int, members: list[set[int]]) -> bool:
        # households move between grids within the base bounds, their small grids no worse
        if a in noted or b in noted:
            return False
        ha, hb = float(hs[list(members[a])].sum()), float(hs[list(members[b])].sum())
        if grid_bounds.violation(ha - hs[u]) > 0 or grid_bounds.violation(hb + hs[u]) > 0:
            return False

        def bad(units: set[int]) -> tuple[int, float]:
            return small_bad(np.concatenate([cells_of_unit[x] for x in units]))

        before = bad(members[a]), bad(members[b])
        after = bad(members[a] - {u}), bad(members[b] | {u})
        return (after[0][0] + after[1][0], after[0][1] + after[1][1]) <= (before[0][0] + before[1][0],
                                                                          before[0][1] + before[1][1])

    def misses(labels: np.ndarray) -> tuple[int, int]:
        # small grids out of bounds in all, as the small grids will be drawn
        total = [0, 0]
        for p in range(out.n_parts):
            nodes = np.flatnonzero(labels[unit_of_cell] == p)
            if len(nodes):
                m = small_division(g, cells.geoms, nodes, p, sub_bounds, weights, code, enclosures=False, memo=memo)[1]
                total[0] += m[0]
                total[1] += m[1]
        return total[0], total[1]

    def polish(labels: np.ndarray) -> np.ndarray:
        # more compact where the small grids drawn in the grids miss no more than before
        new = polish_compactness(ug, unit_geoms, labels, out.n_parts, community, allow=allow)
        return new if (new == labels).all() or misses(new) <= misses(labels) else labels

    out.labels = polish(out.labels)
    before = out.labels
    out.labels = _recombine_for_small_grids(ug, out.labels, out.n_parts, cells_of_unit, g, cells.geoms, grid_bounds,
                                            sub_bounds, weights, base_w, code, community,
                                            frozen=noted, memo=memo, badness=small_bad)
    changed = (out.labels != before).any()
    labels, fit_of_cell, fit_n, divided = _fit_small_grids(ug, out.labels, out.n_parts, cells_of_unit, g, cells,
                                                           unit_of_cell, grid_bounds, sub_bounds, weights, code,
                                                           community, small_bad, frozen=noted, memo=memo)
    if fit_of_cell is not unit_of_cell:  # blocks divided between grids: the units of the polish are new
        unit_of_cell, n_units = fit_of_cell, fit_n
        ug = contract(g, unit_of_cell, n_units)
        hs = ug.h
        order = np.argsort(unit_of_cell, kind="stable")
        starts = np.searchsorted(unit_of_cell[order], np.arange(n_units + 1))
        cells_of_unit = [order[starts[u]:starts[u + 1]] for u in range(n_units)]
        unit_geoms = union_groups(cells.geoms, unit_of_cell, n_units)
        for blk in sorted(divided):
            opened.setdefault(int(blk), "small_grids")
        changed = True
    elif (labels != out.labels).any():
        changed = True
    out.labels = labels
    if changed:
        out.labels = polish(out.labels)
    out.notes = current_notes(out.notes, out.labels, ug.h, out.n_parts, grid_bounds)
    return out, out.labels[unit_of_cell], opened, unit_of_cell, checked


def _recombine_for_small_grids(ug: Graph, labels: np.ndarray, n_parts: int, cells_of_unit: list[np.ndarray], g: Graph,
                               geoms: np.ndarray, grid_bounds: Bounds, sub_bounds: Bounds, weights: Weights,
                               base_w: Weights, code: str, community: Any, frozen: set[int],
                               memo: dict | None = None, badness: SmallGridBadness | None = None) -> np.ndarray:
    """Each base grid whose small grids miss their bounds, merged with a neighbouring grid and divided
    afresh in two (:data:`RECOMBINE_SEEDS` spanning-tree seeds, GerryChain's ReCom step), where both
    new grids keep the base bounds, wrap around no other grid, and their small grids, divided as
    :func:`small_division` divides them, miss fewer (then by fewer households). Unlike
    :func:`~.subgrids.reshape_for_small_grids`, whose count is exact only on small grids of few
    buildings, this judges by the division that will be drawn. Deterministic: grids in index order."""
    labels = labels.copy()
    cache: dict[tuple[int, tuple[int, ...]], tuple[int, int]] = {}

    def misses(p: int, units: tuple[int, ...], retries: int = SMALL_GRID_RETRIES) -> tuple[int, int]:
        key = (p, units, retries)
        if key not in cache:
            nodes = np.sort(np.concatenate([cells_of_unit[u] for u in units]))
            cache[key] = small_division(g, geoms, nodes, p, sub_bounds, weights, code, enclosures=False, memo=memo,
                                        retries=retries)[1]
        return cache[key]

    def add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        return (a[0] + b[0], a[1] + b[1])

    members = [tuple(np.flatnonzero(labels == p).tolist()) for p in range(n_parts)]
    if not all(members):
        return labels
    cur = [misses(p, members[p]) for p in range(n_parts)]
    for _ in range(RECOMBINE_ROUNDS):
        improved = False
        for A in range(n_parts):
            if cur[A] == (0, 0) or A in frozen:
                continue
            mine = labels == A
            nbrs = sorted((set(labels[ug.b[mine[ug.a]]].tolist()) | set(labels[ug.a[mine[ug.b]]].tolist()))
                          - {A} - frozen)
            best = None
            for B in nbrs:
                units = np.array(sorted(members[A] + members[B]), dtype=np.int64)
                total = float(ug.h[units].sum())
                if not (2 * grid_bounds.lo <= total <= 2 * grid_bounds.hi):
                    continue
                before = add(cur[A], cur[B])
                sub = subgraph(ug, units)
                for t in range(RECOMBINE_SEEDS):
                    split = partition_graph(sub, grid_bounds, seed=seed_for(code, 7919 * (A + 1) + 104729 * (B + 1) + t),
                                            weights=base_w)
                    if split.n_parts != 2:
                        continue
                    parts = [units[split.labels == k] for k in range(2)]
                    if any(grid_bounds.violation(float(ug.h[q].sum())) > 0 for q in parts):
                        continue
                    if members[A][0] in set(parts[1].tolist()):  # the part with A's first unit stays A
                        parts = parts[::-1]
                    pa, pb = tuple(parts[0].tolist()), tuple(parts[1].tolist())
                    if badness is not None:  # the count of the few-building grids is exact: a quick no
                        ba = badness(np.concatenate([cells_of_unit[u] for u in pa]))
                        bb = badness(np.concatenate([cells_of_unit[u] for u in pb]))
                        if ba[0] + bb[0] > before[0]:
                            continue
                    # one spanning-tree seed per new grid: the retries of the final division only do better
                    ma = misses(A, pa, 0)
                    if ma >= before or (best is not None and ma >= best[0]):
                        continue
                    mb = misses(B, pb, 0)
                    after = add(ma, mb)
                    if after >= before or (best is not None and after >= best[0]):
                        continue
                    shapes = [shapely.coverage_union_all(geoms[np.concatenate([cells_of_unit[u] for u in q])])
                              for q in (pa, pb)]
                    if any(foreign_holes(x, community) for x in shapes):
                        continue
                    best = (after, B, pa, pb, ma, mb)
                    if after == (0, 0):
                        break
                if best is not None and best[0] == (0, 0):
                    break
            if best is None:
                continue
            _, B, pa, pb, ma, mb = best
            labels[list(pa)] = A
            labels[list(pb)] = B
            members[A], members[B], cur[A], cur[B] = pa, pb, ma, mb
            improved = True
        if not improved:
            break
    return labels


def _fit_small_grids(ug: Graph, labels: np.ndarray, n_parts: int, cells_of_unit: list[np.ndarray], g: Graph,
                     cells: Cells, unit_of_cell: np.ndarray, grid_bounds: Bounds,
                     sub_bounds: Bounds, weights: Weights, code: str, community: Any, badness: SmallGridBadness, *,
                     frozen: set[int], memo: dict | None = None) -> tuple[np.ndarray, np.ndarray, int, set[int]]:
    """Base grids whose small grids still miss their bounds, redrawn two or three at a time by tree
    cuts (:func:`~.packfit.fit_small_grids`): first over the base units; where small grids still miss,
    again with the whole blocks of those grids and of their neighbours opened into their building
    cells (a block that then lies in one grid is whole again). A redrawing is kept where no new grid
    is wrapped around another, no more are less compact than :data:`COMPACTNESS_REPORT` (Polsby–Popper)
    than were, and the small grids :func:`small_division` draws in the new grids miss fewer
    (then by fewer households) than in the old.

    Returns the labels over the units, the unit of each cell and their number (new units when blocks
    were divided), and the blocks divided."""
    if not divisible(cells.households, sub_bounds.lo, sub_bounds.hi):
        # the buildings of the whole community make no small grids within the bounds, however grouped
        return labels, unit_of_cell, ug.n, set()
    drawn_cache: dict[tuple[int, bytes], tuple[int, int]] = {}
    pp_cache: dict[bytes, float] = {}
    # the divisions are screened by a cheaper count (exact up to FIT_EXACT_CELLS cells), then checked as drawn
    screen = SmallGridBadness(g, sub_bounds, max_exact=FIT_EXACT_CELLS)

    def drawn(p: int, nodes: np.ndarray, retries: int = SMALL_GRID_RETRIES) -> tuple[int, int]:
        key = (p, retries, nodes.tobytes())
        if key not in drawn_cache:
            drawn_cache[key] = small_division(g, cells.geoms, nodes, p, sub_bounds, weights, code,
                                              enclosures=False, memo=memo, retries=retries)[1]
        return drawn_cache[key]

    def shape_ok(nodes: np.ndarray) -> tuple[bool, float]:
        key = nodes.tobytes()
        if key not in pp_cache:
            shape = shapely.coverage_union_all(cells.geoms[nodes]) if len(nodes) > 1 else cells.geoms[nodes[0]]
            holes = foreign_holes(shape, community)
            pp_cache[key] = -1.0 if holes else 4 * np.pi * shapely.area(shape) / max(shapely.length(shape), 1e-9) ** 2
        return pp_cache[key] >= 0, pp_cache[key]

    def run(ug: Graph, labels: np.ndarray, cells_of_unit: list[np.ndarray]) -> np.ndarray:
        def nodes_of(units: np.ndarray) -> np.ndarray:
            return np.sort(np.concatenate([cells_of_unit[u] for u in units]))

        def accept(old: dict[int, np.ndarray], new: dict[int, np.ndarray]) -> bool:
            shapes = [shape_ok(nodes_of(u)) for u in new.values()]
            thin_before = sum(shape_ok(nodes_of(u))[1] < COMPACTNESS_REPORT for u in old.values())
            if not all(whole for whole, _ in shapes) or sum(pp < COMPACTNESS_REPORT for _, pp in shapes) > thin_before:
                return False
            before = [drawn(p, nodes_of(u)) for p, u in old.items()]
            limit = (sum(m[0] for m in before), sum(m[1] for m in before))
            # one spanning-tree seed per new grid (the retries of the final division only do better),
            # given up as soon as the new grids miss more than the old
            after = [0, 0]
            for p, u in new.items():
                m = drawn(p, nodes_of(u), 0)
                after = [after[0] + m[0], after[1] + m[1]]
                if after[0] > limit[0]:
                    return False
            return tuple(after) < limit

        return fit_small_grids(ug, labels, n_parts, cells_of_unit, screen, grid_bounds, frozen=frozen,
                               accept=accept, wanted=lambda p, units: drawn(p, nodes_of(units)) != (0, 0),
                               seed=seed_for(code, 53), sub_bounds=sub_bounds, cell_households=cells.households)

    labels = run(ug, labels, cells_of_unit)
    n_units = ug.n
    cell_part = labels[unit_of_cell]
    still = [p for p in range(n_parts) if p not in frozen and (cell_part == p).any()
             and drawn(p, np.flatnonzero(cell_part == p)) != (0, 0)]
    if not still:
        return labels, unit_of_cell, n_units, set()
    # the whole blocks of those grids and of the grids around them, opened into their building cells
    ca, cb = cell_part[g.a], cell_part[g.b]
    hit = np.isin(ca, still) | np.isin(cb, still)
    near = (set(still) | set(ca[hit].tolist()) | set(cb[hit].tolist())) - frozen
    sizes = np.array([len(c) for c in cells_of_unit])
    open_cell = np.isin(cell_part, sorted(near)) & (sizes[unit_of_cell] > 1)
    if not open_cell.any():
        return labels, unit_of_cell, n_units, set()
    fine, n_fine = open_units(unit_of_cell, open_cell)
    order = np.argsort(fine, kind="stable")
    starts = np.searchsorted(fine[order], np.arange(n_fine + 1))
    cells_of_fine = [order[starts[u]:starts[u + 1]] for u in range(n_fine)]
    fine_labels = np.zeros(n_fine, dtype=np.int64)
    fine_labels[fine] = cell_part
    new = run(contract(g, fine, n_fine), fine_labels, cells_of_fine)
    if (new == fine_labels).all():
        return labels, unit_of_cell, n_units, set()
    cell_new = new[fine]
    unit2, n2, split_unit = whole_again(unit_of_cell, n_units, cell_new)
    labels2 = np.zeros(n2, dtype=np.int64)
    labels2[unit2] = cell_new
    divided = set(np.unique(cells.block[split_unit[unit_of_cell]]).tolist())
    return labels2, unit2, n2, divided


def base_units(cells: Cells, g: Graph, grid_max: int, sub_bounds: Bounds | None = None,
               split: set[int] | None = None, opened: dict[int, str] | None = None) -> tuple[np.ndarray, int]:
    """Units of the base grids: a block of at most ``grid_max`` households whole (each connected piece
    of it), a larger block as its building cells. Numbered in order of their first cell.

    With ``sub_bounds``, a block whose buildings admit no small grids within those bounds on their own
    (a tower of 220 and 74 households of walk-ups beside it: the 74 can make no small grid) is also
    taken as its building cells, so that the base grids can share it with a neighbouring block. So are
    the blocks ``split`` (indices). ``opened``, when given, receives each block taken as its building
    cells and why: ``over`` (over ``grid_max``), ``small`` (no small grids on their own), ``ring``
    (``split``)."""
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
    if opened is not None:
        for b in np.flatnonzero(~whole_block).tolist():
            opened.setdefault(b, "over" if bh[b] > grid_max else "small")
    if split:
        whole_block[sorted(split)] = False
        if opened is not None:
            for b in sorted(split):
                opened.setdefault(int(b), "ring")
    if cells.strip is not None and cells.strip.any():  # strips cut into pieces (build_cells(strips=...))
        strip = np.flatnonzero(cells.strip[:nblocks])
        whole_block[strip] = False
        if opened is not None:
            for b in strip.tolist():
                opened.setdefault(int(b), "strip")
    whole = whole_block[cells.block]
    same = (cells.block[g.a] == cells.block[g.b]) & whole[g.a]
    mat = coo_matrix((np.ones(int(same.sum())), (g.a[same], g.b[same])), shape=(n, n))
    _, lab = connected_components(mat, directed=False)
    _, first, inv = np.unique(lab, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inv.ravel()], len(first)


def _small_grids(g: Graph, geoms: np.ndarray, grid_of_cell: np.ndarray, n_grids: int, bounds: Bounds,
                 weights: Weights, code: str, memo: dict | None = None) -> tuple[np.ndarray, list[tuple[str, int, float]]]:
    """Small grids inside each base grid: labels over all cells, notes with those labels."""
    labels = np.full(len(grid_of_cell), -1, dtype=np.int64)
    notes: list[tuple[str, int, float]] = []
    base = 0
    exact: SmallGridBadness | None = None
    for p in range(n_grids):
        nodes = np.flatnonzero(grid_of_cell == p)
        if not len(nodes):
            continue
        out, misses = small_division(g, geoms, nodes, p, bounds, weights, code, memo=memo)
        if misses[0] > 0:
            # the division drawn misses more small grids than the grid's cells need to (the exact count, up
            # to SMALL_EXACT_CELLS cells with households): that exact division drawn instead, where it misses fewer
            exact = exact or SmallGridBadness(g, bounds)
            if exact(nodes)[0] < misses[0]:
                start = exact_small_division(g, nodes, bounds)
                if start is not None and _small_misses(start, g.h[nodes], bounds) < misses:
                    alt, alt_misses = small_division(g, geoms, nodes, p, bounds, weights, code, start=start)
                    if alt_misses < misses:
                        out = alt
        labels[nodes] = base + out.labels
        notes.extend((t, base + q, m) for t, q, m in out.notes)
        base += out.n_parts
    return labels, notes


def _lanes_cut(grid_geoms: np.ndarray, small_geoms: np.ndarray, small_grid: np.ndarray, container: Any,
               community: Any, footprints: np.ndarray, *, zoned: bool, open_to: Any = None,
               residents: Residents, dedicated: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, list, Residents]:
    """Grids and small grids with a lane between the buildings cut across any still wrapped round another
    (:func:`~.enclosures.cut_grid_lanes`, :func:`~.enclosures.cut_lanes`), never reaching the community's
    edge or a dedicated grid's, but for a lane from a dedicated grid's site (专属网格) that no lane to a
    neighbour opens, to the community's edge (:func:`~.enclosures.cut_site_lanes`); a lane from a site, to a
    neighbour or to the edge, is the site's way out to the street and the site takes it;
    ``open_to``: land held by grids not divided here (a re-division's kept grids), whose rings get lanes to a
    neighbour, as the sites' rings do. A ring that only lanes crossing one of its small grids with buildings on
    both sides would open gets such a lane as the last resort, that small grid redrawn round it where the small
    grids stay as many within their bounds (:func:`~.enclosures.cut_lanes_redrawing`; ``residents``: the cells,
    their households and small grids). Returns both levels, the grid of each small grid, the lanes the sites take
    and ``residents`` after the redrawing; all as they were (and no lane) should the lanes leave either level not a
    clean coverage. ``dedicated``: the polygons of the community's dedicated grids (default: the parts of the land
    carved out for them), each lane to a neighbour measured with the one it joins
    (:func:`~.enclosures.site_keeps_shape`)."""
    n_grids, n_small = len(grid_geoms), len(small_geoms)
    fixed = shapely.union(shapely.boundary(container), shapely.boundary(community))
    # the whole community's land the grids here do not tile, less a re-division's kept grids: the dedicated
    # grids' sites (专属网格) carved out first
    sites = None
    if container is not community:
        away = shapely.difference(container, community)
        sites = away if open_to is None else shapely.difference(away, open_to)
        open_to = away
    lanes: list = []
    to_sites: list = []
    g2, s2 = grid_geoms, small_geoms
    if n_grids > 1 and not zoned:  # grids following villager groups keep their lines as drawn
        g2, s2, _, lanes, to_sites, _ = _cut_grid_lanes(g2, container, s2, small_grid, footprints, fixed=fixed,
                                                        open_to=open_to, to_rim=True, sites=sites,
                                                        site_grids=_with_lanes(dedicated, sites, []))
    if sites is not None and not zoned and shapely.area(sites) > 0:
        g2, s2, to_rim = cut_site_lanes(g2, container, s2, small_grid, footprints, sites=sites, fixed=fixed)
        lanes, to_sites = lanes + to_rim, to_sites + to_rim
    grid2, res2 = small_grid, residents
    if not zoned and any(foreign_holes(x, container) for x in g2 if not shapely.is_empty(x)):
        g2, s2, grid2, more, more_sites, res2 = cut_lanes_redrawing(
            g2, container, s2, small_grid, footprints, residents, fixed=fixed, open_to=open_to,
            sites=sites, site_grids=_with_lanes(dedicated, sites, to_sites))
        lanes, to_sites = lanes + more, to_sites + more_sites
    n_small = len(s2)
    if n_small > n_grids:
        s2, more = cut_lanes(s2, grid2, g2, footprints, fixed=fixed)
        lanes += more
    if not lanes:  # (with the rings kept for their small grids, which the findings tell)
        return grid_geoms, small_geoms, small_grid, [], res2
    g3, s3 = node_lanes(g2, lanes), node_lanes(s2, lanes)
    if open_to is not None and not (shapely.coverage_is_valid(g3) and shapely.coverage_is_valid(s3)):
        # a lane to a neighbour rebuilds the ring and the neighbour, whose far edges the noding of their lines
        # can move by a micrometre against the grids beside them: every polygon rebuilt from one linework
        g3, s3 = node_lanes(g2, lanes, within=np.inf), node_lanes(s2, lanes, within=np.inf)
    same = all(np.allclose(shapely.area(a), shapely.area(b), rtol=0, atol=1e-6 * max(shapely.area(container), 1.0))
               and (shapely.get_num_geometries(a) <= np.maximum(shapely.get_num_geometries(b), 1)).all()
               for a, b in ((g3, g2), (s3, s2)))
    if not same or not (shapely.coverage_is_valid(g3) and shapely.coverage_is_valid(s3)) and (
            shapely.coverage_is_valid(grid_geoms) and shapely.coverage_is_valid(small_geoms)):
        return grid_geoms, small_geoms, small_grid, [], residents
    return g3, s3, grid2, to_sites, res2


def small_division(g: Graph, geoms: np.ndarray, nodes: np.ndarray, p: int, bounds: Bounds, weights: Weights,
                   code: str, *, enclosures: bool = True, memo: dict | None = None,
                   retries: int = SMALL_GRID_RETRIES, start: Outcome | None = None) -> tuple[Outcome, tuple[int, int]]:
    """The small grids of base grid ``p`` (its cells ``nodes``), labels over ``nodes``, and their misses
    (:func:`_small_misses`). ``memo`` keeps the solver's divisions (before enclosures are opened) for
    another call with the same grid and cells. ``start``, when given, is the division taken instead of
    the solver's (:func:`exact_small_division`)."""
    key = (p, retries, np.asarray(nodes, dtype=np.int64).tobytes())
    known = memo.get(key) if memo is not None and start is None else None
    # the induced graph is not needed to answer a division kept in the memo, without enclosures
    sub = subgraph(g, nodes) if known is None or enclosures else None
    if start is not None:
        out = Outcome(start.labels.copy(), start.n_parts, list(start.notes))
        misses = _small_misses(out, sub.h, bounds)
    elif known is not None:
        labels0, n0, notes0, misses = known
        out = Outcome(labels0.copy(), n0, list(notes0))
    else:
        # a grid drawn over separate parts of its community (a part too small for a grid joined the nearest
        # grid) keeps a crumb of a part in the nearest of its small grids, as the grids do: no small grid of it
        out = partition_graph(sub, bounds, seed=seed_for(code, p + 1), weights=weights, merge_isolated=True)
        # a division with small grids out of bounds: other spanning-tree seeds, the fewest misses kept
        misses = _small_misses(out, sub.h, bounds)
        for retry in range(1, retries + 1):
            if misses == (0, 0):
                break
            alt = partition_graph(sub, bounds, seed=seed_for(code, (p + 1) + 100_003 * retry), weights=weights,
                                  merge_isolated=True)
            alt_misses = _small_misses(alt, sub.h, bounds)
            if alt_misses < misses:
                out, misses = alt, alt_misses
        if memo is not None:
            memo[key] = (out.labels.copy(), out.n_parts, list(out.notes), misses)
    if enclosures and out.n_parts > 1:  # no small grid wrapped around another inside its grid
        frozen = _frozen(out.notes)
        parent = shapely.coverage_union_all(geoms[nodes]) if len(nodes) > 1 else geoms[nodes[0]]
        out.labels, left = open_enclosures(sub, geoms[nodes], out.labels, out.n_parts, parent, bounds,
                                           weights=weights, seed=seed_for(code, p + 1), frozen=frozen)
        if left:  # the last resort: corridors found patiently, no small grid re-divided
            out.labels, _ = open_enclosures(sub, geoms[nodes], out.labels, out.n_parts, parent, bounds,
                                            frozen=set(range(out.n_parts)), patient=True)
        # households move between small grids only where neither goes further out of its bounds
        out.labels = polish_compactness(sub, geoms[nodes], out.labels, out.n_parts, parent,
                                        allow=within_bounds(sub.h, bounds))
        misses = _small_misses(out, sub.h, bounds)
    out.notes = current_notes(out.notes, out.labels, g.h[nodes] if sub is None else sub.h, out.n_parts, bounds)
    return out, misses


def exact_small_division(g: Graph, nodes: np.ndarray, bounds: Bounds, budget: int = 20_000) -> Outcome | None:
    """The small grids of the cells ``nodes`` with the fewest out of ``bounds``, found exactly (the division
    :class:`~.subgrids.SmallGridBadness` counts): each cell over the ceiling alone, the others grouped
    by the programme, each region of cells without households with the neighbour it shares most boundary
    with. ``None`` over :data:`SMALL_EXACT_CELLS` cells with households or ``budget`` steps, or where a
    group would not be connected. Labels over ``nodes``."""
    sub = subgraph(g, nodes)
    h = sub.h.astype(np.int64)
    n = sub.n
    adj: list[dict[int, float]] = [dict() for _ in range(n)]
    for a, b, L in zip(sub.a.tolist(), sub.b.tolist(), sub.length.tolist(), strict=True):
        adj[a][b] = adj[a].get(b, 0.0) + L
        adj[b][a] = adj[b].get(a, 0.0) + L
    live = [v for v in range(n) if 0 < h[v] <= bounds.hi]
    if not live or len(live) > SMALL_EXACT_CELLS:
        return None
    idx = {v: i for i, v in enumerate(live)}
    nb = [0] * len(live)
    for v in live:
        for u in adj[v]:
            if u in idx:
                nb[idx[v]] |= 1 << idx[u]
    regions: list[tuple[list[int], dict[int, float]]] = []
    seen: set[int] = set()
    for z in range(n):
        if h[z] != 0 or z in seen:
            continue
        region, stack = [], [z]
        seen.add(z)
        while stack:
            x = stack.pop()
            region.append(x)
            for y in adj[x]:
                if h[y] == 0 and y not in seen:
                    seen.add(y)
                    stack.append(y)
        shared: dict[int, float] = {}
        for x in region:
            for y, L in adj[x].items():
                if h[y] > 0:
                    shared[y] = shared.get(y, 0.0) + L
        regions.append((region, shared))
        near = {y: L for y, L in shared.items() if y in idx}
        if near:  # as SmallGridBadness: the region joins its anchor, through which its other neighbours reach it
            anchor = max(sorted(near), key=lambda y: near[y])
            for y in near:
                if y != anchor:
                    nb[idx[anchor]] |= 1 << idx[y]
                    nb[idx[y]] |= 1 << idx[anchor]
    hl = [int(h[v]) for v in live]
    lo, hi, target = bounds.lo, bounds.hi, bounds.target
    steps = [0]
    memo: dict[int, tuple[int, float, int]] = {}

    def sets(mask: int) -> list[tuple[int, int]]:
        return connected_sets(mask, hl, nb, hi, steps, budget)

    def best(mask: int) -> tuple[int, float, int]:
        # (misses, households missed, the set taken first)
        if mask == 0:
            return (0, 0.0, 0)
        got = memo.get(mask)
        if got is not None:
            return got
        result = (len(hl) + 1, math.inf, 0)
        cands = sets(mask)
        cands.sort(key=lambda c: (c[1] < lo, abs(c[1] - target) if c[1] >= lo else -c[1]))
        for S, hS in cands:
            rest = best(mask & ~S)
            cand = (rest[0] + (hS < lo), rest[1] + max(lo - hS, 0), S)
            if cand[:2] < result[:2]:
                result = cand
                if result[:2] == (0, 0.0):
                    break
        memo[mask] = result
        return result

    try:
        mask = (1 << len(live)) - 1
        best(mask)
    except (BudgetExceeded, RecursionError):
        return None
    labels = np.full(n, -1, dtype=np.int64)
    k = 0
    while mask:
        S = memo[mask][2]
        for i in range(len(live)):
            if S >> i & 1:
                labels[live[i]] = k
        k += 1
        mask &= ~S
    notes: list[tuple[str, int, float]] = []
    for v in range(n):
        if h[v] > hi:
            labels[v] = k
            notes.append(("heavy_unit", k, float(h[v])))
            k += 1
    for region, shared in regions:
        near = {y: L for y, L in shared.items() if y in idx}
        pick = near or shared
        if not pick:
            return None
        labels[region] = labels[max(sorted(pick), key=lambda y: pick[y])]
    if (labels < 0).any():
        return None
    for q in range(k):  # every group connected, or no division
        mine = np.flatnonzero(labels == q)
        inside = set(mine.tolist())
        reach, stack = {int(mine[0])}, [int(mine[0])]
        while stack:
            x = stack.pop()
            for y in adj[x]:
                if y in inside and y not in reach:
                    reach.add(y)
                    stack.append(y)
        if len(reach) != len(mine):
            return None
    out = Outcome(labels, k, notes)
    out.notes = current_notes(out.notes, out.labels, sub.h, k, bounds)
    return out


#: cells with households up to which :func:`exact_small_division` draws a base grid's small grids
SMALL_EXACT_CELLS = 16

#: solver notes of a part outside its bounds: kept only while the part is outside them
_BOUNDS_NOTES = ("out_of_bounds", "no_feasible_count", "below_min")
#: notes that explain a part outside its bounds (no ``out_of_bounds`` added; as the solver's)
_EXPLAINED = ("heavy_unit", "below_min", "no_feasible_count", "isolated", "group_below_min", "out_of_bounds")


def current_notes(notes: list[tuple[str, int, float]], labels: np.ndarray, h: np.ndarray, n_parts: int,
                  bounds: Bounds) -> list[tuple[str, int, float]]:
    """Solver notes brought up to date after households moved between parts (reshaping, opened
    rings, compactness polish, recombination): ``out_of_bounds``, ``no_feasible_count`` and
    ``below_min`` of a part now within ``bounds`` dropped, the measure of ``out_of_bounds`` and
    ``below_min`` the part's households now (that of ``no_feasible_count`` stays the households of
    the whole component), and ``out_of_bounds`` for a part now outside them with no note saying why."""
    hp = np.bincount(labels, weights=h, minlength=n_parts)
    used = np.bincount(labels, minlength=n_parts) > 0
    kept = []
    for t, p, m in notes:
        if t in _BOUNDS_NOTES:
            if bounds.violation(hp[p]) == 0:
                continue
            if t != "no_feasible_count":
                m = float(hp[p])
        kept.append((t, p, m))
    explained = {p for t, p, _ in kept if t in _EXPLAINED}
    kept += [("out_of_bounds", p, float(hp[p])) for p in range(n_parts)
             if used[p] and p not in explained and bounds.violation(hp[p]) > 0]
    return kept


def _with_lanes(dedicated: Any, sites: Any, lanes: list) -> np.ndarray | None:
    """The dedicated grids' polygons (专属网格; the parts of ``sites`` where ``dedicated`` is None), each with the
    ``lanes`` it has taken so far (:func:`~.enclosures.site_of_lane`); None without sites."""
    if sites is None:
        return None
    grids = np.asarray(shapely.get_parts(sites) if dedicated is None else dedicated, dtype=object).copy()
    if not len(grids):
        return None
    for lane in lanes:
        d = site_of_lane(grids, lane)
        grids[d] = shapely.union(grids[d], lane)
    return grids


#: a grid less compact than this (Polsby–Popper 4πA/P²) is reported, with what forces its shape
COMPACTNESS_REPORT = COMPACTNESS_FLOOR


def _walled_in(holes: list, footprints: Any) -> bool:
    """Whether the edge of every hole lies within :data:`~.enclosures.LANE_CLEARANCE_M` of footprints outside
    it: no lane between the buildings can open it."""
    fp = np.asarray(footprints, dtype=object)
    for hole in holes:
        near = fp[shapely.dwithin(fp, hole, LANE_CLEARANCE_M)]
        near = near[~shapely.covered_by(near, shapely.buffer(hole, 1e-3))]
        edge = shapely.get_exterior_ring(hole)
        if not len(near) or shapely.length(shapely.difference(edge, shapely.union_all(
                shapely.buffer(near, LANE_CLEARANCE_M)))) > 1e-6:
            return False
    return True


def _shape_findings(geoms: np.ndarray, ids: np.ndarray, containers: list, layer: str, code: str, *,
                    carved: Any = None, zoned: bool = False, footprints: Any = None,
                    small_kept: frozenset[int] = frozenset(), not_compact: dict[int, str] | None = None,
                    no_lane: dict[int, Any] | None = None) -> list[dict[str, Any]]:
    """A grid wrapped around another (a hole its container does not have) and a grid under
    :data:`COMPACTNESS_REPORT` Polsby–Popper, each a finding. ``carved``: the community less its dedicated
    grids, where the containers are the whole community (a hole of ``carved`` holds dedicated grids).
    ``zoned``: the grids follow villager groups (村民小组), as drawn. ``small_kept``: grids kept wrapped because
    every lane opening them cuts a small grid with buildings on both sides, which redrawn round the lane would
    leave fewer small grids within their bounds (:func:`~.enclosures.cut_lanes_redrawing`). ``not_compact``: for each
    grid under :data:`COMPACTNESS_REPORT`, what forces its shape (:func:`_not_compact_why`). ``no_lane``: for each
    grid left wrapped round a dedicated grid's site, the lanes from the site tried and why each was refused
    (:attr:`~.enclosures.Residents.no_lane`, put in words by :func:`~.enclosures.no_lane_why`)."""
    found = []
    word = "grid" if layer == "grids" else "small grid"
    pp = polsby_popper(geoms)
    for q in range(len(geoms)):
        holes = foreign_holes(geoms[q], containers[q])
        if holes:
            dedicated = len(holes) - len(foreign_holes(geoms[q], carved)) if carved is not None else 0
            walled = footprints is not None and _walled_in(holes, footprints)
            why = ("the buildings round it leave no way out of the hole without cutting one (a tower in a podium), "
                   "and no division within the bounds without it was found" if walled and dedicated == 0 else
                   "no division within the bounds without it was found" if dedicated == 0 else
                   ("it holds a dedicated grid (专属网格) enclosed by the community's other blocks, " if len(holes) == 1
                    else f"{dedicated} of them hold dedicated grids (专属网格) enclosed by the community's other blocks, ")
                   + ("and it is the community's only ordinary grid" if len(geoms) == 1 else
                      "and the grids follow the villager groups (村民小组) as drawn" if zoned else
                      "and neither a corridor to another grid nor a division afresh opened them within the "
                      "bounds") + (
                       "; for the others no division within the bounds without them was found"
                       if dedicated < len(holes) else ""))
            if dedicated and no_lane and q in no_lane and not zoned:
                why += f"; nor a lane between the buildings: {no_lane_why(no_lane[q])}"
            if q in small_kept:
                why += ("; lanes between the buildings would open it, but each cuts one of its small grids (小网格) "
                        "into pieces holding buildings, and redrawn round such a lane its small grids would be fewer "
                        "within their bounds")
            found.append(_finding("grid_encloses_grid", "warning", layer, code, ids[q], float(len(holes)),
                                  f"{word} {ids[q]} is wrapped around {counted(len(holes), 'hole')} held by other grids: "
                                  f"{why}; redraw by hand if needed", shapely.point_on_surface(holes[0])))
        if pp[q] < COMPACTNESS_REPORT:
            forced = (f"forced: {not_compact[q]}" if not_compact is not None and q in not_compact else
                      "what forces its shape was not measured")
            found.append(_finding("grid_not_compact", "info", layer, code, ids[q], round(float(pp[q]), 3),
                                  f"{word} {ids[q]} has Polsby–Popper {pp[q]:.3f} (under {COMPACTNESS_REPORT}), a long "
                                  f"or ragged shape; {forced}; check it on the map", shapely.point_on_surface(geoms[q])))
    return found


#: a neighbouring grid this much of which lies within a grid's convex hull is one the grid is drawn round
WRAPPED_SHARE = 0.5


def _not_compact_why(grid_geoms: np.ndarray, drawn: np.ndarray, cells: Cells, grid_of_cell: np.ndarray,
                     container: Any, community: Any, grid_ids: np.ndarray, divided: dict[int, str], *,
                     zoned: bool = False, parent_of: np.ndarray | None = None, parent_geoms: np.ndarray | None = None,
                     parent_ids: np.ndarray | None = None,
                     divided_over: tuple[np.ndarray, np.ndarray] | None = None) -> dict[int, str]:
    """For each grid under :data:`COMPACTNESS_REPORT` Polsby–Popper, what forces its shape, in words, every
    cause that holds (all measured here, in the metric CRS): the community itself as thin (``container``);
    its blocks all as thin (the grid's piece of each); a lane cut across it to open a ring (``drawn``: the grids
    before the lanes); a neighbouring grid it is drawn round (over :data:`WRAPPED_SHARE` of that grid within its
    convex hull); why no division afresh with a neighbour made it compact (``divided``, from
    :func:`_compact_grids`), or, a grid at least that compact over whole cells when it was divided, that its
    edges were drawn later; grids following villager groups (``zoned``) as drawn.

    Small grids (小网格): ``grid_geoms`` are the small grids, ``grid_of_cell`` the small grid of each cell,
    ``parent_of`` the grid of each small grid (``parent_geoms``, ``parent_ids``: the grids); the grid takes the
    community's place (its own Polsby–Popper), the neighbours looked at are its siblings, ``divided`` comes from
    :func:`_compact_small_grids`; a small grid not in it (its screen from the cell graph passed it over, or it was
    measured at least the floor there) has its Polsby–Popper as divided then measured over ``divided_over`` (the
    cells and the small grid of each cell as :func:`_compact_small_grids` left them)."""
    pp = polsby_popper(grid_geoms)
    low = np.flatnonzero(pp < COMPACTNESS_REPORT).tolist()
    if not low:
        return {}
    small = parent_of is not None
    word = "small grid" if small else "grid"
    whole = polsby_popper(parent_geoms) if small else np.array([polsby_popper(np.array([container], dtype=object))[0]])
    out: dict[int, str] = {}
    for p in low:
        reasons = []
        up = int(parent_of[p]) if small else 0
        if whole[up] < COMPACTNESS_REPORT:
            reasons.append(f"its grid {parent_ids[up]} itself has Polsby–Popper {whole[up]:.3f}" if small else
                           f"the community itself has Polsby–Popper {whole[up]:.2f}")
        within = parent_geoms[up] if small else container
        mine = np.flatnonzero(grid_of_cell == p)
        blocks, of = np.unique(cells.block[mine], return_inverse=True)
        best = float(polsby_popper(union_by(cells.geoms[mine], of.ravel(), len(blocks), coverage=True)).max())
        if best < COMPACTNESS_REPORT:
            reasons.append(f"it is one block, itself of Polsby–Popper {best:.2f}" if len(blocks) == 1 else
                           f"its blocks are thin: the best Polsby–Popper of any of its {len(blocks)} blocks is {best:.2f}")
        holes = foreign_holes(drawn[p], within) if p < len(drawn) else []
        if holes and len(foreign_holes(grid_geoms[p], within)) < len(holes):
            site = any(shapely.area(shapely.intersection(h, community)) < 0.5 * shapely.area(h) for h in holes)
            filled = shapely.union_all(shapely.polygons(shapely.get_exterior_ring(shapely.get_parts(drawn[p]))))
            reasons.append(f"it was wrapped round {'a dedicated grid (专属网格)' if site else 'another ' + word}, and the "
                           f"lane cut across it to open the ring leaves it long (its outline, the ring's hole filled, has "
                           f"Polsby–Popper {float(polsby_popper(np.array([filled], dtype=object))[0]):.2f})")
        near = np.flatnonzero(shapely.intersects(grid_geoms, grid_geoms[p]))
        near = near[(near != p) & (parent_of[near] == up)] if small else near[near != p]
        if len(near):
            inside = shapely.area(shapely.intersection(shapely.convex_hull(grid_geoms[p]), grid_geoms[near]))
            share = inside / np.maximum(shapely.area(grid_geoms[near]), 1e-9)
            if share.max() > WRAPPED_SHARE:
                q = int(near[np.argmax(share)])
                reasons.append(f"it is drawn round {word} {grid_ids[q]} ({share.max():.0%} of which lies within its "
                               "convex hull)")
        if zoned:
            reasons.append("the grids follow the villager groups (村民小组) as drawn")
        elif small and not (parent_of == up).sum() > 1:
            reasons.append("it is its grid's only small grid, of the grid's shape")
        elif p in divided:
            reasons.append(divided[p])
        elif small and p >= len(drawn):
            reasons.append("it is a piece of a small grid redrawn round a lane cut across its grid's ring")
        elif small:
            geoms_then, small_then = divided_over
            then = float(polsby_popper(np.array([shapely.coverage_union_all(geoms_then[small_then == p])],
                                                dtype=object))[0])
            reasons.append(f"as divided over its cells it had Polsby–Popper {then:.3f}; the slivers given to its "
                           "neighbours and the lanes cut since make it less" if then >= COMPACTNESS_FLOOR else
                           f"as divided over its cells it had Polsby–Popper {then:.3f} already, and it was not divided "
                           "afresh with a sibling")
        else:
            reasons.append(f"as divided over whole blocks and building cells it had Polsby–Popper {COMPACTNESS_REPORT} "
                           "or more; its edges drawn between the buildings and round its small grids make it less")
        out[p] = "; ".join(reasons)
    return out


def _small_misses(out: Outcome, h: np.ndarray, bounds: Bounds) -> tuple[int, int]:
    """(parts out of bounds, households they miss by), parts of one unit over the ceiling aside."""
    hp = np.bincount(out.labels, weights=h, minlength=out.n_parts)
    # a building over the ceiling alone is exempt; with walk-ups attached to it, it is a miss (as counted)
    heavy = {p for t, p, m in out.notes if t == "heavy_unit" and hp[p] == m}
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
            least = None
            if grid_h[p] < r.grid_min and ctx.get("graph") is not None:
                if "nbrs" not in ctx:  # once per community
                    ctx["nbrs"] = _neighbours(ctx["graph"])
                least = forced_under_floor(ctx["graph"], cells, grid_of_cell, p, ctx.get("unit"), r.grid_max,
                                           nbrs=ctx["nbrs"], multipart=ctx.get("multipart", False))
            if least is not None:  # FORCED_UNDER_FLOOR: the quality figures count it apart (an exemption)
                found.append(_finding(FORCED_UNDER_FLOOR, "warning", "grids", code, gid, measure,
                                      f"grid {gid} has {int(measure)} households, under {r.grid_min}, forced: its one "
                                      f"building can share a grid with no neighbouring building (the smallest it could "
                                      f"join has {int(least)} households; together over {r.grid_max})", grid_geoms[p]))
                continue
            found.append(_finding("grid_out_of_bounds", "warning", "grids", code, gid, measure,
                                  f"grid {gid} has {int(measure)} households, outside {r.grid_min}–{r.grid_max}",
                                  grid_geoms[p]))
    return found


def _neighbours(g: Graph) -> dict[int, list[int]]:
    nbrs: dict[int, list[int]] = {}
    for a, b in zip(g.a.tolist(), g.b.tolist()):
        nbrs.setdefault(a, []).append(b)
        nbrs.setdefault(b, []).append(a)
    return nbrs


def forced_under_floor(g: Graph, cells: Cells, grid_of_cell: np.ndarray, p: int, unit: np.ndarray | None,
                       grid_max: float, nbrs: dict[int, list[int]] | None = None, *,
                       multipart: bool = False) -> float | None:
    """Households of the smallest building grid ``p`` could take in, when that proves ``p`` cannot
    reach the floor with buildings kept whole; else None.

    Proven only when ``p``'s households are one building (or one footprint unit) and every cell holding
    households that ``p`` reaches through cells without households is one building too: any grid with
    ``p``'s building and more households is connected, so it holds one of those buildings; if even the
    smallest takes it over ``grid_max``, ``p`` is forced under the floor (a tower of 260 households whose
    every neighbour is a tower of 250 or more). A cell of a whole block of several buildings could still
    be opened: not proven.

    In a ``multipart`` community a grid need not be connected (a part too small for a grid joins the
    nearest one, ``merge_isolated``): any building of a connected component of ``g`` that ``p`` has no
    cell in could join it too, so those count among the buildings it could take in."""
    h = cells.households
    bcell = cells.building_cell
    units = unit if unit is not None else np.arange(len(bcell))

    def one_building(c: int) -> bool:
        mine = np.flatnonzero(bcell == c)
        return len(np.unique(units[mine])) <= 1

    mine = np.flatnonzero(grid_of_cell == p)
    home = mine[h[mine] > 0]
    if len(home) != 1 or not one_building(int(home[0])):
        return None
    if nbrs is None:
        nbrs = _neighbours(g)
    seen = set(mine.tolist())
    stack = list(seen)
    reached: set[int] = set()
    while stack:  # through cells without households (outside p), to the first cells with some
        c = stack.pop()
        for d in nbrs.get(c, []):
            if d in seen:
                continue
            seen.add(d)
            if h[d] > 0:
                reached.add(d)
            else:
                stack.append(d)
    if multipart:
        _, comp = connected_components(coo_matrix((np.ones(len(g.a)), (g.a, g.b)), shape=(g.n, g.n)), directed=False)
        reached.update(np.flatnonzero((h > 0) & ~np.isin(comp, comp[mine])).tolist())
    if not reached or not all(one_building(c) for c in reached):
        return None
    least = min(float(h[c]) for c in reached)
    return least if float(h[home[0]]) + least > grid_max else None


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


#: why a block was opened into its building cells (:func:`base_units`, :func:`_base_grids_once`)
OPENED_WHY = {
    "small_grids": ("at most a grid's ceiling, but the grids around it made no small grids of {subgrid_min}–"
                    "{subgrid_max} with it whole"),
    "over": "over {grid_max}",
    "small": ("at most a grid's ceiling, but its buildings make no small grids of {subgrid_min}–{subgrid_max} on "
              "their own, so the base grids share it with a neighbouring block"),
    "ring": ("at most a grid's ceiling, but shaped as a ring around another block, so it was opened so that no "
             "grid is wrapped around another"),
    "bounds": "at most a grid's ceiling, yet whole blocks left no division within the bounds around it",
    "strip": "a strip without buildings that a grid was wrapped along, around its neighbours",
}


def _divided_block_findings(cells: Cells, block_ids, grid_of_cell, opened: dict[int, str], r, code: str) -> list[dict]:
    """Blocks opened into their building cells (``opened``: block → key of :data:`OPENED_WHY`) and
    divided between grids along the gaps between their buildings, each with why it was opened. Any
    other block is whole (every move keeps a block's cells together unless it was opened)."""
    bh = np.bincount(cells.block, weights=cells.households, minlength=len(block_ids))
    found = []
    for bi in sorted(opened):
        n_in = len(np.unique(grid_of_cell[cells.block == bi]))
        if n_in > 1:
            why = OPENED_WHY[opened[bi]].format(grid_max=r.grid_max, subgrid_min=r.subgrid_min,
                                                subgrid_max=r.subgrid_max)
            where = "the blocks it borders" if opened[bi] == "strip" else "the gaps between its buildings"
            found.append(_finding("block_divided", "info", "blocks", code, str(block_ids[bi]), float(bh[bi]),
                                  f"block {block_ids[bi]} has {int(bh[bi])} households, {why}: divided "
                                  f"between {n_in} grids along {where}", None))
    return found


# ------------------------------------------------------------------------------------------ helpers


def union_groups(geoms: np.ndarray, labels: np.ndarray, n: int, *, united: np.ndarray | None = None) -> np.ndarray:
    """Coverage union of ``geoms`` grouped by ``labels`` (0..n-1), normalised; single parts as Polygon.
    ``united``: that union already made (:func:`~.enclosures.part_unions` of the same cells and labels), not
    made again (it is not modified)."""
    out = union_by(geoms, labels, n, coverage=True) if united is None else np.array(united, dtype=object)
    one = (shapely.get_type_id(out) == 6) & (shapely.get_num_geometries(out) == 1)
    out[one] = shapely.get_geometry(out[one], 0)
    return shapely.normalize(out)


#: a separate part of a cell up to this area (m²) is a crumb of the overlays that cut the cell (a block clipped to a
#: re-divided region, less its buildings), no land of its own
CRUMB_M2 = 1e-3


def crumbs_to_neighbours(geoms: np.ndarray, label: np.ndarray) -> np.ndarray:
    """Cells (a coverage) with each crumb (a separate part of a cell of at most :data:`CRUMB_M2`) that shares
    no edge with another cell of the same label given to the cell it shares most edge with, or dropped when it
    shares an edge with none: otherwise the crumb is a separate part of its small grid and grid (a re-divided
    Suzhou plan stored a small grid as MultiPolygon for a sliver of 20 mm², 79 m long, along its region's edge
    and half beyond it). ``geoms`` itself when no crumb moves.

    >>> from shapely import MultiPolygon, box
    >>> crumb = box(20, 9.99, 20.01, 10)  # of cell 0, in a notch of cell 2, beside cell 1
    >>> cells = np.array([MultiPolygon([box(0, 0, 10, 10), crumb]), box(10, 0, 20, 10),
    ...                   box(20, 0, 30, 10).difference(crumb)], dtype=object)
    >>> out = crumbs_to_neighbours(cells, np.array([0, 1, 2]))  # to cell 2: the longest shared edge
    >>> [g.geom_type for g in out], [round(g.area, 4) for g in out]
    (['Polygon', 'Polygon', 'Polygon'], [100.0, 100.0, 100.0])
    >>> crumbs_to_neighbours(cells, np.array([0, 0, 2])) is cells  # its own small grid holds it by an edge
    True
    >>> alone = np.array([MultiPolygon([box(0, 0, 10, 10), box(50, 0, 50.01, 0.01)]), box(10, 0, 20, 10)], dtype=object)
    >>> [g.wkt for g in crumbs_to_neighbours(alone, np.array([0, 1]))]  # touching no cell: dropped
    ['POLYGON ((10 0, 10 10, 0 10, 0 0, 10 0))', 'POLYGON ((20 0, 20 10, 10 10, 10 0, 20 0))']
    """
    multi = np.flatnonzero(shapely.get_num_geometries(geoms) > 1)
    if not len(multi):
        return geoms
    parts, idx = shapely.get_parts(geoms[multi], return_index=True)
    crumb = shapely.area(parts) <= CRUMB_M2
    if not crumb.any():
        return geoms
    tree = shapely.STRtree(geoms)
    out = geoms.copy()
    moved: dict[int, list[int]] = defaultdict(list)  # cell -> its crumbs (positions in parts) that move
    for j in np.flatnonzero(crumb):
        c = int(multi[idx[j]])
        near = tree.query(parts[j], predicate="intersects")
        near = near[near != c]
        shared = shapely.length(shapely.intersection(shapely.boundary(parts[j]), shapely.boundary(geoms[near])))
        if (shared[label[near] == label[c]] > 0).any():
            continue  # joins its own small grid by an edge
        if len(near) and shared.max() > 0:
            target = int(near[np.lexsort((near, -shared))[0]])
            out[target] = shapely.union(out[target], parts[j])
        # else a sliver touching no cell by an edge (along the edge of a re-divided region, half of it beyond):
        # no land of any grid, dropped
        moved[c].append(int(j))
    if not moved:
        return geoms
    for c, gone in moved.items():
        keep = [parts[j] for j in np.flatnonzero(idx == np.searchsorted(multi, c)) if j not in gone]
        out[c] = keep[0] if len(keep) == 1 else shapely.MultiPolygon(keep)
    return out


def _sum(labels: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(labels, weights=values, minlength=n).round().astype(np.int64)


def _finding(ftype: str, severity: str, layer: str, code: str, feature_id: Any, measure: float | None,
             message: str, geometry: Any) -> dict[str, Any]:
    return {"type": ftype, "severity": severity, "layer": layer, "community_code": code,
            "feature_id": None if feature_id is None else str(feature_id), "measure": measure,
            "message": message, "geometry": geometry}
