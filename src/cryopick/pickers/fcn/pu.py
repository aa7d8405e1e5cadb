"""Positive-unlabeled (PU) learning: the unbiased and the non-negative PU risk.

Users label only a fraction of the particles. Everything else on the micrograph is
*unlabeled*: a mix of unlabeled particles and background. This module holds the risks
that learn from that (nnPU); :mod:`cryopick.pickers.fcn.pu_prior` estimates how many
particles there are.

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

The class prior itself, estimated from data, is :mod:`cryopick.pickers.fcn.pu_prior`.

References
----------
R. Kiryo, G. Niu, M. C. du Plessis, M. Sugiyama, "Positive-Unlabeled Learning with
Non-Negative Risk Estimator", NeurIPS 2017.
M. C. du Plessis, G. Niu, M. Sugiyama, "Convex formulation for learning from positive and
unlabeled data", ICML 2015.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

__all__ = [
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
