"""The street-alignment measure (街巷定界 share) of each community's grids and small grids, as the partition's
jobs compute it, two ways: the 1 m pieces of boundary (``shapely.segmentize``) each a shapely point asked the
STRtree's ``dwithin`` (the definition, as before session 25), against
:func:`gridgeo.partition.metrics.street_alignment` (since session 45: the pieces near a street found from each
boundary segment's interval near each street segment). Both run in this process, alternating, on the same
plan; the figures must agree to 1e-6 m (asserted) and the CPU time of each is printed.

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


def _per_point(zgeom: np.ndarray, zcont: np.ndarray, cgeom: np.ndarray, tree: shapely.STRtree,
               snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The measure the slow way: the boundary less its container's band, 1 m pieces, a point per piece."""
    band = shapely.buffer(shapely.boundary(cgeom), snap_m, quad_segs=2)
    inner = shapely.difference(shapely.boundary(zgeom), band[zcont])
    parts, owner = shapely.get_parts(inner, return_index=True)
    coords, idx = shapely.get_coordinates(shapely.segmentize(parts, 1.0), return_index=True)
    same = idx[1:] == idx[:-1]
    a, b, own = coords[:-1][same], coords[1:][same], owner[idx[:-1][same]]
    hit = np.zeros(len(a), dtype=bool)
    hit[np.unique(tree.query(shapely.points((a + b) / 2.0), predicate="dwithin", distance=snap_m)[0])] = True
    internal = shapely.length(inner)
    aligned = np.bincount(own[hit], weights=np.hypot(*(b - a)[hit].T), minlength=len(zgeom))
    total = np.bincount(own, weights=np.hypot(*(b - a).T), minlength=len(zgeom))
    with np.errstate(invalid="ignore", divide="ignore"):
        return internal, np.where(total > 0, aligned * internal / total, 0.0)


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

    def run(measure) -> list:
        out = []
        for ggeom, cg, st, sgeom, parent in jobs:
            tree = shapely.STRtree(st)
            out.append(measure(ggeom, np.zeros(len(ggeom), dtype=np.int64), np.array([cg]), tree, snap))
            out.append(measure(sgeom, parent, ggeom, tree, snap))
        return out

    cpu: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        for name, fn in (("a point per piece", _per_point), ("street_alignment", metrics.street_alignment)):
            t = time.process_time()
            got = run(fn)
            cpu.setdefault(name, []).append(time.process_time() - t)
            if fn is _per_point:
                ref = got
            else:
                assert all(np.allclose(a[0], b[0], rtol=0, atol=1e-6) and np.allclose(a[1], b[1], rtol=0, atol=1e-6)
                           for a, b in zip(ref, got, strict=True))
    med = {k: float(np.median(v)) for k, v in cpu.items()}
    print(f"{args.dataset}: {len(jobs)} communities, {len(res.grids)} grids, {len(res.subgrids)} small grids; figures equal to 1e-6 m")
    for k, v in cpu.items():
        print(f"  {k}: CPU s {', '.join(f'{x:.2f}' for x in v)} (median {med[k]:.2f})")
    print(f"  street_alignment / a point per piece: {med['street_alignment'] / med['a point per piece']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
