"""crYOLO CBOX: the 1.0 layout crYOLO writes (with <NA>), the old layout, and what is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import starfile

from cryopick.errors import CryopickError
from cryopick.io.coords import CoordOptions, read_coords, write_coords
from cryopick.io.formats.cbox import COLUMNS
from cryopick.io.picks import make_picks

# The layout crYOLO 1.8+ writes for a 2D micrograph (values made up for this test).
CRYOLO_CBOX = """
data_global

_cbox_format_version 1.0

data_cryolo

loop_
_CoordinateX #1
_CoordinateY #2
_CoordinateZ #3
_Width #4
_Height #5
_Depth #6
_EstWidth #7
_EstHeight #8
_Confidence #9
_NumBoxes #10
_Angle #11
4400.5 3800.25 <NA> 200.0 200.0 <NA> 208.0 203.0 0.145 <NA> <NA>
2.4136924743652344 1544.9186751842499 <NA> 200.0 200.0 <NA> 188.0 205.0 0.208 <NA> <NA>
-20.0 3.5 <NA> 200.0 200.0 <NA> <NA> <NA> 0.9 <NA> <NA>

data_cryolo_include

loop_
_slice_index #1
"""


def test_reads_what_cryolo_writes(tmp_path: Path) -> None:
    path = tmp_path / "FoilHole_1_Data_2_fractions.cbox"
    path.write_text(CRYOLO_CBOX)
    picks = read_coords(path)
    assert set(picks["micrograph"]) == {"FoilHole_1_Data_2_fractions"}
    np.testing.assert_allclose(picks["x"], [4500.5, 102.4136924743652344, 80.0])
    np.testing.assert_allclose(picks["y"], [3900.25, 1644.9186751842499, 103.5])
    np.testing.assert_allclose(picks["score"], [0.145, 0.208, 0.9])
    np.testing.assert_allclose(picks["diameter_px"], [208.0, 188.0, np.nan])


def test_reads_the_old_tab_separated_layout(tmp_path: Path) -> None:
    path = tmp_path / "mic.cbox"
    path.write_text("4472.0\t3834.5\t200\t200\t0.145\t208\t203\n2.4\t1544.9\t200\t200\t0.208\t188\t205\n")
    picks = read_coords(path)
    np.testing.assert_allclose(picks["x"], [4572.0, 102.4])
    np.testing.assert_allclose(picks["score"], [0.145, 0.208])
    np.testing.assert_allclose(picks["diameter_px"], [208.0, 188.0])


def test_written_file_has_cryolos_blocks_and_columns(tmp_path: Path) -> None:
    picks = make_picks(["m", "m"], [300.0, 1000.5], [400.0, 20.0], [0.75, np.nan], [180.0, np.nan])
    (path,) = write_coords(picks, tmp_path / "cbox", "cbox", CoordOptions(box_size_px=220))
    blocks = starfile.read(path, always_dict=True)
    assert list(blocks) == ["global", "cryolo", "cryolo_include"]
    assert blocks["global"] == {"cbox_format_version": 1.0}
    table = blocks["cryolo"]
    assert tuple(table.columns) == COLUMNS
    np.testing.assert_allclose(table["CoordinateX"], [190.0, 890.5])  # centre - box/2
    np.testing.assert_allclose(table["Width"], [220.0, 220.0])
    np.testing.assert_allclose(table["EstWidth"], [180.0, np.nan])
    np.testing.assert_allclose(table["Confidence"], [0.75, np.nan])
    assert table["CoordinateZ"].isna().all() and table["Angle"].isna().all()
    assert "<NA>" in path.read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_global\n\n_cbox_format_version 1.0\n", "no data_cryolo loop"),
        ("data_cryolo\nloop_\n_CoordinateX\n_CoordinateY\n1 2\n", "lacks column.s. Width, Height"),
        ("data_cryolo\nloop_\n_CoordinateX\n_CoordinateY\n_Width\n_Height\n1 2 <NA> 5\n", "no _Width/_Height"),
        ("data_cryolo\nloop_\n_CoordinateX\n_CoordinateY\n_Width\n_Height\n1 y 5 5\n", "_CoordinateY holds"),
        ("1 2 3\n", "fewer than 4 numbers"),
    ],
)
def test_bad_cbox_files(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.cbox"
    path.write_text(text)
    with pytest.raises(CryopickError, match=message) as info:
        read_coords(path)
    assert str(path) in str(info.value)
