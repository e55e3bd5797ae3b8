"""Findings condensed for a terminal: counts per severity, a summary per type, the worst offenders."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .._findings import make_findings  # noqa: F401 - the doctests use it
from .layers import (
    FINDING_TYPES,
)


def severity_counts(findings: gpd.GeoDataFrame | pd.DataFrame) -> dict[str, int]:
    """Findings per severity, every severity present as a key.

    >>> severity_counts(make_findings([{"type": "gap", "severity": "error"}]))
    {'error': 1, 'warning': 0, 'info': 0}
    """
    counts = findings["severity"].value_counts() if len(findings) else pd.Series(dtype=int)
    return {s: int(counts.get(s, 0)) for s in ("error", "warning", "info")}


def has_errors(findings: gpd.GeoDataFrame) -> bool:
    """Whether any finding has severity ``error`` (the CLI then exits with code 1).

    >>> has_errors(make_findings([{"type": "gap", "severity": "warning"}]))
    False
    """
    return bool((findings["severity"] == "error").any())


_COUNTED = ("holes", "parts", "households")  # units said in the singular for one: "(1 hole)"


def summarize(findings: gpd.GeoDataFrame | pd.DataFrame, *, worst: int = 3) -> pd.DataFrame:
    """Counts per finding type and severity, total measure and the worst offenders of each.

    Parameters
    ----------
    findings
        A findings table (from :func:`validate_grids`).
    worst
        How many of the largest findings (by measure) to name per row.

    Returns
    -------
    DataFrame
        Columns ``type, severity, count, measure_total, unit, worst``, errors first, then in report
        order; ``measure_total`` only for areas and lengths (NaN otherwise); ``worst`` names the
        features with the largest measures (smallest shares), e.g. ``"A,B (12 m2); C,D (3.5 m2)"``,
        long id lists cut to ``"A,B,+3"``.

    Examples
    --------
    >>> f = make_findings([
    ...     {"type": "overlap", "severity": "error", "feature_id": "A,B", "measure": 12.0},
    ...     {"type": "overlap", "severity": "error", "feature_id": "C,D", "measure": 3.5},
    ...     {"type": "low_street_share", "severity": "warning", "feature_id": "A", "measure": 0.25}])
    >>> summarize(f).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'type': 'overlap', 'severity': 'error', 'count': 2, 'measure_total': 15.5, 'unit': 'm2',
      'worst': 'A,B (12 m2); C,D (3.5 m2)'},
     {'type': 'low_street_share', 'severity': 'warning', 'count': 1, 'measure_total': nan, 'unit': 'share',
      'worst': 'A (0.25 share)'}]
    >>> len(summarize(make_findings([])))
    0
    """
    cols = ["type", "severity", "count", "measure_total", "unit", "worst"]
    if len(findings) == 0:
        return pd.DataFrame(columns=cols)
    order = {t: i for i, t in enumerate(FINDING_TYPES)}
    sev_order = {"error": 0, "warning": 1, "info": 2}
    rows = []
    for (t, sev), grp in findings.groupby(["type", "severity"], sort=False, dropna=False):
        unit = FINDING_TYPES.get(t, ("", "", ""))[1]
        measured = grp.dropna(subset=["measure"])
        # shares are worst when smallest; everything else when largest
        top = measured.sort_values("measure", ascending=(unit == "share")).head(worst)
        named = "; ".join(f"{_short(fid)} ({m:.4g} {unit[:-1] if m == 1 and unit in _COUNTED else unit})".replace(" )", ")")
                          for fid, m in zip(top["feature_id"], top["measure"]))
        if not named:
            named = "; ".join(str(f) for f in grp["feature_id"].dropna().head(worst))
        # totals only where they mean something (areas, lengths); not for shares or households
        total = float(measured["measure"].sum()) if unit in ("m2", "m") else np.nan
        rows.append({"type": t, "severity": sev, "count": len(grp), "measure_total": total, "unit": unit, "worst": named})
    out = pd.DataFrame(rows, columns=cols)
    out["_o"] = [(sev_order.get(s, 9), order.get(t, 99)) for t, s in zip(out["type"], out["severity"])]
    return out.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def worst_offenders(findings: gpd.GeoDataFrame | pd.DataFrame, *, n: int = 10, layer: str = "grids") -> pd.DataFrame:
    """The features of ``layer`` with the most error findings (then warnings).

    Returns a DataFrame with ``feature_id, community_code, errors, warnings, types``.

    >>> f = make_findings([
    ...     {"type": "overlap", "severity": "error", "layer": "grids", "feature_id": "A,B", "measure": 12.0},
    ...     {"type": "multipart_grid", "severity": "error", "layer": "grids", "feature_id": "A", "measure": 2}])
    >>> worst_offenders(f).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'feature_id': 'A', 'community_code': None, 'errors': 2, 'warnings': 0, 'types': 'multipart_grid,overlap'},
     {'feature_id': 'B', 'community_code': None, 'errors': 1, 'warnings': 0, 'types': 'overlap'}]
    """
    cols = ["feature_id", "community_code", "errors", "warnings", "types"]
    sub = findings[(findings["layer"] == layer) & findings["feature_id"].notna()]
    rows: dict[str, dict] = {}
    for fid, comm, sev, t in zip(sub["feature_id"], sub["community_code"], sub["severity"], sub["type"]):
        for one in str(fid).split(","):
            r = rows.setdefault(one, {"feature_id": one, "community_code": None, "errors": 0, "warnings": 0, "types": set()})
            if r["community_code"] is None and isinstance(comm, str) and comm:  # any of its findings that names it
                r["community_code"] = comm
            r["errors"] += sev == "error"
            r["warnings"] += sev == "warning"
            r["types"].add(t)
    out = pd.DataFrame([{**r, "types": ",".join(sorted(r["types"]))} for r in rows.values()], columns=cols)
    if len(out) == 0:
        return out
    out = out.sort_values(["errors", "warnings", "feature_id"], ascending=[False, False, True])
    return out.head(n).reset_index(drop=True)


def _short(fid: Any, n: int = 2) -> str:
    """A feature id list cut to its first ``n`` ids: ``"A,B,+3"``."""
    if not fid:
        return "-"
    ids = str(fid).split(",")
    return ",".join(ids[:n] + ([f"+{len(ids) - n}"] if len(ids) > n else []))
