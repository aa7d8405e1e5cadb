"""Peak finding on score maps: local maxima over a threshold, at a minimum distance.

(INTERFACE STUB - to be implemented.)
"""

from __future__ import annotations

import numpy as np


def find_peaks(score_map: np.ndarray, min_distance_px: float, threshold: float | None = None,
               exclude_border_px: int = 0, max_peaks: int | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (x, y, score) of local maxima, strongest first (x = column, y = row)."""
    raise NotImplementedError
