"""Coverage and rule checks of any grid layer (无缝覆盖, 不交叉重叠, 不跨社区), and repair.

:func:`validate_grids` checks a grid layer — a gridgeo plan's or one drawn by hand in another tool —
against its communities, buildings, streets and small grids, and returns every problem as a findings
table (:func:`gridgeo._findings.make_findings`): one row per problem with its ``type``, ``severity``,
the ``layer`` and ``feature_id`` (that layer's codes, comma-separated) it concerns, a ``measure`` and a
``geometry`` showing where it is. :func:`summarize` and :func:`worst_offenders` condense them for a
terminal, :func:`write_findings` writes them for QGIS, and :func:`repair_grids` mends the coverage.

All lengths and areas are computed in the local metric CRS (:func:`gridgeo.crs.metric_crs`, or the
grids' own CRS when it is already projected in metres); findings come back in the grids' CRS. Layers
are densified to 50 m segments before reprojection, so an edge that is straight in the stored CRS
(EPSG:4490) keeps its shape: coverage is judged as stored (DESIGN §3). Pieces
smaller than ``tolerance_m2`` or thinner than ``tolerance_m`` (mean width ``2·area/perimeter``) are
numeric noise and never become findings, so a clean plan stays clean after reprojection.

Finding types
-------------
==============================  ========  ============  =====================================================
type                            severity  measure       meaning
==============================  ========  ============  =====================================================
``layer_shift_suspected``       warning   –             the grid layer looks shifted 100–700 m against the communities
                                                        (drawn on AMap/Tencent or Baidu: GCJ-02, BD-09), so most
                                                        other findings are the offset's: the message names the
                                                        option reading it (``--grids-datum gcj02``); by
                                                        :func:`gridgeo.validate` (``gridgeo validate``), not here
``empty_geometry``              error     –             a feature without geometry (None or empty); a
                                                        building without one is a warning (in no grid)
``non_polygon``                 error     –             a point, line or collection instead of a polygon
``invalid_geometry``            error     –             invalid polygon; the message gives the GEOS reason and
                                                        the geometry is the place GEOS names
``multipart_grid``              error     parts         a grid of several separate polygons; geometry: the
                                                        parts other than the largest; info when each part
                                                        lies in a separate part of its community (a small
                                                        grid: of its grid), as the quality figures excuse it
``missing_code``                error     –             a feature without a code (or a layer without the column)
``duplicate_code``              error     features      one code on several features
``malformed_code``              error     –             a code that is not all digits or has the wrong length
``code_prefix_mismatch``        error     –             a code that does not start with its community's code
                                                        (small grids: with their base grid's code)
``code_wrong_range``            error     –             a grid whose ``kind`` is ``dedicated`` (专属网格) with a sequence
                                                        under the scheme's ``dedicated_start``, or ``base`` at or above it
``missing_community``           error     –             a grid without a community code (inferred by overlap
                                                        when a communities layer is given)
``unknown_community``           error     –             a community code absent from the communities layer
``community_mismatch``          error     m²            a grid lying outside the community its code names
``overlap``                     error     m²            two features overlap (不交叉重叠); geometry: the overlap.
                                                        Overlapping communities are reported as warnings
                                                        with layer ``communities``
``gap``                         error     m²            part of a community in no grid (无缝覆盖); legitimate
                                                        holes of the community are not gaps. Without a
                                                        communities layer only holes enclosed by grids are
                                                        found, as warnings
``outside_community``           error     m²            grid area outside every community
``community_shifted``           error     m²            a community of a community layer that looks drawn on a web map's
                                                        shifted datum (GCJ-02, BD-09) unlike the others: converted
                                                        to WGS-84 its wide overlaps with them vanish (measure:
                                                        the overlap as drawn); convert it, do not repair it
``crosses_communities``         error     m²            grid area inside another community (不跨社区)
``near_coincident_edges``       error     m             grid edges within ``gap_width_m`` of a neighbour's edge
                                                        without matching it: slivers and hairline gaps
``building_unassigned``         error     m²            a building in no grid (footprint area; 0 for points)
``building_outside_communities`` warning m²            a building outside every community (with communities given)
``building_in_two_grids``       error     m²            a building in the overlap of two grids
``building_cut``                error     m²            a footprint split by a grid boundary, or between small
                                                        grids of one grid (area outside its main grid or small grid)
``building_across_communities`` warning m²            a footprint split only by a community boundary (one
                                                        grid in each community, or in each separate part of
                                                        one: pieces sharing no edge): a finding on input
``building_code_mismatch``      error     –             a building whose ``grid_code`` (``subgrid_code``) is not the
                                                        grid (small grid) it lies in, or that carries none
                                                        while lying in one: what dispatch imports would be
                                                        wrong. A footprint lying in two (across a grid or a
                                                        community boundary, a point on a shared edge) may
                                                        carry either; a member of a footprint unit across
                                                        the gap between parts of its community is judged
                                                        by where its unit lies; one in no grid carrying a
                                                        code is a warning. Compared when the buildings have the column
                                                        (a plan's must: ``check_skipped`` otherwise)
``households_out_of_bounds``    warning   households    households outside the rule's bounds (info when the
                                                        grid is a single building over the ceiling, or one
                                                        under the floor flagged ``grid_forced_under_floor``, or
                                                        when the buildings of
                                                        its community (small grids: of its parent grid)
                                                        admit no division within the bounds at all)
``subgrid_not_nested``          error     m²            a small grid not inside exactly one base grid (area
                                                        outside its main base grid)
``subgrid_wrong_parent``        error     –             a small grid whose ``grid_code`` is not the grid it lies in
``low_street_share``            warning   share         share of the grid boundary on streets (community
                                                        boundary excluded) below ``street_share_min``;
                                                        geometry: the boundary off the streets
``check_skipped``               info      –             a check that could not run, and why
``grid_encloses_grid``          warning   holes         a grid (small grid) wrapped round land of other grids: a hole
                                                        its community (grid) does not have, as the quality table
                                                        counts "grids with a hole"
==============================  ========  ============  =====================================================


Overlap, gap, outside and crossing pieces narrower than ``width_tolerance_m`` everywhere (default the
rules' 0.1 m) are ``info``: a grid layer validates clean against the community layer it came from
whatever CRS either is stored in. The coverage types (:data:`COVERAGE_TYPES`) are what
:func:`repair_grids` mends.

Examples
--------
>>> import geopandas as gpd
>>> from shapely import box
>>> communities = gpd.GeoDataFrame({"code": ["420102001001"]}, geometry=[box(0, 0, 200, 100)], crs=4547)
>>> grids = gpd.GeoDataFrame(
...     {"grid_code": ["420102001001001", "420102001001002"], "community_code": ["420102001001"] * 2},
...     geometry=[box(0, 0, 110, 100), box(100, 0, 190, 100)], crs=4547)
>>> f = validate_grids(grids, communities=communities)
>>> f[["type", "feature_id", "measure"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
[{'type': 'overlap', 'feature_id': '420102001001001,420102001001002', 'measure': 1000.0},
 {'type': 'gap', 'feature_id': '420102001001', 'measure': 1000.0}]
>>> fixed, log = repair_grids(grids, communities=communities)
>>> len(validate_grids(fixed, communities=communities))
0
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .._errors import InputError
from ..codes import CodeScheme
from ..crs import require_layers
from ..footprints import BUILDING_SHARE_MIN, unit_labels
from ..households import households_of
from ..io import read_findings, write_findings, write_repair
from ..rules import Rules, load_rules
from .buildings import _buildings_check, _carried, _households_check, _outside_communities, _subgrid_cut_check
from .code_checks import _code_findings, _kind_range
from .coverage import _gaps, _narrow_is_info, _near_coincident, _outside, _overlaps
from .layers import (
    COVERAGE_TYPES,
    FINDING_TYPES,
    _as_code,
    _assign_communities,
    _choose_metric,
    _finish,
    _prepare_communities,
    _prepare_polygons,
    _rec,
    enclosure_check,
    multipart_check,
)
from .nesting import _subgrid_nesting
from .repair import repair_grids
from .report import has_errors, severity_counts, summarize, worst_offenders
from .streets import _street_share

__all__ = [
    "FINDING_TYPES",
    "COVERAGE_TYPES",
    "validate_grids",
    "validate_plan",
    "repair_plan",
    "summarize",
    "worst_offenders",
    "has_errors",
    "severity_counts",
    "write_findings",
    "read_findings",
    "repair_grids",
    "write_repair",
]


def validate_grids(
    grids: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    subgrids: gpd.GeoDataFrame | None = None,
    rules: Rules | str | None = None,
    code_column: str = "grid_code",
    community_column: str = "community_code",
    gap_width_m: float = 1.0,
    street_share_min: float = 0.5,
    tolerance_m2: float = 0.01,
    tolerance_m: float = 0.01,
    building_share_min: float = BUILDING_SHARE_MIN,
    scheme: CodeScheme | dict[str, Any] | None = None,
    width_tolerance_m: float | None = None,
    check_building_codes: bool | None = None,
) -> gpd.GeoDataFrame:
    """Check a grid layer for coverage, geometry, code, building, households and street problems.

    Parameters
    ----------
    grids
        Any grid layer: a gridgeo plan's ``grids`` or a hand-drawn one. Its code and community columns
        may be missing (findings ``missing_code`` / ``missing_community``).
    communities
        The communities (社区 / 村) the grids tile, with a 12-digit ``code`` and optionally ``kind``.
        Without it, the checks needing communities are skipped (a ``check_skipped`` finding says so)
        and gaps are only the holes enclosed by grids.
    buildings
        Footprints or points, optionally with ``building_id`` and ``households``: buildings in no grid,
        in two grids or cut by a boundary; households per grid against the rules' bounds. With
        ``grid_code`` / ``subgrid_code`` (as a plan's buildings carry them, for dispatch and public
        security), each is compared with the grid / small grid the building lies in
        (``building_code_mismatch``).
    streets
        Street lines: the share of each grid's boundary (community boundary excluded) within
        ``rules.street_snap_m`` of a street, flagged below ``street_share_min``.
    subgrids
        Small grids (小网格) with ``subgrid_code`` and ``grid_code``: nesting, overlaps, codes, households.
    rules
        A :class:`~gridgeo.rules.Rules`, a profile name or a TOML path (default: urban); rural
        communities use :func:`~gridgeo.rules.rules_for_kind`.
    code_column, community_column
        Names of the grid code and community code columns of ``grids``.
    gap_width_m
        Edges of neighbouring grids closer than this without matching are ``near_coincident_edges``.
    street_share_min
        Least share (0–1) of a grid's inner boundary that should follow streets.
    tolerance_m2, tolerance_m
        Overlap, gap and outside pieces smaller than ``tolerance_m2`` or thinner (mean width) than
        ``tolerance_m`` are numeric noise, not findings.
    building_share_min
        Least share of a footprint that counts as being in a grid (for ``building_cut`` and
        assignment).
    scheme
        The :class:`~gridgeo.codes.CodeScheme` the codes follow (a plan stores its own under
        ``code_scheme``); default: 12-digit community code + 3-digit grid + 2-digit small grid.
    width_tolerance_m
        Overlap, gap, outside and crossing pieces narrower than this everywhere (no inscribed circle of
        this diameter) are ``info``, not errors: the centimetre slivers left along long edges when one
        layer's edges are straight in degrees and the other's in metres. Default: the rules'
        ``width_tolerance_m`` (0.1 m); 0 keeps every piece an error.
    check_building_codes
        Compare the codes the buildings carry with the grids they lie in: ``None`` (default) when the
        buildings have the ``grid_code`` (and, with ``subgrids``, ``subgrid_code``) column, silently not
        otherwise (a bare footprint layer beside a hand-drawn grid layer carries none); ``True`` when they
        should carry them (a plan's buildings: :func:`validate_plan`), a ``check_skipped`` finding naming
        the missing column otherwise; ``False`` never.

    Returns
    -------
    GeoDataFrame
        Findings (columns of :data:`gridgeo._findings.FINDING_COLUMNS` and geometry) in the grids' CRS,
        sorted by the order of :data:`FINDING_TYPES`, then community and feature id.

    Examples
    --------
    >>> from shapely import box
    >>> grids = gpd.GeoDataFrame({"grid_code": ["420102001001001", "420102001001001"]},
    ...                          geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)], crs=4547)
    >>> validate_grids(grids)[["type", "feature_id"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'type': 'duplicate_code', 'feature_id': '420102001001001'},
     {'type': 'missing_community', 'feature_id': None},
     {'type': 'check_skipped', 'feature_id': None}]
    """
    func = "validate_grids"
    require_layers(func, {"grids": grids, "communities": communities, "buildings": buildings, "streets": streets,
                          "subgrids": subgrids})
    if len(grids) == 0:
        msg = f"{func}: the grid layer has no features; check the file and --layer"
        raise InputError(msg)
    rules = load_rules(rules)
    width_tolerance_m = rules.width_tolerance_m if width_tolerance_m is None else width_tolerance_m
    for name, value in (("gap_width_m", gap_width_m), ("tolerance_m2", tolerance_m2), ("tolerance_m", tolerance_m),
                        ("width_tolerance_m", width_tolerance_m)):
        if not (isinstance(value, (int, float)) and value >= 0):
            msg = f"{func}: {name} must be a number >= 0, got {value!r}"
            raise InputError(msg)
    if not 0 <= street_share_min <= 1 or not 0 <= building_share_min < 0.5:
        msg = (f"{func}: street_share_min must be in [0, 1] and building_share_min in [0, 0.5), "
               f"got {street_share_min!r} and {building_share_min!r}")
        raise InputError(msg)
    scheme = scheme if isinstance(scheme, CodeScheme) else CodeScheme.from_dict(scheme) if scheme else CodeScheme()
    crs = _choose_metric(grids)
    tol2, tol = float(tolerance_m2), float(tolerance_m)
    records: list[dict] = []

    layer = _prepare_polygons(grids, crs, layer="grids", code_column=code_column, records=records, tolerance_m2=tol2,
                              check_multipart=False)
    comms = _prepare_communities(communities, crs, community_column, records, tol2) if communities is not None else None
    present = community_column in grids.columns
    declared = (np.array([_as_code(v) for v in grids[community_column]], dtype=object) if present
                else np.full(len(grids), None, dtype=object))
    comm_pos, comm_code = _assign_communities(layer, declared, comms, records, layer="grids",
                                              community_column=community_column, column_present=present, tolerance_m2=tol2)
    comm_kind = np.array([comms.kinds[p] if (comms is not None and p >= 0) else "urban" for p in comm_pos], dtype=object)
    # a grid in separate parts is excused where each part lies in its own part of its community
    multipart_check(layer, records, tol2,
                    containers=None if comms is None else np.array([comms.geoms[p] if p >= 0 else None for p in comm_pos],
                                                                   dtype=object),
                    container_names=np.array([f"community {c}" if c is not None else None for c in comm_code], dtype=object),
                    communities=comm_code)

    if comms is not None:  # wrapped round other grids: holes the community does not have (as the quality table counts)
        enclosure_check(layer, records, level="grids", codes=comm_code,
                        containers=np.array([comms.geoms[p] if p >= 0 else None for p in comm_pos], dtype=object),
                        kinds=grids["kind"].to_numpy(dtype=object) if "kind" in grids.columns else None)
    coverage_start = len(records)
    if comms is not None:
        # communities that overlap each other make their grids overlap too: say so, as a warning
        start = len(records)
        _overlaps(comms.layer, comms.codes, records, tol2, tol, gap_width_m)
        for r in records[start:]:
            r["severity"] = "warning"
            r["community_code"] = None
            r["message"] += "; grids clipped to them overlap there too: fix the communities layer"
    grid_parents = np.array([None if c is None else scheme.prefix + c for c in comm_code], dtype=object)
    _code_findings(layer, grid_parents, comm_code, records, code_column=code_column,
                   column_present=code_column in grids.columns, level="grid", scheme=scheme)
    if "kind" in grids.columns:
        _kind_range(layer, grids["kind"].to_numpy(dtype=object), comm_code, scheme, records)
    pieces, ov_l, ov_r = _overlaps(layer, comm_code, records, tol2, tol, gap_width_m)
    _gaps(layer, comms, records, tol2, tol, gap_width_m, pieces)
    if comms is not None:
        _outside(layer, comm_pos, comm_code, comms, records, tol2, tol, gap_width_m)
    else:
        records.append(_rec("check_skipped", "grids", None, None,
                            message="no communities layer: gaps at community edges, outside_community and crosses_communities "
                                    "not checked; give the communities the grids tile (--communities PATH, communities= "
                                    "in Python) to run them"))
    _narrow_is_info(records, coverage_start, float(width_tolerance_m))
    _near_coincident(layer, comm_pos, comm_code, comms, records, tol, gap_width_m)

    sub_layer = None
    if subgrids is not None:
        sub_layer = _prepare_polygons(subgrids, crs, layer="subgrids", code_column="subgrid_code", records=records,
                                      tolerance_m2=tol2, check_multipart=False)
        sub_declared = (np.array([_as_code(v) for v in subgrids["grid_code"]], dtype=object) if "grid_code" in subgrids.columns
                        else np.full(len(subgrids), None, dtype=object))
        parent = _subgrid_nesting(sub_layer, sub_declared, layer, comm_code, records, tol2, tol)
        sub_comm = np.array([comm_code[p] if p >= 0 else None for p in parent], dtype=object)
        multipart_check(sub_layer, records, tol2,
                        containers=np.array([layer.geoms[p] if p >= 0 and layer.usable[p] else None for p in parent], dtype=object),
                        container_names=np.array([f"grid {layer.ids[p]}" if p >= 0 else None for p in parent], dtype=object),
                        communities=sub_comm)
        enclosure_check(sub_layer, records, level="subgrids", codes=sub_comm,
                        containers=np.array([layer.geoms[p] if p >= 0 and layer.usable[p] else None for p in parent],
                                            dtype=object))
        # codes are checked against the grid a small grid lies in (its declared grid when it lies in none)
        parent_codes = np.array([layer.codes[p] if p >= 0 else sub_declared[i] for i, p in enumerate(parent)], dtype=object)
        _code_findings(sub_layer, parent_codes, sub_comm, records, code_column="subgrid_code",
                       column_present="subgrid_code" in subgrids.columns, level="subgrid",
                       scheme=scheme)
        _overlaps(sub_layer, sub_comm, records, tol2, tol, gap_width_m)

    if buildings is not None:
        carried = _codes_carried(buildings, records, check_building_codes, subgrids=sub_layer is not None)
        check_codes = check_building_codes is not False
        counted = bool({"households", "floors", "height"} & set(buildings.columns))  # what partition counts households from
        # nulls estimated as the partition estimates them (one implementation of households)
        hh = households_of(buildings, metric=crs, rules=rules) if counted else None
        units = None
        if counted or (check_codes and carried["grid_code"] is not None):
            # footprint units as the partition finds them when the layer has none (a plan's own unit_id otherwise):
            # a member of a unit is judged by where its unit lies
            units = unit_labels(buildings, rules=rules, households=hh)
        assigned, named_cut = _buildings_check(layer, comm_code, buildings, crs, pieces, ov_l, ov_r, records,
                                               building_share_min, carried["grid_code"], check_codes, units=units)
        if sub_layer is not None:
            sub_assigned = _subgrid_cut_check(sub_layer, parent, layer, comm_code, buildings, crs, records,
                                              building_share_min, named_cut, carried["subgrid_code"], check_codes,
                                              carried_grid=carried["grid_code"], units=units)
        if counted:
            exempt = (np.array([str(k) == "dedicated" for k in grids["kind"]]) if "kind" in grids.columns
                      else np.zeros(len(grids), dtype=bool))
            from ..partition.metrics import FORCED_UNDER_FLOOR

            # the flag is the engine's claim stored in the plan (community.forced_under_floor), not a proof
            # validate makes: it only turns a one-unit grid's out-of-bounds warning into info, saying so
            forced = (grids["flags"].fillna("").astype(str).str.contains(FORCED_UNDER_FLOOR, regex=False).to_numpy()
                      if "flags" in grids.columns else None)
            _households_check(layer, comm_code, comm_kind, assigned, hh, units, rules, records, exempt=exempt, small=False,
                              container=np.asarray(comm_code, dtype=object), forced=forced)
            if sub_layer is not None:
                sub_kind = np.array([comm_kind[p] if p >= 0 else "urban" for p in parent], dtype=object)
                # honest small grids (as the quality figures): excused only when the units of the whole
                # community admit no small grids, whatever base grids were drawn
                _households_check(sub_layer, sub_comm, sub_kind, sub_assigned, hh, units, rules, records,
                                  exempt=np.zeros(len(subgrids), dtype=bool), small=True,
                                  container=np.asarray(sub_comm, dtype=object))
        else:
            records.append(_rec("check_skipped", "buildings", None, None,
                                message="buildings have no 'households', 'floors' or 'height' column: households per grid not checked"))
    if streets is not None:
        _street_share(layer, comm_pos, comm_code, comms, streets, crs, rules.street_snap_m, street_share_min, records, tol)

    if comms is not None:
        _outside_communities(records, comms.geoms, building_share_min)
    return _finish(records, crs, grids.crs)


def _codes_carried(buildings: gpd.GeoDataFrame, records: list, check: bool | None, *,
                   subgrids: bool) -> dict[str, np.ndarray | None]:
    """The ``grid_code`` and ``subgrid_code`` the buildings carry (None: no such column); with ``check`` True
    (``check_building_codes`` of :func:`validate_grids`), a ``check_skipped`` finding for those absent."""
    out = {"grid_code": _carried(buildings, "grid_code"),
           "subgrid_code": _carried(buildings, "subgrid_code") if subgrids else None}
    absent = [(c, w) for c, w, wanted in (("grid_code", "grid", True), ("subgrid_code", "small grid", subgrids))
              if wanted and out[c] is None]
    if absent and check:
        cols = " or ".join(f"'{c}'" for c, _ in absent)
        words = " and ".join(w for _, w in absent)
        records.append(_rec("check_skipped", "buildings", None, None,
                            message=f"buildings have no {cols} column: the {words} code each building carries is not "
                                    f"compared with the {words} it lies in"))
    return out


def validate_plan(
    plan: Any,
    *,
    communities: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    subgrids: gpd.GeoDataFrame | None = None,
    rules: Rules | str | None = None,
    **options: Any,
) -> gpd.GeoDataFrame:
    """Check a gridgeo plan as ``gridgeo validate PLAN`` does (and as ``gridgeo partition`` does before writing).

    The plan's grids, small grids, communities and buildings are checked in the metric CRS the plan was
    computed in (its stored edges are exact projections of edges straight there), with the plan's own
    rules and code scheme.

    Parameters
    ----------
    plan
        A :class:`gridgeo.plan.Plan` with a ``grids`` layer (in any CRS: as stored or as computed).
    communities, buildings, streets, subgrids
        Layers to check instead of (communities, buildings, subgrids) or beside (streets) the plan's
        own; taken into the plan's metric CRS.
    rules
        Rules instead of the plan's own.
    options
        Further keywords of :func:`validate_grids` (``gap_width_m``, ``code_column``, ...).

    Returns
    -------
    GeoDataFrame
        Findings, in the CRS of the plan's grids layer.
    """
    if "grids" not in plan.layers:
        msg = f"validate_plan: the plan has no grids layer (stage {plan.metadata.get('stage')!r}); run `gridgeo partition` first"
        raise InputError(msg)
    layers = {k: plan.layers[k] for k in ("grids", "communities", "buildings", "subgrids") if k in plan.layers}
    for name, given in (("communities", communities), ("buildings", buildings), ("streets", streets),
                        ("subgrids", subgrids)):
        if given is not None:
            layers[name] = given
    stored_crs = layers["grids"].crs
    metric = plan.metadata.get("metric_crs")
    if metric:
        # taking a 6 km edge as straight in degrees would bend it by centimetres against its neighbours
        layers = {k: (v.to_crs(metric) if v.crs is not None else v) for k, v in layers.items()}
    if rules is None and "rules" in plan.metadata:
        rules = Rules.from_dict(plan.metadata["rules"], source="the plan's metadata")
    # a plan's buildings carry their grid and small-grid codes (what other systems import): say when they do not
    options.setdefault("check_building_codes", True)
    findings = validate_grids(layers["grids"], communities=layers.get("communities"), buildings=layers.get("buildings"),
                              streets=layers.get("streets"), subgrids=layers.get("subgrids"), rules=rules,
                              scheme=plan.metadata.get("code_scheme"), **options)
    if stored_crs is not None and findings.crs is not None and findings.crs != stored_crs:
        findings = findings.to_crs(stored_crs)
    return findings


def repair_plan(
    plan: Any,
    *,
    communities: gpd.GeoDataFrame | None = None,
    **options: Any,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Repair a plan's grids as ``gridgeo validate PLAN --repair`` does.

    The grids are repaired in the metric CRS the plan was computed in (as :func:`validate_plan` checks
    them) against the plan's communities (or ``communities``), then stored as a plan stores its grids
    (shared vertices, 50 m edge pieces, EPSG:4490); the change log is in that CRS too.

    Parameters
    ----------
    plan
        A :class:`gridgeo.plan.Plan` with a ``grids`` layer.
    communities
        Communities instead of the plan's own.
    options
        Further keywords of :func:`repair_grids` (``code_column``, ``gap_width_m`` ...).
    """
    if "grids" not in plan.layers:
        msg = f"repair_plan: the plan has no grids layer (stage {plan.metadata.get('stage')!r}); run `gridgeo partition` first"
        raise InputError(msg)
    grids = plan.layers["grids"]
    if communities is None:
        communities = plan.layers.get("communities")
    if communities is None:
        msg = "--repair needs the communities (to clip grids and find gaps); pass --communities PATH"
        raise InputError(msg)
    stored_crs = grids.crs
    metric = plan.metadata.get("metric_crs")
    if metric:
        grids, communities = grids.to_crs(metric), communities.to_crs(metric)
    fixed, log = repair_grids(grids, communities=communities, **options)
    if metric:  # stored as a plan stores its grids (shared vertices, 50 m pieces)
        from ..plan import densify, share_vertices, to_storage

        fixed = to_storage(densify(share_vertices({"grids": fixed}))["grids"])
        log = log.to_crs(stored_crs) if getattr(log, "crs", None) is not None else log
    return fixed, log


from .._callable import make_callable  # noqa: E402 - the module is made callable once everything in it is defined

make_callable(__name__)
