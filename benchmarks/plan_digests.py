"""Digests of the plans the partition engine draws, to check that a speed change keeps them identical.

Each dataset of ``bench_partition.py`` is partitioned in this process (``workers=1``, the engine's caches
emptied first) and, per community, the grids' and small grids' columns and geometries (WKB at 1 mm) are
hashed; the digest of all communities is printed with the CPU time of the partition call
(``time.process_time()``, less noisy than wall time on a shared machine; the compiled kernels loaded first,
so that a fresh checkout's compile is not timed). A name ending in ``+ent``
carves the dataset's dedicated units (enterprises layer, ``gridgeo partition --enterprises``) first and
partitions as ``gridgeo.pipeline.build_plan`` then does (the communities' whole outlines, the carved buildings'
pieces beyond them).

    GRIDGEO_SHARED_DATA=../shared/data .venv/bin/python benchmarks/plan_digests.py \
        sample,lujiazui,wuhan-messy,sample+ent [--json out/digests.json]

Run it at two commits (e.g. from a ``git worktree`` of the older one with ``PYTHONPATH`` pointing at it)
and compare the digests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_partition as bp  # noqa: E402


def digest(frame, id_column: str) -> str:
    """A digest of a frame's columns (as text) and geometries (WKB at 1 mm), rows ordered by id."""
    if frame is None or len(frame) == 0:
        return "empty"
    d = hashlib.sha256()
    rows = frame.sort_values(id_column).reset_index(drop=True)
    for col in [c for c in rows.columns if c != "geometry"]:
        d.update(col.encode())
        d.update(repr(list(rows[col].astype(str))).encode())
    for wkb in shapely.to_wkb(shapely.set_precision(rows.geometry.to_numpy(), 0.001)):
        d.update(wkb)
    return d.hexdigest()[:16]


def per_community(res) -> dict[str, str]:
    out = {}
    grid_code = res.grids["community_code"].astype(str)
    sub_code = res.subgrids["community_code"].astype(str) if len(res.subgrids) else None
    for code in sorted(grid_code.unique()):
        subs = res.subgrids[sub_code == code] if sub_code is not None else res.subgrids
        out[code] = digest(res.grids[grid_code == code], "grid_id") + "/" + digest(subs, "subgrid_id")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", help="comma-separated dataset names of bench_partition.py (+ent: units carved)")
    ap.add_argument("--json", type=Path, help="write the digests per community and the times here")
    args = ap.parse_args(argv)
    from gridgeo.partition import partition
    from gridgeo.pipeline import PartitionInputs, partition_inputs

    try:
        from gridgeo.partition._memo import clear_all
    except ImportError:  # an older commit, without the caches
        def clear_all() -> None:
            return None

    try:  # the kernels compiled (or loaded from numba's cache) before the first timed partition
        from gridgeo.partition._fast import warm_up
    except ImportError:  # an older commit, without compiled kernels
        def warm_up() -> bool:
            return False
    warm_up()

    results = {}
    for name in args.datasets.split(","):
        units = name.endswith("+ent")
        ds = bp.load_dataset(name.removesuffix("+ent"), bp.OUT / "wuhan_scenario")
        if isinstance(ds, str):
            print(f"{name}: skipped ({ds})")
            continue
        prep = ds.prep
        kw = {"streets": prep.streets, "rules": prep.rules}
        if units:  # the dedicated units carved first, as gridgeo.pipeline.build_plan does
            inp = partition_inputs(prep)
        else:
            inp = PartitionInputs(prep.communities, prep.blocks, prep.buildings, prep.villager_groups)
        comm, blocks, buildings = inp.communities, inp.blocks, inp.buildings
        kw.update(villager_groups=inp.villager_groups, outlines=inp.outlines, neighbours=inp.neighbours)
        if getattr(inp, "dedicated", None):  # the dedicated grids as carved (since session 37)
            kw["dedicated"] = inp.dedicated
        clear_all()
        cpu, wall = time.process_time(), time.perf_counter()
        res = partition(comm, blocks, buildings, workers=1, **kw)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        per = per_community(res)
        whole = hashlib.sha256(json.dumps(per, sort_keys=True).encode()).hexdigest()[:16]
        results[name] = {"cpu_s": round(cpu, 2), "wall_s": round(wall, 2), "digest": whole, "communities": per,
                         "grids": len(res.grids), "subgrids": len(res.subgrids)}
        print(f"{name}: cpu {cpu:.2f} s, wall {wall:.2f} s, {len(res.grids)} grids, {len(res.subgrids)} small grids, "
              f"digest {whole}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
