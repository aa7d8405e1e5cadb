"""cryopick.pickers.train_job: the typed job of `cryopick train`, its checks naming the flags, its labelled micrographs."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.micrographs import write_mrc
from cryopick.pickers.train_job import TrainJob, labelled_micrographs
from tests.pickers.conftest import job


@pytest.mark.parametrize(("changes", "message"), [
    ({"epochs": 0}, "--epochs must be at least 1, got 0; fix: give e.g. --epochs 100"),
    ({"validation_fraction": 0.5},
     "--val-fraction must be between 0 and 0.5, got 0.5; fix: give e.g. --val-fraction 0.15"),
    ({"validation_fraction": 0.0}, "--val-fraction must be between 0 and 0.5, got 0.0"),
    ({"validation_fraction": 1.0, "model": "mlp"}, "--val-fraction must be between 0 and 1, got 1.0"),
    ({"init": "general", "model": "cnn"},
     "--init works for --model fcn only; fix: leave out --init, or use --model fcn"),
    ({"prior": 1.0}, "--prior must be between 0 and 1, got 1.0; fix: leave it out to estimate it"),
    ({"prior": 0.0}, "--prior must be between 0 and 1, got 0.0"),
    ({"uncertain_masks": Path("no/such/folder")}, "mask folder not found"),
])
def test_the_job_rejects_options_that_cannot_work_naming_the_flag(changes: dict, message: str) -> None:
    with pytest.raises(CryopickError, match=re.escape(message)):
        job(**changes)


def test_a_sensible_job_is_kept_as_given_and_frozen() -> None:
    made = job(model="mlp", validation_fraction=0.6, epochs=3)
    assert (made.model, made.validation_fraction, made.epochs, made.rotate, made.device) == (
        "mlp", 0.6, 3, True, "auto")
    with pytest.raises(FrozenInstanceError):
        made.epochs = 4  # type: ignore[misc]


def test_labelled_micrographs_keeps_the_given_ones_and_says_so(tmp_path: Path) -> None:
    mics = tmp_path / "mics"
    mics.mkdir()
    for name in ("a", "b", "c"):
        write_mrc(mics / f"{name}.mrc", np.zeros((64, 80), np.float32), 2.0)
    labels = tmp_path / "labels.csv"
    labels.write_text("micrograph,x,y\na,10,10\na,20,30\nb,5,5\nd,1,1\n")
    lines: list[str] = []
    data = labelled_micrographs(TrainJob((str(mics),), labels, 40.0, tmp_path / "m.cryopick"), lines.append)
    assert [p.name for p in data.paths] == ["a.mrc", "b.mrc"]
    assert sorted(data.labels["micrograph"]) == ["a", "a", "b"]
    assert lines == ["note: 1 labels on 1 micrograph(s) not given are not used",
                     "3 labelled particles in 2 of 3 micrograph(s)"]
    labels.write_text("micrograph,x,y\na,500,10\n")
    with pytest.raises(CryopickError, match="outside"):
        labelled_micrographs(TrainJob((str(mics),), labels, 40.0, tmp_path / "m.cryopick"))


def test_flip_y_mirrors_the_labels_in_their_micrographs(tmp_path: Path) -> None:
    write_mrc(tmp_path / "a.mrc", np.zeros((64, 80), np.float32), 2.0)  # 64 rows
    labels = tmp_path / "labels.csv"
    labels.write_text("micrograph,x,y\na,10,10\na,20,60.5\n")
    data = labelled_micrographs(TrainJob((str(tmp_path / "a.mrc"),), labels, 40.0, tmp_path / "m.cryopick",
                                         flip_y=True))
    assert data.labels["y"].tolist() == [53.0, 2.5]
    assert data.labels["x"].tolist() == [10.0, 20.0]
