"""Tests for cryopick.pickers.fcn.pu: the nnPU loss with known answers, and why PU matters.

The class-prior estimators (cryopick.pickers.fcn.pu_prior) are tested in test_pu_prior.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cryopick.pickers.fcn.pu import nn_pu_loss, pu_risk_unbiased
from cryopick.pickers.fcn.pu_prior import fit_prior_logistic
from tests.pickers.fcn.conftest import _mixture


def _sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _f(x: torch.Tensor) -> float:
    return float(x.detach())


def _t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


# Case where the negative-risk estimate is positive (no correction).
POS_A, UNL_A, PRIOR_A = [0.0, 2.0], [-1.0, 1.0, 3.0], 0.4
# Case where unlabeled logits are very negative: the uPU negative risk goes below 0.
POS_B, UNL_B, PRIOR_B = [3.0, 4.0], [-4.0, -3.0, -5.0], 0.5


def _hand_risks(
    pos: list[float], unl: list[float], loss: str
) -> tuple[float, float, float]:
    if loss == "sigmoid":
        lp = [_sig(-z) for z in pos]  # l(z, +1) = sigmoid(-z)
        lm = [_sig(z) for z in pos]  # l(z, -1) = sigmoid(z)
        lu = [_sig(z) for z in unl]
    else:
        lp = [math.log1p(math.exp(-z)) for z in pos]
        lm = [math.log1p(math.exp(z)) for z in pos]
        lu = [math.log1p(math.exp(z)) for z in unl]
    return sum(lp) / len(lp), sum(lm) / len(lm), sum(lu) / len(lu)


# ---------------------------------------------------------------------------- (a) formula


@pytest.mark.parametrize("loss", ["sigmoid", "logistic"])
def test_loss_matches_hand_formula_without_correction(loss: str) -> None:
    rpp, rpm, rum = _hand_risks(POS_A, UNL_A, loss)
    negative = rum - PRIOR_A * rpm
    assert negative > 0  # precondition of this case
    expected = PRIOR_A * rpp + negative
    out, risk = nn_pu_loss(_t(POS_A), _t(UNL_A), PRIOR_A, loss=loss)
    assert _f(out) == pytest.approx(expected, rel=1e-12)
    assert float(risk) == pytest.approx(expected, rel=1e-12)
    upu = pu_risk_unbiased(_t(POS_A), _t(UNL_A), PRIOR_A, loss=loss)
    assert _f(upu) == pytest.approx(expected, rel=1e-12)


def test_correction_kicks_in_exactly_below_minus_beta() -> None:
    rpp, rpm, rum = _hand_risks(POS_B, UNL_B, "sigmoid")
    negative = rum - PRIOR_B * rpm
    assert negative == pytest.approx(-0.4598, abs=1e-3)  # hand value
    nn_risk = PRIOR_B * rpp  # max(0, negative) = 0
    upu = PRIOR_B * rpp + negative

    # beta slightly smaller than |negative|: negative < -beta -> correction, -gamma*negative
    out, risk = nn_pu_loss(
        _t(POS_B), _t(UNL_B), PRIOR_B, beta=-negative - 1e-9, gamma=2.0
    )
    assert _f(out) == pytest.approx(-2.0 * negative, rel=1e-12)
    assert float(risk) == pytest.approx(nn_risk, rel=1e-12)
    assert not risk.requires_grad

    # beta slightly larger: no correction, the loss is the uPU risk (may be negative)
    out, risk = nn_pu_loss(
        _t(POS_B), _t(UNL_B), PRIOR_B, beta=-negative + 1e-9, gamma=2.0
    )
    assert _f(out) == pytest.approx(upu, rel=1e-12)
    assert _f(out) < 0
    # the logged risk is always the nnPU one
    assert float(risk) == pytest.approx(nn_risk, rel=1e-12)

    # uPU itself goes below zero here, which nnPU exists to prevent
    assert _f(pu_risk_unbiased(_t(POS_B), _t(UNL_B), PRIOR_B)) == pytest.approx(upu)


def test_gradient_sign_flips_under_correction() -> None:
    gamma = 2.0
    zp, zu = _t(POS_B), _t(UNL_B)
    out, _ = nn_pu_loss(zp, zu, PRIOR_B, beta=0.0, gamma=gamma)
    out.backward()
    zp2, zu2 = _t(POS_B), _t(UNL_B)
    pu_risk_unbiased(zp2, zu2, PRIOR_B).backward()

    dsig = [_sig(z) * (1 - _sig(z)) for z in UNL_B]
    # loss = -gamma (mean sigmoid(z_u) - pi mean sigmoid(z_p)): d/dz_u = -gamma s'(z_u)/n_u
    expected_u = [-gamma * d / len(UNL_B) for d in dsig]
    assert zu.grad is not None and zu2.grad is not None
    assert zu.grad.tolist() == pytest.approx(expected_u, rel=1e-12)
    # uPU descends (pushes unlabeled logits down); nnPU ascends (pushes them back up)
    assert bool((zu.grad < 0).all()) and bool((zu2.grad > 0).all())
    dsig_p = [_sig(z) * (1 - _sig(z)) for z in POS_B]
    expected_p = [gamma * PRIOR_B * d / len(POS_B) for d in dsig_p]
    assert zp.grad is not None
    assert zp.grad.tolist() == pytest.approx(expected_p, rel=1e-12)


def test_without_correction_gradient_equals_upu() -> None:
    zp, zu = _t(POS_A), _t(UNL_A)
    nn_pu_loss(zp, zu, PRIOR_A)[0].backward()
    zp2, zu2 = _t(POS_A), _t(UNL_A)
    pu_risk_unbiased(zp2, zu2, PRIOR_A).backward()
    assert zp.grad is not None and zp2.grad is not None
    assert zu.grad is not None and zu2.grad is not None
    assert torch.allclose(zp.grad, zp2.grad) and torch.allclose(zu.grad, zu2.grad)


@pytest.mark.parametrize(
    ("pos", "unl", "prior"), [(POS_A, UNL_A, PRIOR_A), (POS_B, UNL_B, PRIOR_B)]
)
def test_zero_weight_examples_have_no_effect(
    pos: list[float], unl: list[float], prior: float
) -> None:
    zp, zu = _t(pos), _t(unl)
    ref, ref_risk = nn_pu_loss(zp, zu, prior)
    ref.backward()
    # append wildly wrong "uncertain" examples with weight 0
    zp2, zu2 = _t([*pos, -9.0]), _t([*unl, 9.0, 7.0])
    wp = torch.tensor([1.0] * len(pos) + [0.0], dtype=torch.float64)
    wu = torch.tensor([1.0] * len(unl) + [0.0, 0.0], dtype=torch.float64)
    out, risk = nn_pu_loss(zp2, zu2, prior, weights_pos=wp, weights_unl=wu)
    out.backward()
    assert _f(out) == pytest.approx(_f(ref), rel=1e-12)
    assert float(risk) == pytest.approx(_f(ref_risk), rel=1e-12)
    assert zp.grad is not None and zp2.grad is not None
    assert zu.grad is not None and zu2.grad is not None
    assert torch.allclose(zp2.grad[: len(pos)], zp.grad)
    assert torch.allclose(zu2.grad[: len(unl)], zu.grad)
    assert _f(zp2.grad[-1]) == 0.0 and bool((zu2.grad[len(unl) :] == 0).all())


def test_integer_weights_equal_duplicated_examples() -> None:
    w = torch.tensor([2.0, 1.0, 3.0], dtype=torch.float64)
    weighted = pu_risk_unbiased(_t(POS_A), _t(UNL_A), PRIOR_A, weights_unl=w)
    dup = [UNL_A[0]] * 2 + [UNL_A[1]] + [UNL_A[2]] * 3
    assert _f(weighted) == pytest.approx(
        _f(pu_risk_unbiased(_t(POS_A), _t(dup), PRIOR_A))
    )


# ------------------------------------------------------------ (c) why PU matters


def _train_linear(
    x_pos: np.ndarray, x_unl: np.ndarray, prior: float | None, steps: int = 300
) -> torch.nn.Linear:
    """nnPU (``prior`` given) or naive PN (``None``: unlabeled treated as negative)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1).double()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    xp = torch.as_tensor(x_pos)
    xu = torch.as_tensor(x_unl)
    for _ in range(steps):
        opt.zero_grad()
        zp, zu = model(xp).squeeze(1), model(xu).squeeze(1)
        if prior is None:
            logits = torch.cat([zp, zu])
            target = torch.cat([torch.ones_like(zp), torch.zeros_like(zu)])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
        else:
            loss, _ = nn_pu_loss(zp, zu, prior)
        loss.backward()
        opt.step()
    return model


def test_nnpu_beats_naive_pn_on_recall() -> None:
    rng = np.random.default_rng(7)
    true_prior = 0.3
    lab, unl, _ = _mixture(rng, true_prior)
    prior = fit_prior_logistic(lab, unl, rng)  # estimated, not given
    _, x_test, y_test = _mixture(np.random.default_rng(99), true_prior)  # clean labels

    def scores(model: torch.nn.Linear) -> tuple[float, float]:
        with torch.no_grad():
            pred = (model(torch.as_tensor(x_test)).squeeze(1) > 0).numpy()
        acc = float((pred == (y_test == 1)).mean())
        recall = float(pred[y_test == 1].mean())
        return acc, recall

    acc_pu, rec_pu = scores(_train_linear(lab, unl, prior))
    _acc_pn, rec_pn = scores(_train_linear(lab, unl, None))
    assert acc_pu >= 0.95 and rec_pu >= 0.95, (acc_pu, rec_pu)
    # unlabeled particles outnumber labeled ones 4:1, so PN learns "unlabeled = background"
    assert rec_pn <= rec_pu - 0.3, (rec_pn, rec_pu)


# --------------------------------------------------------------------- (d) bad inputs


@pytest.mark.parametrize("prior", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_bad_prior_raises(prior: float) -> None:
    with pytest.raises(ValueError, match="prior must lie strictly between 0 and 1"):
        nn_pu_loss(_t(POS_A), _t(UNL_A), prior)
    with pytest.raises(ValueError, match="prior must lie strictly between 0 and 1"):
        pu_risk_unbiased(_t(POS_A), _t(UNL_A), prior)


def test_bad_tensors_and_weights_raise() -> None:
    empty = torch.zeros(0, dtype=torch.float64)
    with pytest.raises(ValueError, match="logits_pos is empty"):
        nn_pu_loss(empty, _t(UNL_A), 0.3)
    with pytest.raises(ValueError, match="logits_unl is empty"):
        nn_pu_loss(_t(POS_A), empty, 0.3)
    with pytest.raises(ValueError, match="weights_unl sums to 0"):
        nn_pu_loss(_t(POS_A), _t(UNL_A), 0.3, weights_unl=torch.zeros(3))
    with pytest.raises(ValueError, match="weights_pos has shape"):
        nn_pu_loss(_t(POS_A), _t(UNL_A), 0.3, weights_pos=torch.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        nn_pu_loss(_t(POS_A), _t(UNL_A), 0.3, weights_pos=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="beta must be >= 0"):
        nn_pu_loss(_t(POS_A), _t(UNL_A), 0.3, beta=-0.1)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        nn_pu_loss(_t(POS_A), _t(UNL_A), 0.3, gamma=0.0)
    with pytest.raises(ValueError, match="loss must be"):
        nn_pu_loss(_t(POS_A), _t(UNL_A), 0.3, loss="hinge")  # type: ignore[arg-type]

