"""Coordinate reference systems: the local metric CRS, and China's shifted datums (GCJ-02, BD-09).

gridgeo computes lengths and areas only in a metric CRS, chosen here: the CGCS2000 3-degree
Gauss-Krüger zone (EPSG:4534–4554, central meridians 75°E…135°E) for data in China, UTM elsewhere.
Plans are stored in CGCS2000 geographic coordinates (EPSG:4490).

Data digitised from AMap/高德, Tencent or Google China is in GCJ-02, from Baidu/百度 in BD-09: shifted
100–700 m (BD-09 up to about 1.5 km) from WGS-84, with no EPSG code. :func:`convert_datum` (layers),
:func:`convert_geometries` (geometries) and the array functions (``wgs84_to_gcj02`` ...) convert
between them, vectorised, with the inverses solved iteratively; :func:`layer_shift_warnings` and
:func:`detect_shift` find layers that look shifted against the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from ._errors import InputError

__all__ = [
    "STORAGE_CRS",
    "DATUMS",
    "DatumShift",
    "metric_crs",
    "is_in_china",
    "to_metric",
    "ensure_crs",
    "is_metric",
    "require_layers",
    "wgs84_to_gcj02",
    "gcj02_to_wgs84",
    "wgs84_to_bd09",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "bd09_to_gcj02",
    "convert_geometries",
    "convert_datum",
    "detect_shift",
    "layer_shift_warnings",
    "shift_advice",
    "metre_crs_advice",
    "projected_outside",
]

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
        try:
            crs = CRS.from_user_input(override)
        except CRSError:
            msg = f"metric_crs: --metric-crs {override!r} is not a CRS pyproj knows; give a projected one such as EPSG:4547"
            raise InputError(msg) from None
        if not is_metric(crs):
            what = ("a Mercator projection, whose metres grow with latitude (areas 37% too large at 31°N)" if crs.is_projected
                    and _is_mercator(crs) else "not a projected CRS")
            msg = (f"metric_crs: override {crs.to_string()!r} is {what}; give a metric one such as EPSG:4545 "
                   "(CGCS2000 3° Gauss-Krüger, EPSG:4534–4554) or leave it to gridgeo")
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


def is_metric(crs: Any) -> bool:
    """Whether ``crs`` is projected with every axis in metres and true to scale where it is used: where
    gridgeo measures areas and lengths. Web Mercator (EPSG:3857) and the other normal Mercator projections
    are not: their metres grow with latitude (at 31°N lengths 17% and areas 37% too large, so footprint ×
    floors households and every tolerance with them).

    >>> is_metric("EPSG:4547"), is_metric("EPSG:32650"), is_metric("EPSG:4490"), is_metric("EPSG:3857"), is_metric(None)
    (True, True, False, False, False)
    """
    if crs is None:
        return False
    crs = CRS.from_user_input(crs)
    return (crs.is_projected and all((a.unit_name or "").lower() in ("metre", "meter", "m") for a in crs.axis_info)
            and not _is_mercator(crs))


def _is_mercator(crs: CRS) -> bool:
    """A normal (equatorial) Mercator projection such as Web Mercator: scale 1/cos(latitude), not local."""
    op = crs.coordinate_operation
    method = (op.method_name if op is not None else "").lower()
    return "mercator" in method and "transverse" not in method and "oblique" not in method


def require_layers(func: str, layers: Mapping[str, Any], *, metric: bool = False, series: bool = False,
                   required: Iterable[str] = ()) -> None:
    """Check input layers before any work: every problem found, raised as one :class:`InputError`.

    Each layer must be a GeoDataFrame (or a GeoSeries with ``series``) with a CRS, in a metric CRS
    (:func:`is_metric`) with ``metric``. ``None`` is a layer not given, skipped unless its name is
    ``required``.

    >>> from shapely import Point
    >>> ok = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs=4547)
    >>> require_layers("f", {"grids": ok, "streets": None}, metric=True)
    >>> require_layers("f", {"grids": gpd.GeoDataFrame(geometry=[Point(0, 0)]), "buildings": [1]})
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: f: 2 problems: grids has no CRS; set one with grids.set_crs(...) (plans are stored in EPSG:4490) or give --crs; buildings must be a GeoDataFrame, got list; read it with gridgeo.io.read_layer or geopandas.read_file
    """
    kinds = (gpd.GeoDataFrame, gpd.GeoSeries) if series else gpd.GeoDataFrame
    problems = []
    for name, gdf in layers.items():
        if gdf is None and name not in required:
            continue
        if not isinstance(gdf, kinds):
            what = "a GeoDataFrame or GeoSeries" if series else "a GeoDataFrame"
            problems.append(f"{name} must be {what}, got {type(gdf).__name__}; "
                            "read it with gridgeo.io.read_layer or geopandas.read_file")
        elif metric and not is_metric(gdf.crs):
            found = None if gdf.crs is None else gdf.crs.to_string()
            problems.append(f"{name} must be in a metric (projected) CRS, found {found!r}; "
                            "reproject with gdf.to_crs(gridgeo.crs.metric_crs(gdf))")
        elif gdf.crs is None:
            problems.append(f"{name} has no CRS; set one with {name.rpartition(' ')[2]}.set_crs(...) "
                            "(plans are stored in EPSG:4490) or give --crs")
    if len(problems) == 1:
        raise InputError(f"{func}: {problems[0]}")
    if problems:
        raise InputError(f"{func}: {len(problems)} problems: {'; '.join(problems)}")


def ensure_crs(gdf: gpd.GeoDataFrame, *, name: str, crs: Any = None) -> gpd.GeoDataFrame:
    """Return ``gdf`` with a CRS: its own, or ``crs`` when it has none; raise when neither exists.

    A ``crs`` given for a layer that already has a different CRS is an error (it would silently
    reinterpret the coordinates).
    """
    if gdf.crs is None:
        if crs is None:
            x0, y0, x1, y1 = gdf.total_bounds if len(gdf) else (np.nan,) * 4
            if np.isfinite([x0, y0, x1, y1]).all() and max(abs(x0), abs(x1), abs(y0), abs(y1)) > 1000:  # noqa: PLR2004
                msg = (f"layer {name!r} has no CRS; give one with {metre_crs_advice(x0, x1)} or define it in the file "
                       f"(its coordinates are metres: x {x0:.6g}…{x1:.6g}, y {y0:.6g}…{y1:.6g})")
            else:
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


def _zone_crs(x0: float, x1: float) -> CRS | None:
    """The CGCS2000 Gauss-Krüger CRS of eastings that carry their zone number in front (38,450,000 m: 3° zone 38,
    EPSG:4526; 20,450,000 m: 6° zone 20, EPSG:4498), or None for eastings without one (450,000 m)."""
    zone = math.floor(x0 / 1_000_000)
    if zone != math.floor(x1 / 1_000_000):
        return None
    if 25 <= zone <= 45:  # noqa: PLR2004  3° zones 25-45 (75°E-135°E)
        return CRS.from_epsg(4513 + zone - 25)
    if 13 <= zone <= 23:  # noqa: PLR2004  6° zones 13-23 (75°E-135°E)
        return CRS.from_epsg(4491 + zone - 13)
    return None


def _without_zone(crs: CRS) -> CRS | None:
    """The Gauss-Krüger CRS by central meridian (eastings without the zone number) of a CGCS2000 zone CRS
    (EPSG:4526, 3° zone 38, gives EPSG:4547, CM 114°E), or None for any other CRS."""
    code = crs.to_epsg() or 0
    if 4513 <= code <= 4533:  # noqa: PLR2004  3° zones 25-45
        return CRS.from_epsg(code + 21)
    if 4491 <= code <= 4501:  # noqa: PLR2004  6° zones 13-23
        return CRS.from_epsg(code + 11)
    return None


def metre_crs_advice(x0: float, x1: float) -> str:
    """The ``--crs`` to give coordinates in Gauss-Krüger metres spanning eastings ``x0``…``x1``: the zone's own CRS
    when the eastings begin with the zone number, else the 3° zones by central meridian.

    >>> metre_crs_advice(38450097.0, 38453788.0)
    '--crs EPSG:4526 (CGCS2000 / 3-degree Gauss-Kruger zone 38: the eastings begin with the zone number 38)'
    >>> metre_crs_advice(450097.0, 453788.0)
    '--crs EPSG:4547 for CGCS2000 3° Gauss-Krüger at 114°E (EPSG:4534–4554 for 75°E–135°E)'
    """
    zone = _zone_crs(x0, x1)
    if zone is not None:
        return (f"--crs EPSG:{zone.to_epsg()} ({zone.name}: the eastings begin with the zone number "
                f"{math.floor(x0 / 1_000_000)})")
    return "--crs EPSG:4547 for CGCS2000 3° Gauss-Krüger at 114°E (EPSG:4534–4554 for 75°E–135°E)"


#: how far (degrees) a projected layer may lie beyond its CRS's area of use before it is refused as misread
_BEYOND_USE_DEG = 10.0
#: projected coordinates all within this many metres of the origin: a local frame, not checked against the area of use
_LOCAL_M = 100_000.0


def projected_outside(bounds: ArrayLike, crs: CRS) -> str | None:
    """Why coordinates with ``bounds`` (x0, y0, x1, y1) cannot be in the projected ``crs``, or None when they can.

    Eastings with the zone number in front (38,450,000 m) read in a Gauss-Krüger CRS without it (EPSG:4547)
    project to infinity; x and y exchanged land thousands of kilometres from where the CRS is defined. Either
    would reach the partition as a layer far from every other, or as a non-finite bound.

    >>> print(projected_outside([38450097, 3412043, 38453788, 3413943], CRS.from_epsg(4547)))
    x 3.84501e+07…3.84538e+07, y 3.41204e+06…3.41394e+06 are no place in EPSG:4547 (they project to no longitude and latitude); give the layer's real CRS: --crs EPSG:4526 (CGCS2000 / 3-degree Gauss-Kruger zone 38: the eastings begin with the zone number 38)
    >>> projected_outside([450097, 3412043, 453788, 3413943], CRS.from_epsg(4547)) is None
    True
    >>> projected_outside([0, 0, 400, 100], CRS.from_epsg(4547)) is None  # a local frame near the origin
    True
    """
    x0, y0, x1, y1 = (float(v) for v in bounds)
    if not all(map(math.isfinite, (x0, y0, x1, y1))) or not crs.is_projected:
        return None
    lon, lat = _lonlat_of(crs, [x0, x1, x0, x1], [y0, y0, y1, y1])
    found = f"x {x0:.6g}…{x1:.6g}, y {y0:.6g}…{y1:.6g}"
    name = crs.to_string()
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        where = "they project to no longitude and latitude"
    else:
        use = crs.area_of_use
        # coordinates within _LOCAL_M of the CRS's origin are a local frame (a drawing, a test's town), taken as
        # given: no projected CRS of a place in China comes near its origin (northings there are 2,000 km and more)
        if use is None or max(abs(x0), abs(x1), abs(y0), abs(y1)) < _LOCAL_M:
            return None
        far = max(use.west - lon.min(), lon.max() - use.east, use.south - lat.min(), lat.max() - use.north)
        if far <= _BEYOND_USE_DEG:
            return None
        where = (f"they come to {lon.mean():.2f}°E {lat.mean():.2f}°N, {far:.0f}° beyond where it is defined "
                 f"({use.west:g}–{use.east:g}°E, {use.south:g}–{use.north:g}°N)")
    swapped_lon, swapped_lat = _lonlat_of(crs, [y0, y1], [x0, x1])
    use = crs.area_of_use
    if (use is not None and np.isfinite(swapped_lon).all() and np.isfinite(swapped_lat).all()
            and (use.west <= swapped_lon).all() and (swapped_lon <= use.east).all()
            and (use.south <= swapped_lat).all() and (swapped_lat <= use.north).all()):
        fix = "x and y look exchanged: put the easting (x) first"
    elif max(abs(x0), abs(x1)) >= 1_000_000 and _zone_crs(x0, x1) is not None:
        fix = f"give the layer's real CRS: {metre_crs_advice(x0, x1)}"
    elif max(abs(x0), abs(x1)) < 1_000_000 and (plain := _without_zone(crs)) is not None:
        fix = f"give the layer's real CRS: --crs EPSG:{plain.to_epsg()} ({plain.name}: the eastings carry no zone number)"
    else:
        fix = "give the layer's real CRS (--crs, or the one stored in the file)"
    return f"{found} are no place in {name} ({where}); {fix}"


def _lonlat_of(crs: CRS, x: list[float], y: list[float]) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _to_lonlat(crs).transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


@lru_cache(maxsize=32)
def _to_lonlat(crs: CRS) -> Transformer:
    return Transformer.from_crs(crs, 4326, always_xy=True)


def to_metric(gdf: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
    """Reproject a layer to the metric CRS (no-op when already there)."""
    return gdf if gdf.crs == crs else gdf.to_crs(crs)


# ------------------------------------------------------------------------------------------------
# GCJ-02 and BD-09: the shifted datums of Chinese web maps
#
# GCJ-02 (国测局坐标, "Mars coordinates": AMap/高德, Tencent/腾讯, Google China) adds a smooth,
# position-dependent offset of 100-700 m to WGS-84 longitude/latitude; BD-09 (Baidu/百度) applies a
# further offset to GCJ-02. The forward formulas below are the widely published ones (e.g.
# wandergis/coordtransform, googollee/eviltransform); no inverse formula exists, so the inverses are
# solved by fixed-point iteration to well under a millimetre.

#: datum names accepted by :func:`convert_geometries` and :func:`convert_datum`
DATUMS = ("wgs84", "gcj02", "bd09")

_KRASOVSKY_A = 6378245.0  # semi-major axis of the Krasovsky 1940 ellipsoid used by the GCJ-02 formula
_KRASOVSKY_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = math.pi * 3000.0 / 180.0  # the BD-09 formula's constant
# where the shift applies: the envelope the standard algorithm uses (lon0, lat0, lon1, lat1)
_SHIFT_ENVELOPE = (72.004, 0.8293, 137.8347, 55.8271)
_INVERSE_TOLERANCE_DEG = 1e-11  # about a micrometre; the iteration stops below it
_INVERSE_MAX_ITER = 50


def _as_lonlat(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return x.copy(), y.copy()


def _unwrap(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    # 0-d input gives numpy scalars back, arrays stay arrays
    return (x[()], y[()]) if x.ndim == 0 else (x, y)


def _in_shift_envelope(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = _SHIFT_ENVELOPE
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)  # NaN -> False -> unchanged


def _gcj02_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset formula applied inside the envelope (arrays in, new arrays out)."""
    x, y = lon - 105.0, lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(radlat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_KRASOVSKY_A / sqrt_magic * np.cos(radlat) * np.pi)
    inside = _in_shift_envelope(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _bd09_forward(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The BD-09 formula (GCJ-02 in, BD-09 out) applied inside the envelope."""
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    inside = _in_shift_envelope(lon, lat)
    return np.where(inside, z * np.cos(theta) + 0.0065, lon), np.where(inside, z * np.sin(theta) + 0.006, lat)


def _invert(forward, lon: np.ndarray, lat: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x, y) == (lon, lat)`` by fixed-point iteration from the first guess (x, y).

    The offsets change by at most a few metres per kilometre, so each step shrinks the error about a
    thousandfold; a handful of steps reach the tolerance. Points outside the envelope stay unchanged.
    """
    inside = _in_shift_envelope(lon, lat)
    x, y = np.where(inside, x, lon), np.where(inside, y, lat)
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        dx, dy = np.where(inside, lon - fx, 0.0), np.where(inside, lat - fy, 0.0)
        x, y = x + dx, y + dy
        step = np.fmax(np.abs(dx), np.abs(dy))
        if not np.any(step > _INVERSE_TOLERANCE_DEG):  # NaN steps never block convergence
            break
    return x, y


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert WGS-84 longitude/latitude to GCJ-02 (AMap/高德, Tencent, Google China).

    Vectorised over array-likes (broadcast together); points outside China come back unchanged, as in
    the standard algorithm.

    Parameters
    ----------
    lon, lat
        WGS-84 (or CGCS2000) longitude and latitude in degrees; scalars or arrays.

    Returns
    -------
    tuple
        GCJ-02 ``(lon, lat)`` as float arrays (numpy scalars for scalar input).

    See Also
    --------
    gcj02_to_wgs84 : the inverse, solved iteratively.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02([116.404, 2.35], [39.915, 48.85])  # Beijing; Paris is outside China
    >>> lon.round(8).tolist(), lat.round(8).tolist()
    ([116.4102445, 2.35], [39.91640428, 48.85])
    """
    return _unwrap(*_gcj02_forward(*_as_lonlat(lon, lat)))


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert GCJ-02 longitude/latitude to WGS-84, exactly inverting :func:`wgs84_to_gcj02`.

    The inverse is solved by fixed-point iteration until the change is below 1e-11 degrees, so
    ``gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))`` returns the input within a micrometre (the common
    one-step formula is off by up to a metre or more).

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees; scalars or arrays.

    Returns
    -------
    tuple
        WGS-84 ``(lon, lat)``; points outside China unchanged.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84([114.2754138, 2.35], [30.5875437, 48.85])  # Wuhan; Paris unchanged
    >>> lon.round(6).tolist(), lat.round(6).tolist()
    ([114.27, 2.35], [30.59, 48.85])
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(114.27, 30.59))  # a round trip: back within 1e-10°
    >>> bool(abs(lon - 114.27) < 1e-10 and abs(lat - 30.59) < 1e-10)
    True
    """
    glon, glat = _as_lonlat(lon, lat)
    flon, flat = _gcj02_forward(glon, glat)
    # first guess: subtract the offset found at the GCJ-02 point itself
    return _unwrap(*_invert(_gcj02_forward, glon, glat, 2 * glon - flon, 2 * glat - flat))


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert GCJ-02 longitude/latitude to BD-09 (Baidu/百度).

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09([116.404], [39.915])
    >>> lon.round(8).tolist(), lat.round(8).tolist()
    ([116.41036949], [39.92133699])
    """
    return _unwrap(*_bd09_forward(*_as_lonlat(lon, lat)))


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert BD-09 longitude/latitude to GCJ-02, exactly inverting :func:`gcj02_to_bd09`.

    Starts from Baidu's approximate inverse formula and iterates to below 1e-11 degrees.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(*gcj02_to_bd09([116.404], [39.915]))
    >>> bool(abs(lon[0] - 116.404) < 1e-10 and abs(lat[0] - 39.915) < 1e-10)
    True
    """
    blon, blat = _as_lonlat(lon, lat)
    x, y = blon - 0.0065, blat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _unwrap(*_invert(_bd09_forward, blon, blat, z * np.cos(theta), z * np.sin(theta)))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert WGS-84 longitude/latitude to BD-09 (through GCJ-02).

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09([114.27], [30.59])
    >>> lon.round(5).tolist(), lat.round(5).tolist()
    ([114.28193], [30.59344])
    """
    return _unwrap(*_bd09_forward(*_gcj02_forward(*_as_lonlat(lon, lat))))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Any, Any]:
    """Convert BD-09 longitude/latitude to WGS-84 (through GCJ-02, both steps solved iteratively).

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09([114.27, 2.35], [30.59, 48.85]))
    >>> bool(np.abs(lon - [114.27, 2.35]).max() < 1e-10 and np.abs(lat - [30.59, 48.85]).max() < 1e-10)
    True
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# ------------------------------------------------------------------------------------------------
# geometries and layers

_CONVERSIONS: dict[tuple[str, str], Callable[[ArrayLike, ArrayLike], tuple[Any, Any]]] = {
    ("wgs84", "gcj02"): wgs84_to_gcj02,
    ("gcj02", "wgs84"): gcj02_to_wgs84,
    ("wgs84", "bd09"): wgs84_to_bd09,
    ("bd09", "wgs84"): bd09_to_wgs84,
    ("gcj02", "bd09"): gcj02_to_bd09,
    ("bd09", "gcj02"): bd09_to_gcj02,
}
_DATUM_ALIASES = {"wgs84": "wgs84", "cgcs2000": "wgs84", "gcj02": "gcj02", "bd09": "bd09", "bd09ll": "bd09"}
# geographic CRSs whose longitude/latitude are taken as WGS-84 as they are (CGCS2000 differs by centimetres)
_LONLAT_EPSG = {4326, 4490}


def _datum(value: Any, *, arg: str, func: str) -> str:
    key = str(value).lower().replace("-", "").replace("_", "").replace(" ", "") if isinstance(value, str) else None
    if key not in _DATUM_ALIASES:
        msg = (
            f"{func}: {arg}={value!r} is not a known datum; valid choices: {', '.join(repr(d) for d in DATUMS)} "
            "(GCJ-02 for AMap/Tencent data, BD-09 for Baidu data)"
        )
        raise InputError(msg)
    return _DATUM_ALIASES[key]


def _lonlat_function(src: str, dst: str) -> Callable[..., tuple[np.ndarray, ...]]:
    convert = _CONVERSIONS[(src, dst)]

    def transform(x: np.ndarray, y: np.ndarray, *z: np.ndarray) -> tuple[np.ndarray, ...]:
        nx, ny = convert(x, y)
        return (np.asarray(nx, dtype=float), np.asarray(ny, dtype=float), *z)

    return transform


def convert_geometries(geometries: Any, *, src: str, dst: str) -> Any:
    """Convert geometries given in longitude/latitude from one datum to another.

    Every coordinate of every geometry type is converted in one vectorised call
    (:func:`shapely.transform`); None and empty geometries pass through, Z values are kept.

    Parameters
    ----------
    geometries
        A shapely geometry, an array-like of them, or a GeoSeries in a geographic CRS (or none),
        with coordinates in degrees.
    src, dst
        Datum of the input and of the result: ``"wgs84"`` (also CGCS2000), ``"gcj02"`` or ``"bd09"``.

    Returns
    -------
    Geometry, numpy.ndarray or GeoSeries
        The same kind of object as given (a GeoSeries keeps its index, name and CRS).

    Raises
    ------
    InputError
        For an unknown datum name, or a GeoSeries in a projected CRS (use :func:`convert_datum`).

    Examples
    --------
    >>> from shapely import Point, LineString
    >>> shapely.to_wkt(convert_geometries(Point(114.27, 30.59), src="wgs84", dst="gcj02"), rounding_precision=6)
    'POINT (114.275414 30.587544)'
    >>> out = convert_geometries([LineString([(114.27, 30.59), (114.28, 30.6)]), Point(), None], src="gcj02", dst="wgs84")
    >>> [g.wkt if g is not None else None for g in out][1:]
    ['POINT EMPTY', None]
    """
    src = _datum(src, arg="src", func="convert_geometries")
    dst = _datum(dst, arg="dst", func="convert_geometries")
    if isinstance(geometries, gpd.GeoSeries):
        crs = geometries.crs
        if crs is not None and not crs.is_geographic:
            msg = (
                f"convert_geometries: the GeoSeries is in {crs.to_string()!r}, a projected CRS, but GCJ-02/BD-09 shifts "
                "apply to longitude/latitude; use convert_datum(...), which reprojects, or .to_crs(4326) first"
            )
            raise InputError(msg)
        values = convert_geometries(np.asarray(geometries.array, dtype=object), src=src, dst=dst)
        return gpd.GeoSeries(values, index=geometries.index, crs=crs, name=geometries.name)
    if not isinstance(geometries, shapely.Geometry) and geometries is not None:
        geometries = np.asarray(geometries, dtype=object)
    if src == dst:
        return shapely.transform(geometries, lambda xy: xy, include_z=None)  # a copy, like the other paths
    return shapely.transform(geometries, _lonlat_function(src, dst), include_z=None, interleaved=False)


def convert_datum(gdf: gpd.GeoDataFrame, *, src: str, dst: str) -> gpd.GeoDataFrame:
    """Return a copy of a layer with its geometries converted from datum ``src`` to ``dst``.

    Use it for data digitised from AMap/高德 or Tencent (GCJ-02) or Baidu/百度 (BD-09): such files
    usually claim EPSG:4326 but are shifted 100–700 m. A layer in EPSG:4326 or EPSG:4490 is converted
    as it is; one in another CRS (say EPSG:3857 from web-map tiles) is reprojected to EPSG:4326,
    converted and reprojected back. The result keeps the layer's CRS, index, columns and geometry
    column name (only the active geometry column is converted); the input is never modified.

    Parameters
    ----------
    gdf
        The layer; it must have a CRS.
    src, dst
        ``"wgs84"`` (also CGCS2000), ``"gcj02"`` or ``"bd09"``.

    Raises
    ------
    InputError
        For an unknown datum name or a layer without a CRS.

    Examples
    --------
    >>> from shapely import Point
    >>> amap = gpd.GeoDataFrame({"name": ["school"]}, geometry=[Point(114.2754138, 30.5875437)], crs=4326)
    >>> wgs = convert_datum(amap, src="gcj02", dst="wgs84")
    >>> wgs.geometry.x.round(5).tolist(), wgs.geometry.y.round(5).tolist(), wgs.crs.to_epsg()
    ([114.27], [30.59], 4326)
    """
    src = _datum(src, arg="src", func="convert_datum")
    dst = _datum(dst, arg="dst", func="convert_datum")
    if gdf.crs is None:
        msg = (
            "convert_datum: the layer has no CRS; GCJ-02/BD-09 data is longitude/latitude, "
            "so set it with gdf.set_crs(4326) (or --crs EPSG:4326) first"
        )
        raise InputError(msg)
    out = gdf.copy()
    if src == dst:
        return out
    geo = gdf.geometry
    direct = geo.crs.is_geographic and (geo.crs.to_epsg() in _LONLAT_EPSG or geo.crs == CRS.from_user_input("OGC:CRS84"))
    lonlat = geo if direct else geo.to_crs(4326)
    moved = convert_geometries(lonlat, src=src, dst=dst)
    out[geo.name] = moved if direct else moved.to_crs(geo.crs)
    return out


# ------------------------------------------------------------------------------------------------
# detecting a shifted layer
#
# Layers that belong together are aligned at a fine scale: boundaries run along streets, buildings
# keep off them, streets meet at junctions. detect_shift measures that fine structure for each pair of
# layers as given and with one of them converted between WGS-84, GCJ-02 and BD-09, and reports a pair
# when a conversion shows clearly more structure than the layers as given (see its docstring).
# Calibration (seeded): aligned real data (Wuhan OSM major vs minor streets, the 江汉区 outline vs
# its streets, two random halves of the Suzhou footprints) is never reported; the same data with one
# part converted to GCJ-02 or BD-09 is, with a structure of 0.07-0.13 against 0.02 as given; unrelated
# layers give gains under 0.03 against a required 0.07-0.1.

_SHIFT_SAMPLES = 4000  # points sampled along each layer's linework, per direction of a pair
_SHIFT_MIN_SAMPLES = 30  # fewer usable points: the pair is not judged
_SHIFT_MIN_OFFSET_M = 30.0  # conversions moving the data less than this (outside China) are not tested
_SHIFT_MAX_OFFSET_M = 2000.0  # no reading moves data further than this
# background: each reading moved by 50 and 100 m, alternately, in 8 directions off the axes
_SHIFT_JITTERS_M = np.array([[r * np.cos(a), r * np.sin(a)] for r, a in zip([50.0, 100.0] * 4, np.pi / 8 + np.arange(8) * np.pi / 4)])
_SHIFT_MARGIN = 0.04  # a conversion must beat the layers as they are by this much structure (KS units)
_SHIFT_MIN_STRUCTURE = 0.06  # and show at least this much structure itself
_SHIFT_CAP_M = 250.0  # distances are measured up to this
_SHIFT_SPACING_M = 2.0  # the other layer's linework is represented by points this far apart ...
_SHIFT_MAX_POINTS = 1_000_000  # ... or further apart, to stay within this many points
_SHIFT_NOISE = 3.0  # with few points the margin grows to this / sqrt(points)

_DATUM_LABELS = {"wgs84": "WGS-84", "gcj02": "GCJ-02", "bd09": "BD-09"}
_DATUM_SOURCES = {"gcj02": "AMap/Tencent", "bd09": "Baidu"}


@dataclass(frozen=True)
class DatumShift:
    """A pair of layers that aligns better after a datum conversion than as given.

    Attributes
    ----------
    layer, against
        The layer that looks shifted and the layer it was compared with.
    datum, against_datum
        The reading that aligns them: ``layer`` in ``datum`` while ``against`` is in ``against_datum``
        (normally ``"wgs84"``).
    offset_m
        Median distance between the two readings of ``layer``, in metres.
    structure, structure_as_is
        Alignment structure (a Kolmogorov–Smirnov distance, 0–1) with the conversion and as given.
    """

    layer: str
    against: str
    datum: str
    against_datum: str
    offset_m: float
    structure: float
    structure_as_is: float

    @property
    def message(self) -> str:
        """A one-line warning for the user, naming the option that fixes it."""
        return _shift_message(self.layer, [self.against], self.datum, self.against_datum, self.offset_m)


def _datum_option(layer: str, datum: str) -> str:
    return f"--{layer.replace('_', '-')}-datum {datum}"


def _shift_message(layer: str, against: list[str], datum: str, against_datum: str, offset_m: float) -> str:
    others = " and ".join(repr(a) for a in against)
    label = _DATUM_LABELS[datum]
    if against_datum == "wgs84":
        return (
            f"layer {layer!r} looks shifted ~{offset_m:.0f} m against {others} ({label} offset?); "
            f"if it was digitised from {_DATUM_SOURCES[datum]}, read it with {_datum_option(layer, datum)}"
        )
    options = " ".join([_datum_option(layer, datum), *(_datum_option(a, against_datum) for a in against)])
    return (
        f"layer {layer!r} looks shifted ~{offset_m:.0f} m against {others} ({label} against {_DATUM_LABELS[against_datum]}?); "
        f"if {layer!r} came from {_DATUM_SOURCES[datum]} and {others} from {_DATUM_SOURCES[against_datum]}, "
        f"read them with {options}"
    )


@lru_cache(maxsize=8)
def _lonlat_to(wkt: str) -> Transformer:
    return Transformer.from_crs(4326, CRS.from_wkt(wkt), always_xy=True)


def _linework(geoms: np.ndarray) -> np.ndarray:
    """Single-part linework: polygon boundaries, lines and points as they are; nothing empty or missing."""
    parts = shapely.get_parts(geoms[~shapely.is_missing(geoms)])  # explodes multi-parts and collections
    parts = parts[~shapely.is_empty(parts)]
    polygons = shapely.get_dimensions(parts) == 2
    parts[polygons] = shapely.boundary(parts[polygons])
    return shapely.get_parts(parts)


def _sample_points(lines: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """About ``n`` (x, y) points: half spread evenly along the linework, half drawn from its vertices.

    The vertices carry street ends and junctions and building corners; the even spread carries long
    straight boundaries. Point layers give their points.
    """
    dims = shapely.get_dimensions(lines)
    vertices = shapely.get_coordinates(lines)
    if len(vertices) == 0:
        return vertices
    take = rng.choice(len(vertices), size=min(n // 2 if np.any(dims >= 1) else n, len(vertices)), replace=False)
    parts = [vertices[np.sort(take)]]
    lines = lines[dims >= 1]
    lengths = shapely.length(lines)
    if len(lines) and lengths.sum() > 0:
        pick = rng.choice(len(lines), size=n - len(take), p=lengths / lengths.sum())
        parts.append(shapely.get_coordinates(shapely.line_interpolate_point(lines[pick], rng.random(len(pick)), normalized=True)))
    return np.concatenate(parts)


def _vertices_every(lines: np.ndarray, max_points: int) -> np.ndarray:
    """(x, y) points along the linework at most every 2 m (coarser when that would exceed max_points)."""
    parts = shapely.get_parts(lines)
    is_line = shapely.get_dimensions(parts) >= 1
    spacing = max(_SHIFT_SPACING_M, float(shapely.length(parts[is_line]).sum()) / max_points)
    return shapely.get_coordinates(np.concatenate([parts[~is_line], shapely.segmentize(parts[is_line], spacing)]))


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov distance (0: same distribution, 1: disjoint)."""
    a, b = np.sort(a), np.sort(b)
    v = np.concatenate([a, b])
    return float(np.max(np.abs(np.searchsorted(a, v, side="right") / len(a) - np.searchsorted(b, v, side="right") / len(b))))


#: side (m) of the cells whose Z-order (Morton) curve orders the points of one k-d tree query
_QUERY_CELL_M = 32.0


def _z_order(xy: np.ndarray, cell: float = _QUERY_CELL_M) -> np.ndarray:
    """The points' order along a Z-order (Morton) curve over square cells of ``cell`` metres: points near
    each other come near each other (ties in input order)."""
    if not len(xy):
        return np.zeros(0, dtype=np.int64)
    ij = np.floor((xy - np.nanmin(xy, axis=0)) / cell)
    ij = np.clip(np.nan_to_num(ij), 0, 2**31 - 1).astype(np.uint64)
    spread = []
    for v in ij.T:  # each coordinate's 31 bits spread to the even bits of 62
        v = (v | (v << np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x3333333333333333)
        v = (v | (v << np.uint64(1))) & np.uint64(0x5555555555555555)
        spread.append(v)
    return np.argsort(spread[0] | (spread[1] << np.uint64(1)), kind="stable")


def _vertex_tree(xy: np.ndarray) -> Any:
    """The k-d tree of the other layer's points for :func:`_nearest_distances`: leaves of 64 points, boxes as
    split (not shrunk to their points). The nearest distances are those of any k-d tree of these points
    (scipy's defaults, leaves of 16 and shrunk boxes, give the same values); on a Wuhan district this one
    took 0.4 s less CPU to build and a third less to query."""
    from scipy.spatial import KDTree  # scipy comes with scikit-learn

    return KDTree(xy, leafsize=64, compact_nodes=False)


def _nearest_distances(tree: Any, xy: np.ndarray, upper: float) -> np.ndarray:
    """``tree.query(xy, distance_upper_bound=upper, workers=1)[0]``: each point's distance to its nearest
    point of the k-d tree (inf beyond ``upper``), the same values, with the points asked in Z-order: a
    point's search then walks nodes its predecessor just visited (the tree's memory stays in the CPU
    cache): the datum-shift check's queries on a Wuhan district (1.4 million points) took 1.5–2 times less
    CPU so."""
    order = _z_order(xy)
    out = np.empty(len(xy))
    out[order] = tree.query(xy[order], distance_upper_bound=upper, workers=1)[0]
    return out


def _in_metric(lines: np.ndarray, metric: CRS, cache: dict) -> np.ndarray:
    """``lines`` (EPSG:4326) in ``metric``, projected once per layer and CRS in one :func:`detect_shift` (each layer
    was projected again for every pair and direction it takes part in: four times with three layers)."""
    key = ("metric", id(lines), metric.to_wkt())
    hit = cache.get(key)
    if hit is None or hit[0] is not lines:
        hit = cache[key] = (lines, np.asarray(gpd.GeoSeries(lines, crs=4326).to_crs(metric).array, dtype=object))
    return hit[1]


def _target(dst_lines: np.ndarray, cache: dict) -> tuple:
    """What :func:`_structure` measures against in the layer ``dst_lines``, made once per layer in one
    :func:`detect_shift`: its metric CRS, the lon/lat → metric transformer, its linework in metres and an STRtree of
    it, its convex hull shrunk by the largest jitter (``core``) and grown by the largest offset (``near``)."""
    key = ("target", id(dst_lines))
    hit = cache.get(key)
    if hit is None or hit[0] is not dst_lines:
        metric = metric_crs(gpd.GeoSeries(dst_lines, crs=4326))
        dst_m = _in_metric(dst_lines, metric, cache)
        hull = shapely.convex_hull(shapely.multipoints(shapely.get_coordinates(dst_m)))
        core = shapely.buffer(hull, -float(np.hypot(*_SHIFT_JITTERS_M.T).max()))  # a point here keeps its jitters in the hull
        near = shapely.buffer(hull, _SHIFT_MAX_OFFSET_M)  # where a reading can bring points into the hull
        hit = cache[key] = (dst_lines, (metric, _lonlat_to(metric.to_wkt()), dst_m, shapely.STRtree(dst_m), core, near))
    return hit[1]


def _structure(
    src_lines: np.ndarray,
    dst_lines: np.ndarray,
    conversions: dict[tuple[str, str], tuple[str, str]],
    rng: np.random.Generator,
    cache: dict | None = None,
) -> dict[tuple[str, str], tuple[float, float, int]]:
    """Structure of ``src`` against ``dst`` under each reading: (KS distance, median offset m, points).

    ``conversions`` maps a reading to the (from, to) datum conversion of the ``src`` points. Each
    reading's distances to ``dst`` are compared with those of the same points moved by 50 or 100 m
    in 8 directions, so large-scale differences (a river, the layers' extents) cancel out and
    only fine alignment counts. Readings with too few points inside ``dst``'s extent are left out.
    ``cache``: the layers' projections and targets kept across the calls of one :func:`detect_shift` (the same
    arrays as made afresh; keyed on the line arrays, which must not change meanwhile).
    """
    cache = {} if cache is None else cache
    metric, to_metric_xy, dst_m, dst_tree, core, near = _target(dst_lines, cache)
    src_m = _in_metric(src_lines, metric, cache)
    jitters = _SHIFT_JITTERS_M
    src_m = src_m[shapely.STRtree(src_m).query(near, predicate="intersects")]
    src_m = shapely.intersection(src_m, near)
    src_m = src_m[~shapely.is_empty(src_m)]
    if len(src_m) == 0 or shapely.is_empty(core):
        return {}
    xy = _sample_points(src_m, _SHIFT_SAMPLES, rng)
    lon, lat = to_metric_xy.transform(xy[:, 0], xy[:, 1], direction="INVERSE")
    # distances to the linework, from a k-d tree of points along it (within 1 m of the true distance)
    reach = shapely.buffer(shapely.envelope(shapely.multipoints(xy)), _SHIFT_MAX_OFFSET_M + _SHIFT_CAP_M)
    target = _vertex_tree(_vertices_every(dst_m[dst_tree.query(reach, predicate="intersects")],
                                          _SHIFT_MAX_POINTS))

    def distances(p: np.ndarray) -> np.ndarray:
        # one query for a reading and its jittered copies, in this thread (worker threads in C++ outlive a
        # Ctrl-C and crash the interpreter at exit)
        return np.minimum(_nearest_distances(target, p, _SHIFT_CAP_M), _SHIFT_CAP_M)

    out = {}
    for key, (a, b) in conversions.items():
        if a == b:
            p = xy
        else:
            p = np.column_stack(to_metric_xy.transform(*_CONVERSIONS[(a, b)](lon, lat)))
        offset = float(np.median(np.hypot(*(p - xy).T)))
        if a != b and offset < _SHIFT_MIN_OFFSET_M:
            continue
        p = p[shapely.contains_xy(core, p[:, 0], p[:, 1])]
        if len(p) < _SHIFT_MIN_SAMPLES:
            continue
        d = distances(np.concatenate([p, *(p + j for j in jitters)])).reshape(len(jitters) + 1, len(p))
        # as many points as either side has: distances to a layer of 11 points (units in two communities) vary
        # with those 11 alone, however many points they are measured from (a "shifted ~626 m" false alarm)
        out[key] = (_ks(d[0], d[1:].ravel()), offset, min(len(p), target.n))
    return out


def detect_shift(layers: Mapping[str, gpd.GeoDataFrame | None], *, seed: int = 0) -> list[DatumShift]:
    """Find layers that look shifted against the others by a GCJ-02 or BD-09 offset.

    Layers that belong together are aligned at a fine scale: community boundaries run along streets,
    buildings keep a few metres off them, streets meet at junctions. For each pair of layers, up to
    4,000 points are sampled on each layer's linework (polygon boundaries, lines or points; half at
    vertices, half evenly along the length) where the other layer lies. Their distances to the other
    layer are compared with the distances of the same points moved by 50 or 100 m in 8 directions
    (the background); the Kolmogorov–Smirnov distance between the two (0–1, averaged over both directions of the
    pair) is the pair's *structure*: clearly positive when the layers are aligned, near 0 when they
    are not or are unrelated. Comparing each reading with its own neighbourhood makes large-scale
    differences (a river, layers of different extent) cancel out.

    The structure is measured for the layers as given and for the six readings with one layer
    converted between WGS-84, GCJ-02 and BD-09. A pair is reported when the best reading has a
    structure of at least 0.06 and beats the layers as given by at least max(0.04, 3/√n), n being
    the points used, or the points of the other layer when it has fewer (a layer of a few points):
    well above the sampling noise (under 0.03 between unrelated layers), and when neither layer, moved by
    that reading's offset, matches itself as well (a periodic pattern, such as a new town's regular street
    lattice, which a 300 m period makes match itself again after the ~900 m of GCJ-02 against BD-09). Aligned
    pairs, where the layers as given show the most structure, and unrelated pairs, which show none,
    are not reported. Only the GCJ-02 and BD-09 offsets (100–700 m, and up to about 1.5 km for BD-09
    against WGS-84) are looked for, and only in China.

    Parameters
    ----------
    layers
        Named layers, each with a CRS; None and empty layers are skipped.
    seed
        Seed of the point sampling (results are deterministic for a given seed).

    Returns
    -------
    list of DatumShift
        One per pair of layers that aligns better after a conversion; empty when all look aligned.

    See Also
    --------
    layer_shift_warnings : the same, as messages for the user.

    Examples
    --------
    >>> from shapely import LineString, box
    >>> streets = gpd.GeoSeries([LineString([(114.27, 30.59), (114.28, 30.59)])], crs=4326)
    >>> detect_shift({"streets": gpd.GeoDataFrame(geometry=streets)})  # a single layer: nothing to compare
    []
    """
    prepared: dict[str, np.ndarray] = {}
    for name, gdf in layers.items():
        if gdf is None or len(gdf) == 0:
            continue
        if gdf.crs is None:
            msg = f"detect_shift: layer {name!r} has no CRS; set one before comparing layers"
            raise InputError(msg)
        lines = _linework(np.asarray(gdf.geometry.to_crs(4326).array, dtype=object))
        if len(lines):
            prepared[name] = lines
    readings = [(a, b) for a in DATUMS for b in DATUMS if a != b]
    as_given = ("", "")
    found: list[DatumShift] = []
    cache: dict = {}  # each layer projected, and its hull drawn, once (the layers' arrays stay as they are)
    for (name_a, lines_a), (name_b, lines_b) in combinations(prepared.items(), 2):
        rng = np.random.default_rng(seed)
        forward = _structure(lines_a, lines_b, {as_given: ("wgs84", "wgs84"), **{r: r for r in readings}}, rng, cache)
        backward = _structure(lines_b, lines_a, {as_given: ("wgs84", "wgs84"), **{r: r[::-1] for r in readings}}, rng,
                              cache)
        best, best_gain = None, 0.0
        for reading in readings:
            # compare a reading with the layers as given direction by direction, on equal terms
            parts = [d for d in (forward, backward) if reading in d and as_given in d]
            if not parts:
                continue
            structure = float(np.mean([d[reading][0] for d in parts]))
            as_is = float(np.mean([d[as_given][0] for d in parts]))
            points = min(min(d[reading][2], d[as_given][2]) for d in parts)
            margin = max(_SHIFT_MARGIN, _SHIFT_NOISE / np.sqrt(points))
            gain = structure - as_is
            if structure >= _SHIFT_MIN_STRUCTURE and gain >= margin and gain > best_gain:
                offset = float(np.mean([d[reading][1] for d in parts]))
                best, best_gain = (reading, offset, structure, as_is), gain
        if best is None:
            continue
        (a, b), offset, structure, as_is = best
        if _repeats_itself(lines_a, lines_b, (a, b), structure, seed, cache):
            continue
        if a == "wgs84":  # B is the one in a shifted datum
            name_a, name_b, a, b = name_b, name_a, b, a
        found.append(DatumShift(name_a, name_b, a, b, offset, structure, as_is))
    return found


def _repeats_itself(lines_a: np.ndarray, lines_b: np.ndarray, reading: tuple[str, str], structure: float,
                    seed: int, cache: dict | None = None) -> bool:
    """Whether layer A or B, moved by the ``reading``'s offset, matches itself at least as well as the pair
    matched (``structure``): the offset is then a period of its pattern (a regular street lattice of 300 m
    moved ~900 m by GCJ-02 against BD-09 lies on its own streets again), and the better reading may be that
    repetition, not a datum shift. The layers as given are then not called shifted."""
    for lines, conversion in ((lines_a, reading), (lines_b, reading[::-1])):
        own = _structure(lines, lines, {reading: conversion}, np.random.default_rng(seed), cache)
        if reading in own and own[reading][0] >= structure:
            return True
    return False


def layer_shift_warnings(layers: Mapping[str, gpd.GeoDataFrame | None], *, seed: int = 0) -> list[str]:
    """Warnings, one per shifted layer, for layers that look shifted against the others.

    Runs :func:`detect_shift` and words its findings for the user: which layer, by how much, against
    which others, and the option that reads it correctly. The caller decides how to show them
    (``warnings.warn``, a finding, a log line).

    Examples
    --------
    >>> layer_shift_warnings({})
    []
    """
    return [message for _, message in shift_advice(layers, seed=seed)]


def shift_advice(layers: Mapping[str, gpd.GeoDataFrame | None], *, seed: int = 0) -> list[tuple[str, str]]:
    """``(layer, message)`` per shifted layer: :func:`layer_shift_warnings` with the layer each names.

    >>> shift_advice({})
    []
    """
    groups: dict[tuple[str, str, str], list[DatumShift]] = {}
    for s in detect_shift(layers, seed=seed):
        groups.setdefault((s.layer, s.datum, s.against_datum), []).append(s)
    return [
        (layer, _shift_message(layer, [s.against for s in shifts], datum, against_datum,
                               float(np.mean([s.offset_m for s in shifts]))))
        for (layer, datum, against_datum), shifts in groups.items()
    ]
