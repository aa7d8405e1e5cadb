"""Pieces several subcommands share: consoles, progress, micrograph headers, format options."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.text import Text

from cryopick.errors import CryopickError
from cryopick.io.atomic import file_in_the_way
from cryopick.io.coords import FORMATS, CoordOptions, write_coords
from cryopick.io.listing import list_micrographs
from cryopick.io.micrographs import MicrographInfo, read_micrograph_info

console = Console(stderr=True, highlight=False)
"""Messages and progress go to standard error, so standard output stays clean for --json."""

T = TypeVar("T")

if TYPE_CHECKING:
    import torch


def progress_over(items: Sequence[T], description: str) -> Iterable[T]:
    """Iterate with a Rich progress bar on standard error (quiet when not a terminal)."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        task = progress.add_task(description, total=len(items))
        for item in items:
            yield item
            progress.advance(task)


class _RateColumn(ProgressColumn):
    """Micrographs per second over the last ones done."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.2f} mic/s")


@contextlib.contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar with rate and time left; yields ``update(n_done, n_total)``.

    Work done before (a resumed run) is shown done without counting towards the rate.
    """
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _RateColumn(),
                        TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=console,
                        transient=True, disable=not console.is_terminal)
    with progress:
        task = progress.add_task(description, total=total)
        started: list[int] = []

        def update(done: int, n_total: int) -> None:
            if not started:  # the resumed ones
                started.append(done)
                progress.reset(task, total=n_total, completed=done)
                if done:
                    console.print(f"resuming: {done} of {n_total} micrograph(s) already picked", markup=False)
                return
            progress.update(task, completed=done)

        yield update


def device_line(requested: str, device: torch.device) -> str | None:
    """The line that says where the network ran when the user left it to us (no silent CPU fallback)."""
    if str(requested).strip().lower() != "auto":
        return None
    if device.type == "cpu":
        return "device: CPU (no CUDA device found; --device cuda insists on one)"
    import torch

    return f"device: {device} ({torch.cuda.get_device_name(device)})"


def write_picks(picks: pd.DataFrame, output: Path, fmt: str | None, options: CoordOptions) -> list[Path]:
    """Write picks as the user asked; ``star`` to a folder gives RELION's AutoPick layout.

    A folder (no ``.star`` suffix) with ``--format star`` gets ``autopick.star``, listing
    each micrograph with its ``<folder of the micrograph>/<name>_autopick.star``, as
    RELION 4/5's AutoPick job lays them out.
    """
    if fmt == "star" and output.suffix.lower() != ".star":
        from cryopick.io.formats.star import write_autopick_job

        return write_autopick_job(picks, output, options)
    return write_coords(picks, output, fmt, options)


def micrograph_infos(
    inputs: Sequence[str], apix: float | None, *, require_apix: bool = True
) -> list[MicrographInfo]:
    """Headers of the micrographs named by files, folders, globs, @lists or STAR files.

    With ``require_apix=False`` a missing pixel size gives ``apix = nan`` instead of an
    error, for commands that only need the shapes.
    """
    return [read_micrograph_info(path, apix, require_apix=require_apix) for path in list_micrographs(inputs)]


def check_format(fmt: str | None) -> str | None:
    """Normalise a --format value, with a clear error for an unknown one."""
    if fmt is None:
        return None
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise CryopickError(f"unknown coordinate format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}")
    return fmt


def check_output_target(path: Path | None, flag: str) -> None:
    """Fail before the work, not after it, when an output cannot be written where asked."""
    blocker = None if path is None else file_in_the_way(path)
    if blocker is not None:
        raise CryopickError(f"{blocker} is a file, not a folder", path=path, fix=f"give {flag} a path in a folder")


def check_positive(value: float | None, flag: str) -> None:
    """Reject a zero or negative value of a numeric flag."""
    if value is not None and not value > 0:
        raise CryopickError(f"{flag} must be positive, got {value}", fix=f"give {flag} a value above 0")


def diameter_px_from(diameter_A: float | None, apix: float | None, paths: Sequence[Path]) -> float | None:
    """--diameter (Å) in pixels: by --apix, else by the first micrograph's header; None without --diameter."""
    if diameter_A is None:
        return None
    pixel = apix if apix is not None else (
        read_micrograph_info(paths[0], None, require_apix=False).apix if paths else math.nan)
    if not math.isfinite(pixel):
        raise CryopickError("--diameter is in Å but the pixel size is unknown", path=paths[0] if paths else None,
                            fix="pass --apix, or micrographs whose headers give it")
    return diameter_A / pixel


def match_radius_px(
    radius_px: float | None,
    diameter_A: float | None,
    apix: float | None,
    infos: list[MicrographInfo],
    truth: pd.DataFrame,
    picks: pd.DataFrame,
) -> float:
    """The match radius: --radius-px, else half of --diameter in pixels, else half the tables' diameter."""
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
    for table in (truth, picks):
        known = table["diameter_px"].to_numpy(dtype=np.float64)
        known = known[np.isfinite(known)]
        if known.size:
            return float(np.median(known)) / 2.0
    raise CryopickError(
        "cannot tell the particle size to set the match radius",
        fix="pass --diameter (Å) with --apix or --micrographs, or --radius-px",
    )
