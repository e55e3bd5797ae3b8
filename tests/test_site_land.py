"""Land without buildings bending a grid round a dedicated grid (专属网格) handed to that dedicated grid."""

import numpy as np
import shapely
from shapely import box

from gridgeo.partition.site_land import LOW_PP, SITE_KEEPS_PP, empty_land_to_sites


def _pp(g):
    return 4 * np.pi * g.area / g.length**2


def _arr(*geoms):
    return np.array(geoms, dtype=object)


# a 100 x 100 m grid of buildings with an empty 100 x 10 m arm along a dedicated site (the site 100 x 90 m above it)
SQUARE, ARM, SITE = box(0, 0, 100, 100), box(100, 0, 200, 10), box(100, 10, 200, 100)
GRID = shapely.union(SQUARE, ARM)


def test_the_empty_arm_goes_to_the_site_beside_it():
    small = _arr(box(0, 0, 50, 100), shapely.union(box(50, 0, 100, 100), ARM))
    grids, smalls, moved = empty_land_to_sites(
        _arr(GRID), small, np.array([0, 0]), _arr(SQUARE, ARM), np.array([3, 0]), np.array([0, 0]), np.array([0, 1]), _arr(SITE)
    )
    assert _pp(GRID) < LOW_PP
    assert grids[0].equals(SQUARE) and round(_pp(grids[0]), 3) == 0.785
    assert len(moved) == 1 and moved[0].equals(ARM)
    # the small grid holding the arm loses it, the other is as it was; together they still tile the grid
    assert smalls[0].equals(small[0]) and smalls[1].equals(box(50, 0, 100, 100))
    assert shapely.union_all(smalls).equals(grids[0])
    # the site with the arm is a rectangle: no less compact than the lesser of its before and SITE_KEEPS_PP
    assert _pp(shapely.union(SITE, moved[0])) >= min(_pp(SITE), SITE_KEEPS_PP)


def test_land_with_a_building_stays():
    grids, smalls, moved = empty_land_to_sites(
        _arr(GRID), _arr(GRID), np.array([0]), _arr(SQUARE, ARM), np.array([3, 1]), np.array([0, 0]), np.array([0, 1]), _arr(SITE)
    )
    assert moved == [] and grids[0] is GRID


def test_no_site_beside_the_arm_no_move():
    far = box(300, 300, 400, 400)
    grids, _, moved = empty_land_to_sites(
        _arr(GRID), _arr(GRID), np.array([0]), _arr(SQUARE, ARM), np.array([3, 0]), np.array([0, 0]), np.array([0, 1]), _arr(far)
    )
    assert moved == [] and grids[0] is GRID


def test_a_compact_grid_keeps_its_land():
    # a 100 x 100 m grid with a 10 m strip along its side (PP 0.78): over LOW_PP, nothing moves
    strip = box(100, 0, 110, 100)
    grid = shapely.union(SQUARE, strip)
    grids, _, moved = empty_land_to_sites(
        _arr(grid),
        _arr(grid),
        np.array([0]),
        _arr(SQUARE, strip),
        np.array([3, 0]),
        np.array([0, 0]),
        np.array([0, 1]),
        _arr(box(110, 0, 200, 100)),
    )
    assert _pp(grid) >= LOW_PP and moved == [] and grids[0] is grid


def test_a_move_that_would_wrap_the_site_round_a_grid_is_refused():
    # the site is a deep U open to the south and the grid a 20 m wide band filling it, its empty southern end in
    # the U's mouth: without that end the grid would be more compact (PP 0.149 -> 0.195), but the site taking it
    # would close round the grid's other land (a hole in the site)
    site = shapely.difference(box(100, 0, 300, 400), box(190, 0, 210, 380))
    inner, mouth = box(190, 100, 210, 380), box(190, 0, 210, 100)
    grid = shapely.union(inner, mouth)
    assert _pp(grid) < LOW_PP and _pp(inner) > _pp(grid) + 0.04
    assert shapely.get_num_interior_rings(shapely.union(site, mouth)) == 1
    grids, _, moved = empty_land_to_sites(
        _arr(grid),
        _arr(grid),
        np.array([0]),
        _arr(inner, mouth),
        np.array([5, 0]),
        np.array([0, 0]),
        np.array([0, 1]),
        _arr(site),
    )
    assert moved == [] and grids[0] is grid
