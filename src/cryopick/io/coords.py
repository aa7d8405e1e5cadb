"""Particle coordinates in and out: RELION STAR, EMAN2 BOX, crYOLO CBOX, Topaz TSV,
cryoSPARC CS and CSV, all converted to and from the Picks table (cryopick.io.picks).

(INTERFACE STUB - to be implemented.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FORMATS: tuple[str, ...] = ("star", "box", "cbox", "tsv", "cs", "csv")


@dataclass(frozen=True)
class CoordOptions:
    """Options that a format or a tool may need at the file boundary.

    box_size_px: box size written to BOX/CBOX (and used to convert their corners to centres
        when a file does not say); defaults to the picks' diameter_px, else required.
    flip_y: mirror y (y -> ny - 1 - y) for tools that count rows from the bottom; needs shapes.
    shapes: {micrograph name: (ny, nx)}; needed by CS (fractional coordinates) and flip_y.
    apix: pixel size written to STAR optics / CS where a format records it.
    """

    box_size_px: float | None = None
    flip_y: bool = False
    shapes: Mapping[str, tuple[int, int]] | None = None
    apix: float | None = None


def detect_format(path: str | Path) -> str:
    """Guess the format from the suffix (.star .box .cbox .tsv/.txt .cs .csv)."""
    raise NotImplementedError


def read_coords(paths: str | Path | Sequence[str | Path], fmt: str | None = None,
                options: CoordOptions = CoordOptions()) -> pd.DataFrame:
    """Read one or many coordinate files (or a folder of per-micrograph files) into a Picks table."""
    raise NotImplementedError


def write_coords(picks: pd.DataFrame, path: str | Path, fmt: str | None = None,
                 options: CoordOptions = CoordOptions()) -> list[Path]:
    """Write a Picks table; per-micrograph formats (BOX, CBOX) write one file per micrograph
    into the folder ``path``. Returns the files written. Writes are atomic."""
    raise NotImplementedError
