"""Shared by test_pu.py and test_pu_prior.py: a two-Gaussian PU data set with a known class prior."""

from __future__ import annotations

import numpy as np


def _mixture(
    rng: np.random.Generator, prior: float, n_unl: int = 4000, frac_labeled: float = 0.2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positives N(+2, I), negatives N(-2, I) in 2-D; ``frac_labeled`` of positives labeled.

    Returns labeled positives, unlabeled points and the unlabeled points' true labels.
    """
    n_pos_unl = round(prior * n_unl)
    n_lab = round(n_pos_unl * frac_labeled / (1.0 - frac_labeled))
    lab = rng.normal(2.0, 1.0, (n_lab, 2))
    unl = np.vstack(
        [
            rng.normal(2.0, 1.0, (n_pos_unl, 2)),
            rng.normal(-2.0, 1.0, (n_unl - n_pos_unl, 2)),
        ]
    )
    y = np.r_[np.ones(n_pos_unl), np.zeros(n_unl - n_pos_unl)]
    return lab, unl, y
