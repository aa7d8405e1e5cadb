"""The tomogram commands as library calls: train from files, pick many tomograms (resumable), evaluate files.

``cryopick tomo train|pick|evaluate`` only parse their options into these jobs.

Picking keeps each finished tomogram in ``OUTPUT.parts/<name>.csv`` (every candidate,
written atomically) beside a ``settings.json``; the same command run again skips the
finished ones and writes the same picks, byte for byte. ``workers`` > 1 picks tomograms
in separate processes, ``dask`` (``"local"`` or a scheduler address) as tasks on a Dask
cluster (:mod:`cryopick.runs.cluster`) whose workers read the tomograms and write their
part files on a shared file system; the results are gathered in input order, so the
output does not depend on which finishes first or where.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic
from cryopick.runs.planning import model_checksum
from cryopick.tomo.coords import checked, read_picks3d, write_picks3d
from cryopick.tomo.volumes import list_tomograms, open_tomogram, tomogram_shape

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    """Say nothing."""


@dataclass(frozen=True)
class TomoTrainJob:
    """``cryopick tomo train``: tomograms, their labels, the particle diameter (Å), the model file to write.

    ``background``: an optional coordinate file of points that are not particles (rejected
    picks, membranes, contamination), learned as known negatives.
    """

    tomograms: tuple[str, ...]
    coords: Path
    diameter_A: float
    output: Path
    apix: float | None = None
    max_steps: int | None = None
    seed: int = 0
    background: Path | None = None


def train_files(job: TomoTrainJob, say: Say = _quiet) -> Path:
    """Read the labelled tomograms, train the 3D picker, write the model file."""
    from cryopick.tomo.model_file import save_tomo_model
    from cryopick.tomo.scale import working_volume
    from cryopick.tomo.train import LabelledVolume, TomoTrainConfig, train_tomo

    paths = list_tomograms(job.tomograms)
    shapes, apix = _headers(paths, job.apix)
    labels = read_picks3d(job.coords, shapes=shapes, apix=apix, names=[p.stem for p in paths])
    unknown = sorted(set(labels["tomogram"]) - set(shapes))
    if len(unknown) == labels["tomogram"].nunique():
        raise CryopickError(f"no label names a tomogram given (labels name e.g. {unknown[0]})", path=job.coords,
                            fix="labels match tomograms by file stem")
    background = _background(job, shapes, apix, paths)
    items = []
    for path in paths:
        mine = labels.loc[labels["tomogram"] == path.stem]
        if mine.empty:
            continue
        _check_inside(mine, shapes[path.stem], job.coords)
        with open_tomogram(path, job.apix) as tomo:
            work = working_volume(tomo, job.diameter_A)
        negative = None
        if background is not None:
            here = background.loc[background["tomogram"] == path.stem]
            negative = work.to_working(here[["z", "y", "x"]].to_numpy()) if len(here) else None
        items.append(LabelledVolume(path.stem, work, work.to_working(mine[["z", "y", "x"]].to_numpy()), negative))
    used = sum(0 if i.background_zyx is None else len(i.background_zyx) for i in items)
    say(f"{sum(len(i.labels_zyx) for i in items)} labelled particles in {len(items)} of {len(paths)} tomogram(s)"
        + ("" if background is None else f"; {used} background point(s) on them"))
    config = TomoTrainConfig(seed=job.seed, **({} if job.max_steps is None else {"max_steps": job.max_steps}))
    model = train_tomo(items, job.diameter_A, config, progress=say)
    return save_tomo_model(job.output, model)


def _background(job: TomoTrainJob, shapes: dict[str, tuple[int, int, int]], apix: float, paths: list[Path]
                ) -> pd.DataFrame | None:
    """The known-background points on the labelled tomograms, checked like the labels; None without a file."""
    if job.background is None:
        return None
    points = read_picks3d(job.background, shapes=shapes, apix=apix, names=[p.stem for p in paths])
    points = points.loc[points["tomogram"].isin(shapes)]
    if points.empty:
        raise CryopickError("no background point names a tomogram given", path=job.background,
                            fix="points match tomograms by file stem, as the labels do")
    for name, group in points.groupby("tomogram", sort=False):
        _check_inside(group, shapes[name], job.background)
    return points


def _headers(paths: list[Path], apix: float | None) -> tuple[dict[str, tuple[int, int, int]], float]:
    """Each tomogram's (nz, ny, nx) by name, from its header, and the voxel size (``apix``, else the first's)."""
    headers = {p.stem: tomogram_shape(p, apix) for p in paths}
    return {name: shape for name, (shape, _) in headers.items()}, headers[paths[0].stem][1]


def _check_inside(table: pd.DataFrame, shape: tuple[int, int, int], source: Path) -> None:
    nz, ny, nx = shape
    outside = ~((table["x"].between(-0.5, nx - 0.5)) & (table["y"].between(-0.5, ny - 0.5))
                & (table["z"].between(-0.5, nz - 0.5)))
    if outside.any():
        row = table.loc[outside].iloc[0]
        raise CryopickError(f"{int(outside.sum())} coordinate(s) lie outside tomogram {row['tomogram']} "
                            f"({nx}x{ny}x{nz}), e.g. ({row['x']:.1f}, {row['y']:.1f}, {row['z']:.1f})", path=source,
                            fix="coordinates are x, y, z = column, row, section in voxels of these tomograms; check "
                            "the binning")


@dataclass(frozen=True)
class TomoPickJob:
    """``cryopick tomo pick``: tomograms, the output, and the picker (a model file, or ``log`` with a diameter)."""

    tomograms: tuple[str, ...]
    output: Path
    model: Path | None = None
    diameter_A: float | None = None
    threshold: float | None = None
    all_peaks: bool = False
    apix: float | None = None
    workers: int = 1
    dask: str | None = None


def pick_files(job: TomoPickJob, say: Say = _quiet) -> pd.DataFrame:
    """Pick every tomogram (resuming a run in ``OUTPUT.parts``) and write the picks; returns them."""
    if job.model is None and job.diameter_A is None:
        raise CryopickError("the 3D LoG picker needs the particle size", fix="pass --diameter in Å, or --model")
    threshold = _threshold(job)  # reads the model: a bad one fails before any work
    paths = list_tomograms(job.tomograms)
    # what changes the candidates kept: not the threshold or --all-peaks (cut afterwards), nor the workers
    settings = {**{k: str(v) for k, v in asdict(job).items()
                   if k not in ("tomograms", "output", "workers", "dask", "threshold", "all_peaks")},
                "model_sha256": None if job.model is None else model_checksum(job.model)}
    folder = Path(f"{job.output}.parts")
    folder.mkdir(parents=True, exist_ok=True)
    record = folder / "settings.json"
    if record.exists() and json.loads(record.read_text()) != settings:
        for part in folder.glob("*.csv"):
            part.unlink()
        say(f"note: starting afresh in {folder} (the previous run there had other settings)")
    write_text_atomic(record, json.dumps(settings, sort_keys=True))
    todo = [p for p in paths if not (folder / f"{p.stem}.csv").exists()]
    if len(todo) < len(paths):
        say(f"resuming: {len(paths) - len(todo)} of {len(paths)} tomogram(s) already picked")
    if job.dask and todo:
        from cryopick.runs.cluster import dask_client

        with dask_client(job.dask, job.workers) as client:
            futures = client.map(_pick_one, [(job, p, folder) for p in todo], pure=False)
            for path, future in zip(todo, futures):  # in input order: the first bad tomogram is the one reported
                future.result()
                say(f"picked {path.stem}")
    elif job.workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=job.workers, mp_context=get_context("spawn")) as pool:
            for path, _ in zip(todo, pool.map(_pick_one, [(job, p, folder) for p in todo])):
                say(f"picked {path.stem}")
    else:
        for path in todo:
            _pick_one((job, path, folder))
            say(f"picked {path.stem}")
    every = checked(pd.concat([pd.read_csv(folder / f"{p.stem}.csv", dtype={"tomogram": str}) for p in paths],
                              ignore_index=True))
    picks = every if job.all_peaks else every.loc[every["score"] >= threshold].reset_index(drop=True)
    shapes, apix = _headers(paths, job.apix)
    write_picks3d(picks, job.output, shapes=shapes, apix=apix, names=[p.stem for p in paths])
    return picks


def _threshold(job: TomoPickJob) -> float:
    """The cut: ``--threshold``, else the model's own, else the LoG's; the model file is read (and checked) here."""
    if job.model is not None:
        from cryopick.tomo.model_file import load_tomo_model

        own = load_tomo_model(job.model).threshold
    else:
        from cryopick.tomo.log3d import LOG_THRESHOLD

        own = LOG_THRESHOLD
    return own if job.threshold is None else job.threshold


def _pick_one(args: tuple[TomoPickJob, Path, Path]) -> int:
    """Every candidate of one tomogram into its part file (atomically); the number of candidates."""
    job, path, folder = args
    from cryopick.tomo.scale import working_reader, working_volume

    with open_tomogram(path, job.apix) as tomo:
        if job.model is None:
            from cryopick.tomo.log3d import pick_log3d

            candidates = pick_log3d(working_volume(tomo, job.diameter_A), tomo.name, None)
        else:
            from cryopick.tomo.model_file import load_tomo_model
            from cryopick.tomo.pick import TomoPickConfig, pick_tomogram

            model = load_tomo_model(job.model)
            # read a slab at a time: the memory does not grow with the tomogram
            work = working_reader(tomo, job.diameter_A or model.diameter_A)
            candidates = pick_tomogram(model, work, tomo.name, TomoPickConfig(all_peaks=True))
    write_text_atomic(folder / f"{path.stem}.csv", candidates.to_csv(index=False, float_format="%.9g"))
    return len(candidates)


@dataclass(frozen=True)
class TomoEvaluateJob:
    """``cryopick tomo evaluate``: picks against truth, matched within ``radius_vox`` (default half the diameter).

    Truth is judged on the tomograms given, else on those the picks name.
    """

    picks: Path
    truth: Path
    radius_vox: float | None = None
    threshold: float | None = None
    tomograms: tuple[str, ...] = ()
    apix: float | None = None


def evaluate_files(job: TomoEvaluateJob):
    """The :class:`~cryopick.evaluation.metrics.Evaluation` of the job's files in 3D."""
    from cryopick.tomo.evaluate import evaluate_3d

    paths = list_tomograms(job.tomograms) if job.tomograms else []
    shapes, apix = _headers(paths, job.apix) if paths else (None, job.apix)
    names = [p.stem for p in paths]
    picks = read_picks3d(job.picks, shapes=shapes, apix=apix, names=names)
    truth = read_picks3d(job.truth, shapes=shapes, apix=apix, names=names)
    if "kind" in truth.columns:
        truth = truth.loc[truth["kind"].isin(["particle"])]
    judged = set(names) if names else set(picks["tomogram"])  # truth elsewhere would count as missed
    truth = truth.loc[truth["tomogram"].isin(judged)].reset_index(drop=True)
    if truth.empty:
        raise CryopickError("no true particle is on the tomograms judged", path=job.truth,
                            fix="names match by file stem; give --tomograms, or picks of the truth's tomograms")
    radius = job.radius_vox
    if radius is None:
        from cryopick.io.picks import typical_diameter_px

        diameter = typical_diameter_px(truth, picks)
        if diameter is None:
            raise CryopickError("cannot tell the particle size to set the match radius", path=job.truth,
                                fix="pass --radius-vox")
        radius = diameter / 2.0
    return evaluate_3d(picks, truth, radius, job.threshold)
