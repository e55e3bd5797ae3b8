"""Whether households can be divided into grids within bounds at all (contiguity aside).

Used to tell a plan that *cannot* meet the bounds (towers of 78–96 households make no small grid of
100–150) from one the solver merely did not reach: the first is flagged and excused in the quality
figures, the second counts against the plan.
"""

from __future__ import annotations

import bisect
import heapq
import math

import numpy as np

from ._memo import BoundedCache

__all__ = ["packable", "divisible"]

#: above this many building-to-grid variables no proof is attempted (the answer is True, unproven)
_MAX_BINARIES = 20_000


#: steps of the exact search (:func:`_search`) for one count of grids; past them the integer programme decides
SEARCH_STEPS = 5_000


#: branch-and-bound nodes each integer programme may use: the answer depends on the data only, never on
#: the machine's speed or load (the partition, ``validate`` and the report must agree on every machine)
NODE_LIMIT = 200


def packable(h: np.ndarray, lo: float, hi: float, *, time_limit_s: float = 30.0, node_limit: int = NODE_LIMIT) -> bool:
    """Whether buildings of households ``h`` can be grouped into grids of ``lo``–``hi`` households.

    Contiguity is ignored and a building over ``hi`` is left out (it is its own, exempt, grid), so a
    False answer is a proof that no plan meets the bounds, while True may still be unreachable for
    contiguity reasons. Buildings of at most ``lo / 10`` households are pooled and may be shared out
    in any amounts (a relaxation that keeps the proof valid); the larger ones are assigned whole, by a
    small exact search (:func:`_search`: whole households, at most :data:`SEARCH_STEPS` steps per count
    of grids) or, where it does not finish, a small mixed-integer programme (HiGHS through
    :func:`scipy.optimize.milp`). When a programme reaches ``node_limit`` branch-and-bound nodes without
    a proof, or would be too large, the answer is True: a container is never excused without a proof.
    Step and node limits, not the clock, bound the work, so the answer is the same on every machine;
    ``time_limit_s`` is only a guard for the whole call.

    >>> packable(np.array([96, 93, 93, 87, 78]), 100, 150)
    False
    >>> packable(np.array([96, 93, 93, 87, 78, 10, 10]), 100, 150)  # 4 groups need 2 towers in one
    False
    >>> packable(np.array([96, 93, 93, 87, 78] + [5] * 25), 100, 150)
    True
    >>> packable(np.array([120, 5, 4]), 100, 150)
    True
    """
    h = np.asarray(h, dtype=float)
    h = h[(h > 0) & (h <= hi)]
    # a pure function of the households (the node limit, not the clock, bounds the work): asked again,
    # the answer comes from the cache. An answer the time guard cut short depends on the clock (and on
    # ``time_limit_s``, not in the key): never kept, so a later call with time to spare proves it
    key = (h.tobytes(), float(lo), float(hi), node_limit)
    hit = _PACKABLE.get(key)
    if hit is None:
        answer, timed_out = _packable(h, lo, hi, time_limit_s, node_limit)
        hit = (answer,)
        if not timed_out:
            _PACKABLE.put(key, hit)
    return hit[0]


_PACKABLE = BoundedCache()


def _packable(h: np.ndarray, lo: float, hi: float, time_limit_s: float, node_limit: int) -> tuple[bool, bool]:
    """:func:`packable` of households ``h`` (each in ``(0, hi]``), and whether the time guard cut it short
    (the answer is then True, unproven, because the clock ran out)."""
    import time

    total = float(h.sum())
    if total < lo:
        return total == 0, False
    big = np.sort(h[h > lo / 10.0])[::-1]
    pool = max(0.0, total - float(big.sum()))
    k_lo, k_hi = max(1, math.ceil(total / hi)), math.floor(total / lo)
    ks = range(k_lo, k_hi + 1)
    if not ks:  # no count of grids fits the total (e.g. 520 households, 300–500)
        return False, False
    nb = len(big)
    if nb == 0:
        return True, False
    deadline = time.monotonic() + time_limit_s
    # the quick witness for every count before any programme: the programme is the slow part
    for k in ks:
        if _greedy_fits(big, pool, k, lo, hi):
            return True, False
    # whole households: the exact search decides a count within its steps (a tenth of the programme's
    # time on the sample town's towers); the programme only where it does not finish
    whole = bool(np.all(big == np.round(big))) and pool == round(pool)
    for k in ks:
        left = deadline - time.monotonic()
        if left <= 0:
            return True, True  # out of time: never excuse without a proof
        found = _search(big.tolist(), pool, k, float(lo), float(hi), SEARCH_STEPS) if whole else None
        if found is not None:
            if found:
                return True, False
            continue  # proven: no division into k grids
        if nb * k > _MAX_BINARIES:
            return True, False  # too large to prove: never excuse without a proof
        # imported here: most calls never need the programme (importing scipy.optimize takes ~0.13 s)
        from scipy.optimize import Bounds, LinearConstraint, milp
        from scipy.sparse import coo_matrix

        nvar = nb * k + k  # x[i, g] row-major, then the pool share s[g]
        ii, gg = np.divmod(np.arange(nb * k), k)
        s_col = nb * k + np.arange(k)
        x_col = ii * k + gg
        parts = [  # (row, column, value) triplets of the constraint matrix
            (ii, x_col, np.ones(nb * k)),  # rows 0..nb-1: each big building in exactly one grid
            (nb + gg, x_col, big[ii]),  # rows nb..nb+k-1: lo <= households of grid g <= hi
            (nb + np.arange(k), s_col, np.ones(k)),
            (np.full(k, nb + k), s_col, np.ones(k)),  # row nb+k: the pool is shared out whole
        ]
        if k > 1:  # rows nb+k+1..nb+2k-1: symmetry, grid sizes in descending order
            first = gg < k - 1
            r0 = nb + k + 1 + gg[first]
            rs = nb + k + 1 + np.arange(k - 1)
            parts += [(r0, x_col[first], big[ii][first]), (r0, x_col[first] + 1, -big[ii][first]),
                      (rs, s_col[:-1], np.ones(k - 1)), (rs, s_col[1:], -np.ones(k - 1))]
        rows, cols, vals = (np.concatenate(c) for c in zip(*parts))
        nrow = nb + 2 * k
        a = coo_matrix((vals, (rows, cols)), shape=(nrow, nvar)).tocsr()
        lbs = np.r_[np.ones(nb), np.full(k, float(lo)), pool, np.zeros(k - 1)]
        ubs = np.r_[np.ones(nb), np.full(k, float(hi)), pool, np.full(k - 1, np.inf)]
        integrality = np.r_[np.ones(nb * k), np.zeros(k)]
        upper = np.r_[np.ones(nb * k), np.full(k, pool)]
        res = milp(np.zeros(nvar), constraints=LinearConstraint(a, lbs, ubs),
                   integrality=integrality, bounds=Bounds(np.zeros(nvar), upper),
                   options={"time_limit": left, "node_limit": node_limit})
        if res.status != 2:  # 2: proven infeasible; anything else (solved, node or time limit) counts as fit
            # HiGHS's clock starts after ``left`` was measured: past the deadline, the time limit stopped it
            return True, res.status != 0 and time.monotonic() >= deadline
    return False, False


def _search(big: list[float], pool: float, k: int, lo: float, hi: float, steps: int) -> bool | None:
    """Whether buildings ``big`` (whole households, largest first) go into ``k`` grids of at most ``hi``
    such that the pool (shared out in any amounts) tops every grid up to ``lo``: the question of the
    integer programme of :func:`_packable`, decided exactly by a depth-first search (buildings in
    order, each into a grid of distinct sum, fully explored states remembered), or None when it passes
    ``steps`` steps. The pool's upper side needs no search: ``k`` grids of at most ``hi`` take it
    whenever the total is at most ``k * hi``, which the counts of :func:`_packable` ensure.

    Two bounds cut a branch that cannot succeed: the shortfall under the floor (each household still to
    place fills at most one), and the count of buildings (:func:`_count_bound`): each grid needs at
    least as many of the buildings still to place as its largest ones take to reach the floor, and
    takes at most as many as its smallest ones fit under the ceiling. The second proves at once what a
    search of every grouping would need millions of steps for, e.g. 13 units of 310–400 households and
    17 of 200–290 in grids of 300–500 (each large unit alone, the small ones in pairs: 17 is odd).

    >>> _search([96.0, 93.0, 93.0, 87.0, 78.0], 0.0, 4, 100, 150, 1000)
    False
    >>> _search([120.0, 112.0, 112.0, 92.0], 14.0, 4, 100, 150, 1000)
    True
    >>> _search([120.0, 112.0, 112.0, 92.0], 14.0, 4, 100, 150, 1) is None
    True
    """
    n = len(big)
    rest = [0.0] * (n + 1)
    for i in range(n - 1, -1, -1):
        rest[i] = rest[i + 1] + big[i]
    head = [rest[0] - r for r in rest]  # head[i]: the first i buildings (the largest)
    tail = [-r for r in rest]  # ascending, for bisect
    dead: set[tuple] = set()
    count = [0]

    class _Over(Exception):
        pass

    def fits(i: int, sums: tuple[float, ...]) -> bool:
        count[0] += 1
        if count[0] > steps:
            raise _Over
        # each household still to place lowers the shortfall under the floor by at most one
        if sum(lo - s for s in sums if s < lo) - rest[i] > pool:
            return False
        if i == n:
            return True
        if (i, sums) in dead:
            return False
        if not _count_bound(sums, i, head, tail, pool, lo, hi):
            dead.add((i, sums))
            return False
        x = big[i]
        last = None
        for j, s in enumerate(sums):  # sums in descending order: equal sums are one choice
            if s == last:
                continue
            last = s
            if s + x > hi:
                continue
            if fits(i + 1, tuple(sorted(sums[:j] + (s + x,) + sums[j + 1:], reverse=True))):
                return True
        dead.add((i, sums))
        return False

    try:
        return fits(0, (0.0,) * k)
    except (_Over, RecursionError):
        return None


def _count_bound(sums: tuple[float, ...], i: int, head: list[float], tail: list[float], pool: float,
                 lo: float, hi: float) -> bool:
    """Whether the buildings from ``i`` on (largest first) can be as many as grids of these ``sums``
    need and take: False is a proof that no placement of them completes the grids. ``head[j]`` is the
    sum of the first ``j`` buildings, ``tail[j]`` minus the sum of those from ``j`` on (ascending).

    A grid of sum ``s`` needs at least the fewest of them that reach ``lo`` with the whole pool (its
    largest ones: any fewer stay under), and takes at most the most of them that stay under ``hi`` (its
    smallest ones: any more go over); every building goes to exactly one grid.

    >>> head, tail = [0.0, 290.0, 520.0, 730.0], [-730.0, -440.0, -210.0, 0.0]  # buildings 290, 230, 210
    >>> _count_bound((0.0, 0.0), 0, head, tail, 0.0, 300, 500)  # two grids of 300-500 need two each
    False
    >>> _count_bound((290.0, 0.0), 1, head, tail, 0.0, 300, 500)  # 290 | 230 + 210: too few for both
    False
    >>> _count_bound((0.0,), 1, head, tail, 0.0, 300, 500)  # 230 + 210 in one grid
    True
    """
    n = len(head) - 1
    need = take = 0
    last = None
    for s in sums:  # in descending order: equal sums give equal counts
        if s != last:
            last = s
            gap = lo - s - pool
            # the fewest: the first m with head[i + m] - head[i] >= gap (n + 1 - i, too many, when none)
            fewest = 0 if gap <= 0 else bisect.bisect_left(head, head[i] + gap, i, n + 1) - i
            # the most: n - j for the first j >= i whose buildings from j on fit in the room
            most = n - bisect.bisect_left(tail, s - hi, i, n + 1)
        need += fewest
        take += most
    return need <= n - i <= take


def _greedy_fits(big: np.ndarray, pool: float, k: int, lo: float, hi: float) -> bool:
    """A quick sufficient test: big buildings (sorted, largest first) each to the lightest of ``k``
    groups, then the pool tops every group up to ``lo`` and spreads what is left under ``hi``.

    >>> _greedy_fits(np.array([120.0, 112.0, 112.0, 92.0]), 14.0, 4, 100, 150)
    True
    >>> _greedy_fits(np.array([96.0, 93.0, 93.0, 87.0, 78.0]), 0.0, 4, 100, 150)
    False
    """
    # the lightest group by a heap of (sum, group): ties to the lowest group, as np.argmin; each group's
    # sum adds the same buildings in the same order
    heap = [(0.0, g) for g in range(k)]
    for x in big.tolist():
        s, g = heap[0]
        heapq.heapreplace(heap, (s + x, g))
    sums = np.zeros(k)
    for s, g in heap:
        sums[g] = s
    if sums.max() > hi:
        return False
    need = float(np.maximum(lo - sums, 0).sum())
    room = float((hi - sums).sum())
    return need <= pool <= room



def divisible(unit_households: np.ndarray, lo: float, hi: float) -> bool:
    """Whether footprint units of these households admit any division into groups of ``lo``–``hi``
    (contiguity aside; units over ``hi`` are groups of their own, exempt): the one test of "no division
    fits" used by the partition's findings, ``validate`` and the quality report.

    >>> divisible(np.array([96, 93, 93, 87]), 100, 150), divisible(np.array([60, 50]), 100, 150)
    (False, True)
    >>> divisible(np.array([40]), 100, 150)  # under the floor: no division fits
    False
    """
    h = np.asarray(unit_households, dtype=float)
    return float(np.nansum(h)) >= lo and packable(h, lo, hi)
