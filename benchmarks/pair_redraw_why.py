"""Why a redrawing of a base grid with one neighbour, whose two halves admit small grids all in range,
was not taken by the base stage: each such redrawing judged by the rules of the engine's searches.

For each base grid ``GRID`` and neighbour ``NEIGHBOUR`` given, the plan of Lujiazui builder seed ``N`` is
made with the base stage's last search (``community._fit_small_grids``) recorded; then random spanning-tree
cuts of the two grids' final cells (as ``small_grid_misses.py``) list divisions into two connected grids of
300–500 whose cells both admit 0 misses (the exact count under the engine's model of cells without
households). Each is judged as :func:`~gridgeo.partition.packfit.fit_small_grids` and its ``accept`` judge it:

- ``units``: whether it keeps whole the units the search divides (the base units, else the building cells of
  the blocks opened for grids that still miss): a division cutting a unit is out of the search's reach;
- ``shape``: the two grids' summed P²/(4πA) over the pair's now (the search passes over above 1 +
  ``SHAPE_SLACK``), and their Polsby–Popper beside :data:`COMPACTNESS_REPORT` (no more under it);
- ``holes``: a grid wrapped round another (``foreign_holes``);
- ``screen``: the search's count (``SmallGridBadness``, exact up to ``FIT_EXACT_CELLS`` cells), which must
  be lower than the pair's now for the division to be offered at all;
- ``drawn``: the small grids ``small_division`` draws in the new grids (one seed, as ``accept``) and in
  the grids now (with the retries), which must be fewer.

    GRIDGEO_SHARED_DATA=../shared/data python benchmarks/pair_redraw_why.py 79 310101001003-G006:310101001003-G005
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("seed")
    ap.add_argument("pairs", nargs="+", help="GRID:NEIGHBOUR")
    ap.add_argument("--trees", type=int, default=200)
    ap.add_argument("--show", type=int, default=4, help="divisions printed per pair")
    args = ap.parse_args(argv)
    import bench_unseen as bu

    import gridgeo
    from gridgeo.partition import community as C
    from gridgeo.partition import packfit

    fits: dict[str, list] = defaultdict(list)
    final: dict[str, dict] = {}
    orig_fit, orig_find = C._fit_small_grids, C._base_findings

    def fit(ug, labels, n_parts, cells_of_unit, g, cells, unit_of_cell, grid_bounds, sub_bounds, weights, code,
            community, badness, **kw):
        res = orig_fit(ug, labels, n_parts, cells_of_unit, g, cells, unit_of_cell, grid_bounds, sub_bounds, weights,
                       code, community, badness, **kw)
        fits[code].append({"g": g, "cells": cells, "unit_in": unit_of_cell.copy(), "labels_in": labels.copy(),
                           "grid_out": res[0][res[1]], "unit_out": res[1].copy(), "sub": sub_bounds,
                           "weights": weights, "community": community, "frozen": set(kw.get("frozen") or ())})
        return res

    def find(out, grid_of_cell, grid_ids, grid_geoms, grid_h, ctx):
        final[ctx["code"]] = {"grid_of_cell": grid_of_cell.copy(), "grid_ids": list(grid_ids), "g": ctx["graph"],
                              "cells": ctx["cells"]}
        return orig_find(out, grid_of_cell, grid_ids, grid_geoms, grid_h, ctx)

    # the groups the fit searched: per community and group of grids, its tree cuts and the divisions found
    searched: dict[tuple[str, tuple[int, ...]], list] = defaultdict(list)
    orig_div, orig_cuts = packfit._divisions, packfit._tree_cuts
    current: list = []

    def cuts(*a, **kw):
        got = orig_cuts(*a, **kw)
        current[-1][1] += len(got)
        return got

    def divisions(ug, labels, grp, members, *a, **kw):
        current.append([grp, 0])
        found = orig_div(ug, labels, grp, members, *a, **kw)
        code = fits_code[-1] if fits_code else "?"
        searched[(code, tuple(sorted(grp)))].append((ug.n, current.pop()[1], [sum(b[0] for b in f[1].values())
                                                                             for f in found]))
        return found

    fits_code: list[str] = []

    def fit_named(*a, **kw):
        fits_code.append(a[10])
        return fit(*a, **kw)

    C._fit_small_grids, C._base_findings = fit_named, find
    packfit._divisions, packfit._tree_cuts = divisions, cuts
    try:
        gridgeo.divide(**bu.lujiazui(args.seed))
    finally:
        C._fit_small_grids, C._base_findings = orig_fit, orig_find
        packfit._divisions, packfit._tree_cuts = orig_div, orig_cuts

    for spec in args.pairs:
        _judge(args.seed, spec, final, fits, searched, args.trees, args.show)
    return 0


def _judge(seed: str, spec: str, final: dict, fits: dict, searched: dict, trees: int, show: int) -> None:
    """Print the divisions of one pair ``GRID:NEIGHBOUR`` and why each is refused (see the module's text)."""
    from small_grid_misses import min_misses, model, neighbours, tree_cut_sides

    from gridgeo.partition import community as C
    from gridgeo.partition import packfit
    from gridgeo.partition.enclosures import foreign_holes
    from gridgeo.partition.subgrids import SmallGridBadness

    gid, nid = spec.split(":")
    code = gid.rsplit("-", 1)[0]
    fin = final[code]
    p, q = fin["grid_ids"].index(gid), fin["grid_ids"].index(nid)
    gl = fin["grid_of_cell"]
    f = next((x for x in reversed(fits[code]) if len(x["grid_out"]) == len(gl)), None)
    g = f["g"]
    geoms = f["cells"].geoms
    h = g.h
    same_as_fit = bool(np.array_equal(np.isin(gl, [p, q]), np.isin(f["grid_out"], [p, q]))
                       and np.array_equal(gl == p, f["grid_out"] == p))
    units_in = f["unit_in"]
    for (c, grp), calls in sorted(searched.items()):
        if c == code and p in grp and q in grp:
            print(f"   fit searched grids {grp}: " + "; ".join(
                f"over {n} units, {k} tree cuts in range, badness of those offered {b}" for n, k, b in calls))
    # the units the fit searched where the grids still missed after its first run: blocks opened
    print(f"== seed {seed} {gid} (grid {p}) with {nid} (grid {q}); fit's output = final for the pair: "
          f"{same_as_fit}; frozen: {sorted(f['frozen'] & {p, q})}")
    adj = neighbours({"a": g.a, "b": g.b, "length": g.length})
    nodes = np.flatnonzero(np.isin(gl, [p, q]))
    ns = set(nodes.tolist())
    H = int(h[nodes].sum())
    edges = [(a, b) for a in nodes.tolist() for b in adj[a] if b in ns and a < b]
    sub_b = f["sub"]
    screen = SmallGridBadness(g, sub_b, max_exact=C.FIT_EXACT_CELLS)
    memo: dict = {}

    def drawn(label: int, cells_: np.ndarray, retries: int) -> tuple[int, int]:
        return C.small_division(g, geoms, np.sort(cells_), label, sub_b, f["weights"], code, enclosures=False,
                                memo=memo, retries=retries)[1]

    ea = np.array([a for a, b in edges])
    eb = np.array([b for a, b in edges])
    loc = {v: i for i, v in enumerate(nodes.tolist())}
    el = np.array([adj[a][b] for a, b in edges])

    def roundness(side: set[int]) -> float:
        lab = np.array([0 if v in side else 1 for v in nodes.tolist()])
        la, lb = lab[[loc[a] for a in ea]], lab[[loc[b] for b in eb]]
        same = la == lb
        inner = np.bincount(la[same], weights=el[same], minlength=2)
        a_k = np.bincount(lab, weights=g.area[nodes], minlength=2)
        p_k = np.bincount(lab, weights=g.perim[nodes], minlength=2) - 2 * inner
        return float(np.sum(p_k**2 / (4 * math.pi * a_k)))

    def pp(cells_: np.ndarray) -> tuple[float, bool]:
        shape = shapely.coverage_union_all(geoms[cells_])
        return (4 * math.pi * shapely.area(shape) / shapely.length(shape) ** 2,
                bool(foreign_holes(shape, f["community"])))

    now_p, now_q = np.flatnonzero(gl == p), np.flatnonzero(gl == q)
    if not same_as_fit:
        fp, fq = np.flatnonzero(f["grid_out"] == p), np.flatnonzero(f["grid_out"] == q)
        print(f"   the fit left: households {int(h[fp].sum())} / {int(h[fq].sum())}, PP {pp(fp)[0]:.3f} / "
              f"{pp(fq)[0]:.3f}, drawn {[drawn(p, fp, C.SMALL_GRID_RETRIES), drawn(q, fq, C.SMALL_GRID_RETRIES)]}")
    now_round = roundness(set(now_p.tolist()))
    now_pp = [pp(now_p), pp(now_q)]
    now_screen = [screen(now_p), screen(now_q)]
    now_drawn = [drawn(p, now_p, C.SMALL_GRID_RETRIES), drawn(q, now_q, C.SMALL_GRID_RETRIES)]
    print(f"   now: households {int(h[now_p].sum())} / {int(h[now_q].sum())}, PP {now_pp[0][0]:.3f} / "
          f"{now_pp[1][0]:.3f}, screen {now_screen}, drawn {now_drawn}")
    rng = random.Random(0)
    seen: set[frozenset] = set()
    found = []
    for _ in range(trees):
        for side in tree_cut_sides(nodes.tolist(), edges, h, H, rng):
            key = frozenset(side)
            if key in seen or frozenset(ns - side) in seen:
                continue
            seen.add(key)
            other = ns - side
            if min_misses(*model(sorted(side), h, adj, False), budget=30_000) != 0:
                continue
            if min_misses(*model(sorted(other), h, adj, False), budget=30_000) != 0:
                continue
            found.append(side)
    print(f"   divisions with both halves at 0 misses (engine's model): {len(found)} "
          f"of {len(seen)} tree cuts in range ({trees} trees)")
    tally: dict[str, int] = defaultdict(int)
    for i, side in enumerate(found):
        a_cells = np.array(sorted(side))
        b_cells = np.array(sorted(ns - side))
        # the half sharing most households with grid p takes its number
        if h[np.intersect1d(a_cells, now_p)].sum() < h[np.intersect1d(b_cells, now_p)].sum():
            a_cells, b_cells = b_cells, a_cells
        cut_units = sorted({int(u) for u in units_in[a_cells]} & {int(u) for u in units_in[b_cells]})
        cut_blocks = sorted({int(x) for x in f["cells"].block[a_cells]} & {int(x) for x in f["cells"].block[b_cells]})
        ratio = roundness(set(a_cells.tolist())) / now_round
        pa, pb = pp(a_cells), pp(b_cells)
        thin = (pa[0] < C.COMPACTNESS_REPORT) + (pb[0] < C.COMPACTNESS_REPORT)
        thin_now = (now_pp[0][0] < C.COMPACTNESS_REPORT) + (now_pp[1][0] < C.COMPACTNESS_REPORT)
        sc = [screen(a_cells), screen(b_cells)]
        sc_ok = (sc[0][0] + sc[1][0], round(sc[0][1] + sc[1][1], 6)) < (
            now_screen[0][0] + now_screen[1][0], round(now_screen[0][1] + now_screen[1][1], 6))
        d0 = [drawn(p, a_cells, 0), drawn(q, b_cells, 0)]
        d4 = [drawn(p, a_cells, C.SMALL_GRID_RETRIES), drawn(q, b_cells, C.SMALL_GRID_RETRIES)]
        before = (now_drawn[0][0] + now_drawn[1][0], now_drawn[0][1] + now_drawn[1][1])
        drawn_ok = (d0[0][0] + d0[1][0], d0[0][1] + d0[1][1]) < before
        reasons = []
        if cut_units:
            reasons.append("cuts units")
        if ratio > 1 + packfit.SHAPE_SLACK:
            reasons.append("shape slack")
        if thin > thin_now:
            reasons.append("thinner")
        if pa[1] or pb[1]:
            reasons.append("wrap")
        if not sc_ok:
            reasons.append("screen not lower")
        if not drawn_ok:
            reasons.append("drawn not fewer")
        tally[", ".join(reasons) or "ACCEPTABLE"] += 1
        if i < show:
            print(f"   #{i}: households {int(h[a_cells].sum())} / {int(h[b_cells].sum())}; units cut "
                  f"{len(cut_units)} (blocks {len(cut_blocks)}); shape x{ratio:.2f} (slack "
                  f"{1 + packfit.SHAPE_SLACK:.2f}); PP {pa[0]:.3f} / {pb[0]:.3f}; wrap {pa[1]} / {pb[1]}; "
                  f"screen {sc}; drawn one seed {d0}, with retries {d4} -> {reasons or 'ACCEPTABLE'}")
    for k, v in sorted(tally.items(), key=lambda kv: -kv[1]):
        print(f"   {v:4d} x {k}")


if __name__ == "__main__":
    raise SystemExit(main())
