"""Where outputs go: a file where one file is written, a folder where one file per micrograph is.

Every writer checks its target here first, so a file in the way of a folder (or a folder in
the way of a file) is one :class:`~cryopick.errors.CryopickError` naming it, before any work.
"""

from __future__ import annotations

from pathlib import Path

from cryopick.errors import CryopickError


def check_file_name(name: str, path: Path) -> None:
    """A micrograph name must be usable as a file name inside the output folder ``path``."""
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise CryopickError(
            f"micrograph name {name!r} cannot be used as a file name",
            path=path,
            fix="name micrographs by their file stem (no folders)",
        )


def output_folder(path: Path) -> Path:
    """Make ``path`` a folder for per-micrograph files; an existing file there is an error."""
    if path.exists() and not path.is_dir():
        raise CryopickError(
            "is a file, but this format writes one file per micrograph into a folder",
            path=path,
            fix="give a folder name as the output",
        )
    path.mkdir(parents=True, exist_ok=True)
    return path


def output_file(path: Path) -> Path:
    """``path`` must not be an existing folder for single-file formats."""
    if path.is_dir():
        raise CryopickError(
            "is a folder, but this format writes one file",
            path=path,
            fix="give a file name with the format's suffix as the output",
        )
    return path
