"""cryopick.runs.picking: a pick run's options checked up front, what it keeps, and a whole run through the library."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cryopick.errors import CryopickError
from cryopick.io.coords import read_coords
from cryopick.io.picks import make_picks
from cryopick.pickers.base import PickRequest
from cryopick.runs.job import Skipped
from cryopick.runs.picking import Gathered, PickJob, Reporter, run_picking
from cryopick.runs.state import MicrographResult
from cryopick.simulate import SimulationConfig, simulate_dataset


def test_contradicting_options_fail_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(CryopickError, match="--all-peaks and --threshold contradict"):
        PickJob(["m.mrc"], tmp_path / "p.star", request=PickRequest(threshold=0.5, all_peaks=True))
    with pytest.raises(CryopickError, match="--threads must be at least 1"):
        PickJob(["m.mrc"], tmp_path / "p.star", threads=0)
    with pytest.raises(CryopickError, match="unknown method"):
        PickJob(["m.mrc"], tmp_path / "p.star", method="magic")


def test_gathered_keeps_picks_above_the_threshold_and_every_score() -> None:
    gathered = Gathered(threshold=0.5, all_peaks=False)
    picks = make_picks("a", np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]), np.array([0.9, 0.5, 0.2]), 10.0)
    gathered.add(MicrographResult("a.mrc", "a", (10, 12), 2.0, picks))
    gathered.add(Skipped("b.mrc", "b", "b.mrc: bad"))
    assert gathered.picks()["score"].tolist() == [0.9, 0.5]
    assert gathered.scores["a"].tolist() == [0.9, 0.5, 0.2] and gathered.shapes == {"a": (10, 12)}
    assert [s.name for s in gathered.skipped] == ["b"] and gathered.every_candidate().empty


def test_a_log_run_through_the_library_writes_what_it_reports(tmp_path: Path) -> None:
    simulate_dataset(tmp_path / "sim", SimulationConfig.with_presets(n_micrographs=2, shape=(320, 384), apix=2.0,
                                                                      seed=5))
    lines: list[str] = []
    job = PickJob([str(tmp_path / "sim" / "micrographs")], tmp_path / "picks.star", diameter_A=120.0, method="log",
                  truth=tmp_path / "sim" / "truth.star")
    outcome = run_picking(job, Reporter(say=lines.append))
    written = read_coords(tmp_path / "picks.star")
    assert outcome.written == [tmp_path / "picks.star"] and len(written) == len(outcome.picks) > 5
    assert outcome.n_picked == 2 and not outcome.skipped
    assert outcome.summary.n_candidates >= outcome.summary.n_picked == len(outcome.picks)
    assert outcome.summary.n_truth > 0 and outcome.summary.best_f1 > 0.5  # judged against the truth
    assert isinstance(outcome.picks, pd.DataFrame) and (outcome.picks["score"] >= outcome.plan.threshold).all()
