"""Compiled inner loops of the partition engine (numba), with the same results as the Python they
replace, bit for bit.

The kernels themselves are in :mod:`._kernels`; this module holds their Python entry points.

The spanning-tree bisection (:meth:`~.solver._Solver._candidates`) draws thousands of random spanning
trees per district; for each it needs the tree (Kruskal over the edges in weight order, then a
depth-first preorder), every subtree's size and depth, and the lowest common ancestor of every edge's
ends. Those loops run here compiled with numba (``cache=True``: compiled once per installation, then
loaded from numba's cache). They are pure integer code, so the trees, orders and ancestors are exactly
those of the Python versions kept in :mod:`.solver` (used when numba is absent, and by the tests that
check the two agree); the subtree sums add the same numbers in the same order as ``np.add.at`` and
``np.cumsum``.

The exact search of small regions (:class:`.exact.ExactDP`: dynamic programming over the sets of units
still to cover, each step enumerating the connected sets holding the lowest unit) runs here too
(:func:`exact_parts`): the same enumeration order, the same costs computed operation for operation, the
same stable sort, pruning and step budget, so the same parts. Its recursions are explicit stacks
(numba cannot cache recursive functions).

So is the exact count of :class:`.subgrids.SmallGridBadness` (:func:`small_grid_badness`), and the
connected components the solver asks for many times over small graphs (:func:`components`, numbered
as scipy numbers them).

The scans of :func:`.shapes.polish_compactness` (the next cell whose move to a neighbouring part lowers the
two parts' summed ``P²/(4πA)``, and the pieces of a part) run here too (:func:`polish_next`, :func:`part_pieces`,
:func:`pieces_of`): the same sums in the same order, so the same moves.

First use compiles every kernel (about 80 s of CPU on the 2-core machine, once per installation, into
numba's cache beside the sources); later processes load them from the cache: about 0.8 s of CPU per process
(session 45: importing numba 0.24 s, its CPU target 0.30 s, the 17 kernels' cached code 0.19 s), on top of
the 1.05 s of importing :mod:`gridgeo.partition` (geopandas, pandas) that any division pays. :func:`warm_up`
does either ahead of time: the partition calls it in the main process before forking local workers, so that
they inherit the kernels instead of each compiling them.

Callers ask :func:`compiled` before using a kernel. It is False without numba, with ``GRIDGEO_NO_NUMBA=1``
in the environment, or when numba is installed but cannot be imported or cannot compile the kernels (a
numba built for another numpy raises at import): then a warning says so once, the failure is remembered
for the process, and the engine runs its Python (the same results, slower).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings

import numpy as np

__all__ = ["AVAILABLE", "BADNESS_COMPILED", "compiled", "tree_of", "subtree_sums", "cut_scores", "tree_cuts",
           "rank_tree_cuts", "ranked_candidates", "region_arrays", "region_graph", "contract_sums", "improve", "exact_parts",
           "small_grid_badness", "components", "warm_up", "tried", "polish_adjacency", "polish_next", "part_pieces",
           "pieces_of"]

#: whether numba is installed and not turned off by ``GRIDGEO_NO_NUMBA`` (it is imported, and the kernels of
#: :mod:`._kernels` loaded, only when a kernel is first wanted: about 0.8 s of CPU and 85 MB that other commands do
#: not pay); :func:`compiled` says whether the kernels actually loaded
AVAILABLE = (os.environ.get("GRIDGEO_NO_NUMBA", "").strip() in ("", "0")
             and importlib.util.find_spec("numba") is not None)
#: the kernels module once tried: [module] when it loaded and compiled, [None] when it failed (not retried)
_K: list = []


def compiled() -> bool:
    """Whether the compiled kernels run: numba present and not turned off, and the kernels imported and
    compiled (tried once per process, on the first call; after a failure, False without trying again)."""
    return AVAILABLE and _load() is not None


def _load():
    """The kernels module (:mod:`._kernels`), imported and compiled (or loaded from numba's cache) on the
    first call; None if that failed."""
    if not _K:
        try:
            kernels = importlib.import_module(f"{__package__}._kernels")
        except Exception as exc:  # numba installed but broken, e.g. built against another numpy
            _failed("importing numba failed", exc)
            return None
        _K.append(kernels)  # the warm-up below calls the kernels through _k()
        try:
            _warm_up()
        except Exception as exc:  # noqa: BLE001 - numba cannot compile here (any error of numba's)
            _failed("compiling the kernels failed", exc)
    return _K[0]


def _failed(what: str, exc: BaseException) -> None:
    _K[:] = [None]
    warnings.warn(f"gridgeo: {what} ({type(exc).__name__}: {exc}); the partition runs its Python instead "
                  "(the same results, slower). Set GRIDGEO_NO_NUMBA=1 to skip numba without this warning.",
                  RuntimeWarning, stacklevel=3)


def _k():
    """The compiled kernels (:mod:`._kernels`); only after :func:`compiled` said True."""
    kernels = _load()
    if kernels is None:
        raise RuntimeError("gridgeo.partition._fast: the compiled kernels are not available (check compiled() first)")
    return kernels


#: :class:`.subgrids.SmallGridBadness` uses :func:`small_grid_badness` (False: its Python programme; the
#: tests compare the two)
BADNESS_COMPILED = True


def tree_of(n: int, ea: np.ndarray, eb: np.ndarray, order: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The minimum spanning tree of a graph of ``n`` nodes whose edges ``(ea, eb)`` come in weight
    order ``order``: (DFS preorder from node 0, parent, subtree size, depth, LCA of every edge), or
    None when the graph is not connected."""
    if n == 1:
        pre = np.zeros(1, dtype=np.int64)
        par = np.full(1, -1, dtype=np.int64)
    else:
        pre, par, ok = _k()._kruskal_dfs(n, ea[order], eb[order])
        if not ok:
            return None
    size, depth, lca = _k()._sizes_depths_lca(pre, par, ea, eb)
    return pre, par, size, depth, lca


def warm_up() -> bool:
    """Compile (or load from numba's cache) every kernel ahead of their first use: :func:`compiled`."""
    return compiled()


def tried() -> bool:
    """Whether this process has already loaded the kernels (or failed to): :func:`warm_up` is then instant."""
    return bool(_K)


def _warm_up() -> None:
    """Every kernel run once on a tiny graph (compiled, or loaded from numba's cache)."""
    from .graph import Graph
    from .solver import Bounds, Weights

    ea, eb = np.array([0, 1], dtype=np.int64), np.array([1, 2], dtype=np.int64)
    pre, _par, size, _depth, lca = tree_of(3, ea, eb, np.array([0, 1]))
    tags = np.array([1, 2, 4], dtype=np.uint64)
    subtree_sums(pre, size, lca, np.ones((3, 6)), np.ones((2, 3)), tags)
    cuts = tree_cuts(3, ea, eb, np.array([[0, 1], [1, 0]]), np.ones((3, 6)), np.ones((2, 3)), tags, 2, 3.0, 3.0, 12.0,
                     Bounds(1, 2, 1), 1.5, Weights(), 1.0, True)
    rank_tree_cuts(cuts[1], cuts[2], cuts[3], cuts[4], cuts[5], cuts[8], np.uint64(7), 2, 4, 4, 0)
    xy = np.arange(7, dtype=np.float64)
    ranked_candidates(3, ea, eb, np.ones(2), np.full((2, 2), 0.5), (xy, xy, np.ones(1), np.zeros(1)), np.array([4, 5, 6]),
                      np.ones((3, 6)),
                      np.ones((2, 3)), tags, np.uint64(7), 2, 3.0, 3.0, 12.0, Bounds(1, 2, 1), 1.5, Weights(), 1.0, True, 0,
                      4, 4, 0)
    region_arrays(np.array([0, 2]), ea, eb, np.ones(2), np.ones((2, 3)), np.ones(3), np.ones(3, np.int64), np.ones(3),
                  tags)
    g = Graph(h=np.array([60, 60, 90]), area=np.ones(3), perim=np.full(3, 4.0), x=np.zeros(3), y=np.zeros(3), a=ea,
              b=eb, length=np.ones(2), art=np.zeros(2), nostreet=np.zeros(2))
    contract_sums(g, np.array([0, 0, 1]), 2)
    region_graph(g, np.array([0, 1]))
    exact_parts(g, Bounds(100, 150, 125), Weights(), 1.0, 1000, 2, True)
    exact_parts(g, Bounds(100, 150, 125), Weights(), 1.0, 1000, 0, False)
    exact_parts(g, Bounds(100, 150, 125), Weights(), 1.0, 2, 2, True)  # over budget: the feasible search
    small_grid_badness([60, 60, 90], [2, 5, 2], 100, 150, 125, 1000)
    components(3, ea, eb)
    improve(g, np.array([0, 0, 1]), 2, set(), Bounds(100, 150, 125), Weights(), 1.0)
    lab = np.array([0, 0, 1], dtype=np.int64)
    indptr, nbr, nL, op = polish_adjacency(g, np.zeros(2, dtype=bool))
    part_pieces(2, indptr, nbr, lab)
    pieces_of(0, 1, indptr, nbr, lab)
    polish_next(0, np.arange(3), indptr, nbr, nL, op, lab, np.array([2, 1]), np.array([6.0, 4.0]), np.array([2.0, 1.0]),
                g.perim, g.area, 1e-6)


def subtree_sums(pre: np.ndarray, size: np.ndarray, lca: np.ndarray, base: np.ndarray, W: np.ndarray,
                 tags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every node but the root, in preorder: the preorder interval ``[lo, hi)`` of its subtree, the
    sums over it of ``base``'s columns then of ``W``'s (edges counted at their LCA), and the xor of
    its ``tags``."""
    return _k()._subtree_sums(pre, size, lca, np.ascontiguousarray(base, dtype=np.float64),
                         np.ascontiguousarray(W, dtype=np.float64), tags)


def cut_scores(sub: np.ndarray, n1: np.ndarray, nl: int, k: int, H: float, A: float, E: float, bounds, t: float, w,
               lref: float, strict: bool, band: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The candidate cuts of one spanning tree, for every count ``k1 = row + 1`` of parts on the cut-off
    side (row-major, as ``np.nonzero``): (row, cut index, violation, score), computed operation for
    operation as the numpy of :meth:`.solver._Solver._candidates` (the same values). With ``band`` > 0,
    only counts within ``band`` of the cut-off side's households ÷ ``t``."""
    return _k()._cut_scores(sub, n1, int(nl), int(k), float(H), float(A), float(E), float(bounds.lo), float(bounds.hi),
                       float(bounds.target), float(t), float(w.compact), float(w.cut), float(w.cross), float(lref),
                       float(w.balance), float(w.floor_margin), bool(strict), int(band))



def tree_cuts(nl: int, ea: np.ndarray, eb: np.ndarray, orders: np.ndarray, base: np.ndarray, W: np.ndarray,
              tags: np.ndarray, k: int, H: float, A: float, E: float, bounds, t: float, w, lref: float, strict: bool,
              band: int = 0) -> tuple:
    """Every spanning tree of one call of :meth:`.solver._Solver._candidates` and its cuts in one compiled
    call: for each row of ``orders`` (the edges in weight order, ``nl`` >= 2 nodes) what :func:`tree_of`,
    :func:`subtree_sums` and :func:`cut_scores` give, the same values. Returns (the trees' preorders, a
    row each; per cut its tree, row, cut index, violation, score, preorder interval lo, hi and side tag;
    the first tree that does not connect the nodes, or -1)."""
    return _k()._tree_cuts(int(nl), np.ascontiguousarray(ea, dtype=np.int64), np.ascontiguousarray(eb, dtype=np.int64),
                           np.ascontiguousarray(orders, dtype=np.int64), np.ascontiguousarray(base, dtype=np.float64),
                           np.ascontiguousarray(W, dtype=np.float64), tags, int(k), float(H), float(A), float(E),
                           float(bounds.lo), float(bounds.hi), float(bounds.target), float(t), float(w.compact),
                           float(w.cut), float(w.cross), float(lref), float(w.balance), float(w.floor_margin),
                           bool(strict), int(band))

def ranked_candidates(nl: int, ea: np.ndarray, eb: np.ndarray, tw: np.ndarray, rnd: np.ndarray, sweep: tuple,
                      nodes: np.ndarray, base: np.ndarray, W: np.ndarray, tags: np.ndarray, total_tag: np.uint64, k: int,
                      H: float, A: float, E: float, bounds, t: float, w, lref: float, strict: bool, band: int,
                      per_group: int, n: int, q: int) -> tuple:
    """:func:`tree_cuts` of the trees drawn with the random numbers ``rnd`` (a row per tree; edge weights
    ``tw * (0.2 + rnd)`` in stable order) then of the sweep trees of :meth:`.solver._Solver._sweep_orders`
    (``sweep``: the units' x and y, the directions' cosines and sines; no direction, no sweep tree),
    ranked by :func:`rank_tree_cuts`, and the ranked cuts' sides (the
    nodes of ``nodes`` under each, sorted), in one compiled call: what :meth:`.solver._Solver._candidates` makes
    of them in numpy between four calls, the same values. Returns (the first tree that does not connect the nodes
    or -1, whether a violation or score is NaN (then nothing is ranked), violations, scores and k1 of the ranked
    cuts best first, their sides one after another, the sides' offsets)."""
    return _k()._ranked_candidates(
        int(nl), ea, eb, tw, rnd, *sweep, np.ascontiguousarray(nodes, dtype=np.int64), base, W,
        tags, np.uint64(total_tag),
        int(k), float(H), float(A), float(E), float(bounds.lo), float(bounds.hi), float(bounds.target), float(t),
        float(w.compact), float(w.cut), float(w.cross), float(lref), float(w.balance), float(w.floor_margin),
        bool(strict), int(band), int(per_group), int(n), int(q))


def rank_tree_cuts(tt: np.ndarray, rows: np.ndarray, cols: np.ndarray, vg: np.ndarray, score: np.ndarray,
                   side: np.ndarray, total_tag: np.uint64, k: int, per_group: int, n: int, q: int) -> np.ndarray | None:
    """The ``n`` best candidates among the cuts :func:`tree_cuts` gives, as :func:`.solver._rank_cuts` ranks
    them after keeping the first ``per_group`` of each tree and count: their indices into the cuts, best
    first (``q`` > 0: cuts leaving fewer than ``q`` grids on a side come last). None when a violation or
    score is NaN (never met; the caller then ranks them in numpy)."""
    out = _k()._rank_tree_cuts(tt, rows, cols, vg, score, side, np.uint64(total_tag), int(k), int(per_group), int(n),
                               int(q))
    return None if len(out) and out[0] < 0 else out


def region_arrays(nodes: np.ndarray, a: np.ndarray, b: np.ndarray, length: np.ndarray, edge_w: np.ndarray,
                  perim: np.ndarray, h: np.ndarray, area: np.ndarray, tags: np.ndarray) -> tuple:
    """The region's arrays of :meth:`.solver._Solver._region_arrays` in one compiled call, the same values:
    (edge indices, their ends renumbered, households as float, area, outside perimeter, node columns, edge
    columns, xor of the tags)."""
    f8 = np.float64
    return _k()._region_arrays(np.ascontiguousarray(nodes, dtype=np.int64), np.ascontiguousarray(a, dtype=np.int64),
                               np.ascontiguousarray(b, dtype=np.int64), np.ascontiguousarray(length, dtype=f8),
                               np.ascontiguousarray(edge_w, dtype=f8), np.ascontiguousarray(perim, dtype=f8),
                               np.ascontiguousarray(h), np.ascontiguousarray(area, dtype=f8),
                               np.ascontiguousarray(tags, dtype=np.uint64))


def region_graph(g, nodes: np.ndarray) -> tuple | None:
    """:func:`.graph.subgraph` of ``g`` by ``nodes`` then :func:`.exact.zero_contraction` and :func:`.graph.contract`
    of it in one compiled call, the same arrays, when the region's nodes all have households or none has:
    (labels, contracted :class:`.graph.Graph`); None otherwise (contract it in Python)."""
    from .graph import Graph

    f8 = np.float64
    ok, labels, (h, area, perim, x, y, a, b, length, art, nostreet) = _k()._region_graph(
        np.ascontiguousarray(nodes, dtype=np.int64), np.ascontiguousarray(g.a, dtype=np.int64),
        np.ascontiguousarray(g.b, dtype=np.int64), np.ascontiguousarray(g.h, dtype=f8),
        np.ascontiguousarray(g.area, dtype=f8), np.ascontiguousarray(g.perim, dtype=f8), np.ascontiguousarray(g.x, dtype=f8),
        np.ascontiguousarray(g.y, dtype=f8), np.ascontiguousarray(g.length, dtype=f8),
        np.ascontiguousarray(g.art, dtype=f8), np.ascontiguousarray(g.nostreet, dtype=f8))
    if not ok:
        return None
    return labels, Graph(h=h.round().astype(np.int64), area=area, perim=perim, x=x, y=y, a=a, b=b, length=length,
                         art=art, nostreet=nostreet)


def contract_sums(g, labels: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """The arrays of :func:`.graph.contract` of ``g`` by ``labels`` (each in ``0..k-1``), compiled, the same
    sums in the same order: households per group as float (the caller rounds them), area, perimeter, point
    x and y, then the edges between groups (a, b, length, arterial, no-street length)."""
    f8 = np.float64
    return _k()._contract(int(k), np.ascontiguousarray(labels, dtype=np.int64), np.ascontiguousarray(g.h, dtype=f8),
                          np.ascontiguousarray(g.area, dtype=f8), np.ascontiguousarray(g.perim, dtype=f8),
                          np.ascontiguousarray(g.x, dtype=f8), np.ascontiguousarray(g.y, dtype=f8),
                          np.ascontiguousarray(g.a, dtype=np.int64), np.ascontiguousarray(g.b, dtype=np.int64),
                          np.ascontiguousarray(g.length, dtype=f8), np.ascontiguousarray(g.art, dtype=f8),
                          np.ascontiguousarray(g.nostreet, dtype=f8))


def improve(g, labels: np.ndarray, nparts: int, frozen: set[int], bounds, w, lref: float) -> np.ndarray:
    """The local search of :meth:`.solver._Solver._improve` compiled: the same sweeps, moves and sums (each
    unit's edges in edge order, as its Python lists them), so the same labels."""
    m = len(g.a)
    rows = np.concatenate([g.a, g.b]).astype(np.int64)
    eids = np.concatenate([np.arange(m), np.arange(m)])
    order = np.lexsort((np.arange(2 * m), eids, rows))  # per unit, its edges in edge order (a's entry first)
    indptr = np.searchsorted(rows[order], np.arange(g.n + 1)).astype(np.int64)
    nbr = np.concatenate([g.b, g.a]).astype(np.int64)[order]
    e = eids[order]
    f8 = np.float64
    labels = np.asarray(labels, dtype=np.int64)
    lab = labels.copy()
    ph = np.bincount(labels, weights=g.h, minlength=nparts).astype(f8)
    pa = np.bincount(labels, weights=g.area, minlength=nparts).astype(f8)
    pp = np.bincount(labels, weights=g.perim, minlength=nparts)
    same = labels[g.a] == labels[g.b]
    pp = (pp - 2 * np.bincount(labels[g.a][same], weights=g.length[same], minlength=nparts)).astype(f8)
    size = np.bincount(labels, minlength=nparts).astype(np.int64)
    fz = np.zeros(len(size), dtype=np.bool_)
    for p in frozen:
        if 0 <= p < len(fz):
            fz[p] = True
    _k()._improve(indptr, nbr, np.ascontiguousarray(g.length[e], dtype=f8), np.ascontiguousarray(g.art[e], dtype=f8),
                  np.ascontiguousarray(g.nostreet[e], dtype=f8), np.asarray(g.h, dtype=f8), np.asarray(g.area, dtype=f8),
                  np.asarray(g.perim, dtype=f8), lab, ph, pa, pp, size, fz, float(bounds.lo), float(bounds.hi),
                  float(bounds.target), float(lref), float(w.compact), float(w.cross), float(w.cut), float(w.balance),
                  float(w.floor_margin), int(w.sweeps))
    return lab


def components(n: int, a: np.ndarray, b: np.ndarray) -> tuple[int, np.ndarray]:
    """Connected components of the undirected graph of ``n`` nodes and edges ``(a, b)``: their count and
    each node's label, numbered in order of their lowest node, as
    ``scipy.sparse.csgraph.connected_components(..., directed=False)`` numbers them (int32 labels; scipy
    itself without numba)."""
    if not compiled():
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        mat = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        return connected_components(mat, directed=False)
    return _k()._components(int(n), np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))


# ------------------------------------------------------------------------------ exact search (see .exact)

def small_grid_badness(hl: list[int], nb: list[int], lo: int, hi: int, target: int,
                       budget: int) -> tuple[bool, int, float]:
    """The exact count of :class:`.subgrids.SmallGridBadness` over cells of households ``hl`` (at most
    62) with bitmask adjacency ``nb``, compiled: (within the budget, small grids out of bounds, their
    total shortfall), the same as the Python dynamic programme."""
    return _k()._badness(np.asarray(hl, dtype=np.int64), np.asarray(nb, dtype=np.int64), int(lo), int(hi), int(target),
                    int(budget))


def exact_parts(g, bounds, w, lref: float, budget: int, k: int, strict: bool) -> list[int] | None:
    """The exact search of :mod:`.exact` on graph ``g`` (at most 62 nodes), compiled: the parts as
    bitmasks of its nodes, or None (strict: infeasible, or no feasible division within the budget; not
    strict: over the budget) — what :meth:`.solver._Solver._exact_masks` returns with :class:`.exact.ExactDP`."""
    p = np.array([bounds.lo, bounds.hi, float(bounds.target), w.compact, w.cross, w.cut, w.balance, w.floor_margin,
                  lref], dtype=np.float64)
    status, parts = _k()._exact_graph(
        int(g.n), int(k), bool(strict), np.asarray(g.h, dtype=np.float64), np.asarray(g.area, dtype=np.float64),
        np.asarray(g.perim, dtype=np.float64), np.asarray(g.a, dtype=np.int64), np.asarray(g.b, dtype=np.int64),
        np.asarray(g.length, dtype=np.float64), np.asarray(g.art, dtype=np.float64),
        np.asarray(g.nostreet, dtype=np.float64), p, int(budget))
    return None if status else [int(x) for x in parts]


# ------------------------------------------------------------------------- the compactness polish (see .shapes)

def polish_adjacency(g, barrier: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each node's neighbours in ``g`` as :func:`.shapes.polish_compactness` lists them (in order of their first
    edge, the lengths of repeated edges summed in edge order), and whether any edge to it is not a ``barrier``:
    CSR arrays (indptr, neighbour, shared length, open)."""
    return _k()._polish_adjacency(int(g.n), np.ascontiguousarray(g.a, dtype=np.int64),
                                  np.ascontiguousarray(g.b, dtype=np.int64),
                                  np.ascontiguousarray(g.length, dtype=np.float64),
                                  np.ascontiguousarray(barrier, dtype=np.bool_))


def part_pieces(k: int, indptr: np.ndarray, nbr: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Connected pieces of the nodes of each label ``0..k-1`` over the CSR adjacency (0 for a label of none)."""
    return _k()._part_pieces(int(k), indptr, nbr, np.ascontiguousarray(labels, dtype=np.int64))


def pieces_of(part: int, skip: int, indptr: np.ndarray, nbr: np.ndarray, labels: np.ndarray) -> int:
    """Connected pieces of the nodes labelled ``part``, node ``skip`` left out."""
    return int(_k()._pieces_of(int(part), int(skip), indptr, nbr, labels))


def polish_next(start: int, movable: np.ndarray, indptr: np.ndarray, nbr: np.ndarray, nL: np.ndarray, op: np.ndarray,
                labels: np.ndarray, size: np.ndarray, perim: np.ndarray, area: np.ndarray, gperim: np.ndarray,
                garea: np.ndarray, min_gain: float) -> tuple[int, int, int, float, float, float, float]:
    """From position ``start`` of ``movable``, the next node :func:`.shapes.polish_compactness` would try to move
    and the move (position, node, part, and the perimeter and area of its part then of the other after it), the
    same sums in the same order as its Python; position -1 when none is left."""
    pos, c, B, pa, aa, pb, ab = _k()._polish_next(int(start), movable, indptr, nbr, nL, op, labels, size, perim, area,
                                                 gperim, garea, float(min_gain))
    return int(pos), int(c), int(B), float(pa), float(aa), float(pb), float(ab)
