"""cryopick.postprocess.contrast_guard: candidates far darker or far more textured than the particles go."""

from __future__ import annotations

import numpy as np

from cryopick.postprocess.contrast_guard import GUARD_MIN_CANDIDATES, contrast_guard


def test_contrast_guard_drops_only_far_darker_candidates():
    """Dark dots (ice, gold) far darker than the accepted particles go; brighter candidates (background) stay."""
    rng = np.random.default_rng(0)
    image = np.zeros((200, 200), dtype=np.float32)
    xs, ys, values = [], [], []
    for i in range(30):  # particles: mean about -1, spread 0.2, on a 6 x 5 grid
        x, y = 20 + 30 * (i % 6), 20 + 35 * (i // 6)
        xs.append(x)
        ys.append(y)
        values.append(-1.0 + 0.2 * rng.normal())
    xs += [185, 100]
    ys += [60, 188]
    values += [-12.0, 3.0]  # a dark dot and a bright, flat patch of background
    for x, y, v in zip(xs, ys, values):
        half = 10 if v > 0 else 4
        image[y - half:y + half + 1, x - half:x + half + 1] = v
    population = np.r_[np.ones(30, bool), False, False]
    keep = contrast_guard(image, np.array(xs, float), np.array(ys, float), population, 16.0, 6.0)
    assert keep[:30].all() and not keep[30] and keep[31]
    few = np.zeros(32, bool)
    few[: GUARD_MIN_CANDIDATES - 1] = True
    assert contrast_guard(image, np.array(xs, float), np.array(ys, float), few, 16.0, 6.0).all()


def test_contrast_guard_drops_far_more_textured_candidates():
    """Carbon and ice edges: as dark on average as a particle, but far more contrast inside a diameter."""
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, 0.3, (220, 220)).astype(np.float32)
    xs = [20 + 30 * (i % 6) for i in range(30)]
    ys = [20 + 35 * (i // 6) for i in range(30)]
    for x, y in zip(xs, ys):  # particles: a soft dark disc
        yy, xx = np.mgrid[-8:9, -8:9]
        image[y - 8:y + 9, x - 8:x + 9] -= 1.0 * (np.hypot(xx, yy) < 7)
    stripes = np.where((np.arange(17) // 2) % 2 == 0, -6.0, 4.0).astype(np.float32)
    image[190:207, 100:117] += stripes[None, :]  # textured, mean about -1
    xs.append(108)
    ys.append(198)
    population = np.r_[np.ones(30, bool), False]
    keep = contrast_guard(image, np.array(xs, float), np.array(ys, float), population, 16.0, 6.0)
    assert keep[:30].all() and not keep[30]
