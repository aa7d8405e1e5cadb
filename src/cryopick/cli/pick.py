"""cryopick pick: find particles in micrographs."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from cryopick.cli._common import check_format, check_output_target, check_positive, progress_bar, say
from cryopick.cli._options import Apix


class Method(str, Enum):
    log = "log"
    model = "model"


AUTO_WORKERS_FROM = 64  # as cryopick.runs.batch.AUTO_WORKERS_FROM (not imported: --help stays quick)

Micrographs = Annotated[list[str], typer.Argument(
    help="Micrographs: files, folders, globs ('mics/*.mrc'), @list.txt or a STAR file listing them.")]
Output = Annotated[Path, typer.Option(
    "-o", "--output", help="Picks file (.star .tsv .cs .csv), or a folder for --format box/cbox.")]
Diameter = Annotated[Optional[float], typer.Option(
    "--diameter", "-d", help="Particle diameter in Å (with --model: default the model's).")]
Model = Annotated[Optional[Path], typer.Option(
    "--model", help="A model file from `cryopick train`; default: the bundled general model (needs --diameter).")]
MethodOption = Annotated[Optional[Method], typer.Option(
    "--method", help="model (default): --model, or the bundled general model; log: the reference-free "
    "Laplacian-of-Gaussian picker.")]
GENERAL_MODEL_THRESHOLD = 0.386
"""The bundled general model's own threshold, for --help (which must not load the model; a test checks it)."""
Threshold = Annotated[Optional[float], typer.Option(
    "--threshold", help="Keep picks scoring at least this (LoG: robust z, default its automatic cut 2.5; model: "
    f"probability, default the model's own, stored in its file: {GENERAL_MODEL_THRESHOLD:g} for the bundled general "
    "model, 0.3 or lower for fcn models trained now, 0.8 for mlp/cnn). The summary after picking says which was used "
    "and where it came from.")]
AllPeaks = Annotated[bool, typer.Option(
    "--all-peaks", metavar="", help="Keep every peak, weakest last, e.g. to sweep thresholds in `cryopick evaluate`.")]
Format = Annotated[Optional[str], typer.Option(
    "--format", help="star, box, cbox, tsv, cs or csv; default from the suffix.")]
FlipY = Annotated[bool, typer.Option("--flip-y", metavar="", help="Write y counted from the bottom row (some tools need it).")]
FillNonfinite = Annotated[bool, typer.Option(
    "--fill-nonfinite", metavar="", help="Replace NaN/inf pixels with the median instead of stopping.")]
Device = Annotated[str, typer.Option(
    "--device", help="For --model: auto (CUDA when available), cpu, cuda or cuda:N.")]
TTA = Annotated[bool, typer.Option(
    "--tta", metavar="", help="fcn models: average the network over the 8 rotations and mirror images (8x slower).")]
NoJunkRegions = Annotated[bool, typer.Option(
    "--no-junk-regions", metavar="", help="fcn models: keep candidates inside detected ice, carbon and other large dark "
    "regions (dropped by default).")]
NoBorderBands = Annotated[bool, typer.Option(
    "--no-border-bands", metavar="", help="fcn models: keep candidates in blank, padded or striped bands along the edges "
    "(processing artefacts; dropped by default).")]
AggregateGuard = Annotated[bool, typer.Option(
    "--aggregate-guard", metavar="", help="fcn models: also drop picks whose neighbourhood says aggregate (clumps of "
    "overlapping particles); removes part of them at ~1% of the particles.")]
Workers = Annotated[Optional[int], typer.Option(
    "--workers", help="Local processes picking in parallel (with --dask local: its workers); default: one "
    f"per core from {AUTO_WORKERS_FROM} micrographs on (CPU), else 1.")]
Threads = Annotated[Optional[int], typer.Option(
    "--threads", help="PyTorch threads per picker; default: the cores left by the reading thread, "
    "shared by --workers (1 on Dask). Results are the same bytes for any --threads.")]
Dask = Annotated[Optional[str], typer.Option(
    "--dask", help="Spread the micrographs over a Dask cluster: 'local' (a LocalCluster of --workers "
    "processes) or a scheduler address, e.g. tcp://scheduler:8786 (docs/scale.md).")]
SkipBad = Annotated[bool, typer.Option(
    "--skip-bad", metavar="", help="Leave out micrographs that are bad input (unreadable, NaN pixels, flat ...) with "
    "one line each, instead of stopping; they are tried again when the run is resumed.")]
Overwrite = Annotated[bool, typer.Option(
    "--overwrite", metavar="", help="Start afresh instead of resuming the run in OUTPUT.parts (needed when settings "
    "changed).")]
Truth = Annotated[Optional[Path], typer.Option(
    "--truth", help="True particle positions (any supported format): also report the F1-optimal threshold.")]
ScoresJson = Annotated[Optional[Path], typer.Option(
    "--scores-json", help="Write the score summary (histogram, expected count, thresholds) as JSON.")]


def pick_command(
    micrographs: Micrographs, output: Output, diameter: Diameter = None, model: Model = None,
    method: MethodOption = None, threshold: Threshold = None, all_peaks: AllPeaks = False, apix: Apix = None,
    fmt: Format = None, flip_y: FlipY = False, fill_nonfinite: FillNonfinite = False, device: Device = "auto",
    tta: TTA = False, no_junk_regions: NoJunkRegions = False, no_border_bands: NoBorderBands = False,
    aggregate_guard: AggregateGuard = False,
    workers: Workers = None, threads: Threads = None, dask: Dask = None, skip_bad: SkipBad = False,
    overwrite: Overwrite = False, truth: Truth = None, scores_json: ScoresJson = None,
) -> None:
    """Pick particles in micrographs and write their coordinates.

    Examples:

        cryopick pick mics/*.mrc --diameter 150 -o picks.star

        cryopick pick mics/*.mrc --model model.cryopick -o picks.star

        cryopick pick mics/*.mrc --method log --diameter 150 -o picks_log.star

        cryopick pick mics/ --diameter 150 -o picks.star --dask tcp://scheduler:8786

    Each finished micrograph is kept in OUTPUT.parts/ at once: after an
    interruption the same command resumes where it stopped and writes the same
    picks. Long CPU runs use one process per core (--workers); see docs/scale.md.

    With no --model, the bundled general model picks (trained on simulated data of
    other structures, no labels needed; docs/general_model.md). `cryopick train
    --init general` adapts it to your protein from a few labelled micrographs.

    Every pick keeps its score (rlnAutopickFigureOfMerit in STAR). By default only
    picks above the method's cut are written; with --all-peaks every peak is, so a
    threshold can be chosen later with `cryopick evaluate` or in RELION.

    After picking, a summary of the candidates' scores is printed (and
    written by --scores-json): their histogram, the threshold picked at and
    where it came from (--threshold, the model's own stored in its file, or the
    LoG's automatic cut) and, for an fcn model's probabilities, the expected
    number of particles and the suggested threshold, the best F1 expected from
    the scores (estimates, as good as the model's calibration). With --truth it
    gives the F1-optimal threshold too, measured, matching as `cryopick evaluate`
    does.
    """
    from cryopick.pickers.base import PickRequest
    from cryopick.runs.picking import PickJob, Reporter, run_picking

    check_positive(diameter, "--diameter")
    check_positive(apix, "--apix")
    check_output_target(scores_json, "--scores-json")
    job = PickJob(micrographs, output, diameter, model, (method or Method.model).value,
                  PickRequest(threshold, all_peaks, tta, junk_regions=not no_junk_regions,
                              aggregate_guard=aggregate_guard, border_bands=not no_border_bands),
                  apix=apix, fmt=check_format(fmt), flip_y=flip_y, fill_nonfinite=fill_nonfinite, device=device,
                  workers=workers, threads=threads, dask=dask, skip_bad=skip_bad, overwrite=overwrite, truth=truth,
                  scores_json=scores_json)
    outcome = run_picking(job, Reporter(say, progress_bar))
    _print_outcome(outcome, job)


def _print_outcome(outcome, job) -> None:
    """The model, the score summary, and where the picks went."""
    from cryopick.postprocess.score_summary import format_summary

    plan = outcome.plan
    lines = [] if plan.model_line is None else [plan.model_line]
    lines += [] if plan.note is None else [f"note: {plan.note}"]
    for line in lines + format_summary(outcome.summary, threshold_from=plan.threshold_from):
        say(line)
    if job.request.all_peaks:
        say("--all-peaks: every candidate is written")
    if job.scores_json is not None:
        say(f"score summary -> {job.scores_json}")
    where = job.output if len(outcome.written) != 1 else outcome.written[0]
    say(f"{len(outcome.picks)} picks in {outcome.n_picked} micrograph(s) -> {where}")
    if outcome.skipped:
        say(f"{len(outcome.skipped)} micrograph(s) skipped as bad input (listed above); fix them and run the same "
            "command to pick them too")
