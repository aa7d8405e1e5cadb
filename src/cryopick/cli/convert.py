"""cryopick convert: move coordinates between RELION, EMAN2, crYOLO, Topaz, cryoSPARC and CSV."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from cryopick.cli._common import check_format, check_positive, console, micrograph_infos, write_picks
from cryopick.io.coords import CoordOptions, read_coords
from cryopick.io.picks import check_inside, check_names_match


def convert_command(
    inputs: list[Path] = typer.Argument(..., help="Coordinate files, or a folder of per-micrograph files."),
    output: Path = typer.Option(..., "-o", "--output", help="Output file, or folder for box/cbox."),
    to: str | None = typer.Option(None, "--to", help="Output format: star, box, cbox, tsv, cs, csv (default: suffix)."),
    from_: str | None = typer.Option(None, "--from", help="Input format if the suffix does not say."),
    micrographs: list[str] | None = typer.Option(
        None, "--micrographs", "-m", help="The micrographs: checks names and bounds; gives shapes for CS and --flip-y."
    ),
    apix: float | None = typer.Option(None, "--apix", help="Pixel size in Å/px, recorded where a format keeps it."),
    box_size_px: float | None = typer.Option(
        None, "--box-size", help="Box size in pixels for BOX/CBOX (default: each pick's diameter)."
    ),
    flip_y: bool = typer.Option(False, "--flip-y", help="Mirror y (rows counted from the bottom); needs -m."),
) -> None:
    """Convert particle coordinates from one format to another.

    Example:

        cryopick convert picks.star --to box -o boxes/ --box-size 200

        cryopick convert particles.cs -o particles.star -m mics/

        cryopick convert picks.star --to star -o AutoPick/job001   # RELION's AutoPick layout

    Names match micrographs by file stem. y is flipped only when --flip-y is given.
    """
    check_positive(apix, "--apix")
    check_positive(box_size_px, "--box-size")
    infos = micrograph_infos(micrographs, apix, require_apix=False) if micrographs else []
    shapes = {info.name: info.shape for info in infos} or None
    apix_known = apix if apix is not None else (infos[0].apix if infos else None)
    if apix_known is not None and not math.isfinite(apix_known):
        apix_known = None
    source = inputs[0] if len(inputs) == 1 else None
    picks = read_coords(inputs if len(inputs) > 1 else inputs[0], check_format(from_), CoordOptions(shapes=shapes))
    if shapes:
        check_names_match(picks, shapes, source)
        check_inside(picks, shapes, source)
    options = CoordOptions(box_size_px=box_size_px, flip_y=flip_y, shapes=shapes, apix=apix_known)
    written = write_picks(picks, output, check_format(to), options)
    console.print(f"{len(picks)} coordinates -> {len(written)} file(s) in {output}")
