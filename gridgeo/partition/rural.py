"""Rural villages (村): villager groups (村民小组) as the units and default grids.

In a village (community ``kind = rural``) with a villager-group layer, each group is a grid by
default; a group over the rural ceiling (``grid_max``, 80 households by default) is divided into grids
of about ``grid_target`` (50) households between its buildings. The groups are made to tile the
village first: they are clipped to it, overlaps go to the lower-numbered group, and land in no group
joins the group it shares most boundary with (a gap no group touches stays a zone of its own). Without
the layer a village is divided like a town, with the rural bounds (30–80).

Examples
--------
>>> from shapely import box
>>> zones, names, found = villager_zones(box(0, 0, 100, 50), np.array([box(0, 0, 45, 50), box(50, 0, 100, 50)]),
...                                      np.array(["一组", "二组"], dtype=object), "420000000001")
>>> [round(z.area) for z in zones], list(names), [f["type"] for f in found]
([2250, 2750], ['一组', '二组'], ['villager_groups_gap'])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from .._geometry import inner_points
from .graph import Graph, subgraph
from .solver import Bounds, Outcome, Weights, partition_graph
from .units import _arrangement, _union_by, spread_labels

__all__ = ["group_villages", "grid_groups", "village_grid_groups", "villager_zones", "zone_pieces", "zone_partition"]


def group_villages(groups: Any) -> np.ndarray:
    """The village (community) code of each villager group as text, None where it names none: the one rule by
    which a group belongs to a village (its code, or no code: any village it lies in), for the partition and the
    re-division alike. A code column read as numbers (a GeoPackage or shapefile integer field) counts as the
    same codes.

    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoDataFrame({"community_code": [420981190201, None]}, geometry=[shapely.box(0, 0, 1, 1)] * 2)
    >>> group_villages(g).tolist()
    ['420981190201', None]
    """
    if "community_code" not in groups.columns:
        return np.full(len(groups), None, dtype=object)

    def text(v: Any) -> str | None:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return None
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return str(v).strip() or None

    return np.array([text(v) for v in groups["community_code"].astype(object)], dtype=object)


def grid_groups(grid_geoms: np.ndarray, zones: np.ndarray, names: np.ndarray) -> list[str | None]:
    """The villager group (村民小组) each grid of a village follows: the name of the zone
    (:func:`villager_zones`) sharing the most of its area (the lower-numbered zone on a tie); None where that is
    land no group covers, a group without a name, or no zone at all. The one rule for a fresh partition and a
    re-division's kept grids.

    >>> from shapely import box
    >>> grid_groups(np.array([box(0, 0, 40, 50), box(40, 0, 100, 50)]), np.array([box(0, 0, 45, 50), box(45, 0, 100, 50)]),
    ...             np.array(["一组", None], dtype=object))
    ['一组', None]
    """
    grid_geoms = np.asarray(grid_geoms, dtype=object)
    out: list[str | None] = [None] * len(grid_geoms)
    if not len(grid_geoms) or not len(zones):
        return out
    gi, zi = shapely.STRtree(np.asarray(zones, dtype=object)).query(grid_geoms, predicate="intersects")
    if not len(gi):
        return out
    shared = shapely.area(shapely.intersection(grid_geoms[gi], np.asarray(zones, dtype=object)[zi]))
    order = np.lexsort((zi, -shared, gi))  # per grid: the most shared area first, then the lower zone
    gi, zi, shared = gi[order], zi[order], shared[order]
    first = np.flatnonzero(np.r_[True, gi[1:] != gi[:-1]])
    for g, z, a in zip(gi[first], zi[first], shared[first], strict=True):
        name = names[z]
        if a > 0 and name is not None and not (isinstance(name, float) and np.isnan(name)):
            out[int(g)] = str(name).strip() or None
    return out


def village_grid_groups(grids: Any, communities: Any, groups: Any) -> pd.Series:
    """The villager group of each base grid of a village (community ``kind = rural``) with villager groups,
    by :func:`grid_groups` over the village's zones; None for every other grid. All layers in one metric CRS;
    ``communities`` with ``code`` (and ``kind``). A re-division's grids named as a fresh partition's are."""
    out = pd.Series([None] * len(grids), index=grids.index, dtype=object)
    if groups is None or not len(groups) or "kind" not in communities.columns:
        return out
    vg = groups[~(groups.geometry.is_empty | groups.geometry.isna())]
    codes = group_villages(vg)
    names = vg["name"].astype(object).to_numpy() if "name" in vg.columns else np.full(len(vg), None, dtype=object)
    geoms = vg.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    gcode = grids["community_code"].astype(str).to_numpy()
    base = (grids["kind"].astype(str).to_numpy() == "base") if "kind" in grids.columns else np.ones(len(grids), bool)
    for code, village, kind in zip(communities["code"].astype(str), communities.geometry, communities["kind"], strict=True):
        if kind != "rural":
            continue
        hit = np.sort(tree.query(village, predicate="intersects"))
        mine = [i for i in hit if codes[i] is None or codes[i] == code]
        rows = np.flatnonzero(base & (gcode == code))
        if not mine or not len(rows):
            continue
        zones, znames, _found = villager_zones(village, geoms[mine], names[mine], code)
        out.iloc[rows] = grid_groups(grids.geometry.to_numpy()[rows], zones, znames)
    return out


def villager_zones(
    community: shapely.Geometry,
    groups: np.ndarray,
    names: np.ndarray,
    code: str,
) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """Zones that tile ``community``, one per villager group (plus uncovered land no group touches).

    Returns the zone polygons, their names (None for uncovered land) and findings (overlaps, gaps).
    """
    groups = np.asarray(groups, dtype=object)
    clipped = shapely.intersection(groups, community)
    keep = shapely.area(clipped) > 0
    groups, names, clipped = groups[keep], np.asarray(names, dtype=object)[keep], clipped[keep]
    findings: list[dict[str, Any]] = []
    lines = np.concatenate([shapely.boundary(np.atleast_1d(community)), shapely.boundary(clipped)])
    faces = _arrangement(lines)
    reps = inner_points(faces)
    inside = shapely.contains_xy(community, shapely.get_x(reps), shapely.get_y(reps))
    faces, reps = faces[inside], reps[inside]
    label = np.full(len(faces), -1, dtype=np.int64)
    if len(clipped):
        f, gi = shapely.STRtree(clipped).query(reps, predicate="within")
        order = np.lexsort((gi, f))
        f, gi = f[order], gi[order]
        first = np.r_[True, f[1:] != f[:-1]] if len(f) else np.zeros(0, bool)
        label[f[first]] = gi[first]
        overlap = np.bincount(f, minlength=len(faces)) > 1
        if overlap.any():
            area = float(shapely.area(faces[overlap]).sum())
            findings.append({"type": "villager_groups_overlap", "severity": "warning", "layer": "villager_groups",
                             "community_code": code, "feature_id": code, "measure": round(area, 1),
                             "message": f"villager groups of {code} overlap on {area:.0f} m²; the overlap goes to the first group",
                             "geometry": shapely.union_all(faces[overlap])})
    gap = label < 0
    if gap.any():
        area = float(shapely.area(faces[gap]).sum())
        findings.append({"type": "villager_groups_gap", "severity": "info", "layer": "villager_groups",
                         "community_code": code, "feature_id": code, "measure": round(area, 1),
                         "message": f"{area:.0f} m² of {code} is in no villager group; it joins the neighbouring group",
                         "geometry": shapely.union_all(faces[gap])})
    # uncovered faces join the labelled neighbour sharing the longest boundary, repeatedly
    spread_labels(faces, label)
    n = len(clipped)
    rest = np.flatnonzero(label < 0)
    zones_extra = []
    if len(rest):  # land no group touches: one zone per connected piece
        pieces = shapely.get_parts(shapely.union_all(faces[rest]))
        zones_extra = list(pieces)
    zones = _union_by(faces, label, n)
    out = np.concatenate([zones, np.array(zones_extra, dtype=object)]) if zones_extra else zones
    out_names = np.concatenate([names, np.full(len(zones_extra), None, dtype=object)]) if zones_extra else names
    nonempty = ~shapely.is_empty(out)
    return out[nonempty], out_names[nonempty], findings


def zone_pieces(zones: np.ndarray, blocks: np.ndarray, *, min_area_m2: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Street blocks cut by zones: (pieces, zone of each piece, block of each piece).

    Pieces under ``min_area_m2`` (where a group boundary runs along a street) are left out; the cells
    built on the pieces hand that land to the nearest piece, so nothing is lost.

    >>> from shapely import box
    >>> p, z, b = zone_pieces(np.array([box(0, 0, 50, 10), box(50, 0, 100, 10)]), np.array([box(0, 0, 70, 10), box(70, 0, 100, 10)]))
    >>> [round(x.area) for x in p], z.tolist(), b.tolist()
    ([500, 200, 300], [0, 1, 1], [0, 0, 1])
    """
    zones = np.asarray(zones, dtype=object)
    blocks = np.asarray(blocks, dtype=object)
    zi, bi = shapely.STRtree(blocks).query(zones, predicate="intersects")
    order = np.lexsort((bi, zi))
    zi, bi = zi[order], bi[order]
    inter = shapely.intersection(zones[zi], blocks[bi])
    parts, idx = shapely.get_parts(inter, return_index=True)
    poly = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) >= min_area_m2)
    parts, idx = parts[poly], idx[poly]
    if not len(parts):
        return zones, np.arange(len(zones)), np.zeros(len(zones), dtype=np.int64)
    return parts, zi[idx].astype(np.int64), bi[idx].astype(np.int64)


def zone_partition(
    g: Graph,
    zone_of_unit: np.ndarray,
    bounds: Bounds,
    *,
    seed: int = 0,
    weights: Weights | None = None,
) -> Outcome:
    """Grids of a village: each zone (villager group) one grid, zones over the ceiling divided.

    ``notes`` as in :func:`~gridgeo.partition.solver.partition_graph`, plus ``group_below_min`` for a
    group under the floor kept as its own grid.
    """
    zone_of_unit = np.asarray(zone_of_unit, dtype=np.int64)
    labels = np.full(g.n, -1, dtype=np.int64)
    notes: list[tuple[str, int, float]] = []
    nparts = 0
    for z in np.unique(zone_of_unit):
        nodes = np.flatnonzero(zone_of_unit == z)
        H = int(g.h[nodes].sum())
        if H <= bounds.hi:
            labels[nodes] = nparts
            if H < bounds.lo:
                notes.append(("group_below_min", nparts, float(H)))
            nparts += 1
            continue
        out = partition_graph(subgraph(g, nodes), bounds, seed=seed + int(z), weights=weights)
        labels[nodes] = nparts + out.labels
        notes.extend((t, nparts + p, m) for t, p, m in out.notes)
        nparts += out.n_parts
    return Outcome(labels, nparts, notes)
