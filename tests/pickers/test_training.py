"""cryopick.pickers.training: the registry of trainers by model kind, one per command-line kind.

The job itself is tested in test_train_job.py, each trainer's options in fcn/ and patch/test_trainer.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cryopick.errors import CryopickError
from cryopick.pickers.train_job import TrainJob
from cryopick.pickers.training import TRAINERS, train_picker
from tests.pickers.conftest import job


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

