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


def reach_vox(min_distance_vox: float) -> int:
    """The half side of the cube a peak must be the maximum of: how many sections of scores around it are needed."""
    return max(int(np.floor(min_distance_vox)), 1)


def local_maxima(scores: np.ndarray, min_distance_vox: float, floor: float = -np.inf,
                 rows: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Voxels ``(n, 3)`` (z, y, x) that are the maximum of the cube around them and above ``floor``, and their scores.

    ``rows`` keeps only sections ``rows[0]:rows[1]``; their cubes must lie in ``scores``
    (``reach_vox`` sections either side) or meet its faces where the volume ends, so a
    volume can be searched a slab at a time with the result of searching it whole.
    """
    r = reach_vox(min_distance_vox)
    local = ndimage.maximum_filter(scores, size=2 * r + 1, mode="nearest")
    lo, hi = (0, len(scores)) if rows is None else rows
    core, near = scores[lo:hi], local[lo:hi]
    candidates = np.argwhere((core >= near) & (core > floor))
    values = core[tuple(candidates.T)]
    candidates[:, 0] += lo
    return candidates, values


def suppress(candidates: np.ndarray, values: np.ndarray, min_distance_vox: float,
             max_peaks: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Candidates strongest first (ties by z, y, x), each dropped when closer than ``min_distance_vox`` to a stronger."""
    candidates, values = np.asarray(candidates).reshape(-1, 3), np.asarray(values).ravel()
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
    candidates, values = local_maxima(scores, min_distance_vox, floor)
    return suppress(candidates, values, min_distance_vox, max_peaks)
