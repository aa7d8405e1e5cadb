"""cryopick evaluate: precision, recall, F1 and AP of picks against truth."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from cryopick.cli._common import check_format, check_positive, console, match_radius_px, micrograph_infos
from cryopick.errors import CryopickError
from cryopick.evaluation.metrics import Evaluation, evaluate
from cryopick.io.atomic import write_text_atomic
from cryopick.io.coords import CoordOptions, read_coords
from cryopick.io.micrographs import MicrographInfo, read_micrograph
from cryopick.io.picks import check_inside, check_names_match, keep_given, picks_for
from cryopick.reports.figures import plot_overlay, plot_pr_curve


def evaluate_command(
    picks: Path = typer.Option(..., "--picks", help="Picks to judge (any supported format, or a folder of BOX/CBOX)."),
    truth: Path = typer.Option(..., "--truth", help="True particle positions (any supported format)."),
    diameter: float | None = typer.Option(
        None, "--diameter", "-d", help="Particle diameter in Å; the match radius is half of it."
    ),
    radius_px: float | None = typer.Option(
        None, "--radius-px", help="Match radius in pixels; overrides --diameter."
    ),
    apix: float | None = typer.Option(None, "--apix", help="Pixel size in Å/px (else from --micrographs headers)."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Judge only picks scoring at least this (the curve always uses all)."
    ),
    micrographs: list[str] | None = typer.Option(
        None, "--micrographs", "-m", help="Micrographs, to check names and bounds and to draw overlays."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for metrics.json, per_micrograph.csv, pr_curve.png and overlays."
    ),
    n_overlays: int = typer.Option(2, "--overlays", help="How many micrographs to draw into --out."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON on standard output."),
    picks_format: str | None = typer.Option(None, "--picks-format", help="Format of --picks if not from suffix."),
    truth_format: str | None = typer.Option(None, "--truth-format", help="Format of --truth if not from suffix."),
) -> None:
    """Match picks to truth one-to-one and report precision, recall, F1 and AP.

    Example:

        cryopick evaluate --picks picks.star --truth truth.star --diameter 150 -m mics/ --out report/

    A pick matches at most one true particle within the radius (Hungarian matching);
    the radius is half the particle diameter unless --radius-px says otherwise.
    """
    for value, flag in ((diameter, "--diameter"), (radius_px, "--radius-px"), (apix, "--apix")):
        check_positive(value, flag)
    infos = micrograph_infos(micrographs, apix, require_apix=False) if micrographs else []
    shapes = {info.name: info.shape for info in infos}
    # A picker may find nothing; that is a result (precision 0), not an input error.
    picks_table = read_coords(picks, check_format(picks_format), CoordOptions(allow_empty=True))
    truth_table = read_coords(truth, check_format(truth_format))
    if infos:
        # Judge only the micrographs given: truth elsewhere would count as missed.
        truth_table, _, others = keep_given(truth_table, shapes)
        if others:
            console.print(f"note: truth on {others} micrograph(s) not given to --micrographs is left out")
        for table, source in ((picks_table, picks), (truth_table, truth)):
            check_names_match(table, shapes, source)
            check_inside(table, shapes, source)
    elif not set(picks_table["micrograph"]) & set(truth_table["micrograph"]) and len(picks_table):
        raise CryopickError(
            "no micrograph name in the picks appears in the truth "
            f"(picks name e.g. {picks_table['micrograph'].iloc[0]}, truth e.g. {truth_table['micrograph'].iloc[0]})",
            path=picks,
            fix="names match by file stem: make the stems agree",
        )
    radius = match_radius_px(radius_px, diameter, apix, infos, truth_table, picks_table)
    result = evaluate(picks_table, truth_table, radius, threshold)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_summary(result)
    if out is not None:
        _write_report(out, result, infos, picks_table, truth_table, threshold, n_overlays)
        console.print(f"report written to {out}/")


def _print_summary(result: Evaluation) -> None:
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
        f"{result.best_f1:.3f} ({result.best_threshold:.3g})",
    )
    console.print(table)


def _write_report(
    out: Path,
    result: Evaluation,
    infos: list[MicrographInfo],
    picks: pd.DataFrame,
    truth: pd.DataFrame,
    threshold: float | None,
    n_overlays: int,
) -> None:
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
