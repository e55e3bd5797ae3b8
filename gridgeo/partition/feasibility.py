"""Whether households can be divided into grids within bounds at all (contiguity aside).

Used to tell a plan that *cannot* meet the bounds (towers of 78–96 households make no small grid of
100–150) from one the solver merely did not reach: the first is flagged and excused in the quality
figures, the second counts against the plan.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["packable"]


def packable(h: np.ndarray, lo: float, hi: float, *, time_limit_s: float = 2.0) -> bool:
    """Whether buildings of households ``h`` can be grouped into grids of ``lo``–``hi`` households.

    Contiguity is ignored and a building over ``hi`` is left out (it is its own, exempt, grid), so a
    False answer is a proof that no plan meets the bounds, while True may still be unreachable for
    contiguity reasons. Buildings of at most ``lo / 10`` households are pooled and may be shared out
    in any amounts (a relaxation that keeps the proof valid); the larger ones are assigned whole, by a
    small mixed-integer programme (HiGHS through :func:`scipy.optimize.milp`). When the solver runs
    out of time the answer is True: a container is never excused without a proof.

    >>> packable(np.array([96, 93, 93, 87, 78]), 100, 150)
    False
    >>> packable(np.array([96, 93, 93, 87, 78, 10, 10]), 100, 150)  # 4 groups need 2 towers in one
    False
    >>> packable(np.array([96, 93, 93, 87, 78] + [5] * 25), 100, 150)
    True
    >>> packable(np.array([120, 5, 4]), 100, 150)
    True
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    h = np.asarray(h, dtype=float)
    h = h[(h > 0) & (h <= hi)]
    total = float(h.sum())
    if total < lo:
        return total == 0
    big = np.sort(h[h > lo / 10.0])[::-1]
    pool = total - float(big.sum())
    k_lo, k_hi = max(1, math.ceil(total / hi)), math.floor(total / lo)
    for k in range(k_lo, k_hi + 1):
        nb = len(big)
        if nb == 0 or _greedy_fits(big, pool, k, lo, hi):
            return True
        nvar = nb * k + k  # x[i, g] row-major, then the pool share s[g]
        rows, lbs, ubs = [], [], []
        for i in range(nb):  # each big building in exactly one grid
            r = np.zeros(nvar)
            r[i * k:(i + 1) * k] = 1
            rows.append(r), lbs.append(1), ubs.append(1)
        for g in range(k):  # lo <= households of grid g <= hi
            r = np.zeros(nvar)
            r[np.arange(nb) * k + g] = big
            r[nb * k + g] = 1
            rows.append(r), lbs.append(lo), ubs.append(hi)
        r = np.zeros(nvar)
        r[nb * k:] = 1
        rows.append(r), lbs.append(pool), ubs.append(pool)
        for g in range(k - 1):  # symmetry: grid sizes in descending order
            r = np.zeros(nvar)
            r[np.arange(nb) * k + g] = big
            r[np.arange(nb) * k + g + 1] = -big
            r[nb * k + g], r[nb * k + g + 1] = 1, -1
            rows.append(r), lbs.append(0), ubs.append(np.inf)
        integrality = np.r_[np.ones(nb * k), np.zeros(k)]
        upper = np.r_[np.ones(nb * k), np.full(k, pool)]
        res = milp(np.zeros(nvar), constraints=LinearConstraint(np.array(rows), lbs, ubs),
                   integrality=integrality, bounds=Bounds(np.zeros(nvar), upper),
                   options={"time_limit": time_limit_s})
        if res.status != 2:  # 2: proven infeasible; anything else (solved, time limit) counts as fit
            return True
    return False


def _greedy_fits(big: np.ndarray, pool: float, k: int, lo: float, hi: float) -> bool:
    """A quick sufficient test: big buildings (sorted, largest first) each to the lightest of ``k``
    groups, then the pool tops every group up to ``lo`` and spreads what is left under ``hi``.

    >>> _greedy_fits(np.array([120.0, 112.0, 112.0, 92.0]), 14.0, 4, 100, 150)
    True
    >>> _greedy_fits(np.array([96.0, 93.0, 93.0, 87.0, 78.0]), 0.0, 4, 100, 150)
    False
    """
    sums = np.zeros(k)
    for x in big:
        sums[int(np.argmin(sums))] += x
    if sums.max() > hi:
        return False
    need = float(np.maximum(lo - sums, 0).sum())
    room = float((hi - sums).sum())
    return need <= pool <= room

