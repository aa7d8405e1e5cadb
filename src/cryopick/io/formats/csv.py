"""Plain CSV: cryopick's own table, lossless.

Layout
------
A header line ``micrograph,x,y,score,diameter_px`` followed by any extra columns (for
example ``kind`` in a simulator's truth table), one row per particle. ``x``/``y`` are in
cryopick's convention (column/row of the array as :mod:`mrcfile` reads it, pixels of the
original micrograph), no flip, no offset. Numbers are written in full precision, NaN as
an empty cell, and read back exactly; extra columns survive a round trip.

Reading needs ``x`` and ``y``; ``score`` and ``diameter_px`` are optional, and a file
without a ``micrograph`` column is taken to hold one micrograph named after the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic
from cryopick.io.formats._common import numeric, require_columns
from cryopick.io.names import coordinate_file_name
from cryopick.io.outputs import output_file
from cryopick.io.picks import PICK_COLUMNS

if TYPE_CHECKING:
    from cryopick.io.coords import CoordOptions

SUFFIXES: tuple[str, ...] = (".csv",)
_FIX = "give a CSV file with a header line: micrograph,x,y[,score,diameter_px,...]"


def read(path: Path, options: CoordOptions) -> pd.DataFrame:
    """Read a cryopick CSV table."""
    try:
        # Only an empty cell is missing (what write() makes of NaN): pandas' default NA words
        # would make micrographs named "NA", "nan" or "null" nameless. Number columns still
        # read those words as missing (numeric()).
        table = pd.read_csv(path, dtype={"micrograph": str}, keep_default_na=False, na_values=[""])
    except pd.errors.EmptyDataError:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "micrograph" else np.float64) for c in PICK_COLUMNS})
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CryopickError(f"cannot parse CSV file ({type(exc).__name__}: {exc})", path=path, fix=_FIX) from exc
    table.columns = [str(c).strip() for c in table.columns]
    require_columns(list(table.columns), ["x", "y"], path, "CSV file", _FIX)
    out = table.copy()
    if "micrograph" not in out.columns:
        out.insert(0, "micrograph", coordinate_file_name(path))
    elif out["micrograph"].isna().any():
        row = int(np.flatnonzero(out["micrograph"].isna().to_numpy())[0])
        raise CryopickError(
            f"micrograph name is empty in data row {row + 1}", path=path, fix="give every row a micrograph name"
        )
    for column in ("x", "y", "score", "diameter_px"):
        if column in out.columns:
            out[column] = numeric(out[column], path, column)
    return out


def write(picks: pd.DataFrame, path: Path, options: CoordOptions) -> list[Path]:
    """Write the Picks table as CSV, extra columns included."""
    output_file(path)
    write_text_atomic(path, picks.to_csv(index=False))
    return [path]
