"""The Typer application object that every subcommand registers on."""

from __future__ import annotations

import typer

from cryopick import __version__

app = typer.Typer(
    name="cryopick",
    help=(
        "Find protein particles in cryo-EM micrographs.\n\n"
        "Typical flow: [bold]simulate[/bold] (or bring micrographs) -> [bold]pick[/bold] -> "
        "[bold]evaluate[/bold]; [bold]convert[/bold] moves coordinates between RELION, EMAN2, "
        "crYOLO, Topaz and cryoSPARC formats. Coordinates are x = column, y = row of the "
        "micrograph array, in original pixels; --diameter is always in Å."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"cryopick {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Find protein particles in cryo-EM micrographs."""
