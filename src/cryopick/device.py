"""Which device a network runs on: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.

Nothing here needs CUDA: on a CPU-only build of PyTorch, ``auto`` is the CPU and asking
for CUDA is an input error with a fix. The number of CPU threads is left at PyTorch's
default (one per core).
"""

from __future__ import annotations

import re

import torch

from cryopick.errors import CryopickError

_NO_CUDA_FIX = "use --device cpu or install a CUDA build of PyTorch"


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
