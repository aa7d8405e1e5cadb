"""What the fully convolutional picker's training is told and what it reports.

:class:`FCNTrainConfig` (every setting of :func:`cryopick.pickers.fcn.train.train_fcn`, in
units of the particle diameter where a length is meant), :class:`EpochRecord` (one line
of the training log) and :class:`FCNTrainResult` (the network and what training found
out about the data). Kept apart from the training loop so that the loop stays readable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from cryopick.errors import CryopickError
from cryopick.models.fcn import ParticleFCN
from cryopick.pickers.training_record import make_training_record


@dataclass(frozen=True)
class FCNTrainConfig:
    """How the fully convolutional picker is trained. Lengths are in particle diameters.

    Attributes
    ----------
    positive_radius_diameters
        Pixels this close to a label centre are positive (0.15 d).
    min_distance_diameters
        Minimum distance between candidates when counting (0.5 d).
    crop_core_diameters, positive_core_diameters
        Side of the core of a crop drawn anywhere (3 d) and of one centred near a label
        (1 d); the network's context is added around each.
    crops_per_batch, positive_crops_per_batch, background_crops_per_batch
        Crops drawn anywhere / centred near a label / centred on known background (junk
        marked by background masks; none without masks) per update.
    background_weight
        Weight of the negative risk of known background against the PU risk (0..1); None:
        its share of the training area.
    learning_rate
        Adam's initial step size.
    max_epochs, min_epochs, patience, lr_patience
        Per round: at most ``max_epochs`` and at least ``min_epochs`` epochs; stop after
        ``patience`` epochs without a better (smoothed) held-out risk; halve the learning
        rate after ``lr_patience``.
    smoothing
        The held-out risk is averaged exponentially over epochs (weight of the newest:
        ``1 - smoothing``) before it is compared, so one lucky epoch does not end training.
    min_steps_per_epoch, max_steps_per_epoch
        An epoch draws about as many crops as cover the training area once, within these bounds.
    validation_fraction
        Bottom fraction of every micrograph's rows held out to decide when to stop.
    prior
        Fraction of unlabeled pixels within ``positive_radius`` of a particle centre;
        None (default) estimates it from the data.
    rounds
        1: one round with the first prior guess; 2 (default): clean labels, re-estimate
        the prior and fine-tune.
    clean_fraction
        A label scoring below this fraction of the labelled median is dropped as wrong
        (0 keeps every label).
    rotate
        Random rotation and mirroring of crops (False: multiples of 90 degrees).
    loss
        PU surrogate: ``"sigmoid"`` (bounded, robust to wrong labels) or ``"logistic"``.
    channels, field_per_diameter, stride
        Network width, receptive field (in diameters) and the stride of its trunk (2:
        the dilated layers run on a grid of every other pixel, a quarter of the cost).
    label_recall
        The model's threshold is lowered from ``default_threshold`` until this fraction of
        the kept labels scores above it (not below 0.1): the recall it aims at.
    default_threshold
        The threshold before the labels lower it: 0.3. The network's probability ranks well
        but the labelled particles it learnt from score higher than the unlabelled ones, so
        a cut at 0.5 lost recall everywhere it was measured (real apoferritin F1 0.938 at 0.5,
        0.952 at 0.3; the simulated SNR 0.1 sets 0.763-0.899 against 0.770-0.939;
        docs/benchmarks.md). A fine-tuned model starts from its initial model's.
    seed, device
        Reproducibility and where to train (``auto`` picks CUDA when present).
    """

    positive_radius_diameters: float = 0.15
    min_distance_diameters: float = 0.5
    crop_core_diameters: float = 3.0
    positive_core_diameters: float = 1.0
    crops_per_batch: int = 8
    positive_crops_per_batch: int = 16
    background_crops_per_batch: int = 8
    background_weight: float | None = None
    learning_rate: float = 2e-3
    max_epochs: int = 40
    min_epochs: int = 8
    patience: int = 5
    lr_patience: int = 2
    smoothing: float = 0.5
    min_steps_per_epoch: int = 10
    max_steps_per_epoch: int = 40
    validation_fraction: float = 0.15
    prior: float | None = None
    rounds: int = 2
    clean_fraction: float = 0.25
    rotate: bool = True
    loss: str = "logistic"
    channels: int = 16
    field_per_diameter: float = 1.5
    stride: int = 2
    label_recall: float = 0.9
    default_threshold: float = 0.3
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.rounds not in (1, 2):
            raise CryopickError(f"rounds must be 1 or 2, got {self.rounds}", fix="use 2 (default) or 1")
        if self.prior is not None and not 0.0 < self.prior < 1.0:
            raise CryopickError(f"prior must be between 0 and 1, got {self.prior}", fix="leave it out to estimate it")
        if self.stride not in (1, 2):
            raise CryopickError(f"network stride must be 1 or 2, got {self.stride}", fix="use 2 (default) or 1")
        if not 0.0 < self.default_threshold < 1.0:
            raise CryopickError(f"default threshold must be in (0, 1), got {self.default_threshold}",
                                fix="use e.g. 0.5")
        if not 0.0 < self.label_recall <= 1.0:
            raise CryopickError(f"label recall must be in (0, 1], got {self.label_recall}", fix="use e.g. 0.9")
        if not 0.0 <= self.validation_fraction < 0.5:
            raise CryopickError(f"validation fraction must be in [0, 0.5), got {self.validation_fraction}",
                                fix="use e.g. 0.15")
        if self.max_epochs < 1 or self.patience < 1:
            raise CryopickError("max_epochs and patience must be at least 1", fix="use the defaults")
        if self.background_weight is not None and not 0.0 <= self.background_weight < 1.0:
            raise CryopickError(f"background weight must be in [0, 1), got {self.background_weight}",
                                fix="leave it out to weigh known background by its area")
        if self.loss not in ("sigmoid", "logistic"):
            raise CryopickError(f"unknown loss {self.loss!r}", fix="use 'sigmoid' or 'logistic'")


@dataclass
class EpochRecord:
    """One epoch: round, epoch within it, mean training loss, held-out risk, learning rate, seconds so far."""

    round: int
    epoch: int
    train_loss: float
    val_risk: float
    learning_rate: float
    seconds: float


@dataclass
class FCNTrainResult:
    """The trained network and what training found out about the data."""

    model: ParticleFCN
    history: list[EpochRecord]
    prior: float
    n_particles_estimate: float
    n_labels: int
    n_labels_dropped: int
    threshold: float
    stop_reasons: list[str]
    seconds: float
    config: FCNTrainConfig
    dropped_labels: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Plain values for the model file: the common training record
        (:func:`cryopick.pickers.training_record.make_training_record`; the held-out risk
        is its ``val_loss`` column) and what training found out about the data."""
        return make_training_record(
            "fcn", self.history, round(self.seconds, 2), asdict(self.config), renames={"val_risk": "val_loss"},
            trainer="fcn-pu", prior=self.prior, n_particles_estimate=round(self.n_particles_estimate, 1),
            n_labels=self.n_labels, n_labels_dropped=self.n_labels_dropped, threshold=self.threshold,
            stop_reasons=list(self.stop_reasons), **self.notes,
        )
