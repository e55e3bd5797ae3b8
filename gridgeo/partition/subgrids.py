"""Small grids (小网格 / 居民小组) inside base grids, and base grids shaped so that they divide well.

Small grids are 100–150 households; buildings often hold 30–150, so whether a base grid divides
into small grids within the bounds depends on *which* buildings it holds: four buildings of 131,
119, 111 and 98 households (459) give one small grid of 98 whatever the cut. :class:`SmallGridBadness`
counts, exactly, the fewest small grids out of bounds a set of cells can be divided into, and
:func:`reshape_for_small_grids` moves base units between neighbouring base grids (keeping base bounds
and contiguity) while that lowers the count.

Examples
--------
>>> from gridgeo.partition.graph import Graph
>>> from gridgeo.partition.solver import Bounds
>>> g = Graph(h=np.array([131, 119, 111, 98, 40]), area=np.ones(5), perim=np.full(5, 4.0), x=np.zeros(5),
...           y=np.zeros(5), a=np.array([0, 1, 2, 3]), b=np.array([1, 2, 3, 4]), length=np.ones(4),
...           art=np.zeros(4), nostreet=np.zeros(4))
>>> bad = SmallGridBadness(g, Bounds(100, 150, 125))
>>> bad([0, 1, 2, 3]), bad([0, 1, 2, 3, 4])
((1, 0.02), (0, 0.0))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from . import _fast
from .feasibility import packable
from .graph import Graph
from .solver import Bounds, Weights

__all__ = ["SmallGridBadness", "reshape_for_small_grids"]

Badness = tuple[int, float]


class BudgetExceeded(Exception):
    """An exact search ran past its step budget."""


def connected_sets(mask: int, hl: list[int], nb: list[int], hi: float, steps: list[int],
                   budget: int) -> list[tuple[int, int]]:
    """Connected sets of the cells in bit ``mask`` (neighbours ``nb`` as bit masks, households ``hl``) that hold
    its lowest cell and stay within the ceiling ``hi``: (set, households). ``steps[0]`` counts the sets
    enumerated over calls; past ``budget`` it raises :class:`BudgetExceeded`."""
    u = (mask & -mask).bit_length() - 1
    out: list[tuple[int, int]] = []

    def extend(S: int, hS: int, X: int, ban: int) -> None:
        steps[0] += 1
        if steps[0] > budget:
            raise BudgetExceeded
        out.append((S, hS))
        while X:
            vb = X & -X
            X ^= vb
            v = vb.bit_length() - 1
            hv = hS + hl[v]
            if hv > hi:
                ban |= vb
                continue
            extend(S | vb, hv, (X | (nb[v] & mask & ~S & ~ban)) & ~vb, ban)
            ban |= vb

    extend(1 << u, hl[u], nb[u] & mask & ~(1 << u), 0)
    return out


class SmallGridBadness:
    """Fewest small grids out of bounds (and their total shortfall or excess) for a set of cells.

    Exact: dynamic programming over the cells still to cover, each step enumerating the connected
    sets holding the lowest cell. Cells over the ceiling are small grids of their own (exempt);
    regions of cells without households join the neighbour they share most boundary with. A small
    grid under the floor counts by what it lacks or, when fewer, by what it holds (:func:`_short`).
    Over ``max_exact`` cells or ``budget`` steps the answer is an estimate: a miss when the sizes admit
    no division (a packing proof), else one per group of cells that no connected set within the
    bounds can hold (:func:`_stuck`), else 0.
    """

    def __init__(self, g: Graph, bounds: Bounds, budget: int = 20_000, max_exact: int = 16) -> None:
        self.bounds = bounds
        self.budget = budget
        self.max_exact = max_exact
        self.h = g.h.astype(np.int64).tolist()
        self.adj: list[dict[int, float]] = [dict() for _ in range(g.n)]
        for a, b, L in zip(g.a.tolist(), g.b.tolist(), g.length.tolist()):
            self.adj[a][b] = self.adj[a].get(b, 0.0) + L
            self.adj[b][a] = self.adj[b].get(a, 0.0) + L
        self.memo: dict[tuple[int, ...], Badness] = {}

    def __call__(self, cells: Sequence[int] | np.ndarray) -> Badness:
        key = tuple(sorted(int(v) for v in cells))
        hit = self.memo.get(key)
        if hit is None:
            hit = self.memo[key] = self._solve(key)
        return hit

    def _solve(self, nodes: tuple[int, ...]) -> Badness:
        lo, hi, target = self.bounds.lo, self.bounds.hi, self.bounds.target
        h, adj = self.h, self.adj
        inset = set(nodes)
        live = [v for v in nodes if 0 < h[v] <= hi]
        if not live:
            return (0, 0.0)
        idx = {v: i for i, v in enumerate(live)}
        nb = [0] * len(live)
        for v in live:
            for u in adj[v]:
                j = idx.get(u)
                if j is not None:
                    nb[idx[v]] |= 1 << j
        seen: set[int] = set()
        for z in nodes:
            if h[z] != 0 or z in seen:
                continue
            region, stack = [], [z]
            seen.add(z)
            while stack:
                x = stack.pop()
                region.append(x)
                for y in adj[x]:
                    if y in inset and h[y] == 0 and y not in seen:
                        seen.add(y)
                        stack.append(y)
            shared: dict[int, float] = {}
            for x in region:
                for y, L in adj[x].items():
                    if y in idx:
                        shared[y] = shared.get(y, 0.0) + L
            if not shared:
                continue
            anchor = max(sorted(shared), key=lambda y: shared[y])
            ai = idx[anchor]
            for y in shared:
                if y != anchor:
                    yi = idx[y]
                    nb[ai] |= 1 << yi
                    nb[yi] |= 1 << ai
        hl = [h[v] for v in live]
        H = sum(hl)

        def estimate() -> Badness:
            # many cells: contiguity aside, the sizes can still stand in the way (a packing proof)
            if not (self.bounds.fits(H) and H >= lo and packable(np.asarray(hl, dtype=float), lo, hi, node_limit=200)):
                return (1, round(_short(H, lo), 6) if H < lo else 0.01)
            # and a cell that no connected set within the bounds can hold (a building of 87 households
            # whose only neighbours hold 75 and 66) leaves a small grid out of bounds whatever the cut
            stuck = _stuck(hl, nb, lo, hi, self.budget // 10)
            return (stuck, 0.01 * stuck) if stuck else (0, 0.0)

        if len(live) > self.max_exact:
            return estimate()
        if _fast.compiled() and _fast.BADNESS_COMPILED:  # the programme below, compiled (gridgeo.partition._fast)
            done, count, excess = _fast.small_grid_badness(hl, nb, lo, hi, target, self.budget)
            return (int(count), round(float(excess), 6)) if done else estimate()
        steps = [0]
        memo: dict[int, Badness] = {}
        budget = self.budget

        def sets(mask: int) -> list[tuple[int, int]]:
            return connected_sets(mask, hl, nb, hi, steps, budget)

        def best(mask: int) -> Badness:
            if mask == 0:
                return (0, 0.0)
            got = memo.get(mask)
            if got is not None:
                return got
            result: Badness = (len(hl) + 1, math.inf)
            cands = sets(mask)
            # sets within the bounds first (nearest the target first), then the short ones, largest first
            cands.sort(key=lambda c: (c[1] < lo, abs(c[1] - target) if c[1] >= lo else -c[1]))
            for S, hS in cands:
                short = hS < lo
                if short and result[0] <= 1 and result[1] <= _short(hS, lo):
                    continue
                rest = best(mask & ~S)
                cand = (rest[0] + 1, rest[1] + _short(hS, lo)) if short else rest
                if cand < result:
                    result = cand
                    if result == (0, 0.0):
                        break
            memo[mask] = result
            return result

        try:
            count, excess = best((1 << len(live)) - 1)
        except (BudgetExceeded, RecursionError):
            return estimate()
        return (int(count), round(float(excess), 6))


def _short(h: float, lo: float) -> float:
    """How far a small grid of ``h < lo`` households is from being no miss, per floor: the households it
    lacks or, when fewer, those it has (moved to other small grids, it is gone): 29 households of
    walk-ups beside a tower count 0.29, so moving them away one building at a time is progress."""
    return min(lo - h, h) / lo


def _stuck(hl: list[int], nb: list[int], lo: int, hi: int, budget: int) -> int:
    """Groups of adjacent cells (bitmask adjacency ``nb``) none of which lies in any connected set of
    ``lo..hi`` households: each group is in a small grid out of bounds whatever the division. Only
    cells of more than ``hi - lo`` households are searched (a lighter one can almost always be added
    to some set under the floor without passing the ceiling); a cell whose search goes over
    ``budget`` steps counts as held (optimistic)."""
    n = len(hl)
    stuck = []
    for v in range(n):
        if hl[v] >= lo or hl[v] <= hi - lo:  # a cell of up to hi - lo households is rarely stuck: not searched
            continue
        steps = 0
        found = False
        # depth-first over the connected sets holding v, each once (the lowest-first enumeration)
        stack = [(1 << v, hl[v], nb[v], 0)]
        while stack and not found:
            S, hS, X, ban = stack.pop()
            steps += 1
            if steps > budget:
                found = True
                break
            while X:
                wb = X & -X
                X ^= wb
                w = wb.bit_length() - 1
                hw = hS + hl[w]
                if hw > hi:
                    ban |= wb
                    continue
                if hw >= lo:
                    found = True
                    break
                stack.append((S | wb, hw, (X | (nb[w] & ~S & ~ban)) & ~wb, ban))
                ban |= wb
        if not found:
            stuck.append(v)
    groups = 0
    seen = 0
    for v in stuck:
        if seen >> v & 1:
            continue
        groups += 1
        todo = [v]
        seen |= 1 << v
        mask = sum(1 << u for u in stuck)
        while todo:
            x = todo.pop()
            nxt = nb[x] & mask & ~seen
            seen |= nxt
            while nxt:
                b = nxt & -nxt
                nxt ^= b
                todo.append(b.bit_length() - 1)
    return groups


def reshape_for_small_grids(
    ug: Graph,
    labels: np.ndarray,
    cells_of_unit: Sequence[np.ndarray],
    badness: Callable[[np.ndarray], Badness],
    bounds: Bounds,
    *,
    frozen: set[int] | None = None,
    rounds: int = 6,
    swaps: bool = True,
    recombine_seeds: int = 4,
    weights: Weights | None = None,
) -> np.ndarray:
    """Move base units between neighbouring base grids while that lowers the small-grid badness.

    A move keeps both grids within ``bounds`` (or does not worsen a grid already outside) and
    connected; one that brings a grid nearer its bounds is taken first, whatever the badness. Among
    improving moves of a grid the one lowering (count, shortfall) most wins; when no single move helps,
    exchanges of two boundary units (``swaps``) are tried, and then
    recombinations: the grid and a neighbour merged and divided afresh in two by the solver
    (``recombine_seeds`` spanning-tree seeds, GerryChain's ReCom step), kept when that lowers the
    badness of the pair. Deterministic: grids and units are visited in index order.
    """
    frozen = frozen or set()
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = ug.n
    if n == 0:
        return labels
    nparts = int(labels.max()) + 1
    adj: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for a, b, L in zip(ug.a.tolist(), ug.b.tolist(), ug.length.tolist()):
        adj[a].append((b, L))
        adj[b].append((a, L))
    hs = ug.h.tolist()
    members: list[set[int]] = [set() for _ in range(nparts)]
    for u, p in enumerate(labels.tolist()):
        members[p].add(u)
    ph = [sum(hs[u] for u in members[p]) for p in range(nparts)]
    lo, hi = bounds.lo, bounds.hi

    def cells(units: set[int]) -> np.ndarray:
        return np.concatenate([cells_of_unit[u] for u in units]) if units else np.zeros(0, np.int64)

    bad = [badness(cells(members[p])) for p in range(nparts)]

    def viol(x: float) -> float:
        return max(0.0, lo - x, x - hi)

    def connected(units: set[int]) -> bool:
        if not units:
            return False
        start = next(iter(units))
        seen = {start}
        stack = [start]
        while stack:
            x = stack.pop()
            for y, _ in adj[x]:
                if y in units and y not in seen:
                    seen.add(y)
                    stack.append(y)
        return len(seen) == len(units)

    def add(b1: Badness, b2: Badness) -> Badness:
        return (b1[0] + b2[0], b1[1] + b2[1])

    def _best_swap(A: int):
        """The best exchange of one boundary unit of ``A`` with one of a neighbouring grid."""
        best = None
        border: dict[int, tuple[set[int], set[int]]] = {}
        for u in members[A]:
            for v, _ in adj[u]:
                B = labels[v]
                if B != A and B not in frozen:
                    mine, theirs = border.setdefault(B, (set(), set()))
                    mine.add(u)
                    theirs.add(v)
        for B in sorted(border):
            mine, theirs = border[B]
            before = add(bad[A], bad[B])
            for u in sorted(mine):
                for v in sorted(theirs):
                    ha, hb = ph[A] - hs[u] + hs[v], ph[B] - hs[v] + hs[u]
                    if viol(ha) > viol(ph[A]) or viol(hb) > viol(ph[B]):
                        continue
                    new_a = (members[A] - {u}) | {v}
                    new_b = (members[B] - {v}) | {u}
                    if not connected(new_a) or not connected(new_b):
                        continue
                    b_a = badness(cells(new_a))
                    b_b = badness(cells(new_b))
                    after = add(b_a, b_b)
                    if after < before and (best is None or after < best[0]):
                        best = (after, u, v, B, b_a, b_b)
        return best

    def _best_recombination(A: int):
        """The best fresh division in two of ``A`` merged with one of its neighbours."""
        from .graph import subgraph
        from .solver import partition_graph

        best = None
        neighbours = sorted({int(labels[v]) for u in members[A] for v, _ in adj[u]} - {A} - frozen)
        for B in neighbours:
            nodes = np.array(sorted(members[A] | members[B]), dtype=np.int64)
            total = ph[A] + ph[B]
            if not (2 * lo <= total <= 2 * hi):
                continue
            before = (viol(ph[A]) + viol(ph[B]), add(bad[A], bad[B]))
            sub = subgraph(ug, nodes)
            for seed in range(recombine_seeds):
                out = partition_graph(sub, bounds, seed=7919 * (A + 1) + 104729 * (B + 1) + seed, weights=weights)
                if out.n_parts != 2:
                    continue
                parts = [nodes[out.labels == k] for k in range(2)]
                hp = [sum(hs[u] for u in part) for part in parts]
                if any(viol(x) > 0 for x in hp):
                    continue
                ba, bb = badness(cells(set(parts[0].tolist()))), badness(cells(set(parts[1].tolist())))
                after = (0.0, add(ba, bb))
                if after < before and (best is None or after < best[0]):
                    # the part holding A's lowest unit keeps A's label (stable, deterministic)
                    first = min(members[A])
                    if first in set(parts[1].tolist()):
                        parts, ba, bb = parts[::-1], bb, ba
                    best = (after, B, parts[0].tolist(), parts[1].tolist(), ba, bb)
                    if after == (0.0, (0, 0.0)):
                        return best
        return best

    for _ in range(rounds):
        improved = False
        for A in range(nparts):
            if (bad[A][0] == 0 and viol(ph[A]) == 0) or A in frozen:
                continue
            best = None
            # moves out of A and into A, across every boundary of A
            moves = []
            for u in sorted(members[A]):
                for v, _ in adj[u]:
                    B = labels[v]
                    if B != A and B not in frozen:
                        moves.append((u, A, B))
                        moves.append((v, B, A))
            for u, src, dst in sorted(set(moves)):
                if len(members[src]) <= 1:
                    continue
                hu = hs[u]
                new_src, new_dst = ph[src] - hu, ph[dst] + hu
                if viol(new_src) + viol(new_dst) > viol(ph[src]) + viol(ph[dst]):
                    continue
                if viol(new_src) > viol(ph[src]) or viol(new_dst) > viol(ph[dst]):
                    continue
                rest = members[src] - {u}
                if not connected(rest):
                    continue
                b_src = badness(cells(rest))
                b_dst = badness(cells(members[dst] | {u}))
                # a grid brought within the base bounds first, then fewer small grids out of theirs
                before = (viol(ph[src]) + viol(ph[dst]), add(bad[src], bad[dst]))
                after = (viol(new_src) + viol(new_dst), add(b_src, b_dst))
                if after < before and (best is None or after < best[0]):
                    best = (after, u, src, dst, b_src, b_dst)
            if best is None and recombine_seeds > 0:
                rec = _best_recombination(A)
                if rec is not None:
                    _, B, part_a, part_b, b_a, b_b = rec
                    for p, part in ((A, part_a), (B, part_b)):
                        members[p] = set(part)
                        ph[p] = sum(hs[u] for u in part)
                        labels[list(part)] = p
                    bad[A], bad[B] = b_a, b_b
                    improved = True
                    continue
            if best is None and swaps and bad[A][0] != 0:
                best = _best_swap(A)
                if best is not None:
                    _, u, v, B, b_a, b_b = best
                    for x, src, dst in ((u, A, B), (v, B, A)):
                        members[src].discard(x)
                        members[dst].add(x)
                        labels[x] = dst
                        ph[src] -= hs[x]
                        ph[dst] += hs[x]
                    bad[A], bad[B] = b_a, b_b
                    improved = True
                continue
            if best is None:
                continue
            _, u, src, dst, b_src, b_dst = best
            members[src].discard(u)
            members[dst].add(u)
            labels[u] = dst
            ph[src] -= hs[u]
            ph[dst] += hs[u]
            bad[src], bad[dst] = b_src, b_dst
            improved = True
        if not improved:
            break
    return labels
