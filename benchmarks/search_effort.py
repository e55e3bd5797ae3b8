"""Where the partition's search spends effort that does not change the answer (issue 12, session 40).

Each dataset of ``bench_partition.py`` is partitioned in this process (``workers=1``, the engine's caches
emptied, the kernels loaded first) with the engine's search steps wrapped in CPU timers
(``time.process_time()``) and counters. For each step it records what was evaluated and the CPU of the
evaluations whose result was not kept:

- the graph solver (``partition_graph``, by the step that called it): strict bisections tried at the top of a
  search and how many failed, and the CPU of the strict searches that failed (a failed search at the top, and
  the failed branches inside one that succeeded); repair rounds and local searches that changed nothing;
- small-grid divisions (``small_division``): the spanning-tree seeds drawn, the divisions retried with
  further seeds, those where a retry was kept, and the CPU of the seeds drawn after the one kept (the first
  with the fewest misses);
- the passes that keep their input when they find nothing better (small-grid reshaping, recombination,
  fitting, compactness polish, opening enclosures): calls, calls that changed nothing, and their CPU;
- drawings compared and one kept (the base grids drawn again with ring blocks opened; the community drawn
  again with strips cut, or for small-grid rings): drawn, kept, the CPU of those not kept.

Shares are of the partition's CPU; the steps nest (the small-grid divisions run inside the passes that judge
by them), so the rows are not to be summed. The plans are those of the code as it stands (the digest printed
is ``plan_digests.py``'s); ``--json`` also writes the figures per community.

    GRIDGEO_SHARED_DATA=../shared/data .venv/bin/python benchmarks/search_effort.py \
        sample,lujiazui,wuhan-messy-420107,wuhan-messy-420104 [--json out/effort.json]
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_partition as bp  # noqa: E402
import plan_digests as pd  # noqa: E402

clk = time.process_time


class Recorder:
    """Counters per step (``stages``) and per community and step (``per``)."""

    def __init__(self) -> None:
        self.stages: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.per: dict[str, dict[str, collections.Counter]] = {}
        self.code: str | None = None
        self.ctx: list[str] = []

    def add(self, stage: str, **kv: float) -> None:
        self.stages[stage].update(kv)
        self.per.setdefault(str(self.code), collections.defaultdict(collections.Counter))[stage].update(kv)

    def caller(self) -> str:
        return self.ctx[-1] if self.ctx else "other"

    def timed(self, stage: str, f: Any, *a: Any, **k: Any) -> tuple[Any, float]:
        """``f(*a, **k)`` run as ``stage`` (the caller its solvers are counted under), with its CPU seconds."""
        self.ctx.append(stage)
        t = clk()
        try:
            out = f(*a, **k)
        finally:
            self.ctx.pop()
        return out, clk() - t


def instrument(R: Recorder) -> None:
    """Wrap the engine's steps (module attributes of :mod:`gridgeo.partition.community`, the solver's methods)."""
    from gridgeo.partition import community as C
    from gridgeo.partition import engine as E
    from gridgeo.partition import solver as S

    one = E.partition_community

    def partition_community(job: dict[str, Any]) -> Any:
        R.code = str(job["code"])
        t = clk()
        out = one(job)
        R.add("community", cpu=clk() - t, calls=1)
        return out
    E.partition_community = partition_community

    def labels_of(x: Any) -> np.ndarray:
        return np.asarray(x[0] if isinstance(x, tuple) else x)

    def kept_input(name: str, stage: str, arg: int) -> None:
        f = getattr(C, name)

        def wrapped(*a: Any, **k: Any) -> Any:
            out, dt = R.timed(stage, f, *a, **k)
            same = np.array_equal(np.asarray(a[arg]), labels_of(out))
            if name == "_fit_small_grids":
                same = same and out[1] is a[6]  # no block divided
            R.add(stage, cpu=dt, calls=1, **({"wasted_cpu": dt, "nochange_calls": 1} if same else {}))
            return out
        setattr(C, name, wrapped)

    kept_input("reshape_for_small_grids", "reshape_for_small_grids", 1)
    kept_input("_recombine_for_small_grids", "recombine_for_small_grids", 1)
    kept_input("_fit_small_grids", "fit_small_grids", 1)
    kept_input("polish_compactness", "polish_compactness", 2)
    kept_input("open_enclosures", "open_enclosures", 2)

    # drawings compared, one kept
    once, base = C._base_grids_once, C._base_grids
    drawings: list[list[tuple[Any, float, bool]]] = []

    def base_grids_once(*a: Any, **k: Any) -> Any:
        out, dt = R.timed("base_drawing", once, *a, **k)
        drawings[-1].append((out[0], dt, "split" in k))
        return out

    def base_grids(*a: Any, **k: Any) -> Any:
        drawings.append([])
        t = clk()
        out = base(*a, **k)
        R.add("base_grids", cpu=clk() - t, calls=1)
        for o, dt, ring in drawings.pop():
            if ring:
                R.add("ring_redraw", cpu=dt, calls=1, **({"wasted_cpu": dt} if o is not out[0] else {"kept": 1}))
        return out
    C._base_grids_once, C._base_grids = base_grids_once, base_grids

    started: dict[str, list[float]] = {}
    cells = C.build_cells

    def build_cells(*a: Any, **k: Any) -> Any:
        if k.get("strips") is not None and k.get("smooth") is None:  # a drawing again begins
            started.setdefault(str(R.code), []).append(clk())
        return cells(*a, **k)
    C.build_cells = build_cells

    def decided(name: str, stage: str) -> None:
        f = getattr(C, name)

        def wrapped(*a: Any, **k: Any) -> Any:
            out = f(*a, **k)
            dt = clk() - started[str(R.code)][-1]
            R.add(stage, cpu=dt, calls=1, **({"kept": 1} if out else {"wasted_cpu": dt}))
            return out
        setattr(C, name, wrapped)
    decided("_fewer_wrapped", "strip_redraw")
    decided("_better_small", "small_ring_redraw")

    # small-grid divisions: the seeds drawn, the first with the fewest misses kept
    small, solve = C.small_division, C.partition_graph
    seeds: list[list[tuple[float, tuple[int, int]]] | None] = []

    def partition_graph(*a: Any, **k: Any) -> Any:
        if not seeds or seeds[-1] is None:
            return solve(*a, **k)
        t = clk()
        out = solve(*a, **k)
        seeds[-1].append((clk() - t, C._small_misses(out, a[0].h, a[1])))
        return out
    C.partition_graph = partition_graph

    def small_division(*a: Any, **k: Any) -> Any:
        seeds.append([] if k.get("start") is None else None)
        out, dt = R.timed("small_division", small, *a, **k)
        drawn = seeds.pop()
        if drawn:
            misses = [m for _, m in drawn]
            kept = misses.index(min(misses))
            R.add("small_division", cpu=dt, calls=1, seeds=len(drawn), wasted_cpu=sum(c for c, _ in drawn[kept + 1:]),
                  retried=int(len(drawn) > 1), retry_kept=int(kept > 0))
        else:
            R.add("small_division", cpu=dt, calls=1, memo_hits=1)
        return out
    C.small_division = small_division

    # the solver: strict searches that failed, repair and local search that changed nothing
    split = S._Solver._split
    frames: list[list[float]] = []

    def _split(self: Any, nodes: np.ndarray, k: int) -> Any:
        frames.append([0.0])
        t = clk()
        out = split(self, nodes, k)
        dt = clk() - t
        dead = frames.pop()[0]
        mine = dt if out is None else dead  # a failed search is dead whole; a found one, its failed branches
        if frames:
            frames[-1][0] += mine
        else:
            R.add("solver:" + R.caller(), split_top=1, split_top_failed=int(out is None), split_dead_cpu=mine)
        return out
    S._Solver._split = _split

    def solver_step(name: str, key: str, unchanged: Any = None) -> None:
        f = getattr(S._Solver, name)

        def wrapped(self: Any, *a: Any, **k: Any) -> Any:
            t = clk()
            out = f(self, *a, **k)
            dt = clk() - t
            extra = {key + "_nochange_cpu": dt} if unchanged is not None and unchanged(a, out) else {}
            R.add("solver:" + R.caller(), **{key + "_cpu": dt, key + "_calls": 1}, **extra)
            return out
        setattr(S._Solver, name, wrapped)

    solver_step("_candidates", "candidates")
    solver_step("_repair_all", "repair", lambda a, out: np.array_equal(a[0], out[0]) and a[1] == out[1])
    solver_step("_improve", "improve", lambda a, out: np.array_equal(a[0], out))
    run = S._Solver.run

    def solver_run(self: Any, **k: Any) -> Any:
        t = clk()
        out = run(self, **k)
        R.add("solver:" + R.caller(), solver_cpu=clk() - t, solvers=1)
        return out
    S._Solver.run = solver_run


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)

    def g(d: dict, st: str, k: str) -> float:
        return d["stages"].get(st, {}).get(k, 0)

    def share(d: dict, x: float) -> str:
        return f"{x:.2f} s ({100 * x / d['cpu_s']:.0f}%)"

    def solver(d: dict, k: str, caller: str | None = None) -> float:
        return sum(v.get(k, 0) for s, v in d["stages"].items()
                   if s.startswith("solver:") and (caller is None or s == "solver:" + caller))

    def rest(d: dict, k: str) -> float:
        return solver(d, k) - solver(d, k, "base_drawing") - solver(d, k, "small_division")

    rows: list[tuple[str, Any]] = [
        ("partition CPU (instrumented)", lambda d: f"{d['cpu_s']:.2f} s"),
        ("solver, base drawing: strict searches at the top / failed",
         lambda d: f"{g(d, 'solver:base_drawing', 'split_top')} / {g(d, 'solver:base_drawing', 'split_top_failed')}"),
        ("solver, base drawing: CPU / of strict searches that failed",
         lambda d: f"{solver(d, 'solver_cpu', 'base_drawing'):.2f} / " + share(d, solver(d, 'split_dead_cpu', 'base_drawing'))),
        ("solver, small-grid divisions: CPU / of strict searches that failed",
         lambda d: f"{solver(d, 'solver_cpu', 'small_division'):.2f} / " + share(d, solver(d, 'split_dead_cpu', 'small_division'))),
        ("solver, every other caller: CPU / of strict searches that failed",
         lambda d: f"{rest(d, 'solver_cpu'):.2f} / " + share(d, rest(d, 'split_dead_cpu'))),
        ("solver: spanning-tree candidate calls (all callers)", lambda d: f"{solver(d, 'candidates_calls')}"),
        ("solver: repair rounds that changed nothing", lambda d: share(d, solver(d, 'repair_nochange_cpu'))),
        ("solver: local searches that changed nothing", lambda d: share(d, solver(d, 'improve_nochange_cpu'))),
        ("small-grid divisions drawn afresh / seeds / retried / a retry kept",
         lambda d: f"{g(d, 'small_division', 'calls') - g(d, 'small_division', 'memo_hits')} / "
                   f"{g(d, 'small_division', 'seeds')} / {g(d, 'small_division', 'retried')} / "
                   f"{g(d, 'small_division', 'retry_kept')}"),
        ("small-grid divisions: CPU of the seeds after the one kept", lambda d: share(d, g(d, 'small_division', 'wasted_cpu'))),
    ]
    for st, lab in [("reshape_for_small_grids", "small-grid reshaping"), ("recombine_for_small_grids", "recombination"),
                    ("fit_small_grids", "fitting small grids"), ("polish_compactness", "compactness polish"),
                    ("open_enclosures", "opening enclosures")]:
        rows.append((f"{lab}: calls / unchanged; CPU / of the unchanged",
                     lambda d, st=st: f"{g(d, st, 'calls')} / {g(d, st, 'nochange_calls')}; {g(d, st, 'cpu'):.2f} / "
                                      + share(d, g(d, st, 'wasted_cpu'))))
    for st, lab in [("ring_redraw", "base grids drawn again, ring blocks opened"),
                    ("strip_redraw", "community drawn again, strips cut"),
                    ("small_ring_redraw", "community drawn again for small-grid rings")]:
        rows.append((f"{lab}: drawn / kept; CPU of those not kept",
                     lambda d, st=st: f"{g(d, st, 'calls')} / {g(d, st, 'kept')}; " + share(d, g(d, st, 'wasted_cpu'))))
    lines = ["| step | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines += [f"| {lab} | " + " | ".join(f(results[n]) for n in names) + " |" for lab, f in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", help="comma-separated dataset names of bench_partition.py")
    ap.add_argument("--json", type=Path, help="also write the figures, per step and per community, here")
    args = ap.parse_args(argv)
    from gridgeo.partition import partition
    from gridgeo.partition._memo import clear_all
    from gridgeo.pipeline import PartitionInputs

    loaded = []
    for name in args.datasets.split(","):
        ds = bp.load_dataset(name, bp.OUT / "wuhan_scenario")
        if isinstance(ds, str):
            print(f"{name}: skipped ({ds})")
            continue
        loaded.append((name, ds.prep))
    if not loaded:
        return 1
    # the kernels loaded (from numba's cache) before any timer: one community of the first dataset
    prep = loaded[0][1]
    partition(prep.communities.iloc[:1], prep.blocks, prep.buildings, streets=prep.streets, rules=prep.rules, workers=1)
    instrument(R := Recorder())
    results = {}
    for name, prep in loaded:
        inp = PartitionInputs(prep.communities, prep.blocks, prep.buildings, prep.villager_groups)
        R.stages.clear()
        R.per.clear()
        clear_all()
        t = clk()
        res = partition(inp.communities, inp.blocks, inp.buildings, workers=1, streets=prep.streets, rules=prep.rules,
                        villager_groups=inp.villager_groups, outlines=inp.outlines, neighbours=inp.neighbours)
        cpu = clk() - t
        digest = hashlib.sha256(json.dumps(pd.per_community(res), sort_keys=True).encode()).hexdigest()[:16]
        print(f"{name}: partition CPU {cpu:.2f} s (instrumented), digest {digest}", flush=True)
        results[name] = {"cpu_s": cpu, "digest": digest, "stages": {k: dict(v) for k, v in R.stages.items()},
                         "per": {c: {k: dict(v) for k, v in s.items()} for c, s in R.per.items()}}
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
