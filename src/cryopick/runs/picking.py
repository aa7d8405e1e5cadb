"""A whole pick run, as `cryopick pick` does it: plan, pick every micrograph (resumably), summarise, write.

:func:`run_picking` takes a :class:`PickJob` (every option of the command, typed) and
says what it does through a :class:`Reporter` (lines and a progress bar), so the command
line only parses. What it keeps of each micrograph is :class:`Gathered`: every
candidate's score (8 bytes each) and the picks above the threshold.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, ContextManager

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.picks import empty_picks
from cryopick.pickers.base import PickRequest
from cryopick.runs.job import Skipped
from cryopick.runs.planning import RunPlan, fingerprint, plan_log, plan_model
from cryopick.runs.state import MicrographResult

if TYPE_CHECKING:
    from cryopick.postprocess.score_summary import ScoreSummary


@dataclass(frozen=True)
class PickJob:
    """Every option of a pick run (see `cryopick pick --help` for each)."""

    micrographs: list[str]
    output: Path
    diameter_A: float | None = None
    model: Path | None = None
    method: str = "model"
    request: PickRequest = field(default_factory=PickRequest)
    apix: float | None = None
    fmt: str | None = None
    flip_y: bool = False
    fill_nonfinite: bool = False
    device: str = "auto"
    workers: int | None = None
    threads: int | None = None
    dask: str | None = None
    skip_bad: bool = False
    overwrite: bool = False
    truth: Path | None = None
    scores_json: Path | None = None

    def __post_init__(self) -> None:
        if self.method not in ("model", "log"):
            raise CryopickError(f"unknown method {self.method!r}", fix="use --method model or --method log")
        if self.request.all_peaks and self.request.threshold is not None:
            raise CryopickError("--all-peaks and --threshold contradict each other", fix="give one of them")
        if self.threads is not None and self.threads < 1:
            raise CryopickError(f"--threads must be at least 1, got {self.threads}", fix="give --threads 1 or more")


@dataclass
class Reporter:
    """How a run speaks: ``say(line)`` and ``progress(description, total)``, a context yielding ``update(done, total)``."""

    say: Callable[[str], None] = lambda line: None
    progress: Callable[[str, int], ContextManager[Callable[[int, int], None]]] | None = None


@dataclass
class PickOutcome:
    """What a run did: its plan, the picks written, where, how many micrographs were picked and skipped, the summary."""

    plan: RunPlan
    picks: pd.DataFrame
    written: list[Path]
    n_picked: int
    skipped: list[Skipped]
    summary: ScoreSummary


@dataclass
class Gathered:
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


def plan_job(job: PickJob) -> RunPlan:
    """The job's :class:`~cryopick.runs.planning.RunPlan` (the model file is read here, before any picking)."""
    if job.method == "log":
        return plan_log(job.diameter_A, job.request)
    return plan_model(job.model, job.diameter_A, job.request, job.device)


def run_picking(job: PickJob, reporter: Reporter = Reporter()) -> PickOutcome:
    """Pick every micrograph of ``job`` and write the picks; resumes an interrupted run in ``OUTPUT.parts``.

    Raises
    ------
    CryopickError
        Bad input (checked before picking where it can be), or every micrograph bad.
    """
    from cryopick import __version__
    from cryopick.io.listing import list_micrographs
    from cryopick.io.names import micrograph_name
    from cryopick.io.picks import typical_diameter_px
    from cryopick.runs.plausibility import crowding_warning, diameter_warning
    from cryopick.runs.batch import BatchConfig, auto_workers, default_threads
    from cryopick.runs.state import RunFolder, run_folder_for

    plan = plan_job(job)
    paths = list_micrographs(job.micrographs)
    warning = diameter_warning(plan.diameter_A)
    if warning is not None:
        reporter.say(warning)
    batch = BatchConfig(workers=job.workers or auto_workers(len(paths), plan.spec.device, job.dask), dask=job.dask,
                        skip_bad=job.skip_bad)
    if job.dask and job.dask != "local":  # the workers have their own devices: let each resolve --device there
        plan = replace(plan, spec=replace(plan.spec, device=job.device))
    plan = replace(plan, spec=replace(plan.spec, apix=job.apix, allow_nonfinite=job.fill_nonfinite,
                                      threads=job.threads or default_threads(batch)))
    names = [micrograph_name(path) for path in paths]
    truth = _read_truth(job.truth, names, reporter.say) if job.truth is not None else None
    gathered = Gathered(plan.threshold, job.request.all_peaks, keep_every=truth is not None)
    with RunFolder(run_folder_for(job.output), fingerprint(plan, __version__), overwrite=job.overwrite) as state:
        if state.replaced:
            reporter.say(f"note: starting afresh in {state.folder} (the previous run there had other "
                         f"{', '.join(state.replaced)})")
        _pick_all(plan, paths, state, batch, gathered, reporter)
        if gathered.skipped and len(gathered.skipped) == len(paths):
            raise CryopickError(f"every one of the {len(paths)} micrograph(s) is bad input (see above)",
                                fix="fix or replace them; --skip-bad only leaves out some")
        summary = _summary(plan, gathered, truth, job.truth)
        picks = gathered.picks()
        crowded = crowding_warning(len(picks), typical_diameter_px(picks),
                                   float(sum(ny * nx for ny, nx in gathered.shapes.values())))
        if crowded is not None and not job.request.all_peaks:
            reporter.say(crowded)
        written = _write(picks, job, gathered, {n: str(p) for n, p in zip(names, paths)})
        if not gathered.skipped:  # with some skipped the run is not complete: a resumed run tries them again
            state.mark_complete(threshold=None if job.request.all_peaks else plan.threshold, output=str(job.output),
                                threshold_from=plan.threshold_from, picked_by=plan.picked_by,
                                model_sha256=plan.model_sha256)
    if job.scores_json is not None:
        from cryopick.io.atomic import write_text_atomic

        write_text_atomic(job.scores_json, json.dumps(summary.to_dict(), indent=2))
    return PickOutcome(plan, picks, written, len(paths) - len(gathered.skipped), gathered.skipped, summary)


def _pick_all(plan: RunPlan, paths: list[Path], state, batch, gathered: Gathered, reporter: Reporter) -> None:
    """Every micrograph through :func:`cryopick.runs.batch.pick_many`, with progress and a word on Ctrl-C."""
    from cryopick.runs.batch import pick_many

    done = [0]
    progress = reporter.progress or _no_progress
    with progress("picking", len(paths)) as advance, _said_when_interrupted(state.folder, done, len(paths),
                                                                            reporter.say):
        def counted(n_done: int, n_total: int) -> None:
            done[0] = n_done
            advance(n_done, n_total)

        for result in pick_many(plan.spec, [str(p) for p in paths], state, batch, on_done=counted):
            if isinstance(result, Skipped):
                reporter.say(f"skipped {result.message}")
            gathered.add(result)


@contextlib.contextmanager
def _no_progress(description: str, total: int) -> Iterator[Callable[[int, int], None]]:
    yield lambda done, n_total: None


@contextlib.contextmanager
def _said_when_interrupted(folder: Path, done: list[int], total: int, say: Callable[[str], None]) -> Iterator[None]:
    """On Ctrl-C, say what is kept and how to go on (the exit stays 130, an interrupt's)."""
    try:
        yield
    except KeyboardInterrupt:
        say(f"interrupted: {done[0]} of {total} micrograph(s) are kept in {folder}; run the same command to resume")
        raise


def _summary(plan: RunPlan, gathered: Gathered, truth: pd.DataFrame | None, truth_path: Path | None) -> ScoreSummary:
    """The candidates' score summary, judged against the truth when given."""
    from cryopick.io.picks import check_inside
    from cryopick.postprocess.score_summary import summarise_score_arrays, with_truth

    summary = summarise_score_arrays(gathered.scores, plan.threshold, calibrated=plan.calibrated,
                                     complete=plan.complete)
    if truth is None:
        return summary
    from cryopick.evaluation.matching import default_radius_px

    candidates = gathered.every_candidate()
    check_inside(truth, gathered.shapes, truth_path)
    radius_px = default_radius_px(truth, candidates)  # as `cryopick evaluate` and the report match
    return with_truth(summary, candidates, truth, radius_px)


def _write(picks: pd.DataFrame, job: PickJob, gathered: Gathered, paths: dict[str, str]) -> list[Path]:
    """Write picks as the job asks (:func:`cryopick.io.coords.write_picks`)."""
    from cryopick.io.coords import CoordOptions, write_picks

    options = CoordOptions(flip_y=job.flip_y, shapes=gathered.shapes, apix=gathered.apix, micrograph_paths=paths)
    return write_picks(picks, job.output, job.fmt, options)


def _read_truth(truth: Path, names: list[str], say: Callable[[str], None]) -> pd.DataFrame:
    """The true particles on the micrographs being picked (read before picking, to fail early)."""
    from cryopick.io.coords import read_coords
    from cryopick.io.picks import check_names_match, keep_given

    table = read_coords(truth, None)
    table, _, others = keep_given(table, names)
    if others:
        say(f"note: truth on {others} micrograph(s) not picked here is left out")
    check_names_match(table, names, truth)
    return table
