"""An exact upper bound on base grids within bounds in communities of large units (towers), against the engine.

Where every cell with households holds more than a third of the ceiling (towers of 200–400 households
against bounds of 300–500), a grid within the bounds holds one or two of them:

- a cell of ``lo..hi`` households (*heavy*) fits on its own, and at most one grid holds it;
- a cell under ``lo`` (*light*) fits only with one other light whose sum is ``lo..hi``, reached from it
  directly or through cells without households (the rest of that grid); distinct grids hold distinct
  pairs, so the pairs are a matching.

Hence ``in range <= heavy + ν``, with ``ν`` the maximum-cardinality matching
(:func:`networkx.max_weight_matching`) over light pairs that fit and are adjacent in the engine's own cell
graph (:func:`~gridgeo.partition.units.build_cells`, :func:`~gridgeo.partition.graph.cell_graph`: the
finest units the engine ever groups; footprint units are never divided) or meet through one connected
set of cells without households. Letting several pairs pass through the same empty cells only loosens
the bound. Any matching is reachable (unmatched cells are grids of their own), so with no empty cells
the bound is attained. The count bound drops adjacency (lights paired by households alone).

The share (in range ÷ eligible) has no such bound: one grid over the ceiling could take every light left
over (one grid out of range), which no engine should draw. Shown instead is the share of the *matching
partition*: the pairs of a matching that first has the most fitting light pairs (``ν``), then the most
other pairs under the ceiling (a light with a heavy cell: as many in range, one grid fewer; two lights
under the floor: one grid out of range instead of two), every other cell a grid of its own. A light that
fits with no cell it reaches is *forced* under the floor, as the engine flags it
(``grid_forced_under_floor``), and exempt. Where pairs meet through cells without households, those
pairs need not be drawn at once: that share is then an estimate, the bound in range is not.

    GRIDGEO_SHARED_DATA=../shared/data .venv/bin/python benchmarks/bound_inrange.py \
        --dataset wuhan-messy-420107 [--codes 420107014001,420107010001]

Without ``--codes``, every community of the dataset where the bound holds (all cells with households
over a third of the ceiling, some of them light) is measured. Each is partitioned by
:func:`~gridgeo.partition.community.partition_community`, as :func:`gridgeo.partition.partition` does.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclass
class Bound:
    """The bound of one community (see the module docstring)."""

    cells: int  # cells with households
    heavy: int  # cells of lo..hi households
    light: int  # cells under lo
    over: int  # cells over hi
    forced: int  # lights that fit with no cell they reach
    pairs: int  # ν: maximum matching of fitting, adjacent light pairs
    count_pairs: int  # the same, adjacency ignored
    other_pairs: int  # other pairs under the ceiling in the matching partition

    @property
    def in_range(self) -> int:
        return self.heavy + self.pairs

    @property
    def count_bound(self) -> int:
        return self.heavy + self.count_pairs

    @property
    def share(self) -> float:
        """In range ÷ eligible of the matching partition."""
        eligible = self.cells - self.pairs - self.other_pairs - self.forced - self.over
        return self.in_range / eligible if eligible > 0 else 1.0


def reach_pairs(h: np.ndarray, a: np.ndarray, b: np.ndarray, *, multipart: bool = False) -> set[tuple[int, int]]:
    """Pairs of cells with households adjacent in the graph ``a``–``b`` or through one connected set of
    cells without households; with ``multipart`` (a community in separate parts, whose parts too small for
    a grid join the nearest grid) also every pair of cells in different connected components."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(h)
    full = h > 0
    out = {(min(x, y), max(x, y)) for x, y in zip(a.tolist(), b.tolist()) if full[x] and full[y] and x != y}
    empty_edge = ~full[a] & ~full[b]
    mat = coo_matrix((np.ones(int(empty_edge.sum())), (a[empty_edge], b[empty_edge])), shape=(n, n))
    _, comp = connected_components(mat, directed=False)
    touching: dict[int, set[int]] = {}
    for x, y in zip(a.tolist(), b.tolist()):
        for e, f in ((x, y), (y, x)):
            if not full[e] and full[f]:
                touching.setdefault(int(comp[e]), set()).add(f)
    for members in touching.values():
        m = sorted(members)
        out.update((m[i], m[j]) for i in range(len(m)) for j in range(i + 1, len(m)))
    if multipart:
        mat = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        _, part = connected_components(mat, directed=False)
        idx = np.flatnonzero(full)
        out.update((int(x), int(y)) for i, x in enumerate(idx) for y in idx[i + 1:] if part[x] != part[y])
    return out


def inrange_bound(h: np.ndarray, a: np.ndarray, b: np.ndarray, lo: float, hi: float, *,
                  multipart: bool = False) -> Bound | None:
    """The bound over cells of ``h`` households with edges ``a``–``b`` (:func:`reach_pairs`); None where a
    cell with households holds at most ``hi / 3`` (a grid within the bounds could hold three or more: the
    bound does not hold)."""
    import networkx as nx

    h = np.asarray(h, dtype=float)
    full = np.flatnonzero(h > 0)
    if not len(full) or (h[full] <= hi / 3).any():
        return None
    light = (h > 0) & (h < lo)
    heavy = (h >= lo) & (h <= hi)
    pairs = reach_pairs(h, np.asarray(a), np.asarray(b), multipart=multipart)
    fit = nx.Graph()  # light pairs within the bounds
    both = nx.Graph()  # these first (weight w), then any other pair under the ceiling with a light (1)
    w = len(h) + 1
    partner = np.zeros(len(h), dtype=bool)
    for x, y in sorted(pairs):
        s = h[x] + h[y]
        if s > hi or not (light[x] or light[y]):
            continue
        partner[x] = partner[y] = True
        if light[x] and light[y] and s >= lo:
            fit.add_edge(x, y)
            both.add_edge(x, y, weight=w)
        elif heavy[x] or heavy[y] or (light[x] and light[y]):
            both.add_edge(x, y, weight=1)
    nu = len(nx.max_weight_matching(fit, maxcardinality=True))
    matched = nx.max_weight_matching(both)
    first = sum(both[x][y]["weight"] == w for x, y in matched)
    if first != nu:  # the weights put the fitting pairs first
        raise AssertionError(f"matching partition has {first} fitting pairs, not {nu}")
    forced = int((light & ~partner).sum())
    # the count bound: lights paired by households alone (smallest with the largest that fits)
    hl = np.sort(h[light])
    i, j, count = 0, len(hl) - 1, 0
    while i < j:
        if hl[i] + hl[j] <= hi:
            count += 1
            i += 1
        j -= 1
    return Bound(cells=len(full), heavy=int(heavy.sum()), light=int(light.sum()), over=int((h > hi).sum()),
                 forced=forced, pairs=nu, count_pairs=count, other_pairs=len(matched) - nu)


def community_cells(job: dict):
    """The engine's cells of one community job and their graph, as :func:`partition_community` builds them,
    and whether the community is in separate parts."""
    from gridgeo.footprints import unit_groups
    from gridgeo.partition.community import _blocks, _with_foreign
    from gridgeo.partition.graph import cell_graph
    from gridgeo.partition.units import build_cells

    job = _with_foreign(job)
    r = job["rules"]
    block_geoms, _ids, bblock, _zones = _blocks(job, [])
    hh = job["bld_households"]
    unit = unit_groups(job["bld_unit"])[0] if job.get("bld_unit") is not None else None
    cells = build_cells(job["geometry"], block_geoms, job["bld_geoms"], bblock, hh, unit=unit)
    g = cell_graph(cells.geoms, households=cells.households, block=cells.block, streets=job["streets"],
                   arterial=job["arterial"], snap_m=r.street_snap_m)
    return cells, g, shapely.get_num_geometries(job["geometry"]) > 1


def engine_figures(job: dict) -> tuple[int, int, int, float]:
    """The engine's base grids of one community: grids, in range, eligible (less exemptions: forced under
    the floor, one building over the ceiling), seconds."""
    from gridgeo.partition.community import partition_community
    from gridgeo.partition.metrics import FORCED_UNDER_FLOOR

    r = job["rules"]
    t = time.perf_counter()
    res = partition_community(job)
    seconds = time.perf_counter() - t
    grids = res["grids"]
    inr = sum(r.grid_min <= x["households"] <= r.grid_max for x in grids)
    exempt = sum(FORCED_UNDER_FLOOR in x["flags"] or (x["households"] > r.grid_max and x["buildings"] == 1)
                 for x in grids)
    return len(grids), inr, len(grids) - exempt, seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="wuhan-messy-420107", help="a dataset name of bench_partition.py")
    ap.add_argument("--codes", help="comma-separated community codes (default: every one the bound holds on)")
    args = ap.parse_args(argv)
    import bench_partition as bp

    from gridgeo.partition.engine import _jobs
    from gridgeo.rules import load_rules

    ds = bp.load_dataset(args.dataset, bp.OUT / "wuhan_scenario")
    if isinstance(ds, str):
        print(f"{args.dataset}: skipped ({ds})")
        return 1
    prep = ds.prep
    jobs = _jobs(prep.communities, prep.blocks, prep.buildings, prep.streets, prep.villager_groups,
                 load_rules(prep.rules))
    wanted = set(args.codes.split(",")) if args.codes else None
    print("| community | households | cells with households (heavy / light / forced) | engine grids | "
          "engine in range / eligible | bound in range (adjacency) | count bound (no adjacency) | "
          "share: engine / matching partition | engine s |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    tot = np.zeros(4, dtype=np.int64)
    for job in jobs:
        if job.get("groups") is not None or (wanted is not None and job["code"] not in wanted):
            continue
        r = job["rules"]
        cells, g, multipart = community_cells(job)
        bound = inrange_bound(cells.households, g.a, g.b, r.grid_min, r.grid_max, multipart=multipart)
        if bound is None or (wanted is None and not bound.light):
            if wanted is not None:
                print(f"| {job['code']} | – | the bound does not hold (a cell of at most {r.grid_max / 3:.0f} "
                      "households) | | | | | | |")
            continue
        n, inr, elig, secs = engine_figures(job)
        m_elig = bound.cells - bound.pairs - bound.other_pairs - bound.forced - bound.over
        tot += [inr, elig, bound.in_range, m_elig]
        print(f"| {job['code']} | {int(cells.households.sum()):,} | {bound.cells} ({bound.heavy} / {bound.light} / "
              f"{bound.forced}) | {n} | {inr} / {elig} | {bound.in_range} | {bound.count_bound} | "
              f"{inr / max(elig, 1):.1%} / {bound.share:.1%} | {secs:.1f} |")
    if tot[1]:
        print(f"| all | | | | {tot[0]:,} / {tot[1]:,} | {tot[2]:,} (eligible in the matching partition: "
              f"{tot[3]:,}) | | {tot[0] / tot[1]:.1%} / {tot[2] / max(tot[3], 1):.1%} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
