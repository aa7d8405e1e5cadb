"""`cryopick train --model mlp|cnn`: the report's patch classifiers trained for a job.

The job is a :class:`~cryopick.pickers.train_job.TrainJob`. :func:`train_patch_job` cuts
the training patches (:func:`cryopick.pickers.patch.sampling.build_patch_set`), trains
(:func:`cryopick.pickers.patch.train.train_classifier`), logs about ten epochs and writes
the model file with the patch settings, so picking needs no option repeated.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from cryopick.io.micrographs import read_micrograph
from cryopick.models.checkpoint import save_model
from cryopick.pickers.patch.patches import PatchConfig
from cryopick.pickers.patch.sampling import build_patch_set
from cryopick.pickers.patch.train import EpochLog, PatchTrainConfig, train_classifier
from cryopick.pickers.train_job import Progress, Track, TrainJob, labelled_micrographs

LOGGED_EPOCHS = 10
"""About this many epochs are logged (the first, every tenth of the run, the last)."""


def patch_train_config(job: TrainJob) -> PatchTrainConfig:
    """The training configuration of a job: its options over the report's defaults (100 epochs, 0.1 held out)."""
    return PatchTrainConfig(
        model=job.model, seed=job.seed, device=job.device,
        **({} if job.epochs is None else {"epochs": job.epochs}),
        **({} if job.validation_fraction is None else {"validation_fraction": job.validation_fraction}),
    )


def train_patch_job(job: TrainJob, progress: Progress | None = None, track: Track | None = None) -> Path:
    """Train the report's ``job.model`` patch classifier and write its model file (see `cryopick train --help`).

    Parameters
    ----------
    job
        The options (``model`` ``"mlp"`` or ``"cnn"``).
    progress
        Gets the lines of the log: the labels, the examples, about ten epochs, the result.
    track
        Unused: the micrographs are read once, while the patches are cut.

    Returns
    -------
    Path
        The model file written (``job.output``).
    """
    say = progress or (lambda line: None)
    data = labelled_micrographs(job, say)
    patch_config = PatchConfig(scheme=job.scheme, seed=job.seed)
    mics = (read_micrograph(path, job.apix) for path in data.paths)
    patch_set = build_patch_set(mics, data.labels, job.diameter_A, patch_config)
    n_pos = int(patch_set.labels.sum())
    say(f"{len(patch_set.labels)} training examples ({n_pos} particle, {len(patch_set.labels) - n_pos} background)")
    config = patch_train_config(job)
    epochs = config.epochs
    every = max(1, epochs // LOGGED_EPOCHS)

    def report(log: EpochLog) -> None:
        if log.epoch == 1 or log.epoch % every == 0 or log.epoch == epochs:
            say(f"epoch {log.epoch:>4}/{epochs}  loss {log.train_loss:.4f}  acc {log.train_accuracy:.3f}  "
                f"val loss {log.val_loss:.4f}  val acc {log.val_accuracy:.3f}  ({log.seconds:.1f} s)")

    result = train_classifier(patch_set, config, progress=report)
    save_model(job.output, result.model, kind=job.model, arch=result.arch, patch_config=asdict(patch_config),
               diameter_A=job.diameter_A, training=result.summary())
    final = result.history[-1]
    say(f"trained {job.model} in {result.seconds:.0f} s: validation accuracy {final.val_accuracy:.3f} -> {job.output}")
    return job.output
