"""The Picks table: cryopick's one in-memory form of particle coordinates.

A Picks table is a :class:`pandas.DataFrame` with these columns:

``micrograph`` (str)
    The micrograph's name: its file stem (``"mic_0001"`` for ``/data/mic_0001.mrc``).
``x``, ``y`` (float)
    The particle centre: ``x`` is the column, ``y`` the row of the array as
    :mod:`mrcfile` reads it, in pixels of the original micrograph.
``score`` (float)
    Confidence, higher is more likely a particle; NaN when a format carries none.
``diameter_px`` (float)
    Particle diameter in pixels of the original micrograph; NaN when unknown.

Extra columns (for example ``kind`` in a simulator's truth table) are kept by every
function here. Readers and writers in :mod:`cryopick.io.coords` convert to and from
this form at the file boundary and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.names import name_map

PICK_COLUMNS: tuple[str, ...] = ("micrograph", "x", "y", "score", "diameter_px")
"""Columns every Picks table has, in this order."""


def make_picks(
    micrograph: str | Sequence[str],
    x: Iterable[float],
    y: Iterable[float],
    score: Iterable[float] | float | None = None,
    diameter_px: Iterable[float] | float | None = None,
    **extra: Iterable[object],
) -> pd.DataFrame:
    """Build a Picks table.

    Parameters
    ----------
    micrograph
        One name for all rows, or one name per row.
    x, y
        Centres in pixels of the original micrograph (x = column, y = row).
    score, diameter_px
        Per-row values, one value for all rows, or None for NaN.
    **extra
        Further per-row columns to keep (e.g. ``kind``).
    """
    x_arr = np.asarray(list(x) if not isinstance(x, np.ndarray) else x, dtype=np.float64).ravel()
    y_arr = np.asarray(list(y) if not isinstance(y, np.ndarray) else y, dtype=np.float64).ravel()
    n = len(x_arr)
    if len(y_arr) != n:
        raise ValueError(f"x has {n} values but y has {len(y_arr)}")
    names = [micrograph] * n if isinstance(micrograph, str) else [str(m) for m in micrograph]
    if len(names) != n:
        raise ValueError(f"{len(names)} micrograph names for {n} coordinates")
    df = pd.DataFrame(
        {
            "micrograph": pd.Series(names, dtype=object),
            "x": x_arr,
            "y": y_arr,
            "score": _per_row(score, n),
            "diameter_px": _per_row(diameter_px, n),
        }
    )
    for name, values in extra.items():
        df[name] = list(values)
    return df


def empty_picks() -> pd.DataFrame:
    """An empty Picks table with the standard columns."""
    return make_picks([], [], [])


def _per_row(values: Iterable[float] | float | None, n: int) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    if np.isscalar(values):
        return np.full(n, float(values))  # type: ignore[arg-type]
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=np.float64).ravel()
    if len(arr) != n:
        raise ValueError(f"{len(arr)} values for {n} coordinates")
    return arr


def validate_picks(df: pd.DataFrame, source: str | Path | None = None) -> pd.DataFrame:
    """Check a table is a valid Picks table and return it with standard dtypes.

    Missing ``score`` and ``diameter_px`` columns are added as NaN. Non-finite x or y
    are an error naming ``source``.
    """
    missing = [c for c in ("micrograph", "x", "y") if c not in df.columns]
    if missing:
        raise CryopickError(
            f"coordinate table lacks column(s) {', '.join(missing)}",
            path=source,
            fix="give a table with micrograph, x and y columns",
        )
    out = df.copy()
    for col in ("score", "diameter_px"):
        if col not in out.columns:
            out[col] = np.nan
    out["micrograph"] = out["micrograph"].astype(str).astype(object)
    for col in ("x", "y", "score", "diameter_px"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(np.float64)
    bad = ~np.isfinite(out["x"].to_numpy()) | ~np.isfinite(out["y"].to_numpy())
    if bad.any():
        raise CryopickError(
            f"{int(bad.sum())} coordinate(s) are missing or not numbers",
            path=source,
            fix="remove or correct those rows",
        )
    extra = [c for c in out.columns if c not in PICK_COLUMNS]
    return out[list(PICK_COLUMNS) + extra].reset_index(drop=True)


def match_names(picks: pd.DataFrame, micrograph_names: Iterable[str]) -> pd.DataFrame:
    """``picks`` with each name that matches no micrograph, but one by base name, renamed to it.

    ``mic_0001_DW`` or cryoSPARC's ``<uid>_mic_0001_patch_aligned_doseweighted`` find
    ``mic_0001`` (the rule: :mod:`cryopick.io.names`). Call before :func:`keep_given` and
    :func:`check_names_match`; the table is returned unchanged when every name matches.
    """
    if picks.empty:
        return picks
    mapping = name_map(picks["micrograph"].unique(), micrograph_names)
    if not mapping:
        return picks
    out = picks.copy()
    out["micrograph"] = out["micrograph"].map(lambda name: mapping.get(name, name))
    return out


def check_names_match(
    picks: pd.DataFrame, micrograph_names: Iterable[str], source: str | Path | None = None
) -> None:
    """Raise if any name in ``picks`` matches no micrograph.

    Names match by file stem. The message lists a few unmatched names of each side, so
    a user can see at once whether a suffix or a folder is the cause.
    """
    known = set(micrograph_names)
    names = set(picks["micrograph"].unique())
    unmatched = sorted(names - known)
    if not unmatched:
        return
    if not known:
        raise CryopickError("no micrographs were given to match coordinates against", path=source)
    few_unmatched = ", ".join(unmatched[:3]) + (" ..." if len(unmatched) > 3 else "")
    few_known = ", ".join(sorted(known)[:3]) + (" ..." if len(known) > 3 else "")
    what = (
        "none of the micrograph names in the coordinates match a micrograph"
        if len(unmatched) == len(names)
        else f"{len(unmatched)} of {len(names)} micrograph names in the coordinates match no micrograph"
    )
    raise CryopickError(
        f"{what} "
        f"(coordinates name {few_unmatched}; micrographs are {few_known})",
        path=source,
        fix="names match by file stem, or by the stem without a cryoSPARC UID prefix and suffixes such as "
            "_DW, _doseweighted, _aligned, _patch_aligned_doseweighted: rename the files or the entries so they agree",
    )


def keep_given(picks: pd.DataFrame, micrograph_names: Iterable[str]) -> tuple[pd.DataFrame, int, int]:
    """The rows on the given micrographs, when some rows are; and what was left out.

    Working on a subset of the labelled micrographs is normal (train on some, judge
    others). When no row is on a given micrograph the table is returned whole, so that
    :func:`check_names_match` reports the mismatch.

    Returns
    -------
    kept, n_rows_left_out, n_micrographs_left_out
    """
    given = picks["micrograph"].isin(list(micrograph_names))
    if given.all() or not given.any():
        return picks, 0, 0
    left_out = picks.loc[~given]
    return picks.loc[given].reset_index(drop=True), len(left_out), int(left_out["micrograph"].nunique())


def check_inside(
    picks: pd.DataFrame,
    shapes: Mapping[str, tuple[int, int]],
    source: str | Path | None = None,
    *,
    drop: bool = False,
) -> pd.DataFrame:
    """Check every pick lies inside its micrograph.

    Parameters
    ----------
    shapes
        ``{name: (ny, nx)}`` of the micrographs, in pixels.
    drop
        If True, drop outside picks and return the rest; otherwise raise.
    """
    if picks.empty:
        return picks
    ny = picks["micrograph"].map(lambda m: shapes[m][0]).to_numpy(dtype=np.float64)
    nx = picks["micrograph"].map(lambda m: shapes[m][1]).to_numpy(dtype=np.float64)
    x = picks["x"].to_numpy()
    y = picks["y"].to_numpy()
    outside = (x < -0.5) | (y < -0.5) | (x > nx - 0.5) | (y > ny - 0.5)
    if not outside.any():
        return picks
    if drop:
        return picks.loc[~outside].reset_index(drop=True)
    first = picks.loc[outside].iloc[0]
    shape = shapes[first["micrograph"]]
    raise CryopickError(
        f"{int(outside.sum())} coordinate(s) lie outside their micrograph, e.g. "
        f"({first['x']:.1f}, {first['y']:.1f}) in {first['micrograph']} of {shape[1]}x{shape[0]} px",
        path=source,
        fix="check the coordinates are in pixels of these micrographs (binning? --flip-y?)",
    )


def picks_for(picks: pd.DataFrame, micrograph: str) -> pd.DataFrame:
    """The rows of ``picks`` that belong to one micrograph."""
    return picks.loc[picks["micrograph"] == micrograph].reset_index(drop=True)


def typical_diameter_px(*tables: pd.DataFrame | None) -> float | None:
    """The particles' typical diameter: the median positive ``diameter_px`` of the first table with one.

    Parameters
    ----------
    *tables
        Picks tables in order of preference; None, a table without the column, or one
        whose diameters are all missing or not positive is passed over.

    Returns
    -------
    float or None
        The median in pixels of the original micrograph; None when no table has a diameter.
    """
    for table in tables:
        if table is not None and "diameter_px" in table.columns:
            known = table["diameter_px"].to_numpy(dtype=np.float64)
            known = known[np.isfinite(known) & (known > 0)]
            if known.size:
                return float(np.median(known))
    return None
