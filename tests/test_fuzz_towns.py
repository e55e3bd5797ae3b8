"""Towns of the fuzz driver (``scripts/fuzz_partition.py``: seeded windows of the real data in ../shared/data,
SYNTHETIC imperfect communities, ESTIMATED households) that found a defect, kept as regression tests: the plan
validates with no error, nothing is dropped, no footprint unit is split, and the plan is the same with the
input rows shuffled."""

from __future__ import annotations

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
    2056: "a grid under its floor wrapped round its neighbour: the corridor held a shed of 3 (grid_encloses_grid)",
    2113: "a grid under its floor wrapped round a tower's grid: the corridor held 13 households (grid_encloses_grid)",
    2257: "a grid wrapped round a tower's grid over the ceiling: the corridor held a shed of 1 (grid_encloses_grid)",
    2323: "a grid wrapped round a tower: the empty corridor cut off an empty arm of the ring (grid_encloses_grid)",
    2053: "a small grid wrapped round a sibling out of its bounds: the corridor held a shed (grid_encloses_grid)",
}


@pytest.mark.parametrize("seed", sorted(TOWNS))
def test_fuzz_town_that_found_a_defect_stays_clean(seed, shared_data):
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(seed)
    plan = fz.div(t)
    fz.check(plan, t)  # raises naming the failed check
    assert fz._digest(fz.div(fz.shuffled(t, seed))) == fz._digest(plan), f"{desc}: row order changed the plan"
