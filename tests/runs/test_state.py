"""cryopick.runs.state: a run's folder (resume from its parts, settings, the lock) and a finished run's candidates.

The resume tests run `cryopick pick` as a user would; the others use :class:`RunFolder` itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.coords import read_coords
from cryopick.io.picks import make_picks
from cryopick.runs.batch import pick_many
from cryopick.runs.job import PickSpec
from cryopick.runs.state import MicrographResult, RunFolder, finished_run, run_candidates, run_folder_for
from tests.cli.test_cli import assert_one_line_error
from tests.runs.conftest import DIAMETER_A, _pick


def test_resumed_run_gives_the_same_file(mics: Path, tmp_path: Path, capsys) -> None:
    """Parts deleted (an interrupted run) are picked again; the rest are read back; same bytes."""
    clean, resumed = tmp_path / "clean.star", tmp_path / "resumed.star"
    log = ["--method", "log", "--diameter", DIAMETER_A]
    assert _pick([mics, *log, "-o", clean], capsys)[0] == 0
    assert _pick([mics, *log, "-o", resumed], capsys)[0] == 0
    parts = sorted((tmp_path / "resumed.star.parts" / "parts").glob("*.npz"))
    assert len(parts) == 8
    for part in parts[::2]:
        part.unlink()
    (tmp_path / "resumed.star.parts" / "complete").unlink()
    resumed.unlink()
    code, err = _pick([mics, *log, "-o", resumed], capsys)
    assert code == 0, err
    assert "resuming: 4 of 8" in err
    assert resumed.read_bytes() == clean.read_bytes()


def test_a_changed_micrograph_is_picked_again(mics: Path, tmp_path: Path) -> None:
    spec = PickSpec("log", diameter_A=DIAMETER_A)
    paths = sorted(str(p) for p in mics.glob("*.mrc"))[:3]
    with RunFolder(tmp_path / "run", {"a": 1}) as state:
        list(pick_many(spec, paths, state))
    os.utime(paths[1], ns=(time.time_ns(), time.time_ns() + 10**9))
    with RunFolder(tmp_path / "run", {"a": 1}) as state:
        assert state.load(Path(paths[0]).stem, paths[0]) is not None
        assert state.load(Path(paths[1]).stem, paths[1]) is None


def test_unfinished_run_with_other_settings_is_refused(mics: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "picks.star"
    assert _pick([mics, "--method", "log", "--diameter", DIAMETER_A, "-o", out], capsys)[0] == 0
    before = out.read_bytes()
    (tmp_path / "picks.star.parts" / "complete").unlink()  # as if killed before the end
    code, err = _pick([mics, "--method", "log", "--diameter", 140, "-o", out], capsys)
    assert_one_line_error(code, err, "picks.star.parts", "unfinished run with other settings", "--overwrite")
    assert out.read_bytes() == before  # nothing lost
    code, err = _pick([mics, "--method", "log", "--diameter", 140, "-o", out, "--overwrite"], capsys)
    assert code == 0, err
    assert out.read_bytes() != before


def test_finished_run_with_other_settings_starts_afresh(mics: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "picks.star"
    assert _pick([mics, "--method", "log", "--diameter", DIAMETER_A, "-o", out], capsys)[0] == 0
    code, err = _pick([mics, "--method", "log", "--diameter", DIAMETER_A, "--threshold", 4, "-o", out], capsys)
    assert code == 0, err
    assert "starting afresh" in err
    assert (read_coords(out)["score"] >= 4).all()


def test_second_run_on_the_same_folder_is_refused_while_the_first_runs(mics: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "picks.star"
    with RunFolder(tmp_path / "picks.star.parts", {"other": "run"}):  # this process holds the lock
        code, err = _pick([mics, "--method", "log", "--diameter", DIAMETER_A, "-o", out], capsys)
    assert_one_line_error(code, err, "picks.star.parts", "another cryopick run", "pid")
    assert not out.exists()


def test_a_damaged_part_is_picked_again(mics: Path, tmp_path: Path) -> None:
    """A part that is not a readable archive (a disk error, a hand edit) is redone, not trusted."""
    spec = PickSpec("log", diameter_A=DIAMETER_A)
    paths = sorted(str(p) for p in mics.glob("*.mrc"))[:2]
    with RunFolder(tmp_path / "run", {}) as state:
        first = list(pick_many(spec, paths, state))
    part = tmp_path / "run" / "parts" / f"{Path(paths[0]).stem}.npz"
    part.write_bytes(part.read_bytes()[:50])
    with RunFolder(tmp_path / "run", {}) as state:
        assert not state.is_done(Path(paths[0]).stem, paths[0])
        again = list(pick_many(spec, paths, state))
        assert state.is_done(Path(paths[0]).stem, paths[0])
    np.testing.assert_array_equal(again[0].picks["score"].to_numpy(), first[0].picks["score"].to_numpy())



def _result(path: Path, scores: list[float]) -> MicrographResult:
    """A micrograph file and a result of len(scores) candidates for it."""
    path.write_bytes(b"not read: only its size and time are stamped")
    n = len(scores)
    picks = make_picks(path.stem, np.arange(n) + 10.0, np.arange(n) + 20.0, np.array(scores), 12.0)
    return MicrographResult(str(path), path.stem, (100, 120), 2.0, picks)


def test_a_saved_part_loads_back_exactly(tmp_path: Path) -> None:
    result = _result(tmp_path / "a.mrc", [0.9, 0.123456789012345, 0.1])
    with RunFolder(tmp_path / "run", {"a": 1}) as state:
        assert not state.is_done("a", result.path)
        state.save(result)
        assert state.is_done("a", result.path)
        back = state.load("a", result.path)
    assert back is not None and (back.path, back.shape, back.apix) == (result.path, (100, 120), 2.0)
    for column in ("x", "y", "score", "diameter_px"):
        np.testing.assert_array_equal(back.picks[column].to_numpy(), result.picks[column].to_numpy())
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == {"a": 1}
    assert not (tmp_path / "run" / "lock").exists()  # released on leaving


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "lock").write_text(json.dumps({"pid": int(gone.stdout), "host": socket.gethostname()}))
    with RunFolder(folder, {}):
        assert json.loads((folder / "lock").read_text())["pid"] == os.getpid()
    assert not (folder / "lock").exists()


def test_a_live_lock_is_refused_naming_its_process(tmp_path: Path) -> None:
    with RunFolder(tmp_path / "run", {}), pytest.raises(CryopickError, match=f"pid {os.getpid()}") as caught:
        with RunFolder(tmp_path / "run", {}):
            pass
    assert "wait for it to finish" in caught.value.fix


def test_a_finished_runs_candidates_and_threshold(tmp_path: Path) -> None:
    output = tmp_path / "picks.star"
    assert run_folder_for(output) == tmp_path / "picks.star.parts"
    assert finished_run(run_folder_for(output)) is None and run_candidates(output) is None
    with RunFolder(run_folder_for(output), {}) as state:
        state.save(_result(tmp_path / "a.mrc", [0.9, 0.4]))
        state.save(_result(tmp_path / "b.mrc", []))
        assert run_candidates(output) is None  # not finished yet
        state.mark_complete(threshold=0.5)
    candidates, facts = finished_run(run_folder_for(output))
    assert facts == {"threshold": 0.5}
    assert candidates["micrograph"].tolist() == ["a", "a"] and candidates["score"].tolist() == [0.9, 0.4]
    record = run_candidates(output)
    every, threshold = record.candidates, record.threshold
    assert threshold == 0.5 and len(every) == 2
