"""Shared preparation of the layers a validation checks: the finding types, geometry helpers, polygon
layers and communities in the metric CRS, one finding record, and the findings frame."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely import Point, Polygon

from .._errors import InputError
from .._findings import make_findings
from .._geometry import make_valid, polygonal
from ..crs import is_metric, metric_crs
from ..plan import STRAIGHT_SEGMENT_M

#: every finding type: (default severity, unit of ``measure``, short meaning); order = report order
FINDING_TYPES: dict[str, tuple[str, str, str]] = {
    "layer_shift_suspected": ("warning", "m", "grid layer shifted against the communities (GCJ-02/BD-09 offset?)"),
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
    "community_shifted": ("error", "m2", "community drawn on a web map's shifted datum (GCJ-02/BD-09), over its neighbours"),
    "crosses_communities": ("error", "m2", "grid area inside another community"),
    "near_coincident_edges": ("error", "m", "edges almost but not exactly matching a neighbour"),
    "building_unassigned": ("error", "m2", "building in no grid"),
    "building_outside_communities": ("warning", "m2", "building outside every community, so in no grid"),
    "building_in_two_grids": ("error", "m2", "building in two grids"),
    "building_cut": ("error", "m2", "building split by a grid boundary"),
    "building_across_communities": ("warning", "m2", "building split by a community boundary"),
    "building_code_mismatch": ("error", "", "building carrying the code of a grid (small grid) it does not lie in, or none"),
    "households_out_of_bounds": ("warning", "households", "households outside the bounds"),
    "subgrid_not_nested": ("error", "m2", "small grid not inside exactly one grid"),
    "subgrid_wrong_parent": ("error", "", "small grid's grid_code is not the grid it lies in"),
    "low_street_share": ("warning", "share", "grid boundary mostly off streets"),
    "check_skipped": ("info", "", "check not run"),
    "grid_encloses_grid": ("warning", "holes", "grid wrapped around land of other grids (a hole its container does not have)"),
}


#: the coverage findings that :func:`repair_grids` removes
COVERAGE_TYPES = frozenset({"overlap", "gap", "outside_community", "crosses_communities", "near_coincident_edges"})


_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


_REASON_XY = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)")


def _fix(geoms: np.ndarray) -> np.ndarray:
    """Valid polygonal geometries: invalid ones made valid (structure method), other types emptied."""
    geoms = np.asarray(geoms, dtype=object).copy()
    bad = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if bad.any():
        fixed = polygonal(make_valid(geoms[bad]), normalise=False)
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
    return polygonal(geoms, normalise=False)


def _significant_parts(
    pieces: np.ndarray, tolerance_m2: float, tolerance_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split pieces into polygons and keep those above the noise tolerances.

    Returns ``(parts, index)``: the kept polygons and the position of the piece each came from.
    """
    pieces = polygonal(pieces, normalise=False)
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


def _choose_metric(grids: gpd.GeoDataFrame) -> CRS:
    return grids.crs if is_metric(grids.crs) else metric_crs(grids)


#: longest segment (metres) kept straight when reprojecting: a segment straight in the stored CRS
#: (e.g. degrees) bends in the metric one; at 50 m the bend is well under 0.1 mm
_DENSIFY_M = STRAIGHT_SEGMENT_M


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
    lay = _Layer(layer, geoms, usable, ids, codes)
    if check_multipart:
        multipart_check(lay, records, tolerance_m2)
    return lay


def multipart_check(lay: _Layer, records: list, tolerance_m2: float, containers: np.ndarray | None = None,
                    container_names: np.ndarray | None = None, communities: np.ndarray | None = None) -> None:
    """``multipart_grid`` for every feature of ``lay`` in separate parts (pieces under ``tolerance_m2`` aside).

    ``containers`` (by row, None where unknown) are the polygons each feature should tile part of: its
    community for a grid, its grid for a small grid. A feature whose parts each lie in a different part of
    its container (a grid of a community in separate parts, joined by a part too small for a grid of its
    own, as the partition makes it) is ``info``, not an error: the quality figures count it apart
    ("multi-part grids (excused)"), by the same function (:func:`gridgeo.partition.metrics._parts_count`).
    ``communities`` (by row) are the features' community codes, recorded with each finding.
    """
    from ..partition.metrics import _parts_count

    layer, ids, n = lay.name, lay.ids, len(lay.geoms)
    parts, pidx = shapely.get_parts(np.where(lay.usable, lay.geoms, Polygon()), return_index=True)
    if not len(parts):
        return
    big = shapely.area(parts) >= tolerance_m2
    parts, pidx = parts[big], pidx[big]
    counts = np.bincount(pidx, minlength=n)
    flagged = np.flatnonzero(counts > 1)
    excused = np.zeros(len(flagged), dtype=bool)
    if containers is not None and len(flagged):
        # the feature as its parts over the tolerance, against its container: parts in distinct container parts
        order = np.argsort(pidx, kind="stable")
        keep = np.isin(pidx[order], flagged)
        mine = shapely.multipolygons(parts[order][keep], indices=np.searchsorted(flagged, pidx[order][keep]))
        # one entry per distinct container: features sharing one (grids of one community) are each judged
        # against it, not against the first copy a point-in-part look-up would find
        cont_of, cont = _distinct_containers(containers[flagged])
        nparts, distinct = _parts_count(mine, cont_of, cont)
        excused = (nparts > 1) & (distinct == nparts)
    for k, i in enumerate(flagged):
        mine_i = parts[pidx == i]
        rest = np.delete(mine_i, int(np.argmax(shapely.area(mine_i))))
        name = container_names[i] if container_names is not None and container_names[i] is not None else "its container"
        message = f"{layer} feature {ids[i]} has {counts[i]} separate parts; the geometry shows all but the largest"
        if excused[k]:
            message += f"; excused: each part lies in a separate part of {name}"
        community = communities[i] if communities is not None else None
        records.append(_rec("multipart_grid", layer, ids[i], community, measure=int(counts[i]),
                            geometry=shapely.multipolygons(rest), severity="info" if excused[k] else None,
                            message=message))


def _distinct_containers(containers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position of each row's container among the distinct ones, the distinct containers; empty for None).

    >>> from shapely import box
    >>> a = box(0, 0, 1, 1)
    >>> pos, distinct = _distinct_containers(np.array([a, None, a, box(0, 0, 1, 1)], dtype=object))
    >>> pos.tolist(), len(distinct)
    ([0, 1, 0, 0], 2)
    """
    geoms = [c if c is not None and not shapely.is_missing(c) else Polygon() for c in containers]
    keys = [shapely.to_wkb(shapely.normalize(c)) for c in geoms]
    first: dict[bytes, int] = {}
    pos = np.array([first.setdefault(k, i) for i, k in enumerate(keys)], dtype=np.int64)
    rows, pos = np.unique(pos, return_inverse=True)
    return pos.astype(np.int64), np.array([geoms[i] for i in rows] + [None], dtype=object)[:-1]


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
        shown = [c for c in communities.columns if c != communities.geometry.name]
        msg = (f"communities: the communities layer has no 'code' column (nor {community_column!r}); columns there: "
               f"{shown}; map the one holding the 12-digit community codes with --columns communities.code=COLUMN")
        raise InputError(msg)
    layer = _prepare_polygons(communities, crs, layer="communities", code_column=col, records=records,
                              tolerance_m2=tolerance_m2, check_multipart=False)
    codes = layer.codes
    from ..io import KIND_ALIASES  # 村 / 社区 / 乡镇驻地 as partition reads them

    kinds = (np.array([KIND_ALIASES.get(k.strip().lower(), k.strip().lower()) if isinstance(k, str) else "urban"
                       for k in communities["kind"]], dtype=object)
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


def _inside_area(geoms: np.ndarray, containers: np.ndarray) -> np.ndarray:
    """Area of each geometry inside its container (pairwise); no overlay where it lies wholly inside."""
    shapely.prepare(containers)
    inside = shapely.contains_properly(containers, geoms)
    area = shapely.area(geoms)
    if (~inside).any():
        area[~inside] = shapely.area(shapely.intersection(geoms[~inside], containers[~inside]))
    return area


def _finish(records: list[dict], metric: CRS, out_crs: Any) -> gpd.GeoDataFrame:
    order = {t: i for i, t in enumerate(FINDING_TYPES)}
    records = sorted(records, key=lambda r: (order[r["type"]], r["layer"] or "", r["community_code"] or "",
                                             r["feature_id"] or "", -(r["measure"] or 0)))
    findings = make_findings(records, crs=metric)
    if out_crs is not None and CRS.from_user_input(out_crs) != metric:
        findings = findings.to_crs(out_crs)
    return findings


def enclosure_check(layer: _Layer, records: list, *, containers: np.ndarray, level: str, codes: np.ndarray,
                    kinds: np.ndarray | None = None) -> None:
    """A grid (or small grid) wrapped around land of other grids: a hole its container (community, or grid) does not
    have, counted by :func:`~gridgeo.partition.enclosures.foreign_holes` as the quality table and the partition's
    findings count it (``grid_encloses_grid``, a warning). The message names what the holes hold: with the grids'
    ``kinds``, a dedicated grid (专属网格) is named as a site carved out inside the community's blocks (no street
    may reach it, so the grid round it is expected), any other grid as a grid."""
    from ..partition.enclosures import foreign_holes

    geoms = layer.geoms
    has = np.zeros(len(geoms), dtype=bool)
    ok = np.flatnonzero(layer.usable)
    if len(ok):
        parts, idx = shapely.get_parts(geoms[ok], return_index=True)
        rings = np.bincount(idx, weights=shapely.get_num_interior_rings(parts), minlength=len(ok))
        has[ok[rings > 0]] = True
    word = "small grid" if level == "subgrids" else "grid"
    for i in np.flatnonzero(has):
        container = containers[i]
        if container is None:
            continue
        holes = foreign_holes(geoms[i], container)
        if holes:
            records.append(_rec("grid_encloses_grid", level, layer.ids[i], codes[i], measure=len(holes),
                                geometry=shapely.point_on_surface(holes[0]),
                                message=f"{word} {layer.ids[i]} is wrapped around {len(holes)} "
                                        f"{'hole' if len(holes) == 1 else 'holes'} held by other grids"
                                        + _held(layer, i, holes, kinds, word)))


def _held(layer: _Layer, i: int, holes: list, kinds: np.ndarray | None, word: str) -> str:
    """What the ``holes`` of feature ``i`` hold, for its ``grid_encloses_grid`` message: the dedicated grids
    (专属网格) first, then the other features (at most three named of each)."""
    ok = np.flatnonzero(layer.usable)
    ok = ok[ok != i]
    if not len(ok):
        return ""
    inner = shapely.point_on_surface(layer.geoms[ok])
    inside = ok[np.any([shapely.within(inner, h) for h in holes], axis=0)]
    if not len(inside):
        return ""

    def named(rows: np.ndarray) -> str:
        ids = [str(layer.ids[r]) for r in rows]
        return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")

    dedicated = np.array([kinds is not None and str(kinds[r]) == "dedicated" for r in inside], dtype=bool)
    said = []
    if dedicated.any():
        n = int(dedicated.sum())
        said.append(f"dedicated grid{'s' if n > 1 else ''} {named(inside[dedicated])} (专属网格), "
                    f"{'sites' if n > 1 else 'a site'} carved out inside the community's blocks (expected where no "
                    "street or lane reaches the site; redraw by hand if one does)")
    if (~dedicated).any():
        n = int((~dedicated).sum())
        said.append(f"{word}{'s' if n > 1 else ''} {named(inside[~dedicated])}")
    return (": it holds " if len(holes) == 1 else ": they hold ") + "; and ".join(said)
