"""The Python face of gridgeo: :func:`divide`, :func:`read_plan`, :func:`validate`, :func:`repair`, :func:`diff`.

Every function takes GeoDataFrames or paths (a path, or a ``(path, layer)`` pair for a GeoPackage) and
does what the command of the same purpose does, through the same code: ``divide`` builds exactly the
plan ``gridgeo partition`` writes, ``Plan.validate()`` finds what ``gridgeo validate PLAN`` finds.
Bad arguments raise :class:`~gridgeo.InputError` with one line naming the argument, the value and the fix.

``gridgeo.validate`` is this module's :func:`validate` when called, and the module :mod:`gridgeo.validate`
of the checks otherwise.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ._errors import InputError
from ._face import python_face
from .io import LayerSource, as_source, canonical_columns, frame_layer, layer_sources, load_code_scheme, read_layer
from .plan import METADATA_TABLE, Plan
from .rules import Rules

__all__ = ["divide", "read_plan", "read_grids", "validate", "repair", "diff", "export", "export_postgis", "locate",
           "Locator", "rebalance", "unify", "publish_map", "write_signs", "staffing"]

PathLike = str | os.PathLike


@python_face()
def divide(
    communities: Any,
    streets: Any = None,
    buildings: Any = None,
    *,
    villager_groups: Any = None,
    enterprises: Any = None,
    households: Any = None,
    households_key: str | None = None,
    rules: Rules | str | Path | dict[str, Any] = "urban",
    previous: Plan | PathLike | None = None,
    workers: int = 1,
    columns: dict[str, dict[str, str]] | None = None,
    crs: Any = None,
    from_scratch: bool = False,
    code_scheme: dict[str, Any] | PathLike | None = None,
    allow_outside: bool = False,
    scheduler: Any = None,
) -> Plan:
    """Divide communities into base grids (网格) and small grids (小网格): ``gridgeo partition`` in Python.

    Parameters
    ----------
    communities
        Community (社区) and village (村) polygons with a 12-digit ``code`` (统计用区划代码), optionally
        ``name`` and ``kind`` (``urban``/``rural``/``township``). Each layer argument is a GeoDataFrame, a
        file path, a ``(path, layer)`` pair or a :class:`gridgeo.io.LayerSource` (which also takes a
        ``datum`` for layers digitised on GCJ-02/BD-09 web maps, and an ``encoding``).
    streets
        Street centre lines (``name``, ``highway``); grid boundaries follow them (街巷定界).
    buildings
        Footprints or points with ``households`` (or ``floors`` to estimate them). Required.
    villager_groups
        Villager groups (村民小组) of rural villages: the grids follow them.
    enterprises
        Enterprises and institutions (points or site polygons; ``name``, ``category``, ``employees``, ...):
        dedicated grids (专属网格, ``kind = dedicated``) carved out before the division, and the plan's
        ``units`` layer (see :mod:`gridgeo.dedicated`).
    households
        Households kept apart from the footprints (户数表): a DataFrame, a CSV or Excel file or a ``(path, sheet)``
        pair of building id (楼栋编号) and count (户数), or a register (住户登记) of one row per household; joined to
        the buildings' ``building_id``, its count used where it lists a building (see :mod:`gridgeo.household_table`).
    households_key
        The table's building id column; by default the one it has of ``楼栋编号``, ``建筑编号``, ``building_id`` ...
    rules
        A rules profile (``urban``, ``rural``, ``township``), a TOML rules file, a dict of the keys such a
        file holds (``{"profile": "urban", "grid_max": 450, "grid_target": 375}``) or a
        :class:`~gridgeo.rules.Rules` (``gridgeo.rules.get_rules("urban", grid_max=450)``).
    previous
        An earlier plan (a :class:`Plan` or its file): unchanged grids keep their shape and code (动态调整).
    workers
        Processes for the per-community partition; the plan is the same whatever the count.
    columns
        Canonical column → the data's column, per layer, e.g. ``{"communities": {"code": "CUN_DM"}}``.
    crs
        The CRS of layers that define none, e.g. ``"EPSG:4490"``.
    from_scratch
        With ``previous``: re-divide whole communities (codes still carried where grids match).
    code_scheme
        The grid code scheme: a dict (``prefix``, ``grid_digits`` ...) or a TOML file; default
        12 + 3 + 2 digits, or the previous plan's.
    allow_outside
        Keep going when more than half of a layer lies outside every community (kept as findings).
    scheduler
        A Dask distributed scheduler address (``"tcp://host:8786"``) or a ``distributed.Client``: the
        communities are divided on that cluster's workers instead of ``workers`` local processes. The plan
        is the same.

    Returns
    -------
    Plan
        The plan exactly as :meth:`Plan.to_file` stores it (EPSG:4490): equal to
        ``read_plan(path)`` after ``plan.to_file(path)``.

    Raises
    ------
    InputError
        A bad argument or input layer, with one line naming it and the fix.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box, Point
    >>> import gridgeo
    >>> communities = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东湖社区"]},
    ...                                geometry=[box(114.30, 30.55, 114.302, 30.552)], crs=4490)
    >>> buildings = gpd.GeoDataFrame({"households": [200, 200, 200, 200]}, crs=4490,
    ...     geometry=[Point(114.3005, 30.5505), Point(114.3015, 30.5505), Point(114.3005, 30.5515), Point(114.3015, 30.5515)])
    >>> plan = gridgeo.divide(communities, buildings=buildings)
    >>> plan.grids[["grid_code", "households"]].sort_values("grid_code").values.tolist()
    [['420103001001001', 400], ['420103001001002', 400]]
    >>> plan.grids.crs.to_epsg(), int((plan.validate()["severity"] == "error").sum())
    (4490, 0)
    """
    from .pipeline import build_plan

    if communities is None:
        msg = "divide: communities=None; pass the community polygons (a GeoDataFrame or a path) with a 12-digit code"
        raise InputError(msg)
    if buildings is None:
        msg = ("divide: buildings=None; pass the buildings (footprints or points with households or floors): "
               "without them every grid would hold 0 households")
        raise InputError(msg)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        msg = f"divide: workers={workers!r} must be a whole number of processes, at least 1"
        raise InputError(msg)
    if households_key is not None and households is None:
        msg = f"divide: households_key={households_key!r} without households=; pass the households table (户数表) too"
        raise InputError(msg)
    table = None
    if households is not None:
        from .household_table import households_source

        table = households_source(households, key=households_key)
    sources = layer_sources({"communities": communities, "streets": streets, "buildings": buildings,
                             "villager_groups": villager_groups, "enterprises": enterprises, "households": table},
                            columns=columns)
    if isinstance(code_scheme, (str, os.PathLike)):
        code_scheme = load_code_scheme(code_scheme, option="code_scheme")
    elif code_scheme is not None and not isinstance(code_scheme, dict) and not hasattr(code_scheme, "to_dict"):
        msg = f"divide: code_scheme={code_scheme!r}; give a dict such as {{'prefix': '', 'grid_digits': 3}} or a TOML file"
        raise InputError(msg)
    plan = build_plan(sources, stage="partition", rules=rules, crs=crs, workers=workers,
                      previous=_plan(previous, "previous") if previous is not None else None,
                      from_scratch=from_scratch, scheme=code_scheme, allow_outside=allow_outside,
                      scheduler=scheduler)
    return plan.stored()


@python_face()
def read_plan(path: PathLike) -> Plan:
    """Read a plan written by :meth:`Plan.to_file` or ``gridgeo partition``.

    >>> read_plan("no/such/plan.gpkg")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: plan file not found: no/such/plan.gpkg; write it first with plan.to_file('no/such/plan.gpkg') ...
    """
    return Plan.read(path)


def _plan(value: Any, name: str) -> Plan:
    """A plan given as a :class:`Plan` or as the path of its file."""
    if isinstance(value, Plan):
        return value
    if isinstance(value, (str, os.PathLike)):
        return Plan.read(value)
    msg = f"{name}=<{type(value).__name__}>: give a Plan (gridgeo.divide, gridgeo.read_plan) or the path of a plan file"
    raise InputError(msg)


#: the layers to check against whose columns ``validate`` and ``repair`` map (``columns=``, ``--columns``)
_MAPPED_LAYERS = ("communities", "buildings", "streets")


def _layer(value: Any, name: str, *, crs: Any = None, columns: dict[str, str] | None = None) -> gpd.GeoDataFrame | None:
    """A layer given as a GeoDataFrame, a path, a ``(path, layer)`` pair or a :class:`~gridgeo.io.LayerSource`
    (its ``crs``, ``datum`` and ``encoding`` honoured), read and checked (not normalised); a layer to check against
    (:data:`_MAPPED_LAYERS`) has its columns read as ``partition`` reads them (the source's ``columns`` and
    ``columns``, then ``社区代码`` as ``code``)."""
    if value is None:
        return None
    src = as_source(value, name=name)
    if src.frame is not None:
        gdf = frame_layer(src.frame, name=name, crs=src.crs, default_crs=crs)
    else:
        gdf = read_layer(src.path, name=name, layer=src.layer, crs=src.crs, default_crs=crs, encoding=src.encoding)
    if src.datum:
        from .io import _convert_datum

        gdf = _convert_datum(gdf, src.datum, name=name)
    if name in _MAPPED_LAYERS:
        return canonical_columns(gdf, name, {**src.columns, **(columns or {})})
    return gdf


def communities_mapped(layer: Any, columns: dict[str, dict[str, str]] | None, *, code_column: str = "grid_code",
                       others: tuple = ()) -> Any:
    """A layer given alone (no grid code column, nothing to check against) whose community columns
    ``columns["communities"]`` maps (``--columns communities.code=CUN_DM``): with them under their canonical
    names, so that it is judged as a community layer (``gridgeo validate COMMUNITIES``); any other layer as it is."""
    mapping = (columns or {}).get("communities")
    if (not mapping or not isinstance(layer, gpd.GeoDataFrame) or code_column in layer.columns
            or any(o is not None for o in others)):
        return layer
    return canonical_columns(layer, "communities", mapping)


def _column_maps(columns: dict[str, dict[str, str]] | None) -> dict[str, dict[str, str]]:
    """``columns`` of ``validate`` and ``repair`` (``--columns LAYER.NAME=COLUMN``): layer → canonical → column,
    of the layers checked against (:data:`_MAPPED_LAYERS`) and of the grid layer (``grids``) only."""
    columns = dict(columns or {})
    for layer, mapping in columns.items():
        if (layer not in _MAPPED_LAYERS and layer != "grids") or not isinstance(mapping, dict):
            key, col = next(iter(mapping.items())) if isinstance(mapping, dict) and mapping else ("NAME", "COLUMN")
            msg = (f"--columns {layer}.{key}={col} names no layer checked against: map columns of communities, buildings "
                   "or streets, or of the grid layer (grids.code=WGBM, grids.community=SQDM)")
            raise InputError(msg)
    return columns


def _grid_options(grids: Any, target: Any, columns: dict[str, dict[str, str]], options: dict[str, Any], *,
                  read_kind: bool = True) -> tuple[Any, dict[str, dict[str, str]], dict[str, Any]]:
    """The grid layer, the other layers' mappings and ``options`` with the grid layer's own mapping taken in
    (``--columns grids.code=WGBM``, a :class:`~gridgeo.io.LayerSource`'s ``columns``): its code and community columns
    as ``code_column`` and ``community_column``, its kind column read as ``kind`` (``read_kind``; a repair, which
    does not judge kinds, keeps the layer's columns as they are)."""
    from .io import grid_columns, mapped_option

    columns = dict(columns)
    mapped = grid_columns(grids, columns.pop("grids", None))
    if not mapped:
        return target, columns, options
    if isinstance(target, Plan):
        msg = f"columns of the grid layer {mapped!r}: a plan's grids have gridgeo's own columns; map a grid layer's only"
        raise InputError(msg)
    missing = [col for canon, col in mapped.items() if col not in target.columns and (canon != "kind" or read_kind)]
    if missing:
        msg = (f"grids: column {missing[0]!r} not found; columns there: "
               f"{[c for c in target.columns if c != target.geometry.name]}; map one of them")
        raise InputError(msg)
    options = dict(options)
    for canon, option, default in (("code", "code_column", "grid_code"), ("community", "community_column", "community_code")):
        if canon in mapped:
            options[option] = mapped_option(options.get(option), mapped[canon], default=default, option=option, canon=canon)
    if "kind" in mapped and read_kind:
        target = target.drop(columns=[c for c in ("kind",) if c != mapped["kind"] and c in target.columns]).rename(
            columns={mapped["kind"]: "kind"})
    return target, columns, options


def _plan_file(value: Any) -> Path | None:
    """The path of a plan file given as a path, or as ``(path, "grids")`` / a source of its grids layer."""
    layer = None
    if isinstance(value, LayerSource):
        value, layer = value.path, value.layer
    elif isinstance(value, tuple) and len(value) == 2:
        value, layer = value
    if layer not in (None, "grids"):
        return None
    if not isinstance(value, (str, os.PathLike)) or Path(value).suffix.lower() != ".gpkg" or not Path(value).is_file():
        return None
    from .io import list_layers

    try:
        return Path(value) if METADATA_TABLE in {str(n) for n in list_layers(value)[:, 0]} else None
    except Exception:  # noqa: BLE001 - not a readable GeoPackage: read_layer gives the one-line error
        return None


#: the layers of an export of a plan (`gridgeo export`) that ``validate`` checks its grids against
COMPANION_LAYERS = ("communities", "subgrids", "buildings")


def companion_layers(grids: Any) -> dict[str, LayerSource]:
    """The layers an export of a plan carries beside its grids, which :func:`validate` and :func:`repair` check them
    against when not given: in a multi-layer file (GeoPackage, KML) the layers ``communities``, ``subgrids`` and
    ``buildings`` beside the layer ``grids``; in a folder of one file a layer, ``communities.shp`` … beside
    ``grids.shp`` (the same suffix; the folder itself given, the files named so). None for a GeoDataFrame or a plan.

    >>> companion_layers("no/such/grids.shp")
    {}
    """
    if isinstance(grids, LayerSource):
        if grids.frame is not None:
            return {}
        path, layer, encoding = grids.path, grids.layer, grids.encoding
    elif isinstance(grids, tuple) and len(grids) == 2:
        (path, layer), encoding = grids, None
    elif isinstance(grids, (str, os.PathLike)):
        path, layer, encoding = grids, None, None
    else:
        return {}
    p = Path(path)
    if p.is_dir():
        from .io import _SUFFIXES

        files = [q for q in p.iterdir() if q.is_file() and q.suffix.lower() in _SUFFIXES and q.suffix.lower() != ".json"]
        stems = [q.stem for q in files]
        if (layer or "grids") != "grids" or stems.count("grids") != 1:
            return {}
        return {n: LayerSource(p, layer=n if layer else None, encoding=encoding) for n in COMPANION_LAYERS
                if stems.count(n) == 1}
    if not p.is_file() or _plan_file(p) is not None:
        return {}
    from .io import _list_layers

    names = _list_layers(p) if p.suffix.lower() in (".gpkg", ".kml", ".gdb", ".gml") else []
    if len(names) > 1:
        if (layer or "grids") != "grids" or "grids" not in names:
            return {}
        return {n: LayerSource(p, layer=n, encoding=encoding) for n in COMPANION_LAYERS if n in names}
    if p.stem != "grids":
        return {}
    return {n: LayerSource(q, encoding=encoding) for n in COMPANION_LAYERS if (q := p.with_name(n + p.suffix)).is_file()}


@python_face()
def read_grids(grids: Any, *, crs: Any = None) -> Plan | gpd.GeoDataFrame:
    """What ``gridgeo validate GRIDS`` checks: a :class:`Plan` (given, or a plan file whose ``grids``
    layer is meant) or a grid layer (GeoDataFrame, path, ``(path, layer)`` or
    :class:`~gridgeo.io.LayerSource`), read and checked.

    Raises
    ------
    InputError
        A plan without grids (stage blocks), or an unreadable layer.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> g = gpd.GeoDataFrame({"grid_code": ["420102001001001"]}, geometry=[box(0, 0, 1, 1)], crs=4547)
    >>> type(read_grids(g)).__name__
    'GeoDataFrame'
    """
    if isinstance(grids, Plan):
        return grids
    path = _plan_file(grids)
    if path is None:
        return _layer(grids, "grids", crs=crs)
    plan = Plan.read(path)
    if "grids" not in plan.layers:
        msg = f"plan {path} has no grids layer (stage {plan.metadata.get('stage')!r}); run `gridgeo partition` first"
        raise InputError(msg)
    return plan


def is_community_layer(layer: Any, *, code_column: str = "grid_code", others: tuple = ()) -> bool:
    """Whether ``validate`` and ``repair`` were given a community layer alone (a ``code`` column, no grid code
    column, none of ``others`` given): it is checked, and mended, for overlaps and gaps between communities
    (``gridgeo validate COMMUNITIES [--repair FIXED.gpkg]``), not as grids."""
    return community_layer(layer, code_column=code_column, others=others) is not None


def community_layer(layer: Any, *, code_column: str = "grid_code", others: tuple = ()) -> gpd.GeoDataFrame | None:
    """The layer with its columns read as ``partition`` reads a community layer (``社区代码`` as ``code``) when
    it is one given alone (:func:`is_community_layer`), else None. A column read as ``code`` through a Chinese
    name (or as an export's ``community_code``) must hold each code once: a grid layer carrying its community's
    code is not a community layer."""
    named = _read_as_communities(layer, code_column=code_column, others=others)
    if named is None or named is layer:  # no code column; or one named ``code``: a community layer as it is
        return named
    if named["code"].notna().all() and named["code"].astype(str).is_unique:
        return named
    return None


def _read_as_communities(layer: Any, *, code_column: str, others: tuple) -> gpd.GeoDataFrame | None:
    """A layer given alone, with no grid code column, with its columns read as ``partition`` reads a community
    layer (the layer itself when it has a ``code`` column), when a column is read as ``code``; else None: what
    :func:`community_layer` and :func:`repeated_community_codes` judge."""
    if not isinstance(layer, gpd.GeoDataFrame) or code_column in layer.columns or any(o is not None for o in others):
        return None
    if "code" in layer.columns:
        return layer
    named = canonical_columns(layer, "communities")
    if "code" not in named.columns and "community_code" in named.columns:  # an export's (`gridgeo export`) communities
        named = named.rename(columns={"community_code": "code"})
    return named if "code" in named.columns else None


def repeated_community_codes(layer: Any, *, code_column: str = "grid_code", others: tuple = ()) -> str | None:
    """What keeps a layer given alone, with no grid code column, from being checked as a community layer: its
    community code column (``code``, ``社区代码`` …) repeats a code (a community drawn in two rows); None when it
    does not. ``validate`` then judges it as grids and adds this to its ``missing_code`` finding."""
    named = _read_as_communities(layer, code_column=code_column, others=others)
    if named is None or named is layer:  # a layer with a ``code`` column is checked as communities, repeats and all
        return None
    codes = named["code"].dropna().astype(str)
    repeated = codes[codes.duplicated(keep=False)]
    if repeated.empty:
        return None
    source = next((c for c in layer.columns if c != layer.geometry.name and layer[c].equals(named["code"])), "code")
    first = repeated.iloc[0]
    return (f"if it is a community layer, its column {source!r} repeats {first!r} ({(codes == first).sum()} rows"
            f"{f', and {repeated.nunique() - 1} more codes' if repeated.nunique() > 1 else ''}), and a community layer "
            "holds each code once: give each community its own code, or merge the rows of one community into one "
            "MultiPolygon, and run again")


@python_face("gridgeo.validate:validate_grids")
def validate(
    grids: Any,
    *,
    communities: Any = None,
    buildings: Any = None,
    streets: Any = None,
    subgrids: Any = None,
    rules: Rules | str | Path | None = None,
    crs: Any = None,
    columns: dict[str, dict[str, str]] | None = None,
    shift_check: bool = True,
    **options: Any,
) -> gpd.GeoDataFrame:
    """Check any grid layer (a plan's or one drawn by hand): ``gridgeo validate`` in Python.

    Parameters
    ----------
    grids
        A grid layer (GeoDataFrame, path or ``(path, layer)``), or a :class:`Plan` or plan file: a plan
        is checked as ``gridgeo validate PLAN`` checks it (:meth:`Plan.validate`: its own layers, rules
        and code scheme, in the CRS it was computed in). A community layer alone (a ``code`` column, no
        grid codes) is checked for overlaps and gaps between communities, within ``boundary_tolerance_m``
        (default the rules'), as ``gridgeo validate COMMUNITIES`` checks it.
    communities, buildings, streets, subgrids
        Layers to check against (GeoDataFrames or paths); for a plan, instead of its own. For grids read from an
        export of a plan (``gridgeo export``), those the export carries beside them (:func:`companion_layers`).
    rules
        Rules profile, TOML file or :class:`~gridgeo.rules.Rules` (default: urban; a plan's own).
    crs
        The CRS of layers that define none.
    columns
        Column mappings of the layers checked against, as :func:`divide` takes them:
        ``{"communities": {"code": "CUN_DM"}, "buildings": {"households": "HU"}}`` (``--columns``); a
        :class:`~gridgeo.io.LayerSource`'s own ``columns`` are honoured too. A grid layer's code columns are
        ``code_column`` and ``community_column``, or ``{"grids": {"code": "WGBM", "community": "SQDM", "kind": "类型"}}``
        (``--columns grids.code=WGBM``; a grid layer's ``LayerSource`` ``columns`` alike).
    shift_check
        A grid layer (not a plan) that looks shifted 100–700 m against the communities (drawn on AMap/Tencent or
        Baidu: GCJ-02, BD-09) gets a ``layer_shift_suspected`` warning naming the fix, a
        ``gridgeo.io.LayerSource(PATH, datum="gcj02")`` as ``grids`` (``--grids-datum gcj02``); False skips the check.
    options
        Further keywords of :func:`gridgeo.validate.validate_grids` (``code_column``,
        ``community_column``, ``gap_width_m``, ``width_tolerance_m`` ...).

    Returns
    -------
    GeoDataFrame
        One row per finding (``type``, ``severity``, ``layer``, ``feature_id``, ``measure``, ``message``,
        a place), in the grids' CRS.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> comm = gpd.GeoDataFrame({"code": ["420102001001"]}, geometry=[box(0, 0, 200, 100)], crs=4547)
    >>> grids = gpd.GeoDataFrame({"grid_code": ["420102001001001", "420102001001002"],
    ...                           "community_code": ["420102001001"] * 2},
    ...                          geometry=[box(0, 0, 110, 100), box(100, 0, 190, 100)], crs=4547)
    >>> validate(grids, communities=comm)["type"].tolist()
    ['overlap', 'gap']
    """
    from .validate import validate_grids, validate_plan

    target, columns, options = _grid_options(grids, read_grids(grids, crs=crs), _column_maps(columns), options)
    code_column = options.get("code_column", "grid_code")
    target = communities_mapped(target, columns, code_column=code_column, others=(communities, subgrids))
    comm_layer = community_layer(target, code_column=code_column, others=(communities, subgrids))
    if comm_layer is not None:
        from .boundaries import validate_communities
        from .rules import load_rules

        tolerance = options.get("boundary_tolerance_m", load_rules(rules).boundary_tolerance_m)
        return validate_communities(comm_layer, tolerance_m=tolerance)
    given = {"communities": communities, "buildings": buildings, "streets": streets, "subgrids": subgrids}
    if not isinstance(target, Plan):  # an export of a plan: checked against the layers it carries beside its grids
        given.update({k: v for k, v in companion_layers(grids).items() if given[k] is None})
    hint = repeated_community_codes(target, code_column=options.get("code_column", "grid_code"),
                                    others=tuple(given.values()))
    layers = {name: _layer(value, name, crs=crs, columns=columns.get(name)) for name, value in given.items()}
    if isinstance(target, Plan):
        given = {k: v for k, v in layers.items() if v is not None}
        return validate_plan(target, rules=rules, **given, **options)
    found = validate_grids(target, rules=rules, **layers, **options)
    if shift_check and layers["communities"] is not None:
        found = _with_shift_finding(found, target, layers["communities"])
    if hint is not None:  # a community layer with a code drawn twice, judged as grids: the finding says why
        row = (found["type"] == "missing_code") & found["feature_id"].isna()
        found.loc[row, "message"] = found.loc[row, "message"] + "; " + hint
    return found


def _with_shift_finding(found: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``found`` with a ``layer_shift_suspected`` warning first when ``grids`` looks shifted against ``communities``
    by a GCJ-02/BD-09 offset (then most other findings are the offset's): the message names the option that reads
    the layer, ``--grids-datum gcj02`` (in Python, a LayerSource with ``datum=``, as :mod:`gridgeo._face` spells it)."""
    from ._face import CLI, python_spelling
    from ._findings import make_findings
    from .crs import shift_advice

    texts = [text for layer, text in shift_advice({"grids": grids, "communities": communities}) if layer == "grids"]
    if not texts:
        return found
    text = texts[0] if CLI.get() else python_spelling(texts[0], inspect.signature(validate).parameters)
    row = make_findings([{"type": "layer_shift_suspected", "severity": "warning", "layer": "grids", "message": text}],
                        crs=found.crs)
    return gpd.GeoDataFrame(pd.concat([row, found], ignore_index=True), geometry=found.geometry.name, crs=found.crs)


@python_face("gridgeo.validate.repair:repair_grids", "gridgeo.validate:repair_plan")
def repair(
    grids: Any,
    *,
    communities: Any = None,
    crs: Any = None,
    columns: dict[str, dict[str, str]] | None = None,
    **options: Any,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Mend a grid layer's coverage (gaps, overlaps, grids across communities): ``gridgeo validate --repair``.

    Parameters
    ----------
    grids
        A grid layer: GeoDataFrame, path or ``(path, layer)``; or a :class:`Plan` or plan file, whose
        grids are repaired as ``gridgeo validate PLAN --repair`` does (:func:`gridgeo.validate.repair_plan`:
        in the CRS the plan was computed in, returned as a plan stores its grids); or a community layer
        alone, mended as ``gridgeo validate COMMUNITIES --repair`` does (``boundary_tolerance_m``).
    communities
        The communities the grids tile (a ``code`` column), as a GeoDataFrame or a path (for a plan,
        instead of its own; for grids of an export, its ``communities`` layer when not given).
    crs
        The CRS of layers that define none.
    columns
        Column mappings as :func:`validate` takes them (``{"communities": {"code": "CUN_DM"}}``).
    options
        Further keywords of :func:`gridgeo.validate.repair_grids` (``code_column``,
        ``community_column``, ``gap_width_m`` ...).

    Returns
    -------
    (GeoDataFrame, DataFrame)
        The repaired layer (same rows and columns; of a community layer, those wholly covered by another are
        left out, each an ``emptied`` row of the log) and the change log, one row per change.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import box
    >>> comm = gpd.GeoDataFrame({"code": ["420102001001"]}, geometry=[box(0, 0, 20, 10)], crs=4547)
    >>> grids = gpd.GeoDataFrame({"grid_code": ["420102001001001", "420102001001002"]},
    ...                          geometry=[box(0, 0, 12, 10), box(11, 0, 19, 10)], crs=4547)
    >>> fixed, log = repair(grids, communities=comm)
    >>> len(validate(fixed, communities=comm)), sorted(set(log["action"]))
    (0, ['community_set', 'gap_filled', 'overlap_given'])
    """
    from .validate import repair_grids, repair_plan

    target, columns, options = _grid_options(grids, read_grids(grids, crs=crs), _column_maps(columns), options,
                                             read_kind=False)
    mapped = columns.get("communities")
    if isinstance(target, Plan):
        return repair_plan(target, communities=_layer(communities, "communities", crs=crs, columns=mapped), **options)
    code_column = options.get("code_column", "grid_code")
    alone = communities_mapped(target, columns, code_column=code_column, others=(communities,))
    comm_layer = community_layer(alone, code_column=code_column, others=(communities,))
    if comm_layer is not None:
        from .boundaries import repair_communities
        from .rules import load_rules

        tolerance = options.get("boundary_tolerance_m", load_rules(options.get("rules")).boundary_tolerance_m)
        fixed, log = repair_communities(comm_layer, tolerance_m=tolerance)
        if alone is not target:  # the layer's own column names back (CUN_DM, not code)
            fixed = fixed.rename(columns={canon: src for canon, src in mapped.items() if canon in fixed.columns})
        return fixed, log
    if communities is None:
        communities = companion_layers(grids).get("communities")
    if communities is None:
        msg = "repair: communities=None; pass the communities the grids tile (to clip grids and find gaps)"
        raise InputError(msg)
    return repair_grids(target, communities=_layer(communities, "communities", crs=crs, columns=mapped), **options)


@python_face("gridgeo.diff:diff_plans")
def diff(old_plan: Plan | PathLike, new_plan: Plan | PathLike, **options: Any) -> gpd.GeoDataFrame:
    """What changed between two plans' grids: ``gridgeo diff OLD NEW``.

    Parameters
    ----------
    old_plan, new_plan
        Plans (:class:`Plan` or plan files) with grids.
    options
        Further keywords of :func:`gridgeo.diff.diff_plans` (``tolerance_m2``, ``link_share``).

    Returns
    -------
    GeoDataFrame
        One row per new grid and per retired old code: ``status`` (``unchanged``, ``recounted``, ``recoded``,
        ``reshaped``, ``split``, ``merged``, ``new``, ``retired``), codes, households before and after.

    Examples
    --------
    >>> diff("no/such/old.gpkg", "no/such/new.gpkg")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridgeo._errors.InputError: plan file not found: no/such/old.gpkg; write it first with plan.to_file('no/such/old.gpkg') ...
    """
    from .diff import diff_plans

    old, new = _plan(old_plan, "old_plan"), _plan(new_plan, "new_plan")
    for label, plan, given in (("old_plan", old, old_plan), ("new_plan", new, new_plan)):
        if "grids" not in plan.layers:
            shown = given if isinstance(given, (str, os.PathLike)) else "(a Plan)"
            msg = f"diff: {label} {shown} has no grids layer; give plans written by `gridgeo partition` or gridgeo.divide"
            raise InputError(msg)
    return diff_plans(old["grids"], new["grids"], old_buildings=old.layers.get("buildings"),
                      new_buildings=new.layers.get("buildings"), **options)



# ---------------------------------------------------------------- publishing (gridgeo.maps)


def _grid_plan(plan: Plan | PathLike, func: str) -> Plan:
    p = _plan(plan, "plan")
    if "grids" not in p.layers:
        msg = f"{func}: the plan has no grids layer; give a plan written by `gridgeo partition` or gridgeo.divide"
        raise InputError(msg)
    return p


@python_face("gridgeo.maps.web:publish_map")
def publish_map(plan: Plan | PathLike, out: PathLike, **options: Any) -> list[Path]:
    """Write the public grid map (网格示意图) site of a plan: ``gridgeo map PLAN --out OUT`` in Python.

    ``options`` are those of :func:`gridgeo.maps.publish_map` (``roster``, ``tiles`` osm/tianditu/amap/none,
    ``tianditu_token``, ``public``, ``lang`` zh/en, ``streets``, ``supervision_phone``, ``pages``,
    ``buildings``, ``simplify_m``, ``force``). Returns the pages written, the index first.
    :meth:`Plan.map` returns the same map as a :class:`folium.Map` for a notebook.
    """
    from .maps import publish_map as publish

    return publish(_grid_plan(plan, "publish_map"), out, **options)


@python_face("gridgeo.maps.sign:write_signs")
def write_signs(plan: Plan | PathLike, out: PathLike, **options: Any) -> list[Path]:
    """Write grid notice boards (公示牌): ``gridgeo sign PLAN --out OUT`` in Python.

    ``options`` are those of :func:`gridgeo.maps.write_signs` (``grids`` (None: all), ``roster``,
    ``streets``, ``fmt`` pdf/png, ``paper`` A4/A3, ``lang``, ``supervision_phone``, ``unit``, ``force``).
    """
    from .maps import write_signs as write

    return write(_grid_plan(plan, "write_signs"), out, **options)


@python_face()
def staffing(plan: Plan | PathLike, roster: Any = None) -> pd.DataFrame:
    """The staffing table (配备) of a plan and a roster (a CSV path or DataFrame): :func:`gridgeo.maps.staffing`."""
    from .maps import read_roster
    from .maps import staffing as table

    p = _grid_plan(plan, "staffing")
    return table(p, read_roster(roster, p) if roster is not None else None)


# exports for other systems, point look-up, rebalancing (their own modules; the face names them here)
from . import export as _export  # noqa: E402
from . import locate as _locate  # noqa: E402
from . import rebalance as _rebalance  # noqa: E402
from .locate import Locator  # noqa: E402

export = python_face()(_export.export)
export_postgis = python_face(aliases={"to": "url"})(_export.export_postgis)
locate = python_face()(_locate.locate)
rebalance = python_face()(_rebalance.rebalance)
unify = python_face()(_rebalance.unify)
