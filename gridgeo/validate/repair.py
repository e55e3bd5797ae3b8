"""Repair of a grid layer's coverage: :func:`repair_grids` (also :func:`gridgeo.validate.repair_grids`).

Per community, the grids are clipped to the community, and the community is cut into *faces* by all
grid boundaries and its own boundary (noded and polygonized, so neighbouring faces share identical
vertices). Every face is then given to exactly one grid:

1. a face inside one grid stays with it;
2. a face inside several grids (an overlap) goes to a grid that has no face of its own when there is one
   (a grid drawn on top of another, such as a dedicated grid (专属网格) over a base grid, is carved
   out), else to the grid sharing the longest boundary with it;
3. a face in no grid (a gap) goes to the neighbouring grid sharing the longest boundary with it.

For slivers (mean width under ``gap_width_m``) the grids sharing at least half the longest boundary
tie, and the tie goes to the lowest code for an overlap and the highest code for a gap: along a badly
matched shared edge the lower-coded grid's line is kept and its neighbour snaps to it.

Each grid becomes the union of its faces, so the result tiles every community exactly, with
matching vertices along shared edges. Grids are never dropped: a grid left without faces (an exact
duplicate, or one wholly covered by others) keeps its row with an empty geometry, and the log says
so; a grid lying in no community, or wholly outside its own, is left as it is (and still reported
by validation, for a person to decide). Topology is computed in the grids' own CRS (so the coverage is exact in the stored
coordinates); areas and lengths in the metric CRS.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely import Polygon

from .._errors import InputError
from .._geometry import inner_points, polygonal
from ..crs import require_layers
from .layers import (
    _as_code,
    _assign_communities,
    _choose_metric,
    _fix,
    _metric_geoms,
    _prepare_communities,
    _prepare_polygons,
    _units_m,
)

__all__ = ["repair_grids", "LOG_COLUMNS"]

#: columns of the repair log
LOG_COLUMNS = ["grid_code", "community_code", "action", "area_m2", "detail"]


def _segments(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ring segment of every face: (face index, [x0, y0, x1, y1] canonical order)."""
    rings, ridx = shapely.get_rings(faces, return_index=True)
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    same = cidx[:-1] == cidx[1:]
    a, b = coords[:-1][same], coords[1:][same]
    face = ridx[cidx[:-1][same]]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    return face, np.hstack([lo, hi])


def _adjacency(faces: np.ndarray, to_metric: Transformer | None) -> pd.DataFrame:
    """Shared boundary length (metres) between faces that share segments: columns a, b, length."""
    face, seg = _segments(faces)
    if len(face) == 0:
        return pd.DataFrame({"a": [], "b": [], "length": []})
    if to_metric is not None:
        x0, y0 = to_metric.transform(seg[:, 0], seg[:, 1])
        x1, y1 = to_metric.transform(seg[:, 2], seg[:, 3])
        length = np.hypot(np.asarray(x1) - x0, np.asarray(y1) - y0)
    else:
        length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    df = pd.DataFrame({"x0": seg[:, 0], "y0": seg[:, 1], "x1": seg[:, 2], "y1": seg[:, 3], "face": face, "length": length})
    df = df.drop_duplicates(["x0", "y0", "x1", "y1", "face"])
    key = df.groupby(["x0", "y0", "x1", "y1"], sort=False).ngroup().to_numpy()
    df["key"] = key
    counts = np.bincount(key)
    shared = df[counts[key] == 2].sort_values(["key", "face"])
    firsts = shared.iloc[0::2]
    seconds = shared.iloc[1::2]
    pairs = pd.DataFrame({"a": firsts["face"].to_numpy(), "b": seconds["face"].to_numpy(), "length": firsts["length"].to_numpy()})
    pairs = pairs.groupby(["a", "b"], as_index=False)["length"].sum()
    both = pd.concat([pairs, pairs.rename(columns={"a": "b", "b": "a"})], ignore_index=True)
    return both


def _faces(community: Any, clipped: np.ndarray, grid_size: float) -> tuple[np.ndarray, Any, np.ndarray]:
    """Faces of the community cut by all grid boundaries, with the rounded community and grids.

    Noding is snap-rounded to ``grid_size`` (a fraction of a millimetre): grid vertices that lie on a
    community edge in one CRS but a hair off it in another would otherwise leave hairline faces.
    """
    community = shapely.set_precision(community, grid_size)
    clipped = _round(clipped, grid_size)
    lines = [shapely.boundary(community), *shapely.boundary(clipped[~shapely.is_empty(clipped)])]
    noded = shapely.union_all(np.array(lines, dtype=object), grid_size=grid_size)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces) == 0:
        return faces, community, clipped
    inside = shapely.contains(community, inner_points(faces))
    unsure = np.flatnonzero(~inside)
    if len(unsure):  # a point on the surface of a thin face can miss: decide by area
        share = shapely.area(shapely.intersection(faces[unsure], community)) / shapely.area(faces[unsure])
        inside[unsure[share > 0.5]] = True
    return faces[inside], community, clipped


def _round(geoms: np.ndarray, grid_size: float) -> np.ndarray:
    return polygonal(shapely.set_precision(geoms, grid_size), normalise=False)


def _assign(faces: np.ndarray, cand_face: np.ndarray, cand_grid: np.ndarray, codes: list[str], adj: pd.DataFrame,
            sliver: np.ndarray, area: np.ndarray, rep_xy: np.ndarray, dust: np.ndarray) -> np.ndarray:
    """Owner (local grid index) of every face; -1 when a gap face borders no grid at all."""
    nf = len(faces)
    owner = np.full(nf, -1, dtype=int)
    cands: list[list[int]] = [[] for _ in range(nf)]
    for f, g in zip(cand_face, cand_grid):
        cands[f].append(int(g))
    ncand = np.array([len(c) for c in cands])
    single = np.flatnonzero(ncand == 1)
    owner[single] = [cands[f][0] for f in single]
    has_own = set(owner[single].tolist())
    nbrs: list[list[tuple[int, float]]] = [[] for _ in range(nf)]
    for a, b, length in zip(adj["a"].to_numpy(), adj["b"].to_numpy(), adj["length"].to_numpy()):
        nbrs[a].append((int(b), float(length)))
    # deterministic order: large faces first, then by position (north to south, west to east)
    order = np.lexsort((rep_xy[:, 0], -rep_xy[:, 1], -area))

    def border(f: int) -> dict[int, float]:
        out: dict[int, float] = {}
        for nb, length in nbrs[f]:
            o = owner[nb]
            if o >= 0:
                out[o] = out.get(o, 0.0) + length
        return out

    for f in order:
        if ncand[f] < 2:
            continue
        cs = sorted(cands[f], key=lambda g: codes[g])
        orphans = [g for g in cs if g not in has_own]
        if orphans:
            owner[f] = orphans[0]
            continue
        b = border(f)
        best = max(b.get(g, 0.0) for g in cs)
        if sliver[f] and best > 0:
            owner[f] = min((g for g in cs if b.get(g, 0.0) >= 0.5 * best), key=lambda g: codes[g])
        else:
            owner[f] = max(cs, key=lambda g: (b.get(g, 0.0), [-ord(ch) for ch in codes[g]]))
    gaps = [f for f in order if ncand[f] == 0 and not dust[f]]
    while gaps:
        left = []
        for f in gaps:
            b = border(f)
            if not b:
                left.append(f)
                continue
            best = max(b.values())
            if sliver[f]:
                near = [g for g, length in b.items() if length >= 0.5 * best]
                owner[f] = max(near, key=lambda g: codes[g])
            else:
                owner[f] = max(b, key=lambda g: (b[g], [-ord(ch) for ch in codes[g]]))
        if len(left) == len(gaps):
            break
        gaps = left
    # a hairline face inside one grid only, bordering none of that grid's other faces (snap-rounding between two
    # nearly coincident edges: a community's straight edge in degrees 2 mm above its neighbour's) would be a
    # part of its own: it goes to the grid it borders most
    for f in order:
        if dust[f] and ncand[f] == 1:
            b = border(f)
            if b and owner[f] not in b:
                owner[f] = max(b, key=lambda g: (b[g], [-ord(ch) for ch in codes[g]]))
    return owner


def repair_grids(
    grids: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame,
    code_column: str = "grid_code",
    community_column: str = "community_code",
    gap_width_m: float = 1.0,
    tolerance_m2: float = 0.01,
    tolerance_m: float = 0.01,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Mend a grid layer's coverage so it tiles every community exactly (无缝覆盖, 不交叉重叠, 不跨社区).

    Invalid grids are made valid; each grid is clipped to its community (declared, or of largest
    overlap); overlaps and gaps are given to one grid each (see :mod:`gridgeo._repair` for the rule:
    the neighbour sharing the longest boundary, a grid drawn on top of another carved out, slivers
    narrower than ``gap_width_m`` snapped to the lower-coded neighbour's line). No grid and no column
    is dropped; buildings are not touched.

    Parameters
    ----------
    grids
        Any grid layer (see :func:`gridgeo.validate.validate_grids`).
    communities
        The communities with a ``code`` column; required.
    code_column, community_column
        The grids' code and community code columns (either may be missing).
    gap_width_m
        Overlap and gap faces thinner than this (mean width) are slivers.
    tolerance_m2, tolerance_m
        Gap faces smaller or thinner (mean width) than these are numeric dust and left to no grid
        (the same tolerances as :func:`~gridgeo.validate.validate_grids`); smaller changes are not logged.

    Returns
    -------
    (GeoDataFrame, DataFrame)
        The repaired grids (same rows, columns and CRS; ``community_code`` filled where it was
        inferred; ``area_m2`` recomputed when present) and a log with one row per change: columns
        :data:`LOG_COLUMNS` (``action`` one of ``made_valid``, ``community_set``, ``clipped``,
        ``overlap_given``, ``gap_filled``, ``emptied``, ``multipart``; and for grids left as they
        are: ``no_community``, ``outside_community`` (wholly outside its community),
        ``unusable_geometry``).

    Examples
    --------
    >>> from shapely import box
    >>> comm = gpd.GeoDataFrame({"code": ["420102001001"]}, geometry=[box(0, 0, 20, 10)], crs=4547)
    >>> grids = gpd.GeoDataFrame({"grid_code": ["420102001001001", "420102001001002"]},
    ...                          geometry=[box(0, 0, 12, 10), box(11, 0, 19, 10)], crs=4547)
    >>> fixed, log = repair_grids(grids, communities=comm)
    >>> fixed.area.round(6).tolist()
    [120.0, 80.0]
    >>> log[["grid_code", "action", "area_m2"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'grid_code': '420102001001001', 'action': 'community_set', 'area_m2': nan},
     {'grid_code': '420102001001002', 'action': 'community_set', 'area_m2': nan},
     {'grid_code': '420102001001002', 'action': 'overlap_given', 'area_m2': 10.0},
     {'grid_code': '420102001001002', 'action': 'gap_filled', 'area_m2': 10.0}]
    """
    func = "repair_grids"
    require_layers(func, {"grids": grids})
    if communities is None:
        msg = f"{func}: communities are required to repair (gaps and clipping are per community); give --communities"
        raise InputError(msg)
    require_layers(func, {"communities": communities})
    if len(grids) == 0:
        msg = f"{func}: the grid layer has no features; nothing to repair"
        raise InputError(msg)
    metric = _choose_metric(grids)
    native = CRS.from_user_input(grids.crs)
    to_metric = None if native == metric else Transformer.from_crs(native, metric, always_xy=True)
    scratch: list[dict] = []
    # snap-rounding grid: a fortieth of the distance tolerance (0.25 mm), in the grids' own units
    grid_size = tolerance_m / 40 / _units_m(native)

    # community of each grid, decided in metric (areas), as validate_grids does
    mlayer = _prepare_polygons(grids, metric, layer="grids", code_column=code_column, records=scratch, tolerance_m2=tolerance_m2)
    mcomms = _prepare_communities(communities, metric, community_column, scratch, tolerance_m2)
    present = community_column in grids.columns
    declared = (np.array([_as_code(v) for v in grids[community_column]], dtype=object) if present
                else np.full(len(grids), None, dtype=object))
    comm_pos, comm_code = _assign_communities(mlayer, declared, mcomms, scratch, layer="grids", community_column=community_column,
                                              column_present=present, tolerance_m2=tolerance_m2)
    ids = mlayer.ids
    codes = [str(i) for i in ids]

    # topology in the grids' own CRS
    cgeoms = _metric_geoms(communities, native)  # (densified reprojection into the grids' CRS)
    cgeoms = _fix(np.where(shapely.is_missing(cgeoms), Polygon(), cgeoms))
    original = grids.geometry.to_numpy()
    geoms = _fix(np.where(shapely.is_missing(original), Polygon(), original))
    out_geoms = original.copy()
    log: list[dict] = []

    def area_m(g: Any) -> float:
        if g is None or shapely.is_empty(g):
            return 0.0
        if to_metric is None:
            return float(shapely.area(g))
        # densified first, as validate measures (_metric_geoms): a polygon and its clipped copy, which has
        # more vertices along the same edges, would otherwise differ by the edges' bending (0.3 m² on 600 m)
        return float(_metric_geoms(gpd.GeoSeries([g], crs=native), metric)[0].area)

    def add(i: int, action: str, area: float | None = None, detail: str = "") -> None:
        log.append({"grid_code": ids[i], "community_code": comm_code[i], "action": action,
                    "area_m2": np.nan if area is None else round(float(area), 6), "detail": detail})

    for i in range(len(grids)):
        if not mlayer.usable[i]:
            add(i, "unusable_geometry", None, "empty or not a polygon; left as it is")
            continue
        if not shapely.is_valid(original[i]):
            add(i, "made_valid", None, str(shapely.is_valid_reason(original[i])))
        if comm_code[i] is not None and comm_code[i] != declared[i]:
            add(i, "community_set", None, f"{declared[i] or 'none'} -> {comm_code[i]}")
        if comm_pos[i] < 0:
            add(i, "no_community", None, "lies in no community; left as it is")

    for c in sorted(set(comm_pos[comm_pos >= 0].tolist()), key=lambda k: str(mcomms.codes[k])):
        members = np.flatnonzero((comm_pos == c) & mlayer.usable)
        community = cgeoms[c]
        clipped = polygonal(shapely.intersection(geoms[members], community), normalise=False)
        outside = np.array([area_m(g) < tolerance_m2 for g in clipped], dtype=bool)
        for g in members[outside]:
            add(g, "outside_community", area_m(geoms[g]), f"wholly outside community {mcomms.codes[c]}; left as it is")
        members, clipped = members[~outside], clipped[~outside]
        if len(members) == 0:
            continue
        for j, g in enumerate(members):
            lost = area_m(geoms[g]) - area_m(clipped[j])
            if lost >= tolerance_m2:
                add(g, "clipped", lost, f"outside community {mcomms.codes[c]}")
        faces, community_r, clipped_r = _faces(community, clipped, grid_size)
        if len(faces) == 0:
            for g in members:  # pragma: no cover - a degenerate community
                add(g, "no_community", None, f"community {mcomms.codes[c]} has no area; left as it is")
            continue
        reps = inner_points(faces)
        tree = shapely.STRtree(clipped_r)
        cand_face, cand_grid = tree.query(reps, predicate="within")
        fm = gpd.GeoSeries(faces, crs=native).to_crs(metric).to_numpy() if to_metric is not None else faces
        farea, fperim = shapely.area(fm), shapely.length(fm)
        width = np.divide(2 * farea, fperim, out=np.zeros_like(farea), where=fperim > 0)
        sliver = width < gap_width_m
        # hairline dust that snap-rounding left (thinner than a tenth of tolerance_m): left to no
        # grid, as giving it away would grow spikes that collapse when reprojected
        dust = width < tolerance_m / 10
        adj = _adjacency(faces, to_metric)
        local_codes = [codes[g] for g in members]
        owner = _assign(faces, cand_face, cand_grid, local_codes, adj, sliver, farea, shapely.get_coordinates(reps), dust)

        # log overlap given away and gaps filled
        given: dict[tuple[int, int], float] = {}
        filled: dict[int, float] = {}
        cand_sets: dict[int, set[int]] = {}
        for f, g in zip(cand_face, cand_grid):
            cand_sets.setdefault(int(f), set()).add(int(g))
        for f in range(len(faces)):
            o = int(owner[f])
            cs = cand_sets.get(f, set())
            if not cs and o >= 0:
                filled[o] = filled.get(o, 0.0) + farea[f]
            for g in cs:
                if g != o and o >= 0:
                    given[(g, o)] = given.get((g, o), 0.0) + farea[f]
        for (g, o), a in sorted(given.items(), key=lambda kv: (local_codes[kv[0][0]], local_codes[kv[0][1]])):
            add(members[g], "overlap_given", a, f"to {local_codes[o]}")
        for g, a in sorted(filled.items(), key=lambda kv: local_codes[kv[0]]):
            if a >= tolerance_m2:
                add(members[g], "gap_filled", a, "")
        for j, g in enumerate(members):
            mine = faces[owner == j]
            if len(mine) == 0:
                out_geoms[g] = Polygon()
                add(g, "emptied", area_m(geoms[g]), "wholly covered by other grids; kept with an empty geometry")
                continue
            try:
                merged = shapely.coverage_union_all(mine)
            except shapely.errors.GEOSException:  # pragma: no cover - faces form a coverage by construction
                merged = shapely.union_all(mine)
            if not shapely.is_valid(merged):  # pragma: no cover
                merged = shapely.union_all(mine)
            merged = polygonal(merged, normalise=False)
            if shapely.get_type_id(merged) == shapely.GeometryType.MULTIPOLYGON and shapely.get_num_geometries(merged) == 1:
                merged = shapely.get_geometry(merged, 0)
            out_geoms[g] = merged
            nparts = shapely.get_num_geometries(merged)
            if nparts > 1:
                add(g, "multipart", None, f"{nparts} parts after repair")

    repaired = grids.copy()
    repaired[repaired.geometry.name] = gpd.GeoSeries(out_geoms, index=grids.index, crs=grids.crs)
    if present or (comm_code != None).any():  # noqa: E711 - elementwise
        filled_codes = [c if c is not None else (d if d is not None else None) for c, d in zip(comm_code, declared)]
        repaired[community_column] = pd.Series(filled_codes, index=grids.index, dtype=object)
    if "area_m2" in repaired.columns:
        repaired["area_m2"] = repaired.geometry.to_crs(metric).area.round(2).to_numpy() if to_metric is not None else repaired.geometry.area.round(2)
    log_df = pd.DataFrame(log, columns=LOG_COLUMNS)
    order = {"unusable_geometry": 0, "made_valid": 1, "community_set": 2, "no_community": 3, "outside_community": 4,
             "clipped": 5, "overlap_given": 6, "gap_filled": 7, "emptied": 8, "multipart": 9}
    log_df["_o"] = log_df["action"].map(order)
    log_df = log_df.sort_values(["grid_code", "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return repaired, log_df
