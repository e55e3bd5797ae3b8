"""Plain-text summaries of input files and plans (``gridgeo info``, ``gridgeo report``)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio

from ._errors import InputError
from ._text import counted
from .io import _M_WARNING, CSVLayerError, list_layers
from .plan import METADATA_TABLE, Plan

__all__ = ["describe", "plan_summary", "quality_report"]


def _households_table_line(df, p: Path) -> str:
    """A line saying how ``gridgeo partition --households`` would read a table keyed by building id (户数表,
    住户登记), or nothing when it is no such table."""
    from .household_table import KEY_NAMES, _below_title, table_kind

    try:
        key, _, _, _, kind = table_kind(_below_title(df, KEY_NAMES), p.name)
    except InputError:
        return ""
    return f"\n    a households table (户数表) by {key}, {kind}: give it beside the buildings with --households {p.name}"


def describe(path: str | Path) -> str:
    """Summarise any GDAL-readable file, GeoParquet, CSV or plan: layers, counts, CRS, households, findings."""
    p = Path(path)
    if not p.exists():
        msg = f"file not found: {path}; check the path"
        raise InputError(msg)
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".geoparquet", ".csv", ".txt"):
        # read without read_layer's checks: a summary shows a missing CRS or an empty layer, it does not refuse them
        from .io import _read_csv

        if suffix in (".csv", ".txt"):
            try:
                gdf = _read_csv(p, name=p.stem, crs=None, encoding=None)
            except CSVLayerError as exc:
                # a table the partition would not read as features (a roster; events with bad coordinates, which
                # `gridgeo locate` answers row by row): summarised as the table it is, with what is wrong where (not
                # the partition's fix: info describes); text that does not decode and an empty file are the
                # reader's one-line errors (InputError, not caught)
                from ._csv import read_csv_text

                df = read_csv_text(p, what=p.stem, option=f"--encoding {p.stem}={{}}", by_line=True)
                why = exc.problem
                return (f"{p}: {counted(1, 'layer')}\n  {p.stem}: {counted(len(df), 'row')}, not read as features: "
                        f"{why}\n    columns: {list(df.columns)}{_households_table_line(df, p)}")
        else:
            import geopandas as gpd

            try:
                gdf = gpd.read_parquet(p)
            except Exception as exc:  # noqa: BLE001
                msg = f"cannot read {path} as GeoParquet ({exc}); give a GeoParquet file with a geometry column"
                raise InputError(msg) from None
        return f"{p}: {counted(1, 'layer')}\n" + _layer_line(p.stem, gdf)
    try:
        layers = list_layers(p)
    except Exception as exc:  # noqa: BLE001
        if p.is_dir():  # a folder `gridgeo export` wrote (one file a layer): each file summarised
            return _describe_folder(p)
        msg = f"cannot read {path}: {exc}; give a GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet or CSV"
        raise InputError(msg) from None
    names = [str(n) for n in layers[:, 0]]
    if METADATA_TABLE in names:
        plan = Plan.read(p)
        if "stage" in plan.metadata:
            return plan_summary(plan, path=p)
        # layers gridgeo wrote that make no plan (`gridgeo diff --out`): described as the layers they are
        names = [n for n in names if n != METADATA_TABLE]
    lines = [f"{p}: {counted(len(names), 'layer')}"]
    for name in names:
        note = ""
        if suffix in (".shp", ".dbf"):  # its text as partition reads it: GB18030 without .cpg, names cut mid-character
            from .io import _read_ogr

            gdf = _read_ogr(p, layer=None, name=p.stem, encoding=None)
        else:
            gdf, note = _read_text_layer(p, name)
        lines.append(_layer_line(name, gdf) + note)
    return "\n".join(lines)


def _read_text_layer(p: Path, name: str) -> tuple[Any, str]:
    """A layer of ``p`` and, when its text is not UTF-8 (a GeoJSON saved in GBK), a line saying in which encoding it
    was read and how the other commands read it; an error to save it as UTF-8 when no common encoding decodes it."""
    def read(encoding: str | None) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_M_WARNING)
            return pyogrio.read_dataframe(p, layer=name, **({"encoding": encoding} if encoding else {}))

    try:
        return read(None), ""
    except UnicodeError as exc:
        reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
        for enc in ("gb18030", "big5"):
            try:
                gdf = read(enc)
            except UnicodeError:
                continue
            return gdf, (f"\n    text: not UTF-8 ({reason}); read as {enc} here, and by the other commands with "
                         f"--encoding LAYER={enc}")
        msg = (f"{p}: layer {name!r}: its text is not UTF-8 ({reason}), nor GB18030 or Big5; save it again with UTF-8 "
               "text (QGIS: Export, Encoding UTF-8)")
        raise InputError(msg) from None


def _describe_folder(p: Path) -> str:
    """A folder of layer files (GeoJSON, GeoParquet, FlatGeobuf, CSV … as ``gridgeo export`` writes them): each one."""
    from .io import _SUFFIXES

    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in _SUFFIXES)
    if not files:
        msg = f"{p} is a folder holding no GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet or CSV file; give a file"
        raise InputError(msg)
    return "\n".join([f"{p}: a folder of {counted(len(files), 'file')}", *(describe(f) for f in files)])


def _layer_line(name: str, gdf: Any) -> str:
    crs = getattr(gdf, "crs", None)
    geom = ", ".join(sorted(gdf.geom_type.dropna().unique())) if hasattr(gdf, "geom_type") else "no geometry"
    text = f"  {name}: {counted(len(gdf), 'feature')} ({geom or 'empty'}); CRS {crs.to_string() if crs else 'none'}"
    if hasattr(gdf, "geom_type"):  # null or empty shapes, which an input layer may not hold (partition refuses them)
        shapes = gdf.geometry
        bare = shapes.isna() | shapes.is_empty
        if bare.any():
            rows = [str(i) for i in gdf.index[bare.to_numpy()][:5]]
            text += (f"; {counted(int(bare.sum()), 'feature')} without geometry (rows {', '.join(rows)}"
                     f"{' …' if bare.sum() > 5 else ''})")
    from .io import COLUMN_ALIASES

    # the count as partition reads it: under 户数 and the other aliases, "120户" and "约80户" read as numbers
    named = [c for c in ("households", *COLUMN_ALIASES["buildings"]["households"]) if c in gdf.columns]
    if named and (named[0] == "households" or len(named) == 1):
        from .households import _WITH_UNIT, _numeric, _read_text

        raw = gdf[named[0]]
        hh = _read_text(raw, _numeric(raw), _WITH_UNIT, approx=True)[0]
        text += f"; households {int(hh.sum()):,}" + (f" (column {named[0]})" if named[0] != "households" else "")
        if hh.isna().any():
            text += f" ({int(hh.isna().sum())} missing)"
    cols = [c for c in gdf.columns if c != getattr(gdf, "geometry", pd.Series()).name and c != "geometry"]
    text += f"\n    columns: {cols}"
    if {"status", "old_codes", "new_codes"} <= set(cols):  # the grid changes `gridgeo diff --out` writes
        from .diff import DIFF_STATUSES

        counts = gdf["status"].value_counts()
        text += "\n    grid changes (gridgeo diff): " + ", ".join(f"{s} {int(counts.get(s, 0)):,}" for s in DIFF_STATUSES)
    return text


def plan_summary(plan: Plan, *, path: str | Path | None = None) -> str:
    """Layers, counts, households and findings of a plan, plus its quality table when partitioned."""
    meta = plan.metadata
    lines = [f"gridgeo plan{' ' + str(path) if path else ''} (gridgeo {meta.get('gridgeo_version', '?')}, stage {meta.get('stage', '?')}, computed in {meta.get('metric_crs', '?')})"]
    for name, gdf in plan.layers.items():
        crs = gdf.crs.to_string() if gdf.crs else "none"
        extra = ""
        if "households" in gdf.columns and name in ("communities", "blocks", "grids", "subgrids", "buildings"):
            extra = f", {int(gdf['households'].sum()):,} households"
        lines.append(f"  {name:<12} {counted(len(gdf), 'feature'):>16}{extra} ({crs})")
    counts = meta.get("counts", {})
    if counts.get("households_estimated"):
        lines.append(f"  households estimated from footprint × floors: {counts['households_estimated']:,}")
    if counts.get("buildings_outside_communities"):
        lines.append(f"  buildings outside every community (kept, reported): {counts['buildings_outside_communities']:,}")
    if "findings" in plan.layers and len(plan.layers["findings"]):
        f = plan.layers["findings"]
        tab = f.groupby(["severity", "type"]).size().rename("count").reset_index()
        lines.append("  findings:")
        lines.extend(f"    {r.severity:<8} {r.type:<34} {r.count:>6,}" for r in tab.itertuples())
    else:
        lines.append("  findings: none")
    if "validation" in meta:
        v = meta["validation"]
        line = (f"  gridgeo validate (run before writing): {counted(v.get('error', 0), 'error')}, "
                f"{counted(v.get('warning', 0), 'warning')}, {v.get('info', 0):,} info")
        if v.get("error_types"):
            line += " (errors: " + ", ".join(f"{t} {n:,}" for t, n in v["error_types"].items()) + ")"
        lines.append(line)
    if "quality" in meta:
        lines.append(quality_report(plan))
    return "\n".join(lines)


def quality_report(plan: Plan) -> str:
    """The quality figures (DESIGN §5) stored in the plan metadata, as a table."""
    from .partition.metrics import format_quality
    from .plan import stored_quality

    text = format_quality(stored_quality(plan))
    if "units" in plan.layers:
        from .dedicated import format_units

        text += "\n" + format_units(plan.layers["units"], plan.layers.get("grids"))
    return text
