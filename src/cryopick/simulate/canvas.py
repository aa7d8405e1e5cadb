"""The specimen as the microscope sees it: layers of phase and absorption on the image grid.

A micrograph is formed from three float32 layers of the micrograph's shape (ny, nx):

``phase_particles``
    Phase shift (radians) of the good particles only, kept apart so their signal power
    can be measured for the SNR.
``phase_other``
    Phase shift of everything else: aggregates, ice contamination, carbon, dots.
``absorb``
    Amplitude contrast of thick or heavy objects as ``-ln(transmitted intensity)``
    (0 = transparent): crystalline ice, carbon, gold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryopick.simulate.ctf import electron_wavelength_A


def interaction_constant(voltage_kv: float) -> float:
    """Relativistic interaction constant sigma_e in rad / (V Å) (Kirkland's formula)."""
    e0 = 510.99895  # electron rest energy, keV
    lam = electron_wavelength_A(voltage_kv)
    return 2 * np.pi / (lam * voltage_kv * 1e3) * (e0 + voltage_kv) / (2 * e0 + voltage_kv)


@dataclass
class Layers:
    """Phase and absorption layers of one micrograph (see the module docstring)."""

    phase_particles: np.ndarray
    phase_other: np.ndarray
    absorb: np.ndarray

    @classmethod
    def empty(cls, shape: tuple[int, int]) -> Layers:
        return cls(*(np.zeros(shape, np.float32) for _ in range(3)))

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.absorb.shape[0]), int(self.absorb.shape[1]))


def paste(target: np.ndarray, patch: np.ndarray, cx: float, cy: float) -> None:
    """Add ``patch`` into ``target`` with the patch centre (``size // 2``) at (cx, cy).

    The centre is rounded to the nearest pixel; parts outside ``target`` are dropped.
    """
    ph, pw = patch.shape
    x0 = int(round(cx)) - pw // 2
    y0 = int(round(cy)) - ph // 2
    ty0, tx0 = max(y0, 0), max(x0, 0)
    ty1, tx1 = min(y0 + ph, target.shape[0]), min(x0 + pw, target.shape[1])
    if ty1 <= ty0 or tx1 <= tx0:
        return
    target[ty0:ty1, tx0:tx1] += patch[ty0 - y0 : ty1 - y0, tx0 - x0 : tx1 - x0]


def disc_profile(size: int, radius: float, cx: float | None = None, cy: float | None = None) -> np.ndarray:
    """Projected thickness of a sphere (``sqrt(1 - r^2/R^2)``, 1 at the centre), float32.

    Sampled 4 x 4 per pixel so that small spheres (a few pixels) keep their mass.
    """
    c = size // 2 if cx is None else cx
    cyy = size // 2 if cy is None else cy
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    yy = np.arange(size)[:, None, None, None] + sub[None, None, :, None] - cyy
    xx = np.arange(size)[None, :, None, None] + sub[None, None, None, :] - c
    r2 = (xx * xx + yy * yy) / max(radius, 1e-6) ** 2
    return np.sqrt(np.clip(1.0 - r2, 0.0, None)).mean(axis=(2, 3)).astype(np.float32)


PROTEIN_CONTRAST_V = 3.0
"""Mean inner potential of protein above that of vitreous ice, in volts.

From electron scattering factors at zero angle (Kirkland), an average residue (110 Da,
136 Å^3) gives about 8 V and water about 4.9 V; bonding lowers both a little.
"""

A3_PER_WEIGHT = 2.66
"""Protein volume per unit of atomic-number weight, Å^3 (about 2.15 Da per Z, 0.81 Da/Å^3)."""


def phase_per_weight(apix: float, voltage_kv: float) -> float:
    """Phase (radians) per unit of projected weight per pixel.

    A :class:`~cryopick.simulate.structures.Structure` carries weights of about the
    summed atomic number of the atoms each point stands for (density maps are rescaled
    to match); each unit stands for :data:`A3_PER_WEIGHT` Å^3 of protein, and a column of
    protein of thickness t shifts the phase by ``sigma_e * PROTEIN_CONTRAST_V * t``.
    """
    return interaction_constant(voltage_kv) * PROTEIN_CONTRAST_V * A3_PER_WEIGHT / apix**2
