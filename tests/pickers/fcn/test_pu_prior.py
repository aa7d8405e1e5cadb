"""cryopick.pickers.fcn.pu_prior: class-prior estimation (Elkan & Noto), with known answers and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from cryopick.pickers.fcn.pu_prior import estimate_prior, fit_prior_logistic
from tests.pickers.fcn.conftest import _mixture


def test_estimate_prior_closed_form_and_clipping() -> None:
    # c = 0.25, n_l/n_u = 100/900 -> pi = 1/9 * 0.75/0.25 = 1/3
    got = estimate_prior(np.full(50, 0.25), np.full(10, 0.1), 100, 900)
    assert got == pytest.approx(1.0 / 3.0, rel=1e-12)
    # every labeled example scored 1 -> no particles left unlabeled -> lower bound
    assert estimate_prior(np.ones(5), np.zeros(5), 100, 900) == pytest.approx(1e-3)
    # c below n_l/(n_l+n_u) is impossible -> clipped -> all unlabeled are particles
    assert estimate_prior(np.full(5, 1e-4), np.zeros(5), 100, 900) == pytest.approx(
        0.999
    )
    assert estimate_prior(np.ones(5), np.zeros(5), 1, 9, bounds=(0.05, 0.9)) == 0.05
    # posterior method: c = 0.25; g = 0.25 on unlabeled -> P(y=1|x,s=0) = 3*(1/3) = 1
    scores_u = np.r_[np.full(30, 0.25), np.zeros(70)]
    got = estimate_prior(np.full(50, 0.25), scores_u, 100, 900, method="posterior")
    assert got == pytest.approx(0.30, rel=1e-9)


@pytest.mark.parametrize(
    ("true_prior", "method"),
    [(0.1, "e1"), (0.3, "e1"), (0.6, "e1"), (0.3, "posterior")],
)
def test_prior_from_gaussian_mixture(true_prior: float, method: str) -> None:
    errors = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        lab, unl, _ = _mixture(rng, true_prior)
        est = fit_prior_logistic(lab, unl, rng, method=method)  # type: ignore[arg-type]
        errors.append(est - true_prior)
    assert max(abs(e) for e in errors) <= 0.05, errors


def test_estimate_prior_bad_inputs_raise() -> None:
    ok = np.full(5, 0.3)
    with pytest.raises(ValueError, match="scores_labeled is empty"):
        estimate_prior(np.array([]), ok, 10, 90)
    with pytest.raises(ValueError, match="scores_unlabeled is empty"):
        estimate_prior(ok, np.array([]), 10, 90)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        estimate_prior(np.array([0.5, 1.2]), ok, 10, 90)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        estimate_prior(ok, np.array([np.nan]), 10, 90)
    with pytest.raises(ValueError, match="must be positive"):
        estimate_prior(ok, ok, 0, 90)
    with pytest.raises(ValueError, match="bounds"):
        estimate_prior(ok, ok, 10, 90, bounds=(0.0, 0.5))
    with pytest.raises(ValueError, match="method must be"):
        estimate_prior(ok, ok, 10, 90, method="km")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="too few examples"):
        fit_prior_logistic(
            np.zeros((1, 2)), np.zeros((10, 2)), np.random.default_rng(0)
        )
