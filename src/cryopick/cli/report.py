"""cryopick report: one self-contained HTML page about a picking run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cryopick.cli._common import check_format, check_positive, console, say
from cryopick.cli._options import Apix, OwnDiameter, Picks, PicksFormat, TruthFormat
from cryopick.errors import CryopickError

Micrographs = Annotated[Optional[list[str]], typer.Argument(
    help="The micrographs picked (files, folders, globs, @list.txt or a STAR file); some are drawn.")]
Output = Annotated[Path, typer.Option("-o", "--output", help="The HTML file to write.")]
Truth = Annotated[Optional[Path], typer.Option(
    "--truth", help="True particle positions: adds precision and recall.")]
Model = Annotated[Optional[Path], typer.Option(
    "--model", help="The model file that picked: adds its training curves.")]
Threshold = Annotated[Optional[float], typer.Option(
    "--threshold", help="Judge and draw only picks scoring at least this (default: the --model's "
    "threshold, else every pick).")]
Thumbnails = Annotated[int, typer.Option("--thumbnails", help="How many micrographs to draw (chosen evenly).")]


def report_command(
    picks: Picks, output: Output, micrographs: Micrographs = None, truth: Truth = None, model: Model = None,
    threshold: Threshold = None, diameter: OwnDiameter = None, apix: Apix = None, thumbnails: Thumbnails = 6,
    picks_format: PicksFormat = None, truth_format: TruthFormat = None,
) -> None:
    """Write one HTML page: picks drawn on micrographs, scores, counts, truth and training.

    Example:

        cryopick report --picks picks.star mics/ --truth truth.star --model model.cryopick -o report.html

    The page is self-contained (pictures embedded, no links, no scripts): open it in any
    browser or mail it. For picks written by `cryopick pick`, every candidate it kept
    (in PICKS.parts) is shown with the run's threshold, unless --threshold or --model
    is given. Sections without their input (no micrographs, no --truth, no
    --model) are left out, with a line saying so.
    """
    from cryopick.reports.jobs import ReportJob, report_files

    for value, flag in ((diameter, "--diameter"), (apix, "--apix")):
        check_positive(value, flag)
    if thumbnails < 0:
        raise CryopickError(f"--thumbnails must be 0 or more, got {thumbnails}", fix="give e.g. 6")
    job = ReportJob(picks, output, micrographs=tuple(micrographs or ()), truth=truth, model=model,
                    threshold=threshold, diameter_A=diameter, apix=apix, max_thumbnails=thumbnails,
                    picks_format=check_format(picks_format), truth_format=check_format(truth_format))
    page = report_files(job, say=say)
    what = f"{page.n_picks} candidates" if page.run_candidates else f"{page.n_picks} picks"
    console.print(f"report of {what} on {page.n_micrographs} micrograph(s) written to {output}")
