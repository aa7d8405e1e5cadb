"""RELION STAR: real RELION 3.0 autopicks, 3.1 particle files, coordinate lists, what is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import starfile

from cryopick.errors import CryopickError
from cryopick.io.coords import CoordOptions, read_coords, write_coords
from cryopick.io.picks import check_inside, make_picks

RELION31 = """
# version 30001

data_optics

loop_
_rlnOpticsGroup #1
_rlnOpticsGroupName #2
_rlnMicrographOriginalPixelSize #3
_rlnImagePixelSize #4
_rlnImageSize #5
1 opticsGroup1 0.83 1.66 256

# version 30001

data_particles

loop_
_rlnImageName #1
_rlnMicrographName #2
_rlnCoordinateX #3
_rlnCoordinateY #4
_rlnOriginXAngst #5
_rlnOriginYAngst #6
_rlnAutopickFigureOfMerit #7
_rlnOpticsGroup #8
000001@Extract/job007/Movies/mic_0001.mrcs MotionCorr/job002/Movies/mic_0001.mrc 1024.5 3001.25 -2.5 1.0 0.8 1
000002@Extract/job007/Movies/mic_0001.mrcs MotionCorr/job002/Movies/mic_0001.mrc 5000.0 12.0 0.0 0.0 -999 1
000001@Extract/job007/Movies/mic_0002.mrcs MotionCorr/job002/Movies/mic_0002.mrc 17.0 4000.0 3.0 -3.0 1.7 1
"""


def test_real_relion30_autopick_file(shared_data: Path) -> None:
    path = shared_data / "ucsf-micrograph-with-autopicks" / "Ucsf_stack_1142_DW_autopick.star"
    picks = read_coords(path)
    assert len(picks) == 45
    assert set(picks["micrograph"]) == {"Ucsf_stack_1142_DW"}
    first = picks.iloc[0]
    assert (first["x"], first["y"]) == pytest.approx((839.125024, 19.979167))
    assert first["score"] == pytest.approx(0.624705)
    assert picks["score"].notna().all() and picks["diameter_px"].isna().all()
    assert list(picks.columns) == ["micrograph", "x", "y", "score", "diameter_px"]  # class/psi dropped
    # The micrograph is 959 x 927 (nx x ny); every autopick lies inside it.
    assert len(check_inside(picks, {"Ucsf_stack_1142_DW": (927, 959)})) == 45


def test_relion31_particles_file(tmp_path: Path) -> None:
    path = tmp_path / "particles.star"
    path.write_text(RELION31)
    picks = read_coords(path)
    assert list(picks["micrograph"]) == ["mic_0001", "mic_0001", "mic_0002"]
    np.testing.assert_allclose(picks["x"], [1024.5, 5000.0, 17.0])  # origins ignored
    np.testing.assert_allclose(picks["y"], [3001.25, 12.0, 4000.0])
    np.testing.assert_allclose(picks["score"], [0.8, np.nan, 1.7])  # -999 means no score
    assert list(picks.columns) == ["micrograph", "x", "y", "score", "diameter_px"]


def test_written_file_is_relion31_with_optics(tmp_path: Path) -> None:
    picks = make_picks(["a", "b"], [1.5, 2.5], [3.5, 4.5], [0.5, np.nan], 120.0)
    options = CoordOptions(apix=0.83, micrograph_paths={"a": "MotionCorr/job002/Movies/a.mrc"})
    path = write_coords(picks, tmp_path / "picks.star", options=options)[0]
    blocks = starfile.read(path, always_dict=True)
    assert list(blocks) == ["optics", "particles"]
    optics = blocks["optics"]
    assert optics["rlnMicrographPixelSize"].iloc[0] == pytest.approx(0.83)
    assert optics["rlnImagePixelSize"].iloc[0] == pytest.approx(0.83)
    assert optics["rlnOpticsGroupName"].iloc[0] == "opticsGroup1"
    particles = blocks["particles"]
    assert list(particles.columns[:5]) == [
        "rlnCoordinateX",
        "rlnCoordinateY",
        "rlnAutopickFigureOfMerit",
        "rlnMicrographName",
        "rlnOpticsGroup",
    ]
    assert list(particles["rlnMicrographName"]) == ["MotionCorr/job002/Movies/a.mrc", "b.mrc"]
    assert list(particles["rlnAutopickFigureOfMerit"]) == [0.5, -999]
    assert list(particles["rlnOpticsGroup"]) == [1, 1]
    assert (
        "rlnMicrographPixelSize"
        not in starfile.read(write_coords(picks, tmp_path / "no_apix.star")[0], always_dict=True)["optics"]
    )


def test_names_stay_text_even_when_they_look_like_numbers(tmp_path: Path) -> None:
    picks = make_picks(["0001", "data_7"], [1.0, 2.0], [3.0, 4.0])
    path = write_coords(picks, tmp_path / "p.star", options=CoordOptions(micrograph_suffix=""))[0]
    assert list(read_coords(path)["micrograph"]) == ["0001", "data_7"]


def test_relion_coordinate_list_is_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    movies = project / "AutoPick" / "job010" / "Movies"
    movies.mkdir(parents=True)
    (movies / "mic_1_autopick.star").write_text("data_\nloop_\n_rlnCoordinateX\n_rlnCoordinateY\n10 20\n30 40\n")
    (movies / "mic_2_autopick.star").write_text("data_\nloop_\n_rlnCoordinateX\n_rlnCoordinateY\n")
    listing = project / "AutoPick" / "job010" / "autopick.star"
    listing.write_text(
        "data_coordinate_files\nloop_\n_rlnMicrographName\n_rlnMicrographCoordinates\n"
        "MotionCorr/job002/Movies/mic_1.mrc AutoPick/job010/Movies/mic_1_autopick.star\n"
        "MotionCorr/job002/Movies/mic_2.mrc AutoPick/job010/Movies/mic_2_autopick.star\n"
    )
    monkeypatch.chdir(tmp_path)  # not the project folder: paths resolve from the list's parents
    picks = read_coords(listing)
    assert list(picks["micrograph"]) == ["mic_1", "mic_1"]
    np.testing.assert_allclose(picks["y"], [20, 40])
    (movies / "mic_1_autopick.star").unlink()
    with pytest.raises(CryopickError, match="mic_1_autopick.star it lists does not exist"):
        read_coords(listing)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_\nloop_\n_rlnCoordinateX\n_rlnAnglePsi\n1 2\n", "data_ lacks rlnCoordinateY"),
        ("data_\nloop_\n_rlnAnglePsi\n_rlnClassNumber\n1 2\n", "no rlnCoordinateX/rlnCoordinateY columns"),
        ("data_\nloop_\n_rlnCoordinateX\n_rlnCoordinateY\n1 2\n4 abc\n", "rlnCoordinateY holds 1 value"),
        ("data_\nloop_\n_rlnCoordinateX\n_rlnCoordinateY\n1 2 3\n4 5\n", "cannot parse STAR file"),
        ("x y\n1 2\n", "is not a STAR file"),
    ],
)
def test_bad_star_files(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.star"
    path.write_text(text)
    with pytest.raises(CryopickError, match=message) as info:
        read_coords(path)
    assert str(path) in str(info.value) and "; fix: " in str(info.value)


def test_names_with_hash_and_spaces_read_back_and_quotes_are_refused(tmp_path: Path) -> None:
    """Issue 17: ``c#1`` was written bare and read back as ``c`` (``#`` starts a STAR comment)."""
    names = ["c#1", "a b", "a #b", "plain"]
    picks = pd.concat([make_picks(n, [10.0, 20.0], [5.0, 7.5], 0.5, 12.0) for n in names], ignore_index=True)
    write_coords(picks, tmp_path / "p.star")
    assert read_coords(tmp_path / "p.star")["micrograph"].tolist() == picks["micrograph"].tolist()
    for quoted in ("d'q", 'e"q'):
        with pytest.raises(CryopickError, match="has a quote"):
            write_coords(make_picks(quoted, [1.0], [1.0]), tmp_path / "q.star")
    assert not (tmp_path / "q.star").exists()
