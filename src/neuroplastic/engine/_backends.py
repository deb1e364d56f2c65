"""Execution back ends: the same chunk jobs run in-process, in a local process pool, on a local Dask cluster or on
an existing scheduler.

Model code never changes with the back end; jobs are pure (scenario, treatments, patients, params) -> arrays, and
every patient's numbers depend only on that patient, so results are identical whichever back end runs them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

AUTO_PARALLEL_MIN = 20_000  # patients: below this a cohort runs in-process unless workers are asked for


def available_cpus() -> int:
    """CPUs this process may run on (``NEUROPLASTIC_PROCESSES`` overrides; 1 disables the automatic pool)."""
    env = os.environ.get("NEUROPLASTIC_PROCESSES")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def auto_processes(n_jobs: int, n_patients: int) -> int:
    """Worker processes for the default back end: every CPU for big cohorts, none (in-process) otherwise."""
    if n_jobs < 2 or n_patients < AUTO_PARALLEL_MIN:
        return 0
    cpus = available_cpus()
    return min(cpus, n_jobs) if cpus > 1 else 0


def _pool_context(mp):
    """fork where it is safe (no other thread alive, so no lock can be inherited held; scripts need no
    ``if __name__ == "__main__"`` guard), else forkserver (the CLI, whose progress display runs a thread)."""
    import threading

    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return mp.get_context("fork")
    ctx = mp.get_context("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["neuroplastic.engine._simulate"])
    return ctx


@contextmanager
def executor(workers: int | None = None, scheduler: str | None = None, processes: int = 0):
    """Yield ``imap(func, items)``: an iterator over the results, in item order, as they become available.

    ``scheduler``: an existing Dask scheduler; ``workers``: a local Dask cluster of that many worker processes;
    ``processes``: a local process pool (concurrent.futures); otherwise in-process.
    """
    if scheduler is None and not workers:
        if processes and processes > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            ctx = _pool_context(mp)
            with ProcessPoolExecutor(max_workers=int(processes), mp_context=ctx) as pool:
                def imap(f, items):
                    from collections import deque
                    futures = deque(pool.submit(f, x) for x in items)
                    while futures:  # a finished chunk is dropped here as soon as the caller has it
                        yield futures.popleft().result()
                yield imap
            return
        yield lambda f, items: (f(x) for x in items)
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        client = Client(cluster)
    try:
        def imap(f, items):
            futures = client.map(f, list(items), pure=False)
            for fut in futures:
                yield fut.result()
                fut.release()
        yield imap
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
