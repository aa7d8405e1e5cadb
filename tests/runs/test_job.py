"""cryopick.runs.job: a PickSpec's checks, one micrograph picked in two halves, and bad input skipped."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.micrographs import write_mrc
from cryopick.io.picks import PICK_COLUMNS
from cryopick.runs.job import PickSpec, Skipped, finish, or_skipped, pick_one, pick_one_or_skip, prepare
from cryopick.runs.state import MicrographResult


def _discs(path: Path, centres: list[tuple[int, int]], shape: tuple[int, int] = (200, 240)) -> Path:
    """A micrograph (2 Å/px) of noise with dark discs 60 Å wide at (x, y)."""
    rng = np.random.default_rng(0)
    image = rng.normal(0.0, 0.3, shape).astype(np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for x, y in centres:
        image[(xx - x) ** 2 + (yy - y) ** 2 <= 15**2] -= 3.0
    write_mrc(path, image, 2.0)
    return path


def test_a_spec_says_what_its_picker_needs() -> None:
    with pytest.raises(CryopickError, match="picker 'fcn' needs a model file") as caught:
        PickSpec("fcn")
    assert caught.value.fix == "pass --model"
    with pytest.raises(CryopickError, match="the log picker needs the particle size"):
        PickSpec("log")
    spec = PickSpec("log", diameter_A=60.0)
    assert pickle.loads(pickle.dumps(spec)) == spec  # plain data: it travels to other processes


def test_pick_one_is_prepare_then_finish(tmp_path: Path) -> None:
    path = _discs(tmp_path / "m.mrc", [(60, 60), (170, 80), (120, 150)])
    spec = PickSpec("log", diameter_A=60.0)
    prepared = prepare(spec, path)
    assert prepared.path == str(path) and prepared.shape == (200, 240)
    halves = finish(spec, prepared)
    whole = pick_one(spec, path)
    assert isinstance(whole, MicrographResult)
    assert (whole.name, whole.shape, whole.apix) == ("m", (200, 240), 2.0)
    assert list(whole.picks.columns) == list(PICK_COLUMNS)
    np.testing.assert_array_equal(whole.picks[["x", "y", "score"]].to_numpy(),
                                  halves.picks[["x", "y", "score"]].to_numpy())
    found = whole.picks[["x", "y"]].to_numpy()
    for centre in ((60, 60), (170, 80), (120, 150)):  # every disc is found
        assert np.hypot(*(found - centre).T).min() < 5


def test_bad_input_is_skipped_only_when_asked(tmp_path: Path) -> None:
    flat = tmp_path / "flat.mrc"
    write_mrc(flat, np.ones((200, 240), np.float32), 2.0)
    spec = PickSpec("log", diameter_A=60.0)
    with pytest.raises(CryopickError):
        pick_one_or_skip(spec, flat)
    skipped = pick_one_or_skip(spec, flat, skip_bad=True)
    assert isinstance(skipped, Skipped) and skipped.name == "flat" and skipped.path == str(flat)
    assert "flat.mrc" in skipped.message and "\n" not in skipped.message


def test_or_skipped_passes_results_and_other_errors_through() -> None:
    assert or_skipped(True, "a.mrc", lambda: 7) == 7

    def broken() -> None:
        raise ValueError("a bug, not bad input")

    with pytest.raises(ValueError):
        or_skipped(True, "a.mrc", broken)
