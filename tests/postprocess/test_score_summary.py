"""The score summary: histogram, expected particle count, suggested and F1-optimal thresholds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cryopick.errors import CryopickError
from cryopick.io.picks import empty_picks, make_picks
from cryopick.postprocess.score_summary import HISTOGRAM_BINS, format_summary, summarise_scores, with_truth


def _candidates(scores: np.ndarray, names: list[str] | None = None):
    """Candidates 40 px apart along a row (so none match the same true particle)."""
    scores = np.asarray(scores, dtype=np.float64)
    names = names or ["mic_a"] * scores.size
    return make_picks(names, 40.0 * np.arange(scores.size), np.full(scores.size, 50.0), scores, 20.0)


def _two_populations():
    """100 candidates at 0.9 (on mic_a) and 1000 at 0.05 (half on each micrograph)."""
    scores = np.r_[np.full(100, 0.9), np.full(1000, 0.05)]
    names = ["mic_a"] * 600 + ["mic_b"] * 500
    return _candidates(scores, names)


def test_expected_count_is_the_sum_of_probabilities():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 300)
    names = ["mic_a"] * 100 + ["mic_b"] * 200
    summary = summarise_scores(_candidates(scores, names), 0.5)
    assert summary.expected_particles == pytest.approx(scores.sum())
    per_mic = summary.per_micrograph.set_index("micrograph")
    assert per_mic.loc["mic_a", "expected_particles"] == pytest.approx(scores[:100].sum())
    assert per_mic.loc["mic_b", "expected_particles"] == pytest.approx(scores[100:].sum())
    assert per_mic["n_candidates"].tolist() == [100, 200]
    assert per_mic.loc["mic_b", "n_picked"] == int((scores[100:] >= 0.5).sum())
    assert summary.n_candidates == 300 and summary.n_picked == int((scores >= 0.5).sum())
    assert len(summary.counts) == HISTOGRAM_BINS and sum(summary.counts) == 300
    assert summary.bin_edges[0] == 0.0 and summary.bin_edges[-1] == 1.0


def test_suggested_threshold_separates_two_populations():
    summary = summarise_scores(_two_populations(), 0.5, micrographs=["mic_a", "mic_b", "mic_empty"])
    assert summary.expected_particles == pytest.approx(140.0)  # 100 x 0.9 + 1000 x 0.05
    assert 0.05 < summary.suggested_threshold <= 0.9
    # keeping the 100: expected TP 90, precision 0.9, recall 90 / 140, F1 = 180 / 240
    assert summary.expected_precision == pytest.approx(0.9)
    assert summary.expected_recall == pytest.approx(90 / 140)
    assert summary.expected_f1 == pytest.approx(0.75)
    per_mic = summary.per_micrograph.set_index("micrograph")
    assert per_mic.loc["mic_empty"].tolist() == [0, 0, 0.0]  # a micrograph without candidates counts


def test_suggested_threshold_maximises_expected_f1():
    scores = np.random.default_rng(1).beta(0.3, 0.6, 500)
    summary = summarise_scores(_candidates(scores), 0.5)
    total = scores.sum()

    def expected_f1(t: float) -> float:
        kept = scores >= t
        return 2 * scores[kept].sum() / (kept.sum() + total)

    best = max(expected_f1(t) for t in np.unique(scores))
    assert expected_f1(summary.suggested_threshold) == pytest.approx(best)
    assert summary.expected_f1 == pytest.approx(best)


def test_scores_that_are_not_probabilities_give_no_estimates():
    scores = np.random.default_rng(2).normal(2.0, 3.0, 200)  # like the LoG's robust z
    summary = summarise_scores(_candidates(scores), 2.5, calibrated=False)
    assert summary.bin_edges[0] == pytest.approx(scores.min()) and summary.bin_edges[-1] == pytest.approx(scores.max())
    assert sum(summary.counts) == 200
    assert summary.n_picked == int((scores >= 2.5).sum())
    assert summary.expected_particles is None and summary.suggested_threshold is None
    assert summary.per_micrograph["expected_particles"].isna().all()
    lines = format_summary(summary)
    assert any("not calibrated probabilities" in line for line in lines)
    assert not any("suggested" in line for line in lines)


def test_only_the_picks_give_no_estimates():
    summary = summarise_scores(_candidates(np.full(10, 0.9)), 0.8, complete=False)
    assert summary.expected_particles is None and summary.suggested_threshold is None
    assert any("only the picks" in line for line in format_summary(summary))


def test_no_candidates_give_zero_particles_and_no_suggestion():
    summary = summarise_scores(empty_picks(), 0.5, micrographs=["mic_a"])
    assert summary.n_candidates == 0 and summary.expected_particles == 0.0
    assert summary.suggested_threshold is None
    assert format_summary(summary)[-1] == "expected particles: about 0 (0.0 per micrograph, 0-0)"


def _truth_case():
    """10 true particles; 5 strong false candidates, the 10 true ones, 20 weak false ones."""
    true_xy = np.column_stack([100.0 * np.arange(10), np.full(10, 500.0)])
    truth = make_picks("mic_a", true_xy[:, 0], true_xy[:, 1])
    strong_false = make_picks("mic_a", 100.0 * np.arange(5), np.full(5, 100.0), 0.95, 20.0)
    true_hits = make_picks("mic_a", true_xy[:, 0] + 1.0, true_xy[:, 1], np.linspace(0.6, 0.85, 10), 20.0)
    weak_false = make_picks("mic_a", 50.0 * np.arange(20), np.full(20, 900.0), 0.1, 20.0)
    return pd.concat([strong_false, true_hits, weak_false], ignore_index=True), truth


def test_with_truth_finds_the_f1_optimal_threshold():
    candidates, truth = _truth_case()
    summary = with_truth(summarise_scores(candidates, 0.05), candidates, truth, radius_px=10.0)
    assert summary.best_f1_threshold == pytest.approx(0.6)  # all 10 true ones and the 5 strong false ones
    assert summary.best_f1 == pytest.approx(2 * 10 / (15 + 10))
    assert summary.f1_at_threshold == pytest.approx(2 * 10 / (35 + 10))  # every candidate
    assert summary.n_truth == 10
    line = format_summary(summary)[-1]
    assert line == "F1-optimal threshold 0.6, measured against the truth (F1 0.800; F1 at 0.05: 0.444; 10 true particles)"


def test_with_empty_truth_is_an_input_error():
    candidates, _ = _truth_case()
    with pytest.raises(CryopickError, match="no particles"):
        with_truth(summarise_scores(candidates, 0.5), candidates, empty_picks(), radius_px=10.0)


def test_formatted_lines_carry_the_numbers():
    summary = summarise_scores(_two_populations(), 0.5)
    lines = format_summary(summary)
    histogram = lines[:10]
    assert histogram[0] == "0.90-1.00 |###                           | 100"
    assert histogram[-1] == "0.00-0.10 |##############################| 1000"
    assert all("|" in line for line in histogram)
    assert lines[10] == "1100 candidates, 100 picked at threshold 0.5"
    assert lines[11] == "expected particles: about 140 (70.0 per micrograph, 25-115)"
    assert lines[12] == ("suggested threshold 0.9: the best F1 expected if the scores are probabilities "
                         "(expected precision 0.90, recall 0.64)")
    assert format_summary(summary, threshold_from="--threshold")[10].endswith("threshold 0.5 (--threshold)")


def test_to_dict_is_plain_json():
    candidates, truth = _truth_case()
    summary = with_truth(summarise_scores(candidates, 0.5), candidates, truth, radius_px=10.0)
    plain = json.loads(json.dumps(summary.to_dict(), allow_nan=False))
    assert plain["n_candidates"] == 35 and plain["calibrated"] is True
    assert len(plain["histogram"]["bin_edges"]) == HISTOGRAM_BINS + 1
    assert sum(plain["histogram"]["counts"]) == 35
    assert plain["best_f1_threshold"] == pytest.approx(0.6)
    assert plain["per_micrograph"][0]["micrograph"] == "mic_a"
    uncalibrated = summarise_scores(candidates, 0.5, calibrated=False).to_dict()
    assert uncalibrated["expected_particles"] is None
    assert uncalibrated["per_micrograph"][0]["expected_particles"] is None
    json.dumps(uncalibrated, allow_nan=False)
