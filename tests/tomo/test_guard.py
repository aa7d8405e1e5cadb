"""The dense-object guard: a gold-like bead is found from the labelled particles' own contrast."""

import numpy as np

from cryopick.tomo.guard import dense_limit, near_dense


def _ball(volume: np.ndarray, centre: tuple[int, int, int], radius: float, value: float) -> None:
    grid = np.indices(volume.shape)
    inside = sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2
    volume[inside] += value


def test_a_bead_far_denser_than_the_particles_is_guarded_and_particles_are_not():
    rng = np.random.default_rng(0)
    volume = rng.normal(size=(40, 48, 56)).astype(np.float32)
    particles = [(10, 12, 14), (20, 30, 40), (30, 12, 40)]
    for centre in particles:
        _ball(volume, centre, 3.0, -4.0)  # protein: dark, a few noise units
    _ball(volume, (20, 36, 12), 1.5, -150.0)  # gold: dark, a hundred noise units
    polarity, limit = dense_limit([volume], [np.array(particles, float)], diameter_vox=7.0)
    assert polarity == -1.0
    assert 10.0 < limit < 100.0
    near = near_dense(volume, np.array([*particles, (20, 33, 13)], float), polarity, limit, diameter_vox=7.0)
    assert near.tolist() == [False, False, False, True]


def test_an_inverted_tomogram_keeps_the_guard():
    rng = np.random.default_rng(1)
    volume = rng.normal(size=(32, 32, 32)).astype(np.float32)
    _ball(volume, (16, 10, 10), 3.0, 4.0)
    _ball(volume, (16, 24, 24), 1.5, 150.0)
    polarity, limit = dense_limit([volume], [np.array([(16.0, 10.0, 10.0)])], diameter_vox=7.0)
    assert polarity == 1.0
    assert near_dense(volume, np.array([(16.0, 10.0, 10.0), (16.0, 22.0, 23.0)]), polarity, limit, 7.0).tolist() \
        == [False, True]
