"""Towns of the fuzz driver (``scripts/fuzz_partition.py``: seeded windows of the real data in ../shared/data,
SYNTHETIC imperfect communities, ESTIMATED households) that found a defect, kept as regression tests: the plan
validates with no error, nothing is dropped, no footprint unit is split, and the plan is the same with the
input rows shuffled."""

from __future__ import annotations

import sys

import pytest

# seed: what the plan of that town did wrong before the fix
TOWNS = {
    2000: "an address point on the edge of a dedicated grid asked for a small-grid code (building_code_mismatch)",
    2022: "a block's cut-off piece was given away face by face, cutting a building (building_cut)",
    2026: "the same, another town",
    2054: "a cut-off piece holding part of a footprint moved into its block was given away (building_cut)",
    2106: "buildings of one footprint unit across two communities judged together: row order moved one (shuffle)",
    2055: "a dedicated grid taking a block left in two pieces by a moved footprint (multipart_grid)",
    2079: "buildings of a dedicated grid's cut-off piece kept its code (building_code_mismatch)",
    2326: "a block cut around a dedicated unit's buildings in their row order: a 10 µm sliver moved (shuffle)",
    2046: "a footprint over the gap between parts of a community, in its unit placed whole on the other side, "
          "judged alone (building_code_mismatch)",
    2241: "the same with a shifted copy's unit (building_code_mismatch)",
    2164: "a footprint mostly outside, 2.4% and 2.9% of it in two communities, left in no grid by the footprint-unit "
          "rule while validate found it in one (building_code_mismatch)",
    2198: "the same, another town",
    2319: "the same, another town",
    2041: "crumbs of an ordinary grid round buildings inside a dedicated grid; the second multi-part grid of a "
          "two-part community judged against the first one's copy of it (multipart_grid)",
    2101: "a dedicated grid over a two-part community kept the crumbs round other buildings (multipart_grid)",
    2173: "an ordinary grid and a dedicated grid each with stray pieces of bare land in one community part (multipart_grid)",
    2199: "a dedicated grid with a stray piece under a square metre left by mending a self-crossing outline (multipart_grid)",
    2056: "a grid under its floor wrapped round its neighbour: the corridor held a shed of 3 (grid_encloses_grid)",
    2113: "a grid under its floor wrapped round a tower's grid: the corridor held 13 households (grid_encloses_grid)",
    2257: "a grid wrapped round a tower's grid over the ceiling: the corridor held a shed of 1 (grid_encloses_grid)",
    2323: "a grid wrapped round a tower: the empty corridor cut off an empty arm of the ring (grid_encloses_grid)",
    2053: "a small grid wrapped round a sibling out of its bounds: the corridor held a shed (grid_encloses_grid)",
    2006: "an address point beyond the gap between parts of a community, its footprint unit placed on the other "
          "side, judged alone (building_code_mismatch); and a dedicated grid in pieces (multipart_grid)",
    2402: "a footprint 3.4% in the communities left in no grid (building_code_mismatch); stray pieces (multipart_grid)",
    2455: "a footprint across the gap between parts of its community, its piece on the far side (one block over both "
          "parts) handed out face by face and cut between small grids (building_cut)",
    2566: "the same, the far piece cut between three grids (building_cut)",
    2600: "the same, another town",
    2520: "a grid wrapped round a dedicated grid's site carved out inside a block, a lane to its neighbour possible "
          "(grid_encloses_grid: lanes went only to a grid in the hole)",
    2501: "the community's only ordinary grid wrapped round a dedicated grid's site (grid_encloses_grid: no lane to "
          "the community's edge)",
    2340: "a grid wrapped round a tower's grid 12 m from the community's edge, every lane elsewhere through buildings "
          "(grid_encloses_grid: no lane to the community's edge)",
    2756: "dedicated grids taking all of a community (two parts) but a sliver of 7e-5 m² their cut left: an ordinary "
          "grid of no household drawn there, its small grid in no grid for validate (subgrid_not_nested)",
    2087: "a grid wrapped round another base grid, every lane clear of the footprints crossing a small grid of the "
          "ring with buildings on both sides (grid_encloses_grid: that small grid not redrawn round the lane)",
    2423: "a grid wrapped round a dedicated grid's site and a tower's grid beside it, the same (grid_encloses_grid; "
          "and a sliver face of 1e-11 m² the lane's noding gave the ring, a second part, refused the lane)",
    2770: "a gap face between two jittered outlines, pinched to a wedge of no width, given as a block to the community "
          "holding its point_on_surface (a vertex on its boundary): with dedicated grids carved, the community's grid "
          "kept 10.2 m² outside every community (outside_community)",
    2890: "the same in the arrangement of blocks and the footprints moved whole into one of them: a face of a footprint "
          "outside every block given to the block holding its point_on_surface, a vertex on the face's boundary "
          "(outside_community)",
    2969: "a footprint across the gap between parts of its community, 26 m² on one side and 258 m² on the other, its "
          "site put in the small piece (the widest row of its pieces): a grid of that piece alone held it, the grid "
          "round its large piece did not (building_code_mismatch)",
    4196: "a 417 m² gap between two communities, joined by a 3 µm hairline to a crack in a third, given to the third "
          "(its hairline's two sides counted as shared boundary): the third's grid there hung on the hairline, stored "
          "in two parts (multipart_grid)",
    4368: "streets GEOS could node only by its snapping fallback, two crossing without a node: the ring round 5,186 m² "
          "of a community no face, that land in no block and no grid (gap)",
}

# towns whose buildings now carry the codes they lie in, but whose plan still has a grid wrapped round a dedicated
# grid's site carved out inside a block (a forced enclosure, reported as such), so that the whole check fails
CODES_ONLY = {
    2265: "a footprint 4.7% in the communities left in no grid (the footprint-unit rule)",
}


@pytest.mark.parametrize("seed", sorted(TOWNS))
def test_fuzz_town_that_found_a_defect_stays_clean(seed, shared_data):
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(seed)
    plan = fz.div(t)
    fz.check(plan, t)  # raises naming the failed check
    assert fz._digest(fz.div(fz.shuffled(t, seed))) == fz._digest(plan), f"{desc}: row order changed the plan"


def test_fuzz_town_wrap_kept_for_its_small_grids_says_why(shared_data):
    """Fuzz town 2003: a grid wrapped round a dedicated grid's site, every lane that opens it cutting a small grid
    of 109 households into pieces of 39 and 70 (or one of 120 into 34 and 86), so that redrawn round the lane its
    small grids would be fewer within 100–150: the wrap is kept, and its finding says so."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, _ = fz.town(2003)
    found = fz.div(t).findings
    wrapped = found[found["type"] == "grid_encloses_grid"]
    assert len(wrapped) == 1
    assert "redrawn round such a lane its small grids would be fewer within their bounds" in wrapped["message"].iloc[0]


def test_fuzz_town_wrap_round_a_walled_in_site_says_why_no_lane_opens_it(shared_data):
    """Fuzz town 2645 (issue 16, session 37): a grid wrapped round a dedicated grid's site (专属网格) was reported as
    "neither a corridor to another grid nor a division afresh opened them within the bounds", never why the lanes
    from the site to a neighbouring grid and to the community's edge failed. Measured: not one straight lane 8 or
    4 m wide from the site passes 1 m clear of every footprint; the finding now says so (and, session 40, what the
    lanes with bends tried after them met). Its companion 2637 is opened by a lane with bends since (below)."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, _ = fz.town(2645)
    found = fz.div(t).findings
    wrapped = found[found["type"] == "grid_encloses_grid"]
    assert len(wrapped) == 1
    msg = wrapped["message"].iloc[0]
    assert "nor a lane between the buildings: none of the " in msg
    assert ("straight lanes 8 or 4 m wide tried from the site, to a neighbouring grid or to the community's edge, "
            "passes 1 m clear of every footprint: each would cut a building") in msg
    assert "lane with bends between the buildings" in msg


def test_fuzz_town_wrap_whose_lane_with_bends_cuts_a_small_grid_says_so(shared_data):
    """Fuzz town 3383 (session 40): no straight lane from the dedicated grid's site (专属网格) passes 1 m clear of
    the footprints, nor a lane with bends 8 or 4 m wide; the one lane with bends 2 m wide cuts a small grid (小网格)
    into pieces holding buildings, and redrawn round it the small grids would be fewer within their bounds: the
    wrap is kept and its finding says why."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, _ = fz.town(3383)
    found = fz.div(t).findings
    wrapped = found[found["type"] == "grid_encloses_grid"]
    assert len(wrapped) == 1
    assert ("the shortest lanes with bends between the buildings (8, 4 or 2 m wide, 1 m clear of every footprint) "
            "would cut one of its small grids (小网格) into pieces holding buildings") in wrapped["message"].iloc[0]


@pytest.mark.parametrize("seed", [2637, 3438])
def test_fuzz_town_site_with_no_straight_way_out_is_opened_by_a_lane_with_bends(seed, shared_data):
    """Fuzz towns 2637 (session 37) and 3438 (session 39): a grid stayed wrapped round a dedicated grid's site
    (专属网格), no straight lane from it passing 1 m clear of every footprint, though a lane with bends did (3438:
    one 2 m wide). The shortest lane with bends now opens it: the plan passes every check of the fuzz driver (no
    hole, buildings and households kept, no unit split, validate clean) and is the same with the rows shuffled."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(seed)
    plan = fz.div(t)
    assert not (plan.findings["type"] == "grid_encloses_grid").any()
    fz.check(plan, t)  # raises naming the failed check
    assert fz._digest(fz.div(fz.shuffled(t, seed))) == fz._digest(plan), f"{desc}: row order changed the plan"


def test_fuzz_town_dedicated_grid_wrapped_round_another_is_a_finding_of_the_plan(shared_data):
    """Fuzz town 3491 (session 39): the dedicated grid of a cluster (和平饭店北楼, CITIC, ICBC) wraps round the
    dedicated grid of a point unit whose buildings lie amid the cluster's blocks. ``gridgeo validate`` counted the
    hole (``grid_encloses_grid``) but the plan's own findings said nothing of it (an ordinary grid's wrap is a
    finding of the partition); now the plan names the dedicated grid and the grid in its hole."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, _ = fz.town(3491)
    plan = fz.div(t)
    found = plan.findings
    wrapped = found[found["type"] == "grid_encloses_grid"]
    checked = plan.validate()
    assert set(wrapped["feature_id"]) == set(checked.loc[checked["type"] == "grid_encloses_grid", "feature_id"])
    assert len(wrapped) == 1
    ded = plan.grids.loc[plan.grids["kind"] == "dedicated", "grid_code"]
    msg = wrapped["message"].iloc[0]
    assert wrapped["feature_id"].iloc[0] in set(ded) and msg.startswith("dedicated grid ")
    held = msg.split("held by other grids (")[1].split(")")[0].split(", ")
    assert held and set(held) <= set(ded)


def test_fuzz_town_dedicated_grid_left_long_by_its_lane_says_so(shared_data):
    """Fuzz town 2524 (issue 16, session 37): the only way out of a dedicated grid's site (专属网格) is a lane to the
    community's edge, which the site takes; with it the dedicated grid has Polsby–Popper 0.224, and dedicated grids
    had no compactness finding at all. It now gets ``grid_not_compact`` naming the lane, where it ends and the
    Polsby–Popper it takes the site from and to."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, _ = fz.town(2524)
    plan = fz.div(t)
    ded = plan.grids[plan.grids["kind"] == "dedicated"]
    found = plan.findings[(plan.findings["type"] == "grid_not_compact")
                          & plan.findings["feature_id"].isin(set(ded["grid_code"]))]
    assert len(found) == 1
    msg = found["message"].iloc[0]
    assert msg.startswith(f"dedicated grid {found['feature_id'].iloc[0]} has Polsby–Popper 0.2")
    assert "the lane from its site through the grid round it" in msg
    assert "to the community's edge, where no lane to a neighbouring grid opened the ring" in msg
    assert "takes it from Polsby–Popper 0.30 to 0.2" in msg


@pytest.mark.parametrize("seed", sorted(CODES_ONLY))
def test_fuzz_town_buildings_carry_the_codes_they_lie_in(seed, shared_data):
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(seed)
    found = fz.div(t).validate()
    wrong = found[(found["type"] == "building_code_mismatch") & (found["severity"] == "error")]
    assert wrong.empty, f"{desc}: {wrong['message'].tolist()[:2]}"


@pytest.mark.parametrize("seed", [2046, 2164, 2073, 2101, 2132, 2102])
def test_fuzz_town_re_divided_stays_clean(seed, shared_data):
    """Re-divided (``previous``) with nothing changed, every grid is kept with its code; with households
    changed, the re-divided plan passes the same checks as a fresh one (a footprint unit across the gap between
    parts of a community, 2046; a footprint mostly outside the communities, 2164; a building of a dedicated grid
    reaching 43% into the next community, its piece there cut between two re-divided grids, 2073; a previous
    plan of dedicated grids only in the community given, an IndexError, 2101; a free piece and a kept grid whose
    shared edge GEOS's coverage union refused, a GEOSException, 2132; a freed grid of two towers whose inner points
    lay in a dedicated grid, counted as land without households and given to a kept grid, its 1,128 households
    in no grid's count, 2102)."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(seed)
    p1 = fz.div(t)
    same = fz.div(t, previous=p1)
    fz.check(same, t)
    assert set(same.grids["grid_code"]) == set(p1.grids["grid_code"]), f"{desc}: codes changed with nothing changed"
    base = same.grids[same.grids["kind"] != "dedicated"]  # dedicated grids (专属网格) are carved afresh each run
    assert base["grid_id"].astype(str).str.startswith("K").all(), f"{desc}: grids freed with nothing changed"
    changed = fz.households_changed(t, seed)
    fz.check(fz.div(changed, previous=p1), changed)


@pytest.mark.parametrize("seed", [2024, 2267])
def test_fuzz_town_re_divided_with_households_changed_passes_the_checks(seed, shared_data):
    """2024: a footprint across the gap between two parts of its community (a street drawn through it), its parts
    freed as two regions: the region placing it kept it whole, the other cut its piece there between two small grids
    (building_cut, the re-divided plan failed validate). The other region now keeps that piece whole.
    2267: a kept grid, read back from the previous plan in degrees and given the vertices of the new grids beside it
    (pairs a micrometre apart), crossed itself once stored in degrees and was mended into an empty polygon (a grid
    with no land, a gap of 7,400 m², two buildings in no grid: empty_geometry, gap, building_unassigned)."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(seed)
    changed = fz.households_changed(t, seed)
    fz.check(fz.div(changed, previous=fz.div(t)), changed)


def test_fuzz_town_re_divided_community_in_two_parts_touching_at_a_point_keeps_its_buildings_whole(shared_data):
    """A community drawn as a bowtie (mended into two parts touching at a point, with metre-wide slivers between
    their near edges), both its grids freed: each part was re-divided as a region of its own, so the line between
    the parts cut 14 buildings between two re-divided grids (building_cut, 2171), where a fresh plan divides the
    parts together. Parts of a community that touch are now one region."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(2171)
    changed = fz.households_changed(t, 2171)
    fz.check(fz.div(changed, previous=fz.div(t)), changed)


def test_fuzz_town_lobe_of_a_self_crossing_community_joins_a_grid_it_touches(shared_data):
    """Community 310115001002 of town 3023 is drawn crossing itself: mended into lobes of 117,468 and 20,438 m²
    meeting at the crossing, which the stored plan keeps as one polygon. With one community's households changed
    the small lobe (45 households) joined a grid 222 m off, a grid in two parts against a one-part outline
    (multipart_grid error). Cells meeting at the crossing are now neighbours: the lobe joins a grid it touches."""
    import shapely

    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(3023)
    changed, code = fz.one_community_changed(t, fz.div(t), 3023)
    plan = fz.div(changed)
    found = plan.validate()
    assert not (found["severity"] == "error").any(), f"{desc}: {found.loc[found['severity'] == 'error', 'type'].tolist()}"
    grids = plan.grids[plan.grids["community_code"] == code]
    assert (shapely.get_num_geometries(grids.geometry.to_numpy()) == 1).all()


def test_fuzz_town_re_divided_grid_round_kept_grids_is_opened_by_a_lane(shared_data):
    """Households changed, a freed region surrounded three kept towers' grids and one of its new grids wrapped
    round them (grid_encloses_grid, 2089): no new grid may take a kept grid's land, and the fresh plan's lane goes
    only to a grid inside the ring. A lane between the buildings now goes from the kept grids to the ring's
    neighbour."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(2089)
    changed = fz.households_changed(t, 2089)
    fz.check(fz.div(changed, previous=fz.div(t)), changed)


@pytest.mark.parametrize(("seed", "tower"), [(2453, "S145"), (2410, "S153")])
def test_fuzz_town_re_divided_grid_round_a_kept_base_grid_is_divided_again_with_it(seed, tower, shared_data):
    """Households changed, a region of freed grids came out with a grid wrapped round the kept grid of a tower
    (grid_encloses_grid), where the fresh plan of the same inputs has no wrap and the kept grid keeps its shape, so
    no lane may end in it. 2453: the walk-ups' grid (250 → 270, under the floor) absorbed the grid of the tower
    beside it (594); the region, round the kept grid of another tower (491), came out one grid of 864, with no
    other grid in it to take a lane. 2410: the region came out six grids, one of 500 round the kept grid of a tower
    (588), every straight lane from it to the three grids beside the ring crossing a footprint (1,509 tried, none
    clear). The region is now divided once more with the kept grid in its hole freed too, and taken for having
    fewer grids wrapped: no wrap, and the tower's grid keeps its code."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(seed)
    p1 = fz.div(t)
    changed = fz.households_changed(t, seed)
    p2 = fz.div(changed, previous=p1)
    found = fz.check(p2, changed)
    assert not (found["type"] == "grid_encloses_grid").any(), f"{desc}: a re-divided grid wraps round another"
    code = p1.buildings.set_index("building_id").loc[tower, "grid_code"]
    assert p2.buildings.set_index("building_id").loc[tower, "grid_code"] == code

# seed: what a re-division with nothing changed did before the fix
NOTHING_CHANGED = {
    2041: "crumbs of ordinary land a fresh plan gave to a dedicated grid (专属网格) became new grids of 0 and 3 households",
    2071: "the same, a crumb of no households",
    2003: "a stray piece of a dedicated grid's carved land, which the fresh plan gave to the ordinary grid beside it, "
          "lay outside the community less its dedicated grids: that grid was freed and drawn again",
    2104: "buildings the fresh plan placed in a dedicated grid by its land (most of each in it) counted in the ordinary "
          "grid holding the rest: two grids freed and drawn again",
    2100: "a footprint across the gap between two parts of its community, placed by its block in the grid holding the "
          "smaller piece, counted in the other: two grids freed and drawn again",
    2379: "a triangle of 143 m² under a tower of an ordinary grid, which the fresh plan gave to a dedicated grid, "
          "counted the tower's 361 households (held by the kept grid) and was not given back: a new grid of 0 "
          "households, its code new",
    2443: "a footprint unit across the gap between two parts of its community, placed whole in a dedicated grid: a "
          "member lying only on the other side (in an ordinary grid, none of it in the dedicated grid) counted in "
          "that grid, the unit judged across the gap among the ordinary grids alone: a grid freed and drawn again",
    2505: "a footprint unit of building parts across the gap between two parts of its community (issue 16, session 38), "
          "placed by its block (one block over both parts) in the grid holding 20% of it, counted in the grid across "
          "the gap holding the rest: two grids freed and drawn again",
    2647: "an address point of a footprint unit cut in pieces by a community boundary (session 41) counted in the grid "
          "round the unit's largest piece, lying in another: two grids freed and drawn again; then a GEOS "
          "TopologyException taking the community less its kept grids",
    2950: "a crumb of land given back to a dedicated grid (专属网格, session 41) joined it as a polygon and a line (a "
          "GeometryCollection), which the re-noding with its neighbours emptied: a traceback coding the plan (getX "
          "called on empty Point)",
}


@pytest.mark.parametrize("seed", sorted(NOTHING_CHANGED))
def test_fuzz_town_re_divided_with_nothing_changed_gives_every_grid_back(seed, shared_data):
    """``partition --previous PLAN`` on the very inputs that wrote PLAN gives back the same grids and small grids,
    same codes, same shapes, same households (动态调整: nothing changed, nothing moves)."""
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(seed)
    p1 = fz.div(t)
    same = fz.div(t, previous=p1)
    base = same.grids[same.grids["kind"] != "dedicated"]
    freed = base.loc[~base["grid_id"].astype(str).str.startswith("K"), "grid_code"].tolist()
    assert not freed, f"{desc}: grids {freed} freed and drawn again with nothing changed"
    fz.given_back(p1, same)
    try:
        fz.check(p1, t)
    except fz.Fail:  # the fresh plan's own flaw (a forced enclosure): not the re-division's to mend
        assert same.validate().query("severity == 'error'").empty
    else:
        fz.check(same, t)



class _Plan:
    """The layers ``given_back`` reads, in degrees as a plan stores them."""

    def __init__(self, grids, subgrids):
        self.grids, self.subgrids = grids, subgrids
        self.buildings = grids.iloc[:0][["grid_code"]].assign(building_id="", subgrid_code="", community_code="")

    def __getitem__(self, name):
        return getattr(self, name)


def _squares_plan(shapes):
    """Grids (each its own single small grid) of the given metric shapes (UTM 51N, Shanghai), stored in degrees."""
    import geopandas as gpd

    codes = [f"31011500100100{i + 1}" for i in range(len(shapes))]
    g = gpd.GeoDataFrame({"grid_code": codes, "community_code": "310115001001", "households": 300,
                          "kind": "ordinary"}, geometry=list(shapes), crs=32651).to_crs(4326)
    s = g.assign(subgrid_code=[c + "01" for c in codes])
    return _Plan(g, s)


def test_given_back_takes_sub_millimetre_drift_and_refuses_a_moved_edge_or_a_lost_corner():
    """The given-back check of the fuzz driver compares outlines by distance (1 mm): a grid of 2.8 km of outline
    re-noded and drifted by 0.05 mm (0.1 m² of symmetric difference, over the 0.01 m² the check took before:
    re-division towns 2676 and 2785) is given back; an edge moved by 3 mm, or a corner of 1.25e-3 m² lost (under
    any area tolerance), is not."""
    import numpy as np
    import shapely

    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    sq = [shapely.segmentize(shapely.box(380000.0 + 700 * i, 3450000.0, 380700.0 + 700 * i, 3450700.0), 50.0)
          for i in range(2)]
    p1 = _squares_plan(sq)
    drift = [shapely.transform(shapely.segmentize(g, 7.0), lambda xy: xy + 5e-5 * np.sin(xy[:, ::-1] * 7.0))
             for g in sq]  # re-noded, every vertex moved by up to 0.05 mm (the same vertex alike in both grids)
    fz.given_back(p1, _squares_plan(drift))
    x0, y0, x1, y1 = sq[0].bounds
    moved = shapely.box(x0, y0, x1 + 0.003, y1)  # the east edge 3 mm further east
    corner = shapely.difference(sq[0], shapely.Polygon([(x0, y0), (x0 + 0.05, y0), (x0, y0 + 0.05)]))
    for wrong in (moved, corner):
        with pytest.raises(fz.Fail, match=r"grids: \['310115001001001'\] reshaped"):
            fz.given_back(p1, _squares_plan([wrong, sq[1]]))


def test_fuzz_driver_command_line_prints_its_usage_and_reads_the_redivision_order():
    """``scripts/fuzz_partition.py --help`` (session 47) ended in ``ValueError: invalid literal for int()`` with a
    traceback: it now prints its usage; the commands in docs/benchmarks.md still parse as before."""
    import subprocess

    from conftest import REPO, scenario_builder

    res = subprocess.run([sys.executable, str(REPO / "scripts" / "fuzz_partition.py"), "--help"],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert "[--redivide] START BUDGET_S [CLI_EVERY] [STOP]" in res.stdout
    fz = scenario_builder("fuzz_partition")
    a = fz.parse_args(["--redivide", "3091", "840", "0"])
    assert (a.redivide, a.start, a.budget, a.cli_every, a.stop) == (True, 3091, 840.0, 0, 10**9)
    a = fz.parse_args(["4233", "1080"])
    assert (a.redivide, a.start, a.budget, a.cli_every) == (False, 4233, 1080.0, 5)
