"""Exact division of small graphs: dynamic programming over the sets of units still to cover.

Used by :mod:`.solver` for regions of at most ``EXACT_MAX_NODES`` units (units without households
merged into a neighbour first, :func:`zero_contraction`): the optimum of the same objective as the
spanning-tree search, or, when that is out of reach, the first division found cheapest sets first.

Examples
--------
>>> from gridgeo.partition.graph import Graph
>>> from gridgeo.partition.solver import Bounds, Weights
>>> g = Graph(h=np.array([60, 60, 90, 40]), area=np.ones(4), perim=np.full(4, 4.0), x=np.zeros(4), y=np.zeros(4),
...           a=np.array([0, 1, 2]), b=np.array([1, 2, 3]), length=np.ones(3), art=np.zeros(3), nostreet=np.zeros(3))
>>> dp = ExactDP(g, Bounds(100, 150, 125), Weights(), lref=1.0, budget=1000)
>>> dp.best(0b1111, 2, True) < math.inf, [bits(s) for s in dp.solution(0b1111, 2, True)]
(True, [[0, 1], [2, 3]])
>>> zero_contraction(Graph(h=np.array([5, 0, 7]), area=np.ones(3), perim=np.ones(3), x=np.zeros(3), y=np.zeros(3),
...     a=np.array([0, 1]), b=np.array([1, 2]), length=np.array([1.0, 2.0]), art=np.zeros(2), nostreet=np.zeros(2))).tolist()
[0, 1, 1]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ._fast import components
from .graph import Graph

if TYPE_CHECKING:  # pragma: no cover
    from .solver import Bounds, Weights

__all__ = ["ExactDP", "ExactAbort", "bits", "floor_penalty", "zero_contraction"]


def floor_penalty(h, lo: float, margin: float):
    """Penalty (0..1, squared) of a part within ``margin`` households over the floor ``lo``."""
    if margin <= 0:
        return 0.0 * h
    if isinstance(h, float | int):
        x = (lo + margin - h) / margin
        return 0.0 if x <= 0 else (1.0 if x >= 1 else x * x)
    return np.clip((lo + margin - h) / margin, 0.0, 1.0) ** 2

class ExactAbort(Exception):
    """The exact search went over its budget."""


class ExactDP:
    """Exact optimum for small graphs: dynamic programming over the sets of nodes still to cover.

    ``best(mask, r)`` is the cheapest way to cover the nodes of ``mask`` with ``r`` connected parts
    (``r = 0``: any number, violations penalised). Each step takes the lowest node of ``mask`` and
    enumerates every connected set containing it (each exactly once) within the ceiling.
    """

    VIOLATION_PART = 1000.0
    VIOLATION_PER_TARGET = 1000.0

    def __init__(self, g: Graph, bounds: Bounds, w: Weights, lref: float, budget: int) -> None:
        self.g = g
        self.bounds = bounds
        self.w = w
        self.lref = lref
        self.budget = budget
        self.count = 0
        n = g.n
        self.h = g.h.astype(float).tolist()
        self.area = g.area.tolist()
        self.perim = g.perim.tolist()
        self.adj: list[list[tuple[int, float, float, float]]] = [[] for _ in range(n)]
        nsdeg = [0.0] * n
        for e, (a, b) in enumerate(zip(g.a.tolist(), g.b.tolist())):
            L, art, ns = float(g.length[e]), float(g.art[e]), float(g.nostreet[e])
            self.adj[a].append((b, L, art, ns))
            self.adj[b].append((a, L, art, ns))
            nsdeg[a] += ns
            nsdeg[b] += ns
        self.nsdeg = nsdeg
        self.nb = [sum(1 << j for j, *_ in self.adj[i]) for i in range(n)]
        self.memo: dict[tuple[int, int], tuple[float, int]] = {}
        self._failed: set[tuple[int, int]] = set()

    def cost(self, h: float, A: float, P: float, art: float, ns_cut: float, strict: bool) -> float:
        bnd, w = self.bounds, self.w
        t = float(bnd.target)
        c = (w.compact * (P * P / (4 * math.pi * A) if A > 0 else 0.0)
             + (w.cross * art + w.cut * ns_cut / 2) / self.lref
             + w.balance * (((h - t) / t) ** 2 + float(floor_penalty(h, bnd.lo, w.floor_margin))))
        if not strict:
            v = bnd.violation(h)
            if v > 0:
                c += self.VIOLATION_PART + self.VIOLATION_PER_TARGET * v / t
        return c

    def sets(self, mask: int, lo_h: float, hi_h: float, strict: bool) -> list[tuple[float, int, float]]:
        """Connected sets containing the lowest node of ``mask`` with ``lo_h <= h <= hi_h``: (cost, set, h)."""
        u = (mask & -mask).bit_length() - 1
        out: list[tuple[float, int, float]] = []
        h, area, perim, adj, nb, nsdeg = self.h, self.area, self.perim, self.adj, self.nb, self.nsdeg

        def extend(S: int, hS: float, AS: float, PS: float, artS: float, nsS: float, nsdegS: float, X: int, ban: int) -> None:
            self.count += 1
            if self.count > self.budget:
                raise ExactAbort
            if hS >= lo_h:
                out.append((self.cost(hS, AS, PS, artS, nsdegS - 2 * nsS, strict), S, hS))
            while X:
                vb = X & -X
                X ^= vb
                v = vb.bit_length() - 1
                hv = hS + h[v]
                if hv > hi_h:
                    ban |= vb
                    continue
                Lin = ai = ni = 0.0
                for j, L, art, ns in adj[v]:
                    if S >> j & 1:
                        Lin += L
                        ai += art
                        ni += ns
                newX = (X | (nb[v] & mask & ~S & ~ban)) & ~vb
                extend(S | vb, hv, AS + area[v], PS + perim[v] - 2 * Lin, artS + ai, nsS + ni, nsdegS + nsdeg[v], newX, ban)
                ban |= vb

        extend(1 << u, h[u], area[u], perim[u], 0.0, 0.0, nsdeg[u], nb[u] & mask & ~(1 << u), 0)
        return out

    def best(self, mask: int, r: int, strict: bool) -> float:
        """Cost of the best cover of ``mask`` by ``r`` parts (``r = 0``: any count); inf if none."""
        if mask == 0:
            return 0.0 if r <= 0 else math.inf
        if strict and r == 0:
            raise ValueError("strict search needs a count")
        key = (mask, r)
        hit = self.memo.get(key)
        if hit is not None:
            return hit[0]
        bnd = self.bounds
        H = sum(self.h[i] for i in bits(mask))
        if strict:
            if r < 1 or H < r * bnd.lo or H > r * bnd.hi:
                self.memo[key] = (math.inf, 0)
                return math.inf
            lo_h = max(bnd.lo, H - (r - 1) * bnd.hi)
            hi_h = min(bnd.hi, H - (r - 1) * bnd.lo)
            if lo_h > hi_h:
                self.memo[key] = (math.inf, 0)
                return math.inf
        else:
            lo_h, hi_h = 0.0, float(bnd.hi)
        best_c, best_s = math.inf, 0
        cands = self.sets(mask, lo_h, hi_h, strict)
        cands.sort(key=lambda c: c[0])
        nxt = r - 1 if strict else 0
        for c, S, _hS in cands:
            if c >= best_c:
                break
            rest = self.best(mask & ~S, nxt, strict)
            if c + rest < best_c:
                best_c, best_s = c + rest, S
        self.memo[key] = (best_c, best_s)
        return best_c

    def first(self, mask: int, r: int) -> list[int] | None:
        """A feasible cover of ``mask`` by ``r`` parts within the bounds (cheapest sets tried first)."""
        if mask == 0:
            return [] if r == 0 else None
        key = (mask, r)
        if key in self._failed:
            return None
        bnd = self.bounds
        H = sum(self.h[i] for i in bits(mask))
        lo_h = max(bnd.lo, H - (r - 1) * bnd.hi)
        hi_h = min(bnd.hi, H - (r - 1) * bnd.lo)
        if r < 1 or lo_h > hi_h:
            self._failed.add(key)
            return None
        cands = self.sets(mask, lo_h, hi_h, True)
        cands.sort(key=lambda c: c[0])
        for _c, S, _hS in cands:
            rest = self.first(mask & ~S, r - 1)
            if rest is not None:
                return [S, *rest]
        self._failed.add(key)
        return None

    def solution(self, mask: int, r: int, strict: bool) -> list[int]:
        parts = []
        while mask:
            _, S = self.memo[(mask, r)]
            parts.append(S)
            mask &= ~S
            r = r - 1 if strict else 0
        return parts


def bits(mask: int) -> list[int]:
    out = []
    while mask:
        b = mask & -mask
        out.append(b.bit_length() - 1)
        mask ^= b
    return out


def zero_contraction(g: Graph) -> np.ndarray:
    """Labels merging every region of zero-household nodes into the neighbour it shares most boundary with."""
    n = g.n
    zero = g.h == 0
    if not zero.any() or zero.all():
        return np.arange(n) if not zero.all() else np.zeros(n, dtype=np.int64)
    za = zero[g.a] & zero[g.b]
    _, comp = components(n, g.a[za], g.b[za])
    target = np.arange(n)
    # boundary between a zero region and each non-zero neighbour
    mixed = zero[g.a] != zero[g.b]
    za_node = np.where(zero[g.a[mixed]], g.a[mixed], g.b[mixed])
    nz_node = np.where(zero[g.a[mixed]], g.b[mixed], g.a[mixed])
    region = comp[za_node]
    length = g.length[mixed]
    # sum lengths per (region, neighbour) properly
    acc: dict[tuple[int, int], float] = {}
    for rg, v, L in zip(region.tolist(), nz_node.tolist(), length.tolist()):
        acc[(rg, v)] = acc.get((rg, v), 0.0) + L
    choice: dict[int, tuple[float, int]] = {}
    for (rg, v), L in acc.items():
        cur = choice.get(rg)
        if cur is None or L > cur[0] or (L == cur[0] and v < cur[1]):
            choice[rg] = (L, v)
    zidx = np.flatnonzero(zero)
    for z in zidx:
        c = choice.get(int(comp[z]))
        if c is not None:
            target[z] = c[1]
        else:  # a zero region with no non-zero neighbour: keep it as one node (its lowest member)
            target[z] = int(np.flatnonzero(comp == comp[z]).min())
    _, lab = np.unique(target, return_inverse=True)
    return lab.ravel().astype(np.int64)
