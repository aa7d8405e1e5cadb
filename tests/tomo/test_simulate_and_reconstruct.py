"""Simulated tomograms: a real missing wedge, the truth where the density is, the same bytes every time."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.tomo.reconstruct import back_project, dose_symmetric_order, projection_u, tilt_angles_deg
from cryopick.tomo.simulate import TomoSimConfig, simulate_tomogram, truth_and_labels

SMALL = TomoSimConfig(shape=(48, 96, 128), apix=15.0, n_particles=12, n_fiducials=2, n_vesicles=1,
                      n_contaminations=0, label_fraction=0.5, wrong_label_fraction=0.25, seed=3)


def _wedge_and_open_power(volume: np.ndarray, max_deg: float) -> tuple[float, float]:
    """Mean power inside the missing wedge (near the z axis) and outside it, in the x-z planes' transform."""
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(volume.transpose(1, 0, 2), axes=(1, 2)), axes=(1, 2))) ** 2
    nz, nx = volume.shape[0], volume.shape[2]
    kz = (np.arange(nz) - nz // 2)[:, None] / nz
    kx = (np.arange(nx) - nx // 2)[None, :] / nx
    angle = np.degrees(np.arctan2(np.abs(kx), np.abs(kz)))  # 0 along kz (the beam), 90 along kx
    radius = np.hypot(kx, kz)
    band = (radius > 0.05) & (radius < 0.4)
    wedge = band & (angle < 90 - max_deg - 8)
    open_ = band & (angle > 90 - max_deg + 8)
    power = spectrum.mean(axis=0)
    return float(power[wedge].mean()), float(power[open_].mean())


def test_a_reconstruction_from_tilts_has_the_missing_wedge() -> None:
    rng = np.random.default_rng(0)
    nz, ny, nx = 40, 16, 96
    points = rng.uniform([-30, 0, -12], [30, ny - 1, 12], size=(200, 3))  # x, y, z from the centre (y: row)
    angles = tilt_angles_deg(60, 3)
    images = np.zeros((len(angles), ny, nx), np.float32)
    for t, a in enumerate(angles):
        u = np.rint(projection_u(points[:, 0], points[:, 2], a) + (nx - 1) / 2).astype(int)
        np.add.at(images[t], (np.rint(points[:, 1]).astype(int), u), 1.0)
    volume = back_project(images, angles, nz)
    inside, outside = _wedge_and_open_power(volume, 60)
    assert inside < 0.05 * outside  # the wedge is empty, the measured directions are not


def test_a_point_comes_back_where_it_was() -> None:
    nz, ny, nx = 32, 8, 64
    angles = tilt_angles_deg(60, 3)
    x, z = 10.0, -6.0  # from the centre
    images = np.zeros((len(angles), ny, nx), np.float32)
    for t, a in enumerate(angles):
        images[t, 4, int(round(projection_u(x, z, a) + (nx - 1) / 2))] = 1.0
    volume = back_project(images, angles, nz)
    k, j, i = np.unravel_index(np.argmax(volume), volume.shape)
    assert (j, abs(i - ((nx - 1) / 2 + x)) <= 1, abs(k - ((nz - 1) / 2 + z)) <= 1) == (4, True, True)


def test_dose_symmetric_order_starts_at_zero_and_alternates() -> None:
    angles = tilt_angles_deg(9, 3)
    assert angles[dose_symmetric_order(angles)].tolist() == [0, 3, -3, 6, -6, 9, -9]


@pytest.fixture(scope="module")
def simulated():
    return simulate_tomogram(SMALL, 0)


def test_the_simulated_tomogram_has_the_wedge_and_its_objects(simulated) -> None:
    assert simulated.volume.shape == SMALL.shape and simulated.volume.dtype == np.float32
    inside, outside = _wedge_and_open_power(simulated.volume, SMALL.tilt_max_deg)
    assert inside < 0.2 * outside
    kinds = simulated.objects["kind"].value_counts().to_dict()
    assert 10 <= kinds.pop("particle") <= 12  # kept 0.9 diameters apart: a crowded box may hold fewer
    assert kinds == {"fiducial": 2, "vesicle": 1}
    nz, ny, nx = SMALL.shape
    inside_box = simulated.objects[["x", "y", "z"]].to_numpy() >= -0.5
    assert inside_box.all() and (simulated.objects["x"] < nx).all() and (simulated.objects["y"] < ny).all()


def test_the_same_seed_gives_the_same_bytes(simulated) -> None:
    again = simulate_tomogram(SMALL, 0)
    assert again.volume.tobytes() == simulated.volume.tobytes()
    assert not np.array_equal(simulate_tomogram(SMALL, 1).volume, simulated.volume)


def test_labels_take_their_fraction_and_some_are_wrong(simulated) -> None:
    truth, labels = truth_and_labels(simulated.objects, "t", SMALL, np.random.default_rng(0))
    assert set(truth["kind"]) == {"particle", "fiducial", "vesicle"}
    n_particles = int((truth["kind"] == "particle").sum())
    assert len(labels) == round(0.5 * n_particles)
    assert int((labels["kind"] == "wrong").sum()) == round(0.25 * len(labels))
