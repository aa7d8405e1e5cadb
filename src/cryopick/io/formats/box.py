"""EMAN2 / EMAN1 BOX files: one ``<name>.box`` per micrograph.

Layout
------
One line per particle, tab-separated: ``x_lowerleft  y_lowerleft  width  height``
(EMAN1 files may carry a fifth column, e.g. ``-1``/``-2`` for helix ends; it is ignored).
The first two numbers are the box corner with the smallest column and row index, so the
centre is ``corner + size / 2`` and the corner written is ``centre - box / 2``.

Origin and flip
---------------
EMAN2 displays images with the first stored row at the bottom, which is why its docs call
the corner "lower left"; the numbers still index the MRC array as stored, so for ``.mrc``
micrographs ``y`` counts rows exactly as :mod:`mrcfile` does and no flip is needed.
crYOLO writes BOX the same way (its RELION STAR export is ``corner + size / 2`` with no
flip). EMAN2 does flip TIFF images when it reads them (Topaz's converters note this and
invert y only for ``.tiff``), so BOX files made in EMAN2 on TIFF/PNG micrographs need
``flip_y=True`` (y -> ny - 1 - y, which needs the micrograph shapes). cryopick never
flips unless asked.

What is kept
------------
Writing needs a box size: ``CoordOptions.box_size_px``, else each pick's ``diameter_px``;
it is written as a whole number of pixels. Reading takes the box width as ``diameter_px``
(BOX has no separate particle size). Scores and extra columns are lost; corners are
written with 3 decimals.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic
from cryopick.io.formats._common import box_sizes, by_micrograph, numeric
from cryopick.io.names import coordinate_file_name
from cryopick.io.outputs import check_file_name, output_folder

if TYPE_CHECKING:
    from cryopick.io.coords import CoordOptions

SUFFIXES: tuple[str, ...] = (".box",)
_FIX = "give an EMAN BOX file: x_lowerleft y_lowerleft width height per line"


def read(path: Path, options: CoordOptions) -> pd.DataFrame:
    """Read one BOX file; the micrograph name is the file's stem."""
    rows = read_rows(path, _FIX)
    name = coordinate_file_name(path)
    if not rows:
        return _table(name, np.empty((0, 4)))
    widths = {len(r) for r in rows}
    if min(widths) < 2:
        raise CryopickError("BOX line with fewer than 2 numbers", path=path, fix=_FIX)
    if min(widths) < 4:
        if options.box_size_px is None:
            raise CryopickError(
                "BOX file has no box size column, so corners cannot be turned into centres",
                path=path,
                fix="pass the box size in pixels (--box-size, CoordOptions.box_size_px)",
            )
        rows = [r[:2] + [str(options.box_size_px)] * 2 for r in rows]
    cells = np.array([r[:4] for r in rows], dtype=object)
    values = np.column_stack([numeric(cells[:, i], path, label) for i, label in enumerate(_LABELS)])
    return _table(name, values)


_LABELS = ("x_lowerleft", "y_lowerleft", "width", "height")


def _table(name: str, values: np.ndarray) -> pd.DataFrame:
    x0, y0, w, h = values.T
    return pd.DataFrame(
        {
            "micrograph": pd.Series([name] * len(values), dtype=object),
            "x": x0 + w / 2.0,
            "y": y0 + h / 2.0,
            "score": np.full(len(values), np.nan),
            "diameter_px": w.astype(np.float64),
        }
    )


def write(picks: pd.DataFrame, path: Path, options: CoordOptions) -> list[Path]:
    """Write ``<name>.box`` for each micrograph into the folder ``path``."""
    output_folder(path)
    picks = picks.reset_index(drop=True)  # sizes are indexed by row position
    sizes = np.rint(box_sizes(picks, options.box_size_px, path)).astype(np.int64)
    sizes = np.maximum(sizes, 1)
    written = []
    for name, group in by_micrograph(picks):
        check_file_name(name, path)
        size = sizes[group.index.to_numpy()]
        x0 = group["x"].to_numpy(dtype=np.float64) - size / 2.0
        y0 = group["y"].to_numpy(dtype=np.float64) - size / 2.0
        lines = [f"{a:.3f}\t{b:.3f}\t{s}\t{s}" for a, b, s in zip(x0, y0, size, strict=True)]
        target = path / f"{name}.box"
        write_text_atomic(target, "".join(line + "\n" for line in lines))
        written.append(target)
    return written


def read_rows(path: Path, fix: str) -> list[list[str]]:
    """Non-empty, non-comment lines of a whitespace-separated text file, split into cells."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CryopickError(f"cannot read text file ({exc})", path=path, fix=fix) from exc
    return [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
