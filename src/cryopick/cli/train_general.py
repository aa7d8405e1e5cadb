"""cryopick train-general: remake the bundled general model from scratch.

:func:`cryopick.pickers.fcn.general.remake_general_model` does the work; only Typer
and the standard library are imported here, so ``cryopick --help`` stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Output = Annotated[Path, typer.Option("-o", "--output", help="Model file to write (e.g. general.cryopick).")]
Workdir = Annotated[Path | None, typer.Option(
    "--workdir", help="Keep the simulated training data here (default: a temporary folder).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the simulations (the bundled model used 2026).")]
Device = Annotated[str, typer.Option("--device", help="auto (CUDA when available), cpu, cuda or cuda:N.")]


def train_general_command(output: Output, workdir: Workdir = None, seed: Seed = 2026, device: Device = "auto") -> None:
    """Train the general model on simulated data, as the bundled one was made.

    Example (the bundled model; about 5 minutes on 2 CPU cores):

        cryopick train-general -o src/cryopick/models/pretrained/general.cryopick

    Simulates micrographs of the structures small, 8zpm, 6qt9, ring5 and rod
    under four imaging conditions (pixel size, defocus, noise, crowding, ice
    and junk), labels every particle, gives the junk as known background, and
    trains the fully convolutional picker on them. See docs/general_model.md.
    """
    from cryopick.cli._common import console
    from cryopick.pickers.fcn.general import remake_general_model

    result = remake_general_model(output, workdir=workdir, seed=seed, device=device, progress=console.print)
    console.print(f"trained the general model in {result.seconds:.0f} s: threshold {result.threshold:.3f} -> {output}")
