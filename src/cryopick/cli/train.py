"""cryopick train: teach a picker from labelled micrographs."""

from __future__ import annotations

from dataclasses import asdict
from enum import Enum
from pathlib import Path

import typer

from cryopick.cli._common import check_format, check_positive, console, micrograph_infos
from cryopick.errors import CryopickError
from cryopick.io.coords import read_coords
from cryopick.io.micrographs import read_micrograph
from cryopick.io.picks import check_inside, check_names_match, keep_given


class ModelKind(str, Enum):
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
        ModelKind.mlp, "--model", help="mlp: the report's 4096-256-256-1 perceptron; cnn: its VGG-style network."
    ),
    scheme: Scheme = typer.Option(
        Scheme.a, "--scheme", help="Training examples: a = each particle and its 3 rotations; b = centred + offset crops."
    ),
    epochs: int = typer.Option(100, "--epochs", help="Passes over the training examples (the report used 100)."),
    validation_fraction: float = typer.Option(
        0.1, "--val-fraction", help="Fraction of particles held out to measure accuracy each epoch."
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed for sampling, splitting and initialisation."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
    apix: float | None = typer.Option(None, "--apix", help="Pixel size in Å/px; overrides the file headers."),
    coords_format: str | None = typer.Option(None, "--coords-format", help="Format of --coords if not from suffix."),
) -> None:
    """Train the report's patch classifier (MLP or VGG-style CNN) on labelled particles.

    Example:

        cryopick train mics/*.mrc --coords labels.star --diameter 120 --model mlp -o mlp.cryopick

    Crops a box of 1.35 particle diameters around each labelled particle and around
    background, rescaled to 64x64 and to 0..1, and trains with SGD (lr 0.001, momentum
    0.9, batch 128) as the report did. Accuracy on held-out particles is printed as it
    goes. The model file carries the particle size and preprocessing, so
    `cryopick pick --model FILE` needs no training flags repeated.
    """
    # torch is imported here, not at start-up, so other commands stay quick
    from cryopick.models.checkpoint import save_model
    from cryopick.patches import PatchConfig, build_patch_set
    from cryopick.train import EpochLog, TrainConfig, train_classifier

    check_positive(diameter, "--diameter")
    check_positive(apix, "--apix")
    if epochs < 1:
        raise CryopickError(f"--epochs must be at least 1, got {epochs}", fix="give e.g. --epochs 100")
    if not 0.0 < validation_fraction < 1.0:
        raise CryopickError(
            f"--val-fraction must be between 0 and 1, got {validation_fraction}", fix="give e.g. --val-fraction 0.1"
        )
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

    patch_config = PatchConfig(scheme=scheme.value, seed=seed)
    mics = (read_micrograph(path, apix) for path in labelled)
    patch_set = build_patch_set(mics, labels, diameter, patch_config)
    n_pos = int(patch_set.labels.sum())
    console.print(f"{len(patch_set.labels)} training examples ({n_pos} particle, {len(patch_set.labels) - n_pos} background)")

    config = TrainConfig(
        model=model.value, epochs=epochs, validation_fraction=validation_fraction, seed=seed, device=device
    )
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
        kind=model.value,
        arch=result.arch,
        patch_config=asdict(patch_config),
        diameter_A=diameter,
        training=result.summary(),
    )
    final = result.history[-1]
    console.print(
        f"trained {model.value} in {result.seconds:.0f} s: validation accuracy {final.val_accuracy:.3f} -> {output}"
    )
