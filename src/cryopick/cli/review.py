"""cryopick review: a page to accept, reject and add picks by hand, then download them."""

from __future__ import annotations

from pathlib import Path

import typer

from cryopick.cli._common import check_format, check_positive, console, diameter_px_from
from cryopick.errors import CryopickError
from cryopick.io.coords import CoordOptions, read_coords
from cryopick.io.listing import list_micrographs
from cryopick.reports.figures import diameter_of
from cryopick.reports.review import ReviewConfig, write_review_page
from cryopick.runs.state import run_candidates, run_folder_for


def review_command(
    micrographs: list[str] = typer.Argument(
        ..., help="The micrographs to review (a few): files, folders, globs, @list.txt or a STAR file."
    ),
    picks: Path = typer.Option(..., "--picks", help="Picks (any supported format, or a folder of BOX/CBOX)."),
    output: Path = typer.Option(..., "-o", "--output", help="The HTML page to write."),
    diameter: float | None = typer.Option(
        None, "--diameter", "-d", help="Particle diameter in Å (default: the picks' own diameter)."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Candidates scoring at least this start as kept (default: the pick run's "
        "threshold, else every pick)."
    ),
    max_side: int = typer.Option(1024, "--max-side", help="Longest side of each displayed micrograph, px."),
    apix: float | None = typer.Option(None, "--apix", help="Pixel size in Å/px; overrides the file headers."),
    picks_format: str | None = typer.Option(None, "--picks-format", help="Format of --picks if not from suffix."),
) -> None:
    """Write a page to review picks by hand in a browser, and download them as STAR.

    Example:

        cryopick review 'mics/mic_000[0-2].mrc' --picks picks.star -o review.html

    Open the page in any browser (it is one file and loads nothing): a slider sets the
    threshold; click a pick to reject it or take it back, click a missed particle to
    add it, click an added pick to remove it. Decisions are kept in the browser. Then
    "Download reviewed.star" and fine-tune on what you kept:

        cryopick train 'mics/mic_000[0-2].mrc' --coords reviewed.star --diameter 150 --init general -o tuned.cryopick

    For picks written by `cryopick pick`, every candidate it kept (in PICKS.parts) is on
    the page and the slider starts at the run's threshold, so particles below it can be
    taken back too.
    """
    for value, flag in ((diameter, "--diameter"), (apix, "--apix")):
        check_positive(value, flag)
    paths = list_micrographs(micrographs)
    table = read_coords(picks, check_format(picks_format), CoordOptions(allow_empty=True))
    run = run_candidates(picks) if threshold is None else None
    if run is not None:
        table, threshold = run
        console.print(f"note: every candidate from {run_folder_for(picks)} is on the page; the slider starts at "
                      f"the pick run's threshold {threshold:.3g}", markup=False, soft_wrap=True)
    diameter_px = diameter_px_from(diameter, apix, paths)
    if diameter_px is None:
        diameter_px = diameter_of(table)
        if diameter_px is None:
            raise CryopickError("cannot tell how big the particles are", path=picks,
                                fix="pass --diameter in Å (these picks carry no diameter)")
    config = ReviewConfig(threshold=threshold, max_side_px=max_side, apix=apix)
    target = write_review_page(output, table, paths, diameter_px=diameter_px, config=config)
    console.print(f"review page of {len(paths)} micrograph(s) written to {target}; open it in a browser",
                  markup=False, soft_wrap=True)
