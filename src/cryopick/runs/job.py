"""One micrograph's picking, as a worker runs it: the :class:`PickSpec` and its two halves.

A :class:`PickSpec` is plain data (picker kind, model file, diameter, options), so it
travels to other processes and machines; each process loads the spec's model once. The
picker comes from :mod:`cryopick.pickers.registry` by kind. Picking is split into
:func:`prepare` (read the micrograph and bring it to the picker's working scale: no
network) and :func:`finish` (network, candidates, guards), so that
:mod:`cryopick.runs.batch` can prepare the next micrograph while the network runs. With
``skip_bad``, a micrograph that is bad input becomes a :class:`Skipped` instead of an
error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryopick.errors import CryopickError
from cryopick.io.micrographs import read_micrograph
from cryopick.io.names import micrograph_name
from cryopick.io.picks import PICK_COLUMNS, empty_picks
from cryopick.pickers.base import Picker, Prepared
from cryopick.pickers.registry import PICKERS, picker_class
from cryopick.runs.state import MicrographResult


@dataclass(frozen=True)
class PickSpec:
    """Everything needed to pick one micrograph, as plain data.

    Attributes
    ----------
    kind
        The picker (a key of :data:`cryopick.pickers.registry.PICKERS`): ``"log"``
        (Laplacian of Gaussian, no model), or the model file's kind (``"fcn"``: fully
        convolutional; ``"mlp"``, ``"cnn"``: a patch classifier by sliding window).
    model_path
        The model file; None for a picker without one.
    diameter_A
        Particle diameter in Å; None: the model's.
    apix
        Pixel size overriding the file headers; None: from the headers.
    allow_nonfinite
        Replace NaN/inf pixels with the median instead of stopping.
    options
        The picker's configuration (its ``config_type``, e.g.
        :class:`~cryopick.pickers.fcn.picker.FCNPickConfig`); None: its defaults.
    device
        Where the network runs (``auto``, ``cpu``, ``cuda``, ``cuda:N``), resolved where
        the picking runs: on a remote Dask cluster, ``auto`` means each worker's GPU if
        it has one.
    threads
        PyTorch CPU threads per picker; None: PyTorch's default. Results are identical
        for any number: the network runs each tile on one intra-op thread
        (:func:`cryopick.device.thread_invariant_map`).
    """

    kind: str
    model_path: str | None = None
    diameter_A: float | None = None
    apix: float | None = None
    allow_nonfinite: bool = False
    options: Any = None
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in PICKERS:
            raise CryopickError(f"unknown picker {self.kind!r}", fix=f"use one of {', '.join(PICKERS)}")
        needs_model = picker_class(self.kind).needs_model
        if needs_model and self.model_path is None:
            raise CryopickError(f"picker {self.kind!r} needs a model file", fix="pass --model")
        if not needs_model and self.diameter_A is None:
            raise CryopickError(f"the {self.kind} picker needs the particle size", fix="pass --diameter in Å")


# ----------------------------------------------------------------------------- one micrograph

_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()


def _model(spec: PickSpec):
    """The spec's model on its device, loaded once per process."""
    from cryopick.models.checkpoint import load_model

    key = (str(spec.model_path), spec.device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            loaded = load_model(spec.model_path)
            loaded.model.to(_device(spec))
            _MODELS[key] = loaded
        return _MODELS[key]


def _device(spec: PickSpec):
    """The spec's device as it exists where this runs (``auto`` resolved on each Dask worker)."""
    from cryopick.device import resolve_device

    return resolve_device(spec.device)


def _picker(spec: PickSpec) -> Picker:
    """The spec's picker, with its model (loaded once per process) on its device."""
    cls = picker_class(spec.kind)
    if not cls.needs_model:
        return cls(spec.options)
    return cls(spec.options, _model(spec), _device(spec))


@dataclass
class _Prepared:
    """A micrograph read and brought to its picker's working scale, waiting for the network."""

    path: str
    shape: tuple[int, int]
    data: Prepared


def prepare(spec: PickSpec, path: str | Path) -> _Prepared:
    """Read a micrograph and do what needs no network (the prefetch thread's half)."""
    mic = read_micrograph(path, spec.apix, allow_nonfinite=spec.allow_nonfinite)
    return _Prepared(str(path), mic.shape, _picker(spec).prepare(mic, spec.diameter_A))


def finish(spec: PickSpec, item: _Prepared) -> MicrographResult:
    """Pick a prepared micrograph (the network's half)."""
    if spec.threads is not None:
        _set_threads(spec.threads)
    picks = _picker(spec).pick_prepared(item.data)
    picks = picks.loc[:, list(PICK_COLUMNS)].reset_index(drop=True) if len(picks) else empty_picks()
    return MicrographResult(item.path, item.data.name, item.shape, item.data.apix, picks)


def pick_one(spec: PickSpec, path: str | Path) -> MicrographResult:
    """Pick one micrograph."""
    return finish(spec, prepare(spec, path))


@dataclass(frozen=True)
class Skipped:
    """A micrograph left out of a run with ``skip_bad``: its file and why (a one-line error)."""

    path: str
    name: str
    message: str


def or_skipped(skip_bad: bool, path: str | Path, work: Callable[[], Any]) -> Any:
    """``work()``, or with ``skip_bad`` a :class:`Skipped` for a micrograph that is bad input."""
    try:
        return work()
    except CryopickError as error:
        if not skip_bad:
            raise
        return Skipped(str(path), micrograph_name(path), error.message)


def pick_one_or_skip(spec: PickSpec, path: str | Path, skip_bad: bool = False) -> MicrographResult | Skipped:
    """Pick one micrograph, or say why it is left out: what a worker process or a Dask task runs."""
    return or_skipped(skip_bad, path, lambda: pick_one(spec, path))


def _set_threads(threads: int) -> None:
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(max(1, threads))


Outcome = MicrographResult | Skipped
