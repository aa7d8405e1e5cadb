"""A conventional guard beside a network: drop candidates far darker or far more textured than the particles.

A network trained positive-unlabeled sees too few dark dots of ice or gold, carbon edges
and other high-contrast objects to learn that they are not particles, and ranks the
darkest of them highest. Judged against the population of accepted candidates, they
stand out in two simple features (see :func:`contrast_guard`).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cryopick.preprocess import median_and_spread

GUARD_MIN_CANDIDATES = 10
"""Fewer population candidates than this give nothing to judge by: every candidate is kept."""


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
