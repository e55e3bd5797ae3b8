#!/usr/bin/env python
"""Build the Lujiazui scenario: REAL, messy OpenStreetMap buildings and streets of Shanghai Lujiazui
and the Bund, SYNTHETIC communities, households left for gridgeo to ESTIMATE.

What is real and what is not:

- **real**: every feature of the ``buildings`` layer of ``../shared/data/shanghai_lujiazui_osm.gpkg``
  (OpenStreetMap contributors, ODbL, as served in vector tiles), kept as it is: features repeated in
  neighbouring tiles and clipped at tile edges, ``building_part`` pieces on top of their building,
  address and entrance points mixed in, towers without heights. Nothing is cleaned, merged or dropped;
  the geometry stored is the source's (EPSG:4326 read as CGCS2000, EPSG:4490: the two differ by well
  under a metre). The streets are the ``roads`` of kind major_road, minor_road and path (rail and ferry
  left out), ``highway`` = the OSM class. The river banks (黄浦江, 苏州河) come from the ``water`` layer.
- **estimated**: households. The layer has no households column: gridgeo estimates them (footprint ×
  floors ÷ 90 m², 0 for a non-residential ``use``). ``floors`` = round(height ÷ 3 m) where OSM gives a
  height above 0, else a seeded draw (6–30 for apartments/residential, 1–6 for anything else).
- **synthetic**: the communities (社区): faces of the major roads and the river banks inside the data
  extent, grouped into communities of 2,000–8,000 estimated households that never cross the 黄浦江 (or
  the 苏州河), with made-up 12-digit codes under 310115 (浦东新区) east of the 黄浦江 and 310101 (黄浦区)
  west of it (the land north of the 苏州河 is really 虹口区 310109; it is coded under 310101 here), and
  made-up names. River water is left out of the communities.
- **the use of untagged buildings** (``--residential``): OSM says what 191 of the 1,981 features are
  (``kind_detail``); those tagged apartments/residential/house hold only about 23,000 m² of footprint,
  about 5,600 estimated households — too few for a test of 300–500-household grids. gridgeo counts a
  building with no ``use`` as residential, so leaving the rest untagged (``--residential real``) makes
  every office tower of Lujiazui residential (about 170,000 households, 上海中心大厦 alone 11,000).
  The default, ``--residential seeded``, says what the untagged buildings are: a residential name
  (公寓, 小区, 新村, …) or the OSM landuse polygon they stand in (residential, commercial, school, …)
  where there is one; other named buildings, towers of 100 m or more and footprints of 3,000 m² or more
  are taken as commercial/office; the rest are drawn residential with a seeded probability (0.55 west
  of the river, 0.35 east of it), else commercial. ``use_source`` says which rule gave each ``use``
  (osm, osm-mapped, name, landuse, host, assumed, seeded, none).

OSM classes that gridgeo's list of non-residential uses does not know (bank, restaurant, attraction,
museum, embassy, …) are mapped to one it knows (commercial, retail, public, …; ``use_source`` =
osm-mapped) so that they estimate 0 households; ``kind_detail`` keeps the OSM value.

The result is one GeoPackage, ``<out>/lujiazui_scenario.gpkg`` (``lujiazui_scenario_real.gpkg`` with
``--residential real``), with layers ``communities``, ``streets``, ``buildings`` and ``units`` (enterprises and institutions from the POIs and office towers, SEEDED staff: see ``_units``) in EPSG:4490 and a
table ``scenario_metadata`` (seed, counts, sources, the note). The same seed gives the same content
(:func:`content_hash`). A file built with the same seed, option and builder version is reused unless
``--force`` is given. Metric CRS: EPSG:4550 (CGCS2000 3° Gauss-Krüger, CM 123°E): the area straddles
121.5°E, the edge of the 120°E and 123°E zones, and its centre (121.5006°E) falls in the 123°E zone, the
zone ``gridgeo.crs.metric_crs`` picks for these layers.

Usage::

    .venv/bin/python scripts/build_lujiazui_scenario.py [--out out/lujiazui_scenario] [--seed 310115] [--residential seeded|real] [--force]

From Python (tests, benchmarks)::

    scenario = build("out/lujiazui_scenario")     # layers in the metric CRS (EPSG:4550)
    scenario.communities, scenario.streets, scenario.buildings, scenario.summary

Exit status 2, with a message, when ``../shared/data`` is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the file format and helpers the scenario builders share (one implementation)
from build_wuhan_scenario import Scenario, _read_summary, _write  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_wuhan_scenario as _wuhan  # noqa: E402 - shared helpers: adjacency, tree split, merge

__all__ = ["Scenario", "ScenarioUnavailable", "build", "load", "content_hash", "missing_reason", "SHARED_DATA",
           "DEFAULT_SEED", "RESIDENTIAL_MODES"]

BUILDER_VERSION = "3"  # 3: a units layer (enterprises and institutions, from the POIs and office towers)
DEFAULT_SEED = 310115
DEFAULT_OUT = Path("out") / "lujiazui_scenario"
FILE_NAMES = {"seeded": "lujiazui_scenario.gpkg", "real": "lujiazui_scenario_real.gpkg"}
RESIDENTIAL_MODES = tuple(FILE_NAMES)
METADATA_TABLE = "scenario_metadata"
STORAGE_EPSG = 4490
SOURCE_EPSG = 4326
METRIC_EPSG = 4550  # CGCS2000 3° Gauss-Krüger CM 123°E: what gridgeo.crs.metric_crs picks here (see above)
PUDONG, HUANGPU = "310115", "310101"

SHARED_DATA = Path(os.environ.get("GRIDGEO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SOURCE_FILE = "shanghai_lujiazui_osm.gpkg"

RIVERS = ("黄浦江", "苏州河")  # water polygons that split the land; other water stays inside communities
PUDONG_LONLAT = (121.5055, 31.2335)  # 上海中心大厦: the land holding it is east of the 黄浦江
STREET_KINDS = ("major_road", "minor_road", "path")
COMMUNITY_MIN, COMMUNITY_MAX, COMMUNITY_TARGET = _wuhan.COMMUNITY_MIN, _wuhan.COMMUNITY_MAX, _wuhan.COMMUNITY_TARGET
METRES_PER_FLOOR = 3.0
RESIDENTIAL_OSM = ("apartments", "residential")  # tall residential floors; "house" is residential, low
#: OSM classes gridgeo's NON_RESIDENTIAL_USES lacks, mapped to a term it has (0 estimated households)
OSM_USE_MAP = {
    "bank": "commercial", "company": "office", "computer": "retail", "jewelry": "retail", "shop": "retail",
    "mall": "retail", "restaurant": "retail", "cafe": "retail", "fast_food": "retail", "bar": "retail",
    "pub": "retail", "ice_cream": "retail", "hostel": "hotel", "attraction": "public", "museum": "public",
    "arts_centre": "public", "cinema": "public", "place_of_worship": "public", "post_office": "public",
    "embassy": "government", "tower": "service", "communications_tower": "service", "gate": "service",
    "shed": "service", "main": "service", "construction": "service",
}
RESIDENTIAL_USES = ("apartments", "residential", "house")
#: OSM landuse kinds that say what an untagged building standing in them is
LANDUSE_USE = {"residential": "residential", "commercial": "commercial", "retail": "retail", "school": "school",
               "hospital": "hospital"}
RESIDENTIAL_NAME = re.compile(r"公寓|小区|新村|花园|公馆|住宅|宿舍|[苑坊里邨]$|apartment|residen", re.IGNORECASE)
TOWER_M = 100.0  # untagged buildings this tall are taken as offices
LARGE_FOOTPRINT_M2 = 3_000.0  # untagged footprints this large are taken as commercial
P_RESIDENTIAL = {HUANGPU: 0.55, PUDONG: 0.35}  # seeded share of the remaining untagged buildings

NOTE = {
    "seeded": (
        "REAL buildings and streets (OpenStreetMap contributors, ODbL), kept as they are (duplicates, parts, "
        "points); households NOT given: gridgeo ESTIMATES them (footprint × floors ÷ 90 m²); floors from OSM "
        "height ÷ 3 m, else SEEDED; SYNTHETIC: communities, codes and names, and the use of buildings OSM does "
        "not tag (rules by name, landuse, height and footprint, then a seeded draw: see use_source)"
    ),
    "real": (
        "REAL buildings and streets (OpenStreetMap contributors, ODbL), kept as they are (duplicates, parts, "
        "points); households NOT given: gridgeo ESTIMATES them (footprint × floors ÷ 90 m²); floors from OSM "
        "height ÷ 3 m, else SEEDED; use only where OSM tags it (untagged buildings count as residential in "
        "gridgeo's estimate); SYNTHETIC: communities, codes and names"
    ),
}

PUDONG_STEMS = ["陆家嘴", "梅园", "崂山", "东昌", "滨江", "福山", "源深", "世纪", "银城", "花园石桥", "浦明", "东园",
                "南泉", "乳山", "松山", "竹园", "浦城", "昌邑"]
PUXI_STEMS = ["外滩", "南京东路", "豫园", "金陵", "福州", "中山东", "宁波", "广东", "四川", "北京东", "老城厢", "小东门",
              "北外滩", "乍浦", "九江", "汉口", "天潼", "河南中"]
STREET_NAMES = {PUDONG: ["陆家嘴", "潍坊新村", "塘桥"], HUANGPU: ["外滩", "南京东路", "豫园", "小东门"]}


class ScenarioUnavailable(FileNotFoundError):
    """The real input (``../shared/data/shanghai_lujiazui_osm.gpkg``) is not available."""


def missing_reason() -> str | None:
    """Why the scenario cannot be built here (None when it can)."""
    if not (SHARED_DATA / SOURCE_FILE).exists():
        return f"real data not found: {SHARED_DATA / SOURCE_FILE} (../shared/data beside the checkout; set GRIDGEO_SHARED_DATA)"
    return None


# ------------------------------------------------------------------------------------------- sources


def _read(layer: str) -> gpd.GeoDataFrame:
    gdf = pyogrio.read_dataframe(SHARED_DATA / SOURCE_FILE, layer=layer)
    if gdf.crs is None or gdf.crs.to_epsg() != SOURCE_EPSG:  # pragma: no cover - depends on the file
        msg = f"{SOURCE_FILE} layer {layer!r} is in {gdf.crs}; expected EPSG:{SOURCE_EPSG}"
        raise ScenarioUnavailable(msg)
    return gdf


def _extent(layers: list[gpd.GeoDataFrame]) -> shapely.Geometry:
    """The data extent (the box the roads, landuse and water are clipped to) in the metric CRS."""
    bounds = np.array([g.total_bounds for g in layers])
    box = shapely.segmentize(shapely.box(*bounds[:, :2].min(0), *bounds[:, 2:].max(0)), 0.0005)
    return gpd.GeoSeries([box], crs=SOURCE_EPSG).to_crs(METRIC_EPSG).iloc[0]


def _land(water: gpd.GeoDataFrame, extent: shapely.Geometry) -> tuple[shapely.Geometry, shapely.Geometry]:
    """The land (extent minus the rivers, tile seams closed) and the river water, metric CRS."""
    rivers = water[water["name"].isin(RIVERS) & water.geom_type.isin(["Polygon", "MultiPolygon"])]
    geoms = shapely.make_valid(rivers.to_crs(METRIC_EPSG).geometry.to_numpy())
    # the river comes in tile pieces: close the seams between them (0.5 m), then back to its outline
    river = shapely.buffer(shapely.union_all(shapely.buffer(geoms, 0.5, quad_segs=2, join_style="mitre")), -0.5,
                           quad_segs=2, join_style="mitre")
    river = shapely.intersection(river, extent)
    land = shapely.difference(extent, river)
    parts = shapely.get_parts(land)
    parts = parts[shapely.area(parts) > 500.0]  # crumbs between river tiles: left out with the water
    return shapely.union_all(parts), river


def _lines(gdf: gpd.GeoDataFrame) -> np.ndarray:
    parts = shapely.get_parts(gdf.geometry.to_numpy())
    return parts[(shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0.01)]


def _faces(lines: np.ndarray, land: shapely.Geometry) -> np.ndarray:
    """Polygonize lines with the land's boundary: the faces tiling the land (north-west first)."""
    all_lines = np.concatenate([lines, shapely.get_parts(shapely.boundary(land))])
    all_lines = all_lines[shapely.get_type_id(all_lines) == 1] if len(all_lines) else all_lines
    noded = shapely.union_all(_wuhan._sorted_lines(shapely.get_parts(all_lines)))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > 0]
    on_land = shapely.area(shapely.intersection(faces, land)) > 0.5 * shapely.area(faces)
    faces = faces[on_land]
    pts = shapely.point_on_surface(faces)
    order = np.lexsort((np.round(shapely.get_x(pts)), -np.round(shapely.get_y(pts))))
    return shapely.normalize(faces[order])


# ------------------------------------------------------------------------------------------ buildings


def _building_attributes(src: gpd.GeoDataFrame, metric: gpd.GeoSeries, landuse: gpd.GeoDataFrame,
                         pudong: shapely.Geometry, mode: str, rng: np.random.Generator) -> pd.DataFrame:
    """``building_id``, ``floors``, ``use`` and ``use_source`` for every source feature, in source order."""
    n = len(src)
    detail = src["kind_detail"].astype(object).where(src["kind_detail"].notna(), None).to_numpy()
    height = pd.to_numeric(src["height"], errors="coerce").to_numpy(dtype=float)
    tall = np.isin(detail, RESIDENTIAL_OSM)
    drawn = np.where(tall, rng.integers(6, 31, n), rng.integers(1, 7, n)).astype(float)
    has_h = np.isfinite(height) & (height > 0)
    floors = np.where(has_h, np.maximum(1.0, np.round(np.where(has_h, height, 0) / METRES_PER_FLOOR)), drawn)
    floors_source = np.where(has_h, "height", "seeded")

    from gridgeo.households import NON_RESIDENTIAL_USES  # noqa: PLC0415 - the estimate's own vocabulary

    use = np.full(n, None, dtype=object)
    source = np.full(n, "none", dtype=object)
    for i, d in enumerate(detail):
        if d is None:
            continue
        if d in RESIDENTIAL_USES or d in NON_RESIDENTIAL_USES:
            use[i], source[i] = d, "osm"
        else:
            use[i], source[i] = OSM_USE_MAP.get(d, "public"), "osm-mapped"
    draw = rng.random(n)  # drawn for every feature whatever the mode: one stream
    if mode == "real":
        return pd.DataFrame({"floors": floors, "floors_source": floors_source, "use": use, "use_source": source})

    geoms = metric.to_numpy()
    pts = shapely.point_on_surface(geoms)
    area = shapely.area(geoms)
    names = src["name"].astype(object).where(src["name"].notna(), "").to_numpy()
    lu = landuse[landuse["kind"].isin(LANDUSE_USE) & landuse.geom_type.isin(["Polygon", "MultiPolygon"])]
    lu_geoms = shapely.make_valid(lu.to_crs(METRIC_EPSG).geometry.to_numpy())
    lu_kind = lu["kind"].to_numpy()
    pi, li = shapely.STRtree(lu_geoms).query(pts, predicate="within")
    at_landuse = np.full(n, None, dtype=object)
    # the smallest landuse polygon holding the point says most
    for p, k in sorted(zip(pi, li, strict=True), key=lambda t: (t[0], -shapely.area(lu_geoms[t[1]]))):
        at_landuse[p] = LANDUSE_USE[lu_kind[k]]
    east = shapely.within(pts, pudong)
    untagged = [i for i in range(n) if use[i] is None]
    for i in untagged:
        if RESIDENTIAL_NAME.search(names[i]):
            use[i], source[i] = "residential", "name"
        elif at_landuse[i] is not None:
            use[i], source[i] = at_landuse[i], "landuse"
        elif names[i]:
            use[i], source[i] = "commercial", "assumed"
        elif has_h[i] and height[i] >= TOWER_M:
            use[i], source[i] = "office", "assumed"
        elif area[i] >= LARGE_FOOTPRINT_M2:
            use[i], source[i] = "commercial", "assumed"
        else:
            p = P_RESIDENTIAL[PUDONG if east[i] else HUANGPU]
            use[i], source[i] = ("residential" if draw[i] < p else "commercial"), "seeded"
    # a building part is what its building is: the largest building feature holding its point
    kind = src["kind"].to_numpy()
    parts = np.flatnonzero((kind == "building_part") & np.isin(source, ["seeded", "assumed", "landuse"]))
    hosts = np.flatnonzero((kind == "building") & (area > 0))
    if len(parts):
        pi, hi = shapely.STRtree(geoms[hosts]).query(pts[parts], predicate="within")
        best: dict[int, int] = {}
        for p, h in zip(pi, hi, strict=True):
            if p not in best or area[hosts[h]] > area[hosts[best[p]]]:
                best[p] = h
        for p, h in best.items():
            use[parts[p]], source[parts[p]] = use[hosts[h]], "host"
    return pd.DataFrame({"floors": floors, "floors_source": floors_source, "use": use, "use_source": source})


def _overlap_pairs(geoms: np.ndarray, min_m2: float = 1.0) -> int:
    """Pairs of polygon features overlapping by more than ``min_m2``."""
    poly = np.flatnonzero(shapely.area(geoms) > 0)
    g = geoms[poly]
    i, j = shapely.STRtree(g).query(g, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    inter = shapely.area(shapely.intersection(shapely.make_valid(g[i]), shapely.make_valid(g[j])))
    return int((inter > min_m2).sum())


def _estimate(buildings: gpd.GeoDataFrame) -> np.ndarray:
    """gridgeo's own household estimate (footprint × floors ÷ dwelling size; 0 for non-residential)."""
    from gridgeo.households import assign_households  # noqa: PLC0415

    out, _ = assign_households(buildings, metric=METRIC_EPSG)
    return out["households"].to_numpy()


# --------------------------------------------------------------------------------------- communities


def _adjacency(blocks: np.ndarray) -> pd.DataFrame:
    """Pairs of blocks sharing more than 1 m of boundary; a block with no such neighbour (a crumb of
    noding) is paired with the one it shares most boundary with, however little."""
    i, j = shapely.STRtree(blocks).query(blocks, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(blocks[i]), shapely.boundary(blocks[j])))
    ok = shared > 1.0
    lonely = np.setdiff1d(np.arange(len(blocks)), np.r_[i[ok], j[ok]])
    for b in lonely:
        cand = np.flatnonzero(((i == b) | (j == b)) & (shared > 0))
        if len(cand):
            ok[cand[np.argmax(shared[cand])]] = True
    return pd.DataFrame({"i": i[ok], "j": j[ok], "shared_m": shared[ok]})


def _communities(blocks: np.ndarray, supers: np.ndarray, households: np.ndarray) -> np.ndarray:
    """Community label of each block: major-road faces, split when over 8,000, merged when under 2,000.

    Blocks on either side of a river share no edge, so no community crosses one.
    """
    label = np.full(len(blocks), -1, dtype=np.int64)
    bi, si = shapely.STRtree(supers).query(shapely.point_on_surface(blocks), predicate="within")
    label[bi] = si
    if (label < 0).any():
        lost = np.flatnonzero(label < 0)
        label[lost] = shapely.STRtree(supers).query_nearest(blocks[lost], all_matches=False)[1]
    adj = _adjacency(blocks)
    graph = _wuhan._block_graph(blocks, adj)

    def split_large(label: np.ndarray) -> np.ndarray:
        return _wuhan._split_large(label, graph, households)

    # a face split in two by nothing but touching corners is two communities (no multipart community)
    for lab in np.unique(label):
        members = np.flatnonzero(label == lab)
        comps = sorted((sorted(c) for c in nx.connected_components(graph.subgraph(members.tolist()))), key=lambda c: c[0])
        nxt = label.max() + 1
        for comp in comps[1:]:
            label[comp] = nxt
            nxt += 1
    label = split_large(label)
    for _ in range(5):
        label = _wuhan._merge_small(label, households, adj)
        before = len(np.unique(label))
        label = split_large(label)
        if len(np.unique(label)) == before:
            break
    # a split that could not converge (a building over the ceiling) may leave empty pieces: merge them
    while True:
        h = pd.Series(households).groupby(label).sum()
        a, b = label[adj["i"].to_numpy()], label[adj["j"].to_numpy()]
        pairs = pd.DataFrame({"a": np.r_[a, b], "b": np.r_[b, a], "shared": np.r_[adj["shared_m"], adj["shared_m"]]})
        pairs = pairs[(pairs["a"] != pairs["b"]) & pairs["a"].isin(h.index[h == 0])]
        if pairs.empty:
            break
        best = pairs.groupby(["a", "b"], as_index=False)["shared"].sum().sort_values(
            ["shared", "a", "b"], ascending=[False, True, True]).iloc[0]
        label[label == best["a"]] = int(best["b"])
    _, label = np.unique(label, return_inverse=True)
    return label


def _codes(geoms: np.ndarray, households: np.ndarray, pudong: shapely.Geometry, rng: np.random.Generator) -> pd.DataFrame:
    """County by bank, street (街道) by land part and position, 12-digit codes and names; SYNTHETIC."""
    pts = shapely.point_on_surface(geoms)
    xy = shapely.get_coordinates(pts)
    county = np.where(shapely.within(pts, pudong), PUDONG, HUANGPU)
    street = np.zeros(len(geoms), dtype=int)
    for c in (PUDONG, HUANGPU):  # streets: about five communities each, split west to east
        members = np.flatnonzero(county == c)
        if len(members) == 0:
            continue
        k = min(len(STREET_NAMES[c]), max(1, round(len(members) / 5)))
        order = members[np.lexsort((-xy[members, 1], xy[members, 0]))]
        for s, chunk in enumerate(np.array_split(order, k)):
            street[chunk] = s
    seq = np.zeros(len(geoms), dtype=int)
    for c in (PUDONG, HUANGPU):
        for s in np.unique(street[county == c]):
            members = np.flatnonzero((county == c) & (street == s))
            order = members[np.lexsort((np.round(xy[members, 0], -1), -np.round(xy[members, 1], -1)))]
            seq[order] = np.arange(1, len(order) + 1)
    names = np.empty(len(geoms), dtype=object)
    for c, stems in ((PUDONG, PUDONG_STEMS), (HUANGPU, PUXI_STEMS)):
        members = np.flatnonzero(county == c)
        order = members[np.lexsort((seq[members], street[members]))]
        perm = rng.permutation(stems)
        for k, i in enumerate(order):
            names[i] = f"{perm[k % len(perm)]}{'' if k < len(perm) else k // len(perm) + 1}社区"
    return pd.DataFrame({
        "code": [f"{c}{s + 1:03d}{q:03d}" for c, s, q in zip(county, street, seq, strict=True)],
        "name": names,
        "county_code": county,
        "street_code": [f"{c}{s + 1:03d}" for c, s in zip(county, street, strict=True)],
        "street_name": [f"{STREET_NAMES[c][s]}街道" for c, s in zip(county, street, strict=True)],
        "households_estimated": households,
    })


# ---------------------------------------------------------------------------------------------- units

#: POI kinds taken as units (enterprises and institutions, 专属网格 register): gridgeo category and a
#: SEEDED range of employees (OSM has no staff counts)
POI_UNITS = {
    "hotel": ("enterprise", 60, 600), "hostel": ("enterprise", 5, 20), "bank": ("enterprise", 10, 120),
    "school": ("school", 40, 160), "kindergarten": ("school", 15, 40), "hospital": ("hospital", 300, 1500),
    "government": ("government", 30, 200), "police": ("government", 30, 200), "post_office": ("government", 10, 40),
    "supermarket": ("business_district", 10, 60), "convenience": ("business_district", 3, 8),
    "jewelry": ("business_district", 5, 30), "clothes": ("business_district", 5, 30), "shop": ("business_district", 5, 30),
    "mall": ("business_district", 300, 900), "museum": ("other", 10, 60),
}
OFFICE_KINDS = ("office", "commercial", "tower")  # OSM kind_detail of office towers
OFFICE_M2_PER_EMPLOYEE = 15.0  # office floor area per worker (gross floor area × 0.7 usable ÷ ~10 m²)
MARKET_STREETS = ("南京东路",)  # shops within MARKET_STREET_M of these streets belong to that market street (parent)
MARKET_STREET_M = 60.0


def _units(pois: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, roads: gpd.GeoDataFrame, seed: int) -> gpd.GeoDataFrame:
    """The ``units`` layer (enterprises and institutions, metric CRS): REAL places, SEEDED staff.

    - every POI of a kind in :data:`POI_UNITS` (hotels, banks, schools, hospitals, police, post offices,
      shops, museums): a point, ``category`` as mapped there, ``employees`` a seeded draw in its range;
    - office towers: every building polygon OSM tags office/commercial/tower with a height of
      :data:`TOWER_M` or more: the footprint as the site, ``employees`` = footprint × floors ÷
      :data:`OFFICE_M2_PER_EMPLOYEE` (floors from the scenario's ``floors``); repeated tile copies of
      one tower (one ``osm_id``) are one unit;
    - shops within :data:`MARKET_STREET_M` of a market street (南京东路步行街) get it as ``parent``.

    Uses its own random stream (``seed + 1``) so the other layers are the same as without it.
    """
    rng = np.random.default_rng(seed + 1)
    p = pois[pois["kind"].isin(list(POI_UNITS))].sort_values(["kind", "osm_id", "tile"], kind="stable")
    p = p.drop_duplicates("osm_id").reset_index(drop=True)
    cats = [POI_UNITS[k][0] for k in p["kind"]]
    emp = [int(rng.integers(POI_UNITS[k][1], POI_UNITS[k][2] + 1)) for k in p["kind"]]
    pts = gpd.GeoSeries(p.geometry.to_numpy(), crs=SOURCE_EPSG).to_crs(METRIC_EPSG)
    names = [n if isinstance(n, str) and n.strip() else (e if isinstance(e, str) and e.strip() else None)
             for n, e in zip(p["name"], p["name_en"], strict=True)]
    parent = np.full(len(p), None, dtype=object)
    st = roads[roads["name"].isin(MARKET_STREETS)].to_crs(METRIC_EPSG)
    if len(st):
        for name in MARKET_STREETS:
            line = shapely.union_all(st.geometry[st["name"] == name].to_numpy())
            near = (shapely.distance(pts.to_numpy(), line) <= MARKET_STREET_M) & (np.array(cats) == "business_district")
            parent[near] = f"{name}步行街"
    poi_units = gpd.GeoDataFrame({"name": names, "category": cats, "employees": emp, "parent": parent,
                                  "osm_kind": p["kind"].to_numpy(), "osm_id": p["osm_id"].astype(str).to_numpy(),
                                  "source": "poi"}, geometry=pts.to_numpy(), crs=METRIC_EPSG)
    b = buildings
    h = pd.to_numeric(b["height"], errors="coerce").to_numpy() if "height" in b else np.full(len(b), np.nan)
    geoms = b.geometry.to_numpy()
    tower = (np.isin(b["kind_detail"].to_numpy(), OFFICE_KINDS) & (np.nan_to_num(h) >= TOWER_M)
             & (shapely.area(geoms) > 0) & (b["kind"].to_numpy() == "building"))
    t = b[tower].assign(_a=shapely.area(geoms[tower])).sort_values(["osm_id", "_a"], ascending=[True, False], kind="stable")
    t = t.drop_duplicates("osm_id")
    t_emp = np.round(t["_a"].to_numpy() * t["floors"].to_numpy(dtype=float) / OFFICE_M2_PER_EMPLOYEE).astype(int)
    t_names = [n if isinstance(n, str) and n.strip() else f"写字楼 OSM {o}" for n, o in zip(t["name"], t["osm_id"], strict=True)]
    towers = gpd.GeoDataFrame({"name": t_names, "category": "office_building", "employees": t_emp, "parent": None,
                               "osm_kind": t["kind_detail"].to_numpy(), "osm_id": t["osm_id"].astype(str).to_numpy(),
                               "source": "building"}, geometry=t.geometry.to_numpy(), crs=METRIC_EPSG)
    out = pd.concat([poi_units, towers], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=METRIC_EPSG)


# ---------------------------------------------------------------------------------------------- build


def _generate(seed: int, mode: str) -> tuple[dict[str, gpd.GeoDataFrame], dict[str, Any]]:
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    src_b, roads, landuse, water = (_read(n) for n in ("buildings", "roads", "landuse", "water"))
    extent = _extent([roads, landuse, water])
    land, river = _land(water, extent)
    pudong_pt = gpd.GeoSeries([shapely.Point(*PUDONG_LONLAT)], crs=SOURCE_EPSG).to_crs(METRIC_EPSG).iloc[0]
    land_parts = shapely.get_parts(land)
    pudong = shapely.union_all(land_parts[shapely.intersects(land_parts, pudong_pt)])

    # buildings: every source feature, its geometry untouched
    metric_b = src_b.geometry.to_crs(METRIC_EPSG)
    attrs = _building_attributes(src_b, metric_b, landuse, pudong, mode, rng)
    ids = [f"OSM{o}-t{t:02d}-r{r:04d}" for r, (o, t) in enumerate(zip(src_b["osm_id"], src_b["tile"], strict=True))]
    cols = {"building_id": ids, **{c: attrs[c].to_numpy() for c in ("floors", "use", "use_source", "floors_source")}}
    src_cols = [c for c in src_b.columns if c != "geometry"]
    buildings = gpd.GeoDataFrame({**cols, **{c: src_b[c].to_numpy() for c in src_cols}},
                                 geometry=gpd.GeoSeries(metric_b.to_numpy(), crs=METRIC_EPSG))
    buildings["floors"] = buildings["floors"].astype(float)
    hh = _estimate(buildings)

    # streets: major, minor roads and paths, as they are
    st = roads[roads["kind"].isin(STREET_KINDS)]
    streets = gpd.GeoDataFrame(
        {"name": st["name"].to_numpy(), "highway": st["kind_detail"].to_numpy(),
         **{c: st[c].to_numpy() for c in ("kind", "osm_id", "tile", "is_bridge", "is_tunnel", "oneway", "name_en")},
         "source": "OpenStreetMap contributors (ODbL)"},
        geometry=gpd.GeoSeries(st.geometry.to_numpy(), crs=SOURCE_EPSG).to_crs(METRIC_EPSG),
    )

    # communities: blocks of the major and minor roads, grouped within faces of the major roads
    surface = roads[roads["is_tunnel"].isna()]
    major = _lines(surface[surface["kind"] == "major_road"].to_crs(METRIC_EPSG))
    minor = _lines(surface[surface["kind"] == "minor_road"].to_crs(METRIC_EPSG))
    supers = _faces(major, land)
    blocks = _faces(np.concatenate([major, minor]), land)
    pts = shapely.point_on_surface(buildings.geometry.to_numpy())
    bi, ki = shapely.STRtree(blocks).query(pts, predicate="within")
    block_hh = np.bincount(ki, weights=hh[bi], minlength=len(blocks))
    label = _communities(blocks, supers, block_hh)
    n_comm = label.max() + 1
    geoms = np.empty(n_comm, dtype=object)
    for k in range(n_comm):
        geoms[k] = shapely.coverage_union_all(blocks[label == k])
    comm_hh = np.bincount(label, weights=block_hh, minlength=n_comm).astype(int)
    comm = _codes(geoms, comm_hh, pudong, rng)
    communities = gpd.GeoDataFrame(
        comm.assign(kind="urban", synthetic=True), geometry=gpd.GeoSeries(shapely.normalize(geoms), crs=METRIC_EPSG)
    ).sort_values("code", ignore_index=True)
    communities = communities[["code", "name", "kind", "county_code", "street_code", "street_name",
                               "households_estimated", "synthetic", "geometry"]]

    geoms_b = buildings.geometry.to_numpy()
    kinds = buildings["kind"].to_numpy()
    is_poly = shapely.area(geoms_b) > 0
    off_land = len(buildings) - len(np.unique(bi))
    osm_res = np.isin(buildings["kind_detail"].to_numpy(), RESIDENTIAL_USES)
    summary = {
        "note": NOTE[mode],
        "seed": seed,
        "builder_version": BUILDER_VERSION,
        "residential": mode,
        "area": "陆家嘴 (浦东新区 310115) and 外滩 (黄浦区 310101), Shanghai",
        "metric_crs": f"EPSG:{METRIC_EPSG}",
        "extent_km2": round(extent.area / 1e6, 3),
        "land_km2": round(land.area / 1e6, 3),
        "river_km2": round(river.area / 1e6, 3),
        "streets": len(streets),
        "streets_by_kind": {k: int(v) for k, v in streets["kind"].value_counts().sort_index().items()},
        "street_blocks": len(blocks),
        "major_road_faces": len(supers),
        "communities": len(communities),
        "communities_by_county": {k: int(v) for k, v in communities["county_code"].value_counts().sort_index().items()},
        "multipart_communities": int((shapely.get_num_geometries(communities.geometry.to_numpy()) > 1).sum()),
        "community_households_min": int(communities["households_estimated"].min()),
        "community_households_median": int(communities["households_estimated"].median()),
        "community_households_max": int(communities["households_estimated"].max()),
        "buildings": len(buildings),
        "buildings_by_kind": {k: int(v) for k, v in pd.Series(kinds).value_counts().sort_index().items()},
        "building_polygons": int(is_poly.sum()),
        "building_points": int((~is_poly).sum()),
        "repeated_osm_ids": int(buildings["osm_id"].duplicated(keep=False).sum()),
        "overlap_pairs_over_1m2": _overlap_pairs(geoms_b),
        "buildings_outside_communities": int(off_land),
        "use_source": {k: int(v) for k, v in buildings["use_source"].value_counts().sort_index().items()},
        "floors_source": {k: int(v) for k, v in buildings["floors_source"].value_counts().sort_index().items()},
        "households_estimated": int(hh.sum()),
        "households_estimated_in_communities": int(comm_hh.sum()),
        "households_estimated_osm_residential": int(hh[osm_res].sum()),
        "households_estimated_by_use_source": {k: int(v) for k, v in pd.Series(hh).groupby(buildings["use_source"].to_numpy()).sum().sort_index().items()},
        "building_households_max": int(hh.max()),
        "buildings_over_150_households": int((hh > 150).sum()),
        "buildings_over_500_households": int((hh > 500).sum()),
        "households_how": "estimated by gridgeo.households.assign_households: footprint m² × floors ÷ 90, 0 for a non-residential use",
        "sources": {"osm": f"{SOURCE_FILE} sha256:{_wuhan._fingerprint(SHARED_DATA / SOURCE_FILE)}"},
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    # stored as the source has it: the buildings' own coordinates (EPSG:4326 read as CGCS2000)
    stored_b = buildings.set_geometry(gpd.GeoSeries(src_b.geometry.to_numpy(), crs=STORAGE_EPSG))
    units = _units(_read("pois"), buildings, roads, seed)
    summary["units"] = len(units)
    summary["units_by_category"] = {k: int(v) for k, v in units["category"].value_counts().sort_index().items()}
    summary["units_how"] = ("REAL places: OSM POIs (hotels, banks, schools, hospitals, police, shops, ...) and office "
                            "towers (footprint as the site); SEEDED employees for POIs, footprint × floors ÷ "
                            f"{OFFICE_M2_PER_EMPLOYEE:g} m² for towers")
    layers = {"communities": communities, "streets": streets, "buildings": buildings, "units": units}
    stored = {"communities": communities.to_crs(STORAGE_EPSG), "streets": streets.to_crs(STORAGE_EPSG), "buildings": stored_b,
              "units": units.to_crs(STORAGE_EPSG)}
    return layers | {"_stored": stored}, summary


def content_hash(path: str | Path) -> str:
    """SHA-256 of a scenario file's content: every layer's attributes and WKB geometry, and the metadata
    without ``build_seconds`` (GeoPackage bytes carry write timestamps; this does not)."""
    h = hashlib.sha256()
    names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    for name in ("communities", "streets", "buildings", "units"):
        if name not in names:
            continue
        gdf = pyogrio.read_dataframe(path, layer=name)
        h.update(name.encode())
        h.update(pd.util.hash_pandas_object(gdf.drop(columns="geometry").astype(str), index=True).to_numpy().tobytes())
        for w in shapely.to_wkb(gdf.geometry.to_numpy()):
            h.update(w)
    summary = dict(_read_summary(Path(path)) or {})
    summary.pop("build_seconds", None)
    h.update(json.dumps(summary, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


def load(path: str | Path) -> Scenario:
    """Read a built scenario file; layers reprojected to the metric CRS (EPSG:4550)."""
    p = Path(path)
    layers = {n: pyogrio.read_dataframe(p, layer=n).to_crs(METRIC_EPSG) for n in ("communities", "streets", "buildings")}
    if "units" in [str(n) for n in pyogrio.list_layers(p)[:, 0]]:
        layers["units"] = pyogrio.read_dataframe(p, layer="units").to_crs(METRIC_EPSG)
    return Scenario(path=p, summary=_read_summary(p) or {}, **layers)


def build(out_dir: str | Path = DEFAULT_OUT, *, seed: int = DEFAULT_SEED, force: bool = False,
          residential: str = "seeded") -> Scenario:
    """Build the Lujiazui scenario into ``out_dir`` (reusing an identical earlier build) and load it.

    ``residential`` is ``"seeded"`` (default: untagged buildings get a use by rule or seeded draw) or
    ``"real"`` (``use`` only where OSM tags it). Raises :class:`ScenarioUnavailable` when the real data
    is missing (see :func:`missing_reason`).
    """
    if residential not in RESIDENTIAL_MODES:
        msg = f"unknown residential mode {residential!r}; choose one of {', '.join(RESIDENTIAL_MODES)}"
        raise ValueError(msg)
    reason = missing_reason()
    if reason:
        raise ScenarioUnavailable(reason)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE_NAMES[residential]
    if path.exists() and not force:
        old = _read_summary(path)
        if (old and old.get("seed") == seed and old.get("builder_version") == BUILDER_VERSION
                and old.get("residential") == residential):
            return load(path)
    layers, summary = _generate(seed, residential)
    _write(path, layers["_stored"], summary, geometry_types={"buildings": "Unknown", "units": "Unknown"})
    (out / "README.txt").write_text(
        f"Lujiazui scenario for gridgeo (seed {seed}, --residential {residential}).\n{NOTE[residential]}.\n"
        f"Rebuild: python scripts/build_lujiazui_scenario.py --out {out} --seed {seed} --residential {residential} --force\n",
        encoding="utf-8",
    )
    return load(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: %(default)s; not committed)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    ap.add_argument("--residential", default="seeded", choices=RESIDENTIAL_MODES,
                    help="use of buildings OSM does not tag: seeded (rules, then a seeded draw; default) or real "
                         "(left empty: gridgeo counts them residential)")
    ap.add_argument("--force", action="store_true", help="rebuild even when a build with this seed exists")
    args = ap.parse_args(argv)
    t = time.perf_counter()
    try:
        sc = build(args.out, seed=args.seed, force=args.force, residential=args.residential)
    except ScenarioUnavailable as exc:
        print(f"build_lujiazui_scenario: cannot build: {exc}", file=sys.stderr)
        return 2
    s = sc.summary
    print(f"{sc.path}  ({time.perf_counter() - t:.1f} s)")
    print(f"  {s['note']}")
    print(f"  {s['buildings']:,} REAL building features {s['buildings_by_kind']} ({s['building_points']} points, "
          f"{s['repeated_osm_ids']} with a repeated osm_id, {s['overlap_pairs_over_1m2']} overlapping pairs over 1 m²)")
    print(f"  {s['streets']:,} REAL street lines; {s['street_blocks']:,} blocks")
    print(f"  {s['households_estimated']:,} ESTIMATED households (OSM-tagged residential alone: "
          f"{s['households_estimated_osm_residential']:,}; largest building {s['building_households_max']:,})")
    print(f"  {s['communities']} SYNTHETIC communities {s['communities_by_county']} of "
          f"{s['community_households_min']:,}–{s['community_households_max']:,} estimated households "
          f"(median {s['community_households_median']:,})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
