#!/usr/bin/env bash
# Set up a virtual environment with gridgeo, then partition the bundled sample town into grids and
# print the plan summary and its quality table. The plan is written to out/sample_plan.gpkg.
# Usage: bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
mkdir -p out
exec .venv/bin/gridgeo partition --sample --out out/sample_plan.gpkg --force
