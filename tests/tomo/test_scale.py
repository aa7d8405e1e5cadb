"""The working scale: the bin set by the diameter, the same numbers read whole or a slab at a time, bad voxels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.tomo.scale import WorkingVolume, bin_factor, working_reader, working_volume
from cryopick.tomo.volumes import open_tomogram, write_tomogram


def _tomogram(path: Path, shape: tuple[int, int, int] = (41, 66, 90)) -> Path:
    data = np.random.default_rng(0).normal(3.0, 2.0, size=shape).astype(np.float32)
    return write_tomogram(path, data, 10.0)


def test_the_bin_brings_the_particle_near_seven_voxels() -> None:
    assert bin_factor(300.0, 10.0) == 4 and bin_factor(115.0, 10.0) == 2 and bin_factor(60.0, 10.0) == 1
    with pytest.raises(CryopickError, match="voxels"):
        bin_factor(20.0, 10.0)


def test_a_slab_read_is_the_same_numbers_as_the_whole_working_volume(tmp_path: Path) -> None:
    with open_tomogram(_tomogram(tmp_path / "t.mrc")) as tomo:
        whole = working_volume(tomo, 150.0)  # bin 2 of 41 x 66 x 90: 20 x 33 x 45, the odd section dropped
        reader = working_reader(tomo, 150.0)
        assert whole.data.shape == reader.shape == (20, 33, 45) and reader.bin == whole.bin == 2
        assert abs(float(np.median(whole.data))) < 0.05  # robustly normalised
        for start, stop in ((0, 20), (0, 3), (7, 12), (18, 25), (-4, 2)):
            assert reader.sections(start, stop).tobytes() == whole.data[max(start, 0):min(stop, 20)].tobytes()
            assert whole.sections(start, stop).tobytes() == whole.data[max(start, 0):min(stop, 20)].tobytes()
    zyx = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(reader.to_original(zyx), WorkingVolume(whole.data, 2, 7.5).to_original(zyx))


def test_nan_voxels_are_one_error_naming_the_file(tmp_path: Path) -> None:
    path = write_tomogram(tmp_path / "nan.mrc", np.random.default_rng(1).normal(size=(40, 30, 50)), 10.0)
    voxels = np.memmap(path, dtype=np.float32, mode="r+", offset=1024, shape=(40, 30, 50))
    voxels[25, 3, 4] = np.nan  # an odd section: the normalisation samples every 2nd (written under mrcfile, which warns)
    voxels.flush()
    del voxels
    with open_tomogram(path) as tomo:
        reader = working_reader(tomo, 70.0)
        reader.sections(0, 20)  # the sections before it are fine
        with pytest.raises(CryopickError, match="NaN") as error:
            reader.sections(20, 40)
        with pytest.raises(CryopickError, match="NaN"):
            working_volume(tomo, 70.0)
    assert str(path) in error.value.message and "fix:" in error.value.message


def test_a_flat_tomogram_is_one_error(tmp_path: Path) -> None:
    path = write_tomogram(tmp_path / "flat.mrc", np.ones((20, 30, 30), np.float32), 10.0)
    with open_tomogram(path) as tomo, pytest.raises(CryopickError, match="flat"):
        working_reader(tomo, 70.0)
