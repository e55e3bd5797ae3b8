"""The pipeline (DESIGN §2): inputs → normalise → blocks → (partition → codes → validate) → plan.

:func:`prepare` reads and normalises the inputs and builds blocks; :func:`build_plan` runs a stage
(``blocks`` or ``partition``) and returns a :class:`~gridgeo.plan.Plan`. Everything is computed in
the metric CRS and stored in EPSG:4490 by :meth:`Plan.write`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import __version__
from ._errors import GridgeoError, InputError
from ._findings import concat_findings, make_findings
from ._text import counted
from .blocks import assign_buildings, block_totals, build_blocks
from .codes import CodeScheme, assign_codes, check_previous, code_metadata, conflicting_scheme
from .crs import metric_crs, to_metric
from .footprints import bend_blocks, footprint_units, pinched_across_blocks, split_multipart
from .households import assign_households
from .io import Inputs, LayerSource, check_community_overlaps, read_inputs
from .plan import Plan
from .rules import Rules, load_rules, rules_for_kind

__all__ = ["Prepared", "PartitionInputs", "prepare", "partition_inputs", "build_plan", "self_check"]


@dataclass
class Prepared:
    """Inputs in the metric CRS with households, blocks and building-to-block assignment."""

    communities: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame | None
    buildings: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    villager_groups: gpd.GeoDataFrame | None
    enterprises: gpd.GeoDataFrame | None
    findings: gpd.GeoDataFrame
    metric: Any
    rules: Rules
    fingerprints: dict[str, str]
    timings: dict[str, float]


def _shift_findings(layers: dict[str, gpd.GeoDataFrame]) -> list[dict]:
    """A warning per layer that looks shifted (GCJ-02/BD-09) against the others, naming that layer."""
    from .crs import shift_advice

    return [
        {"type": "layer_shift_suspected", "severity": "warning", "layer": layer, "message": text}
        for layer, text in shift_advice(layers)
    ]


def _step(progress: Callable[[str], None] | None, name: str) -> None:
    if progress is not None:
        progress(name)


#: features of a layer that may lie outside every community before the run stops (DESIGN §7: a wrong
#: CRS or datum puts a whole layer outside; a few buildings over the edge are normal)
OUTSIDE_SHARE_MAX = 0.5
#: fewer features outside than this, each within :data:`OUTSIDE_EDGE_M` metres of a community, prove no wrong layer
#: (one enterprise of one, geocoded onto the road beyond the edge, is 100% outside): they stay findings, the run goes on
OUTSIDE_FEW = 5
OUTSIDE_EDGE_M = 50.0
_OUTSIDE_CHECKED = ("buildings", "enterprises")


def check_outside(inputs: Inputs, *, allow_outside: bool = False) -> None:
    """Refuse a layer with more than half of its features outside every community, naming the cause.

    A GCJ-02 or BD-09 offset explains it when converting one layer brings most features inside: the
    message then names that layer's ``--LAYER-datum`` option; otherwise the layer's CRS is suspect
    (``--crs``). Fewer than :data:`OUTSIDE_FEW` features outside, each within :data:`OUTSIDE_EDGE_M` of a community,
    are no evidence of a wrong layer and are not refused. ``allow_outside`` skips the check (the features stay
    findings).
    """
    if allow_outside:
        return
    comm = inputs.communities.to_crs(4326)
    tree = shapely.STRtree(np.asarray(comm.geometry.to_numpy(), dtype=object))
    for name in _OUTSIDE_CHECKED:
        layer = getattr(inputs, name)
        if layer is None or len(layer) == 0:
            continue
        pts = shapely.point_on_surface(np.asarray(layer.to_crs(4326).geometry.to_numpy(), dtype=object))
        inside = np.zeros(len(pts), dtype=bool)
        inside[np.unique(tree.query(pts, predicate="within")[0])] = True
        share = 1.0 - inside.mean()
        if share <= OUTSIDE_SHARE_MAX:
            continue
        outside, dist = _beyond(pts, inside, comm)
        if len(outside) < OUTSIDE_FEW and len(dist) and dist.max() <= OUTSIDE_EDGE_M:
            # an enterprise geocoded onto the road beyond the edge: a finding, not a wrong layer, and no datum
            # (whose offset in a town wider than it moves an edge point into some community) is to blame
            continue
        fix = _outside_fix(name, pts, comm, tree) or _beside_fix(layer, outside, dist, inside)
        msg = (f"{name}: {share:.0%} of {len(pts):,} features lie outside every community; {fix}; "
               "or pass --allow-outside to keep them as findings")
        raise InputError(msg)


def _outside_fix(name: str, pts: np.ndarray, comm: gpd.GeoDataFrame, tree: shapely.STRtree) -> str | None:
    """The datum option that brings most of a layer's points inside the communities, as advice; None when no
    datum conversion does."""
    from .crs import convert_geometries

    best = None
    for layer, src, dst in ((name, "gcj02", "wgs84"), (name, "bd09", "wgs84"), ("communities", "wgs84", "gcj02"),
                            ("communities", "wgs84", "bd09")):
        # a shifted communities layer is tested by moving the points the other way
        moved = convert_geometries(pts, src=src, dst=dst)
        share = np.isin(np.arange(len(pts)), tree.query(moved, predicate="within")[0]).mean()
        if share > 0.5 and (best is None or share > best[0]):
            best = (share, layer, src if layer == name else dst)
    if best is not None:
        share, layer, datum = best
        label = {"gcj02": "GCJ-02 (AMap/Tencent)", "bd09": "BD-09 (Baidu)"}[datum]
        return (f"read as {label}, {share:.0%} of them are inside: the {layer} layer looks digitised on {label} tiles; "
                f"pass --{layer.replace('_', '-')}-datum {datum}")
    return None


#: features outside every community no farther than this from one: the layers line up, the communities stop short
_BESIDE_M = 1000.0

_ID_COLUMNS = ("building_id", "unit_id", "name")


def _beyond(pts: np.ndarray, inside: np.ndarray, comm: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the points (EPSG:4326) outside every community and their distances to the nearest one (m)."""
    m = metric_crs(comm)
    outside = np.flatnonzero(~inside & ~shapely.is_missing(pts) & ~shapely.is_empty(pts))
    mine = np.asarray(gpd.GeoSeries(pts[outside], crs=4326).to_crs(m).to_numpy(), dtype=object)
    theirs = np.asarray(comm.to_crs(m).geometry.to_numpy(), dtype=object)
    _, dist = shapely.STRtree(theirs).query_nearest(mine, return_distance=True, all_matches=False)
    return outside, dist


def _beside_fix(layer: gpd.GeoDataFrame, outside: np.ndarray, dist: np.ndarray, inside: np.ndarray) -> str:
    """Advice for a layer mostly outside every community that no datum conversion brings inside (``outside``:
    the positions of the features outside, ``dist`` their distances to the nearest community in metres).

    A wrong CRS moves every feature far away (a Gauss-Krüger zone off: hundreds of kilometres). Features of
    which some lie inside, or all within :data:`_BESIDE_M` of a community, mean the layers line up and the
    communities do not cover the layer: saying so (with the distances and an example) instead of blaming the CRS.
    """
    near, far = (float(dist.min()), float(dist.max())) if len(dist) else (np.inf, np.inf)
    if len(dist) and (inside.any() or far <= _BESIDE_M):
        col = next((c for c in _ID_COLUMNS if c in layer.columns), None)
        ids = layer[col].iloc[outside].astype(str).to_numpy() if col else np.array([f"row {i + 1}" for i in outside])
        ex = ", ".join(ids[np.argsort(dist, kind="stable")[:3]])
        span = f"{_dist(near)} to {_dist(far)}" if far - near >= 1 else _dist(far)
        reach = ("the others lie inside, so the layers line up and the communities layer does not cover them"
                 if inside.any() else "the communities layer does not cover them")
        return (f"they lie {span} beyond the nearest community (e.g. {ex}): {reach}; "
                "draw the communities over them or clip the layer to the communities")
    return ("the layers do not line up: check the CRS of each layer (a file without .prj or with a wrong one: "
            "--crs EPSG:4490 for CGCS2000 degrees, EPSG:45xx for Gauss-Krüger metres) and that both cover the same place")


def _dist(metres: float) -> str:
    """A distance as a person reads it: metres with a decimal under 10 m (a feature 0.49 m out is not "0 m" out),
    whole metres under 10 km, else kilometres."""
    if metres < 10:
        return f"{metres:.1f} m"
    return f"{metres:,.0f} m" if metres < 10_000 else f"{metres / 1000:,.0f} km"


def _no_households(buildings: gpd.GeoDataFrame, found: gpd.GeoDataFrame | None) -> str:
    """The one-line error for buildings of which none has a household: a plan of empty grids helps no one."""
    n = len(buildings)
    counted = int(buildings["households_source"].isin(["given", "estimated"]).sum())
    cols = [c for c in buildings.columns if c not in ("geometry", "households_source", "building_id", "households",
                                                      "floors") and buildings[c].notna().any()]
    if counted:
        why = f"{counted:,} have households given as 0 or estimated as 0 (non-residential use)"
    else:
        why = "none has a households (户数) value, nor floors (层数) or height on a footprint to estimate them from"
    ambiguous = ""
    if found is not None and len(found) and "type" in found:
        amb = found[(found["type"] == "column_alias_ambiguous") & (found["layer"] == "buildings")]
        ambiguous = "; " + "; ".join(amb["message"]) if len(amb) else ""
    return (f"buildings: no household in any of the {n:,} buildings ({why}){ambiguous}; other columns there: "
            f"{cols[:12]}; map the count with --columns buildings.households=COLUMN, or floors or height with "
            "--columns buildings.floors=COLUMN or --columns buildings.height=COLUMN (metres)")


def prepare(
    inputs: Inputs | dict[str, LayerSource],
    *,
    rules: Rules | str | None = None,
    crs: Any = None,
    metric: Any = None,
    shift_check: bool = True,
    allow_outside: bool = False,
    progress: Callable[[str], None] | None = None,
    require_households: bool = False,
    held_communities: gpd.GeoDataFrame | None = None,
) -> Prepared:
    """Read (if given sources), project, estimate households, build blocks and assign buildings.

    ``require_households``: buildings of which none has a household are refused in one line (a partition or
    rebalance of them would be grids of 0 households); the blocks stage draws them as they are.

    Before any other work: coordinates in range (when read), a layer mostly outside every community
    refused unless ``allow_outside`` (:func:`check_outside`), overlaps and gaps between communities
    narrower than ``rules.boundary_tolerance_m`` resolved with findings (wider overlaps an error).
    ``progress`` is called with the name of each long step as it starts. ``held_communities``: a previous plan's
    communities, for a re-division: a sliver between communities goes to the one that held it there.
    """
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    rules = load_rules(rules)
    if not isinstance(inputs, Inputs):
        inputs = read_inputs(inputs, crs=crs, progress=progress)
    timings["read_s"] = time.perf_counter() - t0
    _step(progress, "checking inputs")
    m = metric_crs(inputs.communities, override=metric)
    check_outside(inputs, allow_outside=allow_outside)
    communities, boundary_findings = check_community_overlaps(inputs.communities, m, tolerance_m=rules.boundary_tolerance_m,
                                                              held=held_communities)
    streets = to_metric(inputs.streets, m) if inputs.streets is not None else None
    if inputs.buildings is not None:
        buildings = to_metric(inputs.buildings, m)
    else:
        buildings = gpd.GeoDataFrame(
            {"building_id": pd.Series(dtype=object), "households": pd.Series(dtype="int64"), "floors": pd.Series(dtype=float),
             "name": pd.Series(dtype=object), "use": pd.Series(dtype=object)},
            geometry=gpd.GeoSeries([], crs=m),
        )
    villager_groups = to_metric(inputs.villager_groups, m) if inputs.villager_groups is not None else None
    enterprises = to_metric(inputs.enterprises, m) if inputs.enterprises is not None else None
    present = {k: v for k, v in {"communities": inputs.communities, "streets": inputs.streets, "buildings": inputs.buildings,
                                 "enterprises": inputs.enterprises}.items() if v is not None}
    findings = [inputs.findings.to_crs(m) if inputs.findings is not None and len(inputs.findings) else None,
                make_findings(_shift_findings(present) if shift_check else [], crs=m), boundary_findings]

    _step(progress, "building blocks")
    t = time.perf_counter()
    buildings, f = assign_households(buildings, metric=m, rules=rules)
    if require_households and len(buildings) and int(buildings["households"].sum()) == 0:
        raise InputError(_no_households(buildings, inputs.findings))
    findings.append(f)
    # a footprint of separate pieces: one building per piece; then overlapping and duplicated
    # footprints: one indivisible unit each (楼栋完整), and blocks go around them
    blocks = build_blocks(communities, streets, rules=rules)
    buildings, f_split = split_multipart(buildings)
    units, f_units = footprint_units(buildings, rules=rules)
    # a tile-cut footprint (parts meeting at a corner) in a unit across blocks: its parts apart
    pinched = pinched_across_blocks(buildings, units, blocks)
    if pinched.any():
        buildings, f_corner = split_multipart(buildings, corners=pinched)
        f_split = concat_findings([f_split, f_corner], crs=m)
        units, f_units = footprint_units(buildings, rules=rules)
    findings.append(f_split)
    buildings = buildings.assign(unit_id=units)
    snapped = int(blocks.attrs.get("street_ends_snapped", 0))
    blocks, f_bend = bend_blocks(blocks, buildings, units)
    blocks = blocks.reset_index(drop=True)  # a block wholly under a building of its neighbour is gone: rows 0..n-1
    findings += [f_units, f_bend]
    if snapped:
        findings.append(make_findings([{
            "type": "street_ends_snapped", "severity": "info", "layer": "streets", "measure": float(snapped),
            "message": (f"{counted(snapped, 'street end')} within {rules.street_snap_m:g} m of another street or a community "
                        "boundary were extended to meet it before the blocks were drawn (street_snap_m)")}], crs=m))
    buildings = assign_buildings(buildings, blocks)
    blocks = block_totals(blocks, buildings)
    # household and footprint findings were made before buildings knew their community
    com = dict(zip(buildings["building_id"], buildings["community_code"], strict=True))
    pieces = buildings["building_id"].astype(str).str.contains("#", regex=False).to_numpy()
    for bid, code in zip(buildings["building_id"].astype(str)[pieces], buildings["community_code"][pieces],
                         strict=True):  # a building split into pieces (<id>#<n>): the community of its first
        while "#" in bid:
            bid = bid.rsplit("#", 1)[0]
            com.setdefault(bid, code)
    for found in (f, f_units, f_split):
        if len(found):
            found["community_code"] = found["feature_id"].map(com).astype(object)
            found["community_code"] = found["community_code"].where(found["community_code"].notna(), None)
    timings["blocks_s"] = time.perf_counter() - t
    outside = buildings["block_id"].isna().to_numpy()
    if outside.any():
        findings.append(_outside_findings(buildings[outside], communities, m))
    return Prepared(
        communities=communities, streets=streets, buildings=buildings, blocks=blocks,
        villager_groups=villager_groups, enterprises=enterprises,
        findings=concat_findings(findings, crs=m), metric=m, rules=rules,
        fingerprints=inputs.fingerprints, timings=timings,
    )


def _outside_findings(outside: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, crs: Any) -> gpd.GeoDataFrame:
    """``building_outside_communities``: each building in no community, so in no grid, with its households, the
    nearest community and how far, and the fix (the community layer redrawn over it, where it belongs to one).

    >>> from shapely import box
    >>> c = gpd.GeoDataFrame({"code": ["420103001001"]}, geometry=[box(0, 0, 100, 100)], crs=4547)
    >>> b = gpd.GeoDataFrame({"building_id": ["b1"], "households": [12]}, geometry=[box(103, 10, 110, 20)], crs=4547)
    >>> print(_outside_findings(b, c, 4547)["message"].iloc[0])  # doctest: +NORMALIZE_WHITESPACE
    building b1 (12 households) lies outside every community, 3.0 m from community 420103001001 (the nearest); kept, in
    no grid: if it belongs to that community, redraw its boundary over the building in the community layer (a gap
    between communities: see its community_gap finding, or set boundary_tolerance_m above the gap's width in a --rules
    file)
    """
    geoms = outside.geometry.to_numpy()
    reps = shapely.point_on_surface(geoms)
    cgeoms, codes = communities.geometry.to_numpy(), communities["code"].astype(str).to_numpy()
    near_i = np.full(len(geoms), -1)
    dist = np.full(len(geoms), np.nan)
    if len(cgeoms):
        (bi, ci), d = shapely.STRtree(cgeoms).query_nearest(geoms, return_distance=True, all_matches=True)
        order = np.lexsort((codes[ci], d, bi))  # the nearest, ties to the lowest code: whatever the row order
        first = order[np.r_[True, bi[order][1:] != bi[order][:-1]]]
        near_i[bi[first]], dist[bi[first]] = ci[first], d[first]
    rows = []
    for k, (bid, h) in enumerate(zip(outside["building_id"], outside["households"], strict=True)):
        if near_i[k] < 0:
            where, fix = "", "if it belongs to a community, add it to the community layer"
        else:
            where = f", {dist[k]:,.1f} m from community {codes[near_i[k]]} (the nearest)"
            fix = ("if it belongs to that community, redraw its boundary over the building in the community layer (a gap "
                   "between communities: see its community_gap finding, or set boundary_tolerance_m above the gap's "
                   "width in a --rules file)")
        rows.append({"type": "building_outside_communities", "severity": "warning", "layer": "buildings",
                     "feature_id": str(bid), "measure": float(h),
                     "message": f"building {bid} ({h} households) lies outside every community{where}; kept, in no grid"
                                f": {fix}", "geometry": reps[k]})
    return make_findings(rows, crs=crs)


def _metadata(prep: Prepared, stage: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    b = prep.buildings
    meta = {
        "gridgeo_version": __version__,
        "stage": stage,
        "metric_crs": prep.metric.to_string(),
        "rules": prep.rules.to_dict(),
        "input_fingerprints": prep.fingerprints,
        "counts": {
            "communities": int(len(prep.communities)),
            "blocks": int(len(prep.blocks)),
            "buildings": int(len(b)),
            "households": int(b["households"].sum()),
            "households_estimated": int(b.loc[b["households_source"] == "estimated", "households"].sum()),
            "buildings_outside_communities": int(b["block_id"].isna().sum()),
            "findings": int(len(prep.findings)),
        },
        "timings_s": {k: round(v, 3) for k, v in prep.timings.items()},
    }
    meta.update(extra or {})
    return meta


def build_plan(
    inputs: Inputs | dict[str, LayerSource],
    *,
    stage: str = "partition",
    rules: Rules | str | None = None,
    crs: Any = None,
    metric: Any = None,
    workers: int = 1,
    previous: Plan | None = None,
    from_scratch: bool = False,
    scheme: Any = None,
    shift_check: bool = True,
    allow_outside: bool = False,
    progress: Callable[[str], None] | None = None,
    scheduler: Any = None,
    checkpoint: Any = None,
) -> Plan:
    """Run the pipeline up to ``stage`` (``blocks`` or ``partition``) and return the plan.

    Parameters
    ----------
    inputs
        Normalised :class:`~gridgeo.io.Inputs` or layer sources to read.
    stage
        ``blocks``: communities, blocks, buildings and findings. ``partition``: also grids and small
        grids with codes and quality metrics.
    rules
        A profile name, TOML path or :class:`~gridgeo.rules.Rules`.
    crs
        CRS assumed for input layers that define none.
    metric
        Override of the automatic metric CRS.
    workers
        Processes for the per-community partition.
    previous
        An earlier plan whose grid codes are kept where grids are unchanged (动态调整).
    from_scratch
        With ``previous``: re-divide every community instead of keeping the unchanged grids.
    shift_check
        Warn (as findings) when a layer looks shifted by a GCJ-02/BD-09 offset against the others.
    allow_outside
        Keep going when more than half of a layer lies outside every community (see :func:`check_outside`).
    progress
        Called with the name of each long step as it starts (the CLI shows them).
    scheduler
        A Dask distributed scheduler address or ``distributed.Client`` to divide the communities on
        (see :mod:`gridgeo.parallel`); the plan is the same.
    checkpoint
        A :class:`gridgeo.parallel.Checkpoint` keeping finished communities for a resumed run.
    """
    if stage not in ("blocks", "partition"):
        msg = f"unknown stage {stage!r}; choose 'blocks' or 'partition'"
        raise ValueError(msg)
    if stage == "partition":
        given = inputs.buildings is not None if isinstance(inputs, Inputs) else "buildings" in inputs
        if not given:
            msg = ("partition needs buildings: households are counted from them, and without them every grid would "
                   "hold 0 households; pass --buildings FILE (footprints or points with households or floors)")
            raise InputError(msg)
    if scheduler is not None and previous is not None and not from_scratch:
        msg = ("--scheduler with --previous: a re-division (动态调整) re-divides only the changed areas, in this "
               "process; drop --scheduler, or add --from-scratch to divide every community on the cluster")
        raise InputError(msg)
    # a re-division keeps the slivers between communities where the previous plan had them (its kept grids cover
    # them): a community drawn again within the boundary tolerance changes no neighbour
    held = previous.layers.get("communities") if previous is not None and not from_scratch else None
    prep = prepare(inputs, rules=rules, crs=crs, metric=metric, shift_check=shift_check, allow_outside=allow_outside,
                   progress=progress, require_households=stage == "partition",
                   held_communities=held if held is not None and "code" in held.columns and held.crs is not None else None)
    if stage == "blocks":
        layers = {"communities": prep.communities, "blocks": prep.blocks, "buildings": prep.buildings,
                  "findings": prep.findings}
        return Plan(layers, _metadata(prep, "blocks"))
    return _partition_plan(prep, workers=workers, previous=previous, from_scratch=from_scratch, scheme=scheme,
                           progress=progress, scheduler=scheduler, checkpoint=checkpoint)


@dataclass
class PartitionInputs:
    """What the partition divides once the dedicated grids (专属网格) are carved out (:func:`partition_inputs`).

    Without units: the prepared layers as they are, ``carving``, ``outlines`` and ``neighbours`` None."""

    communities: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    villager_groups: gpd.GeoDataFrame | None
    #: the carving (:class:`gridgeo.dedicated.Carving`), None without units
    carving: Any = None
    #: community code -> whole outline, for each community holding a dedicated grid: its grids are judged
    #: against it (and their rings round the sites opened)
    outlines: dict[str, Any] | None = None
    #: the carved buildings' pieces across a community boundary, kept whole in one grid of the next community
    #: as the pieces of the other buildings are (None when there are none)
    neighbours: gpd.GeoDataFrame | None = None
    #: community code -> the polygons of its dedicated grids as carved (each lane to a site measured with its grid)
    dedicated: dict[str, Any] | None = None


def partition_inputs(prep: Prepared) -> PartitionInputs:
    """The layers and keywords :func:`build_plan` gives the partition (or the re-division): the prepared inputs,
    with ``prep.enterprises`` carved into dedicated grids first when given. Benchmarks call it to divide exactly
    as the pipeline does."""
    if prep.enterprises is None:
        return PartitionInputs(prep.communities, prep.blocks, prep.buildings, prep.villager_groups)
    from .dedicated import carve_inputs

    carving = carve_inputs(prep.enterprises, prep.communities, prep.blocks, prep.buildings, prep.rules,
                           villager_groups=prep.villager_groups)
    carved_ids = set(carving.buildings.loc[carving.buildings["community_code"].isna(), "building_id"].astype(str))
    reaching = prep.buildings[prep.buildings["building_id"].astype(str).isin(carved_ids)
                              & prep.buildings["community_code"].notna()]
    with_dedicated = set(carving.carved.grids["community_code"].astype(str))
    outlines = {str(c): g for c, g in zip(prep.communities["code"], prep.communities.geometry, strict=True)
                if str(c) in with_dedicated}
    ded = carving.carved.grids
    dedicated = {str(c): ded.geometry.to_numpy()[(ded["community_code"].astype(str) == str(c)).to_numpy()]
                 for c in outlines}
    return PartitionInputs(carving.communities, carving.blocks, carving.buildings, carving.villager_groups,
                           carving, outlines, reaching if len(reaching) else None, dedicated)


def _community_progress(progress: Callable[[str], None] | None) -> Callable[[int, int], None] | None:
    """A per-community callback for :func:`~gridgeo.partition.partition` that reports every 10% done."""
    if progress is None:
        return None

    def report(done: int, total: int) -> None:
        if done == total or (10 * done) // total != (10 * (done - 1)) // total:
            progress(f"divided {done:,} of {total:,} communities")

    return report


def _warm_kernels(progress: Callable[[str], None] | None, scheduler: Any) -> None:
    """The engine's compiled kernels loaded in this process before the communities are divided, as a step of its
    own: the first run after installing gridgeo compiles them (minutes on two cores), which would otherwise pass
    as a silent "dividing" (local workers fork from this process and inherit them; a cluster's workers load
    their own)."""
    from .partition import _fast

    if scheduler is not None or not _fast.AVAILABLE or _fast.tried():
        return
    _step(progress, "loading the partition's compiled kernels (the first run after installing gridgeo compiles them: "
                    "a few minutes, once)")
    _fast.warm_up()


def _partition_plan(prep: Prepared, *, workers: int, previous: Plan | None, from_scratch: bool, scheme: Any,
                    progress: Callable[[str], None] | None = None, scheduler: Any = None,
                    checkpoint: Any = None) -> Plan:
    from .partition import partition

    if scheme is not None:
        scheme = CodeScheme.from_dict(scheme)
        old = conflicting_scheme(scheme, previous.metadata) if previous is not None else None
        if old is not None:
            msg = (f"code scheme: the previous plan was coded with {old.to_dict()} but the scheme given "
                   f"(--code-scheme) is {scheme.to_dict()}; omit --code-scheme to keep the previous plan's codes, "
                   "or re-divide without --previous to code every grid afresh")
            raise InputError(msg)
    else:
        scheme = _scheme_of(previous)
    if previous is not None:  # its codes checked before the re-division reads them
        check_previous(previous, scheme)
    _precheck_scheme(prep, scheme)
    _warm_kernels(progress, scheduler)
    _step(progress, f"dividing {len(prep.communities)} communities")
    t = time.perf_counter()
    extra: dict[str, Any] = {}
    # dedicated grids (专属网格) are carved out of the blocks first; the partition divides the rest
    inp = partition_inputs(prep)
    carving, p_comm, p_blocks, p_buildings, p_groups = (inp.carving, inp.communities, inp.blocks, inp.buildings,
                                                        inp.villager_groups)
    outlines, reaching = inp.outlines, inp.neighbours
    if previous is not None and not from_scratch and "grids" in previous.layers:
        from .adjust import adjust
        from .dedicated import base_grids_only

        result, extra["adjustment"] = adjust(
            p_comm, p_blocks, p_buildings, base_grids_only(previous), streets=prep.streets, rules=prep.rules,
            villager_groups=p_groups, workers=workers, outlines=outlines, neighbours=reaching,
            dedicated_land=_dedicated_land(previous, p_comm.crs) if carving is not None else None,
        )
    else:
        result = partition(
            p_comm, p_blocks, p_buildings, streets=prep.streets, rules=prep.rules,
            villager_groups=p_groups, workers=workers, progress=_community_progress(progress),
            scheduler=scheduler, checkpoint=checkpoint, outlines=outlines, neighbours=reaching,
            dedicated=inp.dedicated,
        )
    if carving is not None:
        from .dedicated import merge_result

        result = merge_result(result, carving, prep.buildings, prep.communities)
        result.findings = concat_findings([carving.findings, result.findings], crs=prep.metric)
    prep.timings["partition_s"] = time.perf_counter() - t
    # street alignment measured in each community's job: valid for grids of the communities as partitioned
    # (not when dedicated grids were carved out of them first, nor for a re-division)
    measured = result.street_alignment if carving is None and "adjustment" not in extra else None
    grids, subgrids, buildings = result.grids, result.subgrids, result.buildings
    if not len(grids):  # every community failed: no plan to write (the errors say why)
        failed = result.findings[result.findings["type"] == "community_failed"] if result.findings is not None else []
        if len(failed):
            more = f" (and {len(failed) - 1:,} more communities)" if len(failed) > 1 else ""
            first = str(failed["message"].iloc[0]).split("; it has no grids in this plan")[0]  # the error alone
            raise GridgeoError(f"no community could be divided, nothing was written: {first}{more}; check the "
                               "inputs, or report this with them to the gridgeo developers")
    findings = concat_findings([prep.findings, result.findings], crs=prep.metric)
    if previous is not None and "communities" in previous.layers:  # two communities merged, one split or recoded
        from .diff import community_changes

        said = community_changes(previous["communities"].to_crs(prep.metric), prep.communities,
                                 previous.layers.get("grids"))
        findings = concat_findings([findings, make_findings(said, crs=prep.metric)], crs=prep.metric)
    _step(progress, "coding and measuring grids")
    t = time.perf_counter()
    coded = assign_codes(grids, subgrids, buildings, scheme=scheme, previous=previous,
                         retired_in=f"gridgeo {__version__}")
    grids, subgrids, buildings = coded.grids, coded.subgrids, coded.buildings
    findings = _findings_with_codes(findings, grids, subgrids)
    extra.update(code_metadata(scheme, coded.retired))
    prep.timings["codes_s"] = time.perf_counter() - t
    # the quality figures do not depend on the validation: with more than one worker they are measured in a
    # forked process beside it (the workers are idle by then), else here, before it; the same computation
    measuring = _Beside(_quality_figures, dict(
        communities=prep.communities, grids=grids, buildings=buildings, streets=prep.streets, subgrids=subgrids,
        rules=prep.rules, alignment=_alignment_by_row(measured, grids, subgrids)), fork=workers > 1 and scheduler is None)
    with measuring:  # on every way out (an error anywhere below included) the forked process is ended
        extra["quality"] = None  # its place among the metadata; filled in below
        layers = {"communities": prep.communities, "blocks": prep.blocks, "grids": grids, "subgrids": subgrids,
                  "buildings": buildings, "findings": findings}
        if carving is not None:
            from .dedicated import register, unit_counts

            layers["units"] = register(carving.carved, grids)
            extra["units"] = unit_counts(layers["units"])
        meta = _metadata(prep, "partition", extra)
        meta["counts"]["grids"] = int(len(grids))
        meta["counts"]["subgrids"] = int(len(subgrids))
        plan = Plan(layers, meta)
        t_check = time.perf_counter()
        plan = self_check(plan)
        validate_s = time.perf_counter() - t_check
        t_wait = time.perf_counter()
        q, metrics_s = measuring.result()
    plan.metadata["quality"] = _plain(q)
    timings = plan.metadata["timings_s"]
    timings["metrics_s"] = round(metrics_s, 3)
    timings["validate_s"] = round(validate_s, 3)
    if measuring.forked:  # measured while the plan was validated: what the run waited for beyond that
        timings["metrics_wait_s"] = round(time.perf_counter() - t_wait, 3)
    plan.metadata["counts"]["findings"] = int(len(plan.layers["findings"]))
    return plan


def _quality_figures(**kwargs: Any) -> tuple[dict[str, Any], float]:
    """:func:`~gridgeo.partition.metrics.quality` and the seconds it took."""
    from .partition.metrics import quality

    t = time.perf_counter()
    q = quality(kwargs.pop("communities"), kwargs.pop("grids"), kwargs.pop("buildings"), **kwargs)
    return q, time.perf_counter() - t


_BESIDE: dict[str, Any] = {}


def _run_beside(conn: Any) -> None:
    """In the forked process: the function and arguments it inherited (nothing pickled on the way in);
    sends back ``("value", result)`` or ``("error", exception, traceback text)``."""
    import traceback

    func, kwargs = _BESIDE["job"]
    try:
        out: tuple = ("value", func(**kwargs))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        out = ("error", exc, traceback.format_exc())
    conn.send(out)
    conn.close()


class _Beside:
    """``func(**kwargs)`` in a forked process while this one goes on (``fork=True`` on a platform that forks),
    else here at once; :meth:`result` gives its value (or raises its error). Only the result is pickled.

    Use it as a context manager: leaving the block by any way (an error included) ends a process still
    running (terminated, then killed) and reaps it; :meth:`abandon` does so at once. When the process cannot
    be started, or dies without an answer (killed by the system for memory, a signal, a crash), :meth:`result`
    computes the value here instead (with a ``RuntimeWarning``): the same function of the same arguments."""

    def __init__(self, func: Callable[..., Any], kwargs: dict[str, Any], *, fork: bool) -> None:
        import multiprocessing

        self.forked = fork and "fork" in multiprocessing.get_all_start_methods()
        self._func, self._kwargs = func, kwargs
        self._value: Any = None
        self._proc: Any = None
        self._conn: Any = None
        self._why = ""
        self._done = not self.forked
        if not self.forked:
            self._value = func(**kwargs)
            return
        ctx = multiprocessing.get_context("fork")
        _BESIDE["job"] = (func, kwargs)
        try:  # the process is forked at the start, with the job in its memory
            self._conn, send = ctx.Pipe(duplex=False)
            try:
                self._proc = ctx.Process(target=_run_beside, args=(send,), name="gridgeo-quality", daemon=True)
                self._proc.start()
            finally:
                send.close()  # the child's end, closed here: reading sees the end of the pipe when it dies
        except OSError as exc:  # no fork (memory, process limit): measured here when asked
            self.abandon()
            self._why = f"{type(exc).__name__}: {exc}"
        finally:
            _BESIDE.clear()

    def __enter__(self) -> _Beside:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abandon()

    def result(self) -> Any:
        if self._done:
            return self._value
        got = None
        try:
            if self._conn is not None:
                try:
                    got = self._conn.recv()
                except (EOFError, OSError):  # the process died before it answered
                    self._proc.join(5)
                    self._why = f"the process measuring it ended with exit code {self._proc.exitcode}"
        finally:
            self.abandon(wait_s=5.0)
        if got is None:
            import warnings

            warnings.warn(f"gridgeo: {getattr(self._func, '__name__', 'the job')} run in this process instead "
                          f"({self._why})", RuntimeWarning, stacklevel=2)
            got = ("value", self._func(**self._kwargs))
        if got[0] == "error":
            exc = got[1]
            exc.add_note(f"raised in the process forked beside the validation:\n{got[2]}")
            raise exc
        self._value, self._done = got[1], True
        return self._value

    def abandon(self, wait_s: float = 0.0) -> None:
        """End the process (at once, or after ``wait_s`` seconds for it to end by itself) and reap it; its
        result, if any, is left unread. Safe to call again."""
        conn, self._conn = self._conn, None
        proc, self._proc = self._proc, None
        if conn is not None:
            conn.close()
        if proc is None:
            return
        if wait_s > 0:
            proc.join(wait_s)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()
        proc.close()


def self_check(plan: Plan) -> Plan:
    """The plan with what ``gridgeo validate PLAN`` finds in it as stored (one implementation).

    Counts per severity and the error types go to ``metadata["validation"]``; error findings are added
    to the ``findings`` layer (a plan gridgeo writes should have none: each one is a defect to report).
    """
    from .plan import keep_stored
    from .validate import severity_counts, validate_plan

    stored = plan.stored()
    found = validate_plan(stored)
    errors = found[found["severity"] == "error"]
    meta = dict(plan.metadata)
    meta["validation"] = {**severity_counts(found),
                          "error_types": {str(k): int(v) for k, v in errors["type"].value_counts().sort_index().items()}}
    layers = dict(plan.layers)
    if len(errors):
        crs = layers["findings"].crs
        layers["findings"] = concat_findings([layers["findings"], errors.assign(
            message="gridgeo validate: " + errors["message"].astype(str))], crs=crs)
    out = Plan(layers, meta)
    if not len(errors):  # the layers checked are the layers to write: keep them for Plan.write
        keep_stored(out, stored)
    return out


def _alignment_by_row(measured: dict[str, pd.DataFrame] | None, grids: gpd.GeoDataFrame,
                      subgrids: gpd.GeoDataFrame | None) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """The street alignment the partition measured per community, in the order of the coded layers' rows
    (NaN for a grid it did not measure: :func:`~gridgeo.partition.metrics.quality` measures those)."""
    if not measured:
        return None
    out = {}
    for layer, gdf, id_col in (("grids", grids, "grid_id"), ("subgrids", subgrids, "subgrid_id")):
        got = measured.get(layer)
        if gdf is None or got is None or id_col not in gdf.columns or not got.index.is_unique:
            continue
        rows = got.reindex(gdf[id_col].astype(object).to_numpy())
        out[layer] = (rows["internal_m"].to_numpy(dtype=float), rows["aligned_m"].to_numpy(dtype=float))
    return out or None


def _findings_with_codes(findings: gpd.GeoDataFrame, grids: gpd.GeoDataFrame,
                         subgrids: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Findings naming grids and small grids by their codes (the partition names them by provisional
    ids such as ``420103001001-G005-04``, which the layers keep as ``grid_id`` / ``subgrid_id``).

    >>> import geopandas as gpd
    >>> f = make_findings([{"type": "subgrid_out_of_bounds", "severity": "warning", "layer": "subgrids",
    ...     "feature_id": "C-G005-04", "message": "small grid C-G005-04 of grid C-G005 has 87 households"}], crs=4547)
    >>> g = gpd.GeoDataFrame({"grid_id": ["C-G005"], "grid_code": ["C005"]}, geometry=[None], crs=4547)
    >>> s = gpd.GeoDataFrame({"subgrid_id": ["C-G005-04"], "subgrid_code": ["C00504"]}, geometry=[None], crs=4547)
    >>> _findings_with_codes(f, g, s)[["feature_id", "message"]].values.tolist()
    [['C00504', 'small grid C00504 of grid C005 has 87 households']]
    """
    ids: dict[str, str] = {}
    for layer, id_col, code_col in ((grids, "grid_id", "grid_code"), (subgrids, "subgrid_id", "subgrid_code")):
        if layer is not None and id_col in layer and code_col in layer:
            ids.update({str(i): str(c) for i, c in zip(layer[id_col], layer[code_col], strict=True)
                        if isinstance(i, str) and isinstance(c, str)})
    if not ids or not len(findings):
        return findings
    if all(_ID_RUN.fullmatch(k) for k in ids):
        def replace(text: str) -> str:
            return _replace_ids(text, ids)
    else:  # ids with other characters: longest first, so that a grid id never replaces the start of
        # one of its small grids' ids (an id followed by more of an id is left whole)
        pattern = re.compile("(?:" + "|".join(re.escape(k) for k in sorted(ids, key=len, reverse=True)) + r")(?![-\w])")

        def replace(text: str) -> str:
            return pattern.sub(lambda m: ids[m.group(0)], text)
    out = findings.copy()
    out["feature_id"] = pd.Series([ids.get(v, v) if isinstance(v, str) else v for v in out["feature_id"]],
                                  index=out.index, dtype=object)
    out["message"] = pd.Series([replace(v) if isinstance(v, str) else v for v in out["message"]],
                               index=out.index, dtype=object)
    return out


_ID_RUN = re.compile(r"[-\w]+")


def _replace_ids(text: str, ids: dict[str, str]) -> str:
    """``text`` with the ids of ``ids`` (word characters and hyphens only) replaced where they end a run of
    such characters: in each run, its longest tail that is an id. So an id followed by more of an id (a
    small grid without a code) is left whole, and a grid id never replaces the start of one of its small
    grids' ids: what one regular expression alternating every id, longest first, followed by no word
    character or hyphen, replaces, with one dictionary look-up per tail instead (that expression took
    seconds to compile for a city's tens of thousands of grids).

    >>> _replace_ids("small grid C-G005-04 of grid C-G005; C-G005-99, xC-G005.", {"C-G005": "C005", "C-G005-04": "C00504"})
    'small grid C00504 of grid C005; C-G005-99, xC005.'
    """
    def sub(m: re.Match) -> str:
        run = m.group(0)
        for i in range(len(run)):
            new = ids.get(run[i:])
            if new is not None:
                return run[:i] + new
        return run

    return _ID_RUN.sub(sub, text)


def _precheck_scheme(prep: Prepared, scheme: CodeScheme) -> None:
    """Fail before any partition work when the scheme cannot code these communities: community codes
    of another width, or more base grids needed than the scheme's grid sequence holds. The count is a
    lower bound: one grid per building over the ceiling, plus the other households ÷ the ceiling
    (rounded down: a community that no count fits may keep one grid over the ceiling), at least one."""
    codes = prep.communities["code"].astype(str)
    bad = codes[codes.str.len() != scheme.community_digits]
    if len(bad):
        msg = (f"code scheme: community code {bad.iloc[0]!r} has {len(bad.iloc[0])} digits but the scheme's "
               f"community_digits is {scheme.community_digits}; community codes are 12-digit statistical codes, so set "
               "community_digits = 12 (or leave it out)")
        raise InputError(msg)
    kinds = prep.communities["kind"] if "kind" in prep.communities else pd.Series("urban", index=codes.index)
    bld = prep.buildings
    households = pd.to_numeric(bld["households"], errors="coerce").fillna(0).to_numpy(dtype=float)
    by_code = pd.Series(households).groupby(bld["community_code"].to_numpy()).indices
    need = {}
    for code, kind in zip(codes, kinds, strict=True):
        cap = rules_for_kind(prep.rules, kind if isinstance(kind, str) else "urban").grid_max
        h = households[by_code.get(code, [])]
        heavy = h > cap
        need[code] = max(1, int(heavy.sum()) + math.floor(float(h[~heavy].sum()) / cap))
    scheme.check_capacity(need)


def _dedicated_land(previous: Plan, crs: Any) -> dict[str, Any]:
    """Community code → the land the previous plan's dedicated grids (专属网格) held in it, as stored, in ``crs``
    (crumbs of ordinary land they enclose included, which a re-division gives back to them)."""
    grids = previous["grids"]
    if "kind" not in grids.columns or "community_code" not in grids.columns:
        return {}
    ded = grids[grids["kind"].astype(str) == "dedicated"]
    if not len(ded):
        return {}
    ded = ded.to_crs(crs)
    geoms = ded.geometry.to_numpy()
    geoms = np.where(shapely.is_valid(geoms), geoms, shapely.make_valid(geoms))
    return {str(c): shapely.union_all(geoms[i])
            for c, i in pd.Series(np.arange(len(ded))).groupby(ded["community_code"].astype(str).to_numpy()).indices.items()}


def _scheme_of(previous: Plan | None) -> CodeScheme:
    """The code scheme of a previous plan (so its codes can be carried), else the default."""
    if previous is not None and "code_scheme" in previous.metadata:
        return CodeScheme.from_dict(previous.metadata["code_scheme"])
    return CodeScheme()


def _plain(v: Any) -> Any:
    """Make a nested structure JSON-friendly (numpy scalars, DataFrames)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, pd.DataFrame):
        return _plain(v.to_dict("records"))
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v
