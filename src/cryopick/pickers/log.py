"""A reference-free Laplacian-of-Gaussian blob picker at the particle size.

The method follows RELION's LoG picker (``relion_autopick --LoG``):

1. :func:`cryopick.preprocess.preprocess` brings the micrograph to the working scale
   (the particle is ~24 px wide), removes ice gradients and normalises it robustly.
2. The scale-normalised LoG, ``sigma^2 * laplacian(G_sigma * image)``, is computed for a
   small band of particle diameters around the given one (``size_range``, 0.8x-1.25x
   by default) with ``sigma = D / (2 sqrt 2)`` (the radius over sqrt 2, where a disc of
   diameter D responds most). Dark particles (protein is dark in underfocused
   cryo-EM images) give a positive response.
3. Each size's response is turned into a robust z-score over the micrograph, and the
   score map is the best z over the band, so scores are comparable between
   micrographs and between sizes. The z-score's centre is the median and its spread
   the lower half-width (median minus the 15.9th percentile): that equals the standard
   deviation for noise but, unlike the MAD, is not inflated by the particles, whose
   responses are positive. (With the MAD, scores in a crowded micrograph shrink and a
   fixed cut loses particles: recall 0.81-0.97 instead of 0.98-1.0 at z >= 2.5 on
   synthetic fields with ~40 % of the area covered.)
4. Peaks at least ``min_distance_diameters`` diameters apart are found
   (:func:`cryopick.detect.find_peaks`), half a diameter from the edges.
5. Junk guard: a peak whose response at much larger sizes (1.6x-4x) beats its best
   in-band response sits on something bigger than a particle (an aggregate, an ice
   blob) and is dropped, as RELION drops pixels whose best LoG diameter is outside the
   range. Peaks far stronger than the micrograph's particle population are dropped
   too (``outlier_spreads``): a weak-phase protein particle has bounded contrast, while
   dense dots, ice rims and carbon edges answer the LoG 3-20 times more strongly. The
   population is the upper half of the peaks above the automatic cut (so noise peaks
   in a sparse field do not set it), its centre the median and its spread the scaled
   MAD. ``max_score`` (off by default) is a fixed upper cut like RELION's
   ``--LoG_upper_threshold``.
6. The automatic cut keeps peaks with z >= ``auto_threshold`` = 2.5 (like RELION's
   ``--LoG_adjust_threshold``, a cut in standard deviations of the LoG response; see
   ``docs/preprocessing.md`` for how 2.5 was chosen). Pass ``threshold`` to use your
   own cut, or :data:`KEEP_ALL` to keep every peak (to sweep thresholds in an
   evaluation).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.fft as sfft

from cryopick.detect import find_peaks
from cryopick.errors import CryopickError
from cryopick.io.micrographs import Micrograph
from cryopick.pickers.base import Candidates, Picker, PickPlan, PickRequest, Prepared
from cryopick.preprocess import PreprocessConfig, median_and_spread, preprocess

if TYPE_CHECKING:
    from cryopick.models.checkpoint import LoadedModel

KEEP_ALL: float = -math.inf
"""A ``threshold`` that keeps every peak (for precision-recall sweeps)."""

GUARD_SIZES: tuple[float, ...] = (1.6, 2.0, 2.5, 3.2, 4.0)
"""Diameters (relative to the particle's) at which a bigger dark object is recognised."""

OUTLIER_MIN_PEAKS = 10
"""Fewer peaks than this above the automatic cut give no population to judge outliers by."""


@dataclass(frozen=True)
class LoGConfig:
    """How the LoG picker picks.

    Attributes
    ----------
    threshold
        Minimum score (robust z) kept. ``None``: the automatic cut ``auto_threshold``.
        :data:`KEEP_ALL` (``-inf``): keep every peak, lowest scores last.
    min_distance_diameters
        Minimum distance between picks, in particle diameters.
    max_picks
        Cap per micrograph, strongest kept (None: no cap).
    preprocess
        Working scale and high-pass (see :class:`cryopick.preprocess.PreprocessConfig`).
    auto_threshold
        The automatic cut, in robust standard deviations of the LoG response.
    size_range
        Smallest and largest diameter searched, relative to the given diameter.
    n_sizes
        Number of diameters searched in ``size_range`` (log-spaced).
    reject_larger
        Drop peaks where a much larger blob (1.6x-4x the diameter) responds more.
    outlier_spreads
        Drop picks scoring more than this many robust spreads above the micrograph's
        particle population (see step 5 above); None keeps them. Applied only when at
        least ``OUTLIER_MIN_PEAKS`` peaks pass the automatic cut.
    max_score
        Drop picks scoring above this (robust z), like RELION's
        ``--LoG_upper_threshold``: very strong, dark objects of particle size are
        usually ice crystals or other junk. None (default) keeps them.
    border_diameters
        Exclude picks whose centre is within this many diameters of an edge.
    """

    threshold: float | None = None
    min_distance_diameters: float = 0.8
    max_picks: int | None = None
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    auto_threshold: float = 2.5
    size_range: tuple[float, float] = (0.8, 1.25)
    n_sizes: int = 5
    reject_larger: bool = True
    outlier_spreads: float | None = 8.0
    max_score: float | None = None
    border_diameters: float = 0.5

    def __post_init__(self) -> None:
        lo, hi = self.size_range
        if not (0 < lo <= 1.0 <= hi < GUARD_SIZES[0]):
            raise CryopickError(
                f"size range {self.size_range} must include 1 and lie within (0, {GUARD_SIZES[0]})",
                fix="use e.g. (0.8, 1.25): diameters relative to --diameter",
            )
        if self.n_sizes < 1:
            raise CryopickError(f"n_sizes must be >= 1, got {self.n_sizes}")
        if not self.min_distance_diameters > 0:
            raise CryopickError(
                f"minimum distance must be positive, got {self.min_distance_diameters} diameters",
                fix="use e.g. 0.8 particle diameters",
            )


def band_diameters(diameter_px: float, size_range: tuple[float, float] = (0.8, 1.25), n_sizes: int = 5) -> np.ndarray:
    """The diameters (in pixels) searched: ``n_sizes`` log-spaced in ``size_range * diameter_px``."""
    lo, hi = size_range
    if n_sizes == 1 or lo == hi:
        return np.array([diameter_px], dtype=np.float64)
    return diameter_px * np.geomspace(lo, hi, n_sizes)


def log_responses(image: np.ndarray, diameters_px: np.ndarray) -> np.ndarray:
    """Scale-normalised LoG responses, one per diameter, positive on dark blobs.

    ``R_D = sigma^2 * laplacian(G_sigma * image)`` with ``sigma = D / (2 sqrt 2)``,
    computed with one FFT of the image mirrored at its edges (no wrap-around).

    Returns
    -------
    numpy.ndarray
        float32 array (len(diameters_px), ny, nx).
    """
    maps = list(_log_maps(image, diameters_px))
    if not maps:
        return np.empty((0,) + np.shape(image), dtype=np.float32)
    return np.stack(maps)


def _log_maps(image: np.ndarray, diameters_px: np.ndarray) -> Iterator[np.ndarray]:
    """Yield the scale-normalised LoG response for each diameter in turn (float32 maps)."""
    image = np.asarray(image, dtype=np.float32)
    sigmas = np.asarray(diameters_px, dtype=np.float64).ravel() / (2.0 * math.sqrt(2.0))
    if sigmas.size == 0:
        return
    ny, nx = image.shape
    pad = math.ceil(3.0 * float(sigmas.max()))
    pad_y, pad_x = min(pad, ny - 1), min(pad, nx - 1)
    padded = np.pad(image, ((pad_y, pad_y), (pad_x, pad_x)), mode="reflect")
    shape = (sfft.next_fast_len(padded.shape[0], real=True), sfft.next_fast_len(padded.shape[1], real=True))
    spectrum = sfft.rfft2(padded, s=shape, workers=-1)
    ky = sfft.fftfreq(shape[0]).astype(np.float32)[:, None]
    kx = sfft.rfftfreq(shape[1]).astype(np.float32)[None, :]
    k2 = ky * ky + kx * kx
    two_pi_sq = np.float32(2.0 * math.pi**2)
    for sigma in sigmas:
        s2 = np.float32(sigma * sigma)
        transfer = np.float32(-2.0) * two_pi_sq * s2 * k2 * np.exp(-two_pi_sq * s2 * k2)
        full = sfft.irfft2(spectrum * transfer, s=shape, workers=-1)
        yield np.ascontiguousarray(full[pad_y : pad_y + ny, pad_x : pad_x + nx], dtype=np.float32)


def log_score_map(image: np.ndarray, diameter_px: float, size_range: tuple[float, float] = (0.8, 1.25),
                  n_sizes: int = 5) -> np.ndarray:
    """Scale-normalised LoG response for dark particles of this diameter (higher = more blob-like).

    Each size in the band is standardised to a robust z-score over the image (centre:
    median; spread: median minus the 15.9th percentile), and the map is the best z over
    the band.

    Parameters
    ----------
    image
        Working-scale image (e.g. :attr:`cryopick.preprocess.Preprocessed.image`).
    diameter_px
        Particle diameter in pixels of ``image``.
    size_range, n_sizes
        The band of diameters searched, relative to ``diameter_px``.

    Returns
    -------
    numpy.ndarray
        float32 map, same shape as ``image``.
    """
    best = None
    for response in _log_maps(image, band_diameters(diameter_px, size_range, n_sizes)):
        z = _robust_z(response)
        best = z if best is None else np.maximum(best, z, out=best)
    return best


@dataclass
class _LoGMaps:
    """The LoG's score map (best robust z over the size band) and the raw responses its guard compares."""

    score_map: np.ndarray
    raw_band: np.ndarray
    larger: np.ndarray | None


class LoGPicker(Picker):
    """The LoG picker behind the :class:`~cryopick.pickers.base.Picker` interface (no model)."""

    config_type = LoGConfig
    needs_model = False

    @classmethod
    def plan(cls, request: PickRequest, loaded: LoadedModel | None = None) -> PickPlan:
        """Every peak a candidate, unless the threshold is above the automatic cut.

        The outlier cut judges by the peaks above the automatic cut and the threshold,
        whichever is higher; so cutting every peak afterwards gives the same picks only
        at a threshold up to the automatic cut (the default). Above it the picker cuts
        itself.
        """
        auto = LoGConfig().auto_threshold
        used = auto if request.threshold is None else request.threshold
        if request.all_peaks or used <= auto:
            return PickPlan(LoGConfig(threshold=KEEP_ALL), used, calibrated=False)
        return PickPlan(LoGConfig(threshold=used), used, calibrated=False, complete=False,
                        note=f"--threshold {used:g} is above the LoG's automatic cut ({auto:g}): only the picks "
                        "are scored")

    def prepare(self, mic: Micrograph, diameter_A: float | None = None) -> Prepared:
        diameter_A = self.picking_diameter_A(diameter_A)
        return Prepared(mic.name, float(mic.apix), diameter_A, preprocess(mic, diameter_A, self.options.preprocess))

    def score(self, prepared: Prepared) -> _LoGMaps:
        config, d = self.options, prepared.work.diameter_px
        band = band_diameters(d, config.size_range, config.n_sizes)
        guard = d * np.asarray(GUARD_SIZES) if config.reject_larger else np.empty(0)
        raw_band = score_map = larger = None
        for i, response in enumerate(_log_maps(prepared.work.image, np.concatenate([band, guard]))):
            if i < band.size:
                raw_band = response.copy() if raw_band is None else np.maximum(raw_band, response, out=raw_band)
                z = _robust_z(response)
                score_map = z if score_map is None else np.maximum(score_map, z, out=score_map)
            else:
                larger = response if larger is None else np.maximum(larger, response, out=larger)
        return _LoGMaps(score_map, raw_band, larger)

    def candidates(self, prepared: Prepared, scored: _LoGMaps) -> Candidates:
        d = prepared.work.diameter_px
        return Candidates(*find_peaks(scored.score_map, min_distance_px=self.options.min_distance_diameters * d,
                                      exclude_border_px=math.ceil(self.options.border_diameters * d)))

    def filter(self, prepared: Prepared, scored: _LoGMaps, candidates: Candidates) -> Candidates:
        """The junk guard (a larger blob answers more), the threshold, the outlier cut and the caps."""
        config, score = self.options, candidates.score
        keep = np.ones(candidates.size, dtype=bool)
        if scored.larger is not None and candidates.size:
            # a bigger dark object answers more strongly than any particle-sized one: junk
            iy, ix = np.rint(candidates.y).astype(int), np.rint(candidates.x).astype(int)
            keep &= scored.raw_band[iy, ix] >= scored.larger[iy, ix]
        keep &= score >= (config.auto_threshold if config.threshold is None else config.threshold)
        if config.outlier_spreads is not None:
            keep &= score <= _outlier_cut(score[keep & (score >= config.auto_threshold)], config.outlier_spreads)
        if config.max_score is not None:
            keep &= score <= config.max_score
        kept = candidates.keep(keep)
        return kept if config.max_picks is None else kept.first(config.max_picks)


def pick_log(mic: Micrograph, diameter_A: float, config: LoGConfig = LoGConfig()) -> pd.DataFrame:
    """Pick one micrograph; returns a Picks table in original-micrograph pixels.

    Parameters
    ----------
    mic
        The micrograph.
    diameter_A
        Particle diameter in Å.
    config
        Threshold, spacing and guards (see :class:`LoGConfig`).

    Returns
    -------
    pandas.DataFrame
        Picks table (``micrograph, x, y, score, diameter_px``) sorted by decreasing
        score; ``score`` is the robust z of the LoG response, ``diameter_px`` the given
        diameter in original pixels.
    """
    return LoGPicker(config).pick(mic, diameter_A)


def _outlier_cut(scores: np.ndarray, n_spreads: float) -> float:
    """Score above which a peak is far stronger than the particle population (junk).

    The population is the upper half of the peaks that pass the automatic cut, so a
    sparse field's many weak noise peaks do not pull the centre down; with fewer than
    ``OUTLIER_MIN_PEAKS`` peaks there is no population to judge by and nothing is cut.
    """
    if scores.size < OUTLIER_MIN_PEAKS:
        return math.inf
    upper = np.sort(scores)[scores.size // 2 :]
    centre, spread = median_and_spread(upper)
    return centre + n_spreads * max(spread, 0.5)


def _robust_z(layer: np.ndarray) -> np.ndarray:
    """Robust z-score of a 2D map, in place: median 0, lower half-width 1.

    The lower half-width (median - 15.9th percentile) is the standard deviation of
    Gaussian noise; dark particles only add to the upper side of a LoG map, so they do
    not inflate it the way they inflate the MAD in a crowded micrograph.
    """
    sample = layer.ravel()[:: max(1, layer.size // (1 << 20))]
    q16, centre = (float(v) for v in np.percentile(sample, [15.865525393145708, 50.0]))
    spread = centre - q16
    if not spread > 0:
        spread = float(np.std(sample)) or 1.0
    layer -= np.float32(centre)
    layer *= np.float32(1.0 / spread)
    return layer
