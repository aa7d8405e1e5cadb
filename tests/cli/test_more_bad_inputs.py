"""Issue 17's further bad inputs, each through the real command line.

==========================================  =================================================
item                                        where it is tested
==========================================  =================================================
a 3D MRC stack given as a micrograph        ``test_a_stack_is_one_line``
names with spaces, ``#`` or quotes          ``test_odd_names_round_trip_through_star`` (a
                                            quote: one line, nothing written)
STAR with extra blocks, reordered columns   ``test_star_with_extra_blocks_and_reordered_columns``
NaN coordinates                             ``test_nan_coordinates_are_one_line``
an empty or truncated model file            ``test_empty_or_truncated_model_is_one_line``
a 64x64 micrograph                          ``test_a_64_px_micrograph_picks``
a micrograph too large for the memory       ``test_a_micrograph_larger_than_the_memory``
a read-only input folder                    ``test_a_read_only_input_folder_is_left_alone``
==========================================  =================================================
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import mrcfile
import numpy as np
import pytest

from tests.cli.test_bad_inputs import DIAMETER, SHAPE, assert_one_line, pick_args, write_mic
from tests.cli.test_cli import run_cli

ODD_NAMES = ("a b", "c#1", "plain")


def _read(path: Path):
    from cryopick.io.coords import read_coords

    return read_coords(path)


def test_a_stack_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = tmp_path / "movie.mrc"
    with mrcfile.new(stack) as mrc:
        mrc.set_data(np.zeros((3, *SHAPE), np.float32))
        mrc.voxel_size = 2.0
    code, _, err = run_cli(pick_args(stack, tmp_path / "p.star"), capsys)
    assert_one_line(code, err, stack, "stack or movie of shape (3, 60, 80)", "motion-corrected")
    assert not (tmp_path / "p.star").exists()


def test_odd_names_round_trip_through_star(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before, ``c#1`` was written bare and read back as ``c`` (``#`` starts a STAR comment)."""
    mics = tmp_path / "mics"
    mics.mkdir()
    rng = np.random.default_rng(0)
    for name in ODD_NAMES:
        write_mic(mics / f"{name}.mrc", rng.normal(size=(200, 300)))
    picks = tmp_path / "p.star"
    code, _, err = run_cli(pick_args(mics, picks), capsys)
    assert code == 0, err
    assert set(_read(picks)["micrograph"]) == set(ODD_NAMES)
    code, out, err = run_cli(["evaluate", "--picks", picks, "--truth", picks, "-m", mics, "--json"], capsys)
    assert code == 0, err
    assert '"f1": 1.0' in out
    write_mic(mics / "d'q.mrc", rng.normal(size=(200, 300)))
    code, _, err = run_cli(pick_args(mics, tmp_path / "q.star"), capsys)
    assert_one_line(code, err, tmp_path / "q.star", "has a quote", "write CSV")
    assert not (tmp_path / "q.star").exists()
    code, _, err = run_cli(pick_args(mics, tmp_path / "q.csv"), capsys)  # CSV quotes as it should
    assert code == 0, err
    assert "d'q" in set(_read(tmp_path / "q.csv")["micrograph"])


STAR_WITH_EXTRAS = """
data_general

_rlnImageSizeX 80

data_optics

loop_
_rlnOpticsGroup #1
_rlnImagePixelSize #2
1 2.0

data_particles

loop_
_rlnAutopickFigureOfMerit #1
_rlnCoordinateY #2
_rlnClassNumber #3
_rlnMicrographName #4
_rlnCoordinateX #5
0.9 20.0 1 mics/a.mrc 30.0
0.8 40.0 2 mics/a.mrc 60.0
0.7 25.0 1 mics/b.mrc 10.0
"""


def test_star_with_extra_blocks_and_reordered_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mics").mkdir()
    for name in ("a", "b"):
        write_mic(tmp_path / "mics" / f"{name}.mrc")
    star = tmp_path / "picks.star"
    star.write_text(STAR_WITH_EXTRAS)
    table = _read(star)
    assert table[["micrograph", "x", "y", "score"]].values.tolist() == [
        ["a", 30.0, 20.0, 0.9], ["a", 60.0, 40.0, 0.8], ["b", 10.0, 25.0, 0.7]]
    code, out, err = run_cli(["evaluate", "--picks", star, "--truth", star, "-m", tmp_path / "mics", "--radius-px",
                              5, "--json"], capsys)
    assert code == 0 and '"n_matched": 3' in out, err


def test_nan_coordinates_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    star = tmp_path / "picks.star"
    star.write_text(STAR_WITH_EXTRAS.replace("0.8 40.0 2", "0.8 nan 2"))
    code, _, err = run_cli(["evaluate", "--picks", star, "--truth", star, "--radius-px", 5], capsys)
    assert_one_line(code, err, star, "missing or not numbers", "remove or correct those rows")


def test_empty_or_truncated_model_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cryopick.pickers.fcn.general import general_model_path

    mic = write_mic(tmp_path / "a.mrc")
    for name, content in (("empty.cryopick", b""), ("cut.cryopick", general_model_path().read_bytes()[:5000])):
        model = tmp_path / name
        model.write_bytes(content)
        code, _, err = run_cli(["pick", mic, "--model", model, "-o", tmp_path / "p.star"], capsys)
        assert_one_line(code, err, model, "not a cryopick model file", "cryopick train")
    assert not (tmp_path / "p.star").exists()


@pytest.mark.parametrize("method", ["log", "model"])
def test_a_64_px_micrograph_picks(tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str) -> None:
    mic = write_mic(tmp_path / "tiny.mrc", np.random.default_rng(0).normal(size=(64, 64)))
    code, _, err = run_cli(["pick", mic, "--method", method, "--diameter", DIAMETER, "-o", tmp_path / "p.star"],
                           capsys)
    assert code == 0, err
    assert "picks in 1 micrograph(s)" in err and (tmp_path / "p.star").exists()


def test_a_micrograph_larger_than_the_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Linux kills a process that over-commits rather than raising MemoryError: the size is told first."""
    import cryopick.io.micrographs as micrographs

    mic = write_mic(tmp_path / "a.mrc")  # 60x80 float32: 19200 bytes
    monkeypatch.setattr(micrographs, "available_memory_bytes", lambda: 10_000)
    code, _, err = run_cli(pick_args(mic, tmp_path / "p.star"), capsys)
    assert_one_line(code, err, mic, "80x60 pixels", "more than the memory free", "bin it to a smaller size")
    assert micrographs.available_memory_bytes.__module__ == __name__  # the patched one ran
    monkeypatch.undo()
    assert micrographs.available_memory_bytes() > 2**20  # the real one reads this machine's


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def test_a_read_only_input_folder_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Pick, train, evaluate and report read the micrographs and labels and write only where told.

    The folder is made read-only (which stops writes for anyone but root), and for root
    too nothing in it may change: no cache, lock or temporary file beside the inputs.
    """
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        write_mic(inputs / f"{name}.mrc", rng.normal(size=(200, 300)))
    (inputs / "labels.csv").write_text("micrograph,x,y\n" + "".join(
        f"a,{x},{y}\n" for x, y in rng.uniform(20, 180, size=(25, 2))))
    before = _snapshot(inputs)
    mode = inputs.stat().st_mode
    os.chmod(inputs, stat.S_IRUSR | stat.S_IXUSR)
    out = tmp_path / "out"
    try:
        for args in (pick_args(inputs, out / "p.star"),
                     ["train", inputs / "a.mrc", "--coords", inputs / "labels.csv", "--diameter", 40, "--model",
                      "mlp", "--epochs", 1, "-o", out / "m.cryopick"],
                     ["evaluate", "--picks", out / "p.star", "--truth", out / "p.star", "-m", inputs, "--out",
                      out / "eval"],
                     ["report", "--picks", out / "p.star", inputs, "-o", out / "r.html"]):
            code, _, err = run_cli(args, capsys)
            assert code == 0, f"{args[0]}: {err}"
    finally:
        os.chmod(inputs, mode)
    assert _snapshot(inputs) == before
