"""Rule profiles, overrides, TOML rules files and their validation (gridgeo.rules)."""

from __future__ import annotations

import dataclasses

import pytest

from gridgeo import InputError, RulesError
from gridgeo.rules import PROFILES, Rules, get_rules, load_rules, rules_for_kind


def test_urban_profile_follows_policy():
    r = get_rules("urban")
    assert (r.grid_min, r.grid_target, r.grid_max) == (300, 400, 500)
    assert (r.subgrid_min, r.subgrid_target, r.subgrid_max) == (100, 125, 150)
    assert r.dwelling_m2 == 90.0
    assert (r.sliver_area_m2, r.sliver_width_m) == (300.0, 8.0)
    assert r.profile == "urban"
    assert Rules() == r


def test_rural_and_township_profiles():
    rural = get_rules("rural")
    assert rural.profile == "rural"
    assert rural.grid_target == 50
    assert rural.grid_min < 50 < rural.grid_max
    town = get_rules("township")
    assert town.profile == "township"
    # the township seat follows the urban rule
    assert (town.grid_min, town.grid_max) == (300, 500)


def test_profiles_are_all_valid():
    assert set(PROFILES) == {"urban", "rural", "township"}
    for name in PROFILES:
        assert get_rules(name).profile == name


def test_overrides_and_replace():
    r = get_rules("urban", grid_max=450, dwelling_m2=80)
    assert r.grid_max == 450
    assert r.dwelling_m2 == 80.0 and isinstance(r.dwelling_m2, float)
    r2 = r.replace(grid_min=320)
    assert (r2.grid_min, r2.grid_max) == (320, 450)
    assert r.grid_min == 300  # the original is unchanged (frozen)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.grid_min = 1  # type: ignore[misc]


def test_integral_float_accepted_for_int():
    assert get_rules(grid_max=450.0).grid_max == 450
    assert isinstance(get_rules(grid_max=450.0).grid_max, int)


def test_to_dict_is_plain():
    d = get_rules("rural").to_dict()
    assert d["profile"] == "rural"
    assert isinstance(d["arterial_classes"], list)
    assert "extra" not in d
    # round trip through the dict gives the same rules
    assert get_rules(d["profile"], **{k: v for k, v in d.items() if k != "profile"}) == get_rules("rural")


def test_unknown_profile():
    with pytest.raises(RulesError, match=r"unknown rules profile 'suburban'.*\['rural', 'township', 'urban'\]"):
        get_rules("suburban")


def test_rules_error_is_input_error_and_value_error():
    with pytest.raises(InputError):
        get_rules("nope")
    with pytest.raises(ValueError):
        get_rules("nope")


def test_unknown_override_key():
    with pytest.raises(RulesError, match=r"unknown rules key\(s\) \['grid_maximum'\].*valid keys: .*'grid_max'"):
        get_rules("urban", grid_maximum=450)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"grid_min": 600}, r"grid_min <= grid_target <= grid_max .*got 600, 400, 500"),
        ({"grid_min": 0}, r"grid_min > 0"),
        ({"subgrid_min": 200, "subgrid_target": 200, "subgrid_max": 180}, r"subgrid_min <= subgrid_target <= subgrid_max"),
        ({"subgrid_max": 600, "subgrid_target": 550, "subgrid_min": 500}, r"subgrid_max \(600\) must not exceed grid_max \(500\)"),
        ({"dwelling_m2": 0}, r"dwelling_m2 must be > 0 \(got 0.0\)"),
        ({"sliver_width_m": -1}, r"sliver_width_m must be > 0"),
        ({"sliver_area_m2": -5}, r"sliver_area_m2 must be >= 0"),
        ({"residential_share": 1.5}, r"residential_share must be in \(0, 1\] \(got 1.5\)"),
        ({"residential_share": 0}, r"residential_share must be in \(0, 1\]"),
    ],
)
def test_impossible_bounds(overrides, match):
    with pytest.raises(RulesError, match="impossible rules: .*" + match):
        get_rules("urban", **overrides)


def test_impossible_bounds_reports_all_problems_at_once():
    with pytest.raises(RulesError) as info:
        get_rules("urban", grid_min=600, dwelling_m2=-1)
    text = str(info.value)
    assert "grid_min <= grid_target" in text and "dwelling_m2 must be > 0" in text


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("grid_max", "500", r"rules key 'grid_max' in profile 'urban' must be int, got '500'"),
        ("grid_max", 450.5, r"'grid_max' .* must be int, got 450.5"),
        ("grid_max", True, r"'grid_max' .* must be int, got True"),
        ("dwelling_m2", "big", r"'dwelling_m2' .* must be float, got 'big'"),
        ("dwelling_m2", False, r"'dwelling_m2' .* must be float"),
        ("dwelling_m2", "90", r"'dwelling_m2' .* must be float, got '90'"),
        ("arterial_classes", "primary", r"'arterial_classes' .* must be tuple\[str, \.\.\.\], got 'primary'"),
        ("arterial_classes", ["primary", 2], r"'arterial_classes' .* must be tuple"),
    ],
)
def test_wrong_type(key, value, match):
    with pytest.raises(RulesError, match=match):
        get_rules("urban", **{key: value})


def test_load_rules_passes_through():
    r = get_rules("rural")
    assert load_rules(r) is r
    assert load_rules(None) == get_rules("urban")
    assert load_rules("township") == get_rules("township")


def test_load_rules_toml_with_profile(tmp_path):
    path = tmp_path / "village.toml"
    path.write_text('profile = "rural"\ngrid_max = 70\ndwelling_m2 = 120\n', encoding="utf-8")
    r = load_rules(path)
    assert r.profile == "rural"
    assert r.grid_max == 70
    assert r.grid_target == 50  # from the rural profile
    assert r.dwelling_m2 == 120.0
    # the same as a str path
    assert load_rules(str(path)) == r


def test_load_rules_toml_default_profile_and_rules_table(tmp_path):
    path = tmp_path / "city.toml"
    path.write_text("[rules]\ngrid_min = 320\narterial_classes = ['primary', 'trunk']\n", encoding="utf-8")
    r = load_rules(path)
    assert r.profile == "urban"
    assert r.grid_min == 320
    assert r.arterial_classes == ("primary", "trunk")


def test_load_rules_unknown_key_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("grid_maxx = 450\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"unknown rules key\(s\) \['grid_maxx'\] in .*bad\.toml; valid keys"):
        load_rules(path)


def test_load_rules_impossible_bounds_in_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("grid_min = 500\ngrid_max = 300\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"impossible rules: grid_min <= grid_target <= grid_max"):
        load_rules(path)


def test_load_rules_wrong_type_in_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('grid_max = "five hundred"\n', encoding="utf-8")
    with pytest.raises(RulesError, match=r"rules key 'grid_max' in .*bad\.toml must be int, got 'five hundred'"):
        load_rules(path)


def test_load_rules_unknown_profile_in_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('profile = "suburban"\n', encoding="utf-8")
    with pytest.raises(RulesError, match=r"unknown profile 'suburban' in .*bad\.toml; choose one of \['rural', 'township', 'urban'\]"):
        load_rules(path)


def test_load_rules_invalid_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("grid_max = = 3\n", encoding="utf-8")
    with pytest.raises(RulesError, match=r"rules file .*bad\.toml is not valid TOML"):
        load_rules(path)


def test_load_rules_missing_file(tmp_path):
    with pytest.raises(RulesError, match=r"rules file not found: .*nope\.toml; give an existing \.toml file or a profile"):
        load_rules(tmp_path / "nope.toml")


def test_load_rules_neither_profile_nor_toml():
    with pytest.raises(RulesError, match=r"rules 'suburban' is neither a profile \['rural', 'township', 'urban'\] nor a \.toml file"):
        load_rules("suburban")


def test_rules_for_kind():
    urban = get_rules("urban", dwelling_m2=70)
    rural = rules_for_kind(urban, "rural")
    assert rural.profile == "rural"
    assert rural.grid_target == 50
    assert rural.dwelling_m2 == 70.0  # household estimation settings carried over
    assert rules_for_kind(urban, "urban") is urban
    assert rules_for_kind(urban, "township") is urban
    custom_rural = get_rules("rural", grid_max=60)
    assert rules_for_kind(custom_rural, "rural") is custom_rural


def test_wrong_type_for_profile_name():
    with pytest.raises(RulesError, match=r"rules key 'profile' in replace\(\) must be str, got 3"):
        get_rules("urban").replace(profile=3)


def test_load_rules_not_utf8(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes("# 规则\ngrid_max = 450\n".encode("gbk"))
    with pytest.raises(RulesError, match=r"rules file .*bad\.toml is not valid TOML: .*; TOML files are UTF-8 text"):
        load_rules(path)


@pytest.mark.parametrize("key", ["street_snap_m", "sliver_area_m2", "boundary_tolerance_m", "dedicated_cluster_m"])
def test_nan_is_refused_for_the_non_negative_rules(key):
    """``street_snap_m = nan`` (TOML has a nan literal; a pandas cell read as a setting) passed the ">= 0" check,
    since every comparison with NaN is false; it is refused like a negative value."""
    with pytest.raises(RulesError, match=rf"{key} must be >= 0 \(got nan\)"):
        get_rules("urban", **{key: float("nan")})
