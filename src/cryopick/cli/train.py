"""cryopick train: teach a picker from labelled micrographs.

The options become a :class:`cryopick.pickers.train_job.TrainJob` and
:func:`cryopick.pickers.training.train_picker` does the rest. Only Typer and the
standard library are imported here, so ``cryopick --help`` stays quick.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class ModelKind(str, Enum):
    fcn = "fcn"
    mlp = "mlp"
    cnn = "cnn"


class Scheme(str, Enum):
    a = "a"
    b = "b"


Micrographs = Annotated[list[str], typer.Argument(
    help="Micrographs: files, folders, globs ('mics/*.mrc'), @list.txt or a STAR file listing them.")]
Coords = Annotated[Path, typer.Option(
    "--coords", "-c", help="Labelled particles (STAR, BOX folder, CBOX, TSV, CS, CSV).")]
Diameter = Annotated[float, typer.Option("--diameter", "-d", help="Particle diameter in Å.")]
Output = Annotated[Path, typer.Option("-o", "--output", help="Model file to write (e.g. model.cryopick).")]
Model = Annotated[ModelKind, typer.Option(
    "--model", help="fcn: the fully convolutional picker, learns from sparse and partly wrong labels; "
    "mlp: the report's 4096-256-256-1 perceptron; cnn: the report's VGG-style network.")]
SchemeOption = Annotated[Scheme, typer.Option(
    "--scheme", help="mlp/cnn examples: a = each particle and its 3 rotations; b = centred + offset crops.")]
Epochs = Annotated[int | None, typer.Option(
    "--epochs", help="fcn: most epochs per round (default 40; it stops by itself when converged); mlp/cnn: "
    "passes over the examples (default 100, as the report).")]
ValFraction = Annotated[float | None, typer.Option(
    "--val-fraction", help="Held out to decide when to stop / to measure accuracy: fcn, the bottom "
    "fraction of every micrograph (0.15); mlp/cnn, a fraction of the particles (0.1).")]
UncertainMasks = Annotated[Path | None, typer.Option(
    "--uncertain-masks", help="fcn: folder of masks named like the micrographs; non-zero pixels are "
    "ignored in training (regions nobody labelled carefully).")]
BackgroundMasks = Annotated[Path | None, typer.Option(
    "--background-masks", help="fcn: folder of masks named like the micrographs; non-zero pixels are "
    "certainly not particles (carbon, ice, empty areas).")]
MinLabelScore = Annotated[float | None, typer.Option(
    "--min-label-score", help="fcn: labels scoring below this (e.g. a picker's confidence) are ignored "
    "with their surroundings instead of learned from.")]
Prior = Annotated[float | None, typer.Option(
    "--prior", help="fcn: fraction of unlabeled pixels near a particle centre; default: estimated "
    "from the data (no need to know how many particles there are).")]
NoRotate = Annotated[bool, typer.Option("--no-rotate", metavar="", help="fcn: turn crops by multiples of 90 degrees only.")]
Init = Annotated[str | None, typer.Option(
    "--init", help="fcn: start from a model instead of from scratch: 'general' (the bundled general model; "
    "a few labelled micrographs then adapt it to your protein) or an fcn model file.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed for sampling, splitting and initialisation.")]
Device = Annotated[str, typer.Option("--device", help="auto (CUDA when available), cpu, cuda or cuda:N.")]
Apix = Annotated[float | None, typer.Option("--apix", help="Pixel size in Å/px; overrides the file headers.")]
CoordsFormat = Annotated[str | None, typer.Option(
    "--coords-format", help="Format of --coords if not from suffix.")]
FlipY = Annotated[bool, typer.Option(
    "--flip-y", metavar="", help="The labels count y from the bottom row: mirror them (training warns when labels look so).")]


def train_command(
    micrographs: Micrographs, coords: Coords, diameter_A: Diameter, output: Output, model: Model = ModelKind.fcn,
    scheme: SchemeOption = Scheme.a, epochs: Epochs = None, validation_fraction: ValFraction = None,
    uncertain_masks: UncertainMasks = None, background_masks: BackgroundMasks = None,
    min_label_score: MinLabelScore = None, prior: Prior = None, no_rotate: NoRotate = False, init: Init = None,
    seed: Seed = 0, device: Device = "auto", apix: Apix = None, coords_format: CoordsFormat = None,
    flip_y: FlipY = False,
) -> None:
    """Train a picker on labelled particles.

    Examples:

        cryopick train mics/*.mrc --coords labels.star --diameter 120 -o model.cryopick

        cryopick train mics/*.mrc --coords labels.star --diameter 120 --init general -o tuned.cryopick

        cryopick train mics/*.mrc --coords labels.star --diameter 120 --model mlp -o mlp.cryopick

    fcn (default): a fully convolutional network learns from a fraction of the particles,
    some labelled wrongly: everything unlabelled is treated as unknown (positive-unlabeled
    learning), the number of particles is estimated from the data, labels that look wrong
    are dropped, and training stops by itself when a held-out strip of every micrograph
    stops improving. Masks can mark regions as background or as uncertain.

    mlp / cnn: the report's patch classifiers: 64x64 crops of 1.35 diameters around labels
    and background, SGD (lr 0.001, momentum 0.9, batch 128).

    The model file carries the particle size and preprocessing, so
    `cryopick pick --model FILE` needs no training flags repeated.
    """
    from cryopick.cli._common import check_format, check_positive, progress_over, say
    from cryopick.pickers.train_job import TrainJob
    from cryopick.pickers.training import train_picker

    check_positive(diameter_A, "--diameter")
    check_positive(apix, "--apix")
    job = TrainJob(tuple(micrographs), coords, diameter_A, output, model=model.value, scheme=scheme.value,
                   epochs=epochs, validation_fraction=validation_fraction, uncertain_masks=uncertain_masks,
                   background_masks=background_masks, min_label_score=min_label_score, prior=prior,
                   rotate=not no_rotate, init=init, seed=seed, device=device, apix=apix, coords_format=coords_format,
                   flip_y=flip_y)
    check_format(coords_format)  # stricter than the reader (no 'txt'), as every command that takes --coords-format
    train_picker(job, progress=say, track=progress_over)
