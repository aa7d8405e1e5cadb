"""Shared by test_patches.py and test_sampling.py: a micrograph of dark discs in noise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cryopick.io.micrographs import Micrograph


def disc_micrograph(shape, apix, diameter_A, centres_xy, *, name="m", seed=0, contrast=3.0, noise=1.0):
    """Gaussian noise with dark discs of the given diameter at (x, y) original pixels."""
    rng = np.random.default_rng(seed)
    data = rng.normal(100.0, noise, shape).astype(np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    radius = diameter_A / apix / 2
    for x, y in centres_xy:
        data[(xx - x) ** 2 + (yy - y) ** 2 <= radius**2] -= contrast
    return Micrograph(name, Path(f"/data/{name}.mrc"), data, apix)
