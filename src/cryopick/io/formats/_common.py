"""Helpers the format modules share: numeric parsing with clear errors, box sizes, grouping.

Nothing here knows a file format; each helper turns a problem in the user's data into a
:class:`~cryopick.errors.CryopickError` that names the file and the fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError

NA_TOKENS: frozenset[str] = frozenset({"", "nan", "NaN", "NAN", "<NA>", "NA", "None", "none", "null"})
"""Cell values that mean "no value" in the text formats (crYOLO writes ``<NA>``)."""


def numeric(values: object, path: Path, label: str) -> np.ndarray:
    """Parse a column to float64; a cell that is neither a number nor empty is an error.

    Parameters
    ----------
    values
        A pandas Series or array-like of strings or numbers.
    path
        The file the column came from, named in the error.
    label
        The column's name in the file, named in the error.
    """
    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return np.array(series.to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
    parsed = pd.to_numeric(series, errors="coerce").astype(np.float64)
    text = series.astype(str).str.strip()
    bad = parsed.isna().to_numpy() & series.notna().to_numpy() & ~text.isin(NA_TOKENS).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CryopickError(
            f"column {label} holds {int(bad.sum())} value(s) that are not numbers, e.g. {text.iloc[row]!r} "
            f"(data row {row + 1})",
            path=path,
            fix="correct or remove those rows",
        )
    return np.array(parsed.to_numpy(dtype=np.float64), copy=True)



def require_columns(columns: Sequence[str], required: Sequence[str], path: Path, what: str, fix: str) -> None:
    """Raise if any ``required`` column is missing from ``columns``."""
    missing = [c for c in required if c not in columns]
    if missing:
        found = ", ".join(map(str, columns[:8])) + (" ..." if len(columns) > 8 else "")
        raise CryopickError(
            f"{what} lacks column(s) {', '.join(missing)} (found: {found or 'none'})",
            path=path,
            fix=fix,
        )


def box_sizes(picks: pd.DataFrame, box_size_px: float | None, path: Path) -> np.ndarray:
    """Box size per pick for BOX/CBOX: the option if given, else each pick's ``diameter_px``."""
    if box_size_px is not None:
        if not np.isfinite(box_size_px) or box_size_px <= 0:
            raise CryopickError(
                f"box size must be a positive number of pixels, got {box_size_px}",
                path=path,
                fix="pass a positive box size (--box-size)",
            )
        return np.full(len(picks), float(box_size_px))
    sizes = picks["diameter_px"].to_numpy(dtype=np.float64)
    unknown = ~np.isfinite(sizes) | (sizes <= 0)
    if unknown.any():
        raise CryopickError(
            f"{int(unknown.sum())} pick(s) have no diameter_px, so the box size is unknown",
            path=path,
            fix="pass a box size in pixels (--box-size, CoordOptions.box_size_px)",
        )
    return sizes


def by_micrograph(picks: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """The picks of each micrograph, in order of first appearance."""
    for name, group in picks.groupby("micrograph", sort=False):
        yield str(name), group





def format_floats(values: np.ndarray, decimals: int) -> list[str]:
    """Fixed-point text for finite values, ``<NA>`` for missing ones."""
    return [f"{v:.{decimals}f}" if np.isfinite(v) else "<NA>" for v in values]


def shape_of(shapes: Mapping[str, tuple[int, int]] | None, name: str, path: Path, why: str) -> tuple[int, int]:
    """``(ny, nx)`` of one micrograph, or a clear error when it is not known."""
    if shapes is None or name not in shapes:
        raise CryopickError(
            f"the size of micrograph {name} is unknown, and {why}",
            path=path,
            fix="give the micrographs (--micrographs / CoordOptions.shapes) so their sizes are known",
        )
    ny, nx = shapes[name]
    return int(ny), int(nx)
