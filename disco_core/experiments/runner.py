"""Running a set of independent runs: from the cache, else on local processes or a Dask cluster.

Every run is `simulate.run(config)`, a pure function, so the runs of an
experiment (or of a sweep) can go anywhere in any order: the results are put
back in the order of the configurations. Where they go:

- ``Executor("inline")``: in this process, one after the other;
- ``Executor("local", jobs=N)``: N local worker processes (the default, one per
  host CPU);
- ``Executor("dask", scheduler="tcp://HOST:PORT")``: the workers of a running
  Dask distributed scheduler, or ``Executor("dask", dask_local=N)``: a
  `distributed.LocalCluster` of N worker processes started for the occasion.

Progress goes to a callback (`Progress`): a bar on the terminal for the CLI, a
progress bar in the app. A `cancel` callback, polled a few times a second, stops
the runs: those finished stay cached, the rest are dropped (local worker
processes are terminated) and `run_all` raises `Cancelled`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import IO, Any

from disco_core.errors import DiscoError
from disco_core.experiments import simulate
from disco_core.experiments.cache import ResultCache, build_identity, run_key

EXECUTORS = ("inline", "local", "dask")
POLL_SECONDS = 0.2     # how often a waiting sweep looks at its cancel callback


class Cancelled(DiscoError):
    """The runs were cancelled before they all finished."""

    def __init__(self) -> None:
        super().__init__("the runs were cancelled")


def execute(config: Mapping[str, Any]) -> dict[str, Any]:
    """Simulate one run and wrap its result (what a worker process or a Dask worker runs).

    A run that fails (a guest that did not finish, a bad parameter) comes back
    as ``{"error": message}``, so one bad point of a sweep does not lose the rest.
    """
    try:
        result = simulate.run(config)
    except DiscoError as e:
        return {"error": str(e)}
    return result


@dataclass
class Executor:
    kind: str = "local"
    jobs: int | None = None            # local: worker processes (default: host CPUs)
    scheduler: str | None = None       # dask: tcp://HOST:PORT of a running scheduler
    dask_local: int | None = None      # dask: start a LocalCluster of this many workers

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise DiscoError(f"no executor {self.kind!r}: choose one of {', '.join(EXECUTORS)}")
        if self.kind == "dask" and (self.scheduler is None) == (self.dask_local is None):
            raise DiscoError("a Dask executor needs a scheduler address or --dask-local N")

    def describe(self) -> str:
        if self.kind == "dask":
            return (f"dask scheduler {self.scheduler}" if self.scheduler
                    else f"dask LocalCluster of {self.dask_local} workers")
        if self.kind == "local":
            return f"{self.jobs or os.cpu_count() or 1} local processes"
        return "this process"


Progress = Callable[[int, int, int], None]   # (done, total, cached)
Cancel = Callable[[], bool]                  # True: stop the runs


@dataclass
class Outcome:
    """The results in configuration order, and how many were simulated now."""

    results: list[dict[str, Any]]
    ran: int
    cached: int
    keys: list[str] = field(default_factory=list)
    identity: str = ""


def run_all(configs: Sequence[Mapping[str, Any]], executor: Executor | None = None,
            cache: ResultCache | None = None, progress: Progress | None = None,
            use_cache: bool = True, cancel: Cancel | None = None) -> Outcome:
    """Every configuration's result: cached ones from the cache, the rest simulated."""
    executor = executor or Executor()
    cache = cache or ResultCache()
    identity = build_identity()
    norm = [simulate.normalise(c) for c in configs]
    keys = [run_key(c, identity) for c in norm]
    results: list[dict[str, Any] | None] = [None] * len(norm)
    todo: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        hit = cache.get(k) if use_cache else None
        if hit is not None:
            results[i] = hit
        else:
            todo.setdefault(k, []).append(i)   # the same run twice is simulated once
    cached = len(norm) - sum(len(v) for v in todo.values())
    done = cached
    total = len(norm)
    if progress:
        progress(done, total, cached)

    def finished(key: str, result: dict[str, Any]) -> None:
        nonlocal done
        result = {**result, "config": norm[todo[key][0]], "key": key, "identity": identity}
        if "error" not in result:
            cache.put(key, result)
        for i in todo[key]:
            results[i] = result
        done += len(todo[key])
        if progress:
            progress(done, total, cached)

    stop: Cancel = cancel or (lambda: False)
    pending = [(k, norm[v[0]]) for k, v in todo.items()]
    if pending:
        if executor.kind == "inline":
            for k, c in pending:
                if stop():
                    raise Cancelled()
                finished(k, execute(c))
        elif executor.kind == "local":
            _run_local(pending, executor.jobs or os.cpu_count() or 1, finished, stop)
        else:
            _run_dask(pending, executor, finished, stop)
    assert all(r is not None for r in results)
    return Outcome(results=[r for r in results if r is not None], ran=len(pending),
                   cached=cached, keys=keys, identity=identity)


def _run_local(pending: list[tuple[str, dict[str, Any]]], jobs: int,
               finished: Callable[[str, dict[str, Any]], None], stop: Cancel) -> None:
    import multiprocessing

    # spawn: a fresh interpreter per worker, nothing of this process's machines inherited
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(pending)), mp_context=ctx)
    cancelled = False
    try:
        futures = {pool.submit(execute, c): k for k, c in pending}
        while futures:
            if stop():
                cancelled = True
                raise Cancelled()
            ready, _ = wait(futures, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for f in ready:
                finished(futures.pop(f), f.result())
    finally:
        if cancelled:
            # a run can take minutes: its worker is stopped, not waited for (the
            # pool has no public way to stop a running worker; its processes are ours)
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                p.terminate()
            for p in procs:
                p.join(5)
        else:
            pool.shutdown(wait=True)


def _run_dask(pending: list[tuple[str, dict[str, Any]]], executor: Executor,
              finished: Callable[[str, dict[str, Any]], None], stop: Cancel) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as e:  # pragma: no cover - a dependency of the project
        raise DiscoError(f"Dask distributed is not installed: {e}") from None
    cluster = None
    try:
        if executor.scheduler is not None:
            try:
                client = Client(executor.scheduler, timeout=10)
            except OSError as e:
                raise DiscoError(f"cannot reach the Dask scheduler {executor.scheduler}: "
                                 f"{e}") from None
        else:
            cluster = LocalCluster(n_workers=executor.dask_local, threads_per_worker=1,
                                   processes=True, dashboard_address=None)
            client = Client(cluster)
        try:
            # pure=False: Dask must not merge our runs by its own token; keys are ours
            futures = {client.submit(execute, c, key=f"disco-run-{k}", pure=False): k
                       for k, c in pending}
            for f in as_completed(list(futures)):
                if stop():
                    client.cancel(list(futures))
                    raise Cancelled()
                finished(futures[f], f.result())
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


class TerminalBar:
    """A one-line progress bar on a terminal (a line per step when not a terminal)."""

    def __init__(self, label: str, stream: IO[str] | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = self.stream.isatty()

    def __call__(self, done: int, total: int, cached: int) -> None:
        frac = done / total if total else 1.0
        filled = int(round(frac * self.width))
        bar = "#" * filled + "." * (self.width - filled)
        text = f"{self.label} [{bar}] {done}/{total} runs ({cached} cached)"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if done == total else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
