"""cryopick evaluate: precision, recall, F1 and AP of picks against truth."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from cryopick.cli._common import check_format, check_positive, console, say
from cryopick.cli._options import PicksFormat, TruthFormat

if TYPE_CHECKING:
    from cryopick.evaluation.metrics import Evaluation

Picks = Annotated[Path, typer.Option(
    "--picks", help="Picks to judge (any supported format, or a folder of BOX/CBOX).")]
Truth = Annotated[Path, typer.Option("--truth", help="True particle positions (any supported format).")]
Diameter = Annotated[Optional[float], typer.Option(
    "--diameter", "-d", help="Particle diameter in Å; the match radius is half of it.")]
RadiusPx = Annotated[Optional[float], typer.Option(
    "--radius-px", help="Match radius in pixels; overrides --diameter.")]
Apix = Annotated[Optional[float], typer.Option(
    "--apix", help="Pixel size in Å/px (else from --micrographs headers).")]
Threshold = Annotated[Optional[float], typer.Option(
    "--threshold", help="Judge only picks scoring at least this (the curve always uses all).")]
Micrographs = Annotated[Optional[list[str]], typer.Option(
    "--micrographs", "-m", help="Micrographs, to check names and bounds and to draw overlays.")]
Out = Annotated[Optional[Path], typer.Option(
    "--out", help="Folder for metrics.json, per_micrograph.csv, pr_curve.png and overlays.")]
Overlays = Annotated[int, typer.Option("--overlays", help="How many micrographs to draw into --out.")]
FlipY = Annotated[bool, typer.Option(
    "--flip-y", metavar="", help="Mirror the picks' y (y -> rows - 1 - y) before matching: for picks from a tool that counts "
    "rows from the bottom. Needs -m.")]
AsJson = Annotated[bool, typer.Option("--json", metavar="", help="Print the metrics as JSON on standard output.")]


def evaluate_command(
    picks: Picks, truth: Truth, diameter: Diameter = None, radius_px: RadiusPx = None, apix: Apix = None,
    threshold: Threshold = None, micrographs: Micrographs = None, out: Out = None, n_overlays: Overlays = 2,
    as_json: AsJson = False, picks_format: PicksFormat = None, truth_format: TruthFormat = None,
    flip_y: FlipY = False,
) -> None:
    """Match picks to truth one-to-one and report precision, recall, F1 and AP.

    Example:

        cryopick evaluate --picks picks.star --truth truth.star --diameter 150 -m mics/ --out report/

    A pick matches at most one true particle within the radius (Hungarian matching);
    the radius is half the particle diameter unless --radius-px says otherwise.
    """
    from cryopick.evaluation.job import EvaluateJob, evaluate_files

    for value, flag in ((diameter, "--diameter"), (radius_px, "--radius-px"), (apix, "--apix")):
        check_positive(value, flag)
    job = EvaluateJob(picks, truth, diameter_A=diameter, radius_px=radius_px, apix=apix, threshold=threshold,
                      micrographs=tuple(micrographs or ()), out=out, n_overlays=n_overlays,
                      picks_format=check_format(picks_format), truth_format=check_format(truth_format),
                      flip_y=flip_y)
    evaluate_files(job, say=say, show=_print_json if as_json else _print_summary)
    if out is not None:
        console.print(f"report written to {out}/")


def _print_json(result: Evaluation) -> None:
    typer.echo(json.dumps(result.to_dict(), indent=2))


def _print_summary(result: Evaluation) -> None:
    from rich.table import Table

    table = Table(title=f"picks vs truth (match radius {result.radius_px:.1f} px)")
    for column in ("picks", "truth", "matched", "precision", "recall", "F1", "AP", "best F1 (threshold)"):
        table.add_column(column, justify="right")
    table.add_row(
        str(result.n_picks),
        str(result.n_truth),
        str(result.n_matched),
        f"{result.precision:.3f}",
        f"{result.recall:.3f}",
        f"{result.f1:.3f}",
        f"{result.average_precision:.3f}",
        f"{result.best_f1:.3f} ({result.best_threshold:.3g})" if math.isfinite(result.best_threshold)
        else f"{result.best_f1:.3f} (n/a)",
    )
    console.print(table)
