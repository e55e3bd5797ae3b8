"""Fine cells: the smallest units of the partition, tiling a community exactly.

A community's street blocks are the natural units of a grid (街巷定界). A block that must be divided
(more households than a grid or small grid holds) is divided *between* its buildings, never through
one: every building gets a cell made of its footprint plus the part of the block nearer to its
representative point than to any other building's (a Voronoi cell clipped to the block).

All boundaries (community, blocks, Voronoi edges, footprints) are noded together into one planar
arrangement with snap-rounding at :data:`GRID_SIZE_M`, and every cell is the union of arrangement
faces. Cells, base grids and small grids are unions of those faces, so any of them tile the
community without gap or overlap, exactly.

A cell is one building site (buildings sharing a representative point form one site) of a divided
block, or a whole block that holds at most one site. Every cell is one connected polygon: stray
pieces (a Voronoi region cut in two by another footprint, a part of a multi-part block without
buildings) are handed to the neighbour sharing the longest boundary with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .._geometry import inner_points, largest_part_points, polygonal, union_by
from ..footprints import BUILDING_SHARE_MIN

__all__ = ["GRID_SIZE_M", "Cells", "build_cells"]

#: precision of the planar arrangement, metres: far below anything a map shows, far above float noise
GRID_SIZE_M = 1e-6
#: building sites closer than this (metres) are one site
_SITE_PRECISION_DECIMALS = 3
#: a footprint in pieces at most this far apart (a building cut along map-tile edges: its pieces touch, or
#: nearly) is bridged into one piece for its cell (:func:`_healed`), so that the cell is one piece holding
#: the whole building rather than handing a detached piece to its neighbours
FOOTPRINT_HEAL_M = 0.05
#: cells at most this many apart are joined to keep a footprint in pieces in one cell (:func:`_keep_footprints_whole`)
JOIN_HOPS = 3


@dataclass
class Cells:
    """Fine cells of one community.

    Attributes
    ----------
    geoms
        One polygon per cell; together they tile the community.
    block
        Index of the cell's block (into the blocks given to :func:`build_cells`).
    households, buildings
        Households and number of buildings whose site lies in the cell.
    area, perimeter
        Area (m²) and boundary length (m) of each cell.
    building_cell
        For every building given, the index of its cell.
    divided
        Per block: whether it was divided into building cells.
    strip
        Per block: whether it is a block without buildings cut into pieces along the blocks it
        borders (``build_cells(..., strips=...)``), or None.
    """

    geoms: np.ndarray
    block: np.ndarray
    households: np.ndarray
    buildings: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    building_cell: np.ndarray
    divided: np.ndarray
    #: per block: a block without buildings cut into pieces along the blocks it borders (``strips``)
    strip: np.ndarray | None = None
    #: the inputs and the steps before the smoothing (:func:`_cell_inputs`), for a call with ``unchanged=``
    #: these cells and the same inputs: the sites, footprints and point regions are not drawn again
    inputs: dict | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.geoms)


def build_cells(
    community: shapely.Geometry,
    blocks: np.ndarray,
    buildings: np.ndarray,
    building_block: np.ndarray,
    households: np.ndarray,
    *,
    divide: np.ndarray | None = None,
    unit: np.ndarray | None = None,
    strips: np.ndarray | None = None,
    smooth: np.ndarray | bool = False,
    groups: np.ndarray | None = None,
    unchanged: Cells | None = None,
) -> Cells:
    """Cells of one community: whole blocks, and building cells inside divided blocks.

    Parameters
    ----------
    community
        The community polygon.
    blocks
        Block polygons that tile the community (in a deterministic order, e.g. by ``block_id``).
    buildings
        Building footprints or points (deterministic order, e.g. by ``building_id``).
    building_block
        Index into ``blocks`` of each building's block, -1 when unknown (then located by position).
    households
        Households of each building.
    divide
        Per block: divide it into building cells (default: every block with two or more sites).
    unit
        Footprint unit of each building (integer labels; overlapping footprints, see
        :func:`gridgeo.footprints.footprint_units`): the buildings of a unit share one site, the one of
        its largest footprint, so a unit is one cell and never divided.
    strips
        Indices of blocks without buildings to cut into pieces, each piece the part of the block
        nearest to one of the blocks it borders (:func:`strip_pieces`): a strip along a road that a
        grid would otherwise wrap around its neighbours can then go, piece by piece, to the grid beside it.
    smooth
        Per block (or for all): where the footprints of a divided block reach beyond their sites' point
        regions, the regions follow the gaps between the footprints instead (:func:`_smoother_regions`).
        The cells hold the same buildings either way; only the edges between them move.
    groups
        With ``smooth``: the group of each building, or several (a column each: the small grid, then
        the grid). A block then takes the footprint regions only where the outlines of the pieces of its
        groups of the first column get shorter with them, and those of the others no longer.
    unchanged
        With ``smooth``: the cells of the same call without it, returned as they are when no block
        takes footprint regions (the planar arrangement is not drawn again). Its sites, footprints and
        point regions are taken as they are when it was built from these very inputs (the same objects).

    Examples
    --------
    >>> from shapely import box, Point
    >>> blocks = np.array([box(0, 0, 100, 100), box(100, 0, 200, 100)])
    >>> b = np.array([Point(20, 50), Point(80, 50), Point(150, 50)])
    >>> c = build_cells(box(0, 0, 200, 100), blocks, b, np.array([0, 0, 1]), np.array([10, 20, 30]))
    >>> c.households.tolist(), c.block.tolist(), np.round(c.area).tolist()
    ([10, 20, 30], [0, 0, 1], [5000.0, 5000.0, 10000.0])
    >>> c.building_cell.tolist()
    [0, 1, 2]
    """
    args = (community, blocks, buildings, building_block, households, divide, unit, strips)
    pre = unchanged.inputs if unchanged is not None else None
    if pre is None or any(a is not b for a, b in zip(pre["args"], args, strict=True)):
        pre = {"args": args, **_cell_inputs(*args)}
    (blocks, buildings, households, nb, block_tree, bblock, sites, site_of, site_block, site_xy, divide, is_strip,
     piece_geoms, piece_block, fp, fp_b, lines, div_idx, sel, clipped) = (pre[n] for n in _INPUTS)
    lines = list(lines)
    vor_cells = np.zeros(0, dtype=object)
    vor_site = np.zeros(0, dtype=np.int64)
    if len(div_idx):
        allowed = np.broadcast_to(np.asarray(smooth, dtype=bool), (nb,))
        if len(fp) and allowed.any():
            site_group = None
            if groups is not None:
                groups = np.asarray(groups, dtype=np.int64).reshape(len(buildings), -1)
                site_group = np.full((len(site_block), groups.shape[1]), -1, dtype=np.int64)
                site_group[site_of] = groups
                site_group = site_group[sel]
            clipped, changed = _smoother_regions(clipped, sel, site_block, site_xy, site_of, fp, fp_b, blocks,
                                                 allowed, site_group)
            if not changed and unchanged is not None:
                return unchanged
        keep = ~shapely.is_empty(clipped)
        vor_cells, vor_site = clipped[keep], sel[keep]
        lines.append(shapely.boundary(shapely.get_parts(vor_cells)))
    if len(fp):
        lines.append(shapely.boundary(shapely.get_parts(fp)))

    if len(piece_geoms):
        lines.append(shapely.boundary(shapely.get_parts(piece_geoms)))

    faces = _arrangement(np.concatenate(lines))
    reps = inner_points(faces)
    rx, ry = shapely.get_x(reps), shapely.get_y(reps)
    inside = shapely.contains_xy(community, rx, ry)
    faces, reps = faces[inside], reps[inside]

    # ---- label faces: block, then site (footprint first, then Voronoi region)
    face_block = _locate(reps, blocks, block_tree)
    # cell slots: one per undivided block, one per site of a divided block
    undiv = np.flatnonzero(~divide & ~is_strip)
    slot_of_block = np.full(nb, -1)
    slot_of_block[undiv] = np.arange(len(undiv))
    div_sites = np.flatnonzero(divide[site_block])
    slot_of_site = np.full(len(site_block), -1)
    slot_of_site[div_sites] = len(undiv) + np.arange(len(div_sites))
    first_piece = len(undiv) + len(div_sites)
    slot_block = np.concatenate([undiv, site_block[div_sites], piece_block])
    label = slot_of_block[face_block]
    in_strip = np.flatnonzero(is_strip[face_block])
    if len(in_strip):  # faces of strips: the piece holding them
        a, c = shapely.STRtree(piece_geoms).query(reps[in_strip], predicate="within")
        same = piece_block[c] == face_block[in_strip[a]]
        a, c = a[same], c[same]
        sel = _first_per(a, c)
        label[in_strip[a[sel]]] = first_piece + c[sel]
    in_div_face = divide[face_block]
    fp_label = np.full(len(faces), -1)  # the site whose footprint holds each face
    if in_div_face.any():
        fi = np.flatnonzero(in_div_face)
        lab = np.full(len(fi), -1)
        if len(vor_cells):
            a, c = shapely.STRtree(vor_cells).query(reps[fi], predicate="within")
            same = site_block[vor_site[c]] == face_block[fi[a]]
            a, c = a[same], c[same]
            sel = _first_per(a, vor_site[c])
            lab[a[sel]] = slot_of_site[vor_site[c[sel]]]
        if len(fp):
            a, c = shapely.STRtree(fp).query(reps[fi], predicate="within")
            same = bblock[fp_b[c]] == face_block[fi[a]]
            a, c = a[same], c[same]
            # several footprints (overlapping buildings): the lowest building index wins
            sel = _first_per(a, fp_b[c])
            lab[a[sel]] = slot_of_site[site_of[fp_b[c[sel]]]]
            fp_label[fi[a[sel]]] = lab[a[sel]]
        label[fi] = lab
    faces, label, face_block, fp_label = _split_slack(faces, reps, label, face_block, fp_label, blocks, block_tree)

    nslots = len(slot_block)
    site_pt = None
    if len(site_block):
        site_pt = shapely.points(site_xy)
    anchor = np.empty(nslots, dtype=object)  # a point each slot's main piece must hold
    anchor[:len(undiv)] = None
    if len(div_sites):
        anchor[len(undiv):first_piece] = site_pt[div_sites]
    if len(piece_geoms):
        anchor[first_piece:] = shapely.point_on_surface(piece_geoms)
    geoms, label = _union_cells(faces, label, nslots, anchor, slot_block, face_block, fp_label)
    if len(div_sites):
        geoms, slot_of_site = _keep_footprints_whole(label, fp_label, geoms, slot_of_site,
                                                     range(len(undiv), first_piece), slot_block)

    present = np.flatnonzero(~shapely.is_empty(geoms))
    # cells in block order (sites in their order within a block)
    present = present[np.argsort(slot_block[present], kind="stable")]
    cell_geoms = geoms[present]
    cell_block = slot_block[present]
    renum = np.full(nslots, -1)
    renum[present] = np.arange(len(present))

    # ---- buildings to cells: the cell holding the building's site (same block preferred)
    bcell = np.full(len(buildings), -1, dtype=np.int64)
    if len(buildings):
        own_slot = slot_of_block[bblock]  # -1 in a strip cut into pieces: located by position below
        direct = np.where(divide[bblock], renum[slot_of_site[site_of]], np.where(own_slot >= 0, renum[own_slot], -1))
        bcell = direct.astype(np.int64)
        # a site's own cell may have vanished (a sliver) or lost the site: locate by position
        need = bcell < 0
        if len(cell_geoms):
            ok = ~need
            ok[ok] = shapely.contains_xy(cell_geoms[bcell[ok]], shapely.get_x(sites[ok]), shapely.get_y(sites[ok]))
            need = ~ok
            if need.any():
                idx = np.flatnonzero(need)
                bcell[idx] = _locate(sites[idx], cell_geoms, shapely.STRtree(cell_geoms), prefer=cell_block, prefer_key=bblock[idx])
    hh = np.bincount(bcell, weights=households, minlength=len(cell_geoms)).round().astype(np.int64) if len(buildings) else np.zeros(len(cell_geoms), dtype=np.int64)
    nbld = np.bincount(bcell, minlength=len(cell_geoms)).astype(np.int64) if len(buildings) else np.zeros(len(cell_geoms), dtype=np.int64)
    return Cells(
        geoms=cell_geoms,
        block=cell_block.astype(np.int64),
        households=hh,
        buildings=nbld,
        area=shapely.area(cell_geoms),
        perimeter=shapely.length(cell_geoms),
        building_cell=bcell,
        divided=divide,
        strip=is_strip,
        inputs=pre,
    )


#: what :func:`_cell_inputs` returns, in the order :func:`build_cells` takes it
_INPUTS = ("blocks", "buildings", "households", "nb", "block_tree", "bblock", "sites", "site_of", "site_block",
           "site_xy", "divide", "is_strip", "piece_geoms", "piece_block", "fp", "fp_b", "lines", "div_idx", "sel",
           "clipped")


def _cell_inputs(community: shapely.Geometry, blocks: np.ndarray, buildings: np.ndarray, building_block: np.ndarray,
                 households: np.ndarray, divide: np.ndarray | None, unit: np.ndarray | None,
                 strips: np.ndarray | None) -> dict:
    """The steps of :func:`build_cells` before the smoothing, which depend only on these inputs: the
    buildings' sites and blocks, the divided blocks, the strips' pieces, the footprints in divided blocks,
    the outlines of the community and blocks, and the point region of each site of a divided block
    (``sel``, ``clipped``). Nothing returned is modified by :func:`build_cells`."""
    blocks = np.asarray(blocks, dtype=object)
    buildings = np.asarray(buildings, dtype=object)
    households = np.asarray(households, dtype=np.int64)
    nb = len(blocks)
    block_tree = shapely.STRtree(blocks)

    # ---- building sites: a point inside the building (and inside its block)
    bblock = np.asarray(building_block, dtype=np.int64).copy()
    sites = _site_points(buildings)
    missing = shapely.is_empty(sites) | shapely.is_missing(sites)
    if missing.any():  # a building without geometry: at its block's (or the community's) inner point
        idx = np.flatnonzero(missing)
        known = bblock[idx] >= 0
        sites[idx[known]] = shapely.point_on_surface(blocks[bblock[idx[known]]])
        sites[idx[~known]] = shapely.point_on_surface(community)
    unknown = np.flatnonzero(bblock < 0)
    if len(unknown):
        bblock[unknown] = _locate(sites[unknown], blocks, block_tree)
    outside = ~shapely.contains_xy(blocks[bblock], shapely.get_x(sites), shapely.get_y(sites))
    if outside.any():
        idx = np.flatnonzero(outside)
        inner = shapely.intersection(buildings[idx], blocks[bblock[idx]])
        pts = shapely.point_on_surface(inner)
        bad = shapely.is_empty(pts)
        ok = np.flatnonzero(~bad)
        bad[ok] = ~shapely.contains_xy(blocks[bblock[idx[ok]]], shapely.get_x(pts[ok]), shapely.get_y(pts[ok]))
        if bad.any():  # a point outside its block: the nearest point inside the block
            near = shapely.points(shapely.get_coordinates(shapely.shortest_line(sites[idx[bad]], blocks[bblock[idx[bad]]]))[1::2])
            inward = shapely.point_on_surface(shapely.intersection(shapely.buffer(near, 1.0), blocks[bblock[idx[bad]]]))
            fallback = shapely.point_on_surface(blocks[bblock[idx[bad]]])
            pts[bad] = np.where(shapely.is_empty(inward), fallback, inward)
        sites[idx] = pts
    sites = _sites_in_largest_piece(buildings, blocks, bblock, sites)
    if unit is not None and len(buildings):
        sites, bblock = _unit_sites(np.asarray(unit, dtype=np.int64), buildings, sites, bblock, blocks, households)
    sx = np.round(shapely.get_x(sites), _SITE_PRECISION_DECIMALS)
    sy = np.round(shapely.get_y(sites), _SITE_PRECISION_DECIMALS)
    # unique sites per block, ordered by (block, x, y)
    if len(buildings):
        keys = np.rec.fromarrays([bblock, sx, sy], names="b,x,y")
        uniq, site_of = np.unique(keys, return_inverse=True)
        site_block = uniq["b"].astype(np.int64)
        site_xy = np.column_stack([uniq["x"], uniq["y"]])
    else:
        site_of = np.zeros(0, dtype=np.int64)
        site_block = np.zeros(0, dtype=np.int64)
        site_xy = np.zeros((0, 2))
    site_of = np.asarray(site_of).ravel()
    nsites = np.bincount(site_block, minlength=nb)
    if divide is None:
        divide = nsites >= 2
    divide = np.asarray(divide, dtype=bool) & (nsites >= 2)
    is_strip = np.zeros(nb, dtype=bool)
    piece_geoms = np.zeros(0, dtype=object)
    piece_block = np.zeros(0, dtype=np.int64)
    if strips is not None and len(strips):
        cand = np.unique(np.asarray(strips, dtype=np.int64))
        # blocks without households, not divided: land, a road reserve (a shed of no households kept whole)
        bh = np.bincount(bblock, weights=households, minlength=nb) if len(buildings) else np.zeros(nb)
        cand = cand[(bh[cand] == 0) & ~divide[cand]]
        inside = np.flatnonzero(np.isin(bblock, cand) & (shapely.get_type_id(buildings) >= 3)) if len(buildings) else []
        whole = {}
        for i in np.asarray(inside, dtype=np.int64).tolist():
            whole.setdefault(int(bblock[i]), []).append(buildings[i])
        piece_geoms, piece_block = strip_pieces(blocks, cand, block_tree, whole=whole)
        is_strip[np.unique(piece_block)] = True

    # footprints of buildings in divided blocks: a building is never cut
    fp_idx = np.flatnonzero((shapely.get_type_id(buildings) >= 3) & divide[bblock]) if len(buildings) else np.zeros(0, int)
    fp = np.zeros(0, dtype=object)
    fp_b = np.zeros(0, dtype=np.int64)
    if len(fp_idx):
        fp = shapely.intersection(buildings[fp_idx], blocks[bblock[fp_idx]])
        good = shapely.area(fp) > 0
        fp, fp_b = fp[good], fp_idx[good]
        multi = np.flatnonzero(shapely.get_num_geometries(fp) > 1)
        if len(multi):
            fp[multi] = _healed(fp[multi], blocks[bblock[fp_b[multi]]])

    # ---- a region per site of every divided block (the smoother of two tessellations), clipped to the block
    lines = [shapely.boundary(np.atleast_1d(community)), shapely.boundary(blocks)]
    div_idx = np.flatnonzero(divide)
    sel = clipped = None
    if len(div_idx):
        in_div = divide[site_block]
        sel = np.flatnonzero(in_div)  # sites of divided blocks, ordered by block
        mps = shapely.multipoints(site_xy[sel], indices=np.searchsorted(div_idx, site_block[sel]))
        colls = shapely.voronoi_polygons(mps, extend_to=blocks[div_idx], ordered=True)
        parts, owner = shapely.get_parts(colls, return_index=True)
        counts = np.bincount(owner, minlength=len(div_idx))
        expected = nsites[div_idx]
        ok_blocks = counts == expected
        if not ok_blocks.all():  # degenerate Voronoi (should not happen with distinct sites): fall back per site
            parts, owner = _voronoi_fallback(parts, owner, ok_blocks, site_xy, site_block, div_idx, blocks)
        # parts are in the order of ``sel`` (block order, then site order)
        # polygons only: a region that touches the block's edge along a line or at a point clips to a collection
        # of a polygon and that line, which GEOS's overlay refuses (mixed dimensions) in the later differences
        clipped = polygonal(shapely.intersection(parts, blocks[site_block[sel]]), normalise=False)
    found = locals()
    return {n: found[n] for n in _INPUTS}


#: spacing of the points on a strip's shared edges that decide which neighbouring block each part is nearest to
STRIP_SAMPLE_M = 5.0

#: half the width of the corridor cut across a ring-shaped strip, from each of its holes to its outer edge
RING_CORRIDOR_HALF_M = 5.0
#: spacing (m) of the corridors round a ring's hole
RING_CORRIDOR_EVERY_M = 100.0
#: parts of cut pieces smaller than this (m²) are overlay noise: left to the faces round them
_PIECE_MIN_M2 = 1e-6
#: holes of a ring smaller than this (m²) are digitising noise: no corridor from them
RING_HOLE_MIN_M2 = 1.0
#: a ring's outer edge is taken this far out (m), which closes the slits drawn into it
_SLIT_CLOSE_M = 0.01


def strip_pieces(blocks: np.ndarray, idx: np.ndarray, tree: shapely.STRtree | None = None, *,
                 whole: dict[int, list] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Blocks ``idx`` (without buildings) cut into the parts nearest to each block they border.

    Each neighbour's shared edge is sampled every :data:`STRIP_SAMPLE_M`; the Voronoi regions of those
    points, gathered by neighbour and clipped to the block, are the pieces (a strip between a road and
    a row of blocks falls into one piece per block beside it; a median between two rows of blocks is cut
    along its middle). A block bordering fewer than two blocks stays whole (no piece), unless it is a
    ring: a block with holes (rural land round a village, a green belt round an estate) also has
    corridors cut out, each a piece of its own (the other pieces less the corridors, each part a piece):
    from points round each hole (4 to 16, one every :data:`RING_CORRIDOR_EVERY_M`), the block within
    :data:`RING_CORRIDOR_HALF_M` of the straight line to the nearest point of its outer edge, so that a
    grid inside the hole can reach past the ring (:func:`.enclosures.open_enclosures`).
    ``whole`` gives, by block, footprints each kept whole in one piece (the piece holding most of it).
    Returns the pieces and the block of each, in block order then neighbour order (corridors last).

    >>> from shapely import box
    >>> blocks = np.array([box(0, 0, 300, 10), box(0, 10, 100, 110), box(100, 10, 200, 110), box(200, 10, 300, 110)])
    >>> pieces, of = strip_pieces(blocks, np.array([0]))
    >>> of.tolist(), [round(float(shapely.area(p))) for p in pieces]
    ([0, 0, 0], [1000, 1000, 1000])

    A ring of land round one block, with the community's edge outside: the ring borders one block, yet
    is cut, by four corridors of 10 m from its hole to its outer edge, into four pieces and the corridors.

    >>> ring = box(0, 0, 100, 100).difference(box(40, 40, 60, 60))
    >>> pieces, of = strip_pieces(np.array([ring, box(40, 40, 60, 60)]), np.array([0]))
    >>> len(pieces), set(of.tolist()), round(float(sum(shapely.area(pieces))), 6), [len(p.interiors) for p in pieces]
    (8, {0}, 9600.0, [0, 0, 0, 0, 0, 0, 0, 0])
    """
    tree = tree if tree is not None else shapely.STRtree(blocks)
    out: list[shapely.Geometry] = []
    out_block: list[int] = []
    whole = whole or {}
    for b in np.asarray(idx, dtype=np.int64).tolist():
        start = len(out)
        _block_pieces(blocks, b, tree, out, out_block)
        if whole.get(b) and len(out) - start > 1:
            out[start:] = _kept_whole(out[start:], whole[b], blocks[b])
            out_block[start:] = [b] * (len(out) - start)
    pieces, of = np.array(out, dtype=object), np.array(out_block, dtype=np.int64)
    several = np.bincount(of, minlength=len(blocks))[of] >= 2  # a block of one piece stays whole
    return pieces[several], of[several]


def _kept_whole(pieces: list, footprints: list, block: shapely.Geometry) -> list:
    """``pieces`` of a block with each footprint wholly in the piece holding most of it (ties: the first),
    taken out of the others; each part of a piece then a piece of its own."""
    pieces = list(pieces)
    # footprints that overlap are one building here (kept whole together): their union's parts, in a fixed order
    merged = shapely.get_parts(shapely.union_all(shapely.intersection(np.array(footprints, dtype=object), block)))
    merged = merged[np.isin(shapely.get_type_id(merged), (3, 6))]
    merged = merged[np.lexsort((shapely.get_y(shapely.centroid(merged)), shapely.get_x(shapely.centroid(merged))))]
    for fp in merged:
        if shapely.is_empty(fp) or shapely.area(fp) <= 0:
            continue
        share = shapely.area(shapely.intersection(np.array(pieces, dtype=object), fp))
        if (share > 0).sum() < 2:
            continue
        k = int(np.argmax(share))
        pieces = [shapely.union(p, fp, grid_size=GRID_SIZE_M) if i == k
                  else (shapely.difference(p, fp, grid_size=GRID_SIZE_M) if share[i] > 0 else p)
                  for i, p in enumerate(pieces)]
    return [part for p in pieces for part in shapely.get_parts(p)
            if shapely.get_type_id(part) == 3 and shapely.area(part) > _PIECE_MIN_M2]


def _block_pieces(blocks: np.ndarray, b: int, tree: shapely.STRtree, out: list, out_block: list) -> None:
    """The pieces of block ``b`` (:func:`strip_pieces`), appended to ``out`` (and ``b`` to ``out_block``)."""
    mine = _nearest_pieces(blocks, b, tree)
    corridors = _ring_corridors(blocks[b])
    if corridors is not None:
        _add_cut(out, out_block, b, mine, corridors)
    else:  # a block of one piece is left whole by the caller
        out.extend(mine)
        out_block.extend([b] * len(mine))


def _nearest_pieces(blocks: np.ndarray, b: int, tree: shapely.STRtree) -> list:
    """Block ``b`` cut into the parts nearest to each block it borders; the block itself where it borders
    fewer than two or the diagram is degenerate (collinear points)."""
    nbrs = tree.query(blocks[b], predicate="intersects")
    nbrs = nbrs[nbrs != b]
    shared = shapely.intersection(shapely.boundary(blocks[b]), shapely.boundary(blocks[nbrs]))
    ok = shapely.length(shared) > 1.0
    nbrs, shared = nbrs[ok], shared[ok]
    if len(nbrs) < 2:
        return [blocks[b]]
    xy, owner = shapely.get_coordinates(shapely.segmentize(shared, STRIP_SAMPLE_M), return_index=True)
    # a point on two neighbours' edges (a corner) decides nothing: dropped; repeated points once
    keys = np.round(xy, 3)
    _, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    owners_at = np.unique(np.column_stack([inv, owner]), axis=0)[:, 0]
    shared_pt = np.bincount(owners_at, minlength=len(first)) > 1
    first = np.sort(first[~shared_pt])
    xy, owner = xy[first], owner[first]
    if len(np.unique(owner)) < 2 or len(xy) < 3:
        return [blocks[b]]
    regions = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=blocks[b], ordered=True))
    if len(regions) != len(xy):
        return [blocks[b]]
    mine = []
    for k in np.unique(owner).tolist():
        piece = shapely.intersection(shapely.union_all(regions[owner == k]), blocks[b])
        piece = shapely.union_all([p for p in shapely.get_parts(piece) if shapely.get_type_id(p) == 3])
        if not shapely.is_empty(piece) and shapely.area(piece) > 0:
            mine.append(piece)
    return mine


def _ring_corridors(block: shapely.Geometry) -> shapely.Geometry | None:
    """The corridors across a ring-shaped block: from points round each of its holes, the block within
    :data:`RING_CORRIDOR_HALF_M` of the straight line to the nearest point of its outer edge, carried on past
    that edge (None for a block without holes)."""
    polys = [p for p in shapely.get_parts(block) if shapely.get_type_id(p) == 3 and shapely.get_num_interior_rings(p)]
    if not polys:
        return None
    lines = []
    for poly in shapely.normalize(np.array(polys, dtype=object)):  # the rings' start points fixed, whatever the input
        # the outer edge without slits (a dead-end street drawn into the block): a corridor must reach
        # past the block, not the other side of a slit
        outer = shapely.get_exterior_ring(shapely.buffer(shapely.Polygon(shapely.get_exterior_ring(poly)),
                                                         _SLIT_CLOSE_M, join_style="mitre"))
        for i in range(shapely.get_num_interior_rings(poly)):
            inner = shapely.get_interior_ring(poly, i)
            if shapely.area(shapely.Polygon(inner)) < RING_HOLE_MIN_M2:  # a hole of digitising noise
                continue
            # from points round the hole (one every RING_CORRIDOR_EVERY_M, 4 to 16 of them), each straight
            # to the nearest point of the outer edge: whichever grids lie round the hole, one touches a corridor
            k = int(np.clip(round(shapely.length(inner) / RING_CORRIDOR_EVERY_M), 4, 16))
            starts = shapely.line_interpolate_point(inner, np.arange(k) / k, normalized=True)
            a = shapely.get_coordinates(starts)
            b = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(starts, outer), 1))
            d = b - a
            n = np.hypot(d[:, 0], d[:, 1])
            ok = n > 1e-9  # a hole touching the outer edge needs no corridor from there
            # each line carried on past the outer edge (clipped to the block below): a corridor ending in an
            # inward corner of the edge meets the edge along its width, not at one point
            ends = b[ok] + d[ok] / n[ok, None] * (RING_CORRIDOR_HALF_M + _SLIT_CLOSE_M)
            lines.extend(shapely.linestrings(np.stack([a[ok], ends], axis=1)).tolist())
    if not lines:
        return None
    band = shapely.buffer(np.array(lines, dtype=object), RING_CORRIDOR_HALF_M, cap_style="flat")
    corridor = shapely.intersection(shapely.union_all(band), block)
    parts = [p for p in shapely.get_parts(corridor) if shapely.get_type_id(p) == 3 and shapely.area(p) > 0]
    return shapely.union_all(parts) if parts else None


def _add_cut(out: list, out_block: list, b: int, pieces: list, corridor: shapely.Geometry) -> None:
    """``pieces`` of block ``b`` less ``corridor``, then the corridor's parts, each part a piece of its own."""
    # snap-rounded as the cells' arrangement is: a corridor that meets the outer edge to floating-point noise
    # cuts the ring there, instead of leaving a thread of zero area that holds it together
    for geom in [*(shapely.difference(p, corridor, grid_size=GRID_SIZE_M) for p in pieces), corridor]:
        for part in shapely.get_parts(geom):
            if shapely.get_type_id(part) == 3 and shapely.area(part) > _PIECE_MIN_M2:
                out.append(part)
                out_block.append(b)


def _smoother_regions(point_regions: np.ndarray, sel: np.ndarray, site_block: np.ndarray, site_xy: np.ndarray,
                      site_of: np.ndarray, fp: np.ndarray, fp_b: np.ndarray, blocks: np.ndarray,
                      allowed: np.ndarray, site_group: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """The region of each site ``sel`` of a divided block: in the blocks ``allowed`` whose footprints
    are ragged against the point regions, the footprint regions.

    A site's cell is its region plus its footprints, less the other sites' footprints (a building is
    never cut). With one point per site (``point_regions``, clipped to the block), a region's edge
    runs midway between two sites' points, and so through a large or long footprint beside a small
    one; the cell then bends around that footprint (a notch, a ragged edge). With the footprints'
    outlines as the sites (:func:`_footprint_regions`, the morphological tessellation), edges run
    midway between neighbouring footprints. Blocks where every footprint lies within its point region
    (up to :data:`FOOTPRINT_OUTSIDE_M2`) keep the point regions, and so does a block whose footprint
    diagram is degenerate. With ``site_group`` (per site of ``sel``, a column per grouping), only a
    block whose sites fall in two or more groups of the first column is considered, and it takes the
    footprint regions where the summed outline of the pieces of those groups is shorter with them and
    that of every other grouping no longer. Also whether any block takes them."""
    fp_site = site_of[fp_b]
    slot = np.searchsorted(sel, fp_site)
    ok = (slot < len(sel)) & (sel[np.minimum(slot, len(sel) - 1)] == fp_site)
    blk = site_block[sel]
    div_idx, of_blk = np.unique(blk, return_inverse=True)
    of_blk = of_blk.ravel()
    ragged = allowed[div_idx].copy()
    if site_group is not None:  # a block of one group: its inner edges are no grid's boundary
        lo = np.full(len(div_idx), np.iinfo(np.int64).max)
        hi = np.full(len(div_idx), -1)
        np.minimum.at(lo, of_blk, site_group[:, 0])
        np.maximum.at(hi, of_blk, site_group[:, 0])
        ragged &= lo != hi
    ok[ok] = ragged[of_blk[slot[ok]]]
    fp, slot = fp[ok], slot[ok]
    if not len(fp):
        return point_regions, False
    own = union_by(fp, slot, len(sel))  # each site's footprints (in the blocks considered)
    outside = shapely.area(shapely.difference(own, point_regions))
    ragged &= np.bincount(of_blk, weights=np.nan_to_num(outside), minlength=len(div_idx)) > FOOTPRINT_OUTSIDE_M2
    want = ragged[of_blk]
    if not want.any():
        return point_regions, False
    mine = want[slot]
    foot_regions = _footprint_regions(fp[mine], slot[mine], want, sel, site_block, site_xy, blocks)
    if foot_regions is None:
        return point_regions, False
    failed = np.bincount(of_blk, weights=want & shapely.is_empty(foot_regions), minlength=len(div_idx)) > 0
    use = ragged & ~failed
    if site_group is not None and use.any():
        w = np.flatnonzero(use[of_blk])
        fpw, fpw_blk = fp[mine], of_blk[slot[mine]]
        tree = shapely.STRtree(fpw)

        def drawn(regions: np.ndarray) -> np.ndarray:
            # the cells as drawn: a site's region and footprints, less the block's other footprints (those
            # that reach the region: a block of a hundred thousand footprints is never united whole)
            ri, fi = tree.query(regions[w], predicate="intersects")
            same = fpw_blk[fi] == of_blk[w[ri]]
            ri, fi = ri[same], fi[same]
            order = np.lexsort((fi, ri))
            near = union_by(fpw[fi[order]], ri[order], len(w))
            return shapely.union(shapely.difference(regions[w], near), own[w])

        def outline(cells: np.ndarray, j: int) -> np.ndarray:
            # per block, the summed outline of the pieces of grouping j, over the blocks still in ``use`` (a
            # block's pieces are made of its own cells: the others' sums are not needed)
            at = np.flatnonzero(use[of_blk[w]])
            keys, key_of = np.unique(np.stack([of_blk[w[at]], site_group[w[at], j]]), axis=1, return_inverse=True)
            pieces = union_by(cells[at], key_of.ravel(), keys.shape[1])
            return np.bincount(keys[0], weights=shapely.length(pieces), minlength=len(div_idx))

        # shorter for the first grouping, and no longer for any other (a grouping measured only while some
        # block may still take the footprint regions)
        new, old = drawn(foot_regions), drawn(point_regions)
        use &= outline(new, 0) < outline(old, 0)
        for j in range(1, site_group.shape[1]):
            if not use.any():
                break
            use &= outline(new, j) <= outline(old, j) + 1e-6
    return np.where(use[of_blk], foot_regions, point_regions), bool(use.any())


#: a divided block whose footprints reach this far (m², in all) beyond their sites' point regions has
#: ragged cells: its footprint regions are drawn too (:func:`_smoother_regions`)
FOOTPRINT_OUTSIDE_M2 = 1.0
#: spacing (m) of the points sampled on each footprint's outline (:func:`_footprint_regions`)
FOOTPRINT_SAMPLE_M = 3.0
#: footprints are shrunk by this much (m) before sampling, so that touching neighbours' points stay apart
FOOTPRINT_SHRINK_M = 0.25


def _footprint_regions(fp: np.ndarray, slot: np.ndarray, want: np.ndarray, sel: np.ndarray, site_block: np.ndarray,
                       site_xy: np.ndarray, blocks: np.ndarray) -> np.ndarray | None:
    """The part of its block nearer to each site's footprints ``fp`` (``slot``: the position of their
    site in ``sel``) than to any other site's, clipped to the block: the Voronoi regions of points
    sampled every :data:`FOOTPRINT_SAMPLE_M` on the footprints' outlines, united by site, their shared
    edges simplified by half that spacing (the sampling leaves zigzags between close footprints). A
    site without a footprint (a point) samples its site point. The regions of a block whose diagram is
    degenerate (cocircular points the union cannot take) are empty; None when the diagram misses points."""
    fp = np.asarray(fp, dtype=object)
    small = shapely.buffer(fp, -FOOTPRINT_SHRINK_M, join_style="mitre")
    fp = np.where(shapely.is_empty(small) | (shapely.area(small) <= 0), fp, small)
    pts, of = shapely.get_coordinates(shapely.segmentize(shapely.boundary(fp), FOOTPRINT_SAMPLE_M), return_index=True)
    owner = slot[of]
    bare = np.setdiff1d(np.flatnonzero(want), owner)
    if len(bare):  # sites without a footprint (points): their site point
        pts = np.concatenate([pts, site_xy[sel[bare]]])
        owner = np.concatenate([owner, bare])
    blk = site_block[sel[owner]]
    # one point per position in a block (the lowest site's)
    keys = np.round(pts, _SITE_PRECISION_DECIMALS)
    rec = np.rec.fromarrays([blk, keys[:, 0], keys[:, 1], owner], names="b,x,y,o")
    order = np.argsort(rec, order=("b", "x", "y", "o"), kind="stable")
    r = rec[order]
    first = np.r_[True, (r["b"][1:] != r["b"][:-1]) | (r["x"][1:] != r["x"][:-1]) | (r["y"][1:] != r["y"][:-1])]
    order = order[first]
    order = order[np.lexsort((order, owner[order], blk[order]))]  # block order, then site
    pts, owner, blk = pts[order], owner[order], blk[order]
    div_idx = np.unique(blk)
    group = np.searchsorted(div_idx, blk)
    colls = shapely.voronoi_polygons(shapely.multipoints(pts, indices=group), extend_to=blocks[div_idx], ordered=True)
    parts, pof = shapely.get_parts(colls, return_index=True)
    if not np.array_equal(np.bincount(pof, minlength=len(div_idx)), np.bincount(group, minlength=len(div_idx))):
        return None
    regions = np.full(len(sel), shapely.Polygon(), dtype=object)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    for grp, these in zip(np.split(owner, starts[1:]), np.split(parts, starts[1:]), strict=True):
        mine, at = np.unique(grp, return_inverse=True)
        ok = shapely.get_type_id(these) == 3
        try:  # the regions of a diagram share their edges exactly: a coverage, made simpler
            united = union_by(these[ok], at.ravel()[ok], len(mine), coverage=True)
            simpler = shapely.coverage_simplify(united, FOOTPRINT_SAMPLE_M / 2, simplify_boundary=False)
            united = simpler if shapely.is_valid(simpler).all() else united
            if not shapely.is_valid(united).all():
                continue
        except shapely.errors.GEOSException:  # a degenerate diagram (cocircular points): the point regions
            continue
        regions[mine] = united
    return shapely.intersection(regions, blocks[site_block[sel]])

# --------------------------------------------------------------------------------------------- helpers


def _unit_sites(unit: np.ndarray, buildings: np.ndarray, sites: np.ndarray, bblock: np.ndarray,
                blocks: np.ndarray, households: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every building of a unit takes the site and block of the unit's largest footprint (first on ties).

    Where that footprint lies in its block in several pieces (a community boundary, or the gap between the
    parts of a community, cuts it), the unit's cell is drawn round one of them only, and a member lying in
    another is counted in that cell all the same though it lies in a neighbour: the site is then in the
    piece holding most of the unit's households (each member where its own site is, the footprint itself
    where its site is), then most of its other members, so that as many as can lie in the cell they
    count in (the footprint itself, already in pieces, is cut by the boundary in any case). A piece under
    :data:`~gridgeo.footprints.BUILDING_SHARE_MIN` of the footprint is never chosen; on a tie the piece
    holding the site stays."""
    area = shapely.area(buildings)
    area = np.where(np.isnan(area), 0.0, area)
    order = np.lexsort((np.arange(len(unit)), -area, unit))
    first = np.r_[True, unit[order][1:] != unit[order][:-1]]
    leader = np.empty(int(unit.max()) + 1, dtype=np.int64)
    leader[unit[order][first]] = order[first]
    lead = leader[unit]
    out_sites, out_block = sites[lead], bblock[lead]
    others = np.flatnonzero(lead != np.arange(len(unit)))
    if not len(others):
        return out_sites, out_block
    heads = np.unique(lead[others])
    heads = heads[area[heads] > 0]
    heads = heads[(shapely.get_num_geometries(buildings[heads]) > 1)
                  | ~shapely.covers(blocks[bblock[heads]], buildings[heads])]
    if not len(heads):
        return out_sites, out_block
    inner = polygonal(shapely.intersection(buildings[heads], blocks[bblock[heads]]))
    many = shapely.get_num_geometries(inner) > 1
    for h, pieces in zip(heads[many].tolist(), inner[many]):
        parts = shapely.get_parts(pieces)
        ok = shapely.area(parts) >= BUILDING_SHARE_MIN * area[h]
        mine = others[lead[others] == h]
        held = shapely.covers(parts[:, None], sites[mine][None, :])  # piece x member (its own site)
        here = shapely.covers(parts, sites[h])  # the footprint itself counts where its site is
        score = np.column_stack([held @ np.asarray(households[mine], dtype=float) + here * float(households[h]),
                                 held.sum(axis=1)])
        best = None
        for i in np.flatnonzero(ok):  # the most households, then members; the site's own piece on a tie
            key = (score[i, 0], score[i, 1], bool(here[i]))
            if best is None or key > best[0]:
                best = (key, i)
        if best is None or here[best[1]]:
            continue
        site = shapely.point_on_surface(parts[best[1]])
        out_sites[lead == h] = site
    return out_sites, out_block


def _sites_in_largest_piece(buildings: np.ndarray, blocks: np.ndarray, bblock: np.ndarray,
                            sites: np.ndarray) -> np.ndarray:
    """Each building's site moved into the largest piece of the building inside its block, where its block
    holds it in several pieces and the site lies in one under :data:`~gridgeo.footprints.BUILDING_SHARE_MIN` of
    the footprint.

    A footprint drawn across the gap between two parts of its community (one block over both parts) has a
    piece in each part; its site decides the cell, so the grid, that holds the whole building. A grid holding
    less than that share of a footprint does not hold it for ``validate`` (the one building-to-zone
    assignment): :func:`shapely.point_on_surface` (the widest row) may pick such a sliver of a piece. A site
    in a piece of at least that share stays where it is. Returns a new array; buildings held whole (or in
    one piece) keep their site.
    """
    if not len(buildings):
        return sites
    poly = np.isin(shapely.get_type_id(buildings), (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON))
    poly &= ~shapely.is_empty(buildings) & (bblock >= 0)
    idx = np.flatnonzero(poly)
    if not len(idx):
        return sites
    idx = idx[~shapely.covers(blocks[bblock[idx]], buildings[idx])]
    if not len(idx):
        return sites
    inner = polygonal(shapely.intersection(buildings[idx], blocks[bblock[idx]]))
    many = shapely.get_num_geometries(inner) > 1
    idx, inner = idx[many], inner[many]
    if not len(idx):
        return sites
    parts, pi = shapely.get_parts(inner, return_index=True)
    # the share of the footprint the piece holding the site holds (0 when no piece holds it)
    share = np.zeros(len(idx))
    at = shapely.covers(parts, sites[idx[pi]])
    np.maximum.at(share, pi[at], shapely.area(parts[at]) / shapely.area(buildings[idx[pi[at]]]))
    small = share < BUILDING_SHARE_MIN
    largest = np.full(len(idx), None, dtype=object)
    largest[small] = largest_part_points(inner[small])
    move = small & ~(shapely.is_missing(largest) | shapely.is_empty(largest))
    out = sites.copy()
    out[idx[move]] = largest[move]
    return out


def _site_points(geoms: np.ndarray) -> np.ndarray:
    """A point inside each geometry (empty where the geometry is missing or empty)."""
    pts = np.asarray(shapely.point_on_surface(geoms), dtype=object)
    missing = shapely.is_missing(pts)
    pts[missing] = shapely.Point()
    return pts


def _locate(
    points: np.ndarray,
    polys: np.ndarray,
    tree: shapely.STRtree,
    *,
    prefer: np.ndarray | None = None,
    prefer_key: np.ndarray | None = None,
) -> np.ndarray:
    """Index of the polygon holding each point (the lowest index on ties), else the nearest one.

    With ``prefer``/``prefer_key``: a polygon whose ``prefer`` value equals the point's key wins.
    """
    out = np.full(len(points), -1, dtype=np.int64)
    if len(points) == 0 or len(polys) == 0:
        return out
    p, q = tree.query(points, predicate="within")
    rank = (prefer[q] != prefer_key[p]).astype(np.int64) if prefer is not None else np.zeros(len(p), np.int64)
    sel = _first_per(p, rank, q)
    out[p[sel]] = q[sel]
    miss = np.flatnonzero(out < 0)
    if len(miss):
        a, b = tree.query_nearest(points[miss], all_matches=True)
        rank = (prefer[b] != prefer_key[miss[a]]).astype(np.int64) if prefer is not None else np.zeros(len(a), np.int64)
        sel = _first_per(a, rank, b)
        out[miss[a[sel]]] = b[sel]
    return out


def _first_per(group: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """Positions of the first row of each ``group`` when rows are sorted by ``keys`` (ascending)."""
    if not len(group):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((*keys[::-1], group))
    g = group[order]
    first = np.r_[True, g[1:] != g[:-1]]
    return order[first]


def spread_labels(faces: np.ndarray, label: np.ndarray, *, group: np.ndarray | None = None) -> None:
    """Give each face without a label (-1) the label of the labelled neighbour face sharing the longest
    boundary with it (with ``group``, a neighbour of the same group first; ties to the lower position),
    repeatedly, so that faces reached only through unlabelled ones are labelled too. In place; faces
    touching no labelled face along a boundary stay -1."""
    tree = shapely.STRtree(faces)
    for _round in range(int((label < 0).sum()) + 1):
        todo = np.flatnonzero(label < 0)
        if not len(todo):
            break
        a, b = tree.query(faces[todo], predicate="intersects")
        a = todo[a]
        ok = (a != b) & (label[b] >= 0)
        a, b = a[ok], b[ok]
        if not len(a):
            break
        shared = shapely.length(shapely.intersection(shapely.boundary(faces[a]), shapely.boundary(faces[b])))
        pos = shared > 0
        a, b, shared = a[pos], b[pos], shared[pos]
        if not len(a):
            break
        keys = (-shared, b) if group is None else (group[a] != group[b], -shared, b)
        sel = _first_per(a, *keys)
        label[a[sel]] = label[b[sel]]


def _arrangement(lines: np.ndarray) -> np.ndarray:
    """Faces of the planar arrangement of ``lines`` (noded with snap-rounding)."""
    lines = lines[~(shapely.is_empty(lines) | shapely.is_missing(lines))]
    noded = shapely.union_all(lines, grid_size=GRID_SIZE_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = np.asarray(faces, dtype=object)
    return faces[shapely.area(faces) > 0]


def _split_slack(faces: np.ndarray, reps: np.ndarray, label: np.ndarray, face_block: np.ndarray,
                 fp_label: np.ndarray, blocks: np.ndarray, block_tree: shapely.STRtree):
    """Each face of the community beyond its blocks (slack: an outline repaired after the blocks were drawn,
    float noise between outlines) that borders three cells or more, cut across at every end of the edges it
    shares with the faces inside the blocks, from that point to the nearest point of its other edges (the
    community outline): each piece then goes to the cell beside it (unlabelled, as :func:`_union_cells`
    hands out orphans) instead of the whole face, a hairline along many cells, to one of them (issue 16).
    A face bordering one or two cells is left as it is: whole in either of two, it joins no cells that do
    not touch already. Returns ``faces``, ``label``, ``face_block``, ``fp_label`` (new arrays when a face
    is cut)."""
    if not len(blocks):
        return faces, label, face_block, fp_label
    # outside every block: :func:`_locate` gave each face a block holding its point where one does
    slack = ~shapely.within(reps, blocks[face_block])
    idx = np.flatnonzero(slack)
    if not len(idx):
        return faces, label, face_block, fp_label
    a, b = shapely.STRtree(faces).query(faces[idx], predicate="intersects")
    a = idx[a]
    ok = ~slack[b] & (label[b] >= 0)
    a, b = a[ok], b[ok]
    shared = shapely.intersection(shapely.boundary(faces[a]), shapely.boundary(faces[b]))
    pos = shapely.length(shared) > 0
    a, b, shared = a[pos], b[pos], shared[pos]
    cut, pieces = [], []
    for f in np.unique(a).tolist():
        mine = a == f
        if len(np.unique(label[b[mine]])) < 3:  # given to one of two cells, it joins no cells that did not touch
            continue
        edges = shapely.get_parts(shapely.line_merge(shared[mine]))  # per neighbour: its ends are the cuts
        ends = shapely.points(np.unique(np.concatenate([shapely.get_coordinates(shapely.get_point(edges, 0)),
                                                        shapely.get_coordinates(shapely.get_point(edges, -1))]), axis=0))
        outer = shapely.difference(shapely.boundary(faces[f]), shapely.union_all(edges))
        if shapely.is_empty(outer):
            continue
        xy = shapely.get_coordinates(shapely.shortest_line(ends, outer)).reshape(-1, 2, 2)
        xy = xy[(xy[:, 0] != xy[:, 1]).any(axis=1)]
        xy[:, 1] += (xy[:, 1] - xy[:, 0]) * 0.1  # a little past the outline, so that noding crosses it
        # noded in floating point: snap-rounding would drop the cuts under a pixel long near a wedge's tip
        lines = shapely.union_all(np.concatenate([[shapely.boundary(faces[f])], shapely.linestrings(xy)]))
        got = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))), dtype=object)
        got = got[shapely.area(got) > 0]
        pts = inner_points(got)
        got = got[shapely.contains_xy(faces[f], shapely.get_x(pts), shapely.get_y(pts))]
        if len(got) < 2 or abs(shapely.area(got).sum() - shapely.area(faces[f])) > 1e-3 * shapely.area(faces[f]):
            continue
        cut.append(f)
        pieces.append(got)
    if not cut:
        return faces, label, face_block, fp_label
    keep = np.ones(len(faces), dtype=bool)
    keep[cut] = False
    new = np.concatenate(pieces)
    new_block = _locate(inner_points(new), blocks, block_tree)
    return (np.concatenate([faces[keep], new]), np.concatenate([label[keep], np.full(len(new), -1)]),
            np.concatenate([face_block[keep], new_block]), np.concatenate([fp_label[keep], np.full(len(new), -1)]))


def _voronoi_fallback(parts, owner, ok_blocks, site_xy, site_block, div_idx, blocks):
    """Voronoi cells one block at a time when the vectorised call merged sites (degenerate input)."""
    out_parts, out_owner = [], []
    for j, b in enumerate(div_idx):
        if ok_blocks[j]:
            out_parts.append(parts[owner == j])
            out_owner.append(np.full(int((owner == j).sum()), j))
            continue
        xy = site_xy[site_block == b]
        cells = np.empty(len(xy), dtype=object)
        # nearest-site cells by pairwise bisector half-planes (few sites: the degenerate case is tiny)
        env = shapely.envelope(blocks[b]).buffer(1.0)
        for i in range(len(xy)):
            cell = env
            for jj in range(len(xy)):
                if jj == i:
                    continue
                cell = shapely.intersection(cell, _half_plane(xy[i], xy[jj], env))
            cells[i] = cell
        out_parts.append(cells)
        out_owner.append(np.full(len(xy), j))
    return np.concatenate(out_parts), np.concatenate(out_owner)


def _half_plane(p: np.ndarray, q: np.ndarray, env: shapely.Geometry) -> shapely.Geometry:
    """The half of ``env`` nearer to ``p`` than to ``q``."""
    x0, y0, x1, y1 = env.bounds
    big = 4 * max(x1 - x0, y1 - y0, 1.0)
    mid = (p + q) / 2
    d = q - p
    if not np.any(d):
        return env
    d = d / np.hypot(*d)
    perp = np.array([-d[1], d[0]])
    a, b = mid + perp * big, mid - perp * big
    return shapely.Polygon([a, b, b - d * big, a - d * big])


def _healed(fp: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Multi-part footprints with their pieces joined where they come within :data:`FOOTPRINT_HEAL_M` of
    each other (a bridge of that radius around the shortest line between them; a tile cut or a footprint
    touching itself at a corner), kept in their block; pieces further apart stay apart. Where the result
    is a collection (a line or point where a footprint meets the block's edge), its polygons are kept.

    >>> from shapely import box, MultiPolygon, Polygon
    >>> bowtie = MultiPolygon([Polygon([(0, 0), (10, 0), (10, 10)]), Polygon([(0, 0), (-10, 0), (-10, -10)])])
    >>> h = _healed(np.array([bowtie]), np.array([box(-20, -20, 20, 20)]))[0]
    >>> h.geom_type, round(h.area, 2)
    ('Polygon', 100.01)
    >>> apart = MultiPolygon([box(0, 0, 10, 10), box(13, 0, 20, 10)])
    >>> _healed(np.array([apart]), np.array([box(-5, -5, 30, 15)]))[0].geom_type
    'MultiPolygon'

    Two tiles 2 cm apart and a third just over the block's edge: clipped to the block, the footprint is
    a collection of the two tiles and the line where the third touches the edge; healed, one polygon.

    >>> block = box(0, 0, 20, 10)
    >>> tiles = MultiPolygon([box(0, 0, 5, 5), box(5.02, 0, 10, 5), box(20, 0, 25, 5)])
    >>> fp = shapely.intersection(tiles, block)
    >>> fp.geom_type, [p.geom_type for p in fp.geoms]
    ('GeometryCollection', ['Polygon', 'Polygon', 'LineString'])
    >>> h = _healed(np.array([fp]), np.array([block]))[0]
    >>> h.geom_type, round(h.area, 2)
    ('Polygon', 49.91)
    """
    d = FOOTPRINT_HEAL_M
    out = fp.copy()
    for k, g in enumerate(fp):
        parts = shapely.get_parts(g)
        a, b = np.triu_indices(len(parts), 1)
        near = shapely.dwithin(parts[a], parts[b], d)
        if not near.any():
            continue
        bridges = shapely.buffer(shapely.shortest_line(parts[a[near]], parts[b[near]]), d)
        healed = shapely.intersection(shapely.union_all(np.concatenate([[g], bridges])), blocks[k])
        if shapely.get_type_id(healed) == 7:  # lines or points where it meets the block's edge: its polygons
            pieces = shapely.get_parts(healed)
            healed = shapely.union_all(pieces[np.isin(shapely.get_type_id(pieces), (3, 6))])
        if shapely.get_type_id(healed) in (3, 6) and shapely.is_valid(healed):
            out[k] = healed
    return out


def _union_cells(
    faces: np.ndarray,
    label: np.ndarray,
    nslots: int,
    anchor: np.ndarray,
    slot_block: np.ndarray,
    face_block: np.ndarray,
    fp_label: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Union faces per slot, repairing unlabelled faces and stray pieces so every cell is one piece; a stray
    piece of a footprint (``fp_label``: the slot whose footprint holds each face, -1 outside footprints) goes
    whole to one cell."""
    for _ in range(20):
        geoms = _union_by(faces, label, nslots)
        multi = np.flatnonzero(shapely.get_num_geometries(geoms) > 1)
        orphans = label < 0
        if not len(multi) and not orphans.any():
            return geoms, label
        # stray pieces of multi-part cells become orphans (keep the piece with the anchor, else the largest)
        if len(multi):
            fidx = np.flatnonzero(np.isin(label, multi))
            for s in multi:
                pieces = shapely.get_parts(geoms[s])
                keep = None
                if anchor[s] is not None:
                    hit = np.flatnonzero(shapely.intersects(pieces, anchor[s]))
                    if len(hit):
                        keep = hit[0]
                if keep is None:
                    keep = int(np.argmax(shapely.area(pieces)))
                main = pieces[keep]
                mine = fidx[label[fidx] == s]
                pts = inner_points(faces[mine])
                stray = mine[~shapely.contains_xy(main, shapely.get_x(pts), shapely.get_y(pts))]
                label[stray] = -1
        # hand orphans to the labelled neighbour face with the longest shared boundary (same block first)
        spread_labels(faces, label, group=face_block)
        # orphans with no labelled neighbour at all (isolated faces): their own nearest slot by position
        rest = np.flatnonzero(label < 0)
        if len(rest):
            blk = face_block[rest]
            cand = np.array([np.flatnonzero(slot_block == bb)[0] if (slot_block == bb).any() else 0 for bb in blk])
            label[rest] = cand
        if fp_label is not None:
            _stray_footprints_whole(faces, label, fp_label)
    return _union_by(faces, label, nslots), label


def _stray_footprints_whole(faces: np.ndarray, label: np.ndarray, fp_label: np.ndarray) -> None:
    """Each connected piece of a footprint handed to other cells, in one of them (in place).

    A footprint whose piece lies apart from its site's cell (across the gap between two parts of its community,
    in one block over both) has that piece handed out face by face, and other sites' regions cross it: the
    piece would be cut between cells, so between grids or small grids (楼栋完整). Its faces all go to the cell
    holding most of its area (ties to the lower slot); the caller unites the cells again.
    """
    moved = np.flatnonzero((fp_label >= 0) & (label >= 0) & (label != fp_label))
    if len(moved) < 2:
        return
    a, b = shapely.STRtree(faces[moved]).query(faces[moved], predicate="intersects")
    ok = (a < b) & (fp_label[moved[a]] == fp_label[moved[b]])
    a, b = a[ok], b[ok]
    if len(a):
        shared = shapely.length(shapely.intersection(shapely.boundary(faces[moved[a]]),
                                                     shapely.boundary(faces[moved[b]])))
        a, b = a[shared > 0], b[shared > 0]
    n = len(moved)
    _, piece = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)), directed=False)
    area = shapely.area(faces[moved])
    for p in np.unique(piece):
        mine = np.flatnonzero(piece == p)
        labs = label[moved[mine]]
        if len(np.unique(labs)) < 2:
            continue
        held = np.bincount(labs, weights=area[mine])
        label[moved[mine]] = int(np.argmax(held))  # the first of the largest: the lower slot on ties


def _keep_footprints_whole(label: np.ndarray, fp_label: np.ndarray, geoms: np.ndarray,
                           slot_of_site: np.ndarray, site_slots: range, slot_block: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Cells joined where a piece of one site's footprint went to another site's cell.

    A footprint whose part in its block is in pieces further apart than :data:`FOOTPRINT_HEAL_M` (a
    community boundary drawn across an L-shaped building leaves both arms on one side) has a cell that
    holds one piece; the stray piece went to the neighbour. The two cells become one, with the fewest cells
    between them where they do not meet (at most :data:`JOIN_HOPS`), so the building is never split
    between grids or small grids; where no such union is one piece the cells are left as they are.
    """
    moved = (fp_label >= 0) & (label != fp_label) & (label >= 0)
    if not moved.any():
        return geoms, slot_of_site
    pairs = sorted({(int(a), int(b)) for a, b in zip(fp_label[moved], label[moved], strict=True)
                    if a in site_slots and b in site_slots})
    if not pairs:
        return geoms, slot_of_site
    geoms = geoms.copy()
    root = {}

    def find(x: int) -> int:
        while root.get(x, x) != x:
            x = root[x]
        return x

    slots = np.array(site_slots, dtype=np.int64)
    tree = shapely.STRtree(geoms[slots])

    def neighbours(c: int) -> list[int]:
        near = slots[tree.query(geoms[c], predicate="intersects")]
        near = near[(near != c) & ~shapely.is_empty(geoms[near]) & (slot_block[near] == slot_block[c])]  # one block
        shared = shapely.length(shapely.intersection(shapely.boundary(geoms[c]), shapely.boundary(geoms[near])))
        return sorted({find(int(x)) for x in near[shared > 0]} - {c})

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra == rb or shapely.is_empty(geoms[ra]) or shapely.is_empty(geoms[rb]):
            continue
        # the two cells, and where they do not meet, the fewest cells between them (breadth first, a few hops)
        prev, frontier, path = {ra: ra}, [ra], None
        for _ in range(JOIN_HOPS + 1):
            nxt = []
            for c in frontier:
                for y in neighbours(c):
                    if y not in prev:
                        prev[y] = c
                        nxt.append(y)
            if rb in prev:
                path = [rb]
                while path[-1] != ra:
                    path.append(prev[path[-1]])
                break
            frontier = nxt
        if path is None:
            continue
        joined = shapely.coverage_union_all(geoms[path])
        if shapely.get_num_geometries(joined) != 1:
            continue
        keep = min(path)
        for c in path:
            if c != keep:
                geoms[c] = shapely.Polygon()
                root[c] = keep
        geoms[keep] = joined
        tree = shapely.STRtree(geoms[slots])
    if root:
        slot_of_site = np.array([find(int(s)) if s >= 0 else s for s in slot_of_site], dtype=slot_of_site.dtype)
    return geoms, slot_of_site


def _union_by(faces: np.ndarray, label: np.ndarray, n: int) -> np.ndarray:
    """Coverage union of ``faces`` grouped by ``label`` (0..n-1); empty polygons for empty groups."""
    return union_by(faces, label, n, coverage=True)


