"""cryopick train: teach a picker from labelled micrographs."""

from __future__ import annotations

from dataclasses import asdict
from enum import Enum
from pathlib import Path

import typer

from cryopick.cli._common import check_format, check_positive, console, micrograph_infos
from cryopick.errors import CryopickError
from cryopick.io.coords import read_coords
from cryopick.io.masks import check_mask_folder
from cryopick.io.micrographs import read_micrograph
from cryopick.io.picks import check_inside, check_names_match, keep_given


class ModelKind(str, Enum):
    fcn = "fcn"
    mlp = "mlp"
    cnn = "cnn"


class Scheme(str, Enum):
    a = "a"
    b = "b"


def train_command(
    micrographs: list[str] = typer.Argument(
        ..., help="Micrographs: files, folders, globs ('mics/*.mrc'), @list.txt or a STAR file listing them."
    ),
    coords: Path = typer.Option(..., "--coords", "-c", help="Labelled particles (STAR, BOX folder, CBOX, TSV, CS, CSV)."),
    diameter: float = typer.Option(..., "--diameter", "-d", help="Particle diameter in Å."),
    output: Path = typer.Option(..., "-o", "--output", help="Model file to write (e.g. model.cryopick)."),
    model: ModelKind = typer.Option(
        ModelKind.fcn, "--model", help="fcn: the fully convolutional picker, learns from sparse and partly wrong labels; "
        "mlp: the report's 4096-256-256-1 perceptron; cnn: the report's VGG-style network."
    ),
    scheme: Scheme = typer.Option(
        Scheme.a, "--scheme", help="mlp/cnn examples: a = each particle and its 3 rotations; b = centred + offset crops."
    ),
    epochs: int | None = typer.Option(
        None, "--epochs", help="fcn: most epochs per round (default 40; it stops by itself when converged); mlp/cnn: "
        "passes over the examples (default 100, as the report)."
    ),
    validation_fraction: float | None = typer.Option(
        None, "--val-fraction", help="Held out to decide when to stop / to measure accuracy: fcn, the bottom "
        "fraction of every micrograph (0.15); mlp/cnn, a fraction of the particles (0.1)."
    ),
    uncertain_masks: Path | None = typer.Option(
        None, "--uncertain-masks", help="fcn: folder of masks named like the micrographs; non-zero pixels are "
        "ignored in training (regions nobody labelled carefully)."
    ),
    background_masks: Path | None = typer.Option(
        None, "--background-masks", help="fcn: folder of masks named like the micrographs; non-zero pixels are "
        "certainly not particles (carbon, ice, empty areas)."
    ),
    min_label_score: float | None = typer.Option(
        None, "--min-label-score", help="fcn: labels scoring below this (e.g. a picker's confidence) are ignored "
        "with their surroundings instead of learned from."
    ),
    prior: float | None = typer.Option(
        None, "--prior", help="fcn: fraction of unlabeled pixels near a particle centre; default: estimated "
        "from the data (no need to know how many particles there are)."
    ),
    no_rotate: bool = typer.Option(False, "--no-rotate", help="fcn: turn crops by multiples of 90 degrees only."),
    init: str | None = typer.Option(
        None, "--init", help="fcn: start from a model instead of from scratch: 'general' (the bundled general model; "
        "a few labelled micrographs then adapt it to your protein) or an fcn model file."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed for sampling, splitting and initialisation."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    apix: float | None = typer.Option(None, "--apix", help="Pixel size in Å/px; overrides the file headers."),
    coords_format: str | None = typer.Option(None, "--coords-format", help="Format of --coords if not from suffix."),
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
    check_positive(diameter, "--diameter")
    check_positive(apix, "--apix")
    if epochs is not None and epochs < 1:
        raise CryopickError(f"--epochs must be at least 1, got {epochs}", fix="give e.g. --epochs 100")
    if validation_fraction is not None and not 0.0 < validation_fraction < (0.5 if model is ModelKind.fcn else 1.0):
        raise CryopickError(
            f"--val-fraction must be between 0 and {0.5 if model is ModelKind.fcn else 1}, got {validation_fraction}",
            fix="give e.g. --val-fraction 0.15",
        )
    if init is not None and model is not ModelKind.fcn:
        raise CryopickError("--init works for --model fcn only", fix="leave out --init, or use --model fcn")
    if prior is not None and not 0.0 < prior < 1.0:
        raise CryopickError(f"--prior must be between 0 and 1, got {prior}", fix="leave it out to estimate it")
    for folder in (uncertain_masks, background_masks):
        if folder is not None:
            check_mask_folder(folder)
    initial = None
    if init is not None:  # read the model to start from first: a bad --init fails before any work
        from cryopick.cli._train_fcn import initial_network

        initial = initial_network(init)
    infos = micrograph_infos(micrographs, apix)
    shapes = {info.name: info.shape for info in infos}
    labels = read_coords(coords, check_format(coords_format))
    labels, n_left_out, others = keep_given(labels, shapes)
    if others:
        console.print(f"note: {n_left_out} labels on {others} micrograph(s) not given are not used")
    check_names_match(labels, shapes, coords)
    check_inside(labels, shapes, coords)
    named = set(labels["micrograph"])
    labelled = [info.path for info in infos if info.name in named]
    console.print(f"{len(labels)} labelled particles in {len(labelled)} of {len(infos)} micrograph(s)")
    if model is ModelKind.fcn:
        from cryopick.cli._train_fcn import train_fcn_command

        train_fcn_command(labelled, labels, diameter, output, apix=apix, max_epochs=epochs,
                          validation_fraction=validation_fraction, uncertain_masks=uncertain_masks,
                          background_masks=background_masks, min_label_score=min_label_score, prior=prior,
                          rotate=not no_rotate, seed=seed, device=device, initial=initial)
        return
    _train_patch_classifier(labelled, labels, diameter, output, model.value, scheme.value, epochs or 100,
                            validation_fraction or 0.1, seed, device, apix)


def _train_patch_classifier(labelled: list[Path], labels, diameter: float, output: Path, kind: str, scheme: str,
                            epochs: int, validation_fraction: float, seed: int, device: str,
                            apix: float | None) -> None:
    # torch is imported here, not at start-up, so other commands stay quick
    from cryopick.models.checkpoint import save_model
    from cryopick.pickers.patch.patches import PatchConfig
    from cryopick.pickers.patch.sampling import build_patch_set
    from cryopick.pickers.patch.train import EpochLog, PatchTrainConfig, train_classifier

    patch_config = PatchConfig(scheme=scheme, seed=seed)
    mics = (read_micrograph(path, apix) for path in labelled)
    patch_set = build_patch_set(mics, labels, diameter, patch_config)
    n_pos = int(patch_set.labels.sum())
    console.print(f"{len(patch_set.labels)} training examples ({n_pos} particle, {len(patch_set.labels) - n_pos} background)")

    config = PatchTrainConfig(model=kind, epochs=epochs, validation_fraction=validation_fraction, seed=seed, device=device)
    every = max(1, epochs // 10)

    def report(log: EpochLog) -> None:
        if log.epoch == 1 or log.epoch % every == 0 or log.epoch == epochs:
            console.print(
                f"epoch {log.epoch:>4}/{epochs}  loss {log.train_loss:.4f}  acc {log.train_accuracy:.3f}  "
                f"val loss {log.val_loss:.4f}  val acc {log.val_accuracy:.3f}  ({log.seconds:.1f} s)"
            )

    result = train_classifier(patch_set, config, progress=report)
    save_model(
        output,
        result.model,
        kind=kind,
        arch=result.arch,
        patch_config=asdict(patch_config),
        diameter_A=diameter,
        training=result.summary(),
    )
    final = result.history[-1]
    console.print(
        f"trained {kind} in {result.seconds:.0f} s: validation accuracy {final.val_accuracy:.3f} -> {output}"
    )
