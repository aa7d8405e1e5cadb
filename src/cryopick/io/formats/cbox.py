"""crYOLO CBOX files: one ``<name>.cbox`` per micrograph.

Layout (CBOX format 1.0, what crYOLO >= 1.8 writes and reads)
---------------------------------------------------------------
A STAR-like file with three blocks::

    data_global
    _cbox_format_version 1.0

    data_cryolo
    loop_
    _CoordinateX #1  _CoordinateY #2  _CoordinateZ #3  _Width #4  _Height #5  _Depth #6
    _EstWidth #7  _EstHeight #8  _Confidence #9  _NumBoxes #10  _Angle #11
    (one row per box; <NA> where a field does not apply, e.g. Z, Depth, NumBoxes, Angle in 2D)

    data_cryolo_include
    loop_
    _slice_index #1
    (empty for 2D micrographs)

``CoordinateX/Y`` are the box corner like EMAN BOX (:mod:`.box`): the centre is
``corner + Width / 2``; same origin, no flip for MRC micrographs (crYOLO's own STAR export
adds half the box and flips nothing). ``Width``/``Height`` are the box size crYOLO was
configured with; ``EstWidth``/``EstHeight`` its per-particle size estimate.

Mapping
-------
``Confidence`` <-> ``score``; ``EstWidth`` <-> ``diameter_px`` (NaN where ``<NA>``);
``Width``/``Height`` are written from ``CoordOptions.box_size_px``, else each pick's
``diameter_px`` (an error if neither is known). NaN scores are written as ``<NA>``.
Filament ids, angles and extra columns are not kept. Files in the pre-1.8 tab-separated
CBOX layout (``x y w h confidence est_w est_h``, no ``data_`` blocks) are read too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cryopick.errors import CryopickError
from cryopick.io.atomic import write_text_atomic
from cryopick.io.formats._common import box_sizes, by_micrograph, format_floats, numeric, require_columns
from cryopick.io.formats.box import read_rows
from cryopick.io.formats.star import read_star
from cryopick.io.names import coordinate_file_name
from cryopick.io.outputs import check_file_name, output_folder

if TYPE_CHECKING:
    from cryopick.io.coords import CoordOptions

SUFFIXES: tuple[str, ...] = (".cbox",)
COLUMNS: tuple[str, ...] = (
    "CoordinateX",
    "CoordinateY",
    "CoordinateZ",
    "Width",
    "Height",
    "Depth",
    "EstWidth",
    "EstHeight",
    "Confidence",
    "NumBoxes",
    "Angle",
)
_FIX = "give a crYOLO CBOX file (data_cryolo loop with _CoordinateX _CoordinateY _Width _Height)"


def read(path: Path, options: CoordOptions) -> pd.DataFrame:
    """Read one CBOX file (format 1.0, or the older tab-separated layout)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CryopickError(f"cannot read CBOX file ({exc})", path=path, fix=_FIX) from exc
    name = coordinate_file_name(path)
    if "data_" not in text:
        return _read_old(path, name)
    try:
        blocks = read_star(path, always_dict=True)
    except Exception as exc:  # starfile raises pandas/ValueError on malformed loops
        raise CryopickError(f"cannot parse CBOX file ({type(exc).__name__}: {exc})", path=path, fix=_FIX) from exc
    table = blocks.get("cryolo")
    if not isinstance(table, pd.DataFrame):
        raise CryopickError("CBOX file has no data_cryolo loop", path=path, fix=_FIX)
    require_columns(list(table.columns), ["CoordinateX", "CoordinateY", "Width", "Height"], path, "CBOX file", _FIX)
    n = len(table)
    width = numeric(table["Width"], path, "_Width")
    height = numeric(table["Height"], path, "_Height")
    missing = ~np.isfinite(width) | ~np.isfinite(height)
    if missing.any():
        raise CryopickError(
            f"{int(missing.sum())} box(es) have no _Width/_Height, so corners cannot be turned into centres",
            path=path,
            fix="write the box size into the CBOX file",
        )
    score = numeric(table["Confidence"], path, "_Confidence") if "Confidence" in table else np.full(n, np.nan)
    est = numeric(table["EstWidth"], path, "_EstWidth") if "EstWidth" in table else np.full(n, np.nan)
    return pd.DataFrame(
        {
            "micrograph": pd.Series([name] * n, dtype=object),
            "x": numeric(table["CoordinateX"], path, "_CoordinateX") + width / 2.0,
            "y": numeric(table["CoordinateY"], path, "_CoordinateY") + height / 2.0,
            "score": score,
            "diameter_px": est,
        }
    )


def _read_old(path: Path, name: str) -> pd.DataFrame:
    """The pre-1.8 layout: ``x y w h confidence [est_w est_h]`` per line."""
    rows = read_rows(path, _FIX)
    if rows and min(len(r) for r in rows) < 4:
        raise CryopickError("CBOX line with fewer than 4 numbers", path=path, fix=_FIX)
    n = len(rows)

    def column(i: int, label: str) -> np.ndarray:
        cells = [r[i] if len(r) > i else "<NA>" for r in rows]
        return numeric(cells, path, label) if n else np.empty(0)

    x0, y0, w, h = (column(i, label) for i, label in enumerate(("x", "y", "width", "height")))
    return pd.DataFrame(
        {
            "micrograph": pd.Series([name] * n, dtype=object),
            "x": x0 + w / 2.0,
            "y": y0 + h / 2.0,
            "score": column(4, "confidence"),
            "diameter_px": column(5, "estimated width"),
        }
    )


def write(picks: pd.DataFrame, path: Path, options: CoordOptions) -> list[Path]:
    """Write ``<name>.cbox`` (format 1.0) for each micrograph into the folder ``path``."""
    output_folder(path)
    picks = picks.reset_index(drop=True)  # sizes are indexed by row position
    sizes = box_sizes(picks, options.box_size_px, path)
    header = "\ndata_global\n\n_cbox_format_version 1.0\n\ndata_cryolo\n\nloop_\n"
    header += "".join(f"_{label} #{i}\n" for i, label in enumerate(COLUMNS, 1))
    footer = "\ndata_cryolo_include\n\nloop_\n_slice_index #1\n\n"
    written = []
    for name, group in by_micrograph(picks):
        check_file_name(name, path)
        size = sizes[group.index.to_numpy()]
        diameter = group["diameter_px"].to_numpy(dtype=np.float64)
        corner_x = format_floats(group["x"].to_numpy(dtype=np.float64) - size / 2.0, 4)
        corner_y = format_floats(group["y"].to_numpy(dtype=np.float64) - size / 2.0, 4)
        box = format_floats(size, 4)
        est = format_floats(diameter, 4)
        score = [f"{s:.9g}" if np.isfinite(s) else "<NA>" for s in group["score"].to_numpy(dtype=np.float64)]
        lines = [
            f"{cx} {cy} <NA> {b} {b} <NA> {e} {e} {c} <NA> <NA>\n"
            for cx, cy, b, e, c in zip(corner_x, corner_y, box, est, score, strict=True)
        ]
        target = path / f"{name}.cbox"
        write_text_atomic(target, header + "".join(lines) + footer)
        written.append(target)
    return written
