#!/usr/bin/env python
"""Build the Suzhou scenario: REAL building footprints of Gusu district, Suzhou, SYNTHETIC communities,
households left for gridgeo to ESTIMATE; no streets.

- **real**: the 3,076 footprints of ``../shared/data/suzhou_gusu_buildings.geojson`` (from the pybdshadow
  project's examples), kept as they are: cut along map-tile edges (pieces of one outline that meet at a
  corner, neighbours sharing walls), ``Floor`` 1–28 (stored as ``floors``). Nothing is cleaned or merged.
- **estimated**: households, by gridgeo (footprint area × floors ÷ dwelling size).
- **synthetic**: four communities, the data's extent (30 m margin) cut 2 × 2, codes 320508001001–004
  under 姑苏区 (320508). The cuts run through the old town's dense blocks, so dozens of buildings
  straddle community boundaries: the case of a boundary drawn across buildings.
- **absent**: streets (the source has none): grids are bounded by building cells only.

    .venv/bin/python scripts/build_suzhou_scenario.py --out out/suzhou_scenario
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

SHARED_DATA = Path(os.environ.get("GRIDGEO_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SOURCE = "suzhou_gusu_buildings.geojson"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "out" / "suzhou_scenario"
MARGIN_M = 30.0


def missing_reason() -> str | None:
    """Why the scenario cannot be built here (None when it can)."""
    if not (SHARED_DATA / SOURCE).is_file():
        return f"{SHARED_DATA / SOURCE} not found (the real-data folder sits beside the checkout)"
    return None


def scenario() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """(communities, buildings), both in EPSG:4326 as the source is."""
    b = gpd.read_file(SHARED_DATA / SOURCE).rename(columns={"Floor": "floors"})
    x0, y0, x1, y1 = b.to_crs(b.estimate_utm_crs()).total_bounds
    xs = np.linspace(x0 - MARGIN_M, x1 + MARGIN_M, 3)
    ys = np.linspace(y0 - MARGIN_M, y1 + MARGIN_M, 3)
    cells = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for i in range(2) for j in range(2)]
    c = gpd.GeoDataFrame({"code": [f"32050800100{k}" for k in range(1, 5)],
                          "name": ["姑苏社区一", "姑苏社区二", "姑苏社区三", "姑苏社区四"]},
                         geometry=cells, crs=b.estimate_utm_crs()).to_crs(b.crs)
    return c, b


def build(out_dir: str | Path = DEFAULT_OUT) -> Path:
    """Write ``suzhou_scenario.gpkg`` (layers communities, buildings) into ``out_dir``; returns its path."""
    reason = missing_reason()
    if reason:
        raise FileNotFoundError(reason)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "suzhou_scenario.gpkg"
    tmp = out / "suzhou_scenario.gpkg.part"
    tmp.unlink(missing_ok=True)
    c, b = scenario()
    c.to_file(tmp, layer="communities", driver="GPKG")
    b.to_file(tmp, layer="buildings", driver="GPKG")
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default %(default)s)")
    args = ap.parse_args(argv)
    reason = missing_reason()
    if reason:
        print(f"build_suzhou_scenario: {reason}", file=sys.stderr)
        return 1
    print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
