"""cryopick pick: find particles in micrographs."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import pandas as pd
import typer

from cryopick.cli._common import check_format, check_positive, console, progress_over
from cryopick.io.coords import CoordOptions, write_coords
from cryopick.io.listing import list_micrographs
from cryopick.io.micrographs import read_micrograph
from cryopick.io.picks import empty_picks
from cryopick.errors import CryopickError
from cryopick.log_picker import KEEP_ALL, LoGConfig, pick_log


class Method(str, Enum):
    log = "log"


def pick_command(
    micrographs: list[str] = typer.Argument(
        ..., help="Micrographs: files, folders, globs ('mics/*.mrc'), @list.txt or a STAR file listing them."
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Picks file (.star .tsv .cs .csv), or a folder for --format box/cbox."
    ),
    diameter: float = typer.Option(..., "--diameter", "-d", help="Particle diameter in Å."),
    method: Method = typer.Option(Method.log, "--method", help="log: reference-free Laplacian-of-Gaussian picker."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Keep picks scoring at least this (LoG: robust z); default: automatic cut (2.5)."
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
) -> None:
    """Pick particles in micrographs and write their coordinates.

    Example:

        cryopick pick mics/*.mrc --diameter 150 -o picks.star

    Every pick keeps its score (rlnAutopickFigureOfMerit in STAR). By default only
    picks above the method's automatic cut are written; with --all-peaks every peak is,
    so a threshold can be chosen later with `cryopick evaluate` or in RELION.
    """
    check_positive(diameter, "--diameter")
    check_positive(apix, "--apix")
    fmt = check_format(fmt)
    paths = list_micrographs(micrographs)
    if all_peaks and threshold is not None:
        raise CryopickError("--all-peaks and --threshold contradict each other", fix="give one of them")
    config = LoGConfig(threshold=KEEP_ALL if all_peaks else threshold)
    tables: list[pd.DataFrame] = []
    shapes: dict[str, tuple[int, int]] = {}
    apix_seen: float | None = None
    for path in progress_over(paths, "picking"):
        mic = read_micrograph(path, apix, allow_nonfinite=fill_nonfinite)
        shapes[mic.name] = mic.shape
        apix_seen = mic.apix
        tables.append(pick_log(mic, diameter, config))
    picks = pd.concat(tables, ignore_index=True) if tables else empty_picks()
    options = CoordOptions(flip_y=flip_y, shapes=shapes, apix=apix_seen)
    written = write_coords(picks, output, fmt, options)
    where = output if len(written) != 1 else written[0]
    console.print(f"{len(picks)} picks in {len(paths)} micrograph(s) -> {where}")
