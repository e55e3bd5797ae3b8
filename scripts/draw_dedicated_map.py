#!/usr/bin/env python
"""Draw a plan's dedicated grids (专属网格) and its units register as a small PNG (for the docs).

Ordinary (base) grids are drawn as grey outlines, dedicated grids filled by the category of their
largest unit, units as dots (filled: in a dedicated grid; open: attached to an ordinary grid).
Needs matplotlib (a test/notebook dependency, not a runtime one).

Usage::

    .venv/bin/python scripts/draw_dedicated_map.py PLAN.gpkg OUT.png [--title TEXT]

The Lujiazui figure in docs/images/lujiazui_dedicated.png::

    .venv/bin/python scripts/build_lujiazui_scenario.py --out out/lujiazui_scenario
    .venv/bin/python scripts/draw_dedicated_map.py --lujiazui out/lujiazui_scenario docs/images/lujiazui_dedicated.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

COLOURS = {"government": "#d62728", "hospital": "#e377c2", "school": "#2ca02c", "enterprise": "#1f77b4",
           "park": "#8c564b", "business_district": "#ff7f0e", "office_building": "#9467bd", "market": "#bcbd22",
           "other": "#7f7f7f"}


def draw(plan, out: str | Path, *, title: str = "") -> Path:
    from gridgeo.crs import metric_crs

    m = metric_crs(plan.layers["communities"])
    grids = plan.grids.to_crs(m)
    units = plan.layers["units"].to_crs(m)
    comm = plan.layers["communities"].to_crs(m)
    fig, ax = plt.subplots(figsize=(7.2, 5.4), dpi=110)
    base = grids[grids["kind"] == "base"]
    ded = grids[grids["kind"] == "dedicated"]
    base.boundary.plot(ax=ax, color="#b0b0b0", linewidth=0.5)
    # a dedicated grid's colour: the category of its unit with most employees
    main = (units[units["dedicated"].astype(bool)].sort_values("employees", ascending=False, kind="stable")
            .drop_duplicates("grid_code").set_index("grid_code")["category"])
    colours = [COLOURS.get(main.get(c, "other"), "#7f7f7f") for c in ded["grid_code"]]
    ded.plot(ax=ax, color=colours, alpha=0.55, edgecolor="black", linewidth=0.6)
    comm.boundary.plot(ax=ax, color="black", linewidth=1.1)
    inside = units["dedicated"].astype(bool)
    for cat, colour in COLOURS.items():
        sel = units["category"] == cat
        if (sel & inside).any():
            units[sel & inside].plot(ax=ax, color=colour, markersize=9, edgecolor="black", linewidth=0.3)
        if (sel & ~inside).any():
            units[sel & ~inside].plot(ax=ax, facecolor="white", edgecolor=colour, markersize=11, linewidth=0.9)
    present = [c for c in COLOURS if (units["category"] == c).any()]
    handles = [Patch(facecolor=COLOURS[c], alpha=0.55, edgecolor="black", label=c.replace("_", " ")) for c in present]
    handles += [Patch(facecolor="white", edgecolor="#b0b0b0", label="ordinary grid"),
                Line2D([], [], marker="o", color="white", markerfacecolor="white", markeredgecolor="black",
                       label="unit attached to an ordinary grid")]
    ax.legend(handles=handles, loc="upper right", fontsize=6, framealpha=0.9)
    ax.set_axis_off()
    n_ded, n_units = len(ded), len(units)
    ax.set_title(title or f"{n_ded} dedicated grids, {len(base)} ordinary grids, {n_units} units", fontsize=9)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    import gridgeo

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("plan", help="a plan GeoPackage, or with --lujiazui the scenario folder")
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("--lujiazui", action="store_true", help="divide the Lujiazui scenario (with its units) first")
    ap.add_argument("--title", default="")
    args = ap.parse_args(argv)
    if args.lujiazui:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import build_lujiazui_scenario as lj

        sc = lj.build(args.plan)
        plan = gridgeo.divide(sc.communities, sc.streets, sc.buildings, enterprises=sc.units)
        title = args.title or ("Lujiazui and the Bund (real OSM buildings, streets and POIs; synthetic communities): "
                               f"{int((plan.grids['kind'] == 'dedicated').sum())} dedicated grids")
    else:
        plan = gridgeo.read_plan(args.plan)
        title = args.title
    print(draw(plan, args.out, title=title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
