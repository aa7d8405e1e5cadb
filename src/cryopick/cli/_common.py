"""Pieces several subcommands share: consoles, progress, micrograph headers, format options."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cryopick.errors import CryopickError
from cryopick.io.coords import FORMATS
from cryopick.io.listing import list_micrographs
from cryopick.io.micrographs import MicrographInfo, read_micrograph_info

console = Console(stderr=True, highlight=False)
"""Messages and progress go to standard error, so standard output stays clean for --json."""

T = TypeVar("T")


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


def check_positive(value: float | None, flag: str) -> None:
    """Reject a zero or negative value of a numeric flag."""
    if value is not None and not value > 0:
        raise CryopickError(f"{flag} must be positive, got {value}", fix=f"give {flag} a value above 0")
