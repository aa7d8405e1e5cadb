"""Projections of structures at random orientations.

(INTERFACE STUB with a placeholder implementation - to be replaced.)
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial.transform import Rotation

from cryopick.simulate.structures import Structure


def random_rotations(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 3) rotation matrices uniformly distributed over SO(3)."""
    return Rotation.random(n, random_state=rng).as_matrix()


def project(structure: Structure, rotations: np.ndarray, apix: float, box_px: int,
            resolution_A: float | None = None) -> np.ndarray:
    """Projected scattering mass, (n, box_px, box_px) float32, centre at (box_px // 2, box_px // 2)."""
    out = np.zeros((len(rotations), box_px, box_px), np.float32)
    c = box_px // 2
    for i, r in enumerate(rotations):
        p = structure.coords_A @ r.T / apix + c
        ix = np.clip(np.round(p[:, 0]).astype(int), 0, box_px - 1)
        iy = np.clip(np.round(p[:, 1]).astype(int), 0, box_px - 1)
        np.add.at(out[i], (iy, ix), structure.weights)
        out[i] = gaussian_filter(out[i], 1.0)
    return out
