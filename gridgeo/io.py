"""Reading inputs: any OGR format, GeoParquet or CSV; column mapping; normalisation per layer.

Every layer goes through :func:`read_layer` (file → GeoDataFrame with a CRS) and then the layer's
normaliser (canonical columns, geometry type check, repairs recorded as findings). Problems a user must
fix raise :class:`~gridgeo.InputError` with a one-line message; problems gridgeo can mend are findings.

Canonical columns per layer are in ``docs/architecture.md``; map other names with ``columns``
(``{"code": "CUN_DM"}``) or a ``[layer.columns]`` table in a TOML config file.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import tomllib
import unicodedata
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from ._csv import read_csv_text
from ._errors import InputError, PlanExistsError
from ._face import CLI, force_option
from ._findings import FINDING_COLUMNS, concat_findings, make_findings
from ._geometry import make_valid
from ._text import counted
from .crs import ensure_crs, metre_crs_advice, projected_outside

__all__ = [
    "LAYER_KINDS",
    "canonical_columns",
    "write_findings",
    "read_findings",
    "write_repair",
    "atomic_write",
    "remove_stale_temporaries",
    "temporary_prefix",
    "LayerSource",
    "Inputs",
    "read_layer",
    "read_inputs",
    "load_config",
    "normalise_communities",
    "normalise_streets",
    "normalise_buildings",
    "normalise_points",
    "fingerprint",
    "frame_fingerprint",
    "frame_layer",
    "SHAPEFILE_FIELD_NAMES",
    "check_coordinates",
    "INPUT_LAYERS",
    "as_source",
    "layer_sources",
    "load_code_scheme",
]

#: gridgeo's own column names as a Shapefile (DBF, at most 10 characters) stores them, and the name each
#: is read back as. One table for every reader and for the Shapefile export (:mod:`gridgeo.export`): GDAL cuts a long
#: name to 10 characters and numbers a clash (``households_source`` after ``households``).
SHAPEFILE_FIELD_NAMES: dict[str, str] = {
    "community_": "community_code",
    "subgrid_co": "subgrid_code",
    "building_i": "building_id",
    "househol_1": "households_source",
    "dedicated_": "dedicated_grid",
    "building_c": "building_code",
    "category_g": "category_given",
    "site_area_": "site_area_m2",
    "villager_g": "villager_group",
}

#: layers gridgeo reads, with their accepted geometry families and canonical columns
LAYER_KINDS: dict[str, dict[str, Any]] = {
    "communities": {"geom": {"Polygon", "MultiPolygon"}, "required": ["code"], "optional": ["name", "kind"]},
    "streets": {"geom": {"LineString", "MultiLineString"}, "required": [], "optional": ["name", "highway"]},
    "buildings": {
        "geom": {"Polygon", "MultiPolygon", "Point", "MultiPoint"},
        "required": [],
        "optional": ["building_id", "households", "floors", "height", "name", "use"],
    },
    "villager_groups": {"geom": {"Polygon", "MultiPolygon"}, "required": [], "optional": ["name", "community_code"]},
    "enterprises": {
        "geom": {"Point", "MultiPoint", "Polygon", "MultiPolygon"},
        "required": [],
        "optional": ["name", "category", "employees", "site_area", "parent", "leader", "phone"],
    },
}

#: column names common in Chinese data, read as a canonical column where a layer has no column of that name
#: (in any case) and exactly one of these; each use is an info finding (``column_alias_used``). Names used for
#: something else as often (代码 alone, 类型 of a street) are not taken: map those with ``columns``.
#: key of a normalised layer's ``attrs`` holding {canonical column: the column it was read from} where they differ
SOURCE_COLUMNS = "gridgeo_source_columns"
COLUMN_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "communities": {"code": ("统计用区划代码", "区划代码", "社区代码", "村代码", "社区编码"),
                    "name": ("社区名称", "村名称", "村居名称", "名称")},
    "streets": {"name": ("道路名称", "路名", "名称"), "highway": ("道路等级",)},
    "buildings": {"households": ("户数", "住户数", "总户数", "居民户数", "户数量"),
                  "floors": ("层数", "楼层数", "地上层数", "总层数", "楼层", "building:levels", "levels"),
                  "height": ("建筑高度", "高度", "楼高"),
                  "building_id": ("楼栋编号", "建筑编号", "楼栋代码", "建筑物编号"),
                  "name": ("楼栋名称", "建筑名称", "名称"),
                  # OpenStreetMap's building class: ``building`` in OSM extracts, ``kind_detail`` in vector tiles
                  "use": ("建筑用途", "用途", "building", "kind_detail")},
    "villager_groups": {"name": ("村民小组", "小组名称", "组名", "名称"), "community_code": ("社区代码", "村代码")},
    "enterprises": {"name": ("单位名称", "企业名称", "名称"), "category": ("单位类别", "单位类型", "类别"),
                    "employees": ("职工人数", "从业人数", "员工人数", "职工数", "员工数"),
                    "site_area": ("占地面积",), "leader": ("负责人",), "phone": ("联系电话", "电话")},
}

#: names read as a canonical column only where the layer has none of :data:`COLUMN_ALIASES`' (an enterprise register's
#: industry, ``行业类别``, read as the unit's category when it has no ``单位类别``: see :data:`gridgeo.dedicated.INDUSTRY_LABELS`)
COLUMN_FALLBACK_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "enterprises": {"category": ("行业类别", "行业门类", "所属行业", "行业分类")},
}

COMMUNITY_KINDS = ("urban", "rural", "township")
#: ``kind`` values as Chinese layers write them, read as gridgeo's kinds (each use an info finding ``kind_alias_used``)
KIND_ALIASES: dict[str, str] = {
    **dict.fromkeys(("社区", "城市社区", "城镇社区", "居委会", "居民委员会", "城市", "城镇"), "urban"),
    **dict.fromkeys(("村", "农村", "行政村", "村委会", "村民委员会", "乡村", "village"), "rural"),
    **dict.fromkeys(("乡镇驻地", "乡镇政府所在地", "镇区", "集镇", "town"), "township"),
}
_CODE_RE = re.compile(r"^[0-9]{12}$")  # ASCII digits: \d would take full-width ４２０…
#: key of a CSV layer's ``attrs`` holding each feature's line in the file
CSV_LINES = "gridgeo_csv_lines"
#: a CSV's coordinate columns (lower case), for layers and for ``gridgeo locate``'s points alike
_LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
_LAT_NAMES = ("lat", "latitude", "y", "纬度")
#: a column of geometries as WKT text (WKB in a GeoParquet file of points), where there is no longitude column
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape", "坐标")

#: a coordinate as people type it in Chinese spreadsheets (after NFKC, full-width ``１１４．３０５`` is ASCII): a
#: hemisphere before or after (N/E/S/W, 北纬/东经/南纬/西经), degrees with a decimal point or comma, or degrees,
#: minutes and seconds (``114°18′30″``, ``114度18分30秒``)
_DEGREES_RE = re.compile(
    r"(?P<sign>[+-])?(?P<pre>[NESW])?(?P<deg>\d+(?:[.,]\d+)?)"
    r"(?:°(?:(?P<min>\d+(?:\.\d+)?)['′](?:(?P<sec>\d+(?:\.\d+)?)(?:\"|″|′′|'')?)?)?)?(?P<post>[NESW])?",
    re.IGNORECASE)
_DEGREE_WORDS = str.maketrans({"度": "°", "分": "′", "秒": "″", "º": "°", "˚": "°", "−": "-"})
_HEMISPHERE_WORDS = {"东经": "E", "北纬": "N", "西经": "W", "南纬": "S"}


#: the hemisphere letters of each axis: a latitude written ``30.59E`` (a letter of the other axis) reads as none
_AXIS_HEMISPHERES = {"lon": ("E", "W"), "lat": ("N", "S")}


def _degrees(text: str, axis: str | None = None) -> float:
    """One coordinate written as text, in degrees; NaN when it reads as none (see :func:`coordinate_values`)."""
    t = "".join(unicodedata.normalize("NFKC", text).translate(_DEGREE_WORDS).split())
    for word, letter in _HEMISPHERE_WORDS.items():
        t = t.replace(word, letter)
    m = _DEGREES_RE.fullmatch(t)
    if m is None or (m["pre"] and m["post"]) or (m["min"] and not m["deg"].isdigit()):
        return np.nan
    minutes, seconds = float(m["min"] or 0), float(m["sec"] or 0)
    if minutes >= 60 or seconds >= 60:
        return np.nan
    value = float(m["deg"].replace(",", ".")) + minutes / 60 + seconds / 3600
    hemisphere = (m["pre"] or m["post"] or "").upper()
    if hemisphere and axis is not None and hemisphere not in _AXIS_HEMISPHERES[axis]:
        return np.nan
    if hemisphere in ("S", "W"):
        if m["sign"]:  # "-30°S": which sign is meant is not ours to guess
            return np.nan
        value = -value
    return -value if m["sign"] == "-" else value


def coordinate_values(values: Any, *, axis: str | None = None) -> np.ndarray:
    """Coordinates (one column, any dtype) as floats in degrees; NaN where a value is missing or reads as no number.

    Numbers are taken as they are; text as people type it in Chinese spreadsheets is read too: full-width digits
    and punctuation (``１１４．３０５``, NFKC-normalised), a decimal comma (``114，30``, ``114,30``: one comma, no point),
    a degree sign and a hemisphere letter or word before or after (``114.06°``, ``30.59°N``, ``N30.59``, ``东经114.06``:
    S and W negate), degrees, minutes and seconds (``114°18′E``, ``114°18'30"``, ``114度18分30秒``). One implementation
    for ``gridgeo locate``'s points and for a CSV layer's lon/lat columns. ``axis`` (``"lon"`` or ``"lat"``): the
    column's; a hemisphere of the other axis (a latitude ``30.59E``, ``东经30.59``; a longitude ``114.3N``) reads as
    none, a bad row to name, not a number taken as it stands.

    >>> coordinate_values(["１１４．３０５", "114，30", "30.59°N", "114°18′E", "33.5°S", "114度18分", "abc", None]).tolist()
    [114.305, 114.3, 30.59, 114.3, -33.5, 114.3, nan, nan]
    >>> coordinate_values(["30.59N", "30.59E", "北纬30.59", "东经30.59", "30.59"], axis="lat").tolist()
    [30.59, nan, 30.59, nan, 30.59]
    """
    if axis not in (None, *_AXIS_HEMISPHERES):
        msg = f"coordinate_values: axis={axis!r} must be one of {[None, *_AXIS_HEMISPHERES]}"
        raise InputError(msg)
    arr = np.asarray(values)
    if arr.dtype.kind in "fiu":
        return arr.astype(float)
    s = pd.Series(arr, dtype=object)
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, copy=True)
    nan = np.flatnonzero(np.isnan(v))
    if len(nan):  # only the values that are no plain number are read again, each distinct text once
        sub = s.iloc[nan]
        read = {t: _degrees(t, axis) for t in pd.unique(sub) if isinstance(t, str)}
        v[nan] = sub.map(lambda t: read.get(t, np.nan) if isinstance(t, str) else np.nan).to_numpy(dtype=float)
    return v


@dataclass
class LayerSource:
    """Where and how to read one input layer: a file, or a GeoDataFrame already in memory (``frame``).

    >>> LayerSource("roads.gpkg", layer="roads", columns={"name": "MC"}).columns
    {'name': 'MC'}
    """

    path: str | Path | None
    layer: str | None = None
    crs: Any = None
    datum: str | None = None  # "gcj02" or "bd09" when digitised from AMap/Tencent or Baidu
    encoding: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # canonical name -> column in the file
    frame: gpd.GeoDataFrame | None = None  # the layer itself (then ``path`` is None)


@dataclass
class Inputs:
    """Normalised input layers (in their source CRS) and the findings made while reading them."""

    communities: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame | None
    buildings: gpd.GeoDataFrame | None
    villager_groups: gpd.GeoDataFrame | None = None
    enterprises: gpd.GeoDataFrame | None = None
    findings: gpd.GeoDataFrame | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- files


def fingerprint(path: str | Path) -> str:
    """SHA-256 of a file (of every sidecar for a Shapefile), for the plan metadata."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(p.parent.glob(p.stem + ".*")) if p.suffix.lower() == ".shp" else [p]
    for f in files:
        if f.is_file():
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def frame_fingerprint(gdf: gpd.GeoDataFrame | pd.DataFrame) -> str:
    """SHA-256 of a layer given in memory (geometry as WKB, then the attributes as text), or of a table (a
    households table, :mod:`gridgeo.household_table`: its cells as text).

    >>> from shapely import box
    >>> g = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(0, 0, 1, 1)], crs=4490)
    >>> frame_fingerprint(g) == frame_fingerprint(g.copy()), len(frame_fingerprint(g))
    (True, 64)
    """
    h = hashlib.sha256()
    if not isinstance(gdf, gpd.GeoDataFrame):
        h.update(pd.DataFrame(gdf).astype(str).to_csv(index=False).encode())
        return h.hexdigest()
    for wkb in shapely.to_wkb(np.asarray(gdf.geometry.array, dtype=object)):
        h.update(wkb or b"")
    attributes = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    h.update(attributes.astype(str).to_csv(index=False).encode())
    return h.hexdigest()


def frame_layer(gdf: Any, *, name: str, crs: Any = None, default_crs: Any = None) -> gpd.GeoDataFrame:
    """A layer given as a GeoDataFrame, checked as :func:`read_layer` checks a file (a copy, with a CRS).

    >>> from shapely import box
    >>> frame_layer(gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)]), name="communities")
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: communities: the GeoDataFrame has no CRS; set it with gdf.set_crs("EPSG:4490") or pass crs="EPSG:4490"
    """
    _check_options(name=name, crs=crs, encoding=None)
    if default_crs is not None:
        _check_options(name=name, crs=default_crs, encoding=None)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf._geometry_column_name not in gdf.columns:
        msg = f"{name}: a {type(gdf).__name__} without an active geometry column; give a GeoDataFrame (gpd.GeoDataFrame(df, geometry=..., crs=...))"
        raise InputError(msg)
    if len(gdf) == 0:
        msg = f"{name}: the GeoDataFrame is empty; give a layer with features{_or_leave_out(name)}"
        raise InputError(msg)
    out = gdf.copy()
    if not out.index.is_unique:  # pd.concat without ignore_index: rows then named by their position
        out = out.reset_index(drop=True)
    if out.crs is None:
        given = crs if crs is not None else default_crs
        if given is None:
            msg = f'{name}: the GeoDataFrame has no CRS; set it with gdf.set_crs("EPSG:4490") or pass crs="EPSG:4490"'
            raise InputError(msg)
        out = out.set_crs(given)
    _check_not_latin1(out, name=name)
    out = ensure_crs(out, name=name, crs=crs)
    check_coordinates(out, name=name)
    return out


def _as_gbk(text: Any) -> str | None:
    """``text`` as it reads when it is GBK/GB18030 bytes decoded as Latin-1 (a Shapefile's .dbf without .cpg read by
    GDAL), when that gives Chinese; else None.

    >>> _as_gbk("楼栋编号".encode("gbk").decode("latin-1")), _as_gbk("Café"), _as_gbk("Müller"), _as_gbk("楼栋")
    ('楼栋编号', None, None, None)
    """
    if not isinstance(text, str) or text.isascii() or any(ord(c) > 255 for c in text):
        return None
    try:
        decoded = text.encode("latin-1").decode("gb18030")
    except UnicodeError:
        return None
    wide = [c for c in decoded if not c.isascii()]  # each of two high bytes (GB2312: A1–FE, A1–FE), not "ü" + "l"
    if 2 * len(wide) != sum(not c.isascii() for c in text) or not any("\u4e00" <= c <= "\u9fff" for c in wide):
        return None
    return decoded


def _check_not_latin1(gdf: gpd.GeoDataFrame, *, name: str) -> None:
    """Refuse a GeoDataFrame whose column names or text are GBK read as Latin-1: its column names are then none that
    gridgeo knows (楼栋编号, 户数 ...) and its names would be printed garbled on maps and signs."""
    texts = [c for c in gdf.columns if c != gdf.geometry.name]
    for col in gdf.columns:
        if col != gdf.geometry.name and (gdf[col].dtype == object or pd.api.types.is_string_dtype(gdf[col].dtype)):
            texts.extend(gdf[col].dropna().head(200).tolist())
    for text in texts:
        decoded = _as_gbk(text)
        if decoded is not None:
            msg = (f"{name}: the GeoDataFrame's text is GBK read as Latin-1 ({text!r} is {decoded!r}: a Shapefile .dbf "
                   "without .cpg); read it with gpd.read_file(PATH, encoding='gbk'), or give the path, whose encoding "
                   "gridgeo finds")
            raise InputError(msg)


#: pyogrio's warning for a layer with M (measure) values: gridgeo reads such layers without them, as it
#: reads every layer, so the warning (a Python traceback line on the console) is not shown
_M_WARNING = ".*Measured \\(M\\) geometry.*"


def list_layers(path: str | os.PathLike) -> np.ndarray:
    """``pyogrio.list_layers`` (names and geometry types) without its warning about M values."""
    import pyogrio

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_M_WARNING)
        return pyogrio.list_layers(path)


def _list_layers(path: Path) -> list[str]:
    try:
        return [str(n) for n in list_layers(path)[:, 0]]
    except Exception:  # noqa: BLE001 - any GDAL failure means "cannot list"
        return []


def _prj_crs(path: Path, *, name: str) -> CRS | None:
    """The CRS of the ``.prj`` file beside a CSV (GDAL reads it so), or None when there is none."""
    prj = next((q for q in (path.with_suffix(".prj"), path.with_suffix(".PRJ")) if q.is_file()), None)
    if prj is None:
        return None
    try:
        found = CRS.from_user_input(prj.read_text(encoding="utf-8", errors="replace").strip())
    except Exception as exc:  # noqa: BLE001 - pyproj raises CRSError and others for text that is no CRS
        msg = f"{name}: cannot read the CRS of {prj} ({str(exc).splitlines()[0]}); fix or delete the .prj (and give --crs)"
        raise InputError(msg) from None
    epsg = found.to_epsg()
    return CRS.from_epsg(epsg) if epsg is not None else found


class CSVLayerError(InputError):
    """A CSV that is no layer of features: ``problem`` says what is wrong (and in which lines) without the fix, for
    ``gridgeo info``, which describes a file and asks nothing of it."""

    def __init__(self, name: str, problem: str, fix: str) -> None:
        super().__init__(f"{name}: {problem}; {fix}")
        self.problem = problem


def _lines(lines: np.ndarray) -> str:
    """Line numbers as a message names them: ``line 4``, ``lines 4, 5, 7``, ``lines 4, 5, 7, 9, 12 and 3 more``."""
    shown = ", ".join(str(int(n)) for n in lines[:5])
    return ("line " if len(lines) == 1 else "lines ") + shown + (f" and {len(lines) - 5} more" if len(lines) > 5 else "")


def _read_csv(path: Path, *, name: str, crs: Any, encoding: str | None) -> gpd.GeoDataFrame:
    # rows of nothing (blank lines, a row a spreadsheet cleared) are no features; the index is each row's line
    df = read_csv_text(path, encoding=encoding, what=name, option=f"--encoding {name}={{}}", by_line=True,
                       na_values=[""])
    lines = df.index.to_numpy()
    df = df.reset_index(drop=True)
    lower = {c.lower(): c for c in df.columns}
    lon = next((lower[n] for n in _LON_NAMES if n in lower), None)
    lat = next((lower[n] for n in _LAT_NAMES if n in lower), None)
    wkt = next((lower[n] for n in _WKT_NAMES if n in lower), None)
    if lon and lat:
        x, y = coordinate_values(df[lon].to_numpy(), axis="lon"), coordinate_values(df[lat].to_numpy(), axis="lat")
        bad = np.isnan(x) | np.isnan(y)
        if bad.any():
            n = int(bad.sum())
            first = int(np.flatnonzero(bad)[0])
            value = df[lon].iloc[first] if np.isnan(x[first]) else df[lat].iloc[first]
            shown = repr(value) if isinstance(value, str) else "empty"
            problem = (f"{counted(n, 'row')} of {path} {'has' if n == 1 else 'have'} non-numeric {lon}/{lat} "
                       f"({_lines(lines[bad])}; first {shown})")
            raise CSVLayerError(name, problem, "fix or remove them")
        geom = gpd.points_from_xy(x, y)
        df = df.drop(columns=[lon, lat])
        default_crs = 4326
    elif wkt:
        text = df[wkt].to_numpy(dtype=object)
        geom = shapely.from_wkt(text, on_invalid="ignore")
        bad = shapely.is_missing(geom) & pd.notna(text)
        if bad.any():
            n = int(bad.sum())
            problem = (f"column {wkt!r} of {path} holds malformed WKT in {counted(n, 'row')} ({_lines(lines[bad])}: "
                       f"{str(text[bad][0])[:40]!r})")
            raise CSVLayerError(name, problem, "fix the file")
        df = df.drop(columns=[wkt])
        default_crs = None
    else:
        fix = (f"give lon/lat columns (one of {list(_LON_NAMES)} and {list(_LAT_NAMES)}) or a WKT column (one of "
               f"{list(_WKT_NAMES)}); columns found: {list(df.columns)}")
        raise CSVLayerError(name, f"CSV {path} has no coordinate columns", fix)
    # every CSV column stays text (codes keep leading zeros); households and floors are parsed later
    file_crs = _prj_crs(path, name=name)  # the .prj beside it (GDAL's sidecar, as `gridgeo export` writes) is its CRS
    given = file_crs if file_crs is not None else crs if crs is not None else default_crs
    out = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom), crs=given)
    out.attrs[CSV_LINES] = tuple(int(n) for n in lines)  # a tuple: pandas compares attrs (an array has no truth)
    return out


def _read_ogr(path: Path, *, layer: str | None, name: str, encoding: str | None) -> gpd.GeoDataFrame:
    kwargs: dict[str, Any] = {"engine": "pyogrio"}
    if layer is not None:
        kwargs["layer"] = layer
    is_shp = path.suffix.lower() in (".shp", ".dbf")  # a .dbf alone: a Shapefile's table, its text as the .shp's
    if encoding:
        kwargs["encoding"] = encoding
    elif is_shp and not path.with_suffix(".cpg").exists() and not path.with_suffix(".CPG").exists():
        # Chinese Shapefiles without .cpg are usually GBK/GB18030; try UTF-8 first, then GB18030
        try:
            return _check_decoded(gpd.read_file(path, encoding="utf-8", **kwargs), path)
        except UnicodeDecodeError:
            cut = _read_cut_field_names(path, {**kwargs, "encoding": "utf-8"})
            if cut is not None:
                return cut
            kwargs["encoding"] = "gb18030"
        except _MojibakeError:
            kwargs["encoding"] = "gb18030"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_M_WARNING)
            return gpd.read_file(path, **kwargs)
    except UnicodeError as exc:
        if is_shp and str(kwargs.get("encoding", "utf-8")).lower().replace("-", "") == "utf8":
            cut = _read_cut_field_names(path, kwargs)
            if cut is not None:
                return cut
        tried = str(kwargs.get("encoding", "utf-8"))
        msg = (f"{name}: cannot decode the text of {path} as {tried!r} ({exc.reason}); "
               f"{_ogr_decode_hint(path, kwargs, name, tried)}")
        raise InputError(msg) from None


def _ogr_decode_hint(path: Path, kwargs: dict[str, Any], name: str, tried: str) -> str:
    """What to do when the text of ``path`` does not decode as ``tried``: the encoding that does (UTF-8, GB18030,
    Big5, in that order: UTF-8 is strict, GB18030 decodes GBK), read again to be sure, else to save it as UTF-8.
    A GeoPackage's or GeoJSON's text is UTF-8 whatever encoding is given: there, giving none also applies."""
    for enc in ("utf-8", "gb18030", "big5"):
        if codecs.lookup(enc).name == codecs.lookup(tried).name:
            continue
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore")
                gpd.read_file(path, **{**kwargs, "encoding": enc})
        except UnicodeError:
            continue
        hint = f"give its encoding: --encoding {name}={enc}, which decodes it"
        if enc == "utf-8" and path.suffix.lower() not in (".shp", ".dbf", ".csv"):
            hint += f" (or give none: the text of a {path.suffix.lower()} file is UTF-8)"
        return hint
    return "no common encoding (UTF-8, GB18030, Big5) decodes it; save it again with UTF-8 text (QGIS: Export, Encoding UTF-8)"


def _cut_name(name: str) -> str:
    """``name`` as a UTF-8 DBF field holds it: its first 10 bytes, a character cut in two dropped
    (QGIS and GDAL write ``社区名称``, 12 bytes, as ``社区名`` and a stray byte)."""
    return name.encode("utf-8")[:10].decode("utf-8", errors="ignore")


def _read_cut_field_names(path: Path, kwargs: dict[str, Any]) -> gpd.GeoDataFrame | None:
    """A UTF-8 Shapefile whose field names were cut at the DBF's 10 bytes in the middle of a Chinese character:
    read with the cut character dropped from the names (its text, valid UTF-8, as it is); None when the text
    itself is not UTF-8."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_M_WARNING)
            raw = gpd.read_file(path, **{**kwargs, "encoding": "latin1"})
    except Exception:  # noqa: BLE001 - not this case: the caller's error stands
        return None
    geom = raw.geometry.name
    names = {}
    for col in raw.columns:
        if col == geom:
            continue
        b = str(col).encode("latin1")
        try:
            b.decode("utf-8")
            continue
        except UnicodeDecodeError:
            pass
        fixed = b.decode("utf-8", errors="ignore")
        if len(b) > 10 or fixed.encode("utf-8") != b[: len(fixed.encode("utf-8"))]:
            return None
        names[col] = fixed
    if not names:
        return None
    out = raw.copy()
    for col in out.columns:
        if col != geom and (out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype)):
            try:
                out[col] = out[col].map(lambda v: v.encode("latin1").decode("utf-8") if isinstance(v, str) else v)
            except UnicodeError:
                return None
    return out.rename(columns=names)


def _shapefile_names(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Read gridgeo's own columns back under their full names (:data:`SHAPEFILE_FIELD_NAMES`)."""
    rename = {cut: full for cut, full in SHAPEFILE_FIELD_NAMES.items() if cut in gdf.columns and full not in gdf.columns}
    return gdf.rename(columns=rename) if rename else gdf


class _MojibakeError(ValueError):
    pass


def _check_decoded(gdf: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    for col in gdf.columns:
        if col != gdf.geometry.name and pd.api.types.is_string_dtype(gdf[col].dtype) and gdf[col].map(lambda v: isinstance(v, str) and "\ufffd" in v).any():
            raise _MojibakeError(str(path))
    return gdf


#: layers a partition runs without, and what it does then (an empty one is refused: a wrong file or layer, not "none")
_OPTIONAL_LAYERS = {"streets": "grids then follow the gaps between buildings",
                    "villager_groups": "villages are then divided without their groups' lines",
                    "enterprises": "no dedicated grids (专属网格) are carved"}


def _or_leave_out(name: str) -> str:
    """The second fix of an empty layer the partition can do without: leave it out.

    >>> _or_leave_out("streets")
    ', or leave the streets layer out (it is optional: grids then follow the gaps between buildings)'
    >>> _or_leave_out("communities")
    ''
    """
    if name not in _OPTIONAL_LAYERS:
        return ""
    return f", or leave the {name.replace('_', ' ')} layer out (it is optional: {_OPTIONAL_LAYERS[name]})"


def read_layer(
    path: str | Path,
    *,
    name: str,
    layer: str | None = None,
    crs: Any = None,
    encoding: str | None = None,
    default_crs: Any = None,
) -> gpd.GeoDataFrame:
    """Read one layer from any OGR format, GeoParquet or CSV, with a CRS.

    Parameters
    ----------
    path
        File to read (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet, CSV …).
    name
        What the layer is (``communities``, ``streets`` …), used in messages.
    layer
        Layer inside a multi-layer file (GeoPackage); required when the file has several.
    crs
        CRS of this layer: assumed when the file defines none, an error when the file defines another.
    default_crs
        CRS to assume when the file defines none and ``crs`` is not given; never a conflict (the
        ``--crs`` option shared by every layer).
    encoding
        Text encoding of attribute values (Shapefile without ``.cpg`` defaults to UTF-8, then GB18030).

    Examples
    --------
    >>> read_layer("no/such/file.gpkg", name="streets")
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: streets: file not found: no/such/file.gpkg; check the path
    """
    _check_options(name=name, crs=crs, encoding=encoding)
    if default_crs is not None:
        _check_options(name=name, crs=default_crs, encoding=None)
    p = Path(path)
    if not p.exists():
        hint = ""
        # QGIS's "file.gpkg|layername=streets" and GDAL-style "file.gpkg:streets" name a layer in the path
        m = re.fullmatch(r"(.+?\.[A-Za-z0-9]+)(?:\|layername=|:)([^|:/\\]+)", str(path))
        if m and Path(m.group(1)).is_file():
            given = (f"--{name.replace('_', '-')} {m.group(1)} --{name.replace('_', '-')}-layer {m.group(2)}" if CLI.get()
                     else f"({m.group(1)!r}, {m.group(2)!r})")
            msg = f"{name}: {path} names a file and a layer in one; give them apart: {given}"
            raise InputError(msg)
        if p.parent.exists() and p.parent != Path("."):
            near = sorted(q.name for q in p.parent.iterdir() if q.suffix.lower() in _SUFFIXES)[:10]
            if near:
                hint = f" (files there: {near})"
        msg = f"{name}: file not found: {path}; check the path{hint}"
        raise InputError(msg)
    suffix = p.suffix.lower()
    layers: list[str] = []
    if suffix in (".parquet", ".geoparquet"):
        try:
            gdf = gpd.read_parquet(p)
        except Exception as exc:  # noqa: BLE001
            msg = f"{name}: cannot read {path} as GeoParquet ({exc}); give a GeoParquet file with a geometry column"
            raise InputError(msg) from None
        if crs is not None and gdf.crs is None:
            gdf = gdf.set_crs(crs)
    elif suffix in (".csv", ".txt"):
        gdf = _read_csv(p, name=name, crs=crs if crs is not None else default_crs, encoding=encoding)
    else:
        layers = _list_layers(p)
        if not layers and p.is_dir():  # a folder of one file a layer (`gridgeo export`'s GeoJSON, GeoParquet, CSV …)
            files = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in _SUFFIXES)
            mine = [q for q in files if q.stem == (layer or name)]
            if len(mine) == 1:
                return read_layer(mine[0], name=name, crs=crs, default_crs=default_crs, encoding=encoding)
            msg = (f"{name}: {path} is a folder without a {(layer or name)!r} layer file; give the file "
                   f"(files there: {[q.name for q in files][:10]})")
            raise InputError(msg)
        if not layers and not p.is_dir():
            msg = f"{name}: cannot read {path}: not a format GDAL recognises; use GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet or CSV"
            raise InputError(msg)
        if layer is not None and layer not in layers:
            msg = f"{name}: layer {layer!r} not found in {path}; layers there: {layers}"
            raise InputError(msg)
        if layer is None and len(layers) > 1:
            if name in layers:
                layer = name
            else:
                msg = f"{name}: {path} has several layers {layers}; choose one with --{name.replace('_', '-')}-layer"
                raise InputError(msg)
        gdf = _read_ogr(p, layer=layer, name=name, encoding=encoding)
        if suffix in (".shp", ".dbf", ".zip") or p.is_dir():
            gdf = _shapefile_names(gdf)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None:
        msg = f"{name}: {path} has no geometry column (a table: {[str(c) for c in gdf.columns][:8]}); give a spatial layer"
        if name == "buildings":  # a households table (户数表, 住户登记) given for the footprints it is keyed to
            given = f"--households {p.name}" if CLI.get() else f"households={p.name!r}"
            msg += (" of building footprints or points; households kept in a table keyed by building id (楼栋编号) are "
                    f"given beside them: {given} (README, \"Households in a separate table\")")
        raise InputError(msg)
    if len(gdf) == 0:
        shown = layer or (layers[0] if len(layers) == 1 else p.name)
        msg = f"{name}: layer {shown!r} in {path} is empty; give a layer with features{_or_leave_out(name)}"
        raise InputError(msg)
    if gdf.crs is None and crs is None and default_crs is not None:
        gdf = gdf.set_crs(default_crs)
    gdf = ensure_crs(gdf, name=name, crs=crs)
    check_coordinates(gdf, name=name, path=path)
    gdf.attrs.pop(CSV_LINES, None)  # only for the check's message: not carried (pandas copies attrs along)
    return gdf


def check_coordinates(gdf: gpd.GeoDataFrame, *, name: str, path: str | Path | None = None) -> None:
    """Refuse coordinates that are no place in their CRS, naming the likely cause (before any reprojection).

    Longitudes must lie in [-180, 180] and latitudes in [-90, 90]. Values of thousands or millions
    are projected coordinates (metres) labelled as degrees; a latitude above 90 with a longitude that
    would be a valid latitude is a layer with lon and lat swapped. Projected coordinates must come to a
    place near where their CRS is defined (:func:`gridgeo.crs.projected_outside`): Gauss-Krüger eastings
    with the zone number in front read without it, or x and y exchanged, do not.

    >>> from shapely import Point
    >>> check_coordinates(gpd.GeoDataFrame(geometry=[Point(30.59, 114.27)], crs=4490), name="buildings")
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: buildings: coordinates out of range for EPSG:4490 (x 30.59…30.59, y 114.27…114.27: latitude beyond ±90); longitude and latitude look swapped: put longitude (x, 经度) first, e.g. rename the CSV columns lon/lat
    """
    if gdf.crs is None or len(gdf) == 0:
        return
    geoms = gdf.geometry.to_numpy()
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(geoms) == 0:
        return
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    if not all(np.isfinite([x0, y0, x1, y1])):
        msg = f"{name}: coordinates are not finite numbers (NaN or infinity){f' in {path}' if path else ''}; fix the geometries"
        raise InputError(msg)
    if not gdf.crs.is_geographic:
        nowhere = projected_outside((x0, y0, x1, y1), gdf.crs)
        if nowhere:
            msg = f"{name}: coordinates {nowhere}"
            raise InputError(msg)
        return
    if -180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90:
        return
    few = _few_out_of_range(gdf, name=name)
    if few:
        raise InputError(few)
    what = "longitude beyond ±180" if (x0 < -180 or x1 > 180) else "latitude beyond ±90"
    found = f"coordinates out of range for {gdf.crs.to_string()} (x {x0:.6g}…{x1:.6g}, y {y0:.6g}…{y1:.6g}: {what})"
    if max(abs(x0), abs(x1), abs(y0), abs(y1)) > 1000:
        cause = (f"these are projected coordinates (metres) labelled as degrees: give the layer's real CRS, e.g. "
                 f"{metre_crs_advice(x0, x1)}, or fix the CRS stored in {path or 'the file'}")
    elif -90 <= x0 and x1 <= 90 and -180 <= y0 and y1 <= 180:
        cause = ("longitude and latitude look swapped: put longitude (x, 经度) first, "
                 "e.g. rename the CSV columns lon/lat")
    else:
        cause = "check the layer's CRS (--crs) and its coordinates"
    msg = f"{name}: {found}; {cause}"
    raise InputError(msg)


def _few_out_of_range(gdf: gpd.GeoDataFrame, *, name: str) -> str | None:
    """The message naming the features out of range when they are a few among many in range (rows typed the other
    way round, or a stray value: bad rows to fix one by one, not a layer to rename or give another CRS), else None.

    >>> from shapely import Point
    >>> pts = [Point(114.27, 30.59), Point(30.6, 114.28), Point(114.29, 30.6)]
    >>> print(_few_out_of_range(gpd.GeoDataFrame(geometry=pts, crs=4490), name="buildings"))
    buildings: 1 of 3 features has coordinates out of range for EPSG:4490 (feature 2, x 30.6, y 114.28: longitude and latitude look swapped there); fix that row (longitude, x, 经度, first), the others are in range
    """
    b = shapely.bounds(gdf.geometry.to_numpy())
    placed = np.isfinite(b).all(axis=1)
    out = placed & ((b[:, 0] < -180) | (b[:, 2] > 180) | (b[:, 1] < -90) | (b[:, 3] > 90))
    rows = np.flatnonzero(out)
    if len(rows) * 2 >= placed.sum():
        return None
    bo = b[rows]
    swapped = bool(((np.abs(bo[:, [0, 2]]) <= 90) & (np.abs(bo[:, [1, 3]]) <= 180)).all())
    first = bo[0]
    lines = gdf.attrs.get(CSV_LINES)
    at, what = (np.asarray(lines)[rows], "line") if lines is not None and len(lines) == len(gdf) else (rows + 1, "feature")
    shown = ", ".join(str(int(r)) for r in at[:5]) + (f" and {len(rows) - 5:,} more" if len(rows) > 5 else "")
    one = len(rows) == 1
    return (f"{name}: {len(rows):,} of {int(placed.sum()):,} features {'has' if one else 'have'} coordinates out of range "
            f"for {gdf.crs.to_string()} ({what}{'' if one else 's'} {shown}, x {first[0]:.6g}, y {first[1]:.6g}"
            f"{': longitude and latitude look swapped there' if swapped else ''}); fix {'that row' if one else 'those rows'}"
            f"{' (longitude, x, 经度, first)' if swapped else ''}, the others are in range")


def _check_options(*, name: str, crs: Any, encoding: str | None) -> None:
    """Refuse an unknown CRS or text encoding with a one-line message (not a pyproj/codecs traceback)."""
    if crs is not None:
        from pyproj import CRS
        from pyproj.exceptions import CRSError

        try:
            CRS.from_user_input(crs)
        except CRSError:
            msg = f"{name}: unknown CRS {crs!r}; give one pyproj knows, e.g. --crs EPSG:4490"
            raise InputError(msg) from None
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            msg = f"{name}: unknown text encoding {encoding!r}; give a codec name such as gbk, gb18030 or utf-8"
            raise InputError(msg) from None


_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".parquet", ".csv", ".gml", ".kml", ".tab", ".gdb"}


# --------------------------------------------------------------------------------------- normalising


def canonical_columns(gdf: gpd.GeoDataFrame, name: str, columns: dict[str, str] | None = None) -> gpd.GeoDataFrame:
    """A layer given to check against (``validate --communities/--buildings/--streets``) with its columns read
    as ``partition`` reads them: those mapped in ``columns`` (``--columns communities.code=CUN_DM``), canonical
    names in any case and the Chinese names of :data:`COLUMN_ALIASES` (``社区代码`` as ``code``, ``户数`` as
    ``households``); nothing else changed, nothing required.

    >>> import geopandas as gpd
    >>> from shapely import box
    >>> c = gpd.GeoDataFrame({"社区代码": ["420102001001"]}, geometry=[box(0, 0, 1, 1)], crs=4547)
    >>> canonical_columns(c, "communities").columns.tolist()
    ['code', 'geometry']
    """
    if not columns and (name not in LAYER_KINDS or name not in COLUMN_ALIASES):
        return gdf
    return _map_columns(gdf, name=name, columns=columns, require=False)


def _column_key(column: Any) -> str:
    """A column's name as matched against canonical names and aliases: without surrounding spaces, lower case."""
    return str(column).strip().lower()


def _map_columns(gdf: gpd.GeoDataFrame, *, name: str, columns: dict[str, str] | None,
                 found: list[dict] | None = None, require: bool = True) -> gpd.GeoDataFrame:
    """The layer with its columns under their canonical names: those mapped in ``columns``, canonical names
    in any case, then the Chinese names of :data:`COLUMN_ALIASES` (each use, and each canonical column with
    several candidates, a finding appended to ``found``). ``require``: a required column missing is an error."""
    spec = LAYER_KINDS[name]
    known = set(spec["required"]) | set(spec["optional"])
    columns = dict(columns or {})
    unknown = sorted(set(columns) - known)
    if unknown:
        msg = f"{name}: cannot map unknown column(s) {unknown}; mappable columns: {sorted(known)}"
        raise InputError(msg)
    # a mapped source column matches case-insensitively when the exact name is absent (DBF names are upper case);
    # here and below, a name matches without the spaces around it (a spreadsheet's header " 户数", "households ")
    lower_src = {_column_key(c): c for c in gdf.columns}
    columns = {canon: src if src in gdf.columns else lower_src.get(_column_key(src), src) for canon, src in columns.items()}
    missing_src = sorted(src for src in columns.values() if src not in gdf.columns)
    if missing_src:
        msg = f"{name}: column(s) {missing_src} not found; columns there: {[c for c in gdf.columns if c != gdf.geometry.name]}"
        raise InputError(msg)
    out = gdf.copy()
    geom_name = out.geometry.name
    rename = {src: canon for canon, src in columns.items()}
    # a mapped column replaces any column that already has the canonical name
    drop = [canon for canon, src in columns.items() if canon in out.columns and canon != src]
    out = out.drop(columns=drop).rename(columns=rename)
    sources = {canon: str(src) for canon, src in columns.items() if canon != src}  # the user's names, for messages
    if geom_name != "geometry":
        out = out.rename_geometry("geometry") if "geometry" not in out.columns else out
    # case-insensitive match of canonical names
    lower = {_column_key(c): c for c in out.columns}
    for canon in known:
        if canon not in out.columns and canon in lower:
            out = out.rename(columns={lower[canon]: canon})
            sources[canon] = str(lower[canon])
    fallback = COLUMN_FALLBACK_ALIASES.get(name, {})
    for canon in dict.fromkeys([*COLUMN_ALIASES.get(name, {}), *fallback]):
        if canon in out.columns or canon not in known:
            continue
        given = {str(c).strip(): c for c in out.columns}
        present: list = []
        how = ""
        for aliases in (COLUMN_ALIASES.get(name, {}).get(canon, ()), fallback.get(canon, ())):
            # a Shapefile's field names are cut at 10 bytes: 社区名称 is stored as 社区名
            names = list(dict.fromkeys([a for a in aliases if a in given]
                                       + [_cut_name(a) for a in aliases if _cut_name(a) != a and _cut_name(a) in given]))
            present = [given[a] for a in names if given[a] not in columns.values()]
            if len(present) > 1 and aliases is fallback.get(canon) and (name, canon) == ("enterprises", "category"):
                present, how = _industry_column(out, present)
            if present:
                break
        if len(present) > 1 and found is not None:  # several: which one is meant is the user's to say
            found.append({"type": "column_alias_ambiguous", "severity": "warning", "layer": name,
                          "message": f"{name}: columns {present} could each be {canon}; none was used: map one with "
                                     f"--columns {name}.{canon}=COLUMN"})
        if len(present) != 1:
            continue
        out = out.rename(columns={present[0]: canon})
        sources[canon] = str(present[0])
        if found is not None:
            found.append({"type": "column_alias_used", "severity": "info", "layer": name,
                          "message": f"{name}: column {present[0]!r} read as {canon} (no column named {canon}{how}); "
                                     f"map another with --columns {name}.{canon}=COLUMN"})
    for req in spec["required"] if require else ():
        if req not in out.columns:
            msg = (
                f"{name}: required column {req!r} not found; columns there: "
                f"{[c for c in gdf.columns if c != gdf.geometry.name]}; map one with --columns {name}.{req}=YOUR_COLUMN"
            )
            raise InputError(msg)
    # a later message about a column names it as the user's layer has it (``户数``, not ``households``)
    out.attrs[SOURCE_COLUMNS] = sources
    return out


def _industry_column(units: gpd.GeoDataFrame, present: list) -> tuple[list, str]:
    """Of an enterprise register's several industry columns (``行业门类`` and ``所属行业``), the one whose values read as
    unit categories (:func:`gridgeo.dedicated.category_of`) for the most rows, and why, for the finding; all of them
    when none reads (each left unread, a warning); a tie is an :class:`InputError` naming them and the fix, unless
    they read as the same category in every row.

    >>> u = gpd.GeoDataFrame({"行业门类": ["P 教育", "C 制造业"], "所属行业": ["普通高中教育", "制造业"]}, geometry=[None] * 2)
    >>> _industry_column(u, ["行业门类", "所属行业"])
    (['行业门类'], "; of ['行业门类', '所属行业'], the one read as a category for the most rows: 2 of 2")
    """
    from .dedicated import category_of

    cats = {c: [category_of(str(v)) if pd.notna(v) else None for v in units[c]] for c in present}
    read = {c: sum(k is not None for k in cats[c]) for c in present}
    best = max(read.values())
    top = [c for c in present if read[c] == best]
    if best == 0:
        return present, ""
    if len(top) > 1 and any(cats[c] != cats[top[0]] for c in top[1:]):  # a tie that reads alike is no question
        msg = (f"enterprises: columns {top} each read as a unit category for {counted(best, 'row')}; say which is the "
               f"category with --columns enterprises.category={top[0]} (or {top[1]})")
        raise InputError(msg)
    return top[:1], f"; of {present}, the one read as a category for the most rows: {best:,} of {len(units):,}"


def _as_polygons(gdf: gpd.GeoDataFrame, *, name: str) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Polygons where a polygon layer holds outlines drawn as closed lines (CAD and survey exports) or
    collections with polygons in them; the findings say how many. Open lines stay (and are refused)."""
    from ._geometry import polygonal

    geoms = np.asarray(gdf.geometry.array, dtype=object).copy()
    tid = shapely.get_type_id(geoms)
    findings: list[dict] = []
    lines = np.flatnonzero(np.isin(tid, (1, 2, 5)))  # LineString, LinearRing, MultiLineString
    closed = np.zeros(0, dtype=np.int64)
    if len(lines):
        parts, owner = shapely.get_parts(geoms[lines], return_index=True)
        ring = shapely.is_closed(parts) & (shapely.get_num_coordinates(parts) >= 4)
        # a feature all of whose parts are closed rings is an outline; one open part leaves it a line
        whole = np.bincount(owner, weights=~ring, minlength=len(lines)) == 0
        whole &= np.bincount(owner, minlength=len(lines)) > 0
        take = whole[owner]
        polys = shapely.polygons(shapely.linearrings(shapely.get_coordinates(parts[take]),
                                                     indices=np.repeat(np.arange(take.sum()),
                                                                       shapely.get_num_coordinates(parts[take]))))
        multi = shapely.multipolygons(polys, indices=np.unique(owner[take], return_inverse=True)[1])
        closed = lines[whole]
        one = np.bincount(owner[take], minlength=len(lines))[whole] == 1
        geoms[closed] = np.where(one, shapely.get_geometry(multi, 0), multi)
    if len(closed):
        findings.append({"type": "outline_closed_to_polygon", "severity": "info", "layer": name,
                         "measure": float(len(closed)),
                         "message": f"{name}: {counted(len(closed), 'outline')} drawn as closed lines read as polygons"})
    colls = np.flatnonzero(tid == 7)
    polys = polygonal(geoms[colls])
    kept = colls[~shapely.is_empty(polys)]
    geoms[kept] = polys[~shapely.is_empty(polys)]
    if len(kept):
        findings.append({"type": "collection_polygons_kept", "severity": "warning", "layer": name,
                         "measure": float(len(kept)),
                         "message": f"{name}: {counted(len(kept), 'geometry collection')} read as their polygons (lines and "
                                    "points in them left out)"})
    if not len(closed) and not len(kept):
        return gdf, []
    return gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs)), findings


def _type_fix(name: str, found: list[str]) -> str:
    """How to mend a layer of the wrong geometry type (after the ``; ``-separated message)."""
    if name == "streets" and any("Polygon" in t for t in found):
        return "; give street centre lines (OSM highway lines), not road surfaces"
    if any("Line" in t for t in found):
        return "; close the outlines into polygons (QGIS: Lines to Polygons); open lines cannot be read as areas"
    if "GeometryCollection" in found:
        return "; split the collections into single geometries (QGIS: Multipart to Singleparts)"
    return ""


def _check_geometry(gdf: gpd.GeoDataFrame, *, name: str) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Drop-free geometry checks: wrong types raise; null/empty raise; invalid ones are repaired."""
    allowed = LAYER_KINDS[name]["geom"]
    findings: list[dict] = []
    has_z = shapely.has_z(np.asarray(gdf.geometry.array, dtype=object))
    if has_z.any():
        # gridgeo works in 2D; Z beside 2D layers breaks overlay (GEOSException), so it is dropped
        gdf = gdf.set_geometry(gpd.GeoSeries(shapely.force_2d(np.asarray(gdf.geometry.array, dtype=object)),
                                             index=gdf.index, crs=gdf.crs))
        findings.append({"type": "z_dropped", "severity": "info", "layer": name, "measure": float(has_z.sum()),
                         "message": f"{name}: Z coordinates of {counted(int(has_z.sum()), 'feature')} dropped; gridgeo works in 2D"})
    geoms = gdf.geometry.array
    missing = shapely.is_missing(np.asarray(geoms)) | gdf.geometry.is_empty.to_numpy()
    if missing.any():
        idx = list(gdf.index[missing][:5])
        msg = f"{name}: {counted(int(missing.sum()), 'feature')} {'has' if missing.sum() == 1 else 'have'} no geometry (rows {idx}); remove them or add geometry"
        raise InputError(msg)
    if "Polygon" in allowed:
        gdf, found = _as_polygons(gdf, name=name)
        findings += found
    if "LineString" in allowed:  # a closed line (a ring road, a lane round a compound) as shapely's LinearRing
        arr = np.asarray(gdf.geometry.array, dtype=object)
        ring = shapely.get_type_id(arr) == 2
        if ring.any():
            arr = arr.copy()
            arr[ring] = [shapely.LineString(shapely.get_coordinates(g)) for g in arr[ring]]
            gdf = gdf.set_geometry(gpd.GeoSeries(arr, index=gdf.index, crs=gdf.crs))
    types = gdf.geom_type
    wrong = ~types.isin(allowed)
    if wrong.any():
        found = sorted(types[wrong].unique())
        msg = f"{name}: geometry type(s) {found} not accepted; {name} must be {sorted(allowed)}{_type_fix(name, found)}"
        raise InputError(msg)
    invalid = ~gdf.geometry.is_valid.to_numpy()
    if invalid.any():
        reasons = shapely.is_valid_reason(np.asarray(geoms)[invalid])
        fixed = make_valid(np.asarray(geoms)[invalid])
        fam = "Polygon" if "Polygon" in allowed else ("LineString" if "LineString" in allowed else "Point")
        fixed = np.array([_keep_family(g, fam) for g in fixed], dtype=object)
        gdf = gdf.copy()
        new = np.asarray(gdf.geometry.array, dtype=object).copy()
        new[invalid] = fixed
        gdf = gdf.set_geometry(gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs))
        for i, reason, g in zip(np.flatnonzero(invalid), reasons, fixed, strict=True):
            findings.append(
                {
                    "type": "invalid_geometry_repaired",
                    "severity": "warning",
                    "layer": name,
                    "feature_id": str(gdf.index[i]),
                    "message": f"{name} feature {gdf.index[i]!r} was invalid ({reason}); repaired with make_valid",
                    "geometry": g,
                }
            )
        empty_after = shapely.is_empty(fixed)
        if empty_after.any():
            where = "; ".join(f"row {gdf.index[i]!r}: {r}" for i, r in
                              list(zip(np.flatnonzero(invalid)[empty_after], reasons[empty_after], strict=True))[:5])
            n = int(empty_after.sum())
            msg = (f"{name}: {counted(n, 'invalid feature')} {'collapses' if n == 1 else 'collapse'} to nothing when "
                   f"repaired ({where}); redraw or remove {'it' if n == 1 else 'them'} in the source")
            raise InputError(msg)
    return gdf, findings


def _keep_family(geom: Any, family: str) -> Any:
    """From a make_valid result keep the parts of the wanted family (polygons of a polygon layer)."""
    if geom.geom_type.endswith(family) or geom is None:
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type.endswith(family)]
    if not parts:
        return shapely.Polygon() if family == "Polygon" else geom
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def normalise_communities(gdf: gpd.GeoDataFrame, *, columns: dict[str, str] | None = None) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Canonical communities: ``code`` (12-digit str), ``name``, ``kind``; checked and repaired.

    >>> from shapely import box
    >>> g = gpd.GeoDataFrame({"code": [420103001001]}, geometry=[box(0, 0, 1, 1)], crs=4547)
    >>> out, _ = normalise_communities(g)
    >>> out[["code", "name", "kind"]].to_dict("records")
    [{'code': '420103001001', 'name': '420103001001', 'kind': 'urban'}]
    """
    aliased: list[dict] = []
    out = _map_columns(gdf, name="communities", columns=columns, found=aliased)
    out, findings = _check_geometry(out, name="communities")
    findings = aliased + findings
    code = out["code"].map(_code_text)
    bad = ~code.map(lambda c: bool(c) and bool(_CODE_RE.match(c)))
    if bad.any():
        # a missing code is no text to show ("nan"): its row (and name) says where it is
        names = out["name"] if "name" in out else pd.Series(None, index=out.index, dtype=object)
        examples = [str(out["code"].iloc[i]) if code.iloc[i] else
                    f"none in row {out.index[i]!r}" + (f" ({names.iloc[i]})" if pd.notna(names.iloc[i]) and str(names.iloc[i]).strip() else "")
                    for i in np.flatnonzero(bad)[:5]]
        msg = (
            f"communities: {counted(int(bad.sum()), 'malformed community code')} {examples}; each code must be the "
            "12-digit statistical code (统计用区划代码) in ASCII digits, e.g. 420103002001"
        )
        raise InputError(msg)
    dup = code[code.duplicated(keep=False)]
    if len(dup):
        msg = f"communities: duplicate community code(s) {sorted(set(dup))[:5]}; every community needs its own code (merge the parts into one MultiPolygon if they are one community)"
        raise InputError(msg)
    out["code"] = code
    out["name"] = out["name"].astype(object).where(out["name"].notna(), out["code"]) if "name" in out else out["code"]
    out["name"] = out["name"].astype(str)
    if "kind" in out:
        kind = out["kind"].astype(object).where(out["kind"].notna(), "urban").astype(str).str.strip().str.lower()
        kind_alias = kind.isin(list(KIND_ALIASES)) & ~kind.isin(COMMUNITY_KINDS)
        if kind_alias.any():
            read = {k: KIND_ALIASES[k] for k in sorted(kind[kind_alias].unique())}
            findings.append({"type": "kind_alias_used", "severity": "info", "layer": "communities",
                             "measure": float(kind_alias.sum()),
                             "message": "communities: kind " + ", ".join(f"{k!r} read as {v}" for k, v in read.items())
                                        + f" ({counted(int(kind_alias.sum()), 'community', 'communities')})"})
            kind = kind.where(~kind_alias, kind.map(KIND_ALIASES))
        wrong = ~kind.isin(COMMUNITY_KINDS)
        if wrong.any():
            msg = (f"communities: unknown kind(s) {sorted(kind[wrong].unique())}; use one of {list(COMMUNITY_KINDS)} "
                   "(社区 or 居委会 read as urban, 村 or 村委会 as rural, 乡镇驻地 or 镇区 as township)")
            raise InputError(msg)
        out["kind"] = kind
    else:
        out["kind"] = "urban"
        findings += _unread_kind(out)
    return out, findings


def _unread_kind(communities: gpd.GeoDataFrame) -> list[dict]:
    """A warning when the layer has no ``kind`` but another column holds nothing but kinds (``类型``: 社区, 村)
    with a village or township among them: every community is divided under the urban rules, that column unread.

    >>> from shapely import box
    >>> g = gpd.GeoDataFrame({"code": ["420103001001", "420103001201"], "类型": ["社区", "村"]},
    ...                      geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4547)
    >>> _unread_kind(g)[0]["message"]
    "communities: no kind column: every community divided under the urban rules; column '类型' holds kinds ('村' for 1 village or township): if it is the kind, map it with --columns communities.kind=类型"
    """
    words_known = {*KIND_ALIASES, *COMMUNITY_KINDS}
    for col in communities.columns:
        values = communities[col]
        if col in ("code", "name", "kind", communities.geometry.name) or not (
                values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            continue
        words = values.dropna().astype(str).str.strip()
        words = words[words != ""]
        if words.empty or not words.str.lower().isin(words_known).all():
            continue
        kinds = words.str.lower().map(lambda w: KIND_ALIASES.get(w, w))
        other = words[kinds != "urban"]
        if other.empty:  # all urban: read or not, the rules are the same
            continue
        shown = ", ".join(repr(w) for w in sorted(set(other))[:3])
        return [{"type": "kind_column_unread", "severity": "warning", "layer": "communities", "measure": float(len(other)),
                 "message": f"communities: no kind column: every community divided under the urban rules; column {col!r} "
                            f"holds kinds ({shown} for {counted(len(other), 'village or township', 'villages or townships')}): "
                            f"if it is the kind, map it with --columns communities.kind={col}"}]
    return []


def _code_text(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def check_community_overlaps(
    communities: gpd.GeoDataFrame, metric: Any, *, tolerance_m: float = 2.0, held: gpd.GeoDataFrame | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Resolve overlaps and gaps between communities narrower than ``tolerance_m``; raise on wider overlaps.

    Returns the communities in ``metric`` with the slivers given to the neighbour sharing the longest
    boundary and their crumbs under :data:`gridgeo.boundaries.CRUMB_M2` left out, and a finding per sliver
    and crumb (see :func:`gridgeo.boundaries.resolve_slivers`, :func:`gridgeo.boundaries.drop_crumbs`); ``held``: a
    previous plan's communities, whose owner of a sliver keeps it (a re-division).
    """
    from ._findings import concat_findings
    from .boundaries import drop_crumbs, resolve_slivers

    fixed, found = resolve_slivers(communities.to_crs(metric), tolerance_m=tolerance_m,
                                   held=None if held is None else held.to_crs(metric))
    fixed, crumbs = drop_crumbs(fixed)
    return fixed, concat_findings([found, crumbs], crs=fixed.crs)


def normalise_streets(gdf: gpd.GeoDataFrame, *, columns: dict[str, str] | None = None) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Canonical streets: ``name``, ``highway`` (None when absent)."""
    aliased: list[dict] = []
    out = _map_columns(gdf, name="streets", columns=columns, found=aliased)
    out, findings = _check_geometry(out, name="streets")
    findings = aliased + findings
    for col in ("name", "highway"):
        if col not in out:
            out[col] = None
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out[["name", "highway", "geometry"]], findings


def normalise_buildings(gdf: gpd.GeoDataFrame, *, columns: dict[str, str] | None = None) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Canonical buildings: ``building_id`` (unique str), ``households`` (raw), ``floors``, ``name``, ``use``.

    Households are not estimated here (see :mod:`gridgeo.households`). A missing ``building_id`` is made
    from the geometry, so it does not depend on row order.
    """
    aliased: list[dict] = []
    out = _map_columns(gdf, name="buildings", columns=columns, found=aliased)
    out, findings = _check_geometry(out, name="buildings")
    findings = aliased + findings
    if "building_id" in out:
        bid = out["building_id"].map(_code_text)
        empty = bid == ""
        if empty.any() or bid.duplicated().any():
            dups = sorted(set(bid[~empty & bid.duplicated(keep=False)]))[:5]
            what = "; ".join(([f"{int(empty.sum())} empty (rows {np.flatnonzero(empty.to_numpy())[:5].tolist()})"] if empty.any() else [])
                             + ([f"duplicates {dups}"] if dups else []))
            msg = f"buildings: building_id must be unique and non-empty ({what}); fix the column or drop it to let gridgeo make ids"
            raise InputError(msg)
        out["building_id"] = bid
    else:
        out["building_id"] = _geometry_ids(out.geometry, prefix="b")
    for col in ("households", "floors"):
        if col not in out:
            out[col] = np.nan
    for col in ("name", "use"):
        if col not in out:
            out[col] = None
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    front = ["building_id", "households", "floors", "name", "use"]
    rest = [c for c in out.columns if c not in front and c != "geometry"]
    return out[front + rest + ["geometry"]], findings


def normalise_points(gdf: gpd.GeoDataFrame, *, name: str, columns: dict[str, str] | None = None) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Canonical optional layers (``villager_groups``, ``enterprises``)."""
    aliased: list[dict] = []
    out = _map_columns(gdf, name=name, columns=columns, found=aliased)
    out, findings = _check_geometry(out, name=name)
    findings = aliased + findings
    for col in LAYER_KINDS[name]["optional"]:
        if col not in out:
            out[col] = None
    return out, findings


def _geometry_ids(geoms: gpd.GeoSeries, *, prefix: str) -> pd.Series:
    """Ids from normalised, rounded WKB: the same building gets the same id whatever the row order."""
    rounded = shapely.normalize(shapely.set_precision(geoms.to_crs(4326).array if geoms.crs else geoms.array, 1e-7))
    wkb = shapely.to_wkb(rounded)
    ids = pd.Series([prefix + hashlib.sha1(w).hexdigest()[:12] for w in wkb], index=geoms.index)
    # identical geometries: number the copies (they are indistinguishable, so order does not matter)
    return ids + ids.groupby(ids).cumcount().map(lambda n: "" if n == 0 else f"-{n}")


# ------------------------------------------------------------------------------------------- config


#: keys of a config file's ``[grids]`` table (``rebalance``, ``unify``): how the grid layer given on the command line is
#: read, as ``--grids-layer``, ``--grids-datum``, ``--encoding grids=`` and ``--columns grids.code=`` say
GRID_CONFIG_KEYS = ("columns", "datum", "encoding", "layer")


#: keys of a config file's ``[households]`` table: a households table (户数表, :mod:`gridgeo.household_table`), its
#: sheet, encoding and building id column, as ``--households``, ``--households-layer``, ``--encoding households=`` and
#: ``--households-key`` say
HOUSEHOLDS_CONFIG_KEYS = frozenset({"path", "layer", "encoding", "key"})


def load_config(path: str | Path, *, grids: bool = False) -> dict[str, LayerSource]:
    """Read layer sources from a TOML config file.

    Each layer is a table with ``path`` (relative to the config file), optional ``layer``, ``crs``,
    ``datum``, ``encoding`` and a ``columns`` table mapping canonical names to the file's columns::

        [communities]
        path = "communities.shp"
        columns = { code = "CUN_DM", name = "CUN_MC" }

    A ``[households]`` table names a households table (户数表) joined to the buildings by building id, with ``path``,
    optional ``layer`` (its sheet), ``encoding`` and ``key`` (its building id column), returned as ``"households"``::

        [households]
        path = "户数表.xlsx"
        key = "楼栋编号"

    With ``grids`` (the commands reading an office's grid layer: ``rebalance``, ``unify``), a ``[grids]`` table says
    how that layer, given on the command line, is read (:data:`GRID_CONFIG_KEYS`; ``columns`` of :data:`GRID_COLUMNS`),
    returned as ``"grids"``, a source without a path::

        [grids]
        encoding = "gbk"
        datum = "gcj02"
        columns = { code = "WGBM", community = "SQDM" }
    """
    p = Path(path)
    if not p.exists():
        msg = f"config file not found: {path}; check the path"
        raise InputError(msg)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"config file {path} is not valid TOML: {exc}; TOML files are UTF-8 text"
        raise InputError(msg) from None
    sources: dict[str, LayerSource] = {}
    layer_keys = {"path", "layer", "crs", "datum", "encoding", "columns"}
    sections = sorted([*LAYER_KINDS, "households"]) + (["grids"] if grids else [])
    for key, table in data.items():
        if key in ("rules",):
            continue
        if not isinstance(table, dict):  # a key above every section: `crs = "EPSG:4326"` meant for all layers
            hint = (f"; layer settings go in each layer's section, e.g. [buildings] {key} = {table!r}"
                    if key in layer_keys else f"; valid sections: {sections} and [rules]")
            msg = f"config {path}: key {key!r} outside any section{hint}"
            raise InputError(msg)
        if key not in sections:
            why = " ([grids] is read by rebalance and unify, of their grid layers)" if key == "grids" else ""
            msg = f"config {path}: unknown section [{key}]{why}; valid sections: {sections} and [rules]"
            raise InputError(msg)
        allowed = set(GRID_CONFIG_KEYS) if key == "grids" else HOUSEHOLDS_CONFIG_KEYS if key == "households" else layer_keys
        extra = sorted(set(table) - allowed)
        if extra:
            where = " (the grid layer is given on the command line)" if key == "grids" and "path" in extra else ""
            msg = f"config {path}: unknown key(s) {extra} in [{key}]{where}; valid keys: {sorted(allowed)}"
            raise InputError(msg)
        if "path" not in table and key != "grids":
            msg = f"config {path}: section [{key}] needs a path"
            raise InputError(msg)
        if "path" in table and not isinstance(table["path"], str):  # `path = 5`: else a TypeError from Path()
            msg = f"config {path}: [{key}] path = {table['path']!r} must be a file's path in quotes, e.g. path = \"户数表.xlsx\""
            raise InputError(msg)
        columns = table.get("columns", {})
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            msg = f"config {path}: [{key}] columns must be a table of names, e.g. columns = {{ code = \"CUN_DM\" }}"
            raise InputError(msg)
        unknown = sorted(set(columns) - set(GRID_COLUMNS)) if key == "grids" else []
        if unknown:
            msg = (f"config {path}: [grids] columns {unknown} unknown; a grid layer's columns to map are "
                   f"{list(GRID_COLUMNS)}, e.g. columns = {{ code = \"WGBM\" }}")
            raise InputError(msg)
        if key == "grids" and table.get("datum") not in (None, "wgs84", "gcj02", "bd09"):
            msg = (f"config {path}: [grids] datum = {table['datum']!r} is not one of ['wgs84', 'gcj02', 'bd09'] (gcj02: "
                   "drawn on AMap/Tencent maps, bd09: on Baidu's)")
            raise InputError(msg)
        if key == "households":  # a table (户数表) joined to the buildings: the key column kept as building_id's
            if not isinstance(table.get("key", ""), str):
                msg = f"config {path}: [households] key must be the table's building id column, e.g. key = \"楼栋编号\""
                raise InputError(msg)
            lp = Path(table["path"])
            sources[key] = LayerSource(lp if lp.is_absolute() else p.parent / lp, layer=table.get("layer"),
                                       encoding=table.get("encoding"),
                                       columns={"building_id": table["key"]} if "key" in table else {})
            continue
        if key == "grids":
            sources[key] = LayerSource(None, layer=table.get("layer"), datum=table.get("datum"),
                                       encoding=table.get("encoding"), columns=dict(columns))
            continue
        lp = Path(table["path"])
        sources[key] = LayerSource(
            path=lp if lp.is_absolute() else p.parent / lp,
            layer=table.get("layer"),
            crs=table.get("crs"),
            datum=table.get("datum"),
            encoding=table.get("encoding"),
            columns=dict(columns),
        )
    return sources


#: the input layers, in the order they are read
INPUT_LAYERS = ("communities", "streets", "buildings", "villager_groups", "enterprises")


def as_source(value: Any, *, name: str) -> LayerSource:
    """One input layer as a :class:`LayerSource`: a path, a ``(path, layer)`` pair, a GeoDataFrame or a
    :class:`LayerSource` (copied, so that column mappings added later never reach the caller's).

    >>> as_source(("town.gpkg", "streets"), name="streets").layer
    'streets'
    >>> as_source(42, name="streets")
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: streets=42: give a GeoDataFrame, a file path or a (path, layer) pair
    """
    if isinstance(value, LayerSource):
        from dataclasses import replace

        return replace(value, columns=dict(value.columns))
    if isinstance(value, gpd.GeoDataFrame):
        return LayerSource(None, frame=value)
    if isinstance(value, (str, os.PathLike)):
        return LayerSource(value)
    if (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (str, os.PathLike))
            and isinstance(value[1], (str, type(None)))):
        return LayerSource(value[0], layer=value[1])
    if isinstance(value, gpd.GeoSeries):
        msg = f"{name}: a GeoSeries; give a GeoDataFrame (series.to_frame()) with the layer's columns"
    elif isinstance(value, pd.DataFrame):
        msg = (f"{name}: a DataFrame without geometry; give a GeoDataFrame "
               "(gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326)) or a file path")
    else:
        shown = repr(value) if len(repr(value)) <= 60 else f"<{type(value).__name__}>"
        msg = f"{name}={shown}: give a GeoDataFrame, a file path or a (path, layer) pair"
    raise InputError(msg)


#: the columns of a grid layer (``gridgeo validate GRIDS``, ``rebalance``, ``unify``) a mapping may name
#: (``--columns grids.code=WGBM``, a :class:`LayerSource`'s ``columns``): canonical name → what it holds
GRID_COLUMNS: dict[str, str] = {"code": "the grid code", "community": "the community code",
                                "kind": "the grid's kind (base or dedicated)"}


def grid_columns(value: Any, columns: dict[str, str] | None = None, *, name: str = "grids",
                 cli: bool | None = None) -> dict[str, str]:
    """The column mapping of a grid layer: a :class:`LayerSource`'s own ``columns``, then ``columns``
    (``--columns grids.code=WGBM``); canonical name (:data:`GRID_COLUMNS`) → the layer's column.

    >>> grid_columns(LayerSource("office.shp", columns={"code": "WGBM"}), {"kind": "类型"})
    {'code': 'WGBM', 'kind': '类型'}
    >>> grid_columns("office.shp", {"grid_code": "WGBM"})
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: columns={'grids': {'grid_code': 'WGBM'}}: a grid layer's columns to map are ['code', 'community', 'kind'] (e.g. {'code': 'WGBM'})
    """
    cli = CLI.get() if cli is None else cli
    own = dict(value.columns) if isinstance(value, LayerSource) else {}
    given = dict(columns or {})
    if not all(isinstance(v, str) for v in given.values()):
        msg = f"columns={{{name!r}: {given!r}}}: map canonical names to the layer's columns, e.g. {{'code': 'WGBM'}}"
        raise InputError(msg)
    for canon, col in {**own, **given}.items():
        shown = f"--columns {name}.{canon}={col}" if cli else f"columns={{{name!r}: {{{canon!r}: {col!r}}}}}"
        if canon not in GRID_COLUMNS:
            example = f"--columns {name}.code=WGBM" if cli else "{'code': 'WGBM'}"
            msg = f"{shown}: a grid layer's columns to map are {list(GRID_COLUMNS)} (e.g. {example})"
            raise InputError(msg)
        if canon in own and canon in given and own[canon] != given[canon]:
            msg = (f"{shown}: the layer's source maps {canon} to {own[canon]!r} already; give one column for "
                   f"{GRID_COLUMNS[canon]}")
            raise InputError(msg)
    return {**own, **given}


def mapped_option(value: Any, mapped: str | None, *, default: str | None, option: str, canon: str,
                  name: str = "grids", cli: bool | None = None) -> Any:
    """The column an option names (``code_column``) once a mapping (``--columns grids.code=WGBM``) is taken in: the
    mapped column where the option is left at its ``default``; both given and different is an
    :class:`~gridgeo.InputError`.

    >>> mapped_option("grid_code", "WGBM", default="grid_code", option="code_column", canon="code")
    'WGBM'
    """
    if mapped is None or value in (None, default, mapped):
        return value if mapped is None else mapped
    cli = CLI.get() if cli is None else cli
    flag = f"--{option.replace('_', '-')} {value}" if cli else f"{option}={value!r}"
    shown = f"--columns {name}.{canon}={mapped}" if cli else f"the {name} layer's mapping {{{canon!r}: {mapped!r}}}"
    msg = f"{flag} and {shown} name two columns for {GRID_COLUMNS[canon]}; give one"
    raise InputError(msg)


def _give(layer: str, cli: bool) -> str:
    return f"add --{layer.replace('_', '-')} PATH" if cli else f"pass {layer}= (a GeoDataFrame or a path)"


def layer_sources(
    layers: dict[str, Any],
    *,
    columns: dict[str, dict[str, str]] | None = None,
    encodings: dict[str, str] | None = None,
    datums: dict[str, str] | None = None,
    cli: bool | None = None,
) -> dict[str, LayerSource]:
    """The layer sources of a run, as ``gridgeo partition`` and :func:`gridgeo.divide` both assemble them.

    Parameters
    ----------
    layers
        Layer name (:data:`INPUT_LAYERS`) → path, ``(path, layer)``, GeoDataFrame or
        :class:`LayerSource`; ``None`` values are left out.
    columns
        Layer → {canonical column: column in the data}, e.g. ``{"communities": {"code": "CUN_DM"}}``.
    encodings, datums
        Layer → text encoding, and layer → ``gcj02``/``bd09`` (a layer digitised on Chinese web maps).
    cli
        Word messages with the command line's options (``--columns``) if true, with Python's arguments if
        false; by default for the face called (:data:`gridgeo._face.CLI`: the options while the command line runs).

    Returns
    -------
    dict
        Layer name → :class:`LayerSource` (new objects: the caller's are never changed).

    Examples
    --------
    >>> s = layer_sources({"communities": "c.shp"}, columns={"communities": {"code": "CUN_DM"}})
    >>> s["communities"].columns
    {'code': 'CUN_DM'}
    >>> layer_sources({"communities": "c.shp"}, columns={"streets": {"name": "MC"}})
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: columns={'streets': {'name': 'MC'}}: layer 'streets' is not given; pass streets= (a GeoDataFrame or a path)
    """
    cli = CLI.get() if cli is None else cli
    sources = {name: as_source(value, name=name) for name, value in layers.items() if value is not None}
    if not isinstance(columns, (dict, type(None))):
        msg = f"columns={columns!r}: give a dict of layer → {{canonical name: column}}, e.g. {{'communities': {{'code': 'CUN_DM'}}}}"
        raise InputError(msg)
    for layer, mapping in (columns or {}).items():
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            msg = (f"columns={{{layer!r}: {mapping!r}}}: map canonical names to the data's columns, "
                   f"e.g. columns={{'communities': {{'code': 'CUN_DM'}}}}")
            raise InputError(msg)
        for canon, col in mapping.items():
            shown = f"--columns {layer}.{canon}={col}" if cli else f"columns={{{layer!r}: {{{canon!r}: {col!r}}}}}"
            if layer not in INPUT_LAYERS:
                fix = "name the layer, e.g. communities.code=CUN_DM" if cli else "name the layer, e.g. columns={'communities': {'code': 'CUN_DM'}}"
                msg = f"{shown}: {fix} (layers: {list(INPUT_LAYERS)})"
                raise InputError(msg)
            if layer not in sources:
                msg = f"{shown}: layer {layer!r} is not given; {_give(layer, cli)}"
                raise InputError(msg)
            sources[layer].columns[canon] = col
    for layer, value in (encodings or {}).items():
        if layer not in sources:
            shown = f"--encoding {layer}={value}" if cli else f"encodings={{{layer!r}: {value!r}}}"
            msg = f"{shown}: layer {layer!r} is not given (layers given: {sorted(sources)})"
            raise InputError(msg)
        sources[layer].encoding = value
    for layer, datum in (datums or {}).items():
        if layer not in sources:
            shown = f"--{layer.replace('_', '-')}-datum {datum}" if cli else f"datums={{{layer!r}: {datum!r}}}"
            msg = f"{shown}: no {layer} layer is given"
            raise InputError(msg)
        sources[layer].datum = datum
    if "communities" not in sources:
        fix = "pass --communities FILE, --config FILE.toml or --sample" if cli else "pass communities= (a GeoDataFrame or a path)"
        msg = f"no communities given; {fix}"
        raise InputError(msg)
    return sources


def load_code_scheme(path: str | Path, *, option: str = "code_scheme") -> dict[str, Any]:
    """A grid code scheme from a TOML file (its ``[codes]`` table, or the whole file), as a dict.

    ``option`` names the argument in messages (``--code-scheme`` on the command line).

    >>> load_code_scheme("no/such.toml")
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: code_scheme no/such.toml: file not found; give a TOML file such as: prefix = ""  grid_digits = 3
    """
    if not Path(path).is_file():
        msg = f"{option} {path}: file not found; give a TOML file such as: prefix = \"\"  grid_digits = 3"
        raise InputError(msg)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"{option} {path} is not valid TOML: {exc}; TOML files are UTF-8 text"
        raise InputError(msg) from None
    return data.get("codes", data) if isinstance(data.get("codes"), dict) else data


_NORMALISERS = {
    "communities": normalise_communities,
    "streets": normalise_streets,
    "buildings": normalise_buildings,
}


def read_inputs(sources: dict[str, LayerSource], *, crs: Any = None, progress: Any = None) -> Inputs:
    """Read and normalise every given layer; ``communities`` is required.

    ``crs`` is the CRS assumed for layers that define none. Layers flagged with a ``datum`` (GCJ-02 or
    BD-09) are converted to WGS-84. ``progress``, when given, is called with ``"reading LAYER"`` before
    each layer is read.
    """
    if "communities" not in sources:
        msg = "no communities layer given; pass --communities FILE (community polygons with a 12-digit code)"
        raise InputError(msg)
    layers: dict[str, gpd.GeoDataFrame | None] = {}
    findings: list[dict] = []
    prints: dict[str, str] = {}
    for name in ("communities", "streets", "buildings", "villager_groups", "enterprises"):
        src = sources.get(name)
        if src is None:
            layers[name] = None
            continue
        if progress is not None:
            progress(f"reading {name}")
        # the shared crs only fills in for layers that define none; a layer's own crs must agree with its file
        if src.frame is not None:
            gdf = frame_layer(src.frame, name=name, crs=src.crs, default_crs=crs)
        else:
            gdf = read_layer(src.path, name=name, layer=src.layer, crs=src.crs, default_crs=crs, encoding=src.encoding)
        if src.datum:
            gdf = _convert_datum(gdf, src.datum, name=name)
        norm = _NORMALISERS.get(name)
        gdf, f = norm(gdf, columns=src.columns) if norm else normalise_points(gdf, name=name, columns=src.columns)
        layers[name] = gdf
        findings.extend(f)
        prints[name] = frame_fingerprint(src.frame) if src.frame is not None else fingerprint(src.path)
    if sources.get("households") is not None:
        if layers["buildings"] is None:
            msg = "households: a households table (户数表) is joined to the buildings; give the buildings too"
            raise InputError(msg)
        from .household_table import join_households

        if progress is not None:
            progress("reading households")
        layers["buildings"], f, prints["households"] = join_households(layers["buildings"], sources["households"])
        findings.extend(f)
    crs0 = layers["communities"].crs
    fnd = make_findings(findings, crs=None)
    if len(fnd):
        # findings geometries came in each layer's CRS; reproject per layer to the communities' CRS
        parts = []
        for name, grp in fnd.groupby("layer", sort=False):
            parts.append(grp.set_crs(layers[name].crs, allow_override=True).to_crs(crs0))
        fnd = concat_findings(parts, crs=crs0)
    else:
        fnd = make_findings([], crs=crs0)
    return Inputs(
        communities=layers["communities"],
        streets=layers["streets"],
        buildings=layers["buildings"],
        villager_groups=layers["villager_groups"],
        enterprises=layers["enterprises"],
        findings=fnd,
        fingerprints=prints,
    )


def _convert_datum(gdf: gpd.GeoDataFrame, datum: str, *, name: str) -> gpd.GeoDataFrame:
    from . import crs as _crs

    if not hasattr(_crs, "convert_datum"):  # pragma: no cover - during development
        msg = f"{name}: datum conversion is not available in this build"
        raise InputError(msg)
    return _crs.convert_datum(gdf, src=datum, dst="wgs84")


# --------------------------------------------------------------------------------------------------
# writing findings and repaired layers (atomically)


def write_geojson(gdf: gpd.GeoDataFrame, path: str | Path, *, layer: str) -> None:
    """Write ``gdf`` as RFC 7946 GeoJSON: lon/lat WGS-84, counter-clockwise exteriors, no ``crs`` member.

    Layers in CGCS2000 (EPSG:4490, how plans are stored) are relabelled, not transformed: the two datums agree
    within centimetres, and a transformation between them is a no-op in PROJ anyway. Other CRSs are
    transformed. The layer is named ``layer`` (GDAL would name it after the file written to).
    """
    if gdf.crs is not None:
        crs = CRS.from_user_input(gdf.crs)
        if crs.equals(CRS.from_epsg(4490)):
            gdf = gdf.set_crs(4326, allow_override=True)
        elif not crs.equals(CRS.from_epsg(4326)):
            gdf = gdf.to_crs(4326)
    gdf.to_file(path, driver="GeoJSON", engine="pyogrio", layer=layer, RFC7946="YES")


_FINDING_FORMATS = (".gpkg", ".geojson", ".json")


def _check_target(path: str | os.PathLike, *, force: bool, func: str, formats: Iterable[str]) -> Path:
    path = Path(path)
    if path.suffix.lower() not in formats:
        msg = f"{func}: cannot write {str(path)!r}; give a path ending in one of {list(formats)}"
        raise InputError(msg)
    if path.exists() and not force:
        msg = f"{func}: {str(path)!r} exists; pass {force_option()} to overwrite it"
        raise PlanExistsError(msg)
    if not path.parent.exists():
        msg = f"{func}: folder {str(path.parent)!r} does not exist; create it first"
        raise InputError(msg)
    return path


def _host() -> str:
    """This machine and process space in the names of temporary files (:func:`temporary_prefix`): its name (letters
    and digits) and, where Linux tells them, ``_`` and a tag of the kernel's boot and the process-id namespace.
    Process ids are only comparable within one namespace: containers sharing a folder may have the same name (one
    of ``--network host``, two machines called ``localhost``) while their ids run apart."""
    name = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
    try:
        space = Path("/proc/sys/kernel/random/boot_id").read_text().strip() + f":{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:  # not Linux: the name alone
        return name
    return f"{name}_{hashlib.sha256(space.encode()).hexdigest()[:8]}"


_HOST = _host()


def temporary_prefix(path: Path) -> str:
    """How gridgeo's temporary files (or folders) beside ``path`` begin: ``.NAME.gridgeo-HOST-PID-`` (``NAME`` the
    file's name, ``HOST`` the machine's name with a tag of its process space, ``PID`` the writing process's), so that a later run can tell one left by a killed run from one
    being written (:func:`remove_stale_temporaries`)."""
    return f".{path.name}.gridgeo-{_HOST}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine runs (or may: anything unsure counts as running)."""
    if os.name == "nt" or pid == os.getpid():  # (os.kill(pid, 0) would end a process on Windows)
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: another user's process
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[tuple[Path, int]]:
    """Remove the temporary files and folders beside ``path`` that a gridgeo process of this machine, killed while
    writing ``path``, left (named by :func:`temporary_prefix`, with SQLite's ``-journal``/``-wal``/``-shm``
    beside a GeoPackage); a file whose process still runs, or written on another machine, is left alone.
    Returns the ``(file, pid)`` removed."""
    path = Path(path)
    own = re.compile(rf"\.{re.escape(path.name)}\.gridgeo-{_HOST}-(\d+)-[a-z0-9_]{{8}}"
                     rf"(?:{re.escape(path.suffix)})?(?:-journal|-wal|-shm)?")
    removed = []
    try:
        names = os.listdir(path.parent if str(path.parent) else ".")
    except OSError:
        return removed
    for name in sorted(names):
        m = own.fullmatch(name)
        if m is None or _alive(int(m.group(1))):
            continue
        f = path.parent / name
        try:
            if f.is_dir() and not f.is_symlink():
                shutil.rmtree(f)
            else:
                f.unlink()
        except OSError:  # gone meanwhile, or not ours to remove: left as it is
            continue
        removed.append((f, int(m.group(1))))
    return removed


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Write a file atomically: ``write(tmp)`` writes a temporary file beside ``path`` (removed if it
    fails, even on Ctrl-C), which is then renamed over ``path``. Every file gridgeo writes goes this way.
    Temporary files of ``path`` left by a killed run are removed first (:func:`remove_stale_temporaries`)."""
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=path.suffix, dir=path.parent)
    os.close(fd)
    os.unlink(tmp)  # GDAL drivers refuse to write into an existing empty file
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_GPKG_LAYERS = {"findings": ("Polygon", "MultiPolygon"), "findings_lines": ("LineString", "MultiLineString"),
                "findings_points": ("Point", "MultiPoint")}


def write_findings(findings: gpd.GeoDataFrame, path: str | os.PathLike, *, force: bool = False) -> Path:
    """Write findings for QGIS or other tools: ``.gpkg``, ``.geojson`` or ``.json``; atomically.

    A GeoPackage holds layer ``findings`` (polygons, and findings without a place) plus
    ``findings_lines`` and ``findings_points`` when there are such findings, one geometry type per
    layer so every GIS opens them; :func:`read_findings` reads them back as one table. GeoJSON holds
    all in one file; ``.json`` is plain attributes with the geometry as WKT and the CRS.

    Raises
    ------
    PlanExistsError
        When ``path`` exists and ``force`` is false.
    InputError
        For an unknown extension or a missing folder.
    """
    func = "write_findings"
    path = _check_target(path, force=force, func=func, formats=_FINDING_FORMATS)
    ext = path.suffix.lower()
    table = findings[[*FINDING_COLUMNS, findings.geometry.name]].copy()
    if ext == ".json":
        def write(tmp: str) -> None:
            geoms = table.geometry.to_numpy()
            recs = []
            for row, g in zip(table[FINDING_COLUMNS].itertuples(index=False), geoms):
                d = {k: (None if (isinstance(v, float) and np.isnan(v)) else v) for k, v in zip(FINDING_COLUMNS, row)}
                d["wkt"] = None if (g is None or shapely.is_empty(g)) else shapely.to_wkt(g, rounding_precision=-1)
                recs.append(d)
            crs = table.crs.to_string() if table.crs is not None else None
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump({"crs": crs, "count": len(recs), "findings": recs}, fh, ensure_ascii=False, indent=1)
        atomic_write(path, write)
    elif ext == ".geojson":
        def write(tmp: str) -> None:
            write_geojson(table, tmp, layer="findings")  # the layer named, not after the temporary file
        atomic_write(path, write)
    else:
        def write(tmp: str) -> None:
            gtype = table.geometry.geom_type.fillna("")
            written = False
            for name, types in _GPKG_LAYERS.items():
                mask = gtype.isin(types)
                if name == "findings":
                    mask |= gtype == ""
                    mask |= table.geometry.is_empty.fillna(True)
                part = table[mask].copy()
                if name != "findings" and len(part) == 0:
                    continue
                part.loc[part.geometry.is_empty.fillna(False), part.geometry.name] = None
                part.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", promote_to_multi=True,
                             geometry_type="Multi" + types[0] if len(part) else "MultiPolygon",
                             **({"append": True} if written else {}))
                written = True
        atomic_write(path, write)
    return path


def read_findings(path: str | os.PathLike) -> gpd.GeoDataFrame:
    """Read findings written by :func:`write_findings` back into one table."""
    path = Path(path)
    ext = path.suffix.lower()
    if not path.exists():
        msg = f"read_findings: {str(path)!r} does not exist"
        raise InputError(msg)
    if ext == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        recs = [{**{k: r.get(k) for k in FINDING_COLUMNS}, "geometry": shapely.from_wkt(r["wkt"]) if r.get("wkt") else None}
                for r in data["findings"]]
        return make_findings(recs, crs=data.get("crs"))
    if ext == ".gpkg":
        import pyogrio

        names = [n for n, _ in pyogrio.list_layers(path) if n in _GPKG_LAYERS]
        frames = [gpd.read_file(path, layer=n, engine="pyogrio") for n in names]
        out = pd.concat(frames, ignore_index=True) if frames else gpd.GeoDataFrame(columns=[*FINDING_COLUMNS, "geometry"])
        return make_findings(out.to_dict("records"), crs=frames[0].crs if frames else None)
    gdf = gpd.read_file(path, engine="pyogrio")
    return make_findings(gdf.to_dict("records"), crs=gdf.crs)


def write_repair(repaired: gpd.GeoDataFrame, log: pd.DataFrame, path: str | os.PathLike, *, force: bool = False,
                 layer: str = "grids") -> os.PathLike:
    """Write repaired grids (layer ``layer``) and the log (table ``repair_log``, its columns as given) to one
    GeoPackage, atomically.

    Raises :class:`~gridgeo._errors.PlanExistsError` when ``path`` exists and ``force`` is false.
    """
    import pyogrio

    from .validate.repair import LOG_COLUMNS

    path = _check_target(path, force=force, func="write_repair", formats=(".gpkg",))

    def write(tmp: str) -> None:
        repaired.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio", promote_to_multi=True)
        # the log's own columns (a community repair's names the community ``code``), LOG_COLUMNS for no log
        table = pd.DataFrame(log) if len(getattr(log, "columns", ())) else pd.DataFrame(log, columns=LOG_COLUMNS)
        pyogrio.write_dataframe(table, tmp, layer="repair_log", driver="GPKG", append=True)

    atomic_write(path, write)
    return path
