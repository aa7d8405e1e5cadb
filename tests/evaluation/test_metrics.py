"""Tests for cryopick.evaluation.metrics: one-to-one matching and the metrics built on it."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from cryopick.errors import CryopickError
from cryopick.evaluation.metrics import average_precision, evaluate, pr_curve
from cryopick.io.picks import empty_picks, make_picks

# ------------------------------------------------------------------------- evaluate


def _truth(n_mics: int = 3, n: int = 40, seed: int = 0, size: float = 1000.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    mics = np.repeat([f"mic_{i:03d}" for i in range(n_mics)], n)
    return make_picks(mics, rng.uniform(0, size, n * n_mics), rng.uniform(0, size, n * n_mics), diameter_px=20.0)


@pytest.mark.parametrize("with_scores", [False, True])
def test_truth_against_itself_is_perfect(with_scores):
    truth = _truth()
    picks = truth.copy()
    if with_scores:
        picks["score"] = np.random.default_rng(3).random(len(picks))
    result = evaluate(picks, truth, 10.0)
    for value in (result.precision, result.recall, result.f1, result.average_precision, result.best_f1):
        assert value == 1.0
    assert result.n_matched == result.n_truth == result.n_picks == len(truth)
    assert result.mean_distance_px == 0.0
    assert (result.per_micrograph["f1"] == 1.0).all()


def test_hand_computed_small_case():
    truth = make_picks("m", [0.0, 100.0, 200.0], [0.0, 0.0, 0.0])
    picks = make_picks("m", [3.0, 100.0], [4.0, 50.0])  # second pick is 50 px away from everything
    result = evaluate(picks, truth, 10.0)
    assert (result.n_picks, result.n_truth, result.n_matched) == (2, 3, 1)
    assert result.precision == pytest.approx(0.5)
    assert result.recall == pytest.approx(1 / 3)
    assert result.f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert result.mean_distance_px == pytest.approx(5.0)
    # Unscored picks: one curve point, AP = P * R there.
    assert len(result.curve) == 1 and math.isnan(result.curve["threshold"].iloc[0])
    assert result.average_precision == pytest.approx(0.5 / 3)


def test_two_picks_near_one_truth_give_one_tp_one_fp():
    result = evaluate(make_picks("m", [1.0, -1.0], [0.0, 0.0]), make_picks("m", [0.0], [0.0]), 5.0)
    assert (result.n_matched, result.n_picks) == (1, 2)
    assert result.precision == 0.5 and result.recall == 1.0


def test_average_precision_hand_example():
    truth = make_picks("m", [0.0, 100.0, 200.0, 300.0], [0.0] * 4)
    # Scores descending: TP, FP, TP, FP, TP -> P_k = 1, 1/2, 2/3, 2/4, 3/5 ; recall steps at k=1,3,5.
    picks = make_picks("m", [0.0, 50.0, 100.0, 150.0, 200.0], [0.0] * 5, score=[0.9, 0.8, 0.7, 0.6, 0.5])
    result = evaluate(picks, truth, 5.0)
    expected = (1.0 + 2 / 3 + 3 / 5) / 4
    assert result.average_precision == pytest.approx(expected)
    assert result.curve["threshold"].tolist() == [0.9, 0.8, 0.7, 0.6, 0.5]
    assert result.curve["recall"].tolist() == pytest.approx([0.25, 0.25, 0.5, 0.5, 0.75])
    f1 = [2 * 1 / (1 + 4), 2 * 1 / (2 + 4), 2 * 2 / (3 + 4), 2 * 2 / (4 + 4), 2 * 3 / (5 + 4)]
    assert result.curve["f1"].tolist() == pytest.approx(f1)
    assert result.best_f1 == pytest.approx(max(f1)) and result.best_threshold == 0.5
    assert average_precision(result.curve) == pytest.approx(expected)  # from recall alone too


def test_threshold_judges_only_high_scores_but_curve_uses_all():
    truth = make_picks("m", [0.0, 100.0], [0.0, 0.0])
    picks = make_picks("m", [0.0, 100.0, 50.0], [0.0, 0.0, 0.0], score=[0.9, 0.2, 0.8])
    result = evaluate(picks, truth, 5.0, threshold=0.5)
    assert (result.n_picks, result.n_matched) == (2, 1)
    assert result.precision == 0.5 and result.recall == 0.5
    assert result.curve["n_picks"].tolist() == [1, 2, 3]
    assert result.curve["recall"].iloc[-1] == 1.0
    # F1 = 2TP / (picks + truth): 2/3 at 0.9, 2/4 at 0.8, 4/5 at 0.2.
    assert result.curve["f1"].tolist() == pytest.approx([2 / 3, 0.5, 0.8])
    assert result.best_threshold == pytest.approx(0.2) and result.best_f1 == pytest.approx(0.8)


def test_lowering_threshold_never_unmatches_and_curve_equals_thresholded_evaluations():
    rng = np.random.default_rng(5)
    truth = make_picks("m", rng.uniform(0, 200, 40), rng.uniform(0, 200, 40))
    picks = make_picks("m", rng.uniform(0, 200, 60), rng.uniform(0, 200, 60), score=rng.integers(0, 12, 60))
    result = evaluate(picks, truth, 15.0)
    recall = result.curve["recall"].to_numpy()
    assert np.all(np.diff(recall) >= 0) and np.all(np.diff(result.curve["threshold"]) < 0)
    for thr, n_matched in zip(result.curve["threshold"], result.curve["n_matched"]):
        assert evaluate(picks, truth, 15.0, threshold=thr).n_matched == n_matched


def test_jitter_within_radius_matches_and_beyond_does_not():
    truth = _truth(n_mics=2, n=30, seed=7, size=3000.0)
    rng = np.random.default_rng(8)
    angle = rng.uniform(0, 2 * np.pi, len(truth))
    for dist, expected in ((9.0, 1.0), (11.0, 0.0)):
        picks = truth.copy()
        picks["x"] += dist * np.cos(angle)
        picks["y"] += dist * np.sin(angle)
        assert evaluate(picks, truth, 10.0).recall == expected


def test_same_coordinates_in_other_micrographs_never_match():
    truth = make_picks(["a", "a"], [10.0, 50.0], [10.0, 50.0])
    picks = make_picks(["b", "b", "a"], [10.0, 50.0, 50.0], [10.0, 50.0, 50.0])
    result = evaluate(picks, truth, 5.0)
    assert result.n_matched == 1 and result.precision == pytest.approx(1 / 3)
    table = result.per_micrograph.set_index("micrograph")
    assert table.loc["b", "n_matched"] == 0 and table.loc["b", "n_truth"] == 0


def test_per_micrograph_table_lists_every_micrograph():
    truth = make_picks(["a", "a", "c"], [0.0, 100.0, 0.0], [0.0, 0.0, 0.0])
    picks = make_picks(["a", "a", "b"], [2.0, 300.0, 0.0], [0.0, 0.0, 0.0])
    result = evaluate(picks, truth, 5.0)
    table = result.per_micrograph
    assert table["micrograph"].tolist() == ["a", "b", "c"]
    assert table["n_picks"].tolist() == [2, 1, 0]
    assert table["n_truth"].tolist() == [2, 0, 1]
    assert table["n_matched"].tolist() == [1, 0, 0]
    assert table["precision"].tolist() == [0.5, 0.0, 0.0]
    assert table["recall"].tolist() == [0.5, 0.0, 0.0]
    assert table["f1"].tolist() == pytest.approx([0.5, 0.0, 0.0])
    assert table["mean_distance_px"].iloc[0] == pytest.approx(2.0)
    assert table["mean_distance_px"].iloc[1:].isna().all()
    assert (result.n_picks, result.n_truth, result.n_matched) == (3, 3, 1)


def test_to_dict_is_json_and_round_trips():
    truth = _truth(n_mics=2, n=300, seed=9, size=4000.0)
    rng = np.random.default_rng(10)
    picks = truth.copy()
    picks["score"] = rng.random(len(picks))
    picks.loc[: len(picks) // 2, "x"] += 40.0  # half are far off
    data = evaluate(picks, truth, 10.0, threshold=0.3).to_dict()
    back = json.loads(json.dumps(data, allow_nan=False))
    assert back == data
    assert back["threshold"] == 0.3 and back["n_truth"] == 600
    assert 3 <= len(back["curve"]["threshold"]) <= 200
    assert back["best_f1"] == pytest.approx(max(back["curve"]["f1"]))
    assert {r["micrograph"] for r in back["per_micrograph"]} == {"mic_000", "mic_001"}


def test_no_picks_gives_zero_metrics():
    result = evaluate(empty_picks(), _truth(n_mics=1, n=5), 10.0)
    assert (result.precision, result.recall, result.f1, result.average_precision, result.best_f1) == (0, 0, 0, 0, 0)
    assert result.n_picks == 0 and len(result.curve) == 0 and math.isnan(result.best_threshold)
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["best_threshold"] is None and data["per_micrograph"][0]["n_truth"] == 5


def test_errors_name_the_problem():
    truth = _truth(n_mics=1, n=3)
    with pytest.raises(CryopickError, match="no particles"):
        evaluate(truth, empty_picks(), 10.0)
    for bad in (0, -3.0, float("inf")):
        with pytest.raises(CryopickError, match="radius"):
            evaluate(truth, truth, bad)
    with pytest.raises(CryopickError, match="no scores"):
        evaluate(truth, truth, 10.0, threshold=0.5)


def test_mixed_nan_scores_rank_last():
    curve = pr_curve(np.array([0.5, np.nan, 0.9]), np.array([True, True, False]), 2)
    assert curve["n_picks"].tolist() == [1, 2, 3]
    assert curve["threshold"].iloc[:2].tolist() == [0.9, 0.5] and math.isnan(curve["threshold"].iloc[2])
    assert curve["n_matched"].tolist() == [0, 1, 2]


def test_a_whole_dataset_of_60000_picks():
    n_mics, n = 200, 300
    truth = _truth(n_mics=n_mics, n=n, seed=11, size=4000.0)
    rng = np.random.default_rng(12)
    picks = truth.copy()
    picks["x"] += rng.normal(0, 4, len(picks))
    picks["y"] += rng.normal(0, 4, len(picks))
    picks["score"] = rng.random(len(picks))
    result = evaluate(picks, truth, 20.0)  # its speed: benchmarks/bench_speed.py
    assert result.recall > 0.99 and len(result.per_micrograph) == n_mics
