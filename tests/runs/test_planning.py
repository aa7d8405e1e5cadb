"""cryopick.runs.planning: each picker's threshold rule, and what a resumed run must match."""

from __future__ import annotations

import math

import pytest

from cryopick.errors import CryopickError
from cryopick.pickers.base import PickRequest
from cryopick.pickers.log import KEEP_ALL
from cryopick.runs.planning import fingerprint, plan_log, plan_model


def test_log_scores_every_peak_up_to_its_automatic_cut() -> None:
    plan = plan_log(120.0, PickRequest())
    assert plan.threshold == 2.5 and plan.complete and not plan.calibrated and plan.spec.options.threshold == KEEP_ALL
    above = plan_log(120.0, PickRequest(threshold=4.0))
    assert above.spec.options.threshold == 4.0 and not above.complete and "above the LoG's automatic cut" in above.note
    with pytest.raises(CryopickError, match="needs the particle size"):
        plan_log(None, PickRequest())


def test_the_general_model_needs_a_diameter_and_scores_every_candidate() -> None:
    with pytest.raises(CryopickError, match="needs yours"):
        plan_model(None, None, PickRequest(), "cpu")
    plan = plan_model(None, 120.0, PickRequest(tta=True), "cpu")
    assert plan.spec.kind == "fcn" and plan.calibrated and plan.complete
    assert plan.spec.options.threshold == 0.0 and plan.spec.options.tta
    strict = plan_model(None, 120.0, PickRequest(threshold=0.99), "cpu")
    assert not strict.complete and strict.spec.options.threshold == 0.99 and math.isclose(strict.threshold, 0.99)
    assert plan.model_line.startswith("model: the bundled general model")


def test_fingerprint_ignores_where_and_how_fast_but_not_what() -> None:
    plan = plan_log(120.0, PickRequest())
    a = fingerprint(plan, "1")
    from dataclasses import replace

    moved = replace(plan, spec=replace(plan.spec, device="cuda", threads=7, allow_nonfinite=True, model_path="x"))
    assert fingerprint(moved, "1") == a
    assert fingerprint(plan_log(130.0, PickRequest()), "1") != a
