"""Benchmark: validate_grids (and repair_grids) on thousands of grids.

    .venv/bin/python benchmarks/bench_validate.py [--communities 50] [--grids-per-community 100]
        [--buildings-per-grid 20] [--repeat 3]

Builds a synthetic plan (Voronoi grids in square communities, stored in EPSG:4490), a hand-drawn
copy of it (2 % of grids deleted, enlarged, duplicated, jittered), and times validation of each with
communities only, then with buildings and streets, and the repair of the damaged copy. Prints a table
(best of ``--repeat`` runs) and the finding counts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _synthetic_grids import damage, synthetic_plan  # noqa: E402

from gridgeo.validate import COVERAGE_TYPES, repair_grids, summarize, validate_grids  # noqa: E402


def best_of(repeat: int, func):
    """(best, median) seconds of ``repeat`` runs and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times)), result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--communities", type=int, default=50)
    ap.add_argument("--grids-per-community", type=int, default=100)
    ap.add_argument("--buildings-per-grid", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    t = time.perf_counter()
    comms, grids, buildings, streets = synthetic_plan(args.communities, args.grids_per_community,
                                                      buildings_per_grid=args.buildings_per_grid, streets=True)
    bad = damage(grids)
    print(f"built {len(comms)} communities, {len(grids)} grids, {len(buildings)} buildings, "
          f"{len(streets)} street segments (EPSG:4490) in {time.perf_counter() - t:.1f} s")

    rows = []
    for label, layer in (("clean plan", grids), ("hand-drawn copy", bad)):
        s, _, f = best_of(args.repeat, lambda layer=layer: validate_grids(layer, communities=comms))
        rows.append((f"validate {label}: grids + communities", s, len(f)))
        s, _, f = best_of(args.repeat, lambda layer=layer: validate_grids(layer, communities=comms,
                                                                        buildings=buildings, streets=streets))
        rows.append((f"validate {label}: + buildings + streets", s, len(f)))
        if label == "hand-drawn copy":
            print(summarize(f).to_string(index=False))
    s, _, (fixed, log) = best_of(1, lambda: repair_grids(bad, communities=comms))
    rows.append(("repair hand-drawn copy", s, len(log)))
    after = validate_grids(fixed, communities=comms)
    left = after[after["type"].isin(COVERAGE_TYPES)]
    print()
    print(f"{'step':58s} {'seconds':>8s} {'rows':>7s}")
    for name, sec, n in rows:
        print(f"{name:58s} {sec:8.2f} {n:7d}")
    print(f"coverage findings left after repair: {len(left)} (grids kept: {len(fixed)} of {len(bad)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
