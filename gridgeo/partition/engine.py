"""The partition engine's public entry point: :func:`partition` over every community.

Checks the inputs once (metric CRS, columns, values), cuts them into one *job* per community (its
blocks, buildings, nearby streets and villager groups, as plain arrays), runs the jobs
(:func:`~.community.partition_community`; in parallel processes with ``workers > 1``, the result is
the same) and assembles the layers. Everything stays in the input CRS, which must be metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._errors import InputError
from .._findings import make_findings
from .._geometry import polygonal
from .._text import counted
from ..crs import require_layers
from ..parallel import Checkpoint, Failed, run_jobs
from ..rules import Rules, load_rules, rules_for_kind
from . import _fast
from .community import partition_community
from .rural import group_villages

__all__ = ["PartitionResult", "partition", "GRID_COLUMNS", "SUBGRID_COLUMNS"]

GRID_COLUMNS = ["grid_id", "community_code", "kind", "households", "buildings", "area_m2", "flags"]
SUBGRID_COLUMNS = ["subgrid_id", "grid_id", "community_code", "households", "buildings", "area_m2", "flags"]
KINDS = ("urban", "rural", "township")
_FUNC = "partition"


@dataclass
class PartitionResult:
    """Base grids, small grids, buildings with their grid, and findings (all in the input CRS)."""

    grids: gpd.GeoDataFrame
    subgrids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    findings: gpd.GeoDataFrame
    #: per community, measured in its job: internal boundary and street-aligned length (m) of each grid and
    #: small grid (:func:`~.metrics.street_alignment`), by id: ``{"grids": DataFrame, "subgrids": DataFrame}``
    #: indexed by ``grid_id`` / ``subgrid_id`` with columns ``internal_m``, ``aligned_m``; None without streets
    street_alignment: dict[str, pd.DataFrame] | None = None
    #: per building (a re-division only, :func:`gridgeo.adjust.adjust`): left in no grid on land the previous plan
    #: gave its dedicated grids (专属网格), for :func:`gridgeo.dedicated.merge_result` to place by the land it lies on
    given_back: np.ndarray | None = None
    #: land for the dedicated grids: pieces with ``community_code``, each for the dedicated grid beside it (a
    #: re-division's land given back to them; the lanes from a site to the community's edge that a grid wrapped
    #: round the site gave up, :func:`~.enclosures.cut_site_lanes`)
    given_back_land: gpd.GeoDataFrame | None = None


def partition(
    communities: gpd.GeoDataFrame,
    blocks: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    rules: Rules | str | None = None,
    villager_groups: gpd.GeoDataFrame | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    scheduler: Any = None,
    checkpoint: Checkpoint | None = None,
    neighbours: gpd.GeoDataFrame | None = None,
    outlines: dict[str, Any] | None = None,
    open_to: dict[str, Any] | None = None,
    dedicated: dict[str, Any] | None = None,
) -> PartitionResult:
    """Divide every community into base grids and small grids.

    Parameters
    ----------
    communities
        ``code``, ``name``, ``kind`` (``urban``/``rural``/``township``), polygons; metric CRS.
    blocks
        ``block_id``, ``community_code``, polygons tiling each community (street-bounded blocks).
    buildings
        ``building_id``, ``households``, ``community_code`` (None outside every community),
        ``block_id``, footprints or points.
    streets
        ``highway`` and lines: edges along ``rules.arterial_classes`` are expensive to cross. Without
        streets, block boundaries count as minor streets.
    rules
        Bounds and weights (:class:`~gridgeo.rules.Rules`, a profile name or a TOML path); rural
        communities use :func:`~gridgeo.rules.rules_for_kind`.
    villager_groups
        Rural villager groups (村民小组): polygons (``community_code`` optional). In a rural community
        each group is a grid by default; a group over ``grid_max`` households is divided.
    workers
        Processes for the communities (1: in this process).
    progress
        Called as ``progress(done, total)`` each time a community is finished.
    scheduler
        A Dask distributed scheduler address or ``distributed.Client``: the communities run on its
        workers instead (:func:`gridgeo.parallel.run_jobs`); the plan is the same.
    checkpoint
        A :class:`gridgeo.parallel.Checkpoint`: finished communities are kept there and taken from there
        by a later run with the same inputs (``--resume``).
    neighbours
        Buildings placed by no community here (``building_id``, ``community_code``, footprints; ``unit_id``
        when known) whose footprints may reach into these: of communities not divided here, carved into
        dedicated grids, or of a community re-divided in parts that another part places. Their pieces here
        (in any community, their own included) are kept whole in one grid, as the pieces of ``buildings``
        that reach into another community are; they are not placed in any grid.
    outlines
        Community code → the community's whole outline (metric CRS) where ``communities`` holds it less
        its dedicated grids (专属网格, carved out first): a grid wrapped around a dedicated grid is then
        reported (``grid_encloses_grid``), as the quality figures count it; the division is the same.
    open_to
        Community code → land of its outline held by grids not divided here (a re-division's kept grids, with
        the community divided here): a grid wrapped round such land gets a lane between the buildings to its
        neighbour (:func:`~.enclosures.cut_grid_lanes`). Land of dedicated grids is left out of it.
    dedicated
        Community code → the polygons of its dedicated grids (专属网格) within its outline (metric CRS): a lane from
        one through the grid round it to a neighbouring grid goes to it where it keeps its shape
        (:func:`~.enclosures.site_keeps_shape`); without them, each part of the outline less the community is one.

    A community whose computation raises gets no grids and a ``community_failed`` finding (an error,
    with the exception); the other communities are divided as usual.

    Returns
    -------
    PartitionResult
        ``grids`` (``grid_id`` = ``<community code>-G<seq>``, ``community_code``, ``kind`` = base,
        ``households``, ``buildings``, ``area_m2``, ``flags``), ``subgrids`` (``subgrid_id`` =
        ``<grid_id>-<seq>``, ``grid_id``, ...), ``buildings`` (input plus ``grid_id`` and
        ``subgrid_id``; None outside every community) and ``findings``.

    Examples
    --------
    Two blocks of 350 and 300 households, one building each: one grid per block.

    >>> from shapely import box, Point
    >>> crs = "EPSG:4547"
    >>> c = gpd.GeoDataFrame({"code": ["420103001001"], "name": ["x"], "kind": ["urban"]},
    ...                      geometry=[box(0, 0, 200, 100)], crs=crs)
    >>> k = gpd.GeoDataFrame({"block_id": ["420103001001-B0001", "420103001001-B0002"],
    ...                       "community_code": ["420103001001"] * 2},
    ...                      geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=crs)
    >>> b = gpd.GeoDataFrame({"building_id": ["a", "b"], "households": [350, 300],
    ...                       "community_code": ["420103001001"] * 2,
    ...                       "block_id": ["420103001001-B0001", "420103001001-B0002"]},
    ...                      geometry=[Point(50, 50), Point(150, 50)], crs=crs)
    >>> r = partition(c, k, b)
    >>> r.grids[["grid_id", "households", "area_m2"]].values.tolist()
    [['420103001001-G001', 350, 10000.0], ['420103001001-G002', 300, 10000.0]]
    >>> r.buildings["grid_id"].tolist()
    ['420103001001-G001', '420103001001-G002']
    """
    rules = load_rules(rules)
    crs = _check_inputs(communities, blocks, buildings, streets, villager_groups, workers)
    jobs = _jobs(communities, blocks, buildings, streets, villager_groups, rules, neighbours)
    for job in jobs:
        if outlines and outlines.get(job["code"]) is not None:
            job["outline"] = outlines[job["code"]]
        if open_to and open_to.get(job["code"]) is not None:
            job["open_to"] = open_to[job["code"]]
        if dedicated and dedicated.get(job["code"]) is not None:
            job["dedicated"] = np.asarray(dedicated[job["code"]], dtype=object)
    if scheduler is None and workers > 1 and _fast.AVAILABLE:
        # compiled (or loaded from numba's cache) once here: the forked workers inherit the kernels instead of
        # each compiling them on the first run after installation
        _fast.warm_up()
    # largest communities first, so that no worker is left with a big one at the end
    order = sorted(range(len(jobs)), key=lambda i: (-len(jobs[i]["bld_pos"]), i))
    results = run_jobs(_community_job, jobs, keys=[j["code"] for j in jobs], workers=workers,
                       scheduler=scheduler, progress=progress, checkpoint=checkpoint, order=order)
    results = [_failed_result(job, res) if isinstance(res, Failed) else res for job, res in zip(jobs, results)]
    return _assemble(results, buildings, communities, crs)


# ------------------------------------------------------------------------------------------ checks


def _check_inputs(communities, blocks, buildings, streets, villager_groups, workers) -> Any:
    layers = {"communities": communities, "blocks": blocks, "buildings": buildings}
    if streets is not None:
        layers["streets"] = streets
    if villager_groups is not None:
        layers["villager_groups"] = villager_groups
    require_layers(_FUNC, layers, required=layers)
    require_layers(_FUNC, {"communities": communities}, metric=True)
    crs = communities.crs
    for name, gdf in layers.items():
        if gdf.crs != crs:
            found = None if gdf.crs is None else gdf.crs.to_string()
            msg = (f"{_FUNC}: {name} CRS {found!r} differs from the communities' {crs.to_string()!r}; "
                   f"reproject with {name}.to_crs(communities.crs)")
            raise InputError(msg)
    required = {
        "communities": ["code"],
        "blocks": ["block_id", "community_code"],
        "buildings": ["building_id", "households", "community_code", "block_id"],
    }
    problems = []
    for name, cols in required.items():
        missing = [c for c in cols if c not in layers[name].columns]
        if missing:
            problems.append(f"{name} lacks column(s) {missing}")
    if problems:
        msg = f"{_FUNC}: " + "; ".join(problems) + "; build blocks with gridgeo.blocks.build_blocks and assign buildings with assign_buildings"
        raise InputError(msg)
    if "kind" in communities.columns:
        bad = sorted(set(communities["kind"].dropna().astype(str)) - set(KINDS))
        if bad:
            msg = f"{_FUNC}: communities kind {bad[0]!r} is not one of {list(KINDS)}; fix the kind column"
            raise InputError(msg)
    if communities["code"].duplicated().any():
        dup = communities["code"][communities["code"].duplicated()].iloc[0]
        msg = f"{_FUNC}: community code {dup!r} appears more than once; codes must be unique"
        raise InputError(msg)
    if buildings["building_id"].duplicated().any():
        dup = buildings["building_id"][buildings["building_id"].duplicated()].iloc[0]
        msg = f"{_FUNC}: building_id {dup!r} appears more than once; building ids must be unique"
        raise InputError(msg)
    hh = pd.to_numeric(buildings["households"], errors="coerce")
    if hh.isna().any() or (hh < 0).any():
        bad = buildings["households"][hh.isna() | (hh < 0)].iloc[0]
        msg = f"{_FUNC}: buildings households must be integers >= 0, found {bad!r}; run gridgeo.households.assign_households first"
        raise InputError(msg)
    if not isinstance(workers, int) or workers < 1:
        msg = f"{_FUNC}: workers must be an integer >= 1, got {workers!r}"
        raise InputError(msg)
    return crs


# ------------------------------------------------------------------------------------------ jobs


def _jobs(communities, blocks, buildings, streets, villager_groups, rules: Rules, neighbours=None):
    comm = communities.sort_values("code", kind="stable")
    codes = comm["code"].astype(str).to_numpy()
    cgeoms = comm.geometry.to_numpy()
    kinds = comm["kind"].fillna("urban").astype(str).to_numpy() if "kind" in comm.columns else np.full(len(comm), "urban")

    blk = blocks.assign(_code=blocks["community_code"].astype(object).where(blocks["community_code"].notna(), None))
    blk = blk.sort_values("block_id", kind="stable")
    blk_groups = {c: g for c, g in blk.groupby("_code", sort=False)}

    bld_code = buildings["community_code"].astype(object).where(buildings["community_code"].notna(), None)
    bld = pd.DataFrame({
        "pos": np.arange(len(buildings)),
        "building_id": buildings["building_id"].astype(str).to_numpy(),
        "code": bld_code.to_numpy(),
        "block_id": buildings["block_id"].astype(object).where(buildings["block_id"].notna(), None).to_numpy(),
        "households": pd.to_numeric(buildings["households"]).round().astype(np.int64).to_numpy(),
        # footprint units (overlapping footprints, gridgeo.footprints): never divided between grids
        "unit": _units(buildings, rules),
    })
    bld = bld.sort_values("building_id", kind="stable")
    bgeoms = buildings.geometry.to_numpy()
    bld_groups = {c: g for c, g in bld.groupby("code", sort=False)}

    street_geoms = street_art = None
    street_tree = None
    if streets is not None and len(streets):
        sg = streets.geometry.to_numpy()
        ok = ~(shapely.is_empty(sg) | shapely.is_missing(sg))
        street_geoms = sg[ok]
        hw = streets["highway"].astype(object).to_numpy()[ok] if "highway" in streets.columns else np.full(ok.sum(), None)
        street_art = np.array([_is_arterial(v, rules.arterial_classes) for v in hw], dtype=bool)
        street_tree = shapely.STRtree(street_geoms)
    vg_geoms = vg_codes = None
    vg_tree = None
    if villager_groups is not None and len(villager_groups):
        vg = villager_groups[~(villager_groups.geometry.is_empty | villager_groups.geometry.isna())]
        vg_geoms = vg.geometry.to_numpy()
        vg_codes = group_villages(vg)
        vg_names = vg["name"].astype(object).to_numpy() if "name" in vg.columns else np.full(len(vg), None)
        vg_tree = shapely.STRtree(vg_geoms)

    pos = bld["pos"].to_numpy()  # in building-id order
    others = [(bld["building_id"].to_numpy(), bld["code"].to_numpy(), bgeoms[pos], bld["unit"].to_numpy())]
    if neighbours is not None and len(neighbours):
        nb = neighbours.sort_values("building_id", kind="stable")
        # placed by no community here: their pieces are foreign in every one of them, their own included (a
        # building of this community that another region of its re-division places)
        others.append((nb["building_id"].astype(str).to_numpy(),
                       np.where(nb["community_code"].notna().to_numpy(), _ELSEWHERE, None).astype(object),
                       nb.geometry.to_numpy(), _units(nb, rules)))
    foreign = _foreign_pieces(codes, cgeoms, *(np.concatenate(a) for a in zip(*others)))

    jobs = []
    for code, geom, kind in zip(codes, cgeoms, kinds):
        r = rules_for_kind(rules, kind)
        kb = blk_groups.get(code)
        kb_ids = kb["block_id"].astype(str).to_numpy() if kb is not None else np.zeros(0, dtype=object)
        kb_geoms = kb.geometry.to_numpy() if kb is not None else np.zeros(0, dtype=object)
        bb = bld_groups.get(code)
        if bb is None:
            bb = bld.iloc[0:0]
        job: dict[str, Any] = {
            "code": code,
            "kind": kind,
            "geometry": geom,
            "rules": r,
            "block_ids": kb_ids,
            "block_geoms": kb_geoms,
            "bld_pos": bb["pos"].to_numpy(),
            "bld_ids": bb["building_id"].to_numpy(),
            "bld_block": bb["block_id"].to_numpy(),
            "bld_geoms": bgeoms[bb["pos"].to_numpy()],
            "bld_households": bb["households"].to_numpy(),
            "bld_unit": bb["unit"].to_numpy(),
            "foreign": foreign.get(code),
            "streets": None,
            "arterial": None,
            "groups": None,
        }
        if street_tree is not None:
            hit = street_tree.query(geom, predicate="dwithin", distance=max(r.street_snap_m, 0.0) + 1.0)
            hit = np.sort(hit)
            job["streets"] = street_geoms[hit]
            job["arterial"] = street_art[hit]
        if vg_tree is not None and kind == "rural":
            hit = np.sort(vg_tree.query(geom, predicate="intersects"))
            mine = [i for i in hit if vg_codes[i] is None or vg_codes[i] == str(code)]
            if mine:
                job["groups"] = (vg_geoms[mine], vg_names[mine])
        jobs.append(job)
    return jobs


#: the community of a neighbour building (:func:`partition`'s ``neighbours``): none of the communities divided here
_ELSEWHERE = "\x00elsewhere"


def _foreign_pieces(codes: np.ndarray, cgeoms: np.ndarray, ids: np.ndarray, own: np.ndarray, geoms: np.ndarray,
                    units: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per community, the pieces of the footprints of *other* communities' buildings that lie in it: a
    building the community boundary cuts counts in the community holding most of it, and its piece
    here is kept whole in one grid all the same (楼栋完整: cut only by the community boundary, finding
    ``building_across_communities``), with no households. Pieces under
    :data:`~gridgeo.footprints.BUILDING_SHARE_MIN` of the footprint are left out, as validation leaves
    them out. ``ids``, ``own`` (community code, None outside every one), ``geoms`` and ``units`` describe
    the buildings, in building-id order. Returns ``{code: (building ids, piece geometries, unit ids)}``."""
    from ..footprints import pieces_elsewhere

    out: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    bi, ci, piece = pieces_elsewhere(cgeoms, codes, geoms, own)
    if not len(bi):
        return out
    odd = np.flatnonzero(~np.isin(shapely.get_type_id(piece), (3, 6)))
    if len(odd):  # lines and points where the outlines touch dropped, the polygons united
        piece[odd] = [shapely.union_all(shapely.get_parts(p)) for p in polygonal(piece[odd])]
    order = np.lexsort((bi, ci))  # per community, in building-id order
    bi, ci, piece = bi[order], ci[order], piece[order]
    starts = np.flatnonzero(np.r_[True, ci[1:] != ci[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], len(ci)]):
        out[str(codes[ci[a]])] = (ids[bi[a:b]], piece[a:b], units[bi[a:b]])
    return out


def _units(buildings: gpd.GeoDataFrame, rules: Rules) -> np.ndarray:
    """Footprint unit of each building: the ``unit_id`` column, else found here (overlapping footprints)."""
    if "unit_id" in buildings.columns:
        return buildings["unit_id"].astype(str).to_numpy()
    from ..footprints import footprint_units

    return footprint_units(buildings, rules=rules)[0].astype(str).to_numpy()


def _is_arterial(value: Any, classes: tuple[str, ...]) -> bool:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return False
    text = str(value)
    # OSM may list several classes ("['primary', 'secondary']"); link roads are not arterials
    return any(c == text or f"'{c}'" in text for c in classes)


# ------------------------------------------------------------------------------------------ per community


def _community_job(job: dict[str, Any]) -> dict[str, Any]:
    """One community's job, run in a worker: its partition, and the quality figure that needs only its own
    grids and streets, measured there rather than over the whole city in the main process: the internal
    boundary and street-aligned length of each grid (in its community) and small grid (in its grid), by
    :func:`~.metrics.street_alignment`, the one implementation the quality report uses."""
    res = partition_community(job)
    if job["streets"] is None or not res["grids"]:
        return res
    try:
        _measure_alignment(job, res)
    except Exception:  # noqa: BLE001 - the partition stands; the main process measures this community again
        res.pop("grid_street", None)
        res.pop("sub_street", None)
    return res


def _measure_alignment(job: dict[str, Any], res: dict[str, Any]) -> None:
    """The street-alignment figures of one community's grids and small grids, into ``res`` (a community
    without streets near it: nothing aligned, its internal boundary still measured)."""
    from .metrics import street_alignment

    tree = shapely.STRtree(np.asarray(job["streets"], dtype=object))
    snap = job["rules"].street_snap_m
    ggeom = np.array([g["geometry"] for g in res["grids"]], dtype=object)
    internal, aligned = street_alignment(ggeom, np.zeros(len(ggeom), dtype=np.int64), np.array([job["geometry"]], dtype=object),
                                         tree, snap)
    res["grid_street"] = (internal, aligned)
    if res["subgrids"]:
        pos = {g["grid_id"]: i for i, g in enumerate(res["grids"])}
        sgeom = np.array([s["geometry"] for s in res["subgrids"]], dtype=object)
        parent = np.array([pos.get(s["grid_id"], -1) for s in res["subgrids"]], dtype=np.int64)
        res["sub_street"] = street_alignment(sgeom, parent, ggeom, tree, snap)


# ------------------------------------------------------------------------------------------ assemble


def _failed_result(job: dict[str, Any], failed: Failed) -> dict[str, Any]:
    """A community whose computation raised: no grids, its buildings in none, one error finding."""
    n = len(job["bld_pos"])
    finding = {
        "type": "community_failed", "severity": "error", "layer": "communities", "community_code": job["code"],
        "feature_id": job["code"], "measure": float(n),
        "message": (f"community {job['code']}: dividing it failed ({failed.error}); it has no grids in this plan "
                    "(the other communities were divided). Check its inputs, or report this with the inputs "
                    "to the gridgeo developers"),
        "geometry": job["geometry"],
    }
    return {"grids": [], "subgrids": [], "bld_pos": job["bld_pos"], "bld_grid": np.full(n, None, dtype=object),
            "bld_sub": np.full(n, None, dtype=object), "findings": [finding]}


def _assemble(results: list[dict[str, Any]], buildings: gpd.GeoDataFrame, communities: gpd.GeoDataFrame,
              crs: Any) -> PartitionResult:
    grid_rows = [r for res in results for r in res["grids"]]
    sub_rows = [r for res in results for r in res["subgrids"]]
    # villages divided along their villager groups: each grid names its group (村民小组)
    grouped = any("villager_group" in r for r in grid_rows)
    grids = _frame(grid_rows, GRID_COLUMNS + (["villager_group"] if grouped else []), crs)
    subgrids = _frame(sub_rows, SUBGRID_COLUMNS, crs)
    bgrid = np.full(len(buildings), None, dtype=object)
    bsub = np.full(len(buildings), None, dtype=object)
    for res in results:
        bgrid[res["bld_pos"]] = res["bld_grid"]
        bsub[res["bld_pos"]] = res["bld_sub"]
    out = buildings.copy()
    out["grid_id"] = pd.Series(bgrid, index=out.index, dtype=object)
    out["subgrid_id"] = pd.Series(bsub, index=out.index, dtype=object)
    records = [f for res in results for f in res["findings"]]
    # buildings given a community that is not in the communities layer: in no grid, reported
    known = set(communities["code"].astype(str))
    codes = buildings["community_code"]
    stray = codes.notna() & ~codes.astype(str).isin(known)
    for code, n in codes[stray].astype(str).value_counts().sort_index().items():
        records.append({"type": "building_unknown_community", "severity": "warning", "layer": "buildings",
                        "community_code": code, "feature_id": None, "measure": float(n),
                        "message": f"{counted(n, 'building')} {'names' if n == 1 else 'name'} community {code!r}, which is not in the communities layer: "
                                   "in no grid; fix their community_code or add the community",
                        "geometry": None})
    findings = make_findings(records, crs=crs)
    # lanes from dedicated grids' sites (专属网格) to the community's edge, which those grids take
    lanes = [x for res in results for x in res.get("site_lanes", [])]
    site_lanes = gpd.GeoDataFrame({"community_code": [c for c, _ in lanes]}, geometry=[x for _, x in lanes],
                                  crs=crs) if lanes else None
    return PartitionResult(grids=grids, subgrids=subgrids, buildings=out, findings=findings,
                           street_alignment=_street_alignment(results), given_back_land=site_lanes)


def _street_alignment(results: list[dict[str, Any]]) -> dict[str, pd.DataFrame] | None:
    """The per-community street-alignment figures of the jobs, by grid and small-grid id (None when some
    community has none: without streets, failed, or taken from a checkpoint of another version)."""
    out = {}
    for layer, key, id_col in (("grids", "grid_street", "grid_id"), ("subgrids", "sub_street", "subgrid_id")):
        ids, internal, aligned = [], [], []
        for res in results:
            if not res[layer]:
                continue
            if key not in res:
                return None
            ids += [r[id_col] for r in res[layer]]
            internal.append(res[key][0])
            aligned.append(res[key][1])
        out[layer] = pd.DataFrame({"internal_m": np.concatenate(internal) if internal else np.zeros(0),
                                   "aligned_m": np.concatenate(aligned) if aligned else np.zeros(0)},
                                  index=pd.Index(ids, dtype=object))
    return out


def _frame(rows: list[dict[str, Any]], columns: list[str], crs: Any) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=[*columns, "geometry"])
    for c in ("households", "buildings"):
        df[c] = df[c].astype(np.int64)
    df["area_m2"] = df["area_m2"].astype(float).round(3)
    return gpd.GeoDataFrame(df[columns], geometry=gpd.GeoSeries(df["geometry"].tolist(), crs=crs), crs=crs)
