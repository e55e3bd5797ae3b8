"""Messy community boundaries (村级界线): slivers of overlap and hairline gaps between neighbours.

Official community layers come with overlaps and gaps where neighbours meet, metres wide at most, and
are still the official boundaries (DESIGN §7). :func:`boundary_slivers` finds them;
:func:`resolve_slivers` gives each one narrower than a tolerance (``rules.boundary_tolerance_m``,
default 2 m) to the neighbour sharing the longest boundary with it and records a finding with its area
and place; wider overlaps are an error naming the command that repairs the layer
(:func:`repair_communities`, ``gridgeo validate COMMUNITIES --repair FIXED.gpkg``), which reuses the
grid repair of :mod:`gridgeo.validate.repair` with the whole layer as one region.

Ties go as in :mod:`gridgeo.validate.repair`: an overlap to the lower code, a gap to the higher (so along a
badly matched shared edge the lower-coded community's line is kept). A piece is *narrower than* a tolerance when an inward buffer of half the tolerance leaves nothing of it
(it has no inscribed circle of that diameter). Gaps are the parts of the layer's outline closed by a
morphological closing of that width which touch two communities or more; a notch in one community's own
outline, a lake hole inside one community and a wide space between communities are left alone.
Everything is measured in the metric CRS.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from ._errors import InputError
from ._findings import make_findings
from ._geometry import make_valid, polygonal
from .crs import require_layers

__all__ = ["boundary_slivers", "open_channels", "resolve_slivers", "shifted_communities", "drop_crumbs", "validate_communities", "repair_communities",
           "REPAIR_COMMAND", "CRUMB_M2"]

#: the command that repairs a community layer, named in error messages
REPAIR_COMMAND = "gridgeo validate COMMUNITIES --repair FIXED.gpkg"

#: a separate part of a community smaller than this (m²) is a crumb of digitising (a loop where the outline
#: crosses itself): left out, with a finding (:func:`drop_crumbs`); under the 1 m² coverage goal
CRUMB_M2 = 1.0

#: how far a community drawn on GCJ-02 or BD-09 can lie off its land (GCJ-02 100–700 m, BD-09 up to ~1.2 km)
_SHIFT_REACH_M = 1500.0
#: an overlap piece narrower than this is no datum offset (the least, GCJ-02's, is 100 m)
_SHIFT_PIECE_M = 50.0
_NOISE_M2 = 1e-4  # pieces smaller than this are numeric dust: resolved, not reported
_TOUCH_M = 1e-3  # boundary within this distance counts as shared


def _narrow(pieces: np.ndarray, width_m: float) -> np.ndarray:
    """Whether each polygon has no inscribed circle of diameter ``width_m``."""
    if len(pieces) == 0:
        return np.zeros(0, dtype=bool)
    return shapely.is_empty(shapely.buffer(pieces, -width_m / 2.0, quad_segs=2, join_style="mitre"))


def _edge_zones(geoms: np.ndarray) -> np.ndarray:
    """Each polygon's boundary widened by 1 mm: where another's boundary counts as on it."""
    return shapely.buffer(shapely.boundary(geoms), _TOUCH_M, quad_segs=1)


def _shared(piece: Any, zones: np.ndarray) -> np.ndarray:
    """Length of ``piece``'s boundary lying on each boundary widened as :func:`_edge_zones` (within 1 mm)."""
    return shapely.length(shapely.intersection(shapely.boundary(piece), zones))


def _body(piece: Any) -> Any:
    """``piece`` without its hairlines under 2 mm wide (an opening by 1 mm, :data:`_TOUCH_M`), or ``piece`` when
    nothing that wide is left."""
    opened = shapely.buffer(shapely.buffer(piece, -_TOUCH_M, join_style="mitre"), _TOUCH_M, join_style="mitre")
    return piece if shapely.is_empty(opened) else opened


def _valid_geoms(communities: gpd.GeoDataFrame) -> np.ndarray:
    """The layer's geometries as an array, a missing one as an empty polygon and an invalid one made valid."""
    geoms = np.asarray(communities.geometry.to_numpy(), dtype=object)
    geoms = np.where(shapely.is_missing(geoms), shapely.Polygon(), geoms)
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        geoms = geoms.copy()
        geoms[bad] = make_valid(geoms[bad])
    return geoms


def boundary_slivers(communities: gpd.GeoDataFrame, *, tolerance_m: float = 2.0) -> gpd.GeoDataFrame:
    """Overlaps between communities and gaps narrower than ``tolerance_m`` between them.

    Parameters
    ----------
    communities
        Communities with a ``code`` column, in a metric (projected) CRS.
    tolerance_m
        Gaps narrower than this are found, and wider holes enclosed by two communities or more;
        overlaps of every width are; ``narrow`` tells which pieces are narrower than the tolerance.

    Returns
    -------
    GeoDataFrame
        One polygon per row: ``kind`` (``overlap`` or ``gap``), ``codes`` (the communities it touches,
        comma-separated), ``owner`` (the code of the community sharing the longest boundary with it),
        ``area_m2``, ``narrow`` (bool), geometry; in a stable order.

    Examples
    --------
    >>> from shapely import box
    >>> c = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"]},
    ...                      geometry=[box(0, 0, 100, 100), box(100.5, 0, 300, 100)], crs=4547)
    >>> s = boundary_slivers(c)
    >>> s[["kind", "codes", "owner", "area_m2", "narrow"]].values.tolist()
    [['gap', '420103001001,420103001002', '420103001002', 50.0, True]]
    """
    require_layers("boundary_slivers", {"communities": communities}, metric=True)
    geoms = _valid_geoms(communities)
    codes = communities["code"].astype(str).to_numpy()
    rows: list[dict] = []
    zones = _edge_zones(geoms)  # once: a hand-digitised layer has hundreds of slivers per boundary
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if len(left):
        meet = shapely.relate_pattern(geoms[left], geoms[right], "T********")
        left, right = left[meet], right[meet]
        pieces = shapely.intersection(geoms[left], geoms[right])
        parts, idx = shapely.get_parts(pieces, return_index=True)
        poly = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
        parts, idx = parts[poly], idx[poly]
        for p, i in zip(parts, idx, strict=True):
            a, b = left[i], right[i]
            # the part of the overlap's boundary on b's boundary borders what stays of a, and back
            on_b, on_a = _shared(p, zones[[b, a]])
            owner = a if (on_b, codes[b]) > (on_a, codes[a]) else b
            rows.append({"kind": "overlap", "codes": ",".join(sorted([codes[a], codes[b]])), "owner": codes[owner],
                         "geometry": p})
    union = shapely.union_all(geoms)
    half = tolerance_m / 2.0
    closed = shapely.buffer(shapely.buffer(union, half, join_style="mitre"), -half, join_style="mitre")
    if not shapely.is_valid(closed):  # GEOS's inward mitre buffer can cross itself where communities meet at a point
        closed = make_valid(closed)
    gaps = shapely.get_parts(shapely.difference(closed, union))
    gaps = gaps[shapely.get_type_id(gaps) == shapely.GeometryType.POLYGON]
    # holes left after the closing are wider gaps; reported (never resolved) when between communities
    rings = [ring for part in shapely.get_parts(closed) if part.geom_type == "Polygon" for ring in part.interiors]
    holes = shapely.polygons(np.array(rings, dtype=object)) if rings else np.array([], dtype=object)
    for g in np.concatenate([gaps, holes]):
        near = tree.query(g, predicate="dwithin", distance=_TOUCH_M)
        if len(near) < 2:
            continue
        shared = _shared(g, zones[near])
        touching = shared > _TOUCH_M
        if touching.sum() < 2:
            continue
        near, shared = near[touching], shared[touching]
        # a community the gap reaches only by a hairline (float slack between outlines, joined to the gap) does
        # not border its body: it would take the gap as a part hung on that hairline, so it is no candidate
        beside = _shared(_body(g), zones[near]) > _TOUCH_M
        best = max(np.flatnonzero(beside) if beside.any() else range(len(near)),
                   key=lambda k: (shared[k], codes[near[k]]))
        rows.append({"kind": "gap", "codes": ",".join(sorted(codes[near])), "owner": codes[near[best]], "geometry": g})
    out = gpd.GeoDataFrame(pd.DataFrame(rows, columns=["kind", "codes", "owner", "geometry"]), geometry="geometry",
                           crs=communities.crs)
    out = out[out.geometry.area >= _NOISE_M2]
    out["area_m2"] = out.geometry.area.round(3)
    out["narrow"] = _narrow(out.geometry.to_numpy(), tolerance_m)
    pts = shapely.point_on_surface(out.geometry.to_numpy())
    order = np.lexsort((shapely.get_x(pts), -shapely.get_y(pts), out["codes"].to_numpy(), out["kind"].to_numpy()))
    return out.iloc[order][["kind", "codes", "owner", "area_m2", "narrow", "geometry"]].reset_index(drop=True)


#: an open gap (:func:`open_channels`) is found up to this many boundary tolerances wide (10 m by default) ...
CHANNEL_TOLERANCES = 5.0
#: ... where it runs along two communities for this long each (m): a channel, not a notch where two outlines part
CHANNEL_LENGTH_M = 50.0


def open_channels(communities: gpd.GeoDataFrame, *, tolerance_m: float = 2.0) -> gpd.GeoDataFrame:
    """Gaps between communities open to the outside of the layer: channels from ``tolerance_m`` to
    :data:`CHANNEL_TOLERANCES` tolerances wide running along two communities or more for at least
    :data:`CHANNEL_LENGTH_M` each (two boundaries that should be one, drawn apart out to the layer's edge).

    :func:`boundary_slivers` finds gaps narrower than the tolerance and holes enclosed by communities; a channel at
    least as wide as the tolerance that reaches the outside is neither. Found by a closing of the layer's outline
    as wide as the widest channel, less what the tolerance's closing (holes filled) already covers; a notch in one
    community's outline touches one community and a short wedge where two outlines part runs along neither for
    long, so neither is one. Returns ``codes`` (comma-separated), ``owner`` (the community sharing the longest
    boundary with it), ``area_m2``, ``width_m`` (where widest: its largest inscribed circle's diameter), geometry; in a
    stable order.

    >>> from shapely import box
    >>> c = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"]},
    ...                      geometry=[box(0, 0, 100, 300), box(103, 0, 200, 300)], crs=4547)
    >>> open_channels(c)[["codes", "area_m2", "width_m"]].values.tolist()
    [['420103001001,420103001002', 900.0, 3.0]]
    """
    require_layers("open_channels", {"communities": communities}, metric=True)  # widths in metres
    columns = ["codes", "owner", "area_m2", "width_m", "geometry"]
    geoms = _valid_geoms(communities)
    union = shapely.union_all(geoms)

    def closing(width: float) -> Any:
        closed = shapely.buffer(shapely.buffer(union, width / 2.0, join_style="mitre"), -width / 2.0, join_style="mitre")
        return make_valid(closed) if not shapely.is_valid(closed) else closed

    parts = shapely.get_parts(closing(tolerance_m))
    covered = shapely.union_all(shapely.polygons(shapely.get_exterior_ring(parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON])))
    pieces = shapely.get_parts(shapely.difference(closing(CHANNEL_TOLERANCES * tolerance_m), shapely.union_all([union, covered])))
    pieces = pieces[(shapely.get_type_id(pieces) == shapely.GeometryType.POLYGON) & (shapely.area(pieces) >= _NOISE_M2)]
    empty = gpd.GeoDataFrame(pd.DataFrame(columns=columns), geometry="geometry", crs=communities.crs)
    if not len(pieces):
        return empty
    piece, near = shapely.STRtree(geoms).query(pieces, predicate="dwithin", distance=_TOUCH_M)
    shared = shapely.length(shapely.intersection(shapely.boundary(pieces[piece]), _edge_zones(geoms[near])))
    along = shared >= CHANNEL_LENGTH_M
    piece, near, shared = piece[along], near[along], shared[along]
    count = np.bincount(piece, minlength=len(pieces))
    codes = communities["code"].astype(str).to_numpy()
    rows = []
    for i in np.flatnonzero(count >= 2):
        mine = piece == i
        k = max(np.flatnonzero(mine), key=lambda j: (shared[j], codes[near[j]]))
        widest = 2 * float(shapely.length(shapely.maximum_inscribed_circle(pieces[i], 0.01)))
        rows.append({"codes": ",".join(sorted(codes[near[mine]])), "owner": codes[near[k]],
                     "area_m2": round(float(shapely.area(pieces[i])), 3), "width_m": round(widest, 1), "geometry": pieces[i]})
    if not rows:
        return empty
    out = gpd.GeoDataFrame(pd.DataFrame(rows, columns=columns), geometry="geometry", crs=communities.crs)
    pts = shapely.point_on_surface(out.geometry.to_numpy())
    order = np.lexsort((shapely.get_x(pts), -shapely.get_y(pts), out["codes"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def shifted_communities(communities: gpd.GeoDataFrame, overlaps: gpd.GeoDataFrame, *,
                        tolerance_m: float = 2.0) -> list[tuple[str, str, float, float]]:
    """Communities of a layer drawn on a web map's shifted datum (GCJ-02, BD-09) while the others are not.

    Such a community lies 100–700 m off its land, over its neighbours: the overlap repair would give the
    overlaps away and leave it off its land. A community overlapping another by a piece 50 m wide or more (among the
    rows of ``overlaps``, from :func:`boundary_slivers`) is called shifted when read in one of those datums (converted
    to WGS-84) its overlaps with the others fall under a tenth and its outline runs along theirs (within
    twice ``tolerance_m``) for a tenth of its length at least, and more than before.

    ``communities`` in a metric CRS. Returns ``(code, datum, overlap m² as drawn, overlap m² converted)`` per
    shifted community, in code order.
    """
    from .crs import convert_geometries

    codes = communities["code"].astype(str).to_numpy()
    # a datum offset of 100 m or more overlaps a neighbour by a piece that wide; digitising slivers are thinner
    broad = overlaps[~_narrow(overlaps.geometry.to_numpy(), _SHIFT_PIECE_M)]
    involved = sorted({c for pair in broad["codes"] for c in pair.split(",")})
    if not involved or len(codes) < 2:
        return []
    geoms = np.asarray(make_valid(communities.geometry.to_numpy()), dtype=object)
    lonlat = gpd.GeoSeries(geoms, crs=communities.crs).to_crs(4326)
    near_m = 2.0 * tolerance_m
    tree = shapely.STRtree(geoms)
    found = []
    for code in involved:
        i = np.flatnonzero(codes == code)
        # the neighbours it could be drawn over or belong beside: within the largest datum offset (BD-09 ~1 km)
        near = tree.query(shapely.union_all(geoms[i]), predicate="dwithin", distance=_SHIFT_REACH_M)
        near = near[codes[near] != code]
        if not len(near):
            continue
        others = shapely.union_all(geoms[near])
        edges = shapely.buffer(shapely.boundary(others), near_m, quad_segs=2)
        mine = shapely.union_all(geoms[i])
        before = float(shapely.area(shapely.intersection(mine, others)))
        along_before = float(shapely.length(shapely.intersection(shapely.boundary(mine), edges)))
        best = None
        for datum in ("gcj02", "bd09"):
            back = convert_geometries(lonlat.iloc[i], src=datum, dst="wgs84").to_crs(communities.crs)
            moved = shapely.union_all(back.to_numpy())
            after = float(shapely.area(shapely.intersection(moved, others)))
            along = float(shapely.length(shapely.intersection(shapely.boundary(moved), edges)))
            fits = after < 0.1 * before and along > max(along_before, 0.1 * float(shapely.length(moved)))
            if fits and (best is None or after < best[3]):
                best = (code, datum, before, after)
        if best is not None:
            found.append(best)
    return found


def _shifted_message(found: list[tuple[str, str, float, float]]) -> str:
    """One sentence per shifted community: the datum, the overlaps as drawn and converted, the conversion."""
    from .crs import _DATUM_LABELS, _DATUM_SOURCES

    parts = [f"community {code} looks digitised on {_DATUM_LABELS[datum]} ({_DATUM_SOURCES[datum]}) unlike the others: "
             f"converted to WGS-84 its overlaps with them fall from {_fmt(before)} to {_fmt(after)}"
             for code, datum, before, after in found]
    code, datum = found[0][0], found[0][1]
    return (f"{'; '.join(parts)}; convert it before partitioning (in Python: rows = layer['code'] == '{code}'; "
            f"layer.loc[rows, 'geometry'] = gridgeo.crs.convert_datum(layer[rows], src='{datum}', dst='wgs84').geometry) "
            "or redraw it; repairing its overlaps would leave it off its land")


def _places(geoms: Any, crs: Any) -> list[str]:
    """Where each piece is, as longitude/latitude text (one transformer for all: building one per piece
    took 50 ms each, 44 s for the 881 slivers of a hand-digitised layer)."""
    pts = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    if not len(pts):
        return []
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(shapely.get_x(pts), shapely.get_y(pts))
    return [f"{x:.5f}°E {y:.5f}°N" for x, y in zip(np.atleast_1d(lon), np.atleast_1d(lat), strict=True)]


def resolve_slivers(
    communities: gpd.GeoDataFrame, *, tolerance_m: float = 2.0, held: gpd.GeoDataFrame | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Give every overlap and gap narrower than ``tolerance_m`` to the neighbour sharing the longest
    boundary with it (or, with ``held``, to the one that held most of it before); refuse wider overlaps.

    Parameters
    ----------
    communities
        Communities with a ``code`` column in a metric CRS (not modified).
    tolerance_m
        Width below which an overlap or gap is a sliver of digitising (``rules.boundary_tolerance_m``).
    held
        The communities of a previous plan (``code``, in the same CRS), for a re-division (动态调整): a sliver goes
        to the community among those it lies between that held more than half of it in that plan, so that a
        community drawn again a metre off (within the tolerance) neither takes from nor gives to its neighbours the
        land their kept grids cover; a sliver none of them held goes by the longest boundary.

    Returns
    -------
    (GeoDataFrame, GeoDataFrame)
        The communities with the slivers resolved, and one finding per sliver
        (``community_overlap_resolved`` / ``community_gap_filled``, severity warning, ``measure`` the
        area in m², geometry the piece); wider holes enclosed by communities are left as they are,
        each a ``community_gap`` warning.

    Raises
    ------
    InputError
        When communities overlap by a piece wider than ``tolerance_m``, listing the pieces and naming
        the command that repairs the layer.

    Examples
    --------
    >>> from shapely import box
    >>> c = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"]},
    ...                      geometry=[box(0, 0, 100.5, 100), box(100, 0, 300, 100)], crs=4547)
    >>> fixed, f = resolve_slivers(c)
    >>> fixed.area.round(3).tolist(), f["type"].tolist(), f["measure"].tolist()
    ([10050.0, 19950.0], ['community_overlap_resolved'], [50.0])
    """
    slivers = boundary_slivers(communities, tolerance_m=tolerance_m)
    wide = slivers[(slivers["kind"] == "overlap") & ~slivers["narrow"] & (slivers["area_m2"] >= 1.0)]
    if len(wide):
        shifted = shifted_communities(communities, wide, tolerance_m=tolerance_m)
        if shifted:
            raise InputError(_shifted_message(shifted))
        first = wide.head(5)
        shown = [f"{r.codes.replace(',', '/')} ({r.area_m2:,.0f} m² at {where})"
                 for r, where in zip(first.itertuples(), _places(first.geometry, communities.crs), strict=True)]
        more = f" and {len(wide) - 5} more" if len(wide) > 5 else ""
        msg = (f"communities overlap each other by more than the {tolerance_m:g} m boundary tolerance: "
               f"{', '.join(shown)}{more}; a community must not overlap another (不交叉重叠): repair the community "
               f"layer with `{REPAIR_COMMAND}` (or raise boundary_tolerance_m in a --rules file)")
        raise InputError(msg)
    gaps = slivers[(slivers["kind"] == "gap") & ~slivers["narrow"]]
    wide_gaps = [
        {"type": "community_gap", "severity": "warning", "layer": "communities", "community_code": r.owner,
         "feature_id": r.codes, "measure": float(r.area_m2), "geometry": r.geometry,
         "message": (f"{_fmt(r.area_m2)} enclosed by communities {r.codes.replace(',', ', ')} at "
                     f"{where} is in none of them (wider than the {tolerance_m:g} m "
                     f"boundary tolerance, so left as it is); if it belongs to one, repair with `{REPAIR_COMMAND}`")}
        for r, where in zip(gaps.itertuples(), _places(gaps.geometry, communities.crs), strict=True)
    ]
    channels = open_channels(communities, tolerance_m=tolerance_m)
    wide_gaps += [
        {"type": "community_gap", "severity": "warning", "layer": "communities", "community_code": r.owner,
         "feature_id": r.codes, "measure": float(r.area_m2), "geometry": r.geometry,
         "message": (f"{_fmt(r.area_m2)} between communities {r.codes.replace(',', ', ')} at {where}, open to the "
                     f"outside of the layer (up to {r.width_m:.2g} m wide, not all under the {tolerance_m:g} m boundary "
                     "tolerance, so left as it is), is in none of them; if it belongs to one, redraw that boundary "
                     "along the other's, or set boundary_tolerance_m above its width in a --rules file to have it "
                     "given to the community sharing the longest boundary with it")}
        for r, where in zip(channels.itertuples(), _places(channels.geometry, communities.crs), strict=True)
    ]
    todo = slivers[slivers["narrow"]]
    if len(todo) == 0:
        return communities, make_findings(wide_gaps, crs=communities.crs)
    codes = communities["code"].astype(str).to_numpy()
    pos = {c: i for i, c in enumerate(codes)}
    geoms = np.asarray(communities.geometry.to_numpy(), dtype=object).copy()
    gains: dict[int, list] = {}
    losses: dict[int, list] = {}
    records = []
    owners = _held_owners(todo, held) if held is not None and len(held) else {}
    for k, (r, where) in enumerate(zip(todo.itertuples(), _places(todo.geometry, communities.crs), strict=True)):
        if k in owners:
            r = r._replace(owner=owners[k])
        owner = pos[r.owner]
        if r.kind == "overlap":
            for c in r.codes.split(","):
                if c != r.owner:
                    losses.setdefault(pos[c], []).append(r.geometry)
            what, typ = f"overlap of communities {r.codes.replace(',', ' and ')}", "community_overlap_resolved"
        else:
            gains.setdefault(owner, []).append(r.geometry)
            what, typ = f"gap between communities {r.codes.replace(',', ', ')}", "community_gap_filled"
        width = 2 * r.area_m2 / max(float(shapely.length(r.geometry)), 1e-12)
        records.append({"type": typ, "severity": "warning", "layer": "communities", "community_code": r.owner,
                        "feature_id": r.codes, "measure": float(r.area_m2), "geometry": r.geometry,
                        "message": (f"{_fmt(r.area_m2)} {what} (≈{width:.2g} m wide, under the {tolerance_m:g} m "
                                    f"boundary tolerance) at {where} given to {r.owner}, "
                                    + ("which held it in the previous plan" if k in owners
                                       else "which shares the longest boundary with it"))})
    for i, pieces in losses.items():
        geoms[i] = shapely.difference(geoms[i], shapely.union_all(pieces))
    for i, pieces in gains.items():
        geoms[i] = shapely.union_all([geoms[i], *pieces])
    changed = sorted(set(losses) | set(gains))
    fixed = make_valid(geoms[changed])
    geoms[changed] = polygonal(fixed)
    out = communities.copy()
    out = out.set_geometry(gpd.GeoSeries(geoms, index=communities.index, crs=communities.crs))
    if out.geometry.name != communities.geometry.name:
        out = out.rename_geometry(communities.geometry.name)
    return out, make_findings(records + wide_gaps, crs=communities.crs)


def _held_owners(slivers: gpd.GeoDataFrame, held: gpd.GeoDataFrame) -> dict[int, str]:
    """Position of a sliver → the community among those it lies between (``codes``) that held more than half of
    it in ``held`` (a previous plan's communities)."""
    hcode = held["code"].astype(str).to_numpy()
    hgeom = np.asarray(make_valid(held.geometry.to_numpy()), dtype=object)
    tree = shapely.STRtree(hgeom)
    geoms = slivers.geometry.to_numpy()
    si, hi = tree.query(geoms, predicate="intersects")
    owners: dict[int, str] = {}
    if not len(si):
        return owners
    area = shapely.area(shapely.intersection(geoms[si], hgeom[hi]))
    whole = shapely.area(geoms)
    codes = slivers["codes"].to_numpy()
    best: dict[int, tuple[float, str]] = {}
    for s_, h, a in zip(si.tolist(), hi.tolist(), area.tolist(), strict=True):
        c = hcode[h]
        if c in codes[s_].split(",") and a > 0.5 * whole[s_] and a > best.get(s_, (0.0, ""))[0]:
            best[s_] = (a, c)
    return {s_: c for s_, (_, c) in best.items()}


def drop_crumbs(communities: gpd.GeoDataFrame, *, min_area_m2: float = CRUMB_M2) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Leave out the separate parts of each community smaller than ``min_area_m2``: crumbs such as the loop
    of an outline crossing itself, which ``make_valid`` keeps as a part of a few square centimetres (a grid
    or small grid of its own, in no grid's count). A community's largest part is always kept.

    Parameters
    ----------
    communities
        Communities with a ``code`` column in a metric CRS (not modified).
    min_area_m2
        The least area of a part kept.

    Returns
    -------
    (GeoDataFrame, GeoDataFrame)
        The communities without their crumbs, and one ``community_crumb_dropped`` warning per crumb (its
        area in ``measure``, the crumb as geometry).

    Examples
    --------
    >>> from shapely import box, MultiPolygon
    >>> c = gpd.GeoDataFrame({"code": ["420103001001"]}, crs=4547,
    ...                      geometry=[MultiPolygon([box(0, 0, 100, 100), box(200, 0, 200.1, 0.1)])])
    >>> out, f = drop_crumbs(c)
    >>> out.area.round(3).tolist(), f["type"].tolist()
    ([10000.0], ['community_crumb_dropped'])
    """
    geoms = np.asarray(communities.geometry.to_numpy(), dtype=object)
    parts, idx = shapely.get_parts(geoms, return_index=True)
    area = shapely.area(parts)
    largest = pd.Series(area).groupby(idx).transform("max").to_numpy() if len(parts) else area
    crumb = (area < min_area_m2) & (area < largest)
    if not crumb.any():
        return communities, make_findings([], crs=communities.crs)
    codes = communities["code"].astype(str).to_numpy()
    records = [{"type": "community_crumb_dropped", "severity": "warning", "layer": "communities",
                "community_code": codes[i], "feature_id": codes[i], "measure": float(a), "geometry": g,
                "message": (f"a separate part of community {codes[i]} of {_fmt(a)} at {where} (a loop where its "
                            f"outline crosses itself, or a crumb of digitising) is under {min_area_m2:g} m²: left out")}
               for i, a, g, where in zip(idx[crumb], area[crumb], parts[crumb], _places(parts[crumb], communities.crs),
                                         strict=True)]
    rows = np.unique(idx[crumb])
    keep = ~crumb
    new = geoms.copy()
    for i in rows:
        mine = parts[(idx == i) & keep]
        new[i] = mine[0] if len(mine) == 1 else shapely.MultiPolygon(list(mine))
    out = communities.copy()
    out = out.set_geometry(gpd.GeoSeries(new, index=communities.index, crs=communities.crs))
    if out.geometry.name != communities.geometry.name:
        out = out.rename_geometry(communities.geometry.name)
    return out, make_findings(records, crs=communities.crs)


def _fmt(a: float) -> str:
    return f"{a:,.1f} m²" if a >= 1 else f"{a:.3f} m²"


def _region(communities: gpd.GeoDataFrame, tolerance_m: float, metric: Any,
            slivers: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """The communities' union with the narrow gaps between them closed: one region to repair in, in the
    communities' own CRS. The gaps are found in ``metric``; the union is taken as the communities are drawn
    (a region reprojected from metres bends their straight edges in degrees, leaving slivers of a few
    square centimetres along them)."""
    if slivers is None:
        slivers = boundary_slivers(communities.to_crs(metric), tolerance_m=tolerance_m)
    gaps = slivers[(slivers["kind"] == "gap") & slivers["narrow"]].to_crs(communities.crs).geometry.to_numpy()
    region = shapely.union_all([shapely.union_all(communities.geometry.to_numpy()), *gaps])
    return gpd.GeoDataFrame({"code": ["region"]}, geometry=[region], crs=communities.crs)


def validate_communities(communities: gpd.GeoDataFrame, *, tolerance_m: float = 2.0) -> gpd.GeoDataFrame:
    """Findings for a community layer: overlaps (errors) and gaps narrower than ``tolerance_m``
    between communities (warnings; the pipeline resolves those narrower than the tolerance).

    ``communities`` may be in any CRS; findings come back in it.

    Examples
    --------
    >>> from shapely import box
    >>> c = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"]},
    ...                      geometry=[box(0, 0, 110, 100), box(100, 0, 300, 100)], crs=4547)
    >>> validate_communities(c)[["type", "severity", "feature_id", "measure"]].values.tolist()
    [['overlap', 'error', '420103001001,420103001002', 1000.0]]
    """
    from .crs import is_metric, metric_crs

    m = communities.crs if is_metric(communities.crs) else metric_crs(communities)
    metric = communities.to_crs(m)
    slivers = boundary_slivers(metric, tolerance_m=tolerance_m)
    wide = slivers[(slivers["kind"] == "overlap") & ~slivers["narrow"] & (slivers["area_m2"] >= 1.0)]
    records = []
    for code, datum, before, after in shifted_communities(metric, wide, tolerance_m=tolerance_m):
        records.append({"type": "community_shifted", "severity": "error", "layer": "communities", "feature_id": code,
                        "community_code": code, "measure": before,
                        "geometry": shapely.union_all(metric.geometry[metric["code"].astype(str) == code].to_numpy()),
                        "message": _shifted_message([(code, datum, before, after)])})
    for r in slivers.itertuples():
        note = f"narrower than {tolerance_m:g} m: resolved by partition, or mend it with --repair" if r.narrow else "repair with --repair"
        if r.kind == "overlap":
            records.append({"type": "overlap", "severity": "warning" if r.narrow else "error", "layer": "communities",
                            "feature_id": r.codes, "community_code": r.owner, "measure": float(r.area_m2), "geometry": r.geometry,
                            "message": f"communities {r.codes.replace(',', ' and ')} overlap by {_fmt(r.area_m2)} ({note})"})
        else:
            if not r.narrow:
                note = f"wider than {tolerance_m:g} m: left as it is by --repair; if it belongs to a community, draw it in"
            records.append({"type": "gap", "severity": "warning", "layer": "communities", "feature_id": r.codes,
                            "community_code": r.owner, "measure": float(r.area_m2), "geometry": r.geometry,
                            "message": f"{_fmt(r.area_m2)} between communities {r.codes.replace(',', ', ')} is in none ({note})"})
    return make_findings(records, crs=m).to_crs(communities.crs)


def repair_communities(communities: gpd.GeoDataFrame, *, tolerance_m: float = 2.0) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Mend a community layer: every overlap and every gap narrower than ``tolerance_m`` given to the
    neighbour sharing the longest boundary (the grid repair of :mod:`gridgeo.validate.repair`, with the
    communities as the features and their union, narrow gaps closed, as the one region they tile).

    Returns the repaired communities (same columns and CRS; the same rows but those wholly covered by
    other communities, a community drawn twice under a second code: left out, since no partition can
    divide an empty community, each an ``emptied`` row of the log saying so) and the change log (the
    columns of :data:`gridgeo.validate.repair.LOG_COLUMNS`, ``grid_code`` holding the community code).

    Examples
    --------
    >>> from shapely import box
    >>> c = gpd.GeoDataFrame({"code": ["420103001001", "420103001002"]},
    ...                      geometry=[box(0, 0, 110, 100), box(100.5, 0, 300, 100)], crs=4547)
    >>> fixed, log = repair_communities(c)
    >>> fixed.area.round(3).tolist(), len(validate_communities(fixed))
    ([11000.0, 19000.0], 0)
    """
    from .crs import is_metric, metric_crs
    from .validate.repair import repair_grids

    if "code" not in communities.columns:
        msg = f"repair_communities: the community layer has no 'code' column; columns are {list(communities.columns)}"
        raise InputError(msg)
    m = communities.crs if is_metric(communities.crs) else metric_crs(communities)
    metric = communities.to_crs(m)
    slivers = boundary_slivers(metric, tolerance_m=tolerance_m)
    wide = slivers[(slivers["kind"] == "overlap") & ~slivers["narrow"] & (slivers["area_m2"] >= 1.0)]
    shifted = shifted_communities(metric, wide, tolerance_m=tolerance_m)
    if shifted:
        raise InputError(_shifted_message(shifted))
    region = _region(communities, tolerance_m, m, slivers)
    layer = communities.assign(__region="region")
    fixed, log = repair_grids(layer, communities=region, code_column="code", community_column="__region",
                              gap_width_m=tolerance_m)
    fixed = fixed.drop(columns="__region")
    log = log.drop(columns="community_code").rename(columns={"grid_code": "code"})
    emptied = log["action"] == "emptied"
    log.loc[emptied, "detail"] = ("wholly covered by other communities; left out of the repaired layer "
                                  "(redraw it where it lies, or keep the other community's code)")
    given = ~(communities.geometry.is_empty | communities.geometry.isna())
    gone = (fixed.geometry.is_empty | fixed.geometry.isna()) & given.reindex(fixed.index, fill_value=False)
    return fixed[~gone], log
