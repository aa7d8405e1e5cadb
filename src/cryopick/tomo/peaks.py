"""3D peaks: local maxima of a score volume at least a minimum distance apart, strongest first.

A voxel is a candidate when it is the maximum of the cube of side ``2 r + 1`` around it
(``r`` = the minimum distance) and above ``floor``; candidates closer than ``r`` to a
stronger one are then dropped greedily (a k-d tree), so the result does not depend on
how ties fall in the cube. Ties break by position (z, y, x), so the answer is the same
every time.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree


def find_peaks_3d(scores: np.ndarray, min_distance_vox: float, floor: float = -np.inf,
                  max_peaks: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Peak positions ``(n, 3)`` as z, y, x (working voxels) and their scores, strongest first.

    Parameters
    ----------
    scores
        The score volume ``[z, y, x]``.
    min_distance_vox
        Peaks closer than this are suppressed in favour of the stronger.
    floor
        Peaks at or below this are left out.
    max_peaks
        Keep at most this many (the strongest).
    """
    r = max(int(np.floor(min_distance_vox)), 1)
    local = ndimage.maximum_filter(scores, size=2 * r + 1, mode="nearest")
    candidates = np.argwhere((scores >= local) & (scores > floor))
    values = scores[tuple(candidates.T)]
    order = np.lexsort((candidates[:, 2], candidates[:, 1], candidates[:, 0], -values))
    candidates, values = candidates[order], values[order]
    if len(candidates) > 1:
        tree = cKDTree(candidates)
        kept = np.ones(len(candidates), dtype=bool)
        for i in range(len(candidates)):
            if kept[i]:
                near = tree.query_ball_point(candidates[i], r=min_distance_vox - 1e-9)
                near = [j for j in near if j > i]
                kept[near] = False
        candidates, values = candidates[kept], values[kept]
    if max_peaks is not None:
        candidates, values = candidates[:max_peaks], values[:max_peaks]
    return candidates.astype(np.float64), values.astype(np.float64)
