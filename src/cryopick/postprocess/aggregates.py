"""A pick-time guard against aggregates: clumps of overlapping particles.

An aggregate's members look like particles to the network, but they overlap: their
centres lie 0.55 - 0.95 diameters apart, while particles in even a crowded field touch at
about one diameter. Two signs, in particle diameters so that they carry across sizes:

* **clump** (probability map): candidates and the network's weaker local maxima (down to
  ``clump_fraction`` of the threshold) closer than ``link_diameters`` are linked; a pick
  in a linked group of ``min_members`` or more is dropped (a touching pair is two).
* **occupancy** (image): darkness of the smoothed image above its median, in units of the
  typical darkness over a pick and clipped at ``clip`` (a dot or an ice edge counts no
  more than a particle), averaged in ``n_sectors`` sectors of the ring ``ring_diameters``;
  a pick whose ``kth``-darkest sector is more than ``n_spreads`` robust spreads above the
  population's median is dropped (dark on many sides at overlap distance).
Both are relative to each micrograph's own picks; neither needs labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from cryopick.detect import find_peaks
from cryopick.preprocess import median_and_spread

MIN_POPULATION = 10


def _pixels(x: np.ndarray, y: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the nearest pixels, clipped to the image."""
    return (np.clip(np.rint(y).astype(int), 0, shape[0] - 1), np.clip(np.rint(x).astype(int), 0, shape[1] - 1))


@dataclass(frozen=True)
class AggregateGuardConfig:
    """How the aggregate guard decides; lengths in particle diameters.

    Attributes
    ----------
    min_members
        Drop picks in a linked group of at least this many (4); None: no clump rule.
    link_diameters
        Candidates closer than this are linked (0.9; touching particles sit at about 1).
    clump_fraction
        Local maxima of at least this fraction of the threshold join the groups (0.2).
    peak_spacing_diameters
        Spacing of those local maxima (0.5, as the picker's).
    n_spreads
        Drop picks whose occupancy is more than this many robust spreads above the
        population's median (3.0); None: no occupancy rule.
    smooth_diameters
        Gaussian sigma of the smoothing before occupancy is measured (0.08).
    ring_diameters
        Inner and outer radius of the measured ring (0.5 - 1.0: where overlapping
        neighbours lie).
    n_sectors, kth
        Sectors in the ring (12, 30 degrees each); occupancy is the ``kth``-darkest (4).
    clip
        Darkness is clipped at this many times the typical darkness over a pick (the mean
        over half a diameter; 2.0); None: not clipped.
    """

    min_members: int | None = 4
    link_diameters: float = 0.9
    clump_fraction: float = 0.2
    peak_spacing_diameters: float = 0.5
    n_spreads: float | None = 3.0
    smooth_diameters: float = 0.08
    ring_diameters: tuple[float, float] = (0.5, 1.0)
    n_sectors: int = 12
    kth: int = 4
    clip: float | None = 2.0


def clump_sizes(prob_map: np.ndarray, x: np.ndarray, y: np.ndarray, threshold: float, diameter_px: float,
                config: AggregateGuardConfig = AggregateGuardConfig(), exclude: np.ndarray | None = None) -> np.ndarray:
    """For every pick, the number of candidates in its linked group (1: alone).

    Parameters
    ----------
    prob_map
        The network's probability map at working scale.
    x, y, threshold, diameter_px, config, exclude
        As for :func:`aggregate_guard`.

    Returns
    -------
    numpy.ndarray
        Group sizes (int), one per pick; 1 for picks below ``clump_fraction`` of the threshold.
    """
    sizes = np.ones(x.size, dtype=int)
    level = config.clump_fraction * threshold
    member = np.flatnonzero(prob_map[_pixels(x, y, prob_map.shape)] >= level)  # weaker candidates neither join nor link
    if member.size == 0:
        return sizes
    px, py, _ = find_peaks(prob_map, max(1.0, config.peak_spacing_diameters * diameter_px), threshold=level)
    picks = np.c_[x[member], y[member]]
    extra = np.c_[px, py].astype(float)
    if exclude is not None and len(extra):
        extra = extra[~exclude[_pixels(px, py, exclude.shape)]]
    if len(extra):  # a local maximum on a candidate is that candidate
        near, _ = cKDTree(picks).query(extra, distance_upper_bound=0.25 * diameter_px)
        extra = extra[~np.isfinite(near)]
    points = np.vstack([picks, extra])
    pairs = cKDTree(points).query_pairs(config.link_diameters * diameter_px, output_type="ndarray")
    n = len(points)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    sizes[member] = np.bincount(labels)[labels][:member.size]
    return sizes


def occupancy(image: np.ndarray, x: np.ndarray, y: np.ndarray, population: np.ndarray, diameter_px: float,
              config: AggregateGuardConfig = AggregateGuardConfig()) -> np.ndarray:
    """Every pick's occupancy: the darkness of its ``kth``-darkest sector around it.

    Parameters
    ----------
    image
        The working image (particles dark).
    x, y, population, diameter_px, config
        As for :func:`aggregate_guard`; ``population`` sets the typical darkness over a pick.

    Returns
    -------
    numpy.ndarray
        Occupancy per pick, in units of the typical darkness over a pick (mean over half a diameter).
    """
    smooth = -ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), config.smooth_diameters * diameter_px)
    rows, cols = _pixels(x, y, image.shape)
    background = float(np.median(smooth))
    disc = ndimage.uniform_filter(smooth, max(3, int(round(0.5 * diameter_px))), mode="reflect")
    centre = float(np.median(disc[rows[population], cols[population]])) - background if population.any() else 0.0
    dark = np.clip((smooth - background) / max(centre, 1e-6), 0.0, config.clip)
    half = int(np.ceil(config.ring_diameters[1] * diameter_px)) + 1
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    radius = np.hypot(xx, yy) / diameter_px
    ring = (radius >= config.ring_diameters[0]) & (radius <= config.ring_diameters[1])
    sector = (np.floor((np.arctan2(yy, xx)[ring] + np.pi) / (2 * np.pi) * config.n_sectors).astype(int)
              % config.n_sectors)
    weights = np.zeros((config.n_sectors, sector.size))
    weights[sector, np.arange(sector.size)] = 1.0
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1.0)
    padded = np.pad(dark, half, mode="reflect")
    values = padded[(rows + half)[:, None] + yy[ring][None, :], (cols + half)[:, None] + xx[ring][None, :]]
    sectors = np.sort(values @ weights.T, axis=1)
    return sectors[:, -min(config.kth, config.n_sectors)]


def aggregate_guard(image: np.ndarray, prob_map: np.ndarray, x: np.ndarray, y: np.ndarray, population: np.ndarray,
                    diameter_px: float, config: AggregateGuardConfig = AggregateGuardConfig(),
                    threshold: float | None = None, exclude: np.ndarray | None = None) -> np.ndarray:
    """Which picks do not look like parts of an aggregate (True = keep).

    Parameters
    ----------
    image
        The working image (:attr:`cryopick.preprocess.Preprocessed.image`).
    prob_map
        The network's probability map of that image.
    x, y
        Candidates, in working pixels.
    population
        Boolean, which candidates are above the model's threshold: they set each rule's
        reference. With fewer than :data:`MIN_POPULATION` of them, everything is kept.
    diameter_px
        Particle diameter in working pixels.
    config
        The rules; see :class:`AggregateGuardConfig`.
    threshold
        The model's threshold, for the clump rule; None: the lowest population score.
    exclude
        Boolean working-scale image, True where the clump rule ignores local maxima (the
        junk-region mask); None: nowhere.

    Returns
    -------
    numpy.ndarray
        Boolean keep mask, one per candidate.
    """
    x, y, population = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(population, dtype=bool)
    keep = np.ones(x.size, dtype=bool)
    if int(population.sum()) < MIN_POPULATION:
        return keep
    if config.min_members is not None:
        if threshold is None:
            threshold = float(prob_map[_pixels(x[population], y[population], prob_map.shape)].min())
        keep &= clump_sizes(prob_map, x, y, threshold, diameter_px, config, exclude) < config.min_members
    if config.n_spreads is not None:
        feature = occupancy(image, x, y, population, diameter_px, config)
        centre, spread = median_and_spread(feature[population])
        if spread > 0:
            keep &= feature <= centre + config.n_spreads * spread
    return keep
