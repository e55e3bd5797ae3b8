"""The command line: parses, calls one public function, writes. Bad input → one line, exit code 2.

    gridgeo --version
    gridgeo info PATH
    gridgeo blocks    --communities C --streets S --buildings B --out plan.gpkg
    gridgeo partition --communities C --streets S --buildings B --out plan.gpkg [--rules urban|rural|FILE.toml]
                      [--households 户数表.xlsx [--households-key 楼栋编号]]
    gridgeo report PLAN
    gridgeo validate GRIDS|COMMUNITIES [--communities C] [--buildings B] [--streets S] [--config TOML] [--report out.gpkg] [--repair fixed.gpkg]
    gridgeo diff OLD NEW [--out diff.gpkg]
    gridgeo export PLAN --format geojson|gpkg|shp|parquet|fgb|csv|kml --out PATH | --to postgresql://...
    gridgeo locate PLAN POINTS.csv --out OUT.csv [--coords gcj02] [--roster staff.csv]
    gridgeo rebalance GRIDS --communities C --streets S --buildings B --out plan.gpkg [--code-column COL] [--map changes.html]
    gridgeo unify LAYER1 LAYER2 ... --communities C --streets S --buildings B --out plan.gpkg [--jurisdiction J ...]
    gridgeo map PLAN --out site/ [--roster staff.csv] [--tiles osm|tianditu|amap|none] [--public] [--lang zh|en]
    gridgeo sign PLAN (--grid CODE | --all) --roster staff.csv --out signs/ [--format pdf|png] [--paper A4|A3]
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import Any

from . import __version__
from ._errors import GridgeoError, InputError
from ._face import CLI, cli_spelling
from ._text import counted

LAYER_OPTIONS = ("communities", "streets", "buildings", "villager_groups", "enterprises")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse's own convention)
        self.exit(2, f"gridgeo: error: {message}; see `{self.prog} --help`\n")


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inputs")
    for name in LAYER_OPTIONS:
        flag = name.replace("_", "-")
        g.add_argument(f"--{flag}", dest=name, metavar="PATH", help=f"{name.replace('_', ' ')} layer file")
        g.add_argument(f"--{flag}-layer", dest=f"{name}_layer", metavar="NAME", help=f"layer name inside the {flag} file")
        g.add_argument(f"--{flag}-datum", dest=f"{name}_datum", choices=("wgs84", "gcj02", "bd09"),
                       help=f"the {flag} layer was digitised in GCJ-02 (AMap, Tencent) or BD-09 (Baidu); converted to WGS-84")
    g.add_argument("--sample", action="store_true", help="use the bundled sample town for every layer not given")
    g.add_argument("--config", metavar="TOML", help="TOML file naming layer paths, layers, CRS, datums and column mappings")
    g.add_argument("--columns", action="append", default=[], metavar="LAYER.NAME=COLUMN",
                   help="map a canonical column to the file's column, e.g. communities.code=CUN_DM (repeatable; "
                        "rebalance, unify: grids.code=WGBM, grids.kind=COL for the grid layers, unify also by a layer's file stem)")
    g.add_argument("--no-shift-check", action="store_true",
                   help="skip the check for layers shifted 100–700 m against each other (GCJ-02/BD-09)")
    g.add_argument("--encoding", action="append", default=[], metavar="LAYER=ENCODING",
                   help="text encoding of a layer's attributes, e.g. buildings=gbk (rebalance: grids=gbk for GRIDS; unify: the layer's file stem, e.g. 综治网格=gbk)")
    g.add_argument("--crs", help="CRS of layers that define none, e.g. EPSG:4490")
    g.add_argument("--metric-crs", help="metric CRS to compute in (default: the CGCS2000 3° Gauss-Krüger zone)")
    g.add_argument("--rules", default=None, help="rules profile (urban, rural, township) or a .toml rules file")
    g.add_argument("--allow-outside", action="store_true",
                   help="keep going when more than half of a layer lies outside every community (kept as findings)")


def _cpus() -> int:
    """CPUs this process may run on (container quotas included)."""
    from .parallel import available_cpus

    return available_cpus()


def _workers(args: argparse.Namespace) -> int:
    """``--workers``, at least 1 and at most the CPUs this process may use (a one-line note when capped: more
    processes than CPUs only share them, each with its own memory); the CPUs when not given. Not capped with
    ``--scheduler``, whose cluster runs the work."""
    workers = getattr(args, "workers", None)
    if workers is None:
        return _cpus()
    if workers < 1:
        msg = f"--workers {workers} must be at least 1"
        raise InputError(msg)
    cpus = _cpus()
    if workers > cpus and not getattr(args, "scheduler", None):
        print(f"gridgeo: --workers {workers} is more than the {counted(cpus, 'CPU')} this process may use; "
              f"running {cpus} {'process' if cpus == 1 else 'processes'}", file=sys.stderr)
        return cpus
    return workers


def _add_households_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("households in a separate table (户数表)")
    g.add_argument("--households", metavar="TABLE",
                   help="CSV or Excel table of building id (楼栋编号) and households (户数), or a register of one row per "
                        "household (住户登记), joined to the buildings' building_id; its count wins where it lists a building")
    g.add_argument("--households-layer", metavar="SHEET", help="sheet inside the --households workbook")
    g.add_argument("--households-key", metavar="COLUMN",
                   help="the table's building id column (default: the one it has of 楼栋编号, 建筑编号, building_id ...)")


def _households_given(args: argparse.Namespace, given: dict[str, Any]) -> None:
    """``--households TABLE`` (with its sheet and key column) into the sources ``given``, winning over a config's
    ``[households]``; ``--households-key`` alone names the config table's key column."""
    from .io import LayerSource

    path, key = getattr(args, "households", None), getattr(args, "households_key", None)
    if path is not None:
        given["households"] = LayerSource(path, layer=args.households_layer)
    elif getattr(args, "households_layer", None) is not None and "households" in given:
        given["households"].layer = args.households_layer
    if (key is not None or getattr(args, "households_layer", None) is not None) and "households" not in given:
        flag = "--households-key" if key is not None else "--households-layer"
        msg = f"{flag} without --households TABLE; give the households table (户数表) too"
        raise InputError(msg)
    if key is not None:
        given["households"].columns["building_id"] = key


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="PLAN.gpkg", help="plan GeoPackage to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file (never an input)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress display (errors and the summary are still shown)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gridgeo", description="Divide communities (社区) into governance grids (网格化管理).")
    parser.add_argument("--version", action="version", version=f"gridgeo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("info", help="summarise any input file or plan: layers, counts, CRS, households, findings")
    p.add_argument("path")

    p = sub.add_parser("blocks", help="street-bounded blocks (街巷定界) with households, as a plan")
    _add_input_options(p)
    _add_households_options(p)
    _add_output_options(p)

    p = sub.add_parser("partition", help="base grids (网格) and small grids (小网格), as a plan")
    _add_input_options(p)
    _add_households_options(p)
    _add_output_options(p)
    p.add_argument("--workers", type=int, default=None,
                   help=f"processes for the per-community partition (default and most: the CPUs this process may use, "
                        f"{_cpus()}; 1 runs in this process; the plan is the same whatever the count)")
    p.add_argument("--previous", metavar="OLD_PLAN.gpkg", help="earlier plan whose grid codes are kept where unchanged (动态调整)")
    p.add_argument("--code-scheme", metavar="TOML",
                   help="grid code scheme: a TOML file with prefix, community_digits, grid_digits, subgrid_digits, "
                        "building_digits, dedicated_start (default 12+3+2 digits; with --previous, the old plan's)")
    p.add_argument("--from-scratch", action="store_true",
                   help="with --previous: re-divide whole communities (codes still carried where grids match)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="divide the communities on an existing Dask distributed cluster (e.g. tcp://10.0.0.5:8786) "
                        "instead of local processes; the plan is the same")
    p.add_argument("--resume", action="store_true",
                   help="take the communities an interrupted run of the same command already divided (kept beside "
                        "--out until the plan is written) instead of dividing them again")

    p = sub.add_parser("diff", help="grids unchanged, recounted, recoded, reshaped, split, merged, new and retired between two plans")
    p.add_argument("old", metavar="OLD_PLAN.gpkg")
    p.add_argument("new", metavar="NEW_PLAN.gpkg")
    p.add_argument("--out", metavar="DIFF.gpkg|DIFF.geojson", help="write every grid with its status (unchanged, recounted, recoded, reshaped, split, merged, new, retired) as a layer for review")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p.add_argument("--all", action="store_true", help="also list unchanged grids in the table")

    p = sub.add_parser("validate", help="check any grid layer or plan: coverage (无缝覆盖, 不交叉重叠, 不跨社区), buildings, codes")
    p.add_argument("grids", metavar="GRIDS", help="a gridgeo plan (.gpkg), any grid layer file, or a community layer (a 'code' column, no grid code: checked and repaired for overlaps and gaps between communities)")
    p.add_argument("--grids-layer", metavar="NAME", help="layer inside GRIDS (default: 'grids' in a plan)")
    p.add_argument("--grids-datum", choices=("wgs84", "gcj02", "bd09"), default=None,
                   help="GRIDS was drawn on AMap/Tencent (gcj02) or Baidu (bd09) maps; converted to WGS-84 (--repair "
                        "writes it so)")
    p.add_argument("--no-shift-check", action="store_true",
                   help="do not check GRIDS for a shift of 100–700 m against --communities (GCJ-02/BD-09)")
    for name in ("communities", "buildings", "streets", "subgrids"):
        p.add_argument(f"--{name}", metavar="PATH", help=f"{name} layer (default: the plan's own, when GRIDS is a plan)")
        p.add_argument(f"--{name}-layer", metavar="NAME", help=f"layer name inside the {name} file")
    p.add_argument("--config", metavar="TOML",
                   help="the TOML file partition, rebalance and unify take: its [grids] table (columns, datum, encoding, "
                        "layer) says how a grid layer GRIDS is read, its [communities], [buildings] and [streets] sections "
                        "are the layers checked against; an option given wins (its other sections are partition's)")
    p.add_argument("--code-column", default="grid_code", help="column holding grid codes (default grid_code)")
    p.add_argument("--community-column", default="community_code", help="column holding community codes (default community_code)")
    p.add_argument("--columns", action="append", default=[], metavar="LAYER.NAME=COLUMN",
                   help="map a canonical column of --communities, --buildings or --streets to the file's column, "
                        "e.g. communities.code=CUN_DM (repeatable), as for partition; of the grid layer: grids.code=WGBM, "
                        "grids.community=SQDM, grids.kind=COL")
    p.add_argument("--crs", help="CRS of layers that define none, e.g. EPSG:4490")
    p.add_argument("--rules", default=None, help="rules profile or .toml file for the household bounds")
    p.add_argument("--gap-width", type=float, default=1.0, metavar="M", help="near-coincident edge tolerance in metres (default 1)")
    p.add_argument("--width-tolerance", type=float, default=None, metavar="M",
                   help="gaps, overlaps and outside pieces narrower than this are info, not errors "
                        "(default: the rules' width_tolerance_m, 0.1 m)")
    p.add_argument("--boundary-tolerance", type=float, default=None, metavar="M",
                   help="for a community layer: gaps between communities narrower than this are found and repaired "
                        "(default: the rules' boundary_tolerance_m, 2 m)")
    p.add_argument("--report", metavar="OUT", help="write the findings to .gpkg, .geojson or .json")
    p.add_argument("--repair", metavar="FIXED.gpkg", help="write a repaired grid layer and its change log")
    p.add_argument("--force", action="store_true", help="overwrite existing --report/--repair files")

    p = sub.add_parser("report", help="print the quality figures of a plan")
    p.add_argument("plan")
    p.add_argument("--roster", metavar="STAFF.csv", help="also print the staffing table (配备) of this staff roster")

    p = sub.add_parser("export", help="write a plan for other systems: geojson, gpkg, shp, parquet, fgb, csv, kml, or PostGIS (one schema)")
    p.add_argument("plan", metavar="PLAN.gpkg")
    p.add_argument("--format", choices=("geojson", "gpkg", "shp", "parquet", "fgb", "csv", "kml"),
                   help="file format (default: from the suffix of --out)")
    p.add_argument("--out", metavar="PATH", help="a file (gpkg, kml, or one layer), else a folder of <layer>.<suffix> files")
    p.add_argument("--to", metavar="postgresql://user@host/db",
                   help="load into PostgreSQL/PostGIS instead (also postgresql:///db?host=/socket/dir)")
    p.add_argument("--schema", default="grid", help="with --to: the database schema to write (default grid)")
    p.add_argument("--replace", action="store_true", help="with --to: replace the tables of a previous export, atomically")
    p.add_argument("--layers", default=None, metavar="grids,subgrids,buildings,communities,units",
                   help="layers to write (default: every one the plan has)")
    p.add_argument("--coords", default="wgs84", choices=("wgs84", "cgcs2000", "gcj02", "bd09"),
                   help="coordinates: WGS-84 (default), CGCS2000, GCJ-02 (AMap/Tencent) or BD-09 (Baidu)")
    p.add_argument("--precision", type=int, default=None, metavar="N",
                   help="decimals of degrees (default 7 for geojson/csv/kml, all for the others)")
    p.add_argument("--encoding", default="utf-8", choices=("utf-8", "gbk"), help="text encoding of shp and csv (default utf-8)")
    p.add_argument("--csv-geometry", default="wkt", choices=("wkt", "none"), help="csv: a WKT column, or no geometry")
    p.add_argument("--force", action="store_true", help="replace an existing --out (never the plan)")

    p = sub.add_parser("locate", help="the grid, small grid, community (and worker) of each point of a CSV or Parquet file")
    p.add_argument("plan", metavar="PLAN.gpkg")
    p.add_argument("points", metavar="POINTS.csv|POINTS.parquet")
    p.add_argument("--out", required=True, metavar="OUT.csv|OUT.parquet", help="the points with their answer, same rows in the same order")
    p.add_argument("--lon-col", default=None, help="longitude column (default: lon, lng, longitude, x or 经度; without one, a WKT or "
                   "geometry column of points)")
    p.add_argument("--lat-col", default=None, help="latitude column (default: lat, latitude, y or 纬度)")
    p.add_argument("--coords", default="wgs84", choices=("wgs84", "cgcs2000", "gcj02", "bd09"),
                   help="datum of the points: wgs84 (GPS, also CGCS2000), gcj02 (AMap/Tencent), bd09 (Baidu)")
    p.add_argument("--roster", metavar="STAFF.csv", help="staff CSV (name, phone, grid_code or community_code, role): adds worker and phone")
    p.add_argument("--chunk-rows", type=int, default=1_000_000, help="rows read and answered at a time (default 1,000,000)")
    p.add_argument("--encoding", default=None, metavar="ENCODING",
                   help="text encoding of a CSV (default: UTF-8 when the whole file decodes as UTF-8, else GB18030)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    p = sub.add_parser("rebalance", help="rebalance an office's existing grid layer with the fewest changes: compliant grids kept with their codes")
    p.add_argument("grids", metavar="GRIDS", help="the office's grid layer (any OGR format), with its codes")
    p.add_argument("--grids-layer", metavar="NAME", help="layer inside GRIDS")
    p.add_argument("--grids-datum", choices=("wgs84", "gcj02", "bd09"), default=None,
                   help="GRIDS was drawn on AMap/Tencent (gcj02) or Baidu (bd09) maps; converted to WGS-84")
    p.add_argument("--code-column", default=None, metavar="COL",
                   help="column of GRIDS holding the grid codes (default: grid_code, code or WGBM, whichever exists)")
    _add_input_options(p)
    _add_output_options(p)
    p.add_argument("--code-scheme", metavar="TOML",
                   help="scheme of new codes (default: inferred from the office's codes, <prefix><community><sequence>)")
    p.add_argument("--workers", type=int, default=1, help=f"processes for the re-division (default 1, at most the CPUs this process may use, {_cpus()})")
    p.add_argument("--map", metavar="CHANGES.html", help="also write a before/after map of the changes (HTML)")
    p.add_argument("--lang", default="zh", choices=("zh", "en"), help="language of the --map page (default zh: Chinese)")

    p = sub.add_parser("unify", help="merge departmental grid layers into one (多网合一) with a crosswalk from every departmental grid")
    p.add_argument("layers", nargs="+", metavar="LAYER", help="two or more departmental grid layers (PATH or PATH:LAYERNAME)")
    p.add_argument("--code-column", action="append", default=[], metavar="COL",
                   help="code column of the layers (once for all, or once per layer in order; default: grid_code, code or WGBM)")
    p.add_argument("--layer-datum", action="append", default=[], metavar="NAME=DATUM",
                   help="a layer (named by its file stem) drawn on AMap/Tencent (gcj02) or Baidu (bd09) maps, e.g. "
                        "综治网格=gcj02; converted to WGS-84 (repeatable)")
    p.add_argument("--jurisdiction", action="append", default=[], metavar="PATH",
                   help="a jurisdiction layer (派出所辖区, street offices) no unified grid may cross (repeatable)")
    p.add_argument("--tolerance", type=float, default=2.0, metavar="M",
                   help="boundaries of different layers within this distance are one line (default 2 m)")
    _add_input_options(p)
    _add_output_options(p)
    p.add_argument("--code-scheme", metavar="TOML", help="grid code scheme of the unified grids (default 12+3+2 digits)")
    p.add_argument("--workers", type=int, default=1, help=f"processes for the partition (default 1, at most the CPUs this process may use, {_cpus()})")
    p.add_argument("--roster", metavar="STAFF.csv", help="also print the staffing table (配备) of this staff roster")

    # publishing (gridgeo.maps): the public grid map and the notice boards
    p = sub.add_parser("map", help="the public grid map (网格示意图) as a self-contained web site (folium/Leaflet)")
    p.add_argument("plan")
    _add_publish_options(p)
    p.add_argument("--out", required=True, metavar="SITE_DIR", help="folder to write (index.html, per-community pages, lib/)")
    p.add_argument("--tiles", default="osm", choices=("osm", "tianditu", "amap", "none"),
                   help="background: OpenStreetMap (default), Tianditu (needs --tianditu-token), AMap (grids shifted "
                        "to GCJ-02), none (offline)")
    p.add_argument("--tianditu-token", metavar="KEY", help="Tianditu browser key (or GRIDGEO_TIANDITU_TOKEN)")
    p.add_argument("--public", action="store_true", help="only what a public sign may show: no households, no building data")
    p.add_argument("--pages", default="auto", choices=("auto", "single", "community"),
                   help="one page, or one page per community plus an index (auto: per community above 300 grids)")
    p.add_argument("--no-buildings", action="store_true", help="leave the buildings layer out")
    p.add_argument("--overlay", action="append", default=[], metavar="NAME=PATH[:LAYER]",
                   help="an extra point or polygon layer (enterprises, hazards, cameras ...), counted per grid in the "
                        "popups, e.g. 企业=data/sample_town.gpkg:enterprises (repeatable)")
    p.add_argument("--simplify", type=float, default=0.5, metavar="M",
                   help="coverage-preserving simplification tolerance in metres (default 0.5; 0: none)")
    p.add_argument("--force", action="store_true", help="replace an existing site folder")

    p = sub.add_parser("sign", help="grid notice boards (公示牌) as PDF or PNG, one per grid")
    p.add_argument("plan")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--grid", action="append", metavar="CODE", help="the grid's code (repeatable)")
    which.add_argument("--all", action="store_true", help="one sign per grid: base grids and dedicated grids (专属网格, titled 专属网格公示牌)")
    which.add_argument("--community", action="append", metavar="CODE",
                       help="instead of signs: the printed grid map (网格示意图) of this community (repeatable)")
    _add_publish_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="folder for <grid_code>.pdf / .png")
    p.add_argument("--format", default="pdf", choices=("pdf", "png"), help="PDF (text searchable) or PNG, 300 dpi")
    p.add_argument("--paper", default="A4", choices=("A4", "A3"))
    p.add_argument("--unit", metavar="TEXT", help="responsible unit (default: the community's residents' committee)")
    p.add_argument("--one-file", action="store_true", help="all signs as pages of one signs.pdf (much faster for --all)")
    p.add_argument("--force", action="store_true", help="replace existing sign files")
    return parser


def _add_publish_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--roster", metavar="STAFF.csv", help="staff roster (name, phone, role, community_code or grid_code, "
                                                          "duties, photo); see docs/publishing.md")
    p.add_argument("--lang", default="zh", choices=("zh", "en"), help="language of the map or sign (default Chinese)")
    p.add_argument("--streets", metavar="PATH", help="streets to draw and name (default: the plan's streets layer)")
    p.add_argument("--streets-layer", metavar="NAME", help="layer name inside the --streets file")
    p.add_argument("--crs", help="CRS of a --streets file that defines none (a CSV, a Shapefile without .prj), e.g. EPSG:4490")
    p.add_argument("--supervision-phone", metavar="PHONE",
                   help="supervision phone (监督电话) where the roster names no supervisor (督导员)")


def _pairs(values: list[str], *, option: str, sep: str = "=") -> list[tuple[str, str]]:
    out = []
    for v in values:
        if sep not in v:
            msg = f"--{option} {v!r} must look like LAYER{sep}VALUE"
            raise InputError(msg)
        k, _, val = v.partition(sep)
        out.append((k.strip(), val.strip()))
    return out


def _column_options(values: list[str], layers: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``--columns LAYER.NAME=COLUMN`` (repeatable) as layer → canonical name → the file's column."""
    columns: dict[str, dict[str, str]] = {}
    for key, col in _pairs(values, option="columns"):
        layer, dot, canon = key.partition(".")
        if not dot:
            msg = f"--columns {key}={col}: name the layer, e.g. communities.code=CUN_DM (layers: {list(layers)})"
            raise InputError(msg)
        columns.setdefault(layer, {})[canon] = col
    return columns


def _config(args: argparse.Namespace, *, grids: bool = False) -> dict[str, Any]:
    """The layer sources of ``--config`` (:func:`gridgeo.io.load_config`; ``grids``: with its ``[grids]`` table), the
    file read once per command (and ``grids``) however many steps ask (``rebalance`` and ``unify`` ask for the table
    and the layers apart); a new copy each time, sources included, which the caller may change. Empty without
    ``--config``."""
    import copy

    from .io import load_config

    if not getattr(args, "config", None):
        return {}
    read = getattr(args, "_config_read", None)
    if read is None:
        read = args._config_read = {}
    if grids not in read:
        read[grids] = load_config(args.config, grids=grids)
    return copy.deepcopy(read[grids])


def _sources(args: argparse.Namespace, *, grids: bool = False) -> dict[str, Any]:
    """The layer sources named by the options, assembled by :func:`gridgeo.io.layer_sources` (as
    :func:`gridgeo.divide` assembles its arguments); ``grids``: the config may have a ``[grids]`` table (left out
    here: see :func:`_config_grids`)."""
    from .io import LayerSource, layer_sources

    given = _config(args, grids=grids)
    given.pop("grids", None)
    if args.sample:
        from .datasets import get_path

        sample = get_path("sample_town")
        for name in LAYER_OPTIONS:
            if getattr(args, name) is None and name not in given:
                given[name] = LayerSource(sample, layer=name)
    for name in LAYER_OPTIONS:
        path = getattr(args, name)
        if path is not None:
            given[name] = LayerSource(path, layer=getattr(args, f"{name}_layer"))
    _households_given(args, given)
    columns = _column_options(args.columns, LAYER_OPTIONS)
    datums = {name: getattr(args, f"{name}_datum") for name in LAYER_OPTIONS if getattr(args, f"{name}_datum") is not None}
    return layer_sources(given, columns=columns, encodings=dict(_pairs(args.encoding, option="encoding")),
                         datums=datums)


def _check_out(args: argparse.Namespace, inputs: list[Any] | None = None, *, option: str = "out",
               suffixes: tuple[str, ...] = (".gpkg",)) -> None:
    """Refuse an output path before any work: an input file (even with --force), an existing file
    without --force, a wrong suffix, a missing or read-only folder."""
    out = Path(getattr(args, option))
    flag = f"--{option}"
    for given in inputs or []:
        if given is not None and _same_file(out, Path(given)):
            msg = f"{flag} {out} is also an input file; write the result to another path (an input is never overwritten, not even with --force)"
            raise InputError(msg)
    if out.suffix.lower() not in suffixes:
        what = " (a GeoPackage plan)" if option == "out" and suffixes == (".gpkg",) else ""
        msg = f"{flag} {out} must end in {' or '.join(suffixes)}{what}"
        raise InputError(msg)
    if out.exists() and not args.force:
        msg = f"{out} exists; pass --force to overwrite it"
        raise InputError(msg)
    if out.is_dir():
        msg = f"{flag} {out} is a folder; give the path of a file"
        raise InputError(msg)
    if not out.parent.exists():
        msg = f"{flag} folder {out.parent} does not exist; create it first"
        raise InputError(msg)
    if not _writable(out.parent):
        msg = f"{flag} folder {out.parent} is not writable; choose another folder or fix its permissions"
        raise InputError(msg)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (a Shapefile also by its sidecars' stem)."""
    try:
        if a.exists() and b.exists() and a.samefile(b):
            return True
    except OSError:
        pass
    ra, rb = a.resolve(), b.resolve()
    return ra == rb or (rb.suffix.lower() == ".shp" and ra.with_suffix("") == rb.with_suffix("")
                        and ra.suffix.lower() in (".shp", ".dbf", ".shx", ".prj", ".cpg"))


def _writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried, as permissions alone do not tell for root)."""
    import os
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".gridgeo-write-test-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(tmp)
    return True


def _input_paths(args: argparse.Namespace, sources: dict[str, Any] | None = None) -> list[Any]:
    """Every file a command reads: layer sources, config, rules, code scheme, previous plan."""
    paths = [src.path for src in (sources or {}).values()]
    for attr in ("config", "previous", "code_scheme", "grids", "communities", "buildings", "streets", "subgrids", "old", "new"):
        value = getattr(args, attr, None)
        if isinstance(value, str):
            paths.append(value)
    rules = getattr(args, "rules", None)
    if isinstance(rules, str) and rules.lower().endswith(".toml"):
        paths.append(rules)
    return paths


def _cmd_info(args: argparse.Namespace) -> int:
    from .info import describe

    print(describe(args.path))
    return 0


def _cmd_build(args: argparse.Namespace, stage: str) -> int:
    from ._progress import Progress
    from .io import remove_stale_temporaries
    from .pipeline import build_plan
    from .plan import Plan, layer_order, write_gpkg_atomic

    sources = _sources(args)
    if stage == "partition" and "buildings" not in sources:
        msg = ("partition needs --buildings FILE (footprints or points with households or floors): without them every "
               "grid would hold 0 households; give it, or run `gridgeo blocks` for blocks only")
        raise InputError(msg)
    _check_out(args, _input_paths(args, sources))
    for tmp, pid in remove_stale_temporaries(args.out):
        print(f"gridgeo: removed {tmp}, left by a gridgeo run (process {pid}) killed while writing {args.out}",
              file=sys.stderr)
    previous = Plan.read(args.previous) if getattr(args, "previous", None) else None
    workers = _workers(args)
    # steps: reading each layer, checking, blocks, (dividing, up to 10 lines of communities divided, coding,) writing
    progress = Progress(len(sources) + (15 if stage == "partition" else 3), quiet=args.quiet)

    def step(name: str) -> None:
        _raise_if_interrupted()
        progress(name)

    if getattr(args, "resume", False) and previous is not None and not args.from_scratch:
        msg = ("--resume with --previous: a re-division (动态调整) keeps no finished communities to resume from; "
               "run it again without --resume (or with --from-scratch)")
        raise InputError(msg)
    checkpoint = _checkpoint(args) if stage == "partition" else None
    try:
        plan = build_plan(
            sources, stage=stage, rules=args.rules, crs=args.crs, metric=args.metric_crs,
            workers=workers, previous=previous, scheme=_code_scheme(args), shift_check=not args.no_shift_check,
            from_scratch=getattr(args, "from_scratch", False), allow_outside=args.allow_outside, progress=step,
            scheduler=getattr(args, "scheduler", None), checkpoint=checkpoint,
        )
        step(f"writing {args.out}")
        # the layers as stored (kept from the run's own validation): written, then summarised from memory
        # rather than read back from the file
        stored = plan.stored()
        write_gpkg_atomic(args.out, stored.layers, metadata=plan.metadata, force=args.force)
        stored = Plan({name: stored.layers[name] for name in layer_order(stored.layers)}, stored.metadata)
    finally:
        progress.close()
    if checkpoint is not None:
        stale = _RESUME["kept"] - checkpoint.taken
        if stale > 0:
            print(f"gridgeo: --resume: {counted(stale, 'community')} kept from an earlier run "
                  f"{'was' if stale == 1 else 'were'} divided with other inputs or settings and "
                  f"{'was' if stale == 1 else 'were'} divided again", file=sys.stderr)
        checkpoint.remove()
        _RESUME["checkpoint"] = None
    from .info import plan_summary

    findings = plan.layers.get("findings")
    if findings is not None and len(findings):
        for text in findings.loc[findings["type"] == "layer_shift_suspected", "message"]:
            print(f"gridgeo: warning: {text}", file=sys.stderr)
    print(plan_summary(stored, path=args.out))
    failed = findings["community_code"][findings["type"] == "community_failed"] if findings is not None else []
    if len(failed):
        shown = ", ".join(map(str, list(failed)[:5])) + (" …" if len(failed) > 5 else "")
        print(f"gridgeo: {counted(len(failed), 'community')} could not be divided ({shown}); "
              f"the others are in {args.out}, the errors in its findings (community_failed)", file=sys.stderr)
        return 1
    errors = plan.metadata.get("validation", {}).get("error", 0)
    if errors:
        print(f"gridgeo: the plan fails its own validation with {counted(errors, 'error')}; it is kept in {args.out} for "
              "inspection (findings layer) — please report this as a gridgeo bug", file=sys.stderr)
        return 1
    return 0


_RESUME: dict[str, Any] = {"checkpoint": None, "kept": 0}  # the checkpoint, and the results it held when --resume began


def _checkpoint(args: argparse.Namespace) -> Any:
    """Where finished communities are kept until the plan is written (beside --out), for ``--resume``."""
    from .parallel import Checkpoint

    out = Path(args.out)
    cp = Checkpoint(out.parent / f".{out.name}.communities")
    _RESUME["kept"] = len(cp) if args.resume else 0
    if not args.resume:
        cp.remove()  # a fresh run: results of an earlier interrupted one are not taken
    elif not _RESUME["kept"]:
        print(f"gridgeo: --resume: no communities kept from an earlier run in {cp.folder}; dividing all of them",
              file=sys.stderr)
    _RESUME["checkpoint"] = cp
    return cp


def _code_scheme(args: argparse.Namespace) -> Any:
    """The --code-scheme TOML as a dict (None when not given)."""
    from .io import load_code_scheme

    path = getattr(args, "code_scheme", None)
    return load_code_scheme(path, option="--code-scheme") if path else None


def _cmd_diff(args: argparse.Namespace) -> int:
    from . import api
    from .diff import summarize_diff
    from .plan import Plan

    if args.out:
        _check_out(args, _input_paths(args), suffixes=(".gpkg", ".geojson"))
    old, new = Plan.read(args.old), Plan.read(args.new)
    for label, plan, path in (("OLD", old, args.old), ("NEW", new, args.new)):
        if "grids" not in plan.layers:
            msg = f"{label} plan {path} has no grids layer; give plans written by `gridgeo partition`"
            raise InputError(msg)
    diff = api.diff(old, new)
    summary = summarize_diff(diff)
    print(f"grid changes {args.old} -> {args.new}")
    print(summary.to_string(index=False))
    changed = diff if args.all else diff[diff["status"] != "unchanged"]
    if len(changed):
        cols = [c for c in ("community_code", "status", "grid_code", "old_codes", "new_codes", "households_before", "households_after") if c in changed.columns]
        print()
        print(changed[cols].to_string(index=False))
    if args.out:
        _write_layer_atomic(diff, Path(args.out), layer="grid_diff", force=args.force)
        print(f"wrote {counted(len(diff), 'row')} to {args.out}")
    return 0


def _write_layer_atomic(gdf: Any, out: Path, *, layer: str, force: bool) -> None:
    from .plan import to_storage, write_gpkg_atomic

    if out.suffix.lower() == ".gpkg":
        write_gpkg_atomic(out, {layer: to_storage(gdf)}, force=force)
        return
    from .io import atomic_write, write_geojson

    # the layer named, else GDAL names it after the temporary file (".d-72otp98q") that other systems then show
    atomic_write(out, lambda tmp: write_geojson(to_storage(gdf), tmp, layer=layer))


def _cmd_validate(args: argparse.Namespace) -> int:
    from . import api
    from .io import LayerSource
    from .plan import Plan
    from .validate import COVERAGE_TYPES, has_errors, summarize, worst_offenders, write_findings, write_repair

    for option, suffixes in (("report", (".gpkg", ".geojson", ".json")), ("repair", (".gpkg",))):
        if getattr(args, option):
            _check_out(args, _input_paths(args, _config(args, grids=True)), option=option, suffixes=suffixes)
    path = Path(args.grids)
    columns = api._column_maps(_column_options(args.columns, ("communities", "buildings", "streets", "grids")))  # refused first
    table = _validate_config_grids(args, path, columns)
    # a plan (checked with its own layers, rules and code scheme, in the CRS it was computed in) or a layer
    # --crs is the CRS of layers that define none (as for partition): a layer with its own CRS keeps it
    target = api.read_grids(LayerSource(path, layer=args.grids_layer, datum=args.grids_datum, encoding=table.encoding),
                            crs=args.crs)
    is_plan = isinstance(target, Plan)
    if is_plan and args.grids_datum:
        msg = f"--grids-datum {args.grids_datum}: {path} is a gridgeo plan, stored in CGCS2000; give the option for a grid layer drawn on a web map"
        raise InputError(msg)
    _grid_column_args(args, columns.get("grids"))
    if not is_plan and _is_community_layer(target, args, columns):
        return _validate_communities(target, args, columns)
    config = _config(args, grids=True)  # the layers checked against, where no option names them
    given = {name: LayerSource(getattr(args, name), layer=getattr(args, f"{name}_layer")) if getattr(args, name)
             else config[name] for name in ("communities", "buildings", "streets", "subgrids")
             if getattr(args, name) or name in config}
    carried = {} if is_plan else {k: v for k, v in api.companion_layers(LayerSource(path, layer=args.grids_layer)).items()
                                  if k not in given}
    if carried:  # an export of a plan: checked against the layers it carries, as a plan is against its own
        where = sorted({str(Path(v.path) / v.layer) if Path(v.path).is_dir() and v.layer else
                        f"{v.path} layer {v.layer!r}" if v.layer else str(v.path) for v in carried.values()})
        print(f"checked against the {', '.join(carried)} carried beside the grids ({'; '.join(where)}); "
              "give --communities, --subgrids or --buildings to check against others")
        given.update(carried)
    if args.repair and "communities" not in given and "communities" not in carried and not (is_plan and "communities" in target.layers):
        msg = "--repair needs the communities (to clip grids and find gaps); pass --communities PATH"
        raise InputError(msg)
    kwargs = {"code_column": args.code_column, "community_column": args.community_column, "gap_width_m": args.gap_width,
              "width_tolerance_m": args.width_tolerance, "columns": columns}
    findings = api.validate(target, **given, rules=args.rules, crs=args.crs, shift_check=not args.no_shift_check, **kwargs)
    for text in findings.loc[findings["type"] == "layer_shift_suspected", "message"]:
        print(f"gridgeo: warning: {text}", file=sys.stderr)
    hint = None if is_plan else api.repeated_community_codes(target, code_column=args.code_column, others=tuple(given.values()))
    if hint is not None:
        print(f"note: {path} is checked as a grid layer (it has no {args.code_column!r} column); {hint}", file=sys.stderr)
    n = len(target.grids if is_plan else target)
    if len(findings) == 0:
        print(f"{path}: {counted(n, 'grid')}, clean: no findings")
    else:
        print(f"{path}: {counted(n, 'grid')}, {counted(len(findings), 'finding')}")
        print(summarize(findings).to_string(index=False))
        worst = worst_offenders(findings, n=10)
        if len(worst):
            print("\nworst offenders:")
            print(worst.to_string(index=False))
    if args.report:
        write_findings(findings, args.report, force=args.force)
        print(f"findings written to {args.report}")
    if args.repair:
        communities = given.get("communities")
        fixed, log = api.repair(target, communities=communities, code_column=args.code_column,
                                community_column=args.community_column, gap_width_m=args.gap_width, crs=args.crs,
                                columns=kwargs["columns"])
        # what is left, checked as the repaired layer is written (a plan's: back in its metric CRS)
        if is_plan:
            own = {k: target.layers[k] for k in ("communities",) if k in target.layers}
            fixed_plan = Plan({"grids": fixed, **own}, {"metric_crs": target.metadata.get("metric_crs")})
            after = api.validate(fixed_plan, communities=communities, crs=args.crs, **kwargs)
        else:
            after = api.validate(fixed, communities=communities, crs=args.crs, shift_check=False, **kwargs)
        write_repair(fixed, log, args.repair, force=args.force)
        left = int(after["type"].isin(list(COVERAGE_TYPES)).sum())
        print(f"repaired layer written to {args.repair}: {counted(len(log), 'change')} logged, {counted(left, 'coverage finding')} left")
    return 1 if has_errors(findings) else 0


def _validate_config_grids(args: argparse.Namespace, path: Path, columns: dict[str, dict[str, str]]) -> Any:
    """``validate --config``'s ``[grids]`` table (:func:`_config_grids`) taken into ``args`` and ``columns`` where no
    option gives the key (``--grids-layer``, ``--grids-datum``, ``--code-column``, ``--community-column``,
    ``--columns grids.*``); a gridgeo plan given as GRIDS is read with its own columns: the table is left, said in a
    note. Returns the table (its ``encoding`` is the grid layer's)."""
    from .api import _plan_file
    from .io import LayerSource

    table = _config_grids(args)
    given = {k: v for k, v in (("layer", table.layer), ("datum", table.datum), ("encoding", table.encoding),
                               ("columns", table.columns)) if v}
    if not given:
        return table
    if _plan_file(LayerSource(path, layer=args.grids_layer)) is not None:
        print(f"note: {path} is a gridgeo plan, read with its own columns; the [grids] table of {args.config} "
              f"({', '.join(given)}) is for a grid layer and is not used", file=sys.stderr)
        return LayerSource(None)
    args.grids_layer = args.grids_layer or table.layer
    args.grids_datum = args.grids_datum or table.datum
    options = {"code": args.code_column != "grid_code", "community": args.community_column != "community_code"}
    mapped = {k: v for k, v in table.columns.items() if not options.get(k)}
    if mapped:
        columns["grids"] = {**mapped, **columns.get("grids", {})}
    return table


def _grid_column_args(args: argparse.Namespace, mapping: dict[str, str] | None) -> None:
    """``--columns grids.code=WGBM`` (and ``grids.community=``) as ``--code-column`` (``--community-column``): one
    option or the other, or both naming the same column."""
    from .io import grid_columns, mapped_option

    mapped = grid_columns(None, mapping)
    args.code_column = mapped_option(args.code_column, mapped.get("code"), default="grid_code", option="code_column",
                                     canon="code")
    args.community_column = mapped_option(args.community_column, mapped.get("community"), default="community_code",
                                          option="community_column", canon="community")


def _is_community_layer(gdf: Any, args: argparse.Namespace, columns: dict[str, dict[str, str]]) -> bool:
    """A layer of communities (a 12-digit ``code``, or the column ``--columns communities.code=`` names, no grid code
    column) given to validate alone."""
    from .api import communities_mapped, is_community_layer

    others = (args.communities, args.subgrids)
    return is_community_layer(communities_mapped(gdf, columns, code_column=args.code_column, others=others),
                              code_column=args.code_column, others=others)


def _validate_communities(communities: Any, args: argparse.Namespace, columns: dict[str, dict[str, str]]) -> int:
    """``gridgeo validate COMMUNITIES [--repair FIXED.gpkg]``: overlaps and gaps between communities."""
    from . import api
    from .rules import load_rules
    from .validate import has_errors, summarize, write_findings, write_repair

    tolerance = args.boundary_tolerance if args.boundary_tolerance is not None else load_rules(args.rules).boundary_tolerance_m
    if tolerance < 0:
        msg = f"--boundary-tolerance {tolerance:g} must be >= 0 (metres)"
        raise InputError(msg)
    findings = api.validate(communities, boundary_tolerance_m=tolerance, columns=columns)
    n = len(communities)
    if len(findings) == 0:
        print(f"{args.grids}: {counted(n, 'community')}, clean: no overlap, no gap narrower than {tolerance:g} m between them")
    else:
        print(f"{args.grids}: {counted(n, 'community')}, {counted(len(findings), 'finding')} (overlaps and gaps between communities)")
        print(summarize(findings).to_string(index=False))
    if args.report:
        write_findings(findings, args.report, force=args.force)
        print(f"findings written to {args.report}")
    if args.repair:
        fixed, log = api.repair(communities, boundary_tolerance_m=tolerance, columns=columns)
        after = api.validate(fixed, boundary_tolerance_m=tolerance, columns=columns)
        write_repair(fixed, log, args.repair, force=args.force, layer="communities")
        print(f"repaired community layer written to {args.repair} (layer 'communities'): {counted(len(log), 'change')} logged, "
              f"{counted(len(after), 'finding')} left")
        gone = log.loc[log["action"] == "emptied", "code"].astype(str).tolist()
        if gone:
            print(f"gridgeo: warning: {counted(len(gone), 'community')} wholly covered by others left out of the repaired "
                  f"layer ({', '.join(gone)}); redraw {'it' if len(gone) == 1 else 'them'} where "
                  f"{'it lies' if len(gone) == 1 else 'they lie'}, or keep the other community's code", file=sys.stderr)
    return 1 if has_errors(findings) else 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .info import quality_report
    from .plan import Plan

    plan = Plan.read(args.plan)
    # a roster that cannot be read is said before anything is printed (not after the quality table, exit 2)
    roster = _roster_said(args.roster, plan, consequence="counted for no grid") if getattr(args, "roster", None) else None
    print(quality_report(plan))
    if roster is not None:
        from .maps import format_staffing, staffing

        print(format_staffing(staffing(plan, roster)))
    return 0


_INTERRUPTED = {"flag": False}


def _interrupt_in_main_process_only() -> Any:
    """Make Ctrl-C stop the command in this process and end worker processes silently.

    Worker processes forked by the partition inherit this handler: they exit at once with code 130
    (no traceback each), while this process raises KeyboardInterrupt, which unwinds through the pool
    (its shutdown finds the workers gone) and the atomic writer (no partial file) to :func:`main`.
    The interrupt is also remembered, so that one raised where Python ignores exceptions (a ``__del__``
    or a callback, "Exception ignored in ...") still stops the command at the next step
    (:func:`_raise_if_interrupted`); such an ignored interrupt prints nothing (:func:`_quiet_interrupts`:
    Ctrl-C while a worker is forked lands in ``logging``'s at-fork hook, whose "Exception ignored"
    traceback a user saw). Returns the previous handler.
    """
    import os
    import signal

    main_pid = os.getpid()
    _INTERRUPTED["flag"] = False

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != main_pid:
            os._exit(130)
        _INTERRUPTED["flag"] = True
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (an embedding application): leave Python's default
        return None
    if not getattr(sys.unraisablehook, "_gridgeo_quiet", False):
        sys.unraisablehook = _quiet_interrupts(sys.unraisablehook)
    return previous


def _quiet_interrupts(hook: Any) -> Any:
    """``sys.unraisablehook`` that says nothing of the Ctrl-C this command remembered (raised where Python
    ignores exceptions: an at-fork hook, a ``__del__``); anything else goes to ``hook``."""

    def quiet(unraisable: Any) -> None:
        if (unraisable.exc_type is not None and issubclass(unraisable.exc_type, KeyboardInterrupt)
                and _INTERRUPTED["flag"]):
            return
        hook(unraisable)

    quiet._gridgeo_quiet = True  # type: ignore[attr-defined]
    return quiet


def _raise_if_interrupted() -> None:
    if _INTERRUPTED["flag"]:
        raise KeyboardInterrupt


def _quiet_stdout() -> None:
    """After a closed pipe (``gridgeo report plan.gpkg | head``): send what is left to /dev/null."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a descriptor (tests)
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gridgeo`` and ``python -m gridgeo``; returns the exit code.

    0: done (validate: clean); 1: validate found errors; 2: bad input, one line on stderr;
    130: interrupted (Ctrl-C), nothing written; 141: the reader of stdout went away (a closed pipe).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    import signal

    hook = sys.unraisablehook
    previous = _interrupt_in_main_process_only()
    _RESUME["checkpoint"] = None  # set by a partition that keeps its finished communities
    face = CLI.set(True)  # errors name the options (--crs), not the Python arguments, even from gridgeo.api
    try:
        return _dispatch(parser, args)
    except BaseException as exc:
        # Ctrl-C: KeyboardInterrupt here, or whatever it broke on its way (a process pool whose workers
        # ended first reports BrokenProcessPool)
        if not (isinstance(exc, KeyboardInterrupt) or _INTERRUPTED["flag"]) or isinstance(exc, SystemExit):
            raise
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while leaving changes nothing
        previous = None
        lead = "\n" if sys.stderr.isatty() else ""  # after the terminal's ^C
        cp = _RESUME["checkpoint"]
        kept = len(cp) if cp is not None else 0
        more = (f"; {counted(kept, 'community')} already divided {'is' if kept == 1 else 'are'} kept: run the same command with --resume to go on"
                if kept else "")
        print(f"{lead}gridgeo: interrupted; nothing was written{more}", file=sys.stderr)
        return 130
    finally:
        CLI.reset(face)
        if previous is not None:  # not after an interrupt: the pool's workers may still end as this process exits
            signal.signal(signal.SIGINT, previous)
            sys.unraisablehook = hook


def _cmd_export(args: argparse.Namespace) -> int:
    from .api import read_plan
    from .export import export, export_postgis

    if (args.to is None) == (args.out is None):
        msg = "export: give --out PATH (a file format) or --to postgresql://... (PostGIS), one of them"
        raise InputError(msg)
    if args.to is not None:
        plan = read_plan(args.plan)
        counts = export_postgis(plan, args.to, schema=args.schema, layers=args.layers, replace=args.replace)
        shown = ", ".join(f"{name} {n:,}" for name, n in counts.items())
        print(f"wrote {shown} to schema {args.schema!r}")
        return 0
    if Path(args.out).exists() and _same_file(Path(args.out), Path(args.plan)):
        msg = f"--out {args.out} is the plan itself; write the export to another path (an input is never overwritten)"
        raise InputError(msg)
    written = export(args.plan, args.out, format=args.format, layers=args.layers, coords=args.coords,
                     precision=args.precision, encoding=args.encoding, csv_geometry=args.csv_geometry, force=args.force)
    for path in written:
        print(f"wrote {path}")
    return 0


def _cmd_locate(args: argparse.Namespace) -> int:
    from .locate import SWAP_FIX, locate_file, swapped_mostly

    for given in (args.plan, args.points, args.roster):
        if given is not None and _same_file(Path(args.out), Path(given)):
            msg = f"--out {args.out} is also an input file; write the answer to another path"
            raise InputError(msg)
    counts = locate_file(args.points, args.plan, args.out, lon_col=args.lon_col, lat_col=args.lat_col,
                         coords=args.coords, roster=args.roster, chunk_rows=args.chunk_rows, force=args.force,
                         encoding=args.encoding)
    print(f"{counted(counts['rows'], 'point')}: {counts['located']:,} in a grid, {counts['outside']:,} outside every grid, "
          f"{counts['bad']:,} with bad coordinates (see the reason column); wrote {args.out}"
          + (f" ({counts['encoding'].upper()}, as the points file)" if counts.get("encoding") == "gb18030" else ""))
    if args.roster:
        _unplaced_said(args.roster, counts.get("roster_unplaced", []), consequence="no point is routed to them")
    if counts.get("unreadable"):  # a coordinate still read as no number (after "１１４．３", "30.5°N" ... are read)
        csv = Path(args.points).suffix.lower() in (".csv", ".txt")
        shown = ", ".join(f"{'line' if csv else 'row'} {r + 2 if csv else r + 1}: {v!r}" for r, v in counts["unreadable"][:3])
        print(f"gridgeo: warning: coordinates that read as no number ({shown}{', …' if len(counts['unreadable']) > 3 else ''}): "
              "bad rows (reason 'non-numeric coordinate'; a hemisphere letter of the other axis, a latitude '30.59E', "
              "is one too); fix those values", file=sys.stderr)
    if counts.get("swapped"):
        n = counts["swapped"]
        said = (f"gridgeo: warning: {counted(n, 'point')} {'looks' if n == 1 else 'look'} like longitude and latitude "
                "swapped (out of range, or in a grid only when exchanged)")
        if swapped_mostly(counts):  # the columns (or the axis order) are exchanged: one fix for the file
            said += f"; {SWAP_FIX['geometry' if counts.get('geometry') else 'columns']}"
        else:  # a few rows typed the other way round among many read right: bad rows, named, to fix one by one
            csv = Path(args.points).suffix.lower() in (".csv", ".txt")
            at = [r + 2 if csv else r + 1 for r in counts["swapped_rows"]]  # a CSV's line: its header is line 1
            shown = ", ".join(str(a) for a in at) + (f" and {n - len(at):,} more" if n > len(at) else "")
            said += (f", {n:,} of {counts['positioned']:,} with a position: bad rows ({'line' if csv else 'row'}"
                     f"{'s' if n > 1 else ''} {shown}, see the reason column); write the longitude first in "
                     f"{'that row' if n == 1 else 'those rows'}")
        print(said, file=sys.stderr)
    return 0


def _layer_arg(value: str) -> Any:
    """PATH or PATH:LAYER (a GeoPackage layer) as a layer argument."""
    path, sep, layer = value.rpartition(":")
    if sep and path and not Path(value).exists() and Path(path).exists():
        return (path, layer)
    return value


def _grid_encodings(args: argparse.Namespace, names: list[str]) -> dict[str, str]:
    """The ``--encoding NAME=ENC`` given for the office's grid layers (``grids`` for ``rebalance``, a layer's
    name, its file stem, for ``unify``), taken out of ``args.encoding`` (the rest name input layers)."""
    mine, rest = {}, []
    for v in args.encoding:
        key, sep, enc = v.partition("=")
        if sep and key.strip() in names:
            mine[key.strip()] = enc.strip()
        else:
            rest.append(v)
    args.encoding = rest
    return mine


def _grid_column_options(args: argparse.Namespace, names: list[str]) -> dict[str, dict[str, str]]:
    """The ``--columns LAYER.NAME=COLUMN`` given for the office's grid layers (``grids``: every grid layer; for
    ``unify`` also a layer's name), taken out of ``args.columns`` (the rest name input layers)."""
    from .io import INPUT_LAYERS

    mine: dict[str, dict[str, str]] = {}
    rest = []
    for v in args.columns:
        key, sep, col = v.partition("=")
        layer, dot, canon = key.strip().partition(".")
        if sep and dot and (layer == "grids" or (layer in names and layer not in INPUT_LAYERS)):
            mine.setdefault(layer, {})[canon.strip()] = col.strip()
        else:
            rest.append(v)
    args.columns = rest
    return mine


def _grid_source(value: Any, encoding: str | None, columns: dict[str, str] | None = None) -> Any:
    """A grid layer argument (PATH or (PATH, LAYER)) read in ``encoding`` and with ``columns`` (``--columns
    grids.code=WGBM``) when given."""
    from .io import LayerSource

    if encoding is None and not columns:
        return value
    path, layer = value if isinstance(value, tuple) else (value, None)
    return LayerSource(path, layer=layer, encoding=encoding, columns=dict(columns or {}))


def _office_sources(args: argparse.Namespace, label: str) -> dict[str, Any]:
    """The layer sources of ``rebalance``/``unify``: an enterprises layer given is refused (the office's
    dedicated grids are kept instead); the sample town's own (``--sample``) is not read."""
    from .rebalance import _no_enterprises

    sources = _sources(args, grids=True)
    if args.enterprises is None and sources.get("enterprises") is not None and args.sample:
        from .datasets import get_path

        if Path(sources["enterprises"].path) == Path(get_path("sample_town")):
            sources.pop("enterprises")
    _no_enterprises(sources, label)
    return sources


def _config_grids(args: argparse.Namespace) -> Any:
    """The ``[grids]`` table of ``--config`` (``rebalance``, ``unify``, ``validate``): how the grid layers given on the
    command line are read (:data:`gridgeo.io.GRID_CONFIG_KEYS`), as a source without a path; an empty one without a
    table. An option given (``--grids-datum``, ``--encoding grids=``, ``--columns grids.code=``) wins over the table's
    key, as a layer's options win over its section for ``partition``."""
    from .io import LayerSource

    table = _config(args, grids=True).get("grids")
    return table if table is not None else LayerSource(None)


def _cmd_rebalance(args: argparse.Namespace) -> int:
    from ._progress import Progress
    from .rebalance import rebalance_sources, summarize_changes

    table = _config_grids(args)
    grid_enc = _grid_encodings(args, ["grids"]).get("grids") or table.encoding
    grid_cols = {**table.columns, **_grid_column_options(args, ["grids"]).get("grids", {})}
    args.grids_layer = args.grids_layer or table.layer
    args.grids_datum = args.grids_datum or table.datum
    sources = _office_sources(args, "rebalance")
    grids_path = Path(args.grids)
    if not grids_path.exists():
        msg = f"grid layer not found: {args.grids}; give the office's grid layer file"
        raise InputError(msg)
    _check_out(args, _input_paths(args, sources))
    if args.map:
        _check_out(args, _input_paths(args, sources), option="map", suffixes=(".html",))
    progress = Progress(len(sources) + 5, quiet=args.quiet)
    grids = _grid_source((args.grids, args.grids_layer) if args.grids_layer else args.grids, grid_enc, grid_cols)
    try:
        plan, changes = rebalance_sources(grids, sources, code_column=args.code_column, rules=args.rules, crs=args.crs,
                                          metric=args.metric_crs, code_scheme=_code_scheme(args), workers=_workers(args),
                                          progress=progress, allow_outside=args.allow_outside,
                                          shift_check=not args.no_shift_check, grids_datum=args.grids_datum)
        progress(f"writing {args.out}")
        plan.write(args.out, force=args.force)
        if args.map:
            from .maps.changes import change_map

            change_map(plan, args.map, lang=args.lang)
    finally:
        progress.close()
    print(summarize_changes(changes, plan.metadata["rebalance"]))
    if args.map:
        print(f"before/after map: {args.map}")
    errors = plan.metadata.get("validation", {}).get("error", 0)
    print(f"plan: {args.out} ({counted(len(plan.layers['grids']), 'grid')}, {counted(len(plan.layers['subgrids']), 'small grid')}; "
          f"validation: {counted(errors, 'error')}); change table in layer 'changes'")
    return 1 if _said_failed(plan, args.out) or errors else 0


def _said_failed(plan: Any, out: str) -> bool:
    """Whether a part of a community could not be divided (``community_failed``), said on the console as ``partition``
    says it: ``rebalance`` and ``unify`` only said "validation: 21 errors"."""
    findings = plan.layers.get("findings")
    if findings is None or not len(findings):
        return False
    failed = findings[findings["type"] == "community_failed"]
    for text in failed["message"].head(5):
        print(f"gridgeo: {text}", file=sys.stderr)
    if len(failed) > 5:
        print(f"gridgeo: … and {counted(len(failed) - 5, 'more part')}, in the findings of {out} (community_failed)", file=sys.stderr)
    return bool(len(failed))


def _cmd_unify(args: argparse.Namespace) -> int:
    from .rebalance import layer_name, layer_names, unify

    stems = [layer_name(_layer_arg(v), i) for i, v in enumerate(args.layers)]
    table = _config_grids(args)
    if table.layer is not None:
        msg = (f"config {args.config}: [grids] layer = {table.layer!r} names the layer of rebalance's GRIDS; for unify "
               "give each layer as PATH:LAYERNAME")
        raise InputError(msg)
    layer_enc = {n: table.encoding for n in stems if table.encoding} | _grid_encodings(args, stems)
    layer_cols = _grid_column_options(args, stems)
    layer_cols["grids"] = {**table.columns, **layer_cols.get("grids", {})}
    sources = _office_sources(args, "unify")
    if len(args.layers) < 2:
        msg = "unify needs two or more departmental grid layers; for one layer use `gridgeo rebalance`"
        raise InputError(msg)
    for v in args.layers + args.jurisdiction:
        path = _layer_arg(v)
        path = path[0] if isinstance(path, tuple) else path
        if not Path(path).exists():
            msg = f"layer not found: {v}; give a grid layer file (PATH or PATH:LAYERNAME)"
            raise InputError(msg)
    cols = args.code_column or [None]
    if len(cols) == 1:
        cols = cols * len(args.layers)
    if len(cols) != len(args.layers):
        msg = f"--code-column given {counted(len(args.code_column), 'time')} for {counted(len(args.layers), 'layer')}; give it once, or once per layer"
        raise InputError(msg)
    _check_out(args, _input_paths(args, sources) + [_layer_arg(v) if isinstance(_layer_arg(v), str) else _layer_arg(v)[0]
                                                     for v in args.layers + args.jurisdiction])
    if args.roster:
        from .maps.roster import _read_csv as read_roster_file

        read_roster_file(Path(args.roster))  # a roster not there or not a CSV is said before the long work
    plan, cross = unify([_grid_source(_layer_arg(v), layer_enc.get(n), {**layer_cols.get("grids", {}), **layer_cols.get(n, {})})
                         for v, n in zip(args.layers, stems, strict=True)], sources["communities"] if "communities" in sources else None,
                        sources.get("streets"), sources.get("buildings"),
                        jurisdictions=[_layer_arg(v) for v in args.jurisdiction], code_columns=cols, rules=args.rules,
                        crs=args.crs, tolerance_m=args.tolerance, code_scheme=_code_scheme(args), workers=_workers(args),
                        villager_groups=sources.get("villager_groups"), metric_crs=args.metric_crs,
                        allow_outside=args.allow_outside, shift_check=not args.no_shift_check,
                        datums={n: table.datum for n in layer_names([_layer_arg(v) for v in args.layers]) if table.datum}  # as unify names them
                        | dict(_pairs(args.layer_datum, option="layer-datum")))
    plan.write(args.out, force=args.force)
    meta = plan.metadata["unify"]
    errors = plan.metadata.get("validation", {}).get("error", 0)
    for name, n, read in zip(meta["layers"], meta["grids_per_layer"], meta.get("read_per_layer", [""] * len(meta["layers"])),
                             strict=True):
        mine = cross[cross["layer"] == name]
        carried = meta.get("columns_carried", {}).get(name)
        print(f"{name}: {counted(n, 'grid')} -> {counted(mine['unified_code'].nunique(), 'unified grid')} in the crosswalk"
              + (f"; as read: {read} (the unified grids follow the lines most layers share)" if read else "")
              + (f"; its columns {', '.join(carried)} on each of its grids' rows of the crosswalk" if carried else ""))
    print(f"unified: {counted(meta['grids_after'], 'grid')}; {meta['shared_boundary_m'] / 1000:,.1f} km of boundary shared by most "
          f"layers followed as streets; {counted(meta['jurisdiction_layers'], 'jurisdiction layer')} kept whole")
    print(f"plan: {args.out} (validation: {counted(errors, 'error')}); crosswalk in layer 'crosswalk'")
    errors += _said_failed(plan, args.out)
    if args.roster:
        from .maps import format_staffing, staffing

        print(format_staffing(staffing(plan, _roster_said(args.roster, plan, consequence="counted for no grid"))))
    return 1 if errors else 0


def _roster_said(path: str, plan: Any, *, consequence: str) -> Any:
    """The roster of ``map``, ``sign`` and ``report``, read; rows repeated, and rows naming a code not in the plan
    (a mistyped code: the person is shown on none of them, and the staffing table only counts such rows), said."""
    from .maps import read_roster

    roster = read_roster(path, plan)
    if roster.duplicates:
        shown = "; ".join(f"line {a} repeats line {b} ({name})" for a, b, name in roster.duplicates[:5])
        more = f" and {len(roster.duplicates) - 5:,} more" if len(roster.duplicates) > 5 else ""
        print(f"gridgeo: warning: roster {path}: {shown}{more}; each person is shown once — delete the "
              "repeated rows", file=sys.stderr)
    _unplaced_said(path, roster.unplaced(), consequence=consequence)
    silent = roster.without_phone()
    if silent and consequence.startswith("shown on"):  # map and sign: the public sees a name nobody can call
        more = f" and {len(silent) - 5:,} more" if len(silent) > 5 else ""
        print(f"gridgeo: warning: roster {path}: {counted(len(silent), 'person', 'people')} without a phone ({'; '.join(silent[:5])}"
              f"{more}); shown with no phone — add the phone numbers", file=sys.stderr)
    return roster


def _unplaced_said(path: str, unplaced: list[str], *, consequence: str) -> None:
    """Roster rows naming a code not in the plan (``Roster.unplaced``), said on stderr with what follows."""
    if unplaced:
        more = f" and {len(unplaced) - 5:,} more" if len(unplaced) > 5 else ""
        print(f"gridgeo: warning: roster {path}: {counted(len(unplaced), 'row')} {'names' if len(unplaced) == 1 else 'name'} "
              f"a code not in the plan ({'; '.join(unplaced[:5])}{more}); {consequence} — correct the code", file=sys.stderr)


def _publish_inputs(args: argparse.Namespace, check: Any = None) -> tuple[Any, Any, Any]:
    """The plan, roster and streets named by a ``map`` or ``sign`` command; ``check(plan)``, given, runs before the
    roster and the streets are read (the output checks that need the plan's codes)."""
    from .plan import Plan

    if not Path(args.plan).exists():
        msg = f"plan {args.plan} not found; give a plan GeoPackage written by `gridgeo partition`"
        raise InputError(msg)
    plan = Plan.read(args.plan)
    if "grids" not in plan.layers:
        msg = f"plan {args.plan} has no grids layer; run `gridgeo partition` first"
        raise InputError(msg)
    if check is not None:
        check(plan)
    roster = _roster_said(args.roster, plan, consequence=f"shown on no {args.command}") if args.roster else None
    streets = None
    if args.streets:
        from .io import read_layer

        streets = read_layer(args.streets, layer=args.streets_layer, name="streets", crs=args.crs)
    if streets is None and "streets" not in plan.layers:
        print("note: the plan has no streets layer; pass --streets FILE to draw streets and name bounding roads",
              file=sys.stderr)
    return plan, roster, streets


def _cmd_map(args: argparse.Namespace) -> int:
    from .maps import format_staffing, publish_map, staffing
    from .maps.web import check_site_out

    check_site_out(args.out, force=args.force)  # before any input is read, as the other commands do
    plan, roster, streets = _publish_inputs(args)
    overlays = {}
    for name, spec in _pairs(args.overlay, option="overlay"):
        path, _, layer = spec.rpartition(":") if ":" in spec and not Path(spec).exists() else (spec, "", "")
        overlays[name] = (path, layer or None)
    pages = publish_map(plan, args.out, roster=roster, tiles=args.tiles, tianditu_token=args.tianditu_token,
                        public=args.public, lang=args.lang, streets=streets, supervision_phone=args.supervision_phone,
                        pages=args.pages, buildings=not args.no_buildings, simplify_m=args.simplify, overlays=overlays,
                        force=args.force)
    size = sum(f.stat().st_size for f in Path(args.out).rglob("*") if f.is_file())
    print(f"grid map written to {pages[0]} ({counted(len(pages), 'page')}, {size / 1e6:.1f} MB with lib/)")
    if roster is not None:
        print(format_staffing(staffing(plan, roster)))
    return 0


def _cmd_sign(args: argparse.Namespace) -> int:
    import warnings

    from .maps import write_signs
    from .maps.sign import MissingGlyphWarning, check_sign_out, sign_targets, write_community_maps

    # the output is refused before any input is read, as the other commands do; the files of --all are known
    # from the plan's codes only, checked before the roster and the streets are read
    if args.community:
        codes = list(dict.fromkeys(args.community))
    elif args.all and not args.one_file:
        codes = None
    else:
        codes = list(dict.fromkeys(args.grid or []))
    targets = [] if codes is None else sign_targets(args.out, codes, fmt=args.format, one_file=args.one_file and not args.community)
    check_sign_out(args.out, targets, force=args.force)

    def check(plan: Any) -> None:
        if codes is None:
            check_sign_out(args.out, sign_targets(args.out, sorted(plan.grids["grid_code"].astype(str)), fmt=args.format),
                           force=args.force)

    plan, roster, streets = _publish_inputs(args, check)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MissingGlyphWarning)
        if args.community:
            written = write_community_maps(plan, args.out, communities=args.community, roster=roster, streets=streets,
                                           fmt=args.format, paper=args.paper, lang=args.lang, force=args.force)
        else:
            written = write_signs(plan, args.out, grids=None if args.all else args.grid, roster=roster, streets=streets,
                                  fmt=args.format, paper=args.paper, lang=args.lang, supervision_phone=args.supervision_phone,
                                  unit=args.unit, one_file=args.one_file, force=args.force)
    for w in caught:  # characters the font cannot print: one line each, not a Python warning with a source line
        if issubclass(w.category, MissingGlyphWarning):
            print(f"gridgeo: warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if not args.community and not args.supervision_phone:
        community_of = dict(zip(plan.grids["grid_code"].astype(str), plan.grids["community_code"].astype(str), strict=True))
        named = roster.supervision_phones() if roster is not None else {}
        bare = sorted({community_of[c] for c in (community_of if args.all else args.grid)
                       if c in community_of and not named.get(community_of[c])})
        if bare:
            print(f"gridgeo: warning: the signs of {counted(len(bare), 'community', 'communities')} ({', '.join(bare[:5])}"
                  f"{' …' if len(bare) > 5 else ''}) show no supervision phone (监督电话 —): give --supervision-phone PHONE, "
                  "or a 督导员 (supervisor) row with a phone in the roster", file=sys.stderr)
    what = "community map" if args.community else "sign"
    if not args.community and args.one_file and len(written) == 1:  # every sign a page of one file
        pages = len(plan.grids) if args.all else len(dict.fromkeys(args.grid))
        print(f"{counted(pages, what)} written to {written[0]} (one file, {args.paper}, {args.format}, 300 dpi)")
        return 0
    print(f"{counted(len(written), what)} written to {args.out} ({args.paper}, {args.format}, 300 dpi)")
    return 0


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Run the command; bad input and file problems become one line on stderr and exit code 2."""
    try:
        if args.command == "info":
            return _cmd_info(args)
        if args.command in ("blocks", "partition"):
            return _cmd_build(args, args.command)
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "diff":
            return _cmd_diff(args)
        if args.command == "validate":
            return _cmd_validate(args)
        if args.command in ("export", "locate"):
            return _cmd_export(args) if args.command == "export" else _cmd_locate(args)
        if args.command in ("rebalance", "unify"):
            return _cmd_rebalance(args) if args.command == "rebalance" else _cmd_unify(args)
        if args.command in ("map", "sign"):
            return _cmd_map(args) if args.command == "map" else _cmd_sign(args)
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except (GridgeoError, FileExistsError) as exc:
        print(f"gridgeo: error: {cli_spelling(_one_line(exc))}", file=sys.stderr)
        return 2
    except UnicodeError as exc:  # last resort: the readers and writers word their own (the file, the encoding that does)
        print(f"gridgeo: error: {_unicode_error(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # permissions, disk full, a folder where a file should be
        print(f"gridgeo: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2


def run() -> None:
    """The ``gridgeo`` console script and ``python -m gridgeo``: :func:`main`, then exit.

    After Ctrl-C the process leaves at once (``os._exit``): a process pool interrupted inside its own
    shutdown can keep a lock that its manager thread then waits on forever, and the interpreter would
    wait for that thread at exit. Nothing is left to write by then (the plan writer has removed its
    temporary file); worker processes still running are terminated first.
    """
    code = main()
    # objects of pyarrow (pandas' string columns, readers) left in reference cycles, such as the frames of an
    # error's traceback, are collected now, while pyarrow is whole: collected by the interpreter's last clean-up,
    # one of its threads could abort the process after the one-line error ("terminate called without an active
    # exception", exit 134 instead of 2; apache/arrow#34314)
    gc.collect()
    if _INTERRUPTED["flag"]:
        import multiprocessing
        import os

        for child in multiprocessing.active_children():
            child.terminate()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    raise SystemExit(code)


def _os_error(exc: OSError) -> str:
    """A file error in one line, naming what the user gave: a hidden temporary file or folder of gridgeo's own (the
    atomic writers write ``.NAME-XXXX`` beside ``--out`` first) is named by the folder it was to be made in.

    >>> _os_error(NotADirectoryError(20, "Not a directory", "events.csv/.site-ab12cd"))
    'cannot write in events.csv: Not a directory; give an --out in a folder that exists and is writable'
    >>> _os_error(PermissionError(13, "Permission denied", "plan.gpkg"))
    'cannot read or write plan.gpkg: Permission denied; check the path and permissions'
    """
    name = str(exc.filename or "")
    if Path(name).name.startswith(".") and "-" in Path(name).name:
        return (f"cannot write in {Path(name).parent}: {exc.strerror or exc}; give an --out in a folder that exists and "
                "is writable")
    return f"cannot read or write {name}: {exc.strerror or exc}; check the path and permissions"


def _unicode_error(exc: UnicodeError) -> str:
    """A text error no reader or writer worded (they name the file and the encoding that decodes it): what failed,
    and the fixes that apply whatever the file and the command (no option a command may not have).

    >>> _unicode_error(UnicodeDecodeError("utf-8", b"\\xd5", 0, 1, "invalid start byte"))
    "cannot decode a file's text as 'utf-8' (invalid start byte); save the file with UTF-8 text, or give its encoding where the command takes one (--encoding)"
    >>> _unicode_error(UnicodeEncodeError("gbk", "社区😀", 2, 3, "illegal multibyte sequence"))
    "cannot write '😀' as 'gbk' (illegal multibyte sequence); write UTF-8, or change the text"
    """
    encoding = getattr(exc, "encoding", "?")
    reason = getattr(exc, "reason", str(exc))
    if isinstance(exc, UnicodeEncodeError):
        return f"cannot write {exc.object[exc.start:exc.end]!r} as {encoding!r} ({reason}); write UTF-8, or change the text"
    return (f"cannot decode a file's text as {encoding!r} ({reason}); save the file with UTF-8 text, or give its encoding "
            "where the command takes one (--encoding)")


def _one_line(exc: BaseException) -> str:
    """An error message on one line (a message from a library may span several)."""
    return " ".join(str(exc).split())

