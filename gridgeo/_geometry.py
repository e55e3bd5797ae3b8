"""Geometry helpers shared by the pipeline's modules."""

from __future__ import annotations

import numpy as np
import shapely

__all__ = ["union_by"]


def union_by(geoms: np.ndarray, keys: np.ndarray, n: int, *, coverage: bool = False) -> np.ndarray:
    """The union of the geometries of each key ``0 .. n-1``: the grouped union (shapely has none).

    A key without members gets an empty Polygon, a key of one member that member as it is; keys below 0
    are left out. Members are united in their order in ``geoms``. With ``coverage`` the members of a
    key form a coverage (edges shared, no overlap), united by :func:`shapely.coverage_union_all`.

    >>> from shapely import box
    >>> out = union_by(np.array([box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 5, 6, 6)]), np.array([0, 0, -1]), 2)
    >>> [round(g.area, 1) for g in out], out[1].is_empty
    ([2.0, 0.0], True)
    """
    geoms = np.asarray(geoms, dtype=object)
    keys = np.asarray(keys)
    out = np.full(n, shapely.Polygon(), dtype=object)
    ok = keys >= 0
    if not ok.any():
        return out
    order = np.flatnonzero(ok)[np.argsort(keys[ok], kind="stable")]
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    union = shapely.coverage_union_all if coverage else shapely.union_all
    # one union per key; each call is vectorised inside GEOS
    for key, grp in zip(k[starts], np.split(geoms[order], starts[1:]), strict=True):
        out[key] = grp[0] if len(grp) == 1 else union(grp)
    return out
