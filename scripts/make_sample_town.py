#!/usr/bin/env python
"""Generate gridgeo's sample town: 青石镇, a fictional township in the Jianghan plain (Hubei).

Writes ``sample_town.gpkg`` (layers ``communities``, ``streets``, ``buildings``, ``villager_groups``,
``enterprises``; CGCS2000 geographic coordinates, EPSG:4490) and ``sample_town_staff.csv`` (a fictional
staff roster) into ``data/`` or the folder given with ``--out``::

    .venv/bin/python scripts/make_sample_town.py            # writes data/
    .venv/bin/python scripts/make_sample_town.py --out DIR  # writes DIR/

Every random choice comes from generators seeded from ``SEED`` (one per part of the town, so that
changing one part leaves the others alone), and the GeoPackage timestamps are fixed: two runs give
byte-identical files. The town is
built in metres in its Gauss-Krüger zone (CGCS2000 / 3-degree GK CM 114E, EPSG:4547) and reprojected
at the end; streets that bound a community share its boundary's vertices exactly, so the two
coincide in the stored coordinates too.

The place is real (farmland of 应城市, 孝感, Hubei, county code 420981); the town, its township code
420981190, its streets, compounds, enterprises and people are invented.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import shapely.ops
from shapely import LineString, MultiPoint, Point, Polygon
from shapely.affinity import rotate

SEED = 20240611
TOWN_NAME = "青石镇"
COUNTY_CODE = "420981"  # 湖北省孝感市应城市 (real county-level code)
TOWNSHIP_CODE = COUNTY_CODE + "190"  # invented township sequence
ORIGIN_XY = (450250.0, 3412242.0)  # local (0, 0) in EPSG:4547: about 113.48°E, 30.83°N, in the farmland of 应城市
METRIC_EPSG = 4547  # CGCS2000 / 3-degree Gauss-Kruger CM 114E
STORAGE_EPSG = 4490  # CGCS2000 geographic
DWELLING_M2 = 90.0  # gridgeo's default dwelling size for estimates
GPKG_DATE = "2024-06-11T00:00:00Z"  # fixed GeoPackage timestamps, for byte-identical output

# centre-line to building setback by street class (half the road width plus a margin), metres
SETBACK = {
    "primary": 21.0,
    "secondary": 15.0,
    "tertiary": 9.0,
    "residential": 6.0,
    "unclassified": 7.0,
    "service": 5.5,
    "track": 4.5,
}
BOUNDARY_SETBACK = 4.0  # from a community or villager-group boundary that is not a street


def rng_for(*key: object) -> np.random.Generator:
    """An independent, reproducible generator for one part of the town."""
    return np.random.default_rng([SEED, zlib.crc32("/".join(map(str, key)).encode())])


# ----------------------------------------------------------------------------------------------
# geometry helpers


def chaikin(points, iterations: int = 2) -> np.ndarray:
    """Smooth an open polyline (ends kept) by Chaikin corner cutting."""
    pts = np.asarray(points, dtype=float)
    for _ in range(iterations):
        q = 0.75 * pts[:-1] + 0.25 * pts[1:]
        r = 0.25 * pts[:-1] + 0.75 * pts[1:]
        mid = np.empty((2 * len(q), 2))
        mid[0::2], mid[1::2] = q, r
        pts = np.vstack([pts[:1], mid[1:-1], pts[-1:]])
    return pts


def smooth_line(points, iterations: int = 2) -> LineString:
    """A smooth street through sketch control points (see ``design``)."""
    return LineString(np.round(chaikin(design(points), iterations), 2))


def wobble(points, rng: np.random.Generator, amp: float, step: float = 60.0, closed: bool = False) -> np.ndarray:
    """Densify a polyline and push it sideways by smooth noise (for field and river boundaries)."""
    pts = np.asarray(points, dtype=float)
    out = []
    for a, b in zip(pts[:-1], pts[1:]):
        n = max(1, int(np.hypot(*(b - a)) // step))
        t = np.arange(n) / n
        out.append(a + t[:, None] * (b - a))
    out.append(pts[-1:])
    dense = np.vstack(out)
    seg = np.diff(dense, axis=0)
    tangent = np.vstack([seg, seg[-1:]])
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    s = np.concatenate([[0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])
    noise = np.zeros(len(dense))
    for wavelength in (900.0, 350.0, 140.0):
        phase = rng.uniform(0, 2 * np.pi)
        noise += amp * (wavelength / 900.0) ** 0.7 * np.sin(2 * np.pi * s / wavelength + phase)
    if closed:
        noise -= np.linspace(noise[0], noise[-1], len(noise))  # close the ring cleanly
    else:
        noise *= np.sin(np.pi * s / s[-1]) ** 0.5  # keep the ends in place
    return dense + normal * noise[:, None]


def rects(cx, cy, w, d, angle) -> np.ndarray:
    """Rectangles (n,) of width ``w`` along ``angle`` (radians) and depth ``d`` centred on (cx, cy)."""
    cx, cy, w, d, angle = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (cx, cy, w, d, angle)))
    c, s = np.cos(angle), np.sin(angle)
    ux, uy = np.array([-0.5, 0.5, 0.5, -0.5, -0.5]), np.array([-0.5, -0.5, 0.5, 0.5, -0.5])
    lx = ux[None, :] * w[..., None]
    ly = uy[None, :] * d[..., None]
    x = cx[..., None] + lx * c[..., None] - ly * s[..., None]
    y = cy[..., None] + lx * s[..., None] + ly * c[..., None]
    coords = np.round(np.stack([x, y], axis=-1), 2)
    return shapely.polygons(coords.reshape(-1, 5, 2))


def block_angle(poly: Polygon) -> float:
    """Orientation (radians, in (-pi/4, pi/4]) of a block's minimum rotated rectangle."""
    mrr = np.asarray(shapely.oriented_envelope(poly).exterior.coords)
    edges = np.diff(mrr[:3], axis=0)
    k = int(np.argmax(np.hypot(edges[:, 0], edges[:, 1])))
    a = math.atan2(edges[k, 1], edges[k, 0])
    while a > math.pi / 4:
        a -= math.pi / 2
    while a <= -math.pi / 4:
        a += math.pi / 2
    return a


def x_at(line: LineString, y: float) -> float:
    c = np.asarray(line.coords)
    o = np.argsort(c[:, 1])
    return float(np.interp(y, c[o, 1], c[o, 0]))


def y_at(line: LineString, x: float) -> float:
    c = np.asarray(line.coords)
    o = np.argsort(c[:, 0])
    return float(np.interp(x, c[o, 0], c[o, 1]))


def polygons_of(geom) -> list[Polygon]:
    return [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]


# ----------------------------------------------------------------------------------------------
# the plan of the town (local metres: x east, y north, origin at the south-west corner of the centre)


@dataclass
class Street:
    name: str | None
    highway: str
    geom: LineString


@dataclass
class Community:
    code: str
    name: str
    kind: str
    spacing: tuple[float, float, float, float]  # cross-street and lane spacing ranges (m)
    streets: list[str] = field(default_factory=list)  # names for its local streets


COMMUNITIES = {
    "幸福": Community(TOWNSHIP_CODE + "004", "幸福社区", "urban", (130, 200, 115, 185),
                    ["幸福路", "园林路", "锦绣路", "滨湖路"]),
    "新华": Community(TOWNSHIP_CODE + "003", "新华社区", "urban", (125, 195, 110, 175),
                    ["育才路", "新华一路", "新华二路", "丰收路"]),
    "兴业": Community(TOWNSHIP_CODE + "008", "兴业社区", "urban", (160, 230, 150, 220),
                    ["工业一路", "工业二路", "园区路", "兴业路"]),
    "光明": Community(TOWNSHIP_CODE + "002", "光明社区", "urban", (120, 190, 110, 170),
                    ["光明路", "健康路", "青年路", "和平街"]),
    "正街": Community(TOWNSHIP_CODE + "001", "正街社区", "township", (85, 130, 70, 120),
                    ["正街", "老街", "民主街", "胜利街", "团结巷", "铁匠巷"]),
    "东风": Community(TOWNSHIP_CODE + "005", "东风社区", "urban", (125, 195, 115, 185),
                    ["东风路", "朝阳路", "东湖路", "永安街"]),
    "阳光": Community(TOWNSHIP_CODE + "006", "阳光社区", "urban", (135, 195, 115, 185),
                    ["阳光路", "花园路", "书院路", "北湖路"]),
    "红旗": Community(TOWNSHIP_CODE + "007", "红旗社区", "urban", (125, 190, 115, 185),
                    ["红旗路", "长青路", "北门街", "龙泉路"]),
    "桃园": Community(TOWNSHIP_CODE + "201", "桃园村", "rural", (0, 0, 0, 0), []),
}


# The plan below is drawn on a 2,900 m x 2,500 m sketch of the town centre with the village east of
# x = 2,900; ``design`` shrinks it to the town's real size (the centre to about 1.8 km x 1.55 km).
DESIGN_SCALE = 0.62
DESIGN_EAST = 2900.0


def design(points) -> np.ndarray:
    """Sketch coordinates to metres: the centre scaled by DESIGN_SCALE, the village a little less."""
    a = np.asarray(points, dtype=float)
    x, y = a[..., 0], a[..., 1]
    x2 = np.where(x <= DESIGN_EAST, x * DESIGN_SCALE, DESIGN_EAST * DESIGN_SCALE + (x - DESIGN_EAST) * 0.8)
    return np.stack([x2, y * DESIGN_SCALE], axis=-1)


def town_outline() -> Polygon:
    pts = [
        (-210, -170), (450, -235), (1000, -205), (1550, -255), (2150, -215), (2700, -260), (3050, -400),
        (3600, -560), (4250, -610), (4900, -470), (5230, 80), (5130, 820), (5320, 1520), (5180, 2230),
        (4880, 2760), (4290, 3040), (3690, 2950), (3230, 2770), (2920, 2700), (2420, 2690), (1820, 2650),
        (1220, 2715), (620, 2670), (-170, 2640), (-255, 2000), (-205, 1310), (-275, 600), (-210, -170),
    ]
    ring = wobble(design(pts), rng_for("outline"), amp=14.0, step=40.0, closed=True)
    ring[-1] = ring[0]
    return shapely.make_valid(Polygon(np.round(ring, 2)))


def major_streets() -> list[Street]:
    """Ring roads, arterials and the streets that carry community boundaries."""
    sl = smooth_line
    streets = [
        # ring roads round the town centre
        Street("南环路", "secondary", sl([(-420, -30), (-5, 10), (480, -12), (1000, 2), (1520, 18), (2000, 4), (2480, -10), (2905, 8)])),
        Street("西环路", "secondary", sl([(-5, 10), (-28, 460), (-12, 900), (18, 1350), (8, 1810), (-15, 2200), (2, 2510)])),
        Street("北环路", "tertiary", sl([(2, 2510), (520, 2545), (998, 2520), (1450, 2495), (1995, 2530), (2500, 2515), (2895, 2490)])),
        # the eastern ring road is also the village boundary; it runs on as a county road both ways
        Street("东环路", "secondary", sl([(2990, -700), (2930, -200), (2905, 8), (2925, 450), (2915, 930), (2880, 1400), (2882, 1800), (2895, 2490), (2930, 2760), (2985, 2950)])),
        # arterials across the town: the main community boundaries
        Street("人民大道", "primary", sl([(-480, 870), (-12, 900), (480, 888), (1000, 905), (1500, 915), (2000, 905), (2460, 925), (2915, 930)])),
        Street("人民大道", "secondary", sl([(2915, 930), (3350, 950), (3900, 1010), (4500, 1000), (5000, 1060), (5500, 1110)])),
        Street("建设路", "secondary", sl([(-460, 1830), (8, 1810), (500, 1800), (998, 1802), (1450, 1790), (2005, 1785), (2450, 1795), (2882, 1800)])),
        Street("解放路", "primary", sl([(1012, -480), (1000, 2), (1005, 450), (1000, 905), (992, 1350), (998, 1802), (1010, 2150), (998, 2520), (1004, 2950)])),
        Street("新华路", "secondary", sl([(2005, -450), (2000, 4), (1990, 450), (2000, 905), (2012, 1350), (2005, 1785), (1998, 2150), (1995, 2530), (2010, 2900)])),
        Street("文化路", "tertiary", sl([(1450, 1790), (1458, 2140), (1450, 2495), (1470, 2920)])),
        # the avenue to the expressway, diagonally across 东风社区 and the village
        Street("迎宾大道", "primary", sl([(2000, 1120), (2300, 1262), (2600, 1418), (2880, 1560)])),
        Street("迎宾大道", "primary", sl([(2880, 1560), (3300, 1800), (3800, 2130), (4350, 2520), (4800, 2900), (5150, 3250)])),
    ]
    return snap_network(attach_ends(streets, [st.geom for st in streets]))


def attach_ends(streets: list[Street], network: list[LineString], tolerance: float = 25.0) -> list[Street]:
    """Move each street end that stops short of (or overshoots) another line onto that line."""
    out = []
    for _i, st in enumerate(streets):
        coords = np.asarray(st.geom.coords).copy()
        for end in (0, -1):
            p = Point(coords[end])
            best = None
            for _j, other in enumerate(network):
                if other is st.geom or other.equals(st.geom):
                    continue
                d = other.distance(p)
                if d < tolerance and (best is None or d < best[0]):
                    best = (d, other)
            if best is not None and best[0] > 0:
                q = best[1].interpolate(best[1].project(p))
                coords[end] = (q.x, q.y)
        out.append(Street(st.name, st.highway, LineString(coords)))
    return out


def snap_network(streets: list[Street], extra_points=(), tolerance: float = 0.05) -> list[Street]:
    """Make every junction exact: each street end (and each extra point) becomes a vertex of every
    line that passes within ``tolerance`` of it, so that noding never misses a T-junction."""
    ends = [p for st in streets for p in (st.geom.coords[0], st.geom.coords[-1])]
    ends += [tuple(p) for p in extra_points]
    ref = MultiPoint(sorted(set(ends)))
    geoms = shapely.snap(np.array([st.geom for st in streets], dtype=object), ref, tolerance)
    return [Street(st.name, st.highway, g) for st, g in zip(streets, geoms)]


def crossings(streets: list[Street]) -> list[tuple[float, float]]:
    """Points where two streets cross; snapping them into both makes every crossing a shared vertex,
    so that noding never has to compute (and round) an intersection point, in any CRS."""
    geoms = np.array([st.geom for st in streets], dtype=object)
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    pts = shapely.intersection(geoms[left[keep]], geoms[right[keep]])
    coords = shapely.get_coordinates(shapely.get_parts(pts)[shapely.get_type_id(shapely.get_parts(pts)) == 0])
    return sorted(set(map(tuple, coords)))


BOUNDARY_STREETS = ("人民大道", "建设路", "解放路", "新华路", "东环路", "文化路")


def boundary_roads(streets: list[Street]) -> dict[str, LineString]:
    """The streets that separate communities, by name (the town stretch of 人民大道 only)."""
    roads = {}
    for st in streets:
        if st.name in BOUNDARY_STREETS and st.name not in roads:
            roads[st.name] = st.geom
    return roads


def assign_community(p: Point, roads: dict[str, LineString]) -> str:
    """Which community a point inside the town lies in (exact sides of the boundary streets)."""
    px, py = p.x, p.y
    if px > x_at(roads["东环路"], py):
        return "桃园"
    if py < y_at(roads["人民大道"], px):
        row = 0
    elif py < y_at(roads["建设路"], px):
        row = 1
    else:
        return "阳光" if px < x_at(roads["文化路"], py) else "红旗"
    if px < x_at(roads["解放路"], py):
        return ("幸福", "光明")[row]
    if px < x_at(roads["新华路"], py):
        return ("新华", "正街")[row]
    return ("兴业", "东风")[row]


def faces(lines: list, outline: Polygon) -> list[Polygon]:
    """Polygonize lines with the outline's boundary: the faces inside the outline, in a stable order."""
    noded = shapely.union_all([*lines, outline.exterior])
    polys = [p for p in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))) if p.area > 1.0]
    polys = [p for p in polys if outline.contains(p.representative_point())]
    polys.sort(key=lambda p: (round(p.representative_point().y, 3), round(p.representative_point().x, 3)))
    return polys


def group_faces(polys: list[Polygon], key) -> dict[str, Polygon]:
    groups: dict[str, list[Polygon]] = {}
    for p in polys:
        groups.setdefault(key(p.representative_point()), []).append(p)
    return {k: shapely.coverage_union_all(v) for k, v in sorted(groups.items())}


# ----------------------------------------------------------------------------------------------
# local streets


CN_NUM = "一二三四五六七八九十"


def positions(lo: float, hi: float, smin: float, smax: float, rng: np.random.Generator) -> list[float]:
    """Irregularly spaced positions strictly between lo and hi, at least ~0.6 smin from both ends."""
    out = []
    pos = lo + rng.uniform(smin, smax)
    while pos < hi - 0.6 * smin:
        out.append(pos)
        pos += rng.uniform(smin, smax)
    return out


def frame_line(x0, y0, x1, y1, rng, kink: float) -> list[tuple[float, float]]:
    pts = [(x0, y0), (x1, y1)]
    if kink and rng.random() < 0.45:
        t = rng.uniform(0.35, 0.65)
        mx, my = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        dx, dy = x1 - x0, y1 - y0
        n = math.hypot(dx, dy)
        off = rng.uniform(-kink, kink)
        pts.insert(1, (mx - dy / n * off, my + dx / n * off))
    return pts


def to_world(pts, angle: float, origin: Point) -> LineString:
    return rotate(LineString(pts), angle, origin=origin, use_radians=True)


def clip_parts(line: LineString, poly: Polygon, min_len: float) -> list[LineString]:
    parts = shapely.get_parts(shapely.line_merge(line.intersection(poly)))
    return [p for p in parts if isinstance(p, LineString) and p.length >= min_len]


def small_faces(lines: list[LineString], cell: Polygon, min_area: float, min_width: float) -> list[Polygon]:
    net = snap_network([Street(None, "", g) for g in [cell.exterior, *lines]])
    polys = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all([st.geom for st in net]))))
    bad = []
    for p in polys:
        if p.area < 1:
            continue
        r = shapely.maximum_inscribed_circle(p, 0.5).length  # radius of the largest inner circle
        if p.area < min_area or 2 * r < min_width:
            bad.append(p)
    return bad


def local_streets(cell: Polygon, comm: Community, key: str) -> list[tuple[str, LineString]]:
    """Cross streets, through streets and lanes inside one road cell: irregular, not a lattice.

    Returns (role, line) pairs; role is "cross", "through" or "lane".
    """
    rng = rng_for("local", key)
    hmin, hmax, vmin, vmax = comm.spacing
    old = comm.kind == "township"
    angle = block_angle(cell) + math.radians(rng.uniform(-2.5, 2.5))
    c = cell.centroid
    fr = rotate(cell, -angle, origin=c, use_radians=True)
    minx, miny, maxx, maxy = fr.bounds
    width, height = maxx - minx, maxy - miny
    cand: list[tuple[str, LineString]] = []
    # through streets (along the frame's y axis) across the whole cell: one per ~600 m of width,
    # some of them gently curved
    through: list[LineString] = []
    through_x = []
    n_through = max(0, int(round(width / 560)))
    for k in range(n_through):
        x = minx + width * (k + 1) / (n_through + 1) + rng.uniform(-0.15, 0.15) * width / (n_through + 1)
        through_x.append(x)
        if rng.random() < 0.5:
            ys = np.linspace(miny - 80, maxy + 80, 5)
            xs = x + rng.uniform(-35, 35, 5) * np.array([0, 1, 1, 1, 0])
            pts = chaikin(np.column_stack([xs, ys]), 3)
        else:
            tilt = math.tan(math.radians(rng.uniform(-4, 4))) * height
            pts = frame_line(x - tilt / 2, miny - 80, x + tilt / 2, maxy + 80, rng, kink=12.0)
        for part in clip_parts(to_world(pts, angle, c), cell, 40):
            cand.append(("through", part))
            through.append(part)
    # cross streets (along x): irregularly spaced, tilted, kinked; some stop at a through street
    ys_cross = positions(miny, maxy, hmin, hmax, rng)
    main_street = len(ys_cross) // 2 if old and ys_cross else None
    for j, y in enumerate(ys_cross):
        tilt = math.tan(math.radians(rng.uniform(-4.5, 4.5))) * width
        if j == main_street:  # the old main street (正街) follows a former creek: it winds
            xs = np.linspace(minx - 80, maxx + 80, 7)
            ys = y + rng.uniform(-22, 22, 7) * np.array([0, 1, 1, 1, 1, 1, 0])
            pts = chaikin(np.column_stack([xs, ys]), 3)
        else:
            pts = frame_line(minx - 80, y - tilt / 2, maxx + 80, y + tilt / 2, rng, kink=16.0 if old else 11.0)
        for part in clip_parts(to_world(pts, angle, c), cell, 40):
            if through and j != main_street and rng.random() < 0.35:
                t = through[int(rng.integers(len(through)))]
                if part.crosses(t):
                    pieces = shapely.get_parts(shapely.ops.split(part, t))
                    pieces = [pc for pc in pieces if pc.length > 40]
                    if pieces:
                        part = pieces[int(rng.integers(len(pieces)))]
            cand.append(("cross", part))
    # lanes, band by band between the cross streets: staggered, some of them dead ends
    band_lines = [ln for _, ln in cand]
    bands = faces(band_lines, cell) if band_lines else [cell]
    for band in bands:
        bf = rotate(band, -angle, origin=c, use_radians=True)
        bminx, bminy, bmaxx, bmaxy = bf.bounds
        for x in positions(bminx, bmaxx, vmin, vmax, rng):
            if any(abs(x - tx) < 0.55 * vmin for tx in through_x):
                continue
            tilt = math.tan(math.radians(rng.uniform(-7, 7))) * (bmaxy - bminy)
            pts = frame_line(x - tilt / 2, bminy - 60, x + tilt / 2, bmaxy + 60, rng, kink=14.0 if old else 8.0)
            for part in clip_parts(to_world(pts, angle, c), band, 35):
                if rng.random() < 0.12 and part.length > 90:  # a dead-end lane
                    part = shapely.ops.substring(part, 0, part.length * rng.uniform(0.45, 0.7))
                cand.append(("lane", part))
    # drop lanes and cross streets that make slivers or tiny blocks
    lines = [ln for _, ln in cand]
    for _ in range(len(lines)):
        bad = small_faces(lines, cell, 2000.0, 28.0)
        if not bad:
            break
        touching = [i for i, ln in enumerate(lines) if ln.distance(bad[0]) < 0.01]
        if not touching:
            break
        i = min(touching, key=lambda i: (lines[i].length, i))
        lines.pop(i)
        cand.pop(i)
    return cand


def town_streets(outline: Polygon):
    """All streets except compound roads and village lanes; the preliminary communities; road cells."""
    major = major_streets()
    roads = boundary_roads(major)
    prelim = group_faces(faces(list(roads.values()), outline), lambda p: assign_community(p, roads))
    cells = faces([st.geom for st in major], outline)
    streets = list(major)
    lane_counter: dict[str, int] = {}
    for i, cell in enumerate(cells):
        key = assign_community(cell.representative_point(), roads)
        comm = COMMUNITIES[key]
        if comm.kind == "rural" or _touches_outline(cell, outline):
            continue
        rng = rng_for("names", key, i)
        for role, line in local_streets(cell, comm, f"{key}-{i}"):
            if role != "lane" and line.length > 300:
                named = [st.name for st in streets]
                free = [nm for nm in comm.streets if nm not in named]
                streets.append(Street(free[0] if free else None, "tertiary", line))
                continue
            name = None
            if rng.random() < 0.3:
                n = lane_counter.get(key, 0) + 1
                lane_counter[key] = n
                name = f"{comm.name[:2]}{_cn(n)}巷"
            streets.append(Street(name, "residential", line))
    return snap_network(streets), roads, prelim, cells


def _touches_outline(cell: Polygon, outline: Polygon) -> bool:
    return cell.boundary.intersection(outline.exterior.buffer(0.01)).length > 1.0


def _cn(n: int) -> str:
    if n <= 10:
        return CN_NUM[n - 1]
    if n < 20:
        return "十" + CN_NUM[n - 11]
    return CN_NUM[n // 10 - 1] + "十" + (CN_NUM[n % 10 - 1] if n % 10 else "")


# ----------------------------------------------------------------------------------------------
# the village: hamlets (自然湾), village roads, villager groups (村民小组)

# households of each villager group; 六组 lives in three hamlets and is the one to divide
GROUP_HOUSEHOLDS = {
    "一组": [42], "二组": [58], "三组": [36], "四组": [71], "五组": [49],
    "六组": [55, 52, 45], "七组": [64], "八组": [33], "九组": [55], "十组": [47],
}


@dataclass
class Hamlet:
    centre: Point
    group: str
    households: int
    angle: float = 0.0
    lane: LineString | None = None


def village_plan(village: Polygon, streets: list[Street]):
    """Hamlets, their lanes and connectors, field tracks, and the villager-group boundary lines."""
    rng = rng_for("village")
    main = shapely.union_all([st.geom for st in streets if st.geom.intersects(village)])
    inner = village.buffer(-170)
    minx, miny, maxx, maxy = inner.bounds
    n = sum(len(v) for v in GROUP_HOUSEHOLDS.values())
    pts: list[Point] = []
    for _ in range(20000):
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if inner.contains(p) and main.distance(p) > 120 and all(p.distance(q) > 430 for q in pts):
            pts.append(p)
            if len(pts) == n:
                break
    assert len(pts) == n, "could not place the hamlets"
    # the three hamlets of 六组: the tightest triple; the others one group each, numbered north to south
    d = np.array([[a.distance(b) for b in pts] for a in pts])
    order = np.argsort(d, axis=1)
    spread = [d[i, order[i, 1]] + d[i, order[i, 2]] for i in range(n)]
    core = int(np.argmin(spread))
    six = [core, int(order[core, 1]), int(order[core, 2])]
    rest = [i for i in range(n) if i not in six]
    rest.sort(key=lambda i: (-round(pts[i].y, -2), pts[i].x))
    names = [g for g in GROUP_HOUSEHOLDS if g != "六组"]
    hamlets = []
    for g, i in zip(names, rest):
        hamlets.append(Hamlet(pts[i], g, GROUP_HOUSEHOLDS[g][0]))
    for hh, i in zip(GROUP_HOUSEHOLDS["六组"], six):
        hamlets.append(Hamlet(pts[i], "六组", hh))
    # villager groups: Voronoi cells of the hamlets, merged per group
    cells = shapely.get_parts(shapely.voronoi_polygons(MultiPoint([h.centre for h in hamlets]), extend_to=village.buffer(600).envelope))
    by_group: dict[str, list[Polygon]] = {}
    for h in hamlets:
        cell = next(c for c in cells if c.contains(h.centre))
        by_group.setdefault(h.group, []).append(cell)
    regions = {g: shapely.union_all(v) for g, v in by_group.items()}
    group_lines = [r.boundary.intersection(village.buffer(6.0)) for r in regions.values()]
    # lanes through the hamlets, then connectors to the network, nearest hamlets first
    net = [main]
    roads: list[Street] = []
    hamlets.sort(key=lambda h: main.distance(h.centre))
    for _k, h in enumerate(hamlets):
        base = rng.choice([0.0, math.pi / 2]) + math.radians(rng.uniform(-25, 25))
        h.angle = base
        half = rng.uniform(70, 120)
        u = np.array([math.cos(base), math.sin(base)])
        c = np.array([h.centre.x, h.centre.y])
        a, b = c - u * half, c + u * half
        lane = LineString([a, c + rng.uniform(-6, 6) * np.array([-u[1], u[0]]), b])
        h.lane = lane
        netu = shapely.union_all(net)
        ea, eb = Point(a), Point(b)
        near_end = ea if netu.distance(ea) <= netu.distance(eb) else eb
        far_end = eb if near_end is ea else ea
        q = shapely.ops.nearest_points(near_end, netu)[1]
        mid = np.array([(near_end.x + q.x) / 2, (near_end.y + q.y) / 2]) + rng.uniform(-25, 25, 2)
        conn = LineString([near_end.coords[0], tuple(mid), q.coords[0]])
        roads.append(Street(None, "unclassified", lane))
        roads.append(Street(None, "unclassified", conn))
        net += [lane, conn]
        # a field track on from the far end, to the next road or into the fields
        if rng.random() < 0.7:
            ang = base + math.radians(rng.uniform(-20, 20))
            v = np.array([math.cos(ang), math.sin(ang)]) * (1 if far_end is eb else -1)
            tip = np.array(far_end.coords[0]) + v * rng.uniform(250, 600)
            track = LineString([far_end.coords[0], tuple(tip)])
            others = shapely.union_all([g for g in net if g is not lane])
            hit = track.intersection(others)
            if not hit.is_empty:
                first = min(shapely.get_parts(shapely.extract_unique_points(hit)), key=lambda p: p.distance(far_end))
                track = LineString([far_end.coords[0], first.coords[0]])
            track = largest_line(track.intersection(village.buffer(-8)))
            if track is not None and track.length > 60:
                roads.append(Street(None, "track", track))
                net.append(track)
    # the longest connector is the village's main road
    conns = [i for i, st in enumerate(roads) if st.highway == "unclassified"]
    main_i = max(conns, key=lambda i: roads[i].geom.length)
    roads[main_i] = Street("桃园路", "unclassified", roads[main_i].geom)
    hamlets.sort(key=lambda h: (h.group, h.centre.x))
    return hamlets, roads, regions, group_lines


def largest_line(geom) -> LineString | None:
    parts = [g for g in shapely.get_parts(shapely.line_merge(geom)) if isinstance(g, LineString)] if not geom.is_empty else []
    return max(parts, key=lambda g: g.length) if parts else None


# ----------------------------------------------------------------------------------------------
# building placement


@dataclass
class Site:
    """One street block being built on: what is left of its buildable land, and what was placed."""

    key: str  # community
    block: Polygon
    free: Polygon
    rng: np.random.Generator
    angle: float
    street_edges: list  # (segment LineString, highway) of the block's street frontage
    buildings: list = field(default_factory=list)
    services: list = field(default_factory=list)
    enterprises: list = field(default_factory=list)

    @property
    def households(self) -> int:
        return sum(b["households"] or 0 for b in self.buildings)

    def commit(self, polys, *, floors, households, use, names, gap: float = 6.0) -> list[Polygon]:
        polys = list(polys)
        if not polys:
            return []
        n = len(polys)
        floors = np.broadcast_to(np.asarray(floors), (n,))
        households = np.broadcast_to(np.asarray(households, dtype=object), (n,))
        names = list(names) if not isinstance(names, (str, type(None))) else [names] * n
        for g, f, h, nm in zip(polys, floors, households, names):
            self.buildings.append({"geometry": g, "floors": int(f), "households": None if h is None else int(h), "use": use, "name": nm})
        taken = shapely.union_all(shapely.buffer(np.array(polys, dtype=object), gap, join_style="mitre"))
        self.free = shapely.make_valid(self.free.difference(taken))
        return polys


def grid_candidates(site: Site, w: float, d: float, gap_w: float, gap_d: float, *, angle: float | None = None,
                    stagger: bool = False, tries: int = 8) -> np.ndarray:
    """Rectangles in rows aligned to the block that fit in its free land (the best of a few phases)."""
    free = site.free
    if free.is_empty or free.area < w * d:
        return np.array([], dtype=object)
    a = site.angle if angle is None else angle
    c = site.block.centroid
    fr = rotate(free, -a, origin=c, use_radians=True)
    minx, miny, maxx, maxy = fr.bounds
    px, py = w + gap_w, d + gap_d
    shapely.prepare(free)
    best = np.array([], dtype=object)
    for _ in range(tries):
        ox, oy = site.rng.uniform(0, px), site.rng.uniform(0, py)
        xs = np.arange(minx + ox - px, maxx + px, px)
        ys = np.arange(miny + oy - py, maxy + py, py)
        X, Y = np.meshgrid(xs, ys)
        if stagger:
            X = X + (np.arange(len(ys))[:, None] % 2) * px / 2
        X, Y = X.ravel() - c.x, Y.ravel() - c.y
        wx = c.x + X * math.cos(a) - Y * math.sin(a)
        wy = c.y + X * math.sin(a) + Y * math.cos(a)
        polys = rects(wx, wy, w, d, a)
        ok = polys[shapely.contains_properly(free, polys)]
        if len(ok) > len(best):
            best = ok
    return best


def place_one(site: Site, w: float, d: float, *, near: Point | None = None, angle: float | None = None,
              step: float = 5.0) -> Polygon | None:
    """The position for one building of w x d that fits and lies nearest ``near`` (default: the block centre)."""
    free = site.free
    if free.is_empty:
        return None
    a = site.angle if angle is None else angle
    near = near or site.block.centroid
    minx, miny, maxx, maxy = free.bounds
    X, Y = np.meshgrid(np.arange(minx, maxx, step), np.arange(miny, maxy, step))
    polys = rects(X.ravel(), Y.ravel(), w, d, a)
    shapely.prepare(free)
    ok = polys[shapely.contains_properly(free, polys)]
    if not len(ok):
        return None
    dist = shapely.distance(shapely.centroid(ok), near)
    return ok[int(np.argmin(dist))]


def frontage_candidates(site: Site, *, depth: tuple[float, float], width: tuple[float, float],
                        gap: tuple[float, float], classes=None) -> list[Polygon]:
    """Rows of small buildings along the street frontage of the free land (shop-houses, 临街房)."""
    rng = site.rng
    out: list[Polygon] = []
    from shapely.geometry.polygon import orient

    edges_ok = None
    if classes is not None:
        edges_ok = shapely.union_all([seg.buffer(SETBACK[h] + 3.0) for seg, h in site.street_edges if h in classes] or [Polygon()])
    for part in polygons_of(site.free):
        ring = np.asarray(orient(part, 1.0).exterior.coords)
        for p0, p1 in zip(ring[:-1], ring[1:]):
            seg = p1 - p0
            L = float(np.hypot(*seg))
            if L < 12:
                continue
            if edges_ok is not None and not edges_ok.contains(Point((p0 + p1) / 2)):
                continue
            u = seg / L
            nrm = np.array([-u[1], u[0]])  # inward for a counter-clockwise exterior
            a = math.atan2(u[1], u[0])
            s = rng.uniform(1.0, 4.0)
            while True:
                w = rng.uniform(*width)
                if s + w > L - 1.0:
                    break
                dd = rng.uniform(*depth)
                cen = p0 + u * (s + w / 2) + nrm * (dd / 2 + 0.4)
                out.append(rects(cen[0], cen[1], w, dd, a)[0])
                s += w + rng.uniform(*gap)
    if not out:
        return []
    arr = np.array(out, dtype=object)
    arr = arr[shapely.contains_properly(site.free, arr)]
    return non_overlapping(arr, gap=0.5)


def non_overlapping(polys, gap: float = 0.0) -> list[Polygon]:
    """Greedily keep polygons (in order) that stay ``gap`` away from the ones already kept."""
    polys = np.asarray(polys, dtype=object)
    if not len(polys):
        return []
    tree = shapely.STRtree(polys)
    left, right = tree.query(polys, predicate="dwithin", distance=gap)
    clash: dict[int, list[int]] = {}
    for a, b in zip(left, right):
        if a != b:
            clash.setdefault(int(a), []).append(int(b))
    kept: set[int] = set()
    for i in range(len(polys)):
        if not any(j in kept for j in clash.get(i, ())):
            kept.add(i)
    return [polys[i] for i in sorted(kept)]


def service_roads(site: Site, *, branches: int = 2) -> None:
    """A gated compound's internal roads: a spine from the gate with side branches, all dead ends."""
    rng = site.rng
    block = site.block
    edges = [(seg, h) for seg, h in site.street_edges if seg.length > 60 and h in ("tertiary", "residential", "secondary")]
    if not edges:
        return
    edges.sort(key=lambda e: (-e[0].length, e[0].centroid.x))
    seg, hw = edges[0] if rng.random() < 0.7 or len(edges) == 1 else edges[1]
    p0, p1 = np.asarray(seg.coords[0]), np.asarray(seg.coords[-1])
    u = (p1 - p0) / np.hypot(*(p1 - p0))
    gate = p0 + (p1 - p0) * rng.uniform(0.4, 0.6)
    nrm = np.array([-u[1], u[0]])
    if not block.contains(Point(gate + nrm * 5)):
        nrm = -nrm
    probe = LineString([gate + nrm * 1.0, gate + nrm * 3000])
    inner = block.buffer(-22)
    hit = probe.intersection(inner)
    if hit.is_empty:
        return
    first = largest_line(hit) if hit.geom_type != "LineString" else hit
    if first is None:
        return
    reach = Point(gate).distance(Point(first.coords[-1]))
    length = min(reach, max(40.0, reach * rng.uniform(0.6, 0.85)))
    fracs = sorted(rng.uniform(0.35, 0.95, branches)) if length > 100 else []
    spine_pts = [tuple(gate)] + [tuple(gate + nrm * length * f) for f in fracs] + [tuple(gate + nrm * length)]
    spine = LineString(np.round(spine_pts, 2))
    roads = [spine]
    for f in fracs:
        j = gate + nrm * length * f
        arms = []
        for sgn in (1, -1):
            ray = LineString([j, j + u * sgn * 3000])
            h = ray.intersection(inner)
            seg_in = next((g for g in shapely.get_parts(h) if g.distance(Point(j)) < 1e-6), None) if not h.is_empty else None
            arms.append(min(seg_in.length * rng.uniform(0.6, 0.9), 160) if seg_in is not None else 0.0)
        if arms[0] + arms[1] > 50:
            jj = np.round(j, 2)
            roads.append(LineString(np.round([jj + u * arms[0], jj, jj - u * arms[1]], 2)))
    for r in roads:
        site.services.append(Street(None, "service", r))
    site.free = shapely.make_valid(site.free.difference(shapely.union_all([r.buffer(SETBACK["service"]) for r in roads])))


def numbered(polys, prefix: str, suffix: str = "栋") -> list[str]:
    """Names like 阳光花园3栋, numbered north-west to south-east."""
    order = sorted(range(len(polys)), key=lambda i: (-round(polys[i].centroid.y / 15), polys[i].centroid.x))
    names = [""] * len(polys)
    for k, i in enumerate(order, 1):
        names[i] = f"{prefix}{k}{suffix}"
    return names


def thin_to(polys, households, target: int | None, rng) -> tuple[list, list]:
    """Keep buildings (in random order) until the households reach the target."""
    polys, households = list(polys), list(households)
    if target is None or sum(households) <= target:
        return polys, households
    keep = []
    total = 0
    for i in rng.permutation(len(polys)):
        if total + households[i] > target and keep:
            continue
        keep.append(int(i))
        total += households[i]
    keep.sort()
    return [polys[i] for i in keep], [households[i] for i in keep]


# ----------------------------------------------------------------------------------------------
# programmes: what a block holds


def p_towers(site: Site, name: str, target: int | None = None, floors=(18, 33)) -> None:
    """High-rise compound (小区): towers of 18–33 floors, 2–4 dwellings a floor."""
    rng = site.rng
    w, d = rng.uniform(24, 34), rng.uniform(14.5, 18)
    per_floor = int(np.clip(round(w * d / 125), 2, 4))
    base = int(rng.integers(floors[0], floors[1] + 1))
    gw, gd = rng.uniform(14, 22), rng.uniform(24, 34)
    stagger = rng.random() < 0.4
    for mult in (1.0, 1.2, 1.45, 1.75, 2.1):
        cand = grid_candidates(site, w, d, gw * mult, gd * mult, stagger=stagger)
        if target is None or len(cand) * base * per_floor <= target * 1.25:
            break
    if len(cand) < 2:  # a small block: slimmer towers, closer together
        w, d = 22.0, 14.0
        per_floor = 2
        cand = grid_candidates(site, w, d, gw * 0.8, gd * 0.85)
    fl = np.clip(base + rng.integers(-4, 5, len(cand)), floors[0], floors[1])
    polys, hh = thin_to(cand, list(fl * per_floor), target, rng)
    fl = [h // per_floor for h in hh]
    site.commit(polys, floors=fl, households=hh, use="residential", names=numbered(polys, name))


def p_slabs(site: Site, name: str, target: int | None = None, floors=(6, 11)) -> None:
    """Mid-rise (6–11 floors) or walk-up (2–5) slab blocks: 2–4 stairwells of 2 dwellings a floor."""
    rng = site.rng
    units = int(rng.integers(2, 5))
    unit_w, d = rng.uniform(14.5, 17), rng.uniform(11, 13.5)
    base = int(rng.integers(floors[0], floors[1] + 1))
    low = floors[1] <= 5
    gw, gd = rng.uniform(7, 12), rng.uniform(10, 14) if low else rng.uniform(15, 21)
    cand = np.array([], dtype=object)
    for units in range(units, 1, -1):  # noqa: B020 - shorter slabs when the long ones do not fit (from the one asked)
        for mult in (1.0, 1.25, 1.55, 1.9):
            cand = grid_candidates(site, units * unit_w, d, gw * mult, gd * mult)
            if target is None or len(cand) * base * units * 2 <= target * 1.25:
                break
        if len(cand) >= 2:
            break
    fl = np.clip(base + rng.integers(-1, 2, len(cand)), floors[0], floors[1])
    polys, hh = thin_to(cand, list(fl * units * 2), target, rng)
    fl = [h // (units * 2) for h in hh]
    site.commit(polys, floors=fl, households=hh, use="residential", names=numbered(polys, name, "号楼"), gap=5.0)


def p_shophouses(site: Site, classes=("primary", "secondary", "tertiary")) -> None:
    """Shop-houses along the main streets (商住楼): shops below, flats above, 3–6 floors."""
    rng = site.rng
    front = frontage_candidates(site, depth=(12, 15), width=(14, 30), gap=(1.0, 8.0), classes=classes)
    if not front:
        return
    fl = rng.choice([3, 4, 5, 6], size=len(front), p=[0.2, 0.35, 0.3, 0.15])
    per_floor = np.maximum(1, np.round(np.array([p.area for p in front]) / 150)).astype(int)
    site.commit(front, floors=fl, households=(fl - 1) * per_floor, use="residential", names=None, gap=2.0)


def house_households(floors: int, rng) -> int:
    """A self-built house: one household a floor or two (floors let to tenants), at least one."""
    return int(max(1, round(floors * rng.uniform(0.35, 0.75))))


def p_oldtown(site: Site, target: int | None = None, *, interior: bool = True, shops: bool = False) -> None:
    """Old town fabric: shop-houses along the streets, self-built houses inside (2–5 floors)."""
    rng = site.rng
    front = frontage_candidates(site, depth=(11, 16), width=(6.5, 12), gap=(0.6, 3.0))
    fl = rng.choice([2, 3, 4, 5], size=len(front), p=[0.15, 0.35, 0.35, 0.15])
    hh = [house_households(int(f), rng) for f in fl]
    front, hh = thin_to(front, hh, target, rng)
    fl = fl[: len(front)]
    if shops:
        hh = [0] * len(front)
    site.commit(front, floors=fl, households=hh, use="commercial" if shops else "residential", names=None, gap=1.5)
    if interior and (target is None or sum(hh) < target):
        cand = grid_candidates(site, rng.uniform(10, 13), rng.uniform(9, 12), rng.uniform(2, 4), rng.uniform(4, 7))
        if len(cand):
            cand = cand[rng.random(len(cand)) > 0.1]
        fl2 = rng.choice([2, 3, 4, 5], size=len(cand), p=[0.25, 0.35, 0.3, 0.1])
        hh2 = [house_households(int(f), rng) for f in fl2]
        rest = None if target is None else target - sum(hh)
        cand, hh2 = thin_to(cand, hh2, rest, rng)
        site.commit(cand, floors=fl2[: len(cand)], households=hh2, use="residential", names=None, gap=2.0)


def p_farmhouses(site: Site, n: int) -> None:
    """Scattered farmhouses on the edge of town (1–3 floors, one household)."""
    rng = site.rng
    cand = grid_candidates(site, rng.uniform(11, 14), rng.uniform(9, 11), rng.uniform(25, 60), rng.uniform(30, 60))
    if len(cand) > n:
        cand = cand[np.sort(rng.choice(len(cand), n, replace=False))]
    fl = rng.choice([1, 2, 3], size=len(cand), p=[0.25, 0.55, 0.2])
    site.commit(cand, floors=fl, households=[1] * len(cand), use="residential", names=None)


def enterprise(site: Site, poly: Polygon, name: str, category: str, employees: int) -> None:
    site.enterprises.append({"name": name, "category": category, "employees": int(employees), "geometry": poly.representative_point()})


def one(site: Site, w, d, floors, use, name, *, households=0, near=None, angle=None, gap=8.0) -> Polygon | None:
    p = place_one(site, w, d, near=near, angle=angle)
    if p is None:
        for shrink in (0.85, 0.7):
            p = place_one(site, w * shrink, d * shrink, near=near, angle=angle)
            if p is not None:
                break
    if p is not None:
        site.commit([p], floors=floors, households=households, use=use, names=name, gap=gap)
    return p


def p_school(site: Site, name: str, level: str, employees: int) -> None:
    """A school: sports ground, teaching buildings, and for a middle school a canteen and dormitory."""
    field_size = {"middle": (115, 72), "primary": (85, 52), "kindergarten": (40, 28)}[level]
    ground = place_one(site, *field_size)
    if ground is not None:  # the sports ground is open land: keep it free of buildings
        site.free = shapely.make_valid(site.free.difference(ground.buffer(6)))
    n_teach = {"middle": 4, "primary": 3, "kindergarten": 1}[level]
    floors = {"middle": 5, "primary": 4, "kindergarten": 3}[level]
    w = {"middle": 64, "primary": 55, "kindergarten": 42}[level]
    cand = grid_candidates(site, w, 15, 12, 20)
    if len(cand):
        order = np.argsort(shapely.distance(cand, site.block.centroid))
        cand = cand[order[:n_teach]]
    names = [f"{name}{'教学楼' if level != 'kindergarten' else '主楼'}{CN_NUM[i]}" if level != "kindergarten" else f"{name}主楼" for i in range(len(cand))]
    teach = site.commit(cand, floors=floors, households=0, use="school", names=names)
    if level != "kindergarten":
        one(site, 40, 16, floors, "school", f"{name}综合楼")
        one(site, 38, 24, 2, "school", f"{name}食堂")
    if level == "middle":
        one(site, 52, 13, 6, "school", f"{name}学生宿舍")
    if teach:
        enterprise(site, teach[0], name, "school", employees)


def p_hospital(site: Site, name: str, employees: int, staff_target: int) -> None:
    main = one(site, 62, 20, 11, "hospital", f"{name}住院楼")
    one(site, 72, 30, 4, "hospital", f"{name}门诊楼")
    one(site, 40, 20, 3, "hospital", f"{name}医技楼")
    one(site, 26, 14, 2, "hospital", f"{name}后勤楼")
    if main is not None:
        enterprise(site, main, name, "hospital", employees)
    p_slabs(site, f"{name}宿舍", staff_target, floors=(6, 7))


def p_government(site: Site) -> None:
    town = site.block.centroid
    gov = one(site, 62, 18, 5, "government", f"{TOWN_NAME}人民政府办公楼", near=town)
    svc = one(site, 44, 16, 3, "government", f"{TOWN_NAME}便民服务中心")
    police = one(site, 36, 15, 4, "government", f"{TOWN_NAME}派出所")
    fin = one(site, 24, 12, 3, "government", f"{TOWN_NAME}财政所")
    for p, nm, cat, emp in ((gov, f"{TOWN_NAME}人民政府", "government", 160), (svc, f"{TOWN_NAME}便民服务中心", "government", 28),
                            (police, f"{TOWN_NAME}派出所", "government", 46), (fin, f"{TOWN_NAME}财政所", "government", 14)):
        if p is not None:
            enterprise(site, p, nm, cat, emp)
    p_oldtown(site, 70, interior=False)


def p_market(site: Site, name: str) -> None:
    hall = one(site, 84, 50, 2, "market", name)
    if hall is not None:
        enterprise(site, hall, name, "market", 55)
    p_oldtown(site, 90)


def p_apartment(site: Site) -> None:
    """金都国际公寓: the single tower over 500 households (33 floors, 16 small flats a floor)."""
    mall = one(site, 62, 36, 4, "commercial", "金都购物广场")
    tower = one(site, 50, 24, 33, "residential", "金都国际公寓", households=33 * 16, gap=15)
    assert tower is not None, "no room for 金都国际公寓"
    if mall is not None:
        enterprise(site, mall, "金都购物广场", "business", 180)
    p_slabs(site, "金都花园", 150, floors=(9, 11))


def p_office(site: Site, target: int) -> None:
    tower = one(site, 44, 26, 22, "office", "青石商务大厦")
    one(site, 72, 36, 3, "commercial", "青石商务大厦裙楼")
    if tower is not None:
        enterprise(site, tower, "青石商务大厦", "office", 320)
    p_slabs(site, "东风苑", target, floors=(7, 11))


def p_commercial_street(site: Site) -> None:
    mart = one(site, 60, 40, 2, "commercial", "青石百货超市")
    if mart is not None:
        enterprise(site, mart, "正街商业步行街", "business", 150)
    p_oldtown(site, None, interior=False, shops=True)
    p_oldtown(site, 40, interior=True)


def p_service_centre(site: Site, comm: Community) -> None:
    p = one(site, 30, 14, 3, "government", f"{comm.name}党群服务中心", near=site.street_edges[0][0].centroid if site.street_edges else None)
    if p is not None:
        enterprise(site, p, f"{comm.name}居民委员会", "government", int(site.rng.integers(8, 16)))


FACTORIES = [
    ("青石精密机械有限公司", 420), ("华兴纺织有限公司", 580), ("楚天食品有限公司", 260), ("鑫源包装材料有限公司", 140),
    ("恒达建材有限公司", 95), ("康源生物科技有限公司", 210), ("银河电子有限公司", 350), ("青石石膏制品有限公司", 120),
]


def p_industrial(site: Site, factories: list[tuple[str, int]], dorm: bool) -> None:
    """Factories side by side: sheds, an office, sometimes a workers' dormitory."""
    rng = site.rng
    c = site.block.centroid
    fr = rotate(site.free, -site.angle, origin=c, use_radians=True)
    minx, miny, maxx, maxy = fr.bounds
    k = len(factories)
    cuts = np.linspace(minx, maxx, k + 1)
    for i, (fname, employees) in enumerate(factories):
        whole = site.free
        strip = Polygon([(cuts[i] + 8, miny - 10), (cuts[i + 1] - 8, miny - 10), (cuts[i + 1] - 8, maxy + 10), (cuts[i] + 8, maxy + 10)])
        plot = shapely.make_valid(whole.intersection(rotate(strip, site.angle, origin=c, use_radians=True)))
        rest = shapely.make_valid(whole.difference(plot))
        site.free = plot
        office = one(site, 32, 13, int(rng.integers(3, 5)), "industrial", f"{fname}办公楼", near=plot.centroid)
        sw, sd = rng.uniform(70, 130), rng.uniform(32, 55)
        sheds = grid_candidates(site, sw, sd, rng.uniform(12, 18), rng.uniform(14, 22))[:4]
        if not len(sheds):
            sheds = grid_candidates(site, sw * 0.6, sd * 0.7, 14, 16)[:2]
        site.commit(sheds, floors=rng.choice([1, 1, 2, 3], size=len(sheds)), households=0, use="industrial",
                    names=[f"{fname}{CN_NUM[j]}号厂房" for j in range(len(sheds))], gap=10)
        if dorm and i == 0:
            one(site, 50, 12, 6, "residential", f"{fname}职工宿舍", households=6 * 8)
        if office is not None:
            enterprise(site, office, fname, "enterprise", employees)
        site.free = shapely.make_valid(rest.union(site.free))


SHOP_NAMES = ["购物中心", "超市", "商贸城", "家电城", "建材市场", "家具城"]


def p_amenity(site: Site, kind: str, comm: Community, seq: int = 0) -> None:
    """Land that holds few or no households: a supermarket and shops, warehouses, a park, a building site.

    ``seq`` numbers the amenities of one community, so that their names differ.
    """
    rng = site.rng
    prefix = comm.name[:2]
    if kind == "commercial_block":
        name = f"{prefix}{SHOP_NAMES[seq % len(SHOP_NAMES)]}"
        mart = one(site, rng.uniform(45, 70), rng.uniform(30, 45), int(rng.integers(2, 4)), "commercial", name)
        p_shophouses(site)
        front = frontage_candidates(site, depth=(10, 14), width=(8, 16), gap=(0.8, 4.0))
        site.commit(front, floors=rng.choice([1, 2, 3], size=len(front)), households=0, use="commercial", names=None, gap=1.5)
        if mart is not None:
            enterprise(site, mart, name, "business", int(rng.integers(40, 120)))
    elif kind == "warehouse":
        company = f"{TOWN_NAME}{prefix}{'物流' if seq % 2 == 0 else '仓储'}有限公司" + ("" if seq < 2 else f"{CN_NUM[seq // 2]}分公司")
        sheds = grid_candidates(site, rng.uniform(50, 80), rng.uniform(22, 32), 12, 14)[:4]
        site.commit(sheds, floors=1, households=0, use="industrial", names=[f"{company[:-4]}仓库{CN_NUM[j]}" for j in range(len(sheds))])
        if len(sheds):
            enterprise(site, sheds[0], company, "enterprise", int(rng.integers(20, 60)))
    # "green" (a park) and "vacant" (a building site) hold nothing


def p_park_office(site: Site) -> None:
    p = one(site, 46, 18, 5, "office", "青石工业园管理委员会")
    if p is not None:
        enterprise(site, p, "青石工业园管理委员会", "park", 26)


# ----------------------------------------------------------------------------------------------
# what each community holds: special blocks by anchor point, then a default mix for the rest

TOWER_NAMES = ["锦绣华庭", "金色家园", "翰林苑", "丽景湾", "书香名邸", "江南水岸", "盛世名门", "紫荆苑", "水岸名都",
               "凤凰城", "中央公馆", "文景苑", "东方明珠花园", "华府天地", "香樟郡", "学府壹号", "湖畔新城", "世纪花园"]
SLAB_PREFIX = ["幸福", "新华", "光明", "建设", "和平", "育才", "电力", "教师", "邮电", "丰收", "团结", "工商", "长青",
               "龙泉", "朝阳", "北门", "永安", "健康", "青年", "文化", "园林", "滨湖", "金桂", "福星", "丰泽", "春晖",
               "康乐", "惠民", "泰和", "怡景", "安居", "祥和", "瑞丰", "锦华", "兴旺", "桂花", "荷塘", "翠竹"]
SLAB_SUFFIX = ["小区", "花园", "苑", "家园", "新村", "公寓"]
WORK_UNITS = ["供销社", "粮站", "农机站", "水利站", "信用社", "卫生院", "食品站", "棉花站", "邮政所", "税务所", "电影院",
              "农技站", "国土所", "林业站", "电管站", "兽医站", "广播站", "文化站", "烟草站", "粮管所", "棉纺厂", "酒厂",
              "砖瓦厂", "化肥厂", "农具厂", "油厂", "米厂", "印刷厂"]


def name_pools() -> dict[str, list[str]]:
    """Compound names for the default blocks, drawn in a fixed shuffled order."""
    rng = rng_for("names")
    slabs = [p + s for p in SLAB_PREFIX for s in SLAB_SUFFIX]
    rng.shuffle(slabs)
    walkups = [u + ("宿舍" if k % 3 else "家属院") for k, u in enumerate(WORK_UNITS)]
    rng.shuffle(walkups)
    towers = list(TOWER_NAMES)
    rng.shuffle(towers)
    more = [p + s for p in ("星河", "碧水", "云栖", "君悦", "铂悦", "天成", "锦江", "金域", "龙湾", "华庭")
            for s in ("华庭", "名邸", "公馆", "新城", "名都", "御府", "雅苑")]
    rng.shuffle(more)
    towers += [n for n in more if n not in towers]
    return {"towers": towers, "slabs": slabs, "walkups": walkups}


# density of the default programmes, households per hectare of block
DENSITY = {"towers": 260.0, "slabs": 170.0, "walkups": 120.0, "oldtown": 110.0}

PLANS: dict[str, dict] = {
    "幸福": {"target": 4300, "mix": {"towers": 0.55, "slabs": 0.45}, "specials": [
        ((880, 780), "apartment", {}),
        ((300, 300), "towers", {"name": "滨湖春晓", "target": 1450, "big": True}),
        ((700, 330), "towers", {"name": "锦绣华庭", "target": 820, "big": True}),
        ((230, 700), "school", {"name": f"{TOWN_NAME}幸福幼儿园", "level": "kindergarten", "employees": 26}),
    ]},
    "新华": {"target": 3100, "mix": {"slabs": 0.6, "walkups": 0.25, "towers": 0.15}, "specials": [
        ((1500, 250), "school", {"name": f"{TOWN_NAME}中学", "level": "middle", "employees": 118, "big": True}),
        ((1750, 700), "towers", {"name": "御景华府", "target": 640, "big": True}),
    ]},
    "兴业": {"target": 1900, "mix": {"towers": 0.5, "slabs": 0.5}, "specials": [
        ((2300, 180), "industrial", {"factories": [0, 1], "dorm": True, "park_office": True, "big": True}),
        ((2700, 180), "industrial", {"factories": [2, 3], "dorm": True, "big": True}),
    ], "industrial_south_of": 340, "industrial_fringe": [[4, 5, 6]], "spare_factories": [7]},
    "光明": {"target": 3100, "mix": {"slabs": 0.5, "walkups": 0.3, "towers": 0.2}, "specials": [
        ((820, 1080), "hospital", {"name": f"{TOWN_NAME}人民医院", "employees": 265, "staff_target": 160, "big": True}),
        ((300, 1500), "school", {"name": f"{TOWN_NAME}第一小学", "level": "primary", "employees": 78, "big": True}),
    ]},
    "正街": {"target": 2400, "mix": {"oldtown": 0.35, "walkups": 0.3, "slabs": 0.35}, "specials": [
        ((1520, 1600), "government", {"big": True}),
        ((1280, 1180), "market", {"name": f"{TOWN_NAME}农贸市场", "big": True}),
        ((1720, 1250), "commercial", {}),
        ((1830, 1680), "school", {"name": f"{TOWN_NAME}中心幼儿园", "level": "kindergarten", "employees": 34}),
        ((1150, 1650), "park", {}),
    ]},
    "东风": {"target": 3000, "mix": {"towers": 0.45, "slabs": 0.55}, "specials": [
        ((2130, 1250), "office", {"target": 120}),
        ((2700, 1200), "towers", {"name": "天润城", "target": 980, "big": True}),
    ]},
    "阳光": {"target": 3900, "mix": {"towers": 0.5, "slabs": 0.35, "walkups": 0.15}, "specials": [
        ((420, 2160), "towers", {"name": "阳光花园", "target": 1200, "big": True}),
        ((1250, 2000), "park", {}),
    ]},
    "红旗": {"target": 3100, "mix": {"slabs": 0.55, "walkups": 0.25, "towers": 0.2}, "specials": [
        ((2300, 2300), "school", {"name": f"{TOWN_NAME}第二小学", "level": "primary", "employees": 64, "big": True}),
    ]},
}


def street_edges(block: Polygon, tree: shapely.STRtree, streets: list[Street]) -> list[tuple[LineString, str]]:
    ring = np.asarray(block.exterior.coords)
    segs = shapely.linestrings(np.stack([ring[:-1], ring[1:]], axis=1))
    mids = shapely.line_interpolate_point(segs, 0.5, normalized=True)
    out = []
    for seg, mid in zip(segs, mids):
        hits = tree.query(mid, predicate="dwithin", distance=0.01)
        if len(hits):
            j = min(hits, key=lambda j: (list(SETBACK).index(streets[j].highway), j))
            out.append((seg, streets[j].highway))
    return out


def make_site(key: str, block: Polygon, streets: list[Street], tree: shapely.STRtree, rng) -> Site:
    near = tree.query(block, predicate="intersects")
    buf = shapely.union_all([streets[j].geom.buffer(SETBACK[streets[j].highway]) for j in near])
    free = shapely.make_valid(block.buffer(-BOUNDARY_SETBACK).difference(buf))
    return Site(key, block, free, rng, block_angle(block), street_edges(block, tree, streets))


def draw(names: dict[str, list[str]], kind: str) -> str:
    return (names[kind] or names["slabs"]).pop(0)


def run_programme(site: Site, prog: str, kw: dict, comm: Community, names: dict[str, list[str]]) -> None:
    if prog == "apartment":
        p_apartment(site)
    elif prog in ("towers", "slabs", "walkups"):
        name = kw.get("name") or draw(names, prog)
        target = kw.get("target")
        gated = prog == "towers" or (prog == "slabs" and site.block.area > 40000)
        if gated:
            service_roads(site, branches=2 if prog == "towers" else 1)
        if prog != "walkups" and not kw.get("big"):
            p_shophouses(site)
        if target is not None:
            target = max(0, target - site.households)
        if prog == "towers":
            p_towers(site, name, target)
        elif prog == "slabs":
            p_slabs(site, name, target, floors=(6, 11))
        else:
            p_slabs(site, name, target, floors=(3, 5))
    elif prog == "oldtown":
        p_oldtown(site, kw.get("target"))
    elif prog == "school":
        p_school(site, kw["name"], kw["level"], kw["employees"])
        if kw["level"] == "kindergarten":
            p_oldtown(site, 60) if comm.kind == "township" else p_slabs(site, draw(names, "slabs"), 200, floors=(6, 9))
    elif prog == "hospital":
        p_hospital(site, kw["name"], kw["employees"], kw["staff_target"])
    elif prog == "government":
        p_government(site)
    elif prog == "market":
        p_market(site, kw["name"])
    elif prog == "commercial":
        p_commercial_street(site)
    elif prog == "office":
        p_office(site, kw["target"])
    elif prog == "industrial":
        if kw.get("park_office"):
            p_park_office(site)
        p_industrial(site, [FACTORIES[i] for i in kw["factories"]], kw["dorm"])
    elif prog == "park_office":
        p_park_office(site)
    elif prog == "park":
        pass
    else:
        raise ValueError(prog)


def build_urban(blocks: list[tuple[str, Polygon]], streets: list[Street], outline: Polygon) -> list[Site]:
    """Fill every block of the urban communities and the township seat."""
    tree = shapely.STRtree([st.geom for st in streets])
    sites: list[Site] = []
    names = name_pools()
    for plan in PLANS.values():  # names given to special blocks are not drawn again
        for _, _, kw in plan["specials"]:
            for pool in names.values():
                if kw.get("name") in pool:
                    pool.remove(kw["name"])
    for key, plan in PLANS.items():
        comm = COMMUNITIES[key]
        mine = [(i, b) for i, (k, b) in enumerate(blocks) if k == key]
        fringe = {i for i, b in mine if _touches_outline(b, outline)}
        inner = [(i, b) for i, b in mine if i not in fringe and b.area > 2500]
        progs: dict[int, tuple[str, dict]] = {}
        for anchor, prog, kw in plan["specials"]:
            free = [(i, b) for i, b in inner if i not in progs]
            at = Point(design(anchor))
            if kw.get("big"):  # a big compound or school takes the largest block near its anchor
                near = [ib for ib in free if ib[1].distance(at) < 250]
                i, _ = max(near or free, key=lambda ib: (ib[1].area, -ib[0]))
            else:
                i, _ = min(free, key=lambda ib: (ib[1].distance(at), ib[0]))
            progs[i] = (prog, kw)
        rng = rng_for("plan", key)
        default = [(i, b) for i, b in inner if i not in progs]
        kinds, weights = zip(*plan["mix"].items())
        choice = {i: str(rng.choice(kinds, p=np.array(weights) / sum(weights))) for i, _ in default}
        if "industrial_south_of" in plan:  # the industrial park's own blocks
            for i, b in default:
                if b.centroid.y < design([(0.0, plan["industrial_south_of"])])[0, 1]:
                    choice[i] = "industrial_small"
        # households of the special blocks are fixed by their programmes; the default blocks share the rest
        done: dict[int, Site] = {}
        for i, (prog, kw) in progs.items():
            site = make_site(key, blocks[i][1], streets, tree, rng_for("block", key, i))
            run_programme(site, prog, kw, comm, names)
            done[i] = site
        left = plan["target"] - sum(s.households for s in done.values())
        # what each default block holds when built up fully (a trial run with the block's own generator)
        trial_names = {k: list(v) for k, v in names.items()}
        capacity = {}
        for i, b in default:
            if choice[i] in DENSITY:
                trial = make_site(key, b, streets, tree, rng_for("block", key, i))
                run_programme(trial, choice[i], {}, comm, trial_names)
                capacity[i] = trial.households
        # more land than households: some default blocks become parks, shops, warehouses, building sites
        amenities = ["commercial_block", "green", "warehouse", "commercial_block", "green", "vacant"]
        k = 0
        while sum(capacity.values()) * 0.8 > left and len(capacity) > 1:
            i = sorted(capacity)[int(rng.integers(len(capacity)))]
            del capacity[i]
            choice[i] = amenities[k % len(amenities)]
            k += 1
        factor = min(1.0, left / sum(capacity.values())) if capacity else 0.0
        first = True
        seq = 0
        spare_factories = list(plan.get("spare_factories", []))
        for i, b in default:
            site = make_site(key, b, streets, tree, rng_for("block", key, i))
            if first:
                p_service_centre(site, comm)
                first = False
            prog = choice[i]
            if prog == "industrial_small":
                if spare_factories:
                    p_industrial(site, [FACTORIES[spare_factories.pop(0)]], False)
                else:
                    p_amenity(site, "warehouse", comm, seq)
                    seq += 1
            elif prog not in DENSITY:
                p_amenity(site, prog, comm, seq)
                seq += 1
            else:
                target = int(capacity[i] * factor)
                run_programme(site, prog, {"target": target}, comm, names)
            done[i] = site
        industrial_fringe = list(plan.get("industrial_fringe", []))
        for i in sorted(fringe, key=lambda i: -blocks[i][1].area):
            site = make_site(key, blocks[i][1], streets, tree, rng_for("block", key, i))
            if industrial_fringe and blocks[i][1].area > 30000:
                p_industrial(site, [FACTORIES[j] for j in industrial_fringe.pop(0)], False)
            else:
                p_farmhouses(site, int(site.rng.integers(2, 9)))
            done[i] = site
        sites += [done[i] for i in sorted(done)]
    return sites


def build_village(village: Polygon, hamlets: list[Hamlet], streets: list[Street], group_lines) -> Site:
    """Village houses (1–3 floors) along the hamlet lanes, each hamlet inside its villager group."""
    rng = rng_for("houses")
    near = [st for st in streets if st.geom.intersects(village.buffer(50))]
    buf = shapely.union_all([st.geom.buffer(SETBACK[st.highway]) for st in near] + [g.buffer(BOUNDARY_SETBACK) for g in group_lines])
    free = shapely.make_valid(village.buffer(-BOUNDARY_SETBACK).difference(buf))
    site = Site("桃园", village, free, rng, 0.0, [])
    committee = max(hamlets, key=lambda h: h.households)
    for h in hamlets:
        u = np.array([math.cos(h.angle), math.sin(h.angle)])
        nrm = np.array([-u[1], u[0]])
        c = np.array([h.centre.x, h.centre.y])
        cand, order = [], []
        for side in (1, -1):
            for row in range(4):
                t = -200.0 + rng.uniform(0, 8)
                while t < 200:
                    w, d = rng.uniform(10.5, 15), rng.uniform(9, 12)
                    off = side * (SETBACK["unclassified"] + 1.5 + d / 2 + row * rng.uniform(24, 30))
                    p = c + u * (t + w / 2) + nrm * off
                    cand.append(rects(p[0], p[1], w, d, h.angle + math.radians(rng.uniform(-3, 3)))[0])
                    order.append(abs(t + w / 2) + 1.6 * abs(off) + rng.uniform(0, 25))
                    t += w + rng.uniform(3, 14)
        cand = np.array([cand[i] for i in np.argsort(order, kind="stable")], dtype=object)
        whole = site.free
        site.free = shapely.make_valid(whole.intersection(h.centre.buffer(320)))
        if h is committee:
            for w, d, fl, use, nm, cat, emp in ((26, 12, 2, "government", "桃园村村民委员会", "government", 9),
                                                (15, 10, 1, "hospital", "桃园村卫生室", "hospital", 4)):
                p = place_one(site, w, d, near=h.centre, angle=h.angle)
                if p is not None:
                    site.commit([p], floors=fl, households=0, use=use, names=nm, gap=3.0)
                    enterprise(site, p, nm, cat, emp)
        cand = non_overlapping(cand[shapely.contains_properly(site.free, cand)], gap=2.5)
        houses, hhs = [], []
        total = 0
        for p in cand:
            if total >= h.households:
                break
            hh = min(1 if rng.random() < 0.88 else 2, h.households - total)
            houses.append(p)
            hhs.append(hh)
            total += hh
        assert total == h.households, (h.group, total, h.households)
        fl = rng.choice([1, 2, 3], size=len(houses), p=[0.15, 0.6, 0.25])
        site.commit(houses, floors=fl, households=hhs, use="residential", names=None, gap=2.5)
        site.free = whole.difference(h.centre.buffer(320)).union(site.free)
    return site


# ----------------------------------------------------------------------------------------------
# assembling the layers


def build_town() -> dict[str, gpd.GeoDataFrame]:
    """Every layer of the sample town, in local metres (x east, y north)."""
    outline = town_outline()
    streets, roads, prelim, _ = town_streets(outline)
    village = prelim["桃园"]
    hamlets, village_roads, regions, group_lines = village_plan(village, streets)
    streets = snap_network(streets + village_roads)

    # street blocks (streets with the community boundaries), then what stands in them
    lines = [st.geom for st in streets] + [p.exterior for p in prelim.values()]
    blocks = [(assign_community(b.representative_point(), roads), b) for b in faces(lines, outline)]
    sites = build_urban(blocks, streets, outline)
    sites.append(build_village(village, hamlets, streets, group_lines))
    streets = snap_network(streets + [st for s in sites for st in s.services])
    # every crossing (of two streets, of a street and the town outline or a villager-group line)
    # becomes a vertex of both lines
    others = [Street(None, "", g) for g in [outline.exterior, *group_lines]]
    points = crossings(streets + others)
    ref = MultiPoint(points)
    streets = snap_network(streets, extra_points=points, tolerance=1e-6)
    outline = Polygon(shapely.snap(outline.exterior, ref, 1e-6))
    group_lines = [shapely.snap(g, ref, 1e-6) for g in group_lines]

    # final communities and villager groups from one noded arrangement, so that they share vertices
    roads = boundary_roads(streets)
    polys = faces(list(roads.values()) + list(group_lines), outline)
    comm_of = [assign_community(p.representative_point(), roads) for p in polys]
    communities = {k: shapely.coverage_union_all([p for p, c in zip(polys, comm_of) if c == k]) for k in COMMUNITIES}
    groups = {}
    for g, region in regions.items():
        mine = [p for p, c in zip(polys, comm_of) if c == "桃园" and region.contains(p.representative_point())]
        groups[g] = shapely.coverage_union_all(mine)
    vertices = shapely.get_coordinates(np.array(list(communities.values()), dtype=object))
    streets = snap_network(streets, extra_points=map(tuple, vertices), tolerance=1e-4)

    comm_gdf = gpd.GeoDataFrame(
        {"code": [COMMUNITIES[k].code for k in communities], "name": [COMMUNITIES[k].name for k in communities],
         "kind": [COMMUNITIES[k].kind for k in communities]},
        geometry=list(communities.values()), crs=None,
    ).sort_values("code", ignore_index=True)
    street_gdf = gpd.GeoDataFrame(
        {"name": [st.name for st in streets], "highway": [st.highway for st in streets]},
        geometry=[st.geom for st in streets],
    )
    street_gdf = street_gdf[street_gdf.length > 0.5].reset_index(drop=True)
    group_names = [g for g in GROUP_HOUSEHOLDS]
    group_gdf = gpd.GeoDataFrame(
        {"name": group_names, "community_code": [COMMUNITIES["桃园"].code] * len(group_names)},
        geometry=[groups[g] for g in group_names],
    )

    recs = [dict(b, key=s.key) for s in sites for b in s.buildings]
    bld = gpd.GeoDataFrame(recs, geometry="geometry")
    cent = bld.geometry.representative_point()
    bld["_code"] = [COMMUNITIES[k].code for k in bld["key"]]
    bld["_y"] = -np.round(cent.y.to_numpy(), 1)
    bld["_x"] = np.round(cent.x.to_numpy(), 1)
    bld = bld.sort_values(["_code", "_y", "_x"], ignore_index=True)
    bld["building_id"] = [f"B{i:05d}" for i in range(1, len(bld) + 1)]
    # a few residential buildings without a household count (the pipeline estimates them from floors)
    rng = rng_for("missing")
    urban_res = bld.index[(bld["use"] == "residential") & (bld["key"] != "桃园") & (bld["households"].fillna(0) < 400)]
    missing = rng.choice(urban_res, size=int(round(0.03 * len(urban_res))), replace=False)
    hh = bld["households"].astype("Int64")
    hh[np.sort(missing)] = pd.NA
    bld["households"] = hh
    bld["floors"] = bld["floors"].astype("int64")
    bld = bld[["building_id", "households", "floors", "use", "name", "geometry"]]

    ent = gpd.GeoDataFrame([e for s in sites for e in s.enterprises], geometry="geometry")
    ent = ent[["name", "category", "employees", "geometry"]].reset_index(drop=True)
    return {"communities": comm_gdf, "streets": street_gdf, "buildings": bld, "villager_groups": group_gdf, "enterprises": ent}


# ----------------------------------------------------------------------------------------------
# the staff roster (fictional people, fictional phone numbers)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
GIVEN = "建国华明丽芳军伟秀英敏静强磊洋艳勇杰娟涛超霞平刚桂兰玉梅红云海燕春晓文斌志慧德新金凤淑琴俊婷辉雪波荣"


def staff_roster(communities: gpd.GeoDataFrame, households: dict[str, int], groups: int) -> list[dict]:
    """Grid leaders, one grid worker per ~400 households (one per villager group in the village), building leaders."""
    rng = rng_for("staff")
    used_names: set[str] = set()
    used_phones: set[str] = set()
    rows = []

    def person(role: str, code: str) -> None:
        while True:
            nm = str(rng.choice(list(SURNAMES))) + "".join(rng.choice(list(GIVEN), size=int(rng.choice([1, 2], p=[0.3, 0.7]))))
            if nm not in used_names:
                break
        while True:
            phone = f"1{rng.choice(['33', '35', '38', '39', '58', '59', '77', '86', '87'])}-5550-{int(rng.integers(0, 10000)):04d}"
            if phone not in used_phones:
                break
        used_names.add(nm)
        used_phones.add(phone)
        rows.append({"name": nm, "phone": phone, "role": role, "community_code": code})

    for code, kind in zip(communities["code"], communities["kind"]):
        h = households[code]
        workers = groups if kind == "rural" else math.ceil(h / 400)
        leaders = max(1, math.ceil(workers / 4))
        building_leaders = 0 if kind == "rural" else math.ceil(h / 160)
        for role, n in (("网格长", leaders), ("网格员", workers), ("楼栋长", building_leaders)):
            for _ in range(n):
                person(role, code)
    return rows


# ----------------------------------------------------------------------------------------------
# writing

LAYERS = ("communities", "streets", "buildings", "villager_groups", "enterprises")


def to_storage(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """Local metres to EPSG:4547 to CGCS2000 geographic (EPSG:4490), point by point."""
    out = {}
    for name, gdf in layers.items():
        geom = shapely.transform(gdf.geometry.values, lambda xy: xy + np.array(ORIGIN_XY))
        out[name] = gdf.set_geometry(gpd.GeoSeries(geom, index=gdf.index, crs=METRIC_EPSG)).to_crs(STORAGE_EPSG)
    return out


def community_households(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, int]:
    """Households per community: given counts, plus footprint x floors / 90 m2 where a count is missing."""
    b = layers["buildings"]
    est = np.where(b["households"].isna(), np.round(b.area * b["floors"] / DWELLING_M2), b["households"].astype(float))
    pts = gpd.GeoDataFrame({"h": est}, geometry=b.geometry.representative_point())
    j = gpd.sjoin(pts, layers["communities"][["code", "geometry"]], predicate="within")
    return {code: int(j.loc[j["code"] == code, "h"].sum()) for code in layers["communities"]["code"]}


def write(out_dir: Path) -> dict[str, gpd.GeoDataFrame]:
    local = build_town()
    households = community_households(local)
    staff = staff_roster(local["communities"], households, len(local["villager_groups"]))
    layers = to_storage(local)
    out_dir.mkdir(parents=True, exist_ok=True)
    gpkg = out_dir / "sample_town.gpkg"
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        tmp_gpkg = Path(tmp) / gpkg.name
        for name in LAYERS:
            pyogrio.write_dataframe(layers[name], tmp_gpkg, layer=name, driver="GPKG")
        os.replace(tmp_gpkg, gpkg)
    with open(out_dir / "sample_town_staff.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["name", "phone", "role", "community_code"], lineterminator="\n")
        w.writeheader()
        w.writerows(staff)
    return local


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data",
                        help="folder to write sample_town.gpkg and sample_town_staff.csv into (default: data/)")
    parser.add_argument("--quiet", action="store_true", help="do not print the summary")
    args = parser.parse_args(argv)
    local = write(args.out)
    if not args.quiet:
        hh = community_households(local)
        c = local["communities"]
        for code, name, kind in zip(c["code"], c["name"], c["kind"]):
            print(f"{code} {name:<6} {kind:<8} {hh[code]:>6} households")
        print(f"total {sum(hh.values())} households; {len(local['buildings'])} buildings, {len(local['streets'])} streets, "
              f"{len(local['enterprises'])} enterprises -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
