"""cryoSPARC .cs: fractions of (ny, nx), uid-prefixed names, safe loading, what is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.coords import CoordOptions, read_coords, write_coords
from cryopick.io.formats.cs import strip_uid_prefix
from cryopick.io.picks import make_picks

DTYPE = [
    ("uid", "<u8"),
    ("blob/path", "S40"),
    ("location/micrograph_uid", "<u8"),
    ("location/exp_group_id", "<u4"),
    ("location/micrograph_path", "S80"),
    ("location/micrograph_shape", "<u4", (2,)),
    ("location/micrograph_psize_A", "<f4"),
    ("location/center_x_frac", "<f4"),
    ("location/center_y_frac", "<f4"),
    ("alignments2D/shift", "<f4", (2,)),
    ("pick_stats/ncc_score", "<f4"),
]


def _save(path: Path, array: np.ndarray) -> Path:
    with open(path, "wb") as handle:  # np.save on a name would append .npy
        np.save(handle, array, allow_pickle=False)
    return path


def test_reads_a_cryosparc_particle_dataset(tmp_path: Path) -> None:
    data = np.zeros(3, dtype=DTYPE)
    data["uid"] = [11, 12, 13]
    data["location/micrograph_path"] = [
        b"J2/imported/012345678901234567890_mic_0001.mrc",
        b"J2/imported/012345678901234567890_mic_0001.mrc",
        b"J5/motioncorrected/000000000000000000042_0001_mic.mrc",
    ]
    data["location/micrograph_shape"] = (4092, 5760)  # (ny, nx)
    data["location/center_x_frac"] = [0.25, 1.0, 0.0]
    data["location/center_y_frac"] = [0.5, 0.0, 1.0]
    data["pick_stats/ncc_score"] = [0.3, 0.6, 0.9]
    picks = read_coords(_save(tmp_path / "P1_J7_picked_particles.cs", data))
    assert list(picks["micrograph"]) == ["mic_0001", "mic_0001", "0001_mic"]
    np.testing.assert_allclose(picks["x"], [1440.0, 5760.0, 0.0])  # fractions of nx
    np.testing.assert_allclose(picks["y"], [2046.0, 0.0, 4092.0])  # fractions of ny
    np.testing.assert_allclose(picks["score"], [0.3, 0.6, 0.9], rtol=1e-6)
    assert picks["diameter_px"].isna().all()


def test_uid_prefix_is_only_a_long_digit_run() -> None:
    assert strip_uid_prefix("012345678901234567890_mic") == "mic"
    assert strip_uid_prefix("0001_mic") == "0001_mic"
    assert strip_uid_prefix("012345678901234567890_") == "012345678901234567890_"


def test_written_dataset_loads_without_pickle(tmp_path: Path) -> None:
    picks = make_picks(["a", "a", "bb"], [0.0, 5759.0, 100.5], [4091.0, 0.0, 7.0], [0.1, 0.2, np.nan], 150.0)
    shapes = {"a": (4092, 5760), "bb": (3000, 2000)}
    options = CoordOptions(shapes=shapes, apix=0.83, micrograph_paths={"bb": "J3/imported/bb.tiff"})
    (path,) = write_coords(picks, tmp_path / "picks.cs", options=options)
    data = np.load(path, allow_pickle=False)
    for field in ("uid", "location/micrograph_uid", "location/exp_group_id", "location/micrograph_psize_A"):
        assert field in data.dtype.names
    assert data.dtype["location/micrograph_path"].kind == "S"
    assert len(set(data["uid"].tolist())) == 3
    assert len(set(data["location/micrograph_uid"].tolist())) == 2
    assert data["location/micrograph_path"].tolist() == [b"a.mrc", b"a.mrc", b"J3/imported/bb.tiff"]
    np.testing.assert_array_equal(data["location/micrograph_shape"], [[4092, 5760], [4092, 5760], [3000, 2000]])
    np.testing.assert_allclose(data["location/center_x_frac"], [0.0, 5759 / 5760, 100.5 / 2000], rtol=1e-6)
    np.testing.assert_allclose(data["location/micrograph_psize_A"], 0.83, rtol=1e-6)
    again = write_coords(picks, tmp_path / "again.cs", options=options)[0]
    assert again.read_bytes() == path.read_bytes()  # reproducible ids


def test_compressed_pickled_and_foreign_files_are_refused(tmp_path: Path) -> None:
    csdat = tmp_path / "new.cs"
    csdat.write_bytes(b"\x95CSDAT" + bytes(64))
    with pytest.raises(CryopickError, match="compressed cryoSPARC dataset"):
        read_coords(csdat)
    objects = np.zeros(1, dtype=[("location/micrograph_path", "O"), ("location/center_x_frac", "<f4")])
    with open(tmp_path / "old.cs", "wb") as handle:
        np.save(handle, objects, allow_pickle=True)
    with pytest.raises(CryopickError, match="Python objects"):
        read_coords(tmp_path / "old.cs")
    (tmp_path / "text.cs").write_text("micrograph,x,y\n")
    with pytest.raises(CryopickError, match="no NumPy header"):
        read_coords(tmp_path / "text.cs")
    plain = _save(tmp_path / "plain.cs", np.arange(4.0))
    with pytest.raises(CryopickError, match="no named fields"):
        read_coords(plain)


def test_missing_fields_and_zero_shape(tmp_path: Path) -> None:
    data = np.zeros(2, dtype=[("uid", "<u8"), ("location/center_x_frac", "<f4")])
    with pytest.raises(CryopickError, match="lacks column.s. location/center_y_frac"):
        read_coords(_save(tmp_path / "a.cs", data))
    full = np.zeros(2, dtype=DTYPE)
    full["location/micrograph_path"] = b"m.mrc"
    with pytest.raises(CryopickError, match="micrograph_shape is 0"):
        read_coords(_save(tmp_path / "b.cs", full))
