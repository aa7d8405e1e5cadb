"""cryopick.simulate.canvas: the phase and absorption layers, pasting patches, sphere profiles, phase per weight."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cryopick.simulate.canvas import Layers, disc_profile, interaction_constant, paste, phase_per_weight


def test_empty_layers_are_float32_zeros_of_the_shape() -> None:
    layers = Layers.empty((30, 40))
    assert layers.shape == (30, 40)
    for layer in (layers.phase_particles, layers.phase_other, layers.absorb):
        assert layer.shape == (30, 40) and layer.dtype == np.float32 and not layer.any()
    layers.phase_other[0, 0] = 1.0
    assert not layers.phase_particles.any() and not layers.absorb.any()  # three separate arrays


def test_paste_adds_the_patch_centred_on_the_rounded_point() -> None:
    target = np.zeros((10, 12), np.float32)
    patch = np.arange(9, dtype=np.float32).reshape(3, 3) + 1
    paste(target, patch, cx=5.4, cy=3.6)  # centre at column 5, row 4
    np.testing.assert_array_equal(target[3:6, 4:7], patch)
    assert target.sum() == patch.sum()
    paste(target, patch, cx=5.0, cy=4.0)  # added, not replaced
    np.testing.assert_array_equal(target[3:6, 4:7], 2 * patch)


def test_paste_drops_what_falls_outside() -> None:
    target = np.zeros((10, 12), np.float32)
    patch = np.arange(9, dtype=np.float32).reshape(3, 3) + 1
    paste(target, patch, cx=0.0, cy=0.0)  # only the lower right 2 x 2 lands
    np.testing.assert_array_equal(target[:2, :2], patch[1:, 1:])
    assert target.sum() == patch[1:, 1:].sum()
    before = target.copy()
    paste(target, patch, cx=-5.0, cy=4.0)  # wholly outside: nothing
    paste(target, patch, cx=5.0, cy=20.0)
    np.testing.assert_array_equal(target, before)


def test_disc_profile_is_a_projected_sphere() -> None:
    profile = disc_profile(33, 10.0)
    assert profile.shape == (33, 33) and profile.dtype == np.float32
    assert profile[16, 16] == pytest.approx(1.0, abs=0.01) and profile.max() <= 1.0
    assert profile[16, 16 + 12] == 0.0 and profile[0, 0] == 0.0  # outside the radius
    np.testing.assert_allclose(profile, profile.T, atol=1e-6)  # round
    # the volume of a sphere of radius R over its centre plane's area: sum sqrt(1 - r^2/R^2) = 2/3 pi R^2
    assert profile.sum() == pytest.approx(2 / 3 * math.pi * 10.0**2, rel=0.01)
    small = disc_profile(7, 1.5)  # a few pixels keep their mass: sampled 4 x 4 per pixel
    assert small.sum() == pytest.approx(2 / 3 * math.pi * 1.5**2, rel=0.05)
    off = disc_profile(33, 5.0, cx=10.0, cy=20.0)
    assert np.unravel_index(int(np.argmax(off)), off.shape) == (20, 10)


def test_interaction_constant_is_kirklands() -> None:
    assert interaction_constant(300.0) == pytest.approx(6.526e-4, rel=0.01)  # rad / (V Å) at 300 kV
    assert interaction_constant(200.0) == pytest.approx(7.29e-4, rel=0.01)
    assert interaction_constant(100.0) > interaction_constant(200.0) > interaction_constant(300.0)


def test_phase_per_weight_falls_with_the_pixel_area() -> None:
    at_1 = phase_per_weight(1.0, 300.0)
    assert at_1 > 0
    assert phase_per_weight(2.0, 300.0) == pytest.approx(at_1 / 4)
    assert phase_per_weight(1.0, 200.0) / at_1 == pytest.approx(interaction_constant(200.0) /
                                                                 interaction_constant(300.0))
