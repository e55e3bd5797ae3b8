"""Benchmark: the quality figures measured beside the validation (a forked process) against one after the other.

What ``gridgeo partition --workers N`` (N > 1) does after the partition: ``quality`` in a forked process while
the main process stores and validates the plan (:func:`gridgeo.pipeline.self_check`), against one worker's
order (quality, then the validation), on the same plan in one process, alternating the two ways so that both
see the same load. The plan is read from a file written by ``gridgeo partition`` and taken back into its
metric CRS, with the street alignment measured beforehand as the workers measure it (the figures are the same
either way; only the time is measured).

Usage::

    .venv/bin/python benchmarks/bench_quality_beside.py PLAN.gpkg --streets INPUT.gpkg [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridgeo.partition.metrics import street_alignment  # noqa: E402
from gridgeo.pipeline import _Beside, _quality_figures, self_check  # noqa: E402
from gridgeo.plan import Plan  # noqa: E402
from gridgeo.rules import Rules  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("plan")
    ap.add_argument("--streets", required=True, help="the input file with the plan's streets (layer 'streets')")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    stored = Plan.read(args.plan)
    metric = stored.metadata["metric_crs"]
    plan = Plan({k: v.to_crs(metric) for k, v in stored.layers.items()}, dict(stored.metadata))
    rules = Rules.from_dict(plan.metadata["rules"])
    comm, grids, subs = plan.layers["communities"], plan.layers["grids"], plan.layers["subgrids"]
    # the street alignment as the run has it: measured already (in the workers), here once outside the timings
    import geopandas as gpd
    import shapely

    streets = gpd.read_file(args.streets, layer="streets").to_crs(metric)
    tree = shapely.STRtree(streets.geometry.to_numpy())
    gcont = grids["community_code"].map({c: i for i, c in enumerate(comm["code"])}).to_numpy()
    scont = subs["grid_code"].map({c: i for i, c in enumerate(grids["grid_code"])}).to_numpy()
    alignment = {
        "grids": street_alignment(grids.geometry.to_numpy(), gcont, comm.geometry.to_numpy(), tree, rules.street_snap_m),
        "subgrids": street_alignment(subs.geometry.to_numpy(), scont, grids.geometry.to_numpy(), tree, rules.street_snap_m),
    }
    kwargs = dict(communities=comm, grids=grids, buildings=plan.layers["buildings"], streets=streets, subgrids=subs,
                  rules=rules, alignment=alignment)
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.rounds):
        for fork in (False, True):
            load = os.getloadavg()[0]
            t = time.perf_counter()
            beside = _Beside(_quality_figures, kwargs, fork=fork)
            self_check(plan)
            q, _ = beside.result()
            times[fork].append(time.perf_counter() - t)
            print(f"{'beside' if fork else 'in turn'}: {times[fork][-1]:.1f} s (load {load:.1f}-{os.getloadavg()[0]:.1f})",
                  flush=True)
    a, b = min(times[False]), min(times[True])
    print(f"quality + validation, best of {args.rounds}: in turn {a:.1f} s, beside {b:.1f} s, ratio {b / a:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
