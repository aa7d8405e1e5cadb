"""`cryopick train` as one library call: :func:`train_picker` runs a :class:`~cryopick.pickers.train_job.TrainJob`.

:data:`TRAINERS` maps each model kind to the function that trains it and writes its
model file; a new trainer is one module with such a function plus one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryopick.errors import CryopickError
from cryopick.pickers.fcn.trainer import train_fcn_job
from cryopick.pickers.patch.trainer import train_patch_job
from cryopick.pickers.train_job import Progress, Track, TrainJob

Trainer = Callable[[TrainJob, Progress | None, Track | None], Path]
"""Trains for a job and writes ``job.output``: ``trainer(job, progress, track)``; returns the model file."""

TRAINERS: dict[str, Trainer] = {
    "fcn": train_fcn_job,
    "mlp": train_patch_job,
    "cnn": train_patch_job,
}
"""Model kind (``--model``) -> its trainer."""


def train_picker(job: TrainJob, progress: Progress | None = None, track: Track | None = None) -> Path:
    """Train the picker ``job.model`` names on the job's labelled micrographs and write its model file.

    Parameters
    ----------
    job
        Every option of `cryopick train`, already checked.
    progress
        Gets each line of the log (the command line prints them).
    track
        Wraps loops over micrographs, e.g. in a progress bar.

    Returns
    -------
    Path
        The model file written.

    Raises
    ------
    CryopickError
        An unknown model kind, or any problem with the micrographs, labels, masks or
        ``--init`` model.
    """
    trainer = TRAINERS.get(job.model)
    if trainer is None:
        raise CryopickError(f"unknown model kind {job.model!r}", fix=f"use one of: {', '.join(TRAINERS)}")
    return trainer(job, progress, track)
