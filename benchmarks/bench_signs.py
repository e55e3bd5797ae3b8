"""Benchmark: notice boards (公示牌) as separate PDFs against one multi-page PDF (``--one-file``).

    .venv/bin/python benchmarks/bench_signs.py --plan PLAN.gpkg [--streets FILE --streets-layer NAME] [--grids 10]

Writes the signs of the plan's first ``--grids`` grids (by code) both ways, in the same process, and
prints seconds per sign and the ratio. The separate PDFs are the peer: each embeds its own subset of
the CJK font, which is most of its time.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", required=True)
    ap.add_argument("--streets")
    ap.add_argument("--streets-layer")
    ap.add_argument("--grids", type=int, default=10)
    args = ap.parse_args(argv)
    import gridgeo
    from gridgeo.maps import write_signs

    plan = gridgeo.read_plan(args.plan)
    codes = sorted(plan.grids["grid_code"].astype(str))[: args.grids]
    streets = (args.streets, args.streets_layer) if args.streets else None
    root = Path(tempfile.mkdtemp(prefix="bench-signs-"))
    try:
        rows = []
        for name, one_file in (("peer: one PDF per grid", False), ("gridgeo --one-file: one multi-page PDF", True)):
            t = time.perf_counter()
            written = write_signs(plan, root / str(one_file), grids=codes, streets=streets, one_file=one_file)
            s = time.perf_counter() - t
            rows.append((name, s / len(codes), sum(p.stat().st_size for p in written)))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{len(codes)} signs (A4 PDF, 300 dpi)")
    for name, per, size in rows:
        print(f"{name:<42} {per:>6.2f} s per sign {size / 1e6:>7.2f} MB  ratio {per / rows[0][1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
