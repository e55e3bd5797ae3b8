"""The share of each grid's boundary that follows streets (街巷定界)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely import Polygon

from .layers import (
    _Communities,
    _Layer,
    _metric_geoms,
    _rec,
)


def _street_share(grids: _Layer, comm_pos: np.ndarray, comm_code: np.ndarray, comms: _Communities | None,
                  streets: gpd.GeoDataFrame, crs: CRS, snap_m: float, share_min: float, records: list, tol: float) -> None:
    """Share of each grid's boundary within ``snap_m`` of a street, the community boundary excluded:
    gridgeo's one street-alignment measure (:func:`gridgeo.partition.metrics.street_alignment`), the
    figure the quality report sums."""
    from ..partition.metrics import street_alignment

    sgeoms = _metric_geoms(streets, crs)
    sgeoms = sgeoms[~(shapely.is_missing(sgeoms) | shapely.is_empty(sgeoms))]
    stree = shapely.STRtree(sgeoms)
    zgeoms = np.where(grids.usable, grids.geoms, Polygon())
    cgeoms = comms.geoms if comms is not None else np.zeros(0, dtype=object)
    zcont = np.asarray(comm_pos, dtype=np.int64) if comms is not None else np.full(len(zgeoms), -1, dtype=np.int64)
    total, on_len = street_alignment(zgeoms, zcont, cgeoms, stree, snap_m)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(grids.usable & (total > tol), on_len / total, np.nan)
    low = np.flatnonzero(share < share_min)
    # the boundary off the streets, drawn for the grids reported only (each grid's figures come from its own
    # boundary alone, so measuring a few gives them the same figures)
    off = np.full(len(zgeoms), None, dtype=object)
    if len(low):
        off[low] = street_alignment(zgeoms[low], zcont[low], cgeoms, stree, snap_m, off_lines=True)[2]
    for g in low:
        records.append(_rec("low_street_share", grids.name, grids.ids[g], comm_code[g], measure=float(share[g]), geometry=off[g],
                            message=f"only {share[g]:.0%} of grid {grids.ids[g]}'s boundary (community boundary excluded) "
                                    f"lies within {snap_m:g} m of a street; at least {share_min:.0%} expected"))
