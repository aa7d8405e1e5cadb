"""The contrast transfer function (CTF) of a transmission electron microscope.

Conventions are RELION's and CTFFIND's:

* Defocus is positive for underfocus, in Å (``defocus_u_A`` >= ``defocus_v_A`` usually).
* The astigmatism angle is the angle, in degrees, from the x axis (columns) towards the
  y axis (rows) of the direction along which the defocus is ``defocus_u_A``. With the
  array convention of cryopick (x = column, y = row) the frequency direction
  ``atan2(ky, kx)`` is measured the same way.
* The phase aberration is

  .. math:: \\chi(k) = \\pi \\lambda \\Delta f(\\theta) k^2 - \\tfrac{\\pi}{2} C_s \\lambda^3 k^4

  and the CTF is :math:`\\sin(\\chi + \\arctan(A/\\sqrt{1-A^2}) + \\phi)` times the
  B-factor envelope :math:`e^{-B k^2/4}`. This is RELION's sign: the CTF is positive in
  the first lobe, so an image is ``1 - 2 * (CTF applied to the projected phase)``, and
  a particle in an underfocused image is dark.

Frequencies ``k`` are in 1/Å. :func:`ctf_2d` returns values laid out for
:func:`scipy.fft.rfft2` of an image of the given shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft

from cryopick.errors import CryopickError

# Physical constants (CODATA 2018), SI units.
_H = 6.62607015e-34  # Planck constant, J s
_M_E = 9.1093837015e-31  # electron rest mass, kg
_Q_E = 1.602176634e-19  # elementary charge, C
_C = 299792458.0  # speed of light, m/s


@dataclass(frozen=True)
class CTFParams:
    """Microscope and defocus parameters of one micrograph (RELION/CTFFIND conventions).

    Attributes
    ----------
    defocus_u_A, defocus_v_A
        Defocus along the two principal directions, in Å; positive is underfocus.
    astig_angle_deg
        Angle of the ``defocus_u_A`` direction from the x axis (columns), in degrees.
    voltage_kv
        Acceleration voltage in kV.
    cs_mm
        Spherical aberration in mm.
    amplitude_contrast
        Fraction of amplitude contrast (RELION's ``rlnAmplitudeContrast``), in [0, 1).
    bfactor_A2
        B-factor of the envelope ``exp(-B k^2 / 4)``, in Å^2 (0: no envelope).
    phase_shift_deg
        Extra phase shift (phase plate), in degrees.
    """

    defocus_u_A: float
    defocus_v_A: float
    astig_angle_deg: float = 0.0
    voltage_kv: float = 300.0
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.07
    bfactor_A2: float = 0.0
    phase_shift_deg: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.amplitude_contrast < 1.0:
            raise CryopickError(
                f"amplitude contrast must be in [0, 1), got {self.amplitude_contrast}",
                fix="give a fraction such as 0.07 (RELION's rlnAmplitudeContrast)",
            )
        if not self.voltage_kv > 0:
            raise CryopickError(f"voltage must be positive, got {self.voltage_kv} kV", fix="give e.g. 300")

    @property
    def defocus_mean_A(self) -> float:
        """Mean of the two defocus values, in Å."""
        return 0.5 * (self.defocus_u_A + self.defocus_v_A)

    @property
    def wavelength_A(self) -> float:
        """Relativistic electron wavelength at this voltage, in Å."""
        return electron_wavelength_A(self.voltage_kv)


def electron_wavelength_A(voltage_kv: float) -> float:
    """Relativistic wavelength of an electron accelerated through ``voltage_kv``, in Å.

    >>> round(electron_wavelength_A(300.0), 5)
    0.01969
    """
    volts = voltage_kv * 1e3
    energy = _Q_E * volts
    momentum = math.sqrt(2.0 * _M_E * energy * (1.0 + energy / (2.0 * _M_E * _C**2)))
    return _H / momentum * 1e10


def _phase_offset(params: CTFParams) -> float:
    a = params.amplitude_contrast
    return math.atan2(a, math.sqrt(1.0 - a * a)) + math.radians(params.phase_shift_deg)


def chi(k2: np.ndarray, defocus_A: np.ndarray | float, params: CTFParams) -> np.ndarray:
    """Phase aberration ``pi*lambda*df*k^2 - pi/2*Cs*lambda^3*k^4`` (radians).

    Parameters
    ----------
    k2
        Squared spatial frequency, in 1/Å^2.
    defocus_A
        Defocus along each frequency's direction (scalar or same shape as ``k2``).
    """
    lam = params.wavelength_A
    cs_A = params.cs_mm * 1e7
    return np.pi * lam * defocus_A * k2 - 0.5 * np.pi * cs_A * lam**3 * k2 * k2


def ctf_from_frequencies(kx: np.ndarray, ky: np.ndarray, params: CTFParams) -> np.ndarray:
    """CTF at frequencies ``(kx, ky)`` in 1/Å (broadcastable arrays), float32.

    The astigmatic defocus uses ``cos(2(theta - a)) = ((kx^2 - ky^2) cos 2a + 2 kx ky
    sin 2a) / k^2``, which needs no arctan.
    """
    kx = np.asarray(kx, dtype=np.float32)
    ky = np.asarray(ky, dtype=np.float32)
    kx2, ky2 = kx * kx, ky * ky
    k2 = kx2 + ky2
    half_diff = 0.5 * (params.defocus_u_A - params.defocus_v_A)
    if half_diff:
        a = math.radians(params.astig_angle_deg)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos2 = ((kx2 - ky2) * np.float32(math.cos(2 * a)) + 2 * kx * ky * np.float32(math.sin(2 * a))) / k2
        cos2 = np.where(k2 > 0, cos2, np.float32(0.0))
        defocus = np.float32(params.defocus_mean_A) + np.float32(half_diff) * cos2
    else:
        defocus = np.float32(params.defocus_mean_A)
    lam = params.wavelength_A
    cs_A = params.cs_mm * 1e7
    phase = (np.float32(np.pi * lam) * defocus - np.float32(0.5 * np.pi * cs_A * lam**3) * k2) * k2
    value = np.sin(phase + np.float32(_phase_offset(params)))
    if params.bfactor_A2:
        value *= np.exp(np.float32(-0.25 * params.bfactor_A2) * k2)
    return np.asarray(value, dtype=np.float32)


def rfft_frequencies(shape: tuple[int, int], apix: float) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (1/Å) of the :func:`scipy.fft.rfft2` grid of an image of ``shape``.

    Returns ``(kx, ky)`` shaped ``(1, nx//2+1)`` and ``(ny, 1)`` for broadcasting.
    """
    ny, nx = shape
    kx = scipy.fft.rfftfreq(nx, d=apix)[None, :]
    ky = scipy.fft.fftfreq(ny, d=apix)[:, None]
    return kx, ky


def ctf_2d(shape: tuple[int, int], apix: float, params: CTFParams) -> np.ndarray:
    """The CTF on the :func:`scipy.fft.rfft2` grid of an image of ``shape`` (ny, nx).

    Returns float32 of shape ``(ny, nx // 2 + 1)``; multiply ``rfft2(image)`` by it.
    """
    kx, ky = rfft_frequencies(shape, apix)
    return ctf_from_frequencies(kx, ky, params)


def ctf_1d(freq_per_A: np.ndarray, params: CTFParams, angle_deg: float | None = None) -> np.ndarray:
    """Radial CTF at frequencies ``freq_per_A`` (1/Å).

    Along ``angle_deg`` (degrees from the x axis) if given, otherwise with the mean
    defocus (the astigmatism-free average a rotational average approximates).
    """
    k = np.asarray(freq_per_A, dtype=np.float64)
    if angle_deg is None:
        flat = CTFParams(**{**params.__dict__, "defocus_u_A": params.defocus_mean_A,
                            "defocus_v_A": params.defocus_mean_A})
        return ctf_from_frequencies(k, np.zeros_like(k), flat)
    theta = math.radians(angle_deg)
    return ctf_from_frequencies(k * math.cos(theta), k * math.sin(theta), params)


def ctf_zeros_A(params: CTFParams, n_zeros: int = 1, defocus_A: float | None = None) -> np.ndarray:
    """Frequencies (1/Å) of the first ``n_zeros`` CTF zeros at ``defocus_A`` (default: mean).

    Solves ``chi(k) + offset = j*pi`` for j = 1, 2, ... (ignoring zeros past the Cs turn).
    """
    df = params.defocus_mean_A if defocus_A is None else defocus_A
    lam = params.wavelength_A
    cs_A = params.cs_mm * 1e7
    a = 0.5 * np.pi * cs_A * lam**3
    b = np.pi * lam * df
    out = []
    for j in range(1, n_zeros + 1):
        c = j * np.pi - _phase_offset(params)
        if a == 0:
            k2 = c / b
        else:
            disc = b * b - 4 * a * c
            if disc < 0:
                break
            k2 = (b - math.sqrt(disc)) / (2 * a)
        out.append(math.sqrt(k2))
    return np.asarray(out)


def power_spectrum_1d(image: np.ndarray, apix: float, tile: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Rotationally averaged power spectrum of ``image`` by averaged tiles (Welch).

    Returns ``(freq_per_A, power)`` for radii 0 .. tile//2 - 1 (in Fourier pixels of the
    tile). Tiles overlap by half and are Hann-windowed; an image smaller than ``tile`` is
    used as one tile of its smaller side.
    """
    img = np.asarray(image, dtype=np.float32)
    tile = int(min(tile, *img.shape))
    window = np.outer(np.hanning(tile), np.hanning(tile)).astype(np.float32)
    step = max(tile // 2, 1)
    acc = np.zeros((tile, tile // 2 + 1), np.float64)
    n = 0
    for i in range(0, img.shape[0] - tile + 1, step):
        for j in range(0, img.shape[1] - tile + 1, step):
            patch = img[i : i + tile, j : j + tile]
            patch = (patch - patch.mean()) * window
            acc += np.abs(scipy.fft.rfft2(patch, workers=-1)) ** 2
            n += 1
    acc /= max(n, 1)
    ky = scipy.fft.fftfreq(tile) * tile
    kx = scipy.fft.rfftfreq(tile) * tile
    radius = np.rint(np.hypot(ky[:, None], kx[None, :])).astype(int)
    keep = radius < tile // 2
    counts = np.bincount(radius[keep], minlength=tile // 2)
    sums = np.bincount(radius[keep], weights=acc[keep], minlength=tile // 2)
    power = sums / np.maximum(counts, 1)
    freq = np.arange(tile // 2) / (tile * apix)
    return freq, power
