"""Households in a separate table (户数表, 住户登记) joined to the buildings: ``--households``, ``[households]`` of
``--config`` and ``divide(households=...)``.

The sample town divided from footprints without households plus a table made of its households gives the plan the
sample town gives (through the CLI with a GBK CSV, through the API with an Excel sheet); the join's findings and
errors are checked on the tiny town.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest

import gridgeo
from gridgeo import InputError, Plan
from gridgeo.cli import main
from gridgeo.datasets import get_path, sample_town_layers
from gridgeo.household_table import households_source, join_households
from gridgeo.io import normalise_buildings

SAMPLE = get_path("sample_town")
#: the columns of the plan's layers compared between the sample town and its footprints plus a table
COMPARED = {"grids": ["grid_code", "households"], "subgrids": ["subgrid_code", "households"],
            "buildings": ["building_id", "grid_code", "subgrid_code", "households", "households_source"]}


# ------------------------------------------------------------------------------------ the sample town


@pytest.fixture(scope="module")
def sample_reference() -> Plan:
    layers = {name: (SAMPLE, name) for name in sample_town_layers()}
    return gridgeo.divide(layers.pop("communities"), **layers)


@pytest.fixture(scope="module")
def sample_split(tmp_path_factory) -> dict:
    """The sample town's buildings without households (a GeoPackage) and its households as a table (户数表): a GBK
    CSV and an Excel workbook, keyed by 楼栋编号; buildings without a count are not listed."""
    folder = tmp_path_factory.mktemp("households_table")
    buildings = gpd.read_file(SAMPLE, layer="buildings")
    footprints = folder / "楼栋.gpkg"
    buildings.drop(columns="households").to_file(footprints, layer="buildings")
    table = buildings.loc[buildings["households"].notna(), ["building_id", "households"]]
    table = table.rename(columns={"building_id": "楼栋编号", "households": "户数"}).astype({"户数": "int64"})
    table = table.iloc[::-1]  # in another order than the footprints: the plan is the same
    csv = folder / "户数表.csv"
    table.to_csv(csv, index=False, encoding="gbk")
    xlsx = folder / "户数表.xlsx"
    pyogrio.write_dataframe(table, xlsx, driver="XLSX", layer="户数")
    return {"footprints": footprints, "csv": csv, "xlsx": xlsx, "listed": len(table), "buildings": len(buildings)}


def assert_same_plan(got: Plan, want: Plan) -> None:
    for layer, columns in COMPARED.items():
        a = got[layer].sort_values(columns[0]).reset_index(drop=True)
        b = want[layer].sort_values(columns[0]).reset_index(drop=True)
        pd.testing.assert_frame_equal(pd.DataFrame(a[columns]), pd.DataFrame(b[columns]), check_dtype=False)
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all(), layer


def test_cli_partition_joins_a_gbk_csv_table_to_footprints(capsys, tmp_path, sample_split, sample_reference):
    out = tmp_path / "plan.gpkg"
    rc = main(["partition", "--sample", "--buildings", str(sample_split["footprints"]), "--households",
               str(sample_split["csv"]), "--workers", "1", "--quiet", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    plan = Plan.read(out)
    assert_same_plan(plan, sample_reference)
    used = plan["findings"][plan["findings"]["type"] == "households_table_used"]
    assert len(used) == 1
    assert (f"户数表.csv, a count table (column 户数), joined by 楼栋编号 to building_id: {sample_split['listed']:,} of "
            f"{sample_split['buildings']:,} buildings listed, 0 ids not among them") in used["message"].iloc[0]
    assert "households" in plan.metadata["input_fingerprints"]


def test_api_divide_joins_an_excel_sheet_by_the_key_named(sample_split, sample_reference):
    layers = {name: (SAMPLE, name) for name in sample_town_layers()}
    layers["buildings"] = sample_split["footprints"]
    plan = gridgeo.divide(layers.pop("communities"), **layers, households=(sample_split["xlsx"], "户数"),
                          households_key="楼栋编号")
    assert_same_plan(plan, sample_reference)
    nulls = plan["findings"]["type"].eq("households_null").sum()  # the unlisted buildings, estimated as without a table
    assert nulls == sample_split["buildings"] - sample_split["listed"] > 0


# ------------------------------------------------------------------------------------ the join


@pytest.fixture
def tiny(buildings_4547) -> gpd.GeoDataFrame:
    """The tiny town's buildings normalised: b1 120, b2 none (floors), b3 40, b4 8, b5 none, b6 5 households."""
    return normalise_buildings(buildings_4547)[0]


def households(out: gpd.GeoDataFrame) -> dict:
    return {k: (None if pd.isna(v) else v) for k, v in out.set_index("building_id")["households"].items()}


def test_a_register_counts_its_rows_per_building_and_wins_over_the_layer(tiny):
    register = pd.DataFrame({"楼栋编号": ["b2", "b4", "b2", "b2", "b4"], "户主": list("甲乙丙丁戊")})
    out, found, _ = join_households(tiny, households_source(register))
    got = households(out)
    assert (got["b2"], got["b4"]) == (3, 2)  # rows per building, the layer's 8 replaced
    assert (got["b1"], got["b3"], got["b5"]) == (120, 40, None)  # not listed: the layer's, or estimated later
    types = {f["type"]: f for f in found}
    assert set(types) == {"households_table_replaced", "households_table_used"}
    assert "1 buildings have a households value in the layer and in the households table: the table's is used (1 " \
           "differed, e.g. ['b4'])" in types["households_table_replaced"]["message"]
    assert "a register (one row per household)" in types["households_table_used"]["message"]


def test_ids_not_among_the_footprints_duplicates_and_rows_without_id_are_findings(tiny):
    table = pd.DataFrame({"建筑编号": ["b1", "b1", "b3", "b3", "Z9", "", "b5", "b1", "b4", "b4"],
                          "户数": ["12", "12", "40", "45户", "7", "3", "", "12.0", "", "9"]})
    out, found, _ = join_households(tiny, households_source(table))
    got = households(out)
    assert (got["b1"], got["b3"], got["b5"]) == ("12", "45户", None)  # an empty count gives nothing: estimated later
    assert got["b4"] == "9"  # an empty count beside one is no other count
    by_type = {}
    for f in found:
        by_type.setdefault(f["type"], []).append(f)
    assert [f["feature_id"] for f in by_type["households_table_unmatched"]] == ["Z9"]
    assert "建筑编号 'Z9' of the households table (7 households) is no building of the footprints" in \
           by_type["households_table_unmatched"][0]["message"]
    # b1 three times with 12 (once as "12.0", as Excel writes it): counted once, said (two 单元 of 12 would be 24);
    # b4 with 9 and with nothing: no finding
    assert [f["feature_id"] for f in by_type["households_table_duplicate"]] == ["b3"]
    assert "1 建筑编号(s) listed more than once with the same 户数 (e.g. 'b1' ×3): each counted once; if the rows are " \
           "parts of the building (单元), sum them in the table" in by_type["households_table_repeated"][0]["message"]
    assert "建筑编号 'b3' is listed with different 户数 ['40', '45户']; the largest (45户) is used" in \
           by_type["households_table_duplicate"][0]["message"]
    assert "1 row(s) of the households table without a 建筑编号 (lines [7])" in by_type["households_table_no_id"][0]["message"]


def test_duplicates_are_taken_alike_whatever_the_row_order(tiny):
    table = pd.DataFrame({"building_id": ["b3", "b1", "b3", "b3"], "households": [45, 12, 40, 44]})
    firsts = [households(join_households(tiny, households_source(t))[0]) for t in (table, table.iloc[::-1])]
    assert firsts[0] == firsts[1]
    assert firsts[0]["b3"] == 45


def test_no_id_matching_names_both_columns_values(tiny):
    table = pd.DataFrame({"楼栋编号": ["1", "2"], "户数": [10, 20]})
    with pytest.raises(InputError, match=re.escape("households: no 楼栋编号 of the households table (e.g. ['1', '2']) is a "
                                                   "building_id of the buildings (e.g. ['b1', 'b2', 'b3']); map the "
                                                   "buildings' id column with columns={'buildings': {'building_id': ")):
        join_households(tiny, households_source(table))


@pytest.mark.parametrize(("table", "key", "message"), [
    ({"编号": ["b1"], "户数": [1]}, None, "households: the households table has no building id column (楼栋编号, 建筑编号, "
                                      "building_id); columns there: ['编号', '户数']; name it with households_key='COLUMN'"),
    ({"楼栋编号": ["b1"], "建筑编号": ["b1"], "户数": [1]}, None,
     "households: the households table has several building id columns ['楼栋编号', '建筑编号']"),
    ({"编号": ["b1"], "户数": [1]}, "楼号", "households_key='楼号': no such column in the households table; columns "
                                         "there: ['编号', '户数']"),
    ({"编号": ["b1"], "户数": [1], "住户数": [2]}, "编号", "households: the households table has several count columns "
                                                      "['户数', '住户数']"),
])
def test_a_table_whose_columns_cannot_be_read_is_refused_naming_them(tiny, table, key, message):
    with pytest.raises(InputError, match=re.escape(message)):
        join_households(tiny, households_source(pd.DataFrame(table), key=key))


def test_divide_refuses_a_key_without_a_table(communities_4490, buildings_4490):
    with pytest.raises(InputError, match=re.escape("divide: households_key='楼栋编号' without households=")):
        gridgeo.divide(communities_4490, buildings=buildings_4490, households_key="楼栋编号")


# ------------------------------------------------------------------------------------ the command line


def test_blocks_reads_the_table_of_a_config_with_its_key(capsys, tiny_files, tmp_path):
    (tmp_path / "表.csv").write_text("编号,户数\nb1,120户\nb4,30\n", encoding="gbk")
    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text(f'[communities]\npath = "{tiny_files["communities"].as_posix()}"\n'
                   f'[streets]\npath = "{tiny_files["streets"].as_posix()}"\n'
                   f'[buildings]\npath = "{tiny_files["buildings"].as_posix()}"\n'
                   '[households]\npath = "表.csv"\nkey = "编号"\n', encoding="utf-8")
    out = tmp_path / "plan.gpkg"
    assert main(["blocks", "--config", str(cfg), "--quiet", "--out", str(out)]) == 0, capsys.readouterr().err
    plan = Plan.read(out)
    got = plan["buildings"].set_index("building_id")["households"]
    assert (got["b1"], got["b4"], got["b3"]) == (120, 30, 40)  # b3 not listed: the layer's count
    assert {"households_table_used", "households_table_replaced", "households_parsed"} <= set(plan["findings"]["type"])


def test_cli_households_key_names_the_column(capsys, tiny_files, tmp_path):
    table = tmp_path / "t.csv"
    pd.DataFrame({"BM": ["b4"], "HS": [30]}).to_csv(table, index=False)
    out = tmp_path / "plan.gpkg"
    args = ["blocks", "--communities", str(tiny_files["communities"]), "--streets", str(tiny_files["streets"]),
            "--buildings", str(tiny_files["buildings"]), "--quiet", "--out", str(out), "--households", str(table)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "t.csv has no building id column" in err[0] and "name it with --households-key COLUMN" in err[0]
    assert not out.exists()
    # HS is no count column by its name: the table is a register of one row (one household) for b4
    assert main([*args, "--households-key", "BM"]) == 0, capsys.readouterr().err
    assert Plan.read(out)["buildings"].set_index("building_id")["households"]["b4"] == 1


def test_cli_households_key_without_a_table_is_one_line(capsys, tiny_files, tmp_path):
    rc = main(["blocks", "--communities", str(tiny_files["communities"]), "--buildings", str(tiny_files["buildings"]),
               "--households-key", "楼栋编号", "--out", str(tmp_path / "p.gpkg")])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["gridgeo: error: --households-key without --households TABLE; give the households table (户数表) too"]


def test_a_workbook_with_several_sheets_needs_one_named(capsys, tiny, tmp_path):
    book = tmp_path / "户数表.xlsx"
    pyogrio.write_dataframe(pd.DataFrame({"楼栋编号": ["b1"], "户数": [1]}), book, driver="XLSX", layer="一")
    pyogrio.write_dataframe(pd.DataFrame({"楼栋编号": ["b3"], "户数": [2]}), book, driver="XLSX", layer="二", append=True)
    with pytest.raises(InputError, match=re.escape("households: 户数表.xlsx has several sheets with rows ['一', '二']; "
                                                   "choose one with households=(path, sheet)")):
        join_households(tiny, households_source(book))
    out = join_households(tiny, households_source((book, "二")))[0]
    assert households(out)["b3"] == 2
    assert np.isclose(households(out)["b1"], 120)


def test_a_table_given_as_the_buildings_names_the_option(capsys, tmp_path):
    book = tmp_path / "户数表.xlsx"
    pyogrio.write_dataframe(pd.DataFrame({"楼栋编号": ["B1"], "户数": [1]}), book, driver="XLSX")
    out = tmp_path / "p.gpkg"
    assert main(["partition", "--sample", "--buildings", str(book), "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "are given beside them: --households 户数表.xlsx (README" in err[0]
    assert not out.exists()


def test_a_config_households_table_needs_its_path_and_known_keys(tmp_path):
    from gridgeo.io import load_config

    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text('[households]\npath = "户数表.xlsx"\nsheet = "一"\n', encoding="utf-8")
    with pytest.raises(InputError, match=re.escape("unknown key(s) ['sheet'] in [households]; valid keys: ['encoding', "
                                                   "'key', 'layer', 'path']")):
        load_config(cfg)
    cfg.write_text('[households]\npath = "户数表.xlsx"\nlayer = "一"\nkey = "楼号"\n', encoding="utf-8")
    src = load_config(cfg)["households"]
    assert (src.path, src.layer, src.columns) == (tmp_path / "户数表.xlsx", "一", {"building_id": "楼号"})


def test_a_csv_that_does_not_decode_names_the_encoding_for_the_face_called(capsys, tiny_files, tmp_path):
    table = tmp_path / "户数表.csv"
    table.write_bytes("楼栋编号,户数\nb1,12\n".encode("gbk"))
    with pytest.raises(InputError, match=re.escape("give its encoding: households=gridgeo.io.LayerSource(PATH, "
                                                   "encoding='gbk'), which decodes it")):
        gridgeo.divide(tiny_files["communities"], buildings=tiny_files["buildings"],
                       households=gridgeo.io.LayerSource(table, encoding="utf-8"))
    out = tmp_path / "p.gpkg"
    args = ["blocks", "--communities", str(tiny_files["communities"]), "--buildings", str(tiny_files["buildings"]),
            "--households", str(table), "--quiet", "--out", str(out)]
    assert main([*args, "--encoding", "households=utf-8"]) == 2
    assert "give its encoding: --encoding households=gbk, which decodes it" in capsys.readouterr().err
    assert main([*args, "--encoding", "households=gbk"]) == 0, capsys.readouterr().err
    assert Plan.read(out)["buildings"].set_index("building_id")["households"]["b1"] == 12


def test_buildings_without_ids_are_said_to_have_none(buildings_4547):
    made = normalise_buildings(buildings_4547.drop(columns="building_id"))[0]
    table = pd.DataFrame({"楼栋编号": ["b1"], "户数": [10]})
    with pytest.raises(InputError, match=re.escape("is a building_id of the buildings (made from the geometry: the layer "
                                                   "has no id column) (e.g. ['b")):
        join_households(made, households_source(table))


def test_a_register_of_persons_counts_households_not_persons(tiny):
    """A 户籍 register lists persons: by its household ids (户号) when it has them, else by its heads (与户主关系)."""
    persons = pd.DataFrame({"楼栋编号": ["b2", "b2", "b2", "b4", "b4", "b2"],
                            "户号": ["H1", "H1", "H2", "H3", "H3", "H2"], "姓名": list("甲乙丙丁戊己")})
    out, found, _ = join_households(tiny, households_source(persons))
    got = households(out)
    assert (got["b2"], got["b4"]) == (2, 1)  # two households of five persons in b2, one of two in b4
    used = next(f for f in found if f["type"] == "households_table_used")
    assert "a register of persons (distinct 户号)" in used["message"]

    heads = pd.DataFrame({"楼栋编号": ["b2", "b2", "b2", "b4", "b6"],
                          "与户主关系": ["户主", "配偶", "户主", "本人", "子"]})
    got = households(join_households(tiny, households_source(heads))[0])
    assert (got["b2"], got["b4"], got["b6"]) == (2, 1, 0)  # b6 lists a son whose head is registered elsewhere

    no_head = pd.DataFrame({"楼栋编号": ["b2"], "与户主关系": ["配偶"]})
    with pytest.raises(InputError, match="names no head of household"):
        join_households(tiny, households_source(no_head))
    missing = pd.DataFrame({"楼栋编号": ["b2", "b4"], "户号": ["H1", None]})
    with pytest.raises(InputError, match=r"1 row\(s\) of the households table without a 户号 \(lines \[3\]\)"):
        join_households(tiny, households_source(missing))


def test_info_says_how_a_households_table_is_read(tmp_path):
    from gridgeo.info import describe

    (tmp_path / "人口登记.csv").write_text("楼号,户号,与户主关系\nB1,H1,户主\nB1,H1,子\n", encoding="gbk")
    (tmp_path / "roster.csv").write_text("name,phone\nA,1\n", encoding="utf-8")
    assert describe(tmp_path / "人口登记.csv").endswith(
        "a households table (户数表) by 楼号, a register of persons (distinct 户号): give it beside the buildings with "
        "--households 人口登记.csv")
    assert "households table" not in describe(tmp_path / "roster.csv")
    # a title row (标题行) above the header, as community registers come out of Excel
    (tmp_path / "户数统计.csv").write_text("XX社区户数统计表,\n楼栋编号,户数（户）\n1,30\n", encoding="gbk")
    assert describe(tmp_path / "户数统计.csv").endswith(
        "a households table (户数表) by 楼栋编号, a count table (column 户数（户）): give it beside the buildings with "
        "--households 户数统计.csv")


# ------------------------------------------------------------------------------------ tables as offices keep them


def numbered(ids: list[str], *, columns: dict | None = None, name: str = "楼栋编号") -> gpd.GeoDataFrame:
    """Buildings of the given ids (column ``name``), normalised with ``columns`` mapped."""
    from shapely import Point

    raw = gpd.GeoDataFrame({name: ids}, geometry=[Point(10 * i, 0).buffer(4) for i in range(len(ids))], crs=4547)
    return normalise_buildings(raw, columns=columns)[0]


@pytest.mark.parametrize(("building", "listed"), [
    ("0012", "12"), ("0012", "12.0"), ("12", "12.0"), ("12号楼", "１２号楼"), ("12", " １２ "), ("3-1", "3－1"),
    ("3-1", "3—1"), ("12号楼", "12"), ("12", "12栋"), ("12幢", "12号楼")])
def test_an_id_written_otherwise_matches_the_one_building_written_so(building, listed):
    out, found, _ = join_households(numbered([building, "99"]),
                                    households_source(pd.DataFrame({"楼栋编号": [listed], "户数": [30]})))
    assert households(out)[building] == 30
    form = [f for f in found if f["type"] == "households_table_id_form"]
    assert len(form) == 1 and f"{listed.strip()} → {building}" in form[0]["message"]


def test_an_id_written_like_two_buildings_joins_neither_and_is_a_finding():
    out, found, _ = join_households(numbered(["012", "12", "13"]), households_source(
        pd.DataFrame({"楼栋编号": ["12.0", "13"], "户数": [30, 40]})))
    assert households(out) == {"012": None, "12": None, "13": 40}
    unmatched = [f for f in found if f["type"] == "households_table_unmatched"]
    assert len(unmatched) == 1 and "written like ['012', '12']" in unmatched[0]["message"]
    assert not [f for f in found if f["type"] == "households_table_id_form"]


@pytest.mark.parametrize("column", ["户数（户）", "户数(户)", "住户数量", " 户数 (单位:户)"])
def test_a_count_column_with_its_unit_or_another_name_is_read_as_counts(column):
    out, _, _ = join_households(numbered(["1", "2"]),
                                households_source(pd.DataFrame({"楼栋编号": ["1", "2"], column: [30, 40]})))
    assert households(out) == {"1": 30, "2": 40}


def test_a_count_column_not_read_as_one_is_refused_not_read_as_a_register():
    table = pd.DataFrame({"楼栋编号": ["1", "2"], "实有户数": ["30", "40"]})
    with pytest.raises(InputError, match=r"column '实有户数' looks like the households per building .* rename it 户数"):
        join_households(numbered(["1", "2"]), households_source(table))


def test_an_xlsx_with_a_title_row_a_totals_row_and_numbers_as_text(tmp_path):
    book = tmp_path / "户数统计.xlsx"
    sheet = pd.DataFrame({"XX社区户数统计表": ["楼栋编号", "0012", "13", None, "合  计"],
                          "B": ["户数（户）", "30", "40", None, "70"]})
    pyogrio.write_dataframe(sheet, book, driver="XLSX", layer="Sheet1")
    out, found, _ = join_households(numbered(["12", "13"]), households_source(book))
    assert {k: float(v) for k, v in households(out).items()} == {"12": 30, "13": 40}  # text, read as counts are
    total = [f for f in found if f["type"] == "households_table_total"]
    assert len(total) == 1 and "line(s) [6]" in total[0]["message"]
    assert not [f for f in found if f["type"] in ("households_table_unmatched", "households_table_no_id")]


def test_the_table_is_keyed_by_the_buildings_column_mapped_in_the_config():
    buildings = numbered(["A1", "A2"], columns={"building_id": "BM"}, name="BM")
    out, found, _ = join_households(buildings, households_source(pd.DataFrame({"BM": ["A1", "A2"], "户数": [5, 6]})))
    assert households(out) == {"A1": 5, "A2": 6}
    assert "joined by BM to building_id" in found[-1]["message"]


def test_a_csv_with_title_lines_above_its_header_names_rows_by_their_lines(tmp_path):
    table = tmp_path / "户数统计.csv"
    table.write_text("XX社区户数统计表\n制表日期: 2026-12\n楼栋编号,户数\n0012,30\n\n13,40\n合计,70\n", encoding="gbk")
    out, found, _ = join_households(numbered(["12", "13"]), households_source(table))
    assert {k: float(v) for k, v in households(out).items()} == {"12": 30, "13": 40}
    total = [f for f in found if f["type"] == "households_table_total"]
    assert len(total) == 1 and "line(s) [7]" in total[0]["message"]


@pytest.mark.parametrize(("table", "message"), [
    ({"楼栋编号": [], "户数": []}, "households: the households table has no rows; give a table"),
    ({"楼栋编号": []}, "households: the households table has no rows; give a table"),
    ({"楼栋编号": [None, "合计"], "户数": [3, 3]}, "households: the households table has no row with a 楼栋编号 (of its 2 rows)"),
])
def test_a_table_with_no_row_to_join_is_refused_saying_so(tiny, table, message):
    # not an AttributeError (an empty DataFrame), nor "no id matches: map the id columns" (its fix would not help)
    with pytest.raises(InputError, match=re.escape(message)):
        join_households(tiny, households_source(pd.DataFrame(table)))


def test_the_table_winning_over_the_layer_is_an_info_finding_as_the_readme_says(tiny):
    # README ("The table wins"): `households_table_replaced`, info; it was a warning
    out, found, _ = join_households(tiny, households_source(pd.DataFrame({"楼栋编号": ["b4"], "户数": [9]})))
    assert households(out)["b4"] == 9
    assert {f["type"]: f["severity"] for f in found}["households_table_replaced"] == "info"


@pytest.mark.parametrize("section", ["households", "buildings"])
def test_a_config_path_that_is_no_text_is_one_line_not_a_type_error(tmp_path, section):
    from gridgeo.io import load_config

    cfg = tmp_path / "gridgeo.toml"
    cfg.write_text(f"[{section}]\npath = 5\n", encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(f"[{section}] path = 5 must be a file's path in quotes")):
        load_config(cfg)


def test_a_sheet_named_for_a_csv_table_is_said_not_dropped(capsys, tiny, tiny_files, tmp_path):
    # README showed `--households 住户登记.csv ... --households-layer Sheet1`: the sheet was silently not used
    csv = tmp_path / "住户登记.csv"
    pd.DataFrame({"楼栋编号": ["b2"], "户数": [3]}).to_csv(csv, index=False)
    with pytest.raises(InputError, match=re.escape("households: 住户登记.csv is a CSV, one table without sheets: the "
                                                   "sheet 'Sheet1' names none of it; leave it out")):
        join_households(tiny, households_source((csv, "Sheet1")))
    code = main(["blocks", "--communities", str(tiny_files["communities"]), "--buildings", str(tiny_files["buildings"]),
                 "--households", str(csv), "--households-layer", "Sheet1", "--out", str(tmp_path / "p.gpkg")])
    assert code == 2
    assert "住户登记.csv is a CSV, one table without sheets: --households-layer Sheet1 names none of it" in capsys.readouterr().err
    assert not (tmp_path / "p.gpkg").exists()


def test_an_unmatched_id_without_a_count_is_not_said_to_have_none_households(tiny):
    table = pd.DataFrame({"楼栋编号": ["X9", "b2"], "户数": [None, 3]})
    found = join_households(tiny, households_source(table))[1]
    said = [f["message"] for f in found if f["type"] == "households_table_unmatched"]
    assert said == ["households: 楼栋编号 'X9' of the households table (no count) is no building of the footprints; its "
                    "households are in no grid: add the footprint or correct the id"]


def test_a_frame_with_a_column_named_twice_is_one_line(tiny):
    table = pd.DataFrame([["b1", 3, "b1"]], columns=["楼栋编号", "户数", "楼栋编号"])
    with pytest.raises(InputError, match=r"^households: the table has columns named twice \['楼栋编号'\]; rename or "
                                         r"drop one of each$"):
        join_households(tiny, households_source(table, key="楼栋编号"))
