"""The dense-object guard: no picks on gold fiducials and other objects far denser than protein.

Gold beads (and heavy contamination) are many times denser than protein, so in a
tomogram they are the most extreme voxels by far, and their reconstruction streaks make
dark spots of a particle's size beside them that a network trained on a few labels
takes for particles. A conventional rule removes them without a label of them:

* At training, :func:`dense_limit` measures the labelled particles: the darkest voxel
  (on the protein's side: dark in cryo-EM convention, bright when the tomogram is
  inverted) within half a diameter of each label, in the working volume's robust units;
  the median over the labels is how dense a particle gets. Protein stays within a small
  multiple of that (a particle's darkest voxel is 5-16 robust units in the simulated
  tomograms, gold 130-150); the limit is :data:`DENSE_FACTOR` times the median.
  Wrong labels on background make the median weaker and so the limit stricter, never
  looser than :data:`DENSE_FACTOR` times the real particles'.
* At picking, :func:`near_dense` (or :func:`near_points`, given the dense voxels found
  slab by slab) drops every candidate with a voxel beyond the limit
  within half a diameter (plus one voxel) of it: a box holding gold is junk whatever
  the network thinks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

DENSE_FACTOR = 4.0
"""How many times denser than the labelled particles' median darkest voxel a voxel must be to count as not protein."""


def _reach_vox(diameter_vox: float) -> int:
    return max(int(round(diameter_vox / 2.0)), 1)


def dense_limit(volumes: Sequence[np.ndarray], labels_zyx: Sequence[np.ndarray], diameter_vox: float
                ) -> tuple[float, float]:
    """``(polarity, limit)``: voxels with ``polarity * value > limit`` are far denser than the labelled particles.

    ``polarity`` is -1 when particles are dark (the labels' neighbourhoods are darker than
    the volume's median 0), +1 when the tomogram is inverted.
    """
    reach = _reach_vox(diameter_vox)
    low, high = [], []
    for volume, zyx in zip(volumes, labels_zyx):
        # only the cube around each label is needed, not a filter over the whole volume
        for centre in np.clip(np.rint(zyx).astype(int), 0, np.array(volume.shape) - 1).reshape(-1, 3):
            cube = volume[tuple(slice(max(c - reach, 0), c + reach + 1) for c in centre)]
            low.append(cube.min())
            high.append(cube.max())
    darkest, brightest = np.array(low), np.array(high)
    # protein is denser than ice: its extreme side is the one the labels reach further on
    polarity = -1.0 if np.median(-darkest) >= np.median(brightest) else 1.0
    extreme = np.median(polarity * (darkest if polarity < 0 else brightest))
    return polarity, float(DENSE_FACTOR * max(extreme, 1.0))


def dense_voxels(volume: np.ndarray, polarity: float, limit: float) -> np.ndarray:
    """Positions ``(n, 3)`` (z, y, x) of the voxels beyond ``limit`` on the protein's side."""
    return np.argwhere(polarity * volume > limit)


def near_dense(volume: np.ndarray, zyx: np.ndarray, polarity: float, limit: float, diameter_vox: float
               ) -> np.ndarray:
    """For each position ``(n, 3)`` (z, y, x, working voxels): is a voxel beyond ``limit`` within its reach?"""
    return near_points(dense_voxels(volume, polarity, limit), zyx, diameter_vox)


def near_points(dense_zyx: np.ndarray, zyx: np.ndarray, diameter_vox: float) -> np.ndarray:
    """For each position ``(n, 3)``: is one of the dense voxels ``dense_zyx`` within its reach?"""
    zyx = np.asarray(zyx, dtype=np.float64).reshape(-1, 3)
    dense = np.asarray(dense_zyx).reshape(-1, 3)
    if not len(dense) or not len(zyx):
        return np.zeros(len(zyx), dtype=bool)
    distance, _ = cKDTree(dense).query(zyx, k=1, distance_upper_bound=_reach_vox(diameter_vox) + 1.0)
    return np.isfinite(distance)
