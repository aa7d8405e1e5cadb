"""Regions no particle should be picked from: ice contamination, carbon film, large dark blobs.

A picker drops every candidate inside the mask (issue 5). It works at the working scale
(particle 16 px wide, as :data:`cryopick.pickers.fcn.data.FCN_PREPROCESS`); lengths are in particle
diameters ``d``, levels in robust spreads:

1. **Local medians** of block means (blocks of d / 4) over a disc of 2 d. A median moves only
   where more than half the disc is dark, so particles (crowded too) and particle-sized dots
   leave it alone, while the edge of a large object stays sharp.
2. **Dark**: that median below the image's median by ``dark_spreads`` (ice, thick dark
   patches, the dark band on the carbon side of an edge), or, without high-pass, below its
   maximum within 1.5 d by ``step_spreads`` (the sharp step of a faint carbon edge).
3. **Carbon interior.** The high-pass removes the offset of anything wider than ~8 d, so of
   a carbon film only a band along its edge stays dark. Each region touching the border (a
   carbon film always does) is grown through the image without high-pass, over pixels
   darker than halfway between its level and its surroundings' (a ring 0.5-2 d around it).
4. **Clean-up**: closing, small components dropped, small holes filled, margin added.

Dots and single aggregates are left to the picker's contrast guard
(:func:`cryopick.pickers.fcn.picker.contrast_guard`): masking each with a margin also masks the
particles beside it. Texture is not used: the local spread also peaks in the Fresnel fringes
beside ice and carbon, where particles sit (``benchmarks/bench_junk_regions.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage

from cryopick.errors import CryopickError
from cryopick.io.masks import resize_mask
from cryopick.io.micrographs import Micrograph
from cryopick.preprocess import PreprocessConfig, Preprocessed, median_and_spread, preprocess, robust_normalise, wide_blur

__all__ = ["WORKING_DIAMETER_PX", "JunkRegionConfig", "feature_images", "high_contrast_mask", "junk_region_mask",
           "junk_region_mask_for", "picks_outside"]

WORKING_DIAMETER_PX = 16.0
"""Particle diameter, in pixels, at which :func:`junk_region_mask` works (the FCN picker's)."""


@dataclass(frozen=True)
class JunkRegionConfig:
    """What counts as a junk region. Lengths in particle diameters, levels in robust spreads.

    Attributes
    ----------
    window_diameters
        Disc of the local median (default 2): objects about 1.4 d across or more are found.
    block_diameters
        Side of the blocks averaged before the median (default 0.25).
    dark_spreads
        Dark: the local median this many robust std of the image below its median (default
        1; measured: particles reach 0.8 over a 1-d disc, crowded fields 0.3; ice 20-60).
    step_spreads
        Step: the unfiltered local median this many robust std of its fine detail (image
        minus local median) below its maximum within 1.5 d (default 2; None: off).
    flood_spreads
        Grow a border region into the unfiltered image when it is at least this much
        darker than its surroundings there (default 1; None: never).
    flood_floor_spreads
        A region's level there: the median of its pixels floored at minus this (default 4),
        so ice merged with a carbon edge does not hide the carbon's level.
    close_diameters
        Radius of the closing that joins nearby pieces (default 0.5).
    min_area_particles
        Components under this many particle areas are dropped (default 1).
    margin_diameters
        The mask is finally grown by this much (default 0.5).
    highpass_diameters
        High-pass cutoff of :func:`feature_images` (default 8, the pickers').
    clip_spreads
        That high-pass's background is estimated on the image clipped to this many
        spreads (default 3), so dark ice leaves no bright halo around itself.
    """

    window_diameters: float = 2.0
    block_diameters: float = 0.25
    dark_spreads: float = 1.0
    step_spreads: float | None = 2.0
    flood_spreads: float | None = 1.0
    flood_floor_spreads: float = 4.0
    close_diameters: float = 0.5
    min_area_particles: float = 1.0
    margin_diameters: float = 0.5
    highpass_diameters: float = 8.0
    clip_spreads: float = 3.0

    def __post_init__(self) -> None:
        lowest = {"window_diameters": 0.5, "highpass_diameters": 1.0}
        for field in fields(self):
            value, low = getattr(self, field.name), lowest.get(field.name, 0.0)
            if value is None and field.name in ("step_spreads", "flood_spreads"):
                continue
            zero_ok = field.name in ("close_diameters", "min_area_particles", "margin_diameters")
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            if not (number and (value >= low if zero_ok else value > low)):
                raise CryopickError(f"junk region setting {field.name}={value!r} must be a number "
                                    f"{'>=' if zero_ok else '>'} {low:g}", fix=f"use the default, {field.default!r}")
        if self.block_diameters > 0.5 * self.window_diameters:
            raise CryopickError("junk region blocks are wider than half the window", fix="use 0.25 d and 2 d")


def _disc(radius: float) -> np.ndarray:
    reach = max(int(math.ceil(radius)), 0)
    yy, xx = np.mgrid[-reach:reach + 1, -reach:reach + 1]
    return xx * xx + yy * yy <= max(radius, 0.5) ** 2 + 1e-9


def _local_median(image: np.ndarray, block: int, radius: float) -> np.ndarray:
    """The median of ``image``'s block means (edges mirrored) over a disc of ``radius`` blocks."""
    ny, nx = image.shape
    padded = np.pad(image, ((0, -ny % block), (0, -nx % block)), mode="symmetric")
    means = padded.reshape(padded.shape[0] // block, block, padded.shape[1] // block, block).mean(axis=(1, 3))
    return ndimage.median_filter(means, footprint=_disc(radius), mode="reflect")


def _upsample(grid: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    """Block values back at pixel resolution, bilinear between block centres."""
    full = grid if block == 1 else ndimage.zoom(grid, block, order=1, grid_mode=True, mode="nearest")
    return full[: shape[0], : shape[1]]


def _remove_small(mask: np.ndarray, min_pixels: float) -> np.ndarray:
    labels, n = ndimage.label(mask)
    return (np.bincount(labels.ravel(), minlength=n + 1) >= min_pixels)[labels] & mask


def _grow(mask: np.ndarray, radius: float) -> np.ndarray:
    """Dilation by a disc of ``radius`` pixels (exact, by the Euclidean distance transform)."""
    return ndimage.distance_transform_edt(~mask) <= radius if radius > 0 and mask.any() else mask.copy()


def _close(mask: np.ndarray, radius: float) -> np.ndarray:
    """Closing by a disc; the image border does not erode."""
    outside = ~_grow(mask, radius)
    return mask | ~_grow(outside, radius) if outside.any() else np.ones_like(mask)


def high_contrast_mask(image: np.ndarray, diameter_px: float, config: JunkRegionConfig = JunkRegionConfig(), *,
                       unfiltered: np.ndarray | None = None) -> np.ndarray:
    """Where large dark objects are on a working-scale image.

    Parameters
    ----------
    image
        2D image, high-passed and robust-normalised (median 0, robust std 1): the FCN
        picker's ``preprocess(mic, diameter_A, FCN_PREPROCESS).image``, or better the
        halo-free one of :func:`feature_images`.
    diameter_px
        Particle diameter in pixels of ``image``.
    config
        See :class:`JunkRegionConfig`.
    unfiltered
        The same image without high-pass; when given, steps are found on it and regions
        touching the border grown into it (carbon films, see the module docstring).

    Returns
    -------
    numpy.ndarray
        Boolean, the shape of ``image``; True inside junk regions.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2 or image.size == 0 or not np.isfinite(image).all():
        raise CryopickError(f"junk regions need a finite 2D image, got shape {image.shape}",
                            fix="pass the working-scale image from cryopick.preprocess.preprocess")
    if not (isinstance(diameter_px, (int, float)) and math.isfinite(diameter_px) and diameter_px >= 2.0):
        raise CryopickError(f"particle diameter {diameter_px!r} px is too small to find junk regions",
                            fix="pass the particle diameter in pixels of the image (16 at the FCN's scale)")
    if unfiltered is not None and (np.shape(unfiltered) != image.shape or not np.isfinite(unfiltered).all()):
        raise CryopickError(f"the unfiltered image (shape {np.shape(unfiltered)}) is not finite or not the "
                            f"image's shape {image.shape}", fix="pass both at the same working scale")
    shape, image = image.shape, robust_normalise(image)
    block = max(1, int(round(config.block_diameters * diameter_px)))
    radius = 0.5 * config.window_diameters * diameter_px / block
    area = 0.25 * math.pi * diameter_px**2
    region = _upsample(_local_median(image, block, radius), block, shape) < -config.dark_spreads
    if unfiltered is not None:
        plain = robust_normalise(unfiltered)
        coarse = _local_median(plain, block, radius)
        level = _upsample(coarse, block, shape)
        if config.step_spreads is not None:  # the fine detail's spread: noise and particles
            fine = median_and_spread((plain - level).ravel()[:: max(1, plain.size // 65536)])[1]
            steps = coarse - ndimage.maximum_filter(coarse, footprint=_disc(1.5 * diameter_px / block), mode="reflect")
            region |= _upsample(steps, block, shape) < -config.step_spreads * max(fine, 1e-6)
    if config.close_diameters > 0 and region.any():
        region = _close(region, config.close_diameters * diameter_px)
    region = _remove_small(region, config.min_area_particles * area)
    if unfiltered is not None and config.flood_spreads is not None and region.any():
        region |= _flood(region, level, diameter_px, config)
    holes = ndimage.binary_fill_holes(region) & ~region
    region |= holes & ~_remove_small(holes, config.min_area_particles * area)
    return _grow(region, config.margin_diameters * diameter_px)


def _flood(region: np.ndarray, level: np.ndarray, diameter_px: float, config: JunkRegionConfig) -> np.ndarray:
    """Regions on the border grown over ``level`` pixels darker than halfway to their surroundings'."""
    labels, n = ndimage.label(region)
    grown = np.zeros_like(region)
    for index in range(1, n + 1):
        inside = labels == index
        if not (inside[0].any() or inside[-1].any() or inside[:, 0].any() or inside[:, -1].any()):
            continue
        distance = ndimage.distance_transform_edt(~inside)
        ring = (distance > 0.5 * diameter_px) & (distance <= 2.0 * diameter_px) & ~region
        if not ring.any():
            continue  # the region fills the image
        own = float(np.median(np.maximum(level[inside], -config.flood_floor_spreads)))
        around = float(np.percentile(level[ring], 75))
        if around - own >= float(config.flood_spreads or 0.0):
            low, _ = ndimage.label(level < 0.5 * (own + around))
            grown |= np.isin(low, np.unique(low[inside & (low > 0)]))
    return grown


def feature_images(mic: Micrograph, diameter_A: float,
                   config: JunkRegionConfig = JunkRegionConfig()) -> tuple[Preprocessed, np.ndarray]:
    """The micrograph at :data:`WORKING_DIAMETER_PX` without high-pass, and high-passed: minus a Gaussian
    blur (``config.highpass_diameters``) of it clipped to ``config.clip_spreads``, so ice leaves no halo."""
    raw = preprocess(mic, diameter_A, PreprocessConfig(working_diameter_px=WORKING_DIAMETER_PX, highpass_diameters=None))
    clipped = np.clip(raw.image, -config.clip_spreads, config.clip_spreads)
    background = wide_blur(clipped, config.highpass_diameters * raw.diameter_px / (2.0 * math.pi))
    return raw, robust_normalise(raw.image - background)


def junk_region_mask_for(pre: Preprocessed, config: JunkRegionConfig = JunkRegionConfig()) -> np.ndarray:
    """The junk-region mask at the working scale of ``pre``, reusing its unfiltered Fourier crop.

    ``pre`` must come from :func:`cryopick.preprocess.preprocess` with a high-pass (as the FCN
    picker's :data:`cryopick.pickers.fcn.data.FCN_PREPROCESS`) at a particle :data:`WORKING_DIAMETER_PX`
    wide; the result equals :func:`junk_region_mask` at ``shape=pre.image.shape`` without a
    second crop of the micrograph.
    """
    if pre.unfiltered is None:
        raise ValueError("pre has no unfiltered image: preprocess it with a high-pass")
    raw = robust_normalise(pre.unfiltered)
    clipped = np.clip(raw, -config.clip_spreads, config.clip_spreads)
    background = wide_blur(clipped, config.highpass_diameters * pre.diameter_px / (2.0 * math.pi))
    return high_contrast_mask(robust_normalise(raw - background), pre.diameter_px, config, unfiltered=raw)


def junk_region_mask(mic: Micrograph, diameter_A: float, config: JunkRegionConfig = JunkRegionConfig(), *,
                     shape: tuple[int, int] | None = None) -> np.ndarray:
    """The junk-region mask (True = junk) of a micrograph, particle ``diameter_A`` Å, at its own shape.

    :func:`high_contrast_mask` on :func:`feature_images`. ``shape``: another output shape, e.g. a
    picker's ``pre.image.shape`` to test its candidates there with :func:`picks_outside`.
    """
    raw, filtered = feature_images(mic, diameter_A, config)
    mask = high_contrast_mask(filtered, raw.diameter_px, config, unfiltered=raw.image)
    return resize_mask(mask, tuple(np.shape(mic.data)) if shape is None else (int(shape[0]), int(shape[1])))


def picks_outside(picks_xy_working: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Which picks (``(n, 2)`` x, y in ``mask``'s pixels) lie outside it: True = keep; off the image = outside."""
    xy = np.asarray(picks_xy_working, dtype=np.float64).reshape(-1, 2)
    mask = np.asarray(mask, dtype=bool)
    cols, rows = np.rint(xy[:, 0]), np.rint(xy[:, 1])
    on_image = (rows >= 0) & (rows < mask.shape[0]) & (cols >= 0) & (cols < mask.shape[1])
    keep = np.ones(len(xy), dtype=bool)
    keep[on_image] = ~mask[rows[on_image].astype(int), cols[on_image].astype(int)]
    return keep
