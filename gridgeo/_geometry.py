"""Geometry helpers shared by the pipeline's modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely

__all__ = ["inner_points", "largest_part_points", "make_valid", "polygonal", "uncovered", "union_by"]

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


def union_by(geoms: np.ndarray, keys: np.ndarray, n: int, *, coverage: bool = False) -> np.ndarray:
    """The union of the geometries of each key ``0 .. n-1``: the grouped union (shapely has none).

    A key without members gets an empty Polygon, a key of one member that member as it is; keys below 0
    are left out. Members are united in their order in ``geoms``. With ``coverage`` the members of a
    key form a coverage (edges shared, no overlap), united by :func:`shapely.coverage_union_all`.

    >>> from shapely import box
    >>> out = union_by(np.array([box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)]), np.array([0, 0, -1]), 2)
    >>> [round(g.area, 1) for g in out], out[1].is_empty
    ([2.0, 0.0], True)
    """
    geoms = np.asarray(geoms, dtype=object)
    keys = np.asarray(keys)
    out = np.full(n, shapely.Polygon(), dtype=object)
    ok = keys >= 0
    if not ok.any():
        return out
    order = np.flatnonzero(ok)[np.argsort(keys[ok], kind="stable")]
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    size = np.diff(np.r_[starts, len(k)])
    one = size == 1
    out[k[starts[one]]] = geoms[order[starts[one]]]
    if one.all():
        return out
    # the keys of several members: one row each of a table padded with None, which the unions leave out, so
    # that one vectorised call unites the same collections (the same members in the same order) as a call
    # per key would, without a Python call per key
    size = size[~one]
    table = np.full((len(size), int(size.max())), None, dtype=object)
    row = np.repeat(np.arange(len(size)), size)
    col = np.arange(len(row)) - np.repeat(np.cumsum(size) - size, size)
    table[row, col] = geoms[order[np.repeat(~one, np.diff(np.r_[starts, len(k)]))]]
    union = shapely.coverage_union_all if coverage else shapely.union_all
    out[k[starts[~one]]] = union(table, axis=1)
    return out


def uncovered(containers: np.ndarray, zones: np.ndarray, owner: np.ndarray,
              unions: np.ndarray | None = None) -> np.ndarray:
    """Each container less the zones it owns (``owner``: index into ``containers``, below 0 for none): the
    container less their union (``unions``: :func:`union_by` of them, when the caller has it).

    GEOS's overlay can refuse valid inputs whose edges are not noded alike (a ``TopologyException``: a
    community against grids stored and read back, float noise apart); such a container is taken less
    each of its zones in turn, which needs no union of them.

    >>> from shapely import box
    >>> out = uncovered(np.array([box(0, 0, 3, 1)]), np.array([box(0, 0, 1, 1), box(1, 0, 2, 1)]), np.array([0, 0]))
    >>> round(out[0].area, 1)
    1.0
    """
    containers = np.asarray(containers, dtype=object)
    zones = np.asarray(zones, dtype=object)
    owner = np.asarray(owner, dtype=np.int64)
    if unions is None:
        unions = union_by(zones, owner, len(containers), coverage=True)
    try:
        return np.asarray(shapely.difference(containers, unions), dtype=object)
    except shapely.errors.GEOSException:
        out = np.empty(len(containers), dtype=object)
        for i, (c, u) in enumerate(zip(containers, unions)):
            try:
                out[i] = shapely.difference(c, u)
            except shapely.errors.GEOSException:
                mine = zones[owner == i]
                free = c
                for z in mine[shapely.intersects(mine, c)]:
                    free = shapely.difference(free, z)
                out[i] = free
        return out


def inner_points(geoms: np.ndarray) -> np.ndarray:
    """A point in the interior of each polygonal geometry, never on its boundary.

    :func:`shapely.point_on_surface` scans the envelope's middle row; where that row crosses only a wedge of
    (near) zero width, GEOS falls back to a vertex: a point on the boundary, which a neighbour may hold. Those
    geometries get the centre of their largest inscribed circle instead. Empty (and zero-area) geometries keep
    :func:`shapely.point_on_surface`'s answer.

    A strip between two communities' outlines, pinched to a wedge 12 m long and of near zero width (as a
    street across the gap closed it off, in metres of a Gauss-Krüger zone):

    >>> from shapely import Polygon
    >>> gap = Polygon([(641753.4810774905, 3457531.2203014772), (641776.2727021478, 3457532.2172578718),
    ...                (641776.2959201394, 3457531.615516466), (641753.5824086965, 3457530.9263815414),
    ...                (641757.5858842139, 3457519.3139541876)])
    >>> bool(gap.contains_properly(shapely.point_on_surface(gap)))
    False
    >>> bool(gap.contains_properly(inner_points(np.array([gap]))[0]))
    True
    """
    geoms = np.asarray(geoms, dtype=object)
    pts = shapely.point_on_surface(geoms)
    bad = ~shapely.contains_properly(geoms, pts) & (shapely.area(geoms) > 0)
    if bad.any():
        pts[bad] = shapely.get_point(shapely.maximum_inscribed_circle(geoms[bad]), 0)
    return pts


def largest_part_points(geoms: np.ndarray) -> np.ndarray:
    """A point in the interior of the largest polygon of each geometry (:func:`inner_points` of that polygon).

    :func:`shapely.point_on_surface` of a multi-part geometry lies in the part with the widest middle row,
    which may be the smallest part: a footprint across the gap between two parts of its community has its
    piece on the far side chosen over the piece holding most of it. Ties go to the first part; a geometry
    with no polygon (empty, missing, a line) gives an empty point.

    >>> from shapely import MultiPolygon, box
    >>> wide_but_small = box(0, 0, 40, 1)
    >>> narrow_but_large = box(50, -10, 60, 10)
    >>> two = np.array([MultiPolygon([wide_but_small, narrow_but_large])])
    >>> bool(wide_but_small.contains(shapely.point_on_surface(two[0])))
    True
    >>> bool(narrow_but_large.contains_properly(largest_part_points(two)[0]))
    True
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.array([shapely.Point()] * len(geoms), dtype=object)
    parts, idx = shapely.get_parts(polygonal(geoms), return_index=True)
    solid = ~shapely.is_empty(parts)
    parts, idx = parts[solid], idx[solid]
    if not len(parts):
        return out
    order = np.lexsort((np.arange(len(parts)), -shapely.area(parts), idx))
    first = order[np.r_[True, idx[order][1:] != idx[order][:-1]]]
    out[idx[first]] = inner_points(parts[first])
    return out


def polygonal(geoms: Any, *, normalise: bool = True) -> Any:
    """The polygonal part of each geometry: the polygons of an overlay result, without the lines and points
    it leaves where outlines touch.

    Vectorised: an array in, an array out; one geometry in, one out. The polygons of a collection (nested
    multi-parts flattened) are collected, not united: an overlay's polygons do not overlap. A geometry
    with no polygon (a line, a point, an empty or missing one) gives an empty Polygon.

    Parameters
    ----------
    geoms
        One geometry or an array of them.
    normalise
        True: one polygon is a Polygon and several a MultiPolygon, whatever was given (a one-part
        MultiPolygon becomes its Polygon, an empty one an empty Polygon). False: a Polygon or
        MultiPolygon is returned as it is and a collection's polygons are a MultiPolygon even when there
        is one (validate and repair keep the type a layer was given).

    Examples
    --------
    >>> from shapely import GeometryCollection, LineString, MultiPolygon, box
    >>> cut = GeometryCollection([box(0, 0, 1, 1), LineString([(1, 0), (2, 0)])])
    >>> polygonal(cut).wkt, polygonal(cut, normalise=False).geom_type
    ('POLYGON ((1 0, 1 1, 0 1, 0 0, 1 0))', 'MultiPolygon')
    >>> [g.wkt for g in polygonal(np.array([LineString([(0, 0), (1, 1)]), None, MultiPolygon([box(0, 0, 1, 1)])]))]
    ['POLYGON EMPTY', 'POLYGON EMPTY', 'POLYGON ((1 0, 1 1, 0 1, 0 0, 1 0))']
    >>> polygonal(GeometryCollection([MultiPolygon([box(0, 0, 1, 1), box(2, 0, 3, 1)]), box(5, 0, 6, 1)])).geom_type
    'MultiPolygon'
    """
    arr = np.asarray(geoms, dtype=object)
    one = arr.ndim == 0
    arr = arr.reshape(-1)
    out = np.full(len(arr), shapely.Polygon(), dtype=object)
    if len(arr) == 0:
        return out
    types = shapely.get_type_id(arr)
    poly = np.isin(types, _POLYGONAL)
    out[poly] = arr[poly]
    coll = np.flatnonzero(types == shapely.GeometryType.GEOMETRYCOLLECTION)
    if len(coll):
        parts, idx = shapely.get_parts(arr[coll], return_index=True)
        # collections from overlay are flat, but one may hold a MultiPolygon (make_valid): flatten again
        parts, idx2 = shapely.get_parts(parts, return_index=True)
        idx = idx[idx2]
        keep = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
        if keep.any():
            present, inverse = np.unique(idx[keep], return_inverse=True)
            out[coll[present]] = shapely.multipolygons(parts[keep], indices=inverse)
    if normalise:
        few = np.flatnonzero((shapely.get_type_id(out) == shapely.GeometryType.MULTIPOLYGON)
                             & (shapely.get_num_geometries(out) <= 1))
        if len(few):
            first = shapely.get_geometry(out[few], 0)
            out[few] = np.where(shapely.is_missing(first), shapely.Polygon(), first)
    return out[0] if one else out


def make_valid(geoms: Any) -> Any:
    """Each geometry made valid as ``shapely.make_valid(method="structure", keep_collapsed=False)`` does, without
    losing a polygon's area to vertices that nearly coincide.

    GEOS's structure method rebuilds a polygon from its rings; a ring that crosses itself only between
    vertices a micrometre or less apart (a grid read back from degrees and given its neighbours' vertices,
    reprojected) can come back as an empty polygon. Where the result keeps less than the area the rings
    enclose as drawn (by more than a millionth), the rings with their repeated points removed (within a
    ten-millionth of the polygon's size) are made valid again and taken when they keep more; one polygon at a
    time, as GEOS refuses a ring the removal leaves under four points (then the structure method's result
    stays). Should a polygon still keep under half its area, the polygons of the linework method are taken
    when larger. Other geometries are as the structure method returns them. One geometry in, one out; an
    array in, an array out.

    >>> from shapely import Polygon
    >>> bow = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # a bowtie: two triangles, as the structure method gives
    >>> make_valid(bow).geom_type, make_valid(bow).area
    ('MultiPolygon', 2.0)
    """
    arr = np.asarray(geoms, dtype=object)
    one = arr.ndim == 0
    arr = arr.reshape(-1)
    out = shapely.make_valid(arr, method="structure", keep_collapsed=False)
    drawn = np.where(np.isin(shapely.get_type_id(arr), _POLYGONAL), shapely.area(arr), 0.0)
    for k in np.flatnonzero(shapely.area(out) < drawn * (1 - 1e-6)):
        try:
            tidy = shapely.remove_repeated_points(arr[k], np.sqrt(drawn[k]) * 1e-7)
            tidy = tidy if shapely.is_valid(tidy) else shapely.make_valid(tidy, method="structure", keep_collapsed=False)
        except shapely.errors.GEOSException:  # a ring left under four points
            tidy = None
        if tidy is not None and shapely.area(tidy) > shapely.area(out[k]):
            out[k] = tidy
        if shapely.area(out[k]) < 0.5 * drawn[k]:
            linework = polygonal(shapely.make_valid(arr[k]), normalise=False)
            if shapely.area(linework) > shapely.area(out[k]):
                out[k] = linework
    return out[0] if one else out
