"""Tests for cryopick.simulate.projection: rotations, conventions, mass, speed."""

from __future__ import annotations


import numpy as np
import pytest

from cryopick.simulate.projection import (
    box_px_for,
    gaussian_sigma_A,
    project,
    random_rotations,
    rotation_about_z,
)
from cryopick.simulate.structures import Structure, load_structure, merge_on_grid


def _ball(n: int, radius: float, seed: int = 0) -> Structure:
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(n, 3))
    pts *= (radius * rng.random(n) ** (1 / 3) / np.linalg.norm(pts, axis=1))[:, None]
    return Structure("ball", pts, rng.uniform(1, 10, n))


def _moments(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid (row, col) and variance (row, col) of an image."""
    rows, cols = np.indices(img.shape)
    total = img.sum()
    mean = np.array([(rows * img).sum(), (cols * img).sum()]) / total
    var = np.array([((rows - mean[0]) ** 2 * img).sum(), ((cols - mean[1]) ** 2 * img).sum()]) / total
    return mean, var


# ----------------------------------------------------------------------------- rotations


def test_random_rotations_are_rotations_and_deterministic():
    r = random_rotations(500, np.random.default_rng(3))
    assert r.shape == (500, 3, 3)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-10)
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), r.shape), atol=1e-10)
    np.testing.assert_array_equal(r, random_rotations(500, np.random.default_rng(3)))
    assert not np.allclose(r, random_rotations(500, np.random.default_rng(4)))
    assert random_rotations(0, np.random.default_rng(0)).shape == (0, 3, 3)


def test_random_rotations_are_uniform():
    """Haar measure: E[R] = 0, E[R_ij^2] = 1/3, rotation angle density (1 - cos t) / pi."""
    r = random_rotations(40_000, np.random.default_rng(0))
    assert np.abs(r.mean(axis=0)).max() < 0.015  # includes the mean rotated unit vectors
    np.testing.assert_allclose((r**2).mean(axis=0), 1 / 3, atol=0.01)
    cos_angle = (np.trace(r, axis1=1, axis2=2) - 1) / 2
    assert cos_angle.mean() == pytest.approx(-0.5, abs=0.01)  # E[cos t] = -1/2 under Haar
    # viewing directions (third row: where the beam axis comes from) cover the sphere evenly
    z = r[:, 2, 2]
    counts, _ = np.histogram(z, bins=10, range=(-1, 1))
    assert counts.min() > 0.93 * counts.mean()


# ----------------------------------------------------------------------------- conventions


def test_x_is_column_y_is_row():
    """A heavier point at +x lands right of the centre; at +y, below it (higher row)."""
    apix, box = 2.0, 65
    c = box // 2
    for axis, expect in ((0, (c, c + 10)), (1, (c + 10, c))):
        xyz = np.zeros((2, 3))
        xyz[0, axis], xyz[1, axis] = 20.0, -60.0  # weights 3:1, centre of mass at 0
        img = project(Structure("pair", xyz, [3.0, 1.0]), np.eye(3), apix, box, 6.0)[0]
        assert np.unravel_index(img.argmax(), img.shape) == expect


def test_rotation_about_z_is_rot90_clockwise_for_odd_boxes():
    s = load_structure("small")
    base, turned = project(s, np.stack([np.eye(3), rotation_about_z(90.0)]), 1.5, 61, 6.0)
    scale = base.max()
    np.testing.assert_allclose(turned, np.rot90(base, k=-1), atol=1e-4 * scale)
    assert not np.allclose(turned, np.rot90(base, k=1), atol=0.05 * scale)
    back = project(s, rotation_about_z(-90.0), 1.5, 61, 6.0)[0]
    np.testing.assert_allclose(back, np.rot90(base, k=1), atol=1e-4 * scale)


def test_centre_pixel_even_and_odd_boxes():
    s = _ball(3000, 25.0)
    for box in (64, 65):
        img = project(s, random_rotations(1, np.random.default_rng(1)), 1.0, box, 8.0)[0]
        mean, _ = _moments(img)
        np.testing.assert_allclose(mean, [box // 2, box // 2], atol=0.02)


# ----------------------------------------------------------------------------- mass and shape


@pytest.mark.parametrize("oversample, resolution_A", [(2, None), (2, 10.0), (1, 8.0), (3, 3.0)])
def test_projection_conserves_mass(oversample, resolution_A):
    s = load_structure("globular")
    box = box_px_for(s, 2.0, resolution_A)
    imgs = project(s, random_rotations(5, np.random.default_rng(2)), 2.0, box, resolution_A,
                   oversample=oversample)
    assert imgs.shape == (5, box, box) and imgs.dtype == np.float32
    np.testing.assert_allclose(imgs.sum(axis=(1, 2)), s.total_weight, rtol=1e-4)
    if resolution_A is None:  # default 3 px: ripples from the band limit stay small
        assert imgs.min() > -0.03 * imgs.max()


def _ideal(points_px: np.ndarray, weights, box: int, sigma_px: float) -> np.ndarray:
    """Exact band-limited image of weighted points (odd box: no Nyquist bin)."""
    f = np.fft.fftfreq(box)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    c = box // 2
    spec = sum(w * np.exp(-2j * np.pi * (fx * (c + x) + fy * (c + y)))
               for (x, y), w in zip(points_px, weights, strict=True))
    return np.fft.ifft2(spec * np.exp(-2 * np.pi**2 * sigma_px**2 * (fx**2 + fy**2))).real


@pytest.mark.parametrize("subpixel", [0.0, 0.125, 0.25, 0.5])
def test_points_image_as_exact_band_limited_gaussians_wherever_they_fall(subpixel):
    """Point splatting adds no bias that depends on where a point falls in a pixel."""
    apix, res, box = 2.0, 8.0, 65
    pts_px = np.array([[12.0 + subpixel, 0.3], [-12.0 - subpixel, -0.3]])
    s = Structure("pair", np.c_[pts_px * apix, [0.0, 0.0]], [1.0, 1.0])
    ref = _ideal(pts_px, [1.0, 1.0], box, gaussian_sigma_A(res) / apix)
    img = project(s, np.eye(3), apix, box, res)[0]
    assert np.abs(img - ref).max() < 0.03 * ref.max()  # os=1 would be 5-11%


def test_default_oversampling_is_close_to_exact_for_a_protein():
    s = load_structure("globular")
    rot = random_rotations(4, np.random.default_rng(0))
    box = box_px_for(s, 2.0, 6.0) + 1
    exact = project(s, rot, 2.0, box, 6.0, oversample=8)
    default = project(s, rot, 2.0, box, 6.0)
    assert np.abs(default - exact).max() < 0.02 * exact.max()  # os=1 would be ~8%


def test_resolution_blurs():
    s = load_structure("small")
    sharp, blurred = (project(s, np.eye(3), 1.0, 80, res)[0] for res in (4.0, 15.0))
    assert blurred.max() < 0.6 * sharp.max()
    assert blurred.sum() == pytest.approx(sharp.sum(), rel=1e-4)


def test_merging_large_structures_barely_changes_images():
    """Merging 30k points to <= 15k (cells ~ resolution / 4) changes images by ~1%."""
    s = _ball(30_000, 40.0)
    _, _, cell = merge_on_grid(s.coords_A, s.weights, 15_000)
    assert 0 < cell < 10.0 / 3
    rot = random_rotations(3, np.random.default_rng(5))
    full = project(s, rot, 2.0, 64, 10.0, max_points=None)
    merged = project(s, rot, 2.0, 64, 10.0, max_points=15_000)
    np.testing.assert_allclose(merged.sum(axis=(1, 2)), full.sum(axis=(1, 2)), rtol=1e-4)
    assert np.abs(merged - full).max() < 0.02 * full.max()
    coarse = project(s, rot, 2.0, 64, 10.0, max_points=1000)  # cells ~ resolution: visibly off
    assert np.abs(coarse - full).max() > 0.05 * full.max()


# ----------------------------------------------------------------------------- box


def test_box_px_for_fits_and_small_boxes_are_refused():
    s = load_structure("ring7")
    box = box_px_for(s, 2.0)
    assert box % 2 == 0 and box * 2.0 > s.diameter_A
    imgs = project(s, random_rotations(4, np.random.default_rng(0)), 2.0, box)
    np.testing.assert_allclose(imgs.sum(axis=(1, 2)), s.total_weight, rtol=1e-4)
    too_small = int(s.diameter_A / 2.0 * 0.8)
    with pytest.raises(ValueError, match="box_px_for"):
        project(s, np.eye(3), 2.0, too_small)
    clipped = project(s, random_rotations(4, np.random.default_rng(0)), 2.0, too_small, clip=True)
    sums = clipped.sum(axis=(1, 2))
    assert (sums < 0.99 * s.total_weight).all() and (sums > 0.3 * s.total_weight).all()


@pytest.mark.parametrize("kwargs", [{"apix": 0.0}, {"box_px": 2}, {"rotations": np.eye(2)},
                                    {"resolution_A": -1.0}, {"oversample": 0}])
def test_bad_arguments(kwargs):
    args = {"structure": load_structure("small"), "rotations": np.eye(3), "apix": 2.0, "box_px": 64} | kwargs
    with pytest.raises(ValueError):
        project(**args)


# ----------------------------------------------------------------------------- speed


def test_300_projections_of_20k_points_in_one_call():
    """The simulator projects ~300 particles per micrograph in one call (its speed: benchmarks/bench_speed.py)."""
    s = _ball(20_000, 70.0)
    rot = random_rotations(300, np.random.default_rng(0))
    project(s, rot[:2], 2.0, 96)  # warm up (FFT plans)
    imgs = project(s, rot, 2.0, 96, 8.0)
    assert imgs.shape == (300, 96, 96) and np.isfinite(imgs).all()
    np.testing.assert_allclose(imgs[:2], project(s, rot[:2], 2.0, 96, 8.0), rtol=1e-5, atol=1e-6)
