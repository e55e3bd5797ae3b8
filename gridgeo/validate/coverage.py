"""Coverage checks (无缝覆盖, 不交叉重叠, 不跨社区): overlaps, gaps, grids outside or across communities, and
near-coincident edges."""

from __future__ import annotations

import numpy as np
import shapely
from shapely import Point, Polygon

from .._geometry import polygonal, uncovered
from .layers import (
    _Communities,
    _fmt_area,
    _inside_area,
    _Layer,
    _pieces,
    _rec,
    _regroup,
    _significant_parts,
    _width_note,
)


def _overlaps(layer: _Layer, community: np.ndarray, records: list, tol2: float, tol: float, gap_width_m: float):
    """Pairwise overlaps; returns (pieces, left, right) positions of the significant ones."""
    usable = np.flatnonzero(layer.usable)
    geoms = layer.geoms[usable]
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = usable[left[keep]], usable[right[keep]]
    # most intersecting pairs only touch: overlay only the pairs whose interiors meet
    meet = shapely.relate_pattern(layer.geoms[left], layer.geoms[right], "T********")
    left, right = left[meet], right[meet]
    pieces = shapely.intersection(layer.geoms[left], layer.geoms[right])
    parts, pidx = _significant_parts(pieces, tol2, tol)
    pos, merged, areas = _regroup(parts, pidx)
    left, right = left[pos], right[pos]
    for a, b, g, area in zip(left, right, merged, areas):
        ida, idb = sorted([layer.ids[a], layer.ids[b]])
        records.append(_rec("overlap", layer.name, f"{ida},{idb}", community[a], measure=float(area), geometry=g,
                            message=f"{layer.name} {ida} and {idb} overlap by {_fmt_area(area)}{_width_note(g, gap_width_m)}"))
    return merged, left, right


def _gaps(grids: _Layer, comms: _Communities | None, records: list, tol2: float, tol: float, gap_width_m: float,
          overlap_pieces: np.ndarray) -> None:
    usable = np.flatnonzero(grids.usable)
    if comms is None:
        union = shapely.union_all(grids.geoms[usable])
        rings = [ring for part in shapely.get_parts(union) for ring in part.interiors]
        holes = shapely.polygons(np.array(rings, dtype=object)) if rings else np.array([], dtype=object)
        parts, _ = _significant_parts(np.asarray(holes, dtype=object), tol2, tol)
        for p in parts:
            a = float(shapely.area(p))
            records.append(_rec("gap", grids.name, None, None, measure=a, geometry=p, severity="warning",
                                message=f"hole of {_fmt_area(a)} enclosed by grids{_width_note(p, gap_width_m)}; "
                                        "give a communities layer to tell a gap from a legitimate hole"))
        return
    tree = shapely.STRtree(grids.geoms[usable])
    otree = shapely.STRtree(overlap_pieces) if len(overlap_pieces) else None
    for c in sorted(comms.index.values(), key=lambda k: comms.codes[k]):
        cg = comms.geoms[c]
        near = usable[tree.query(cg, predicate="intersects")]
        if len(near) and (otree is None or len(otree.query(cg, predicate="intersects")) == 0):
            # no overlap here: the grids cover all but (community area - their area inside it)
            covered = _inside_area(grids.geoms[near], np.full(len(near), cg, dtype=object)).sum()
            if float(shapely.area(cg)) - covered < tol2:
                continue
        cover = shapely.union_all(grids.geoms[near]) if len(near) else Polygon()
        diff = uncovered(np.array([cg], dtype=object), grids.geoms[near], np.zeros(len(near), dtype=np.int64),
                         unions=np.array([cover], dtype=object))[0]
        parts, _ = _significant_parts(np.array([diff], dtype=object), tol2, tol)
        for p in _sorted_geoms(parts):
            a = float(shapely.area(p))
            records.append(_rec("gap", grids.name, comms.codes[c], comms.codes[c], measure=a, geometry=p,
                                message=f"{_fmt_area(a)} of community {comms.codes[c]} is in no grid{_width_note(p, gap_width_m)}"))


#: coverage findings whose pieces narrower than the width tolerance are info
_WIDTH_TYPES = frozenset({"overlap", "gap", "outside_community", "crosses_communities"})


def _narrow_is_info(records: list[dict], start: int, width_m: float) -> None:
    """Make coverage findings (from ``start`` on) whose every piece is narrower than ``width_m`` info.

    A piece is narrower when an inward buffer of half the width leaves nothing of it. A finding with
    one wider piece stays as it is (an error, with all its pieces).
    """
    if width_m <= 0:
        return
    for r in records[start:]:
        if r["type"] not in _WIDTH_TYPES or r["severity"] == "info" or r.get("geometry") is None:
            continue
        parts = shapely.get_parts(polygonal(r["geometry"], normalise=False))
        if len(parts) == 0:
            continue
        if shapely.is_empty(shapely.buffer(parts, -width_m / 2.0, quad_segs=2)).all():
            r["severity"] = "info"
            r["message"] += f"; narrower than the {width_m:g} m width tolerance: not an error"


def _sorted_geoms(geoms: np.ndarray) -> np.ndarray:
    """Geometries in a stable order (by representative point, then area)."""
    if len(geoms) == 0:
        return geoms
    pts = shapely.point_on_surface(geoms)
    pts = np.where(shapely.is_empty(pts), Point(0, 0), pts)
    order = np.lexsort((-shapely.area(geoms), np.nan_to_num(shapely.get_x(pts)), -np.nan_to_num(shapely.get_y(pts))))
    return geoms[order]


def _outside(grids: _Layer, comm_pos: np.ndarray, comm_code: np.ndarray, comms: _Communities, records: list,
             tol2: float, tol: float, gap_width_m: float) -> None:
    idx = np.flatnonzero(grids.usable & (comm_pos >= 0))
    shapely.prepare(comms.geoms)
    idx = idx[~shapely.contains_properly(comms.geoms[comm_pos[idx]], grids.geoms[idx])]
    diff = shapely.difference(grids.geoms[idx], comms.geoms[comm_pos[idx]])
    parts, pidx = _significant_parts(diff, tol2, tol)
    pos, merged, _ = _regroup(parts, pidx)
    tree = shapely.STRtree(comms.geoms)
    orphan = np.flatnonzero(grids.usable & (comm_pos < 0))
    todo = [(idx[p], m) for p, m in zip(pos, merged)] + [(i, grids.geoms[i]) for i in orphan]
    for g, piece in todo:
        others = [c for c in tree.query(piece, predicate="intersects") if c != comm_pos[g] and comms.codes[c] is not None]
        others.sort(key=lambda c: comms.codes[c])
        for c in others:
            inter = shapely.intersection(piece, comms.geoms[c])
            ps, _ = _significant_parts(np.array([inter], dtype=object), tol2, tol)
            if len(ps):
                geom = shapely.multipolygons(ps)
                a = float(shapely.area(geom))
                own = f"its community {comm_code[g]}" if comm_code[g] else "no community of its own"
                records.append(_rec("crosses_communities", grids.name, grids.ids[g], comm_code[g], measure=a, geometry=geom,
                                    message=f"grid {grids.ids[g]} ({own}) reaches {_fmt_area(a)} into community {comms.codes[c]}{_width_note(geom, gap_width_m)}"))
        rest = shapely.difference(piece, shapely.union_all(comms.geoms[others])) if others else piece
        ps, _ = _significant_parts(np.array([rest], dtype=object), tol2, tol)
        if len(ps):
            geom = shapely.multipolygons(ps)
            a = float(shapely.area(geom))
            records.append(_rec("outside_community", grids.name, grids.ids[g], comm_code[g], measure=a, geometry=geom,
                                message=f"{_fmt_area(a)} of grid {grids.ids[g]} lies outside every community{_width_note(geom, gap_width_m)}"))


def _near_coincident(grids: _Layer, comm_pos: np.ndarray, comm_code: np.ndarray, comms: _Communities | None,
                     records: list, tol: float, gap_width_m: float) -> None:
    """coverage_invalid_edges per community, minus the parts lying on a neighbour's or the community's
    boundary (unmatched vertices only, e.g. T-junctions: harmless)."""
    usable = grids.usable
    keys = np.where(comm_pos >= 0, comm_pos, -1)
    tree = shapely.STRtree(np.where(usable, grids.geoms, Polygon()))
    idx = np.flatnonzero(usable)
    idx = idx[np.argsort(keys[idx], kind="stable")]  # each community's grids in their order, found once
    uniq, starts = np.unique(keys[idx], return_index=True)
    for key, members in zip(uniq, np.split(idx, starts[1:])):
        if len(members) < 2:
            continue
        edges = shapely.coverage_invalid_edges(grids.geoms[members], gap_width=gap_width_m)
        bad = np.flatnonzero(~shapely.is_empty(edges) & (shapely.length(edges) > tol))
        if len(bad) == 0:
            continue
        cbound = shapely.boundary(comms.geoms[key]) if (comms is not None and key >= 0) else None
        for b in bad:
            g = members[b]
            line = edges[b]
            nbs = [n for n in tree.query(line, predicate="dwithin", distance=gap_width_m) if n != g and usable[n]]
            if not nbs:
                continue
            nb_ref = shapely.multilinestrings(shapely.get_parts(shapely.boundary(grids.geoms[nbs])))
            refs = [nb_ref]
            if cbound is not None:
                x0, y0, x1, y1 = shapely.bounds(line)
                refs.append(shapely.clip_by_rect(cbound, x0 - gap_width_m, y0 - gap_width_m, x1 + gap_width_m, y1 + gap_width_m))
            ref = shapely.multilinestrings(shapely.get_parts(shapely.get_parts(np.array(refs, dtype=object))))
            shapely.prepare(ref)
            # near-misses only: pieces farther than tol from the neighbours' lines (else matching but
            # for vertices) and within gap_width of them (else an overlap, reported as such)
            pieces = _pieces(line, max(gap_width_m / 2, tol))
            mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
            pieces = pieces[shapely.dwithin(ref, mids, gap_width_m) & ~shapely.dwithin(ref, mids, tol)]
            if len(pieces) == 0:
                continue
            # an edge crossing a neighbour's comes near it only for about gap_width: keep the runs
            # alongside a neighbour, longer than that
            parts = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(pieces)))
            parts = parts[shapely.length(parts) > 2 * gap_width_m]
            if len(parts) == 0:
                continue
            # GEOS also flags a thin arm of the grid itself running along a neighbour: keep a run only
            # when the space between it and the neighbour is in no grid (a gap) or in two (an overlap)
            mid = shapely.line_interpolate_point(parts, 0.5, normalized=True)
            x0, y0, x1, y1 = shapely.bounds(shapely.multilinestrings(parts))
            box_ = (x0 - 2 * gap_width_m, y0 - 2 * gap_width_m, x1 + 2 * gap_width_m, y1 + 2 * gap_width_m)
            nb_pieces = _pieces(shapely.clip_by_rect(nb_ref, *box_), max(gap_width_m / 2, tol))
            own = shapely.clip_by_rect(shapely.boundary(grids.geoms[g]), *box_)
            shapely.prepare(own)
            nb_pieces = nb_pieces[~shapely.dwithin(own, shapely.line_interpolate_point(nb_pieces, 0.5, normalized=True), tol)]
            if len(nb_pieces) == 0:
                continue
            far = shapely.multilinestrings(nb_pieces)
            probe = shapely.line_interpolate_point(shapely.shortest_line(mid, far), 0.5, normalized=True)
            pi, _ = tree.query(probe, predicate="within")
            parts = parts[np.bincount(pi, minlength=len(parts)) != 1]
            if len(parts) == 0:
                continue
            line = shapely.multilinestrings(parts)
            length = float(shapely.length(line))
            near = sorted({grids.ids[n] for n in tree.query(line, predicate="dwithin", distance=gap_width_m) if n != g and usable[n]})
            fid = ",".join([grids.ids[g], *near])
            records.append(_rec("near_coincident_edges", grids.name, fid, comm_code[g], measure=length, geometry=line,
                                message=f"{length:,.2f} m of grid {grids.ids[g]}'s edges lie within {gap_width_m:g} m of "
                                        f"{', '.join(near) if near else 'a neighbour'} without matching it (sliver or hairline gap)"))
