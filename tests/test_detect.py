"""Tests for cryopick.detect.find_peaks."""

from __future__ import annotations


import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.distance import pdist

from cryopick.detect import find_peaks


def bumps(shape: tuple[int, int], points: list[tuple[float, float, float]], sigma: float = 2.0) -> np.ndarray:
    """Gaussian bumps (x, y, height) on a zero map."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    out = np.zeros(shape)
    for x, y, h in points:
        out += h * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return out


def test_isolated_peaks_are_found_exactly_and_ordered_by_score():
    points = [(20, 30, 1.0), (70, 25, 3.0), (45, 80, 2.0), (90, 90, 0.5)]
    x, y, s = find_peaks(bumps((120, 110), points), min_distance_px=10)
    assert x.dtype == np.float64 and len(x) == 4
    np.testing.assert_allclose(x, [70, 45, 20, 90], atol=1e-9)
    np.testing.assert_allclose(y, [25, 80, 30, 90], atol=1e-9)
    assert np.all(np.diff(s) < 0)
    np.testing.assert_allclose(s, [3.0, 2.0, 1.0, 0.5], rtol=1e-6)


def test_subpixel_refinement_recovers_off_grid_positions():
    points = [(30.3, 40.7, 1.0), (70.6, 20.2, 1.0)]
    x, y, _ = find_peaks(bumps((80, 100), points, sigma=3.0), min_distance_px=8)
    order = np.argsort(x)
    np.testing.assert_allclose(x[order], [30.3, 70.6], atol=0.1)
    np.testing.assert_allclose(y[order], [40.7, 20.2], atol=0.1)
    xi, _yi, _ = find_peaks(bumps((80, 100), points, sigma=3.0), min_distance_px=8, subpixel=False)
    assert set(xi) == {30.0, 71.0}


@pytest.mark.parametrize("distance", [3.0, 7.5, 20.0])
def test_minimum_distance_is_honoured_on_noise(distance):
    rng = np.random.default_rng(0)
    score = ndimage.gaussian_filter(rng.standard_normal((300, 400)), 1.0)
    x, y, _s = find_peaks(score, min_distance_px=distance, subpixel=False)
    assert len(x) > 50
    assert pdist(np.column_stack([x, y])).min() >= distance
    # the strongest pixel of the map is always a peak, and comes first
    iy, ix = np.unravel_index(np.argmax(score), score.shape)
    assert (x[0], y[0]) == (ix, iy)
    # every returned peak is a local maximum of its 3x3 neighbourhood
    assert np.all(score[y.astype(int), x.astype(int)] == ndimage.maximum_filter(score, 3)[y.astype(int), x.astype(int)])


def test_suppression_is_greedy_strongest_first():
    # three bumps on a line, 6 px apart: with min distance 10 the middle (strongest) one
    # suppresses both neighbours; with 5 all three stay
    points = [(20, 20, 1.0), (26, 20, 2.0), (32, 20, 1.5)]
    score = bumps((40, 60), points, sigma=1.0)
    x, _, _ = find_peaks(score, 10, subpixel=False)
    assert list(x) == [26.0]
    x, _, _ = find_peaks(score, 5, subpixel=False)
    assert list(x) == [26.0, 32.0, 20.0]


def test_plateaus_give_one_peak_each_and_respect_min_distance():
    score = np.zeros((100, 100))
    yy, xx = np.mgrid[:100, :100]
    score[(xx - 30) ** 2 + (yy - 40) ** 2 <= 36] = 5.0  # flat-topped disc, radius 6
    score[60:63, 70:90] = 5.0  # flat ridge 20 px long
    score[10, 10:14] = 2.0  # a short plateau (one peak, at x = 11)...
    score[10, 15] = 2.0  # ...and an equal pixel 4 px from that peak: suppressed
    x, y, _s = find_peaks(score, min_distance_px=5, subpixel=False)
    peaks = set(zip(x.tolist(), y.tolist()))
    assert (30.0, 40.0) in peaks  # the disc's centre
    assert sum(1 for px, py in peaks if 60 <= py <= 62 and 70 <= px <= 89) == 1
    assert [px for px, py in peaks if py == 10] == [11.0]
    assert pdist(np.column_stack([x, y])).min() >= 5
    # a constant map is one big plateau: one peak in its middle
    x, y, _ = find_peaks(np.ones((51, 31)), min_distance_px=5)
    assert (list(x), list(y)) == ([15.0], [25.0])


def test_threshold_border_and_max_peaks():
    points = [(5, 50, 9.0), (50, 50, 3.0), (80, 20, 2.0), (30, 80, 1.0), (98, 98, 8.0)]
    score = bumps((100, 100), points)
    x, _, s = find_peaks(score, 8, threshold=1.5)
    np.testing.assert_allclose(sorted(s), [2.0, 3.0, 8.0, 9.0], rtol=1e-6)
    x, y, s = find_peaks(score, 8, exclude_border_px=6)
    assert not np.any((x < 6) | (x > 93) | (y < 6) | (y > 93))
    np.testing.assert_allclose(s, [3.0, 2.0, 1.0], rtol=1e-6)
    x, _, s = find_peaks(score, 8, max_peaks=2)
    np.testing.assert_allclose(s, [9.0, 8.0], rtol=1e-6)
    assert len(find_peaks(score, 8, max_peaks=0)[0]) == 0


def test_border_peaks_suppress_their_neighbours_before_being_dropped():
    # a particle cut by the edge (strong peak at x=2) must not leave its weaker shoulder
    # at x=9 as a pick; a peak 20 px away is unaffected
    score = bumps((60, 60), [(2, 30, 5.0), (9, 30, 1.0), (22, 30, 1.0)], sigma=1.0)
    x, _, _ = find_peaks(score, 10, exclude_border_px=4, subpixel=False)
    assert list(x) == [22.0]
    x, _, _ = find_peaks(score, 10, exclude_border_px=4, max_peaks=1, subpixel=False)
    assert list(x) == [22.0]


def test_empty_and_peakless_maps():
    for score in (np.zeros((0, 0)), np.zeros((0, 5)), np.full((10, 10), np.nan), np.full((10, 10), -np.inf)):
        x, y, s = find_peaks(score, 3)
        assert len(x) == len(y) == len(s) == 0
    x, _, _ = find_peaks(np.arange(100.0).reshape(10, 10), 3, threshold=1000)
    assert len(x) == 0


def test_nan_pixels_are_never_peaks():
    score = bumps((50, 50), [(20, 20, 1.0), (35, 35, 2.0)])
    score[35, 35] = np.nan
    x, y, s = find_peaks(score, 5, subpixel=False)
    assert np.isfinite(s).all()
    assert (20.0, 20.0) in set(zip(x.tolist(), y.tolist()))
    assert (35.0, 35.0) not in set(zip(x.tolist(), y.tolist()))


def test_integer_maps_are_accepted():
    score = np.zeros((30, 30), dtype=np.int32)
    score[10, 12] = 7
    x, y, s = find_peaks(score, 4)
    assert (x[0], y[0], s[0]) == (12.0, 10.0, 7.0)


@pytest.mark.parametrize("kwargs", [{"min_distance_px": 0}, {"min_distance_px": np.nan}, {"min_distance_px": 3, "max_peaks": -1}])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        find_peaks(np.zeros((10, 10)), **kwargs)
    with pytest.raises(ValueError):
        find_peaks(np.zeros(10), 3)


def test_a_1000_squared_map_with_thousands_of_candidates():
    score = np.random.default_rng(1).standard_normal((1000, 1000)).astype(np.float32)
    x, y, s = find_peaks(score, min_distance_px=5)  # its speed: benchmarks/bench_speed.py
    assert len(x) > 5000 and np.all(np.diff(s) <= 0)
    xy = np.c_[x, y]
    from scipy.spatial import cKDTree

    assert np.min(cKDTree(xy).query(xy, k=2)[0][:, 1]) >= 5 - np.sqrt(2)  # integer peaks >= 5 apart, each moved <= 0.5 px per axis
