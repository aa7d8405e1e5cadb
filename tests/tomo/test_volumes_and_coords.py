"""Tomograms in (memory-mapped, one-line errors) and 3D coordinates round-tripped through every format."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest

from cryopick.errors import CryopickError
from cryopick.tomo.coords import make_picks3d, read_picks3d, write_picks3d
from cryopick.tomo.volumes import open_tomogram, write_tomogram

SHAPE = (40, 60, 80)  # nz, ny, nx: not cubic, so no axis can be swapped unseen


def _volume(path: Path, apix: float = 10.0) -> Path:
    data = np.random.default_rng(0).normal(size=SHAPE).astype(np.float32)
    return write_tomogram(path, data, apix)


def test_a_tomogram_is_memory_mapped_with_its_voxel_size(tmp_path: Path) -> None:
    path = _volume(tmp_path / "TS_01.mrc")
    with open_tomogram(path) as tomo:
        assert tomo.name == "TS_01" and tomo.shape == SHAPE and tomo.apix == pytest.approx(10.0)
        assert isinstance(tomo.data, np.memmap)
        np.testing.assert_array_equal(tomo.data[3], mrcfile.read(path)[3])
    with open_tomogram(path, apix=7.5) as tomo:
        assert tomo.apix == 7.5


@pytest.mark.parametrize("case", ["2d", "truncated", "no_apix", "missing", "random_bytes"])
def test_bad_tomograms_are_one_clear_error(tmp_path: Path, case: str) -> None:
    path = tmp_path / "bad.mrc"
    if case == "2d":
        with mrcfile.new(path) as mrc:
            mrc.set_data(np.zeros((60, 80), np.float32))
            mrc.voxel_size = 10.0
        needle = "not a tomogram"
    elif case == "truncated":
        _volume(path)
        path.write_bytes(path.read_bytes()[: 1024 + 4 * 60 * 80 * 10])
        needle = "truncated"
    elif case == "no_apix":
        _volume(path, apix=0.0)
        needle = "no voxel size"
    elif case == "missing":
        needle = "does not exist"
    else:
        path.write_bytes(np.random.default_rng(1).bytes(5000))
        needle = "cannot read it as MRC|not a tomogram|truncated"
    with pytest.raises(CryopickError, match=needle) as error:
        with open_tomogram(path):
            pass
    assert str(path) in error.value.message and "fix:" in error.value.message


def _table() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    first = make_picks3d("TS_01", rng.uniform(0, 79, 6), rng.uniform(0, 59, 6), rng.uniform(0, 39, 6),
                         rng.uniform(0, 1, 6), 12.0)
    second = make_picks3d("TS_02", [5.25, 70.5], [50.0, 3.75], [1.5, 38.0], [0.9, 0.1], 12.0)
    return pd.concat([first, second], ignore_index=True)


@pytest.mark.parametrize("suffix", [".star", ".tbl", ".csv", ".tsv"])
def test_every_3d_format_round_trips_on_a_non_cubic_volume(tmp_path: Path, suffix: str) -> None:
    table = _table()
    shapes = {"TS_01": SHAPE, "TS_02": SHAPE}
    path = write_picks3d(table, tmp_path / f"picks{suffix}", shapes=shapes, apix=10.0, names=["TS_01", "TS_02"])
    back = read_picks3d(path, shapes=shapes, apix=10.0, names=["TS_01", "TS_02"])
    assert back["tomogram"].tolist() == table["tomogram"].tolist()
    np.testing.assert_allclose(back[["x", "y", "z", "score"]].to_numpy(), table[["x", "y", "z", "score"]].to_numpy(),
                               atol=1e-5)


def test_relion5_centred_angstrom_coordinates_are_read(tmp_path: Path) -> None:
    """RELION 5 writes rlnCenteredCoordinate{X,Y,Z}Angst = (voxel - n/2) * voxel size; those alone are enough."""
    star = tmp_path / "particles.star"
    star.write_text("data_particles\n\nloop_\n_rlnTomoName #1\n_rlnCenteredCoordinateXAngst #2\n"
                    "_rlnCenteredCoordinateYAngst #3\n_rlnCenteredCoordinateZAngst #4\nTS_01 -400.0 0.0 100.0\n")
    back = read_picks3d(star, shapes={"TS_01": SHAPE}, apix=10.0)
    assert back[["x", "y", "z"]].values.tolist() == [[0.0, 30.0, 30.0]]
    with pytest.raises(CryopickError, match="need the tomograms"):
        read_picks3d(star)


def test_dynamo_counts_from_one_and_adds_the_shifts(tmp_path: Path) -> None:
    row = np.zeros(35)
    row[[0, 1, 2, 19, 21]] = [1, 1, 1, 2, 1]
    row[3:6] = [0.5, -1.0, 2.0]
    row[23:26] = [11.0, 21.0, 31.0]
    np.savetxt(tmp_path / "t.tbl", row[None])
    back = read_picks3d(tmp_path / "t.tbl", names=["TS_01", "TS_02"])
    assert back[["tomogram", "x", "y", "z"]].values.tolist() == [["TS_02", 10.5, 19.0, 32.0]]
    with pytest.raises(CryopickError, match="numbers tomograms up to 2"):
        read_picks3d(tmp_path / "t.tbl", names=["TS_01"])


def test_missing_positions_are_one_error(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("tomogram,x,y,z\nTS_01,1,2,nan\n")
    with pytest.raises(CryopickError, match="missing or not numbers"):
        read_picks3d(tmp_path / "p.csv")


def test_sections_read_from_the_file_equal_the_memory_map(tmp_path: Path) -> None:
    path = _volume(tmp_path / "a.mrc")
    with mrcfile.open(path, mode="r+") as mrc:  # an extended header moves the data
        mrc.set_extended_header(np.zeros(7, dtype=[("x", "f4")]))
    with open_tomogram(path) as tomo:
        assert tomo.data_offset == 1024 + 28
        np.testing.assert_array_equal(tomo.sections(5, 9), np.asarray(tomo.data[5:9]))
        assert tomo.sections(38, 60).shape == (2, 60, 80)
