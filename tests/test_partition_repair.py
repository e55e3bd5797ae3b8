"""Grids outside the bounds divided again with their neighbours (issue 16: base grids in range).

The solver's repair (:func:`gridgeo.partition.solver.repair_parts`) and the opening of whole blocks
around a grid no division of whole blocks brings within the bounds
(:func:`gridgeo.partition.refine.split_blocks_for_bounds`), on constructed inputs with synthetic
households.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from test_partition import boxes_community, check_invariants, run

import gridgeo.partition.community as community_mod
from gridgeo.partition.graph import Graph
from gridgeo.partition.solver import Bounds, repair_parts

BOUNDS = Bounds(300, 500, 400)


def lattice(nx: int, ny: int, h: np.ndarray) -> Graph:
    n = nx * ny
    idx = np.arange(n).reshape(nx, ny)
    a = np.r_[idx[:-1, :].ravel(), idx[:, :-1].ravel()]
    b = np.r_[idx[1:, :].ravel(), idx[:, 1:].ravel()]
    xs, ys = np.divmod(np.arange(n), ny)
    return Graph(h=np.asarray(h), area=np.ones(n), perim=np.full(n, 4.0), x=xs.astype(float), y=ys.astype(float),
                 a=a, b=b, length=np.ones(len(a)), art=np.zeros(len(a)), nostreet=np.zeros(len(a)))


def connected(g: Graph, nodes: np.ndarray) -> bool:
    inside = np.zeros(g.n, bool)
    inside[nodes] = True
    keep = inside[g.a] & inside[g.b]
    mat = coo_matrix((np.ones(int(keep.sum())), (g.a[keep], g.b[keep])), shape=(g.n, g.n))
    _, lab = connected_components(mat, directed=False)
    return len(np.unique(lab[nodes])) == 1


# ------------------------------------------------------------------------------------------ solver repair


@pytest.mark.parametrize("seed", range(6))
def test_repair_brings_a_part_under_the_floor_within_the_bounds(seed):
    """A 4 × 4 lattice of 100-household units cut into columns (400 each), then one unit of the first
    column handed to the second: 300 | 500 is fine, so take two: 200 | 600. The repair must bring every
    part within 300–500 again, each part connected, no more parts than before."""
    rng = np.random.default_rng(seed)
    h = rng.integers(90, 111, size=16)
    g = lattice(4, 4, h)
    labels = np.repeat(np.arange(4), 4)
    labels[[2, 3]] = 1  # column 0 keeps two units
    hp = np.bincount(labels, weights=h)
    assert hp[0] < 300 and hp[1] > 500
    new = repair_parts(g, labels, 4, BOUNDS, seed=seed)
    assert new is not None
    used = np.unique(new)
    assert len(used) <= 4
    hn = np.bincount(new, weights=h)[used]
    assert ((hn >= 300) & (hn <= 500)).all(), hn
    assert all(connected(g, np.flatnonzero(new == p)) for p in used)
    # parts away from the trouble that were not needed stay as they were, and the call is repeatable
    assert np.array_equal(new, repair_parts(g, labels, 4, BOUNDS, seed=seed))


def test_repair_leaves_skipped_parts_alone():
    h = np.full(16, 100)
    g = lattice(4, 4, h)
    labels = np.repeat(np.arange(4), 4)
    labels[[2, 3]] = 1
    # part 1 skipped (say a tower of its own): the part under the floor has no other neighbour to use
    assert repair_parts(g, labels, 4, BOUNDS, skip={1}) is None
    new = repair_parts(g, labels, 4, BOUNDS, skip={3})
    assert new is not None and np.array_equal(new[labels == 3], labels[labels == 3])


def test_repair_returns_none_when_nothing_is_out_of_bounds():
    g = lattice(4, 4, np.full(16, 100))
    assert repair_parts(g, np.repeat(np.arange(4), 4), 4, BOUNDS) is None


# ------------------------------------------------------------------------------------------ opened blocks


def tower_beside_block() -> dict:
    """A tower of 172 households alone in its block, beside a block of 442 households in five
    buildings (70, 70, 100, 100, 102): whole blocks make 172 | 442 (614 households: neither one grid
    of 300–500 nor two), a boundary between the buildings of the second block makes 312 | 302."""
    return boxes_community(2, 1, [[[172]], [[70, 70, 100, 100, 102]]])


def test_block_opened_when_whole_blocks_leave_a_grid_under_the_floor():
    d = tower_beside_block()
    r = run(d)
    hh = sorted(r.grids["households"].tolist())
    assert len(hh) == 2 and all(300 <= x <= 500 for x in hh), hh
    check_invariants(d, r)
    # the tower's grid takes buildings of the neighbouring block; no building is split (check_invariants)
    bld = r.buildings.set_index("building_id")
    tower_grid = bld.loc["b000000", "grid_id"]
    assert (bld["grid_id"] == tower_grid).sum() >= 2
    found = r.findings[r.findings["type"] == "block_divided"]
    assert len(found) == 1 and "B0002" in found["feature_id"].iloc[0]
    assert "whole blocks left no division within the bounds" in found["message"].iloc[0]


def test_block_opened_for_small_grids_says_so():
    """Blocks of 300 (130, 130, 40), 160 (60, 100) and 240 (120, 120): the 60 of the middle block make
    no small grid of 100–150 with its neighbour (160), so the block is opened and the 60 join the 40."""
    d = boxes_community(3, 1, [[[130, 130, 40]], [[60, 100]], [[120, 120]]])
    r = run(d)
    check_invariants(d, r)
    found = r.findings[r.findings["type"] == "block_divided"]
    assert found["feature_id"].tolist() == ["420103001001-B0002"]
    msg = found["message"].iloc[0]
    assert "make no small grids of 100–150 on their own" in msg and "whole blocks left" not in msg


def test_a_block_divided_without_being_opened_is_caught(monkeypatch):
    """A block divided by a step that did not open it (here: its buildings made units of their own
    behind the back of the record of opened blocks) gets no block_divided finding, so the check that
    whole blocks stay whole fails on it."""
    real = community_mod.base_units

    def sloppy(cells, g, grid_max, sub_bounds=None, split=None, opened=None):
        return real(cells, g, grid_max, sub_bounds, split=set(range(int(cells.block.max()) + 1)))

    monkeypatch.setattr(community_mod, "base_units", sloppy)
    d = tower_beside_block()
    r = run(d)
    divided = [(r.grids.geometry.intersection(geom).area > 1.0).sum() > 1 for geom in d["blocks"].geometry]
    assert divided == [False, True]
    assert (r.findings["type"] != "block_divided").all()
    with pytest.raises(AssertionError, match="no block_divided finding"):
        check_invariants(d, r)


def test_without_opening_blocks_the_grid_stays_under_the_floor(monkeypatch):
    """The same input with the opening step switched off: the old plan, a grid of 172 households
    (this is the case the step exists for)."""
    monkeypatch.setattr(community_mod, "split_blocks_for_bounds", lambda g, u, n, out, *a, **k: (out, u, n))
    r = run(tower_beside_block())
    assert sorted(r.grids["households"].tolist()) == [172, 442]


def test_opened_blocks_do_not_depend_on_row_order():
    d = tower_beside_block()
    a = run(d)
    rng = np.random.default_rng(3)
    shuffled = {k: v.iloc[rng.permutation(len(v))].reset_index(drop=True) for k, v in d.items()}
    b = run(shuffled)
    ba = a.buildings.set_index("building_id").sort_index()[["grid_id", "subgrid_id"]]
    bb = b.buildings.set_index("building_id").sort_index()[["grid_id", "subgrid_id"]]
    pd.testing.assert_frame_equal(ba, bb)
    ga, gb = a.grids.sort_values("grid_id"), b.grids.sort_values("grid_id")
    assert all(x.equals_exact(y, 0) for x, y in zip(ga.geometry, gb.geometry))


def test_whole_blocks_stay_whole_when_they_divide_within_the_bounds():
    """Blocks of 350 and 442 households: whole blocks fit, no block is opened."""
    d = boxes_community(2, 1, [[[200, 150]], [[70, 70, 100, 100, 102]]])
    r = run(d)
    assert sorted(r.grids["households"].tolist()) == [350, 442]
    assert (r.findings["type"] != "block_divided").all()
