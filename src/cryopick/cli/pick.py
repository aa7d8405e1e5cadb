"""cryopick pick: find particles in micrographs."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from cryopick import __version__
from cryopick.runs.batch import (AUTO_WORKERS_FROM, BatchConfig, PickSpec, Skipped, auto_workers, default_threads,
                            pick_many)
from cryopick.cli._common import (check_format, check_output_target, check_positive, console, device_line,
                                  match_radius_px, progress_bar, write_picks)
from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic
from cryopick.io.coords import CoordOptions, read_coords
from cryopick.io.listing import list_micrographs
from cryopick.io.names import micrograph_name
from cryopick.io.picks import check_inside, check_names_match, empty_picks, keep_given
from cryopick.pickers.log import KEEP_ALL, LoGConfig
from cryopick.runs.state import MicrographResult, RunFolder, run_folder_for
from cryopick.postprocess.score_summary import ScoreSummary, format_summary, summarise_score_arrays, with_truth


class Method(str, Enum):
    log = "log"
    model = "model"


@dataclass(frozen=True)
class _Picker:
    """How the micrographs are picked: the spec every worker gets, and the threshold applied before writing.

    ``spec`` gives every candidate when ``complete``; otherwise (a threshold where
    cutting afterwards would not reproduce the picker's own cut) only the picks.
    """

    spec: PickSpec
    threshold: float
    diameter_A: float
    calibrated: bool
    complete: bool = True
    note: str | None = None
    model_line: str | None = None
    model_sha256: str | None = None


def pick_command(
    micrographs: list[str] = typer.Argument(
        ..., help="Micrographs: files, folders, globs ('mics/*.mrc'), @list.txt or a STAR file listing them."
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Picks file (.star .tsv .cs .csv), or a folder for --format box/cbox."
    ),
    diameter: float | None = typer.Option(
        None, "--diameter", "-d", help="Particle diameter in Å (with --model: default the model's)."
    ),
    model: Path | None = typer.Option(
        None, "--model", help="A model file from `cryopick train`; default: the bundled general model (needs --diameter)."
    ),
    method: Method | None = typer.Option(
        None, "--method", help="model (default): --model, or the bundled general model; log: the reference-free "
        "Laplacian-of-Gaussian picker."
    ),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Keep picks scoring at least this (LoG: robust z, default 2.5; model: probability, "
        "default the model's: 0.5 for fcn, 0.8 for mlp/cnn)."
    ),
    all_peaks: bool = typer.Option(
        False, "--all-peaks", help="Keep every peak, weakest last, e.g. to sweep thresholds in `cryopick evaluate`."
    ),
    apix: float | None = typer.Option(None, "--apix", help="Pixel size in Å/px; overrides the file headers."),
    fmt: str | None = typer.Option(None, "--format", help="star, box, cbox, tsv, cs or csv; default from the suffix."),
    flip_y: bool = typer.Option(False, "--flip-y", help="Write y counted from the bottom row (some tools need it)."),
    fill_nonfinite: bool = typer.Option(
        False, "--fill-nonfinite", help="Replace NaN/inf pixels with the median instead of stopping."
    ),
    device: str = typer.Option("auto", "--device", help="For --model: auto (CUDA when available), cpu, cuda or cuda:N."),
    tta: bool = typer.Option(
        False, "--tta", help="fcn models: average the network over the 8 rotations and mirror images (8x slower)."
    ),
    no_junk_regions: bool = typer.Option(
        False, "--no-junk-regions", help="fcn models: keep candidates inside detected ice, carbon and other large dark "
        "regions (dropped by default)."
    ),
    aggregate_guard: bool = typer.Option(
        False, "--aggregate-guard", help="fcn models: also drop picks whose neighbourhood says aggregate (clumps of "
        "overlapping particles); removes part of them at ~1% of the particles."
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Local processes picking in parallel (with --dask local: its workers); default: one "
        f"per core from {AUTO_WORKERS_FROM} micrographs on (CPU), else 1."
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="PyTorch threads per picker; default: the cores left by the reading thread, "
        "shared by --workers (1 on Dask). Results are identical for the same --threads."
    ),
    dask: str | None = typer.Option(
        None, "--dask", help="Spread the micrographs over a Dask cluster: 'local' (a LocalCluster of --workers "
        "processes) or a scheduler address, e.g. tcp://scheduler:8786 (docs/scale.md)."
    ),
    skip_bad: bool = typer.Option(
        False, "--skip-bad", help="Leave out micrographs that are bad input (unreadable, NaN pixels, flat ...) with "
        "one line each, instead of stopping; they are tried again when the run is resumed."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Start afresh instead of resuming the run in OUTPUT.parts (needed when settings "
        "changed)."
    ),
    truth: Path | None = typer.Option(
        None, "--truth", help="True particle positions (any supported format): also report the F1-optimal threshold."
    ),
    scores_json: Path | None = typer.Option(
        None, "--scores-json", help="Write the score summary (histogram, expected count, thresholds) as JSON."
    ),
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
    written by --scores-json): their histogram and, for an fcn model's
    probabilities, the expected number of particles and the threshold of best
    expected F1 (estimates, as good as the model's calibration). With --truth
    it gives the F1-optimal threshold too.
    """
    check_positive(diameter, "--diameter")
    check_positive(apix, "--apix")
    fmt = check_format(fmt)
    check_output_target(scores_json, "--scores-json")
    if all_peaks and threshold is not None:
        raise CryopickError("--all-peaks and --threshold contradict each other", fix="give one of them")
    method = method or Method.model
    picker = _log_picker(diameter, threshold, all_peaks) if method is Method.log else _model_picker(
        model, diameter, threshold, all_peaks, device, tta, junk_regions=not no_junk_regions,
        aggregates=aggregate_guard,
    )
    paths = list_micrographs(micrographs)
    batch = BatchConfig(workers=workers or auto_workers(len(paths), picker.spec.device, dask), dask=dask,
                        skip_bad=skip_bad)
    if dask and dask != "local":  # the workers have their own devices: let each resolve --device there
        picker = replace(picker, spec=replace(picker.spec, device=device))
    if threads is not None and threads < 1:
        raise CryopickError(f"--threads must be at least 1, got {threads}", fix="give --threads 1 or more")
    picker = replace(picker, spec=replace(picker.spec, apix=apix, allow_nonfinite=fill_nonfinite,
                                          threads=threads or default_threads(batch)))
    names = [micrograph_name(path) for path in paths]
    truth_table = _read_truth(truth, names) if truth is not None else None
    gathered = _Gathered(picker.threshold, all_peaks, keep_every=truth_table is not None)
    with RunFolder(run_folder_for(output), _fingerprint(picker), overwrite=overwrite) as state:
        if state.replaced:
            console.print(f"note: starting afresh in {state.folder} (the previous run there had other "
                          f"{', '.join(state.replaced)})", markup=False)
        done = [0]

        def counted(n_done: int, n_total: int) -> None:
            done[0] = n_done
            advance(n_done, n_total)

        with progress_bar("picking", len(paths)) as advance, _said_when_interrupted(state.folder, done, len(paths)):
            for result in pick_many(picker.spec, [str(p) for p in paths], state, batch, on_done=counted):
                gathered.add(result)
        skipped = gathered.skipped
        if skipped and len(skipped) == len(paths):
            raise CryopickError(f"every one of the {len(paths)} micrograph(s) is bad input (see above)",
                                fix="fix or replace them; --skip-bad only leaves out some")
        summary = summarise_score_arrays(gathered.scores, picker.threshold, calibrated=picker.calibrated,
                                         complete=picker.complete)
        if truth_table is not None:
            candidates = gathered.every_candidate()
            check_inside(truth_table, gathered.shapes, truth)
            radius = match_radius_px(None, picker.diameter_A, gathered.apix, [], truth_table, candidates)
            summary = with_truth(summary, candidates, truth_table, radius)
        picks = gathered.picks()
        options = CoordOptions(flip_y=flip_y, shapes=gathered.shapes, apix=gathered.apix,
                               micrograph_paths={n: str(p) for n, p in zip(names, paths)})
        written = write_picks(picks, output, fmt, options)
        if not skipped:  # with some skipped the run is not complete: a resumed run tries them again
            state.mark_complete(threshold=None if all_peaks else picker.threshold, output=str(output))
    if picker.model_line is not None:
        console.print(picker.model_line, markup=False)
    _print_summary(summary, picker.note, all_peaks)
    if scores_json is not None:
        write_text_atomic(scores_json, json.dumps(summary.to_dict(), indent=2))
        console.print(f"score summary -> {scores_json}", markup=False)
    where = output if len(written) != 1 else written[0]
    console.print(f"{len(picks)} picks in {len(paths) - len(skipped)} micrograph(s) -> {where}")
    if skipped:
        console.print(f"{len(skipped)} micrograph(s) skipped as bad input (listed above); fix them and run the same "
                      "command to pick them too", markup=False, soft_wrap=True)


@dataclass
class _Gathered:
    """What a run keeps of each micrograph as it comes: picks to write, scores to summarise.

    Every candidate's score (8 bytes each) and only the picks above the threshold (every
    candidate with ``all_peaks``, or to judge against truth with ``keep_every``), so memory
    stays small however many micrographs there are.
    """

    threshold: float
    all_peaks: bool
    keep_every: bool = False
    skipped: list[Skipped] = field(default_factory=list)
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    shapes: dict[str, tuple[int, int]] = field(default_factory=dict)
    apix: float | None = None
    _kept: list[pd.DataFrame] = field(default_factory=list)
    _every: list[pd.DataFrame] = field(default_factory=list)

    def add(self, result: MicrographResult | Skipped) -> None:
        if isinstance(result, Skipped):
            self.skipped.append(result)
            console.print(f"skipped {result.message}", markup=False, soft_wrap=True)
            return
        self.shapes[result.name] = result.shape
        self.apix = result.apix
        score = result.picks["score"].to_numpy(dtype=np.float64)
        self.scores[result.name] = score
        self._kept.append(result.picks if self.all_peaks else result.picks.loc[score >= self.threshold])
        if self.keep_every:
            self._every.append(result.picks)
        if len(self._kept) >= 256:  # one table, not thousands of small ones (each has its overhead)
            self._kept = [pd.concat(self._kept, ignore_index=True)]

    def picks(self) -> pd.DataFrame:
        return pd.concat(self._kept, ignore_index=True) if self._kept else empty_picks()

    def every_candidate(self) -> pd.DataFrame:
        return pd.concat(self._every, ignore_index=True) if self._every else empty_picks()


@contextlib.contextmanager
def _said_when_interrupted(folder: Path, done: list[int], total: int) -> Iterator[None]:
    """On Ctrl-C, say what is kept and how to go on (the exit stays 130, an interrupt's)."""
    try:
        yield
    except KeyboardInterrupt:
        console.print(f"interrupted: {done[0]} of {total} micrograph(s) are kept in {folder}; run the same command "
                      "to resume", markup=False, soft_wrap=True)
        raise


def _fingerprint(picker: _Picker) -> dict:
    """What must match for a run to resume another: the spec (not the device) and the model's bytes."""
    spec = asdict(picker.spec)
    for how in ("device", "threads", "allow_nonfinite"):  # they change no finished micrograph's picks
        spec.pop(how)
    spec["model_path"] = None
    return {**spec, "model_sha256": picker.model_sha256, "cryopick": __version__}


def _read_truth(truth: Path, names: list[str]) -> pd.DataFrame:
    """The true particles on the micrographs being picked (read before picking, to fail early)."""
    table = read_coords(truth, None)
    table, _, others = keep_given(table, names)
    if others:
        console.print(f"note: truth on {others} micrograph(s) not picked here is left out")
    check_names_match(table, names, truth)
    return table


def _print_summary(summary: ScoreSummary, note: str | None, all_peaks: bool) -> None:
    if note is not None:
        console.print(f"note: {note}", markup=False)
    for line in format_summary(summary):
        console.print(line, markup=False, soft_wrap=True)
    if all_peaks:
        console.print("--all-peaks: every candidate is written", markup=False)


def _log_picker(diameter: float | None, threshold: float | None, all_peaks: bool) -> _Picker:
    """The LoG picker: every peak a candidate, unless --threshold is above the automatic cut.

    The LoG's outlier cut judges by the peaks above the automatic cut and the threshold,
    whichever is higher; so cutting every peak afterwards gives the same picks only at a
    threshold up to the automatic cut (the default). Above it the picker cuts itself.
    """
    if diameter is None:
        raise CryopickError("the LoG picker needs the particle size", fix="pass --diameter in Å")
    auto = LoGConfig().auto_threshold
    used = auto if threshold is None else threshold
    if all_peaks or used <= auto:
        spec = PickSpec("log", diameter_A=diameter, log=LoGConfig(threshold=KEEP_ALL))
        return _Picker(spec, used, diameter, calibrated=False)
    spec = PickSpec("log", diameter_A=diameter, log=LoGConfig(threshold=used))
    return _Picker(spec, used, diameter, calibrated=False, complete=False,
                   note=f"--threshold {used:g} is above the LoG's automatic cut ({auto:g}): only the picks are scored")


def _model_picker(model: Path | None, diameter: float | None, threshold: float | None, all_peaks: bool, device: str,
                  tta: bool, junk_regions: bool = True, aggregates: bool = False) -> _Picker:
    """A model's picker: every candidate scored, the threshold cut afterwards.

    The FCN's contrast guard judges by the candidates above the model's threshold, or
    above --threshold when that is higher; so every candidate is scored only at a
    threshold up to the model's (the default), where cutting afterwards gives the same
    picks. Above it the picker cuts itself, as before.
    """
    # torch is imported only when a model is used, so the LoG path and --help stay quick
    from cryopick.device import resolve_device
    from cryopick.pickers.fcn.general import general_model_path, is_general
    from cryopick.models.checkpoint import load_model

    model_file = model if model is not None else general_model_path()
    loaded = load_model(model_file)
    checksum = hashlib.sha256(Path(model_file).read_bytes()).hexdigest()
    if is_general(loaded.training) and diameter is None:
        raise CryopickError("a general model picks any particle size and needs yours", path=model,
                            fix="pass --diameter in Å")
    torch_device = resolve_device(device)
    # said after picking, with the summary: a bad micrograph then gives one error line only
    if model is None:
        model_line = (f"model: the bundled general model (no labels needed), picking at {diameter:g} Å "
                      "(docs/general_model.md; train your own with `cryopick train`)")
    else:
        model_line = (f"model {model.name}: {loaded.kind}, trained at {loaded.diameter_A:g} Å"
                      + (f", picking at {diameter:g} Å" if diameter is not None else ""))
    on_device = device_line(device, torch_device)
    if on_device is not None:
        model_line = f"{on_device}\n{model_line}"
    used = loaded.threshold if threshold is None else threshold
    diameter_A = loaded.diameter_A if diameter is None else diameter
    if loaded.kind == "fcn":
        from cryopick.postprocess.aggregates import AggregateGuardConfig
        from cryopick.pickers.fcn.picker import FCNPickConfig

        complete = all_peaks or used <= loaded.threshold
        config = FCNPickConfig(threshold=0.0 if complete else used, tta=tta, junk_regions=junk_regions,
                               aggregate_guard=AggregateGuardConfig() if aggregates else None)
        note = None if complete else (f"--threshold {used:g} is above the model's ({loaded.threshold:g}): "
                                      "only the picks are scored")
        spec = PickSpec("fcn", str(model_file), diameter, fcn=config, device=str(torch_device))
        return _Picker(spec, used, diameter_A, calibrated=True, complete=complete, note=note, model_line=model_line,
                       model_sha256=checksum)
    from cryopick.pickers.patch.sliding_window import SlidingWindowConfig

    # trained on balanced classes, a patch classifier's probabilities overstate the particles' share
    spec = PickSpec("window", str(model_file), diameter, window=SlidingWindowConfig(threshold=0.0),
                    device=str(torch_device))
    return _Picker(spec, used, diameter_A, calibrated=False, model_line=model_line, model_sha256=checksum)
