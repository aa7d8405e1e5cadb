"""Device selection never needs CUDA and refuses what is not there with a fix."""

from __future__ import annotations

import ctypes
import os

import pytest
import torch

from cryopick.device import resolve_device, thread_invariant_map
from cryopick.errors import CryopickError


def test_auto_follows_cuda_availability(monkeypatch):
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device().type == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


def test_cpu_and_spelling():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_an_input_error(monkeypatch, name):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(CryopickError, match="CUDA is not available.*use --device cpu or install a CUDA build"):
        resolve_device(name)


def test_cuda_index_beyond_devices(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cuda") == torch.device("cuda")
    with pytest.raises(CryopickError, match="only 2 CUDA device"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("name", ["gpu", "mps", "cuda:x", ""])
def test_unknown_names(name):
    with pytest.raises(CryopickError, match="unknown device"):
        resolve_device(name)


def _openmp():
    """The OpenMP runtime PyTorch loaded, or None (then the check below does not apply)."""
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "libgomp" in line or "libiomp" in line})
    return ctypes.CDLL(paths[0]) if paths else None


def test_thread_invariant_map_workers_start_on_one_openmp_thread():
    # A fresh thread's first op must not run on every core: a matrix product split over
    # two threads sums in another order, so an MLP's bits depended on which worker ran it.
    omp = _openmp() if os.path.exists("/proc/self/maps") else None
    if omp is None:
        pytest.skip("PyTorch's OpenMP runtime is not visible here")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        counts = thread_invariant_map(lambda _: omp.omp_get_max_threads(), range(4))
    finally:
        torch.set_num_threads(before)
    assert counts == [1, 1, 1, 1]
