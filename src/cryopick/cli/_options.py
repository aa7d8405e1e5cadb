"""Options several commands declare alike: one ``Annotated`` alias each, its flag and its help.

Standard library and typer only (every ``--help`` imports this).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

MicrographsWithPicks = Annotated[list[str], typer.Argument(
    help="The micrographs the picks are on: files, folders, globs, @list.txt or a STAR file.")]
Picks = Annotated[Path, typer.Option("--picks", help="Picks (any supported format, or a folder of BOX/CBOX).")]
PicksFormat = Annotated[Optional[str], typer.Option(
    "--picks-format", help="Format of --picks if not from suffix.")]
TruthFormat = Annotated[Optional[str], typer.Option(
    "--truth-format", help="Format of --truth if not from suffix.")]
Apix = Annotated[Optional[float], typer.Option("--apix", help="Pixel size in Å/px; overrides the file headers.")]
OwnDiameter = Annotated[Optional[float], typer.Option(
    "--diameter", "-d", help="Particle diameter in Å (default: the picks' own diameter).")]
