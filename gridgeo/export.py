"""Exports of a plan for other systems: one schema in every format, and PostGIS.

Event dispatch, public security and 12345 hotline systems import the grid polygons and codes. Every
export writes the layers of :data:`EXPORT_LAYERS` with exactly the fields of the one schema
(``gridgeo/schema/plan.schema.json``, documented in ``docs/schema.md``), whatever the format:

========  ===========  ==================================================================
format    files        notes
========  ===========  ==================================================================
gpkg      one file     every layer in one GeoPackage
kml       one file     one folder per layer (GDAL's LIBKML driver, KML if absent); grids and
                       small grids named (``<name>``) by their code
geojson   per layer    RFC 7946: lon/lat, counter-clockwise exteriors, 7 decimals by default
shp       per layer    UTF-8 with ``.cpg`` (GBK on request); names of more than 10 characters
                       through :data:`gridgeo.io.SHAPEFILE_FIELD_NAMES`
parquet   per layer    GeoParquet (WKB geometry, CRS in the metadata)
fgb       per layer    FlatGeobuf, with its spatial index
csv       per layer    a ``WKT`` column last (``csv_geometry="none"``: no geometry); GDAL's
                       ``.csvt`` (field types: codes String) and ``.prj`` (the CRS)
========  ===========  ==================================================================

Multi-layer formats write one file at ``out``. Single-layer formats write a folder ``out`` holding
``<layer>.<suffix>`` per layer, or, when one layer is asked for and ``out`` ends in the format's
suffix, that one file. Writes are atomic: everything is written into a temporary folder beside
``out`` and renamed into place when complete; an existing ``out`` is replaced only with
``force=True``; a plan file is never overwritten. A folder export holds a marker file
(:data:`EXPORT_MARKER`, listing its files); ``force`` replaces a folder only when it is empty or an
earlier export (every entry listed in its marker, or, without a marker, named like an export's
files), never a folder holding anything else.
"""

from __future__ import annotations

import codecs
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from ._errors import InputError
from ._face import force_option
from .io import SHAPEFILE_FIELD_NAMES, remove_stale_temporaries, temporary_prefix
from .plan import Plan

__all__ = ["EXPORT_LAYERS", "EXPORT_MARKER", "FORMATS", "COORDS", "load_schema", "schema_fields", "export_layer", "export",
           "export_postgis", "shapefile_name"]

#: layers an export may hold, in this order
EXPORT_LAYERS = ("communities", "grids", "subgrids", "buildings", "units")

#: coordinate systems of an export: CGCS2000 (the plan's own), WGS-84, and the shifted GCJ-02 (AMap,
#: Tencent) and BD-09 (Baidu) for systems built on those maps (labelled EPSG:4326: they have no code)
COORDS = ("wgs84", "cgcs2000", "gcj02", "bd09")


@dataclass(frozen=True)
class _Format:
    suffix: str
    driver: str | None  # GDAL driver (None: written by gridgeo itself)
    multi_layer: bool
    text: bool  # coordinates written as decimal text: default precision applies


FORMATS: dict[str, _Format] = {
    "gpkg": _Format(".gpkg", "GPKG", True, False),
    "kml": _Format(".kml", "LIBKML", True, True),
    "geojson": _Format(".geojson", "GeoJSON", False, True),
    "shp": _Format(".shp", "ESRI Shapefile", False, False),
    "parquet": _Format(".parquet", None, False, False),
    "fgb": _Format(".fgb", "FlatGeobuf", False, False),
    "csv": _Format(".csv", None, False, True),
}

#: decimals of degrees written by the text formats unless asked otherwise (about 1 cm)
DEFAULT_TEXT_PRECISION = 7
_ENCODINGS = {"utf-8": "UTF-8", "utf8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030"}
_SUFFIX_FORMAT = {f.suffix: name for name, f in FORMATS.items()} | {".json": "geojson", ".geoparquet": "parquet"}
#: the file a folder export holds besides its layers: JSON listing the files of the export
EXPORT_MARKER = ".gridgeo-export"
_SIDECARS = (".dbf", ".shx", ".prj", ".cpg", ".csvt")
#: the schema's types as GDAL's CSV sidecar ``.csvt`` names them (a CSV has no types of its own: a reader
#: detecting them made numbers of the codes, and the 20-digit building codes overflowed)
_CSVT_TYPES = {"string": "String", "integer": "Integer64", "number": "Real", "boolean": "Integer(Boolean)"}


# ----------------------------------------------------------------------------------------------- schema


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The JSON Schema of the exported layers (``gridgeo/schema/plan.schema.json``).

    >>> sorted(load_schema()["$defs"]["grids"]["properties"])[:3]
    ['area_m2', 'buildings', 'community_code']
    """
    text = resources.files("gridgeo").joinpath("schema/plan.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def _json_type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return _json_type(defs[prop["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in prop:
        return next(_json_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null")
    kind = prop["type"]
    return next(k for k in kind if k != "null") if isinstance(kind, list) else kind


def schema_fields(layer: str) -> list[tuple[str, str]]:
    """The fields of an exported layer, in order, with their JSON type (string, integer, number, boolean).

    >>> schema_fields("subgrids")[:2]
    [('subgrid_code', 'string'), ('grid_code', 'string')]
    """
    schema = load_schema()
    if layer not in schema["x-layers"]:
        msg = f"layer {layer!r} is not exported; layers: {list(schema['x-layers'])}"
        raise InputError(msg)
    defs = schema["$defs"]
    return [(name, _json_type(prop, defs)) for name, prop in defs[layer]["properties"].items()]


def shapefile_name(field: str) -> str:
    """The DBF name (at most 10 characters) of a field, from :data:`gridgeo.io.SHAPEFILE_FIELD_NAMES`.

    >>> shapefile_name("community_code"), shapefile_name("households")
    ('community_', 'households')
    """
    if len(field) <= 10:
        return field
    for short, full in SHAPEFILE_FIELD_NAMES.items():
        if full == field:
            return short
    msg = f"field {field!r} has no Shapefile name; add it to gridgeo.io.SHAPEFILE_FIELD_NAMES"
    raise KeyError(msg)


# ----------------------------------------------------------------------------------------------- layers


def _source_column(layer: str, field: str) -> str:
    return "code" if layer == "communities" and field == "community_code" else field


def export_layer(plan: Plan, layer: str, *, coords: str = "wgs84", precision: int | None = None) -> gpd.GeoDataFrame:
    """One layer of a plan with exactly the schema's fields, in the coordinates asked for.

    Rows are sorted by the layer's key (its code); polygon exteriors are counter-clockwise and holes
    clockwise (RFC 7946). A field the plan lacks (say ``building_code`` in a plan that numbers no
    buildings) is written empty.

    Parameters
    ----------
    plan
        A :class:`~gridgeo.Plan`.
    layer
        One of :data:`EXPORT_LAYERS`.
    coords
        One of :data:`COORDS`.
    precision
        Decimals of degrees kept (``shapely.set_precision``, which keeps polygons valid); ``None``: all.
    """
    coords = _check_choice(coords, COORDS, "coords")
    if layer not in plan.layers:
        msg = f"export: the plan has no {layer!r} layer (it has {sorted(plan.layers)}); leave it out of --layers"
        raise InputError(msg)
    src = plan.layers[layer]
    out = pd.DataFrame(index=src.index)
    for field, kind in schema_fields(layer):
        col = _source_column(layer, field)
        values = src[col] if col in src.columns else pd.Series([None] * len(src), index=src.index)
        out[field] = _typed(values, kind)
    key = load_schema()["x-primary-key"][layer]
    gdf = gpd.GeoDataFrame(out, geometry=src.geometry.to_numpy(), crs=src.crs)
    gdf = gdf.sort_values(key, kind="stable").reset_index(drop=True)
    gdf = _to_coords(gdf, coords)
    geoms = gdf.geometry.to_numpy()
    if precision is not None:
        geoms = _snapped(geoms, precision, layer)
    gdf = gdf.set_geometry(shapely.orient_polygons(geoms, exterior_cw=False), crs=gdf.crs)
    return gdf


def _snapped(geoms: Any, precision: int, layer: str) -> Any:
    """``shapely.set_precision`` to ``precision`` decimals; an error when a feature would vanish (a
    building narrower than the grid size collapses to nothing), naming the count and a precision that
    keeps every feature."""
    snapped = shapely.set_precision(geoms, 10.0 ** -precision)
    lost = int((shapely.is_empty(snapped) & ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)).sum())
    if lost:
        safe = next((p for p in range(precision + 1, 16)
                     if not (shapely.is_empty(shapely.set_precision(geoms, 10.0 ** -p)) & ~shapely.is_empty(geoms)
                             & ~shapely.is_missing(geoms)).any()), 15)
        msg = (f"export: --precision {precision} empties {lost} of {len(geoms)} {layer} (features narrower than "
               f"{10.0 ** -precision:g} degrees); use --precision {safe} or more")
        raise InputError(msg)
    return snapped


def _typed(values: pd.Series, kind: str) -> pd.Series:
    if kind == "integer":
        return pd.to_numeric(values, errors="coerce").astype("Int64")
    if kind == "number":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if kind == "boolean":
        flags = values.map(_boolean)
        return flags.astype(bool) if flags.notna().all() else flags.astype(object).where(flags.notna(), None)
    return values.astype(object).where(values.notna(), None).map(lambda v: v if v is None else str(v))


def _boolean(value: Any) -> bool | None:
    """True/False from a bool, a 0/1 (GeoPackage, Shapefile) or its text ("true", "1"); None when empty."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("", "nan", "none", "null"):
            return None
        return v in ("true", "t", "1", "yes", "y")
    return bool(value)


def _to_coords(gdf: gpd.GeoDataFrame, coords: str) -> gpd.GeoDataFrame:
    from .crs import convert_datum

    if coords == "cgcs2000":
        return gdf.to_crs(4490)
    wgs = gdf.to_crs(4326)
    if coords == "wgs84":
        return wgs
    return convert_datum(wgs, src="wgs84", dst=coords)


def _check_choice(value: Any, choices: tuple[str, ...], option: str) -> str:
    v = str(value).lower() if value is not None else value
    if v not in choices:
        msg = f"export: {option}={value!r} is not one of {list(choices)}"
        raise InputError(msg)
    return v


# ----------------------------------------------------------------------------------------------- files


def export(
    plan: Plan | str | os.PathLike,
    out: str | os.PathLike,
    *,
    format: str | None = None,  # noqa: A002 - the option's name
    layers: list[str] | tuple[str, ...] | str | None = None,
    coords: str = "wgs84",
    precision: int | None = None,
    encoding: str = "utf-8",
    csv_geometry: str = "wkt",
    force: bool = False,
) -> list[Path]:
    """Write a plan's layers in one format for other systems: ``gridgeo export`` in Python.

    Parameters
    ----------
    plan
        A :class:`~gridgeo.Plan` or the path of a plan file.
    out
        A file for gpkg and kml; a folder for the single-layer formats (``<layer>.<suffix>`` inside),
        or that one file when one layer is asked for and ``out`` ends in the format's suffix.
    format
        One of :data:`FORMATS`; default: from the suffix of ``out``.
    layers
        Layers to write (a list or ``"grids,subgrids"``); default: every layer of
        :data:`EXPORT_LAYERS` the plan has.
    coords
        ``wgs84`` (default), ``cgcs2000``, ``gcj02`` (AMap, Tencent) or ``bd09`` (Baidu).
    precision
        Decimals of degrees; default: 7 for GeoJSON, CSV and KML, every digit for the binary formats.
    encoding
        Text encoding of Shapefile and CSV: ``utf-8`` (default) or ``gbk``; the other formats are UTF-8.
    csv_geometry
        ``wkt`` (a ``WKT`` column) or ``none``.
    force
        Replace an existing ``out`` (never the plan file itself).

    Returns
    -------
    list of Path
        The files written (a Shapefile by its ``.shp``).

    Examples
    --------
    >>> import tempfile, os
    >>> from shapely import box
    >>> import gridgeo
    >>> comm = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东湖社区"], "kind": ["urban"]},
    ...                         geometry=[box(114.30, 30.55, 114.301, 30.551)], crs=4490)
    >>> folder = tempfile.mkdtemp()
    >>> [p.name for p in export(Plan({"communities": comm}), os.path.join(folder, "out"), format="geojson")]
    ['communities.geojson']
    """
    from .api import _plan

    plan_path = Path(plan) if isinstance(plan, (str, os.PathLike)) else None
    out = Path(out)
    _check_target(out, plan_path, force=force)  # before the plan is read, as the other commands check their output
    plan = _plan(plan, "plan")
    fmt_name = _format_name(format, out)
    fmt = FORMATS[fmt_name]
    names = _layer_names(plan, layers)
    coords = _check_choice(coords, COORDS, "coords")
    enc = _ENCODINGS.get(str(encoding).lower())
    if enc is None:
        msg = f"export: encoding={encoding!r} is not one of ['utf-8', 'gbk', 'gb18030']"
        raise InputError(msg)
    if enc != "UTF-8" and fmt_name not in ("shp", "csv"):
        msg = f"export: encoding={encoding!r} applies to shp and csv only; {fmt_name} is always UTF-8"
        raise InputError(msg)
    csv_geometry = _check_choice(csv_geometry, ("wkt", "none"), "csv_geometry")
    if precision is not None and (isinstance(precision, bool) or not isinstance(precision, int) or not 0 <= precision <= 15):
        msg = f"export: precision={precision!r} must be a whole number of decimals from 0 to 15 (7 ≈ 1 cm)"
        raise InputError(msg)
    if precision is None and fmt.text:
        precision = DEFAULT_TEXT_PRECISION
    one_file = fmt.multi_layer or (len(names) == 1 and out.suffix.lower() == fmt.suffix)
    if fmt.multi_layer and out.suffix.lower() != fmt.suffix:
        msg = f"export: --out {out} must end in {fmt.suffix} for format {fmt_name} (one file holding every layer)"
        raise InputError(msg)
    if not fmt.multi_layer and len(names) > 1 and out.suffix.lower() in _SUFFIX_FORMAT:
        # a folder named like a file (grids.geojson/ holding four files) is not what --out grids.geojson meant
        msg = (f"export: --out {out} names one {out.suffix} file, but {fmt_name} holds one layer a file and "
               f"{len(names)} layers are exported ({', '.join(names)}); give a folder (--out {out.with_suffix('')}) "
               f"or one layer (--layers {'grids' if 'grids' in names else names[0]})")
        raise InputError(msg)

    frames = {name: export_layer(plan, name, coords=coords, precision=precision) for name in names}
    if fmt_name == "shp":
        _check_one_geometry_type(frames)
    if fmt_name in ("shp", "kml") or (fmt_name == "csv" and codecs.lookup(enc).name not in ("utf-8", "utf-8-sig")):
        _check_text(frames, fmt_name, enc)  # (UTF-8 encodes every character: a CSV in it needs no check)
    remove_stale_temporaries(out)  # of an export of ``out`` killed while writing
    tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(out), dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # a folder export gets the permissions of a folder made by mkdir
    try:
        written = []
        for name, gdf in frames.items():
            target = tmp / (out.name if fmt.multi_layer or one_file else f"{name}{fmt.suffix}")
            _write(gdf, target, fmt_name, layer=name, encoding=enc, csv_geometry=csv_geometry,
                   precision=precision, coords=coords)
            written.append(target)
        final = _commit(tmp, out, one_file=one_file, force=force)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final if not fmt.multi_layer else [out]


#: the most bytes a DBF text field holds (GDAL cuts longer values, with a warning only)
SHAPEFILE_TEXT_BYTES = 254


def _check_text(frames: dict[str, gpd.GeoDataFrame], fmt: str, encoding: str) -> None:
    """Refuse, before anything is written, text the file cannot hold as it is: characters the encoding
    lacks (GBK has no emoji and no 𠮷; GDAL dropped them from a Shapefile with a warning only), in a
    Shapefile, values over :data:`SHAPEFILE_TEXT_BYTES` bytes (GDAL cut them), and in KML, text holding "]]>"
    (GDAL's LIBKML driver wrote it inside a CDATA section unescaped: a file no reader could open)."""
    keys = load_schema()["x-primary-key"]
    for layer, gdf in frames.items():
        for col in gdf.columns:
            if col == gdf.geometry.name or not (pd.api.types.is_object_dtype(gdf[col]) or pd.api.types.is_string_dtype(gdf[col])):
                continue
            for row, value in gdf[col].items():
                if not isinstance(value, str):
                    continue
                where = f"{layer} {col} {_short(value)} ({keys[layer]} {gdf.at[row, keys[layer]]})"
                try:
                    size = len(value.encode(encoding))
                except UnicodeEncodeError:
                    lost = "".join(dict.fromkeys(ch for ch in value if not _encodes(ch, encoding)))
                    msg = (f"export: {where} holds characters {encoding} cannot encode ({lost!r}); export in UTF-8 "
                           f"(--encoding utf-8, the default) or change the text in the plan")
                    raise InputError(msg) from None
                if fmt == "shp" and size > SHAPEFILE_TEXT_BYTES:
                    msg = (f"export: {where} is {size} bytes in {encoding}, and a Shapefile field holds at most "
                           f"{SHAPEFILE_TEXT_BYTES}; export as gpkg, geojson or fgb, or shorten the text in the plan")
                    raise InputError(msg)
                if fmt == "kml" and "]]>" in value:
                    msg = (f"export: {where} holds ']]>', which a KML file cannot hold as text (GDAL wrote a file no "
                           f"reader opens); export as gpkg, geojson or fgb, or change the text in the plan")
                    raise InputError(msg)


def _check_one_geometry_type(frames: dict[str, gpd.GeoDataFrame]) -> None:
    """A Shapefile holds one kind of geometry: a buildings layer of footprints and address or entrance points
    (which plans hold) is refused before writing, naming the formats that hold both; GDAL failed on the
    first point with a FeatureError traceback."""
    kinds = {"Polygon": "polygons", "MultiPolygon": "polygons", "Point": "points", "MultiPoint": "points",
             "LineString": "lines", "MultiLineString": "lines"}
    for layer, gdf in frames.items():
        counts = gdf.geometry.geom_type.dropna().map(lambda t: kinds.get(t, t)).value_counts()
        if len(counts) > 1:
            held = " and ".join(f"{n:,} {kind}" for kind, n in counts.items())
            rest = ",".join(n for n in frames if n != layer)
            msg = (f"export: {layer} holds {held}, and a Shapefile holds one kind of geometry; export as gpkg, "
                   f"geojson or fgb, which hold both" + (f", or leave {layer} out (--layers {rest})" if rest else ""))
            raise InputError(msg)


def _encodes(ch: str, encoding: str) -> bool:
    try:
        ch.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _short(value: str, limit: int = 24) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _format_name(format: str | None, out: Path) -> str:  # noqa: A002
    if format is None:
        guess = _SUFFIX_FORMAT.get(out.suffix.lower())
        if guess is None:
            msg = f"export: cannot tell the format from --out {out}; give --format one of {list(FORMATS)}"
            raise InputError(msg)
        return guess
    name = str(format).lower()
    if name not in FORMATS:
        msg = f"export: format={format!r} is not one of {list(FORMATS)}"
        raise InputError(msg)
    return name


def _layer_names(plan: Plan, layers: Any) -> list[str]:
    if layers is None:
        names = [n for n in EXPORT_LAYERS if n in plan.layers]
        if not names:
            msg = f"export: the plan has none of the layers {list(EXPORT_LAYERS)}; give a plan from `gridgeo partition`"
            raise InputError(msg)
        return names
    if isinstance(layers, str):
        layers = [v.strip() for v in layers.split(",") if v.strip()]
    names = list(dict.fromkeys(layers))
    for n in names:
        if n not in EXPORT_LAYERS:
            hint = " (dedicated grids are in grids, kind=dedicated)" if n == "dedicated" else ""
            msg = f"export: layer {n!r} is not exported{hint}; choose from {list(EXPORT_LAYERS)}"
            raise InputError(msg)
        if n not in plan.layers:
            msg = f"export: the plan has no {n!r} layer (it has {sorted(plan.layers)}); leave it out of --layers"
            raise InputError(msg)
    if not names:
        msg = f"export: layers={layers!r} names no layer; choose from {list(EXPORT_LAYERS)}"
        raise InputError(msg)
    return [n for n in EXPORT_LAYERS if n in names]


def _check_target(out: Path, plan_path: Path | None, *, force: bool) -> None:
    if plan_path is not None:
        plan_abs, out_abs = plan_path.resolve(), out.resolve()
        if plan_abs == out_abs or out_abs in plan_abs.parents:
            msg = f"export: --out {out} would overwrite the plan {plan_path}; write the export to another path"
            raise InputError(msg)
    if (out.exists() or out.is_symlink()) and not force:
        msg = f"{out} exists; pass {force_option()} to replace it"
        raise InputError(msg)
    if out.is_dir() and not out.is_symlink():
        _check_replaceable(out)
    if not out.parent.exists():
        msg = f"export: folder {out.parent} does not exist; create it first"
        raise InputError(msg)


def _check_replaceable(folder: Path) -> None:
    """Refuse to replace a folder that is not empty and not an earlier export (``--out ~/data --force``)."""
    entries = sorted(folder.iterdir())
    if not entries:
        return
    listed: set[str] | None = None
    marker = folder / EXPORT_MARKER
    if marker.is_file():
        try:
            listed = set(json.loads(marker.read_text(encoding="utf-8"))["files"])
        except (ValueError, KeyError, TypeError, OSError):
            listed = None
    ours = {f"{layer}{suffix}" for layer in EXPORT_LAYERS
            for suffix in (*(f.suffix for f in FORMATS.values()), *_SIDECARS)}
    foreign = [e.name for e in entries if e.name != EXPORT_MARKER
               and (e.is_dir() or e.name not in (listed if listed is not None else ours))]
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        msg = (f"export: {force_option()} replaces only an empty folder or an earlier export, and {folder} holds "
               f"{foreign[0]!r}{more}; give --out a new or empty folder")
        raise InputError(msg)


def _write(gdf: gpd.GeoDataFrame, target: Path, fmt: str, *, layer: str, encoding: str, csv_geometry: str,
           precision: int | None, coords: str) -> None:
    import pyogrio

    if fmt == "parquet":
        gdf.to_parquet(target, index=False)
        return
    if fmt == "csv":
        frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
        if csv_geometry == "wkt":
            frame["WKT"] = shapely.to_wkt(gdf.geometry.to_numpy(), rounding_precision=-1 if precision is None else precision,
                                          trim=True)
        frame.to_csv(target, index=False, encoding=encoding.lower())
        _write_csv_sidecars(gdf, target, layer=layer, geometry=csv_geometry == "wkt")
        return
    options: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    driver = FORMATS[fmt].driver
    if fmt == "geojson":
        options = {"RFC7946": "YES", "WRITE_NAME": "NO"}
        if precision is not None:
            options["COORDINATE_PRECISION"] = precision
        if coords == "cgcs2000":  # RFC 7946 is lon/lat WGS-84; CGCS2000 agrees with it within centimetres
            gdf = gdf.set_crs(4326, allow_override=True)
    elif fmt == "shp":
        gdf = gdf.rename(columns={c: shapefile_name(c) for c in gdf.columns if c != gdf.geometry.name})
        kwargs["encoding"] = encoding
    elif fmt == "fgb":
        options = {"SPATIAL_INDEX": "YES"}
    elif fmt == "kml":
        driver = "LIBKML" if "LIBKML" in pyogrio.list_drivers(write=True) else "KML"
        kwargs["append"] = target.exists()
        # a Placemark is listed by its <name> (GDAL fills it from the field "name"); grids and small grids have
        # none, and showed as "Untitled" in Google Earth: their code is their name, and stays a field as well
        label = _KML_LABELS.get(layer)
        if label in gdf.columns and "name" not in gdf.columns:
            gdf = gdf.assign(name=gdf[label])
        # KML's SimpleField has "int" (32 bits) but no 64-bit type: GDAL writes an Int64 field as "string"
        small = [c for c in gdf.columns if str(gdf[c].dtype) == "Int64"
                 and gdf[c].dropna().between(-(2**31), 2**31 - 1).all()]
        gdf = gdf.astype(dict.fromkeys(small, "Int32"))
    pyogrio.write_dataframe(gdf, target, layer=layer, driver=driver, layer_options=options or None, **kwargs)


#: the field a layer's KML Placemarks are named by, for layers without a ``name`` field
_KML_LABELS = {"grids": "grid_code", "subgrids": "subgrid_code"}


def _write_csv_sidecars(gdf: gpd.GeoDataFrame, target: Path, *, layer: str, geometry: bool) -> None:
    """GDAL's sidecars of a CSV (read by ogr2ogr, QGIS's OGR layers, ogrinfo): ``.csvt``, the type of each column
    (codes String, counts Integer64, the ``WKT`` column WKT), and with a geometry ``.prj``, its CRS."""
    kinds = dict(schema_fields(layer))
    types = [_CSVT_TYPES[kinds.get(str(c), "string")] for c in gdf.columns if c != gdf.geometry.name]
    if geometry:
        types.append("WKT")
        target.with_suffix(".prj").write_text(gdf.crs.to_wkt("WKT1_GDAL"), encoding="ascii")
    target.with_suffix(".csvt").write_text(",".join(f'"{t}"' for t in types) + "\n", encoding="ascii")


def _commit(tmp: Path, out: Path, *, one_file: bool, force: bool) -> list[Path]:
    """Move what was written in ``tmp`` to ``out``: one file (with its sidecars) or the folder."""
    if one_file:
        files = sorted(tmp.iterdir())
        if out.is_dir() and not out.is_symlink():
            if not force:
                msg = f"{out} exists; pass {force_option()} to replace it"
                raise InputError(msg)
            _check_replaceable(out)
            shutil.rmtree(out)
        for f in files:  # a Shapefile's sidecars: the .shp last, so a reader never sees it without its .dbf
            if f.suffix.lower() != ".shp":
                os.replace(f, out.with_suffix(f.suffix) if f.stem == out.stem else out.parent / f.name)
        for f in files:
            if f.suffix.lower() == ".shp":
                os.replace(f, out)
        return [out]
    names = sorted(p.name for p in tmp.iterdir())
    (tmp / EXPORT_MARKER).write_text(json.dumps({"gridgeo_export": 1, "files": names}, indent=1) + "\n", encoding="utf-8")
    if out.is_dir() and not out.is_symlink():
        _check_replaceable(out)
    if out.exists() or out.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
        os.replace(out, old / "previous") if out.is_dir() else os.replace(out, old / out.name)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)
    return [out / n for n in names if not n.endswith(_SIDECARS)]


def export_postgis(
    plan: Plan | str | os.PathLike,
    url: str,
    *,
    schema: str = "grid",
    layers: list[str] | tuple[str, ...] | str | None = None,
    replace: bool = False,
) -> dict[str, int]:
    """Load a plan into PostgreSQL/PostGIS: ``gridgeo export PLAN --to postgresql://...``.

    One table per layer (the schema's fields, ``geom`` in EPSG:4490, a primary key on the code, a
    GIST index), and ``gridgeo_metadata`` with the plan's metadata, all in one transaction; with
    ``replace`` a previous export in ``schema`` is swapped for the new one atomically. Needs psycopg 3
    (``pip install 'gridgeo[postgis]'``). ``url`` may name a unix socket folder:
    ``postgresql:///db?host=/var/run/postgresql``.

    Returns
    -------
    dict
        Rows written per layer.
    """
    from ._postgis import check_url, write_postgis
    from .api import _plan

    check_url(url)
    plan = _plan(plan, "plan")
    names = _layer_names(plan, layers)
    frames = {name: export_layer(plan, name, coords="cgcs2000") for name in names}
    keys = load_schema()["x-primary-key"]
    return write_postgis(frames, url, schema=schema, keys={n: keys[n] for n in names},
                         fields={n: schema_fields(n) for n in names}, metadata=plan.metadata, replace=replace)


from ._callable import make_callable  # noqa: E402 - the module is made callable once everything in it is defined

make_callable(__name__)
