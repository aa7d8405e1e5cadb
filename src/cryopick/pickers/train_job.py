"""What `cryopick train` is asked to do: the typed job, its checks, and the labelled micrographs.

:class:`TrainJob` holds every option of `cryopick train` and checks them when made (the
messages name the command-line flags). Each trainer (:data:`cryopick.pickers.training.TRAINERS`)
reads its labelled micrographs with :func:`labelled_micrographs`, which prints the same
lines for every model kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.coords import mirror_y, read_coords
from cryopick.io.listing import list_micrographs
from cryopick.io.masks import check_mask_folder
from cryopick.io.micrographs import read_micrograph_info
from cryopick.io.picks import check_inside, check_names_match, keep_given, match_names

Progress = Callable[[str], None]
"""Receives each line a trainer reports (the command line prints them)."""

Track = Callable[[Sequence[Path], str], Iterable[Path]]
"""Wraps a loop over micrographs, e.g. in a progress bar: ``track(paths, description)``."""


@dataclass(frozen=True)
class TrainJob:
    """Every option of `cryopick train` (see its ``--help``); checked when made.

    Attributes
    ----------
    micrographs
        Files, folders, globs, ``@list.txt`` or STAR files naming the micrographs.
    coords
        The labelled particles (any coordinate format cryopick reads).
    diameter_A
        Particle diameter in Å.
    output
        The model file to write.
    model
        ``"fcn"``, ``"mlp"`` or ``"cnn"`` (a key of :data:`cryopick.pickers.training.TRAINERS`).
    scheme
        mlp/cnn: ``"a"`` (rotations) or ``"b"`` (offset crops).
    epochs
        fcn: most epochs per round; mlp/cnn: passes over the examples; None: the trainer's default.
    validation_fraction
        Held-out fraction (fcn: below 0.5; mlp/cnn: below 1); None: the trainer's default.
    uncertain_masks, background_masks
        fcn: folders of masks named like the micrographs.
    min_label_score
        fcn: labels scoring below this are ignored with their surroundings.
    prior
        fcn: fraction of unlabeled pixels near a particle centre, in (0, 1); None: estimated.
    rotate
        fcn: random rotation of crops (False: multiples of 90 degrees).
    init
        fcn: ``"general"`` or an fcn model file to start from; None: from scratch.
    seed, device
        Random seed; ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.
    apix
        Pixel size in Å/px overriding the headers.
    coords_format
        Format of ``coords`` when its suffix does not tell.
    flip_y
        The labels count y from the bottom row: mirror them as they are read.
    """

    micrographs: tuple[str, ...]
    coords: Path
    diameter_A: float
    output: Path
    model: str = "fcn"
    scheme: str = "a"
    epochs: int | None = None
    validation_fraction: float | None = None
    uncertain_masks: Path | None = None
    background_masks: Path | None = None
    min_label_score: float | None = None
    prior: float | None = None
    rotate: bool = True
    init: str | None = None
    seed: int = 0
    device: str = "auto"
    apix: float | None = None
    coords_format: str | None = None
    flip_y: bool = False

    def __post_init__(self) -> None:
        check_train_job(self)


def check_train_job(job: TrainJob) -> None:
    """Reject options that cannot work together, before any work; one error naming the flag.

    Raises
    ------
    CryopickError
        --epochs below 1; --val-fraction outside (0, 0.5) for fcn or (0, 1) otherwise;
        --init with a patch classifier; --prior outside (0, 1); a mask folder that is missing.
    """
    fcn = job.model == "fcn"
    if job.epochs is not None and job.epochs < 1:
        raise CryopickError(f"--epochs must be at least 1, got {job.epochs}", fix="give e.g. --epochs 100")
    if job.validation_fraction is not None and not 0.0 < job.validation_fraction < (0.5 if fcn else 1.0):
        raise CryopickError(
            f"--val-fraction must be between 0 and {0.5 if fcn else 1}, got {job.validation_fraction}",
            fix="give e.g. --val-fraction 0.15",
        )
    if job.init is not None and not fcn:
        raise CryopickError("--init works for --model fcn only", fix="leave out --init, or use --model fcn")
    if job.prior is not None and not 0.0 < job.prior < 1.0:
        raise CryopickError(f"--prior must be between 0 and 1, got {job.prior}", fix="leave it out to estimate it")
    for folder in (job.uncertain_masks, job.background_masks):
        if folder is not None:
            check_mask_folder(folder)


@dataclass(frozen=True)
class LabelledMicrographs:
    """The micrographs that have labels (in the order given) and their labels (a Picks table)."""

    paths: list[Path]
    labels: pd.DataFrame


def labelled_micrographs(job: TrainJob, progress: Progress | None = None) -> LabelledMicrographs:
    """List the job's micrographs, read its labels, keep those on given micrographs and check them.

    ``progress`` gets a note when labels name micrographs that were not given, then how
    many labelled particles lie in how many micrographs.

    Raises
    ------
    CryopickError
        A micrograph cannot be read, the labels cannot be read, name no given
        micrograph, or lie outside their micrograph.
    """
    say = progress or (lambda line: None)
    infos = [read_micrograph_info(path, job.apix) for path in list_micrographs(job.micrographs)]
    shapes = {info.name: info.shape for info in infos}
    labels = match_names(read_coords(job.coords, job.coords_format), shapes)
    labels, n_left_out, others = keep_given(labels, shapes)
    if others:
        say(f"note: {n_left_out} labels on {others} micrograph(s) not given are not used")
    check_names_match(labels, shapes, job.coords)
    if job.flip_y:
        labels = mirror_y(labels, shapes, job.coords)
    check_inside(labels, shapes, job.coords)
    named = set(labels["micrograph"])
    paths = [info.path for info in infos if info.name in named]
    say(f"{len(labels)} labelled particles in {len(paths)} of {len(infos)} micrograph(s)")
    return LabelledMicrographs(paths, labels)
