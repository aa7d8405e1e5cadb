"""cryopick convert: move coordinates between RELION, EMAN2, crYOLO, Topaz, cryoSPARC and CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cryopick.cli._common import check_format, check_positive, console

Inputs = Annotated[list[Path], typer.Argument(help="Coordinate files, or a folder of per-micrograph files.")]
Output = Annotated[Path, typer.Option("-o", "--output", help="Output file, or folder for box/cbox.")]
To = Annotated[Optional[str], typer.Option(
    "--to", help="Output format: star, box, cbox, tsv, cs, csv (default: suffix).")]
From = Annotated[Optional[str], typer.Option("--from", help="Input format if the suffix does not say.")]
Micrographs = Annotated[Optional[list[str]], typer.Option(
    "--micrographs", "-m", help="The micrographs: checks names and bounds; gives shapes for CS and --flip-y.")]
Apix = Annotated[Optional[float], typer.Option(
    "--apix", help="Pixel size in Å/px, recorded where a format keeps it.")]
BoxSize = Annotated[Optional[float], typer.Option(
    "--box-size", help="Box size in pixels for BOX/CBOX (default: each pick's diameter).")]
FlipY = Annotated[bool, typer.Option("--flip-y", metavar="", help="Mirror y (rows counted from the bottom); needs -m.")]


def convert_command(
    inputs: Inputs, output: Output, to: To = None, from_: From = None, micrographs: Micrographs = None,
    apix: Apix = None, box_size_px: BoxSize = None, flip_y: FlipY = False,
) -> None:
    """Convert particle coordinates from one format to another.

    Example:

        cryopick convert picks.star --to box -o boxes/ --box-size 200

        cryopick convert particles.cs -o particles.star -m mics/

        cryopick convert picks.star --to star -o AutoPick/job001   # RELION's AutoPick layout

    Names match micrographs by file stem. y is flipped only when --flip-y is given.
    """
    from cryopick.io.convert import ConvertJob, convert_files

    check_positive(apix, "--apix")
    check_positive(box_size_px, "--box-size")
    job = ConvertJob(tuple(inputs), output, to_format=check_format(to), from_format=check_format(from_),
                     micrographs=tuple(micrographs or ()), apix=apix, box_size_px=box_size_px, flip_y=flip_y)
    result = convert_files(job)
    console.print(f"{result.n_coordinates} coordinates -> {len(result.written)} file(s) in {output}")
