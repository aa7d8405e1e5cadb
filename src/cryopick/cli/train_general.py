"""cryopick train-general: remake the bundled general model from scratch."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer

from cryopick.cli._common import console


def train_general_command(
    output: Path = typer.Option(..., "-o", "--output", help="Model file to write (e.g. general.cryopick)."),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Keep the simulated training data here (default: a temporary folder)."
    ),
    seed: int = typer.Option(2026, "--seed", help="Seed of the simulations (the bundled model used 2026)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when available), cpu, cuda or cuda:N."),
) -> None:
    """Train the general model on simulated data, as the bundled one was made.

    Example (the bundled model; about 5 minutes on 2 CPU cores):

        cryopick train-general -o src/cryopick/models/pretrained/general.cryopick

    Simulates micrographs of the structures small, 8zpm, 6qt9, ring5 and rod
    under four imaging conditions (pixel size, defocus, noise, crowding, ice
    and junk), labels every particle, gives the junk as known background, and
    trains the fully convolutional picker on them. See docs/general_model.md.
    """
    from dataclasses import replace

    from cryopick.pickers.fcn.general import GeneralRecipe, train_general_model

    recipe = GeneralRecipe(seed=seed)
    recipe = replace(recipe, train=replace(recipe.train, device=device))
    with tempfile.TemporaryDirectory() as tmp:
        result = train_general_model(recipe, workdir or Path(tmp), output, progress=console.print)
    console.print(f"trained the general model in {result.seconds:.0f} s: threshold {result.threshold:.3f} -> {output}")
