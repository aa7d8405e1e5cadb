"""The class prior of positive-unlabeled learning, estimated from data (Elkan & Noto 2008).

The prior :math:`\\pi` is the fraction of particles among the unlabeled examples (see
:mod:`cryopick.pickers.fcn.pu` for the setting and the notation).

Class prior from data
---------------------
Elkan & Noto (2008), estimator :math:`e_1`. Train any probabilistic classifier
:math:`g(x) \\approx P(s = 1 \\mid x)` to separate labeled (:math:`s = 1`) from
unlabeled (:math:`s = 0`) examples, on data where they occur in their natural proportion
:math:`n_l : n_u` (no class re-weighting). Under SCAR,
:math:`P(s=1 \\mid x) = c\\, P(y=1 \\mid x)` with :math:`c = P(s=1 \\mid y=1)`, the
fraction of all particles that were labeled. Where :math:`P(y=1 \\mid x) = 1`,
:math:`g(x) = c`, so :math:`\\hat c = \\text{mean}_{\\text{held-out labeled}}\\, g(x)`.
The particles number :math:`n_l / c` in total, :math:`n_l (1 - c) / c` of them unlabeled,
hence

.. math:: \\pi = \\frac{n_l}{n_u} \\cdot \\frac{1 - c}{c}.

The estimate is only as good as the classifier's ability to level off at :math:`c` on
certain particles: :func:`fit_prior_logistic` therefore uses a logistic model with a
learned upper asymptote (Jaskie et al. 2019) rather than a plain logistic regression.

``method="posterior"`` instead averages Elkan & Noto's posterior for unlabeled examples,
:math:`P(y=1 \\mid x, s=0) = \\frac{1-c}{c} \\frac{g(x)}{1 - g(x)}`, over held-out
unlabeled scores. Both over-estimate :math:`\\pi` a little where the classes overlap
(:math:`\\hat c` is then below :math:`c`).

References
----------
C. Elkan, K. Noto, "Learning classifiers from only positive and unlabeled data",
KDD 2008.
K. Jaskie, C. Elkan, A. Spanias, "A Modified Logistic Regression for Positive and
Unlabeled Learning", Asilomar Conference on Signals, Systems and Computers, 2019.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["estimate_prior", "fit_prior_logistic"]


def estimate_prior(
    scores_labeled: np.ndarray,
    scores_unlabeled: np.ndarray,
    n_labeled: int,
    n_unlabeled: int,
    *,
    method: Literal["e1", "posterior"] = "e1",
    bounds: tuple[float, float] = (1e-3, 1.0 - 1e-3),
) -> float:
    """Fraction of particles among the unlabeled examples (Elkan & Noto 2008).

    Parameters
    ----------
    scores_labeled, scores_unlabeled
        Held-out probabilities ``g(x) = P(labeled | x)`` in [0, 1] from a classifier of
        labeled vs unlabeled, trained on examples not in these arrays, with labeled and
        unlabeled in their natural proportion (no class balancing: the estimate relies on
        ``g`` being calibrated to that proportion).
    n_labeled, n_unlabeled
        Numbers of labeled and unlabeled examples the classifier was trained on (only
        their ratio matters, so totals over the whole data set do when the held-out split
        was random and stratified).
    method
        ``"e1"``: ``pi = n_l/n_u * (1 - c)/c`` with ``c`` the mean labeled score.
        ``"posterior"``: mean over ``scores_unlabeled`` of ``(1-c)/c * g/(1-g)``.
    bounds
        The result is clipped to ``[low, high]`` (default ``[0.001, 0.999]``) so that it
        is always a valid ``prior`` for :func:`nn_pu_loss`; ``c`` is first clipped to
        ``[n_l/(n_l+n_u), 1]``, the range the model allows (all / no unlabeled examples
        are particles).

    Returns
    -------
    float
        Estimated prior, in ``bounds``.

    Raises
    ------
    ValueError
        Empty or non-finite scores, scores outside [0, 1], non-positive counts, bad
        bounds, or an unknown method.
    """
    low, high = float(bounds[0]), float(bounds[1])
    if not (0.0 < low <= high < 1.0):
        raise ValueError(f"bounds must satisfy 0 < low <= high < 1, got {bounds}")
    if n_labeled <= 0 or n_unlabeled <= 0:
        raise ValueError(
            f"n_labeled and n_unlabeled must be positive, got {n_labeled}, {n_unlabeled}"
        )
    s_l = np.asarray(scores_labeled, dtype=np.float64).ravel()
    s_u = np.asarray(scores_unlabeled, dtype=np.float64).ravel()
    for name, s in (("scores_labeled", s_l), ("scores_unlabeled", s_u)):
        if s.size == 0:
            raise ValueError(f"{name} is empty: need held-out scores")
        if not np.all(np.isfinite(s)) or s.min() < 0.0 or s.max() > 1.0:
            raise ValueError(f"{name} must be finite probabilities in [0, 1]")
    c_min = n_labeled / (n_labeled + n_unlabeled)
    c = float(np.clip(s_l.mean(), c_min, 1.0))
    if method == "e1":
        prior = n_labeled / n_unlabeled * (1.0 - c) / c
    elif method == "posterior":
        g = np.minimum(s_u, 1.0 - 1e-6)
        prior = float(np.mean(np.minimum((1.0 - c) / c * g / (1.0 - g), 1.0)))
    else:
        raise ValueError(f"method must be 'e1' or 'posterior', got {method!r}")
    return float(np.clip(prior, low, high))


def _fit_capped_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1e-4
) -> np.ndarray:
    """Fit ``g(x) = sigmoid(k) * sigmoid(w.x + b)`` by maximum likelihood (L-BFGS).

    Returns ``[w..., b, k]``. The cap ``sigmoid(k)`` is the upper asymptote that
    ``P(s=1 | x) = c P(y=1 | x)`` reaches where particles are certain.
    """
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64)
    params = torch.zeros(x.shape[1] + 2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        log_g = F.logsigmoid(params[-1]) + F.logsigmoid(xt @ params[:-2] + params[-2])
        log_1mg = torch.log1p(-torch.exp(log_g).clamp(max=1.0 - 1e-12))
        nll = (
            -(yt * log_g + (1.0 - yt) * log_1mg).mean() + l2 * (params[:-2] ** 2).sum()
        )
        nll.backward()
        return nll

    opt.step(closure)
    return params.detach().numpy()


def fit_prior_logistic(
    features_labeled: np.ndarray,
    features_unlabeled: np.ndarray,
    rng: np.random.Generator,
    *,
    holdout_fraction: float = 0.3,
    method: Literal["e1", "posterior"] = "e1",
) -> float:
    """Estimate the prior with a linear labeled-vs-unlabeled classifier.

    Splits each set at random into training and held-out parts (``holdout_fraction``
    held out), fits the "modified logistic regression" of Jaskie, Elkan & Spanias (2019),
    ``g(x) = sigmoid(k) sigmoid(w.x + b)``, on standardised features, and passes the
    held-out probabilities to :func:`estimate_prior`. The cap ``sigmoid(k)`` lets ``g``
    level off at ``c`` on certain particles, as ``P(s=1 | x) = c P(y=1 | x)`` does; a plain
    logistic regression cannot, overshoots ``c`` far from the boundary and undershoots it
    near it, and its e1 estimate scatters by about +-0.1 on the test mixture. Meant for
    small feature sets and for tests (full-batch L-BFGS in float64).

    Parameters
    ----------
    features_labeled, features_unlabeled
        Arrays ``(n_l, d)`` and ``(n_u, d)``.
    rng
        Source of the split.
    holdout_fraction
        Fraction of each set held out, in (0, 1).
    method
        Passed to :func:`estimate_prior`.

    Returns
    -------
    float
        Estimated fraction of particles among the unlabeled examples.
    """
    xl = np.asarray(features_labeled, dtype=np.float64)
    xu = np.asarray(features_unlabeled, dtype=np.float64)
    if xl.ndim != 2 or xu.ndim != 2 or xl.shape[1] != xu.shape[1]:
        raise ValueError(
            f"features must be 2-D with equal widths, got {xl.shape}, {xu.shape}"
        )
    if not (0.0 < holdout_fraction < 1.0):
        raise ValueError(f"holdout_fraction must lie in (0, 1), got {holdout_fraction}")
    n_l, n_u = xl.shape[0], xu.shape[0]
    n_l_out = round(holdout_fraction * n_l)
    n_u_out = round(holdout_fraction * n_u)
    if min(n_l_out, n_u_out, n_l - n_l_out, n_u - n_u_out) < 1:
        raise ValueError(f"too few examples to split: {n_l} labeled, {n_u} unlabeled")
    perm_l, perm_u = rng.permutation(n_l), rng.permutation(n_u)
    out_l, fit_l = xl[perm_l[:n_l_out]], xl[perm_l[n_l_out:]]
    out_u, fit_u = xu[perm_u[:n_u_out]], xu[perm_u[n_u_out:]]
    x_fit = np.vstack([fit_l, fit_u])
    y_fit = np.concatenate([np.ones(len(fit_l)), np.zeros(len(fit_u))])
    mean, std = x_fit.mean(axis=0), x_fit.std(axis=0)
    std[std == 0] = 1.0
    p = _fit_capped_logistic((x_fit - mean) / std, y_fit)

    def prob(x: np.ndarray) -> np.ndarray:
        z = np.clip(((x - mean) / std) @ p[:-2] + p[-2], -30.0, 30.0)
        return 1.0 / (1.0 + np.exp(-p[-1])) / (1.0 + np.exp(-z))

    return estimate_prior(
        prob(out_l), prob(out_u), len(fit_l), len(fit_u), method=method
    )
