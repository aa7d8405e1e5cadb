"""Evaluations that look like a mistake (y flipped, names crossed) say so, with the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryopick.evaluation.metrics import evaluate
from cryopick.evaluation.sanity import chance_precision, evaluation_warnings
from cryopick.io.picks import make_picks

SHAPE = (600, 900)  # ny, nx: not square, so a flip is not a transpose


def _truth(rng: np.random.Generator, n: int = 60) -> pd.DataFrame:
    return make_picks("mic", rng.uniform(20, SHAPE[1] - 20, n), rng.uniform(20, SHAPE[0] - 20, n), 1.0, 20.0)


def test_chance_precision_is_the_covered_fraction() -> None:
    rng = np.random.default_rng(0)
    truth = _truth(rng, 200)
    random = make_picks("mic", rng.uniform(0, SHAPE[1], 400), rng.uniform(0, SHAPE[0], 400), 0.5, 20.0)
    expected = chance_precision(random, truth, 10.0, {"mic": SHAPE})
    assert expected == pytest.approx(1 - np.exp(-200 * np.pi * 100 / (600 * 900)))  # 0.11
    assert evaluate(random, truth, 10.0).precision == pytest.approx(expected, abs=0.04)
    many = pd.concat([random] * 20, ignore_index=True)  # one-to-one: at most 200 of 8000 match
    assert chance_precision(many, truth, 10.0, {"mic": SHAPE}) == pytest.approx(200 / 8000)


def test_good_picks_give_no_warning() -> None:
    rng = np.random.default_rng(1)
    truth = _truth(rng)
    picks = truth.assign(x=truth["x"] + 2.0, score=rng.uniform(0.5, 1, len(truth)))
    result = evaluate(picks, truth, 10.0)
    assert evaluation_warnings(result, picks, truth, {"mic": SHAPE}) == []


def test_flipped_picks_are_told_to_pass_flip_y() -> None:
    rng = np.random.default_rng(2)
    truth = _truth(rng)
    flipped = truth.assign(y=SHAPE[0] - 1.0 - truth["y"], score=rng.uniform(0.5, 1, len(truth)))
    result = evaluate(flipped, truth, 10.0)
    (line,) = evaluation_warnings(result, flipped, truth, {"mic": SHAPE})
    assert line.startswith("warning: mirrored in y the picks score F1 1.000") and "fix: pass --flip-y" in line


def test_without_sizes_the_fix_lists_the_usual_mistakes() -> None:
    rng = np.random.default_rng(3)
    truth = _truth(rng)
    random = make_picks("mic", rng.uniform(0, SHAPE[1], 80), rng.uniform(0, SHAPE[0], 80), 0.5, 20.0)
    (line,) = evaluation_warnings(evaluate(random, truth, 10.0), random, truth)
    assert "fix: check that y counts rows from the same edge (--flip-y)" in line and "pixel size" in line


def test_too_few_picks_say_nothing() -> None:
    rng = np.random.default_rng(4)
    truth = _truth(rng)
    random = make_picks("mic", rng.uniform(0, SHAPE[1], 5), rng.uniform(0, SHAPE[0], 5), 0.5, 20.0)
    assert evaluation_warnings(evaluate(random, truth, 10.0), random, truth, {"mic": SHAPE}) == []
