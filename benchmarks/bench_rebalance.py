"""Benchmark: rebalancing an office's faulty grid layer (``gridgeo rebalance``) against a from-scratch
partition of the same inputs (issue 15), on the Wuhan scenario (real 江汉区 streets, SYNTHETIC
communities and households; ``scripts/build_wuhan_scenario.py``).

The office's layer: gridgeo's partition of the scenario drawn on an OLDER street map (the
``residential``, ``living_street``, ``service`` and ``unclassified`` streets of every second community
left out, so its grids differ from what today's map gives), then damaged in every community in turn:
two neighbouring grids merged (about 900 households), one grid split into four pieces (about 120
each), one grid grown 4 m over its neighbours (overlaps) and one shrunk 4 m (gaps); and in every
fifth community one grid stretched 60 m into the neighbouring community.

Both runs use today's full street map:

- **rebalance**: ``gridgeo.rebalance(office, communities, streets, buildings)``;
- **from scratch**: ``gridgeo.divide(communities, streets, buildings)``.

Measured for each, against the office layer:

- **compliant buildings in place**: of the buildings in office grids that ``rebalance`` judged
  compliant, the share whose grid now is "the same grid": a grid with area IoU ≥ 0.95 with the old one
  (for rebalance it must also carry the old code; the from-scratch plan's codes are its own);
- **compliant grids kept**, **old grids kept**: office grids with such a same grid;
- **buildings keeping their grid**: the same share over all buildings in office grids;
- **area moved**: area of office grids not in their same grid (ha);
- seconds of each run (noisy: read the ratio).

    .venv/bin/python benchmarks/bench_rebalance.py [--scenario out/wuhan_scenario/wuhan_scenario.gpkg]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

REPO = Path(__file__).resolve().parents[1]
MINOR = ("residential", "living_street", "service", "unclassified")


def scenario_layers(path: str | None):
    if path is None:
        for cand in (REPO / "out" / "wuhan_scenario" / "wuhan_scenario.gpkg",
                     REPO.parent / "main" / "out" / "wuhan_scenario" / "wuhan_scenario.gpkg"):
            if cand.exists():
                path = str(cand)
                break
    if path is None:
        sys.path.insert(0, str(REPO / "scripts"))
        import build_wuhan_scenario as b

        reason = b.missing_reason()
        if reason:
            raise SystemExit(f"Wuhan scenario unavailable: {reason}")
        path = str(b.build(REPO / "out" / "wuhan_scenario").path)
    return {n: gpd.read_file(path, layer=n) for n in ("communities", "streets", "buildings")}, path


def older_streets(streets: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    comm = communities.sort_values("code").reset_index(drop=True)
    every_second = shapely.union_all(comm.geometry.to_numpy()[::2])
    drop = streets["highway"].isin(MINOR).to_numpy() & shapely.within(
        shapely.point_on_surface(streets.geometry.to_numpy()), every_second)
    return streets[~drop].reset_index(drop=True)


def damage(plan, seed_communities: int = 5) -> gpd.GeoDataFrame:
    """The plan's grids (column WGBM, metric CRS) damaged in every community."""
    from gridgeo.crs import metric_crs

    m = metric_crs(plan.communities)
    g = plan.grids.to_crs(m).sort_values("grid_code").reset_index(drop=True)
    b = plan.buildings.to_crs(m)
    rows = dict(zip(g["grid_code"], g.geometry))
    orig = dict(rows)
    hh = dict(zip(g["grid_code"], g["households"]))
    comm_of = dict(zip(g["grid_code"], g["community_code"]))
    tree = shapely.STRtree(g.geometry.to_numpy())
    codes = g["grid_code"].to_numpy()

    def neighbours(code):
        idx = tree.query(shapely.buffer(orig[code], 1), predicate="intersects")
        return [c for c in codes[idx] if c != code and shapely.length(shapely.intersection(
            orig[code].boundary, orig[c].boundary)) > 20]

    damaged: set[str] = set()
    near: set[str] = set()
    ops = ["merge", "split", "grow", "shrink"]
    for k, (code, mine) in enumerate(sorted(g.groupby("community_code").groups.items())):
        op = ops[k % len(ops)]
        cands = [c for c in codes[mine] if c not in damaged and c not in near and hh[c] >= 300]
        if not cands:
            continue
        c = cands[0]
        if op == "merge":
            other = [n for n in neighbours(c) if comm_of[n] == code and n not in damaged and n not in near]
            if not other:
                continue
            rows[c] = shapely.union(rows[c], rows.pop(other[0]))
            damaged |= {c, other[0]}
        elif op == "split":
            poly = rows.pop(c)
            mb = b[b["grid_code"] == c]
            x, h = mb.geometry.centroid.x.to_numpy(), mb["households"].to_numpy()
            o = np.argsort(x)
            cum = np.cumsum(h[o]) / max(1, h.sum())
            cuts = [x[o][np.searchsorted(cum, q / 4)] for q in range(1, 4)]
            minx, miny, maxx, maxy = poly.bounds
            edges = [minx - 1, *cuts, maxx + 1]
            for q in range(4):
                rows[f"{c}{q + 1}"] = shapely.intersection(poly, shapely.box(edges[q], miny - 1, edges[q + 1], maxy + 1))
            damaged.add(c)
        elif op == "grow":
            rows[c] = shapely.buffer(rows[c], 4, join_style="mitre")
            damaged.add(c)
        else:
            rows[c] = shapely.buffer(rows[c], -4, join_style="mitre")
            damaged.add(c)
        near |= set(neighbours(c))
        if k % seed_communities == 0:
            other = [n for n in neighbours(c) if comm_of[n] != code and n in rows and n not in damaged] if c in rows else []
            if other:
                rows[c] = shapely.union(rows[c], shapely.intersection(rows[other[0]], shapely.buffer(rows[c], 60)))
                damaged.add(other[0])
    return gpd.GeoDataFrame({"WGBM": list(rows)}, geometry=list(rows.values()), crs=m)


def figures(office: gpd.GeoDataFrame, plan, compliant: set[str], *, by_code: bool) -> dict[str, float]:
    """Old grids kept and buildings keeping their grid, for a plan, against the office layer."""
    from gridgeo.crs import metric_crs
    from gridgeo.footprints import assign_to_zones

    m = metric_crs(plan.communities)
    new = plan.grids.to_crs(m).reset_index(drop=True)
    ng = new.geometry.to_numpy()
    og = office.geometry.to_numpy()
    same = np.full(len(office), -1)
    if by_code:
        pos = {c: i for i, c in enumerate(new["grid_code"])}
        for i, c in enumerate(office["WGBM"]):
            j = pos.get(c, -1)
            if j >= 0:
                inter = shapely.area(shapely.intersection(og[i], ng[j]))
                if inter / (shapely.area(og[i]) + shapely.area(ng[j]) - inter) >= 0.95:
                    same[i] = j
    else:
        oi, ni = shapely.STRtree(ng).query(og, predicate="intersects")
        inter = shapely.area(shapely.intersection(og[oi], ng[ni]))
        iou = inter / (shapely.area(og[oi]) + shapely.area(ng[ni]) - inter)
        for o, n, v in zip(oi, ni, iou):
            if v >= 0.95:
                same[o] = n
    b = plan.buildings.to_crs(m)
    bg = b.geometry.to_numpy()
    old = assign_to_zones(bg, og).zone
    now = assign_to_zones(bg, ng).zone
    hh = np.ones(len(b))
    inside = old >= 0
    keeps = inside & (same[np.maximum(old, 0)] == now) & (same[np.maximum(old, 0)] >= 0)
    comp = inside & np.isin(office["WGBM"].to_numpy()[np.maximum(old, 0)], list(compliant))
    moved = shapely.area(og) - np.array([shapely.area(shapely.intersection(og[i], ng[j])) if j >= 0 else 0.0
                                         for i, j in enumerate(same)])
    return {
        "compliant_buildings_in_place": float(hh[keeps & comp].sum() / max(1, hh[comp].sum())),
        "old_grids_kept": float((same >= 0).mean()),
        "compliant_grids_kept": float(np.mean([same[i] >= 0 for i, c in enumerate(office["WGBM"]) if c in compliant])),
        "buildings_keeping_grid": float(hh[keeps].sum() / max(1, hh[inside].sum())),
        "area_moved_ha": float(moved.sum() / 1e4),
    }


def main(argv: list[str] | None = None) -> int:
    import gridgeo

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default=None, help="the Wuhan scenario GeoPackage (default: cached or built)")
    ap.add_argument("--keep", metavar="DIR", help="write the office layer and both plans to DIR (for a look in QGIS)")
    args = ap.parse_args(argv)
    layers, path = scenario_layers(args.scenario)
    comm, streets, bld = layers["communities"], layers["streets"], layers["buildings"]
    print(f"scenario {path}: {len(comm)} communities, {len(streets)} streets, {len(bld)} buildings", flush=True)
    t = time.perf_counter()
    old_plan = gridgeo.divide(comm, older_streets(streets, comm), bld)
    t_old = time.perf_counter() - t
    office = damage(old_plan)
    print(f"office layer: {len(office)} grids (from {len(old_plan.grids)}; partition on the older map {t_old:.1f} s)", flush=True)
    t = time.perf_counter()
    plan, changes = gridgeo.rebalance(office, comm, streets, bld, code_column="WGBM")
    t_reb = time.perf_counter() - t
    t = time.perf_counter()
    scratch = gridgeo.divide(comm, streets, bld)
    t_scr = time.perf_counter() - t
    if args.keep:
        keep = Path(args.keep)
        keep.mkdir(parents=True, exist_ok=True)
        office.to_file(keep / "office.gpkg", driver="GPKG")
        plan.write(keep / "rebalanced.gpkg", force=True)
        scratch.write(keep / "scratch.gpkg", force=True)
    compliant = set(changes.loc[changes["faults"] == "", "old_code"])
    summary = plan.metadata["rebalance"]
    a = figures(office, plan, compliant, by_code=True)
    s = figures(office, scratch, compliant, by_code=False)
    errors = (plan.validate()["severity"] == "error").sum()
    print(f"\ncompliant office grids: {len(compliant)} of {len(office)}; rebalance: {summary['grids_kept']} kept, "
          f"{summary['grids_reshaped']} reshaped, {summary['grids_split']} split, {summary['grids_merged']} merged, "
          f"{summary['grids_redrawn']} redrawn; {summary['compliant_absorbed']} compliant grids absorbed; "
          f"validate errors {errors}\n")
    print("| run | s | ÷ from scratch | compliant grids' buildings in place | compliant grids kept | old grids kept "
          "| buildings keeping their grid | area moved ha |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, f, sec in (("`gridgeo.rebalance` (faulty layer)", a, t_reb), ("from-scratch `gridgeo.divide`", s, t_scr)):
        print(f"| {name} | {sec:.1f} | {sec / t_scr:.2f} | {f['compliant_buildings_in_place']:.1%} | "
              f"{f['compliant_grids_kept']:.1%} | {f['old_grids_kept']:.1%} | {f['buildings_keeping_grid']:.1%} | "
              f"{f['area_moved_ha']:,.1f} |")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
