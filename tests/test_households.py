"""Households per building (gridgeo.households): given, estimated, missing; findings for bad values."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import Point

from conftest import METRIC_EPSG, rect
from gridgeo import InputError
from gridgeo.households import NON_RESIDENTIAL_USES, assign_households
from gridgeo.rules import get_rules


def _buildings(households, floors=None, use=None, geoms=None, crs=METRIC_EPSG):
    n = len(households)
    geoms = geoms or [rect(0, 0, 30, 30)] * n  # 900 m² footprints
    return gpd.GeoDataFrame(
        {
            "building_id": [f"b{i}" for i in range(n)],
            "households": pd.Series(households, dtype=object),
            "floors": pd.Series(floors if floors is not None else [None] * n, dtype=object),
            "use": pd.Series(use if use is not None else [None] * n, dtype=object),
        },
        geometry=geoms,
        crs=crs,
    )


def test_given_households():
    out, f = assign_households(_buildings([12, 0, 300.0, "45"]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [12, 0, 300, 45]
    assert out["households"].dtype == np.int64
    assert out["households_source"].tolist() == ["given"] * 4
    assert len(f) == 0


def test_given_beats_floors_and_use():
    out, _ = assign_households(_buildings([7], floors=[20], use=["office"]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [7]
    assert out["households_source"].tolist() == ["given"]


def test_estimated_from_footprint_and_floors():
    b = _buildings([None, None, None], floors=[6, "3", 2.5])
    out, f = assign_households(b, metric=METRIC_EPSG)
    # 900 m² × floors ÷ 90 m²
    assert out["households"].tolist() == [60, 30, 25]
    assert out["households_source"].tolist() == ["estimated"] * 3
    assert len(f) == 0  # no households column in use: estimating is the plan, not a problem


def test_estimate_rounds_to_nearest():
    b = _buildings([None], floors=[1], geoms=[rect(0, 0, 10, 14)])  # 140 m² / 90 = 1.56
    assert assign_households(b, metric=METRIC_EPSG)[0]["households"].tolist() == [2]


def test_dwelling_size_rule():
    b = _buildings([None], floors=[6])
    out, _ = assign_households(b, metric=METRIC_EPSG, rules=get_rules(dwelling_m2=60))
    assert out["households"].tolist() == [90]  # 900 × 6 / 60


def test_residential_share_rule():
    b = _buildings([None], floors=[6])
    out, _ = assign_households(b, metric=METRIC_EPSG, rules=get_rules(residential_share=0.5))
    assert out["households"].tolist() == [30]  # 900 × 6 × 0.5 / 90


def test_residential_share_does_not_touch_given_values():
    out, _ = assign_households(_buildings([80]), metric=METRIC_EPSG, rules=get_rules(residential_share=0.5))
    assert out["households"].tolist() == [80]


def test_area_measured_in_the_metric_crs():
    b = _buildings([None], floors=[6]).to_crs(4490)
    out, _ = assign_households(b, metric=METRIC_EPSG)
    assert out["households"].tolist() == [60]
    assert out.crs.to_epsg() == 4490  # the layer keeps its own CRS


@pytest.mark.parametrize("use", ["school", "office", "商业", "Hospital"])
def test_non_residential_use_estimates_zero(use):
    out, f = assign_households(_buildings([None, None], floors=[6, None], use=[use, use]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [0, 0]
    assert out["households_source"].tolist() == ["estimated", "estimated"]
    assert len(f) == 0


@pytest.mark.parametrize("use", ["residential", "Residential ", "住宅", "住宅楼", "apartments", "dormitory", "yes"])
def test_residential_uses(use):
    assert use.strip().lower() not in NON_RESIDENTIAL_USES
    out, _ = assign_households(_buildings([None], floors=[6], use=[use]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [60]


@pytest.mark.parametrize("dtype", [object, "str"])
def test_no_use_counts_as_residential_beside_other_uses(dtype):
    # a use column with some values and some nulls, as read from a file (pandas' string dtype)
    b = _buildings([None] * 4, floors=[6] * 4).assign(use=pd.Series([None, "school", "", "住宅"], dtype=dtype))
    out, _ = assign_households(b, metric=METRIC_EPSG)
    assert out["households"].tolist() == [60, 0, 60, 60]


def test_read_from_file_with_mixed_use(tmp_path):
    from gridgeo.io import normalise_buildings, read_layer

    path = tmp_path / "b.gpkg"
    _buildings([None, None, 5], floors=[6, 6, None], use=[None, "office", None]).to_file(path)
    b, _ = normalise_buildings(read_layer(path, name="buildings"))
    out, _ = assign_households(b, metric=METRIC_EPSG)
    assert out["households"].tolist() == [60, 0, 5]
    assert out["households_source"].tolist() == ["estimated", "estimated", "given"]


def test_missing_sources():
    b = _buildings([None, None, None], floors=[None, 0, -2], geoms=[rect(0, 0, 30, 30)] * 3)
    b = pd.concat([b, _buildings([None], geoms=[Point(526_000, 3_385_000)]).assign(building_id="p")], ignore_index=True)
    out, f = assign_households(b, metric=METRIC_EPSG)
    assert out["households"].tolist() == [0, 0, 0, 0]
    assert out["households_source"].tolist() == ["missing"] * 4
    bad_floors = f[f["type"] == "floors_invalid"]  # -2 floors is said; 0 means not known, as often
    assert bad_floors["feature_id"].tolist() == ["b2"] and "-2" in bad_floors["message"].iloc[0]
    f = f[f["type"] != "floors_invalid"]
    assert f["type"].tolist() == ["households_missing"] * 4
    assert f["feature_id"].tolist() == ["b0", "b1", "b2", "p"]
    assert (f["severity"] == "warning").all()
    assert f["message"].str.contains("no households, no floors and no height: counted as 0").all()
    assert f.crs.to_epsg() == METRIC_EPSG
    # the finding sits on the building
    assert f.geometry.iloc[0].within(b.geometry.iloc[0])


def test_point_with_floors_is_missing():
    out, f = assign_households(_buildings([None], floors=[6], geoms=[Point(526_000, 3_385_000)]), metric=METRIC_EPSG)
    assert out["households_source"].tolist() == ["missing"]
    assert f["type"].tolist() == ["households_missing"]


def test_null_in_a_used_column_is_a_finding():
    out, f = assign_households(_buildings([40, None, ""], floors=[None, 6, 2]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [40, 60, 20]
    assert out["households_source"].tolist() == ["given", "estimated", "estimated"]
    assert f["type"].tolist() == ["households_null", "households_null"]
    assert f["feature_id"].tolist() == ["b1", "b2"]
    assert (f["severity"] == "info").all()
    assert f["message"].iloc[0] == "building b1: no households value; estimated 60 from footprint × floors"


def test_null_without_floors_is_missing_finding():
    out, f = assign_households(_buildings([40, None]), metric=METRIC_EPSG)
    assert out["households_source"].tolist() == ["given", "missing"]
    assert f["type"].tolist() == ["households_missing"]
    assert f["feature_id"].tolist() == ["b1"]


@pytest.mark.parametrize("bad", [-5, "-5", "abc", "十二", "约十二户", "inf"])  # "12户", "约12户" are 12: tests below
def test_invalid_values_are_findings(bad):
    out, f = assign_households(_buildings([bad, 10]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [0, 10]
    assert out["households_source"].tolist() == ["missing", "given"]
    assert f["type"].tolist() == ["households_invalid"]
    assert f["feature_id"].tolist() == ["b0"]
    assert f["message"].iloc[0] == f"building b0: households value {bad!r} is not a number ≥ 0; counted as 0"
    assert f["measure"].tolist() == [0.0]


@pytest.mark.parametrize("huge", [1e20, "1e20", -1e19, "99999999999999999999户"])
def test_values_no_integer_holds_are_findings_not_overflow(huge):
    # 1e20 was cast to int64 as -9223372036854775808 households, "given", without a finding
    out, f = assign_households(_buildings([huge, 10], floors=[6, None]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [60, 10]
    assert out["households_source"].tolist() == ["estimated", "given"]
    assert f["type"].tolist() == ["households_invalid"]
    assert "too large to be a count; estimated 60" in f["message"].iloc[0]


def test_floors_giving_an_estimate_no_integer_holds_are_not_an_overflow():
    out, _ = assign_households(_buildings([None, 10], floors=[1e30, None]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [0, 10]
    assert out["households"].min() >= 0


def test_invalid_value_with_floors_is_estimated():
    out, f = assign_households(_buildings([-3], floors=[6]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [60]
    assert out["households_source"].tolist() == ["estimated"]
    assert f["type"].tolist() == ["households_invalid"]
    assert f["message"].iloc[0].endswith("; estimated 60 from footprint × floors")


def test_fractional_values_rounded_and_recorded():
    out, f = assign_households(_buildings([12.4, "7.6"]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [12, 8]
    assert out["households_source"].tolist() == ["given", "given"]
    assert f["type"].tolist() == ["households_fractional"] * 2
    assert "rounded; kept" in f["message"].iloc[0]


def test_no_households_or_floors_columns():
    b = gpd.GeoDataFrame({"building_id": ["a"]}, geometry=[rect(0, 0, 30, 30)], crs=METRIC_EPSG)
    out, f = assign_households(b, metric=METRIC_EPSG)
    assert out["households"].tolist() == [0]
    assert out["households_source"].tolist() == ["missing"]
    assert f["type"].tolist() == ["households_missing"]


def test_input_not_modified():
    b = _buildings([None, "x"], floors=[6, None])
    before = b.copy()
    assign_households(b, metric=METRIC_EPSG)
    pd.testing.assert_frame_equal(pd.DataFrame(b), pd.DataFrame(before))
    assert "households_source" not in b.columns


def test_empty_layer():
    b = gpd.GeoDataFrame(
        {"building_id": pd.Series(dtype=object), "households": pd.Series(dtype=object), "floors": pd.Series(dtype=float)},
        geometry=gpd.GeoSeries([], crs=METRIC_EPSG),
    )
    out, f = assign_households(b, metric=METRIC_EPSG)
    assert len(out) == 0 and len(f) == 0
    assert "households_source" in out.columns


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(-5, 500), st.floats(-5, 500, allow_nan=False), st.sampled_from(["", "x", "3"])),
            st.one_of(st.none(), st.floats(0, 40, allow_nan=False)),
            st.sampled_from([None, "residential", "school"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_every_building_gets_a_count_and_a_source(rows):
    b = _buildings([r[0] for r in rows], floors=[r[1] for r in rows], use=[r[2] for r in rows])
    given = [r[0] for r in rows if r[0] is not None and str(r[0]).strip() != ""]
    if len(given) >= 3 and set(given) == {"x"}:  # a column of nothing but words: the wrong column, refused
        with pytest.raises(InputError, match=r"^buildings: column 'households' holds no number"):
            assign_households(b, metric=METRIC_EPSG)
        return
    out, f = assign_households(b, metric=METRIC_EPSG)
    assert (out["households"] >= 0).all()
    assert out["households"].dtype == np.int64
    assert set(out["households_source"]) <= {"given", "estimated", "missing"}
    # a building with a usable given value keeps it
    for (h, _, _), got, src in zip(rows, out["households"], out["households_source"], strict=True):
        value = pd.to_numeric(pd.Series([h], dtype=object), errors="coerce").iloc[0]
        if pd.notna(value) and value >= 0:
            assert src == "given" and got == round(value)
        else:
            assert src != "given"
    assert set(f["type"]) <= {"households_invalid", "households_fractional", "households_missing", "households_null",
                              "households_implausible", "households_parsed", "households_approximate",
                              "floors_invalid", "floors_parsed"}


def test_count_written_with_its_unit_is_read_as_the_number():
    out, f = assign_households(_buildings(["120户", " 80 户", "八十户", "x户"]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [120, 80, 0, 0]
    assert out["households_source"].tolist() == ["given", "given", "missing", "missing"]
    assert sorted(f.loc[f["type"] == "households_parsed", "feature_id"]) == ["b0", "b1"]
    assert sorted(f.loc[f["type"] == "households_invalid", "feature_id"]) == ["b2", "b3"]


def test_an_approximate_count_is_read_as_the_number_and_said_to_be_approximate():
    """约数 as registers write them (约12户, 大约12, 12户左右, ~12, ～12, 约1,200户) are the number, each with an info
    finding that names the value and says it is approximate; text around no number stays invalid."""
    values = ["约12户", "大约 12", "12户左右", "~12", "～１２", "约1,200", "约", "约x户", "左右", "约-3户", "12"]
    out, f = assign_households(_buildings(values, floors=[200] * len(values)), metric=METRIC_EPSG)
    assert out["households"].tolist()[:6] == [12, 12, 12, 12, 12, 1200]
    assert out["households_source"].tolist() == ["given"] * 6 + ["estimated"] * 4 + ["given"]
    approx = f[f["type"] == "households_approximate"]
    assert list(approx["feature_id"]) == [f"b{i}" for i in range(6)]
    assert set(approx["severity"]) == {"info"}
    first = approx.iloc[0]["message"]
    assert "'约12户'" in first and "approximate" in first and "read as 12" in first
    assert "read as 1200" in approx.iloc[5]["message"]
    # one finding a value: approximate, not also "read as a number"
    assert f.loc[f["type"] == "households_parsed"].empty
    assert sorted(f.loc[f["type"] == "households_invalid", "feature_id"]) == ["b6", "b7", "b8", "b9"]


def test_more_than_a_number_is_read_as_the_number_and_said_to_be_approximate():
    """"120多户", "120余户", "约120多户" (more than 120) are read as 120 (the count they name, a lower bound), each an
    info finding saying so; "1,200户" (thousands separated, with the unit) is 1,200; "十多户" has no number."""
    values = ["120多户", "120余户", "约120多户", "120多", "1,200多户", "十多户", "多户", "1,200户"]
    out, f = assign_households(_buildings(values, floors=[200] * len(values)), metric=METRIC_EPSG)
    assert out["households"].tolist()[:5] == [120, 120, 120, 120, 1200] and out["households"].iloc[7] == 1200
    assert out["households_source"].tolist() == ["given"] * 5 + ["estimated"] * 2 + ["given"]
    approx = f[f["type"] == "households_approximate"]
    assert list(approx["feature_id"]) == [f"b{i}" for i in range(5)]
    assert "'120多户'" in approx.iloc[0]["message"] and "read as 120" in approx.iloc[0]["message"]
    assert sorted(f.loc[f["type"] == "households_invalid", "feature_id"]) == ["b5", "b6"]
    assert list(f.loc[f["type"] == "households_parsed", "feature_id"]) == ["b7"]


def test_full_width_digits_and_thousands_separators_are_read_as_the_number():
    """Counts as registers and spreadsheets write them: full-width digits (１２０, １２０户), thousands
    separated (1,200); each an info finding. A comma that separates no thousands (1,2) is no number."""
    out, f = assign_households(_buildings(["１２０", "１２０户", "1,200", "1,2", "12"], floors=[200] * 5), metric=METRIC_EPSG)
    assert out["households"].tolist()[:3] == [120, 120, 1200] and out["households"].iloc[4] == 12
    assert out["households_source"].tolist() == ["given", "given", "given", "estimated", "given"]
    assert sorted(f.loc[f["type"] == "households_parsed", "feature_id"]) == ["b0", "b1", "b2"]
    assert list(f.loc[f["type"] == "households_invalid", "feature_id"]) == ["b3"]


def test_floors_written_as_text_are_read_or_said():
    """"6层", "６", "6F" are 6 floors (info); "六层" and "abc" are said and not used, so nothing is estimated from them."""
    out, f = assign_households(_buildings([None] * 5, floors=["6层", "６", "6F", "六层", "abc"]), metric=METRIC_EPSG)
    # 900 m² × 6 floors × residential share ÷ dwelling size, as for floors given as numbers
    ref, _ = assign_households(_buildings([None], floors=[6]), metric=METRIC_EPSG)
    assert out["households"].tolist()[:3] == [ref["households"].iloc[0]] * 3 and ref["households"].iloc[0] > 0
    assert out["households_source"].tolist() == ["estimated"] * 3 + ["missing"] * 2
    assert sorted(f.loc[f["type"] == "floors_parsed", "feature_id"]) == ["b0", "b1", "b2"]
    assert sorted(f.loc[f["type"] == "floors_invalid", "feature_id"]) == ["b3", "b4"]


def test_a_count_the_building_cannot_hold_is_kept_and_reported():
    # 900 m² footprints: 2 floors hold at most 180 households of 10 m²; without floors, 60 floors are assumed
    out, f = assign_households(_buildings([180, 181, 5_400, 5_401, 1_000_000_000], floors=[2, 2, None, None, None]),
                               metric=METRIC_EPSG)
    assert out["households"].tolist() == [180, 181, 5_400, 5_401, 1_000_000_000]  # kept as given
    flagged = f[f["type"] == "households_implausible"]
    assert sorted(flagged["feature_id"]) == ["b1", "b3", "b4"]
    assert (flagged["severity"] == "warning").all()
    assert "1000000000" in flagged.loc[flagged["feature_id"] == "b4", "message"].iloc[0]


def test_messages_show_numbers_as_written():
    _, f = assign_households(_buildings([-5, 2.5]), metric=METRIC_EPSG)
    messages = " ".join(f["message"])
    assert "value -5 is not" in messages and "value 2.5 is not a whole" in messages
    assert "np.float64" not in messages and "np.int64" not in messages


def test_floors_are_taken_from_the_height_where_none_are_given():
    """OpenStreetMap's ``height`` in metres: height ÷ 3 m floors, at least 1, where no floors are given;
    given floors win; a height written with its unit is read; a height no building has is not used."""
    b = _buildings([None] * 6, floors=[None, None, None, 4, None, None]).assign(
        height=pd.Series([18.0, "18 米", 1.0, 30.0, 5000.0, None], dtype=object))
    out, f = assign_households(b, metric=METRIC_EPSG)
    six, _ = assign_households(_buildings([None], floors=[6]), metric=METRIC_EPSG)
    one, _ = assign_households(_buildings([None], floors=[1]), metric=METRIC_EPSG)
    four, _ = assign_households(_buildings([None], floors=[4]), metric=METRIC_EPSG)
    h = out["households"].tolist()
    assert h[:4] == [six["households"].iloc[0]] * 2 + [one["households"].iloc[0], four["households"].iloc[0]]
    assert h[4:] == [0, 0] and out["households_source"].tolist()[4:] == ["missing"] * 2
    assert sorted(f.loc[f["type"] == "floors_from_height", "feature_id"]) == ["b0", "b1", "b2"]
    assert "6 floors taken from its height '18 米'" in " ".join(f["message"])


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "int64[pyarrow]", "double[pyarrow]"])
def test_nullable_number_columns_read_as_plain_numbers(dtype):
    # a frame after df.convert_dtypes(), or a GeoParquet written from one, holds pd.NA: it raised
    # "TypeError: boolean value of NA is ambiguous" out of gridgeo.divide instead of counting the households
    b = _buildings([40, None, None, -3], floors=[None, 6, None, None])
    b["households"] = pd.array([40, None, None, -3], dtype=dtype)
    b["floors"] = pd.array([None, 6, None, None], dtype=dtype)
    out, f = assign_households(b, metric=METRIC_EPSG)
    assert out["households"].tolist() == [40, 60, 0, 0]
    assert out["households_source"].tolist() == ["given", "estimated", "missing", "missing"]
    assert sorted(zip(f["type"], f["feature_id"])) == [
        ("households_invalid", "b3"), ("households_missing", "b2"), ("households_null", "b1")]


@pytest.mark.parametrize("values", [
    pd.Series([True, False, True]),  # a bool column (a GeoPackage or GeoJSON boolean field)
    pd.Series([True, None, False], dtype="boolean"),  # nullable booleans
    pd.Series([12, True, 30], dtype=object),  # a boolean among numbers
])
def test_households_given_as_booleans_are_refused_naming_the_column(values):
    """True/False were read as 1 and 0 households, "given": a flag column (is it residential?) mapped as
    households made a plan of 1-household buildings with no finding."""
    b = _buildings([None] * 3)
    b["households"] = values.to_numpy()
    with pytest.raises(InputError, match=r"^buildings: column 'households' holds True/False \(row \d: True\), not numbers of "
                                         r"households \(户数\); .*--columns buildings\.households=COLUMN"):
        assign_households(b, metric=METRIC_EPSG)


def test_floors_and_height_given_as_booleans_are_refused_naming_the_column():
    b = _buildings([None, None], floors=[True, False])
    with pytest.raises(InputError, match=r"^buildings: column 'floors' holds True/False \(row 0: True\), not numbers of floors"):
        assign_households(b, metric=METRIC_EPSG)
    b = _buildings([None, None])
    b["height"] = [False, True]
    with pytest.raises(InputError, match=r"^buildings: column 'height' holds True/False \(row 0: False\), not heights in metres"):
        assign_households(b, metric=METRIC_EPSG)
    # a CSV's column of nothing but TRUE/FALSE (Excel writes them so) is a boolean column too
    with pytest.raises(InputError, match=r"^buildings: column 'households' holds True/False \(row 1: 'FALSE'\)"):
        assign_households(_buildings([None, "FALSE", " true", ""]), metric=METRIC_EPSG)
    text = _buildings(["True", "12"])  # a word among counts is a word: a finding, as any other
    out, f = assign_households(text, metric=METRIC_EPSG)
    assert out["households_source"].tolist() == ["missing", "given"] and f["type"].tolist() == ["households_invalid"]


def test_a_column_of_nothing_but_words_is_refused_as_the_wrong_column():
    # a name or an address mapped as households: every building was estimated from its footprint, the plan
    # written, and the user's counts (in another column) never used
    with pytest.raises(InputError, match=r"^buildings: column 'households' holds no number \(3 values, e.g. '汉江小区', "
                                         r"'江汉路1号'\), not numbers of households \(户数\); .*buildings\.households=COLUMN$"):
        assign_households(_buildings(["汉江小区", "江汉路1号", "汉江小区", None]), metric=METRIC_EPSG)
    # floors or heights as words (building classes, as many registers keep them) are the estimate's inputs only:
    # findings, never a refusal, whatever the households; nor are placeholders for none or numbers in words refused
    out, f = assign_households(_buildings([12, 30, 24], floors=["多层", "高层", "多层"]), metric=METRIC_EPSG)
    assert out["households"].tolist() == [12, 30, 24]
    out, f = assign_households(_buildings([None] * 3, floors=["高层", "多层", "高层"]), metric=METRIC_EPSG)
    assert len(out) == 3 and len(f) >= 3  # each a finding
    for words in (["NULL", "NULL", "NULL"], ["-", "-", "-"], ["十二", "六", "八"]):
        out, f = assign_households(_buildings(words), metric=METRIC_EPSG)
        assert set(f["type"]) <= {"households_invalid", "households_null", "households_missing"}, words
    # one number among the words, or fewer than three words: each word is a finding, as before
    out, f = assign_households(_buildings(["汉江小区", "江汉路1号", "12户"]), metric=METRIC_EPSG)
    assert out["households_source"].tolist() == ["missing", "missing", "given"]
    assert f["type"].tolist().count("households_invalid") == 2
    out, f = assign_households(_buildings(["汉江小区", "江汉路1号"]), metric=METRIC_EPSG)
    assert f["type"].tolist() == ["households_invalid"] * 2


def test_cli_refuses_a_boolean_households_column_under_its_own_name(tmp_path, capsys):
    """The message names the column as the user's file has it (户数 read as households)."""
    from gridgeo.cli import main
    from gridgeo.datasets import get_path

    town = get_path("sample_town")
    b = gpd.read_file(town, layer="buildings").head(40)
    b = b.drop(columns=[c for c in ("households", "floors") if c in b.columns])
    b["户数"] = [i % 2 == 0 for i in range(len(b))]
    b.to_file(tmp_path / "b.gpkg", layer="buildings")
    args = ["partition", "--communities", str(town), "--communities-layer", "communities", "--streets", str(town),
            "--streets-layer", "streets", "--buildings", str(tmp_path / "b.gpkg"), "--out", str(tmp_path / "plan.gpkg"), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "column '户数' holds True/False (row 1: False)" not in err
    assert "column '户数' holds True/False (row 0: True)" in err and "Traceback" not in err
    assert not (tmp_path / "plan.gpkg").exists()


def test_approximate_floors_and_heights_are_read_and_a_height_no_building_has_is_said():
    """"约6层", "约18米", "18米左右" are read as 6 floors and 18 m (an estimate's inputs); a height that would be used
    but is no height in metres ("高层", -3, 5000) is said (``height_invalid``), not silently dropped."""
    b = _buildings([None] * 7, floors=["约6层", None, None, None, None, None, 3]).assign(
        height=pd.Series([None, "约18米", "18米左右", "高层", -3, 5000.0, "高层"], dtype=object))
    out, f = assign_households(b, metric=METRIC_EPSG)
    six, _ = assign_households(_buildings([None], floors=[6]), metric=METRIC_EPSG)
    assert out["households"].tolist()[:3] == [six["households"].iloc[0]] * 3
    assert out["households_source"].tolist() == ["estimated"] * 3 + ["missing"] * 3 + ["estimated"]
    assert list(f.loc[f["type"] == "floors_parsed", "feature_id"]) == ["b0"]
    assert sorted(f.loc[f["type"] == "floors_from_height", "feature_id"]) == ["b1", "b2"]
    bad = f[f["type"] == "height_invalid"]
    assert list(bad["feature_id"]) == ["b3", "b4", "b5"]  # b6 has floors: its height is not needed
    assert set(bad["severity"]) == {"warning"} and "'高层'" in bad.iloc[0]["message"]
    missing = f.loc[f["type"] == "households_missing", "message"]
    assert len(missing) == 3 and missing.str.contains("no height it can use").all()


def test_a_count_column_under_another_name_is_said_not_silently_ignored():
    """A planner's buildings with their counts in ``HU`` (text with the unit, nulls) and floors: nothing mapped the
    column, every count was estimated from footprint × floors, and no finding said so (the plan's households were
    the estimate's, the file's counts unread). Now one info finding names the column of whole numbers and the
    mapping; ids, codes and areas are no candidates, and a layer with no such column gets none."""
    b = _buildings([None, None, None], floors=[6, 3, 2]).drop(columns="households")
    b = b.assign(HU=pd.Series(["120户", None, "45"], dtype=object), OBJECTID=[1, 2, 3], Shape_Area=[900.0, 900.0, 900.0],
                 tile=[7, 7, 8], note=["a", "b", "c"])
    out, f = assign_households(b, metric=METRIC_EPSG)
    assert out["households_source"].tolist() == ["estimated"] * 3
    said = f[f["type"] == "households_estimated"]
    assert len(said) == 1 and said["severity"].iloc[0] == "info" and said["measure"].iloc[0] == 3
    assert ("3 of 3 counts estimated from footprint × floors ÷ 90 m²; column ['HU'] holds whole numbers: if one is the "
            "count of households, map it with --columns buildings.households=COLUMN") in said["message"].iloc[0]
    # mapped, the counts are read and nothing is said
    out, f = assign_households(b.rename(columns={"HU": "households"}), metric=METRIC_EPSG)
    assert out["households"].tolist() == [120, 30, 45] and "households_estimated" not in set(f["type"])
    # no column of counts beside the floors: estimating is the plan, nothing to say
    out, f = assign_households(b.drop(columns="HU"), metric=METRIC_EPSG)
    assert len(f) == 0
