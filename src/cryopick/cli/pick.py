"""cryopick pick: find particles in micrographs."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import pandas as pd
import typer

from cryopick.cli._common import check_format, check_positive, console, progress_over
from cryopick.errors import CryopickError
from cryopick.io.coords import CoordOptions, write_coords
from cryopick.io.listing import list_micrographs
from cryopick.io.micrographs import read_micrograph
from cryopick.io.picks import empty_picks
from cryopick.log_picker import KEEP_ALL, LoGConfig, pick_log


class Method(str, Enum):
    log = "log"
    model = "model"


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
    model: Path | None = typer.Option(None, "--model", help="A model file from `cryopick train`."),
    method: Method | None = typer.Option(
        None, "--method", help="log: reference-free Laplacian-of-Gaussian; model: --model's classifier. Default: model "
        "when --model is given, else log."
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
) -> None:
    """Pick particles in micrographs and write their coordinates.

    Examples:

        cryopick pick mics/*.mrc --diameter 150 -o picks.star

        cryopick pick mics/*.mrc --model model.cryopick -o picks.star

    Every pick keeps its score (rlnAutopickFigureOfMerit in STAR). By default only
    picks above the method's cut are written; with --all-peaks every peak is, so a
    threshold can be chosen later with `cryopick evaluate` or in RELION.
    """
    check_positive(diameter, "--diameter")
    check_positive(apix, "--apix")
    fmt = check_format(fmt)
    if all_peaks and threshold is not None:
        raise CryopickError("--all-peaks and --threshold contradict each other", fix="give one of them")
    method = method or (Method.model if model is not None else Method.log)
    pick_one = _log_picker(diameter, threshold, all_peaks) if method is Method.log else _model_picker(
        model, diameter, threshold, all_peaks, device, tta
    )
    paths = list_micrographs(micrographs)
    tables: list[pd.DataFrame] = []
    shapes: dict[str, tuple[int, int]] = {}
    apix_seen: float | None = None
    for path in progress_over(paths, "picking"):
        mic = read_micrograph(path, apix, allow_nonfinite=fill_nonfinite)
        shapes[mic.name] = mic.shape
        apix_seen = mic.apix
        tables.append(pick_one(mic))
    picks = pd.concat(tables, ignore_index=True) if tables else empty_picks()
    options = CoordOptions(flip_y=flip_y, shapes=shapes, apix=apix_seen)
    written = write_coords(picks, output, fmt, options)
    where = output if len(written) != 1 else written[0]
    console.print(f"{len(picks)} picks in {len(paths)} micrograph(s) -> {where}")


def _log_picker(diameter: float | None, threshold: float | None, all_peaks: bool):
    if diameter is None:
        raise CryopickError("the LoG picker needs the particle size", fix="pass --diameter in Å")
    config = LoGConfig(threshold=KEEP_ALL if all_peaks else threshold)
    return lambda mic: pick_log(mic, diameter, config)


def _model_picker(model: Path | None, diameter: float | None, threshold: float | None, all_peaks: bool, device: str,
                  tta: bool):
    if model is None:
        raise CryopickError("--method model needs a model file", fix="pass --model FILE from `cryopick train`")
    # torch is imported only when a model is used, so the LoG path and --help stay quick
    from cryopick.device import resolve_device
    from cryopick.models.checkpoint import load_model

    loaded = load_model(model)
    torch_device = resolve_device(device)
    loaded.model.to(torch_device)
    console.print(
        f"model {model.name}: {loaded.kind}, trained at {loaded.diameter_A:g} Å"
        + (f", picking at {diameter:g} Å" if diameter is not None else "")
    )
    if loaded.kind == "fcn":
        from cryopick.fcn_picker import FCNPickConfig, pick_fcn

        config = FCNPickConfig(threshold=0.0 if all_peaks else threshold, tta=tta)
        return lambda mic: pick_fcn(mic, loaded, diameter, config, torch_device)
    from cryopick.sliding_window import SlidingWindowConfig, pick_sliding_window

    window_config = SlidingWindowConfig(threshold=0.0 if all_peaks else threshold)
    return lambda mic: pick_sliding_window(mic, loaded, diameter, window_config, torch_device)
