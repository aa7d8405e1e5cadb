"""The model file (``.cryopick``): a trained classifier and everything needed to pick with it.

A model file is one :func:`torch.save` of a dictionary of plain values, read back with
``torch.load(..., weights_only=True)`` so that loading a file can never run code::

    format            "cryopick-model"
    format_version    1 (readers refuse newer versions with a clear message)
    cryopick_version  the version that wrote it
    kind              "fcn", "mlp" or "cnn" (cryopick.models.MODEL_KINDS)
    arch              keyword arguments that rebuild the network
    state_dict        the weights
    picking           diameter_A (the particle diameter trained on), threshold (default
                      cut on the score: 0.8 for the patch classifiers, the trained one for
                      "fcn"); for "fcn": preprocess (PreprocessConfig as a dict) and
                      min_distance_diameters (closest two picks may be); for "mlp"/"cnn":
                      patch_config (PatchConfig as a dict) and stride_fraction (window step
                      as a fraction of the box: 0.2, the report's 36 px on 180)
    training          the training record, one layout for every trainer
                      (:mod:`cryopick.pickers.training_record`): kind, epochs, seconds,
                      the configuration and the per-epoch history as lists

So ``cryopick pick --model FILE`` needs no training options repeated. Files are written
atomically.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import cryopick
from cryopick.errors import CryopickError
from cryopick.io.atomic import atomic_path
from cryopick.models import MODEL_KINDS, build_model

FORMAT_NAME = "cryopick-model"
FORMAT_VERSION = 1
DEFAULT_THRESHOLD = 0.8
DEFAULT_STRIDE_FRACTION = 0.2
_TRAIN_FIX = "give a model file written by `cryopick train`"


@dataclass
class LoadedModel:
    """A model read from a ``.cryopick`` file, with its picking settings.

    ``settings`` holds the file's picking block beyond the diameter and threshold, as
    written (``preprocess`` and ``min_distance_diameters`` for ``"fcn"``; ``patch_config``
    and ``stride_fraction`` for the patch classifiers): each picker reads its own.
    """

    model: nn.Module
    kind: str
    arch: dict[str, Any]
    diameter_A: float
    threshold: float
    settings: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    cryopick_version: str = ""
    format_version: int = FORMAT_VERSION


def _plain(value: Any, where: str) -> Any:
    """``value`` as str / int / float / bool / None / list / dict only (what weights_only loads)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Enum):
        return _plain(value.value, where)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{where}: {type(value).__name__} cannot be stored in a model file (plain values only)")


def save_model(path: str | Path, model: nn.Module, *, kind: str, arch: Mapping[str, Any] | None = None,
               patch_config: Mapping[str, Any] | None = None, diameter_A: float,
               threshold: float = DEFAULT_THRESHOLD, training: Mapping[str, Any] | None = None,
               stride_fraction: float = DEFAULT_STRIDE_FRACTION, preprocess: Mapping[str, Any] | None = None,
               min_distance_diameters: float = 0.5) -> None:
    """Write ``model`` and its picking settings to ``path`` (conventionally ``*.cryopick``), atomically.

    Parameters
    ----------
    path
        The file to write; its folder is created if needed.
    model
        The trained network (any device; weights are stored on the CPU).
    kind
        ``"fcn"``, ``"mlp"`` or ``"cnn"``.
    arch
        Keyword arguments that rebuild the network; None: ``model.arch``.
    patch_config
        For the patch classifiers: how patches were cut (``PatchConfig`` as a dict).
    diameter_A
        Particle diameter in Å the model was trained at.
    threshold
        Default probability threshold for picking (0.8, the report's).
    training
        Training record (:func:`cryopick.pickers.training_record.make_training_record`).
    stride_fraction
        Default window step as a fraction of the box (0.2 = box/5).
    preprocess
        For ``"fcn"``: how micrographs are brought to the working scale
        (``PreprocessConfig`` as a dict).
    min_distance_diameters
        For ``"fcn"``: the closest two picks may be, in particle diameters.
    """
    if kind not in MODEL_KINDS:
        raise CryopickError(f"unknown model kind {kind!r}", fix=f"use one of: {', '.join(MODEL_KINDS)}")
    if not (math.isfinite(diameter_A) and diameter_A > 0):
        raise CryopickError(f"particle diameter must be positive, got {diameter_A} Å", fix="give --diameter in Å")
    if not 0.0 <= threshold <= 1.0:
        raise CryopickError(f"threshold must be in [0, 1], got {threshold}", fix="use e.g. 0.8")
    if not 0.0 < stride_fraction <= 1.0:
        raise CryopickError(f"stride fraction must be in (0, 1], got {stride_fraction}", fix="use e.g. 0.2 (box/5)")
    arch = _plain(dict(getattr(model, "arch", {}) if arch is None else arch), "arch")
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    build_model(kind, **arch).load_state_dict(state)  # the file must rebuild this network
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "cryopick_version": cryopick.__version__,
        "kind": kind,
        "arch": arch,
        "state_dict": state,
        "picking": {
            "patch_config": _plain(dict(patch_config or {}), "patch_config"),
            "preprocess": _plain(dict(preprocess or {}), "preprocess"),
            "min_distance_diameters": float(min_distance_diameters),
            "diameter_A": float(diameter_A),
            "stride_fraction": float(stride_fraction),
            "threshold": float(threshold),
        },
        "training": _plain(dict(training or {}), "training"),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(path: str | Path) -> LoadedModel:
    """Read a ``.cryopick`` model file; the network is on the CPU in eval mode.

    Raises
    ------
    CryopickError
        The file is missing, unreadable, not a cryopick model (random bytes, a plain
        PyTorch file), written by a newer cryopick, or damaged.
    """
    path = Path(path)
    if not path.exists():
        raise CryopickError("model file not found", path=path, fix=_TRAIN_FIX)
    if path.is_dir():
        raise CryopickError("is a folder, not a model file", path=path, fix=_TRAIN_FIX)
    try:
        with warnings.catch_warnings():  # random bytes can look like an odd pickle protocol
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError as exc:
        raise CryopickError(f"cannot read the model file ({exc.strerror})", path=path,
                            fix="check the file's permissions") from exc
    except Exception as exc:  # whatever the parser trips on (bad pickle, zip, ...), the file is not ours
        raise CryopickError("not a cryopick model file (PyTorch cannot read it as plain data)",
                            path=path, fix=_TRAIN_FIX) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise CryopickError("not a cryopick model file (no cryopick format marker; a plain PyTorch file?)",
                            path=path, fix=_TRAIN_FIX)
    version = payload.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise CryopickError(f"model file has an invalid format version {version!r}", path=path,
                            fix="train the model again")
    if version > FORMAT_VERSION:
        raise CryopickError(
            f"model file format version {version} (cryopick {payload.get('cryopick_version', '?')}) is newer "
            f"than this cryopick {cryopick.__version__} reads (up to {FORMAT_VERSION})",
            path=path, fix="upgrade cryopick (pip install -U cryopick)")
    try:
        kind, arch, picking = payload["kind"], dict(payload["arch"]), dict(payload["picking"])
        model = build_model(kind, **arch)
        model.load_state_dict(payload["state_dict"])
        settings = {key: value for key, value in picking.items() if key not in ("diameter_A", "threshold")}
        loaded = LoadedModel(
            model=model.eval(), kind=kind, arch=arch, diameter_A=float(picking["diameter_A"]),
            threshold=float(picking["threshold"]), settings=settings, training=dict(payload.get("training", {})),
            cryopick_version=str(payload.get("cryopick_version", "")), format_version=version)
    except (KeyError, TypeError, ValueError, RuntimeError, CryopickError) as exc:
        problem = exc.problem if isinstance(exc, CryopickError) else str(exc).splitlines()[0]
        raise CryopickError(f"model file is incomplete or damaged ({problem})", path=path,
                            fix="train the model again") from exc
    return loaded
