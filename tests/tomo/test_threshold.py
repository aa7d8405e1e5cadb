"""Otsu's cut of the candidates' scores: in the gap between two clusters, whatever their sizes."""

import numpy as np
import pytest

from cryopick.tomo.threshold import FALLBACK, otsu_threshold


@pytest.mark.parametrize("n_background", [50, 300, 2000])
def test_the_cut_falls_in_the_gap_between_background_and_particles(n_background: int) -> None:
    rng = np.random.default_rng(n_background)
    background = rng.uniform(0.01, 0.1, n_background)
    particles = rng.uniform(0.4, 0.55, 120)
    cut = otsu_threshold(np.concatenate([background, particles]))
    assert 0.1 <= cut <= 0.4
    assert (particles >= cut).all() and (background < cut).all()


def test_scores_that_do_not_split_give_the_fallback() -> None:
    assert otsu_threshold(np.full(10, 0.3)) == FALLBACK
    assert otsu_threshold(np.array([])) == FALLBACK
    assert 0.2 < otsu_threshold(np.array([0.2, 0.8, np.nan])) <= 0.8
