"""The geometry helpers shared by the pipeline's modules (``gridgeo._geometry``)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridgeo._geometry import union_by


def _coverage(seed: int, n: int = 60) -> np.ndarray:
    """Voronoi regions of random points clipped to a square: polygons sharing their edges exactly."""
    rng = np.random.default_rng(seed)
    box = shapely.box(0, 0, 1000, 1000)
    pts = shapely.multipoints(rng.uniform(0, 1000, (n, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=box))
    return shapely.intersection(cells, box)


def _per_key(geoms: np.ndarray, keys: np.ndarray, n: int, union) -> list:
    """The union of each key as one call per key would make it (members in their order in ``geoms``)."""
    out = []
    for key in range(n):
        grp = geoms[keys == key]
        out.append(shapely.Polygon() if not len(grp) else grp[0] if len(grp) == 1 else union(grp))
    return out


@pytest.mark.parametrize("coverage", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_union_by_unites_every_key_in_one_call_to_the_bytes_of_a_call_per_key(monkeypatch, seed, coverage):
    geoms = _coverage(seed)
    rng = np.random.default_rng(100 + seed)
    n = 12
    keys = rng.integers(-1, n, len(geoms))  # -1: left out; some keys without members, some of one
    keys[:3] = n - 1  # a key of several members at the start
    keys[keys == 3] = 4  # key 3 empty
    keys[np.flatnonzero(keys == 5)[1:]] = 6  # key 5 of one member (when drawn)
    name = "coverage_union_all" if coverage else "union_all"
    original = getattr(shapely, name)
    expected = _per_key(geoms, keys, n, original)
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(shapely, name, counted)
    got = union_by(geoms, keys, n, coverage=coverage)
    assert len(calls) == 1  # one call per key of several members before
    assert [type(g) for g in got] == [type(e) for e in expected]
    assert [g.wkb for g in got] == [e.wkb for e in expected]
    sizes = np.bincount(keys[keys >= 0], minlength=n)
    for key in np.flatnonzero(sizes == 1):  # a key of one member: that member, as it is
        assert got[key] is geoms[keys == key][0]
    assert all(got[key].is_empty for key in np.flatnonzero(sizes == 0))


def test_union_by_with_no_key_of_several_members_makes_no_union(monkeypatch):
    geoms = _coverage(7, 10)
    monkeypatch.setattr(shapely, "coverage_union_all", lambda *a, **k: pytest.fail("no union needed"))
    got = union_by(geoms, np.array([2, -1, 0, 1, -1, 3, -1, -1, -1, -1]), 5, coverage=True)
    assert [g is geoms[i] for g, i in zip(got[:4], [2, 3, 0, 5], strict=True)] == [True] * 4
    assert got[4].is_empty
    assert all(g.is_empty for g in union_by(geoms, np.full(10, -1), 3))
