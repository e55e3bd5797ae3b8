"""The graph partitioner: contiguous parts within household bounds, compact, along streets.

:func:`partition_graph` divides a :class:`~gridgeo.partition.graph.Graph` into parts of ``lo..hi``
households (both inclusive) near ``target``:

1. **Regions.** Each connected component is cut along arterials (edges mostly along
   ``rules.arterial_classes``) into regions; a region that cannot be divided on its own (too few
   households, or no count fits) joins a neighbouring region, and so does one whose division fails
   when the two together succeed. Grids cross an arterial only when the bounds need it.
2. **Count.** A region of ``H`` households gets ``k`` parts, ``k`` in ``[ceil(H/hi), floor(H/lo)]``
   nearest ``H/target`` (:func:`choose_count`), the next counts when that one cannot be divided;
   when no count fits (``H < lo``, or ``hi < H < 2·lo``) the parts minimise the violation instead.
3. **Recursive bisection along spanning trees** (the idea of GerryChain's ``recursive_tree_part``):
   draw spanning trees of the region (minimum spanning trees of randomly perturbed edge weights; an
   edge along an arterial weighs ``rules.arterial_weight``, so trees cross arterials rarely), and, with
   ``Weights.sweep_trees`` (the partition's in a community without streets), sweep trees whose cuts run
   straight across the region (:meth:`_Solver._sweep_orders`). Removing
   one tree edge splits the region into two connected sides; a cut is *acceptable* when each side's
   households can themselves be divided into its share of parts within the bounds
   (``k1·lo <= h1 <= k1·hi`` and the same for the other side), so the bounds hold by construction.
   Among the acceptable cuts of several trees the best by the objective below wins (each cut's
   length, arterial and no-street parts come from one pass over the tree's lowest common
   ancestors); the sides are divided recursively, backtracking to the next best cut when a side
   cannot be divided.
4. **Exact search on small regions** (:mod:`.exact`): a region of at most :data:`EXACT_MAX_NODES`
   units (units without households merged into a neighbour) is divided optimally by dynamic
   programming over the sets of units still to cover.
5. **Local search.** Boundary units move to a neighbouring part when that keeps both parts within
   the bounds (or reduces the violation) and connected, and lowers the objective.
6. **Repair** (``Weights.repair_rounds``; :func:`repair_parts`). A part still outside the bounds is
   merged with one, two or three neighbouring parts (longest shared boundary first) and the union
   divided again, by the exact search or spanning trees, into as many parts or fewer, all within the
   bounds; the first group that succeeds is kept. Where the units themselves are too coarse (whole
   street blocks), :mod:`.refine` does the same over opened blocks.

Objective (lower is better), summed over parts: ``P²/(4πA)`` (the inverse of Polsby–Popper:
compactness), plus arterial length *inside* parts (crossing an arterial), plus boundary length along
no street (a cut between buildings), both per typical part side ``sqrt(A/k)``, plus
``((h - target)/target)²`` (balance) and, with ``Weights.floor_margin``, a penalty for parts just over
the floor.

Units heavier than ``hi`` (one building over the ceiling) are parts of their own. Components too
small for a part of their own join an adjacent part (or, with ``merge_isolated``, the nearest part).
Everything is deterministic for a given ``seed`` and node order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import depth_first_order, minimum_spanning_tree

from . import _fast
from ._memo import BoundedCache, graph_key
from .exact import ExactAbort, ExactDP, bits, floor_penalty, zero_contraction
from .graph import Graph, contract, subgraph

__all__ = ["Bounds", "Weights", "Outcome", "choose_count", "partition_graph", "repair_parts", "EXACT_MAX_NODES",
           "barrier_edges"]

#: regions with at most this many units (units without households merged) are divided exactly
EXACT_MAX_NODES = 16
#: connected sets the exact search may enumerate before it gives up (then spanning-tree bisection)
EXACT_BUDGET = 10000
#: an edge with at least this share of its length along an arterial is a barrier (regions, moves)
BARRIER_ARTERIAL_SHARE = 0.5
#: regions of more grids than this are cut in two without a strict bisection first (:meth:`_Solver._split_relaxed`);
#: a community of 64 grids holds about 25,000 households, several times the largest real 社区
STRICT_MAX_PARTS = 64
#: counts of grids scored on each side of a cut of a region of more than STRICT_MAX_PARTS grids: those
#: within this many of the side's households ÷ the grid size
COUNT_BAND = 3


def barrier_edges(g: Graph) -> np.ndarray:
    """Edges mostly along an arterial (:data:`BARRIER_ARTERIAL_SHARE`): barriers between regions."""
    return g.art >= BARRIER_ARTERIAL_SHARE * g.length



@dataclass(frozen=True)
class Bounds:
    """Household bounds (inclusive) and target of a part."""

    lo: int
    hi: int
    target: int

    def violation(self, h: float, k: int = 1) -> float:
        """How far ``h`` households are from fitting ``k`` parts (0 when they fit)."""
        return max(0.0, k * self.lo - h, h - k * self.hi)

    def fits(self, h: float) -> bool:
        """Whether some count of parts fits ``h`` households (``h = 0`` fits)."""
        if h <= 0:
            return True
        return -(-h // self.hi) <= h // self.lo


@dataclass(frozen=True)
class Weights:
    """Weights of the objective, of spanning-tree edges, and search effort."""

    compact: float = 1.0
    cross: float = 1.0
    cut: float = 1.0
    balance: float = 2.0
    #: households above the floor a part should keep when it can (0: none); a part within this margin
    #: of the floor pays up to ``balance`` more (base grids just over 300 rarely divide into small grids)
    floor_margin: float = 0.0
    arterial_tree: float = 10.0
    minor_tree: float = 1.0
    trees: int = 6
    #: sweep trees per bisection (its cuts straight lines across the region; :meth:`_Solver._sweep_orders`),
    #: after the ``trees`` random ones; 0: none. The partition draws 4 in a community with no street near it
    #: whose cells' edges run along none (:func:`.community._sweep_trees`), none elsewhere
    sweep_trees: int = 0
    tries: int = 3
    sweeps: int = 12
    #: rounds of repair: a part outside the bounds is merged with neighbouring parts and the union
    #: divided again (0: none)
    repair_rounds: int = 2


@dataclass
class Outcome:
    """Parts of a graph: ``labels[node]`` in ``0..n_parts-1`` and notes on exceptions.

    ``notes`` are tuples ``(type, part, measure)`` with type one of ``heavy_unit`` (a unit over the
    ceiling, its own part), ``below_min`` (a component under the floor, its own part),
    ``no_feasible_count`` (a component no count of parts fits), ``attached`` (a small component joined
    to an adjacent part), ``isolated`` (a small component with no neighbour, its own part),
    ``merged_isolated`` (a small component joined to the nearest part: the part is in pieces),
    ``out_of_bounds`` (a part outside the bounds for any other reason).
    """

    labels: np.ndarray
    n_parts: int
    notes: list[tuple[str, int, float]] = field(default_factory=list)


def choose_count(households: int, lo: int, hi: int, target: int) -> tuple[int, bool]:
    """The number of parts for ``households``, and whether it fits the bounds.

    ``k`` in ``[ceil(H/hi), floor(H/lo)]`` nearest ``H/target`` (ties: average nearer the target,
    then fewer parts); when that range is empty, the count with the least violation (ties: more
    parts, keeping under the ceiling).

    >>> choose_count(1250, 300, 500, 400), choose_count(1000, 300, 500, 400)
    ((3, True), (3, True))
    >>> choose_count(250, 300, 500, 400), choose_count(530, 300, 500, 400), choose_count(570, 300, 500, 400)
    ((1, False), (1, False), (2, False))
    >>> choose_count(0, 300, 500, 400)
    (1, False)
    """
    H = int(households)
    if H <= hi:
        return 1, H >= lo
    kmin, kmax = -(-H // hi), H // lo
    if kmin <= kmax:
        k = min(range(kmin, kmax + 1), key=lambda k: (abs(k - H / target), abs(H / k - target), k))
        return k, True
    b = Bounds(lo, hi, target)
    ks = [k for k in (kmax, kmin) if k >= 1]
    k = min(ks, key=lambda k: (b.violation(H, k), -k))
    return k, False


def partition_graph(
    g: Graph,
    bounds: Bounds,
    *,
    seed: int = 0,
    weights: Weights | None = None,
    merge_isolated: bool = False,
) -> Outcome:
    """Divide ``g`` into contiguous parts within ``bounds``; see the module docstring.

    Parameters
    ----------
    g
        The unit graph.
    bounds
        Household bounds and target of a part.
    seed
        Seed of the spanning-tree randomness.
    weights
        Objective and tree weights.
    merge_isolated
        Join components too small for a part of their own to the nearest part even when not
        adjacent (multi-part communities); otherwise they become parts of their own.

    Examples
    --------
    A path of six units of 100 households, bounds 150–250:

    >>> from gridgeo.partition.graph import Graph
    >>> n = 6
    >>> g = Graph(h=np.full(n, 100), area=np.ones(n), perim=np.full(n, 4.0), x=np.arange(n, dtype=float),
    ...           y=np.zeros(n), a=np.arange(n - 1), b=np.arange(1, n), length=np.ones(n - 1),
    ...           art=np.zeros(n - 1), nostreet=np.zeros(n - 1))
    >>> out = partition_graph(g, Bounds(150, 250, 200))
    >>> out.n_parts, sorted(np.bincount(out.labels, weights=g.h).tolist())
    (3, [200.0, 200.0, 200.0])
    """
    weights = weights or Weights()
    # a pure function of its inputs: a division asked for again is answered from the cache (:mod:`._memo`).
    # The seed enters only through the spanning trees' random numbers: a division that drew none (the exact
    # search alone, as for two grids merged and divided afresh with four seeds) is the same for every seed,
    # and is kept without it
    gkey = graph_key(g)
    hit = _DIVISIONS.get((gkey, bounds, weights, merge_isolated))
    if hit is None:
        key = (gkey, bounds, seed, weights, merge_isolated)
        hit = _DIVISIONS.get(key)
        if hit is None:
            solver = _Solver(g, bounds, weights, seed)
            out = solver.run(merge_isolated=merge_isolated)
            hit = (out.labels.copy(), out.n_parts, tuple(out.notes))
            _DIVISIONS.put(key if solver.seed_used else (gkey, bounds, weights, merge_isolated), hit)
    return Outcome(hit[0].copy(), hit[1], list(hit[2]))


#: :meth:`_Solver._sweep_args` without sweep trees (no direction)
_NO_SWEEP = (np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
#: divisions by :func:`partition_graph`, and of small regions by the exact search, by content of their inputs
_DIVISIONS = BoundedCache()
_EXACT = BoundedCache()


def repair_parts(g: Graph, labels: np.ndarray, n_parts: int, bounds: Bounds, *, skip: set[int] | None = None,
                 seed: int = 0, weights: Weights | None = None) -> np.ndarray | None:
    """Parts of ``labels`` outside ``bounds`` each divided again together with neighbouring parts
    (the step :func:`partition_graph` ends with; see :meth:`_Solver._repair`). Parts in ``skip`` are
    left alone. Returns new labels (same numbers; a number may be left unused when a group of parts
    was divided into fewer), or None when no part could be brought within the bounds.

    >>> from gridgeo.partition.graph import Graph
    >>> g = Graph(h=np.array([100, 100, 100, 100, 100, 100]), area=np.ones(6), perim=np.full(6, 4.0),
    ...           x=np.arange(6.0), y=np.zeros(6), a=np.arange(5), b=np.arange(1, 6), length=np.ones(5),
    ...           art=np.zeros(5), nostreet=np.zeros(5))
    >>> repair_parts(g, np.array([0, 1, 1, 1, 1, 1]), 2, Bounds(150, 350, 300)).tolist()  # 100 | 500
    [0, 0, 0, 1, 1, 1]
    """
    if n_parts < 1 or g.n == 0:
        return None
    s = _Solver(g, bounds, weights or Weights(), seed)
    s.lref = math.sqrt(max(float(g.area.sum()), 1e-9) / n_parts)
    labels = np.asarray(labels, dtype=np.int64)
    new = s._repair(labels, n_parts, set(skip or ()))
    return None if new is labels else new


def _no_strict_division(h: np.ndarray, k: int, bounds: Bounds) -> bool:
    """Whether the counts alone prove that units of households ``h`` make no ``k`` parts all within ``bounds``
    (contiguity aside; True only with a proof, so the strict exact search finds none either).

    Every unit within the ceiling (no proof is attempted otherwise: the search takes a unit over the ceiling
    as a part of its own), each part holds at least one unit with households (the floor is above 0) and at
    most ``M`` units: the most whose ``M`` smallest households stay within the ceiling. A part of one unit
    needs that unit at the floor, and ``k`` parts of ``N`` units have at least ``2k - N`` parts of one unit.

    >>> b = Bounds(300, 500, 400)
    >>> _no_strict_division(np.array([260, 380, 390, 0]), 3, b)  # one unit a part, and 260 under the floor
    True
    >>> _no_strict_division(np.array([210, 220, 230, 240, 250]), 2, b)  # two units a part at most
    True
    >>> _no_strict_division(np.array([200, 210, 220, 230]), 2, b)  # 410 + 450, or 430 + 430
    False
    """
    if bounds.lo <= 0 or k < 1:
        return False
    pos = sorted(x for x in h.tolist() if x > 0)
    n = len(pos)
    if n and pos[-1] > bounds.hi:
        return False
    total = sum(pos)
    if n < k or total < k * bounds.lo or total > k * bounds.hi:
        return True
    most, acc = 0, 0
    for x in pos:
        acc += x
        if acc > bounds.hi:
            break
        most += 1
    return n > most * k or sum(1 for x in pos if x >= bounds.lo) < 2 * k - n


def _rank_best(best: dict[tuple[int, int], tuple[float, float, int, int, int, int]], k: int, n: int
               ) -> list[tuple[float, float, int, int, int, int]]:
    """The ``n`` best of the best cut per bisection ``best`` ({(side tag, k1): (violation, score, tree, lo, hi,
    k1)}), best first: by violation, score, k1 and bisection. A region of more than STRICT_MAX_PARTS grids is
    cut near its middle (each side at least a quarter of its grids), so the recursion is O(log k) deep and
    each level one pass over the region; an unbalanced cut only when a tree has no balanced one."""
    if k > STRICT_MAX_PARTS:
        q = k // 4
        ranked = sorted(best.items(), key=lambda kv: (not q <= kv[1][5] <= k - q, kv[1][0], kv[1][1], kv[1][5], kv[0]))
    else:
        ranked = sorted(best.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[1][5], kv[0]))
    return [cand for _key, cand in ranked[:n]]


def _rank_cuts(ti: np.ndarray, k1: np.ndarray, tag: np.ndarray, lo: np.ndarray, hi: np.ndarray, viol: np.ndarray,
               score: np.ndarray, total_tag: np.uint64, k: int, n: int) -> list[tuple[float, float, int, int, int, int]]:
    """:func:`_rank_best` of the cuts given as arrays, in the order the loop over them would meet them, without
    the dict: per bisection (the side's tag and k1, or the other side's when its tag is smaller) the cut of
    least (violation, score), the first met among equals, then the ``n`` best of those. The same answer as
    the dict (:func:`_rank_best_loop`, compared in the tests), in a few array sorts instead of a Python loop
    and a sort with a Python key over hundreds of cuts: the solver asks for candidates thousands of times
    in a community of hundreds of grids. Scores that are not numbers (never met) take the loop."""
    if np.isnan(viol).any() or np.isnan(score).any():
        return _rank_best_loop(ti, k1, tag, lo, hi, viol, score, total_tag, k, n)
    tag = tag.astype(np.uint64)
    other = tag ^ np.uint64(total_tag)
    flip = tag > other
    key_tag = np.where(flip, other, tag)
    key_k = np.where(flip, k - k1, k1)
    met = np.arange(len(ti))
    order = np.lexsort((met, score, viol, key_k, key_tag))
    new = np.ones(len(order), dtype=bool)
    new[1:] = (key_tag[order[1:]] != key_tag[order[:-1]]) | (key_k[order[1:]] != key_k[order[:-1]])
    win = order[new]
    keys = (key_k[win], key_tag[win], k1[win], score[win], viol[win])
    if k > STRICT_MAX_PARTS:
        q = k // 4
        keys = (*keys, ~((q <= k1[win]) & (k1[win] <= k - q)))
    top = win[np.lexsort(keys)[:n]]
    return list(zip(viol[top].tolist(), score[top].tolist(), ti[top].tolist(), lo[top].tolist(), hi[top].tolist(),
                    k1[top].tolist(), strict=True))


def _rank_best_loop(ti: np.ndarray, k1: np.ndarray, tag: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                    viol: np.ndarray, score: np.ndarray, total_tag: np.uint64, k: int, n: int
                    ) -> list[tuple[float, float, int, int, int, int]]:
    """:func:`_rank_cuts` by a loop over the cuts into a dict and :func:`_rank_best` (the reference)."""
    best: dict[tuple[int, int], tuple[float, float, int, int, int, int]] = {}
    for t_i, k_1, tg, l_o, h_i, v, sc in zip(ti.tolist(), k1.tolist(), tag.tolist(), lo.tolist(), hi.tolist(),
                                             viol.tolist(), score.tolist(), strict=True):
        # the same bisection seen from the other side is the same candidate
        other = tg ^ int(total_tag)
        key = (tg, k_1) if tg <= other else (other, k - k_1)
        cand = (v, sc, t_i, l_o, h_i, k_1)
        if key not in best or cand[:2] < best[key][:2]:
            best[key] = cand
    return _rank_best(best, k, n)


# --------------------------------------------------------------------------------------------- solver


class _Solver:
    def __init__(self, g: Graph, bounds: Bounds, w: Weights, seed: int) -> None:
        self.g = g
        self.bounds = bounds
        self.w = w
        self.seed = seed
        self.calls = 0
        self.budget = 0
        self.lref = 1.0
        self._exact_seen: dict[tuple[bytes, int, bool, float], tuple[list[np.ndarray] | None]] = {}
        self._marked = np.zeros(g.n, dtype=bool)  # scratch of :meth:`_rest`, all False between calls
        self._contact_last: tuple[np.ndarray, set[int], dict[int, dict[int, float]]] | None = None
        self._whole_last: tuple[np.ndarray, np.ndarray] | None = None

    # the arrays below are made on first use (most solvers divide a small graph by the exact search alone
    # and never need them; a district makes thousands of solvers); none draws from ``self.rng``
    @cached_property
    def _adjacency(self) -> tuple[np.ndarray, np.ndarray]:
        """Each node's neighbours, ascending: (indptr, neighbour) in CSR form."""
        g = self.g
        rows = np.concatenate([g.a, g.b])
        cols = np.concatenate([g.b, g.a])
        order = np.lexsort((cols, rows))
        return np.searchsorted(rows[order], np.arange(g.n + 1)), cols[order]

    @property
    def indptr(self) -> np.ndarray:
        return self._adjacency[0]

    @property
    def nbr(self) -> np.ndarray:
        return self._adjacency[1]

    @cached_property
    def tree_w(self) -> np.ndarray:
        """Base spanning-tree weights of the edges: arterial edges heavy, cuts between buildings (no street) light."""
        g, w = self.g, self.w
        with np.errstate(invalid="ignore", divide="ignore"):
            art_share = np.where(g.length > 0, g.art / g.length, 0.0)
            ns_share = np.where(g.length > 0, g.nostreet / g.length, 0.0)
        return (w.minor_tree * (1 - art_share) + w.arterial_tree * art_share) * (1.0 - 0.6 * ns_share)

    @cached_property
    def edge_w(self) -> np.ndarray:
        """The edges' (length, arterial, no-street length) as rows."""
        g = self.g
        return np.column_stack([g.length, g.art, g.nostreet])

    @cached_property
    def rng(self) -> np.random.Generator:
        """The spanning trees' random numbers (made on first use: most solvers never draw one)."""
        return np.random.default_rng(self.seed)

    @property
    def seed_used(self) -> bool:
        """Whether the seed has entered the division so far: random numbers drawn or the nodes' random tags
        made (both only by :meth:`_candidates`). A division that never used it is the same for every seed."""
        return "rng" in self.__dict__ or "node_tags" in self.__dict__

    @cached_property
    def _occupied(self) -> np.ndarray:
        """Whether each node has households (the exact search contracts the others into their neighbours)."""
        return self.g.h > 0

    def _occupied_count(self, nodes: np.ndarray) -> int:
        """The nodes of ``nodes`` with households: ``int((g.h[nodes] > 0).sum())`` from a mask made once per
        solver (tens of thousands of regions on 青山区's synthetic communities)."""
        return int(np.count_nonzero(self._occupied[nodes]))

    @cached_property
    def node_tags(self) -> np.ndarray:
        """A random 64-bit tag per node (from their own stream, seeded by the solver's seed)."""
        return np.random.default_rng(self.seed ^ 0x5EED).integers(1, 2**63, size=self.g.n, dtype=np.int64).astype(np.uint64)

    # ------------------------------------------------------------------ driver
    def run(self, *, merge_isolated: bool) -> Outcome:
        g, bnd = self.g, self.bounds
        n = g.n
        labels = np.full(n, -1, dtype=np.int64)
        notes: list[tuple[str, int, float]] = []
        if n == 0:
            return Outcome(labels, 0, notes)
        parts: list[np.ndarray] = []
        frozen: set[int] = set()
        heavy = np.flatnonzero(g.h > bnd.hi)
        for u in heavy:
            notes.append(("heavy_unit", len(parts), float(g.h[u])))
            frozen.add(len(parts))
            parts.append(np.array([u]))
        rest = self._rest(np.arange(n), heavy)
        comps = self._regions(rest)
        Hc = [int(g.h[c].sum()) for c in comps]
        big = [i for i, H in enumerate(Hc) if H >= bnd.lo]
        if not big and not len(heavy) and comps:
            big = [max(range(len(comps)), key=lambda i: (Hc[i], -int(comps[i].min())))]
        total_k = sum(choose_count(Hc[i], bnd.lo, bnd.hi, bnd.target)[0] for i in big)
        self.lref = math.sqrt(max(float(g.area.sum()), 1e-9) / max(total_k + len(heavy), 1))
        solved = self._solve_regions([comps[i] for i in big])
        for c, split in solved:
            H = int(g.h[c].sum())
            ok = choose_count(H, bnd.lo, bnd.hi, bnd.target)[1]
            first = len(parts)
            parts.extend(split)
            if H < bnd.lo:
                notes.append(("below_min", first, float(H)))
            elif not ok:
                for p in range(first, len(parts)):
                    notes.append(("no_feasible_count", p, float(H)))
        for p, nodes in enumerate(parts):
            labels[nodes] = p
        # small components: join an adjacent part (one with room first), else nearest or their own
        for i, c in enumerate(comps):
            if i in big:
                continue
            H = Hc[i]
            adj = self._adjacent_parts(c, labels)
            if adj:
                ph = {p: int(g.h[labels == p].sum()) for p in adj}
                room = [p for p in adj if ph[p] + H <= bnd.hi and p not in frozen]
                pool = room or [p for p in adj if p not in frozen] or adj
                best = min(pool, key=lambda p: (abs(ph[p] + H - bnd.target), p))
                labels[c] = best
                notes.append(("attached", best, float(H)))
            elif merge_isolated and len(parts):
                cx, cy = g.x[c].mean(), g.y[c].mean()
                px = np.array([g.x[labels == p].mean() for p in range(len(parts))])
                py = np.array([g.y[labels == p].mean() for p in range(len(parts))])
                ph = np.array([g.h[labels == p].sum() for p in range(len(parts))])
                d = np.hypot(px - cx, py - cy)
                fits = (ph + H) <= bnd.hi
                best = int(np.lexsort((np.arange(len(parts)), d, ~fits))[0])
                labels[c] = best
                frozen.add(best)
                notes.append(("merged_isolated", best, float(H)))
            else:
                p = len(parts)
                parts.append(c)
                labels[c] = p
                frozen.add(p)
                notes.append(("isolated", p, float(H)))
        nparts = int(labels.max()) + 1
        labels = self._improve(labels, nparts, frozen)
        if self.w.repair_rounds > 0:
            labels, nparts, notes, frozen = self._repair_all(labels, nparts, notes, frozen)
        # what is still out of bounds without another reason
        explained = {p for t, p, _ in notes if t in ("heavy_unit", "below_min", "no_feasible_count", "isolated")}
        hp = np.bincount(labels, weights=g.h, minlength=nparts)
        for p in range(nparts):
            if p not in explained and bnd.violation(hp[p]) > 0:
                notes.append(("out_of_bounds", p, float(hp[p])))
        return Outcome(labels, nparts, notes)

    # ------------------------------------------------------------------ repair
    def _repair_all(self, labels: np.ndarray, nparts: int, notes: list[tuple[str, int, float]],
                    frozen: set[int]) -> tuple[np.ndarray, int, list[tuple[str, int, float]], set[int]]:
        """Parts outside the bounds merged with neighbouring parts and divided again (:meth:`_repair`);
        parts left empty are dropped (labels renumbered) and notes of parts now within the bounds too."""
        g, bnd = self.g, self.bounds
        skip = frozen | {p for t, p, _ in notes if t in ("heavy_unit", "below_min", "isolated")}
        new = self._repair(labels, nparts, skip)
        if new is labels:
            return labels, nparts, notes, frozen
        used = np.bincount(new, minlength=nparts) > 0
        remap = np.cumsum(used) - 1
        hp = np.bincount(new, weights=g.h, minlength=nparts)
        keep = []
        for t, p, m in notes:
            if not used[p] or (t == "no_feasible_count" and bnd.violation(hp[p]) == 0):
                continue
            keep.append((t, int(remap[p]), m))
        labels = remap[new].astype(np.int64)
        nparts = int(used.sum())
        labels = self._improve(labels, nparts, {int(remap[p]) for p in frozen})
        return labels, nparts, keep, {int(remap[p]) for p in frozen}

    def _repair(self, labels: np.ndarray, nparts: int, skip: set[int]) -> np.ndarray:
        """Each part outside the bounds (not in ``skip``) with the neighbouring parts of a *group*
        (the part and one, two or three parts around it) divided again into as many parts or fewer,
        all within the bounds: the first group that succeeds, smallest groups first. Returns
        ``labels`` itself when nothing changed, else new labels (a label may be left unused)."""
        g, bnd = self.g, self.bounds
        out = labels
        for _round in range(self.w.repair_rounds):
            hp = np.bincount(out, weights=g.h, minlength=nparts)
            bad = [p for p in range(nparts) if p not in skip and bnd.violation(hp[p]) > 0]
            changed = False
            for p in bad:
                hp = np.bincount(out, weights=g.h, minlength=nparts)
                if bnd.violation(hp[p]) == 0 or not (out == p).any():
                    continue
                if hp[p] < bnd.lo and self._forced(out, p):
                    continue
                fixed = self._repair_part(out, p, hp, skip)
                if fixed is not None:
                    out = fixed
                    changed = True
            if not changed:
                break
        return out

    def _forced(self, labels: np.ndarray, p: int) -> bool:
        """Whether part ``p`` (under the floor) is under it in every division of the graph: its
        heaviest unit ``u`` reaches, through units of at most ``hi - h[u]`` households (and units
        without households), fewer than ``lo`` households in all (a tower of 230 households among
        towers of 300 and more)."""
        g, bnd = self.g, self.bounds
        mine = np.flatnonzero(labels == p)
        u = int(mine[np.argmax(g.h[mine])])
        ok = g.h <= bnd.hi - g.h[u]
        ok[u] = True
        e = ok[g.a] & ok[g.b]
        _, lab = _fast.components(g.n, g.a[e], g.b[e])
        return float(g.h[(lab == lab[u]) & ok].sum()) < bnd.lo

    def _repair_part(self, labels: np.ndarray, p: int, hp: np.ndarray, skip: set[int]) -> np.ndarray | None:
        bnd = self.bounds
        contact = self._part_contact(labels, skip)

        def around(parts: tuple[int, ...]) -> list[int]:
            """Parts touching ``parts``, longest contact first."""
            acc: dict[int, float] = {}
            for q in parts:
                for r, L in contact.get(q, {}).items():
                    if r not in parts:
                        acc[r] = acc.get(r, 0.0) + L
            return sorted(acc, key=lambda r: (-acc[r], r))

        groups: list[tuple[int, ...]] = []
        seen: set[tuple[int, ...]] = set()
        level = [(p,)]
        for _size, cap in ((2, 8), (3, 10), (4, 10)):
            nxt = []
            for grp in level:
                for r in around(grp):
                    key = tuple(sorted((*grp, r)))
                    if key in seen:
                        continue
                    seen.add(key)
                    nxt.append(key)
            level = nxt[:cap]
            groups.extend(level)
        for grp in groups:
            H = float(hp[list(grp)].sum())
            ks = [k for k in range(len(grp), 0, -1) if k * bnd.lo <= H <= k * bnd.hi]
            if not ks:
                continue
            picked = labels == grp[0]
            for q in grp[1:]:
                picked |= labels == q
            nodes = np.flatnonzero(picked)
            # a group of whole parts is one piece: each part it adds touches one before it (``around``)
            if len(nodes) and not all(self._whole_parts(labels)[list(grp)]) and not self._connected(nodes, picked):
                continue
            for k in ks:
                if k > len(nodes):
                    continue
                self.calls, self.budget = 0, 12 + 4 * k
                split = self._split(nodes, k)
                if split is None or any(bnd.violation(float(self.g.h[s].sum())) > 0 for s in split):
                    continue
                new = labels.copy()
                for lab, s in zip(sorted(grp), split):
                    new[s] = lab
                return new
        return None

    def _whole_parts(self, labels: np.ndarray) -> np.ndarray:
        """Whether each part of ``labels`` (all labelled) is one connected piece, from one count of the components
        of the graph without the edges between parts. :meth:`_repair_part` asks it for each group of parts it
        tries instead of counting each group's pieces (up to 28 groups round each part out of the bounds, most of
        them of whole parts); the last answer is kept and given again for equal labels (read only)."""
        last = self._whole_last
        if last is not None and np.array_equal(last[0], labels):
            return last[1]
        g = self.g
        same = labels[g.a] == labels[g.b]
        nc, comp = _fast.components(g.n, g.a[same], g.b[same])
        pieces = np.bincount(np.unique(labels * nc + comp) // nc, minlength=int(labels.max()) + 1)
        whole = pieces == 1
        self._whole_last = (labels.copy(), whole)
        return whole

    def _part_contact(self, labels: np.ndarray, skip: set[int]) -> dict[int, dict[int, float]]:
        """The boundary length between every two touching parts of ``labels``, neither in ``skip`` (edges
        summed in edge order). :meth:`_repair` asks it for every part out of the bounds, most often with the
        labels unchanged (the part could not be repaired): the last answer is kept and given again for equal
        labels and skip (read only)."""
        last = self._contact_last
        if last is not None and last[1] == skip and np.array_equal(last[0], labels):
            return last[2]
        g = self.g
        la, lb = labels[g.a], labels[g.b]
        cross = la != lb
        contact: dict[int, dict[int, float]] = {}
        for x, y, L in zip(la[cross].tolist(), lb[cross].tolist(), g.length[cross].tolist()):
            if x in skip or y in skip:
                continue
            contact.setdefault(x, {})
            contact.setdefault(y, {})
            contact[x][y] = contact[x].get(y, 0.0) + L
            contact[y][x] = contact[y].get(x, 0.0) + L
        self._contact_last = (labels.copy(), set(skip), contact)
        return contact

    def _solve_regions(self, regions: list[np.ndarray]) -> list[tuple[np.ndarray, list[np.ndarray]]]:
        """Divide each region; a region that cannot be divided within the bounds joins a neighbouring
        region (across the arterial between them) when the two together can be."""
        g = self.g
        todo = [np.sort(c) for c in regions]
        done: list[tuple[np.ndarray, list[np.ndarray]] | None] = []
        failed: list[int] = []
        for c in todo:
            split, strict = self._solve_component(c)
            done.append((c, split))
            if not strict:
                failed.append(len(done) - 1)
        owner = np.full(g.n, -1, dtype=np.int64)
        for i, (c, _) in enumerate(done):
            owner[c] = i
        for i in failed:
            if done[i] is None:
                continue
            c = done[i][0]
            nbr = np.unique(owner[self.nbr[np.concatenate([np.arange(self.indptr[u], self.indptr[u + 1]) for u in c])]])
            nbr = [int(j) for j in nbr if j >= 0 and j != i and done[j] is not None]
            # the neighbour sharing the longest boundary, with a lighter search
            for j in sorted(nbr, key=lambda j: (-self._contact(c, done[j][0]), j))[:3]:
                merged = np.union1d(c, done[j][0])
                split, strict = self._solve_component(merged, light=True)
                if strict:
                    done[i], done[j] = (merged, split), None
                    owner[merged] = i
                    break
        return [d for d in done if d is not None]

    def _contact(self, a: np.ndarray, b: np.ndarray) -> float:
        """Length of boundary shared by two sets of nodes."""
        g = self.g
        ina = np.zeros(g.n, bool)
        inb = np.zeros(g.n, bool)
        ina[a] = True
        inb[b] = True
        between = (ina[g.a] & inb[g.b]) | (inb[g.a] & ina[g.b])
        return float(g.length[between].sum())

    def _solve_component(self, c: np.ndarray, *, light: bool = False) -> tuple[list[np.ndarray], bool]:
        """Parts of one connected component, and whether all are within the bounds by construction.

        The count nearest ``H / target`` is tried first, then the next feasible counts; when none
        works, the parts with the least violation (``light``: one count, a smaller search, and no
        fallback: the caller keeps what it had).
        """
        bnd = self.bounds
        H = int(self.g.h[c].sum())
        k, ok = choose_count(H, bnd.lo, bnd.hi, bnd.target)
        k = min(k, len(c))
        if k > STRICT_MAX_PARTS:
            # a region of more grids than any real community: cut in two near its middle until the pieces
            # are small enough to be divided strictly (a strict bisection of the whole region costs up to
            # 12 + 4k spanning-tree cuts of it, and peeling one grid at a time recursed up to k frames deep:
            # a community of a million households failed). No merging with a neighbour (light)
            if light:
                return [c], False
            parts = self._split_relaxed(c, k)
            return parts, all(bnd.violation(float(self.g.h[p].sum())) == 0 for p in parts)
        if ok:
            ks = range(max(1, -(-H // bnd.hi)), min(H // bnd.lo, len(c)) + 1)
            order = sorted(ks, key=lambda x: (x != k, abs(x - H / bnd.target), x))[: 2 if light else 3]
            for kk in order:
                self.calls, self.budget = 0, (12 + 4 * kk) if kk == k else (4 + 2 * kk)
                split = self._split(c, kk)
                if split is not None:
                    return split, True
        if light:
            return [c], False
        exact = self._exact_region(c, 0, strict=False)
        if exact is not None:
            return exact, False
        return self._split_relaxed(c, k), False

    def _rest(self, nodes: np.ndarray, side: np.ndarray) -> np.ndarray:
        """The ``nodes`` not in ``side``, in the order of ``nodes`` (unique node ids): what
        ``np.setdiff1d(nodes, side, assume_unique=True)`` gives, by marking ``side`` in a scratch array
        instead of sorting both (tens of thousands of bisections on a community of hundreds of grids)."""
        marked = self._marked
        marked[side] = True
        out = nodes[~marked[nodes]]
        marked[side] = False
        return out

    def _regions(self, nodes: np.ndarray) -> list[np.ndarray]:
        """Connected components of ``nodes``, cut further along arterials where each side can divide alone.

        Edges mostly along an arterial are barriers: the components without them are regions; a
        region that cannot be divided within the bounds on its own (too few households, or no count
        fits) joins the neighbouring region across the barrier that suits it best, until every region
        can be divided (or has no neighbour left). So grids cross an arterial only when needed.
        """
        g, bnd = self.g, self.bounds
        if not len(nodes):
            return []
        barrier = barrier_edges(g)
        if not barrier.any():
            return self._components(nodes)
        sub = subgraph(g, nodes)
        sub_barrier = barrier[(np.isin(g.a, nodes)) & (np.isin(g.b, nodes))]
        keep = ~sub_barrier
        nr, region = _fast.components(sub.n, sub.a[keep], sub.b[keep])
        H = np.bincount(region, weights=sub.h, minlength=nr).astype(np.int64).tolist()
        first = [int(x) for x in np.unique(region, return_index=True)[1]]
        parent = list(range(nr))

        def find(r: int) -> int:
            while parent[r] != r:
                parent[r] = parent[parent[r]]
                r = parent[r]
            return r

        ra, rb, L = region[sub.a[sub_barrier]], region[sub.b[sub_barrier]], sub.length[sub_barrier]

        def good(h: int) -> bool:
            return h >= bnd.lo and bnd.fits(h)

        while True:
            roots = sorted({find(r) for r in range(nr)}, key=lambda r: (H[r], first[r]))
            contact: dict[tuple[int, int], float] = {}
            for a, b, length in zip(ra.tolist(), rb.tolist(), L.tolist()):
                x, y = find(a), find(b)
                if x != y:
                    contact[(x, y)] = contact.get((x, y), 0.0) + length
                    contact[(y, x)] = contact.get((y, x), 0.0) + length
            merged = False
            for r in roots:
                if good(H[r]):
                    continue
                nbrs = [q for (x, q) in contact if x == r]
                if not nbrs:
                    continue
                q = min(nbrs, key=lambda q: (not good(H[r] + H[q]), -contact[(r, q)], first[q]))
                parent[r] = q
                H[q] += H[r]
                first[q] = min(first[q], first[r])
                merged = True
                break
            if not merged:
                break
        lab = np.array([find(int(r)) for r in region])
        comps = [nodes[lab == r] for r in np.unique(lab)]
        # a region may be in pieces when its barrier-free parts were joined through another region
        out = []
        for c in comps:
            out.extend(self._components(c))
        out.sort(key=lambda c: int(c.min()))
        return out

    def _connected(self, nodes: np.ndarray, mask: np.ndarray | None = None) -> bool:
        """Whether the (unique, non-empty) ``nodes`` are one connected piece: what ``len(self._components(nodes)) == 1``
        says, counted on the edges between them alone (``mask``: the nodes as a mask over the graph, when the caller
        has it). :meth:`_repair_part` asks it of up to 28 groups of parts round each part out of the bounds."""
        g = self.g
        if mask is None:
            mask = np.zeros(g.n, dtype=bool)
            mask[nodes] = True
        inner = mask[g.a] & mask[g.b]
        loc = np.zeros(g.n, dtype=np.int64)
        loc[nodes] = np.arange(len(nodes))
        return _fast.components(len(nodes), loc[g.a[inner]], loc[g.b[inner]])[0] == 1

    def _components(self, nodes: np.ndarray) -> list[np.ndarray]:
        if not len(nodes):
            return []
        sub = subgraph(self.g, nodes)
        nc, lab = _fast.components(sub.n, sub.a, sub.b)
        comps = [nodes[lab == i] for i in range(nc)]
        comps.sort(key=lambda c: int(c.min()))
        return comps

    def _adjacent_parts(self, nodes: np.ndarray, labels: np.ndarray) -> list[int]:
        out = set()
        for u in nodes:
            for v in self.nbr[self.indptr[u]:self.indptr[u + 1]]:
                if labels[v] >= 0:
                    out.add(int(labels[v]))
        return sorted(out)

    # ------------------------------------------------------------------ exact
    def _exact_region(self, nodes: np.ndarray, k: int, *, strict: bool) -> list[np.ndarray] | None:
        """Optimal parts of a small region (``k`` parts when strict; any count, violations
        penalised, when not); None when the region is too large, over budget, or (strict) infeasible.
        A pure function of the region's contracted graph, ``k``, the bounds, weights and ``lref``: answers
        are cached (:mod:`._memo`) for this solver by node set and for every solver by content."""
        local = (nodes.tobytes(), k, strict, self.lref)
        hit = self._exact_seen.get(local)
        if hit is None:
            hit = self._exact_seen[local] = self._exact_cached(nodes, k, strict)
        return None if hit[0] is None else [x.copy() for x in hit[0]]

    def _exact_cached(self, nodes: np.ndarray, k: int, strict: bool) -> tuple[list[np.ndarray] | None]:
        if strict and _no_strict_division(self.g.h[nodes], k, self.bounds):
            # what the search would answer (most strict searches among towers of 200-390 households)
            return (None,)
        lab, cg = self._contracted(nodes)
        if cg.n > EXACT_MAX_NODES:
            return (None,)
        key = (graph_key(cg), k, strict, self.bounds, self.w, self.lref)
        masks = _EXACT.get(key)
        if masks is None:
            masks = (self._exact_masks(cg, k, strict),)
            _EXACT.put(key, masks)
        if masks[0] is None:
            return (None,)
        members = [nodes[lab == j] for j in range(cg.n)]
        return ([np.sort(np.concatenate([members[j] for j in bits(S)])) for S in masks[0]],)

    def _contracted(self, nodes: np.ndarray) -> tuple[np.ndarray, Graph]:
        """The region's graph with its zero-household units merged into neighbours (:func:`.exact.zero_contraction`
        of :func:`.graph.subgraph`, then :func:`.graph.contract`): (labels of its nodes, contracted graph).
        In one compiled call when numba runs and the region has no such units, or only those (the same arrays:
        :func:`._fast.region_graph`); tens of thousands of small regions per district."""
        if _REGION_COMPILED and len(nodes) and _fast.compiled():
            got = _fast.region_graph(self.g, nodes)
            if got is not None:
                return got
        sub = subgraph(self.g, nodes)
        lab = zero_contraction(sub)
        return lab, contract(sub, lab)

    def _exact_masks(self, cg: Graph, k: int, strict: bool) -> list[int] | None:
        """The exact search on the contracted graph ``cg``: the parts as bitmasks of its nodes, or None."""
        if _fast.compiled():  # compiled, the same search step for step
            return _fast.exact_parts(cg, self.bounds, self.w, self.lref, EXACT_BUDGET, k, strict)
        dp = ExactDP(cg, self.bounds, self.w, self.lref, EXACT_BUDGET)
        full = (1 << cg.n) - 1
        try:
            if strict:
                if dp.best(full, k, True) == math.inf:
                    return None
                parts = dp.solution(full, k, True)
            else:
                dp.best(full, 0, False)
                parts = dp.solution(full, 0, False)
        except (ExactAbort, RecursionError):
            if not strict:
                return None
            # the optimum is out of reach: a feasible division, cheapest sets first
            dp.count = 0
            try:
                parts = dp.first(full, k)
            except (ExactAbort, RecursionError):
                return None
            if parts is None:
                return None
        return list(parts)

    def _small_enough(self, nodes: np.ndarray) -> bool:
        """Whether a region may go to the exact search (cheap upper bound on merged size)."""
        return self._occupied_count(nodes) <= EXACT_MAX_NODES

    # ------------------------------------------------------------------ bisection
    def _split(self, nodes: np.ndarray, k: int) -> list[np.ndarray] | None:
        if k == 1:
            return [nodes]
        if len(nodes) < k or self.calls > self.budget:
            return None
        self.calls += 1
        occupied = self._occupied_count(nodes)  # counted once (it was twice when the exact search found none)
        if occupied <= EXACT_MAX_NODES:
            exact = self._exact_region(nodes, k, strict=True)
            if exact is not None:
                return exact
            # exact search over budget (None is also "infeasible"): fall through only when large
            if occupied <= EXACT_MAX_NODES // 2:
                return None
        cands = self._candidates(nodes, k, strict=True)
        for _, _, side, k1 in cands[: self.w.tries]:
            left = self._split(side, k1)
            if left is None:
                continue
            # the other side only once this one divided (on 青山区, 22,209 of the 43,104 rests were of sides that did not)
            right = self._split(self._rest(nodes, side), k - k1)
            if right is None:
                continue
            return left + right
        return None

    def _split_relaxed(self, nodes: np.ndarray, k: int) -> list[np.ndarray]:
        if k == 1 or len(nodes) < 2:
            return [nodes]
        self.calls, self.budget = 0, 4 + 2 * k
        # a region of more than STRICT_MAX_PARTS grids is only cut in two here (a strict bisection of it
        # costs up to 4 + 2k spanning-tree cuts of the whole region at every level: hours for a community
        # of hundreds of grids); its pieces, once small enough, are divided as any region
        if k <= STRICT_MAX_PARTS and self.bounds.violation(self.g.h[nodes].sum(), k) == 0:
            strict = self._split(nodes, k)
            if strict is not None:
                return strict
        if self._small_enough(nodes):
            exact = self._exact_region(nodes, 0, strict=False)
            if exact is not None:
                return exact
        cands = self._candidates(nodes, k, strict=False)
        if not cands:
            return [nodes]
        _, _, side, k1 = cands[0]
        other = self._rest(nodes, side)
        return self._split_relaxed(side, k1) + self._split_relaxed(other, k - k1)

    def _candidates(self, nodes: np.ndarray, k: int, *, strict: bool) -> list[tuple[float, float, np.ndarray, int]]:
        """Cuts of spanning trees of ``nodes`` into (side, k1), best first: (violation, score, side, k1)."""
        bnd, w = self.bounds, self.w
        nl = len(nodes)
        eidx, ea, eb, h, area, ext, node_cols, W, total_tag = self._region_arrays(nodes)
        tags = self.node_tags[nodes]
        H, A, E = h.sum(), area.sum(), ext.sum()
        t = min(max(H / k, bnd.lo), bnd.hi)
        ks = np.arange(1, k)
        # a region of more than STRICT_MAX_PARTS grids: each cut scored only for the counts of grids near
        # its households ÷ the grid size (the others are never the best cut; scoring every count of every
        # cut takes (k - 1) × cuts of memory: gigabytes for a community of a million households)
        band = COUNT_BAND if k > STRICT_MAX_PARTS else 0
        fused = None
        if _FUSED and nl >= 2 and len(ea) <= _SCIPY_TREE_EDGES and _fast.compiled():  # every tree in one call
            if _ONE_CALL and _RANK_COMPILED:  # and ranked, and the sides drawn, in the same call
                done = self._compiled_candidates(nodes, nl, ea, eb, eidx, node_cols, W, tags, total_tag, k, H, A, E, t,
                                                 strict, band)
                if done is not None:
                    return done
            fused = self._fused_cuts(nodes, nl, ea, eb, eidx, node_cols, W, tags, total_tag, k, H, A, E, t, strict,
                                     band)
            if fused is None:
                return []
        # the fused path gives its best cuts ranked already (a list); the loop below collects them in a dict
        best: dict[tuple[int, int], tuple[float, float, int, int, int, int]] | list[tuple[float, float, int, int, int, int]]
        trees: list[np.ndarray]
        best, trees = fused if fused is not None else ({}, [])
        sweeps = self._sweep_orders(nodes, ea, eb) if fused is None else None
        for ti in range(w.trees + len(sweeps) if fused is None else 0):
            if ti < w.trees:
                wt = self.tree_w[eidx] * (0.2 + self.rng.random(len(eidx)))
            else:  # a sweep tree: its order as weights (the stable sort gives that order back)
                wt = np.empty(len(eidx))
                wt[sweeps[ti - w.trees]] = np.arange(1, len(eidx) + 1, dtype=float)  # no 0: scipy drops it
            if _fast.compiled() and len(ea) <= _SCIPY_TREE_EDGES:  # compiled: the same tree, order and ancestors
                tree = _fast.tree_of(nl, ea, eb, np.argsort(wt, kind="stable"))
                if tree is None:
                    return []
                pre, pred, size, depth, lca = tree
            else:
                tree = _spanning_tree(nl, ea, eb, wt)
                if tree is None:  # not connected: cannot happen for a component; give up
                    return []
                pre, pred = tree
                size, depth = _sizes_depths(pre, pred)
                lca = _lca(ea, eb, pred, depth, pre[0])
            trees.append(pre)
            v = pre[1:]
            if _fast.compiled():  # compiled, the same sums in the same order
                lo_i, hi_i, sub, side_tag = _fast.subtree_sums(pre, size, lca, node_cols, W, tags)
            else:
                tin = np.empty(nl, dtype=np.int64)
                tin[pre] = np.arange(nl)
                lca_w = np.zeros((nl, 3))
                np.add.at(lca_w, lca, W)
                # subtree sums by prefix sums over the preorder
                cols = np.column_stack([node_cols, lca_w])[pre]
                cs = np.vstack([np.zeros(cols.shape[1]), np.cumsum(cols, axis=0)])
                px = np.concatenate([[np.uint64(0)], np.bitwise_xor.accumulate(tags[pre])])
                lo_i, hi_i = tin[v], tin[v] + size[v]
                sub = cs[hi_i] - cs[lo_i]
                side_tag = px[hi_i] ^ px[lo_i]
            if _fast.compiled():  # compiled, operation for operation as below
                row, j_all, vg, score = _fast.cut_scores(sub, size[v], nl, k, H, A, E, bnd, t, w, self.lref, strict,
                                                         band)
                if not len(row):
                    continue
                k1s = ks[row]
            else:
                scored = self._cut_scores(sub, size[v], nl, k, H, A, E, t, strict, band)
                if scored is None:
                    continue
                row, j_all, vg, score, k1s = scored
            # the best tries + 1 cuts of each k1 (by violation, then score; ties by cut index)
            order = np.lexsort((j_all, score, vg, row))
            starts = np.searchsorted(row[order], row[order], side="left")
            keep = order[(np.arange(len(order)) - starts) < w.tries + 1]
            for q in keep.tolist():
                j, k1 = int(j_all[q]), int(k1s[q])
                k2 = k - k1
                # the same bisection seen from the other side is the same candidate
                tag = int(side_tag[j])
                other = int(side_tag[j] ^ total_tag)
                key = (tag, k1) if tag <= other else (other, k2)
                cand = (float(vg[q]), float(score[q]), ti, int(lo_i[j]), int(hi_i[j]), k1)
                if key not in best or cand[:2] < best[key][:2]:
                    best[key] = cand
        ranked = best if isinstance(best, list) else _rank_best(best, k, w.tries + 1)
        return [(viol, score, np.sort(nodes[trees[ti][lo:hi]]), k1) for viol, score, ti, lo, hi, k1 in ranked]

    def _sweep_orders(self, nodes: np.ndarray, ea: np.ndarray, eb: np.ndarray) -> np.ndarray:
        """The edge orders of the region's sweep trees (``Weights.sweep_trees``, a row each; none with 0).

        A sweep tree joins the units in the order a straight line sweeping across the region reaches them
        (Kruskal over the edges weighted by the later of their ends' positions along the sweep's direction):
        cutting one of its edges leaves on one side a connected piece of the region behind some such line, so
        its cuts run straight across the region, and the cut scores choose among them and the random trees'.
        The directions are spread evenly round the circle and draw no random number: a community of one block
        of building cells (no street to follow) otherwise gets only the random trees' cuts, which leave crosses
        and arms (session 40)."""
        m = len(ea)
        _, _, cs, sn = self._sweep_args
        if not len(cs) or m == 0:
            return np.empty((0, m), np.int64)
        x, y = self.g.x[nodes], self.g.y[nodes]
        p = cs[:, None] * x[None, :] + sn[:, None] * y[None, :]
        return np.argsort(np.maximum(p[:, ea], p[:, eb]), axis=1, kind="stable").astype(np.int64)

    @cached_property
    def _sweep_args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What the sweep trees are drawn from: the units' x and y, the directions' cosines and sines (evenly round
        the circle)."""
        if self.w.sweep_trees <= 0:
            return _NO_SWEEP
        ang = 2 * np.pi * np.arange(self.w.sweep_trees) / self.w.sweep_trees
        return (np.ascontiguousarray(self.g.x, dtype=np.float64), np.ascontiguousarray(self.g.y, dtype=np.float64),
                np.cos(ang), np.sin(ang))

    def _region_arrays(self, nodes: np.ndarray) -> tuple:
        """What :meth:`_candidates` draws its trees over for the region ``nodes``: its edges (indices
        ascending; their ends renumbered as positions in ``nodes``), each node's households (float), area and
        perimeter not shared with the region (the region's outline), the node columns ``[h, area, ext,
        deg_w]`` (``deg_w``: the edges' (length, arterial, no-street) summed at their ends), the edges' rows
        of those columns and the xor of the nodes' random tags (the xor over a side identifies the side, and
        so the bisection). Compiled when numba runs (:func:`._fast.region_arrays`, the same sums in the same
        order): thousands of calls per community of hundreds of grids."""
        g = self.g
        if _REGION_COMPILED and _fast.compiled():
            eidx, ea, eb, h, area, ext, node_cols, W, total = _fast.region_arrays(
                nodes, g.a, g.b, g.length, self.edge_w, g.perim, g.h, g.area, self.node_tags)
            return eidx, ea, eb, h, area, ext, node_cols, W, np.uint64(total)
        nl = len(nodes)
        loc = np.full(g.n, -1, dtype=np.int64)
        loc[nodes] = np.arange(nl)
        la, lb = loc[g.a], loc[g.b]
        eidx = np.flatnonzero((la >= 0) & (lb >= 0))
        ea, eb = la[eidx], lb[eidx]
        h = g.h[nodes].astype(float)
        area = g.area[nodes]
        inner_len = np.bincount(ea, weights=g.length[eidx], minlength=nl) + np.bincount(eb, weights=g.length[eidx], minlength=nl)
        ext = g.perim[nodes] - inner_len
        W = self.edge_w[eidx]
        deg_w = np.zeros((nl, 3))
        np.add.at(deg_w, ea, W)
        np.add.at(deg_w, eb, W)
        total_tag = np.bitwise_xor.reduce(self.node_tags[nodes]) if nl else np.uint64(0)
        return eidx, ea, eb, h, area, ext, np.column_stack([h, area, ext, deg_w]), W, total_tag

    def _compiled_candidates(self, nodes: np.ndarray, nl: int, ea: np.ndarray, eb: np.ndarray, eidx: np.ndarray,
                             node_cols: np.ndarray, W: np.ndarray, tags: np.ndarray, total_tag: np.uint64, k: int,
                             H: float, A: float, E: float, t: float, strict: bool, band: int
                             ) -> list[tuple[float, float, np.ndarray, int]] | None:
        """:meth:`_candidates` on the compiled path in one call (:func:`._fast.ranked_candidates`): the same random
        numbers, trees, cuts, ranking and sides as :meth:`_fused_cuts` and the sides drawn after it, without the
        numpy calls and the ten arrays handed between them (12,000 calls of about 30 regions on each of 青山区's
        synthetic communities). None when a violation or score is NaN (never met): the random stream is then put
        back where it was and the caller ranks as before."""
        w = self.w
        m = len(eidx)
        state = self.rng.bit_generator.state
        rnd = self.rng.random((w.trees, m))
        failed, nan, vg, score, k1, sides, offs = _fast.ranked_candidates(
            nl, ea, eb, self.tree_w[eidx], rnd, self._sweep_args, nodes, node_cols, W, tags,
            total_tag, k, H, A, E, self.bounds, t, w,
            self.lref, strict, band, w.tries + 1, w.tries + 1, k // 4 if k > STRICT_MAX_PARTS else 0)
        if failed >= 0:  # as the loop: the numbers of the trees up to the failed one drawn
            self.rng.bit_generator.state = state
            self.rng.random((min(failed, w.trees - 1) + 1) * m)
            return []
        if nan:
            self.rng.bit_generator.state = state
            return None
        at = offs.tolist()
        return [(v, sc, sides[at[i]:at[i + 1]], kk)
                for i, (v, sc, kk) in enumerate(zip(vg.tolist(), score.tolist(), k1.tolist(), strict=True))]

    def _fused_cuts(self, nodes: np.ndarray, nl: int, ea: np.ndarray, eb: np.ndarray, eidx: np.ndarray, node_cols: np.ndarray,
                    W: np.ndarray, tags: np.ndarray, total_tag: np.uint64, k: int, H: float, A: float, E: float,
                    t: float, strict: bool, band: int
                    ) -> tuple[list[tuple[float, float, int, int, int, int]], list[np.ndarray]] | None:
        """The loop over spanning trees of :meth:`_candidates` with every tree drawn and cut in one compiled
        call (:func:`._fast.tree_cuts`): the same random numbers (drawn at once, the same stream), trees,
        cuts and best cut per bisection, so the same candidates, ranked (:func:`_rank_cuts`); None when a
        tree does not connect the nodes (the random stream then left where the loop leaves it)."""
        w = self.w
        m = len(eidx)
        state = self.rng.bit_generator.state
        wts = self.tree_w[eidx] * (0.2 + self.rng.random((w.trees, m)))
        orders = np.argsort(wts, axis=1, kind="stable")
        if w.sweep_trees > 0:
            orders = np.vstack([orders, self._sweep_orders(nodes, ea, eb)])
        pres, tt, row, j_all, vg, score, lo_c, hi_c, side_c, failed = _fast.tree_cuts(
            nl, ea, eb, orders, node_cols, W, tags, k, H, A, E, self.bounds, t, w, self.lref, strict, band)
        if failed >= 0:  # as the loop: the numbers of the trees up to the failed one drawn
            self.rng.bit_generator.state = state
            self.rng.random((min(failed, w.trees - 1) + 1) * m)
            return None
        if not len(tt):
            return [], list(pres)
        # compiled: the same selection, deduplication and ranking as below, without a dozen numpy calls
        top = _fast.rank_tree_cuts(tt, row, j_all, vg, score, side_c, total_tag, k, w.tries + 1, w.tries + 1,
                                   k // 4 if k > STRICT_MAX_PARTS else 0) if _RANK_COMPILED else None
        if top is not None:
            return list(zip(vg[top].tolist(), score[top].tolist(), tt[top].tolist(), lo_c[top].tolist(),
                            hi_c[top].tolist(), (row[top] + 1).tolist(), strict=True)), list(pres)
        # per tree, the best tries + 1 cuts of each k1 (by violation, then score; ties by cut index)
        order = np.lexsort((j_all, score, vg, row, tt))
        grp = tt[order] * k + row[order]
        starts = np.searchsorted(grp, grp, side="left")
        keep = order[(np.arange(len(order)) - starts) < w.tries + 1]
        return _rank_cuts(tt[keep], row[keep] + 1, side_c[keep], lo_c[keep], hi_c[keep], vg[keep], score[keep],
                          total_tag, k, w.tries + 1), list(pres)

    def _cut_scores(self, sub: np.ndarray, n1: np.ndarray, nl: int, k: int, H: float, A: float, E: float, t: float,
                    strict: bool, band: int = 0) -> tuple[np.ndarray, ...] | None:
        """(row, cut index, violation, score, k1) of every acceptable cut of one spanning tree for every
        count ``k1 = row + 1`` of parts on the cut-off side, row-major; None when there is none. With
        ``band`` > 0, only counts within ``band`` of the cut-off side's households ÷ ``t``."""
        bnd, w = self.bounds, self.w
        ks = np.arange(1, k)
        h1, a1, e1 = sub[:, 0], sub[:, 1], sub[:, 2]
        cut = sub[:, 3:6] - 2 * sub[:, 6:9]  # (length, art, nostreet) of the cut
        h2, a2 = H - h1, A - a1
        p1 = e1 + cut[:, 0]
        p2 = (E - e1) + cut[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            comp = p1**2 / (4 * np.pi * np.maximum(a1, 1e-9)) + p2**2 / (4 * np.pi * np.maximum(a2, 1e-9))
        base = w.compact * comp + (w.cut * cut[:, 2] - w.cross * cut[:, 1]) / self.lref
        # every count k1 of parts on the cut-off side at once: rows k1 = 1..k-1, columns the cuts
        K1 = ks[:, None]
        K2 = k - K1
        ok_n = (n1 >= K1) & (nl - n1 >= K2)
        viol = (np.maximum(0, np.maximum(K1 * bnd.lo - h1, h1 - K1 * bnd.hi))
                + np.maximum(0, np.maximum(K2 * bnd.lo - h2, h2 - K2 * bnd.hi)))
        good = ok_n & (viol == 0) if strict else ok_n
        if band > 0:
            good &= np.abs(K1 - h1 / t) <= band
        row, j_all = np.nonzero(good)  # row-major: k1 ascending, then cut index
        if not len(row):
            return None
        k1s, k2s = ks[row], k - ks[row]
        g1, g2 = h1[j_all] / k1s, h2[j_all] / k2s
        d1 = (g1 - t) / bnd.target
        d2 = (g2 - t) / bnd.target
        score = base[j_all] + w.balance * (k1s * (d1**2 + floor_penalty(g1, bnd.lo, w.floor_margin))
                                           + k2s * (d2**2 + floor_penalty(g2, bnd.lo, w.floor_margin)))
        vg = viol[row, j_all]
        return row, j_all, vg, score, k1s

    # ------------------------------------------------------------------ local search
    def _improve(self, labels: np.ndarray, nparts: int, frozen: set[int]) -> np.ndarray:
        g, bnd, w = self.g, self.bounds, self.w
        if nparts < 2 or g.m == 0:
            return labels
        if _IMPROVE_COMPILED and _fast.compiled():
            return _fast.improve(g, labels, nparts, frozen, bnd, w, self.lref)
        adj: list[list[tuple[int, float, float, float]]] = [[] for _ in range(g.n)]
        for e, (a, b) in enumerate(zip(g.a.tolist(), g.b.tolist())):
            L, art, ns = float(g.length[e]), float(g.art[e]), float(g.nostreet[e])
            adj[a].append((b, L, art, ns))
            adj[b].append((a, L, art, ns))
        hs = g.h.astype(float).tolist()
        areas = g.area.tolist()
        perims = g.perim.tolist()
        lab = labels.tolist()
        ph = np.bincount(labels, weights=g.h, minlength=nparts).tolist()
        pa = np.bincount(labels, weights=g.area, minlength=nparts).tolist()
        pp = np.bincount(labels, weights=g.perim, minlength=nparts)
        same = labels[g.a] == labels[g.b]
        pp -= 2 * np.bincount(labels[g.a][same], weights=g.length[same], minlength=nparts)
        pp = pp.tolist()
        size = np.bincount(labels, minlength=nparts).tolist()
        lo, hi, target = bnd.lo, bnd.hi, float(bnd.target)
        lref = self.lref
        k4pi = 4 * math.pi

        def comp(P: float, A: float) -> float:
            return P * P / (k4pi * A) if A > 0 else 0.0

        def viol(x: float) -> float:
            return max(0.0, lo - x, x - hi)

        margin = w.floor_margin

        def bal(x: float) -> float:
            d = (x - target) / target
            if margin > 0 and x < lo + margin:
                m = min(1.0, (lo + margin - x) / margin)
                return d * d + m * m
            return d * d

        def connected_without(u: int, part: int) -> bool:
            start = None
            need = size[part] - 1
            for v, *_ in adj[u]:
                if lab[v] == part:
                    start = v
                    break
            if start is None:
                return need == 0
            seen = {start, u}
            stack = [start]
            count = 1
            while stack:
                x = stack.pop()
                for y, *_ in adj[x]:
                    if y not in seen and lab[y] == part:
                        seen.add(y)
                        stack.append(y)
                        count += 1
            return count == need

        for _sweep in range(w.sweeps):
            moved = 0
            for u in range(g.n):
                A = lab[u]
                if A in frozen or size[A] <= 1:
                    continue
                by_part: dict[int, list[float]] = {}
                for v, L, art, ns in adj[u]:
                    p = lab[v]
                    s = by_part.get(p)
                    if s is None:
                        by_part[p] = [L, art, ns, 1]
                    else:
                        s[0] += L
                        s[1] += art
                        s[2] += ns
                        s[3] += 1
                if len(by_part) < 2 and A in by_part:
                    continue
                if A not in by_part:
                    by_part[A] = [0.0, 0.0, 0.0, 0]
                LA, artA, nsA, nA = by_part[A]
                hu, au, pu = hs[u], areas[u], perims[u]
                hA, hA2 = ph[A], ph[A] - hu
                base_A = comp(pp[A], pa[A])
                newPA = pp[A] - pu + 2 * LA
                newAA = pa[A] - au
                options = []
                for B, (LB, artB, nsB, _nB) in by_part.items():
                    if B == A or B in frozen:
                        continue
                    hB, hB2 = ph[B], ph[B] + hu
                    dv = viol(hA2) + viol(hB2) - viol(hA) - viol(hB)
                    if dv > 0:
                        continue
                    newPB = pp[B] + pu - 2 * LB
                    d = (w.compact * (comp(newPA, newAA) + comp(newPB, pa[B] + au) - base_A - comp(pp[B], pa[B]))
                         + (w.cross * (artB - artA) + w.cut * (nsA - nsB)) / lref
                         + w.balance * (bal(hA2) + bal(hB2) - bal(hA) - bal(hB)))
                    if dv < 0 or d < -1e-9:
                        options.append((dv, d, B, newPB))
                if not options:
                    continue
                options.sort()
                chosen = None
                connected = None
                for _dv, _d, B, newPB in options:
                    if connected is None:
                        connected = nA < 2 or connected_without(u, A)
                    if not connected:
                        break
                    chosen = (B, newPB)
                    break
                if chosen is None:
                    continue
                B, newPB = chosen
                lab[u] = B
                ph[A] -= hu
                ph[B] += hu
                pa[A] = newAA
                pa[B] += au
                pp[A] = newPA
                pp[B] = newPB
                size[A] -= 1
                size[B] += 1
                moved += 1
            if not moved:
                break
        return np.asarray(lab, dtype=np.int64)


#: graphs of more edges than this get their spanning tree from scipy (a different DFS order), fewer
#: from Kruskal in :mod:`._fast` (compiled) or below
_SCIPY_TREE_EDGES = 3000
#: :meth:`_Solver._candidates` draws and cuts all its trees in one compiled call (False: one call per tree,
#: as the tests compare)
_FUSED = True


def _spanning_tree(n: int, ea: np.ndarray, eb: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Minimum spanning tree of a connected graph: (DFS preorder from node 0, parent), None if disconnected."""
    if n == 1:
        return np.zeros(1, dtype=np.int64), np.full(1, -1, dtype=np.int64)
    if len(ea) > _SCIPY_TREE_EDGES:
        mat = csr_matrix((w, (ea, eb)), shape=(n, n))
        tree = minimum_spanning_tree(mat)
        tree = tree + tree.T
        pre, pred = depth_first_order(tree, 0, directed=False, return_predecessors=True)
        if len(pre) < n:
            return None
        return pre.astype(np.int64), pred.astype(np.int64)
    order = np.argsort(w, kind="stable")
    A = ea[order].tolist()
    B = eb[order].tolist()
    parent = list(range(n))
    nbrs: list[list[int]] = [[] for _ in range(n)]
    joined = 0
    for a, b in zip(A, B):
        ra = a
        while parent[ra] != ra:
            parent[ra] = parent[parent[ra]]
            ra = parent[ra]
        rb = b
        while parent[rb] != rb:
            parent[rb] = parent[parent[rb]]
            rb = parent[rb]
        if ra == rb:
            continue
        parent[ra] = rb
        nbrs[a].append(b)
        nbrs[b].append(a)
        joined += 1
        if joined == n - 1:
            break
    if joined < n - 1:
        return None
    pre = []
    par = [-1] * n
    seen = [False] * n
    stack = [0]
    seen[0] = True
    while stack:
        v = stack.pop()
        pre.append(v)
        for u in reversed(nbrs[v]):
            if not seen[u]:
                seen[u] = True
                par[u] = v
                stack.append(u)
    return np.asarray(pre, dtype=np.int64), np.asarray(par, dtype=np.int64)


def _sizes_depths(pre: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subtree sizes and depths of a tree given its DFS preorder and predecessors."""
    n = len(pre)
    order = pre.tolist()
    par = pred.tolist()
    size = [1] * n
    for v in reversed(order[1:]):
        size[par[v]] += size[v]
    depth = [0] * n
    for v in order[1:]:
        depth[v] = depth[par[v]] + 1
    return np.asarray(size, dtype=np.int64), np.asarray(depth, dtype=np.int64)


def _lca(a: np.ndarray, b: np.ndarray, pred: np.ndarray, depth: np.ndarray, root: int) -> np.ndarray:
    """Lowest common ancestors of node pairs (vectorised binary lifting)."""
    if not len(a):
        return np.zeros(0, dtype=np.int64)
    parent = np.where(pred < 0, root, pred).astype(np.int64)
    levels = max(1, int(depth.max()).bit_length())
    up = [parent]
    for _ in range(1, levels):
        up.append(up[-1][up[-1]])
    a = a.copy()
    b = b.copy()
    swap = depth[a] < depth[b]
    a[swap], b[swap] = b[swap], a[swap].copy()
    diff = depth[a] - depth[b]
    for j in range(levels):
        bit = ((diff >> j) & 1).astype(bool)
        a[bit] = up[j][a[bit]]
    for j in range(levels - 1, -1, -1):
        na, nb = up[j][a], up[j][b]
        move = na != nb
        a[move] = na[move]
        b[move] = nb[move]
    return np.where(a == b, a, parent[a])
#: the fused path ranks its cuts with the compiled :func:`._fast.rank_tree_cuts` (False: numpy's sorts,
#: :func:`_rank_cuts`, as the tests compare)
_RANK_COMPILED = True
#: with the compiled ranking, :meth:`_Solver._candidates` draws, cuts and ranks its trees and draws the sides in one
#: compiled call (:meth:`_Solver._compiled_candidates`; False: :meth:`_Solver._fused_cuts` then numpy, as the tests
#: compare)
_ONE_CALL = True
#: :meth:`_Solver._improve` runs the compiled :func:`._fast.improve` (False: the Python, as the tests compare)
_IMPROVE_COMPILED = True
#: :meth:`_Solver._region_arrays` and :meth:`_Solver._contracted` run the compiled :func:`._fast.region_arrays` and
#: :func:`._fast.region_graph` (False: numpy, as the tests compare)
_REGION_COMPILED = True
