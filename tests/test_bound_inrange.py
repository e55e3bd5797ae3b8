"""The upper bound on base grids within bounds in communities of towers (benchmarks/bound_inrange.py): exact
where every partition can be listed, and the engine's solver reaches it on lattices of towers."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from gridgeo.partition.graph import Graph
from gridgeo.partition.solver import Bounds, Weights, partition_graph

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bound_inrange.py"


def _module():
    mod = sys.modules.get("bound_inrange")
    if mod is None:
        spec = importlib.util.spec_from_file_location("bound_inrange", _PATH)
        mod = sys.modules["bound_inrange"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    return mod


def _lattice(nx: int, ny: int, h: np.ndarray) -> Graph:
    idx = np.arange(nx * ny).reshape(ny, nx)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    x, y = np.meshgrid(np.arange(nx, dtype=float), np.arange(ny, dtype=float))
    return Graph(h=np.asarray(h), area=np.ones(len(h)), perim=np.full(len(h), 4.0), x=x.ravel(), y=y.ravel(),
                 a=a, b=b, length=np.ones(len(a)), art=np.zeros(len(a)), nostreet=np.zeros(len(a)))


def _best_on_path(h: list[int], lo: int, hi: int) -> int:
    """The most parts within lo..hi over every division of a path into runs (all contiguous partitions)."""
    n, best = len(h), 0
    for cuts in itertools.product((False, True), repeat=n - 1):
        parts, cur = [], h[0]
        for cut, x in zip(cuts, h[1:]):
            if cut:
                parts.append(cur)
                cur = x
            else:
                cur += x
        parts.append(cur)
        best = max(best, sum(lo <= p <= hi for p in parts))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_bound_is_the_optimum_on_paths_of_towers(seed):
    mod = _module()
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 10))
    h = (rng.integers(20, 41, n) * 10).tolist()
    path = np.arange(n - 1)
    bound = mod.inrange_bound(np.array(h), path, path + 1, 300, 500)
    assert bound.in_range == _best_on_path(h, 300, 500)
    assert bound.in_range <= bound.count_bound


def test_bound_counts_pairs_through_empty_cells_and_forced_towers():
    mod = _module()
    # 240 · (empty) · 250 — 450 · 280: the first two meet through the empty cell; 280 only reaches 450 (over)
    h = np.array([240, 0, 250, 450, 280])
    a, b = np.array([0, 1, 2, 3]), np.array([1, 2, 3, 4])
    bound = mod.inrange_bound(h, a, b, 300, 500)
    assert (bound.heavy, bound.light, bound.pairs, bound.forced) == (1, 3, 1, 1)
    assert bound.in_range == 2
    # without the empty cell's edges the two lights do not meet
    bound = mod.inrange_bound(h, np.array([2, 3]), np.array([3, 4]), 300, 500)
    assert bound.pairs == 0 and bound.in_range == 1
    # in a community in separate parts any two cells of different parts may share a grid
    bound = mod.inrange_bound(np.array([240, 250]), np.zeros(0, np.int64), np.zeros(0, np.int64), 300, 500,
                              multipart=True)
    assert bound.in_range == 1
    # a cell of at most a third of the ceiling: three could share a grid, no bound
    assert mod.inrange_bound(np.array([150, 250]), np.array([0]), np.array([1]), 300, 500) is None


@pytest.mark.parametrize(("size", "seeds"), [((4, 4), range(6)), ((6, 6), range(5))])
def test_solver_reaches_the_bound_on_lattices_of_towers(size, seeds):
    # towers of 200–400 households: at most two per grid, lights paired with a neighbour (a matching)
    mod = _module()
    for seed in seeds:
        h = np.random.default_rng(seed).integers(20, 41, size[0] * size[1]) * 10
        g = _lattice(*size, h)
        bound = mod.inrange_bound(h, g.a, g.b, 300, 500)
        out = partition_graph(g, Bounds(300, 500, 400), seed=1, weights=Weights(floor_margin=0.15 * 125))
        gh = np.bincount(out.labels, weights=h)
        assert int(((gh >= 300) & (gh <= 500)).sum()) == bound.in_range, seed
