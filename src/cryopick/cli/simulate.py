"""cryopick simulate: micrographs with truth, made as a microscope makes them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from cryopick.cli._common import console
from cryopick.errors import CryopickError
from cryopick.simulate.builtins import BUILTINS

if TYPE_CHECKING:
    from cryopick.simulate.config import SimulationConfig
    from cryopick.simulate.dataset import SimulationSummary

Out = Annotated[Path, typer.Argument(help="Output folder (created; re-running skips finished micrographs).")]
N = Annotated[int, typer.Option("--n", help="Number of micrographs.")]
Size = Annotated[str, typer.Option("--size", help="N for N x N pixels, or WIDTHxHEIGHT (e.g. 5760x4092).")]
Apix = Annotated[float, typer.Option("--apix", help="Pixel size in Å/px.")]
Seed = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same files.")]
Structure = Annotated[Optional[list[str]], typer.Option(
    "--structure", "-s",
    help=f"Particle structure, repeatable: a builtin ({', '.join(BUILTINS)}) or a .pdb/.cif/.mrc "
    "file. Default: the first builtin.")]
ApixMap = Annotated[Optional[float], typer.Option(
    "--apix-map", help="Voxel size in Å of a --structure map whose header has none.")]
Snr = Annotated[Optional[float], typer.Option(
    "--snr", help="Signal-to-noise ratio per pixel (see docs/simulator.md); default: from --dose.")]
Dose = Annotated[float, typer.Option("--dose", help="Electron dose in e/Å² (used when --snr is not given).")]
Junk = Annotated[str, typer.Option("--junk", help="Ice, carbon edges, dots, aggregates: none, some or lots.")]
Crowding = Annotated[str, typer.Option("--crowding", help="Particle density: sparse, normal or crowded.")]
Particles = Annotated[Optional[str], typer.Option(
    "--particles", help="Particles per micrograph as LOW-HIGH (overrides --crowding's density).")]
Defocus = Annotated[str, typer.Option("--defocus", help="Defocus range in µm (underfocus), LOW-HIGH.")]
LabelFraction = Annotated[float, typer.Option(
    "--label-fraction", help="Fraction of particles in labels.star.")]
WrongLabelFraction = Annotated[float, typer.Option(
    "--wrong-label-fraction", help="Fraction of labels placed on junk or background instead.")]


def parse_size(size: str) -> tuple[int, int]:
    """``"1024"`` -> (1024, 1024); ``"5760x4092"`` (WIDTHxHEIGHT) -> (4092, 5760) as (ny, nx)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX*,]\s*(\d+))?\s*", size)
    if not match:
        raise CryopickError(f"cannot read --size {size!r}",
                            fix="give N for N x N pixels or WIDTHxHEIGHT, e.g. 5760x4092")
    width = int(match.group(1))
    height = int(match.group(2)) if match.group(2) else width
    if width < 32 or height < 32:
        raise CryopickError(f"--size {size} is too small", fix="give at least 32 pixels per side, e.g. --size 1024")
    return height, width


def parse_range(text: str, flag: str, unit: str) -> tuple[float, float]:
    """``"0.8-2.5"`` or ``"1.5"`` -> (low, high)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*(?:[-:,]\s*([0-9.]+))?\s*", text)
    try:
        low = float(match.group(1))  # type: ignore[union-attr]
        high = float(match.group(2)) if match.group(2) else low  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        raise CryopickError(f"cannot read {flag} {text!r}", fix=f"give LOW-HIGH in {unit}, e.g. 0.8-2.5") from None
    return low, high


def _choice(value: str, choices: dict, flag: str) -> str:
    value = value.lower()
    if value not in choices:
        raise CryopickError(f"unknown {flag} {value!r}", fix=f"use one of {', '.join(choices)}")
    return value


def simulate_command(
    out: Out, n: N = 10, size: Size = "1024", apix: Apix = 4.0, seed: Seed = 0, structure: Structure = None,
    apix_map: ApixMap = None, snr: Snr = None, dose: Dose = 40.0, junk: Junk = "some", crowding: Crowding = "normal",
    particles: Particles = None, defocus: Defocus = "0.8-2.5", label_fraction: LabelFraction = 1.0,
    wrong_label_fraction: WrongLabelFraction = 0.0,
) -> None:
    """Simulate micrographs with their truth: particles, junk, CTF, ice, noise.

    Example:

        cryopick simulate sim/ --n 10 --size 1024 --apix 4 --seed 0

    Writes into the output folder:
    micrographs/*.mrc (float32, with the pixel size);
    truth.star (the good particles);
    objects.csv (every object and its kind: particle, aggregate, ice, dot,
    carbon_edge);
    labels.star and labels_wrong.csv (training labels: --label-fraction of
    the particles, --wrong-label-fraction of them on junk or background);
    micrographs.star (defocus per micrograph) and simulation.json.

    Non-square micrographs: --size 5760x4092 (WIDTHxHEIGHT). Hard data:

        cryopick simulate hard/ --crowding crowded --junk lots --snr 0.02

    The same seed gives the same files; micrograph i does not depend on --n.
    Physics, every parameter and the SNR definition: docs/simulator.md.
    """
    from cryopick.simulate.config import CROWDING_PRESETS, SimulationConfig
    from cryopick.simulate.nuisances import JUNK_PRESETS

    shape = parse_size(size)
    config = SimulationConfig.with_presets(
        crowding=_choice(crowding, CROWDING_PRESETS, "--crowding"), junk=_choice(junk, JUNK_PRESETS, "--junk"),
        n_micrographs=n, shape=shape, apix=apix, structures=tuple(structure or ()), apix_map=apix_map,
        particles_per_micrograph=None if particles is None else tuple(
            int(v) for v in parse_range(particles, "--particles", "particles")),
        snr=snr, dose_e_per_A2=dose, defocus_range_um=parse_range(defocus, "--defocus", "µm"),
        label_fraction=label_fraction, wrong_label_fraction=wrong_label_fraction, seed=seed,
    )
    summary = _simulate_with_progress(out, config)
    _print_summary(summary, shape, apix, out)


def _simulate_with_progress(out: Path, config: SimulationConfig) -> SimulationSummary:
    """:func:`~cryopick.simulate.dataset.simulate_dataset` under a progress bar on standard error."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from cryopick.simulate.dataset import simulate_dataset

    progress = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=console, transient=True, disable=not console.is_terminal)
    with progress:
        task = progress.add_task("simulating", total=config.n_micrographs)
        return simulate_dataset(out, config, progress=lambda done, total: progress.update(task, completed=done))


def _print_summary(summary: SimulationSummary, shape: tuple[int, int], apix: float, out: Path) -> None:
    """What was made, as a two-column table, and where."""
    from rich.table import Table

    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("micrographs", f"{summary.n_micrographs} ({summary.n_simulated} new, {summary.n_skipped} kept) "
                  f"of {shape[1]}x{shape[0]} px at {apix} Å/px")
    table.add_row("particles", str(summary.n_particles))
    junk_counts = {k: v for k, v in summary.kinds.items() if k != "particle"}
    table.add_row("junk", ", ".join(f"{v} {k}" for k, v in junk_counts.items()) or "none")
    table.add_row("labels", f"{summary.n_labels} ({summary.n_wrong_labels} wrong)")
    table.add_row("time", f"{summary.seconds:.1f} s")
    console.print(table)
    console.print(f"-> {out}/ (truth.star, objects.csv, labels.star, micrographs.star, micrographs/)")
