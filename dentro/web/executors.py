"""Run independent tasks: local processes (default) or a Ray cluster. Same tasks, same files out.

Each task writes its own files (see pipeline.py), so the executor only has to call
fn(*args) somewhere and report when it is done; the output does not depend on which
worker ran what, or in which order. With Ray, the input and output folders must be on a
file system that every node sees (local disk for a one-machine cluster, NFS or similar beyond).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterator

from dentro.progress import bar

EXECUTORS = ("local", "ray")


def _call(fn_args):
    fn, args = fn_args
    return fn(*args)


def run_tasks(fn: Callable, arglist: list[tuple], *, executor: str = "local", workers: int | None = None,
              ray_address: str | None = None, desc: str = "tasks") -> Iterator:
    """Yield fn(*args) for every args in arglist, as they finish (in no particular order)."""
    if executor == "local":
        yield from _run_local(fn, arglist, workers or os.cpu_count() or 1, desc)
    elif executor == "ray":
        yield from _run_ray(fn, arglist, workers, ray_address, desc)
    else:
        raise ValueError(f"unknown executor {executor!r}; choose one of {EXECUTORS}")


def _run_local(fn, arglist, workers, desc):
    workers = min(workers, len(arglist))
    with bar(total=len(arglist), desc=desc, unit="task") as pbar:
        if workers <= 1:   # no pool: simpler to debug, no start-up cost
            for args in arglist:
                yield fn(*args)
                pbar.update(1)
            return
        # fork: workers start in milliseconds and inherit the imported modules
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_call, (fn, args)) for args in arglist]
            for f in as_completed(futures):
                yield f.result()
                pbar.update(1)


def _run_ray(fn, arglist, workers, address, desc):
    try:
        import ray
    except ImportError as e:
        raise RuntimeError("--executor ray needs Ray: pip install 'dentro[ray]'") from e
    started = False
    if not ray.is_initialized():
        kw = {"address": address} if address else {"num_cpus": workers or os.cpu_count()}
        ray.init(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True, **kw)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=2)(_call)
        pending = [remote.remote((fn, args)) for args in arglist]
        with bar(total=len(pending), desc=desc, unit="task") as pbar:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
                pbar.update(1)
    finally:
        if started:
            ray.shutdown()
