"""cryopick extract: cut picked particles into MRC stacks and a RELION 3.1 particles STAR file."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from cryopick.cli._common import check_format, check_positive, console
from cryopick.cli._options import Apix, MicrographsWithPicks, Picks
from cryopick.extract.layout import PARTICLES_STAR, STACK_FOLDER


class Edge(str, Enum):
    skip = "skip"
    pad = "pad"


Output = Annotated[Path, typer.Option(
    "-o", "--output", help=f"Output folder: {PARTICLES_STAR} and {STACK_FOLDER}/MICROGRAPH.mrcs.")]
BoxSize = Annotated[int, typer.Option("--box-size", help="Box side in pixels of the micrographs (even).")]
Rescale = Annotated[Optional[int], typer.Option(
    "--rescale", help="Downsample each box to this side (even, at most --box-size) by Fourier cropping.")]
Invert = Annotated[bool, typer.Option(
    "--invert/--no-invert", metavar="", help="Make dark particles white, as RELION expects (cryo-EM: keep it on).")]
Normalise = Annotated[bool, typer.Option(
    "--normalise/--no-normalise", metavar="", help="Background (outside the circle) to mean 0, std 1, as RELION does.")]
Ramp = Annotated[bool, typer.Option(
    "--ramp/--no-ramp", metavar="", help="Subtract the plane fitted to the background first, as RELION does by default.")]
BackgroundRadius = Annotated[Optional[float], typer.Option(
    "--background-radius", help="Particle circle radius in output pixels (default 75% of half the box).")]
EdgeOption = Annotated[Edge, typer.Option(
    "--edge", help="Boxes crossing the micrograph edge: skip them, or pad by mirroring the micrograph.")]
Ctf = Annotated[Optional[Path], typer.Option(
    "--ctf", help="RELION's micrographs_ctf.star: each particle gets its micrograph's defocus (and the "
    "optics' voltage, Cs, amplitude contrast). Default: the micrographs STAR file, when it has a CTF.")]
Voltage = Annotated[Optional[float], typer.Option(
    "--voltage", help="Acceleration voltage in kV (optics block; default: --ctf's, else 300).")]
Cs = Annotated[Optional[float], typer.Option(
    "--cs", help="Spherical aberration in mm (default: --ctf's, else 2.7).")]
AmplitudeContrast = Annotated[Optional[float], typer.Option(
    "--amplitude-contrast", help="Amplitude contrast (default: --ctf's, else 0.1).")]
PicksFormat = Annotated[Optional[str], typer.Option(
    "--picks-format", help="Format of --picks if not from the suffix.")]


def extract_command(
    micrographs: MicrographsWithPicks, picks: Picks, output: Output, box_size: BoxSize, rescale: Rescale = None,
    invert: Invert = True, normalise: Normalise = True, ramp: Ramp = True,
    background_radius: BackgroundRadius = None, edge: EdgeOption = Edge.skip, ctf: Ctf = None,
    voltage: Voltage = None, cs: Cs = None, amplitude_contrast: AmplitudeContrast = None, apix: Apix = None,
    picks_format: PicksFormat = None,
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
    from cryopick.extract.boxes import ExtractConfig
    from cryopick.extract.job import ExtractJob, extract_files

    check_positive(apix, "--apix")
    given = {"voltage_kv": voltage, "cs_mm": cs, "amplitude_contrast": amplitude_contrast}
    optics = {name: value for name, value in given.items() if value is not None}
    config = ExtractConfig(box_size, rescale_px=rescale, invert=invert, normalise=normalise, ramp=ramp,
                           background_radius_px=background_radius, edge=edge.value, **optics)
    job = ExtractJob(tuple(micrographs), picks, output, config, optics, ctf=ctf, apix=apix,
                     picks_format=check_format(picks_format))
    result = extract_files(job)
    if result.ctf_path is not None:
        console.print(f"CTF of each micrograph from {result.ctf_path}", markup=False, soft_wrap=True)
    if result.n_micrographs_left_out:
        console.print(f"note: {result.n_left_out} picks on {result.n_micrographs_left_out} micrograph(s) "
                      "not given are left out", soft_wrap=True)
    edge_note = (f"{result.n_skipped_edge} skipped at the edge" if edge is Edge.skip
                 else f"{result.n_padded} padded at the edge")
    console.print(f"{result.n_extracted} particles extracted ({edge_note}) from {len(result.stacks)} "
                  f"micrograph(s) -> {result.star_path}", markup=False, soft_wrap=True)
