"""Tomogram jobs (cryopick.tomo.jobs): picks over several tomograms, in parallel processes, on Dask, or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cryopick.tomo.jobs import TomoPickJob, pick_files  # noqa: E402
from cryopick.tomo.model_file import TomoModel, save_tomo_model  # noqa: E402
from cryopick.tomo.network import TomoFCN  # noqa: E402
from cryopick.tomo.volumes import write_tomogram  # noqa: E402


def test_two_workers_and_dask_write_the_same_bytes_as_one(tmp_path: Path) -> None:
    """Each tomogram is computed alone and the parts are joined in input order, whichever process ends first."""
    torch.manual_seed(3)
    network = TomoFCN()
    model = save_tomo_model(tmp_path / "m.cryopick", TomoModel(network.eval(), diameter_A=150.0, threshold=0.5))
    rng = np.random.default_rng(0)
    tomograms = [str(write_tomogram(tmp_path / f"t{i}.mrc", rng.normal(size=(24, 40 + 8 * i, 56)), apix=15.0))
                 for i in range(3)]  # of different sizes, so they take different times
    outputs = {}
    for workers, dask in ((1, None), (2, None), (2, "local")):
        out = tmp_path / f"w{workers}_{dask}.star"
        picks = pick_files(TomoPickJob(tuple(tomograms), out, model=model, all_peaks=True, workers=workers,
                                       dask=dask))
        assert len(picks) > 10 and set(picks["tomogram"]) == {"t0", "t1", "t2"}
        outputs[workers, dask] = out.read_bytes()
    assert outputs[1, None] == outputs[2, None] == outputs[2, "local"]
