"""RELION STAR coordinates.

Conventions
-----------
``rlnCoordinateX`` is the column and ``rlnCoordinateY`` the row of the micrograph array
as RELION (and :mod:`mrcfile`) reads it, in pixels of that micrograph, counted from 0 at
the first pixel: exactly cryopick's convention, so no offset and no flip. Topaz and
crYOLO write RELION STAR the same way (their STAR exports add nothing and flip nothing).

Reading
    * RELION 3.0 files: one ``data_`` block with a plain loop. Per-micrograph files
      (``mic_autopick.star``) have no ``rlnMicrographName``; the name comes from the file
      name (:func:`cryopick.io.names.coordinate_file_name`).
    * RELION 3.1+ files: a ``data_optics`` block and a ``data_particles`` block. Columns
      that do not place a particle (``rlnOriginXAngst``, angles, CTF ...) are ignored.
    * RELION 4/5 coordinate lists (``autopick.star``: ``rlnMicrographName`` and
      ``rlnMicrographCoordinates`` per micrograph): each listed file is read; relative
      paths are looked up from the current folder and from the list's parent folders
      (the RELION project folder).
    * ``rlnAutopickFigureOfMerit`` becomes ``score``; RELION's "no score" value -999 (what
      manual picking writes) becomes NaN.
    * Labels that do not start with ``rln`` are kept as extra columns, except
      ``cryopickDiameterPx``, which is ``diameter_px``.

Writing
    * ``star_style="relion31"`` (default): one file, a ``data_optics`` block
      (``rlnOpticsGroup``, ``rlnOpticsGroupName`` and, when the pixel size is known,
      ``rlnMicrographPixelSize`` and ``rlnImagePixelSize``) and a ``data_particles`` block
      with ``rlnCoordinateX/Y``, ``rlnAutopickFigureOfMerit`` (-999 where unknown),
      ``rlnMicrographName`` (``<name><micrograph_suffix>`` or the path given in
      ``micrograph_paths``) and ``rlnOpticsGroup``; ``cryopickDiameterPx`` and extra
      columns follow (RELION ignores labels it does not know).
    * ``star_style="relion30"``: RELION's per-micrograph coordinate files
      ``<name>_<star_suffix>.star`` (plain ``data_`` loop with ``rlnCoordinateX/Y`` and
      ``rlnAutopickFigureOfMerit``) in the folder ``path``, as RELION's Import and Extract
      read them. Diameter and extra columns are not written there.

Coordinates are written with 6 decimals, scores and diameters with 9 significant digits.
"""

from __future__ import annotations

import linecache
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import starfile

from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic
from cryopick.io.formats._common import by_micrograph, numeric
from cryopick.io.names import coordinate_file_name, micrograph_name
from cryopick.io.outputs import check_file_name, output_file, output_folder
from cryopick.io.picks import PICK_COLUMNS

if TYPE_CHECKING:
    from cryopick.io.coords import CoordOptions

SUFFIXES: tuple[str, ...] = (".star",)
NO_SCORE = -999.0
"""RELION's figure of merit for picks without a score (manual picking writes it)."""
DIAMETER_LABEL = "cryopickDiameterPx"
STAR_STYLES: tuple[str, ...] = ("relion31", "relion30")
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FIX = "give a RELION coordinate or particle STAR file with rlnCoordinateX and rlnCoordinateY"


def read_star(path: Path, **kwargs: object) -> dict:
    """``starfile.read`` that never leaves the file's old lines behind for the next read.

    starfile reads lines through :mod:`linecache` and clears that cache only when a parse
    succeeds; after a file fails to parse, reading the same path again (corrected in the
    meantime) would parse the stale lines and fail again, in the same process.
    """
    try:
        return starfile.read(path, **kwargs)
    finally:
        linecache.cache.pop(str(path), None)  # not checkcache: a rewrite within a clock tick keeps size and mtime


def read(path: Path, options: CoordOptions) -> pd.DataFrame:
    """Read a RELION coordinate, particle or coordinate-list STAR file."""
    blocks = _parse(path)
    if blocks is None:
        return _empty()
    table = _coordinate_block(blocks, path)
    if table is not None:
        return _to_picks(table, path)
    for block in blocks.values():
        if isinstance(block, pd.DataFrame) and "rlnMicrographCoordinates" in block.columns:
            return _read_listed(block, path)
    labels = sorted({c for b in blocks.values() if isinstance(b, pd.DataFrame) for c in b.columns})
    raise CryopickError(
        f"STAR file has no rlnCoordinateX/rlnCoordinateY columns (labels: {', '.join(labels[:6]) or 'none'})",
        path=path,
        fix=_FIX,
    )


def write(picks: pd.DataFrame, path: Path, options: CoordOptions) -> list[Path]:
    """Write RELION 3.1 style (one file) or RELION 3.0 per-micrograph files (a folder)."""
    if options.star_style not in STAR_STYLES:
        raise CryopickError(
            f"unknown STAR style {options.star_style!r}",
            path=path,
            fix=f"use one of {', '.join(STAR_STYLES)}",
        )
    if options.star_style == "relion30":
        return _write_per_micrograph(picks, path, options)
    output_file(path)
    optics = {"rlnOpticsGroup": ["1"], "rlnOpticsGroupName": ["opticsGroup1"]}
    if options.apix is not None:
        optics["rlnMicrographPixelSize"] = [f"{options.apix:.6f}"]
        optics["rlnImagePixelSize"] = [f"{options.apix:.6f}"]
    particles = coordinate_columns(picks)
    names = picks["micrograph"].astype(str)
    paths = options.micrograph_paths or {}
    particles["rlnMicrographName"] = [star_value(paths.get(n, f"{n}{options.micrograph_suffix}"), path) for n in names]
    particles["rlnOpticsGroup"] = "1"
    diameter = picks["diameter_px"].to_numpy(dtype=np.float64)
    if np.isfinite(diameter).any():
        particles[DIAMETER_LABEL] = _text(diameter, "%.9g")
    for column in picks.columns:
        if column not in PICK_COLUMNS and _LABEL.match(str(column)) and not str(column).startswith("rln"):
            particles[str(column)] = [_cell(v) for v in picks[column]]
    write_text_atomic(path, star_text({"optics": pd.DataFrame(optics), "particles": particles}))
    return [path]


def _write_per_micrograph(picks: pd.DataFrame, folder: Path, options: CoordOptions) -> list[Path]:
    output_folder(folder)
    written = []
    suffix = f"_{options.star_suffix}" if options.star_suffix else ""
    for name, group in by_micrograph(picks):
        check_file_name(name, folder)
        target = folder / f"{name}{suffix}.star"
        write_text_atomic(target, star_text({"": coordinate_columns(group)}))
        written.append(target)
    return written


def star_text(blocks: dict[str, pd.DataFrame]) -> str:
    """STAR text of these blocks as RELION 3.1+ writes it, without starfile's time stamp.

    The same picks then give the same bytes, whenever and however the run was made.
    """
    text = starfile.to_string(blocks)
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith("# Created by the starfile")]
    return "\n# version 30001\n" + "".join(lines)


def write_autopick_job(picks: pd.DataFrame, folder: Path, options: CoordOptions) -> list[Path]:
    """RELION 4/5's AutoPick layout: ``folder/autopick.star`` and one coordinate file per micrograph.

    Each micrograph's picks go to ``folder/<its folder's name>/<name>_autopick.star``
    (RELION mirrors the micrograph's folder); the list names the micrograph
    (``micrograph_paths`` or ``<name><micrograph_suffix>``) and that file, relative to
    the current folder (RELION's project folder) where they lie inside it. Micrographs
    without picks are not listed. Returns the list first, then the coordinate files.
    """
    output_folder(folder)
    paths = options.micrograph_paths or {}
    rows, written = [], []
    suffix = f"_{options.star_suffix}" if options.star_suffix else ""
    for name, group in by_micrograph(picks):
        check_file_name(name, folder)
        mic = paths.get(name, f"{name}{options.micrograph_suffix}")
        target = folder / (Path(mic).parent.name or "Micrographs") / f"{name}{suffix}.star"
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, star_text({"": coordinate_columns(group)}))
        written.append(target)
        rows.append((star_value(mic, folder), star_value(_relative(target), folder)))
    listing = pd.DataFrame(rows, columns=["rlnMicrographName", "rlnMicrographCoordinates"])
    target = folder / "autopick.star"
    write_text_atomic(target, star_text({"coordinate_files": listing}))
    return [target, *written]


def star_value(text: str, path: Path) -> str:
    """``text`` as a STAR value that reads back as written (starfile quotes only spaces).

    A ``#`` would start a comment: such a value is double-quoted. Quotes inside a value
    do not survive a STAR reader (starfile moves them), so they are refused.
    """
    if "'" in text or '"' in text:
        raise CryopickError(f"the name {text!r} has a quote, which STAR readers do not read back",
                            path=path, fix="rename the micrograph without quotes, or write CSV (-o picks.csv)")
    if "#" in text and not any(c.isspace() for c in text):
        return f'"{text}"'
    return text


def _relative(path: Path) -> str:
    """``path`` relative to the current folder when it lies inside it, else absolute."""
    path = path.absolute()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def coordinate_columns(picks: pd.DataFrame) -> pd.DataFrame:
    """X, Y (first, so no data row can start with ``data_``) and the figure of merit, as text."""
    score = picks["score"].to_numpy(dtype=np.float64)
    return pd.DataFrame(
        {
            "rlnCoordinateX": _text(picks["x"].to_numpy(dtype=np.float64), "%.6f"),
            "rlnCoordinateY": _text(picks["y"].to_numpy(dtype=np.float64), "%.6f"),
            "rlnAutopickFigureOfMerit": _text(np.where(np.isfinite(score), score, NO_SCORE), "%.9g"),
        }
    )


def _text(values: np.ndarray, fmt: str) -> np.ndarray:
    out = np.char.mod(fmt, values).astype(object)
    out[~np.isfinite(values)] = "<NA>"
    return out


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "<NA>"
    return str(value)


def _parse(path: Path) -> dict[str, object] | None:
    """Blocks of the file, or None for a file without any content."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CryopickError(f"cannot read STAR file ({exc})", path=path, fix=_FIX) from exc
    if not any(line.strip() and not line.lstrip().startswith("#") for line in text.splitlines()):
        return None
    try:
        blocks = read_star(
            path, always_dict=True, parse_as_string=["rlnMicrographName", "rlnMicrographCoordinates"]
        )
    except Exception as exc:  # starfile raises pandas/ValueError/IndexError on malformed loops
        raise CryopickError(f"cannot parse STAR file ({type(exc).__name__}: {exc})", path=path, fix=_FIX) from exc
    if not blocks:
        raise CryopickError("is not a STAR file (no data_ block)", path=path, fix=_FIX)
    return dict(blocks)


def _coordinate_block(blocks: dict[str, object], path: Path) -> pd.DataFrame | None:
    """The loop that holds coordinates: ``data_particles`` if it has them, else the first."""
    found = [
        (name, block)
        for name, block in blocks.items()
        if isinstance(block, pd.DataFrame) and ("rlnCoordinateX" in block.columns or "rlnCoordinateY" in block.columns)
    ]
    if not found:
        return None
    name, block = next(((n, b) for n, b in found if n == "particles"), found[0])
    missing = [c for c in ("rlnCoordinateX", "rlnCoordinateY") if c not in block.columns]
    if missing:
        raise CryopickError(f"STAR block data_{name} lacks {', '.join(missing)}", path=path, fix=_FIX)
    return block


def _to_picks(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    n = len(table)
    if "rlnMicrographName" in table.columns:
        names = [micrograph_name(str(v)) for v in table["rlnMicrographName"]]
    else:
        names = [coordinate_file_name(path)] * n
    score = np.full(n, np.nan)
    if "rlnAutopickFigureOfMerit" in table.columns:
        score = numeric(table["rlnAutopickFigureOfMerit"], path, "rlnAutopickFigureOfMerit")
        score[score == NO_SCORE] = np.nan
    diameter = np.full(n, np.nan)
    if DIAMETER_LABEL in table.columns:
        diameter = numeric(table[DIAMETER_LABEL], path, DIAMETER_LABEL)
    out = pd.DataFrame(
        {
            "micrograph": pd.Series(names, dtype=object),
            "x": numeric(table["rlnCoordinateX"], path, "rlnCoordinateX"),
            "y": numeric(table["rlnCoordinateY"], path, "rlnCoordinateY"),
            "score": score,
            "diameter_px": diameter,
        }
    )
    for column in table.columns:
        if not str(column).startswith("rln") and column != DIAMETER_LABEL and column not in PICK_COLUMNS:
            out[column] = table[column].to_numpy()
    return out


def _read_listed(listing: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Read every coordinate file a RELION 4/5 ``autopick.star``-style list names."""
    if "rlnMicrographName" not in listing.columns:
        raise CryopickError("coordinate list lacks rlnMicrographName", path=path, fix=_FIX)
    tables = []
    for mic, listed in zip(listing["rlnMicrographName"], listing["rlnMicrographCoordinates"], strict=True):
        target = _resolve(str(listed), path)
        blocks = _parse(target)
        table = None if blocks is None else _coordinate_block(blocks, target)
        if table is None:
            continue
        picks = _to_picks(table, target)
        picks["micrograph"] = micrograph_name(str(mic))
        tables.append(picks)
    return pd.concat(tables, ignore_index=True) if tables else _empty()


def _resolve(listed: str, listing: Path) -> Path:
    """A path from a RELION list: absolute, from the current folder, or from the project folder."""
    candidate = Path(listed)
    if candidate.is_absolute():
        if candidate.is_file():
            return candidate
    else:
        for base in (Path.cwd(), *listing.resolve().parents):
            if (base / candidate).is_file():
                return base / candidate
    raise CryopickError(
        f"the coordinate file {listed} it lists does not exist",
        path=listing,
        fix="run from the RELION project folder, or read the per-micrograph files directly",
    )


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c == "micrograph" else np.float64) for c in PICK_COLUMNS})
