"""cryopick.simulate.dataset: the files of a simulated dataset, micrograph i alone, re-runs, structures refused."""

from __future__ import annotations

import json
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile

from cryopick.errors import CryopickError
from cryopick.simulate.config import SimulationConfig
from cryopick.simulate.dataset import load_structures, simulate_dataset
from tests.simulate.conftest import ALL_JUNK, small


def test_micrograph_i_does_not_depend_on_the_number_of_micrographs(tmp_path: Path) -> None:
    config = small(label_fraction=0.5, wrong_label_fraction=0.2)
    simulate_dataset(tmp_path / "two", config.replace(n_micrographs=2))
    simulate_dataset(tmp_path / "three", config.replace(n_micrographs=3))
    for name in ("mic_0000", "mic_0001"):
        with mrcfile.open(tmp_path / "two" / "micrographs" / f"{name}.mrc") as a, \
                mrcfile.open(tmp_path / "three" / "micrographs" / f"{name}.mrc") as b:
            np.testing.assert_array_equal(a.data, b.data)
    for table in ("objects.csv", "labels_wrong.csv"):
        two = pd.read_csv(tmp_path / "two" / table)
        three = pd.read_csv(tmp_path / "three" / table)
        pd.testing.assert_frame_equal(two, three.loc[three["micrograph"] != "mic_0002"].reset_index(drop=True))


def test_dataset_files_exist_and_reload(tmp_path: Path) -> None:
    config = small(n_micrographs=2, junk=ALL_JUNK, label_fraction=0.5, wrong_label_fraction=0.25)
    summary = simulate_dataset(tmp_path, config)
    for name in ("truth.star", "objects.csv", "labels.star", "labels_wrong.csv", "micrographs.star",
                 "simulation.json"):
        assert (tmp_path / name).is_file(), name
    with mrcfile.open(tmp_path / "micrographs" / "mic_0001.mrc") as mrc:
        assert mrc.data.shape == (256, 320) and mrc.data.dtype == np.float32
        assert float(mrc.voxel_size.x) == pytest.approx(4.0)
    objects = pd.read_csv(tmp_path / "objects.csv")
    truth = starfile.read(tmp_path / "truth.star")
    truth = truth["particles"] if isinstance(truth, dict) else truth
    assert len(truth) == summary.n_particles == int((objects["kind"] == "particle").sum())
    good = objects.query("kind == 'particle'")
    np.testing.assert_allclose(np.sort(truth["rlnCoordinateX"].to_numpy()), np.sort(good["x"].to_numpy()))
    mics = starfile.read(tmp_path / "micrographs.star")
    info = json.loads((tmp_path / "simulation.json").read_text())
    assert info["config"]["apix"] == 4.0 and info["config_hash"] == config.image_hash()
    assert SimulationConfig.from_dict(info["config"]) == config
    np.testing.assert_allclose(mics["micrographs"]["rlnDefocusU"], [m["defocus_u_A"] for m in info["micrographs"]])
    assert float(mics["optics"]["rlnMicrographPixelSize"][0]) == 4.0
    # junk masks, named like the micrographs and of their (non-square) shape, as --background-masks reads them
    from cryopick.io.masks import find_mask, read_mask

    for name in ("mic_0000", "mic_0001"):
        mask = read_mask(find_mask(tmp_path / "junk_masks", name), (256, 320))
        assert 0 < mask.mean() < 1


def test_rerun_skips_finished_micrographs_and_redraws_only_labels(tmp_path: Path) -> None:
    config = small(n_micrographs=2, label_fraction=1.0)
    first = simulate_dataset(tmp_path, config)
    assert (first.n_simulated, first.n_skipped) == (2, 0)
    mrc = tmp_path / "micrographs" / "mic_0000.mrc"
    stamp = mrc.stat().st_mtime_ns
    again = simulate_dataset(tmp_path, config)
    assert (again.n_simulated, again.n_skipped) == (0, 2)
    assert mrc.stat().st_mtime_ns == stamp
    relabel = simulate_dataset(tmp_path, config.replace(label_fraction=0.5))
    assert relabel.n_skipped == 2 and relabel.n_labels == pytest.approx(0.5 * first.n_labels, abs=2)
    more = simulate_dataset(tmp_path, config.replace(n_micrographs=3))
    assert (more.n_simulated, more.n_skipped) == (1, 2)
    fewer = simulate_dataset(tmp_path, config.replace(n_micrographs=1))
    assert not (tmp_path / "micrographs" / "mic_0002.mrc").exists()
    assert fewer.n_micrographs == 1
    changed = simulate_dataset(tmp_path, config.replace(n_micrographs=1, dose_e_per_A2=80.0))
    assert changed.n_simulated == 1
    assert mrc.stat().st_mtime_ns != stamp


def test_unknown_or_unfitting_structure_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(CryopickError, match="unknown structure"):
        simulate_dataset(tmp_path, small(structures=("no_such_thing",)))
    with pytest.raises(CryopickError, match="does not fit"):
        load_structures(small(structures=("6qt9",), apix=1.0))
    bad = tmp_path / "broken.pdb"
    bad.write_text("this is not a structure\n")
    with pytest.raises(CryopickError):
        load_structures(small(structures=(str(bad),)))
