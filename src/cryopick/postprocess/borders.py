"""Artefact bands along a micrograph's edges: blank or padded margins and processing stripes, found and not picked.

Motion correction and other processing leave bands along the edges where the frames did
not overlap: padded with a constant, smeared into stripes, or brighter or darker than the
rest. Nobody picks there, but a network sees high-contrast texture and scores it. Such a
band is told by its rows (or columns) themselves: their median or their spread stands far
outside those of the micrograph's middle half.

:func:`border_bands` measures, at each edge, how deep such rows (columns) reach from the
edge; :func:`outside_bands` keeps the candidates away from them. Both work on the working
image (robust-normalised, so thresholds are in units of its noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAND_SPREADS = 6.0
"""A row (column) is an artefact when its median or log MAD is this many robust spreads from the middle's."""

MIN_SPREAD = 0.05
"""Floor of the robust spread of row medians and log MADs (normalised units), so a very even image does
not call ordinary rows artefacts."""

SEGMENTS = 4
"""Pieces each row (column) is judged in; an artefact row is odd in all of them but at most one."""

MAX_BAND_FRACTION = 0.25
"""How far in from an edge a band is looked for, as a fraction of the image's side."""

MIN_BAND_DIAMETERS = 0.4
"""Bands thinner than this (in particle diameters, and than 3 working pixels) are ignored: the filters' own
edge effects, or a dark object touching the edge, not a processing artefact."""


@dataclass(frozen=True)
class Bands:
    """How deep the artefact band at each edge reaches, in working-image pixels (0: none)."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0

    @property
    def any(self) -> bool:
        return bool(self.top or self.bottom or self.left or self.right)


def _anomalous(image: np.ndarray, axis: int) -> np.ndarray:
    """For each row (``axis=1``) or column (``axis=0``): whether it is an artefact along most of its length.

    The row is cut into :data:`SEGMENTS` pieces; a piece is odd when its level or log
    spread (median, median absolute deviation) is far from those of the same piece of the
    middle half's rows. A processing band runs along the whole edge, so nearly every piece
    of its rows is odd; a blob of ice or a carbon corner touching the edge makes only one
    or two pieces odd, and the row is not called an artefact.
    """
    rows = image if axis == 1 else image.T
    pieces = np.array_split(rows, SEGMENTS, axis=1)
    level = np.stack([np.median(piece, axis=1) for piece in pieces], axis=1)
    spread = np.log(np.stack([np.median(np.abs(piece - level[:, [i]]), axis=1)
                              for i, piece in enumerate(pieces)], axis=1) + 1e-6)
    lo, hi = rows.shape[0] // 4, max(rows.shape[0] // 4 + 1, (3 * rows.shape[0]) // 4)
    odd = np.zeros(level.shape, dtype=bool)
    for values in (level, spread):
        middle = values[lo:hi]
        centre = np.median(middle, axis=0)
        scale = np.maximum(1.4826 * np.median(np.abs(middle - centre), axis=0), MIN_SPREAD)
        odd |= np.abs(values - centre) > BAND_SPREADS * scale
    return odd.sum(axis=1) >= SEGMENTS - 1


def _depth(bad: np.ndarray, gap: int, min_px: float) -> int:
    """How far from index 0 the anomalous entries reach before ``gap`` normal ones in a row."""
    depth, normal = 0, 0
    for i, is_bad in enumerate(bad[: int(bad.size * MAX_BAND_FRACTION)]):
        if is_bad:
            depth, normal = i + 1, 0
        else:
            normal += 1
            if normal >= gap:
                break
    return depth if depth >= min_px else 0


def border_bands(image: np.ndarray, diameter_px: float) -> Bands:
    """The artefact band at each edge of a working-scale image (see the module docstring).

    A band ends where ``max(3, diameter_px / 4)`` normal rows (columns) follow each other.
    The rows are judged a second time leaving out the columns of the bands found at the
    left and right (and the columns likewise), so that a padded side does not make every
    row near the top or bottom look odd.
    """
    image = np.asarray(image, dtype=np.float32)
    if min(image.shape) < 16:
        return Bands()
    gap = max(3, int(round(diameter_px / 4)))
    least = max(3.0, MIN_BAND_DIAMETERS * diameter_px)
    bands = Bands()
    for _ in range(2):  # again with the rows judged beside the column bands only, and the columns likewise
        ny, nx = image.shape
        rows = _anomalous(image[:, bands.left:nx - bands.right], 1)
        cols = _anomalous(image[bands.top:ny - bands.bottom], 0)
        bands = Bands(_depth(rows, gap, least), _depth(rows[::-1], gap, least), _depth(cols, gap, least),
                      _depth(cols[::-1], gap, least))
    return bands


def outside_bands(x: np.ndarray, y: np.ndarray, shape: tuple[int, int], bands: Bands,
                  margin_px: float) -> np.ndarray:
    """Which candidates (working pixels) lie at least ``margin_px`` beyond every band (True = keep)."""
    ny, nx = shape
    keep = np.ones(np.asarray(x).shape, dtype=bool)
    if bands.top:
        keep &= y >= bands.top + margin_px
    if bands.bottom:
        keep &= y <= ny - 1 - bands.bottom - margin_px
    if bands.left:
        keep &= x >= bands.left + margin_px
    if bands.right:
        keep &= x <= nx - 1 - bands.right - margin_px
    return keep
