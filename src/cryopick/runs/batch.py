"""Many micrographs: streamed with a prefetch queue, resumable, in local processes or on Dask.

:func:`pick_many` picks a list of micrographs with one :class:`PickSpec` (what a worker
needs to pick any micrograph; plain data, so it travels to other processes and machines):

* **one process** (``workers=1``): a thread reads and prepares the next micrographs
  (``prefetch`` of them) while the network runs on the current one; at most
  ``prefetch + 1`` micrographs are in memory, however many there are.
* **local processes** (``workers=N``): N spawned processes, each loading the model once
  and using ``cores / N`` threads; at most ``2 N`` micrographs are in flight.
* **Dask** (``dask="local"`` or a scheduler address such as ``tcp://host:8786``): the
  micrographs are tasks on the cluster's workers, which read them from the shared file
  system; at most twice the cluster's thread count are in flight.

Every finished micrograph is written at once to the :class:`~cryopick.runs.state.RunFolder`
(atomically), so a run killed at any moment resumes with the micrographs not yet done,
and the results, gathered in the order given, are the same however the run was split.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import itertools
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryopick.errors import CryopickError
from cryopick.io.names import micrograph_name
from cryopick.runs.cluster import dask_client
from cryopick.runs.job import Outcome, PickSpec, Skipped, finish, or_skipped, pick_one_or_skip, prepare
from cryopick.runs.state import MicrographResult, RunFolder

__all__ = ["AUTO_WORKERS_FROM", "BatchConfig", "auto_workers", "default_threads", "pick_many"]

@dataclass(frozen=True)
class BatchConfig:
    """How a batch run is spread out.

    Attributes
    ----------
    workers
        Local processes (1: this process, with a prefetch thread).
    prefetch
        Micrographs read and prepared ahead of the network (one process only).
    dask
        ``"local"`` (a LocalCluster of ``workers`` processes) or a scheduler address;
        None: no Dask.
    dask_timeout_s
        How long to try to reach a scheduler.
    skip_bad
        A micrograph that is bad input (unreadable, NaN pixels, flat ...) is left out and
        reported (:class:`Skipped`) instead of stopping the run; it is tried again when
        the run is resumed.
    """

    workers: int = 1
    prefetch: int = 2
    dask: str | None = None
    dask_timeout_s: float = 30.0
    skip_bad: bool = False

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise CryopickError(f"--workers must be at least 1, got {self.workers}", fix="give --workers 1 or more")
        if self.prefetch < 0:
            raise CryopickError(f"--prefetch must be 0 or more, got {self.prefetch}", fix="give --prefetch 0 or more")


AUTO_WORKERS_FROM = 64
"""From this many micrographs on, a CPU run uses one process per core by default: each
process runs the network on one thread, which beats one process with a reading thread
(measured 43 against 14-22 micrographs/s on 2 cores, docs/benchmarks.md); below it the
processes' start-up (about 3 s) costs more than they save."""


def available_cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def auto_workers(n_micrographs: int, device: str = "cpu", dask: str | None = None, cores: int | None = None) -> int:
    """Processes for a run when the user gave none: one per core on the CPU for a long run, else 1.

    A GPU is fed by one process; a Dask LocalCluster gets one worker per core.
    """
    cores = available_cores() if cores is None else cores
    if dask == "local":
        return max(1, cores)
    if dask or not str(device).startswith("cpu") or n_micrographs < AUTO_WORKERS_FROM:
        return 1
    return max(1, cores)


def default_threads(config: BatchConfig, cores: int | None = None) -> int:
    """PyTorch threads per picker: the cores left by the prefetch thread, shared by the workers; 1 on Dask."""
    if config.dask:
        return 1
    cores = available_cores() if cores is None else cores
    spare = cores - 1 if config.workers == 1 and config.prefetch > 0 else cores
    return max(1, spare // config.workers)


# ----------------------------------------------------------------------------- many


def pick_many(spec: PickSpec, paths: Sequence[str | Path], state: RunFolder, config: BatchConfig = BatchConfig(),
              on_done: Callable[[int, int], None] | None = None) -> Iterator[MicrographResult | Skipped]:
    """Pick every micrograph not already finished in ``state``; yield all results in the given order.

    Parameters
    ----------
    spec
        How each micrograph is picked.
    paths
        The micrographs (names must be unique).
    state
        An open run folder: finished micrographs are read from it, new ones saved to it.
    config
        Processes, prefetch, Dask.
    on_done
        Called as ``on_done(n_finished, n_total)`` after each micrograph finishes
        (first with the count resumed).

    Yields
    ------
    MicrographResult or Skipped
        One per path (Skipped only with ``config.skip_bad``), in the order of ``paths``,
        each as soon as it and those before it are done (finished ones are read back in
        turn): memory holds only the results that finished ahead of their turn.
    """
    names = [micrograph_name(p) for p in paths]
    _check_unique(names, paths)
    finished = {name for name, path in zip(names, paths) if state.is_done(name, path)}
    todo = [str(path) for name, path in zip(names, paths) if name not in finished]
    total, n_done = len(paths), len(finished)
    if on_done is not None:
        on_done(n_done, total)
    runner = _run_dask if config.dask else (_run_local if config.workers == 1 else _run_processes)
    fresh = runner(spec, todo, config) if todo else iter(())
    early: dict[str, Outcome] = {}  # finished ahead of their turn (other processes): at most those in flight
    for name, path in zip(names, paths):
        if name in finished:
            found = state.load(name, path)
            if found is None:  # changed since it was checked: pick it here
                found = pick_one_or_skip(spec, path, config.skip_bad)
                if isinstance(found, MicrographResult):
                    state.save(found)
            yield found
            continue
        while name not in early:
            result = next(fresh)
            if isinstance(result, MicrographResult):  # a skipped one is tried again on resume
                state.save(result)
            n_done += 1
            if on_done is not None:
                on_done(n_done, total)
            early[result.name] = result
        outcome = early.pop(name)
        if isinstance(outcome, _Failed):
            raise outcome.error
        yield outcome


@dataclass(frozen=True)
class _Failed:
    """A micrograph whose task raised in another process: raised again when its turn comes."""

    name: str
    error: Exception


def _check_unique(names: list[str], paths: Sequence[str | Path]) -> None:
    seen: dict[str, str | Path] = {}
    for name, path in zip(names, paths):
        if name in seen:
            raise CryopickError(f"has the same name as {seen[name]} ({name!r}): their picks would mix", path=path,
                                fix="pick the two folders in separate runs")
        seen[name] = path


def _run_local(spec: PickSpec, todo: list[str], config: BatchConfig) -> Iterator[Outcome]:
    """This process: a thread prepares up to ``prefetch`` micrographs ahead of the network."""
    skip = config.skip_bad
    if config.prefetch == 0:
        for path in todo:
            yield pick_one_or_skip(spec, path, skip)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cryopick-prefetch") as reader:

        def read_ahead(path: str) -> Future:
            return reader.submit(or_skipped, skip, path, functools.partial(prepare, spec, path))

        pending = iter(todo)
        queue: deque[Future] = deque(read_ahead(path) for path in itertools.islice(pending, config.prefetch))
        count = 0
        while queue:
            item = queue.popleft().result()
            next_path = next(pending, None)
            if next_path is not None:
                queue.append(read_ahead(next_path))
            result = item if isinstance(item, Skipped) else or_skipped(skip, item.path,
                                                                         functools.partial(finish, spec, item))
            del item
            count += 1
            if count % TRIM_EVERY == 0:
                _trim_heap()
            yield result


TRIM_EVERY = 20
"""Micrographs between returning freed heap memory to the system (one process)."""


def _trim_heap() -> None:
    """Give the C heap's free memory back to the system (glibc only; elsewhere nothing).

    Micrographs are allocated in the reading thread and freed in this one; glibc keeps
    such memory in the reading thread's arena, and resident memory creeps up without it.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.malloc_trim(0)


def _run_processes(spec: PickSpec, todo: list[str], config: BatchConfig) -> Iterator[Outcome]:
    """Local worker processes (spawned: a forked PyTorch can hang), results as they finish."""
    import multiprocessing

    threads = str(spec.threads or 1)
    with _environment(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads):
        # the workers start with these (as Dask's do): thread pools sized for one process would oversubscribe
        pool = ProcessPoolExecutor(max_workers=config.workers, mp_context=multiprocessing.get_context("spawn"))
        with pool:
            yield from _bounded(lambda path: pool.submit(pick_one_or_skip, spec, path, config.skip_bad), todo,
                                2 * config.workers, functools.partial(wait, return_when=FIRST_COMPLETED))


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables set for the duration (for the processes started meanwhile)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _run_dask(spec: PickSpec, todo: list[str], config: BatchConfig) -> Iterator[Outcome]:
    """Tasks on a Dask cluster: a LocalCluster of ``workers`` processes, or the scheduler named."""
    with dask_client(config.dask or "local", config.workers, config.dask_timeout_s) as client:
        from distributed import wait as dask_wait

        slots = max(1, sum(client.nthreads().values()))
        yield from _bounded(lambda path: client.submit(pick_one_or_skip, spec, path, config.skip_bad, pure=False),
                            todo, 2 * slots, functools.partial(dask_wait, return_when="FIRST_COMPLETED"))


def _bounded(submit: Callable[[str], Any], todo: list[str], in_flight: int,
             wait_first: Callable[[list], tuple[Any, Any]]) -> Iterator[Outcome]:
    """Keep at most ``in_flight`` tasks submitted; yield each result as its task finishes.

    ``wait_first(futures)`` returns (done, not done) once any is done: concurrent.futures'
    or Dask's ``wait`` with ``FIRST_COMPLETED``. A task that raised is yielded as a
    :class:`_Failed`, so that the error reported is the first bad micrograph in input
    order, not whichever worker failed first.
    """
    todo_index = {path: i for i, path in enumerate(todo)}
    pending = iter(todo)
    running = {submit(path): path for path in itertools.islice(pending, in_flight)}
    while running:
        done, _ = wait_first(list(running))
        for future in sorted(done, key=lambda f: todo_index[running[f]]):
            path = running.pop(future)
            try:
                outcome = future.result()
            except Exception as exc:  # raised in its turn by pick_many, not as it happens to finish
                outcome = _Failed(micrograph_name(path), exc)
            yield outcome
            next_path = next(pending, None)
            if next_path is not None:
                running[submit(next_path)] = next_path
