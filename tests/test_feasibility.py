"""Whether households can be divided into grids within bounds at all (gridgeo.partition.feasibility)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gridgeo.partition.feasibility import packable


def brute_force(h: list[int], lo: int, hi: int) -> bool:
    """Every assignment of buildings to groups (small cases only), buildings over ``hi`` left out."""
    h = [x for x in h if 0 < x <= hi]
    if not h:
        return True
    total = sum(h)
    for k in range(max(1, -(-total // hi)), total // lo + 1):
        for labels in itertools.product(range(k), repeat=len(h)):
            sums = np.bincount(labels, weights=h, minlength=k)
            if ((sums >= lo) & (sums <= hi)).all():
                return True
    return False


def test_towers_of_eighty_to_ninety_nine_households():
    assert not packable(np.array([96, 93, 93, 87, 78]), 100, 150)
    assert not packable(np.array([116, 100, 100, 92]), 100, 150)
    assert packable(np.array([120, 112, 112, 92, 6, 4, 4]), 100, 150)  # 92 + 6 + 4 + 4 = 106


def test_under_the_floor_and_empty():
    assert not packable(np.array([40, 30]), 100, 150)
    assert packable(np.array([], dtype=float), 100, 150)
    assert packable(np.array([528]), 100, 150)  # a building over the ceiling is its own grid


def test_count_gap_between_bounds():
    # 520 households in buildings of 10: 1 grid is too many (>500), 2 too few (<600)
    assert not packable(np.full(52, 10), 300, 500)
    assert packable(np.full(60, 10), 300, 500)


@settings(max_examples=60, deadline=None)
@given(h=st.lists(st.integers(11, 160), min_size=1, max_size=6))
def test_agrees_with_brute_force_on_whole_buildings(h):
    # buildings over lo/10 are assigned whole, so with all of them over 10 the programme is exact
    assert packable(np.array(h), 100, 150) == brute_force(h, 100, 150)


@settings(max_examples=40, deadline=None)
@given(h=st.lists(st.integers(1, 160), min_size=1, max_size=7))
def test_a_refusal_is_a_proof(h):
    # with small buildings pooled the answer may be optimistic, never pessimistic
    if not packable(np.array(h), 100, 150):
        assert not brute_force(h, 100, 150)


def test_quick_witness_for_every_count_comes_before_any_programme(monkeypatch):
    # 800 buildings: the greedy witness fails at the fewest grids but holds at a few more; the answer
    # must come from it, without building a programme of 800 x 120 binaries
    import scipy.optimize

    def no_milp(*_a, **_k):
        raise AssertionError("integer programme built although a greedy witness exists")

    monkeypatch.setattr(scipy.optimize, "milp", no_milp)
    h = np.random.default_rng(2).integers(31, 121, 800).astype(float)
    assert packable(h, 300, 500)


def test_an_answer_cut_short_by_the_clock_is_not_kept():
    # out of time, the answer is True (never excuse without a proof) but says nothing about the data: the
    # cache (keyed on the households, bounds and node limit, not the time limit) must not keep it, or a
    # later call with time to spare would get it instead of the proof
    from gridgeo.partition import feasibility

    h = np.array([97, 93, 91, 87, 78])  # no greedy witness: only the programme proves it
    feasibility._PACKABLE.clear()
    assert packable(h, 100, 150, time_limit_s=0.0)
    assert not feasibility._PACKABLE.data
    assert not packable(h, 100, 150)  # proven: kept, and the same when asked again
    assert len(feasibility._PACKABLE.data) == 1
    assert not packable(h, 100, 150) and feasibility._PACKABLE.hits == 1


@settings(max_examples=80, deadline=None)
@given(h=st.lists(st.integers(1, 160), min_size=1, max_size=14), lo=st.sampled_from([100, 50, 300]))
def test_exact_search_answers_as_the_integer_programme(h, lo):
    # the search decides first; with no steps the programme decides alone: both answer alike
    from gridgeo.partition import _memo, feasibility

    hi = lo * 3 // 2 if lo != 300 else 500
    with _memo.disabled():
        searched = packable(np.array(h), lo, hi)
        old = feasibility.SEARCH_STEPS
        feasibility.SEARCH_STEPS = 0
        try:
            programme = packable(np.array(h), lo, hi)
        finally:
            feasibility.SEARCH_STEPS = old
    assert searched == programme


def test_exact_search_proves_without_the_programme(monkeypatch):
    # towers of 78-99 households: the search proves it, no programme is built
    import scipy.optimize

    from gridgeo.partition import _memo

    def no_milp(*_a, **_k):
        raise AssertionError("integer programme built although the search decides")

    monkeypatch.setattr(scipy.optimize, "milp", no_milp)
    with _memo.disabled():
        assert not packable(np.array([97, 93, 91, 87, 78]), 100, 150)
        assert not packable(np.array([96, 93, 93, 87, 78, 10, 10]), 100, 150)
        # the greedy grouping fails (121 + 41, ...) but 121 | 89 + 45 | 61 + 59 + ... fits: 121, 89+61, 59+45+41
        assert packable(np.array([121, 89, 61, 59, 45, 41]), 100, 150)


@settings(max_examples=200, deadline=None)
@given(big=st.lists(st.integers(1, 200), max_size=20), pool=st.integers(0, 300), k=st.integers(1, 7),
       bounds=st.sampled_from([(100, 150), (300, 500), (50, 75)]))
def test_greedy_witness_puts_each_building_in_the_lightest_group(big, pool, k, bounds):
    # the reference: np.argmin (the lowest group among equal sums), buildings largest first
    from gridgeo.partition.feasibility import _greedy_fits

    lo, hi = bounds
    b = np.sort(np.array(big, dtype=float))[::-1]
    sums = np.zeros(k)
    for x in b:
        sums[int(np.argmin(sums))] += x
    want = bool(sums.max() <= hi and np.maximum(lo - sums, 0).sum() <= pool <= (hi - sums).sum())
    assert _greedy_fits(b, float(pool), k, lo, hi) == want


def set_partitions(n: int):
    """Every division of ``range(n)`` into non-empty blocks, as block labels (restricted growth strings)."""
    labels = [0] * n

    def grow(i: int, blocks: int):
        if i == n:
            yield list(labels), blocks
            return
        for b in range(blocks + 1):
            labels[i] = b
            yield from grow(i + 1, max(blocks, b + 1))

    yield from grow(0, 0)


def brute_search(big: list[int], pool: int, k: int, lo: int, hi: int) -> bool:
    """The question of ``_search`` by every division of the buildings: at most ``k`` non-empty grids of
    at most ``hi``, the rest empty, the pool topping every one of the ``k`` up to ``lo``."""
    if not big:
        return k * lo <= pool
    for labels, blocks in set_partitions(len(big)):
        if blocks > k:
            continue
        sums = np.bincount(labels, weights=big, minlength=k)
        if sums.max() <= hi and np.maximum(lo - sums, 0).sum() <= pool:
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(big=st.lists(st.integers(1, 500), max_size=8), pool=st.integers(0, 400), k=st.integers(1, 6),
       bounds=st.sampled_from([(300, 500), (100, 150), (200, 220)]))
def test_exact_search_agrees_with_every_division(big, pool, k, bounds):
    # the search's bounds (shortfall, count of buildings) only cut branches that cannot succeed: with
    # steps to spare its answer is the brute force's, never False where a division exists
    from gridgeo.partition.feasibility import _search

    lo, hi = bounds
    big = sorted((x for x in big if x <= hi), reverse=True)
    found = _search([float(x) for x in big], float(pool), k, float(lo), float(hi), 10**6)
    assert found == brute_search(big, pool, k, lo, hi)


@settings(max_examples=150, deadline=None)
@given(h=st.lists(st.integers(150, 520), min_size=1, max_size=9))
def test_agrees_with_every_division_on_units_of_half_a_grid_and_more(h):
    # units of 150-500 households, grids of 300-500: each grid takes one to three units, the counts
    # the search's count bound reasons on
    from gridgeo.partition import _memo

    want = False
    units = [x for x in h if x <= 500]
    for labels, blocks in set_partitions(len(units)):
        sums = np.bincount(labels, weights=units, minlength=blocks)
        if ((sums >= 300) & (sums <= 500)).all():
            want = True
            break
    with _memo.disabled():
        assert packable(np.array(h), 300, 500) == (want or not units)


def test_units_that_must_pair_off_and_are_odd_in_number_are_proven(monkeypatch):
    # the shape of 青山区's community 420107012001 (synthetic numbers): 13 units of 310-400 households and
    # 17 of 200-290, grids of 300-500. A large unit with any other is over 500, two small ones 400-580 and
    # three 600 or more: each large unit alone, the small ones in pairs, and 17 is odd. No division fits;
    # the search proves it for every count of grids (18-29), without the integer programme
    import scipy.optimize

    from gridgeo.partition import _memo, feasibility

    def no_milp(*_a, **_k):
        raise AssertionError("integer programme built although the search decides")

    monkeypatch.setattr(scipy.optimize, "milp", no_milp)
    big = np.r_[np.linspace(310, 400, 13).round(), np.linspace(200, 290, 17).round()]
    total = big.sum()
    for k in range(int(np.ceil(total / 500)), int(total // 300) + 1):
        assert feasibility._search(sorted(big.tolist(), reverse=True), 0.0, k, 300.0, 500.0,
                                   feasibility.SEARCH_STEPS) is False
    with _memo.disabled():
        assert not packable(big, 300, 500)
        # one small unit more (18, even): they pair off, and a division exists
        assert packable(np.r_[big, 250.0], 300, 500)
