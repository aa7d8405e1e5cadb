"""Tests for cryopick.preprocess: working scale, Fourier cropping, normalisation, high-pass."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from cryopick.errors import CryopickError
from cryopick.io.micrographs import Micrograph
from cryopick.preprocess import (
    PreprocessConfig,
    downsample_factor,
    fourier_crop,
    highpass,
    preprocess,
    robust_normalise,
    wide_blur,
    working_shape,
)


def gaussian_blob(shape: tuple[int, int], x0: float, y0: float, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.exp(-((xx - x0) ** 2 + (yy - y0) ** 2) / (2 * sigma**2))


def centroid(image: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted centre (x, y) of the positive part of an image."""
    w = np.clip(image, 0, None).astype(np.float64)
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    return float((w * xx).sum() / w.sum()), float((w * yy).sum() / w.sum())


def mic(data: np.ndarray, apix: float = 1.0, name: str = "m") -> Micrograph:
    return Micrograph(name, Path(f"/data/{name}.mrc"), np.asarray(data, dtype=np.float32), apix)


# --- working scale ---------------------------------------------------------------------


def test_downsample_factor_makes_particle_working_diameter_wide():
    assert downsample_factor(0.6666, 150.0) == pytest.approx(150 / 0.6666 / 24)
    assert downsample_factor(2.0, 150.0, PreprocessConfig(working_diameter_px=32)) == pytest.approx(75 / 32)


def test_downsample_factor_never_upsamples():
    # a 40 Å particle at 2 Å/px is 20 px: already smaller than 24, kept at factor 1
    assert downsample_factor(2.0, 40.0) == 1.0


@pytest.mark.parametrize("apix, diameter", [(0.0, 150.0), (-1.0, 150.0), (1.0, 0.0), (1.0, -5.0),
                                            (1.0, math.nan), (math.inf, 150.0)])
def test_downsample_factor_rejects_bad_numbers(apix, diameter):
    with pytest.raises(CryopickError, match="positive number"):
        downsample_factor(apix, diameter)


def test_working_shape_rounds_each_axis():
    assert working_shape((4096, 4096), 150 / 0.6666 / 24) == (437, 437)
    assert working_shape((3710, 3838), 3.0) == (1237, 1279)
    assert working_shape((5, 7), 100.0) == (1, 1)


def test_config_validation():
    with pytest.raises(CryopickError):
        PreprocessConfig(working_diameter_px=2)
    with pytest.raises(CryopickError):
        PreprocessConfig(highpass_diameters=0.5)
    assert PreprocessConfig(highpass_diameters=None).highpass_diameters is None


# --- Fourier cropping ------------------------------------------------------------------


@pytest.mark.parametrize("shape, factor", [((512, 512), 4.0), ((601, 403), 3.3), ((400, 777), 2.5), ((255, 256), 1.7)])
def test_fourier_crop_shape_dtype_and_mean(shape, factor):
    rng = np.random.default_rng(0)
    image = (rng.standard_normal(shape) * 10 + 500).astype(np.float32)
    out = fourier_crop(image, factor)
    assert out.shape == working_shape(shape, factor)
    assert out.dtype == np.float32
    assert float(out.mean()) == pytest.approx(float(image.mean()), rel=1e-5)


@pytest.mark.parametrize("shape, factor", [((600, 900), 3.0), ((601, 899), 2.7), ((512, 383), 4.4)])
def test_fourier_crop_maps_positions_by_n_over_m_per_axis(shape, factor):
    x0, y0 = 0.37 * shape[1] + 0.3, 0.58 * shape[0] + 0.6
    image = gaussian_blob(shape, x0, y0, sigma=3 * factor)
    out = fourier_crop(image, factor)
    my, mx = out.shape
    cx, cy = centroid(out)
    assert cx * shape[1] / mx == pytest.approx(x0, abs=0.05 * factor)
    assert cy * shape[0] / my == pytest.approx(y0, abs=0.05 * factor)


def test_fourier_crop_keeps_low_frequency_amplitude():
    ny, nx = 480, 640
    _yy, xx = np.mgrid[:ny, :nx]
    wave = np.cos(2 * np.pi * 5 * xx / nx) * 3.0 + 7.0  # 5 periods: far below any output Nyquist
    out = fourier_crop(wave.astype(np.float32), 4.0)
    my, mx = out.shape
    expected = np.cos(2 * np.pi * 5 * np.arange(mx) * (nx / mx) / nx) * 3.0 + 7.0
    np.testing.assert_allclose(out[my // 2], expected, atol=1e-3)


def test_fourier_crop_factor_one_is_a_float32_copy():
    image = np.arange(12, dtype=np.uint16).reshape(3, 4)
    out = fourier_crop(image, 1.0)
    assert out.dtype == np.float32 and out is not image
    np.testing.assert_array_equal(out, image)


def test_fourier_crop_rejects_upsampling_and_3d():
    with pytest.raises(ValueError, match="never upsample"):
        fourier_crop(np.zeros((8, 8)), 0.5)
    with pytest.raises(ValueError, match="2D"):
        fourier_crop(np.zeros((2, 8, 8)), 2.0)


def test_fourier_crop_of_4096_squared():
    image = np.random.default_rng(1).integers(0, 60000, (4096, 4096)).astype(np.float32)
    out = fourier_crop(image, 150 / 0.6666 / 24)  # its speed: benchmarks/bench_speed.py
    assert out.shape == (437, 437) and out.dtype == np.float32
    assert abs(float(out.mean()) - float(image.mean())) < 1e-3 * float(image.mean())  # the DC term is kept


# --- normalisation and high-pass -------------------------------------------------------


def test_robust_normalise_gives_median_zero_robust_std_one():
    rng = np.random.default_rng(2)
    out = robust_normalise(rng.normal(1000.0, 37.0, (300, 300)))
    assert out.dtype == np.float32
    assert abs(float(np.median(out))) < 0.02
    assert float(np.std(out)) == pytest.approx(1.0, abs=0.03)


def test_robust_normalise_is_not_squashed_by_a_huge_ice_blob():
    rng = np.random.default_rng(3)
    image = rng.normal(0.0, 1.0, (400, 400))
    blob = gaussian_blob(image.shape, 130, 120, 60) > 0.1  # ~30% of the pixels
    image[blob] -= 200.0  # very dark ice
    out = robust_normalise(image)
    # the noise outside the blob keeps unit scale; a plain z-score would shrink it ~70x
    assert float(np.std(out[~blob])) == pytest.approx(1.0, abs=0.1)
    assert float(np.std(image[~blob] / image.std())) < 0.05


def test_robust_normalise_constant_image_gives_zeros():
    out = robust_normalise(np.full((20, 30), 7.5))
    assert out.shape == (20, 30)
    assert not out.any()


def test_robust_normalise_falls_back_to_std_when_mad_is_zero():
    image = np.zeros((100, 100))
    image[:10] = np.linspace(1, 5, 1000).reshape(10, 100)  # 90% identical pixels: MAD = 0
    out = robust_normalise(image)
    assert np.isfinite(out).all()
    assert float(np.std(out)) == pytest.approx(1.0, abs=1e-3)


def test_highpass_removes_a_gradient_but_keeps_particle_scale_detail():
    ny, nx = 300, 300
    yy, xx = np.mgrid[:ny, :nx]
    ramp = 0.05 * xx + 0.03 * yy
    dot = -gaussian_blob((ny, nx), 150, 150, 4.0) * 5
    out = highpass((ramp + dot).astype(np.float32), cutoff_px=8 * 24)
    interior = out[60:-60, 60:-60]
    # the ramp (15 units across) is gone from the interior, the particle-sized dot stays
    assert float(np.ptp(interior[:, :80].mean(axis=0))) < 0.5
    assert float(out[150, 150]) < -4.0


@pytest.mark.parametrize(("shape", "sigma"), [((437, 437), 20.4), ((291, 310), 20.4), ((1000, 700), 40.0),
                                              ((60, 90), 9.0), ((64, 64), 5.0)])
def test_wide_blur_matches_the_exact_mirrored_gaussian(shape, sigma):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    image = ndimage.gaussian_filter(rng.normal(size=shape), 1.5)
    image = image / image.std() + 0.01 * xx - 0.005 * yy + 3.0 * (np.hypot(yy - shape[0] / 3, xx - shape[1] / 3)
                                                                  < shape[0] / 6)
    image = image.astype(np.float32)
    exact = ndimage.gaussian_filter(image, sigma, mode="reflect", truncate=3.0)
    fast = wide_blur(image, sigma)
    assert fast.shape == image.shape and fast.dtype == np.float32
    # everywhere, edges included, within 1% of the spread that the high-pass leaves
    assert float(np.abs(fast - exact).max()) < 0.01 * float((image - exact).std())


# --- preprocess ------------------------------------------------------------------------


def test_preprocess_scales_and_normalises_a_non_square_micrograph():
    rng = np.random.default_rng(4)
    data = rng.normal(5000, 70, (1800, 2500)).astype(np.float32)
    pre = preprocess(mic(data, apix=1.1), 150.0)
    factor = 150 / 1.1 / 24
    assert pre.image.shape == working_shape((1800, 2500), factor)
    assert pre.scale_x == pytest.approx(2500 / pre.image.shape[1])
    assert pre.scale_y == pytest.approx(1800 / pre.image.shape[0])
    assert pre.apix_working == pytest.approx(1.1 * (pre.scale_x + pre.scale_y) / 2)
    assert pre.diameter_px == pytest.approx(24.0, rel=0.01)
    assert abs(float(np.median(pre.image))) < 0.05
    mad = float(np.median(np.abs(pre.image - np.median(pre.image)))) * 1.4826
    assert mad == pytest.approx(1.0, abs=0.01)
    assert pre.name == "m"


def test_preprocess_coordinates_map_back_to_the_original():
    shape = (1500, 2100)
    x0, y0 = 1333.3, 456.7
    data = 100 - 20 * gaussian_blob(shape, x0, y0, sigma=25)  # a dark particle, 150 Å at 2.3 Å/px
    pre = preprocess(mic(data, apix=2.3), 150.0, PreprocessConfig(highpass_diameters=None))
    assert pre.scale_x != pre.scale_y  # 2100/913 vs 1500/652: the axes scale separately
    yw, xw = np.unravel_index(np.argmin(pre.image), pre.image.shape)
    window = -pre.image[yw - 8 : yw + 9, xw - 8 : xw + 9]
    cx, cy = centroid(window - window.min())
    xo, yo = pre.to_original(np.array([xw - 8 + cx]), np.array([yw - 8 + cy]))
    assert xo[0] == pytest.approx(x0, abs=0.5) and yo[0] == pytest.approx(y0, abs=0.5)


def test_preprocess_keeps_small_particles_at_full_resolution():
    data = np.random.default_rng(6).normal(0, 1, (200, 300))
    pre = preprocess(mic(data, apix=5.0), 60.0)  # 12 px < 24: no downsampling
    assert pre.image.shape == (200, 300)
    assert pre.scale_x == pre.scale_y == 1.0
    assert pre.diameter_px == pytest.approx(12.0)


def test_preprocess_highpass_flattens_ice_gradient():
    rng = np.random.default_rng(7)
    _yy, xx = np.mgrid[:1200, :1200]
    data = rng.normal(0, 1, (1200, 1200)) + 0.004 * xx  # gradient of ~5 noise sigmas across
    on = preprocess(mic(data, 2.0), 150.0).image
    off = preprocess(mic(data, 2.0), 150.0, PreprocessConfig(highpass_diameters=None)).image
    def left_right(im: np.ndarray) -> float:
        q = im.shape[1] // 4
        return float(im[:, -q:].mean() - im[:, :q].mean())
    assert abs(left_right(on)) < 0.3 * abs(left_right(off))


@pytest.mark.parametrize("diameter, match", [(0.0, "positive"), (-10.0, "positive"), (math.nan, "positive"),
                                             (5000.0, "larger than the micrograph"), (2.0, "only")])
def test_preprocess_rejects_bad_diameters(diameter, match):
    data = np.random.default_rng(8).normal(0, 1, (300, 400))
    with pytest.raises(CryopickError, match=match):
        preprocess(mic(data, apix=1.0), diameter)


def test_preprocess_rejects_nonfinite_pixels_with_a_fix():
    data = np.random.default_rng(9).normal(0, 1, (300, 400)).astype(np.float32)
    data[10, 10] = np.nan
    data[20, 30] = np.inf
    with pytest.raises(CryopickError, match="2 pixel") as info:
        preprocess(mic(data), 50.0)
    assert "--fill-nonfinite" in str(info.value)
    assert "m.mrc" in str(info.value)


def test_preprocess_rejects_constant_micrograph_and_bad_pixel_size():
    with pytest.raises(CryopickError, match="same value"):
        preprocess(mic(np.full((300, 300), 3.0)), 50.0)
    with pytest.raises(CryopickError, match="pixel size"):
        preprocess(mic(np.random.default_rng(0).normal(0, 1, (300, 300)), apix=0.0), 50.0)
    with pytest.raises(CryopickError, match="2D"):
        preprocess(Micrograph("s", Path("s.mrc"), np.zeros((2, 30, 30), np.float32), 1.0), 50.0)
