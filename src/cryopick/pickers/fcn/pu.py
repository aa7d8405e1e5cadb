"""Positive-unlabeled (PU) learning: the non-negative PU risk and the class prior.

Users label only a fraction of the particles. Everything else on the micrograph is
*unlabeled*: a mix of unlabeled particles and background. This module holds the two
pieces needed to learn from that without asking the user how many particles there are.

Setting and notation
--------------------
A classifier outputs a logit :math:`z = f(x)` (dimensionless; :math:`z > 0` means
"particle"). The labeled examples are a random sample of the particles ("selected
completely at random", SCAR), so the particles among the unlabeled examples follow the
same distribution :math:`p_+(x)` as the labeled ones. The unlabeled examples follow

.. math:: p_u(x) = \\pi\\, p_+(x) + (1 - \\pi)\\, p_-(x),

where :math:`\\pi` (``prior``) is the **fraction of particles among the unlabeled
examples** (a number in (0, 1), no unit; examples are whatever the caller scores: pixels
of a score map, or patches).

Losses (``loss=``), with :math:`y = \\pm 1`:

* ``"sigmoid"``: :math:`\\ell(z, y) = \\sigma(-y z) = 1 / (1 + e^{y z})`, bounded in
  [0, 1] (Kiryo et al. use it in their experiments);
* ``"logistic"``: :math:`\\ell(z, y) = \\log(1 + e^{-y z})` (softplus), the binary
  cross-entropy in nats.

Empirical risks, each a (weighted) mean over one set:

.. math::

    R_p^+ = \\langle \\ell(z, +1) \\rangle_{P}, \\quad
    R_p^- = \\langle \\ell(z, -1) \\rangle_{P}, \\quad
    R_u^- = \\langle \\ell(z, -1) \\rangle_{U}.

Because :math:`(1 - \\pi) E_-[\\ell(z,-1)] = E_u[\\ell(z,-1)] - \\pi E_+[\\ell(z,-1)]`,
the classification risk on the unlabeled distribution is estimated without negatives by

* **uPU** (unbiased, du Plessis et al. 2015): :math:`R = \\pi R_p^+ + R_u^- - \\pi R_p^-`;
* **nnPU** (non-negative, Kiryo et al. 2017):
  :math:`R = \\pi R_p^+ + \\max(0,\\, R_u^- - \\pi R_p^-)`. The negative part estimates
  :math:`(1-\\pi) E_-[\\ell] \\ge 0`; a flexible model drives the uPU estimate below 0 and
  overfits, nnPU clips it.

Training follows Algorithm 1 of Kiryo et al.: with :math:`r = R_u^- - \\pi R_p^-`,
if :math:`r \\ge -\\beta` the loss to back-propagate is :math:`\\pi R_p^+ + r`
(ordinary descent on the uPU risk); if :math:`r < -\\beta` it is :math:`-\\gamma r`,
i.e. *gradient ascent* on the negative part, which pushes the unlabeled logits back up
(towards "particle") until the negative risk is non-negative again. :func:`nn_pu_loss`
returns that loss together with the nnPU risk for logging.

Per-example weights (``weights_pos``, ``weights_unl``) turn the means into weighted means
:math:`\\sum w_i \\ell_i / \\sum w_i`. A weight of 0 marks an example as "uncertain": it
has no effect on the loss or its gradient.

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
R. Kiryo, G. Niu, M. C. du Plessis, M. Sugiyama, "Positive-Unlabeled Learning with
Non-Negative Risk Estimator", NeurIPS 2017.
M. C. du Plessis, G. Niu, M. Sugiyama, "Convex formulation for learning from positive and
unlabeled data", ICML 2015.
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

__all__ = [
    "estimate_prior",
    "fit_prior_logistic",
    "nn_pu_loss",
    "pu_risk_unbiased",
    "pu_risks",
]

LossName = Literal["sigmoid", "logistic"]


def _check_prior(prior: float) -> float:
    prior = float(prior)
    if not (0.0 < prior < 1.0):  # also rejects NaN
        raise ValueError(f"prior must lie strictly between 0 and 1, got {prior}")
    return prior


def _surrogate(z: torch.Tensor, y: int, loss: str) -> torch.Tensor:
    """Per-example loss ``l(z, y)`` for label ``y = +1`` or ``-1``."""
    if loss == "sigmoid":
        return torch.sigmoid(-y * z)
    if loss == "logistic":
        return F.softplus(-y * z)
    raise ValueError(f"loss must be 'sigmoid' or 'logistic', got {loss!r}")


def _weighted_mean(
    values: torch.Tensor, weights: torch.Tensor | None, name: str
) -> torch.Tensor:
    if weights is None:
        return values.mean()
    if weights.shape != values.shape:
        raise ValueError(
            f"{name} has shape {tuple(weights.shape)}, the logits {tuple(values.shape)}"
        )
    w = weights.to(values.dtype)
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise ValueError(f"{name} must be finite and non-negative")
    total = w.detach().sum()
    if float(total) <= 0.0:
        raise ValueError(f"{name} sums to 0: every example is marked uncertain")
    return (w * values).sum() / w.sum()


def _check_logits(logits: torch.Tensor, name: str) -> None:
    if logits.numel() == 0:
        raise ValueError(f"{name} is empty: need at least one example")


def pu_risks(
    logits_pos: torch.Tensor,
    logits_unl: torch.Tensor,
    *,
    weights_pos: torch.Tensor | None = None,
    weights_unl: torch.Tensor | None = None,
    loss: LossName = "sigmoid",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The three empirical risks ``(R_p^+, R_p^-, R_u^-)`` (module docstring).

    Parameters
    ----------
    logits_pos, logits_unl
        Logits of the labeled (positive) and unlabeled examples, any shape.
    weights_pos, weights_unl
        Optional non-negative weights of the same shapes; 0 = ignored.
    loss
        ``"sigmoid"`` or ``"logistic"``.

    Returns
    -------
    tuple of torch.Tensor
        Scalars ``R_p^+``, ``R_p^-``, ``R_u^-``, differentiable.
    """
    _check_logits(logits_pos, "logits_pos")
    _check_logits(logits_unl, "logits_unl")
    r_p_plus = _weighted_mean(
        _surrogate(logits_pos, 1, loss), weights_pos, "weights_pos"
    )
    r_p_minus = _weighted_mean(
        _surrogate(logits_pos, -1, loss), weights_pos, "weights_pos"
    )
    r_u_minus = _weighted_mean(
        _surrogate(logits_unl, -1, loss), weights_unl, "weights_unl"
    )
    return r_p_plus, r_p_minus, r_u_minus


def pu_risk_unbiased(
    logits_pos: torch.Tensor,
    logits_unl: torch.Tensor,
    prior: float,
    *,
    weights_pos: torch.Tensor | None = None,
    weights_unl: torch.Tensor | None = None,
    loss: LossName = "sigmoid",
) -> torch.Tensor:
    """uPU risk ``pi R_p^+ + R_u^- - pi R_p^-`` (du Plessis et al. 2015); can go below 0.

    Parameters are those of :func:`nn_pu_loss`. Returns a differentiable scalar.
    """
    prior = _check_prior(prior)
    r_pp, r_pm, r_um = pu_risks(
        logits_pos,
        logits_unl,
        weights_pos=weights_pos,
        weights_unl=weights_unl,
        loss=loss,
    )
    return prior * r_pp + r_um - prior * r_pm


def nn_pu_loss(
    logits_pos: torch.Tensor,
    logits_unl: torch.Tensor,
    prior: float,
    *,
    beta: float = 0.0,
    gamma: float = 1.0,
    loss: LossName = "sigmoid",
    weights_pos: torch.Tensor | None = None,
    weights_unl: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-negative PU loss (Kiryo et al. 2017, Algorithm 1).

    Parameters
    ----------
    logits_pos
        Logits of labeled particles (any shape, at least one element).
    logits_unl
        Logits of unlabeled examples (particles and background mixed).
    prior
        Fraction of particles among the unlabeled examples, in (0, 1).
    beta
        Tolerance >= 0: the correction starts when the negative risk
        ``r = R_u^- - prior R_p^-`` falls below ``-beta``.
    gamma
        Step factor > 0 of the gradient ascent on ``r`` when the correction is active.
    loss
        Surrogate: ``"sigmoid"`` (default, as in the paper) or ``"logistic"``.
    weights_pos, weights_unl
        Optional non-negative per-example weights with the logits' shapes; 0 marks an
        example as uncertain (no effect). Each must have a positive sum.

    Returns
    -------
    loss_for_backward : torch.Tensor
        ``prior R_p^+ + r`` if ``r >= -beta``, else ``-gamma r``. Call ``.backward()``.
    risk : torch.Tensor
        The nnPU risk ``prior R_p^+ + max(0, r)``, detached, for logging.

    Raises
    ------
    ValueError
        Prior outside (0, 1), ``beta < 0``, ``gamma <= 0``, an empty tensor, weights of
        the wrong shape, negative, or all zero, or an unknown loss name.
    """
    prior = _check_prior(prior)
    if not (beta >= 0.0):
        raise ValueError(f"beta must be >= 0, got {beta}")
    if not (gamma > 0.0):
        raise ValueError(f"gamma must be > 0, got {gamma}")
    r_pp, r_pm, r_um = pu_risks(
        logits_pos,
        logits_unl,
        weights_pos=weights_pos,
        weights_unl=weights_unl,
        loss=loss,
    )
    positive = prior * r_pp
    negative = r_um - prior * r_pm
    risk = (positive + torch.clamp(negative, min=0.0)).detach()
    if float(negative.detach()) < -beta:
        return -gamma * negative, risk
    return positive + negative, risk


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
