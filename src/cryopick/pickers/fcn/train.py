"""Training the fully convolutional picker from sparse, partly wrong labels.

The user labels a fraction of the particles, some of them wrongly. Training is
positive-unlabeled (:mod:`cryopick.pickers.fcn.pu`): pixels near a label are positive, everything
else is unlabeled (except regions marked uncertain, ignored, or background, known
negatives), and the non-negative PU risk needs the fraction of unlabeled pixels that
are particle centres: the prior. Nobody has to give it; training runs in rounds:

1. **A first guess** of the number of particles: the blobs of particle size the
   Laplacian-of-Gaussian detector finds (:func:`cryopick.pickers.log.log_score_map`).
2. **Round 1**: nnPU with that prior (sigmoid loss, bounded, so a wrong label costs at
   most 1), Adam, random crops with random rotation and mirroring.
3. **Label cleaning and a better count**: every label is scored by the round-1
   network. Labels scoring far below the labelled median (``clean_fraction`` of it) are
   taken for wrong and dropped. Labels are a random sample of the particles, so half
   the particles score above the median label score: the number of candidates above it,
   doubled, estimates the number of particles, hence the prior. When the labelled
   median is below :data:`MIN_CONFIDENT_MEDIAN` and more than
   :data:`~cryopick.pickers.fcn.count.MAX_SHARE_AT_MEDIAN` of all candidates score above
   it, the network cannot yet tell particles apart and the first guess is kept; the
   count never exceeds discs covering half the area.
4. **Round 2** fine-tunes with the cleaned labels and the new prior.

Each round stops by itself: after every epoch the nnPU risk is measured on a held-out
strip of every micrograph; the learning rate halves when it has not improved for
``lr_patience`` epochs, and training stops when it has not improved for ``patience``
epochs (the log says so), keeping the best weights. Epoch length, crop size and radii
are all set relative to the particle diameter at the working scale, so nothing needs
tuning for a new particle or dataset size.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cryopick.device import resolve_device
from cryopick.errors import CryopickError
from cryopick.pickers.fcn.config import EpochRecord, FCNTrainConfig, FCNTrainResult
from cryopick.pickers.fcn.count import (
    MIN_CONFIDENT_MEDIAN,
    count_is_trusted,
    label_scores,
    log_blob_count,
    packing_limit,
    prior_from_count,
    rank_count,
)
from cryopick.pickers.fcn.data import (
    FCN_PREPROCESS,
    CropBatch,
    CropSampler,
    DenseImage,
    disc_map,
)
from cryopick.pickers.fcn.picker import probability_map
from cryopick.models.checkpoint import save_model
from cryopick.models.fcn import ParticleFCN
from cryopick.pickers.fcn.pu import nn_pu_loss
from cryopick.pickers.fcn.tiling import predict_tiled


Progress = Callable[[str], None]

MIN_FCN_THRESHOLD = 0.1
"""The lowest threshold training sets."""

MIN_LABELS_FOR_THRESHOLD = 10
"""With fewer labels, the threshold stays at the default."""


def build_network(diameter_px: float, config: FCNTrainConfig = FCNTrainConfig()) -> ParticleFCN:
    """The untrained network :func:`train_fcn` starts from, for a particle ``diameter_px`` wide at the working scale."""
    return ParticleFCN.for_diameter(diameter_px, config.field_per_diameter, channels=config.channels,
                                    stride=config.stride)


def working_diameter_px(images: list[DenseImage]) -> float:
    """The particle diameter training works at: the median over the images of their working diameter, in px."""
    return float(np.median([img.preprocessed.diameter_px for img in images]))


def train_fcn(images: list[DenseImage], config: FCNTrainConfig = FCNTrainConfig(),
              progress: Progress | None = None, initial: ParticleFCN | None = None) -> FCNTrainResult:
    """Train a :class:`~cryopick.models.fcn.ParticleFCN` on labelled working-scale micrographs.

    All images must share the working particle diameter (``preprocessed.diameter_px``).
    ``progress`` receives one line per epoch and per decision (prior, cleaning, stopping).
    ``initial``: start from a copy of this network (fine-tuning, e.g. the general model;
    its architecture is kept) instead of a freshly initialised one.
    """
    say = progress or (lambda line: None)
    if not images:
        raise CryopickError("no labelled micrographs to train on", fix="give micrographs that have labels")
    n_labels = sum(len(img.labels_xy) for img in images)
    if n_labels == 0:
        raise CryopickError("no labelled particles", fix="give a coordinate file with particles on these micrographs")
    start = time.perf_counter()
    diameter_px = working_diameter_px(images)
    radius_px = config.positive_radius_diameters * diameter_px
    disc_px = int(disc_map((64, 64), np.array([[32.0, 32.0]]), radius_px).sum())
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = (build_network(diameter_px, config) if initial is None else copy.deepcopy(initial)).to(device)
    area_px = float(sum(img.weight.sum() for img in images))

    if config.prior is not None:
        prior = config.prior
        n_est = prior * area_px / disc_px
        say(f"prior {prior:.4g} given")
    else:
        n_est = max(float(n_labels), log_blob_count([img.image for img in images], diameter_px))
        prior = prior_from_count(n_est, disc_px, area_px)
        say(f"first guess: {n_est:.0f} particles (blob count), prior {prior:.4g}")
    history: list[EpochRecord] = []
    reasons: list[str] = []
    dropped = 0
    dropped_labels = pd.DataFrame({"micrograph": [], "x": [], "y": []})
    labelled = images
    for round_no in range(1, config.rounds + 1):
        if round_no == 2:
            maps = _probability_maps(model, labelled, device)
            keep, scores_median = _clean_labels(maps, labelled, config, diameter_px)
            kept = [img.labels_xy[k] for img, k in zip(labelled, keep)]
            dropped_rows = [(img.name, *img.preprocessed.to_original(img.labels_xy[~k, 0], img.labels_xy[~k, 1]))
                            for img, k in zip(labelled, keep)]
            dropped_labels = pd.DataFrame({
                "micrograph": [name for name, xs, _ in dropped_rows for _ in xs],
                "x": np.concatenate([xs for _, xs, _ in dropped_rows]),
                "y": np.concatenate([ys for _, _, ys in dropped_rows]),
            })
            dropped = len(dropped_labels)
            say(f"label cleaning: {dropped} of {n_labels} labels score below {config.clean_fraction:g} x the "
                f"labelled median ({scores_median:.3f}) and are dropped")
            labelled = [img.with_labels(k, radius_px) for img, k in zip(labelled, kept)]
            count, share = (0.0, 1.0) if config.prior is not None else rank_count(
                maps, [img.labels_xy for img in labelled], config.min_distance_diameters * diameter_px, radius_px)
            if config.prior is None and not count_is_trusted(scores_median, share):
                say(f"labelled median {scores_median:.3f} is below {MIN_CONFIDENT_MEDIAN} and {share:.0%} of the "
                    f"candidates score above it: the network does not yet tell particles apart, so the first guess "
                    f"({n_est:.0f} particles) is kept")
            elif config.prior is None:
                n_est = min(count, packing_limit(area_px, diameter_px))
                prior = prior_from_count(n_est, disc_px, area_px)
                say(f"particle count from the labelled median: {n_est:.0f} (prior {prior:.4g})")
        reason = _run_round(model, labelled, config, prior, round_no, rng, device, history, start, say)
        reasons.append(reason)
        say(f"round {round_no}: {reason}")

    threshold = _threshold(model, labelled, config, diameter_px, device)
    if threshold < config.default_threshold:
        say(f"threshold {threshold:.3f}: at {config.default_threshold:g}, fewer than {config.label_recall:.0%} of the "
            f"labelled particles would be picked")
    model.cpu().eval()
    return FCNTrainResult(model, history, prior, n_est, n_labels, dropped, threshold, reasons,
                          time.perf_counter() - start, config, dropped_labels)


def _steps_per_epoch(images: list[DenseImage], config: FCNTrainConfig, core_px: int) -> int:
    train_px = sum(img.validation_start_row * img.shape[1] for img in images)
    steps = math.ceil(train_px / (config.crops_per_batch * core_px * core_px))
    return int(np.clip(steps, config.min_steps_per_epoch, config.max_steps_per_epoch))


def _run_round(model: ParticleFCN, images: list[DenseImage], config: FCNTrainConfig, prior: float,
               round_no: int, rng: np.random.Generator, device: torch.device, history: list[EpochRecord],
               start: float, say: Progress) -> str:
    diameter_px = working_diameter_px(images)
    core = max(16, int(round(config.crop_core_diameters * diameter_px)))
    positive_core = max(4, int(round(config.positive_core_diameters * diameter_px)))
    sampler = CropSampler(images, core, model.margin_px, config.rotate, rng, positive_core)
    if not sampler.has_labels:
        raise CryopickError("every label lies in the held-out strip or was dropped",
                            fix="label more particles, or lower the validation fraction")
    lr = config.learning_rate if round_no == 1 else config.learning_rate / 2
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    steps = _steps_per_epoch(images, config, core)
    best_risk, best_state, since_best, since_lr = math.inf, copy.deepcopy(model.state_dict()), 0, 0
    smoothed = math.nan
    min_epochs = config.min_epochs if round_no == 1 else max(1, config.min_epochs // 2)
    reason = f"stopped after the maximum of {config.max_epochs} epochs"
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        losses = []
        for _ in range(steps):
            uniform, positive = sampler.sample(config.crops_per_batch, config.positive_crops_per_batch)
            background = sampler.sample_background(config.background_crops_per_batch)
            loss = _batch_loss(model, uniform, positive, prior, config.loss, device, background,
                               sampler.background_fraction if config.background_weight is None
                               else config.background_weight)
            if loss is None:
                continue
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        risk = _validation_risk(model, images, prior, config.loss, device)
        smoothed = risk if epoch == 1 or math.isnan(smoothed) else config.smoothing * smoothed + (1 - config.smoothing) * risk
        record = EpochRecord(round_no, epoch, float(np.mean(losses)) if losses else math.nan, risk,
                             optimiser.param_groups[0]["lr"], time.perf_counter() - start)
        history.append(record)
        say(f"round {round_no} epoch {epoch:>3}  loss {record.train_loss:.4f}  held-out risk {risk:.4f} "
            f"(smoothed {smoothed:.4f})  lr {record.learning_rate:.1e}  ({record.seconds:.0f} s)")
        if math.isnan(smoothed) or not math.isfinite(best_risk) or smoothed < best_risk - 1e-4 * abs(best_risk):
            best_risk, best_state, since_best, since_lr = smoothed, copy.deepcopy(model.state_dict()), 0, 0
            continue
        since_best += 1
        since_lr += 1
        if since_best >= config.patience and epoch >= min_epochs:
            best_epoch = epoch - since_best
            reason = (f"converged: held-out risk has not improved for {since_best} epochs "
                      f"(best {best_risk:.4f}, smoothed, at epoch {best_epoch}); stopped at epoch {epoch}")
            break
        if since_lr >= config.lr_patience:
            for group in optimiser.param_groups:
                group["lr"] /= 2
            since_lr = 0
    model.load_state_dict(best_state)
    return reason


def _batch_loss(model: ParticleFCN, uniform: CropBatch, positive: CropBatch | None, prior: float, loss: str,
                device: torch.device, background: CropBatch | None = None,
                background_fraction: float = 0.0) -> torch.Tensor | None:
    """nnPU risk on the unlabeled and positive pixels, mixed with the negative risk of known
    background (from the uniform crops and the background-centred ones) by its share of the area."""
    if positive is None:
        return None
    z_all = _core_logits(model, uniform, device)
    z_unl = z_all[uniform.unlabeled.to(device)]
    z_bg = z_all[uniform.background.to(device)]
    if background is not None:
        z_bg = torch.cat([z_bg, _core_logits(model, background, device)[background.background.to(device)]])
    z_pos = _core_logits(model, positive, device)[positive.positive.to(device)]
    if z_unl.numel() == 0 or z_pos.numel() == 0:
        return None
    value, _ = nn_pu_loss(z_pos, z_unl, prior, loss=loss)
    if z_bg.numel():
        share = background_fraction if background is not None else z_bg.numel() / (z_bg.numel() + z_unl.numel())
        negative = torch.sigmoid(z_bg).mean() if loss == "sigmoid" else torch.nn.functional.softplus(z_bg).mean()
        value = (1 - share) * value + share * negative
    return value


def _core_logits(model: ParticleFCN, batch: CropBatch, device: torch.device) -> torch.Tensor:
    m, core = model.margin_px, batch.positive.shape[-1]
    return model(batch.inputs.to(device))[:, 0, m:m + core, m:m + core]


def _validation_risk(model: ParticleFCN, images: list[DenseImage], prior: float, loss: str,
                     device: torch.device) -> float:
    z_pos, z_unl = [], []
    for img in images:
        start = img.validation_start_row
        if start >= img.shape[0]:
            continue
        top = max(0, start - model.margin_px)
        logits = predict_tiled(model, img.image[top:], device=device)[start - top:]
        weight = img.weight[start:] > 0.5
        z_pos.append(logits[img.positive[start:] & weight])
        z_unl.append(logits[weight & ~img.background[start:]])
    pos = np.concatenate(z_pos) if z_pos else np.empty(0)
    unl = np.concatenate(z_unl) if z_unl else np.empty(0)
    if pos.size == 0 or unl.size == 0:
        return math.nan
    _, risk = nn_pu_loss(torch.from_numpy(pos), torch.from_numpy(unl), prior, loss=loss)
    return float(risk)


def _probability_maps(model: ParticleFCN, images: list[DenseImage], device: torch.device) -> list[np.ndarray]:
    return [probability_map(model, img.image, device=device) for img in images]


def _clean_labels(maps: list[np.ndarray], images: list[DenseImage], config: FCNTrainConfig,
                  diameter_px: float) -> tuple[list[np.ndarray], float]:
    """Per image, which labels to keep (score at least ``clean_fraction`` of the median); and the median."""
    scores = _label_scores(maps, images, config, diameter_px)
    median = float(np.median(np.concatenate(scores)))
    cut = config.clean_fraction * median
    return [s >= cut for s in scores], median


def _label_scores(maps: list[np.ndarray], images: list[DenseImage], config: FCNTrainConfig,
                  diameter_px: float) -> list[np.ndarray]:
    """Per image, each label's score: the best probability within the positive radius of it."""
    reach = config.positive_radius_diameters * diameter_px
    return [label_scores(p, img.labels_xy, reach) for p, img in zip(maps, images)]


def _threshold(model: ParticleFCN, images: list[DenseImage], config: FCNTrainConfig, diameter_px: float,
               device: torch.device) -> float:
    """The model's threshold: ``config.default_threshold``, or lower if that would miss labelled particles.

    Labels are a random sample of the particles, so the fraction of them scoring above a
    threshold estimates the recall there. When fewer than ``config.label_recall`` of the
    (kept) labels reach the default, the threshold is lowered to the score they do reach,
    but not below :data:`MIN_FCN_THRESHOLD`. Noisier data gives lower scores, and a fixed
    threshold would keep only the clearest particles.
    """
    labelled = [img for img in images if len(img.labels_xy)]
    if sum(len(img.labels_xy) for img in labelled) < MIN_LABELS_FOR_THRESHOLD:
        return config.default_threshold
    maps = _probability_maps(model, labelled, device)
    scores = np.concatenate(_label_scores(maps, labelled, config, diameter_px))
    reached = float(np.quantile(scores, 1.0 - config.label_recall))
    return float(np.clip(reached, min(MIN_FCN_THRESHOLD, config.default_threshold), config.default_threshold))


def save_fcn_model(path: str | Path, result: FCNTrainResult, diameter_A: float) -> None:
    """Write a trained FCN as a ``.cryopick`` model file: weights, the FCN's preprocessing,
    spacing, threshold and the training record (see :mod:`cryopick.models.checkpoint`)."""
    save_model(path, result.model, kind="fcn", arch=result.model.arch, diameter_A=diameter_A,
               threshold=result.threshold, training=result.summary(), preprocess=asdict(FCN_PREPROCESS),
               min_distance_diameters=result.config.min_distance_diameters)
