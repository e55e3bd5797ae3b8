"""Issue 16 on inputs never used for the re-division check, through the CLI as a user runs it.

For each input (a Suzhou variant of ``bench_unseen.py``: ``suzhou:FLAGS:SEED``, a Lujiazui builder seed:
``lujiazui:SEED``, or a Wuhan district with messy footprints: ``wuhan:CODE``, built by
``scripts/build_wuhan_scenario.py --district CODE --footprints messy`` under ``out/wuhan_scenario_CODE``) the layers
are written to a GeoPackage and:

1. ``gridgeo partition`` writes a fresh plan; ``gridgeo validate PLAN`` (exit status; column "validate": its
   findings counted by severity, ``"0 errors, 3 warnings, 1 info"``, from the findings it writes); from the
   stored file: grids and small grids with a hole, geometry types per layer, polygons invalid in EPSG:4490 or
   in the plan's metric CRS;
2. three changes confined to one community (the middle grid's, by code), each re-divided with
   ``gridgeo partition --previous`` from the fresh plan: ``add3`` three buildings added and one building's
   households +7; ``tower`` one building made a 400-household tower; ``dup-part`` an exact duplicate of one
   footprint (a new id) and a ``building:part`` (the outline scaled to 0.6, no households) on another. Per
   change: the other communities' grids kept with code and shape (``bench_redivision.kept_grids``), validate,
   holes (a grid ringing the community's own hole told from one wrapped round another), types equal to the fresh
   plan's, invalid polygons;
3. imperfect community layers (``gap:M`` a sliver gap M wide cut between two neighbouring communities,
   ``overlap:M`` one community grown M over its neighbour, ``hole:M`` a hole of radius M cut out of one community): partition,
   then the exit status and the first line of stderr (no traceback), validate, and the households of the plan
   (its buildings layer, and its grids: a building left outside every community is in the first, not the second)
   against those of the fresh plan (nothing silently dropped).

    GRIDGEO_SHARED_DATA=../shared/data PYTHONPATH=. .venv/bin/python benchmarks/bench_unseen_cli.py \
        suzhou:plain:148 lujiazui:91 wuhan:420102 [--work out/unseen_cli] [--md out/unseen_cli.md]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "scripts"))

from bench_redivision import geometry_types, invalid_geometries, kept_grids  # noqa: E402

METRIC = None  # set per input: the UTM zone of the buildings
CHANGES = ("add3", "tower", "dup-part")
FLAWS = ("gap:2", "overlap:1.5", "hole:40")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gridgeo", *args], capture_output=True, text=True)


def load(spec: str) -> dict[str, gpd.GeoDataFrame]:
    kind, _, rest = spec.partition(":")
    if kind == "suzhou":
        from bench_unseen import suzhou_variant

        flags, _, seed = rest.rpartition(":")
        c, b = suzhou_variant(set(flags.split("-")), int(seed))
        return {"communities": c, "buildings": b}
    if kind == "wuhan":
        out = REPO / "out" / f"wuhan_scenario_{rest}"
        res = subprocess.run([sys.executable, str(REPO / "scripts" / "build_wuhan_scenario.py"), "--out", str(out),
                              "--district", rest, "--footprints", "messy"], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError((res.stderr.strip().splitlines() or [f"exit status {res.returncode}"])[-1])
        path = out / "wuhan_scenario_messy.gpkg"
        return {k: gpd.read_file(path, layer=k) for k in ("communities", "streets", "buildings")}
    from bench_unseen import lujiazui

    paths = lujiazui(rest)
    return {k: gpd.read_file(p, layer=layer) for k, (p, layer) in paths.items()}


def write_inputs(layers: dict[str, gpd.GeoDataFrame], path: Path) -> list[str]:
    path.unlink(missing_ok=True)
    args = []
    for name, gdf in layers.items():
        gdf.to_file(path, layer=name, driver="GPKG")
        args += [f"--{name}", str(path), f"--{name}-layer", name]
    return args


def partition(layers, work: Path, name: str, previous: Path | None = None) -> tuple[subprocess.CompletedProcess, Path]:
    out = work / f"{name}.gpkg"
    args = write_inputs(layers, work / f"{name}_in.gpkg") + ["--out", str(out), "--force", "-q", "--workers", "1"]
    if previous is not None:
        args += ["--previous", str(previous)]
    return cli("partition", *args), out


def severity_counts(findings: pd.DataFrame) -> str:
    """``"E errors, W warnings, I info"`` of a findings table, the error types named: ``"1 error (overlap 1),
    3 warnings, 0 info"``."""
    sev = findings["severity"].astype(str) if len(findings) else pd.Series([], dtype=str)
    n = {k: int((sev == k).sum()) for k in ("error", "warning", "info")}
    errors = findings.loc[sev == "error", "type"].value_counts() if n["error"] else pd.Series([], dtype=int)
    named = f" ({', '.join(f'{t} {c}' for t, c in errors.items())})" if len(errors) else ""
    return (f"{n['error']} error{'' if n['error'] == 1 else 's'}{named}, "
            f"{n['warning']} warning{'' if n['warning'] == 1 else 's'}, {n['info']} info")


def validated(out: Path) -> tuple[subprocess.CompletedProcess, str]:
    """``gridgeo validate PLAN`` as a user runs it, and the counts of what it found by severity, read from the
    findings it writes (``--report``), not from its console table (whose last line is a worst offender's row)."""
    from gridgeo.io import read_findings

    report = out.with_name(f"{out.stem}_validate.json")
    report.unlink(missing_ok=True)  # a report of an earlier run is not this one's
    v = cli("validate", str(out), "--report", str(report), "--force")
    if not report.exists():  # validate failed before writing: its last line says why
        return v, (v.stderr.strip().splitlines() or [f"exit status {v.returncode}, no report"])[-1][:120]
    return v, severity_counts(read_findings(report))


def hole_counts(plan, layer: str) -> str:
    """``"N"``: features of ``layer`` with a hole; ``"N (M wrapped)"`` when M of them hold over 1 m² of the plan's
    communities in a hole (a grid wrapped round another), the rest ringing a hole of the community itself."""
    crs = plan.metadata.get("metric_crs") or METRIC
    land = shapely.union_all(plan["communities"].to_crs(crs).geometry.to_numpy())
    with_hole = wrapped = 0
    for g in plan[layer].to_crs(crs).geometry.to_numpy():
        rings = np.array([shapely.Polygon(r) for part in shapely.get_parts(g) for r in part.interiors], dtype=object)
        if len(rings):
            with_hole += 1
            wrapped += bool((shapely.area(shapely.intersection(rings, land)) > 1.0).any())
    return f"{with_hole}" + (f" ({wrapped} wrapped)" if wrapped else "")


def stored(out: Path) -> dict:
    """Figures of a written plan read back as a user would."""
    from gridgeo.plan import Plan

    v, counts = validated(out)
    plan = Plan.read(out)
    holes = {k: hole_counts(plan, k) for k in ("grids", "subgrids")}
    bad = invalid_geometries(plan)
    return {"plan": plan, "validate": v.returncode, "validate_counts": counts,
            "holes": holes, "types": geometry_types(out), "invalid": sum(bad.values()),
            "households": int(pd.to_numeric(plan["buildings"]["households"], errors="coerce").fillna(0).sum()),
            "in grids": int(pd.to_numeric(plan["grids"]["households"], errors="coerce").fillna(0).sum())}


def community_rows(b: gpd.GeoDataFrame, mine) -> np.ndarray:
    """Rows of polygonal buildings lying wholly (99%) in the polygon ``mine`` (metric), largest first."""
    bm = b.to_crs(METRIC).geometry.to_numpy()
    area = shapely.area(bm)
    share = np.divide(shapely.area(shapely.intersection(bm, mine)), area, out=np.zeros(len(area)), where=area > 0)
    rows = np.flatnonzero(share > 0.99)
    return rows[np.argsort(-area[rows], kind="stable")]


def change(layers, v1, kind: str) -> tuple[dict, str]:
    grids = v1["grids"].sort_values("grid_code")
    code = str(grids["community_code"].iloc[len(grids) // 2])
    c, b = layers["communities"], layers["buildings"].copy()
    mine = c.to_crs(METRIC).geometry[c["code"].astype(str) == code].iloc[0]
    rows = community_rows(b, mine)
    idcol = "building_id" if "building_id" in b else "Id"
    if "households" not in b:
        b["households"] = np.nan
    b["households"] = pd.to_numeric(b["households"], errors="coerce")
    if kind == "add3":
        blocks = v1["blocks"].to_crs(METRIC)
        blk = blocks[blocks["community_code"].astype(str) == code]
        p = shapely.point_on_surface(blk.geometry.to_numpy()[int(np.argmax(blk.area.to_numpy()))])
        new = gpd.GeoDataFrame({idcol: [f"new-{i}" if idcol == "building_id" else 900000 + i for i in range(3)],
                                "households": [30.0, 40.0, 50.0]},
                               geometry=[shapely.box(p.x + 6 * i, p.y, p.x + 6 * i + 4, p.y + 4) for i in range(3)],
                               crs=METRIC).to_crs(b.crs)
        r = rows[len(rows) // 2]
        est = v1["buildings"]
        b.loc[b.index[r], "households"] = (b["households"].iloc[r] if pd.notna(b["households"].iloc[r])
                                           else float(pd.to_numeric(est["households"]).median())) + 7
        b = pd.concat([b, new], ignore_index=True)
    elif kind == "tower":
        b.loc[b.index[rows[0]], "households"] = 400.0
    elif kind == "dup-part":
        dup = b.iloc[[rows[1]]].copy()
        dup[idcol] = "dup-1" if idcol == "building_id" else 910000
        part = b.iloc[[rows[2]]].copy()
        part[idcol] = "part-1" if idcol == "building_id" else 910001
        part["households"] = np.nan
        if "building_id" in b:
            part["kind"] = "building:part"
        part["geometry"] = part.geometry.scale(0.6, 0.6)
        b = pd.concat([b, dup, part], ignore_index=True)
    out = dict(layers)
    out["buildings"] = gpd.GeoDataFrame(b, geometry="geometry", crs=layers["buildings"].crs)
    return out, code


def imperfect(layers, kind: str) -> dict:
    """The community layer with one flaw between the first two neighbouring communities (by code): the first
    pair whose outlines grown 2 m overlap by more than 200 m² (50 m of shared boundary; wobbled outlines share
    no edge exactly). Flaws joined by "+" (``gap:8+hole:40``) are made one after the other."""
    if "+" in kind:
        for one in kind.split("+"):
            layers = imperfect(layers, one)
        return layers
    c = layers["communities"].to_crs(METRIC).sort_values("code").reset_index(drop=True)
    g = c.geometry.to_numpy().copy()
    i, j = next((i, j) for i in range(len(g)) for j in range(i + 1, len(g))
                if shapely.area(shapely.intersection(shapely.buffer(g[i], 2.0), shapely.buffer(g[j], 2.0))) > 200)
    name, _, m = kind.partition(":")
    m = float(m)
    if name == "gap":  # a sliver m wide cut from i along the shared edge
        g[i] = shapely.difference(g[i], shapely.buffer(g[j], m))
    elif name == "overlap":  # i grown m over j
        g[i] = shapely.intersection(shapely.buffer(g[i], m, join_style="mitre"), shapely.union(g[i], g[j]))
    elif name == "hole":  # a hole of radius m inside i
        g[i] = shapely.difference(g[i], shapely.buffer(shapely.point_on_surface(g[i]), m))
    out = dict(layers)
    out["communities"] = c.set_geometry(g).to_crs(layers["communities"].crs)
    return out


def run(spec: str, work: Path, changes=CHANGES, flaws=FLAWS) -> list[dict]:
    global METRIC
    work.mkdir(parents=True, exist_ok=True)
    layers = load(spec)
    METRIC = layers["buildings"].estimate_utm_crs()
    rows = []
    res, v1p = partition(layers, work, "v1")
    if res.returncode != 0:
        return [{"input": spec, "step": "fresh", "exit": res.returncode, "stderr": res.stderr.strip()[-200:]}]
    s1 = stored(v1p)
    rows.append({"input": spec, "step": "fresh", "exit": 0, "validate exit": s1["validate"],
                 "holes grids/small": f"{s1['holes']['grids']}/{s1['holes']['subgrids']}", "invalid": s1["invalid"],
                 "grids": len(s1["plan"]["grids"]), "households": s1["households"],
                 "types": "; ".join(f"{k} {v[0]}:{'/'.join(v[1])}" for k, v in s1["types"].items() if k != "buildings"),
                 "validate": s1["validate_counts"]})
    for kind in changes:
        changed, code = change(layers, s1["plan"], kind)
        res, p = partition(changed, work, f"v2_{kind}", previous=v1p)
        row = {"input": spec, "step": f"--previous {kind} in {code}", "exit": res.returncode}
        if res.returncode == 0:
            s2 = stored(p)
            kept, total, lost = kept_grids(s1["plan"], s2["plan"], code, crs=METRIC)
            same = all(s2["types"][k] == s1["types"][k] for k in s1["types"] if k in s2["types"])
            row.update({"validate exit": s2["validate"], "kept": f"{kept}/{total}", "lost": ",".join(lost[:5]),
                        "holes grids/small": f"{s2['holes']['grids']}/{s2['holes']['subgrids']}",
                        "invalid": s2["invalid"], "types as fresh": same, "households": s2["households"],
                        "validate": s2["validate_counts"]})
            if not same:
                row["types"] = str({k: v for k, v in s2["types"].items() if v != s1["types"].get(k)})
        else:
            row["stderr"] = res.stderr.strip()[-300:]
        rows.append(row)
    for kind in flaws:
        res, p = partition(imperfect(layers, kind), work, f"flaw_{kind}")
        row = {"input": spec, "step": f"communities {kind}", "exit": res.returncode,
               "traceback": "Traceback" in res.stderr,
               "stderr": (res.stderr.strip().splitlines() or [""])[0][:200]}
        if res.returncode == 0:
            s3 = stored(p)
            f = s3["plan"]["findings"] if "findings" in s3["plan"].layers else pd.DataFrame()
            row.update({"validate exit": s3["validate"], "households": s3["households"],
                        "households as fresh": s3["households"] == s1["households"],
                        "in grids as fresh": s3["in grids"] == s1["in grids"],
                        "holes grids/small": f"{s3['holes']['grids']}/{s3['holes']['subgrids']}", "invalid": s3["invalid"],
                        "findings": ", ".join(f"{k} {v}" for k, v in f["type"].value_counts().items()) if len(f) else "",
                        "validate": s3["validate_counts"]})
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+", help="suzhou:FLAGS:SEED, lujiazui:SEED or wuhan:CODE")
    ap.add_argument("--work", type=Path, default=REPO / "out" / "unseen_cli")
    ap.add_argument("--md", type=Path)
    ap.add_argument("--changes", default=",".join(CHANGES), help="re-divisions, comma-separated ('' for none)")
    ap.add_argument("--flaws", default=",".join(FLAWS), help="community flaws KIND:METRES (gap, overlap, hole), several joined by '+' made together")
    args = ap.parse_args(argv)
    rows = []
    for spec in args.inputs:
        got = run(spec, args.work / spec.replace(":", "_"), [k for k in args.changes.split(",") if k],
                  [k for k in args.flaws.split(",") if k])
        for r in got:
            print(r, file=sys.stderr, flush=True)
        rows += got
    frame = pd.DataFrame(rows).astype(object).where(lambda f: f.notna(), "")
    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(str(v).replace("|", "/") for v in r) + " |" for r in frame.itertuples(index=False)]
    print("\n".join(lines))
    if args.md:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
