"""A throwaway PostgreSQL + PostGIS cluster for tests and benchmarks (unix socket, temporary folder).

Used by ``tests/test_postgis.py`` and ``benchmarks/crosscheck_coverage.py``. ``initdb`` runs as user
``postgres`` (through ``runuser``) when the process is root, as PostgreSQL refuses to run as root; the
server listens on a unix socket only (no TCP port), in the cluster's folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def missing() -> str | None:
    """Why a cluster cannot be started here (None when it can): for ``pytest.skip``."""
    try:
        Cluster._bindir()
    except RuntimeError as exc:
        return str(exc)
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL cannot be started"
    for d in Path("/usr/share/postgresql").glob("*/extension"):
        if (d / "postgis.control").exists():
            return None
    return "PostGIS is not installed for PostgreSQL (apt-get install -y postgis)"


class Cluster:
    """A throwaway PostgreSQL cluster on a unix socket in a temporary folder."""

    def __init__(self) -> None:
        self.bindir = self._bindir()
        self.root = Path(tempfile.mkdtemp(prefix="gridgeo-pg-"))
        self.data = self.root / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.root, self.user)
        self._run([str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "gridgeo", "--no-sync"])
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.root / "log"),
                   "-o", f"-k {self.root} -c listen_addresses='' -c fsync=off", "start"])
        self.psql("CREATE EXTENSION postgis;")

    @staticmethod
    def _bindir() -> Path:
        for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
            if (d / "initdb").exists():
                return d
        found = shutil.which("initdb")
        if found:
            return Path(found).resolve().parent
        raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql postgis)")

    def _run(self, cmd: list[str], stdin: str | None = None) -> str:
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        res = subprocess.run(cmd, input=stdin, capture_output=True, text=True, cwd=str(self.root))
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {res.stderr.strip()[-2000:]}")
        return res.stdout

    def psql(self, sql: str) -> str:
        return self._run(["psql", "-h", str(self.root), "-U", "gridgeo", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                          "-At", "-F", "\t", "-q"], stdin=sql)

    def url(self, db: str = "postgres") -> str:
        """A libpq URL of the cluster's database (the socket folder as ``host``)."""
        return f"postgresql:///{db}?host={self.root}&user=gridgeo"

    def stop(self) -> None:
        try:
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


