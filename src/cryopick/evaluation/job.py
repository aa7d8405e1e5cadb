"""Picks judged against truth from files: read, check against the micrographs, evaluate, write a report folder.

>>> result = evaluate_files(EvaluateJob(Path("picks.star"), Path("truth.star"), diameter_A=150,
...                                     micrographs=("mics/",), out=Path("report")))   # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.evaluation.matching import default_radius_px
from cryopick.evaluation.metrics import Evaluation, evaluate
from cryopick.evaluation.sanity import evaluation_warnings
from cryopick.io.atomic import write_text_atomic
from cryopick.io.coords import CoordOptions, mirror_y, read_coords
from cryopick.io.listing import micrograph_infos
from cryopick.io.micrographs import MicrographInfo, read_micrograph
from cryopick.io.picks import check_inside, check_names_match, keep_given, match_names, picks_for
from cryopick.reports.figures import plot_overlay, plot_pr_curve


@dataclass(frozen=True)
class EvaluateJob:
    """What to judge against what, and where the report goes.

    Attributes
    ----------
    picks, truth
        Coordinate files (any supported format, or a folder of BOX/CBOX).
    diameter_A
        Particle diameter in Å; the match radius is half of it.
    radius_px
        Match radius in pixels; overrides ``diameter_A``. With neither, half the
        truth's typical diameter, else the picks'
        (:func:`cryopick.evaluation.matching.default_radius_px`).
    apix
        Pixel size in Å/px; else from the micrographs' headers.
    threshold
        Judge only picks scoring at least this (the curve always uses all).
    micrographs
        Files, folders, globs, @lists or STAR files: names and bounds are checked, truth
        on other micrographs is left out, and the first ``n_overlays`` are drawn.
    out
        Folder for ``metrics.json``, ``per_micrograph.csv``, ``pr_curve.png`` and overlays.
    n_overlays
        How many micrographs to draw into ``out``.
    picks_format, truth_format
        Format names; None: from the suffix.
    flip_y
        Mirror the picks' y (``y -> ny - 1 - y``, ``ny`` from the micrographs) once their
        names are matched: for picks from a tool that counts rows from the bottom.
    """

    picks: Path
    truth: Path
    diameter_A: float | None = None
    radius_px: float | None = None
    apix: float | None = None
    threshold: float | None = None
    micrographs: tuple[str, ...] = ()
    out: Path | None = None
    n_overlays: int = 2
    picks_format: str | None = None
    truth_format: str | None = None
    flip_y: bool = False


def _quiet(_: object) -> None:
    """Say nothing."""


def evaluate_files(job: EvaluateJob, *, say: Callable[[str], None] = _quiet,
                   show: Callable[[Evaluation], None] = _quiet) -> Evaluation:
    """Judge the picks against the truth, and write the report folder if ``job.out`` is set.

    Parameters
    ----------
    job
        The files and settings.
    say
        Receives a note when truth on micrographs not given is left out.
    show
        Receives the metrics as soon as they are known, before the report folder is
        written (so they are seen even if writing fails).

    Raises
    ------
    CryopickError
        Unreadable files, names matching no micrograph (or, without micrographs, no
        name shared by picks and truth), coordinates outside their micrograph, or no way
        to tell the match radius.
    """
    infos = micrograph_infos(job.micrographs, job.apix, require_apix=False) if job.micrographs else []
    # A picker may find nothing; that is a result (precision 0), not an input error.
    picks = read_coords(job.picks, job.picks_format, CoordOptions(allow_empty=True))
    truth = read_coords(job.truth, job.truth_format)
    picks, truth = _checked(picks, truth, infos, job, say)
    if job.flip_y:  # after the names are matched, so that mic_0001_DW finds mic_0001's height
        picks = mirror_y(picks, {info.name: info.shape for info in infos} if infos else None, job.picks)
    radius = match_radius_px(job.radius_px, job.diameter_A, job.apix, infos, truth, picks)
    result = evaluate(picks, truth, radius, job.threshold)
    show(result)
    for line in evaluation_warnings(result, picks, truth, {info.name: info.shape for info in infos} or None):
        say(line)
    if job.out is not None:
        _write_report(job.out, result, infos, picks, truth, job.threshold, job.n_overlays)
    return result


def _checked(picks: pd.DataFrame, truth: pd.DataFrame, infos: list[MicrographInfo], job: EvaluateJob,
             say: Callable[[str], None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The picks and the truth to judge by (on the micrographs given, if any), checked against them.

    Names are matched by :func:`~cryopick.io.picks.match_names` (``mic_0001_DW`` finds
    ``mic_0001``): against the micrographs when given, else the picks against the truth.
    """
    if infos:
        shapes = {info.name: info.shape for info in infos}
        picks, truth = match_names(picks, shapes), match_names(truth, shapes)
        # Judge only the micrographs given: truth elsewhere would count as missed.
        truth, _, others = keep_given(truth, shapes)
        if others:
            say(f"note: truth on {others} micrograph(s) not given to --micrographs is left out")
        for table, source in ((picks, job.picks), (truth, job.truth)):
            check_names_match(table, shapes, source)
            check_inside(table, shapes, source)
        return picks, truth
    picks = match_names(picks, set(truth["micrograph"]))
    if not set(picks["micrograph"]) & set(truth["micrograph"]) and len(picks):
        raise CryopickError(
            "no micrograph name in the picks appears in the truth "
            f"(picks name e.g. {picks['micrograph'].iloc[0]}, truth e.g. {truth['micrograph'].iloc[0]})",
            path=job.picks,
            fix="names match by file stem (or without suffixes such as _DW): make the stems agree",
        )
    return picks, truth


def match_radius_px(
    radius_px: float | None,
    diameter_A: float | None,
    apix: float | None,
    infos: Sequence[MicrographInfo],
    truth: pd.DataFrame,
    picks: pd.DataFrame,
) -> float:
    """The match radius: ``radius_px``, else half of ``diameter_A`` in pixels, else :func:`default_radius_px`.

    The pixel size is ``apix``, else the first micrograph's.
    """
    if radius_px is not None:
        return radius_px
    if diameter_A is not None:
        pixel = apix if apix is not None else (infos[0].apix if infos else None)
        if pixel is None or not np.isfinite(pixel):
            raise CryopickError(
                "--diameter is in Å but the pixel size is unknown",
                fix="pass --apix, or --micrographs so it is read from the headers, or --radius-px",
            )
        return diameter_A / pixel / 2.0
    radius = default_radius_px(truth, picks)
    if radius is not None:
        return radius
    raise CryopickError(
        "cannot tell the particle size to set the match radius",
        fix="pass --diameter (Å) with --apix or --micrographs, or --radius-px",
    )


def _write_report(
    out: Path,
    result: Evaluation,
    infos: list[MicrographInfo],
    picks: pd.DataFrame,
    truth: pd.DataFrame,
    threshold: float | None,
    n_overlays: int,
) -> None:
    """``metrics.json``, ``per_micrograph.csv``, ``pr_curve.png`` and the first micrographs' overlays."""
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "metrics.json", json.dumps(result.to_dict(), indent=2))
    write_text_atomic(out / "per_micrograph.csv", result.per_micrograph.to_csv(index=False))
    plot_pr_curve({"picks": result.curve}, out / "pr_curve.png", title="Precision-recall against truth")
    kept = picks if threshold is None else picks.loc[picks["score"] >= threshold]
    diameter_px = 2.0 * result.radius_px
    for info in infos[: max(n_overlays, 0)]:
        mic = read_micrograph(info.path, info.apix, allow_nonfinite=True)
        plot_overlay(
            mic.data,
            out / f"overlay_{info.name}.png",
            picks=picks_for(kept, info.name),
            truth=picks_for(truth, info.name),
            diameter_px=diameter_px,
            title=info.name,
        )
