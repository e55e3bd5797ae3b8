"""What loading the partition's compiled kernels (numba, ``cache=True``) costs a fresh process (issue 12).

One fresh interpreter per run (``--runs`` of them, default 5), the kernels already in numba's cache (run a
partition once first); CPU time (``time.process_time()``) of each step in the order a division pays them:
``import gridgeo``; ``import gridgeo.partition`` (geopandas, pandas: paid with or without numba); ``import
numba``; numba's CPU target (typing and lowering registries, llvmlite's target machine); ``import
gridgeo.partition._kernels`` (the ``@njit`` decorators); :func:`gridgeo.partition._fast.warm_up` (every
kernel's cached code loaded: the index read, the data read and unpickled, the code rebuilt and linked; then
run once on a tiny graph). Prints each run, the minimum of each step, each kernel's load (minimum) and the
overloads each kernel holds after the warm-up.

    PYTHONPATH=. .venv/bin/python benchmarks/kernel_load.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

STEPS = ["import_gridgeo", "import_partition", "import_numba", "cpu_target", "import_kernels", "warm_up", "loads"]


def child() -> None:
    pt = time.process_time
    out: dict = {}
    t = pt()
    import gridgeo  # noqa: F401

    out["import_gridgeo"] = pt() - t
    t = pt()
    import gridgeo.partition  # noqa: F401

    out["import_partition"] = pt() - t
    out["numba_imported_by_gridgeo"] = "numba" in sys.modules
    t = pt()
    import numba  # noqa: F401

    out["import_numba"] = pt() - t
    from numba.core import caching
    from numba.core.registry import CPUDispatcher, cpu_target

    t = pt()
    cpu_target.target_context.refresh()
    cpu_target.typing_context.refresh()
    out["cpu_target"] = pt() - t
    per: dict[str, float] = {}
    load = caching.Cache.load_overload

    def timed(self, sig, ctx):
        t0 = pt()
        got = load(self, sig, ctx)
        name = self._name.split(" ")[1] if " " in self._name else self._name
        per[name] = per.get(name, 0.0) + pt() - t0
        return got

    caching.Cache.load_overload = timed
    t = pt()
    from gridgeo.partition import _fast, _kernels

    out["import_kernels"] = pt() - t
    t = pt()
    assert _fast.warm_up(), "the kernels did not load"
    out["warm_up"] = pt() - t
    out["loads"] = sum(per.values())
    out["per_kernel"] = per
    out["overloads"] = {n: len(f.signatures) for n, f in vars(_kernels).items()
                        if isinstance(f, CPUDispatcher) and f.signatures}
    print(json.dumps(out))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child()
        return 0
    runs = []
    for _ in range(args.runs):
        got = subprocess.run([sys.executable, __file__, "--child"], check=True, capture_output=True, text=True)
        runs.append(json.loads(got.stdout.splitlines()[-1]))
        print("  ".join(f"{s} {runs[-1][s]:.3f}" for s in STEPS))
    print("min   " + "  ".join(f"{s} {min(r[s] for r in runs):.3f}" for s in STEPS))
    numba_steps = ["import_numba", "cpu_target", "import_kernels", "warm_up"]
    print(f"numba per process (sum of the minima of {', '.join(numba_steps)}): "
          f"{sum(min(r[s] for r in runs) for s in numba_steps):.3f} s; numba imported by `import gridgeo.partition`: "
          f"{any(r['numba_imported_by_gridgeo'] for r in runs)}")
    kernels = sorted(runs[0]["per_kernel"], key=lambda k: -min(r["per_kernel"][k] for r in runs))
    print("load per kernel, min s: " + ", ".join(f"{k} {min(r['per_kernel'][k] for r in runs):.4f}" for k in kernels))
    print(f"overloads after the warm-up: {runs[-1]['overloads']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
