"""Picks judged from files: the match radius rule and the messages' order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.evaluation.job import EvaluateJob, evaluate_files, match_radius_px
from cryopick.io.coords import write_coords
from cryopick.io.picks import make_picks


def test_the_match_radius_is_the_flag_then_the_diameter_then_the_tables() -> None:
    truth = make_picks("m", [1.0, 2.0, 3.0], [1.0] * 3, diameter_px=[20.0, 0.0, 24.0])
    picks = make_picks("m", [1.0], [1.0], diameter_px=[50.0])
    assert match_radius_px(7.0, 150.0, 3.0, [], truth, picks) == 7.0
    assert match_radius_px(None, 150.0, 3.0, [], truth, picks) == 25.0
    assert match_radius_px(None, None, None, [], truth, picks) == 11.0  # the truth's positive diameters: 20, 24
    no_size = make_picks("m", [1.0], [1.0])
    assert match_radius_px(None, None, None, [], no_size, picks) == 25.0
    with pytest.raises(CryopickError, match="cannot tell the particle size"):
        match_radius_px(None, None, None, [], no_size, no_size)
    with pytest.raises(CryopickError, match="pixel size is unknown"):
        match_radius_px(None, 150.0, None, [], truth, picks)


def test_the_metrics_are_shown_before_the_report_is_written(tmp_path: Path) -> None:
    truth = make_picks("m", np.arange(5.0) * 40 + 20, [30.0] * 5, score=1.0, diameter_px=20.0)
    write_coords(truth, tmp_path / "truth.star")
    blocker = tmp_path / "results"
    blocker.write_text("a file where the report folder should go")
    shown: list[float] = []
    with pytest.raises(OSError):
        evaluate_files(EvaluateJob(tmp_path / "truth.star", tmp_path / "truth.star", out=blocker / "report"),
                       show=lambda result: shown.append(result.f1))
    assert shown == [1.0]


def test_dose_weighted_names_match_their_micrographs(tmp_path: Path) -> None:
    """Truth named mic_0000_DW, picks named mic_0000 and micrographs mic_0000.mrc: one dataset, not a mismatch."""
    from cryopick.io.micrographs import write_mrc

    write_mrc(tmp_path / "mic_0000.mrc", np.zeros((120, 260), np.float32), 2.0)
    picks = make_picks("mic_0000", np.arange(5.0) * 40 + 20, [30.0] * 5, score=1.0, diameter_px=20.0)
    truth = make_picks("mic_0000_DW", np.arange(5.0) * 40 + 21, [31.0] * 5, score=1.0, diameter_px=20.0)
    write_coords(picks, tmp_path / "picks.star")
    write_coords(truth, tmp_path / "truth.star")
    for micrographs in (None, tmp_path / "mic_0000.mrc"):
        job = EvaluateJob(tmp_path / "picks.star", tmp_path / "truth.star", micrographs=micrographs)
        assert evaluate_files(job, show=lambda result: None).f1 == 1.0


def test_flip_y_mirrors_the_picks_and_needs_the_micrographs(tmp_path: Path) -> None:
    from cryopick.io.micrographs import write_mrc

    write_mrc(tmp_path / "m.mrc", np.zeros((120, 260), np.float32), 2.0)  # 120 rows
    truth = make_picks("m", np.arange(5.0) * 40 + 20, [30.0] * 5, score=1.0, diameter_px=20.0)
    flipped = make_picks("m", np.arange(5.0) * 40 + 20, [119.0 - 30.0] * 5, score=1.0, diameter_px=20.0)
    write_coords(truth, tmp_path / "truth.star")
    write_coords(flipped, tmp_path / "flipped.star")
    plain = EvaluateJob(tmp_path / "flipped.star", tmp_path / "truth.star", micrographs=(str(tmp_path / "m.mrc"),))
    assert evaluate_files(plain).f1 == 0.0
    assert evaluate_files(EvaluateJob(**{**plain.__dict__, "flip_y": True})).f1 == 1.0
    write_coords(flipped.assign(micrograph="m_DW"), tmp_path / "flipped_dw.star")  # flipped after names are matched
    dose_weighted = EvaluateJob(tmp_path / "flipped_dw.star", tmp_path / "truth.star", micrographs=plain.micrographs)
    assert evaluate_files(EvaluateJob(**{**dose_weighted.__dict__, "flip_y": True})).f1 == 1.0
    with pytest.raises(CryopickError, match="flip-y"):
        evaluate_files(EvaluateJob(tmp_path / "flipped.star", tmp_path / "truth.star", flip_y=True))


def test_flipped_picks_warn_with_the_fix(tmp_path: Path) -> None:
    """Issue 17: picks with y counted from the bottom scored F1 0.14 without a word."""
    from cryopick.io.micrographs import write_mrc

    rng = np.random.default_rng(0)
    write_mrc(tmp_path / "m.mrc", np.zeros((400, 700), np.float32), 2.0)
    x, y = rng.uniform(20, 680, 40), rng.uniform(20, 380, 40)
    write_coords(make_picks("m", x, y, 1.0, 20.0), tmp_path / "truth.star")
    write_coords(make_picks("m", x, 399.0 - y, rng.uniform(0.5, 1, 40), 20.0), tmp_path / "flipped.star")
    said: list[str] = []
    job = EvaluateJob(tmp_path / "flipped.star", tmp_path / "truth.star", micrographs=(str(tmp_path / "m.mrc"),))
    evaluate_files(job, say=said.append)
    assert len(said) == 1 and "fix: pass --flip-y" in said[0]
    said.clear()
    assert evaluate_files(EvaluateJob(**{**job.__dict__, "flip_y": True}), say=said.append).f1 == 1.0
    assert said == []
