"""The Python face (gridgeo.api): divide, read_plan, validate, repair, diff, and the Plan's methods.

The sample town is divided once per module through the API and once through the CLI; the two stored
plans must be equal layer by layer (hashes of every attribute and geometry).
"""

from __future__ import annotations

import hashlib

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely import Point, box

import gridgeo
from gridgeo import InputError, Plan
from gridgeo.cli import main
from gridgeo.datasets import get_path, sample_town_layers

SAMPLE = get_path("sample_town")
C1, C2 = "420102001001", "420102001002"


def layer_hash(gdf: gpd.GeoDataFrame) -> str:
    """SHA-256 of a layer: its columns and dtypes, every attribute value, every geometry as WKB."""
    h = hashlib.sha256()
    h.update(repr([(c, str(t)) for c, t in gdf.dtypes.items()]).encode())
    h.update(pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).to_json(orient="split", index=False).encode())
    for wkb in shapely.to_wkb(gdf.geometry.to_numpy()):
        h.update(wkb or b"-")
    h.update(str(gdf.crs).encode())
    return h.hexdigest()


def plan_hashes(plan: Plan) -> dict[str, str]:
    return {name: layer_hash(gdf) for name, gdf in plan.layers.items()}


def comparable_metadata(plan: Plan) -> dict:
    return {k: v for k, v in plan.metadata.items() if k != "timings_s"}


def sample_paths() -> dict[str, tuple]:
    """Every layer of the sample town as (path, layer): what `gridgeo partition --sample` reads."""
    return {name: (SAMPLE, name) for name in sample_town_layers()}


@pytest.fixture(scope="module")
def api_plan() -> Plan:
    layers = sample_paths()
    return gridgeo.divide(layers.pop("communities"), **layers)


@pytest.fixture(scope="module")
def cli_plan_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("api_cli") / "cli.gpkg"
    # the CLI's default workers (the CPUs available) against divide's default (1): the plan is the same
    assert main(["partition", "--sample", "--quiet", "--out", str(out)]) == 0
    return out


# --------------------------------------------------------------------------------------------- divide


def test_divide_returns_a_stored_plan_with_every_layer(api_plan):
    assert isinstance(api_plan, Plan)
    for name in ("communities", "blocks", "grids", "subgrids", "buildings", "findings"):
        layer = getattr(api_plan, name)
        assert isinstance(layer, gpd.GeoDataFrame)
        assert layer.crs.to_epsg() == 4490, name  # one CRS convention: as stored
    assert api_plan.grids["households"].sum() == api_plan.buildings["households"].sum()
    assert api_plan.metadata["validation"]["error"] == 0


def test_api_and_cli_give_the_same_plan(api_plan, cli_plan_path, tmp_path):
    cli_plan = gridgeo.read_plan(cli_plan_path)
    path = tmp_path / "api.gpkg"
    api_plan.to_file(path)
    from_api = gridgeo.read_plan(path)
    assert "villager_groups" in from_api.metadata["input_fingerprints"]  # every sample layer was given
    assert plan_hashes(from_api) == plan_hashes(cli_plan)
    assert comparable_metadata(from_api) == comparable_metadata(cli_plan)


def test_divide_equals_read_plan_after_to_file(api_plan, tmp_path):
    path = tmp_path / "plan.gpkg"
    api_plan.to_file(path)
    back = gridgeo.read_plan(path)
    assert list(back.layers) == list(api_plan.layers)
    assert plan_hashes(back) == plan_hashes(api_plan)
    assert back.metadata == api_plan.metadata
    with pytest.raises(FileExistsError, match=r"exists; pass force=True to overwrite it$"):
        api_plan.to_file(path)
    api_plan.to_file(path, force=True)


def test_divide_on_geodataframes_equals_divide_on_paths(api_plan):
    frames = {name: gpd.read_file(SAMPLE, layer=name) for name in sample_town_layers()}
    before = {name: gdf.copy() for name, gdf in frames.items()}
    plan = gridgeo.divide(frames.pop("communities"), **frames)
    assert plan_hashes(plan) == plan_hashes(api_plan)
    assert set(plan.metadata["input_fingerprints"]) == set(api_plan.metadata["input_fingerprints"])
    frames["communities"] = plan.communities  # (only to loop below; the input frames are unchanged:)
    for name in ("streets", "buildings", "villager_groups", "enterprises"):
        pd.testing.assert_frame_equal(frames[name], before[name])


# ------------------------------------------------------------------------------ a tiny town, inline


@pytest.fixture
def tiny():
    """One community 200 × 100 m near Wuhan (EPSG:4547) and four buildings of 200 households."""
    x0, y0 = 526_000.0, 3_385_000.0
    comm = gpd.GeoDataFrame({"CUN_DM": [C1], "name": ["<script>alert(1)</script>"]},
                            geometry=[box(x0, y0, x0 + 200, y0 + 100)], crs=4547)
    blds = gpd.GeoDataFrame({"households": [200] * 4}, crs=4547,
                            geometry=[Point(x0 + x, y0 + y) for x in (50, 150) for y in (25, 75)])
    return comm, blds


def test_divide_maps_columns_and_never_changes_its_inputs(tiny):
    comm, blds = tiny
    before = comm.copy()
    plan = gridgeo.divide(comm, buildings=blds, columns={"communities": {"code": "CUN_DM"}})
    pd.testing.assert_frame_equal(comm, before)
    assert sorted(plan.grids["households"]) == [400, 400]
    assert (plan.grids["community_code"] == C1).all()


def test_divide_takes_rules_as_a_dict_of_the_rules_file_keys(tiny):
    """An analyst changing the rules wrote ``rules={"grid_max": 450, ...}``, the keys a rules TOML file holds (as
    ``code_scheme=`` takes a dict): "rules "{...}" is neither a profile nor a .toml file". A dict is read as the
    file would be (``profile`` optional, unknown keys and impossible bounds refused alike)."""
    comm, blds = tiny
    mapping = {"communities": {"code": "CUN_DM"}}
    plan = gridgeo.divide(comm, buildings=blds, columns=mapping,
                          rules={"grid_min": 700, "grid_max": 900, "grid_target": 800, "subgrid_min": 100,
                                 "subgrid_max": 200, "subgrid_target": 150})
    assert sorted(plan.grids["households"]) == [800] and plan.metadata["rules"]["grid_max"] == 900
    with pytest.raises(gridgeo.RulesError, match=r"unknown rules key\(s\) \['grid_mx'\] in the rules dict"):
        gridgeo.divide(comm, buildings=blds, columns=mapping, rules={"grid_mx": 450})
    with pytest.raises(gridgeo.RulesError, match=r"unknown profile 'suburban' in the rules dict"):
        gridgeo.divide(comm, buildings=blds, columns=mapping, rules={"profile": "suburban"})


def test_chinese_column_names_are_read_and_said(tiny):
    """区划代码, 户数 and 层数 are read as code, households and floors, each an info finding; two columns that
    could be households are neither taken (a warning says so, and the counts are estimated)."""
    comm, blds = tiny
    comm = comm.rename(columns={"CUN_DM": "区划代码", "name": "社区名称"})
    blds = blds.rename(columns={"households": "户数"}).assign(层数=6)
    plan = gridgeo.divide(comm, buildings=blds)
    assert sorted(plan.grids["households"]) == [400, 400]  # the given counts, not estimates
    assert (plan.grids["community_code"] == C1).all()
    f = plan.findings
    used = f[f["type"] == "column_alias_used"]
    pairs = used["message"].str.extract(r"column '(.+?)' read as (\w+)")
    assert set(zip(pairs[0], pairs[1], strict=True)) == {("区划代码", "code"), ("社区名称", "name"), ("户数", "households"),
                                                          ("层数", "floors")}
    assert set(used["severity"]) == {"info"}
    both = blds.assign(住户数=blds["户数"] + 1)
    # points (no footprint to estimate from) whose two count columns are each taken for neither: no building
    # would have a household, so the division is refused, naming both columns and the mapping that settles it
    with pytest.raises(gridgeo.GridgeoError, match="no household in any of the 4 buildings") as err:
        gridgeo.divide(comm, buildings=both)
    assert "'户数'" in str(err.value) and "'住户数'" in str(err.value) and "columns={'buildings': {'households': 'COLUMN'}}" in str(err.value)
    assert "--" not in str(err.value)  # Python's arguments, not the command line's options
    # footprints can be estimated from their floors: the division goes on, and a warning names both columns
    x0, y0 = 526_000.0, 3_385_000.0
    foot = both.set_geometry([box(x0 + x - 10, y0 + y - 10, x0 + x + 10, y0 + y + 10) for x in (50, 150)
                              for y in (25, 75)])
    f2 = gridgeo.divide(comm, buildings=foot).findings
    amb = f2[f2["type"] == "column_alias_ambiguous"]
    assert len(amb) == 1 and "户数" in amb["message"].iloc[0] and "住户数" in amb["message"].iloc[0]
    assert amb["severity"].iloc[0] == "warning"


def test_repr_html_escapes_community_names(tiny):
    comm, blds = tiny
    plan = gridgeo.divide(comm, buildings=blds, columns={"communities": {"code": "CUN_DM"}})
    text = plan._repr_html_()
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "grids" in text and "0 errors" in text and "in range" in text
    assert "grids 2" in repr(plan)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"communities": None}, r"divide: communities=None; pass the community polygons"),
    ({"buildings": None}, r"divide: buildings=None; pass the buildings"),
    ({"workers": 0}, r"divide: workers=0 must be a whole number of processes, at least 1"),
    ({"streets": 42}, r"streets=42: give a GeoDataFrame, a file path or a \(path, layer\) pair"),
    ({"streets": pd.DataFrame({"a": [1]})}, r"streets: a DataFrame without geometry; give a GeoDataFrame"),
    ({"columns": {"streets": {"name": "MC"}}},
     r"columns=\{'streets': \{'name': 'MC'\}\}: layer 'streets' is not given; pass streets="),
    ({"columns": {"roads": {"name": "MC"}}}, r"name the layer, e.g. columns=\{'communities'"),
    ({"columns": {"communities": {"code": "NOPE"}}}, r"communities: column\(s\) \['NOPE'\] not found"),
    ({"rules": "suburban"}, r"suburban"),
    ({"code_scheme": "no/such.toml"}, r"code_scheme no/such.toml: file not found"),
    ({"previous": "no/such/plan.gpkg"}, r"plan file not found: no/such/plan.gpkg"),
    ({"buildings": "no/such/buildings.gpkg"}, r"buildings: file not found: no/such/buildings.gpkg; check the path"),
])
def test_divide_bad_arguments_are_one_line_input_errors(tiny, kwargs, match):
    comm, blds = tiny
    args = {"communities": comm, "buildings": blds, "columns": {"communities": {"code": "CUN_DM"}}} | kwargs
    with pytest.raises(InputError, match=match) as info:
        gridgeo.divide(args.pop("communities"), **args)
    assert "\n" not in str(info.value)


def test_divide_without_a_crs_names_the_fix(tiny):
    comm, blds = tiny
    bare = comm.set_crs(None, allow_override=True)
    with pytest.raises(InputError, match=r'communities: the GeoDataFrame has no CRS; set it with gdf.set_crs'):
        gridgeo.divide(bare, buildings=blds, columns={"communities": {"code": "CUN_DM"}})
    # the workaround the message names
    plan = gridgeo.divide(bare, buildings=blds, columns={"communities": {"code": "CUN_DM"}}, crs="EPSG:4547")
    assert len(plan.grids) == 2


def test_errors_name_python_arguments_in_python_and_options_on_the_command_line(tiny, tmp_path, capsys):
    """The checks below both faces word their fix with the command line's options (``--allow-outside``); an
    analyst who called gridgeo.divide has no such option: the message names divide's arguments instead, and
    ``gridgeo partition`` on the same layers keeps its options."""
    comm, blds = tiny
    far = blds.set_geometry(blds.geometry.translate(50_000, 0))  # a layer far from its communities
    with pytest.raises(InputError, match=r"4 features lie outside every community") as err:
        gridgeo.divide(comm, buildings=far, columns={"communities": {"code": "CUN_DM"}})
    text = str(err.value)
    assert "pass allow_outside=True to keep them as findings" in text and "--" not in text, text
    # the fix it names works
    plan = gridgeo.divide(comm, buildings=far, columns={"communities": {"code": "CUN_DM"}}, allow_outside=True)
    assert plan.grids["households"].sum() == 0
    comm.to_file(tmp_path / "c.gpkg")
    far.to_file(tmp_path / "b.gpkg")
    assert main(["partition", "--communities", str(tmp_path / "c.gpkg"), "--buildings", str(tmp_path / "b.gpkg"),
                 "--columns", "communities.code=CUN_DM", "--quiet", "--out", str(tmp_path / "p.gpkg")]) == 2
    assert "pass --allow-outside to keep them as findings" in capsys.readouterr().err
    # read_plan: the plan file is written with to_file in Python
    with pytest.raises(InputError, match=r"write it first with plan\.to_file\('no/such\.gpkg'\)"):
        gridgeo.read_plan("no/such.gpkg")


def test_the_command_line_keeps_its_options_when_it_calls_the_python_functions(tiny, tmp_path, capsys):
    """`gridgeo validate` calls gridgeo.api.read_grids, whose Python message says crs=; the command line's
    user is told --crs."""
    comm, _ = tiny
    csv = tmp_path / "grids.csv"
    pd.DataFrame({"grid_code": [C1 + "001"], "WKT": comm.geometry.to_wkt()}).to_csv(csv, index=False)
    assert main(["validate", str(csv)]) == 2
    err = capsys.readouterr().err
    assert "--crs" in err and "crs=" not in err, err
    with pytest.raises(InputError, match=r"crs=") as info:
        gridgeo.validate(csv)
    assert "--crs" not in str(info.value)


# ------------------------------------------------------------------------------- the plan's methods


def assert_validate_equal(path, plan: Plan, tmp_path, capsys) -> None:
    """`gridgeo validate PATH --report x.json` writes byte for byte what ``plan.validate()`` (and
    ``gridgeo.validate(PATH)``) written by the same writer gives: every column, every place."""
    from gridgeo.validate import write_findings

    report = tmp_path / "cli_findings.json"
    code = main(["validate", str(path), "--report", str(report)])
    capsys.readouterr()
    api = plan.validate()
    assert code == (1 if (api["severity"] == "error").any() else 0)
    write_findings(api, tmp_path / "api_findings.json")
    write_findings(gridgeo.validate(path), tmp_path / "api_path_findings.json")
    cli_text = report.read_text(encoding="utf-8")
    assert (tmp_path / "api_findings.json").read_text(encoding="utf-8") == cli_text
    assert (tmp_path / "api_path_findings.json").read_text(encoding="utf-8") == cli_text


def test_plan_validate_equals_gridgeo_validate_plan(api_plan, cli_plan_path, tmp_path, capsys):
    from gridgeo.validate import read_findings

    assert_validate_equal(cli_plan_path, gridgeo.read_plan(cli_plan_path), tmp_path, capsys)
    (tmp_path / "in_memory").mkdir()
    assert_validate_equal(cli_plan_path, api_plan, tmp_path / "in_memory", capsys)  # divide's plan, not read back
    found = read_findings(tmp_path / "cli_findings.json")
    assert len(found) > 0  # the sample town has findings to compare (info and warnings)


def test_quality_is_the_report_table(api_plan):
    from gridgeo.partition.metrics import quality_rows

    q = api_plan.quality()
    assert list(q.columns) == ["base grids", "small grids"]
    assert q.loc["grids", "base grids"] == str(int((api_plan.grids["kind"] == "base").sum()))  # dedicated grids apart
    assert q.values.tolist() == [[b, s] for _, b, s in quality_rows(api_plan.metadata["quality"])]


def test_quality_recomputed_measures_grids_edited_in_memory(api_plan):
    """quality() said "recomputed from the buildings" yet gave the stored figures after grids were edited in
    memory: the stored figures stay the default (what `gridgeo report` prints), recompute=True measures the layers."""
    assert api_plan.quality(recompute=True, streets=sample_paths()["streets"]).equals(api_plan.quality())
    plan = Plan(dict(api_plan.layers), dict(api_plan.metadata))
    grids = plan.grids[plan.grids["kind"] == "base"]
    first = grids.iloc[0]
    other = grids[(grids["community_code"] == first["community_code"]) & grids.geometry.touches(first.geometry)].iloc[0]
    merged = plan.grids[plan.grids["grid_code"] != other["grid_code"]].copy()
    merged.loc[merged["grid_code"] == first["grid_code"], "geometry"] = first.geometry.union(other.geometry)
    plan.layers["grids"] = merged
    subgrids = plan.subgrids.copy()
    subgrids.loc[subgrids["grid_code"] == other["grid_code"], "grid_code"] = first["grid_code"]
    plan.layers["subgrids"] = subgrids
    before = int(api_plan.quality().loc["grids", "base grids"])
    assert int(plan.quality().loc["grids", "base grids"]) == before  # the stored figures
    assert int(plan.quality(recompute=True).loc["grids", "base grids"]) == before - 1
    assert plan.quality(recompute=True).loc["street-aligned boundary", "base grids"] == "n/a (no streets)"


def test_quality_of_a_blocks_plan_is_an_error():
    with pytest.raises(InputError, match=r"no quality figures \(stage blocks\); run `gridgeo partition`"):
        Plan({}, {"stage": "blocks"}).quality()


def test_explore_draws_grids_and_small_grids(api_plan):
    folium = pytest.importorskip("folium")
    pytest.importorskip("mapclassify")
    m = api_plan.explore(tiles=None)
    assert isinstance(m, folium.Map)
    text = m.get_root().render()
    assert "small grids" in text and "grids (" in text


# ------------------------------------------------------------------ validate, repair and diff of layers


def _hand_drawn():
    comm = gpd.GeoDataFrame({"code": [C1, C2]}, geometry=[box(0, 0, 200, 100), box(200, 0, 400, 100)], crs=4547)
    grids = gpd.GeoDataFrame(
        {"grid_code": [C1 + "001", C1 + "002", C2 + "001"], "community_code": [C1, C1, C2]},
        geometry=[box(0, 0, 110, 100), box(100, 0, 190, 100), box(200, 0, 400, 100)], crs=4547)
    return comm, grids


def test_validate_and_repair_on_frames_and_paths(tmp_path):
    comm, grids = _hand_drawn()
    comm.to_file(tmp_path / "c.gpkg", layer="communities")
    grids.to_file(tmp_path / "g.gpkg", layer="grids")
    on_frames = gridgeo.validate(grids, communities=comm)
    on_paths = gridgeo.validate(tmp_path / "g.gpkg", communities=(tmp_path / "c.gpkg", "communities"))
    assert on_frames["type"].tolist() == on_paths["type"].tolist() == ["overlap", "gap"]
    fixed, log = gridgeo.repair(tmp_path / "g.gpkg", communities=comm)
    assert len(gridgeo.validate(fixed, communities=comm)) == 0
    assert {"overlap_given", "gap_filled"} <= set(log["action"])
    assert list(fixed.columns) == list(grids.columns)


def test_repair_of_a_plan_is_what_validate_repair_writes(cli_plan_path, tmp_path, capsys):
    """``gridgeo.repair(plan)`` repairs in the plan's metric CRS against its own communities and gives the
    grids as the plan stores them: what `gridgeo validate PLAN --repair` writes."""
    out = tmp_path / "fixed.gpkg"
    assert main(["validate", str(cli_plan_path), "--repair", str(out)]) == 0
    assert "0 coverage findings left" in capsys.readouterr().out
    fixed, log = gridgeo.repair(cli_plan_path)
    assert fixed.crs.to_epsg() == 4490 and len(fixed) == len(gridgeo.read_plan(cli_plan_path).grids)
    written = gpd.read_file(out, layer="grids")
    assert shapely.equals(written.geometry.to_numpy(), fixed.geometry.to_numpy()).all()  # (written as multi)
    assert written["grid_code"].tolist() == fixed["grid_code"].tolist()


def test_repair_needs_communities():
    _, grids = _hand_drawn()
    with pytest.raises(InputError, match=r"repair: communities=None; pass the communities"):
        gridgeo.repair(grids, communities=None)


def test_validate_is_also_the_module():
    import gridgeo.validate as module

    assert callable(gridgeo.validate) and module is gridgeo.validate
    assert hasattr(gridgeo.validate, "validate_grids") and "Finding types" in module.__doc__


def test_diff_is_also_the_module():
    import gridgeo.codes
    import gridgeo.diff as module

    assert callable(gridgeo.diff) and module is gridgeo.diff
    assert gridgeo.codes.diff_plans is module.diff_plans  # still importable where it was
    with pytest.raises(InputError, match=r"plan file not found: no/such/old.gpkg"):
        gridgeo.diff("no/such/old.gpkg", "no/such/new.gpkg")


def test_the_modules_that_are_functions_show_the_functions_signature():
    """``gridgeo.locate?`` in Jupyter (``inspect.signature``) showed ``(*args, **kwargs)`` for the five modules that
    are also API functions (validate, diff, export, locate, rebalance): an analyst saw no argument. They show the
    signature of the function a call runs."""
    import inspect

    from gridgeo import api

    for name in ("validate", "diff", "export", "locate", "rebalance"):
        assert inspect.signature(getattr(gridgeo, name)) == inspect.signature(getattr(api, name))
    assert list(inspect.signature(gridgeo.locate).parameters)[:2] == ["points", "plan"]


def test_diff_of_plans_and_paths(api_plan, cli_plan_path):
    same = gridgeo.diff(api_plan, cli_plan_path)
    assert set(same["status"]) == {"unchanged"}
    assert len(same) == len(api_plan.grids)
    with pytest.raises(InputError, match=r"diff: old_plan \(a Plan\) has no grids layer"):
        gridgeo.diff(Plan({}, {}), api_plan)
    with pytest.raises(InputError, match=r"new_plan=<int>: give a Plan"):
        gridgeo.diff(api_plan, 3)


# ------------------------------------------------------------------ the Wuhan scenario (real streets)


def _wuhan_builder():
    from conftest import scenario_builder

    return scenario_builder("build_wuhan_scenario")


#: communities of the small Wuhan scenario: a few neighbours, to keep the test fast
WUHAN_COMMUNITIES = 4


@pytest.fixture(scope="module")
def small_wuhan(tmp_path_factory):
    """A few neighbouring communities of the Wuhan scenario (real 江汉区 streets, synthetic communities and
    households), with their buildings and the streets inside them, in one GeoPackage."""
    builder = _wuhan_builder()
    reason = builder.missing_reason()
    if reason:
        pytest.skip(f"Wuhan scenario unavailable: {reason}")
    scenario = builder.build(tmp_path_factory.mktemp("wuhan_scenario"))
    comm = scenario.communities.sort_values("code").reset_index(drop=True)
    first = comm.geometry.iloc[0]
    near = comm.geometry.distance(first).sort_values(kind="stable").index[:WUHAN_COMMUNITIES]
    comm = comm.loc[sorted(near)].reset_index(drop=True)
    area = shapely.union_all(comm.geometry.to_numpy())
    b = scenario.buildings
    buildings = b[shapely.within(b.geometry.to_numpy(), area)].reset_index(drop=True)
    streets = scenario.streets.clip(area).explode(ignore_index=True)  # the line pieces inside
    streets = streets[(streets.geom_type == "LineString") & (streets.geometry.length > 1.0)].reset_index(drop=True)
    path = tmp_path_factory.mktemp("small_wuhan") / "small_wuhan.gpkg"
    for name, gdf in (("communities", comm), ("streets", streets), ("buildings", buildings)):
        gdf.to_file(path, layer=name, engine="pyogrio")
    return path


@pytest.mark.slow
def test_api_and_cli_give_the_same_plan_and_findings_on_the_wuhan_scenario(small_wuhan, tmp_path, capsys):
    """The CLI reads the file, the API is given its layers as GeoDataFrames; `gridgeo validate PLAN`
    writes exactly the findings ``plan.validate()`` gives."""
    names = ("communities", "streets", "buildings")
    out = tmp_path / "cli.gpkg"
    args = ["partition", "--quiet", "--workers", "2", "--out", str(out)]
    for layer in names:
        args += [f"--{layer}", str(small_wuhan), f"--{layer}-layer", layer]
    assert main(args) == 0
    frames = {layer: gpd.read_file(small_wuhan, layer=layer) for layer in names}
    plan = gridgeo.divide(**frames)
    cli = gridgeo.read_plan(out)
    assert plan_hashes(plan) == plan_hashes(cli)
    # the same metadata, but for the inputs' fingerprints (of the file, of the frames)
    meta, cli_meta = comparable_metadata(plan), comparable_metadata(cli)
    assert set(meta.pop("input_fingerprints")) == set(cli_meta.pop("input_fingerprints"))
    assert meta == cli_meta
    assert len(plan.grids) >= 2 * WUHAN_COMMUNITIES and len(plan.subgrids) > len(plan.grids)
    assert_validate_equal(out, plan, tmp_path, capsys)


def test_divide_takes_layers_with_a_repeated_index(tiny):
    """Buildings put together with pd.concat (the index repeated) stopped divide in a pandas traceback: "cannot
    reindex on an axis with duplicate labels"."""
    comm, blds = tiny
    twice = pd.concat([blds.iloc[: len(blds) // 2], blds.iloc[len(blds) // 2:]])
    twice.index = [0] * len(twice)
    before = twice.copy()
    text = twice["households"].astype(str).tolist()
    text[0] += "户"  # two counts written with their unit: read apart from the others
    text[1] += "户"
    plan = gridgeo.divide(comm, buildings=twice.assign(households=text),
                          columns={"communities": {"code": "CUN_DM"}})
    assert sorted(plan.grids["households"]) == [400, 400]
    pd.testing.assert_frame_equal(twice, before)


def test_an_existing_output_is_refused_in_the_words_of_the_face_called(api_plan, tmp_path, capsys):
    """"already exists" said "pass --force (force=True)" on both faces (the command line showed a Python argument,
    `plan.to_file` an option): each face names its own spelling, whoever raises the error."""
    from gridgeo.export import export as export_module_function
    from gridgeo.maps.web import publish_map
    from gridgeo.validate import write_findings

    path = tmp_path / "plan.gpkg"
    api_plan.to_file(path)
    (tmp_path / "site").mkdir()
    (tmp_path / "findings.json").write_text("{}", encoding="utf-8")
    gridgeo.export(path, path.with_name("e.gpkg"), layers="grids")
    for call in (lambda: api_plan.to_file(path), lambda: gridgeo.export(path, path.with_name("e.gpkg")),
                 lambda: export_module_function(path, path.with_name("e.gpkg")),
                 lambda: publish_map(api_plan, tmp_path / "site"), lambda: gridgeo.publish_map(api_plan, tmp_path / "site"),
                 lambda: write_findings(api_plan.findings, tmp_path / "findings.json")):
        with pytest.raises((FileExistsError, InputError)) as err:
            call()
        assert "exists; pass force=True to" in str(err.value) and "--force" not in str(err.value), err.value
    for argv in (["export", str(path), "--out", str(path.with_name("e.gpkg"))],
                 ["map", str(path), "--out", str(tmp_path / "site"), "--tiles", "none"],
                 ["partition", "--sample", "--out", str(path), "--quiet"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.splitlines()[-1]
        assert err.startswith("gridgeo: error: ") and "exists; pass --force to" in err and "force=True" not in err, err


def test_validate_and_repair_read_communities_under_their_own_column_names(tmp_path, capsys):
    """A planner's community layer names its code column its own way (``CUN_DM``). ``partition`` maps it with
    ``--columns communities.code=CUN_DM``; ``gridgeo validate`` had no ``--columns`` (an argparse error), and in Python
    ``columns=`` was a TypeError from ``validate_grids`` while a ``LayerSource(..., columns=...)`` had its mapping
    silently dropped (the error then said to rename the column). Both faces now map it as ``partition`` does."""
    comm, grids = _hand_drawn()
    theirs = comm.rename(columns={"code": "CUN_DM"})
    theirs.to_file(tmp_path / "c.gpkg", layer="communities")
    grids.to_file(tmp_path / "g.gpkg", layer="grids")
    want = gridgeo.validate(grids, communities=comm)["type"].tolist()
    assert want == ["overlap", "gap"]
    mapping = {"communities": {"code": "CUN_DM"}}
    assert gridgeo.validate(grids, communities=theirs, columns=mapping)["type"].tolist() == want
    source = gridgeo.io.LayerSource(tmp_path / "c.gpkg", layer="communities", columns={"code": "CUN_DM"})
    assert gridgeo.validate(tmp_path / "g.gpkg", communities=source)["type"].tolist() == want
    fixed, log = gridgeo.repair(grids, communities=theirs, columns=mapping)
    assert len(gridgeo.validate(fixed, communities=comm)) == 0 and {"overlap_given", "gap_filled"} <= set(log["action"])
    # unmapped, the fix is named in the words of the face called
    with pytest.raises(InputError, match=r"communities: the communities layer has no 'code' column.*columns=\{'communities': \{'code': 'COLUMN'\}\}"):
        gridgeo.validate(grids, communities=theirs)
    with pytest.raises(InputError, match=r"^grids: column 'X' not found; columns there: \['grid_code', 'community_code'\]"):
        gridgeo.validate(grids, communities=theirs, columns={"grids": {"code": "X"}})
    args = ["validate", str(tmp_path / "g.gpkg"), "--communities", str(tmp_path / "c.gpkg")]
    assert main(args) == 2
    assert "--columns communities.code=COLUMN" in capsys.readouterr().err
    assert main([*args, "--columns", "grids.code=X"]) == 2  # refused before anything is checked or printed
    assert capsys.readouterr().out == ""
    assert main([*args, "--columns", "communities.code=CUN_DM"]) == 1  # the overlap: an error finding
    assert "overlap" in capsys.readouterr().out
    out = tmp_path / "fixed.gpkg"
    assert main([*args, "--columns", "communities.code=CUN_DM", "--repair", str(out)]) == 1
    assert "0 coverage findings left" in capsys.readouterr().out


def test_validate_and_repair_read_a_grid_layers_own_code_column_by_columns(tmp_path, capsys):
    """A grid layer with its code in ``WG_DM`` and its community in ``SQDM``: ``--columns grids.code=WG_DM`` was refused
    ("names no layer checked against") and a ``LayerSource(..., columns={"code": "WG_DM"})`` had its mapping dropped
    (every grid a ``missing_code`` error). The grid layer's mapping is now read as ``--code-column`` and
    ``--community-column`` are, on both faces, as ``rebalance`` and ``unify`` read it; ``grids.kind`` is its kind."""
    comm, grids = _hand_drawn()
    theirs = grids.rename(columns={"grid_code": "WG_DM", "community_code": "SQDM"})
    theirs.to_file(tmp_path / "g.gpkg", layer="grids")
    comm.to_file(tmp_path / "c.gpkg", layer="communities")
    want = gridgeo.validate(grids, communities=comm)["type"].tolist()
    assert want == ["overlap", "gap"]
    mapping = {"code": "WG_DM", "community": "SQDM"}
    assert gridgeo.validate(theirs, communities=comm, columns={"grids": mapping})["type"].tolist() == want
    source = gridgeo.io.LayerSource(tmp_path / "g.gpkg", layer="grids", columns=mapping)
    assert gridgeo.validate(source, communities=comm)["type"].tolist() == want
    fixed, log = gridgeo.repair(source, communities=comm)
    assert fixed.columns.tolist() == ["WG_DM", "SQDM", "geometry"] and {"overlap_given", "gap_filled"} <= set(log["action"])
    dedicated = theirs.assign(类型="dedicated")  # the kind read from 类型: a base code judged out of the dedicated range
    found = gridgeo.validate(dedicated, communities=comm, columns={"grids": {**mapping, "kind": "类型"}})
    assert "code_wrong_range" in set(found["type"])
    with pytest.raises(InputError, match=r"^code_column='X' and the grids layer's mapping \{'code': 'WG_DM'\} name two columns "
                                         r"for the grid code; give one$"):
        gridgeo.validate(source, communities=comm, code_column="X")
    args = ["validate", str(tmp_path / "g.gpkg"), "--communities", str(tmp_path / "c.gpkg")]
    out = tmp_path / "fixed.gpkg"
    assert main([*args, "--columns", "grids.code=WG_DM", "--columns", "grids.community=SQDM", "--repair", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "3 grids, 2 findings" in printed and "0 coverage findings left" in printed
    assert gpd.read_file(out, layer="grids")["WG_DM"].tolist() == theirs["WG_DM"].tolist()
    assert main([*args, "--columns", "grids.code=WG_DM", "--code-column", "X"]) == 2
    assert "--code-column X and --columns grids.code=WG_DM name two columns for the grid code; give one" in capsys.readouterr().err
    assert main([*args, "--columns", "grids.codes=X"]) == 2
    assert "a grid layer's columns to map are ['code', 'community', 'kind']" in capsys.readouterr().err


def test_a_community_layer_alone_with_its_own_code_column_is_checked_as_communities(tmp_path, capsys):
    """``gridgeo validate COMMUNITIES`` with the code in ``CUN_DM``: judged as a grid layer (``missing_code``,
    ``missing_community`` errors, "2 grids"), as no ``--columns`` could say which column holds the code. With
    ``--columns communities.code=CUN_DM`` (``columns=`` in Python) it is checked and repaired as communities, and the
    repaired layer keeps the column's own name."""
    comm = gpd.GeoDataFrame({"CUN_DM": [C1, C2]}, geometry=[box(0, 0, 201, 100), box(200, 0, 400, 100)], crs=4547)
    comm.to_file(tmp_path / "c.gpkg", layer="communities")
    mapping = {"communities": {"code": "CUN_DM"}}
    assert gridgeo.validate(comm, columns=mapping)["type"].tolist() == ["overlap"]
    fixed, log = gridgeo.repair(comm, columns=mapping)
    assert "CUN_DM" in fixed.columns and "code" not in fixed.columns and len(log) == 1
    assert len(gridgeo.validate(fixed, columns=mapping)) == 0
    out = tmp_path / "fixed.gpkg"
    assert main(["validate", str(tmp_path / "c.gpkg"), "--columns", "communities.code=CUN_DM", "--repair", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 communities, 1 finding" in printed and "1 change logged, 0 findings left" in printed
    assert gpd.read_file(out, layer="communities")["CUN_DM"].tolist() == [C1, C2]
