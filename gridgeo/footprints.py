"""Footprint units (楼栋完整): overlapping and duplicated building footprints are one indivisible unit.

Real footprint layers overlap all the time: the same outline twice (two sources, tile-clipped copies),
``building:part`` pieces drawn on top of their building, one building cut into pieces by height band,
outlines from two sources drawn over each other a metre apart. gridgeo keeps every feature (nothing is
dropped) but never divides such a group between grids or small grids: :func:`footprint_units` gives
each building the id of its unit, and every overlap is a finding with both ids.

Two polygonal footprints are in one unit when they overlap by at least ``rules.footprint_overlap_share``
of the smaller one's area (exact duplicates always); a point building (an address or entrance point
mixed into the layer) joins the unit of the footprint it lies in. Units are the connected components of
those pairs; a unit's id is the smallest ``building_id`` in it, so the result does not depend on row order.

:func:`bend_blocks` then moves every footprint unit that straddles blocks of one community (a street
drawn through an arcade, a covered lane) wholly into the block that holds most of it, so blocks, and
the grids made of them, go around buildings. Only a community boundary still cuts a building (a finding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._findings import make_findings
from ._geometry import inner_points, union_by
from .rules import Rules, get_rules

__all__ = ["footprint_units", "split_multipart", "pinched_across_blocks", "bend_blocks", "unit_groups", "unit_labels", "assign_to_zones", "ZoneAssignment", "BUILDING_SHARE_MIN",
           "pieces_apart", "units_across_gaps"]

#: a point building this close (m) to a zone's edge is on the edge
EDGE_M = 1e-3

#: least share of a footprint that counts as lying in a zone (block, grid, small grid, community): the
#: one threshold of the building-to-zone assignment for the partition, ``validate`` and the quality report
BUILDING_SHARE_MIN = 0.05

#: shares of one footprint closer than this tie (the float noise of a plan stored in degrees and read
#: back moves a share by about 1e-8): the preferred zone, then the lower rank, holds it
SHARE_TIE = 1e-6

_POLYGONAL = (3, 6)  # Polygon, MultiPolygon
#: a footprint unit of this many buildings or more is reported (``footprint_unit_large``)
LARGE_UNIT_BUILDINGS = 10
#: a footprint's edge this close (m) to other footprints all round is walled in by them
WALLED_M = 0.5

#: overlaps below this area (m²) are numeric noise between footprints that only touch
_NOISE_M2 = 1e-6


def footprint_units(
    buildings: gpd.GeoDataFrame, *, rules: Rules | None = None, households: Any = None
) -> tuple[pd.Series, gpd.GeoDataFrame]:
    """Group overlapping and duplicated footprints into indivisible units.

    Parameters
    ----------
    buildings
        ``building_id`` (unique) and footprints or points, in a metric CRS.
    rules
        Supplies ``footprint_overlap_share``: the least overlap, as a share of the smaller footprint,
        that makes two footprints one unit; and ``subgrid_max``: a footprint of more households walled in by
        others (every point of its edge within :data:`WALLED_M` of them: a tower in a podium drawn round it)
        is one unit with them (``building_walled_in``, info).
    households
        Households of each building (default: the ``households`` column, nulls none).

    Returns
    -------
    (Series, GeoDataFrame)
        The unit id of each building (aligned to ``buildings.index``; the smallest ``building_id`` of
        its unit) and findings: ``building_duplicate`` (warning: the same outline twice; both are kept
        and both households count), ``buildings_overlap`` (info: kept whole together), with both ids, and
        ``building_point_in_footprint`` (warning: a point building with households in a footprint with households;
        both count).

    Examples
    --------
    >>> from shapely import box, Point
    >>> b = gpd.GeoDataFrame({"building_id": ["a", "b", "c", "d", "e"]},
    ...     geometry=[box(0, 0, 10, 10), box(0, 0, 10, 10), box(8, 0, 18, 10), box(30, 0, 40, 10), Point(35, 5)],
    ...     crs=4547)
    >>> units, found = footprint_units(b)
    >>> units.tolist()
    ['a', 'a', 'a', 'd', 'd']
    >>> found[["type", "feature_id"]].values.tolist()
    [['building_duplicate', 'a'], ['buildings_overlap', 'a'], ['buildings_overlap', 'b']]
    """
    rules = rules or get_rules()
    ids = buildings["building_id"].astype(str).to_numpy()
    geoms = buildings.geometry.to_numpy()
    n = len(geoms)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    poly = np.isin(shapely.get_type_id(geoms), _POLYGONAL) & ~empty
    valid = geoms.copy()
    bad = poly & ~shapely.is_valid(geoms)
    if bad.any():
        valid[bad] = shapely.make_valid(geoms[bad])
    pidx = np.flatnonzero(poly)
    pairs_a: list[np.ndarray] = []
    pairs_b: list[np.ndarray] = []
    records: list[dict[str, Any]] = []
    tree = shapely.STRtree(valid[pidx])
    if len(pidx) > 1:
        a, b = tree.query(valid[pidx], predicate="intersects")
        keep = a < b
        a, b = pidx[a[keep]], pidx[b[keep]]
        # each pair's overlay taken in the order of the ids (the smaller first), not of the rows: the overlap's
        # point and area are then the same whatever the row order
        swap = ids[a] > ids[b]
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        inter = shapely.area(shapely.intersection(valid[a], valid[b]))
        smaller = np.minimum(shapely.area(valid[a]), shapely.area(valid[b]))
        share = np.divide(inter, smaller, out=np.zeros(len(a)), where=smaller > 0)
        same = shapely.equals(valid[a], valid[b])
        joined = same | ((inter > _NOISE_M2) & (share >= rules.footprint_overlap_share))
        a, b, inter, same = a[joined], b[joined], inter[joined], same[joined]
        pairs_a.append(a)
        pairs_b.append(b)
        where = shapely.point_on_surface(shapely.intersection(valid[a], valid[b]))
        for i, j, area, dup, g in zip(a, b, np.round(inter, 6), same, where, strict=True):
            lo, hi = sorted((ids[i], ids[j]))
            if dup:
                records.append({"type": "building_duplicate", "severity": "warning", "layer": "buildings",
                                "feature_id": lo, "measure": float(area),
                                "message": f"buildings {lo} and {hi} have the same outline: kept as one unit in one "
                                           "grid and both households counted; delete one if it is a copy",
                                "geometry": g})
            else:
                records.append({"type": "buildings_overlap", "severity": "info", "layer": "buildings",
                                "feature_id": lo, "measure": float(area),
                                "message": f"buildings {lo} and {hi} overlap by {area:,.1f} m²: kept whole together "
                                           "in one grid and one small grid",
                                "geometry": g})
    # a footprint over the small-grid ceiling walled in by others (a tower in a podium drawn round it): no
    # grid line can reach it without cutting one of them, so they are one unit with it
    hh = (np.asarray(households, dtype=float) if households is not None else
          pd.to_numeric(buildings["households"], errors="coerce").to_numpy(float) if "households" in buildings
          else np.zeros(n))
    heavy = np.flatnonzero(poly & (np.nan_to_num(hh) > rules.subgrid_max))
    if len(heavy) and len(pidx) > 1:
        a, b = tree.query(valid[heavy], predicate="dwithin", distance=WALLED_M)
        a, b = heavy[a], pidx[b]
        keep = a != b
        a, b = a[keep], b[keep]
        # walls beside it, not pieces drawn over it (those are the overlap rule's)
        beside = shapely.area(shapely.intersection(valid[a], valid[b])) <= _NOISE_M2
        a, b = a[beside], b[beside]
        if len(a):
            walls = union_by(shapely.buffer(valid[b], WALLED_M), np.searchsorted(heavy, a), len(heavy))
            edges = shapely.boundary(valid[heavy])
            open_m = shapely.length(shapely.difference(edges, np.where(shapely.is_missing(walls), None, walls)))
            walled = np.isin(np.arange(len(heavy)), np.searchsorted(heavy, a)) & (np.nan_to_num(open_m, nan=1.0) <= 1e-6)
            if walled.any():
                sel = np.isin(a, heavy[walled])
                pairs_a.append(a[sel])
                pairs_b.append(b[sel])
                for i in heavy[walled]:
                    others = sorted(ids[b[a == i]])
                    records.append({"type": "building_walled_in", "severity": "info", "layer": "buildings",
                                    "feature_id": ids[i], "measure": float(hh[i]),
                                    "message": f"building {ids[i]} ({hh[i]:.0f} households) is walled in by buildings "
                                               f"{', '.join(others)}: kept whole together with them in one grid and "
                                               "one small grid (no line can reach it without cutting one)",
                                    "geometry": shapely.point_on_surface(valid[i])})
    # points (address or entrance points in the buildings layer) join the footprint they lie in
    pt = ~poly & ~empty
    if pt.any() and len(pidx):
        qidx = np.flatnonzero(pt)
        a, b = tree.query(geoms[qidx], predicate="within")
        if len(a):
            first = pd.DataFrame({"p": qidx[a], "f": pidx[b], "id": ids[pidx[b]]}).sort_values(["p", "id"]).drop_duplicates("p")
            pairs_a.append(first["p"].to_numpy())
            pairs_b.append(first["f"].to_numpy())
            records += _points_counted_twice(first["p"].to_numpy(), first["f"].to_numpy(), ids, hh, geoms)
    label = np.arange(n)
    if pairs_a and sum(len(p) for p in pairs_a):
        pa, pb = np.concatenate(pairs_a), np.concatenate(pairs_b)
        graph = coo_matrix((np.ones(len(pa)), (pa, pb)), shape=(n, n))
        _, label = connected_components(graph, directed=False)
    unit_id = pd.Series(ids, index=buildings.index).groupby(label).transform("min") if n else pd.Series(ids, dtype=object)
    unit_id.index = buildings.index
    # a chain of many footprints (terraced houses each drawn into its neighbour) is one indivisible unit:
    # say so, so that a sloppy outline layer does not silently make one grid of a whole street
    size = unit_id.map(unit_id.value_counts())
    for uid in sorted(set(unit_id[size.to_numpy() >= LARGE_UNIT_BUILDINGS])):
        members = np.flatnonzero(unit_id.to_numpy() == uid)
        hh = pd.to_numeric(buildings["households"], errors="coerce").iloc[members].sum() if "households" in buildings else np.nan
        records.append({"type": "footprint_unit_large", "severity": "warning", "layer": "buildings",
                        "feature_id": str(uid), "measure": float(len(members)),
                        "message": f"{len(members)} overlapping footprints ({hh:.0f} households) form one indivisible unit "
                                   f"{uid}: never divided between grids; if they are separate buildings drawn into each "
                                   "other, fix their outlines or raise footprint_overlap_share",
                        "geometry": shapely.point_on_surface(shapely.union_all(geoms[members]))})
    findings = make_findings(records, crs=buildings.crs)
    if len(findings):
        # the message names both ids: a total order whatever the input row order
        findings = findings.sort_values(["type", "feature_id", "message", "measure"], kind="stable").reset_index(drop=True)
    return unit_id.astype(object), findings


def _points_counted_twice(points: np.ndarray, footprints: np.ndarray, ids: np.ndarray, hh: np.ndarray,
                          geoms: np.ndarray) -> list[dict[str, Any]]:
    """``building_point_in_footprint`` (warning) for each point building lying in a footprint when both carry
    households: an address layer merged into the footprints counts a building's households twice, unsaid."""
    both = (np.nan_to_num(hh[points]) > 0) & (np.nan_to_num(hh[footprints]) > 0)
    return [{"type": "building_point_in_footprint", "severity": "warning", "layer": "buildings",
             "feature_id": ids[i], "measure": float(hh[i]),
             "message": f"building {ids[i]}, a point, lies in footprint {ids[j]} and both carry households ({hh[i]:.0f} "
                        f"and {hh[j]:.0f}): kept as one unit in one grid and both counted; if the point is that "
                        "building's address (门牌), delete it or leave its households empty",
             "geometry": geoms[i]}
            for i, j in zip(points[both], footprints[both], strict=True)]


def split_multipart(buildings: gpd.GeoDataFrame, corners: np.ndarray | None = None,
                    ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Buildings whose footprint is several separate polygons, split into one row per separate piece.

    A multi-part footprint whose parts do not touch (two wings drawn as one feature, a building and its
    garage 40 m away) cannot lie in one contiguous grid. Each separate piece (parts that touch stay
    together; in the rows ``corners`` flags, parts meeting only at points are separate, see
    :func:`pinched_across_blocks`) becomes a building of its own, ``building_id`` ``<id>#<n>`` numbered
    west to east, its households the building's shared out by footprint area (largest remainders; the
    total is kept), with a ``building_multipart_split`` finding. Nothing is dropped.

    >>> from shapely import box, MultiPolygon
    >>> b = gpd.GeoDataFrame({"building_id": ["a", "b"], "households": [10, 7]},
    ...     geometry=[MultiPolygon([box(0, 0, 10, 10), box(100, 0, 130, 10)]), box(0, 20, 5, 25)], crs=4547)
    >>> out, found = split_multipart(b)
    >>> out[["building_id", "households"]].values.tolist(), list(found["type"])
    ([['a#1', 3], ['a#2', 7], ['b', 7]], ['building_multipart_split'])
    """
    geoms = buildings.geometry.to_numpy()
    multi = np.flatnonzero((shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) > 1))
    if not len(multi):
        return buildings, make_findings([], crs=buildings.crs)
    rows, records = [], []
    keep = np.ones(len(buildings), dtype=bool)
    hh_col = "households" in buildings.columns
    for i in multi:
        parts = np.asarray(shapely.get_parts(geoms[i]), dtype=object)
        a, b = shapely.STRtree(parts).query(parts, predicate="intersects")
        if corners is not None and corners[i]:  # parts meeting only at points are separate here
            shared = shapely.get_dimensions(shapely.intersection(parts[a], parts[b])) >= 1
            a, b = a[shared | (a == b)], b[shared | (a == b)]
        n_parts = len(parts)
        _, lab = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n_parts, n_parts)), directed=False)
        if lab.max() == 0:
            continue
        pieces = [shapely.union_all(parts[lab == k]) for k in range(lab.max() + 1)]
        pieces = [pieces[k] for k in np.argsort([shapely.bounds(p)[0] for p in pieces], kind="stable")]
        area = np.array([shapely.area(p) for p in pieces])
        keep[i] = False
        row = buildings.iloc[i]
        bid = str(row["building_id"])
        total = row["households"] if hh_col else None
        shares = [None] * len(pieces)
        if hh_col and pd.notna(total):
            exact = float(total) * area / area.sum()
            base = np.floor(exact).astype(np.int64)
            base[np.argsort(-(exact - base), kind="stable")[: int(round(float(total))) - int(base.sum())]] += 1
            shares = base.tolist()
        for k, (piece, h) in enumerate(zip(pieces, shares, strict=True)):
            new = row.copy()
            new["building_id"] = f"{bid}#{k + 1}"
            if hh_col:
                new["households"] = h if h is not None else total
            new[buildings.geometry.name] = piece
            rows.append((i + (k + 1) / (len(pieces) + 1), new))
        records.append({"type": "building_multipart_split", "severity": "info", "layer": "buildings",
                        "feature_id": bid, "measure": float(len(pieces)),
                        "message": f"building {bid} is {len(pieces)} separate pieces: kept as buildings "
                                   f"{bid}#1–#{len(pieces)}, households shared out by footprint area",
                        "geometry": shapely.point_on_surface(pieces[0])})
    if not rows:
        return buildings, make_findings([], crs=buildings.crs)
    extra = gpd.GeoDataFrame([r for _, r in rows], columns=buildings.columns, geometry=buildings.geometry.name,
                             crs=buildings.crs)
    # the pieces take the place of their building: row order kept
    order = np.argsort(np.r_[np.flatnonzero(keep).astype(float), [p for p, _ in rows]], kind="stable")
    out = pd.concat([buildings[keep], extra], ignore_index=True).iloc[order].reset_index(drop=True)
    out = gpd.GeoDataFrame(out, geometry=buildings.geometry.name, crs=buildings.crs)
    for col in buildings.columns:
        if col != buildings.geometry.name and buildings[col].dtype != object:
            try:
                out[col] = out[col].astype(buildings[col].dtype)
            except (TypeError, ValueError):
                pass
    return out, make_findings(records, crs=buildings.crs)


def pinched_across_blocks(buildings: gpd.GeoDataFrame, units: pd.Series, blocks: gpd.GeoDataFrame,
                          *, min_area_m2: float = 0.01) -> np.ndarray:
    """Rows whose footprint is parts meeting only at points (a tile cut through a corner) and whose unit
    lies in two blocks or more (:func:`bend_blocks` then moves it whole into one).

    Such a unit moved into its block hangs on it by a point: its cell comes out in two pieces and a grid
    line cuts the building. :func:`split_multipart` with these rows as ``corners`` makes their parts
    separate buildings. A tile-cut footprint inside one block stays one building (its cell is kept whole).

    >>> from shapely import box, MultiPolygon
    >>> k = gpd.GeoDataFrame({"block_id": ["A", "B"], "community_code": ["X", "X"]},
    ...                      geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=4547)
    >>> corner = MultiPolygon([box(80, 10, 90, 20), box(90, 20, 110, 30)])  # the second part across x = 100
    >>> b = gpd.GeoDataFrame({"building_id": ["c", "d"]}, geometry=[corner, box(20, 10, 30, 20)], crs=4547)
    >>> pinched_across_blocks(b, pd.Series(["c", "d"]), k).tolist()
    [True, False]
    """
    geoms = buildings.geometry.to_numpy()
    polygonal = np.isin(shapely.get_type_id(geoms), _POLYGONAL) & ~shapely.is_empty(geoms)
    out = np.zeros(len(buildings), dtype=bool)
    multi = np.flatnonzero(polygonal & (shapely.get_num_geometries(geoms) > 1))
    if not len(multi) or not len(blocks):
        return out
    uid = np.asarray(units, dtype=str)
    wanted = np.isin(uid, uid[multi]) & polygonal
    _, unit_name, ui, _, area = _unit_pieces(geoms[wanted], uid[wanted], blocks.geometry.to_numpy())
    per = np.bincount(ui[area >= min_area_m2], minlength=len(unit_name))
    out[multi] = np.isin(uid[multi], unit_name[per > 1].astype(str))
    return out


def _unit_pieces(fp: np.ndarray, uid: np.ndarray, kgeoms: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each footprint unit's polygon (its footprints ``fp`` united by unit id ``uid``, repaired where invalid),
    its id, and the pairs (unit, block) of ``kgeoms`` it intersects with the area in each."""
    bad = ~shapely.is_valid(fp)
    if bad.any():
        fp = fp.copy()
        fp[bad] = shapely.make_valid(fp[bad])
    ulab, nu = unit_groups(uid)
    unit_geom = union_by(fp, ulab, nu)
    unit_name = np.empty(nu, dtype=object)
    unit_name[ulab] = uid
    ui, ki = shapely.STRtree(kgeoms).query(unit_geom, predicate="intersects")
    area = shapely.area(shapely.intersection(unit_geom[ui], kgeoms[ki]))
    return unit_geom, unit_name, ui, ki, area


def unit_groups(units: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer label (0..k-1, in order of first appearance) of each building's unit id."""
    if not len(units):
        return np.zeros(0, dtype=np.int64), 0
    _, first, inv = np.unique(np.asarray(units, dtype=str), return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inv.ravel()], len(first)


def unit_labels(buildings: gpd.GeoDataFrame, *, rules: Rules | None = None, households: Any = None) -> np.ndarray:
    """Integer footprint-unit label of each building: from its ``unit_id`` column, else found here by
    :func:`footprint_units` (as the partition finds them), so that every measure counts units alike.

    >>> from shapely import box
    >>> b = gpd.GeoDataFrame(geometry=[box(0, 0, 10, 10), box(0, 0, 10, 10), box(20, 0, 30, 10)], crs=4547)
    >>> unit_labels(b).tolist()
    [0, 0, 1]
    """
    if "unit_id" in buildings.columns:
        return unit_groups(buildings["unit_id"].astype(str).to_numpy())[0]
    pos = gpd.GeoDataFrame({"building_id": [f"{i:09d}" for i in range(len(buildings))]},
                           geometry=buildings.geometry.to_numpy(), crs=buildings.crs)
    if households is None and "households" in buildings.columns:
        households = pd.to_numeric(buildings["households"], errors="coerce").to_numpy(float)
    return unit_groups(footprint_units(pos, rules=rules, households=households)[0].astype(str).to_numpy())[0]


def bend_blocks(
    blocks: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, units: pd.Series, *, min_area_m2: float = 0.01,
    cause: str = "a street drawn through it",
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Move every footprint unit straddling blocks of one community wholly into the block holding most of it.

    Blocks still tile each community (faces of one noded arrangement), but now go around buildings: a
    unit is cut only by a community boundary (finding ``building_across_communities``).

    Parameters
    ----------
    blocks
        ``block_id``, ``community_code``, polygons tiling each community (metric CRS).
    buildings
        Footprints (points are ignored here), aligned with ``units``.
    units
        Unit id of each building (:func:`footprint_units`).
    min_area_m2
        A unit's piece in another block smaller than this is noise, left where it is.
    cause
        What crosses the building, for the findings' messages.

    Returns
    -------
    (GeoDataFrame, GeoDataFrame)
        The blocks (same ids and order; geometry changed where a unit moved) and findings.

    Examples
    --------
    A building drawn across the street between two blocks goes wholly into the block holding most of it.

    >>> from shapely import box
    >>> k = gpd.GeoDataFrame({"block_id": ["X-B0001", "X-B0002"], "community_code": ["X", "X"]},
    ...                      geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=4547)
    >>> b = gpd.GeoDataFrame({"building_id": ["a"]}, geometry=[box(90, 10, 120, 20)], crs=4547)
    >>> out, _ = bend_blocks(k, b, pd.Series(["a"]))
    >>> out.area.round(1).tolist()
    [9900.0, 10100.0]
    """
    records: list[dict[str, Any]] = []
    geoms = buildings.geometry.to_numpy()
    poly = np.isin(shapely.get_type_id(geoms), _POLYGONAL) & ~shapely.is_empty(geoms)
    if not poly.any() or not len(blocks):
        return blocks, make_findings(records, crs=blocks.crs)
    kgeoms = blocks.geometry.to_numpy()
    kids = blocks["block_id"].astype(str).to_numpy()
    kcode = blocks["community_code"].astype(str).to_numpy()
    unit_geom, unit_name, ui, ki, area = _unit_pieces(geoms[poly], np.asarray(units, dtype=str)[poly], kgeoms)
    df = pd.DataFrame({"u": ui, "k": ki, "a": area, "id": kids[ki], "code": kcode[ki]})
    df = df[df["a"] >= min_area_m2]
    # within each community: the unit's block is the one holding most of it
    per = df.groupby(["u", "code"])["k"].transform("size")
    straddle = df[per > 1]
    # across communities, as validate says it: a piece of at least BUILDING_SHARE_MIN of the unit in each of two
    # (a smaller piece is counted nowhere else either: the partition and validate leave it out)
    in_comm = df.groupby(["u", "code"], as_index=False)["a"].sum()
    in_comm = in_comm[in_comm["a"] >= BUILDING_SHARE_MIN * shapely.area(unit_geom[in_comm["u"].to_numpy()])]
    communities_of = in_comm.groupby("u")["code"].nunique()
    for u in np.sort(communities_of.index[communities_of > 1].to_numpy()):
        codes = sorted(in_comm.loc[in_comm["u"] == u, "code"].unique())
        g = unit_geom[u]
        records.append({"type": "building_across_communities", "severity": "warning", "layer": "buildings",
                        "community_code": codes[0], "feature_id": str(unit_name[u]), "measure": float(shapely.area(g)),
                        "message": f"building {unit_name[u]} straddles communities {', '.join(codes)}: the community "
                                   "boundary cuts it, and each part is in a grid of its own community; fix the "
                                   "community boundary if the building belongs to one of them",
                        "geometry": shapely.point_on_surface(g)})
    if not len(straddle):
        return blocks, make_findings(records, crs=blocks.crs)
    best = (straddle.sort_values(["u", "code", "a", "id"], ascending=[True, True, False, True])
            .drop_duplicates(["u", "code"]))
    moved_units = best["u"].to_numpy()
    target = best["k"].to_numpy()
    touched = np.unique(straddle["k"].to_numpy())
    # one arrangement of the touched blocks and the straddling footprints: faces keep exact coverage
    lines = np.concatenate([shapely.boundary(kgeoms[touched]), shapely.boundary(unit_geom[np.unique(moved_units)])])
    noded = shapely.union_all(shapely.get_parts(lines))
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))), dtype=object)
    faces = faces[shapely.area(faces) > 0]
    reps = inner_points(faces)
    sub = kgeoms[touched]
    fa, fb = shapely.STRtree(sub).query(reps, predicate="within")
    face_block = np.full(len(faces), -1)
    face_block[fa] = touched[fb]
    inside = face_block >= 0
    faces, reps, face_block = faces[inside], reps[inside], face_block[inside]
    label = face_block.copy()
    ua = shapely.STRtree(unit_geom[moved_units]).query(reps, predicate="within")
    unit_of_face = np.full(len(faces), -1, dtype=np.int64)  # a footprint moves whole, never in pieces
    for f, j in zip(*ua, strict=True):
        if kcode[target[j]] == kcode[face_block[f]]:
            label[f] = target[j]
            unit_of_face[f] = j
    _join_cut_off_pieces(faces, label, face_block, kgeoms, kcode, unit_of_face)
    new = kgeoms.copy()
    for k in touched:
        mine = faces[label == k]
        new[k] = shapely.coverage_union_all(mine) if len(mine) else shapely.Polygon()
    out = blocks.copy()
    out[out.geometry.name] = gpd.GeoSeries(new, index=out.index, crs=blocks.crs)
    if "area_m2" in out.columns:
        out["area_m2"] = out.geometry.area.round(3)
    # a block wholly under a building drawn mostly in its neighbour is gone: the neighbour holds it now
    out = out[~shapely.is_empty(new)]
    # every unit's other blocks and the area moved, in one grouping (no filter per unit)
    moved = straddle.merge(best[["u", "code", "k"]].rename(columns={"k": "target"}), on=["u", "code"])
    moved = moved[moved["k"] != moved["target"]].sort_values(["u", "code", "id"])
    others = moved.groupby(["u", "code"])["id"].agg(list)
    shifted = moved.groupby(["u", "code"])["a"].sum()
    reps = shapely.point_on_surface(unit_geom[moved_units])
    for (u, k), where in zip(zip(moved_units, target, strict=True), reps, strict=True):
        key = (u, kcode[k])
        rest = others.get(key, [])
        records.append({"type": "building_across_blocks", "severity": "info", "layer": "buildings",
                        "community_code": kcode[k], "feature_id": str(unit_name[u]),
                        "measure": float(shifted.get(key, 0.0)),
                        "message": f"building {unit_name[u]} straddles blocks {', '.join(sorted([kids[k], *rest]))} "
                                   f"({cause}): block {kids[k]} goes around it whole",
                        "geometry": where})
    return out, make_findings(records, crs=blocks.crs)


def _join_cut_off_pieces(faces: np.ndarray, label: np.ndarray, face_block: np.ndarray, kgeoms: np.ndarray,
                         kcode: np.ndarray, unit_of_face: np.ndarray) -> None:
    """A block of one piece that the footprints moved out of it leave in several (the land between a
    footprint's courtyard and the street, cut off from the rest of its block) keeps its largest piece;
    each other piece goes whole (the buildings on it too) to the block of the same community sharing the
    longest edge with it, so that every block stays one face (a dedicated grid takes blocks whole). A piece
    touching no such block along an edge stays where it is, and so does a piece holding a share of a moved
    footprint (``unit_of_face``: the faces under each footprint moved into its block) that counts
    (``BUILDING_SHARE_MIN``) while the rest of it lies elsewhere: footprints stay whole.
    In place on ``label``."""
    tree = shapely.STRtree(faces)
    fcode = kcode[face_block]
    face_area = shapely.area(faces)
    under = unit_of_face >= 0
    unit_area = np.bincount(unit_of_face[under], weights=face_area[under],
                            minlength=int(unit_of_face.max()) + 1 if under.any() else 0)
    for k in np.unique(label).tolist():
        if shapely.get_num_geometries(kgeoms[k]) > 1:
            continue  # a block of several pieces to begin with stays as it was drawn
        mine = np.flatnonzero(label == k)
        parts = shapely.get_parts(shapely.coverage_union_all(faces[mine]))
        if len(parts) < 2:
            continue
        reps = inner_points(faces[mine])
        part_of = np.full(len(mine), -1)
        pi, fi = shapely.STRtree(parts).query(reps, predicate="intersects")
        part_of[fi] = pi
        main = int(np.argmax(shapely.area(parts)))
        for q in range(len(parts)):
            if q == main:
                continue
            here = mine[part_of == q]
            held = np.unique(unit_of_face[here])
            held = held[held >= 0]
            if len(held):
                # a footprint with a meaningful share of it here and the rest elsewhere stays whole where it is
                # (a sliver under the share that counts, BUILDING_SHARE_MIN, cuts nothing by the one rule)
                a_here = np.bincount(unit_of_face[here][unit_of_face[here] >= 0],
                                     weights=face_area[here][unit_of_face[here] >= 0], minlength=held.max() + 1)[held]
                whole = unit_area[held]
                if ((a_here >= BUILDING_SHARE_MIN * whole) & (a_here < whole * (1 - 1e-9))).any():
                    continue
            near = tree.query(parts[q], predicate="intersects")
            near = near[(label[near] != k) & (fcode[near] == kcode[k])]
            if not len(near):
                continue
            shared = shapely.length(shapely.intersection(shapely.boundary(parts[q]), shapely.boundary(faces[near])))
            per = pd.Series(shared).groupby(label[near]).sum()
            per = per[per > 0]
            if len(per):
                best = per[per == per.max()].index.min()  # ties to the lower block
                label[mine[part_of == q]] = int(best)


#: two pieces of a footprint in different zones meet along an edge when their 1 mm buffers overlap by more than
#: this (an edge of 5 cm or more); pieces meeting at a point (a community outline crossing itself), or parted by
#: a strip of another community 2 mm wide or more, do not
_EDGE_BUFFER_M = 0.001
_EDGE_AREA_M2 = 1e-4
_HAIRLINE_M2 = 0.01


def pieces_elsewhere(zone_geoms: np.ndarray, zone_codes: np.ndarray, geoms: np.ndarray,
                     own: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pieces of footprints in zones of communities other than their own: ``(building, zone, piece)`` for
    each footprint (``geoms``, polygonal; ``own`` its community code, None in none) meeting a zone (``zone_geoms``
    of community ``zone_codes``) of another community in a piece of at least :data:`BUILDING_SHARE_MIN` of its
    area. The one rule by which a building the community boundary cuts has a piece kept whole in the next
    community (楼栋完整), for the partition and the dedicated grids' blocks alike; the piece is the plain
    intersection (callers keep its polygons). Invalid outlines are mended first.

    >>> from shapely import box
    >>> b, z, p = pieces_elsewhere(np.array([box(0, 0, 10, 10), box(10, 0, 20, 10)]), np.array(["A", "B"]),
    ...                            np.array([box(5, 0, 15, 5), box(9.8, 0, 12, 1), box(9.96, 6, 12, 7)]),
    ...                            np.array(["A", "B", "B"], dtype=object))
    >>> b.tolist(), z.tolist(), [round(x.area, 1) for x in p]  # the third: 2% of it in A, left out
    ([0, 1], [1, 0], [25.0, 0.2])
    """
    zone_geoms = np.asarray(zone_geoms, dtype=object)
    geoms = np.asarray(geoms, dtype=object)
    none = np.zeros(0, dtype=np.int64)
    if not len(zone_geoms) or not len(geoms):
        return none, none, np.zeros(0, dtype=object)
    poly = np.isin(shapely.get_type_id(geoms), (3, 6)) & ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    bad = ~shapely.is_valid(zone_geoms)
    if bad.any():  # an invalid outline must not stop the whole run here
        zone_geoms = zone_geoms.copy()
        zone_geoms[bad] = shapely.make_valid(zone_geoms[bad])
    bi, zi = shapely.STRtree(zone_geoms).query(np.where(poly, geoms, None), predicate="intersects")
    mine = np.asarray(own, dtype=object)[bi]
    other = pd.notna(mine) & (mine.astype(str) != np.asarray(zone_codes, dtype=object)[zi].astype(str))
    bi, zi = bi[other], zi[other]
    g = geoms[bi]
    bad = ~shapely.is_valid(g)
    if bad.any():
        g = g.copy()
        g[bad] = shapely.make_valid(g[bad])
    piece = shapely.intersection(g, zone_geoms[zi])
    area = shapely.area(g)
    keep = (area > 0) & (shapely.area(piece) >= BUILDING_SHARE_MIN * area)
    return bi[keep], zi[keep], piece[keep]


def pieces_apart(buildings: np.ndarray, zones: np.ndarray, bi: np.ndarray, zi: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Which footprints lie in several zones only because the ground between their pieces is in none.

    A footprint drawn across the gap between two parts of one community (a multipolygon community, a
    community outline crossing itself, a strip left out of it) has a piece in each part: those pieces are
    cut by the community boundary, not by a grid boundary, just as a footprint across two communities is
    (``building_across_communities``). Such pieces never share an edge; pieces cut by a grid boundary do.

    Parameters
    ----------
    buildings, zones
        Footprints and zones (grids, small grids), valid, in one metric CRS.
    bi, zi
        The (building, zone) pairs to judge: the zones holding a meaningful piece of each footprint.
    key
        Per pair, what the zone lies in (its community): pieces are compared within one key only (pieces
        in two communities are cut by the boundary between them whatever their shape).

    Returns
    -------
    numpy.ndarray
        Per building, True when no two of its pieces in different zones of one key share an edge (a
        building in no pair, or in one zone, is True).

    >>> from shapely import box
    >>> b = np.array([box(0, 0, 10, 4)], dtype=object)
    >>> apart = np.array([box(-5, 0, 3, 10), box(7, 0, 20, 10)], dtype=object)  # a 4 m gap between 3 and 7
    >>> pieces_apart(b, apart, np.array([0, 0]), np.array([0, 1]), np.array(["c", "c"])).tolist()
    [True]
    >>> touching = np.array([box(-5, 0, 5, 10), box(5, 0, 20, 10)], dtype=object)
    >>> pieces_apart(b, touching, np.array([0, 0]), np.array([0, 1]), np.array(["c", "c"])).tolist()
    [False]
    """
    out = np.ones(len(buildings), dtype=bool)
    if not len(bi):
        return out
    pairs = pd.DataFrame({"b": np.asarray(bi), "z": np.asarray(zi), "k": pd.Series(np.asarray(key, dtype=object)).astype(str)})
    pairs = pairs.drop_duplicates(["b", "z"]).reset_index(drop=True)
    pairs = pairs[pairs.duplicated(["b", "k"], keep=False)]
    if not len(pairs):
        return out
    mine, theirs = buildings[pairs["b"].to_numpy()], zones[pairs["z"].to_numpy()]
    for g in (mine, theirs):  # an invalid outline must not stop the check
        bad = ~shapely.is_valid(g) & ~shapely.is_missing(g)
        g[bad] = shapely.make_valid(g[bad])
    # each piece without its hairline bits (under _HAIRLINE_M2: a zone's outline grazing the footprint)
    parts, idx = shapely.get_parts(shapely.intersection(mine, theirs), return_index=True)
    solid = np.isin(shapely.get_type_id(parts), _POLYGONAL) & (shapely.area(parts) >= _HAIRLINE_M2)
    pieces = np.full(len(pairs), None, dtype=object)
    if solid.any():
        kept, dense = np.unique(idx[solid], return_inverse=True)
        pieces[kept] = shapely.buffer(shapely.multipolygons(parts[solid], indices=dense), _EDGE_BUFFER_M)
    pairs = pairs.assign(i=np.arange(len(pairs)))
    both = pairs.merge(pairs, on=["b", "k"])
    both = both[both["z_x"] < both["z_y"]]
    met = shapely.area(shapely.intersection(pieces[both["i_x"].to_numpy()], pieces[both["i_y"].to_numpy()])) > _EDGE_AREA_M2
    out[both["b"].to_numpy()[met]] = False
    # a point (an address) in two zones lies in their overlap: never apart
    out[both["b"].to_numpy()[~np.isin(shapely.get_type_id(buildings[both["b"].to_numpy()]), _POLYGONAL)]] = False
    return out


def units_across_gaps(geoms: np.ndarray, units: np.ndarray, zones: np.ndarray, key: np.ndarray, *,
                      share_min: float = BUILDING_SHARE_MIN) -> tuple[np.ndarray, np.ndarray]:
    """The zones a footprint unit of several buildings lies in when only the gap between parts of its
    community cuts it: its members are judged by where the unit lies, not one by one.

    The partition places a footprint unit whole (楼栋完整) in the zone holding most of it. A unit drawn across
    the gap between two parts of one community (a strip left out of it) has a piece on each side, and a member
    on the far side (an address point, a footprint drawn over the unit's edge) lies there alone: it carries the
    codes of the unit's zone all the same. Pieces cut by a grid line share an edge and are no such unit.

    Parameters
    ----------
    geoms
        The buildings (valid, one metric CRS with ``zones``); points and empty ones add nothing to a unit.
    units
        Integer footprint-unit label of each building (:func:`unit_labels`, :func:`unit_groups`).
    zones
        Grids or small grids.
    key
        Per zone, the community it lies in: pieces are compared within one community only.
    share_min
        Least share of the unit's footprints (united) that counts as lying in a zone.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Pairs (unit label, zone index): each zone holding at least ``share_min`` of a unit of two buildings or
        more, none of whose pieces in zones of one community share an edge (:func:`pieces_apart`).

    >>> from shapely import box, Point
    >>> parts = np.array([box(0, 0, 100, 100), box(104, 0, 200, 100)], dtype=object)  # a 4 m gap
    >>> b = np.array([box(85, 40, 110, 60), Point(107, 50), box(20, 20, 30, 30)], dtype=object)
    >>> u, z = units_across_gaps(b, np.array([0, 0, 1]), parts, np.array(["c", "c"]))
    >>> sorted(zip(u.tolist(), z.tolist()))
    [(0, 0), (0, 1)]
    >>> joined = np.array([box(0, 0, 100, 100), box(100, 0, 200, 100)], dtype=object)  # a grid line cuts it
    >>> units_across_gaps(b, np.array([0, 0, 1]), joined, np.array(["c", "c"]))[0].tolist()
    []
    """
    none = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    geoms = np.asarray(geoms, dtype=object)
    units = np.asarray(units, dtype=np.int64)
    if not len(geoms) or not len(zones):
        return none
    poly = np.isin(shapely.get_type_id(geoms), _POLYGONAL) & ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    many = np.bincount(units, minlength=int(units.max()) + 1)[units] > 1
    sel = np.flatnonzero(poly & many)
    if not len(sel):
        return none
    lab, nu = unit_groups(units[sel])
    ugeom = union_by(geoms[sel], lab, nu)
    name = np.empty(nu, dtype=np.int64)
    name[lab] = units[sel]
    ui, zi, share = assign_to_zones(ugeom, zones, share_min=share_min).pairs
    keep = share >= share_min
    ui, zi = ui[keep], zi[keep]
    apart = pieces_apart(ugeom, np.asarray(zones, dtype=object), ui, zi, np.asarray(key, dtype=object)[zi])
    ok = apart[ui]
    return name[ui[ok]], zi[ok]


@dataclass
class ZoneAssignment:
    """Where each building lies among zones (blocks, grids, small grids or communities).

    Attributes
    ----------
    zone
        Index of the zone each building counts in (-1: none): the zone holding the largest share of a
        footprint, among those holding at least ``share_min`` of it (ties: the lower ``rank``), or
        among all when only the zones together hold ``share_min`` of it; a point
        in the zone whose interior holds it, else the lowest-ranked zone whose boundary it lies on.
    n_zones
        How many zones hold at least ``share_min`` of the footprint (a point: 1 when located).
    max_share
        The largest share of the footprint in one zone (a point: 1 when located).
    pairs
        ``(building, zone, share)`` arrays of every intersecting pair with a positive share.
    """

    zone: np.ndarray
    n_zones: np.ndarray
    max_share: np.ndarray
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]


def assign_to_zones(
    buildings: np.ndarray, zones: np.ndarray, *, share_min: float = BUILDING_SHARE_MIN, rank: np.ndarray | None = None,
    prefer: np.ndarray | None = None,
) -> ZoneAssignment:
    """The one building-to-zone assignment of gridgeo (partition, ``validate``, quality figures).

    Parameters
    ----------
    buildings
        Footprints or points (valid, same metric CRS as ``zones``); missing or empty ones lie nowhere.
    zones
        Polygons (blocks, grids, small grids, communities); missing or empty ones hold nothing.
    share_min
        Least share of a footprint that counts as lying in a zone.
    rank
        Tie-break order of the zones (default: their position).
    prefer
        Per building, the index of the zone it was placed in before (-1: none), e.g. a plan's stored
        ``grid_code``: it wins ties (a point on the edge between two grids, a footprint split in equal
        shares), so a building does not change zone when a plan is stored and read again.

    Examples
    --------
    >>> from shapely import box, Point
    >>> zones = np.array([box(0, 0, 10, 10), box(10, 0, 20, 10)])
    >>> b = np.array([box(8, 0, 18, 1), box(9.8, 0, 19.8, 1), Point(10, 5), box(30, 0, 31, 1)])
    >>> a = assign_to_zones(b, zones)
    >>> a.zone.tolist(), a.n_zones.tolist(), a.max_share.round(2).tolist()
    ([1, 1, 0, -1], [2, 1, 1, 0], [0.8, 0.98, 1.0, 0.0])
    """
    buildings = np.asarray(buildings, dtype=object)
    zones = np.asarray(zones, dtype=object)
    nb = len(buildings)
    zone = np.full(nb, -1, dtype=np.int64)
    n_zones = np.zeros(nb, dtype=np.int64)
    max_share = np.zeros(nb)
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    usable = ~(shapely.is_missing(zones) | shapely.is_empty(zones)) if len(zones) else np.zeros(0, dtype=bool)
    if nb == 0 or not usable.any():
        return ZoneAssignment(zone, n_zones, max_share, empty)
    rank = np.arange(len(zones)) if rank is None else np.asarray(rank)
    zidx = np.flatnonzero(usable)
    tree = shapely.STRtree(zones[zidx])
    area = shapely.area(buildings)
    footprint = np.isin(shapely.get_type_id(buildings), _POLYGONAL) & (area > 0)
    fidx, pidx = np.flatnonzero(footprint), np.flatnonzero(~footprint)
    fb, fz = tree.query(buildings[fidx], predicate="intersects")
    # a point within EDGE_M of a zone's edge is on that edge (a plan stored in degrees and read back
    # moves its edges by nanometres): then ties, and the preferred zone, decide
    qb, qz = tree.query(buildings[pidx], predicate="dwithin", distance=EDGE_M)
    bi = np.concatenate([fidx[fb], pidx[qb]])
    zi = zidx[np.concatenate([fz, qz])]
    is_area = np.r_[np.ones(len(fb), dtype=bool), np.zeros(len(qb), dtype=bool)]
    share = np.zeros(len(bi))
    if is_area.any():
        pb, pz = bi[is_area], zi[is_area]
        whole = shapely.contains_properly(zones[pz], buildings[pb])
        s = np.ones(len(pb))
        part = ~whole
        if part.any():
            s[part] = shapely.area(shapely.intersection(buildings[pb[part]], zones[pz[part]])) / area[pb[part]]
        share[is_area] = s
    pt = ~is_area
    edge_only = np.zeros(len(bi), dtype=bool)
    if pt.any():
        inside = shapely.contains(zones[zi[pt]], buildings[bi[pt]])
        inside &= shapely.distance(shapely.boundary(zones[zi[pt]]), buildings[bi[pt]]) > EDGE_M
        # a point on a boundary only: the lowest-ranked zone it touches holds it
        share[pt] = 1.0
        on_edge = np.flatnonzero(pt)[~inside]
        edge_only[on_edge] = True
        if len(on_edge):
            held = np.zeros(nb, dtype=bool)
            held[bi[np.flatnonzero(pt)[inside]]] = True
            share[on_edge[held[bi[on_edge]]]] = 0.0
    keep = share > 0
    bi, zi, share, edge_only = bi[keep], zi[keep], share[keep], edge_only[keep]
    meaningful = share >= share_min
    # a point counts in every zone whose interior holds it, or once on the boundary of several
    n_zones = np.bincount(bi[meaningful & ~edge_only], minlength=nb).astype(np.int64)
    n_zones[np.unique(bi[edge_only])] = 1
    np.maximum.at(max_share, bi, np.where(edge_only, 1.0, share))
    # shares equal up to float noise (a plan stored in degrees and read back) tie; the preferred zone wins
    other = np.zeros(len(bi), dtype=np.int64) if prefer is None else (np.asarray(prefer)[bi] != zi).astype(np.int64)

    def place(sel: np.ndarray) -> None:
        """Each building of the pairs ``sel`` in its zone of largest share (ties: preferred, then rank)."""
        if len(sel) == 0:
            return
        best = np.zeros(nb)
        np.maximum.at(best, bi[sel], share[sel])
        top = best[bi[sel]]
        key = -np.where(share[sel] >= top - SHARE_TIE, top, share[sel])
        order = sel[np.lexsort((rank[zi[sel]], other[sel], key, bi[sel]))]
        first = order[np.r_[True, bi[order][1:] != bi[order][:-1]]]
        zone[bi[first]] = zi[first]

    place(np.flatnonzero(meaningful))
    # a footprint mostly outside every zone, with at least share_min inside them all together, but in
    # pieces each under share_min: it lies in the zones, so it goes to the one holding most of it
    total = np.bincount(bi, weights=share, minlength=nb)
    rest = (zone < 0) & (total >= share_min)
    if rest.any():
        place(np.flatnonzero(rest[bi]))
    return ZoneAssignment(zone, n_zones, max_share, (bi, zi, share))
