"""Topaz tables: the header Topaz writes, whole-pixel output, float input, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.coords import read_coords, write_coords
from cryopick.io.picks import make_picks


def test_written_table_is_what_topaz_writes(tmp_path: Path) -> None:
    picks = make_picks(["m1", "m2"], [10.4, 5758.6], [4091.2, 0.5], [-1.25, 3.5])
    (path,) = write_coords(picks, tmp_path / "picks.txt")
    assert path.read_text().splitlines() == [
        "image_name\tx_coord\ty_coord\tscore",
        "m1\t10\t4091\t-1.25",
        "m2\t5759\t0\t3.5",  # round half to even: 0.5 -> 0
    ]


def test_labels_without_scores_and_with_float_coordinates(tmp_path: Path) -> None:
    path = tmp_path / "labels.tsv"
    path.write_text("image_name\tx_coord\ty_coord\nmic_1.mrc\t10.5\t20.25\nmic_2\t3\t4\n")
    picks = read_coords(path)
    assert list(picks["micrograph"]) == ["mic_1", "mic_2"]
    np.testing.assert_allclose(picks["x"], [10.5, 3.0])
    np.testing.assert_allclose(picks["y"], [20.25, 4.0])
    assert picks["score"].isna().all()
    (written,) = write_coords(picks, tmp_path / "out.tsv")
    assert written.read_text().splitlines()[0] == "image_name\tx_coord\ty_coord"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image_name\tx\ty\nm\t1\t2\n", "lacks column.s. x_coord, y_coord"),
        ("image_name\tx_coord\ty_coord\tscore\nm\t1\t2\thigh\n", "score holds 1 value"),
    ],
)
def test_bad_topaz_tables(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(text)
    with pytest.raises(CryopickError, match=message):
        read_coords(path)


def test_names_with_spaces_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(CryopickError, match="has spaces"):
        write_coords(make_picks("my mic", [1], [2]), tmp_path / "p.tsv")
