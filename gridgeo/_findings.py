"""Findings: every rule problem, repair or exception the pipeline records.

A findings table is a GeoDataFrame with the columns of :data:`FINDING_COLUMNS`; the geometry is where
the problem is (may be empty for problems without a place). One helper builds them everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = ["FINDING_COLUMNS", "SEVERITIES", "make_findings", "concat_findings"]

#: columns of every findings table, in order (geometry last)
FINDING_COLUMNS = ["type", "severity", "layer", "community_code", "feature_id", "measure", "message"]
SEVERITIES = ("error", "warning", "info")


def make_findings(records: Iterable[Mapping[str, Any]], crs: Any = None) -> gpd.GeoDataFrame:
    """Build a findings GeoDataFrame from dicts with keys of FINDING_COLUMNS and ``geometry``.

    >>> f = make_findings([{"type": "invalid_geometry", "severity": "warning", "message": "repaired"}])
    >>> f[["type", "severity", "measure"]].to_dict("records")
    [{'type': 'invalid_geometry', 'severity': 'warning', 'measure': nan}]
    >>> len(make_findings([]))
    0
    """
    rows = [dict(r) for r in records]
    for r in rows:
        sev = r.get("severity", "warning")
        if sev not in SEVERITIES:
            msg = f"finding severity {sev!r} is not one of {SEVERITIES}"
            raise ValueError(msg)
    df = pd.DataFrame(rows, columns=[*FINDING_COLUMNS, "geometry"])
    df["severity"] = df["severity"].fillna("warning")
    df["measure"] = pd.to_numeric(df["measure"], errors="coerce").astype(float)
    for col in ("type", "severity", "layer", "community_code", "feature_id", "message"):
        df[col] = df[col].astype(object).where(df[col].notna(), None)
    geoms = np.empty(len(rows), dtype=object)
    geoms[:] = [r.get("geometry") for r in rows]
    df = df.drop(columns="geometry")
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(gpd.array.from_shapely(geoms), index=df.index, crs=crs), crs=crs)


def concat_findings(parts: Iterable[gpd.GeoDataFrame], crs: Any = None) -> gpd.GeoDataFrame:
    """Concatenate findings tables (reprojected to ``crs`` when given)."""
    frames = []
    for p in parts:
        if p is None or len(p) == 0:
            continue
        if crs is not None and p.crs is not None and p.crs != crs:
            p = p.to_crs(crs)
        frames.append(p[[*FINDING_COLUMNS, p.geometry.name]].rename_geometry("geometry") if p.geometry.name != "geometry" else p[[*FINDING_COLUMNS, "geometry"]])
    if not frames:
        return make_findings([], crs=crs)
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs if crs is not None else frames[0].crs)
