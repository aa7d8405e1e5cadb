"""Do the labels sit on particles? A check before training, without a model.

Labels with y counted from the other edge, or from another micrograph or pixel size,
train a picker without complaint and give F1 near 0.1 afterwards. Particles share a
look, so the patches cut at true labels average to a structured image (a disc, a ring:
the particle seen through the CTF), while patches at arbitrary positions average to
noise. :func:`label_structure` measures how much structure the average holds, as a
z-score against the same number of random positions; :func:`label_warning` compares the
labels as placed with the labels mirrored in y and says, in one line with the fix, when
the labels look like background or like a flipped copy of particles.

The statistic is the mean square of the average patch within one diameter of its centre
after removing its mean (sign- and shape-blind: dark or bright particles, discs or
rings), on the working-scale images the trainer uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cryopick.extract.boxes import crosses_edge, cut_boxes

MIN_LABELS = 20
"""Fewer labels than this say too little to judge."""
N_NULL = 24
"""Random position sets drawn for the null distribution."""
BACKGROUND_Z = 3.0
"""Labels whose structure z-score is below this look like background."""
FLIPPED_Z = 6.0
"""Mirrored labels above this (and well above the labels) look like the real particles."""


@dataclass(frozen=True)
class LabelImage:
    """One working-scale image (normalised) and its labels in its pixels (x = column, y = row)."""

    image: np.ndarray
    labels_xy: np.ndarray


def _patches_sum(image: np.ndarray, xy: np.ndarray, half: int) -> tuple[np.ndarray, int]:
    """Sum of the (2 half + 1)² patches centred on ``xy`` (rounded) that lie inside, and their count."""
    size = 2 * half + 1
    cx, cy = np.rint(xy[:, 0]).astype(np.intp), np.rint(xy[:, 1]).astype(np.intp)
    inside = ~crosses_edge(cx, cy, size, image.shape)
    if not inside.any():
        return np.zeros((size, size), np.float64), 0
    boxes = cut_boxes(image, cx[inside], cy[inside], size)
    return boxes.sum(axis=0, dtype=np.float64), int(inside.sum())


def _structure(images: Sequence[LabelImage], xys: Sequence[np.ndarray], half: int, disc: np.ndarray) -> float:
    total = np.zeros_like(disc, dtype=np.float64)
    count = 0
    for item, xy in zip(images, xys):
        part, n = _patches_sum(item.image, xy, half)
        total += part
        count += n
    if count == 0:
        return float("nan")
    mean = (total / count)[disc]
    return float(np.mean((mean - mean.mean()) ** 2))


def label_structure(images: Sequence[LabelImage], diameter_px: float, *, mirrored: bool = False,
                    seed: int = 0) -> float:
    """How much more structure the labels' average patch holds than random positions', as a z-score.

    Parameters
    ----------
    images
        The working-scale images and their labels.
    diameter_px
        Particle diameter in working pixels.
    mirrored
        Judge the labels mirrored in y (``y -> ny - 1 - y``) instead.
    seed
        Seed of the random positions (the same answer every time).

    Returns
    -------
    float
        ``(S - mean(S_random)) / std(S_random)``; NaN when no label lies a diameter inside.
    """
    half = max(int(round(diameter_px)), 2)
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    disc = xx**2 + yy**2 <= half**2
    placed = [_mirrored(item) if mirrored else item.labels_xy for item in images]
    observed = _structure(images, placed, half, disc)
    rng = np.random.default_rng(seed)
    null = []
    for _ in range(N_NULL):
        random = [np.column_stack([rng.uniform(0, item.image.shape[1] - 1, len(xy)),
                                   rng.uniform(0, item.image.shape[0] - 1, len(xy))])
                  for item, xy in zip(images, placed)]
        null.append(_structure(images, random, half, disc))
    null_array = np.asarray(null)
    spread = float(np.std(null_array))
    return (observed - float(np.mean(null_array))) / spread if spread > 0 else float("nan")


def _mirrored(item: LabelImage) -> np.ndarray:
    xy = np.asarray(item.labels_xy, dtype=np.float64).reshape(-1, 2).copy()
    xy[:, 1] = item.image.shape[0] - 1.0 - xy[:, 1]
    return xy


def label_warning(images: Sequence[LabelImage], diameter_px: float) -> str | None:
    """One warning line with the fix when the labels look y-flipped or like background; None when they look right."""
    if sum(len(item.labels_xy) for item in images) < MIN_LABELS:
        return None
    placed = label_structure(images, diameter_px)
    if not np.isfinite(placed) or placed >= BACKGROUND_Z:
        return None
    mirrored = label_structure(images, diameter_px, mirrored=True)
    if np.isfinite(mirrored) and mirrored >= FLIPPED_Z and mirrored >= 2.0 * max(placed, 1.0):
        return (f"warning: the labels look y-flipped: as placed they look like background (z {placed:.1f}), "
                f"mirrored in y like particles (z {mirrored:.1f}); fix: pass --flip-y, or write the labels with "
                "y counted from the top row")
    return (f"warning: the labelled positions look like background (z {placed:.1f} against random positions); "
            "fix: check that the labels name the right micrographs, count y from the top row (--flip-y) and use "
            "these micrographs' pixels")
