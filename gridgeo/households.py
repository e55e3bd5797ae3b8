"""Households per building (户数): given, or estimated from footprint area × floors ÷ dwelling size.

Every building leaves with an integer ``households`` and ``households_source``:

- ``given``: a valid number (≥ 0) from the input;
- ``estimated``: footprint area (m², metric CRS) × floors × ``rules.residential_share`` ÷
  ``rules.dwelling_m2``, rounded; non-residential buildings (``use`` set and not residential) get 0;
- ``missing``: nothing usable (a point without households, or a footprint without floors): 0 households.

Null, negative or non-numeric values are findings, never silently replaced.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._findings import make_findings
from .rules import Rules, get_rules

__all__ = ["assign_households", "RESIDENTIAL_USES"]

#: ``use`` values counted as residential (others estimate 0 households)
RESIDENTIAL_USES = frozenset({"residential", "house", "apartments", "residence", "住宅", "居住", "民居", "detached", "dormitory"})


def assign_households(
    buildings: gpd.GeoDataFrame, *, metric: Any, rules: Rules | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Return buildings with integer ``households`` and ``households_source``, plus findings.

    Parameters
    ----------
    buildings
        Normalised buildings (``households`` and ``floors`` may be missing or text).
    metric
        The metric CRS footprint areas are measured in.
    rules
        Supplies ``dwelling_m2`` and ``residential_share``.

    Examples
    --------
    >>> from shapely import box
    >>> b = gpd.GeoDataFrame({"households": [12, None, "x"], "floors": [None, 6, 3], "use": [None] * 3},
    ...                      geometry=[box(0, 0, 10, 10), box(0, 0, 30, 15), box(0, 0, 10, 9)], crs=4547)
    >>> out, f = assign_households(b, metric=4547)
    >>> out[["households", "households_source"]].values.tolist()
    [[12, 'given'], [30, 'estimated'], [3, 'estimated']]
    >>> list(f["type"])
    ['households_invalid']
    """
    rules = rules or get_rules()
    out = buildings.copy()
    raw = out["households"] if "households" in out else pd.Series(np.nan, index=out.index)
    num = pd.to_numeric(raw, errors="coerce")
    present = raw.notna() & (raw.astype(str).str.strip() != "")
    non_numeric = present & num.isna()
    negative = num < 0
    fractional = num.notna() & ~negative & (num != np.floor(num.fillna(0)))
    given = num.notna() & ~negative

    floors = pd.to_numeric(out["floors"], errors="coerce") if "floors" in out else pd.Series(np.nan, index=out.index)
    floors = floors.where(floors > 0)
    area = out.geometry.to_crs(metric).area.to_numpy()
    use = out["use"] if "use" in out else pd.Series(None, index=out.index)
    use_text = use.astype(object).where(use.notna(), None).map(lambda u: None if u is None else str(u).strip().lower())
    residential = use_text.map(lambda u: u is None or u in RESIDENTIAL_USES).to_numpy(dtype=bool)
    estimate = np.rint(area * floors.fillna(0).to_numpy() * rules.residential_share / rules.dwelling_m2)
    estimate = np.where(residential, estimate, 0)
    can_estimate = (floors.notna().to_numpy() & (area > 0)) | ~residential

    households = np.where(given, np.rint(num.fillna(0)), np.where(can_estimate, estimate, 0)).astype("int64")
    source = np.where(given, "given", np.where(can_estimate, "estimated", "missing"))
    out["households"] = households
    out["households_source"] = source

    records = []
    ids = out["building_id"] if "building_id" in out else pd.Series(out.index.astype(str), index=out.index)
    reps = out.geometry.representative_point()
    for mask, ftype, text in (
        (non_numeric | negative, "households_invalid", "households value {v!r} is not a number ≥ 0"),
        (fractional, "households_fractional", "households value {v!r} is not a whole number; rounded"),
        (~present & (source == "missing") & residential, "households_missing", "no households and no floors: counted as 0"),
    ):
        for i in np.flatnonzero(np.asarray(mask)):
            how = {"given": "kept", "estimated": f"estimated {households[i]} from footprint × floors", "missing": "counted as 0"}[source[i]]
            records.append(
                {
                    "type": ftype,
                    "severity": "warning",
                    "layer": "buildings",
                    "feature_id": str(ids.iloc[i]),
                    "measure": float(households[i]),
                    "message": f"building {ids.iloc[i]}: " + text.format(v=raw.iloc[i]) + ("" if ftype == "households_missing" else f"; {how}"),
                    "geometry": reps.iloc[i],
                }
            )
    return out, make_findings(records, crs=out.crs)
