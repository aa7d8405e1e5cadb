"""Preprocessing: bring a micrograph to the working scale and normalise it.

(INTERFACE STUB - to be implemented.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryopick.io.micrographs import Micrograph


@dataclass(frozen=True)
class PreprocessConfig:
    """How a micrograph is brought to the working scale.

    working_diameter_px: the particle's diameter in pixels after downsampling.
    highpass_diameters: high-pass cutoff as a multiple of the particle diameter (None = off).
    """

    working_diameter_px: float = 24.0
    highpass_diameters: float | None = 8.0


@dataclass(frozen=True)
class Preprocessed:
    """A micrograph at working scale. Original pixel = working pixel * scale (x and y separately)."""

    name: str
    image: np.ndarray  # float32, robust-normalised (median 0, robust std 1)
    scale_x: float  # original px per working px along x (columns)
    scale_y: float  # original px per working px along y (rows)
    apix_working: float  # Å per working pixel (mean of both axes)
    diameter_px: float  # particle diameter in working pixels


def downsample_factor(apix: float, diameter_A: float, config: PreprocessConfig = PreprocessConfig()) -> float:
    """Downsampling factor (>= 1) that makes the particle config.working_diameter_px wide."""
    raise NotImplementedError


def fourier_crop(image: np.ndarray, factor: float) -> np.ndarray:
    """Downsample by cropping the Fourier transform; output shape round(n / factor)."""
    raise NotImplementedError


def robust_normalise(image: np.ndarray) -> np.ndarray:
    """Subtract the median and divide by a robust (MAD-based) standard deviation."""
    raise NotImplementedError


def preprocess(mic: Micrograph, diameter_A: float, config: PreprocessConfig = PreprocessConfig()) -> Preprocessed:
    """Downsample, high-pass and normalise a micrograph for picking."""
    raise NotImplementedError
