"""Running communities in processes or on a Dask cluster, failures as findings, and resuming (issue 12)."""

from __future__ import annotations

import gc
import logging
import os
import pickle

import pytest
from test_api import plan_hashes

import gridgeo
from gridgeo.cli import main
from gridgeo.datasets import get_path, sample_town_layers
from gridgeo.parallel import Checkpoint, Failed, available_cpus, run_jobs
from gridgeo.plan import Plan

SAMPLE = get_path("sample_town")


def _square(x):
    if x < 0:
        raise ArithmeticError(f"negative {x}\nsecond line")
    return x * x


def _die(x):
    os._exit(3)  # a worker process that dies (killed, out of memory)


def _frozen_count(x):
    return gc.get_freeze_count()


# -------------------------------------------------------------------------------------------- run_jobs


@pytest.mark.parametrize("workers", [1, 2])
def test_results_in_job_order_and_failures_in_place(workers):
    jobs = [3, -1, 2, 5, -7]
    out = run_jobs(_square, jobs, keys=list("abcde"), workers=workers, order=[3, 0, 4, 2, 1])
    assert out[0] == 9 and out[2] == 4 and out[3] == 25
    assert out[1] == Failed(key="b", error="ArithmeticError: negative -1")
    assert isinstance(out[4], Failed) and out[4].key == "e" and "negative -7" in out[4].details


def test_a_dead_worker_process_fails_its_job_not_the_run():
    out = run_jobs(_die, [1, 2], keys=["x", "y"], workers=2)
    assert all(isinstance(r, Failed) for r in out)
    assert {r.key for r in out} == {"x", "y"}


@pytest.mark.parametrize("workers", [1, 2])
def test_jobs_run_with_the_heap_alive_before_them_set_aside_from_the_collector(workers):
    """The objects alive when run_jobs starts (the input here) are frozen out of the collector's full passes while
    the jobs run, in forked workers too, and given back after, also when a job fails; a caller's own freeze is
    left as it is."""
    alive = [object() for _ in range(1000)]
    assert gc.get_freeze_count() == 0
    out = run_jobs(_frozen_count, [0, 1, 2], workers=workers)
    assert all(n >= len(alive) for n in out)
    assert gc.get_freeze_count() == 0
    run_jobs(_square, [-1], workers=workers)  # a job that raises
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        mine = gc.get_freeze_count()
        assert run_jobs(_frozen_count, [0], workers=workers) == [mine]
        assert gc.get_freeze_count() == mine
    finally:
        gc.unfreeze()


def test_progress_counts_every_job_once():
    seen = []
    run_jobs(_square, [1, 2, 3], workers=1, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_bad_order_and_keys_are_refused():
    with pytest.raises(ValueError, match="permutation"):
        run_jobs(_square, [1, 2], order=[0, 0])
    with pytest.raises(ValueError, match="one key per job"):
        run_jobs(_square, [1, 2], keys=["a"])
    with pytest.raises(gridgeo.InputError, match="at least 1"):
        run_jobs(_square, [1, 2], workers=0)


def test_checkpoint_skips_finished_jobs_and_recomputes_changed_ones(tmp_path):
    cp = Checkpoint(tmp_path / "parts")
    calls = []

    def counting(x):
        calls.append(x)
        return _square(x)

    assert run_jobs(counting, [1, 2, -3], keys=["a", "b", "c"], checkpoint=cp)[:2] == [1, 4]
    assert len(cp) == 2  # the failed job is not kept: a resumed run tries it again
    calls.clear()
    out = run_jobs(counting, [1, 5, -3], keys=["a", "b", "c"], checkpoint=cp)
    assert out[:2] == [1, 25] and isinstance(out[2], Failed)
    assert calls == [5, -3]  # "a" came from the checkpoint; "b" changed its input


def test_checkpoint_ignores_a_broken_file(tmp_path):
    cp = Checkpoint(tmp_path)
    cp.put("a", 1, "kept")
    path = next(tmp_path.glob("a-*.pkl"))
    path.write_bytes(b"not a pickle")
    assert cp.get("a", 1) is None
    path.write_bytes(pickle.dumps("again"))
    assert cp.get("a", 1) == "again"


@pytest.mark.parametrize(("files", "affinity", "expected"), [
    ({"cpu.max": "200000 100000\n"}, 8, 2),          # cgroup v2: 2 CPUs of quota
    ({"cpu.max": "150000 100000\n"}, 8, 2),          # 1.5 CPUs: 2 processes
    ({"cpu.max": "max 100000\n"}, 8, 8),             # no quota
    ({"cpu/cpu.cfs_quota_us": "300000", "cpu/cpu.cfs_period_us": "100000"}, 8, 3),  # cgroup v1
    ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, 8, 8),
    ({"cpu.max": "800000 100000\n"}, 2, 2),          # quota above the CPUs this process may use
    ({}, 4, 4),
])
def test_available_cpus_honours_container_quotas(tmp_path, monkeypatch, files, affinity, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(affinity)))
    assert available_cpus(tmp_path) == expected


# ------------------------------------------------------------------------------------ on the sample town


@pytest.fixture(scope="module")
def single_process_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("par") / "one.gpkg"
    assert main(["partition", "--sample", "--workers", "1", "--quiet", "--out", str(out)]) == 0
    return Plan.read(out)


def test_two_processes_give_the_single_process_plan(single_process_plan, tmp_path):
    out = tmp_path / "two.gpkg"
    assert main(["partition", "--sample", "--workers", "2", "--quiet", "--out", str(out)]) == 0
    assert plan_hashes(Plan.read(out)) == plan_hashes(single_process_plan)


def test_a_dask_local_cluster_gives_the_single_process_plan(single_process_plan, tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed not installed (pip install -e '.[test]')")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster:
        out = tmp_path / "dask.gpkg"
        rc = main(["partition", "--sample", "--scheduler", cluster.scheduler_address, "--quiet", "--out", str(out)])
        assert rc == 0
        assert plan_hashes(Plan.read(out)) == plan_hashes(single_process_plan)
        with distributed.Client(cluster) as client:  # the API takes a client too
            layers = {name: (SAMPLE, name) for name in sample_town_layers()}
            plan = gridgeo.divide(layers.pop("communities"), **layers, scheduler=client)
            assert plan_hashes(plan) == plan_hashes(single_process_plan)


def test_an_unreachable_scheduler_is_one_line(capsys, tmp_path):
    pytest.importorskip("distributed")
    rc = main(["partition", "--sample", "--scheduler", "tcp://127.0.0.1:9", "--quiet", "--out", str(tmp_path / "p.gpkg")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "cannot reach the Dask scheduler" in err[0], err
    assert not (tmp_path / "p.gpkg").exists()


def _failing_for(code):
    from gridgeo.partition import community

    real = community.partition_community

    def patched(job):
        if job["code"] == code:
            raise RuntimeError(f"boom in {code}")
        return real(job)

    return patched


def test_a_failing_community_becomes_a_finding_and_the_rest_is_divided(monkeypatch, single_process_plan, tmp_path,
                                                                       capsys):
    from gridgeo.partition import engine

    grids = single_process_plan.layers["grids"]
    bad = sorted(grids["community_code"].unique())[1]
    monkeypatch.setattr(engine, "partition_community", _failing_for(bad))
    out = tmp_path / "failed.gpkg"
    rc = main(["partition", "--sample", "--workers", "1", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and f"could not be divided ({bad})" in err, err
    plan = Plan.read(out)
    f = plan.layers["findings"]
    failed = f[f["type"] == "community_failed"]
    assert failed["community_code"].tolist() == [bad] and "RuntimeError: boom in" in failed["message"].iloc[0]
    assert (failed["severity"] == "error").all()
    got = plan.layers["grids"]
    # its dedicated grids (专属网格) are carved before the partition and stay; it has no base grid
    assert not ((got["community_code"] == bad) & (got["kind"] == "base")).any()
    assert ((grids["community_code"] == bad) & (grids["kind"] == "base")).any()
    kept = grids[(grids["community_code"] != bad) | (grids["kind"] == "dedicated")]
    assert sorted(got["grid_code"]) == sorted(kept["grid_code"])  # every other grid as before
    b = plan.layers["buildings"]
    dedicated = set(got.loc[got["kind"] == "dedicated", "grid_code"])
    theirs = b[(b["community_code"] == bad) & ~b["grid_code"].isin(dedicated)]
    assert len(theirs) and theirs["grid_code"].isna().all()


def test_an_interrupted_run_resumes_without_redoing_finished_communities(monkeypatch, single_process_plan, tmp_path,
                                                                         capsys):
    from gridgeo.partition import community, engine

    real = community.partition_community
    codes = sorted(single_process_plan.layers["communities"]["code"])
    calls: list[str] = []

    def interrupt_after_three(job):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(job["code"])
        return real(job)

    monkeypatch.setattr(engine, "partition_community", interrupt_after_three)
    out = tmp_path / "resumed.gpkg"
    args = ["partition", "--sample", "--workers", "1", "--quiet", "--out", str(out)]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert "3 communities already divided are kept" in err and "--resume" in err, err
    assert not out.exists()

    first = list(calls)
    calls.clear()
    monkeypatch.setattr(engine, "partition_community", lambda job: (calls.append(job["code"]), real(job))[1])
    assert main([*args, "--resume"]) == 0
    assert sorted(first + calls) == codes  # each community divided once over the two runs
    assert plan_hashes(Plan.read(out)) == plan_hashes(single_process_plan)
    assert not (tmp_path / f".{out.name}.communities").exists()  # removed once the plan is written


def test_without_resume_an_earlier_runs_communities_are_not_taken(monkeypatch, tmp_path):
    out = tmp_path / "p.gpkg"
    folder = tmp_path / f".{out.name}.communities"
    folder.mkdir()
    (folder / "stale.pkl").write_bytes(b"x")
    from gridgeo.partition import community, engine

    calls = []
    real = community.partition_community
    monkeypatch.setattr(engine, "partition_community", lambda job: (calls.append(1), real(job))[1])
    assert main(["partition", "--sample", "--workers", "1", "--quiet", "--out", str(out)]) == 0
    assert len(calls) == 9 and not folder.exists()  # all nine communities of the sample town divided


@pytest.mark.parametrize(("address", "fragment"), [
    ("foo bar", "missing port number"),
    ("http://127.0.0.1:9", "http:// is not a Dask protocol"),
    ("tcp://host", "missing port number"),
])
def test_a_malformed_scheduler_address_is_one_line(capsys, tmp_path, address, fragment):
    pytest.importorskip("distributed")
    rc = main(["partition", "--sample", "--scheduler", address, "--quiet", "--out", str(tmp_path / "p.gpkg")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and fragment in err[0] and "tcp://HOST:PORT" in err[0], err


def test_redivision_refuses_scheduler_and_resume_it_would_not_honour(single_process_plan, tmp_path, capsys):
    prev = tmp_path / "prev.gpkg"
    single_process_plan.write(prev)
    base = ["partition", "--sample", "--quiet", "--previous", str(prev), "--out", str(tmp_path / "p.gpkg")]
    assert main([*base, "--resume"]) == 2
    assert "--resume with --previous" in capsys.readouterr().err
    assert main([*base, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "--scheduler with --previous" in capsys.readouterr().err
    assert not (tmp_path / "p.gpkg").exists()


def test_when_every_community_fails_the_error_says_so_and_nothing_is_written(monkeypatch, tmp_path, capsys):
    # it used to stop at the self-check with "the grid layer has no features; check the file and --layer"
    import geopandas as gpd
    from shapely import box

    from gridgeo.partition import engine

    crs = "EPSG:4547"
    path = tmp_path / "town.gpkg"
    gpd.GeoDataFrame({"code": ["420106018003"], "name": ["一社区"]}, geometry=[box(0, 0, 400, 200)],
                     crs=crs).to_file(path, layer="communities")
    gpd.GeoDataFrame({"building_id": [f"b{i}" for i in range(8)], "households": [100] * 8},
                     geometry=[box(20 + 45 * i, 50, 50 + 45 * i, 80) for i in range(8)], crs=crs).to_file(path, layer="buildings")

    def boom(job):
        raise RuntimeError(f"boom in {job['code']}")

    monkeypatch.setattr(engine, "partition_community", boom)
    out = tmp_path / "plan.gpkg"
    rc = main(["partition", "--communities", str(path), "--communities-layer", "communities", "--buildings", str(path),
               "--buildings-layer", "buildings", "--workers", "1", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "no community could be divided, nothing was written: community 420106018003: dividing it failed" in err
    assert "RuntimeError: boom in 420106018003" in err and "has no features" not in err
    assert "the other communities were divided" not in err
    assert not out.exists()


_KERNEL_LOADS = r'''
import importlib, os, sys
import geopandas as gpd
from shapely import Point, box
from gridgeo.partition import _fast, partition
from gridgeo.pipeline import _warm_kernels

real = importlib.import_module
def counting(name, *a, **k):
    if name.endswith("._kernels"):
        with open(sys.argv[1], "a") as f:
            f.write(f"{os.getpid()}\n")
    return real(name, *a, **k)
importlib.import_module = counting
steps = []
if sys.argv[2] == "pipeline":
    _warm_kernels(steps.append, None)
    _warm_kernels(steps.append, None)  # loaded: no second step
crs = "EPSG:4547"
codes = [f"42010300100{i}" for i in range(4)]
c = gpd.GeoDataFrame({"code": codes, "name": codes, "kind": ["urban"] * 4},
                     geometry=[box(200 * i, 0, 200 * i + 200, 100) for i in range(4)], crs=crs)
k = gpd.GeoDataFrame({"block_id": [f"{x}-B1" for x in codes], "community_code": codes}, geometry=list(c.geometry), crs=crs)
b = gpd.GeoDataFrame({"building_id": [f"b{i}{j}" for i in range(4) for j in range(8)],
                      "households": [100] * 32, "community_code": [x for x in codes for _ in range(8)],
                      "block_id": [f"{x}-B1" for x in codes for _ in range(8)]},
                     geometry=[Point(200 * i + 12 + 25 * j, 50) for i in range(4) for j in range(8)], crs=crs)
r = partition(c, k, b, workers=2)
import json
print(os.getpid(), len(r.grids), json.dumps(steps))
'''


@pytest.mark.skipif(not __import__("gridgeo.partition._fast", fromlist=["AVAILABLE"]).AVAILABLE,
                    reason="numba not installed or turned off (GRIDGEO_NO_NUMBA): no compiled kernels to load")
@pytest.mark.parametrize("how", ["engine", "pipeline"])
def test_local_workers_inherit_the_compiled_kernels_loaded_once(tmp_path, how):
    """The compiled kernels are loaded (compiled, on the first run after installing) once, in the main process,
    before local workers are forked: before, each worker compiled them on its own, doubling the first run's
    minutes of compilation with two workers. The pipeline says so as a step of its own."""
    import json
    import subprocess
    import sys

    loads = tmp_path / "loads.txt"
    script = tmp_path / "run.py"
    script.write_text(_KERNEL_LOADS, encoding="utf-8")
    r = subprocess.run([sys.executable, str(script), str(loads), how], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    pid, grids, steps = r.stdout.split(maxsplit=2)
    assert int(grids) >= 4
    assert set(loads.read_text().split()) == {pid}, "the kernels were loaded in a worker process, not once in the main one"
    expected = (["loading the partition's compiled kernels (the first run after installing gridgeo compiles them: "
                 "a few minutes, once)"] if how == "pipeline" else [])
    assert json.loads(steps) == expected


def test_resume_says_when_the_kept_communities_were_divided_from_other_settings(monkeypatch, tmp_path, capsys):
    # they used to be divided again without a word, as if --resume had taken them
    import geopandas as gpd
    from shapely import box

    from gridgeo.partition import community, engine

    crs = "EPSG:4547"
    path = tmp_path / "town.gpkg"
    gpd.GeoDataFrame({"code": ["420106018003", "420106018004"], "name": ["一社区", "二社区"]},
                     geometry=[box(0, 0, 400, 200), box(0, 200, 400, 400)], crs=crs).to_file(path, layer="communities")
    gpd.GeoDataFrame({"building_id": [f"b{i}" for i in range(16)], "households": [100] * 16},
                     geometry=[box(20 + 45 * (i % 8), 50 + 200 * (i // 8), 50 + 45 * (i % 8), 80 + 200 * (i // 8))
                               for i in range(16)], crs=crs).to_file(path, layer="buildings")
    real = community.partition_community
    calls: list[str] = []

    def interrupt_after_one(job):
        if calls:
            raise KeyboardInterrupt
        calls.append(job["code"])
        return real(job)

    monkeypatch.setattr(engine, "partition_community", interrupt_after_one)
    out = tmp_path / "plan.gpkg"
    args = ["partition", "--communities", str(path), "--communities-layer", "communities", "--buildings", str(path),
            "--buildings-layer", "buildings", "--workers", "1", "--quiet", "--out", str(out)]
    assert main(args) == 130
    assert "1 community already divided is kept" in capsys.readouterr().err
    calls.clear()
    monkeypatch.setattr(engine, "partition_community", lambda job: (calls.append(job["code"]), real(job))[1])
    assert main([*args, "--resume", "--rules", "rural"]) == 0  # other settings: the kept community is not taken
    err = capsys.readouterr().err
    assert len(calls) == 2
    assert ("--resume: 1 community kept from an earlier run was divided with other inputs or settings and was "
            "divided again") in err, err
    calls.clear()
    monkeypatch.setattr(engine, "partition_community", interrupt_after_one)
    assert main([*args, "--force"]) == 130  # the default settings again: one kept
    capsys.readouterr()
    calls.clear()
    monkeypatch.setattr(engine, "partition_community", lambda job: (calls.append(job["code"]), real(job))[1])
    assert main([*args, "--force", "--resume"]) == 0
    assert len(calls) == 1 and "kept from an earlier run" not in capsys.readouterr().err  # taken: nothing to say


def test_workers_beyond_the_cpus_are_capped_with_a_note(monkeypatch, tmp_path, capsys):
    """``--workers 999`` started one process per community whatever the CPUs; now at most the CPUs this process may
    use (here 1: the communities are divided in this process), with one line saying so."""
    import geopandas as gpd
    from shapely import box

    import gridgeo.cli
    import gridgeo.parallel

    crs = "EPSG:4547"
    path = tmp_path / "town.gpkg"
    gpd.GeoDataFrame({"code": ["420106018003", "420106018004"], "name": ["一社区", "二社区"]},
                     geometry=[box(0, 0, 400, 200), box(400, 0, 800, 200)], crs=crs).to_file(path, layer="communities")
    gpd.GeoDataFrame({"building_id": [f"b{i}" for i in range(16)], "households": [100] * 16},
                     geometry=[box(20 + 45 * i + 40 * (i // 8), 50, 50 + 45 * i + 40 * (i // 8), 80) for i in range(16)],
                     crs=crs).to_file(path, layer="buildings")
    pools = []
    real = gridgeo.parallel._run_processes
    monkeypatch.setattr(gridgeo.parallel, "_run_processes", lambda func, out, todo, workers: (
        pools.append(workers), real(func, out, todo, workers))[1])
    monkeypatch.setattr(gridgeo.cli, "_cpus", lambda: 1)
    args = ["partition", "--communities", str(path), "--communities-layer", "communities", "--buildings", str(path),
            "--buildings-layer", "buildings", "--quiet"]
    assert main([*args, "--workers", "999", "--out", str(tmp_path / "capped.gpkg")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert pools == []
    assert [e for e in err if "--workers" in e] == [
        "gridgeo: --workers 999 is more than the 1 CPU this process may use; running 1 process"]
    assert main([*args, "--workers", "1", "--out", str(tmp_path / "one.gpkg")]) == 0
    assert not [e for e in capsys.readouterr().err.splitlines() if "--workers" in e]
    assert plan_hashes(Plan.read(tmp_path / "capped.gpkg")) == plan_hashes(Plan.read(tmp_path / "one.gpkg"))


def test_resume_counts_communities_not_the_files_kept_for_them(tmp_path):
    """A community kept under two fingerprints (divided before and after a change, the run interrupted each time)
    is one community: ``--resume`` said "9 communities … were divided again" of the sample town after a change of
    rules when 8 were (the ninth, a village, has the rural rules under both, and was taken)."""
    cp = Checkpoint(tmp_path / "parts")
    cp.put("420981190003", {"households": 1}, "before")
    cp.put("420981190003", {"households": 8}, "after")
    cp.put("420981190201", {"households": 1}, "village")
    assert len(cp) == 2
    assert cp.get("420981190003", {"households": 1}) == "before" and cp.get("420981190003", {"households": 8}) == "after"
