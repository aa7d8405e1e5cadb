"""`cryopick train --model fcn`: the fully convolutional picker trained for a job.

The job is a :class:`~cryopick.pickers.train_job.TrainJob`. :func:`train_fcn_job` reads
the model to start from (``--init``, :func:`initial_network`) before any other work,
builds the training images (:func:`cryopick.pickers.fcn.images.training_images`), trains
(:func:`cryopick.pickers.fcn.train.train_fcn`) and writes the model file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryopick.errors import CryopickError
from cryopick.models.checkpoint import load_model
from cryopick.models.fcn import ParticleFCN
from cryopick.pickers.fcn.config import FCNTrainConfig
from cryopick.pickers.fcn.general import general_model_path
from cryopick.pickers.fcn.images import MASK_KINDS, training_images
from cryopick.pickers.fcn.train import save_fcn_model, train_fcn
from cryopick.pickers.label_check import LabelImage, label_warning
from cryopick.pickers.train_job import Progress, Track, TrainJob, labelled_micrographs

GENERAL_INIT = "general"
"""The ``--init`` value that names the bundled general model."""


@dataclass(frozen=True)
class InitialModel:
    """What ``--init`` starts from: the network, its threshold, and what the model file records (``source``)."""

    network: ParticleFCN
    threshold: float
    source: str


def initial_network(init: str, progress: Progress | None = None) -> InitialModel:
    """The model to fine-tune: the bundled general model (``"general"``) or an fcn model file.

    ``progress`` gets the line that says which one.

    Raises
    ------
    CryopickError
        The file cannot be read as a model, or holds another kind than ``"fcn"``.
    """
    general = init == GENERAL_INIT
    path = general_model_path() if general else Path(init)
    loaded = load_model(path)
    if loaded.kind != "fcn" or not isinstance(loaded.model, ParticleFCN):
        raise CryopickError(f"--init needs a fully convolutional model, this is a {loaded.kind!r} one", path=path,
                            fix="give --init general or a model trained with --model fcn")
    if progress is not None:
        progress(f"starting from {'the bundled general model' if general else path}")
    return InitialModel(loaded.model, float(loaded.threshold), GENERAL_INIT if general else str(init))


def fcn_train_config(job: TrainJob, initial: InitialModel | None = None) -> FCNTrainConfig:
    """The training configuration of a job: its options over the defaults; a fine-tuned
    model starts from its initial model's threshold."""
    return FCNTrainConfig(
        **({} if job.epochs is None else {"max_epochs": job.epochs}),
        **({} if job.validation_fraction is None else {"validation_fraction": job.validation_fraction}),
        prior=job.prior, rotate=job.rotate, seed=job.seed, device=job.device,
        **({} if initial is None else {"default_threshold": initial.threshold}),
    )


def train_fcn_job(job: TrainJob, progress: Progress | None = None, track: Track | None = None) -> Path:
    """Train the fully convolutional picker for ``job`` and write its model file (see `cryopick train --help`).

    Parameters
    ----------
    job
        The options (``model == "fcn"``).
    progress
        Gets every line of the log: the labels, the masks, each epoch and decision, the result.
    track
        Wraps the loop that prepares the micrographs (a progress bar).

    Returns
    -------
    Path
        The model file written (``job.output``).
    """
    say = progress or (lambda line: None)
    initial = None if job.init is None else initial_network(job.init, say)  # a bad --init fails before any work
    data = labelled_micrographs(job, say)
    config = fcn_train_config(job, initial)
    prepared = training_images(data.paths, data.labels, job.diameter_A, config, apix=job.apix,
                               uncertain_masks=job.uncertain_masks, background_masks=job.background_masks,
                               min_label_score=job.min_label_score, track=track)
    for kind, folder in zip(MASK_KINDS, (job.uncertain_masks, job.background_masks)):
        if folder is not None:
            say(f"{kind} masks: {prepared.masks_found[kind]} of {len(data.paths)} micrograph(s) have one in {folder}")
    if prepared.images:
        warning = label_warning([LabelImage(image.image, image.labels_xy) for image in prepared.images],
                                prepared.images[0].preprocessed.diameter_px)
        if warning is not None:
            say(warning)
    result = train_fcn(prepared.images, config, progress=say, initial=None if initial is None else initial.network)
    if initial is not None:
        result.notes["init"] = initial.source
    save_fcn_model(job.output, result, job.diameter_A)
    say(f"trained fcn in {result.seconds:.0f} s: about {result.n_particles_estimate:.0f} particles in the training "
        f"micrographs, {result.n_labels_dropped} of {result.n_labels} labels dropped as wrong -> {job.output}")
    return job.output
