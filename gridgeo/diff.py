"""What changed between two plans' grids (动态调整): :func:`diff_plans` and :func:`summarize_diff`.

``gridgeo diff OLD NEW`` and :func:`gridgeo.api.diff` call these. The names stay importable from
:mod:`gridgeo.codes` too. Calling this module calls :func:`gridgeo.api.diff` (``gridgeo.diff`` is both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import InputError
from .codes import CodeScheme, _metric_geoms, _overlaps, _scheme, _unique_key
from .crs import metric_crs, require_layers

__all__ = ["DIFF_STATUSES", "community_changes", "diff_plans", "summarize_diff"]

#: statuses of :func:`diff_plans`, in report order
DIFF_STATUSES = ("unchanged", "recounted", "recoded", "reshaped", "split", "merged", "new", "retired")
#: the statuses of a row standing for exactly one old grid
_ONE_OLD = ("unchanged", "recounted", "recoded", "reshaped", "retired")


def _grid_households(grids: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None, codes: np.ndarray) -> np.ndarray:
    if buildings is not None and {"grid_code", "households"} <= set(buildings.columns):
        h = pd.to_numeric(buildings["households"], errors="coerce").fillna(0)
        s = h.groupby(buildings["grid_code"]).sum()
        return s.reindex(codes).fillna(0).to_numpy(float)
    if "households" in grids.columns:
        return pd.to_numeric(grids["households"], errors="coerce").to_numpy(float)
    return np.full(len(codes), np.nan)


def diff_plans(
    old_grids: gpd.GeoDataFrame,
    new_grids: gpd.GeoDataFrame,
    *,
    old_buildings: gpd.GeoDataFrame | None = None,
    new_buildings: gpd.GeoDataFrame | None = None,
    scheme: CodeScheme | Mapping[str, Any] | None = None,
    tolerance_m2: float = 1.0,
    link_share: float = 0.5,
) -> gpd.GeoDataFrame:
    """What changed between two plans' grids, one row per new grid and per retired old code.

    Computed in the metric CRS from the area overlap graph: an old and a new grid are *linked* when
    their intersection is larger than ``tolerance_m2`` and at least ``link_share`` of the smaller of
    the two (so a piece split off, or a grid absorbed, is linked; a sliver from a moved boundary is
    not). Status of a new grid:

    - ``unchanged``: its code was in the old plan, the symmetric difference with that grid is at
      most ``tolerance_m2`` and its households are the same (or unknown on either side);
    - ``recounted``: as unchanged, but its households changed (a building added, demolished or
      recounted inside the same outline);
    - ``recoded``: a new code for an old grid's outline: linked to one old grid only, whose code is not in the new
      plan, the symmetric difference at most ``tolerance_m2`` (``old_codes``: the old code; households before and
      after as for ``unchanged``, which may differ); the old code gets no ``retired`` row;
    - ``reshaped``: its code was in the old plan, geometry changed (``old_codes`` shows any other old
      grid it absorbed);
    - ``merged``: a new code linked to two or more old grids;
    - ``split``: a new code linked to one old grid that is linked to two or more new grids;
    - ``new``: any other new code (``old_codes`` names a one-to-one predecessor, if any).

    Every old code absent from the new plan and not recoded gets a ``retired`` row (old geometry; ``new_codes``: its
    linked successors).

    Parameters
    ----------
    old_grids, new_grids
        Grid layers with ``grid_code`` (unique) and ``community_code`` (else taken from the code).
    old_buildings, new_buildings
        Optional buildings with ``grid_code`` and ``households``: households are then recomputed from
        them; otherwise the grids' ``households`` column is used (missing when neither exists).
    scheme
        The :class:`CodeScheme`, used only to read community codes out of grid codes.
    tolerance_m2
        Area below which a difference is noise.
    link_share
        Share of the smaller grid an overlap must cover to link two grids.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``community_code, status, grid_code, old_codes, new_codes, households_before,
        households_after, area_before_m2, area_after_m2`` and geometry, in ``new_grids``' CRS, sorted
        by community, status (:data:`DIFF_STATUSES` order) and code. ``households_before`` is the old
        grid's (same code or retired) or its linked old grids' total (split, merged, new);
        ``households_after`` is missing for retired rows.

    Examples
    --------
    >>> from shapely import box
    >>> x0, y0 = 534000, 3383000
    >>> old = gpd.GeoDataFrame({"grid_code": ["420103001001001", "420103001001002"], "households": [400, 420]},
    ...     geometry=[box(x0, y0, x0 + 300, y0 + 300), box(x0 + 300, y0, x0 + 600, y0 + 300)], crs=4547)
    >>> new = gpd.GeoDataFrame({"grid_code": ["420103001001001", "420103001001003", "420103001001004"],
    ...     "households": [400, 200, 230]}, geometry=[box(x0, y0, x0 + 300, y0 + 300),
    ...     box(x0 + 300, y0, x0 + 450, y0 + 300), box(x0 + 450, y0, x0 + 600, y0 + 300)], crs=4547)
    >>> d = diff_plans(old, new)
    >>> cols = ["status", "grid_code", "old_codes", "new_codes", "households_before", "households_after"]
    >>> d[cols].values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['unchanged', '420103001001001', '420103001001001', '', 400, 400],
     ['split', '420103001001003', '420103001001002', '', 420, 200],
     ['split', '420103001001004', '420103001001002', '', 420, 230],
     ['retired', '420103001001002', '', '420103001001003,420103001001004', 420, <NA>]]
    """
    fn = "diff_plans"
    scheme = _scheme(scheme)
    require_layers(fn, {"old_grids": old_grids, "new_grids": new_grids}, series=True)
    for name, g in (("old_grids", old_grids), ("new_grids", new_grids)):
        if "grid_code" not in g.columns:
            msg = f"{fn}: {name} has no 'grid_code' column; give the grids layer of a coded plan"
            raise InputError(msg)
        _unique_key(g["grid_code"].to_numpy(dtype=object), fn, f"{name}['grid_code']")
    nonempty = [g for g in (new_grids, old_grids) if len(g) and not g.geometry.is_empty.all()]
    crs = metric_crs(nonempty[0]) if nonempty else new_grids.crs
    oc = old_grids["grid_code"].to_numpy(dtype=object)
    nc = new_grids["grid_code"].to_numpy(dtype=object)
    og, ng = _metric_geoms(old_grids, crs), _metric_geoms(new_grids, crs)
    oa, na = shapely.area(og), shapely.area(ng)

    def comm(g: gpd.GeoDataFrame, codes: np.ndarray) -> np.ndarray:
        if "community_code" in g.columns:
            return g["community_code"].to_numpy(dtype=object)
        return np.array([scheme.community_of(c) for c in codes], dtype=object)

    ocomm, ncomm = comm(old_grids, oc), comm(new_grids, nc)
    oh = _grid_households(old_grids, old_buildings, oc)
    nh = _grid_households(new_grids, new_buildings, nc)

    ni, oi, inter = _overlaps(ng, og)
    linked = (inter > tolerance_m2) & (inter >= link_share * np.minimum(na[ni], oa[oi]))
    sources: dict[int, list[int]] = {}
    succ: dict[int, list[int]] = {}
    for n, o in zip(ni[linked], oi[linked], strict=True):
        sources.setdefault(int(n), []).append(int(o))
        succ.setdefault(int(o), []).append(int(n))
    opos = {c: i for i, c in enumerate(oc)}
    same_n = np.array([i for i, c in enumerate(nc) if c in opos], dtype=int)
    same_o = np.array([opos[nc[i]] for i in same_n], dtype=int)
    new_set = set(nc)
    # a new code linked one to one with an old grid whose code is gone: recoded when the outline is the same
    one_n = np.array([i for i, c in enumerate(nc) if c not in opos and len(sources.get(i, [])) == 1
                      and len(succ[sources[i][0]]) == 1 and oc[sources[i][0]] not in new_set], dtype=int)
    one_o = np.array([sources[i][0] for i in one_n], dtype=int)
    pair_n, pair_o = np.concatenate([same_n, one_n]), np.concatenate([same_o, one_o])
    symdiff = np.zeros(len(nc))
    if len(pair_n):
        symdiff[pair_n] = shapely.area(shapely.symmetric_difference(ng[pair_n], og[pair_o]))
    recoded = {int(i): int(o) for i, o in zip(one_n, one_o, strict=True) if symdiff[i] <= tolerance_m2}

    def join(codes: Iterable[str]) -> str:
        return ",".join(sorted(codes))

    rows = []
    for i, code in enumerate(nc):
        src = sources.get(i, [])
        if code in opos:
            o = opos[code]
            before, area_before = oh[o], oa[o]
            if symdiff[i] > tolerance_m2:
                status = "reshaped"
            elif not (np.isnan(before) or np.isnan(nh[i])) and round(float(before)) != round(float(nh[i])):
                status = "recounted"
            else:
                status = "unchanged"
            olds = sorted(set(src) | {o})
        elif i in recoded:
            status, olds = "recoded", [recoded[i]]
            before, area_before = oh[recoded[i]], oa[recoded[i]]
        else:
            olds = sorted(src)
            if len(src) >= 2:
                status = "merged"
            elif len(src) == 1 and len(succ.get(src[0], [])) >= 2:
                status = "split"
            else:
                status = "new"
            before = np.nansum(oh[olds]) if olds and not np.isnan(oh[olds]).all() else np.nan
            area_before = float(oa[olds].sum()) if olds else np.nan
        rows.append({
            "community_code": ncomm[i], "status": status, "grid_code": code, "old_codes": join(oc[olds]),
            "new_codes": "", "households_before": before, "households_after": nh[i],
            "area_before_m2": area_before, "area_after_m2": float(na[i]), "geometry": ng[i],
        })
    recoded_old = set(recoded.values())
    for o, code in enumerate(oc):
        if code in new_set or o in recoded_old:
            continue
        rows.append({
            "community_code": ocomm[o], "status": "retired", "grid_code": code, "old_codes": "",
            "new_codes": join(nc[succ.get(o, [])]), "households_before": oh[o], "households_after": np.nan,
            "area_before_m2": float(oa[o]), "area_after_m2": np.nan, "geometry": og[o],
        })
    cols = ["community_code", "status", "grid_code", "old_codes", "new_codes", "households_before",
            "households_after", "area_before_m2", "area_after_m2"]
    df = pd.DataFrame(rows, columns=[*cols, "geometry"])
    for c in ("households_before", "households_after"):
        df[c] = pd.array(np.round(pd.to_numeric(df[c], errors="coerce")), dtype="Int64")
    for c in ("area_before_m2", "area_after_m2"):
        df[c] = df[c].astype(float)
    df["_s"] = df["status"].map({s: i for i, s in enumerate(DIFF_STATUSES)})
    df = df.sort_values(["community_code", "_s", "grid_code"], kind="mergesort").drop(columns="_s").reset_index(drop=True)
    out = gpd.GeoDataFrame(df[cols], geometry=gpd.GeoSeries(df["geometry"].tolist(), crs=crs), crs=crs)
    target = new_grids.crs if len(new_grids) else old_grids.crs
    return out.to_crs(target) if out.crs != target else out


def summarize_diff(diff: pd.DataFrame) -> pd.DataFrame:
    """Per community: rows of each status, grids and households before and after.

    ``grids_before`` = unchanged + recounted + recoded + reshaped + retired, ``grids_after`` = all rows but
    retired;
    households likewise from the rows that stand for exactly one old or one new grid.

    >>> d = pd.DataFrame({"community_code": ["420103001001"] * 3, "status": ["recounted", "new", "retired"],
    ...     "households_before": [400, pd.NA, 300], "households_after": [410, 290, pd.NA]})
    >>> summarize_diff(d).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'community_code': '420103001001', 'unchanged': 0, 'recounted': 1, 'recoded': 0, 'reshaped': 0, 'split': 0, 'merged': 0,
     'new': 1, 'retired': 1, 'grids_before': 2, 'grids_after': 2, 'households_before': 700,
     'households_after': 700}
    """
    cols = ["community_code", *DIFF_STATUSES, "grids_before", "grids_after", "households_before", "households_after"]
    if len(diff) == 0:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "community_code" else "int64") for c in cols})
    counts = pd.crosstab(diff["community_code"], diff["status"]).reindex(columns=list(DIFF_STATUSES), fill_value=0)
    old_rows = diff["status"].isin(_ONE_OLD)
    new_rows = diff["status"] != "retired"
    hb = pd.to_numeric(diff["households_before"].where(old_rows), errors="coerce").groupby(diff["community_code"]).sum()
    ha = pd.to_numeric(diff["households_after"].where(new_rows), errors="coerce").groupby(diff["community_code"]).sum()
    out = counts.copy()
    out["grids_before"] = counts[list(_ONE_OLD)].sum(axis=1)
    out["grids_after"] = counts[[s for s in DIFF_STATUSES if s != "retired"]].sum(axis=1)
    out["households_before"] = hb.reindex(out.index).fillna(0).round().astype("int64")
    out["households_after"] = ha.reindex(out.index).fillna(0).round().astype("int64")
    out = out.reset_index()
    out.columns.name = None
    return out[cols].astype({c: "int64" for c in cols[1:]})


def _named(code: str, names: Mapping[str, Any]) -> str:
    name = names.get(code)
    return f"{name} ({code})" if isinstance(name, str) and name.strip() else code


def community_changes(previous_communities: gpd.GeoDataFrame, communities: gpd.GeoDataFrame,
                      previous_grids: gpd.GeoDataFrame | None = None) -> list[dict[str, Any]]:
    """Findings for the communities of a previous plan no longer in the layer and those new in it (两社区合并,
    a community split or recoded): ``previous_community_gone`` and ``community_new_since_previous`` (info).

    A grid code begins with its community's code, so the grids of a community gone have their codes retired and a
    new community's grids are numbered afresh: each finding says so and names the communities its land lay in or
    lies in now, with the share of its area. Both layers in one metric CRS; returns records for
    :func:`gridgeo._findings.make_findings` (a point inside the community as the place).

    >>> from shapely import box
    >>> old = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"], "name": ["东社区", "西社区"]},
    ...                        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=3857)
    >>> new = gpd.GeoDataFrame({"code": ["420103001003"], "name": ["东西社区"]}, geometry=[box(0, 0, 2, 1)], crs=3857)
    >>> [r["type"] for r in community_changes(old, new)]
    ['previous_community_gone', 'previous_community_gone', 'community_new_since_previous']
    """
    old_codes = previous_communities["code"].astype(str).to_numpy()
    new_codes = communities["code"].astype(str).to_numpy()
    names = {**dict(zip(old_codes, previous_communities.get("name", pd.Series(None, index=previous_communities.index)))),
             **dict(zip(new_codes, communities.get("name", pd.Series(None, index=communities.index))))}
    set_old, set_new = set(old_codes), set(new_codes)
    old_geoms, new_geoms = previous_communities.geometry.to_numpy(), communities.geometry.to_numpy()
    grids = (previous_grids["community_code"].astype(str).value_counts()
             if previous_grids is not None and "community_code" in previous_grids else pd.Series(dtype=int))

    def shares(geom: Any, codes: np.ndarray, geoms: np.ndarray) -> str:
        area = shapely.area(shapely.intersection(geom, geoms)) / max(shapely.area(geom), 1e-9)
        held = [f"{_named(c, names)} {a:.0%}" for c, a in sorted(zip(codes, area, strict=True), key=lambda t: -t[1])
                if a >= 0.01]
        return ", ".join(held)

    records = []
    for code, geom in zip(old_codes, old_geoms, strict=True):
        if code in set_new:
            continue
        now = shares(geom, new_codes, new_geoms)
        records.append({"type": "previous_community_gone", "severity": "info", "layer": "communities",
                        "community_code": code, "feature_id": code, "measure": float(grids.get(code, 0)),
                        "message": (f"{_named(code, names)} of the previous plan is not in the communities layer: "
                                    f"the codes of its {int(grids.get(code, 0))} grids are retired, never reused; "
                                    + (f"its land lies now in {now}, divided there" if now else
                                       "its land lies in no community now")),
                        "geometry": shapely.point_on_surface(geom)})
    for code, geom in zip(new_codes, new_geoms, strict=True):
        if code in set_old:
            continue
        then = shares(geom, old_codes, old_geoms)
        records.append({"type": "community_new_since_previous", "severity": "info", "layer": "communities",
                        "community_code": code, "feature_id": code, "measure": None,
                        "message": (f"{_named(code, names)} is not in the previous plan: its grids are coded afresh "
                                    "under its own code"
                                    + (f"; its land was in {then} (no grid code carried from another community)"
                                       if then else "")),
                        "geometry": shapely.point_on_surface(geom)})
    return records


from ._callable import make_callable  # noqa: E402 - the module is made callable once everything in it is defined

make_callable(__name__)
