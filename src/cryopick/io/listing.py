"""Which micrographs a user means: files, folders, globs, ``@list.txt`` and STAR files.

Names must be unique across the result, because coordinates find their micrograph by
file stem (see :mod:`cryopick.io.names`).
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.formats.star import read_star
from cryopick.io.micrographs import MicrographInfo, read_micrograph_info
from cryopick.io.names import IMAGE_SUFFIXES, micrograph_name

_KNOWN = " ".join(IMAGE_SUFFIXES)



def list_micrographs(inputs: Sequence[str | Path]) -> list[Path]:
    """Expand globs, folders, ``@list.txt`` and STAR files of micrographs into paths.

    Each input is one of: a micrograph file; a glob pattern (``"data/*.mrc"``); a folder
    (its files with micrograph suffixes, sorted, not recursive); ``@list.txt`` (one path
    per line, relative to the list's folder, blank and ``#`` lines ignored); or a STAR
    file with ``_rlnMicrographName`` (relative paths are tried against the current
    folder, then the STAR file's folder).

    Returns
    -------
    list of Path
        De-duplicated, in input order.

    Raises
    ------
    CryopickError
        A path does not exist, a glob/folder/list names no micrographs, a STAR file has no
        ``_rlnMicrographName``, or two different files share a name (stem).
    """
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    found: list[Path] = []
    for item in inputs:
        found.extend(_expand(str(item)))
    unique: dict[str, Path] = {}
    by_name: dict[str, Path] = {}
    for path in found:
        key = os.path.realpath(path)
        if key in unique:
            continue
        name = micrograph_name(path)
        if name in by_name:
            raise CryopickError(
                f"two micrographs share the name {name!r}: {by_name[name]} and {path}",
                path=path,
                fix="rename one; coordinates find micrographs by file name (stem), so names must be unique",
            )
        unique[key] = by_name[name] = path
    if not unique:
        fix = "give micrograph files, a folder, a glob, @list.txt or a STAR file"
        raise CryopickError("no micrographs were given", fix=fix)
    return list(unique.values())


def micrograph_infos(inputs: Sequence[str | Path], apix: float | None, *,
                     require_apix: bool = True) -> list[MicrographInfo]:
    """Headers of the micrographs named by files, folders, globs, @lists or STAR files (:func:`list_micrographs`).

    With ``require_apix=False`` a missing pixel size gives ``apix = nan`` instead of an
    error, for callers that only need the shapes.
    """
    return [read_micrograph_info(path, apix, require_apix=require_apix) for path in list_micrographs(inputs)]


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _expand(item: str) -> list[Path]:
    if item.startswith("@"):
        return _from_list(Path(item[1:]))
    path = Path(item)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and _is_image(p))
        if not files:
            raise CryopickError("folder holds no micrographs", path=path, fix=f"add micrographs ({_KNOWN})")
        return files
    if path.is_file():
        if path.suffix.lower() == ".star":
            return _from_star(path)
        if not _is_image(path):
            is_txt = path.suffix.lower() == ".txt"
            fix = f"to read a list of paths, write @{item}" if is_txt else f"give micrographs ({_KNOWN})"
            problem = f"not a micrograph file type ({path.suffix or 'no suffix'})"
            raise CryopickError(problem, path=path, fix=fix)
        return [path]
    if glob.has_magic(item):
        matches = sorted(Path(p) for p in glob.glob(item))
        files = [p for p in matches if p.is_file() and _is_image(p)]
        if not files:
            what = f"matches {len(matches)} paths but no micrographs" if matches else "matches nothing"
            fix = "check the pattern (quote it so the shell passes it on)"
            raise CryopickError(f"pattern {what}", path=item, fix=fix)
        return files
    raise CryopickError("file not found", path=path, fix=f"check the path (relative to {Path.cwd()})")


def _from_list(list_file: Path) -> list[Path]:
    if not list_file.is_file():
        raise CryopickError("list file not found", path=list_file, fix="check the path after '@'")
    try:
        lines = list_file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fix = "give a text file with one path per line"
        raise CryopickError(f"cannot read the list ({exc})", path=list_file, fix=fix) from None
    files: list[Path] = []
    for number, line in enumerate(lines, start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        path = Path(entry) if Path(entry).is_absolute() else list_file.parent / entry
        if not path.is_file():
            fix = "fix the path; relative paths start at the list file's folder"
            problem = f"line {number}: {entry} not found (looked at {path})"
            raise CryopickError(problem, path=list_file, fix=fix)
        if not _is_image(path):
            problem = f"line {number}: {entry} is not a micrograph file type"
            raise CryopickError(problem, path=list_file, fix=f"list only micrographs ({_KNOWN})")
        files.append(path)
    if not files:
        raise CryopickError("list names no micrographs", path=list_file, fix="write one path per line")
    return files


def _from_star(star: Path) -> list[Path]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            blocks = read_star(star, always_dict=True)
    except Exception as exc:  # noqa: BLE001 - the parser raises many types
        fix = "check the file (re-export it from RELION)"
        raise CryopickError(f"not a readable STAR file ({exc})", path=star, fix=fix) from None
    tables = [df for df in blocks.values() if isinstance(df, pd.DataFrame) and "rlnMicrographName" in df]
    if not tables:
        fix = "give a micrographs STAR file (e.g. RELION's corrected_micrographs.star)"
        raise CryopickError("STAR file has no _rlnMicrographName column", path=star, fix=fix)
    files: list[Path] = []
    for entry in tables[0]["rlnMicrographName"].astype(str):
        entry_path = Path(entry)
        candidates = [entry_path] if entry_path.is_absolute() else [entry_path, star.parent / entry_path]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            problem = f"micrograph {entry} not found (looked in {Path.cwd()} and {star.parent})"
            raise CryopickError(problem, path=star, fix="run from the RELION project folder or fix the paths")
        files.append(path)
    if not files:
        raise CryopickError("STAR file lists no micrographs", path=star, fix="give one with micrographs")
    return files
