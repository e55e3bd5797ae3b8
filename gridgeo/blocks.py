"""Street-bounded blocks (街巷定界): the faces that streets cut each community into.

All communities at once: the streets and every community boundary are noded together and polygonized;
each face lies in exactly one community (communities do not overlap) and the faces of a community
tile it. Dangling streets and streets outside every community produce no face and are ignored. Before noding,
street ends within ``rules.street_snap_m`` of another street or a community boundary are extended to
meet it (street centre lines stop short of their junctions); ``blocks.attrs["street_ends_snapped"]``
gives the count.
Slivers (dual-carriageway medians, tiny faces: under ``rules.sliver_area_m2`` or narrower than
``rules.sliver_width_m``) are merged into the neighbour in the same community that shares most
boundary with them. Everything is in the metric CRS.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ._errors import InputError
from ._geometry import inner_points
from .crs import require_layers
from .rules import Rules, get_rules

__all__ = ["build_blocks", "assign_buildings", "order_key", "snap_street_ends"]


def _crs_name(crs) -> str | None:
    """A CRS as one short line (a pyproj CRS repr spans many lines)."""
    return None if crs is None else crs.to_string()


def order_key(geoms: np.ndarray, *, band_m: float = 1.0) -> np.ndarray:
    """Sort order north to south, then west to east, of representative points rounded to ``band_m``.

    Used for stable sequence numbers; ties broken by the normalised WKB.

    >>> from shapely import box
    >>> order_key(np.array([box(10, 0, 11, 1), box(0, 0, 1, 1), box(0, 5, 1, 6)])).tolist()
    [2, 1, 0]
    """
    pts = shapely.point_on_surface(geoms)
    x = np.round(shapely.get_x(pts) / band_m)
    y = np.round(shapely.get_y(pts) / band_m)
    wkb = np.array([w.hex() for w in shapely.to_wkb(shapely.normalize(geoms))], dtype=object)
    return np.lexsort((wkb, x, -y))


def build_blocks(
    communities: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame | None,
    *,
    rules: Rules | None = None,
) -> gpd.GeoDataFrame:
    """Polygonize streets with community boundaries into blocks that tile each community.

    Parameters
    ----------
    communities
        Normalised communities (``code``) in a metric CRS.
    streets
        Street centre lines in the same CRS, or None (each community is then one block).
    rules
        Supplies the sliver thresholds ``sliver_area_m2`` and ``sliver_width_m``.

    Returns
    -------
    GeoDataFrame
        ``block_id`` (``<community code>-B<seq>``, numbered north to south, west to east),
        ``community_code``, ``area_m2``, geometry.

    Examples
    --------
    >>> from shapely import box, LineString
    >>> c = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(0, 0, 200, 100)], crs=4547)
    >>> s = gpd.GeoDataFrame(geometry=[LineString([(100, -10), (100, 110)]), LineString([(20, 50), (60, 50)])], crs=4547)
    >>> build_blocks(c, s)[["block_id", "area_m2"]].values.tolist()
    [['420103001001-B0001', 10000.0], ['420103001001-B0002', 10000.0]]
    """
    rules = rules or get_rules()
    require_layers("build_blocks", {"communities": communities}, metric=True)
    if streets is not None and streets.crs != communities.crs:
        msg = f"build_blocks: streets CRS {_crs_name(streets.crs)!r} differs from communities CRS {_crs_name(communities.crs)!r}; reproject streets with to_crs()"
        raise InputError(msg)
    cgeoms = communities.geometry.to_numpy()
    codes = communities["code"].to_numpy()
    boundaries = shapely.boundary(cgeoms)
    lines = [boundaries]
    snapped = 0
    if streets is not None and len(streets):
        sgeoms = streets.geometry.to_numpy()
        # only streets that touch some community (or stop within the snap distance of one) matter
        tree = shapely.STRtree(cgeoms)
        hit = np.unique(tree.query(sgeoms, predicate="dwithin", distance=max(rules.street_snap_m, 0.0))[0])
        connectors, snapped = snap_street_ends(sgeoms[hit], boundaries, tolerance_m=rules.street_snap_m)
        lines.extend([sgeoms[hit], connectors])
    all_lines = np.concatenate(lines)
    all_lines = all_lines[~shapely.is_empty(all_lines)]
    # deterministic input order for noding: sort by normalised WKB
    normed = shapely.normalize(all_lines)
    order = np.argsort(np.array([w.hex() for w in shapely.to_wkb(normed)], dtype=object), kind="stable")
    noded = shapely.union_all(normed[order])
    faces, owner = _owned_faces(noded, cgeoms)
    for _ in range(_RENODE_TRIES):
        # a union GEOS could node only by its snapping fallback can leave two lines crossing without a node: the
        # ring round that place is no face, and the land inside it would be in no block, no grid (fuzz town
        # 4368: 5,186 m² of a community); noding the noded lines again closes it
        if not _untiled(cgeoms, faces, owner):
            break
        noded = shapely.union_all(shapely.get_parts(noded))
        faces, owner = _owned_faces(noded, cgeoms)
    merged_geoms, merged_owner = faces, owner
    for _ in range(10):  # a group of slivers merged together may still be a sliver: repeat until stable
        n_before = len(merged_geoms)
        merged_geoms, merged_owner = _merge_slivers(merged_geoms, merged_owner, rules)
        if len(merged_geoms) == n_before:
            break
    gdf = gpd.GeoDataFrame(
        {"community_code": codes[merged_owner]},
        geometry=gpd.GeoSeries(shapely.normalize(merged_geoms), crs=communities.crs),
    )
    # communities that received no face (degenerate polygonize) become one block each
    missing = sorted(set(codes) - set(gdf["community_code"]))
    if missing:
        extra = communities[communities["code"].isin(missing)]
        gdf = pd.concat(
            [gdf, gpd.GeoDataFrame({"community_code": extra["code"].to_numpy()}, geometry=extra.geometry.to_numpy(), crs=communities.crs)],
            ignore_index=True,
        )
    out = _number_blocks(gdf)
    out.attrs["street_ends_snapped"] = int(snapped)
    return out


#: times the lines are noded again when their faces leave land of a community out (:func:`_untiled`)
_RENODE_TRIES = 3


def _owned_faces(noded: Any, cgeoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The faces of the noded lines inside a community, and the position of that community in ``cgeoms``."""
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))), dtype=object)
    faces = faces[shapely.area(faces) > 0]
    # each face to the community that holds its interior point (strictly inside the face: a face pinched to a
    # wedge of no width has its point_on_surface on its boundary, which a neighbouring community may hold)
    pts = inner_points(faces)
    fi, ci = shapely.STRtree(cgeoms).query(pts, predicate="within")
    owner = np.full(len(faces), -1)
    owner[fi] = ci
    keep = owner >= 0
    return faces[keep], owner[keep]


def _untiled(cgeoms: np.ndarray, faces: np.ndarray, owner: np.ndarray) -> bool:
    """Whether the faces of some community fall short of its area by more than :data:`NOISE_AREA_M2`."""
    held = np.bincount(owner, weights=shapely.area(faces), minlength=len(cgeoms))
    return bool((shapely.area(cgeoms) - held > NOISE_AREA_M2).any())


def snap_street_ends(streets: np.ndarray, others: np.ndarray, *, tolerance_m: float) -> tuple[np.ndarray, int]:
    """Connectors that extend street ends stopping short of another street or line.

    An end of a street line that touches no other line but lies within ``tolerance_m`` of one (another
    street, or one of ``others`` such as community boundaries) gets a straight connector to the nearest
    point of the nearest such line, reaching 1 cm across it so that noding meets it whatever the
    rounding. Ends already on another line and ends farther than the tolerance are left alone.

    Parameters
    ----------
    streets
        Street lines (LineString/MultiLineString) in a metric CRS.
    others
        Further lines to snap to (community boundaries).
    tolerance_m
        Snap distance (``rules.street_snap_m``); 0 snaps nothing.

    Returns
    -------
    (ndarray, int)
        The connector lines and the number of street ends snapped.

    Examples
    --------
    >>> from shapely import LineString
    >>> s = np.array([LineString([(0, 0), (100, 0)]), LineString([(50, 0.5), (50, 80)])])
    >>> conn, n = snap_street_ends(s, np.array([]), tolerance_m=3)
    >>> n, [round(c.length, 2) for c in conn]
    (1, [0.51])
    """
    empty = np.array([], dtype=object)
    if tolerance_m <= 0 or len(streets) == 0:
        return empty, 0
    parts, owner = shapely.get_parts(np.asarray(streets, dtype=object), return_index=True)
    parts = parts[shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING]
    parts = parts[~shapely.is_empty(parts)]
    if len(parts) == 0:
        return empty, 0
    targets = np.concatenate([parts, shapely.get_parts(np.asarray(others, dtype=object))]) if len(others) else parts
    n = len(parts)
    ends = np.concatenate([shapely.get_point(parts, 0), shapely.get_point(parts, -1)])
    end_line = np.concatenate([np.arange(n), np.arange(n)])
    tree = shapely.STRtree(targets)
    pi, ti = tree.query(ends, predicate="dwithin", distance=tolerance_m)
    other = ti != end_line[pi]
    pi, ti = pi[other], ti[other]
    if len(pi) == 0:
        return empty, 0
    dist = shapely.distance(ends[pi], targets[ti])
    touching = np.zeros(len(ends), dtype=bool)
    touching[pi[dist <= 1e-6]] = True
    df = pd.DataFrame({"p": pi, "t": ti, "d": dist})
    df = df[~touching[df["p"].to_numpy()]].sort_values(["p", "d", "t"]).drop_duplicates("p")
    if len(df) == 0:
        return empty, 0
    p = df["p"].to_numpy()
    lines = shapely.shortest_line(ends[p], targets[df["t"].to_numpy()])
    xy = shapely.get_coordinates(lines).reshape(-1, 2, 2)
    d = xy[:, 1] - xy[:, 0]
    length = np.hypot(d[:, 0], d[:, 1])[:, None]
    far = xy[:, 1] + d / np.where(length > 0, length, 1.0) * 0.01
    connectors = shapely.linestrings(np.stack([xy[:, 0], far], axis=1))
    return connectors, int(len(p))


def _number_blocks(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    parts = []
    for code, grp in gdf.groupby("community_code", sort=True):
        grp = grp.iloc[order_key(grp.geometry.to_numpy())]
        grp = grp.assign(block_id=[f"{code}-B{i:04d}" for i in range(1, len(grp) + 1)])
        parts.append(grp)
    out = pd.concat(parts, ignore_index=True)
    out["area_m2"] = out.geometry.area.round(3)
    return gpd.GeoDataFrame(out[["block_id", "community_code", "area_m2", "geometry"]], geometry="geometry", crs=gdf.crs)


#: faces below this area or mean width (2 × area ÷ perimeter) are noise, the default tolerances under which
#: ``gridgeo validate`` ignores a piece (``tolerance_m2``, ``tolerance_m``)
NOISE_AREA_M2 = 0.01
NOISE_WIDTH_M = 0.01


def _merge_slivers(faces: np.ndarray, owner: np.ndarray, rules: Rules) -> tuple[np.ndarray, np.ndarray]:
    """Merge each sliver face into the same-community neighbour sharing the longest boundary (a face of noise
    with no neighbour in its own community: into any neighbour, whose community it takes)."""
    n = len(faces)
    area = shapely.area(faces)
    narrow = shapely.is_empty(shapely.buffer(faces, -rules.sliver_width_m / 2.0, quad_segs=2))
    sliver = (area < rules.sliver_area_m2) | narrow
    if not sliver.any():
        return faces, owner
    tree = shapely.STRtree(faces)
    si = np.flatnonzero(sliver)
    a, b = tree.query(faces[si], predicate="intersects")
    a = si[a]
    # a crumb of noise (below what validation sees) with no neighbour in its own community, left where two
    # communities' outlines nearly coincide, goes to the neighbour of another community that shares most of
    # its boundary: as a block of its own it would become a grid and a small grid of nothing
    perim = shapely.length(faces)
    width = np.divide(2 * area, perim, out=np.zeros_like(area), where=perim > 0)
    noise = (area < NOISE_AREA_M2) | (width < NOISE_WIDTH_M)
    ok = (a != b) & ((owner[a] == owner[b]) | noise[a])
    a, b = a[ok], b[ok]
    shared = shapely.length(shapely.intersection(shapely.boundary(faces[a]), shapely.boundary(faces[b])))
    pos = shared > 1e-6
    a, b, shared = a[pos], b[pos], shared[pos]
    same = owner[a] == owner[b]
    orphan = np.ones(n, dtype=bool)
    orphan[a[same]] = False
    ok = same | orphan[a]
    a, b, shared = a[ok], b[ok], shared[ok]
    # prefer non-sliver neighbours, then the longest shared boundary, then the lower index (determinism
    # comes from the sorted noding input)
    score = pd.DataFrame({"a": a, "b": b, "nonsliver": ~sliver[b], "shared": shared, "barea": area[b]})
    score = score.sort_values(["a", "nonsliver", "shared", "barea", "b"], ascending=[True, False, False, False, True])
    best = score.drop_duplicates("a")
    target = np.arange(n)
    target[best["a"].to_numpy()] = best["b"].to_numpy()
    # resolve chains (sliver → sliver → block) with connected components of the "merge into" graph
    graph = coo_matrix((np.ones(n), (np.arange(n), target)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    order = np.argsort(label, kind="stable")
    label_sorted = label[order]
    starts = np.flatnonzero(np.r_[True, label_sorted[1:] != label_sorted[:-1]])
    groups = np.split(order, starts[1:])
    geoms = np.empty(len(groups), dtype=object)
    owners = np.empty(len(groups), dtype=int)
    for k, g in enumerate(groups):
        geoms[k] = faces[g[0]] if len(g) == 1 else shapely.coverage_union_all(faces[g])
        owners[k] = owner[g[np.argmax(area[g])]]  # a crumb of noise takes the community it joins
    return geoms, owners


def assign_buildings(buildings: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame, *,
                     share_min: float | None = None) -> gpd.GeoDataFrame:
    """Give each building the block (and community) holding its largest part.

    Buildings outside every block keep ``block_id`` and ``community_code`` None (they are reported,
    never dropped). Ties go to the lower ``block_id``. With a ``unit_id`` column (footprint units,
    :func:`gridgeo.footprints.footprint_units`), every building of a unit gets the block holding the
    largest part of the whole unit, so a unit is never divided between blocks. ``share_min``: the least
    share of a footprint in the blocks together that puts it in one (default
    :data:`~gridgeo.footprints.BUILDING_SHARE_MIN`; a re-division passes any share for the blocks of a freed
    region, whose buildings lie in its community already by the assignment over every block).

    Examples
    --------
    >>> from shapely import box
    >>> blocks = gpd.GeoDataFrame({"block_id": ["X-B0001", "X-B0002"], "community_code": ["X", "X"]},
    ...                           geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=4547)
    >>> b = gpd.GeoDataFrame({"building_id": ["a", "b"]}, geometry=[box(8, 1, 14, 3), box(30, 0, 31, 1)], crs=4547)
    >>> assign_buildings(b, blocks)["block_id"].tolist()
    ['X-B0002', None]
    """
    require_layers("assign_buildings", {"blocks": blocks}, metric=True)
    if buildings.crs != blocks.crs:
        msg = f"assign_buildings: buildings CRS {_crs_name(buildings.crs)!r} differs from blocks CRS {_crs_name(blocks.crs)!r}; reproject with to_crs()"
        raise InputError(msg)
    from .footprints import BUILDING_SHARE_MIN, assign_to_zones

    bgeoms = buildings.geometry.to_numpy()
    bad = np.isin(shapely.get_type_id(bgeoms), (3, 6)) & ~shapely.is_valid(bgeoms)
    if bad.any():
        bgeoms = bgeoms.copy()
        bgeoms[bad] = shapely.make_valid(bgeoms[bad])
    kgeoms = blocks.geometry.to_numpy()
    block_ids = blocks["block_id"].to_numpy()
    rank = pd.Series(block_ids.astype(str)).rank(method="dense").to_numpy()
    # gridgeo's one building-to-zone assignment: a building less than BUILDING_SHARE_MIN in all the blocks together is outside
    a = assign_to_zones(bgeoms, kgeoms, rank=rank, share_min=BUILDING_SHARE_MIN if share_min is None else share_min)
    zone = a.zone
    if "unit_id" in buildings.columns and len(a.pairs[0]):
        # whole units, within each community: a member's community is that of its own block; the unit's
        # members in one community take the block of that community holding most of them (a community
        # boundary cuts a unit, as it cuts a building: each side stays in its own community)
        bi, ki, share = a.pairs
        area = shapely.area(bgeoms)
        weight = np.where(area > 0, area, 1.0)  # a point weighs as 1 m²
        kcode = blocks["community_code"].astype(str).to_numpy()
        own = np.where(zone >= 0, kcode[np.maximum(zone, 0)], "")
        unit = buildings["unit_id"].astype(str).to_numpy()
        key = np.char.add(np.char.add(unit.astype(str), "\x1f"), own.astype(str))
        same = kcode[ki] == own[bi]
        bi, ki, share = bi[same], ki[same], share[same]
        # every member here lies in a block by the one assignment (a footprint mostly outside, in pieces each
        # under the share, lies in the block holding most of it): the unit takes the block holding most of it,
        # never none (that left such a footprint in no grid while `validate` found it in one)
        per = pd.DataFrame({"u": key[bi], "k": ki, "m": share * weight[bi], "r": rank[ki]}).groupby(["u", "k", "r"], as_index=False)["m"].sum()
        best = per.sort_values(["u", "m", "r"], ascending=[True, False, True]).drop_duplicates("u")
        k_of_unit = pd.Series(best["k"].to_numpy(), index=best["u"].to_numpy())
        zone = np.where(zone >= 0, k_of_unit.reindex(key).fillna(-1).to_numpy(), -1).astype(np.int64)
    located = np.flatnonzero(zone >= 0)
    df = pd.DataFrame({"b": located, "k": zone[located]})
    out = buildings.copy()
    bid = np.full(len(out), None, dtype=object)
    com = np.full(len(out), None, dtype=object)
    bid[df["b"].to_numpy()] = block_ids[df["k"].to_numpy()]
    com[df["b"].to_numpy()] = blocks["community_code"].to_numpy()[df["k"].to_numpy()]
    out["community_code"] = pd.Series(com, index=out.index, dtype=object)
    out["block_id"] = pd.Series(bid, index=out.index, dtype=object)
    return out


def block_totals(blocks: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Blocks with ``households`` and ``buildings`` (count) summed from assigned buildings."""
    g = buildings.groupby("block_id")["households"].agg(["sum", "count"])
    out = blocks.copy()
    out["households"] = out["block_id"].map(g["sum"]).fillna(0).astype("int64")
    out["buildings"] = out["block_id"].map(g["count"]).fillna(0).astype("int64")
    cols = ["block_id", "community_code", "households", "buildings", "area_m2"]
    return out[cols + [c for c in out.columns if c not in cols]]
