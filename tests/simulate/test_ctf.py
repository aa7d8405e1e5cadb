"""The CTF: wavelength, zeros, astigmatism orientation, envelope, rfft layout, power spectra."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.fft

from cryopick.simulate.ctf import (
    CTFParams,
    ctf_1d,
    ctf_2d,
    ctf_zeros_A,
    electron_wavelength_A,
    power_spectrum_1d,
    rfft_frequencies,
)
from cryopick.errors import CryopickError


def first_sign_change(values: np.ndarray, freqs: np.ndarray) -> float:
    """Frequency of the first sign change past the origin, linearly interpolated."""
    values, freqs = values[1:], freqs[1:]  # CTF(0) is 0 without amplitude contrast
    s = np.sign(values)
    i = int(np.flatnonzero(s[1:] != s[:-1])[0])
    a, b = values[i], values[i + 1]
    return float(freqs[i] + (freqs[i + 1] - freqs[i]) * a / (a - b))


def test_wavelength_is_relativistic() -> None:
    assert electron_wavelength_A(300.0) == pytest.approx(0.019687, abs=2e-5)
    assert electron_wavelength_A(200.0) == pytest.approx(0.025079, abs=2e-5)
    # non-relativistic would be h / sqrt(2 m e V): 0.02239 Å at 300 kV
    assert abs(electron_wavelength_A(300.0) - 0.02239) > 1e-3


@pytest.mark.parametrize("defocus_A", [8000.0, 15000.0, 25000.0])
def test_first_zero_matches_the_formula_without_cs(defocus_A: float) -> None:
    params = CTFParams(defocus_A, defocus_A, cs_mm=0.0, amplitude_contrast=0.0)
    lam = electron_wavelength_A(300.0)
    expected = 1.0 / math.sqrt(lam * defocus_A)  # chi = pi*lam*df*k^2 = pi
    k = np.linspace(0.0, 2 * expected, 200001)
    assert first_sign_change(ctf_1d(k, params), k) == pytest.approx(expected, rel=1e-4)
    assert ctf_zeros_A(params, 1)[0] == pytest.approx(expected, rel=1e-9)


def test_zeros_with_cs_and_amplitude_contrast_match_the_quadratic() -> None:
    params = CTFParams(12000.0, 12000.0, cs_mm=2.7, amplitude_contrast=0.1)
    lam = params.wavelength_A
    offset = math.atan2(0.1, math.sqrt(1 - 0.01))
    a, b = 0.5 * math.pi * 2.7e7 * lam**3, math.pi * lam * 12000.0
    k = np.linspace(0.0, 0.4, 400001)
    found = []
    values = ctf_1d(k, params)
    s = np.sign(values)
    for i in np.flatnonzero(s[1:] != s[:-1])[:3]:
        found.append(k[i])
    for j, k_found in enumerate(found, start=1):
        c = j * math.pi - offset
        k_expected = math.sqrt((b - math.sqrt(b * b - 4 * a * c)) / (2 * a))
        assert k_found == pytest.approx(k_expected, abs=2e-5)
    np.testing.assert_allclose(ctf_zeros_A(params, 3), found, atol=2e-5)


def test_ctf_sign_is_relion_positive_first_lobe() -> None:
    params = CTFParams(15000.0, 15000.0, amplitude_contrast=0.07)
    k0 = ctf_zeros_A(params, 1)[0]
    assert ctf_1d(np.array([0.0]), params)[0] == pytest.approx(0.07, abs=1e-6)
    assert ctf_1d(np.array([0.5 * k0]), params)[0] > 0.5


@pytest.mark.parametrize("angle, axis_with_u", [(0.0, "x"), (90.0, "y")])
def test_astigmatism_angle_is_measured_from_the_x_axis(angle: float, axis_with_u: str) -> None:
    # defocus_u (larger) along the angle: its first zero comes at a lower frequency.
    params = CTFParams(30000.0, 10000.0, astig_angle_deg=angle, cs_mm=0.0, amplitude_contrast=0.0)
    n, apix = 512, 1.0
    c = ctf_2d((n, n), apix, params)
    kx, ky = rfft_frequencies((n, n), apix)
    along_x = first_sign_change(c[0, :], kx[0, :])
    along_y = first_sign_change(c[: n // 2, 0], ky[: n // 2, 0])
    lam = params.wavelength_A
    zero_u, zero_v = 1 / math.sqrt(lam * 30000.0), 1 / math.sqrt(lam * 10000.0)
    if axis_with_u == "x":
        assert along_x == pytest.approx(zero_u, rel=0.02) and along_y == pytest.approx(zero_v, rel=0.02)
    else:
        assert along_y == pytest.approx(zero_u, rel=0.02) and along_x == pytest.approx(zero_v, rel=0.02)
    # at 45 degrees from u the defocus is the mean
    diag = ctf_1d(np.linspace(0, 0.08, 80001), params, angle_deg=angle + 45.0)
    zero_mean = 1 / math.sqrt(lam * 20000.0)
    assert first_sign_change(diag, np.linspace(0, 0.08, 80001)) == pytest.approx(zero_mean, rel=1e-3)


def test_bfactor_envelope() -> None:
    k = np.linspace(0.0, 0.3, 301)
    sharp = ctf_1d(k, CTFParams(15000.0, 15000.0))
    soft = ctf_1d(k, CTFParams(15000.0, 15000.0, bfactor_A2=100.0))
    keep = np.abs(sharp) > 0.1
    np.testing.assert_allclose(soft[keep] / sharp[keep], np.exp(-25.0 * k[keep] ** 2), rtol=1e-4)


def test_ctf_2d_matches_the_rfft_layout_of_an_odd_nonsquare_image() -> None:
    shape, apix = (96, 81), 1.5
    params = CTFParams(9000.0, 7000.0, astig_angle_deg=30.0)
    c = ctf_2d(shape, apix, params)
    assert c.shape == (96, 81 // 2 + 1) and c.dtype == np.float32
    assert c.shape == scipy.fft.rfft2(np.zeros(shape)).shape
    # row 1 is ky = +1/(ny*apix); the last row is ky = -1/(ny*apix)
    ky1 = 1 / (96 * apix)
    row1 = ctf_1d(np.array([ky1]), params, angle_deg=90.0)[0]
    row_last = ctf_1d(np.array([ky1]), params, angle_deg=-90.0)[0]
    assert c[1, 0] == pytest.approx(row1, abs=1e-6)
    assert c[-1, 0] == pytest.approx(row_last, abs=1e-6)


def test_bad_amplitude_contrast_is_a_user_error() -> None:
    with pytest.raises(CryopickError, match="amplitude contrast"):
        CTFParams(10000.0, 10000.0, amplitude_contrast=1.5)


def test_power_spectrum_shows_the_ctf_zeros() -> None:
    rng = np.random.default_rng(0)
    shape, apix = (1024, 1024), 1.0
    params = CTFParams(12000.0, 12000.0, bfactor_A2=20.0)
    noise = rng.standard_normal(shape).astype(np.float32)
    image = scipy.fft.irfft2(scipy.fft.rfft2(noise) * ctf_2d(shape, apix, params), s=shape)
    freq, power = power_spectrum_1d(image, apix, tile=256)
    expected = ctf_1d(freq, params) ** 2
    sel = freq > 0.02
    assert np.corrcoef(power[sel], expected[sel])[0, 1] > 0.9
    wrong = ctf_1d(freq, CTFParams(18000.0, 18000.0, bfactor_A2=20.0)) ** 2
    assert np.corrcoef(power[sel], wrong[sel])[0, 1] < 0.5
    flat = power_spectrum_1d(noise, apix, tile=256)[1][5:]
    assert flat.std() / flat.mean() < 0.1
