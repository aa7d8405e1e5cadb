"""Training the report's patch classifiers, and classifying patches with them.

Section 3.1 of the report: stochastic gradient descent, learning rate 0.001 decayed by
1e-4 "after each update", momentum 0.9, batch 128, 100 epochs, binary cross-entropy.
:class:`PatchTrainConfig` holds exactly these defaults.

* **Learning-rate decay** follows Keras' ``SGD(decay=...)``, which the report used:
  the update number ``t`` (0 for the first update) uses ``lr0 / (1 + decay * t)``.
  It is a :class:`~torch.optim.lr_scheduler.LambdaLR` stepped after every batch. One
  subtle difference remains: PyTorch scales the whole momentum buffer by the current
  rate, Keras only the newest gradient; with a decay this slow (the rate falls by half
  after 10,000 updates) the two are practically the same.
* **Loss**: the networks output logits and the loss is ``BCEWithLogitsLoss``, sigmoid
  and binary cross-entropy fused, which stays finite where a separate sigmoid would
  round to 0 or 1.
* **Validation split by particle**: :func:`split_by_group` holds out whole groups (a
  particle with all its rotations or offset crops), so no view of a validation particle
  is ever trained on. A random split of patches, which the report most likely used,
  puts three rotations of a particle in training and the fourth in validation, and
  reports accuracy on near-copies of training examples; our validation accuracy is the
  honest, lower number. Groups are split separately for particles and background so
  both classes keep the validation fraction.
* **Final model** is the one after the last epoch (the report trains a fixed 100 epochs;
  no early stopping).
* **Reported training loss and accuracy** are averages over the epoch's batches with
  dropout active (as Keras prints them); validation numbers are computed in eval mode.

Training is deterministic for a given seed on the CPU: the seed fixes the split, the
initial weights, the dropout masks and the batch order, without touching the caller's
global random state.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cryopick.device import resolve_device, thread_invariant_map
from cryopick.errors import CryopickError
from cryopick.models import PATCH_MODEL_KINDS, build_model
from cryopick.pickers.training_record import make_training_record

_EVAL_BATCH = 1024


@dataclass(frozen=True)
class PatchTrainConfig:
    """How a patch classifier is trained (defaults: the report's section 3.1).

    Attributes
    ----------
    model
        ``"mlp"`` or ``"cnn"`` (see :data:`cryopick.models.PATCH_MODEL_KINDS`).
    epochs
        Passes over the training patches (100).
    batch_size
        Patches per SGD update (128).
    learning_rate
        Initial learning rate ``lr0`` (0.001).
    lr_decay
        Update ``t`` uses ``lr0 / (1 + lr_decay * t)`` (1e-4, Keras semantics).
    momentum
        SGD momentum (0.9).
    validation_fraction
        Fraction of the patches, taken as whole particles, held out for validation
        (0.1); 0 trains on everything and reports NaN validation numbers.
    seed
        Fixes the split, initial weights, dropout and batch order.
    device
        ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (see :func:`cryopick.device.resolve_device`).
    arch
        Architecture options passed to the model's constructor (e.g.
        ``{"channels": (8, 16, 32, 64, 128)}`` for the CNN); empty for the defaults.
        ``patch_px`` defaults to the side of the training patches.
    """

    model: str = "mlp"
    epochs: int = 100
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_decay: float = 1e-4
    momentum: float = 0.9
    validation_fraction: float = 0.1
    seed: int = 0
    device: str = "auto"
    arch: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        checks = [
            (self.model in PATCH_MODEL_KINDS, f"unknown model {self.model!r}",
             f"use one of: {', '.join(PATCH_MODEL_KINDS)}"),
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}", "use e.g. 100"),
            (self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}", "use e.g. 128"),
            (math.isfinite(self.learning_rate) and self.learning_rate > 0,
             f"learning rate must be positive, got {self.learning_rate}", "use e.g. 0.001"),
            (math.isfinite(self.lr_decay) and self.lr_decay >= 0,
             f"learning-rate decay must be >= 0, got {self.lr_decay}", "use e.g. 1e-4, or 0 for none"),
            (0.0 <= self.momentum < 1.0, f"momentum must be in [0, 1), got {self.momentum}", "use e.g. 0.9"),
            (0.0 <= self.validation_fraction < 1.0,
             f"validation fraction must be in [0, 1), got {self.validation_fraction}", "use e.g. 0.1"),
        ]
        for ok, problem, fix in checks:
            if not ok:
                raise CryopickError(problem, fix=fix)


class PatchSetLike(Protocol):
    """What training needs of :class:`cryopick.pickers.patch.patches.PatchSet`."""

    patches: np.ndarray  # (N, P, P) float32 in 0..1
    labels: np.ndarray  # (N,) 1 = particle, 0 = background
    groups: np.ndarray  # (N,) int, one value per particle / background crop


@dataclass(frozen=True)
class EpochLog:
    """Numbers for one epoch; ``learning_rate`` is the rate after the epoch's last update."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    learning_rate: float
    seconds: float


@dataclass
class PatchTrainResult:
    """A trained model (on the CPU, in eval mode) and how training went."""

    model: nn.Module
    history: list[EpochLog]
    seconds: float
    n_train: int
    n_val: int
    kind: str = "mlp"
    arch: dict[str, Any] = field(default_factory=dict)
    config: PatchTrainConfig | None = None
    train_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    val_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def summary(self) -> dict[str, Any]:
        """Plain-Python training record for :func:`cryopick.models.checkpoint.save_model`: the common
        layout (:func:`cryopick.pickers.training_record.make_training_record`) with the split sizes
        and the final validation numbers."""
        last = self.history[-1] if self.history else None
        config = {} if self.config is None else {f.name: getattr(self.config, f.name) for f in fields(self.config)}
        config["arch"] = dict(config.get("arch", {}))
        return make_training_record(
            self.kind, self.history, float(self.seconds), config, n_train=int(self.n_train), n_val=int(self.n_val),
            val_accuracy=float("nan") if last is None else float(last.val_accuracy),
            val_loss=float("nan") if last is None else float(last.val_loss),
        )


def split_by_group(groups: np.ndarray, fraction: float, rng: np.random.Generator,
                   labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Split patch indices into training and validation, never splitting a group.

    Parameters
    ----------
    groups
        (N,) group id per patch; all patches of one group land in the same split.
    fraction
        Wanted fraction of patches in validation, in [0, 1). Whole groups are taken in a
        random order until the count is closest to ``fraction * N`` (per class).
    rng
        Random generator (fixes which groups are held out).
    labels
        Optional (N,) labels: when given, groups containing a positive and the others
        are split separately, so both classes keep about ``fraction`` in validation.
        A class with a single group keeps it in training.

    Returns
    -------
    train_idx, val_idx
        Sorted int64 indices, disjoint, together ``0..N-1``.
    """
    groups = np.asarray(groups).reshape(-1)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    if fraction == 0.0 or groups.size == 0:
        return np.arange(groups.size, dtype=np.int64), np.zeros(0, dtype=np.int64)
    unique, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    stratum = np.zeros(unique.size, dtype=np.int8)
    if labels is not None:
        np.maximum.at(stratum, inverse, (np.asarray(labels).reshape(-1) > 0.5).astype(np.int8))
    held_out = []
    for value in np.unique(stratum):
        members = np.flatnonzero(stratum == value)
        if members.size < 2:
            continue
        order = rng.permutation(members)
        sizes = np.cumsum(counts[order])
        k = int(np.argmin(np.abs(sizes - fraction * sizes[-1]))) + 1
        held_out.append(order[: min(max(k, 1), members.size - 1)])
    is_val = np.zeros(unique.size, dtype=bool)
    if held_out:
        is_val[np.concatenate(held_out)] = True
    patch_is_val = is_val[inverse]
    return np.flatnonzero(~patch_is_val).astype(np.int64), np.flatnonzero(patch_is_val).astype(np.int64)


def _check_patch_set(patch_set: PatchSetLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patches as contiguous float32 (N, P, P), labels float32 0/1, groups; CryopickError if unusable."""
    patches = np.ascontiguousarray(patch_set.patches, dtype=np.float32)
    labels = np.asarray(patch_set.labels, dtype=np.float32).reshape(-1)
    groups = np.asarray(patch_set.groups).reshape(-1)
    n = patches.shape[0] if patches.ndim else 0
    fix = "label more particles, or check the coordinates and the diameter"
    if patches.ndim != 3 or patches.shape[1] != patches.shape[2]:
        raise ValueError(f"patches must be (N, P, P), got shape {patches.shape}")
    if labels.size != n or groups.size != n:
        raise ValueError(f"{n} patches but {labels.size} labels and {groups.size} groups")
    if n == 0:
        raise CryopickError("no training examples could be cut from the micrographs", fix=fix)
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 (background) or 1 (particle)")
    if labels.min() == labels.max():
        kind = "particles" if labels[0] == 1 else "background"
        raise CryopickError(f"all {n} training examples are {kind}; both classes are needed", fix=fix)
    if not np.isfinite(patches).all():
        raise CryopickError("training patches contain NaN or infinite pixels", fix="check the micrographs")
    return patches, labels, groups


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor sharing ``array``'s memory, or a copy when the array is read-only."""
    return torch.from_numpy(array) if array.flags.writeable else torch.tensor(array)


def _forward_batch(model: nn.Module, device: torch.device, batch_size: int) -> int:
    """Patches per forward pass: ``batch_size``, capped by the model's ``cpu_batch`` on a CPU."""
    cpu_batch = getattr(model, "cpu_batch", None)
    return min(batch_size, cpu_batch) if device.type == "cpu" and cpu_batch else batch_size


def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, index: torch.Tensor) -> tuple[float, float]:
    """Mean loss and accuracy (at probability 0.5) of ``model`` in eval mode on ``x[index]``."""
    if index.numel() == 0:
        return float("nan"), float("nan")
    model.eval()
    loss_sum = torch.zeros((), device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.int64)
    step = _forward_batch(model, x.device, _EVAL_BATCH)
    with torch.inference_mode():
        for start in range(0, index.numel(), step):
            idx = index[start : start + step]
            logits = model(x[idx]).reshape(-1)
            loss_sum += F.binary_cross_entropy_with_logits(logits, y[idx], reduction="sum")
            correct += ((logits >= 0) == (y[idx] > 0.5)).sum()
    return float(loss_sum) / index.numel(), float(correct) / index.numel()


def train_classifier(patch_set: PatchSetLike, config: PatchTrainConfig = PatchTrainConfig(),
                     progress: Callable[[EpochLog], None] | None = None) -> PatchTrainResult:
    """Train a fresh patch classifier with SGD; see the module docstring for the choices.

    Parameters
    ----------
    patch_set
        Patches (N, P, P) in 0..1, labels (N,) 0/1 and groups (N,) (e.g. a
        :class:`cryopick.pickers.patch.patches.PatchSet`). Both classes must be present.
    config
        Model kind, optimiser settings, validation fraction, seed and device.
    progress
        Called with each epoch's :class:`EpochLog` as soon as the epoch ends.

    Returns
    -------
    PatchTrainResult
        The model after the last epoch (moved to the CPU, eval mode), the history, the
        time taken, the split sizes and indices, and ``summary()`` for the model file.
    """
    patches, labels, groups = _check_patch_set(patch_set)
    device = resolve_device(config.device)
    arch = {"patch_px": int(patches.shape[1]), **dict(config.arch)}
    train_np, val_np = split_by_group(groups, config.validation_fraction,
                                      np.random.default_rng(config.seed), labels=labels)
    x, y = _as_tensor(patches).to(device), _as_tensor(labels).to(device)
    train_index = torch.from_numpy(train_np).to(device)
    val_index = torch.from_numpy(val_np).to(device)
    n_train = train_index.numel()
    history: list[EpochLog] = []
    started = time.perf_counter()
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(config.seed)
        model = build_model(config.model, **arch).to(device)
        shuffle = torch.Generator().manual_seed(config.seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=config.momentum)
        decay = config.lr_decay
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0 / (1.0 + decay * t))
        for epoch in range(1, config.epochs + 1):
            epoch_start = time.perf_counter()
            model.train()
            order = train_index[torch.randperm(n_train, generator=shuffle).to(device)]
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.int64)
            for start in range(0, n_train, config.batch_size):
                idx = order[start : start + config.batch_size]
                logits = model(x[idx]).reshape(-1)
                loss = F.binary_cross_entropy_with_logits(logits, y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                loss_sum += loss.detach() * idx.numel()
                correct += ((logits.detach() >= 0) == (y[idx] > 0.5)).sum()
            val_loss, val_accuracy = _evaluate(model, x, y, val_index)
            log = EpochLog(epoch=epoch, train_loss=float(loss_sum) / n_train,
                           train_accuracy=float(correct) / n_train, val_loss=val_loss,
                           val_accuracy=val_accuracy, learning_rate=float(scheduler.get_last_lr()[0]),
                           seconds=time.perf_counter() - epoch_start)
            history.append(log)
            if progress is not None:
                progress(log)
    model = model.cpu().eval()
    return PatchTrainResult(model=model, history=history, seconds=time.perf_counter() - started,
                            n_train=int(n_train), n_val=int(val_np.size), kind=config.model,
                            arch=dict(getattr(model, "arch", arch)), config=config,
                            train_index=train_np, val_index=val_np)


def predict_proba(model: nn.Module, patches: np.ndarray, batch_size: int = 1024,
                  device: torch.device | str = "cpu") -> np.ndarray:
    """Probability that each patch shows a particle: sigmoid of the model's logit.

    Parameters
    ----------
    model
        A classifier returning logits (N, 1). It is moved to ``device`` (and stays
        there) and run in eval mode; its train/eval mode is restored afterwards.
    patches
        (N, P, P) or (N, 1, P, P) patches in 0..1, any float dtype.
    batch_size
        Patches converted and classified at a time, which bounds memory. On a CPU a
        model's ``cpu_batch`` (64 for the CNN) caps it, which is faster.
    device
        A :class:`torch.device` or a name for :func:`cryopick.device.resolve_device`.

    Returns
    -------
    np.ndarray
        (N,) float32 in [0, 1].
    """
    patches = np.asarray(patches)
    if patches.ndim not in (3, 4):
        raise ValueError(f"patches must be (N, P, P) or (N, 1, P, P), got shape {patches.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    device = device if isinstance(device, torch.device) else resolve_device(device)
    out = np.empty(patches.shape[0], dtype=np.float32)
    batch_size = _forward_batch(model, device, batch_size)
    was_training = model.training
    model.to(device).eval()
    starts = list(range(0, patches.shape[0], batch_size))

    def run(start: int) -> np.ndarray:
        chunk = np.ascontiguousarray(patches[start : start + batch_size], dtype=np.float32)
        return torch.sigmoid(model(_as_tensor(chunk).to(device))).reshape(-1).cpu().numpy()

    try:  # one intra-op thread per batch: the same bits whatever the thread count
        for start, probs in zip(starts, thread_invariant_map(run, starts, device)):
            out[start : start + probs.shape[0]] = probs
    finally:
        model.train(was_training)
    return out


__all__ = ["EpochLog", "PatchTrainConfig", "PatchTrainResult", "predict_proba", "split_by_group", "train_classifier"]
