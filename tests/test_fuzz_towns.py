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
    2041: "crumbs of an ordinary grid round buildings inside a dedicated grid; the second multi-part grid of a "
          "two-part community judged against the first one's copy of it (multipart_grid)",
    2101: "a dedicated grid over a two-part community kept the crumbs round other buildings (multipart_grid)",
    2173: "an ordinary grid and a dedicated grid each with stray pieces of bare land in one community part (multipart_grid)",
    2199: "a dedicated grid with a stray piece under a square metre left by mending a self-crossing outline (multipart_grid)",
}


@pytest.mark.parametrize("seed", sorted(TOWNS))
def test_fuzz_town_that_found_a_defect_stays_clean(seed, shared_data):
    from conftest import scenario_builder

    fz = scenario_builder("fuzz_partition")
    t, desc = fz.town(seed)
    plan = fz.div(t)
    fz.check(plan, t)  # raises naming the failed check
    assert fz._digest(fz.div(fz.shuffled(t, seed))) == fz._digest(plan), f"{desc}: row order changed the plan"
