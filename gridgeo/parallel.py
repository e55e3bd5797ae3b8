"""Running one job per community: in this process, in local worker processes, or on a Dask cluster.

Communities are independent (DESIGN.md §2), so the partition is a map of one function over one job per
community. :func:`run_jobs` is that map, whatever runs it:

- ``workers=1``: in this process, in order;
- ``workers=N``: ``N`` local processes (:class:`concurrent.futures.ProcessPoolExecutor`);
- ``scheduler=ADDRESS`` (or a ``distributed.Client``): the workers of an existing Dask distributed cluster,
  through ``dask.distributed`` itself (no scheduling of our own).

Each job carries only its own community's blocks, buildings and streets, so what is sent to a worker is
one community's data, never the whole input. Results come back in the order of the jobs, so the plan is
the same whatever ran it. A job that raises does not stop the others: its place holds a :class:`Failed`
with the error, which the caller reports (the partition turns it into a ``community_failed`` finding).
With a :class:`Checkpoint`, each finished result is stored as it arrives, and a later run with the same
inputs takes it from there instead of computing it again (``gridgeo partition --resume``).

Examples
--------
>>> def square(x):
...     if x == 3:
...         raise ValueError("three is not allowed")
...     return x * x
>>> out = run_jobs(square, [1, 2, 3, 4], keys=["a", "b", "c", "d"])
>>> out[:2], out[3]
([1, 4], 16)
>>> out[2]
Failed(key='c', error='ValueError: three is not allowed')
"""

from __future__ import annotations

import gc
import hashlib
import math
import multiprocessing
import os
import pickle
import shutil
import signal
import tempfile
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._errors import InputError

__all__ = ["Checkpoint", "Failed", "available_cpus", "run_jobs"]


@dataclass(frozen=True)
class Failed:
    """The place of a job that raised: its key and the error as one line (the traceback kept apart)."""

    key: str
    error: str
    details: str = field(default="", repr=False, compare=False)


def available_cpus(cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup") -> int:
    """CPUs this process may use: its CPU affinity, capped by a container's CPU quota (cgroup v2 or v1).

    A container limited to 2 CPUs on a 64-core host gets 2, not 64 (``os.cpu_count()`` would say 64).

    >>> available_cpus() >= 1
    True
    """
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    quota = _cgroup_quota(Path(cgroup_root))
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def _cgroup_quota(root: Path) -> float | None:
    """CPUs allowed by the cgroup quota (``cpu.max`` of v2, ``cpu.cfs_quota_us`` of v1), or None when unlimited."""
    try:
        text = (root / "cpu.max").read_text().split()
        if len(text) == 2 and text[0] != "max":
            return int(text[0]) / int(text[1])
        if text:
            return None
    except (OSError, ValueError):
        pass
    for folder in (root / "cpu", root / "cpu,cpuacct", root):
        try:
            q = int((folder / "cpu.cfs_quota_us").read_text())
            p = int((folder / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return q / p if q > 0 and p > 0 else None
    return None


class Checkpoint:
    """Finished job results kept in a folder, so that an interrupted run resumes where it stopped.

    Each result is stored under its job's key and a fingerprint of the job itself (its inputs and
    settings, pickled) with the gridgeo version: a job whose inputs changed is computed again. Files are
    written atomically, so a run interrupted while storing leaves no half-written result.

    >>> import tempfile
    >>> cp = Checkpoint(Path(tempfile.mkdtemp()) / "parts")
    >>> cp.get("a", {"x": 1}) is None
    True
    >>> cp.put("a", {"x": 1}, 42); cp.get("a", {"x": 1})
    42
    >>> cp.get("a", {"x": 2}) is None      # other inputs: computed again
    True
    >>> cp.put("a", {"x": 2}, 43); len(cp)  # jobs kept, not files
    1
    >>> cp.remove(); cp.folder.exists()
    False
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.taken = 0  # results handed out by :meth:`get` (a resumed run tells how many it could not take)

    @staticmethod
    def fingerprint(job: Any) -> str:
        from . import __version__

        h = hashlib.sha256(__version__.encode())
        h.update(pickle.dumps(job, protocol=5))
        return h.hexdigest()[:32]

    def _path(self, key: str, job: Any, fingerprint: str | None = None) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(key))
        return self.folder / f"{safe}-{fingerprint or self.fingerprint(job)}.pkl"

    def get(self, key: str, job: Any, *, fingerprint: str | None = None) -> Any | None:
        """The kept result of ``job`` (None when there is none); ``fingerprint``: the job's, when known."""
        path = self._path(key, job, fingerprint)
        try:
            with path.open("rb") as fh:
                result = pickle.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            return None  # unreadable (another version, a broken disk): compute it again
        self.taken += 1
        return result

    def put(self, key: str, job: Any, result: Any, *, fingerprint: str | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(key, job, fingerprint)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(result, fh, protocol=5)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __len__(self) -> int:
        """The jobs (keys) with a result kept: a job kept again with other inputs counts once."""
        return len({p.name.rsplit("-", 1)[0] for p in self.folder.glob("*.pkl")}) if self.folder.is_dir() else 0

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _call(func: Callable[[Any], Any], job: Any, key: str) -> Any:
    try:
        return func(job)
    except Exception as exc:  # reported as the job's Failed; KeyboardInterrupt and SystemExit go on
        return _failed(key, exc)


def _failed(key: str, exc: BaseException) -> Failed:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    error = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    details = "".join(traceback.format_exception(exc))
    return Failed(key=str(key), error=error, details=details)


def run_jobs(
    func: Callable[[Any], Any],
    jobs: Sequence[Any],
    *,
    keys: Sequence[str] | None = None,
    workers: int = 1,
    scheduler: Any = None,
    progress: Callable[[int, int], None] | None = None,
    checkpoint: Checkpoint | None = None,
    order: Sequence[int] | None = None,
) -> list[Any]:
    """``[func(job) for job in jobs]``, run where asked; a job that raises gives a :class:`Failed` in its place.

    Parameters
    ----------
    func
        A module-level function (it is pickled to reach other processes).
    jobs
        One picklable job each.
    keys
        A name per job (the community code): in :class:`Failed` and checkpoint files. Default: the position.
    workers
        Local processes (1: in this process). Ignored with ``scheduler``.
    scheduler
        A Dask distributed scheduler address (``tcp://host:8786``) or a ``distributed.Client``.
    progress
        Called as ``progress(done, total)`` as jobs finish (checkpointed ones count as done at the start).
    checkpoint
        Where finished results are kept and taken from (see :class:`Checkpoint`).
    order
        The order to start jobs in (e.g. the largest first, so no worker is left with a big one at the end);
        results are still returned in the order of ``jobs``.

    Returns
    -------
    list
        One result or :class:`Failed` per job, in the order of ``jobs``.
    """
    n = len(jobs)
    keys = [str(i) for i in range(n)] if keys is None else [str(k) for k in keys]
    if len(keys) != n:
        msg = f"run_jobs: {len(keys)} keys for {n} jobs; give one key per job"
        raise ValueError(msg)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        msg = f"workers={workers!r} must be a whole number of processes, at least 1"
        raise InputError(msg)
    todo = list(range(n)) if order is None else [int(i) for i in order]
    if sorted(todo) != list(range(n)):
        msg = "run_jobs: order must be a permutation of the job positions"
        raise ValueError(msg)
    out = _Results(jobs, keys, progress, checkpoint)
    todo = out.take_checkpointed(todo)
    with _heap_set_aside():
        if scheduler is not None:
            _run_dask(func, out, todo, scheduler)
        elif workers > 1 and len(todo) > 1:
            _run_processes(func, out, todo, min(workers, len(todo)))
        else:
            for i in todo:
                out.finish(i, _call(func, jobs[i], keys[i]))
    return out.results


@contextmanager
def _heap_set_aside() -> Iterator[None]:
    """The objects alive on entry (the inputs, the jobs, the loaded modules and compiled kernels: about 200,000 on a
    district) left out of the garbage collector's full passes until exit (``gc.freeze`` / ``gc.unfreeze``): each
    pass otherwise walks them all again, about 6% of a district's partition CPU. Nothing is freed later that
    reference counting frees (only cycles among those objects wait for the exit); forked workers inherit the set
    aside. A heap the caller froze itself is left as it is."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class _Results:
    """The results as they come in: in job order, counted for progress, stored in the checkpoint."""

    def __init__(self, jobs, keys, progress, checkpoint) -> None:
        self.jobs, self.keys, self.progress, self.checkpoint = jobs, keys, progress, checkpoint
        self.results: list[Any] = [None] * len(jobs)
        self.done: set[int] = set()
        self.prints: dict[int, str] = {}  # each job's fingerprint, computed once (a job is pickled to compute it)

    def take_checkpointed(self, todo: list[int]) -> list[int]:
        if self.checkpoint is None:
            return todo
        left = []
        for i in todo:
            self.prints[i] = self.checkpoint.fingerprint(self.jobs[i])
            got = self.checkpoint.get(self.keys[i], self.jobs[i], fingerprint=self.prints[i])
            if got is None:
                left.append(i)
            else:
                self.results[i] = got
                self.done.add(i)
        if self.done and self.progress is not None:
            self.progress(len(self.done), len(self.jobs))
        return left

    def finish(self, i: int, res: Any) -> None:
        self.results[i] = res
        self.done.add(i)
        if self.checkpoint is not None and not isinstance(res, Failed):
            self.checkpoint.put(self.keys[i], self.jobs[i], res, fingerprint=self.prints.get(i))
        if self.progress is not None:
            self.progress(len(self.done), len(self.jobs))


def _run_processes(func, out: _Results, todo: list[int], workers: int) -> None:
    """Run ``todo`` on ``workers`` processes. A worker that dies (killed, out of memory) breaks the pool: the
    jobs it was running are tried again one at a time, so that only the one that kills its process fails."""
    queue = list(todo)
    context = None  # the platform's default (fork on Linux: workers share the inputs loaded so far)
    while queue:
        suspects = _run_pool(func, out, queue, workers, context)
        queue = [i for i in queue if i not in out.done and i not in suspects]
        # after a broken pool, new workers start from a fresh server process: forking this one again while the
        # broken pool's threads may still hold locks can deadlock the new workers
        context = context or multiprocessing.get_context("forkserver")
        for i in suspects:
            if _run_pool(func, out, [i], 1, context):
                out.finish(i, Failed(key=out.keys[i], error="the worker process dividing it died (killed, or out of memory)"))


def _quiet_interrupt() -> None:
    """In a worker: Ctrl-C ends it at once, without a traceback (the main process reports the interrupt)."""
    signal.signal(signal.SIGINT, lambda signum, frame: os._exit(130))


def _run_pool(func, out: _Results, queue: list[int], workers: int, context: Any = None) -> list[int]:
    """Run the jobs of ``queue``; returns the jobs in flight when the pool broke (none if it held)."""
    from concurrent.futures.process import BrokenProcessPool

    left = [i for i in queue if i not in out.done]
    pending: dict[Any, int] = {}
    extra = {} if context is None else {"mp_context": context, "initializer": _quiet_interrupt}
    with ProcessPoolExecutor(max_workers=min(workers, len(left)), **extra) as pool:
        try:
            # keep a few jobs queued per worker, not every community's data in the pipe at once
            while left or pending:
                while left and len(pending) < 2 * workers:
                    i = left.pop(0)
                    pending[pool.submit(_call, func, out.jobs[i], out.keys[i])] = i
                ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in sorted(ready, key=lambda f: pending[f]):
                    out.finish(pending[fut], fut.result())
                    del pending[fut]
        except BrokenProcessPool:
            return sorted(set(pending.values()) - out.done)
    return []


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def _check_address(address: Any) -> None:
    """A Dask scheduler address such as ``tcp://10.0.0.5:8786``, or a one-line InputError."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    hint = "give it as tcp://HOST:PORT (the address `dask scheduler` prints, port 8786 by default)"
    if not isinstance(address, str) or not address.strip():
        msg = f"--scheduler {address!r} is not a Dask scheduler address; {hint}"
        raise InputError(msg)
    try:
        scheme, loc = parse_address(address.strip())
        if scheme in ("tcp", "tls"):
            parse_host_port(loc)
    except ValueError as exc:
        msg = f"--scheduler {address!r} is not a Dask scheduler address ({exc}); {hint}"
        raise InputError(msg) from None
    if scheme not in _SCHEMES:
        msg = f"--scheduler {address!r}: {scheme}:// is not a Dask protocol (one of {', '.join(_SCHEMES)}); {hint}"
        raise InputError(msg)


def _run_dask(func, out: _Results, todo: list[int], scheduler: Any) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        msg = "--scheduler needs dask.distributed: pip install 'distributed'"
        raise InputError(msg) from exc
    own = not isinstance(scheduler, Client)
    if own:
        _check_address(scheduler)
        try:
            client = Client(scheduler, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            msg = (f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one (`dask scheduler`) "
                   "or give its address as tcp://HOST:8786")
            raise InputError(msg) from exc
    else:
        client = scheduler
    try:
        futures = {}
        for i in todo:
            # the key names the community, so the dashboard shows which one runs
            fut = client.submit(_call, func, out.jobs[i], out.keys[i], key=f"gridgeo-{out.keys[i]}-{uuid.uuid4().hex[:12]}")
            futures[fut] = i
        for fut in as_completed(list(futures), loop=client.loop):
            i = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # the worker was lost
                res = _failed(out.keys[i], exc)
            out.finish(i, res)
            fut.release()
    finally:
        if own:
            client.close()
