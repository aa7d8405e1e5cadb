"""Which device a network runs on: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.

Nothing here needs CUDA: on a CPU-only build of PyTorch, ``auto`` is the CPU and asking
for CUDA is an input error with a fix. The number of CPU threads is left at PyTorch's
default (one per core).

:func:`thread_invariant_map` is how a network is run on the CPU so that its output does
not depend on the number of threads: PyTorch's oneDNN convolutions give different
floating-point sums on one thread than on several (measured: a 273 px working image's
logits differ between 1 and 2 threads, agree between 2 and 3), so each tile or batch is
computed on one intra-op thread and the tiles are spread over a pool of Python threads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

from cryopick.errors import CryopickError

_NO_CUDA_FIX = "use --device cpu or install a CUDA build of PyTorch"

_T = TypeVar("_T")
_R = TypeVar("_R")


def resolve_device(name: str = "auto") -> torch.device:
    """Turn a device name from the user into a :class:`torch.device` that exists here.

    Parameters
    ----------
    name
        ``"auto"`` (CUDA device 0 when :func:`torch.cuda.is_available`, else the CPU),
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"``. Case and surrounding spaces are ignored.

    Raises
    ------
    CryopickError
        For an unknown name, CUDA asked for but unavailable, or a CUDA index beyond the
        devices present.
    """
    text = str(name).strip().lower()
    if text == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    match = re.fullmatch(r"cuda(?::(\d+))?", text)
    if match is None:
        raise CryopickError(f"unknown device {name!r}", fix="use auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise CryopickError(f"device {name!r} asked for, but CUDA is not available here", fix=_NO_CUDA_FIX)
    if match.group(1) is None:
        return torch.device("cuda")
    index, count = int(match.group(1)), torch.cuda.device_count()
    if index >= count:
        raise CryopickError(f"device {name!r} asked for, but only {count} CUDA device(s) exist",
                            fix=f"use cuda:0 to cuda:{count - 1}, or --device cpu")
    return torch.device("cuda", index)


def device_line(requested: str, device: torch.device) -> str | None:
    """The line that says where the network runs when the user left it to us (no silent CPU fallback)."""
    if str(requested).strip().lower() != "auto":
        return None
    if device.type == "cpu":
        return "device: CPU (no CUDA device found; --device cuda insists on one)"
    return f"device: {device} ({torch.cuda.get_device_name(device)})"


def thread_invariant_map(fn: Callable[[_T], _R], items: Iterable[_T], device: torch.device | str = "cpu",
                         max_threads: int | None = None) -> list[_R]:
    """``[fn(item) for item in items]`` with results that do not depend on the thread count.

    On the CPU every call runs with one PyTorch intra-op thread (so the same input gives
    the same bits whatever ``torch.get_num_threads()`` is, and whatever the load), and the
    calls are spread over as many Python threads as PyTorch had (its ops release the GIL),
    so the cores are still used when there is more than one item. The results are in the
    order of ``items``. On a GPU the calls run one after the other as they are.

    ``fn`` runs in :func:`torch.inference_mode` (which is per thread) and must not change
    shared state. ``max_threads`` bounds how many calls run at once (and so their memory).
    """
    work: Sequence[_T] = list(items)
    if torch.device(device).type != "cpu":
        with torch.inference_mode():
            return [fn(item) for item in work]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    workers = min(threads, len(work), max_threads or threads)
    try:
        if workers <= 1:
            with torch.inference_mode():
                return [fn(item) for item in work]

        def run(item: _T) -> _R:
            with torch.inference_mode():
                return fn(item)

        # A new thread starts with OpenMP's default thread count, not the 1 set above, until
        # its first parallel PyTorch op: an MLP's first op (a matrix product) would run on
        # every core, splitting its sums differently. So each worker sets 1 before any op.
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cryopick-tile",
                                initializer=torch.set_num_threads, initargs=(1,)) as pool:
            return list(pool.map(run, work))
    finally:
        torch.set_num_threads(threads)
