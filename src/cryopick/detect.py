"""Peak finding on score maps: local maxima over a threshold, at a minimum distance.

:func:`find_peaks` is shared by every picker (the LoG picker's response map, a
network's heat map). It returns peaks strongest first and guarantees that no two
returned peaks (before sub-pixel refinement) are closer than ``min_distance_px``:

1. **Candidates**: pixels that are the maximum of the square of half-width
   ``floor(min_distance_px / sqrt(2))`` around them (that square lies inside the
   exclusion disc, so a candidate has no stronger pixel that the disc would forbid
   anyway). This is one separable ``maximum_filter``, fast on large maps, and it
   leaves few candidates even on pure noise.
2. **Plateaus**: neighbouring candidates are equal-valued (each is the other's window
   maximum); each connected plateau becomes one candidate, its pixel nearest the
   plateau's centroid.
3. **Greedy non-maximum suppression** over the candidates with a KD-tree: in order of
   decreasing score (ties in raster order), keep a candidate unless a kept one lies
   closer than ``min_distance_px``. Peaks in the excluded border are dropped after
   this step, then ``max_peaks`` applies.
4. **Sub-pixel refinement** (optional, default on): a parabola through the peak and its
   two neighbours along each axis moves the peak by at most half a pixel.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def find_peaks(score_map: np.ndarray, min_distance_px: float, threshold: float | None = None,
               exclude_border_px: int = 0, max_peaks: int | None = None, *,
               subpixel: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (x, y, score) of local maxima, strongest first (x = column, y = row).

    Parameters
    ----------
    score_map
        2D map, higher = more particle-like. NaN and -inf pixels are never peaks.
    min_distance_px
        No two peaks closer than this (in map pixels, > 0). Guaranteed for the integer
        peak positions; sub-pixel refinement can then move each peak by <= 0.5 px per axis.
    threshold
        Keep peaks scoring at least this (None: no threshold).
    exclude_border_px
        Drop peaks whose integer position is within this many pixels of an edge
        (``x < b`` or ``x > nx - 1 - b``, likewise y). Peaks are found on the whole map
        first, so a strong peak in the border (a particle cut by the edge) still
        suppresses its weaker neighbours before it is dropped.
    max_peaks
        Keep at most this many (the strongest); None for all.
    subpixel
        Refine positions with a parabola per axis (default True).

    Returns
    -------
    x, y, score
        float64 arrays of equal length, ordered by decreasing score. ``score`` is the
        map value at the integer peak pixel.
    """
    scores = np.asarray(score_map)
    if scores.ndim != 2:
        raise ValueError(f"find_peaks needs a 2D map, got shape {scores.shape}")
    if not (math.isfinite(min_distance_px) and min_distance_px > 0):
        raise ValueError(f"min_distance_px must be a positive number, got {min_distance_px}")
    if max_peaks is not None and max_peaks < 0:
        raise ValueError(f"max_peaks must be >= 0, got {max_peaks}")
    empty = (np.empty(0), np.empty(0), np.empty(0))
    if scores.size == 0 or max_peaks == 0:
        return empty
    work = scores.astype(np.float64, copy=False) if scores.dtype.kind != "f" else scores
    finite = np.isfinite(work)
    if not finite.all():
        work = np.where(finite, work, -np.inf)

    ys, xs = _candidates(work, finite, min_distance_px, threshold)
    if ys.size == 0:
        return empty
    values = work[ys, xs]
    order = np.lexsort((ys * work.shape[1] + xs, -values))  # decreasing score, ties in raster order
    ys, xs, values = ys[order], xs[order], values[order]
    keep = _greedy_nms(ys, xs, min_distance_px)
    border = int(exclude_border_px)
    if border > 0:
        ny, nx = work.shape
        keep &= (ys >= border) & (ys < ny - border) & (xs >= border) & (xs < nx - border)
    ys, xs, values = ys[keep], xs[keep], values[keep]
    if max_peaks is not None:
        ys, xs, values = ys[:max_peaks], xs[:max_peaks], values[:max_peaks]
    x = xs.astype(np.float64)
    y = ys.astype(np.float64)
    if subpixel:
        x += _parabola_offset(work, ys, xs, axis=1)
        y += _parabola_offset(work, ys, xs, axis=0)
    return x, y, values.astype(np.float64)


def _candidates(work: np.ndarray, finite: np.ndarray, min_distance_px: float,
                threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Integer (row, col) of window maxima over the threshold, one per plateau."""
    half = max(1, math.floor(min_distance_px / math.sqrt(2.0)))
    window_max = ndimage.maximum_filter(work, size=2 * half + 1, mode="nearest")
    mask = (work == window_max) & finite
    if threshold is not None:
        mask &= work >= threshold
    return _one_per_plateau(mask)


def _one_per_plateau(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each 8-connected component of ``mask``, its pixel nearest the component centroid."""
    ys, xs = np.nonzero(mask)
    if ys.size < 2:
        return ys, xs
    labels, n = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    if n == ys.size:
        return ys, xs  # no plateaus: every candidate is an isolated pixel
    lab = labels[ys, xs]
    counts = np.bincount(lab, minlength=n + 1).astype(np.float64)
    cy = np.bincount(lab, weights=ys, minlength=n + 1) / np.maximum(counts, 1)
    cx = np.bincount(lab, weights=xs, minlength=n + 1) / np.maximum(counts, 1)
    d2 = (ys - cy[lab]) ** 2 + (xs - cx[lab]) ** 2
    order = np.lexsort((d2, lab))
    first = np.ones(order.size, dtype=bool)
    first[1:] = lab[order][1:] != lab[order][:-1]
    pick = np.sort(order[first])
    return ys[pick], xs[pick]


def _greedy_nms(ys: np.ndarray, xs: np.ndarray, min_distance_px: float) -> np.ndarray:
    """Boolean keep-mask for points sorted strongest first: drop any within range of a kept one."""
    n = ys.size
    if n < 2:
        return np.ones(n, dtype=bool)
    radius = float(np.nextafter(min_distance_px, 0.0))  # pairs closer than min_distance_px
    tree = cKDTree(np.column_stack([ys, xs]).astype(np.float64))
    pairs = tree.query_pairs(radius, output_type="ndarray")
    if pairs.size == 0:
        return np.ones(n, dtype=bool)
    first = np.minimum(pairs[:, 0], pairs[:, 1])  # the stronger of each pair
    second = np.maximum(pairs[:, 0], pairs[:, 1])
    order = np.argsort(first, kind="stable")
    first, second = first[order], second[order]
    starts = np.flatnonzero(np.r_[True, first[1:] != first[:-1]])
    ends = np.r_[starts[1:], first.size]
    suppressed = np.zeros(n, dtype=bool)
    for start, end in zip(starts.tolist(), ends.tolist()):
        if not suppressed[first[start]]:
            suppressed[second[start:end]] = True
    return ~suppressed


def _parabola_offset(work: np.ndarray, ys: np.ndarray, xs: np.ndarray, axis: int) -> np.ndarray:
    """Vertex offset (in [-0.5, 0.5]) of the parabola through each peak and its two neighbours."""
    n = work.shape[axis]
    pos = ys if axis == 0 else xs
    inner = (pos > 0) & (pos < n - 1)
    offset = np.zeros(pos.size, dtype=np.float64)
    if not inner.any():
        return offset
    yi, xi = ys[inner], xs[inner]
    if axis == 0:
        left, mid, right = work[yi - 1, xi], work[yi, xi], work[yi + 1, xi]
    else:
        left, mid, right = work[yi, xi - 1], work[yi, xi], work[yi, xi + 1]
    curvature = left - 2.0 * mid + right
    with np.errstate(invalid="ignore", divide="ignore"):
        shift = 0.5 * (left - right) / curvature
    ok = np.isfinite(shift) & (curvature < 0)
    offset[inner] = np.where(ok, np.clip(shift, -0.5, 0.5), 0.0)
    return offset
