"""The reference-free baseline in 3D: Laplacian-of-Gaussian blobs of the particle's size.

At the working scale (:mod:`cryopick.tomo.scale`) the volume is filtered with the
scale-normalised LoG ``σ² ∇²G_σ`` at ``σ = d / (2√3)`` (the blob radius ``√3 σ`` is the
particle's), which is positive at the centre of a dark blob (cryo-EM contrast). Peaks at
least 0.7 diameters apart are candidates; the score is their robust z (median and MAD
of the filtered volume), and picks are those above ``threshold`` (2.5 by default, as the
2D LoG picker).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

from cryopick.preprocess import median_and_spread
from cryopick.tomo.coords import make_picks3d
from cryopick.tomo.peaks import find_peaks_3d
from cryopick.tomo.scale import WorkingVolume

LOG_THRESHOLD = 2.5


def log_scores(work: WorkingVolume) -> np.ndarray:
    """The robust-z LoG response of the working volume (bright where a dark blob of the particle's size is)."""
    sigma = work.diameter_vox / (2.0 * np.sqrt(3.0))
    response = sigma**2 * ndimage.gaussian_laplace(work.data, sigma, mode="nearest")
    centre, spread = median_and_spread(response[:: max(1, response.shape[0] // 16)].ravel())
    return ((response - centre) / (spread if spread > 0 else 1.0)).astype(np.float32)


def pick_log3d(work: WorkingVolume, name: str, threshold: float | None = LOG_THRESHOLD) -> pd.DataFrame:
    """LoG picks of one tomogram in original voxels, strongest first (``threshold`` None: every peak)."""
    zyx, score = find_peaks_3d(log_scores(work), 0.7 * work.diameter_vox,
                               floor=-np.inf if threshold is None else threshold)
    original = work.to_original(zyx)
    return make_picks3d(name, original[:, 2], original[:, 1], original[:, 0], score, work.diameter_vox * work.bin)
