"""Benchmark: `validate_grids` on the Wuhan scenario plan against a bare GEOS coverage check.

    .venv/bin/python benchmarks/bench_validate_wuhan.py [--repeat 5] [--scenario-out out/wuhan_scenario]

Builds (or reuses) the Wuhan scenario — real 江汉区 streets, SYNTHETIC communities and households, see
``scripts/build_wuhan_scenario.py`` — partitions it with gridgeo into a plan (grids, small grids, codes),
then times, on the same plan in the same process (best of ``--repeat``):

- gridgeo ``validate_grids`` with every layer (communities, buildings, streets, small grids: all checks);
- gridgeo ``validate_grids`` with the communities only (geometry, codes, coverage, crossing, edges);
- the peer: a bare GEOS coverage check per community — ``shapely.coverage_invalid_edges`` with the same
  gap width, plus the gap area (community minus ``coverage_union_all`` of its grids) — the least any
  tool must do to say whether a layer covers its communities without gap or overlap.

Prints a table of seconds and the ratio of each gridgeo run to the peer.

With ``--tile N`` the plan (and its streets and buildings) is repeated N × N times side by side, each copy
with its own codes, before timing: a city of N² districts' grids, the size at which the street-share check
draws its lines for tens of thousands of grids.

    .venv/bin/python benchmarks/bench_validate_wuhan.py --repeat 1 --tile 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_partition import OUT, load_dataset  # noqa: E402
from bench_validate import best_of  # noqa: E402


def geos_coverage_check(grids, communities, gap_width_m: float) -> tuple[int, float]:
    """Per community: invalid edges of its grids' coverage and the gap area; (grids with invalid
    edges, total gap m²)."""
    bad, gap = 0, 0.0
    by_comm = grids.groupby("community_code").indices
    for code, geom in zip(communities["code"], communities.geometry, strict=True):
        idx = by_comm.get(code)
        if idx is None:
            gap += geom.area
            continue
        g = grids.geometry.to_numpy()[idx]
        edges = shapely.coverage_invalid_edges(g, gap_width=gap_width_m)
        bad += int((~shapely.is_empty(edges)).sum())
        gap += shapely.area(shapely.difference(geom, shapely.coverage_union_all(g)))
    return bad, gap


def tiled(layers: dict, streets, n: int) -> tuple[dict, object]:
    """The layers repeated ``n`` × ``n`` times side by side (100 m apart), copy ``k`` with codes whose first six
    digits (the district) are ``42`` and ``k`` in four digits, building ids suffixed ``-k``."""
    import geopandas as gpd
    import pandas as pd

    x0, y0, x1, y1 = layers["communities"].total_bounds
    w, h = x1 - x0 + 100.0, y1 - y0 + 100.0
    code_cols = ("code", "community_code", "grid_code", "subgrid_code")
    out: dict = {}
    for name, gdf in list(layers.items()) + [("streets", streets)]:
        copies = []
        for k in range(n * n):
            c = gdf.copy()
            c.geometry = c.geometry.translate((k % n) * w, (k // n) * h)
            for col in code_cols:
                if col in c.columns:
                    c[col] = c[col].map(lambda v, k=k: v if not isinstance(v, str) else f"42{k:04d}{v[6:]}")
            if name == "buildings" and "building_id" in c.columns:
                c["building_id"] = c["building_id"].astype(str) + f"-{k}"
            copies.append(c)
        out[name] = gpd.GeoDataFrame(pd.concat(copies, ignore_index=True), crs=gdf.crs)
    return out, out.pop("streets")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scenario-out", default=str(OUT / "wuhan_scenario"))
    ap.add_argument("--tile", type=int, default=1, help="repeat the plan N x N times (a city of N² districts)")
    args = ap.parse_args(argv)

    ds = load_dataset("wuhan", Path(args.scenario_out))
    if isinstance(ds, str):
        print(f"Wuhan scenario unavailable: {ds}", file=sys.stderr)
        return 2
    from gridgeo.pipeline import _partition_plan
    from gridgeo.validate import validate_grids

    t = time.perf_counter()
    plan = _partition_plan(ds.prep, workers=1, previous=None, from_scratch=False, scheme=None)
    print(f"partitioned in {time.perf_counter() - t:.1f} s")
    metric = ds.prep.metric
    L = {k: v.to_crs(metric) for k, v in plan.layers.items() if k in ("communities", "grids", "subgrids", "buildings")}
    streets = ds.prep.streets.to_crs(metric)
    if args.tile > 1:
        L, streets = tiled(L, streets, args.tile)
    print(f"plan: {len(L['communities'])} communities, {len(L['grids']):,} grids, {len(L['subgrids']):,} small grids, "
          f"{len(L['buildings']):,} buildings, {len(streets):,} street segments (computed in {metric.to_string()})")

    rows = []
    s_peer, m_peer, (bad, gap) = best_of(args.repeat, lambda: geos_coverage_check(L["grids"], L["communities"], 1.0))
    rows.append(("peer: GEOS coverage_invalid_edges + gap area per community", s_peer, m_peer, f"{bad} bad, gap {gap:.3f} m²"))
    s, m, f = best_of(args.repeat, lambda: validate_grids(L["grids"], communities=L["communities"], rules=ds.prep.rules))
    rows.append(("gridgeo validate_grids: grids + communities", s, m, f"{len(f)} findings"))
    s, m, f = best_of(args.repeat, lambda: validate_grids(
        L["grids"], communities=L["communities"], buildings=L["buildings"], streets=streets,
        subgrids=L["subgrids"], rules=ds.prep.rules))
    rows.append(("gridgeo validate_grids: + buildings, streets, small grids", s, m, f"{len(f)} findings"))
    kinds = f.groupby(["type", "severity"]).size().to_dict()

    print(f"\n{'run':62s} {'best s':>7s} {'median s':>9s} {'ratio':>6s}  result")
    for name, best, med, note in rows:
        print(f"{name:62s} {best:7.2f} {med:9.2f} {best / s_peer:6.1f}  {note}")
    print(f"\nfindings of the full run: {kinds or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
