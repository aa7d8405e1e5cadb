"""Picking with the fully convolutional network: one pass per micrograph, every candidate scored.

1. The micrograph is brought to the model's working scale (:func:`cryopick.preprocess.preprocess`
   with the model's :class:`~cryopick.preprocess.PreprocessConfig`: Fourier cropping, a
   high-pass, robust normalisation) and clipped (:func:`cryopick.pickers.fcn.data.network_input`).
2. The network turns the whole image into a probability map in one pass, tile by tile
   under a memory cap with exactly the untiled result (:func:`cryopick.pickers.fcn.tiling.predict_tiled`).
   With test-time augmentation (``tta``), the logits of the 8 rotations and mirror images
   of the micrograph are averaged (8 times the cost).
3. Every local maximum at least ``min_distance_diameters`` particle diameters from a
   stronger one is a candidate, with its probability as score (as crYOLO's CBOX keeps
   every candidate). The threshold is applied on output, so a later choice needs no new
   pass over the micrographs.
4. Candidates inside high-contrast regions (crystalline ice, carbon film, large dark
   blobs; :func:`cryopick.postprocess.junk_regions.junk_region_mask_for`) are dropped.
5. On request, an aggregate guard (:func:`cryopick.postprocess.aggregates.aggregate_guard`): picks in
   clumps of overlapping particle-like maxima, or dark on many sides at overlap distance.
6. A conventional guard beside the network (:func:`contrast_guard`): candidates far
   darker or far more textured than the accepted ones (dark dots of ice or gold, carbon,
   ice edges) are dropped. A network trained positive-unlabeled sees too few of these
   rare objects to learn that they are not particles, and ranks the darkest of them
   highest.

The image is mirrored past its border before the network sees it: the zeros of "same"
padding are nothing the network met in training, and it put false picks along the edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from scipy.special import expit

from cryopick.postprocess.aggregates import AggregateGuardConfig, aggregate_guard
from cryopick.detect import find_peaks
from cryopick.errors import CryopickError
from cryopick.pickers.fcn.data import network_input
from cryopick.io.micrographs import Micrograph
from cryopick.io.picks import empty_picks, make_picks
from cryopick.postprocess.junk_regions import junk_region_mask_for, picks_outside
from cryopick.models.checkpoint import LoadedModel
from cryopick.preprocess import Preprocessed, PreprocessConfig, median_and_spread, preprocess
from cryopick.pickers.fcn.tiling import predict_tiled


@dataclass(frozen=True)
class FCNPickConfig:
    """How the fully convolutional picker picks.

    Attributes
    ----------
    threshold
        Keep candidates scoring at least this probability; None: the model's own
        threshold; 0 keeps every candidate.
    min_distance_diameters
        Closest two picks may be, in particle diameters; None: the model's (0.5).
    tta
        Average the network over the 8 rotations and mirror images (8x slower).
    memory_cap_bytes
        Activation memory allowed per tile (None: 512 MiB).
    contrast_guard_spreads
        Drop candidates far darker or far more textured than the particles: more than this
        many robust spreads beyond the median of the candidates above the threshold, in
        the mean over half a diameter (dark dots of ice or gold, thick ice) or in the
        standard deviation over one diameter (dots, carbon, ice edges: high-contrast
        objects); see :func:`contrast_guard`. None turns the guard off. Brighter or
        flatter candidates are kept. Needs at least :data:`GUARD_MIN_CANDIDATES`
        candidates above the threshold.
    junk_regions
        Drop candidates inside high-contrast regions: ice contamination, carbon film,
        large dark blobs (:func:`cryopick.postprocess.junk_regions.junk_region_mask_for`, on the
        working image's own Fourier crop).
    aggregate_guard
        Drop candidates whose neighbourhood says aggregate (clumps of overlapping
        particles; :func:`cryopick.postprocess.aggregates.aggregate_guard`); None (default) keeps
        them: it removes a part of the aggregate picks at ~1% of the particles
        (docs/benchmarks.md).
    """

    threshold: float | None = None
    min_distance_diameters: float | None = None
    tta: bool = False
    memory_cap_bytes: int | None = None
    contrast_guard_spreads: float | None = 6.0
    junk_regions: bool = True
    aggregate_guard: AggregateGuardConfig | None = None


GUARD_MIN_CANDIDATES = 10


def probability_map(model: torch.nn.Module, image: np.ndarray, *, tta: bool = False,
                    device: str | torch.device = "cpu", memory_cap_bytes: int | None = None) -> np.ndarray:
    """The network's particle probability for every pixel of a working-scale image.

    With ``tta`` the logits of the image's 8 rotations and mirror images (each mapped
    back) are averaged before the sigmoid.
    """
    source = network_input(image)
    margin = int(getattr(model, "margin_px", 0))
    pad = min(margin, source.shape[0] - 1, source.shape[1] - 1)
    if pad > 0:  # mirror the image past its border: a zero border is nothing the network saw in training
        source = np.pad(source, pad, mode="reflect")
    if not tta:
        logits = predict_tiled(model, source, memory_cap_bytes=memory_cap_bytes, device=device)
    else:
        logits = np.zeros(source.shape, dtype=np.float32)
        for mirror in (False, True):
            view = source[:, ::-1] if mirror else source
            for k in range(4):
                out = predict_tiled(model, np.ascontiguousarray(np.rot90(view, k)),
                                    memory_cap_bytes=memory_cap_bytes, device=device)
                out = np.rot90(out, -k)
                logits += out[:, ::-1] if mirror else out
        logits /= 8.0
    if pad > 0:
        logits = logits[pad:-pad, pad:-pad]
    return expit(logits).astype(np.float32, copy=False)


def pick_fcn(mic: Micrograph, loaded: LoadedModel, diameter_A: float | None = None,
             config: FCNPickConfig = FCNPickConfig(), device: str | torch.device = "cpu") -> pd.DataFrame:
    """Pick one micrograph with a fully convolutional model; a Picks table in original pixels.

    Parameters
    ----------
    mic
        The micrograph.
    loaded
        A model of kind ``"fcn"`` (:func:`cryopick.models.checkpoint.load_model`), on ``device``.
    diameter_A
        Particle diameter in Å; None: the one the model was trained at.
    config
        Threshold, spacing, test-time augmentation, memory cap.
    device
        Where the network runs.

    Returns
    -------
    pandas.DataFrame
        ``micrograph, x, y, score, diameter_px``, strongest first; ``score`` is the
        probability at the candidate.
    """
    diameter_A = loaded.diameter_A if diameter_A is None else float(diameter_A)
    return pick_preprocessed(prepare_fcn(mic, loaded, diameter_A), mic.name, float(mic.apix), loaded, diameter_A,
                             config, device)


def prepare_fcn(mic: Micrograph, loaded: LoadedModel, diameter_A: float | None = None) -> Preprocessed:
    """The first half of :func:`pick_fcn`: the micrograph at the model's working scale.

    Split off so that a batch run can prepare the next micrograph while the network runs
    on this one (:mod:`cryopick.runs.batch`); the original pixels are not needed after it.
    """
    if loaded.kind != "fcn":
        raise CryopickError(f"model is a {loaded.kind!r} patch classifier, not a fully convolutional picker",
                            fix="pick with it by sliding window (cryopick pick --model uses the right one)")
    diameter_A = loaded.diameter_A if diameter_A is None else float(diameter_A)
    return preprocess(mic, diameter_A, PreprocessConfig(**loaded.preprocess))


def pick_preprocessed(pre: Preprocessed, name: str, apix: float, loaded: LoadedModel, diameter_A: float,
                      config: FCNPickConfig = FCNPickConfig(), device: str | torch.device = "cpu") -> pd.DataFrame:
    """The second half of :func:`pick_fcn`: network, candidates and guards on a prepared image.

    ``name`` and ``apix`` are the original micrograph's; ``diameter_A`` the particle
    diameter picked at.
    """
    prob = probability_map(loaded.model, pre.image, tta=config.tta, device=device,
                           memory_cap_bytes=config.memory_cap_bytes)
    spacing = loaded.min_distance_diameters if config.min_distance_diameters is None else config.min_distance_diameters
    threshold = loaded.threshold if config.threshold is None else config.threshold
    x, y, score = find_peaks(prob, max(1.0, spacing * pre.diameter_px), threshold=threshold if threshold > 0 else None)
    regions = junk_region_mask_for(pre) if config.junk_regions and x.size else None
    if regions is not None:
        keep = picks_outside(np.c_[x, y], regions)
        x, y, score = x[keep], y[keep], score[keep]
    if config.contrast_guard_spreads is not None and x.size:
        keep = contrast_guard(pre.image, x, y, score >= loaded.threshold, pre.diameter_px, config.contrast_guard_spreads)
        x, y, score = x[keep], y[keep], score[keep]
    if config.aggregate_guard is not None and x.size:
        keep = aggregate_guard(pre.image, prob, x, y, score >= loaded.threshold, pre.diameter_px,
                               config.aggregate_guard, threshold=loaded.threshold, exclude=regions)
        x, y, score = x[keep], y[keep], score[keep]
    if x.size == 0:
        return empty_picks()
    x_orig, y_orig = pre.to_original(x, y)
    return make_picks(name, x_orig, y_orig, score, diameter_A / apix)


def contrast_guard(image: np.ndarray, x: np.ndarray, y: np.ndarray, population: np.ndarray, diameter_px: float,
                   n_spreads: float) -> np.ndarray:
    """Which candidates are neither far darker nor far more textured than the particles (True = keep).

    Two features: darkness, minus the image's mean over a square of half a diameter around
    each candidate, and texture, the image's standard deviation over a square of one
    diameter. For each, centre and spread (1.4826 x MAD) are taken over the ``population``
    candidates, and a candidate more than ``n_spreads`` spreads above the centre is
    dropped. With fewer than :data:`GUARD_MIN_CANDIDATES` population candidates,
    everything is kept.
    """
    keep = np.ones(x.size, dtype=bool)
    if int(np.count_nonzero(population)) < GUARD_MIN_CANDIDATES:
        return keep
    image = np.asarray(image, dtype=np.float32)
    rows = np.clip(np.rint(y).astype(int), 0, image.shape[0] - 1)
    cols = np.clip(np.rint(x).astype(int), 0, image.shape[1] - 1)
    half = max(3, int(round(0.5 * diameter_px)))
    whole = max(3, int(round(diameter_px)))
    darkness = -ndimage.uniform_filter(image, half, mode="reflect")[rows, cols]
    mean = ndimage.uniform_filter(image, whole, mode="reflect")
    texture = np.sqrt(np.maximum(ndimage.uniform_filter(image * image, whole, mode="reflect") - mean * mean, 0.0))
    for feature in (darkness, texture[rows, cols]):
        centre, spread = median_and_spread(feature[population])
        if spread > 0:
            keep &= feature <= centre + n_spreads * spread
    return keep
