"""Particle coordinates in and out: RELION STAR, EMAN2 BOX, crYOLO CBOX, Topaz TSV,
cryoSPARC CS and CSV, all converted to and from the Picks table (:mod:`cryopick.io.picks`).

This is the only place coordinates change convention. Inside cryopick ``x`` is the column
and ``y`` the row of the array as :mod:`mrcfile` reads it, in pixels of the original
micrograph. Each format's module in :mod:`cryopick.io.formats` documents its origin,
corner-or-centre rule and what it cannot hold; ``docs/formats.md`` has the overview.

None of the supported tools counts rows from the bottom for MRC micrographs, so y is
never flipped unless ``CoordOptions.flip_y`` asks for it (y -> ny - 1 - y; it needs the
micrograph shapes). Flipping is its own inverse: write with it and read with it to get
back the same picks.

Examples
--------
>>> picks = read_coords("AutoPick/job010/Movies")             # doctest: +SKIP
>>> write_coords(picks, "boxes", "box", CoordOptions(box_size_px=200))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.formats import MODULES, SUFFIX_FORMATS
from cryopick.io.formats.star import write_autopick_job
from cryopick.io.picks import validate_picks

FORMATS: tuple[str, ...] = tuple(MODULES)
"""The format names, in the registry's order (:data:`cryopick.io.formats.MODULES`)."""

_FOLDER_SUFFIXES: tuple[str, ...] = tuple(module.SUFFIXES[0] for module in MODULES.values())
"""Suffixes picked up from a folder when no format is named: each format's first (``.txt`` only with fmt="tsv")."""

_SUFFIX_TEXT = " or ".join(
    [" ".join("/".join(module.SUFFIXES) for module in list(MODULES.values())[:-1]),
     "/".join(list(MODULES.values())[-1].SUFFIXES)])
"""The suffixes as an error names them: ``.star .box .cbox .tsv/.txt .cs or .csv``."""


@dataclass(frozen=True)
class CoordOptions:
    """Options that a format or a tool may need at the file boundary.

    box_size_px: box size written to BOX/CBOX (and used to convert their corners to centres
        when a BOX file does not say); defaults to the picks' diameter_px, else required.
    flip_y: mirror y (y -> ny - 1 - y) for tools that count rows from the bottom; needs shapes.
    shapes: {micrograph name: (ny, nx)}; needed by CS (fractional coordinates) and flip_y.
    apix: pixel size written to STAR optics / CS where a format records it.
    star_style: "relion31" writes one STAR file with optics and particles blocks;
        "relion30" writes RELION's per-micrograph coordinate files into a folder.
    star_suffix: per-micrograph STAR files are named ``<name>_<star_suffix>.star``.
    micrograph_suffix: appended to the name where a format stores a micrograph path
        (STAR rlnMicrographName, CS location/micrograph_path) and no path is known.
    micrograph_paths: {name: path} written instead of ``<name><micrograph_suffix>``.
    allow_empty: reading zero coordinates returns an empty table instead of an error.
    """

    box_size_px: float | None = None
    flip_y: bool = False
    shapes: Mapping[str, tuple[int, int]] | None = None
    apix: float | None = None
    star_style: str = "relion31"
    star_suffix: str = "autopick"
    micrograph_suffix: str = ".mrc"
    micrograph_paths: Mapping[str, str] | None = None
    allow_empty: bool = False


def detect_format(path: str | Path) -> str:
    """Guess the format from the suffix (.star .box .cbox .tsv/.txt .cs .csv)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    if path.is_dir():
        raise CryopickError(
            "is a folder, so its coordinate format cannot be told from a suffix",
            path=path,
            fix=f"name the format ({', '.join(FORMATS)})",
        )
    raise CryopickError(
        f"unknown coordinate file suffix {suffix or '(none)'!r}",
        path=path,
        fix=f"use {_SUFFIX_TEXT}, or name the format ({', '.join(FORMATS)})",
    )


def read_coords(
    paths: str | Path | Sequence[str | Path], fmt: str | None = None, options: CoordOptions = CoordOptions()
) -> pd.DataFrame:
    """Read one or many coordinate files (or a folder of per-micrograph files) into a Picks table.

    Parameters
    ----------
    paths
        A file, a folder of per-micrograph files (not searched recursively), or a list of
        either. Files in a list may be in different formats when ``fmt`` is None.
    fmt
        One of :data:`FORMATS`; default: from each file's suffix.
    options
        ``flip_y`` (with ``shapes``) mirrors y after reading; ``box_size_px`` serves BOX
        files without a size column; ``allow_empty`` accepts zero coordinates.

    Returns
    -------
    A validated Picks table (rows in file order, extra columns kept).
    """
    fmt = _check_format(fmt)
    inputs = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not inputs:
        raise CryopickError("no coordinate files were given", fix="give a coordinate file or folder")
    source = Path(inputs[0]) if len(inputs) == 1 else None
    tables = [validate_picks(_read_one(file, kind, options), source=file) for file, kind in _expand(inputs, fmt)]
    filled = [t for t in tables if len(t)] or tables[:1]  # concat of all-NaN empty frames warns
    picks = validate_picks(pd.concat(filled, ignore_index=True), source=source) if filled else None
    if picks is None or picks.empty:
        if not options.allow_empty:
            what = "coordinate files" if source is None else ("folder" if source.is_dir() else "coordinate file")
            raise CryopickError(
                f"{what} has no coordinates",
                path=source,
                fix="check it is the right file (an empty pick list?) or pick again with a lower threshold",
            )
        if picks is None:
            return validate_picks(pd.DataFrame(columns=["micrograph", "x", "y"]))
    if options.flip_y:
        picks = mirror_y(picks, options.shapes, source)
    return picks


def write_coords(
    picks: pd.DataFrame, path: str | Path, fmt: str | None = None, options: CoordOptions = CoordOptions()
) -> list[Path]:
    """Write a Picks table; per-micrograph formats (BOX, CBOX) write one file per micrograph
    into the folder ``path``. Returns the files written. Writes are atomic.

    Parameters
    ----------
    picks
        A Picks table (validated here).
    path
        The output file, or the output folder for BOX, CBOX and ``star_style="relion30"``.
    fmt
        One of :data:`FORMATS`; default: from the suffix of ``path``.
    options
        ``box_size_px`` for BOX/CBOX (else each pick's ``diameter_px``), ``shapes`` for CS
        and ``flip_y``, ``apix`` for STAR optics and CS, ``star_style`` for STAR.
    """
    path = Path(path)
    fmt = _check_format(fmt)
    if fmt is None:
        if path.suffix.lower() not in SUFFIX_FORMATS:
            raise CryopickError(
                "cannot tell the output format from the name",
                path=path,
                fix=f"name the format ({', '.join(FORMATS)}); box and cbox write into a folder",
            )
        fmt = SUFFIX_FORMATS[path.suffix.lower()]
    table = validate_picks(picks, source=path)
    if options.flip_y:
        table = mirror_y(table, options.shapes, path)
    try:
        return MODULES[fmt].write(table, path, options)
    except OSError as exc:
        raise CryopickError(f"cannot write ({exc})", path=path, fix="check the folder exists and is writable") from exc


def write_picks(picks: pd.DataFrame, output: str | Path, fmt: str | None,
                options: CoordOptions = CoordOptions()) -> list[Path]:
    """Write picks as a command's ``-o`` and ``--format`` ask; ``star`` to a folder gives RELION's AutoPick layout.

    A folder (no ``.star`` suffix) with ``fmt="star"`` gets ``autopick.star``, listing
    each micrograph with its ``<folder of the micrograph>/<name>_autopick.star``, as
    RELION 4/5's AutoPick job lays them out
    (:func:`cryopick.io.formats.star.write_autopick_job`); anything else is
    :func:`write_coords`. Returns the files written.
    """
    output = Path(output)
    if fmt == "star" and output.suffix.lower() != ".star":
        return write_autopick_job(picks, output, options)
    return write_coords(picks, output, fmt, options)


def mirror_y(
    picks: pd.DataFrame, shapes: Mapping[str, tuple[int, int]] | None, source: str | Path | None = None
) -> pd.DataFrame:
    """Flip rows: y -> ny - 1 - y with each micrograph's ``ny`` (its own inverse)."""
    if shapes is None:
        raise CryopickError(
            "flipping y needs the micrograph sizes",
            path=source,
            fix="give the micrographs (--micrographs / CoordOptions.shapes) along with --flip-y",
        )
    names = picks["micrograph"]
    unknown = sorted(set(names) - set(shapes))
    if unknown:
        raise CryopickError(
            f"flipping y needs the size of micrograph {unknown[0]}"
            + (f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""),
            path=source,
            fix="give those micrographs too (names match by file stem)",
        )
    ny = names.map(lambda m: float(shapes[m][0])).to_numpy(dtype=np.float64)
    out = picks.copy()
    out["y"] = ny - 1.0 - out["y"].to_numpy(dtype=np.float64)
    return out


def _check_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    name = fmt.lower().lstrip(".")
    if name == "txt":
        name = "tsv"
    if name not in FORMATS:
        raise CryopickError(f"unknown coordinate format {fmt!r}", fix=f"use one of {', '.join(FORMATS)}")
    return name


def _expand(inputs: list[str | Path], fmt: str | None) -> list[tuple[Path, str]]:
    """Each input file with its format; folders give their coordinate files, sorted."""
    files: list[tuple[Path, str]] = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise CryopickError("does not exist", path=path, fix="check the path")
        if not path.is_dir():
            files.append((path, fmt or detect_format(path)))
            continue
        suffixes = MODULES[fmt].SUFFIXES if fmt else _FOLDER_SUFFIXES
        found = sorted(
            p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes
        )
        if not found:
            raise CryopickError(
                f"folder has no coordinate files ({' '.join(suffixes)})",
                path=path,
                fix="give the folder that holds the coordinate files, or name their format",
            )
        kinds = sorted({SUFFIX_FORMATS[p.suffix.lower()] for p in found}) if fmt is None else [fmt]
        if len(kinds) > 1:
            raise CryopickError(
                f"folder mixes coordinate formats ({', '.join(kinds)})",
                path=path,
                fix="name the format to read, or give the files themselves",
            )
        files += [(p, kinds[0]) for p in found]
    return files


def _read_one(path: Path, fmt: str, options: CoordOptions) -> pd.DataFrame:
    """One file through its format's reader; parser errors become one-line CryopickErrors."""
    try:
        return MODULES[fmt].read(path, options)
    except CryopickError:
        raise
    except Exception as exc:  # a parser's ValueError/KeyError on bad input must not escape raw
        raise CryopickError(
            f"cannot read as {fmt} ({type(exc).__name__}: {exc})",
            path=path,
            fix=f"check that it is a {fmt} coordinate file, or name its format",
        ) from exc


__all__ = ["FORMATS", "CoordOptions", "detect_format", "mirror_y", "read_coords", "write_coords", "write_picks"]
