"""Benchmark: wall time and peak memory of `gridgeo partition` against the number of buildings (issue 12).

A synthetic city of ``N`` communities side by side, each a seeded jittered street lattice with slab
buildings (:func:`gridgeo.partition.synthetic.street_lattice`: about 140 buildings and 6,900 SYNTHETIC
households a community, as in a Wuhan district), written to a GeoPackage; then ``gridgeo partition`` is
run on it as a user runs it, in a fresh process, with 1 and 2 workers. For each size it reports the wall
time, the time per thousand buildings (flat when the growth is linear), the peak memory of the main
process and of the largest worker (``getrusage``), the write step's share and the speed-up from one to
two workers. Every plan must validate with 0 errors (the run's own check).

Per stage (the plan's ``timings_s``): reading and blocks, the partition (in the workers), codes, quality
figures, validation (storing the layers and checking them), the rest of the wall time (writing the file);
``serial_s`` is everything but the partition, the main process's own work. With more than one worker the
quality figures are measured in a forked process while the plan is validated: ``quality_s`` is then what the
run waited for beyond the validation, ``quality_beside_s`` their own time. ``load_avg`` is the machine's
1-minute load average at the start and the end of each run (other jobs disturb the times). ``--keep DIR``
keeps the cities and plans (e.g. to compare the plans of two commits).

``--scenario FILE.gpkg`` measures a scenario file instead (layers ``communities``, ``streets``, ``buildings``),
e.g. the whole Wuhan metro built by ``scripts/build_wuhan_scenario.py --metro``.

Usage::

    .venv/bin/python benchmarks/bench_scale.py [--sizes 50,100,200,400] [--workers 1,2] [--md out.md]
    .venv/bin/python benchmarks/bench_scale.py --scenario out/wuhan_metro/wuhan_metro.gpkg --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gridgeo.partition.synthetic import street_lattice  # noqa: E402


def synthetic_city(n: int, seed: int = 12) -> dict[str, gpd.GeoDataFrame]:
    """``n`` lattice communities in rows of 20, 1 km apart, with 12-digit codes; EPSG:4547 (metric)."""
    comms, streets, builds = [], [], []
    for i in range(n):
        d = street_lattice(seed=seed * 100_000 + i)
        dx, dy = (i % 20) * 1000.0, (i // 20) * 1000.0
        code = f"4201{i // 1000 + 1:02d}{i % 1000 + 1:06d}"
        for layer, out in ((d["communities"], comms), (d["streets"], streets), (d["buildings"], builds)):
            g = layer.copy()
            g.geometry = shapely.transform(g.geometry.to_numpy(), lambda xy, dx=dx, dy=dy: xy + [dx, dy])
            out.append(g)
        comms[-1] = comms[-1].assign(code=code, name=f"合成社区{i + 1}")
        builds[-1] = builds[-1].assign(building_id=code + "-" + builds[-1]["building_id"].astype(str))
    crs = comms[0].crs
    return {
        "communities": gpd.GeoDataFrame(pd.concat(comms, ignore_index=True), crs=crs),
        "streets": gpd.GeoDataFrame(pd.concat(streets, ignore_index=True), crs=crs),
        "buildings": gpd.GeoDataFrame(pd.concat(builds, ignore_index=True), crs=crs),
    }


_RUN = r"""
import json, resource, sys, time
from gridgeo.cli import main
t = time.perf_counter()
rc = main(sys.argv[1:])
wall = time.perf_counter() - t
me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("BENCH " + json.dumps({"rc": rc, "wall_s": wall, "main_peak_mb": me, "worker_peak_mb": kids}))
"""


def run_partition(gpkg: Path, out: Path, workers: int) -> dict:
    args = [sys.executable, "-c", _RUN, "partition", "--quiet", "--force", "--no-shift-check",
            "--communities", str(gpkg), "--communities-layer", "communities",
            "--streets", str(gpkg), "--streets-layer", "streets",
            "--buildings", str(gpkg), "--buildings-layer", "buildings",
            "--workers", str(workers), "--out", str(out)]
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    res = subprocess.run(args, capture_output=True, text=True, cwd=REPO, check=False)
    total = time.perf_counter() - t
    # the machine's 1-minute load average at the start and the end of the run (other jobs disturb the times)
    load = f"{load0:.1f}-{os.getloadavg()[0]:.1f}"
    line = [x for x in res.stdout.splitlines() if x.startswith("BENCH ")]
    if not line:
        raise SystemExit(f"partition failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    fig = json.loads(line[-1][6:])
    fig["process_s"] = total
    fig["load_avg"] = load
    from gridgeo.plan import Plan

    meta = Plan.read(out).metadata
    fig["errors"] = meta.get("validation", {}).get("error")
    fig["timings"] = meta.get("timings_s", {})
    return fig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="50,100,200,400", help="communities per city (default %(default)s)")
    ap.add_argument("--workers", default="1,2", help="worker counts (default %(default)s)")
    ap.add_argument("--md", help="also write the markdown table to this file")
    ap.add_argument("--scenario", help="measure this GeoPackage (communities, streets, buildings) instead of synthetic cities")
    ap.add_argument("--keep", help="write the cities and plans to this folder (kept, e.g. to compare plans) instead of a temporary one")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="gridgeo-scale-") as tmp:
        if args.keep:
            tmp = args.keep
            Path(tmp).mkdir(parents=True, exist_ok=True)
        if args.scenario:
            cases = [(Path(args.scenario).stem, Path(args.scenario), None)]
        else:
            cases = [(int(s), None, s) for s in args.sizes.split(",")]
        for n, gpkg, _ in cases:
            if gpkg is None:
                city = synthetic_city(n)
                gpkg = Path(tmp) / f"city{n}.gpkg"
                for name, layer in city.items():
                    layer.to_crs(4490).to_file(gpkg, layer=name, driver="GPKG")
                bld = city["buildings"]
            else:
                import pyogrio

                bld = pyogrio.read_dataframe(gpkg, layer="buildings", read_geometry=False, columns=["households"])
                n = len(pyogrio.read_dataframe(gpkg, layer="communities", read_geometry=False, columns=["code"]))
            nb = len(bld)
            hh = int(bld["households"].sum())
            base = None
            for w in [int(s) for s in args.workers.split(",")]:
                fig = run_partition(gpkg, Path(tmp) / f"plan{n}-{w}.gpkg", w)
                base = fig["wall_s"] if base is None else base
                tm = {k: float(v) for k, v in fig["timings"].items() if isinstance(v, (int, float))}
                if "metrics_wait_s" in tm:  # quality measured in a forked process beside the validation
                    tm["metrics_beside_s"] = tm.pop("metrics_s")
                write_s = fig["wall_s"] - sum(v for k, v in tm.items() if k != "metrics_beside_s")
                rows.append({"communities": n, "buildings": nb, "households": hh, "workers": w,
                             "wall_s": round(fig["wall_s"], 1), "s_per_1k_buildings": round(1000 * fig["wall_s"] / nb, 3),
                             "main_peak_mb": round(fig["main_peak_mb"]), "worker_peak_mb": round(fig["worker_peak_mb"]),
                             "speedup_vs_first": round(base / fig["wall_s"], 2),
                             "read_blocks_s": round(tm.get("read_s", 0.0) + tm.get("blocks_s", 0.0), 1),
                             "partition_s": round(tm.get("partition_s", 0.0), 1),
                             "codes_s": round(tm.get("codes_s", 0.0), 1),
                             "quality_s": round(tm.get("metrics_s", tm.get("metrics_wait_s", 0.0)), 1),
                             "quality_beside_s": round(tm.get("metrics_beside_s", 0.0), 1),
                             "validate_s": round(tm.get("validate_s", 0.0), 1),
                             "untimed_s (storing, writing)": round(write_s, 1),
                             "serial_s": round(fig["wall_s"] - tm.get("partition_s", 0.0), 1),
                             "load_avg": fig["load_avg"], "validate_errors": fig["errors"]})
                print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    cols = list(rows[0]) if rows else []
    table = "\n".join(["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
                      + ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows])
    print(table)
    if args.md:
        Path(args.md).write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
