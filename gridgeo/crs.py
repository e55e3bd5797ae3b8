"""Coordinate reference systems: the local metric CRS, and China's shifted datums (GCJ-02, BD-09).

gridgeo computes lengths and areas only in a metric CRS, chosen here: the CGCS2000 3-degree
Gauss-Krüger zone (EPSG:4534–4554, central meridians 75°E…135°E) for data in China, UTM elsewhere.
Plans are stored in CGCS2000 geographic coordinates (EPSG:4490).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
from pyproj import CRS

from ._errors import InputError

__all__ = ["STORAGE_CRS", "metric_crs", "is_in_china", "to_metric", "ensure_crs"]

#: CRS of stored plans: CGCS2000 geographic
STORAGE_CRS = CRS.from_epsg(4490)

# rough envelope of China (lon, lat); good enough to pick a zone family
_CHINA = (73.0, 3.0, 136.0, 54.0)


def is_in_china(lon: float, lat: float) -> bool:
    """Whether a WGS-84/CGCS2000 point lies in China's rough envelope.

    >>> is_in_china(114.27, 30.59), is_in_china(2.35, 48.85)
    (True, False)
    """
    return _CHINA[0] <= lon <= _CHINA[2] and _CHINA[1] <= lat <= _CHINA[3]


def metric_crs(data: gpd.GeoDataFrame | gpd.GeoSeries, *, override: Any = None) -> CRS:
    """Choose the local metric CRS for ``data``.

    Parameters
    ----------
    data
        Any layer with a CRS; its centre decides the zone.
    override
        A CRS (anything :class:`pyproj.CRS` accepts) to use instead; it must be projected.

    Examples
    --------
    >>> from shapely import Point
    >>> wuhan = gpd.GeoSeries([Point(114.27, 30.59)], crs=4326)
    >>> metric_crs(wuhan).to_epsg()
    4547
    >>> metric_crs(gpd.GeoSeries([Point(2.35, 48.85)], crs=4326)).to_epsg()
    32631
    """
    if override is not None:
        crs = CRS.from_user_input(override)
        if not crs.is_projected:
            msg = f"metric_crs: override {crs.to_string()!r} is not a projected CRS; give a metric one such as EPSG:4545"
            raise InputError(msg)
        return crs
    if data.crs is None:
        msg = "metric_crs: the layer has no CRS; set one with --crs or gdf.set_crs(...)"
        raise InputError(msg)
    geo = data.geometry if isinstance(data, gpd.GeoDataFrame) else data
    geo = geo[~(geo.isna() | geo.is_empty)]
    if len(geo) == 0:
        msg = "metric_crs: the layer has no non-empty geometry to choose a CRS from"
        raise InputError(msg)
    x0, y0, x1, y1 = geo.to_crs(4326).total_bounds
    lon, lat = (x0 + x1) / 2, (y0 + y1) / 2
    if not (np.isfinite(lon) and np.isfinite(lat)):
        msg = "metric_crs: the layer's bounds are not finite; check the geometries and their CRS"
        raise InputError(msg)
    if is_in_china(lon, lat):
        cm = int(np.clip(round(lon / 3.0) * 3, 75, 135))
        return CRS.from_epsg(4534 + (cm - 75) // 3)
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def ensure_crs(gdf: gpd.GeoDataFrame, *, name: str, crs: Any = None) -> gpd.GeoDataFrame:
    """Return ``gdf`` with a CRS: its own, or ``crs`` when it has none; raise when neither exists.

    A ``crs`` given for a layer that already has a different CRS is an error (it would silently
    reinterpret the coordinates).
    """
    if gdf.crs is None:
        if crs is None:
            msg = f"layer {name!r} has no CRS; give one with --crs (e.g. --crs EPSG:4490) or define it in the file"
            raise InputError(msg)
        return gdf.set_crs(crs)
    if crs is not None and CRS.from_user_input(crs) != gdf.crs:
        msg = (
            f"layer {name!r} has CRS {gdf.crs.to_string()!r} but --crs {CRS.from_user_input(crs).to_string()!r} was given; "
            "drop --crs to use the file's CRS, or fix the file"
        )
        raise InputError(msg)
    return gdf


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """Reproject a layer to the metric CRS (no-op when already there)."""
    return gdf if gdf.crs == crs else gdf.to_crs(crs)
