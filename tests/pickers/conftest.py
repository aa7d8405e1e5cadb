"""Shared by the training tests (test_train_job, test_training, fcn/ and patch/test_trainer): a TrainJob to vary."""

from __future__ import annotations

from pathlib import Path

from cryopick.pickers.train_job import TrainJob


def job(**changes) -> TrainJob:
    return TrainJob(("mics",), Path("labels.star"), 120.0, Path("model.cryopick"), **changes)
