"""Community boundary slivers (gridgeo.boundaries): found, resolved, validated and repaired."""

from __future__ import annotations

import pytest

from conftest import CODE_B, rect
from gridgeo.boundaries import repair_communities, resolve_slivers, validate_communities


def test_community_functions_leave_their_input_alone(communities_4547):
    c = communities_4547.copy()
    c.loc[1, "geometry"] = rect(400.5, 0, 800, 400)
    before = c.geometry.copy()
    fixed, findings = resolve_slivers(c)
    assert c.geometry.geom_equals(before).all()
    assert findings["type"].tolist() == ["community_gap_filled"] and findings["community_code"].tolist() == [CODE_B]
    assert fixed.geometry.area.sum() == pytest.approx(320_000.0)
    assert validate_communities(c)["type"].tolist() == ["gap"]
    repaired, log = repair_communities(c)
    assert repaired.geometry.area.sum() == pytest.approx(320_000.0) and len(log)


def test_wider_hole_between_communities_is_a_warning_not_resolved(communities_4547):
    c = communities_4547.copy()  # a 20 × 20 m hole astride the shared edge: in neither community
    hole = rect(390, 190, 410, 210)
    c["geometry"] = c.geometry.difference(hole)
    fixed, findings = resolve_slivers(c)
    assert findings["type"].tolist() == ["community_gap"] and findings["severity"].tolist() == ["warning"]
    assert findings["measure"].iloc[0] == pytest.approx(400.0)
    assert fixed.geometry.geom_equals(c.geometry).all()
    lake = communities_4547.copy()  # a lake inside one community is that community's own hole: no finding
    lake.loc[0, "geometry"] = lake.geometry.iloc[0].difference(rect(100, 100, 150, 150))
    assert len(resolve_slivers(lake)[1]) == 0
