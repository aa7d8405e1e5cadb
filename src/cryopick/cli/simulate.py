"""cryopick simulate: micrographs with truth, made as a microscope makes them."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from cryopick.cli._common import console
from cryopick.errors import CryopickError
from cryopick.simulate import CROWDING_PRESETS, JUNK_PRESETS, SimulationConfig, simulate_dataset
from cryopick.simulate.structures import builtin_names


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
    out: Path = typer.Argument(..., help="Output folder (created; re-running skips finished micrographs)."),
    n: int = typer.Option(10, "--n", help="Number of micrographs."),
    size: str = typer.Option("1024", "--size", help="N for N x N pixels, or WIDTHxHEIGHT (e.g. 5760x4092)."),
    apix: float = typer.Option(4.0, "--apix", help="Pixel size in Å/px."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same files."),
    structure: list[str] | None = typer.Option(
        None, "--structure", "-s",
        help=f"Particle structure, repeatable: a builtin ({', '.join(builtin_names())}) or a .pdb/.cif/.mrc "
        "file. Default: the first builtin.",
    ),
    apix_map: float | None = typer.Option(
        None, "--apix-map", help="Voxel size in Å of a --structure map whose header has none."
    ),
    snr: float | None = typer.Option(
        None, "--snr", help="Signal-to-noise ratio per pixel (see docs/simulator.md); default: from --dose."
    ),
    dose: float = typer.Option(40.0, "--dose", help="Electron dose in e/Å² (used when --snr is not given)."),
    junk: str = typer.Option("some", "--junk", help="Ice, carbon edges, dots, aggregates: none, some or lots."),
    crowding: str = typer.Option("normal", "--crowding", help="Particle density: sparse, normal or crowded."),
    particles: str | None = typer.Option(
        None, "--particles", help="Particles per micrograph as LOW-HIGH (overrides --crowding's density)."
    ),
    defocus: str = typer.Option("0.8-2.5", "--defocus", help="Defocus range in µm (underfocus), LOW-HIGH."),
    label_fraction: float = typer.Option(1.0, "--label-fraction", help="Fraction of particles in labels.star."),
    wrong_label_fraction: float = typer.Option(
        0.0, "--wrong-label-fraction", help="Fraction of labels placed on junk or background instead."
    ),
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
    shape = parse_size(size)
    config = SimulationConfig.with_presets(
        crowding=_choice(crowding, CROWDING_PRESETS, "--crowding"),
        junk=_choice(junk, JUNK_PRESETS, "--junk"),
        n_micrographs=n,
        shape=shape,
        apix=apix,
        structures=tuple(structure or ()),
        apix_map=apix_map,
        particles_per_micrograph=None if particles is None else tuple(
            int(v) for v in parse_range(particles, "--particles", "particles")),
        snr=snr,
        dose_e_per_A2=dose,
        defocus_range_um=parse_range(defocus, "--defocus", "µm"),
        label_fraction=label_fraction,
        wrong_label_fraction=wrong_label_fraction,
        seed=seed,
    )
    progress = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=console, transient=True, disable=not console.is_terminal)
    with progress:
        task = progress.add_task("simulating", total=config.n_micrographs)
        summary = simulate_dataset(out, config, progress=lambda done, total: progress.update(task, completed=done))
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
