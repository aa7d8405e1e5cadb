"""The Typer application object that every subcommand registers on."""

from __future__ import annotations

import os
import sys

import typer
import typer.rich_utils

from cryopick import __version__

HELP_WIDTH_PIPED = 100
"""Columns of ``--help`` written to a pipe or file (a terminal uses its own width)."""

if typer.rich_utils.MAX_WIDTH is None and "COLUMNS" not in os.environ and not sys.stdout.isatty():
    # piped help at Rich's default of 80 columns cuts option names short (`--background-radi…`)
    typer.rich_utils.MAX_WIDTH = HELP_WIDTH_PIPED

app = typer.Typer(
    name="cryopick",
    help=(
        "Find protein particles in cryo-EM micrographs.\n\n"
        "Typical flow: **simulate** (or bring micrographs) -> **pick** -> "
        "**evaluate**; **convert** moves coordinates between RELION, EMAN2, "
        "crYOLO, Topaz and cryoSPARC formats. Coordinates are x = column, y = row of the "
        "micrograph array, in original pixels; --diameter is always in Å."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"cryopick {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", metavar="", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Find protein particles in cryo-EM micrographs."""
