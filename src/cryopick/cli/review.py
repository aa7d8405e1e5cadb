"""cryopick review: a page to accept, reject and add picks by hand, then download them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cryopick.cli._common import check_format, check_positive, say
from cryopick.cli._options import Apix, OwnDiameter, Picks, PicksFormat

Micrographs = Annotated[list[str], typer.Argument(
    help="The micrographs to review (a few): files, folders, globs, @list.txt or a STAR file.")]
Output = Annotated[Path, typer.Option("-o", "--output", help="The HTML page to write.")]
Threshold = Annotated[Optional[float], typer.Option(
    "--threshold", help="Candidates scoring at least this start as kept (default: the pick run's "
    "threshold, else every pick).")]
MaxSide = Annotated[int, typer.Option("--max-side", help="Longest side of each displayed micrograph, px.")]


def review_command(
    micrographs: Micrographs, picks: Picks, output: Output, diameter: OwnDiameter = None, threshold: Threshold = None,
    max_side: MaxSide = 1024, apix: Apix = None, picks_format: PicksFormat = None,
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
    from cryopick.reports.jobs import ReviewJob, review_files

    for value, flag in ((diameter, "--diameter"), (apix, "--apix")):
        check_positive(value, flag)
    job = ReviewJob(tuple(micrographs), picks, output, diameter_A=diameter, threshold=threshold,
                    max_side_px=max_side, apix=apix, picks_format=check_format(picks_format))
    page = review_files(job, say=say)
    say(f"review page of {page.n_micrographs} micrograph(s) written to {page.path}; open it in a browser")
