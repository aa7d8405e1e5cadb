"""cryopick.pickers.patch.trainer: `cryopick train --model mlp|cnn`'s options, and a job through to its model file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cryopick.io.micrographs import write_mrc
from cryopick.models.checkpoint import load_model
from cryopick.pickers.patch.trainer import patch_train_config, train_patch_job
from cryopick.pickers.train_job import TrainJob
from tests.pickers.conftest import job


def test_options_become_the_patch_training_configuration() -> None:
    patch = patch_train_config(job(model="cnn", seed=2))
    assert (patch.model, patch.epochs, patch.validation_fraction, patch.seed) == ("cnn", 100, 0.1, 2)
    assert patch_train_config(job(model="mlp", epochs=5, validation_fraction=0.3)).epochs == 5


def test_a_job_writes_a_model_file_that_picks_with_its_patch_settings(tmp_path: Path) -> None:
    mics = tmp_path / "mics"
    mics.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:256, :256]
    rows = ["micrograph,x,y"]
    for name in ("a", "b"):
        image = rng.normal(0.0, 1.0, (256, 256)).astype(np.float32)
        for x, y in rng.uniform(30, 226, (6, 2)):
            image[(xx - x) ** 2 + (yy - y) ** 2 <= 15**2] -= 3.0  # 120 Å at 4 Å/px
            rows.append(f"{name},{x:.1f},{y:.1f}")
        write_mrc(mics / f"{name}.mrc", image, 4.0)
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    made = TrainJob((str(mics),), tmp_path / "labels.csv", 120.0, tmp_path / "m.cryopick", model="mlp", scheme="b",
                    epochs=2, seed=1, device="cpu")
    lines: list[str] = []
    assert train_patch_job(made, lines.append) == tmp_path / "m.cryopick"
    assert lines[0] == "12 labelled particles in 2 of 2 micrograph(s)"
    assert lines[1] == "96 training examples (48 particle, 48 background)"  # 4 crops a particle, as many negatives
    assert [line.split()[1] for line in lines[2:4]] == ["1/2", "2/2"]
    assert lines[-1].startswith("trained mlp in ") and lines[-1].endswith(f"-> {tmp_path / 'm.cryopick'}")
    loaded = load_model(tmp_path / "m.cryopick")
    assert (loaded.kind, loaded.diameter_A) == ("mlp", 120.0)
    assert loaded.settings["patch_config"]["scheme"] == "b" and loaded.settings["patch_config"]["seed"] == 1
    assert loaded.training["epochs"] == 2
