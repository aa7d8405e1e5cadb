"""cryopick extract: cut picked particles into MRC stacks and a RELION 3.1 particles STAR file."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from cryopick.cli._common import check_format, check_positive, console
from cryopick.extract.particles import STACK_FOLDER, ExtractConfig, extract_particles
from cryopick.io.coords import CoordOptions, read_coords
from cryopick.io.ctf_star import CtfTable, ctf_of_micrographs_star, read_ctf_star
from cryopick.io.listing import list_micrographs


class Edge(str, Enum):
    skip = "skip"
    pad = "pad"


def extract_command(
    micrographs: list[str] = typer.Argument(
        ..., help="The micrographs the picks are on: files, folders, globs, @list.txt or a STAR file."
    ),
    picks: Path = typer.Option(..., "--picks", help="Picks (any supported format, or a folder of BOX/CBOX)."),
    output: Path = typer.Option(
        ..., "-o", "--output", help=f"Output folder: particles.star and {STACK_FOLDER}/<micrograph>.mrcs."
    ),
    box_size: int = typer.Option(..., "--box-size", help="Box side in pixels of the micrographs (even)."),
    rescale: int | None = typer.Option(
        None, "--rescale", help="Downsample each box to this side (even, at most --box-size) by Fourier cropping."
    ),
    invert: bool = typer.Option(
        True, "--invert/--no-invert", help="Make dark particles white, as RELION expects (cryo-EM: keep it on)."
    ),
    normalise: bool = typer.Option(
        True, "--normalise/--no-normalise", help="Background (outside the circle) to mean 0, std 1, as RELION does."
    ),
    ramp: bool = typer.Option(
        True, "--ramp/--no-ramp", help="Subtract the plane fitted to the background first, as RELION does by default."
    ),
    background_radius: float | None = typer.Option(
        None, "--background-radius", help="Particle circle radius in output pixels (default 75% of half the box)."
    ),
    edge: Edge = typer.Option(
        Edge.skip, "--edge", help="Boxes crossing the micrograph edge: skip them, or pad by mirroring the micrograph."
    ),
    ctf: Path | None = typer.Option(
        None, "--ctf", help="RELION's micrographs_ctf.star: each particle gets its micrograph's defocus (and the "
        "optics' voltage, Cs, amplitude contrast). Default: the micrographs STAR file, when it has a CTF."
    ),
    voltage: float | None = typer.Option(
        None, "--voltage", help="Acceleration voltage in kV (optics block; default: --ctf's, else 300)."
    ),
    cs: float | None = typer.Option(None, "--cs", help="Spherical aberration in mm (default: --ctf's, else 2.7)."),
    amplitude_contrast: float | None = typer.Option(
        None, "--amplitude-contrast", help="Amplitude contrast (default: --ctf's, else 0.1)."
    ),
    apix: float | None = typer.Option(None, "--apix", help="Pixel size in Å/px; overrides the file headers."),
    picks_format: str | None = typer.Option(None, "--picks-format", help="Format of --picks if not from the suffix."),
) -> None:
    """Extract particles for RELION: one .mrcs stack per micrograph and a particles STAR file.

    Example:

        cryopick extract mics/*.mrc --picks picks.star --box-size 256 --rescale 128 -o particles/

        cryopick extract CtfFind/job003/micrographs_ctf.star --picks picks.star --box-size 256 -o .

    Each box is centred on its pick (rounded to the nearest pixel), optionally
    downsampled by Fourier cropping (the pixel size grows by box/rescale), normalised
    so the background outside the circle is flat (a fitted plane subtracted) with mean
    0 and std 1, and inverted so
    particles are white. Paths in particles.star (images, and micrographs given by a
    relative path) are relative to the output folder, and RELION reads them from the
    folder it runs in, so write into the RELION
    project folder (-o . from there) or run RELION in the output folder; then import
    particles.star (Import, "Particles STAR file") or give it to 2D classification.
    Given RELION's micrographs_ctf.star (as the micrographs, or with --ctf), every
    particle carries its micrograph's CTF, as RELION's own extraction writes it, and
    the optics block takes the file's voltage, Cs and amplitude contrast. Without one,
    give those if they are not 300 kV, 2.7 mm and 0.1.
    """
    check_positive(apix, "--apix")
    ctf_table = _ctf_table(ctf, micrographs)
    optics = {} if ctf_table is None else ctf_table.optics
    given = {"voltage_kv": voltage, "cs_mm": cs, "amplitude_contrast": amplitude_contrast}
    config = ExtractConfig(
        box_size_px=box_size, rescale_px=rescale, invert=invert, normalise=normalise, ramp=ramp,
        background_radius_px=background_radius, edge=edge.value,
        **{field: value if value is not None else optics.get(field, getattr(ExtractConfig, field))
           for field, value in given.items()},
    )
    paths = list_micrographs(micrographs)
    table = read_coords(picks, check_format(picks_format), CoordOptions())
    result = extract_particles(paths, table, output / "particles.star", config, apix=apix, picks_source=picks,
                               ctf=ctf_table)
    if ctf_table is not None:
        console.print(f"CTF of each micrograph from {ctf_table.path}", markup=False, soft_wrap=True)
    if result.n_micrographs_left_out:
        console.print(f"note: {result.n_left_out} picks on {result.n_micrographs_left_out} micrograph(s) "
                      "not given are left out", soft_wrap=True)
    edge_note = (f"{result.n_skipped_edge} skipped at the edge" if edge is Edge.skip
                 else f"{result.n_padded} padded at the edge")
    console.print(f"{result.n_extracted} particles extracted ({edge_note}) from {len(result.stacks)} "
                  f"micrograph(s) -> {result.star_path}", markup=False, soft_wrap=True)


def _ctf_table(ctf: Path | None, micrographs: list[str]) -> CtfTable | None:
    """--ctf's table; else that of the one micrographs STAR file given, when it has a CTF; else None."""
    if ctf is not None:
        return read_ctf_star(ctf)
    return ctf_of_micrographs_star(Path(micrographs[0])) if len(micrographs) == 1 else None
