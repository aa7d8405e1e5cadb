"""Counting particles for the FCN's training: first guess, estimate from labels, limits.

Positive-unlabeled training needs the fraction of pixels that are particle centres, that
is, the number of particles. :mod:`cryopick.pickers.fcn.train` gets it from these pieces:

* :func:`log_blob_count`: particle-sized blobs the LoG detector finds (the first guess);
* :func:`rank_count`: where the labels rank among a network's candidates, and how sure that is;
* :func:`packing_limit`: the most particles that fit;
* :func:`prior_from_count`: the count as a fraction of pixels.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from cryopick.detect import find_peaks
from cryopick.pickers.log import log_score_map

MIN_CONFIDENT_MEDIAN = 0.5
"""At or above this median label score after round 1 the count from the labels is trusted."""

MAX_SHARE_AT_MEDIAN = 0.15
"""Below :data:`MIN_CONFIDENT_MEDIAN`, the count from the labels is still trusted when at most
this share of all candidates scores at or above the labelled median: the network then
ranks the particles above the background even though a low first-guess prior keeps their
scores low (real apoferritin: median 0.17, share 0.13, count 546 of 641). Where it does
not tell them apart, noise peaks crowd above the median and the count runs away (ring7
at SNR 0.02: median 0.18, share 0.20, count 830 of 367); the first guess is then kept."""


def packing_limit(area_px: float, diameter_px: float) -> float:
    """The most particles that fit: discs covering half the area (random close packing is ~0.55)."""
    return 0.5 * area_px / (math.pi * diameter_px * diameter_px / 4.0)


def prior_from_count(n_particles: float, disc_px: float, area_px: float) -> float:
    """The count as a fraction of the pixels: ``disc_px`` positive pixels per particle, clipped to [1e-4, 0.5].

    The one formula of the prior: :func:`cryopick.pickers.fcn.train.train_fcn` gives the
    pixels of a drawn disc, the general model's recipe the disc's area.
    """
    return float(np.clip(n_particles * disc_px / max(area_px, 1.0), 1e-4, 0.5))


def log_blob_count(images: list[np.ndarray], diameter_px: float) -> float:
    """Particle-sized blobs the LoG detector finds above its automatic cut, in all images."""
    total = 0
    for img in images:
        x, _, _ = find_peaks(log_score_map(img, diameter_px), 0.7 * diameter_px, threshold=2.5)
        total += x.size
    return float(total)


def label_scores(prob: np.ndarray, labels_xy: np.ndarray, reach_px: float) -> np.ndarray:
    """Each label's score: the highest probability within a square of half-side ``reach_px`` around it.

    A label with no pixel of the map in reach (far outside it) scores 0.
    """
    out = np.zeros(len(labels_xy))
    r = int(math.ceil(reach_px))
    ny, nx = prob.shape
    for i, (x, y) in enumerate(labels_xy):
        cx, cy = int(round(x)), int(round(y))
        y0, y1, x0, x1 = max(0, cy - r), min(ny, cy + r + 1), max(0, cx - r), min(nx, cx + r + 1)
        if y0 < y1 and x0 < x1:
            out[i] = prob[y0:y1, x0:x1].max()
    return out


def candidate_scores(maps: list[np.ndarray], min_distance_px: float) -> np.ndarray:
    """Scores of every peak at least ``min_distance_px`` from a stronger one, over all maps."""
    return np.concatenate([find_peaks(p, min_distance_px)[2] for p in maps]) if maps else np.empty(0)


def rank_count(maps: list[np.ndarray], labels_xy: list[np.ndarray], min_distance_px: float,
               reach_px: float) -> tuple[float, float]:
    """How many particles the score maps hold, from where the labelled ones rank, and how sure that is.

    Labels are a random sample of the particles, so the median label score splits the
    particles in half: the candidates (peaks at least ``min_distance_px`` apart) scoring
    at or above it, doubled, estimate the number of particles (never fewer than the labels
    themselves). A label's score is the highest value within ``reach_px`` of it.

    Returns
    -------
    count, share
        The estimate (0 without labels) and the share of all candidates scoring at or
        above the labelled median (1 without labels or candidates; see
        :func:`count_is_trusted`).
    """
    scores = np.concatenate([label_scores(p, xy, reach_px) for p, xy in zip(maps, labels_xy)])
    if scores.size == 0:
        return 0.0, 1.0
    candidates = candidate_scores(maps, min_distance_px)
    above = int((candidates >= float(np.median(scores))).sum())
    return max(float(scores.size), 2.0 * above), above / candidates.size if candidates.size else 1.0


def count_is_trusted(label_median: float, share: float) -> bool:
    """Whether the count from where the labels rank is believed (see :data:`MAX_SHARE_AT_MEDIAN`)."""
    return label_median >= MIN_CONFIDENT_MEDIAN or share <= MAX_SHARE_AT_MEDIAN


def estimate_particle_count(maps: list[np.ndarray], labels_xy: list[np.ndarray], min_distance_px: float,
                            reach_px: float) -> float:
    """How many particles the score maps hold, from where the labelled ones rank (:func:`rank_count`)."""
    return rank_count(maps, labels_xy, min_distance_px, reach_px)[0]


def nearest_within(xy: np.ndarray, others_xy: np.ndarray, radius: float) -> np.ndarray:
    """For each point, whether another set has a point within ``radius``."""
    if len(xy) == 0 or len(others_xy) == 0:
        return np.zeros(len(xy), dtype=bool)
    dist, _ = cKDTree(others_xy).query(xy, distance_upper_bound=radius)
    return np.isfinite(dist)
