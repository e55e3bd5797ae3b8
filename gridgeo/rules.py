"""Rule profiles (urban, rural, township) and rules files.

A :class:`Rules` object holds every bound, target, threshold and weight the pipeline uses. The built-in
profiles follow the source policy documents (DESIGN §1): urban base grids (网格) of 300–500 households
and small grids (小网格 / 居民小组) of 100–150; rural villages grouped at about 50 households.

Rules files are TOML. Keys are the field names of :class:`Rules`; a file may start from a profile
with ``profile = "rural"``. Unknown keys, wrong types and impossible bounds are errors.

Examples
--------
>>> r = get_rules("urban")
>>> (r.grid_min, r.grid_max, r.grid_target)
(300, 500, 400)
>>> get_rules("rural").grid_target
50
>>> get_rules("urban", grid_max=450).grid_max
450
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import RulesError

__all__ = ["Rules", "PROFILES", "get_rules", "load_rules", "rules_for_kind"]

ARTERIAL_CLASSES = ("motorway", "trunk", "primary", "secondary")


@dataclass(frozen=True)
class Rules:
    """Every setting of the partition, with the urban profile's values as defaults.

    Households bounds are inclusive. Lengths in metres, areas in square metres.
    """

    profile: str = "urban"
    # base grids (网格)
    grid_min: int = 300
    grid_max: int = 500
    grid_target: int = 400
    # small grids (小网格 / 居民小组)
    subgrid_min: int = 100
    subgrid_max: int = 150
    subgrid_target: int = 125
    # households estimated from footprints
    dwelling_m2: float = 90.0
    residential_share: float = 1.0
    # block cleaning (街巷定界)
    sliver_area_m2: float = 300.0
    sliver_width_m: float = 8.0
    # streets that are expensive to cross
    arterial_classes: tuple[str, ...] = ARTERIAL_CLASSES
    arterial_weight: float = 10.0
    minor_weight: float = 1.0
    street_snap_m: float = 3.0
    # footprints overlapping by at least this share of the smaller one are one indivisible unit (楼栋完整)
    footprint_overlap_share: float = 0.01
    # messy boundary data (村级界线): overlaps and gaps between communities narrower than this are
    # given to the neighbour sharing the longest boundary before partitioning (findings record them)
    boundary_tolerance_m: float = 2.0
    # validation: gap, overlap and outside pieces narrower than this are info, not errors (a layer
    # reprojected between degrees and metres leaves centimetre slivers along long edges)
    width_tolerance_m: float = 0.1
    # dedicated grids (专属网格)
    dedicated_min_households: int = 0
    # a unit (enterprise, institution) with this many employees or more is a dedicated grid of its own;
    # so is a site polygon of this area or more (gridgeo.dedicated)
    dedicated_min_employees: int = 300
    dedicated_min_site_area_m2: float = 30000.0
    # categories dedicated whatever their size from "category:employees" on (0: always)
    dedicated_categories: tuple[str, ...] = ("government:100", "hospital:100", "school:50", "market:0", "park:0")
    # small units of one category (or one parent) within this distance of each other are a cluster: one
    # dedicated grid when together they reach dedicated_min_employees or dedicated_min_site_area_m2
    dedicated_cluster_m: float = 150.0
    # a unit takes the part of its street block around its own buildings (the building it stands in or
    # nearest to, and the buildings without households, within this distance of a point unit, or the
    # buildings a site polygon covers) when the rest of the block holds households; 0: whole blocks
    dedicated_site_m: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check(self)

    def replace(self, **changes: Any) -> "Rules":
        """Return a copy with some settings changed (validated)."""
        return _build(dataclasses.asdict(self) | changes, source="replace()")

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "a dict") -> "Rules":
        """Rules from :meth:`to_dict` output (e.g. a plan's metadata), validated like a rules file.

        >>> Rules.from_dict(get_rules("rural").to_dict()) == get_rules("rural")
        True
        """
        return _build(values, source=source)

    def to_dict(self) -> dict[str, Any]:
        """Settings as a plain dict (for the plan metadata)."""
        d = dataclasses.asdict(self)
        d.pop("extra")
        d["arterial_classes"] = list(d["arterial_classes"])
        d["dedicated_categories"] = list(d["dedicated_categories"])
        return d


_FIELDS = {f.name: f for f in dataclasses.fields(Rules) if f.name != "extra"}

PROFILES: dict[str, dict[str, Any]] = {
    "urban": {},
    # township seat (乡镇政府所在地) follows the urban rule
    "township": {"profile": "township"},
    # rural villages (村): villager groups (村民小组), divided at about 50 households
    "rural": {
        "profile": "rural",
        "grid_min": 30,
        "grid_max": 80,
        "grid_target": 50,
        "subgrid_min": 10,
        "subgrid_max": 40,
        "subgrid_target": 25,
    },
}


def _check(r: Rules) -> None:
    problems = []
    for name in ("grid", "subgrid"):
        lo, hi, t = (getattr(r, f"{name}_{k}") for k in ("min", "max", "target"))
        if not (0 < lo <= t <= hi):
            problems.append(f"{name}_min <= {name}_target <= {name}_max with {name}_min > 0 (got {lo}, {t}, {hi})")
    if r.subgrid_max > r.grid_max:
        problems.append(f"subgrid_max ({r.subgrid_max}) must not exceed grid_max ({r.grid_max})")
    for name in ("dwelling_m2", "sliver_width_m", "arterial_weight", "minor_weight"):
        if not getattr(r, name) > 0:
            problems.append(f"{name} must be > 0 (got {getattr(r, name)!r})")
    for name in ("sliver_area_m2", "street_snap_m", "dedicated_min_households", "boundary_tolerance_m", "width_tolerance_m",
                 "dedicated_min_employees", "dedicated_min_site_area_m2", "dedicated_cluster_m", "dedicated_site_m"):
        if not getattr(r, name) >= 0:  # NaN too: every comparison with it is false
            problems.append(f"{name} must be >= 0 (got {getattr(r, name)!r})")
    problems += _dedicated_problems(r.dedicated_categories)
    if not 0 < r.footprint_overlap_share <= 1:
        problems.append(f"footprint_overlap_share must be in (0, 1] (got {r.footprint_overlap_share!r})")
    if not 0 < r.residential_share <= 1:
        problems.append(f"residential_share must be in (0, 1] (got {r.residential_share!r})")
    if problems:
        msg = "impossible rules: " + "; ".join(problems) + "; fix the rules file or option"
        raise RulesError(msg)


def dedicated_categories(r: Rules) -> dict[str, int]:
    """The rules' ``dedicated_categories`` as ``{category: least employees}``.

    >>> dedicated_categories(get_rules("urban"))["hospital"]
    100
    """
    out = {}
    for item in r.dedicated_categories:
        cat, _, n = item.partition(":")
        out[cat.strip()] = int(n) if n.strip() else 0
    return out


def _dedicated_problems(items: tuple[str, ...]) -> list[str]:
    from .dedicated import CATEGORIES

    bad = []
    for item in items:
        cat, _, n = item.partition(":")
        if cat.strip() not in CATEGORIES or (n.strip() and not n.strip().isdigit()):
            bad.append(item)
    if bad:
        return [f"dedicated_categories entries must be 'category:employees' with a category of {list(CATEGORIES)} "
                f"and a whole number (got {bad})"]
    return []


def _build(values: dict[str, Any], *, source: str) -> Rules:
    values = dict(values)
    values.pop("extra", None)
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        msg = (
            f"unknown rules key(s) {unknown} in {source}; valid keys: {sorted(_FIELDS)}"
        )
        raise RulesError(msg)
    clean: dict[str, Any] = {}
    for key, value in values.items():
        ftype = _FIELDS[key].type
        try:
            if ftype == "int":
                if isinstance(value, (bool, str)) or (isinstance(value, float) and not value.is_integer()):
                    raise TypeError
                clean[key] = int(value)
            elif ftype == "float":
                if isinstance(value, (bool, str)):
                    raise TypeError
                clean[key] = float(value)
            elif ftype == "str":
                if not isinstance(value, str):
                    raise TypeError
                clean[key] = value
            else:  # tuple[str, ...]
                if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                    raise TypeError
                clean[key] = tuple(value)
        except (TypeError, ValueError):
            msg = f"rules key {key!r} in {source} must be {ftype}, got {value!r}"
            raise RulesError(msg) from None
    return Rules(**clean)


def get_rules(profile: str = "urban", **overrides: Any) -> Rules:
    """Return a built-in profile (``urban``, ``township`` or ``rural``), optionally with overrides."""
    if profile not in PROFILES:
        msg = f"unknown rules profile {profile!r}; choose one of {sorted(PROFILES)} or give a .toml file"
        raise RulesError(msg)
    return _build(PROFILES[profile] | overrides, source=f"profile {profile!r}")


def load_rules(source: str | Path | Rules | dict[str, Any] | None = None) -> Rules:
    """Load rules from a profile name, a TOML file path, a dict of the keys a TOML file holds, or pass a
    :class:`Rules` through.

    A TOML file (or dict) may name ``profile = "rural"`` to start from that profile (default urban).

    >>> load_rules({"profile": "urban", "grid_min": 200, "grid_max": 400, "grid_target": 300}).grid_max
    400
    """
    if source is None:
        return get_rules("urban")
    if isinstance(source, Rules):
        return source
    if isinstance(source, dict):  # the keys of a rules TOML file, in Python
        data = dict(source)
        profile = data.pop("profile", "urban")
        if profile not in PROFILES:
            msg = f"unknown profile {profile!r} in the rules dict; choose one of {sorted(PROFILES)}"
            raise RulesError(msg)
        return _build(PROFILES[profile] | data, source="the rules dict")
    text = str(source)
    if text in PROFILES:
        return get_rules(text)
    path = Path(text)
    if not path.suffix.lower() == ".toml":
        msg = f"rules {text!r} is neither a profile {sorted(PROFILES)} nor a .toml file"
        raise RulesError(msg)
    if not path.exists():
        msg = f"rules file not found: {text}; give an existing .toml file or a profile {sorted(PROFILES)}"
        raise RulesError(msg)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        msg = f"rules file {text} is not valid TOML: {exc}; TOML files are UTF-8 text"
        raise RulesError(msg) from None
    data = data.get("rules", data) if isinstance(data.get("rules"), dict) else data
    profile = data.pop("profile", "urban")
    if profile not in PROFILES:
        msg = f"unknown profile {profile!r} in {text}; choose one of {sorted(PROFILES)}"
        raise RulesError(msg)
    return _build(PROFILES[profile] | data, source=str(path))


def rules_for_kind(base: Rules, kind: str) -> Rules:
    """The rules for a community of ``kind`` (urban, township, rural).

    A custom rules object is kept for urban and township communities; rural villages use the rural
    profile unless ``base`` already is a rural profile.
    """
    if kind == "rural" and base.profile != "rural":
        return get_rules("rural", dwelling_m2=base.dwelling_m2, residential_share=base.residential_share,
                         sliver_area_m2=base.sliver_area_m2, sliver_width_m=base.sliver_width_m,
                         street_snap_m=base.street_snap_m, boundary_tolerance_m=base.boundary_tolerance_m,
                         width_tolerance_m=base.width_tolerance_m)
    return base
