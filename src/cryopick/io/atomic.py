"""Atomic file writing: a file is either its old self or completely new, never half written.

Long runs are interrupted; a reader must never find a truncated STAR file or MRC. Every
writer in cryopick writes to a temporary file beside the target and renames it into
place, which is atomic on POSIX file systems.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cryopick.errors import CryopickError


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` atomically.

    The parent folder is created if needed. On error the temporary file is removed and
    ``path`` is left untouched. A file system error (the folder cannot be made or
    written, the disk is full) is raised as a :class:`~cryopick.errors.CryopickError`
    naming ``path``.

    Examples
    --------
    >>> with atomic_path("picks.star") as tmp:   # doctest: +SKIP
    ...     starfile.write(df, tmp)
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should be as readable as any file
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:  # writing the temporary file or renaming it: disk full, a folder in the way
        tmp.unlink(missing_ok=True)
        raise _cannot_write(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def file_in_the_way(path: str | Path) -> Path | None:
    """The file that stands where one of ``path``'s folders should be, if any (nothing could be written there)."""
    return next((p for p in Path(path).parents if p.exists() and not p.is_dir()), None)


def _cannot_write(path: Path, exc: OSError) -> CryopickError:
    """One line for a file system error on writing ``path``, naming what stood in the way."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        blocker = file_in_the_way(path)
        if blocker is not None:  # mkdir of an existing file: "File exists" would puzzle
            return CryopickError(
                f"cannot write the file: {blocker} is a file, not a folder",
                path=path,
                fix="choose an output whose folders are folders (or move that file away)",
            )
    return CryopickError(
        f"cannot write the file ({exc.strerror or exc})",
        path=path,
        fix="check that its folder exists or can be made, that you may write there, and that the disk has room",
    )


def _umask() -> int:
    """The process umask (reading it means setting it, so set it straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
