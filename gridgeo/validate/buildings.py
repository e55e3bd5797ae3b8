"""Building checks (in no grid, in two, cut by a boundary, outside every community, carrying the code of a grid
it does not lie in) and households per grid against the rules' bounds."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely import Point, Polygon

from ..footprints import ZoneAssignment, assign_to_zones, pieces_apart, units_across_gaps
from ..rules import Rules, rules_for_kind
from .layers import (
    _POLYGONAL,
    _as_code,
    _fix,
    _fmt_area,
    _Layer,
    _metric_geoms,
    _rec,
)


def _metric_buildings(buildings: gpd.GeoDataFrame, crs: CRS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Buildings in the metric CRS: (geometries as given, valid geometries, missing mask)."""
    bgeoms = _metric_geoms(buildings, crs)
    missing = shapely.is_missing(bgeoms) | shapely.is_empty(bgeoms)
    bgeoms = np.where(missing, Point(), bgeoms)
    valid = bgeoms.copy()
    bad = np.isin(shapely.get_type_id(bgeoms), _POLYGONAL) & ~shapely.is_valid(bgeoms)
    if bad.any():
        valid[bad] = _fix(bgeoms[bad])
    return bgeoms, valid, missing


def _carried(buildings: gpd.GeoDataFrame, column: str) -> np.ndarray | None:
    """The codes the buildings carry in ``column`` as text (None where blank), or None without the column."""
    if column not in buildings.columns:
        return None
    return np.array([_as_code(v) for v in buildings[column]], dtype=object)


def _assign(bgeoms: np.ndarray, layer: _Layer, share_min: float, stored: np.ndarray | None = None) -> ZoneAssignment:
    """gridgeo's one building-to-zone assignment (:func:`gridgeo.footprints.assign_to_zones`) on a
    prepared layer; ties go to the code the building carries (``stored``: a plan's ``grid_code`` or
    ``subgrid_code`` as :func:`_carried` reads it), then to the lower code."""
    zones = np.where(layer.usable, layer.geoms, Polygon())
    rank = pd.Series(layer.ids.astype(str)).rank(method="dense").to_numpy()
    prefer = None
    if stored is not None:
        pos = {c: i for i, c in enumerate(layer.ids) if c is not None}
        prefer = np.array([pos.get(v, -1) for v in stored], dtype=np.int64)
    return assign_to_zones(bgeoms, zones, share_min=share_min, rank=rank, prefer=prefer)


def _unit_codes(layer: _Layer, valid: np.ndarray, units: np.ndarray | None, zone_comm: np.ndarray,
                share_min: float) -> set[tuple[int, str]]:
    """The (unit, code) pairs a member of a footprint unit may carry wherever it lies: the codes of the zones of
    a unit cut only by the gap between parts of its community (:func:`~gridgeo.footprints.units_across_gaps`,
    the partition placing the unit whole in one of them)."""
    if units is None:
        return set()
    u, z = units_across_gaps(valid, units, np.where(layer.usable, layer.geoms, Polygon()), zone_comm,
                             share_min=share_min)
    named = pd.notna(layer.codes[z])
    return set(zip(u[named].tolist(), layer.codes[z[named]].tolist()))


def _carried_code_check(layer: _Layer, asg: ZoneAssignment, carried: np.ndarray, zone_comm: np.ndarray,
                        bids: np.ndarray, where: np.ndarray, missing: np.ndarray, records: list, share_min: float,
                        *, column: str, word: str, exempt: np.ndarray | None = None,
                        unit_codes: set[tuple[int, str]] | None = None, units: np.ndarray | None = None) -> None:
    """``building_code_mismatch``: the code a building carries in ``column`` (``grid_code`` or ``subgrid_code``,
    what dispatch and public security import) against the zone it lies in by the one building-to-zone
    assignment (``asg``, ties already given to the carried code).

    A building lying in a zone is an error when it carries no code or the code of another zone, unless it lies
    in that zone too (at least ``share_min`` of its footprint, or a point on their shared edge): a footprint
    across two grids (``building_cut``) or across two communities (``building_across_communities``) may carry
    either. A building lying in no zone yet carrying a code is a warning (it is in no grid by the coverage
    checks already; a building outside every community may be served by a grid on purpose). Buildings without
    geometry are left to ``empty_geometry``; zones without a code to ``missing_code``. ``exempt``: buildings
    not compared (a building of a grid without small grids carries no ``subgrid_code``). ``units`` (footprint
    unit labels, as the partition finds them) and ``unit_codes`` (:func:`_unit_codes`): a member of a unit cut
    only by the gap between parts of its community is judged by where its unit lies, not alone."""
    zone = asg.zone
    n = len(zone)
    zcode = np.full(n, None, dtype=object)
    lies = zone >= 0
    zcode[lies] = layer.codes[zone[lies]]
    lies &= pd.notna(zcode)
    has = pd.notna(carried)
    bi, zi, share = asg.pairs
    sel = (share >= share_min) & has[bi]
    sel[sel] = layer.codes[zi[sel]] == carried[bi[sel]]
    also = np.zeros(n, dtype=bool)
    also[bi[sel]] = True  # lies meaningfully in the zone its code names
    wrong = lies & ~(has & ((zcode == carried) | also))
    if unit_codes and units is not None and wrong.any():
        w = np.flatnonzero(wrong)
        wrong[w[[(int(units[b]), carried[b]) in unit_codes for b in w]]] = False
    astray = ~lies & (zone < 0) & has & ~missing
    if exempt is not None:
        wrong &= ~exempt
        astray &= ~exempt
    if not (wrong.any() or astray.any()):
        return
    known = set(layer.codes[pd.notna(layer.codes)])
    fix = f"re-run `gridgeo partition` (--previous OLD_PLAN keeps the codes) or set its {column} to"
    for b in np.flatnonzero(wrong | astray):
        code = carried[b]
        named = "" if code is None or code in known else " (no grid of the layer)" if word == "grid" else \
            " (no small grid of the layer)"
        if astray[b]:
            records.append(_rec("building_code_mismatch", "buildings", bids[b], None, geometry=where[b], severity="warning",
                                message=f"building {bids[b]} lies in no {word} but carries {column} {code}{named}: "
                                        f"clear its {column}, or redraw {word} {code} to hold it"))
        elif code is None:
            records.append(_rec("building_code_mismatch", "buildings", bids[b], zone_comm[zone[b]], geometry=where[b],
                                message=f"building {bids[b]} lies in {word} {zcode[b]} but carries no {column}: "
                                        f"{fix} {zcode[b]}"))
        else:
            records.append(_rec("building_code_mismatch", "buildings", bids[b], zone_comm[zone[b]], geometry=where[b],
                                message=f"building {bids[b]} carries {column} {code}{named} but lies in {word} "
                                        f"{zcode[b]}: {fix} {zcode[b]}"))


def _buildings_check(grids: _Layer, comm_code: np.ndarray, buildings: gpd.GeoDataFrame, crs: CRS,
                     overlap_pieces: np.ndarray, overlap_l: np.ndarray, overlap_r: np.ndarray,
                     records: list, share_min: float, carried: np.ndarray | None = None,
                     check_codes: bool = True, units: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Building findings; returns the grid position each building counts in (-1 when none) and which
    buildings it named ``building_cut`` (so the small-grid check does not name them again). ``carried``: the
    ``grid_code`` each building carries (:func:`_carried`), which wins ties of the assignment and, with
    ``check_codes``, is checked against the grid the building lies in (:func:`_carried_code_check`), a member of
    a footprint unit (``units``: labels) by where its unit lies."""
    bgeoms, bgeoms_valid, missing = _metric_buildings(buildings, crs)
    is_point = ~np.isin(shapely.get_type_id(bgeoms), _POLYGONAL)
    bids = _building_ids(buildings)
    for b in np.flatnonzero(missing):  # said, not skipped: its households are in no grid's count
        records.append(_rec("empty_geometry", "buildings", bids[b], None, severity="warning",
                            message=f"building {bids[b]} has no geometry: it is in no grid and its households are not counted"))
    asg = _assign(bgeoms_valid, grids, share_min, carried)
    if carried is not None and check_codes:
        _carried_code_check(grids, asg, carried, comm_code, bids, bgeoms, missing, records, share_min,
                            column="grid_code", word="grid", units=units,
                            unit_codes=_unit_codes(grids, bgeoms_valid, units, comm_code, share_min))
    area = shapely.area(bgeoms_valid)
    assigned, max_share = asg.zone, asg.max_share
    unassigned = ~missing & (assigned < 0)
    cut = ~missing & ~is_point & (asg.n_zones >= 2) & (max_share < 1 - share_min)
    bi, ti, share = asg.pairs
    sel = cut[bi] & (share >= share_min)
    grids_of: dict[int, list[str]] = {}
    comms_of: dict[int, list[Any]] = {}
    for b, g in zip(bi[sel], ti[sel]):
        grids_of.setdefault(int(b), []).append(grids.ids[g])
        comms_of.setdefault(int(b), []).append(comm_code[g])
    # pieces in grids of one community that share no edge: the gap between parts of the community cuts it
    apart = pieces_apart(bgeoms_valid, np.where(grids.usable, grids.geoms, Polygon()), bi[sel], ti[sel],
                         np.asarray(comm_code, dtype=object)[ti[sel]])

    # buildings in an overlap of grids
    in_two: dict[int, tuple[float, list[str]]] = {}
    if len(overlap_pieces):
        tree = shapely.STRtree(overlap_pieces)
        b2, o2 = tree.query(bgeoms_valid, predicate="intersects")
        poly2 = ~is_point[b2]
        inter = np.where(poly2, shapely.area(shapely.intersection(bgeoms_valid[b2], overlap_pieces[o2])), 0.0)
        for b, o, a, is_poly in zip(b2, o2, inter, poly2):
            if is_poly and (area[b] <= 0 or a / area[b] < share_min):
                continue
            codes = sorted({grids.ids[overlap_l[o]], grids.ids[overlap_r[o]]})
            prev = in_two.get(b, (0.0, []))
            in_two[b] = (prev[0] + a, sorted(set(prev[1]) | set(codes)))
    named_cut = np.zeros(len(bgeoms), dtype=bool)
    for b in sorted(set(np.flatnonzero(unassigned | cut).tolist()) | set(in_two)):
        where = bgeoms[b]
        if unassigned[b]:
            a = float(area[b])
            records.append(_rec("building_unassigned", "buildings", bids[b], None, measure=a, geometry=where,
                                message=f"building {bids[b]} is in no grid"))
            continue
        g = assigned[b]
        comm = comm_code[g] if g >= 0 else None
        if b in in_two:
            a, codes = in_two[b]
            records.append(_rec("building_in_two_grids", "buildings", bids[b], comm, measure=float(a), geometry=where,
                                message=f"building {bids[b]} lies in the overlap of grids {', '.join(codes)}"))
        if cut[b]:
            a = float(area[b] * (1 - max_share[b]))
            codes = sorted(grids_of.get(b, []))
            comms = comms_of.get(b, [])
            if None not in comms and apart[b]:
                # one grid in each community, or in each separate part of one: the community boundary itself
                # cuts it (a finding on input)
                names = sorted({str(c) for c in comms})
                where_cut = (f"communities {', '.join(names)}" if len(names) > 1
                             else f"separate parts of community {names[0]}")
                records.append(_rec("building_across_communities", "buildings", bids[b], comm, measure=a, geometry=where,
                                    message=f"building {bids[b]} straddles {where_cut}: "
                                            f"the community boundary cuts it ({_fmt_area(a)} outside grid {grids.ids[g]})"))
                continue
            records.append(_rec("building_cut", "buildings", bids[b], comm, measure=a, geometry=where,
                                message=f"building {bids[b]} is cut by the boundary of grids {', '.join(codes)}: "
                                        f"{_fmt_area(a)} lies outside grid {grids.ids[g]}"))
            named_cut[b] = True
    return assigned, named_cut


def _households_check(layer: _Layer, comm_code: np.ndarray, comm_kind: np.ndarray, assigned: np.ndarray,
                      households: np.ndarray, units: np.ndarray, rules: Rules, records: list, *, exempt: np.ndarray,
                      small: bool, container: np.ndarray, forced: np.ndarray | None = None) -> None:
    """Households per feature against the rule's bounds. A feature out of bounds is a warning, or
    info when it cannot be helped: a single building or footprint unit over the ceiling (never split),
    one under the floor that the partition flagged ``grid_forced_under_floor`` (``forced``; it can share
    a grid with no neighbouring building within the ceiling), or a community whose footprint units admit no division within the bounds at all (proved by
    :func:`~gridgeo.partition.feasibility.packable`)."""
    from ..partition.feasibility import divisible as is_divisible
    from ..partition.metrics import unit_households

    n = len(layer.geoms)
    ok = assigned >= 0
    totals = np.bincount(assigned[ok], weights=households[ok], minlength=n)
    lived = ok & (households > 0)  # units with households: an empty address point beside a tower is no second unit
    zu = np.unique(np.column_stack([assigned[lived], units[lived]]), axis=0) if lived.any() else np.zeros((0, 2), np.int64)
    nunits = np.bincount(zu[:, 0], minlength=n) if len(zu) else np.zeros(n, dtype=np.int64)
    # the buildings of each container, those of exempt (dedicated) grids left out as the quality figures do
    pooled = ok.copy()
    pooled[ok] &= ~exempt[assigned[ok]]
    where = np.flatnonzero(pooled)
    keys = pd.Series(container[assigned[where]], dtype=object)
    members = {k: where[v] for k, v in keys.groupby(keys, sort=False).indices.items()}
    divisible: dict[Any, bool] = {}
    for i in np.flatnonzero(layer.usable & ~exempt):
        r = rules_for_kind(rules, comm_kind[i])
        lo, hi = (r.subgrid_min, r.subgrid_max) if small else (r.grid_min, r.grid_max)
        h = totals[i]
        if lo <= h <= hi:
            continue
        sev, note = "warning", ""
        c = container[i]
        if c is not None and not (isinstance(c, float) and np.isnan(c)):
            if c not in divisible:  # a container has one grid at least: under the floor, none fits
                idx = members.get(c, np.zeros(0, dtype=np.int64))
                mine = unit_households(np.zeros(len(idx), dtype=np.int64), units[idx], households[idx])[1]
                divisible[c] = is_divisible(mine, lo, hi)
            if not divisible[c]:
                sev, note = "info", f"; the buildings of community {c} admit no division into {lo}–{hi}"
        if h > hi and nunits[i] == 1:
            sev, note = "info", "; a single building or footprint unit, which is never split (exempt)"
        elif h < lo and nunits[i] == 1 and forced is not None and forced[i]:
            sev, note = "info", ("; a single building forced under the floor, as its grid_forced_under_floor flag "
                                 "says (exempt)")
        word = "small grid" if small else "grid"
        records.append(_rec("households_out_of_bounds", layer.name, layer.ids[i], comm_code[i], measure=float(h),
                            geometry=shapely.point_on_surface(layer.geoms[i]), severity=sev,
                            message=f"{word} {layer.ids[i]} has {h:.0f} households, outside {lo}–{hi}{note}"))


def _outside_communities(records: list[dict], community_geoms: np.ndarray, share_min: float) -> None:
    """A building in no grid because it lies outside every community (less than ``share_min`` of it in
    any, by the one building-to-zone assignment) is a warning, not a coverage error."""
    idx = [i for i, r in enumerate(records) if r["type"] == "building_unassigned" and r.get("geometry") is not None]
    if not idx:
        return
    where = np.array([records[i]["geometry"] for i in idx], dtype=object)
    bad = np.isin(shapely.get_type_id(where), _POLYGONAL) & ~shapely.is_valid(where)
    if bad.any():
        where[bad] = _fix(where[bad])
    inside = assign_to_zones(where, community_geoms, share_min=share_min).zone >= 0
    for i, held in zip(idx, inside, strict=True):
        if not held:
            records[i]["type"] = "building_outside_communities"
            records[i]["severity"] = "warning"
            records[i]["message"] = f"building {records[i]['feature_id']} lies outside every community (in no grid by design)"


def _subgrid_cut_check(sub: _Layer, parent: np.ndarray, grids: _Layer, comm_code: np.ndarray,
                       buildings: gpd.GeoDataFrame, crs: CRS, records: list, share_min: float,
                       named_cut: np.ndarray | None = None, carried: np.ndarray | None = None,
                       check_codes: bool = True, carried_grid: np.ndarray | None = None,
                       units: np.ndarray | None = None) -> np.ndarray:
    """``building_cut`` for footprints split between small grids of one grid (楼栋完整 holds for small grids
    too; a footprint split between grids is the grid check's finding, not repeated here: the buildings in
    ``named_cut``, which the grid check named ``building_cut``, are left out, so each building has one such
    finding at most). Returns the small grid each building counts in (-1 when none), the one assignment.
    ``carried``: the ``subgrid_code`` each building carries, which wins ties and, with ``check_codes``, is
    checked as the grid check checks ``grid_code`` (:func:`_carried_code_check`), except for buildings whose
    ``grid_code`` (``carried_grid``) names a grid without small grids (a dedicated grid, 专属网格): a point on
    the edge between a dedicated grid and an ordinary one may carry the dedicated grid's code, and then no
    small grid's (the grid check judges its ``grid_code``). A member of a footprint unit (``units``: labels) is
    judged by where its unit lies, as the grid check judges it."""
    bgeoms, valid, missing = _metric_buildings(buildings, crs)
    asg = _assign(valid, sub, share_min, carried)
    bids = _building_ids(buildings)
    if carried is not None and check_codes:
        sub_comm = np.array([comm_code[p] if p >= 0 else None for p in parent], dtype=object)
        exempt = None
        if carried_grid is not None:
            with_small = set(grids.codes[parent[parent >= 0]].tolist())
            exempt = np.array([c is not None and c not in with_small for c in carried_grid], dtype=bool)
        _carried_code_check(sub, asg, carried, sub_comm, bids, bgeoms, missing, records, share_min,
                            column="subgrid_code", word="small grid", exempt=exempt, units=units,
                            unit_codes=_unit_codes(sub, valid, units, sub_comm, share_min))
    is_point = ~np.isin(shapely.get_type_id(bgeoms), _POLYGONAL)
    cut = ~missing & ~is_point & (asg.n_zones >= 2) & (asg.max_share < 1 - share_min)
    bi, si, share = asg.pairs
    if named_cut is not None:
        cut &= ~named_cut
    sel = cut[bi] & (share >= share_min) & (parent[si] >= 0)
    if not sel.any():
        return asg.zone
    pairs = pd.DataFrame({"b": bi[sel], "s": si[sel], "p": parent[si[sel]]})
    pairs = pairs[pairs.duplicated(["b", "p"], keep=False)]  # two small grids or more of one grid
    # pieces in small grids of one grid sharing no edge: the gap between parts of the community cuts it
    apart = pieces_apart(valid, np.where(sub.usable, sub.geoms, Polygon()), pairs["b"].to_numpy(), pairs["s"].to_numpy(), pairs["p"].to_numpy())
    pairs = pairs[~apart[pairs["b"].to_numpy()]]
    if not len(pairs):
        return asg.zone
    area = shapely.area(valid)
    for b, grp in pairs.groupby("b", sort=True):
        codes = ", ".join(sorted(str(sub.ids[x]) for x in grp["s"]))
        p = int(grp["p"].iloc[0])
        a = float(area[b] * (1 - asg.max_share[b]))
        main = sub.ids[asg.zone[b]] if asg.zone[b] >= 0 else "?"
        records.append(_rec("building_cut", "buildings", bids[b], comm_code[p], measure=a, geometry=bgeoms[b],
                            message=f"building {bids[b]} is cut by the boundary of small grids {codes} (in grid "
                                    f"{grids.ids[p]}): {_fmt_area(a)} lies outside small grid {main}"))
    return asg.zone


def _building_ids(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """Each building's id for messages: ``building_id``, else ``#`` and its index."""
    if "building_id" in buildings.columns:
        return np.array([_as_code(v) or f"#{i}" for v, i in zip(buildings["building_id"], buildings.index)], dtype=object)
    return np.array([f"#{i}" for i in buildings.index], dtype=object)
