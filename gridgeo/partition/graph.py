"""The unit graph: units (cells, blocks) as nodes, shared boundaries as edges.

Two units are adjacent when they share a boundary longer than :data:`MIN_SHARED_M` (touching at a
corner is not adjacency: a grid joined only at a point would be two polygons). Every edge carries
its shared length and how much of it runs along an arterial (``rules.arterial_classes``) or along no
street at all (a cut between buildings inside a block), measured by sampling points along the shared
boundary within ``rules.street_snap_m`` of a street centre line.

Examples
--------
>>> from shapely import box
>>> g = cell_graph(np.array([box(0, 0, 10, 10), box(10, 0, 20, 10), box(30, 0, 40, 10)]),
...                households=np.array([1, 2, 3]), block=np.array([0, 1, 2]))
>>> g.n, g.a.tolist(), g.b.tolist(), g.length.tolist()
(3, [0], [1], [10.0])
>>> contract(g, np.array([0, 0, 1])).h.tolist()
[3, 3]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from . import _fast

__all__ = ["MIN_SHARED_M", "Graph", "cell_graph", "contract", "subgraph"]

#: shortest shared boundary (m) that makes two units adjacent
MIN_SHARED_M = 0.01
#: :func:`contract` sums with the compiled :func:`._fast.contract_sums` (False: numpy, as the tests compare)
_CONTRACT_COMPILED = True
_SAMPLES = np.array([0.1, 0.3, 0.5, 0.7, 0.9])


@dataclass
class Graph:
    """An undirected unit graph with the figures the solver needs.

    Node arrays: ``h`` (households), ``area`` (m²), ``perim`` (m), ``x``/``y`` (a point inside).
    Edge arrays (``a < b``): ``length`` (shared boundary, m), ``art`` (of it along an arterial, m),
    ``nostreet`` (of it along no street, m).
    """

    h: np.ndarray
    area: np.ndarray
    perim: np.ndarray
    x: np.ndarray
    y: np.ndarray
    a: np.ndarray
    b: np.ndarray
    length: np.ndarray
    art: np.ndarray
    nostreet: np.ndarray

    @property
    def n(self) -> int:
        return len(self.h)

    @property
    def m(self) -> int:
        return len(self.a)


def cell_graph(
    geoms: np.ndarray,
    *,
    households: np.ndarray,
    block: np.ndarray,
    streets: np.ndarray | None = None,
    arterial: np.ndarray | None = None,
    snap_m: float = 3.0,
) -> Graph:
    """Adjacency of polygons that form a coverage (exactly matching shared edges).

    Parameters
    ----------
    geoms
        Unit polygons.
    households
        Households per unit.
    block
        Block of each unit: a boundary between different blocks is a street even without street data.
    streets, arterial
        Street centre lines and whether each is an arterial; None when there are no streets.
    snap_m
        A boundary point this close to a street lies along it.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    pts = shapely.point_on_surface(geoms) if n else np.zeros(0, dtype=object)
    base = dict(
        h=np.asarray(households, dtype=np.int64),
        area=shapely.area(geoms).astype(float),
        perim=shapely.length(geoms).astype(float),
        x=shapely.get_x(pts).astype(float) if n else np.zeros(0),
        y=shapely.get_y(pts).astype(float) if n else np.zeros(0),
    )
    empty = np.zeros(0, dtype=np.int64)
    if n < 2:
        return Graph(**base, a=empty, b=empty, length=np.zeros(0), art=np.zeros(0), nostreet=np.zeros(0))
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    bnd = shapely.boundary(geoms)
    shared = shapely.intersection(bnd[i], bnd[j])
    length = shapely.length(shared)
    ok = length > MIN_SHARED_M
    i, j, shared, length = i[ok], j[ok], shared[ok], length[ok]
    m = len(i)
    block = np.asarray(block)
    inter_block = block[i] != block[j]
    if streets is None or len(streets) == 0 or m == 0:
        art = np.zeros(m)
        street_share = inter_block.astype(float)
    else:
        streets = np.asarray(streets, dtype=object)
        arterial = np.zeros(len(streets), bool) if arterial is None else np.asarray(arterial, bool)
        samples = shapely.line_interpolate_point(shared[:, None], _SAMPLES[None, :], normalized=True).ravel()
        pi, si = shapely.STRtree(streets).query(samples, predicate="dwithin", distance=snap_m)
        # a street crossing the boundary near its end is not along it: keep streets running parallel
        along = _parallel(shared, pi, streets[si], samples=samples)
        pi, si = pi[along], si[along]
        near = np.zeros(len(samples), bool)
        near[pi] = True
        near_art = np.zeros(len(samples), bool)
        near_art[pi[arterial[si]]] = True
        k = len(_SAMPLES)
        street_share = near.reshape(m, k).mean(axis=1)
        art = near_art.reshape(m, k).mean(axis=1) * length
        # a block edge with no street data near it (community edge cut by the block builder) still
        # separates blocks: count it as a minor street
        street_share = np.where(inter_block, np.maximum(street_share, 1.0 - art / np.maximum(length, 1e-12)), street_share)
    nostreet = (1.0 - street_share) * length
    order = np.lexsort((j, i))
    return Graph(**base, a=i[order].astype(np.int64), b=j[order].astype(np.int64), length=length[order],
                 art=art[order], nostreet=nostreet[order])


def _parallel(shared: np.ndarray, sample_idx: np.ndarray, streets: np.ndarray, min_cos: float = 0.8, *,
              samples: np.ndarray | None = None) -> np.ndarray:
    """Whether the street near each boundary sample runs along the boundary there (angle under ~37°).
    ``samples``, when given, are the points of every sample (:data:`_SAMPLES` along each boundary), as
    computed by the caller; the boundary's direction is computed once per sample, however many streets
    are near it."""
    if not len(sample_idx):
        return np.zeros(0, bool)
    k = len(_SAMPLES)
    uniq, inv = np.unique(sample_idx, return_inverse=True)
    inv = inv.ravel()
    f = _SAMPLES[uniq % k]
    lines = shared[uniq // k]
    e1 = shapely.get_coordinates(shapely.line_interpolate_point(lines, np.maximum(f - 0.05, 0.0), normalized=True))[inv]
    e2 = shapely.get_coordinates(shapely.line_interpolate_point(lines, np.minimum(f + 0.05, 1.0), normalized=True))[inv]
    here = (shapely.line_interpolate_point(lines, f, normalized=True)[inv] if samples is None
            else samples[sample_idx])
    d = shapely.line_locate_point(streets, here)
    s1 = shapely.get_coordinates(shapely.line_interpolate_point(streets, np.maximum(d - 1.0, 0.0)))
    s2 = shapely.get_coordinates(shapely.line_interpolate_point(streets, d + 1.0))
    ev, sv = e2 - e1, s2 - s1
    norm = np.hypot(*ev.T) * np.hypot(*sv.T)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.abs((ev * sv).sum(axis=1)) / norm
    return np.where(norm > 0, cos >= min_cos, True)


def contract(g: Graph, labels: np.ndarray, n_groups: int | None = None) -> Graph:
    """The graph of groups of nodes (``labels[node]`` = group 0..n_groups-1).

    Households and areas add up; a group's perimeter is its members' minus twice their shared edges;
    edges between two groups merge (lengths add up); edges inside a group vanish.
    """
    labels = np.asarray(labels, dtype=np.int64)
    k = int(labels.max()) + 1 if n_groups is None else n_groups
    if g.n == 0:
        k = 0 if n_groups is None else n_groups
    if _CONTRACT_COMPILED and g.n and labels.min() >= 0 and labels.max() < k and _fast.compiled():
        # compiled: the same sums in the same order (a few microseconds instead of a dozen numpy calls;
        # the exact search contracts thousands of small regions)
        h, area, perim, x, y, a, b, length, art, nostreet = _fast.contract_sums(g, labels, k)
        return Graph(h=h.round().astype(np.int64), area=area, perim=perim, x=x, y=y, a=a, b=b, length=length,
                     art=art, nostreet=nostreet)
    la, lb = labels[g.a], labels[g.b]
    inside = la == lb
    internal = np.bincount(la[inside], weights=g.length[inside], minlength=k)
    area = np.bincount(labels, weights=g.area, minlength=k)
    # a point of the group: the member with the largest area
    order = np.lexsort((-g.area, labels))
    first = order[np.r_[True, labels[order][1:] != labels[order][:-1]]] if g.n else np.zeros(0, np.int64)
    x = np.zeros(k)
    y = np.zeros(k)
    x[labels[first]] = g.x[first]
    y[labels[first]] = g.y[first]
    ca, cb = np.minimum(la, lb)[~inside], np.maximum(la, lb)[~inside]
    if len(ca):
        key = ca * k + cb
        uk, inv = np.unique(key, return_inverse=True)
        inv = inv.ravel()
        length = np.bincount(inv, weights=g.length[~inside])
        art = np.bincount(inv, weights=g.art[~inside])
        nostreet = np.bincount(inv, weights=g.nostreet[~inside])
        a, b = uk // k, uk % k
    else:
        a = b = np.zeros(0, np.int64)
        length = art = nostreet = np.zeros(0)
    return Graph(
        h=np.bincount(labels, weights=g.h, minlength=k).round().astype(np.int64),
        area=area,
        perim=np.bincount(labels, weights=g.perim, minlength=k) - 2 * internal,
        x=x,
        y=y,
        a=a.astype(np.int64),
        b=b.astype(np.int64),
        length=length,
        art=art,
        nostreet=nostreet,
    )


def subgraph(g: Graph, nodes: np.ndarray) -> Graph:
    """The graph induced by ``nodes`` (renumbered 0..len(nodes)-1 in the given order)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    loc = np.full(g.n, -1, dtype=np.int64)
    loc[nodes] = np.arange(len(nodes))
    la, lb = loc[g.a], loc[g.b]
    keep = (la >= 0) & (lb >= 0)
    a, b = la[keep], lb[keep]
    swap = a > b
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    return type(g)(  # every field given: what dataclasses.replace makes, without its field walk
        h=g.h[nodes],
        area=g.area[nodes],
        perim=g.perim[nodes],
        x=g.x[nodes],
        y=g.y[nodes],
        a=a,
        b=b,
        length=g.length[keep],
        art=g.art[keep],
        nostreet=g.nostreet[keep],
    )
