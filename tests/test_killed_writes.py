"""A run killed (SIGKILL) while writing its --out leaves a temporary file beside it; the next run removes it.

Only files gridgeo names so (``.NAME.gridgeo-HOST-PID-XXXXXXXX.SUFFIX``, :func:`gridgeo.io.temporary_prefix`) and
only when their process is gone: a run writing the same path now, a file of another machine, a user's own file
stay."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import geopandas as gpd
import pytest
from shapely import box

from gridgeo.io import remove_stale_temporaries, temporary_prefix
from gridgeo.plan import write_gpkg_atomic

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}

pytestmark = pytest.mark.skipif(os.name == "nt", reason="SIGKILL and process ids as on POSIX")

# a run killed while writing: its write function has begun the temporary file (and its SQLite journal) when killed
KILLED = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from gridgeo.io import atomic_write

    def write(tmp):
        Path(tmp).write_bytes(b"half a GeoPackage")
        Path(tmp + "-journal").write_bytes(b"")
        os.kill(os.getpid(), signal.SIGKILL)

    atomic_write(Path(sys.argv[1]), write)
""")


def killed_while_writing(out: Path) -> list[str]:
    """Run a process that is killed while writing ``out``; the names it left beside it."""
    p = subprocess.run([sys.executable, "-c", KILLED, str(out)], env=ENV, cwd=REPO, capture_output=True, check=False)
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()
    left = sorted(os.listdir(out.parent))
    assert left and not out.exists()
    return left


def communities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"code": ["420103001001"], "name": ["东湖社区"], "kind": ["urban"]},
                            geometry=[box(114.30, 30.55, 114.301, 30.551)], crs=4490)


def test_the_next_write_of_the_same_path_removes_what_a_killed_run_left(tmp_path):
    out = tmp_path / "plan.gpkg"
    left = killed_while_writing(out)
    assert len(left) == 2 and all(n.startswith(".plan") for n in left)  # the file and its journal
    write_gpkg_atomic(out, {"communities": communities()})
    assert sorted(os.listdir(tmp_path)) == ["plan.gpkg"]


def test_the_cli_says_what_it_removed(tmp_path):
    out = tmp_path / "b.gpkg"
    (left, _) = killed_while_writing(out)
    p = subprocess.run([sys.executable, "-m", "gridgeo", "blocks", "--sample", "--out", str(out), "--quiet"],
                       env=ENV, cwd=REPO, capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(tmp_path)) == ["b.gpkg"]
    notes = [line for line in p.stderr.splitlines() if "killed while writing" in line]
    assert len(notes) == 2 and left in notes[0]  # the file and its journal, one line each


def test_only_files_of_dead_gridgeo_processes_of_this_machine_are_removed(tmp_path):
    out = tmp_path / "plan.gpkg"
    (dead, _) = killed_while_writing(out)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        prefix = temporary_prefix(out)
        host = prefix.split("-")[1]
        running = prefix.replace(f"-{os.getpid()}-", f"-{live.pid}-") + "abcd1234.gpkg"  # a run writing it now
        mine = prefix + "efgh5678.gpkg"  # this process's own
        other_host = prefix.replace(f"-{host}-", f"-{host}x-") + "ijkl9012.gpkg"  # another machine's (a shared folder)
        users = [".plan.gpkg.gridgeo-notes.gpkg", ".plan-5hmael47.gpkg", "plan.gridgeo-1-abcd1234.gpkg",
                 ".other.gpkg" + prefix[len(".plan.gpkg"):] + "mnop3456.gpkg"]
        for name in (running, mine, other_host, *users):
            (tmp_path / name).write_bytes(b"")
        removed = remove_stale_temporaries(out)
        assert sorted(p.name for p, _ in removed) == sorted([dead, dead + "-journal"])
        assert sorted(os.listdir(tmp_path)) == sorted([running, mine, other_host, *users])
    finally:
        live.kill()
        live.wait()
    assert [p.name for p, _ in remove_stale_temporaries(out)] == [running]  # its process gone now


def test_export_removes_the_folder_a_killed_export_left(tmp_path):
    from gridgeo.export import export
    from gridgeo.plan import Plan

    out = tmp_path / "exported"
    script = KILLED.replace("from gridgeo.io import atomic_write", "import tempfile\nfrom gridgeo.io import temporary_prefix")
    script = script.replace("atomic_write(Path(sys.argv[1]), write)",
                            "out = Path(sys.argv[1])\nwrite(tempfile.mkdtemp(prefix=temporary_prefix(out), dir=out.parent) + '/x')")
    p = subprocess.run([sys.executable, "-c", script, str(out)], env=ENV, cwd=REPO, capture_output=True, check=False)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert len(os.listdir(tmp_path)) == 1
    export(Plan({"communities": communities()}), out, format="geojson")
    assert os.listdir(tmp_path) == ["exported"]


# a run writing ``out`` now, in a process-id namespace of its own (a container sharing the folder and the machine's
# name): its process id, PID, means nothing here
WRITING_ELSEWHERE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from gridgeo.io import atomic_write

    def write(tmp):
        Path(tmp).write_bytes(b"half a GeoPackage")
        print(Path(tmp).name, flush=True)
        time.sleep(60)

    atomic_write(Path(sys.argv[1]), write)
""")


def _unshare() -> list[str] | None:
    """The command running another in a process-id namespace of its own (a container's), if this system allows it."""
    cmd = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child"]
    try:
        ok = subprocess.run([*cmd, "true"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return cmd if ok else None


def _free_pid() -> int:
    """A process id no process of this namespace has now."""
    for pid in range(30000, 300, -1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            continue
    raise AssertionError("no free process id")


@pytest.mark.skipif(not sys.platform.startswith("linux") or _unshare() is None,
                    reason="needs unshare of a user and pid namespace (Linux)")
def test_a_live_run_of_another_process_namespace_is_left_alone(tmp_path):
    out = tmp_path / "plan.gpkg"
    pid = _free_pid()  # the writer's id in its namespace, a process id that does not run in this one
    inner = f"echo {pid - 1} > /proc/sys/kernel/ns_last_pid && {sys.executable} -c \"$0\" \"$1\""
    w = subprocess.Popen([*_unshare(), "sh", "-c", inner, WRITING_ELSEWHERE, str(out)], env=ENV, cwd=REPO,
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        name = w.stdout.readline().strip()
        assert f"-{pid}-" in name, name
        assert remove_stale_temporaries(out) == []
        assert os.listdir(tmp_path) == [name]
    finally:
        os.killpg(w.pid, signal.SIGKILL)  # the namespace's processes with it
        w.wait()
