"""Why small grids miss 100–150 on a Lujiazui builder seed: one line per base grid holding a miss.

For each base grid with a small grid out of range (under the floor, or over the ceiling with more
than one footprint unit: the honest count), it prints the grid's households, its small grids, its
towers (over the ceiling) and walk-ups, whether the walk-ups' sizes can be grouped into 100–150 at
all (``feasibility.packable``), and the fewest small grids out of range its cells can be divided
into, exactly, under two models of cells without households: the engine's (a region of them joins
the neighbour it shares most boundary with, :class:`~gridgeo.partition.subgrids.SmallGridBadness`) and
a relaxation (such a region joins all its neighbours to each other). A count of 1 or more under the
relaxation proves that no division of that base grid's cells has all small grids in range. Then,
for each neighbouring base grid, random spanning-tree cuts of the two grids' cells (``--trees``)
into two connected grids of 300–500 whose cells both admit 0 misses (engine's model): a neighbour
listed proves a different base division of the pair exists (compactness not asked); none listed
proves nothing. ``None`` where the exact search ran over its budget.

    GRIDGEO_SHARED_DATA=../shared/data python benchmarks/small_grid_misses.py 31 [--trees 40]
    GRIDGEO_SHARED_DATA=../shared/data python benchmarks/small_grid_misses.py flaws:addrpoints:4   # bench_unseen --flaws
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from gridgeo.partition.subgrids import BudgetExceeded, connected_sets

sys.path.insert(0, str(Path(__file__).resolve().parent))

LO, HI = 100, 150


def capture(seed: str) -> tuple[dict, object]:
    """The plan of Lujiazui builder seed ``seed`` (or of ``flaws:FLAGS:SEED``, a ``bench_unseen.py --flaws``
    variant) and, per community, its cells, cell graph and base grids."""
    import bench_unseen as bu

    import gridgeo
    from gridgeo.partition import community as C

    captured: dict = {}
    orig = C._base_findings

    def patched(out, grid_of_cell, grid_ids, grid_geoms, grid_h, ctx):
        g = ctx["graph"]
        captured[ctx["code"]] = {"grid_of_cell": grid_of_cell.copy(), "grid_ids": list(grid_ids),
                                 "h": ctx["cells"].households.copy(), "a": g.a.copy(), "b": g.b.copy(),
                                 "length": g.length.copy()}
        return orig(out, grid_of_cell, grid_ids, grid_geoms, grid_h, ctx)

    C._base_findings = patched
    try:
        if seed.startswith("flaws:"):
            flags, _, n = seed.removeprefix("flaws:").partition(":")
            plan = gridgeo.divide(**bu.flawed_variant(set(flags.split("-")), int(n or 0)))
        else:
            plan = gridgeo.divide(**bu.lujiazui(seed))
    finally:
        C._base_findings = orig
    return captured, plan


def neighbours(cap: dict) -> dict[int, dict[int, float]]:
    adj: dict[int, dict[int, float]] = defaultdict(dict)
    for a, b, L in zip(cap["a"].tolist(), cap["b"].tolist(), cap["length"].tolist(), strict=True):
        adj[a][b] = adj[a].get(b, 0) + L
        adj[b][a] = adj[b].get(a, 0) + L
    return adj


def model(nodes, h, adj, relaxed: bool) -> tuple[list[int], list[int]]:
    """Walk-up cells (0 < h <= HI) and their bitmask adjacency; towers are small grids alone."""
    inset = set(nodes)
    live = [v for v in nodes if 0 < h[v] <= HI]
    idx = {v: i for i, v in enumerate(live)}
    nb = [0] * len(live)
    for v in live:
        for u in adj[v]:
            if u in idx:
                nb[idx[v]] |= 1 << idx[u]
    seen: set[int] = set()
    for z in nodes:
        if h[z] != 0 or z in seen:
            continue
        region, st = [], [z]
        seen.add(z)
        while st:
            x = st.pop()
            region.append(x)
            for y in adj[x]:
                if y in inset and h[y] == 0 and y not in seen:
                    seen.add(y)
                    st.append(y)
        shared: dict[int, float] = {}
        for x in region:
            for y, L in adj[x].items():
                if y in idx:
                    shared[y] = shared.get(y, 0) + L
        ys = sorted(shared)
        if not ys:
            continue
        if relaxed:
            for y1 in ys:
                for y2 in ys:
                    if y1 != y2:
                        nb[idx[y1]] |= 1 << idx[y2]
        else:
            anchor = max(ys, key=lambda y: shared[y])
            for y in ys:
                if y != anchor:
                    nb[idx[anchor]] |= 1 << idx[y]
                    nb[idx[y]] |= 1 << idx[anchor]
    return [int(h[v]) for v in live], nb


def min_misses(hl: list[int], nb: list[int], budget: int = 100_000) -> int | None:
    """Fewest connected groups out of LO..HI covering the walk-ups (exact; None over ``budget``)."""
    n = len(hl)
    if n == 0:
        return 0
    memo: dict[int, int] = {}
    steps = [0]

    def sets(mask: int) -> list[tuple[int, int]]:
        return connected_sets(mask, hl, nb, HI, steps, budget)

    def best(mask: int) -> int:
        if mask == 0:
            return 0
        if mask in memo:
            return memo[mask]
        r = n + 1
        cands = sets(mask)
        cands.sort(key=lambda c: c[1] < LO)
        for S, hS in cands:
            c = best(mask & ~S) + (hS < LO)
            if c < r:
                r = c
                if r == 0:
                    break
        memo[mask] = r
        return r

    sys.setrecursionlimit(100_000)
    try:
        return best((1 << n) - 1)
    except BudgetExceeded:
        return None


def tree_cut_sides(nodes: list[int], edges: list[tuple[int, int]], h, H: int, rng: random.Random):
    """One random spanning tree of ``nodes`` (``edges`` shuffled in place by ``rng``, Kruskal's order): each subtree
    (a set of nodes) whose households and the rest's are both within 300–500, in the tree's order."""
    rng.shuffle(edges)
    parent = {v: v for v in nodes}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    tadj: dict[int, list[int]] = defaultdict(list)
    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
            tadj[a].append(b)
            tadj[b].append(a)
    root = int(nodes[0])
    order, par, st = [], {root: None}, [root]
    while st:
        x = st.pop()
        order.append(x)
        for y in tadj[x]:
            if y not in par:
                par[y] = x
                st.append(y)
    sub = {v: int(h[v]) for v in nodes}
    for x in reversed(order):
        if par[x] is not None:
            sub[par[x]] += sub[x]
    for x in order[1:]:
        if not (300 <= sub[x] <= 500 and 300 <= H - sub[x] <= 500):
            continue
        side, st = set(), [x]
        while st:
            y = st.pop()
            side.add(y)
            st.extend(z for z in tadj[y] if par.get(z) == y)
        yield side


def pair_fix(adj, p: int, q: int, h, gl, trees: int, rng: random.Random) -> bool | None:
    """Whether some tree cut of grids p ∪ q gives two connected grids of 300–500 each admitting 0 misses."""
    from gridgeo.partition.feasibility import packable

    nodes = [v for v in range(len(gl)) if gl[v] in (p, q)]
    ns = set(nodes)
    H = sum(int(h[v]) for v in nodes)
    if not (600 <= H <= 1000):
        return None
    edges = [(a, b) for a in nodes for b in adj[a] if b in ns and a < b]
    cache: dict[frozenset, int | None] = {}
    evals = 0

    def fits(part) -> bool:
        w = [int(h[v]) for v in part if 0 < h[v] <= HI]
        return not w or packable(np.array(w, dtype=float), LO, HI, node_limit=200)

    def misses(part) -> int | None:
        key = frozenset(part)
        if key not in cache:
            cache[key] = min_misses(*model(sorted(part), h, adj, False), budget=30_000)
        return cache[key]

    for _ in range(trees):
        for side in tree_cut_sides(nodes, edges, h, H, rng):
            other = ns - side
            if not (fits(side) and fits(other)):
                continue
            evals += 1
            if evals > 150:
                return False
            if misses(side) == 0 and misses(other) == 0:
                return True
    return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed", help="Lujiazui builder seed (bench_unseen.py --lujiazui) or flaws:FLAGS:SEED (--flaws)")
    ap.add_argument("--trees", type=int, default=40, help="random spanning trees per pair of grids")
    args = ap.parse_args(argv)
    from gridgeo.partition.feasibility import packable

    captured, plan = capture(args.seed)
    print(plan.quality().loc["in range / eligible"].to_string())
    sub, grids, b = plan.subgrids, plan.grids.set_index("grid_id"), plan.buildings
    lived = b[b["households"] > 0].groupby("subgrid_id")["unit_id"].nunique()
    units = sub["subgrid_id"].map(lived).fillna(0).astype(int)
    miss = sub[(sub["households"] < LO) | ((sub["households"] > HI) & (units > 1))]
    rng = random.Random(0)
    for gid, grp in miss.groupby("grid_id"):
        cap = captured.get(grp["community_code"].iloc[0])
        if cap is None or gid not in cap["grid_ids"]:
            print(gid, grids.loc[gid, "kind"], "not a base grid of the partition", grp["households"].tolist())
            continue
        p = cap["grid_ids"].index(gid)
        h, gl, adj = cap["h"], cap["grid_of_cell"], neighbours(cap)
        nodes = np.flatnonzero(gl == p).tolist()
        hh = sorted((int(h[v]) for v in nodes if h[v] > 0), reverse=True)
        walk = [x for x in hh if x <= HI]
        sizes = packable(np.array(walk, dtype=float), LO, HI, node_limit=2000) if walk else True
        engine = min_misses(*model(nodes, h, adj, False))
        relaxed = min_misses(*model(nodes, h, adj, True))
        near = sorted({int(gl[u]) for v in nodes for u in adj[v] if gl[u] != p})
        fixes = [cap["grid_ids"][q] for q in near if pair_fix(adj, p, q, h, gl, args.trees, rng)]
        print(f"{gid} households={int(grids.loc[gid, 'households'])} small={sub[sub['grid_id'] == gid]['households'].tolist()} "
              f"missing={grp['households'].tolist()} towers={[x for x in hh if x > HI]} walkups={walk} "
              f"sizes_packable={sizes} fewest_misses engine={engine} relaxed={relaxed} pair_redraw_with={fixes}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
