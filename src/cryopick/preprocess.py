"""Preprocessing: bring a micrograph to the working scale and normalise it.

Every picker works on the same representation of a micrograph:

1. **Working scale.** The micrograph is downsampled by Fourier cropping so that the
   particle is :attr:`PreprocessConfig.working_diameter_px` pixels wide, whatever the
   detector pixel size. We never upsample: a particle already smaller than that keeps
   its original pixels (factor 1).
2. **High-pass** (optional). Ice-thickness gradients and uneven illumination are removed
   by subtracting a wide Gaussian blur (a Gaussian high-pass whose cutoff is
   :attr:`PreprocessConfig.highpass_diameters` particle diameters).
3. **Robust normalisation.** Median 0 and MAD-based standard deviation 1, so a large
   ice blob or carbon edge does not squash the contrast of the rest.

Coordinates map back exactly: ``x_orig = x_work * scale_x`` and
``y_orig = y_work * scale_y`` where ``scale = n_orig / n_work`` per axis (Fourier
cropping keeps sample 0 on pixel 0). See ``docs/preprocessing.md`` for the choices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from cryopick.errors import CryopickError
from cryopick.io.micrographs import Micrograph

MIN_DIAMETER_PX = 4.0
"""Smallest particle diameter, in original pixels, that can be picked at all."""

MAD_TO_STD = 1.482602218505602
"""Ratio of the standard deviation to the median absolute deviation for a Gaussian."""

_NORMALISE_SAMPLE_PIXELS = 1 << 16
"""Above this many pixels, robust statistics are estimated on a regular subsample (the median of
65,536 samples is within about 0.5% of a standard deviation of the full one)."""


@dataclass(frozen=True)
class PreprocessConfig:
    """How a micrograph is brought to the working scale.

    Attributes
    ----------
    working_diameter_px
        The particle's diameter in pixels after downsampling (default 24; see
        ``docs/preprocessing.md`` for why).
    highpass_diameters
        Gaussian high-pass cutoff as a multiple of the particle diameter: features
        wider than about this many diameters (ice gradients) are removed. ``None``
        turns the high-pass off.
    """

    working_diameter_px: float = 24.0
    highpass_diameters: float | None = 8.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.working_diameter_px) and self.working_diameter_px >= MIN_DIAMETER_PX):
            raise CryopickError(
                f"working diameter {self.working_diameter_px} px is too small",
                fix=f"use a working diameter of at least {MIN_DIAMETER_PX:g} px (default 24)",
            )
        hp = self.highpass_diameters
        if hp is not None and not (math.isfinite(hp) and hp > 1.0):
            raise CryopickError(
                f"high-pass cutoff of {hp} particle diameters would remove the particles",
                fix="use a cutoff above 1 diameter (default 8), or None to turn it off",
            )


@dataclass(frozen=True)
class Preprocessed:
    """A micrograph at working scale. Original pixel = working pixel * scale (x and y separately).

    Attributes
    ----------
    name
        The micrograph's name (file stem).
    image
        float32 (ny_work, nx_work), robust-normalised (median 0, robust std 1) by
        :func:`preprocess`; mapped to 0..1 by :func:`cryopick.pickers.patch.patches.prepare_image`.
    scale_x, scale_y
        Original pixels per working pixel along x (columns) and y (rows):
        ``nx_orig / nx_work`` and ``ny_orig / ny_work``.
    apix_working
        Å per working pixel (mean of both axes).
    diameter_px
        Particle diameter in working pixels.
    factor
        The requested downsampling factor: >= 1 from :func:`preprocess`; below 1 when
        :func:`cryopick.pickers.patch.patches.prepare_image` enlarged a small particle. The exact
        per-axis factors are ``scale_x`` and ``scale_y``.
    unfiltered
        The Fourier-cropped image before the high-pass and normalisation, when a
        high-pass was applied (None otherwise): what
        :func:`cryopick.postprocess.junk_regions.junk_region_mask_for` reads instead of cropping again.
    """

    name: str
    image: np.ndarray
    scale_x: float
    scale_y: float
    apix_working: float
    diameter_px: float
    factor: float = 1.0
    unfiltered: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_original(self, x_work: np.ndarray, y_work: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map working-scale coordinates to original-micrograph pixels."""
        return np.asarray(x_work, dtype=np.float64) * self.scale_x, np.asarray(y_work, dtype=np.float64) * self.scale_y


def downsample_factor(apix: float, diameter_A: float, config: PreprocessConfig = PreprocessConfig()) -> float:
    """Downsampling factor (>= 1) that makes the particle ``config.working_diameter_px`` wide.

    Parameters
    ----------
    apix
        Pixel size of the original micrograph in Å per pixel.
    diameter_A
        Particle diameter in Å.

    Returns
    -------
    float
        ``max(1, diameter_A / apix / working_diameter_px)``. A particle already smaller
        than the working diameter is not upsampled; it is picked at its own size.
    """
    _check_positive(apix, "pixel size", "Å/px", "check the header or pass --apix")
    _check_positive(diameter_A, "particle diameter", "Å", "pass --diameter in Å, e.g. --diameter 150")
    return max(1.0, float(diameter_A) / float(apix) / config.working_diameter_px)


def working_shape(shape: tuple[int, int], factor: float) -> tuple[int, int]:
    """Shape after downsampling by ``factor``: ``round(n / factor)`` per axis, at least 1."""
    return tuple(max(1, round(n / factor)) for n in shape)  # type: ignore[return-value]


def fourier_crop(image: np.ndarray, factor: float) -> np.ndarray:
    """Downsample by cropping the Fourier transform; output shape ``round(n / factor)``.

    The spectrum is cropped to the output's frequencies (an ideal low-pass, so no
    aliasing), the Nyquist row/column of an even output size is zeroed to keep the
    result exactly symmetric, and the result is scaled so the mean is preserved. Sample
    ``j`` of the output lies at ``j * n / m`` in the input, per axis.

    Parameters
    ----------
    image
        2D array (any real dtype; non-square and odd sizes are fine).
    factor
        Downsampling factor, >= 1 (1 returns a float32 copy).

    Returns
    -------
    numpy.ndarray
        float32 array of shape :func:`working_shape` ``(image.shape, factor)``.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"fourier_crop needs a 2D image, got shape {image.shape}")
    if not (math.isfinite(factor) and factor >= 1.0):
        raise ValueError(f"downsampling factor must be >= 1 (we never upsample), got {factor}")
    out_shape = working_shape(image.shape, factor)
    if out_shape == image.shape:
        return image.astype(np.float32, copy=True)
    spectrum = _cropped_spectrum(image, out_shape)
    out = sfft.irfft2(spectrum, s=out_shape, workers=-1)
    out *= (out_shape[0] * out_shape[1]) / (image.shape[0] * image.shape[1])
    return out.astype(np.float32, copy=False)


def _cropped_spectrum(image: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """The rFFT of ``image`` cropped to the frequencies of an ``out_shape`` image.

    Transforms along x first and crops before transforming along y, so the second
    (complex) transform only runs over the kept columns.
    """
    ny, nx = image.shape
    my, mx = out_shape
    data = image if image.dtype in (np.float32, np.float64) else image.astype(np.float32)
    spec = sfft.rfft(data, axis=1, workers=-1)[:, : mx // 2 + 1]
    if mx < nx and mx % 2 == 0:
        spec[:, mx // 2] = 0  # Nyquist column of the output: keep the output symmetric
    spec = sfft.fft(spec, axis=0, workers=-1)
    if my < ny:
        spec = np.concatenate([spec[: (my + 1) // 2], spec[ny - my // 2 :]], axis=0)
        if my % 2 == 0:
            spec[my // 2] = 0  # Nyquist row of the output
    return spec


def robust_normalise(image: np.ndarray) -> np.ndarray:
    """Subtract the median and divide by a robust (MAD-based) standard deviation.

    The spread is ``1.4826 * median(|x - median(x)|)``, which equals the standard
    deviation for Gaussian noise but ignores up to half the pixels being outliers (ice
    blobs, carbon, dark junk); it is re-estimated once without pixels beyond 5 robust
    sigmas, which removes the bias such outliers leave. If more than half the pixels
    are identical (MAD 0), the
    standard deviation is used instead. A constant image has no spread at all: it is
    returned as zeros (callers that need to reject it, such as :func:`preprocess`, do so
    before normalising). Images above 65,536 px are measured on a regular subsample.

    Returns
    -------
    numpy.ndarray
        float32 array, same shape.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.size == 0:
        return image.copy()
    sample = image.ravel()
    if sample.size > _NORMALISE_SAMPLE_PIXELS:
        sample = sample[:: math.ceil(sample.size / _NORMALISE_SAMPLE_PIXELS)]
    centre, spread = median_and_spread(sample)
    if spread > 0:
        # one re-estimate without gross outliers (> 5 robust sigmas): removes the bias a
        # large ice blob still leaves in the median and MAD
        inliers = sample[np.abs(sample - centre) <= 5.0 * spread]
        if inliers.size >= sample.size // 2:
            centre, spread = median_and_spread(inliers)
    if not spread > 0:
        spread = float(np.std(sample, dtype=np.float64))
    if not spread > 0 or not math.isfinite(spread):
        return np.zeros_like(image)
    out = image - np.float32(centre)
    out *= np.float32(1.0 / spread)
    return out


def median_and_spread(values: np.ndarray, axis: int | None = None):
    """Median and robust standard deviation (:data:`MAD_TO_STD` x the median absolute deviation).

    Over all ``values`` (two floats), or along ``axis`` (two arrays).
    """
    values = np.asarray(values)
    if axis is None:
        centre = float(np.median(values))
        return centre, MAD_TO_STD * float(np.median(np.abs(values - centre)))
    centre = np.median(values, axis=axis, keepdims=True)
    spread = MAD_TO_STD * np.median(np.abs(values - centre), axis=axis)
    return np.squeeze(centre, axis=axis), spread


def highpass(image: np.ndarray, cutoff_px: float) -> np.ndarray:
    """Gaussian high-pass: subtract a Gaussian blur so features wider than ``cutoff_px`` go.

    The transfer function is ``1 - exp(-k^2 / (2 k_c^2))`` with ``k_c = 1 / cutoff_px``
    cycles/px, i.e. the blur's sigma is ``cutoff_px / (2 pi)``. The blur runs in real
    space with mirrored edges, so opposite edges of the micrograph do not leak into each
    other as they would with a periodic FFT filter (see :func:`wide_blur` for its cost).
    """
    sigma = float(cutoff_px) / (2.0 * math.pi)
    image = np.asarray(image, dtype=np.float32)
    return image - wide_blur(image, sigma)


BLUR_BLOCK_SIGMAS = 6.0
"""A blur this many block sides wide (or wider) is computed on block means; see :func:`wide_blur`."""


def wide_blur(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """A Gaussian blur with mirrored edges, cheap however wide it is (float32, same shape).

    A blur of ``sigma_px`` keeps nothing finer than about ``sigma_px``, so when
    ``sigma_px`` spans at least :data:`BLUR_BLOCK_SIGMAS` blocks of ``b`` pixels it is
    computed on the means of ``b x b`` blocks (whose own smoothing, variance ``b^2 / 12``,
    is subtracted from the blur's) and interpolated back linearly. Against the exact
    blur the error is under 1% of the image's spread (``tests/test_preprocess.py``), for
    1/b^2 of the cost.
    """
    image = np.asarray(image, dtype=np.float32)
    block = int(sigma_px // BLUR_BLOCK_SIGMAS)
    if block < 2:
        return ndimage.gaussian_filter(image, sigma_px, mode="reflect", truncate=3.0)
    margin = int(math.ceil(3.0 * sigma_px))  # mirrored context, as the exact blur's mode="reflect" sees it
    ny, nx = image.shape
    pad = ((margin, margin + (-(ny + 2 * margin)) % block), (margin, margin + (-(nx + 2 * margin)) % block))
    padded = np.pad(image, pad, mode="symmetric")
    means = padded.reshape(padded.shape[0] // block, block, padded.shape[1] // block, block).mean(axis=(1, 3))
    sigma_blocks = math.sqrt(max(sigma_px**2 - block**2 / 12.0, 0.0)) / block
    means = ndimage.gaussian_filter(means, sigma_blocks, mode="nearest", truncate=3.0)
    means = means.astype(np.float32, copy=False)
    left, frac = _linear_weights(np.arange(ny) + margin, block, means.shape[0])
    along_y = means[left] * (1.0 - frac)[:, None] + means[left + 1] * frac[:, None]
    left, frac = _linear_weights(np.arange(nx) + margin, block, means.shape[1])
    # elementwise, not a matrix product: BLAS sums differ with its thread count, and the picks must not
    return (along_y[:, left] * (1.0 - frac)[None, :] + along_y[:, left + 1] * frac[None, :]).astype(np.float32,
                                                                                                 copy=False)


def _linear_weights(pixels: np.ndarray, block: int, n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """Left block and weight of the right one interpolating block means, centred at ``(i + 0.5) block - 0.5``."""
    position = (pixels + 0.5) / block - 0.5
    left = np.clip(np.floor(position).astype(int), 0, n_blocks - 2)
    return left, (position - left).astype(np.float32)


def preprocess(mic: Micrograph, diameter_A: float, config: PreprocessConfig = PreprocessConfig()) -> Preprocessed:
    """Downsample, high-pass and normalise a micrograph for picking.

    Parameters
    ----------
    mic
        The micrograph (float32 pixels and pixel size in Å/px).
    diameter_A
        The particle's diameter in Å.
    config
        Working diameter and high-pass cutoff.

    Returns
    -------
    Preprocessed
        The working-scale image with the scales that map its coordinates back.

    Raises
    ------
    CryopickError
        If the diameter or pixel size is not a positive number, the particle is under
        4 px or wider than the micrograph, or the pixels are not finite or all equal.
    """
    data = np.asarray(mic.data)
    if data.ndim != 2 or data.size == 0:
        raise CryopickError(f"micrograph is not a 2D image (shape {data.shape})", path=mic.path,
                            fix="give single 2D micrographs, not stacks or movies")
    _check_positive(mic.apix, "pixel size", "Å/px", "check the header or pass --apix", mic.path)
    factor = downsample_factor(mic.apix, diameter_A, config)
    ny, nx = data.shape
    diameter_orig_px = float(diameter_A) / float(mic.apix)
    if diameter_orig_px < MIN_DIAMETER_PX:
        raise CryopickError(
            f"particle diameter {diameter_A:g} Å is only {diameter_orig_px:.1f} px at {mic.apix:g} Å/px",
            path=mic.path,
            fix=f"check --diameter is in Å (not nm) and the pixel size; at least {MIN_DIAMETER_PX:g} px is needed",
        )
    if diameter_orig_px > min(ny, nx):
        raise CryopickError(
            f"particle diameter {diameter_A:g} Å ({diameter_orig_px:.0f} px at {mic.apix:g} Å/px) "
            f"is larger than the micrograph ({nx}x{ny} px)",
            path=mic.path,
            fix="check --diameter is in Å (not pixels) and the pixel size (--apix)",
        )
    out_shape = working_shape((ny, nx), factor)
    image = fourier_crop(data, factor)
    lo, hi = float(image.min()), float(image.max())
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo <= 1e-5 * max(abs(lo), abs(hi), 1e-30):
        _check_pixels(data, mic)  # the crop spreads a NaN to every pixel; look closer only then
    scale_x = nx / out_shape[1]
    scale_y = ny / out_shape[0]
    apix_working = float(mic.apix) * 0.5 * (scale_x + scale_y)
    diameter_px = float(diameter_A) / apix_working
    unfiltered = None
    if config.highpass_diameters is not None:
        unfiltered = image
        image = highpass(image, config.highpass_diameters * diameter_px)
    image = robust_normalise(image)
    return Preprocessed(
        name=mic.name,
        image=image,
        scale_x=scale_x,
        scale_y=scale_y,
        apix_working=apix_working,
        diameter_px=diameter_px,
        factor=factor,
        unfiltered=unfiltered,
    )


def _check_positive(value: float, what: str, unit: str, fix: str, path: object = None) -> None:
    try:
        ok = math.isfinite(float(value)) and float(value) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise CryopickError(f"{what} must be a positive number of {unit}, got {value!r}", path=path, fix=fix)  # type: ignore[arg-type]


def _check_pixels(data: np.ndarray, mic: Micrograph) -> None:
    """Reject non-finite and constant micrographs (two passes, no copies)."""
    lo = data.min()
    hi = data.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        bad = int(np.count_nonzero(~np.isfinite(data)))
        raise CryopickError(
            f"{bad} pixel(s) are NaN or infinite",
            path=mic.path,
            fix="re-export the micrograph, or pass --fill-nonfinite to replace them with the median",
        )
    if lo == hi:
        raise CryopickError(
            f"every pixel has the same value ({float(lo):g}); there is nothing to pick",
            path=mic.path,
            fix="check the file (a failed motion correction or export?) and leave it out",
        )
