"""Topaz coordinate tables (``.tsv`` / ``.txt``): one file for all micrographs.

Layout
------
Tab-separated with a header line ``image_name  x_coord  y_coord  score``; ``score`` is
optional (Topaz's training labels have none). ``image_name`` is the micrograph's file name
without its suffix.

Origin and flip
---------------
``x_coord`` is the column and ``y_coord`` the row of the image as Topaz loads it (origin at
the first pixel of the first stored row), the same as :mod:`mrcfile`; Topaz's own STAR
export copies them to ``rlnCoordinateX/Y`` unchanged and it mirrors y (``n - 1 - y``) only
when converting from/to EMAN files for TIFF images. So no flip for MRC micrographs.

What is kept
------------
Topaz writes whole-pixel coordinates, so cryopick rounds x and y to integers when writing
(up to 0.5 px lost); floats are accepted when reading. Scores are written with 9
significant digits (the column is left out when no pick has a score). ``diameter_px`` and
extra columns are not kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic
from cryopick.io.formats._common import numeric, require_columns
from cryopick.io.names import micrograph_name
from cryopick.io.outputs import output_file

if TYPE_CHECKING:
    from cryopick.io.coords import CoordOptions

SUFFIXES: tuple[str, ...] = (".tsv", ".txt")
HEADER: tuple[str, ...] = ("image_name", "x_coord", "y_coord", "score")
_FIX = "give a Topaz table with a header line: image_name x_coord y_coord [score]"


def read(path: Path, options: CoordOptions) -> pd.DataFrame:
    """Read a Topaz coordinate table."""
    try:
        table = pd.read_csv(path, sep=r"\s+", dtype=str, keep_default_na=False, comment=None)
    except pd.errors.EmptyDataError:
        return _table([], np.empty(0), np.empty(0), np.empty(0))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CryopickError(f"cannot parse Topaz table ({type(exc).__name__}: {exc})", path=path, fix=_FIX) from exc
    require_columns(list(table.columns), ["image_name", "x_coord", "y_coord"], path, "Topaz table", _FIX)
    score = numeric(table["score"], path, "score") if "score" in table.columns else np.full(len(table), np.nan)
    names = [micrograph_name(str(v)) for v in table["image_name"]]
    return _table(names, numeric(table["x_coord"], path, "x_coord"), numeric(table["y_coord"], path, "y_coord"), score)


def _table(names: list[str], x: np.ndarray, y: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "micrograph": pd.Series(names, dtype=object),
            "x": x,
            "y": y,
            "score": score,
            "diameter_px": np.full(len(names), np.nan),
        }
    )


def write(picks: pd.DataFrame, path: Path, options: CoordOptions) -> list[Path]:
    """Write one Topaz table with integer coordinates."""
    output_file(path)
    names = picks["micrograph"].astype(str).tolist()
    bad = [n for n in names if not n or any(c.isspace() for c in n)]
    if bad:
        raise CryopickError(
            f"micrograph name {bad[0]!r} is empty or has spaces, which a Topaz table cannot hold",
            path=path,
            fix="rename the micrographs without spaces, or use CSV or STAR",
        )
    x = np.rint(picks["x"].to_numpy(dtype=np.float64)).astype(np.int64)
    y = np.rint(picks["y"].to_numpy(dtype=np.float64)).astype(np.int64)
    score = picks["score"].to_numpy(dtype=np.float64)
    with_score = bool(np.isfinite(score).any())
    columns = HEADER if with_score else HEADER[:3]
    lines = ["\t".join(columns)]
    if with_score:
        lines += [f"{n}\t{a}\t{b}\t{s:.9g}" for n, a, b, s in zip(names, x, y, score, strict=True)]
    else:
        lines += [f"{n}\t{a}\t{b}" for n, a, b in zip(names, x, y, strict=True)]
    write_text_atomic(path, "\n".join(lines) + "\n")
    return [path]
