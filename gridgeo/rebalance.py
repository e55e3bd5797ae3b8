"""Start from the grids a city already has: rebalance with the fewest changes, and unify departmental
grids into one (多网合一).

:func:`rebalance` takes any grid layer an office has (its own codes in a named column; overlaps, gaps,
grids across communities, grids of 80 or 900 households) and returns a full gridgeo plan that keeps
every compliant grid as it is, with its code:

1. every office grid is cut at the community boundaries (a grid across two communities becomes one
   piece per community; the largest piece keeps the grid's identity, the others are *strays*);
2. overlaps and gaps are resolved exactly as ``gridgeo validate --repair`` does
   (:func:`gridgeo.validate.repair_grids`);
3. each piece is judged by ``gridgeo validate``'s own checks (:func:`gridgeo.validate.validate_grids`):
   a piece is **compliant** when it is its grid's main piece, valid and of one part, within the
   household bounds (or excused by validate: a single building over the ceiling, a community whose
   buildings admit no division) and cuts no building (:func:`gridgeo.footprints.assign_to_zones`,
   the one building-to-zone assignment);
4. the area of the faulty pieces (and strays) is re-divided the way :mod:`gridgeo.adjust` re-divides a
   changed plan (:func:`gridgeo.adjust._free_regions`): each connected faulty area of a community is
   partitioned afresh, and one whose households cannot be divided within the bounds absorbs its
   compliant neighbours one at a time (longest shared boundary first) until it can; so two faulty
   neighbours are merged or split between them first, and a compliant grid changes only when a faulty
   neighbour cannot be mended without it;
5. compliant grids keep their geometry exactly and their code; they get small grids (小网格) by the
   partition of their own area (one base grid: 300–500 households admit no other count); new grids
   get new codes in the office's scheme (``<prefix><12-digit community code><sequence>`` inferred
   from the codes, or given), numbered after the community's highest code.

Dedicated grids (专属网格) of the office layer (``kind`` ``dedicated``, else a code at or above the
scheme's ``dedicated_start``) take steps 1–2 as the others, but drawn on top of the base grids: a base grid's
overlap with a dedicated grid of its community is the dedicated grid's; their main piece is then kept with its code
(exactly, but for a building it cuts: taken whole when it holds most of it, else given up), exempt from
the household bounds, cut out of the re-division (never absorbed) and added
back as ``kind = dedicated`` without small grids, as :mod:`gridgeo.dedicated` makes them. An
``enterprises`` layer is refused (InputError): dedicated grids are carved by ``gridgeo partition``.

The change table has one row per office grid: ``kept`` (same code, same area and buildings),
``reshaped`` (same code; area or buildings moved, e.g. an overlap given away or a stray piece
across a community boundary), ``split`` (its area now in several new grids), ``merged`` (with other
grids into one), ``redrawn`` (one new grid, new code), ``outside`` (in no community), with households
and area moved.

:func:`unify` takes two or more departmental layers (综治, 城管, 党建 ...) and draws one layer within the
rules: boundary lines present (within ``tolerance_m``) in a majority of the layers are given to the
block builder as street-like lines (a grid boundary then follows them as it follows a street), and
jurisdiction layers (派出所辖区, street offices) are hard constraints: each community is divided
separately inside each jurisdiction, so no unified grid crosses one. The crosswalk gives, for every
departmental grid, the share of its area and of its households in each unified grid (households
shares sum to 1 for every departmental grid with households).
"""

from __future__ import annotations

import math
import time
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import InputError
from ._face import CLI
from ._findings import concat_findings, make_findings
from ._geometry import polygonal
from .codes import CodeScheme
from .plan import Plan

__all__ = ["rebalance", "unify", "infer_scheme", "CHANGE_COLUMNS", "CROSSWALK_COLUMNS"]

#: columns of the change table (layer ``changes`` of a rebalanced plan)
CHANGE_COLUMNS = ["old_code", "community_code", "status", "new_codes", "households_before", "households_after",
                  "households_moved", "area_m2_before", "area_m2_moved", "faults"]
#: columns of the crosswalk (layer ``crosswalk`` of a unified plan)
CROSSWALK_COLUMNS = ["layer", "department_code", "unified_code", "area_m2", "area_share", "households",
                     "households_share"]

#: prefix of the office layer's own columns (网格员, 备注 …) while rebalanced (:func:`_carry_office_columns`)
_GIVEN = "office:"
_TOL_M2 = 1.0  # area changes below this are numeric noise
_STRAY_SHARE = 0.01  # a piece in another community above this share of its grid (or with households) is a fault


# ------------------------------------------------------------------------------------------ code scheme


def infer_scheme(codes: Any, community_codes: Any, *, community_digits: int = 12) -> CodeScheme | None:
    """The code scheme ``<prefix><community code><sequence>`` a set of grid codes follows, or None.

    The community code must sit at the same position in at least half of the codes, after the same
    digit prefix, and the codes must have one length.

    >>> infer_scheme(["10420103001001003", "10420103001001012"], ["420103001001"] * 2).to_dict()["prefix"]
    '10'
    >>> infer_scheme(["4201030010010003"], ["420103001001"]).grid_digits
    4
    >>> infer_scheme(["A-1", "A-2"], ["420103001001"] * 2) is None
    True
    """
    codes = [str(c) for c in codes]
    comms = [str(c) for c in community_codes]
    if not codes:
        return None
    found: dict[tuple[str, int], int] = {}
    for code, comm in zip(codes, comms, strict=True):
        if not code.isdigit() or len(comm) != community_digits:
            continue
        p = code.find(comm)
        if p < 0:
            continue
        g = len(code) - p - community_digits
        if 1 <= g <= 30:
            found[(code[:p], g)] = found.get((code[:p], g), 0) + 1
    if not found:
        return None
    (prefix, g), n = max(found.items(), key=lambda kv: (kv[1], kv[0]))
    if 2 * n < len(codes):
        return None
    try:
        return CodeScheme(prefix=prefix, grid_digits=g, community_digits=community_digits)
    except InputError:
        return None


def _fits(code: str, community: str, scheme: CodeScheme, *, dedicated: bool = False) -> bool:
    """Whether an office code is a base-grid code (``dedicated``: a dedicated-grid code, 专属网格) of
    ``community`` in ``scheme``."""
    if not isinstance(code, str) or len(code) != scheme.grid_length or not code.isdigit():
        return False
    if not code.startswith(scheme.prefix) or scheme.community_of(code) != community:
        return False
    seq = int(code[-scheme.grid_digits:])
    if dedicated:
        return scheme.dedicated_first <= seq < 10**scheme.grid_digits
    return 1 <= seq < scheme.dedicated_first


#: values of an office layer's ``kind`` column naming a dedicated grid (专属网格)
_DEDICATED_KINDS = ("dedicated", "专属", "专属网格")


def _kind_given(value: Any) -> str | None:
    """``dedicated``, ``base`` or None (no value) from an office layer's ``kind`` column."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip().lower()
    if not text:
        return None
    return "dedicated" if text in _DEDICATED_KINDS else "base"


def _is_dedicated(code: str, kind_given: str | None, scheme: CodeScheme) -> bool:
    """An office grid is a dedicated grid (专属网格) when its ``kind`` says so, else (no ``kind`` value)
    when its code is in the scheme's dedicated range (sequence at or above ``dedicated_start``)."""
    if kind_given is not None:
        return kind_given == "dedicated"
    if not isinstance(code, str) or len(code) != scheme.grid_length or not code.isdigit():
        return False
    if not code.startswith(scheme.prefix):
        return False
    return int(code[-scheme.grid_digits:]) >= scheme.dedicated_first


# ------------------------------------------------------------------------------------------ inputs


def _no_enterprises(sources: dict[str, Any], label: str) -> None:
    """rebalance and unify keep the office's dedicated grids; an enterprises layer is refused, not ignored."""
    if sources.get("enterprises") is not None:
        msg = (f"{label} keeps the dedicated grids (专属网格) of the office layer; --enterprises is not used here: "
               "mark dedicated grids with kind=dedicated (or codes from the scheme's dedicated_start) in the grid "
               "layer, or carve them afresh with `gridgeo partition --enterprises`")
        raise InputError(msg)


def _prepared(sources: dict[str, Any], rules: Any, crs: Any, progress: Any = None, *, metric: Any = None,
              shift_check: bool = True, allow_outside: bool = False, label: str = "unify"):
    from .pipeline import prepare

    missing = [n for n in ("communities", "buildings") if n not in sources]
    if missing:
        msg = (f"{missing[0]} not given: rebalancing and unifying count households per grid inside communities; "
               f"pass --{missing[0]} FILE (or {missing[0]}= in Python)")
        raise InputError(msg)
    _no_enterprises(sources, label)
    return prepare(sources, rules=rules, crs=crs, metric=metric, shift_check=shift_check, allow_outside=allow_outside,
                   progress=progress, require_households=True)


def _office_columns(grids: Any, name: str) -> tuple[Any, dict[str, str]]:
    """An office grid layer's source and its column mapping (``--columns grids.code=WGBM``, a ``[grids]`` table, a
    :class:`~gridgeo.io.LayerSource`'s ``columns``), a community column refused: asked before any layer is read."""
    from .io import as_source, grid_columns

    src = as_source(grids, name=name)
    mapped = grid_columns(src, name=name)
    if "community" in mapped:
        msg = (f"{name}: a community column of the grid layer is not read here (each grid is judged by the community "
               "it lies in); map only code and kind")
        raise InputError(msg)
    return src, mapped


def _office_layer(grids: Any, name: str, metric: Any, code_column: str | None, crs: Any = None,
                  datum: str | None = None, keep_columns: bool = False) -> gpd.GeoDataFrame:
    """An office grid layer in the metric CRS with ``old_code`` (str) and polygon geometry; ``datum``
    (``gcj02``, ``bd09``): the layer was drawn on AMap/Tencent or Baidu maps, converted to WGS-84;
    ``keep_columns``: the layer's other columns too, each as ``office:<name>``."""
    from dataclasses import replace

    from .api import _layer
    from .crs import _datum, convert_datum
    from .io import mapped_option

    datum = _datum(datum, arg="grids_datum", func="rebalance") if datum is not None else None
    src, mapped = _office_columns(grids, name)
    code_column = mapped_option(code_column, mapped.get("code"), default="grid_code", option="code_column",
                                canon="code", name=name)
    if src.datum is not None:  # the source's own datum (LayerSource(datum=...)), read once
        own = _datum(src.datum, arg="datum", func="rebalance")
        if datum is not None and datum != own:
            msg = f"{name}: datum given twice, {own!r} on its source and {datum!r} for the layer; give it once"
            raise InputError(msg)
        datum = own
    gdf = _layer(replace(src, datum=None), name, crs=crs)
    if gdf is None or len(gdf) == 0:
        msg = f"{name}: the grid layer has no features; give the office's grid layer (polygons with a code column)"
        raise InputError(msg)
    if datum not in (None, "wgs84"):
        gdf = convert_datum(gdf, src=datum, dst="wgs84")
    kind_col = mapped.get("kind")
    if kind_col is not None:  # --columns grids.kind=类型: that column read as the grids' kind (base, dedicated)
        if kind_col not in gdf.columns:
            cols = [c for c in gdf.columns if c != gdf.geometry.name]
            msg = f"{name}: kind column {kind_col!r} not found; columns are {cols}"
            raise InputError(msg)
        gdf = gdf.drop(columns=[c for c in ("kind",) if c != kind_col and c in gdf.columns]).rename(columns={kind_col: "kind"})
    if shapely.has_z(gdf.geometry.to_numpy()).any():  # 3D outlines (CAD, survey): gridgeo works in 2D
        gdf = gdf.set_geometry(gpd.GeoSeries(shapely.force_2d(gdf.geometry.to_numpy()), crs=gdf.crs, index=gdf.index))
    gdf = _polygons_only(gdf, name)  # a layer of points or lines is named as such before its codes are judged
    if code_column is None:
        code_column = next((c for c in ("grid_code", "code", "WGBM", "wgbm", "网格编码", "编码") if c in gdf.columns), None)
        if code_column is None:
            cols = [c for c in gdf.columns if c != gdf.geometry.name]
            mapping = f"--columns {name}.code=COL" if CLI.get() else "columns={'code': 'COL'} on its LayerSource"
            msg = (f"{name}: no grid code column found among {cols}; name it with --code-column COL (code_column= in "
                   f"Python) or {mapping}")
            raise InputError(msg)
    if code_column not in gdf.columns:
        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        msg = (f"{name}: code column {code_column!r} not found; columns are {cols}; pass --code-column with one of them"
               + ("" if name == "grids" else " (once for all layers, or once per layer in the layers' order)"))
        raise InputError(msg)
    from .validate.layers import _as_code

    # codes stored as numbers (a DBF numeric field, a spreadsheet): 420981190001001.0 is the code 420981190001001
    # (it was taken as an unrecognised code, and every grid given a new one); past 2^53 a float has lost digits
    lossy = [v for v in gdf[code_column] if isinstance(v, float) and not math.isnan(v) and abs(v) >= 2.0**53]
    if lossy:
        msg = (f"{name}: column {code_column!r} holds the codes as floating-point numbers ({lossy[0]:.17g}), which "
               "cannot hold more than 15 digits exactly; store the codes as text (e.g. a String field in QGIS, "
               "a text column in Excel) and run again")
        raise InputError(msg)
    codes = [_as_code(v) for v in gdf[code_column]]
    seen: dict[str, int] = {}
    for c in codes:
        if c is not None:
            seen[c] = seen.get(c, 0) + 1
    dup = sorted(c for c, n in seen.items() if n > 1)
    if dup:
        msg = (f"{name}: code {dup[0]!r} is used by {seen[dup[0]]} grids in column {code_column!r}; "
               "give each grid its own code (or merge the duplicates) and run again")
        raise InputError(msg)
    # grids without a code are kept, under their row number (never dropped; they get new codes)
    ids = [c if c is not None else f"(row {i + 1})" for i, c in enumerate(codes)]
    geoms = gdf.to_crs(metric).geometry.to_numpy()
    bad = ~shapely.is_missing(geoms) & ~shapely.is_valid(geoms)
    geoms = geoms.copy()
    geoms[bad] = shapely.make_valid(geoms[bad])
    kinds = [_kind_given(v) for v in gdf["kind"]] if "kind" in gdf.columns else [None] * len(gdf)
    out = gpd.GeoDataFrame({"old_code": ids, "has_code": [c is not None for c in codes], "was_valid": ~bad,
                            "kind_given": pd.Series(kinds, dtype=object)},
                           geometry=gpd.GeoSeries(geoms, crs=metric), crs=metric)
    if keep_columns:
        for col in gdf.columns:
            if col not in (code_column, gdf.geometry.name):
                out[_GIVEN + str(col)] = gdf[col].to_numpy()
    out = out.sort_values("old_code", kind="stable").reset_index(drop=True)
    out.attrs["read_as_polygons"] = dict(gdf.attrs.get("read_as_polygons", {}))
    return out


def _polygons_only(gdf: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """The grid layer with outlines drawn as closed lines read as polygons (CAD exports); a layer with no
    polygon at all is an :class:`~gridgeo.InputError` naming what it holds; other rows that are no polygon
    (an open line, a point) are kept without geometry (their change-table row says ``no polygon``). The
    outlines read as polygons are counted in ``attrs["read_as_polygons"]`` (by finding type)."""
    from .io import _as_polygons, _type_fix

    gdf, notes = _as_polygons(gdf, name=name)
    read = {f["type"]: int(f["measure"]) for f in notes}
    geoms = gdf.geometry.to_numpy()
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))
    if present.any() and not (polygonal & present).any():
        found = sorted({str(t) for t in gdf.geometry[present].geom_type})
        msg = (f"{name}: the grid layer holds {', '.join(found)} ({int(present.sum())}), no polygons"
               f"{_type_fix(name, found)}")
        raise InputError(msg)
    other = present & ~polygonal
    if other.any():
        geoms = geoms.copy()
        geoms[other] = None
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, crs=gdf.crs, index=gdf.index))
    gdf.attrs["read_as_polygons"] = read  # how many outlines were read as polygons, by kind (the console says)
    return gdf


def _pieces(office: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each office grid cut at the community boundaries: one row per (grid, community) piece."""
    cg = communities.geometry.to_numpy()
    ccode = communities["code"].astype(str).to_numpy()
    og = office.geometry.to_numpy()
    gi, ci = shapely.STRtree(cg).query(og, predicate="intersects")
    inter = shapely.intersection(og[gi], cg[ci])
    area = shapely.area(inter)
    ok = area > _TOL_M2
    rows = pd.DataFrame({"g": gi[ok], "c": ci[ok], "area": area[ok]})
    rows["geometry"] = polygonal(inter[ok])
    rows["old_code"] = office["old_code"].to_numpy()[rows["g"]]
    rows["community_code"] = ccode[rows["c"]]
    rows = rows.sort_values(["old_code", "area", "community_code"], ascending=[True, False, True], kind="stable")
    rows["main"] = ~rows.duplicated("old_code")
    total = rows.groupby("old_code")["area"].transform("sum")
    rows["share"] = rows["area"] / total
    rows["piece_id"] = np.where(rows["main"], rows["old_code"], rows["old_code"] + "@" + rows["community_code"])
    out = gpd.GeoDataFrame(rows[["piece_id", "old_code", "community_code", "main", "share"]].reset_index(drop=True),
                           geometry=gpd.GeoSeries(rows["geometry"].to_numpy(), crs=office.crs), crs=office.crs)
    return out


# ------------------------------------------------------------------------------------------ re-division


def _partition_regions(prep: Any, regions: list[dict[str, Any]], *, workers: int = 1):
    """Partition each region (a polygon inside one community) on its own, in one call of the engine.

    Each region becomes a stand-in community (code ``key``): the blocks clipped to it and the buildings
    assigned to those pieces (:func:`gridgeo.blocks.assign_buildings`). Returns the partition result with
    ``community_code`` and ids mapped back (``region`` column: the region's key).
    """
    from .blocks import assign_buildings, block_totals
    from .partition import partition

    crs = prep.metric
    if not regions:
        return None
    keys = [r["key"] for r in regions]
    real = {r["key"]: r["code"] for r in regions}
    rgeoms = np.array([r["geometry"] for r in regions], dtype=object)
    pc = gpd.GeoDataFrame({"code": keys, "name": keys, "kind": [r["kind"] for r in regions]},
                          geometry=gpd.GeoSeries(rgeoms, crs=crs), crs=crs)
    blocks = prep.blocks
    bgeoms = blocks.geometry.to_numpy()
    bcomm = blocks["community_code"].astype(str).to_numpy()
    ri, bi = shapely.STRtree(bgeoms).query(rgeoms, predicate="intersects")
    sel = bcomm[bi] == np.array([real[keys[i]] for i in ri], dtype=object)
    ri, bi = ri[sel], bi[sel]
    clipped = shapely.intersection(bgeoms[bi], rgeoms[ri])
    rows = []
    for r, b, g in zip(ri, bi, clipped, strict=True):
        for n, part in enumerate(p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (3, 6) and p.area > 1e-3):
            bid = f"{keys[r]}|{blocks['block_id'].iat[b]}" + ("" if n == 0 else f"-p{n}")
            rows.append({"block_id": bid, "community_code": keys[r], "geometry": part})
    rows = _fold_crumbs(rows)
    covered = {row["community_code"] for row in rows}
    for i, k in enumerate(keys):  # a region without any block piece is one block of its own
        if k not in covered:
            rows.append({"block_id": f"{k}|R", "community_code": k, "geometry": rgeoms[i]})
    rb = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    rb = rb.assign(area_m2=rb.geometry.area)
    inside = prep.buildings["community_code"].notna().to_numpy()
    bld = prep.buildings[inside].drop(columns=["block_id", "community_code"])
    bld = assign_buildings(bld, rb)
    bld["community_code"] = bld["community_code"].where(bld["community_code"].notna(), None)
    bld = bld[bld["block_id"].notna()]
    rb = block_totals(rb, bld)
    res = partition(pc, rb, bld, streets=prep.streets, rules=prep.rules, villager_groups=prep.villager_groups,
                    workers=workers)
    for layer in (res.grids, res.subgrids):
        layer["region"] = layer["community_code"].astype(str)
        layer["community_code"] = layer["region"].map(real)
    res.buildings["region"] = res.buildings["community_code"]
    res.buildings["community_code"] = res.buildings["region"].map(real)
    if len(res.findings) and "community_code" in res.findings:
        res.findings["community_code"] = res.findings["community_code"].map(lambda v: real.get(v, v))
        _name_failed_regions(res.findings, real)
    return res


def _name_failed_regions(findings: pd.DataFrame, real: dict[str, str]) -> None:
    """A region whose division failed named by its community (not by its stand-in code, "community K00032"): which
    community, and whether the region is an office grid kept (``K`` keys) or an area re-divided (``F`` keys)."""
    for i in np.flatnonzero((findings["type"] == "community_failed").to_numpy()):
        key = str(findings["feature_id"].iat[i])
        if key not in real:
            continue
        what = "a grid kept, its small grids" if key.startswith("K") else "an area re-divided"
        findings.iat[i, findings.columns.get_loc("feature_id")] = real[key]
        findings.iat[i, findings.columns.get_loc("message")] = str(findings["message"].iat[i]).replace(
            f"community {key}:", f"community {real[key]} ({what}, part {key}):", 1).replace(
            "it has no grids in this plan (the other communities were divided)",
            "that part has no grids (or small grids) in this plan, its buildings no codes (the rest was divided)", 1)


def _fold_crumbs(rows: list[dict[str, Any]], *, min_m2: float = _TOL_M2) -> list[dict[str, Any]]:
    """Block pieces under ``min_m2`` (crumbs a clip leaves along a region's edge) join the piece of the
    same region sharing the longest boundary with them, so that no crumb becomes a grid of its own."""
    if not rows:
        return rows
    geoms = np.array([r["geometry"] for r in rows], dtype=object)
    region = np.array([r["community_code"] for r in rows], dtype=object)
    small = shapely.area(geoms) < min_m2
    if not small.any():
        return rows
    big = np.flatnonzero(~small)
    tree = shapely.STRtree(geoms[big])
    for i in np.flatnonzero(small):
        cand = big[tree.query(geoms[i], predicate="dwithin", distance=0.01)]
        cand = cand[region[cand] == region[i]]
        if not len(cand):
            if shapely.area(geoms[i]) < 0.01:  # numeric dust (validate's tolerance): no grid of its own
                geoms[i] = None
            continue
        shared = shapely.length(shapely.intersection(shapely.boundary(geoms[i]), shapely.boundary(geoms[cand])))
        j = cand[int(np.argmax(shared))]
        merged = polygonal(shapely.union(geoms[j], geoms[i]))
        if shapely.get_num_geometries(merged) == 1:
            geoms[j] = merged
            geoms[i] = None
        elif shapely.area(geoms[i]) < 0.01:
            geoms[i] = None
    out = []
    for r, g in zip(rows, geoms, strict=True):
        if g is not None:
            out.append({**r, "geometry": g})
    return out


def _fold_dust_grids(grids: gpd.GeoDataFrame, subs: gpd.GeoDataFrame, gid: np.ndarray, sid: np.ndarray,
                     *, max_m2: float = 1.0):
    """Grids of dust (under ``max_m2``, no households, not kept) join the neighbouring grid of their
    community sharing the longest boundary (their small grids follow, as dust of that grid)."""
    geoms = grids.geometry.to_numpy().copy()
    ids = grids["grid_id"].astype(str).to_numpy()
    dust = (shapely.area(geoms) < max_m2) & (grids["households"].to_numpy() == 0) & ~np.char.startswith(
        ids.astype(str), "K-")
    if not dust.any():
        return grids, subs, gid, sid
    comm = grids["community_code"].to_numpy()
    rename: dict[str, str] = {}
    for i in np.flatnonzero(dust):
        cand = np.flatnonzero(~dust & (comm == comm[i]))
        cand = cand[shapely.dwithin(geoms[cand], geoms[i], 0.01)] if len(cand) else cand
        if len(cand):
            shared = shapely.length(shapely.intersection(shapely.boundary(geoms[i]), shapely.boundary(geoms[cand])))
            j = cand[int(np.argmax(shared))]
            merged = polygonal(shapely.union(geoms[j], geoms[i]))
            if shapely.get_num_geometries(merged) == 1:
                geoms[j] = merged
            rename[ids[i]] = ids[j]
        else:
            rename[ids[i]] = ""
    grids = grids.set_geometry(gpd.GeoSeries(geoms, index=grids.index, crs=grids.crs))[~dust].reset_index(drop=True)
    grids["area_m2"] = grids.geometry.area
    subs = subs.copy()
    subs["grid_id"] = subs["grid_id"].map(lambda v: rename.get(v, v))
    subs = subs[subs["grid_id"] != ""].reset_index(drop=True)
    gid = np.array([rename.get(v, v) if v is not None else None for v in gid], dtype=object)
    gid = np.array([None if v == "" else v for v in gid], dtype=object)
    return grids, subs, gid, sid


def _fold_dust_subgrids(subs: gpd.GeoDataFrame, *, max_m2: float = 1.0) -> gpd.GeoDataFrame:
    """Small grids of dust (under ``max_m2``, no households; left by clipping blocks to a region) join
    the sibling small grid sharing the longest boundary, or are dropped when none touches them (a
    grid's only small grid is kept)."""
    geoms = subs.geometry.to_numpy().copy()
    dust = (shapely.area(geoms) < max_m2) & (subs["households"].to_numpy() == 0)
    if not dust.any():
        return subs
    parent = subs["grid_id"].to_numpy()
    drop = np.zeros(len(subs), dtype=bool)
    for i in np.flatnonzero(dust):
        sib = np.flatnonzero((parent == parent[i]) & ~dust & ~drop)
        if not len(sib):
            continue  # the only small grid of its grid: kept
        drop[i] = True
        sib = sib[shapely.dwithin(geoms[sib], geoms[i], 0.01)]
        if not len(sib):
            continue
        shared = shapely.length(shapely.intersection(shapely.boundary(geoms[i]), shapely.boundary(geoms[sib])))
        j = sib[int(np.argmax(shared))]
        merged = polygonal(shapely.union(geoms[j], geoms[i]))
        if shapely.get_num_geometries(merged) == 1:
            geoms[j] = merged
    out = subs.set_geometry(gpd.GeoSeries(geoms, index=subs.index, crs=subs.crs))
    return out[~drop]


def _assemble(prep: Any, res: Any, kept: gpd.GeoDataFrame | None) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Grids, small grids and buildings of the plan: a kept region's partition grids become the one kept
    grid (its exact geometry, id ``K<n>``), with the small grids the partition drew inside it."""
    from .partition import GRID_COLUMNS, SUBGRID_COLUMNS

    crs = prep.metric
    grids, subs = res.grids.copy(), res.subgrids.copy()
    out_b = prep.buildings.copy()
    rb = res.buildings.set_index("building_id")
    idx = out_b["building_id"].isin(rb.index).to_numpy()
    gid = np.full(len(out_b), None, dtype=object)
    sid = np.full(len(out_b), None, dtype=object)
    gid[idx] = rb.loc[out_b["building_id"][idx], "grid_id"].to_numpy()
    sid[idx] = rb.loc[out_b["building_id"][idx], "subgrid_id"].to_numpy()
    if kept is not None and len(kept):
        rename = {}
        kept_rows = []
        for _, k in kept.iterrows():
            mine = grids[grids["region"] == k["key"]]
            new_id = f"K-{k['key']}"
            for g in mine["grid_id"]:
                rename[g] = new_id
            kept_rows.append({"grid_id": new_id, "community_code": k["community_code"], "kind": "base",
                              "households": int(mine["households"].sum()), "buildings": int(mine["buildings"].sum()),
                              "area_m2": float(shapely.area(k.geometry)), "flags": "", "region": k["key"],
                              "geometry": k.geometry})
        grids = grids[~grids["grid_id"].isin(rename)]
        grids = pd.concat([grids, gpd.GeoDataFrame(kept_rows, geometry="geometry", crs=crs)], ignore_index=True)
        subs["grid_id"] = subs["grid_id"].map(lambda v: rename.get(v, v))
        gid = np.array([rename.get(v, v) if v is not None else None for v in gid], dtype=object)
    # dust the clip left (under 1 m², without households) makes no grid or small grid of its own
    grids, subs, gid, sid = _fold_dust_grids(grids.reset_index(drop=True), subs.reset_index(drop=True), gid, sid)
    subs = _fold_dust_subgrids(subs.reset_index(drop=True))
    sid = np.array([v if v is None or v in set(subs["subgrid_id"]) else None for v in sid], dtype=object)
    out_b["grid_id"] = pd.Series(gid, index=out_b.index, dtype=object)
    out_b["subgrid_id"] = pd.Series(sid, index=out_b.index, dtype=object)
    grids = gpd.GeoDataFrame(grids[[c for c in GRID_COLUMNS if c in grids.columns] + ["region", "geometry"]],
                             geometry="geometry", crs=crs).sort_values("grid_id", kind="stable").reset_index(drop=True)
    subs = gpd.GeoDataFrame(subs[[c for c in SUBGRID_COLUMNS if c in subs.columns] + ["geometry"]],
                            geometry="geometry", crs=crs).sort_values("subgrid_id", kind="stable").reset_index(drop=True)
    return grids, subs, out_b


def _finish(prep: Any, grids: gpd.GeoDataFrame, subs: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame,
            findings: gpd.GeoDataFrame, scheme: CodeScheme, previous: dict[str, Any] | None, extra: dict[str, Any],
            extra_layers: dict[str, Any] | None = None, label: str = "rebalance") -> Plan:
    """Codes, quality figures, metadata and the plan's own validation, as :func:`gridgeo.pipeline.build_plan` does."""
    from . import __version__
    from .codes import assign_codes, code_metadata
    from .partition.metrics import quality
    from .pipeline import _findings_with_codes, _metadata, _plain, self_check

    t = time.perf_counter()
    coded = assign_codes(grids.drop(columns=["region"], errors="ignore"), subs, buildings, scheme=scheme,
                         previous=previous, retired_in=f"gridgeo {__version__} {label}")
    grids, subs, buildings = coded.grids, coded.subgrids, coded.buildings
    findings = _findings_with_codes(concat_findings([prep.findings, findings], crs=prep.metric), grids, subs)
    extra.update(code_metadata(scheme, coded.retired))
    prep.timings["codes_s"] = time.perf_counter() - t
    q = quality(prep.communities, grids, buildings, streets=prep.streets, subgrids=subs, rules=prep.rules)
    extra["quality"] = _plain(q)
    layers = {"communities": prep.communities, "blocks": prep.blocks, "grids": grids, "subgrids": subs,
              "buildings": buildings, "findings": findings}
    layers.update(extra_layers or {})
    meta = _metadata(prep, "partition", _plain(extra))
    meta["counts"]["grids"] = int(len(grids))
    meta["counts"]["subgrids"] = int(len(subs))
    plan = self_check(Plan(layers, meta))
    meta = dict(plan.metadata)
    meta["counts"]["findings"] = int(len(plan.layers["findings"]))
    return Plan(plan.layers, meta)


# ------------------------------------------------------------------------------------------ rebalance


def _judge(prep: Any, pieces: gpd.GeoDataFrame, dedicated: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Compliance of each repaired piece by validate's checks; returns (compliant, faults text).
    ``dedicated`` pieces (专属网格) are exempt from the household bounds, as validate exempts them."""
    from .footprints import BUILDING_SHARE_MIN, assign_to_zones
    from .validate import validate_grids

    n = len(pieces)
    faults: list[list[str]] = [[] for _ in range(n)]
    pos = {p: i for i, p in enumerate(pieces["piece_id"])}
    b = prep.buildings
    bl = b[[c for c in ("building_id", "households", "unit_id", "geometry") if c in b.columns]]
    dedicated = np.zeros(n, dtype=bool) if dedicated is None else np.asarray(dedicated, dtype=bool)
    judged = pieces[["piece_id", "community_code", "geometry"]].assign(
        kind=np.where(dedicated, "dedicated", "base"))
    found = validate_grids(judged, communities=prep.communities,
                           buildings=bl, rules=prep.rules, code_column="piece_id", width_tolerance_m=0.1)
    for t, sev, fid, meas in zip(found["type"], found["severity"], found["feature_id"], found["measure"], strict=True):
        i = pos.get(fid)
        if i is None:
            continue
        if t == "households_out_of_bounds" and sev != "info":
            faults[i].append(f"{meas:.0f} households")
        elif t in ("multipart_grid", "invalid_geometry", "empty_geometry", "non_polygon") and sev != "info":
            faults[i].append(t)  # (a grid in separate parts of a community in separate parts is excused: info)
    # buildings cut by a piece boundary (the one building-to-zone assignment)
    bg = b.geometry.to_numpy()
    a = assign_to_zones(bg, pieces.geometry.to_numpy())
    bi, zi, share = a.pairs
    cut = (a.n_zones >= 2) & (a.max_share < 1 - BUILDING_SHARE_MIN) & np.isin(shapely.get_type_id(bg), (3, 6))
    comm = pieces["community_code"].to_numpy()
    sel = cut[bi] & (share >= BUILDING_SHARE_MIN)
    pairs = pd.DataFrame({"b": bi[sel], "z": zi[sel], "c": comm[zi[sel]]})
    same_comm = pairs.groupby(["b", "c"])["z"].transform("size") > 1  # a community boundary cut is not the grid's fault
    for z in np.unique(pairs.loc[same_comm, "z"].to_numpy()):
        faults[z].append("cuts a building")
    main = pieces["main"].to_numpy()
    for i in np.flatnonzero(~main):
        faults[i].append("piece across a community boundary")
    for i in np.flatnonzero(~pieces["was_valid"].to_numpy()):
        faults[i].append("invalid geometry")
    empty = shapely.is_empty(pieces.geometry.to_numpy()) | (shapely.area(pieces.geometry.to_numpy()) < _TOL_M2)
    for i in np.flatnonzero(empty):
        faults[i].append("no area left")
    ok = np.array([not f for f in faults], dtype=bool)
    return ok, ["; ".join(f) for f in faults]


def rebalance_prepared(prep: Any, office: gpd.GeoDataFrame, *, scheme: CodeScheme | None = None,
                       workers: int = 1, zones: list[dict[str, Any]] | None = None,
                       label: str = "rebalance", store: bool = True) -> tuple[Plan, pd.DataFrame]:
    """:func:`rebalance` on prepared inputs (:func:`gridgeo.pipeline.prepare`) and an office layer
    from :func:`_office_layer`. ``zones`` (``key``, ``code``, ``kind``, ``geometry``: pieces of the
    communities, e.g. cut by jurisdictions) bound the re-division: no re-divided area crosses a zone."""
    from .adjust import _free_regions, _take_in
    from .validate import repair_grids

    t0 = time.perf_counter()
    comm = prep.communities
    pieces = _pieces(office, comm)
    lost = set(office["old_code"]) - set(pieces["old_code"])
    if len(pieces) == 0:
        msg = "grids: no grid overlaps any community; check that the grid layer and --communities cover the same place (CRS)"
        raise InputError(msg)
    crossed = {}
    for oc, cc in zip(pieces.loc[~pieces["main"] & (pieces["share"] >= _STRAY_SHARE), "old_code"],
                      pieces.loc[~pieces["main"] & (pieces["share"] >= _STRAY_SHARE), "community_code"], strict=True):
        crossed.setdefault(oc, []).append(cc)
    pieces = _trim_strays(pieces)
    # the scheme: given, else inferred from the codes of the office's main pieces
    main = pieces[pieces["main"]]
    has_code = dict(zip(office["old_code"], office["has_code"], strict=True))
    coded_main = main[main["old_code"].map(has_code)]
    inferred = infer_scheme(coded_main["old_code"], coded_main["community_code"])
    findings: list[dict] = []
    if scheme is None:
        scheme = inferred if inferred is not None else CodeScheme()
        if inferred is None and len(coded_main):
            findings.append({"type": "office_codes_unrecognised", "severity": "warning", "layer": "grids",
                             "message": ("the office's grid codes do not follow <prefix><12-digit community code>"
                                         "<sequence>; every grid gets a code of the default scheme and the change "
                                         "table maps the old codes to the new")})
    # dedicated grids (专属网格): kind=dedicated, else a code in the dedicated range; drawn on top of the base
    # grids round them, they keep their overlaps with those; their main piece is then kept as repaired (exempt
    # from the household bounds, never absorbed); strays are re-divided
    kind_of = dict(zip(office["old_code"], office["kind_given"], strict=True)) if "kind_given" in office else {}
    pieces, on_top = _dedicated_on_top(pieces, np.array([_is_dedicated(c, kind_of.get(c), scheme)
                                                         for c in pieces["old_code"]], dtype=bool))
    repaired, log = repair_grids(pieces, communities=comm[["code", "geometry"]], code_column="piece_id")
    if len(on_top):
        log = pd.concat([on_top, log], ignore_index=True)
    repaired["geometry"] = polygonal(repaired.geometry.to_numpy())
    repaired = repaired.set_geometry("geometry")
    valid_of = dict(zip(office["old_code"], office["was_valid"], strict=True))
    repaired["was_valid"] = repaired["old_code"].map(valid_of).astype(bool)
    ded_grid = np.array([_is_dedicated(c, kind_of.get(c), scheme) for c in repaired["old_code"]], dtype=bool)
    ok, faults = _judge(prep, repaired, ded_grid)
    ok_main = ok.copy()
    repaired["faults"] = faults
    repaired["compliant"] = ok_main
    rgeoms = repaired.geometry.to_numpy()
    ded_keep = ded_grid & repaired["main"].to_numpy() & ~shapely.is_empty(rgeoms) & (shapely.area(rgeoms) >= _TOL_M2)
    usable = np.array([bool(has_code.get(c)) and _fits(c, cc, scheme, dedicated=bool(d)) for c, cc, d in
                       zip(repaired["old_code"], repaired["community_code"], ded_grid, strict=True)])
    ded = _dedicated_kept(repaired[ded_keep])
    ded = _whole_buildings(ded, prep, repaired[ok_main & ~ded_grid].geometry.to_numpy(), comm)
    prep_all = prep
    prep, comm = _without_dedicated(prep, ded)
    kept = repaired[ok_main & ~ded_grid].copy()
    kept["key"] = ["K" + str(i).zfill(5) for i in range(len(kept))]
    kept["grid_code"] = kept["key"]  # _free_regions names absorbed grids by this column
    if zones:
        kept, regions, absorbed = _zoned_regions(prep, kept, zones)
    else:
        attached: list[dict[str, Any]] = []
        regions = _free_regions(comm, kept[["grid_code", "community_code", "geometry"]], prep.buildings, prep.rules,
                                attached)
        absorbed = set()
        for r in regions:
            absorbed |= set(r["absorbed"])
        kept = kept[~kept["key"].isin(absorbed)]
        kept = _take_in(kept, None, attached)[0]  # land without households goes to the kept grid beside it
        kept, regions = _fold_empty_regions(kept, regions, prep.buildings)
    jobs = [{"key": k, "code": c, "kind": _kind(comm, c), "geometry": g}
            for k, c, g in zip(kept["key"], kept["community_code"], kept.geometry, strict=True)]
    jobs += [{"key": f"F{i:05d}", "code": r["code"], "kind": r["kind"], "geometry": r["geometry"]}
             for i, r in enumerate(regions)]
    res = _partition_regions(prep, jobs, workers=workers)
    grids, subs, buildings = _assemble(prep, res, kept)
    grids, buildings = _add_dedicated(grids, buildings, ded, prep_all)
    prep = prep_all
    # codes carried from the office's grids (those that fit the scheme), by geometry and buildings
    prev_g = repaired[repaired["main"] & usable].copy()
    prev_kind = np.where(ded_grid[(repaired["main"] & usable).to_numpy()], "dedicated", "base")
    from .footprints import assign_to_zones

    z = assign_to_zones(prep.buildings.geometry.to_numpy(), prev_g.geometry.to_numpy()).zone
    prev_b = pd.DataFrame({"building_id": prep.buildings["building_id"].to_numpy(),
                           "grid_code": np.where(z >= 0, prev_g["old_code"].to_numpy()[np.maximum(z, 0)] if len(prev_g)
                                                 else None, None)})
    previous = None if not len(prev_g) else {"grids": gpd.GeoDataFrame({"grid_code": prev_g["old_code"].to_numpy(),
                                           "community_code": prev_g["community_code"].to_numpy(),
                                           "kind": prev_kind}, geometry=prev_g.geometry.to_numpy(), crs=prep.metric),
                "buildings": gpd.GeoDataFrame(prev_b, geometry=prep.buildings.geometry.to_numpy(), crs=prep.metric)[
                    prev_b["grid_code"].notna().to_numpy()].reset_index(drop=True),
                "metadata": {"code_scheme": scheme.to_dict()}}
    extra = {"rebalance": {}}
    f_extra = make_findings(findings, crs=prep.metric)
    res_f = res.findings if res is not None else make_findings([], crs=prep.metric)
    plan = _finish(prep, grids, subs, buildings, concat_findings([res_f, f_extra], crs=prep.metric), scheme, previous,
                   extra, label=label)
    changes = change_table(office, repaired, plan, prep)
    inside = {} if not len(on_top) else {  # base grids drawn inside dedicated sites: said so, not "no area left"
        r.grid_code: r.detail.removeprefix("all of it to ") for r in on_top.itertuples()
        if r.detail.startswith("all of it") and "@" not in r.grid_code}  # a stray piece (CODE@community) is not the grid
    if inside:
        changes["faults"] = [f"drawn inside {inside[c]}, which takes its area" if c in inside else f
                             for c, f in zip(changes["old_code"], changes["faults"], strict=True)]
    note = [f"crossed into community {', '.join(sorted(crossed[c]))}" if c in crossed else "" for c in changes["old_code"]]
    changes["faults"] = ["; ".join(x for x in (f, n) if x) for f, n in zip(changes["faults"], note, strict=True)]
    summary = {
        "grids_before": int(len(office)),
        "compliant_before": int((changes["faults"] == "").sum()),
        "grids_kept": int((changes["status"] == "kept").sum()),
        "grids_reshaped": int((changes["status"] == "reshaped").sum()),
        "grids_split": int((changes["status"] == "split").sum()),
        "grids_merged": int((changes["status"] == "merged").sum()),
        "grids_redrawn": int((changes["status"] == "redrawn").sum()),
        "grids_after": int(len(plan.layers["grids"])),
        "compliant_absorbed": int(len(absorbed)),
        "dedicated_kept": int(len(ded)),
        "regions_redivided": int(len(regions)),
        "households_moved": int(changes["households_moved"].sum()),
        "area_m2_moved": round(float(changes["area_m2_moved"].sum()), 1),
        "scheme_inferred": inferred is not None,
        "grids_outside_communities": sorted(lost),
        "repair_actions": {str(k): int(v) for k, v in log["action"].value_counts().sort_index().items()},
        "repair_area_m2": {str(k): round(float(v), 1) for k, v in
                           pd.to_numeric(log["area_m2"], errors="coerce").groupby(log["action"]).sum().sort_index().items()},
        "invalid_polygons_mended": int((~office["was_valid"].astype(bool)).sum()),
        "read_as_polygons": dict(office.attrs.get("read_as_polygons", {})),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    layers = dict(plan.layers)
    changes, layers["grids"], summary["columns_carried"] = _carry_office_columns(office, changes, layers["grids"])
    meta = dict(plan.metadata)
    meta["rebalance"] = summary
    meta["code_scheme"] = scheme.to_dict()
    geoms = office.set_index("old_code").geometry.reindex(changes["old_code"]).to_numpy()
    layers["changes"] = gpd.GeoDataFrame(changes, geometry=gpd.GeoSeries(geoms, crs=prep.metric), crs=prep.metric)
    out = Plan(layers, meta)
    return (out.stored() if store else out), changes


def _carry_office_columns(office: gpd.GeoDataFrame, changes: pd.DataFrame,
                          grids: gpd.GeoDataFrame) -> tuple[pd.DataFrame, gpd.GeoDataFrame, list[str]]:
    """The office layer's own columns (网格员, 备注 …: ``office:<name>`` of :func:`_office_layer`) carried into the
    change table, every office grid's row, and onto the plan's grids that keep the office grid's code (kept,
    reshaped); a grid with a new code (split, merged, redrawn) has them empty, its old grids' values being in the
    change table. A column named like one of the table or the layer is carried as ``<name>_input``. Returns the
    change table, the grids and the names carried."""
    values = _office_values(office, {*changes.columns, *grids.columns, "geometry"})
    if values is None:
        return changes, grids, []
    changes = changes.join(values, on="old_code")
    keeps = set(changes.loc[changes["status"].isin(["kept", "reshaped"]), "old_code"])
    carried = values[values.index.isin(keeps)].reindex(grids["grid_code"].astype(str).to_numpy())
    grids = grids.copy()
    for c in carried.columns:
        grids[c] = carried[c].to_numpy()
    return changes, grids, list(values.columns)


def _office_values(office: gpd.GeoDataFrame, taken: set[str]) -> pd.DataFrame | None:
    """The office layer's own columns (``office:<name>`` of :func:`_office_layer`) by ``old_code``, under their
    own names (one in ``taken`` as ``<name>_input``), whole numbers and booleans as nullable types so that a row
    left empty keeps the column whole; None when the layer has none."""
    given = [c for c in office.columns if str(c).startswith(_GIVEN)]
    if not given:
        return None
    values = pd.DataFrame(office[given].to_numpy(), columns=[c[len(_GIVEN):] for c in given],
                          index=office["old_code"].to_numpy())
    values = values.astype({c: office[g].dtype for c, g in zip(values.columns, given, strict=True)})
    for c in values.columns:  # a whole number stays one on the rows left empty
        if pd.api.types.is_integer_dtype(values[c]) or pd.api.types.is_bool_dtype(values[c]):
            values[c] = values[c].astype("Int64" if pd.api.types.is_integer_dtype(values[c]) else "boolean")
    values.columns = [f"{c}_input" if c in taken else c for c in values.columns]
    return values


def _carry_department_columns(depts: list[gpd.GeoDataFrame], names: list[str],
                              cross: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The departmental layers' own columns (网格员, 备注 … as :func:`_office_values` names them) on every row of
    the crosswalk of their grid: a column one layer lacks is empty on the rows of that layer, and one whose
    layers hold different kinds of values (numbers in one, text in another) is written as text. Returns the
    crosswalk and the columns carried per layer."""
    taken = {*cross.columns, "geometry"}
    parts, carried = [], {}
    for name, dept in zip(names, depts, strict=True):
        values = _office_values(dept, taken)
        if values is None:
            continue
        rows = cross.index[cross["layer"] == name]
        part = values.reindex(cross.loc[rows, "department_code"].to_numpy())
        part.index = rows
        parts.append(part)
        carried[name] = list(values.columns)
    if not parts:
        return cross, carried
    extra = pd.concat(parts).reindex(cross.index)
    for col in extra.columns:
        kinds = {str(p[col].dtype) for p in parts if col in p.columns}
        if len(kinds) > 1:  # e.g. 编号 as numbers in one layer, as text in another
            extra[col] = [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)
                          for v in extra[col].astype(object)]
    return cross.join(extra), carried


def _dedicated_kept(pieces: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The dedicated grids kept, one polygon each: a grid left in several parts keeps its largest (the
    other parts become free area, re-divided with their neighbours)."""
    geoms = []
    for g in pieces.geometry.to_numpy():
        parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) == 3]
        geoms.append(max(parts, key=lambda p: (p.area, p.wkb)) if parts else g)
    out = pieces[["old_code", "community_code"]].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=pieces.crs), crs=pieces.crs)


def _whole_buildings(ded: gpd.GeoDataFrame, prep: Any, kept_geoms: np.ndarray,
                     communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Dedicated grids that cut a building of their community (楼栋完整) take the whole footprint when
    they hold most of it, and give it up otherwise (never into a compliant base grid kept, another
    dedicated grid or another community); the neighbour it was cut with is re-divided anyway."""
    from .footprints import BUILDING_SHARE_MIN

    if not len(ded):
        return ded
    bg = prep.buildings.geometry.to_numpy()
    poly = np.isin(shapely.get_type_id(bg), (3, 6))
    bcomm = prep.buildings["community_code"].astype(object).to_numpy()
    dg = ded.geometry.to_numpy().copy()
    dcomm = ded["community_code"].astype(str).to_numpy()
    cgeom = dict(zip(communities["code"].astype(str), communities.geometry.to_numpy(), strict=True))
    kept_u = shapely.union_all(kept_geoms) if len(kept_geoms) else shapely.Polygon()
    tree = shapely.STRtree(bg)
    changed = False
    for i in range(len(dg)):
        cand = tree.query(shapely.boundary(dg[i]), predicate="intersects")
        cand = np.sort(cand[poly[cand] & (bcomm[cand] == dcomm[i])])
        if not len(cand):
            continue
        share = shapely.area(shapely.intersection(bg[cand], dg[i])) / np.maximum(shapely.area(bg[cand]), 1e-9)
        take = cand[(share >= 0.5) & (share < 1 - BUILDING_SHARE_MIN)]
        give = cand[(share < 0.5) & (share >= BUILDING_SHARE_MIN)]
        if not len(take) and not len(give):
            continue
        if len(give) and shapely.area(shapely.difference(dg[i], shapely.union_all(bg[give]))) < _TOL_M2:
            # its land is all pieces of buildings it holds under half of (a base grid drawn over most of a
            # market's site): it keeps them whole rather than vanish
            take, give = np.union1d(take, give), give[:0]
        others = shapely.union_all(np.delete(dg, i)) if len(dg) > 1 else shapely.Polygon()
        g = dg[i]
        if len(take):
            add = shapely.intersection(shapely.union_all(bg[take]), cgeom.get(dcomm[i], shapely.Polygon()))
            add = shapely.difference(shapely.difference(add, kept_u), others)
            g = shapely.union(g, add)
        if len(give):
            g = shapely.difference(g, shapely.union_all(bg[give]))
        parts = [p for p in shapely.get_parts(polygonal(g)) if shapely.get_type_id(p) == 3]
        if parts:
            dg[i] = max(parts, key=lambda p: (p.area, p.wkb))
            changed = True
    if not changed:
        return ded
    return ded.set_geometry(gpd.GeoSeries(dg, index=ded.index, crs=ded.crs))


def _without_dedicated(prep: Any, ded: gpd.GeoDataFrame) -> tuple[Any, gpd.GeoDataFrame]:
    """The prepared inputs with the dedicated grids cut out (as :func:`gridgeo.dedicated.carve_inputs`
    does): each community less its dedicated grids, the buildings in them given no community (so no
    re-divided grid takes them). Returns (prepared, communities)."""
    import dataclasses

    from .footprints import assign_to_zones

    if not len(ded):
        return prep, prep.communities
    comm = prep.communities.copy()
    geoms = comm.geometry.to_numpy().copy()
    dcomm = ded["community_code"].astype(str).to_numpy()
    dg = ded.geometry.to_numpy()
    for k, code in enumerate(comm["code"].astype(str)):
        mine = dg[dcomm == code]
        if len(mine):
            geoms[k] = polygonal(shapely.difference(geoms[k], shapely.union_all(mine)))
    comm = comm.set_geometry(gpd.GeoSeries(geoms, index=comm.index, crs=comm.crs))
    b = prep.buildings.copy()
    z = assign_to_zones(b.geometry.to_numpy(), dg).zone
    b["community_code"] = b["community_code"].astype(object).where(z < 0, None)
    return dataclasses.replace(prep, communities=comm, buildings=b), comm


def _add_dedicated(grids: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame, ded: gpd.GeoDataFrame,
                   prep: Any) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The kept dedicated grids added to the plan's grids (``kind`` dedicated, no small grids, as the
    partition makes them), with the buildings in them; every building back in its community."""
    from .footprints import assign_to_zones

    buildings = buildings.copy()
    buildings["community_code"] = prep.buildings["community_code"].to_numpy()
    if not len(ded):
        return grids, buildings
    dg = ded.geometry.to_numpy()
    z = assign_to_zones(prep.buildings.geometry.to_numpy(), dg).zone
    hh = prep.buildings["households"].to_numpy()
    ids = [f"D-{i:05d}" for i in range(len(ded))]
    rows = [{"grid_id": ids[i], "community_code": ded["community_code"].iat[i], "kind": "dedicated",
             "households": int(hh[z == i].sum()), "buildings": int((z == i).sum()),
             "area_m2": float(shapely.area(dg[i])), "flags": "", "region": "", "geometry": dg[i]}
            for i in range(len(ded))]
    gid = buildings["grid_id"].to_numpy(dtype=object).copy()
    sid = buildings["subgrid_id"].to_numpy(dtype=object).copy()
    inside = z >= 0
    gid[inside] = np.array(ids, dtype=object)[z[inside]]
    sid[inside] = None
    buildings["grid_id"] = pd.Series(gid, index=buildings.index, dtype=object)
    buildings["subgrid_id"] = pd.Series(sid, index=buildings.index, dtype=object)
    added = gpd.GeoDataFrame(rows, geometry="geometry", crs=grids.crs)
    grids = gpd.GeoDataFrame(pd.concat([grids, added[grids.columns]], ignore_index=True), geometry="geometry", crs=grids.crs)
    return grids.sort_values("grid_id", kind="stable").reset_index(drop=True), buildings


def _zoned_regions(prep: Any, kept: gpd.GeoDataFrame, zones: list[dict[str, Any]]):
    """:func:`gridgeo.adjust._free_regions` with each zone standing in for a community, so that a
    re-divided area, and the kept grids it absorbs, stay inside one zone."""
    from .adjust import _free_regions, _take_in
    from .footprints import assign_to_zones

    keys = np.array([z["key"] for z in zones], dtype=object)
    zg = np.array([z["geometry"] for z in zones], dtype=object)
    real = {z["key"]: z["code"] for z in zones}
    zc = gpd.GeoDataFrame({"code": keys, "kind": [z["kind"] for z in zones]}, geometry=gpd.GeoSeries(zg, crs=prep.metric),
                          crs=prep.metric)
    kz = assign_to_zones(shapely.point_on_surface(kept.geometry.to_numpy()), zg).zone
    k2 = kept.assign(community_code=np.where(kz >= 0, keys[np.maximum(kz, 0)], None))
    k2 = k2[kz >= 0]
    bz = assign_to_zones(prep.buildings.geometry.to_numpy(), zg).zone
    b2 = prep.buildings.assign(community_code=np.where(bz >= 0, keys[np.maximum(bz, 0)], None))
    attached: list[dict[str, Any]] = []
    regions = _free_regions(zc, k2[["grid_code", "community_code", "geometry"]], b2, prep.rules, attached)
    absorbed = set()
    for r in regions:
        absorbed |= set(r["absorbed"])
    k2 = k2[~k2["key"].isin(absorbed)]
    k2 = _take_in(k2, None, attached)[0]  # land without households goes to the kept grid beside it
    k2, regions = _fold_empty_regions(k2, regions, b2)
    for r in regions:
        r["code"] = real[r["code"]]
    k2 = k2.assign(community_code=k2["community_code"].map(real))
    return k2, regions, absorbed


def _dedicated_on_top(pieces: gpd.GeoDataFrame, dedicated: np.ndarray) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The office's pieces with each base grid's overlap with a dedicated grid (专属网格, its main piece) of the
    same community given to the dedicated grid, drawn on top of it (a site carved out of the base grids), so that
    dedicated grids are kept with their codes whatever the base grids round them were drawn over; and the log of
    those overlaps (``overlap_given``, as :func:`gridgeo.validate.repair_grids` logs its own). A base piece that
    dedicated grids cover wholly gives them all of its area (left empty, "all of it" in the log): the repair's rule
    would carve the smaller grid out of the one round it, splitting the dedicated grid and losing its code."""
    from .validate.repair import LOG_COLUMNS

    geoms = pieces.geometry.to_numpy().copy()
    top = np.flatnonzero(dedicated & pieces["main"].to_numpy())
    under = np.flatnonzero(~dedicated)
    rows: list[dict[str, Any]] = []
    if len(top) and len(under):
        comm = pieces["community_code"].astype(str).to_numpy()
        pid = pieces["piece_id"].astype(str).to_numpy()
        u_hit, t_hit = shapely.STRtree(geoms[top]).query(geoms[under], predicate="intersects")
        for k in np.unique(u_hit):
            u = under[k]
            over = top[t_hit[u_hit == k]]
            over = over[comm[over] == comm[u]]
            if not len(over):
                continue
            rest = polygonal(shapely.difference(geoms[u], shapely.union_all(geoms[over])))
            lost = float(shapely.area(geoms[u]) - shapely.area(rest))
            if lost < _TOL_M2:
                continue
            wholly = float(shapely.area(rest)) < _TOL_M2  # a base grid drawn inside a dedicated site: all of it given
            geoms[u] = shapely.Polygon() if wholly else rest
            rows.append({"grid_code": pid[u], "community_code": comm[u], "action": "overlap_given",
                         "area_m2": round(float(shapely.area(pieces.geometry.iloc[u])) if wholly else lost, 6),
                         "detail": ("all of it " if wholly else "") + "to dedicated grid " + ", ".join(sorted(pid[over]))})
    out = pieces.set_geometry(gpd.GeoSeries(geoms, index=pieces.index, crs=pieces.crs))
    return out, pd.DataFrame(rows, columns=LOG_COLUMNS)


def _trim_strays(pieces: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A grid's piece in another community keeps only the area no grid of that community covers: the
    intruder gives way to the community's own grids (it may still fill a gap)."""
    geoms = pieces.geometry.to_numpy().copy()
    main = pieces["main"].to_numpy()
    comm = pieces["community_code"].to_numpy()
    for i in np.flatnonzero(~main):
        own = geoms[main & (comm == comm[i])]
        if len(own):
            geoms[i] = polygonal(shapely.difference(geoms[i], shapely.union_all(own)))
    out = pieces.set_geometry(gpd.GeoSeries(geoms, index=pieces.index, crs=pieces.crs))
    keep = main | (shapely.area(geoms) > _TOL_M2)
    return out[keep].reset_index(drop=True)


def _fold_empty_regions(kept: gpd.GeoDataFrame, regions: list[dict[str, Any]],
                        buildings: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[dict[str, Any]]]:
    """A free area without households (a gap, a sliver, an emptied stray) joins the kept grid of its
    community sharing the longest boundary with it, as ``validate --repair`` fills a gap."""
    if not regions or not len(kept):
        return kept, regions
    kept = kept.copy()
    geoms = kept.geometry.to_numpy().copy()
    kcomm = kept["community_code"].to_numpy()
    reps = shapely.point_on_surface(buildings.geometry.to_numpy())
    hh = buildings["households"].to_numpy()
    bcomm = buildings["community_code"].to_numpy()
    out = []
    for r in regions:
        mine = bcomm == r["code"]
        h = int(hh[mine][shapely.covers(r["geometry"], reps[mine])].sum()) if mine.any() else 0
        cand = np.flatnonzero(kcomm == r["code"])
        if h > 0 or not len(cand):
            out.append(r)
            continue
        shared = shapely.length(shapely.intersection(shapely.boundary(r["geometry"]), shapely.boundary(geoms[cand])))
        if shared.max() <= 0:
            out.append(r)
            continue
        j = cand[int(np.lexsort((kept["key"].to_numpy()[cand], -shared))[0])]
        merged = polygonal(shapely.union(geoms[j], r["geometry"]))
        if shapely.get_num_geometries(merged) != 1:
            out.append(r)
            continue
        geoms[j] = merged
    kept = kept.set_geometry(gpd.GeoSeries(geoms, index=kept.index, crs=kept.crs))
    return kept, out


def _kind(comm: gpd.GeoDataFrame, code: str) -> str:
    row = comm.loc[comm["code"] == code]
    kind = row["kind"].iloc[0] if "kind" in row and len(row) else "urban"
    return kind if isinstance(kind, str) else "urban"


def change_table(office: gpd.GeoDataFrame, repaired: gpd.GeoDataFrame, plan: Plan, prep: Any) -> pd.DataFrame:
    """One row per office grid: what became of it in ``plan`` (see the module docstring)."""
    from .footprints import assign_to_zones

    crs = prep.metric
    new = plan.layers["grids"]
    new = new.to_crs(crs) if new.crs != crs else new
    ng = new.geometry.to_numpy()
    ncode = new["grid_code"].astype(str).to_numpy()
    og = office.geometry.to_numpy()
    ocode = office["old_code"].to_numpy()
    b = plan.layers["buildings"]
    hh = prep.buildings["households"].to_numpy()
    bgeoms = prep.buildings.geometry.to_numpy()
    ob = assign_to_zones(bgeoms, og).zone  # the office grid each building was in
    new_of = dict(zip(b["building_id"].astype(str), b["grid_code"], strict=True))
    nb = np.array([new_of.get(str(x)) for x in prep.buildings["building_id"]], dtype=object)
    oi, ni = shapely.STRtree(ng).query(og, predicate="intersects")
    inter = shapely.area(shapely.intersection(og[oi], ng[ni]))
    ov = pd.DataFrame({"o": oi, "n": ni, "a": inter})
    ov = ov[ov["a"] > _TOL_M2]
    oarea = shapely.area(og)
    ov["share_o"] = ov["a"] / oarea[ov["o"]]
    # how much of each new grid comes from each old grid
    narea = shapely.area(ng)
    ov["share_n"] = ov["a"] / narea[ov["n"]]
    labelled = [f if m or not f else f"in {c}: {f}" for f, m, c in
                zip(repaired["faults"], repaired["main"], repaired["community_code"], strict=True)]
    faults = pd.Series(labelled, index=repaired.index).groupby(repaired["old_code"]).agg(
        lambda s: "; ".join(x for x in s if x))
    comm_of = repaired[repaired["main"]].set_index("old_code")["community_code"]
    rows = []
    for i, code in enumerate(ocode):
        mine = ov[ov["o"] == i]
        in_old = ob == i
        h_before = int(hh[in_old].sum())
        codes_now = set(ncode)
        succ = mine[(mine["share_o"] >= 0.05) | (mine["a"] >= 0.5 * mine["a"].max())]
        if code in codes_now:
            j = int(np.flatnonzero(ncode == code)[0])
        elif len(mine):
            j = int(mine.sort_values(["a", "n"], ascending=[False, True])["n"].iloc[0])
        else:
            j = -1
        same = float(mine.loc[mine["n"] == j, "a"].sum()) if j >= 0 else 0.0
        area_moved = max(0.0, float(oarea[i]) - same)
        h_moved = int(hh[in_old & (nb != (ncode[j] if j >= 0 else None))].sum())
        h_after = int(hh[nb == ncode[j]].sum()) if j >= 0 else 0
        sym = float(shapely.area(shapely.symmetric_difference(og[i], ng[j]))) if j >= 0 else float(oarea[i])
        if code in codes_now:
            moved_in = int(hh[(nb == code) & ~in_old].sum())
            status = "kept" if (sym < _TOL_M2 and h_moved == 0 and moved_in == 0) else "reshaped"
        elif not len(mine):
            status = "outside"  # in no community: nothing of it is in the plan
        elif len(succ) >= 2:
            status = "split"
        elif len(succ) == 1 and float(succ["share_n"].iloc[0]) < 0.9:
            status = "merged"
        else:
            status = "redrawn"
        rows.append({"old_code": code, "community_code": comm_of.get(code), "status": status,
                     "new_codes": ",".join(sorted(ncode[succ["n"].to_numpy()])) if len(succ) else "",
                     "households_before": h_before, "households_after": h_after, "households_moved": h_moved,
                     "area_m2_before": round(float(oarea[i]), 1), "area_m2_moved": round(area_moved, 1),
                     "faults": faults.get(code, "") or ("no polygon" if shapely.is_missing(og[i])
                                                         or shapely.is_empty(og[i]) else "")})
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def summarize_changes(changes: pd.DataFrame, summary: dict[str, Any]) -> str:
    """The change table as a few lines of text (the CLI prints it)."""
    n = max(1, len(changes))
    lines = [
        f"office grids: {summary['grids_before']:,} ({summary['compliant_before']:,} compliant); "
        f"plan grids: {summary['grids_after']:,}",
        f"  kept {summary['grids_kept']:,} ({summary['grids_kept'] / n:.0%}), reshaped {summary['grids_reshaped']:,}, "
        f"split {summary['grids_split']:,}, merged {summary['grids_merged']:,}, redrawn {summary['grids_redrawn']:,}",
        f"  households moved {summary['households_moved']:,}; area moved {summary['area_m2_moved'] / 1e4:,.1f} ha; "
        f"compliant grids absorbed to mend a neighbour: {summary['compliant_absorbed']:,}",
    ]
    if summary.get("columns_carried"):
        lines.append(f"  the office's columns {', '.join(summary['columns_carried'])}: on the grids keeping their code, "
                     "and every office grid's in layer 'changes' (grids with new codes have them empty)")
    mended = _mended(summary)
    if mended:
        lines.append(f"  the office's layer mended before judging (as `gridgeo validate --repair`): {mended}")
    for _, r in changes[changes["status"] != "kept"].head(15).iterrows():
        arrow = f" -> {r['new_codes']}" if r["new_codes"] else ""
        why = f" [{r['faults']}]" if r["faults"] else ""
        lines.append(f"  {r['old_code']}: {r['status']}{arrow}, {r['households_moved']} households moved{why}")
    more = int((changes["status"] != "kept").sum()) - 15
    if more > 0:
        lines.append(f"  ... and {more} more (layer 'changes' of the plan)")
    return "\n".join(lines)


#: how the console names the mends of an office's layer (``repair_grids`` actions): the noun counted, the rest
_MENDS = {"overlap_given": ("overlap", "between grids (不交叉重叠) given to one grid"), "gap_filled": ("gap", "filled"),
          "clipped": ("piece", "outside the community clipped"), "emptied": ("grid", "emptied by the mends"),
          "multipart": ("grid", "left in several parts")}


def _layer_read(dept: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> str:
    """How a departmental layer was read for ``unify`` (outlines read as polygons, invalid polygons made valid,
    by :func:`_mended`) and its overlaps and gaps as ``gridgeo validate`` finds them (the same checks), with
    their count and area. A layer is not mended further (the unified grids follow only the lines most layers
    share), so these are said, not carried into the unified grids."""
    from ._text import counted
    from .validate import validate_grids

    said = _mended({"invalid_polygons_mended": int((~dept["was_valid"].astype(bool)).sum()),
                    "read_as_polygons": dept.attrs.get("read_as_polygons", {})})
    usable = dept[~dept.geometry.is_empty & dept.geometry.notna()]
    found = validate_grids(usable, communities=communities, code_column="old_code") if len(usable) else None
    more = []
    for kind, noun, rest in (("overlap", "overlap", "between its grids (交叉重叠)"),
                             ("gap", "gap", "inside the communities")):
        hits = found[found["type"] == kind] if found is not None and len(found) else []
        if len(hits):
            area = float(pd.to_numeric(hits["measure"], errors="coerce").sum())
            more.append(f"{counted(len(hits), noun)} {rest} ({area / 1e4:,.2f} ha)")
    return "; ".join(x for x in [said, *more] if x)


def _mended(summary: dict[str, Any]) -> str:
    """The mends of the office's layer in a few words: invalid polygons, overlaps, gaps (with their area).

    >>> _mended({"invalid_polygons_mended": 1, "repair_actions": {"overlap_given": 2, "community_set": 5},
    ...          "repair_area_m2": {"overlap_given": 2000.0}})
    '1 invalid polygon made valid; 2 overlaps between grids (不交叉重叠) given to one grid (0.2 ha)'
    >>> _mended({"read_as_polygons": {"outline_closed_to_polygon": 3}})
    '3 outlines drawn as closed lines read as polygons'
    """
    from ._text import counted

    parts = []
    for kind, noun, text in (("outline_closed_to_polygon", "outline", "drawn as closed lines read as polygons"),
                             ("collection_polygons_kept", "geometry collection", "read as their polygons")):
        if summary.get("read_as_polygons", {}).get(kind):
            parts.append(f"{counted(summary['read_as_polygons'][kind], noun)} {text}")
    if summary.get("invalid_polygons_mended"):
        parts.append(f"{counted(summary['invalid_polygons_mended'], 'invalid polygon')} made valid")
    area = summary.get("repair_area_m2", {})
    for action, (noun, text) in _MENDS.items():
        n = summary.get("repair_actions", {}).get(action, 0)
        if n:
            a = area.get(action)
            parts.append(f"{counted(n, noun)} {text}" + (f" ({a / 1e4:,.1f} ha)" if a and a == a else ""))
    return "; ".join(parts)


def rebalance(grids: Any, communities: Any, streets: Any = None, buildings: Any = None, *,
              code_column: str | None = "grid_code", rules: Any = "urban", code_scheme: Any = None, crs: Any = None,
              columns: dict[str, dict[str, str]] | None = None, workers: int = 1, villager_groups: Any = None,
              metric_crs: Any = None, allow_outside: bool = False, shift_check: bool = True,
              grids_datum: str | None = None) -> tuple[Plan, pd.DataFrame]:
    """Rebalance an office's grid layer with the fewest changes: ``gridgeo rebalance`` in Python.

    Parameters
    ----------
    grids
        The office's grid layer (GeoDataFrame, path, ``(path, layer)`` or :class:`~gridgeo.io.LayerSource`, whose
        ``columns`` ``{"code": "WGBM", "kind": "类型"}`` and ``datum`` are read): polygons with codes in
        ``code_column``; overlaps, gaps, grids across communities and out-of-bounds grids allowed.
    communities, streets, buildings
        As for :func:`gridgeo.divide` (buildings required).
    code_column
        Column of ``grids`` holding its codes (None: the first of ``grid_code``, ``code``, ``WGBM``).
    rules
        Rules profile, TOML file or :class:`~gridgeo.rules.Rules`.
    code_scheme
        The scheme of new codes (dict, TOML path or :class:`~gridgeo.codes.CodeScheme`); default: the
        scheme the office's codes follow (:func:`infer_scheme`), else gridgeo's default.
    columns
        Canonical column → the data's column, per layer (as for :func:`gridgeo.divide`).
    workers
        Processes for the partition of the regions.
    villager_groups, metric_crs, allow_outside, shift_check
        As for :func:`gridgeo.divide`: villager groups (村民小组) kept whole in rural communities, the
        metric CRS to compute in, going on when a layer lies mostly outside every community, and the
        check for layers shifted against each other (GCJ-02/BD-09); an office layer shifted against the
        communities is refused (every grid would be redrawn), naming ``grids_datum``.
    grids_datum
        ``"gcj02"`` or ``"bd09"``: the office's layer was drawn on AMap/Tencent or Baidu maps (shifted
        100–700 m); converted to WGS-84 before anything else.

    Dedicated grids (专属网格) of ``grids`` (``kind`` ``dedicated``, or without a ``kind`` value a code at
    or above the scheme's ``dedicated_start``) are kept with their codes, clipped to their community,
    exempt from the household bounds and never merged into base grids.

    Returns
    -------
    (Plan, DataFrame)
        The plan (EPSG:4490: every layer of a ``gridgeo partition`` plan, plus ``changes``: the change
        table with each office grid's geometry) and the change table (:data:`CHANGE_COLUMNS`); the
        summary is in ``plan.metadata["rebalance"]``.

    Raises
    ------
    InputError
        A bad argument or layer (no code column, duplicate codes, no buildings ...), in one line.
    """
    from .io import layer_sources

    sources = layer_sources({"communities": communities, "streets": streets, "buildings": buildings,
                             "villager_groups": villager_groups}, columns=columns)
    return rebalance_sources(grids, sources, code_column=code_column, rules=rules, code_scheme=code_scheme, crs=crs,
                             metric=metric_crs, workers=workers, allow_outside=allow_outside, shift_check=shift_check,
                             grids_datum=grids_datum)


def _refuse_shifted(office: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, name: str, fix: str, go_on: str) -> None:
    """An :class:`~gridgeo.InputError` when the office's layer looks shifted against the communities by a
    GCJ-02/BD-09 offset (drawn on AMap, Tencent or Baidu maps): every grid would be judged faulty and
    redrawn (the sample town: 0 of 69 kept, 12,636 households moved), so nothing is done. ``fix`` names the
    option that reads the layer (``{datum}`` filled in), ``go_on`` the one that skips the check."""
    from .crs import _DATUM_LABELS, _DATUM_SOURCES, detect_shift

    for s in detect_shift({name: office, "communities": communities}):
        if s.layer == name:
            msg = (f"{name}: the grid layer looks shifted ~{s.offset_m:.0f} m against the communities (a "
                   f"{_DATUM_LABELS[s.datum]} offset: drawn on {_DATUM_SOURCES[s.datum]}?), so its grids would be judged "
                   f"where they do not lie and redrawn; read it with {fix.format(datum=s.datum)} (or {go_on} to go on as given)")
            raise InputError(msg)


def _scheme_arg(code_scheme: Any) -> CodeScheme | None:
    from .io import load_code_scheme

    if code_scheme is None:
        return None
    if isinstance(code_scheme, str) or hasattr(code_scheme, "__fspath__"):
        code_scheme = load_code_scheme(code_scheme, option="code_scheme")
    return CodeScheme.from_dict(code_scheme)


def rebalance_sources(grids: Any, sources: dict[str, Any], *, code_column: str | None = "grid_code", rules: Any = None,
                      code_scheme: Any = None, crs: Any = None, metric: Any = None, workers: int = 1,
                      progress: Any = None, allow_outside: bool = False,
                      shift_check: bool = True, grids_datum: str | None = None) -> tuple[Plan, pd.DataFrame]:
    """:func:`rebalance` on layer sources (:func:`gridgeo.io.layer_sources`), as the CLI assembles them."""
    from .pipeline import prepare

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        msg = f"rebalance: workers={workers!r} must be a whole number of processes, at least 1"
        raise InputError(msg)
    scheme = _scheme_arg(code_scheme)
    if grids_datum is not None:  # a wrong name is said before the inputs are read
        from .crs import _datum

        grids_datum = _datum(grids_datum, arg="grids_datum", func="rebalance")
    for name in ("communities", "buildings"):
        if name not in sources:
            msg = (f"rebalance needs {name}: households are counted per grid inside communities; "
                   f"pass --{name} FILE ({name}= in Python)")
            raise InputError(msg)
    _no_enterprises(sources, "rebalance")
    _office_columns(grids, "grids")  # a mapping refused before the inputs are read
    prep = prepare(sources, rules=rules, crs=crs, metric=metric, shift_check=shift_check, allow_outside=allow_outside,
                   progress=progress, require_households=True)
    office = _office_layer(grids, "grids", prep.metric, code_column, crs=crs, datum=grids_datum, keep_columns=True)
    if shift_check:
        cli = CLI.get()
        _refuse_shifted(office, prep.communities, "grids", "--grids-datum {datum}" if cli else "grids_datum='{datum}'",
                        "--no-shift-check" if cli else "shift_check=False")
    if progress is not None:
        progress("rebalancing the grids")
    return rebalance_prepared(prep, office, scheme=scheme, workers=workers)


# ------------------------------------------------------------------------------------------ unify


def shared_boundaries(layers: list[gpd.GeoDataFrame], *, tolerance_m: float = 2.0, majority: float = 0.5,
                      piece_m: float = 10.0, exclude: Any = None) -> np.ndarray:
    """Grid boundary lines present (within ``tolerance_m``) in more than ``majority`` of the layers.

    Boundaries are cut into pieces of ``piece_m``; a piece of one layer counts in every layer with a
    boundary within ``tolerance_m`` of it. Pieces already within ``tolerance_m`` of ``exclude`` (streets,
    community boundaries) or of a piece taken from an earlier layer are left out, so each shared line is
    drawn once. All layers in one metric CRS.
    """
    n = len(layers)
    bounds = [shapely.union_all(shapely.boundary(layer.geometry.to_numpy())) for layer in layers]
    taken: list[Any] = []
    need = math.floor(majority * n) + 1
    ex = exclude
    out = []
    for i, line in enumerate(bounds):
        if shapely.is_empty(line):
            continue
        segs = shapely.get_parts(shapely.line_merge(line) if shapely.get_type_id(line) == 5 else line)
        pieces = []
        for s in segs:
            L = s.length
            k = max(1, int(math.ceil(L / piece_m)))
            for j in range(k):
                pieces.append(shapely.ops.substring(s, L * j / k, L * (j + 1) / k))
        pieces = np.array(pieces, dtype=object)
        if not len(pieces):
            continue
        mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
        count = np.ones(len(pieces), dtype=int)
        for j, other in enumerate(bounds):
            if j != i and not shapely.is_empty(other):
                count += shapely.dwithin(mids, other, tolerance_m).astype(int)
        keep = count >= need
        if ex is not None:
            keep &= ~shapely.dwithin(mids, ex, tolerance_m)
        if taken:
            keep &= ~shapely.dwithin(mids, shapely.union_all(np.array(taken, dtype=object)), tolerance_m)
        out.extend(pieces[keep].tolist())
        taken.extend(pieces[keep].tolist())
    if not out:
        return np.zeros(0, dtype=object)
    merged = shapely.line_merge(shapely.union_all(np.array(out, dtype=object)))
    return np.array([p for p in shapely.get_parts(merged) if p.length > tolerance_m], dtype=object)


def layer_name(value: Any, i: int) -> str:
    """The name of departmental layer ``i`` in the crosswalk and in messages: the layer inside a file, else
    the file's stem, else ``layer<i+1>``.

    >>> layer_name("综治网格.shp", 0), layer_name(("depts.gpkg", "城管"), 1), layer_name(None, 2)
    ('综治网格', '城管', 'layer3')
    """
    from pathlib import Path

    from .io import LayerSource

    path, layer = (value.path, value.layer) if isinstance(value, LayerSource) else \
        value if isinstance(value, tuple) and len(value) == 2 else (value, None)
    if isinstance(layer, str) and layer:
        return layer
    return Path(path).stem if isinstance(path, (str, Path)) else f"layer{i + 1}"


def layer_names(layers: list[Any]) -> list[str]:
    """The names of departmental layers (:func:`layer_name`), numbered ``NAME#<i+1>`` when two would be alike.

    >>> layer_names(["a/网格.shp", "b/网格.shp"]), layer_names(["综治.shp", "城管.shp"])
    (['网格#1', '网格#2'], ['综治', '城管'])
    """
    names = [layer_name(v, i) for i, v in enumerate(layers)]
    return names if len(set(names)) == len(names) else [f"{n}#{i + 1}" for i, n in enumerate(names)]


def unify(layers: list[Any], communities: Any, streets: Any = None, buildings: Any = None, *,
          jurisdictions: list[Any] | None = None, code_columns: list[str | None] | None = None, names: list[str] | None = None,
          rules: Any = "urban", code_scheme: Any = None, crs: Any = None, tolerance_m: float = 2.0,
          workers: int = 1, villager_groups: Any = None, metric_crs: Any = None, allow_outside: bool = False,
          shift_check: bool = True, enterprises: Any = None, datums: dict[str, str] | None = None
          ) -> tuple[Plan, pd.DataFrame]:
    """Unify departmental grid layers into one (多网合一): ``gridgeo unify`` in Python.

    Parameters
    ----------
    layers
        Two or more departmental grid layers (GeoDataFrames, paths or :class:`~gridgeo.io.LayerSource` with
        ``columns`` ``{"code": ...}`` and a ``datum``), each with codes.
    communities, streets, buildings
        As for :func:`gridgeo.divide` (buildings required).
    jurisdictions
        Polygon layers (派出所辖区, street offices) that no unified grid may cross.
    code_columns
        The code column of each layer (default: the first of ``grid_code``, ``code``, ``WGBM``).
    names
        A name per layer for the crosswalk (default: file stem or ``layer1`` …).
    tolerance_m
        Boundaries of different layers within this distance are the same line.
    villager_groups, metric_crs, allow_outside, shift_check
        As for :func:`gridgeo.divide`; a departmental layer shifted against the communities (GCJ-02/BD-09)
        is refused, naming ``datums``.
    datums
        Layer name → ``"gcj02"`` or ``"bd09"``: the layers drawn on AMap/Tencent or Baidu maps, converted
        to WGS-84 first.
    enterprises
        Not used: given, it is refused (InputError); dedicated grids (专属网格) are carved by
        ``gridgeo partition --enterprises``.

    Returns
    -------
    (Plan, DataFrame)
        The unified plan (EPSG:4490, plus ``crosswalk`` and ``shared_boundaries`` layers) and the
        crosswalk (:data:`CROSSWALK_COLUMNS`).
    """
    from .api import _layer
    from .crs import metric_crs as _metric_crs
    from .io import layer_sources, load_code_scheme

    if not isinstance(layers, (list, tuple)) or len(layers) < 2:
        msg = "unify: give two or more departmental grid layers (e.g. the 综治, 城管 and 党建 grids); one layer is what `gridgeo rebalance` takes"
        raise InputError(msg)
    code_columns = list(code_columns) if code_columns is not None else [None] * len(layers)
    if len(code_columns) != len(layers):
        msg = f"unify: {len(code_columns)} code columns for {len(layers)} layers; give one per layer (or none)"
        raise InputError(msg)
    if names is None:
        names = layer_names(layers)
    _no_enterprises({"enterprises": enterprises}, "unify")
    for i, v in enumerate(layers):  # a mapping refused before any layer is read
        _office_columns(v, names[i])
    t0 = time.perf_counter()
    comm0 = _layer(communities, "communities", crs=crs)
    if comm0 is None:
        msg = "unify: communities=None; pass the community polygons with a 12-digit code"
        raise InputError(msg)
    metric = _metric_crs(comm0, override=metric_crs)
    from .crs import _datum

    datums = {k: _datum(v, arg=f"datums[{k!r}]", func="unify") for k, v in (datums or {}).items()}
    cli = CLI.get()
    unknown = sorted(set(datums) - set(names))
    if unknown:
        shown = f"--layer-datum {unknown[0]}=..." if cli else f"datums={{{unknown[0]!r}: ...}}"
        msg = f"unify: {shown} names no layer; the layers are {names}"
        raise InputError(msg)
    depts = [_office_layer(v, names[i], metric, code_columns[i], crs=crs, datum=datums.get(names[i]), keep_columns=True)
             for i, v in enumerate(layers)]
    if shift_check:
        for name, dept in zip(names, depts, strict=True):
            fix = f"--layer-datum {name}={{datum}}" if cli else f"datums={{{{{name!r}: '{{datum}}'}}}}"
            _refuse_shifted(dept, comm0, name, fix, "--no-shift-check" if cli else "shift_check=False")
    juris = []
    for j, v in enumerate(jurisdictions or []):
        g = _layer(v, f"jurisdiction {j + 1}", crs=crs)
        if g is None or len(g) == 0:
            msg = f"unify: jurisdiction layer {j + 1} has no features; give polygons (派出所辖区, street offices)"
            raise InputError(msg)
        juris.append(g.to_crs(metric))
    # lines a majority of departments share, and jurisdiction boundaries: street-like lines for the blocks
    st = _layer(streets, "streets", crs=crs) if streets is not None else None
    cm = comm0.to_crs(metric)
    known = shapely.union_all(shapely.boundary(cm.geometry.to_numpy()))
    if st is not None:
        known = shapely.union(known, shapely.union_all(st.to_crs(metric).geometry.to_numpy()))
    shared_all = shared_boundaries(depts, tolerance_m=tolerance_m)
    shared = _away_from(shared_all, known, tolerance_m)
    jlines = [shapely.boundary(g) for jl in juris for g in jl.geometry.to_numpy()]
    extra = np.concatenate([shared, np.array(jlines, dtype=object)]) if jlines else shared
    lines = gpd.GeoDataFrame({"name": ["shared grid boundary"] * len(shared) + ["jurisdiction boundary"] * len(jlines),
                              "highway": ["secondary"] * len(extra)},
                             geometry=gpd.GeoSeries(extra, crs=metric), crs=metric)
    if st is not None:
        st_m = st.to_crs(metric)
        keep = [c for c in ("name", "highway") if c in st_m.columns]
        all_streets = pd.concat([st_m[keep + ["geometry"]], lines], ignore_index=True)
        all_streets = gpd.GeoDataFrame(all_streets, geometry="geometry", crs=metric)
    else:
        all_streets = lines
    sources = layer_sources({"communities": communities, "streets": all_streets if len(all_streets) else None,
                             "buildings": buildings, "villager_groups": villager_groups})
    prep = _prepared(sources, rules, crs, metric=metric, shift_check=shift_check, allow_outside=allow_outside)
    if isinstance(code_scheme, str) or hasattr(code_scheme, "__fspath__"):
        code_scheme = load_code_scheme(code_scheme, option="code_scheme")
    scheme = CodeScheme.from_dict(code_scheme) if code_scheme is not None else CodeScheme()
    # regions: each community cut by every jurisdiction layer, then bent around the buildings a
    # jurisdiction line crosses (such a building stays whole, on the side holding most of it)
    from .footprints import bend_blocks

    regions = []
    kinds = prep.communities["kind"] if "kind" in prep.communities else pd.Series("urban", index=prep.communities.index)
    for code, cg, kind in zip(prep.communities["code"], prep.communities.geometry, kinds, strict=True):
        parts = [cg]
        for jl in juris:
            jg = jl.geometry.to_numpy()
            covered = shapely.union_all(jg)
            new_parts = []
            for p in parts:
                for g in jg:
                    x = polygonal(shapely.intersection(p, g))
                    if x.area > _TOL_M2:
                        new_parts.append(x)
                rest = polygonal(shapely.difference(p, covered))
                if rest.area > _TOL_M2:
                    new_parts.append(rest)
            parts = new_parts or parts
        for p in parts:
            for q in shapely.get_parts(p):
                if q.area > _TOL_M2:
                    regions.append({"code": code, "kind": kind if isinstance(kind, str) else "urban", "geometry": q})
    bend_findings = make_findings([], crs=prep.metric)
    if juris and regions:
        rg = gpd.GeoDataFrame({"block_id": [f"R{i}" for i in range(len(regions))],
                               "community_code": [r["code"] for r in regions]},
                              geometry=gpd.GeoSeries([r["geometry"] for r in regions], crs=prep.metric), crs=prep.metric)
        units = prep.buildings["unit_id"] if "unit_id" in prep.buildings else prep.buildings["building_id"]
        bent, bend_findings = bend_blocks(rg, prep.buildings, units.reset_index(drop=True),
                                          cause="a jurisdiction boundary drawn through it")
        # a region wholly under a building drawn mostly in its neighbour is gone (its row dropped): empty here
        kept = dict(zip(bent.index.to_numpy(), bent.geometry.to_numpy(), strict=True))
        for i, r in enumerate(regions):
            r["geometry"] = polygonal(kept.get(i, shapely.Polygon()))
        regions = [r for r in regions if not shapely.is_empty(r["geometry"])]
    regions.sort(key=lambda r: (r["code"], -r["geometry"].area))
    for i, r in enumerate(regions):
        r["key"] = f"Z{i:05d}"
    # the consensus faces: each community cut by the lines most departments share and the jurisdiction
    # lines; faces within the rules are kept as they are, the others re-divided (as rebalance does)
    faces = consensus_faces(prep.communities, shared_all, jlines)
    office = gpd.GeoDataFrame({"old_code": [f"(face {i + 1})" for i in range(len(faces))], "has_code": False,
                               "was_valid": True}, geometry=gpd.GeoSeries(faces, crs=prep.metric), crs=prep.metric)
    plan, _ = rebalance_prepared(prep, office, scheme=scheme, workers=workers, zones=regions if juris else None,
                                 label="unify", store=False)
    layers = {k: v for k, v in plan.layers.items() if k != "changes"}
    layers["findings"] = concat_findings([layers["findings"], bend_findings], crs=prep.metric)
    plan = Plan(layers, plan.metadata)
    cross, carried = _carry_department_columns(depts, names, crosswalk(depts, names, plan, prep))
    meta = dict(plan.metadata)
    meta["unify"] = {"layers": names, "grids_per_layer": [int(len(d)) for d in depts],
                     "read_per_layer": [_layer_read(d, cm) for d in depts],
                     "grids_after": int(len(plan.layers["grids"])),
                     "shared_boundary_m": round(float(sum(s.length for s in shared_all)), 1),
                     "shared_boundary_off_streets_m": round(float(sum(s.length for s in shared)), 1),
                     "jurisdiction_layers": len(juris), "regions": len(regions), "columns_carried": carried,
                     "seconds": round(time.perf_counter() - t0, 2)}
    out_layers = dict(plan.layers)
    out_layers["crosswalk"] = gpd.GeoDataFrame(cross.drop(columns=["geometry"]),
                                               geometry=gpd.GeoSeries(cross["geometry"].to_numpy(), crs=prep.metric),
                                               crs=prep.metric)
    out_layers["shared_boundaries"] = gpd.GeoDataFrame({"length_m": [round(s.length, 1) for s in shared_all]},
                                                       geometry=gpd.GeoSeries(shared_all, crs=prep.metric), crs=prep.metric)
    return Plan(out_layers, meta).stored(), cross.drop(columns=["geometry"])


def _away_from(lines: np.ndarray, known: Any, tolerance_m: float, piece_m: float = 10.0) -> np.ndarray:
    """The parts of ``lines`` farther than ``tolerance_m`` from ``known`` lines (streets, community
    boundaries), so that a shared line on a street is not drawn twice."""
    if not len(lines):
        return lines
    near = shapely.buffer(known, tolerance_m)
    out = [p for p in shapely.get_parts(shapely.difference(lines, near)) if p.length > tolerance_m]
    return np.array(out, dtype=object)


def consensus_faces(communities: gpd.GeoDataFrame, shared: np.ndarray, jlines: list[Any]) -> np.ndarray:
    """The communities cut by the shared lines and jurisdiction lines (polygons tiling each community)."""
    out = []
    extra = shapely.union_all(np.concatenate([shared, np.array(jlines, dtype=object)])) if (len(shared) or jlines) else None
    for cg in communities.geometry.to_numpy():
        lines = [shapely.boundary(cg)]
        if extra is not None:
            inside = shapely.intersection(extra, cg)
            if not shapely.is_empty(inside):
                lines.append(inside)
        noded = shapely.union_all(np.array(lines, dtype=object))
        faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
        faces = [f for f in faces if f.area > _TOL_M2 and shapely.within(shapely.point_on_surface(f), cg)]
        out.extend(faces if faces else [cg])
    return np.array(out, dtype=object)


def crosswalk(depts: list[gpd.GeoDataFrame], names: list[str], plan: Plan, prep: Any) -> pd.DataFrame:
    """Every departmental grid → the unified grids holding its area and households (with a ``geometry``
    column: the piece of the departmental grid in the unified grid)."""
    from .footprints import assign_to_zones

    crs = prep.metric
    new = plan.layers["grids"].to_crs(crs)
    ng = new.geometry.to_numpy()
    ncode = new["grid_code"].astype(str).to_numpy()
    b = plan.layers["buildings"]
    new_of = dict(zip(b["building_id"].astype(str), b["grid_code"], strict=True))
    nb = np.array([new_of.get(str(x)) for x in prep.buildings["building_id"]], dtype=object)
    hh = prep.buildings["households"].to_numpy().astype(float)
    bgeoms = prep.buildings.geometry.to_numpy()
    rows = []
    for name, d in zip(names, depts, strict=True):
        dg = d.geometry.to_numpy()
        darea = shapely.area(dg)
        z = assign_to_zones(bgeoms, dg).zone
        di, ni = shapely.STRtree(ng).query(dg, predicate="intersects")
        inter = shapely.intersection(dg[di], ng[ni])
        a = shapely.area(inter)
        piece = pd.DataFrame({"d": di, "n": ni, "a": a, "geometry": inter})
        piece = piece[piece["a"] > _TOL_M2]
        hpair = pd.DataFrame({"d": z, "u": nb, "h": hh})
        hpair = hpair[hpair["d"] >= 0]
        hsum = hpair.groupby(["d", "u"], dropna=False)["h"].sum()
        htot = hpair.groupby("d")["h"].sum()
        for i, code in enumerate(d["old_code"]):
            mine = piece[piece["d"] == i]
            units = {ncode[n]: (float(ar), g) for n, ar, g in zip(mine["n"], mine["a"], mine["geometry"], strict=True)}
            hs = hsum.loc[i] if i in htot.index else pd.Series(dtype=float)
            for u in hs.index:
                key = u if isinstance(u, str) else None
                if key not in units:
                    units[key] = (0.0, None)
            total_h = float(htot.get(i, 0.0))
            if not units:  # a grid in no unified grid (outside every community) keeps its row, and its columns
                units[None] = (0.0, None)
            for u in sorted(units, key=lambda v: (v is None, v or "")):
                ar, g = units[u]
                h = float(hs.get(u, 0.0)) if len(hs) else 0.0
                if u is None:
                    h = float(hs[[isinstance(x, float) or x is None for x in hs.index]].sum()) if len(hs) else 0.0
                rows.append({"layer": name, "department_code": code, "unified_code": u, "area_m2": round(ar, 1),
                             "area_share": round(ar / darea[i], 6) if darea[i] > 0 else np.nan,
                             "households": int(round(h)),
                             "households_share": (h / total_h) if total_h > 0 else np.nan, "geometry": g})
    return pd.DataFrame(rows, columns=CROSSWALK_COLUMNS + ["geometry"])


from ._callable import make_callable  # noqa: E402 - the module is made callable once everything in it is defined

make_callable(__name__)
