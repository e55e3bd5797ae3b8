"""The linter (ruff, configured in pyproject.toml) finds nothing in the package, tests, benchmarks and scripts."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import REPO


def test_ruff_finds_nothing():
    pytest.importorskip("ruff", reason="ruff is a test dependency: pip install -e '.[test]'")
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "gridgeo", "tests", "benchmarks", "scripts"],
                         cwd=REPO, capture_output=True, text=True, check=False)
    assert run.returncode == 0, f"ruff check found problems:\n{run.stdout}{run.stderr}"
