"""Execution back ends: the same chunk jobs run in-process, on a local Dask cluster or on an existing scheduler.

Model code never changes with the back end; jobs are pure (scenario, treatments, patients, params) -> arrays.
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def executor(workers: int | None = None, scheduler: str | None = None):
    """Yield ``map(func, items) -> list`` for the chosen back end (results in item order)."""
    if scheduler is None and not workers:
        yield lambda f, items: [f(x) for x in items]
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
        yield lambda f, items: client.gather(client.map(f, items, pure=False))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
