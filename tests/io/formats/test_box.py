"""EMAN BOX: corners to centres, EMAN1 variants, and the exact text written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.coords import CoordOptions, read_coords, write_coords
from cryopick.io.picks import make_picks


def test_corner_plus_half_box_is_the_centre(tmp_path: Path) -> None:
    path = tmp_path / "mic_0001.box"
    path.write_text("10\t20\t100\t100\n-30.5\t4000\t64\t80\n")
    picks = read_coords(path)
    assert list(picks["micrograph"]) == ["mic_0001", "mic_0001"]
    np.testing.assert_allclose(picks["x"], [60.0, 1.5])
    np.testing.assert_allclose(picks["y"], [70.0, 4040.0])  # height, not width, for y
    np.testing.assert_allclose(picks["diameter_px"], [100.0, 64.0])
    assert picks["score"].isna().all()


def test_eman1_extra_column_and_picker_suffix(tmp_path: Path) -> None:
    path = tmp_path / "mic_7_pick.box"
    path.write_text("0 0 50 50 -1\n100 100 50 50 -2\n")
    picks = read_coords(path)
    assert set(picks["micrograph"]) == {"mic_7"}
    np.testing.assert_allclose(picks["x"], [25.0, 125.0])


def test_two_column_box_needs_a_box_size(tmp_path: Path) -> None:
    path = tmp_path / "m.box"
    path.write_text("10 20\n30 40\n")
    with pytest.raises(CryopickError, match="no box size column"):
        read_coords(path)
    picks = read_coords(path, options=CoordOptions(box_size_px=40))
    np.testing.assert_allclose(picks["x"], [30.0, 50.0])
    np.testing.assert_allclose(picks["y"], [40.0, 60.0])


def test_written_text_is_tab_separated_corners(tmp_path: Path) -> None:
    picks = make_picks(["m", "m"], [100.0, 5759.25], [4091.5, 0.0], diameter_px=[150.4, 150.4])
    (path,) = write_coords(picks, tmp_path / "boxes", "box")
    assert path == tmp_path / "boxes" / "m.box"
    lines = path.read_text().splitlines()
    assert lines == ["25.000\t4016.500\t150\t150", "5684.250\t-75.000\t150\t150"]


def test_unparsable_box_number(tmp_path: Path) -> None:
    path = tmp_path / "m.box"
    path.write_text("10 20 100 100\n10 2O 100 100\n")
    with pytest.raises(CryopickError, match=r"y_lowerleft holds 1 value\(s\) that are not numbers, e.g. '2O'"):
        read_coords(path)
