"""Tests for cryopick.pickers.train_job and .training: the typed job of `cryopick train`, its checks, the registry."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from pathlib import Path

import numpy as np
import pytest

from cryopick.errors import CryopickError
from cryopick.io.micrographs import write_mrc
from cryopick.pickers.fcn.trainer import fcn_train_config
from cryopick.pickers.patch.trainer import patch_train_config
from cryopick.pickers.train_job import TrainJob, labelled_micrographs
from cryopick.pickers.training import TRAINERS, train_picker


def job(**changes) -> TrainJob:
    return TrainJob(("mics",), Path("labels.star"), 120.0, Path("model.cryopick"), **changes)


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


def test_every_model_kind_of_the_command_line_has_a_trainer() -> None:
    from cryopick.cli.train import ModelKind

    assert set(TRAINERS) == {kind.value for kind in ModelKind}


def test_a_new_trainer_is_one_registry_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = []

    def toy(made: TrainJob, progress, track) -> Path:
        calls.append(made.model)
        progress("toy trained")
        return made.output

    monkeypatch.setitem(TRAINERS, "toy", toy)
    lines: list[str] = []
    assert train_picker(job(model="toy"), progress=lines.append) == Path("model.cryopick")
    assert calls == ["toy"] and lines == ["toy trained"]
    with pytest.raises(CryopickError, match="unknown model kind 'svm'; fix: use one of: fcn, mlp, cnn"):
        train_picker(job(model="svm"))


def test_options_become_the_trainers_configurations() -> None:
    fcn = fcn_train_config(job(epochs=7, validation_fraction=0.2, prior=0.01, rotate=False, seed=3, device="cpu"))
    assert (fcn.max_epochs, fcn.validation_fraction, fcn.prior, fcn.rotate, fcn.seed, fcn.device) == (
        7, 0.2, 0.01, False, 3, "cpu")
    default = fcn_train_config(job())
    assert (default.max_epochs, default.validation_fraction, default.default_threshold) == (40, 0.15, 0.5)
    patch = patch_train_config(job(model="cnn", seed=2))
    assert (patch.model, patch.epochs, patch.validation_fraction, patch.seed) == ("cnn", 100, 0.1, 2)
    assert patch_train_config(job(model="mlp", epochs=5, validation_fraction=0.3)).epochs == 5


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
