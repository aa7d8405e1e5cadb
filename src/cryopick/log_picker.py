"""A reference-free Laplacian-of-Gaussian blob picker at the particle size.

(INTERFACE STUB - to be implemented.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cryopick.io.micrographs import Micrograph
from cryopick.preprocess import PreprocessConfig


@dataclass(frozen=True)
class LoGConfig:
    """threshold: minimum score kept (None: keep all peaks, lowest scores last);
    min_distance_diameters: minimum distance between picks in particle diameters;
    max_picks: cap per micrograph (None: no cap)."""

    threshold: float | None = None
    min_distance_diameters: float = 0.8
    max_picks: int | None = None
    preprocess: PreprocessConfig = PreprocessConfig()


def log_score_map(image: np.ndarray, diameter_px: float) -> np.ndarray:
    """Scale-normalised LoG response for dark particles of this diameter (higher = more blob-like)."""
    raise NotImplementedError


def pick_log(mic: Micrograph, diameter_A: float, config: LoGConfig = LoGConfig()) -> pd.DataFrame:
    """Pick one micrograph; returns a Picks table in original-micrograph pixels."""
    raise NotImplementedError
