"""A small partitioned plan for the publishing tests (maps, signs, browser), built inline in metres.

Layout (metres from conftest.ORIGIN, EPSG:4547; the plan is stored in EPSG:4490)::

    y=400 +------+------+------+------+------+
          |      |      |      |      |  G6  |     A = 420103001001: G1 G2 G3 (x 0-600)
          |  G1  |  G2  |  G3  |  G4  +------+     B = 420103001002: G4 G5 G6 (x 600-1000)
          |      |      |      |      |  G5  |     each grid of A and G4 holds two small grids (y < 200, y > 200)
    y=0   +------+------+------+------+------+
          0     200    400    600    800   1000
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely import box

from conftest import CODE_A, CODE_B, METRIC_EPSG, at, line, rect
from gridgeo.plan import Plan

GRID_BOXES = {
    f"{CODE_A}001": (CODE_A, (0, 0, 200, 400)),
    f"{CODE_A}002": (CODE_A, (200, 0, 400, 400)),
    f"{CODE_A}003": (CODE_A, (400, 0, 600, 400)),
    f"{CODE_B}001": (CODE_B, (600, 0, 800, 400)),
    f"{CODE_B}002": (CODE_B, (800, 0, 1000, 200)),
    f"{CODE_B}003": (CODE_B, (800, 200, 1000, 400)),
}
HOUSEHOLDS = {f"{CODE_A}001": 431, f"{CODE_A}002": 377, f"{CODE_A}003": 409, f"{CODE_B}001": 353, f"{CODE_B}002": 467,
              f"{CODE_B}003": 319}
#: grids sharing an edge
NEIGHBOURS = [(f"{CODE_A}001", f"{CODE_A}002"), (f"{CODE_A}002", f"{CODE_A}003"), (f"{CODE_A}003", f"{CODE_B}001"),
              (f"{CODE_B}001", f"{CODE_B}002"), (f"{CODE_B}001", f"{CODE_B}003"), (f"{CODE_B}002", f"{CODE_B}003")]


def town_plan(*, dedicated: bool = False) -> Plan:
    """Two communities, six grids, ten small grids, one building per small grid, named streets."""
    communities = gpd.GeoDataFrame({"code": [CODE_A, CODE_B], "name": ["民族街社区", "花楼水塔社区"], "kind": ["urban", "urban"]},
                                   geometry=[rect(0, 0, 600, 400), rect(600, 0, 1000, 400)], crs=METRIC_EPSG)
    grids, subgrids, buildings = [], [], []
    for code, (community, (x0, y0, x1, y1)) in GRID_BOXES.items():
        kind = "dedicated" if dedicated and code.endswith(f"{CODE_B}002") else "base"
        grids.append({"grid_code": code, "community_code": community, "kind": kind, "households": HOUSEHOLDS[code],
                      "buildings": 2 if y1 - y0 == 400 else 1, "area_m2": float((x1 - x0) * (y1 - y0)), "flags": "",
                      "geometry": rect(x0, y0, x1, y1)})
        halves = [(y0, 200), (200, y1)] if y1 - y0 == 400 else [(y0, y1)]
        for i, (a, b) in enumerate(halves, start=1):
            share = HOUSEHOLDS[code] // len(halves) + (HOUSEHOLDS[code] % len(halves) if i == 1 else 0)
            sub = f"{code}{i:02d}"
            subgrids.append({"subgrid_code": sub, "grid_code": code, "community_code": community, "households": share,
                             "buildings": 1, "area_m2": float((x1 - x0) * (b - a)), "flags": "",
                             "geometry": rect(x0, a, x1, b)})
            cx, cy = (x0 + x1) / 2, (a + b) / 2
            buildings.append({"building_id": f"B{len(buildings) + 1:03d}", "households": share, "community_code": community,
                              "grid_code": code, "subgrid_code": sub,
                              "geometry": box(*at(cx - 20, cy - 15), *at(cx + 20, cy + 15))})
    streets = gpd.GeoDataFrame(
        {"name": ["建设路", "解放路", "中山大道", "胜利街", "沿江大道", None]},
        geometry=[line((200, -20), (200, 420)), line((400, -20), (400, 420)), line((600, -20), (600, 420)),
                  line((-20, 200), (800, 200)), line((-20, 400), (1020, 400)), line((800, -20), (800, 420))],
        crs=METRIC_EPSG)
    layers = {
        "communities": communities,
        "grids": gpd.GeoDataFrame(grids, geometry="geometry", crs=METRIC_EPSG),
        "subgrids": gpd.GeoDataFrame(subgrids, geometry="geometry", crs=METRIC_EPSG),
        "buildings": gpd.GeoDataFrame(buildings, geometry="geometry", crs=METRIC_EPSG),
        "streets": streets,
    }
    return Plan({k: v.to_crs(4490) for k, v in layers.items()}, {"stage": "partition", "metric_crs": f"EPSG:{METRIC_EPSG}",
                                                                   "quality": {"base": None, "small": None}})


XSS = "<script>alert(1)</script>"


def town_roster() -> pd.DataFrame:
    """Staff for the town: explicit grids, community-only rows placed by gridgeo, a supervisor, an XSS name."""
    return pd.DataFrame([
        {"name": "王芳", "phone": "139-0000-0001", "role": "网格长", "community_code": CODE_A, "grid_code": f"{CODE_A}001"},
        {"name": XSS, "phone": "139-0000-0002", "role": "网格员", "community_code": "", "grid_code": f"{CODE_A}001"},
        {"name": "李强", "phone": "139-0000-0003", "role": "网格员", "community_code": CODE_A, "grid_code": ""},
        {"name": "赵敏", "phone": "139-0000-0004", "role": "专职网格员", "community_code": CODE_A, "grid_code": ""},
        {"name": "陈刚", "phone": "139-0000-0005", "role": "网格员", "community_code": CODE_B, "grid_code": ""},
        {"name": "周红", "phone": "139-0000-0006", "role": "居民小组长", "community_code": CODE_B, "grid_code": ""},
        {"name": "孙督导", "phone": "027-8888-0000", "role": "督导员", "community_code": CODE_A, "grid_code": ""},
        {"name": "吴社工", "phone": "139-0000-0007", "role": "社区工作者", "community_code": CODE_B, "grid_code": ""},
        {"name": "外区人", "phone": "139-0000-0008", "role": "网格员", "community_code": "420103009999", "grid_code": ""},
    ])
