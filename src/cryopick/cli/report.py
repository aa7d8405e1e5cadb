"""cryopick report: one self-contained HTML page about a picking run."""

from __future__ import annotations

from pathlib import Path

import typer

from cryopick.cli._common import check_format, check_positive, console, diameter_px_from
from cryopick.errors import CryopickError
from cryopick.reports.html import ReportConfig, write_report
from cryopick.io.coords import CoordOptions, read_coords
from cryopick.io.listing import list_micrographs
from cryopick.runs.state import run_candidates, run_folder_for


def report_command(
    micrographs: list[str] | None = typer.Argument(
        None, help="The micrographs picked (files, folders, globs, @list.txt or a STAR file); some are drawn."
    ),
    picks: Path = typer.Option(..., "--picks", help="Picks (any supported format, or a folder of BOX/CBOX)."),
    output: Path = typer.Option(..., "-o", "--output", help="The HTML file to write."),
    truth: Path | None = typer.Option(None, "--truth", help="True particle positions: adds precision and recall."),
    model: Path | None = typer.Option(None, "--model", help="The model file that picked: adds its training curves."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Judge and draw only picks scoring at least this (default: the --model's "
        "threshold, else every pick)."
    ),
    diameter: float | None = typer.Option(
        None, "--diameter", "-d", help="Particle diameter in Å (default: the picks' own diameter)."
    ),
    apix: float | None = typer.Option(None, "--apix", help="Pixel size in Å/px; overrides the file headers."),
    thumbnails: int = typer.Option(6, "--thumbnails", help="How many micrographs to draw (chosen evenly)."),
    picks_format: str | None = typer.Option(None, "--picks-format", help="Format of --picks if not from suffix."),
    truth_format: str | None = typer.Option(None, "--truth-format", help="Format of --truth if not from suffix."),
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
    for value, flag in ((diameter, "--diameter"), (apix, "--apix")):
        check_positive(value, flag)
    if thumbnails < 0:
        raise CryopickError(f"--thumbnails must be 0 or more, got {thumbnails}", fix="give e.g. 6")
    paths = list_micrographs(micrographs) if micrographs else []
    picks_table = read_coords(picks, check_format(picks_format), CoordOptions(allow_empty=True))
    run = run_candidates(picks) if threshold is None and model is None else None
    if run is not None:
        # the pick run kept every candidate: show all their scores, and its threshold
        picks_table, threshold = run
        console.print(f"note: every candidate from {run_folder_for(picks)} is shown, with the pick run's "
                      f"threshold {threshold:.3g}", markup=False, soft_wrap=True)
    truth_table = None if truth is None else read_coords(truth, check_format(truth_format))
    training = None
    sources: dict[str, str] = {"picks": str(picks)}
    if model is not None:
        from cryopick.models.checkpoint import load_model  # torch only when a model is given

        loaded = load_model(model)
        training = loaded.training
        sources["model"] = f"{model} ({loaded.kind})"
        if threshold is None:
            threshold = loaded.threshold
    if truth is not None:
        sources["truth"] = str(truth)
    diameter_px = diameter_px_from(diameter, apix, paths)
    config = ReportConfig(max_thumbnails=thumbnails, threshold=threshold, diameter_px=diameter_px, apix=apix)
    write_report(output, picks_table, paths, truth=truth_table, training=training, config=config, sources=sources)
    what = f"{len(picks_table)} picks" if run is None else f"{len(picks_table)} candidates"
    console.print(f"report of {what} on {len(paths)} micrograph(s) written to {output}")
