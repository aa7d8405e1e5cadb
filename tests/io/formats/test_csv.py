"""CSV: exact numbers, extra columns, one-micrograph files, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.coords import read_coords, write_coords
from cryopick.io.picks import make_picks


def test_numbers_and_extra_columns_are_exact(tmp_path: Path) -> None:
    x = [0.1 + 0.2, 5759.999999999, 1e-7]
    picks = make_picks(["a", "b", "b"], x, [1 / 3, 2.0, 4091.0], [np.nan, -2.5, 1e-12], 150.5, kind=["p", "ice", "p"])
    picks["defocus_A"] = [15000.0, 20000.5, 18000.25]
    (path,) = write_coords(picks, tmp_path / "t.csv")
    assert path.read_text().splitlines()[0] == "micrograph,x,y,score,diameter_px,kind,defocus_A"
    back = read_coords(path)
    np.testing.assert_array_equal(back["x"], x)
    np.testing.assert_array_equal(back["score"], [np.nan, -2.5, 1e-12])
    assert list(back["kind"]) == ["p", "ice", "p"]
    np.testing.assert_array_equal(back["defocus_A"], picks["defocus_A"])


def test_file_without_micrograph_column_names_one_micrograph(tmp_path: Path) -> None:
    path = tmp_path / "mic_0003_picks.csv"
    path.write_text("x,y\n1,2\n3,4\n")
    picks = read_coords(path)
    assert list(picks["micrograph"]) == ["mic_0003", "mic_0003"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("micrograph,x\nm,1\n", "lacks column.s. y"),
        ("micrograph,x,y,diameter_px\nm,1,2,big\n", "diameter_px holds 1 value"),
        ("micrograph,x,y\nm,1,2\n,3,4\n", "micrograph name is empty in data row 2"),
    ],
)
def test_bad_csv_files(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CryopickError, match=message):
        read_coords(path)
