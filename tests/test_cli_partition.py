"""`gridgeo partition`, `report` and `validate` end to end on the sample town, with a code scheme."""

from __future__ import annotations

import json
import re

import pytest

from gridgeo._progress import LOG_LINE
from gridgeo.cli import main
from gridgeo.plan import Plan


def _one_line_error(capsys, rc: int, *fragments: str) -> None:
    err = "\n".join(line for line in capsys.readouterr().err.splitlines() if not LOG_LINE.match(line))
    assert rc == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert re.match(r"gridgeo( [a-z]+)?: error: ", err)
    for f in fragments:
        assert f in err, err


def _finding_types(doc) -> set[str]:
    rows = doc.get("findings", doc.get("features", [])) if isinstance(doc, dict) else doc
    return {(r.get("properties") or r)["type"] for r in rows}


@pytest.fixture(scope="module")
def prefixed_plan(tmp_path_factory):
    """The sample town partitioned with a CJ/T 349-style object-type prefix on every code."""
    d = tmp_path_factory.mktemp("cli_partition")
    scheme = d / "scheme.toml"
    scheme.write_text('[codes]\nprefix = "10"\n', encoding="utf-8")
    out = d / "plan.gpkg"
    rc = main(["partition", "--sample", "--no-shift-check", "--code-scheme", str(scheme), "--out", str(out)])
    assert rc == 0
    return out


def test_partition_with_a_prefix_scheme_writes_prefixed_codes(prefixed_plan):
    plan = Plan.read(prefixed_plan)
    grids, subs = plan.layers["grids"], plan.layers["subgrids"]
    assert plan.metadata["code_scheme"]["prefix"] == "10"
    assert (grids["grid_code"].str.len() == 17).all()
    assert (grids["grid_code"] == "10" + grids["community_code"] + grids["grid_code"].str[-3:]).all()
    assert (subs["subgrid_code"].str.len() == 19).all()
    assert (subs["subgrid_code"].str[:17] == subs["grid_code"]).all()


def test_validate_uses_the_plans_scheme_and_rules(capsys, prefixed_plan, tmp_path):
    capsys.readouterr()
    report = tmp_path / "findings.json"
    rc = main(["validate", str(prefixed_plan), "--report", str(report)])
    out = capsys.readouterr().out
    assert rc == 0, out  # no finding of severity error: the plan validates clean
    types = _finding_types(json.loads(report.read_text(encoding="utf-8")))
    assert types, "the sample plan has warnings (small grids out of bounds) to report"
    # codes with the prefix are neither malformed nor of the wrong community; coverage is exact
    assert not types & {"malformed_code", "code_prefix_mismatch", "duplicate_code", "overlap", "gap", "outside_community"}


def _with_buildings(plan_path, out, edit) -> None:
    """The plan at ``plan_path`` written to ``out`` with its buildings layer edited by ``edit`` (in place)."""
    plan = Plan.read(plan_path)
    buildings = plan.layers["buildings"].copy()
    edit(buildings)
    Plan({**plan.layers, "buildings": buildings}, plan.metadata).write(out)


def test_validate_fails_a_plan_whose_building_codes_were_swapped_or_blanked(capsys, prefixed_plan, tmp_path):
    """Other systems (event dispatch, public security) import the plan's buildings to know each one's grid: a
    plan whose buildings carried a neighbour grid's code, or none, validated clean (exit 0)."""
    plan = Plan.read(prefixed_plan)
    grids, b = plan.layers["grids"], plan.layers["buildings"]
    # a building of a grid with a neighbour in the same community (the neighbour's code is what it gets)
    comm = grids.set_index("grid_code")["community_code"]
    own = b["grid_code"].astype(str)
    other = {g: sorted(c for c in comm.index if comm[c] == comm[g] and c != g) for g in sorted(set(own))}
    i = next(k for k, g in enumerate(own) if other[g])
    victim, right, wrong = str(b["building_id"].iloc[i]), own.iloc[i], other[own.iloc[i]][0]

    def swap(buildings):
        buildings.loc[buildings.index[i], "grid_code"] = wrong

    def blank(buildings):
        buildings.loc[buildings.index[i], ["grid_code", "subgrid_code"]] = None

    for name, edit, said in (("swapped", swap, f"carries grid_code {wrong} but lies in grid {right}"),
                             ("blanked", blank, f"lies in grid {right} but carries no grid_code")):
        out = tmp_path / f"{name}.gpkg"
        _with_buildings(prefixed_plan, out, edit)
        report = tmp_path / f"{name}.json"
        capsys.readouterr()
        rc = main(["validate", str(out), "--report", str(report)])
        text = capsys.readouterr().out
        assert rc == 1, text
        doc = json.loads(report.read_text(encoding="utf-8"))
        rows = [r.get("properties") or r for r in doc.get("findings", doc.get("features", []))]
        errors = [r for r in rows if r["severity"] == "error"]
        assert {r["type"] for r in errors} == {"building_code_mismatch"}, errors
        assert {r["feature_id"] for r in errors} == {victim}
        assert any(said in r["message"] for r in errors), errors
    # the plan as gridgeo wrote it passes the same check (test_validate_uses_the_plans_scheme_and_rules: exit 0)
    assert main(["validate", str(prefixed_plan)]) == 0


def test_report_prints_the_stored_quality(capsys, prefixed_plan):
    capsys.readouterr()
    assert main(["report", str(prefixed_plan)]) == 0
    out = capsys.readouterr().out
    assert "in range (share of eligible grids)" in out and "buildings lost / doubled" in out


def test_scheme_too_small_fails_before_partitioning(capsys, tmp_path):
    scheme = tmp_path / "small.toml"
    scheme.write_text("grid_digits = 1\ndedicated_start = 9\n", encoding="utf-8")
    out = tmp_path / "plan.gpkg"
    rc = main(["partition", "--sample", "--no-shift-check", "--code-scheme", str(scheme), "--out", str(out)])
    _one_line_error(capsys, rc, "code scheme too small", "widen grid_digits")
    assert not out.exists()


@pytest.mark.parametrize(("text", "fragment"), [
    ("grid_digit = 1\n", "unknown key(s) ['grid_digit']"),
    ("community_digits = 9\n", "community_digits is 9"),
    ("prefix = \n", "is not valid TOML"),
])
def test_bad_code_scheme_is_one_line(capsys, tmp_path, text, fragment):
    scheme = tmp_path / "bad.toml"
    scheme.write_text(text, encoding="utf-8")
    rc = main(["partition", "--sample", "--no-shift-check", "--code-scheme", str(scheme), "--out", str(tmp_path / "p.gpkg")])
    _one_line_error(capsys, rc, fragment)


def test_missing_code_scheme_file(capsys, tmp_path):
    rc = main(["partition", "--sample", "--code-scheme", str(tmp_path / "none.toml"), "--out", str(tmp_path / "p.gpkg")])
    _one_line_error(capsys, rc, "file not found")


def test_code_scheme_unlike_the_previous_plans_fails_before_partitioning(capsys, prefixed_plan, tmp_path, monkeypatch):
    import gridgeo.adjust
    import gridgeo.partition

    def not_called(*_a, **_k):
        raise AssertionError("partitioned before checking the code scheme")

    monkeypatch.setattr(gridgeo.adjust, "adjust", not_called)
    monkeypatch.setattr(gridgeo.partition, "partition", not_called)
    scheme = tmp_path / "plain.toml"
    scheme.write_text('[codes]\nprefix = ""\n', encoding="utf-8")
    out = tmp_path / "p.gpkg"
    rc = main(["partition", "--sample", "--no-shift-check", "--previous", str(prefixed_plan),
               "--code-scheme", str(scheme), "--out", str(out)])
    _one_line_error(capsys, rc, "previous plan was coded with", "omit --code-scheme")
    assert not out.exists()


def test_scheme_capacity_counts_a_tower_over_the_ceiling_as_one_grid():
    from types import SimpleNamespace

    import geopandas as gpd
    from shapely import box

    from gridgeo.codes import CodeScheme
    from gridgeo.pipeline import _precheck_scheme
    from gridgeo.rules import load_rules

    comms = gpd.GeoDataFrame({"code": ["420103001001"], "kind": ["urban"]}, geometry=[box(0, 0, 100, 100)], crs=4547)
    tower = gpd.GeoDataFrame({"community_code": ["420103001001"], "households": [4600]},
                             geometry=[box(10, 10, 20, 20)], crs=4547)
    prep = SimpleNamespace(communities=comms, buildings=tower, rules=load_rules("urban"))
    scheme = CodeScheme(grid_digits=1, dedicated_start=9)
    _precheck_scheme(prep, scheme)  # one exempt grid: fits a scheme of 8 grids
    many = gpd.GeoDataFrame({"community_code": ["420103001001"] * 10, "households": [450] * 10},
                            geometry=[box(i * 10, 0, i * 10 + 5, 5) for i in range(10)], crs=4547)
    with pytest.raises(Exception, match="code scheme too small"):
        _precheck_scheme(SimpleNamespace(communities=comms, buildings=many, rules=load_rules("urban")), scheme)


def test_plan_findings_name_grids_by_their_codes(prefixed_plan):
    plan = Plan.read(prefixed_plan)
    f = plan.layers["findings"]
    codes = set(plan.layers["grids"]["grid_code"]) | set(plan.layers["subgrids"]["subgrid_code"])
    on_grids = f[f["layer"].isin(["grids", "subgrids"]) & f["feature_id"].notna()]
    assert len(on_grids), "the sample plan has findings on grids (divided blocks, small grids out of bounds)"
    assert set(on_grids["feature_id"]) <= codes
    assert not on_grids["message"].str.contains(r"-G\d{3}").any()  # no provisional id left in the text


def test_findings_keep_an_id_that_has_no_code_whole():
    import geopandas as gpd

    from gridgeo._findings import make_findings
    from gridgeo.pipeline import _findings_with_codes

    f = make_findings([{"type": "t", "severity": "info", "layer": "subgrids", "feature_id": "C-G100-01",
                        "message": "C-G100-01 lies in C-G100; C-G1000 is next"},
                       {"type": "t", "severity": "info", "layer": "grids", "feature_id": None, "message": "none"}], crs=4547)
    g = gpd.GeoDataFrame({"grid_id": ["C-G100", "C-G1000"], "grid_code": ["X100", "X1000"]}, geometry=[None, None], crs=4547)
    out = _findings_with_codes(f, g, None)
    assert out["message"].tolist() == ["C-G100-01 lies in X100; X1000 is next", "none"]
    assert out["feature_id"].tolist() == ["C-G100-01", None] and out["feature_id"].dtype == object
