"""The compiled kernels (gridgeo.partition._fast) and the caches (gridgeo.partition._memo) change no result."""

import numpy as np
import pytest

from gridgeo.partition import _fast, _memo
from gridgeo.partition.feasibility import packable
from gridgeo.partition.graph import Graph
from gridgeo.partition.solver import Bounds, _lca, _sizes_depths, _spanning_tree, partition_graph


def _random_graph(rng, n):
    a, b = list(range(n - 1)), list(range(1, n))
    for _ in range(int(rng.integers(0, 3 * n))):
        x, y = rng.integers(0, n, 2)
        if x != y:
            a.append(min(x, y))
            b.append(max(x, y))
    return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_tree_equals_python():
    rng = np.random.default_rng(7)
    for trial in range(200):
        n = int(rng.integers(1, 200))
        ea, eb = _random_graph(rng, n)
        # random weights, and weights with many ties (the stable order decides)
        w = rng.random(len(ea)) if trial % 2 else rng.integers(0, 3, len(ea)).astype(float)
        pre, pred = _spanning_tree(n, ea, eb, w)
        size, depth = _sizes_depths(pre, pred)
        lca = _lca(ea, eb, pred, depth, pre[0])
        got = _fast.tree_of(n, ea, eb, np.argsort(w, kind="stable"))
        for want, have in zip((pre, pred, size, depth, lca), got, strict=True):
            assert np.array_equal(want, have)


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_tree_disconnected():
    ea, eb = np.array([0, 2], dtype=np.int64), np.array([1, 3], dtype=np.int64)
    assert _fast.tree_of(4, ea, eb, np.array([0, 1])) is None
    assert _spanning_tree(4, ea, eb, np.ones(2)) is None


def _lattice(nx, ny, rng):
    n = nx * ny
    idx = np.arange(n).reshape(ny, nx)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    m = len(a)
    return Graph(h=rng.integers(0, 120, n), area=np.full(n, 100.0), perim=np.full(n, 40.0),
                 x=(idx % nx).ravel().astype(float), y=(idx // nx).ravel().astype(float), a=a, b=b,
                 length=np.full(m, 10.0), art=np.where(rng.random(m) < 0.1, 10.0, 0.0),
                 nostreet=np.where(rng.random(m) < 0.3, 10.0, 0.0))


def test_cached_divisions_equal_fresh_ones():
    rng = np.random.default_rng(3)
    for seed in range(4):
        g = _lattice(9, 7, rng)
        with _memo.disabled():
            fresh = partition_graph(g, Bounds(300, 500, 400), seed=seed)
        _memo.clear_all()
        first = partition_graph(g, Bounds(300, 500, 400), seed=seed)
        first.labels[:] = -5  # a caller changing its copy changes nothing cached
        again = partition_graph(g, Bounds(300, 500, 400), seed=seed)
        assert np.array_equal(fresh.labels, again.labels)
        assert fresh.n_parts == again.n_parts and fresh.notes == again.notes


def test_packable_cached_answers_unchanged():
    cases = [([96, 93, 93, 87, 78], False), ([96, 93, 93, 87, 78, 10, 10], False),
             ([96, 93, 93, 87, 78] + [5] * 25, True), ([120, 5, 4], True)]
    for h, want in cases * 2:  # the second time from the cache
        assert packable(np.array(h), 100, 150) is want
    with _memo.disabled():
        assert [packable(np.array(h), 100, 150) for h, _ in cases] == [w for _, w in cases]


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_subtree_sums_equal_numpy():
    rng = np.random.default_rng(11)
    for _trial in range(100):
        n = int(rng.integers(2, 150))
        ea, eb = _random_graph(rng, n)
        pre, _pred, size, _depth, lca = _fast.tree_of(n, ea, eb, np.argsort(rng.random(len(ea)), kind="stable"))
        node_cols, W = rng.random((n, 6)) * 1000, rng.random((len(ea), 3)) * 50
        tags = rng.integers(1, 2**63, size=n, dtype=np.int64).astype(np.uint64)
        # the numpy of the solver without numba: np.add.at at the ancestors, prefix sums over the preorder
        tin = np.empty(n, dtype=np.int64)
        tin[pre] = np.arange(n)
        lca_w = np.zeros((n, 3))
        np.add.at(lca_w, lca, W)
        cs = np.vstack([np.zeros(9), np.cumsum(np.column_stack([node_cols, lca_w])[pre], axis=0)])
        px = np.concatenate([[np.uint64(0)], np.bitwise_xor.accumulate(tags[pre])])
        v = pre[1:]
        lo_i, hi_i = tin[v], tin[v] + size[v]
        want = (lo_i, hi_i, cs[hi_i] - cs[lo_i], px[hi_i] ^ px[lo_i])
        for x, y in zip(want, _fast.subtree_sums(pre, size, lca, node_cols, W, tags), strict=True):
            assert x.dtype == y.dtype and np.array_equal(x, y)  # bit for bit


def _exact_python(g, bounds, w, lref, budget, k, strict):
    """What the solver's exact step returns with :class:`ExactDP` (the Python search)."""
    import math

    from gridgeo.partition.exact import ExactAbort, ExactDP

    dp = ExactDP(g, bounds, w, lref, budget)
    full = (1 << g.n) - 1
    try:
        if strict:
            if dp.best(full, k, True) == math.inf:
                return None
            return dp.solution(full, k, True)
        dp.best(full, 0, False)
        return dp.solution(full, 0, False)
    except ExactAbort:
        if not strict:
            return None
        dp.count = 0
        try:
            return dp.first(full, k)
        except ExactAbort:
            return None


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_exact_search_equals_python():
    from gridgeo.partition.solver import Weights

    rng = np.random.default_rng(5)
    found = aborted_or_none = 0
    for trial in range(400):
        n = int(rng.integers(1, 13))
        ea, eb = _random_graph(rng, n)
        pairs = sorted(set(zip(ea.tolist(), eb.tolist(), strict=True)))
        a = np.array([x for x, _ in pairs], dtype=np.int64)
        b = np.array([y for _, y in pairs], dtype=np.int64)
        m = len(a)
        ties = trial % 3 == 0  # equal costs: the stable order decides
        h = rng.choice([20, 50, 100], n) if ties else rng.integers(1, 90, n)
        g = Graph(h=h, area=np.full(n, 10.0) if ties else rng.random(n) * 100, perim=rng.random(n) * 40 + 10,
                  x=np.zeros(n), y=np.zeros(n), a=a, b=b, length=np.ones(m) if ties else rng.random(m) * 10,
                  art=rng.random(m) * (trial % 2), nostreet=rng.random(m) * (trial % 5 == 0))
        bounds = Bounds(100, 150, 125) if trial % 2 else Bounds(100, 250, 160)
        w = Weights(floor_margin=18.75 if trial % 4 == 1 else 0.0)
        budget = int(rng.choice([50, 300, 10000]))  # small budgets: over budget, then the feasible search
        strict = bool(trial % 3)
        k = max(1, round(int(h.sum()) / bounds.target))
        want = _exact_python(g, bounds, w, 1.7, budget, k, strict)
        got = _fast.exact_parts(g, bounds, w, 1.7, budget, k, strict)
        assert (want is None and got is None) or list(want) == got
        found += want is not None
        aborted_or_none += want is None
    assert found > 100 and aborted_or_none > 50  # both outcomes exercised


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_cut_scores_equal_numpy():
    from gridgeo.partition.solver import Weights, _Solver

    rng = np.random.default_rng(13)
    g = _lattice(4, 3, rng)
    for trial in range(200):
        bounds = Bounds(300, 500, 400) if trial % 2 else Bounds(100, 150, 125)
        w = Weights(floor_margin=18.75 if trial % 3 == 0 else 0.0)
        s = _Solver(g, bounds, w, 0)
        s.lref = float(rng.random() * 50 + 1)
        m, k = int(rng.integers(1, 120)), int(rng.integers(2, 9))
        nl = m + 1
        sub = rng.random((m, 9)) * np.array([bounds.hi * k / 2, 5e3, 400, 300, 50, 80, 100, 20, 30])
        if trial % 4 == 0:
            sub[:, 0] = np.round(sub[:, 0])  # whole households: exact fits (violation 0) happen
        n1 = rng.integers(1, nl, m)
        H, A, E = float(sub[:, 0].max() * 1.5), float(sub[:, 1].max() * 1.3), float(rng.random() * 900)
        t = min(max(H / k, bounds.lo), bounds.hi)
        for strict in (True, False):
            want = s._cut_scores(sub, n1, nl, k, H, A, E, t, strict)
            got = _fast.cut_scores(sub, n1, nl, k, H, A, E, bounds, t, w, s.lref, strict)
            if want is None:
                assert len(got[0]) == 0
                continue
            for x, y in zip(want[:4], got, strict=True):
                assert np.array_equal(x, y)  # bit for bit


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_small_grid_badness_equals_python(monkeypatch):
    from gridgeo.partition.subgrids import SmallGridBadness

    rng = np.random.default_rng(17)
    for trial in range(60):
        g = _lattice(int(rng.integers(2, 5)), int(rng.integers(2, 5)), rng)
        g.h = np.where(rng.random(g.n) < 0.2, 0, rng.integers(10, 160, g.n))
        bounds = Bounds(100, 150, 125)
        budget = int(rng.choice([30, 200, 20_000]))  # small budgets: the estimate
        queries = [np.flatnonzero(rng.random(g.n) < 0.7) for _ in range(5)] + [np.arange(g.n)]
        monkeypatch.setattr(_fast, "BADNESS_COMPILED", False)
        want = [SmallGridBadness(g, bounds, budget=budget)(q) for q in queries]
        monkeypatch.setattr(_fast, "BADNESS_COMPILED", True)
        got = [SmallGridBadness(g, bounds, budget=budget)(q) for q in queries]
        assert want == got, trial


def test_components_number_as_scipy():
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(19)
    for _trial in range(300):
        n = int(rng.integers(1, 60))
        m = int(rng.integers(0, 2 * n))
        a, b = rng.integers(0, n, m), rng.integers(0, n, m)
        nc, lab = connected_components(coo_matrix((np.ones(m), (a, b)), shape=(n, n)), directed=False)
        got_nc, got = _fast.components(n, a, b)
        assert got_nc == nc and np.array_equal(got, lab)


def _lattice_partition():
    """A small community divided (every cache off: each step computed afresh): its grids, small grids,
    buildings' grids and findings, as comparable values."""
    from gridgeo.partition import partition
    from gridgeo.partition.synthetic import prepare_lattice, street_lattice

    d = prepare_lattice(street_lattice(seed=11, nx=4, ny=3))
    with _memo.disabled():
        r = partition(d["communities"], d["blocks"], d["buildings"], streets=d["streets"])
    return {"grids": r.grids.to_wkb().to_dict("list"), "subgrids": r.subgrids.to_wkb().to_dict("list"),
            "buildings": r.buildings[["building_id", "grid_id", "subgrid_id"]].to_dict("list"),
            "findings": r.findings.drop(columns="geometry").to_dict("list")}


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_numba_that_cannot_be_imported_gives_the_python_and_the_same_partition(monkeypatch):
    """numba installed but failing at import (as one built for another numpy does): one warning, the
    failure remembered (not tried again at every kernel), the engine's Python, the same partition."""
    import sys
    import warnings

    want = _lattice_partition()
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    monkeypatch.delitem(sys.modules, "gridgeo.partition._kernels")
    monkeypatch.setattr(_fast, "_K", [])  # not loaded yet in this process
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _lattice_partition()
    said = [w for w in caught if "numba" in str(w.message)]
    assert len(said) == 1 and "importing numba failed" in str(said[0].message)
    assert _fast._K == [None] and _fast.AVAILABLE and not _fast.compiled()
    assert "gridgeo.partition._kernels" not in sys.modules  # nothing compiled ran
    assert got.keys() == want.keys()
    for layer in want:
        assert got[layer] == want[layer], layer
    assert len(want["grids"]["grid_id"]) > 3


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_kernels_that_do_not_compile_give_the_python(monkeypatch):
    from gridgeo.partition import _kernels

    def fails(*_a):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(_kernels, "_components", fails)
    monkeypatch.setattr(_fast, "_K", [])
    with pytest.warns(RuntimeWarning, match="compiling the kernels failed .*no compiler here"):
        assert not _fast.compiled()
    assert _fast._K == [None] and not _fast.warm_up()
    nc, lab = _fast.components(4, np.array([0, 2]), np.array([1, 3]))  # scipy's, no kernel called
    assert nc == 2 and lab.tolist() == [0, 0, 1, 1]


def test_gridgeo_no_numba_turns_the_kernels_off():
    import os
    import subprocess
    import sys

    code = ("import sys, warnings; warnings.simplefilter('error'); from gridgeo.partition import _fast; "
            "assert not _fast.AVAILABLE and not _fast.compiled(); assert 'numba' not in sys.modules")
    env = {**os.environ, "GRIDGEO_NO_NUMBA": "1"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_fused_tree_cuts_equal_the_loop_over_trees(monkeypatch):
    """The spanning trees of a bisection drawn and cut in one compiled call (_fast.tree_cuts) give the same
    candidates, leave the random stream where the loop over trees leaves it, and so the same divisions."""
    from gridgeo.partition import solver
    from gridgeo.partition.solver import Weights, _Solver

    rng = np.random.default_rng(29)
    for trial in range(60):
        g = _lattice(int(rng.integers(2, 9)), int(rng.integers(2, 7)), rng)
        bounds = Bounds(300, 500, 400) if trial % 2 else Bounds(100, 150, 125)
        w = Weights(floor_margin=18.75 if trial % 3 == 0 else 0.0)
        nodes = np.sort(rng.choice(g.n, size=int(rng.integers(2, g.n + 1)), replace=False)) if trial % 4 else \
            np.arange(g.n)
        k = int(rng.integers(2, 7))
        for strict in (True, False):
            got = {}
            for fused in (False, True):
                monkeypatch.setattr(solver, "_FUSED", fused)
                s = _Solver(g, bounds, w, trial)
                s.lref = 7.5
                cands = s._candidates(nodes, k, strict=strict)
                got[fused] = ([(v, sc, side.tolist(), k1) for v, sc, side, k1 in cands], s.rng.random())
            assert got[True] == got[False]
    for seed in range(3):
        g = _lattice(9, 7, rng)
        outs = []
        for fused in (False, True):
            monkeypatch.setattr(solver, "_FUSED", fused)
            with _memo.disabled():
                out = partition_graph(g, Bounds(300, 500, 400), seed=seed)
            outs.append((out.labels.tolist(), out.n_parts, out.notes))
        assert outs[0] == outs[1]


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_fused_tree_cuts_disconnected_leave_the_stream_as_the_loop():
    from gridgeo.partition.solver import Weights, _Solver

    ea, eb = np.array([0, 2], dtype=np.int64), np.array([1, 3], dtype=np.int64)
    *_, failed = _fast.tree_cuts(4, ea, eb, np.array([[0, 1], [1, 0]]), np.ones((4, 6)), np.ones((2, 3)),
                                 np.arange(1, 5, dtype=np.uint64), 2, 4.0, 4.0, 16.0, Bounds(1, 3, 2), 2.0, Weights(),
                                 1.0, False)
    assert failed == 0
    g = Graph(h=np.full(4, 100), area=np.ones(4), perim=np.full(4, 4.0), x=np.arange(4.0), y=np.zeros(4), a=ea, b=eb,
              length=np.ones(2), art=np.zeros(2), nostreet=np.zeros(2))
    s = _Solver(g, Bounds(150, 250, 200), Weights(), 5)
    assert s._candidates(np.arange(4), 2, strict=False) == []
    ref = np.random.default_rng(5)
    ref.random(2)  # the loop draws the failed tree's numbers, then gives up
    assert s.rng.random() == ref.random()


def test_ranked_cuts_from_arrays_equal_the_loop_over_a_dict():
    """The best cut per bisection and their ranking taken by array sorts (_rank_cuts) equal the loop over the
    cuts into a dict and its sort (_rank_best_loop): the same bisection met from both sides and with tied
    violations and scores (the first met wins), for regions of few grids and of more than STRICT_MAX_PARTS
    (cut near the middle)."""
    from gridgeo.partition.solver import STRICT_MAX_PARTS, _rank_best_loop, _rank_cuts

    rng = np.random.default_rng(32)
    for trial in range(300):
        k = int(rng.integers(2, 9)) if trial % 2 else int(rng.integers(STRICT_MAX_PARTS - 2, STRICT_MAX_PARTS + 40))
        m = int(rng.integers(1, 400))
        node_tags = rng.integers(1, 2**63, size=12, dtype=np.int64).astype(np.uint64)
        total = np.bitwise_xor.reduce(node_tags)
        # sides from few nodes, so bisections recur (also as the complement: the other side's tag)
        sides = rng.random((m, 12)) < 0.5
        comp = rng.random(m) < 0.3
        sides[comp] = ~sides[comp]
        tag = np.array([np.bitwise_xor.reduce(node_tags[s]) if s.any() else np.uint64(0) for s in sides],
                       dtype=np.uint64)
        k1 = rng.integers(1, k, size=m)
        k1[comp] = k - k1[comp]
        viol = rng.choice([0.0, -0.0, 1.0, 2.5], size=m) if trial % 3 else np.zeros(m)
        score = np.round(rng.random(m), 1) if trial % 4 else rng.random(m)
        ti = rng.integers(0, 6, size=m)
        lo = rng.integers(0, 50, size=m)
        hi = lo + rng.integers(1, 50, size=m)
        n = int(rng.integers(1, 6))
        got = _rank_cuts(ti, k1, tag, lo, hi, viol, score, total, k, n)
        ref = _rank_best_loop(ti, k1, tag, lo, hi, viol, score, total, k, n)
        assert got == ref
        assert [type(x) for x in got[0]] == [type(x) for x in ref[0]]



@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_ranking_of_tree_cuts_equals_numpy(monkeypatch):
    """The compiled selection, deduplication and ranking of the cuts of the fused trees (_fast.rank_tree_cuts)
    equals numpy's (the first tries + 1 of each tree and count by lexsort, then _rank_cuts): cuts with tied
    violations and scores, the same bisection met from both sides, regions of few grids and of more than
    STRICT_MAX_PARTS; and the whole candidates and divisions are the same with it and without."""
    from gridgeo.partition import solver
    from gridgeo.partition.solver import STRICT_MAX_PARTS, Weights, _rank_cuts, _Solver

    rng = np.random.default_rng(33)
    for trial in range(300):
        k = int(rng.integers(2, 9)) if trial % 2 else int(rng.integers(STRICT_MAX_PARTS - 2, STRICT_MAX_PARTS + 40))
        per = int(rng.integers(1, 5))
        node_tags = rng.integers(1, 2**63, size=10, dtype=np.int64).astype(np.uint64)
        total = np.bitwise_xor.reduce(node_tags)
        rows_l, cols_l, tt_l = [], [], []
        for ti in range(int(rng.integers(1, 7))):  # trees in order, each tree's cuts row-major
            for r in np.sort(rng.choice(k - 1, size=int(rng.integers(0, k)), replace=False)):
                cs = np.sort(rng.choice(30, size=int(rng.integers(1, 12)), replace=False))
                tt_l += [ti] * len(cs)
                rows_l += [int(r)] * len(cs)
                cols_l += cs.tolist()
        m = len(tt_l)
        if not m:
            continue
        tt, row, col = np.array(tt_l), np.array(rows_l), np.array(cols_l)
        pool = np.array([np.bitwise_xor.reduce(node_tags[rng.random(10) < 0.5]) for _ in range(6)], dtype=np.uint64)
        side = pool[rng.integers(0, 6, size=m)]  # few bisections, each met many times
        side[rng.random(m) < 0.3] ^= total  # and from the other side
        vg = rng.choice([0.0, -0.0, 1.0, 2.5], size=m) if trial % 3 else np.zeros(m)
        score = np.round(rng.random(m), 1) if trial % 4 else rng.random(m)
        lo = rng.integers(0, 50, size=m)
        hi = lo + rng.integers(1, 50, size=m)
        n = int(rng.integers(1, 6))
        q = k // 4 if k > STRICT_MAX_PARTS else 0
        order = np.lexsort((col, score, vg, row, tt))
        grp = tt[order] * k + row[order]
        keep = order[(np.arange(m) - np.searchsorted(grp, grp, side="left")) < per]
        ref = _rank_cuts(tt[keep], row[keep] + 1, side[keep], lo[keep], hi[keep], vg[keep], score[keep], total, k, n)
        top = _fast.rank_tree_cuts(tt, row, col, vg, score, side, total, k, per, n, q)
        got = list(zip(vg[top].tolist(), score[top].tolist(), tt[top].tolist(), lo[top].tolist(), hi[top].tolist(),
                       (row[top] + 1).tolist(), strict=True))
        assert got == ref
    assert _fast.rank_tree_cuts(np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1),
                                np.array([np.nan]), np.ones(1, np.uint64), np.uint64(3), 2, 4, 4, 0) is None
    for trial in range(20):
        g = _lattice(int(rng.integers(3, 9)), int(rng.integers(3, 7)), rng)
        for k, strict in ((int(rng.integers(2, 7)), True), (int(rng.integers(2, 7)), False)):
            got = []
            for compiled_rank in (False, True):
                monkeypatch.setattr(solver, "_RANK_COMPILED", compiled_rank)
                s = _Solver(g, Bounds(300, 500, 400), Weights(), trial)
                s.lref = 7.5
                cands = s._candidates(np.arange(g.n), k, strict=strict)
                got.append(([(v, sc, side.tolist(), k1) for v, sc, side, k1 in cands], s.rng.random()))
            assert got[0] == got[1]


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_the_ranking_reads_each_run_of_cuts_and_the_winners_once(monkeypatch):
    """The ranking of the trees' cuts (_kernels._rank_tree_cuts, run here as Python to count its comparisons) keeps
    the first per_group cuts of each tree and count, and the n best bisections, in sorted buffers filled as it reads
    the cuts and the winners once: about one comparison per cut and per winner, where per_group scans of each run and
    n scans of the winners took four times as many (15,303 calls on 青山区). The same ranking as numpy's."""
    from gridgeo.partition import _kernels
    from gridgeo.partition.solver import _rank_cuts

    counts = {"cut": 0, "win": 0}
    cut_less, win_less = _kernels._cut_less.py_func, getattr(_kernels, "_win_less", None)

    def counted_cut(*a):
        counts["cut"] += 1
        return cut_less(*a)

    def counted_win(*a):
        counts["win"] += 1
        return win_less.py_func(*a)

    monkeypatch.setattr(_kernels, "_cut_less", counted_cut)
    monkeypatch.setattr(_kernels, "_win_less", counted_win, raising=False)
    rng = np.random.default_rng(7)
    m, k, per, n = 400, 21, 4, 4
    tt = np.zeros(m, np.int64)
    row = np.repeat(np.arange(20), 20)  # 20 runs of 20 cuts: one tree, 20 counts
    col = np.tile(np.arange(20), 20)
    vg = np.zeros(m)
    score = rng.random(m)
    side = rng.integers(1, 2**63, size=m, dtype=np.int64).astype(np.uint64)  # every cut its own bisection
    total = np.uint64(2**63 + 5)
    top = _kernels._rank_tree_cuts.py_func(tt, row, col, vg, score, side, total, k, per, n, 0)
    assert counts["cut"] < 2 * m  # 1,400 comparisons by per_group scans of each run
    assert 0 < counts["win"] < 2 * 20 * per  # 80 winners: 310 comparisons by n scans
    order = np.lexsort((col, score, vg, row, tt))
    grp = tt[order] * k + row[order]
    keep = order[(np.arange(m) - np.searchsorted(grp, grp, side="left")) < per]
    ref = _rank_cuts(tt[keep], row[keep] + 1, side[keep], np.zeros(len(keep), np.int64), np.ones(len(keep), np.int64),
                     vg[keep], score[keep], total, k, n)
    assert [(float(score[i]), int(row[i]) + 1) for i in top] == [(sc, k1) for _, sc, _, _, _, k1 in ref]


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_contraction_equals_numpy(monkeypatch):
    """graph.contract with its sums compiled (_fast.contract_sums) gives the same graph as numpy's bincounts,
    unique and lexsort, array for array and bit for bit: duplicate and inner edges, tied areas (the first
    member's point), empty groups (n_groups above the labels), groups of one node."""
    from gridgeo.partition import graph as graph_mod
    from gridgeo.partition.graph import contract

    rng = np.random.default_rng(34)
    for trial in range(200):
        n = int(rng.integers(1, 40))
        m = int(rng.integers(0, 90))
        a, b = rng.integers(0, n, size=m), rng.integers(0, n, size=m)
        keep = a != b
        a, b = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        g = Graph(h=rng.integers(0, 300, size=n), area=rng.choice([1.0, 2.5, 1e-3, 7.25], size=n) * rng.random(n).round(1),
                  perim=rng.random(n) * 100, x=rng.random(n) * 1e5, y=rng.random(n) * 1e6, a=a, b=b,
                  length=rng.random(len(a)) * 10.0 ** rng.integers(-3, 3, size=len(a)),
                  art=rng.random(len(a)).round(1), nostreet=rng.random(len(a)) * 3)
        groups = int(rng.integers(1, n + 1))
        labels = rng.integers(0, groups, size=n)
        n_groups = None if trial % 3 else groups + int(rng.integers(0, 3))
        out = {}
        for compiled_sums in (False, True):
            monkeypatch.setattr(graph_mod, "_CONTRACT_COMPILED", compiled_sums)
            cg = contract(g, labels, n_groups)
            out[compiled_sums] = [(f, getattr(cg, f).dtype.str, getattr(cg, f).tobytes())
                                  for f in ("h", "area", "perim", "x", "y", "a", "b", "length", "art", "nostreet")]
        assert out[True] == out[False]


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_local_search_equals_python(monkeypatch):
    """The local search compiled (_fast.improve) moves the same units as the Python of _Solver._improve:
    the same labels after every sweep, with parts frozen, a floor margin, ties between moves, and on the
    divisions partition_graph draws."""
    from gridgeo.partition import solver
    from gridgeo.partition.solver import Weights, _Solver

    rng = np.random.default_rng(35)
    for trial in range(150):
        g = _lattice(int(rng.integers(2, 9)), int(rng.integers(2, 8)), rng)
        if trial % 5 == 0:  # ties: every unit alike
            g = Graph(h=np.full(g.n, 100), area=np.ones(g.n), perim=np.full(g.n, 4.0), x=g.x, y=g.y, a=g.a, b=g.b,
                      length=np.ones(g.m), art=np.zeros(g.m), nostreet=np.zeros(g.m))
        nparts = int(rng.integers(2, 7))
        labels = rng.integers(0, nparts, size=g.n)
        frozen = set(rng.choice(nparts, size=int(rng.integers(0, 2)), replace=False).tolist())
        bounds = Bounds(300, 500, 400) if trial % 2 else Bounds(100, 150, 125)
        w = Weights(floor_margin=18.75 if trial % 3 == 0 else 0.0)
        got = []
        for compiled_search in (False, True):
            monkeypatch.setattr(solver, "_IMPROVE_COMPILED", compiled_search)
            s = _Solver(g, bounds, w, trial)
            s.lref = float(rng.choice([1.0, 7.5])) if not compiled_search else got[0][1]
            got.append((s._improve(labels.copy(), nparts, frozen).tolist(), s.lref))
        assert got[0][0] == got[1][0]
    for seed in range(4):
        g = _lattice(9, 7, rng)
        outs = []
        for compiled_search in (False, True):
            monkeypatch.setattr(solver, "_IMPROVE_COMPILED", compiled_search)
            with _memo.disabled():
                out = partition_graph(g, Bounds(300, 500, 400), seed=seed)
            outs.append((out.labels.tolist(), out.n_parts, out.notes))
        assert outs[0] == outs[1]


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_region_arrays_equal_numpy(monkeypatch):
    """The arrays a bisection draws its trees over (_Solver._region_arrays) compiled (_fast.region_arrays) are
    numpy's, array for array and bit for bit: regions of every size (none, one node, all), in any order of
    nodes, with duplicate edges and lengths of every magnitude (the sums' order shows); and the candidates
    and the divisions drawn over them are the same."""
    from gridgeo.partition import solver
    from gridgeo.partition.solver import Weights, _Solver

    rng = np.random.default_rng(41)
    for trial in range(200):
        n = int(rng.integers(1, 40))
        m = int(rng.integers(0, 120))
        a, b = rng.integers(0, n, size=m), rng.integers(0, n, size=m)
        keep = a != b
        a, b = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        g = Graph(h=rng.integers(0, 300, size=n), area=rng.random(n) * 10.0 ** rng.integers(-3, 4, size=n),
                  perim=rng.random(n) * 100, x=rng.random(n), y=rng.random(n), a=a, b=b,
                  length=rng.random(len(a)) * 10.0 ** rng.integers(-3, 3, size=len(a)),
                  art=rng.random(len(a)).round(1), nostreet=rng.random(len(a)) * 3)
        size = [0, 1, n][trial % 3] if trial % 4 == 0 else int(rng.integers(0, n + 1))
        nodes = rng.choice(n, size=size, replace=False)
        if trial % 2:
            nodes = np.sort(nodes)
        out = {}
        for compiled_arrays in (False, True):
            monkeypatch.setattr(solver, "_REGION_COMPILED", compiled_arrays)
            got = _Solver(g, Bounds(300, 500, 400), Weights(), trial)._region_arrays(nodes)
            out[compiled_arrays] = [(np.asarray(x).dtype.str, np.asarray(x).shape, np.asarray(x).tobytes()) for x in got]
        assert out[True] == out[False]
    for seed in range(4):
        g = _lattice(9, 7, rng)
        outs = []
        for compiled_arrays in (False, True):
            monkeypatch.setattr(solver, "_REGION_COMPILED", compiled_arrays)
            s = _Solver(g, Bounds(300, 500, 400), Weights(), seed)
            cands = [(v, sc, side.tolist(), k1) for v, sc, side, k1 in s._candidates(np.arange(g.n), 5, strict=False)]
            with _memo.disabled():
                out = partition_graph(g, Bounds(300, 500, 400), seed=seed)
            outs.append((cands, out.labels.tolist(), out.n_parts, out.notes))
        assert outs[0] == outs[1]


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_region_graph_equals_subgraph_then_contract(monkeypatch):
    """A region's graph with its zero-household units merged (_Solver._contracted) in one compiled call
    (_fast.region_graph) is what subgraph, zero_contraction and contract give, labels and arrays bit for bit:
    regions whose units all have households, none has, or some have (the Python then), in any order of
    nodes, with duplicate edges; and the exact search over them divides the same."""
    from gridgeo.partition import solver
    from gridgeo.partition.solver import Weights, _Solver

    rng = np.random.default_rng(43)
    fields = ("h", "area", "perim", "x", "y", "a", "b", "length", "art", "nostreet")
    for trial in range(300):
        n = int(rng.integers(1, 30))
        m = int(rng.integers(0, 80))
        a, b = rng.integers(0, n, size=m), rng.integers(0, n, size=m)
        keep = a != b
        a, b = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
        zero_share = [0.0, 1.0, 0.3][trial % 3]
        h = np.where(rng.random(n) < zero_share, 0, rng.integers(1, 300, size=n))
        g = Graph(h=h, area=rng.choice([1.0, 2.5, 1e-3], size=n) * rng.random(n).round(1), perim=rng.random(n) * 100,
                  x=rng.random(n) * 1e5, y=rng.random(n) * 1e6, a=a, b=b,
                  length=rng.random(len(a)) * 10.0 ** rng.integers(-3, 3, size=len(a)),
                  art=rng.random(len(a)).round(1), nostreet=rng.random(len(a)) * 3)
        nodes = rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False)
        if trial % 2:
            nodes = np.sort(nodes)
        out = {}
        for compiled_graph in (False, True):
            monkeypatch.setattr(solver, "_REGION_COMPILED", compiled_graph)
            lab, cg = _Solver(g, Bounds(300, 500, 400), Weights(), trial)._contracted(nodes)
            out[compiled_graph] = [(lab.dtype.str, lab.tobytes())] + [
                (f, getattr(cg, f).dtype.str, getattr(cg, f).tobytes()) for f in fields]
        assert out[True] == out[False]
    for seed in range(4):
        g = _lattice(6, 5, rng)
        outs = []
        for compiled_graph in (False, True):
            monkeypatch.setattr(solver, "_REGION_COMPILED", compiled_graph)
            with _memo.disabled():
                out = partition_graph(g, Bounds(100, 150, 125), seed=seed)
            outs.append((out.labels.tolist(), out.n_parts, out.notes))
        assert outs[0] == outs[1]


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_candidates_are_drawn_cut_ranked_and_sided_in_one_compiled_call(monkeypatch):
    # the peel of 青山区's synthetic communities asks for candidates about 12,000 times per community, each over
    # about 30 units: the trees' weights and order, the cuts, the ranking and the sides were made by numpy around
    # two compiled calls, ten arrays handed between them. One compiled call now makes them: the same candidates and
    # the random stream left where it was, strict and relaxed, every count band; a NaN score (never met) falls back
    from gridgeo.partition import solver
    from gridgeo.partition.solver import Weights, _Solver

    calls = {"tree_cuts": 0, "ranked": 0}
    orig_tc, orig_rc = _fast.tree_cuts, _fast.ranked_candidates
    monkeypatch.setattr(_fast, "tree_cuts", lambda *a, **k: calls.__setitem__("tree_cuts", calls["tree_cuts"] + 1)
                        or orig_tc(*a, **k))
    monkeypatch.setattr(_fast, "ranked_candidates",
                        lambda *a, **k: calls.__setitem__("ranked", calls["ranked"] + 1) or orig_rc(*a, **k))
    rng = np.random.default_rng(41)
    for trial in range(80):
        g = _lattice(int(rng.integers(2, 9)), int(rng.integers(2, 7)), rng)
        bounds = Bounds(100, 250, 175) if trial % 2 else Bounds(100, 150, 125)
        w = Weights(floor_margin=18.75 if trial % 3 == 0 else 0.0)
        nodes = np.sort(rng.choice(g.n, size=int(rng.integers(2, g.n + 1)), replace=False)) if trial % 4 else \
            np.arange(g.n)
        k = int(rng.integers(2, 7))
        for strict in (True, False):
            got = {}
            for one in (False, True):
                monkeypatch.setattr(solver, "_ONE_CALL", one)
                calls.update(tree_cuts=0, ranked=0)
                s = _Solver(g, bounds, w, trial)
                s.lref = 7.5
                cands = s._candidates(nodes, k, strict=strict)
                got[one] = ([(v, sc, side.tolist(), k1) for v, sc, side, k1 in cands], s.rng.random())
                if one:
                    assert calls == {"tree_cuts": 0, "ranked": 1}
            assert got[True] == got[False]
    # a NaN among the scores: the stream put back, and the cuts ranked as before
    g = _lattice(6, 5, rng)
    monkeypatch.setattr(_fast, "ranked_candidates", lambda *a, **k: (-1, True, *orig_rc(*a, **k)[2:]))
    got = {}
    for one in (False, True):
        monkeypatch.setattr(solver, "_ONE_CALL", one)
        s = _Solver(g, Bounds(100, 250, 175), Weights(), 3)
        cands = s._candidates(np.arange(g.n), 4, strict=False)
        got[one] = ([(v, sc, side.tolist(), k1) for v, sc, side, k1 in cands], s.rng.random())
    assert got[True] == got[False] and got[True][0]
    with _memo.disabled():
        monkeypatch.setattr(_fast, "ranked_candidates", orig_rc)
        outs = []
        for one in (False, True):
            monkeypatch.setattr(solver, "_ONE_CALL", one)
            out = partition_graph(_lattice(9, 7, np.random.default_rng(2)), Bounds(300, 500, 400), seed=1)
            outs.append((out.labels.tolist(), out.n_parts, out.notes))
        assert outs[0] == outs[1]


def _exact_adjacency_numpy(n, a, b, length, art, ns):
    """The exact search's adjacency as ``_fast.exact_parts`` made it in numpy before session 38 (kept here as the
    reference): per node its edges in edge order, the no-street length summed in edge order, the bitmasks."""
    m = len(a)
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    eids = np.concatenate([np.arange(m), np.arange(m)])
    order = np.lexsort((eids, rows))
    ptr = np.searchsorted(rows[order], np.arange(n + 1)).astype(np.int64)
    e = eids[order]
    nsdeg = np.zeros(n)
    for x, y, v in zip(a.tolist(), b.tolist(), ns.tolist(), strict=True):
        nsdeg[x] += v
        nsdeg[y] += v
    nb = np.zeros(n, np.int64)
    np.bitwise_or.at(nb, rows, np.left_shift(1, cols))
    return ptr, cols[order], length[e], art[e], ns[e], nsdeg, nb


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_the_exact_searchs_adjacency_is_made_in_the_compiled_call():
    """The adjacency the exact search walks is made in its compiled call, array for array and bit for bit as
    the numpy construction made it (random graphs of up to 62 nodes, edges in any order, repeated edges)."""
    k = _fast._k()
    rng = np.random.default_rng(38)
    for trial in range(300):
        n = int(rng.integers(1, 63))
        m = int(rng.integers(0, 3 * n))
        a = rng.integers(0, n, m).astype(np.int64)
        b = rng.integers(0, n, m).astype(np.int64)
        if trial % 2:  # no self-loops, as a graph of cells has
            keep = a != b
            a, b = a[keep], b[keep]
        cols = [rng.random(len(a)) * s for s in (40.0, 3.0, 1e-3 if trial % 3 else 7.0)]
        want = _exact_adjacency_numpy(n, a, b, *cols)
        got = k._exact_adjacency(n, a, b, *cols)
        for w, g_ in zip(want, got, strict=True):
            assert w.dtype == g_.dtype and w.tobytes() == g_.tobytes()


def _voronoi_cells(rng, n):
    import shapely

    pts = shapely.multipoints(rng.random((n, 2)) * 100.0)
    frame = shapely.box(0, 0, 100, 100)
    cells = shapely.intersection(shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=frame)), frame)
    return np.asarray(cells, dtype=object), frame


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_polish_equals_python(monkeypatch):
    """The compactness polish with its scans compiled (shapes._polish_compiled) moves the same cells as its
    Python: the same labels on random Voronoi coverages, with cells of no households only and with every
    cell under ``within_bounds``, with barrier (arterial) edges, parts in several pieces, and repeated edges
    whose lengths add up."""
    from gridgeo.partition import shapes
    from gridgeo.partition.graph import cell_graph
    from gridgeo.partition.shapes import polish_compactness, within_bounds

    rng = np.random.default_rng(43)
    moved = 0
    for trial in range(40):
        geoms, frame = _voronoi_cells(rng, int(rng.integers(8, 90)))
        h = np.where(rng.random(len(geoms)) < 0.5, 0, rng.integers(1, 60, len(geoms)))
        g = cell_graph(geoms, households=h, block=np.zeros(len(geoms), dtype=np.int64))
        g.art = np.where(rng.random(g.m) < 0.15, g.length, 0.0)  # some edges are barriers
        if trial % 4 == 3:  # repeated edges: their lengths add up, in edge order
            extra = rng.integers(0, g.m, size=max(1, g.m // 5))
            order = np.argsort(np.r_[np.arange(g.m), extra], kind="stable")
            g = Graph(h=g.h, area=g.area, perim=g.perim, x=g.x, y=g.y, a=np.r_[g.a, g.a[extra]][order],
                      b=np.r_[g.b, g.b[extra]][order], length=np.r_[g.length, g.length[extra] * 0.3][order],
                      art=np.r_[g.art, g.art[extra]][order], nostreet=np.r_[g.nostreet, g.nostreet[extra]][order])
        k = int(rng.integers(2, 6))
        # parts in bands across x, or at random (parts in several pieces)
        labels = (np.minimum((g.x / 100.0 * k).astype(np.int64), k - 1) if trial % 3
                  else rng.integers(0, k, size=g.n))
        for allow in (None, within_bounds(g.h, Bounds(60, 200, 120))):
            got = []
            for compiled_polish in (False, True):
                monkeypatch.setattr(shapes, "_POLISH_COMPILED", compiled_polish)
                got.append(polish_compactness(g, geoms, labels, k, frame, allow=allow))
            assert got[0].tolist() == got[1].tolist()
            moved += int((got[1] != labels).sum())
    assert moved > 100  # the polish moved cells: the two were compared on moves, not only on nothing done


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_compiled_pieces_count_as_python():
    """The pieces of each part, with and without a node left out, as shapes._pieces counts them (a part of no
    node: 0; a node whose removal cuts its part in two)."""
    from gridgeo.partition.shapes import _pieces

    rng = np.random.default_rng(5)
    for _trial in range(60):
        n = int(rng.integers(1, 40))
        a, b = _random_graph(rng, n)
        keep = rng.random(len(a)) < 0.4
        g = Graph(h=np.zeros(n, np.int64), area=np.ones(n), perim=np.ones(n), x=np.zeros(n), y=np.zeros(n), a=a[keep],
                  b=b[keep], length=np.ones(int(keep.sum())), art=np.zeros(int(keep.sum())),
                  nostreet=np.zeros(int(keep.sum())))
        k = int(rng.integers(1, 6)) + 1  # the last label may have no node
        labels = rng.integers(0, k - 1, size=n)
        nbrs = [{} for _ in range(n)]
        for x, y in zip(g.a.tolist(), g.b.tolist(), strict=True):
            nbrs[x][y] = nbrs[y][x] = 1.0
        indptr, nbr, _, _ = _fast.polish_adjacency(g, np.zeros(g.m, dtype=bool))
        members = [set(np.flatnonzero(labels == p).tolist()) for p in range(k)]
        assert _fast.part_pieces(k, indptr, nbr, labels).tolist() == [_pieces(m, nbrs) for m in members]
        assert _fast.part_pieces(k, indptr, nbr, labels)[k - 1] == 0
        for c in range(n):
            p = int(labels[c])
            assert _fast.pieces_of(p, c, indptr, nbr, labels) == _pieces(members[p] - {c}, nbrs)


@pytest.mark.skipif(not _fast.compiled(), reason="numba is not installed (or cannot compile here)")
def test_a_division_loads_one_overload_per_kernel_and_reading_a_plan_imports_no_numba(tmp_path):
    """Each compiled kernel a division calls is loaded (or compiled) once per process: every call site passes
    the same dtypes and layouts (another would compile, then load, a second overload in every process). The
    commands that read a plan (validate, info, report) never import numba (about 0.55 s of CPU per process)."""
    import json
    import subprocess
    import sys

    out = tmp_path / "plan.gpkg"
    divide = (
        "import json, sys, gridgeo\n"
        "from gridgeo.partition.synthetic import street_lattice\n"
        "from numba.core.registry import CPUDispatcher\n"
        "d = street_lattice(seed=11, nx=4, ny=3)\n"
        "gridgeo.divide(d['communities'], streets=d['streets'], buildings=d['buildings']).to_file(sys.argv[1])\n"
        "K = sys.modules['gridgeo.partition._kernels']\n"
        "print(json.dumps({n: [str(s) for s in f.signatures] for n, f in vars(K).items()"
        " if isinstance(f, CPUDispatcher) and f.signatures}))\n")
    run = subprocess.run([sys.executable, "-c", divide, str(out)], check=True, capture_output=True, text=True,
                         timeout=600)
    loaded = json.loads(run.stdout.splitlines()[-1])
    assert {"_ranked_candidates", "_region_graph", "_improve", "_polish_next"} <= loaded.keys()
    assert {n: s for n, s in loaded.items() if len(s) > 1} == {}
    read = (
        "import sys\n"
        "from gridgeo.cli import main\n"
        "for cmd in ('validate', 'info', 'report'):\n"
        "    main([cmd, sys.argv[1]])\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
        "assert 'gridgeo.partition._kernels' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", read, str(out)], check=True, capture_output=True, timeout=600)
