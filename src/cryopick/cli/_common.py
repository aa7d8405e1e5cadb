"""Pieces several subcommands share: the console, progress bars and option checks.

Every command imports this module, so it imports only the standard library, rich's
console and :mod:`cryopick.errors`: ``cryopick --version`` and every ``--help`` start
without numpy, pandas or torch. Each helper imports the library it needs when called.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console

from cryopick.errors import CryopickError

if TYPE_CHECKING:
    from rich.progress import ProgressColumn

console = Console(stderr=True, highlight=False, soft_wrap=True)
"""Messages and progress go to standard error, so standard output stays clean for --json.

Lines are never hard-wrapped (``soft_wrap``): a terminal folds them, and a log file or
a pipe keeps each message on one line."""

T = TypeVar("T")


def say(line: str) -> None:
    """One line on standard error, as written (no markup, no hard wrapping)."""
    console.print(line, markup=False, soft_wrap=True)


def progress_over(items: Sequence[T], description: str) -> Iterable[T]:
    """Iterate with a Rich progress bar on standard error (quiet when not a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

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


def _rate_column() -> ProgressColumn:
    """A column with the micrographs per second over the last ones done."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:.2f} mic/s")

    return RateColumn()


@contextlib.contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar with rate and time left; yields ``update(n_done, n_total)``.

    Work done before (a resumed run) is shown done without counting towards the rate.
    """
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _rate_column(),
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


def check_format(fmt: str | None) -> str | None:
    """Normalise a --format value, with a clear error for an unknown one."""
    if fmt is None:
        return None
    from cryopick.io.coords import FORMATS

    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise CryopickError(f"unknown coordinate format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}")
    return fmt


def check_output_target(path: Path | None, flag: str) -> None:
    """Fail before the work, not after it, when an output cannot be written where asked."""
    from cryopick.io.atomic import file_in_the_way

    blocker = None if path is None else file_in_the_way(path)
    if blocker is not None:
        raise CryopickError(f"{blocker} is a file, not a folder", path=path, fix=f"give {flag} a path in a folder")


def check_positive(value: float | None, flag: str) -> None:
    """Reject a zero or negative value of a numeric flag."""
    if value is not None and not value > 0:
        raise CryopickError(f"{flag} must be positive, got {value}", fix=f"give {flag} a value above 0")


