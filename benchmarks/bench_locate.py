"""Benchmark: point-to-grid look-up, ``gridgeo.locate`` against ``geopandas.sjoin`` on the same points.

    .venv/bin/python benchmarks/bench_locate.py [--plan PLAN.gpkg | --scenario wuhan_scenario.gpkg]
                                                [--points 2000000] [--repeat 3]

The plan: ``--plan``, or one partitioned here (once, cached in ``out/bench_locate/``) from the Wuhan
scenario GeoPackage (real 江汉区 streets, SYNTHETIC communities and households, built by
``scripts/build_wuhan_scenario.py``), or from the sample town when neither is given.

Points: uniform in the grids' extent (seeded), so some fall outside every grid. Pinned to one CPU.
Timed in the same process, best of ``--repeat``:

- gridgeo ``Locator`` build (once per plan);
- gridgeo grid look-up only (``Locator.grids.lookup``), from coordinate arrays;
- gridgeo ``Locator.locate_xy``: the full answer (grid, small grid, dedicated grid, community and its
  name, a reason for every point without a grid), from coordinate arrays;
- the peer: ``geopandas.sjoin(points, grids, predicate="intersects")`` on a GeoDataFrame of the points
  (building that GeoDataFrame timed apart), and the same for grids and small grids.

Checks that gridgeo's grid and small-grid codes equal sjoin's for every point sjoin places in exactly
one grid (interior points), and for the others equal the smallest code sjoin finds. Prints points/s and
the ratio gridgeo / sjoin.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out" / "bench_locate"


def best_of(repeat: int, fn):
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return min(times), result


def plan_path(args: argparse.Namespace) -> Path:
    if args.plan:
        return Path(args.plan)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.scenario:
        src = Path(args.scenario)
        if not src.exists():
            sys.exit(f"{src} not found; build it with scripts/build_wuhan_scenario.py --out out/wuhan_scenario")
        out = OUT / f"{src.stem}_plan.gpkg"
        cmd = ["--communities", str(src), "--streets", str(src), "--buildings", str(src)]
    else:
        out = OUT / "sample_town_plan.gpkg"
        cmd = ["--sample"]
    if not out.exists():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "gridgeo", "partition", *cmd, "--out", str(out), "--quiet"], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"partitioned {out.name} in {time.perf_counter() - t:.0f} s")
    return out


def first_codes(joined, code: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per point: the smallest code sjoin found (or None) and how many it found."""

    col = joined[code]
    hits = col.notna().groupby(level=0).sum().reindex(range(n), fill_value=0).to_numpy()
    smallest = col.sort_values(na_position="last").groupby(level=0).first().reindex(range(n))
    return smallest.astype(object).where(smallest.notna(), None).to_numpy(), hits


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", help="a plan GeoPackage")
    ap.add_argument("--scenario", help="a scenario GeoPackage (communities, streets, buildings) to partition")
    ap.add_argument("--points", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    import geopandas as gpd
    import pandas as pd

    import gridgeo
    from gridgeo.locate import Locator

    path = plan_path(args)
    plan = gridgeo.read_plan(path)
    grids, subgrids = plan.grids, plan.subgrids
    print(f"plan {path.name}: {len(plan.communities)} communities, {len(grids):,} grids, {len(subgrids):,} small grids")
    x0, y0, x1, y1 = grids.total_bounds
    rng = np.random.default_rng(20260101)
    n = args.points
    x, y = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)

    rows = []
    t_build, loc = best_of(1, lambda: Locator(plan))
    valid = np.ones(n, dtype=bool)
    t_grid, g = best_of(args.repeat, lambda: loc.grids.lookup(x, y, valid))
    t_full, answer = best_of(args.repeat, lambda: loc.locate_xy(x, y))
    t_pts, pts = best_of(args.repeat, lambda: gpd.GeoDataFrame({"id": np.arange(n)}, geometry=gpd.points_from_xy(x, y), crs=4490))
    t_sj, joined = best_of(args.repeat, lambda: gpd.sjoin(pts, grids[["grid_code", "geometry"]], predicate="intersects", how="left"))
    t_sj2, joined_sub = best_of(args.repeat, lambda: gpd.sjoin(pts, subgrids[["subgrid_code", "geometry"]],
                                                               predicate="intersects", how="left"))
    rows += [
        ("gridgeo Locator build (once per plan)", t_build, None, None),
        ("gridgeo grid look-up (Locator.grids.lookup)", t_grid, n / t_grid, t_sj),
        ("gridgeo full answer (Locator.locate_xy)", t_full, n / t_full, t_sj + t_sj2),
        ("geopandas points_from_xy + GeoDataFrame", t_pts, n / t_pts, None),
        ("geopandas sjoin: grids", t_sj, n / t_sj, None),
        ("geopandas sjoin: small grids", t_sj2, n / t_sj2, None),
    ]
    print(f"\n{n:,} points, one CPU, best of {args.repeat}")
    print(f"{'run':48s} {'seconds':>8s} {'points/s':>12s} {'vs sjoin':>9s}")
    for name, s, rate, peer in rows:
        ratio = f"{peer / s:8.1f}x" if peer else ""
        print(f"{name:48s} {s:8.3f} {rate or float('nan'):12,.0f} {ratio:>9s}")

    want, hits = first_codes(joined, "grid_code", n)
    got = pd.Series(answer["grid_code"]).astype(object).where(answer["grid_code"].notna(), None).to_numpy()
    interior = hits == 1
    same_interior = bool((got[interior] == want[interior]).all())
    same_all = bool((got == want).all())
    want_sub, sub_hits = first_codes(joined_sub, "subgrid_code", n)
    got_sub = pd.Series(answer["subgrid_code"]).astype(object).where(answer["subgrid_code"].notna(), None).to_numpy()
    same_sub = bool((got_sub[sub_hits == 1] == want_sub[sub_hits == 1]).all())
    print(f"\nin a grid: {int((hits > 0).sum()):,} of {n:,}; on a shared edge (sjoin finds 2+): {int((hits > 1).sum())}")
    print(f"grid codes identical to sjoin for interior points: {same_interior}; for all (smallest code rule): {same_all}")
    print(f"small-grid codes identical to sjoin for interior points: {same_sub}")
    print(f"grid look-up only: {n / t_grid:,.0f} points/s; same answers from the full look-up: "
          f"{bool((loc.grid_code[np.maximum(g, 0)][g >= 0] == got[g >= 0]).all())}")
    return 0 if same_interior and same_sub else 1


if __name__ == "__main__":
    raise SystemExit(main())
