"""The report page and the review page from files: the picks (or a pick run's candidates), truth and model named.

For picks written by ``cryopick pick``, both pages take every candidate the run kept
(``PICKS.parts``) and the run's threshold unless a threshold is given; the report says
what picked, from the run's record, and warns when ``--model`` names another model.

>>> report_files(ReportJob(Path("picks.star"), Path("report.html"), micrographs=("mics/",)))  # doctest: +SKIP
>>> review_files(ReviewJob(("mics/mic_0001.mrc",), Path("picks.star"), Path("review.html")))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.coords import CoordOptions, read_coords
from cryopick.io.listing import list_micrographs
from cryopick.io.micrographs import diameter_A_to_px
from cryopick.io.picks import typical_diameter_px
from cryopick.reports.html import ReportConfig, write_report
from cryopick.reports.review import ReviewConfig, write_review_page
from cryopick.runs.planning import model_checksum
from cryopick.runs.state import run_candidates, run_folder_for


def _quiet(_: str) -> None:
    """Say nothing."""


@dataclass(frozen=True)
class ReportJob:
    """What the report page is about.

    Attributes
    ----------
    picks
        The picks (any supported format, or a folder of BOX/CBOX).
    output
        The HTML file to write.
    micrographs
        Files, folders, globs, @lists or STAR files; some are drawn. Empty: none drawn.
    truth
        True particle positions: adds precision and recall.
    model
        The model file that picked: adds its training curves (and its threshold, when
        the picks carry no pick run's record).
    threshold
        Judge and draw only picks scoring at least this; None: the pick run's (showing
        every candidate), else the model's, else every pick.
    diameter_A
        Particle diameter in Å; None: the picks' own.
    apix
        Pixel size in Å/px, overriding the headers.
    max_thumbnails
        How many micrographs to draw (chosen evenly).
    picks_format, truth_format
        Formats of ``picks`` and ``truth``; None: from the suffix.
    """

    picks: Path
    output: Path
    micrographs: tuple[str, ...] = ()
    truth: Path | None = None
    model: Path | None = None
    threshold: float | None = None
    diameter_A: float | None = None
    apix: float | None = None
    max_thumbnails: int = 6
    picks_format: str | None = None
    truth_format: str | None = None


@dataclass(frozen=True)
class PageWritten:
    """A page written: where, about how many picks (or a run's candidates) on how many micrographs."""

    path: Path
    n_picks: int
    n_micrographs: int
    run_candidates: bool


def report_files(job: ReportJob, *, say: Callable[[str], None] = _quiet) -> PageWritten:
    """Write the report page (:func:`cryopick.reports.html.write_report`) about the job's files.

    ``say`` receives a note when a pick run's candidates are shown in place of the picks.
    """
    paths = list_micrographs(job.micrographs) if job.micrographs else []
    picks = read_coords(job.picks, job.picks_format, CoordOptions(allow_empty=True))
    threshold, threshold_from = job.threshold, "--threshold"
    run = run_candidates(job.picks) if threshold is None else None
    sources: dict[str, str] = {"picks": str(job.picks)}
    if run is not None:
        # the pick run kept every candidate: show all their scores, and its threshold
        picks, threshold = run.candidates, run.threshold
        threshold_from = "the pick run's" + ("" if run.threshold_from is None else f": {run.threshold_from}")
        say(f"note: every candidate from {run_folder_for(job.picks)} is shown, with the pick run's "
            f"threshold {threshold:.3g}")
        if run.picked_by is not None:
            sources["picked by"] = run.picked_by
    truth = None if job.truth is None else read_coords(job.truth, job.truth_format)
    training: Mapping[str, Any] | None = None
    if job.model is not None:
        from cryopick.models.checkpoint import load_model  # torch only when a model is given

        loaded = load_model(job.model)
        training = loaded.training
        sources["model"] = f"{job.model} ({loaded.kind})"
        if run is not None and run.picked_by is not None and run.model_sha256 != model_checksum(job.model):
            say(f"note: {job.picks} was picked by {run.picked_by or 'another model'}, not by {job.model}: "
                f"the page shows {job.model.name}'s training curves beside the pick run's threshold")
            sources["model"] += ": training curves only; it did not make these picks"
        if threshold is None:
            threshold, threshold_from = loaded.threshold, f"the model's own, stored in {job.model.name}"
    if threshold is not None:
        sources["threshold"] = f"{threshold:.3g} ({threshold_from})"
    if job.truth is not None:
        sources["truth"] = str(job.truth)
    config = ReportConfig(max_thumbnails=job.max_thumbnails, threshold=threshold,
                          diameter_px=diameter_A_to_px(job.diameter_A, job.apix, paths), apix=job.apix)
    write_report(job.output, picks, paths, truth=truth, training=training, config=config, sources=sources)
    return PageWritten(job.output, len(picks), len(paths), run is not None)


@dataclass(frozen=True)
class ReviewJob:
    """What the review page shows.

    Attributes
    ----------
    micrographs
        Files, folders, globs, @lists or STAR files of the (few) micrographs to review.
    picks
        The picks (any supported format, or a folder of BOX/CBOX).
    output
        The HTML page to write.
    diameter_A
        Particle diameter in Å; None: the picks' own.
    threshold
        Candidates scoring at least this start as kept; None: the pick run's (showing every
        candidate), else every pick.
    max_side_px
        Longest side of each displayed micrograph.
    apix
        Pixel size in Å/px, overriding the headers.
    picks_format
        Format of ``picks``; None: from the suffix.
    """

    micrographs: tuple[str, ...]
    picks: Path
    output: Path
    diameter_A: float | None = None
    threshold: float | None = None
    max_side_px: int = 1024
    apix: float | None = None
    picks_format: str | None = None


def review_files(job: ReviewJob, *, say: Callable[[str], None] = _quiet) -> PageWritten:
    """Write the review page (:func:`cryopick.reports.review.write_review_page`) for the job's files.

    ``say`` receives a note when a pick run's candidates are shown in place of the picks.

    Raises
    ------
    CryopickError
        Besides the page's own: no ``diameter_A`` and picks that carry no diameter.
    """
    paths = list_micrographs(job.micrographs)
    picks = read_coords(job.picks, job.picks_format, CoordOptions(allow_empty=True))
    threshold = job.threshold
    run = run_candidates(job.picks) if threshold is None else None
    if run is not None:
        picks, threshold = run.candidates, run.threshold
        say(f"note: every candidate from {run_folder_for(job.picks)} is on the page; the slider starts at "
            f"the pick run's threshold {threshold:.3g}")
    diameter_px = _review_diameter_px(job, paths, picks)
    config = ReviewConfig(threshold=threshold, max_side_px=job.max_side_px, apix=job.apix)
    target = write_review_page(job.output, picks, paths, diameter_px=diameter_px, config=config)
    return PageWritten(target, len(picks), len(paths), run is not None)


def _review_diameter_px(job: ReviewJob, paths: list[Path], picks: pd.DataFrame) -> float:
    """The circles' size: ``diameter_A`` in pixels, else the picks' typical diameter."""
    diameter_px = diameter_A_to_px(job.diameter_A, job.apix, paths)
    if diameter_px is None:
        diameter_px = typical_diameter_px(picks)
        if diameter_px is None:
            raise CryopickError("cannot tell how big the particles are", path=job.picks,
                                fix="pass --diameter in Å (these picks carry no diameter)")
    return diameter_px
