"""`cryopick simulate` and the package's public names (each part of the simulator: test_<module>.py beside this)."""

from __future__ import annotations

from pathlib import Path

import mrcfile
import pytest

import cryopick.simulate


def test_the_public_names_are_their_modules_own() -> None:
    from cryopick.simulate import config, dataset, labels, micrograph, nuisances

    assert cryopick.simulate.SimulationConfig is config.SimulationConfig
    assert cryopick.simulate.simulate_dataset is dataset.simulate_dataset
    assert cryopick.simulate.truth_picks is labels.truth_picks
    assert cryopick.simulate.simulate_micrograph is micrograph.simulate_micrograph
    assert cryopick.simulate.JUNK_PRESETS is nuisances.JUNK_PRESETS
    for name in cryopick.simulate.__all__:
        assert getattr(cryopick.simulate, name) is not None, name


# --- command line ---------------------------------------------------------------------


def test_command_line_simulates_and_reports_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cryopick.cli import main

    with pytest.raises(SystemExit) as ok:
        main(["simulate", str(tmp_path / "sim"), "--n", "2", "--size", "320x256", "--apix", "4", "--seed", "0",
              "--structure", "globular", "--junk", "none", "--label-fraction", "0.5"])
    assert not ok.value.code
    with mrcfile.open(tmp_path / "sim" / "micrographs" / "mic_0001.mrc") as mrc:
        assert mrc.data.shape == (256, 320)
    capsys.readouterr()
    for args, needle in ((["--n", "-1"], "number of micrographs"), (["--size", "0"], "size"),
                         (["--snr", "-1"], "SNR"), (["--wrong-label-fraction", "2"], "wrong label fraction"),
                         (["--structure", "nope"], "unknown structure"), (["--crowding", "packed"], "crowding")):
        with pytest.raises(SystemExit) as exit_:
            main(["simulate", str(tmp_path / "bad"), *args])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and needle in err and "fix:" in err and len(err.strip().splitlines()) == 1

