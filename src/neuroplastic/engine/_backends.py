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
    least = int(os.environ.get("NEUROPLASTIC_POOL_MIN") or AUTO_PARALLEL_MIN)  # tests force the pool on small cohorts
    if n_jobs < 2 or n_patients < least:
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
            pool = ProcessPoolExecutor(max_workers=int(processes), mp_context=ctx, initializer=_ignore_signals)
            from collections import deque
            queue = deque()
            try:
                def imap(f, items):
                    queue.extend(pool.submit(f, x) for x in items)
                    while queue:  # a finished chunk is dropped here as soon as the caller has it
                        yield queue.popleft().result()
                yield imap
            except BaseException:  # Ctrl-C, SIGTERM, a failed chunk: stop now, not after the queued chunks
                _stop_pool(pool, queue)
                raise
            else:
                pool.shutdown(wait=True)
            return
        yield lambda f, items: (f(x) for x in items)
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler)
        cluster = None
    else:
        import dask

        # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in its workers, so glibc gives freed memory back to the
        # system at almost every free: with the engine's many short-lived arrays that costs as much system time as
        # the work itself (an 8-candidate batch: 52.9 s with it, 32.3 s without, one process). The workers keep
        # glibc's own adaptive thresholds instead (a value the user exports still reaches them).
        with _signals_ignored_by_children(), \
                dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=None)
        client = Client(cluster)
    futures = []
    try:
        def imap(f, items):
            futures.extend(client.map(f, list(items), pure=False))
            for fut in futures:
                yield fut.result()
                fut.release()
        yield imap
    except BaseException:
        _stop_dask(client, cluster, futures)
        raise
    else:
        client.close()
        if cluster is not None:
            cluster.close()


def _ignore_signals() -> None:
    """Pool workers leave SIGINT (Ctrl-C reaches the whole process group) and SIGTERM to the parent, which stops
    them; a worker interrupted mid-chunk would only print a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _stop_pool(pool, futures) -> None:
    """Cancel what is queued and kill the workers: every chunk they were running is lost anyway, and waiting
    for them (``shutdown(wait=True)``) is what made an interrupted run hang."""
    import threading

    procs = list((getattr(pool, "_processes", None) or {}).values())
    queue = getattr(pool, "_call_queue", None)  # shutdown() forgets these: take them first
    results = getattr(pool, "_result_queue", None)
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:
        # when its workers die, the pool's manager thread marks the pending futures broken; on Python 3.11 it
        # raises InvalidStateError for those already cancelled and prints a traceback: that thread's end is
        # expected here and says nothing
        previous = threading.excepthook
        threading.excepthook = lambda args: None if args.thread is manager else previous(args)
    for fut in futures:
        fut.cancel()
    if queue is not None:  # chunks still in the pipe to workers about to die: don't wait to flush them
        queue.cancel_join_thread()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            p.kill()
        except Exception:  # pragma: no cover - already gone
            pass
    # a worker killed while sending a result leaves half a message in the result pipe, and the pool's manager
    # thread (which the interpreter joins at exit) would wait for the rest for ever; with this process's own
    # (unused) write end closed too, the dead workers' ends were the last and it reads end-of-file instead
    writer = getattr(results, "_writer", None)
    if writer is not None:
        try:
            writer.close()
        except OSError:  # pragma: no cover
            pass
    for p in procs:
        p.join(timeout=2)
    if manager is not None:
        manager.join(timeout=2)


@contextmanager
def _signals_ignored_by_children():
    """Ignore SIGINT while worker processes start (they inherit the disposition, and a Python started with
    SIGINT ignored keeps ignoring it), then restore this process's handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _stop_dask(client, cluster, futures, timeout: float = 3.0) -> None:
    """Stop a run on Dask now: a local cluster's worker processes are killed first (a worker told to cancel a
    running chunk only logs warnings about it), then the client and the cluster are closed within ``timeout``
    seconds each with distributed's logging silenced; on an external scheduler the chunks are cancelled."""
    import logging
    import signal

    loggers = [logging.getLogger(n) for n in ("distributed", "tornado", "asyncio")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        pids = []
        for nanny in list(getattr(cluster, "workers", {}).values()) if cluster is not None else ():
            nanny.auto_restart = False  # a killed worker is not started again
            proc = getattr(getattr(nanny, "process", None), "process", None)
            pid = getattr(proc, "pid", None)
            if pid:
                pids.append(pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        steps = [lambda: client.close(timeout=timeout)]
        if cluster is None and futures:
            steps.insert(0, lambda: client.cancel(futures, force=True))
        if cluster is not None:
            steps.append(lambda: cluster.close(timeout=timeout))
        for step in steps:
            try:
                step()
            except BaseException:  # a close that times out or fails must not hide the interruption
                pass
        _reap(pids)
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _reap(pids, timeout: float = 2.0) -> None:
    """Wait (briefly) for killed child processes so none is left as a zombie."""
    import time

    left, end = set(pids), time.monotonic() + timeout
    while left and time.monotonic() < end:
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    left.discard(pid)
            except ChildProcessError:  # reaped already (by its Process object) or not our child
                left.discard(pid)
        if left:
            time.sleep(0.02)
