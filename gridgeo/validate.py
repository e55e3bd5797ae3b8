"""Coverage and rule checks of any grid layer (无缝覆盖, 不交叉重叠, 不跨社区), and repair.

:func:`validate_grids` checks a grid layer — a gridgeo plan's or one drawn by hand in another tool —
against its communities, buildings, streets and small grids, and returns every problem as a findings
table (:func:`gridgeo._findings.make_findings`): one row per problem with its ``type``, ``severity``,
the ``layer`` and ``feature_id`` (that layer's codes, comma-separated) it concerns, a ``measure`` and a
``geometry`` showing where it is. :func:`summarize` and :func:`worst_offenders` condense them for a
terminal, :func:`write_findings` writes them for QGIS, and :func:`repair_grids` mends the coverage.

All lengths and areas are computed in the local metric CRS (:func:`gridgeo.crs.metric_crs`, or the
grids' own CRS when it is already projected in metres); findings come back in the grids' CRS. Layers
are densified to 50 m segments before reprojection, so an edge that is straight in the stored CRS
(EPSG:4490) keeps its shape: coverage is judged as stored (DESIGN §3). Pieces
smaller than ``tolerance_m2`` or thinner than ``tolerance_m`` (mean width ``2·area/perimeter``) are
numeric noise and never become findings, so a clean plan stays clean after reprojection.

Finding types
-------------
==============================  ========  ============  =====================================================
type                            severity  measure       meaning
==============================  ========  ============  =====================================================
``empty_geometry``              error     –             a feature without geometry (None or empty)
``non_polygon``                 error     –             a point, line or collection instead of a polygon
``invalid_geometry``            error     –             invalid polygon; the message gives the GEOS reason and
                                                        the geometry is the place GEOS names
``multipart_grid``              error     parts         a grid of several separate polygons; geometry: the
                                                        parts other than the largest
``missing_code``                error     –             a feature without a code (or a layer without the column)
``duplicate_code``              error     features      one code on several features
``malformed_code``              error     –             a code that is not all digits or has the wrong length
``code_prefix_mismatch``        error     –             a code that does not start with its community's code
                                                        (small grids: with their base grid's code)
``code_wrong_range``            error     –             a grid whose ``kind`` is ``dedicated`` (专属网格) with a sequence
                                                        under the scheme's ``dedicated_start``, or ``base`` at or above it
``missing_community``           error     –             a grid without a community code (inferred by overlap
                                                        when a communities layer is given)
``unknown_community``           error     –             a community code absent from the communities layer
``community_mismatch``          error     m²            a grid lying outside the community its code names
``overlap``                     error     m²            two features overlap (不交叉重叠); geometry: the overlap.
                                                        Overlapping communities are reported as warnings
                                                        with layer ``communities``
``gap``                         error     m²            part of a community in no grid (无缝覆盖); legitimate
                                                        holes of the community are not gaps. Without a
                                                        communities layer only holes enclosed by grids are
                                                        found, as warnings
``outside_community``           error     m²            grid area outside every community
``crosses_communities``         error     m²            grid area inside another community (不跨社区)
``near_coincident_edges``       error     m             grid edges within ``gap_width_m`` of a neighbour's edge
                                                        without matching it: slivers and hairline gaps
``building_unassigned``         error     m²            a building in no grid (footprint area; 0 for points)
``building_outside_communities`` warning m²            a building outside every community (with communities given)
``building_in_two_grids``       error     m²            a building in the overlap of two grids
``building_cut``                error     m²            a footprint split by a grid boundary (area outside its
                                                        main grid)
``building_across_communities`` warning m²            a footprint split only by a community boundary (one
                                                        grid in each community): a finding on input
``households_out_of_bounds``    warning   households    households outside the rule's bounds (info when the
                                                        grid is a single building, or when the buildings of
                                                        its community (small grids: of its parent grid)
                                                        admit no division within the bounds at all)
``subgrid_not_nested``          error     m²            a small grid not inside exactly one base grid (area
                                                        outside its main base grid)
``subgrid_wrong_parent``        error     –             a small grid whose ``grid_code`` is not the grid it lies in
``low_street_share``            warning   share         share of the grid boundary on streets (community
                                                        boundary excluded) below ``street_share_min``;
                                                        geometry: the boundary off the streets
``check_skipped``               info      –             a check that could not run, and why
==============================  ========  ============  =====================================================


Overlap, gap, outside and crossing pieces narrower than ``width_tolerance_m`` everywhere (default the
rules' 0.1 m) are ``info``: a grid layer validates clean against the community layer it came from
whatever CRS either is stored in. The coverage types (:data:`COVERAGE_TYPES`) are what
:func:`repair_grids` mends.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> communities = gpd.GeoDataFrame({"code": ["420102001001"]}, geometry=[box(0, 0, 200, 100)], crs=4547)
>>> grids = gpd.GeoDataFrame(
...     {"grid_code": ["420102001001001", "420102001001002"], "community_code": ["420102001001"] * 2},
...     geometry=[box(0, 0, 110, 100), box(100, 0, 190, 100)], crs=4547)
>>> f = validate_grids(grids, communities=communities)
>>> f[["type", "feature_id", "measure"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
[{'type': 'overlap', 'feature_id': '420102001001001,420102001001002', 'measure': 1000.0},
 {'type': 'gap', 'feature_id': '420102001001', 'measure': 1000.0}]
>>> fixed, log = repair_grids(grids, communities=communities)
>>> len(validate_grids(fixed, communities=communities))
0
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely import Point, Polygon

from ._errors import InputError, PlanExistsError
from ._findings import FINDING_COLUMNS, make_findings
from ._repair import repair_grids, write_repair
from .codes import CodeScheme
from .crs import metric_crs
from .footprints import BUILDING_SHARE_MIN, ZoneAssignment, assign_to_zones, unit_labels
from .households import households_of
from .rules import Rules, load_rules, rules_for_kind

__all__ = [
    "FINDING_TYPES",
    "COVERAGE_TYPES",
    "validate_grids",
    "validate_plan",
    "summarize",
    "worst_offenders",
    "has_errors",
    "severity_counts",
    "write_findings",
    "read_findings",
    "repair_grids",
    "write_repair",
]

#: every finding type: (default severity, unit of ``measure``, short meaning); order = report order
FINDING_TYPES: dict[str, tuple[str, str, str]] = {
    "empty_geometry": ("error", "", "feature without geometry"),
    "non_polygon": ("error", "", "not a polygon"),
    "invalid_geometry": ("error", "", "invalid polygon"),
    "multipart_grid": ("error", "parts", "grid of separate polygons"),
    "missing_code": ("error", "", "feature without a code"),
    "duplicate_code": ("error", "features", "code used more than once"),
    "malformed_code": ("error", "", "code not digits or wrong length"),
    "code_prefix_mismatch": ("error", "", "code prefix is not the community's code"),
    "code_wrong_range": ("error", "", "grid code outside its kind's range (base or dedicated)"),
    "missing_community": ("error", "", "grid without a community code"),
    "unknown_community": ("error", "", "community code not in the communities layer"),
    "community_mismatch": ("error", "m2", "grid outside the community its code names"),
    "overlap": ("error", "m2", "grids overlap"),
    "gap": ("error", "m2", "community area in no grid"),
    "outside_community": ("error", "m2", "grid area outside every community"),
    "crosses_communities": ("error", "m2", "grid area inside another community"),
    "near_coincident_edges": ("error", "m", "edges almost but not exactly matching a neighbour"),
    "building_unassigned": ("error", "m2", "building in no grid"),
    "building_outside_communities": ("warning", "m2", "building outside every community, so in no grid"),
    "building_in_two_grids": ("error", "m2", "building in two grids"),
    "building_cut": ("error", "m2", "building split by a grid boundary"),
    "building_across_communities": ("warning", "m2", "building split by a community boundary"),
    "households_out_of_bounds": ("warning", "households", "households outside the bounds"),
    "subgrid_not_nested": ("error", "m2", "small grid not inside exactly one grid"),
    "subgrid_wrong_parent": ("error", "", "small grid's grid_code is not the grid it lies in"),
    "low_street_share": ("warning", "share", "grid boundary mostly off streets"),
    "check_skipped": ("info", "", "check not run"),
}

#: the coverage findings that :func:`repair_grids` removes
COVERAGE_TYPES = frozenset({"overlap", "gap", "outside_community", "crosses_communities", "near_coincident_edges"})

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
_REASON_XY = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)")


# --------------------------------------------------------------------------------------------------
# geometry helpers (shared with _repair)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """The polygonal part of each geometry (empty Polygon when it has none); vectorised over parts."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.empty(len(geoms), dtype=object)
    out[:] = [Polygon()] * len(geoms)
    if len(geoms) == 0:
        return out
    types = shapely.get_type_id(geoms)
    poly = np.isin(types, _POLYGONAL)
    out[poly] = geoms[poly]
    coll = np.flatnonzero(types == shapely.GeometryType.GEOMETRYCOLLECTION)
    if len(coll):
        parts, idx = shapely.get_parts(geoms[coll], return_index=True)
        # collections from overlay are flat, but a collection may hold a MultiPolygon: flatten again
        parts, idx2 = shapely.get_parts(parts, return_index=True)
        idx = idx[idx2]
        keep = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
        if keep.any():
            present, inverse = np.unique(idx[keep], return_inverse=True)
            out[coll[present]] = shapely.multipolygons(parts[keep], indices=inverse)
    return out


def _fix(geoms: np.ndarray) -> np.ndarray:
    """Valid polygonal geometries: invalid ones made valid (structure method), other types emptied."""
    geoms = np.asarray(geoms, dtype=object).copy()
    bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if bad.any():
        fixed = _polygonal(shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False))
        # drop the degenerate slivers make_valid leaves of collapsed spikes (area ~0): they upset overlay
        parts, idx = shapely.get_parts(fixed, return_index=True)
        x0, y0, x1, y1 = shapely.bounds(fixed[idx]).T
        keep = shapely.area(parts) > 1e-9 * np.maximum((x1 - x0) * (y1 - y0), 1e-300)
        out = np.empty(len(fixed), dtype=object)
        out[:] = [Polygon()] * len(fixed)
        if keep.any():
            uniq, inverse = np.unique(idx[keep], return_inverse=True)
            merged = shapely.multipolygons(parts[keep], indices=inverse)
            single = shapely.get_num_geometries(merged) == 1
            merged[single] = shapely.get_geometry(merged[single], 0)
            out[uniq] = merged
        geoms[bad] = out
    geoms[shapely.is_missing(geoms)] = Polygon()
    return _polygonal(geoms)


def _significant_parts(
    pieces: np.ndarray, tolerance_m2: float, tolerance_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split pieces into polygons and keep those above the noise tolerances.

    Returns ``(parts, index)``: the kept polygons and the position of the piece each came from.
    """
    pieces = _polygonal(pieces)
    parts, idx = shapely.get_parts(pieces, return_index=True)
    if len(parts) == 0:
        return parts, idx
    area = shapely.area(parts)
    perim = shapely.length(parts)
    width = np.divide(2 * area, perim, out=np.zeros_like(area), where=perim > 0)
    keep = (area >= tolerance_m2) & (width >= tolerance_m)
    return parts[keep], idx[keep]


def _regroup(parts: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group kept parts by piece: (piece positions, MultiPolygon per piece, total area per piece)."""
    if len(parts) == 0:
        return np.array([], dtype=int), np.array([], dtype=object), np.array([], dtype=float)
    order = np.argsort(idx, kind="stable")
    parts, idx = parts[order], idx[order]
    uniq, inverse = np.unique(idx, return_inverse=True)
    geoms = shapely.multipolygons(parts, indices=inverse)
    areas = np.bincount(inverse, weights=shapely.area(parts))
    return uniq, geoms, areas


def _lines(geom: Any) -> Any:
    """The linear part of a geometry as a MultiLineString (empty when none)."""
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), (shapely.GeometryType.LINESTRING, shapely.GeometryType.MULTILINESTRING))]
    return shapely.multilinestrings(shapely.get_parts(parts)) if len(parts) else shapely.MultiLineString()


def _pieces(line: Any, length: float) -> np.ndarray:
    """A line cut into single segments no longer than ``length``."""
    return _pieces_indexed(shapely.get_parts(_lines(line)), length)[0]


def _pieces_indexed(lines: np.ndarray, length: float) -> tuple[np.ndarray, np.ndarray]:
    """Lines (LineStrings) cut into single segments no longer than ``length``: (segments, line index)."""
    if len(lines) == 0:
        return np.array([], dtype=object), np.array([], dtype=int)
    coords, idx = shapely.get_coordinates(shapely.segmentize(lines, length), return_index=True)
    same = idx[:-1] == idx[1:]
    seg = np.stack([coords[:-1][same], coords[1:][same]], axis=1)
    return shapely.linestrings(seg), idx[:-1][same]


def _mean_width(geom: Any) -> float:
    p = shapely.length(geom)
    return float(2 * shapely.area(geom) / p) if p > 0 else 0.0


def _fmt_area(a: float) -> str:
    return f"{a:,.1f} m²" if a >= 1 else f"{a:.3f} m²"


def _width_note(geom: Any, gap_width_m: float) -> str:
    w = _mean_width(geom)
    return f" (a sliver ≈{w:.2g} m wide)" if w < gap_width_m else ""


def _as_code(value: Any) -> str | None:
    """A code as text: None for missing/blank; integral floats without '.0'."""
    if value is None:
        return None
    if isinstance(value, float):
        if np.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if value is pd.NA or value is pd.NaT:
        return None
    text = str(value).strip()
    return text or None


def _is_metric(crs: CRS) -> bool:
    if not crs.is_projected:
        return False
    unit = (crs.axis_info[0].unit_name or "").lower() if crs.axis_info else ""
    return unit in ("metre", "meter", "m")


def _choose_metric(grids: gpd.GeoDataFrame) -> CRS:
    return grids.crs if _is_metric(CRS.from_user_input(grids.crs)) else metric_crs(grids)


def _check_layer(gdf: Any, *, name: str, func: str) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"{func}: {name} must be a GeoDataFrame, got {type(gdf).__name__}; read it with gridgeo.io.read_layer or geopandas.read_file"
        raise InputError(msg)
    if gdf.crs is None:
        msg = f"{func}: {name} has no CRS; set one with gdf.set_crs(...) (e.g. EPSG:4490) or give --crs"
        raise InputError(msg)


#: longest segment (metres) kept straight when reprojecting: a segment straight in the stored CRS
#: (e.g. degrees) bends in the metric one; at 50 m the bend is well under 0.1 mm
_DENSIFY_M = 50.0


def _units_m(crs: CRS) -> float:
    """Metres per unit of a CRS (about, for degrees)."""
    if crs.is_geographic:
        return 111_320.0
    return float(crs.axis_info[0].unit_conversion_factor or 1.0) if crs.axis_info else 1.0


def _metric_geoms(gdf: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS) -> np.ndarray:
    """Geometries in the metric CRS, densified first so that straight edges of the stored CRS keep
    their shape (a 600 m edge straight in degrees is 4 mm off straight in Gauss-Krüger)."""
    geo = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else gdf
    if geo.crs == crs:
        return geo.to_numpy()
    native = CRS.from_user_input(geo.crs)
    dense = shapely.segmentize(geo.to_numpy(), _DENSIFY_M / _units_m(native))
    return gpd.GeoSeries(dense, crs=native).to_crs(crs).to_numpy()


# --------------------------------------------------------------------------------------------------
# prepared layers


@dataclass
class _Layer:
    """A polygon layer in the metric CRS: usable geometries, ids and codes, by row position."""

    name: str
    geoms: np.ndarray  # valid polygonal geometry (empty when unusable)
    usable: np.ndarray  # bool
    ids: np.ndarray  # feature id: the code, or "#<index>"
    codes: np.ndarray  # code or None


def _prepare_polygons(
    gdf: gpd.GeoDataFrame, crs: CRS, *, layer: str, code_column: str | None, records: list, tolerance_m2: float,
    check_multipart: bool = True,
) -> _Layer:
    native = gdf.geometry.to_numpy()
    n = len(native)
    if code_column is not None and code_column in gdf.columns:
        codes = np.array([_as_code(v) for v in gdf[code_column]], dtype=object)
    else:
        codes = np.full(n, None, dtype=object)
    ids = np.array([c if c is not None else f"#{i}" for c, i in zip(codes, gdf.index)], dtype=object)

    missing = shapely.is_missing(native) | shapely.is_empty(native)
    types = shapely.get_type_id(native)
    poly = np.isin(types, _POLYGONAL) & ~missing
    coll = (types == shapely.GeometryType.GEOMETRYCOLLECTION) & ~missing
    other = ~missing & ~poly & ~coll
    invalid = poly & ~shapely.is_valid(native)

    metric = _metric_geoms(gdf, crs)
    geoms = _fix(metric)
    usable = ~shapely.is_empty(geoms) & ~missing & ~other

    for i in np.flatnonzero(missing):
        records.append(_rec("empty_geometry", layer, ids[i], None, message=f"{layer} feature {ids[i]} has no geometry"))
    for i in np.flatnonzero(other | coll):
        gtype = shapely.get_type_id(native[i])
        tname = shapely.GeometryType(gtype).name.title().replace("string", "String").replace("polygon", "Polygon")
        note = "; its polygonal part is used" if usable[i] else "; it is left out of the other checks"
        records.append(_rec("non_polygon", layer, ids[i], None, geometry=metric[i],
                            message=f"{layer} feature {ids[i]} is a {tname}, not a polygon{note}"))
    if invalid.any():
        idx = np.flatnonzero(invalid)
        reasons = shapely.is_valid_reason(native[idx])
        pts = []
        for i, reason in zip(idx, reasons):
            m = _REASON_XY.search(reason or "")
            pts.append(Point(float(m.group(1)), float(m.group(2))) if m else shapely.point_on_surface(native[i]))
        pts_m = gpd.GeoSeries(pts, crs=gdf.crs).to_crs(crs).to_numpy()
        for i, reason, pt in zip(idx, reasons, pts_m):
            records.append(_rec("invalid_geometry", layer, ids[i], None, geometry=pt,
                                message=f"{layer} feature {ids[i]} is invalid: {reason}; it was made valid for the other checks"))
    if check_multipart:
        parts, pidx = shapely.get_parts(np.where(usable, geoms, Polygon()), return_index=True)
        if len(parts):
            big = shapely.area(parts) >= tolerance_m2
            parts, pidx = parts[big], pidx[big]
            counts = np.bincount(pidx, minlength=n)
            for i in np.flatnonzero(counts > 1):
                mine = parts[pidx == i]
                areas = shapely.area(mine)
                rest = np.delete(mine, int(np.argmax(areas)))
                records.append(_rec("multipart_grid", layer, ids[i], None, measure=int(counts[i]),
                                    geometry=shapely.multipolygons(rest),
                                    message=f"{layer} feature {ids[i]} has {counts[i]} separate parts; the geometry shows all but the largest"))
    return _Layer(layer, geoms, usable, ids, codes)


def _rec(type_: str, layer: str, feature_id: Any, community: Any, *, measure: Any = None,
         geometry: Any = None, message: str = "", severity: str | None = None) -> dict:
    return {
        "type": type_,
        "severity": severity or FINDING_TYPES[type_][0],
        "layer": layer,
        "community_code": community,
        "feature_id": feature_id,
        "measure": measure,
        "message": message,
        "geometry": geometry,
    }


# --------------------------------------------------------------------------------------------------
# communities


@dataclass
class _Communities:
    geoms: np.ndarray
    codes: np.ndarray
    kinds: np.ndarray
    index: dict[str, int]
    layer: _Layer


def _prepare_communities(communities: gpd.GeoDataFrame, crs: CRS, community_column: str, records: list,
                         tolerance_m2: float) -> _Communities:
    col = "code" if "code" in communities.columns else community_column if community_column in communities.columns else None
    if col is None:
        msg = (f"validate_grids: the communities layer has no 'code' column (nor {community_column!r}); "
               f"columns are {list(communities.columns)}; rename the community code column to 'code'")
        raise InputError(msg)
    layer = _prepare_polygons(communities, crs, layer="communities", code_column=col, records=records,
                              tolerance_m2=tolerance_m2, check_multipart=False)
    codes = layer.codes
    kinds = (np.array([str(k) if isinstance(k, str) else "urban" for k in communities["kind"]], dtype=object)
             if "kind" in communities.columns else np.full(len(codes), "urban", dtype=object))
    keep = layer.usable & np.array([c is not None for c in codes])
    index: dict[str, int] = {}
    for i in np.flatnonzero(keep):
        index.setdefault(codes[i], i)
    return _Communities(np.where(keep, layer.geoms, Polygon()), codes, kinds, index, layer)


def _assign_communities(
    grids: _Layer, declared: np.ndarray, comms: _Communities | None, records: list, *, layer: str,
    community_column: str, column_present: bool, tolerance_m2: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Effective community per grid: (position in the communities layer or -1, code or None).

    Declared codes are kept unless absent, unknown or naming a community the grid does not touch;
    then the community of largest overlap is used, and a finding says so.
    """
    n = len(grids.geoms)
    pos = np.full(n, -1, dtype=int)
    code = declared.copy()
    if not column_present:
        how = "inferred by overlap with the communities layer" if comms is not None else "give --communities to check coverage per community"
        records.append(_rec("missing_community", layer, None, None, measure=None,
                            message=f"the {layer} layer has no {community_column!r} column; {how}"))
    if comms is None:
        if column_present:
            for i in np.flatnonzero([c is None for c in declared]):
                records.append(_rec("missing_community", layer, grids.ids[i], None, geometry=shapely.point_on_surface(grids.geoms[i]) if grids.usable[i] else None,
                                    message=f"grid {grids.ids[i]} has no {community_column}"))
        return pos, code
    usable = np.flatnonzero(grids.usable)
    tree = shapely.STRtree(comms.geoms)
    gi, ci = tree.query(grids.geoms[usable], predicate="intersects")
    gi = usable[gi]
    area = _inside_area(grids.geoms[gi], comms.geoms[ci])
    best = np.full(n, -1, dtype=int)
    best_area = np.zeros(n)
    overlap_with = {}
    for g, c, a in zip(gi, ci, area):
        overlap_with[(g, c)] = a
        if a > best_area[g] or (a == best_area[g] and best[g] >= 0 and str(comms.codes[c]) < str(comms.codes[best[g]])):
            best[g], best_area[g] = c, a
    best[best_area < tolerance_m2] = -1
    for i in range(n):
        d = declared[i]
        inferred = best[i]
        inferred_code = comms.codes[inferred] if inferred >= 0 else None
        where = shapely.point_on_surface(grids.geoms[i]) if grids.usable[i] else None
        if d is None:
            pos[i], code[i] = inferred, inferred_code
            if column_present:
                tail = f"lies in community {inferred_code}" if inferred_code else "lies in no community"
                records.append(_rec("missing_community", layer, grids.ids[i], inferred_code, geometry=where,
                                    message=f"grid {grids.ids[i]} has no {community_column}; it {tail}"))
        elif d not in comms.index:
            pos[i], code[i] = inferred, inferred_code
            tail = f"it lies in community {inferred_code}" if inferred_code else "it lies in no community"
            records.append(_rec("unknown_community", layer, grids.ids[i], inferred_code, geometry=where,
                                message=f"grid {grids.ids[i]} names community {d!r}, which is not in the communities layer; {tail}"))
        else:
            c = comms.index[d]
            if grids.usable[i] and overlap_with.get((i, c), 0.0) < tolerance_m2 and inferred >= 0:
                pos[i], code[i] = inferred, inferred_code
                records.append(_rec("community_mismatch", layer, grids.ids[i], inferred_code, measure=float(shapely.area(grids.geoms[i])),
                                    geometry=where,
                                    message=f"grid {grids.ids[i]} names community {d} but lies in community {inferred_code}"))
            else:
                pos[i] = c
    return pos, code


# --------------------------------------------------------------------------------------------------
# codes


def _inside_area(geoms: np.ndarray, containers: np.ndarray) -> np.ndarray:
    """Area of each geometry inside its container (pairwise); no overlay where it lies wholly inside."""
    shapely.prepare(containers)
    inside = shapely.contains_properly(containers, geoms)
    area = shapely.area(geoms)
    if (~inside).any():
        area[~inside] = shapely.area(shapely.intersection(geoms[~inside], containers[~inside]))
    return area


def _code_problem(code: str, parent: str | None, level: str, scheme: CodeScheme) -> tuple[str, str] | None:
    """Check a code against its parent's code (``scheme.prefix`` + community code for a grid, the grid
    code for a small grid): (finding type, reason) or None. Without a parent code only the characters
    and the length the scheme gives a code of this depth are checked.

    >>> s = CodeScheme()
    >>> _code_problem("420102001001001", "420102001001", "grid", s) is None
    True
    >>> _code_problem("42010200100100A", "420102001001", "grid", s)[0]
    'malformed_code'
    >>> _code_problem("420102001002001", "420102001001", "grid", s)[0]
    'code_prefix_mismatch'
    >>> _code_problem("10420102001001001", "10420102001001", "grid", CodeScheme(prefix="10")) is None
    True
    >>> _code_problem("42010200100100101", None, "grid", s)[1]  # a small grid's length in the grid layer
    'has 17 digits, expected 15 (a grid code of the code scheme)'
    """
    if not code.isdigit() or not code.isascii():
        return "malformed_code", "has characters other than digits"
    suffix_digits = scheme.grid_digits if level == "grid" else scheme.subgrid_digits
    if parent is not None and parent.isdigit():
        want = len(parent) + suffix_digits
        if len(code) != want:
            return "malformed_code", f"has {len(code)} digits, expected {want} ({len(parent)}-digit parent code + {suffix_digits})"
        if not code.startswith(parent):
            return "code_prefix_mismatch", f"does not start with its parent code {parent}"
    elif parent is None:
        want = scheme.length(level)
        if len(code) != want:
            what = "grid" if level == "grid" else "small grid"
            return "malformed_code", f"has {len(code)} digits, expected {want} (a {what} code of the code scheme)"
    return None


def _code_findings(layer: _Layer, parents: np.ndarray, communities: np.ndarray, records: list, *,
                   code_column: str, column_present: bool, level: str, scheme: CodeScheme) -> None:
    name = layer.name
    if not column_present:
        records.append(_rec("missing_code", name, None, None,
                            message=f"the {name} layer has no {code_column!r} column; features are named #<index>"))
    counts: dict[str, list[int]] = {}
    for i, c in enumerate(layer.codes):
        if c is None:
            if column_present:
                records.append(_rec("missing_code", name, layer.ids[i], communities[i],
                                    geometry=shapely.point_on_surface(layer.geoms[i]) if layer.usable[i] else None,
                                    message=f"{name} feature {layer.ids[i]} has no {code_column}"))
            continue
        counts.setdefault(c, []).append(i)
        problem = _code_problem(c, parents[i], level, scheme)
        if problem:
            records.append(_rec(problem[0], name, c, communities[i],
                                geometry=shapely.point_on_surface(layer.geoms[i]) if layer.usable[i] else None,
                                message=f"{code_column} {c!r} {problem[1]}"))
    for c, rows in counts.items():
        if len(rows) > 1:
            geoms = [layer.geoms[i] for i in rows if layer.usable[i]]
            records.append(_rec("duplicate_code", name, c, communities[rows[0]], measure=len(rows),
                                geometry=shapely.union_all(geoms) if geoms else None,
                                message=f"{code_column} {c!r} is used by {len(rows)} features"))


# --------------------------------------------------------------------------------------------------
# coverage


def _overlaps(layer: _Layer, community: np.ndarray, records: list, tol2: float, tol: float, gap_width_m: float):
    """Pairwise overlaps; returns (pieces, left, right) positions of the significant ones."""
    usable = np.flatnonzero(layer.usable)
    geoms = layer.geoms[usable]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = usable[left[keep]], usable[right[keep]]
    # most intersecting pairs only touch: overlay only the pairs whose interiors meet
    meet = shapely.relate_pattern(layer.geoms[left], layer.geoms[right], "T********")
    left, right = left[meet], right[meet]
    pieces = shapely.intersection(layer.geoms[left], layer.geoms[right])
    parts, pidx = _significant_parts(pieces, tol2, tol)
    pos, merged, areas = _regroup(parts, pidx)
    left, right = left[pos], right[pos]
    for a, b, g, area in zip(left, right, merged, areas):
        ida, idb = sorted([layer.ids[a], layer.ids[b]])
        records.append(_rec("overlap", layer.name, f"{ida},{idb}", community[a], measure=float(area), geometry=g,
                            message=f"{layer.name} {ida} and {idb} overlap by {_fmt_area(area)}{_width_note(g, gap_width_m)}"))
    return merged, left, right


def _gaps(grids: _Layer, comms: _Communities | None, records: list, tol2: float, tol: float, gap_width_m: float,
          overlap_pieces: np.ndarray) -> None:
    usable = np.flatnonzero(grids.usable)
    if comms is None:
        union = shapely.union_all(grids.geoms[usable])
        rings = [ring for part in shapely.get_parts(union) for ring in part.interiors]
        holes = shapely.polygons(np.array(rings, dtype=object)) if rings else np.array([], dtype=object)
        parts, _ = _significant_parts(np.asarray(holes, dtype=object), tol2, tol)
        for p in parts:
            a = float(shapely.area(p))
            records.append(_rec("gap", grids.name, None, None, measure=a, geometry=p, severity="warning",
                                message=f"hole of {_fmt_area(a)} enclosed by grids{_width_note(p, gap_width_m)}; "
                                        "give a communities layer to tell a gap from a legitimate hole"))
        return
    tree = shapely.STRtree(grids.geoms[usable])
    otree = shapely.STRtree(overlap_pieces) if len(overlap_pieces) else None
    for c in sorted(comms.index.values(), key=lambda k: comms.codes[k]):
        cg = comms.geoms[c]
        near = usable[tree.query(cg, predicate="intersects")]
        if len(near) and (otree is None or len(otree.query(cg, predicate="intersects")) == 0):
            # no overlap here: the grids cover all but (community area - their area inside it)
            covered = _inside_area(grids.geoms[near], np.full(len(near), cg, dtype=object)).sum()
            if float(shapely.area(cg)) - covered < tol2:
                continue
        cover = shapely.union_all(grids.geoms[near]) if len(near) else Polygon()
        diff = shapely.difference(cg, cover)
        parts, _ = _significant_parts(np.array([diff], dtype=object), tol2, tol)
        for p in _sorted_geoms(parts):
            a = float(shapely.area(p))
            records.append(_rec("gap", grids.name, comms.codes[c], comms.codes[c], measure=a, geometry=p,
                                message=f"{_fmt_area(a)} of community {comms.codes[c]} is in no grid{_width_note(p, gap_width_m)}"))


#: coverage findings whose pieces narrower than the width tolerance are info
_WIDTH_TYPES = frozenset({"overlap", "gap", "outside_community", "crosses_communities"})


def _narrow_is_info(records: list[dict], start: int, width_m: float) -> None:
    """Make coverage findings (from ``start`` on) whose every piece is narrower than ``width_m`` info.

    A piece is narrower when an inward buffer of half the width leaves nothing of it. A finding with
    one wider piece stays as it is (an error, with all its pieces).
    """
    if width_m <= 0:
        return
    for r in records[start:]:
        if r["type"] not in _WIDTH_TYPES or r["severity"] == "info" or r.get("geometry") is None:
            continue
        parts = shapely.get_parts(_polygonal(np.array([r["geometry"]], dtype=object)))
        if len(parts) == 0:
            continue
        if shapely.is_empty(shapely.buffer(parts, -width_m / 2.0, quad_segs=2)).all():
            r["severity"] = "info"
            r["message"] += f"; narrower than the {width_m:g} m width tolerance: not an error"


def _sorted_geoms(geoms: np.ndarray) -> np.ndarray:
    """Geometries in a stable order (by representative point, then area)."""
    if len(geoms) == 0:
        return geoms
    pts = shapely.point_on_surface(geoms)
    pts = np.where(shapely.is_empty(pts), Point(0, 0), pts)
    order = np.lexsort((-shapely.area(geoms), np.nan_to_num(shapely.get_x(pts)), -np.nan_to_num(shapely.get_y(pts))))
    return geoms[order]


def _outside(grids: _Layer, comm_pos: np.ndarray, comm_code: np.ndarray, comms: _Communities, records: list,
             tol2: float, tol: float, gap_width_m: float) -> None:
    idx = np.flatnonzero(grids.usable & (comm_pos >= 0))
    shapely.prepare(comms.geoms)
    idx = idx[~shapely.contains_properly(comms.geoms[comm_pos[idx]], grids.geoms[idx])]
    diff = shapely.difference(grids.geoms[idx], comms.geoms[comm_pos[idx]])
    parts, pidx = _significant_parts(diff, tol2, tol)
    pos, merged, _ = _regroup(parts, pidx)
    tree = shapely.STRtree(comms.geoms)
    orphan = np.flatnonzero(grids.usable & (comm_pos < 0))
    todo = [(idx[p], m) for p, m in zip(pos, merged)] + [(i, grids.geoms[i]) for i in orphan]
    for g, piece in todo:
        others = [c for c in tree.query(piece, predicate="intersects") if c != comm_pos[g] and comms.codes[c] is not None]
        others.sort(key=lambda c: comms.codes[c])
        for c in others:
            inter = shapely.intersection(piece, comms.geoms[c])
            ps, _ = _significant_parts(np.array([inter], dtype=object), tol2, tol)
            if len(ps):
                geom = shapely.multipolygons(ps)
                a = float(shapely.area(geom))
                own = f"its community {comm_code[g]}" if comm_code[g] else "no community of its own"
                records.append(_rec("crosses_communities", grids.name, grids.ids[g], comm_code[g], measure=a, geometry=geom,
                                    message=f"grid {grids.ids[g]} ({own}) reaches {_fmt_area(a)} into community {comms.codes[c]}{_width_note(geom, gap_width_m)}"))
        rest = shapely.difference(piece, shapely.union_all(comms.geoms[others])) if others else piece
        ps, _ = _significant_parts(np.array([rest], dtype=object), tol2, tol)
        if len(ps):
            geom = shapely.multipolygons(ps)
            a = float(shapely.area(geom))
            records.append(_rec("outside_community", grids.name, grids.ids[g], comm_code[g], measure=a, geometry=geom,
                                message=f"{_fmt_area(a)} of grid {grids.ids[g]} lies outside every community{_width_note(geom, gap_width_m)}"))


def _near_coincident(grids: _Layer, comm_pos: np.ndarray, comm_code: np.ndarray, comms: _Communities | None,
                     records: list, tol: float, gap_width_m: float) -> None:
    """coverage_invalid_edges per community, minus the parts lying on a neighbour's or the community's
    boundary (unmatched vertices only, e.g. T-junctions: harmless)."""
    usable = grids.usable
    keys = np.where(comm_pos >= 0, comm_pos, -1)
    tree = shapely.STRtree(np.where(usable, grids.geoms, Polygon()))
    for key in np.unique(keys[usable]):
        members = np.flatnonzero(usable & (keys == key))
        if len(members) < 2:
            continue
        edges = shapely.coverage_invalid_edges(grids.geoms[members], gap_width=gap_width_m)
        bad = np.flatnonzero(~shapely.is_empty(edges) & (shapely.length(edges) > tol))
        if len(bad) == 0:
            continue
        cbound = shapely.boundary(comms.geoms[key]) if (comms is not None and key >= 0) else None
        for b in bad:
            g = members[b]
            line = edges[b]
            nbs = [n for n in tree.query(line, predicate="dwithin", distance=gap_width_m) if n != g and usable[n]]
            if not nbs:
                continue
            nb_ref = shapely.multilinestrings(shapely.get_parts(shapely.boundary(grids.geoms[nbs])))
            refs = [nb_ref]
            if cbound is not None:
                x0, y0, x1, y1 = shapely.bounds(line)
                refs.append(shapely.clip_by_rect(cbound, x0 - gap_width_m, y0 - gap_width_m, x1 + gap_width_m, y1 + gap_width_m))
            ref = shapely.multilinestrings(shapely.get_parts(shapely.get_parts(np.array(refs, dtype=object))))
            shapely.prepare(ref)
            # near-misses only: pieces farther than tol from the neighbours' lines (else matching but
            # for vertices) and within gap_width of them (else an overlap, reported as such)
            pieces = _pieces(line, max(gap_width_m / 2, tol))
            mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
            pieces = pieces[shapely.dwithin(ref, mids, gap_width_m) & ~shapely.dwithin(ref, mids, tol)]
            if len(pieces) == 0:
                continue
            # an edge crossing a neighbour's comes near it only for about gap_width: keep the runs
            # alongside a neighbour, longer than that
            parts = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(pieces)))
            parts = parts[shapely.length(parts) > 2 * gap_width_m]
            if len(parts) == 0:
                continue
            # GEOS also flags a thin arm of the grid itself running along a neighbour: keep a run only
            # when the space between it and the neighbour is in no grid (a gap) or in two (an overlap)
            mid = shapely.line_interpolate_point(parts, 0.5, normalized=True)
            x0, y0, x1, y1 = shapely.bounds(shapely.multilinestrings(parts))
            box_ = (x0 - 2 * gap_width_m, y0 - 2 * gap_width_m, x1 + 2 * gap_width_m, y1 + 2 * gap_width_m)
            nb_pieces = _pieces(shapely.clip_by_rect(nb_ref, *box_), max(gap_width_m / 2, tol))
            own = shapely.clip_by_rect(shapely.boundary(grids.geoms[g]), *box_)
            shapely.prepare(own)
            nb_pieces = nb_pieces[~shapely.dwithin(own, shapely.line_interpolate_point(nb_pieces, 0.5, normalized=True), tol)]
            if len(nb_pieces) == 0:
                continue
            far = shapely.multilinestrings(nb_pieces)
            probe = shapely.line_interpolate_point(shapely.shortest_line(mid, far), 0.5, normalized=True)
            pi, _ = tree.query(probe, predicate="within")
            parts = parts[np.bincount(pi, minlength=len(parts)) != 1]
            if len(parts) == 0:
                continue
            line = shapely.multilinestrings(parts)
            length = float(shapely.length(line))
            near = sorted({grids.ids[n] for n in tree.query(line, predicate="dwithin", distance=gap_width_m) if n != g and usable[n]})
            fid = ",".join([grids.ids[g], *near])
            records.append(_rec("near_coincident_edges", grids.name, fid, comm_code[g], measure=length, geometry=line,
                                message=f"{length:,.2f} m of grid {grids.ids[g]}'s edges lie within {gap_width_m:g} m of "
                                        f"{', '.join(near) if near else 'a neighbour'} without matching it (sliver or hairline gap)"))


# --------------------------------------------------------------------------------------------------
# buildings, households, small grids, streets


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


def _assign(bgeoms: np.ndarray, layer: _Layer, share_min: float, stored: Any = None) -> ZoneAssignment:
    """gridgeo's one building-to-zone assignment (:func:`gridgeo.footprints.assign_to_zones`) on a
    prepared layer; ties go to the code the building carries (``stored``: a plan's ``grid_code`` or
    ``subgrid_code``), then to the lower code."""
    zones = np.where(layer.usable, layer.geoms, Polygon())
    rank = pd.Series(layer.ids.astype(str)).rank(method="dense").to_numpy()
    prefer = None
    if stored is not None:
        pos = {c: i for i, c in enumerate(layer.ids) if c is not None}
        prefer = np.array([pos.get(_as_code(v), -1) for v in stored], dtype=np.int64)
    return assign_to_zones(bgeoms, zones, share_min=share_min, rank=rank, prefer=prefer)


def _buildings_check(grids: _Layer, comm_code: np.ndarray, buildings: gpd.GeoDataFrame, crs: CRS,
                     overlap_pieces: np.ndarray, overlap_l: np.ndarray, overlap_r: np.ndarray,
                     records: list, share_min: float) -> np.ndarray:
    """Building findings; returns the grid position each building counts in (-1 when none)."""
    bgeoms, bgeoms_valid, missing = _metric_buildings(buildings, crs)
    nb = len(bgeoms)
    is_point = ~np.isin(shapely.get_type_id(bgeoms), _POLYGONAL)
    bids = (np.array([_as_code(v) or f"#{i}" for v, i in zip(buildings["building_id"], buildings.index)], dtype=object)
            if "building_id" in buildings.columns else np.array([f"#{i}" for i in buildings.index], dtype=object))
    asg = _assign(bgeoms_valid, grids, share_min, buildings.get("grid_code"))
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
            if None not in comms and len(set(comms)) == len(comms):
                # one grid in each community: the community boundary itself cuts it (a finding on input)
                records.append(_rec("building_across_communities", "buildings", bids[b], comm, measure=a, geometry=where,
                                    message=f"building {bids[b]} straddles communities {', '.join(sorted(set(comms)))}: "
                                            f"the community boundary cuts it ({_fmt_area(a)} outside grid {grids.ids[g]})"))
                continue
            records.append(_rec("building_cut", "buildings", bids[b], comm, measure=a, geometry=where,
                                message=f"building {bids[b]} is cut by the boundary of grids {', '.join(codes)}: "
                                        f"{_fmt_area(a)} lies outside grid {grids.ids[g]}"))
    return assigned


def _households_check(layer: _Layer, comm_code: np.ndarray, comm_kind: np.ndarray, assigned: np.ndarray,
                      households: np.ndarray, units: np.ndarray, rules: Rules, records: list, *, exempt: np.ndarray,
                      small: bool, container: np.ndarray) -> None:
    """Households per feature against the rule's bounds. A feature out of bounds is a warning, or
    info when it cannot be helped: a single building or footprint unit over the ceiling (never split),
    or a community whose footprint units admit no division within the bounds at all (proved by
    :func:`~gridgeo.partition.feasibility.packable`)."""
    from .partition.feasibility import divisible as is_divisible
    from .partition.metrics import unit_households

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
        word = "small grid" if small else "grid"
        records.append(_rec("households_out_of_bounds", layer.name, layer.ids[i], comm_code[i], measure=float(h),
                            geometry=shapely.point_on_surface(layer.geoms[i]), severity=sev,
                            message=f"{word} {layer.ids[i]} has {h:.0f} households, outside {lo}–{hi}{note}"))


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
    pieces = shapely.intersection(subs.geoms[si], grids.geoms[gi])
    parts, pidx = _significant_parts(pieces, tol2, tol)
    pos, _, areas = _regroup(parts, pidx)
    sig_s, sig_g = si[pos], gi[pos]
    for s in sidx:
        mine = sig_s == s
        sub_area = float(shapely.area(subs.geoms[s]))
        gs, ars = sig_g[mine], areas[mine]
        where = subs.geoms[s]
        if len(gs):
            parent[s] = gs[int(np.argmax(ars))]
        comm = grid_comm[parent[s]] if parent[s] >= 0 else None
        if len(gs) != 1:
            outside = sub_area - (float(ars.max()) if len(ars) else 0.0)
            names = ", ".join(sorted(grids.ids[g] for g in gs)) if len(gs) else "none"
            records.append(_rec("subgrid_not_nested", subs.name, subs.ids[s], comm, measure=outside, geometry=where,
                                message=f"small grid {subs.ids[s]} lies in {len(gs)} grids ({names}); {_fmt_area(outside)} is outside its main grid"))
        elif declared_parent[s] is not None and declared_parent[s] != grids.codes[gs[0]]:
            records.append(_rec("subgrid_wrong_parent", subs.name, subs.ids[s], comm, geometry=where,
                                message=f"small grid {subs.ids[s]} names grid {declared_parent[s]} but lies in grid {grids.ids[gs[0]]}"))
    return parent


def _kind_range(layer: _Layer, kinds: np.ndarray, comm_code: np.ndarray, scheme: CodeScheme, records: list) -> None:
    """Dedicated grids (专属网格) numbered from the scheme's ``dedicated_start``, base grids below it."""
    first = scheme.dedicated_first
    for i, (code, kind) in enumerate(zip(layer.codes, kinds, strict=True)):
        if code is None or kind not in ("base", "dedicated") or not str(code)[-scheme.grid_digits:].isdigit():
            continue
        seq = int(str(code)[-scheme.grid_digits:])
        if (kind == "dedicated") != (seq >= first):
            want = f"{first} or above" if kind == "dedicated" else f"under {first}"
            records.append(_rec("code_wrong_range", layer.name, layer.ids[i], comm_code[i],
                                geometry=shapely.point_on_surface(layer.geoms[i]) if layer.usable[i] else None,
                                message=f"{kind} grid {layer.ids[i]} has sequence {seq}; {kind} grids are numbered "
                                        f"{want} (dedicated_start)"))


def _street_share(grids: _Layer, comm_pos: np.ndarray, comm_code: np.ndarray, comms: _Communities | None,
                  streets: gpd.GeoDataFrame, crs: CRS, snap_m: float, share_min: float, records: list, tol: float) -> None:
    """Share of each grid's boundary within ``snap_m`` of a street, the community boundary excluded:
    gridgeo's one street-alignment measure (:func:`gridgeo.partition.metrics.street_alignment`), the
    figure the quality report sums."""
    from .partition.metrics import street_alignment

    sgeoms = _metric_geoms(streets, crs)
    sgeoms = sgeoms[~(shapely.is_missing(sgeoms) | shapely.is_empty(sgeoms))]
    stree = shapely.STRtree(sgeoms)
    zgeoms = np.where(grids.usable, grids.geoms, Polygon())
    cgeoms = comms.geoms if comms is not None else np.zeros(0, dtype=object)
    zcont = np.asarray(comm_pos, dtype=np.int64) if comms is not None else np.full(len(zgeoms), -1, dtype=np.int64)
    total, on_len, off = street_alignment(zgeoms, zcont, cgeoms, stree, snap_m, off_lines=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(grids.usable & (total > tol), on_len / total, np.nan)
    for g in np.flatnonzero(share < share_min):
        records.append(_rec("low_street_share", grids.name, grids.ids[g], comm_code[g], measure=float(share[g]), geometry=off[g],
                            message=f"only {share[g]:.0%} of grid {grids.ids[g]}'s boundary (community boundary excluded) "
                                    f"lies within {snap_m:g} m of a street; at least {share_min:.0%} expected"))


# --------------------------------------------------------------------------------------------------
# public API


def validate_grids(
    grids: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    subgrids: gpd.GeoDataFrame | None = None,
    rules: Rules | str | None = None,
    code_column: str = "grid_code",
    community_column: str = "community_code",
    gap_width_m: float = 1.0,
    street_share_min: float = 0.5,
    tolerance_m2: float = 0.01,
    tolerance_m: float = 0.01,
    building_share_min: float = BUILDING_SHARE_MIN,
    scheme: CodeScheme | dict[str, Any] | None = None,
    width_tolerance_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Check a grid layer for coverage, geometry, code, building, households and street problems.

    Parameters
    ----------
    grids
        Any grid layer: a gridgeo plan's ``grids`` or a hand-drawn one. Its code and community columns
        may be missing (findings ``missing_code`` / ``missing_community``).
    communities
        The communities (社区 / 村) the grids tile, with a 12-digit ``code`` and optionally ``kind``.
        Without it, the checks needing communities are skipped (a ``check_skipped`` finding says so)
        and gaps are only the holes enclosed by grids.
    buildings
        Footprints or points, optionally with ``building_id`` and ``households``: buildings in no grid,
        in two grids or cut by a boundary; households per grid against the rules' bounds.
    streets
        Street lines: the share of each grid's boundary (community boundary excluded) within
        ``rules.street_snap_m`` of a street, flagged below ``street_share_min``.
    subgrids
        Small grids (小网格) with ``subgrid_code`` and ``grid_code``: nesting, overlaps, codes, households.
    rules
        A :class:`~gridgeo.rules.Rules`, a profile name or a TOML path (default: urban); rural
        communities use :func:`~gridgeo.rules.rules_for_kind`.
    code_column, community_column
        Names of the grid code and community code columns of ``grids``.
    gap_width_m
        Edges of neighbouring grids closer than this without matching are ``near_coincident_edges``.
    street_share_min
        Least share (0–1) of a grid's inner boundary that should follow streets.
    tolerance_m2, tolerance_m
        Overlap, gap and outside pieces smaller than ``tolerance_m2`` or thinner (mean width) than
        ``tolerance_m`` are numeric noise, not findings.
    building_share_min
        Least share of a footprint that counts as being in a grid (for ``building_cut`` and
        assignment).
    scheme
        The :class:`~gridgeo.codes.CodeScheme` the codes follow (a plan stores its own under
        ``code_scheme``); default: 12-digit community code + 3-digit grid + 2-digit small grid.
    width_tolerance_m
        Overlap, gap, outside and crossing pieces narrower than this everywhere (no inscribed circle of
        this diameter) are ``info``, not errors: the centimetre slivers left along long edges when one
        layer's edges are straight in degrees and the other's in metres. Default: the rules'
        ``width_tolerance_m`` (0.1 m); 0 keeps every piece an error.

    Returns
    -------
    GeoDataFrame
        Findings (columns of :data:`gridgeo._findings.FINDING_COLUMNS` and geometry) in the grids' CRS,
        sorted by the order of :data:`FINDING_TYPES`, then community and feature id.

    Examples
    --------
    >>> from shapely import box
    >>> grids = gpd.GeoDataFrame({"grid_code": ["420102001001001", "420102001001001"]},
    ...                          geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=4547)
    >>> validate_grids(grids)[["type", "feature_id"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'type': 'duplicate_code', 'feature_id': '420102001001001'},
     {'type': 'missing_community', 'feature_id': None},
     {'type': 'check_skipped', 'feature_id': None}]
    """
    func = "validate_grids"
    _check_layer(grids, name="grids", func=func)
    if len(grids) == 0:
        msg = f"{func}: the grid layer has no features; check the file and --layer"
        raise InputError(msg)
    for name, layer in (("communities", communities), ("buildings", buildings), ("streets", streets), ("subgrids", subgrids)):
        if layer is not None:
            _check_layer(layer, name=name, func=func)
    rules = load_rules(rules)
    width_tolerance_m = rules.width_tolerance_m if width_tolerance_m is None else width_tolerance_m
    for name, value in (("gap_width_m", gap_width_m), ("tolerance_m2", tolerance_m2), ("tolerance_m", tolerance_m),
                        ("width_tolerance_m", width_tolerance_m)):
        if not (isinstance(value, (int, float)) and value >= 0):
            msg = f"{func}: {name} must be a number >= 0, got {value!r}"
            raise InputError(msg)
    if not 0 <= street_share_min <= 1 or not 0 <= building_share_min < 0.5:
        msg = (f"{func}: street_share_min must be in [0, 1] and building_share_min in [0, 0.5), "
               f"got {street_share_min!r} and {building_share_min!r}")
        raise InputError(msg)
    scheme = scheme if isinstance(scheme, CodeScheme) else CodeScheme.from_dict(scheme) if scheme else CodeScheme()
    crs = _choose_metric(grids)
    tol2, tol = float(tolerance_m2), float(tolerance_m)
    records: list[dict] = []

    layer = _prepare_polygons(grids, crs, layer="grids", code_column=code_column, records=records, tolerance_m2=tol2)
    comms = _prepare_communities(communities, crs, community_column, records, tol2) if communities is not None else None
    present = community_column in grids.columns
    declared = (np.array([_as_code(v) for v in grids[community_column]], dtype=object) if present
                else np.full(len(grids), None, dtype=object))
    comm_pos, comm_code = _assign_communities(layer, declared, comms, records, layer="grids",
                                              community_column=community_column, column_present=present, tolerance_m2=tol2)
    comm_kind = np.array([comms.kinds[p] if (comms is not None and p >= 0) else "urban" for p in comm_pos], dtype=object)

    coverage_start = len(records)
    if comms is not None:
        # communities that overlap each other make their grids overlap too: say so, as a warning
        start = len(records)
        _overlaps(comms.layer, comms.codes, records, tol2, tol, gap_width_m)
        for r in records[start:]:
            r["severity"] = "warning"
            r["community_code"] = None
            r["message"] += "; grids clipped to them overlap there too: fix the communities layer"
    grid_parents = np.array([None if c is None else scheme.prefix + c for c in comm_code], dtype=object)
    _code_findings(layer, grid_parents, comm_code, records, code_column=code_column,
                   column_present=code_column in grids.columns, level="grid", scheme=scheme)
    if "kind" in grids.columns:
        _kind_range(layer, grids["kind"].to_numpy(dtype=object), comm_code, scheme, records)
    pieces, ov_l, ov_r = _overlaps(layer, comm_code, records, tol2, tol, gap_width_m)
    _gaps(layer, comms, records, tol2, tol, gap_width_m, pieces)
    if comms is not None:
        _outside(layer, comm_pos, comm_code, comms, records, tol2, tol, gap_width_m)
    else:
        records.append(_rec("check_skipped", "grids", None, None,
                            message="no communities layer: gaps at community edges, outside_community and crosses_communities not checked"))
    _narrow_is_info(records, coverage_start, float(width_tolerance_m))
    _near_coincident(layer, comm_pos, comm_code, comms, records, tol, gap_width_m)

    sub_layer = None
    if subgrids is not None:
        sub_layer = _prepare_polygons(subgrids, crs, layer="subgrids", code_column="subgrid_code", records=records, tolerance_m2=tol2)
        sub_declared = (np.array([_as_code(v) for v in subgrids["grid_code"]], dtype=object) if "grid_code" in subgrids.columns
                        else np.full(len(subgrids), None, dtype=object))
        parent = _subgrid_nesting(sub_layer, sub_declared, layer, comm_code, records, tol2, tol)
        sub_comm = np.array([comm_code[p] if p >= 0 else None for p in parent], dtype=object)
        # codes are checked against the grid a small grid lies in (its declared grid when it lies in none)
        parent_codes = np.array([layer.codes[p] if p >= 0 else sub_declared[i] for i, p in enumerate(parent)], dtype=object)
        _code_findings(sub_layer, parent_codes, sub_comm, records, code_column="subgrid_code",
                       column_present="subgrid_code" in subgrids.columns, level="subgrid",
                       scheme=scheme)
        _overlaps(sub_layer, sub_comm, records, tol2, tol, gap_width_m)

    if buildings is not None:
        assigned = _buildings_check(layer, comm_code, buildings, crs, pieces, ov_l, ov_r, records, building_share_min)
        if "households" in buildings.columns or "floors" in buildings.columns:
            # nulls estimated as the partition estimates them (one implementation of households)
            hh = households_of(buildings, metric=crs, rules=rules)
            exempt = (np.array([str(k) == "dedicated" for k in grids["kind"]]) if "kind" in grids.columns
                      else np.zeros(len(grids), dtype=bool))
            units = unit_labels(buildings, rules=rules)  # found as the partition finds them when the layer has none
            _households_check(layer, comm_code, comm_kind, assigned, hh, units, rules, records, exempt=exempt, small=False,
                              container=np.asarray(comm_code, dtype=object))
            if sub_layer is not None:
                sub_assigned = _buildings_check_quiet(sub_layer, buildings, crs, building_share_min)
                sub_kind = np.array([comm_kind[p] if p >= 0 else "urban" for p in parent], dtype=object)
                # honest small grids (as the quality figures): excused only when the units of the whole
                # community admit no small grids, whatever base grids were drawn
                _households_check(sub_layer, sub_comm, sub_kind, sub_assigned, hh, units, rules, records,
                                  exempt=np.zeros(len(subgrids), dtype=bool), small=True,
                                  container=np.asarray(sub_comm, dtype=object))
        else:
            records.append(_rec("check_skipped", "buildings", None, None,
                                message="buildings have no 'households' or 'floors' column: households per grid not checked"))
    if streets is not None:
        _street_share(layer, comm_pos, comm_code, comms, streets, crs, rules.street_snap_m, street_share_min, records, tol)

    if comms is not None:
        _outside_communities(records, comms.geoms, building_share_min)
    return _finish(records, crs, grids.crs)


def validate_plan(
    plan: Any,
    *,
    communities: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    subgrids: gpd.GeoDataFrame | None = None,
    rules: Rules | str | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """Check a gridgeo plan as ``gridgeo validate PLAN`` does (and as ``gridgeo partition`` does before writing).

    The plan's grids, small grids, communities and buildings are checked in the metric CRS the plan was
    computed in (its stored edges are exact projections of edges straight there), with the plan's own
    rules and code scheme.

    Parameters
    ----------
    plan
        A :class:`gridgeo.plan.Plan` with a ``grids`` layer (in any CRS: as stored or as computed).
    communities, buildings, streets, subgrids
        Layers to check instead of (communities, buildings, subgrids) or beside (streets) the plan's
        own; taken into the plan's metric CRS.
    rules
        Rules instead of the plan's own.
    options
        Further keywords of :func:`validate_grids` (``gap_width_m``, ``code_column``, ...).

    Returns
    -------
    GeoDataFrame
        Findings, in the CRS of the plan's grids layer.
    """
    if "grids" not in plan.layers:
        msg = f"validate_plan: the plan has no grids layer (stage {plan.metadata.get('stage')!r}); run `gridgeo partition` first"
        raise InputError(msg)
    layers = {k: plan.layers[k] for k in ("grids", "communities", "buildings", "subgrids") if k in plan.layers}
    for name, given in (("communities", communities), ("buildings", buildings), ("streets", streets),
                        ("subgrids", subgrids)):
        if given is not None:
            layers[name] = given
    stored_crs = layers["grids"].crs
    metric = plan.metadata.get("metric_crs")
    if metric:
        # taking a 6 km edge as straight in degrees would bend it by centimetres against its neighbours
        layers = {k: (v.to_crs(metric) if v.crs is not None else v) for k, v in layers.items()}
    if rules is None and "rules" in plan.metadata:
        rules = Rules.from_dict(plan.metadata["rules"], source="the plan's metadata")
    findings = validate_grids(layers["grids"], communities=layers.get("communities"), buildings=layers.get("buildings"),
                              streets=layers.get("streets"), subgrids=layers.get("subgrids"), rules=rules,
                              scheme=plan.metadata.get("code_scheme"), **options)
    if stored_crs is not None and findings.crs is not None and findings.crs != stored_crs:
        findings = findings.to_crs(stored_crs)
    return findings


def severity_counts(findings: gpd.GeoDataFrame | pd.DataFrame) -> dict[str, int]:
    """Findings per severity, every severity present as a key.

    >>> severity_counts(make_findings([{"type": "gap", "severity": "error"}]))
    {'error': 1, 'warning': 0, 'info': 0}
    """
    counts = findings["severity"].value_counts() if len(findings) else pd.Series(dtype=int)
    return {s: int(counts.get(s, 0)) for s in ("error", "warning", "info")}


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


def _buildings_check_quiet(layer: _Layer, buildings: gpd.GeoDataFrame, crs: CRS, share_min: float) -> np.ndarray:
    """Buildings assigned to features of ``layer`` (the one assignment), without findings."""
    return _assign(_metric_buildings(buildings, crs)[1], layer, share_min, buildings.get("subgrid_code")).zone


def _finish(records: list[dict], metric: CRS, out_crs: Any) -> gpd.GeoDataFrame:
    order = {t: i for i, t in enumerate(FINDING_TYPES)}
    records = sorted(records, key=lambda r: (order[r["type"]], r["layer"] or "", r["community_code"] or "",
                                             r["feature_id"] or "", -(r["measure"] or 0)))
    findings = make_findings(records, crs=metric)
    if out_crs is not None and CRS.from_user_input(out_crs) != metric:
        findings = findings.to_crs(out_crs)
    return findings


def _short(fid: Any, n: int = 2) -> str:
    """A feature id list cut to its first ``n`` ids: ``"A,B,+3"``."""
    if not fid:
        return "-"
    ids = str(fid).split(",")
    return ",".join(ids[:n] + ([f"+{len(ids) - n}"] if len(ids) > n else []))


def has_errors(findings: gpd.GeoDataFrame) -> bool:
    """Whether any finding has severity ``error`` (the CLI then exits with code 1).

    >>> has_errors(make_findings([{"type": "gap", "severity": "warning"}]))
    False
    """
    return bool((findings["severity"] == "error").any())


def summarize(findings: gpd.GeoDataFrame | pd.DataFrame, *, worst: int = 3) -> pd.DataFrame:
    """Counts per finding type and severity, total measure and the worst offenders of each.

    Parameters
    ----------
    findings
        A findings table (from :func:`validate_grids`).
    worst
        How many of the largest findings (by measure) to name per row.

    Returns
    -------
    DataFrame
        Columns ``type, severity, count, measure_total, unit, worst``, errors first, then in report
        order; ``measure_total`` only for areas and lengths (NaN otherwise); ``worst`` names the
        features with the largest measures (smallest shares), e.g. ``"A,B (12 m2); C,D (3.5 m2)"``,
        long id lists cut to ``"A,B,+3"``.

    Examples
    --------
    >>> f = make_findings([
    ...     {"type": "overlap", "severity": "error", "feature_id": "A,B", "measure": 12.0},
    ...     {"type": "overlap", "severity": "error", "feature_id": "C,D", "measure": 3.5},
    ...     {"type": "low_street_share", "severity": "warning", "feature_id": "A", "measure": 0.25}])
    >>> summarize(f).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'type': 'overlap', 'severity': 'error', 'count': 2, 'measure_total': 15.5, 'unit': 'm2',
      'worst': 'A,B (12 m2); C,D (3.5 m2)'},
     {'type': 'low_street_share', 'severity': 'warning', 'count': 1, 'measure_total': nan, 'unit': 'share',
      'worst': 'A (0.25 share)'}]
    >>> len(summarize(make_findings([])))
    0
    """
    cols = ["type", "severity", "count", "measure_total", "unit", "worst"]
    if len(findings) == 0:
        return pd.DataFrame(columns=cols)
    order = {t: i for i, t in enumerate(FINDING_TYPES)}
    sev_order = {"error": 0, "warning": 1, "info": 2}
    rows = []
    for (t, sev), grp in findings.groupby(["type", "severity"], sort=False, dropna=False):
        unit = FINDING_TYPES.get(t, ("", "", ""))[1]
        measured = grp.dropna(subset=["measure"])
        # shares are worst when smallest; everything else when largest
        top = measured.sort_values("measure", ascending=(unit == "share")).head(worst)
        named = "; ".join(f"{_short(fid)} ({m:.4g} {unit})".replace(" )", ")") for fid, m in zip(top["feature_id"], top["measure"]))
        if not named:
            named = "; ".join(str(f) for f in grp["feature_id"].dropna().head(worst))
        # totals only where they mean something (areas, lengths); not for shares or households
        total = float(measured["measure"].sum()) if unit in ("m2", "m") else np.nan
        rows.append({"type": t, "severity": sev, "count": len(grp), "measure_total": total, "unit": unit, "worst": named})
    out = pd.DataFrame(rows, columns=cols)
    out["_o"] = [(sev_order.get(s, 9), order.get(t, 99)) for t, s in zip(out["type"], out["severity"])]
    return out.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def worst_offenders(findings: gpd.GeoDataFrame | pd.DataFrame, *, n: int = 10, layer: str = "grids") -> pd.DataFrame:
    """The features of ``layer`` with the most error findings (then warnings).

    Returns a DataFrame with ``feature_id, community_code, errors, warnings, types``.

    >>> f = make_findings([
    ...     {"type": "overlap", "severity": "error", "layer": "grids", "feature_id": "A,B", "measure": 12.0},
    ...     {"type": "multipart_grid", "severity": "error", "layer": "grids", "feature_id": "A", "measure": 2}])
    >>> worst_offenders(f).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'feature_id': 'A', 'community_code': None, 'errors': 2, 'warnings': 0, 'types': 'multipart_grid,overlap'},
     {'feature_id': 'B', 'community_code': None, 'errors': 1, 'warnings': 0, 'types': 'overlap'}]
    """
    cols = ["feature_id", "community_code", "errors", "warnings", "types"]
    sub = findings[(findings["layer"] == layer) & findings["feature_id"].notna()]
    rows: dict[str, dict] = {}
    for fid, comm, sev, t in zip(sub["feature_id"], sub["community_code"], sub["severity"], sub["type"]):
        for one in str(fid).split(","):
            r = rows.setdefault(one, {"feature_id": one, "community_code": comm, "errors": 0, "warnings": 0, "types": set()})
            r["errors"] += sev == "error"
            r["warnings"] += sev == "warning"
            r["types"].add(t)
    out = pd.DataFrame([{**r, "types": ",".join(sorted(r["types"]))} for r in rows.values()], columns=cols)
    if len(out) == 0:
        return out
    out = out.sort_values(["errors", "warnings", "feature_id"], ascending=[False, False, True])
    return out.head(n).reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# writing


_FINDING_FORMATS = (".gpkg", ".geojson", ".json")


def _check_target(path: str | os.PathLike, *, force: bool, func: str, formats: Iterable[str]) -> Path:
    path = Path(path)
    if path.suffix.lower() not in formats:
        msg = f"{func}: cannot write {str(path)!r}; give a path ending in one of {list(formats)}"
        raise InputError(msg)
    if path.exists() and not force:
        msg = f"{func}: {str(path)!r} exists; pass force=True (--force) to overwrite it"
        raise PlanExistsError(msg)
    if not path.parent.exists():
        msg = f"{func}: folder {str(path.parent)!r} does not exist; create it first"
        raise InputError(msg)
    return path


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # GDAL drivers refuse to write into an existing empty file
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_GPKG_LAYERS = {"findings": ("Polygon", "MultiPolygon"), "findings_lines": ("LineString", "MultiLineString"),
                "findings_points": ("Point", "MultiPoint")}


def write_findings(findings: gpd.GeoDataFrame, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write findings for QGIS or other tools: ``.gpkg``, ``.geojson`` or ``.json``; atomically.

    A GeoPackage holds layer ``findings`` (polygons, and findings without a place) plus
    ``findings_lines`` and ``findings_points`` when there are such findings, one geometry type per
    layer so every GIS opens them; :func:`read_findings` reads them back as one table. GeoJSON holds
    all in one file; ``.json`` is plain attributes with the geometry as WKT and the CRS.

    Raises
    ------
    PlanExistsError
        When ``path`` exists and ``force`` is false.
    InputError
        For an unknown extension or a missing folder.
    """
    func = "write_findings"
    path = _check_target(path, force=force, func=func, formats=_FINDING_FORMATS)
    ext = path.suffix.lower()
    table = findings[[*FINDING_COLUMNS, findings.geometry.name]].copy()
    if ext == ".json":
        def write(tmp: str) -> None:
            geoms = table.geometry.to_numpy()
            recs = []
            for row, g in zip(table[FINDING_COLUMNS].itertuples(index=False), geoms):
                d = {k: (None if (isinstance(v, float) and np.isnan(v)) else v) for k, v in zip(FINDING_COLUMNS, row)}
                d["wkt"] = None if (g is None or shapely.is_empty(g)) else shapely.to_wkt(g, rounding_precision=-1)
                recs.append(d)
            crs = table.crs.to_string() if table.crs is not None else None
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump({"crs": crs, "count": len(recs), "findings": recs}, fh, ensure_ascii=False, indent=1)
        _atomic(path, write)
    elif ext == ".geojson":
        def write(tmp: str) -> None:
            out = table.to_crs(4326) if (table.crs is not None and not CRS.from_user_input(table.crs).equals(CRS.from_epsg(4326))) else table
            out.to_file(tmp, driver="GeoJSON", engine="pyogrio")
        _atomic(path, write)
    else:
        def write(tmp: str) -> None:
            gtype = table.geometry.geom_type.fillna("")
            written = False
            for name, types in _GPKG_LAYERS.items():
                mask = gtype.isin(types)
                if name == "findings":
                    mask |= gtype == ""
                    mask |= table.geometry.is_empty.fillna(True)
                part = table[mask].copy()
                if name != "findings" and len(part) == 0:
                    continue
                part.loc[part.geometry.is_empty.fillna(False), part.geometry.name] = None
                part.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", promote_to_multi=True,
                             geometry_type="Multi" + types[0] if len(part) else "MultiPolygon",
                             **({"append": True} if written else {}))
                written = True
        _atomic(path, write)
    return path


def read_findings(path: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read findings written by :func:`write_findings` back into one table."""
    path = Path(path)
    ext = path.suffix.lower()
    if not path.exists():
        msg = f"read_findings: {str(path)!r} does not exist"
        raise InputError(msg)
    if ext == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        recs = [{**{k: r.get(k) for k in FINDING_COLUMNS}, "geometry": shapely.from_wkt(r["wkt"]) if r.get("wkt") else None}
                for r in data["findings"]]
        return make_findings(recs, crs=data.get("crs"))
    if ext == ".gpkg":
        import pyogrio

        names = [n for n, _ in pyogrio.list_layers(path) if n in _GPKG_LAYERS]
        frames = [gpd.read_file(path, layer=n, engine="pyogrio") for n in names]
        out = pd.concat(frames, ignore_index=True) if frames else gpd.GeoDataFrame(columns=[*FINDING_COLUMNS, "geometry"])
        return make_findings(out.to_dict("records"), crs=frames[0].crs if frames else None)
    gdf = gpd.read_file(path, engine="pyogrio")
    return make_findings(gdf.to_dict("records"), crs=gdf.crs)


class _CallableModule(type(os)):
    """This module, callable: ``gridgeo.validate(grids, ...)`` is :func:`gridgeo.api.validate`, while
    ``gridgeo.validate.validate_grids`` and ``import gridgeo.validate`` keep working."""

    def __call__(self, grids: Any, **kwargs: Any) -> gpd.GeoDataFrame:
        from .api import validate

        return validate(grids, **kwargs)


import sys as _sys  # noqa: E402 - the module's class is set once everything in it is defined

_sys.modules[__name__].__class__ = _CallableModule
