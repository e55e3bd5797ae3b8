"""Dynamic adjustment (动态调整): re-divide only where the city changed, keep the other grids as they were.

Given a previous plan and the prepared new inputs, :func:`adjust` keeps every previous grid that is
still valid as it stands and re-partitions only the rest of each community:

A previous grid is **kept** (geometry, small grids and building assignment unchanged) when

- its community still exists and the grid lies inside it (less than ``1 m²`` outside);
- the buildings whose representative point lies in it are the same buildings (same ``building_id``)
  with the same households as in the previous plan;
- no new or moved building straddles its boundary (a footprint with more than ``1 m²`` in two grids);
- buildings count where the previous plan placed them: on the land its dedicated grids (专属网格) held when
  that land holds most of them, a footprint across the gap between two parts of its community in the grid it
  was in while that grid holds a piece of it, a building carved into a dedicated grid in the ordinary grid the
  previous plan gave the stray piece of the carve it stands on (a grid is judged against its whole community);
- it is valid, overlaps no other grid and its small grids still tile it, without overlapping each other
  (within ``1 m²``): a plan edited by hand (a vertex dragged into the neighbour, two vertices swapped into a
  bow-tie, a grid redrawn without its small grids, a small grid's vertex dragged into its sibling) is divided
  afresh there;
- in a village (村) divided by its villager groups (村民小组), its households still lie in one group (a group
  line moved or a group split leaves no kept grid across two groups);
- the rules bound its community's grids and small grids as they did for the previous plan (a plan made
  with base grids of 30–80 households, re-divided under rules of 300–500, keeps none of that community's
  grids: each community so changed is divided afresh, and said so in a ``previous_rules_changed`` finding).

Everything else of the community (grids that changed, and area no previous grid covers, such as a
community that grew) is **freed**. Connected freed areas are partitioned afresh by
:func:`gridgeo.partition.partition`. A freed area whose households cannot be divided within the
bounds (fewer than ``grid_min``, or between two feasible counts such as 500 < H < 600) absorbs its
kept neighbours, one at a time (the one sharing the longest boundary first), until it can; a freed area
without households (a field a community gained, a strip of a boundary redrawn centimetres out) is given to the
kept grid beside it instead; one within the land the previous dedicated grids held and beside the land they hold
now, with fewer households than a grid's floor (a crumb a dedicated grid encloses, which the fresh plan gave it), is
given back to them (the households of buildings the previous plan placed with that land count only once a building
of the piece changed). Land a dedicated grid holds no more (its unit gone, an enclave it took grown past a grid's
floor) is freed land like any other. A region whose new grid comes out wrapped round a kept grid (a ring of freed
grids round an unchanged tower's grid, which no lane opens: none may end in a kept grid) is divided once more with
the kept grids in such holes freed too, that division taken where fewer grids are wrapped round another; only the
communities of the grids so freed are divided again, the others' division is the first one's. Codes are
then carried by :func:`gridgeo.codes.assign_codes`: kept grids match their old selves exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._findings import concat_findings, make_findings
from ._geometry import uncovered, union_by
from .footprints import BUILDING_SHARE_MIN, assign_to_zones, pieces_apart, unit_groups, units_across_gaps
from .partition import PartitionResult, partition
from .partition.rural import group_villages, village_grid_groups
from .rules import Rules, rules_for_kind

__all__ = ["adjust", "feasible"]

_TOL_M2 = 1.0
#: any positive share of a footprint: a building known to be in a community lies in a grid of it holding some of it
_ANY_SHARE = 1e-12


def feasible(households: int, lo: int, hi: int) -> bool:
    """Whether ``households`` can be divided into some number of grids within ``[lo, hi]``.

    >>> feasible(550, 300, 500), feasible(650, 300, 500), feasible(250, 300, 500), feasible(0, 300, 500)
    (False, True, False, True)
    """
    if households == 0:
        return True
    k_min = math.ceil(households / hi)
    return k_min * lo <= households


def adjust(
    communities: gpd.GeoDataFrame,
    blocks: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    previous: Any,
    *,
    streets: gpd.GeoDataFrame | None = None,
    rules: Rules,
    villager_groups: gpd.GeoDataFrame | None = None,
    workers: int = 1,
    outlines: dict[str, Any] | None = None,
    neighbours: gpd.GeoDataFrame | None = None,
    dedicated_land: dict[str, Any] | None = None,
) -> tuple[PartitionResult, dict[str, Any]]:
    """Partition with a previous plan: keep unchanged grids, re-divide the rest.

    A region whose new grid comes out wrapped round a kept grid that no lane opens (the freed grids round an
    unchanged tower's grid, re-divided into one grid that encloses it) is divided once more with the kept grids in
    such holes freed too, and that division is taken where it leaves fewer grids wrapped round another
    (``summary["grids_freed_for_wraps"]``); else the first stands and its wrap is reported. The second division
    divides only the communities of the grids it frees (and any whose buildings the kept grids then hold
    otherwise): the other communities' free land and new grids are the first division's, as they would come out
    the same.

    All layers in the same metric CRS; ``previous`` is a :class:`gridgeo.plan.Plan`. Returns the
    partition result (kept grids carry ``grid_id`` ``"K<old code>"``) and a summary dict. ``outlines``:
    community code → its whole outline where ``communities`` holds it less its dedicated grids (专属网格),
    as for :func:`gridgeo.partition.partition`: a re-divided grid wrapped around one is reported.
    ``neighbours``: as for :func:`gridgeo.partition.partition`, buildings ``buildings`` does not hold with their
    community (those carved into dedicated grids) whose pieces reaching into the next community are kept whole
    in one grid there, as the pieces of the other buildings are. ``dedicated_land``: community code → the land the
    previous plan's dedicated grids held in it (as stored, in this CRS): a free piece within it holding fewer
    households than a grid's floor is no region but that land given back (a crumb of ordinary land a dedicated grid
    enclosed, which the fresh plan gave it), its buildings marked in the result's ``given_back`` for
    :func:`gridgeo.dedicated.merge_result` to place with the land.
    """
    kw = {"streets": streets, "rules": rules, "villager_groups": villager_groups, "workers": workers,
          "outlines": outlines, "neighbours": neighbours, "dedicated_land": dedicated_land}
    first = _FirstDivision()
    result, summary = _adjust(communities, blocks, buildings, previous, first=first, **kw)
    summary["grids_freed_for_wraps"] = 0
    wrapped = _kept_in_holes(result.grids)
    if wrapped:  # divided again only where it changes anything: the communities of the grids freed
        again, summary2 = _adjust(communities, blocks, buildings, previous, freed=wrapped, first=first, **kw)
        if _grids_wrapped(again.grids) < _grids_wrapped(result.grids):
            summary2["grids_freed_for_wraps"] = len(wrapped)
            return again, summary2
    return result, summary


def _holes_holding(grids: gpd.GeoDataFrame) -> list[tuple[int, np.ndarray]]:
    """(row of a base grid, rows of the other grids of its community whose inner point lies in one of its
    holes) for every hole of a base grid that holds another grid."""
    geoms = grids.geometry.to_numpy()
    inner = shapely.point_on_surface(geoms)
    comm = grids["community_code"].astype(str).to_numpy()
    base = (grids["kind"].astype(str) != "dedicated").to_numpy() if "kind" in grids else np.ones(len(grids), bool)
    out = []
    for i in np.flatnonzero(base & (shapely.get_num_interior_rings(geoms) > 0) | base & (shapely.get_type_id(geoms) == 6)):
        for part in shapely.get_parts(geoms[i]):
            for ring in shapely.get_interior_ring(part, range(shapely.get_num_interior_rings(part))):
                held = np.flatnonzero((comm == comm[i]) & shapely.within(inner, shapely.polygons(ring)))
                if len(held):
                    out.append((int(i), held))
    return out


def _grids_wrapped(grids: gpd.GeoDataFrame) -> int:
    """The number of grids with a hole holding another grid."""
    return len({i for i, _ in _holes_holding(grids)})


def _kept_in_holes(grids: gpd.GeoDataFrame) -> frozenset[str]:
    """Codes of the kept grids (``grid_id`` ``"K<code>"``) lying in a hole of a new grid."""
    ids = grids["grid_id"].astype(str).to_numpy()
    kept = np.char.startswith(ids.astype(str), "K")
    return frozenset(ids[j][1:] for i, held in _holes_holding(grids) if not kept[i] for j in held if kept[j])


@dataclass
class _FirstDivision:
    """What a first division (:func:`_adjust`) worked out, for a second one freeing kept grids of a few communities
    (those a new grid wraps round) to take over for the other communities, whose division it leaves as it was:
    which previous grids are kept and where each building counts among them, each community's free land, and the
    partition of each region with what it placed."""

    #: per previous grid: kept (before any grid is freed for a wrap); per building: the previous grid it counts
    #: in (:func:`_grid_of`, carved buildings included); the communities whose rules changed
    keep: np.ndarray | None = None
    in_prev: np.ndarray | None = None
    carved_in: np.ndarray | None = None
    rules_changed: dict[str, Any] = field(default_factory=dict)
    #: per building: the kept grid holding it as the free land was cut (:func:`_placed`), then as the regions
    #: were divided, with the region placing it
    held: np.ndarray | None = None
    placed: np.ndarray | None = None
    #: community code → its (regions, land attached to kept grids, pieces given back), as :func:`_free_regions`
    pieces: dict[str, tuple[list, list, list]] = field(default_factory=dict)
    #: community code → per region of it: (its index among all regions, whether its partition names anything by
    #: that index, the partition before its ids are prefixed)
    parts: dict[str, list[tuple[int, bool, PartitionResult]]] = field(default_factory=dict)


def _placed(in_kept: np.ndarray, kept_codes: np.ndarray, owner: np.ndarray | None = None,
            region_code: np.ndarray | None = None, nth: np.ndarray | None = None) -> np.ndarray:
    """Per building, where a division places it, as text comparable between two divisions of one re-division: the
    code of the kept grid holding it, else ``-1`` (free) or ``-2`` (on the previous dedicated land); with ``owner``
    (:func:`_region_of`), and the community code and rank within it of each region, the region placing it too
    (``<code>#<rank>``; ``-1``, ``-2`` as ``owner`` has them)."""
    grid = np.where(in_kept >= 0, np.asarray(kept_codes, dtype=object)[np.maximum(in_kept, 0)] if len(kept_codes)
                    else None, in_kept.astype(str).astype(object)).astype(str)
    if owner is None:
        return grid.astype(object)
    at = np.maximum(owner, 0)
    region = (np.where(owner >= 0, np.char.add(np.char.add(region_code[at].astype(str), "#"), nth[at].astype(str)),
                       owner.astype(str)) if len(region_code) else owner.astype(str))
    return np.char.add(np.char.add(grid, "|"), region.astype(str)).astype(object)


def _pieces_of(codes: np.ndarray, regions: list[dict[str, Any]], attached: list[dict[str, Any]],
               returned: list[dict[str, Any]], first: _FirstDivision, redo: set[str] | None,
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The free land of every community (``codes``, in order) in the order :func:`_free_regions` gives it: of the
    communities ``redo``, as just cut (``regions``, ``attached``, ``returned``), of the others as the first division
    cut it. A first division (``redo`` None) records each community's in ``first``."""
    by_code: dict[str, tuple[list, list, list]] = {str(c): ([], [], []) for c in codes}
    for n, items in enumerate((regions, attached, returned)):
        for item in items:
            by_code[str(item["code"])][n].append(item)
    if redo is None:
        first.pieces = by_code
    out: tuple[list, list, list] = ([], [], [])
    for c in map(str, codes):
        taken = by_code[c] if redo is None or c in redo else first.pieces[c]
        for n in range(3):
            out[n].extend(taken[n])
    return out


def _adjust(
    communities: gpd.GeoDataFrame,
    blocks: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    previous: Any,
    *,
    streets: gpd.GeoDataFrame | None,
    rules: Rules,
    villager_groups: gpd.GeoDataFrame | None,
    workers: int,
    outlines: dict[str, Any] | None,
    neighbours: gpd.GeoDataFrame | None,
    dedicated_land: dict[str, Any] | None,
    freed: frozenset[str] = frozenset(),
    first: _FirstDivision | None = None,
) -> tuple[PartitionResult, dict[str, Any]]:
    """:func:`adjust` once, the previous grids ``freed`` (codes) freed whatever they hold. ``first``: filled by a
    first division (``freed`` empty); given to a second one (``freed`` set), it divides afresh only the communities
    of the grids freed, and those whose buildings the kept grids hold otherwise than in the first, and takes the
    free land and the regions' partitions of the others from it (the same inputs, the same division)."""
    crs = communities.crs
    pg = previous["grids"].to_crs(crs)
    psub = previous.layers.get("subgrids")
    psub = psub.to_crs(crs) if psub is not None else None
    pb = previous.layers.get("buildings")
    codes = communities["code"].to_numpy()
    cgeom = dict(zip(codes, communities.geometry.to_numpy(), strict=True))

    pg = pg[pg["community_code"].isin(set(codes))].reset_index(drop=True)
    kinds = communities["kind"] if "kind" in communities else pd.Series("urban", index=communities.index)
    rural = {str(c) for c, k in zip(codes, kinds, strict=True) if k == "rural"}
    again = first is not None and first.keep is not None
    if again:  # which grids are kept, and where each building counts, do not depend on the grids freed for wraps
        in_prev, carved_in, keep, rules_changed = first.in_prev, first.carved_in, first.keep.copy(), first.rules_changed
        carved_at = np.flatnonzero(carved_in >= 0)
    else:
        # the grid of every previous grid each building counts in now (one assignment: which grids are kept, then
        # which buildings stay in them)
        pgv = pg.geometry.to_numpy()
        pgv = np.where(shapely.is_valid(pgv), pgv, shapely.make_valid(pgv))
        in_prev = _grid_of(buildings, pgv, pg["grid_code"].to_numpy(), pb, pg["community_code"].to_numpy(),
                           land=dedicated_land)
        # the buildings carved into dedicated grids whose land the previous plan gave to an ordinary grid (a stray
        # piece of the carve) count in that grid, as the fresh plan placed them
        carved_in = _carved_grid_of(buildings, neighbours, pg, pgv, pb, dedicated_land)
        carved_at = np.flatnonzero(carved_in >= 0)
        in_prev[carved_at] = carved_in[carved_at]
        # a grid lies in its whole community: a stray piece of a dedicated grid's carved land that the previous
        # plan's fit_dedicated gave to the grid beside it lies outside the community less its dedicated grids, yet
        # is that grid's land as stored (merge_result gives it back: an ordinary grid's face before a dedicated
        # grid's)
        whole = {c: (outlines or {}).get(str(c), g) for c, g in cgeom.items()}
        keep = _kept_grids(pg, pb, buildings, whole, psub, villager_groups if rural else None, rural, grid_of=in_prev)
        # communities whose bounds the previous plan's rules set otherwise: divided afresh under these rules
        rules_changed = _bounds_changed(previous, communities, rules)
        if rules_changed:
            keep &= ~pg["community_code"].isin(set(rules_changed)).to_numpy()
        if first is not None:
            first.keep, first.in_prev, first.carved_in, first.rules_changed = keep.copy(), in_prev, carved_in, rules_changed
    if freed:  # kept grids a new grid wrapped round in a first division
        keep &= ~pg["grid_code"].astype(str).isin(freed).to_numpy()
    kept = pg[keep].reset_index(drop=True)

    # a building the previous grids place in a freed one (an address point on the edge between a freed and a
    # kept grid, in the freed one before) is in no kept grid, though among the kept grids alone the kept one
    # would take it
    # (a previous plan of dedicated grids only has no base grid to keep)
    in_freed = (in_prev >= 0) & ~keep[np.maximum(in_prev, 0)] if len(keep) else np.zeros(len(in_prev), dtype=bool)
    # previous grid code of each new building inside a kept grid (gridgeo's one building-to-zone assignment)
    in_kept = _grid_of(buildings, kept.geometry.to_numpy(), kept["grid_code"].to_numpy(), pb,
                       kept["community_code"].to_numpy(), land=dedicated_land)
    _carved_in_kept(in_kept, carved_at, pg["grid_code"].to_numpy()[carved_in[carved_at]], kept)
    in_kept[in_freed] = -1

    parts: list[PartitionResult] = []
    summary = {"grids_kept": int(len(kept)), "grids_freed": int((~keep).sum()), "regions_repartitioned": 0}
    attached: list[dict[str, Any]] = []
    returned: list[dict[str, Any]] = []
    # the land each community's dedicated grids hold now (their outline less the community as carved): crumbs are
    # given back only to them, a piece of land a dedicated grid held before and holds no more (its unit gone, an
    # enclave of it grown past a grid's floor) is divided again
    carved_now = {str(c): shapely.difference(outlines[str(c)], g) for c, g in cgeom.items()
                  if str(c) in (outlines or {}) and str(c) in (dedicated_land or {})}
    # the kept grid holding each building (a footprint mostly in it, a piece of it in free land): no free piece
    # counts its households, as no region places it
    held = np.full(len(in_kept), None, dtype=object)
    held[in_kept >= 0] = kept["grid_code"].to_numpy()[in_kept[in_kept >= 0]]
    bcomm = buildings["community_code"].astype(object).where(buildings["community_code"].notna(), None).astype(str).to_numpy()
    state = _placed(in_kept, kept["grid_code"].to_numpy())
    redo = None  # the communities whose free land is cut and divided here (None: all)
    if again:
        redo = set(pg.loc[pg["grid_code"].astype(str).isin(freed), "community_code"].astype(str))
        redo |= set(bcomm[state != first.held])
    elif first is not None:
        first.held = state
    todo = communities if redo is None else communities[communities["code"].astype(str).isin(redo).to_numpy()]
    regions = _free_regions(todo, kept, buildings, rules, attached, dedicated_land, returned,
                            on_dedicated=in_prev == -2, carved_now=carved_now,
                            unchanged=_unchanged(buildings, pb), held=held)
    if first is not None:
        regions, attached[:], returned[:] = _pieces_of(codes, regions, attached, returned, first, redo)
    summary["regions_repartitioned"] = len(regions)
    if attached:  # land without households goes to the kept grid beside it, and to its small grid beside it
        kept, psub = _take_in(kept, psub, attached)
        in_kept = _grid_of(buildings, kept.geometry.to_numpy(), kept["grid_code"].to_numpy(), pb,
                           kept["community_code"].to_numpy(), land=dedicated_land)
        _carved_in_kept(in_kept, carved_at, pg["grid_code"].to_numpy()[carved_in[carved_at]], kept)
        # land without households a kept grid took in is that grid's, buildings of a freed grid on it too
        given = shapely.union_all([a["geometry"] for a in attached])
        in_kept[in_freed & ~shapely.intersects(buildings.geometry.to_numpy(), given)] = -1
    summary["grids_grown"] = len({a["grid_code"] for a in attached})
    # grids absorbed into a region are no longer kept
    absorbed = set()
    for r in regions:
        absorbed |= r["absorbed"]
    if absorbed:
        still = ~kept["grid_code"].isin(absorbed).to_numpy()
        summary["grids_kept"] -= len(absorbed)
        summary["grids_freed"] += len(absorbed)
        kept_idx_map = np.full(len(kept), -1)
        kept_idx_map[still] = np.arange(int(still.sum()))
        in_kept = np.where(in_kept >= 0, kept_idx_map[np.maximum(in_kept, 0)], np.minimum(in_kept, -1))
        kept = kept[still].reset_index(drop=True)
    # one tree of every building for all regions (a city re-divides thousands of them)
    building_tree = shapely.STRtree(buildings.geometry.to_numpy()) if regions else None
    if neighbours is not None and not len(neighbours):
        neighbours = None
    neighbour_tree = shapely.STRtree(neighbours.geometry.to_numpy()) if regions and neighbours is not None else None
    # the buildings on land given back to the dedicated grids are placed by no region (-2): they go with the land
    owner = _region_of(buildings, regions + returned, in_kept)
    _on_land_freed(owner, in_kept, buildings, regions, returned, carved_now)
    owner[(owner >= len(regions)) | (in_kept == -2)] = -2
    # each building as the regions divide it: a community whose buildings the kept grids and its regions place as in
    # the first division has its regions' partitions from it (the same inputs)
    rcode = np.array([str(r["code"]) for r in regions], dtype=object)
    nth = pd.Series(rcode).groupby(rcode).cumcount().to_numpy()
    state = _placed(in_kept, kept["grid_code"].to_numpy(), owner, rcode, nth)
    moved = set(bcomm[state != first.placed]) if again else set()
    if first is not None and not again:
        first.placed = state
    for k, region in enumerate(regions):
        code = str(region["code"])
        done = first.parts.get(code) if again and code not in redo and code not in moved else None
        at, named, raw = done[nth[k]] if done is not None else (None, False, None)
        if raw is None or (named and at != k):
            raw, named = _partition_region(region, k, communities, blocks, buildings, building_tree, in_kept,
                                           streets, rules, villager_groups, workers,
                                           outline=(outlines or {}).get(region["code"]), owner=owner,
                                           neighbours=(neighbours, neighbour_tree))
        if first is not None and not again:
            first.parts.setdefault(code, []).append((k, named, raw))
        parts.append(_prefixed(raw, k, code))
    result = _combine(kept, psub, pb, buildings, in_kept, parts, crs)
    if villager_groups is not None and rural:
        # each village grid names the villager group (村民小组) it follows now, kept grids too (a group renamed
        # or split keeps a grid whose households stay in one group), by the fresh partition's one rule
        groups = village_grid_groups(result.grids, communities, villager_groups)
        if groups.notna().any() or "villager_group" in result.grids.columns:
            result.grids["villager_group"] = groups
    result.given_back = owner == -2
    # and the lanes from a dedicated grid's site to the community's edge that a region's new grid gave up
    lanes = [x for part in parts if part.given_back_land is not None for x in
             zip(part.given_back_land["community_code"], part.given_back_land.geometry)]
    result.given_back_land = gpd.GeoDataFrame({"community_code": [r["code"] for r in returned] + [c for c, _ in lanes]},
                                              geometry=[r["geometry"] for r in returned] + [g for _, g in lanes],
                                              crs=crs)
    summary["pieces_given_back"] = len(returned)
    summary["communities_rules_changed"] = len(rules_changed)
    if rules_changed:
        records = [{"type": "previous_rules_changed", "severity": "info", "layer": "communities",
                    "feature_id": code, "community_code": code, "measure": None,
                    "message": (f"the previous plan bounded this community's grids at {a[0]}–{a[1]} households "
                                f"(small grids {a[2]}–{a[3]}); these rules ask {b[0]}–{b[1]} ({b[2]}–{b[3]}): "
                                "divided afresh, codes carried only where a grid comes out the same"),
                    "geometry": shapely.point_on_surface(cgeom[code])}
                   for code, (a, b) in sorted(rules_changed.items())]
        result.findings = concat_findings([result.findings, make_findings(records, crs=crs)], crs=crs)
    # the findings of the kept grids and their small grids go with them (a kept grid wrapped around a dedicated
    # grid, or under the compactness threshold, is still so, and its flags still say it), and those of the
    # blocks of communities kept whole (a block divided between kept grids still is)
    pf = previous.layers.get("findings")
    if pf is not None and len(pf) and len(kept) and "feature_id" in pf.columns:
        ids = set(kept["grid_code"].astype(str))
        if psub is not None and len(psub):
            ids |= set(psub.loc[psub["grid_code"].astype(str).isin(ids), "subgrid_code"].astype(str))
        whole = set(map(str, codes)) - {str(r["code"]) for r in regions}
        mine = pf[(pf["layer"].isin(["grids", "subgrids"]) & pf["feature_id"].astype(str).isin(ids))
                  | ((pf["layer"] == "blocks") & pf["community_code"].astype(str).isin(whole))]
        if len(mine):
            result.findings = concat_findings([mine.to_crs(crs), result.findings], crs=crs)
    return result, summary


def _carved_grid_of(buildings: gpd.GeoDataFrame, carved: gpd.GeoDataFrame | None, pg: gpd.GeoDataFrame,
                    pgv: np.ndarray, pb: gpd.GeoDataFrame | None,
                    dedicated_land: dict[str, Any] | None) -> np.ndarray:
    """Per row of ``buildings``: the index of the previous grid (``pg``, geometries ``pgv``) a building carved
    into a dedicated grid (专属网格; no community in ``buildings``, with it in ``carved``) counts in now, -1 for none.
    Each counts, by the one building-to-zone assignment, in the grid of its community or the land of its previous
    dedicated grids (``dedicated_land``) that holds most of it, ties to where the previous plan stored it: in an
    ordinary grid where the previous plan's ``fit_dedicated`` gave that grid a stray piece of the carve. A member of
    a footprint unit only the gap between parts of its community cuts counts where its unit lies (the carve took the
    unit whole), not where it lies alone."""
    out = np.full(len(buildings), -1, dtype=np.int64)
    if carved is None or not len(carved) or pb is None or "grid_code" not in pb.columns or not len(pg):
        return out
    row = pd.Series(np.arange(len(buildings)), index=buildings["building_id"].astype(str).to_numpy())
    row = row[~row.index.duplicated()]
    at = row.reindex(carved["building_id"].astype(str).to_numpy()).to_numpy()
    has = ~np.isnan(at) & carved["community_code"].notna().to_numpy()
    if not has.any():
        return out
    at = at[has].astype(np.int64)
    geoms = carved.geometry.to_numpy()[has]
    bad = np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_valid(geoms)
    geoms = np.where(bad, shapely.make_valid(geoms), geoms)
    ccode = carved["community_code"].astype(str).to_numpy()[has]
    was = pd.Series(pb["grid_code"].astype(str).to_numpy(), index=pb["building_id"].astype(str).to_numpy())
    was = was[~was.index.duplicated()].reindex(carved["building_id"].astype(str).to_numpy()[has]).to_numpy()
    gcode = pg["grid_code"].astype(str).to_numpy()
    gcomm = pg["community_code"].astype(str).to_numpy()
    units = unit_groups(buildings["unit_id"].astype(str).to_numpy())[0][at] if "unit_id" in buildings.columns else None
    for code in sorted(set(ccode)):
        gi = np.flatnonzero(gcomm == code)
        bi = np.flatnonzero(ccode == code)
        land = (dedicated_land or {}).get(code)
        if not len(gi):
            continue
        zones = np.concatenate([pgv[gi], np.array([] if land is None else [land], dtype=object)]).astype(object)
        pos = {c: k for k, c in enumerate(gcode[gi])}
        prefer = np.array([pos.get(w, len(gi) if land is not None else -1) for w in was[bi]], dtype=np.int64)
        asg = assign_to_zones(geoms[bi], zones, prefer=prefer)
        z = asg.zone
        if units is not None:
            # a footprint unit the carve took whole, only the gap between parts of the community cutting it: a
            # member alone beyond the gap (in an ordinary grid) counts where its unit lies, as validate judges it
            across = units_across_gaps(geoms[bi], units[bi], zones, np.zeros(len(zones), dtype=np.int64))[0]
            whole = np.isin(units[bi], across)
            if whole.any():
                _units_whole(z, asg.pairs, geoms[bi], units[bi], whole, prefer)
        ok = (z >= 0) & (z < len(gi))
        out[at[bi[ok]]] = gi[z[ok]]
    return out


def _carved_in_kept(in_kept: np.ndarray, rows: np.ndarray, codes: np.ndarray, kept: gpd.GeoDataFrame) -> None:
    """Set ``in_kept`` of the carved buildings at ``rows`` counting in previous grids ``codes``
    (:func:`_carved_grid_of`) to the index of that grid among the ``kept`` ones (-1 where it is not kept)."""
    if not len(rows):
        return
    pos = pd.Series(np.arange(len(kept)), index=kept["grid_code"].astype(str).to_numpy())
    in_kept[rows] = pos.reindex(np.asarray(codes).astype(str)).fillna(-1).to_numpy().astype(np.int64)


def _take_in(kept: gpd.GeoDataFrame, psub: gpd.GeoDataFrame | None,
             attached: list[dict[str, Any]]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame | None]:
    """``kept`` grids with the land ``attached`` to them, each piece also given to the grid's small grid that
    shares the longest boundary with it (copies; the grids keep their codes)."""
    kept = kept.copy()
    psub = psub.copy() if psub is not None else None
    row = {str(c): i for i, c in enumerate(kept["grid_code"])}
    for a in attached:
        i = row[a["grid_code"]]
        kept.iloc[i, kept.columns.get_loc(kept.geometry.name)] = shapely.union(kept.geometry.iloc[i], a["geometry"])
        if psub is None or "grid_code" not in psub.columns:
            continue
        mine = np.flatnonzero(psub["grid_code"].astype(str).to_numpy() == a["grid_code"])
        if not len(mine):
            continue
        geoms = psub.geometry.to_numpy()[mine]
        shared = shapely.length(shapely.intersection(shapely.boundary(a["geometry"]), shapely.boundary(geoms)))
        s = mine[int(np.argmax(shared))]
        psub.iloc[s, psub.columns.get_loc(psub.geometry.name)] = shapely.union(psub.geometry.iloc[s], a["geometry"])
    for layer in (kept, psub):  # the stored areas of the grids grown (in the metric CRS adjust works in)
        if layer is not None and "area_m2" in layer.columns:
            layer["area_m2"] = layer.geometry.area.round(3)
    return kept, psub


def _bounds(r: Rules) -> tuple[int, int, int, int]:
    return (int(r.grid_min), int(r.grid_max), int(r.subgrid_min), int(r.subgrid_max))


def _bounds_changed(previous: Any, communities: gpd.GeoDataFrame,
                    rules: Rules) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """Community code → (previous bounds, these bounds) of each community of the previous plan whose grid or
    small-grid bounds the previous plan's rules (its metadata), for the kind the community had then (its
    ``communities`` layer), set otherwise than ``rules`` do for its kind now: rules changed, or a village made a
    community (村改居) or the reverse. Rules the previous plan records none of, or none this version reads,
    count as ``rules`` (then only a change of kind is seen)."""
    given = getattr(previous, "metadata", {}).get("rules")
    before = rules
    if isinstance(given, dict):
        try:
            before = Rules.from_dict(given, source="the previous plan's rules")
        except Exception:  # noqa: BLE001 - rules of another gridgeo version: not compared
            before = rules
    layers = getattr(previous, "layers", {})
    pc = layers.get("communities")
    was = {}
    if pc is not None and {"code", "kind"} <= set(pc.columns):
        was = {str(c): k for c, k in zip(pc["code"], pc["kind"], strict=True) if isinstance(k, str)}
    pg = layers.get("grids")
    had = set(pg["community_code"].astype(str)) if pg is not None and "community_code" in pg.columns else set()
    kinds = communities["kind"] if "kind" in communities else pd.Series("urban", index=communities.index)
    out = {}
    for code, kind in zip(communities["code"].astype(str), kinds, strict=True):
        if code not in had:  # a community the previous plan had no grid of: nothing of it to keep
            continue
        a, b = _bounds(rules_for_kind(before, was.get(code, kind))), _bounds(rules_for_kind(rules, kind))
        if a != b:
            out[code] = (a, b)
    return out


def _kept_grids(pg: gpd.GeoDataFrame, pb: gpd.GeoDataFrame | None, buildings: gpd.GeoDataFrame,
                cgeom: dict[str, Any], psub: gpd.GeoDataFrame | None = None,
                villager_groups: gpd.GeoDataFrame | None = None, rural: set[str] | frozenset = frozenset(),
                grid_of: np.ndarray | None = None) -> np.ndarray:
    """Which previous grids are kept as they are. ``cgeom``: community code → its whole outline (dedicated grids
    included). ``grid_of``: the index of the grid each building counts in now (:func:`_grid_of` over every previous
    grid), when the caller has it already."""
    n = len(pg)
    if n == 0:
        return np.zeros(0, dtype=bool)
    geoms = pg.geometry.to_numpy()
    comm = np.array([cgeom[c] for c in pg["community_code"]], dtype=object)
    # a grid made invalid by hand (two vertices swapped in QGIS: a bow-tie) is not kept: kept, it was stored
    # as it stood and stopped the re-division in a GEOS TopologyException
    is_valid = shapely.is_valid(geoms)
    valid = np.where(is_valid, geoms, shapely.make_valid(geoms))
    outside = shapely.area(shapely.difference(valid, comm)) > _TOL_M2
    keep = ~outside & is_valid
    # grids overlapping each other (a plan edited by hand: a vertex dragged into the neighbour) are not kept as
    # they stand: kept, they would overlap in the new plan too
    i, j = shapely.STRtree(valid).query(valid, predicate="intersects")
    pair = i < j
    i, j = i[pair], j[pair]
    # most pairs only touch: overlay only those whose interiors meet, as the quality figures do
    meet = shapely.relate_pattern(valid[i], valid[j], "T********") if len(i) else np.zeros(0, dtype=bool)
    i, j = i[meet], j[meet]
    if len(i):
        over = shapely.area(shapely.intersection(valid[i], valid[j])) > _TOL_M2
        keep[np.unique(np.r_[i[over], j[over]])] = False
    # a grid its small grids no longer tile (one of them edited by hand, not the other) is not kept either
    if psub is not None and len(psub) and "grid_code" in psub.columns:
        pos = pd.Series(np.arange(n), index=pg["grid_code"].astype(str))
        at = pos.reindex(psub["grid_code"].astype(str)).to_numpy()
        has = ~np.isnan(at)
        sub = psub.geometry.to_numpy()[has]
        sub = np.where(shapely.is_valid(sub), sub, shapely.make_valid(sub))
        tiled = union_by(sub, at[has].astype(np.int64), n)
        nested = shapely.area(shapely.symmetric_difference(valid, tiled)) <= _TOL_M2
        # and they do not overlap each other (a vertex of one dragged into its sibling: their union still fills
        # the grid): the area they overlap on is what their areas add up to beyond their union's
        summed = np.bincount(at[has].astype(np.int64), weights=shapely.area(sub), minlength=n)
        nested &= summed - shapely.area(tiled) <= _TOL_M2
        tiles = np.zeros(n, dtype=bool)
        tiles[np.unique(at[has].astype(np.int64))] = True
        keep &= nested | ~tiles
    # buildings now in each grid, as the partition and validate place them
    gi_all = grid_of if grid_of is not None else _grid_of(buildings, valid, pg["grid_code"].to_numpy(), pb,
                                                          pg["community_code"].to_numpy())
    bi = np.flatnonzero(gi_all >= 0)
    gi = gi_all[bi]
    now = pd.DataFrame({"grid": gi, "building_id": buildings["building_id"].to_numpy()[bi],
                        "households": buildings["households"].to_numpy()[bi]})
    if pb is None or "grid_code" not in pb:
        return np.zeros(n, dtype=bool)
    code_idx = {c: i for i, c in enumerate(pg["grid_code"])}
    before = pd.DataFrame({"grid": pb["grid_code"].map(code_idx), "building_id": pb["building_id"].astype(str),
                           "households": pb["households"]}).dropna(subset=["grid"])
    before["grid"] = before["grid"].astype(int)
    # a grid whose buildings name a small grid the plan no longer has (its small grids deleted by hand) is not
    # kept: kept, its buildings pointed at small grids absent from the new plan and assign_codes stopped
    if "subgrid_code" in pb.columns:
        have = set(psub["subgrid_code"].astype(str)) if psub is not None and "subgrid_code" in psub.columns else set()
        sub_of = pb["subgrid_code"]
        lost = (sub_of.notna() & ~sub_of.astype(str).isin(have)).to_numpy()
        keep[np.unique(pb["grid_code"][lost].map(code_idx).dropna().to_numpy(dtype=np.int64))] = False
    sig_now = now.assign(building_id=now["building_id"].astype(str)).sort_values(["grid", "building_id"])
    sig_before = before.sort_values(["grid", "building_id"])
    a = sig_now.groupby("grid").apply(lambda d: tuple(zip(d["building_id"], d["households"].astype(int))), include_groups=False)
    b = sig_before.groupby("grid").apply(lambda d: tuple(zip(d["building_id"], d["households"].astype(int))), include_groups=False)
    same = np.array([a.get(i, ()) == b.get(i, ()) for i in range(n)])
    keep &= same
    # a footprint unit (overlapping footprints, kept whole) whose buildings now count in two grids of one
    # community (a new building drawn over one in a kept grid, counting in the freed grid beside it) frees
    # them all: kept, the unit was split between the kept grid and a new one
    if "unit_id" in buildings.columns:
        gc = pg["community_code"].astype(str).to_numpy()
        at = np.flatnonzero(gi_all >= 0)
        units = pd.DataFrame({"unit": buildings["unit_id"].astype(str).to_numpy()[at], "grid": gi_all[at],
                              "comm": gc[gi_all[at]]})
        spread = units.groupby(["unit", "comm"])["grid"].transform("nunique") > 1
        keep[np.unique(units.loc[spread, "grid"].to_numpy())] = False
    if villager_groups is not None and len(villager_groups):
        keep &= ~_across_groups(pg, gi_all, buildings, villager_groups, rural)
    # footprints cut between two grids of one community free both: a cut as validate counts it (the one
    # building-to-zone assignment: pieces of at least BUILDING_SHARE_MIN, none holding all but that share)
    bgeoms = buildings.geometry.to_numpy()
    poly = np.flatnonzero(shapely.get_type_id(bgeoms) >= 3)
    if len(poly):
        footprints = bgeoms[poly]
        bad = ~shapely.is_valid(footprints)
        if bad.any():
            footprints = footprints.copy()
            footprints[bad] = shapely.make_valid(footprints[bad])
        za = assign_to_zones(footprints, valid)
        cut = (za.n_zones >= 2) & (za.max_share < 1 - BUILDING_SHARE_MIN)
        bi, zi, share = za.pairs
        sel = cut[bi] & (share >= BUILDING_SHARE_MIN)
        hit = pd.DataFrame({"b": bi[sel], "g": zi[sel], "c": pg["community_code"].to_numpy()[zi[sel]]})
        # a footprint cut by a community boundary (one grid on each side, or across the gap between two parts of
        # its community: pieces sharing no edge, as validate judges it) is the boundary's, not a change
        apart = pieces_apart(footprints, valid, bi[sel], zi[sel], hit["c"].to_numpy())
        hit = hit[~apart[hit["b"].to_numpy()]]
        multi = hit.groupby(["b", "c"])["g"].transform("size") > 1
        keep[np.unique(hit.loc[multi, "g"].to_numpy())] = False
    return keep


def _across_groups(pg: gpd.GeoDataFrame, grid_of: np.ndarray, buildings: gpd.GeoDataFrame,
                   villager_groups: gpd.GeoDataFrame, rural: set[str] | frozenset) -> np.ndarray:
    """Per grid of ``pg``: whether it is a grid of a village (``rural``) whose households now lie in two villager
    groups (村民小组) or more, each building in the group holding most of it (a group line moved, a group split):
    a fresh division draws no such grid, since a village's grids follow its groups. ``grid_of``: the index of
    the grid each building counts in (-1: none). Groups are those of the village (``community_code``) or of no
    village, as the partition takes them."""
    out = np.zeros(len(pg), dtype=bool)
    vg = villager_groups[~(villager_groups.geometry.is_empty | villager_groups.geometry.isna())]
    vg_code = group_villages(vg)  # as the partition takes them
    gcomm = pg["community_code"].astype(str).to_numpy()
    has = (grid_of >= 0) & (buildings["households"].to_numpy() > 0)
    geoms = buildings.geometry.to_numpy()
    for code in sorted(rural & set(gcomm)):
        bi = np.flatnonzero(has & (gcomm[np.maximum(grid_of, 0)] == code))
        groups = vg.geometry.to_numpy()[np.array([c is None or c == code for c in vg_code], dtype=bool)]
        if not len(bi) or len(groups) < 2:
            continue
        b = geoms[bi]
        bad = np.isin(shapely.get_type_id(b), (3, 6)) & ~shapely.is_valid(b)
        b = np.where(bad, shapely.make_valid(b), b)
        zone = assign_to_zones(b, shapely.make_valid(groups)).zone
        seen = pd.DataFrame({"grid": grid_of[bi], "zone": zone})
        n_groups = seen[seen["zone"] >= 0].groupby("grid")["zone"].nunique()
        out[n_groups.index[n_groups.to_numpy() > 1].to_numpy()] = True
    return out


def _grid_of(buildings: gpd.GeoDataFrame, grids: np.ndarray, codes: np.ndarray, pb: gpd.GeoDataFrame | None,
             grid_community: np.ndarray, land: dict[str, Any] | None = None) -> np.ndarray:
    """Index of the grid each building counts in (-1: none), by :func:`gridgeo.footprints.assign_to_zones`
    among the grids of the building's own community (a building the community boundary cuts counts in its
    community, never in a grid of the other one; one under :data:`~gridgeo.footprints.BUILDING_SHARE_MIN` in
    them, yet in its community by the assignment over all blocks, in the one of them holding most of it); ties
    (a point on the edge between two grids) go to the grid the previous plan stored it in. ``land``: community code
    → the land its previous dedicated grids (专属网格) held, one more zone: a building it holds most of counts
    there (-2), as the previous plan placed it with that land, not in the grid holding the rest of it."""
    geoms = buildings.geometry.to_numpy()
    bad = np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad])
    prefer = None
    if pb is not None and "grid_code" in pb.columns:
        before = dict(zip(pb["building_id"].astype(str), pb["grid_code"], strict=True))
        pos = {str(c): i for i, c in enumerate(codes)}
        prefer = np.array([pos.get(str(before.get(b)), -1) for b in buildings["building_id"].astype(str)], dtype=np.int64)
    units = gap = None
    if "unit_id" in buildings.columns and len(grids):
        # a footprint unit only the gap between parts of its community cuts counts whole, as the partition
        # places it: its members follow the unit (one by one, a member beyond the gap counted in the grid there)
        units = unit_groups(buildings["unit_id"].astype(str).to_numpy())[0]
        across = units_across_gaps(geoms, units, grids, np.asarray(grid_community, dtype=object))[0]
        gap = np.isin(units, across)
    out = np.full(len(geoms), -1, dtype=np.int64)
    bcomm = buildings["community_code"].astype(object).where(buildings["community_code"].notna(), None).to_numpy()
    grids_of = pd.Series(np.arange(len(grids))).groupby(pd.Series(grid_community, dtype=object).astype(str)).indices
    for code, bi in pd.Series(np.arange(len(geoms))).groupby(pd.Series(bcomm, dtype=object).astype(str)).indices.items():
        gi = grids_of.get(code)
        if gi is None or code == "None":
            continue
        own = (land or {}).get(code)
        zones = grids[gi] if own is None else np.concatenate([grids[gi], np.array([own], dtype=object)])
        local = None
        if prefer is not None:
            back = np.full(len(grids), -1, dtype=np.int64)
            back[gi] = np.arange(len(gi))
            local = np.where(prefer[bi] >= 0, back[np.maximum(prefer[bi], 0)], -1)
            if own is not None:  # stored in none of these grids: in a dedicated grid, or new
                local = np.where(local >= 0, local, len(gi))
        asg = assign_to_zones(geoms[bi], zones, prefer=local)
        z = asg.zone
        if local is not None:
            _stay_across_gaps(z, asg.pairs, geoms[bi], zones, local)
        if gap is not None and gap[bi].any():
            _units_whole(z, asg.pairs, geoms[bi], units[bi], gap[bi], local)
        # a building of this community lies in it by the one assignment over every block (a footprint mostly
        # outside, at least BUILDING_SHARE_MIN in the communities together, under it in this one): it counts in
        # the grid here holding most of it, as the partition places it in the block here holding most of it
        lost = np.flatnonzero(z < 0)
        if len(lost):
            z[lost] = assign_to_zones(geoms[bi[lost]], zones, share_min=_ANY_SHARE,
                                      prefer=None if local is None else local[lost]).zone
        out[bi] = np.where(z >= len(gi), -2, np.where(z >= 0, gi[np.minimum(np.maximum(z, 0), len(gi) - 1)], -1))
    return out


def _stay_across_gaps(zone: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray], geoms: np.ndarray,
                      zones: np.ndarray, prefer: np.ndarray) -> None:
    """Set ``zone`` of each footprint lying across the gap between two parts of its community (its pieces in
    several ``zones`` share no edge: :func:`~gridgeo.footprints.pieces_apart`; no cut, validate takes either side)
    back to the zone it was in before (``prefer``) while that zone holds at least
    :data:`~gridgeo.footprints.BUILDING_SHARE_MIN` of it: the fresh plan placed it by its block, not by its larger
    piece. ``pairs``: the (building, zone, share) pairs of the assignment that gave ``zone``. In place."""
    bi, zi, share = pairs
    real = share >= BUILDING_SHARE_MIN
    held = real & (prefer[bi] == zi) & (zone[bi] != zi) & (zone[bi] >= 0)
    if not held.any():
        return
    cand = np.unique(bi[held])
    sel = real & np.isin(bi, cand)
    apart = pieces_apart(geoms, zones, bi[sel], zi[sel], np.zeros(int(sel.sum()), dtype=np.int64))
    back = cand[apart[cand]]
    zone[back] = prefer[back]


def _units_whole(zone: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray], geoms: np.ndarray,
                 units: np.ndarray, whole: np.ndarray, prefer: np.ndarray | None) -> None:
    """Set ``zone`` of the buildings ``whole`` marks that lie in a zone to the zone holding most of their
    footprint unit (``units``: labels), as :func:`gridgeo.blocks.assign_buildings` weighs a unit: each member's
    share times its area (a point as 1 m²); ties go to the zone a member was in before (``prefer``), then the
    lower index. A zone the unit's members were in before that still holds at least
    :data:`~gridgeo.footprints.BUILDING_SHARE_MIN` of the unit keeps it, as :func:`_stay_across_gaps` keeps a
    footprint: the fresh plan placed the unit by its block (one block may lie over both parts of the community),
    not by its larger side, and validate takes either side of the gap. ``pairs``: the (building, zone, share)
    pairs of the assignment that gave ``zone``."""
    bi, zi, share = pairs
    sel = whole[bi] & (zone[bi] >= 0)
    if not sel.any():
        return
    bi, zi, share = bi[sel], zi[sel], share[sel]
    area = shapely.area(geoms)
    weight = np.where(area > 0, area, 1.0)
    was = np.zeros(len(bi), dtype=bool) if prefer is None else prefer[bi] == zi
    per = pd.DataFrame({"u": units[bi], "z": zi, "m": share * weight[bi], "was": was}).groupby(
        ["u", "z"], as_index=False).agg(m=("m", "sum"), was=("was", "max"))
    per["stay"] = per["was"] & (per["m"] >= BUILDING_SHARE_MIN * per.groupby("u")["m"].transform("sum"))
    best = per.sort_values(["u", "stay", "m", "was", "z"], ascending=[True, False, False, False, True]).drop_duplicates("u")
    to = pd.Series(best["z"].to_numpy(), index=best["u"].to_numpy())
    move = np.flatnonzero(whole & (zone >= 0))
    zone[move] = to.reindex(units[move]).fillna(-1).to_numpy().astype(np.int64)


def _free_regions(communities: gpd.GeoDataFrame, kept: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
                  rules: Rules, attached: list[dict[str, Any]] | None = None,
                  dedicated_land: dict[str, Any] | None = None,
                  returned: list[dict[str, Any]] | None = None,
                  on_dedicated: np.ndarray | None = None,
                  carved_now: dict[str, Any] | None = None,
                  unchanged: np.ndarray | None = None, held: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Connected areas of each community not covered by kept grids, grown until divisible. An area without
    households beside a kept grid is no region: it is appended to ``attached`` (``code``, ``grid_code``,
    ``geometry``), for that grid to take in. An area within the land the previous plan's dedicated grids held
    (``dedicated_land``, by community code), beside the land its dedicated grids hold now (``carved_now``: a
    community without one, or a piece away from them, gives nothing back), holding fewer households than a grid's
    floor is no region either: it is appended to ``returned`` (``code``, ``geometry``), that land given back to
    them. The households of the buildings ``on_dedicated`` marks (counted on that land, as the previous plan placed
    them) count for no grid while every building of the piece is ``unchanged`` (see :func:`_given_back`). ``held``:
    per building, the code of the kept grid holding it (None for none): a piece counts no building a kept grid holds
    (a tower mostly in a kept grid, a piece of it in free land) unless it took that grid in, as no region places
    it."""
    regions = []
    attached = [] if attached is None else attached
    returned = [] if returned is None else returned
    grown: dict[str, Any] = {}  # kept grids with the empty land given them
    absorbed_all: set[str] = set()  # kept grids regions took in, of every community
    hh = buildings["households"].to_numpy()
    ded_b = np.zeros(len(hh), dtype=bool) if on_dedicated is None else on_dedicated
    same = np.ones(len(hh), dtype=bool) if unchanged is None else unchanged
    held = np.full(len(hh), None, dtype=object) if held is None else np.asarray(held, dtype=object)
    geoms = buildings.geometry.to_numpy()
    bad = np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = shapely.make_valid(geoms[bad])
    for code, cg, kind in zip(communities["code"], communities.geometry, communities["kind"], strict=True):
        r = rules_for_kind(rules, kind)
        mine = kept[kept["community_code"] == code]
        mine_b = (buildings["community_code"] == code).to_numpy()
        free = uncovered(np.array([cg], dtype=object), mine.geometry.to_numpy(), np.zeros(len(mine), np.int64))[0]
        # a strip under 10 cm wide is no area to divide, but over 1 m² it is still land to cover (a community
        # boundary redrawn a few centimetres out): it goes to the grid beside it as land without households does
        pieces = _touching_joined([p for p in shapely.get_parts(free) if not _thin(p) or shapely.area(p) > _TOL_M2])
        # join pieces that touch each other through a kept grid only later; start from the raw pieces
        land = (dedicated_land or {}).get(str(code))
        now = (carved_now or {}).get(str(code))
        while pieces:
            piece = pieces.pop(0)
            free_b = pd.isna(held[mine_b])
            if land is not None and now is not None and _given_back(
                    piece, land, now, hh[mine_b], geoms[mine_b], r.grid_min, ded_b[mine_b], same[mine_b], free_b):
                returned.append({"code": code, "geometry": piece})
                continue
            absorbed: set[str] = set()
            while True:
                # the piece is free area plus absorbed grids: every building it holds counts, by gridgeo's one
                # building-to-zone assignment (counted by inner points, a tower whose inner point lay beyond the
                # piece, in a dedicated grid, was not, and its land went to a kept grid as land without households)
                placed = free_b | pd.Series(held[mine_b]).isin(absorbed).to_numpy()
                at = assign_to_zones(geoms[mine_b], np.array([piece], dtype=object)).zone >= 0
                h = int(hh[mine_b][at & placed].sum())
                empty = h == 0 and not absorbed
                if feasible(h, r.grid_min, r.grid_max) and not empty:
                    break
                cand = mine[~mine["grid_code"].isin(absorbed | absorbed_all)]
                if len(cand) == 0:
                    break
                cgeoms = np.array([grown.get(c, g) for c, g in zip(cand["grid_code"], cand.geometry, strict=True)],
                                  dtype=object)
                shared = shapely.length(shapely.intersection(shapely.boundary(piece), shapely.boundary(cgeoms)))
                if shared.max() <= 0:
                    break
                j = int(np.lexsort((cand["grid_code"].to_numpy(), -shared))[0])
                if empty:
                    # land without households (a community grown by a field) is no grid of its own: it goes to
                    # the neighbouring grid, which keeps its code (a fresh partition gives empty blocks to the
                    # grids beside them)
                    grid = str(cand["grid_code"].iloc[j])
                    grown[grid] = shapely.union(cgeoms[j], piece)
                    attached.append({"code": code, "grid_code": grid, "geometry": piece})
                    piece = None
                    break
                absorbed.add(cand["grid_code"].iloc[j])
                piece = _joined(piece, cgeoms[j])
                # pieces now touching the grown piece merge into it
                touching = [p for p in pieces if shapely.length(shapely.intersection(shapely.boundary(p), shapely.boundary(piece))) > 0]
                for p in touching:
                    pieces.remove(p)
                    piece = _joined(piece, p)
            absorbed_all |= absorbed
            if piece is not None and (absorbed or not _thin(piece)):  # a strip no grid beside it took: left, as before
                regions.append({"code": code, "kind": kind, "geometry": piece, "absorbed": absorbed})
    # land given to a grid that a region then took in is that region's already
    attached[:] = [a for a in attached if a["grid_code"] not in absorbed_all]
    return regions


def _touching_joined(pieces: list[Any]) -> list[Any]:
    """``pieces`` of a community's free land with those that touch each other (at a point, too) as one: a
    community drawn as a bowtie is mended into two parts touching at a point, metre-wide slivers between their
    near edges, and a fresh plan divides the parts together, buildings across the slivers kept whole; each part
    re-divided alone cut them along the line between the parts. In the order of each group's first piece."""
    if len(pieces) < 2:
        return pieces
    geoms = np.array(pieces, dtype=object)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    if not keep.any():
        return pieces
    n = len(pieces)
    _, group = connected_components(coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(n, n)),
                                    directed=False)
    out = []
    for g in dict.fromkeys(group.tolist()):
        members = np.flatnonzero(group == g)
        out.append(pieces[members[0]] if len(members) == 1 else shapely.union_all(geoms[members]))
    return out
def _given_back(piece: Any, land: Any, carved_now: Any, households: np.ndarray, geoms: np.ndarray, grid_min: int,
                on_land: np.ndarray, unchanged: np.ndarray, free: np.ndarray | None = None) -> bool:
    """Whether the free ``piece`` of a community is land its previous dedicated grids (专属网格) held (``land``;
    less than ``1 m²`` of the piece outside it) beside the land its dedicated grids hold now (``carved_now``; an edge
    of at least :data:`_GIVEN_BACK_EDGE_M` in common) with fewer households than ``grid_min`` (``households`` of the
    community's buildings ``geoms``, by the one building-to-zone assignment): a crumb of ordinary land a dedicated
    grid enclosed, which the fresh plan gave to it (no grid of its own), to be given back as it was. The buildings
    ``on_land`` (counted on the previous dedicated land, placed with it by the previous plan) count no households
    while every building of the piece is ``unchanged``: a piece whose buildings changed is judged on its households
    now (an enclave the dedicated grid took, grown past a grid's floor, is an ordinary grid, as a fresh plan makes
    it). Land a dedicated grid no longer borders (its unit gone) is divided again with the ordinary land. ``free``:
    the buildings no kept grid holds (all when None); the others count no households here (a tower of a kept grid
    reaching into the piece is placed with that grid)."""
    if shapely.area(shapely.difference(piece, land)) > _TOL_M2:
        return False
    edge = shapely.intersection(shapely.boundary(piece), shapely.buffer(carved_now, _GIVEN_BACK_SNAP_M))
    if shapely.length(edge) < _GIVEN_BACK_EDGE_M:
        return False
    at = assign_to_zones(geoms, np.array([piece], dtype=object)).zone >= 0
    if free is not None:
        at &= free
    counted = at if not unchanged[at].all() else at & ~on_land
    return int(households[counted].sum()) < grid_min


#: a free piece gives back to a dedicated grid only with an edge of at least this much (m) beside its land now,
#: within :data:`_GIVEN_BACK_SNAP_M` (float noise between the community less its dedicated grids and their land)
_GIVEN_BACK_EDGE_M = 0.01
_GIVEN_BACK_SNAP_M = 1e-3


def _unchanged(buildings: gpd.GeoDataFrame, pb: gpd.GeoDataFrame | None) -> np.ndarray:
    """Per row of ``buildings``: whether the previous plan's buildings (``pb``) hold it, same ``building_id``, same
    households (as the keep rule compares them, whole households)."""
    if pb is None or "households" not in pb.columns or not len(buildings):
        return np.zeros(len(buildings), dtype=bool)
    before = pd.to_numeric(pb["households"], errors="coerce").fillna(0).round().astype(np.int64)
    before = pd.Series(before.to_numpy(), index=pb["building_id"].astype(str).to_numpy())
    before = before[~before.index.duplicated()]
    was = before.reindex(buildings["building_id"].astype(str).to_numpy()).to_numpy()
    now = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).round().to_numpy()
    return ~np.isnan(was) & (was == now)


def _on_land_freed(owner: np.ndarray, in_kept: np.ndarray, buildings: gpd.GeoDataFrame, regions: list[dict[str, Any]],
                   returned: list[dict[str, Any]], carved_now: dict[str, Any]) -> None:
    """Buildings counted on the land the previous dedicated grids held (``in_kept`` -2) that a freed region holds
    most of (land not given back: a unit gone, an enclave grown past a grid's floor) are that region's: ``owner``
    set to it and ``in_kept`` to -1, in place. Weighed against the pieces given back and the land the dedicated
    grids hold now (``carved_now``), where they stay with that land."""
    on_land = in_kept == -2
    if not regions or not on_land.any():
        return
    land = [{"code": c, "geometry": g} for c, g in sorted(carved_now.items())]
    zone = _region_of(buildings, regions + returned + land, np.where(on_land, -1, 0))
    mine = on_land & (zone >= 0) & (zone < len(regions))
    owner[mine] = zone[mine]
    in_kept[mine] = -1


def _joined(a: Any, b: Any) -> Any:
    """``a`` and ``b``, which share edges and do not overlap, as one geometry: their coverage union, or where
    their shared edges are not noded alike (a free piece cut from its community by float arithmetic, against a
    kept grid as stored) their overlay union (GEOS refused the coverage union, a traceback)."""
    try:
        return shapely.coverage_union(a, b)
    except shapely.errors.GEOSException:
        return shapely.union(a, b)


def _thin(piece: Any) -> bool:
    """Whether ``piece`` is under 10 cm wide everywhere (nothing is left of it 5 cm in from its edge)."""
    return bool(shapely.is_empty(shapely.buffer(piece, -0.05)))


#: land (m²) of a community beyond a freed region under which the region is the whole community
_OUTLINE_NOISE_M2 = 1e-3


def _place_stragglers(rbuild: gpd.GeoDataFrame, rb: gpd.GeoDataFrame, owned: np.ndarray) -> gpd.GeoDataFrame:
    """The buildings of a freed region (``owned``: per row of ``rbuild``, this region holds most of it or of its
    footprint unit, :func:`_region_of`, and it lies in a block of the community) that its blocks place in none,
    placed as a fresh plan places them: a
    member of a unit placed here in the unit's block; a footprint its blocks hold under
    :data:`~gridgeo.footprints.BUILDING_SHARE_MIN` of (mostly outside the communities, a few per cent of it in
    this one) in the block holding most of it. Left in no block, such a building was in no grid of the
    re-divided plan while `validate` found it in one."""
    from .blocks import assign_buildings

    lost = np.flatnonzero(rbuild["block_id"].isna().to_numpy() & owned)
    if not len(lost):
        return rbuild
    block = rbuild["block_id"].astype(object).to_numpy().copy()
    comm = rbuild["community_code"].astype(object).to_numpy().copy()
    if "unit_id" in rbuild.columns:
        # a member beyond the gap between the community's parts (none of it in this region's blocks) goes with its
        # unit, placed here whole, as a fresh plan places it
        unit = rbuild["unit_id"].astype(str).to_numpy()
        at = pd.notna(block)
        of_unit = pd.Series(block[at], index=unit[at]).groupby(level=0).first()
        com_of = pd.Series(comm[at], index=unit[at]).groupby(level=0).first()
        follow = lost[np.isin(unit[lost], of_unit.index.to_numpy())]
        block[follow] = of_unit.reindex(unit[follow]).to_numpy()
        comm[follow] = com_of.reindex(unit[follow]).to_numpy()
        lost = lost[~np.isin(lost, follow)]
    if len(lost):
        placed = assign_buildings(rbuild.iloc[lost], rb.assign(area_m2=rb.geometry.area), share_min=_ANY_SHARE)
        block[lost] = placed["block_id"].astype(object).to_numpy()
        comm[lost] = placed["community_code"].astype(object).to_numpy()
    out = rbuild.copy()
    out["block_id"] = pd.Series(block, index=out.index, dtype=object)
    out["community_code"] = pd.Series(comm, index=out.index, dtype=object)
    return out


def _region_of(buildings: gpd.GeoDataFrame, regions: list[dict[str, Any]], in_kept: np.ndarray) -> np.ndarray:
    """Index of the freed region that places each building in no kept grid: the region of its community holding
    most of it, a footprint unit's members the one holding most of the unit (weighed as
    :func:`gridgeo.blocks.assign_buildings` weighs it); -1 where no region holds any of it. Each region was
    given every building of its community outside the kept grids: a building (a unit) across the gap between
    two parts of the community, each part a region, was placed by both, its households counted in two grids."""
    out = np.full(len(buildings), -1, dtype=np.int64)
    if not regions or not len(buildings):
        return out
    geoms = buildings.geometry.to_numpy()
    bad = np.isin(shapely.get_type_id(geoms), (3, 6)) & ~shapely.is_valid(geoms)
    geoms = np.where(bad, shapely.make_valid(geoms), geoms)
    bcomm = buildings["community_code"].astype(object).where(buildings["community_code"].notna(), None).astype(str).to_numpy()
    units = unit_groups(buildings["unit_id"].astype(str).to_numpy())[0] if "unit_id" in buildings.columns else None
    rcode = np.array([str(r["code"]) for r in regions], dtype=object)
    rgeom = np.array([r["geometry"] for r in regions], dtype=object)
    for code in sorted(set(rcode)):
        ri = np.flatnonzero(rcode == code)
        bi = np.flatnonzero((bcomm == code) & (in_kept == -1))
        if not len(bi):
            continue
        asg = assign_to_zones(geoms[bi], rgeom[ri], share_min=_ANY_SHARE)
        z = asg.zone
        if units is not None:
            _units_whole(z, asg.pairs, geoms[bi], units[bi], np.ones(len(bi), dtype=bool), None)
        out[bi] = np.where(z >= 0, ri[np.maximum(z, 0)], -1)
    return out


def _partition_region(region: dict[str, Any], k: int, communities: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame,
                      buildings: gpd.GeoDataFrame, building_tree: shapely.STRtree, in_kept: np.ndarray,
                      streets: gpd.GeoDataFrame | None, rules: Rules, villager_groups: gpd.GeoDataFrame | None,
                      workers: int, outline: Any = None, owner: np.ndarray | None = None,
                      neighbours: tuple[gpd.GeoDataFrame | None, shapely.STRtree | None] = (None, None),
                      ) -> tuple[PartitionResult, bool]:
    """Partition one freed region (the ``k``-th) afresh; ``building_tree`` is an STRtree of ``buildings.geometry``
    (built once by :func:`adjust` for all regions). ``outline``: the community's whole outline, its dedicated grids
    included (None: the community as given). That outline, kept grids included, is the container its grids'
    holes are judged by: a new grid wrapped around a kept or dedicated grid is reported. ``owner``: the region
    placing each building (:func:`_region_of`; None: this one places every building it holds). Returns the
    partition, its ids as the partition gives them (:func:`_prefixed` names them by the region), and whether it
    names anything by ``k`` (a region without blocks is one block named by it)."""
    crs = communities.crs
    if owner is None:
        owner = np.full(len(buildings), k, dtype=np.int64)
    code, geom = region["code"], region["geometry"]
    row = communities[communities["code"] == code].iloc[0]
    comm = gpd.GeoDataFrame({"code": [code], "name": [row.get("name", code)], "kind": [region["kind"]]},
                            geometry=[geom], crs=crs)
    mine = blocks[blocks["community_code"] == code]
    clipped = shapely.intersection(mine.geometry.to_numpy(), geom)
    rows = []
    for bid, g in zip(mine["block_id"], clipped, strict=True):
        for n, part in enumerate(p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (3, 6) and p.area > 1e-3):
            rows.append({"block_id": bid if n == 0 else f"{bid}-p{n}", "community_code": code, "geometry": part})
    rb = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs) if rows else gpd.GeoDataFrame(
        {"block_id": [f"{code}-R{k}"], "community_code": [code]}, geometry=[geom], crs=crs)
    # its buildings: those of its community in no kept grid that it holds most of (or that no region holds any of)
    b_in = (buildings["community_code"] == code).to_numpy() & (in_kept == -1) & ((owner == k) | (owner == -1))
    rbuild = buildings[b_in].drop(columns=["block_id"])
    from .blocks import assign_buildings, block_totals

    # those the region places in no block yet holds most of, that lie in a block of the community (the assignment
    # over every block, as a fresh plan places them)
    in_block = buildings["block_id"].notna().to_numpy()[b_in] if "block_id" in buildings.columns else np.ones(int(b_in.sum()), dtype=bool)
    rbuild = _place_stragglers(assign_buildings(rbuild, rb.assign(area_m2=rb.geometry.area)), rb,
                               (owner[b_in] == k) & in_block)
    rbuild["community_code"] = rbuild["community_code"].where(rbuild["community_code"].notna(), None)
    rb = block_totals(rb.assign(area_m2=rb.geometry.area), rbuild)
    # buildings of other communities reaching into the region (a community boundary cuts them): their
    # pieces here are kept whole, as in a fresh plan (the partition's neighbours, placed in no grid here)
    hit = np.sort(building_tree.query(geom, predicate="intersects"))
    bcomm = buildings["community_code"].to_numpy()
    near = hit[(bcomm[hit] != code) & buildings["community_code"].notna().to_numpy()[hit]]
    others = buildings.iloc[near]
    # and those of its own community another region places (a footprint across the gap between two parts of the
    # community, each part freed as a region): their pieces here are kept whole too, not cut between its grids
    elsewhere = hit[(bcomm[hit] == code) & (owner[hit] != -1) & (owner[hit] != k)]
    if len(elsewhere):
        others = pd.concat([others, buildings.iloc[elsewhere]], ignore_index=True)
    extra, extra_tree = neighbours
    if extra is not None and extra_tree is not None:  # buildings carved into dedicated grids, as a fresh plan has them
        far = np.sort(extra_tree.query(geom, predicate="intersects"))
        far = far[extra["community_code"].notna().to_numpy()[far]]
        if len(far):
            others = pd.concat([others, extra.iloc[far]], ignore_index=True)
    # the container its grids' holes are judged by: the whole community, its dedicated grids and kept grids
    # included, so that a new grid wrapped around a kept grid (a tower's grid the region surrounds) is reported
    # and opened where it can be, as a fresh plan's grid wrapped around another is (the region alone has that
    # hole too, and the grid round it went unreported)
    whole = outline if outline is not None else row.geometry
    region_outline = whole if shapely.area(shapely.difference(whole, geom)) > _OUTLINE_NOISE_M2 else None
    # the kept grids it surrounds (the community less its dedicated grids, less the region): a new grid wrapped
    # round them gets a lane between the buildings to its neighbour, as a fresh plan's gets one to the grid inside
    kept_land = shapely.difference(row.geometry, geom) if region_outline is not None else None
    res = partition(comm, rb, rbuild, streets=streets, rules=rules, villager_groups=villager_groups, workers=1,
                    neighbours=others if len(others) else None,
                    outlines={code: region_outline} if region_outline is not None else None,
                    open_to={code: kept_land} if kept_land is not None and shapely.area(kept_land) > _OUTLINE_NOISE_M2
                    else None)
    return res, not rows


def _prefixed(res: PartitionResult, k: int, code: str) -> PartitionResult:
    """The partition of the ``k``-th freed region (of community ``code``) with its grids', small grids' and
    buildings' ids and its findings prefixed ``R<k>-`` (two regions of one community both have a
    ``<code>-G001``); a copy."""
    suffix = f"R{k}"
    grids, subgrids, buildings = res.grids.copy(), res.subgrids.copy(), res.buildings.copy()
    grids["grid_id"] = suffix + "-" + grids["grid_id"].astype(str)
    subgrids["grid_id"] = suffix + "-" + subgrids["grid_id"].astype(str)
    subgrids["subgrid_id"] = suffix + "-" + subgrids["subgrid_id"].astype(str)
    for col in ("grid_id", "subgrid_id"):
        buildings[col] = buildings[col].map(lambda v: None if v is None or pd.isna(v) else f"{suffix}-{v}").astype(object)
    return replace(res, grids=grids, subgrids=subgrids, buildings=buildings,
                   findings=_prefixed_findings(res.findings, str(code), suffix))


def _prefixed_findings(findings: gpd.GeoDataFrame, code: str, suffix: str) -> gpd.GeoDataFrame:
    """The findings of a re-divided region naming its grids and small grids by their ids in the region's
    plan (``<suffix>-<code>-G001``), as the layers do, so that they get the grids' codes (two regions of one
    community both have a ``<code>-G001``).

    >>> f = make_findings([{"type": "t", "severity": "info", "layer": "subgrids", "feature_id": "C-G001-02",
    ...     "message": "small grid C-G001-02 of grid C-G001 (community C, not XC-G001)"}], crs=4547)
    >>> _prefixed_findings(f, "C", "R1")[["feature_id", "message"]].values.tolist()
    [['R1-C-G001-02', 'small grid R1-C-G001-02 of grid R1-C-G001 (community C, not XC-G001)']]
    """
    if not len(findings):
        return findings
    import re

    own = re.compile(r"(?<![-\w])" + re.escape(code) + r"-G")
    out = findings.copy()
    for col in ("feature_id", "message"):
        out[col] = pd.Series([own.sub(f"{suffix}-{code}-G", v) if isinstance(v, str) else v for v in out[col]],
                             index=out.index, dtype=object)
    return out


def _new_in_kept_subgrids(buildings: gpd.GeoDataFrame, psub: gpd.GeoDataFrame | None, codes: np.ndarray,
                          in_kept: np.ndarray, sid: np.ndarray) -> None:
    """Fill ``sid`` (small-grid ids, ``"K<code>"``) of the buildings in a kept grid that the previous plan had in
    no small grid (a building without households on land the grid took in): the grid's small grid it lies in,
    by :func:`gridgeo.footprints.assign_to_zones`, as a fresh plan places every building of a grid."""
    todo = np.flatnonzero((in_kept >= 0) & pd.isna(sid))
    if not len(todo) or psub is None or not len(psub) or "subgrid_code" not in psub.columns:
        return
    parent = psub["grid_code"].astype(str).to_numpy()
    geoms = buildings.geometry.to_numpy()
    for grid, bi in pd.Series(todo).groupby(codes[in_kept[todo]].astype(str)):
        mine = np.flatnonzero(parent == grid)
        if not len(mine):
            continue
        b = geoms[bi.to_numpy()]
        b = np.where(shapely.is_valid(b), b, shapely.make_valid(b))
        zone = assign_to_zones(b, psub.geometry.to_numpy()[mine]).zone
        for i, z in zip(bi.to_numpy(), zone, strict=True):
            if z >= 0:
                sid[i] = "K" + str(psub["subgrid_code"].iat[mine[z]])


def _combine(kept: gpd.GeoDataFrame, psub: gpd.GeoDataFrame | None, pb: gpd.GeoDataFrame | None,
             buildings: gpd.GeoDataFrame, in_kept: np.ndarray, parts: list[PartitionResult], crs: Any) -> PartitionResult:
    from .partition import GRID_COLUMNS, SUBGRID_COLUMNS

    kg = kept.copy()
    kg["grid_id"] = "K" + kg["grid_code"].astype(str)
    kg["kind"] = kg["kind"] if "kind" in kg else "base"
    kg["flags"] = kg["flags"] if "flags" in kg else ""
    grids = [kg[[c for c in [*GRID_COLUMNS, "villager_group"] if c in kg.columns] + ["geometry"]]]
    subs = []
    if psub is not None and len(kept):
        ks = psub[psub["grid_code"].isin(set(kept["grid_code"]))].copy()
        ks["grid_id"] = "K" + ks["grid_code"].astype(str)
        ks["subgrid_id"] = "K" + ks["subgrid_code"].astype(str)
        subs.append(ks[[c for c in SUBGRID_COLUMNS if c in ks.columns] + ["geometry"]])
    out_b = buildings.copy()
    gid = np.full(len(out_b), None, dtype=object)
    sid = np.full(len(out_b), None, dtype=object)
    if pb is not None and len(kept):
        prev_sub = dict(zip(pb["building_id"].astype(str), pb.get("subgrid_code", pd.Series(None, index=pb.index)), strict=True))
        codes = kept["grid_code"].to_numpy()
        for i in np.flatnonzero(in_kept >= 0):
            gid[i] = "K" + str(codes[in_kept[i]])
            s = prev_sub.get(str(out_b["building_id"].iat[i]))
            sid[i] = None if s is None or (isinstance(s, float) and np.isnan(s)) else "K" + str(s)
        _new_in_kept_subgrids(out_b, psub, codes, in_kept, sid)
    # buildings handled by re-partitioned regions
    # (each region of a community is given all its buildings outside the kept grids and places only those in
    # it: a building another region placed keeps that region's grid, not the None of the next region)
    for res in parts:
        rb = res.buildings.set_index("building_id")
        rb = rb[rb["grid_id"].notna().to_numpy()]
        idx = out_b["building_id"].isin(rb.index).to_numpy()
        gid[idx] = rb.loc[out_b["building_id"][idx], "grid_id"].to_numpy()
        sid[idx] = rb.loc[out_b["building_id"][idx], "subgrid_id"].to_numpy()
        grids.append(res.grids)
        subs.append(res.subgrids)
    out_b["grid_id"] = pd.Series(gid, index=out_b.index, dtype=object)
    out_b["subgrid_id"] = pd.Series(sid, index=out_b.index, dtype=object)
    g = gpd.GeoDataFrame(pd.concat(grids, ignore_index=True), geometry="geometry", crs=crs)
    if "villager_group" in g.columns:  # kept grids keep the group they follow; re-divided ones name theirs
        g["villager_group"] = g["villager_group"].astype(object).where(g["villager_group"].notna(), None)
    s = gpd.GeoDataFrame(pd.concat(subs, ignore_index=True), geometry="geometry", crs=crs) if subs else gpd.GeoDataFrame(
        {c: [] for c in SUBGRID_COLUMNS}, geometry=[], crs=crs)
    findings = concat_findings([r.findings for r in parts], crs=crs) if parts else make_findings([], crs=crs)
    return PartitionResult(grids=g, subgrids=s, buildings=out_b, findings=findings)
