"""cryopick.pickers.fcn.count: the particle count from where the labels rank, the first guess, the limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cryopick.pickers.fcn.count import (
    estimate_particle_count,
    label_scores,
    log_blob_count,
    nearest_within,
    packing_limit,
    prior_from_count,
)


def _blob_maps(n_blobs: int, seed: int, shape: tuple[int, int] = (256, 256), n_maps: int = 2,
               spacing: int = 16) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Score maps with ``n_blobs`` Gaussian peaks (sigma 2 px, heights U(0.5, 1)) on noise peaks below 0.3."""
    rng = np.random.default_rng(seed)
    cy, cx = np.mgrid[spacing // 2:shape[0]:spacing, spacing // 2:shape[1]:spacing]
    cells = np.c_[cx.ravel(), cy.ravel()]
    counts = np.full(n_maps, n_blobs // n_maps)
    counts[: n_blobs % n_maps] += 1
    dy, dx = np.mgrid[-7:8, -7:8]
    maps, centres = [], []
    for count in counts:
        xy = cells[rng.choice(len(cells), count, replace=False)] + rng.integers(-3, 4, (count, 2))
        score = np.pad(rng.uniform(0.0, 0.25, shape), 7)
        for (x, y), height in zip(xy, rng.uniform(0.5, 1.0, count)):
            patch = score[y:y + 15, x:x + 15]  # centred on (x, y) in the padded map
            np.maximum(patch, height * np.exp(-(dx ** 2 + dy ** 2) / (2 * 2.0 ** 2)), out=patch)
        maps.append(score[7:-7, 7:-7])
        centres.append(xy.astype(float))
    return maps, centres


def _sample_labels(centres: list[np.ndarray], fraction: float, seed: int, jitter_px: float = 1.0) -> list[np.ndarray]:
    """A random ``fraction`` of the particles as labels, placed up to ``jitter_px`` off centre."""
    rng = np.random.default_rng(seed)
    out = []
    for xy in centres:
        chosen = xy[rng.random(len(xy)) < fraction]
        out.append(chosen + rng.uniform(-jitter_px, jitter_px, chosen.shape))
    return out


def test_particle_count_with_every_particle_labelled_is_exact():
    maps, centres = _blob_maps(200, seed=0)
    estimate = estimate_particle_count(maps, centres, min_distance_px=8.0, reach_px=2.4)
    assert abs(estimate - 200) <= 2


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_particle_count_from_a_random_fifth_labelled(seed):
    """The median label splits the particles in half: the count is right within sampling error.

    With n labels the estimate's relative standard error is about 1 / sqrt(n): 9% for the
    ~120 labels here, so 20% is over two standard errors (seeds 0-11 all pass; worst -18%).
    """
    maps, centres = _blob_maps(600, seed=seed, shape=(384, 384))
    labels = _sample_labels(centres, 0.2, seed=100 + seed)
    n_labels = sum(len(xy) for xy in labels)
    assert 90 <= n_labels <= 150
    estimate = estimate_particle_count(maps, labels, min_distance_px=8.0, reach_px=2.4)
    assert abs(estimate - 600) <= 0.2 * 600, (estimate, n_labels)


def test_particle_count_never_below_the_labels():
    maps, centres = _blob_maps(200, seed=5)
    heights = [m[np.rint(xy[:, 1]).astype(int), np.rint(xy[:, 0]).astype(int)] for m, xy in zip(maps, centres)]
    cut = np.quantile(np.concatenate(heights), 0.9)
    top = [xy[h >= cut] for xy, h in zip(centres, heights)]  # the strongest 10% labelled: a biased sample
    n_top = sum(len(xy) for xy in top)
    estimate = estimate_particle_count(maps, top, min_distance_px=8.0, reach_px=2.4)
    assert n_top <= estimate <= n_top + 2  # a biased sample cannot reveal the others
    # every one of them clicked twice: twice the labels, no more candidates above their median
    twice = [np.concatenate([xy, xy + 0.5]) for xy in top]
    assert estimate_particle_count(maps, twice, min_distance_px=8.0, reach_px=2.4) >= 2 * n_top
    # labels on the weakest particles make the count larger than with labels on the strongest
    bottom = [xy[h <= np.quantile(np.concatenate(heights), 0.1)] for xy, h in zip(centres, heights)]
    assert estimate_particle_count(maps, bottom, 8.0, 2.4) > 150


def test_particle_count_with_labels_outside_the_map():
    maps, centres = _blob_maps(40, seed=1, n_maps=1, shape=(128, 128))
    outside = np.array([[140.0, 60.0]])  # 12 px beyond the right edge, reach 2.4 px
    estimate = estimate_particle_count(maps, [np.concatenate([centres[0], outside])], 8.0, 2.4)
    assert abs(estimate - 40) <= 2


def test_particle_count_without_labels_is_zero():
    maps, _ = _blob_maps(20, seed=0)
    assert estimate_particle_count(maps, [np.empty((0, 2)), np.empty((0, 2))], 8.0, 2.4) == 0.0


# ----------------------------------------------------------------------------- limits, first guess, label scores


def test_packing_limit_is_discs_covering_half_the_area():
    assert packing_limit(10_000.0, 10.0) == pytest.approx(0.5 * 10_000 / (math.pi * 25.0))
    assert packing_limit(40_000.0, 10.0) == pytest.approx(4 * packing_limit(10_000.0, 10.0))
    assert packing_limit(10_000.0, 20.0) == pytest.approx(packing_limit(10_000.0, 10.0) / 4)


def test_prior_from_count_is_the_fraction_of_pixels_clipped():
    assert prior_from_count(100, 50.0, 100_000.0) == pytest.approx(0.05)
    assert prior_from_count(0, 50.0, 100_000.0) == 1e-4  # never zero
    assert prior_from_count(10**6, 50.0, 100_000.0) == 0.5  # never more than half
    assert prior_from_count(1, 0.3, 0.0) == pytest.approx(0.3)  # an empty area counts as one pixel
    assert isinstance(prior_from_count(3, 2.0, 100.0), float)


def _dark_discs(centres: list[tuple[int, int]], seed: int, shape: tuple[int, int] = (200, 200),
                diameter_px: float = 16.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.normal(0.0, 1.0, shape)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for x, y in centres:
        image[(xx - x) ** 2 + (yy - y) ** 2 <= (diameter_px / 2) ** 2] -= 3.0
    return image.astype(np.float32)


def test_log_blob_count_finds_the_dark_discs_of_every_image():
    grid = [(40 + 50 * i, 40 + 50 * j) for i in range(3) for j in range(3)]
    images = [_dark_discs(grid, seed) for seed in range(3)]
    counts = [log_blob_count([image], 16.0) for image in images]
    assert all(9 <= count <= 10 for count in counts), counts  # nine discs, at most one noise peak more
    assert log_blob_count(images, 16.0) == sum(counts)
    assert log_blob_count([], 16.0) == 0.0


def test_label_scores_take_the_highest_value_in_reach():
    prob = np.zeros((20, 30))
    prob[5, 10] = 0.9
    prob[15, 25] = 0.4
    labels = np.array([[11.0, 6.0],  # one pixel off the 0.9
                       [12.6, 5.0],  # rounds to column 13, 3 off: in the square of half-side ceil(2.4) = 3
                       [25.0, 15.0],
                       [2.0, 2.0],  # nothing in reach
                       [40.0, 5.0]])  # far outside the map
    scores = label_scores(prob, labels, reach_px=2.4)
    np.testing.assert_allclose(scores, [0.9, 0.9, 0.4, 0.0, 0.0])
    assert label_scores(prob, np.array([[14.0, 5.0]]), reach_px=2.4)[0] == 0.0  # 4 columns off
    assert label_scores(prob, np.empty((0, 2)), 2.4).shape == (0,)


def test_nearest_within_says_which_points_have_a_neighbour():
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 20.0]])
    others = np.array([[1.0, 1.0], [10.0, 1.4]])
    assert nearest_within(xy, others, 1.5).tolist() == [True, True, False]
    assert nearest_within(xy, others, 1.0).tolist() == [False, False, False]
    assert nearest_within(xy, np.empty((0, 2)), 5.0).tolist() == [False, False, False]
    assert nearest_within(np.empty((0, 2)), others, 5.0).shape == (0,)


def test_the_count_from_the_labels_is_trusted_when_few_candidates_reach_their_median() -> None:
    """A high labelled median, or a low one that few candidates reach (real apoferritin), is trusted."""
    from cryopick.pickers.fcn.count import candidate_scores, count_is_trusted, rank_count

    assert count_is_trusted(0.9, 0.5) and count_is_trusted(0.17, 0.13) and not count_is_trusted(0.18, 0.20)
    prob = np.zeros((60, 60), np.float32)
    for i, (x, y) in enumerate([(10, 10), (30, 10), (50, 10), (10, 40), (30, 40), (50, 40)]):
        prob[y, x] = 0.2 + 0.1 * i  # six candidates scoring 0.2 .. 0.7
    labels = np.array([[30.0, 40.0], [50.0, 40.0]])  # score 0.6 and 0.7: median 0.65
    n_candidates = candidate_scores([prob], 5.0).size  # the six, and the flat background's own peak
    assert n_candidates >= 6 and rank_count([prob], [labels], 5.0, 1.0)[1] == pytest.approx(1 / n_candidates)
