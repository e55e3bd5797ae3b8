"""Base grids redrawn so that their buildings make small grids: tree cuts over two or three grids.

A base grid of 300–500 households can still divide into no small grids of 100–150: a tower of 220
households with 130 households of walk-ups in five buildings that make one group of 90 and one of 40,
or walk-ups of 74, 74, 70, 68 and 66 households (352: two small grids are too few, three too many
for five buildings). :class:`~.subgrids.SmallGridBadness` counts such grids (the fewest small grids
out of bounds a grid's cells can make); the moves of :func:`~.subgrids.reshape_for_small_grids`
(one unit at a time, pairs of grids divided afresh by the solver) often cannot reach a better
division: moving the 41 and 32 households of walk-ups away from two towers one building at a time
looks worse at every step, and a neighbour that takes them may need to pass some of its own on.

:func:`fit_small_grids` searches, for each base grid whose small grids miss and its neighbours
(two grids, then three: the grid, a neighbour, and a neighbour of either), the divisions of their
units into as many connected grids within the base bounds that cut one or two edges of a random
spanning tree of the units (the ReCom proposal of GerryChain, all cuts of each tree), and keeps the
one whose small-grid badness is lowest, then whose grids share the least boundary (more compact),
where that is lower than the grids' badness now. Every tree cut gives connected grids; grids keep
their numbers (each new grid takes the number of the old grid it shares most households with).
Deterministic: grids in index order, trees from a seed.

Examples
--------
A path of units: towers of 220 and 198 households with walk-ups of 41 and 32 in one grid (491: the
walk-ups make no small grid), and walk-ups of 50, 100, 120 and 110 households in the other (380). The
search moves the two walk-ups to the other grid (418 and 453; small grids of 123, 100, 120 and 110):

>>> from .graph import Graph
>>> from .solver import Bounds
>>> from .subgrids import SmallGridBadness
>>> h = np.array([220, 198, 41, 32, 50, 100, 120, 110])
>>> n = len(h)
>>> g = Graph(h=h, area=np.ones(n), perim=np.full(n, 4.0), x=np.arange(n, dtype=float), y=np.zeros(n),
...           a=np.arange(n - 1), b=np.arange(1, n), length=np.ones(n - 1), art=np.zeros(n - 1),
...           nostreet=np.zeros(n - 1))
>>> bad = SmallGridBadness(g, Bounds(100, 150, 125))
>>> labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
>>> fit_small_grids(g, labels, 2, [np.array([u]) for u in range(n)], bad, Bounds(300, 500, 400)).tolist()
[0, 0, 1, 1, 1, 1, 1, 1]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import permutations

import numpy as np

from . import _fast
from .feasibility import _greedy_fits
from .graph import Graph
from .solver import Bounds

__all__ = ["fit_small_grids"]

Badness = tuple[int, float]

#: random spanning trees drawn for each group of two grids, and of three
TREES_TWO = 12
TREES_THREE = 4
#: divisions whose small-grid badness is computed, at most, per group of grids
MAX_EVALS = 40
#: rounds over the grids
ROUNDS = 2
#: divisions of a group offered to ``accept``, best first
TOP = 3
#: a division whose grids' summed P²/(4πA) (inverse Polsby–Popper) is more than this share above the
#: grids' now is not taken
SHAPE_SLACK = 0.20


def fit_small_grids(
    ug: Graph,
    labels: np.ndarray,
    n_parts: int,
    cells_of_unit: Sequence[np.ndarray],
    badness: Callable[[np.ndarray], Badness],
    bounds: Bounds,
    *,
    frozen: set[int] | None = None,
    accept: Callable[[dict[int, np.ndarray], dict[int, np.ndarray]], bool] | None = None,
    wanted: Callable[[int, np.ndarray], bool] | None = None,
    seed: int = 0,
    sub_bounds: Bounds | None = None,
    cell_households: np.ndarray | None = None,
) -> np.ndarray:
    """Labels over the units ``ug`` with base grids redrawn, two or three at a time, where the small
    grids of their cells miss less (:class:`~.subgrids.SmallGridBadness` ``badness``).

    A redrawing keeps every grid of the group within ``bounds`` (grids already outside them are not
    taken) and connected; ``frozen`` grids are not taken. ``accept(old, new)``, when given, has the
    last word on a redrawing (``old``/``new``: grid → its units), e.g. no grid wrapped around another
    and the small grids drawn no worse; ``wanted(grid, units)``, when given, whether a grid whose
    badness is not 0 is searched at all (e.g. only where the small grids drawn miss). ``sub_bounds`` (the small-grid bounds) with
    ``cell_households`` let divisions whose grids' households fit no count of small grids be passed
    over without computing their badness."""
    frozen = set(frozen or ())
    labels = np.asarray(labels, dtype=np.int64).copy()
    n = ug.n
    if n == 0 or n_parts < 2:
        return labels
    hs = ug.h.astype(float)
    members = [np.flatnonzero(labels == p) for p in range(n_parts)]
    cell_h = None
    if sub_bounds is not None and cell_households is not None:
        cell_h = np.asarray(cell_households, dtype=float)

    def cells(units: np.ndarray) -> np.ndarray:
        return np.concatenate([cells_of_unit[u] for u in units]) if len(units) else np.zeros(0, np.int64)

    ph = np.array([hs[m].sum() for m in members])
    bad: list[Badness] = [badness(cells(members[p])) if len(members[p]) else (0, 0.0) for p in range(n_parts)]
    nbrs: list[set[int]] = [set() for _ in range(n_parts)]

    def refresh_nbrs() -> None:
        for s in nbrs:
            s.clear()
        la, lb = labels[ug.a], labels[ug.b]
        for x, y in zip(la[la != lb].tolist(), lb[la != lb].tolist()):
            nbrs[x].add(y)
            nbrs[y].add(x)

    refresh_nbrs()
    rng = np.random.default_rng(seed)

    def ok(p: int) -> bool:
        return p not in frozen and len(members[p]) > 0 and bounds.violation(ph[p]) == 0

    failed: set[tuple] = set()
    for _ in range(ROUNDS):
        improved = False
        for A in range(n_parts):
            if bad[A][0] == 0 or not ok(A) or (wanted is not None and not wanted(A, members[A])):
                continue
            groups: list[tuple[int, ...]] = [(A, B) for B in sorted(nbrs[A]) if ok(B)]
            pairs = list(groups)
            for _, B in pairs:
                for C in sorted((nbrs[A] | nbrs[B]) - {A, B}):
                    if ok(C):
                        groups.append(tuple(sorted((A, B, C))))
            seen: set[tuple[int, ...]] = set()
            for grp in groups:
                if grp in seen or bad[A][0] == 0:
                    continue
                seen.add(grp)
                # a group searched in vain is not searched again while its grids are unchanged
                key = tuple((p, members[p].tobytes()) for p in grp)
                if key in failed:
                    continue
                found = _divisions(ug, labels, grp, members, cells, badness, bounds, hs, cell_h, bad, rng, sub_bounds,
                                   cells_of_unit)
                got = next((f for f in found if accept is None or accept({p: members[p] for p in grp}, f[0])), None)
                if got is None:
                    failed.add(key)
                    continue
                new_members, new_bad = got
                for p in grp:
                    members[p] = new_members[p]
                    labels[members[p]] = p
                    ph[p] = hs[members[p]].sum()
                    bad[p] = new_bad[p]
                refresh_nbrs()
                improved = True
        if not improved:
            break
    return labels


def _quick_miss(h: np.ndarray, lo: float, hi: float) -> int:
    """1 when cells of households ``h`` (those over ``hi`` are small grids alone) surely or likely make
    no small grids of ``lo``–``hi``: their households fit no count of small grids, or a greedy grouping
    (:func:`~.feasibility._greedy_fits`) packs them for no count; else 0. Contiguity aside.

    >>> _quick_miss(np.array([220.0, 41.0, 32.0]), 100, 150), _quick_miss(np.array([60.0, 70.0]), 100, 150)
    (1, 0)
    """
    x = h[(h > 0) & (h <= hi)]
    total = float(x.sum())
    if total == 0:
        return 0
    k_lo, k_hi = max(1, math.ceil(total / hi)), math.floor(total / lo)
    if k_lo > k_hi:
        return 1
    big = np.sort(x[x > lo / 10.0])[::-1]
    pool = total - float(big.sum())
    return 0 if any(_greedy_fits(big, pool, kk, lo, hi) for kk in range(k_lo, k_hi + 1)) else 1


def _divisions(ug: Graph, labels: np.ndarray, grp: tuple[int, ...], members: list[np.ndarray],
                   cells: Callable, badness: Callable, bounds: Bounds, hs: np.ndarray, cell_h: np.ndarray | None,
                   bad: list[Badness], rng: np.random.Generator, sub_bounds: Bounds | None,
                   cells_of_unit: Sequence[np.ndarray]):
    """The tree-cut divisions of the grids ``grp`` into as many grids whose badness is lower than now,
    best first (at most :data:`TOP`): each ``(members, badness)`` by grid number."""
    k = len(grp)
    nodes = np.sort(np.concatenate([members[p] for p in grp]))
    m = len(nodes)
    if m < k:
        return []
    loc = np.full(ug.n, -1, dtype=np.int64)
    loc[nodes] = np.arange(m)
    la, lb = loc[ug.a], loc[ug.b]
    keep = (la >= 0) & (lb >= 0)
    ea, eb, elen = la[keep], lb[keep], ug.length[keep]
    h = hs[nodes]
    area, perim = ug.area[nodes], ug.perim[nodes]

    def roundness(lab: np.ndarray) -> float:
        # summed P²/(4πA) of the new grids (the inverse of Polsby–Popper; the compactness polish's measure)
        same = lab[ea] == lab[eb]
        inner = np.bincount(lab[ea][same], weights=elen[same], minlength=k)
        a_k = np.bincount(lab, weights=area, minlength=k)
        p_k = np.bincount(lab, weights=perim, minlength=k) - 2 * inner
        return float(np.sum(p_k**2 / (4 * math.pi * np.maximum(a_k, 1e-9))))

    total = float(h.sum())
    cur = (sum(bad[p][0] for p in grp), round(sum(bad[p][1] for p in grp), 6))
    old_lab = labels[nodes]
    lo, hi = bounds.lo, bounds.hi
    if not (k * lo <= total <= k * hi):
        return []
    trees = TREES_TWO if k == 2 else TREES_THREE
    cands: dict[bytes, np.ndarray] = {}
    for _ in range(trees):
        w = rng.random(len(ea)) + 1e-3
        for lab in _tree_cuts(m, ea, eb, w, h, k, lo, hi):
            canon = _canonical(lab, k)
            cands.setdefault(canon.tobytes(), canon)
    if not cands:
        return []
    # cheapest first: the grids that a quick test finds unable to make small grids at all (households
    # that fit no count of small grids, or sizes that a greedy grouping cannot pack), then the most
    # compact; the exact count is computed only where the quick test leaves a gain possible
    order = []
    ch = cell_h if cell_h is not None else None
    if ch is not None:
        # the cells' households of every unit of the group, in unit order: a piece's are those of its units,
        # in the order ``cells`` gives them
        flat_h = ch[cells(nodes)]
        unit_of_flat = np.repeat(np.arange(m), [len(cells_of_unit[u]) for u in nodes.tolist()])
    index_of = {p: i for i, p in enumerate(grp)}  # grp is (A, B) with B < A too: not sorted
    old_index = np.array([index_of[int(x)] for x in old_lab], dtype=np.int64)
    limit = roundness(old_index) * (1 + SHAPE_SLACK)
    for key, lab in cands.items():
        shape = roundness(lab)
        if shape > limit:  # grids much less compact than now: not worth a small grid in range
            continue
        quick = 0
        if ch is not None:
            piece = lab[unit_of_flat]
            quick = sum(_quick_miss(flat_h[piece == j], sub_bounds.lo, sub_bounds.hi) for j in range(k))
        if quick >= cur[0]:
            continue
        order.append((quick, shape, key))
    order.sort()
    found = []
    for _, shape, key in order[:MAX_EVALS]:
        if len(found) >= TOP:
            break
        lab = cands[key]
        bs = [badness(cells(nodes[lab == j])) for j in range(k)]
        tot = (sum(b[0] for b in bs), round(sum(b[1] for b in bs), 6))
        if tot < cur:
            found.append(((tot, shape, key), lab, bs))
    # the lowest badness, then the most compact grids
    found.sort(key=lambda f: f[0])
    out = []
    for _, lab, bs in found[:TOP]:
        # each new grid takes the number of the old grid it shares most households with
        overlap = np.zeros((k, k))
        for j in range(k):
            for i, p in enumerate(grp):
                overlap[j, i] = h[(lab == j) & (old_lab == p)].sum() + 1e-6 * ((lab == j) & (old_lab == p)).sum()
        perm = max(permutations(range(k)), key=lambda pr: (sum(overlap[j, pr[j]] for j in range(k)), [-x for x in pr]))
        out.append(({grp[perm[j]]: nodes[lab == j] for j in range(k)}, {grp[perm[j]]: bs[j] for j in range(k)}))
    return out


def _canonical(lab: np.ndarray, k: int) -> np.ndarray:
    """Piece labels renumbered in order of first appearance (one key per division)."""
    out = np.empty_like(lab)
    order = {}
    for j in lab.tolist():
        if j not in order:
            order[j] = len(order)
            if len(order) == k:
                break
    mapping = np.array([order[j] for j in range(k)], dtype=np.int64)
    out[:] = mapping[lab]
    return out


def _tree_cuts(n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray, h: np.ndarray, k: int,
               lo: float, hi: float) -> list[np.ndarray]:
    """Divisions of nodes ``0..n-1`` into ``k`` (2 or 3) pieces within ``lo``–``hi`` households, each
    made by cutting ``k - 1`` edges of the minimum spanning tree of weights ``w`` (labels over nodes)."""
    if n < k:
        return []
    hf = h.astype(float)
    if _fast.compiled() and n > 1 and np.array_equal(hf, np.round(hf)):
        # the same tree from the compiled Kruskal (the edges Kruskal takes depend only on their order),
        # another preorder; a cut's pieces are subtrees, the same sets whatever the preorder, and the
        # subtree sums of whole households are exact in any order
        got = _fast.tree_of(n, np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64),
                            np.argsort(w, kind="stable"))
        if got is None:
            return []  # not connected
        order, _par, size = got[0], got[1], got[2]
        tin = np.empty(n, dtype=np.int64)
        tin[order] = np.arange(n)
        tout = tin + size
        cs = np.concatenate([[0.0], np.cumsum(hf[order])])
        return _cuts(order, tin, tout, cs[tout] - cs[tin], k, lo, hi)
    return _tree_cuts_python(n, a, b, w, h, k, lo, hi)


def _tree_cuts_python(n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray, h: np.ndarray, k: int,
                      lo: float, hi: float) -> list[np.ndarray]:
    """:func:`_tree_cuts` without numba: Kruskal's minimum spanning tree (union-find), then one
    depth-first pass from node 0."""
    up = list(range(n))

    def root(x: int) -> int:
        while up[x] != x:
            up[x] = up[up[x]]
            x = up[x]
        return x

    tree_adj: list[list[int]] = [[] for _ in range(n)]
    joined = 0
    al, bl = a.tolist(), b.tolist()
    for e in np.argsort(w, kind="stable").tolist():
        x, y = root(al[e]), root(bl[e])
        if x != y:
            up[x] = y
            tree_adj[al[e]].append(bl[e])
            tree_adj[bl[e]].append(al[e])
            joined += 1
            if joined == n - 1:
                break
    if joined != n - 1:
        return []  # not connected
    hl = h.astype(float).tolist()
    sub_l = [0.0] * n
    tin_l = [0] * n
    tout_l = [0] * n
    pre: list[int] = []
    parent = [-1] * n
    stack = [(0, False)]
    while stack:
        v, done = stack.pop()
        if done:
            tout_l[v] = len(pre)
            sub_l[v] += hl[v]
            if parent[v] >= 0:
                sub_l[parent[v]] += sub_l[v]
            continue
        tin_l[v] = len(pre)
        pre.append(v)
        stack.append((v, True))
        for c in tree_adj[v]:
            if c != parent[v]:
                parent[c] = v
                stack.append((c, False))
    return _cuts(np.array(pre, dtype=np.int64), np.array(tin_l, dtype=np.int64), np.array(tout_l, dtype=np.int64),
                 np.array(sub_l), k, lo, hi)


def _cuts(order: np.ndarray, tin: np.ndarray, tout: np.ndarray, sub: np.ndarray, k: int, lo: float,
          hi: float) -> list[np.ndarray]:
    """The cuts of :func:`_tree_cuts` from a spanning tree rooted at node 0: its preorder ``order``,
    each node's preorder span ``tin``..``tout`` and subtree households ``sub``."""
    n = len(order)
    total = sub[0]
    nonroot = order[1:]
    out: list[np.ndarray] = []

    def inside(v: int) -> np.ndarray:
        return (tin >= tin[v]) & (tin < tout[v])

    if k == 2:
        s = sub[nonroot]
        ok = (s >= lo) & (s <= hi) & (total - s >= lo) & (total - s <= hi)
        for v in nonroot[ok].tolist():
            out.append(inside(v).astype(np.int64))
        return out
    # k == 3: two cut edges (the child ends v1 < v2)
    v1, v2 = np.triu_indices(len(nonroot), 1)
    v1, v2 = nonroot[v1], nonroot[v2]
    s1, s2 = sub[v1], sub[v2]
    anc12 = (tin[v1] <= tin[v2]) & (tin[v2] < tout[v1])
    anc21 = (tin[v2] <= tin[v1]) & (tin[v1] < tout[v2])
    p1 = np.where(anc12, s2, np.where(anc21, s1, s1))
    p2 = np.where(anc12, s1 - s2, np.where(anc21, s2 - s1, s2))
    p3 = np.where(anc12, total - s1, np.where(anc21, total - s2, total - s1 - s2))
    ok = (p1 >= lo) & (p1 <= hi) & (p2 >= lo) & (p2 <= hi) & (p3 >= lo) & (p3 <= hi)
    for x, y in zip(v1[ok].tolist(), v2[ok].tolist()):
        ix, iy = inside(x), inside(y)
        lab = np.full(n, 2, dtype=np.int64)
        if ix[y]:  # y below x
            lab[ix] = 1
            lab[iy] = 0
        elif iy[x]:
            lab[iy] = 1
            lab[ix] = 0
        else:
            lab[ix] = 0
            lab[iy] = 1
        out.append(lab)
    return out
