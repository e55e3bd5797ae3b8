"""The street-alignment measure (街巷定界 share) of each community's grids and small grids, as the partition's
jobs compute it, with the two tests of whether a 1 m piece of boundary lies within ``street_snap_m`` of a
street: the STRtree's ``dwithin`` on a shapely point per piece (before session 25) against
:func:`gridgeo.partition.metrics.near_streets` (nearest street vertex in a k-d tree, exact bounds, the STRtree
for the points between them). Both run in this process, alternating, on the same plan; the figures must be
identical (asserted) and the CPU time of each is printed.

    GRIDGEO_SHARED_DATA=../shared/data .venv/bin/python benchmarks/bench_alignment.py [--dataset wuhan-messy] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_partition as bp  # noqa: E402


def _strtree_near(xy: np.ndarray, tree: shapely.STRtree, snap_m: float, *, lines: np.ndarray | None = None) -> np.ndarray:
    """The test as it was: a point per piece, the STRtree's dwithin."""
    hit = np.zeros(len(xy), dtype=bool)
    hit[np.unique(tree.query(shapely.points(xy), predicate="dwithin", distance=snap_m)[0])] = True
    return hit


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="wuhan-messy")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    from gridgeo.partition import metrics, partition

    ds = bp.load_dataset(args.dataset, bp.OUT / "wuhan_scenario")
    if isinstance(ds, str):
        print(f"{args.dataset}: skipped ({ds})")
        return 1
    prep = ds.prep
    res = partition(prep.communities, prep.blocks, prep.buildings, streets=prep.streets, rules=prep.rules,
                    villager_groups=prep.villager_groups, workers=2)
    snap = prep.rules.street_snap_m
    sgeoms = prep.streets.to_crs(prep.communities.crs).geometry.to_numpy() if prep.streets is not None else np.zeros(0, dtype=object)
    all_streets = shapely.STRtree(sgeoms)
    jobs = []
    for code, cg in zip(prep.communities["code"].astype(str), prep.communities.geometry, strict=True):
        gg = res.grids[res.grids["community_code"].astype(str) == code]
        if not len(gg):
            continue
        near = all_streets.query(cg, predicate="dwithin", distance=50.0)
        ss = res.subgrids[res.subgrids["grid_id"].isin(gg["grid_id"])]
        pos = {k: i for i, k in enumerate(gg["grid_id"])}
        jobs.append((gg.geometry.to_numpy(), cg, sgeoms[near], ss.geometry.to_numpy(),
                     np.array([pos[k] for k in ss["grid_id"]], dtype=np.int64)))

    def run() -> list:
        out = []
        for ggeom, cg, st, sgeom, parent in jobs:
            tree = shapely.STRtree(st)
            out.append(metrics.street_alignment(ggeom, np.zeros(len(ggeom), dtype=np.int64), np.array([cg]), tree, snap))
            out.append(metrics.street_alignment(sgeom, parent, ggeom, tree, snap))
        return out

    cpu: dict[str, list[float]] = {}
    current = metrics.near_streets
    try:
        for _ in range(args.repeat):
            for name, fn in (("STRtree dwithin per point", _strtree_near), ("near_streets", current)):
                metrics.near_streets = fn
                t = time.process_time()
                got = run()
                cpu.setdefault(name, []).append(time.process_time() - t)
                if fn is _strtree_near:
                    ref = got
                else:
                    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(ref, got, strict=True))
    finally:
        metrics.near_streets = current
    med = {k: float(np.median(v)) for k, v in cpu.items()}
    print(f"{args.dataset}: {len(jobs)} communities, {len(res.grids)} grids, {len(res.subgrids)} small grids; figures identical")
    for k, v in cpu.items():
        print(f"  {k}: CPU s {', '.join(f'{x:.2f}' for x in v)} (median {med[k]:.2f})")
    print(f"  near_streets / STRtree: {med['near_streets'] / med['STRtree dwithin per point']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
