"""Geometry for maps and signs: neighbour colouring, bounding roads, display simplification, web datums."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from ..crs import convert_geometries, metric_crs

__all__ = ["PALETTE", "adjacency", "check_drawable", "colour_grids", "roads_by_zone", "display_layer", "plan_streets"]

#: fill colours of base grids (ColorBrewer Set3/Pastel1, light enough for labels and streets on top)
PALETTE = ("#8dd3c7", "#ffffb3", "#bebada", "#fb8072", "#80b1d3", "#fdb462", "#b3de69", "#fccde5", "#d9d9d9", "#bc80bd")

#: grids sharing less boundary than this (metres) are not neighbours (they meet at a point) ...
SHARED_EDGE_MIN_M = 0.5
#: ... counting boundary within this distance as shared (a T-junction without a vertex, reprojection)
SHARED_EDGE_TOLERANCE_M = 0.05


def adjacency(zones: gpd.GeoDataFrame, key: str) -> nx.Graph:
    """Graph of zones that share an edge (not only a point), nodes named by ``key``, computed in metres."""
    metric = zones.to_crs(metric_crs(zones)) if zones.crs is not None and zones.crs.is_geographic else zones
    geoms = np.asarray(metric.geometry.array, dtype=object)
    codes = zones[key].astype(str).to_numpy()
    graph = nx.Graph()
    graph.add_nodes_from(sorted(codes))
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if len(left):
        near = shapely.buffer(shapely.boundary(geoms[right]), SHARED_EDGE_TOLERANCE_M)
        shared = shapely.length(shapely.intersection(shapely.boundary(geoms[left]), near))
        for i, j in zip(left[shared > SHARED_EDGE_MIN_M], right[shared > SHARED_EDGE_MIN_M]):
            graph.add_edge(codes[i], codes[j])
    return graph


def colour_grids(grids: gpd.GeoDataFrame, *, key: str = "grid_code") -> pd.Series:
    """A colour index per grid such that grids sharing an edge differ (greedy DSATUR colouring).

    Deterministic whatever the row order: the graph's nodes are inserted in code order. DSATUR colours
    the grid with most neighbours first (here "b": colour 0).

    >>> from shapely import box
    >>> g = gpd.GeoDataFrame({"grid_code": ["c", "a", "b"]}, geometry=[box(2, 0, 3, 1), box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4547)
    >>> colour_grids(g).tolist()
    [1, 1, 0]
    """
    graph = adjacency(grids, key)
    ordered = nx.Graph()
    ordered.add_nodes_from(sorted(graph.nodes))
    ordered.add_edges_from(sorted(tuple(sorted(e)) for e in graph.edges))
    colours = nx.greedy_color(ordered, strategy="DSATUR") if len(ordered) else {}
    return grids[key].astype(str).map(colours).astype(int).rename("colour")


def palette_colour(index: int) -> str:
    """The fill of colour ``index``: the palette, then evenly spaced hues beyond it (never reused)."""
    if index < len(PALETTE):
        return PALETTE[index]
    import colorsys

    r, g, b = colorsys.hls_to_rgb((index * 0.618034) % 1.0, 0.78, 0.55)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def check_drawable(plan: Any) -> None:
    """An :class:`~gridgeo.InputError` when a grid or small grid of ``plan`` has an invalid geometry (a bow-tie drawn
    by hand in a GIS): a map or sign would draw it wrong, or fail on it in GEOS, whichever grid it is about.

    >>> from types import SimpleNamespace
    >>> bow = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    >>> check_drawable(SimpleNamespace(layers={"grids": gpd.GeoDataFrame({"grid_code": ["a"]}, geometry=[bow])}))
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: grids: 1 grid has an invalid geometry (a: Self-intersection[0.5 0.5]); a map or sign would draw it wrong: fix it in the GIS (QGIS: Vector > Geometry Tools > Fix Geometries) and check the plan with `gridgeo validate`
    """
    from .._errors import InputError
    from .._text import counted

    for layer, key, what in (("grids", "grid_code", "grid"), ("subgrids", "subgrid_code", "small grid")):
        gdf = plan.layers.get(layer)
        if gdf is None or not len(gdf):
            continue
        geoms = gdf.geometry.to_numpy()
        bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
        if len(bad):
            named = "; ".join(f"{gdf[key].iloc[i]}: {shapely.is_valid_reason(geoms[i])}" for i in bad[:3])
            more = f"; +{len(bad) - 3} more" if len(bad) > 3 else ""
            msg = (f"{layer}: {counted(len(bad), what)} {'has an invalid geometry' if len(bad) == 1 else 'have invalid geometries'} "
                   f"({named}{more}); a map or sign would draw {'it' if len(bad) == 1 else 'them'} wrong: fix "
                   f"{'it' if len(bad) == 1 else 'them'} in the GIS (QGIS: Vector > Geometry Tools > Fix Geometries) "
                   "and check the plan with `gridgeo validate`")
            raise InputError(msg)


def plan_streets(plan: Any, streets: Any = None) -> gpd.GeoDataFrame | None:
    """The streets to draw: those given (a GeoDataFrame, a path or ``(path, layer)``), else the plan's layer."""
    from ..io import canonical_columns, read_layer

    if streets is None:
        return plan.layers.get("streets")
    if isinstance(streets, gpd.GeoDataFrame):
        return canonical_columns(streets, "streets")  # 道路名称 as name, as partition reads it
    path, layer = streets if isinstance(streets, tuple) else (streets, None)
    return canonical_columns(read_layer(path, layer=layer, name="streets"), "streets")


def roads_by_zone(zones: gpd.GeoDataFrame, key: str, streets: gpd.GeoDataFrame | None, *, within_m: float = 8.0,
                  min_length_m: float = 50.0) -> dict[str, list[str]]:
    """Names of the streets running along each zone's boundary (四至道路), longest shared length first.

    A street counts for a zone when at least ``min_length_m`` of it lies within ``within_m`` of the
    zone's boundary (a street only crossing the boundary has about ``2 × within_m`` there per crossing); computed in the zones' metric CRS, all zones in one vectorised pass.

    >>> from shapely import box, LineString
    >>> z = gpd.GeoDataFrame({"grid_code": ["a"]}, geometry=[box(0, 0, 100, 100)], crs=4547)
    >>> s = gpd.GeoDataFrame({"name": ["北路", "远路", None]}, geometry=[LineString([(-10, 101), (110, 101)]),
    ...     LineString([(0, 500), (100, 500)]), LineString([(0, -1), (100, -1)])], crs=4547)
    >>> roads_by_zone(z, "grid_code", s)
    {'a': ['北路']}
    """
    codes = zones[key].astype(str).tolist()
    out: dict[str, list[str]] = {c: [] for c in codes}
    if streets is None or not len(streets) or "name" not in streets.columns or zones.empty:
        return out
    crs = metric_crs(zones) if zones.crs is not None and zones.crs.is_geographic else zones.crs
    z = np.asarray(zones.to_crs(crs).geometry.array, dtype=object)
    s = streets.to_crs(crs)
    named = s[s["name"].notna() & (s["name"].astype(str).str.strip() != "")]
    if named.empty:
        return out
    rings = shapely.buffer(shapely.boundary(z), within_m)
    lines = np.asarray(named.geometry.array, dtype=object)
    zi, si = shapely.STRtree(lines).query(rings, predicate="intersects")
    if not len(zi):
        return out
    lengths = shapely.length(shapely.intersection(lines[si], rings[zi]))
    frame = pd.DataFrame({"zone": np.asarray(codes)[zi], "name": named["name"].astype(str).to_numpy()[si], "m": lengths})
    per = frame.groupby(["zone", "name"], sort=True)["m"].sum().reset_index()
    per = per[per["m"] >= min_length_m].assign(m=lambda d: -d["m"].round(3)).sort_values(["zone", "m", "name"])
    for zone, rows in per.groupby("zone", sort=False):
        out[zone] = rows["name"].tolist()
    return out


def display_layer(gdf: gpd.GeoDataFrame, *, simplify_m: float, coverage: bool, datum: str = "wgs84",
                  digits: int = 6) -> gpd.GeoDataFrame:
    """A layer ready for a web map: simplified in metres (a coverage stays a coverage), in WGS-84 (or
    GCJ-02 for AMap tiles), coordinates rounded to ``digits`` decimals (6: about 0.1 m).

    ``coverage=True`` uses :func:`shapely.coverage_simplify`, which moves shared edges once for both
    neighbours, so neighbours still meet; other layers use :func:`shapely.simplify`.
    """
    if gdf is None or gdf.empty:
        return gdf
    out = gdf.copy()
    if simplify_m > 0:
        crs = metric_crs(out)
        metric = out.geometry.to_crs(crs)
        geoms = np.asarray(metric.array, dtype=object)
        if coverage:
            simplified = shapely.coverage_simplify(geoms, simplify_m)
        else:
            simplified = shapely.simplify(geoms, simplify_m, preserve_topology=True)
        out = out.set_geometry(gpd.GeoSeries(simplified, index=out.index, crs=crs).to_crs(4326))
    else:
        out = out.to_crs(4326)
    if datum != "wgs84":
        out = out.set_geometry(convert_geometries(out.geometry, src="wgs84", dst=datum))
    scale = 10.0**digits
    rounded = shapely.transform(np.asarray(out.geometry.array, dtype=object), lambda xy: np.round(xy * scale) / scale)
    out = out.set_geometry(gpd.GeoSeries(rounded, index=out.index, crs=4326))
    return out


def village_codes(communities: gpd.GeoDataFrame) -> set[str]:
    """Codes of the villages (村: communities of kind ``rural``), whose maps and signs say 村, not 社区.

    >>> c = gpd.GeoDataFrame({"code": ["420116101201", "420103001001"], "kind": ["rural", "urban"]}, geometry=[None, None])
    >>> village_codes(c), village_codes(c.drop(columns="kind"))
    ({'420116101201'}, set())
    """
    if "kind" not in communities.columns:
        return set()
    return set(communities.loc[communities["kind"].astype(str) == "rural", "code"].astype(str))


def community_names(communities: gpd.GeoDataFrame) -> dict[str, str]:
    """Community code → its name as maps, signs and the staffing table show it; "" for a community without one
    (no name column, or a null or blank name), which each shows by its code: such a name was "nan" on signs
    ("nan · 网格 …", "nan居民委员会") and a TypeError on the map.

    >>> c = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"], "name": ["东湖社区", None]}, geometry=[None, None])
    >>> community_names(c)
    {'420103001001': '东湖社区', '420103001002': ''}
    """
    names = communities["name"] if "name" in communities.columns else pd.Series(None, index=communities.index, dtype=object)
    return {str(code): "" if name is None or (not isinstance(name, str) and pd.isna(name)) else str(name).strip()
            for code, name in zip(communities["code"], names, strict=True)}
