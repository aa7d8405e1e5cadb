"""Reading micrographs' CTF from RELION STAR files (CtfFind's micrographs_ctf.star)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryopick.errors import CryopickError
from cryopick.io.ctf_star import ctf_of_micrographs_star, read_ctf_star

# As RELION 3.1's CtfFind job writes it (two micrographs, one optics group).
RELION31 = """
# version 30001

data_optics

loop_
_rlnOpticsGroupName #1
_rlnOpticsGroup #2
_rlnMicrographOriginalPixelSize #3
_rlnVoltage #4
_rlnSphericalAberration #5
_rlnAmplitudeContrast #6
_rlnMicrographPixelSize #7
opticsGroup1            1     0.885000   200.000000     1.400000     0.070000     0.885000


# version 30001

data_micrographs

loop_
_rlnMicrographName #1
_rlnOpticsGroup #2
_rlnCtfImage #3
_rlnDefocusU #4
_rlnDefocusV #5
_rlnCtfAstigmatism #6
_rlnDefocusAngle #7
_rlnCtfFigureOfMerit #8
_rlnCtfMaxResolution #9
MotionCorr/job002/Movies/mic_0000.mrc 1 CtfFind/job003/Movies/mic_0000.ctf:mrc 10864.146484 10575.793945 288.352539 77.995003 0.131144 4.809192
MotionCorr/job002/Movies/mic_0001.mrc 1 CtfFind/job003/Movies/mic_0001.ctf:mrc 21000.500000 20500.250000 500.250000 -12.500000 0.120000 5.100000
"""

# RELION 3.0: one block, the optics on every row.
RELION30 = """
data_

loop_
_rlnMicrographName #1
_rlnCtfImage #2
_rlnDefocusU #3
_rlnDefocusV #4
_rlnDefocusAngle #5
_rlnVoltage #6
_rlnSphericalAberration #7
_rlnAmplitudeContrast #8
Micrographs/a.mrc Micrographs/a.ctf:mrc 15000.0 14000.0 30.0 300.0 2.7 0.1
Micrographs/b.mrc Micrographs/b.ctf:mrc 16000.0 15500.0 45.0 300.0 2.7 0.1
"""


def _write(tmp_path: Path, text: str, name: str = "micrographs_ctf.star") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_relion31_file_gives_each_micrograph_its_ctf_and_the_optics(tmp_path: Path) -> None:
    table = read_ctf_star(_write(tmp_path, RELION31))
    assert list(table.per_micrograph.index) == ["mic_0000", "mic_0001"]
    assert table.columns == ["rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle", "rlnCtfMaxResolution",
                             "rlnCtfFigureOfMerit", "rlnCtfAstigmatism"]
    row = table.per_micrograph.loc["mic_0001"]
    assert (row["rlnDefocusU"], row["rlnDefocusV"], row["rlnDefocusAngle"]) == (21000.5, 20500.25, -12.5)
    assert table.optics == {"voltage_kv": 200.0, "cs_mm": 1.4, "amplitude_contrast": 0.07}
    assert table.missing(["mic_0000", "mic_0002"]) == ["mic_0002"]


def test_relion30_file_takes_the_optics_from_the_rows(tmp_path: Path) -> None:
    table = read_ctf_star(_write(tmp_path, RELION30))
    assert list(table.per_micrograph.index) == ["a", "b"]
    assert table.columns == ["rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle"]
    assert table.optics == {"voltage_kv": 300.0, "cs_mm": 2.7, "amplitude_contrast": 0.1}


def test_a_ctf_file_is_told_from_a_plain_micrographs_list(tmp_path: Path) -> None:
    plain = "data_\nloop_\n_rlnMicrographName #1\nMicrographs/a.mrc\n"
    table = ctf_of_micrographs_star(_write(tmp_path, RELION31))
    assert table is not None and list(table.per_micrograph.index) == ["mic_0000", "mic_0001"]
    assert ctf_of_micrographs_star(_write(tmp_path, plain, "corrected_micrographs.star")) is None
    assert ctf_of_micrographs_star(tmp_path / "missing.star") is None
    assert ctf_of_micrographs_star(_write(tmp_path, "not a star file {", "broken.star")) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("data_\nloop_\n_rlnMicrographName #1\nMicrographs/a.mrc\n", "no block has rlnMicrographName"),
        (RELION30.replace("15000.0 14000.0", "15000.0 nan"), "no number for rlnDefocusV"),
        (RELION30.replace("15000.0 14000.0", "-15000.0 14000.0"), "negative defocus"),
        (RELION30 + "Micrographs/a.mrc Micrographs/a.ctf:mrc 9000.0 9000.0 0.0 300.0 2.7 0.1\n",
         "listed twice with different CTFs"),
        (RELION30.replace("16000.0 15500.0 45.0 300.0", "16000.0 15500.0 45.0 200.0"), "different rlnVoltage"),
    ],
)
def test_bad_ctf_files_are_one_line_errors_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CryopickError) as caught:
        read_ctf_star(path)
    assert message in str(caught.value) and str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_ctf_file_says_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(CryopickError, match="CTF file not found.*CtfFind"):
        read_ctf_star(tmp_path / "nope.star")
    with pytest.raises(CryopickError, match="is a folder, not a CTF file.*CtfFind"):
        read_ctf_star(tmp_path)


def test_the_same_row_twice_is_fine(tmp_path: Path) -> None:
    line = RELION30.strip().splitlines()[-1]
    table = read_ctf_star(_write(tmp_path, RELION30 + line + "\n"))
    assert list(table.per_micrograph.index) == ["a", "b"]
